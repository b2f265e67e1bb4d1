/* statusd — internals shared by conn.c, response.c, server.c and accesslog.c. */
#ifndef HS_HTTP_INTERNAL_H
#define HS_HTTP_INTERNAL_H

#include "hs/http.h"

#include <netinet/in.h>

enum {
    HS_CS_IDLE = 0, /* waiting for the first byte of a request (keep-alive timer) */
    HS_CS_HEAD,     /* receiving a request head (header timer, from the first byte) */
    HS_CS_BODY,     /* reading a request body for a handler (body timer, per read) */
    HS_CS_HANDLER,  /* a handler works asynchronously */
    HS_CS_WRITE,    /* writing the response (send timer, per write) */
    HS_CS_LINGER,   /* write side shut; draining input before close (linger timer) */
    HS_CS_UPGRADED, /* after 101: bytes go to the upgrade handler */
};

struct hs_conn_s {
    hs_sock_t sock; /* first: its io is the connection's; its loop's data is the worker */
    hs_conn_t *next, *prev;
    hs_req_t *req; /* the request being served, NULL when idle */
    uint32_t requests;
    uint32_t linger_bytes;
    uint8_t state;
    bool in_run : 1, rerun : 1, dead : 1, closed : 1, upgrade_closing : 1, read_paused : 1;
    struct sockaddr_in6 peer; /* v4 peers are stored as sockaddr_in in the same space */
};

/* conn.c */
void hs__conn_accept(hs_worker_t *w, int fd, const struct sockaddr *sa, socklen_t salen);
/* Run the state machine; called while it is already running (a handler answering from inside
 * dispatch), it only asks the running loop to go round once more. */
void hs__conn_run(hs_conn_t *c);
void hs__conn_close_idle(hs_worker_t *w); /* on drain: close connections waiting for a request */
/* Output was queued for the current request: write it (the connection moves to its writing
 * state, or stays upgraded) and carry on from there. */
void hs__conn_output_ready(hs_conn_t *c);

/* offload.c */
void hs__offload_detach(hs_req_t *req);      /* the request is being freed */
void hs__offload_complete(hs_worker_t *w);   /* on the worker: finish jobs that are done */
void hs__offload_shutdown(hs_server_t *srv); /* after the workers stopped */
void hs__conn_close_all(hs_worker_t *w);     /* at exit */
/* Each module's per-worker state (init_worker), once the worker's loop is ready, before it
 * serves; released by hs__worker_free_pools (fini_worker), with the worker's pools, after the
 * worker stopped and before its loop goes. */
int hs__worker_modules_init(hs_worker_t *w);
void hs__worker_free_pools(hs_worker_t *w);
ssize_t hs__conn_flush(hs_conn_t *c);

/* request.c */
/* Find the request's host and path, apply the path's limits, run the phases. */
void hs__req_process(hs_req_t *req);
/* The request ends with `status` after `bytes` of body: the modules' log phase (which may add
 * fields to the line: hs_req_log_field), the access log line, then its cleanups (conn.c). */
void hs__req_end(hs_req_t *req, int status, uint64_t bytes);

/* response.c */
/* Build and queue the response head. framing: 0 = Content-Length (when the status allows a body),
 * 1 = chunked, 2 = none (close-delimited or 101). */
void hs__queue_head(hs_req_t *req, int status, int framing);
void hs__status_lines_init(void);
hs_iovec_t hs__status_line(int status);
/* Build the error body for status/detail according to the client's preference. */
void hs__error_body(hs_req_t *req, int status, const char *detail);
/* Check the registry rules of a response about to be written; abort in checking builds. */
void hs__check_response(hs_req_t *req, bool has_body_bytes);

/* accesslog.c — called only from the end of a request (conn.c request_finish), and for the
 * connections refused before they became one (server.c). */
void hs__access_log(hs_req_t *req, int status, uint64_t bytes);
void hs__access_log_raw(hs_worker_t *w, const struct sockaddr *peer, const char *reqline, size_t len, int status);
void hs__access_log_flush(hs_worker_t *w); /* write the buffered lines (every loop iteration) */
/* Append " key=value" (escaped, quoted when needed) to a request's extra log fields. */
void hs__access_log_field(hs_buf_t *b, const char *key, const char *value, size_t len);

#endif
