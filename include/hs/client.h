/* statusd — an HTTP/1.1 client on the worker's event loop, with per-worker keep-alive pools
 * (src/http/client.c). The gateway's engine: the proxy module builds its requests with it.
 *
 * One exchange (hs_client_t) sends one request and receives its response:
 *
 *   hs_client_start(pool, addr, &req, &cbs, data)      connect (or take a pooled connection),
 *                                                        write the head
 *   hs_client_write(c, piece) … hs_client_write_end(c)   the body, as it arrives (on_drain says
 *                                                        when more may come)
 *   cbs.on_interim (1xx), cbs.on_head, cbs.on_body …,    the response, with back-pressure
 *   cbs.on_end (trailers) — or cbs.on_error once         (hs_client_pause)
 *   hs_client_free(c)                                    always, at any time, also inside a callback
 *
 * After a 101 to a request that asked to upgrade, the exchange becomes a tunnel: on_body gets
 * every byte the upstream sends, hs_client_write sends raw bytes, hs_client_write_end half-closes
 * (FIN) and on_end says the upstream closed its side.
 *
 * Every failure is reported once through on_error as one cause of the gateway's table
 * (hs/upstream.h) with the phase it happened in and the timings so far; the status the gateway
 * answers with comes from the cause, never from here.
 *
 * Nothing here blocks; everything runs on the loop the pool was made for, and no callback is
 * ever called from inside hs_client_start, hs_client_write, hs_client_write_end or
 * hs_client_pause (errors found there are delivered from the loop). Connections are closed with
 * the loop's deferred close (hs_sock_close), so freeing an exchange while handling another
 * socket is always safe. */
#ifndef HS_CLIENT_H
#define HS_CLIENT_H

#include "hs/parse.h"
#include "hs/sock.h"
#include "hs/upstream.h"
#include "hs/writer.h"

typedef struct hs_client_pool_s hs_client_pool_t;
typedef struct hs_client_conn_s hs_client_conn_t;
typedef struct hs_client_s hs_client_t;
struct hs_tls_client_s; /* hs/tls.h */

/* ---- Pools: one per worker (per loop) ------------------------------------------------------ */
typedef struct hs_client_pool_conf_s {
    uint32_t max_idle;        /* idle connections kept per upstream address; 0 = no keep-alive */
    uint32_t max_conns;       /* open connections (busy + idle) per upstream address; 0 = no limit.
                                 Beyond it an exchange fails with HS_UP_CONNECTION_LIMIT */
    uint64_t idle_timeout_ms; /* an idle connection is closed after this long at most */
    /* An upstream's "Keep-Alive: timeout=N" is honoured: its connection is retired this long
     * before N seconds have passed since its last response (and not kept at all when N seconds
     * are not more than the margin), so we never send on a connection the upstream is about to
     * close (the keep-alive race: nginx trac #1484, caddy#6452, envoy#3771). */
    uint64_t keepalive_margin_ms;
} hs_client_pool_conf_t;

/* A pool keeps a record per upstream address it connected to; past HS_CLIENT_POOL_HOSTS of them
 * (a forward proxy meets many), records without an open connection are dropped. */
#define HS_CLIENT_POOL_HOSTS 256

/* A pool for the exchanges of one loop. The configuration is copied. Never NULL. */
hs_client_pool_t *hs_client_pool_new(hs_loop_t *loop, const hs_client_pool_conf_t *conf);
/* Close every idle connection and free the pool. Every exchange of the pool must have been freed
 * (hs_client_free) before. The connections' memory goes at the loop's next batch (or in
 * hs_loop_destroy). */
void hs_client_pool_free(hs_client_pool_t *pool);
/* How many connections to `sa` are idle in the pool and open in all (for tests and metrics). */
void hs_client_pool_count(const hs_client_pool_t *pool, const struct sockaddr *sa, socklen_t salen, size_t *idle,
                          size_t *open);
/* Bytes of memory an idle pooled connection holds (its input buffer goes back to the loop's pool
 * while it is idle). */
size_t hs_client_idle_conn_size(void);

/* ---- One exchange -------------------------------------------------------------------------- */
enum {
    HS_CLIENT_NO_BODY = -1, /* req.content_length: the request has no body (no framing field sent) */
    HS_CLIENT_CHUNKED = -2, /* req.content_length: a body of unknown length, sent chunked */
};

enum {
    /* The request may be sent again: when a connection taken from the pool fails before any byte
     * of a response arrived (closed, reset), the exchange is retried once on a fresh connection
     * (RFC 9110 §9.2.2: only for idempotent methods, or when the caller knows, e.g. from an
     * Idempotency-Key). A request whose bytes sent on the reused connection exceed
     * HS_CLIENT_REPLAY_MAX is not retried. */
    HS_CLIENT_RETRY = 1u << 0,
    HS_CLIENT_UPGRADE = 1u << 1,  /* the request asks to upgrade: a 101 makes a tunnel (else 101 → error) */
    HS_CLIENT_NO_REUSE = 1u << 2, /* send Connection: close (unless the caller sent Connection) and never
                                     pool the connection */
    HS_CLIENT_FRESH = 1u << 3,    /* never take a pooled connection */
    /* A raw tunnel (a forward proxy's CONNECT, RFC 9110 §9.3.6): no request is written; once a
     * fresh connection is made (never a pooled one, never pooled after; no TLS), on_head is
     * called with res and meta NULL and the exchange is a tunnel as after a 101. method, target
     * and headers are ignored; content_length must be HS_CLIENT_NO_BODY. */
    HS_CLIENT_TUNNEL = 1u << 4,
};

#define HS_CLIENT_REPLAY_MAX 65536

typedef struct hs_client_timeouts_s {
    uint64_t connect_ms; /* to make the connection → HS_UP_CONNECT_TIMEOUT */
    uint64_t send_ms;    /* without write progress while request bytes wait → HS_UP_SEND_TIMEOUT */
    uint64_t head_ms;    /* from the request's last byte to the end of the response head →
                            HS_UP_HEAD_TIMEOUT (phase wait: no byte yet; headers: some) */
    uint64_t idle_ms;    /* without a byte while reading the body (not while paused) → HS_UP_BODY_TIMEOUT;
                            also the tunnel's idle timeout */
} hs_client_timeouts_t;  /* 0 = none */

typedef struct hs_client_req_s {
    hs_method_t method;     /* decides which responses have a body (HEAD, CONNECT) */
    hs_iovec_t method_name; /* the token sent; NULL base = hs_method_name(method) */
    hs_iovec_t target;      /* the request-target, as sent */
    /* Fields sent as given, in order (name and value; token is ignored). The caller removes
     * hop-by-hop fields (RFC 9110 §7.6.1) and supplies Host. Content-Length and Transfer-Encoding
     * are never taken from here: the client writes the one framing field content_length calls for,
     * so what reaches the upstream has exactly one framing. Copied by hs_client_start. */
    const hs_header_t *headers;
    size_t num_headers;
    int64_t content_length; /* >= 0: exactly this many body bytes (Content-Length); HS_CLIENT_NO_BODY;
                               HS_CLIENT_CHUNKED */
    unsigned flags;         /* HS_CLIENT_* */
    /* Never send this request on a pooled connection that has been idle longer than this (0 = no
     * limit): for requests that must not be retried, a connection fresh from its last response is
     * one the upstream has not started to close. */
    uint64_t max_reuse_idle_ms;
    hs_client_timeouts_t timeouts;
    hs_parse_limits_t limits; /* for the response head (max_head, max_field, max_headers) and the
                                 trailer section; zeroes: 32 KiB, 8 KiB, 100 */
    unsigned max_interim;     /* 1xx responses accepted before the final one; 0 = 16 → HS_UP_TOO_MANY_INTERIM */
    /* TLS to the upstream (an https:// upstream): after the TCP connection the client runs the
     * handshake (phase tls) with this context (hs/tls.h), sending tls_name as SNI and verifying
     * the certificate for it; HS_UP_TLS_HANDSHAKE or HS_UP_TLS_CERTIFICATE when it fails, and
     * HS_UP_CONNECT_TIMEOUT when connecting and the handshake together take longer than
     * timeouts.connect_ms. NULL: plain TCP. Pooled connections are kept apart by address,
     * context and name, and keep their TLS session from one exchange to the next. The exchange
     * holds a reference of the context and a copy of the name. */
    struct hs_tls_client_s *tls;
    const char *tls_name;
} hs_client_req_t;

/* What went wrong, delivered once by on_error (and kept in c->error). */
typedef struct hs_client_error_s {
    hs_up_cause_t cause;
    hs_up_phase_t phase;
    int sys_errno;      /* the system error behind it, 0 if none */
    const char *detail; /* a short static explanation */
    bool reused;        /* it happened on a connection taken from the pool */
    int tls_alert;      /* HS_UP_TLS_ALERT: the alert the upstream sent (its number, RFC 8446 §6) */
} hs_client_error_t;

/* Loop milliseconds (loop->now_ms) when each step happened; 0 = not reached. */
typedef struct hs_client_timings_s {
    uint64_t start;     /* hs_client_start */
    uint64_t connected; /* the connection was made, or taken from the pool */
    uint64_t sent;      /* the request's last byte was written */
    uint64_t first_byte;
    uint64_t head; /* the final response head was complete */
    uint64_t end;  /* the response ended, or the exchange failed */
} hs_client_timings_t;

typedef struct hs_client_cbs_s {
    /* An interim response (1xx other than 101), in order. The head is valid during the call. */
    void (*on_interim)(hs_client_t *c, const hs_parsed_res_t *res);
    /* The final response head (a 101 too, when the request asked to upgrade); valid during the call.
     * meta->framing says how the body comes. */
    void (*on_head)(hs_client_t *c, const hs_parsed_res_t *res, const hs_res_meta_t *meta);
    /* Body bytes (framing removed), or tunnel bytes after a 101; valid during the call. */
    void (*on_body)(hs_client_t *c, const char *data, size_t len);
    /* The body is complete (with the trailer fields of a chunked body, valid during the call); in a
     * tunnel, the upstream closed its side. The connection went back to the pool already when it
     * could. Nothing more comes but on_drain. */
    void (*on_end)(hs_client_t *c, const hs_header_t *trailers, size_t ntrailers);
    /* The exchange failed (see c->error); nothing more comes. */
    void (*on_error)(hs_client_t *c, const hs_client_error_t *err);
    /* The request body's queue drained to c->drain_low bytes or fewer: the cue to write more
     * (once per refill, after a write). */
    void (*on_drain)(hs_client_t *c);
} hs_client_cbs_t;

struct hs_client_s {
    void *data;       /* the caller's */
    size_t drain_low; /* on_drain threshold for the queued request bytes (default 0) */
    /* Read-only for the caller: */
    hs_client_timings_t t;
    hs_client_error_t error; /* cause HS_UP_NONE until a failure */
    int status;              /* the final status, 0 before the head */
    int attempts;            /* connections tried: 2 after a retry */
    bool reused;             /* the connection (of the last attempt) came from the pool */
    uint64_t body_sent;      /* request body bytes accepted from the caller */
    uint64_t body_received;  /* response body bytes delivered */
    int64_t body_expected;   /* the response's Content-Length, -1 when not known */
    /* Private below. */
    hs_client_pool_t *pool;
    hs_client_conn_t *conn;
    socklen_t addrlen;
    hs_client_cbs_t cbs;
    hs_method_t method;
    unsigned flags;
    uint64_t max_reuse_idle_ms;
    hs_client_timeouts_t to;
    hs_parse_limits_t limits;
    unsigned max_interim, ninterim;
    int64_t content_length;
    hs_writer_t out;      /* request bytes not yet written */
    hs_buf_t replay;      /* request bytes sent on a reused connection, kept for a retry */
    hs_chunked_t chunked; /* decoder state of a chunked response body */
    int64_t body_left;    /* Content-Length bytes still to read */
    hs_timer_t kick;      /* runs the exchange from the loop (start, calls, errors found in calls) */
    hs_header_t *hdrs;    /* room for limits.max_headers fields (heads and trailers) */
    size_t hdrs_cap;
    hs_client_t *next_free; /* in the pool's cache of freed exchanges */
    uint8_t state;
    uint8_t dl;            /* which timeout the socket's deadline stands for */
    bool body_ended : 1;   /* the request body is complete (or there is none) */
    bool req_done : 1;     /* every request byte was written */
    bool paused : 1;       /* hs_client_pause */
    bool drain_wanted : 1; /* a write since the last on_drain */
    bool in_run : 1, rerun : 1, freed : 1;
    bool got_byte : 1;           /* a response byte arrived on this attempt */
    bool replay_ok : 1;          /* replay holds every request byte of this attempt */
    bool write_failed : 1;       /* the upstream stopped reading: only its answer counts now */
    bool trailers : 1;           /* the last chunk came: the trailer section is next */
    bool up_eof : 1;             /* tunnel: the upstream closed its side */
    bool shut_sent : 1;          /* tunnel: FIN sent */
    bool send_progress : 1;      /* bytes were written in this run (the send deadline restarts) */
    bool body_progress : 1;      /* bytes were read in this run (the idle deadline restarts) */
    hs_up_cause_t pending_cause; /* an error found inside a call, delivered from the loop */
    int pending_errno;
    const char *pending_detail;
    struct hs_tls_client_s *tls; /* hs_client_req_t.tls: a reference, dropped by hs_client_free */
    const char *tls_name;        /* the pool's copy of hs_client_req_t.tls_name */
    uint64_t attempt_start;      /* when this attempt's connection was started (the connect deadline) */
    /* Not cleared when a cached exchange is reused (the larger part of the struct): each is
     * written before it is read, addr at the start, meta by the final head (src/http/client.c). */
    struct sockaddr_storage addr;
    hs_res_meta_t meta; /* of the final head: valid once on_head was called */
};

/* Start an exchange with the upstream at sa (IPv4, IPv6 or a Unix socket; copied): a pooled
 * idle connection to it when one passes the checks (idle no longer than req->max_reuse_idle_ms,
 * no EOF or stray bytes seen with a MSG_PEEK), else a new connection (hs_sock_connect with
 * timeouts.connect_ms). The request head is queued at once; body bytes may be written right
 * away (they wait for the connection). Never NULL; failures, even immediate ones, come through
 * on_error from the loop. `cbs` is copied; every callback may be NULL but on_error. */
hs_client_t *hs_client_start(hs_client_pool_t *pool, const struct sockaddr *sa, socklen_t salen,
                             const hs_client_req_t *req, const hs_client_cbs_t *cbs, void *data);
/* Queue request body bytes (copied), framed as the request declared (a chunk each for
 * HS_CLIENT_CHUNKED), or raw bytes in a tunnel. HS_OK; HS_ERROR (nothing queued) when the
 * exchange failed or ended, the body was ended, the request has no body, or the bytes would go
 * past its Content-Length. Back-pressure: stop writing while hs_client_pending(c) is above what
 * you can hold, and resume on on_drain. */
int hs_client_write(hs_client_t *c, const void *data, size_t len);
/* The request body is complete (the chunked last-chunk is sent; with Content-Length, every byte
 * must have been written: HS_ERROR otherwise). In a tunnel: half-close once the queue drained.
 * HS_OK or HS_ERROR. A request with HS_CLIENT_NO_BODY or Content-Length 0 needs no call. */
int hs_client_write_end(hs_client_t *c);
/* Request bytes queued and not yet written. */
size_t hs_client_pending(const hs_client_t *c);
/* Stop (true) or resume (false) delivering response bytes: while paused nothing is read, the
 * upstream is held back by TCP flow control, and no idle timeout runs. */
void hs_client_pause(hs_client_t *c, bool paused);
/* End the exchange and free it: no callback after this. An exchange still under way is
 * cancelled (its connection closed); one that ended left its connection in the pool already.
 * May be called from inside any callback. */
void hs_client_free(hs_client_t *c);

#endif
