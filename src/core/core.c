/* statusd — allocation, arenas, buffers, logging, time and small parsers. */
#define _GNU_SOURCE
#include "hs/core.h"

#include <ctype.h>
#include <strings.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

bool hs_iov_ieq(hs_iovec_t a, const char *lower, size_t n)
{
    if (a.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a.base[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (unsigned char)lower[i])
            return false;
    }
    return true;
}

bool hs_iov_has_prefix(hs_iovec_t a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len >= n && memcmp(a.base, lit, n) == 0;
}

static void oom(size_t n)
{
    /* Small allocations are bounded by configuration; failing one means the process is sick. */
    fprintf(stderr, "statusd: out of memory allocating %zu bytes\n", n);
    abort();
}

void *hs_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *hs_calloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        oom(n * sz);
    return p;
}

void *hs_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
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

void *hs_arena_alloc(hs_arena_t *a, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
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

/* ---- buffers ---- */
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
        oom(n);
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
        oom((size_t)n);
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

/* ---- logging ---- */
int hs_log_level = HS_LOG_INFO;

void hs_log(int level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > hs_log_level)
        return;
    char line[1024];
    int n = snprintf(line, sizeof(line), "statusd: %s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + HS_MIN((size_t)m, sizeof(line) - (size_t)n - 2);
    line[len++] = '\n';
    ssize_t w = write(2, line, len); /* one write: lines from workers never interleave */
    (void)w;
}

/* ---- time ---- */
uint64_t hs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char wday_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char mon_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void hs_http_date(time_t t, char out[30])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    /* "Sun, 06 Nov 1994 08:49:37 GMT": fixed width, no locale */
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999)
        year = 9999;
    memcpy(out, wday_names[tm.tm_wday], 3);
    out[3] = ',';
    out[4] = ' ';
    out[5] = (char)('0' + tm.tm_mday / 10);
    out[6] = (char)('0' + tm.tm_mday % 10);
    out[7] = ' ';
    memcpy(out + 8, mon_names[tm.tm_mon], 3);
    out[11] = ' ';
    out[12] = (char)('0' + year / 1000);
    out[13] = (char)('0' + year / 100 % 10);
    out[14] = (char)('0' + year / 10 % 10);
    out[15] = (char)('0' + year % 10);
    out[16] = ' ';
    out[17] = (char)('0' + tm.tm_hour / 10);
    out[18] = (char)('0' + tm.tm_hour % 10);
    out[19] = ':';
    out[20] = (char)('0' + tm.tm_min / 10);
    out[21] = (char)('0' + tm.tm_min % 10);
    out[22] = ':';
    out[23] = (char)('0' + tm.tm_sec / 10);
    out[24] = (char)('0' + tm.tm_sec % 10);
    memcpy(out + 25, " GMT", 5); /* with the NUL */
}

static int parse_month(const char *p)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(p, mon_names[i], 3) == 0)
            return i;
    return -1;
}

static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int parse_hms(const char *p, struct tm *tm)
{
    if (p[2] != ':' || p[5] != ':')
        return -1;
    tm->tm_hour = digits(p, 2);
    tm->tm_min = digits(p + 3, 2);
    tm->tm_sec = digits(p + 6, 2);
    if (tm->tm_hour < 0 || tm->tm_hour > 23 || tm->tm_min < 0 || tm->tm_min > 59 || tm->tm_sec < 0 || tm->tm_sec > 60)
        return -1;
    return 0;
}

time_t hs_http_date_parse(hs_iovec_t s)
{
    /* RFC 9110 §5.6.7: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT"; obsolete RFC 850
     * "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994" accepted. */
    char b[64];
    if (s.len < 24 || s.len >= sizeof(b))
        return -1;
    memcpy(b, s.base, s.len);
    b[s.len] = '\0';
    struct tm tm = {0};
    if (s.len == 29 && b[3] == ',' && b[4] == ' ' && b[7] == ' ' && b[11] == ' ' && b[16] == ' ' && b[25] == ' ' &&
        memcmp(b + 26, "GMT", 3) == 0) {
        tm.tm_mday = digits(b + 5, 2);
        tm.tm_mon = parse_month(b + 8);
        tm.tm_year = digits(b + 12, 4) - 1900;
        if (parse_hms(b + 17, &tm) < 0)
            return -1;
    } else if (s.len == 24 && b[3] == ' ' && b[7] == ' ' && b[10] == ' ' && b[19] == ' ') {
        tm.tm_mon = parse_month(b + 4);
        tm.tm_mday = b[8] == ' ' ? digits(b + 9, 1) : digits(b + 8, 2);
        if (parse_hms(b + 11, &tm) < 0)
            return -1;
        tm.tm_year = digits(b + 20, 4) - 1900;
    } else {
        const char *c = strchr(b, ',');
        if (!c || c[1] != ' ' || strlen(c) != 24 || c[4] != '-' || c[8] != '-' || c[11] != ' ' ||
            memcmp(c + 21, "GMT", 3) != 0)
            return -1;
        tm.tm_mday = digits(c + 2, 2);
        tm.tm_mon = parse_month(c + 5);
        int yy = digits(c + 9, 2);
        if (yy < 0)
            return -1;
        tm.tm_year = yy < 70 ? yy + 100 : yy; /* RFC 9110 §5.6.7: 50-year rule, simplified */
        if (parse_hms(c + 12, &tm) < 0)
            return -1;
    }
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0 || tm.tm_year < 0)
        return -1;
    return timegm(&tm);
}

/* ---- fast formatting ---- */
char *hs_fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

char *hs_fmt_hex(char *p, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    int n = 0;
    do
        tmp[n++] = hex[v & 15];
    while ((v >>= 4) != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/* ---- small parsers ---- */
int hs_parse_size(const char *s, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return HS_ERROR;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return HS_ERROR;
    uint64_t mul = 1;
    switch (tolower((unsigned char)*end)) {
    case '\0': break;
    case 'k': mul = 1024, end++; break;
    case 'm': mul = 1024 * 1024, end++; break;
    case 'g': mul = 1024ull * 1024 * 1024, end++; break;
    case 'b': break;
    default: return HS_ERROR;
    }
    if (mul > 1 && (strcasecmp(end, "") == 0 || strcasecmp(end, "b") == 0 || strcasecmp(end, "ib") == 0))
        ;
    else if (mul == 1 && (*end == '\0' || strcasecmp(end, "b") == 0))
        ;
    else
        return HS_ERROR;
    if (v > UINT64_MAX / mul)
        return HS_ERROR;
    *out = v * mul;
    return HS_OK;
}

int hs_parse_duration(const char *s, uint64_t *out_ms)
{
    if (!s || !isdigit((unsigned char)*s))
        return HS_ERROR;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || v < 0)
        return HS_ERROR;
    /* strtod also takes hex floats and exponents ("0x10" = 16 s, "1e3" = 1000 s): accept only
     * decimal digits with an optional fraction before the unit. */
    if (end > s + strspn(s, "0123456789."))
        return HS_ERROR;
    double mul;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else
        return HS_ERROR;
    double ms = v * mul;
    if (ms > 1e15)
        return HS_ERROR;
    *out_ms = (uint64_t)(ms + 0.5);
    return HS_OK;
}
