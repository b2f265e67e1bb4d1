/* statusd — helpers shared by the libFuzzer drivers (header-only; each driver is one binary). */
#ifndef HS_FUZZ_UTIL_H
#define HS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Abort with a message: libFuzzer reports it as a crash and saves the input. */
#define FUZZ_CHECK(cond, ...)                                                                                          \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "fuzz check failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond);                          \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* A heap copy of exactly n bytes (at least one byte is allocated so the pointer is valid), so
 * that AddressSanitizer catches any read past the end of the input. */
static inline char *fuzz_dup(const uint8_t *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    return c;
}

/* A NUL-terminated heap copy. */
static inline char *fuzz_strdup(const uint8_t *p, size_t n)
{
    char *c = malloc(n + 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

/* Iterate over the pieces of `data` separated by the two-byte marker `m0 m1`:
 *     size_t pos = 0; const uint8_t *piece; size_t plen;
 *     while (fuzz_next_piece(data, size, &pos, m0, m1, &piece, &plen)) …
 * Empty pieces are returned too (two markers in a row = a call with no new bytes). */
static inline int fuzz_next_piece(const uint8_t *data, size_t size, size_t *pos, uint8_t m0, uint8_t m1,
                                  const uint8_t **piece, size_t *plen)
{
    if (*pos > size)
        return 0;
    size_t s = *pos, i = s;
    while (i + 1 < size && !(data[i] == m0 && data[i + 1] == m1))
        i++;
    if (i + 1 >= size) {
        *piece = data + s;
        *plen = size - s;
        *pos = size + 1; /* done after this one */
        return 1;
    }
    *piece = data + s;
    *plen = i - s;
    *pos = i + 2;
    return 1;
}

#endif
