/* statusd unit tests — inputs that end at a PROT_NONE guard page, so that a parser reading even
 * one byte past what it was given crashes the test instead of passing silently. Header-only. */
#ifndef HS_TEST_GUARD_H
#define HS_TEST_GUARD_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Copy s[0..n) into fresh writable memory whose last byte is the last before a PROT_NONE page
 * (a decoder working in place may write into it). Each call releases the previous buffer:
 * pointers into an earlier input become invalid. Exits with 99 when the kernel refuses. */
static inline char *guarded(const char *s, size_t n)
{
    static char *map;
    static size_t maplen;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = n ? (n + pg - 1) / pg : 1;
    if (map)
        munmap(map, maplen);
    maplen = (data_pages + 1) * pg;
    map = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + data_pages * pg, pg, PROT_NONE) != 0) {
        perror("guarded: mmap/mprotect");
        exit(99);
    }
    char *dst = map + data_pages * pg - n;
    if (n)
        memcpy(dst, s, n);
    return dst;
}

#endif
