/* statusd fuzz target: the request-facing parsers the static origin uses (src/modules/static/ and
 * the shared ones under src/http/ and src/core/):
 *   hs__static_map            path normalisation (percent-decoding, dot segments, RFC 3986 §5.2.4)
 *   hs_pct_encode_arena       its inverse for Location/href (src/core/codec.c)
 *   hs_range_parse            Range (RFC 9110 §14.1.2, §14.2; src/http/range.c)
 *   hs_preconditions          If-Match / If-Unmodified-Since / If-None-Match / If-Modified-Since
 *                             in the order of RFC 9110 §13.2.2 (src/http/conditional.c), for
 *                             existing, weakly tagged and missing resources
 *   hs_if_range               If-Range (§13.1.5)
 *   hs__static_negotiate_encoding / _im   Accept-Encoding (§12.5.3), A-IM (RFC 3229)
 *
 * Input: pieces separated by "\xff\xfe": [path] [Range value] [header lines of a GET request].
 *
 * Checks (beyond no crash/over-read/leak):
 *   map        the result never names anything above the root: no "." or ".." segment, no empty
 *              segment, no leading '/', no NUL; it is no longer than the input; and mapping is
 *              idempotent: "/" + pct_encode(rel) maps to the same rel;
 *   range      HS_RANGE_OK gives 1..HS_RANGE_MAX sorted, disjoint, non-adjacent ranges
 *              inside the representation whose total does not exceed it; otherwise n == 0;
 *   conditions 0, 304 or 412; If-Range a boolean; codings within what was offered.
 */
#define _GNU_SOURCE
#include "../src/modules/static/static.h"
#include "fuzz_util.h"

#define MAX_HEADERS 32

static void check_map(const uint8_t *p, size_t n)
{
    hs_arena_t a;
    hs_arena_init(&a);
    char *path = fuzz_dup(p, n);
    hs__static_path_t out;
    const char *detail = NULL;
    int st = hs__static_map(&a, hs_iov(path, n), false, &out, &detail);
    if (st == 0 && hs_path_is_plain(hs_iov(path, n)) && !memchr(path, '?', n)) {
        /* the short way for plain paths maps to the same file as the walk */
        hs__static_path_t quick;
        FUZZ_CHECK(hs__static_map(&a, hs_iov(path, n), true, &quick, &detail) == 0 && quick.len == out.len &&
                       memcmp(quick.rel, out.rel, out.len) == 0 && quick.trailing_slash == out.trailing_slash,
                   "plain path mapped differently: %s", path);
    }
    if (st != 0) {
        FUZZ_CHECK(st == 400 || st == 404, "map status %d", st);
        FUZZ_CHECK(detail && detail[0], "map error without detail");
    } else {
        FUZZ_CHECK(out.rel && strlen(out.rel) == out.len, "rel length %zu vs %zu", out.rel ? strlen(out.rel) : 0,
                   out.len);
        FUZZ_CHECK(out.len < n, "rel of %zu bytes from a path of %zu", out.len, n);
        FUZZ_CHECK(out.len == 0 || out.rel[0] != '/', "rel starts with '/': %s", out.rel);
        FUZZ_CHECK(out.len == 0 || out.rel[out.len - 1] != '/', "rel ends with '/': %s", out.rel);
        /* segments */
        size_t s = 0;
        while (out.len && s <= out.len) {
            size_t e = s;
            while (e < out.len && out.rel[e] != '/')
                e++;
            size_t l = e - s;
            FUZZ_CHECK(l > 0, "empty segment in %s", out.rel);
            FUZZ_CHECK(!(l == 1 && out.rel[s] == '.'), "'.' segment in %s", out.rel);
            FUZZ_CHECK(!(l == 2 && out.rel[s] == '.' && out.rel[s + 1] == '.'), "'..' segment in %s", out.rel);
            s = e + 1;
        }
        if (out.len == 0)
            FUZZ_CHECK(out.trailing_slash, "the root is a directory");
        /* idempotent: re-encode, map again */
        hs_iovec_t enc = hs_pct_encode_arena(&a, out.rel, out.len, HS_PCT_KEEP_SLASH);
        FUZZ_CHECK(strlen(enc.base) == enc.len, "pct_encode length");
        char *again = malloc(enc.len + 1);
        again[0] = '/';
        memcpy(again + 1, enc.base, enc.len);
        hs__static_path_t out2;
        int st2 = hs__static_map(&a, hs_iov(again, enc.len + 1), false, &out2, &detail);
        FUZZ_CHECK(st2 == 0, "re-mapping '%s' failed with %d", again, st2);
        FUZZ_CHECK(out2.len == out.len && memcmp(out2.rel, out.rel, out.len) == 0, "map not idempotent: %s -> %s",
                   out.rel, out2.rel);
        free(again);
        /* without keep_slash no '/' survives */
        hs_iovec_t enc2 = hs_pct_encode_arena(&a, out.rel, out.len, 0);
        FUZZ_CHECK(memchr(enc2.base, '/', enc2.len) == NULL, "'/' not encoded");
    }
    free(path);
    hs_arena_reset(&a);
}

static void check_range(const uint8_t *p, size_t n)
{
    static const uint64_t lens[] = {0, 1, 2, 100, 10000, (uint64_t)1 << 40, UINT64_MAX};
    char *v = fuzz_dup(p, n);
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        uint64_t len = lens[k];
        hs_range_t r[HS_RANGE_MAX + 1];
        size_t nr = 99;
        int res = hs_range_parse(hs_iov(v, n), len, r, &nr);
        if (res != HS_RANGE_OK) {
            FUZZ_CHECK(res == HS_RANGE_NONE || res == HS_RANGE_UNSATISFIABLE, "range result %d", res);
            FUZZ_CHECK(nr == 0, "%zu ranges with result %d", nr, res);
            continue;
        }
        FUZZ_CHECK(nr >= 1 && nr <= HS_RANGE_MAX, "%zu ranges", nr);
        uint64_t total = 0;
        for (size_t i = 0; i < nr; i++) {
            FUZZ_CHECK(r[i].first <= r[i].last && r[i].last < len, "range %llu-%llu of %llu",
                       (unsigned long long)r[i].first, (unsigned long long)r[i].last, (unsigned long long)len);
            if (i)
                FUZZ_CHECK(r[i].first > r[i - 1].last + 1, "ranges not coalesced/sorted");
            total += r[i].last - r[i].first + 1;
        }
        FUZZ_CHECK(total <= len, "ranges total %llu of %llu", (unsigned long long)total, (unsigned long long)len);
    }
    free(v);
}

static void check_conditions(const uint8_t *p, size_t n)
{
    static const char pre[] = "GET /f HTTP/1.1\r\nHost: t\r\n";
    size_t len = sizeof(pre) - 1 + n + 2;
    char *buf = malloc(len);
    memcpy(buf, pre, sizeof(pre) - 1);
    memcpy(buf + sizeof(pre) - 1, p, n);
    memcpy(buf + len - 2, "\r\n", 2);
    hs_header_t headers[MAX_HEADERS];
    hs_req_t *req = calloc(1, sizeof(*req));
    req->p.headers = headers;
    hs_parse_limits_t lim = {.max_uri = 1024, .max_field = 4096, .max_head = 8192, .max_headers = MAX_HEADERS};
    int r = hs_parse_request(buf, len, &req->p, &lim);
    if (r > 0 && hs_parse_semantics(&req->p, &req->meta) == HS_OK) {
        static const char *const etags[] = {"\"abc\"", "\"\"", "\"a,b\"", "W/\"abc\""};
        static const time_t lms[] = {0, 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */, 2000000000};
        for (size_t e = 0; e < 4; e++) {
            for (size_t t = 0; t < 3; t++) {
                hs_validators_t v = {
                    .exists = true, .has_last_modified = true, .etag = hs_iov_cstr(etags[e]), .last_modified = lms[t]};
                int pc = hs_preconditions(req, &v);
                FUZZ_CHECK(pc == 0 || pc == 304 || pc == 412, "preconditions %d", pc);
                bool ir = hs_if_range(req, &v);
                if (!req->meta.h[HS_HDR_IF_RANGE])
                    FUZZ_CHECK(ir, "If-Range absent must allow the Range");
                if (e == 3 && ir && req->meta.h[HS_HDR_IF_RANGE]) {
                    /* our tag is weak: only a date can match (strong comparison) */
                    hs_iovec_t f = req->meta.h[HS_HDR_IF_RANGE]->value;
                    FUZZ_CHECK(f.len && f.base[0] != '"' && !(f.len >= 2 && f.base[0] == 'W' && f.base[1] == '/'),
                               "a weak tag matched If-Range");
                }
            }
        }
        hs_validators_t missing = {.exists = false};
        int pm = hs_preconditions(req, &missing);
        FUZZ_CHECK(pm == 0 || pm == 412, "a missing resource is never 304 (got %d)", pm);
        if (req->meta.h[HS_HDR_IF_MATCH])
            FUZZ_CHECK(pm == 412, "If-Match on a missing resource must fail");
        for (unsigned avail = 0; avail < (1u << HS_CODING__COUNT); avail += 3) {
            int c = hs__static_negotiate_encoding(req, avail, avail & 0x5);
            FUZZ_CHECK(c == -1 || c == HS_CODING_IDENTITY || (c > 0 && c < HS_CODING__COUNT && (avail & (1u << c))),
                       "coding %d not offered (avail %x)", c, avail);
        }
        int im = hs__static_negotiate_im(req);
        FUZZ_CHECK(im == HS_CODING_IDENTITY || im == HS_CODING_GZIP || im == HS_CODING_DEFLATE, "A-IM %d", im);
    }
    free(req);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    const uint8_t *piece;
    size_t plen;
    int k = 0;
    while (k < 3 && fuzz_next_piece(data, size, &pos, 0xff, 0xfe, &piece, &plen)) {
        if (k == 0)
            check_map(piece, plen);
        else if (k == 1)
            check_range(piece, plen);
        else
            check_conditions(piece, plen);
        k++;
    }
    return 0;
}
