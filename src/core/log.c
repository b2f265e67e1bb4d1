/* statusd — logging to stderr, one write(2) per line so that lines from several workers never
 * interleave. */
#define _GNU_SOURCE
#include "hs/core.h"

#include <stdio.h>
#include <unistd.h>

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
