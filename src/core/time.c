/* statusd — clocks and durations. */
#define _GNU_SOURCE
#include "hs/core.h"

#include <time.h>

uint64_t hs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int hs_parse_duration_in(hs_iovec_t v, uint64_t unit_ms, uint64_t *out_ms)
{
    /* 1*DIGIT [ "." *DIGIT ] [ unit ]: no sign, no exponent, no hex, no spaces — what strtod
     * would also take ("1e3", "0x10", "inf") is refused. Fraction digits past the ninth cannot
     * change a millisecond count and are only checked. */
    if (!v.base || v.len == 0 || v.base[0] < '0' || v.base[0] > '9')
        return HS_ERROR;
    size_t i = 0;
    double whole = 0, frac = 0, scale = 1;
    while (i < v.len && v.base[i] >= '0' && v.base[i] <= '9')
        whole = whole * 10 + (v.base[i++] - '0');
    if (i < v.len && v.base[i] == '.') {
        for (i++; i < v.len && v.base[i] >= '0' && v.base[i] <= '9'; i++) {
            if (scale < 1e9) {
                frac = frac * 10 + (v.base[i] - '0');
                scale *= 10;
            }
        }
    }
    hs_iovec_t unit = hs_iov(v.base + i, v.len - i);
    double mult;
    if (unit.len == 0)
        mult = (double)unit_ms;
    else if (HS_IOV_EQ(unit, "ms"))
        mult = 1;
    else if (HS_IOV_EQ(unit, "s"))
        mult = 1000;
    else if (HS_IOV_EQ(unit, "m") || HS_IOV_EQ(unit, "min"))
        mult = 60000;
    else if (HS_IOV_EQ(unit, "h"))
        mult = 3600000;
    else if (HS_IOV_EQ(unit, "d"))
        mult = 86400000;
    else
        return HS_ERROR;
    double ms = (whole + frac / scale) * mult;
    if (!(ms <= 1e15)) /* also catches an infinite count of digits */
        return HS_ERROR;
    *out_ms = (uint64_t)(ms + 0.5);
    return HS_OK;
}

int hs_parse_duration(const char *s, uint64_t *out_ms)
{
    return s ? hs_parse_duration_in(hs_iov_cstr(s), 1000, out_ms) : HS_ERROR;
}
