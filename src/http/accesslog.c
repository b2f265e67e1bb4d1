/* statusd — access log in the combined format, followed by the request duration in seconds:
 *   127.0.0.1 - - [21/Nov/2026:22:33:01 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/7.88.1" 0.000
 * Each line goes out in one write(2) on an O_APPEND descriptor, so workers never interleave. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* Escape for a quoted log field: quotes, backslashes and non-printable bytes become \xHH. */
static size_t esc(char *out, size_t room, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (!s || n == 0) {
        if (room > 1)
            out[o++] = '-';
        return o;
    }
    for (size_t i = 0; i < n && o + 4 < room; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

static void emit(hs_worker_t *w, const hs_conn_t *c, time_t t, const char *reqline, size_t rlen, int status,
                 uint64_t bytes, hs_iovec_t referer, hs_iovec_t ua, double secs)
{
    int fd = w->srv->log_fd;
    if (fd < 0)
        return;
    char line[2048], peer[64], when[40];
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    hs__peer_name(c, peer, sizeof(peer));
    size_t o = (size_t)snprintf(line, sizeof(line), "%s - - [%s] \"", peer, when);
    o += esc(line + o, 700, reqline, rlen);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "\" %d %llu \"", status, (unsigned long long)bytes);
    o += esc(line + o, 500, referer.base, referer.len);
    line[o++] = '"';
    line[o++] = ' ';
    line[o++] = '"';
    o += esc(line + o, 500, ua.base, ua.len);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "\" %.3f\n", secs);
    ssize_t r = write(fd, line, HS_MIN(o, sizeof(line)));
    (void)r;
}

void hs__access_log(hs_req_t *req, int status, uint64_t bytes)
{
    hs_worker_t *w = req->worker;
    if (w->srv->log_fd < 0)
        return;
    if (bytes == 0)
        bytes = (uint64_t)(req->content_length > 0 && !req->no_body ? req->content_length : 0);
    char rl[1024];
    size_t rlen = 0;
    if (req->head_len > 0) {
        rlen = (size_t)snprintf(rl, sizeof(rl), "%.*s %.*s HTTP/1.%d", (int)req->p.method.len, req->p.method.base,
                                (int)HS_MIN(req->p.target.len, 900), req->p.target.base, req->p.minor_version);
    } else {
        /* the head never parsed: log the first line as received, bounded */
        const hs_conn_t *c = req->conn;
        const char *d = c->rbuf.base ? c->rbuf.base + c->rpos : NULL;
        size_t n = c->rbuf.base ? c->rbuf.len - c->rpos : 0;
        const char *eol = d ? memchr(d, '\n', n) : NULL;
        if (eol)
            n = (size_t)(eol - d);
        if (n > 0 && d[n - 1] == '\r')
            n--;
        rlen = HS_MIN(n, sizeof(rl));
        if (rlen)
            memcpy(rl, d, rlen);
    }
    hs_iovec_t ref = req->meta.h[HS_HDR_REFERER] ? req->meta.h[HS_HDR_REFERER]->value : HS_IOV_NULL;
    hs_iovec_t ua = req->meta.h[HS_HDR_USER_AGENT] ? req->meta.h[HS_HDR_USER_AGENT]->value : HS_IOV_NULL;
    double secs = (double)(w->loop.now_ms - req->start_ms) / 1000.0;
    emit(w, req->conn, w->loop.now_sec, rl, rlen, status, bytes, ref, ua, secs);
}

void hs__access_log_raw(hs_worker_t *w, const hs_conn_t *c, const char *reqline, size_t len, int status)
{
    emit(w, c, w->loop.now_sec, reqline, len, status, 0, HS_IOV_NULL, HS_IOV_NULL, 0.0);
}
