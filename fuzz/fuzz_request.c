/* statusd fuzz target: the request-head parser (hs_parse_request) and the framing/connection
 * semantics on top of it (hs_parse_semantics), RFC 9112 §2-§6, §9.3.
 *
 * Besides "no crash, no over-read" (the input is an exact-size heap copy), the driver checks the
 * contracts a caller relies on:
 *   - the result is a length <= input, HS_AGAIN, or HS_ERROR with one of 400/414/431/501/505;
 *   - every slice (method, target, path, query, authority, header names and values) lies inside
 *     the head; names are non-empty tokens; values carry no CR, LF, NUL or edge whitespace;
 *   - the parser is incremental: a complete head of length r parses to r from any buffer that
 *     starts with it, and any strict prefix of it is HS_AGAIN (no early commitment);
 *   - hs_parse_semantics returns 400/417/501 on error; on success it never reports both a
 *     Content-Length and chunked, and Content-Length is -1 or a non-negative number.
 */
#include "hs/parse.h"
#include "hs/path.h"
#include "fuzz_util.h"

#define MAX_HEADERS 24

static const hs_parse_limits_t limits = {
    .max_uri = 512,
    .max_field = 1024,
    .max_head = 4096,
    .max_headers = MAX_HEADERS,
};

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void check_inside(const char *buf, size_t r, hs_iovec_t v, const char *what)
{
    if (!v.base)
        return;
    /* the absolute-form target without a path yields a static "/" (documented) */
    if (v.len == 1 && v.base[0] == '/' && (v.base < buf || v.base >= buf + r))
        return;
    FUZZ_CHECK(v.base >= buf && v.base + v.len <= buf + r, "%s slice outside the head", what);
}

static int parse(const char *buf, size_t len, hs_parsed_req_t *req, hs_header_t *headers)
{
    memset(req, 0, sizeof(*req));
    req->headers = headers;
    return hs_parse_request(buf, len, req, &limits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_dup(data, size);
    hs_header_t headers[MAX_HEADERS];
    hs_parsed_req_t req;
    int r = parse(buf, size, &req, headers);

    if (r == HS_ERROR) {
        int e = req.error;
        FUZZ_CHECK(e == 400 || e == 414 || e == 431 || e == 501 || e == 505, "error status %d", e);
        FUZZ_CHECK(req.error_detail && req.error_detail[0], "error without a detail");
    } else if (r == HS_AGAIN) {
        FUZZ_CHECK(size <= limits.max_head, "HS_AGAIN on %zu bytes, beyond max_head", size);
    } else {
        FUZZ_CHECK(r > 0 && (size_t)r <= size, "result %d for %zu bytes", r, size);
        size_t n = (size_t)r;
        FUZZ_CHECK(n <= limits.max_head, "head of %zu bytes accepted", n);
        FUZZ_CHECK(req.minor_version == 0 || req.minor_version == 1, "minor %d", req.minor_version);
        FUZZ_CHECK(req.num_headers <= MAX_HEADERS, "too many headers");
        FUZZ_CHECK(req.method.len > 0, "empty method");
        for (size_t i = 0; i < req.method.len; i++)
            FUZZ_CHECK(is_tchar((unsigned char)req.method.base[i]), "method byte 0x%02x", req.method.base[i]);
        FUZZ_CHECK(req.target.len > 0 && req.target.len <= limits.max_uri, "target length %zu", req.target.len);
        for (size_t i = 0; i < req.target.len; i++) {
            unsigned char c = (unsigned char)req.target.base[i];
            FUZZ_CHECK(c > 0x20 && c < 0x7f, "target byte 0x%02x", c);
        }
        check_inside(buf, n, req.method, "method");
        check_inside(buf, n, req.target, "target");
        check_inside(buf, n, req.path, "path");
        if (req.form == HS_TARGET_ORIGIN || req.form == HS_TARGET_ABSOLUTE)
            FUZZ_CHECK(req.path_plain == hs_path_is_plain(req.path), "path_plain %d for '%.*s'", req.path_plain,
                       (int)req.path.len, req.path.base);
        check_inside(buf, n, req.query, "query");
        check_inside(buf, n, req.authority, "authority");
        for (size_t i = 0; i < req.num_headers; i++) {
            const hs_header_t *h = &req.headers[i];
            check_inside(buf, n, h->name, "header name");
            check_inside(buf, n, h->value, "header value");
            FUZZ_CHECK(h->name.len > 0, "empty header name");
            for (size_t k = 0; k < h->name.len; k++)
                FUZZ_CHECK(is_tchar((unsigned char)h->name.base[k]), "name byte 0x%02x", h->name.base[k]);
            for (size_t k = 0; k < h->value.len; k++) {
                unsigned char c = (unsigned char)h->value.base[k];
                FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f), "value byte 0x%02x", c);
            }
            if (h->value.len) {
                char a = h->value.base[0], z = h->value.base[h->value.len - 1];
                FUZZ_CHECK(a != ' ' && a != '\t' && z != ' ' && z != '\t', "untrimmed value");
            }
            FUZZ_CHECK(h->token == hs_header_token(h->name.base, h->name.len), "token mismatch");
        }
        /* the head ends in CRLF CRLF (or is just the request line and CRLF) */
        FUZZ_CHECK(n >= 4 && buf[n - 2] == '\r' && buf[n - 1] == '\n', "head does not end in CRLF");

        /* incremental: the head alone parses to the same length; strict prefixes are HS_AGAIN */
        char *head = fuzz_dup(data, n);
        hs_header_t h2[MAX_HEADERS];
        hs_parsed_req_t req2;
        FUZZ_CHECK(parse(head, n, &req2, h2) == r, "head alone parses differently");
        FUZZ_CHECK(req2.num_headers == req.num_headers, "header count differs");
        size_t cuts[] = {n - 1, n - 2, n / 2, 1};
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
            if (cuts[i] == 0 || cuts[i] >= n)
                continue;
            int rp = parse(head, cuts[i], &req2, h2);
            FUZZ_CHECK(rp == HS_AGAIN, "prefix of %zu/%zu bytes gave %d (error %d)", cuts[i], n, rp, req2.error);
        }
        free(head);

        /* semantics */
        hs_req_meta_t meta;
        int s = hs_parse_semantics(&req, &meta);
        if (s == HS_OK) {
            FUZZ_CHECK(!(meta.chunked && meta.content_length >= 0), "both chunked and Content-Length");
            FUZZ_CHECK(meta.content_length >= -1, "Content-Length %lld", (long long)meta.content_length);
            FUZZ_CHECK(!(meta.chunked && req.minor_version == 0), "chunked request in HTTP/1.0");
            FUZZ_CHECK(!(meta.expect_continue && req.minor_version == 0), "100-continue in HTTP/1.0");
            if (meta.host.base)
                check_inside(buf, n, meta.host, "host");
            for (int t = 1; t < HS_HDR__COUNT; t++)
                FUZZ_CHECK(!meta.h[t] || meta.h[t]->token == t, "meta.h[%d] has the wrong token", t);
        } else {
            FUZZ_CHECK(s == HS_ERROR, "semantics returned %d", s);
            int e = req.error;
            FUZZ_CHECK(e == 400 || e == 417 || e == 501, "semantics error status %d", e);
        }
    }
    free(buf);
    return 0;
}
