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

/* ---- socket activation (systemd.socket(5)): listeners the service manager bound for us ----
 * Each inherited socket must be a listening stream socket on the address of a `listen` value
 * (a configured port 0 takes the inherited socket's port); it is then used instead of binding.
 * All workers share it (each its own duplicate), as SO_REUSEPORT cannot be added to a socket
 * bound by someone else. An inherited socket that no listen value names is an error: the unit
 * and the configuration disagree, and guessing which one is right would serve the wrong port. */
static bool same_address(const struct sockaddr_storage *want, const struct sockaddr_storage *got)
{
    if (want->ss_family != got->ss_family)
        return false;
    if (want->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)want, *b = (const void *)got;
        return a->sin_addr.s_addr == b->sin_addr.s_addr && (!a->sin_port || a->sin_port == b->sin_port);
    }
    const struct sockaddr_in6 *a = (const void *)want, *b = (const void *)got;
    return !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) &&
           (!a->sin6_port || a->sin6_port == b->sin6_port);
}

/* The inherited descriptor for a listen address (marked used), or -1. */
static int inherited_for(const struct sockaddr_storage *want, int ninherit, bool *used)
{
    for (int i = 0; i < ninherit; i++) {
        struct sockaddr_storage got;
        socklen_t len = sizeof(got);
        int acc = 0;
        socklen_t alen = sizeof(acc);
        if (used[i] || getsockname(3 + i, (struct sockaddr *)&got, &len) != 0 ||
            getsockopt(3 + i, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) != 0 || !acc || !same_address(want, &got))
            continue;
        used[i] = true;
        int fl = fcntl(3 + i, F_GETFL);
        fcntl(3 + i, F_SETFL, fl | O_NONBLOCK); /* the accept loop stops at EAGAIN */
        return 3 + i;
    }
    return -1;
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
    hs_modules_register_causes(mods); /* a refused table is said on stderr; its causes stay unset */
}

int hs_server_init(hs_server_t *srv, hs_config_t *cfg)
{
    char err[1024];
    memset(srv, 0, sizeof(*srv));
    srv->cfg = cfg;
    hs_server_use_modules(srv, hs_modules);
    if (hs_modules_register_causes(srv->modules) != HS_OK)
        return HS_ERROR;
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
    if (hs__access_log_bind(cfg, err, sizeof(err)) != HS_OK) {
        fprintf(stderr, "statusd: %s\n", err);
        return HS_ERROR;
    }
    hs__metrics_bind(srv, cfg);
    atomic_store(&srv->generation, 1);
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
                if (cfd >= 0) {
                    send_canned_503(srv, cfd);
                    hs__metrics_t *m = hs__metrics_of(w);
                    if (m)
                        hs__metrics_refused(m, 503, HS_CAUSE_OUT_OF_FDS);
                }
                reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                hs_log_warn("out of file descriptors: answered 503");
                continue;
            }
            return; /* EAGAIN, or a transient error such as ECONNABORTED */
        }
        if (atomic_fetch_add(&srv->connections, 1) >= srv->cfg->max_connections) {
            atomic_fetch_sub(&srv->connections, 1);
            send_canned_503(srv, fd);
            hs__access_log_raw(w, srv->cfg, (const struct sockaddr *)&ss, "-", 1, 503, HS_CAUSE_OVERLOAD);
            hs__metrics_t *m = hs__metrics_of(w);
            if (m)
                hs__metrics_refused(m, 503, HS_CAUSE_OVERLOAD);
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

static void *worker_main(void *arg)
{
    worker_ctx_t *ctx = arg;
    hs_worker_t *w = ctx->w;
    hs_server_t *srv = w->srv;
    for (size_t i = 0; i < w->num_listeners; i++)
        hs_io_add_listener(&w->loop, &ctx->listeners[i].io);
    while (!w->draining || w->nconns > 0) {
        hs_loop_run_once(&w->loop, w->draining ? 100 : -1);
        if (w->log_dirty)
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
    return NULL;
}

int hs_server_run(hs_server_t *srv)
{
    char err[512];
    hs_config_t *cfg = srv->cfg;
    int nw = srv->nworkers;
    worker_ctx_t *ctx = hs_calloc((size_t)nw, sizeof(*ctx));
    srv->workers = hs_calloc((size_t)nw, sizeof(hs_worker_t));

    /* Bind every listener for every worker here, before any thread starts, so that errors are
     * reported at once and port 0 resolves to one port shared by all workers; or take the
     * sockets the service manager passed (socket activation). */
    int ninherit = hs_os_listen_fds();
    bool used[64] = {false};
    if (ninherit < 0) {
        fprintf(stderr, "statusd: socket activation: LISTEN_FDS names a descriptor that is not open\n");
        return 1;
    }
    for (size_t li = 0; li < srv->num_listen; li++) {
        int inherited = inherited_for(&srv->listen_addr[li], ninherit, used);
        for (int wi = 0; wi < nw; wi++) {
            int fd = inherited < 0 ? open_listener(&srv->listen_addr[li], srv->listen_len[li], err, sizeof(err))
                     : wi == 0     ? inherited
                                   : fcntl(inherited, F_DUPFD_CLOEXEC, 3);
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
    for (int i = 0; i < ninherit; i++) {
        if (!used[i]) {
            struct sockaddr_storage got;
            socklen_t len = sizeof(got);
            char name[HS_ADDR_MAX] = "?";
            if (getsockname(3 + i, (struct sockaddr *)&got, &len) == 0)
                hs_addr_format((const struct sockaddr *)&got, name, sizeof(name), HS_ADDR_PORT);
            fprintf(stderr, "statusd: socket activation: inherited socket %d (%s) matches no listen address\n", 3 + i,
                    name);
            return 1;
        }
    }
    hs_os_notify_init(); /* while still root: the notify socket may be in a private directory */
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
        w->metrics = hs__metrics_new();
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
    hs_os_notify("READY=1\nSTATUS=serving"); /* systemd Type=notify: the service is up */

    int sig = 0;
    while (sigwait(&set, &sig) == 0 && (sig == SIGHUP || sig == SIGUSR1)) {
        if (sig == SIGUSR1)
            hs__access_log_reopen(); /* after logrotate moved the files; the server runs as --user by now:
                                        each log's directory must let that user create the file */
        /* SIGHUP: nothing to reload yet; ignored rather than fatal */
    }
    hs_log_info("signal %d: draining connections (up to %llums)", sig, (unsigned long long)cfg->drain_timeout);
    hs_os_notify("STOPPING=1\nSTATUS=draining connections");
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
        hs__metrics_free(w->metrics);
    }
    free(ctx);
    free(srv->workers);
    hs__access_log_close_all();
    if (reserve_fd >= 0)
        close(reserve_fd);
    return 0;
}
