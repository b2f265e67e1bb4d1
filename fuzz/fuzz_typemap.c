/* statusd fuzz target: type maps (src/modules/static/typemap.c, Apache's NAME.var format) and the
 * choice among their variants (hs_negotiate_variants, src/http/negotiate.c: RFC 9110 §12.5).
 *
 * Input: pieces separated by "\xff\xfe": [type map] [Accept] [Accept-Language] [Accept-Encoding]
 * (a missing piece is an absent field).
 *
 * Checks (beyond no crash/over-read/leak):
 *   parse   HS_OK with 0..HS_TYPEMAP_MAX_ENTRIES entries, each with a non-empty URI that is a slice
 *           of the input, qs within 0..1000, a known coding, a line within the text; or HS_ERROR
 *           with a message, no entries and a line no later than the text's; a map over the size
 *           limit is always refused;
 *   members hs_weighted_next walks each field exactly as hs_list_next + hs_element_weight;
 *   choice  the best index is -1 or valid; the best weighs more than 0 and no other variant comes
 *           before it in the documented order; the tie count is between 1 and n, and 0 without a
 *           choice; a weight of 0 means excluded (never chosen).
 */
#define _GNU_SOURCE
#include "../src/modules/static/static.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *piece[4] = {NULL, NULL, NULL, NULL};
    size_t plen[4] = {0, 0, 0, 0}, pos = 0, k = 0;
    const uint8_t *p;
    size_t n;
    while (k < 4 && fuzz_next_piece(data, size, &pos, 0xff, 0xfe, &p, &n)) {
        piece[k] = p;
        plen[k++] = n;
    }
    char *text = fuzz_dup(piece[0] ? piece[0] : data, plen[0]);
    size_t lines = 1;
    for (size_t i = 0; i < plen[0]; i++)
        lines += text[i] == '\n';

    hs_arena_t a;
    hs_arena_init(&a);
    static hs__typemap_t m;
    size_t err_line = 0;
    const char *err = NULL;
    int r = hs__typemap_parse(&a, text, plen[0], HS_IOV("self"), &m, &err_line, &err);
    if (r == HS_OK) {
        FUZZ_CHECK(m.n <= HS_TYPEMAP_MAX_ENTRIES, "%zu entries", m.n);
        for (size_t i = 0; i < m.n; i++) {
            const hs__typemap_entry_t *e = &m.e[i];
            FUZZ_CHECK(e->uri.len > 0 && e->uri.base >= text && e->uri.base + e->uri.len <= text + plen[0],
                       "entry %zu: URI not a slice of the input", i);
            FUZZ_CHECK(e->qs >= 0 && e->qs <= 1000, "entry %zu: qs %d", i, e->qs);
            FUZZ_CHECK(e->coding >= 0 && e->coding < HS_CODING__COUNT, "entry %zu: coding %d", i, e->coding);
            FUZZ_CHECK(e->line >= 1 && e->line <= lines, "entry %zu: line %zu of %zu", i, e->line, lines);
            FUZZ_CHECK(!memchr(e->uri.base, '\n', e->uri.len), "entry %zu: URI spans lines", i);
        }
    } else {
        FUZZ_CHECK(r == HS_ERROR && err && err[0], "parse returned %d without a message", r);
        FUZZ_CHECK(m.n == 0, "%zu entries kept after an error", m.n);
        FUZZ_CHECK(err_line <= lines, "error line %zu of %zu", err_line, lines);
    }
    if (plen[0] > HS_TYPEMAP_MAX_SIZE)
        FUZZ_CHECK(r == HS_ERROR && err_line == 0, "a map over the size limit was read");

    /* the choice among the entries (or a few fixed variants when the map has none) */
    static const hs_variant_t fixed[] = {
        {HS_IOV("text/html"), HS_IOV("en"), HS_IOV(""), 1000},
        {HS_IOV("text/html; charset=utf-8"), HS_IOV("fr, fr-CA"), HS_IOV("gzip"), 500},
        {HS_IOV("image/webp"), HS_IOV(""), HS_IOV(""), 1000},
    };
    hs_variant_t v[HS_NEG_MAX_VARIANTS];
    size_t nv = 0;
    for (size_t i = 0; i < m.n; i++) {
        const hs__typemap_entry_t *e = &m.e[i];
        v[nv++] = (hs_variant_t){e->type.len ? e->type : HS_IOV("application/octet-stream"), e->language,
                                 e->coding ? hs_iov_cstr(hs__static_coding_name[e->coding]) : HS_IOV(""), e->qs};
    }
    if (!nv) {
        memcpy(v, fixed, sizeof(fixed));
        nv = HS_ARRAY_SIZE(fixed);
    }
    char *f[3];
    hs_neg_prefs_t prefs;
    hs_iovec_t *fields[3] = {&prefs.accept, &prefs.accept_language, &prefs.accept_encoding};
    for (int i = 0; i < 3; i++) {
        f[i] = piece[i + 1] ? fuzz_dup(piece[i + 1], plen[i + 1]) : NULL;
        *fields[i] = f[i] ? hs_iov(f[i], plen[i + 1]) : HS_IOV_NULL;
    }
    /* hs_weighted_next is hs_list_next + hs_element_weight in one pass: the same members */
    for (int i = 0; i < 3; i++) {
        if (!f[i])
            continue;
        size_t p1 = 0, p2 = 0;
        hs_iovec_t el, v1;
        int q1;
        for (;;) {
            bool more = hs_weighted_next(*fields[i], &p1, &v1, &q1);
            el = hs_list_next(*fields[i], &p2);
            FUZZ_CHECK(more == (el.base != NULL), "field %d: the walks end apart", i);
            if (!more)
                break;
            hs_iovec_t v2;
            int q2 = hs_element_weight(el, &v2);
            FUZZ_CHECK(q1 == q2 && v1.len == v2.len && (!v1.len || v1.base == v2.base),
                       "field %d: member differs: '%.*s' %d vs '%.*s' %d", i, (int)v1.len, v1.base, q1, (int)v2.len,
                       v2.base, q2);
        }
    }
    hs_variant_score_t sc[HS_NEG_MAX_VARIANTS];
    size_t tied = 99;
    int best = hs_negotiate_variants(&prefs, v, nv, sc, &tied);
    FUZZ_CHECK(best >= -1 && best < (int)nv, "best %d of %zu", best, nv);
    if (best < 0) {
        FUZZ_CHECK(tied == 0, "tie count %zu without a choice", tied);
        for (size_t i = 0; i < nv; i++)
            FUZZ_CHECK(sc[i].q == 0, "variant %zu weighs %llu but nothing was chosen", i, (unsigned long long)sc[i].q);
    } else {
        FUZZ_CHECK(sc[best].q > 0, "the best weighs 0");
        FUZZ_CHECK(tied >= 1 && tied <= nv, "tie count %zu of %zu", tied, nv);
        for (size_t i = 0; i < nv; i++) {
            if (!sc[i].q)
                continue;
            FUZZ_CHECK(hs_variant_cmp(&sc[best], &sc[i]) <= 0, "variant %zu comes before the best %d", i, best);
            FUZZ_CHECK(sc[i].q <= sc[best].q, "variant %zu weighs more than the best", i);
        }
    }
    for (int i = 0; i < 3; i++)
        free(f[i]);
    hs_arena_reset(&a);
    free(text);
    return 0;
}
