/* Unit tests: entity tags and conditional requests (src/http/conditional.c, RFC 9110 §8.8.3,
 * §13.1, §13.2.2) on hand-built requests, for files, weakly tagged documents and resources that
 * do not exist yet. */
#define _GNU_SOURCE
#include "hs/conditional.h"
#include "lib/fake_req.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

static fake_req_t fake;
static hs_req_t *req;

static void set(hs_method_t m, const char *const *kv)
{
    req = fake_req_set(&fake, m, kv);
}

#define ETAG "\"1-2-3\""
#define D_EQ "Wed, 01 Jan 2020 12:00:00 GMT"     /* == LM */
#define D_BEFORE "Wed, 01 Jan 2020 11:59:59 GMT" /* LM - 1 */
#define D_AFTER "Wed, 01 Jan 2020 13:00:00 GMT"  /* LM + 3600 */
static const time_t LM = 1577880000;

static const hs_validators_t FILE_V = {
    .exists = true, .has_last_modified = true, .etag = HS_IOV(ETAG), .last_modified = LM};
static const hs_validators_t WEAK_V = {
    .exists = true, .has_last_modified = true, .etag = HS_IOV("W/" ETAG), .last_modified = LM};
static const hs_validators_t UNDATED_V = {.exists = true, .etag = HS_IOV(ETAG)};
static const hs_validators_t UNTAGGED_V = {.exists = true, .has_last_modified = true, .last_modified = LM};
static const hs_validators_t MISSING_V = {.exists = false};

#define H(...) ((const char *[]){__VA_ARGS__, NULL})

static void pre(const hs_validators_t *v, hs_method_t m, const char *const *kv, int want, const char *name)
{
    set(m, kv);
    is_int(hs_preconditions(req, v), want, "%s %s", hs_method_name(m), name);
}

static void ir(const hs_validators_t *v, const char *const *kv, bool want, const char *name)
{
    set(HS_METHOD_GET, kv);
    ok(hs_if_range(req, v) == want, "If-Range %s: %s", name, want ? "applies" : "ignored");
}

static void test_etags(void)
{
    hs_etag_t a, b;
    ok(hs_etag_parse(HS_IOV("\"x\""), &a) && !a.weak && HS_IOV_EQ(a.opaque, "\"x\""), "parse strong");
    ok(hs_etag_parse(HS_IOV("W/\"x\""), &b) && b.weak && HS_IOV_EQ(b.opaque, "\"x\""), "parse weak");
    ok(hs_etag_parse(HS_IOV("\"\""), &a) && a.opaque.len == 2, "empty opaque-tag");
    ok(hs_etag_parse(HS_IOV("\"a,b\""), &a), "a comma inside a tag");
    ok(!hs_etag_parse(HS_IOV("x"), &a), "unquoted refused");
    ok(!hs_etag_parse(HS_IOV("\"x"), &a), "unterminated refused");
    ok(!hs_etag_parse(HS_IOV("w/\"x\""), &a), "lowercase w/ refused (the prefix is case-sensitive)");
    ok(!hs_etag_parse(HS_IOV("\"a b\""), &a), "a space inside refused");
    ok(!hs_etag_parse(HS_IOV("\"x\" "), &a), "trailing bytes refused");
    ok(!hs_etag_parse(HS_IOV_NULL, &a), "absent refused");

    hs_etag_t s1, s2, w1, w2;
    hs_etag_parse(HS_IOV("\"1\""), &s1);
    hs_etag_parse(HS_IOV("\"1\""), &s2);
    hs_etag_parse(HS_IOV("W/\"1\""), &w1);
    hs_etag_parse(HS_IOV("W/\"1\""), &w2);
    /* RFC 9110 §8.8.3.2, the table of examples */
    ok(!hs_etag_strong_eq(w1, w2) && hs_etag_weak_eq(w1, w2), "W/\"1\" W/\"1\": strong no, weak yes");
    hs_etag_parse(HS_IOV("W/\"2\""), &w2);
    ok(!hs_etag_strong_eq(w1, w2) && !hs_etag_weak_eq(w1, w2), "W/\"1\" W/\"2\": no match");
    ok(!hs_etag_strong_eq(w1, s1) && hs_etag_weak_eq(w1, s1), "W/\"1\" \"1\": strong no, weak yes");
    ok(hs_etag_strong_eq(s1, s2) && hs_etag_weak_eq(s1, s2), "\"1\" \"1\": match");

    hs_iovec_t list = HS_IOV(" \"a\" ,, W/\"b,c\",\"d\"");
    size_t pos = 0;
    hs_etag_t t;
    ok(hs_etag_next(list, &pos, &t) == 1 && HS_IOV_EQ(t.opaque, "\"a\"") && !t.weak, "list: first");
    ok(hs_etag_next(list, &pos, &t) == 1 && HS_IOV_EQ(t.opaque, "\"b,c\"") && t.weak, "list: weak, comma inside");
    ok(hs_etag_next(list, &pos, &t) == 1 && HS_IOV_EQ(t.opaque, "\"d\""), "list: last");
    ok(hs_etag_next(list, &pos, &t) == 0, "list: end");
    pos = 0;
    ok(hs_etag_next(HS_IOV("\"a\" \"b\""), &pos, &t) == -1, "list: a missing comma is malformed");
    pos = 0;
    ok(hs_etag_next(HS_IOV("\"a\", b"), &pos, &t) == 1 && hs_etag_next(HS_IOV("\"a\", b"), &pos, &t) == -1,
       "list: an unquoted member is malformed");

    struct stat st = {0};
    st.st_ino = 0x1f;
    st.st_size = 12;
    st.st_mtim.tv_sec = 1;
    st.st_mtim.tv_nsec = 5;
    char out[HS_ETAG_STAT_MAX + 8];
    size_t n = hs_etag_from_stat(out, &st, NULL);
    ok(n == strlen("\"1f-c-3b9aca05\"") && memcmp(out, "\"1f-c-3b9aca05\"", n) == 0, "file tag: ino-size-ns in hex");
    n = hs_etag_from_stat(out, &st, "gz");
    ok(n == strlen("\"1f-c-3b9aca05-gz\"") && memcmp(out, "\"1f-c-3b9aca05-gz\"", n) == 0, "file tag with a suffix");
    st.st_ino = UINT64_MAX;
    st.st_size = INT64_MAX;
    st.st_mtim.tv_sec = INT64_MAX / 1000000000;
    st.st_mtim.tv_nsec = 999999999;
    ok(hs_etag_from_stat(out, &st, NULL) <= HS_ETAG_STAT_MAX, "the largest file tag fits HS_ETAG_STAT_MAX");
    ok(hs_etag_parse(hs_iov(out, hs_etag_from_stat(out, &st, NULL)), &t) && !t.weak, "a file tag is a strong tag");
}

static void test_preconditions(void)
{
    const hs_validators_t *f = &FILE_V;
    pre(f, HS_METHOD_GET, NULL, 0, "no conditions");
    /* step 1: If-Match (strong comparison) */
    pre(f, HS_METHOD_GET, H("If-Match", ETAG), 0, "If-Match exact");
    pre(f, HS_METHOD_GET, H("If-Match", "W/" ETAG), 412, "If-Match with a weak tag never matches");
    pre(f, HS_METHOD_GET, H("If-Match", "\"x\", " ETAG), 0, "If-Match list");
    pre(f, HS_METHOD_GET, H("If-Match", "\"x\"", "If-Match", ETAG), 0, "If-Match over two field lines");
    pre(f, HS_METHOD_PUT, H("If-Match", "\"x\""), 412, "If-Match mismatch");
    pre(f, HS_METHOD_PUT, H("If-Match", "*"), 0, "If-Match * on an existing resource");
    pre(f, HS_METHOD_PUT, H("If-Match", "\"x\" junk, " ETAG), 412, "If-Match malformed list matches nothing");
    pre(&WEAK_V, HS_METHOD_PUT, H("If-Match", "W/" ETAG), 412, "If-Match: weak tags are never strongly equal");
    pre(&WEAK_V, HS_METHOD_PUT, H("If-Match", ETAG), 412, "If-Match: a strong tag against our weak one");
    pre(&UNTAGGED_V, HS_METHOD_PUT, H("If-Match", ETAG), 412, "If-Match on a resource without a tag");
    pre(&UNTAGGED_V, HS_METHOD_PUT, H("If-Match", "*"), 0, "If-Match * on a resource without a tag");
    pre(f, HS_METHOD_GET, H("If-Match", "\"x\"", "If-None-Match", ETAG), 412, "If-Match before If-None-Match");
    /* step 2: If-Unmodified-Since */
    pre(f, HS_METHOD_GET, H("If-Unmodified-Since", D_BEFORE), 412, "If-Unmodified-Since earlier");
    pre(f, HS_METHOD_GET, H("If-Unmodified-Since", D_EQ), 0, "If-Unmodified-Since equal");
    pre(f, HS_METHOD_PUT, H("If-Unmodified-Since", D_AFTER), 0, "If-Unmodified-Since later");
    pre(f, HS_METHOD_GET, H("If-Match", ETAG, "If-Unmodified-Since", D_BEFORE), 0,
        "If-Unmodified-Since ignored with If-Match");
    pre(f, HS_METHOD_GET, H("If-Unmodified-Since", "garbage"), 0, "If-Unmodified-Since invalid: ignored");
    pre(f, HS_METHOD_GET, H("If-Unmodified-Since", D_BEFORE, "If-Unmodified-Since", D_BEFORE), 0,
        "If-Unmodified-Since repeated: ignored");
    pre(&UNDATED_V, HS_METHOD_PUT, H("If-Unmodified-Since", D_BEFORE), 0,
        "If-Unmodified-Since without a modification date: ignored");
    /* step 3: If-None-Match (weak comparison) */
    pre(f, HS_METHOD_GET, H("If-None-Match", ETAG), 304, "If-None-Match match on GET");
    pre(f, HS_METHOD_HEAD, H("If-None-Match", ETAG), 304, "If-None-Match match on HEAD");
    pre(f, HS_METHOD_GET, H("If-None-Match", "W/" ETAG), 304, "If-None-Match weak comparison");
    pre(&WEAK_V, HS_METHOD_GET, H("If-None-Match", ETAG), 304, "If-None-Match: our weak tag, weakly equal");
    pre(f, HS_METHOD_GET, H("If-None-Match", "\"a,b\", " ETAG), 304, "If-None-Match comma in a tag");
    pre(f, HS_METHOD_GET, H("If-None-Match", "\"x\""), 0, "If-None-Match no match");
    pre(f, HS_METHOD_POST, H("If-None-Match", ETAG), 412, "If-None-Match match on POST");
    pre(f, HS_METHOD_POST, H("If-None-Match", "*"), 412, "If-None-Match * on POST");
    pre(f, HS_METHOD_GET, H("If-None-Match", "*"), 304, "If-None-Match * on GET");
    pre(f, HS_METHOD_GET, H("If-None-Match", "junk " ETAG), 0, "If-None-Match malformed list matches nothing");
    pre(f, HS_METHOD_GET, H("If-None-Match", "\"x\"", "If-Modified-Since", D_AFTER), 0,
        "If-None-Match overrides If-Modified-Since");
    /* step 4: If-Modified-Since */
    pre(f, HS_METHOD_GET, H("If-Modified-Since", D_EQ), 304, "If-Modified-Since equal");
    pre(f, HS_METHOD_HEAD, H("If-Modified-Since", D_AFTER), 304, "If-Modified-Since later");
    pre(f, HS_METHOD_GET, H("If-Modified-Since", D_BEFORE), 0, "If-Modified-Since earlier");
    pre(f, HS_METHOD_POST, H("If-Modified-Since", D_EQ), 0, "If-Modified-Since only for GET/HEAD");
    pre(f, HS_METHOD_GET, H("If-Modified-Since", "garbage"), 0, "If-Modified-Since invalid: ignored");
    pre(f, HS_METHOD_GET, H("If-Modified-Since", "Sunday, 01-Jan-20 12:00:00 GMT"), 304,
        "If-Modified-Since in RFC 850 form");
    pre(&UNDATED_V, HS_METHOD_GET, H("If-Modified-Since", D_AFTER), 0,
        "If-Modified-Since without a modification date: ignored");
    /* every step together, the first deciding */
    pre(f, HS_METHOD_GET,
        H("If-Match", ETAG, "If-Unmodified-Since", D_BEFORE, "If-None-Match", "\"x\"", "If-Modified-Since", D_EQ), 0,
        "all four: If-Match passes, If-None-Match decides against 304");
    pre(f, HS_METHOD_GET, H("If-Unmodified-Since", D_EQ, "If-Modified-Since", D_EQ), 304,
        "If-Unmodified-Since passes, then If-Modified-Since");

    /* a resource that does not exist (a WebDAV PUT creating it) */
    const hs_validators_t *m = &MISSING_V;
    pre(m, HS_METHOD_PUT, NULL, 0, "missing, no conditions");
    pre(m, HS_METHOD_PUT, H("If-None-Match", "*"), 0, "missing: If-None-Match * lets a PUT create it");
    pre(f, HS_METHOD_PUT, H("If-None-Match", "*"), 412, "existing: If-None-Match * refuses to overwrite");
    pre(m, HS_METHOD_PUT, H("If-Match", "*"), 412, "missing: If-Match * is false");
    pre(m, HS_METHOD_PUT, H("If-Match", ETAG), 412, "missing: If-Match with a tag is false");
    pre(m, HS_METHOD_PUT, H("If-None-Match", ETAG), 0, "missing: If-None-Match with a tag is true");
    pre(m, HS_METHOD_PUT, H("If-Unmodified-Since", D_BEFORE), 0, "missing: If-Unmodified-Since ignored");
    pre(m, HS_METHOD_GET, H("If-Modified-Since", D_AFTER), 0, "missing: If-Modified-Since ignored");
    hs_validators_t stale = FILE_V;
    stale.exists = false; /* validators left over, but no representation */
    pre(&stale, HS_METHOD_PUT, H("If-Match", ETAG), 412, "missing: old validators are not matched");
}

static void test_if_range(void)
{
    const hs_validators_t *f = &FILE_V;
    ir(f, NULL, true, "absent");
    ir(f, H("If-Range", ETAG), true, "strong tag");
    ir(f, H("If-Range", "\"x\""), false, "other tag");
    ir(f, H("If-Range", "W/" ETAG), false, "weak tag (strong comparison)");
    ir(&WEAK_V, H("If-Range", "W/" ETAG), false, "our weak tag never matches");
    ir(f, H("If-Range", ETAG ", " ETAG), false, "a list");
    ir(f, H("If-Range", ETAG, "If-Range", ETAG), false, "repeated");
    ir(f, H("If-Range", D_EQ), true, "exact date");
    ir(f, H("If-Range", D_AFTER), false, "later date (exact match only)");
    ir(f, H("If-Range", D_BEFORE), false, "earlier date");
    ir(f, H("If-Range", "garbage"), false, "malformed");
    ir(&UNDATED_V, H("If-Range", D_EQ), false, "a date against a resource without one");
    ir(&UNTAGGED_V, H("If-Range", ETAG), false, "a tag against a resource without one");
    ir(&MISSING_V, H("If-Range", ETAG), false, "missing resource");

    set(HS_METHOD_GET, H("Range", "bytes=0-1", "If-Range", ETAG, "Range", "bytes=2-3"));
    is_int(hs_req_field_count(req, HS_HDR_RANGE), 2, "field count");
    is_int(hs_req_field_count(req, HS_HDR_IF_MATCH), 0, "field count of an absent field");
}

int main(void)
{
    test_etags();
    test_preconditions();
    test_if_range();
    return tap_done();
}
