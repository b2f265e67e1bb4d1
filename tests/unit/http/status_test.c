/* statusd — unit tests for the status-code registry (src/http/status.def, src/http/status.c). */
#include "hs/status.h"

#include "tap.h"

#include <string.h>

/* Every code /work/shared/status-codes.md says statusd must produce, in order. */
static const int expected_codes[] = {
    100, 101, 102, 103,                                                             /* 1xx */
    200, 201, 202, 203, 204, 205, 206, 207, 208, 226,                               /* 2xx */
    300, 301, 302, 303, 304, 305, 306, 307, 308,                                    /* 3xx */
    400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, /* 4xx */
    416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 440, 444, 449, 450, 451,
    494, 495, 496, 497, 499, 500, 501, 502, 503, 504, 505, 506, 507, 508, 509, 510, 511, /* 5xx */
    520, 521, 522, 523, 524, 525, 526, 527, 530, 598, 599,
};
#define N_EXPECTED (sizeof(expected_codes) / sizeof(expected_codes[0]))

static int expected(int code)
{
    for (size_t i = 0; i < N_EXPECTED; i++)
        if (expected_codes[i] == code)
            return 1;
    return 0;
}

static int nonempty(const char *s)
{
    return s && *s;
}

/* Number of sentences, roughly: ". " / "? " / "! " separators plus the final stop. */
static int sentences(const char *s)
{
    int n = 0;
    for (const char *p = s; *p; p++)
        if ((*p == '.' || *p == '?' || *p == '!') && (p[1] == ' ' || p[1] == '\0'))
            n++;
    return n;
}

static void test_table_shape(void)
{
    size_t n = 0;
    const hs_status_info_t *t = hs_status_table(&n);
    ok(t != NULL, "hs_status_table returns the table");
    is_int(n, N_EXPECTED, "the registry has exactly the %zu codes of status-codes.md", N_EXPECTED);
    is_int(hs_status_table(NULL) == t, 1, "hs_status_table(NULL) is allowed");

    int sorted = 1, all_expected = 1, seen_sym_dup = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && t[i].code <= t[i - 1].code) {
            sorted = 0;
            printf("#   %u comes after %u\n", t[i].code, t[i - 1].code);
        }
        if (!expected(t[i].code)) {
            all_expected = 0;
            printf("#   %u is not in status-codes.md\n", t[i].code);
        }
        for (size_t j = 0; j < i; j++)
            if (t[j].symbol && t[i].symbol && strcmp(t[i].symbol, t[j].symbol) == 0)
                seen_sym_dup = 1;
    }
    ok(sorted, "table sorted strictly ascending (no duplicate codes)");
    ok(all_expected, "no code beyond those of status-codes.md");
    ok(!seen_sym_dup, "symbols are unique");

    for (size_t i = 0; i < N_EXPECTED; i++) {
        int code = expected_codes[i];
        const hs_status_info_t *s = hs_status_get(code);
        if (!ok(s != NULL, "%d is in the registry", code))
            continue;
        is_int(s->code, code, "hs_status_get(%d)->code", code);
        ok(s >= t && s < t + n, "hs_status_get(%d) points into the table", code);
    }
}

static void test_texts(void)
{
    size_t n = 0;
    const hs_status_info_t *t = hs_status_table(&n);
    for (size_t i = 0; i < n; i++) {
        const hs_status_info_t *s = &t[i];
        int code = s->code;
        ok(nonempty(s->symbol), "%d has a symbol", code);
        ok(nonempty(s->reason), "%d has a reason phrase", code);
        ok(strlen(s->reason) <= 64, "%d reason fits a status line (%zu bytes)", code, strlen(s->reason));
        ok(strcmp(hs_status_reason(code), s->reason) == 0, "hs_status_reason(%d) is the table's", code);
        int clean = 1;
        for (const char *p = s->reason; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                clean = 0;
        ok(clean, "%d reason has no control characters", code);
        ok(nonempty(s->ref), "%d has a reference", code);
        ok(nonempty(s->summary) && !strchr(s->summary, '\n'), "%d has a one-line summary", code);
        ok(nonempty(s->explanation), "%d has an explanation", code);
        int k = sentences(s->explanation);
        ok(k >= 3 && k <= 5, "%d explanation has 3-5 sentences (counted %d)", code, k);
        ok(strstr(s->explanation, "statusd") != NULL, "%d explanation says when statusd uses it", code);
        if (s->origin == HS_ORIGIN_IANA)
            ok(strncmp(s->ref, "RFC ", 4) == 0 && strstr(s->ref, "§") != NULL,
               "%d (IANA) reference names an RFC section: %s", code, s->ref);
        ok(strcmp(hs_status_origin_name(s->origin), "unknown") != 0, "%d has a named origin", code);
    }
    ok(strcmp(hs_status_reason(418), "I'm a teapot") == 0, "418 I'm a teapot");
    ok(strcmp(hs_status_reason(413), "Content Too Large") == 0, "413 uses the RFC 9110 name");
    ok(strcmp(hs_status_reason(422), "Unprocessable Content") == 0, "422 uses the RFC 9110 name");
    ok(strcmp(hs_status_get(404)->symbol, "NOT_FOUND") == 0, "404 symbol NOT_FOUND");
    is_int(HS_STATUS_NOT_FOUND, 404, "HS_STATUS_NOT_FOUND");
    is_int(HS_STATUS_IM_A_TEAPOT, 418, "HS_STATUS_IM_A_TEAPOT");
    is_int(HS_STATUS_NETWORK_CONNECT_TIMEOUT, 599, "HS_STATUS_NETWORK_CONNECT_TIMEOUT");
}

static void test_flags(void)
{
    size_t n = 0;
    const hs_status_info_t *t = hs_status_table(&n);
    for (size_t i = 0; i < n; i++) {
        const hs_status_info_t *s = &t[i];
        int code = s->code;
        uint32_t f = s->flags;
        if (code < 200)
            ok((f & (HS_SF_NOBODY | HS_SF_INTERIM)) == (HS_SF_NOBODY | HS_SF_INTERIM), "%d is NOBODY|INTERIM", code);
        else
            ok(!(f & HS_SF_INTERIM), "%d is not INTERIM", code);
        ok(!!(f & HS_SF_UNOFFICIAL) == (s->origin != HS_ORIGIN_IANA), "%d: UNOFFICIAL iff origin is not IANA", code);
        if (code >= 300 && code < 400 && code != 300 && code != 304 && code != 305 && code != 306)
            ok(s->required & HS_RH_LOCATION, "%d requires Location", code);
        ok((s->required & s->recommended) == 0, "%d: no header both required and recommended", code);
        int known_bits = 1;
        for (uint32_t bit = 1; bit; bit <<= 1)
            if (((s->required | s->recommended) & bit) && !hs_status_header_name(bit))
                known_bits = 0;
        ok(known_bits, "%d: every header bit has a name", code);
    }

    /* Heuristically cacheable by default, RFC 9110 §15.1: exactly this list. */
    static const int cacheable[] = {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501};
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].flags & HS_SF_CACHEABLE)
            count++;
    is_int(count, sizeof(cacheable) / sizeof(cacheable[0]), "exactly the RFC 9110 §15.1 codes are CACHEABLE");
    for (size_t i = 0; i < sizeof(cacheable) / sizeof(cacheable[0]); i++)
        ok(hs_status_get(cacheable[i])->flags & HS_SF_CACHEABLE, "%d is CACHEABLE", cacheable[i]);

    ok(hs_status_get(204)->flags & HS_SF_NOBODY, "204 is NOBODY");
    ok(hs_status_get(304)->flags & HS_SF_NOBODY, "304 is NOBODY");
    int nobody = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].flags & HS_SF_NOBODY)
            nobody++;
    is_int(nobody, 6, "NOBODY is exactly 1xx (4), 204 and 304");
    ok(hs_status_get(305)->flags & HS_SF_DEPRECATED, "305 is DEPRECATED");
    ok(hs_status_get(306)->flags & HS_SF_RESERVED, "306 is RESERVED");
    ok(hs_status_get(402)->flags & HS_SF_RESERVED, "402 is RESERVED");
    ok(hs_status_get(408)->flags & HS_SF_CLOSE, "408 is CLOSE");
    ok(hs_status_get(527)->flags & HS_SF_HISTORIC, "527 is HISTORIC");
    ok(hs_status_get(418)->origin == HS_ORIGIN_HTCPCP, "418 comes from HTCPCP");
    ok(hs_status_get(418)->flags & HS_SF_UNOFFICIAL, "418 is UNOFFICIAL");
    int logonly = 0;
    for (size_t i = 0; i < n; i++)
        if (t[i].flags & HS_SF_LOGONLY)
            logonly++;
    is_int(logonly, 3, "three LOGONLY codes");
    ok(hs_status_get(444)->flags & HS_SF_LOGONLY, "444 is LOGONLY");
    ok(hs_status_get(494)->flags & HS_SF_LOGONLY, "494 is LOGONLY");
    ok(hs_status_get(499)->flags & HS_SF_LOGONLY, "499 is LOGONLY");
}

static void test_headers(void)
{
    ok(!(hs_status_get(300)->required & HS_RH_LOCATION), "300 does not require Location");
    ok(hs_status_get(300)->recommended & HS_RH_LOCATION, "300 recommends Location");
    ok(!(hs_status_get(304)->required & HS_RH_LOCATION), "304 does not require Location");
    ok(hs_status_get(201)->recommended & HS_RH_LOCATION, "201 recommends Location");
    ok(hs_status_get(405)->required & HS_RH_ALLOW, "405 requires Allow");
    ok(hs_status_get(401)->required & HS_RH_WWW_AUTHENTICATE, "401 requires WWW-Authenticate");
    ok(hs_status_get(407)->required & HS_RH_PROXY_AUTHENTICATE, "407 requires Proxy-Authenticate");
    ok(hs_status_get(416)->required & HS_RH_CONTENT_RANGE, "416 requires Content-Range");
    ok(hs_status_get(101)->required & HS_RH_UPGRADE, "101 requires Upgrade");
    ok(hs_status_get(426)->required & HS_RH_UPGRADE, "426 requires Upgrade");
    ok(hs_status_get(103)->required & HS_RH_LINK, "103 requires Link");
    ok(hs_status_get(226)->required & HS_RH_IM, "226 requires IM");
    ok(hs_status_get(226)->recommended & HS_RH_ETAG, "226 recommends ETag");
    ok(hs_status_get(408)->required & HS_RH_CONNECTION_CLOSE, "408 requires Connection: close");
    ok(hs_status_get(415)->recommended & HS_RH_ACCEPT, "415 recommends Accept");
    ok(hs_status_get(429)->recommended & HS_RH_RETRY_AFTER, "429 recommends Retry-After");
    ok(hs_status_get(429)->recommended & HS_RH_RATELIMIT, "429 recommends RateLimit");
    ok(hs_status_get(451)->recommended & HS_RH_LINK, "451 recommends Link");
    ok(hs_status_get(503)->recommended & HS_RH_RETRY_AFTER, "503 recommends Retry-After");
    ok(hs_status_get(509)->recommended & HS_RH_RETRY_AFTER, "509 recommends Retry-After");
    is_int(hs_status_get(200)->required | hs_status_get(200)->recommended, 0, "200 needs no particular header");

    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {HS_RH_LOCATION, "Location"},
        {HS_RH_ALLOW, "Allow"},
        {HS_RH_WWW_AUTHENTICATE, "WWW-Authenticate"},
        {HS_RH_PROXY_AUTHENTICATE, "Proxy-Authenticate"},
        {HS_RH_CONTENT_RANGE, "Content-Range"},
        {HS_RH_RETRY_AFTER, "Retry-After"},
        {HS_RH_UPGRADE, "Upgrade"},
        {HS_RH_LINK, "Link"},
        {HS_RH_IM, "IM"},
        {HS_RH_ETAG, "ETag"},
        {HS_RH_ACCEPT, "Accept"},
        {HS_RH_CONNECTION_CLOSE, "Connection"},
        {HS_RH_RATELIMIT, "RateLimit"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *got = hs_status_header_name(names[i].bit);
        ok(got && strcmp(got, names[i].name) == 0, "header name of bit %#x is %s", names[i].bit, names[i].name);
    }
    ok(hs_status_header_name(0) == NULL, "no header name for 0");
    ok(hs_status_header_name(HS_RH_LOCATION | HS_RH_ALLOW) == NULL, "no header name for two bits");
    ok(hs_status_header_name(HS_RH_RATELIMIT << 1) == NULL, "no header name for an undefined bit");
}

static void test_lookup(void)
{
    ok(hs_status_get(999) == NULL, "hs_status_get(999) is NULL");
    ok(hs_status_get(299) == NULL, "hs_status_get(299) is NULL");
    ok(hs_status_get(0) == NULL, "hs_status_get(0) is NULL");
    ok(hs_status_get(-1) == NULL, "hs_status_get(-1) is NULL");
    ok(hs_status_get(1000) == NULL, "hs_status_get(1000) is NULL");
    ok(hs_status_get(99) == NULL, "hs_status_get(99) is NULL");
    ok(hs_status_get(1404) == NULL, "hs_status_get(1404) is NULL");
    ok(strcmp(hs_status_reason(299), "Unknown") == 0, "hs_status_reason(299) is Unknown");
    ok(strcmp(hs_status_reason(999), "Unknown") == 0, "hs_status_reason(999) is Unknown");
    ok(strcmp(hs_status_reason(-7), "Unknown") == 0, "hs_status_reason(-7) is Unknown");
    int never_null = 1;
    for (int code = 100; code <= 999; code++)
        if (!hs_status_reason(code))
            never_null = 0;
    ok(never_null, "hs_status_reason never returns NULL for 100..999");

    ok(strcmp(hs_status_origin_name(HS_ORIGIN_IANA), "IANA") == 0, "origin name IANA");
    ok(strcmp(hs_status_origin_name(HS_ORIGIN_NGINX), "nginx") == 0, "origin name nginx");
    ok(strcmp(hs_status_origin_name(HS_ORIGIN_IIS), "IIS") == 0, "origin name IIS");
    ok(strcmp(hs_status_origin_name(HS_ORIGIN_MICROSOFT), "Microsoft") == 0, "origin name Microsoft");
    ok(strcmp(hs_status_origin_name(HS_ORIGIN_APACHE), "Apache") == 0, "origin name Apache");
    ok(strcmp(hs_status_origin_name(HS_ORIGIN_CLOUDFLARE), "Cloudflare") == 0, "origin name Cloudflare");
    ok(strcmp(hs_status_origin_name(HS_ORIGIN_PROXY), "proxy convention") == 0, "origin name proxy convention");
    ok(strcmp(hs_status_origin_name(HS_ORIGIN_HTCPCP), "HTCPCP") == 0, "origin name HTCPCP");
}

static void test_allows_body(void)
{
    ok(!hs_status_allows_body(100), "100: no content");
    ok(!hs_status_allows_body(101), "101: no content");
    ok(!hs_status_allows_body(103), "103: no content");
    ok(!hs_status_allows_body(150), "an unregistered 1xx: no content either");
    ok(!hs_status_allows_body(204), "204: no content");
    ok(!hs_status_allows_body(304), "304: no content");
    ok(hs_status_allows_body(200), "200 may have content");
    ok(hs_status_allows_body(205), "205 keeps its framing (Content-Length: 0)");
    ok(hs_status_allows_body(206), "206 may have content");
    ok(hs_status_allows_body(301), "301 may have content");
    ok(hs_status_allows_body(404), "404 may have content");
    ok(hs_status_allows_body(500), "500 may have content");
    ok(hs_status_allows_body(299), "an unregistered 2xx may have content");
    ok(hs_status_allows_body(999), "an unregistered 9xx may have content");
    size_t n = 0;
    const hs_status_info_t *t = hs_status_table(&n);
    int agree = 1;
    for (size_t i = 0; i < n; i++)
        if (hs_status_allows_body(t[i].code) == !!(t[i].flags & HS_SF_NOBODY))
            agree = 0;
    ok(agree, "allows_body is the opposite of NOBODY for every registered code");
}

int main(void)
{
    test_table_shape();
    test_texts();
    test_flags();
    test_headers();
    test_lookup();
    test_allows_body();
    return tap_done();
}
