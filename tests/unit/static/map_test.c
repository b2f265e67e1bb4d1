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
    int r = hs__static_map(&a, hs_iov_cstr(path), false, &mp, &detail);
    if (r == 0 && hs_path_is_plain(hs_iov_cstr(path))) {
        hs__static_path_t quick = {0};
        ok(hs__static_map(&a, hs_iov_cstr(path), true, &quick, &detail) == 0 && strcmp(quick.rel, mp.rel) == 0 &&
               quick.trailing_slash == mp.trailing_slash,
           "%s: the short way for a plain path gives the same file", path);
    }
    if (status) {
        is_int(r, status, "%s -> %d", path, status);
    } else {
        ok(r == 0 && strcmp(mp.rel, rel) == 0 && mp.len == strlen(rel) && mp.trailing_slash == (slash != 0),
           "%s -> '%s'%s (got %d '%s'%s)", path, rel, slash ? "/" : "", r, r ? "" : mp.rel,
           r == 0 && mp.trailing_slash ? "/" : "");
    }
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

    return tap_done();
}
