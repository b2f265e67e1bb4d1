/* Unit tests: preconditions (RFC 9110 §13.2.2), If-Range (§13.1.5) and Accept-Encoding / A-IM
 * negotiation (§12.5.3, RFC 3229) on hand-built requests. */
#include "../../../src/modules/static/static.h"
#include "tap.h"

#include <stdlib.h>

static hs_req_t req;
static hs_header_t hdrs[16];

static void set(hs_method_t m, const char *const *kv)
{
    memset(&req, 0, sizeof(req));
    memset(hdrs, 0, sizeof(hdrs));
    req.p.method_id = m;
    req.p.headers = hdrs;
    size_t n = 0;
    for (; kv && kv[2 * n]; n++) {
        hdrs[n].name = hs_iov_cstr(kv[2 * n]);
        hdrs[n].value = hs_iov_cstr(kv[2 * n + 1]);
        hdrs[n].token = hs_header_token(kv[2 * n], strlen(kv[2 * n]));
        if (!req.meta.h[hdrs[n].token])
            req.meta.h[hdrs[n].token] = &hdrs[n];
    }
    req.p.num_headers = n;
}

#define ETAG "\"1-2-3\""
static const time_t LM = 1577880000; /* Wed, 01 Jan 2020 12:00:00 GMT */

static void pre(hs_method_t m, const char *const *kv, int want, const char *name)
{
    set(m, kv);
    is_int(hs__static_preconditions(&req, HS_IOV(ETAG), LM), want, "precondition: %s", name);
}

static void enc(const char *ae, unsigned avail, unsigned pre_mask, int want)
{
    const char *kv[] = {"Accept-Encoding", ae, NULL};
    set(HS_METHOD_GET, ae ? kv : NULL);
    is_int(hs__static_negotiate_encoding(&req, avail, pre_mask), want, "Accept-Encoding: %s", ae ? ae : "(absent)");
}

int main(void)
{
    const unsigned ALL = (1u << HS_CODING_BR) | (1u << HS_CODING_ZSTD) | (1u << HS_CODING_GZIP);
    pre(HS_METHOD_GET, NULL, 0, "none");
    pre(HS_METHOD_GET, (const char *[]){"If-Match", ETAG, NULL}, 0, "If-Match exact");
    pre(HS_METHOD_GET, (const char *[]){"If-Match", "W/" ETAG, NULL}, 412, "If-Match weak never matches");
    pre(HS_METHOD_GET, (const char *[]){"If-Match", "\"x\", " ETAG, NULL}, 0, "If-Match list");
    pre(HS_METHOD_GET, (const char *[]){"If-Match", "*", NULL}, 0, "If-Match *");
    pre(HS_METHOD_GET, (const char *[]){"If-Match", "\"x\"", "If-None-Match", ETAG, NULL}, 412,
        "If-Match before If-None-Match");
    pre(HS_METHOD_GET, (const char *[]){"If-Unmodified-Since", "Wed, 01 Jan 2020 11:59:59 GMT", NULL}, 412,
        "If-Unmodified-Since earlier");
    pre(HS_METHOD_GET, (const char *[]){"If-Unmodified-Since", "Wed, 01 Jan 2020 12:00:00 GMT", NULL}, 0,
        "If-Unmodified-Since equal");
    pre(HS_METHOD_GET, (const char *[]){"If-Match", ETAG, "If-Unmodified-Since", "Wed, 01 Jan 2020 11:00:00 GMT", NULL},
        0, "If-Unmodified-Since ignored with If-Match");
    pre(HS_METHOD_GET, (const char *[]){"If-None-Match", "W/" ETAG, NULL}, 304, "If-None-Match weak comparison");
    pre(HS_METHOD_GET, (const char *[]){"If-None-Match", "\"a,b\", " ETAG, NULL}, 304, "If-None-Match comma in tag");
    pre(HS_METHOD_POST, (const char *[]){"If-None-Match", "*", NULL}, 412, "If-None-Match * on POST");
    pre(HS_METHOD_GET,
        (const char *[]){"If-None-Match", "\"x\"", "If-Modified-Since", "Wed, 01 Jan 2020 13:00:00 GMT", NULL}, 0,
        "If-None-Match overrides If-Modified-Since");
    pre(HS_METHOD_GET, (const char *[]){"If-Modified-Since", "Wed, 01 Jan 2020 12:00:00 GMT", NULL}, 304,
        "If-Modified-Since equal");
    pre(HS_METHOD_GET, (const char *[]){"If-Modified-Since", "Wed, 01 Jan 2020 11:59:59 GMT", NULL}, 0,
        "If-Modified-Since earlier");
    pre(HS_METHOD_POST, (const char *[]){"If-Modified-Since", "Wed, 01 Jan 2020 12:00:00 GMT", NULL}, 0,
        "If-Modified-Since only for GET/HEAD");
    pre(HS_METHOD_GET, (const char *[]){"If-Modified-Since", "garbage", NULL}, 0, "If-Modified-Since invalid");

    set(HS_METHOD_GET, (const char *[]){"If-Range", ETAG, NULL});
    ok(hs__static_if_range(&req, HS_IOV(ETAG), LM), "If-Range strong tag");
    set(HS_METHOD_GET, (const char *[]){"If-Range", "W/" ETAG, NULL});
    ok(!hs__static_if_range(&req, HS_IOV(ETAG), LM), "If-Range weak tag");
    set(HS_METHOD_GET, (const char *[]){"If-Range", ETAG ", " ETAG, NULL});
    ok(!hs__static_if_range(&req, HS_IOV(ETAG), LM), "If-Range list");
    set(HS_METHOD_GET, (const char *[]){"If-Range", "Wed, 01 Jan 2020 12:00:00 GMT", NULL});
    ok(hs__static_if_range(&req, HS_IOV(ETAG), LM), "If-Range exact date");
    set(HS_METHOD_GET, (const char *[]){"If-Range", "Wed, 01 Jan 2020 12:00:01 GMT", NULL});
    ok(!hs__static_if_range(&req, HS_IOV(ETAG), LM), "If-Range other date");
    set(HS_METHOD_GET, NULL);
    ok(hs__static_if_range(&req, HS_IOV(ETAG), LM), "no If-Range");

    enc(NULL, ALL, 0, HS_CODING_IDENTITY);
    enc("", ALL, 0, HS_CODING_IDENTITY);
    enc("gzip", ALL, 0, HS_CODING_GZIP);
    enc("gzip, br", ALL, 0, HS_CODING_BR);
    enc("gzip, br", ALL, 1u << HS_CODING_GZIP, HS_CODING_GZIP); /* precompressed wins a tie */
    enc("gzip;q=0.9, br;q=0.8", ALL, 0, HS_CODING_GZIP);
    enc("br", 1u << HS_CODING_GZIP, 0, HS_CODING_IDENTITY);
    enc("*", ALL, 0, HS_CODING_BR);
    enc("*;q=0", ALL, 0, -1);
    enc("identity;q=0", ALL, 0, -1);
    enc("identity;q=0, gzip", ALL, 0, HS_CODING_GZIP);
    enc("*;q=0, identity", ALL, 0, HS_CODING_IDENTITY);
    enc("gzip;q=0.1, identity;q=0.5", ALL, 0, HS_CODING_IDENTITY);
    enc("gzip;q=1.001", ALL, 0, HS_CODING_IDENTITY);
    enc("GZip;Q=0.5", ALL, 0, HS_CODING_GZIP);

    set(HS_METHOD_GET, (const char *[]){"A-IM", "vcdiff, deflate;q=0.5, gzip;q=0.4", NULL});
    is_int(hs__static_negotiate_im(&req), HS_CODING_DEFLATE, "A-IM picks the highest q");
    set(HS_METHOD_GET, (const char *[]){"A-IM", "gzip;q=0", NULL});
    is_int(hs__static_negotiate_im(&req), HS_CODING_IDENTITY, "A-IM q=0");
    return tap_done();
}
