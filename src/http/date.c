/* statusd — HTTP-date (RFC 9110 §5.6.7): formatting the IMF-fixdate and parsing the three forms
 * a recipient must accept. No locale, no time-zone lock (gmtime_r takes one), any year from 0000
 * to 9999. */
#define _GNU_SOURCE
#include "hs/date.h"

#include "hs/core.h"

#include <time.h>

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
