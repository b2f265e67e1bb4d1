/* statusd — stream sockets on the event loop: plain TCP ops, the pooled input buffer, lazy
 * deadlines, outbound connections, closing.
 *
 * The hot path (read, writev, sendfile on an accepted connection) makes plain system calls:
 * libc's read/writev/sendfile are thread cancellation points and wrap every call in two atomic
 * updates of the thread's cancel state, which statusd (no thread is ever cancelled) does not
 * need. Reads and single-buffer writes are recvfrom/sendto rather than read/write: the socket
 * calls go straight to the socket layer, while read/write first pass the VFS (the file position
 * lock check, rw_verify_area, the security and fsnotify hooks). Every fd these ops see is a socket
 * (accepted, or connected by hs_sock_connect). Where a system call costs a microsecond, as under a
 * paravirtualised hypervisor, the VFS part is a few per cent of the proxy's CPU per request.
 *
 * Where that is so, the call itself is the larger part: a proxied request of 12 bytes is four
 * system calls and about four microseconds of kernel entry and exit alone. So the loop may make
 * the reads itself, many with one io_uring_enter (hs_sock_batch_reads, src/event/uring.c): the
 * read it makes for a socket goes exactly where the owner's own would have gone, and the owner's
 * next hs_sock_read takes its result as if it had just made the call. And the small writes
 * (hs_sock_batch_writes): the owner is told EAGAIN, which every owner already handles by keeping
 * its bytes and offering them again on the next write event; the loop sends a copy at the end of
 * the batch and answers that next offer with what the send did. Nothing changes in the owner's
 * view but when it learns that its bytes left, one batch later.
 */
#define _GNU_SOURCE
#include "hs/sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- plain TCP ---- */
static ssize_t tcp_read(hs_sock_t *s, void *buf, size_t n)
{
    return syscall(SYS_recvfrom, s->io.fd, buf, n, 0, NULL, NULL);
}

static ssize_t tcp_writev_now(hs_sock_t *s, const struct iovec *iov, int iovcnt)
{
    if (iovcnt == 1)
        return syscall(SYS_sendto, s->io.fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL, NULL, 0);
    return syscall(SYS_writev, s->io.fd, iov, iovcnt);
}

/* A write the loop makes (hs_sock_batch_writes): queued now (the bytes copied, the owner told
 * EAGAIN), sent at the end of the batch (src/event/uring.c), reported to the owner's next write.
 * What does not fit the batch's room is written at once. */
static ssize_t tcp_writev_batched(hs_sock_t *s, const struct iovec *iov, int iovcnt)
{
    hs_loop_t *loop = s->loop;
    if (s->wstate == HS_SOCK_W_QUEUED) {
        errno = EAGAIN;
        return -1;
    }
    if (s->wstate == HS_SOCK_W_SENT) { /* the owner offers those bytes first again: report them */
        if (s->widx != HS_SOCK_NO_SLOT)
            loop->wdone[s->widx] = NULL;
        s->wstate = HS_SOCK_W_NONE;
        if (s->wres >= 0)
            return s->wres;
        errno = -s->wres;
        return -1;
    }
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total == 0 || total > HS_SOCK_BATCH_WRITE || loop->nwq == HS_LOOP_WQ_MAX ||
        loop->wbuf_len + total > HS_LOOP_WBUF_SIZE)
        return tcp_writev_now(s, iov, iovcnt);
    char *p = loop->wbuf + loop->wbuf_len;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    s->woff = loop->wbuf_len;
    s->wlen = (uint32_t)total;
    loop->wbuf_len += (uint32_t)total;
    s->widx = loop->nwq;
    loop->wq[loop->nwq++] = &s->io;
    s->wstate = HS_SOCK_W_QUEUED;
    errno = EAGAIN;
    return -1;
}

/* Queued only in a busy wake-up (loop->batch_now): with one descriptor ready there is nothing to
 * batch, and the copy and the second pass through the owner would be pure cost. A socket with
 * a write queued or a report due goes through the batch whatever the wake-up, so that its bytes
 * keep their order and are never written twice. */
static ssize_t tcp_writev(hs_sock_t *s, const struct iovec *iov, int iovcnt)
{
    if (HS_UNLIKELY(s->wstate != HS_SOCK_W_NONE) || (s->io.batch_write && s->loop->batch_now))
        return tcp_writev_batched(s, iov, iovcnt);
    return tcp_writev_now(s, iov, iovcnt);
}

/* A socket closing leaves the batch: its queued bytes are not sent, its report is not due. */
static void leave_write_batch(hs_sock_t *s)
{
    if (s->wstate == HS_SOCK_W_QUEUED)
        s->loop->wq[s->widx] = NULL;
    else if (s->wstate == HS_SOCK_W_SENT && s->widx != HS_SOCK_NO_SLOT)
        s->loop->wdone[s->widx] = NULL;
    s->wstate = HS_SOCK_W_NONE;
}

static ssize_t tcp_sendfile(hs_sock_t *s, int fd, off_t *off, size_t n)
{
    return syscall(SYS_sendfile, s->io.fd, fd, off, n);
}

static int tcp_shutdown(hs_sock_t *s)
{
    return shutdown(s->io.fd, SHUT_WR) == 0 ? HS_OK : -errno;
}

const hs_sock_ops_t hs_sock_tcp = {
    .name = "tcp",
    .read = tcp_read,
    .writev = tcp_writev,
    .sendfile = tcp_sendfile,
    .shutdown = tcp_shutdown,
    .release = NULL,
    .idle = NULL,
};

/* ---- deadlines ---- */
static void on_deadline(hs_timer_t *t)
{
    hs_sock_t *s = (hs_sock_t *)((char *)t - offsetof(hs_sock_t, timer));
    if (s->deadline == 0)
        return; /* the state that armed it has ended */
    if (s->deadline > s->loop->now_ms) {
        hs_timer_link(&s->loop->wheel, t, s->deadline); /* moved later since it was armed */
        return;
    }
    s->deadline = 0;
    s->io.cb(&s->io, HS_EV_TIMEOUT);
}

/* ---- opening ---- */
static void init(hs_sock_t *s, hs_loop_t *loop, int fd, const hs_sock_ops_t *ops, hs_io_cb cb)
{
    memset(s, 0, sizeof(*s));
    s->io.fd = fd;
    s->io.cb = cb;
    s->loop = loop;
    s->ops = ops;
    s->timer.cb = on_deadline;
}

int hs_sock_open(hs_sock_t *s, hs_loop_t *loop, int fd, const hs_sock_ops_t *ops, hs_io_cb cb)
{
    init(s, loop, fd, ops, cb);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails harmlessly on non-TCP */
    int r = hs_io_add(loop, &s->io);
    if (r != HS_OK) {
        hs_sock_close(s);
        return r;
    }
    s->readable = true; /* data often arrives with the accept: try a read right away */
    return HS_OK;
}

int hs_sock_connect(hs_sock_t *s, hs_loop_t *loop, const struct sockaddr *sa, socklen_t salen, uint64_t timeout_ms,
                    hs_io_cb cb)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    init(s, loop, fd, &hs_sock_tcp, cb);
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    int r;
    do
        r = connect(fd, sa, salen);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        s->io.fd = -1;
        return -e;
    }
    s->connecting = r < 0;
    if ((r = hs_io_add(loop, &s->io)) != HS_OK) {
        close(fd);
        s->io.fd = -1;
        return r;
    }
    if (s->connecting && timeout_ms)
        hs_sock_set_deadline(s, timeout_ms);
    return HS_OK;
}

int hs_sock_connect_result(hs_sock_t *s)
{
    if (!s->connecting)
        return HS_OK;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return HS_AGAIN;
    if (err == 0) {
        /* SO_ERROR is 0 both when the connection is made and while it is still being made:
         * only a peer address says which */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getpeername(s->io.fd, (struct sockaddr *)&ss, &sl) < 0)
            return errno == ENOTCONN ? HS_AGAIN : -errno;
        s->connecting = false;
        hs_sock_clear_deadline(s);
        return HS_OK;
    }
    return -err;
}

/* ---- the input buffer ---- */
static char *pool_take(hs_loop_t *loop)
{
    if (loop->nbuf_pool > 0)
        return loop->buf_pool[--loop->nbuf_pool];
    return hs_malloc(HS_SOCK_BUF_SIZE);
}

void hs_sock_release_buffer(hs_sock_t *s)
{
    hs_loop_t *loop = s->loop;
    if (s->in.pos < s->in.len || (s->batched && s->batch_res > 0))
        return;
    if (HS_UNLIKELY(s->ops->idle != NULL))
        s->ops->idle(s);
    if (!s->in.base)
        return;
    if (s->in.cap == HS_SOCK_BUF_SIZE && loop->nbuf_pool < (int)HS_ARRAY_SIZE(loop->buf_pool))
        loop->buf_pool[loop->nbuf_pool++] = s->in.base;
    else
        free(s->in.base);
    s->in = (hs_sock_buf_t){0};
}

void hs_sock_discard_input(hs_sock_t *s)
{
    s->in.pos = s->in.len = 0;
    s->batched = false; /* what was read ahead goes too; an end or error is read again */
}

void hs_sock_pool_free(hs_loop_t *loop)
{
    while (loop->nbuf_pool > 0)
        free(loop->buf_pool[--loop->nbuf_pool]);
}

/* Room for `want` more bytes: compacts first, then grows up to `limit` (configured bounds, so a
 * failed allocation aborts as a small one would). */
static void ensure_room(hs_sock_t *s, size_t want, size_t limit)
{
    hs_sock_buf_t *b = &s->in;
    if (!b->base && want <= HS_SOCK_BUF_SIZE && limit >= HS_SOCK_BUF_SIZE) {
        b->base = pool_take(s->loop);
        b->cap = HS_SOCK_BUF_SIZE;
        b->len = b->pos = 0;
        return;
    }
    if (b->pos == b->len)
        b->pos = b->len = 0;
    if (b->cap - b->len >= want)
        return;
    if (b->pos > 0) {
        memmove(b->base, b->base + b->pos, b->len - b->pos);
        b->len -= b->pos;
        b->pos = 0;
        if (b->cap - b->len >= want)
            return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < want && cap < limit)
        cap *= 2;
    if (cap > limit)
        cap = HS_MAX(limit, (size_t)b->len + 1);
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    if (cap > b->cap) {
        if (b->cap == HS_SOCK_BUF_SIZE || !b->base) {
            /* a pooled buffer is not realloc'ed away from the pool's size class by surprise */
            char *n = hs_malloc(cap);
            if (b->len)
                memcpy(n, b->base, b->len);
            if (b->base && s->loop->nbuf_pool < (int)HS_ARRAY_SIZE(s->loop->buf_pool))
                s->loop->buf_pool[s->loop->nbuf_pool++] = b->base;
            else
                free(b->base);
            b->base = n;
        } else {
            b->base = hs_realloc(b->base, cap);
        }
        b->cap = (uint32_t)cap;
    }
}

/* ---- batched reads ----
 * A read the loop makes ahead of the owner (hs_sock_batch_reads) goes where the owner's own
 * next read would: the start of the empty input buffer, at most as far as the owner's last limit
 * lets the buffer grow, never past one pool buffer. Only into an empty buffer, so that what the
 * owner has not consumed yet never moves and a socket is read ahead by one buffer at most. */
bool hs__sock_batch_prep(hs_sock_t *s, char **buf, size_t *room)
{
    if (s->batched || s->eof || s->ops != &hs_sock_tcp || s->in.pos != s->in.len)
        return false;
    size_t r = HS_MIN((size_t)s->read_limit, (size_t)HS_SOCK_BUF_SIZE);
    if (s->in.base)
        r = HS_MIN(r, (size_t)s->in.cap);
    if (r < 1024)
        return false; /* an owner reading in small steps (or never yet): its own reads */
    if (!s->in.base) {
        s->in.base = pool_take(s->loop);
        s->in.cap = HS_SOCK_BUF_SIZE;
    }
    s->in.pos = s->in.len = 0;
    s->batch_room = (uint32_t)r;
    *buf = s->in.base;
    *room = r;
    return true;
}

void hs__sock_batch_done(hs_sock_t *s, int res)
{
    s->batched = true;
    s->batch_res = res;
}

ssize_t hs_sock_read(hs_sock_t *s, size_t chunk, size_t limit)
{
    ssize_t n;
    size_t room;
    s->read_limit = (uint32_t)HS_MIN(limit, (size_t)UINT32_MAX);
    if (s->batched && s->batch_res == -EINTR)
        s->batched = false; /* interrupted: read again, now */
    if (s->batched) {       /* read already, into the empty buffer (hs__sock_batch_prep) */
        s->batched = false;
        room = s->batch_room;
        n = s->batch_res;
        if (n < 0) {
            errno = (int)-n;
            n = -1;
        }
    } else {
        ensure_room(s, chunk, limit);
        room = s->in.cap - s->in.len;
        if (room == 0)
            return HS_ERROR;
        do
            n = s->ops->read(s, s->in.base + s->in.len, room);
        while (n < 0 && errno == EINTR);
    }
    if (n > 0) {
        s->in.len += (uint32_t)n;
        /* A short read means the socket buffer is empty now; edge-triggered epoll reports the
         * next arrival, so skip the read that would only say EAGAIN (nginx does the same). */
        if ((size_t)n < room && !s->rdhup)
            s->readable = false;
        return n;
    }
    s->readable = false;
    if (n == 0) {
        s->eof = true;
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return HS_AGAIN;
    s->eof = true;
    return HS_ERROR;
}

int hs_sock_shutdown(hs_sock_t *s)
{
    return s->ops->shutdown(s);
}

/* ---- closing ---- */
void hs_sock_close(hs_sock_t *s)
{
    if (s->io.closed)
        return;
    hs_timer_unlink(&s->loop->wheel, &s->timer);
    s->deadline = 0;
    s->batched = false;
    if (HS_UNLIKELY(s->wstate != HS_SOCK_W_NONE))
        leave_write_batch(s);
    if (s->ops && s->ops->release)
        s->ops->release(s);
    hs_io_close(s->loop, &s->io);
    if (s->io.fd >= 0) {
        if (s->reset_on_close) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close with RST */
            setsockopt(s->io.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(s->io.fd);
    }
    s->in.pos = s->in.len;
    hs_sock_release_buffer(s);
}
