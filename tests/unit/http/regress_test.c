/* Regression tests for bugs found by the fuzzers (fuzz/) and the hardening tests
 * (tests/integration/test_smuggling.py, test_slow_clients.py). Each case names the finding.
 *
 * Connection-level cases run a real connection in-process, as fuzz/fuzz_conn.c does: a worker
 * with its own event loop, one end of a socketpair handed to hs__conn_accept, the request
 * written into the other end, the loop run until the answer is complete. */
#define _GNU_SOURCE
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/rig.h"

/* ---- found by fuzz_config + fuzz_conn: an empty server_name ---------------------------------
 * `--server-name ""` (or `server_name:` in YAML) stores NULL; hs__queue_head called strlen(NULL)
 * and the server died on its first response. Now no Server field is sent (RFC 9110 §10.2.4:
 * the field is optional). */
static void test_empty_server_name(void)
{
    static const char *const set[][2] = {{"server_name", ""}, {"access_log", "off"}};
    rig_t r;
    if (!ok(rig_start(&r, set, 2) == HS_OK, "empty server_name: server starts"))
        return;
    ok(r.cfg.server_name == NULL, "empty server_name is stored as NULL");
    static const char req[] = "GET /status/200 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    char *out = rig_exchange(&r, req, sizeof(req) - 1, 0);
    ok(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "empty server_name: the request is answered");
    ok(strstr(out, "\r\nServer:") == NULL, "empty server_name: no Server field");
    ok(strstr(out, "\r\nDate: ") != NULL && strstr(out, "\r\n\r\n") != NULL, "empty server_name: head well formed");
    free(out);
    rig_stop(&r);
}

/* ---- found by fuzz_conn: use after free when the 408 closes the connection -------------------
 * on_timer (header/body timeout) queued the 408 with reject(), whose kick ran the connection;
 * when that run closed it — linger_timeout 0, or the write failing because the client had just
 * reset the connection — conn_free() released it, and on_timer then called hs__conn_run() on
 * the freed connection. (Memory errors show under `make sanitize`; in other builds the test
 * checks the 408 and the close.) */
static void test_408_close_without_linger(void)
{
    static const char *const set[][2] = {{"linger_timeout", "0"}, {"header_timeout", "20ms"}, {"access_log", "off"}};
    rig_t r;
    if (!ok(rig_start(&r, set, 3) == HS_OK, "408 without linger: server starts"))
        return;
    static const char req[] = "GET /get HTTP/1.1\r\nHost: t\r\n"; /* never finished */
    char *out = rig_exchange(&r, req, sizeof(req) - 1, 0);
    ok(strncmp(out, "HTTP/1.1 408 ", 13) == 0, "408 without linger: 408 sent");
    ok(r.w.conns == NULL, "408 without linger: connection closed and freed");
    free(out);
    rig_stop(&r);
}

static void test_408_when_client_vanished(void)
{
    static const char *const set[][2] = {{"header_timeout", "2s"}, {"access_log", "off"}};
    rig_t r;
    if (!ok(rig_start(&r, set, 2) == HS_OK, "408 to a vanished client: server starts"))
        return;
    static const char req[] = "GET /get HTTP/1.1\r\nHost: t\r\n";
    send(r.client, req, sizeof(req) - 1, MSG_NOSIGNAL);
    for (int i = 0; i < 5; i++)
        hs_loop_run_once(&r.w.loop, 1);
    ok(r.w.conns != NULL && r.w.conns->state == HS_CS_HEAD, "408 to a vanished client: head pending");
    /* the client resets the connection; the timeout fires before the loop sees the reset */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(r.client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(r.client);
    r.client = -1;
    r.w.loop.now_ms += 5000;
    hs_wheel_run(&r.w.loop.wheel, r.w.loop.now_ms);
    ok(r.w.conns == NULL, "408 to a vanished client: the failed write closed the connection");
    rig_stop(&r);
}

/* ---- Engine v2: use after free when a helper's wake-up closes a connection -------------------
 * A Connection: close GET of a compressible file of 64 KiB or more is coded on a helper thread.
 * When the client's FIN arrives in the same epoll_wait batch as the helper's wake-up, on_wake
 * answered the request and freed the connection (Connection: close), and the loop then
 * dispatched the FIN to the freed connection (ASan: heap-use-after-free in src/event/epoll.c).
 * The wake-up is made ready first (the job is finished before the FIN is sent), so epoll reports
 * it first in the same batch. */
static void wake_complete(hs_loop_t *loop)
{
    hs__offload_complete(loop->data);
}

static void test_offload_wake_and_fin_in_one_batch(void)
{
    char dir[] = "/tmp/statusd-regress-XXXXXX";
    if (!ok(mkdtemp(dir) != NULL, "offload + FIN: temporary root"))
        return;
    char path[128];
    snprintf(path, sizeof(path), "%s/big.txt", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < 4000; i++)
        fprintf(f, "line %d of a compressible text file for the helper threads\n", i);
    if (f)
        fclose(f);
    static const char *set[][2] = {{"root", NULL}, {"access_log", "off"}, {"linger_timeout", "0"}};
    set[0][1] = dir;
    rig_t r;
    if (!ok(rig_start(&r, (const char *const(*)[2])set, 3) == HS_OK, "offload + FIN: server starts"))
        return;
    pthread_mutex_init(&r.w.jobs_mu, NULL);
    r.w.loop.on_wake = wake_complete;
    r.srv.workers = &r.w; /* one worker: the offload pool completes jobs on it */
    r.srv.nworkers = 1;
    static const char req[] = "GET /big.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n";
    ok(send(r.client, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1, "offload + FIN: request sent");
    /* one wake-up reads and dispatches the request; the loop is not run again until the job is
     * done, so that its wake-up and the FIN meet in one batch */
    for (int i = 0; i < 100 && !(r.w.conns && r.w.conns->req && r.w.conns->req->job); i++)
        hs_loop_run_once(&r.w.loop, 10);
    ok(r.w.conns != NULL && r.w.conns->req && r.w.conns->req->job,
       "offload + FIN: the file is being coded off the loop");
    /* wait (bounded) until the helper has finished and woken the loop */
    bool done = false;
    for (int i = 0; i < 5000 && !done; i++) {
        pthread_mutex_lock(&r.w.jobs_mu);
        done = r.w.jobs_done != NULL;
        pthread_mutex_unlock(&r.w.jobs_mu);
        if (!done)
            usleep(1000);
    }
    ok(done, "offload + FIN: the helper finished");
    shutdown(r.client, SHUT_WR); /* the FIN, after the wake-up */
    usleep(2000);
    hs_loop_run_once(&r.w.loop, 10); /* both in one batch: the wake-up first */
    hs_buf_t out = {0};
    char buf[65536];
    ssize_t k;
    for (int i = 0; i < 200; i++) {
        while ((k = read(r.client, buf, sizeof(buf))) > 0)
            hs_buf_append(&out, buf, (size_t)k);
        if (k == 0)
            break;
        hs_loop_run_once(&r.w.loop, 5);
    }
    hs_buf_append(&out, "", 1);
    ok(strncmp(out.base, "HTTP/1.1 200 ", 13) == 0 && strstr(out.base, "\r\nContent-Encoding: gzip\r\n"),
       "offload + FIN: the coded file was sent");
    ok(r.w.conns == NULL, "offload + FIN: the connection was closed once");
    hs_buf_free(&out);
    hs__offload_shutdown(&r.srv);
    rig_stop(&r);
    unlink(path);
    rmdir(dir);
}

/* ---- Engine v2: a request logged twice --------------------------------------------------------
 * A client that left before its 101 was written was logged by hs_res_upgrade and again by
 * write_step when the write failed. Every request now ends in one place, which logs it once. */
static size_t count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int ch;
    while (f && (ch = fgetc(f)) != EOF)
        n += ch == '\n';
    if (f)
        fclose(f);
    return n;
}

static void test_101_to_a_departed_client_logged_once(void)
{
    char log[] = "/tmp/statusd-regress-log-XXXXXX";
    int lfd = mkstemp(log);
    if (!ok(lfd >= 0, "101 logged once: temporary log"))
        return;
    close(lfd);
    static const char *set[][2] = {{"access_log", NULL}};
    set[0][1] = log;
    rig_t r;
    if (!ok(rig_start(&r, (const char *const(*)[2])set, 1) == HS_OK, "101 logged once: server starts"))
        return;
    static const char req[] = "GET /websocket/echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                              "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    ok(send(r.client, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1, "101 logged once: sent");
    close(r.client); /* gone before the 101 is written: the write fails with EPIPE */
    r.client = -1;
    for (int i = 0; i < 20 && r.w.conns; i++)
        hs_loop_run_once(&r.w.loop, 5);
    ok(r.w.conns == NULL, "101 logged once: connection closed");
    hs__access_log_flush(&r.w);
    is_int((int)count_lines(log), 1, "101 logged once: one access log line");
    rig_stop(&r);
    unlink(log);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    hs_log_level = HS_LOG_ERROR;
    test_empty_server_name();
    test_408_close_without_linger();
    test_408_when_client_vanished();
    test_offload_wake_and_fin_in_one_batch();
    test_101_to_a_departed_client_logged_once();
    return tap_done();
}
