/* statusd fuzz target: WebDAV header fields (src/modules/webdav/hdr.c).
 *
 * Input: pieces separated by "\xff\xfe": [If] [Destination] [Timeout] [Depth] [Overwrite]
 * [Lock-Token]; the request came to http://example.com:8080.
 *
 * Checks (beyond no crash/over-read/leak; every value is an exact-size heap copy):
 *   If           0 or 400 with a detail; a parsed header has lists, every list conditions, every
 *                state token and entity tag lies inside the value; evaluation against a resource
 *                whose lock tokens are the header's own gives 0 or 1 and calls the lookup only
 *                for this server's resources; every positive state token is submitted; the
 *                structure written back as text parses to the same structure;
 *   Destination  0, 400 or 404 with a detail; a path on this server starts with '/' and is its
 *                own normal form;
 *   Timeout      never above the cap; Depth 0, 1 or infinity; Overwrite a boolean;
 *   Lock-Token   a token inside the value, without its angle brackets.
 */
#include "../src/modules/webdav/hdr.h"
#include "hs/codec.h"
#include "hs/path.h"
#include "fuzz_util.h"

static const hs__dav_origin_t origin = {{"http", 4}, {"example.com:8080", 16}};

static bool inside(hs_iovec_t part, const char *v, size_t n)
{
    return part.base >= v && part.base + part.len <= v + n;
}

typedef struct world_s {
    const hs__dav_if_t *h;
    hs_iovec_t *tokens;
    size_t ntokens;
    int lookups;
} world_t;

static int lookup(void *ctx, const hs__dav_if_list_t *l, hs__dav_if_state_t *st)
{
    world_t *w = ctx;
    FUZZ_CHECK(!l->foreign, "a lookup for another server's resource");
    w->lookups++;
    /* resources whose path has an even length exist; their tag is the first entity tag written */
    bool exists = !l->path.base || l->path.len % 2 == 0;
    hs_iovec_t etag = HS_IOV_NULL;
    for (size_t i = 0; i < w->h->n && !etag.base; i++)
        for (size_t k = 0; k < w->h->lists[i].n && !etag.base; k++)
            if (w->h->lists[i].conds[k].is_etag)
                etag = w->h->lists[i].conds[k].etag.opaque;
    *st = (hs__dav_if_state_t){
        .exists = exists, .etag = exists ? etag : HS_IOV_NULL, .tokens = w->tokens, .ntokens = exists ? w->ntokens : 0};
    return HS_OK;
}

/* The parsed header as text again: tags from their (decoded) paths, re-encoded. */
static void write_if(hs_buf_t *b, const hs__dav_if_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        const hs__dav_if_list_t *l = &h->lists[i];
        if (h->tagged &&
            (i == 0 || l->path.base != h->lists[i - 1].path.base || l->foreign != h->lists[i - 1].foreign)) {
            if (l->foreign) {
                HS_BUF_LIT(b, "<http://elsewhere.example/> ");
            } else {
                HS_BUF_LIT(b, "<");
                hs_buf_reserve(b, 3 * l->path.len, SIZE_MAX / 2);
                b->len += hs_pct_encode(b->base + b->len, l->path.base, l->path.len, HS_PCT_KEEP_SLASH);
                HS_BUF_LIT(b, "> ");
            }
        }
        HS_BUF_LIT(b, "(");
        for (size_t k = 0; k < l->n; k++) {
            const hs__dav_if_cond_t *c = &l->conds[k];
            if (c->not )
                HS_BUF_LIT(b, "Not ");
            if (c->is_etag) {
                HS_BUF_LIT(b, "[");
                if (c->etag.weak)
                    HS_BUF_LIT(b, "W/");
                hs_buf_append(b, c->etag.opaque.base, c->etag.opaque.len);
                HS_BUF_LIT(b, "] ");
            } else {
                HS_BUF_LIT(b, "<");
                hs_buf_append(b, c->token.base, c->token.len);
                HS_BUF_LIT(b, "> ");
            }
        }
        HS_BUF_LIT(b, ") ");
    }
}

static bool same_if(const hs__dav_if_t *a, const hs__dav_if_t *b)
{
    if (a->n != b->n || a->tagged != b->tagged)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const hs__dav_if_list_t *x = &a->lists[i], *y = &b->lists[i];
        if (x->n != y->n || x->foreign != y->foreign || !x->path.base != !y->path.base)
            return false;
        if (!x->foreign && x->path.base &&
            (x->path.len != y->path.len || memcmp(x->path.base, y->path.base, x->path.len)))
            return false;
        for (size_t k = 0; k < x->n; k++) {
            const hs__dav_if_cond_t *c = &x->conds[k], *d = &y->conds[k];
            if (c->not != d->not || c->is_etag != d->is_etag)
                return false;
            hs_iovec_t s = c->is_etag ? c->etag.opaque : c->token, t = d->is_etag ? d->etag.opaque : d->token;
            if (s.len != t.len || memcmp(s.base, t.base, s.len) || (c->is_etag && c->etag.weak != d->etag.weak))
                return false;
        }
    }
    return true;
}

static void fuzz_if(hs_arena_t *a, const char *v, size_t n)
{
    hs__dav_if_t h;
    const char *detail = NULL;
    int st = hs__dav_if_parse(a, hs_iov(v, n), &origin, &h, &detail);
    FUZZ_CHECK(st == 0 || st == 400, "If status %d", st);
    if (st) {
        FUZZ_CHECK(detail && detail[0], "400 without a detail");
        return;
    }
    FUZZ_CHECK(h.n > 0, "a parsed If without lists");
    hs_buf_t toks = {0};
    for (size_t i = 0; i < h.n; i++) {
        FUZZ_CHECK(h.lists[i].n > 0, "an empty list");
        FUZZ_CHECK(h.tagged || (!h.lists[i].path.base && !h.lists[i].foreign), "an untagged list with a resource");
        for (size_t k = 0; k < h.lists[i].n; k++) {
            const hs__dav_if_cond_t *c = &h.lists[i].conds[k];
            FUZZ_CHECK(inside(c->is_etag ? c->etag.opaque : c->token, v, n), "a condition outside the value");
            if (!c->is_etag) {
                FUZZ_CHECK(c->token.len > 0 && !memchr(c->token.base, '>', c->token.len), "a token with '>'");
                if (!c->not ) {
                    FUZZ_CHECK(hs__dav_if_submits(&h, c->token), "a positive token not submitted");
                    hs_buf_append(&toks, &c->token, sizeof(c->token));
                }
            }
        }
    }
    world_t w = {.h = &h, .tokens = (hs_iovec_t *)(void *)toks.base, .ntokens = toks.len / sizeof(hs_iovec_t)};
    int r = hs__dav_if_eval(&h, lookup, &w);
    FUZZ_CHECK(r == 0 || r == 1, "If evaluates to %d", r);
    w.ntokens = 0;
    r = hs__dav_if_eval(&h, lookup, &w);
    FUZZ_CHECK(r == 0 || r == 1, "If evaluates to %d", r);
    hs_buf_free(&toks);

    hs_buf_t again = {0};
    write_if(&again, &h);
    char *t = fuzz_dup((const uint8_t *)again.base, again.len);
    hs__dav_if_t h2;
    st = hs__dav_if_parse(a, hs_iov(t, again.len), &origin, &h2, &detail);
    FUZZ_CHECK(st == 0, "written back, the If does not parse (%s): %.*s", detail, (int)again.len, again.base);
    FUZZ_CHECK(same_if(&h, &h2), "written back, another If: %.*s", (int)again.len, again.base);
    free(t);
    hs_buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_arena_t a;
    hs_arena_init(&a);
    size_t pos = 0, plen;
    const uint8_t *piece;
    for (int field = 0; field < 6 && fuzz_next_piece(data, size, &pos, 0xff, 0xfe, &piece, &plen); field++) {
        char *v = fuzz_dup(piece, plen);
        hs_iovec_t val = hs_iov(v, plen);
        const char *detail = NULL;
        switch (field) {
        case 0: fuzz_if(&a, v, plen); break;
        case 1: {
            hs__dav_dest_t d;
            int st = hs__dav_destination(&a, val, &origin, &d, &detail);
            FUZZ_CHECK(st == 0 || st == 400 || st == 404, "Destination status %d", st);
            FUZZ_CHECK(st == 0 || (detail && detail[0]), "no detail");
            if (st == 0 && !d.other_server) {
                FUZZ_CHECK(d.path.len > 0 && d.path.base[0] == '/', "a path not starting with '/'");
                hs_buf_t enc = {0};
                hs_buf_reserve(&enc, 3 * d.path.len + 1, SIZE_MAX / 2);
                enc.len = hs_pct_encode(enc.base, d.path.base, d.path.len, HS_PCT_KEEP_SLASH);
                hs_iovec_t again;
                int s2 = hs_path_normalize_arena(&a, hs_iov(enc.base, enc.len), &again, HS_PATH_DECODE, &detail);
                FUZZ_CHECK(s2 == 0 && again.len == d.path.len && memcmp(again.base, d.path.base, d.path.len) == 0,
                           "the path is not its own normal form: %s", d.path.base);
                hs_buf_free(&enc);
            }
            break;
        }
        case 2: FUZZ_CHECK(hs__dav_timeout(val, 600, 3600) <= 3600, "Timeout above its cap"); break;
        case 3: {
            int d = -5;
            int st = hs__dav_depth(val, 1, &d, &detail);
            FUZZ_CHECK(st == 400 || (st == 0 && (d == 0 || d == 1 || d == HS__DAV_DEPTH_INFINITY)), "Depth %d %d", st,
                       d);
            break;
        }
        case 4: {
            bool ow;
            int st = hs__dav_overwrite(val, &ow, &detail);
            FUZZ_CHECK(st == 0 || st == 400, "Overwrite %d", st);
            break;
        }
        case 5: {
            hs_iovec_t t;
            int st = hs__dav_lock_token(val, &t, &detail);
            FUZZ_CHECK(st == 0 || st == 400, "Lock-Token %d", st);
            if (st == 0)
                FUZZ_CHECK(inside(t, v, plen) && t.len > 0 && !memchr(t.base, '<', t.len) &&
                               !memchr(t.base, '>', t.len),
                           "a token with its brackets");
            break;
        }
        }
        free(v);
    }
    hs_arena_reset(&a);
    return 0;
}
