/* Unit tests: the static origin's Accept-Encoding / A-IM negotiation (RFC 9110 §12.5.3,
 * RFC 3229, src/modules/static/compress.c) on hand-built requests. */
#include "../../../src/modules/static/static.h"
#include "lib/fake_req.h"
#include "tap.h"

#include <stdlib.h>

static fake_req_t fake;
static hs_req_t *req;

static void set(hs_method_t m, const char *const *kv)
{
    req = fake_req_set(&fake, m, kv);
}

static void enc(const char *ae, unsigned avail, unsigned pre_mask, int want)
{
    const char *kv[] = {"Accept-Encoding", ae, NULL};
    set(HS_METHOD_GET, ae ? kv : NULL);
    is_int(hs__static_negotiate_encoding(req, avail, pre_mask), want, "Accept-Encoding: %s", ae ? ae : "(absent)");
}

int main(void)
{
    const unsigned ALL = (1u << HS_CODING_BR) | (1u << HS_CODING_ZSTD) | (1u << HS_CODING_GZIP);
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
    is_int(hs__static_negotiate_im(req), HS_CODING_DEFLATE, "A-IM picks the highest q");
    set(HS_METHOD_GET, (const char *[]){"A-IM", "gzip;q=0", NULL});
    is_int(hs__static_negotiate_im(req), HS_CODING_IDENTITY, "A-IM q=0");
    return tap_done();
}
