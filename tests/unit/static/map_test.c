/* Unit tests: static origin path mapping (src/modules/static/map.c) — percent-decoding once,
 * dot segments clamped at the root (RFC 3986 §5.2.4), NUL and encoded '/' refused. */
#include "../../../src/modules/static/static.h"
#include "tap.h"

static void expect(const char *path, int status, const char *rel, int slash)
{
    hs_arena_t a;
    hs_arena_init(&a);
    hs__static_path_t mp = {0};
    const char *detail = NULL;
    int r = hs__static_map(&a, hs_iov_cstr(path), &mp, &detail);
    if (status) {
        is_int(r, status, "%s -> %d", path, status);
    } else {
        ok(r == 0 && strcmp(mp.rel, rel) == 0 && mp.len == strlen(rel) && mp.trailing_slash == (slash != 0),
           "%s -> '%s'%s (got %d '%s'%s)", path, rel, slash ? "/" : "", r, r ? "" : mp.rel,
           r == 0 && mp.trailing_slash ? "/" : "");
    }
    hs_arena_reset(&a);
}

static void expect_enc(const char *in, int keep_slash, const char *want)
{
    hs_arena_t a;
    hs_arena_init(&a);
    hs_iovec_t e = hs__static_pct_encode(&a, in, strlen(in), keep_slash);
    ok(e.len == strlen(want) && memcmp(e.base, want, e.len) == 0, "encode '%s' -> '%s' (got '%.*s')", in, want,
       (int)e.len, e.base);
    hs_arena_reset(&a);
}

int main(void)
{
    expect("/", 0, "", 1);
    expect("/a", 0, "a", 0);
    expect("/a/", 0, "a", 1);
    expect("/a/b.txt", 0, "a/b.txt", 0);
    expect("//a//b", 0, "a/b", 0);
    expect("/a/.", 0, "a", 1);
    expect("/a/..", 0, "", 1);
    expect("/a/../b", 0, "b", 0);
    expect("/../a", 0, "a", 0);
    expect("/../../../etc/passwd", 0, "etc/passwd", 0);
    expect("/%2e%2e/a", 0, "a", 0);
    expect("/%2E%2e/%2e/a", 0, "a", 0);
    expect("/.%2e/a", 0, "a", 0);
    expect("/a/b/%2e%2e/%2E%2E/%2e%2e/c", 0, "c", 0);
    expect("/%252e%252e/a", 0, "%2e%2e/a", 0); /* decoded once: a literal name */
    expect("/...", 0, "...", 0);               /* not a dot segment */
    expect("/..a/b", 0, "..a/b", 0);
    expect("/a%20b", 0, "a b", 0);
    expect("/%5c..%5cx", 0, "\\..\\x", 0); /* a backslash is an ordinary byte on Linux */
    expect("/%c3%bc", 0, "\xc3\xbc", 0);
    expect("/..%2fetc", 404, NULL, 0);
    expect("/a%2Fb", 404, NULL, 0);
    expect("/a%00", 400, NULL, 0);
    expect("/%00", 400, NULL, 0);
    expect("/a%0", 400, NULL, 0);
    expect("/a%", 400, NULL, 0);
    expect("/a%g0", 400, NULL, 0);
    expect("a", 400, NULL, 0);
    expect("", 400, NULL, 0);

    expect_enc("a b/c", 1, "a%20b/c");
    expect_enc("a b/c", 0, "a%20b%2Fc");
    expect_enc("<x>\"&'?#:%", 0, "%3Cx%3E%22%26%27%3F%23%3A%25");
    expect_enc("AZaz09-._~", 0, "AZaz09-._~");
    expect_enc("\xc3\xbc", 0, "%C3%BC");
    return tap_done();
}
