/* statusd — the epoll backend of the event loop (Linux only). */
#define _GNU_SOURCE
#include "hs/loop.h"
#include "hs/sock.h"

#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define TASK_ROUNDS 4  /* tasks posting tasks: rounds run in one batch before the rest waits */
#define WRITE_ROUNDS 4 /* send-and-tell rounds at the end of a batch before the rest waits for the next */

static void dispose_closed(hs_loop_t *loop);
static _Thread_local hs_loop_t *current;

hs_loop_t *hs_loop_current(void)
{
    return current;
}

void hs_loop_update_clock(hs_loop_t *loop)
{
    loop->now_ms = hs_now_ms();
    loop->now_sec = time(NULL);
}

static void on_wake(hs_io_t *io, int events)
{
    HS_UNUSED(events);
    hs_loop_t *loop = (hs_loop_t *)((char *)io - offsetof(hs_loop_t, wake_io));
    uint64_t v;
    while (read(loop->wakefd, &v, sizeof(v)) > 0)
        ;
    if (loop->on_wake)
        loop->on_wake(loop);
}

int hs_loop_init(hs_loop_t *loop)
{
    memset(loop, 0, sizeof(*loop));
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -errno;
    loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wakefd < 0) {
        int e = errno;
        close(loop->epfd);
        return -e;
    }
    loop->tasks_tail = &loop->tasks;
    loop->wake_io.fd = loop->wakefd;
    loop->wake_io.cb = on_wake;
    hs_loop_update_clock(loop);
    hs_wheel_init(&loop->wheel, loop->now_ms);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &loop->wake_io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0)
        return -errno;
    return HS_OK;
}

int hs_loop_use_uring(hs_loop_t *loop)
{
    if (loop->uring)
        return HS_OK;
    struct io_uring *ring = hs_malloc(sizeof(*ring));
    int r = io_uring_queue_init(MAX_EVENTS, ring, 0); /* -errno */
    if (r < 0) {
        free(ring);
        return r;
    }
    loop->uring = ring;
    if (!loop->wbuf) { /* (a ring dropped after a failed submission left them) */
        loop->wq = hs_malloc(HS_LOOP_WQ_MAX * sizeof(*loop->wq));
        loop->wdone = hs_malloc(HS_LOOP_WQ_MAX * sizeof(*loop->wdone));
        loop->wbuf = hs_malloc(HS_LOOP_WBUF_SIZE);
    }
    return HS_OK;
}

void hs_loop_destroy(hs_loop_t *loop)
{
    if (current == loop)
        current = NULL;
    dispose_closed(loop);
    free(loop->disposed);
    loop->disposed = NULL;
    close(loop->wakefd);
    close(loop->epfd);
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
}

int hs_io_add(hs_loop_t *loop, hs_io_t *io)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = io};
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0 ? -errno : HS_OK;
}

int hs_io_add_listener(hs_loop_t *loop, hs_io_t *io)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = io};
    return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0 ? -errno : HS_OK;
}

int hs_io_add_first(hs_loop_t *loop, hs_io_t *io)
{
    io->first = true;
    int r = hs_io_add_listener(loop, io);
    if (r == HS_OK)
        loop->nfirst++;
    return r;
}

void hs_io_del_first(hs_loop_t *loop, hs_io_t *io)
{
    hs_io_del(loop, io);
    loop->nfirst--;
}

int hs_io_set_events(hs_loop_t *loop, hs_io_t *io, int events)
{
    struct epoll_event ev = {.events = (events & HS_EV_READ ? EPOLLIN : 0) | (events & HS_EV_WRITE ? EPOLLOUT : 0),
                             .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) == 0)
        return HS_OK;
    if (errno == ENOENT && epoll_ctl(loop->epfd, EPOLL_CTL_ADD, io->fd, &ev) == 0)
        return HS_OK;
    return -errno;
}

void hs_io_del(hs_loop_t *loop, hs_io_t *io)
{
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

void hs_io_close(hs_loop_t *loop, hs_io_t *io)
{
    if (io->closed)
        return;
    io->closed = true;
    if (io->fd >= 0)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    if (loop->ndisposed == loop->cap_disposed) {
        loop->cap_disposed = loop->cap_disposed ? loop->cap_disposed * 2 : 16;
        loop->disposed = hs_realloc(loop->disposed, loop->cap_disposed * sizeof(*loop->disposed));
    }
    loop->disposed[loop->ndisposed++] = io;
}

/* No event fetched by epoll_wait and no timer of the batch refers to the ios closed meanwhile
 * any more, so they can go. A dispose callback may close further ios: they go too. */
static void dispose_closed(hs_loop_t *loop)
{
    for (size_t i = 0; i < loop->ndisposed; i++)
        loop->disposed[i]->cb(loop->disposed[i], HS_EV_DISPOSE);
    loop->ndisposed = 0;
}

void hs_loop_post(hs_loop_t *loop, hs_task_t *t)
{
    if (t->posted)
        return;
    t->posted = true;
    t->next = NULL;
    *loop->tasks_tail = t;
    loop->tasks_tail = &t->next;
}

void hs_loop_unpost(hs_loop_t *loop, hs_task_t *t)
{
    if (!t->posted)
        return;
    for (hs_task_t **pp = &loop->tasks; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            if (loop->tasks_tail == &t->next)
                loop->tasks_tail = pp;
            break;
        }
    t->posted = false;
}

/* The tasks posted so far, each once; those they post run in the next round, and after a few
 * rounds in the next batch (which then does not wait), so that a task that keeps posting itself
 * cannot starve the descriptors. */
static void run_tasks(hs_loop_t *loop)
{
    for (int round = 0; round < TASK_ROUNDS && loop->tasks; round++) {
        hs_task_t *t = loop->tasks;
        loop->tasks = NULL;
        loop->tasks_tail = &loop->tasks;
        while (t) {
            hs_task_t *next = t->next;
            t->posted = false;
            t->cb(t);
            t = next;
        }
    }
}

void hs_loop_wake(hs_loop_t *loop)
{
    uint64_t one = 1;
    ssize_t r = write(loop->wakefd, &one, sizeof(one));
    (void)r;
}

static void pool_trim(hs_loop_t *loop)
{
    while (loop->nbuf_pool > HS_LOOP_POOL_IDLE)
        free(loop->buf_pool[--loop->nbuf_pool]);
}

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
 * MAX_EVENTS of them; a lone one is a plain send. Their owners are told by tell_writes, in the
 * same batch for the first rounds, else at the start of the next. */
static void flush_writes(hs_loop_t *loop)
{
    hs_io_t *sub[MAX_EVENTS];
    unsigned k = 0;
    bool ring = loop->uring && loop->nwq > 1; /* one: a plain send costs the same system call */
    for (unsigned i = 0; i < loop->nwq && ring; i++) {
        hs_io_t *io = loop->wq[i];
        if (!io)
            continue; /* closed since */
        hs_sock_t *s = (hs_sock_t *)io;
        struct io_uring_sqe *sqe = io_uring_get_sqe(loop->uring);
        if (!sqe) { /* the ring has MAX_EVENTS entries */
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
static void batch_reads(hs_loop_t *loop, struct epoll_event *events, int n)
{
    struct io_uring *ring = loop->uring;
    hs_io_t *sub[MAX_EVENTS];
    unsigned k = 0;
    for (int i = 0; i < n; i++) {
        hs_io_t *io = events[i].data.ptr;
        if (!io->batch_read || !(events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
            continue;
        char *buf;
        size_t room;
        if (!hs__sock_batch_prep((hs_sock_t *)io, &buf, &room))
            continue;
        struct io_uring_sqe *sqe = io_uring_get_sqe(ring); /* the ring has MAX_EVENTS entries */
        io_uring_prep_recv(sqe, io->fd, buf, room, MSG_DONTWAIT);
        io_uring_sqe_set_data(sqe, (void *)(uintptr_t)k);
        sub[k++] = io;
    }
    if (k)
        submit_reap(loop, sub, k, read_done); /* a read the ring never took: its owner makes it */
}

void hs_loop_run_once(hs_loop_t *loop, int max_wait_ms)
{
    struct epoll_event events[MAX_EVENTS];
    current = loop;
    int64_t t = hs_wheel_timeout(&loop->wheel, loop->now_ms);
    int wait = max_wait_ms;
    if (t >= 0 && (wait < 0 || t < wait))
        wait = (int)t;
    if (loop->tasks || loop->nwdone)
        wait = 0; /* posted between batches, or writes sent: they run at the start of this one, now */
    if (loop->ndisposed)
        dispose_closed(loop); /* closed between batches */
    int n = epoll_wait(loop->epfd, events, MAX_EVENTS, wait);
    hs_loop_update_clock(loop);
    if (n == 0 && wait != 0 && loop->nbuf_pool > HS_LOOP_POOL_IDLE)
        pool_trim(loop); /* a quiet moment: the spare input buffers of the busy one go */
    loop->iter++;
    if (loop->uring && n > 1)
        batch_reads(loop, events, n);
    if (loop->nfirst > 0) {
        for (int i = 0; i < n; i++) {
            hs_io_t *io = events[i].data.ptr;
            if (io->first && !io->closed) {
                events[i].data.ptr = NULL;
                io->cb(io, HS_EV_READ);
            }
        }
    }
    if (loop->nwdone)
        tell_writes(loop);
    for (int i = 0; i < n; i++) {
        hs_io_t *io = events[i].data.ptr;
        if (!io || io->closed)
            continue; /* dispatched first, or closed earlier in this batch */
        uint32_t e = events[i].events;
        int ev = 0;
        if (e & EPOLLIN)
            ev |= HS_EV_READ;
        if (e & EPOLLOUT)
            ev |= HS_EV_WRITE;
        if (e & (EPOLLHUP | EPOLLRDHUP))
            ev |= HS_EV_HUP | HS_EV_READ;
        if (e & EPOLLERR)
            ev |= HS_EV_ERROR | HS_EV_READ | HS_EV_WRITE;
        io->cb(io, ev);
    }
    hs_wheel_run(&loop->wheel, loop->now_ms);
    run_tasks(loop);
    /* The batch's writes go now, and their owners learn it at once, which may queue more (the
     * next pipelined answer, the next part of a stream): a few rounds, then what is left is told
     * at the start of the next batch (which does not wait). */
    for (int round = 0; loop->nwq && round < WRITE_ROUNDS; round++) {
        flush_writes(loop);
        tell_writes(loop);
    }
    if (loop->nwq)
        flush_writes(loop);
    dispose_closed(loop);
}
