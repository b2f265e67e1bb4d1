/* Unit tests: password hashes and htpasswd files (src/modules/policy/pwhash.c, htpasswd.c).
 *
 * The files are made at test time by Debian's htpasswd (apache2-utils) in every format it writes
 * (-B bcrypt, -2 SHA-256-crypt, -5 SHA-512-crypt, -m apr1, -s {SHA}, -d DES crypt, -p plain);
 * yescrypt and MD5-crypt come from libcrypt itself. Then: wrong passwords, truncated hashes,
 * unknown schemes, file errors with their line numbers, the credential cache, reloads, and checks
 * running on several threads while the file is replaced. */
#define _GNU_SOURCE
#include "../../../src/modules/policy/policy.h"
#include "tap.h"

#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/statusd-htpasswd-test-XXXXXX";

static const char *path_of(const char *name)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

static bool run(const char *fmt, ...) HS_FMT(1, 2);
static bool run(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd) == 0;
}

static void put(const char *name, const char *text)
{
    FILE *f = fopen(path_of(name), "w");
    fputs(text, f);
    fclose(f);
}

/* The hash htpasswd wrote for `user` in file `name`. */
static char *hash_of(const char *name, const char *user)
{
    static char out[8][600];
    static int k;
    k = (k + 1) % 8;
    out[k][0] = '\0';
    FILE *f = fopen(path_of(name), "r");
    char line[700];
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *c = strchr(line, ':');
        if (c && (size_t)(c - line) == strlen(user) && strncmp(line, user, strlen(user)) == 0)
            snprintf(out[k], sizeof(out[k]), "%s", c + 1);
    }
    if (f)
        fclose(f);
    return out[k];
}

static bool verify(const char *hash, const char *pw)
{
    int scheme = hs__pw_scheme(hs_iov_cstr(hash), false, NULL);
    return scheme && hs__pw_verify(scheme, hs_iov_cstr(hash), hs_iov_cstr(pw));
}

static uint64_t now_ms(void)
{
    return hs_now_ms();
}

static int check(hs__htpasswd_t *h, const char *user, const char *pw, uint64_t t)
{
    char plain[600];
    snprintf(plain, sizeof(plain), "%s:%s", user, pw);
    char field[900] = "Basic ";
    hs_base64_encode(field + 6, plain, strlen(plain), 0);
    field[6 + HS_BASE64_LEN(strlen(plain))] = '\0';
    unsigned char buf[HS_BASIC_BUF(900)];
    hs_basic_cred_t cred;
    if (hs_basic_parse(hs_iov_cstr(field), buf, sizeof(buf), &cred) != HS_OK)
        return -1;
    int v = hs__auth_verify(h, hs_iov_cstr(field), &cred, t);
    hs_basic_clear(buf, sizeof(buf));
    return v;
}

static void load_error(const char *name, const char *text, const char *want_substr)
{
    put(name, text);
    hs__htpasswd_t *h = NULL;
    char err[512] = "";
    int rc = hs__htpasswd_open(path_of(name), NULL, &h, err, sizeof(err));
    ok(rc == HS_ERROR && !h && strstr(err, want_substr), "%s: error contains '%s' (%s)", name, want_substr, err);
}

/* ---- threads checking while the file changes ---- */
typedef struct th_s {
    hs__htpasswd_t *h;
    int id, bad, done;
} th_t;

static void *checker(void *p)
{
    th_t *t = p;
    for (int i = 0; i < 40; i++) {
        bool right = (i + t->id) % 2 == 0;
        int v = check(t->h, t->id % 2 ? "apr" : "sha", right ? "secret" : "nope", 1); /* t=1: no cache reuse... */
        if (v != (right ? HS__AUTH_OK : HS__AUTH_WRONG))
            t->bad++;
        t->done++;
    }
    return NULL;
}

int main(void)
{
    if (!mkdtemp(dir) || access("/usr/bin/htpasswd", X_OK) != 0) {
        ok(0, "htpasswd (Debian apache2-utils) is needed: apt-get install apache2-utils");
        return tap_done();
    }

    /* ---- every format htpasswd writes ---- */
    const char *f = path_of("all");
    ok(run("htpasswd -cbB -C 5 %s bcrypt secret 2>/dev/null", f) &&
           run("htpasswd -b2 %s sha256 secret 2>/dev/null", f) && run("htpasswd -b5 %s sha512 secret 2>/dev/null", f) &&
           run("htpasswd -b2 -r 1000 %s sha256r secret 2>/dev/null", f) &&
           run("htpasswd -bm %s apr secret 2>/dev/null", f) && run("htpasswd -bs %s sha secret 2>/dev/null", f) &&
           run("htpasswd -bd %s des secret 2>/dev/null", f) && run("htpasswd -bm %s empty '' 2>/dev/null", f) &&
           run("htpasswd -bB -C 4 %s utf8 'pässwörd' 2>/dev/null", f),
       "htpasswd wrote bcrypt, SHA-256/512-crypt, apr1, {SHA} and DES entries");
    struct {
        const char *user, *prefix;
        int scheme;
    } formats[] = {{"bcrypt", "$2y$05$", HS__PW_BCRYPT},
                   {"sha256", "$5$", HS__PW_SHA256},
                   {"sha512", "$6$", HS__PW_SHA512},
                   {"sha256r", "$5$rounds=1000$", HS__PW_SHA256},
                   {"apr", "$apr1$", HS__PW_APR1},
                   {"sha", "{SHA}", HS__PW_SHA1},
                   {"des", "", HS__PW_DES}};
    for (size_t i = 0; i < HS_ARRAY_SIZE(formats); i++) {
        const char *h = hash_of("all", formats[i].user);
        const char *err = NULL;
        int scheme = hs__pw_scheme(hs_iov_cstr(h), false, &err);
        ok(strncmp(h, formats[i].prefix, strlen(formats[i].prefix)) == 0 && scheme == formats[i].scheme,
           "%s: %s read as %s (%s)", formats[i].user, h, hs__pw_scheme_name(scheme), err ? err : "ok");
        ok(verify(h, "secret"), "%s: the right password", formats[i].user);
        ok(!verify(h, "Secret") && !verify(h, "") && !verify(h, "secret "), "%s: wrong ones refused", formats[i].user);
        /* a hash cut short (a truncated line) is an error at load, never a silent "wrong password" */
        char cut[600];
        snprintf(cut, sizeof(cut), "%.*s", (int)strlen(h) - 1, h);
        ok(hs__pw_scheme(hs_iov_cstr(cut), false, &err) == 0 && err, "%s: truncated by one: %s", formats[i].user,
           err ? err : "-");
    }
    ok(verify(hash_of("all", "empty"), "") && !verify(hash_of("all", "empty"), "x"), "an empty password");
    ok(verify(hash_of("all", "utf8"), "pässwörd") && !verify(hash_of("all", "utf8"), "passwort"), "a UTF-8 password");
    run("htpasswd -bd %s des8 secret12 2>/dev/null", f);
    ok(verify(hash_of("all", "des8"), "secret12345"), "DES crypt reads 8 characters (htpasswd -d warns)");

    /* plaintext: refused unless allowed */
    run("htpasswd -bp %s plain secret 2>/dev/null", f);
    const char *plain = hash_of("all", "plain"), *err = NULL;
    ok(strcmp(plain, "secret") == 0 && hs__pw_scheme(hs_iov_cstr(plain), false, &err) == 0 && err,
       "htpasswd -p: refused by default (%s)", err ? err : "-");
    int ps = hs__pw_scheme(hs_iov_cstr(plain), true, NULL);
    ok(ps == HS__PW_PLAIN && hs__pw_verify(ps, hs_iov_cstr(plain), HS_IOV("secret")) &&
           !hs__pw_verify(ps, hs_iov_cstr(plain), HS_IOV("secre")),
       "... accepted when allowed, compared exactly");

    /* yescrypt and MD5-crypt from libcrypt; apr1 here agrees with libcrypt's MD5-crypt */
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    ok(crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)) != NULL, "a yescrypt setting");
    char yes[256];
    snprintf(yes, sizeof(yes), "%s", crypt_rn("secret", setting, cd, sizeof(*cd)));
    ok(hs__pw_scheme(hs_iov_cstr(yes), false, NULL) == HS__PW_YESCRYPT && verify(yes, "secret") &&
           !verify(yes, "secreT"),
       "yescrypt: %s", yes);
    char md5[128];
    snprintf(md5, sizeof(md5), "%s", crypt_rn("secret", "$1$saltsalt$", cd, sizeof(*cd)));
    ok(hs__pw_scheme(hs_iov_cstr(md5), false, NULL) == HS__PW_MD5CRYPT && verify(md5, "secret"), "MD5-crypt: %s", md5);
    char mine[HS__PW_MD5_OUT];
    bool agree = true;
    const char *pws[] = {
        "", "a", "secret", "0123456789abcdef", "0123456789abcdefg", "a much longer password than 16", "pässwörd"};
    const char *salts[] = {"s", "saltsalt", "abcdefgh", "./AZaz09"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(pws); i++)
        for (size_t k = 0; k < HS_ARRAY_SIZE(salts); k++) {
            char set[32];
            snprintf(set, sizeof(set), "$1$%s$", salts[k]);
            const char *ref = crypt_rn(pws[i], set, cd, sizeof(*cd));
            hs__pw_md5crypt("$1$", hs_iov_cstr(pws[i]), hs_iov_cstr(salts[k]), mine);
            if (!ref || strcmp(ref, mine) != 0) {
                agree = false;
                printf("#   '%s' salt %s: libcrypt %s, here %s\n", pws[i], salts[k], ref ? ref : "NULL", mine);
            }
        }
    ok(agree, "MD5-crypt computed here = libcrypt's, for 28 password/salt pairs (so $apr1$ is the same algorithm)");
    hs__pw_md5crypt("$apr1$", HS_IOV("secret"), HS_IOV("saltsaltEXTRA"), mine);
    ok(strncmp(mine, "$apr1$saltsalt$", 15) == 0 && strlen(mine) == 37, "salt cut at 8 characters: %s", mine);
    free(cd);

    /* bcrypt reads 72 bytes: a longer password matches on its first 72 */
    char p72[100], p73[110];
    memset(p72, 'p', 72);
    p72[72] = '\0';
    snprintf(p73, sizeof(p73), "%sXYZ", p72);
    run("htpasswd -bB -C 4 %s long %s 2>/dev/null", f, p72);
    ok(verify(hash_of("all", "long"), p73), "bcrypt: bytes after the 72nd do not count (documented)");

    /* syntax refusals */
    const char *bad_hashes[] = {"$2y$18$"
                                "abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
                                "$2y$03$"
                                "abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
                                "$2x$05$"
                                "abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
                                "$2y$05$"
                                "abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ0123!",
                                "$5$rounds=20000000$salt$"
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
                                "$5$rounds=$salt$"
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
                                "$5$rounds=0100$salt$"
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
                                "$5$saltsaltsaltsaltX$"
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
                                "$6$salt$short",
                                "$y$j9T$$"
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
                                "$apr1$$abcdefghijklmnopqrstuv",
                                "$apr1$123456789$abcdefghijklmnopqrstuv",
                                "{SHA}notbase64!notbase64!notbase64!",
                                "{SSHA}abcdefghijklmnopqrstuvwxyz01",
                                "$9$whatever",
                                "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA",
                                "x"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad_hashes); i++) {
        err = NULL;
        ok(hs__pw_scheme(hs_iov_cstr(bad_hashes[i]), false, &err) == 0 && err, "refused: %s (%s)", bad_hashes[i],
           err ? err : "-");
    }
    ok(hs__pw_scheme(HS_IOV("$9$whatever"), true, NULL) == HS__PW_PLAIN,
       "with plaintext allowed, '$9$…' is a password");
    ok(!hs__pw_verify(HS__PW_SHA1, hs_iov_cstr(hash_of("all", "sha")), hs_iov("secret\0x", 8)),
       "a password with a NUL byte matches nothing");

    /* ---- files ---- */
    put("good", "# a comment\n\n  \t\n"
                "  alice:$apr1$viUQrL1N$aGZRdJunY0YPE1z.NUMLs/  \r\n"
                "bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=:extra fields ignored\n"
                "#carol:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n"
                "dave:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=");
    hs__htpasswd_t *h = NULL;
    char errbuf[512] = "";
    ok(hs__htpasswd_open(path_of("good"), NULL, &h, errbuf, sizeof(errbuf)) == HS_OK && hs__htpasswd_count(h) == 3,
       "comments, blank lines, blanks, CRLF, extra fields, no final newline: 3 users (%s)", errbuf);
    uint64_t t = now_ms();
    is_int(check(h, "alice", "secret", t), HS__AUTH_OK, "alice (apr1 from htpasswd -m)");
    is_int(check(h, "bob", "secret", t), HS__AUTH_OK, "bob ({SHA})");
    is_int(check(h, "dave", "secret", t), HS__AUTH_OK, "dave (last line, no newline)");
    is_int(check(h, "bob", "wrong", t), HS__AUTH_WRONG, "bob, wrong password");
    is_int(check(h, "carol", "secret", t), HS__AUTH_UNKNOWN_USER, "carol is commented out");
    is_int(check(h, "Alice", "secret", t), HS__AUTH_UNKNOWN_USER, "user names are case-sensitive");
    is_int(check(h, "", "secret", t), HS__AUTH_UNKNOWN_USER, "the empty user");
    hs__htpasswd_free(h);

    ok(hs__htpasswd_open(path_of("all"), NULL, &h, errbuf, sizeof(errbuf)) == HS_ERROR &&
           strstr(errbuf, ":11: user 'plain'"),
       "the htpasswd -p line is refused with its line number: %s", errbuf);
    hs__htpasswd_opts_t allow = {.allow_plain = true};
    ok(hs__htpasswd_open(path_of("all"), &allow, &h, errbuf, sizeof(errbuf)) == HS_OK, "... loaded with plaintext on");
    t = now_ms();
    bool every = true;
    const char *users[] = {"bcrypt", "sha256", "sha512", "sha256r", "apr", "sha", "des", "plain"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(users); i++)
        every =
            every && check(h, users[i], "secret", t) == HS__AUTH_OK && check(h, users[i], "nope", t) == HS__AUTH_WRONG;
    ok(every, "every format through the file: right and wrong passwords");
    hs__htpasswd_free(h);

    load_error("nocolon", "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n# c\njust-a-name\n", ":3: expected user:hash");
    load_error("emptyuser", ":{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n", ":1: an empty user name");
    load_error("ctluser", "al\x01ice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n", ":1: a user name must be");
    load_error("latin1", "j\xe9r\xf4me:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n", ":1: a user name must be");
    load_error("badhash", "\n\nalice:$2y$05$tooshort\n", ":3: user 'alice': a bcrypt hash");
    load_error("unknown", "alice:$9$x\n", ":1: user 'alice': an unknown password hash scheme");
    load_error("dup",
               "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\nbob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n"
               "alice:$apr1$viUQrL1N$aGZRdJunY0YPE1z.NUMLs/\n",
               ":3: user 'alice' is already defined on line 1");
    char nul[] = "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\nb\0b:x\n";
    FILE *fn = fopen(path_of("nul"), "w");
    fwrite(nul, 1, sizeof(nul) - 1, fn);
    fclose(fn);
    ok(hs__htpasswd_open(path_of("nul"), NULL, &h, errbuf, sizeof(errbuf)) == HS_ERROR && strstr(errbuf, ":2: a NUL"),
       "a NUL byte: %s", errbuf);
    char longline[6000];
    memset(longline, 'a', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    load_error("longline", longline, ":1: a line longer than 4096 bytes");
    put("big", "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
    hs__htpasswd_opts_t tiny = {.max_file = 10};
    ok(hs__htpasswd_open(path_of("big"), &tiny, &h, errbuf, sizeof(errbuf)) == HS_ERROR &&
           strstr(errbuf, "larger than 10 bytes"),
       "over max_file: %s", errbuf);
    ok(hs__htpasswd_open(path_of("missing"), NULL, &h, errbuf, sizeof(errbuf)) == HS_ERROR &&
           strstr(errbuf, "missing: cannot open"),
       "a missing file: %s", errbuf);
    ok(hs__htpasswd_open(dir, NULL, &h, errbuf, sizeof(errbuf)) == HS_ERROR && strstr(errbuf, "not a regular file"),
       "a directory: %s", errbuf);
    put("empty", "");
    ok(hs__htpasswd_open(path_of("empty"), NULL, &h, errbuf, sizeof(errbuf)) == HS_OK && hs__htpasswd_count(h) == 0 &&
           check(h, "alice", "secret", now_ms()) == HS__AUTH_UNKNOWN_USER,
       "an empty file: nobody gets in");
    hs__htpasswd_free(h);

    /* ---- the cache ---- */
    run("htpasswd -cbB -C 4 %s alice secret 2>/dev/null", path_of("c"));
    run("htpasswd -bB -C 4 %s bob secret 2>/dev/null", path_of("c"));
    hs__htpasswd_opts_t co = {.cache_ttl_ms = 6000, .check_interval_ms = 1};
    ok(hs__htpasswd_open(path_of("c"), &co, &h, errbuf, sizeof(errbuf)) == HS_OK, "a bcrypt file");
    hs__auth_stats_t st;
    t = 1000000;
    check(h, "alice", "secret", t);
    check(h, "alice", "secret", t + 10);
    check(h, "alice", "wrong", t + 20);
    check(h, "alice", "wrong", t + 30);
    check(h, "nobody", "x", t + 40);
    hs__auth_stats(h, &st);
    ok(st.hits == 2 && st.misses == 3 && st.hashes == 3,
       "right and wrong verdicts reused; an unknown user still costs a hash (hits %llu misses %llu hashes %llu)",
       (unsigned long long)st.hits, (unsigned long long)st.misses, (unsigned long long)st.hashes);
    is_int(check(h, "alice", "wrong", t + 1030), HS__AUTH_WRONG, "a wrong verdict expires sooner (1 s of 6)...");
    is_int(check(h, "alice", "secret", t + 5000), HS__AUTH_OK, "... a right one later");
    hs__auth_stats(h, &st);
    ok(st.hits == 3 && st.hashes == 4, "(one more hash, one more hit)");
    check(h, "alice", "secret", t + 6001);
    hs__auth_stats(h, &st);
    ok(st.hashes == 5, "the right one expires after its ttl");
    int v;
    ok(hs__auth_cached(h, HS_IOV("Basic YWxpY2U6c2VjcmV0"), t + 6002, &v) == HS_OK && v == HS__AUTH_OK,
       "cached: keyed by the field value");
    ok(hs__auth_cached(h, HS_IOV("basic YWxpY2U6c2VjcmV0"), t + 6002, &v) == HS_AGAIN,
       "another spelling of the same field is another key");

    /* ---- reloads ---- */
    bool reloaded = false;
    ok(hs__htpasswd_refresh(h, t + 7000, &reloaded, errbuf, sizeof(errbuf)) == HS_OK && !reloaded,
       "unchanged: nothing to do");
    run("htpasswd -bB -C 4 %s alice changed 2>/dev/null", path_of("c"));
    ok(hs__htpasswd_refresh(h, t + 7010, &reloaded, errbuf, sizeof(errbuf)) == HS_OK && reloaded,
       "changed in place: reloaded");
    ok(hs__auth_cached(h, HS_IOV("Basic YWxpY2U6c2VjcmV0"), t + 7011, &v) == HS_AGAIN, "the cache is dropped");
    is_int(check(h, "alice", "secret", t + 7012), HS__AUTH_WRONG, "the old password no longer works");
    is_int(check(h, "alice", "changed", t + 7013), HS__AUTH_OK, "the new one does");
    put("c.new", "carol:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
    rename(path_of("c.new"), path_of("c"));
    ok(hs__htpasswd_refresh(h, t + 7020, &reloaded, errbuf, sizeof(errbuf)) == HS_OK && reloaded &&
           hs__htpasswd_count(h) == 1 && check(h, "carol", "secret", t + 7021) == HS__AUTH_OK,
       "replaced by rename: reloaded");
    reloaded = false;
    ok(hs__htpasswd_refresh(h, t + 7020, &reloaded, errbuf, sizeof(errbuf)) == HS_OK && !reloaded,
       "not before the check interval");
    put("c", "carol:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\nbroken\n");
    errbuf[0] = '\0';
    ok(hs__htpasswd_refresh(h, t + 7030, &reloaded, errbuf, sizeof(errbuf)) == HS_ERROR && strstr(errbuf, ":2:"),
       "a broken version: reported (%s)", errbuf);
    ok(hs__htpasswd_refresh(h, t + 7040, &reloaded, errbuf, sizeof(errbuf)) == HS_OK && !reloaded, "... once");
    is_int(check(h, "carol", "secret", t + 7041), HS__AUTH_OK, "... and the users before it stay in force");
    put("c", "carol:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\ndan:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
    ok(hs__htpasswd_refresh(h, t + 7050, &reloaded, errbuf, sizeof(errbuf)) == HS_OK && reloaded &&
           hs__htpasswd_count(h) == 2,
       "fixed: reloaded");
    unlink(path_of("c"));
    ok(hs__htpasswd_refresh(h, t + 7060, &reloaded, errbuf, sizeof(errbuf)) == HS_ERROR &&
           strstr(errbuf, "cannot stat"),
       "deleted: reported (%s)", errbuf);
    ok(hs__htpasswd_refresh(h, t + 7070, &reloaded, errbuf, sizeof(errbuf)) == HS_OK &&
           check(h, "dan", "secret", t + 7071) == HS__AUTH_OK,
       "... once, users kept");
    put("c", "erin:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
    ok(hs__htpasswd_reload(h, errbuf, sizeof(errbuf)) == HS_OK && check(h, "erin", "secret", t + 7080) == HS__AUTH_OK,
       "a forced reload (SIGHUP)");

    /* a job that started before a reload finishes on the users it started with, and is not cached */
    unsigned char buf[64];
    hs_basic_cred_t cred;
    hs_basic_parse(HS_IOV("Basic ZXJpbjpzZWNyZXQ="), buf, sizeof(buf), &cred);
    hs__auth_job_t *job = hs__auth_job_new(h, HS_IOV("Basic ZXJpbjpzZWNyZXQ="), &cred);
    put("c", "frank:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n");
    hs__htpasswd_reload(h, errbuf, sizeof(errbuf));
    hs__auth_job_run(job);
    is_int(hs__auth_job_finish(job, t + 7090), HS__AUTH_OK, "a job holds its snapshot across a reload");
    ok(hs__auth_cached(h, HS_IOV("Basic ZXJpbjpzZWNyZXQ="), t + 7091, &v) == HS_AGAIN,
       "... and its verdict is not cached against the new users");
    hs__htpasswd_free(h);

    /* ---- several threads checking while the file is replaced over and over ---- */
    run("htpasswd -cbm %s apr secret 2>/dev/null && htpasswd -bs %s sha secret 2>/dev/null", path_of("t"),
        path_of("t"));
    hs__htpasswd_opts_t to = {.check_interval_ms = 1, .cache_entries = 8};
    hs__htpasswd_open(path_of("t"), &to, &h, errbuf, sizeof(errbuf));
    pthread_t th[4];
    th_t ts[4];
    for (int i = 0; i < 4; i++) {
        ts[i] = (th_t){h, i, 0, 0};
        pthread_create(&th[i], NULL, checker, &ts[i]);
    }
    int reloads = 0;
    for (int i = 0; i < 30; i++) {
        char tmp[300];
        snprintf(tmp, sizeof(tmp), "%s.%d", path_of("t"), i);
        run("cp %s %s && echo 'x%d:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=' >> %s && mv %s %s", path_of("t"), tmp, i, tmp,
            tmp, path_of("t"));
        bool rl = false;
        hs__htpasswd_refresh(h, now_ms() + (uint64_t)i * 10, &rl, errbuf, sizeof(errbuf));
        reloads += rl;
    }
    int bad = 0, done = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += ts[i].bad;
        done += ts[i].done;
    }
    ok(bad == 0 && done == 160 && reloads >= 25 && hs__htpasswd_count(h) == 32,
       "4 threads, 160 checks, %d reloads meanwhile: every verdict right (%d wrong)", reloads, bad);
    hs__htpasswd_free(h);

    /* ---- cost of the quick path (not asserted) ---- */
    run("htpasswd -cbB -C 4 %s alice secret 2>/dev/null", path_of("bench"));
    hs__htpasswd_open(path_of("bench"), NULL, &h, errbuf, sizeof(errbuf));
    t = now_ms();
    check(h, "alice", "secret", t);
    struct timespec a, z;
    enum { N = 100000 };
    clock_gettime(CLOCK_MONOTONIC, &a);
    int hits = 0;
    for (int i = 0; i < N; i++)
        hits += hs__auth_cached(h, HS_IOV("Basic YWxpY2U6c2VjcmV0"), t, &v) == HS_OK;
    clock_gettime(CLOCK_MONOTONIC, &z);
    printf("# bench: credential cache hit (HMAC-SHA-256 of the field + lookup): %.0f ns/op\n",
           ((z.tv_sec - a.tv_sec) * 1e9 + (z.tv_nsec - a.tv_nsec)) / N);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 20; i++)
        check(h, "alice", i % 2 ? "secret" : "wrong", t + 100000 * (uint64_t)(i + 1));
    clock_gettime(CLOCK_MONOTONIC, &z);
    printf("# bench: bcrypt cost 4 check (a cache miss): %.2f ms/op\n",
           ((z.tv_sec - a.tv_sec) * 1e9 + (z.tv_nsec - a.tv_nsec)) / 20 / 1e6);
    ok(hits == N, "benchmarks ran");
    hs__htpasswd_free(h);

    run("rm -rf %s", dir);
    return tap_done();
}
