/* statusd — the HTTP/1.1 client and its per-worker keep-alive pools (include/hs/client.h).
 *
 * An exchange moves through a few states, all driven from client_run (the only place that calls
 * the caller back, so that a callback freeing the exchange is caught in one place):
 *
 *   CONNECTING ─▶ [HANDSHAKE] ─▶ EXCHANGE (request out, response head in, both at once) ─▶ BODY ─▶ DONE
 *                                    │                                                └─▶ FAILED
 *                                    └─▶ TUNNEL (after a 101 the request asked for)
 *
 * HANDSHAKE (https upstreams only): the TLS handshake on the new connection (hs/tls.h), under
 * what is left of the connect timeout: for the operator "connected" means ready to carry the
 * request. A pooled connection keeps its session and goes straight to EXCHANGE.
 *
 * Reading and writing overlap on purpose: an upstream may answer before the request body is
 * complete (a 413, a 401 to an upload), and that answer is what the client must see.
 *
 * One socket deadline serves every phase (hs_sock_set_deadline is lazy: re-arming it costs
 * nothing while it moves later). Which timeout it stands for is remembered in `dl`, so that the
 * HS_EV_TIMEOUT can be reported as the right cause.
 *
 * The keep-alive race. An upstream closes an idle connection when its keep-alive timer fires; a
 * request sent at that moment meets a FIN or a RST and no response. Four things keep it from
 * becoming a 502: the pool retires a connection a margin before the upstream's announced
 * Keep-Alive timeout (and honours our own idle limit); before reuse a MSG_PEEK shows whether the
 * upstream already closed (EOF) or sent something unasked (both: the connection is dropped); a
 * request that must not be retried can ask for connections idle no longer than a bound; and an
 * idempotent request that fails on a reused connection before any response byte is replayed
 * once on a fresh connection (h2o's http1client and HAProxy do the same, each in its way). */
#define _GNU_SOURCE
#include "hs/client.h"
#include "hs/tls.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

enum { ST_CONNECTING = 1, ST_EXCHANGE, ST_BODY, ST_TUNNEL, ST_DONE, ST_FAILED, ST_HANDSHAKE };
enum { DL_NONE, DL_CONNECT, DL_SEND, DL_HEAD, DL_IDLE };

#define BODY_READ_LIMIT 65536

/* One upstream address of a pool: its idle connections, most recently used first. */
typedef struct host_s {
    struct host_s *next;
    struct sockaddr_storage sa;
    socklen_t salen;
    const void *tls; /* the TLS context of its connections (NULL: plain TCP) and the name they */
    char *tls_name;  /* were verified for: a connection is reused only for the same pair */
    hs_client_conn_t *idle_head, *idle_tail;
    uint32_t nidle, nopen;
    struct hs_client_pool_s *pool;
} host_t;

/* Exchanges freed are kept for the next ones, with their header array, their output chain's
 * written-out blocks and their replay buffer: a gateway relaying small responses then allocates
 * nothing per request. At most CLIENT_CACHE, or as many as the pool has connections open when
 * that is more: each exchange needs a connection, so under load the cache holds what the next
 * wave will ask for (a fixed 64 made 1000 concurrent clients malloc and free an exchange each
 * per request), and an idle gateway keeps no more than its connections' worth. */
#define CLIENT_CACHE 64

struct hs_client_pool_s {
    hs_loop_t *loop;
    hs_client_pool_conf_t conf;
    host_t *hosts;
    hs_client_t *cache; /* freed exchanges, linked through next_free */
    int ncache;
    uint32_t nopen; /* connections open to every host (the cache's bound) */
    size_t nhosts;  /* records in hosts (bounded: HS_CLIENT_POOL_HOSTS) */
};

/* A connection: busy (owner set) or idle in its host's list. Kept small: this and the socket are
 * all an idle connection holds (its input buffer went back to the loop). */
struct hs_client_conn_s {
    hs_sock_t sock; /* first: the loop hands us &sock.io */
    host_t *host;   /* NULL once closed */
    hs_client_conn_t *next, *prev;
    hs_client_t *owner;
    uint64_t idle_since;
};

static void client_io(hs_client_t *c, int ev);
static void client_run(hs_client_t *c);

/* ---- addresses ---- */
static bool addr_eq(const struct sockaddr *a, socklen_t al, const struct sockaddr_storage *b, socklen_t bl)
{
    if (a->sa_family != b->ss_family)
        return false;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return al == bl && memcmp(a, b, al) == 0; /* AF_UNIX: the path */
}

static bool tls_eq(const host_t *h, const void *tls, const char *name)
{
    return h->tls == tls && (!tls || !strcmp(h->tls_name, name ? name : ""));
}

static host_t *host_find(hs_client_pool_t *pool, const struct sockaddr *sa, socklen_t salen, const void *tls,
                         const char *name, bool create)
{
    for (host_t *h = pool->hosts; h; h = h->next)
        if (addr_eq(sa, salen, &h->sa, h->salen) && tls_eq(h, tls, name))
            return h;
    if (!create)
        return NULL;
    if (pool->nhosts >= HS_CLIENT_POOL_HOSTS) {
        /* many addresses (a forward proxy): forget those without a connection. Nothing else
         * points at a record without one: an exchange reaches its host through its connection. */
        for (host_t **pp = &pool->hosts; *pp;) {
            host_t *o = *pp;
            if (o->nopen == 0) {
                *pp = o->next;
                free(o->tls_name);
                free(o);
                pool->nhosts--;
            } else {
                pp = &o->next;
            }
        }
    }
    host_t *h = hs_calloc(1, sizeof(*h));
    h->pool = pool;
    memcpy(&h->sa, sa, HS_MIN((size_t)salen, sizeof(h->sa)));
    h->salen = salen;
    if (tls) {
        h->tls = tls;
        h->tls_name = hs_strdup(name ? name : "");
    }
    h->next = pool->hosts;
    pool->hosts = h;
    pool->nhosts++;
    return h;
}

/* ---- connections ---- */
static void idle_unlink(hs_client_conn_t *k)
{
    host_t *h = k->host;
    if (k->prev)
        k->prev->next = k->next;
    else
        h->idle_head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    else
        h->idle_tail = k->prev;
    k->next = k->prev = NULL;
    h->nidle--;
}

static void conn_close(hs_client_conn_t *k)
{
    if (k->host) {
        if (!k->owner)
            idle_unlink(k);
        k->host->nopen--;
        k->host->pool->nopen--;
        k->host = NULL;
    }
    k->owner = NULL;
    hs_sock_close(&k->sock); /* the memory goes at HS_EV_DISPOSE */
}

/* Has the upstream closed (EOF, reset) or sent bytes nobody asked for? Either way the connection
 * cannot carry a request. */
static bool conn_alive(hs_client_conn_t *k)
{
    if (hs_sock_batched(&k->sock))
        return false; /* the loop read it: bytes, the end or an error */
    char b;
    ssize_t n = recv(k->sock.io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static void conn_io(hs_io_t *io, int ev)
{
    hs_client_conn_t *k = (hs_client_conn_t *)io;
    if (ev == HS_EV_DISPOSE) {
        free(k);
        return;
    }
    if (k->owner) {
        client_io(k->owner, ev);
        return;
    }
    /* idle: the retirement deadline, or the upstream closing it (or talking out of turn) */
    if (ev == HS_EV_TIMEOUT || ((ev & (HS_EV_READ | HS_EV_HUP | HS_EV_ERROR)) && !conn_alive(k)))
        conn_close(k);
}

/* The peek before reuse costs a system call per request. It is skipped for a request that may be
 * replayed (HS_CLIENT_RETRY) on a connection idle for less than PEEK_AFTER_MS: if the upstream
 * closed it meanwhile (a close right after a response, not announced), the request meets the EOF
 * before any response byte and is sent again on a fresh connection; and bytes nobody asked for
 * (a 408 before an idle close) come from idle timers, which do not fire that early. A request that
 * may not be replayed is always peeked for. */
#define PEEK_AFTER_MS 1000

static hs_client_conn_t *pool_take(hs_client_pool_t *pool, host_t *h, uint64_t max_idle_ms, bool replayable)
{
    uint64_t now = pool->loop->now_ms;
    hs_client_conn_t *next;
    for (hs_client_conn_t *k = h->idle_head; k; k = next) {
        next = k->next;
        if (max_idle_ms && now - k->idle_since > max_idle_ms)
            continue; /* too old for this request; younger ones come first, and others may use it */
        idle_unlink(k);
        bool peek = !replayable || now - k->idle_since >= PEEK_AFTER_MS || k->sock.eof || k->sock.rdhup;
        if (peek && !conn_alive(k)) {
            k->owner = NULL;
            h->nopen--;
            pool->nopen--;
            k->host = NULL;
            hs_sock_close(&k->sock);
            continue;
        }
        hs_sock_clear_deadline(&k->sock);
        k->sock.readable = false;
        return k;
    }
    return NULL;
}

/* The exchange on k ended cleanly and k may carry another request: keep it, or close it. */
static void pool_put(hs_client_t *c, hs_client_conn_t *k)
{
    hs_client_pool_t *pool = c->pool;
    host_t *h = k->host;
    uint64_t ttl = pool->conf.idle_timeout_ms;
    if (c->meta.keep_alive_timeout >= 0) {
        uint64_t ka = (uint64_t)c->meta.keep_alive_timeout * 1000;
        ttl = ka > pool->conf.keepalive_margin_ms ? HS_MIN(ttl, ka - pool->conf.keepalive_margin_ms) : 0;
    }
    k->owner = NULL;
    if (!h || ttl == 0 || pool->conf.max_idle == 0 || hs_sock_avail(&k->sock) > 0 || hs_sock_batched(&k->sock) ||
        k->sock.eof || k->sock.rdhup) {
        k->owner = c; /* so that conn_close does not look for it in the idle list */
        conn_close(k);
        return;
    }
    if (h->nidle >= pool->conf.max_idle) { /* the least recently used one goes */
        hs_client_conn_t *old = h->idle_tail;
        conn_close(old);
    }
    k->prev = NULL;
    k->next = h->idle_head;
    if (h->idle_head)
        h->idle_head->prev = k;
    h->idle_head = k;
    if (!h->idle_tail)
        h->idle_tail = k;
    h->nidle++;
    k->idle_since = pool->loop->now_ms;
    hs_sock_release_buffer(&k->sock);
    hs_sock_set_deadline(&k->sock, ttl);
}

/* ---- pools ---- */
hs_client_pool_t *hs_client_pool_new(hs_loop_t *loop, const hs_client_pool_conf_t *conf)
{
    hs_client_pool_t *pool = hs_calloc(1, sizeof(*pool));
    pool->loop = loop;
    pool->conf = *conf;
    return pool;
}

void hs_client_pool_free(hs_client_pool_t *pool)
{
    if (!pool)
        return;
    while (pool->cache) {
        hs_client_t *c = pool->cache;
        pool->cache = c->next_free;
        hs_writer_reset(&c->out);
        hs_buf_free(&c->replay);
        free(c->hdrs);
        free(c);
    }
    while (pool->hosts) {
        host_t *h = pool->hosts;
        while (h->idle_head)
            conn_close(h->idle_head);
        pool->hosts = h->next;
        free(h->tls_name);
        free(h);
    }
    free(pool);
}

void hs_client_pool_count(const hs_client_pool_t *pool, const struct sockaddr *sa, socklen_t salen, size_t *idle,
                          size_t *open)
{
    *idle = *open = 0;
    for (const host_t *h = pool->hosts; h; h = h->next)
        if (addr_eq(sa, salen, &h->sa, h->salen)) { /* plain and TLS connections alike */
            *idle += h->nidle;
            *open += h->nopen;
        }
}

size_t hs_client_idle_conn_size(void)
{
    return sizeof(hs_client_conn_t);
}

/* ---- errors ---- */
static hs_up_cause_t connect_cause(int err)
{
    switch (err) {
    case ECONNREFUSED: return HS_UP_CONNECT_REFUSED;
    case ETIMEDOUT: return HS_UP_CONNECT_TIMEOUT;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN: return HS_UP_NO_ROUTE;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:
    case EAGAIN: return HS_UP_PROXY_RESOURCES;
    default: return HS_UP_CONNECT_ERROR;
    }
}

static const char *connect_detail(hs_up_cause_t cause)
{
    switch (cause) {
    case HS_UP_CONNECT_REFUSED: return "the upstream refused the connection";
    case HS_UP_CONNECT_TIMEOUT: return "the connection to the upstream was not made in time";
    case HS_UP_NO_ROUTE: return "no route to the upstream";
    case HS_UP_PROXY_RESOURCES: return "no local resources to connect to the upstream (descriptors, ports)";
    default: return "the connection to the upstream failed";
    }
}

static hs_up_phase_t phase_of(const hs_client_t *c)
{
    switch (c->state) {
    case ST_CONNECTING: return HS_UP_PHASE_CONNECT;
    case ST_HANDSHAKE: return HS_UP_PHASE_TLS;
    case ST_EXCHANGE: return !c->req_done ? HS_UP_PHASE_SEND : c->got_byte ? HS_UP_PHASE_HEADERS : HS_UP_PHASE_WAIT;
    case ST_BODY:
    case ST_TUNNEL: return HS_UP_PHASE_BODY;
    default: return HS_UP_PHASE_NONE;
    }
}

/* Keep an error found outside client_run (inside hs_client_start or a call) for the loop to
 * deliver: no callback from inside the caller's call. */
static void defer_error(hs_client_t *c, hs_up_cause_t cause, int err, const char *detail)
{
    if (c->pending_cause)
        return;
    c->pending_cause = cause;
    c->pending_errno = err;
    c->pending_detail = detail;
    if (!hs_timer_is_linked(&c->kick))
        hs_timer_link(&c->pool->loop->wheel, &c->kick, c->pool->loop->now_ms);
}

static void kick(hs_client_t *c)
{
    if (!hs_timer_is_linked(&c->kick) && c->state != ST_DONE && c->state != ST_FAILED)
        hs_timer_link(&c->pool->loop->wheel, &c->kick, c->pool->loop->now_ms);
}

/* ---- starting and connecting ---- */
static int connect_fresh(hs_client_t *c, host_t *h)
{
    hs_client_pool_t *pool = c->pool;
    if (pool->conf.max_conns && h->nopen >= pool->conf.max_conns) {
        defer_error(c, HS_UP_CONNECTION_LIMIT, 0, "the upstream's connection limit is reached");
        return HS_ERROR;
    }
    hs_client_conn_t *k = hs_calloc(1, sizeof(*k));
    int r =
        hs_sock_connect(&k->sock, pool->loop, (const struct sockaddr *)&c->addr, c->addrlen, c->to.connect_ms, conn_io);
    hs_sock_batch_reads(&k->sock, true);  /* every read goes through hs_sock_read (or the TLS ops), */
    hs_sock_batch_writes(&k->sock, true); /* every write through the exchange's writer */
    if (r != HS_OK) {
        free(k); /* never opened: no HS_EV_DISPOSE comes */
        hs_up_cause_t cause = connect_cause(-r);
        defer_error(c, cause, -r, connect_detail(cause));
        return HS_ERROR;
    }
    k->host = h;
    k->owner = c;
    h->nopen++;
    c->pool->nopen++;
    c->conn = k;
    c->attempts++;
    c->reused = false;
    c->dl = DL_CONNECT;
    c->attempt_start = pool->loop->now_ms;
    if (k->sock.connecting || c->tls) { /* TLS: the handshake starts from the loop */
        if (!k->sock.connecting)
            kick(c);
        c->state = ST_CONNECTING;
    } else {
        c->state = ST_EXCHANGE;
        c->t.connected = pool->loop->now_ms;
        c->dl = DL_NONE;
        kick(c);
    }
    return HS_OK;
}

/* Queue request bytes, keeping a copy for a replay while one is possible. */
static void queue(hs_client_t *c, const void *p, size_t n)
{
    hs_writer_copy(&c->out, p, n);
    if (c->replay_ok) {
        if (c->replay.len + n > HS_CLIENT_REPLAY_MAX) {
            c->replay_ok = false;
            hs_buf_free(&c->replay);
        } else {
            hs_buf_append(&c->replay, p, n);
        }
    }
}

/* The request head, written straight into the output chain's block (and kept for a replay while
 * one is possible). */
static void queue_head(hs_client_t *c, const hs_client_req_t *req)
{
    hs_iovec_t m = req->method_name.base ? req->method_name : hs_iov_cstr(hs_method_name(req->method));
    size_t size = m.len + 1 + req->target.len + 11 + 48 + 19 + 2;
    for (size_t i = 0; i < req->num_headers; i++)
        size += req->headers[i].name.len + req->headers[i].value.len + 4;
    char *start = hs_writer_tail(&c->out, size), *p = start;
#define PUT(ptr, n) (p = hs_put(p, (ptr), (n)))
#define PUT_LIT(lit) PUT(lit, sizeof(lit) - 1)
    PUT(m.base, m.len);
    PUT_LIT(" ");
    PUT(req->target.base, req->target.len);
    PUT_LIT(" HTTP/1.1\r\n");
    bool has_connection = false;
    for (size_t i = 0; i < req->num_headers; i++) {
        const hs_header_t *f = &req->headers[i];
        /* RFC 9112 §6.1-6.2: the framing is ours to write, once */
        if ((f->name.len == 14 && HS_IOV_IEQ(f->name, "content-length")) ||
            (f->name.len == 17 && HS_IOV_IEQ(f->name, "transfer-encoding")))
            continue;
        if (f->name.len == 10 && HS_IOV_IEQ(f->name, "connection"))
            has_connection = true;
        PUT(f->name.base, f->name.len);
        PUT_LIT(": ");
        PUT(f->value.base, f->value.len);
        PUT_LIT("\r\n");
    }
    if (req->content_length >= 0) {
        PUT_LIT("Content-Length: ");
        p = hs_fmt_u64(p, (uint64_t)req->content_length);
        PUT_LIT("\r\n");
    } else if (req->content_length == HS_CLIENT_CHUNKED) {
        PUT_LIT("Transfer-Encoding: chunked\r\n");
    }
    if ((req->flags & HS_CLIENT_NO_REUSE) && !has_connection)
        PUT_LIT("Connection: close\r\n");
    PUT_LIT("\r\n");
#undef PUT_LIT
#undef PUT
    size_t n = (size_t)(p - start);
    hs_writer_commit(&c->out, n);
    if (c->replay_ok) {
        if (n > HS_CLIENT_REPLAY_MAX)
            c->replay_ok = false;
        else
            hs_buf_append(&c->replay, start, n);
    }
}

static void on_kick(hs_timer_t *t)
{
    hs_client_t *c = (hs_client_t *)((char *)t - offsetof(hs_client_t, kick));
    client_run(c);
}

hs_client_t *hs_client_start(hs_client_pool_t *pool, const struct sockaddr *sa, socklen_t salen,
                             const hs_client_req_t *req, const hs_client_cbs_t *cbs, void *data)
{
    hs_client_t *c = pool->cache;
    hs_header_t *hdrs = NULL;
    size_t hdrs_cap = 0;
    if (c) { /* a freed one: everything zeroed but what it keeps for reuse */
        pool->cache = c->next_free;
        pool->ncache--;
        hs_writer_t out = c->out;
        hs_buf_t replay = c->replay;
        hdrs = c->hdrs;
        hdrs_cap = c->hdrs_cap;
        memset(c, 0, offsetof(hs_client_t, addr)); /* addr and meta: written before they are read */
        c->out = out;
        c->replay = replay;
    } else {
        c = hs_calloc(1, sizeof(*c));
        hs_writer_init(&c->out);
    }
    c->pool = pool;
    c->data = data;
    c->cbs = *cbs;
    c->method = req->method;
    c->flags = req->flags;
    c->max_reuse_idle_ms = req->max_reuse_idle_ms;
    c->to = req->timeouts;
    c->limits = req->limits;
    if (!c->limits.max_head)
        c->limits.max_head = 32768;
    if (!c->limits.max_field)
        c->limits.max_field = 8192;
    if (!c->limits.max_headers)
        c->limits.max_headers = 100;
    c->max_interim = req->max_interim ? req->max_interim : 16;
    c->content_length = req->content_length;
    c->body_expected = -1;
    c->t.start = pool->loop->now_ms;
    c->kick.cb = on_kick;
    c->body_ended = req->content_length == HS_CLIENT_NO_BODY || req->content_length == 0;
    if (hdrs_cap < c->limits.max_headers) {
        free(hdrs);
        hdrs = hs_malloc(c->limits.max_headers * sizeof(hs_header_t));
        hdrs_cap = c->limits.max_headers;
    }
    c->hdrs = hdrs;
    c->hdrs_cap = hdrs_cap;
    c->addrlen = (socklen_t)HS_MIN((size_t)salen, sizeof(c->addr));
    memcpy(&c->addr, sa, c->addrlen);
    c->state = ST_CONNECTING;
    c->tls = req->tls;
    if (c->tls)
        hs_tls_client_ref(c->tls); /* a health check may outlive the configuration that made it */

    host_t *h = host_find(pool, sa, salen, req->tls, req->tls_name, true);
    c->tls_name = h->tls_name;
    if (req->flags & HS_CLIENT_TUNNEL) { /* CONNECT: a connection of its own, nothing to write */
        c->flags |= HS_CLIENT_NO_REUSE;
        c->flags &= ~(unsigned)HS_CLIENT_RETRY;
        c->body_ended = false; /* the caller's side of the tunnel is open */
        c->req_done = true;
        if (connect_fresh(c, h) == HS_OK && c->state == ST_EXCHANGE)
            c->state = ST_CONNECTING; /* made at once: the tunnel opens from the loop (kicked) */
        return c;
    }
    hs_client_conn_t *k = (req->flags & HS_CLIENT_FRESH)
                              ? NULL
                              : pool_take(pool, h, req->max_reuse_idle_ms, (req->flags & HS_CLIENT_RETRY) != 0);
    if (k) {
        k->owner = c;
        c->conn = k;
        c->attempts = 1;
        c->reused = true;
        c->replay_ok = (req->flags & HS_CLIENT_RETRY) != 0;
        c->state = ST_EXCHANGE;
        c->t.connected = pool->loop->now_ms;
        kick(c);
    } else {
        connect_fresh(c, h);
    }
    queue_head(c, req);
    /* Write first (design habit 7): on a connection ready now the head leaves at once instead of
     * at the loop's next tick; the run the kick makes sees what is left, or an error, and calls
     * back from there. */
    if (c->state == ST_EXCHANGE && c->conn && c->body_ended && hs_writer_flush(&c->out, &c->conn->sock) > 0 &&
        c->out.pending == 0) {
        c->req_done = true;
        c->t.sent = pool->loop->now_ms;
    }
    return c;
}

/* ---- the caller's calls ---- */
int hs_client_write(hs_client_t *c, const void *data, size_t len)
{
    if (c->state == ST_FAILED || c->freed || c->body_ended || c->pending_cause)
        return HS_ERROR;
    if (c->state == ST_DONE)
        return HS_ERROR;
    if (len == 0)
        return HS_OK;
    if (c->state == ST_TUNNEL) {
        hs_writer_copy(&c->out, data, len);
    } else if (c->content_length >= 0) {
        if (c->body_sent + len > (uint64_t)c->content_length)
            return HS_ERROR;
        queue(c, data, len);
    } else if (c->content_length == HS_CLIENT_CHUNKED) {
        char line[24];
        char *e = hs_fmt_hex(line, len);
        memcpy(e, "\r\n", 2);
        queue(c, line, (size_t)(e + 2 - line));
        queue(c, data, len);
        queue(c, "\r\n", 2);
    } else {
        return HS_ERROR; /* HS_CLIENT_NO_BODY */
    }
    c->body_sent += len;
    c->drain_wanted = true;
    kick(c);
    return HS_OK;
}

int hs_client_write_end(hs_client_t *c)
{
    if (c->state == ST_FAILED || c->freed || c->body_ended)
        return c->body_ended && c->state != ST_FAILED ? HS_OK : HS_ERROR;
    if (c->state != ST_TUNNEL) {
        if (c->content_length >= 0 && c->body_sent != (uint64_t)c->content_length)
            return HS_ERROR;
        if (c->content_length == HS_CLIENT_CHUNKED)
            queue(c, "0\r\n\r\n", 5);
    }
    c->body_ended = true;
    kick(c);
    return HS_OK;
}

size_t hs_client_pending(const hs_client_t *c)
{
    return c->out.pending;
}

void hs_client_pause(hs_client_t *c, bool paused)
{
    if (c->paused == paused)
        return;
    c->paused = paused;
    if (!paused) {
        if (c->conn)
            c->conn->sock.readable = true; /* what arrived meanwhile was not announced again */
        kick(c);
    } else if (c->dl == DL_IDLE && c->conn) {
        hs_sock_clear_deadline(&c->conn->sock);
        c->dl = DL_NONE;
    }
}

static void destroy(hs_client_t *c)
{
    hs_client_pool_t *pool = c->pool;
    if (hs_timer_is_linked(&c->kick))
        hs_timer_unlink(&pool->loop->wheel, &c->kick);
    if (c->conn) {
        c->conn->owner = c;
        conn_close(c->conn);
        c->conn = NULL;
    }
    if (c->tls) {
        hs_tls_client_free(c->tls);
        c->tls = NULL;
    }
    if (pool->ncache < CLIENT_CACHE || (uint32_t)pool->ncache < pool->nopen) {
        /* kept for the next exchange: a chain written out keeps its blocks, a large replay copy goes */
        if (c->out.pending)
            hs_writer_reset(&c->out);
        if (c->replay.cap > HS_CLIENT_REPLAY_MAX)
            hs_buf_free(&c->replay);
        c->replay.len = 0;
        c->next_free = pool->cache;
        pool->cache = c;
        pool->ncache++;
        return;
    }
    hs_writer_reset(&c->out);
    hs_buf_free(&c->replay);
    free(c->hdrs);
    free(c);
}

void hs_client_free(hs_client_t *c)
{
    if (!c)
        return;
    if (c->in_run) {
        c->freed = true;
        return;
    }
    destroy(c);
}

/* ---- ending ---- */

/* The caller's callbacks, each followed by a check that it did not free the exchange. */
#define CALLBACK(c, call)                                                                                              \
    do {                                                                                                               \
        call;                                                                                                          \
        if ((c)->freed)                                                                                                \
            return false;                                                                                              \
    } while (0)

/* A retry on a fresh connection (see the top): the request bytes go again from the copy. */
static bool try_retry(hs_client_t *c, hs_up_cause_t cause)
{
    if (cause != HS_UP_CLOSED_BEFORE_HEAD || !c->reused || !(c->flags & HS_CLIENT_RETRY) || c->attempts > 1 ||
        c->got_byte || !c->replay_ok)
        return false;
    hs_client_conn_t *k = c->conn;
    host_t *h = k->host;
    c->conn = NULL;
    conn_close(k);
    hs_writer_reset(&c->out);
    hs_writer_copy(&c->out, c->replay.base, c->replay.len);
    c->replay_ok = false;
    c->replay.len = 0;
    c->req_done = false;
    c->write_failed = false;
    c->t.sent = 0;
    if (!h || connect_fresh(c, h) != HS_OK) {
        c->state = ST_CONNECTING; /* the deferred error reports the fresh connection's failure */
        return true;
    }
    return true;
}

static bool fail(hs_client_t *c, hs_up_cause_t cause, int err, const char *detail)
{
    if (try_retry(c, cause))
        return true;
    c->error = (hs_client_error_t){
        .cause = cause, .phase = phase_of(c), .sys_errno = err, .detail = detail, .reused = c->reused};
    if (cause == HS_UP_TLS_ALERT && c->conn)
        c->error.tls_alert = hs_tls_alert_received(&c->conn->sock);
    c->state = ST_FAILED;
    c->t.end = c->pool->loop->now_ms;
    if (c->conn) {
        conn_close(c->conn);
        c->conn = NULL;
    }
    CALLBACK(c, c->cbs.on_error(c, &c->error));
    return false;
}

/* The response is complete: the connection goes back to the pool when it can, then the caller
 * hears of it. */
static bool complete(hs_client_t *c, const hs_header_t *trailers, size_t n)
{
    hs_client_conn_t *k = c->conn;
    c->state = ST_DONE;
    c->t.end = c->pool->loop->now_ms;
    c->conn = NULL;
    hs_sock_clear_deadline(&k->sock);
    if (c->meta.keep_alive && c->req_done && !(c->flags & HS_CLIENT_NO_REUSE) && c->meta.keep_alive_max != 0)
        pool_put(c, k);
    else
        conn_close(k);
    if (c->cbs.on_end)
        CALLBACK(c, c->cbs.on_end(c, trailers, n));
    return false;
}

/* ---- reading the response ---- */
static bool deliver(hs_client_t *c, const char *p, size_t n)
{
    if (n == 0)
        return true;
    c->body_received += n;
    if (c->cbs.on_body)
        CALLBACK(c, c->cbs.on_body(c, p, n));
    return true;
}

/* A final head arrived: decide how the body comes. false: stop running (ended, failed, freed). */
static bool final_head(hs_client_t *c, hs_parsed_res_t *res, int len)
{
    if (hs_parse_response_semantics(res, c->method, &c->meta) != HS_OK)
        return fail(c, (hs_up_cause_t)res->error, 0, res->error_detail);
    if (res->status == 101 && !(c->flags & HS_CLIENT_UPGRADE))
        return fail(c, HS_UP_UNEXPECTED_UPGRADE, 0, "a 101 to a request that did not ask to upgrade");
    hs_sock_t *s = &c->conn->sock;
    c->status = res->status;
    c->t.head = c->pool->loop->now_ms;
    if (c->meta.framing == HS_FRAMING_LENGTH)
        c->body_expected = c->meta.content_length;
    /* the state the body needs is set before the caller hears of the head, so that it can act on
     * it from on_head (write into a tunnel, pause); the head's bytes stay where they are during
     * the call, consumed or not */
    hs_sock_consume(s, (size_t)len);
    bool done = false;
    switch (c->meta.framing) {
    case HS_FRAMING_NONE: done = true; break;
    case HS_FRAMING_LENGTH:
        c->body_left = c->meta.content_length;
        done = c->body_left == 0;
        c->state = ST_BODY;
        break;
    case HS_FRAMING_CHUNKED:
        c->chunked = (hs_chunked_t){.stop_at_trailers = true};
        c->state = ST_BODY;
        break;
    case HS_FRAMING_TUNNEL:
        c->state = ST_TUNNEL;
        c->body_ended = false; /* the caller's side of the tunnel is open */
        break;
    default: c->state = ST_BODY; break;
    }
    if (c->cbs.on_head)
        CALLBACK(c, c->cbs.on_head(c, res, &c->meta));
    if (done)
        return complete(c, NULL, 0);
    return true;
}

/* Parse what is buffered as response heads. true: go on (more input needed, or the body is next). */
static bool parse_heads(hs_client_t *c)
{
    hs_sock_t *s = &c->conn->sock;
    while (c->state == ST_EXCHANGE && hs_sock_avail(s) > 0) {
        hs_parsed_res_t res = {.headers = c->hdrs};
        int r = hs_parse_response(hs_sock_data(s), hs_sock_avail(s), &res, &c->limits);
        if (r == HS_AGAIN)
            return true;
        if (r == HS_ERROR)
            return fail(c, (hs_up_cause_t)res.error, 0, res.error_detail);
        if (res.status >= 200 || res.status == 101)
            return final_head(c, &res, r);
        /* RFC 9110 §15.2: any number of interim responses may precede the final one; we cap it */
        if (++c->ninterim > c->max_interim)
            return fail(c, HS_UP_TOO_MANY_INTERIM, 0, "more interim responses than the gateway accepts");
        if (c->cbs.on_interim)
            CALLBACK(c, c->cbs.on_interim(c, &res));
        hs_sock_consume(s, (size_t)r);
    }
    return true;
}

/* Read once into the connection's buffer (hs_sock_read's results); the first byte of a response
 * ends any chance of a replay. */
static ssize_t read_some(hs_client_t *c, size_t limit)
{
    hs_sock_t *s = &c->conn->sock;
    if (!s->readable)
        return HS_AGAIN;
    ssize_t n = hs_sock_read(s, 4096, limit);
    if (n > 0 && !c->got_byte) {
        c->got_byte = true;
        c->t.first_byte = c->pool->loop->now_ms;
        if (c->replay_ok) { /* a response began: the request can no longer be replayed */
            c->replay_ok = false;
            c->replay.len = 0; /* its memory stays for the next exchange */
        }
    }
    return n;
}

static bool exchange_step(hs_client_t *c)
{
    if (!parse_heads(c) || c->state != ST_EXCHANGE)
        return false;
    for (;;) {
        ssize_t n = read_some(c, c->limits.max_head + 1024);
        if (n == HS_AGAIN)
            return true;
        if (n > 0) {
            /* the head deadline runs from the request's end, not from each byte */
            if (!parse_heads(c) || c->state != ST_EXCHANGE)
                return false;
            continue;
        }
        int err = n == 0 ? 0 : errno;
        if (!c->got_byte && c->tls && !c->reused && hs_tls_alert_received(&c->conn->sock) >= 0) {
            /* TLS 1.3: a server checks the client's certificate after the client's Finished (RFC
             * 8446 §4.4.2.4), so its refusal (certificate_required …) is the first thing read */
            const char *why = hs_tls_failure(&c->conn->sock, NULL);
            return fail(c, HS_UP_TLS_ALERT, 0, why ? why : "the upstream sent a fatal TLS alert");
        }
        if (!c->got_byte)
            return fail(c, HS_UP_CLOSED_BEFORE_HEAD, err,
                        err ? "the upstream reset the connection before responding"
                            : "the upstream closed the connection before responding");
        return fail(c, HS_UP_CLOSED_IN_HEAD, err, "the upstream closed the connection in the middle of the head");
    }
}

static bool body_step(hs_client_t *c)
{
    hs_sock_t *s = &c->conn->sock;
    bool got = false;
    for (;;) {
        if (c->paused)
            break;
        size_t avail = hs_sock_avail(s);
        if (avail > 0) {
            char *p = hs_sock_data(s);
            switch (c->meta.framing) {
            case HS_FRAMING_LENGTH: {
                size_t take = (uint64_t)c->body_left < avail ? (size_t)c->body_left : avail;
                hs_sock_consume(s, take);
                c->body_left -= (int64_t)take;
                if (!deliver(c, p, take))
                    return false;
                if (c->body_left == 0)
                    return complete(c, NULL, 0);
                break;
            }
            case HS_FRAMING_CHUNKED: {
                if (c->trailers) {
                    size_t num = 0;
                    int cause = 0;
                    const char *detail = NULL;
                    int r = hs_parse_trailers(p, avail, c->hdrs, &num, &c->limits, &cause, &detail);
                    if (r == HS_ERROR)
                        return fail(c, (hs_up_cause_t)cause, 0, detail);
                    if (r == HS_AGAIN)
                        goto Read;
                    /* the fields point into the input buffer, which the pool may recycle:
                     * copy the section (rare) before the connection goes back */
                    char *copy = NULL;
                    if (num > 0) {
                        copy = hs_malloc((size_t)r);
                        memcpy(copy, p, (size_t)r);
                        hs_parse_trailers(copy, (size_t)r, c->hdrs, &num, &c->limits, &cause, &detail);
                    }
                    hs_sock_consume(s, (size_t)r);
                    bool go = complete(c, c->hdrs, num);
                    free(copy);
                    return go;
                }
                size_t len = avail, consumed = 0;
                int status = 0;
                const char *detail = NULL;
                hs_chunked_limits_t cl = {.max_body = UINT64_MAX / 2, .max_ext = 4096, .max_trailer = 0};
                int r = hs_chunked_decode(&c->chunked, p, &len, &consumed, &cl, &status, &detail);
                hs_sock_consume(s, consumed);
                if (!deliver(c, p, len))
                    return false;
                if (r == HS_ERROR)
                    return fail(c, HS_UP_BAD_CHUNK, 0, detail);
                if (r == HS_DONE)
                    c->trailers = true;
                break;
            }
            default: /* close-delimited */
                hs_sock_consume(s, avail);
                if (!deliver(c, p, avail))
                    return false;
                break;
            }
            got = true;
            continue;
        }
    Read:;
        ssize_t n = read_some(c, BODY_READ_LIMIT);
        if (n == HS_AGAIN)
            break;
        if (n > 0) {
            got = true;
            continue;
        }
        int err = n == 0 ? 0 : errno;
        if (c->meta.framing == HS_FRAMING_CLOSE && n == 0)
            return complete(c, NULL, 0); /* RFC 9112 §6.3 (8): the close ends it */
        return fail(c, HS_UP_TRUNCATED_BODY, err,
                    c->meta.framing == HS_FRAMING_CHUNKED
                        ? "the upstream closed the connection before the last chunk"
                        : (c->meta.framing == HS_FRAMING_LENGTH ? "the upstream closed the connection before "
                                                                  "the declared Content-Length"
                                                                : "the upstream reset the connection mid-body"));
    }
    if (got)
        c->body_progress = true;
    return true;
}

static bool tunnel_step(hs_client_t *c)
{
    hs_sock_t *s = &c->conn->sock;
    for (;;) {
        if (c->paused || c->up_eof)
            return true;
        size_t avail = hs_sock_avail(s);
        if (avail > 0) {
            char *p = hs_sock_data(s);
            hs_sock_consume(s, avail);
            c->body_progress = true;
            if (!deliver(c, p, avail))
                return false;
            continue;
        }
        ssize_t n = read_some(c, BODY_READ_LIMIT);
        if (n == HS_AGAIN)
            return true;
        if (n > 0)
            continue;
        if (n == 0) {
            c->up_eof = true;
            c->t.end = c->pool->loop->now_ms; /* the tunnel's end (its timing's body phase) */
            if (c->cbs.on_end)
                CALLBACK(c, c->cbs.on_end(c, NULL, 0));
            return true;
        }
        return fail(c, HS_UP_TRUNCATED_BODY, errno, "the upstream reset the tunnel");
    }
}

/* Write what is queued. false: the run must stop. */
static bool write_step(hs_client_t *c)
{
    if (c->write_failed)
        return true;
    if (c->out.pending == 0)
        goto Done;
    ssize_t n = hs_writer_flush(&c->out, &c->conn->sock);
    if (n == HS_ERROR) {
        int err = errno;
        if (c->state == ST_TUNNEL)
            return fail(c, HS_UP_TRUNCATED_BODY, err, "the upstream reset the tunnel");
        /* the upstream stopped reading (reset, or closed): what it said, if anything, is
         * still to be read; the reading decides the cause */
        c->write_failed = true;
        c->conn->sock.readable = true;
        hs_writer_reset(&c->out);
        return true;
    }
    if (n > 0)
        c->send_progress = true;
Done:
    if (!c->req_done && c->body_ended && c->out.pending == 0 && c->state != ST_TUNNEL) {
        c->req_done = true;
        c->t.sent = c->pool->loop->now_ms;
    }
    return true;
}

/* Point the socket's deadline at the timeout the current state stands for. */
static void arm(hs_client_t *c)
{
    hs_sock_t *s = &c->conn->sock;
    uint64_t ms = 0;
    int dl = DL_NONE;
    bool restart = false;
    if (c->state == ST_CONNECTING) {
        return; /* set by hs_sock_connect */
    } else if (c->state == ST_EXCHANGE) {
        if (c->out.pending > 0 && !c->write_failed) {
            dl = DL_SEND, ms = c->to.send_ms, restart = c->send_progress;
        } else if (c->req_done || c->write_failed) {
            dl = DL_HEAD, ms = c->to.head_ms;
        }
    } else if (c->state == ST_BODY || c->state == ST_TUNNEL) {
        if (!c->paused && !c->up_eof)
            dl = DL_IDLE, ms = c->to.idle_ms, restart = c->body_progress;
        if (c->state == ST_TUNNEL)
            restart |= c->send_progress; /* bytes either way are a tunnel's life (an upload too) */
    }
    c->send_progress = c->body_progress = false;
    if (dl == DL_NONE || ms == 0) {
        hs_sock_clear_deadline(s);
        c->dl = DL_NONE;
    } else if (dl != c->dl || restart) {
        hs_sock_set_deadline(s, ms);
        c->dl = (uint8_t)dl;
    }
}

static void maybe_drain(hs_client_t *c)
{
    if (c->drain_wanted && c->out.pending <= c->drain_low && c->cbs.on_drain) {
        c->drain_wanted = false;
        c->cbs.on_drain(c);
    }
}

/* ---- TLS (https upstreams) ---- */

/* The TCP connection is made: attach a TLS session and start the handshake under what is left
 * of the connect timeout. */
static bool start_tls(hs_client_t *c)
{
    hs_sock_t *s = &c->conn->sock;
    if (hs_tls_connect(s, c->tls, c->tls_name) != HS_OK)
        return fail(c, HS_UP_PROXY_RESOURCES, ENOMEM, "no TLS session could be made for the upstream");
    c->state = ST_HANDSHAKE;
    c->dl = DL_CONNECT;
    if (c->to.connect_ms) {
        uint64_t spent = c->pool->loop->now_ms - c->attempt_start;
        hs_sock_set_deadline(s, spent < c->to.connect_ms ? c->to.connect_ms - spent : 1);
    }
    return true;
}

static bool handshake_step(hs_client_t *c)
{
    hs_sock_t *s = &c->conn->sock;
    int r = hs_tls_handshake(s, 0);
    if (r == HS_AGAIN)
        return false;
    if (r == HS_OK) {
        hs_sock_clear_deadline(s);
        c->t.connected = c->pool->loop->now_ms;
        c->state = ST_EXCHANGE;
        c->dl = DL_NONE;
        return true;
    }
    /* hs_tls_failure's text is static: OpenSSL's reason, or X509_verify_cert_error_string's
     * ("certificate has expired", "unable to get local issuer certificate", "hostname mismatch") */
    const char *why = hs_tls_failure(s, NULL);
    if (r == HS_TLS_CERT_INVALID)
        return fail(c, HS_UP_TLS_CERTIFICATE, 0, why ? why : "the upstream's certificate could not be verified");
    if (hs_tls_alert_received(s) >= 0) /* the upstream's refusal (RFC 8446 §6.2): fail() keeps its number */
        return fail(c, HS_UP_TLS_ALERT, 0, why ? why : "the upstream sent a fatal TLS alert");
    return fail(c, HS_UP_TLS_HANDSHAKE, 0, why ? why : "the TLS handshake with the upstream failed");
}

/* One pass over the exchange; returns false when it should stop (ended, failed, freed). */
static bool step(hs_client_t *c)
{
    if (c->pending_cause) {
        hs_up_cause_t cause = c->pending_cause;
        c->pending_cause = HS_UP_NONE;
        return fail(c, cause, c->pending_errno, c->pending_detail);
    }
    switch (c->state) {
    case ST_CONNECTING: {
        int r = hs_sock_connect_result(&c->conn->sock);
        if (r == HS_AGAIN)
            return false;
        if (r != HS_OK) {
            hs_up_cause_t cause = connect_cause(-r);
            return fail(c, cause, -r, connect_detail(cause));
        }
        if (c->tls && !(c->flags & HS_CLIENT_TUNNEL))
            return start_tls(c);
        c->t.connected = c->pool->loop->now_ms;
        c->state = ST_EXCHANGE;
        c->dl = DL_NONE;
        if (c->flags & HS_CLIENT_TUNNEL) { /* CONNECT: the tunnel is open */
            c->state = ST_TUNNEL;
            c->t.sent = c->t.head = c->t.connected;
            if (c->cbs.on_head)
                CALLBACK(c, c->cbs.on_head(c, NULL, NULL));
        }
        return true;
    }
    case ST_HANDSHAKE: return handshake_step(c);
    case ST_EXCHANGE:
    case ST_TUNNEL:
        if (!write_step(c))
            return false;
        if (c->state == ST_TUNNEL && c->body_ended && c->out.pending == 0 && !c->shut_sent) {
            c->shut_sent = true;
            hs_sock_shutdown(&c->conn->sock);
        }
        maybe_drain(c);
        if (c->freed)
            return false;
        if (c->state == ST_EXCHANGE) {
            exchange_step(c);
            /* on when the head moved us on: the body may be buffered already */
            return !c->freed && (c->state == ST_BODY || c->state == ST_TUNNEL);
        }
        return tunnel_step(c) && false;
    case ST_BODY:
        if (!write_step(c)) /* a body may still be going out after an early response */
            return false;
        return body_step(c) && false;
    default: return false;
    }
}

static void client_run(hs_client_t *c)
{
    if (c->in_run) {
        c->rerun = true;
        return;
    }
    c->in_run = true;
    bool go;
    do {
        c->rerun = false;
        go = step(c);
        if (c->freed)
            break;
    } while ((go || c->rerun) && c->state != ST_DONE && c->state != ST_FAILED);
    c->in_run = false;
    if (c->freed) {
        destroy(c);
        return;
    }
    if (c->conn && (c->state == ST_EXCHANGE || c->state == ST_BODY || c->state == ST_TUNNEL))
        arm(c);
}

static void client_io(hs_client_t *c, int ev)
{
    hs_sock_t *s = &c->conn->sock;
    if (ev == HS_EV_TIMEOUT) {
        c->in_run = true;
        switch (c->state) {
        case ST_CONNECTING: fail(c, HS_UP_CONNECT_TIMEOUT, ETIMEDOUT, connect_detail(HS_UP_CONNECT_TIMEOUT)); break;
        case ST_HANDSHAKE:
            fail(c, HS_UP_CONNECT_TIMEOUT, ETIMEDOUT, "the TLS handshake with the upstream did not end in time");
            break;
        case ST_EXCHANGE:
            if (c->dl == DL_SEND)
                fail(c, HS_UP_SEND_TIMEOUT, ETIMEDOUT, "the upstream did not take the request in time");
            else
                fail(c, HS_UP_HEAD_TIMEOUT, ETIMEDOUT,
                     c->got_byte ? "the response head was not complete in time" : "no response came in time");
            break;
        default: fail(c, HS_UP_BODY_TIMEOUT, ETIMEDOUT, "the upstream sent nothing more in time"); break;
        }
        c->in_run = false;
        if (c->freed)
            destroy(c);
        else if (c->state != ST_DONE && c->state != ST_FAILED)
            client_run(c); /* a retry is under way */
        return;
    }
    if (ev & HS_EV_READ)
        s->readable = true;
    if (ev & HS_EV_HUP)
        s->rdhup = true;
    client_run(c);
}
