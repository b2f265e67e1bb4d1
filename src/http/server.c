/* statusd — listeners, worker threads, connection limit, signals and graceful shutdown.
 *
 * One event loop per worker thread, each with its own SO_REUSEPORT listening socket per
 * address, so the kernel spreads connections and workers share nothing on the hot path. */
#define _GNU_SOURCE
#include "internal.h"
#include "hs/os.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int reserve_fd = -1; /* kept open to answer 503 when the process runs out of descriptors */

static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    const char *colon = strrchr(spec, ':');
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb || rb[1] != ':') {
            snprintf(err, errlen, "listen '%s': expected [IPv6]:PORT", spec);
            return HS_ERROR;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(rb - spec - 1), spec + 1);
        port = rb + 2;
    } else if (colon) {
        snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
        port = colon + 1;
    } else {
        snprintf(host, sizeof(host), "0.0.0.0");
        port = spec;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535) {
        snprintf(err, errlen, "listen '%s': bad port", spec);
        return HS_ERROR;
    }
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        *len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*v6);
    } else if (strcmp(host, "localhost") == 0) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof(*v4);
    } else {
        snprintf(err, errlen, "listen '%s': '%s' is not an IP address", spec, host);
        return HS_ERROR;
    }
    return HS_OK;
}

static int open_listener(const struct sockaddr_storage *ss, socklen_t len, char *err, size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 4096) < 0) {
        int e = errno;
        char name[HS_ADDR_MAX];
        hs_addr_format((const struct sockaddr *)ss, name, sizeof(name), HS_ADDR_PORT);
        snprintf(err, errlen, "cannot listen on %s: %s", name, strerror(e));
        close(fd);
        return -1;
    }
    return fd;
}

/* The access log file: appended to, so lines from several workers never overwrite each other. */
static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

void hs_server_use_modules(hs_server_t *srv, hs_module_t *const *mods)
{
    size_t nr = 0, na = 0, nl = 0;
    srv->modules = mods;
    for (size_t i = 0; mods[i] && i < HS_MAX_MODULES; i++) {
        if (mods[i]->rewrite)
            srv->rewrite[nr++] = mods[i];
        if (mods[i]->access)
            srv->access[na++] = mods[i];
        if (mods[i]->log)
            srv->log[nl++] = mods[i];
    }
    srv->rewrite[nr] = srv->access[na] = srv->log[nl] = NULL;
}

int hs_server_init(hs_server_t *srv, hs_config_t *cfg)
{
    char err[1024];
    memset(srv, 0, sizeof(*srv));
    srv->cfg = cfg;
    hs_server_use_modules(srv, hs_modules);
    /* hosts and paths built, every module's settings checked (idempotent: main did it already) */
    if (hs_config_validate(cfg, err, sizeof(err)) != HS_OK) {
        fprintf(stderr, "statusd: %s\n", err);
        return HS_ERROR;
    }
    srv->limits = (hs_parse_limits_t){
        .max_uri = cfg->max_uri,
        .max_field = cfg->max_field,
        .max_head = cfg->max_head,
        .max_headers = (size_t)cfg->max_headers,
    };
    srv->chunk_limits = (hs_chunked_limits_t){
        .max_body = cfg->max_body, /* each path sets its own (conn.c) */
        .max_ext = cfg->max_chunk_ext,
        .max_trailer = cfg->max_trailer,
    };
    srv->nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (srv->nworkers < 1)
        srv->nworkers = 1;
    srv->log_fd = -1;
    if (cfg->access_log && strcmp(cfg->access_log, "off") != 0) {
        if (strcmp(cfg->access_log, "-") == 0)
            srv->log_fd = 1;
        else if ((srv->log_fd = open_log(cfg->access_log)) < 0) {
            fprintf(stderr, "statusd: cannot open access log %s: %s\n", cfg->access_log, strerror(errno));
            return HS_ERROR;
        }
        struct stat st;
        /* a pipe (or a terminal, a socket) keeps writes of up to PIPE_BUF whole */
        srv->log_write_max = fstat(srv->log_fd, &st) == 0 && S_ISREG(st.st_mode) ? (size_t)1 << 30 : PIPE_BUF;
    }
    for (size_t i = 0; i < cfg->num_listen; i++) {
        if (parse_listen(cfg->listen[i], &srv->listen_addr[i], &srv->listen_len[i], err, sizeof(err)) != HS_OK) {
            fprintf(stderr, "statusd: %s\n", err);
            return HS_ERROR;
        }
    }
    srv->num_listen = cfg->num_listen;
    hs__status_lines_init();
    for (size_t i = 0; srv->modules[i]; i++)
        if (srv->modules[i]->init && srv->modules[i]->init(srv) != HS_OK)
            return HS_ERROR;
    return HS_OK;
}

/* ---- accepting ---- */
typedef struct {
    hs_io_t io; /* first: the loop hands us &io */
    hs_worker_t *w;
} listener_t;

static void send_canned_503(hs_server_t *srv, int fd)
{
    /* Over the connection limit (or out of descriptors): say so, with Retry-After, and close.
     * RFC 9110 §15.6.4. Best effort: the socket is fresh, so its send buffer is empty. */
    char msg[512];
    const char *body = "503 Service Unavailable\nthe server is at its connection limit; retry later\n";
    char date[30];
    hs_http_date(time(NULL), date);
    const char *sn = srv->cfg->server_name; /* NULL (configured empty): no Server field */
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 503 %s\r\nDate: %s\r\n%s%s%sRetry-After: %d\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     hs_status_reason(503), date, sn ? "Server: " : "", sn ? sn : "", sn ? "\r\n" : "",
                     srv->cfg->retry_after, strlen(body), body);
    ssize_t w = write(fd, msg, (size_t)n);
    (void)w;
    shutdown(fd, SHUT_WR);
    close(fd);
}

static void on_accept(hs_io_t *io, int events)
{
    HS_UNUSED(events);
    hs_worker_t *w = ((listener_t *)io)->w;
    hs_server_t *srv = w->srv;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && reserve_fd >= 0) {
                /* out of descriptors: use the reserve to answer one client with 503 */
                close(reserve_fd);
                reserve_fd = -1;
                int cfd = accept4(io->fd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd >= 0)
                    send_canned_503(srv, cfd);
                reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                hs_log_warn("out of file descriptors: answered 503");
                continue;
            }
            return; /* EAGAIN, or a transient error such as ECONNABORTED */
        }
        if (atomic_fetch_add(&srv->connections, 1) >= srv->cfg->max_connections) {
            atomic_fetch_sub(&srv->connections, 1);
            send_canned_503(srv, fd);
            if (srv->log_fd >= 0)
                hs__access_log_raw(w, (const struct sockaddr *)&ss, "-", 1, 503);
            continue;
        }
        w->loop.accepted++; /* a new moment for caches of the loop (the open-file cache) */
        hs__conn_accept(w, fd, (struct sockaddr *)&ss, len);
    }
}

typedef struct {
    hs_worker_t *w;
    listener_t listeners[HS_MAX_LISTEN];
} worker_ctx_t;

/* The loop was woken from another thread: offloaded work may be done (the shutdown flag is
 * looked at after every wake-up anyway). */
static void on_wake(hs_loop_t *loop)
{
    hs__offload_complete(loop->data);
}

/* SIGUSR1: open the access log's path afresh and put the new file behind the same descriptor
 * (dup3 is atomic), so workers writing at that moment write whole lines to one file or the
 * other and never to a closed or reused descriptor. The server runs as --user by now: the
 * log's directory must let that user create the file. */
static void reopen_access_log(hs_server_t *srv)
{
    const char *path = srv->cfg->access_log;
    if (srv->log_fd <= 2 || !path || strcmp(path, "-") == 0)
        return; /* off, or standard output: nothing to reopen */
    int fd = open_log(path);
    if (fd < 0) {
        hs_log_error("access log %s: cannot reopen (%s); still writing to the old file", path, strerror(errno));
        return;
    }
    if (dup3(fd, srv->log_fd, O_CLOEXEC) < 0)
        hs_log_error("access log %s: cannot reopen (%s); still writing to the old file", path, strerror(errno));
    else
        hs_log_info("access log %s reopened", path);
    close(fd);
}

static void *worker_main(void *arg)
{
    worker_ctx_t *ctx = arg;
    hs_worker_t *w = ctx->w;
    hs_server_t *srv = w->srv;
    for (size_t i = 0; i < w->num_listeners; i++)
        hs_io_add_listener(&w->loop, &ctx->listeners[i].io);
    while (!w->draining || w->nconns > 0) {
        hs_loop_run_once(&w->loop, w->draining ? 100 : -1);
        if (w->log_buf.len)
            hs__access_log_flush(w);
        if (atomic_load(&srv->shutting_down)) {
            if (!w->draining) {
                w->draining = true;
                for (size_t i = 0; i < w->num_listeners; i++) {
                    hs_io_del(&w->loop, &ctx->listeners[i].io);
                    close(ctx->listeners[i].io.fd);
                }
            }
            hs__conn_close_idle(w);
            if (w->loop.now_ms >= srv->drain_deadline_ms)
                break;
        }
    }
    hs__conn_close_all(w); /* past the drain deadline: whatever is left is cut */
    hs__access_log_flush(w);
    hs_buf_free(&w->log_buf);
    return NULL;
}

/* SIGTERM with drain_delay: for that long everything is served as before, but health paths
 * answer 503 (srv->stopping), so that a load balancer checking them takes this instance out of
 * its pool while it still accepts; only then does the drain close the listeners. A second
 * SIGTERM or SIGINT ends the delay at once; SIGUSR1 still reopens the access log. */
static void drain_delay(hs_server_t *srv, const sigset_t *set, int sig)
{
    atomic_store(&srv->stopping, 1);
    uint64_t delay = srv->cfg->drain_delay;
    if (!delay)
        return;
    hs_log_info("signal %d: health checks answer 503 for %llums before the drain", sig, (unsigned long long)delay);
    for (uint64_t end = hs_now_ms() + delay, now; (now = hs_now_ms()) < end;) {
        struct timespec ts = {(time_t)((end - now) / 1000), (long)((end - now) % 1000) * 1000000L};
        int got = sigtimedwait(set, NULL, &ts);
        if (got == SIGTERM || got == SIGINT)
            break;
        if (got == SIGUSR1)
            reopen_access_log(srv);
    }
}

int hs_server_run(hs_server_t *srv)
{
    char err[512];
    hs_config_t *cfg = srv->cfg;
    int nw = srv->nworkers;
    worker_ctx_t *ctx = hs_calloc((size_t)nw, sizeof(*ctx));
    srv->workers = hs_calloc((size_t)nw, sizeof(hs_worker_t));

    /* Bind every listener for every worker here, before any thread starts, so that errors are
     * reported at once and port 0 resolves to one port shared by all workers. */
    for (size_t li = 0; li < srv->num_listen; li++) {
        for (int wi = 0; wi < nw; wi++) {
            int fd = open_listener(&srv->listen_addr[li], srv->listen_len[li], err, sizeof(err));
            if (fd < 0) {
                fprintf(stderr, "statusd: %s\n", err);
                return 1;
            }
            if (wi == 0) {
                socklen_t len = srv->listen_len[li];
                getsockname(fd, (struct sockaddr *)&srv->listen_addr[li], &len);
            }
            ctx[wi].listeners[li].io.fd = fd;
            ctx[wi].listeners[li].io.cb = on_accept;
            ctx[wi].listeners[li].w = &srv->workers[wi];
        }
    }
    /* every listener is bound: give up root before any request is served */
    if (hs_os_drop_privileges(cfg->user) != HS_OK)
        return 1;
    /* announced only once the server can really serve (scripts and tests wait for this line) */
    for (size_t li = 0; li < srv->num_listen; li++) {
        char name[HS_ADDR_MAX];
        hs_addr_format((const struct sockaddr *)&srv->listen_addr[li], name, sizeof(name), HS_ADDR_PORT);
        fprintf(stderr, "listening on %s\n", name);
    }
    fflush(stderr);
    reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (int wi = 0; wi < nw; wi++) {
        hs_worker_t *w = &srv->workers[wi];
        w->srv = srv;
        w->id = wi;
        if (hs_loop_init(&w->loop) != HS_OK) {
            fprintf(stderr, "statusd: cannot create an event loop: %s\n", strerror(errno));
            return 1;
        }
        w->loop.data = w;
        w->loop.on_wake = on_wake;
        if (hs__worker_modules_init(w) != HS_OK) {
            fprintf(stderr, "statusd: a module could not prepare worker %d\n", wi);
            return 1;
        }
        pthread_mutex_init(&w->jobs_mu, NULL);
        w->num_listeners = srv->num_listen;
        ctx[wi].w = w;
        if (pthread_create(&w->thread, NULL, worker_main, &ctx[wi]) != 0) {
            fprintf(stderr, "statusd: cannot start worker %d\n", wi);
            return 1;
        }
    }
    hs_log_debug("%d workers started", nw);

    int sig = 0;
    while (sigwait(&set, &sig) == 0 && (sig == SIGHUP || sig == SIGUSR1)) {
        if (sig == SIGUSR1)
            reopen_access_log(srv); /* after logrotate moved the file */
        /* SIGHUP: nothing to reload yet; ignored rather than fatal */
    }
    drain_delay(srv, &set, sig);
    hs_log_info("signal %d: draining connections (up to %llums)", sig, (unsigned long long)cfg->drain_timeout);
    srv->drain_deadline_ms = hs_now_ms() + cfg->drain_timeout;
    atomic_store(&srv->shutting_down, 1);
    for (int wi = 0; wi < nw; wi++)
        hs_loop_wake(&srv->workers[wi].loop);
    for (int wi = 0; wi < nw; wi++)
        pthread_join(srv->workers[wi].thread, NULL);
    hs__offload_shutdown(srv); /* helpers still running post to the loops: before they go */
    for (int wi = 0; wi < nw; wi++) {
        hs_worker_t *w = &srv->workers[wi];
        hs__worker_free_pools(w);
        hs_loop_destroy(&w->loop);
        pthread_mutex_destroy(&w->jobs_mu);
    }
    free(ctx);
    free(srv->workers);
    if (srv->log_fd > 2)
        close(srv->log_fd);
    if (reserve_fd >= 0)
        close(reserve_fd);
    return 0;
}
