/* statusd — core vocabulary: return codes, length-carrying strings, arenas, buffers.
 *
 * Ownership: an hs_iovec_t never owns what it points at; an hs_arena_t owns everything allocated
 * from it until it is reset; an hs_buf_t owns its bytes until hs_buf_free. Functions that return
 * memory say where it comes from. Small allocations abort when memory is exhausted (hs_malloc);
 * attacker-sized ones use the checked forms (hs_buf_reserve) and fail with HS_ERROR. */
#ifndef HS_CORE_H
#define HS_CORE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* One return-code vocabulary; syscall failures are returned as -errno where noted. */
enum {
    HS_OK = 0,
    HS_ERROR = -1,    /* failure; detail in errno or a status code set by the caller */
    HS_AGAIN = -2,    /* not enough input / would block: call again later */
    HS_DECLINED = -3, /* "not mine": the next module or phase decides */
    HS_DONE = -4,     /* finished; nothing more to do */
};

#define HS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define HS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define HS_UNUSED(x) ((void)(x))
#define HS_LIKELY(x) __builtin_expect(!!(x), 1)
#define HS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HS_FMT(a, b) __attribute__((format(printf, a, b)))

/* A length-carrying string, laid out like struct iovec. Never relies on a NUL. */
typedef struct hs_iovec_s {
    const char *base;
    size_t len;
} hs_iovec_t;

#define HS_IOV(lit) ((hs_iovec_t){(lit), sizeof(lit) - 1})
#define HS_IOV_NULL ((hs_iovec_t){NULL, 0})
static inline hs_iovec_t hs_iov(const char *p, size_t n)
{
    return (hs_iovec_t){p, n};
}
static inline hs_iovec_t hs_iov_cstr(const char *s)
{
    return (hs_iovec_t){s, s ? strlen(s) : 0};
}
static inline bool hs_iov_eq(hs_iovec_t a, const char *lit, size_t n)
{
    return a.len == n && memcmp(a.base, lit, n) == 0;
}
/* ASCII case-insensitive comparison against a lowercase literal. */
bool hs__ieq_bytes(const char *a, const char *lower, size_t n);
static inline bool hs_iov_ieq(hs_iovec_t a, const char *lower, size_t n)
{
    return a.len == n && hs__ieq_bytes(a.base, lower, n); /* most misses differ in length: no call */
}
#define HS_IOV_IEQ(a, lit) hs_iov_ieq((a), (lit), sizeof(lit) - 1)

/* Copy n bytes to p and return p + n. The pieces of a message head are mostly a few bytes long
 * (names, ": ", CRLF, short values): up to 16 bytes move as two overlapping words without a
 * call to memcpy; longer ones go to memcpy. */
static inline char *hs_put(char *p, const void *src, size_t n)
{
    const char *s = (const char *)src;
    if (n > 16) {
        memcpy(p, s, n);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(p, &a, 8);
        memcpy(p + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(p, &a, 4);
        memcpy(p + n - 4, &b, 4);
    } else if (n > 0) {
        p[0] = s[0];
        p[n / 2] = s[n / 2];
        p[n - 1] = s[n - 1];
    }
    return p + n;
}
#define HS_IOV_EQ(a, lit) hs_iov_eq((a), (lit), sizeof(lit) - 1)
bool hs_iov_has_prefix(hs_iovec_t a, const char *lit);

/* ---- Allocation --------------------------------------------------------------------------
 * Small, bounded allocations abort on failure (hs_malloc); attacker-sized ones must use the
 * checked variants and turn failure into a status code. */
void *hs_malloc(size_t n);
void *hs_calloc(size_t n, size_t sz);
void *hs_realloc(void *p, size_t n);
char *hs_strdup(const char *s);
/* Internal (src/core): report an allocation of n bytes that failed, then abort. */
_Noreturn void hs__oom(size_t n);

/* A per-request arena: everything is freed at once by hs_arena_reset/destroy.
 * The first block is embedded in the owner's memory when possible. */
typedef struct hs_arena_block_s hs_arena_block_t;
typedef struct hs_arena_s {
    hs_arena_block_t *head;
    char *cur, *end;
} hs_arena_t;

void hs_arena_init(hs_arena_t *a);
/* n bytes, aligned for any type, valid until the arena is reset; aborts when out of memory (n is
 * bounded by callers). The common case (room in the current block) is inline: a request makes a
 * dozen or more of these. */
void *hs__arena_alloc_slow(hs_arena_t *a, size_t n);
static inline void *hs_arena_alloc(hs_arena_t *a, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (HS_LIKELY(a->cur != NULL && (size_t)(a->end - a->cur) >= n)) {
        void *p = a->cur;
        a->cur += n;
        return p;
    }
    return hs__arena_alloc_slow(a, n);
}
char *hs_arena_strndup(hs_arena_t *a, const char *s, size_t n);
HS_FMT(2, 3) hs_iovec_t hs_arena_printf(hs_arena_t *a, const char *fmt, ...);
hs_iovec_t hs_arena_vprintf(hs_arena_t *a, const char *fmt, va_list ap);
void hs_arena_reset(hs_arena_t *a);      /* frees every block */
void hs_arena_reset_keep(hs_arena_t *a); /* frees all but one standard block, for reuse */

/* ---- Growable byte buffer ----------------------------------------------------------------- */
typedef struct hs_buf_s {
    char *base;
    size_t len, cap;
} hs_buf_t;

/* Ensure room for `extra` more bytes without exceeding `limit` total; HS_ERROR if it would. */
int hs_buf_reserve(hs_buf_t *b, size_t extra, size_t limit);
void hs_buf_append(hs_buf_t *b, const void *p, size_t n); /* small, bounded appends only */
#define HS_BUF_LIT(b, lit) hs_buf_append((b), (lit), sizeof(lit) - 1)
HS_FMT(2, 3) void hs_buf_printf(hs_buf_t *b, const char *fmt, ...);
void hs_buf_free(hs_buf_t *b);
void hs_buf_consume(hs_buf_t *b, size_t n); /* drop n bytes from the front */

/* ---- Logging ------------------------------------------------------------------------------- */
enum { HS_LOG_ERROR, HS_LOG_WARN, HS_LOG_INFO, HS_LOG_DEBUG };
extern int hs_log_level;
HS_FMT(2, 3) void hs_log(int level, const char *fmt, ...);
#define hs_log_error(...) hs_log(HS_LOG_ERROR, __VA_ARGS__)
#define hs_log_warn(...) hs_log(HS_LOG_WARN, __VA_ARGS__)
#define hs_log_info(...) hs_log(HS_LOG_INFO, __VA_ARGS__)
#define hs_log_debug(...)                                                                                              \
    do {                                                                                                               \
        if (hs_log_level >= HS_LOG_DEBUG)                                                                              \
            hs_log(HS_LOG_DEBUG, __VA_ARGS__);                                                                         \
    } while (0)

/* ---- Per-thread objects --------------------------------------------------------------------
 * An object each worker thread gets on first use (zeroed, `size` bytes) and that `destroy` ends
 * when the thread exits. Declare one per kind: static hs_tls_t t = HS_TLS(sizeof(x), destroy). */
typedef struct hs_tls_s {
    size_t size;
    void (*destroy)(void *obj);
    _Atomic bool ready;
    pthread_key_t key;
} hs_tls_t;
#define HS_TLS(size_, destroy_)                                                                                        \
    {                                                                                                                  \
        .size = (size_), .destroy = (destroy_)                                                                         \
    }
void *hs_tls_get(hs_tls_t *t);

/* ---- Time ---------------------------------------------------------------------------------- */
uint64_t hs_now_ms(void); /* monotonic milliseconds (syscall) */

/* ---- Fast number formatting (hot paths avoid printf) ----
 * Write v at p without a NUL; return the end. At most 20 decimal / 16 hex digits. */
char *hs_fmt_u64(char *p, uint64_t v);
char *hs_fmt_hex(char *p, uint64_t v);

/* ---- Parsing helpers ----------------------------------------------------------------------- */
/* Non-negative decimal integer: 1*DIGIT, no sign, no spaces, at most UINT64_MAX. false (and *out
 * untouched) otherwise. */
bool hs_parse_u64(hs_iovec_t v, uint64_t *out);
/* Size with optional k/m/g suffix (KiB units) into *out; HS_ERROR when malformed or overflowing. */
int hs_parse_size(const char *s, uint64_t *out);
/* Duration: decimal digits with an optional fraction, then a unit: "1500ms", "10s", "2m" or
 * "2min", "1.5h", "30d". A plain number counts `unit_ms` milliseconds (1000: seconds). *out_ms gets the
 * rounded milliseconds; HS_ERROR (and *out_ms untouched) when malformed or above 10^15 ms. */
int hs_parse_duration_in(hs_iovec_t v, uint64_t unit_ms, uint64_t *out_ms);
/* The same for a C string where a plain number is seconds (configuration values). */
int hs_parse_duration(const char *s, uint64_t *out_ms);

#endif
