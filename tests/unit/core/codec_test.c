/* Unit tests: byte codecs (src/core/codec.c) — hex, percent-encoding (RFC 3986 §2.1), form
 * pairs, base64 (RFC 4648 §4, §5, test vectors of §10), UTF-8 validation (RFC 3629), HTML
 * escaping. */
#define _GNU_SOURCE
#include "hs/codec.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

static hs_iovec_t S(const char *s)
{
    return hs_iov(s, strlen(s));
}

static void test_hex(void)
{
    char out[64];
    size_t n = hs_hex_encode(out, "\x00\x01\xab\xff", 4);
    ok(n == 8 && strcmp(out, "0001abff") == 0, "hex encode, lowercase, NUL-terminated (%s)", out);
    unsigned char bin[8];
    ok(hs_hex_decode(bin, "0001ABff", 8) && memcmp(bin, "\x00\x01\xab\xff", 4) == 0, "hex decode, either case");
    ok(hs_hex_decode(bin, "", 0), "hex decode of nothing");
    ok(!hs_hex_decode(bin, "abc", 3), "odd length refused");
    ok(!hs_hex_decode(bin, "0g", 2), "non-hex digit refused");
    ok(!hs_hex_decode(bin, " 1", 2), "space refused");
    is_int(hs_hex_digit('0'), 0, "digit 0");
    is_int(hs_hex_digit('9'), 9, "digit 9");
    is_int(hs_hex_digit('a'), 10, "digit a");
    is_int(hs_hex_digit('F'), 15, "digit F");
    is_int(hs_hex_digit('g'), -1, "g is not hex");
    is_int(hs_hex_digit('@'), -1, "@ is not hex");
    is_int(hs_hex_digit('`'), -1, "` is not hex");
    is_int(hs_hex_digit(0), -1, "NUL is not hex");
    is_int(hs_hex_digit(0xc1), -1, "0xc1 is not hex");
    unsigned char all[256], back[256];
    char txt[513];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    hs_hex_encode(txt, all, 256);
    ok(hs_hex_decode(back, txt, 512) && memcmp(all, back, 256) == 0, "every byte round-trips");
}

static void dec(const char *in, unsigned flags, const char *want, const char *name)
{
    hs_arena_t a;
    hs_arena_init(&a);
    hs_iovec_t r = hs_pct_decode_arena(&a, S(in), flags);
    if (!want) {
        ok(r.base == NULL, "pct decode %s: refused", name);
    } else {
        bool good = r.base && r.len == strlen(want) && memcmp(r.base, want, r.len) == 0 && r.base[r.len] == '\0';
        if (!ok(good, "pct decode %s", name))
            printf("#   got [%.*s]\n", (int)r.len, r.base ? r.base : "");
    }
    hs_arena_reset(&a);
}

static void enc(const char *in, unsigned flags, const char *want)
{
    hs_arena_t a;
    hs_arena_init(&a);
    hs_iovec_t e = hs_pct_encode_arena(&a, in, strlen(in), flags);
    ok(e.len == strlen(want) && memcmp(e.base, want, e.len) == 0 && e.base[e.len] == '\0',
       "pct encode '%s' -> '%s' (got '%.*s')", in, want, (int)e.len, e.base);
    hs_arena_reset(&a);
}

static void test_pct(void)
{
    dec("a%20b", 0, "a b", "%20");
    dec("%41%62%7e", 0, "Ab~", "mixed case hex");
    dec("a+b", 0, "a+b", "'+' kept without HS_PCT_PLUS");
    dec("a+b%2B", HS_PCT_PLUS, "a b+", "'+' is a space with HS_PCT_PLUS, %2B a plus");
    dec("100%", 0, "100%", "lone '%' kept");
    dec("%4", 0, "%4", "one hex digit kept");
    dec("%zz%41", 0, "%zzA", "bad escape kept, the next decoded");
    dec("%%41", 0, "%A", "'%' before an escape");
    dec("100%", HS_PCT_STRICT, NULL, "lone '%' strict");
    dec("%4", HS_PCT_STRICT, NULL, "one hex digit strict");
    dec("%g0", HS_PCT_STRICT, NULL, "non-hex strict");
    dec("%41", HS_PCT_STRICT, "A", "strict, well-formed");
    dec("", 0, "", "empty");
    {
        hs_arena_t a;
        hs_arena_init(&a);
        hs_iovec_t r = hs_pct_decode_arena(&a, S("a%00b"), 0);
        ok(r.len == 3 && r.base[1] == '\0' && r.base[2] == 'b', "%%00 decodes to a NUL byte (length-carrying)");
        hs_arena_reset(&a);
    }
    char buf[] = "x%2Fy%25";
    ssize_t n = hs_pct_decode(buf, buf, strlen(buf), 0);
    ok(n == 4 && memcmp(buf, "x/y%", 4) == 0, "decode in place");

    enc("a b/c", HS_PCT_KEEP_SLASH, "a%20b/c");
    enc("a b/c", 0, "a%20b%2Fc");
    enc("<x>\"&'?#:%", 0, "%3Cx%3E%22%26%27%3F%23%3A%25");
    enc("AZaz09-._~", 0, "AZaz09-._~");
    enc("\xc3\xbc", 0, "%C3%BC");
    enc("", 0, "");
    /* encode then decode gives every byte back */
    char all[256], e[3 * 256], d[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    size_t el = hs_pct_encode(e, all, 256, 0);
    ssize_t dl = hs_pct_decode(d, e, el, HS_PCT_STRICT);
    ok(dl == 256 && memcmp(d, all, 256) == 0, "every byte round-trips through percent-encoding");
}

static void test_form(void)
{
    /* pairs split on '&', empty ones skipped, first '=' splits, no '=' → NULL value */
    hs_iovec_t q = HS_IOV("a=1&&b&=x&c=d=e&"), k, v;
    size_t pos = 0;
    ok(hs_form_next(q, &pos, &k, &v) && HS_IOV_EQ(k, "a") && HS_IOV_EQ(v, "1"), "form_next a=1");
    ok(hs_form_next(q, &pos, &k, &v) && HS_IOV_EQ(k, "b") && v.base == NULL, "form_next b without '='");
    ok(hs_form_next(q, &pos, &k, &v) && k.len == 0 && HS_IOV_EQ(v, "x"), "form_next =x has an empty key");
    ok(hs_form_next(q, &pos, &k, &v) && HS_IOV_EQ(k, "c") && HS_IOV_EQ(v, "d=e"), "form_next splits on the first '='");
    ok(!hs_form_next(q, &pos, &k, &v), "form_next ends after a trailing '&'");
    pos = 0;
    ok(!hs_form_next(HS_IOV_NULL, &pos, &k, &v), "form_next on an absent query");
}

static void b64(const char *in, size_t n, unsigned flags, const char *want)
{
    char out[256];
    size_t len = hs_base64_encode(out, in, n, flags);
    ok(len == strlen(want) && memcmp(out, want, len) == 0, "base64%s%s of %zu bytes = \"%s\" (got \"%.*s\")",
       flags & HS_B64_URL ? " url" : "", flags & HS_B64_NOPAD ? " nopad" : "", n, want, (int)len, out);
    if (!(flags & HS_B64_NOPAD))
        ok(len == HS_BASE64_LEN(n), "HS_BASE64_LEN(%zu)", n);
    unsigned char back[256];
    size_t bl = 999;
    ok(hs_base64_decode(back, &bl, out, len, flags) && bl == n && memcmp(back, in, n) == 0, "\"%s\" decodes back",
       want);
}

static void b64_bad(const char *in, unsigned flags, const char *why)
{
    unsigned char out[256];
    size_t n = 777;
    ok(!hs_base64_decode(out, &n, in, strlen(in), flags) && n == 777, "base64 \"%s\" refused: %s", in, why);
}

static void b64_dec(const char *in, unsigned flags, const char *want, const char *why)
{
    unsigned char out[256];
    size_t n = 777;
    ok(hs_base64_decode(out, &n, in, strlen(in), flags) && n == strlen(want) && memcmp(out, want, n) == 0,
       "base64 \"%s\" -> \"%s\": %s", in, want, why);
}

static void test_base64(void)
{
    /* RFC 4648 §10 */
    b64("", 0, 0, "");
    b64("f", 1, 0, "Zg==");
    b64("fo", 2, 0, "Zm8=");
    b64("foo", 3, 0, "Zm9v");
    b64("foob", 4, 0, "Zm9vYg==");
    b64("fooba", 5, 0, "Zm9vYmE=");
    b64("foobar", 6, 0, "Zm9vYmFy");
    b64("f", 1, HS_B64_NOPAD, "Zg");
    b64("fo", 2, HS_B64_URL | HS_B64_NOPAD, "Zm8");
    /* the two alphabets differ in 62 and 63 */
    b64("\xfb\xff\xfe", 3, 0, "+//+");
    b64("\xfb\xff\xfe", 3, HS_B64_URL, "-__-");
    b64("\xfb\xff", 2, HS_B64_URL, "-_8=");
    b64_bad("-__-", 0, "url alphabet in std");
    b64_bad("+//+", HS_B64_URL, "std alphabet in url");
    /* missing padding is accepted */
    b64_dec("Zg", 0, "f", "missing ==");
    b64_dec("Zm8", 0, "fo", "missing =");
    b64_dec("Zm9vYg", HS_B64_URL, "foob", "missing == (url)");
    b64_dec("", 0, "", "empty");
    b64_bad("Z", 0, "a lone sixth of a byte");
    b64_bad("Zm9vY", 0, "4k+1 characters");
    b64_bad("Zg=", 0, "padding that does not complete the quantum");
    b64_bad("Zg===", 0, "three '='");
    b64_bad("Z===", 0, "'=' where data must be");
    b64_bad("Zh==", 0, "non-zero pad bits (non-canonical)");
    b64_bad("Zm9=", 0, "non-zero pad bits before one '='");
    b64_bad("Zg==Zg==", 0, "padding inside");
    b64_bad("Zm9v!", 0, "a byte outside the alphabet");
    b64_bad("Zm 9v", 0, "a space");
    b64_bad("Zm9v\n", 0, "a line break");
    /* every byte value */
    unsigned char all[256], back[HS_BASE64_DECODED_MAX(HS_BASE64_LEN(256))];
    char e[HS_BASE64_LEN(256)];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (unsigned f = 0; f < 4; f++) {
        size_t n = hs_base64_encode(e, all, 256, f), bl = 0;
        ok(hs_base64_decode(back, &bl, e, n, f) && bl == 256 && memcmp(all, back, 256) == 0,
           "256 bytes round-trip (flags %u)", f);
    }
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        bool valid;
        const char *why;
    } t[] = {
        {"", true, "empty"},
        {"plain ASCII", true, "ASCII"},
        {"caf\xc3\xa9", true, "2-byte"},
        {"\xe2\x82\xac", true, "3-byte"},
        {"\xf0\x9f\x98\x80", true, "4-byte"},
        {"\xf4\x8f\xbf\xbf", true, "U+10FFFF"},
        {"\xc0\xaf", false, "overlong '/'"},
        {"\xe0\x80\xaf", false, "overlong 3-byte"},
        {"\xf0\x80\x80\xaf", false, "overlong 4-byte"},
        {"\xed\xa0\x80", false, "surrogate U+D800"},
        {"\xf4\x90\x80\x80", false, "above U+10FFFF"},
        {"\xc3", false, "truncated"},
        {"\xe2\x82", false, "truncated 3-byte"},
        {"\x80", false, "lone continuation"},
        {"\xc3\x28", false, "bad continuation"},
        {"\xff", false, "0xff"},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(t); i++)
        ok(hs_utf8_valid(t[i].s, strlen(t[i].s)) == t[i].valid, "utf8 %s: %s", t[i].why,
           t[i].valid ? "valid" : "invalid");
    ok(hs_utf8_valid("a\0b", 3), "NUL is valid UTF-8 (length-carrying)");
}

static void test_html(void)
{
    hs_buf_t b = {0};
    HS_HTML_CSTR(&b, "<a href=\"x\">Tom & Jerry's</a>");
    const char *want = "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;";
    ok(b.len == strlen(want) && memcmp(b.base, want, b.len) == 0, "html escape");
    b.len = 0;
    hs_html_escape(&b, "caf\xc3\xa9", 5);
    ok(b.len == 5 && memcmp(b.base, "caf\xc3\xa9", 5) == 0, "html escape leaves UTF-8 alone");
    hs_buf_free(&b);
}

int main(void)
{
    test_hex();
    test_pct();
    test_form();
    test_base64();
    test_utf8();
    test_html();
    return tap_done();
}
