/* statusd — client-testing API: caching (httpbin).
 *   /cache          304 when the request is conditional (If-Modified-Since or If-None-Match),
 *                   else the /get echo with Last-Modified and ETag
 *   /cache/{n}      the /get echo with Cache-Control: public, max-age=n
 *   /etag/{etag}    ETag: "{etag}"; If-Match that does not match → 412, If-None-Match that
 *                   matches → 304 (RFC 9110 §13.2.2 order: If-Match first) */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>

int api_r_cache(hs_req_t *req, hs_iovec_t rest)
{
    if (hs_req_header(req, HS_HDR_IF_MODIFIED_SINCE).base || hs_req_header(req, HS_HDR_IF_NONE_MATCH).base)
        return hs_res_send(req, 304);
    char date[30];
    hs_http_date(req->worker->loop.now_sec, date);
    hs_res_header(req, HS_IOV("Last-Modified"), hs_iov(hs_arena_strndup(&req->arena, date, 29), 29));
    unsigned char rnd[16];
    char hex[33];
    hs_random(rnd, sizeof(rnd));
    hs_hex_encode(hex, rnd, sizeof(rnd));
    hs_res_headerf(req, "ETag", "\"%s\"", hex);
    return api_echo_send(req, API_F_GET);
}

int api_r_cache_n(hs_req_t *req, hs_iovec_t rest)
{
    uint64_t n;
    if (!hs_parse_u64(rest, &n) || n > 31536000ULL * 10)
        return api_fail(req, 400, "expected /cache/{seconds} with a whole number of seconds, got '%.*s'",
                        (int)HS_MIN(rest.len, 32), rest.base);
    hs_res_headerf(req, "Cache-Control", "public, max-age=%llu", (unsigned long long)n);
    return api_echo_send(req, API_F_GET);
}

/* Does the If-Match / If-None-Match list `v` name `tag` (the opaque part, without quotes)?
 * `weak`: weak comparison (W/ prefixes ignored), else strong (W/ never matches). RFC 9110 §8.8.3.2 */
static bool etag_list_matches(hs_iovec_t v, hs_iovec_t tag, bool weak)
{
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.base[i] == ' ' || v.base[i] == '\t' || v.base[i] == ','))
            i++;
        if (i >= v.len)
            break;
        if (v.base[i] == '*')
            return true;
        bool is_weak = false;
        if (v.len - i >= 2 && v.base[i] == 'W' && v.base[i + 1] == '/') {
            is_weak = true;
            i += 2;
        }
        if (i >= v.len || v.base[i] != '"')
            return false; /* not a list of entity-tags */
        size_t s = ++i;
        while (i < v.len && v.base[i] != '"')
            i++;
        hs_iovec_t opaque = hs_iov(v.base + s, i - s);
        i++;
        if ((weak || !is_weak) && hs_iov_eq(opaque, tag.base, tag.len))
            return true;
    }
    return false;
}

int api_r_etag(hs_req_t *req, hs_iovec_t rest)
{
    hs_iovec_t tag = hs_pct_decode_arena(&req->arena, rest, 0);
    if (tag.len == 0)
        return api_fail(req, 400, "expected /etag/{etag}");
    for (size_t i = 0; i < tag.len; i++) {
        unsigned char c = (unsigned char)tag.base[i];
        if (c <= 0x20 || c == '"' || c == 0x7f)
            return api_fail(req, 400, "an entity-tag cannot contain quotes, spaces or control bytes (RFC 9110 §8.8.3)");
    }
    hs_res_headerf(req, "ETag", "\"%.*s\"", (int)tag.len, tag.base);
    hs_iovec_t im = hs_req_header(req, HS_HDR_IF_MATCH), inm = hs_req_header(req, HS_HDR_IF_NONE_MATCH);
    if (im.base && !etag_list_matches(im, tag, false))
        return api_fail(req, 412, "If-Match does not name the current entity-tag \"%.*s\"", (int)tag.len, tag.base);
    if (inm.base && etag_list_matches(inm, tag, true))
        return hs_res_send(req, 304);
    return api_echo_send(req, API_F_GET);
}
