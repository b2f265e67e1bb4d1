/* Unit tests: Range parsing (src/modules/static/range.c, RFC 9110 §14.1.2, §14.2). */
#include "../../../src/modules/static/static.h"
#include "tap.h"

#include <stdio.h>

/* want: "" for HS_RANGE_NONE, "416" for unsatisfiable, else "a-b,c-d" */
static void expect(const char *v, uint64_t len, const char *want)
{
    hs__static_range_t r[HS_STATIC_MAX_RANGES];
    size_t n = 0;
    int k = hs__static_range_parse(hs_iov_cstr(v), len, r, &n);
    char got[512] = "";
    if (k == HS_RANGE_UNSATISFIABLE)
        snprintf(got, sizeof(got), "416");
    else if (k == HS_RANGE_OK)
        for (size_t i = 0; i < n; i++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%llu-%llu", i ? "," : "",
                     (unsigned long long)r[i].first, (unsigned long long)r[i].last);
    ok(strcmp(got, want) == 0, "'%s' on %llu -> '%s' (got '%s')", v, (unsigned long long)len, want, got);
}

int main(void)
{
    expect("bytes=0-99", 1000, "0-99");
    expect("bytes=0-", 1000, "0-999");
    expect("bytes=-100", 1000, "900-999");
    expect("bytes=-5000", 1000, "0-999");
    expect("bytes=990-5000", 1000, "990-999");
    expect("Bytes=1-1", 1000, "1-1");
    expect("bytes=0-0,-1", 1000, "0-0,999-999");
    expect("bytes=500-509, 0-9", 1000, "0-9,500-509");
    expect("bytes=0-9,5-19", 1000, "0-19");
    expect("bytes=0-9,10-19", 1000, "0-19");
    expect("bytes=0-9,11-19", 1000, "0-9,11-19");
    expect("bytes=1000-,0-0", 1000, "0-0");
    expect("bytes= 0-1 ,\t2-3", 1000, "0-3");
    expect("bytes=18446744073709551615-", 1000, "416");
    expect("bytes=99999999999999999999999-", 1000, "416");
    expect("bytes=0-99999999999999999999999", 1000, "0-999");
    expect("bytes=1000-", 1000, "416");
    expect("bytes=-0", 1000, "416");
    expect("bytes=0-0", 0, "416");
    expect("bytes=-1", 0, "");     /* an empty file: the whole (empty) thing with 200 */
    expect("bytes=5-4", 1000, ""); /* invalid: ignored */
    expect("bytes=", 1000, "");
    expect("bytes=,", 1000, "");
    expect("bytes=a-b", 1000, "");
    expect("bytes=1", 1000, "");
    expect("bytes=-", 1000, "");
    expect("bytes=+1-2", 1000, "");
    expect("bytes=1-2;", 1000, "");
    expect("bytes 1-2", 1000, "");
    expect("pages=1-2", 1000, "");
    expect("bytes=0-,0-", 1000, ""); /* more bytes than the file: amplification refused */
    expect("bytes=0-499,0-499,0-1", 1000, "");
    expect("bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30", 1000,
           "0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30");
    expect("bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30,32-32", 1000,
           ""); /* 17 ranges */
    return tap_done();
}
