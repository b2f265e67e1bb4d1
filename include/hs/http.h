/* statusd — server, worker, connection and request: the handler-facing API.
 *
 * A module's phase handlers (see hs_module_t) receive a hs_req_t with the parsed head. A content
 * handler either
 *   - sets up a response and calls hs_res_send() (or one of the hs_res_* shortcuts), returning HS_OK,
 *   - returns HS_DECLINED: nothing here (404),
 *   - starts asynchronous work (a timer, a body stream, a helper thread, an upstream) and returns
 *     HS_AGAIN; it must then eventually answer (or close the connection).
 * Every status leaves through hs_res_send(), which takes its reason phrase and body rules from
 * the registry (src/http/status.def).
 *
 * Ownership. The connection owns its request; a handler borrows it until the request ends (the
 * response written, the client gone, or the server shut down) — hs_req_cleanup says when. Memory
 * from the request's arena (hs_arena_alloc(&req->arena, …), hs_res_headerf …) lives exactly that
 * long. Slices of the head (req->p, req->meta, header values) point into the arena too. What a
 * handler passes to the response API is referenced, not copied, unless a function says it copies:
 * names, values and bodies must live as long as the request (the arena, static data, or memory
 * freed by a cleanup). Settings (hs_req_conf, hs_req_cfg) belong to the configuration and outlive
 * every request; per-worker state (hs_worker_ctx) belongs to its module and lives until the
 * worker ends. All of it is used on the worker's thread only, but for hs_req_offload's work.
 */
#ifndef HS_HTTP_H
#define HS_HTTP_H

#include "hs/config.h"
#include "hs/loop.h"
#include "hs/parse.h"
#include "hs/status.h"
#include "hs/writer.h"
#include "hs/addr.h"
#include "hs/codec.h"     /* hs_form_next, hs_html_escape: were declared here */
#include "hs/date.h"      /* was in hs/core.h */
#include "hs/fields.h"    /* hs_list_next: was in hs/parse.h */
#include "hs/json.h"      /* hs_json_str: was declared here */
#include "hs/negotiate.h" /* hs_negotiate_type: was declared here */

#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>

typedef struct hs_server_s hs_server_t;
typedef struct hs_worker_s hs_worker_t;
typedef struct hs_conn_s hs_conn_t;
typedef struct hs_req_s hs_req_t;
typedef struct hs_upgrade_s hs_upgrade_t;
typedef struct hs_job_s hs_job_t;

/* How a piece of a streamed request body comes (hs_req_body_stream). */
enum {
    HS_BODY_DATA, /* more of the body; more will follow */
    HS_BODY_END,  /* the last piece (may be empty): the body is complete */
    HS_BODY_ERROR /* the body ended badly (req->body_error says how); nothing more will come */
};
typedef void (*hs_body_cb)(hs_req_t *req, const char *data, size_t len, int how);

/* A module (src/modules/…): its settings and directives, and the phases it takes part in.
 *
 * After the head of a request is parsed and passes the protocol checks, the engine finds the
 * request's host and path (find-config: 421 with strict_hosts, the path's max_body and
 * length_required: 413, 411), then runs the phases in order, each module's handler for it in
 * the order of hs_modules:
 *   rewrite, access — HS_DECLINED: no objection, the next handler; HS_OK: this phase is decided,
 *     on to the next phase; HS_AGAIN: asynchronous work (a password hash on a helper thread …):
 *     the module then calls hs_req_resume (carry on after it) or answers; HS_DONE: a response
 *     is under way (the module answered).
 *   content — only the path's handler: it answers (HS_OK), starts asynchronous work (HS_AGAIN,
 *     reading the body counts), or declines (HS_DECLINED: 404).
 *   log — every module's, once, when the request ends, with its final status (req->log_status).
 * Settings: hs_req_conf(req, module) is the module's settings struct for the request's path
 * (its `conf` schema); per-request state goes in hs_req_ctx slots; per-worker state is made
 * by init_worker (hs_worker_ctx). */
typedef struct hs_module_s {
    const char *name;
    hs_conf_schema_t conf;               /* its directives and settings struct (include/hs/config.h) */
    int index;                           /* set at startup: its settings' index (1 + its place in hs_modules) */
    int (*init)(hs_server_t *srv);       /* once, before workers start; HS_OK or HS_ERROR */
    void (*fini)(hs_server_t *srv);      /* once, after the workers stopped */
    int (*init_worker)(hs_worker_t *w);  /* on each worker's thread before it serves; HS_OK or HS_ERROR */
    void (*fini_worker)(hs_worker_t *w); /* on each worker's thread once it served */
    int (*rewrite)(hs_req_t *req);
    int (*access)(hs_req_t *req);
    int (*content)(hs_req_t *req);
    void (*log)(hs_req_t *req);
} hs_module_t;

struct hs_server_s {
    hs_config_t *cfg;
    hs_module_t *const *modules; /* hs_modules (hs_server_use_modules may give another): phase order */
    /* the modules with a handler for each phase, in order, NULL-terminated (hs_server_use_modules) */
    hs_module_t *rewrite[HS_MAX_MODULES + 1], *access[HS_MAX_MODULES + 1], *log[HS_MAX_MODULES + 1];
    hs_parse_limits_t limits;
    hs_chunked_limits_t chunk_limits;
    unsigned length_required; /* bit per hs_method_t */
    int nworkers;
    hs_worker_t *workers;
    size_t num_listen;
    struct sockaddr_storage listen_addr[HS_MAX_LISTEN];
    socklen_t listen_len[HS_MAX_LISTEN];
    int log_fd;                /* access log, -1 = off */
    size_t log_write_max;      /* largest single write: PIPE_BUF unless the log is a regular file */
    _Atomic int connections;   /* open connections across workers */
    _Atomic int shutting_down; /* 1 = stop accepting, drain */
    _Atomic int stopping;      /* 1 = SIGTERM seen: health paths answer 503 (drain_delay, then the drain) */
    uint64_t drain_deadline_ms;
};

struct hs_worker_s {
    hs_server_t *srv;
    int id;
    pthread_t thread;
    hs_loop_t loop;
    size_t num_listeners;
    hs_conn_t *conns; /* doubly-linked list of open connections */
    int nconns;
    void *mod[HS_MAX_MODULES]; /* each module's per-worker state (made by its init_worker) */
    pthread_mutex_t jobs_mu;   /* guards jobs_done: helpers add, the worker takes */
    hs_job_t *jobs_done;       /* offloaded work finished, to complete on this worker */
    uint64_t req_seq;          /* requests started here: ids unique across workers, no atomics */
    hs_req_t *req_pool;        /* finished requests kept for reuse (with one arena block each) */
    int nreq_pool;
    bool draining;
    time_t date_sec;   /* the second `date` was made for */
    char date[30];     /* IMF-fixdate of the loop's second (hs_worker_date) */
    hs_buf_t log_buf;  /* access log lines not yet written (flushed every loop iteration) */
    time_t log_sec;    /* the second log_when was made for */
    char log_when[28]; /* "06/Nov/1994:08:49:37 +0000" */
    bool log_lost;     /* a write of the log failed (said once) */
};

/* One response header. */
typedef struct hs_res_header_s {
    hs_iovec_t name, value;
} hs_res_header_t;

typedef struct hs_cleanup_s hs_cleanup_t;

struct hs_req_s {
    hs_conn_t *conn;
    hs_worker_t *worker;
    hs_server_t *srv;
    hs_arena_t arena;
    const hs_pathconf_t *path; /* the host's path serving it (NULL before find-config or when none) */
    hs_iovec_t npath;          /* the request path in normal form (hs/path.h); no NUL after it */
    bool npath_plain;          /* and it had no escapes, dots or double slashes (hs_path_is_plain) */
    uint8_t phase, phase_i;    /* where the phases are (hs_req_resume continues from there) */
    bool in_phase, resume_asked;
    void *ctx[HS_MAX_MODULES]; /* per-request state of each module (hs_req_ctx) */
    hs_cleanup_t *cleanups;    /* run when the request ends, last registered first */
    hs_buf_t log_fields;       /* key=value fields modules add to its access log line */
    hs_parsed_req_t p;
    hs_req_meta_t meta;
    uint64_t id;
    uint64_t start_ms;
    time_t start_sec;
    size_t head_len;

    /* request body: streamed to on_body_data (hs_req_body_stream), or collected in memory by
     * hs_req_read_body, which then calls on_body */
    hs_buf_t body;
    hs_chunked_t chunked;
    int64_t body_left; /* Content-Length bytes not yet read */
    bool body_started, body_done, continue_sent, body_paused;
    int body_error; /* why the body ended badly: 400, 408, 413, 431, or 499 (the client left) */
    void (*on_body)(hs_req_t *req);
    hs_body_cb on_body_data;

    /* response */
    int status;
    hs_res_header_t *res_headers;
    size_t num_res_headers, cap_res_headers;
    int64_t content_length; /* body bytes the response declares */
    const char *content_type;
    const char *error_detail; /* why, for error pages and logs */
    const char *allow;        /* value of Allow for 405 / OPTIONS */
    bool res_close;           /* send Connection: close and close after */
    bool res_sent;
    bool abort_conn; /* close without a response (hs_res_close_silently) */
    bool no_body;    /* HEAD or status without content */
    int log_status;  /* status for the access log when it differs (444, 499, 494) */

    /* streaming / raw / upgrade */
    bool streaming;   /* stream started and not ended */
    bool chunked_out; /* stream uses chunked framing */
    bool raw_mode;    /* output is raw bytes; no framing */
    int raw_flags;
    const hs_upgrade_t *upgrade;
    /* Called when the queued output has drained to drain_low bytes or fewer (once per refill:
     * after a stream write, a stream start or an upgraded write) — the cue to produce more. */
    void (*on_drain)(hs_req_t *req);
    size_t drain_low;
    bool drain_wanted;
    hs_timer_t timer;
    void (*timer_cb)(hs_req_t *req);
    uint64_t head_bytes; /* bytes of the heads queued (interim and final), not counted as body */
    uint64_t wire_bytes; /* bytes written to the socket for this request */

    hs_job_t *job;       /* work running off the loop for it (hs_req_offload) */
    hs_req_t *pool_next; /* the worker's pool of finished requests */

    /* Last, and not cleared when a pooled request is reused: request_free leaves them empty. */
    hs_writer_t out;      /* what goes to the socket: interim responses, the head, the body */
    hs_writer_t res_body; /* the response body as the handler set it, until hs_res_send */
};

/* ---- Response API ---- */
void hs_res_header(hs_req_t *req, hs_iovec_t name, hs_iovec_t value);
HS_FMT(3, 4) void hs_res_headerf(hs_req_t *req, const char *name, const char *fmt, ...);
#define HS_RES_HEADER(req, name, value) hs_res_header((req), HS_IOV(name), hs_iov_cstr(value))
/* Find a response header already added (case-insensitive), or NULL. */
hs_res_header_t *hs_res_find_header(hs_req_t *req, const char *lower_name);
/* Body from memory that lives as long as the request (arena or static). */
void hs_res_body(hs_req_t *req, const void *p, size_t len);
/* Body from a file range; the fd is closed by the caller after the response (on_done) or owned
 * by the open-file cache. */
void hs_res_body_file(hs_req_t *req, int fd, off_t off, size_t len);
/* Send the response with `status`. Adds Date, Server, Content-Length and Connection, checks the
 * registry's rules, writes. HS_OK. */
int hs_res_send(hs_req_t *req, int status);
/* An error response with a body built from the registry, explaining `detail`. */
int hs_res_error(hs_req_t *req, int status, const char *detail);
/* 405 with Allow. */
int hs_res_method_not_allowed(hs_req_t *req, const char *allow);
/* Close the connection without sending a byte (nginx 444), logging `log_status`. */
void hs_res_close_silently(hs_req_t *req, int log_status);
/* Send an interim (1xx) response now; it is written before the final one. RFC 9110 §15.2 */
int hs_res_interim(hs_req_t *req, int status, const hs_res_header_t *headers, size_t n);

/* ---- Streaming responses (asynchronous handlers) ----
 * hs_res_stream_start sends the head: with Content-Length when req->content_length >= 0 was set
 * before, else chunked (HTTP/1.1) or close-delimited (HTTP/1.0). Data written is copied and
 * queued; `on_drain` (if set) is called whenever the queue has been written out completely.
 * hs_res_stream_end finishes the response (the chunked terminator and optional trailers). */
int hs_res_stream_start(hs_req_t *req, int status);
int hs_res_stream_write(hs_req_t *req, const void *data, size_t len);
/* The same without a copy: data must stay as it is until it has been written — until
 * hs_res_stream_pending() says it is no longer queued, or on_drain with drain_low 0. */
int hs_res_stream_write_ref(hs_req_t *req, const void *data, size_t len);
int hs_res_stream_end(hs_req_t *req, const hs_res_header_t *trailers, size_t n);
/* Bytes queued but not yet written. */
size_t hs_res_stream_pending(const hs_req_t *req);

/* ---- Raw output (fault injection; bypasses framing and the rule check) ---- */
enum {
    HS_RAW_CLOSE = 1, /* close (FIN) once the bytes are written */
    HS_RAW_RESET = 2, /* close with RST (SO_LINGER 0) once the bytes are written */
    HS_RAW_HOLD = 4,  /* keep the connection open without reading; the handler closes it later */
};
int hs_res_raw(hs_req_t *req, const void *data, size_t len, int flags, int log_status);
/* End a connection held by HS_RAW_HOLD or a stream: close (FIN) or reset (RST). */
void hs_req_close_connection(hs_req_t *req, bool reset);

/* ---- One timer per request, for asynchronous handlers ---- */
void hs_req_set_timer(hs_req_t *req, uint64_t ms, void (*cb)(hs_req_t *req));
void hs_req_cancel_timer(hs_req_t *req);

/* ---- Work off the event loop ----
 * Run work(arg) on a helper thread (a small pool shared by the workers), then done(req, arg) on
 * the request's worker, where the request is answered as usual; the handler returns HS_AGAIN
 * meanwhile and the loop serves everything else. work must not touch the request or any
 * per-worker state. If the request ends first (the client left), done is called with
 * req == NULL, still on the worker (or, at shutdown, after the workers stopped, when work may
 * not have run at all), to release arg. HS_ERROR (no helper, shutting down, a job already running): do the work in
 * place. */
int hs_req_offload(hs_req_t *req, void (*work)(void *arg), void (*done)(hs_req_t *req, void *arg), void *arg);

/* ---- Protocol upgrade (RFC 9110 §7.8): after a 101 the connection carries another protocol.
 * hs_res_upgrade sends the 101 head (with the headers the handler added) and then hands every
 * byte read to on_data; hs_upgraded_write queues bytes; hs_upgraded_close ends it. */
struct hs_upgrade_s {
    void (*on_data)(hs_req_t *req, const char *data, size_t len); /* every byte is handed over once */
    void (*on_close)(hs_req_t *req); /* the peer went away or timed out (req is freed after) */
};
int hs_res_upgrade(hs_req_t *req, const hs_upgrade_t *handler);
int hs_upgraded_write(hs_req_t *req, const void *data, size_t len); /* copied */
/* Stop (true) or resume (false) reading from an upgraded connection: while paused, on_data is
 * not called and the peer is held back by TCP flow control. */
void hs_upgraded_pause(hs_req_t *req, bool paused);
void hs_upgraded_close(hs_req_t *req);

/* ---- Request API ---- */
/* Header value by token (first field), or a NULL base. */
static inline hs_iovec_t hs_req_header(const hs_req_t *req, int token)
{
    const hs_header_t *h = req->meta.h[token];
    return h ? h->value : HS_IOV_NULL;
}
/* Header value by name (case-insensitive, lowercase literal), or a NULL base. */
hs_iovec_t hs_req_header_named(const hs_req_t *req, const char *lower_name);
/* Receive the request body as it arrives: on_data gets every piece once, decoded (chunked
 * framing removed), in order; the data is valid only during the call. The last call says
 * HS_BODY_END (a request without a body gets just that, at once) or HS_BODY_ERROR: a broken
 * chunked framing (400), a body over max_body (413), trailers over max_trailer (431), the body
 * not arriving within body_timeout (408), the client leaving (499) — req->body_error says
 * which; the engine then answers that status itself unless a response was started, in which
 * case the connection is closed after it. Sends 100 Continue first when the client asked for it
 * and has sent nothing of its body yet (RFC 9110 §10.1.1). Returns HS_AGAIN.
 * Back-pressure: hs_req_body_pause stops reading (inside on_data or at any time; the client is
 * held back by TCP flow control and no body timeout runs while paused) until hs_req_body_resume. */
int hs_req_body_stream(hs_req_t *req, hs_body_cb on_data);
void hs_req_body_pause(hs_req_t *req);
void hs_req_body_resume(hs_req_t *req);
/* Read the whole request body into req->body, then call cb (a wrapper over hs_req_body_stream).
 * A body that outgrows max_body, or that memory cannot be found for, is answered 413 — the
 * process never aborts for it. Returns HS_AGAIN. */
int hs_req_read_body(hs_req_t *req, void (*cb)(hs_req_t *req));
/* Does the request declare a body? */
static inline bool hs_req_has_body(const hs_req_t *req)
{
    return req->meta.chunked || req->meta.content_length > 0;
}

/* ---- Server ---- */
int hs_server_init(hs_server_t *srv, hs_config_t *cfg);
/* Serve with these modules (a NULL-terminated list; the server keeps the pointer): hs_modules by
 * default, a list with a test module in front in tests. */
void hs_server_use_modules(hs_server_t *srv, hs_module_t *const *mods);
/* Run workers until SIGTERM/SIGINT; returns the process exit status. */
int hs_server_run(hs_server_t *srv);

/* Modules (src/modules/modules.c), in phase order; NULL-terminated. */
extern hs_module_t *const hs_modules[];

/* The current second as an IMF-fixdate (RFC 9110 §5.6.7) for Date fields: made once per second
 * of the worker's loop clock. Valid until the worker's next call. */
static inline const char *hs_worker_date(hs_worker_t *w)
{
    if (w->date_sec != w->loop.now_sec || !w->date[0]) {
        w->date_sec = w->loop.now_sec;
        hs_http_date(w->loop.now_sec, w->date);
    }
    return w->date;
}

/* ---- Modules: settings, per-request and per-worker state, phases ---- */
/* The module's settings for the request's path (for a request that found no path: the top's). */
static inline void *hs_req_conf(const hs_req_t *req, const hs_module_t *m)
{
    return (req->path ? req->path->cfg : req->srv->cfg)->mod[m->index];
}
/* The engine's settings for the request's path (max_body, error pages …). */
static inline const hs_config_t *hs_req_cfg(const hs_req_t *req)
{
    return req->path ? req->path->cfg : req->srv->cfg;
}
/* The module's settings at the top of the configuration (for server-wide directives). */
static inline void *hs_server_conf(const hs_server_t *srv, const hs_module_t *m)
{
    return srv->cfg->mod[m->index];
}
static inline void *hs_req_ctx(const hs_req_t *req, const hs_module_t *m)
{
    return req->ctx[m->index];
}
static inline void hs_req_set_ctx(hs_req_t *req, const hs_module_t *m, void *ctx)
{
    req->ctx[m->index] = ctx;
}
static inline void *hs_worker_ctx(const hs_worker_t *w, const hs_module_t *m)
{
    return w->mod[m->index];
}
/* Where the path's content handler was mounted (files and routes are below it): "" or "/api". */
static inline hs_iovec_t hs_req_mount(const hs_req_t *req)
{
    return req->path ? hs_iov(req->path->mount, req->path->mount_len) : HS_IOV("");
}
/* The normal-form path below the mount point ("/x" for /api/x under /api; "/" for /api). */
hs_iovec_t hs_req_path_below_mount(const hs_req_t *req);
/* Add `key=value` to the request's access log line (after the duration, in the order added):
 * which rule decided, the upstream's address and attempts, the TLS version … The value is
 * escaped like the other fields and quoted when it has a space; key is a static name. */
HS_FMT(3, 4) void hs_req_log_field(hs_req_t *req, const char *key, const char *fmt, ...);

/* Run fn(arg) when the request ends (whatever way: answered, the client gone, shut down),
 * after its log phase; last registered first. The node lives in the request's arena. */
void hs_req_cleanup(hs_req_t *req, void (*fn)(void *arg), void *arg);
/* Continue the phases after a handler returned HS_AGAIN: the next handler of the phase, or the
 * next phase. Safe to call from inside the handler before it returns. */
void hs_req_resume(hs_req_t *req);

/* ---- A request's addresses and scheme (src/http/reqaddr.c) ----
 * The peer's address, valid while the request is (format it with hs_addr_format). */
const struct sockaddr *hs_req_peer_addr(const hs_req_t *req);
/* The local address the request arrived on, into *out: HS_OK, or -errno when the system cannot
 * tell (the connection is gone). */
int hs_req_local_addr(const hs_req_t *req, struct sockaddr_storage *out);
/* The request's scheme: a static string, "http" (or "https" once TLS exists). */
const char *hs_req_scheme(const hs_req_t *req);

#endif
