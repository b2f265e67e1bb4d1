/* statusd — the one way out for every response: status line from the registry, framing,
 * error pages, and the registry's rule check. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- status lines, precomputed once from the registry ---- */
/* testapi fix: slots were 48 bytes with reasons cut at 30 characters, which truncated
 * "Request Header Fields Too Large" (31) and the Cloudflare reasons (up to 36) on the wire. */
#define STATUS_LINE_SLOT 96
static hs_iovec_t status_lines[1000];
static char status_line_store[1000 * STATUS_LINE_SLOT];

void hs__status_lines_init(void)
{
    char *p = status_line_store;
    for (int code = 100; code < 1000; code++) {
        const char *reason = hs_status_reason(code);
        int n = snprintf(p, STATUS_LINE_SLOT, "HTTP/1.1 %d %.78s\r\n", code % 1000, reason);
        status_lines[code] = hs_iov(p, (size_t)n);
        p += STATUS_LINE_SLOT;
    }
}

hs_iovec_t hs__status_line(int status)
{
    if (status < 100 || status > 999)
        status = 500;
    return status_lines[status];
}

/* ---- headers and bodies ---- */
void hs__res_headers_grow(hs_req_t *req, size_t cap)
{
    hs_res_header_t *h = hs_arena_alloc(&req->arena, cap * sizeof(*h));
    if (req->num_res_headers)
        memcpy(h, req->res_headers, req->num_res_headers * sizeof(*h));
    req->res_headers = h;
    req->cap_res_headers = cap;
}

void hs_res_headers_reserve(hs_req_t *req, size_t n)
{
    if (req->cap_res_headers - req->num_res_headers < n)
        hs__res_headers_grow(req, HS_MAX(req->num_res_headers + n, (size_t)8));
}

void hs_res_headerf(hs_req_t *req, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hs_iovec_t v = hs_arena_vprintf(&req->arena, fmt, ap);
    va_end(ap);
    hs_res_header(req, hs_iov_cstr(name), v);
}

hs_res_header_t *hs_res_find_header(hs_req_t *req, const char *lower_name)
{
    size_t n = strlen(lower_name);
    for (size_t i = 0; i < req->num_res_headers; i++)
        if (hs_iov_ieq(req->res_headers[i].name, lower_name, n))
            return &req->res_headers[i];
    return NULL;
}

hs_iovec_t hs_req_header_named(const hs_req_t *req, const char *lower_name)
{
    size_t n = strlen(lower_name);
    for (size_t i = 0; i < req->p.num_headers; i++)
        if (hs_iov_ieq(req->p.headers[i].name, lower_name, n))
            return req->p.headers[i].value;
    return HS_IOV_NULL;
}

void hs_res_body(hs_req_t *req, const void *p, size_t len)
{
    hs_writer_mem(&req->res_body, p, len);
}

void hs_res_body_file(hs_req_t *req, int fd, off_t off, size_t len)
{
    hs_writer_file(&req->res_body, fd, off, len);
}

#define HS_INLINE_BODY_MAX 1024

static inline char *put(char *p, const char *s, size_t n)
{
    return hs_put(p, s, n);
}

int hs_res_interim(hs_req_t *req, int status, const hs_res_header_t *headers, size_t n)
{
    hs_conn_t *c = req->conn;
    /* RFC 9110 §15.2: never to an HTTP/1.0 client */
    if (req->p.minor_version == 0 || req->res_sent || status < 100 || status > 199 || status == 101)
        return HS_DECLINED;
    hs_iovec_t sl = hs__status_line(status);
    size_t len = sl.len + 2; /* the status line and the blank line */
    for (size_t i = 0; i < n; i++)
        len += headers[i].name.len + headers[i].value.len + 4;
    char *head = hs_arena_alloc(&req->arena, len), *p = head;
    req->head_bytes += len;
    p = put(p, sl.base, sl.len);
    for (size_t i = 0; i < n; i++) {
        p = put(p, headers[i].name.base, headers[i].name.len);
        p = put(p, ": ", 2);
        p = put(p, headers[i].value.base, headers[i].value.len);
        p = put(p, "\r\n", 2);
    }
    p = put(p, "\r\n", 2);
    hs_writer_mem(&req->out, head, len);
    /* write it now: an interim response is worthless if it waits */
    ssize_t w = hs__conn_flush(c);
    if (w == HS_ERROR) {
        c->sock.eof = true;
        return HS_ERROR;
    }
    if (req->out.pending > 0)
        hs__conn_output_ready(c); /* the rest goes out on EPOLLOUT, then the handler continues */
    return HS_OK;
}

void hs__queue_head(hs_req_t *req, int status, int framing)
{
    hs_conn_t *c = req->conn;
    hs_server_t *srv = req->srv;
    req->status = status;
    req->res_sent = true;

    const hs_status_info_t *info = hs_status_get(status);
    bool body_allowed = hs_status_allows_body(status);

    /* A body we did not read and do not have: the connection cannot carry another request. */
    if (hs_req_has_body(req) && !req->body_done && !req->upgrade) {
        if (req->meta.chunked || (uint64_t)req->body_left > (uint64_t)hs_sock_avail(&c->sock))
            req->res_close = true;
    }
    if (atomic_load(&srv->shutting_down) && !req->upgrade)
        req->res_close = true;
    if (info && (info->flags & HS_SF_CLOSE))
        req->res_close = true;
    if (framing == 1 && req->p.minor_version == 0) {
        framing = 2; /* RFC 9112 §6.1: no chunked to HTTP/1.0; the close delimits the body */
        req->res_close = true;
    }
    /* a 101 or a 2xx to CONNECT (req->upgrade) has no body: the connection carries a tunnel */
    if (framing == 2 && !req->upgrade && body_allowed)
        req->res_close = true;

    /* size the head */
    hs_iovec_t sl = hs__status_line(status);
    /* An empty server_name ("--server-name ''") is stored as NULL: then no Server field is sent
     * at all, which RFC 9110 §10.2.4 allows (Server is optional). */
    const char *server_name = hs_req_top(req)->server_name;
    size_t server_len = server_name ? strlen(server_name) : 0;
    size_t type_len = req->content_type ? strlen(req->content_type) : 0;
    size_t allow_len = req->allow ? strlen(req->allow) : 0;
    size_t size = sl.len + 64 /* Date */ + server_len + 16 + 64 /* framing */ + 32 /* Conn */;
    if (req->content_type)
        size += type_len + 20;
    if (req->allow)
        size += allow_len + 10;
    /* A small body in memory leaves inside the head's buffer: one segment, one copy of a few
     * bytes, and the kernel imports one iovec instead of two. */
    size_t inline_len = 0;
    const hs_seg_t *b0 = hs_writer_count(&req->res_body) == 1 ? hs_writer_at(&req->res_body, 0) : NULL;
    if (framing == 0 && body_allowed && !req->no_body && b0 && b0->base && !b0->own && b0->len <= HS_INLINE_BODY_MAX &&
        (int64_t)b0->len == req->content_length)
        inline_len = b0->len;
    size += inline_len;
    for (size_t i = 0; i < req->num_res_headers; i++)
        size += req->res_headers[i].name.len + req->res_headers[i].value.len + 4;
    size += 2;
    char *head = hs_arena_alloc(&req->arena, size), *p = head;

    p = put(p, sl.base, sl.len);
    p = put(p, "Date: ", 6);
    p = put(p, hs_worker_date(req->worker), 29);
    p = put(p, "\r\n", 2);
    if (server_name) {
        p = put(p, "Server: ", 8);
        p = put(p, server_name, server_len);
        p = put(p, "\r\n", 2);
    }
    if (req->allow) {
        p = put(p, "Allow: ", 7);
        p = put(p, req->allow, allow_len);
        p = put(p, "\r\n", 2);
    }
    if (body_allowed && req->content_type) {
        p = put(p, "Content-Type: ", 14);
        p = put(p, req->content_type, type_len);
        p = put(p, "\r\n", 2);
    }
    for (size_t i = 0; i < req->num_res_headers; i++) {
        hs_res_header_t *h = &req->res_headers[i];
        p = put(p, h->name.base, h->name.len);
        p = put(p, ": ", 2);
        p = put(p, h->value.base, h->value.len);
        p = put(p, "\r\n", 2);
    }
    /* RFC 9110 §8.6 / RFC 9112 §6.3: no Content-Length on 1xx and 204; we omit it on 304 too. */
    if (body_allowed) {
        if (framing == 0) {
            p = put(p, "Content-Length: ", 16);
            p = hs_fmt_u64(p, (uint64_t)(req->content_length > 0 ? req->content_length : 0));
            p = put(p, "\r\n", 2);
        } else if (framing == 1)
            p = put(p, "Transfer-Encoding: chunked\r\n", 28);
    }
    if (status >= 200) {
        if (req->res_close)
            p = put(p, "Connection: close\r\n", 19);
        else if (req->p.minor_version == 0)
            p = put(p, "Connection: keep-alive\r\n", 24); /* RFC 9112 §9.3: 1.0 persistence is opt-in */
    }
    p = put(p, "\r\n", 2);
    req->head_bytes += (uint64_t)(p - head);
    if (inline_len) {
        p = put(p, b0->base, inline_len);
        req->res_body.head = req->res_body.n = 0; /* sent with the head (one segment, not owned) */
        req->res_body.pending = 0;
    }
    hs_writer_mem(&req->out, head, (size_t)(p - head));
}

int hs_res_send(hs_req_t *req, int status)
{
    hs_conn_t *c = req->conn;
    if (req->res_sent) {
        hs_log_error("BUG: response %d sent twice (first %d)", status, req->status);
        return HS_ERROR;
    }
    if (status == 205) {
        /* RFC 9110 §15.3.6: a 205 never has content; Content-Length: 0 keeps the framing clear */
        hs_writer_reset(&req->res_body);
        req->content_length = 0;
    }
    uint64_t body_len = req->res_body.pending;
    if (req->content_length < 0)
        req->content_length = (int64_t)body_len;
    bool send_body = hs_status_allows_body(status) && !req->no_body;
    hs__queue_head(req, status, 0); /* may take a small body along (res_body is then empty) */
    hs__check_response(req, send_body && body_len > 0);
    if (send_body)
        hs_writer_append(&req->out, &req->res_body);
    else
        hs_writer_reset(&req->res_body);
    hs__conn_output_ready(c);
    return HS_OK;
}

int hs_res_stream_start(hs_req_t *req, int status)
{
    if (req->res_sent)
        return HS_ERROR;
    int framing = req->content_length >= 0 ? 0 : 1;
    hs__queue_head(req, status, framing);
    hs__check_response(req, false);
    req->chunked_out = framing == 1 && req->p.minor_version == 1 && hs_status_allows_body(status);
    req->streaming = true;
    req->drain_wanted = true; /* on_drain once the head is out: the handler's cue for the body */
    hs__conn_output_ready(req->conn);
    return HS_OK;
}

/* Queue one piece of a streamed body: with chunk framing around it when chunked (RFC 9112
 * §7.1), copied (`copy`) or referenced. */
static int stream_piece(hs_req_t *req, const void *data, size_t len, bool copy)
{
    if (!req->streaming || len == 0)
        return req->streaming ? HS_OK : HS_ERROR;
    if (req->no_body || !hs_status_allows_body(req->status))
        return HS_OK; /* HEAD: the body is computed but not sent */
    char size_line[24];
    size_t sl = 0;
    if (req->chunked_out) {
        char *e = hs_fmt_hex(size_line, len);
        e = put(e, "\r\n", 2);
        sl = (size_t)(e - size_line);
    }
    if (copy) {
        /* size line, data and CRLF copied together into the chain's tail block */
        size_t total = sl + len + (req->chunked_out ? 2 : 0);
        char *b = hs_writer_tail(&req->out, total), *p = b;
        p = put(p, size_line, sl);
        p = put(p, data, len);
        if (req->chunked_out)
            put(p, "\r\n", 2);
        hs_writer_commit(&req->out, total);
    } else {
        hs_writer_copy(&req->out, size_line, sl);
        hs_writer_mem(&req->out, data, len);
        if (req->chunked_out)
            hs_writer_mem(&req->out, "\r\n", 2);
    }
    req->drain_wanted = true;
    hs__conn_output_ready(req->conn);
    return HS_OK;
}

int hs_res_stream_write(hs_req_t *req, const void *data, size_t len)
{
    return stream_piece(req, data, len, true);
}

int hs_res_stream_write_ref(hs_req_t *req, const void *data, size_t len)
{
    return stream_piece(req, data, len, false);
}

void hs_res_stream_unref(hs_req_t *req, const void *data, size_t len)
{
    if (req->out.pending)
        hs_writer_unref(&req->out, data, len);
}

int hs_res_stream_end(hs_req_t *req, const hs_res_header_t *trailers, size_t n)
{
    if (!req->streaming)
        return HS_ERROR;
    if (req->chunked_out && !req->no_body) {
        hs_writer_copy(&req->out, "0\r\n", 3);
        for (size_t i = 0; i < n; i++) { /* RFC 9112 §7.1.2 */
            hs_writer_copy(&req->out, trailers[i].name.base, trailers[i].name.len);
            hs_writer_copy(&req->out, ": ", 2);
            hs_writer_copy(&req->out, trailers[i].value.base, trailers[i].value.len);
            hs_writer_copy(&req->out, "\r\n", 2);
        }
        hs_writer_copy(&req->out, "\r\n", 2);
    }
    req->streaming = false;
    hs__conn_output_ready(req->conn);
    return HS_OK;
}

size_t hs_res_stream_pending(const hs_req_t *req)
{
    return req->out.pending;
}

static void error_body(hs_req_t *req, int status, const char *detail, const hs_res_variant_t *v, size_t n);

int hs_res_method_not_allowed(hs_req_t *req, const char *allow)
{
    req->allow = allow; /* RFC 9110 §15.5.6: 405 MUST carry Allow */
    const char *detail = hs_arena_printf(&req->arena, "the method %.*s is not allowed here; allowed: %s",
                                         (int)req->p.method.len, req->p.method.base, allow)
                             .base;
    return hs_res_error(req, 405, detail);
}

int hs_res_error(hs_req_t *req, int status, const char *detail)
{
    return hs_res_error_variants(req, status, detail, NULL, 0);
}

int hs_res_error_variants(hs_req_t *req, int status, const char *detail, const hs_res_variant_t *v, size_t n)
{
    req->error_detail = detail;
    hs_writer_reset(&req->res_body);
    req->content_length = -1;
    error_body(req, status, detail, v, n);
    return hs_res_send(req, status);
}

/* ---- error bodies ----
 * Every 4xx/5xx that goes through hs_res_error gets a short body built from the registry:
 * HTML for browsers, JSON {"status","reason","detail"} for clients that prefer it, text
 * otherwise (also when Accept rules out all three). Each says what went wrong this time
 * (`detail`) and what the code means in general (the registry's summary); the HTML page links
 * /codes/{code}. The text body starts with the line "NNN Reason". A negotiated resource's 300
 * and 406 also list its variants (hs_res_error_variants): lines of text, a JSON "variants"
 * array, an HTML list of links. An operator's error_page for the status replaces all of this
 * with the file read at startup. */

/* The operator's page for `status`, or NULL. */
static const hs_error_page_t *configured_page(const hs_req_t *req, int status)
{
    const hs_config_t *cfg = req->gen || req->srv ? hs_req_top(req) : NULL;
    for (size_t i = 0; cfg && i < cfg->num_error_pages; i++)
        if (cfg->error_pages[i].status == status && cfg->error_pages[i].body)
            return &cfg->error_pages[i];
    return NULL;
}

/* Vary: Accept, unless a Vary field the handler added already names Accept (or is "*"). */
static void error_vary_accept(hs_req_t *req)
{
    for (size_t i = 0; i < req->num_res_headers; i++) {
        const hs_res_header_t *h = &req->res_headers[i];
        if (!HS_IOV_IEQ(h->name, "vary"))
            continue;
        size_t pos = 0;
        hs_iovec_t el;
        while ((el = hs_list_next(h->value, &pos)).base)
            if (HS_IOV_IEQ(el, "accept") || HS_IOV_EQ(el, "*"))
                return;
    }
    HS_RES_HEADER(req, "Vary", "Accept");
}

/* The variants of a negotiated resource (300, 406), in each format. */
static void variants_text(hs_buf_t *b, const hs_res_variant_t *v, size_t n)
{
    HS_BUF_LIT(b, "\nVariants:\n");
    for (size_t i = 0; i < n; i++)
        hs_buf_printf(b, "  %s  %s  %s%s%s\n", v[i].href, v[i].type ? v[i].type : "-",
                      v[i].language ? v[i].language : "-", v[i].description ? "  " : "",
                      v[i].description ? v[i].description : "");
}

static void json_member(hs_buf_t *b, const char *name, const char *value)
{
    hs_buf_printf(b, ",\"%s\":", name);
    if (value)
        hs_json_str(b, value, strlen(value));
    else
        HS_BUF_LIT(b, "null");
}

static void variants_json(hs_buf_t *b, const hs_res_variant_t *v, size_t n)
{
    HS_BUF_LIT(b, ",\"variants\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            HS_BUF_LIT(b, ",");
        HS_BUF_LIT(b, "{\"href\":");
        hs_json_str(b, v[i].href, strlen(v[i].href));
        json_member(b, "type", v[i].type);
        json_member(b, "language", v[i].language);
        json_member(b, "description", v[i].description);
        HS_BUF_LIT(b, "}");
    }
    HS_BUF_LIT(b, "]");
}

static void variants_html(hs_buf_t *b, const hs_res_variant_t *v, size_t n)
{
    HS_BUF_LIT(b, "<ul class=\"variants\">\n");
    for (size_t i = 0; i < n; i++) {
        HS_BUF_LIT(b, "<li><a href=\"");
        HS_HTML_CSTR(b, v[i].href);
        if (v[i].type) {
            HS_BUF_LIT(b, "\" type=\"");
            HS_HTML_CSTR(b, v[i].type);
        }
        if (v[i].language && !strchr(v[i].language, ',')) {
            HS_BUF_LIT(b, "\" hreflang=\"");
            HS_HTML_CSTR(b, v[i].language);
        }
        HS_BUF_LIT(b, "\">");
        HS_HTML_CSTR(b, v[i].href);
        HS_BUF_LIT(b, "</a>");
        if (v[i].type) {
            HS_BUF_LIT(b, " ");
            HS_HTML_CSTR(b, v[i].type);
        }
        if (v[i].language) {
            HS_BUF_LIT(b, ", ");
            HS_HTML_CSTR(b, v[i].language);
        }
        if (v[i].description) {
            HS_BUF_LIT(b, " — ");
            HS_HTML_CSTR(b, v[i].description);
        }
        HS_BUF_LIT(b, "</li>\n");
    }
    HS_BUF_LIT(b, "</ul>\n");
}

void hs__error_body(hs_req_t *req, int status, const char *detail)
{
    error_body(req, status, detail, NULL, 0);
}

static void error_body(hs_req_t *req, int status, const char *detail, const hs_res_variant_t *v, size_t n)
{
    if (!hs_status_allows_body(status))
        return;
    const hs_error_page_t *page = configured_page(req, status);
    if (page) {
        /* the operator's bytes, the same for every client: not negotiated, no Vary */
        req->content_type = page->content_type;
        hs_res_body(req, page->body, page->len);
        return;
    }
    /* ties (no Accept, or * / *) go to text, the first entry */
    static const char *const types[] = {"text/plain", "application/json", "text/html"};
    hs_iovec_t accept = req->meta.h[HS_HDR_ACCEPT] ? req->meta.h[HS_HDR_ACCEPT]->value : HS_IOV_NULL;
    int pick = hs_negotiate_type(accept, types, 3);
    if (pick < 0)
        pick = 0; /* an error is still explained in text when nothing else is acceptable */
    error_vary_accept(req);
    const char *reason = hs_status_reason(status);
    const hs_status_info_t *info = hs_status_get(status);
    const char *summary = info && info->summary ? info->summary : "";
    if (!detail || !*detail)
        detail = summary;
    bool same = strcmp(detail, summary) == 0; /* say it once */
    hs_buf_t b = {0};
    if (pick == 1) {
        hs_buf_printf(&b, "{\"status\":%d,\"reason\":", status);
        hs_json_str(&b, reason, strlen(reason));
        HS_BUF_LIT(&b, ",\"detail\":");
        hs_json_str(&b, detail, strlen(detail));
        if (n)
            variants_json(&b, v, n);
        HS_BUF_LIT(&b, "}\n");
        req->content_type = "application/json";
    } else if (pick == 2) {
        hs_buf_printf(&b,
                      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<title>%d %s</title>\n<style>"
                      ":root{color-scheme:light dark}"
                      "body{margin:0;font:16px/1.6 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}"
                      "main{max-width:40rem;margin:0 auto;padding:2.5rem 1.25rem}"
                      "h1{font-size:1.8rem;line-height:1.25;margin:0 0 .75rem}"
                      ".detail{font-size:1.1rem}.about{opacity:.75}"
                      "</style>\n</head>\n<body>\n<main>\n<h1>%d %s</h1>\n<p class=\"detail\">",
                      status, reason, status, reason);
        HS_HTML_CSTR(&b, detail);
        HS_BUF_LIT(&b, "</p>\n");
        if (n)
            variants_html(&b, v, n);
        if (!same) {
            HS_BUF_LIT(&b, "<p class=\"about\">");
            HS_HTML_CSTR(&b, summary);
            HS_BUF_LIT(&b, "</p>\n");
        }
        if (info)
            hs_buf_printf(&b, "<p><a href=\"/codes/%d\">What %d %s means</a></p>\n", status, status, reason);
        HS_BUF_LIT(&b, "</main>\n</body>\n</html>\n");
        req->content_type = "text/html; charset=utf-8";
    } else {
        hs_buf_printf(&b, "%d %s\n%s\n", status, reason, detail);
        if (n)
            variants_text(&b, v, n);
        if (!same)
            hs_buf_printf(&b, "\n%s\n", summary);
        if (info)
            hs_buf_printf(&b, "More: /codes/%d\n", status);
        req->content_type = "text/plain; charset=utf-8";
    }
    char *p = hs_arena_alloc(&req->arena, b.len);
    memcpy(p, b.base, b.len);
    hs_res_body(req, p, b.len);
    hs_buf_free(&b);
}

/* ---- the registry's rules, checked on every response in checking builds ---- */
#ifndef HS_CHECK_RESPONSES
#define HS_CHECK_RESPONSES 0
#endif

static bool has_header(hs_req_t *req, uint32_t bit)
{
    switch (bit) {
    case HS_RH_ALLOW: return req->allow || hs_res_find_header(req, "allow");
    case HS_RH_CONNECTION_CLOSE: return req->res_close;
    case HS_RH_RATELIMIT: return hs_res_find_header(req, "ratelimit") || hs_res_find_header(req, "ratelimit-policy");
    case HS_RH_ACCEPT:
        return hs_res_find_header(req, "accept") || hs_res_find_header(req, "accept-encoding") ||
               hs_res_find_header(req, "accept-patch");
    default: {
        const char *name = hs_status_header_name(bit);
        char lower[64];
        size_t n = strlen(name);
        if (n >= sizeof(lower))
            return false;
        for (size_t i = 0; i <= n; i++)
            lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
        return hs_res_find_header(req, lower) != NULL;
    }
    }
}

void hs__check_response(hs_req_t *req, bool has_body_bytes)
{
    if (req->relayed)
        return; /* an upstream's response: what it says is relayed, not checked against the registry */
    const hs_status_info_t *info = hs_status_get(req->status);
    const char *problem = NULL;
    char buf[160];
    if (!info) {
        problem = "status code not in the registry";
    } else if (info->flags & HS_SF_LOGONLY) {
        problem = "a log-only status must never be sent on the wire";
    } else if (((info->flags & HS_SF_NOBODY) || req->status == 205) && has_body_bytes) {
        problem = "content on a status that forbids it";
    } else if (req->status == 206 && !hs_res_find_header(req, "content-range") &&
               !(req->content_type && strncmp(req->content_type, "multipart/byteranges", 20) == 0)) {
        problem = "206 without Content-Range or multipart/byteranges";
    } else {
        for (uint32_t left = info->required; left; left &= left - 1) {
            uint32_t bit = left & -left; /* each required header, lowest bit first */
            if (!has_header(req, bit)) {
                snprintf(buf, sizeof(buf), "missing required header %s", hs_status_header_name(bit));
                problem = buf;
                break;
            }
        }
    }
    if (!problem)
        return;
    hs_log_error("response rule violated: %d %s: %s (request %.*s %.*s)", req->status, hs_status_reason(req->status),
                 problem, (int)req->p.method.len, req->p.method.base, (int)req->p.target.len, req->p.target.base);
    if (HS_CHECK_RESPONSES)
        abort();
}
