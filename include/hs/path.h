/* statusd — request paths (RFC 3986 §6.2.2, §5.2.4), implemented in src/http/path.c: one
 * normal form for every place that compares or maps a path (configured path prefixes, access
 * rules, the static origin's files), so that no two of them can disagree about which resource
 * a request names.
 *
 * The functions write into memory the caller provides (or the arena given) and keep nothing. */
#ifndef HS_PATH_H
#define HS_PATH_H

#include "hs/core.h"

enum {
    /* Decode every escape, for a file-system path: the output is bytes, not a URI path. An
     * encoded '/' (%2F) is then refused with 404 — no file name contains one. */
    HS_PATH_DECODE = 1,
};

/* Normalise an origin-form path (undecoded, as received; it must start with '/'; a '?' and
 * what follows are left out) into out, which needs path.len + 1 bytes; the result starts with
 * '/', is NUL-terminated and *outlen is its length. In the normal form:
 *   - escapes of unreserved characters are decoded (RFC 3986 §6.2.2.2: "%7E" is "~", "%2e"
 *     is "."), the hex digits of all other escapes are uppercase (§6.2.2.1: "%2f" is "%2F");
 *   - dot segments are removed (§5.2.4), also when written %2e / %2E; ".." never climbs above
 *     the root;
 *   - repeated slashes are merged ("//a///b" is "/a/b"), as the static origin maps both to the
 *     same file (nginx's merge_slashes);
 *   - a trailing slash is kept ("/a/" is not "/a"), and so is one left by a final dot segment
 *     ("/a/." and "/a/b/.." are "/a/").
 * With HS_PATH_DECODE every escape is decoded instead (once: "%252e" is the name "%2e").
 * Returns 0, or a status with *detail set to a static explanation: 400 (not starting with '/',
 * a malformed escape, an encoded NUL "%00") or, with HS_PATH_DECODE only, 404 (an encoded '/'). */
int hs_path_normalize(hs_iovec_t path, char *out, size_t *outlen, unsigned flags, const char **detail);
/* Is the path (up to a '?') already in normal form and without escapes — the common case, where
 * both forms are the path itself? (No '%', no "//", no "/." — a name starting with a dot such
 * as "/.well-known" counts as not known, which is only slower.) */
bool hs_path_is_plain(hs_iovec_t path);
/* The same into the arena (*out NUL-terminated). */
int hs_path_normalize_arena(hs_arena_t *a, hs_iovec_t path, hs_iovec_t *out, unsigned flags, const char **detail);

/* Does a normalised path lie under a prefix, on segment boundaries? "/api" matches "/api",
 * "/api/" and "/api/x" but not "/apix"; a prefix ending in '/' ("/api/") matches "/api/" and
 * "/api/x" but not "/api"; "/" matches every path. Case-sensitive: compare normal forms. */
static inline bool hs_path_has_prefix(hs_iovec_t path, hs_iovec_t prefix)
{
    if (path.len < prefix.len || memcmp(path.base, prefix.base, prefix.len) != 0)
        return false;
    /* on a segment boundary: the prefix ends with '/', or the path ends or goes on with '/' */
    return (prefix.len && prefix.base[prefix.len - 1] == '/') || path.len == prefix.len || path.base[prefix.len] == '/';
}

#endif
