/* statusd fuzz target: path normalisation and prefix matching (src/http/path.c).
 *
 * Input: a path (pieces separated by "\xff\xfe": [path] [prefix]).
 *
 * Checks (beyond no crash/over-read/leak; the output buffer is exactly path.len + 1 bytes):
 *   both forms   0, or 400 (404 for the file form only) with a detail; the result starts with
 *                '/', is NUL-terminated, no longer than the input, has no empty, "." or ".."
 *                segment (a trailing '/' aside) and is idempotent: normalising it again gives
 *                the same bytes (the URI form; the file form when it still parses as a path);
 *   URI form     no escape of an unreserved character, no lowercase hex in an escape, and
 *                decoding each escape of it gives the file form (when that exists);
 *   prefix       a path is under itself and under "/"; a match ends on a segment boundary.
 */
#include "hs/codec.h"
#include "hs/path.h"
#include "fuzz_util.h"

static int norm(const char *p, size_t n, unsigned flags, char **out, size_t *len)
{
    *out = malloc(n + 1);
    const char *detail = NULL;
    int st = hs_path_normalize(hs_iov(p, n), *out, len, flags, &detail);
    FUZZ_CHECK(st == 0 || st == 400 || (st == 404 && (flags & HS_PATH_DECODE)), "status %d", st);
    if (st) {
        FUZZ_CHECK(detail && detail[0], "status %d without a detail", st);
        return st;
    }
    const char *o = *out;
    FUZZ_CHECK(*len >= 1 && *len <= n && o[0] == '/' && o[*len] == '\0', "shape of '%.*s'", (int)*len, o);
    /* segments: none empty, "." or ".." (the empty one after a trailing '/' aside) */
    for (size_t s = 1; s < *len;) {
        size_t e = s;
        while (e < *len && o[e] != '/')
            e++;
        size_t l = e - s;
        FUZZ_CHECK(l > 0, "empty segment in '%s'", o);
        FUZZ_CHECK(!(l == 1 && o[s] == '.') && !(l == 2 && o[s] == '.' && o[s + 1] == '.'), "dot segment in '%s'", o);
        s = e + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0, plen = 0, xlen = 0;
    const uint8_t *piece, *pre = NULL;
    if (!fuzz_next_piece(data, size, &pos, 0xff, 0xfe, &piece, &plen))
        return 0;
    if (!fuzz_next_piece(data, size, &pos, 0xff, 0xfe, &pre, &xlen))
        pre = NULL;
    char *p = fuzz_dup(piece, plen);

    char *uri = NULL, *file = NULL;
    size_t ul = 0, fl = 0;
    int su = norm(p, plen, 0, &uri, &ul);
    int sf = norm(p, plen, HS_PATH_DECODE, &file, &fl);
    if (su == 0) {
        for (size_t i = 0; i < ul; i++) {
            if (uri[i] != '%')
                continue;
            FUZZ_CHECK(i + 2 < ul + 1 && hs_hex_digit((unsigned char)uri[i + 1]) >= 0 &&
                           hs_hex_digit((unsigned char)uri[i + 2]) >= 0,
                       "a bad escape in '%s'", uri);
            int c = hs_hex_digit((unsigned char)uri[i + 1]) * 16 + hs_hex_digit((unsigned char)uri[i + 2]);
            FUZZ_CHECK(!hs_is_unreserved(c), "an unreserved character still encoded in '%s'", uri);
            FUZZ_CHECK(!(uri[i + 1] >= 'a' && uri[i + 1] <= 'f') && !(uri[i + 2] >= 'a' && uri[i + 2] <= 'f'),
                       "lowercase hex in '%s'", uri);
        }
        char *again;
        size_t al;
        FUZZ_CHECK(norm(uri, ul, 0, &again, &al) == 0 && al == ul && memcmp(again, uri, ul) == 0,
                   "not idempotent: '%s'", uri);
        free(again);
        /* the file form is the URI form with its escapes decoded */
        if (sf == 0) {
            char *dec = malloc(ul + 1);
            ssize_t dl = hs_pct_decode(dec, uri, ul, HS_PCT_STRICT);
            FUZZ_CHECK(dl == (ssize_t)fl && memcmp(dec, file, fl) == 0, "'%s' decodes to other than '%s'", uri, file);
            free(dec);
        }
        FUZZ_CHECK(hs_path_has_prefix(hs_iov(uri, ul), hs_iov(uri, ul)), "not under itself");
        FUZZ_CHECK(hs_path_has_prefix(hs_iov(uri, ul), HS_IOV("/")), "not under /");
        if (pre) {
            char *x = fuzz_dup(pre, xlen);
            hs_iovec_t px = hs_iov(x, xlen);
            if (hs_path_has_prefix(hs_iov(uri, ul), px))
                FUZZ_CHECK(ul >= xlen && (xlen == 0 || x[xlen - 1] == '/' || ul == xlen || uri[xlen] == '/'),
                           "'%s' matched '%.*s' off a segment boundary", uri, (int)xlen, x);
            free(x);
        }
    } else {
        FUZZ_CHECK(sf != 0, "the file form exists where the URI form does not");
    }
    if (sf == 0 && memchr(file, '%', fl) == NULL && memchr(file, '?', fl) == NULL) {
        char *again;
        size_t al;
        int s2 = norm(file, fl, HS_PATH_DECODE, &again, &al);
        FUZZ_CHECK(s2 != 0 || (al == fl && memcmp(again, file, fl) == 0), "file form not idempotent: '%s'", file);
        free(again);
    }
    free(uri);
    free(file);
    free(p);
    return 0;
}
