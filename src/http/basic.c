/* statusd — HTTP Basic authentication (RFC 7617).
 *
 * Why so strict: every lenient reading of credentials is a second way to spell the same secret,
 * and a cache keyed by the field value (the policy's credential cache) or a log that records the
 * user would then disagree with the check. Malformed credentials are told apart from missing ones
 * and from other schemes so that the 401 page and the access log can say which it was; the answer
 * is 401 in each case (RFC 9110 §11.6.1: the server may send a new challenge). */
#define _GNU_SOURCE
#include "hs/basic.h"

#include <openssl/crypto.h>

/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="   (RFC 9110 §11.2) */
static bool is_token68(hs_iovec_t t)
{
    size_t i = 0;
    while (i < t.len) {
        unsigned char c = (unsigned char)t.base[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_' || c == '~' || c == '+' || c == '/'))
            break;
        i++;
    }
    if (i == 0)
        return false;
    while (i < t.len && t.base[i] == '=')
        i++;
    return i == t.len;
}

static bool has_ctl(hs_iovec_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

static int malformed(hs_basic_cred_t *out, const char *detail)
{
    out->kind = HS_BASIC_MALFORMED;
    out->detail = detail;
    return HS_ERROR;
}

int hs_basic_parse(hs_iovec_t value, unsigned char *buf, size_t buflen, hs_basic_cred_t *out)
{
    *out = (hs_basic_cred_t){.kind = HS_BASIC_MISSING, .detail = "no credentials were sent"};
    if (!value.base)
        return HS_DECLINED;
    size_t i = 0;
    while (i < value.len && hs_is_tchar((unsigned char)value.base[i]))
        i++;
    if (i == 0)
        return malformed(out, "the credentials do not start with an authentication scheme (RFC 9110 §11.4)");
    if (!hs_iov_ieq(hs_iov(value.base, i), "basic", 5)) {
        out->kind = HS_BASIC_OTHER_SCHEME;
        out->detail = "the credentials are not of the Basic scheme";
        return HS_DECLINED;
    }
    size_t sp = i;
    while (i < value.len && value.base[i] == ' ')
        i++;
    size_t end = value.len;
    while (end > i && (value.base[end - 1] == ' ' || value.base[end - 1] == '\t'))
        end--;
    if (i == end)
        return malformed(out, "Basic without credentials (RFC 7617 §2)");
    if (i == sp)
        return malformed(out, "no space after Basic (RFC 9110 §11.4)");
    hs_iovec_t t = hs_iov(value.base + i, end - i);
    if (!is_token68(t))
        return malformed(out, "the Basic credentials are not a single token68 (RFC 9110 §11.4)");
    size_t n;
    if (t.len % 4 != 0 || buflen < HS_BASIC_BUF(t.len) || !hs_base64_decode(buf, &n, t.base, t.len, 0))
        return malformed(out, "the Basic credentials are not canonical padded base64 (RFC 7617 §2, RFC 4648 §4)");
    const unsigned char *colon = memchr(buf, ':', n);
    if (!colon)
        return malformed(out, "the decoded credentials have no ':' between user-id and password (RFC 7617 §2)");
    hs_iovec_t user = hs_iov((const char *)buf, (size_t)(colon - buf));
    hs_iovec_t pass = hs_iov((const char *)colon + 1, n - user.len - 1);
    if (has_ctl(user) || has_ctl(pass))
        return malformed(out, "a control character in the user-id or password (RFC 7617 §2)");
    if (!hs_utf8_valid(user.base, user.len) || !hs_utf8_valid(pass.base, pass.len))
        return malformed(out, "the user-id or password is not UTF-8 (RFC 7617 §2.1: charset=\"UTF-8\")");
    *out = (hs_basic_cred_t){.kind = HS_BASIC_CREDENTIALS, .user = user, .pass = pass};
    return HS_OK;
}

void hs_basic_clear(unsigned char *buf, size_t buflen)
{
    OPENSSL_cleanse(buf, buflen);
}

bool hs_basic_realm_ok(const char *realm)
{
    size_t n = realm ? strlen(realm) : 0;
    if (n == 0 || n > 255 || !hs_utf8_valid(realm, n))
        return false;
    return !has_ctl(hs_iov(realm, n));
}

size_t hs_basic_challenge(char *out, size_t n, const char *realm)
{
    static const char head[] = "Basic realm=\"", tail[] = "\", charset=\"UTF-8\"";
    size_t len = 0, rl = strlen(realm);
    if (n < sizeof(head) + 2 * rl + sizeof(tail)) {
        if (n)
            out[0] = '\0';
        return 0;
    }
    memcpy(out, head, sizeof(head) - 1);
    len = sizeof(head) - 1;
    for (size_t i = 0; i < rl; i++) {
        if (realm[i] == '"' || realm[i] == '\\')
            out[len++] = '\\';
        out[len++] = realm[i];
    }
    memcpy(out + len, tail, sizeof(tail)); /* with its NUL */
    return len + sizeof(tail) - 1;
}
