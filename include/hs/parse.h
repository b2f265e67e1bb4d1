/* statusd — HTTP/1.1 request-head parser and chunked decoder (RFC 9112).
 *
 * The parser does no I/O and allocates nothing. It is handed the whole buffered input each
 * time (re-parsing from the start, as picohttpparser does) and either:
 *   - returns the number of bytes the head occupies (> 0) and fills *req,
 *   - returns HS_AGAIN when the head is incomplete and nothing is wrong so far,
 *   - returns HS_ERROR with req->error set to the specific status (400, 414, 431, 501, 505),
 *     req->error_cause to the cause (HS_CAUSE_*) and req->error_detail to a short static
 *     explanation.
 * All outputs are slices into the caller's buffer, valid while it is.
 */
#ifndef HS_PARSE_H
#define HS_PARSE_H

#include "hs/core.h"
#include "hs/cause.h"

typedef struct hs_header_s {
    hs_iovec_t name;  /* as received (case preserved) */
    hs_iovec_t value; /* leading/trailing OWS removed */
    int token;        /* HS_HDR_* for well-known names, 0 otherwise */
} hs_header_t;

/* Well-known request header tokens (lookup by token, not by string compare on the hot path). */
enum {
    HS_HDR_OTHER = 0,
    HS_HDR_HOST,
    HS_HDR_CONTENT_LENGTH,
    HS_HDR_TRANSFER_ENCODING,
    HS_HDR_CONNECTION,
    HS_HDR_EXPECT,
    HS_HDR_UPGRADE,
    HS_HDR_TE,
    HS_HDR_CONTENT_TYPE,
    HS_HDR_ACCEPT,
    HS_HDR_ACCEPT_ENCODING,
    HS_HDR_ACCEPT_LANGUAGE,
    HS_HDR_IF_MATCH,
    HS_HDR_IF_NONE_MATCH,
    HS_HDR_IF_MODIFIED_SINCE,
    HS_HDR_IF_UNMODIFIED_SINCE,
    HS_HDR_IF_RANGE,
    HS_HDR_RANGE,
    HS_HDR_AUTHORIZATION,
    HS_HDR_COOKIE,
    HS_HDR_USER_AGENT,
    HS_HDR_REFERER,
    HS_HDR_MAN,
    HS_HDR_EARLY_DATA,
    HS_HDR_A_IM,
    HS_HDR_DEPTH,
    HS_HDR_DESTINATION,
    HS_HDR_OVERWRITE,
    HS_HDR_IF,
    HS_HDR_PREFER,
    HS_HDR_ORIGIN,
    HS_HDR_CONTENT_ENCODING,
    HS_HDR_PROXY_AUTHORIZATION,
    HS_HDR__COUNT
};

/* Methods we know. Anything else that is a valid token is HS_METHOD_UNKNOWN → 501. */
typedef enum {
    HS_METHOD_UNKNOWN = 0,
    HS_METHOD_GET,
    HS_METHOD_HEAD,
    HS_METHOD_POST,
    HS_METHOD_PUT,
    HS_METHOD_DELETE,
    HS_METHOD_CONNECT,
    HS_METHOD_OPTIONS,
    HS_METHOD_TRACE,
    HS_METHOD_PATCH,
    HS_METHOD_PROPFIND,
    HS_METHOD_PROPPATCH,
    HS_METHOD_MKCOL,
    HS_METHOD_COPY,
    HS_METHOD_MOVE,
    HS_METHOD_LOCK,
    HS_METHOD_UNLOCK,
    HS_METHOD_BREW,   /* RFC 2324 (HTCPCP) */
    HS_METHOD_WHEN,   /* RFC 2324 */
    HS_METHOD_BIND,   /* RFC 5842 §4 (WebDAV bindings) */
    HS_METHOD_UNBIND, /* RFC 5842 §5 */
    HS_METHOD_REBIND, /* RFC 5842 §6 */
    HS_METHOD_MEXT,   /* RFC 2774 mandatory extension: "M-" prefixed method → 510 */
    HS_METHOD__COUNT
} hs_method_t;

const char *hs_method_name(hs_method_t m);

typedef enum {
    HS_TARGET_ORIGIN = 0, /* "/path?query" */
    HS_TARGET_ABSOLUTE,   /* "http://authority/path?query" */
    HS_TARGET_AUTHORITY,  /* "host:port" (CONNECT only) */
    HS_TARGET_ASTERISK,   /* "*" (OPTIONS only) */
} hs_target_form_t;

typedef struct hs_parse_limits_s {
    size_t max_uri;     /* request-target length → 414 */
    size_t max_field;   /* one header line (name + value) → 431 */
    size_t max_head;    /* request line + all fields → 431 */
    size_t max_headers; /* number of fields → 431 */
} hs_parse_limits_t;

typedef struct hs_parsed_req_s {
    hs_iovec_t method;
    hs_method_t method_id;
    hs_iovec_t target; /* raw request-target */
    hs_target_form_t form;
    hs_iovec_t path;      /* origin-form path (for absolute-form: the path part), undecoded */
    bool path_plain;      /* the path is its own normal form: hs_path_is_plain(path), found in the
                             same pass that looks for the query and a fragment */
    hs_iovec_t query;     /* after '?', without it; base NULL when absent */
    hs_iovec_t authority; /* from an absolute-form or authority-form target */
    int minor_version;    /* 0 or 1 (HTTP/1.x with x > 1 is treated as 1.1, RFC 9110 §2.5) */
    hs_header_t *headers; /* caller-provided array */
    size_t num_headers;
    /* set on HS_ERROR */
    int error;
    uint16_t error_cause; /* why (HS_CAUSE_*, include/hs/cause.h): its status is `error` */
    const char *error_detail;
} hs_parsed_req_t;

/* Parse a request head. `headers`/`max_headers` come in through req->headers and limits. */
int hs_parse_request(const char *buf, size_t len, hs_parsed_req_t *req, const hs_parse_limits_t *limits);

/* Find the token of a header name (case-insensitive). */
int hs_header_token(const char *name, size_t len);

/* Parse Content-Length: 1*DIGIT, no sign, no spaces, fits int64. HS_ERROR otherwise. RFC 9110 §8.6 */
int hs_parse_content_length(hs_iovec_t v, int64_t *out);

/* What the head says about framing and connection handling, validated (RFC 9112 §3.2, §6,
 * §9.3; RFC 9110 §10.1.1). */
typedef struct hs_req_meta_s {
    int64_t content_length;              /* -1 when absent */
    bool chunked;                        /* Transfer-Encoding: chunked */
    bool keep_alive;                     /* persistence after this request (RFC 9112 §9.3) */
    bool expect_continue;                /* Expect: 100-continue on HTTP/1.1 */
    bool upgrade;                        /* Connection: upgrade + Upgrade present */
    bool early_data;                     /* Early-Data: 1 (RFC 8470) */
    hs_iovec_t host;                     /* authority from an absolute-form target, else the Host field */
    const hs_header_t *h[HS_HDR__COUNT]; /* first field with each well-known token, or NULL */
} hs_req_meta_t;

/* Validate the framing- and connection-related fields of a parsed head. HS_OK or HS_ERROR with
 * req->error (400, 417, 501), req->error_cause and req->error_detail set. */
int hs_parse_semantics(hs_parsed_req_t *req, hs_req_meta_t *meta);

/* ---- chunked transfer coding (RFC 9112 §7.1) ----
 * Decodes in place: data bytes are moved to the front of the buffer. */
typedef struct hs_chunked_s {
    uint64_t chunk_left; /* data bytes left in the current chunk */
    uint64_t total;      /* data bytes decoded so far */
    size_t line_len;     /* bytes of the current size/ext or trailer line seen so far */
    size_t trailer_len;  /* bytes of the trailer section */
    uint8_t state;
    uint8_t hex_digits;
    uint16_t error_cause; /* set on HS_ERROR: why (HS_CAUSE_*; its status is *status) */
    /* Set by the caller before decoding: stop right after the last-chunk line and return HS_DONE
     * with the trailer section and its final CRLF left unconsumed, for hs_parse_trailers (a
     * client that keeps the trailers). Clear (zeroed): trailers are checked and discarded. */
    bool stop_at_trailers;
} hs_chunked_t;

typedef struct hs_chunked_limits_s {
    uint64_t max_body;  /* decoded bytes → 413 */
    size_t max_ext;     /* bytes of one chunk-size line including extensions → 400 */
    size_t max_trailer; /* trailer section → 431 */
} hs_chunked_limits_t;

/* Decode buf[0..*len) in place. On return *len is the number of decoded data bytes now at the
 * front of buf and *consumed the number of input bytes used. Returns HS_DONE when the last chunk
 * and trailers are complete (bytes after *consumed belong to the next request), HS_AGAIN when
 * more input is needed, HS_ERROR with *status set (400/413/431). */
int hs_chunked_decode(hs_chunked_t *d, char *buf, size_t *len, size_t *consumed, const hs_chunked_limits_t *limits,
                      int *status, const char **detail);

/* ==== Responses (the gateway's HTTP client, src/http/client.c) ================================
 * A strict response-head parser sharing the request parser's field loop. Strict means that what
 * a lenient client could read differently is an error: the status line is exactly
 * "HTTP/1.x" SP 3DIGIT SP reason CRLF (RFC 9112 §4; no HTTP/0.9 body-only answer, no "ICY"; only
 * the space before an empty reason may be missing), the status 100-599, reason bytes HTAB / SP / VCHAR / obs-text,
 * lines end in CRLF, obs-fold, bare CR or LF and NUL are refused. Errors are cause ids of the gateway's table
 * (hs/upstream.h), never guesses. */
#include "hs/upstream.h"

typedef struct hs_parsed_res_s {
    int minor_version;    /* 0 or 1 (HTTP/1.x with x > 1 is treated as 1.1, RFC 9110 §2.5) */
    int status;           /* 100..599 */
    hs_iovec_t reason;    /* may be empty; a client ignores it (RFC 9112 §4) */
    hs_header_t *headers; /* caller-provided array */
    size_t num_headers;
    /* set on HS_ERROR */
    int error;                /* HS_UP_MALFORMED_HEAD, HS_UP_BAD_STATUS, HS_UP_HEAD_TOO_LARGE, HS_UP_FIELD_TOO_LARGE */
    const char *error_detail; /* a short static explanation */
} hs_parsed_res_t;

/* Parse a response head from buf[0..len): the head's length (> 0), HS_AGAIN (incomplete, nothing
 * wrong so far, at most limits->max_head bytes), or HS_ERROR with res->error and
 * res->error_detail. limits: max_head (status line and fields), max_field (one field line),
 * max_headers (fields; res->headers has room for as many); max_uri is not used. Slices point
 * into buf. No I/O, no allocation; the whole buffered input is passed each time. */
int hs_parse_response(const char *buf, size_t len, hs_parsed_res_t *res, const hs_parse_limits_t *limits);

/* Parse a trailer section (RFC 9112 §7.1.2: field lines, then CRLF) as left by a chunked decoder
 * with stop_at_trailers: the bytes it occupies with its final CRLF (> 0), HS_AGAIN, or HS_ERROR
 * with *cause (HS_UP_BAD_CHUNK for syntax, HS_UP_TRAILERS_TOO_LARGE over max_head, max_field or
 * max_headers) and *detail. The fields go to headers[0..*num). */
int hs_parse_trailers(const char *buf, size_t len, hs_header_t *headers, size_t *num, const hs_parse_limits_t *limits,
                      int *cause, const char **detail);

/* How a response's body is delimited (RFC 9112 §6.3). */
typedef enum {
    HS_FRAMING_NONE = 0, /* no body: 1xx, 204, 304, a response to HEAD (whatever the fields say) */
    HS_FRAMING_LENGTH,   /* Content-Length bytes (possibly 0) */
    HS_FRAMING_CHUNKED,  /* chunked, final coding */
    HS_FRAMING_CLOSE,    /* until the upstream closes: neither field, or a final coding other than chunked */
    HS_FRAMING_TUNNEL,   /* 2xx to CONNECT, 101: the connection now carries something else */
} hs_framing_t;

typedef struct hs_res_meta_s {
    hs_framing_t framing;
    int64_t content_length;              /* the declared value, -1 when absent (also when framing is NONE) */
    bool keep_alive;                     /* the connection may carry another request after this response */
    bool upgrade;                        /* a 101 with an Upgrade field */
    bool transfer_coded;                 /* Transfer-Encoding names a coding other than chunked */
    int64_t keep_alive_timeout;          /* Keep-Alive: timeout=N seconds, -1 when absent or malformed */
    int64_t keep_alive_max;              /* Keep-Alive: max=N, -1 when absent or malformed */
    const hs_header_t *h[HS_HDR__COUNT]; /* first field with each well-known token, or NULL */
} hs_res_meta_t;

/* Validate the framing and connection fields of a parsed response to a request with `method`
 * (RFC 9112 §6.1, §6.3, §9.3; RFC 9110 §6.4.1, §8.6, §15.2.2). HS_OK, or HS_ERROR with
 * res->error (HS_UP_BAD_FRAMING, HS_UP_UNEXPECTED_UPGRADE) and res->error_detail:
 *   - Content-Length that is not 1*DIGIT (lists too), duplicated even with the same value, or two
 *     that differ; Content-Length with Transfer-Encoding; Transfer-Encoding in HTTP/1.0, empty,
 *     repeated as a field, or naming chunked twice;
 *   - 101 without an Upgrade field.
 * Fields are checked whatever the status; the framing follows the status and the method. */
int hs_parse_response_semantics(hs_parsed_res_t *res, hs_method_t method, hs_res_meta_t *meta);

#endif
