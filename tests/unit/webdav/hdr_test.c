/* Unit tests: WebDAV header fields (src/modules/webdav/hdr.c) — the If grammar of RFC 4918 §10.4
 * and its evaluation (litmus's conditional PUTs, RFC 4918's own examples, Resource-Tags on this
 * and other servers, unmapped URLs), Lock-Token, Timeout, Depth, Overwrite, Destination. */
#include "../../../src/modules/webdav/hdr.h"
#include "tap.h"

static hs_arena_t A;
static const hs__dav_origin_t O = {HS_IOV_NULL, HS_IOV_NULL};
static hs__dav_origin_t here;

#define TOKEN "urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2"
#define ETAG "\"1a2b-3c\""

/* A small world: the request URI /dir/res (etag ETAG, locked by TOKEN through /dir/), /dir/ (the
 * lock root), /other (unlocked, etag "o"), everything else unmapped. */
typedef struct world_s {
    int lookups;
    bool fail;
} world_t;

static int lookup(void *ctx, const hs__dav_if_list_t *l, hs__dav_if_state_t *st)
{
    world_t *w = ctx;
    static const hs_iovec_t toks[] = {HS_IOV(TOKEN)};
    w->lookups++;
    if (w->fail)
        return 500;
    hs_iovec_t p = l->path.base ? l->path : HS_IOV("/dir/res");
    if (HS_IOV_EQ(p, "/dir/res") || HS_IOV_EQ(p, "/dir/") || HS_IOV_EQ(p, "/dir")) {
        *st = (hs__dav_if_state_t){.exists = true,
                                   .etag = HS_IOV_EQ(p, "/dir/res") ? HS_IOV(ETAG) : HS_IOV("\"d\""),
                                   .tokens = toks,
                                   .ntokens = 1};
    } else if (HS_IOV_EQ(p, "/other")) {
        *st = (hs__dav_if_state_t){.exists = true, .etag = HS_IOV("\"o\"")};
    }
    return HS_OK;
}

/* Parse and evaluate: -400 when the value is malformed, else 1/0. */
static int eval(const char *v)
{
    hs__dav_if_t h;
    const char *detail = NULL;
    int st = hs__dav_if_parse(&A, hs_iov_cstr(v), &here, &h, &detail);
    if (st) {
        if (!detail)
            printf("# no detail\n");
        return -st;
    }
    world_t w = {0};
    return hs__dav_if_eval(&h, lookup, &w);
}

static bool submits(const char *v, const char *token)
{
    hs__dav_if_t h;
    const char *detail;
    return hs__dav_if_parse(&A, hs_iov_cstr(v), &here, &h, &detail) == 0 && hs__dav_if_submits(&h, hs_iov_cstr(token));
}

static void test_if(void)
{
    hs__dav_if_t h;
    const char *detail;
    is_int(hs__dav_if_parse(&A, HS_IOV_NULL, &here, &h, &detail), 0, "absent");
    is_int(h.n, 0, "absent: no lists");
    world_t w = {0};
    is_int(hs__dav_if_eval(&h, lookup, &w), 1, "an absent If holds");

    /* litmus locks.c, in order */
    is_int(eval("(<" TOKEN "> [" ETAG "])"), 1, "cond_put: token and etag");
    is_int(eval("(<DAV:no-lock> [" ETAG "])"), 0, "fail_cond_put: DAV:no-lock never matches → 412");
    is_int(eval("(<" TOKEN ">) (Not <DAV:no-lock>)"), 1, "cond_put_with_not");
    is_int(eval("(<" TOKEN "x>) (Not <DAV:no-lock>)"), 1, "cond_put_corrupt_token holds (then 423, not 412)");
    ok(!submits("(<" TOKEN "x>) (Not <DAV:no-lock>)", TOKEN), "…and submits no usable token");
    ok(submits("(<" TOKEN ">) (Not <DAV:no-lock>)", TOKEN), "cond_put_with_not submits the token");
    is_int(eval("(<" TOKEN "> [" ETAG "]) (Not <DAV:no-lock> [" ETAG "])"), 1, "complex_cond_put");
    is_int(eval("(<" TOKEN "> [\"1a2b-3d\"]) (Not <DAV:no-lock> [\"1a2b-3d\"])"), 0, "fail_complex_cond_put → 412");
    is_int(eval("(<DAV:no-lock>)"), 0, "fail_cond_put_unlocked → 412");

    /* RFC 4918 §10.4.6-§10.4.12 style examples */
    is_int(eval("(<urn:uuid:150852e2-3847-42d5-8cbe-0f4f296f26cf> [" ETAG "]) ([\"another-ETag\"])"), 0,
           "§10.4.6: neither list");
    /* RFC 4918's examples write tags with spaces, which RFC 9110 §8.8.3 does not allow */
    is_int(eval("([\"I am an ETag\"])"), -400, "an entity tag with spaces is malformed");
    is_int(eval("(Not <urn:uuid:150852e2-3847-42d5-8cbe-0f4f296f26cf>)"), 1, "§10.4.7: Not an absent token");
    is_int(eval("(Not <" TOKEN ">)"), 0, "Not a present token");
    is_int(eval("(Not <" TOKEN "> <urn:x:y>)"), 0, "conditions are a conjunction");
    is_int(eval("(<" TOKEN ">) (Not <DAV:no-lock>)"), 1, "§10.4.8: lists are a disjunction");
    is_int(eval("([" ETAG "])"), 1, "an entity tag alone");
    is_int(eval("([W/" ETAG "])"), 0, "a weak tag never matches by the strong comparison");
    is_int(eval("(Not [" ETAG "])"), 0, "Not the current tag");
    is_int(eval("(not<" TOKEN ">)"), 0, "'not' in any case, no space needed");
    is_int(eval("  (  <" TOKEN ">   [" ETAG "]  )  "), 1, "whitespace anywhere");

    /* tagged lists: each applies to its resource; on another server it matches nothing */
    here = (hs__dav_origin_t){HS_IOV("http"), HS_IOV("www.example.com")};
    is_int(eval("</dir/res> (<" TOKEN ">)"), 1, "tagged with the request URI");
    is_int(eval("</dir/> (<" TOKEN ">)"), 1, "tagged with the lock root");
    is_int(eval("</dir/%72%65s> ([" ETAG "])"), 1, "a tag percent-decoded");
    is_int(eval("</dir/./x/../res> ([" ETAG "])"), 1, "a tag normalised");
    is_int(eval("<http://www.example.com/dir/res> ([" ETAG "])"), 1, "an absolute URI on this server");
    is_int(eval("<HTTP://WWW.Example.COM:80/dir/res> ([" ETAG "])"), 1, "scheme and host case, default port");
    is_int(eval("<http://www.example.com:8080/dir/res> ([" ETAG "])"), 0, "another port: another server");
    is_int(eval("<https://www.example.com/dir/res> ([" ETAG "])"), 0, "another scheme: another server");
    is_int(eval("<http://other.example/dir/res> (Not <urn:x:y>)"), 1, "another server: Not of anything holds");
    is_int(eval("</other> (<" TOKEN ">) </dir/res> (<" TOKEN ">)"), 1, "the second tag's list holds");
    is_int(eval("</other> (<" TOKEN ">) </nothere> ([\"x\"])"), 0, "neither resource has the state");
    is_int(eval("</nothere> (Not [\"x\"])"), 1, "§10.4.4: an unmapped URL lacks every state");
    is_int(eval("</other> ([\"o\"]) ([\"p\"])"), 1, "several lists after one tag");
    is_int(eval("</a%2Fb> (Not <urn:x:y>)"), 1, "a tag that names no file is foreign");
    ok(submits("</dir/> (<" TOKEN ">)", TOKEN), "a tagged token is submitted");
    ok(!submits("(Not <" TOKEN ">)", TOKEN), "a token under Not is not submitted");
    ok(!submits("([\"" TOKEN "\"])", TOKEN), "an entity tag is no token");
    hs__dav_if_parse(&A, HS_IOV("</a> (<urn:a:1>) </b> ([\"e\"] Not <urn:b:2>)"), &here, &h, &detail);
    ok(h.tagged && h.n == 2 && HS_IOV_EQ(h.lists[0].path, "/a") && HS_IOV_EQ(h.lists[1].path, "/b") &&
           h.lists[1].n == 2 && h.lists[1].conds[0].is_etag &&
           h.lists[1].conds[1].not &&HS_IOV_EQ(h.lists[1].conds[1].token, "urn:b:2"),
       "the parsed structure");

    /* the lookup's failure passes through */
    hs__dav_if_parse(&A, HS_IOV("(<urn:a:1>)"), &here, &h, &detail);
    w = (world_t){.fail = true};
    is_int(hs__dav_if_eval(&h, lookup, &w), 500, "a lookup failure");
    w = (world_t){0};
    hs__dav_if_parse(&A, HS_IOV("<http://elsewhere/> (<urn:a:1>)"), &here, &h, &detail);
    is_int(hs__dav_if_eval(&h, lookup, &w), 0, "foreign list");
    is_int(w.lookups, 0, "no lookup for another server's resource");

    /* malformed: 400, never 412 */
    const char *bad[] = {
        "",
        "   ",
        "<" TOKEN ">",                       /* a tag without a list */
        "()",                                /* an empty list */
        "(<" TOKEN ">",                      /* unclosed list */
        "(<" TOKEN ")",                      /* unclosed token */
        "(<not a uri>)",                     /* spaces */
        "(<nocolon>)",                       /* not absolute */
        "([" ETAG ")",                       /* unclosed etag */
        "([unquoted])",                      /* not an entity-tag */
        "([\"a\"b])",                        /* junk after the tag */
        "(Not)",                             /* Not of nothing */
        "(<urn:a:1>) </x> (<urn:a:1>)",      /* untagged then tagged */
        "</x> (<urn:a:1>) (<urn:a:2>) </y>", /* a tag without a list at the end */
        "</x> </y> (<urn:a:1>)",             /* two tags in a row */
        "(<urn:a:1>), (<urn:a:2>)",          /* a comma (not a list field) */
        "<x> (<urn:a:1>)",                   /* a relative reference */
        "</a#frag> (<urn:a:1>)",             /* a fragment */
        "</a%zz> (<urn:a:1>)",               /* a bad escape */
        "(<urn:a:1>) garbage",
        "<urn:a:1>",
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad); i++)
        is_int(eval(bad[i]), -400, "malformed If: '%s'", bad[i]);
    /* a ']' inside an entity tag */
    is_int(eval("([\"a]b\"])"), 0, "']' inside an entity tag is part of it");
}

static void test_fields(void)
{
    hs_iovec_t t;
    const char *detail;
    is_int(hs__dav_lock_token(HS_IOV("<" TOKEN ">"), &t, &detail), 0, "Lock-Token");
    ok(HS_IOV_EQ(t, TOKEN), "the token without brackets");
    is_int(hs__dav_lock_token(HS_IOV(" <opaquelocktoken:x> "), &t, &detail), 0, "Lock-Token with spaces");
    is_int(hs__dav_lock_token(HS_IOV(TOKEN), &t, &detail), 400, "Lock-Token without brackets");
    is_int(hs__dav_lock_token(HS_IOV("<>"), &t, &detail), 400, "Lock-Token empty");
    is_int(hs__dav_lock_token(HS_IOV("<a b:c>"), &t, &detail), 400, "Lock-Token not a URI");
    is_int(hs__dav_lock_token(HS_IOV("<urn:a> <urn:b>"), &t, &detail), 400, "two Coded-URLs");
    is_int(hs__dav_lock_token(HS_IOV_NULL, &t, &detail), 400, "absent");

    is_int(hs__dav_timeout(HS_IOV_NULL, 600, 3600), 600, "Timeout absent: default");
    is_int(hs__dav_timeout(HS_IOV("Second-100"), 600, 3600), 100, "Second-100");
    is_int(hs__dav_timeout(HS_IOV("second-100"), 600, 3600), 100, "case-insensitive");
    is_int(hs__dav_timeout(HS_IOV("Second-99999"), 600, 3600), 3600, "capped");
    is_int(hs__dav_timeout(HS_IOV("Infinite"), 600, 3600), 3600, "Infinite is the cap");
    is_int(hs__dav_timeout(HS_IOV("Infinite, Second-4100000000"), 600, 3600), 3600, "the first element");
    is_int(hs__dav_timeout(HS_IOV("Extension-1, Second-30"), 600, 3600), 30, "an unknown element skipped");
    is_int(hs__dav_timeout(HS_IOV("Second-4294967296"), 600, 3600), 600, "over 2^32-1: not understood");
    is_int(hs__dav_timeout(HS_IOV("Second-"), 600, 3600), 600, "no digits");
    is_int(hs__dav_timeout(HS_IOV("Second--5"), 600, 3600), 600, "a sign");
    is_int(hs__dav_timeout(HS_IOV("junk"), 600, 3600), 600, "junk: default");
    is_int(hs__dav_timeout(HS_IOV("Second-0"), 600, 3600), 0, "zero as asked");
    is_int(hs__dav_timeout(HS_IOV_NULL, 6000, 3600), 3600, "the default is capped too");

    int d;
    is_int(hs__dav_depth(HS_IOV_NULL, HS__DAV_DEPTH_INFINITY, &d, &detail), 0, "Depth absent");
    is_int(d, HS__DAV_DEPTH_INFINITY, "the default");
    is_int(hs__dav_depth(HS_IOV("0"), 1, &d, &detail), 0, "Depth 0");
    is_int(d, 0, "0");
    is_int(hs__dav_depth(HS_IOV("1"), 0, &d, &detail), 0, "Depth 1");
    is_int(d, 1, "1");
    is_int(hs__dav_depth(HS_IOV("Infinity"), 0, &d, &detail), 0, "Depth Infinity");
    is_int(d, HS__DAV_DEPTH_INFINITY, "infinity");
    const char *bad_depth[] = {"2", "", "-1", "01", "infinite", "1,0", "0 1"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad_depth); i++)
        is_int(hs__dav_depth(hs_iov_cstr(bad_depth[i]), 0, &d, &detail), 400, "Depth '%s': 400", bad_depth[i]);

    bool ow;
    is_int(hs__dav_overwrite(HS_IOV_NULL, &ow, &detail), 0, "Overwrite absent");
    ok(ow, "absent is T (RFC 4918 §10.6)");
    is_int(hs__dav_overwrite(HS_IOV("F"), &ow, &detail), 0, "F");
    ok(!ow, "F is false");
    is_int(hs__dav_overwrite(HS_IOV("t"), &ow, &detail), 0, "t");
    ok(ow, "t is true");
    is_int(hs__dav_overwrite(HS_IOV("yes"), &ow, &detail), 400, "yes: 400");
    is_int(hs__dav_overwrite(HS_IOV(""), &ow, &detail), 400, "empty: 400");

    hs__dav_dest_t dst;
    here = (hs__dav_origin_t){HS_IOV("http"), HS_IOV("127.0.0.1:8080")};
    is_int(hs__dav_destination(&A, HS_IOV("http://127.0.0.1:8080/dav/a%20b/"), &here, &dst, &detail), 0, "absolute");
    ok(!dst.other_server && HS_IOV_EQ(dst.path, "/dav/a b/"), "decoded, trailing slash kept (%s)", dst.path.base);
    is_int(hs__dav_destination(&A, HS_IOV("/dav/x/../y//z?q=1"), &here, &dst, &detail), 0, "absolute path");
    ok(!dst.other_server && HS_IOV_EQ(dst.path, "/dav/y/z"), "normalised, query dropped (%s)", dst.path.base);
    is_int(hs__dav_destination(&A, HS_IOV("http://127.0.0.1:8080"), &here, &dst, &detail), 0, "no path");
    ok(HS_IOV_EQ(dst.path, "/"), "the root");
    is_int(hs__dav_destination(&A, HS_IOV("http://user@127.0.0.1:8080/a"), &here, &dst, &detail), 0, "userinfo");
    ok(!dst.other_server, "userinfo is not part of the server");
    is_int(hs__dav_destination(&A, HS_IOV("http://127.0.0.1:8081/a"), &here, &dst, &detail), 0, "another port");
    ok(dst.other_server, "another port: another server (502)");
    is_int(hs__dav_destination(&A, HS_IOV("http://example.com/a"), &here, &dst, &detail), 0, "another host");
    ok(dst.other_server, "another host: 502");
    is_int(hs__dav_destination(&A, HS_IOV("ftp://127.0.0.1:8080/a"), &here, &dst, &detail), 0, "another scheme");
    ok(dst.other_server, "another scheme: 502");
    is_int(hs__dav_destination(&A, HS_IOV("urn:isbn:123"), &here, &dst, &detail), 0, "a URN");
    ok(dst.other_server, "a URN is on no server here");
    here = (hs__dav_origin_t){HS_IOV("http"), HS_IOV("[::1]:8080")};
    is_int(hs__dav_destination(&A, HS_IOV("http://[::1]:8080/a"), &here, &dst, &detail), 0, "IPv6");
    ok(!dst.other_server && HS_IOV_EQ(dst.path, "/a"), "IPv6 literal host");
    here = (hs__dav_origin_t){HS_IOV("http"), HS_IOV("host")};
    is_int(hs__dav_destination(&A, HS_IOV("http://host:80/a"), &here, &dst, &detail), 0, "explicit default port");
    ok(!dst.other_server, "host:80 is host");
    is_int(hs__dav_destination(&A, HS_IOV_NULL, &here, &dst, &detail), 400, "absent: 400");
    is_int(hs__dav_destination(&A, HS_IOV("relative/path"), &here, &dst, &detail), 400, "relative: 400");
    is_int(hs__dav_destination(&A, HS_IOV("/a#b"), &here, &dst, &detail), 400, "fragment: 400");
    is_int(hs__dav_destination(&A, HS_IOV("/a b"), &here, &dst, &detail), 400, "a raw space: 400");
    is_int(hs__dav_destination(&A, HS_IOV("/a%00"), &here, &dst, &detail), 400, "encoded NUL: 400");
    is_int(hs__dav_destination(&A, HS_IOV("/a%2Fb"), &here, &dst, &detail), 404, "encoded slash: 404");
    is_int(hs__dav_destination(&A, HS_IOV("http://host/../../etc"), &here, &dst, &detail), 0, "dot segments");
    ok(HS_IOV_EQ(dst.path, "/etc"), "never above the root");
    (void)O;

    hs_iovec_t rel;
    ok(hs__dav_path_rel(HS_IOV("/"), HS_IOV("/a/b/"), &rel) && HS_IOV_EQ(rel, "a/b"), "below /");
    ok(hs__dav_path_rel(HS_IOV("/"), HS_IOV("/"), &rel) && rel.len == 0, "the root");
    ok(hs__dav_path_rel(HS_IOV("/dav"), HS_IOV("/dav"), &rel) && rel.len == 0, "the mount point");
    ok(hs__dav_path_rel(HS_IOV("/dav/"), HS_IOV("/dav/"), &rel) && rel.len == 0, "the mount point with a slash");
    ok(hs__dav_path_rel(HS_IOV("/dav"), HS_IOV("/dav/x/y"), &rel) && HS_IOV_EQ(rel, "x/y"), "below the mount");
    ok(!hs__dav_path_rel(HS_IOV("/dav"), HS_IOV("/davx/y"), &rel), "not on a segment boundary");
    ok(!hs__dav_path_rel(HS_IOV("/dav"), HS_IOV("/other"), &rel), "elsewhere");
}

int main(void)
{
    hs_arena_init(&A);
    test_if();
    test_fields();
    hs_arena_reset(&A);
    return tap_done();
}
