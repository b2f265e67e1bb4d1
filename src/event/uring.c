/* statusd — reads and writes in a batch with io_uring (Linux only).
 *
 * The loop (epoll.c) stays a readiness loop: it waits with epoll_wait and dispatches. What this
 * file adds sits at three points of each wake-up, through the loop's batch hooks (hs_loop_batch_t),
 * so that the loop knows nothing of sockets:
 * - read: before any callback, the sockets the wake-up found readable that let the loop read for
 *   them (hs_sock_batch_reads) are read with one io_uring_enter, into their own empty buffers;
 * - end: after the callbacks, the small writes they queued (hs_sock_batch_writes, src/event/sock.c)
 *   are sent with one io_uring_enter, and their owners told at once, for a few rounds;
 * - tell: what is left to tell is told at the start of the next wake-up, which does not wait.
 * Every operation is a MSG_DONTWAIT receive or send that finishes during its submission, so
 * nothing is ever in flight between wake-ups and the buffers stay the sockets' and the loop's own.
 * Under a hypervisor, where each system call is a trip through it, this is what makes a proxied
 * request cost no call of its own (docs/engine.md). */
#define _GNU_SOURCE
#include "hs/loop.h"
#include "hs/sock.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define RING_ENTRIES HS_LOOP_MAX_EVENTS /* a wake-up's reads fit in one submission */
#define WRITE_ROUNDS 4 /* send-and-tell rounds at the end of a batch before the rest waits for the next */

/* The kernel refused a submission (out of memory, or the ring gone bad): the ring goes, and the
 * loop makes plain calls from now on. Closing the ring drops whatever entries it still held, so
 * none can run later against buffers that have moved on. */
static void drop_uring(hs_loop_t *loop, int err)
{
    hs_log_warn("io_uring: a batch could not be submitted (%s): plain system calls from now on", strerror(-err));
    io_uring_queue_exit(loop->uring);
    free(loop->uring);
    loop->uring = NULL;
}

/* Submit the k operations prepared (sub[j] the io of the one whose user data is j) and hand each
 * completion to `done`. Every operation here is MSG_DONTWAIT and finishes during the submission:
 * the wait never sleeps. True when all k were done. False when the kernel refused or took fewer:
 * the ring is dropped; an operation it took whose completion was not seen is done with -EIO
 * (its bytes may have moved: the connection fails rather than lose or repeat them), and one it
 * never took is left to the caller, to make with a plain call. */
static bool submit_reap(hs_loop_t *loop, hs_io_t **sub, unsigned k, void (*done)(hs_loop_t *, void *, int))
{
    struct io_uring *ring = loop->uring;
    int r;
    do
        r = io_uring_submit_and_wait(ring, k);
    while (r == -EINTR); /* -EINTR: nothing was submitted (a count is returned once any was) */
    unsigned took = r > 0 ? (unsigned)r : 0, seen = 0;
    while (seen < took) {
        unsigned head, got = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(ring, head, cqe)
        {
            uintptr_t j = (uintptr_t)io_uring_cqe_get_data(cqe);
            done(loop, sub[j], cqe->res);
            sub[j] = NULL;
            got++;
        }
        io_uring_cq_advance(ring, got);
        seen += got;
        if (seen < took) {
            int w;
            do
                w = io_uring_wait_cqe_nr(ring, &cqe, took - seen);
            while (w == -EINTR);
            if (w < 0) {
                r = w;
                break;
            }
        }
    }
    if (r >= 0 && seen == k)
        return true;
    for (unsigned j = 0; j < took; j++) /* the kernel takes entries in order: these it took */
        if (sub[j])
            done(loop, sub[j], -EIO);
    drop_uring(loop, r < 0 ? r : -EAGAIN);
    return false;
}

static void read_done(hs_loop_t *loop, void *io, int res)
{
    HS_UNUSED(loop);
    hs__sock_batch_done(io, res);
}

static void write_done(hs_loop_t *loop, void *io, int res)
{
    hs_sock_t *s = io;
    s->wres = res;
    s->wstate = HS_SOCK_W_SENT;
    s->widx = loop->nwdone;
    loop->wdone[loop->nwdone++] = io;
}

/* A queued write sent with a plain call: the lone one of a batch, or one the ring did not take. */
static void send_now(hs_loop_t *loop, hs_sock_t *s)
{
    ssize_t r = send(s->io.fd, loop->wbuf + s->woff, s->wlen, MSG_DONTWAIT | MSG_NOSIGNAL);
    write_done(loop, s, r < 0 ? -errno : (int)r);
}

/* The end of a batch: send every write it queued (hs_sock_batch_writes), one io_uring_enter per
 * RING_ENTRIES of them; a lone one is a plain send. Their owners are told by tell_writes, in the
 * same batch for the first rounds, else at the start of the next. */
static void flush_writes(hs_loop_t *loop)
{
    hs_io_t *sub[RING_ENTRIES];
    unsigned k = 0;
    bool ring = loop->uring && loop->nwq > 1; /* one: a plain send costs the same system call */
    for (unsigned i = 0; i < loop->nwq && ring; i++) {
        hs_io_t *io = loop->wq[i];
        if (!io)
            continue; /* closed since */
        hs_sock_t *s = (hs_sock_t *)io;
        struct io_uring_sqe *sqe = io_uring_get_sqe(loop->uring);
        if (!sqe) { /* the ring is full: submit, then go on */
            ring = submit_reap(loop, sub, k, write_done);
            k = 0;
            if (!ring)
                break;
            sqe = io_uring_get_sqe(loop->uring);
        }
        io_uring_prep_send(sqe, io->fd, loop->wbuf + s->woff, s->wlen, MSG_DONTWAIT | MSG_NOSIGNAL);
        io_uring_sqe_set_data(sqe, (void *)(uintptr_t)k);
        sub[k++] = io;
    }
    if (k)
        submit_reap(loop, sub, k, write_done);
    for (unsigned i = 0; i < loop->nwq; i++) { /* not sent through the ring: one call each */
        hs_sock_t *s = (hs_sock_t *)loop->wq[i];
        if (s && s->wstate == HS_SOCK_W_QUEUED)
            send_now(loop, s);
    }
    loop->nwq = 0;
    loop->wbuf_len = 0;
}

/* Each owner whose write was sent learns it as a write event; its next write takes the report. */
static void tell_writes(hs_loop_t *loop)
{
    for (unsigned i = 0; i < loop->nwdone; i++) {
        hs_io_t *io = loop->wdone[i];
        if (!io)
            continue; /* reported already, or closed */
        loop->wdone[i] = NULL;
        ((hs_sock_t *)io)->widx = HS_SOCK_NO_SLOT;
        if (!io->closed)
            io->cb(io, HS_EV_WRITE);
    }
    loop->nwdone = 0;
}

/* Reads in a batch: every socket of this wake-up that lets the loop read for it
 * (hs_sock_batch_reads) and has room is read with one io_uring_enter instead of a recvfrom each
 * later. MSG_DONTWAIT makes each read finish during the submission (with -EAGAIN when nothing
 * is there), so no read is ever left in flight: the buffers are the sockets' own. */
static void batch_reads(hs_loop_t *loop, hs_io_t **ready, int n)
{
    struct io_uring *ring = loop->uring;
    hs_io_t *sub[RING_ENTRIES];
    unsigned k = 0;
    for (int i = 0; i < n; i++) {
        hs_io_t *io = ready[i];
        char *buf;
        size_t room;
        if (!hs__sock_batch_prep((hs_sock_t *)io, &buf, &room))
            continue;
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring); /* n <= HS_LOOP_MAX_EVENTS = RING_ENTRIES */
        io_uring_prep_recv(sqe, io->fd, buf, room, MSG_DONTWAIT);
        io_uring_sqe_set_data(sqe, (void *)(uintptr_t)k);
        sub[k++] = io;
    }
    if (k)
        submit_reap(loop, sub, k, read_done); /* a read the ring never took: its owner makes it */
}

/* The end of a wake-up: the batch's writes go now, and their owners learn it at once, which may
 * queue more (the next pipelined answer, the next part of a stream): a few rounds, then what is
 * left is told at the start of the next wake-up (which does not wait). */
static void batch_end(hs_loop_t *loop)
{
    for (int round = 0; loop->nwq && round < WRITE_ROUNDS; round++) {
        flush_writes(loop);
        tell_writes(loop);
    }
    if (loop->nwq)
        flush_writes(loop);
}

static void batch_destroy(hs_loop_t *loop)
{
    if (loop->uring) {
        io_uring_queue_exit(loop->uring);
        free(loop->uring);
        loop->uring = NULL;
    }
    free(loop->wq); /* (kept when a failed submission dropped the ring) */
    free(loop->wdone);
    free(loop->wbuf);
    loop->wq = loop->wdone = NULL;
    loop->wbuf = NULL;
    loop->nwq = loop->nwdone = 0;
    loop->batch = NULL;
}

static const hs_loop_batch_t uring_batch = {batch_reads, tell_writes, batch_end, batch_destroy};

int hs_loop_use_uring(hs_loop_t *loop)
{
    if (loop->uring)
        return HS_OK;
    struct io_uring *ring = hs_malloc(sizeof(*ring));
    int r = io_uring_queue_init(RING_ENTRIES, ring, 0); /* -errno */
    if (r < 0) {
        free(ring);
        return r;
    }
    loop->uring = ring;
    loop->batch = &uring_batch;
    if (!loop->wbuf) { /* (a ring dropped after a failed submission left them) */
        loop->wq = hs_malloc(HS_LOOP_WQ_MAX * sizeof(*loop->wq));
        loop->wdone = hs_malloc(HS_LOOP_WQ_MAX * sizeof(*loop->wdone));
        loop->wbuf = hs_malloc(HS_LOOP_WBUF_SIZE);
    }
    return HS_OK;
}
