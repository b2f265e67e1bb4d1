/* Unit tests: path normalisation and prefix matching (src/http/path.c, RFC 3986 §6.2.2, §5.2.4). */
#define _GNU_SOURCE
#include "hs/path.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

/* want: the normal form, or NULL with `status` */
static void norm(const char *in, unsigned flags, const char *want, int status)
{
    size_t n = strlen(in);
    char *out = malloc(n + 1); /* exactly what the contract asks for */
    size_t len = 0;
    const char *detail = NULL;
    int r = hs_path_normalize(hs_iov(in, n), out, &len, flags, &detail);
    const char *mode = flags & HS_PATH_DECODE ? "decode" : "uri";
    if (!want) {
        ok(r == status && detail && detail[0], "%s %s -> %d (got %d)", mode, in, status, r);
    } else if (!ok(r == 0 && len == strlen(want) && memcmp(out, want, len) == 0 && out[len] == '\0', "%s %s -> %s",
                   mode, in, want)) {
        printf("#   got %d '%.*s'\n", r, r ? 0 : (int)len, out);
    }
    free(out);
}

#define URI(in, want) norm((in), 0, (want), 0)
#define FILEP(in, want) norm((in), HS_PATH_DECODE, (want), 0)
#define BAD(in, flags, status) norm((in), (flags), NULL, (status))

static void test_uri_form(void)
{
    URI("/", "/");
    URI("/a", "/a");
    URI("/a/b/c.txt", "/a/b/c.txt");
    /* trailing slash kept */
    URI("/a/", "/a/");
    URI("/a/b/", "/a/b/");
    /* merge slashes */
    URI("//", "/");
    URI("//a", "/a");
    URI("/a//b", "/a/b");
    URI("///a///b///", "/a/b/");
    /* dot segments (RFC 3986 §5.2.4) */
    URI("/.", "/");
    URI("/./a", "/a");
    URI("/a/.", "/a/");
    URI("/a/./b", "/a/b");
    URI("/a/..", "/");
    URI("/a/../", "/");
    URI("/a/../b", "/b");
    URI("/a/b/..", "/a/");
    URI("/a/b/../c", "/a/c");
    URI("/a/b/c/./../../g", "/a/g"); /* §5.4.2's example */
    URI("/mid/content=5/../6", "/mid/6");
    /* ".." at the root stays at the root */
    URI("/..", "/");
    URI("/../", "/");
    URI("/../a", "/a");
    URI("/../../../etc/passwd", "/etc/passwd");
    URI("/a/../../b", "/b");
    /* encoded dots are dots */
    URI("/%2e", "/");
    URI("/%2E/a", "/a");
    URI("/%2e%2e/a", "/a");
    URI("/%2e%2E/a", "/a");
    URI("/%2E%2e/x/%2e%2e/y", "/y");
    URI("/.%2e/a", "/a");
    URI("/%2e./a", "/a");
    URI("/a/b/%2e%2e/%2E%2E/%2e%2e/c", "/c");
    URI("/a/%2e%2e", "/");
    /* not dot segments */
    URI("/...", "/...");
    URI("/..a/b", "/..a/b");
    URI("/a..", "/a..");
    URI("/.a", "/.a");
    URI("/%2e%2e%2e", "/...");
    /* unreserved escapes decoded, others uppercased (§6.2.2.1, §6.2.2.2) */
    URI("/%7euser", "/~user");
    URI("/%41%42%5a%61%7A%30%39%2D%5F%2E", "/ABZaz09-_.");
    URI("/a%2fb", "/a%2Fb");
    URI("/a%2Fb", "/a%2Fb");
    URI("/a%20b", "/a%20b");
    URI("/%c3%bc", "/%C3%BC");
    URI("/%3f%23", "/%3F%23");
    URI("/%252e%252e/a", "/%252e%252e/a"); /* %25 stays encoded: a literal "%2e%2e" */
    URI("/..%2fetc", "/..%2Fetc");         /* one segment "..%2Fetc": not a dot segment */
    URI("/%2e%2e%2f", "/..%2F");
    /* the query is not part of the path */
    URI("/a/b?x=1", "/a/b");
    URI("/a/../b?../../c", "/b");
    URI("/a/?", "/a/");
    URI("/?q", "/");
    /* raw bytes are kept as they came */
    URI("/a:b@c!$&'()*+,;=", "/a:b@c!$&'()*+,;=");
    /* errors */
    BAD("", 0, 400);
    BAD("a/b", 0, 400);
    BAD("*", 0, 400);
    BAD("/a%00", 0, 400);
    BAD("/%00/..", 0, 400);
    BAD("/a%0", 0, 400);
    BAD("/a%", 0, 400);
    BAD("/a%g0", 0, 400);
    BAD("/a%%41", 0, 400);
    BAD("/a%2/b", 0, 400);
    BAD("/%zz/..", 0, 400); /* even in a segment a later ".." removes */
}

static void test_file_form(void)
{
    FILEP("/", "/");
    FILEP("/a%20b", "/a b");
    FILEP("/%c3%bc", "/\xc3\xbc");
    FILEP("/%252e%252e/a", "/%2e%2e/a"); /* decoded once */
    FILEP("/%2e%2e/a", "/a");
    FILEP("/%5c..%5cx", "/\\..\\x"); /* a backslash is an ordinary byte */
    FILEP("//a//b/", "/a/b/");
    FILEP("/a/b/%2E%2E", "/a/");
    FILEP("/%3f", "/?");
    BAD("/a%2Fb", HS_PATH_DECODE, 404);
    BAD("/..%2fetc", HS_PATH_DECODE, 404);
    BAD("/a%00", HS_PATH_DECODE, 400);
    BAD("/a%0", HS_PATH_DECODE, 400);
    BAD("x", HS_PATH_DECODE, 400);
}

static void test_raw_nul(void)
{
    /* a raw NUL (which the request parser never lets through) is refused like an encoded one,
     * also in a path the short way would otherwise copy as it is */
    char out[16];
    size_t len = 0;
    const char *detail = NULL;
    static const char p1[] = "/dir/\0sub/";
    ok(!hs_path_is_plain(hs_iov(p1, sizeof(p1) - 1)), "a raw NUL: not a plain path");
    is_int(hs_path_normalize(hs_iov(p1, sizeof(p1) - 1), out, &len, 0, &detail), 400, "a raw NUL: 400 (uri)");
    is_int(hs_path_normalize(hs_iov(p1, sizeof(p1) - 1), out, &len, HS_PATH_DECODE, &detail), 400,
           "a raw NUL: 400 (file)");
}

static void test_arena(void)
{
    hs_arena_t a;
    hs_arena_init(&a);
    hs_iovec_t out = HS_IOV_NULL;
    const char *detail = NULL;
    ok(hs_path_normalize_arena(&a, HS_IOV("/x/../%7Ey/"), &out, 0, &detail) == 0 && HS_IOV_EQ(out, "/~y/") &&
           out.base[out.len] == '\0',
       "arena: normal form, NUL-terminated");
    ok(hs_path_normalize_arena(&a, HS_IOV("/%"), &out, 0, &detail) == 400 && HS_IOV_EQ(out, "/~y/"),
       "arena: error leaves *out alone");
    hs_arena_reset(&a);
}

static void pfx(const char *path, const char *prefix, bool want)
{
    ok(hs_path_has_prefix(hs_iov_cstr(path), hs_iov_cstr(prefix)) == want, "'%s' %s under '%s'", path,
       want ? "is" : "is not", prefix);
}

static void test_prefix(void)
{
    pfx("/api", "/api", true);
    pfx("/api/", "/api", true);
    pfx("/api/x", "/api", true);
    pfx("/api/x/y", "/api", true);
    pfx("/apix", "/api", false);
    pfx("/ap", "/api", false);
    pfx("/", "/api", false);
    pfx("/API", "/api", false);
    pfx("/api/", "/api/", true);
    pfx("/api/x", "/api/", true);
    pfx("/api", "/api/", false);
    pfx("/apix", "/api/", false);
    pfx("/", "/", true);
    pfx("/anything/at/all", "/", true);
    pfx("/a%2Fb", "/a", false); /* an encoded slash is no boundary */
}

int main(void)
{
    test_uri_form();
    test_file_form();
    test_raw_nul();
    test_arena();
    test_prefix();
    return tap_done();
}
