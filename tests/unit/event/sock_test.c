/* Unit tests for sockets on the loop (src/event/sock.c): outbound connections (made, refused,
 * timed out), lazy deadlines, reading into the pooled buffer, closing and disposal. */
#define _GNU_SOURCE
#include "hs/sock.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    hs_sock_t sock;
    int writes, timeouts, disposed, reads;
} probe_t;

static void on_probe(hs_io_t *io, int ev)
{
    probe_t *p = (probe_t *)io;
    if (ev == HS_EV_DISPOSE)
        p->disposed++;
    else if (ev == HS_EV_TIMEOUT)
        p->timeouts++;
    else {
        if (ev & (HS_EV_WRITE | HS_EV_ERROR))
            p->writes++;
        if (ev & HS_EV_READ) {
            p->reads++;
            p->sock.readable = true;
        }
    }
}

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

/* Run the loop until the probe's outcome is known (bounded). */
static int outcome(hs_loop_t *loop, probe_t *p, int max_ms)
{
    for (int i = 0; i < max_ms / 5; i++) {
        hs_loop_run_once(loop, 5);
        if (p->timeouts)
            return -ETIMEDOUT;
        if (p->writes) {
            int r = hs_sock_connect_result(&p->sock);
            if (r != HS_AGAIN)
                return r;
            p->writes = 0;
        }
    }
    return HS_AGAIN;
}

static void test_connect(hs_loop_t *loop)
{
    struct sockaddr_in addr;
    int lfd = listener(16, &addr);
    probe_t p = {0};
    is_int(hs_sock_connect(&p.sock, loop, (struct sockaddr *)&addr, sizeof(addr), 2000, on_probe), HS_OK,
           "connect: under way");
    is_int(outcome(loop, &p, 2000), HS_OK, "connect: made");
    ok(!p.sock.connecting && p.sock.deadline == 0, "connect: no longer connecting, no deadline left");
    int afd = accept(lfd, NULL, NULL);
    ok(afd >= 0, "connect: the listener sees it");
    /* bytes from the peer arrive in the pooled buffer; EOF after the peer closes */
    if (write(afd, "hello", 5) != 5)
        abort();
    close(afd);
    for (int i = 0; i < 100 && !p.reads; i++)
        hs_loop_run_once(loop, 5);
    ssize_t n = hs_sock_read(&p.sock, 4096, 65536);
    ok(n == 5 && memcmp(hs_sock_data(&p.sock), "hello", 5) == 0, "read: the peer's bytes");
    ok(p.sock.in.cap == HS_SOCK_BUF_SIZE, "read: into a pool-sized buffer");
    hs_sock_consume(&p.sock, 5);
    is_int(hs_sock_read(&p.sock, 4096, 65536), 0, "read: EOF after the peer closed");
    ok(p.sock.eof, "read: eof flagged");
    hs_sock_release_buffer(&p.sock);
    ok(p.sock.in.base == NULL && loop->nbuf_pool == 1, "an empty buffer goes back to the loop's pool");
    hs_sock_close(&p.sock);
    is_int(p.disposed, 0, "close: not disposed of inside hs_sock_close");
    hs_loop_run_once(loop, 0);
    is_int(p.disposed, 1, "close: disposed of once by the next batch");
    close(lfd);
}

static void test_refused(hs_loop_t *loop)
{
    struct sockaddr_in addr;
    close(listener(1, &addr)); /* a port nobody listens on any more */
    probe_t p = {0};
    int r = hs_sock_connect(&p.sock, loop, (struct sockaddr *)&addr, sizeof(addr), 2000, on_probe);
    if (r == HS_OK)
        r = outcome(loop, &p, 2000);
    is_int(r, -ECONNREFUSED, "connect to a closed port: ECONNREFUSED");
    if (p.sock.io.fd >= 0 && !p.sock.io.closed) {
        hs_sock_close(&p.sock);
        hs_loop_run_once(loop, 0);
    }
}

static void test_connect_timeout(hs_loop_t *loop)
{
    /* A listener whose accept queue is full drops new SYNs (Linux): the connection is neither
     * made nor refused, and the deadline decides. */
    struct sockaddr_in addr;
    int lfd = listener(0, &addr);
    int fillers[4];
    for (int i = 0; i < 4; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fillers[i], (struct sockaddr *)&addr, sizeof(addr));
    }
    usleep(50000);
    probe_t p = {0};
    hs_loop_update_clock(loop); /* the loop's clock is cached: as after a wake-up */
    uint64_t t0 = hs_now_ms();
    is_int(hs_sock_connect(&p.sock, loop, (struct sockaddr *)&addr, sizeof(addr), 150, on_probe), HS_OK,
           "connect timeout: under way");
    int r = outcome(loop, &p, 3000);
    uint64_t took = hs_now_ms() - t0;
    is_int(r, -ETIMEDOUT, "connect timeout: HS_EV_TIMEOUT while connecting");
    ok(took >= 140 && took < 1000, "connect timeout: after the deadline (%llu ms)", (unsigned long long)took);
    is_int(p.timeouts, 1, "connect timeout: delivered once");
    hs_sock_close(&p.sock);
    hs_loop_run_once(loop, 0);
    for (int i = 0; i < 4; i++)
        close(fillers[i]);
    close(lfd);
}

static void test_deadline(hs_loop_t *loop)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    probe_t p = {0};
    is_int(hs_sock_open(&p.sock, loop, sv[0], &hs_sock_tcp, on_probe), HS_OK, "open: a connected descriptor");
    hs_loop_update_clock(loop);
    hs_sock_set_deadline(&p.sock, 30);
    hs_sock_set_deadline(&p.sock, 80); /* pushed later: the timer fires early and re-arms */
    uint64_t t0 = hs_now_ms();
    for (int i = 0; i < 100 && !p.timeouts; i++)
        hs_loop_run_once(loop, 5);
    uint64_t took = hs_now_ms() - t0;
    is_int(p.timeouts, 1, "deadline: one HS_EV_TIMEOUT");
    ok(took >= 70, "deadline: at the later deadline (%llu ms)", (unsigned long long)took);
    hs_sock_set_deadline(&p.sock, 20);
    hs_sock_clear_deadline(&p.sock);
    for (int i = 0; i < 10; i++)
        hs_loop_run_once(loop, 5);
    is_int(p.timeouts, 1, "deadline: cleared, nothing fires");
    hs_sock_close(&p.sock);
    hs_loop_run_once(loop, 0);
    is_int(p.disposed, 1, "open socket: disposed of after close");
    close(sv[1]);
}

/* A socket of the loop on one end of a fresh socketpair; sv[1] is the test's end. */
static void open_pair(hs_loop_t *loop, hs_sock_t *sock, int sv[2], void (*cb)(hs_io_t *, int))
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
        hs_sock_open(sock, loop, sv[0], &hs_sock_tcp, cb) != HS_OK)
        abort();
}

/* A loop with its io_uring ring, or false (said as a skip) where the kernel refuses one. */
static bool uring_loop(hs_loop_t *loop)
{
    if (hs_loop_init(loop) != HS_OK)
        abort();
    int r = hs_loop_use_uring(loop);
    if (r != HS_OK) {
        printf("# skipped: io_uring not available here (%s)\n", strerror(-r));
        hs_loop_destroy(loop);
        return false;
    }
    return true;
}

/* Reads in a batch (hs_loop_use_uring): the loop reads the sockets that let it, before their
 * callbacks, into their empty buffers; the owner's next hs_sock_read hands the result over. */
static void test_batch_reads(void)
{
    hs_loop_t loop;
    if (!uring_loop(&loop))
        return;
    enum { N = 4 };
    int sv[N][2];
    probe_t p[N];
    memset(p, 0, sizeof(p));
    for (int i = 0; i < N; i++) {
        open_pair(&loop, &p[i].sock, sv[i], on_probe);
        is_int(hs_sock_read(&p[i].sock, 4096, i == 3 ? 512 : 65536), HS_AGAIN, "batch: nothing yet");
        hs_sock_batch_reads(&p[i].sock, true);
    }
    hs_loop_run_once(&loop, 0);
    if (write(sv[0][1], "first", 5) != 5 || write(sv[1][1], "second", 6) != 6 || write(sv[3][1], "small", 5) != 5)
        abort();
    shutdown(sv[1][1], SHUT_WR);
    close(sv[2][1]); /* the end of the stream, and nothing before it */
    for (int i = 0; i < 100 && !(p[0].reads && p[1].reads && p[2].reads && p[3].reads); i++)
        hs_loop_run_once(&loop, 5);
    ok(p[0].sock.batched && p[0].sock.batch_res == 5, "batch: the loop read the first socket's 5 bytes");
    ok(p[1].sock.batched && p[1].sock.batch_res == 6, "batch: and the second's 6");
    ok(p[2].sock.batched && p[2].sock.batch_res == 0, "batch: and the third's end");
    ok(!p[3].sock.batched, "batch: not an owner that reads in steps under 1 KiB");
    ok(hs_sock_batched(&p[0].sock), "batch: hs_sock_batched says bytes are there");
    ssize_t n = hs_sock_read(&p[0].sock, 4096, 65536);
    ok(n == 5 && memcmp(hs_sock_data(&p[0].sock), "first", 5) == 0, "batch: the owner's read hands the bytes over");
    ok(!p[0].sock.batched && !p[0].sock.readable, "batch: handed over once; a short read used the readiness up");
    n = hs_sock_read(&p[1].sock, 4096, 65536);
    ok(n == 6 && memcmp(hs_sock_data(&p[1].sock), "second", 6) == 0, "batch: the second's bytes");
    hs_sock_consume(&p[1].sock, 6);
    is_int(hs_sock_read(&p[1].sock, 4096, 65536), 0, "batch: its end, read by the owner itself");
    is_int(hs_sock_read(&p[2].sock, 4096, 65536), 0, "batch: the third's end handed over");
    ok(p[2].sock.eof, "batch: eof flagged");
    n = hs_sock_read(&p[3].sock, 4096, 512);
    ok(n == 5 && memcmp(hs_sock_data(&p[3].sock), "small", 5) == 0, "batch: the small reader reads for itself");
    /* a socket holding unconsumed input is not read ahead; one whose input was consumed is */
    if (write(sv[0][1], "more", 4) != 4 || write(sv[3][1], "x", 1) != 1)
        abort();
    p[0].reads = 0;
    for (int i = 0; i < 100 && !p[0].reads; i++)
        hs_loop_run_once(&loop, 5);
    ok(!p[0].sock.batched, "batch: not while the owner has input it has not consumed");
    hs_sock_consume(&p[0].sock, 5);
    n = hs_sock_read(&p[0].sock, 4096, 65536);
    ok(n == 4 && memcmp(hs_sock_data(&p[0].sock), "more", 4) == 0, "batch: the owner reads it itself then");
    hs_sock_consume(&p[0].sock, 4);
    /* (a wake-up with a single ready descriptor is read by its owner: nothing to batch) */
    if (write(sv[0][1], "again", 5) != 5 || write(sv[3][1], "x", 1) != 1)
        abort();
    p[0].reads = 0;
    for (int i = 0; i < 100 && !p[0].reads; i++)
        hs_loop_run_once(&loop, 5);
    ok(p[0].sock.batched && p[0].sock.batch_res == 5, "batch: read ahead again once the input is consumed");
    hs_sock_release_buffer(&p[0].sock);
    ok(p[0].sock.in.base != NULL, "batch: the buffer holding the bytes read ahead is kept");
    hs_sock_discard_input(&p[0].sock);
    ok(!p[0].sock.batched, "batch: discarding the input drops what was read ahead");
    for (int i = 0; i < N; i++) {
        hs_sock_close(&p[i].sock);
        if (i != 2)
            close(sv[i][1]);
    }
    hs_loop_run_once(&loop, 0);
    hs_sock_pool_free(&loop);
    hs_loop_destroy(&loop);
}

/* An owner that writes two bytes whenever it may, until it has written target times. */
typedef struct {
    hs_sock_t sock;
    int target, sent, queued;
} chatty_t;

static void on_chatty(hs_io_t *io, int ev)
{
    chatty_t *c = (chatty_t *)io;
    if (!(ev & HS_EV_WRITE) || c->sent >= c->target)
        return;
    struct iovec iov = {"ab", 2};
    ssize_t n = hs_sock_writev(&c->sock, &iov, 1);
    if (n == 2) {
        c->sent++;
        if (c->sent >= c->target)
            return;
        n = hs_sock_writev(&c->sock, &iov, 1);
    }
    if (n < 0 && errno == EAGAIN)
        c->queued++;
    else if (n == 2)
        c->sent++;
}

/* Make the next wake-up a busy one: both sockets of nv readable. */
static void busy(int nv[2][2])
{
    if (write(nv[0][1], "n", 1) != 1 || write(nv[1][1], "n", 1) != 1)
        abort();
}

/* Writes in a batch (hs_sock_batch_writes): in a busy wake-up, queued and answered EAGAIN, sent
 * at the end of the batch, the owner told with a write event in the same batch; its next write
 * takes the report. */
static void test_batch_writes(void)
{
    hs_loop_t loop;
    if (!uring_loop(&loop))
        return;
    int sv[3][2];
    probe_t p[3];
    memset(p, 0, sizeof(p));
    for (int i = 0; i < 3; i++) {
        open_pair(&loop, &p[i].sock, sv[i], on_probe);
        hs_sock_batch_writes(&p[i].sock, true);
    }
    hs_loop_run_once(&loop, 0); /* the first write-readiness of each */
    for (int i = 0; i < 3; i++)
        p[i].writes = 0;
    struct iovec iov[2] = {{"hel", 3}, {"lo", 2}};
    errno = 0;
    ok(hs_sock_writev(&p[0].sock, iov, 2) == -1 && errno == EAGAIN, "batch write: queued, the owner told EAGAIN");
    ok(p[0].sock.wstate == HS_SOCK_W_QUEUED && loop.nwq == 1, "batch write: in the loop's queue");
    ok(hs_sock_writev(&p[0].sock, iov, 2) == -1 && errno == EAGAIN, "batch write: offered again before the batch ends");
    is_int((int)loop.nwq, 1, "batch write: still one write");
    ok(hs_sock_writev(&p[1].sock, iov, 1) == -1 && errno == EAGAIN, "batch write: a second socket's write queued");
    hs_sock_close(&p[1].sock); /* closed before the batch ends: its bytes are not sent */
    char big[HS_SOCK_BATCH_WRITE + 1];
    memset(big, 'x', sizeof(big));
    struct iovec bigv = {big, sizeof(big)};
    is_int((int)hs_sock_writev(&p[2].sock, &bigv, 1), (int)sizeof(big), "batch write: a large write goes at once");
    char got[64];
    is_int((int)recv(sv[0][1], got, sizeof(got), MSG_DONTWAIT), -1, "batch write: nothing sent before the batch ends");
    hs_loop_run_once(&loop, 0);
    is_int((int)recv(sv[0][1], got, sizeof(got), MSG_DONTWAIT), 5, "batch write: sent at the end of the batch");
    ok(memcmp(got, "hello", 5) == 0, "batch write: the bytes as offered");
    is_int((int)recv(sv[1][1], got, sizeof(got), MSG_DONTWAIT), 0, "batch write: the closed socket's never sent");
    ok(p[0].writes == 1 && loop.nwdone == 0, "batch write: the owner told with a write event in the batch that sent it");
    is_int((int)hs_sock_writev(&p[0].sock, iov, 2), 5, "batch write: the next write reports the bytes sent");
    ok(p[0].sock.wstate == HS_SOCK_W_NONE, "batch write: reported once");
    /* a peer that went away: the report is the error */
    close(sv[0][1]);
    loop.batch_now = true; /* as in a busy wake-up */
    ok(hs_sock_writev(&p[0].sock, iov, 2) == -1 && errno == EAGAIN, "batch write: queued to a closed peer");
    hs_loop_run_once(&loop, 0);
    hs_loop_run_once(&loop, 0);
    ok(hs_sock_writev(&p[0].sock, iov, 2) == -1 && (errno == EPIPE || errno == ECONNRESET),
       "batch write: the send's error reported");
    hs_sock_close(&p[0].sock);
    hs_sock_close(&p[2].sock);
    close(sv[1][1]);
    close(sv[2][1]);
    hs_loop_run_once(&loop, 0);
    /* an owner that writes again whenever it is told: a few rounds in the batch, and the last
     * report is due at the start of the next batch, which does not wait for events. Two other
     * sockets made readable before each wake-up make it a busy one (writes are batched only then) */
    int nv[2][2];
    probe_t np[2];
    memset(np, 0, sizeof(np));
    for (int i = 0; i < 2; i++)
        open_pair(&loop, &np[i].sock, nv[i], on_probe);
    chatty_t c = {.target = 10};
    int cv[2];
    open_pair(&loop, &c.sock, cv, on_chatty);
    hs_sock_batch_writes(&c.sock, true);
    busy(nv);
    hs_loop_run_once(&loop, 0); /* its first write-readiness queues the first write */
    ok(c.queued >= 1, "batch write rounds: the first write queued");
    int sent_before = c.sent;
    busy(nv);
    hs_loop_run_once(&loop, 0);
    ok(c.sent - sent_before >= 2, "batch write rounds: several rounds of send and tell in one batch");
    ok(loop.nwdone == 1 && c.sent < c.target, "batch write rounds: after the last round, one report left for the next batch");
    uint64_t t0 = hs_now_ms();
    hs_loop_run_once(&loop, 2000);
    ok(hs_now_ms() - t0 < 1000, "batch write rounds: the next batch does not wait for events when a report is due");
    for (int i = 0; i < 20 && c.sent < c.target; i++) {
        busy(nv);
        hs_loop_run_once(&loop, 5);
    }
    is_int(c.sent, c.target, "batch write rounds: every write reported");
    char all[64];
    is_int((int)recv(cv[1], all, sizeof(all), MSG_DONTWAIT), c.target * 2, "batch write rounds: every byte arrived, once");
    /* a quiet wake-up (one descriptor or none): nothing to batch, a write goes at once */
    hs_loop_run_once(&loop, 0);
    ok(!loop.batch_now, "quiet wake-up: not a batch");
    struct iovec one = {"ab", 2};
    is_int((int)hs_sock_writev(&c.sock, &one, 1), 2, "quiet wake-up: a write goes at once");
    ok(c.sock.wstate == HS_SOCK_W_NONE && loop.nwq == 0, "quiet wake-up: nothing queued");
    hs_sock_close(&c.sock);
    close(cv[1]);
    for (int i = 0; i < 2; i++) {
        hs_sock_close(&np[i].sock);
        close(nv[i][1]);
    }
    hs_loop_run_once(&loop, 0);
    hs_sock_pool_free(&loop);
    hs_loop_destroy(&loop);
}

/* A ring the kernel stops taking submissions from (its descriptor replaced by /dev/null): the
 * loop drops it, sends what was queued with plain calls, tells the owners, and goes on without. */
static void test_uring_refused(void)
{
    hs_loop_t loop;
    if (!uring_loop(&loop))
        return;
    int sv[2][2];
    probe_t p[2];
    memset(p, 0, sizeof(p));
    for (int i = 0; i < 2; i++) {
        open_pair(&loop, &p[i].sock, sv[i], on_probe);
        hs_sock_batch_writes(&p[i].sock, true);
        hs_sock_batch_reads(&p[i].sock, true);
    }
    hs_loop_run_once(&loop, 0);
    p[0].writes = p[1].writes = 0;
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || dup2(null, ((struct io_uring *)loop.uring)->ring_fd) < 0)
        abort();
    close(null);
    struct iovec iov = {"ping", 4};
    ok(hs_sock_writev(&p[0].sock, &iov, 1) == -1 && errno == EAGAIN, "ring refused: a write queued");
    ok(hs_sock_writev(&p[1].sock, &iov, 1) == -1 && errno == EAGAIN, "ring refused: a second write queued");
    hs_loop_run_once(&loop, 0);
    ok(loop.uring == NULL, "ring refused: the loop dropped it");
    ok(p[0].writes == 1 && p[1].writes == 1, "ring refused: both owners told");
    is_int((int)hs_sock_writev(&p[0].sock, &iov, 1), 4, "ring refused: the first write reported sent");
    is_int((int)hs_sock_writev(&p[1].sock, &iov, 1), 4, "ring refused: the second too");
    char got[16];
    ok(recv(sv[0][1], got, sizeof(got), MSG_DONTWAIT) == 4 && recv(sv[1][1], got, sizeof(got), MSG_DONTWAIT) == 4,
       "ring refused: the bytes arrived, once each");
    if (write(sv[0][1], "pong", 4) != 4 || write(sv[1][1], "pong", 4) != 4)
        abort();
    for (int i = 0; i < 100 && !(p[0].reads && p[1].reads); i++)
        hs_loop_run_once(&loop, 5);
    ok(!p[0].sock.batched && !p[1].sock.batched, "ring refused: reads are the owners' own after it");
    is_int((int)hs_sock_read(&p[0].sock, 4096, 65536), 4, "ring refused: and they read");
    for (int i = 0; i < 2; i++) {
        hs_sock_close(&p[i].sock);
        close(sv[i][1]);
    }
    hs_loop_run_once(&loop, 0);
    hs_sock_pool_free(&loop);
    hs_loop_destroy(&loop);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    hs_loop_t loop;
    if (hs_loop_init(&loop) != HS_OK)
        return 1;
    test_connect(&loop);
    test_refused(&loop);
    test_connect_timeout(&loop);
    test_deadline(&loop);
    test_batch_reads();
    test_batch_writes();
    test_uring_refused();
    hs_sock_pool_free(&loop);
    hs_loop_destroy(&loop);
    return tap_done();
}
