/* Unit tests: PROPFIND/PROPPATCH of one resource (src/modules/webdav/props.c) and the conditions
 * on locks (cond.c) — responses read back with the XML reader; the If header against real files
 * and locks (litmus's conditional PUTs: 412 vs 423); lock checks with depth and membership. */
#define _GNU_SOURCE
#include "../../../src/modules/static/static.h"
#include "../../../src/modules/webdav/fs.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static hs_arena_t A;
static char base[64], top[128], dbpath[160];
static hs_fsroot_t root;
static hs__dav_store_t *store;
static hs__dav_fs_t fs;

static const char *mime(const char *rel)
{
    return hs__static_mime_lookup(rel).content_type;
}
static const hs__dav_origin_t origin = {{"http", 4}, {"h", 1}};

static void write_file(const char *rel, const char *content)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", top, rel);
    FILE *f = fopen(p, "w");
    if (!f)
        abort();
    fputs(content, f);
    fclose(f);
}

/* Run a PROPFIND body against rel; the response parsed, or NULL. */
static const hs__dav_xnode_t *propfind(const char *rel, const char *body, int *status)
{
    const hs__dav_xnode_t *r = NULL, *doc = NULL;
    const char *detail;
    hs__dav_propfind_t pf;
    *status = body ? hs__dav_xml_parse(&A, body, strlen(body), NULL, &r, &detail) : 0;
    if (*status == 0)
        *status = hs__dav_read_propfind(&A, r, &pf, &detail);
    if (*status)
        return NULL;
    struct stat st;
    hs__dav_stat(&fs, rel, &st, &detail);
    hs_buf_t b = {0};
    hs__dav_ms_t m;
    hs__dav_ms_begin(&m, &b);
    *status = hs__dav_propfind_write(&fs, &A, rel, &st, &pf, time(NULL), &m);
    hs__dav_ms_end(&m);
    if (*status == 0 && hs__dav_xml_parse(&A, b.base, b.len, NULL, &doc, &detail) != 0)
        *status = -1;
    hs_buf_free(&b);
    return doc ? hs__dav_xml_child(doc, "DAV:", "response") : NULL;
}

/* The propstat of a response with this status, or NULL. */
static const hs__dav_xnode_t *propstat(const hs__dav_xnode_t *resp, int status)
{
    char want[64];
    snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
    for (const hs__dav_xnode_t *c = resp ? resp->first : NULL; c; c = c->next) {
        if (c->is_text || !hs__dav_is_dav(&c->q, "propstat"))
            continue;
        const hs__dav_xnode_t *s = hs__dav_xml_child(c, "DAV:", "status");
        if (s && strncmp(hs__dav_xml_text(&A, s).base, want, strlen(want)) == 0)
            return hs__dav_xml_child(c, "DAV:", "prop");
    }
    return NULL;
}

static int count(const hs__dav_xnode_t *prop)
{
    int n = 0;
    for (const hs__dav_xnode_t *c = prop ? prop->first : NULL; c; c = c->next)
        n += !c->is_text;
    return n;
}

static void test_propfind(void)
{
    write_file("doc.txt", "hello");
    hs__dav_propop_t ops[] = {
        {.name = {HS_IOV("http://example.com/neon/litmus/"), HS_IOV("prop0")}, .value = HS_IOV("value0")},
        {.name = {HS_IOV(""), HS_IOV("nonamespace")}, .value = HS_IOV("randomvalue"), .lang = HS_IOV("en")},
        {.name = {HS_IOV("DAV:"), HS_IOV("displayname")}, .value = HS_IOV("My doc")},
    };
    hs__dav_prop_patch(store, "doc.txt", ops, 3);
    int st;
    const hs__dav_xnode_t *r = propfind("doc.txt",
                                        "<propfind xmlns='DAV:'><prop><getcontentlength/><getetag/><displayname/>"
                                        "<x:prop0 xmlns:x='http://example.com/neon/litmus/'/><nonamespace xmlns=''/>"
                                        "<x:nothere xmlns:x='u'/><resourcetype/><quota-used-bytes/></prop></propfind>",
                                        &st);
    is_int(st, 0, "PROPFIND prop: written and well-formed");
    const hs__dav_xnode_t *href = r ? hs__dav_xml_child(r, "DAV:", "href") : NULL;
    ok(href && HS_IOV_EQ(hs__dav_xml_text(&A, href), "/dav/doc.txt"), "the href");
    const hs__dav_xnode_t *found = propstat(r, 200), *missing = propstat(r, 404);
    is_int(count(found), 6, "six found (length, etag, displayname, two dead, resourcetype)");
    is_int(count(missing), 2, "two missing (an unknown one, quota on a file)");
    const hs__dav_xnode_t *v = found ? hs__dav_xml_child(found, "", "nonamespace") : NULL;
    ok(v && HS_IOV_EQ(hs__dav_xml_text(&A, v), "randomvalue") && HS_IOV_EQ(v->lang, "en"),
       "the null-namespace property with its language");
    v = found ? hs__dav_xml_child(found, "DAV:", "displayname") : NULL;
    ok(v && HS_IOV_EQ(hs__dav_xml_text(&A, v), "My doc"), "displayname, a dead property in DAV:");
    v = found ? hs__dav_xml_child(found, "DAV:", "getcontentlength") : NULL;
    ok(v && HS_IOV_EQ(hs__dav_xml_text(&A, v), "5"), "a live one");

    r = propfind("doc.txt", "<propfind xmlns='DAV:'><propname/></propfind>", &st);
    found = propstat(r, 200);
    ok(st == 0 && count(found) == 3 + 10 && !propstat(r, 404), "propname: 3 dead + 10 live names (%d)", count(found));
    v = found ? hs__dav_xml_child(found, "DAV:", "getetag") : NULL;
    ok(v && !v->first, "names only, no values");

    r = propfind("doc.txt", NULL, &st);
    found = propstat(r, 200);
    ok(st == 0 && count(found) == 3 + 8 && !hs__dav_xml_child(found, "DAV:", "resource-id"),
       "an empty body is allprop: dead + RFC 4918's live ones (%d)", count(found));
    r = propfind("doc.txt",
                 "<propfind xmlns='DAV:'><allprop/><include><resource-id/><getetag/><nope/></include></propfind>", &st);
    found = propstat(r, 200);
    ok(st == 0 && count(found) == 3 + 8 + 1 && hs__dav_xml_child(found, "DAV:", "resource-id") &&
           count(propstat(r, 404)) == 1,
       "include adds resource-id once, getetag not twice, an unknown one 404");
    r = propfind("", "<propfind xmlns='DAV:'><prop/></propfind>", &st);
    ok(st == 0 && r && propstat(r, 200) && count(propstat(r, 200)) == 0, "an empty prop: an empty 200 propstat");
    href = r ? hs__dav_xml_child(r, "DAV:", "href") : NULL;
    ok(href && HS_IOV_EQ(hs__dav_xml_text(&A, href), "/dav/"), "the root's href ends in '/'");
}

static const hs__dav_xnode_t *proppatch(const char *rel, const char *body, int *status)
{
    const hs__dav_xnode_t *r, *doc = NULL;
    const char *detail;
    hs__dav_proppatch_t pp;
    hs__dav_xml_parse(&A, body, strlen(body), NULL, &r, &detail);
    hs__dav_read_proppatch(&A, r, &pp, &detail);
    hs_buf_t b = {0};
    hs__dav_ms_t m;
    hs__dav_ms_begin(&m, &b);
    *status = hs__dav_proppatch_apply(&fs, &A, rel, &pp, &m);
    hs__dav_ms_end(&m);
    if (hs__dav_xml_parse(&A, b.base, b.len, NULL, &doc, &detail) != 0)
        *status = -1;
    hs_buf_free(&b);
    return doc ? hs__dav_xml_child(doc, "DAV:", "response") : NULL;
}

static void test_proppatch(void)
{
    int st;
    const hs__dav_xnode_t *r = proppatch("doc.txt",
                                         "<propertyupdate xmlns='DAV:'><set><prop><a xmlns='u'>1</a><b xmlns='u'>2</b>"
                                         "</prop></set><remove><prop><a xmlns='u'/></prop></remove></propertyupdate>",
                                         &st);
    is_int(st, 200, "PROPPATCH: 200");
    is_int(count(propstat(r, 200)), 2, "each property once");
    hs__dav_qname_t qa = {HS_IOV("u"), HS_IOV("a")}, qb = {HS_IOV("u"), HS_IOV("b")};
    hs__dav_prop_t p;
    ok(hs__dav_prop_get(store, &A, "doc.txt", &qa, &p) == HS_DECLINED &&
           hs__dav_prop_get(store, &A, "doc.txt", &qb, &p) == HS_OK,
       "set then removed; the other set");
    r = proppatch("doc.txt",
                  "<propertyupdate xmlns='DAV:'><set><prop><c xmlns='u'>3</c><getetag>\"x\"</getetag><d xmlns='u'/>"
                  "</prop></set></propertyupdate>",
                  &st);
    is_int(st, 403, "a protected property: 403");
    const hs__dav_xnode_t *f = propstat(r, 403);
    ok(count(f) == 1 && hs__dav_xml_child(f, "DAV:", "getetag"), "the live property 403");
    const hs__dav_xnode_t *ps = f ? f->parent : NULL;
    ok(ps && hs__dav_xml_child(hs__dav_xml_child(ps, "DAV:", "error"), "DAV:", "cannot-modify-protected-property"),
       "with cannot-modify-protected-property");
    is_int(count(propstat(r, 424)), 2, "the others 424 Failed Dependency");
    hs__dav_qname_t qc = {HS_IOV("u"), HS_IOV("c")};
    is_int(hs__dav_prop_get(store, &A, "doc.txt", &qc, &p), HS_DECLINED, "nothing applied");
}

/* litmus's conditional PUTs, as the module will run them: If check, then lock check */
static int cond_put(const char *ifv)
{
    hs__dav_if_t h;
    const char *detail;
    if (hs__dav_if_parse(&A, hs_iov_cstr(ifv), &origin, &h, &detail))
        return 400;
    int st = hs__dav_if_check(&fs, &A, &h, "res", time(NULL));
    if (st)
        return st;
    hs_iovec_t locked;
    return hs__dav_locks_check(&fs, &A, &h, "res", 0, false, time(NULL), &locked);
}

static void test_conditions(void)
{
    write_file("res", "zero");
    struct stat st;
    const char *detail;
    hs__dav_stat(&fs, "res", &st, &detail);
    hs_iovec_t etag = hs_etag_from_stat_arena(&A, &st, NULL);
    hs__dav_lock_t l = {.root = HS_IOV("res"), .depth = 0, .exclusive = true, .timeout = 600}, c;
    hs__dav_lock_create(store, &A, &l, time(NULL), &c);
    char h[512];
    snprintf(h, sizeof(h), "(<%s> [%.*s])", l.token.base, (int)etag.len, etag.base);
    is_int(cond_put(h), 0, "cond_put: token and etag");
    snprintf(h, sizeof(h), "(<DAV:no-lock> [%.*s])", (int)etag.len, etag.base);
    is_int(cond_put(h), 412, "fail_cond_put: 412");
    snprintf(h, sizeof(h), "(<%s>) (Not <DAV:no-lock>)", l.token.base);
    is_int(cond_put(h), 0, "cond_put_with_not");
    snprintf(h, sizeof(h), "(<%sx>) (Not <DAV:no-lock>)", l.token.base);
    is_int(cond_put(h), 423, "cond_put_corrupt_token: 423");
    snprintf(h, sizeof(h), "(<%s> [%.*s]) (Not <DAV:no-lock> [%.*s])", l.token.base, (int)etag.len, etag.base,
             (int)etag.len, etag.base);
    is_int(cond_put(h), 0, "complex_cond_put");
    snprintf(h, sizeof(h), "(<%s> [\"bogus\"]) (Not <DAV:no-lock> [\"bogus\"])", l.token.base);
    is_int(cond_put(h), 412, "fail_complex_cond_put: 412");
    snprintf(h, sizeof(h), "</dav/res> (<%s>)", l.token.base);
    is_int(cond_put(h), 0, "a tagged list for the resource");
    snprintf(h, sizeof(h), "</elsewhere/res> (<%s>)", l.token.base);
    is_int(cond_put(h), 412, "a tag outside the tree has no locks");
    is_int(cond_put("(Not <DAV:no-lock>)"), 423, "no token submitted: 423");
    hs__dav_lock_remove(store, l.token.base);
    is_int(cond_put("(<DAV:no-lock>)"), 412, "fail_cond_put_unlocked: 412");
    is_int(cond_put("(Not <DAV:no-lock>)"), 0, "unlocked: fine");
    snprintf(h, sizeof(h), "</dav/gone> ([%.*s])", (int)etag.len, etag.base);
    is_int(cond_put(h), 412, "an unmapped URL has no etag");

    /* depth and membership */
    mkdir((snprintf(h, sizeof(h), "%s/coll", top), h), 0755);
    mkdir((snprintf(h, sizeof(h), "%s/coll/sub", top), h), 0755);
    write_file("coll/sub/f", "f");
    hs__dav_lock_t lc = {.root = HS_IOV("coll"), .depth = 0, .exclusive = true, .timeout = 600},
                   lf = {.root = HS_IOV("coll/sub/f"), .depth = 0, .exclusive = false, .timeout = 600};
    hs__dav_lock_create(store, &A, &lc, time(NULL), &c);
    hs__dav_lock_create(store, &A, &lf, time(NULL), &c);
    hs__dav_if_t empty = {0}, with_c, with_both;
    snprintf(h, sizeof(h), "(<%s>)", lc.token.base);
    hs__dav_if_parse(&A, hs_iov_cstr(h), &origin, &with_c, &detail);
    snprintf(h, sizeof(h), "(<%s>) (<%s>)", lc.token.base, lf.token.base);
    hs__dav_if_parse(&A, hs_iov_cstr(h), &origin, &with_both, &detail);
    hs_iovec_t locked;
    int64_t now = time(NULL);
    is_int(hs__dav_locks_check(&fs, &A, &empty, "coll/new", 0, false, now, &locked), 0,
           "a depth-0 lock does not cover a member");
    is_int(hs__dav_locks_check(&fs, &A, &empty, "coll/new", 0, true, now, &locked), 423,
           "…but protects the collection's membership (RFC 4918 §7.4)");
    ok(HS_IOV_EQ(locked, "/dav/coll/"), "the locked collection's href (%s)", locked.base ? locked.base : "");
    is_int(hs__dav_locks_check(&fs, &A, &with_c, "coll/new", 0, true, now, &locked), 0, "with its token: fine");
    is_int(hs__dav_locks_check(&fs, &A, &with_c, "coll", HS__DAV_DEPTH_INFINITY, false, now, &locked), 423,
           "DELETE of the collection: a member's lock is in the way");
    ok(HS_IOV_EQ(locked, "/dav/coll/sub/f"), "…named (%s)", locked.base ? locked.base : "");
    is_int(hs__dav_locks_check(&fs, &A, &with_both, "coll", HS__DAV_DEPTH_INFINITY, true, now, &locked), 0,
           "with both tokens: fine");
    is_int(hs__dav_locks_check(&fs, &A, &empty, "coll/sub", 0, false, now, &locked), 0,
           "a depth-0 PROPPATCH of a sibling is not in the way");

    /* a DELETE of a subtree whose locks' tokens come untagged (Windows) */
    hs__dav_if_t with_f, nope;
    snprintf(h, sizeof(h), "(<%s>)", lf.token.base);
    hs__dav_if_parse(&A, hs_iov_cstr(h), &origin, &with_f, &detail);
    hs__dav_if_parse(&A, HS_IOV("(<urn:uuid:00000000-0000-4000-8000-000000000000>)"), &origin, &nope, &detail);
    is_int(hs__dav_if_check(&fs, &A, &with_f, "coll/sub", now), 412,
           "strictly, a member's token in an untagged list does not hold for its collection");
    is_int(hs__dav_if_check_subtree(&fs, &A, &with_f, "coll/sub", now), 0, "for a DELETE of the subtree it does");
    is_int(hs__dav_if_check_subtree(&fs, &A, &with_c, "coll/sub", now), 0, "…and so does the parent's token");
    is_int(hs__dav_if_check_subtree(&fs, &A, &nope, "coll/sub", now), 412, "an unknown token still fails");
    is_int(hs__dav_if_check_subtree(&fs, &A, &with_f, "coll/sub/f", now), 0, "the resource's own lock holds as ever");
}

int main(void)
{
    hs_arena_init(&A);
    snprintf(base, sizeof(base), "/tmp/hs-props-XXXXXX");
    if (!mkdtemp(base))
        return 1;
    snprintf(top, sizeof(top), "%s/tree", base);
    snprintf(dbpath, sizeof(dbpath), "%s/dav.sqlite", base);
    mkdir(top, 0755);
    hs__static_mime_init();
    const char *detail;
    if (hs_fsroot_init(&root, top, false) != HS_OK ||
        hs__dav_store_open_sqlite(&(hs__dav_store_opts_t){.path = dbpath}, &store, &detail) != HS_OK)
        return 1;
    hs__dav_fs_init(&fs, &root, store, "/dav");
    fs.content_type = mime;
    fs.fsync = HS__DAV_FSYNC_NONE;
    test_propfind();
    test_proppatch();
    test_conditions();
    hs__dav_fs_fini(&fs);
    hs__dav_store_close(store);
    hs_fsroot_fini(&root);
    hs__static_mime_free();
    hs_arena_reset(&A);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    if (system(cmd) != 0)
        printf("# cleanup failed\n");
    return tap_done();
}
