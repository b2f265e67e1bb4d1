/* statusd — growable byte buffers (hs_buf_t).
 *
 * hs_buf_reserve is the checked way to grow (a limit, no abort: attacker-sized input fails with a
 * status); the appenders are for small, bounded pieces and abort when memory runs out. */
#define _GNU_SOURCE
#include "hs/core.h"

#include <stdio.h>
#include <stdlib.h>

int hs_buf_reserve(hs_buf_t *b, size_t extra, size_t limit)
{
    if (extra > limit || b->len > limit - extra)
        return HS_ERROR;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return HS_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > limit)
        cap = limit;
    char *p = realloc(b->base, cap);
    if (!p)
        return HS_ERROR;
    b->base = p;
    b->cap = cap;
    return HS_OK;
}

void hs_buf_append(hs_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return; /* p may be NULL; memcpy(NULL, 0) is undefined behaviour */
    if (hs_buf_reserve(b, n, SIZE_MAX / 2) != HS_OK)
        hs__oom(n);
    memcpy(b->base + b->len, p, n);
    b->len += n;
}

void hs_buf_printf(hs_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (hs_buf_reserve(b, (size_t)n + 1, SIZE_MAX / 2) != HS_OK)
        hs__oom((size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->base + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hs_buf_free(hs_buf_t *b)
{
    free(b->base);
    b->base = NULL;
    b->len = b->cap = 0;
}

void hs_buf_consume(hs_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->base, b->base + n, b->len - n);
    b->len -= n;
}
