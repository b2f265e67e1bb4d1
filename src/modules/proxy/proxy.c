/* statusd — the reverse proxy's content handler: one request through the gateway.
 *
 *   content ─▶ attempt: choose an upstream (upstreams.c), its address (a name may need a lookup:
 *              wait), a connection slot (max_conns: wait in the queue) ─▶ go: hs_client_start
 *   request body ─▶ the upstream as it arrives (Expect: 100-continue waits for the upstream's
 *              100), held back when the upstream does not take it (buffer_size)
 *   1xx ─▶ the client (HTTP/1.1); 101 ─▶ a tunnel both ways
 *   head ─▶ the client with Proxy-Status: NAME; received-status=N; a small body (Content-Length
 *              up to SMALL_BODY) is gathered and sent with the head in one write, a larger or
 *              unknown one streams, by reference, the upstream paused while the client is slow
 *   failure before the head ─▶ another upstream when RFC 9110 §9.2.2 allows it (retries), else
 *              the status of the cause in the path's mode (hs/upstream.h), with Proxy-Status,
 *              Retry-After for a 503, and an error page naming the cause and the request id
 *   failure after the head ─▶ the status stays; the body ends abortively: no final chunk, never
 *              padded (the connection closes; reset when the close would look like the end)
 *
 * Forward-proxy mode (proxy.forward; forward.c): an absolute-form request goes the same way to
 * the host its target names (a connection not made is tried on the name's next address, within
 * retries; there is no other upstream), a CONNECT too, but its
 * exchange writes nothing (HS_CLIENT_TUNNEL): once connected, a 200 without framing (RFC 9110
 * §9.3.6) and bytes both ways with the tunnel's back-pressure, until a side closes. The client
 * closing its side (a FIN) half-closes the upstream's once what it sent went on, and the tunnel
 * ends when the upstream closes too (or its idle timeout); the upstream closing ends it at once
 * after what it sent reached the client (RFC 9110 §9.3.6). The destination's address is checked
 * (forward_allow, forward_deny) after its lookup, before the connection.
 *
 * Every attempt is remembered for the access log: upstream=ADDR,… upstream_status=S,…
 * upstream_cause=ID,… (- for none) upstream_phase=PHASE [upstream_tls_error="REASON"
 * upstream_tls_alert=N: the last TLS failure, in OpenSSL's words, and the alert the upstream sent]
 * upstream_timing=connect:MS,send:MS,wait:MS,body:MS body_expected=N body_sent=N and truncated=1
 * when the body ended abortively.
 *
 * Callbacks of the client (hs/client.h) come from the loop, outside the connection's own run:
 * anything they do with the response may finish the request and free its arena (the client
 * left, the response ended). Each such call is therefore either the last thing a callback does
 * or wrapped in GUARD, which returns when the request ended during the call. */
#define _GNU_SOURCE
#include "proxy.h"
#include "hs/cause.h"

#include <stdio.h>
#include <stdlib.h>

#define SMALL_BODY 16384    /* a Content-Length up to this is sent with the head */
#define DNS_POLL_MS 20      /* how often a request waiting for a name looks again */
#define DNS_RETRY_MS 1000   /* a failed answer is kept this long before the name is tried again */
#define EXPECT_WAIT_MS 1000 /* an upstream silent about Expect: 100-continue gets the body anyway */
#define LOG_LIST 200        /* room for each per-attempt list of the log */
#define LOG_TLS_ERROR 120   /* the most of a TLS failure's reason the log takes */

enum { ST_NEW, ST_DNS, ST_QUEUED, ST_DEQUEUED, ST_EXCHANGE, ST_RELAY, ST_TUNNEL, ST_DONE };

struct proxy_req_s {
    hs_req_t *req;
    const proxy_conf_t *pc;
    proxy_worker_t *pw;
    proxy_view_t *view; /* this worker's state for the request's generation */
    hs_client_t *c;
    const proxy_target_t *t; /* of the current attempt */
    proxy_uw_t *uw;
    uint64_t tried; /* targets tried, a bit each */
    int attempts;
    uint32_t key;
    proxy_fwd_t fwd;
    const proxy_target_t *fwd_for; /* the target fwd was made for */
    hs_client_req_t creq;
    socklen_t salen;
    uint8_t state;
    bool counted;      /* holds a slot in uw->active */
    bool body_started; /* hs_req_body_stream was called */
    bool body_complete, body_paused, replay_on, body_lost, expect_wait;
    bool up_paused;   /* the upstream is held back: the client has not taken what we sent */
    bool down_paused; /* tunnel: the client is held back */
    bool got_head, head_sent, collecting, truncated;
    bool forward; /* a forward proxy's request: x->t is its own destination (forward.c) */
    bool tunnel;  /* CONNECT: the exchange is a raw tunnel */
    int status;
    uint64_t up_bytes; /* tunnel: bytes from the client to the upstream */
    int64_t expected;
    uint64_t relayed;
    hs_buf_t replay; /* the request body read so far, for a retry elsewhere */
    char *small;
    size_t small_len;
    uint64_t wait_since;
    proxy_req_t *qnext, *qprev;
    /* the log */
    size_t l_up_n, l_status_n, l_cause_n;
    int l_phase;
    hs_client_timings_t l_t;
    int tls_alert;           /* the last on_error's hs_client_error_t.tls_alert (with HS_UP_TLS_ALERT) */
    const char *l_tls_error; /* the last TLS failure's reason (static: OpenSSL's words), or NULL */
    int l_tls_alert;         /* and the alert the upstream sent, when it did (l_tls_alerted) */
    bool l_tls_alerted;
    /* Not zeroed when the request starts (PROXY_REQ_ZEROED): written before they are read. The
     * proxied request's hot path would otherwise spend more on clearing these than on its
     * header hygiene. */
    proxy_gzip_t gz;            /* proxy.compress: the body is coded on its way (gz.on is set) */
    struct sockaddr_storage sa; /* the current attempt's address (salen) */
    char l_up[LOG_LIST], l_status[LOG_LIST / 2], l_cause[LOG_LIST]; /* valid up to l_*_n */
};
#define PROXY_REQ_ZEROED offsetof(proxy_req_t, gz)

static void attempt(proxy_req_t *x);
static void resolve_and_go(proxy_req_t *x);
static void go(proxy_req_t *x);
static void failed(proxy_req_t *x, int cause, int phase, const char *detail);

/* Return from a void callback when the request ended during `call`. */
#define GUARD(x, call)                                                                                                 \
    do {                                                                                                               \
        proxy_worker_t *pw_ = (x)->pw;                                                                                 \
        uint64_t ends_ = pw_->ends;                                                                                    \
        call;                                                                                                          \
        if (pw_->ends != ends_)                                                                                        \
            return;                                                                                                    \
    } while (0)

static inline uint64_t now_of(const proxy_req_t *x)
{
    return x->req->worker->loop.now_ms;
}

/* Is the request's access log line written? (else nothing is kept for it) */
static inline bool logging(const hs_req_t *req)
{
    return hs_req_cfg(req)->log_target >= 0;
}

/* The module's server-wide settings of the request's configuration generation. */
static inline const proxy_conf_t *top_conf(const hs_req_t *req)
{
    return hs_req_top(req)->mod[hs_module_proxy.index];
}

/* ---- the log ---- */
static void log_add(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len && *len + 1 < cap)
        buf[(*len)++] = ',';
    if (*len + n >= cap)
        n = cap > *len + 1 ? cap - *len - 1 : 0;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

/* One attempt's outcome: the status it stands for (the upstream's, or the cause's), the cause. */
static void record(proxy_req_t *x, int status, int cause, int phase)
{
    /* /metrics: a cause, or without one a response that came to its end (no phase: on_end), or
     * an exchange cut short where it stood (the client left, its body failed) */
    hs__proxy_count(x->pw, x->t ? x->uw : NULL, x->t ? x->t->up : NULL,
                    cause                       ? cause
                    : phase == HS_UP_PHASE_NONE ? HS_UP_NONE
                                                : PROXY_CANCELLED);
    if (!logging(x->req))
        return; /* nothing is logged: nothing to remember */
    char st[8] = "-";
    if (status)
        snprintf(st, sizeof(st), "%d", status);
    log_add(x->l_status, sizeof(x->l_status), &x->l_status_n, st);
    const hs_up_cause_info_t *ci = hs_up_cause(cause);
    log_add(x->l_cause, sizeof(x->l_cause), &x->l_cause_n, ci ? ci->id : "-");
    x->l_phase = phase;
    if (x->c)
        x->l_t = x->c->t;
}

static uint64_t span(uint64_t a, uint64_t b)
{
    return a && b && b >= a ? b - a : 0;
}

void hs__proxy_log(hs_req_t *req)
{
    proxy_req_t *x = hs_req_ctx(req, &hs_module_proxy);
    if (!x)
        return;
    if (x->c) { /* cut short (the client left, the server stops): where it was (counted even
                 * without a log line: /metrics) */
        const hs_client_timings_t *t = &x->c->t;
        int phase = t->head         ? HS_UP_PHASE_BODY
                    : t->first_byte ? HS_UP_PHASE_HEADERS
                    : t->sent       ? HS_UP_PHASE_WAIT
                    : t->connected  ? HS_UP_PHASE_SEND
                                    : HS_UP_PHASE_CONNECT;
        record(x, x->status, HS_UP_NONE, phase);
    }
    if (!logging(req))
        return;
    if (x->l_up_n)
        hs_req_log_field(req, "upstream", "%s", x->l_up);
    if (x->l_status_n)
        hs_req_log_field(req, "upstream_status", "%s", x->l_status);
    if (x->l_cause_n)
        hs_req_log_field(req, "upstream_cause", "%s", x->l_cause);
    hs_req_log_field(req, "upstream_phase", "%s", hs_up_phase_name(x->l_phase));
    if (x->l_tls_error) /* the renderers escape it (combined: quoted, \xHH; json: a string) */
        hs_req_log_field(req, "upstream_tls_error", "%.*s", LOG_TLS_ERROR, x->l_tls_error);
    if (x->l_tls_alerted)
        hs_req_log_field(req, "upstream_tls_alert", "%d", x->l_tls_alert);
    const hs_client_timings_t *t = &x->l_t;
    if (t->start)
        hs_req_log_field(req, "upstream_timing", "connect:%llu,send:%llu,wait:%llu,body:%llu",
                         (unsigned long long)span(t->start, t->connected),
                         (unsigned long long)span(t->connected, t->sent), (unsigned long long)span(t->sent, t->head),
                         (unsigned long long)span(t->head, t->end));
    if (x->tunnel) { /* CONNECT: the bytes each way (the target is the request line's, the
                      * duration the line's) */
        if (x->got_head)
            hs_req_log_field(req, "tunnel", "up:%llu,down:%llu", (unsigned long long)x->up_bytes,
                             (unsigned long long)x->relayed);
    } else if (x->got_head) {
        if (x->expected >= 0)
            hs_req_log_field(req, "body_expected", "%lld", (long long)x->expected);
        else
            hs_req_log_field(req, "body_expected", "-");
        hs_req_log_field(req, "body_sent", "%llu", (unsigned long long)x->relayed);
    }
    if (x->truncated)
        hs_req_log_field(req, "truncated", "1");
}

/* ---- slots and the queue (max_conns) ---- */
static void queue_unlink(proxy_req_t *x)
{
    proxy_uw_t *uw = x->uw;
    if (x->qprev)
        x->qprev->qnext = x->qnext;
    else
        uw->qhead = x->qnext;
    if (x->qnext)
        x->qnext->qprev = x->qprev;
    else
        uw->qtail = x->qprev;
    x->qnext = x->qprev = NULL;
    uw->nqueued--;
}

static void dequeued(hs_req_t *req)
{
    proxy_req_t *x = hs_req_ctx(req, &hs_module_proxy);
    go(x);
}

/* The request's slot is free: the first one waiting takes it (from its own timer, so that it runs
 * in its own connection's context, not inside this one's). */
static void release_slot(proxy_req_t *x)
{
    if (!x->counted)
        return;
    x->counted = false;
    proxy_uw_t *uw = x->uw;
    uw->active--;
    if (uw->qhead && (x->pc->max_conns <= 0 || uw->active < x->pc->max_conns)) {
        proxy_req_t *y = uw->qhead;
        queue_unlink(y);
        y->state = ST_DEQUEUED;
        y->counted = true;
        uw->active++;
        hs_req_set_timer(y->req, 0, dequeued);
    }
}

static void queue_timeout(hs_req_t *req)
{
    proxy_req_t *x = hs_req_ctx(req, &hs_module_proxy);
    queue_unlink(x);
    failed(x, HS_UP_CONNECTION_LIMIT, HS_UP_PHASE_CONNECT, "no connection to the upstream became free in time");
}

static void cleanup(void *arg)
{
    proxy_req_t *x = arg;
    x->pw->ends++;
    if (x->c) {
        hs_client_free(x->c);
        x->c = NULL;
    }
    if (x->state == ST_QUEUED)
        queue_unlink(x);
    release_slot(x);
    hs_buf_free(&x->replay);
    hs__proxy_gzip_end(&x->gz);
    if (x->forward && x->t && x->t->up->dns)
        hs__proxy_dns_release(x->t->up->dns); /* a lookup still running holds its own reference */
    hs__proxy_view_done(x->pw, x->view);      /* last: the slots and the queue live in it */
}

/* ---- answers of our own ---- */
static void proxy_status(proxy_req_t *x, hs_buf_t *ps, int cause, int received)
{
    const proxy_conf_t *pc = x->pc;
    if (!ps->len && !cause && pc->name_token && !pc->expose_upstream) {
        /* the common case, a relayed response and nothing from further gateways: no formatter */
        size_t nl = strlen(pc->name);
        char *v = hs_arena_alloc(&x->req->arena, nl + 24), *p = v;
        memcpy(p, pc->name, nl);
        p += nl;
        memcpy(p, "; received-status=", 18);
        p = hs_fmt_u64(p + 18, (uint64_t)received);
        hs_res_header(x->req, HS_IOV("Proxy-Status"), hs_iov(v, (size_t)(p - v)));
        return;
    }
    hs_proxy_status_t s = {.proxy = pc->name, .cause = cause, .received_status = received, .tls_alert = x->tls_alert};
    if (x->pc->expose_upstream && x->t)
        s.next_hop = hs_iov_cstr(x->t->up->authority);
    const hs_up_cause_info_t *ci = hs_up_cause(cause);
    if (ci)
        s.details = hs_iov_cstr(ci->id);
    hs_proxy_status_format(ps, &s);
    char *v = hs_arena_alloc(&x->req->arena, ps->len);
    memcpy(v, ps->base, ps->len);
    hs_res_header(x->req, HS_IOV("Proxy-Status"), hs_iov(v, ps->len));
    hs_buf_free(ps);
}

/* Answer the status the cause stands for in the path's mode. The last thing a caller does. */
static void answer(proxy_req_t *x, int cause, const char *detail)
{
    hs_req_t *req = x->req;
    const proxy_conf_t *pc = x->pc;
    const hs_up_cause_info_t *ci = hs_up_cause(cause);
    int status = hs_up_cause_status(cause, pc->mode);
    x->state = ST_DONE;
    if (x->tunnel) /* a refused CONNECT: what the client sent after it was meant for the tunnel */
        req->res_close = true;
    hs_buf_t ps = {0};
    proxy_status(x, &ps, cause, 0);
    if (ci->flags & HS_UPC_RETRY_AFTER) {
        uint64_t now = now_of(x), back = cause == HS_UP_NO_HEALTHY_UPSTREAM ? hs__proxy_next_up(pc, now) : 0;
        uint64_t secs = back > now ? (back - now + 999) / 1000 : (uint64_t)hs_req_top(req)->retry_after;
        hs_res_headerf(req, "Retry-After", "%llu", (unsigned long long)(secs ? secs : 1));
    }
    char up[320] = "";
    if (pc->expose_upstream && x->t)
        snprintf(up, sizeof(up), "; upstream %s", x->t->up->authority);
    const char *text = hs_arena_printf(&req->arena, "%s (cause %s%s; request %llu)", detail ? detail : ci->summary,
                                       ci->id, up, (unsigned long long)req->id)
                           .base;
    hs_req_set_cause(req, HS_CAUSE_UPSTREAM(cause)); /* the access log's and /metrics' cause */
    hs_res_error(req, status, text);
}

/* The body can no longer be completed: end it abortively. The last thing a caller does. */
static void abort_body(proxy_req_t *x)
{
    hs_req_t *req = x->req;
    x->truncated = true;
    x->state = ST_DONE;
    if (!x->head_sent) { /* a small body was being gathered: the head and what came, then the cut */
        x->head_sent = true;
        req->content_length = x->expected;
        GUARD(x, hs_res_stream_start(req, x->status));
        if (x->small_len)
            GUARD(x, hs_res_stream_write(req, x->small, x->small_len));
    }
    /* with Content-Length or chunked a close before the end is seen as such; a close-delimited
     * body (an HTTP/1.0 client) would look complete: reset it */
    bool delimited_by_close = !req->chunked_out && req->content_length < 0 && !req->no_body;
    hs_res_raw(req, "", 0, delimited_by_close ? HS_RAW_RESET : HS_RAW_CLOSE, req->status);
}

/* ---- attempts ---- */
static bool idempotent(const proxy_req_t *x)
{
    switch (x->req->p.method_id) {
    case HS_METHOD_GET:
    case HS_METHOD_HEAD:
    case HS_METHOD_OPTIONS:
    case HS_METHOD_TRACE:
    case HS_METHOD_PUT:
    case HS_METHOD_DELETE:
    case HS_METHOD_PROPFIND: return true; /* RFC 9110 §9.2.2; RFC 4918 §9.1 */
    default: return x->pc->retry_idempotency_key && hs_req_header_named(x->req, "idempotency-key").base;
    }
}

/* Is another attempt allowed after this failure (RFC 9110 §9.2.2), and possible? */
static bool may_retry(proxy_req_t *x, int cause)
{
    const hs_up_cause_info_t *ci = hs_up_cause(cause);
    if (x->forward) {
        /* one destination, maybe several addresses: the next one when the connection was not
         * made (refused, unreachable, timed out: nothing was sent), as many times as retries */
        return ci && (ci->flags & HS_UPC_NOT_SENT) && cause != HS_UP_DNS_ERROR && cause != HS_UP_DNS_TIMEOUT &&
               !x->got_head && x->attempts <= x->pc->retries && x->uw->naddrs > x->attempts &&
               !(x->body_started && (x->body_lost || !x->replay_on));
    }
    if (x->got_head || x->attempts > x->pc->retries || !ci)
        return false;
    if (!(ci->flags & HS_UPC_NOT_SENT) && !idempotent(x))
        return false;
    if (x->body_started && (x->body_lost || !x->replay_on))
        return false;
    const proxy_list_t *l = x->pc->list;
    uint64_t now = now_of(x);
    for (size_t i = 0; i < l->nt; i++)
        if (!(x->tried & (1ull << i)) && hs__proxy_usable(l->t[i].up, now, l->nt == 1))
            return true;
    return false;
}

static bool counts_against_upstream(int cause)
{
    switch (cause) {
    case HS_UP_PROXY_RESOURCES:
    case HS_UP_CONNECTION_LIMIT:
    case HS_UP_NO_HEALTHY_UPSTREAM:
    case HS_UP_PROXY_LOOP_DETECTED: return false;
    default: return !(hs_up_cause(cause)->flags & HS_UPC_AFTER_HEAD);
    }
}

/* An attempt failed before any response head reached the client: retry or answer. */
static void failed(proxy_req_t *x, int cause, int phase, const char *detail)
{
    hs_req_t *req = x->req;
    record(x, hs_up_cause_status(cause, x->pc->mode), cause, phase);
    if (x->c) {
        hs_client_free(x->c);
        x->c = NULL;
    }
    release_slot(x);
    if (x->t && counts_against_upstream(cause))
        hs__proxy_health_failed(x->pc, x->t->up, now_of(x));
    if (may_retry(x, cause)) {
        if (x->body_started && !x->body_complete && !x->body_paused) {
            hs_req_body_pause(req); /* nowhere to send it until the next attempt starts */
            x->body_paused = true;
        }
        if (x->forward) { /* the next address of the name (resolve_and_go takes them in turn) */
            x->state = ST_NEW;
            resolve_and_go(x);
        } else {
            attempt(x);
        }
        return;
    }
    answer(x, cause, detail);
}

static void dns_done(hs_req_t *req, void *arg)
{
    hs__proxy_dns_release(arg); /* the job's reference (the name's state stays with its registry) */
    proxy_req_t *x = req ? hs_req_ctx(req, &hs_module_proxy) : NULL;
    if (x && x->state == ST_DNS) {
        hs_req_cancel_timer(req);
        resolve_and_go(x);
    }
}

static void dns_poll(hs_req_t *req)
{
    proxy_req_t *x = hs_req_ctx(req, &hs_module_proxy);
    uint32_t gen = x->uw->gen;
    hs__proxy_dns_view(x->uw, x->t->up->dns);
    if (x->uw->gen != gen) { /* an answer came */
        resolve_and_go(x);
        return;
    }
    if (now_of(x) - x->wait_since >= top_conf(req)->dns_timeout) {
        failed(x, HS_UP_DNS_TIMEOUT, HS_UP_PHASE_RESOLVE, "no name server answered for the upstream's name in time");
        return;
    }
    hs_req_set_timer(req, DNS_POLL_MS, dns_poll);
}

/* Ask a helper thread for the name's addresses unless one is at it already. */
static void lookup(proxy_req_t *x, proxy_dns_t *d)
{
    pthread_mutex_lock(&d->mu);
    bool busy = d->inflight;
    d->inflight = true;
    pthread_mutex_unlock(&d->mu);
    if (busy)
        return;
    hs__proxy_dns_hold(d); /* the job may outlive the request and its configuration */
    if (hs_req_offload(x->req, hs__proxy_dns_work, dns_done, d) != HS_OK) {
        pthread_mutex_lock(&d->mu);
        d->inflight = false; /* no helper now (or this request has a job): a later request tries */
        pthread_mutex_unlock(&d->mu);
        hs__proxy_dns_release(d);
    }
}

/* Go to the address in x->sa; a forward proxy's destination is checked first (forward_allow,
 * forward_deny: on the address, after any lookup, so that a name gains nothing). */
static void dest_go(proxy_req_t *x)
{
    if (x->forward && !hs__proxy_forward_addr_ok(x->pc, (const struct sockaddr *)&x->sa)) {
        x->state = ST_DONE;
        hs__proxy_forward_refuse(x->req, x->pc, PROXY_CAUSE_DEST_DENIED,
                                 "the forward proxy may not connect to that address (proxy.forward_deny, "
                                 "proxy.forward_allow)");
        return;
    }
    go(x);
}

static void resolve_and_go(proxy_req_t *x)
{
    const proxy_upstream_t *up = x->t->up;
    if (!up->dns) {
        memcpy(&x->sa, &up->addr, up->addrlen);
        x->salen = up->addrlen;
        dest_go(x);
        return;
    }
    proxy_uw_t *uw = x->uw;
    uint64_t now = now_of(x);
    const proxy_conf_t *top = top_conf(x->req);
    hs__proxy_dns_view(uw, up->dns);
    /* the answer's time comes from a helper thread's clock, which may be ahead of the loop's */
    uint64_t age = now > uw->answered ? now - uw->answered : 0;
    bool stale = !uw->answered || age >= top->dns_refresh;
    if (uw->naddrs > 0) {
        if (stale)
            lookup(x, up->dns); /* this request goes on with what is known */
        unsigned i = uw->addr_rr++ % (unsigned)uw->naddrs;
        memcpy(&x->sa, &uw->addrs[i], uw->lens[i]);
        x->salen = uw->lens[i];
        dest_go(x);
        return;
    }
    if (uw->answered && uw->cause && age < DNS_RETRY_MS) {
        failed(x, uw->cause, HS_UP_PHASE_RESOLVE, uw->detail);
        return;
    }
    lookup(x, up->dns);
    if (x->state != ST_DNS) /* the wait is bounded from its start, whatever answers come meanwhile */
        x->wait_since = now;
    x->state = ST_DNS;
    hs_req_set_timer(x->req, DNS_POLL_MS, dns_poll);
}

static void attempt(proxy_req_t *x)
{
    int index = 0;
    const proxy_target_t *t = hs__proxy_pick(x->view, x->pc, x->tried, x->key, now_of(x), &index);
    if (!t) {
        x->t = NULL;
        record(x, hs_up_cause_status(HS_UP_NO_HEALTHY_UPSTREAM, x->pc->mode), HS_UP_NO_HEALTHY_UPSTREAM,
               HS_UP_PHASE_NONE);
        answer(x, HS_UP_NO_HEALTHY_UPSTREAM, "every upstream of this path is out of rotation after failures");
        return;
    }
    x->t = t;
    x->tried |= 1ull << index;
    x->uw = &x->view->u[t->up->index];
    x->state = ST_NEW;
    resolve_and_go(x);
}

/* ---- the request body ---- */
static void body_data(hs_req_t *req, const char *data, size_t len, int how)
{
    proxy_req_t *x = hs_req_ctx(req, &hs_module_proxy);
    if (how == HS_BODY_ERROR) {
        /* 400, 408, 413, 431 (the engine answers it unless a head went out) or 499: the upstream
         * cannot get a whole request any more */
        if (x->c) {
            record(x, 0, HS_UP_NONE, HS_UP_PHASE_SEND);
            hs_client_free(x->c);
            x->c = NULL;
        }
        release_slot(x);
        if (x->head_sent && x->state != ST_DONE && req->body_error != 499)
            abort_body(x);
        x->state = ST_DONE;
        return;
    }
    if (x->state == ST_DONE)
        return; /* answered already: the rest is not wanted */
    if (len) {
        if (x->replay_on) {
            if (x->replay.len + len <= PROXY_REPLAY_MAX)
                hs_buf_append(&x->replay, data, len);
            else {
                x->replay_on = false;
                hs_buf_free(&x->replay);
            }
        }
        if (!x->c)
            x->body_lost = !x->replay_on;
        else
            hs_client_write(x->c, data, len); /* a failure is told by the exchange's callbacks */
    }
    if (how == HS_BODY_END) {
        x->body_complete = true;
        if (x->c)
            hs_client_write_end(x->c);
        return;
    }
    if (!x->c || hs_client_pending(x->c) > x->pc->buffer_size) {
        hs_req_body_pause(req);
        x->body_paused = true;
    }
}

static void start_body(proxy_req_t *x)
{
    if (x->body_paused) {
        x->body_paused = false;
        hs_req_body_resume(x->req);
        return;
    }
    if (x->body_started)
        return;
    x->body_started = true;
    hs_req_body_stream(x->req, body_data);
}

static void expect_timeout(hs_req_t *req)
{
    proxy_req_t *x = hs_req_ctx(req, &hs_module_proxy);
    if (!x->expect_wait || x->state == ST_DONE)
        return;
    x->expect_wait = false;
    start_body(x);
}

/* ---- the response ---- */
static void down_drain(hs_req_t *req)
{
    proxy_req_t *x = hs_req_ctx(req, &hs_module_proxy);
    if (x && x->up_paused && x->c) {
        x->up_paused = false;
        hs_client_pause(x->c, false);
    }
}

static void on_interim(hs_client_t *c, const hs_parsed_res_t *res)
{
    proxy_req_t *x = c->data;
    hs_req_t *req = x->req;
    if (res->status == 100 && req->meta.expect_continue) {
        /* the client's 100 is the upstream's: reading the body sends it (RFC 9110 §10.1.1) */
        if (x->expect_wait) {
            x->expect_wait = false;
            hs_req_cancel_timer(req);
            start_body(x);
        }
        return;
    }
    hs_res_header_t *h = hs_arena_alloc(&req->arena, (res->num_headers + 1) * sizeof(*h));
    size_t n = hs__proxy_copy_fields(req, res->headers, res->num_headers, h);
    hs_res_interim(req, res->status, h, n); /* declined for HTTP/1.0 clients (RFC 9110 §15.2) */
}

static void relay_upgrade(proxy_req_t *x, const hs_parsed_res_t *res);
static void connect_open(proxy_req_t *x);

static void on_head(hs_client_t *c, const hs_parsed_res_t *res, const hs_res_meta_t *meta)
{
    proxy_req_t *x = c->data;
    hs_req_t *req = x->req;
    if (!res) { /* HS_CLIENT_TUNNEL: CONNECT's connection is made */
        connect_open(x);
        return;
    }
    if (meta->transfer_coded) {
        failed(x, HS_UP_BAD_FRAMING, HS_UP_PHASE_HEADERS,
               "the upstream used a transfer coding other than chunked, which the gateway does not decode");
        return;
    }
    hs__proxy_health_ok(x->t->up);
    if (x->expect_wait) { /* a final answer without a 100: the body is not wanted */
        x->expect_wait = false;
        hs_req_cancel_timer(req);
    }
    x->got_head = true;
    x->status = res->status;
    x->expected = meta->framing == HS_FRAMING_LENGTH ? meta->content_length : -1;
    if (res->status == 101) {
        relay_upgrade(x, res);
        return;
    }
    x->state = ST_RELAY;
    hs_buf_t ps = {0};
    hs__proxy_response_fields(req, res->headers, res->num_headers, false, &ps);
    proxy_status(x, &ps, HS_UP_NONE, res->status);
    req->relayed = true;
    int status = res->status;
    if (hs__proxy_gzip_wanted(req, x->pc, res, meta) && hs__proxy_gzip_start(&x->gz, req) == HS_OK) {
        if (x->pc->mark_transformed)
            status = 203; /* RFC 9110 §15.3.4: the content is not the origin's 200 */
        x->head_sent = true;
        req->on_drain = down_drain;
        req->drain_low = x->pc->buffer_size / 2;
        hs_res_stream_start(req, status);
        return;
    }
    switch (meta->framing) {
    case HS_FRAMING_NONE:
        if (req->no_body && meta->content_length >= 0) { /* HEAD: the length the GET would have */
            req->content_length = meta->content_length;
            x->collecting = true;
            return;
        }
        if (!req->no_body || !meta->h[HS_HDR_TRANSFER_ENCODING]) {
            x->collecting = true; /* 1xx, 204, 304, HEAD without a length: the head alone */
            req->content_length = 0;
            return;
        }
        break; /* HEAD of a chunked resource: announced as such, no body */
    case HS_FRAMING_LENGTH:
        req->content_length = meta->content_length;
        if (meta->content_length <= SMALL_BODY) {
            x->collecting = true;
            x->small = hs_arena_alloc(&req->arena, meta->content_length ? (size_t)meta->content_length : 1);
            return;
        }
        break;
    default: req->content_length = -1; break;
    }
    x->head_sent = true;
    req->on_drain = down_drain;
    req->drain_low = x->pc->buffer_size / 2;
    hs_res_stream_start(req, res->status);
}

static void on_body(hs_client_t *c, const char *p, size_t n)
{
    proxy_req_t *x = c->data;
    hs_req_t *req = x->req;
    if (x->state == ST_TUNNEL) {
        x->relayed += n;
        GUARD(x, hs_upgraded_write(req, p, n));
        if (req->out.pending > x->pc->buffer_size) {
            hs_client_pause(c, true);
            x->up_paused = true;
        }
        return;
    }
    x->relayed += n;
    if (x->gz.on) {
        hs_buf_t out = {0};
        proxy_worker_t *pw = x->pw;
        uint64_t ends = pw->ends;
        int r = hs__proxy_gzip_write(&x->gz, p, n, false, &out);
        if (r == HS_OK && out.len)
            hs_res_stream_write(req, out.base, out.len);
        hs_buf_free(&out);
        if (pw->ends != ends)
            return; /* the client went away during the write */
        if (r != HS_OK) {
            hs_client_free(c);
            x->c = NULL;
            release_slot(x);
            abort_body(x);
            return;
        }
        if (hs_res_stream_pending(req) > x->pc->buffer_size) {
            hs_client_pause(c, true);
            x->up_paused = true;
        }
        return;
    }
    if (x->collecting) { /* at most Content-Length bytes come: the client checks the framing */
        memcpy(x->small + x->small_len, p, n);
        x->small_len += n;
        return;
    }
    /* By reference: what the client's socket takes at once leaves without a copy; what it does
     * not is copied before this call returns (the upstream connection's buffer is read into
     * again, or goes back to the pool). A slow client holds the upstream back once more than
     * buffer_size waits for it; down_drain lets it go on at half of that. */
    GUARD(x, hs_res_stream_write_ref(req, p, n));
    size_t pending = hs_res_stream_pending(req);
    if (pending) {
        hs_res_stream_unref(req, p, n);
        if (pending > x->pc->buffer_size) {
            hs_client_pause(c, true);
            x->up_paused = true;
        }
    }
}

static void on_end(hs_client_t *c, const hs_header_t *trailers, size_t n)
{
    proxy_req_t *x = c->data;
    hs_req_t *req = x->req;
    record(x, x->status, HS_UP_NONE, HS_UP_PHASE_NONE);
    hs_client_free(c);
    x->c = NULL;
    release_slot(x);
    if (x->state == ST_TUNNEL) {
        x->state = ST_DONE;
        hs_upgraded_close(req); /* the upstream closed its side: what is queued goes, then the close */
        return;
    }
    x->state = ST_DONE;
    if (x->collecting) {
        if (x->small_len)
            hs_res_body(req, x->small, x->small_len);
        hs_res_send(req, x->status);
        return;
    }
    if (x->gz.on) { /* the end of the coded stream, then the end of the body (no trailers: they
                       described the bytes the upstream sent) */
        hs_buf_t out = {0};
        proxy_worker_t *pw = x->pw;
        uint64_t ends = pw->ends;
        hs__proxy_gzip_write(&x->gz, "", 0, true, &out);
        hs__proxy_gzip_end(&x->gz);
        if (out.len)
            hs_res_stream_write(req, out.base, out.len);
        hs_buf_free(&out);
        if (pw->ends == ends)
            hs_res_stream_end(req, NULL, 0);
        return;
    }
    hs_res_header_t *tr = NULL;
    size_t ntr = 0;
    if (n) {
        tr = hs_arena_alloc(&req->arena, n * sizeof(*tr));
        ntr = hs__proxy_copy_fields(req, trailers, n, tr);
    }
    hs_res_stream_end(req, tr, ntr);
}

static void on_error(hs_client_t *c, const hs_client_error_t *e)
{
    proxy_req_t *x = c->data;
    HS_UNUSED(c);
    x->tls_alert = e->tls_alert;
    if (e->cause == HS_UP_TLS_HANDSHAKE || e->cause == HS_UP_TLS_CERTIFICATE || e->cause == HS_UP_TLS_ALERT) {
        x->l_tls_error = e->detail; /* static (hs_client_error_t) */
        x->l_tls_alerted = e->cause == HS_UP_TLS_ALERT;
        x->l_tls_alert = e->tls_alert;
    }
    if (!x->got_head) {
        failed(x, e->cause, e->phase, e->detail);
        return;
    }
    /* after the head: the status stays, the body is cut (or the tunnel closes) */
    record(x, x->status, e->cause, e->phase);
    hs_req_set_cause(x->req, HS_CAUSE_UPSTREAM(e->cause));
    hs_client_free(x->c);
    x->c = NULL;
    release_slot(x);
    if (x->state == ST_TUNNEL) {
        x->state = ST_DONE;
        hs_upgraded_close(x->req);
        return;
    }
    abort_body(x);
}

static void up_drain(hs_client_t *c)
{
    proxy_req_t *x = c->data;
    if (x->state == ST_TUNNEL) {
        if (x->down_paused) {
            x->down_paused = false;
            hs_upgraded_pause(x->req, false);
        }
        return;
    }
    if (x->body_paused && !x->body_complete && x->state != ST_DONE) {
        x->body_paused = false;
        hs_req_body_resume(x->req);
    }
}

static const hs_client_cbs_t cbs = {on_interim, on_head, on_body, on_end, on_error, up_drain};

/* ---- tunnels (101) ---- */
static void tunnel_data(hs_req_t *req, const char *data, size_t len)
{
    proxy_req_t *x = hs_req_ctx(req, &hs_module_proxy);
    if (!x->c)
        return;
    x->up_bytes += len;
    hs_client_write(x->c, data, len);
    if (hs_client_pending(x->c) > x->pc->buffer_size) {
        hs_upgraded_pause(req, true);
        x->down_paused = true;
    }
}

static const hs_upgrade_t tunnel = {.on_data = tunnel_data};

/* CONNECT: the client closed its side (FIN). What it sent goes on, then the upstream's side is
 * half-closed; the tunnel ends when the upstream closes (on_end) or falls silent (idle_timeout). */
static void tunnel_eof(hs_req_t *req)
{
    proxy_req_t *x = hs_req_ctx(req, &hs_module_proxy);
    if (x->c)
        hs_client_write_end(x->c);
}

static const hs_upgrade_t connect_tunnel = {.on_data = tunnel_data, .on_eof = tunnel_eof};

/* RFC 9110 §9.3.6: "Any 2xx (Successful) response indicates that the sender (and all inbound
 * proxies) will switch to tunnel mode immediately after the response header section"; no
 * Content-Length or Transfer-Encoding on it (RFC 9112 §6.3 (2); hs_res_connect). */
static void connect_open(proxy_req_t *x)
{
    hs_req_t *req = x->req;
    x->got_head = true;
    x->status = 200;
    x->state = ST_TUNNEL;
    x->head_sent = true;
    req->on_drain = down_drain;
    req->drain_low = x->pc->buffer_size / 2;
    hs_res_connect(req, 200, &connect_tunnel);
}

static void relay_upgrade(proxy_req_t *x, const hs_parsed_res_t *res)
{
    hs_req_t *req = x->req;
    hs_buf_t ps = {0};
    hs__proxy_response_fields(req, res->headers, res->num_headers, true, &ps);
    HS_RES_HEADER(req, "Connection", "upgrade");
    proxy_status(x, &ps, HS_UP_NONE, 101);
    req->relayed = true;
    x->state = ST_TUNNEL;
    x->head_sent = true;
    req->on_drain = down_drain;
    req->drain_low = x->pc->buffer_size / 2;
    hs_res_upgrade(req, &tunnel);
}

/* ---- going ---- */
static void go(proxy_req_t *x)
{
    hs_req_t *req = x->req;
    const proxy_conf_t *pc = x->pc;
    proxy_uw_t *uw = x->uw;
    if (!x->counted) {
        if (pc->max_conns > 0 && uw->active >= pc->max_conns) {
            if (uw->nqueued >= pc->queue) {
                failed(x, HS_UP_CONNECTION_LIMIT, HS_UP_PHASE_CONNECT,
                       "the upstream's connection limit is reached and its queue is full");
                return;
            }
            x->qprev = uw->qtail;
            x->qnext = NULL;
            if (uw->qtail)
                uw->qtail->qnext = x;
            else
                uw->qhead = x;
            uw->qtail = x;
            uw->nqueued++;
            x->state = ST_QUEUED;
            hs_req_set_timer(req, pc->queue_timeout, queue_timeout);
            return;
        }
        uw->active++;
        x->counted = true;
    }
    x->state = ST_EXCHANGE;
    if (logging(req)) {
        char addr[HS_ADDR_MAX];
        hs_addr_format((const struct sockaddr *)&x->sa, addr, sizeof(addr), HS_ADDR_PORT);
        log_add(x->l_up, sizeof(x->l_up), &x->l_up_n, addr);
    }
    x->attempts++;
    if (x->tunnel) { /* CONNECT: nothing is written, the bytes come when the tunnel opens */
        x->c = hs_client_start(x->pw->pool, (const struct sockaddr *)&x->sa, x->salen, &x->creq, &cbs, x);
        x->c->drain_low = pc->buffer_size / 2;
        return;
    }
    if (x->fwd_for != x->t) { /* per target: the Host and the path may differ */
        hs__proxy_request_fields(req, pc, x->t, &x->fwd);
        x->fwd_for = x->t;
    }
    x->creq.headers = x->fwd.h;
    x->creq.num_headers = x->fwd.n;
    x->creq.target = x->fwd.target;
    x->creq.tls = x->t->up->tls ? pc->tls_client : NULL; /* https: SNI and verification for its host */
    x->creq.tls_name = x->t->up->host;
    x->c = hs_client_start(x->pw->pool, (const struct sockaddr *)&x->sa, x->salen, &x->creq, &cbs, x);
    x->c->drain_low = pc->buffer_size / 2;
    if (!hs_req_has_body(req))
        return;
    if (x->replay.len)
        hs_client_write(x->c, x->replay.base, x->replay.len);
    if (x->body_complete) {
        hs_client_write_end(x->c);
        return;
    }
    if (req->meta.expect_continue && !x->body_started) {
        x->expect_wait = true;
        hs_req_set_timer(req, EXPECT_WAIT_MS, expect_timeout);
        return;
    }
    start_body(x); /* last: reading may end the request */
}

/* ---- the handler ---- */
static uint32_t hash_key(const proxy_req_t *x)
{
    const hs_req_t *req = x->req;
    switch (x->pc->key) {
    case PROXY_KEY_URI: return hs__proxy_hash(req->p.target.base, req->p.target.len);
    case PROXY_KEY_HOST: return hs__proxy_hash(req->meta.host.base, req->meta.host.len);
    case PROXY_KEY_HEADER: {
        hs_iovec_t v = hs_req_header_named(req, x->pc->key_name);
        return hs__proxy_hash(v.base ? v.base : "", v.len);
    }
    default: {
        const struct sockaddr *sa = hs_req_peer_addr(req);
        if (sa->sa_family == AF_INET6)
            return hs__proxy_hash(&((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return hs__proxy_hash(&((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
    }
}

static bool loops(hs_req_t *req, const proxy_conf_t *pc)
{
    if (!pc->via_name)
        return false;
    hs_iovec_t me = hs_iov_cstr(pc->via_name);
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        if (h->name.len == 3 && HS_IOV_IEQ(h->name, "via") && hs_via_has(h->value, me))
            return true;
    }
    return false;
}

int hs__proxy_content(hs_req_t *req)
{
    const proxy_conf_t *pc = hs_req_conf(req, &hs_module_proxy);
    proxy_worker_t *pw = hs_worker_ctx(req->worker, &hs_module_proxy);
    /* forward mode: absolute-form and CONNECT (authority-form) go where they name */
    bool fwd = pc->forward && req->p.form != HS_TARGET_ORIGIN;
    if (!pw || (!fwd && (!pc->list || !pc->list->nt))) {
        if (pw && pc->forward) { /* RFC 9110 §15.5.20: no origin here for that URI */
            hs__proxy_forward_refuse(req, pc, PROXY_CAUSE_ORIGIN_FORM,
                                     "this is a forward proxy: send the absolute URL (GET http://host/path) or "
                                     "CONNECT host:port");
            return HS_OK;
        }
        return hs_res_error(req, 500, "the proxy has no upstream for this path");
    }
    hs_method_t m = req->p.method_id;
    if (m == HS_METHOD_TRACE) /* never echoed through us: it would reflect credentials (XST) */
        return hs_res_method_not_allowed(req, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    hs_iovec_t mf = hs_req_header_named(req, "max-forwards");
    if (m == HS_METHOD_OPTIONS && HS_IOV_EQ(mf, "0")) { /* RFC 9110 §7.6.2: the last hop answers */
        req->allow = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
        return hs_res_send(req, 204);
    }
    proxy_target_t *dest = NULL;
    if (fwd && hs__proxy_forward_target(req, pc, &dest) != HS_OK)
        return HS_OK; /* refused (400, 403): answered */
    proxy_req_t *x = hs_arena_alloc(&req->arena, sizeof(*x));
    memset(x, 0, PROXY_REQ_ZEROED);
    x->gz.on = false;
    x->req = req;
    x->pc = pc;
    x->pw = pw;
    x->view = hs__proxy_view(pw, req->gen, hs_req_top(req));
    x->view->reqs++;
    x->expected = -1;
    if (fwd) {
        x->forward = true;
        x->tunnel = m == HS_METHOD_CONNECT;
        x->t = dest; /* its name state is released by cleanup */
        x->uw = hs_arena_alloc(&req->arena, sizeof(*x->uw));
        memset(x->uw, 0, sizeof(*x->uw));
    }
    hs_req_set_ctx(req, &hs_module_proxy, x);
    hs_req_cleanup(req, cleanup, x);
    if (loops(req, pc)) {
        record(x, hs_up_cause_status(HS_UP_PROXY_LOOP_DETECTED, pc->mode), HS_UP_PROXY_LOOP_DETECTED, HS_UP_PHASE_NONE);
        answer(x, HS_UP_PROXY_LOOP_DETECTED, NULL);
        return HS_OK;
    }
    if (x->tunnel) {
        x->creq = (hs_client_req_t){
            .method = m,
            .content_length = HS_CLIENT_NO_BODY,
            .flags = HS_CLIENT_TUNNEL,
            .timeouts = {.connect_ms = pc->connect_timeout, .idle_ms = pc->idle_timeout},
        };
        x->state = ST_NEW;
        resolve_and_go(x);
        return HS_AGAIN;
    }
    bool idem = idempotent(x);
    x->replay_on = hs_req_has_body(req) && pc->retries > 0 && (fwd || pc->list->nt > 1);
    x->creq = (hs_client_req_t){
        .method = m,
        .method_name = req->p.method,
        .content_length = req->meta.chunked               ? HS_CLIENT_CHUNKED
                          : req->meta.content_length >= 0 ? req->meta.content_length
                                                          : HS_CLIENT_NO_BODY,
        .flags = (idem ? HS_CLIENT_RETRY : 0u) | (req->meta.upgrade ? HS_CLIENT_UPGRADE : 0u),
        .max_reuse_idle_ms = idem ? 0 : pc->reuse_idle_max,
        .timeouts = {.connect_ms = pc->connect_timeout,
                     .send_ms = pc->send_timeout,
                     .head_ms = pc->read_timeout,
                     .idle_ms = pc->idle_timeout},
        .max_interim = (unsigned)pc->max_interim,
    };
    if (fwd) {
        x->state = ST_NEW;
        resolve_and_go(x);
        return HS_AGAIN;
    }
    if (pc->lb == PROXY_LB_HASH)
        x->key = hash_key(x);
    attempt(x);
    return HS_AGAIN; /* answered already, or on its way */
}
