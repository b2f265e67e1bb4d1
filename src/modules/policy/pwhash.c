/* statusd — policy: password hashes of htpasswd files.
 *
 * libcrypt (libxcrypt on Debian) verifies every crypt(3) format through crypt_rn, the reentrant
 * call that writes into the caller's work area and returns NULL on failure instead of a "*0"
 * string that could be compared by mistake. Apache's own two formats are not crypt(3): $apr1$
 * is MD5-crypt with another magic string, computed here on OpenSSL's MD5, and {SHA} is a bare
 * SHA-1 in base64.
 *
 * Syntax is checked when a file is loaded, not when a client first logs in: a truncated hash, a
 * typo in a scheme or a hash this system's libcrypt cannot verify is a FILE:LINE error for the
 * operator, never a silent "wrong password" for the user. The caps on bcrypt cost and SHA-crypt
 * rounds bound what one login can cost a helper thread.
 *
 * Comparisons of computed and stored hashes are constant-time (CRYPTO_memcmp) and their lengths
 * are those of the stored hash (not secret). Plaintext entries are compared through SHA-256
 * digests so that not even the length of the stored password leaks through timing. */
#define _GNU_SOURCE
#include "policy.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>

static const char crypt64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static bool is_c64(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '/';
}

static bool all_c64(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_c64(p[i]))
            return false;
    return true;
}

static bool starts(hs_iovec_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len >= n && memcmp(s.base, lit, n) == 0;
}

static int bad(const char **err, const char *why)
{
    *err = why;
    return 0;
}

/* $2y$NN$ + 22 salt + 31 hash characters */
static int check_bcrypt(hs_iovec_t h, const char **err)
{
    if (h.len != 60 || h.base[3] != '$' || h.base[6] != '$' || h.base[4] < '0' || h.base[4] > '3' || h.base[5] < '0' ||
        h.base[5] > '9')
        return bad(err, "a bcrypt hash is $2y$ (or $2a$, $2b$), two cost digits, '$' and 53 characters");
    int cost = (h.base[4] - '0') * 10 + (h.base[5] - '0');
    if (cost < 4 || cost > 31)
        return bad(err, "a bcrypt cost must be 04 to 31");
    if (cost > HS__PW_BCRYPT_COST_MAX)
        return bad(err, "a bcrypt cost above 17 (what htpasswd -C allows) would hold a thread for minutes per login");
    if (!all_c64(h.base + 7, 53))
        return bad(err, "a bcrypt hash has a character outside ./0-9A-Za-z");
    return HS__PW_BCRYPT;
}

/* $5$[rounds=N$]salt$hash (43 or 86 characters; salt up to 16) */
static int check_shacrypt(hs_iovec_t h, int scheme, const char **err)
{
    size_t i = 3, hashlen = scheme == HS__PW_SHA256 ? 43 : 86;
    if (starts(hs_iov(h.base + 3, h.len - 3), "rounds=")) {
        i += 7;
        size_t s = i;
        while (i < h.len && h.base[i] >= '0' && h.base[i] <= '9')
            i++;
        uint64_t rounds;
        if (i == s || i >= h.len || h.base[i] != '$' || !hs_parse_u64(hs_iov(h.base + s, i - s), &rounds) ||
            h.base[s] == '0')
            return bad(err, "a malformed rounds= in a SHA-crypt hash");
        if (rounds > HS__PW_ROUNDS_MAX)
            return bad(err, "SHA-crypt rounds above 10000000 would hold a thread for seconds per login");
        i++;
    }
    const char *salt = h.base + i, *dollar = memchr(salt, '$', h.len - i);
    if (!dollar)
        return bad(err, "a SHA-crypt hash without '$' after its salt (truncated?)");
    size_t saltlen = (size_t)(dollar - salt), rest = h.len - i - saltlen - 1;
    if (saltlen > 16 || memchr(salt, ':', saltlen))
        return bad(err, "a SHA-crypt salt longer than 16 characters");
    if (rest != hashlen || !all_c64(dollar + 1, rest))
        return bad(err, scheme == HS__PW_SHA256 ? "a SHA-256-crypt hash must end in 43 characters of ./0-9A-Za-z"
                                                : "a SHA-512-crypt hash must end in 86 characters of ./0-9A-Za-z");
    return scheme;
}

/* $y$PARAMS$SALT$HASH: three fields of the crypt alphabet, the hash 43 characters */
static int check_yescrypt(hs_iovec_t h, const char **err)
{
    size_t field = 0, len = 0;
    for (size_t i = 3; i < h.len; i++) {
        if (h.base[i] == '$') {
            if (len == 0)
                return bad(err, "an empty field in a yescrypt hash");
            field++, len = 0;
        } else if (!is_c64(h.base[i]))
            return bad(err, "a yescrypt hash has a character outside ./0-9A-Za-z");
        else
            len++;
    }
    if (field != 2 || len != 43)
        return bad(err, "a yescrypt hash is $y$, parameters, '$', salt, '$' and 43 characters (truncated?)");
    return HS__PW_YESCRYPT;
}

/* $1$ / $apr1$: magic, salt (1..8), '$', 22 characters */
static int check_md5(hs_iovec_t h, size_t magic, int scheme, const char **err)
{
    const char *salt = h.base + magic, *dollar = memchr(salt, '$', h.len - magic);
    if (!dollar)
        return bad(err, "an MD5 hash without '$' after its salt (truncated?)");
    size_t saltlen = (size_t)(dollar - salt), rest = h.len - magic - saltlen - 1;
    if (saltlen < 1 || saltlen > 8 || memchr(salt, ':', saltlen))
        return bad(err, "an MD5 salt must be 1 to 8 characters");
    if (rest != 22 || !all_c64(dollar + 1, 22))
        return bad(err, "an MD5 hash must end in 22 characters of ./0-9A-Za-z");
    return scheme;
}

int hs__pw_scheme(hs_iovec_t h, bool allow_plain, const char **err)
{
    const char *dummy;
    int scheme;
    if (!err)
        err = &dummy;
    if (h.len == 0)
        return bad(err, "an empty password hash");
    if (h.len > HS__PW_HASH_MAX || memchr(h.base, '\0', h.len))
        return bad(err, "a password hash longer than 512 bytes");
    if (starts(h, "$2y$") || starts(h, "$2a$") || starts(h, "$2b$"))
        scheme = check_bcrypt(h, err);
    else if (starts(h, "$5$"))
        scheme = check_shacrypt(h, HS__PW_SHA256, err);
    else if (starts(h, "$6$"))
        scheme = check_shacrypt(h, HS__PW_SHA512, err);
    else if (starts(h, "$y$"))
        scheme = check_yescrypt(h, err);
    else if (starts(h, "$1$"))
        scheme = check_md5(h, 3, HS__PW_MD5CRYPT, err);
    else if (starts(h, "$apr1$"))
        return check_md5(h, 6, HS__PW_APR1, err);
    else if (starts(h, "{SHA}")) {
        unsigned char md[HS_BASE64_DECODED_MAX(28)];
        size_t n;
        if (h.len != 5 + 28 || !hs_base64_decode(md, &n, h.base + 5, 28, 0) || n != 20)
            return bad(err, "a {SHA} hash is 28 characters of base64 (a SHA-1 digest)");
        return HS__PW_SHA1;
    } else if (h.len == 13 && all_c64(h.base, 13))
        scheme = HS__PW_DES;
    else if (h.base[0] == '$' || h.base[0] == '{') {
        if (allow_plain)
            return HS__PW_PLAIN; /* the operator said so: "$foo" is then a password */
        return bad(err, "an unknown password hash scheme (statusd reads $2y$, $5$, $6$, $y$, $1$, $apr1$, {SHA} and "
                        "DES crypt)");
    } else if (allow_plain)
        return HS__PW_PLAIN;
    else
        return bad(err, "not a password hash statusd knows; a plaintext password (htpasswd -p) needs allow_plaintext");
    if (!scheme)
        return 0;
    /* a libcrypt format: can this system's libcrypt verify it? */
    char setting[HS__PW_HASH_MAX + 1];
    memcpy(setting, h.base, h.len);
    setting[h.len] = '\0';
    int cs = crypt_checksalt(setting);
    if (cs == CRYPT_SALT_INVALID)
        return bad(err, "libcrypt cannot read this hash");
    if (cs == CRYPT_SALT_METHOD_DISABLED)
        return bad(err, "this system's libcrypt has this hash method disabled");
    return scheme; /* CRYPT_SALT_OK, _LEGACY (DES, MD5-crypt) and _TOO_CHEAP still verify */
}

const char *hs__pw_scheme_name(int scheme)
{
    switch (scheme) {
    case HS__PW_BCRYPT: return "bcrypt";
    case HS__PW_SHA256: return "sha256-crypt";
    case HS__PW_SHA512: return "sha512-crypt";
    case HS__PW_YESCRYPT: return "yescrypt";
    case HS__PW_MD5CRYPT: return "md5-crypt";
    case HS__PW_DES: return "des-crypt";
    case HS__PW_APR1: return "apr1";
    case HS__PW_SHA1: return "sha1";
    case HS__PW_PLAIN: return "plaintext";
    default: return "unknown";
    }
}

/* ---- MD5-crypt / $apr1$ (the algorithm Poul-Henning Kamp published for FreeBSD; Apache's
 * variant only changes the magic string) ---- */

static void md5_of(EVP_MD_CTX *c, const EVP_MD *md5, const void *a, size_t an, const void *b, size_t bn, const void *d,
                   size_t dn, unsigned char out[16])
{
    EVP_DigestInit_ex(c, md5, NULL);
    EVP_DigestUpdate(c, a, an);
    EVP_DigestUpdate(c, b, bn);
    EVP_DigestUpdate(c, d, dn);
    EVP_DigestFinal_ex(c, out, NULL);
}

static char *to64(char *p, unsigned v, int n)
{
    while (n-- > 0) {
        *p++ = crypt64[v & 0x3f];
        v >>= 6;
    }
    return p;
}

void hs__pw_md5crypt(const char *magic, hs_iovec_t pw, hs_iovec_t salt, char out[HS__PW_MD5_OUT])
{
    size_t sl = 0;
    while (sl < salt.len && sl < 8 && salt.base[sl] != '$')
        sl++;
    size_t ml = strlen(magic);
    EVP_MD_CTX *c = EVP_MD_CTX_new(), *c2 = EVP_MD_CTX_new();
    const EVP_MD *md5 = EVP_md5();
    if (!c || !c2 || !md5)
        hs__oom(sizeof(EVP_MD_CTX *));
    unsigned char alt[16], fin[16];
    /* the alternate sum: password, salt, password */
    md5_of(c2, md5, pw.base, pw.len, salt.base, sl, pw.base, pw.len, alt);
    EVP_DigestInit_ex(c, md5, NULL);
    EVP_DigestUpdate(c, pw.base, pw.len);
    EVP_DigestUpdate(c, magic, ml);
    EVP_DigestUpdate(c, salt.base, sl);
    for (size_t left = pw.len; left > 0; left -= HS_MIN(left, (size_t)16))
        EVP_DigestUpdate(c, alt, HS_MIN(left, (size_t)16));
    /* one byte per bit of the length: a zero byte for a set bit, the password's first byte else */
    static const unsigned char zero = 0;
    for (size_t bits = pw.len; bits; bits >>= 1)
        EVP_DigestUpdate(c, (bits & 1) ? (const void *)&zero : (const void *)pw.base, 1);
    EVP_DigestFinal_ex(c, fin, NULL);
    /* a thousand rounds to slow guessing down */
    for (int i = 0; i < 1000; i++) {
        EVP_DigestInit_ex(c, md5, NULL);
        if (i & 1)
            EVP_DigestUpdate(c, pw.base, pw.len);
        else
            EVP_DigestUpdate(c, fin, 16);
        if (i % 3)
            EVP_DigestUpdate(c, salt.base, sl);
        if (i % 7)
            EVP_DigestUpdate(c, pw.base, pw.len);
        if (i & 1)
            EVP_DigestUpdate(c, fin, 16);
        else
            EVP_DigestUpdate(c, pw.base, pw.len);
        EVP_DigestFinal_ex(c, fin, NULL);
    }
    EVP_MD_CTX_free(c);
    EVP_MD_CTX_free(c2);
    char *p = out;
    memcpy(p, magic, ml);
    p += ml;
    memcpy(p, salt.base, sl);
    p += sl;
    *p++ = '$';
    /* the digest's bytes in the order the format prescribes, 24 bits at a time */
    static const unsigned char order[5][3] = {{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}};
    for (int k = 0; k < 5; k++)
        p = to64(p, (unsigned)fin[order[k][0]] << 16 | (unsigned)fin[order[k][1]] << 8 | fin[order[k][2]], 4);
    p = to64(p, fin[11], 2);
    *p = '\0';
    OPENSSL_cleanse(alt, sizeof(alt));
    OPENSSL_cleanse(fin, sizeof(fin));
}

/* ---- verification ---- */

static bool same(const char *a, const char *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

static bool verify_crypt(hs_iovec_t hash, const char *pw)
{
    char setting[HS__PW_HASH_MAX + 1];
    memcpy(setting, hash.base, hash.len);
    setting[hash.len] = '\0';
    struct crypt_data *cd = calloc(1, sizeof(*cd)); /* 32 KiB: not for a helper's stack */
    if (!cd)
        hs__oom(sizeof(*cd));
    const char *got = crypt_rn(pw, setting, cd, (int)sizeof(*cd));
    bool ok = got && strlen(got) == hash.len && same(got, hash.base, hash.len);
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
    return ok;
}

bool hs__pw_verify(int scheme, hs_iovec_t hash, hs_iovec_t pw)
{
    if (pw.len > HS__PW_PASSWORD_MAX || (pw.len && memchr(pw.base, '\0', pw.len)) || hash.len > HS__PW_HASH_MAX)
        return false;
    char p[HS__PW_PASSWORD_MAX + 1];
    memcpy(p, pw.base, pw.len);
    p[pw.len] = '\0';
    bool ok = false;
    switch (scheme) {
    case HS__PW_BCRYPT:
    case HS__PW_SHA256:
    case HS__PW_SHA512:
    case HS__PW_YESCRYPT:
    case HS__PW_MD5CRYPT:
    case HS__PW_DES: ok = verify_crypt(hash, p); break;
    case HS__PW_APR1: {
        char out[HS__PW_MD5_OUT];
        hs__pw_md5crypt("$apr1$", pw, hs_iov(hash.base + 6, hash.len - 6), out);
        ok = strlen(out) == hash.len && same(out, hash.base, hash.len);
        OPENSSL_cleanse(out, sizeof(out));
        break;
    }
    case HS__PW_SHA1: {
        unsigned char md[20];
        char b64[HS_BASE64_LEN(20)];
        ok = EVP_Digest(pw.base, pw.len, md, NULL, EVP_sha1(), NULL) == 1 && hs_base64_encode(b64, md, 20, 0) == 28 &&
             hash.len == 33 && same(b64, hash.base + 5, 28);
        break;
    }
    case HS__PW_PLAIN: {
        unsigned char a[32], b[32];
        ok = EVP_Digest(pw.base, pw.len, a, NULL, EVP_sha256(), NULL) == 1 &&
             EVP_Digest(hash.base, hash.len, b, NULL, EVP_sha256(), NULL) == 1 && CRYPTO_memcmp(a, b, 32) == 0;
        break;
    }
    default: ok = false;
    }
    OPENSSL_cleanse(p, pw.len + 1);
    return ok;
}
