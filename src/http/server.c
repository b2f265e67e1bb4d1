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

/* Kept open to answer 503 when the process runs out of descriptors. The workers are threads that
 * may all meet EMFILE at once: the one that takes the descriptor (an atomic exchange) uses it;
 * the others leave the connection in the backlog for their next turn. */
static _Atomic int reserve_fd = -1;

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
    srv->phase_mods[0] = srv->phase_mods[1] = srv->phase_mods[2] = 0;
    for (size_t i = 0; mods[i] && i < HS_MAX_MODULES; i++) {
        /* bit 0 (the engine's index, never idle) stands for a module without settings of its own
         * (a test's): its phases are never skipped */
        uint32_t bit = mods[i]->index > 0 && mods[i]->index < 32 ? 1u << mods[i]->index : 1u;
        if (mods[i]->rewrite) {
            srv->rewrite[nr++] = mods[i];
            srv->phase_mods[0] |= bit;
        }
        if (mods[i]->access) {
            srv->access[na++] = mods[i];
            srv->phase_mods[1] |= bit;
        }
        if (mods[i]->log) {
            srv->log[nl++] = mods[i];
            srv->phase_mods[2] |= bit;
        }
    }
    srv->rewrite[nr] = srv->access[na] = srv->log[nl] = NULL;
    hs_modules_register_causes(mods); /* a refused table is said on stderr; its causes stay unset */
}

/* A configuration's listen values into a generation (as configured: port 0 stays 0; parsed and
 * checked when they were set, src/config/listen.c), with the contexts of its TLS listeners. */
static int gen_listen(hs_gen_t *g, const hs_config_t *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->num_listen; i++) {
        memcpy(&g->listen_want[i], &cfg->listen_items[i]->addr, sizeof(g->listen_want[i]));
        g->listen_len[i] = cfg->listen_items[i]->addrlen;
        g->listen_addr[i] = g->listen_want[i];
    }
    g->num_listen = cfg->num_listen;
    /* the certificates, keys and CA files: read and checked here, so -t and a reload do too */
    return hs__https_gen_init(g, err, errlen);
}

/* "listening on [tls://]ADDR:PORT" (scripts and tests wait for these lines). */
static void announce(const hs_gen_t *g, size_t li)
{
    char name[HS_ADDR_MAX];
    hs_addr_format((const struct sockaddr *)&g->listen_addr[li], name, sizeof(name), HS_ADDR_PORT);
    fprintf(stderr, "listening on %s%s\n", g->tls[li] ? "tls://" : "", name);
}

/* What a generation needs of the process-wide state: its log files, its hosts' metrics labels. */
static int gen_bind(hs_config_t *cfg, bool *metrics_on, char *err, size_t errlen)
{
    if (hs__access_log_bind(cfg, err, errlen) != HS_OK)
        return HS_ERROR;
    *metrics_on = hs__metrics_bind(cfg);
    return HS_OK;
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
    srv->nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (srv->nworkers < 1)
        srv->nworkers = 1;
    hs__gen_init(&srv->gen1, srv, cfg, 1);
    srv->gen = &srv->gen1;
    atomic_store(&srv->generation, 1);
    bool metrics_on = false;
    if (gen_bind(cfg, &metrics_on, err, sizeof(err)) != HS_OK ||
        gen_listen(&srv->gen1, cfg, err, sizeof(err)) != HS_OK) {
        fprintf(stderr, "statusd: %s\n", err);
        return HS_ERROR;
    }
    atomic_store(&srv->metrics_on, metrics_on);
    hs__status_lines_init();
    if (hs__gen_modules_init(&srv->gen1) != HS_OK)
        return HS_ERROR;
    return HS_OK;
}

/* ---- accepting ---- */
typedef struct {
    hs_io_t io; /* first: the loop hands us &io */
    hs_worker_t *w;
    int index; /* its listen value in the worker's current generation */
} listener_t;

static void send_canned_503(const hs_config_t *cfg, int fd, const char *why)
{
    /* Over the connection limit (or out of descriptors): say so, with Retry-After, and close.
     * RFC 9110 §15.6.4. Best effort: the socket is fresh, so its send buffer is empty. */
    char msg[512];
    char body[160];
    snprintf(body, sizeof(body), "503 Service Unavailable\n%s; retry later\n", why);
    char date[30];
    hs_http_date(time(NULL), date);
    const char *sn = cfg->server_name; /* NULL (configured empty): no Server field */
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 503 %s\r\nDate: %s\r\n%s%s%sRetry-After: %d\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     hs_status_reason(503), date, sn ? "Server: " : "", sn ? sn : "", sn ? "\r\n" : "",
                     cfg->retry_after, strlen(body), body);
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
            int spare;
            if ((errno == EMFILE || errno == ENFILE) && (spare = atomic_exchange(&reserve_fd, -1)) >= 0) {
                /* out of descriptors: the reserve makes room to answer one client with 503
                 * (RFC 9110 §15.6.4) rather than leave it waiting in the backlog */
                close(spare);
                len = sizeof(ss);
                int cfd = accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
                if (cfd >= 0) {
                    send_canned_503(w->gen->cfg, cfd, "the server has run out of file descriptors");
                    hs__access_log_raw(w, w->gen->cfg, (const struct sockaddr *)&ss, "-", 1, 503, HS_CAUSE_OUT_OF_FDS);
                    hs__metrics_t *m = hs__metrics_of(w);
                    if (m)
                        hs__metrics_refused(m, 503, HS_CAUSE_OUT_OF_FDS);
                }
                atomic_store(&reserve_fd, open("/dev/null", O_RDONLY | O_CLOEXEC));
                hs_log_warn("out of file descriptors: answered 503");
                continue;
            }
            return; /* EAGAIN, or a transient error such as ECONNABORTED */
        }
        if (atomic_fetch_add(&srv->connections, 1) >= w->gen->cfg->max_connections) {
            atomic_fetch_sub(&srv->connections, 1);
            send_canned_503(w->gen->cfg, fd, "the server is at its connection limit");
            hs__access_log_raw(w, w->gen->cfg, (const struct sockaddr *)&ss, "-", 1, 503, HS_CAUSE_OVERLOAD);
            hs__metrics_t *m = hs__metrics_of(w);
            if (m)
                hs__metrics_refused(m, 503, HS_CAUSE_OVERLOAD);
            continue;
        }
        w->loop.accepted++; /* a new moment for caches of the loop (the open-file cache) */
        hs__conn_accept(w, fd, (struct sockaddr *)&ss, len, ((listener_t *)io)->index);
    }
}

/* A worker's listening sockets: those of its current generation, in the same order. */
typedef struct {
    listener_t *l[HS_MAX_LISTEN];
    size_t n;
} listeners_t;

static listener_t *listener_new(hs_worker_t *w, int fd, int index)
{
    listener_t *l = hs_calloc(1, sizeof(*l));
    l->io.fd = fd;
    l->io.cb = on_accept;
    l->w = w;
    l->index = index;
    return l;
}

static void listener_close(hs_worker_t *w, listener_t *l)
{
    hs_io_del(&w->loop, &l->io);
    close(l->io.fd);
    free(l);
}

/* Take the generation a reload handed over, between two wake-ups of the loop: listeners that
 * stay are kept as they are (their queue of connections not yet accepted too), new ones are
 * added, removed ones closed; new requests take the new generation from now on. */
static void worker_take_gen(hs_worker_t *w)
{
    hs_gen_t *g = atomic_exchange(&w->next_gen, NULL);
    if (!g)
        return;
    if (!hs__gen_switch(w, g)) {
        atomic_store(&w->next_gen, g); /* too many older generations still busy here: later */
        return;
    }
    listeners_t *old = w->listeners, now = {.n = g->num_listen};
    bool kept[HS_MAX_LISTEN] = {false};
    for (size_t i = 0; i < g->num_listen; i++) {
        int from = g->listen_from[i];
        if (from >= 0 && (size_t)from < old->n && !w->draining) {
            now.l[i] = old->l[from];
            now.l[i]->index = (int)i; /* its connections take the new generation's TLS contexts */
            kept[from] = true;
            continue;
        }
        int *fd = &g->new_fds[w->id * HS_MAX_LISTEN + i];
        now.l[i] = listener_new(w, *fd, (int)i);
        *fd = -1; /* the worker's now */
        if (w->draining)
            close(now.l[i]->io.fd); /* shutting down meanwhile: nothing more is accepted */
        else
            hs_io_add_listener(&w->loop, &now.l[i]->io);
    }
    for (size_t i = 0; i < old->n; i++)
        if (!kept[i] && !w->draining)
            listener_close(w, old->l[i]);
    if (w->draining) /* closed by the drain already: only their memory is left */
        for (size_t i = 0; i < now.n; i++)
            free(now.l[i]);
    *old = now;
    if (w->draining)
        old->n = 0;
    for (hs_module_t *const *m = w->srv->modules; *m; m++)
        if ((*m)->worker_gen && w->mod[(*m)->index])
            (*m)->worker_gen(w);
}

/* The loop was woken from another thread: offloaded work may be done (the shutdown flag is
 * looked at after every wake-up anyway). */
static void on_wake(hs_loop_t *loop)
{
    hs__offload_complete(loop->data);
}

static void *worker_main(void *arg)
{
    hs_worker_t *w = arg;
    hs_server_t *srv = w->srv;
    listeners_t *ls = w->listeners;
    for (size_t i = 0; i < ls->n; i++)
        hs_io_add_listener(&w->loop, &ls->l[i]->io);
    while (!w->draining || w->nconns > 0) {
        hs_loop_run_once(&w->loop, w->draining ? 100 : -1);
        if (w->log_dirty)
            hs__access_log_flush(w);
        if (atomic_load_explicit(&w->next_gen, memory_order_relaxed)) {
            worker_take_gen(w); /* a reload: the next requests take the new configuration */
            hs__metrics_refresh(w);
        }
        if (atomic_load(&srv->shutting_down)) {
            if (!w->draining) {
                w->draining = true;
                for (size_t i = 0; i < ls->n; i++)
                    listener_close(w, ls->l[i]);
                ls->n = 0;
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

/* ---- reload (SIGHUP) ----
 * On the main thread, between signals: read the configuration again exactly as at startup
 * (srv->load: defaults, file, environment, flags) and check it; a configuration that does not
 * load, validate, bind its new listeners or initialise its modules is refused and logged, and
 * the current one goes on serving. An accepted one becomes a new generation: listeners whose
 * configured address stays are kept (never closed, so no connection is refused), new addresses
 * are bound for every worker, removed ones are closed by their workers; each worker is handed
 * the generation (a reference taken for it here) and woken, and takes it between two wake-ups
 * of its loop. The reload is reported done (log, READY=1) once every worker has taken it, so a
 * request sent after that is served by it. Settings a running process cannot change (workers,
 * user) keep their value, with a warning. */
static bool workers_took_gen(hs_server_t *srv)
{
    for (int i = 0; i < srv->nworkers; i++)
        if (atomic_load(&srv->workers[i].next_gen))
            return false;
    return true;
}

static bool same_want(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    return a->ss_family == b->ss_family && same_address(a, b) && same_address(b, a);
}

static void reload_config(hs_server_t *srv)
{
    char err[1024] = "";
    hs_gen_t *old = srv->gen, *g = NULL;
    hs_config_t *cfg = hs_calloc(1, sizeof(*cfg));
    int nw = srv->nworkers;
    hs_os_notify_reloading();
    if (!workers_took_gen(srv)) {
        snprintf(err, sizeof(err), "the previous reload is still being taken up by the workers");
        goto Refused;
    }
    if (!srv->load) {
        snprintf(err, sizeof(err), "this server cannot read its configuration again");
        goto Refused;
    }
    if (srv->load(cfg, srv->load_arg, err, sizeof(err)) != HS_OK)
        goto Refused;
    int workers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (HS_MAX(workers, 1) != nw)
        hs_log_warn("reload: workers changes at the next start only (%d now)", nw);
    if (strcmp(cfg->user ? cfg->user : "", old->cfg->user ? old->cfg->user : ""))
        hs_log_warn("reload: user changes at the next start only");
    if (cfg->io_uring != old->cfg->io_uring)
        hs_log_warn("reload: io_uring changes at the next start only");
    g = hs_calloc(1, sizeof(*g));
    hs__gen_init(g, srv, cfg, old->id + 1);
    g->owns_cfg = true;
    g->new_fds = hs_malloc((size_t)nw * HS_MAX_LISTEN * sizeof(int));
    for (int i = 0; i < nw * HS_MAX_LISTEN; i++)
        g->new_fds[i] = -1;
    bool metrics_on = false;
    if (gen_listen(g, cfg, err, sizeof(err)) != HS_OK || gen_bind(cfg, &metrics_on, err, sizeof(err)) != HS_OK)
        goto Refused;
    for (size_t i = 0; i < g->num_listen; i++) {
        for (size_t k = 0; k < old->num_listen && g->listen_from[i] < 0; k++)
            if (same_want(&g->listen_want[i], &old->listen_want[k])) {
                g->listen_from[i] = (int)k; /* kept as it is */
                g->listen_addr[i] = old->listen_addr[k];
            }
        for (int wi = 0; wi < nw && g->listen_from[i] < 0; wi++) {
            int fd = open_listener(&g->listen_want[i], g->listen_len[i], err, sizeof(err));
            if (fd < 0)
                goto Refused;
            g->new_fds[wi * HS_MAX_LISTEN + i] = fd;
            if (wi == 0) { /* port 0: one port for every worker (listen_want keeps the 0) */
                socklen_t len = sizeof(g->listen_addr[i]);
                getsockname(fd, (struct sockaddr *)&g->listen_addr[i], &len);
            }
        }
    }
    hs__https_gen_ports(g);
    if (hs__gen_modules_init(g) != HS_OK) {
        snprintf(err, sizeof(err), "a module refused the configuration");
        goto Refused;
    }
    /* publish: the workers take it from here */
    srv->cfg = cfg;
    srv->gen = g;
    if (srv->tls_keys) /* the keys outlive generations; their period is the configuration's */
        hs_tls_keys_set_rotation(srv->tls_keys, cfg->tls_ticket_rotate);
    atomic_store(&srv->generation, g->id);
    atomic_store(&srv->metrics_on, metrics_on);
    for (int wi = 0; wi < nw; wi++) {
        atomic_fetch_add(&g->refs, 1); /* the worker's, taken for it */
        atomic_store(&srv->workers[wi].next_gen, g);
        hs_loop_wake(&srv->workers[wi].loop);
    }
    for (size_t i = 0; i < g->num_listen; i++)
        if (g->listen_from[i] < 0)
            announce(g, i);
    hs__gen_release(old); /* the server's reference: it ends with its last request */
    for (int i = 0; i < 5000 && !workers_took_gen(srv); i++)
        usleep(1000);
    if (!workers_took_gen(srv))
        hs_log_warn("reload: a worker has not taken generation %llu yet", (unsigned long long)g->id);
    atomic_fetch_add(&srv->reloads_ok, 1);
    hs_log_info("configuration reloaded (generation %llu)", (unsigned long long)g->id);
    hs_os_notify("READY=1\nSTATUS=serving (configuration reloaded)");
    return;
Refused:
    atomic_fetch_add(&srv->reloads_failed, 1);
    hs_log_error("reload refused, still serving generation %llu: %s", (unsigned long long)old->id, err);
    if (g) { /* never handed over, its modules not initialised (or undone): discarded here */
        hs__https_gen_free(g);
        for (int i = 0; i < nw * HS_MAX_LISTEN; i++)
            if (g->new_fds[i] >= 0)
                close(g->new_fds[i]);
        free(g->new_fds);
        free(g);
    }
    hs_config_free(cfg);
    free(cfg);
    hs_os_notify("READY=1\nSTATUS=serving (reload refused)");
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
            hs__access_log_reopen();
    }
}

int hs_server_run(hs_server_t *srv)
{
    char err[512];
    hs_config_t *cfg = srv->cfg;
    hs_gen_t *g = srv->gen;
    int nw = srv->nworkers;
    listeners_t *wls = hs_calloc((size_t)nw, sizeof(*wls));
    srv->workers = hs_calloc((size_t)nw, sizeof(hs_worker_t));

    /* Bind every listener for every worker here, before any thread starts, so that errors are
     * reported at once and port 0 resolves to one port shared by all workers; or take the
     * sockets the service manager passed (socket activation). */
    int ninherit = hs_os_listen_fds();
    bool used[64] = {false};
    if (ninherit < 0) {
        fprintf(stderr, "statusd: socket activation: LISTEN_FDS names a descriptor that is not open\n");
        goto Fail;
    }
    for (size_t li = 0; li < g->num_listen; li++) {
        int inherited = inherited_for(&g->listen_want[li], ninherit, used);
        for (int wi = 0; wi < nw; wi++) {
            int fd = inherited < 0 ? open_listener(&g->listen_want[li], g->listen_len[li], err, sizeof(err))
                     : wi == 0     ? inherited
                                   : fcntl(inherited, F_DUPFD_CLOEXEC, 3);
            if (fd < 0) {
                fprintf(stderr, "statusd: %s\n", err);
                goto Fail;
            }
            if (wi == 0) {
                socklen_t len = sizeof(g->listen_addr[li]);
                getsockname(fd, (struct sockaddr *)&g->listen_addr[li], &len);
            }
            wls[wi].l[li] = listener_new(&srv->workers[wi], fd, (int)li);
        }
    }
    for (int wi = 0; wi < nw; wi++)
        wls[wi].n = g->num_listen;
    for (int i = 0; i < ninherit; i++) {
        if (!used[i]) {
            struct sockaddr_storage got;
            socklen_t len = sizeof(got);
            char name[HS_ADDR_MAX] = "?";
            if (getsockname(3 + i, (struct sockaddr *)&got, &len) == 0)
                hs_addr_format((const struct sockaddr *)&got, name, sizeof(name), HS_ADDR_PORT);
            fprintf(stderr, "statusd: socket activation: inherited socket %d (%s) matches no listen address\n", 3 + i,
                    name);
            goto Fail;
        }
    }
    hs_os_notify_init(); /* while still root: the notify socket may be in a private directory */
    /* every listener is bound: give up root before any request is served */
    if (hs_os_drop_privileges(cfg->user) != HS_OK)
        goto Fail;
    hs__https_gen_ports(g); /* the ports as bound: the URLs of 497 and 308 answers name them */
    /* The signals the main thread waits for are blocked before the listeners are announced: a
     * script that sends SIGHUP (or SIGTERM) as soon as it reads "listening on" must find it
     * pending for sigwait, not meet the default action (which ends the process). The workers
     * started below inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* announced only once the server can really serve (scripts and tests wait for this line) */
    for (size_t li = 0; li < g->num_listen; li++)
        announce(g, li);
    fflush(stderr);
    reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

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
        if (cfg->io_uring) {
            int r = hs_loop_use_uring(&w->loop);
            if (r != HS_OK && wi == 0) /* the same for every worker: said once */
                hs_log_warn("io_uring: not available (%s): every read and write is a system call of its own",
                            strerror(-r));
        }
        w->metrics = hs__metrics_new();
        hs__metrics_refresh(w);
        if (hs__worker_modules_init(w) != HS_OK) {
            fprintf(stderr, "statusd: a module could not prepare worker %d\n", wi);
            return 1;
        }
        pthread_mutex_init(&w->jobs_mu, NULL);
        w->listeners = &wls[wi];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
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
        else {
            reload_config(srv);
            /* and, whether or not the configuration changed, each module reads its files again
             * (password files …: kept across generations, so a reload alone would not) */
            for (size_t i = 0; srv->modules[i]; i++)
                if (srv->modules[i]->reload)
                    srv->modules[i]->reload(srv);
        }
    }
    hs_os_notify("STOPPING=1\nSTATUS=draining connections");
    drain_delay(srv, &set, sig);
    cfg = srv->cfg; /* the current generation's */
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
        hs__worker_free_pools(w); /* also gives back its generations */
        for (size_t i = 0; i < wls[wi].n; i++)
            free(wls[wi].l[i]); /* closed by the drain */
        hs_loop_destroy(&w->loop);
        pthread_mutex_destroy(&w->jobs_mu);
        hs__metrics_free(w->metrics);
    }
    hs__gen_release(srv->gen); /* the server's: the last reference, its fini runs now */
    srv->gen = NULL;
    free(wls);
    free(srv->workers);
    hs__access_log_close_all();
    int spare = atomic_exchange(&reserve_fd, -1);
    if (spare >= 0)
        close(spare);
    return 0;
Fail: /* before any worker started: what was bound and allocated goes */
    for (int wi = 0; wi < nw; wi++)
        for (size_t i = 0; i < HS_MAX_LISTEN; i++)
            if (wls[wi].l[i]) {
                close(wls[wi].l[i]->io.fd);
                free(wls[wi].l[i]);
            }
    free(wls);
    free(srv->workers);
    srv->workers = NULL;
    return 1;
}

void hs_server_fini(hs_server_t *srv)
{
    if (srv->gen) /* never run (statusd -t): the first generation still holds its TLS contexts */
        hs__https_gen_free(srv->gen);
    hs_tls_keys_free(srv->tls_keys);
    srv->tls_keys = NULL;
}
