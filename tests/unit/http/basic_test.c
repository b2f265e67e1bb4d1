/* Unit tests: Basic credentials and challenges (src/http/basic.c, RFC 7617). */
#define _GNU_SOURCE
#include "hs/basic.h"
#include "tap.h"

static unsigned char buf[256];

static int parse(const char *v, hs_basic_cred_t *c)
{
    memset(buf, 0xAA, sizeof(buf));
    return hs_basic_parse(v ? hs_iov_cstr(v) : HS_IOV_NULL, buf, sizeof(buf), c);
}

static void good(const char *v, const char *user, const char *pass)
{
    hs_basic_cred_t c;
    int rc = parse(v, &c);
    ok(rc == HS_OK && c.kind == HS_BASIC_CREDENTIALS && c.user.len == strlen(user) &&
           memcmp(c.user.base, user, c.user.len) == 0 && c.pass.len == strlen(pass) &&
           memcmp(c.pass.base, pass, c.pass.len) == 0,
       "'%s' -> '%s' / '%s'", v, user, pass);
}

static void malformed(const char *v, const char *name)
{
    hs_basic_cred_t c;
    int rc = parse(v, &c);
    ok(rc == HS_ERROR && c.kind == HS_BASIC_MALFORMED && c.detail && c.detail[0], "malformed: %s (%s)", name,
       c.detail ? c.detail : "-");
}

int main(void)
{
    /* RFC 7617 §2's example: Aladdin / open sesame */
    good("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame");
    good("basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame");
    good("BASIC   QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame");
    good("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== \t", "Aladdin", "open sesame");
    good("Basic dGVzdDoxMjPCow==", "test", "123\xc2\xa3"); /* RFC 7617 §2.1: test / 123£ in UTF-8 */
    good("Basic OnBhc3M=", "", "pass");                    /* ":pass": an empty user-id */
    good("Basic dXNlcjo=", "user", "");                    /* "user:" */
    good("Basic dXNlcjpwYTpzcw==", "user", "pa:ss");       /* the first ':' splits */

    hs_basic_cred_t c;
    ok(parse(NULL, &c) == HS_DECLINED && c.kind == HS_BASIC_MISSING && c.detail, "no field: missing");
    ok(parse("Bearer abc.def", &c) == HS_DECLINED && c.kind == HS_BASIC_OTHER_SCHEME, "Bearer: another scheme");
    ok(parse("Digest username=\"a\"", &c) == HS_DECLINED && c.kind == HS_BASIC_OTHER_SCHEME, "Digest");
    ok(parse("Basicx QWxh", &c) == HS_DECLINED && c.kind == HS_BASIC_OTHER_SCHEME, "Basicx is another scheme");

    malformed("", "empty");
    malformed(" Basic QWxh", "leading space");
    malformed("Basic", "Basic alone");
    malformed("Basic   ", "Basic and spaces");
    malformed("Basic\tQWxhZGRpbjpvcGVuIHNlc2FtZQ==", "HTAB instead of SP");
    malformed("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ", "unpadded base64");
    malformed("Basic QWxhZGRpbjpvcGVuIHNlc2FtZR==", "non-canonical trailing bits");
    malformed("Basic QWxh ZGRp", "two tokens");
    malformed("Basic QWxh,ZGRp", "a comma");
    malformed("Basic realm=\"x\"", "auth-params instead of a token68");
    malformed("Basic QW-h", "the URL-safe alphabet");
    malformed("Basic =QWx", "padding first");
    malformed("Basic QWxhZGRpbg==", "no colon (Aladdin)");
    malformed("Basic dXNlcgpuYW1lOnBhc3M=", "a LF in the user-id");
    malformed("Basic dXNlcjpwYXNzAA==", "a NUL in the password");
    malformed("Basic dXNlcjpwYXNzfw==", "DEL in the password");
    malformed("Basic dXNlcjqjcGFzcw==", "Latin-1 (not UTF-8) in the password");
    malformed("Basic wLA6eA==", "an overlong UTF-8 sequence in the user-id");

    /* a decoded buffer too small is refused, not overrun */
    unsigned char small[4];
    ok(hs_basic_parse(HS_IOV("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="), small, sizeof(small), &c) == HS_ERROR,
       "a buffer too small: refused");
    parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &c);
    hs_basic_clear(buf, sizeof(buf));
    ok(buf[0] == 0 && buf[15] == 0, "clear wipes the decoded password");

    /* ---- challenges ---- */
    char out[HS_BASIC_CHALLENGE_MAX];
    size_t n = hs_basic_challenge(out, sizeof(out), "statusd");
    ok(n == strlen(out) && strcmp(out, "Basic realm=\"statusd\", charset=\"UTF-8\"") == 0, "challenge: %s", out);
    hs_basic_challenge(out, sizeof(out), "a \"q\" and \\");
    ok(strcmp(out, "Basic realm=\"a \\\"q\\\" and \\\\\", charset=\"UTF-8\"") == 0,
       "quotes and backslashes escaped: %s", out);
    ok(hs_basic_challenge(out, 20, "statusd") == 0 && out[0] == '\0', "does not fit: 0");
    ok(hs_basic_realm_ok("Zone réservée") && hs_basic_realm_ok("x"), "UTF-8 realms");
    ok(!hs_basic_realm_ok("") && !hs_basic_realm_ok("a\nb") && !hs_basic_realm_ok("\xff") && !hs_basic_realm_ok(NULL),
       "empty, control characters, not UTF-8: refused");
    return tap_done();
}
