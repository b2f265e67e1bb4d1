/* statusd fuzz target: the strict response-head parser (hs_parse_response), response framing
 * (hs_parse_response_semantics) and, for a chunked body, the decoder with stop_at_trailers and
 * the trailer parser (hs_parse_trailers) — what the gateway's client runs on upstream bytes.
 *
 * The first input byte picks the request method (GET, HEAD, CONNECT); the rest is the response.
 * Besides "no crash, no over-read" (exact-size heap copies), the driver checks the contracts the
 * client relies on:
 *   - the result is a length <= input, HS_AGAIN (only while within max_head and only when the
 *     input starts like "HTTP/1.x"), or HS_ERROR with a cause from the parser's set and a detail;
 *   - on success: status 100-599, minor 0/1, the head ends in CRLF CRLF, every slice lies in the
 *     head, names are tokens, values hold no CR/LF/NUL and no edge whitespace;
 *   - incremental: the head alone gives the same length; strict prefixes are HS_AGAIN;
 *   - semantics: HS_OK with a framing consistent with the status and method, or HS_ERROR with
 *     bad_framing / unexpected_upgrade; never chunked together with a Content-Length.
 */
#include "hs/parse.h"
#include "fuzz_util.h"

#define MAX_HEADERS 24

static const hs_parse_limits_t limits = {.max_field = 1024, .max_head = 4096, .max_headers = MAX_HEADERS};

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void check_inside(const char *buf, size_t n, hs_iovec_t v, const char *what)
{
    FUZZ_CHECK(v.len == 0 || (v.base >= buf && v.base + v.len <= buf + n), "%s slice outside the head", what);
}

static int parse(const char *buf, size_t len, hs_parsed_res_t *res, hs_header_t *headers)
{
    memset(res, 0, sizeof(*res));
    res->headers = headers;
    return hs_parse_response(buf, len, res, &limits);
}

static void body(const uint8_t *data, size_t size)
{
    char *buf = fuzz_dup(data, size);
    hs_chunked_t d = {.stop_at_trailers = true};
    hs_chunked_limits_t cl = {.max_body = 1 << 20, .max_ext = 256, .max_trailer = 1024};
    size_t len = size, consumed = 0;
    int status = 0;
    const char *detail = NULL;
    int r = hs_chunked_decode(&d, buf, &len, &consumed, &cl, &status, &detail);
    FUZZ_CHECK(consumed <= size && len <= consumed, "decoder: consumed %zu of %zu, out %zu", consumed, size, len);
    if (r == HS_DONE) {
        hs_header_t t[8];
        size_t num = 0;
        int cause = 0;
        const hs_parse_limits_t tl = {.max_field = 256, .max_head = 1024, .max_headers = 8};
        char *rest = fuzz_dup(data + consumed, size - consumed);
        int tr = hs_parse_trailers(rest, size - consumed, t, &num, &tl, &cause, &detail);
        if (tr > 0) {
            FUZZ_CHECK((size_t)tr <= size - consumed && num <= 8, "trailers: %d, %zu fields", tr, num);
            FUZZ_CHECK(rest[tr - 2] == '\r' && rest[tr - 1] == '\n', "trailers do not end in CRLF");
            for (size_t i = 0; i < num; i++)
                check_inside(rest, (size_t)tr, t[i].value, "trailer value");
        } else if (tr == HS_ERROR) {
            FUZZ_CHECK(cause == HS_UP_BAD_CHUNK || cause == HS_UP_TRAILERS_TOO_LARGE, "trailer cause %d", cause);
        } else {
            FUZZ_CHECK(tr == HS_AGAIN && size - consumed <= tl.max_head, "trailers: %d", tr);
        }
        free(rest);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const hs_method_t methods[] = {HS_METHOD_GET, HS_METHOD_HEAD, HS_METHOD_CONNECT, HS_METHOD_POST};
    hs_method_t method = methods[data[0] % 4];
    data++;
    size--;
    char *buf = fuzz_dup(data, size);
    hs_header_t headers[MAX_HEADERS];
    hs_parsed_res_t res;
    int r = parse(buf, size, &res, headers);
    if (r == HS_ERROR) {
        int e = res.error;
        FUZZ_CHECK(e == HS_UP_MALFORMED_HEAD || e == HS_UP_BAD_STATUS || e == HS_UP_HEAD_TOO_LARGE ||
                       e == HS_UP_FIELD_TOO_LARGE,
                   "error cause %d", e);
        FUZZ_CHECK(res.error_detail && res.error_detail[0], "error without a detail");
    } else if (r == HS_AGAIN) {
        FUZZ_CHECK(size <= limits.max_head, "HS_AGAIN on %zu bytes", size);
        FUZZ_CHECK(memcmp(buf, "HTTP/1.", size < 7 ? size : 7) == 0, "HS_AGAIN on input not starting HTTP/1.");
    } else {
        size_t n = (size_t)r;
        FUZZ_CHECK(r > 0 && n <= size && n <= limits.max_head, "result %d for %zu bytes", r, size);
        FUZZ_CHECK(res.status >= 100 && res.status <= 599, "status %d", res.status);
        FUZZ_CHECK(res.minor_version == 0 || res.minor_version == 1, "minor %d", res.minor_version);
        FUZZ_CHECK(n >= 14 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0, "head does not end in CRLF CRLF");
        check_inside(buf, n, res.reason, "reason");
        for (size_t i = 0; i < res.reason.len; i++) {
            unsigned char c = (unsigned char)res.reason.base[i];
            FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f), "reason byte 0x%02x", c);
        }
        for (size_t i = 0; i < res.num_headers; i++) {
            const hs_header_t *h = &res.headers[i];
            check_inside(buf, n, h->name, "name");
            check_inside(buf, n, h->value, "value");
            FUZZ_CHECK(h->name.len > 0, "empty name");
            for (size_t k = 0; k < h->name.len; k++)
                FUZZ_CHECK(is_tchar((unsigned char)h->name.base[k]), "name byte");
            for (size_t k = 0; k < h->value.len; k++) {
                unsigned char c = (unsigned char)h->value.base[k];
                FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f), "value byte 0x%02x", c);
            }
            if (h->value.len) {
                char a = h->value.base[0], z = h->value.base[h->value.len - 1];
                FUZZ_CHECK(a != ' ' && a != '\t' && z != ' ' && z != '\t', "untrimmed value");
            }
        }
        char *head = fuzz_dup(data, n);
        hs_header_t h2[MAX_HEADERS];
        hs_parsed_res_t res2;
        FUZZ_CHECK(parse(head, n, &res2, h2) == r, "head alone parses differently");
        size_t cuts[] = {n - 1, n - 2, n / 2, 12, 1};
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
            if (cuts[i] > 0 && cuts[i] < n)
                FUZZ_CHECK(parse(head, cuts[i], &res2, h2) == HS_AGAIN, "prefix %zu/%zu not HS_AGAIN", cuts[i], n);
        free(head);

        hs_res_meta_t meta;
        int s = hs_parse_response_semantics(&res, method, &meta);
        if (s == HS_OK) {
            FUZZ_CHECK(meta.content_length >= -1, "Content-Length %lld", (long long)meta.content_length);
            if (res.status < 200 && res.status != 101)
                FUZZ_CHECK(meta.framing == HS_FRAMING_NONE, "1xx with a body");
            if (res.status == 204 || res.status == 304 || method == HS_METHOD_HEAD)
                FUZZ_CHECK(meta.framing == HS_FRAMING_NONE || res.status == 101, "a body where none may be");
            if (meta.framing == HS_FRAMING_CHUNKED)
                FUZZ_CHECK(meta.content_length == -1 && res.minor_version == 1, "chunked with a length or in 1.0");
            if (meta.framing == HS_FRAMING_LENGTH)
                FUZZ_CHECK(meta.content_length >= 0, "length framing without a length");
            if (meta.framing == HS_FRAMING_CLOSE || meta.framing == HS_FRAMING_TUNNEL)
                FUZZ_CHECK(!meta.keep_alive, "a close-delimited response kept alive");
            if (meta.framing == HS_FRAMING_CHUNKED)
                body(data + n, size - n);
        } else {
            FUZZ_CHECK(s == HS_ERROR && (res.error == HS_UP_BAD_FRAMING || res.error == HS_UP_UNEXPECTED_UPGRADE),
                       "semantics: %d cause %d", s, res.error);
        }
    }
    free(buf);
    return 0;
}
