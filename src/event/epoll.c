/* statusd — the epoll backend of the event loop (Linux only). */
#define _GNU_SOURCE
#include "hs/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAX_EVENTS HS_LOOP_MAX_EVENTS
#define TASK_ROUNDS 4 /* tasks posting tasks: rounds run in one batch before the rest waits */

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

void hs_loop_destroy(hs_loop_t *loop)
{
    if (current == loop)
        current = NULL;
    dispose_closed(loop);
    free(loop->disposed);
    loop->disposed = NULL;
    close(loop->wakefd);
    close(loop->epfd);
    if (loop->batch)
        loop->batch->destroy(loop);
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
    loop->batch_now = loop->uring != NULL && n > 1;
    if (loop->batch_now) { /* the descriptors the loop may read for: one call for all */
        hs_io_t *ready[MAX_EVENTS];
        int k = 0;
        for (int i = 0; i < n; i++) {
            hs_io_t *io = events[i].data.ptr;
            if (io->batch_read && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                ready[k++] = io;
        }
        if (k > 0)
            loop->batch->read(loop, ready, k);
    }
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
        loop->batch->tell(loop);
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
    if (loop->nwq)
        loop->batch->end(loop); /* the batch's writes go now */
    dispose_closed(loop);
}
