/* Unit tests: byte ranges (src/http/range.c, RFC 9110 §14): parsing, selection (GET, one field,
 * If-Range) and the 206 body's framing. */
#define _GNU_SOURCE
#include "hs/range.h"
#include "lib/fake_req.h"
#include "tap.h"

#include <stdio.h>

/* want: "" for HS_RANGE_NONE, "416" for unsatisfiable, else "a-b,c-d" */
static void expect(const char *v, uint64_t len, const char *want)
{
    hs_range_t r[HS_RANGE_MAX];
    size_t n = 0;
    int k = hs_range_parse(hs_iov_cstr(v), len, r, &n);
    char got[512] = "";
    if (k == HS_RANGE_UNSATISFIABLE)
        snprintf(got, sizeof(got), "416");
    else if (k == HS_RANGE_OK)
        for (size_t i = 0; i < n; i++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%llu-%llu", i ? "," : "",
                     (unsigned long long)r[i].first, (unsigned long long)r[i].last);
    ok(strcmp(got, want) == 0, "'%s' on %llu -> '%s' (got '%s')", v, (unsigned long long)len, want, got);
}

#define ETAG "\"t\""
#define H(...) ((const char *[]){__VA_ARGS__, NULL})

static void sel(hs_method_t m, const char *const *kv, int want, size_t want_n, const char *name)
{
    static fake_req_t f;
    hs_req_t *req = fake_req_set(&f, m, kv);
    hs_validators_t v = {.exists = true, .has_last_modified = true, .etag = HS_IOV(ETAG), .last_modified = 1000};
    hs_range_t r[HS_RANGE_MAX];
    size_t n = 99;
    int k = hs_range_select(req, &v, 100, r, &n);
    ok(k == want && n == want_n, "select: %s (got %d, %zu ranges)", name, k, n);
}

static void test_select(void)
{
    sel(HS_METHOD_GET, H("Range", "bytes=0-9"), HS_RANGE_OK, 1, "GET with a Range");
    sel(HS_METHOD_GET, NULL, HS_RANGE_NONE, 0, "no Range");
    sel(HS_METHOD_HEAD, H("Range", "bytes=0-9"), HS_RANGE_NONE, 0, "HEAD ignores Range");
    sel(HS_METHOD_POST, H("Range", "bytes=0-9"), HS_RANGE_NONE, 0, "POST ignores Range");
    sel(HS_METHOD_GET, H("Range", "bytes=0-9", "Range", "bytes=0-9"), HS_RANGE_NONE, 0, "two Range fields");
    sel(HS_METHOD_GET, H("Range", "bytes=0-9", "If-Range", ETAG), HS_RANGE_OK, 1, "If-Range matches");
    sel(HS_METHOD_GET, H("Range", "bytes=0-9", "If-Range", "\"old\""), HS_RANGE_NONE, 0, "If-Range differs");
    sel(HS_METHOD_GET, H("Range", "bytes=200-"), HS_RANGE_UNSATISFIABLE, 0, "unsatisfiable");
}

static const char *header(hs_req_t *req, const char *name)
{
    hs_res_header_t *h = hs_res_find_header(req, name);
    static char buf[256];
    snprintf(buf, sizeof(buf), "%.*s", h ? (int)h->value.len : 0, h ? h->value.base : "");
    return h ? buf : NULL;
}

static void test_body(void)
{
    static fake_req_t f;
    static const char data[] = "abcdefghijklmnopqrstuvwxyz";
    hs_range_src_t src = {.fd = -1, .mem = data, .len = 26};

    hs_req_t *req = fake_req_set(&f, HS_METHOD_GET, NULL);
    hs_arena_init(&req->arena);
    hs_range_t one = {2, 5};
    hs_range_body(req, &src, "text/plain", &one, 1);
    const char *cr = header(req, "content-range");
    ok(cr && strcmp(cr, "bytes 2-5/26") == 0, "one range: Content-Range %s", cr ? cr : "(none)");
    ok(req->content_length == 4 && strcmp(req->content_type, "text/plain") == 0, "one range: 4 bytes of text/plain");
    fake_req_done(req);

    req = fake_req_set(&f, HS_METHOD_GET, NULL);
    hs_arena_init(&req->arena);
    hs_range_t two[] = {{0, 1}, {10, 12}};
    hs_range_body(req, &src, "text/plain", two, 2);
    ok(!header(req, "content-range"), "multipart: no Content-Range in the head (RFC 9110 §14.6)");
    const char *ct = req->content_type;
    const char *pre = "multipart/byteranges; boundary=";
    ok(ct && strncmp(ct, pre, strlen(pre)) == 0 && strlen(ct) == strlen(pre) + 24, "multipart: %s", ct ? ct : "");
    /* "[CRLF]--B" CRLF "Content-Type: text/plain" CRLF "Content-Range: bytes a-b/26" CRLF CRLF data,
     * for each part, then CRLF "--B--" CRLF */
    const size_t b = 24, ctl = strlen("Content-Type: text/plain") + 2;
    size_t want = (2 + b + 2 + ctl + strlen("Content-Range: bytes 0-1/26") + 2 + 2) + 2 +
                  (2 + 2 + b + 2 + ctl + strlen("Content-Range: bytes 10-12/26") + 2 + 2) + 3 + (2 + 2 + b + 2 + 2);
    is_int(req->content_length, (long long)want, "multipart: Content-Length counts heads, data and the close");
    fake_req_done(req);

    req = fake_req_set(&f, HS_METHOD_GET, NULL);
    hs_arena_init(&req->arena);
    hs_range_full_body(req, &src);
    ok(req->content_length == 26, "full body: the whole length");
    hs_range_not_satisfiable(req, 26);
    cr = header(req, "content-range");
    ok(cr && strcmp(cr, "bytes */26") == 0, "416: Content-Range %s", cr ? cr : "(none)");
    fake_req_done(req);
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
    expect("bytes=", 1000, "");
    expect("bytes=5-", 0, "416");    /* nothing to point at */
    expect("bytes=-5", 0, "");       /* a suffix on an empty representation: the (empty) whole */
    expect("bytes=-0", 1000, "416"); /* a zero-length suffix is unsatisfiable */
    test_select();
    test_body();
    return tap_done();
}
