/* statusd fuzz target: HTTP-date parsing and formatting (RFC 9110 §5.6.7), plus the size and
 * duration parsers used for configuration values.
 *
 * Checks: a non-negative result of hs_http_date_parse formats (hs_http_date) to an IMF-fixdate
 * which parses back to the same time; any time_t in the years 1970-9999 round-trips; the parser
 * never reads past the value (it is given an exact-size copy, so AddressSanitizer would see it).
 * Note: a valid date before 1970 yields a negative time (1969-12-31 23:59:59 is exactly -1, the
 * "invalid" value); callers treat any negative result as "no usable date", which for the
 * conditional headers (RFC 9110 §13.1.3/§13.1.4: ignore an invalid date) gives the same answer.
 */
#include "hs/core.h"
#include "fuzz_util.h"

#include <time.h>

static void roundtrip(time_t t)
{
    char out[30];
    hs_http_date(t, out);
    FUZZ_CHECK(strlen(out) == 29, "formatted date '%s' is not 29 bytes", out);
    time_t back = hs_http_date_parse(hs_iov(out, 29));
    FUZZ_CHECK(back == t, "'%s' parses to %lld, not %lld", out, (long long)back, (long long)t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = fuzz_dup(data, size);
    time_t t = hs_http_date_parse(hs_iov(v, size));
    if (t >= 0 && t <= 253402300799LL)
        roundtrip(t);
    free(v);

    if (size >= 8) {
        uint64_t raw;
        memcpy(&raw, data, 8);
        roundtrip((time_t)(raw % 253402300800ULL)); /* 1970-01-01 .. 9999-12-31 */
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
