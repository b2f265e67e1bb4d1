/* statusd — HTTP/1.1 request-head parser and chunked decoder (RFC 9112).
 *
 * The parser does no I/O and allocates nothing. It is handed the whole buffered input each
 * time (re-parsing from the start, as picohttpparser does) and either:
 *   - returns the number of bytes the head occupies (> 0) and fills *req,
 *   - returns HS_AGAIN when the head is incomplete and nothing is wrong so far,
 *   - returns HS_ERROR with req->error set to the specific status (400, 414, 431, 501, 505)
 *     and req->error_detail to a short static explanation.
 * All outputs are slices into the caller's buffer, valid while it is.
 */
#ifndef HS_PARSE_H
#define HS_PARSE_H

#include "hs/core.h"

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
    HS_METHOD_BREW, /* RFC 2324 (HTCPCP) */
    HS_METHOD_WHEN, /* RFC 2324 */
    HS_METHOD_MEXT, /* RFC 2774 mandatory extension: "M-" prefixed method → 510 */
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
    hs_iovec_t query;     /* after '?', without it; base NULL when absent */
    hs_iovec_t authority; /* from an absolute-form or authority-form target */
    int minor_version;    /* 0 or 1 (HTTP/1.x with x > 1 is treated as 1.1, RFC 9110 §2.5) */
    hs_header_t *headers; /* caller-provided array */
    size_t num_headers;
    /* set on HS_ERROR */
    int error;
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
 * req->error (400, 417, 501) and req->error_detail set. */
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

#endif
