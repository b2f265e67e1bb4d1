/* Unit tests for the strict response-head parser (hs_parse_response, src/http/parse.c), the
 * trailer parser (hs_parse_trailers) and response framing (hs_parse_response_semantics,
 * src/http/semantics.c). RFC 9112 §4 (status line), §5 (fields), §6.3 (body length), §9.3.
 *
 * Vectors: our own, modelled on the cases of llhttp's published response fixtures
 * (test/response/ in its repository) that apply to a strict parser — its "lenient" variants and its
 * non-HTTP protocols (RTSP, ICE) are errors here by design; each case below says which
 * fixture it follows where it follows one.
 *
 * Every input ends at a PROT_NONE guard page: a read past the end crashes the test. */
#define _GNU_SOURCE
#include "hs/parse.h"
#include "lib/guard.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>


static hs_header_t hdrs[64];
static hs_parsed_res_t res;
static const hs_parse_limits_t lim = {.max_uri = 0, .max_field = 1024, .max_head = 4096, .max_headers = 32};

static int parse_n(const char *s, size_t n, const hs_parse_limits_t *l)
{
    const char *b = guarded(s, n);
    memset(&res, 0, sizeof(res));
    res.headers = hdrs;
    return hs_parse_response(b, n, &res, l);
}
static int parse(const char *s)
{
    return parse_n(s, strlen(s), &lim);
}

static bool iov_is(hs_iovec_t v, const char *s)
{
    return v.base != NULL && v.len == strlen(s) && memcmp(v.base, s, v.len) == 0;
}

/* A valid head: every strict prefix is HS_AGAIN, the whole is its length. */
static void expect_ok(const char *s, int status, const char *name)
{
    size_t n = strlen(s);
    size_t bad = (size_t)-1;
    for (size_t i = 0; i < n && bad == (size_t)-1; i++)
        if (parse_n(s, i, &lim) != HS_AGAIN)
            bad = i;
    if (!ok(bad == (size_t)-1, "%s: every prefix -> HS_AGAIN", name))
        printf("#   prefix of %zu bytes: error %d (%s)\n", bad, res.error, res.error_detail ? res.error_detail : "-");
    int r = parse_n(s, n, &lim);
    is_int(r, (int)n, "%s: parses to its length", name);
    is_int(res.status, status, "%s: status %d", name, status);
}

static void expect_err_n(const char *s, size_t n, int cause, const char *name)
{
    int r = parse_n(s, n, &lim);
    if (!ok(r == HS_ERROR && res.error == cause && res.error_detail, "%s -> %s", name, hs_up_cause(cause)->id))
        printf("#   returned %d, cause %d (%s)\n", r, res.error, res.error_detail ? res.error_detail : "-");
}
static void expect_err(const char *s, int cause, const char *name)
{
    expect_err_n(s, strlen(s), cause, name);
}

/* ---- status line ----------------------------------------------------------------------------- */
static void test_status_line(void)
{
    expect_ok("HTTP/1.1 200 OK\r\n\r\n", 200, "minimal");
    ok(res.minor_version == 1 && iov_is(res.reason, "OK") && res.num_headers == 0, "minimal: fields");
    expect_ok("HTTP/1.0 404 Not Found\r\n\r\n", 404, "HTTP/1.0");
    is_int(res.minor_version, 0, "HTTP/1.0: minor 0");
    expect_ok("HTTP/1.1 200 \r\n\r\n", 200, "empty reason after the space (llhttp sample)");
    ok(res.reason.len == 0, "empty reason");
    expect_ok("HTTP/1.1 301\r\n\r\n", 301, "no reason and no space (llhttp sample: accepted, cannot be misread)");
    expect_ok("HTTP/1.1 200  OK\r\n\r\n", 200, "two spaces before the reason (llhttp invalid.md: accepted)");
    ok(iov_is(res.reason, " OK"), "the reason keeps its leading space");
    expect_ok("HTTP/1.1 301 Moved\tPermanently \xe9t\xe9\r\n\r\n", 301, "reason: HTAB, SP, obs-text");
    expect_ok("HTTP/1.9 200 OK\r\n\r\n", 200, "HTTP/1.9 read as 1.1 (RFC 9110 §2.5)");
    is_int(res.minor_version, 1, "HTTP/1.9: minor 1");
    expect_ok("HTTP/1.1 100 Continue\r\n\r\n", 100, "lowest status");
    expect_ok("HTTP/1.1 599 Network Connect Timeout\r\n\r\n", 599, "highest status");

    /* not HTTP/1.x: fails as soon as the first wrong byte is seen */
    expect_err("HTP/1.1 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "HTP/1.1 (llhttp: incomplete protocol)");
    expect_err("HTTPER/1.1 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "HTTPER/1.1 (llhttp sample)");
    expect_err("RTSP/1.1 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "RTSP (llhttp accepts; not HTTP)");
    expect_err("ICE/1.1 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "ICE (llhttp accepts; not HTTP)");
    expect_err("ICY 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "ICY (SHOUTcast)");
    expect_err("I", HS_UP_MALFORMED_HEAD, "one byte of ICY: decided at once");
    expect_err("<html>hello</html>", HS_UP_MALFORMED_HEAD, "an HTTP/0.9 body, never relayed");
    expect_err("http/1.1 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "lowercase HTTP-name (RFC 9112 §2.3: case-sensitive)");
    expect_err("\r\nHTTP/1.1 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "CRLF before the status line");
    expect_err("\rHTTP/1.1\t200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "CR before the response (llhttp invalid.md)");
    expect_err(" HTTP/1.1 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "leading space");
    expect_err("HTTP/01.1 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "HTTP/01.1 (llhttp: extra major digit)");
    expect_err("HTTP/11.1 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "HTTP/11.1 (llhttp: extra major digit #2)");
    expect_err("HTTP/1.01 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "HTTP/1.01 (llhttp: extra minor digit)");
    expect_err("HTTP/1.1\t200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "tab after the version (llhttp)");
    expect_err("HTTP/5.6 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "HTTP/5.6 (llhttp: invalid version)");
    expect_err("HTTP/2.0 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "HTTP/2.0");
    expect_err("HTTP/0.9 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "HTTP/0.9 in a status line");
    expect_err("HTTP/1 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "no minor version");
    expect_err("HTTP/1.x 200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "minor version not a digit");
    expect_err("HTTP/1.1  200 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "two spaces before the status (llhttp)");
    expect_err("HTTP/1.1 2 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "one-digit status (llhttp)");
    expect_err("HTTP/1.1 20 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "two-digit status");
    expect_err("HTTP/1.1 2000 OK\r\n\r\n", HS_UP_BAD_STATUS, "four-digit status");
    expect_err("HTTP/1.1 +20 OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "signed status");
    expect_err("HTTP/1.1 099 OK\r\n\r\n", HS_UP_BAD_STATUS, "status 099");
    expect_err("HTTP/1.1 000 OK\r\n\r\n", HS_UP_BAD_STATUS, "status 000");
    expect_err("HTTP/1.1 600 Nope\r\n\r\n", HS_UP_BAD_STATUS, "status 600");
    expect_err("HTTP/1.1 999 Nope\r\n\r\n", HS_UP_BAD_STATUS, "status 999");
    expect_err("HTTP/1.1 200OK\r\n\r\n", HS_UP_MALFORMED_HEAD, "no space before the reason");
    expect_err("HTTP/1.1 200 OK\n\r\n", HS_UP_MALFORMED_HEAD, "status line ends in a bare LF (llhttp: only LFs)");
    expect_err("HTTP/1.1 200\n\r\n", HS_UP_MALFORMED_HEAD, "status code then a bare LF");
    expect_err("HTTP/1.1 200 OK\rX: y\r\n\r\n", HS_UP_MALFORMED_HEAD, "bare CR in the status line");
    expect_err_n("HTTP/1.1 200 O\0K\r\n\r\n", 19, HS_UP_MALFORMED_HEAD, "NUL in the reason");
    expect_err("HTTP/1.1 200 O\x7fK\r\n\r\n", HS_UP_MALFORMED_HEAD, "DEL in the reason");
    expect_err("HTTP/1.1 200 O\x01K\r\n\r\n", HS_UP_MALFORMED_HEAD, "a control byte in the reason");
}

/* ---- header fields ----------------------------------------------------------------------------- */
static void test_fields(void)
{
    expect_ok("HTTP/1.1 200 OK\r\nHeader1: Value1\r\nHeader2:\t Value2\r\nContent-Length: 0\r\n\r\n", 200,
              "three fields, tab and space before a value (llhttp sample)");
    ok(res.num_headers == 3 && iov_is(res.headers[1].value, "Value2") &&
           res.headers[2].token == HS_HDR_CONTENT_LENGTH,
       "three fields: values trimmed, tokens set");
    expect_ok("HTTP/1.1 301 Moved\r\nX-$Proto-Version: 1.6\r\nContent-Length:  219  \r\n\r\n", 301,
              "'$' in a name, OWS around a value (llhttp: Google 301)");
    ok(iov_is(res.headers[1].value, "219"), "OWS trimmed from Content-Length");
    expect_ok("HTTP/1.1 200 OK\r\nDCLK_imp: v7;x;1\r\n.et-Cookie: a=b\r\n\r\n", 200,
              "'_' and '.' in names (llhttp: underscore in header key)");
    expect_ok("HTTP/1.0 301 Moved\r\nPragma: \r\nLocation: http://example.test/\r\n\r\n", 301,
              "an empty value is its own field (llhttp: bonjourmadame)");
    ok(res.num_headers == 2 && res.headers[0].value.len == 0 && iov_is(res.headers[1].value, "http://example.test/"),
       "empty value not merged with the next field");
    expect_ok("HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\r\n\r\n", 200, "obs-text in a value");

    expect_err("HTTP/1.1 200 OK\r\n Host: foo\r\n\r\n", HS_UP_MALFORMED_HEAD, "space after the status line (llhttp)");
    expect_err("HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n", HS_UP_MALFORMED_HEAD, "obs-fold");
    expect_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n  abc\r\n\r\n", HS_UP_MALFORMED_HEAD,
               "obs-fold after chunked (llhttp: invalid OBS fold, lenient there)");
    expect_err("HTTP/1.1 200 OK\r\nFoo: 1\rBar: 2\r\n\r\n", HS_UP_MALFORMED_HEAD,
               "fields separated by CR (llhttp invalid.md)");
    expect_err("HTTP/1.1 200 OK\r\nFoo: 1\nBar: 2\r\n\r\n", HS_UP_MALFORMED_HEAD, "a field ends in a bare LF");
    expect_err("HTTP/1.1 200 OK\r\nFoo: 1\r\n\n", HS_UP_MALFORMED_HEAD, "the head ends in a bare LF");
    expect_err("HTTP/1.1 200 OK\r\nFoo: 1\r\n\rX", HS_UP_MALFORMED_HEAD, "bare CR at the end of the head");
    expect_err("HTTP/1.1 200 OK\r\nFoo : 1\r\n\r\n", HS_UP_MALFORMED_HEAD, "space before the colon");
    expect_err("HTTP/1.1 200 OK\r\n: 1\r\n\r\n", HS_UP_MALFORMED_HEAD, "empty name");
    expect_err("HTTP/1.1 200 OK\r\nF(o): 1\r\n\r\n", HS_UP_MALFORMED_HEAD, "a delimiter in a name");
    expect_err("HTTP/1.1 200 OK\r\nFoo\r\n\r\n", HS_UP_MALFORMED_HEAD, "a line without a colon");
    expect_err_n("HTTP/1.1 200 OK\r\nFoo: a\0b\r\n\r\n", 28, HS_UP_MALFORMED_HEAD, "NUL in a value");
    expect_err("HTTP/1.1 200 OK\r\nFoo: a\rb\r\n\r\n", HS_UP_MALFORMED_HEAD, "bare CR in a value");
    expect_err("HTTP/1.1 200 OK\r\nFoo: a\x7f\r\n\r\n", HS_UP_MALFORMED_HEAD, "DEL in a value");
}

static void test_limits(void)
{
    char big[6000];
    int n = snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: ");
    memset(big + n, 'a', 1100);
    memcpy(big + n + 1100, "\r\n\r\n", 5);
    expect_err(big, HS_UP_FIELD_TOO_LARGE, "a field over max_field");
    /* still incomplete, but already over the limit: decided without waiting */
    expect_err_n(big, (size_t)n + 1050, HS_UP_FIELD_TOO_LARGE, "an unfinished field over max_field");

    hs_buf_t b = {0};
    HS_BUF_LIT(&b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 33; i++)
        hs_buf_printf(&b, "X-%d: v\r\n", i);
    HS_BUF_LIT(&b, "\r\n");
    expect_err_n(b.base, b.len, HS_UP_HEAD_TOO_LARGE, "more fields than max_headers");
    hs_buf_free(&b);

    HS_BUF_LIT(&b, "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < 30; i++)
        hs_buf_printf(&b, "X-%d: %0200d\r\n", i, i);
    HS_BUF_LIT(&b, "\r\n");
    expect_err_n(b.base, b.len, HS_UP_HEAD_TOO_LARGE, "a head over max_head");
    expect_err_n(b.base, 4500, HS_UP_HEAD_TOO_LARGE, "an unfinished head over max_head");
    hs_buf_free(&b);

    char reason[5000] = "HTTP/1.1 200 ";
    memset(reason + 13, 'r', 4200);
    expect_err_n(reason, 4213, HS_UP_HEAD_TOO_LARGE, "an endless reason phrase");
}

/* ---- trailers ------------------------------------------------------------------------------- */
static void test_trailers(void)
{
    hs_header_t t[4];
    size_t num = 0;
    int cause = 0;
    const char *detail = NULL;
    const hs_parse_limits_t tl = {.max_field = 64, .max_head = 128, .max_headers = 4};
    const char *s = "Expires: never\r\nX-Sum: 42\r\n\r\nNEXT";
    const char *g = guarded(s, strlen(s));
    is_int(hs_parse_trailers(g, strlen(s), t, &num, &tl, &cause, &detail), 29, "trailers: two fields then CRLF");
    ok(num == 2 && iov_is(t[1].value, "42"), "trailers: the fields");
    g = guarded("\r\n", 2);
    is_int(hs_parse_trailers(g, 2, t, &num, &tl, &cause, &detail), 2, "trailers: none");
    g = guarded("X: 1\r\n", 6);
    is_int(hs_parse_trailers(g, 6, t, &num, &tl, &cause, &detail), HS_AGAIN, "trailers: incomplete");
    g = guarded("X: 1\n\r\n", 7);
    ok(hs_parse_trailers(g, 7, t, &num, &tl, &cause, &detail) == HS_ERROR && cause == HS_UP_BAD_CHUNK,
       "trailers: bare LF -> bad_chunk");
    char big[200];
    memset(big, 'x', sizeof(big));
    memcpy(big, "X: ", 3);
    g = guarded(big, sizeof(big));
    ok(hs_parse_trailers(g, sizeof(big), t, &num, &tl, &cause, &detail) == HS_ERROR &&
           cause == HS_UP_TRAILERS_TOO_LARGE,
       "trailers: over the limit -> trailers_too_large");
    const char *many = "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n";
    g = guarded(many, strlen(many));
    ok(hs_parse_trailers(g, strlen(many), t, &num, &tl, &cause, &detail) == HS_ERROR &&
           cause == HS_UP_TRAILERS_TOO_LARGE,
       "trailers: too many fields -> trailers_too_large");

    /* the chunked decoder hands the trailer section over when asked to */
    char body[] = "5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n";
    hs_chunked_t d = {.stop_at_trailers = true};
    hs_chunked_limits_t cl = {.max_body = 1000, .max_ext = 100, .max_trailer = 100};
    size_t len = strlen(body), consumed = 0;
    int status = 0;
    int r = hs_chunked_decode(&d, body, &len, &consumed, &cl, &status, &detail);
    ok(r == HS_DONE && len == 5 && memcmp(body, "hello", 5) == 0 && consumed == 13,
       "chunked with stop_at_trailers: HS_DONE after the last-chunk line");
    is_int(hs_parse_trailers(body + consumed, strlen(body + consumed) + 0, t, &num, &tl, &cause, &detail), 12,
           "the rest is the trailer section");
    ok(num == 1 && iov_is(t[0].name, "X-Sum"), "trailer X-Sum");
}

/* ---- semantics ------------------------------------------------------------------------------ */
static int sem(const char *s, hs_method_t m, hs_res_meta_t *meta)
{
    int r = parse(s);
    if (r <= 0)
        return -100;
    return hs_parse_response_semantics(&res, m, meta);
}

static void expect_framing(const char *s, hs_method_t m, hs_framing_t f, int64_t cl, bool ka, const char *name)
{
    hs_res_meta_t meta;
    int r = sem(s, m, &meta);
    if (!ok(r == HS_OK && meta.framing == f && meta.content_length == cl && meta.keep_alive == ka, "%s", name))
        printf("#   r %d (%s) framing %d cl %lld keep-alive %d\n", r, res.error_detail ? res.error_detail : "-",
               meta.framing, (long long)meta.content_length, meta.keep_alive);
}

static void expect_sem_err(const char *s, hs_method_t m, int cause, const char *name)
{
    hs_res_meta_t meta;
    int r = sem(s, m, &meta);
    if (!ok(r == HS_ERROR && res.error == cause && res.error_detail, "%s -> %s", name, hs_up_cause(cause)->id))
        printf("#   r %d cause %d\n", r, res.error);
}

static void test_semantics(void)
{
    const hs_method_t GET = HS_METHOD_GET;
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", GET, HS_FRAMING_LENGTH, 5, true, "CL 5");
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", GET, HS_FRAMING_LENGTH, 0, true, "CL 0");
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length:\t42\t\r\n\r\n", GET, HS_FRAMING_LENGTH, 42, true,
                   "tabs around Content-Length (llhttp content-length.md)");
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length-X: 0\r\nTransfer-Encoding: chunked\r\n\r\n", GET,
                   HS_FRAMING_CHUNKED, -1, true, "Content-Length-X is not Content-Length (llhttp)");
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", GET, HS_FRAMING_CHUNKED, -1, true, "chunked");
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", GET, HS_FRAMING_CHUNKED, -1, true,
                   "gzip, chunked: chunked");
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, deflate\r\n\r\n", GET, HS_FRAMING_CLOSE, -1, false,
                   "chunked, deflate: until close (llhttp; RFC 9112 §6.3 (4))");
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedchunked\r\n\r\n", GET, HS_FRAMING_CLOSE, -1, false,
                   "chunkedchunked is not chunked (llhttp)");
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", GET, HS_FRAMING_CLOSE, -1, false,
                   "gzip alone: until close");
    expect_framing("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", GET, HS_FRAMING_CLOSE, -1, false,
                   "no length, Connection: close (llhttp: response without Content-Length)");
    expect_framing("HTTP/1.1 200 OK\r\n\r\n", GET, HS_FRAMING_CLOSE, -1, false, "no length at all: until close");
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 123\r\n\r\n", HS_METHOD_HEAD, HS_FRAMING_NONE, 123, true,
                   "HEAD: no body whatever Content-Length says (llhttp: skip body)");
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HS_METHOD_HEAD, HS_FRAMING_NONE, -1, true,
                   "HEAD with chunked: no body");
    expect_framing("HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", GET, HS_FRAMING_NONE, 7, true, "204: no body");
    expect_framing("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", GET, HS_FRAMING_NONE, 9, true,
                   "304: no body");
    expect_framing("HTTP/1.1 100 Continue\r\n\r\n", GET, HS_FRAMING_NONE, -1, true, "100: no body");
    expect_framing("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", GET, HS_FRAMING_NONE, -1, true,
                   "103: no body");
    expect_framing("HTTP/1.1 200 Connection established\r\n\r\n", HS_METHOD_CONNECT, HS_FRAMING_TUNNEL, -1, false,
                   "2xx to CONNECT: a tunnel");
    expect_framing("HTTP/1.1 407 Auth\r\nContent-Length: 0\r\n\r\n", HS_METHOD_CONNECT, HS_FRAMING_LENGTH, 0, true,
                   "4xx to CONNECT: a normal body");
    expect_framing("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", GET,
                   HS_FRAMING_TUNNEL, -1, false, "101 with Upgrade: a tunnel");
    hs_res_meta_t meta;
    sem("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", GET, &meta);
    ok(meta.upgrade, "101: upgrade flagged");

    /* persistence, RFC 9112 §9.3 */
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", GET, HS_FRAMING_LENGTH, 1,
                   false, "1.1 with close");
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive, Close\r\n\r\n", GET,
                   HS_FRAMING_LENGTH, 1, false, "close among other options");
    expect_framing("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", GET, HS_FRAMING_LENGTH, 1, false, "1.0: closes");
    expect_framing("HTTP/1.0 301 Moved\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n", GET, HS_FRAMING_LENGTH,
                   0, true, "1.0 with keep-alive (llhttp: bonjourmadame)");

    /* Keep-Alive parameters */
    sem("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: timeout=5, max=100\r\n\r\n", GET, &meta);
    ok(meta.keep_alive_timeout == 5 && meta.keep_alive_max == 100, "Keep-Alive: timeout=5, max=100");
    sem("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nkeep-alive: TIMEOUT=1\r\n\r\n", GET, &meta);
    ok(meta.keep_alive_timeout == 1 && meta.keep_alive_max == -1, "keep-alive: TIMEOUT=1 (case-insensitive)");
    sem("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: timeout=-1, max=x\r\n\r\n", GET, &meta);
    ok(meta.keep_alive_timeout == -1 && meta.keep_alive_max == -1, "malformed Keep-Alive parameters are ignored");
    sem("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: timeout = 5\r\n\r\n", GET, &meta);
    ok(meta.keep_alive_timeout == -1, "Keep-Alive with spaces around '=' is ignored");
    sem("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n_eep-Alive: timeout=45\r\n\r\n", GET, &meta);
    ok(meta.keep_alive_timeout == -1, "_eep-Alive is not Keep-Alive (llhttp: spaces in header value)");

    /* framing errors */
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n", GET, HS_UP_BAD_FRAMING, "Content-Length: abc");
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", GET, HS_UP_BAD_FRAMING, "Content-Length: -1");
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", GET, HS_UP_BAD_FRAMING, "Content-Length: +5");
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", GET, HS_UP_BAD_FRAMING, "Content-Length: 5, 5");
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", GET, HS_UP_BAD_FRAMING, "hex Content-Length");
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", GET, HS_UP_BAD_FRAMING, "Content-Length: 1 2");
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", GET, HS_UP_BAD_FRAMING, "empty Content-Length");
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", GET, HS_UP_BAD_FRAMING,
                   "Content-Length overflowing");
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", GET, HS_UP_BAD_FRAMING,
                   "two identical Content-Length fields");
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", GET, HS_UP_BAD_FRAMING,
                   "two differing Content-Length fields");
    expect_sem_err("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", GET, HS_UP_BAD_FRAMING,
                   "Content-Length with Transfer-Encoding");
    expect_sem_err("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\nContent-Length: 5\r\n\r\n", GET, HS_UP_BAD_FRAMING,
                   "empty Transfer-Encoding with Content-Length (llhttp)");
    expect_sem_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n", GET, HS_UP_BAD_FRAMING,
                   "Transfer-Encoding with no coding");
    expect_sem_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", GET,
                   HS_UP_BAD_FRAMING, "two Transfer-Encoding fields (llhttp reads until close; we refuse)");
    expect_sem_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", GET, HS_UP_BAD_FRAMING,
                   "chunked twice");
    expect_sem_err("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", GET, HS_UP_BAD_FRAMING,
                   "Transfer-Encoding in HTTP/1.0");
    expect_sem_err("HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n", GET, HS_UP_BAD_FRAMING,
                   "a bad Content-Length is refused even without a body");
    expect_sem_err("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n", GET, HS_UP_UNEXPECTED_UPGRADE,
                   "101 without Upgrade");
}

int main(void)
{
    test_status_line();
    test_fields();
    test_limits();
    test_trailers();
    test_semantics();
    return tap_done();
}
