/* statusd — access log formats (src/http/logfmt.c): `combined`, `json`, or a template of
 * `$variables`, compiled once from the log_format directive and rendered once per request.
 *
 *   combined   127.0.0.1 - - [21/Nov/2026:22:33:01 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8" 0.000
 *              (then the modules' key=value fields): the historical line, byte for byte
 *   json       one object per line: time, remote_addr, host, vhost, method, target, protocol,
 *              request, status, cause, bytes, bytes_sent, duration, referer, user_agent,
 *              request_id, then each module field (hs_req_log_field) as "key": "value"
 *   template   text with $name or ${name}; $$ is a dollar sign. Variables: remote_addr,
 *              time_local, time_iso8601, request, method, target, path, query, protocol,
 *              status, cause, bytes, bytes_sent, duration, host, vhost, request_id, fields (the
 *              modules' fields as combined writes them), field_NAME (one module field),
 *              http_NAME (a request header, '_' matching '-', any case)
 *
 * Escaping. Nothing a client sends can start a new line or forge a field: in combined and
 * templates every byte that is a control, non-ASCII, '"' or '\' becomes \xHH; in json strings
 * are JSON strings (RFC 8259 §7) that are always valid UTF-8: valid UTF-8 passes, controls and
 * each byte of an invalid sequence become \u00XX (the byte read as Latin-1).
 *
 * A compiled format lives in the arena it was compiled into and is read-only: any thread may
 * render with it. */
#ifndef HS_LOGFMT_H
#define HS_LOGFMT_H

#include "hs/parse.h"

#include <sys/socket.h>
#include <time.h>

typedef struct hs_logfmt_s hs_logfmt_t;

/* Everything a line can say about one request. Slices need not end in a NUL; a NULL base is
 * "absent" (written "-" or null). */
typedef struct hs_logrec_s {
    const struct sockaddr *peer;
    time_t when;
    const char *time_local; /* "06/Nov/1994:08:49:37 +0000" (the caller caches it per second) */
    hs_iovec_t request;     /* the request line as logged (the first line received, if unparsed) */
    hs_iovec_t method, target, path, query;
    int minor_version; /* -1: unknown (the head never parsed) */
    hs_iovec_t host;   /* the Host field or the target's authority, as sent */
    hs_iovec_t vhost;  /* the configured host that served it */
    int status;
    const char *cause;
    uint64_t bytes;       /* body bytes sent */
    uint64_t bytes_sent;  /* every byte written, heads included */
    uint64_t duration_ms; /* from the first byte of the head to the end */
    uint64_t request_id;
    const hs_header_t *headers; /* the request's fields (for http_NAME, referer, user_agent) */
    size_t num_headers;
    hs_iovec_t fields; /* the modules' fields, as hs_logfields_add stores them */
} hs_logrec_t;

/* Compile `spec` ("combined", "json" or a template) into memory from `arena`. HS_OK, or
 * HS_ERROR with a message naming the offset and the problem (an unknown variable, a '$' that
 * names nothing, an unclosed '${', a template over 2048 bytes or 128 pieces). */
int hs_logfmt_compile(hs_arena_t *arena, const char *spec, const hs_logfmt_t **out, char *err, size_t errlen);
/* Is it the combined format? (the fast path keeps it byte for byte as it always was) */
bool hs_logfmt_is_combined(const hs_logfmt_t *f);
/* Append one line for `rec`, with its final newline, to `out`. A line is at most a few KiB:
 * every value is cut at a bound (the request line at 1 KiB, a header at 512 bytes …). */
void hs_logfmt_render(const hs_logfmt_t *f, const hs_logrec_t *rec, hs_buf_t *out);

/* The modules' fields of a request (hs_req_log_field): kept raw, in order, in a buffer. */
void hs_logfields_add(hs_buf_t *b, const char *key, const char *value, size_t len);

#endif
