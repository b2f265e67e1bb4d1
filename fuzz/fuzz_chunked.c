/* statusd fuzz target: the chunked transfer-coding decoder (RFC 9112 §7.1).
 *
 * The input is split at the marker byte 0xFF into pieces; the pieces (without the markers) form
 * the byte stream. It is decoded three ways, each from exact-size heap buffers so any over-read
 * is caught:
 *   one-shot   the whole stream in one call;
 *   pieces     one call per piece, carrying the decoder state (and, like conn.c, any bytes not
 *              consumed) from call to call;
 *   bytewise   one call per byte — the most state carry-over possible.
 * All three must agree on the outcome (HS_DONE / HS_AGAIN / HS_ERROR and its status), on the
 * decoded data, and on where the body ends (bytes after it belong to the next request, so a
 * disagreement here is exactly a request-smuggling bug). Also: *len <= *consumed, HS_AGAIN
 * consumes everything it was given, the decoded size never exceeds max_body, and a status is
 * one of 400/413/431.
 */
#include "hs/parse.h"
#include "fuzz_util.h"

#define MARKER 0xFF

static const hs_chunked_limits_t limits = {
    .max_body = 1 << 20,
    .max_ext = 64,
    .max_trailer = 128,
};

typedef struct {
    int ret;    /* HS_DONE, HS_AGAIN, HS_ERROR */
    int status; /* on HS_ERROR */
    size_t end; /* stream offset just after the body (HS_DONE) or of the failure (HS_ERROR) */
    char *out;  /* decoded bytes */
    size_t out_len, out_cap;
} result_t;

static void append(result_t *r, const char *p, size_t n)
{
    if (!n)
        return;
    if (r->out_len + n > r->out_cap) {
        r->out_cap = (r->out_len + n) * 2;
        r->out = realloc(r->out, r->out_cap);
        if (!r->out)
            abort();
    }
    memcpy(r->out + r->out_len, p, n);
    r->out_len += n;
}

/* Feed the stream in pieces of the given lengths (summing to len). Returns the outcome. */
static result_t decode(const char *stream, size_t len, const size_t *pieces, size_t npieces)
{
    result_t r = {.ret = HS_AGAIN};
    hs_chunked_t d;
    memset(&d, 0, sizeof(d));
    size_t fed = 0;  /* stream bytes handed to the decoder's input window so far */
    size_t base = 0; /* stream offset of the first byte not consumed yet */
    for (size_t i = 0; i < npieces && r.ret == HS_AGAIN; i++) {
        fed += pieces[i];
        size_t n = fed - base; /* unconsumed bytes + the new piece, as conn.c presents them */
        char *buf = fuzz_dup((const uint8_t *)stream + base, n);
        size_t blen = n, consumed = 0;
        int status = 0;
        const char *detail = NULL;
        int ret = hs_chunked_decode(&d, buf, &blen, &consumed, &limits, &status, &detail);
        FUZZ_CHECK(consumed <= n, "consumed %zu of %zu", consumed, n);
        FUZZ_CHECK(blen <= consumed, "decoded %zu bytes from %zu consumed", blen, consumed);
        append(&r, buf, blen);
        free(buf);
        if (ret == HS_AGAIN) {
            FUZZ_CHECK(consumed == n, "HS_AGAIN left %zu of %zu bytes unconsumed", n - consumed, n);
        } else if (ret == HS_DONE) {
            r.end = base + consumed;
        } else {
            FUZZ_CHECK(ret == HS_ERROR, "decoder returned %d", ret);
            FUZZ_CHECK(status == 400 || status == 413 || status == 431, "status %d", status);
            FUZZ_CHECK(detail && detail[0], "error without a detail");
            r.status = status;
            r.end = base + consumed;
        }
        base += consumed;
        r.ret = ret;
    }
    FUZZ_CHECK(r.out_len <= limits.max_body, "decoded %zu bytes, beyond max_body", r.out_len);
    if (r.ret == HS_DONE)
        FUZZ_CHECK(d.total == r.out_len, "total %llu but %zu bytes decoded", (unsigned long long)d.total, r.out_len);
    (void)len;
    return r;
}

static void same(const result_t *a, const result_t *b, const char *what)
{
    FUZZ_CHECK(a->ret == b->ret, "%s: outcome %d vs one-shot %d", what, b->ret, a->ret);
    if (a->ret == HS_ERROR)
        FUZZ_CHECK(a->status == b->status, "%s: status %d vs one-shot %d", what, b->status, a->status);
    if (a->ret == HS_DONE)
        FUZZ_CHECK(a->end == b->end, "%s: body ends at %zu vs one-shot %zu", what, b->end, a->end);
    /* the decoded data must agree, also on error (the failure is at the same stream offset) */
    FUZZ_CHECK(a->out_len == b->out_len, "%s: %zu decoded bytes vs one-shot %zu", what, b->out_len, a->out_len);
    FUZZ_CHECK(a->out_len == 0 || memcmp(a->out, b->out, a->out_len) == 0, "%s: decoded bytes differ", what);
    if (a->ret == HS_ERROR)
        FUZZ_CHECK(a->end == b->end, "%s: failure at %zu vs one-shot %zu", what, b->end, a->end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the stream without markers, and the piece lengths */
    char *stream = malloc(size ? size : 1);
    size_t *pieces = malloc((size + 1) * sizeof(size_t));
    size_t len = 0, np = 0, cur = 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == MARKER) {
            pieces[np++] = cur;
            cur = 0;
            continue;
        }
        stream[len++] = (char)data[i];
        cur++;
    }
    pieces[np++] = cur;

    size_t whole = len;
    result_t one = decode(stream, len, &whole, 1);
    result_t split = decode(stream, len, pieces, np);
    same(&one, &split, "pieces");

    size_t *bytes = malloc((len ? len : 1) * sizeof(size_t));
    for (size_t i = 0; i < len; i++)
        bytes[i] = 1;
    result_t bw = decode(stream, len, bytes, len);
    same(&one, &bw, "bytewise");

    free(one.out);
    free(split.out);
    free(bw.out);
    free(bytes);
    free(pieces);
    free(stream);
    return 0;
}
