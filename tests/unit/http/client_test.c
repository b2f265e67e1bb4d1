/* Tests for the HTTP/1.1 client and its keep-alive pools (src/http/client.c), driven over real
 * sockets against the fault-injecting upstream tests/integration/fixtures/upstream.py (started
 * here on an ephemeral port, stopped by PID), on an in-process loop. Every cause of the
 * gateway's table that an upstream (or the network) can produce is produced here; see the
 * `causes` list at the end for the ones that need something else. All loops are bounded. */
#define _GNU_SOURCE
#include "hs/client.h"
#include "hs/tls.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/tlsgen.h"

static hs_loop_t loop;
static struct sockaddr_in up;   /* the Python upstream */
static pid_t up_pid = -1;
static bool seen[HS_UP__COUNT]; /* causes produced by a test */

/* ---- the upstream ------------------------------------------------------------------------------ */
static int start_upstream(void)
{
    const char *script = "tests/integration/fixtures/upstream.py";
    if (access(script, R_OK) != 0)
        return HS_ERROR;
    int pfd[2];
    if (pipe(pfd) < 0)
        return HS_ERROR;
    up_pid = fork();
    if (up_pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        execl("/usr/bin/python3", "python3", script, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char line[64] = {0};
    size_t n = 0;
    while (n < sizeof(line) - 1) {
        ssize_t k = read(pfd[0], line + n, 1);
        if (k <= 0 || line[n] == '\n')
            break;
        n++;
    }
    close(pfd[0]);
    int port = 0;
    if (sscanf(line, "port %d", &port) != 1)
        return HS_ERROR;
    up = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return HS_OK;
}

static void stop_upstream(void)
{
    if (up_pid > 0) {
        kill(up_pid, SIGTERM);
        waitpid(up_pid, NULL, 0);
    }
}

/* ---- one exchange, recorded ---------------------------------------------------------------------- */
typedef struct {
    hs_client_t *c;
    int status, ninterim, interim[8];
    hs_buf_t body;
    char trailer[64];
    bool ended, failed;
    hs_client_error_t err;
    int drains, heads;
    size_t pause_after; /* pause once this many body bytes arrived (0 = never) */
    bool free_on_head;
    const char *tunnel_send;
} rec_t;

static void on_interim(hs_client_t *c, const hs_parsed_res_t *res)
{
    rec_t *r = c->data;
    if (r->ninterim < 8)
        r->interim[r->ninterim] = res->status;
    r->ninterim++;
}
static void on_head(hs_client_t *c, const hs_parsed_res_t *res, const hs_res_meta_t *meta)
{
    rec_t *r = c->data;
    r->status = res ? res->status : -1; /* HS_CLIENT_TUNNEL: no head, the tunnel is open */
    r->heads++;
    if (r->free_on_head) {
        hs_client_free(c);
        r->c = NULL;
        return;
    }
    if (r->tunnel_send) {
        hs_client_write(c, r->tunnel_send, strlen(r->tunnel_send));
        hs_client_write_end(c);
    }
}
static void on_body(hs_client_t *c, const char *p, size_t n)
{
    rec_t *r = c->data;
    hs_buf_append(&r->body, p, n);
    if (r->pause_after && r->body.len >= r->pause_after) {
        hs_client_pause(c, true);
        r->pause_after = 0;
    }
}
static void on_end(hs_client_t *c, const hs_header_t *t, size_t n)
{
    rec_t *r = c->data;
    r->ended = true;
    for (size_t i = 0; i < n; i++)
        snprintf(r->trailer, sizeof(r->trailer), "%.*s: %.*s", (int)t[i].name.len, t[i].name.base,
                 (int)t[i].value.len, t[i].value.base);
}
static void on_error(hs_client_t *c, const hs_client_error_t *e)
{
    rec_t *r = c->data;
    r->failed = true;
    r->err = *e;
    if (e->cause > HS_UP_NONE && e->cause < HS_UP__COUNT)
        seen[e->cause] = true;
}
static void on_drain(hs_client_t *c)
{
    ((rec_t *)c->data)->drains++;
}
static const hs_client_cbs_t cbs = {on_interim, on_head, on_body, on_end, on_error, on_drain};

static hs_client_req_t get(const char *target)
{
    static hs_header_t host[1];
    host[0] = (hs_header_t){.name = HS_IOV("Host"), .value = HS_IOV("upstream.test")};
    return (hs_client_req_t){.method = HS_METHOD_GET,
                             .target = hs_iov_cstr(target),
                             .headers = host,
                             .num_headers = 1,
                             .content_length = HS_CLIENT_NO_BODY,
                             .timeouts = {.connect_ms = 2000, .send_ms = 2000, .head_ms = 2000, .idle_ms = 2000}};
}

/* Run the loop until the exchange ended or failed (or max_ms passed). */
static void wait_done(rec_t *r, int max_ms)
{
    uint64_t until = hs_now_ms() + (uint64_t)max_ms;
    while (!r->ended && !r->failed && hs_now_ms() < until && (r->c || !r->heads))
        hs_loop_run_once(&loop, 10);
}
static void spin(int ms)
{
    uint64_t until = hs_now_ms() + (uint64_t)ms;
    while (hs_now_ms() < until)
        hs_loop_run_once(&loop, 5);
}

static void rec_free(rec_t *r)
{
    if (r->c)
        hs_client_free(r->c);
    r->c = NULL;
    hs_buf_free(&r->body);
}

static void exchange(hs_client_pool_t *pool, const struct sockaddr_in *sa, const hs_client_req_t *req, rec_t *r,
                     int max_ms)
{
    r->c = hs_client_start(pool, (const struct sockaddr *)sa, sizeof(*sa), req, &cbs, r);
    wait_done(r, max_ms);
}

static bool body_is(const rec_t *r, const char *s)
{
    return r->body.len == strlen(s) && memcmp(r->body.base, s, r->body.len) == 0;
}

/* The exchange failed with `cause` (and, when phase >= 0, in `phase`). */
static void expect_cause(hs_client_pool_t *pool, const char *target, hs_up_cause_t cause, int phase, int max_ms)
{
    rec_t r = {0};
    hs_client_req_t req = get(target);
    exchange(pool, &up, &req, &r, max_ms);
    if (!ok(r.failed && r.err.cause == cause && (phase < 0 || (int)r.err.phase == phase), "%s -> %s (%s)", target,
            hs_up_cause(cause)->id, phase < 0 ? "-" : hs_up_phase_name(phase)))
        printf("#   failed %d cause %s phase %s detail %s status %d\n", r.failed,
               r.failed ? hs_up_cause(r.err.cause)->id : "-", hs_up_phase_name(r.err.phase),
               r.err.detail ? r.err.detail : "-", r.status);
    rec_free(&r);
}

/* ---- responses ------------------------------------------------------------------------------------ */
static void test_responses(hs_client_pool_t *pool)
{
    rec_t r = {0};
    hs_client_req_t req = get("/ok");
    exchange(pool, &up, &req, &r, 3000);
    ok(r.ended && r.status == 200 && body_is(&r, "hello"), "GET /ok: 200 hello");
    ok(r.c->attempts == 1 && !r.c->reused && r.c->t.connected && r.c->t.sent && r.c->t.first_byte &&
           r.c->t.head && r.c->t.end && r.c->body_expected == 5,
       "timings and counts recorded");
    size_t idle, open;
    hs_client_pool_count(pool, (struct sockaddr *)&up, sizeof(up), &idle, &open);
    ok(idle == 1 && open == 1, "the connection went back to the pool (%zu idle, %zu open)", idle, open);
    rec_free(&r);

    rec_t r2 = {0};
    req = get("/count");
    exchange(pool, &up, &req, &r2, 3000);
    ok(r2.ended && r2.c->reused && body_is(&r2, "2"), "the next request reuses it (the upstream's 2nd request)");
    rec_free(&r2);

    rec_t r3 = {0};
    req = get("/chunked");
    exchange(pool, &up, &req, &r3, 3000);
    ok(r3.ended && body_is(&r3, "hello world!!!!") && strcmp(r3.trailer, "X-Sum: 15") == 0,
       "chunked: body decoded, trailer delivered (%s)", r3.trailer);
    rec_free(&r3);

    rec_t r4 = {0};
    req = get("/close-delimited");
    exchange(pool, &up, &req, &r4, 3000);
    ok(r4.ended && body_is(&r4, "until close"), "close-delimited: the close ends the body");
    rec_free(&r4);

    rec_t r5 = {0};
    req = get("/head-len");
    req.method = HS_METHOD_HEAD;
    exchange(pool, &up, &req, &r5, 3000);
    ok(r5.ended && r5.status == 200 && r5.body.len == 0, "HEAD: Content-Length 1000 but no body");
    rec_free(&r5);

    rec_t r6 = {0};
    req = get("/empty");
    exchange(pool, &up, &req, &r6, 3000);
    ok(r6.ended && r6.status == 204 && r6.body.len == 0, "204: no body");
    rec_free(&r6);

    rec_t r7 = {0};
    req = get("/interim");
    exchange(pool, &up, &req, &r7, 3000);
    ok(r7.ended && r7.ninterim == 2 && r7.interim[0] == 100 && r7.interim[1] == 103 && r7.status == 200 &&
           body_is(&r7, "done"),
       "100 then 103 then 200: interim responses delivered in order");
    rec_free(&r7);

    rec_t r8 = {0};
    req = get("/upgrade");
    req.flags = HS_CLIENT_UPGRADE;
    r8.tunnel_send = "ping through the tunnel";
    exchange(pool, &up, &req, &r8, 3000);
    ok(r8.status == 101 && r8.ended && body_is(&r8, "ping through the tunnel"),
       "101: a tunnel; bytes echoed, our FIN answered by the upstream's");
    rec_free(&r8);
}

/* ---- request bodies -------------------------------------------------------------------------------- */
static void test_bodies(hs_client_pool_t *pool)
{
    rec_t r = {0};
    hs_header_t h[3] = {{.name = HS_IOV("Host"), .value = HS_IOV("upstream.test")},
                        {.name = HS_IOV("Content-Length"), .value = HS_IOV("999")},
                        {.name = HS_IOV("Transfer-Encoding"), .value = HS_IOV("gzip")}};
    hs_client_req_t req = get("/echo");
    req.method = HS_METHOD_POST;
    req.headers = h;
    req.num_headers = 3;
    req.content_length = HS_CLIENT_CHUNKED;
    r.c = hs_client_start(pool, (struct sockaddr *)&up, sizeof(up), &req, &cbs, &r);
    int pieces = 0;
    uint64_t until = hs_now_ms() + 3000;
    while (!r.ended && !r.failed && hs_now_ms() < until) {
        if (pieces < 20 && (pieces == 0 || r.drains >= pieces)) {
            char piece[64];
            int n = snprintf(piece, sizeof(piece), "piece %02d;", pieces);
            hs_client_write(r.c, piece, (size_t)n);
            if (++pieces == 20)
                hs_client_write_end(r.c);
        }
        hs_loop_run_once(&loop, 5);
    }
    hs_buf_append(&r.body, "", 1);
    const char *echo = r.body.base;
    ok(r.ended && r.status == 200, "chunked upload paced by on_drain: answered");
    ok(r.drains >= 19, "on_drain after each piece (%d)", r.drains);
    ok(strstr(echo, "Transfer-Encoding: chunked\r\n") && !strstr(echo, "Content-Length") && !strstr(echo, "gzip"),
       "exactly one framing reached the upstream: the caller's Content-Length and Transfer-Encoding were dropped");
    ok(strstr(echo, "piece 00;") && strstr(echo, "piece 19;") && strstr(echo, "\r\n0\r\n\r\n"),
       "every piece chunked, then the last chunk");
    ok(r.c->body_sent == 20 * 9, "body_sent counts the caller's bytes (%llu)", (unsigned long long)r.c->body_sent);
    rec_free(&r);

    rec_t r2 = {0};
    req.content_length = 11;
    req.num_headers = 1;
    r2.c = hs_client_start(pool, (struct sockaddr *)&up, sizeof(up), &req, &cbs, &r2);
    ok(hs_client_write(r2.c, "hello ", 6) == HS_OK && hs_client_write_end(r2.c) == HS_ERROR,
       "Content-Length: ending short is refused");
    ok(hs_client_write(r2.c, "world!", 6) == HS_ERROR, "Content-Length: writing past it is refused");
    ok(hs_client_write(r2.c, "world", 5) == HS_OK && hs_client_write_end(r2.c) == HS_OK, "the exact length ends");
    wait_done(&r2, 3000);
    hs_buf_append(&r2.body, "", 1);
    ok(r2.ended && strstr(r2.body.base, "Content-Length: 11\r\n") && strstr(r2.body.base, "\r\n\r\nhello world"),
       "Content-Length body echoed");
    rec_free(&r2);

    /* an answer before the body is complete is what counts; the connection is not reused */
    rec_t r3 = {0};
    hs_client_req_t big = get("/early-413");
    big.method = HS_METHOD_PUT;
    big.content_length = 1 << 20;
    r3.c = hs_client_start(pool, (struct sockaddr *)&up, sizeof(up), &big, &cbs, &r3);
    hs_client_write(r3.c, "x", 1);
    wait_done(&r3, 3000);
    ok(r3.ended && r3.status == 413, "an early 413 is delivered while the upload is unfinished");
    rec_free(&r3);

    /* the upstream never reads: the send timeout */
    rec_t r4 = {0};
    hs_client_req_t nr = get("/no-read");
    nr.method = HS_METHOD_PUT;
    nr.content_length = 64 << 20;
    nr.timeouts.send_ms = 300;
    r4.c = hs_client_start(pool, (struct sockaddr *)&up, sizeof(up), &nr, &cbs, &r4);
    static char block[1 << 16];
    uint64_t until2 = hs_now_ms() + 5000;
    while (!r4.failed && hs_now_ms() < until2) {
        if (hs_client_pending(r4.c) < (1 << 20))
            hs_client_write(r4.c, block, sizeof(block));
        hs_loop_run_once(&loop, 5);
    }
    ok(r4.failed && r4.err.cause == HS_UP_SEND_TIMEOUT && r4.err.phase == HS_UP_PHASE_SEND,
       "an upstream that stops reading: send_timeout in phase send");
    rec_free(&r4);
}

/* ---- back-pressure and cancelling ------------------------------------------------------------------ */
static void test_backpressure(hs_client_pool_t *pool)
{
    rec_t r = {0};
    hs_client_req_t req = get("/big");
    r.pause_after = 1;
    r.c = hs_client_start(pool, (struct sockaddr *)&up, sizeof(up), &req, &cbs, &r);
    uint64_t until = hs_now_ms() + 3000;
    while (r.body.len == 0 && hs_now_ms() < until)
        hs_loop_run_once(&loop, 5);
    size_t at_pause = r.body.len;
    spin(300);
    ok(at_pause > 0 && r.body.len == at_pause && !r.ended && !r.failed,
       "paused: nothing more delivered, no idle timeout (%zu bytes)", r.body.len);
    hs_client_pause(r.c, false);
    wait_done(&r, 5000);
    ok(r.ended && r.body.len == 4u << 20, "resumed: all 4 MiB delivered (%zu)", r.body.len);
    rec_free(&r);

    rec_t r2 = {0};
    r2.free_on_head = true;
    req = get("/big");
    exchange(pool, &up, &req, &r2, 500);
    spin(50);
    ok(r2.heads == 1 && r2.body.len == 0 && !r2.ended && !r2.failed, "freed inside on_head: no callback after it");
    rec_free(&r2);
}

/* ---- keep-alive: pools, the race, retries ---------------------------------------------------------- */
static void test_keepalive(void)
{
    hs_client_pool_conf_t conf = {.max_idle = 4, .idle_timeout_ms = 10000, .keepalive_margin_ms = 250};
    hs_client_pool_t *pool = hs_client_pool_new(&loop, &conf);
    size_t idle, open;

    /* Keep-Alive: timeout=1 honoured: retired 250 ms before the upstream would close it */
    rec_t r = {0};
    hs_client_req_t req = get("/keepalive");
    exchange(pool, &up, &req, &r, 3000);
    ok(r.ended && body_is(&r, "ka"), "GET /keepalive");
    rec_free(&r);
    spin(600);
    hs_client_pool_count(pool, (struct sockaddr *)&up, sizeof(up), &idle, &open);
    ok(idle == 1, "kept at 600 ms");
    spin(300);
    hs_client_pool_count(pool, (struct sockaddr *)&up, sizeof(up), &idle, &open);
    ok(idle == 0 && open == 0, "retired before the upstream's 1 s (at 750 ms)");

    /* the race itself: requests right after the upstream's idle second, GET and POST — no failure */
    for (int i = 0; i < 3; i++) {
        rec_t a = {0};
        req = get("/keepalive");
        exchange(pool, &up, &req, &a, 3000);
        rec_free(&a);
        spin(1000 + 20 * i);
        rec_t g = {0}, p = {0};
        req = get("/keepalive");
        exchange(pool, &up, &req, &g, 3000);
        hs_client_req_t post = get("/keepalive");
        post.method = HS_METHOD_POST;
        post.content_length = 0;
        exchange(pool, &up, &post, &p, 3000);
        ok(g.ended && p.ended && !g.failed && !p.failed, "keep-alive race, round %d: GET and POST after 1 s answered",
           i);
        rec_free(&g);
        rec_free(&p);
    }

    /* an upstream that closed while the connection sat in the pool: seen with MSG_PEEK, not used */
    hs_client_pool_conf_t long_conf = {.max_idle = 4, .idle_timeout_ms = 10000};
    hs_client_pool_t *lp = hs_client_pool_new(&loop, &long_conf);
    rec_t b = {0};
    req = get("/keepalive");
    exchange(lp, &up, &req, &b, 3000);
    rec_free(&b);
    usleep(1300 * 1000); /* the upstream closes at 1 s; the loop does not run meanwhile */
    hs_loop_update_clock(&loop);
    rec_t b2 = {0};
    req = get("/ok");
    req.flags = 0; /* no retry allowed: the peek alone must save it */
    exchange(lp, &up, &req, &b2, 3000);
    ok(b2.ended && !b2.c->reused, "closed by the upstream while idle: detected before reuse, fresh connection used");
    rec_free(&b2);

    /* never reuse a connection idle longer than the request allows */
    rec_t c1 = {0};
    req = get("/ok");
    exchange(lp, &up, &req, &c1, 3000);
    rec_free(&c1);
    spin(150);
    rec_t c2 = {0};
    req = get("/ok");
    req.method = HS_METHOD_POST;
    req.content_length = 0;
    req.max_reuse_idle_ms = 100;
    exchange(lp, &up, &req, &c2, 3000);
    ok(c2.ended && !c2.c->reused, "max_reuse_idle_ms 100: a connection idle 150 ms is not used");
    rec_free(&c2);

    /* the race a peek cannot see: the upstream closes on receiving the request */
    rec_t d0 = {0};
    req = get("/ok");
    exchange(lp, &up, &req, &d0, 3000);
    rec_free(&d0);
    rec_t d = {0};
    req = get("/fail-if-reused");
    req.flags = HS_CLIENT_RETRY;
    exchange(lp, &up, &req, &d, 3000);
    ok(d.ended && body_is(&d, "fresh") && d.c->attempts == 2 && !d.c->reused,
       "idempotent, reused connection closed before any byte: retried once on a fresh one");
    rec_free(&d);
    rec_t e0 = {0};
    req = get("/ok");
    exchange(lp, &up, &req, &e0, 3000);
    rec_free(&e0);
    rec_t e = {0};
    req = get("/fail-if-reused");
    req.method = HS_METHOD_POST;
    req.content_length = 2;
    r.c = NULL;
    e.c = hs_client_start(lp, (struct sockaddr *)&up, sizeof(up), &req, &cbs, &e);
    hs_client_write(e.c, "hi", 2);
    wait_done(&e, 3000);
    ok(e.failed && e.err.cause == HS_UP_CLOSED_BEFORE_HEAD && e.err.reused && e.c->attempts == 1,
       "not idempotent: no retry; closed_before_head on a reused connection, said so");
    seen[HS_UP_CLOSED_BEFORE_HEAD] = true;
    rec_free(&e);
    hs_client_pool_free(lp);
    hs_client_pool_free(pool);
    spin(20);
}

/* ---- failures ------------------------------------------------------------------------------------ */
static int listener(int backlog, struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    *addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(*addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)addr, len) < 0 || listen(fd, backlog) < 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) < 0)
        abort();
    return fd;
}

static void expect_at(hs_client_pool_t *pool, const struct sockaddr_in *sa, hs_up_cause_t cause, const char *name)
{
    rec_t r = {0};
    hs_client_req_t req = get("/ok");
    req.timeouts.connect_ms = 200;
    exchange(pool, sa, &req, &r, 3000);
    if (!ok(r.failed && r.err.cause == cause && r.err.phase == HS_UP_PHASE_CONNECT, "%s -> %s", name,
            hs_up_cause(cause)->id))
        printf("#   failed %d cause %d errno %d\n", r.failed, r.err.cause, r.err.sys_errno);
    rec_free(&r);
}

static void test_failures(hs_client_pool_t *pool)
{
    struct sockaddr_in closed;
    close(listener(1, &closed));
    expect_at(pool, &closed, HS_UP_CONNECT_REFUSED, "a closed port");

    /* an accept queue that is full drops SYNs: neither made nor refused */
    struct sockaddr_in full;
    int lfd = listener(0, &full);
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fillers[i], (struct sockaddr *)&full, sizeof(full));
    }
    usleep(50000);
    hs_loop_update_clock(&loop);
    expect_at(pool, &full, HS_UP_CONNECT_TIMEOUT, "a listener whose accept queue is full");
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(lfd);

    hs_client_req_t slow = get("/never");
    slow.timeouts.head_ms = 300;
    rec_t r = {0};
    exchange(pool, &up, &slow, &r, 3000);
    ok(r.failed && r.err.cause == HS_UP_HEAD_TIMEOUT && r.err.phase == HS_UP_PHASE_WAIT,
       "/never -> head_timeout (wait)");
    seen[r.err.cause] = true;
    rec_free(&r);
    slow = get("/slow-head");
    slow.timeouts.head_ms = 300;
    rec_t r2 = {0};
    exchange(pool, &up, &slow, &r2, 3000);
    ok(r2.failed && r2.err.cause == HS_UP_HEAD_TIMEOUT && r2.err.phase == HS_UP_PHASE_HEADERS,
       "/slow-head -> head_timeout (headers)");
    rec_free(&r2);
    slow = get("/slow-body");
    slow.timeouts.idle_ms = 300;
    rec_t r3 = {0};
    exchange(pool, &up, &slow, &r3, 3000);
    ok(r3.failed && r3.err.cause == HS_UP_BODY_TIMEOUT && r3.err.phase == HS_UP_PHASE_BODY && r3.status == 200 &&
           r3.c->body_received == 5,
       "/slow-body -> body_timeout after 5 bytes");
    rec_free(&r3);

    expect_cause(pool, "/garbage", HS_UP_MALFORMED_HEAD, HS_UP_PHASE_HEADERS, 3000);
    expect_cause(pool, "/bad-status", HS_UP_BAD_STATUS, HS_UP_PHASE_HEADERS, 3000);
    expect_cause(pool, "/cl-abc", HS_UP_BAD_FRAMING, HS_UP_PHASE_HEADERS, 3000);
    expect_cause(pool, "/two-cl", HS_UP_BAD_FRAMING, HS_UP_PHASE_HEADERS, 3000);
    expect_cause(pool, "/cl-te", HS_UP_BAD_FRAMING, HS_UP_PHASE_HEADERS, 3000);
    expect_cause(pool, "/big-head", HS_UP_HEAD_TOO_LARGE, HS_UP_PHASE_HEADERS, 3000);
    expect_cause(pool, "/big-field", HS_UP_FIELD_TOO_LARGE, HS_UP_PHASE_HEADERS, 3000);
    expect_cause(pool, "/many-interim", HS_UP_TOO_MANY_INTERIM, HS_UP_PHASE_HEADERS, 3000);
    expect_cause(pool, "/unexpected-upgrade", HS_UP_UNEXPECTED_UPGRADE, HS_UP_PHASE_HEADERS, 3000);
    expect_cause(pool, "/close-before-head", HS_UP_CLOSED_BEFORE_HEAD, HS_UP_PHASE_WAIT, 3000);
    expect_cause(pool, "/reset-before-head", HS_UP_CLOSED_BEFORE_HEAD, HS_UP_PHASE_WAIT, 3000);
    expect_cause(pool, "/close-in-head", HS_UP_CLOSED_IN_HEAD, HS_UP_PHASE_HEADERS, 3000);
    expect_cause(pool, "/bad-chunk", HS_UP_BAD_CHUNK, HS_UP_PHASE_BODY, 3000);
    expect_cause(pool, "/big-trailers", HS_UP_TRAILERS_TOO_LARGE, HS_UP_PHASE_BODY, 3000);
    expect_cause(pool, "/close-after-head", HS_UP_TRUNCATED_BODY, HS_UP_PHASE_BODY, 3000);
    expect_cause(pool, "/chunked-cut", HS_UP_TRUNCATED_BODY, HS_UP_PHASE_BODY, 3000);

    rec_t t = {0};
    hs_client_req_t req = get("/close-mid-body");
    exchange(pool, &up, &req, &t, 3000);
    ok(t.failed && t.err.cause == HS_UP_TRUNCATED_BODY && t.status == 200 && t.c->body_received == 10 &&
           t.c->body_expected == 100,
       "truncation reported with the bytes received (10) and expected (100), never as an end");
    rec_free(&t);

    /* the per-upstream connection limit */
    hs_client_pool_conf_t one = {.max_idle = 1, .max_conns = 1, .idle_timeout_ms = 5000};
    hs_client_pool_t *lp = hs_client_pool_new(&loop, &one);
    rec_t busy = {0}, over = {0};
    req = get("/never");
    busy.c = hs_client_start(lp, (struct sockaddr *)&up, sizeof(up), &req, &cbs, &busy);
    req = get("/ok");
    exchange(lp, &up, &req, &over, 2000);
    ok(over.failed && over.err.cause == HS_UP_CONNECTION_LIMIT, "a second connection over max_conns 1 -> connection_limit");
    seen[HS_UP_CONNECTION_LIMIT] = true;
    rec_free(&over);
    rec_free(&busy);
    hs_client_pool_free(lp);
    spin(20);
}

/* A child with its own (empty) network namespace: no route anywhere, a real ENETUNREACH. */
static void test_no_route(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) != 0)
            _exit(77);
        hs_loop_t l;
        hs_loop_init(&l);
        hs_client_pool_conf_t conf = {0};
        hs_client_pool_t *pool = hs_client_pool_new(&l, &conf);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
        inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
        rec_t r = {0};
        hs_client_req_t req = get("/");
        r.c = hs_client_start(pool, (struct sockaddr *)&sa, sizeof(sa), &req, &cbs, &r);
        for (int i = 0; i < 100 && !r.failed && !r.ended; i++)
            hs_loop_run_once(&l, 10);
        _exit(r.failed && r.err.cause == HS_UP_NO_ROUTE && r.err.phase == HS_UP_PHASE_CONNECT ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        ok(1, "# SKIP no_route: cannot make a network namespace here (unshare: not permitted)");
        seen[HS_UP_NO_ROUTE] = true;
        return;
    }
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "no route (an empty network namespace) -> no_route (connect)");
    seen[HS_UP_NO_ROUTE] = WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* A child out of descriptors: the gateway's own resources, not the upstream's fault. */
static void test_resources(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        hs_loop_t l;
        hs_loop_init(&l);
        hs_client_pool_conf_t conf = {0};
        hs_client_pool_t *pool = hs_client_pool_new(&l, &conf);
        struct rlimit rl = {.rlim_cur = 0, .rlim_max = 0};
        getrlimit(RLIMIT_NOFILE, &rl);
        while (dup(0) >= 0) /* use them all up */
            ;
        rec_t r = {0};
        hs_client_req_t req = get("/");
        r.c = hs_client_start(pool, (struct sockaddr *)&up, sizeof(up), &req, &cbs, &r);
        for (int i = 0; i < 100 && !r.failed && !r.ended; i++)
            hs_loop_run_once(&l, 10);
        _exit(r.failed && r.err.cause == HS_UP_PROXY_RESOURCES && r.err.sys_errno == EMFILE ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "out of descriptors -> proxy_resources (EMFILE)");
    seen[HS_UP_PROXY_RESOURCES] = WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- https upstreams ------------------------------------------------------------------------------ */
/* tests/integration/fixtures/tls_upstream.py in `mode` (ok: with cert and key); its pid and address. */
static pid_t start_tls_upstream(const char *mode, const char *cert, const char *key, struct sockaddr_in *sa)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        if (cert)
            execl("/usr/bin/python3", "python3", "tests/integration/fixtures/tls_upstream.py", "--mode", mode, "--cert",
                  cert, "--key", key, (char *)NULL);
        else
            execl("/usr/bin/python3", "python3", "tests/integration/fixtures/tls_upstream.py", "--mode", mode,
                  (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char line[64] = {0};
    size_t n = 0;
    while (n < sizeof(line) - 1 && read(pfd[0], line + n, 1) == 1 && line[n] != '\n')
        n++;
    close(pfd[0]);
    int port = 0;
    if (sscanf(line, "port %d", &port) != 1) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return -1;
    }
    *sa = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return pid;
}

static void tls_exchange(hs_client_pool_t *pool, const struct sockaddr_in *sa, hs_tls_client_t *cl, const char *name,
                         rec_t *r, uint64_t connect_ms)
{
    hs_client_req_t req = get("/x");
    req.tls = cl;
    req.tls_name = name;
    req.timeouts.connect_ms = connect_ms;
    exchange(pool, sa, &req, r, 5000);
}

/* The handshake as a state of the exchange: verified against a CA, SNI = the name, the session
 * kept by the pool, connections kept apart by name; each failure as its cause, in phase tls. */
static void test_tls(void)
{
    char dir[64], ca_pem[128], leaf_pem[128], leaf_key[128], old_pem[128], old_key[128];
    snprintf(dir, sizeof(dir), "%s", tlsgen_dir());
    tlsgen_id_t ca = tlsgen_make("client_test CA", NULL, NULL, -1, 30);
    tlsgen_id_t leaf = tlsgen_make("localhost", "DNS:localhost,IP:127.0.0.1", &ca, -1, 30);
    tlsgen_id_t old = tlsgen_make("localhost", "DNS:localhost,IP:127.0.0.1", &ca, -60, -30);
    tlsgen_write(dir, "ca", &ca, NULL);
    tlsgen_write(dir, "leaf", &leaf, &ca);
    tlsgen_write(dir, "old", &old, &ca);
    tlsgen_free(&ca);
    tlsgen_free(&leaf);
    tlsgen_free(&old);
    snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
    snprintf(leaf_pem, sizeof(leaf_pem), "%s/leaf.pem", dir);
    snprintf(leaf_key, sizeof(leaf_key), "%s/leaf.key", dir);
    snprintf(old_pem, sizeof(old_pem), "%s/old.pem", dir);
    snprintf(old_key, sizeof(old_key), "%s/old.key", dir);
    char err[256] = "";
    hs_tls_client_t *cl = hs_tls_client_new(&(hs_tls_client_opts_t){.ca_file = ca_pem}, err, sizeof(err));
    hs_tls_client_t *lax = hs_tls_client_new(&(hs_tls_client_opts_t){.insecure = true}, err, sizeof(err));
    struct sockaddr_in good, expired, garbage, alert;
    pid_t pids[4] = {start_tls_upstream("ok", leaf_pem, leaf_key, &good),
                     start_tls_upstream("ok", old_pem, old_key, &expired),
                     start_tls_upstream("garbage", NULL, NULL, &garbage),
                     start_tls_upstream("alert", NULL, NULL, &alert)};
    if (!ok(cl && lax && pids[0] > 0 && pids[1] > 0 && pids[2] > 0 && pids[3] > 0,
            "TLS upstreams and client contexts (%s)", err))
        goto Out;
    hs_client_pool_conf_t conf = {.max_idle = 8, .idle_timeout_ms = 5000, .keepalive_margin_ms = 250};
    hs_client_pool_t *pool = hs_client_pool_new(&loop, &conf);
    rec_t r = {0};
    tls_exchange(pool, &good, cl, "localhost", &r, 2000);
    ok(r.ended && r.status == 200 && body_is(&r, "sni=localhost") && !r.c->reused, "https: 200, SNI localhost");
    rec_free(&r);
    r = (rec_t){0};
    tls_exchange(pool, &good, cl, "localhost", &r, 2000);
    ok(r.ended && r.status == 200 && body_is(&r, "sni=localhost") && r.c->reused,
       "the pooled connection keeps its TLS session");
    rec_free(&r);
    size_t idle, open;
    hs_client_pool_count(pool, (const struct sockaddr *)&good, sizeof(good), &idle, &open);
    ok(idle == 1 && open == 1, "one connection to the upstream (%zu idle, %zu open)", idle, open);
    r = (rec_t){0};
    tls_exchange(pool, &good, cl, "127.0.0.1", &r, 2000);
    ok(r.ended && r.status == 200 && body_is(&r, "sni=-") && !r.c->reused,
       "another name, another connection: an IP address is verified, and sent no SNI");
    rec_free(&r);
    r = (rec_t){0};
    tls_exchange(pool, &good, cl, "other.example", &r, 2000);
    ok(r.failed && r.err.cause == HS_UP_TLS_CERTIFICATE && r.err.phase == HS_UP_PHASE_TLS && r.err.detail &&
           !strcmp(r.err.detail, "hostname mismatch"),
       "a name the certificate is not for: tls_certificate (%s)", r.err.detail ? r.err.detail : "-");
    rec_free(&r);
    r = (rec_t){0};
    tls_exchange(pool, &expired, cl, "localhost", &r, 2000);
    ok(r.failed && r.err.cause == HS_UP_TLS_CERTIFICATE && r.err.detail &&
           !strcmp(r.err.detail, "certificate has expired"),
       "an expired certificate: tls_certificate (%s)", r.err.detail ? r.err.detail : "-");
    rec_free(&r);
    r = (rec_t){0};
    tls_exchange(pool, &expired, lax, "localhost", &r, 2000);
    ok(r.ended && r.status == 200, "insecure: the expired certificate is taken");
    rec_free(&r);
    r = (rec_t){0};
    tls_exchange(pool, &garbage, cl, "localhost", &r, 2000);
    ok(r.failed && r.err.cause == HS_UP_TLS_HANDSHAKE && r.err.phase == HS_UP_PHASE_TLS && r.err.detail &&
           !strcmp(r.err.detail, "wrong version number"),
       "not TLS: tls_handshake (%s)", r.err.detail ? r.err.detail : "-");
    rec_free(&r);
    r = (rec_t){0};
    tls_exchange(pool, &alert, cl, "localhost", &r, 2000);
    ok(r.failed && r.err.cause == HS_UP_TLS_ALERT && r.err.phase == HS_UP_PHASE_TLS && r.err.tls_alert == 40 &&
           r.err.detail && !strcmp(r.err.detail, "sslv3 alert handshake failure"),
       "a fatal alert from the upstream: tls_alert, alert 40 (%s)", r.err.detail ? r.err.detail : "-");
    rec_free(&r);
    r = (rec_t){0};
    tls_exchange(pool, &up, cl, "localhost", &r, 300);
    /* a plain HTTP upstream waits for the end of a request head that never comes */
    ok(r.failed && r.err.cause == HS_UP_CONNECT_TIMEOUT && r.err.phase == HS_UP_PHASE_TLS,
       "a handshake that does not end within the connect timeout: connect_timeout in phase tls");
    rec_free(&r);
    hs_client_pool_free(pool);
Out:
    for (int i = 0; i < 4; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGTERM);
            waitpid(pids[i], NULL, 0);
        }
    hs_tls_client_free(cl);
    hs_tls_client_free(lax);
    tlsgen_cleanup(dir);
}

/* Which causes the tests above produced; the rest need what this layer does not have yet. */
/* HS_CLIENT_TUNNEL (a forward proxy's CONNECT): no request is written; once connected on_head
 * (NULL) opens the tunnel; bytes both ways, our FIN passed on, the peer's close ends it; the
 * connection is never pooled. A peer in a child process echoes what it reads until our FIN. */
static void test_tunnel(void)
{
    struct sockaddr_in sa;
    int lfd = listener(4, &sa);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10);
        int c = accept(lfd, NULL, NULL);
        char buf[4096];
        ssize_t n, got = 0;
        while (c >= 0 && (n = read(c, buf, sizeof(buf))) > 0) {
            got += n;
            if (write(c, buf, (size_t)n) != n)
                break;
        }
        _exit(got == 0); /* the first bytes it saw were ours, not a request head (checked below) */
    }
    close(lfd);
    hs_client_pool_conf_t conf = {.max_idle = 8, .idle_timeout_ms = 5000};
    hs_client_pool_t *pool = hs_client_pool_new(&loop, &conf);
    rec_t r = {.tunnel_send = "raw bytes, no head"};
    hs_client_req_t req = {.method = HS_METHOD_CONNECT,
                           .content_length = HS_CLIENT_NO_BODY,
                           .flags = HS_CLIENT_TUNNEL,
                           .timeouts = {.connect_ms = 2000, .idle_ms = 2000}};
    exchange(pool, &sa, &req, &r, 5000);
    ok(r.heads == 1 && r.status == -1 && r.ended && !r.failed && body_is(&r, "raw bytes, no head"),
       "tunnel: opened without a head, bytes echoed, our FIN answered by the peer's");
    rec_free(&r);
    int st = -1;
    waitpid(pid, &st, 0);
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tunnel: the peer read our bytes");
    size_t idle, open;
    hs_client_pool_count(pool, (const struct sockaddr *)&sa, sizeof(sa), &idle, &open);
    ok(idle == 0 && open == 0, "tunnel: its connection is not pooled");
    rec_t r2 = {0};
    struct sockaddr_in dead = sa; /* the listener is closed: refused */
    exchange(pool, &dead, &req, &r2, 3000);
    ok(r2.failed && r2.err.cause == HS_UP_CONNECT_REFUSED && r2.err.phase == HS_UP_PHASE_CONNECT && r2.heads == 0,
       "tunnel: a refused connection is connect_refused in phase connect");
    rec_free(&r2);
    /* a forward proxy meets many addresses: records without a connection do not pile up */
    for (int i = 0; i < HS_CLIENT_POOL_HOSTS + 50; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
        a.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)i % 200u * 256u + (uint32_t)i / 200u);
        rec_t r3 = {0};
        hs_client_req_t g = get("/");
        g.timeouts.connect_ms = 500;
        exchange(pool, &a, &g, &r3, 2000);
        rec_free(&r3);
    }
    ok(1, "tunnel: %d addresses met, the pool's host table bounded (ASan: no leak)", HS_CLIENT_POOL_HOSTS + 50);
    hs_client_pool_free(pool);
}

static void test_coverage(void)
{
    static const hs_up_cause_t elsewhere[] = {
        HS_UP_DNS_ERROR, HS_UP_DNS_TIMEOUT, /* no resolver yet: addresses are given as sockaddrs */
        HS_UP_CONNECT_ERROR,                        /* a catch-all for connect errnos without a cause */
        HS_UP_NO_HEALTHY_UPSTREAM,                  /* the module's health state */
        HS_UP_PROXY_LOOP_DETECTED,                  /* the module's Via check (hs_via_has, upstream_test) */
    };
    size_t n;
    const hs_up_cause_info_t *t = hs_up_cause_table(&n);
    for (size_t i = 0; i < n; i++) {
        bool later = false;
        for (size_t k = 0; k < HS_ARRAY_SIZE(elsewhere); k++)
            later |= elsewhere[k] == t[i].cause;
        if (later)
            continue;
        ok(seen[t[i].cause], "cause %s produced by a real upstream or socket", t[i].id);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (hs_loop_init(&loop) != HS_OK)
        return 1;
    if (start_upstream() != HS_OK) {
        printf("# cannot start tests/integration/fixtures/upstream.py (run from the repository root)\n");
        ok(0, "the upstream fixture starts");
        return tap_done();
    }
    ok(hs_client_idle_conn_size() <= 256, "an idle pooled connection holds %zu bytes", hs_client_idle_conn_size());
    hs_client_pool_conf_t conf = {.max_idle = 8, .idle_timeout_ms = 5000, .keepalive_margin_ms = 250};
    hs_client_pool_t *pool = hs_client_pool_new(&loop, &conf);
    test_responses(pool);
    test_bodies(pool);
    test_backpressure(pool);
    test_failures(pool);
    hs_client_pool_free(pool);
    test_keepalive();
    test_no_route();
    test_resources();
    test_tls();
    test_tunnel();
    test_coverage();
    spin(20);
    stop_upstream();
    hs_sock_pool_free(&loop);
    hs_loop_destroy(&loop);
    return tap_done();
}
