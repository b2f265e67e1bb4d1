/* statusd — the HTTP/1.1 connection state machine (RFC 9112).
 *
 * This file alone moves a connection between its states; the response code (response.c) and
 * handlers ask it to move on (hs__conn_output_ready, hs_res_close_silently, hs_res_raw,
 * hs_res_upgrade …) and never write c->state themselves.
 *
 * One request at a time per connection: a pipelined request is not looked at until the
 * response before it has been written completely, so responses are strictly in order and
 * memory per connection is bounded. The response is written before going back to epoll;
 * the socket is registered edge-triggered once, and readiness is tracked on the socket
 * (src/event/sock.c), which also owns the input buffer and the connection's lazy deadline.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY_READ_CHUNK 65536
#define LINGER_MAX_BYTES (1u << 20)
/* Spare requests a worker keeps: at least this many, and as many as it has connections (requests
 * waiting on a store or an upstream are alive together, one per connection; each spare keeps its
 * arena block, so that they are not allocated and freed again every time). */
#define REQ_POOL_MAX 64
/* ... and gives back half of what it holds beyond REQ_POOL_MAX every REQ_POOL_DECAY_MS (below). */
#define REQ_POOL_DECAY_MS 2000

enum { STEP_CONTINUE, STEP_WAIT, STEP_CLOSE };

static void on_io(hs_io_t *io, int events);
static void request_free(hs_conn_t *c);

static inline hs_worker_t *worker_of(const hs_conn_t *c)
{
    return c->sock.loop->data;
}
static inline hs_server_t *srv_of(const hs_conn_t *c)
{
    return worker_of(c)->srv;
}
/* The configuration a connection follows now: its request's generation, or between requests
 * the worker's current one (the one its next request will take). */
static inline const hs_config_t *cfg_of(const hs_conn_t *c)
{
    return c->req ? c->req->gen->cfg : worker_of(c)->gen->cfg;
}
static inline void set_timer(hs_conn_t *c, uint64_t ms)
{
    hs_sock_set_deadline(&c->sock, ms);
}
static inline void clear_timer(hs_conn_t *c)
{
    hs_sock_clear_deadline(&c->sock);
}
/* Read from the connection's socket, counting what arrives (statusd_http_received_bytes_total). */
static inline ssize_t conn_read(hs_conn_t *c, size_t min, size_t limit)
{
    ssize_t n = hs_sock_read(&c->sock, min, limit);
    hs__metrics_t *m;
    if (n > 0 && (m = hs__metrics_of(worker_of(c))))
        hs_counter_add(&m->received_bytes, (uint64_t)n);
    return n;
}
static inline size_t rbuf_avail(const hs_conn_t *c)
{
    return hs_sock_avail(&c->sock);
}
static inline char *rbuf_data(const hs_conn_t *c)
{
    return hs_sock_data(&c->sock);
}

/* ---- request lifecycle ---- */
static hs_req_t *request_new(hs_conn_t *c)
{
    hs_server_t *srv = srv_of(c);
    hs_worker_t *w = worker_of(c);
    hs_req_t *req = w->req_pool;
    if (req) {
        /* reuse: everything zeroed up to the output chains, which request_free left empty, but
         * the arena, which keeps one block */
        w->req_pool = req->pool_next;
        w->nreq_pool--;
        hs_arena_t arena = req->arena;
        memset(req, 0, offsetof(hs_req_t, out));
        req->arena = arena;
    } else {
        req = hs_calloc(1, sizeof(*req));
        hs_arena_init(&req->arena);
    }
    req->conn = c;
    req->worker = w;
    req->srv = srv;
    req->gen = hs__gen_request_start(w); /* served by the current configuration to its end */
    req->p.headers = hs_arena_alloc(&req->arena, sizeof(hs_header_t) * (size_t)req->gen->cfg->max_headers);
    req->start_ms = c->sock.loop->now_ms;
    req->start_sec = c->sock.loop->now_sec;
    req->content_length = -1;
    req->id = ++w->req_seq * (uint64_t)HS_MAX(srv->nworkers, 1) + (uint64_t)w->id; /* no shared counter */
    hs__metrics_t *m = hs__metrics_of(w);
    if (m)
        hs_counter_add(&m->requests_started, 1);
    return req;
}

/* The one end of every request: the log phase runs here, exactly once, with the status that
 * decided the request's fate and the body bytes actually written (nginx's $body_bytes_sent:
 * everything after the head, chunk framing included). Metrics hook in here too. */
static void request_finish(hs_conn_t *c, hs_req_t *req)
{
    int status = req->log_status;
    if (!status) {
        if (req->res_sent) {
            status = req->status;
        } else if (c->sock.eof) {
            status = 499;               /* the client left before it was answered (nginx's 499) */
            if (req->body_error != 499) /* else: body_fail said it left in the middle of its body */
                req->cause = HS_CAUSE_CLIENT_CLOSED;
        } else {
            status = 444; /* closed without a response (the drain deadline cut it off) */
            req->cause = HS_CAUSE_DRAIN_TIMEOUT;
        }
    }
    uint64_t body = req->wire_bytes > req->head_bytes ? req->wire_bytes - req->head_bytes : 0;
    hs__req_log_phase(req, status); /* first: modules may add fields to the line */
    hs__access_log(req, status, body);
    hs__metrics_t *m = hs__metrics_of(req->worker);
    if (m)
        hs__metrics_request(m, req, status);
    hs__req_end(req, status); /* then the request's cleanups */
}

/* After a burst the pool holds a spare per connection that had a request alive, each with its
 * arena block (~16 KB): ten thousand keep-alive connections idle after one burst would keep
 * 160 MB they no longer need. So while the pool holds more than REQ_POOL_MAX, a timer gives back
 * half of the excess every REQ_POOL_DECAY_MS (spares in use are not in the pool: a steady load
 * keeps about what it uses), and once the pool is back at its floor the allocator is asked to
 * return the freed pages to the system (malloc_trim: free() alone keeps them in the process),
 * when at least REQ_POOL_MAX spares went since it last was. Without an excess no timer runs. */
static void req_pool_decay(hs_timer_t *t)
{
    hs_worker_t *w = (hs_worker_t *)((char *)t - offsetof(hs_worker_t, req_pool_timer));
    for (int n = (w->nreq_pool - REQ_POOL_MAX + 1) / 2; n > 0 && w->req_pool; n--) {
        hs_req_t *spare = w->req_pool;
        w->req_pool = spare->pool_next;
        w->nreq_pool--;
        w->req_pool_freed++;
        hs_arena_reset(&spare->arena);
        free(spare);
    }
    if (w->nreq_pool > REQ_POOL_MAX) {
        hs_timer_link(&w->loop.wheel, t, w->loop.now_ms + REQ_POOL_DECAY_MS);
    } else if (w->req_pool_freed >= REQ_POOL_MAX) {
        w->req_pool_freed = 0;
        malloc_trim(0);
    }
}

static void request_free(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    if (!req)
        return;
    request_finish(c, req);
    hs__offload_detach(req);
    hs_timer_unlink(&c->sock.loop->wheel, &req->timer);
    hs_writer_reset(&req->out);
    hs_writer_reset(&req->res_body);
    hs_buf_free(&req->body);
    hs_buf_free(&req->log_fields);
    hs_worker_t *w = worker_of(c);
    hs__gen_request_end(w, req->gen); /* after its cleanups: they may still read its settings */
    if (w->nreq_pool < HS_MAX(REQ_POOL_MAX, w->nconns)) {
        hs_arena_reset_keep(&req->arena);
        req->pool_next = w->req_pool;
        w->req_pool = req;
        if (HS_UNLIKELY(++w->nreq_pool > REQ_POOL_MAX) && !hs_timer_is_linked(&w->req_pool_timer)) {
            w->req_pool_timer.cb = req_pool_decay;
            hs_timer_link(&w->loop.wheel, &w->req_pool_timer, w->loop.now_ms + REQ_POOL_DECAY_MS);
        }
    } else {
        hs_arena_reset(&req->arena);
        free(req);
    }
    c->req = NULL;
}

/* Copy the head into the request arena so the read buffer can be reused and compacted while
 * the request is alive (its body, pipelined bytes). */
static void request_own_head(hs_req_t *req, const char *head)
{
    char *copy = hs_arena_alloc(&req->arena, req->head_len);
    memcpy(copy, head, req->head_len);
    ptrdiff_t d = copy - head;
#define REBASE(iov)                                                                                                    \
    do {                                                                                                               \
        if ((iov).base)                                                                                                \
            (iov).base += d;                                                                                           \
    } while (0)
    REBASE(req->p.method);
    REBASE(req->p.target);
    if (req->p.path.base >= head && req->p.path.base < head + req->head_len)
        REBASE(req->p.path); /* a literal "/" for an empty absolute-form path is static */
    REBASE(req->p.query);
    REBASE(req->p.authority);
    for (size_t i = 0; i < req->p.num_headers; i++) {
        REBASE(req->p.headers[i].name);
        REBASE(req->p.headers[i].value);
    }
#undef REBASE
}

/* The request could not be parsed or validated: answer `status` and close. The request line
 * (if any) is kept for the log. */
static void reject(hs_conn_t *c, int status, hs_cause_t cause, const char *detail)
{
    hs_req_t *req = c->req;
    req->res_close = true;
    req->cause = cause;
    hs_res_error(req, status, detail);
}

static bool is_safe(hs_method_t m)
{
    return m == HS_METHOD_GET || m == HS_METHOD_HEAD || m == HS_METHOD_OPTIONS;
}

/* What only a TLS listener's connection can be answered, before anything else looks at the
 * request: true when it was answered. */
static bool tls_checks(hs_conn_t *c, hs_req_t *req)
{
    if (c->plain_on_tls) {
        /* plain HTTP reached a TLS port (recognised from its first bytes): the client cannot read
         * TLS, so it is told in plain text where to go (nginx's 497), or sent there (308) */
        const char *url = hs__https_url(req, c->tls_port);
        req->res_close = true;
        if (c->plain_http == HS_PLAIN_HTTP_REDIRECT) {
            req->cause = HS_CAUSE_PLAIN_HTTP_REDIRECT;
            hs_res_headerf(req, "Location", "%s", url);
            hs_res_error(req, 308, hs_arena_printf(&req->arena, "this port speaks HTTPS: %s", url).base);
        } else {
            req->cause = HS_CAUSE_PLAIN_HTTP_ON_TLS;
            hs_res_error(req, 497,
                         hs_arena_printf(&req->arena, "this port speaks HTTPS, not plain HTTP: use %s", url).base);
        }
        return true;
    }
    const char *why;
    int cc = hs_tls_client_cert(&c->sock, &why);
    if (cc != HS_OK) {
        /* answered on the established session, which the client can read, with the reason
         * (nginx invented these codes but sends 400); the session will not get better */
        req->res_close = true;
        if (cc == HS_TLS_CERT_MISSING) {
            req->cause = HS_CAUSE_CLIENT_CERT_MISSING;
            hs_res_error(req, 496, "this server requires a client certificate and the TLS handshake brought none");
        } else {
            req->cause = HS_CAUSE_CLIENT_CERT_INVALID;
            hs_res_error(req, 495,
                         hs_arena_printf(&req->arena, "the client certificate failed verification: %s", why).base);
        }
        return true;
    }
    /* did its first byte come as TLS 1.3 early data? (its head was just taken from the buffer) */
    req->tls_early = hs_tls_early(&c->sock, rbuf_avail(c) + req->head_len);
    if (req->tls_early && !is_safe(req->p.method_id)) {
        /* RFC 8470 §5.2: received in 0-RTT data, which an attacker could replay; a safe method
         * is served (RFC 8470 §3), anything else must wait for the handshake */
        req->cause = HS_CAUSE_EARLY_DATA_UNSAFE;
        hs_res_error(req, 425,
                     "this request arrived in TLS early data (0-RTT) and its method is not safe to replay; send it "
                     "again after the handshake");
        return true;
    }
    return false;
}

/* Core checks that come before any module, in the order a careful server applies them. */
static void dispatch(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    hs_method_t m = req->p.method_id;

    if (HS_UNLIKELY(c->tls) && tls_checks(c, req))
        return;

    if (m == HS_METHOD_UNKNOWN) {
        req->cause = HS_CAUSE_UNKNOWN_METHOD;
        hs_res_error(req, 501, "the request method is not implemented by this server"); /* RFC 9110 §9.1 */
        return;
    }
    if (m == HS_METHOD_MEXT) {
        req->cause = HS_CAUSE_MANDATORY_EXTENSION;
        hs_res_error(req, 510, "the request uses a mandatory extension (RFC 2774) this server does not support");
        return;
    }
    if (req->meta.early_data && !is_safe(m)) {
        /* RFC 8470 §5.2: an unsafe request that a front proxy received in early data */
        req->cause = HS_CAUSE_EARLY_DATA_UNSAFE;
        hs_res_error(req, 425,
                     "this request arrived in TLS early data and is not safe to replay; retry it after the handshake");
        return;
    }
    if (req->p.form == HS_TARGET_ASTERISK) {
        /* RFC 9110 §9.3.7: OPTIONS * asks about the server as a whole */
        req->allow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
        hs_res_send(req, 204);
        return;
    }
    if (m == HS_METHOD_CONNECT && !hs_req_top(req)->takes_connect) {
        /* no forward proxy anywhere in this configuration: refused before find-config (a
         * configuration with one decides by the path, request.c) */
        hs__connect_refused(req);
        return;
    }
    hs__req_process(req); /* find-config and the phases (request.c) */
}

static void start_request(hs_conn_t *c, int head_len)
{
    hs_req_t *req = c->req;
    hs_server_t *srv = srv_of(c);
    req->head_len = (size_t)head_len;
    request_own_head(req, rbuf_data(c));
    hs_sock_consume(&c->sock, (size_t)head_len);
    /* the head is the request's own now: an input buffer with nothing after it goes back to the
     * loop, so that a request waiting for something (an upstream) holds none */
    hs_sock_release_buffer(&c->sock);
    clear_timer(c);
    c->state = HS_CS_HANDLER;
    if (req->p.method_id == HS_METHOD_HEAD)
        req->no_body = true;
    if (hs_parse_semantics(&req->p, &req->meta) != HS_OK) {
        reject(c, req->p.error, req->p.error_cause, req->p.error_detail);
        return;
    }
    req->body_left = req->meta.content_length > 0 ? req->meta.content_length : 0;
    if (!req->meta.keep_alive || c->requests >= (uint32_t)cfg_of(c)->max_keepalive_requests ||
        atomic_load(&srv->shutting_down))
        req->res_close = true;
    dispatch(c);
}

/* ---- reading a request body ----
 * One reader: body_step decodes what has arrived (Content-Length or chunked, in place) and hands
 * each piece to the handler's on_body_data; the buffered hs_req_read_body is a handler of it. */

/* The body ended badly: tell the handler, then answer `status` unless a response was started
 * (the connection then closes after it). */
static void body_fail(hs_conn_t *c, int status, hs_cause_t cause, const char *detail)
{
    hs_req_t *req = c->req;
    req->body_done = true; /* nothing more will be read: the framing or the client is gone */
    req->body_error = status;
    clear_timer(c);
    if (c->state == HS_CS_BODY)
        c->state = HS_CS_HANDLER;
    if (req->on_body_data)
        req->on_body_data(req, NULL, 0, HS_BODY_ERROR);
    if (status == 499) {
        req->cause = cause;
        return; /* nobody to answer */
    }
    if (!req->res_sent)
        reject(c, status, cause, detail);
    else
        req->res_close = true;
}

static int body_step(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    /* the path's body limit (413 while reading chunked), the server's framing limits */
    hs_chunked_limits_t limits = req->gen->chunk_limits;
    limits.max_body = hs_req_cfg(req)->max_body;
    for (;;) {
        if (req->body_paused)
            return STEP_WAIT;
        size_t avail = rbuf_avail(c);
        if (avail > 0) {
            const char *data = rbuf_data(c);
            size_t len, consumed;
            if (req->meta.chunked) {
                int status = 0;
                const char *detail = NULL;
                len = avail;
                consumed = 0;
                int r = hs_chunked_decode(&req->chunked, rbuf_data(c), &len, &consumed, &limits, &status, &detail);
                if (r == HS_ERROR) {
                    body_fail(c, status, req->chunked.error_cause, detail);
                    return STEP_CONTINUE;
                }
                if (r == HS_DONE)
                    req->body_done = true;
            } else {
                len = consumed = (size_t)HS_MIN((uint64_t)avail, (uint64_t)req->body_left);
                req->body_left -= (int64_t)len;
                if (req->body_left == 0)
                    req->body_done = true;
            }
            /* the piece stays in the input buffer during the call; nothing is read meanwhile */
            hs_sock_consume(&c->sock, consumed);
            if (req->body_done) {
                clear_timer(c);
                c->state = HS_CS_HANDLER;
            } else {
                set_timer(c, cfg_of(c)->body_timeout);
            }
            if (len > 0 || req->body_done)
                req->on_body_data(req, data, len, req->body_done ? HS_BODY_END : HS_BODY_DATA);
            if (req->body_done || c->state != HS_CS_BODY)
                return STEP_CONTINUE; /* finished, or the handler answered: the new state decides */
            continue;
        }
        if (!c->sock.readable)
            return STEP_WAIT;
        ssize_t n = conn_read(c, BODY_READ_CHUNK / 4, BODY_READ_CHUNK);
        if (n == HS_AGAIN)
            return STEP_WAIT;
        if (n <= 0) {
            body_fail(c, 499, HS_CAUSE_CLIENT_CLOSED_IN_BODY, NULL); /* the client went away mid-body */
            return STEP_CLOSE;
        }
    }
}

int hs_req_body_stream(hs_req_t *req, hs_body_cb on_data)
{
    hs_conn_t *c = req->conn;
    req->on_body_data = on_data;
    req->body_started = true;
    if (!hs_req_has_body(req)) {
        req->body_done = true;
        on_data(req, NULL, 0, HS_BODY_END);
        return HS_AGAIN;
    }
    /* RFC 9110 §10.1.1: 100 Continue only when we are about to read a body the client is
     * holding back — never to HTTP/1.0 (meta.expect_continue is only set for 1.1). */
    if (req->meta.expect_continue && rbuf_avail(c) == 0 && !req->continue_sent) {
        req->continue_sent = true;
        hs_res_interim(req, 100, NULL, 0);
    }
    if (c->state != HS_CS_WRITE) /* else: the 100 is still going out; the body follows it */
        c->state = HS_CS_BODY;
    set_timer(c, cfg_of(c)->body_timeout);
    hs__conn_run(c);
    return HS_AGAIN;
}

void hs_req_body_pause(hs_req_t *req)
{
    if (req->body_paused || req->body_done)
        return;
    req->body_paused = true;
    clear_timer(req->conn); /* the client is not late: we are not reading */
}

void hs_req_body_resume(hs_req_t *req)
{
    hs_conn_t *c = req->conn;
    if (!req->body_paused)
        return;
    req->body_paused = false;
    if (req->body_done)
        return;
    set_timer(c, cfg_of(c)->body_timeout);
    if (c->state == HS_CS_BODY || c->state == HS_CS_HANDLER) {
        c->state = HS_CS_BODY;
        hs__conn_run(c);
    }
}

/* The buffered reader: a handler of the stream that keeps the body in req->body. */
static void buffer_piece(hs_req_t *req, const char *data, size_t len, int how)
{
    if (how == HS_BODY_ERROR)
        return; /* answered by the engine */
    if (len > 0) {
        /* a checked allocation: the limit (max_body) and a failing realloc both answer 413 */
        if (hs_buf_reserve(&req->body, len, hs_req_cfg(req)->max_body) != HS_OK) {
            bool over = req->body.len + len > hs_req_cfg(req)->max_body;
            body_fail(req->conn, 413, over ? HS_CAUSE_BODY_TOO_LARGE : HS_CAUSE_BODY_NO_MEMORY,
                      over ? "the request body is larger than the server accepts"
                           : "the server cannot hold a request body this large in memory now");
            return;
        }
        memcpy(req->body.base + req->body.len, data, len);
        req->body.len += len;
    }
    if (how == HS_BODY_END)
        req->on_body(req);
}

int hs_req_read_body(hs_req_t *req, void (*cb)(hs_req_t *req))
{
    req->on_body = cb;
    return hs_req_body_stream(req, buffer_piece);
}

/* ---- writing ---- */
ssize_t hs__conn_flush(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    ssize_t n = hs_writer_flush(&req->out, &c->sock);
    if (n > 0)
        req->wire_bytes += (uint64_t)n;
    return n;
}

void hs__conn_output_ready(hs_conn_t *c)
{
    if (c->state != HS_CS_UPGRADED)
        c->state = HS_CS_WRITE;
    hs__conn_run(c);
}

static void conn_free(hs_conn_t *c)
{
    if (c->closed)
        return; /* already closed, waiting to be disposed of */
    c->closed = true;
    hs_worker_t *w = worker_of(c);
    request_free(c);
    if (HS_UNLIKELY(c->tls_srv != NULL)) { /* closed before its first bytes said what it speaks */
        hs_tls_server_unref(c->tls_srv);
        c->tls_srv = NULL;
    }
    /* the socket's io is disposed of after the current batch: on_io frees the connection then */
    hs_sock_close(&c->sock);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    if (w->nreq_pool > HS_MAX(REQ_POOL_MAX, w->nconns)) { /* the pool follows the connections */
        hs_req_t *spare = w->req_pool;
        w->req_pool = spare->pool_next;
        w->nreq_pool--;
        hs_arena_reset(&spare->arena);
        free(spare);
    }
    atomic_fetch_sub(&w->srv->connections, 1);
    hs__metrics_t *m = hs__metrics_of(w);
    if (m)
        hs_counter_add(&m->conns_closed, 1);
}

static int start_linger(hs_conn_t *c)
{
    /* Close gracefully: shut our write side so the client sees the whole response, then read
     * and discard what it still sends for a short while so that the kernel does not answer it
     * with a RST that could destroy the response in flight (RFC 9112 §9.6). */
    if (cfg_of(c)->linger_timeout == 0 || c->sock.eof)
        return STEP_CLOSE;
    hs_sock_shutdown(&c->sock);
    c->state = HS_CS_LINGER;
    c->linger_bytes = 0;
    hs_sock_discard_input(&c->sock);
    hs_sock_batch_reads(&c->sock, false); /* linger_step reads the descriptor itself */
    set_timer(c, cfg_of(c)->linger_timeout);
    return STEP_CONTINUE;
}

static int linger_step(hs_conn_t *c)
{
    char sink[4096];
    while (c->sock.readable) {
        ssize_t n = c->sock.ops->read(&c->sock, sink, sizeof(sink));
        if (n > 0) {
            c->linger_bytes += (uint32_t)n;
            if (c->linger_bytes > LINGER_MAX_BYTES)
                return STEP_CLOSE;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->sock.readable = false;
            return STEP_WAIT;
        }
        return STEP_CLOSE; /* EOF or error */
    }
    return STEP_WAIT;
}

static int finish_request(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    bool close_now = req->res_close;
    bool unread_body = hs_req_has_body(req) && !req->body_done;
    if (unread_body && !close_now) {
        /* The handler answered without reading the body. Skip it if it is already here;
         * otherwise we must close (the connection is not usable for another request). */
        if (!req->meta.chunked && (uint64_t)req->body_left <= rbuf_avail(c)) {
            hs_sock_consume(&c->sock, (size_t)req->body_left);
            req->body_left = 0;
        } else {
            close_now = true; /* hs_res_send already announced Connection: close */
        }
    }
    bool was_error = req->status >= 400;
    request_free(c);
    if (close_now) {
        if (was_error || rbuf_avail(c) > 0 || unread_body)
            return start_linger(c);
        return STEP_CLOSE;
    }
    c->state = HS_CS_IDLE;
    if (rbuf_avail(c) == 0) {
        hs_sock_release_buffer(&c->sock);
        set_timer(c, cfg_of(c)->keepalive_timeout);
    }
    return STEP_CONTINUE;
}

/* The output has drained to the handler's low-water mark: tell it once per refill. */
static void maybe_drain(hs_req_t *req)
{
    if (req->on_drain && req->drain_wanted && req->out.pending <= req->drain_low) {
        req->drain_wanted = false;
        req->on_drain(req);
    }
}

static int write_step(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    ssize_t n = hs__conn_flush(c);
    if (n == HS_ERROR)
        return STEP_CLOSE;            /* the peer is gone (EPIPE/ECONNRESET): logged with what was sent */
    bool full = req->out.pending > 0; /* the flush stopped at EAGAIN */
    if (req->streaming)
        maybe_drain(req); /* may queue more */
    if (req->out.pending > 0) {
        if (!full)
            return STEP_CONTINUE; /* on_drain queued more: write it now */
        if (n > 0 || c->sock.deadline == 0)
            set_timer(c, cfg_of(c)->send_timeout);
        return STEP_WAIT; /* EPOLLOUT (edge) wakes us */
    }
    clear_timer(c);
    if (req->upgrade) {
        c->state = HS_CS_UPGRADED;
        set_timer(c, cfg_of(c)->keepalive_timeout);
        return STEP_CONTINUE;
    }
    if (req->raw_mode) {
        if (req->raw_flags & HS_RAW_HOLD) {
            c->state = HS_CS_HANDLER;
            return STEP_WAIT;
        }
        c->sock.reset_on_close = (req->raw_flags & HS_RAW_RESET) != 0;
        return STEP_CLOSE;
    }
    if (req->res_sent && !req->streaming)
        return finish_request(c);
    /* an interim response or a part of a stream was written: the handler continues, and so
     * does the reading of a body it is receiving */
    c->state = req->body_started && !req->body_done ? HS_CS_BODY : HS_CS_HANDLER;
    return STEP_CONTINUE;
}

/* After 101: flush what the upgrade handler queued, hand it what arrives. */
static int upgraded_step(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    ssize_t n_read;
    if (req->out.pending > 0) {
        ssize_t r = hs__conn_flush(c);
        if (r == HS_ERROR)
            goto Gone;
        if (r > 0) /* traffic either way keeps a tunnel open: a download the client only reads */
            set_timer(c, cfg_of(c)->keepalive_timeout);
        maybe_drain(req);
        if (req->out.pending > 0)
            return STEP_WAIT;
    }
    if (c->upgrade_closing)
        return STEP_CLOSE;
    for (;;) {
        if (c->read_paused)
            return STEP_WAIT; /* the handler cannot take more now: back-pressure to the peer */
        if (rbuf_avail(c) > 0) {
            size_t n = rbuf_avail(c);
            const char *data = rbuf_data(c);
            hs_sock_consume(&c->sock, n);
            req->upgrade->on_data(req, data, n);
            set_timer(c, cfg_of(c)->keepalive_timeout);
            if (c->state != HS_CS_UPGRADED || c->upgrade_closing || req->out.pending > 0)
                return STEP_CONTINUE;
        }
        if (!c->sock.readable || (n_read = conn_read(c, 4096, 1u << 20)) == HS_AGAIN) {
            if (HS_UNLIKELY(c->tls) && rbuf_avail(c) == 0)
                hs_sock_release_buffer(&c->sock); /* a quiet TLS tunnel keeps no record buffers */
            return STEP_WAIT;
        }
        if (n_read == 0 && req->upgrade->on_eof) {
            /* a half-close: the handler passes it on; nothing more is read (the connection's
             * timer still runs, and the handler ends it with hs_upgraded_close) */
            c->upgrade_eof = true;
            c->read_paused = true;
            req->upgrade->on_eof(req);
            return STEP_CONTINUE;
        }
        if (n_read <= 0)
            goto Gone;
    }
Gone:
    if (req->upgrade->on_close)
        req->upgrade->on_close(req);
    return STEP_CLOSE;
}

/* ---- reading a request head ---- */
static int head_step(hs_conn_t *c)
{
    hs_server_t *srv = srv_of(c);
    const size_t limit = cfg_of(c)->max_head + 1024;
    for (;;) {
        if (rbuf_avail(c) == 0) {
            if (atomic_load(&srv->shutting_down) && c->state == HS_CS_IDLE)
                return STEP_CLOSE;
            if (!c->sock.readable)
                return STEP_WAIT;
            ssize_t n = conn_read(c, 4096, limit);
            if (n == HS_AGAIN)
                return STEP_WAIT;
            if (n <= 0)
                return STEP_CLOSE; /* closed between requests, or mid-head: nothing to answer */
            continue;
        }
        if (c->state == HS_CS_IDLE) {
            c->state = HS_CS_HEAD;
            c->requests++;
            c->req = request_new(c);
            set_timer(c, cfg_of(c)->header_timeout); /* whole head within header_timeout */
        }
        hs_req_t *req = c->req;
        int r = hs_parse_request(rbuf_data(c), rbuf_avail(c), &req->p, &req->gen->limits);
        if (r > 0) {
            start_request(c, r);
            return STEP_CONTINUE;
        }
        if (r == HS_ERROR) {
            req->head_len = 0;
            clear_timer(c);
            c->state = HS_CS_HANDLER;
            reject(c, req->p.error, req->p.error_cause, req->p.error_detail);
            return STEP_CONTINUE;
        }
        /* incomplete */
        if (!c->sock.readable)
            return STEP_WAIT;
        ssize_t n = conn_read(c, 4096, limit);
        if (n == HS_AGAIN)
            return STEP_WAIT;
        if (n <= 0) {
            req->log_status = 400; /* closed mid-head: logged as nginx does, nothing sent */
            req->cause = HS_CAUSE_HEAD_INCOMPLETE;
            return STEP_CLOSE;
        }
    }
}

/* A TLS handshake failed or timed out: a log line without a request, and its count. */
static void tls_failed(hs_conn_t *c, int status, hs_cause_t cause, const char *why)
{
    hs__access_log_tls_failure(c, status, cause, why);
    hs__metrics_t *m = hs__metrics_of(worker_of(c));
    if (m) { /* as a refused connection (host _other), and by reason */
        hs__metrics_refused(m, status, cause);
        hs__metrics_tls_failure(m, cause, why ? why : "handshake failed");
    }
}

/* ---- a TLS listener's connection before its first request ----
 * First what the client speaks, from its first bytes (peeked: they stay in the socket for
 * OpenSSL or for the request parser), then the TLS handshake. */
static int handshake_step(hs_conn_t *c)
{
    const hs_config_t *cfg = cfg_of(c);
    if (!hs_tls_is(&c->sock)) {
        char b[HS_TLS_SNIFF_MAX];
        ssize_t n = recv(c->sock.io.fd, b, sizeof(b), MSG_PEEK);
        if (n < 0 && errno == EINTR)
            return STEP_CONTINUE;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->sock.readable = false;
            return STEP_WAIT;
        }
        if (n <= 0)
            return STEP_CLOSE; /* left without a byte: nothing to log, as for an unused connection */
        int kind = hs_tls_sniff(b, (size_t)n);
        if (kind == HS_TLS_SNIFF_AGAIN) {
            c->sock.readable = false; /* the rest of the first line makes a new edge */
            return STEP_WAIT;
        }
        hs_tls_server_t *t = c->tls_srv;
        c->tls_srv = NULL; /* the session's now, or dropped */
        if (kind == HS_TLS_SNIFF_HTTP) {
            hs_tls_server_unref(t);
            c->plain_on_tls = true; /* read as plain HTTP to answer 497 (tls_checks) */
            c->state = HS_CS_IDLE;
            set_timer(c, cfg->header_timeout);
            return STEP_CONTINUE;
        }
        /* TLS, or bytes that are neither: OpenSSL says what is wrong with the latter */
        int r = hs_tls_accept(&c->sock, t, c->sock.loop->now_ms);
        hs_tls_server_unref(t); /* the session holds its own reference */
        if (r != HS_OK)
            return STEP_CLOSE;
    }
    int r = hs_tls_handshake(&c->sock, cfg->max_head + 1024);
    if (r == HS_AGAIN)
        return STEP_WAIT;
    if (r != HS_OK) {
        bool by_peer;
        const char *why = hs_tls_failure(&c->sock, &by_peer);
        tls_failed(c, by_peer ? 499 : 444, by_peer ? HS_CAUSE_TLS_HANDSHAKE_ABORTED : HS_CAUSE_TLS_HANDSHAKE_FAILED,
                   why);
        return STEP_CLOSE;
    }
    hs__metrics_t *m = hs__metrics_of(worker_of(c));
    if (m)
        hs__metrics_tls_handshake(m, hs_tls_version(&c->sock), hs_tls_cipher(&c->sock));
    /* the handshake is complete, or 0-RTT data is here: the first request, within header_timeout */
    c->state = HS_CS_IDLE;
    set_timer(c, cfg->header_timeout);
    if (rbuf_avail(c) == 0)
        hs_sock_release_buffer(&c->sock);
    return STEP_CONTINUE;
}

void hs__conn_run(hs_conn_t *c)
{
    if (c->closed)
        return; /* closed earlier in this batch; freed at its end */
    if (c->in_run) {
        c->rerun = true;
        return;
    }
    c->in_run = true;
    int step;
    do {
        c->rerun = false;
        switch (c->state) {
        case HS_CS_IDLE:
        case HS_CS_HEAD: step = head_step(c); break;
        case HS_CS_BODY: step = body_step(c); break;
        case HS_CS_WRITE: step = write_step(c); break;
        case HS_CS_LINGER: step = linger_step(c); break;
        case HS_CS_UPGRADED: step = upgraded_step(c); break;
        case HS_CS_HANDSHAKE: step = handshake_step(c); break;
        case HS_CS_HANDLER:
        default:
            step = STEP_WAIT;
            if (c->req && c->req->abort_conn) {
                step = STEP_CLOSE;
            } else if (c->sock.eof && c->req && !c->req->res_sent) {
                /* RFC-free but universal: the client gave up before we answered (logged 499) */
                step = STEP_CLOSE;
            }
            break;
        }
        if (step == STEP_CLOSE) {
            c->dead = true;
            break;
        }
    } while (step == STEP_CONTINUE || c->rerun);
    c->in_run = false;
    if (c->dead)
        conn_free(c);
}

/* The connection's deadline passed, in whatever state it set it. */
static void on_timeout(hs_conn_t *c)
{
    switch (c->state) {
    case HS_CS_HEAD:
    case HS_CS_BODY:
        /* RFC 9110 §15.5.9: the request was not completed in time — say so, then close. Hold
         * the connection while the 408 is queued, so that the run below happens exactly once
         * (found by fuzz_conn; regression: tests/unit/http/regress_test.c). */
        c->in_run = true;
        if (c->state == HS_CS_BODY) {
            body_fail(c, 408, HS_CAUSE_BODY_TIMEOUT, "the request body was not received in time");
        } else {
            c->state = HS_CS_HANDLER;
            c->req->body_done = true;
            reject(c, 408, HS_CAUSE_HEADER_TIMEOUT, "the request head was not received in time");
        }
        c->in_run = false;
        hs__conn_run(c);
        return;
    case HS_CS_UPGRADED:
        if (c->req->upgrade->on_close)
            c->req->upgrade->on_close(c->req);
        break;
    case HS_CS_HANDSHAKE:
        if (hs_tls_is(&c->sock)) /* a handshake began and did not end: say so in the log */
            tls_failed(c, 444, HS_CAUSE_TLS_HANDSHAKE_TIMEOUT,
                       "the TLS handshake did not complete within handshake_timeout");
        break;
    default: break;
    }
    /* idle keep-alive, linger, stalled writes: close silently */
    c->dead = true;
    if (!c->in_run)
        conn_free(c);
}

static void on_io(hs_io_t *io, int events)
{
    hs_conn_t *c = (hs_conn_t *)io;
    if (events == HS_EV_DISPOSE) {
        free(c); /* closed by conn_free earlier; nothing refers to it any more */
        return;
    }
    if (events == HS_EV_TIMEOUT) {
        on_timeout(c);
        return;
    }
    if (events & HS_EV_READ)
        c->sock.readable = true;
    if (events & HS_EV_HUP)
        c->sock.rdhup = true; /* the peer shut its side: keep reading until EOF is seen */
    if (c->state == HS_CS_HANDLER && (events & HS_EV_HUP)) {
        /* peek: a real EOF means the client left while we were working (when the loop has read
         * for us, its read says so: bytes mean the client is still there) */
        bool gone;
        if (hs_sock_batched(&c->sock)) {
            gone = c->sock.batch_res <= 0;
        } else {
            char b;
            ssize_t n = recv(c->sock.io.fd, &b, 1, MSG_PEEK);
            gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        }
        if (gone)
            c->sock.eof = true;
    }
    hs__conn_run(c);
}

void hs__conn_accept(hs_worker_t *w, int fd, const struct sockaddr *sa, socklen_t salen, int listener)
{
    hs_conn_t *c = hs_calloc(1, sizeof(*c));
    memcpy(&c->peer, sa, HS_MIN((size_t)salen, sizeof(c->peer)));
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    hs__metrics_t *m = hs__metrics_of(w);
    if (m)
        hs_counter_add(&m->conns_opened, 1);
    if (hs_sock_open(&c->sock, &w->loop, fd, &hs_sock_tcp, on_io) != HS_OK) {
        c->dead = true;
        conn_free(c);
        return;
    }
    hs_gen_t *g = w->gen;
    if (HS_UNLIKELY(listener >= 0 && g->tls[listener] != NULL)) {
        /* the contexts of the configuration current now: a reload later does not change them
         * for this connection (the session keeps its reference) */
        const struct sockaddr *la = (const struct sockaddr *)&g->listen_addr[listener];
        c->tls = true;
        c->tls_srv = g->tls[listener];
        hs_tls_server_ref(c->tls_srv);
        c->plain_http = g->plain_http[listener];
        c->tls_port = ntohs(la->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)la)->sin6_port
                                                      : ((const struct sockaddr_in *)la)->sin_port);
        c->state = HS_CS_HANDSHAKE;
        set_timer(c, g->cfg->handshake_timeout);
    } else {
        /* a new connection that sends nothing is treated as idle: closed silently after
         * header_timeout (browsers open spare connections they may never use) */
        set_timer(c, g->cfg->header_timeout);
        hs_sock_batch_reads(&c->sock, true);  /* plain: every read goes through conn_read, */
        hs_sock_batch_writes(&c->sock, true); /* every write through the request's writer */
    }
    hs__conn_run(c);
}

void hs__conn_close_idle(hs_worker_t *w)
{
    hs_conn_t *c = w->conns;
    while (c) {
        hs_conn_t *next = c->next;
        if ((c->state == HS_CS_IDLE || c->state == HS_CS_HANDSHAKE) && rbuf_avail(c) == 0 && !c->in_run) {
            c->dead = true;
            conn_free(c);
        }
        c = next;
    }
}

void hs__conn_close_all(hs_worker_t *w)
{
    while (w->conns) {
        w->conns->dead = true;
        conn_free(w->conns);
    }
}

/* ---- the ways a handler ends a connection or leaves HTTP: all of them here ---- */
void hs_res_close_silently(hs_req_t *req, int log_status)
{
    hs_conn_t *c = req->conn;
    req->log_status = log_status;
    req->status = log_status;
    req->res_sent = true;
    req->abort_conn = true;
    c->state = HS_CS_HANDLER;
    hs__conn_run(c);
}

void hs_req_close_connection(hs_req_t *req, bool reset)
{
    hs_conn_t *c = req->conn;
    c->sock.reset_on_close = reset;
    req->abort_conn = true;
    req->res_sent = true;
    c->state = HS_CS_HANDLER;
    hs__conn_run(c);
}

static void on_req_timer(hs_timer_t *t)
{
    hs_req_t *req = (hs_req_t *)((char *)t - offsetof(hs_req_t, timer));
    hs_conn_t *c = req->conn;
    c->in_run = true; /* the callback may send; run the connection once afterwards */
    req->timer_cb(req);
    c->in_run = false;
    hs__conn_run(c);
}

void hs_req_set_timer(hs_req_t *req, uint64_t ms, void (*cb)(hs_req_t *req))
{
    req->timer.cb = on_req_timer;
    req->timer_cb = cb;
    hs_timer_link(&req->worker->loop.wheel, &req->timer, req->worker->loop.now_ms + ms);
}

void hs_req_cancel_timer(hs_req_t *req)
{
    hs_timer_unlink(&req->worker->loop.wheel, &req->timer);
}

int hs_res_raw(hs_req_t *req, const void *data, size_t len, int flags, int log_status)
{
    if (!req->raw_mode) {
        req->raw_mode = true;
        req->res_sent = true;
        req->status = log_status;
        req->log_status = log_status;
    }
    req->raw_flags = flags;
    hs_writer_copy(&req->out, data, len);
    hs__conn_output_ready(req->conn);
    return HS_OK;
}

int hs_res_upgrade(hs_req_t *req, const hs_upgrade_t *handler)
{
    req->upgrade = handler;
    req->res_close = false;
    hs__queue_head(req, 101, 2);
    hs__check_response(req, false);
    hs__conn_output_ready(req->conn);
    return HS_OK;
}

int hs_res_connect(hs_req_t *req, int status, const hs_upgrade_t *handler)
{
    if (status < 200 || status > 299 || req->p.method_id != HS_METHOD_CONNECT)
        return HS_ERROR;
    req->upgrade = handler;
    req->res_close = false;         /* the tunnel lasts as long as the connection: no Connection: close */
    hs__queue_head(req, status, 2); /* RFC 9110 §9.3.6: no Content-Length, no Transfer-Encoding */
    hs__check_response(req, false);
    hs__conn_output_ready(req->conn);
    return HS_OK;
}

int hs_upgraded_write(hs_req_t *req, const void *data, size_t len)
{
    hs_writer_copy(&req->out, data, len);
    req->drain_wanted = true;
    if (req->conn->state == HS_CS_UPGRADED)
        hs__conn_run(req->conn);
    return HS_OK;
}

void hs_upgraded_pause(hs_req_t *req, bool paused)
{
    hs_conn_t *c = req->conn;
    c->read_paused = paused || c->upgrade_eof;
    if (!paused && c->state == HS_CS_UPGRADED)
        hs__conn_run(c);
}

void hs_upgraded_close(hs_req_t *req)
{
    req->conn->upgrade_closing = true;
    hs__conn_run(req->conn);
}

int hs__worker_modules_init(hs_worker_t *w)
{
    if (!w->gen) { /* the current generation, for a worker made before any request */
        w->gen = w->srv->gen;
        atomic_fetch_add(&w->gen->refs, 1);
    }
    hs_module_t *const *mods = w->srv->modules;
    for (size_t i = 0; mods[i]; i++)
        if (mods[i]->init_worker && mods[i]->init_worker(w) != HS_OK)
            return HS_ERROR;
    return HS_OK;
}

void hs__worker_free_pools(hs_worker_t *w)
{
    /* the modules' per-worker state first: it may hold ios of the loop and pooled requests' files */
    hs_module_t *const *mods = w->srv->modules;
    for (size_t i = 0; mods[i]; i++)
        if (mods[i]->fini_worker && w->mod[mods[i]->index])
            mods[i]->fini_worker(w);
    hs__access_log_free(w);
    hs__gen_worker_done(w);
    hs_timer_unlink(&w->loop.wheel, &w->req_pool_timer);
    while (w->req_pool) {
        hs_req_t *r = w->req_pool;
        w->req_pool = r->pool_next;
        hs_writer_reset(&r->out);
        hs_writer_reset(&r->res_body);
        hs_arena_reset(&r->arena);
        free(r);
    }
    w->nreq_pool = 0;
    hs_sock_pool_free(&w->loop);
}
