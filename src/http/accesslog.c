/* statusd — access log in the combined format, followed by the request duration in seconds:
 *   127.0.0.1 - - [21/Nov/2026:22:33:01 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/7.88.1" 0.000
 * Lines are gathered per worker and written at the end of every loop iteration (or when 32 KiB
 * have gathered), so a busy worker pays one write(2) per wake-up rather than one per request,
 * and a line never waits longer than the iteration that produced it. Writes hold whole lines on
 * an O_APPEND descriptor, so workers never interleave; on a pipe they stay within PIPE_BUF,
 * which the kernel keeps in one piece.
 *
 * After the duration come key=value fields: first the connection's TLS ones, then those modules
 * add (hs_req_log_field). On a connection accepted by a TLS listener: tls=VERSION cipher=NAME once
 * the handshake chose them, and tls_error="…" when TLS failed — a handshake that failed is logged
 * too, as a line without a request, 499 when the client ended it (an alert from it, or it left)
 * and 444 when statusd did (it answered nothing):
 *   … "GET / HTTP/1.1" 200 612 "-" "curl/7.88.1" 0.001 tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384
 *   … "-" 444 0 "-" "-" 0.004 tls_error="no shared cipher"
 *   … "GET / HTTP/1.1" 497 192 "-" "curl/7.88.1" 0.000 tls_error="plain HTTP on a TLS port" */
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
                 uint64_t bytes, hs_iovec_t referer, hs_iovec_t ua, double secs, hs_iovec_t conn_fields,
                 hs_iovec_t extra)
{
    int fd = w->srv->log_fd;
    if (fd < 0)
        return;
    char line[2560], peer[HS_ADDR_MAX];
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
    o += (size_t)snprintf(line + o, sizeof(line) - o, "\" %.3f", secs);
    if (conn_fields.len && o + conn_fields.len < sizeof(line) - 1) { /* bounded by tls_fields */
        memcpy(line + o, conn_fields.base, conn_fields.len);
        o += conn_fields.len;
    }
    if (extra.len && o < sizeof(line) - 1) { /* the modules' fields, bounded like the others */
        size_t n = HS_MIN(extra.len, sizeof(line) - 1 - o);
        memcpy(line + o, extra.base, n);
        o += n;
    }
    o = HS_MIN(o, sizeof(line) - 1);
    line[o++] = '\n';
    hs_buf_append(&w->log_buf, line, o);
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

/* A TLS listener's connection's fields into out (room bytes; fewer than 300 are written). */
static hs_iovec_t tls_fields(const hs_conn_t *c, const char *failure, char *out, size_t room)
{
    size_t o = 0;
    const char *version = hs_tls_version(&c->sock);
    if (c->plain_on_tls)
        failure = "plain HTTP on a TLS port";
    else if (strcmp(version, "-") != 0)
        o += (size_t)snprintf(out, room, " tls=%s cipher=%.100s", version, hs_tls_cipher(&c->sock));
    if (failure) {
        o += (size_t)snprintf(out + o, room - o, " tls_error=\"");
        o += esc(out + o, HS_MIN(room - o - 1, (size_t)160), failure, strlen(failure));
        out[o++] = '"';
    }
    return hs_iov(out, o);
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
    char tf[320];
    hs_iovec_t conn_fields = req->conn->tls ? tls_fields(req->conn, NULL, tf, sizeof(tf)) : HS_IOV_NULL;
    emit(w, (const struct sockaddr *)&req->conn->peer, w->loop.now_sec, rl, rlen, status, bytes, ref, ua, secs,
         conn_fields, hs_iov(req->log_fields.base, req->log_fields.len));
}

void hs__access_log_tls_failure(hs_conn_t *c, int status, const char *why)
{
    hs_worker_t *w = c->sock.loop->data;
    if (w->srv->log_fd < 0)
        return;
    uint64_t started = hs_tls_started(&c->sock);
    double secs = started && w->loop.now_ms > started ? (double)(w->loop.now_ms - started) / 1000.0 : 0.0;
    char tf[320];
    emit(w, (const struct sockaddr *)&c->peer, w->loop.now_sec, NULL, 0, status, 0, HS_IOV_NULL, HS_IOV_NULL, secs,
         tls_fields(c, why ? why : "handshake failed", tf, sizeof(tf)), HS_IOV_NULL);
}

void hs__access_log_field(hs_buf_t *b, const char *key, const char *value, size_t len)
{
    char tmp[2048];
    bool quote = len == 0 || memchr(value, ' ', len) || memchr(value, '"', len);
    size_t o = 0;
    tmp[o++] = ' ';
    size_t k = strlen(key);
    memcpy(tmp + o, key, HS_MIN(k, (size_t)64));
    o += HS_MIN(k, (size_t)64);
    tmp[o++] = '=';
    if (quote)
        tmp[o++] = '"';
    if (len)
        o += esc(tmp + o, sizeof(tmp) - o - 2, value, len);
    if (quote)
        tmp[o++] = '"';
    hs_buf_append(b, tmp, o);
}

void hs__access_log_raw(hs_worker_t *w, const struct sockaddr *peer, const char *reqline, size_t len, int status)
{
    emit(w, peer, w->loop.now_sec, reqline, len, status, 0, HS_IOV_NULL, HS_IOV_NULL, 0.0, HS_IOV_NULL, HS_IOV_NULL);
}
