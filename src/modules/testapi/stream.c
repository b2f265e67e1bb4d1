/* statusd — client-testing API: time and size (httpbin).
 *   /delay/{s}                         the /anything echo after s seconds (a timer)
 *   /drip?duration=&numbytes=&code=&delay=   numbytes '*' spread over duration, after delay
 *   /bytes/{n}?seed=                   n random bytes (reproducible with a seed)
 *   /stream/{n}                        n JSON lines, chunked
 *   /stream-bytes/{n}?chunk_size=&seed=   n random bytes in chunks
 *   /range/{n}                         a range-capable n-byte resource: 206 single and
 *                                      multipart/byteranges, If-Range, ETag, 416
 *   /sse?count=&delay=                 text/event-stream, one event per delay
 *   /trailers?k=v                      a chunked body whose trailer section carries k: v
 * Durations take seconds ("1.5") or units ("250ms"); every duration and size is checked against
 * --api-max-duration / --api-max-bytes and refused with 400 beyond. Nothing here sleeps: waits
 * are request timers, and large bodies are produced as the socket drains (on_drain). */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#define STREAM_HIGH_WATER (256 * 1024) /* produce more only when less than this is queued */
#define SMALL_BODY (64 * 1024)         /* /bytes and /range bodies up to this are made at once */

/* ---- /delay/{s} ---- */
static void delay_done(hs_req_t *req)
{
    api_echo_send(req, API_F_GET | API_F_DATA); /* httpbin: no "json" */
}

static void delay_body_read(hs_req_t *req)
{
    uint64_t ms = *(uint64_t *)API_CTX(req);
    if (ms == 0) {
        delay_done(req);
        return;
    }
    hs_req_set_timer(req, ms, delay_done);
}

int api_r_delay(hs_req_t *req, hs_iovec_t rest)
{
    uint64_t *ms = hs_arena_alloc(&req->arena, sizeof(*ms));
    if (hs_parse_duration_in(rest, 1000, ms) != HS_OK)
        return api_fail(req, 400, "expected /delay/{seconds}, e.g. /delay/2 or /delay/0.25, got '%.*s'",
                        (int)HS_MIN(rest.len, 32), rest.base);
    if (!api_check_duration(req, "/delay", *ms))
        return HS_OK;
    API_SET_CTX(req, ms);
    return hs_req_read_body(req, delay_body_read);
}

/* ---- /drip ---- */
typedef struct {
    uint64_t duration, numbytes, sent, start, tick;
    int code;
} drip_t;

static void drip_tick(hs_req_t *req)
{
    drip_t *d = API_CTX(req);
    uint64_t elapsed = api_now_ms(req) - d->start;
    /* httpbin: a byte, then a pause of duration/numbytes, and so on */
    uint64_t due =
        d->duration ? 1 + (uint64_t)((double)d->numbytes * (double)elapsed / (double)d->duration) : d->numbytes;
    if (due > d->numbytes)
        due = d->numbytes;
    static const char stars[4096] = {[0 ... 4095] = '*'};
    while (d->sent < due && hs_res_stream_pending(req) < STREAM_HIGH_WATER) {
        size_t n = (size_t)HS_MIN(due - d->sent, (uint64_t)sizeof(stars));
        hs_res_stream_write(req, stars, n);
        d->sent += n;
    }
    if (d->sent >= d->numbytes) {
        hs_res_stream_end(req, NULL, 0);
        return;
    }
    hs_req_set_timer(req, d->tick, drip_tick);
}

static void drip_start(hs_req_t *req)
{
    drip_t *d = API_CTX(req);
    bool body = hs_status_allows_body(d->code);
    req->content_length = body ? (int64_t)d->numbytes : 0;
    req->content_type = "application/octet-stream";
    api_add_status_headers(req, d->code, d->numbytes);
    hs_res_stream_start(req, d->code);
    if (!body || d->numbytes == 0) {
        hs_res_stream_end(req, NULL, 0);
        return;
    }
    d->start = api_now_ms(req);
    drip_tick(req);
}

int api_r_drip(hs_req_t *req, hs_iovec_t rest)
{
    drip_t *d = hs_arena_alloc(&req->arena, sizeof(*d));
    memset(d, 0, sizeof(*d));
    uint64_t delay, code;
    if (!api_arg_ms(req, "duration", 1000, 2000, &d->duration) || !api_arg_ms(req, "delay", 1000, 0, &delay) ||
        !api_arg_u64(req, "numbytes", 10, UINT64_MAX / 2, &d->numbytes) || !api_arg_u64(req, "code", 200, 999, &code))
        return HS_OK;
    if (!api_check_duration(req, "delay+duration", delay + d->duration) ||
        !api_check_bytes(req, "numbytes", d->numbytes))
        return HS_OK;
    const hs_status_info_t *info = hs_status_get((int)code);
    if (!info || code < 200 || (info->flags & HS_SF_LOGONLY))
        return api_fail(req, 400, "code must be a final status code from the registry that can be sent, got %llu",
                        (unsigned long long)code);
    d->code = (int)code;
    d->tick = d->numbytes ? HS_MAX(d->duration / d->numbytes, 5) : 5;
    API_SET_CTX(req, d);
    if (delay) {
        hs_req_set_timer(req, delay, drip_start);
        return HS_AGAIN;
    }
    drip_start(req);
    return HS_OK;
}

/* ---- /bytes/{n} ---- */
static bool seed_arg(hs_req_t *req, hs_prng_t *g)
{
    hs_iovec_t v;
    if (!api_query(req, "seed", &v)) {
        hs_random(&g->s, sizeof(g->s));
        return true;
    }
    if (!hs_parse_u64(v, &g->s)) {
        api_fail(req, 400, "seed must be a non-negative integer, got '%.*s'", (int)HS_MIN(v.len, 32), v.base);
        return false;
    }
    return true;
}

static bool size_from_path(hs_req_t *req, hs_iovec_t rest, const char *route, uint64_t *n)
{
    if (!hs_parse_u64(rest, n)) {
        api_fail(req, 400, "expected %s/{n} with a number of bytes, got '%.*s'", route, (int)HS_MIN(rest.len, 32),
                 rest.base);
        return false;
    }
    return api_check_bytes(req, route, *n);
}

/* ---- /bytes/{n}, /stream/{n} and /stream-bytes/{n}: produced as the socket drains ---- */
typedef struct {
    uint64_t total, done, chunk;
    hs_prng_t g;
    hs_iovec_t line; /* /stream: the members shared by every line */
} stream_t;

static void stream_bytes_more(hs_req_t *req);

/* Start a response whose body `more` makes as the socket drains (its state in `data`): with
 * len >= 0 under a Content-Length (a HEAD then ends at once), else chunked. */
static int stream_begin(hs_req_t *req, int status, const char *ctype, int64_t len, void *data,
                        void (*more)(hs_req_t *req))
{
    API_SET_CTX(req, data);
    req->content_type = ctype;
    req->content_length = len;
    if (len >= 0 && req->no_body) {
        hs_res_stream_start(req, status);
        return hs_res_stream_end(req, NULL, 0);
    }
    req->on_drain = more;
    hs_res_stream_start(req, status);
    more(req);
    return HS_OK;
}

/* Produced as the socket drains, with a Content-Length: a 30-byte request never holds
 * --api-max-bytes of memory for a client that reads slowly. */
int api_r_bytes(hs_req_t *req, hs_iovec_t rest)
{
    stream_t *s = hs_arena_alloc(&req->arena, sizeof(*s));
    memset(s, 0, sizeof(*s));
    if (!size_from_path(req, rest, "/bytes", &s->total) || !seed_arg(req, &s->g))
        return HS_OK;
    if (s->total <= SMALL_BODY) { /* small: made at once, sent with the head */
        unsigned char *p = s->total ? hs_arena_alloc(&req->arena, (size_t)s->total) : NULL;
        hs_prng_fill(&s->g, p, (size_t)s->total);
        return api_send_mem(req, 200, p, (size_t)s->total, "application/octet-stream");
    }
    s->chunk = 65536; /* a multiple of 8: the bytes are the same as one fill of the whole */
    return stream_begin(req, 200, "application/octet-stream", (int64_t)s->total, s, stream_bytes_more);
}

static void stream_lines_more(hs_req_t *req)
{
    stream_t *s = API_CTX(req);
    hs_buf_t l = {0};
    while (s->done < s->total && hs_res_stream_pending(req) < STREAM_HIGH_WATER) {
        l.len = 0;
        hs_buf_printf(&l, "{\"id\": %llu, %.*s}\n", (unsigned long long)s->done, (int)s->line.len, s->line.base);
        hs_res_stream_write(req, l.base, l.len);
        s->done++;
    }
    hs_buf_free(&l);
    if (s->done >= s->total)
        hs_res_stream_end(req, NULL, 0);
}

int api_r_stream(hs_req_t *req, hs_iovec_t rest)
{
    uint64_t n;
    if (!hs_parse_u64(rest, &n))
        return api_fail(req, 400, "expected /stream/{n} with a number of lines, got '%.*s'", (int)HS_MIN(rest.len, 32),
                        rest.base);
    stream_t *s = hs_arena_alloc(&req->arena, sizeof(*s));
    memset(s, 0, sizeof(*s));
    hs_buf_t b = {0};
    api_echo_members(&b, req, API_F_GET, true);
    /* raw newlines (each followed by a two-space indent) only separate members: one object per
     * line, so ",\n  " becomes ", " */
    char *line = hs_arena_alloc(&req->arena, b.len + 1);
    size_t n_out = 0;
    for (size_t i = 0; i < b.len; i++) {
        if (b.base[i] == '\n') {
            line[n_out++] = ' ';
            while (i + 1 < b.len && b.base[i + 1] == ' ')
                i++;
        } else if (n_out > 0 || b.base[i] != ' ') {
            line[n_out++] = b.base[i];
        }
    }
    s->line = hs_iov(line, n_out);
    hs_buf_free(&b);
    uint64_t per_line = s->line.len + 32;
    if (!api_check_bytes(req, "/stream", n > UINT64_MAX / per_line ? UINT64_MAX : n * per_line))
        return HS_OK;
    s->total = n;
    return stream_begin(req, 200, "application/json", -1, s, stream_lines_more);
}

static void stream_bytes_more(hs_req_t *req)
{
    stream_t *s = API_CTX(req);
    unsigned char buf[65536];
    while (s->done < s->total && hs_res_stream_pending(req) < STREAM_HIGH_WATER) {
        size_t n = (size_t)HS_MIN(s->chunk, s->total - s->done);
        n = HS_MIN(n, sizeof(buf));
        hs_prng_fill(&s->g, buf, n);
        hs_res_stream_write(req, buf, n);
        s->done += n;
    }
    if (s->done >= s->total)
        hs_res_stream_end(req, NULL, 0);
}

int api_r_stream_bytes(hs_req_t *req, hs_iovec_t rest)
{
    stream_t *s = hs_arena_alloc(&req->arena, sizeof(*s));
    memset(s, 0, sizeof(*s));
    if (!size_from_path(req, rest, "/stream-bytes", &s->total) || !seed_arg(req, &s->g) ||
        !api_arg_u64(req, "chunk_size", 10240, 65536, &s->chunk))
        return HS_OK;
    if (s->chunk == 0)
        return api_fail(req, 400, "chunk_size must be at least 1");
    return stream_begin(req, 200, "application/octet-stream", -1, s, stream_bytes_more);
}

/* ---- /range/{n} (RFC 9110 §14) ---- */
typedef struct {
    uint64_t first, last;
} span_t;

/* Parse "bytes=…" into satisfiable spans. Returns the count, -1 when the header is not a
 * valid bytes ranges-specifier (then it is ignored, RFC 9110 §14.2). */
static int parse_ranges(hs_iovec_t v, uint64_t n, span_t *out, int max, bool *any_unsat)
{
    if (v.len < 6 || strncasecmp(v.base, "bytes=", 6) != 0)
        return -1;
    hs_iovec_t set = hs_iov(v.base + 6, v.len - 6), item;
    size_t pos = 0;
    int count = 0, seen = 0;
    while ((item = hs_list_next(set, &pos)).base) {
        seen++;
        const char *dash = memchr(item.base, '-', item.len);
        if (!dash)
            return -1;
        hs_iovec_t a = hs_iov(item.base, (size_t)(dash - item.base));
        hs_iovec_t b = hs_iov(dash + 1, item.len - a.len - 1);
        uint64_t x, y;
        span_t sp;
        if (a.len == 0) { /* suffix: the last y bytes */
            if (!hs_parse_u64(b, &y))
                return -1;
            if (y == 0 || n == 0) {
                *any_unsat = true;
                continue;
            }
            sp.first = n - HS_MIN(y, n);
            sp.last = n - 1;
        } else {
            if (!hs_parse_u64(a, &x))
                return -1;
            if (b.len == 0)
                y = UINT64_MAX;
            else if (!hs_parse_u64(b, &y) || y < x)
                return -1;
            if (x >= n) {
                *any_unsat = true;
                continue;
            }
            sp.first = x;
            sp.last = HS_MIN(y, n - 1);
        }
        if (count == max)
            return -1; /* too many ranges: ignore the header and send it all */
        out[count++] = sp;
    }
    return seen ? count : -1;
}

/* The body of /range/{n} is the letters a-z repeated ('a' + offset % 26). It is made as the
 * socket drains, from a list of pieces: literal bytes (multipart headers) or a window of that
 * pattern. Nothing of size n is ever held in memory. */
typedef struct {
    hs_iovec_t lit;      /* literal bytes, or base NULL for a pattern window */
    uint64_t first, len; /* the pattern window (or lit.len) */
} piece_t;

typedef struct {
    piece_t pieces[3 * 32 + 1];
    int count, cur;
    uint64_t off; /* within pieces[cur] */
} range_body_t;

static void range_more(hs_req_t *req)
{
    range_body_t *rb = API_CTX(req);
    char buf[65536];
    while (rb->cur < rb->count && hs_res_stream_pending(req) < STREAM_HIGH_WATER) {
        piece_t *pc = &rb->pieces[rb->cur];
        uint64_t left = pc->len - rb->off;
        size_t n = (size_t)HS_MIN(left, (uint64_t)sizeof(buf));
        if (pc->lit.base) {
            hs_res_stream_write(req, pc->lit.base + rb->off, n);
        } else {
            uint64_t at = pc->first + rb->off;
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)('a' + (at + i) % 26);
            hs_res_stream_write(req, buf, n);
        }
        rb->off += n;
        if (rb->off == pc->len) {
            rb->cur++;
            rb->off = 0;
        }
    }
    if (rb->cur >= rb->count)
        hs_res_stream_end(req, NULL, 0);
}

static int range_send(hs_req_t *req, int status, range_body_t *rb, const char *ctype)
{
    uint64_t total = 0;
    for (int i = 0; i < rb->count; i++)
        total += rb->pieces[i].len;
    if (total == 0)
        return api_send_mem(req, status, NULL, 0, ctype);
    if (total <= SMALL_BODY) { /* small: made at once, sent with the head */
        char *p = hs_arena_alloc(&req->arena, (size_t)total), *o = p;
        for (int i = 0; i < rb->count; i++) {
            const piece_t *pc = &rb->pieces[i];
            if (pc->lit.base)
                memcpy(o, pc->lit.base, pc->len);
            else
                for (uint64_t k = 0; k < pc->len; k++)
                    o[k] = (char)('a' + (pc->first + k) % 26);
            o += pc->len;
        }
        return api_send_mem(req, status, p, (size_t)total, ctype);
    }
    return stream_begin(req, status, ctype, (int64_t)total, rb, range_more);
}

static void add_lit(range_body_t *rb, hs_iovec_t v)
{
    rb->pieces[rb->count++] = (piece_t){.lit = v, .len = v.len};
}

static void add_window(range_body_t *rb, uint64_t first, uint64_t len)
{
    rb->pieces[rb->count++] = (piece_t){.first = first, .len = len};
}

int api_r_range(hs_req_t *req, hs_iovec_t rest)
{
    uint64_t n;
    if (!size_from_path(req, rest, "/range", &n))
        return HS_OK;
    hs_iovec_t etag = hs_arena_printf(&req->arena, "\"range%llu\"", (unsigned long long)n);
    hs_res_header(req, HS_IOV("ETag"), etag);
    HS_RES_HEADER(req, "Accept-Ranges", "bytes");
    hs_iovec_t range = hs_req_header(req, HS_HDR_RANGE);
    hs_iovec_t if_range = hs_req_header(req, HS_HDR_IF_RANGE);
    /* RFC 9110 §13.1.5: If-Range with a strong validator that matches, else the whole thing;
     * we have no Last-Modified, so a date never matches */
    bool use_range = range.base && (req->p.method_id == HS_METHOD_GET || req->p.method_id == HS_METHOD_HEAD);
    if (use_range && if_range.base && !hs_iov_eq(if_range, etag.base, etag.len))
        use_range = false;
    span_t spans[32];
    bool unsat = false;
    int count = use_range ? parse_ranges(range, n, spans, (int)HS_ARRAY_SIZE(spans), &unsat) : -1;
    if (count == 0) {
        hs_res_headerf(req, "Content-Range", "bytes */%llu", (unsigned long long)n);
        return api_fail(req, 416, "none of the requested ranges overlaps the %llu-byte resource",
                        (unsigned long long)n);
    }
    if (count > 1) {
        /* RFC 9110 §14.2: ranges that together ask for more than the whole (overlaps) are
         * answered with the whole, once: a few bytes of request never make the server send
         * 32 copies of the resource */
        uint64_t sum = 0;
        for (int i = 0; i < count; i++)
            sum += spans[i].last - spans[i].first + 1;
        if (sum > n)
            count = -1;
    }
    range_body_t *rb = hs_arena_alloc(&req->arena, sizeof(*rb));
    rb->count = rb->cur = 0;
    rb->off = 0;
    if (count < 0) {
        add_window(rb, 0, n);
        return range_send(req, 200, rb, "application/octet-stream");
    }
    if (count == 1) {
        hs_res_headerf(req, "Content-Range", "bytes %llu-%llu/%llu", (unsigned long long)spans[0].first,
                       (unsigned long long)spans[0].last, (unsigned long long)n);
        add_window(rb, spans[0].first, spans[0].last - spans[0].first + 1);
        return range_send(req, 206, rb, "application/octet-stream");
    }
    /* RFC 9110 §14.6: multipart/byteranges */
    unsigned char rnd[12];
    char boundary[25];
    hs_random(rnd, sizeof(rnd));
    hs_hex_encode(boundary, rnd, sizeof(rnd));
    for (int i = 0; i < count; i++) {
        add_lit(rb, hs_arena_printf(&req->arena,
                                    "%s--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes "
                                    "%llu-%llu/%llu\r\n\r\n",
                                    i ? "\r\n" : "", boundary, (unsigned long long)spans[i].first,
                                    (unsigned long long)spans[i].last, (unsigned long long)n));
        add_window(rb, spans[i].first, spans[i].last - spans[i].first + 1);
    }
    add_lit(rb, hs_arena_printf(&req->arena, "\r\n--%s--\r\n", boundary));
    return range_send(req, 206, rb, hs_arena_printf(&req->arena, "multipart/byteranges; boundary=%s", boundary).base);
}

/* ---- /sse ---- */
typedef struct {
    uint64_t count, delay, done;
} sse_t;

static void sse_tick(hs_req_t *req)
{
    sse_t *s = API_CTX(req);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long long now = (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000;
    do {
        char ev[160];
        int len = snprintf(ev, sizeof(ev), "id: %llu\nevent: ping\ndata: {\"id\": %llu, \"timestamp\": %llu}\n\n",
                           (unsigned long long)s->done, (unsigned long long)s->done, now);
        hs_res_stream_write(req, ev, (size_t)len);
        s->done++;
    } while (s->delay == 0 && s->done < s->count && hs_res_stream_pending(req) < STREAM_HIGH_WATER);
    if (s->done >= s->count) {
        hs_res_stream_end(req, NULL, 0);
        return;
    }
    hs_req_set_timer(req, s->delay ? s->delay : 1, sse_tick);
}

int api_r_sse(hs_req_t *req, hs_iovec_t rest)
{
    sse_t *s = hs_arena_alloc(&req->arena, sizeof(*s));
    memset(s, 0, sizeof(*s));
    if (!api_arg_u64(req, "count", 10, 1000000, &s->count) || !api_arg_ms(req, "delay", 1000, 1000, &s->delay))
        return HS_OK;
    if (s->count > 1 && !api_check_duration(req, "count x delay", (s->count - 1) * s->delay))
        return HS_OK;
    if (!api_check_bytes(req, "count x event size", s->count * 80))
        return HS_OK;
    API_SET_CTX(req, s);
    req->content_type = "text/event-stream; charset=utf-8";
    HS_RES_HEADER(req, "Cache-Control", "no-cache");
    hs_res_stream_start(req, 200);
    if (s->count == 0) {
        hs_res_stream_end(req, NULL, 0);
        return HS_OK;
    }
    sse_tick(req);
    return HS_OK;
}

/* ---- /trailers (RFC 9110 §6.5, RFC 9112 §7.1.2) ---- */
int api_r_trailers(hs_req_t *req, hs_iovec_t rest)
{
    /* fields that must not be sent in a trailer section (RFC 9110 §6.5.1): framing, routing,
     * request modifiers, authentication, response control data and content processing */
    static const char *const forbidden[] = {"content-encoding",
                                            "content-type",
                                            "content-range",
                                            "host",
                                            "authorization",
                                            "set-cookie",
                                            "www-authenticate",
                                            "proxy-authenticate",
                                            "cache-control",
                                            "expires",
                                            "location",
                                            "retry-after",
                                            "vary",
                                            "age",
                                            "expect",
                                            "max-forwards",
                                            "pragma",
                                            "range",
                                            "if-match",
                                            "if-none-match",
                                            "if-modified-since",
                                            "if-unmodified-since",
                                            "if-range",
                                            "warning"};
    api_kv_t *kv;
    size_t n = api_parse_urlencoded(&req->arena, req->p.query, &kv);
    if (n == 0) {
        n = 1;
        kv = hs_arena_alloc(&req->arena, sizeof(*kv));
        kv[0] = (api_kv_t){HS_IOV("Server-Timing"), HS_IOV("app;dur=0")};
    }
    if (n > 32)
        return api_fail(req, 400, "at most 32 trailer fields");
    hs_res_header_t *t = hs_arena_alloc(&req->arena, n * sizeof(*t));
    hs_buf_t names = {0};
    for (size_t i = 0; i < n; i++) {
        if (!api_header_settable(req, kv[i].key, kv[i].value)) {
            hs_buf_free(&names);
            return HS_OK;
        }
        for (size_t k = 0; k < HS_ARRAY_SIZE(forbidden); k++) {
            if (hs_iov_ieq(kv[i].key, forbidden[k], strlen(forbidden[k]))) {
                hs_buf_free(&names);
                return api_fail(req, 400, "%.*s may not be sent in a trailer section (RFC 9110 §6.5.1)",
                                (int)kv[i].key.len, kv[i].key.base);
            }
        }
        t[i] = (hs_res_header_t){kv[i].key, kv[i].value};
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = kv[k].key.len == kv[i].key.len && strncasecmp(kv[k].key.base, kv[i].key.base, kv[i].key.len) == 0;
        if (!dup) {
            if (names.len)
                HS_BUF_LIT(&names, ", ");
            hs_buf_append(&names, kv[i].key.base, kv[i].key.len);
        }
    }
    hs_res_header(req, HS_IOV("Trailer"), hs_iov(hs_arena_strndup(&req->arena, names.base, names.len), names.len));
    hs_buf_free(&names);
    hs_buf_t b = {0};
    HS_BUF_LIT(&b, "{\n  \"trailers\": ");
    api_json_pairs(&b, kv, n);
    HS_BUF_LIT(&b, "\n}\n");
    req->content_type = "application/json";
    hs_res_stream_start(req, 200);
    hs_res_stream_write(req, b.base, b.len);
    hs_buf_free(&b);
    hs_res_stream_end(req, t, n);
    return HS_OK;
}
