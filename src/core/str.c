/* statusd — length-carrying string helpers and number formatting/parsing without printf or
 * locale on the hot paths. */
#define _GNU_SOURCE
#include "hs/core.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

bool hs__ieq_bytes(const char *a, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
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

/* ---- fast formatting ---- */
/* Two digits at a time from a table, and the common small values (status codes, octets,
 * short lengths) without a loop: the gateway writes several numbers per request. */
static const char digits2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

char *hs_fmt_u64(char *p, uint64_t v)
{
    if (v < 10) {
        *p = (char)('0' + v);
        return p + 1;
    }
    if (v < 100) {
        memcpy(p, digits2 + 2 * v, 2);
        return p + 2;
    }
    if (v < 1000) {
        p[0] = (char)('0' + v / 100);
        memcpy(p + 1, digits2 + 2 * (v % 100), 2);
        return p + 3;
    }
    char tmp[20];
    size_t n = sizeof(tmp);
    while (v >= 100) {
        n -= 2;
        memcpy(tmp + n, digits2 + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        n -= 2;
        memcpy(tmp + n, digits2 + 2 * v, 2);
    } else {
        tmp[--n] = (char)('0' + v);
    }
    memcpy(p, tmp + n, sizeof(tmp) - n);
    return p + (sizeof(tmp) - n);
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
bool hs_parse_u64(hs_iovec_t v, uint64_t *out)
{
    if (!v.base || v.len == 0)
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return false;
        unsigned d = (unsigned)(v.base[i] - '0');
        if (n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

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
