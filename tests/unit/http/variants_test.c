/* Unit tests: choosing among variants (src/http/negotiate.c, RFC 9110 §12.5, RFC 4647 §3.3.1):
 * each dimension, q=0 exclusion, the language fallback, qs, the documented tie order, and
 * fields far larger than any real client sends. */
#define _GNU_SOURCE
#include "hs/fields.h"
#include "hs/negotiate.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *type, *lang, *coding;
    int qs;
} V;

static hs_iovec_t S(const char *s)
{
    return s ? hs_iov(s, strlen(s)) : HS_IOV_NULL;
}

/* The index chosen among vs for these fields (NULL: absent); *tied the tie count. */
static int pick(const V *vs, size_t n, const char *accept, const char *al, const char *ae, size_t *tied,
                hs_variant_score_t *scores)
{
    hs_variant_t v[HS_NEG_MAX_VARIANTS + 8];
    if (n > HS_ARRAY_SIZE(v))
        n = HS_ARRAY_SIZE(v);
    for (size_t i = 0; i < n; i++)
        v[i] = (hs_variant_t){S(vs[i].type), vs[i].lang ? S(vs[i].lang) : HS_IOV(""), S(vs[i].coding),
                              vs[i].qs ? vs[i].qs : 1000};
    hs_neg_prefs_t p = {S(accept), S(al), S(ae)};
    size_t t;
    hs_variant_score_t local[HS_NEG_MAX_VARIANTS + 8];
    int r = hs_negotiate_variants(&p, v, n, scores ? scores : local, &t);
    if (tied)
        *tied = t;
    return r;
}

static void test_types(void)
{
    static const V img[] = {{"image/jpeg", 0, 0, 0}, {"image/webp", 0, 0, 0}, {"image/avif", 0, 0, 0}};
    size_t tied;
    is_int(pick(img, 3, NULL, NULL, NULL, &tied, NULL), 0, "no Accept: the first variant");
    is_int(tied, 3, "no Accept: all three tie");
    is_int(pick(img, 3, "image/webp", NULL, NULL, &tied, NULL), 1, "Accept: image/webp -> webp");
    is_int(tied, 1, "a single acceptable variant");
    /* Chromium's Accept for images: avif and webp named, jpeg reached by image/ * */
    const char *chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
    is_int(pick(img, 3, chrome, NULL, NULL, &tied, NULL), 2, "Chromium: avif (named first) over webp and jpeg");
    is_int(tied, 2, "avif and webp tie on preferences (both named at q=1); jpeg only by image/*");
    /* Firefox: image/avif,image/webp,* / * */
    is_int(pick(img, 3, "image/avif,image/webp,*/*", NULL, NULL, NULL, NULL), 2, "Firefox: avif");
    is_int(pick(img, 3, "image/webp,*/*", NULL, NULL, NULL, NULL), 1, "webp named beats jpeg by */*");
    is_int(pick(img, 3, "image/jpeg;q=0.5,image/webp;q=0.4", NULL, NULL, NULL, NULL), 0, "higher q wins");
    is_int(pick(img, 3, "text/html", NULL, NULL, &tied, NULL), -1, "nothing acceptable -> -1");
    is_int(tied, 0, "no tie count without a choice");
    is_int(pick(img, 3, "image/*;q=0", NULL, NULL, NULL, NULL), -1, "image/*;q=0 excludes all");
    is_int(pick(img, 3, "image/*, image/avif;q=0, image/webp;q=0", NULL, NULL, NULL, NULL), 0,
           "specific q=0 beats the wildcard");
    is_int(pick(img, 3, "IMAGE/WEBP", NULL, NULL, NULL, NULL), 1, "case-insensitive types");
    is_int(pick(img, 3, "image/webp;q=abc, image/jpeg;q=0.1", NULL, NULL, NULL, NULL), 0,
           "a malformed q weighs 0");
    is_int(pick(img, 3, "", NULL, NULL, NULL, NULL), 0, "an empty Accept is treated as absent");
    static const V html[] = {{"text/html; charset=utf-8", 0, 0, 0}, {"text/plain; charset=utf-8", 0, 0, 0}};
    is_int(pick(html, 2, "text/plain", NULL, NULL, NULL, NULL), 1, "parameters of the variant's type ignored");
    is_int(pick(html, 2, "text/*;q=0.5, text/plain;q=0.4", NULL, NULL, NULL, NULL), 0,
           "most specific range decides each type");
}

static void test_languages(void)
{
    static const V pages[] = {{"text/html", "en", 0, 0}, {"text/html", "fr", 0, 0}, {"text/html", "fr-CA", 0, 0}};
    size_t tied;
    hs_variant_score_t sc[8];
    is_int(pick(pages, 3, NULL, "fr", NULL, &tied, NULL), 1, "fr -> fr (exact before the prefix match fr-CA)");
    is_int(tied, 1, "fr and fr-CA both match 'fr', but only fr exactly: no tie");
    static const V rev[] = {{"text/html", "fr-CA", 0, 0}, {"text/html", "fr", 0, 0}};
    is_int(pick(rev, 2, NULL, "fr", NULL, NULL, NULL), 1, "exact match wins whatever the order");
    is_int(pick(rev, 2, NULL, "fr-CA;q=0.9, fr;q=0.8", NULL, NULL, NULL), 0, "q still decides first");
    is_int(pick(pages, 3, NULL, "fr-CA, fr;q=0.9", NULL, NULL, NULL), 2, "fr-CA wins on q");
    is_int(pick(pages, 3, NULL, "fr-ca", NULL, NULL, NULL), 2, "case-insensitive tags");
    is_int(pick(pages, 3, NULL, "fr-CA-x-foo", NULL, NULL, sc), 0,
           "a range longer than the tag does not match it (RFC 4647 basic filtering): all fall back");
    ok(sc[0].lang_fallback && sc[1].lang_fallback && sc[0].lang_q == HS_NEG_LANG_FALLBACK, "fallback weight 0.001");
    is_int(pick(pages, 3, NULL, "de", NULL, &tied, sc), 0, "no language matches: fallback, first variant");
    is_int(tied, 3, "all fall back: a tie");
    is_int(pick(pages, 3, NULL, "en;q=0, fr;q=0", NULL, NULL, NULL), -1, "q=0 on every language -> none");
    is_int(pick(pages, 3, NULL, "en;q=0, *", NULL, NULL, NULL), 1, "'*' matches the others, en excluded");
    is_int(pick(pages, 3, NULL, "*;q=0.5, en;q=0.4", NULL, NULL, NULL), 1, "* at 0.5 beats en at 0.4");
    is_int(pick(pages, 3, NULL, "fr;q=0, de", NULL, NULL, NULL), 0, "fr excluded (q=0 also for fr-CA), en by fallback");
    is_int(pick(pages, 3, NULL, "fr-CA;q=0, fr", NULL, NULL, NULL), 1, "the longest range decides: fr-CA excluded");
    static const V neutral[] = {{"text/html", NULL, 0, 0}, {"text/html", "fr", 0, 0}};
    is_int(pick(neutral, 2, NULL, "fr", NULL, NULL, NULL), 1, "named language before a neutral variant");
    is_int(pick(neutral, 2, NULL, "de", NULL, NULL, NULL), 0, "neutral (1) beats a fallback (0.001)");
    is_int(pick(neutral, 2, NULL, "fr;q=0.5", NULL, NULL, NULL), 0, "neutral beats a language at 0.5");
    is_int(pick(neutral, 2, NULL, "*", NULL, &tied, NULL), 1, "'*' is not a named language: a tie, then the matched range");
    is_int(tied, 2, "neutral and '*' tie");
    static const V multi[] = {{"text/html", "de", 0, 0}, {"text/html", "fr, en", 0, 0}};
    is_int(pick(multi, 2, NULL, "en;q=0.8, de;q=0.7", NULL, NULL, NULL), 1, "a variant's best tag counts");
    is_int(pick(pages, 3, NULL, "", NULL, NULL, NULL), 0, "empty Accept-Language treated as absent");
    is_int(pick(pages, 3, NULL, "en-US, fr;q=0.5", NULL, NULL, sc), 1, "en-US does not match en (basic filtering)");
    static const V order[] = {{"text/html", "fr", 0, 0}, {"text/html", "en", 0, 0}};
    is_int(pick(order, 2, NULL, "en, fr", NULL, &tied, NULL), 1, "equal q: the earlier range in Accept-Language");
    is_int(tied, 2, "still a tie on preferences");
}

static void test_codings_and_qs(void)
{
    static const V coded[] = {{"text/html", 0, "gzip", 0}, {"text/html", 0, 0, 900}};
    size_t tied;
    is_int(pick(coded, 2, NULL, NULL, NULL, NULL, NULL), 0, "no Accept-Encoding: any coding acceptable (qs wins)");
    is_int(pick(coded, 2, NULL, NULL, "gzip", NULL, NULL), 0, "gzip accepted");
    is_int(pick(coded, 2, NULL, NULL, "x-gzip", NULL, NULL), 0, "x-gzip is gzip");
    is_int(pick(coded, 2, NULL, NULL, "br", NULL, NULL), 1, "gzip not listed: not acceptable");
    is_int(pick(coded, 2, NULL, NULL, "*;q=0.5", NULL, NULL), 1, "* at 0.5 * 1000 < identity 900");
    is_int(pick(coded, 2, NULL, NULL, "", NULL, NULL), 1, "empty Accept-Encoding: no coding");
    is_int(pick(coded, 2, NULL, NULL, "gzip;q=0", NULL, NULL), 1, "gzip;q=0 excludes it");
    static const V same[] = {{"text/html", 0, "gzip", 0}, {"text/html", 0, 0, 0}};
    is_int(pick(same, 2, NULL, NULL, "gzip", &tied, NULL), 1, "equal weight: the uncoded variant first");
    is_int(tied, 2, "coding is not a preference tie-break");
    static const V qs[] = {{"text/html", 0, 0, 500}, {"application/json", 0, 0, 1000}};
    is_int(pick(qs, 2, NULL, NULL, NULL, NULL, NULL), 1, "qs: 1.0 over 0.5");
    is_int(pick(qs, 2, "text/html, application/json;q=0.4", NULL, NULL, NULL, NULL), 0, "0.5*1 > 1*0.4");
    is_int(pick(qs, 2, "text/html, application/json;q=0.5", NULL, NULL, &tied, NULL), 0,
           "0.5*1 == 1*0.5: earlier Accept range");
    is_int(tied, 2, "equal products tie");
    static const V zero[] = {{"text/html", 0, 0, -1}};
    is_int(pick(zero, 1, NULL, NULL, NULL, NULL, NULL), -1, "qs 0 (clamped) excludes");
}

static void test_huge_fields(void)
{
    /* 8 KiB of elements, 64 variants with 8 tags each: bounded work, no allocation, right answer */
    size_t cap = 64 * 1024;
    char *accept = malloc(cap), *al = malloc(cap);
    size_t a = 0, l = 0;
    while (a < 8000)
        a += (size_t)snprintf(accept + a, cap - a, "x/y%zu;q=0.1, ", a);
    snprintf(accept + a, cap - a, "text/plain;q=0.2");
    while (l < 8000)
        l += (size_t)snprintf(al + l, cap - l, "zz-%zu;q=0.3, ", l);
    snprintf(al + l, cap - l, "de-AT");
    V vs[HS_NEG_MAX_VARIANTS + 5]; /* more than the limit: the rest are ignored */
    static char langs[HS_NEG_MAX_VARIANTS + 5][64];
    for (size_t i = 0; i < HS_ARRAY_SIZE(vs); i++) {
        snprintf(langs[i], sizeof(langs[i]), "aa, bb, cc, dd, ee, ff, gg, %s", i == 40 ? "de-AT" : "hh");
        vs[i] = (V){"text/plain", langs[i], 0, 0};
    }
    size_t tied;
    is_int(pick(vs, HS_ARRAY_SIZE(vs), accept, al, NULL, &tied, NULL), 40, "huge fields: the one de-AT variant");
    is_int(tied, 1, "huge fields: no tie");
    snprintf(langs[40], sizeof(langs[40]), "hh");
    snprintf(langs[HS_NEG_MAX_VARIANTS + 2], sizeof(langs[0]), "de-AT");
    is_int(pick(vs, HS_ARRAY_SIZE(vs), accept, al, NULL, &tied, NULL), 0,
           "variants past HS_NEG_MAX_VARIANTS are not considered (all fall back: the first)");
    free(accept);
    free(al);
}

static void test_language_match(void)
{
    is_int(hs_language_match(S("*"), S("en")), 1, "* matches");
    is_int(hs_language_match(S("en"), S("en")), 3, "exact");
    is_int(hs_language_match(S("en"), S("en-GB")), 3, "prefix at a '-'");
    is_int(hs_language_match(S("en-GB"), S("en")), 0, "longer range does not match");
    is_int(hs_language_match(S("e"), S("en")), 0, "not at a subtag boundary");
    is_int(hs_language_match(S("EN-gb"), S("en-GB")), 6, "case-insensitive");
    is_int(hs_language_match(S(""), S("en")), 0, "empty range");
}

/* hs_weighted_next against the two-step walk it replaces, on awkward inputs. */
static void test_weighted_next(void)
{
    static const char *const t[] = {
        "",
        "text/html",
        "  text/html ;  q=0.5 , , application/json;level=1;q=0.9,*/*;q=0",
        "a;q=1.0000",
        "a;q=0.5;q=0.7",
        "a;q=bad;q=0.5",
        "a;Q=0.3",
        "a;q",
        "a;q=",
        "a; q=0.5",
        "a;q =0.5",
        "a;;q=0.2;",
        "\"x,y\";q=0.1, b",
        "a;p=\"q=0,\\\";\";q=0.4,c",
        "a;p=\"unterminated, b;q=0",
        ",,, ,",
        "\t a \t;\tq=0.8\t,b",
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(t); i++) {
        hs_iovec_t v = S(t[i]);
        size_t p1 = 0, p2 = 0, members = 0;
        bool same = true;
        for (;;) {
            hs_iovec_t v1, el = HS_IOV_NULL;
            int q1;
            bool more = hs_weighted_next(v, &p1, &v1, &q1);
            el = hs_list_next(v, &p2);
            if (more != (el.base != NULL)) {
                same = false;
                break;
            }
            if (!more)
                break;
            hs_iovec_t v2;
            int q2 = hs_element_weight(el, &v2);
            same = same && q1 == q2 && v1.len == v2.len && !memcmp(v1.base, v2.base, v1.len);
            members++;
        }
        ok(same, "hs_weighted_next walks '%s' as hs_list_next + hs_element_weight (%zu members)", t[i], members);
    }
}

int main(void)
{
    test_weighted_next();
    test_types();
    test_languages();
    test_codings_and_qs();
    test_huge_fields();
    test_language_match();
    return tap_done();
}
