/* statusd — access log in the combined format, followed by the request duration in seconds:
 *   127.0.0.1 - - [21/Nov/2026:22:33:01 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/7.88.1" 0.000
 * Lines are gathered per worker and written at the end of every loop iteration (or when 32 KiB
 * have gathered), so a busy worker pays one write(2) per wake-up rather than one per request,
 * and a line never waits longer than the iteration that produced it. Writes hold whole lines on
 * an O_APPEND descriptor, so workers never interleave; on a pipe they stay within PIPE_BUF,
 * which the kernel keeps in one piece. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define LOG_FLUSH_AT (32 * 1024)

/* Escape for a quoted log field: quotes, backslashes and non-printable bytes become \xHH. */
static size_t esc(char *out, size_t room, const char *s, size_t n)
{
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
            o += hs_hex_encode(out + o, &c, 1);
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

static void emit(hs_worker_t *w, const struct sockaddr *peer_sa, time_t t, const char *reqline, size_t rlen, int status,
                 uint64_t bytes, hs_iovec_t referer, hs_iovec_t ua, double secs)
{
    int fd = w->srv->log_fd;
    if (fd < 0)
        return;
    char line[2048], peer[HS_ADDR_MAX];
    if (w->log_sec != t || !w->log_when[0]) {
        /* from the loop's IMF-fixdate of the same second: "Sun, 06 Nov 1994 08:49:37 GMT" */
        char imf[30];
        const char *d = hs_worker_date(w);
        if (t != w->loop.now_sec) {
            hs_http_date(t, imf);
            d = imf;
        }
        snprintf(w->log_when, sizeof(w->log_when), "%.2s/%.3s/%.4s:%.8s +0000", d + 5, d + 8, d + 12, d + 17);
        w->log_sec = t;
    }
    const char *when = w->log_when;
    hs_addr_format(peer_sa, peer, sizeof(peer), 0);
    size_t o = (size_t)snprintf(line, sizeof(line), "%s - - [%s] \"", peer, when);
    o += esc(line + o, 700, reqline, rlen);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "\" %d %llu \"", status, (unsigned long long)bytes);
    o += esc(line + o, 500, referer.base, referer.len);
    line[o++] = '"';
    line[o++] = ' ';
    line[o++] = '"';
    o += esc(line + o, 500, ua.base, ua.len);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "\" %.3f\n", secs);
    hs_buf_append(&w->log_buf, line, HS_MIN(o, sizeof(line)));
    if (w->log_buf.len >= LOG_FLUSH_AT)
        hs__access_log_flush(w);
}

void hs__access_log_flush(hs_worker_t *w)
{
    int fd = w->srv->log_fd;
    size_t done = 0, len = w->log_buf.len;
    while (fd >= 0 && done < len) {
        size_t n = len - done;
        if (n > w->srv->log_write_max) {
            /* whole lines only, so that a pipe keeps each write in one piece */
            const char *p = w->log_buf.base + done;
            size_t cut = w->srv->log_write_max;
            while (cut > 0 && p[cut - 1] != '\n')
                cut--;
            n = cut ? cut : w->srv->log_write_max; /* a line longer than PIPE_BUF: as it is */
        }
        ssize_t r = write(fd, w->log_buf.base + done, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (!w->log_lost)
                hs_log_warn("access log: write failed (%s): lines are being dropped", strerror(errno));
            w->log_lost = true;
            break;
        }
        done += (size_t)r;
    }
    w->log_buf.len = 0;
    if (w->log_buf.cap > 4 * LOG_FLUSH_AT)
        hs_buf_free(&w->log_buf); /* a burst of long lines: do not keep its memory */
}

void hs__access_log(hs_req_t *req, int status, uint64_t bytes)
{
    hs_worker_t *w = req->worker;
    if (w->srv->log_fd < 0)
        return;
    char rl[1024];
    size_t rlen = 0;
    if (req->head_len > 0) {
        rlen = (size_t)snprintf(rl, sizeof(rl), "%.*s %.*s HTTP/1.%d", (int)req->p.method.len, req->p.method.base,
                                (int)HS_MIN(req->p.target.len, 900), req->p.target.base, req->p.minor_version);
    } else {
        /* the head never parsed: log the first line as received, bounded */
        const hs_conn_t *c = req->conn;
        const char *d = c->sock.in.base ? hs_sock_data(&c->sock) : NULL;
        size_t n = c->sock.in.base ? hs_sock_avail(&c->sock) : 0;
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
    emit(w, (const struct sockaddr *)&req->conn->peer, w->loop.now_sec, rl, rlen, status, bytes, ref, ua, secs);
}

void hs__access_log_raw(hs_worker_t *w, const struct sockaddr *peer, const char *reqline, size_t len, int status)
{
    emit(w, peer, w->loop.now_sec, reqline, len, status, 0, HS_IOV_NULL, HS_IOV_NULL, 0.0);
}
