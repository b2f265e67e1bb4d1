/* statusd — client-testing API: a body sink that never holds the body.
 *   POST|PUT /sink[?rate=SIZE][&max=SIZE]
 * The request body is taken as it arrives (hs_req_body_stream) and only counted and hashed:
 * {"bytes": N, "pieces": N, "sha256": "…"}. With rate (bytes per second, k/m/g suffixes), the
 * body is read no faster than that: reading pauses and resumes on the request timer, so the
 * client sees TCP back-pressure — a way to test an uploader against a slow server. With max, a
 * body larger than that is answered 413 as soon as it is (never after reading the rest).
 * Whatever the body size (up to --max-body), the server holds one input buffer for it. */
#define _GNU_SOURCE
#include "api.h"

#include <openssl/evp.h>
#include <stdio.h>

typedef struct {
    EVP_MD_CTX *sha;
    uint64_t bytes, pieces, rate, max;
    uint64_t start_ms;
} sink_t;

static void sink_free(void *p)
{
    sink_t *s = p;
    if (s->sha) {
        EVP_MD_CTX_free(s->sha);
        s->sha = NULL;
    }
}

static void resume(hs_req_t *req)
{
    hs_req_body_resume(req);
}

static void answer(hs_req_t *req, sink_t *s)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(s->sha, md, &mdlen);
    char hex[65];
    hex[hs_hex_encode(hex, md, mdlen)] = '\0';
    hs_buf_t b = {0};
    hs_buf_printf(&b, "{\n  \"bytes\": %llu,\n  \"pieces\": %llu,\n  \"sha256\": \"%s\",\n  \"seconds\": %.3f\n}\n",
                  (unsigned long long)s->bytes, (unsigned long long)s->pieces, hex,
                  (double)(api_now_ms(req) - s->start_ms) / 1000);
    api_send_buf(req, 200, &b, "application/json");
}

static void piece(hs_req_t *req, const char *data, size_t len, int how)
{
    sink_t *s = API_CTX(req);
    if (how == HS_BODY_ERROR)
        return; /* answered by the engine (400, 408, 413, 431) or nobody is left (499) */
    if (len > 0) {
        if (s->max && s->bytes + len > s->max) {
            /* RFC 9110 §15.5.14: refused as soon as it is known, without reading the rest */
            api_fail(req, 413, "the body is larger than max=%llu bytes", (unsigned long long)s->max);
            return;
        }
        EVP_DigestUpdate(s->sha, data, len);
        s->bytes += len;
        s->pieces++;
    }
    if (how == HS_BODY_END) {
        answer(req, s);
        return;
    }
    if (s->rate) {
        /* ahead of the allowed rate: pause until the clock catches up with the bytes read */
        uint64_t due = s->start_ms + s->bytes * 1000 / s->rate;
        uint64_t now = api_now_ms(req);
        if (due > now) {
            hs_req_body_pause(req);
            hs_req_set_timer(req, due - now, resume);
        }
    }
}

int api_r_sink(hs_req_t *req, hs_iovec_t rest)
{
    HS_UNUSED(rest);
    sink_t *s = hs_arena_alloc(&req->arena, sizeof(*s));
    memset(s, 0, sizeof(*s));
    hs_iovec_t v;
    if (api_query(req, "rate", &v)) {
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%.*s", (int)HS_MIN(v.len, sizeof(tmp) - 1), v.base);
        if (hs_parse_size(tmp, &s->rate) != HS_OK || s->rate == 0)
            return api_fail(req, 400, "rate expects bytes per second such as 64k or 1m, got '%.*s'", (int)v.len,
                            v.base);
    }
    if (api_query(req, "max", &v)) {
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%.*s", (int)HS_MIN(v.len, sizeof(tmp) - 1), v.base);
        if (hs_parse_size(tmp, &s->max) != HS_OK)
            return api_fail(req, 400, "max expects a size such as 100k or 10m, got '%.*s'", (int)v.len, v.base);
    }
    if (s->rate && req->meta.content_length > 0 &&
        !api_check_duration(req, "the body at this rate", (uint64_t)req->meta.content_length * 1000 / s->rate))
        return HS_OK;
    if (s->max && req->meta.content_length > 0 && (uint64_t)req->meta.content_length > s->max)
        return api_fail(req, 413, "the declared body of %lld bytes is larger than max=%llu bytes",
                        (long long)req->meta.content_length, (unsigned long long)s->max);
    s->sha = EVP_MD_CTX_new();
    if (!s->sha || EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(s->sha);
        return api_fail(req, 500, "no SHA-256 context could be made");
    }
    s->start_ms = api_now_ms(req);
    API_SET_CTX(req, s);
    hs_req_cleanup(req, sink_free, s);
    return hs_req_body_stream(req, piece);
}
