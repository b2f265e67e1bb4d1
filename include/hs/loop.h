/* statusd — event loop (one per worker thread) with a hierarchical timer wheel.
 *
 * The interface is tiny on purpose (redis ae.c); the only backend is epoll (src/event/epoll.c).
 * File descriptors are registered edge-triggered once for their lifetime; the owner tracks
 * readiness itself. The clock is read once per iteration and cached (loop->now_ms, now_sec).
 */
#ifndef HS_LOOP_H
#define HS_LOOP_H

#include "hs/core.h"
#include <time.h>

typedef struct hs_loop_s hs_loop_t;
typedef struct hs_io_s hs_io_t;
typedef struct hs_timer_s hs_timer_t;

enum {
    HS_EV_READ = 1,
    HS_EV_WRITE = 2,
    HS_EV_HUP = 4,
    HS_EV_ERROR = 8,
    HS_EV_DISPOSE = 16, /* alone: the io was closed (hs_io_close) and its memory may go now */
    HS_EV_TIMEOUT = 32, /* alone: a socket's deadline passed (hs_sock_set_deadline) */
};

typedef struct hs_task_s hs_task_t;

typedef void (*hs_io_cb)(hs_io_t *io, int events);
typedef void (*hs_timer_cb)(hs_timer_t *t);

struct hs_io_s {
    int fd;
    bool first;       /* dispatched before the other events of the same wake-up (hs_io_add_first) */
    bool closed;      /* hs_io_close was called: never dispatched again */
    bool batch_read;  /* a socket whose reads the loop may make in a batch (hs_sock_batch_reads) */
    bool batch_write; /* a socket whose small writes the loop may make in a batch (hs_sock_batch_writes) */
    hs_io_cb cb;
};

/* Intrusive timer. Zero-initialise; a timer is linked at most once. */
struct hs_timer_s {
    hs_timer_t *next, *prev;
    uint64_t at;
    hs_timer_cb cb;
};

/* Work for the end of the current batch (hs_loop_post). Zero-initialise and set cb. */
struct hs_task_s {
    hs_task_t *next;
    bool posted;
    void (*cb)(hs_task_t *t);
};

#define HS_WHEEL_BITS 6
#define HS_WHEEL_SLOTS (1 << HS_WHEEL_BITS)
#define HS_WHEEL_LEVELS 4 /* 1 ms resolution, 64^4 ms (~4.6 h) span */

typedef struct hs_wheel_s {
    uint64_t last; /* every timer with at <= last has run */
    uint64_t bitmap[HS_WHEEL_LEVELS];
    hs_timer_t slots[HS_WHEEL_LEVELS][HS_WHEEL_SLOTS]; /* list heads */
    size_t count;
} hs_wheel_t;

struct hs_loop_s {
    int epfd;
    int wakefd; /* eventfd: another thread asks this loop to look at its flags */
    hs_io_t wake_io;
    uint64_t now_ms;   /* cached monotonic clock */
    time_t now_sec;    /* cached wall clock */
    uint64_t iter;     /* bumped per wake-up: per-moment caches key on it and on accepted */
    uint64_t accepted; /* connections accepted by this loop so far (the listener counts them) */
    hs_wheel_t wheel;
    void (*on_wake)(hs_loop_t *loop);
    void *data;
    unsigned nfirst;    /* descriptors registered with hs_io_add_first */
    hs_io_t **disposed; /* closed ios waiting for HS_EV_DISPOSE (hs_io_close) */
    size_t ndisposed, cap_disposed;
    /* input buffers idle sockets gave back (src/event/sock.c): as many as one batch of reads may
     * take at once, so that a busy loop does not free and allocate them again every wake-up; a
     * wake-up that finds nothing to do gives back all but HS_LOOP_POOL_IDLE */
    char *buf_pool[256];
    int nbuf_pool;
    hs_task_t *tasks, **tasks_tail;      /* posted with hs_loop_post, not yet run */
    const struct hs_loop_batch_s *batch; /* the hooks of hs_loop_use_uring, NULL when off */
    void *uring;                         /* its io_uring (struct io_uring *), NULL when off or dropped */
    /* writes in a batch (src/event/sock.c): sockets whose bytes wait in wbuf for the end of the
     * batch, then those sent whose owners are still to be told */
    hs_io_t **wq, **wdone;
    unsigned nwq, nwdone;
    bool batch_now; /* this wake-up found several descriptors ready, with the ring there: small
                       writes wait for its end (a lone one is written at once) */
    char *wbuf;
    uint32_t wbuf_len;
};

/* The most descriptors one wake-up dispatches (epoll_wait's batch). */
#define HS_LOOP_MAX_EVENTS 256

/* Hooks the loop calls at fixed points of a wake-up, for reads and writes made in a batch
 * (src/event/uring.c, installed by hs_loop_use_uring): read, before any callback, with the
 * descriptors found readable that let the loop read for them (io->batch_read), when the loop's
 * ring is there and the wake-up has several; tell, at the start, when reports are due (nwdone);
 * end, after the callbacks, tasks and timers, when writes are queued (nwq); destroy, by
 * hs_loop_destroy. */
typedef struct hs_loop_batch_s {
    void (*read)(hs_loop_t *loop, hs_io_t **ready, int n);
    void (*tell)(hs_loop_t *loop);
    void (*end)(hs_loop_t *loop);
    void (*destroy)(hs_loop_t *loop);
} hs_loop_batch_t;

int hs_loop_init(hs_loop_t *loop);
/* From now on, read in a batch the sockets each wake-up finds readable that let the loop read
 * for them (hs_sock_batch_reads): one io_uring_enter for all of them before their callbacks run,
 * instead of a recvfrom in each; and send the small writes of the sockets that let it
 * (hs_sock_batch_writes) with one io_uring_enter at the end of each batch. HS_OK, or -errno when the kernel has no
 * io_uring for us (ENOSYS, EPERM under a seccomp policy or io_uring_disabled, ENOMEM over RLIMIT_MEMLOCK): the loop
 * then goes on as before. Should the kernel later refuse a submission, the loop drops the ring
 * (logged once) and makes plain calls from then on (queued writes still wait for the end of the
 * batch). hs_loop_destroy releases the ring. */
int hs_loop_use_uring(hs_loop_t *loop);
#define HS_LOOP_POOL_IDLE 16
#define HS_LOOP_WQ_MAX 1024            /* writes one batch may queue (hs_sock_batch_writes) */
#define HS_LOOP_WBUF_SIZE (256 << 10)  /* and their bytes */
void hs_loop_destroy(hs_loop_t *loop); /* disposes of closed ios first */
/* Register fd edge-triggered for read and write readiness. */
int hs_io_add(hs_loop_t *loop, hs_io_t *io);
void hs_io_del(hs_loop_t *loop, hs_io_t *io);
/* End an io's life (h2o's disposed sockets; redis ae.c re-checks an event before use): it is
 * unregistered at once (io->fd must still be open; the owner may close it right after), never
 * dispatched again — not even for events already fetched in the current batch — and its
 * callback is called once more, with HS_EV_DISPOSE alone, when nothing can refer to it any
 * more: at the end of the current hs_loop_run_once batch (or, when called between batches, at
 * the start of the next one, or in hs_loop_destroy). Never from inside hs_io_close. Only then
 * may the owner free the memory holding the io. Closing one io while handling another (a
 * helper's wake-up answering a connection, a proxy closing the upstream of a client) is thus
 * always safe. Closing twice is harmless. */
void hs_io_close(hs_loop_t *loop, hs_io_t *io);
/* Register a listening socket level-triggered for read. */
int hs_io_add_listener(hs_loop_t *loop, hs_io_t *io);
/* Register fd level-triggered for read, to be dispatched before every other descriptor ready
 * in the same wake-up (news that must be known before requests are looked at, such as file
 * changes). Remove it with hs_io_del_first. */
int hs_io_add_first(hs_loop_t *loop, hs_io_t *io);
void hs_io_del_first(hs_loop_t *loop, hs_io_t *io);
/* Register fd level-triggered with exactly the interests in `events` (HS_EV_READ, HS_EV_WRITE,
 * both, or 0: registered and quiet), or change the interests of a descriptor registered so
 * before. For a library that asks to start and stop reading and writing (hiredis's adapters):
 * it is told again on every wake-up while the condition holds, and it need not drain the
 * socket. HS_OK or -errno. Remove it with hs_io_close (or hs_io_del). */
int hs_io_set_events(hs_loop_t *loop, hs_io_t *io, int events);
/* Wait for events (at most max_wait_ms, or until the next timer), dispatch them, run due timers,
 * then the tasks posted meanwhile (hs_loop_post). */
void hs_loop_run_once(hs_loop_t *loop, int max_wait_ms);
/* Run t->cb once the current batch is over: after every io callback and due timer of this
 * hs_loop_run_once (or, posted between batches, at the end of the next one, which then does not
 * wait for events). Lets handlers that each queue a little output during a batch write it in one
 * system call (redis's beforeSleep). Posting a task already posted does nothing; a task posted by
 * a task runs in the same round, up to a bound, else in the next batch. Loop thread only. */
void hs_loop_post(hs_loop_t *loop, hs_task_t *t);
/* Take back a posted task that has not run (harmless when it is not posted). */
void hs_loop_unpost(hs_loop_t *loop, hs_task_t *t);
/* The loop whose hs_loop_run_once last ran on the calling thread (a worker's), or NULL on a
 * thread that runs none (the main thread, helper threads). For code reached without a loop in
 * hand that keeps state per loop (a shared store's connection per worker). */
hs_loop_t *hs_loop_current(void);
/* Wake the loop from another thread. */
void hs_loop_wake(hs_loop_t *loop);
void hs_loop_update_clock(hs_loop_t *loop);

/* Timers. */
void hs_wheel_init(hs_wheel_t *w, uint64_t now);
void hs_timer_link(hs_wheel_t *w, hs_timer_t *t, uint64_t at);
void hs_timer_unlink(hs_wheel_t *w, hs_timer_t *t);
static inline bool hs_timer_is_linked(const hs_timer_t *t)
{
    return t->next != NULL;
}
/* Run every timer due at or before now. Returns the number run. */
size_t hs_wheel_run(hs_wheel_t *w, uint64_t now);
/* Milliseconds until the earliest timer could be due (a lower bound), or -1 if none. */
int64_t hs_wheel_timeout(const hs_wheel_t *w, uint64_t now);

#endif
