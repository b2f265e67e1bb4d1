/* Unit tests for the epoll loop (src/event/epoll.c): descriptors registered with
 * hs_io_add_first are dispatched before every other descriptor ready in the same wake-up,
 * whatever order epoll reports them in. */
#define _GNU_SOURCE
#include "hs/loop.h"
#include "tap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static char order[16];
static int norder;

typedef struct {
    hs_io_t io;
    char name;
} tagged_t;

static void on_ready(hs_io_t *io, int events)
{
    tagged_t *t = (tagged_t *)io;
    char b[64];
    while (read(io->fd, b, sizeof(b)) > 0)
        ;
    if (events & HS_EV_READ && norder < (int)sizeof(order) - 1)
        order[norder++] = t->name;
}

static void make_pipe(int p[2])
{
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0)
        abort();
}

/* ---- deferred close: an io closed while another is handled is neither dispatched nor freed
 * before the batch ends ---- */
typedef struct closer_s {
    hs_io_t io;
    hs_loop_t *loop;
    struct closer_s *victim; /* closed (and its fd too) when this one is dispatched */
    int dispatched, disposed;
} closer_t;

static void on_closer(hs_io_t *io, int events)
{
    closer_t *c = (closer_t *)io;
    if (events == HS_EV_DISPOSE) {
        c->disposed++;
        return;
    }
    char b[64];
    while (read(io->fd, b, sizeof(b)) > 0)
        ;
    c->dispatched++;
    if (c->victim) {
        hs_io_close(c->loop, &c->victim->io);
        close(c->victim->io.fd);
        ok(c->victim->disposed == 0, "a closed io is not disposed of inside hs_io_close");
    }
}

static void test_deferred_close(hs_loop_t *loop)
{
    int p[2], q[2];
    make_pipe(p);
    make_pipe(q);
    closer_t a = {.io = {.fd = p[0], .cb = on_closer}, .loop = loop};
    closer_t b = {.io = {.fd = q[0], .cb = on_closer}, .loop = loop};
    hs_io_add(loop, &a.io);
    hs_io_add(loop, &b.io);
    /* both ready in one batch; whichever is dispatched first closes the other */
    a.victim = &b;
    b.victim = &a;
    if (write(p[1], "x", 1) != 1 || write(q[1], "x", 1) != 1)
        abort();
    hs_loop_run_once(loop, 1000);
    is_int(a.dispatched + b.dispatched, 1, "deferred close: the io closed in the batch is not dispatched");
    closer_t *closed = a.dispatched ? &b : &a;
    is_int(closed->disposed, 1, "deferred close: disposed of once, at the end of the batch");
    ok((a.dispatched ? &a : &b)->disposed == 0, "deferred close: the other io lives on");
    /* closed between batches: disposed of by the next batch, once */
    closer_t *live = a.dispatched ? &a : &b;
    live->victim = NULL;
    hs_io_close(loop, &live->io);
    hs_io_close(loop, &live->io); /* twice is harmless */
    is_int(live->disposed, 0, "deferred close: not disposed of between batches");
    hs_loop_run_once(loop, 0);
    is_int(live->disposed, 1, "deferred close: disposed of by the next batch, once");
    close(live->io.fd);
    close(p[1]);
    close(q[1]);
}

int main(void)
{
    hs_loop_t loop;
    ok(hs_loop_init(&loop) == HS_OK, "loop init");
    int a[2], b[2], c[2];
    make_pipe(a);
    make_pipe(b);
    make_pipe(c);
    tagged_t ta = {{.fd = a[0], .cb = on_ready}, 'a'};
    tagged_t tb = {{.fd = b[0], .cb = on_ready}, 'b'};
    tagged_t tc = {{.fd = c[0], .cb = on_ready}, 'F'};
    ok(hs_io_add(&loop, &ta.io) == HS_OK, "add a");
    ok(hs_io_add(&loop, &tb.io) == HS_OK, "add b");
    ok(hs_io_add_first(&loop, &tc.io) == HS_OK, "add F first");
    is_int(loop.nfirst, 1, "one first descriptor");

    for (int round = 0; round < 3; round++) {
        /* the first descriptor becomes ready last: epoll reports a, b, F */
        norder = 0;
        if (write(a[1], "x", 1) != 1 || write(b[1], "x", 1) != 1 || write(c[1], "x", 1) != 1)
            abort();
        hs_loop_run_once(&loop, 1000);
        order[norder] = '\0';
        ok(norder == 3 && order[0] == 'F', "round %d: F dispatched before the others (%s)", round, order);
    }

    /* only ordinary descriptors ready: dispatched as usual */
    norder = 0;
    if (write(b[1], "x", 1) != 1)
        abort();
    hs_loop_run_once(&loop, 1000);
    order[norder] = '\0';
    ok(norder == 1 && order[0] == 'b', "without the first descriptor ready: %s", order);

    /* removed: no longer dispatched, and the count goes back */
    hs_io_del_first(&loop, &tc.io);
    is_int(loop.nfirst, 0, "none after hs_io_del_first");
    norder = 0;
    if (write(c[1], "x", 1) != 1 || write(a[1], "x", 1) != 1)
        abort();
    hs_loop_run_once(&loop, 1000);
    order[norder] = '\0';
    ok(norder == 1 && order[0] == 'a', "a removed descriptor is not dispatched: %s", order);

    test_deferred_close(&loop);

    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
        close(c[i]);
    }
    hs_loop_destroy(&loop);
    return tap_done();
}
