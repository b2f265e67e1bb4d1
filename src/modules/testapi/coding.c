/* statusd — client-testing API: the content codings (gzip, deflate, br, zstd), compressing a
 * response body (/gzip, /deflate, /brotli, /zstd, /status with Accept-Encoding) and decoding a
 * request body the echo routes report (Content-Encoding), within a limit so that a
 * decompression bomb stops where the limit says. */
#include "api.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

bool api_compress(int enc, const void *in, size_t n, hs_buf_t *out)
{
    switch (enc) {
    case API_ENC_GZIP:
    case API_ENC_DEFLATE: {
        z_stream z;
        memset(&z, 0, sizeof(z));
        /* windowBits 15 + 16 writes a gzip wrapper (RFC 1952); 15 alone a zlib one (RFC 1950),
         * which is what "deflate" means in HTTP (RFC 9110 §8.4.1.2) */
        if (deflateInit2(&z, 6, Z_DEFLATED, enc == API_ENC_GZIP ? 31 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return false;
        size_t bound = deflateBound(&z, (uLong)n) + 32;
        if (hs_buf_reserve(out, bound, SIZE_MAX / 2) != HS_OK) {
            deflateEnd(&z);
            return false;
        }
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = (uInt)n;
        z.next_out = (Bytef *)out->base + out->len;
        z.avail_out = (uInt)bound;
        int r = deflate(&z, Z_FINISH);
        out->len += bound - z.avail_out;
        deflateEnd(&z);
        return r == Z_STREAM_END;
    }
    case API_ENC_BROTLI: {
        size_t bound = BrotliEncoderMaxCompressedSize(n);
        if (bound == 0 || hs_buf_reserve(out, bound, SIZE_MAX / 2) != HS_OK)
            return false;
        size_t len = bound;
        if (!BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, n, in, &len,
                                   (uint8_t *)out->base + out->len))
            return false;
        out->len += len;
        return true;
    }
    case API_ENC_ZSTD: {
        size_t bound = ZSTD_compressBound(n);
        if (hs_buf_reserve(out, bound, SIZE_MAX / 2) != HS_OK)
            return false;
        size_t len = ZSTD_compress(out->base + out->len, bound, in, n, 3);
        if (ZSTD_isError(len))
            return false;
        out->len += len;
        return true;
    }
    }
    return false;
}

int api_coding(hs_iovec_t name)
{
    if (HS_IOV_IEQ(name, "gzip") || HS_IOV_IEQ(name, "x-gzip")) /* RFC 9110 §8.4.1.3 */
        return API_ENC_GZIP;
    if (HS_IOV_IEQ(name, "deflate"))
        return API_ENC_DEFLATE;
    if (HS_IOV_IEQ(name, "br"))
        return API_ENC_BROTLI;
    if (HS_IOV_IEQ(name, "zstd"))
        return API_ENC_ZSTD;
    return -1;
}

/* Room for the next piece of output, within the limit. */
static char *grow(hs_buf_t *out, size_t limit, size_t *room)
{
    size_t want = HS_MIN((size_t)65536, limit - out->len);
    if (want == 0 || hs_buf_reserve(out, want, limit) != HS_OK)
        return NULL;
    *room = out->cap - out->len < want ? out->cap - out->len : want;
    return out->base + out->len;
}

/* Inflate all of in[0..n) with these zlib window bits: 1 done, 0 over the limit, -1 broken or
 * truncated. */
static int inflate_all(int window_bits, const void *in, size_t n, size_t limit, hs_buf_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, window_bits) != Z_OK)
        return -1;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    int r = Z_OK;
    while (r == Z_OK) {
        size_t room;
        char *p = grow(out, limit, &room);
        if (!p) {
            inflateEnd(&z);
            return 0;
        }
        z.next_out = (Bytef *)p;
        z.avail_out = (uInt)room;
        r = inflate(&z, Z_NO_FLUSH);
        out->len += room - z.avail_out;
        if (r == Z_BUF_ERROR && z.avail_in == 0)
            break; /* truncated */
    }
    inflateEnd(&z);
    return r == Z_STREAM_END ? 1 : -1;
}

int api_decompress(int enc, const void *in, size_t n, size_t limit, hs_buf_t *out)
{
    switch (enc) {
    case API_ENC_GZIP:
    case API_ENC_DEFLATE: {
        /* 15 + 32: zlib and gzip wrappers both; a raw deflate stream, which some clients send
         * for "deflate", is tried after */
        int r = inflate_all(15 + 32, in, n, limit, out);
        if (r < 0 && enc == API_ENC_DEFLATE && out->len == 0)
            r = inflate_all(-15, in, n, limit, out);
        return r;
    }
    case API_ENC_BROTLI: {
        BrotliDecoderState *st = BrotliDecoderCreateInstance(NULL, NULL, NULL);
        if (!st)
            return -1;
        size_t avail_in = n;
        const uint8_t *next_in = in;
        BrotliDecoderResult r = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
        while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
            size_t room;
            char *p = grow(out, limit, &room);
            if (!p) {
                BrotliDecoderDestroyInstance(st);
                return 0;
            }
            size_t avail_out = room;
            uint8_t *next_out = (uint8_t *)p;
            r = BrotliDecoderDecompressStream(st, &avail_in, &next_in, &avail_out, &next_out, NULL);
            out->len += room - avail_out;
        }
        BrotliDecoderDestroyInstance(st);
        return r == BROTLI_DECODER_RESULT_SUCCESS ? 1 : -1;
    }
    case API_ENC_ZSTD: {
        ZSTD_DCtx *d = ZSTD_createDCtx();
        if (!d)
            return -1;
        ZSTD_inBuffer ib = {in, n, 0};
        size_t r = 1;
        while (r != 0) {
            size_t room;
            char *p = grow(out, limit, &room);
            if (!p) {
                ZSTD_freeDCtx(d);
                return 0;
            }
            ZSTD_outBuffer ob = {p, room, 0};
            r = ZSTD_decompressStream(d, &ob, &ib);
            out->len += ob.pos;
            if (ZSTD_isError(r) || (ib.pos == ib.size && ob.pos < room && r != 0)) {
                ZSTD_freeDCtx(d);
                return -1; /* broken, or ended before its frame did */
            }
        }
        ZSTD_freeDCtx(d);
        return ib.pos == ib.size ? 1 : -1;
    }
    }
    return -1;
}
