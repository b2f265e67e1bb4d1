/* statusd — client-testing API: cookies (httpbin) and sessions (440).
 *   /cookies                     {"cookies": {name: value}} from the Cookie field
 *   /cookies/set?k=v             302 to /cookies with Set-Cookie: k=v
 *   /cookies/set/{k}/{v}         the same for one cookie
 *   /cookies/delete?k            302 to /cookies with Set-Cookie expiring k
 *   POST /session/login?ttl=S    sets a session cookie valid for S seconds (default 60)
 *   GET  /session                200 while the session is valid, 440 Login Time-out once it has
 *                                expired, 401 without a session cookie
 *   POST /session/logout         removes the cookie (204)
 * The session cookie carries its expiry and an HMAC, so expiry is checked by the server (the
 * cookie itself has no Max-Age: a client that keeps it past its time gets the 440) and any
 * worker can verify it. */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>
#include <stdlib.h>

#define SESSION_COOKIE "statusd_session"

/* RFC 6265 §4.1.1: cookie-name is a token; cookie-value is *cookie-octet, or the same wrapped in
 * double quotes (set as given, quotes included). */
static bool cookie_ok(hs_req_t *req, hs_iovec_t name, hs_iovec_t value)
{
    bool ok = name.len > 0;
    for (size_t i = 0; ok && i < name.len; i++) {
        unsigned char c = (unsigned char)name.base[i];
        ok = c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
    }
    hs_iovec_t octets = value;
    if (value.len >= 2 && value.base[0] == '"' && value.base[value.len - 1] == '"')
        octets = hs_iov(value.base + 1, value.len - 2);
    for (size_t i = 0; ok && i < octets.len; i++) {
        unsigned char c = (unsigned char)octets.base[i];
        ok = c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
    }
    if (!ok)
        api_fail(req, 400,
                 "'%.*s=%.*s' is not a cookie that can be set (RFC 6265 §4.1.1: a token name and a value "
                 "without spaces, quotes, commas, semicolons or backslashes)",
                 (int)HS_MIN(name.len, 64), name.base, (int)HS_MIN(value.len, 64), value.base);
    return ok;
}

/* The request's cookies, from every Cookie field, in order. */
static size_t request_cookies(hs_req_t *req, api_kv_t **out)
{
    size_t cap = 8, n = 0;
    api_kv_t *kv = hs_arena_alloc(&req->arena, cap * sizeof(*kv));
    for (size_t h = 0; h < req->p.num_headers; h++) {
        if (req->p.headers[h].token != HS_HDR_COOKIE)
            continue;
        hs_iovec_t v = req->p.headers[h].value;
        size_t i = 0;
        while (i < v.len) {
            while (i < v.len && (v.base[i] == ' ' || v.base[i] == ';'))
                i++;
            size_t s = i;
            while (i < v.len && v.base[i] != ';')
                i++;
            hs_iovec_t pair = hs_iov(v.base + s, i - s);
            while (pair.len && pair.base[pair.len - 1] == ' ')
                pair.len--;
            if (!pair.len)
                continue;
            const char *eq = memchr(pair.base, '=', pair.len);
            if (n == cap) {
                api_kv_t *nk = hs_arena_alloc(&req->arena, 2 * cap * sizeof(*kv));
                memcpy(nk, kv, n * sizeof(*kv));
                kv = nk;
                cap *= 2;
            }
            kv[n].key = eq ? hs_iov(pair.base, (size_t)(eq - pair.base)) : HS_IOV("");
            kv[n].value = eq ? hs_iov(eq + 1, pair.len - kv[n].key.len - 1) : pair;
            if (kv[n].value.len >= 2 && kv[n].value.base[0] == '"' && kv[n].value.base[kv[n].value.len - 1] == '"')
                kv[n].value = hs_iov(kv[n].value.base + 1, kv[n].value.len - 2);
            n++;
        }
    }
    *out = kv;
    return n;
}

bool api_cookie(hs_req_t *req, const char *name, hs_iovec_t *out)
{
    api_kv_t *kv;
    size_t n = request_cookies(req, &kv);
    for (size_t i = 0; i < n; i++) {
        if (hs_iov_eq(kv[i].key, name, strlen(name))) {
            *out = kv[i].value;
            return true;
        }
    }
    return false;
}

int api_r_cookies(hs_req_t *req, hs_iovec_t rest)
{
    api_kv_t *kv;
    size_t n = request_cookies(req, &kv);
    /* a later cookie of the same name does not win: the first (most specific path) does */
    hs_buf_t b = {0};
    HS_BUF_LIT(&b, "{\n  \"cookies\": {");
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = hs_iov_eq(kv[j].key, kv[i].key.base, kv[i].key.len);
        if (seen)
            continue;
        if (!first)
            HS_BUF_LIT(&b, ", ");
        first = false;
        api_json_bytes(&b, kv[i].key.base, kv[i].key.len, "text/plain");
        HS_BUF_LIT(&b, ": ");
        api_json_bytes(&b, kv[i].value.base, kv[i].value.len, "text/plain");
    }
    HS_BUF_LIT(&b, "}\n}\n");
    return api_send_buf(req, 200, &b, "application/json");
}

static int to_cookies(hs_req_t *req)
{
    hs_res_header(req, HS_IOV("Location"), api_path(req, "/cookies"));
    return hs_res_send(req, 302);
}

int api_r_cookies_set(hs_req_t *req, hs_iovec_t rest)
{
    api_kv_t *kv;
    size_t n = api_parse_urlencoded(&req->arena, req->p.query, &kv);
    for (size_t i = 0; i < n; i++)
        if (!cookie_ok(req, kv[i].key, kv[i].value))
            return HS_OK;
    for (size_t i = 0; i < n; i++)
        hs_res_headerf(req, "Set-Cookie", "%.*s=%.*s; Path=/", (int)kv[i].key.len, kv[i].key.base, (int)kv[i].value.len,
                       kv[i].value.base);
    return to_cookies(req);
}

int api_r_cookies_set_path(hs_req_t *req, hs_iovec_t rest)
{
    const char *slash = memchr(rest.base, '/', rest.len);
    if (!slash)
        return api_fail(req, 400, "expected /cookies/set/{name}/{value}");
    hs_iovec_t name = hs_pct_decode_arena(&req->arena, hs_iov(rest.base, (size_t)(slash - rest.base)), 0);
    hs_iovec_t value =
        hs_pct_decode_arena(&req->arena, hs_iov(slash + 1, rest.len - (size_t)(slash - rest.base) - 1), 0);
    if (!cookie_ok(req, name, value))
        return HS_OK;
    hs_res_headerf(req, "Set-Cookie", "%.*s=%.*s; Path=/", (int)name.len, name.base, (int)value.len, value.base);
    return to_cookies(req);
}

int api_r_cookies_delete(hs_req_t *req, hs_iovec_t rest)
{
    api_kv_t *kv;
    size_t n = api_parse_urlencoded(&req->arena, req->p.query, &kv);
    for (size_t i = 0; i < n; i++)
        if (!cookie_ok(req, kv[i].key, HS_IOV("")))
            return HS_OK;
    for (size_t i = 0; i < n; i++)
        hs_res_headerf(req, "Set-Cookie", "%.*s=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/",
                       (int)kv[i].key.len, kv[i].key.base);
    return to_cookies(req);
}

/* ---- sessions ---- */
int api_r_session_login(hs_req_t *req, hs_iovec_t rest)
{
    uint64_t ttl;
    hs_iovec_t v;
    if (!api_query(req, "ttl", &v)) {
        ttl = 60000;
    } else if (hs_parse_duration_in(v, 1000, &ttl) != HS_OK || ttl == 0 || ttl > 86400000) {
        return api_fail(req, 400, "ttl must be a duration between 1ms and 1 day (seconds, or with ms/s/m), got '%.*s'",
                        (int)HS_MIN(v.len, 32), v.base);
    }
    char exp[17], mac[33];
    snprintf(exp, sizeof(exp), "%016llx", (unsigned long long)(api_now_ms(req) + ttl));
    hs_mac_hex(exp, 16, mac, 32);
    hs_res_headerf(req, "Set-Cookie", SESSION_COOKIE "=%s.%s; Path=/; HttpOnly; SameSite=Lax", exp, mac);
    hs_buf_t b = {0};
    hs_buf_printf(&b, "{\n  \"session\": \"%s.%s\",\n  \"expires_in\": %.3f\n}\n", exp, mac, (double)ttl / 1000);
    return api_send_buf(req, 200, &b, "application/json");
}

int api_r_session_logout(hs_req_t *req, hs_iovec_t rest)
{
    HS_RES_HEADER(req, "Set-Cookie", SESSION_COOKIE "=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/");
    return hs_res_send(req, 204);
}

int api_r_session(hs_req_t *req, hs_iovec_t rest)
{
    api_kv_t *kv;
    size_t n = request_cookies(req, &kv);
    hs_iovec_t tok = HS_IOV_NULL;
    for (size_t i = 0; i < n && !tok.base; i++)
        if (HS_IOV_EQ(kv[i].key, SESSION_COOKIE))
            tok = kv[i].value;
    const char *why = "no session: POST to the login endpoint first";
    if (tok.base) {
        char mac[33], exp[17];
        if (tok.len == 16 + 1 + 32 && tok.base[16] == '.') {
            memcpy(exp, tok.base, 16);
            exp[16] = '\0';
            hs_mac_hex(exp, 16, mac, 32);
            if (memcmp(mac, tok.base + 17, 32) == 0) {
                uint64_t until = strtoull(exp, NULL, 16), now = api_now_ms(req);
                if (now >= until)
                    return api_fail(req, 440, "the session expired %.3f s ago; log in again (POST %s/session/login)",
                                    (double)(now - until) / 1000, API_PREFIX(req));
                hs_buf_t b = {0};
                hs_buf_printf(&b, "{\n  \"session\": \"valid\",\n  \"expires_in\": %.3f\n}\n",
                              (double)(until - now) / 1000);
                return api_send_buf(req, 200, &b, "application/json");
            }
        }
        why = "the session cookie was not issued by this server (or by an earlier run of it)";
    }
    hs_res_headerf(req, "WWW-Authenticate",
                   "Cookie realm=\"statusd\", form-action=\"%s/session/login\", cookie-name=\"" SESSION_COOKIE "\"",
                   API_PREFIX(req));
    return api_fail(req, 401, "%s", why);
}
