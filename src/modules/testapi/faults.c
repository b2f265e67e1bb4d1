/* statusd — client-testing API: connection faults on demand, /fault/{kind}.
 *
 * Each kind breaks HTTP/1.1 framing or the connection in one precise way, through the engine's
 * raw output (hs_res_raw: bytes as given, no framing, no rule check) and request timer. The
 * table below is also the landing page's documentation: what goes on the wire and what a
 * correct client reports. curl exit codes are for curl 7.88. */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>

const api_fault_doc_t api_fault_docs[] = {
    {"abort-before-headers", "the connection is closed (FIN) before a single byte is sent",
     "an empty reply: curl exits 52 (Empty reply from server); Python raises RemoteDisconnected"},
    {"abort-after-headers", "a 200 head announcing Content-Length: 1024, then close, no body",
     "a truncated body: curl exits 18 (transfer closed with 1024 bytes remaining); Python's http.client raises "
     "IncompleteRead (requests on urllib3 1.x does not enforce Content-Length and returns an empty body)"},
    {"abort-mid-body", "the head (Content-Length: 1024) and 512 bytes, a pause (?delay=, default 0.1 s), then close",
     "a truncated body: curl exits 18; Python raises IncompleteRead"},
    {"reset", "the connection is reset (RST, SO_LINGER 0) without a byte",
     "a reset: curl exits 56 (Recv failure: Connection reset by peer); Python raises ConnectionResetError"},
    {"short-body", "Content-Length: 100 and only 50 bytes, then close",
     "a truncated body: curl exits 18 (transfer closed with 50 bytes remaining); Python's http.client raises "
     "IncompleteRead"},
    {"long-body", "Content-Length: 10 followed by 20 bytes, then close",
     "the first 10 bytes are the body; the extra 10 must not be taken for a next response (curl warns "
     "'Excess found' and exits 0)"},
    {"bad-chunk", "a chunked body whose second chunk size is 'zz' (not hex), then close",
     "a framing error: curl exits 56 (Illegal or missing hexadecimal sequence in chunked-encoding)"},
    {"no-final-chunk", "a chunked body without the terminating 0-size chunk, then close",
     "a truncated body: curl exits 18 (transfer closed with outstanding read data remaining)"},
    {"slow-headers", "a valid 200 whose head arrives one line at a time, ?delay= apart (default 0.2 s)",
     "a complete response, only late: curl exits 0 (or 28 when its --max-time is shorter)"},
    {"hang", "no byte at all for --api-max-duration (or ?duration=), then close",
     "a timeout: curl --max-time exits 28; without a limit the close gives 52 (Empty reply)"},
    {"garbage-status-line", "a status line whose reason phrase holds NUL and control bytes (RFC 9112 §4 forbids them)",
     "a malformed status line: curl exits 8 (Nul byte in header); lenient parsers such as Python's http.client "
     "accept it"},
    {"not-http", "bytes that are not HTTP at all (no HTTP-version), then close",
     "not an HTTP response: curl exits 1 (Received HTTP/0.9 when not allowed); Python raises BadStatusLine"},
    {"duplicate-content-length", "two different Content-Length fields (5 and 7) and 5 bytes, then close",
     "an unrecoverable framing error (RFC 9112 §6.3): urllib3 raises InvalidHeader; curl uses the last value and "
     "exits 18; Python's http.client uses the first"},
};
const size_t api_num_fault_docs = HS_ARRAY_SIZE(api_fault_docs);

typedef struct {
    hs_iovec_t pieces[8];
    size_t npieces, next;
    uint64_t delay;
} slow_t;

static hs_iovec_t head(hs_req_t *req, const char *status_line, const char *fields)
{
    const char *sn = hs_req_top(req)->server_name; /* NULL (configured empty): no Server field */
    return hs_arena_printf(&req->arena, "%s\r\nDate: %s\r\n%s%s%s%s\r\n", status_line, hs_worker_date(req->worker),
                           sn ? "Server: " : "", sn ? sn : "", sn ? "\r\n" : "", fields);
}

static void mid_body_close(hs_req_t *req)
{
    hs_req_close_connection(req, false);
}

static void hang_done(hs_req_t *req)
{
    hs_res_close_silently(req, 444);
}

static void slow_next(hs_req_t *req)
{
    slow_t *s = API_CTX(req);
    hs_iovec_t p = s->pieces[s->next++];
    bool last = s->next == s->npieces;
    hs_res_raw(req, p.base, p.len, last ? HS_RAW_CLOSE : HS_RAW_HOLD, 200);
    if (!last)
        hs_req_set_timer(req, s->delay, slow_next);
}

static char body[1024]; /* the alphabet, over and over: filled once for every worker */
static pthread_once_t body_once = PTHREAD_ONCE_INIT;

static void body_init(void)
{
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)('a' + i % 26);
}

int api_r_fault(hs_req_t *req, hs_iovec_t kind)
{
    hs_req_set_cause(req, API_CAUSE(API_CAUSE_FAULT));
    pthread_once(&body_once, body_init);
    hs_buf_t b = {0};
    int r = HS_OK;
    if (HS_IOV_EQ(kind, "abort-before-headers")) {
        hs_res_close_silently(req, 444);
    } else if (HS_IOV_EQ(kind, "abort-after-headers")) {
        hs_iovec_t h = head(req, "HTTP/1.1 200 OK", "Content-Type: text/plain\r\nContent-Length: 1024\r\n");
        hs_res_raw(req, h.base, h.len, HS_RAW_CLOSE, 200);
    } else if (HS_IOV_EQ(kind, "abort-mid-body")) {
        uint64_t delay;
        if (!api_arg_ms(req, "delay", 1000, 100, &delay))
            return HS_OK;
        hs_iovec_t h = head(req, "HTTP/1.1 200 OK", "Content-Type: text/plain\r\nContent-Length: 1024\r\n");
        hs_buf_append(&b, h.base, h.len);
        hs_buf_append(&b, body, 512);
        hs_res_raw(req, b.base, b.len, HS_RAW_HOLD, 200);
        hs_req_set_timer(req, delay ? delay : 1, mid_body_close);
    } else if (HS_IOV_EQ(kind, "reset")) {
        hs_res_raw(req, "", 0, HS_RAW_RESET, 444);
    } else if (HS_IOV_EQ(kind, "short-body")) {
        hs_iovec_t h = head(req, "HTTP/1.1 200 OK", "Content-Type: text/plain\r\nContent-Length: 100\r\n");
        hs_buf_append(&b, h.base, h.len);
        hs_buf_append(&b, body, 50);
        hs_res_raw(req, b.base, b.len, HS_RAW_CLOSE, 200);
    } else if (HS_IOV_EQ(kind, "long-body")) {
        hs_iovec_t h = head(req, "HTTP/1.1 200 OK", "Content-Type: text/plain\r\nContent-Length: 10\r\n");
        hs_buf_append(&b, h.base, h.len);
        HS_BUF_LIT(&b, "0123456789EXTRABYTES");
        hs_res_raw(req, b.base, b.len, HS_RAW_CLOSE, 200);
    } else if (HS_IOV_EQ(kind, "bad-chunk")) {
        hs_iovec_t h = head(req, "HTTP/1.1 200 OK", "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n");
        hs_buf_append(&b, h.base, h.len);
        HS_BUF_LIT(&b, "5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n");
        hs_res_raw(req, b.base, b.len, HS_RAW_CLOSE, 200);
    } else if (HS_IOV_EQ(kind, "no-final-chunk")) {
        hs_iovec_t h = head(req, "HTTP/1.1 200 OK", "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n");
        hs_buf_append(&b, h.base, h.len);
        HS_BUF_LIT(&b, "5\r\nhello\r\n6\r\n world\r\n");
        hs_res_raw(req, b.base, b.len, HS_RAW_CLOSE, 200);
    } else if (HS_IOV_EQ(kind, "slow-headers")) {
        slow_t *s = hs_arena_alloc(&req->arena, sizeof(*s));
        memset(s, 0, sizeof(*s));
        if (!api_arg_ms(req, "delay", 1000, 200, &s->delay))
            return HS_OK;
        s->pieces[s->npieces++] = HS_IOV("HTTP/1.1 200 OK\r\n");
        s->pieces[s->npieces++] = hs_arena_printf(&req->arena, "Date: %s\r\n", hs_worker_date(req->worker));
        if (hs_req_top(req)->server_name)
            s->pieces[s->npieces++] = hs_arena_printf(&req->arena, "Server: %s\r\n", hs_req_top(req)->server_name);
        s->pieces[s->npieces++] = HS_IOV("Content-Type: text/plain\r\n");
        s->pieces[s->npieces++] = HS_IOV("Content-Length: 13\r\nConnection: close\r\n");
        s->pieces[s->npieces++] = HS_IOV("\r\nslow headers\n");
        if (!api_check_duration(req, "delay x pieces", s->delay * (s->npieces - 1)))
            return HS_OK;
        API_SET_CTX(req, s);
        slow_next(req);
    } else if (HS_IOV_EQ(kind, "hang")) {
        uint64_t ms;
        if (!api_arg_ms(req, "duration", 1000, api_conf(req)->api_max_duration, &ms))
            return HS_OK;
        hs_req_set_timer(req, ms ? ms : 1, hang_done);
        r = HS_AGAIN;
    } else if (HS_IOV_EQ(kind, "garbage-status-line")) {
        static const char g[] =
            "HTTP/1.1 200 \x00\x01\x7f garbage\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
        hs_res_raw(req, g, sizeof(g) - 1, HS_RAW_CLOSE, 200);
    } else if (HS_IOV_EQ(kind, "not-http")) {
        static const char g[] = "\x16\x03\x01 this is not an HTTP response\r\n\r\n";
        hs_res_raw(req, g, sizeof(g) - 1, HS_RAW_CLOSE, 200);
    } else if (HS_IOV_EQ(kind, "duplicate-content-length")) {
        hs_iovec_t h =
            head(req, "HTTP/1.1 200 OK", "Content-Type: text/plain\r\nContent-Length: 5\r\nContent-Length: 7\r\n");
        hs_buf_append(&b, h.base, h.len);
        HS_BUF_LIT(&b, "hello");
        hs_res_raw(req, b.base, b.len, HS_RAW_CLOSE, 200);
    } else {
        hs_buf_t list = {0};
        for (size_t i = 0; i < api_num_fault_docs; i++)
            hs_buf_printf(&list, "%s%s", i ? ", " : "", api_fault_docs[i].kind);
        hs_buf_append(&list, "", 1);
        api_fail(req, 404, "no such fault; the kinds are: %s", list.base);
        hs_buf_free(&list);
    }
    hs_buf_free(&b);
    return r;
}
