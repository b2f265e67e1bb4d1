/* Unit tests for hs_parse_request (src/http/parse.c) and hs_parse_semantics
 * (src/http/semantics.c). RFC 9112 (message syntax), RFC 9110 (semantics).
 *
 * Every input is copied so that it ends exactly at a PROT_NONE guard page: a read of even one
 * byte past the end of the input crashes the test instead of passing silently. */
#define _GNU_SOURCE
#include "hs/parse.h"
#include "lib/guard.h"
#include "tap.h"

#include <stdlib.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- guard-page placement ------------------------------------------------------------------ */

/* The guard is armed: reading the byte after a guarded input kills a child with SIGSEGV. */
static void test_guard_armed(void)
{
    const char *g = guarded("abc", 3);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* die quietly, also under AddressSanitizer */
        signal(SIGBUS, SIG_DFL);
        volatile const char *v = g;
        _exit(v[3] == 0 ? 0 : 0); /* must not get here */
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ok(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0), "guard page: over-read crashes");
}

/* ---- helpers ------------------------------------------------------------------------------- */
static hs_header_t hdrs[256];
static hs_parsed_req_t req;
static const hs_parse_limits_t deflim = {.max_uri = 8192, .max_field = 8192, .max_head = 32768, .max_headers = 100};

static int parse_n(const char *s, size_t n, const hs_parse_limits_t *lim)
{
    const char *b = guarded(s, n);
    memset(&req, 0, sizeof(req));
    req.headers = hdrs;
    return hs_parse_request(b, n, &req, lim);
}
static int parse(const char *s)
{
    return parse_n(s, strlen(s), &deflim);
}

static bool iov_is(hs_iovec_t v, const char *s)
{
    return v.base != NULL && v.len == strlen(s) && memcmp(v.base, s, v.len) == 0;
}

/* The input must be rejected with `status`. */
static void expect_err_n(const char *s, size_t n, const hs_parse_limits_t *lim, int status, const char *name)
{
    int r = parse_n(s, n, lim);
    if (!ok(r == HS_ERROR && req.error == status, "%s -> %d", name, status))
        printf("#   returned %d, error %d (%s)\n", r, req.error, req.error_detail ? req.error_detail : "-");
    else if (!req.error_detail)
        ok(0, "%s: error_detail set", name);
}
static void expect_err(const char *s, int status, const char *name)
{
    expect_err_n(s, strlen(s), &deflim, status, name);
}

/* Every strict prefix of a valid head is HS_AGAIN (and never reads past its end). */
static void expect_prefixes_again(const char *s, const hs_parse_limits_t *lim, const char *name)
{
    size_t n = strlen(s);
    size_t bad = (size_t)-1;
    int badr = 0;
    for (size_t i = 0; i < n; i++) {
        int r = parse_n(s, i, lim);
        if (r != HS_AGAIN && bad == (size_t)-1) {
            bad = i;
            badr = r;
        }
    }
    if (!ok(bad == (size_t)-1, "%s: all %zu prefixes -> HS_AGAIN", name, n))
        printf("#   prefix of %zu bytes returned %d (error %d)\n", bad, badr, req.error);
    int r = parse_n(s, n, lim);
    is_int(r, (int)n, "%s: whole head -> its length", name);
}

/* ---- hs_parse_request -------------------------------------------------------------------- */
static void test_valid(void)
{
    const char *s = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    int r = parse(s);
    is_int(r, strlen(s), "simple GET: consumed");
    ok(iov_is(req.method, "GET"), "GET: method");
    is_int(req.method_id, HS_METHOD_GET, "GET: method_id");
    ok(iov_is(req.target, "/"), "GET: target");
    ok(iov_is(req.path, "/"), "GET: path");
    ok(req.query.base == NULL, "GET: no query");
    ok(req.authority.base == NULL, "GET: no authority");
    is_int(req.form, HS_TARGET_ORIGIN, "GET: origin-form");
    is_int(req.minor_version, 1, "GET: HTTP/1.1");
    is_int(req.num_headers, 1, "GET: one header");
    ok(iov_is(hdrs[0].name, "Host") && iov_is(hdrs[0].value, "example.com"), "GET: Host field");
    is_int(hdrs[0].token, HS_HDR_HOST, "GET: Host token");

    s = "HEAD /a/b?x=1&y=2 HTTP/1.0\r\n\r\n";
    r = parse(s);
    is_int(r, strlen(s), "HEAD 1.0 without fields");
    is_int(req.method_id, HS_METHOD_HEAD, "HEAD: method_id");
    ok(iov_is(req.path, "/a/b"), "HEAD: path without query");
    ok(iov_is(req.query, "x=1&y=2"), "HEAD: query");
    ok(iov_is(req.target, "/a/b?x=1&y=2"), "HEAD: raw target");
    is_int(req.minor_version, 0, "HEAD: HTTP/1.0");
    is_int(req.num_headers, 0, "HEAD: no fields");

    /* The body is not part of the head: the return value stops at the empty line. */
    const char post[] = "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    r = parse(post);
    is_int(r, strlen(post) - 5, "POST: head length excludes the body");
    is_int(req.method_id, HS_METHOD_POST, "POST: method_id");
    is_int(req.num_headers, 2, "POST: two fields");
    is_int(hdrs[1].token, HS_HDR_CONTENT_LENGTH, "POST: Content-Length token");

    /* empty query */
    r = parse("GET /p? HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && iov_is(req.path, "/p") && req.query.base && req.query.len == 0, "empty query present, length 0");

    /* RFC 9112 §2.2: empty lines before the request-line are ignored */
    s = "\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    r = parse(s);
    is_int(r, strlen(s), "leading CRLFs skipped");
    ok(iov_is(req.method, "GET") && iov_is(req.path, "/x"), "leading CRLFs: request line parsed");
    s = "\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    is_int(parse(s), strlen(s), "one leading CRLF skipped");
    expect_err("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "leading bare LF");
    expect_err("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "leading bare CR");

    /* HTTP/1.x with x > 1 is handled as 1.1 (RFC 9110 §2.5) */
    r = parse("GET / HTTP/1.2\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.minor_version == 1, "HTTP/1.2 -> treated as 1.1");
    r = parse("GET / HTTP/1.0\r\n\r\n");
    ok(r > 0 && req.minor_version == 0, "HTTP/1.0");

    /* several fields, order and case preserved */
    s = "GET / HTTP/1.1\r\nhOsT: a\r\nX-One: 1\r\nx-two: 2\r\nAccept: */*\r\n\r\n";
    r = parse(s);
    is_int(r, strlen(s), "four fields");
    ok(req.num_headers == 4 && iov_is(hdrs[0].name, "hOsT") && iov_is(hdrs[2].name, "x-two") &&
           iov_is(hdrs[3].value, "*/*"),
       "fields in order, name case preserved");
    is_int(hdrs[0].token, HS_HDR_HOST, "mixed-case Host still gets its token");
    is_int(hdrs[1].token, HS_HDR_OTHER, "X-One -> HS_HDR_OTHER");
    is_int(hdrs[3].token, HS_HDR_ACCEPT, "Accept token");
}

static void test_versions(void)
{
    expect_err("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "HTTP/2.0");
    expect_err("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505, "HTTP/0.9");
    expect_err("GET / HTTP/3.1\r\nHost: h\r\n\r\n", 505, "HTTP/3.1");
    expect_err("GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400, "HTTP/1.x");
    expect_err("GET / HTTP/11.1\r\nHost: h\r\n\r\n", 400, "HTTP/11.1");
    expect_err("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400, "HTTP/1.10");
    expect_err("GET / http/1.1\r\nHost: h\r\n\r\n", 400, "lowercase http/1.1");
    expect_err("GET / Http/1.1\r\nHost: h\r\n\r\n", 400, "mixed-case Http/1.1");
    expect_err("GET / HTTP/1\r\nHost: h\r\n\r\n", 400, "HTTP/1");
    expect_err("GET / HTTP1.1\r\nHost: h\r\n\r\n", 400, "HTTP1.1");
    expect_err("GET / HTTPS/1.1\r\nHost: h\r\n\r\n", 400, "HTTPS/1.1");
    expect_err("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "space after the version");
    expect_err("GET /\r\nHost: h\r\n\r\n", 400, "no version (HTTP/0.9 style)");
    expect_err("GET / HTTP/1.1x\r\nHost: h\r\n\r\n", 400, "junk after version");
    /* errors visible before the head is complete are reported early */
    expect_err("GET / XTTP", 400, "incomplete: wrong protocol name is already an error");
    is_int(parse("GET / HTTP/1."), HS_AGAIN, "incomplete version -> AGAIN");
}

static void test_request_line_ws(void)
{
    expect_err("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "two spaces after method");
    expect_err("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400, "two spaces before version");
    expect_err("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "tab after method");
    expect_err("GET /\tHTTP/1.1\r\nHost: h\r\n\r\n", 400, "tab before version");
    expect_err(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "leading space");
}

static void test_line_endings(void)
{
    expect_err("GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "bare LF ends the request line");
    expect_err("GET / HTTP/1.1\rHost: h\r\n\r\n", 400, "bare CR ends the request line");
    expect_err("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400, "bare LF ends a field line");
    expect_err("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400, "bare CR ends a field line");
    expect_err("GET / HTTP/1.1\r\nHost: h\r\n\n", 400, "bare LF as the empty line");
    expect_err("GET / HTTP/1.1\r\nHost: h\r\n\rX", 400, "bare CR as the empty line");
    expect_err("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "bare CR inside a value");
    expect_err("GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n", 400, "bare LF inside a value");
    expect_err("GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n", 400, "bare CR inside a name");
    expect_err("GET / HTTP/1.1\r\n\n", 400, "bare LF right after the request line");
    expect_err("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare CR in the target");
    expect_err("GET /a\nb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "bare LF in the target");
    expect_err("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400, "CR CR LF after the version");
}

static void test_fields(void)
{
    /* obs-fold, RFC 9112 §5.2 */
    expect_err("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400, "obs-fold with SP");
    expect_err("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400, "obs-fold with HTAB");
    expect_err("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400, "whitespace before the first field");
    /* whitespace before the colon, RFC 9112 §5.1 */
    expect_err("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "space before colon");
    expect_err("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400, "tab before colon");
    expect_err("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400, "empty field name");
    expect_err("GET / HTTP/1.1\r\nHost: h\r\nNo-Colon\r\n\r\n", 400, "field line without colon");
    expect_err("GET / HTTP/1.1\r\nHost: h\r\nX(y): v\r\n\r\n", 400, "non-token char in name");
    expect_err("GET / HTTP/1.1\r\nHost: h\r\nX y: v\r\n\r\n", 400, "space inside name");
    expect_err("GET / HTTP/1.1\r\nHost: h\r\n\"X\": v\r\n\r\n", 400, "quote in name");

    /* control bytes in values, RFC 9110 §5.5 */
    static const unsigned char ctls[] = {0x00, 0x01, 0x08, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f};
    for (size_t i = 0; i < sizeof(ctls); i++) {
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\nX: a?b\r\n\r\n");
        char *q = memchr(buf, '?', (size_t)n);
        *q = (char)ctls[i];
        char name[64];
        snprintf(name, sizeof(name), "byte 0x%02x in a value", ctls[i]);
        expect_err_n(buf, (size_t)n, &deflim, 400, name);
        /* in a name too */
        n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\nX?: ab\r\n\r\n");
        q = memchr(buf, '?', (size_t)n);
        *q = (char)ctls[i];
        snprintf(name, sizeof(name), "byte 0x%02x in a name", ctls[i]);
        expect_err_n(buf, (size_t)n, &deflim, 400, name);
    }
    /* NUL at the very start of a value, and as the last value byte */
    {
        const char s1[] = "GET / HTTP/1.1\r\nHost: h\r\nX: \0abc\r\n\r\n";
        expect_err_n(s1, sizeof(s1) - 1, &deflim, 400, "NUL first in value");
        const char s2[] = "GET / HTTP/1.1\r\nHost: h\r\nX: abc\0\r\n\r\n";
        expect_err_n(s2, sizeof(s2) - 1, &deflim, 400, "NUL last in value");
    }

    /* obs-text is allowed in values (RFC 9110 §5.5) */
    {
        const char *s = "GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9 \x80\xff\r\n\r\n";
        int r = parse(s);
        is_int(r, strlen(s), "obs-text 0x80-0xff accepted in a value");
        ok(req.num_headers == 2 && iov_is(hdrs[1].value, "caf\xc3\xa9 \x80\xff"), "obs-text value kept intact");
        expect_err("GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: v\r\n\r\n", 400, "obs-text in a name");
    }
    /* HTAB inside a value is allowed */
    {
        int r = parse("GET / HTTP/1.1\r\nHost: h\r\nX: a\tb\r\n\r\n");
        ok(r > 0 && iov_is(hdrs[1].value, "a\tb"), "HTAB inside a value kept");
    }

    /* OWS trimming */
    {
        int r = parse("GET / HTTP/1.1\r\nHost: h\r\nA:   a b  \t \r\nB:x\r\nC:\r\nD: \t \r\nE:\t\tv\t\r\n\r\n");
        ok(r > 0, "OWS request parsed");
        ok(iov_is(hdrs[1].value, "a b"), "leading and trailing OWS trimmed, inner space kept");
        ok(iov_is(hdrs[2].value, "x"), "no OWS at all");
        ok(hdrs[3].value.len == 0, "empty value");
        ok(hdrs[4].value.len == 0, "value of only OWS is empty");
        ok(iov_is(hdrs[5].value, "v"), "tabs trimmed");
        ok(iov_is(hdrs[5].name, "E"), "name excludes the colon");
    }
}

static void test_target(void)
{
    expect_err("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "non-ASCII byte in target");
    expect_err("GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "0x80 in target");
    expect_err("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "control byte in target");
    expect_err("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400, "DEL in target");
    {
        const char s[] = "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n";
        expect_err_n(s, sizeof(s) - 1, &deflim, 400, "NUL in target");
    }
    expect_err("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400, "fragment in target");
    expect_err("GET /a?b#c HTTP/1.1\r\nHost: h\r\n\r\n", 400, "fragment after query");
    expect_err("GET # HTTP/1.1\r\nHost: h\r\n\r\n", 400, "target is only #");
    expect_err("GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "relative target");
    expect_err("GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "authority-form without CONNECT");

    /* absolute-form, RFC 9112 §3.2.2 */
    int r = parse("GET http://example.com/a/b?q=1 HTTP/1.1\r\nHost: other\r\n\r\n");
    ok(r > 0, "absolute-form http accepted");
    is_int(req.form, HS_TARGET_ABSOLUTE, "absolute-form: form");
    ok(iov_is(req.authority, "example.com"), "absolute-form: authority");
    ok(iov_is(req.path, "/a/b"), "absolute-form: path");
    ok(iov_is(req.query, "q=1"), "absolute-form: query");
    ok(iov_is(req.target, "http://example.com/a/b?q=1"), "absolute-form: raw target");

    r = parse("GET https://example.org:8443/x HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.form == HS_TARGET_ABSOLUTE && iov_is(req.authority, "example.org:8443") && iov_is(req.path, "/x") &&
           req.query.base == NULL,
       "absolute-form https with port");
    r = parse("GET http://example.com HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && iov_is(req.authority, "example.com") && iov_is(req.path, "/"), "absolute-form, empty path -> \"/\"");
    r = parse("GET https://example.com?a=b HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && iov_is(req.authority, "example.com") && iov_is(req.path, "/") && iov_is(req.query, "a=b"),
       "absolute-form, empty path with query");
    r = parse("GET HTTP://Example.COM/ HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.form == HS_TARGET_ABSOLUTE && iov_is(req.authority, "Example.COM"), "scheme is case-insensitive");
    r = parse("GET http://[::1]:8080/p HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && iov_is(req.authority, "[::1]:8080") && iov_is(req.path, "/p"), "absolute-form IPv6 literal");
    expect_err("GET http:///path HTTP/1.1\r\nHost: h\r\n\r\n", 400, "absolute-form with empty authority");
    expect_err("GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", 400, "absolute-form with nothing after the scheme");
    expect_err("GET http://user@host/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "userinfo in absolute-form");
    expect_err("GET ftp://host/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "unknown scheme");
    expect_err("GET http://host#f HTTP/1.1\r\nHost: h\r\n\r\n", 400, "fragment after authority");
    expect_err("GET http://host/p#f HTTP/1.1\r\nHost: h\r\n\r\n", 400, "fragment in absolute-form path");
    expect_err("GET http://host?q#f HTTP/1.1\r\nHost: h\r\n\r\n", 400,
               "fragment after the query of an absolute-form target without a path");
    expect_err("GET https://host?# HTTP/1.1\r\nHost: h\r\n\r\n", 400, "empty fragment after empty query, no path");

    /* asterisk-form, RFC 9112 §3.2.4 */
    r = parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.form == HS_TARGET_ASTERISK && req.method_id == HS_METHOD_OPTIONS, "OPTIONS * accepted");
    expect_err("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "asterisk-form with GET");
    expect_err("POST * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "asterisk-form with POST");
    expect_err("CONNECT * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "asterisk-form with CONNECT");
    expect_err("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n", 400, "OPTIONS *x");

    /* authority-form, RFC 9112 §3.2.3 */
    r = parse("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    ok(r > 0 && req.form == HS_TARGET_AUTHORITY && iov_is(req.authority, "example.com:443"), "CONNECT authority-form");
    ok(req.method_id == HS_METHOD_CONNECT, "CONNECT method_id");

    /* 414, RFC 9112 §3: URI too long. The limit is the target length. */
    hs_parse_limits_t lim = deflim;
    lim.max_uri = 16;
    char buf[512];
    snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\nHost: h\r\n\r\n", "234567890123456"); /* 16 bytes */
    r = parse_n(buf, strlen(buf), &lim);
    is_int(r, strlen(buf), "target of exactly max_uri bytes accepted");
    snprintf(buf, sizeof(buf), "GET /%s HTTP/1.1\r\nHost: h\r\n\r\n", "2345678901234567"); /* 17 bytes */
    expect_err_n(buf, strlen(buf), &lim, 414, "target of max_uri+1 bytes");
    /* incomplete: the 414 must come before the head is complete */
    snprintf(buf, sizeof(buf), "GET /%s", "2345678901234567");
    expect_err_n(buf, strlen(buf), &lim, 414, "incomplete request line with an over-long target");
    snprintf(buf, sizeof(buf), "GET /%s", "234567890123456");
    is_int(parse_n(buf, strlen(buf), &lim), HS_AGAIN, "incomplete target of max_uri bytes -> AGAIN");
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "GET /", 5);
    expect_err_n(buf, 300, &lim, 414, "300 bytes of target, no end in sight");
}

static void test_methods(void)
{
    int r = parse("FOO / HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0, "unknown method token is not a parse error");
    is_int(req.method_id, HS_METHOD_UNKNOWN, "unknown method -> HS_METHOD_UNKNOWN");
    ok(iov_is(req.method, "FOO"), "unknown method kept as sent");
    r = parse("get / HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.method_id == HS_METHOD_UNKNOWN, "methods are case-sensitive: get is unknown");
    r = parse("M-POST / HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.method_id == HS_METHOD_MEXT && iov_is(req.method, "M-POST"), "M-POST -> HS_METHOD_MEXT");
    r = parse("M-GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.method_id == HS_METHOD_MEXT, "M-GET -> HS_METHOD_MEXT");
    r = parse("GETX / HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.method_id == HS_METHOD_UNKNOWN, "GETX is not GET");
    r = parse("GE / HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.method_id == HS_METHOD_UNKNOWN, "GE is not GET");
    r = parse("REBIND /c/ HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.method_id == HS_METHOD_REBIND, "REBIND is known (RFC 5842 §6), not 501");
    r = parse("UNBIND /c/ HTTP/1.1\r\nHost: h\r\n\r\n");
    ok(r > 0 && req.method_id == HS_METHOD_UNBIND, "UNBIND is known (RFC 5842 §5)");

    /* every known method round-trips through hs_method_name */
    for (int m = HS_METHOD_GET; m < HS_METHOD__COUNT; m++) {
        if (m == HS_METHOD_MEXT)
            continue;
        const char *name = hs_method_name((hs_method_t)m);
        char buf[128];
        snprintf(buf, sizeof(buf), "%s %s HTTP/1.1\r\nHost: h\r\n\r\n", name,
                 m == HS_METHOD_CONNECT   ? "h:1"
                 : m == HS_METHOD_OPTIONS ? "*"
                                          : "/");
        r = parse(buf);
        if (!ok(r > 0 && (int)req.method_id == m, "method %s -> id %d", name, m))
            printf("#   r=%d id=%d\n", r, req.method_id);
    }
    ok(strcmp(hs_method_name(HS_METHOD__COUNT), "") == 0, "hs_method_name out of range -> \"\"");

    /* RFC 9110 §9.1 allows any token; we cap at 32 and answer 501 beyond */
    char m32[33], m33[34];
    memset(m32, 'X', 32);
    m32[32] = 0;
    memset(m33, 'X', 33);
    m33[33] = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s / HTTP/1.1\r\nHost: h\r\n\r\n", m32);
    r = parse(buf);
    ok(r > 0 && req.method_id == HS_METHOD_UNKNOWN && req.method.len == 32, "32-byte method accepted (unknown)");
    snprintf(buf, sizeof(buf), "%s / HTTP/1.1\r\nHost: h\r\n\r\n", m33);
    expect_err(buf, 501, "33-byte method");
    expect_err(m33, 501, "33-byte method, incomplete");
    is_int(parse(m32), HS_AGAIN, "32 method bytes, incomplete -> AGAIN");
    expect_err("GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "non-token char in method");
    expect_err("GET/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "no space after method");
}

static void test_limits(void)
{
    hs_parse_limits_t lim = deflim;
    char buf[4096];

    /* one field line over max_field → 431. The field line is name ":" OWS value OWS. */
    lim.max_field = 64;
    char v[128];
    memset(v, 'a', sizeof(v));
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\nX: %.*s\r\n\r\n", 61, v); /* 3 + 61 = 64 */
    is_int(parse_n(buf, strlen(buf), &lim), strlen(buf), "field line of exactly max_field accepted");
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\nX: %.*s\r\n\r\n", 62, v);
    expect_err_n(buf, strlen(buf), &lim, 431, "field line of max_field+1");
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\nX: %.*s", 100, v);
    expect_err_n(buf, strlen(buf), &lim, 431, "incomplete over-long field value");
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n%.*s", 100, v);
    expect_err_n(buf, strlen(buf), &lim, 431, "incomplete over-long field name");
    snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\nX: %.*s", 60, v);
    is_int(parse_n(buf, strlen(buf), &lim), HS_AGAIN, "incomplete field within max_field -> AGAIN");
    lim = deflim;

    /* too many fields → 431 */
    lim.max_headers = 3;
    const char *three = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    is_int(parse_n(three, strlen(three), &lim), strlen(three), "max_headers fields accepted");
    const char *four = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    expect_err_n(four, strlen(four), &lim, 431, "max_headers+1 fields");
    lim = deflim;

    /* whole head over max_head → 431, complete and incomplete */
    lim.max_head = 256;
    size_t n;
    /* build a head of exactly 256 bytes */
    {
        const char *pre = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
        size_t fixed = strlen(pre) + 4; /* value then \r\n\r\n */
        char val[300];
        memset(val, 'v', sizeof(val));
        snprintf(buf, sizeof(buf), "%s%.*s\r\n\r\n", pre, (int)(256 - fixed), val);
        n = strlen(buf);
        is_int(n, 256, "(head of 256 bytes built)");
        is_int(parse_n(buf, n, &lim), 256, "head of exactly max_head accepted");
        snprintf(buf, sizeof(buf), "%s%.*s\r\n\r\n", pre, (int)(257 - fixed), val);
        expect_err_n(buf, strlen(buf), &lim, 431, "complete head of max_head+1");
        /* many small fields, complete */
        buf[0] = 0;
        strcat(buf, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (int i = 0; i < 40; i++)
            strcat(buf, "Abc: 1234\r\n");
        strcat(buf, "\r\n");
        expect_err_n(buf, strlen(buf), &lim, 431, "complete head of many fields over max_head");
        /* incomplete: no end of head in sight */
        expect_err_n(buf, 300, &lim, 431, "incomplete head over max_head");
        is_int(parse_n(buf, 250, &lim), HS_AGAIN, "incomplete head within max_head -> AGAIN");
        /* leading CRLFs count toward the head */
    }
    lim = deflim;

    /* 414 takes precedence over 431 when the target alone is too long */
    lim.max_uri = 100;
    lim.max_head = 4096;
    memset(buf, 'a', 1000);
    memcpy(buf, "GET /", 5);
    expect_err_n(buf, 1000, &lim, 414, "incomplete long target within max_head -> 414");
}

static void test_prefixes(void)
{
    expect_prefixes_again("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", &deflim, "simple GET");
    expect_prefixes_again("\r\n\r\nPOST /form?a=b HTTP/1.0\r\nContent-Length: 3\r\nX:\r\nY: \t v \t\r\n\r\n", &deflim,
                          "POST with leading CRLFs and OWS");
    expect_prefixes_again("GET http://example.com HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n", &deflim,
                          "absolute-form");
    expect_prefixes_again("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &deflim, "asterisk-form");
    expect_prefixes_again("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", &deflim, "authority-form");
    expect_prefixes_again("GET / HTTP/1.0\r\n\r\n", &deflim, "no fields");
    expect_prefixes_again("M-SEARCH /x HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n", &deflim,
                          "extension method and obs-text");
    /* with tight limits: a prefix of a head that fits must never trip a limit */
    hs_parse_limits_t lim = {.max_uri = 4, .max_field = 8, .max_head = 46, .max_headers = 2};
    expect_prefixes_again("GET /abc HTTP/1.1\r\nHost: h\r\nA: 123\r\n\r\n", &lim, "prefixes at exact limits");
}

static void test_tokens(void)
{
    static const struct {
        const char *name;
        int token;
    } t[] = {
        {"Host", HS_HDR_HOST},
        {"content-length", HS_HDR_CONTENT_LENGTH},
        {"Transfer-Encoding", HS_HDR_TRANSFER_ENCODING},
        {"CONNECTION", HS_HDR_CONNECTION},
        {"Expect", HS_HDR_EXPECT},
        {"Upgrade", HS_HDR_UPGRADE},
        {"TE", HS_HDR_TE},
        {"Content-Type", HS_HDR_CONTENT_TYPE},
        {"Accept", HS_HDR_ACCEPT},
        {"Accept-Encoding", HS_HDR_ACCEPT_ENCODING},
        {"Accept-Language", HS_HDR_ACCEPT_LANGUAGE},
        {"If-Match", HS_HDR_IF_MATCH},
        {"If-None-Match", HS_HDR_IF_NONE_MATCH},
        {"If-Modified-Since", HS_HDR_IF_MODIFIED_SINCE},
        {"If-Unmodified-Since", HS_HDR_IF_UNMODIFIED_SINCE},
        {"If-Range", HS_HDR_IF_RANGE},
        {"Range", HS_HDR_RANGE},
        {"Authorization", HS_HDR_AUTHORIZATION},
        {"Cookie", HS_HDR_COOKIE},
        {"User-Agent", HS_HDR_USER_AGENT},
        {"Referer", HS_HDR_REFERER},
        {"Man", HS_HDR_MAN},
        {"Early-Data", HS_HDR_EARLY_DATA},
        {"A-IM", HS_HDR_A_IM},
        {"Depth", HS_HDR_DEPTH},
        {"Destination", HS_HDR_DESTINATION},
        {"Overwrite", HS_HDR_OVERWRITE},
        {"If", HS_HDR_IF},
        {"Prefer", HS_HDR_PREFER},
        {"Origin", HS_HDR_ORIGIN},
        {"Content-Encoding", HS_HDR_CONTENT_ENCODING},
        {"Proxy-Authorization", HS_HDR_PROXY_AUTHORIZATION},
        {"X-Host", HS_HDR_OTHER},
        {"Hos", HS_HDR_OTHER},
        {"Hostx", HS_HDR_OTHER},
        {"Content-Lengthx", HS_HDR_OTHER},
        {"H", HS_HDR_OTHER},
        {"Proxy-Authorizationx", HS_HDR_OTHER},
        {"Referrer", HS_HDR_OTHER},
        {"Hos{", HS_HDR_OTHER},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(t); i++) {
        /* the name is placed at a guard page so the lookup cannot read past it */
        const char *g = guarded(t[i].name, strlen(t[i].name));
        is_int(hs_header_token(g, strlen(t[i].name)), t[i].token, "token of %s", t[i].name);
    }
    /* '[' | 0x20 == '{': a naive case fold must not make "Hos[" equal to anything */
    is_int(hs_header_token("HOS[", 4), HS_HDR_OTHER, "HOS[ is not a token");
    /* tokens also come out of the parser */
    int r = parse("GET / HTTP/1.1\r\nHOST: h\r\nTransfer-encoding: chunked\r\nX-Y: 1\r\n\r\n");
    ok(r > 0 && hdrs[0].token == HS_HDR_HOST && hdrs[1].token == HS_HDR_TRANSFER_ENCODING && hdrs[2].token == 0,
       "parser assigns tokens");
}

/* Field values are scanned sixteen bytes at a time where the CPU can (src/http/parse.c,
 * skip_field_value): every byte value at every position of a value longer than two blocks,
 * also in the last, partial block that ends at the guard page, must be judged exactly as the
 * byte rule says (RFC 9110 §5.5: HTAB, SP, VCHAR and obs-text; nothing else). */
static bool field_byte(unsigned c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static void test_value_bytes(void)
{
    const char *head = "GET / HTTP/1.1\r\nHost: h\r\nX-V: ";
    size_t hl = strlen(head);
    char buf[128];
    int bad = 0, checked = 0;
    for (size_t vlen = 33; vlen <= 37; vlen += 4) {
        for (size_t pos = 0; pos < vlen; pos++) {
            for (unsigned c = 0; c < 256; c++) {
                memcpy(buf, head, hl);
                memset(buf + hl, 'v', vlen);
                buf[hl + pos] = (char)c;
                memcpy(buf + hl + vlen, "\r\n\r\n", 4);
                size_t n = hl + vlen + 4;
                int r = parse_n(buf, n, &deflim);
                bool want = field_byte(c);
                bool got = r == (int)n;
                if (want != got) {
                    if (bad++ < 5)
                        printf("#   byte 0x%02x at %zu of %zu: returned %d\n", c, pos, vlen, r);
                } else if (got) {
                    /* OWS at either end is not part of the value (RFC 9112 §5.1) */
                    size_t a = 0, b = vlen;
                    const char *v = buf + hl;
                    while (a < b && (v[a] == ' ' || v[a] == '\t'))
                        a++;
                    while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
                        b--;
                    if (hdrs[1].value.len != b - a && bad++ < 5)
                        printf("#   byte 0x%02x at %zu: value length %zu, want %zu\n", c, pos, hdrs[1].value.len, b - a);
                }
                checked++;
            }
        }
    }
    ok(bad == 0 && checked > 0, "field values: every byte at every position judged by the byte rule (%d cases)", checked);

    /* the same scan reads reason phrases */
    hs_parsed_res_t res;
    bad = 0;
    for (size_t pos = 0; pos < 40; pos++) {
        for (unsigned c = 0; c < 256; c++) {
            char line[96];
            int n = snprintf(line, sizeof(line), "HTTP/1.1 200 %s\r\n\r\n", "0123456789abcdefghijklmnopqrstuvwxyzABCD");
            line[13 + pos] = (char)c;
            const char *g = guarded(line, (size_t)n);
            memset(&res, 0, sizeof(res));
            res.headers = hdrs;
            int r = hs_parse_response(g, (size_t)n, &res, &deflim);
            if ((r == n) != field_byte(c) && bad++ < 5)
                printf("#   reason byte 0x%02x at %zu: returned %d\n", c, pos, r);
        }
    }
    ok(bad == 0, "reason phrases: every byte at every position judged by the byte rule");
}

/* ---- hs_parse_semantics ------------------------------------------------------------------ */
static hs_req_meta_t meta;

/* Parse (must succeed) and run the semantic checks. */
static int sem(const char *s)
{
    int r = parse(s);
    if (r != (int)strlen(s)) {
        printf("#   parse failed: %d (%d %s)\n", r, req.error, req.error_detail ? req.error_detail : "-");
        return -100;
    }
    req.error = 0;
    return hs_parse_semantics(&req, &meta);
}

static void sem_err(const char *s, int status, const char *name)
{
    int r = sem(s);
    if (!ok(r == HS_ERROR && req.error == status && req.error_detail, "semantics: %s -> %d", name, status))
        printf("#   returned %d, error %d (%s)\n", r, req.error, req.error_detail ? req.error_detail : "-");
}
static void sem_ok(const char *s, const char *name)
{
    int r = sem(s);
    if (!ok(r == HS_OK, "semantics: %s -> OK", name))
        printf("#   returned %d, error %d (%s)\n", r, req.error, req.error_detail ? req.error_detail : "-");
}

static void test_semantics_host(void)
{
    sem_ok("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "Host present");
    ok(iov_is(meta.host, "example.com"), "meta.host from Host");
    ok(meta.h[HS_HDR_HOST] == &hdrs[0], "meta.h[HOST] points at the field");
    is_int(meta.content_length, -1, "no Content-Length -> -1");
    ok(!meta.chunked && !meta.expect_continue && !meta.upgrade && !meta.early_data, "flags default to false");

    sem_err("GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host");
    sem_err("GET / HTTP/1.1\r\nX: y\r\n\r\n", 400, "HTTP/1.1 without Host, other fields");
    sem_ok("GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 without Host");
    ok(meta.host.base == NULL, "HTTP/1.0 without Host: host NULL");
    sem_err("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, "two Host fields (equal)");
    sem_err("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nhost: b\r\n\r\n", 400, "two Host fields");
    sem_err("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Host fields in HTTP/1.0");
    sem_err("GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n", 400, "Host with a space");
    sem_err("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "Host with a slash");
    sem_err("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400, "Host with userinfo");
    sem_err("GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", 400, "Host with a non-numeric port");
    sem_err("GET / HTTP/1.1\r\nHost: a:1234567\r\n\r\n", 400, "Host with a 7-digit port");
    sem_err("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n", 400, "Host with two ports");
    sem_err("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "Host with an unclosed IPv6 literal");
    sem_err("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400, "Host with junk after an IPv6 literal");
    sem_err("GET / HTTP/1.1\r\nHost: a\tb\r\n\r\n", 400, "Host with a tab");
    sem_err("GET / HTTP/1.1\r\nHost: caf\xc3\xa9.example\r\n\r\n", 400, "Host with raw UTF-8");
    sem_err("GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n", 400, "Host with a quote");
    sem_ok("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", "Host with port");
    sem_ok("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "Host IPv6 literal with port");
    sem_ok("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "Host IPv4");
    sem_ok("GET / HTTP/1.1\r\nHost: xn--caf-dma.example\r\n\r\n", "Host punycode");
    /* RFC 9112 §3.2, §3.3; RFC 9110 §4.2.1: an origin-form or asterisk-form target takes its
     * host from Host, and an http target URI never has an empty host */
    sem_err("GET / HTTP/1.1\r\nHost: \r\n\r\n", 400, "empty Host, origin-form");
    sem_err("GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "empty Host without OWS, origin-form");
    sem_err("GET / HTTP/1.1\r\nHost: \t \r\n\r\n", 400, "Host of only whitespace, origin-form");
    sem_err("GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400, "Host with a port but no host");
    sem_err("GET / HTTP/1.1\r\nHost: :\r\n\r\n", 400, "Host of only a colon");
    sem_err("GET / HTTP/1.0\r\nHost: \r\n\r\n", 400, "empty Host, origin-form, HTTP/1.0");
    sem_err("OPTIONS * HTTP/1.1\r\nHost: \r\n\r\n", 400, "empty Host, asterisk-form");
    sem_ok("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "one-byte Host");
    ok(iov_is(meta.host, "a"), "one-byte Host: meta.host");
    {
        /* every visible ASCII byte in a reg-name: exactly unreserved, '%' and sub-delims pass
         * (RFC 3986 §3.2.2) */
        const char *allowed = "-._~%!$&'()*+,;=";
        int wrong = 0;
        for (int c = 0x21; c < 0x7f; c++) {
            if (c == ':' || c == '[')
                continue; /* the port separator and an IP-literal start are not reg-name bytes */
            char m[64];
            snprintf(m, sizeof(m), "GET / HTTP/1.1\r\nHost: a%cb\r\n\r\n", c);
            bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        strchr(allowed, c) != NULL;
            if ((sem(m) == HS_OK) != want && wrong++ < 3)
                printf("#   Host byte 0x%02x: %s\n", c, want ? "refused" : "accepted");
        }
        ok(wrong == 0, "semantics: Host bytes are exactly RFC 3986 reg-name bytes");
    }

    /* absolute-form authority overrides Host (RFC 9112 §3.2.2) */
    sem_ok("GET http://target.example/p HTTP/1.1\r\nHost: other.example\r\n\r\n", "absolute-form with Host");
    ok(iov_is(meta.host, "target.example"), "absolute-form authority wins over Host");
    sem_ok("GET http://target.example/p HTTP/1.0\r\n\r\n", "absolute-form HTTP/1.0 without Host");
    ok(iov_is(meta.host, "target.example"), "absolute-form authority used without Host");
    sem_err("GET http://a:b/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "absolute-form authority with a bad port");
    /* RFC 9112 §3.2.2: with an absolute-form target, Host is ignored, so an empty one is fine */
    sem_ok("GET http://target.example/p HTTP/1.1\r\nHost: \r\n\r\n", "absolute-form with an empty Host");
    ok(iov_is(meta.host, "target.example"), "absolute-form with an empty Host: host from the target");
    sem_ok("GET http://target.example/p HTTP/1.1\r\nHost: :80\r\n\r\n", "absolute-form with Host ':80'");
    ok(iov_is(meta.host, "target.example"), "absolute-form with Host ':80': host from the target");
    /* RFC 9110 §4.2.1: an http URI with an empty host is invalid */
    sem_err("GET http://:80/p HTTP/1.1\r\nHost: h\r\n\r\n", 400, "absolute-form authority with an empty host");
    sem_err("CONNECT :443 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "CONNECT target with an empty host");
    sem_err("CONNECT a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "CONNECT target that is not host:port");
    sem_ok("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "CONNECT host:port");
    ok(iov_is(meta.host, "example.com:443"), "CONNECT: host from the target");
}

static void test_semantics_length(void)
{
    sem_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n", "Content-Length: 42");
    is_int(meta.content_length, 42, "content_length = 42");
    sem_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", "Content-Length: 0");
    is_int(meta.content_length, 0, "content_length = 0");
    sem_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n", "Content-Length: 007");
    is_int(meta.content_length, 7, "leading zeros allowed (1*DIGIT)");
    sem_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999999999999\r\n\r\n", "18-digit Content-Length");
    is_int(meta.content_length, 999999999999999999LL, "18 digits parsed");
    sem_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:   5  \r\n\r\n", "Content-Length with OWS (trimmed)");
    is_int(meta.content_length, 5, "OWS around Content-Length is not part of the value");

    static const char *const bad[] = {"+5",
                                      "0x5",
                                      "5 5",
                                      "-1",
                                      "",
                                      "1,1",
                                      "1, 1",
                                      "5,",
                                      "1000000000000000000",
                                      "9999999999999999999",
                                      "99999999999999999999",
                                      "5a",
                                      "a5",
                                      "5.0",
                                      "\"5\"",
                                      "1e3"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad); i++) {
        char buf[256], name[64];
        snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n", bad[i]);
        snprintf(name, sizeof(name), "Content-Length \"%s\"", bad[i]);
        sem_err(buf, 400, name);
    }
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400,
            "duplicate equal Content-Length");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
            "duplicate different Content-Length");
    sem_err("POST / HTTP/1.0\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n", 400, "duplicate Content-Length, 1.0");

    /* Transfer-Encoding, RFC 9112 §6.1, §6.3 */
    sem_ok("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", "TE chunked");
    ok(meta.chunked && meta.content_length == -1, "chunked flag set, no length");
    sem_ok("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n", "TE Chunked (case-insensitive)");
    ok(meta.chunked, "Chunked -> chunked flag");
    sem_ok("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked ,\r\n\r\n", "TE with empty list elements");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "CL + TE");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, "TE + CL");
    sem_err("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "TE in HTTP/1.0");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "TE gzip, chunked");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400, "TE chunked, gzip");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "TE gzip alone (length unknowable)");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400, "TE xchunked");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunkedx\r\n\r\n", 400, "TE chunkedx");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400, "TE chunked, chunked");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", 400, "TE empty");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\r\n\r\n", 400, "TE only commas");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
            "two TE fields");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
            "two TE fields, chunked last");
}

static void test_semantics_conn(void)
{
    sem_ok("GET / HTTP/1.1\r\nHost: h\r\n\r\n", "1.1 default");
    ok(meta.keep_alive, "HTTP/1.1 persists by default");
    sem_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "1.1 close");
    ok(!meta.keep_alive, "HTTP/1.1 Connection: close");
    sem_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", "1.1 keep-alive, close");
    ok(!meta.keep_alive, "close wins over keep-alive (case-insensitive)");
    sem_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
           "close in a second field");
    ok(!meta.keep_alive, "close in a second Connection field counts");
    sem_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n", "Connection: closed");
    ok(meta.keep_alive, "\"closed\" is not \"close\"");
    sem_ok("GET / HTTP/1.0\r\n\r\n", "1.0 default");
    ok(!meta.keep_alive, "HTTP/1.0 closes by default");
    sem_ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "1.0 keep-alive");
    ok(meta.keep_alive, "HTTP/1.0 Connection: keep-alive persists");
    sem_ok("GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n", "1.0 keep-alive in a list");
    ok(meta.keep_alive, "HTTP/1.0 keep-alive found in a list");
    sem_ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", "1.0 keep-alive, close");
    ok(!meta.keep_alive, "HTTP/1.0 keep-alive + close -> close");

    sem_ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "upgrade");
    ok(meta.upgrade, "Connection: upgrade + Upgrade -> upgrade");
    sem_ok("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", "Upgrade without Connection");
    ok(!meta.upgrade, "Upgrade without Connection: upgrade -> no upgrade");

    /* Expect, RFC 9110 §10.1.1 */
    sem_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", "Expect 100-continue");
    ok(meta.expect_continue, "HTTP/1.1 sets expect_continue");
    sem_ok("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n", "Expect 100-Continue");
    ok(meta.expect_continue, "100-continue is case-insensitive");
    sem_ok("POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", "Expect in 1.0");
    ok(!meta.expect_continue, "HTTP/1.0 ignores 100-continue");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nExpect: something-else\r\n\r\n", 417, "other Expect");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, foo\r\n\r\n", 417, "100-continue plus another");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continuex\r\n\r\n", 417, "100-continuex");
    sem_err("POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417, "Expect 200-ok");

    /* Early-Data, RFC 8470 §5.1 */
    sem_ok("GET / HTTP/1.1\r\nHost: h\r\nEarly-Data: 1\r\n\r\n", "Early-Data: 1");
    ok(meta.early_data, "Early-Data: 1 sets early_data");
    sem_ok("GET / HTTP/1.1\r\nHost: h\r\nEarly-Data: 0\r\n\r\n", "Early-Data: 0");
    ok(!meta.early_data, "Early-Data: 0 does not");

    /* meta.h[] records the first field with each token */
    sem_ok("GET / HTTP/1.1\r\nAccept: a\r\nHost: h\r\naccept: b\r\n\r\n", "two Accept fields");
    ok(meta.h[HS_HDR_ACCEPT] == &hdrs[0] && meta.h[HS_HDR_HOST] == &hdrs[1], "meta.h points at the first of each");
    ok(meta.h[HS_HDR_COOKIE] == NULL, "absent token -> NULL");
}

/* Random mutations of valid heads. Whatever the input, parsing must be consistent with
 * parsing its prefixes (what a connection sees as bytes arrive):
 *   - a head accepted with length n: every shorter prefix is HS_AGAIN, every longer one gives n;
 *   - an error stays an error when more bytes arrive;
 *   - HS_AGAIN on the whole input means HS_AGAIN on every prefix.
 * Any read past the end of the input crashes on the guard page. */
static void test_random_mutations(void)
{
    static const char *const seeds[] = {
        "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "POST /a?b=c HTTP/1.0\r\nContent-Length: 3\r\nX:  v \r\n\r\nabc",
        "\r\nOPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http://h:1/p?q HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\nGET",
        "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
    };
    static const char alphabet[] = {' ', '\t', '\r', '\n', ':', '\0', 0x7f, (char)0x80, (char)0xff, 'a', '/',
                                    '?', '#',  '*',  'H',  '1', '0',  '.',  ',',        '"',        'T', 'P'};
    const hs_parse_limits_t lim = {.max_uri = 24, .max_field = 24, .max_head = 64, .max_headers = 3};
    uint32_t seed = 12345;
#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff)
    int bad = 0, n_ok = 0, n_err = 0, n_again = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char in[160];
        const char *sd = seeds[RND() % HS_ARRAY_SIZE(seeds)];
        size_t n = strlen(sd);
        memcpy(in, sd, n);
        int muts = 1 + (int)(RND() % 3);
        for (int m = 0; m < muts; m++) {
            size_t at = RND() % (n + 1);
            int kind = (int)(RND() % 3);
            char c = alphabet[RND() % sizeof(alphabet)];
            if (kind == 0 && at < n) {
                in[at] = c;
            } else if (kind == 1 && n < sizeof(in) - 1) {
                memmove(in + at + 1, in + at, n - at);
                in[at] = c;
                n++;
            } else if (at < n) {
                memmove(in + at, in + at + 1, n - at - 1);
                n--;
            }
        }
        int whole = parse_n(in, n, &lim);
        int whole_err = req.error;
        if (whole > 0)
            n_ok++;
        else if (whole == HS_ERROR)
            n_err++;
        else
            n_again++;
        if (whole == HS_ERROR && (whole_err < 400 || whole_err > 505 || !req.error_detail))
            bad++;
        bool seen_err = false;
        for (size_t i = 0; i <= n; i++) {
            int r = parse_n(in, i, &lim);
            bool good;
            if (whole > 0)
                good = (i < (size_t)whole) ? r == HS_AGAIN : r == whole;
            else if (whole == HS_AGAIN)
                good = r == HS_AGAIN;
            else {
                if (r == HS_ERROR)
                    seen_err = true;
                good = seen_err ? r == HS_ERROR : r == HS_AGAIN;
                if (r > 0)
                    good = false;
            }
            if (!good) {
                if (bad < 5) {
                    printf("#   input (%zu bytes, whole -> %d/%d): ", n, whole, whole_err);
                    for (size_t k = 0; k < n; k++)
                        printf(in[k] >= 0x20 && in[k] < 0x7f ? "%c" : "\\x%02x", (unsigned char)in[k]);
                    printf("\n#   prefix %zu -> %d (error %d)\n", i, r, req.error);
                }
                bad++;
                break;
            }
        }
    }
#undef RND
    ok(bad == 0, "3000 mutated heads: prefixes consistent with the whole (%d ok, %d errors, %d again; %d bad)", n_ok,
       n_err, n_again, bad);
}

int main(void)
{
    test_guard_armed();
    test_valid();
    test_versions();
    test_request_line_ws();
    test_line_endings();
    test_fields();
    test_target();
    test_methods();
    test_limits();
    test_prefixes();
    test_tokens();
    test_value_bytes();
    test_semantics_host();
    test_semantics_length();
    test_semantics_conn();
    test_random_mutations();
    return tap_done();
}
