/* statusd — memory: allocation that aborts when a small, bounded request cannot be met, and the
 * per-request arena (everything freed at once at the end of a request).
 *
 * Aborting is deliberate for small allocations: they are bounded by configuration, so failing
 * one means the process is sick and limping on would only spread the damage. Sizes an attacker
 * chooses never come here: callers check them against a limit first and answer 413/414/431. */
#define _GNU_SOURCE
#include "hs/core.h"

#include <stdio.h>
#include <stdlib.h>

void hs__oom(size_t n)
{
    fprintf(stderr, "statusd: out of memory allocating %zu bytes\n", n);
    abort();
}

void *hs_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        hs__oom(n);
    return p;
}

void *hs_calloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        hs__oom(n * sz);
    return p;
}

void *hs_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        hs__oom(n);
    return q;
}

char *hs_strdup(const char *s)
{
    size_t n = strlen(s);
    char *p = hs_malloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

/* ---- arena ---- */
struct hs_arena_block_s {
    hs_arena_block_t *next;
    size_t size;
    max_align_t data[];
};

#define ARENA_BLOCK 16384

void hs_arena_init(hs_arena_t *a)
{
    a->head = NULL;
    a->cur = a->end = NULL;
}

/* n is rounded up to the alignment already (hs_arena_alloc). */
void *hs__arena_alloc_slow(hs_arena_t *a, size_t n)
{
    if (HS_UNLIKELY((size_t)(a->end - a->cur) < n || a->cur == NULL)) {
        size_t size = n > ARENA_BLOCK / 2 ? n : ARENA_BLOCK - sizeof(hs_arena_block_t);
        hs_arena_block_t *b = hs_malloc(sizeof(*b) + size);
        b->size = size;
        if (n > ARENA_BLOCK / 2 && a->head != NULL) {
            /* large allocation: own block, keep the current block for small ones */
            b->next = a->head->next;
            a->head->next = b;
            return b->data;
        }
        b->next = a->head;
        a->head = b;
        a->cur = (char *)b->data;
        a->end = a->cur + size;
    }
    void *p = a->cur;
    a->cur += n;
    return p;
}

char *hs_arena_strndup(hs_arena_t *a, const char *s, size_t n)
{
    char *p = hs_arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

hs_iovec_t hs_arena_vprintf(hs_arena_t *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return HS_IOV("");
    char *p = hs_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return hs_iov(p, (size_t)n);
}

hs_iovec_t hs_arena_printf(hs_arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hs_iovec_t r = hs_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return r;
}

void hs_arena_reset_keep(hs_arena_t *a)
{
    hs_arena_block_t *keep = NULL, *b = a->head;
    while (b) {
        hs_arena_block_t *next = b->next;
        if (!keep && b->size == ARENA_BLOCK - sizeof(hs_arena_block_t))
            keep = b;
        else
            free(b);
        b = next;
    }
    a->head = keep;
    if (keep) {
        keep->next = NULL;
        a->cur = (char *)keep->data;
        a->end = a->cur + keep->size;
    } else {
        a->cur = a->end = NULL;
    }
}

void hs_arena_reset(hs_arena_t *a)
{
    hs_arena_block_t *b = a->head;
    while (b) {
        hs_arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    hs_arena_init(a);
}
