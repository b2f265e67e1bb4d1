/* Unit tests: HTTP-date formatting and parsing (src/http/date.c, RFC 9110 §5.6.7). */
#define _GNU_SOURCE
#include "hs/date.h"
#include "hs/core.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static hs_iovec_t S(const char *s)
{
    return hs_iov(s, strlen(s));
}

#define INVALID (-0x7fffffffffffffffLL)
static long long pdate(hs_iovec_t v)
{
    time_t t;
    return hs_http_date_parse(v, &t) ? (long long)t : INVALID;
}

static void test_http_date(void)
{
    char out[30];
    memset(out, 'x', sizeof(out));
    hs_http_date(784111777, out);
    ok(strcmp(out, "Sun, 06 Nov 1994 08:49:37 GMT") == 0, "hs_http_date(784111777) = RFC 9110 example");
    ok(out[29] == 0, "NUL-terminated at 29");
    hs_http_date(0, out);
    ok(strcmp(out, "Thu, 01 Jan 1970 00:00:00 GMT") == 0, "epoch");
    hs_http_date(951782400, out);
    ok(strcmp(out, "Tue, 29 Feb 2000 00:00:00 GMT") == 0, "leap day 2000");
    hs_http_date(4102444799, out);
    ok(strcmp(out, "Thu, 31 Dec 2099 23:59:59 GMT") == 0, "end of 2099");

    /* round trip */
    int bad = 0;
    srand(7);
    for (int i = 0; i < 20000; i++) {
        time_t t = (time_t)(((uint64_t)rand() << 16 ^ (uint64_t)rand()) % 4102444800ull);
        hs_http_date(t, out);
        if (pdate(S(out)) != t) {
            if (bad < 3)
                printf("#   %lld -> %s -> %lld\n", (long long)t, out, (long long)pdate(S(out)));
            bad++;
        }
    }
    ok(bad == 0, "20,000 random times round-trip through IMF-fixdate");

    /* the three formats of RFC 9110 §5.6.7 */
    is_int(pdate(S("Sun, 06 Nov 1994 08:49:37 GMT")), 784111777, "IMF-fixdate");
    is_int(pdate(S("Sunday, 06-Nov-94 08:49:37 GMT")), 784111777, "RFC 850");
    is_int(pdate(S("Sun Nov  6 08:49:37 1994")), 784111777, "asctime, one-digit day");
    is_int(pdate(S("Wed Nov 16 08:49:37 1994")), 784111777 + 10 * 86400, "asctime, two-digit day");
    {
        /* RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is the last such year past */
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        int year = tm.tm_year + 1900;
        char v[64];
        struct tm want = {.tm_mday = 1, .tm_mon = 0};
        snprintf(v, sizeof(v), "Monday, 01-Jan-%02d 00:00:00 GMT", (year + 50) % 100);
        want.tm_year = year + 50 - 1900;
        is_int(pdate(S(v)), timegm(&want), "RFC 850 year %02d -> %d (50 years ahead)", (year + 50) % 100, year + 50);
        snprintf(v, sizeof(v), "Monday, 01-Jan-%02d 00:00:00 GMT", (year + 51) % 100);
        want.tm_year = year + 51 - 100 - 1900;
        is_int(pdate(S(v)), timegm(&want), "RFC 850 year %02d -> %d (51 ahead means the past)", (year + 51) % 100,
               year - 49);
        snprintf(v, sizeof(v), "Monday, 01-Jan-%02d 00:00:00 GMT", year % 100);
        want.tm_year = year - 1900;
        is_int(pdate(S(v)), timegm(&want), "RFC 850 this year");
    }
    /* before 1970, the calendar's ends, month lengths */
    is_int(pdate(S("Wed, 31 Dec 1969 23:59:59 GMT")), -1, "one second before the epoch is -1, not an error");
    is_int(pdate(S("Mon, 01 Jan 1900 00:00:00 GMT")), -2208988800LL, "1900");
    is_int(pdate(S("Sat, 01 Jan 0000 00:00:00 GMT")), HS_HTTP_DATE_MIN, "year 0000");
    is_int(pdate(S("Fri, 31 Dec 9999 23:59:59 GMT")), HS_HTTP_DATE_MAX, "year 9999");
    is_int(pdate(S("Tue, 29 Feb 2000 00:00:00 GMT")), 951782400, "29 Feb 2000 (leap)");
    is_int(pdate(S("Mon, 29 Feb 2100 00:00:00 GMT")), INVALID, "29 Feb 2100 (not leap)");
    is_int(pdate(S("Thu, 29 Feb 2001 00:00:00 GMT")), INVALID, "29 Feb 2001");
    is_int(pdate(S("Sat, 31 Feb 2024 00:00:00 GMT")), INVALID, "31 Feb");
    is_int(pdate(S("Wed, 31 Apr 2024 00:00:00 GMT")), INVALID, "31 Apr");
    is_int(pdate(S("Thu, 29 Feb 2024 00:00:00 GMT")), 1709164800, "29 Feb 2024");
    is_int(pdate(S("Xyz, 06 Nov 1994 08:49:37 GMT")), INVALID, "unknown day name");
    is_int(pdate(S("Sundai, 06-Nov-94 08:49:37 GMT")), INVALID, "misspelt long day name");
    is_int(pdate(S("Sun, 06 Nov 1994 08:49:60 GMT")), 784111777 + 23, "leap second counts as the next");
    hs_http_date(-1, out);
    ok(strcmp(out, "Wed, 31 Dec 1969 23:59:59 GMT") == 0, "format -1: %s", out);
    hs_http_date(-2208988800LL, out);
    ok(strcmp(out, "Mon, 01 Jan 1900 00:00:00 GMT") == 0, "format 1900: %s", out);
    hs_http_date(HS_HTTP_DATE_MIN - 5, out);
    ok(strcmp(out, "Sat, 01 Jan 0000 00:00:00 GMT") == 0, "clamped below year 0: %s", out);
    hs_http_date(HS_HTTP_DATE_MAX + 86400 * 400LL, out);
    ok(strcmp(out, "Fri, 31 Dec 9999 23:59:59 GMT") == 0, "clamped after 9999: %s", out);
    {
        /* every format against libc's gmtime over the whole range */
        int diff = 0, rt = 0;
        for (int i = 0; i < 20000; i++) {
            uint64_t r = (uint64_t)rand() << 32 ^ (uint64_t)rand() << 8 ^ (uint64_t)rand();
            time_t t = HS_HTTP_DATE_MIN + (time_t)(r % (uint64_t)(HS_HTTP_DATE_MAX - HS_HTTP_DATE_MIN + 1));
            struct tm tm;
            char want[64];
            gmtime_r(&t, &tm);
            static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
            static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
            snprintf(want, sizeof(want), "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
                     mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
            hs_http_date(t, out);
            if (strcmp(out, want) != 0 && diff++ < 3)
                printf("#   %lld: %s, libc %s\n", (long long)t, out, want);
            if (pdate(S(out)) != t)
                rt++;
        }
        ok(diff == 0, "20,000 times in 0000-9999 format as libc's gmtime does");
        ok(rt == 0, "and parse back to the same time");
    }
    is_int(pdate(S("Saturday, 01-Jan-00 00:00:00 GMT")), 946684800, "RFC 850 year 00 -> 2000");
    is_int(pdate(S("Wednesday, 29-Feb-12 12:00:00 GMT")), 1330516800, "RFC 850 year 12 -> 2012");
    is_int(pdate(S("Sun, 06 Nov 1994 23:59:59 GMT")), 784111777 - 8 * 3600 - 49 * 60 - 37 + 86399, "end of day");

    static const char *const invalid[] = {
        "",
        "garbage",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 gmt",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 06 Nov 1994 08:60:37 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:3a GMT",
        "Sun, 0a Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 19x4 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT ",
        "Sunday, 06-Nov-94 08:49:37 UTC",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 6-Nov-94 08:49:37 GMT",
        "Sunday, 06-Foo-94 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT extra",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 ",
        "Sun Foo  6 08:49:37 1994",
        "Sun Nov  x 08:49:37 1994",
        "Sun Nov  6 08:49:37 19x4",
        "Sun Nov 06 8:49:37  1994",
        "1994-11-06T08:49:37Z",
        "784111777",
        "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(invalid); i++)
        is_int(pdate(S(invalid[i])), INVALID, "invalid date \"%s\" rejected", invalid[i]);
    /* embedded NUL and a length-limited view */
    is_int(pdate(hs_iov("Sun, 06 Nov 1994 08:49:37 GMT\0x", 31)), INVALID, "trailing NUL + byte rejected");
    is_int(pdate(hs_iov("Sun, 06 Nov 1994 08:49:37 GMTxyz", 29)), 784111777, "only len bytes are read");
}

int main(void)
{
    test_http_date();
    return tap_done();
}
