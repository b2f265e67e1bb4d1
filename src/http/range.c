/* statusd — byte ranges (RFC 9110 §14): for the static origin and any handler with a
 * representation of known length.
 *
 * Parsing is strict: anything that is not a valid bytes range-set is ignored as a whole, and the
 * full representation is sent with 200 (RFC 9110 §14.2: "a server MAY ignore the Range header
 * field"). Satisfiable ranges are clamped, sorted and coalesced when they overlap or touch
 * (§14.2 allows it). Amplification is refused by serving the whole representation once:
 * more than HS_RANGE_MAX ranges, or ranges that together ask for more bytes than the
 * representation has (overlaps, repeats) — §14.2 and §17.15 warn about exactly this.
 */
#define _GNU_SOURCE
#include "hs/range.h"

#include "hs/codec.h"
#include "hs/crypto.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* 1*DIGIT, saturating at UINT64_MAX. Returns the number of digits read. */
static size_t parse_u64(const char *p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;
    while (p + n < end && p[n] >= '0' && p[n] <= '9') {
        unsigned d = (unsigned)(p[n] - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
        n++;
    }
    *out = v;
    return n;
}

static int cmp_range(const void *a, const void *b)
{
    const hs_range_t *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

int hs_range_parse(hs_iovec_t v, uint64_t len, hs_range_t *out, size_t *n)
{
    *n = 0;
    /* ranges-specifier = range-unit "=" range-set; the unit is case-insensitive (§14.1) */
    if (v.len < 6 || !hs_iov_ieq(hs_iov(v.base, 6), "bytes=", 6))
        return HS_RANGE_NONE; /* another unit, or not a range at all: ignored */
    const char *p = v.base + 6, *end = v.base + v.len;
    size_t specs = 0, sat = 0;
    bool suffix_on_empty = false;
    uint64_t total = 0;
    for (;;) {
        /* 1#range-spec: empty list elements and OWS around commas are allowed (§5.6.1) */
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p >= end)
            break;
        if (++specs > HS_RANGE_MAX)
            return HS_RANGE_NONE; /* too many ranges: answer with the whole thing once */
        uint64_t first = 0, last = UINT64_MAX;
        bool suffix = false;
        if (*p == '-') {
            /* suffix-range = "-" suffix-length */
            p++;
            size_t d = parse_u64(p, end, &last);
            if (d == 0)
                return HS_RANGE_NONE;
            p += d;
            suffix = true;
        } else {
            /* int-range = first-pos "-" [ last-pos ] */
            size_t d = parse_u64(p, end, &first);
            if (d == 0)
                return HS_RANGE_NONE;
            p += d;
            if (p >= end || *p != '-')
                return HS_RANGE_NONE;
            p++;
            d = parse_u64(p, end, &last);
            p += d;
            if (d == 0)
                last = UINT64_MAX;
            else if (last < first)
                return HS_RANGE_NONE; /* §14.1.1: invalid, so the whole field is ignored */
        }
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p != ',')
            return HS_RANGE_NONE;
        /* §14.1.1 satisfiability: an int-range whose first-pos is below the length; a
         * suffix-range with a non-zero length */
        hs_range_t r;
        if (suffix) {
            if (last == 0)
                continue;
            if (len == 0) {
                suffix_on_empty = true;
                continue;
            }
            r.first = last >= len ? 0 : len - last;
            r.last = len - 1;
        } else {
            if (first >= len)
                continue;
            r.first = first;
            r.last = last >= len ? len - 1 : last;
        }
        total += r.last - r.first + 1;
        out[sat++] = r;
    }
    if (specs == 0)
        return HS_RANGE_NONE; /* "bytes=" alone is not a range-set */
    if (sat == 0)
        /* an empty representation cannot carry a 206 (no byte to point at): a non-zero suffix
         * range on it is answered with the (empty) whole, anything else is unsatisfiable */
        return suffix_on_empty ? HS_RANGE_NONE : HS_RANGE_UNSATISFIABLE;
    if (total > len)
        return HS_RANGE_NONE; /* overlapping or repeated ranges would amplify: send it once */
    qsort(out, sat, sizeof(*out), cmp_range);
    size_t k = 0;
    for (size_t i = 1; i < sat; i++) {
        if (out[i].first <= out[k].last + 1) { /* overlapping or adjacent: one range */
            if (out[i].last > out[k].last)
                out[k].last = out[i].last;
        } else {
            out[++k] = out[i];
        }
    }
    *n = k + 1;
    return HS_RANGE_OK;
}

static void body_part(hs_req_t *req, const hs_range_src_t *b, uint64_t off, uint64_t len)
{
    if (len == 0)
        return;
    if (b->mem)
        hs_res_body(req, b->mem + off, (size_t)len);
    else
        hs_res_body_file(req, b->fd, (off_t)off, (size_t)len);
}

void hs_range_full_body(hs_req_t *req, const hs_range_src_t *b)
{
    body_part(req, b, 0, b->len);
    req->content_length = (int64_t)b->len;
}

void hs_range_body(hs_req_t *req, const hs_range_src_t *b, const char *content_type, const hs_range_t *r, size_t n)
{
    if (n == 1) {
        /* RFC 9110 §14.4: a single part carries Content-Range in the header section */
        hs_res_headerf(req, "Content-Range", "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, r[0].first, r[0].last, b->len);
        req->content_type = content_type;
        body_part(req, b, r[0].first, r[0].last - r[0].first + 1);
        req->content_length = (int64_t)(r[0].last - r[0].first + 1);
        return;
    }
    /* RFC 9110 §14.6: multipart/byteranges, each part with its Content-Type and Content-Range;
     * the boundary is random per response so that it cannot occur in the file by design */
    unsigned char rnd[12];
    hs_random(rnd, sizeof(rnd));
    char boundary[2 * sizeof(rnd) + 1];
    hs_hex_encode(boundary, rnd, sizeof(rnd));
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        hs_iovec_t h = hs_arena_printf(&req->arena,
                                       "%s--%s\r\nContent-Type: %s\r\nContent-Range: bytes %" PRIu64 "-%" PRIu64
                                       "/%" PRIu64 "\r\n\r\n",
                                       i ? "\r\n" : "", boundary, content_type, r[i].first, r[i].last, b->len);
        hs_res_body(req, h.base, h.len);
        body_part(req, b, r[i].first, r[i].last - r[i].first + 1);
        total += h.len + (r[i].last - r[i].first + 1);
    }
    hs_iovec_t tail = hs_arena_printf(&req->arena, "\r\n--%s--\r\n", boundary);
    hs_res_body(req, tail.base, tail.len);
    total += tail.len;
    req->content_type = hs_arena_printf(&req->arena, "multipart/byteranges; boundary=%s", boundary).base;
    req->content_length = (int64_t)total;
}

int hs_range_select(const hs_req_t *req, const hs_validators_t *v, uint64_t len, hs_range_t *out, size_t *n)
{
    /* RFC 9110 §14.2: Range only for GET (ignored for HEAD and anything else); a repeated Range
     * field is not a valid range-set; step 5 of §13.2.2: If-Range decides whether it applies */
    *n = 0;
    if (req->p.method_id != HS_METHOD_GET || hs_req_field_count(req, HS_HDR_RANGE) != 1 || !hs_if_range(req, v))
        return HS_RANGE_NONE;
    return hs_range_parse(req->meta.h[HS_HDR_RANGE]->value, len, out, n);
}

void hs_range_not_satisfiable(hs_req_t *req, uint64_t len)
{
    hs_res_headerf(req, "Content-Range", "bytes */%" PRIu64, len);
}
