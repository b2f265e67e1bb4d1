/* statusd — an output chain: memory and file segments written to a socket in order
 * (src/http/writer.c; nginx's chain, lighttpd's chunkqueue).
 *
 * Memory segments are referenced, not copied: the caller keeps them alive until they are
 * written (request arena, static data, or memory the caller frees after its on_drain), unless
 * handed over with hs_writer_own, in which case the writer frees them once written or dropped.
 * File segments go out with sendfile (or read-and-write when the socket's ops have none).
 * Consecutive memory segments leave in one writev. The chain grows as needed (a few segments
 * inline, then the heap): there is no fixed limit on the number of segments. */
#ifndef HS_WRITER_H
#define HS_WRITER_H

#include "hs/sock.h"

typedef struct hs_seg_s {
    const char *base; /* memory, or NULL for a file range */
    size_t len;       /* bytes left */
    off_t off;        /* file segments: where the bytes start */
    void *own;        /* freed (free()) once the segment is written or dropped; NULL = not owned */
    int fd;           /* file segments: the descriptor (never closed by the writer) */
    uint32_t room;    /* owned memory: bytes free after base + len (hs_writer_tail) */
} hs_seg_t;

#define HS_WRITER_INLINE 4

#define HS_WRITER_BLOCK 16384       /* blocks for copied bytes (hs_writer_tail) */
#define HS_WRITER_SPARE_MAX 1048576 /* larger written-out blocks are freed, not kept */
#define HS_WRITER_SPARES 4          /* at most this many are kept */

typedef struct hs_writer_s {
    hs_seg_t *v; /* inl, or a heap array once more are needed */
    uint32_t head, n, cap;
    size_t pending;                  /* bytes queued and not yet written */
    struct hs_writer_spare_s *spare; /* written-out blocks kept for the next copies (a list through them) */
    uint32_t nspare;
    hs_seg_t inl[HS_WRITER_INLINE];
} hs_writer_t;

/* An empty chain. (A zeroed writer is valid too; it is set up on first use.) */
void hs_writer_init(hs_writer_t *w);
/* Append memory (referenced), memory the writer frees (from malloc) once written or dropped,
 * or a file range. Empty segments are ignored (an owned one is freed at once). */
static inline void hs_writer_mem(hs_writer_t *w, const void *p, size_t n);
void hs_writer_own(hs_writer_t *w, void *p, size_t n);
void hs_writer_file(hs_writer_t *w, int fd, off_t off, size_t n);
void hs_writer_push(hs_writer_t *w, hs_seg_t seg);
void hs__writer_grow_push(hs_writer_t *w, hs_seg_t seg); /* the slow path of hs_writer_mem */
static inline void hs_writer_mem(hs_writer_t *w, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (w->v && w->n < w->cap) { /* the common case: room in the array */
        w->v[w->n++] = (hs_seg_t){.base = p, .len = n, .fd = -1};
        w->pending += n;
        return;
    }
    hs__writer_grow_push(w, (hs_seg_t){.base = p, .len = n, .fd = -1});
}
/* Copying without an allocation per write: room for n bytes at the end of the chain, in a block
 * the writer owns (the last one when it has room, else a new one of at least HS_WRITER_BLOCK
 * bytes — up to HS_WRITER_SPARES blocks already written out are kept and reused). Write up to n bytes there, then
 * commit how many; nothing else may be queued in between. Streams of small writes thus cost one memcpy each and no
 * allocation in the steady state. */
char *hs_writer_tail(hs_writer_t *w, size_t n);
void hs_writer_commit(hs_writer_t *w, size_t n);
/* Copy p[0..n) to the end of the chain (hs_writer_tail + memcpy + commit). */
void hs_writer_copy(hs_writer_t *w, const void *p, size_t n);
/* Stop referencing the caller's memory p[0..n): every queued memory segment that points into it
 * gets its bytes not yet written copied into memory the writer owns. After the call the caller
 * may reuse or free that memory. For zero-copy writers that cannot wait: reference first, and
 * copy only what the socket did not take at once (a proxy relaying from a buffer it must read
 * into again). */
void hs_writer_unref(hs_writer_t *w, const void *p, size_t n);
/* Move every segment of `from` to the end of `to` (ownership included); `from` is left empty. */
void hs_writer_append(hs_writer_t *to, hs_writer_t *from);
/* Segments in the chain, and the i-th one not yet written (i < count). */
static inline size_t hs_writer_count(const hs_writer_t *w)
{
    return w->n - w->head;
}
static inline hs_seg_t *hs_writer_at(hs_writer_t *w, size_t i)
{
    return &w->v[w->head + i];
}
/* Write as much as the socket takes now. Returns the bytes written by this call (>= 0; 0 only
 * when nothing was pending), HS_AGAIN when bytes are pending and none could be written, or
 * HS_ERROR with errno (EPIPE, ECONNRESET …; EIO when a file ended before its segment). */
ssize_t hs_writer_flush(hs_writer_t *w, hs_sock_t *s);
/* Drop everything not written (owned memory is freed), the spare block and the heap array; the
 * chain is empty. */
void hs__writer_reset_slow(hs_writer_t *w);
static inline void hs_writer_reset(hs_writer_t *w)
{
    if (w->n == 0 && !w->spare && w->v == w->inl)
        return; /* written out completely, nothing kept: already empty (hot path) */
    hs__writer_reset_slow(w);
}

#endif
