/* Unit tests: type maps (src/modules/static/typemap.c) — Apache's format, strictly: every field,
 * the record naming the resource itself, qs, errors with their line, the limits — and which
 * sibling names are variants of a base name (negotiate.c). */
#define _GNU_SOURCE
#include "../../../src/modules/static/static.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

static hs__typemap_t map;

static bool iov_is(hs_iovec_t v, const char *s)
{
    return v.len == strlen(s) && memcmp(v.base, s, v.len) == 0;
}

/* Parse text; returns the status, *line and *err set on error. */
static int parse(const char *text, const char *self, size_t *line, const char **err)
{
    static hs_arena_t keep; /* the last parse's copies stay readable until the next one */
    hs_arena_reset(&keep);
    size_t l = 0;
    const char *e = NULL;
    int r = hs__typemap_parse(&keep, text, strlen(text), self ? hs_iov_cstr(self) : HS_IOV_NULL, &map, &l, &e);
    if (line)
        *line = l;
    if (err)
        *err = e;
    return r;
}

static void test_good(void)
{
    const char *text = "# comment\r\n"
                       "URI: page\r\n"
                       "\r\n"
                       "URI: page.en.html\r\n"
                       "Content-Type: text/html; charset=utf-8; QS=0.9\r\n"
                       "Content-Language: en\r\n"
                       "\r\n"
                       "uri: page.fr.html.gz\n"
                       "content-type:text/html;level=1\n"
                       "content-language: fr, fr-CA\n"
                       "content-encoding: x-gzip\n"
                       "content-length: 123\n"
                       "description:  Fran\xc3\xa7" "ais  \n"
                       "\n\n\n"
                       "URI: sub/p%20q.txt\n"
                       "URI2: nothing\n";
    size_t line;
    const char *err;
    is_int(parse(text, "page", &line, &err), HS_ERROR, "an unknown field is an error");
    is_int(line, 18, "… on its line (18)");
    ok(err && strstr(err, "unknown field"), "… saying so: %s", err ? err : "");
    is_int(map.n, 0, "no entries after an error");

    const char *good = "# comment\r\n"
                       "URI: page\r\n"
                       "\r\n"
                       "URI: page.en.html\r\n"
                       "Content-Type: text/html; charset=utf-8; QS=0.9\r\n"
                       "Content-Language: en\r\n"
                       "\r\n"
                       "uri: page.fr.html.gz\n"
                       "content-type:text/html;level=1\n"
                       "content-language: fr, fr-CA\n"
                       "content-encoding: x-gzip\n"
                       "content-length: 123\n"
                       "description:  Fran\xc3\xa7" "ais  \n"
                       "\n\n\n"
                       "URI: sub/p%20q.txt\n";
    is_int(parse(good, "page", &line, &err), HS_OK, "a good map parses");
    is_int(map.n, 3, "three variants (the record naming the resource itself is skipped)");
    ok(iov_is(map.e[0].uri, "page.en.html") && iov_is(map.e[0].type, "text/html; charset=utf-8") &&
           map.e[0].qs == 900 && iov_is(map.e[0].language, "en") && map.e[0].coding == HS_CODING_IDENTITY &&
           map.e[0].line == 4,
       "first: uri, type without qs, qs 0.9 (QS case-insensitive), language, line 4");
    ok(iov_is(map.e[1].type, "text/html; level=1") && map.e[1].qs == 1000 && iov_is(map.e[1].language, "fr, fr-CA") &&
           map.e[1].coding == HS_CODING_GZIP && iov_is(map.e[1].description, "Fran\xc3\xa7" "ais"),
       "second: lowercase names, parameters kept, x-gzip is gzip, description trimmed");
    ok(iov_is(map.e[2].uri, "sub/p%20q.txt") && map.e[2].type.len == 0 && map.e[2].line == 17,
       "third: no type (from the extension), undecoded URI, line 17");
    is_int(parse(good, NULL, NULL, NULL), HS_OK, "without a self name …");
    is_int(map.n, 4, "… the lone URI record is a variant too");
    is_int(parse("URI: page.var\n\nURI: a.html\n", "page", NULL, NULL), HS_OK, "URI: NAME.var alone …");
    is_int(map.n, 1, "… is skipped as well");
    is_int(parse("", "x", NULL, NULL), HS_OK, "an empty map parses");
    is_int(map.n, 0, "… with no variant");
    is_int(parse("URI: a.html", "x", NULL, NULL), HS_OK, "no newline at the end");
    is_int(map.n, 1, "… one variant");
}

static void test_errors(void)
{
    static const struct {
        const char *text;
        size_t line;
        const char *words;
    } t[] = {
        {"Content-Type: text/html\n", 1, "without a URI"},
        {"URI: a\nURI: b\n", 2, "given twice"},
        {"URI: a\n  continued\n", 2, "folded"},
        {"URI: a\nBody:----xyz----\n", 2, "inline Body"},
        {"URI: a\nContent-Type: html\n", 2, "not a media type"},
        {"URI: a\nContent-Type: text/html; qs=1.5\n", 2, "qvalue"},
        {"URI: a\nContent-Type: text/html; qs=0.5; qs=0.6\n", 2, "twice"},
        {"URI: a\nContent-Type: text/html; qs\n", 2, "malformed parameter"},
        {"URI: a\nContent-Type: text html\n", 2, "not a media type"},
        {"URI: a\nContent-Language: en_US\n", 2, "not a language tag"},
        {"URI: a\nContent-Language: 1en\n", 2, "not a language tag"},
        {"URI: a\nContent-Language: a, b, c, d, e, f, g, h, i\n", 2, "more than 8"},
        {"URI: a\nContent-Language:\n", 2, "empty"},
        {"URI: a\nContent-Encoding: compress\n", 2, "Content-Encoding"},
        {"URI: a\nContent-Encoding: gzip, br\n", 2, "Content-Encoding"},
        {"URI: a\nContent-Length: ten\n", 2, "number"},
        {"URI: /abs.html\n", 1, "relative reference"},
        {"URI: http://example.com/x\n", 1, "relative reference"},
        {"URI: a.html?x=1\n", 1, "relative reference"},
        {"URI: a b.html\n", 1, "relative reference"},
        {"URI:\n", 1, "relative reference"},
        {"no colon here\n", 1, "Field: value"},
        {"Bad Name: x\n", 1, "Field: value"},
        {"URI: a\nDescription: a\x01b\n", 2, "control character"},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(t); i++) {
        size_t line = 0;
        const char *err = NULL;
        int r = parse(t[i].text, "x", &line, &err);
        ok(r == HS_ERROR && line == t[i].line && err && strstr(err, t[i].words), "error %zu: line %zu, '%s' (got %zu: %s)",
           i, t[i].line, t[i].words, line, err ? err : "none");
    }
    /* a NUL byte, inside the given length */
    static const char nul[] = "URI: a\nDescription: a\0b\n";
    size_t line = 0;
    const char *err = NULL;
    hs_arena_t a;
    hs_arena_init(&a);
    ok(hs__typemap_parse(&a, nul, sizeof(nul) - 1, HS_IOV_NULL, &map, &line, &err) == HS_ERROR && line == 2 &&
           strstr(err, "NUL"),
       "a NUL byte is an error on its line");
    hs_arena_reset(&a);
}

static void test_limits(void)
{
    hs_buf_t b = {0};
    for (int i = 0; i < HS_TYPEMAP_MAX_ENTRIES; i++)
        hs_buf_printf(&b, "URI: v%d.html\nContent-Type: text/html\n\n", i);
    hs_buf_append(&b, "", 1);
    is_int(parse(b.base, "x", NULL, NULL), HS_OK, "64 records: the most allowed");
    is_int(map.n, HS_TYPEMAP_MAX_ENTRIES, "… all kept");
    b.len--;
    hs_buf_printf(&b, "URI: one-more.html\n");
    hs_buf_append(&b, "", 1);
    size_t line;
    const char *err;
    is_int(parse(b.base, "x", &line, &err), HS_ERROR, "65 records: refused");
    ok(err && strstr(err, "more than 64"), "… saying so");
    hs_buf_free(&b);

    char *longline = malloc(2000);
    memcpy(longline, "URI: ", 5);
    memset(longline + 5, 'a', 1100);
    strcpy(longline + 1105, ".html\n");
    is_int(parse(longline, "x", &line, &err), HS_ERROR, "a line over 1024 bytes: refused");
    ok(line == 1 && strstr(err, "1024"), "… on its line");
    free(longline);

    size_t big = HS_TYPEMAP_MAX_SIZE + 1;
    char *huge = malloc(big);
    memset(huge, '#', big);
    hs_arena_t a;
    hs_arena_init(&a);
    ok(hs__typemap_parse(&a, huge, big, HS_IOV_NULL, &map, &line, &err) == HS_ERROR && line == 0 &&
           strstr(err, "64 KiB"),
       "a map over 64 KiB: refused before reading a line");
    hs_arena_reset(&a);
    free(huge);
}

static void test_language_tags(void)
{
    static const struct {
        const char *tag;
        bool ok;
    } t[] = {{"en", true},        {"fr-CA", true},   {"zh-Hant-TW", true}, {"es-419", true},  {"x-klingon", true},
             {"gsw", true},       {"", false},       {"en-", false},       {"-en", false},    {"en--us", false},
             {"en_US", false},    {"1en", false},    {"toolongtag", false}, {"en-toolongsub", false},
             {"de-1996", true}};
    for (size_t i = 0; i < HS_ARRAY_SIZE(t); i++)
        is_int(hs__static_language_tag(hs_iov_cstr(t[i].tag)), t[i].ok, "language tag '%s': %s", t[i].tag,
               t[i].ok ? "yes" : "no");
}

static void name(const char *base, const char *file, bool want, const char *type, const char *lang)
{
    hs__static_type_t t = {0};
    hs_iovec_t l = HS_IOV_NULL;
    bool r = hs__static_variant_name(base, strlen(base), file, strlen(file), &t, &l);
    if (!want) {
        ok(!r, "%s is no variant of %s", file, base);
        return;
    }
    ok(r && t.content_type && !strncmp(t.content_type, type, strlen(type)) && iov_is(l, lang),
       "%s is a variant of %s: %s, language '%s' (got %d %s '%.*s')", file, base, type, lang, r,
       r ? t.content_type : "", (int)l.len, l.base ? l.base : "");
}

static void test_variant_names(void)
{
    name("page", "page.en.html", true, "text/html", "en");
    name("page", "page.html.en", true, "text/html", "en");
    name("page", "page.fr-CA.html", true, "text/html", "fr-CA");
    name("page", "page.html", true, "text/html", "");
    name("page", "page.es.html", true, "text/html", "es"); /* es is also a type (JavaScript): the other one is */
    name("page", "page.html.es", true, "text/html", "es");
    name("photo", "photo.webp", true, "image/webp", "");
    name("photo", "photo.AVIF", true, "image/avif", "");
    name("index.html", "index.html.en", true, "text/html", "en");
    name("index.html", "index.html.de-AT", true, "text/html", "de-AT");
    name("page", "page.en.html.gz", false, 0, 0);  /* a precompressed sibling */
    name("page", "page.html.br", false, 0, 0);
    name("page", "page.var", false, 0, 0);         /* the type map */
    name("page", "page.html.bak", false, 0, 0);    /* bak is a type, html no language */
    name("page", "page.min.js", false, 0, 0);      /* three-letter "languages" are not read from names */
    name("page", "page.en", false, 0, 0);          /* no type */
    name("page", "page.en.fr.html", false, 0, 0);  /* too many segments */
    name("page", "page.", false, 0, 0);
    name("page", "pages.html", false, 0, 0);
    name("page", "page", false, 0, 0);
    name("page", "page.en.unknownext", false, 0, 0);
    name("page", "page..html", false, 0, 0);
}

int main(void)
{
    hs__static_mime_init();
    test_good();
    test_errors();
    test_limits();
    test_language_tags();
    test_variant_names();
    hs__static_mime_free();
    return tap_done();
}
