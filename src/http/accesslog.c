/* statusd — the access log: per-request lines in the path's format (combined, json or a
 * template: logfmt.c) written to the path's log file (access_log, at the top, on a host or on a
 * path). The default is the combined format followed by the request duration in seconds:
 *   127.0.0.1 - - [21/Nov/2026:22:33:01 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/7.88.1" 0.000
 * Lines are gathered per worker and per file and written at the end of every loop iteration
 * (or when 32 KiB have gathered), so a busy worker pays one write(2) per file per wake-up
 * rather than one per request, and a line never waits longer than the iteration that produced
 * it. Writes hold whole lines on an O_APPEND descriptor, so workers never interleave; on a pipe
 * they stay within PIPE_BUF, which the kernel keeps in one piece.
 *
 * Log files are opened once per path for the life of the process (the same path named by two
 * hosts, or by two generations of the configuration, is one descriptor), on the main thread at
 * startup and at a reload; SIGUSR1 reopens each of them behind its descriptor. A file no
 * configuration names any more stays open, unwritten, until the process ends: closing it while
 * a worker may still be writing to it would let the descriptor be reused under that write.
 *
 * On a connection accepted by a TLS listener, the line carries the connection's fields before
 * the modules' (https.c): tls=VERSION cipher=NAME once the handshake chose them, tls_error="…"
 * when TLS failed. A handshake that fails is logged too, as a line without a request — 499 when
 * the client ended it (an alert from it, or it left), 444 when statusd did — in the top-level
 * log of the configuration current then:
 *   … "GET / HTTP/1.1" 200 612 "-" "curl/7.88.1" 0.001 tls=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384
 *   … "-" 444 0 "-" "-" 0.004 tls_error="no shared cipher" */
#define _GNU_SOURCE
#include "internal.h"
#include "hs/logfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_FLUSH_AT (32 * 1024)

typedef struct {
    char *path; /* "-" for standard output */
    int fd;
    size_t write_max; /* largest single write: PIPE_BUF unless a regular file */
} target_t;

static target_t targets[HS_MAX_LOG_TARGETS];
static int ntargets;

/* The access log file: appended to, so lines from several workers never overwrite each other. */
static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* The target of an access_log value: -1 for off, else its index (opened on first use). */
static int target_for(const char *spec, char *err, size_t errlen)
{
    if (!spec || !strcmp(spec, "off"))
        return -1;
    for (int i = 0; i < ntargets; i++)
        if (!strcmp(targets[i].path, spec))
            return i;
    if (ntargets == HS_MAX_LOG_TARGETS) {
        snprintf(err, errlen, "access log %s: at most %d access log files over the life of the process", spec,
                 HS_MAX_LOG_TARGETS);
        return -2;
    }
    int fd = !strcmp(spec, "-") ? 1 : open_log(spec);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open access log %s: %s", spec, strerror(errno));
        return -2;
    }
    struct stat st;
    /* a pipe (or a terminal, a socket) keeps writes of up to PIPE_BUF whole */
    size_t max = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (size_t)1 << 30 : PIPE_BUF;
    targets[ntargets] = (target_t){.path = hs_strdup(spec), .fd = fd, .write_max = max};
    return ntargets++;
}

int hs__access_log_bind(hs_config_t *top, char *err, size_t errlen)
{
    if ((top->log_target = target_for(top->access_log, err, errlen)) < -1)
        return HS_ERROR;
    size_t nh;
    const hs_hostconf_t *hosts = hs_config_hosts(top, &nh);
    for (size_t i = 0; i < nh; i++)
        for (size_t j = 0; j < hosts[i].npaths; j++) {
            hs_config_t *c = hosts[i].paths[j]->cfg;
            if ((c->log_target = target_for(c->access_log, err, errlen)) < -1)
                return HS_ERROR;
        }
    return HS_OK;
}

void hs__access_log_reopen(void)
{
    for (int i = 0; i < ntargets; i++) {
        const char *path = targets[i].path;
        if (targets[i].fd <= 2)
            continue; /* standard output: nothing to reopen */
        int fd = open_log(path);
        if (fd < 0) {
            hs_log_error("access log %s: cannot reopen (%s); still writing to the old file", path, strerror(errno));
            continue;
        }
        /* the new file behind the same descriptor (dup3 is atomic): a worker writing now writes
         * whole lines to one file or the other, never to a closed or reused descriptor */
        if (dup3(fd, targets[i].fd, O_CLOEXEC) < 0)
            hs_log_error("access log %s: cannot reopen (%s); still writing to the old file", path, strerror(errno));
        else
            hs_log_info("access log %s reopened", path);
        close(fd);
    }
}

void hs__access_log_close_all(void)
{
    for (int i = 0; i < ntargets; i++) {
        if (targets[i].fd > 2)
            close(targets[i].fd);
        free(targets[i].path);
    }
    ntargets = 0;
}

static void flush_one(hs_worker_t *w, int t)
{
    hs_buf_t *b = &w->log_bufs[t];
    int fd = targets[t].fd;
    size_t done = 0, len = b->len, max = targets[t].write_max;
    while (done < len) {
        size_t n = len - done;
        if (n > max) {
            /* whole lines only, so that a pipe keeps each write in one piece */
            const char *p = b->base + done;
            size_t cut = max;
            while (cut > 0 && p[cut - 1] != '\n')
                cut--;
            n = cut ? cut : max; /* a line longer than PIPE_BUF: as it is */
        }
        ssize_t r = write(fd, b->base + done, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (!w->log_lost)
                hs_log_warn("access log %s: write failed (%s): lines are being dropped", targets[t].path,
                            strerror(errno));
            w->log_lost = true;
            break;
        }
        done += (size_t)r;
    }
    b->len = 0;
    if (b->cap > 4 * LOG_FLUSH_AT)
        hs_buf_free(b); /* a burst of long lines: do not keep its memory */
    w->log_dirty &= ~((uint64_t)1 << t);
}

void hs__access_log_flush(hs_worker_t *w)
{
    for (uint64_t d = w->log_dirty; d; d &= d - 1)
        flush_one(w, __builtin_ctzll(d));
}

void hs__access_log_free(hs_worker_t *w)
{
    hs__access_log_flush(w);
    for (int i = 0; i < HS_MAX_LOG_TARGETS; i++)
        hs_buf_free(&w->log_bufs[i]);
}

/* "06/Nov/1994:08:49:37 +0000", made once per second of the worker's clock. */
static const char *time_local(hs_worker_t *w, time_t t)
{
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
    return w->log_when;
}

static void emit(hs_worker_t *w, const hs_config_t *cfg, hs_logrec_t *rec)
{
    int t = cfg->log_target;
    rec->time_local = time_local(w, rec->when);
    hs_logfmt_render(cfg->log_fmt, rec, &w->log_bufs[t]);
    w->log_dirty |= (uint64_t)1 << t;
    if (w->log_bufs[t].len >= LOG_FLUSH_AT)
        flush_one(w, t);
}

void hs__access_log(hs_req_t *req, int status, uint64_t bytes)
{
    hs_worker_t *w = req->worker;
    const hs_config_t *cfg = hs_req_cfg(req);
    if (cfg->log_target < 0)
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
    bool parsed = req->head_len > 0;
    hs_buf_t tf = {0}; /* a TLS connection's fields, then the modules' */
    hs_iovec_t fields = hs_iov(req->log_fields.base, req->log_fields.len);
    if (HS_UNLIKELY(req->conn->tls)) {
        hs__https_log_fields(req->conn, NULL, &tf);
        hs_buf_append(&tf, req->log_fields.base, req->log_fields.len);
        fields = hs_iov(tf.base, tf.len);
    }
    hs_logrec_t rec = {
        .peer = (const struct sockaddr *)&req->conn->peer,
        .when = w->loop.now_sec,
        .request = hs_iov(rl, rlen),
        .method = parsed ? req->p.method : HS_IOV_NULL,
        .target = parsed ? req->p.target : HS_IOV_NULL,
        .path = parsed ? req->p.path : HS_IOV_NULL,
        .query = parsed ? req->p.query : HS_IOV_NULL,
        .minor_version = parsed ? req->p.minor_version : -1,
        .host = parsed ? req->meta.host : HS_IOV_NULL,
        .vhost = req->host ? hs_iov_cstr(req->host->name) : HS_IOV_NULL,
        .status = status,
        .cause = hs_cause_id(hs_req_cause(req, status)),
        .bytes = bytes,
        .bytes_sent = req->wire_bytes,
        .duration_ms = w->loop.now_ms - req->start_ms,
        .request_id = req->id,
        .headers = parsed ? req->p.headers : NULL,
        .num_headers = parsed ? req->p.num_headers : 0,
        .fields = fields,
    };
    emit(w, cfg, &rec);
    hs_buf_free(&tf);
}

void hs__access_log_tls_failure(hs_conn_t *c, int status, hs_cause_t cause, const char *why)
{
    hs_worker_t *w = c->sock.loop->data;
    const hs_config_t *cfg = w->gen->cfg;
    if (cfg->log_target < 0)
        return;
    hs_buf_t tf = {0};
    hs__https_log_fields(c, why ? why : "handshake failed", &tf);
    uint64_t started = hs_tls_started(&c->sock);
    hs_logrec_t rec = {
        .peer = (const struct sockaddr *)&c->peer,
        .when = w->loop.now_sec,
        .request = HS_IOV("-"),
        .minor_version = -1,
        .status = status,
        .cause = hs_cause_id(hs_cause_resolve(cause, status)),
        .duration_ms = started && w->loop.now_ms > started ? w->loop.now_ms - started : 0,
        .fields = hs_iov(tf.base, tf.len),
    };
    emit(w, cfg, &rec);
    hs_buf_free(&tf);
}

void hs__access_log_raw(hs_worker_t *w, const hs_config_t *cfg, const struct sockaddr *peer, const char *reqline,
                        size_t len, int status, hs_cause_t cause)
{
    if (cfg->log_target < 0)
        return;
    hs_logrec_t rec = {
        .peer = peer,
        .when = w->loop.now_sec,
        .request = hs_iov(reqline, len),
        .minor_version = -1,
        .status = status,
        .cause = hs_cause_id(hs_cause_resolve(cause, status)),
    };
    emit(w, cfg, &rec);
}
