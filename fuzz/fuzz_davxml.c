/* statusd fuzz target: WebDAV XML bodies (src/modules/webdav/xml.c, xmlreq.c, xmlout.c).
 *
 * Input: a request body, fed to the reader in pieces split at "\xff\xfe" (the marker itself is
 * not part of the body), with small limits (8 KiB, depth 16, 400 nodes) so that limits are hit.
 *
 * Checks (beyond no crash/over-read/leak; every piece is an exact-size heap copy):
 *   reader        0, 400 or 413, with a detail; accepted with the same tree, or refused, when the
 *                 body is fed in one piece; a tree is never deeper than the limit;
 *   interpreters  PROPFIND, PROPPATCH, LOCK, BIND/REBIND/UNBIND give 0, 400 or 422 with a detail;
 *   writer        every PROPPATCH value, written into a multistatus with its property's name and
 *                 language, reads back as well-formed XML where the property element has the same
 *                 name and language, and the value written again from the tree read back is the
 *                 same bytes (fragments are stable); hrefs and descriptions from the body's text
 *                 keep the document well-formed.
 */
#include "../src/modules/webdav/xml.h"
#include "fuzz_util.h"

static const hs__dav_xml_limits_t lim = {.max_bytes = 8192, .max_depth = 16, .max_nodes = 400};

static int feed_pieces(hs_arena_t *a, const uint8_t *data, size_t size, const hs__dav_xnode_t **root)
{
    hs__dav_xml_t *x = hs__dav_xml_new(a, &lim);
    const char *detail = NULL;
    size_t pos = 0, plen;
    const uint8_t *piece;
    int st = 0;
    while (!st && fuzz_next_piece(data, size, &pos, 0xff, 0xfe, &piece, &plen)) {
        char *p = fuzz_dup(piece, plen);
        st = hs__dav_xml_feed(x, p, plen, &detail);
        free(p);
    }
    if (st) {
        hs__dav_xml_free(x);
        FUZZ_CHECK(detail && detail[0], "status %d without a detail", st);
        return st;
    }
    st = hs__dav_xml_finish(x, root, &detail);
    FUZZ_CHECK(st == 0 || (detail && detail[0]), "status %d without a detail", st);
    return st;
}

static unsigned depth_of(const hs__dav_xnode_t *n)
{
    unsigned d = 0;
    for (const hs__dav_xnode_t *c = n->first; c; c = c->next)
        if (!c->is_text) {
            unsigned k = depth_of(c);
            d = k > d ? k : d;
        }
    return d + 1;
}

static bool same_tree(const hs__dav_xnode_t *a, const hs__dav_xnode_t *b)
{
    if (!a || !b)
        return a == b;
    if (a->is_text != b->is_text)
        return false;
    if (a->is_text)
        return a->text.len == b->text.len && memcmp(a->text.base, b->text.base, a->text.len) == 0;
    if (!hs__dav_qname_eq(&a->q, &b->q) || a->nattrs != b->nattrs)
        return false;
    const hs__dav_xnode_t *x = a->first, *y = b->first;
    for (; x && y; x = x->next, y = y->next)
        if (!same_tree(x, y))
            return false;
    return !x && !y;
}

static void check_status(int st, const char *detail, const char *what)
{
    FUZZ_CHECK(st == 0 || st == 400 || st == 422, "%s: status %d", what, st);
    FUZZ_CHECK(st == 0 || (detail && detail[0]), "%s: status %d without a detail", what, st);
}

/* Write the PROPPATCH values into a multistatus and read it back. */
static void check_writer(hs_arena_t *a, const hs__dav_proppatch_t *pp, const hs__dav_xnode_t *root)
{
    hs_buf_t b = {0};
    hs__dav_ms_t m;
    hs__dav_ms_begin(&m, &b);
    hs_iovec_t text = hs__dav_xml_text(a, root);
    hs__dav_ms_status(&m, text, 404, "lock-token-submitted", text.base);
    hs__dav_ms_response_begin(&m, HS_IOV("/"));
    hs__dav_ms_propstat_begin(&m);
    size_t nset = 0;
    for (size_t i = 0; i < pp->n; i++)
        if (!pp->ops[i].remove) {
            hs__dav_ms_prop(&m, &pp->ops[i].name, pp->ops[i].lang, pp->ops[i].value);
            nset++;
        }
    hs__dav_ms_propstat_end(&m, 200, NULL, NULL);
    hs__dav_ms_response_end(&m, NULL);
    hs__dav_ms_end(&m);
    const hs__dav_xnode_t *doc;
    const char *detail = NULL;
    int st = hs__dav_xml_parse(a, b.base, b.len, &(hs__dav_xml_limits_t){.max_bytes = 1 << 24, .max_nodes = 1 << 20},
                               &doc, &detail);
    FUZZ_CHECK(st == 0, "the multistatus written does not read back: %d %s\n%.*s", st, detail, (int)b.len, b.base);
    /* the second response's propstat/prop holds the properties in order */
    const hs__dav_xnode_t *resp = NULL;
    int k = 0;
    for (const hs__dav_xnode_t *c = doc->first; c; c = c->next)
        if (!c->is_text && ++k == 2)
            resp = c;
    FUZZ_CHECK(resp, "no second response");
    const hs__dav_xnode_t *prop = hs__dav_xml_child(hs__dav_xml_child(resp, "DAV:", "propstat"), "DAV:", "prop");
    FUZZ_CHECK(prop, "no prop");
    const hs__dav_xnode_t *p = prop->first;
    for (size_t i = 0; i < pp->n; i++) {
        const hs__dav_propop_t *op = &pp->ops[i];
        if (op->remove)
            continue;
        while (p && p->is_text)
            p = p->next;
        FUZZ_CHECK(p && hs__dav_qname_eq(&p->q, &op->name), "property %zu lost its name", i);
        FUZZ_CHECK((!op->lang.base && !p->lang.base) || (op->lang.base && p->lang.base && op->lang.len == p->lang.len &&
                                                         memcmp(op->lang.base, p->lang.base, op->lang.len) == 0),
                   "property %zu lost its language", i);
        hs_buf_t again = {0};
        hs__dav_xml_fragment(&again, p);
        FUZZ_CHECK(again.len == op->value.len && (!again.len || memcmp(again.base, op->value.base, again.len) == 0),
                   "property %zu value not stable:\n%.*s\n%.*s", i, (int)op->value.len, op->value.base, (int)again.len,
                   again.base);
        hs_buf_free(&again);
        p = p->next;
    }
    hs_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_arena_t a;
    hs_arena_init(&a);
    const hs__dav_xnode_t *root = NULL, *root1 = NULL;
    int st = feed_pieces(&a, data, size, &root);
    FUZZ_CHECK(st == 0 || st == 400 || st == 413, "reader status %d", st);

    /* the same body in one piece: accepted exactly when it was accepted in pieces, with the
     * same tree (a refusal may change its reason: a byte limit checked before parsing in one
     * case meets a syntax error first in the other) */
    hs_buf_t whole = {0};
    size_t pos = 0, plen;
    const uint8_t *piece;
    while (fuzz_next_piece(data, size, &pos, 0xff, 0xfe, &piece, &plen))
        hs_buf_append(&whole, piece, plen);
    char *w = fuzz_dup((const uint8_t *)(whole.base ? whole.base : ""), whole.len);
    const char *detail = NULL;
    int st1 = hs__dav_xml_parse(&a, w, whole.len, &lim, &root1, &detail);
    FUZZ_CHECK((st1 == 0) == (st == 0), "in pieces %d, whole %d", st, st1);
    FUZZ_CHECK(st != 0 || same_tree(root, root1), "another tree when fed whole");
    free(w);
    hs_buf_free(&whole);

    if (st == 0) {
        FUZZ_CHECK(!root || depth_of(root) <= lim.max_depth, "deeper than the limit");
        hs__dav_propfind_t pf;
        detail = NULL;
        check_status(hs__dav_read_propfind(&a, root, &pf, &detail), detail, "propfind");
        hs__dav_proppatch_t pp;
        detail = NULL;
        int sp = hs__dav_read_proppatch(&a, root, &pp, &detail);
        check_status(sp, detail, "proppatch");
        if (sp == 0)
            check_writer(&a, &pp, root);
        hs__dav_lockinfo_t li;
        detail = NULL;
        check_status(hs__dav_read_lockinfo(&a, root, &li, &detail), detail, "lockinfo");
        for (int kind = HS__DAV_BIND; kind <= HS__DAV_UNBIND; kind++) {
            hs__dav_bind_t bd;
            detail = NULL;
            int sb = hs__dav_read_bind(&a, root, kind, &bd, &detail);
            check_status(sb, detail, "bind");
            if (sb == 0)
                FUZZ_CHECK(bd.segment.len > 0 && !memchr(bd.segment.base, '/', bd.segment.len), "bad segment");
        }
    }
    hs_arena_reset(&a);
    return 0;
}
