/* statusd — byte ranges (RFC 9110 §14), implemented in src/http/range.c: parsing a Range field
 * against a representation, and the 206 body — a single part with Content-Range, or
 * multipart/byteranges.
 *
 * Parsing reads its arguments only and writes the caller's array. The body functions queue
 * slices of the caller's source (memory that must live as long as the request, or a file range
 * sent with sendfile) and arena text; they copy no representation bytes. */
#ifndef HS_RANGE_H
#define HS_RANGE_H

#include "hs/conditional.h"

#define HS_RANGE_MAX 16 /* more ranges than this are answered with the whole representation */
typedef struct hs_range_s {
    uint64_t first, last; /* inclusive */
} hs_range_t;
enum {
    HS_RANGE_NONE = 0,      /* no usable Range: send 200 with the full representation */
    HS_RANGE_OK,            /* *n satisfiable ranges, sorted and coalesced */
    HS_RANGE_UNSATISFIABLE, /* 416 (hs_range_not_satisfiable) */
};

/* Parse a Range value against a representation of `len` bytes (RFC 9110 §14.1.2, §14.2) into
 * out[0..HS_RANGE_MAX). Anything but a valid bytes range-set is HS_RANGE_NONE (ignored), and so
 * are more than HS_RANGE_MAX ranges or ranges asking for more bytes than the whole (overlaps,
 * repeats: §14.2 and §17.15 warn about amplification). *n is 0 unless HS_RANGE_OK. */
int hs_range_parse(hs_iovec_t v, uint64_t len, hs_range_t *out, size_t *n);

/* Range handling for a request, in full: only for GET, only with exactly one Range field, only
 * when If-Range (RFC 9110 §13.1.5) matches the validators; then hs_range_parse. */
int hs_range_select(const hs_req_t *req, const hs_validators_t *v, uint64_t len, hs_range_t *out, size_t *n);

/* A representation to send: a file (fd, sent with sendfile; mem NULL) or memory (mem). */
typedef struct hs_range_src_s {
    int fd;
    const char *mem;
    uint64_t len;
} hs_range_src_t;
/* Queue the parts for one range or several (multipart/byteranges with a random boundary,
 * RFC 9110 §14.6); sets Content-Range or the multipart Content-Type, and the content length.
 * The caller then sends 206. */
void hs_range_body(hs_req_t *req, const hs_range_src_t *src, const char *content_type, const hs_range_t *r, size_t n);
/* Queue the whole representation (200, or 226 for an instance manipulation). */
void hs_range_full_body(hs_req_t *req, const hs_range_src_t *src);
/* For 416: Content-Range: bytes * / len (RFC 9110 §15.5.17). */
void hs_range_not_satisfiable(hs_req_t *req, uint64_t len);

#endif
