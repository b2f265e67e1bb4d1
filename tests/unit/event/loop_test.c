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

    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
        close(c[i]);
    }
    hs_loop_destroy(&loop);
    return tap_done();
}
