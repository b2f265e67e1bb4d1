/* statusd — the output chain (include/hs/writer.h).
 *
 * Segments are consumed from the front by advancing an index (no memmove per segment); the
 * array is reused from the start once it has been written out. A response head, a small body
 * and a file thus cost one writev and one sendfile, and a multipart/byteranges response with a
 * hundred parts is just a longer chain. */
#define _GNU_SOURCE
#include "hs/writer.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define IOV_BATCH 64                   /* memory segments per writev */
#define SENDFILE_MAX ((size_t)1 << 30) /* per call, as Linux caps it anyway */
/* read-and-write of file bytes when there is no sendfile (TLS without kTLS): 64 KiB a time, so
 * that a 100 KiB file costs two pread(2) and, with TLS's gathered records, two write(2) */
#define BOUNCE 65536

/* A written-out block waiting for reuse: its first bytes hold the list link and its size. */
typedef struct hs_writer_spare_s {
    struct hs_writer_spare_s *next;
    size_t cap;
} spare_t;

void hs_writer_init(hs_writer_t *w)
{
    w->v = w->inl;
    w->head = w->n = 0;
    w->cap = HS_WRITER_INLINE;
    w->pending = 0;
    w->spare = NULL;
    w->nspare = 0;
}

/* Append a segment, growing the array (the room of written segments at the front first). */
static void append_seg(hs_writer_t *w, hs_seg_t seg)
{
    if (!w->v)
        hs_writer_init(w);
    if (w->n == w->cap) {
        if (w->head > 0) { /* written segments at the front: reuse their room */
            memmove(w->v, w->v + w->head, (w->n - w->head) * sizeof(hs_seg_t));
            w->n -= w->head;
            w->head = 0;
        }
        if (w->n == w->cap) {
            uint32_t cap = w->cap * 2;
            hs_seg_t *v = hs_malloc(cap * sizeof(hs_seg_t));
            memcpy(v, w->v, w->n * sizeof(hs_seg_t));
            if (w->v != w->inl)
                free(w->v);
            w->v = v;
            w->cap = cap;
        }
    }
    w->v[w->n++] = seg;
    w->pending += seg.len;
}

void hs_writer_push(hs_writer_t *w, hs_seg_t seg)
{
    if (seg.len == 0) {
        free(seg.own);
        return;
    }
    append_seg(w, seg);
}

void hs__writer_grow_push(hs_writer_t *w, hs_seg_t seg)
{
    append_seg(w, seg);
}

void hs_writer_own(hs_writer_t *w, void *p, size_t n)
{
    hs_writer_push(w, (hs_seg_t){.base = p, .fd = -1, .len = n, .own = p});
}

void hs_writer_file(hs_writer_t *w, int fd, off_t off, size_t n)
{
    hs_writer_push(w, (hs_seg_t){.base = NULL, .fd = fd, .off = off, .len = n});
}

void hs_writer_append(hs_writer_t *to, hs_writer_t *from)
{
    for (uint32_t i = from->head; from->v && i < from->n; i++)
        hs_writer_push(to, from->v[i]);
    if (from->v) {
        from->head = from->n = 0; /* ownership went along */
        from->pending = 0;
    }
}

void hs_writer_unref(hs_writer_t *w, const void *p, size_t n)
{
    const char *lo = p, *hi = lo + n;
    for (uint32_t i = w->head; w->v && i < w->n; i++) {
        hs_seg_t *s = &w->v[i];
        if (!s->base || s->own || s->len == 0 || s->base < lo || s->base >= hi)
            continue;
        char *copy = hs_malloc(s->len);
        memcpy(copy, s->base, s->len);
        s->base = copy;
        s->own = copy;
        s->room = 0;
    }
}

char *hs_writer_tail(hs_writer_t *w, size_t n)
{
    if (w->v && w->n > w->head) {
        hs_seg_t *last = &w->v[w->n - 1];
        if (last->own && last->room >= n)
            return (char *)last->base + last->len;
    }
    size_t cap = HS_MAX(n, (size_t)HS_WRITER_BLOCK);
    char *block = NULL;
    for (spare_t **p = &w->spare; *p; p = &(*p)->next) {
        if ((*p)->cap >= cap) {
            spare_t *sp = *p;
            *p = sp->next;
            w->nspare--;
            cap = sp->cap;
            block = (char *)sp;
            break;
        }
    }
    if (!block)
        block = hs_malloc(cap);
    append_seg(w, (hs_seg_t){.base = block, .len = 0, .own = block, .fd = -1, .room = (uint32_t)cap});
    return block;
}

void hs_writer_commit(hs_writer_t *w, size_t n)
{
    hs_seg_t *last = &w->v[w->n - 1];
    last->len += n;
    last->room -= (uint32_t)n;
    w->pending += n;
}

void hs_writer_copy(hs_writer_t *w, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(hs_writer_tail(w, n), p, n);
    hs_writer_commit(w, n);
}

/* An owned block is done with: kept in the spare list when it is at least a standard block,
 * not huge, and the list has room; else freed. So a stream of large writes reuses its few
 * blocks instead of allocating one per write. */
static void release_block(hs_writer_t *w, hs_seg_t *s)
{
    if (!s->own)
        return;
    size_t cap = (size_t)(s->base - (const char *)s->own) + s->len + s->room;
    if (cap >= HS_WRITER_BLOCK && cap <= HS_WRITER_SPARE_MAX && w->nspare < HS_WRITER_SPARES) {
        spare_t *sp = s->own;
        sp->next = w->spare;
        sp->cap = cap;
        w->spare = sp;
        w->nspare++;
    } else {
        free(s->own);
    }
}

static void free_spares(hs_writer_t *w)
{
    while (w->spare) {
        spare_t *sp = w->spare;
        w->spare = sp->next;
        free(sp);
    }
    w->nspare = 0;
}

/* n bytes of the chain were written: advance past them, and past emptied segments, but for an
 * owned block at the very end that still has room for the next copies. */
static void consume(hs_writer_t *w, size_t n)
{
    if (n == w->pending && n > 0) { /* all of it (the common case): no per-segment accounting */
        for (uint32_t i = w->head; i < w->n; i++)
            if (w->v[i].own)
                release_block(w, &w->v[i]);
        w->head = w->n = 0;
        w->pending = 0;
        return;
    }
    w->pending -= n;
    while (w->head < w->n) {
        hs_seg_t *s = &w->v[w->head];
        size_t used = HS_MIN(n, s->len);
        s->len -= used;
        if (s->base)
            s->base += used;
        else
            s->off += (off_t)used;
        n -= used;
        if (s->len > 0 || (s->own && s->room > 0 && w->head + 1 == w->n))
            break;
        release_block(w, s);
        w->head++;
    }
    if (w->head == w->n)
        w->head = w->n = 0;
}

/* File bytes through a bounce buffer, for sockets whose ops cannot sendfile (TLS). */
static ssize_t read_and_write(hs_sock_t *sock, hs_seg_t *s)
{
    char buf[BOUNCE];
    ssize_t r;
    do
        r = pread(s->fd, buf, HS_MIN(s->len, sizeof(buf)), s->off);
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
        if (r == 0)
            errno = EIO;
        return -1;
    }
    struct iovec iov = {buf, (size_t)r};
    return hs_sock_writev(sock, &iov, 1);
}

ssize_t hs_writer_flush(hs_writer_t *w, hs_sock_t *sock)
{
    size_t total = 0;
    while (w->pending > 0) {
        hs_seg_t *s = &w->v[w->head];
        ssize_t n;
        if (s->len == 0) { /* an emptied block that is no longer the tail */
            consume(w, 0);
            continue;
        }
        if (s->base) {
            struct iovec iov[IOV_BATCH];
            int k = 0;
            for (uint32_t i = w->head; i < w->n && k < IOV_BATCH && w->v[i].base; i++, k++) {
                iov[k].iov_base = (void *)w->v[i].base;
                iov[k].iov_len = w->v[i].len;
            }
            /* No MSG_MORE before a sendfile: joining the head to the file's first bytes saves a
             * small packet but measured 10-65% more CPU per 100 KiB response (make bench). */
            do
                n = hs_sock_writev(sock, iov, k);
            while (n < 0 && errno == EINTR);
        } else if (sock->ops->sendfile) {
            off_t off = s->off;
            do
                n = sock->ops->sendfile(sock, s->fd, &off, HS_MIN(s->len, SENDFILE_MAX));
            while (n < 0 && errno == EINTR);
            if (n == 0) {
                errno = EIO; /* the file shrank under us: the framing promise cannot be kept */
                n = -1;
            }
        } else {
            n = read_and_write(sock, s);
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return total ? (ssize_t)total : HS_AGAIN;
            return HS_ERROR;
        }
        total += (size_t)n;
        consume(w, (size_t)n);
    }
    return (ssize_t)total;
}

void hs__writer_reset_slow(hs_writer_t *w)
{
    if (!w->v) {
        hs_writer_init(w);
        return;
    }
    for (uint32_t i = w->head; i < w->n; i++)
        free(w->v[i].own);
    free_spares(w);
    if (w->v != w->inl)
        free(w->v);
    hs_writer_init(w);
}
