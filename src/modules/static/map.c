/* statusd — static origin: from a request path to a file that is certainly below the root.
 *
 * Two independent defences:
 *   1. here, the path is normalised (src/http/path.c, every escape decoded once) so that it never
 *      names anything above the root: each segment is percent-decoded on its own (so an encoded
 *      '/' can never create a segment boundary, and %2e%2e is recognised as the dot segment it
 *      is — RFC 3986 §2.3 and §6.2.2.2), dot segments are removed with ".." clamped at the root
 *      (RFC 3986 §5.2.4), NUL is refused;
 *   2. then the root (src/os/fsroot.c) opens the result with openat2(RESOLVE_BENEATH), so that a
 *      symbolic link cannot lead out of it either.
 */
#define _GNU_SOURCE
#include "static.h"

int hs__static_map(hs_arena_t *a, hs_iovec_t path, bool plain, hs__static_path_t *out, const char **detail)
{
    hs_iovec_t p;
    if (plain) { /* the normal form of a path without escapes: a copy to end with a NUL */
        p = hs_iov(hs_arena_strndup(a, path.base, path.len), path.len);
    } else {
        int st = hs_path_normalize_arena(a, path, &p, HS_PATH_DECODE, detail);
        if (st)
            return st;
    }
    /* "/" or "/a/b" or "/a/b/": relative to the root, without the slashes around it */
    char *rel = (char *)p.base + 1;
    size_t len = p.len - 1;
    out->trailing_slash = len == 0 || rel[len - 1] == '/';
    if (len && rel[len - 1] == '/')
        rel[--len] = '\0';
    out->rel = rel;
    out->len = len;
    return 0;
}
