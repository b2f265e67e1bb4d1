/* statusd fuzz target: HTTP-date parsing and formatting (RFC 9110 §5.6.7), plus the size and
 * duration parsers used for configuration values.
 *
 * Checks: any date hs_http_date_parse accepts lies in years 0000-9999 and formats (hs_http_date)
 * to an IMF-fixdate which parses back to the same time; any time_t in that range round-trips;
 * the parser never reads past the value (it is given an exact-size copy, so AddressSanitizer
 * would see it). */
#include "hs/core.h"
#include "hs/date.h"
#include "fuzz_util.h"

#include <time.h>

static void roundtrip(time_t t)
{
    char out[30];
    hs_http_date(t, out);
    FUZZ_CHECK(strlen(out) == 29, "formatted date '%s' is not 29 bytes", out);
    time_t back = 0;
    FUZZ_CHECK(hs_http_date_parse(hs_iov(out, 29), &back), "'%s' does not parse", out);
    FUZZ_CHECK(back == t, "'%s' parses to %lld, not %lld", out, (long long)back, (long long)t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = fuzz_dup(data, size);
    time_t t;
    if (hs_http_date_parse(hs_iov(v, size), &t)) {
        FUZZ_CHECK(t >= HS_HTTP_DATE_MIN && t <= HS_HTTP_DATE_MAX + 1, "parsed %lld is out of range", (long long)t);
        if (t <= HS_HTTP_DATE_MAX)
            roundtrip(t);
    }
    free(v);

    if (size >= 8) {
        uint64_t raw;
        memcpy(&raw, data, 8);
        roundtrip(HS_HTTP_DATE_MIN + (time_t)(raw % (uint64_t)(HS_HTTP_DATE_MAX - HS_HTTP_DATE_MIN + 1)));
    }

    char *s = fuzz_strdup(data, size);
    uint64_t out = 0;
    if (hs_parse_size(s, &out) == HS_OK)
        FUZZ_CHECK(s[0] >= '0' && s[0] <= '9', "size '%s' accepted", s);
    if (hs_parse_duration(s, &out) == HS_OK)
        FUZZ_CHECK(s[0] != '\0', "empty duration accepted");
    free(s);
    return 0;
}
