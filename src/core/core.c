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

/* ---- per-thread objects ---- */
static pthread_mutex_t tls_mu = PTHREAD_MUTEX_INITIALIZER;

void *hs_tls_get(hs_tls_t *t)
{
    if (!atomic_load_explicit(&t->ready, memory_order_acquire)) {
        pthread_mutex_lock(&tls_mu);
        if (!atomic_load_explicit(&t->ready, memory_order_relaxed)) {
            if (pthread_key_create(&t->key, t->destroy) != 0)
                abort(); /* out of keys: a programming error (a handful are used) */
            atomic_store_explicit(&t->ready, true, memory_order_release);
        }
        pthread_mutex_unlock(&tls_mu);
    }
    void *obj = pthread_getspecific(t->key);
    if (!obj) {
        obj = hs_calloc(1, t->size);
        pthread_setspecific(t->key, obj);
    }
    return obj;
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

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12, d 1-31), for any year in
 * 0..9999 and beyond. The calendar repeats every 400 years (146097 days); counting years from
 * March puts the leap day at the end of the counted year, so one formula serves all months. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t cycle = (y >= 0 ? y : y - 399) / 400;
    int64_t yoc = y - cycle * 400;                                 /* year of the cycle, 0..399 */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* day of the March year */
    int64_t doc = yoc * 365 + yoc / 4 - yoc / 100 + doy;           /* day of the cycle */
    return cycle * 146097 + doc - 719468;                          /* 719468: 0000-03-01 .. 1970-01-01 */
}

/* The inverse: the date of day z since 1970-01-01. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t cycle = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doc = z - cycle * 146097;                                    /* 0..146096 */
    int64_t yoc = (doc - doc / 1460 + doc / 36524 - doc / 146096) / 365; /* 0..399 */
    int64_t doy = doc - (365 * yoc + yoc / 4 - yoc / 100);               /* 0..365, from March */
    int64_t mp = (5 * doy + 2) / 153;                                    /* 0 = March */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = cycle * 400 + yoc + (*m <= 2);
}

static bool leap_year(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : len[m - 1];
}

static void put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

void hs_http_date(time_t t, char out[30])
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT": fixed width, no locale, no time-zone lock (gmtime_r
     * takes one); years outside 0..9999 cannot be written in four digits and are clamped */
    if (t < HS_HTTP_DATE_MIN)
        t = HS_HTTP_DATE_MIN;
    if (t > HS_HTTP_DATE_MAX)
        t = HS_HTTP_DATE_MAX;
    int64_t days = (int64_t)t / 86400, secs = (int64_t)t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t year;
    int mon, mday;
    civil_from_days(days, &year, &mon, &mday);
    int wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
    memcpy(out, wday_names[wday], 3);
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, mday);
    out[7] = ' ';
    memcpy(out + 8, mon_names[mon - 1], 3);
    out[11] = ' ';
    put2(out + 12, (int)(year / 100));
    put2(out + 14, (int)(year % 100));
    out[16] = ' ';
    put2(out + 17, (int)(secs / 3600));
    out[19] = ':';
    put2(out + 20, (int)(secs / 60 % 60));
    out[22] = ':';
    put2(out + 23, (int)(secs % 60));
    memcpy(out + 25, " GMT", 5); /* with the NUL */
}

static int parse_month(const char *p)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(p, mon_names[i], 3) == 0)
            return i + 1;
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

/* "08:49:37" → seconds of the day; -1 if malformed. A leap second (:60) is accepted as
 * RFC 5322 allows and counts as the next second. */
static int parse_hms(const char *p)
{
    if (p[2] != ':' || p[5] != ':')
        return -1;
    int h = digits(p, 2), m = digits(p + 3, 2), s = digits(p + 6, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 60)
        return -1;
    return h * 3600 + m * 60 + s;
}

static int wday_index(const char *p, size_t n)
{
    static const char *const long_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};
    for (int i = 0; i < 7; i++)
        if (n == 3 ? memcmp(p, wday_names[i], 3) == 0
                   : (strlen(long_names[i]) == n && memcmp(p, long_names[i], n) == 0))
            return i;
    return -1;
}

bool hs_http_date_parse(hs_iovec_t s, time_t *out)
{
    /* RFC 9110 §5.6.7: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT"; the obsolete RFC 850
     * "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994" are accepted.
     * The day name is checked for spelling, not against the date (a sender's mistake there
     * does not make the time ambiguous). */
    const char *b = s.base;
    int64_t year;
    int mon, mday, hms;
    if (s.len == 29 && b[3] == ',' && b[4] == ' ' && b[7] == ' ' && b[11] == ' ' && b[16] == ' ' && b[25] == ' ' &&
        memcmp(b + 26, "GMT", 3) == 0) {
        if (wday_index(b, 3) < 0)
            return false;
        mday = digits(b + 5, 2);
        mon = parse_month(b + 8);
        year = digits(b + 12, 4);
        hms = parse_hms(b + 17);
    } else if (s.len == 24 && b[3] == ' ' && b[7] == ' ' && b[10] == ' ' && b[19] == ' ') {
        if (wday_index(b, 3) < 0)
            return false;
        mon = parse_month(b + 4);
        mday = b[8] == ' ' ? digits(b + 9, 1) : digits(b + 8, 2);
        hms = parse_hms(b + 11);
        year = digits(b + 20, 4);
    } else {
        const char *c = memchr(b, ',', s.len);
        if (!c || (size_t)(b + s.len - c) != 24 || c[1] != ' ' || c[4] != '-' || c[8] != '-' || c[11] != ' ' ||
            memcmp(c + 21, "GMT", 3) != 0 || wday_index(b, (size_t)(c - b)) < 0)
            return false;
        mday = digits(c + 2, 2);
        mon = parse_month(c + 5);
        int yy = digits(c + 9, 2);
        hms = parse_hms(c + 12);
        if (yy < 0)
            return false;
        /* §5.6.7: a two-digit year more than 50 years in the future means the most recent
         * past year with those digits */
        char now[30];
        hs_http_date(time(NULL), now);
        int64_t this_year = digits(now + 12, 4);
        year = this_year - this_year % 100 + yy;
        if (year > this_year + 50)
            year -= 100;
    }
    if (year < 0 || mon < 1 || mday < 1 || hms < 0 || mday > days_in_month(year, mon))
        return false;
    *out = (time_t)(days_from_civil(year, mon, mday) * 86400 + hms);
    return true;
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
