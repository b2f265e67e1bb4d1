/* statusd — request paths: the normal form (RFC 3986 §6.2.2 and §5.2.4), and prefix matching
 * on segment boundaries.
 *
 * Why one function for both the URI form and the file form: an access rule for "/private" and
 * the static origin must see the same path, whatever spelling the client chose ("/%70rivate",
 * "//private", "/x/../private", "/%2e%2e/private"). Both forms come out of the same walk over the
 * segments, differing only in which escapes are decoded, so they cannot drift apart.
 *
 * Each segment is decoded on its own (into the output, which never grows), so an encoded '/'
 * can never make a segment boundary, and "%2e%2e" is recognised as the dot segment it is — but
 * only after decoding exactly once: "%252e%252e" is the literal name "%2e%2e". NUL is refused
 * whatever its spelling. */
#define _GNU_SOURCE
#include "hs/path.h"

#include "hs/codec.h"

int hs_path_normalize(hs_iovec_t path, char *out, size_t *outlen, unsigned flags, const char **detail)
{
    const bool decode_all = flags & HS_PATH_DECODE;
    if (path.len == 0 || path.base[0] != '/') {
        *detail = "the request target does not start with '/'";
        return 400;
    }
    const char *q = memchr(path.base, '?', path.len);
    size_t end = q ? (size_t)(q - path.base) : path.len;
    if (hs_path_is_plain(hs_iov(path.base, end))) { /* nothing to decode or remove: as it is */
        memcpy(out, path.base, end);
        out[end] = '\0';
        *outlen = end;
        return 0;
    }
    out[0] = '/';
    size_t o = 1; /* out[0..o) is the path so far: "/" or "/seg/…/seg", no trailing slash */
    bool trailing = false;
    size_t i = 1; /* after the leading '/' */
    for (;;) {
        size_t s = i;
        while (i < end && path.base[i] != '/')
            i++;
        /* decode path.base[s..i) after a separator (or straight after the root's '/') */
        size_t seg = o == 1 ? 1 : o + 1, w = seg;
        for (size_t k = s; k < i; k++) {
            unsigned char c = (unsigned char)path.base[k];
            if (c == '%') {
                int h = k + 2 < i ? hs_hex_digit((unsigned char)path.base[k + 1]) : -1;
                int l = k + 2 < i ? hs_hex_digit((unsigned char)path.base[k + 2]) : -1;
                if (h < 0 || l < 0) {
                    *detail = "the path contains a malformed percent-escape"; /* RFC 3986 §2.1 */
                    return 400;
                }
                k += 2;
                c = (unsigned char)(h * 16 + l);
                if (c == '/' && decode_all) {
                    /* an encoded slash is data inside one segment; no file name contains it */
                    *detail = "the path contains an encoded '/' (%2F); no file has such a name";
                    return 404;
                }
                if (c != '\0' && !decode_all && !hs_is_unreserved(c)) {
                    /* stays encoded, in the normal spelling: uppercase hex (§6.2.2.1) */
                    w += hs_pct_encode(out + w, (const char *)&c, 1, 0);
                    continue;
                }
            }
            if (c == '\0') {
                *detail = "the path contains a NUL byte (%00)";
                return 400;
            }
            out[w++] = (char)c;
        }
        size_t len = w - seg;
        bool last = i >= end;
        if (len == 0 || (len == 1 && out[seg] == '.')) {
            trailing = last; /* "a//b", "a/./b"; "a/" and "a/." name the directory a/ */
        } else if (len == 2 && out[seg] == '.' && out[seg + 1] == '.') {
            /* RFC 3986 §5.2.4: remove the last segment; above the root there is nothing */
            while (o > 1 && out[o - 1] != '/')
                o--;
            if (o > 1)
                o--;
            trailing = last;
        } else {
            if (o > 1)
                out[o] = '/';
            o = w;
            trailing = false;
        }
        if (last)
            break;
        i++; /* the '/' */
    }
    if (trailing && o > 1)
        out[o++] = '/';
    out[o] = '\0';
    *outlen = o;
    return 0;
}

int hs_path_normalize_arena(hs_arena_t *a, hs_iovec_t path, hs_iovec_t *out, unsigned flags, const char **detail)
{
    char *p = hs_arena_alloc(a, path.len + 1);
    size_t n;
    int st = hs_path_normalize(path, p, &n, flags, detail);
    if (st == 0)
        *out = hs_iov(p, n);
    return st;
}

/* The bytes hs_path_is_plain must look at twice; any other byte is passed over with one load. */
static const uint8_t plain_stop[256] = {['\0'] = 1, ['%'] = 1, ['/'] = 1, ['?'] = 1};

bool hs_path_is_plain(hs_iovec_t path)
{
    const char *p = path.base, *end = p + path.len;
    if (path.len == 0 || p[0] != '/')
        return false;
    /* one pass: a '/' is followed by neither '/' nor '.' (nor the end of a "…/." path), and
     * nothing is percent-encoded; a raw NUL goes the long way, which refuses it */
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (!plain_stop[c])
            continue;
        if (c == '?')
            break;
        if (c != '/' || (p + 1 < end && (p[1] == '/' || p[1] == '.')))
            return false;
    }
    return true;
}
