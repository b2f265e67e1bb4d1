/* Unit tests for the core helpers (src/core: mem.c, buf.c, str.c, time.c). */
#define _GNU_SOURCE
#include "hs/core.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static hs_iovec_t S(const char *s)
{
    return hs_iov(s, strlen(s));
}

static void test_parse_size(void)
{
    static const struct {
        const char *in;
        uint64_t want;
    } good[] = {
        {"0", 0},
        {"1", 1},
        {"512", 512},
        {"8k", 8192},
        {"8K", 8192},
        {"8kb", 8192},
        {"8KB", 8192},
        {"8kib", 8192},
        {"8KiB", 8192},
        {"10m", 10485760},
        {"10M", 10485760},
        {"1g", 1073741824},
        {"3G", 3221225472ull},
        {"100b", 100},
        {"100B", 100},
        {"18446744073709551615", 18446744073709551615ull},
        {"17179869183g", 17179869183ull * 1073741824ull},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(good); i++) {
        uint64_t v = 12345;
        int r = hs_parse_size(good[i].in, &v);
        if (!ok(r == HS_OK && v == good[i].want, "hs_parse_size(\"%s\") = %llu", good[i].in,
                (unsigned long long)good[i].want))
            printf("#   r=%d v=%llu\n", r, (unsigned long long)v);
    }
    static const char *const bad[] = {"",
                                      "k",
                                      "-1",
                                      "+1",
                                      " 1",
                                      "1 ",
                                      "1 k",
                                      "1kk",
                                      "1t",
                                      "1x",
                                      "0x10",
                                      "1.5k",
                                      "1e3",
                                      "k1",
                                      "1bk",
                                      "1kibb",
                                      "1ki",
                                      "18446744073709551616",
                                      "17179869184g",
                                      "99999999999999999999999"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad); i++) {
        uint64_t v = 777;
        int r = hs_parse_size(bad[i], &v);
        ok(r == HS_ERROR && v == 777, "hs_parse_size(\"%s\") refused, output untouched", bad[i]);
    }
    uint64_t v;
    ok(hs_parse_size(NULL, &v) == HS_ERROR, "hs_parse_size(NULL) refused");
}

static void test_parse_u64(void)
{
    uint64_t v = 7;
    ok(hs_parse_u64(S("0"), &v) && v == 0, "u64 0");
    ok(hs_parse_u64(S("0042"), &v) && v == 42, "u64 with leading zeros");
    ok(hs_parse_u64(S("18446744073709551615"), &v) && v == UINT64_MAX, "u64 max");
    v = 7;
    ok(!hs_parse_u64(S("18446744073709551616"), &v) && v == 7, "u64 max + 1 refused");
    ok(!hs_parse_u64(S("99999999999999999999999"), &v) && v == 7, "u64 far over refused");
    ok(!hs_parse_u64(S(""), &v) && !hs_parse_u64(HS_IOV_NULL, &v), "u64 empty or absent refused");
    ok(!hs_parse_u64(S("-1"), &v) && !hs_parse_u64(S("+1"), &v) && !hs_parse_u64(S(" 1"), &v) &&
           !hs_parse_u64(S("1 "), &v) && !hs_parse_u64(S("0x1"), &v),
       "u64 signs, spaces, hex refused");
    ok(hs_parse_u64(hs_iov("123abc", 3), &v) && v == 123, "u64 reads only len bytes");
}

static void test_parse_duration(void)
{
    static const struct {
        const char *in;
        uint64_t want;
    } good[] = {
        {"500ms", 500},  {"0ms", 0},        {"10s", 10000},   {"10", 10000},  {"0", 0},
        {"2m", 120000},  {"2min", 120000},  {"1h", 3600000},  {"1.5s", 1500}, {"0.25", 250},
        {"1.5m", 90000}, {"24h", 86400000}, {"1500ms", 1500}, {"1d", 86400000}, {"30d", 2592000000ULL},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(good); i++) {
        uint64_t v = 12345;
        int r = hs_parse_duration(good[i].in, &v);
        if (!ok(r == HS_OK && v == good[i].want, "hs_parse_duration(\"%s\") = %llu ms", good[i].in,
                (unsigned long long)good[i].want))
            printf("#   r=%d v=%llu\n", r, (unsigned long long)v);
    }
    static const char *const bad[] = {"",
                                      "s",
                                      "ms",
                                      "-1s",
                                      "+1s",
                                      " 1s",
                                      "1 s",
                                      "10x",
                                      "10S",
                                      "1sec",
                                      "1D",
                                      "1.5.5s",
                                      "inf",
                                      "nan",
                                      "0x10",
                                      "0x10s",
                                      "1e3",
                                      "1e400",
                                      "99999999999999999999h",
                                      ".5s"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad); i++) {
        uint64_t v = 777;
        int r = hs_parse_duration(bad[i], &v);
        ok(r == HS_ERROR && v == 777, "hs_parse_duration(\"%s\") refused", bad[i]);
    }
    uint64_t v;
    ok(hs_parse_duration(NULL, &v) == HS_ERROR, "hs_parse_duration(NULL) refused");
    /* the same parser with another unit for plain numbers (the client-testing API's ?sleep=MS) */
    ok(hs_parse_duration_in(S("250"), 1, &v) == HS_OK && v == 250, "plain number in ms units");
    ok(hs_parse_duration_in(S("1.5"), 1000, &v) == HS_OK && v == 1500, "plain number in s units");
    ok(hs_parse_duration_in(S("2s"), 1, &v) == HS_OK && v == 2000, "a unit overrides the default");
    ok(hs_parse_duration_in(S("0.3"), 1000, &v) == HS_OK && v == 300, "0.3 s is 300 ms (rounded, not 299)");
    ok(hs_parse_duration_in(S("5."), 1000, &v) == HS_OK && v == 5000, "a trailing '.'");
    ok(hs_parse_duration_in(S("0.0004"), 1000, &v) == HS_OK && v == 0, "below a millisecond rounds to 0");
    ok(hs_parse_duration_in(S("1.0000000000000000000000000001s"), 1, &v) == HS_OK && v == 1000,
       "long fractions are read, not overflowed");
    ok(hs_parse_duration_in(hs_iov("10s", 2), 1000, &v) == HS_OK && v == 10000, "only len bytes are read");
    v = 777;
    ok(hs_parse_duration_in(HS_IOV_NULL, 1000, &v) == HS_ERROR && v == 777, "absent value refused");
    ok(hs_parse_duration_in(S(".5"), 1000, &v) == HS_ERROR && v == 777, ".5 refused (a digit first)");
    ok(hs_parse_duration_in(S("1e400"), 1000, &v) == HS_ERROR, "1e400 refused");
}

static void test_fmt_u64(void)
{
    static const uint64_t v[] = {0, 7, 9, 10, 42, 99, 100, 200, 999, 1000, 1001, 9999, 10000, 65535, 123456789,
                                 4294967295u, 18446744073709551615u};
    for (size_t i = 0; i < HS_ARRAY_SIZE(v); i++) {
        char got[32], want[32];
        *hs_fmt_u64(got, v[i]) = '\0';
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v[i]);
        ok(strcmp(got, want) == 0, "hs_fmt_u64(%s): %s", want, got);
    }
}

static void test_iov(void)
{
    ok(hs_iov_ieq(S("HoSt"), "host", 4), "HoSt == host");
    ok(hs_iov_ieq(S("host"), "host", 4), "host == host");
    ok(!hs_iov_ieq(S("hos"), "host", 4), "shorter differs");
    ok(!hs_iov_ieq(S("hostx"), "host", 4), "longer differs");
    ok(!hs_iov_ieq(S("hosx"), "host", 4), "one byte differs");
    ok(hs_iov_ieq(S(""), "", 0), "empty == empty");
    ok(hs_iov_ieq(S("X-FOO-123"), "x-foo-123", 9), "digits and dashes");
    /* naive |0x20 folding would make these equal */
    ok(!hs_iov_ieq(S("["), "{", 1), "[ != {");
    ok(!hs_iov_ieq(S("@"), "`", 1), "@ != `");
    ok(!hs_iov_ieq(S("\x0d"), "-", 1), "CR != -");
    ok(!hs_iov_ieq(S("\xc1"), "\xe1", 1), "non-ASCII bytes are not folded");
    ok(HS_IOV_IEQ(S("CHUNKED"), "chunked"), "HS_IOV_IEQ macro");
    ok(hs_iov_has_prefix(S("/_api/x"), "/_api"), "has_prefix");
    ok(!hs_iov_has_prefix(S("/_ap"), "/_api"), "has_prefix: shorter");
    ok(HS_IOV_EQ(S("abc"), "abc") && !HS_IOV_EQ(S("abC"), "abc"), "HS_IOV_EQ is case-sensitive");
}

static void test_arena(void)
{
    hs_arena_t a;
    hs_arena_init(&a);
    enum { N = 2000 };
    static unsigned char *p[N];
    static size_t sz[N];
    srand(3);
    size_t align = _Alignof(max_align_t);
    int misaligned = 0;
    for (int i = 0; i < N; i++) {
        int k = rand() % 10;
        sz[i] = k < 6   ? (size_t)(rand() % 64)
                : k < 8 ? (size_t)(rand() % 2048)
                : k < 9 ? 2048 + (size_t)(rand() % 3000)
                        : 4000 + (size_t)(rand() % 60000);
        if (i % 97 == 0)
            sz[i] = 0;
        p[i] = hs_arena_alloc(&a, sz[i]);
        if (!p[i] || ((uintptr_t)p[i] % align) != 0)
            misaligned++;
        memset(p[i], i & 0xff, sz[i]);
    }
    is_int(misaligned, 0, "%d arena allocations (0 .. 64 KiB) non-NULL and aligned", N);
    int clobbered = 0;
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < sz[i]; j++)
            if (p[i][j] != (unsigned char)(i & 0xff)) {
                clobbered++;
                break;
            }
    is_int(clobbered, 0, "no allocation overlaps another");

    /* exact boundary sizes around the block size */
    static const size_t edge[] = {2047, 2048, 2049, 4064, 4080, 4095, 4096, 4097, 8192, 1 << 20};
    for (size_t i = 0; i < HS_ARRAY_SIZE(edge); i++) {
        unsigned char *q = hs_arena_alloc(&a, edge[i]);
        memset(q, 0xab, edge[i]);
        unsigned char *r2 = hs_arena_alloc(&a, 16);
        memset(r2, 0xcd, 16);
        ok(q[edge[i] - 1] == 0xab && r2[0] == 0xcd && (r2 >= q + edge[i] || r2 + 16 <= q),
           "alloc %zu then 16: distinct, writable", edge[i]);
    }

    char *s = hs_arena_strndup(&a, "hello world", 5);
    ok(strcmp(s, "hello") == 0, "strndup copies n bytes and terminates");
    hs_iovec_t f = hs_arena_printf(&a, "%s-%d", "x", 42);
    ok(f.len == 4 && memcmp(f.base, "x-42", 4) == 0 && f.base[4] == 0, "printf");
    char big[10000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    f = hs_arena_printf(&a, "<%s>", big);
    ok(f.len == sizeof(big) + 1 && f.base[0] == '<' && f.base[f.len - 1] == '>' && f.base[5000] == 'z',
       "printf larger than a block");
    hs_arena_reset(&a);
    ok(a.head == NULL && a.cur == NULL, "reset frees everything");
    /* usable after reset, and a large first allocation */
    unsigned char *q = hs_arena_alloc(&a, 50000);
    memset(q, 1, 50000);
    unsigned char *r = hs_arena_alloc(&a, 10);
    memset(r, 2, 10);
    ok(q[49999] == 1 && r[0] == 2, "large first allocation after reset, then a small one");
    hs_arena_reset(&a);
    hs_arena_reset(&a); /* a second free of any block would abort under ASan (make sanitize) */
    ok(a.head == NULL && a.cur == NULL && a.end == NULL, "double reset leaves an empty arena");
    char *t = hs_arena_alloc(&a, 3);
    memcpy(t, "ok", 3);
    ok(a.head != NULL && strcmp(t, "ok") == 0, "the arena is usable after a double reset");
    hs_arena_reset(&a);
}

static void test_buf(void)
{
    hs_buf_t b = {0};
    HS_BUF_LIT(&b, "abc");
    hs_buf_printf(&b, "-%d-", 7);
    ok(b.len == 6 && memcmp(b.base, "abc-7-", 6) == 0, "append + printf");
    hs_buf_consume(&b, 2);
    ok(b.len == 4 && memcmp(b.base, "c-7-", 4) == 0, "consume");
    hs_buf_consume(&b, 100);
    ok(b.len == 0, "consume past the end empties");
    ok(hs_buf_reserve(&b, 100, 50) == HS_ERROR, "reserve over the limit refused");
    ok(hs_buf_reserve(&b, 50, 50) == HS_OK && b.cap >= 50, "reserve up to the limit");
    b.len = 40;
    ok(hs_buf_reserve(&b, 11, 50) == HS_ERROR, "len + extra over the limit refused");
    ok(hs_buf_reserve(&b, SIZE_MAX, SIZE_MAX) == HS_ERROR, "no overflow on huge extra");
    hs_buf_free(&b);
    ok(b.base == NULL && b.len == 0 && b.cap == 0, "free");
}

int main(void)
{
    test_parse_size();
    test_parse_u64();
    test_parse_duration();
    test_fmt_u64();
    test_iov();
    test_arena();
    test_buf();
    return tap_done();
}
