/* statusd — a stream socket on the event loop: io + ops table + pooled read buffer + lazy
 * deadline (src/event/sock.c).
 *
 * Plain TCP and (later) TLS are two ops tables behind the same type, so the HTTP/1 connection,
 * the reverse proxy's upstream connections and anything else that speaks over a socket share
 * one implementation of reading, writing, timeouts and closing. Outbound connections are opened
 * with hs_sock_connect on the same loop as the connections they serve.
 *
 * Events reach the owner through the io's callback (hs_io_t.cb), as for any io, with two more
 * kinds: HS_EV_TIMEOUT when the deadline set with hs_sock_set_deadline passed, and
 * HS_EV_DISPOSE after hs_sock_close when the owner may free the memory holding the socket.
 */
#ifndef HS_SOCK_H
#define HS_SOCK_H

#include "hs/loop.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

typedef struct hs_sock_s hs_sock_t;

typedef struct hs_sock_ops_s {
    const char *name; /* "tcp", "tls" */
    /* Read at most n bytes: > 0, 0 at the end of the stream, -1 with errno (EAGAIN: nothing now). */
    ssize_t (*read)(hs_sock_t *s, void *buf, size_t n);
    /* Write what the vector holds, as far as the socket takes it: bytes written, or -1 with errno. */
    ssize_t (*writev)(hs_sock_t *s, const struct iovec *iov, int iovcnt);
    /* Send n bytes of file fd from *off (advanced): bytes sent, 0 when the file ended early, -1
     * with errno. NULL when file bytes must be read and written instead (TLS without kTLS). */
    ssize_t (*sendfile)(hs_sock_t *s, int fd, off_t *off, size_t n);
    /* End our direction of the stream (FIN, TLS close_notify). HS_OK or -errno. */
    int (*shutdown)(hs_sock_t *s);
    /* Release what the ops keep for this socket (ops_data), before the descriptor is closed. */
    void (*release)(hs_sock_t *s);
    /* The socket waits for its peer with nothing buffered (hs_sock_release_buffer): give back
     * what can be made again when needed (TLS record buffers). NULL: nothing to give. */
    void (*idle)(hs_sock_t *s);
} hs_sock_ops_t;

/* Plain TCP (also any stream descriptor: socketpairs in tests). */
extern const hs_sock_ops_t hs_sock_tcp;

/* The input buffer: data is base[pos .. len). Its memory comes from the loop's pool of
 * HS_SOCK_BUF_SIZE buffers when it fits, and goes back there when empty (lean idle sockets). */
typedef struct hs_sock_buf_s {
    char *base;
    uint32_t len, cap, pos;
} hs_sock_buf_t;

#define HS_SOCK_BUF_SIZE 16384

struct hs_sock_s {
    hs_io_t io; /* first: the loop hands the owner &io */
    hs_loop_t *loop;
    const hs_sock_ops_t *ops;
    void *ops_data;
    hs_timer_t timer;
    uint64_t deadline; /* loop ms when HS_EV_TIMEOUT is due; 0 = none */
    hs_sock_buf_t in;
    uint32_t read_limit;     /* the limit of the owner's last hs_sock_read: a batched read stays in it */
    uint32_t batch_room;     /* what the batched read asked for (its short-read test) */
    int32_t batch_res;       /* the batched read's result: bytes at in.base, or -errno */
    bool batched : 1;        /* the loop read for the owner (batch_res); hs_sock_read hands it over */
    uint8_t wstate;          /* HS_SOCK_W_*: a write the loop makes for the owner */
    uint32_t woff, wlen;     /* its bytes: loop->wbuf[woff .. woff + wlen) */
    int32_t wres;            /* what the send did: bytes, or -errno */
    uint32_t widx;           /* its slot in loop->wq (queued) or loop->wdone (sent) */
    bool readable : 1;       /* worth a read: readiness seen and not used up */
    bool eof : 1;            /* the peer ended its direction (or an error ended both) */
    bool rdhup : 1;          /* the peer shut its side; keep reading until EOF is seen */
    bool connecting : 1;     /* hs_sock_connect under way */
    bool reset_on_close : 1; /* close with RST (SO_LINGER 0) */
};

/* Take an accepted (or otherwise connected) non-blocking descriptor: the socket owns fd from
 * here on. `cb` is the owner's event callback. Registers it edge-triggered for reading and
 * writing. HS_OK, or -errno (the socket is then closed: the owner still gets HS_EV_DISPOSE). */
int hs_sock_open(hs_sock_t *s, hs_loop_t *loop, int fd, const hs_sock_ops_t *ops, hs_io_cb cb);

/* Open an outbound TCP connection to sa without blocking. On HS_OK the connection is under way
 * (s->connecting) or made; the owner learns the outcome from its callback: on HS_EV_WRITE or
 * HS_EV_ERROR while s->connecting it calls hs_sock_connect_result; HS_EV_TIMEOUT (after
 * timeout_ms, 0 = none) means the connection was not made in time. -errno when no socket could
 * be made or the address was refused at once (the socket is then not open: no HS_EV_DISPOSE). */
int hs_sock_connect(hs_sock_t *s, hs_loop_t *loop, const struct sockaddr *sa, socklen_t salen, uint64_t timeout_ms,
                    hs_io_cb cb);
/* While connecting: 0 when the connection is made (s->connecting cleared, the deadline too),
 * HS_AGAIN when not decided yet, -errno (ECONNREFUSED, ETIMEDOUT, ENETUNREACH …) when it failed. */
int hs_sock_connect_result(hs_sock_t *s);

/* Let the loop make this socket's reads (plain TCP only; the owner must read through
 * hs_sock_read, never from the descriptor itself, while it is on). When one wake-up finds several
 * such sockets readable with their input buffers empty, the loop reads them all with a single
 * system call (io_uring) before dispatching, into their buffers and within the limit of each
 * owner's last hs_sock_read; the owner's next hs_sock_read returns that read's result without a
 * system call. A socket is read ahead by at most one buffer this way. */
static inline void hs_sock_batch_reads(hs_sock_t *s, bool on)
{
    s->io.batch_read = on;
}
/* Let the loop make this socket's small writes (plain TCP only): in a wake-up that found several
 * descriptors ready (loop->batch_now), a write of up to HS_SOCK_BATCH_WRITE bytes is copied and
 * answered HS_AGAIN (errno EAGAIN); at the end of the batch the loop sends all such writes with
 * one io_uring_enter and dispatches HS_EV_WRITE to each owner (in the same batch, or at the
 * start of the next), whose next write, which offers the same bytes first (as after any EAGAIN),
 * is answered with what the send did. The owner must write through hs_sock_writev only, keep
 * offering unwritten bytes until they are reported written (an owner that gives them up closes
 * the socket), and not shut the socket down before then. */
#define HS_SOCK_BATCH_WRITE 16384
static inline void hs_sock_batch_writes(hs_sock_t *s, bool on)
{
    s->io.batch_write = on;
}
enum { HS_SOCK_W_NONE, HS_SOCK_W_QUEUED, HS_SOCK_W_SENT };
#define HS_SOCK_NO_SLOT UINT32_MAX /* widx of a report whose owner was told already */

/* What a read made for the owner holds for it: bytes, the end of the stream or an error (true),
 * or nothing (no batched read, or one that found nothing: false). */
static inline bool hs_sock_batched(const hs_sock_t *s)
{
    return s->batched && s->batch_res != -EAGAIN && s->batch_res != -EINTR;
}
/* The loop's side (src/event/uring.c): where a batched read of s may go (false: not now), and
 * its result. */
bool hs__sock_batch_prep(hs_sock_t *s, char **buf, size_t *room);
void hs__sock_batch_done(hs_sock_t *s, int res);

/* Read once into the input buffer, making room for `chunk` bytes without letting the buffer grow
 * past `limit` bytes. > 0 bytes read, 0 at the end of the stream (s->eof), HS_AGAIN (nothing
 * now; s->readable cleared), HS_ERROR (an error ended the stream: s->eof; or the buffer is full
 * at `limit`, with s->eof clear). */
ssize_t hs_sock_read(hs_sock_t *s, size_t chunk, size_t limit);
static inline size_t hs_sock_avail(const hs_sock_t *s)
{
    return s->in.len - s->in.pos;
}
static inline char *hs_sock_data(const hs_sock_t *s)
{
    return s->in.base + s->in.pos;
}
static inline void hs_sock_consume(hs_sock_t *s, size_t n)
{
    s->in.pos += (uint32_t)n;
}
/* Forget the buffered input. */
void hs_sock_discard_input(hs_sock_t *s);
/* The socket waits for its peer: give the input buffer back to the pool when it holds nothing,
 * and what the ops keep for reading and writing (their idle op). */
void hs_sock_release_buffer(hs_sock_t *s);

/* Writing, through the ops. */
static inline ssize_t hs_sock_writev(hs_sock_t *s, const struct iovec *iov, int iovcnt)
{
    return s->ops->writev(s, iov, iovcnt);
}
int hs_sock_shutdown(hs_sock_t *s);

/* A lazy deadline: recorded now, the wheel timer moves only when the deadline comes earlier
 * than it, and a timer that fires early re-arms itself for the deadline. A connection that keeps
 * pushing its deadline forward touches the wheel about once per period, not once per request. */
static inline void hs_sock_set_deadline(hs_sock_t *s, uint64_t ms)
{
    uint64_t due = s->loop->now_ms + ms;
    s->deadline = due;
    if (!hs_timer_is_linked(&s->timer) || s->timer.at > due)
        hs_timer_link(&s->loop->wheel, &s->timer, due);
}
static inline void hs_sock_clear_deadline(hs_sock_t *s)
{
    s->deadline = 0; /* a timer still linked finds no deadline and does nothing */
}

/* Close: the deadline goes, the ops release their state, the io is closed on the loop (no
 * further events; HS_EV_DISPOSE at the end of the batch), the descriptor is closed (with RST
 * when reset_on_close) and the input buffer goes back to the pool. Harmless twice. */
void hs_sock_close(hs_sock_t *s);

/* The loop's pool of input buffers: freed by hs_sock_pool_free (worker exit). */
void hs_sock_pool_free(hs_loop_t *loop);

#endif
