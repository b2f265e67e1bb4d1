/* statusd — static origin: content codings (RFC 9110 §8.4, §12.5.3) and instance
 * manipulations (RFC 3229).
 *
 * Coded bytes are produced once per file version and kept in a small per-worker cache (no locks:
 * each worker thread has its own, found through a pthread key). An entry is keyed by the file's
 * identity (device, inode) and coding and is valid while size, mtime and ctime are unchanged.
 * The bytes are reference counted: a response being written keeps its blob alive even if the
 * cache drops it meanwhile. Files above compress_max are never coded on the fly.
 */
#define _GNU_SOURCE
#include "static.h"

#include <brotli/encode.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

const char *const hs__static_coding_name[HS_CODING__COUNT] = {"identity", "br", "zstd", "gzip", "deflate"};
const char *const hs__static_coding_ext[HS_CODING__COUNT] = {"", ".br", ".zst", ".gz", ""};
const char *const hs__static_coding_etag[HS_CODING__COUNT] = {NULL, "br", "zst", "gz", "zz"};

#define CACHE_ENTRIES 64
#define CACHE_MAX_BYTES (32u << 20) /* per worker */

/* ---- negotiation ---- */

static int coding_of(hs_iovec_t t)
{
    if (HS_IOV_IEQ(t, "br"))
        return HS_CODING_BR;
    if (HS_IOV_IEQ(t, "zstd"))
        return HS_CODING_ZSTD;
    if (HS_IOV_IEQ(t, "gzip") || HS_IOV_IEQ(t, "x-gzip")) /* RFC 9110 §8.4.1.3: x-gzip is gzip */
        return HS_CODING_GZIP;
    if (HS_IOV_IEQ(t, "deflate"))
        return HS_CODING_DEFLATE;
    if (HS_IOV_IEQ(t, "identity"))
        return HS_CODING_IDENTITY;
    return -1;
}

int hs__static_negotiate_encoding(const hs_req_t *req, unsigned avail, unsigned pre)
{
    int q[HS_CODING__COUNT], q_star = -1;
    for (int i = 0; i < HS_CODING__COUNT; i++)
        q[i] = -1;
    bool present = false;
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        if (h->token != HS_HDR_ACCEPT_ENCODING)
            continue;
        present = true;
        size_t pos = 0;
        hs_iovec_t el, tok;
        while ((el = hs_list_next(h->value, &pos)).base) {
            int w = hs_element_weight(el, &tok);
            if (w < 0)
                continue; /* a malformed member is ignored */
            if (tok.len == 1 && tok.base[0] == '*') {
                q_star = HS_MAX(q_star, w);
                continue;
            }
            int c = coding_of(tok);
            if (c >= 0)
                q[c] = HS_MAX(q[c], w);
        }
    }
    if (!present)
        return HS_CODING_IDENTITY; /* no preference stated: send the file as it is */
    /* RFC 9110 §12.5.3: a listed coding is acceptable unless q=0; "*" stands for codings not
     * listed. The highest q wins; ties go to a precompressed file, then to br, zstd, gzip. */
    int best = -1, best_q = 0;
    static const int order[] = {HS_CODING_BR, HS_CODING_ZSTD, HS_CODING_GZIP};
    for (size_t i = 0; i < HS_ARRAY_SIZE(order); i++) {
        int c = order[i];
        if (!(avail & (1u << c)))
            continue;
        int cq = q[c] >= 0 ? q[c] : q_star;
        if (cq <= 0)
            continue;
        if (best < 0 || cq > best_q || (cq == best_q && (pre & (1u << c)) && !(pre & (1u << best)))) {
            best = c;
            best_q = cq;
        }
    }
    /* identity is acceptable unless "identity;q=0", or "*;q=0" without an identity entry */
    int id_q = q[HS_CODING_IDENTITY] >= 0 ? q[HS_CODING_IDENTITY] : q_star; /* -1: implicit */
    if (best >= 0)
        return id_q > best_q ? HS_CODING_IDENTITY : best;
    return id_q == 0 ? -1 : HS_CODING_IDENTITY;
}

int hs__static_negotiate_im(const hs_req_t *req)
{
    /* RFC 3229 §10.5.3: A-IM = #( instance-manipulation [ ";" "q" "=" qvalue ] ) */
    int best = HS_CODING_IDENTITY, best_q = 0;
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        if (h->token != HS_HDR_A_IM)
            continue;
        size_t pos = 0;
        hs_iovec_t el, tok;
        while ((el = hs_list_next(h->value, &pos)).base) {
            int w = hs_element_weight(el, &tok);
            int c = w > 0 ? coding_of(tok) : -1;
            if (c != HS_CODING_GZIP && c != HS_CODING_DEFLATE)
                continue;
            if (w > best_q || (w == best_q && c == HS_CODING_GZIP)) {
                best = c;
                best_q = w;
            }
        }
    }
    return best;
}

/* ---- coding ---- */
static hs__static_blob_t *blob_new(char *data, size_t len)
{
    hs__static_blob_t *b = malloc(sizeof(*b));
    if (!b) {
        free(data);
        return NULL;
    }
    b->refs = 1;
    b->data = data;
    b->len = len;
    return b;
}

void hs__static_blob_release(hs__static_blob_t *b)
{
    if (b && --b->refs == 0) {
        free(b->data);
        free(b);
    }
}

static char *zlib_code(const char *in, size_t n, int window_bits, size_t *out_len)
{
    z_stream zs = {0};
    if (deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&zs, (uLong)n);
    char *out = malloc(cap);
    if (!out) {
        deflateEnd(&zs);
        return NULL;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    int r = deflate(&zs, Z_FINISH); /* the gzip header carries no name and mtime 0: deterministic */
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (r != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static char *code(const char *in, size_t n, int coding, size_t *out_len)
{
    switch (coding) {
    case HS_CODING_GZIP: return zlib_code(in, n, 15 + 16, out_len); /* RFC 9110 §8.4.1.3, RFC 1952 */
    case HS_CODING_DEFLATE: return zlib_code(in, n, 15, out_len);   /* RFC 9110 §8.4.1.2: zlib (RFC 1950) framing */
    case HS_CODING_BR: {                                            /* RFC 7932 */
        size_t cap = BrotliEncoderMaxCompressedSize(n);
        if (cap == 0)
            return NULL;
        char *out = malloc(cap);
        if (!out)
            return NULL;
        *out_len = cap;
        if (!BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, n, (const uint8_t *)in, out_len,
                                   (uint8_t *)out)) {
            free(out);
            return NULL;
        }
        return out;
    }
    case HS_CODING_ZSTD: { /* RFC 8878 */
        size_t cap = ZSTD_compressBound(n);
        char *out = malloc(cap);
        if (!out)
            return NULL;
        size_t r = ZSTD_compress(out, cap, in, n, 3);
        if (ZSTD_isError(r)) {
            free(out);
            return NULL;
        }
        *out_len = r;
        return out;
    }
    default: return NULL;
    }
}

/* ---- the per-worker cache ---- */
typedef struct {
    struct stat st; /* the version coded */
    int coding;
    uint64_t used;
    hs__static_blob_t *blob;
} centry_t;

struct hs__static_ccache_s {
    centry_t e[CACHE_ENTRIES];
    size_t bytes;
    uint64_t tick;
};
typedef hs__static_ccache_t cache_t;

static void cache_drop(cache_t *c, centry_t *e)
{
    if (!e->blob)
        return;
    c->bytes -= e->blob->len;
    hs__static_blob_release(e->blob);
    e->blob = NULL;
}

hs__static_ccache_t *hs__static_ccache_new(void)
{
    return hs_calloc(1, sizeof(cache_t));
}

void hs__static_ccache_free(hs__static_ccache_t *c)
{
    for (size_t i = 0; i < CACHE_ENTRIES; i++)
        cache_drop(c, &c->e[i]);
    free(c);
}

static bool same_version(const centry_t *e, const struct stat *st, int coding)
{
    return e->blob && e->coding == coding && hs__static_same_version(&e->st, st);
}

hs__static_blob_t *hs__static_compress_cached(hs__static_ccache_t *c, const struct stat *st, int coding)
{
    c->tick++;
    for (size_t i = 0; i < CACHE_ENTRIES; i++) {
        centry_t *e = &c->e[i];
        if (same_version(e, st, coding)) {
            e->used = c->tick;
            e->blob->refs++;
            return e->blob;
        }
        if (e->blob && e->coding == coding && e->st.st_dev == st->st_dev && e->st.st_ino == st->st_ino)
            cache_drop(c, e); /* an older version of the same file */
    }
    return NULL;
}

hs__static_blob_t *hs__static_code_file(int fd, const struct stat *st, int coding, uint64_t max)
{
    if ((uint64_t)st->st_size > max)
        return NULL;
    size_t n = (size_t)st->st_size;
    char *in = malloc(n ? n : 1);
    if (!in)
        return NULL;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, in + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(in);
            return NULL; /* shrank or unreadable: the caller sends it uncoded */
        }
        got += (size_t)r;
    }
    size_t out_len = 0;
    char *out = code(in, n, coding, &out_len);
    free(in);
    if (!out)
        return NULL;
    return blob_new(out, out_len);
}

void hs__static_compress_keep(hs__static_ccache_t *c, const struct stat *st, int coding, hs__static_blob_t *b)
{
    if (b->len > CACHE_MAX_BYTES / 4)
        return; /* too big to keep: the response owns it alone */
    for (size_t i = 0; i < CACHE_ENTRIES; i++)
        if (same_version(&c->e[i], st, coding))
            return; /* coded twice meanwhile (two requests): the first copy stays */
    /* make room: evict least recently used entries until the bytes fit and a slot is free */
    centry_t *slot = NULL;
    for (;;) {
        centry_t *lru = NULL;
        slot = NULL;
        for (size_t i = 0; i < CACHE_ENTRIES; i++) {
            centry_t *e = &c->e[i];
            if (!e->blob) {
                if (!slot)
                    slot = e;
            } else if (!lru || e->used < lru->used) {
                lru = e;
            }
        }
        if (slot && c->bytes + b->len <= CACHE_MAX_BYTES)
            break;
        cache_drop(c, lru);
    }
    *slot = (centry_t){.st = *st, .coding = coding, .used = ++c->tick, .blob = b};
    c->bytes += b->len;
    b->refs++; /* the cache's own reference */
}

hs__static_blob_t *hs__static_compress(hs__static_ccache_t *c, int fd, const struct stat *st, int coding, uint64_t max)
{
    hs__static_blob_t *b = hs__static_compress_cached(c, st, coding);
    if (b)
        return b;
    b = hs__static_code_file(fd, st, coding, max);
    if (b)
        hs__static_compress_keep(c, st, coding, b);
    return b;
}
