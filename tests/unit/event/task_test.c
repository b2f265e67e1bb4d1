/* Unit tests for the loop's end-of-batch tasks (hs_loop_post), level-triggered interest
 * (hs_io_set_events) and the current loop (hs_loop_current), src/event/epoll.c. */
#define _GNU_SOURCE
#include "hs/loop.h"
#include "tap.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static char trace[32];
static int ntrace;
static hs_loop_t L;

static void mark(char c)
{
    if (ntrace < (int)sizeof(trace) - 1)
        trace[ntrace++] = c;
}

typedef struct {
    hs_task_t t;
    char name;
    int reposts; /* post itself again this many times */
} task_t;

static void on_task(hs_task_t *t)
{
    task_t *x = (task_t *)t;
    mark(x->name);
    if (x->reposts > 0) {
        x->reposts--;
        hs_loop_post(&L, t);
    }
}

typedef struct {
    hs_io_t io;
    task_t *post; /* posted when the descriptor is handled */
    int reads, writes;
} pipe_io_t;

static void on_io(hs_io_t *io, int events)
{
    pipe_io_t *p = (pipe_io_t *)io;
    if (events == HS_EV_DISPOSE)
        return;
    if (events & HS_EV_READ) {
        p->reads++;
        mark('r');
    }
    if (events & HS_EV_WRITE)
        p->writes++;
    if (p->post)
        hs_loop_post(&L, &p->post->t);
}

static void *other_thread(void *arg)
{
    return hs_loop_current() == arg ? (void *)1 : NULL;
}

int main(void)
{
    if (hs_loop_init(&L) != HS_OK)
        return 1;
    ok(hs_loop_current() == NULL, "no current loop before one runs");

    /* posted between batches: the next run does not wait, and runs each task once */
    task_t a = {.t.cb = on_task, .name = 'a'}, b = {.t.cb = on_task, .name = 'b'};
    hs_loop_post(&L, &a.t);
    hs_loop_post(&L, &b.t);
    hs_loop_post(&L, &a.t); /* again: nothing more */
    uint64_t t0 = hs_now_ms();
    hs_loop_run_once(&L, 1000);
    ok(hs_now_ms() - t0 < 500, "tasks posted between batches: the run does not wait for events");
    trace[ntrace] = '\0';
    ok(strcmp(trace, "ab") == 0, "each task ran once, in order (%s)", trace);
    ok(hs_loop_current() == &L, "the current loop is the one that ran here");
    pthread_t th;
    void *seen;
    pthread_create(&th, NULL, other_thread, &L);
    pthread_join(th, &seen);
    ok(seen == NULL, "…and not on another thread");

    /* posted from io callbacks of one batch: run after all of them, once */
    int p1[2], p2[2];
    if (pipe2(p1, O_NONBLOCK | O_CLOEXEC) || pipe2(p2, O_NONBLOCK | O_CLOEXEC))
        return 1;
    task_t f = {.t.cb = on_task, .name = 'F'};
    pipe_io_t r1 = {.io = {.fd = p1[0], .cb = on_io}, .post = &f}, r2 = {.io = {.fd = p2[0], .cb = on_io}, .post = &f};
    is_int(hs_io_set_events(&L, &r1.io, HS_EV_READ), HS_OK, "level-triggered read interest (added)");
    is_int(hs_io_set_events(&L, &r2.io, HS_EV_READ), HS_OK, "a second descriptor");
    ssize_t w = write(p1[1], "x", 1) + write(p2[1], "y", 1);
    ok(w == 2, "both readable");
    ntrace = 0;
    hs_loop_run_once(&L, 1000);
    trace[ntrace] = '\0';
    ok(strcmp(trace, "rrF") == 0, "two descriptors, then the task they both posted, once (%s)", trace);

    /* level-triggered: told again while the data waits, quiet once interest is dropped */
    ntrace = 0;
    r1.post = r2.post = NULL;
    hs_loop_run_once(&L, 0);
    ok(r1.reads == 2 && r2.reads == 2, "unread data: told again on the next run (level-triggered)");
    is_int(hs_io_set_events(&L, &r1.io, 0), HS_OK, "interest dropped (still registered)");
    hs_loop_run_once(&L, 0);
    ok(r1.reads == 2 && r2.reads == 3, "…the quiet one is not told");
    pipe_io_t wr = {.io = {.fd = p1[1], .cb = on_io}};
    is_int(hs_io_set_events(&L, &wr.io, HS_EV_WRITE), HS_OK, "write interest");
    hs_loop_run_once(&L, 0);
    ok(wr.writes == 1, "a writable pipe: told");

    /* a task that keeps posting itself is bounded per batch */
    task_t loop_task = {.t.cb = on_task, .name = 'L', .reposts = 100};
    ntrace = 0;
    hs_io_set_events(&L, &r2.io, 0);
    hs_io_set_events(&L, &wr.io, 0);
    hs_loop_post(&L, &loop_task.t);
    hs_loop_run_once(&L, 0);
    ok(ntrace == 4, "a task reposting itself runs a bounded number of rounds per batch (%d)", ntrace);
    hs_loop_unpost(&L, &loop_task.t);
    ok(!loop_task.t.posted && L.tasks == NULL, "unpost takes it back");
    hs_loop_unpost(&L, &loop_task.t); /* harmless */

    hs_io_close(&L, &r1.io);
    hs_io_close(&L, &r2.io);
    hs_io_close(&L, &wr.io);
    hs_loop_destroy(&L);
    ok(hs_loop_current() == NULL, "a destroyed loop is no longer current");
    close(p1[0]);
    close(p1[1]);
    close(p2[0]);
    close(p2[1]);
    return tap_done();
}
