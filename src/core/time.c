/* statusd — clocks and durations. */
#define _GNU_SOURCE
#include "hs/core.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

uint64_t hs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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
