/* statusd — the client-testing API (src/modules/testapi): what its route files share.
 *
 * The API is one module (router.c) whose routes live in one file per theme: echo.c, status.c,
 * redirect.c, stream.c, cache.c, auth.c, cookies.c, formats.c, images.c, websocket.c, faults.c,
 * jobs.c. util.c holds the helpers below. Routes follow httpbin's paths, query parameters and
 * JSON shapes wherever httpbin has the route. Slow routes never block a worker: they use the
 * request timer and streaming responses. Every cap (api_max_duration, api_max_bytes) is checked
 * and a request over it gets 400 naming the cap — never a silent clamp.
 *
 * Each .c file defines _GNU_SOURCE before including this header.
 */
#ifndef HS_TESTAPI_API_H
#define HS_TESTAPI_API_H

#include "hs/crypto.h"
#include "hs/http.h"

/* ---- settings and mounting (router.c) ---- */
typedef struct api_conf_s {
    bool api;                  /* serve the API: naming it makes the module a path's handler */
    char *api_prefix;          /* where the API goes when a root is served (no hosts) */
    uint64_t api_max_duration; /* ms: longest delay/drip/sse/hang/job a request may ask for */
    uint64_t api_max_bytes;    /* largest generated body */
    char *allow_redirect_host; /* comma-separated extra hosts /redirect-to may point at */
    char *trusted_proxies;     /* comma-separated addresses/CIDR blocks whose X-Forwarded-Proto counts */
} api_conf_t;

extern hs_module_t hs_module_testapi;
/* The API's causes (router.c): hs_req_set_cause(req, API_CAUSE(API_CAUSE_STATUS)). */
enum { API_CAUSE_STATUS, API_CAUSE_FAULT, API_CAUSE_CAP };
#define API_CAUSE(i) hs_module_cause(&hs_module_testapi, (i))
static inline const api_conf_t *api_conf(const hs_req_t *req)
{
    return hs_req_conf(req, &hs_module_testapi);
}
/* The route's per-request state (the module's context slot). */
#define API_CTX(req) hs_req_ctx((req), &hs_module_testapi)
#define API_SET_CTX(req, p) hs_req_set_ctx((req), &hs_module_testapi, (p))
/* Where the API is mounted for this request ("" at /, "/_api" …): links start with it. */
#define API_PREFIX(req) ((req)->path ? (req)->path->mount : "")

/* A route handler. `rest` is what follows the route's path (empty for exact routes). Returns
 * what a module handler returns (HS_OK after a response, HS_AGAIN for asynchronous work). */
typedef int (*api_handler_t)(hs_req_t *req, hs_iovec_t rest);

/* ---- helpers (util.c) ---- */
/* hs_buf_append for lengths that may be 0 (memcpy into a still-NULL buffer is UB even then). */
static inline void api_buf_add(hs_buf_t *b, const void *p, size_t n)
{
    if (n)
        hs_buf_append(b, p, n);
}

typedef struct api_kv_s {
    hs_iovec_t key, value;
} api_kv_t;

/* Split "k=v&k2=v2" (application/x-www-form-urlencoded, also query strings) into decoded pairs
 * in the arena. Returns the number of pairs. */
size_t api_parse_urlencoded(hs_arena_t *a, hs_iovec_t s, api_kv_t **out);
/* The decoded value of query parameter `name` (first occurrence) in *out; false when absent. */
bool api_query(hs_req_t *req, const char *name, hs_iovec_t *out);

/* JSON: an object of pairs, repeated keys become lists (httpbin's MultiDict shape). */
void api_json_pairs(hs_buf_t *b, const api_kv_t *kv, size_t n);
/* A JSON string for bytes: the text when valid UTF-8, else a data: URL in base64 (httpbin). */
void api_json_bytes(hs_buf_t *b, const char *p, size_t n, const char *ctype);


/* Query arguments that answer 400 themselves: each returns false after sending the 400.
 * Absent arguments take `def`. */
bool api_arg_u64(hs_req_t *req, const char *name, uint64_t def, uint64_t max, uint64_t *out);
bool api_arg_ms(hs_req_t *req, const char *name, uint64_t unit_ms, uint64_t def, uint64_t *out_ms);
/* Cap checks: false after answering 400 that names the cap (--api-max-duration/--api-max-bytes). */
bool api_check_duration(hs_req_t *req, const char *what, uint64_t ms);
bool api_check_bytes(hs_req_t *req, const char *what, uint64_t n);

/* Responses. The buffer is copied into the request arena and freed. */
int api_send_buf(hs_req_t *req, int status, hs_buf_t *b, const char *ctype);
int api_send_mem(hs_req_t *req, int status, const void *p, size_t n, const char *ctype);
/* An error page from the registry with a formatted explanation. */
HS_FMT(3, 4) int api_fail(hs_req_t *req, int status, const char *fmt, ...);
/* Does the client prefer application/json over text/plain (Accept)? */
bool api_wants_json(hs_req_t *req);
/* An arena string: the API prefix followed by the formatted path. */
HS_FMT(2, 3) hs_iovec_t api_path(hs_req_t *req, const char *fmt, ...);
/* The authority clients used to reach us (Host, else the local address). */
hs_iovec_t api_host(hs_req_t *req);
/* httpbin's "origin" (X-Forwarded-For when present, else the peer address) and "url". */
hs_iovec_t api_origin(hs_req_t *req);
hs_iovec_t api_url(hs_req_t *req);
/* The scheme the client used, for the URLs the API writes: the connection's ("https" on a TLS
 * listener), or, from a front proxy listed in api_trusted_proxies, the first element of its
 * X-Forwarded-Proto when that is http or https. A static string. */
const char *api_scheme(hs_req_t *req);
/* Is each comma-separated item of `list` an address or a CIDR block? NULL, or the first bad
 * item's explanation (static) with *bad_at and *bad_len naming it. */
const char *api_cidr_list_error(const char *list, const char **bad_at, size_t *bad_len);
/* Monotonic milliseconds of this worker's loop (cached per iteration). */
static inline uint64_t api_now_ms(const hs_req_t *req)
{
    return req->worker->loop.now_ms;
}

/* ---- shared by several routes ---- */
/* cookies.c: the value of the request's cookie `name` (the first; quotes removed), false when absent. */
bool api_cookie(hs_req_t *req, const char *name, hs_iovec_t *out);
/* status.c: add every header the registry requires (and recommends) for `code` that the
 * response does not carry yet, with values that make sense for the test API. */
void api_add_status_headers(hs_req_t *req, int code, uint64_t body_len);
/* echo.c: httpbin's request echo. Fields to include: */
enum {
    API_F_ARGS = 1 << 0,
    API_F_DATA = 1 << 1, /* data, files, form */
    API_F_HEADERS = 1 << 2,
    API_F_METHOD = 1 << 3,
    API_F_ORIGIN = 1 << 4,
    API_F_URL = 1 << 5,
    API_F_JSON = 1 << 6,
};
#define API_F_GET (API_F_ARGS | API_F_HEADERS | API_F_ORIGIN | API_F_URL)
#define API_F_BODY (API_F_GET | API_F_DATA | API_F_JSON)
/* Append the members (without braces) "args": …, "data": … for `fields`. `first` is true when
 * nothing precedes them in the object. Returns HS_ERROR for a malformed multipart body. */
int api_echo_members(hs_buf_t *b, hs_req_t *req, unsigned fields, bool first);
void api_json_headers(hs_buf_t *b, hs_req_t *req);
/* Send {echo members} with status 200 (400 on a malformed form body). */
int api_echo_send(hs_req_t *req, unsigned fields);
/* echo.c: may a client choose this response header (/response-headers, X-HttpStatus-Response-*)?
 * Framing and connection fields are refused. false after answering 400. */
bool api_header_settable(hs_req_t *req, hs_iovec_t name, hs_iovec_t value);
/* coding.c: compress into out (appended). false on a library failure. */
enum { API_ENC_GZIP, API_ENC_DEFLATE, API_ENC_BROTLI, API_ENC_ZSTD };
bool api_compress(int enc, const void *in, size_t n, hs_buf_t *out);
/* Decompress into out, at most `limit` bytes (a decompression bomb stops there). 1 done, 0 over
 * the limit, -1 not valid data of that coding. */
int api_decompress(int enc, const void *in, size_t n, size_t limit, hs_buf_t *out);
/* The coding named by a Content-Encoding value (gzip, x-gzip, deflate, br, zstd), -1 if none. */
int api_coding(hs_iovec_t name);

/* ---- routes ---- */
/* echo.c */
int api_r_get(hs_req_t *req, hs_iovec_t rest);
int api_r_body_echo(hs_req_t *req, hs_iovec_t rest);
int api_r_anything(hs_req_t *req, hs_iovec_t rest);
int api_r_headers(hs_req_t *req, hs_iovec_t rest);
int api_r_ip(hs_req_t *req, hs_iovec_t rest);
int api_r_user_agent(hs_req_t *req, hs_iovec_t rest);
int api_r_dump_request(hs_req_t *req, hs_iovec_t rest);
int api_r_response_headers(hs_req_t *req, hs_iovec_t rest);
/* status.c */
int api_r_status(hs_req_t *req, hs_iovec_t rest);
/* redirect.c */
int api_r_redirect(hs_req_t *req, hs_iovec_t rest);
int api_r_relative_redirect(hs_req_t *req, hs_iovec_t rest);
int api_r_absolute_redirect(hs_req_t *req, hs_iovec_t rest);
int api_r_redirect_to(hs_req_t *req, hs_iovec_t rest);
/* stream.c */
int api_r_delay(hs_req_t *req, hs_iovec_t rest);
int api_r_drip(hs_req_t *req, hs_iovec_t rest);
int api_r_bytes(hs_req_t *req, hs_iovec_t rest);
int api_r_stream(hs_req_t *req, hs_iovec_t rest);
int api_r_stream_bytes(hs_req_t *req, hs_iovec_t rest);
int api_r_range(hs_req_t *req, hs_iovec_t rest);
int api_r_sse(hs_req_t *req, hs_iovec_t rest);
int api_r_trailers(hs_req_t *req, hs_iovec_t rest);
/* cache.c */
int api_r_cache(hs_req_t *req, hs_iovec_t rest);
int api_r_cache_n(hs_req_t *req, hs_iovec_t rest);
int api_r_etag(hs_req_t *req, hs_iovec_t rest);
/* auth.c */
int api_r_basic_auth(hs_req_t *req, hs_iovec_t rest);
int api_r_hidden_basic_auth(hs_req_t *req, hs_iovec_t rest);
int api_r_digest_auth(hs_req_t *req, hs_iovec_t rest);
int api_r_bearer(hs_req_t *req, hs_iovec_t rest);
/* cookies.c */
int api_r_cookies(hs_req_t *req, hs_iovec_t rest);
int api_r_cookies_set(hs_req_t *req, hs_iovec_t rest);
int api_r_cookies_set_path(hs_req_t *req, hs_iovec_t rest);
int api_r_cookies_delete(hs_req_t *req, hs_iovec_t rest);
int api_r_session(hs_req_t *req, hs_iovec_t rest);
int api_r_session_login(hs_req_t *req, hs_iovec_t rest);
int api_r_session_logout(hs_req_t *req, hs_iovec_t rest);
/* formats.c */
int api_r_gzip(hs_req_t *req, hs_iovec_t rest);
int api_r_deflate(hs_req_t *req, hs_iovec_t rest);
int api_r_brotli(hs_req_t *req, hs_iovec_t rest);
int api_r_zstd(hs_req_t *req, hs_iovec_t rest);
int api_r_utf8(hs_req_t *req, hs_iovec_t rest);
int api_r_html(hs_req_t *req, hs_iovec_t rest);
int api_r_json(hs_req_t *req, hs_iovec_t rest);
int api_r_xml(hs_req_t *req, hs_iovec_t rest);
int api_r_robots(hs_req_t *req, hs_iovec_t rest);
int api_r_deny(hs_req_t *req, hs_iovec_t rest);
int api_r_base64(hs_req_t *req, hs_iovec_t rest);
int api_r_uuid(hs_req_t *req, hs_iovec_t rest);
int api_r_links(hs_req_t *req, hs_iovec_t rest);
int api_r_forms_post(hs_req_t *req, hs_iovec_t rest);
int api_r_forms_reset(hs_req_t *req, hs_iovec_t rest);
int api_r_coffee(hs_req_t *req, hs_iovec_t rest);
int api_r_retry_with(hs_req_t *req, hs_iovec_t rest);
/* images.c */
int api_r_image(hs_req_t *req, hs_iovec_t rest);
/* websocket.c */
int api_r_websocket_echo(hs_req_t *req, hs_iovec_t rest);
/* faults.c */
int api_r_fault(hs_req_t *req, hs_iovec_t rest);
typedef struct api_fault_doc_s {
    const char *kind, *wire, *client;
} api_fault_doc_t;
extern const api_fault_doc_t api_fault_docs[];
extern const size_t api_num_fault_docs;
/* jobs.c */
int api_r_jobs(hs_req_t *req, hs_iovec_t rest);
/* sink.c */
int api_r_sink(hs_req_t *req, hs_iovec_t rest);

#endif
