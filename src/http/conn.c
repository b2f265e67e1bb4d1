/* statusd — the HTTP/1.1 connection state machine (RFC 9112).
 *
 * One request at a time per connection: a pipelined request is not looked at until the
 * response before it has been written completely, so responses are strictly in order and
 * memory per connection is bounded. The response is written before going back to epoll;
 * the socket is registered edge-triggered once, and readiness is tracked here.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define BODY_READ_CHUNK 65536
#define LINGER_MAX_BYTES (1u << 20)
#define POOL_BUF_SIZE 16384
#define REQ_POOL_MAX 64

enum { STEP_CONTINUE, STEP_WAIT, STEP_CLOSE };

static void on_io(hs_io_t *io, int events);
static void on_timer(hs_timer_t *t);
static void request_free(hs_conn_t *c);

/* Socket I/O on the hot path as plain system calls: libc's read/writev/sendfile are thread
 * cancellation points and wrap every call in two atomic updates of the thread's cancel state,
 * which statusd (no thread is ever cancelled) does not need. */
static inline ssize_t sys_read(int fd, void *buf, size_t n)
{
    return syscall(SYS_read, fd, buf, n);
}
static inline ssize_t sys_write(int fd, const void *buf, size_t n)
{
    return syscall(SYS_write, fd, buf, n);
}
static inline ssize_t sys_writev(int fd, const struct iovec *iov, size_t n)
{
    return syscall(SYS_writev, fd, iov, n);
}
static inline ssize_t sys_sendfile(int out, int in, off_t *off, size_t n)
{
    return syscall(SYS_sendfile, out, in, off, n);
}

static inline hs_server_t *srv_of(hs_conn_t *c)
{
    return c->worker->srv;
}
static inline hs_loop_t *loop_of(hs_conn_t *c)
{
    return &c->worker->loop;
}

/* Timeouts are lazy: a state's deadline is only recorded, and the wheel timer is moved only
 * when the deadline comes earlier than the timer; a timer that fires before the deadline
 * re-arms itself for it (on_timer). A keep-alive connection thus touches the wheel about once
 * per timeout period, not two or three times per request. */
static void set_timer(hs_conn_t *c, uint64_t ms)
{
    uint64_t due = loop_of(c)->now_ms + ms;
    c->deadline = due;
    if (!hs_timer_is_linked(&c->timer) || c->timer.at > due)
        hs_timer_link(&loop_of(c)->wheel, &c->timer, due);
}

static void clear_timer(hs_conn_t *c)
{
    c->deadline = 0; /* a timer still linked finds no deadline and does nothing */
}

/* ---- buffers: an idle connection returns its read buffer to the worker's pool ---- */
static void rbuf_release(hs_conn_t *c)
{
    hs_worker_t *w = c->worker;
    if (!c->rbuf.base)
        return;
    if (c->rbuf.cap == POOL_BUF_SIZE && w->nfree_bufs < (int)HS_ARRAY_SIZE(w->free_bufs)) {
        w->free_bufs[w->nfree_bufs++] = c->rbuf;
    } else {
        hs_buf_free(&c->rbuf);
    }
    c->rbuf = (hs_buf_t){0};
    c->rpos = 0;
}

static void rbuf_ensure(hs_conn_t *c, size_t want, size_t limit)
{
    hs_worker_t *w = c->worker;
    if (!c->rbuf.base && w->nfree_bufs > 0 && want <= POOL_BUF_SIZE) {
        c->rbuf = w->free_bufs[--w->nfree_bufs];
        c->rbuf.len = 0;
        c->rpos = 0;
    }
    if (c->rpos == c->rbuf.len)
        c->rpos = c->rbuf.len = 0;
    if (c->rbuf.cap - c->rbuf.len >= want)
        return;
    if (c->rpos > 0) { /* compact */
        memmove(c->rbuf.base, c->rbuf.base + c->rpos, c->rbuf.len - c->rpos);
        c->rbuf.len -= c->rpos;
        c->rpos = 0;
        if (c->rbuf.cap - c->rbuf.len >= want)
            return;
    }
    if (c->rbuf.cap == 0 && want <= POOL_BUF_SIZE && limit >= POOL_BUF_SIZE) {
        c->rbuf.base = hs_malloc(POOL_BUF_SIZE);
        c->rbuf.cap = POOL_BUF_SIZE;
        return;
    }
    /* grow within limit (bounded by configuration); allocation failure aborts as a small alloc */
    if (hs_buf_reserve(&c->rbuf, want, limit) != HS_OK && c->rbuf.cap < c->rbuf.len + 1)
        hs_buf_reserve(&c->rbuf, 1, SIZE_MAX / 2);
}

static inline size_t rbuf_avail(const hs_conn_t *c)
{
    return c->rbuf.len - c->rpos;
}
static inline char *rbuf_data(const hs_conn_t *c)
{
    return c->rbuf.base + c->rpos;
}

/* Read once. >0 bytes, 0 on EOF, HS_AGAIN, HS_ERROR. `limit` bounds the buffer size. */
static ssize_t do_read(hs_conn_t *c, size_t chunk, size_t limit)
{
    rbuf_ensure(c, chunk, limit);
    size_t room = c->rbuf.cap - c->rbuf.len;
    if (room == 0)
        return HS_ERROR;
    ssize_t n;
    do
        n = sys_read(c->io.fd, c->rbuf.base + c->rbuf.len, room);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->rbuf.len += (size_t)n;
        /* A short read means the socket buffer is empty now; edge-triggered epoll reports the
         * next arrival, so skip the read that would only say EAGAIN (nginx does the same). */
        if ((size_t)n < room && !c->rdhup)
            c->readable = false;
        return n;
    }
    if (n == 0) {
        c->peer_eof = true;
        c->readable = false;
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c->readable = false;
        return HS_AGAIN;
    }
    c->readable = false;
    c->peer_eof = true;
    return HS_ERROR;
}

/* ---- request lifecycle ---- */
static hs_req_t *request_new(hs_conn_t *c)
{
    hs_server_t *srv = srv_of(c);
    hs_worker_t *w = c->worker;
    hs_req_t *req = w->req_pool;
    if (req) {
        /* reuse: everything zeroed up to the segment arrays but the arena, which keeps one
         * block */
        w->req_pool = req->module_data;
        w->nreq_pool--;
        hs_arena_t arena = req->arena;
        memset(req, 0, offsetof(hs_req_t, segs));
        req->arena = arena;
    } else {
        req = hs_calloc(1, sizeof(*req));
        hs_arena_init(&req->arena);
    }
    req->conn = c;
    req->worker = c->worker;
    req->srv = srv;
    req->p.headers = hs_arena_alloc(&req->arena, sizeof(hs_header_t) * (size_t)srv->cfg->max_headers);
    req->start_ms = loop_of(c)->now_ms;
    req->start_sec = loop_of(c)->now_sec;
    req->content_length = -1;
    req->id = ++w->req_seq * (uint64_t)HS_MAX(srv->nworkers, 1) + (uint64_t)w->id; /* no shared counter */
    return req;
}

/* The one end of every request: the log phase runs here, exactly once, with the status that
 * decided the request's fate and the body bytes actually written (nginx's $body_bytes_sent:
 * everything after the head, chunk framing included). Metrics hook in here too. */
static void request_finish(hs_conn_t *c, hs_req_t *req)
{
    int status = req->log_status;
    if (!status) {
        if (req->res_sent)
            status = req->status;
        else if (c->peer_eof)
            status = 499; /* the client left before it was answered (nginx's 499) */
        else
            status = 444; /* closed without a response (the drain deadline cut it off) */
    }
    uint64_t body = req->wire_bytes > req->head_bytes ? req->wire_bytes - req->head_bytes : 0;
    hs__access_log(req, status, body);
}

static void request_free(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    if (!req)
        return;
    request_finish(c, req);
    hs__offload_detach(req);
    if (req->on_free)
        req->on_free(req);
    hs_timer_unlink(&req->worker->loop.wheel, &req->timer);
    hs_buf_free(&req->sbuf);
    hs_buf_free(&req->body);
    hs_worker_t *w = c->worker;
    if (w->nreq_pool < REQ_POOL_MAX) {
        hs_arena_reset_keep(&req->arena);
        req->module_data = w->req_pool; /* the pool is linked through module_data */
        w->req_pool = req;
        w->nreq_pool++;
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
static void reject(hs_conn_t *c, int status, const char *detail)
{
    hs_req_t *req = c->req;
    req->res_close = true;
    hs_res_error(req, status, detail);
}

static bool method_bit(unsigned mask, hs_method_t m)
{
    return (mask >> m) & 1u;
}

/* Core checks that come before any module, in the order a careful server applies them. */
static void dispatch(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    hs_server_t *srv = srv_of(c);
    hs_method_t m = req->p.method_id;

    if (m == HS_METHOD_UNKNOWN) {
        hs_res_error(req, 501, "the request method is not implemented by this server"); /* RFC 9110 §9.1 */
        return;
    }
    if (m == HS_METHOD_MEXT) {
        hs_res_error(req, 510, "the request uses a mandatory extension (RFC 2774) this server does not support");
        return;
    }
    if (req->meta.content_length > 0 && (uint64_t)req->meta.content_length > srv->cfg->max_body) {
        /* RFC 9110 §15.5.14: refused from Content-Length, before reading a byte of it */
        hs_res_error(req, 413, "the declared Content-Length is larger than the server accepts");
        return;
    }
    if (method_bit(srv->length_required, m) && req->meta.content_length < 0 && !req->meta.chunked) {
        hs_res_error(req, 411, "this method needs a request body with a declared length (Content-Length or chunked)");
        return;
    }
    if (req->meta.early_data && !(m == HS_METHOD_GET || m == HS_METHOD_HEAD || m == HS_METHOD_OPTIONS)) {
        /* RFC 8470 §5.2: an unsafe request that may have been replayed */
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
    if (m == HS_METHOD_CONNECT) {
        hs_res_method_not_allowed(req, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
        return;
    }
    for (size_t i = 0; hs_modules[i]; i++) {
        int r = hs_modules[i]->handle(req);
        if (r == HS_DECLINED)
            continue;
        if (r == HS_AGAIN || req->res_sent || c->state == HS_CS_BODY)
            return;
        hs_res_error(req, 500, "a handler finished without a response");
        return;
    }
    hs_res_error(req, 404, "nothing is served at this path");
}

static void start_request(hs_conn_t *c, int head_len)
{
    hs_req_t *req = c->req;
    hs_server_t *srv = srv_of(c);
    req->head_len = (size_t)head_len;
    request_own_head(req, rbuf_data(c));
    c->rpos += (size_t)head_len;
    clear_timer(c);
    c->state = HS_CS_HANDLER;
    if (req->p.method_id == HS_METHOD_HEAD)
        req->no_body = true;
    if (hs_parse_semantics(&req->p, &req->meta) != HS_OK) {
        reject(c, req->p.error, req->p.error_detail);
        return;
    }
    req->body_left = req->meta.content_length > 0 ? req->meta.content_length : 0;
    if (!req->meta.keep_alive || c->requests >= (uint32_t)srv->cfg->max_keepalive_requests ||
        atomic_load(&srv->shutting_down))
        req->res_close = true;
    dispatch(c);
}

/* ---- reading a request body ---- */
static int body_step(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    hs_server_t *srv = srv_of(c);
    for (;;) {
        size_t avail = rbuf_avail(c);
        if (avail > 0) {
            if (req->meta.chunked) {
                size_t len = avail, consumed = 0;
                int status = 0;
                const char *detail = NULL;
                int r = hs_chunked_decode(&req->chunked, rbuf_data(c), &len, &consumed, &srv->chunk_limits, &status,
                                          &detail);
                if (len)
                    hs_buf_append(&req->body, rbuf_data(c), len);
                c->rpos += consumed;
                if (r == HS_ERROR) {
                    req->body_done = true; /* nothing more will be read: framing is broken */
                    c->state = HS_CS_HANDLER;
                    reject(c, status, detail);
                    return STEP_CONTINUE;
                }
                if (r == HS_DONE)
                    req->body_done = true;
            } else {
                size_t take = (size_t)HS_MIN((uint64_t)avail, (uint64_t)req->body_left);
                hs_buf_append(&req->body, rbuf_data(c), take);
                c->rpos += take;
                req->body_left -= (int64_t)take;
                if (req->body_left == 0)
                    req->body_done = true;
            }
            set_timer(c, srv->cfg->body_timeout);
        }
        if (req->body_done) {
            clear_timer(c);
            c->state = HS_CS_HANDLER;
            req->on_body(req);
            return STEP_CONTINUE;
        }
        if (!c->readable)
            return STEP_WAIT;
        ssize_t n = do_read(c, BODY_READ_CHUNK / 4, BODY_READ_CHUNK);
        if (n == HS_AGAIN)
            return STEP_WAIT;
        if (n <= 0)
            return STEP_CLOSE; /* the client went away in the middle of its body (logged 499) */
    }
}

int hs_req_read_body(hs_req_t *req, void (*cb)(hs_req_t *req))
{
    hs_conn_t *c = req->conn;
    req->on_body = cb;
    req->body_started = true;
    if (!hs_req_has_body(req)) {
        req->body_done = true;
        cb(req);
        return HS_AGAIN;
    }
    /* RFC 9110 §10.1.1: 100 Continue only when we are about to read a body the client is
     * holding back — never to HTTP/1.0 (meta.expect_continue is only set for 1.1). */
    if (req->meta.expect_continue && rbuf_avail(c) == 0 && !req->continue_sent) {
        req->continue_sent = true;
        hs_res_interim(req, 100, NULL, 0);
    }
    c->state = HS_CS_BODY;
    set_timer(c, srv_of(c)->cfg->body_timeout);
    hs__conn_run(c);
    return HS_AGAIN;
}

/* ---- writing ---- */
static ssize_t flush_sbuf(hs_conn_t *c, hs_req_t *req, size_t *total)
{
    while (req->spos < req->sbuf.len) {
        ssize_t n = sys_write(c->io.fd, req->sbuf.base + req->spos, req->sbuf.len - req->spos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return HS_AGAIN;
            return HS_ERROR;
        }
        req->spos += (size_t)n;
        req->wire_bytes += (uint64_t)n;
        *total += (size_t)n;
    }
    req->spos = req->sbuf.len = 0;
    return HS_OK;
}

ssize_t hs__conn_flush(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    size_t total = 0;
    if (req->num_segs == 0 && req->sbuf.len > 0) {
        ssize_t r = flush_sbuf(c, req, &total);
        if (r == HS_ERROR)
            return HS_ERROR;
        return total ? (ssize_t)total : (r == HS_AGAIN ? HS_AGAIN : 0);
    }
    while (req->num_segs > 0) {
        hs_seg_t *s = &req->segs[0];
        ssize_t n;
        if (s->base) {
            struct iovec iov[HS_MAX_SEGS];
            size_t k = 0;
            for (; k < req->num_segs && req->segs[k].base; k++) {
                iov[k].iov_base = (void *)req->segs[k].base;
                iov[k].iov_len = req->segs[k].len;
            }
            /* No MSG_MORE before a sendfile: joining the head to the file's first bytes saves a
             * small packet but measured 10-65% more CPU per 100 KiB response (make bench). */
            do
                n = k == 1 ? sys_write(c->io.fd, iov[0].iov_base, iov[0].iov_len) : sys_writev(c->io.fd, iov, k);
            while (n < 0 && errno == EINTR);
        } else {
            off_t off = s->off;
            do
                n = sys_sendfile(c->io.fd, s->fd, &off, HS_MIN(s->len, (size_t)1 << 30));
            while (n < 0 && errno == EINTR);
            if (n == 0) {
                errno = EIO; /* the file shrank under us: the framing promise cannot be kept */
                n = -1;
            }
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return (ssize_t)total ? (ssize_t)total : HS_AGAIN;
            return HS_ERROR;
        }
        total += (size_t)n;
        req->wire_bytes += (uint64_t)n;
        size_t left = (size_t)n;
        while (left > 0 || (req->num_segs > 0 && req->segs[0].len == 0)) {
            hs_seg_t *h = &req->segs[0];
            size_t used = HS_MIN(left, h->len);
            h->len -= used;
            if (h->base)
                h->base += used;
            else
                h->off += (off_t)used;
            left -= used;
            if (h->len == 0) {
                memmove(&req->segs[0], &req->segs[1], (req->num_segs - 1) * sizeof(hs_seg_t));
                req->num_segs--;
            } else {
                break;
            }
        }
    }
    if (req->sbuf.len > 0) {
        ssize_t r = flush_sbuf(c, req, &total);
        if (r == HS_ERROR)
            return HS_ERROR;
        if (r == HS_AGAIN && total == 0)
            return HS_AGAIN;
    }
    return (ssize_t)total;
}

static inline bool output_empty(const hs_req_t *req)
{
    return req->num_segs == 0 && req->sbuf.len == 0;
}

/* Close the connection now; its memory goes when the loop disposes of its io (on_io), after
 * every event and timer of the current batch that could still name it. */
static void conn_free(hs_conn_t *c)
{
    hs_worker_t *w = c->worker;
    if (c->io.closed)
        return; /* already closed, waiting to be disposed of */
    hs_timer_unlink(&w->loop.wheel, &c->timer);
    if (c->req && c->req->on_abort)
        c->req->on_abort(c->req);
    request_free(c);
    hs_io_close(&w->loop, &c->io);
    if (c->reset_on_close) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close with RST */
        setsockopt(c->io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(c->io.fd);
    rbuf_release(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    atomic_fetch_sub(&w->srv->connections, 1);
}

static int start_linger(hs_conn_t *c)
{
    /* Close gracefully: shut our write side so the client sees the whole response, then read
     * and discard what it still sends for a short while so that the kernel does not answer it
     * with a RST that could destroy the response in flight (RFC 9112 §9.6). */
    if (srv_of(c)->cfg->linger_timeout == 0 || c->peer_eof)
        return STEP_CLOSE;
    shutdown(c->io.fd, SHUT_WR);
    c->state = HS_CS_LINGER;
    c->linger_bytes = 0;
    c->rpos = c->rbuf.len = 0;
    set_timer(c, srv_of(c)->cfg->linger_timeout);
    return STEP_CONTINUE;
}

static int linger_step(hs_conn_t *c)
{
    char sink[4096];
    while (c->readable) {
        ssize_t n = read(c->io.fd, sink, sizeof(sink));
        if (n > 0) {
            c->linger_bytes += (uint32_t)n;
            if (c->linger_bytes > LINGER_MAX_BYTES)
                return STEP_CLOSE;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->readable = false;
            return STEP_WAIT;
        }
        return STEP_CLOSE; /* EOF or error */
    }
    return STEP_WAIT;
}

static int finish_request(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    hs_server_t *srv = srv_of(c);
    bool close_now = req->res_close;
    bool unread_body = hs_req_has_body(req) && !req->body_done;
    if (unread_body && !close_now) {
        /* The handler answered without reading the body. Skip it if it is already here;
         * otherwise we must close (the connection is not usable for another request). */
        if (!req->meta.chunked && (uint64_t)req->body_left <= rbuf_avail(c)) {
            c->rpos += (size_t)req->body_left;
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
        rbuf_release(c);
        set_timer(c, srv->cfg->keepalive_timeout);
    }
    return STEP_CONTINUE;
}

static int write_step(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    ssize_t n = hs__conn_flush(c);
    if (n == HS_ERROR)
        return STEP_CLOSE; /* the peer is gone (EPIPE/ECONNRESET): logged with what was sent */
    if (!output_empty(req)) {
        if (n > 0 || c->deadline == 0)
            set_timer(c, srv_of(c)->cfg->send_timeout);
        return STEP_WAIT; /* EAGAIN: EPOLLOUT (edge) wakes us */
    }
    clear_timer(c);
    if (req->upgrade) {
        c->state = HS_CS_UPGRADED;
        set_timer(c, srv_of(c)->cfg->keepalive_timeout);
        return STEP_CONTINUE;
    }
    if (req->raw_mode) {
        if (req->raw_flags & HS_RAW_HOLD) {
            c->state = HS_CS_HANDLER;
            return STEP_WAIT;
        }
        c->reset_on_close = (req->raw_flags & HS_RAW_RESET) != 0;
        return STEP_CLOSE;
    }
    if (req->streaming) {
        c->state = HS_CS_HANDLER;
        if (req->on_drain)
            req->on_drain(req);
        return STEP_CONTINUE;
    }
    if (req->res_sent)
        return finish_request(c);
    /* only an interim response was written: the handler continues */
    c->state = req->body_started && !req->body_done ? HS_CS_BODY : HS_CS_HANDLER;
    return STEP_CONTINUE;
}

/* After 101: flush what the upgrade handler queued, hand it what arrives. */
static int upgraded_step(hs_conn_t *c)
{
    hs_req_t *req = c->req;
    if (req->sbuf.len > 0) {
        size_t total = 0;
        ssize_t r = flush_sbuf(c, req, &total);
        if (r == HS_ERROR)
            goto Gone;
        if (r == HS_AGAIN)
            return STEP_WAIT;
    }
    if (c->upgrade_closing)
        return STEP_CLOSE;
    for (;;) {
        if (rbuf_avail(c) > 0) {
            size_t n = rbuf_avail(c);
            c->rpos += n;
            req->upgrade->on_data(req, c->rbuf.base + c->rpos - n, n);
            set_timer(c, srv_of(c)->cfg->keepalive_timeout);
            if (c->state != HS_CS_UPGRADED || c->upgrade_closing || req->sbuf.len > 0)
                return STEP_CONTINUE;
        }
        if (!c->readable)
            return STEP_WAIT;
        ssize_t n = do_read(c, 4096, 1u << 20);
        if (n == HS_AGAIN)
            return STEP_WAIT;
        if (n <= 0)
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
    const size_t limit = srv->cfg->max_head + 1024;
    for (;;) {
        if (rbuf_avail(c) == 0) {
            if (atomic_load(&srv->shutting_down) && c->state == HS_CS_IDLE)
                return STEP_CLOSE;
            if (!c->readable)
                return STEP_WAIT;
            ssize_t n = do_read(c, 4096, limit);
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
            set_timer(c, srv->cfg->header_timeout); /* whole head within header_timeout */
        }
        hs_req_t *req = c->req;
        int r = hs_parse_request(rbuf_data(c), rbuf_avail(c), &req->p, &srv->limits);
        if (r > 0) {
            start_request(c, r);
            return STEP_CONTINUE;
        }
        if (r == HS_ERROR) {
            req->head_len = 0;
            clear_timer(c);
            c->state = HS_CS_HANDLER;
            reject(c, req->p.error, req->p.error_detail);
            return STEP_CONTINUE;
        }
        /* incomplete */
        if (!c->readable)
            return STEP_WAIT;
        ssize_t n = do_read(c, 4096, limit);
        if (n == HS_AGAIN)
            return STEP_WAIT;
        if (n <= 0) {
            req->log_status = 400; /* closed mid-head: logged as nginx does, nothing sent */
            return STEP_CLOSE;
        }
    }
}

void hs__conn_run(hs_conn_t *c)
{
    if (c->io.closed)
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
        case HS_CS_HANDLER:
        default:
            step = STEP_WAIT;
            if (c->req && c->req->abort_conn) {
                step = STEP_CLOSE;
            } else if (c->peer_eof && c->req && !c->req->res_sent) {
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

static void on_io(hs_io_t *io, int events)
{
    hs_conn_t *c = (hs_conn_t *)io;
    if (events == HS_EV_DISPOSE) {
        free(c); /* closed by conn_free earlier; nothing refers to it any more */
        return;
    }
    if (events & HS_EV_READ)
        c->readable = true;
    if (events & HS_EV_HUP)
        c->rdhup = true; /* the peer shut its side: keep reading until EOF is seen */
    if (c->state == HS_CS_HANDLER && (events & HS_EV_HUP)) {
        /* peek: a real EOF means the client left while we were working */
        char b;
        ssize_t n = recv(c->io.fd, &b, 1, MSG_PEEK);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            c->peer_eof = true;
    }
    hs__conn_run(c);
}

static void on_timer(hs_timer_t *t)
{
    hs_conn_t *c = (hs_conn_t *)((char *)t - offsetof(hs_conn_t, timer));
    if (c->deadline == 0)
        return; /* the state that armed it has ended */
    if (c->deadline > loop_of(c)->now_ms) {
        hs_timer_link(&loop_of(c)->wheel, t, c->deadline); /* moved later since it was armed */
        return;
    }
    c->deadline = 0;
    switch (c->state) {
    case HS_CS_HEAD:
    case HS_CS_BODY: {
        /* RFC 9110 §15.5.9: the request was not completed in time — say so, then close.
         * (Braces: in C17 a label must be followed by a statement, not a declaration; clang
         * rejects the form without them.) */
        const char *why = c->state == HS_CS_BODY ? "the request body was not received in time"
                                                 : "the request head was not received in time";
        c->state = HS_CS_HANDLER;
        c->req->body_done = true;
        /* Hold the connection while the 408 is queued: reject() kicks it, and a kick that runs
         * the state machine may free it (write error, or close without linger when
         * linger_timeout is 0); the run below then happens exactly once, and nothing touches c
         * after it (found by fuzz_conn; regression: tests/unit/http/regress_test.c). */
        c->in_run = true;
        reject(c, 408, why);
        c->in_run = false;
        hs__conn_run(c);
        return;
    }
    case HS_CS_UPGRADED:
        if (c->req->upgrade->on_close)
            c->req->upgrade->on_close(c->req);
        break;
    default: break;
    }
    /* idle keep-alive, linger, stalled writes: close silently */
    c->dead = true;
    if (!c->in_run)
        conn_free(c);
}

void hs__peer_name(const hs_conn_t *c, char *out, size_t outlen)
{
    hs__sockaddr_name((const struct sockaddr *)&c->peer, out, outlen);
}

void hs__sockaddr_name(const struct sockaddr *sa, char *out, size_t outlen)
{
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
    else
        snprintf(out, outlen, "-");
}

void hs__conn_accept(hs_worker_t *w, int fd, const struct sockaddr *sa, socklen_t salen)
{
    hs_conn_t *c = hs_calloc(1, sizeof(*c));
    /* a new connection is a new moment for work keyed on loop->iter or loop->accepted (the
     * open-file cache): a client that changed a file and then connected must see the change,
     * even when this accept happens in the wake-up that served its previous connection */
    w->loop.iter++;
    w->loop.accepted++;
    c->io.fd = fd;
    c->io.cb = on_io;
    c->worker = w;
    c->timer.cb = on_timer;
    memcpy(&c->peer, sa, HS_MIN((size_t)salen, sizeof(c->peer)));
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (hs_io_add(&w->loop, &c->io) != HS_OK) {
        c->dead = true;
        conn_free(c);
        return;
    }
    /* a new connection that sends nothing is treated as idle: closed silently after
     * header_timeout (browsers open spare connections they may never use) */
    set_timer(c, w->srv->cfg->header_timeout);
    c->readable = true; /* data often arrives with the accept: try a read right away */
    hs__conn_run(c);
}

void hs__conn_close_idle(hs_worker_t *w)
{
    hs_conn_t *c = w->conns;
    while (c) {
        hs_conn_t *next = c->next;
        if (c->state == HS_CS_IDLE && rbuf_avail(c) == 0 && !c->in_run) {
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

void hs_res_close_silently(hs_req_t *req, int log_status)
{
    req->log_status = log_status;
    req->status = log_status;
    req->res_sent = true;
    req->abort_conn = true;
    req->conn->state = HS_CS_HANDLER;
    hs__conn_run(req->conn);
}

void hs_req_close_connection(hs_req_t *req, bool reset)
{
    hs_conn_t *c = req->conn;
    c->reset_on_close = reset;
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
    hs_conn_t *c = req->conn;
    if (!req->raw_mode) {
        req->raw_mode = true;
        req->raw_flags = flags;
        req->res_sent = true;
        req->status = log_status;
        req->log_status = log_status;
    } else {
        req->raw_flags = flags;
    }
    if (len) /* testapi fix: memcpy into a still-NULL buffer is UB even for 0 bytes (/fault/reset) */
        hs_buf_append(&req->sbuf, data, len);
    c->state = HS_CS_WRITE;
    hs__conn_run(c);
    return HS_OK;
}

int hs_res_upgrade(hs_req_t *req, const hs_upgrade_t *handler)
{
    req->upgrade = handler;
    req->res_close = false;
    hs__queue_head(req, 101, 2);
    hs__check_response(req, false);
    req->conn->state = HS_CS_WRITE;
    hs__conn_run(req->conn);
    return HS_OK;
}

int hs_upgraded_write(hs_req_t *req, const void *data, size_t len)
{
    hs_buf_append(&req->sbuf, data, len);
    if (req->conn->state == HS_CS_UPGRADED)
        hs__conn_run(req->conn);
    return HS_OK;
}

void hs_upgraded_close(hs_req_t *req)
{
    req->conn->upgrade_closing = true;
    hs__conn_run(req->conn);
}

void hs__worker_free_pools(hs_worker_t *w)
{
    hs__access_log_flush(w);
    hs_buf_free(&w->log_buf);
    while (w->req_pool) {
        hs_req_t *r = w->req_pool;
        w->req_pool = r->module_data;
        hs_arena_reset(&r->arena);
        free(r);
    }
    w->nreq_pool = 0;
    for (int b = 0; b < w->nfree_bufs; b++)
        hs_buf_free(&w->free_bufs[b]);
    w->nfree_bufs = 0;
}
