/* statusd fuzz target: a whole connection — the state machine in conn.c with the parser, the
 * chunked decoder, the modules (client-testing API), responses, error pages, the access log,
 * timeouts and close/linger, all driven through a real socket and the real event loop.
 *
 * Per input: a fresh event loop and worker; a socketpair whose one end is handed to
 * hs__conn_accept like an accepted TCP connection; the input is written into the other end in
 * several writes, split at the two-byte marker "\xff\xfe", and after each write the loop runs a
 * bounded number of times while the output is read and discarded. Then the client half-closes,
 * the loop runs again, and the clock is moved forward so that every pending timeout fires
 * (408, keep-alive close, linger end, handler timers). Finally every connection is closed and
 * everything is freed (hs__conn_close_all), so LeakSanitizer sees any leak.
 *
 * The library is built with HS_CHECK_RESPONSES=1: any response that breaks a registry rule
 * (body on 204/304, 405 without Allow …) aborts, which libFuzzer reports as a crash.
 *
 * Optional control markers (each two bytes, consumed, not sent):
 *   "\xff\xfd"  fire all pending timers now (as if the clock jumped past every timeout)
 *   "\xff\xfc"  start a graceful shutdown (SIGTERM): the server drains
 *   "\xff\xfb"  the client goes away: its socket is closed with a reset (SO_LINGER 0) without the
 *               server being told first; nothing more is sent, timers still fire
 *   "\xff\xfa"  linger_timeout = 0 for the rest of this input (close at once after an error)
 */
#define _GNU_SOURCE
#include "internal.h"
#include "fuzz_util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

static hs_config_t cfg;
static hs_server_t srv;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    hs_config_defaults(&cfg);
    /* short timeouts so that the fast-forward below fires them; an access log that goes nowhere
     * but is still formatted (escaping of hostile request lines) */
    static const char *const set[][2] = {
        {"api", "true"},
        {"header_timeout", "500ms"},
        {"body_timeout", "500ms"},
        {"keepalive_timeout", "500ms"},
        {"send_timeout", "500ms"},
        {"linger_timeout", "200ms"},
        {"drain_timeout", "500ms"},
        {"access_log", "/dev/null"},
        {"max_body", "64k"},
        {"max_head", "8k"},
        {"max_uri", "2k"},
        {"max_field", "2k"},
        {"max_headers", "32"},
        {"max_chunk_ext", "128"},
        {"max_trailer", "512"},
    };
    for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
        const hs_directive_t *d = hs_config_find(set[i][0]);
        if (!d || hs_config_set(&cfg, d, set[i][1], err, sizeof(err)) != HS_OK) {
            fprintf(stderr, "fuzz_conn: cannot set %s: %s\n", set[i][0], d ? err : "unknown directive");
            abort();
        }
    }
    memset(&srv, 0, sizeof(srv));
    if (hs_server_init(&srv, &cfg) != HS_OK)
        abort();
    hs_log_level = HS_LOG_ERROR;
    signal(SIGPIPE, SIG_IGN); /* as hs_server_run does */
    return 0;
}

/* Read and discard everything the server wrote so far. */
static void drain(int fd)
{
    char sink[65536];
    if (fd < 0)
        return;
    for (;;) {
        ssize_t n = read(fd, sink, sizeof(sink));
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        return; /* EAGAIN, EOF or error */
    }
}

static void pump(hs_worker_t *w, int client, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        hs_loop_run_once(&w->loop, 0);
        drain(client);
        if (!w->conns)
            return;
    }
}

/* As if the clock jumped past every timeout: run each due timer, let the connection act on what
 * it sent (a 408, a linger), repeat while timers remain. The loop's clock is not used again for
 * timers after this (hs_loop_run_once resets it to the real clock, which is now behind the wheel,
 * so new timers only fire at the next fast-forward). */
static size_t worker_timers; /* the modules' own per-worker timers (the gateway's health tick) */

static void fast_forward(hs_worker_t *w, int client)
{
    for (int i = 0; i < 6 && w->loop.wheel.count > worker_timers; i++) {
        uint64_t now = HS_MAX(w->loop.now_ms, w->loop.wheel.last) + 2000;
        w->loop.now_ms = now;
        hs_wheel_run(&w->loop.wheel, now);
        drain(client);
        /* give any connection that is still alive a chance to write/read without the clock */
        for (int k = 0; k < 4 && w->conns; k++) {
            hs_conn_t *c = w->conns;
            c->sock.readable = true;
            hs__conn_run(c);
            drain(client);
        }
    }
}

static void send_all(hs_worker_t *w, int client, const uint8_t *p, size_t n)
{
    for (int tries = 0; n > 0 && tries < 64; tries++) {
        ssize_t k = send(client, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k < 0 && errno != EAGAIN && errno != EINTR) {
            return; /* the server closed: EPIPE */
        }
        pump(w, client, 2);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hs_worker_t w;
    memset(&w, 0, sizeof(w));
    w.srv = &srv;
    if (hs_loop_init(&w.loop) != HS_OK)
        abort();
    w.loop.data = &w;
    if (hs__worker_modules_init(&w) != HS_OK)
        abort();
    worker_timers = w.loop.wheel.count; /* a worker's, not a connection's: they stay */
    atomic_store(&srv.shutting_down, 0);
    atomic_store(&srv.connections, 0);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    uint64_t saved_linger = cfg.linger_timeout;
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000), .sin_addr.s_addr = htonl(0x7f000001)};
    atomic_fetch_add(&srv.connections, 1); /* as on_accept does before handing the socket over */
    hs__conn_accept(&w, sv[0], (struct sockaddr *)&peer, sizeof(peer), -1);

    size_t pos = 0;
    const uint8_t *piece;
    size_t plen;
    while (fuzz_next_piece(data, size, &pos, 0xff, 0xfe, &piece, &plen)) {
        /* control markers inside a piece */
        size_t s = 0;
        for (size_t i = 0; i + 1 < plen; i++) {
            if (piece[i] != 0xff || piece[i + 1] < 0xfa || piece[i + 1] > 0xfd)
                continue;
            /* bytes before the marker go out and are processed; two markers in a row act with
             * nothing in between (e.g. the client vanishes and the timers fire before the loop
             * has seen the reset: the race of a real server) */
            if (i > s && sv[1] >= 0) {
                send_all(&w, sv[1], piece + s, i - s);
                pump(&w, sv[1], 4);
            }
            switch (piece[i + 1]) {
            case 0xfd: fast_forward(&w, sv[1]); break;
            case 0xfc:
                atomic_store(&srv.shutting_down, 1);
                hs__conn_close_idle(&w);
                break;
            case 0xfb: {
                if (sv[1] < 0)
                    break;
                struct linger lg = {.l_onoff = 1, .l_linger = 0};
                setsockopt(sv[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                close(sv[1]);
                sv[1] = -1;
                break;
            }
            case 0xfa: cfg.linger_timeout = 0; break;
            }
            s = i + 2;
            i++;
        }
        if (sv[1] < 0)
            break;
        send_all(&w, sv[1], piece + s, plen - s);
        pump(&w, sv[1], 8);
    }
    if (sv[1] >= 0)
        shutdown(sv[1], SHUT_WR);
    pump(&w, sv[1], 8);
    fast_forward(&w, sv[1]);
    pump(&w, sv[1], 4);

    hs__conn_close_all(&w);
    FUZZ_CHECK(atomic_load(&srv.connections) == 0, "connection count %d after closing all",
               atomic_load(&srv.connections));
    FUZZ_CHECK(w.nconns == 0, "worker still counts %d connections", w.nconns);
    FUZZ_CHECK(w.loop.wheel.count == worker_timers, "%zu timers still linked after every connection closed",
               w.loop.wheel.count - worker_timers);
    if (sv[1] >= 0)
        close(sv[1]);
    cfg.linger_timeout = saved_linger;
    hs__worker_free_pools(&w); /* pooled read buffers and requests, as at server exit */
    hs_loop_destroy(&w.loop);
    return 0;
}
