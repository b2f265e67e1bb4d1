/* statusd — client-testing API: /status/{codes}, any registry code on demand (httpbin and
 * httpstat.us compatible).
 *
 *   /status/418                 one code
 *   /status/200,500             a random choice
 *   /status/200:0.8,500:0.2     a weighted choice (a missing weight counts as 1, as in httpbin)
 *   ?sleep=MS                   answer after MS milliseconds (a timer; the worker is never blocked)
 *   X-HttpStatus-Sleep: MS      the same, as a request header (httpstat.us)
 *   X-HttpStatus-Response-Foo: bar   sent back as "Foo: bar" (httpstat.us)
 *
 * Each code comes with the headers its semantics call for (api_add_status_headers): a Location
 * for 3xx (ending at /get on this server), WWW-Authenticate for 401, Allow for 405 and so on.
 * 1xx codes are sent as real interim responses followed by a final 200 (RFC 9110 §15.2). 101
 * needs a real upgrade, 444 closes without a byte, and log-only codes (499, 494) cannot be sent:
 * those get a 400 that says why. The body is httpstat.us's "{code} {reason}", or
 * {"code": …, "description": …} when the client prefers JSON. */
#define _GNU_SOURCE
#include "api.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

void api_add_status_headers(hs_req_t *req, int code, uint64_t body_len)
{
    const hs_status_info_t *info = hs_status_get(code);
    uint32_t want = info ? info->required | info->recommended : 0;
    if ((code >= 300 && code < 400 && code != 304) || code == 201 || code == 202)
        want |= HS_RH_LOCATION;
    if (code == 401)
        want |= HS_RH_WWW_AUTHENTICATE;
    if (code == 405)
        want |= HS_RH_ALLOW;
    if (code == 407)
        want |= HS_RH_PROXY_AUTHENTICATE;
    if (code == 416)
        want |= HS_RH_CONTENT_RANGE;
    if (code == 429 || code == 503)
        want |= HS_RH_RETRY_AFTER;
    if (code == 426)
        want |= HS_RH_UPGRADE;
    for (uint32_t bit = 1; bit && bit <= HS_RH_RATELIMIT; bit <<= 1) {
        if (!(want & bit))
            continue;
        switch (bit) {
        case HS_RH_LOCATION:
            if (!hs_res_find_header(req, "location"))
                hs_res_header(req, HS_IOV("Location"), api_path(req, "/get"));
            break;
        case HS_RH_ALLOW:
            if (!req->allow && !hs_res_find_header(req, "allow"))
                req->allow = "GET, HEAD, OPTIONS";
            break;
        case HS_RH_WWW_AUTHENTICATE:
            if (!hs_res_find_header(req, "www-authenticate"))
                HS_RES_HEADER(req, "WWW-Authenticate", "Basic realm=\"statusd\", charset=\"UTF-8\"");
            break;
        case HS_RH_PROXY_AUTHENTICATE:
            if (!hs_res_find_header(req, "proxy-authenticate"))
                HS_RES_HEADER(req, "Proxy-Authenticate", "Basic realm=\"statusd proxy\", charset=\"UTF-8\"");
            break;
        case HS_RH_CONTENT_RANGE:
            if (!hs_res_find_header(req, "content-range"))
                hs_res_headerf(req, "Content-Range", "bytes */%llu", (unsigned long long)body_len);
            break;
        case HS_RH_RETRY_AFTER:
            if (!hs_res_find_header(req, "retry-after"))
                HS_RES_HEADER(req, "Retry-After", "1");
            break;
        case HS_RH_UPGRADE:
            if (!hs_res_find_header(req, "upgrade")) {
                HS_RES_HEADER(req, "Upgrade", "websocket");
                HS_RES_HEADER(req, "Connection", "Upgrade");
            }
            break;
        case HS_RH_LINK:
            if (!hs_res_find_header(req, "link")) {
                if (code == 451)
                    hs_res_headerf(req, "Link", "<%s/get>; rel=\"blocked-by\"", API_PREFIX(req));
                else
                    hs_res_headerf(req, "Link", "<%s/>; rel=\"help\"", API_PREFIX(req));
            }
            break;
        case HS_RH_IM:
            if (!hs_res_find_header(req, "im"))
                HS_RES_HEADER(req, "IM", "gzip");
            break;
        case HS_RH_ETAG:
            if (!hs_res_find_header(req, "etag"))
                hs_res_headerf(req, "ETag", "\"statusd-%d\"", code);
            break;
        case HS_RH_ACCEPT:
            if (!hs_res_find_header(req, "accept"))
                HS_RES_HEADER(req, "Accept", "application/json, text/plain");
            break;
        case HS_RH_CONNECTION_CLOSE: req->res_close = true; break;
        case HS_RH_RATELIMIT:
            if (!hs_res_find_header(req, "ratelimit-policy")) {
                HS_RES_HEADER(req, "RateLimit-Policy", "\"default\";q=100;w=60");
                HS_RES_HEADER(req, "RateLimit", "\"default\";r=0;t=1");
            }
            break;
        default: break;
        }
    }
}

/* The final response for `code` (never 1xx here). */
static int respond(hs_req_t *req, int code)
{
    const hs_status_info_t *info = hs_status_get(code);
    hs_req_set_cause(req, API_CAUSE(API_CAUSE_STATUS));
    if (code == 444) {
        hs_res_close_silently(req, 444); /* nginx: nothing at all on the wire */
        return HS_OK;
    }
    hs_iovec_t body = HS_IOV("");
    if (hs_status_allows_body(code) && code != 205) { /* RFC 9110 §15.3.6: no content in a 205 */
        if (api_wants_json(req)) {
            hs_buf_t b = {0};
            hs_buf_printf(&b, "{\"code\": %d, \"description\": ", code);
            hs_json_str(&b, info->reason, strlen(info->reason));
            HS_BUF_LIT(&b, "}\n");
            body = hs_iov(hs_arena_strndup(&req->arena, b.base, b.len), b.len);
            hs_buf_free(&b);
            req->content_type = "application/json";
        } else {
            body = hs_arena_printf(&req->arena, "%d %s", code, info->reason);
            req->content_type = "text/plain; charset=utf-8";
        }
    }
    if (code == 206) {
        /* a real partial response: bytes 0-9 of a 100-byte representation */
        body = HS_IOV("0123456789");
        req->content_type = "text/plain; charset=utf-8";
        if (!hs_res_find_header(req, "content-range"))
            HS_RES_HEADER(req, "Content-Range", "bytes 0-9/100");
    }
    if (code == 226 && body.len) {
        /* RFC 3229: the instance-manipulation named by IM was applied to the body */
        hs_buf_t z = {0};
        if (api_compress(API_ENC_GZIP, body.base, body.len, &z)) {
            char *p = hs_arena_alloc(&req->arena, z.len);
            memcpy(p, z.base, z.len);
            body = hs_iov(p, z.len);
        }
        hs_buf_free(&z);
    }
    api_add_status_headers(req, code, body.len);
    if (body.len)
        hs_res_body(req, body.base, body.len);
    return hs_res_send(req, code);
}

static void on_sleep_done(hs_req_t *req)
{
    respond(req, *(int *)API_CTX(req));
}

/* Parse "200", "200,500" or "200:0.8,500:0.2" and pick one. 0 after answering 400. */
static int choose(hs_req_t *req, hs_iovec_t spec)
{
    int codes[64];
    double weights[64], total = 0;
    size_t n = 0, i = 0;
    if (spec.len == 0)
        return api_fail(req, 400,
                        "expected /status/{code}, e.g. /status/418, /status/200,500 or /status/200:0.8,500:0.2"),
               0;
    while (i <= spec.len) {
        size_t s = i;
        while (i < spec.len && spec.base[i] != ',')
            i++;
        hs_iovec_t item = hs_iov(spec.base + s, i - s);
        i++;
        if (n == HS_ARRAY_SIZE(codes))
            return api_fail(req, 400, "at most %zu codes may be listed", HS_ARRAY_SIZE(codes)), 0;
        const char *colon = memchr(item.base, ':', item.len);
        hs_iovec_t c = colon ? hs_iov(item.base, (size_t)(colon - item.base)) : item;
        int code = 0;
        bool ok = c.len == 3;
        for (size_t k = 0; ok && k < 3; k++) {
            ok = c.base[k] >= '0' && c.base[k] <= '9';
            code = code * 10 + (c.base[k] - '0');
        }
        if (!ok)
            return api_fail(req, 400, "'%.*s' is not a three-digit status code", (int)HS_MIN(c.len, 32), c.base), 0;
        if (!hs_status_get(code))
            return api_fail(req, 400, "%d is not in the status registry (see /codes)", code), 0;
        double w = 1;
        if (colon) {
            char tmp[32];
            size_t wl = item.len - c.len - 1;
            if (wl == 0 || wl >= sizeof(tmp))
                return api_fail(req, 400, "the weight of %d must be a number such as 0.25", code), 0;
            memcpy(tmp, colon + 1, wl);
            tmp[wl] = '\0';
            char *end;
            w = strtod(tmp, &end);
            if (*end || !isfinite(w) || w < 0 || (tmp[0] < '0' || tmp[0] > '9'))
                return api_fail(req, 400, "the weight of %d must be a non-negative number, got '%s'", code, tmp), 0;
        }
        codes[n] = code;
        weights[n++] = w;
        total += w;
    }
    if (n == 1)
        return codes[0];
    if (total <= 0)
        return api_fail(req, 400, "the weights add up to zero: nothing can be chosen"), 0;
    double r = hs_random_unit() * total;
    for (size_t k = 0; k < n; k++) {
        if (r < weights[k])
            return codes[k];
        r -= weights[k];
    }
    for (size_t k = n; k-- > 0;)
        if (weights[k] > 0)
            return codes[k];
    return codes[n - 1];
}

int api_r_status(hs_req_t *req, hs_iovec_t rest)
{
    int code = choose(req, rest);
    if (code == 0)
        return HS_OK;
    const hs_status_info_t *info = hs_status_get(code);
    if (code == 101)
        return api_fail(req, 400,
                        "101 Switching Protocols only happens through a real protocol upgrade: open a WebSocket "
                        "at %s/websocket/echo",
                        API_PREFIX(req));
    if ((info->flags & HS_SF_LOGONLY) && code != 444)
        return api_fail(req, 400,
                        "%d %s is log-only: servers record it in their access log but never send it on the wire, so "
                        "it cannot be asked for. %s",
                        code, info->reason, info->summary ? info->summary : "");

    /* how long to wait: ?sleep=MS or X-HttpStatus-Sleep: MS (httpstat.us) */
    uint64_t sleep_ms = 0;
    hs_iovec_t hv = hs_req_header_named(req, "x-httpstatus-sleep");
    if (hv.base) {
        if (hs_parse_duration_in(hv, 1, &sleep_ms) != HS_OK)
            return api_fail(req, 400, "X-HttpStatus-Sleep must be a number of milliseconds, got '%.*s'",
                            (int)HS_MIN(hv.len, 64), hv.base);
        if (!api_check_duration(req, "X-HttpStatus-Sleep", sleep_ms))
            return HS_OK;
    }
    if (!api_arg_ms(req, "sleep", 1, sleep_ms, &sleep_ms))
        return HS_OK;

    /* X-HttpStatus-Response-{Name}: value → {Name}: value */
    static const char pfx[] = "x-httpstatus-response-";
    for (size_t i = 0; i < req->p.num_headers; i++) {
        hs_header_t *h = &req->p.headers[i];
        if (h->name.len <= sizeof(pfx) - 1 || strncasecmp(h->name.base, pfx, sizeof(pfx) - 1) != 0)
            continue;
        hs_iovec_t name = hs_iov(h->name.base + sizeof(pfx) - 1, h->name.len - (sizeof(pfx) - 1));
        if (!api_header_settable(req, name, h->value))
            return HS_OK;
        if (HS_IOV_IEQ(name, "content-type"))
            continue; /* the body's type is ours; it follows Accept */
        hs_res_header(req, name, h->value);
    }

    if (code >= 100 && code < 200) {
        /* a real interim response now (not to HTTP/1.0: hs_res_interim declines), the final
         * 200 after the optional sleep */
        hs_res_header_t link = {HS_IOV("Link"),
                                hs_arena_printf(&req->arena, "<%s/image/svg>; rel=preload; as=image", API_PREFIX(req))};
        bool hints = code == 103;
        if (hs_res_interim(req, code, hints ? &link : NULL, hints ? 1 : 0) == HS_ERROR)
            return HS_AGAIN; /* the client is gone: the connection logs 499 and closes */
        if (hints)           /* RFC 8297 §2: the final response carries the hints it confirms */
            hs_res_header(req, link.name, link.value);
        code = 200;
    }
    if (sleep_ms > 0) {
        int *p = hs_arena_alloc(&req->arena, sizeof(int));
        *p = code;
        API_SET_CTX(req, p);
        hs_req_set_timer(req, sleep_ms, on_sleep_done);
        return HS_AGAIN;
    }
    return respond(req, code);
}
