/* Unit tests: header-field tokenising (src/http/fields.c) — lists (RFC 9110 §5.6.1), parameters
 * (§5.6.6), q-values (§12.4.2), quoted strings (§5.6.4). */
#define _GNU_SOURCE
#include "hs/fields.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

static hs_iovec_t S(const char *s)
{
    return hs_iov(s, strlen(s));
}

/* Collect hs_list_next elements joined by '|'. */
static void list(const char *in, char *out, size_t outlen)
{
    size_t pos = 0, n = 0;
    hs_iovec_t v = S(in), e;
    out[0] = 0;
    int guard = 0;
    while ((e = hs_list_next(v, &pos)).base && guard++ < 100) {
        n += (size_t)snprintf(out + n, outlen - n, "%s%.*s", n ? "|" : "", (int)e.len, e.base);
        if (n >= outlen)
            break;
    }
}

static void test_list_next(void)
{
    static const struct {
        const char *in, *want;
    } t[] = {
        {"a, b,c", "a|b|c"},
        {"a", "a"},
        {"", ""},
        {"   ", ""},
        {",,,", ""},
        {", , a ,\t, b,", "a|b"},
        {"a b , c\td", "a b|c\td"},
        {"\"x,y\", z", "\"x,y\"|z"},
        {"\"a\\\"b,c\", d", "\"a\\\"b,c\"|d"},
        {"a;q=\"1,2\", b;q=0.5", "a;q=\"1,2\"|b;q=0.5"},
        {"\"\", x", "\"\"|x"},
        {"\"unterminated, x", "\"unterminated, x"},
        {"gzip, chunked", "gzip|chunked"},
        {"\t\ta\t\t", "a"},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(t); i++) {
        char out[256];
        list(t[i].in, out, sizeof(out));
        if (!ok(strcmp(out, t[i].want) == 0, "hs_list_next(\"%s\")", t[i].in))
            printf("#   got \"%s\", want \"%s\"\n", out, t[i].want);
    }
    /* the cursor ends at the end, and NULL base is returned again */
    size_t pos = 0;
    hs_iovec_t v = S("a,b");
    hs_list_next(v, &pos);
    hs_list_next(v, &pos);
    ok(hs_list_next(v, &pos).base == NULL && hs_list_next(v, &pos).base == NULL && pos == 3, "done stays done");
}

/* Walk an element: "value|name=value|name|…" (a parameter without '=' shows its name alone). */
static void element(const char *in, const char *want)
{
    hs_iovec_t el = S(in);
    size_t pos;
    hs_iovec_t v = hs_element_value(el, &pos);
    char out[256];
    int n = snprintf(out, sizeof(out), "%.*s", (int)v.len, v.base ? v.base : "");
    hs_param_t p;
    int guard = 0;
    while (hs_param_next(el, &pos, &p) && guard++ < 50) {
        if (p.value.base)
            n += snprintf(out + n, sizeof(out) - (size_t)n, "|%.*s=%.*s", (int)p.name.len, p.name.base,
                          (int)p.value.len, p.value.base);
        else
            n += snprintf(out + n, sizeof(out) - (size_t)n, "|%.*s", (int)p.name.len, p.name.base);
    }
    if (!ok(strcmp(out, want) == 0, "element \"%s\"", in))
        printf("#   got \"%s\", want \"%s\"\n", out, want);
    ok(pos == el.len, "element \"%s\": cursor at the end", in);
}

static void test_params(void)
{
    element("text/html", "text/html");
    element("text/html;level=1", "text/html|level=1");
    element("text/html ; level=1 ;\tq=0.5", "text/html|level=1|q=0.5");
    element("a;;b=1;", "a|b=1");
    element("a; b", "a|b");
    element("a; b=\"x;y\"; c=2", "a|b=\"x;y\"|c=2");
    element("a; b=\"x\\\";y\"; c", "a|b=\"x\\\";y\"|c");
    element("form-data; name=\"f\"; filename=\"a b.txt\"", "form-data|name=\"f\"|filename=\"a b.txt\"");
    element("\"quoted;value\"; p=1", "\"quoted;value\"|p=1");
    element("a; q = 0.5", "a|q = 0.5"); /* §5.6.6: no whitespace around '=' (name "q ") */
    element("", "");
    element(";p=1", "|p=1");
    element("a; p=", "a|p=");
}

static void test_qvalue(void)
{
    static const struct {
        const char *in;
        int want;
    } t[] = {
        {"0", 0},      {"1", 1000},   {"0.5", 500},    {"0.05", 50}, {"0.005", 5},   {"0.123", 123}, {"0.", 0},
        {"1.", 1000},  {"1.0", 1000}, {"1.000", 1000}, {"0.000", 0}, {"0.999", 999}, {"1.0001", -1}, {"0.5000", -1},
        {"1.001", -1}, {"1.5", -1},   {"2", -1},       {".5", -1},   {"", -1},       {" 1", -1},     {"1 ", -1},
        {"0,5", -1},   {"0.a", -1},   {"-0", -1},      {"+1", -1},   {"0.5e1", -1},  {"01", -1},     {"0x1", -1},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(t); i++)
        is_int(hs_qvalue(S(t[i].in)), t[i].want, "qvalue \"%s\"", t[i].in);
}

static void weight(const char *in, const char *value, int want)
{
    hs_iovec_t v;
    int q = hs_element_weight(S(in), &v);
    if (!ok(q == want && v.len == strlen(value) && memcmp(v.base, value, v.len) == 0, "weight \"%s\" = %s, %d", in,
            value, want))
        printf("#   got %.*s, %d\n", (int)v.len, v.base, q);
}

static void test_weight(void)
{
    weight("gzip", "gzip", 1000);
    weight("gzip;q=0.5", "gzip", 500);
    weight("gzip ; Q=0.5", "gzip", 500);
    weight("gzip;q=0", "gzip", 0);
    weight("gzip;q=0.", "gzip", 0);
    weight("gzip;q=1.0001", "gzip", -1);
    weight("gzip;q=", "gzip", -1);
    weight("gzip;q=bogus", "gzip", -1);
    weight("gzip;q", "gzip", 1000); /* no '=': not a weight */
    weight("text/html;level=1;q=0.7", "text/html", 700);
    weight("text/html;q=0.2;q=0.3", "text/html", 300); /* the last one counts */
    weight("a;qq=0.5", "a", 1000);
    weight("a;x=\"q=0\"", "a", 1000); /* inside a quoted-string */
    weight("*;q=0", "*", 0);
}

static void unq(const char *in, const char *want, const char *why)
{
    char out[64];
    ssize_t n = hs_unquote(S(in), out);
    if (!want) {
        if (!ok(n == -1, "unquote %s refused: %s", in, why))
            printf("#   got %zd\n", n);
        return;
    }
    ok(n == (ssize_t)strlen(want) && memcmp(out, want, (size_t)n) == 0, "unquote %s -> %s: %s", in, want, why);
}

static void test_unquote(void)
{
    unq("\"\"", "", "empty");
    unq("\"abc\"", "abc", "plain");
    unq("\"a b\\tc\"", "a btc", "quoted-pair of a letter");
    unq("\"a\\\"b\"", "a\"b", "escaped quote");
    unq("\"a\\\\b\"", "a\\b", "escaped backslash");
    unq("\"a,b;c=d\"", "a,b;c=d", "delimiters are text");
    unq("\"caf\xc3\xa9\"", "caf\xc3\xa9", "obs-text passes");
    unq("\"tab\there\"", "tab\there", "HTAB is qdtext");
    unq("abc", NULL, "not quoted");
    unq("\"abc", NULL, "no closing quote");
    unq("\"a\"b", NULL, "text after the closing quote");
    unq("\"a\\\"", NULL, "the closing quote escaped");
    unq("\"", NULL, "a lone quote");
    unq("\"a\x01\"", NULL, "a control character");
    unq("\"a\x7f\"", NULL, "DEL");
    unq("", NULL, "empty input");

    hs_arena_t a;
    hs_arena_init(&a);
    hs_iovec_t tok = S("token");
    hs_iovec_t t = hs_param_text(&a, tok);
    ok(t.base == tok.base && t.len == 5, "param_text: a token is the same slice");
    t = hs_param_text(&a, S("\"x\\\"y\""));
    ok(t.len == 3 && strcmp(t.base, "x\"y") == 0, "param_text: a quoted-string unquoted, NUL-terminated");
    ok(hs_param_text(&a, S("\"x")).base == NULL, "param_text: malformed");
    ok(hs_param_text(&a, HS_IOV_NULL).base == NULL, "param_text: absent");
    hs_arena_reset(&a);
}

int main(void)
{
    test_list_next();
    test_params();
    test_qvalue();
    test_weight();
    test_unquote();
    return tap_done();
}
