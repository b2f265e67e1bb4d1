/* statusd — client-testing API helpers: query arguments, httpbin's JSON shapes, caps, responses
 * and the URL clients used. The generic pieces (codecs, JSON, durations, addresses, randomness)
 * are the engine's (src/core, src/http). See api.h for the contracts. */
#define _GNU_SOURCE
#include "api.h"
#include "hs/cidr.h"
#include "hs/fields.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- form/query pairs ---- */
size_t api_parse_urlencoded(hs_arena_t *a, hs_iovec_t s, api_kv_t **out)
{
    size_t count = 0;
    for (size_t i = 0; s.base && i < s.len; i++)
        if (s.base[i] == '&')
            count++;
    api_kv_t *kv = hs_arena_alloc(a, (count + 1) * sizeof(*kv));
    size_t n = 0, pos = 0;
    hs_iovec_t k, v;
    while (hs_form_next(s, &pos, &k, &v)) {
        kv[n].key = hs_pct_decode_arena(a, k, HS_PCT_PLUS);
        kv[n].value = hs_pct_decode_arena(a, v.base ? v : HS_IOV(""), HS_PCT_PLUS);
        n++;
    }
    *out = kv;
    return n;
}

bool api_query(hs_req_t *req, const char *name, hs_iovec_t *out)
{
    size_t nlen = strlen(name), pos = 0;
    hs_iovec_t k, v;
    while (hs_form_next(req->p.query, &pos, &k, &v)) {
        hs_iovec_t kd = hs_pct_decode_arena(&req->arena, k, HS_PCT_PLUS);
        if (kd.len != nlen || memcmp(kd.base, name, nlen) != 0)
            continue;
        *out = v.base ? hs_pct_decode_arena(&req->arena, v, HS_PCT_PLUS) : HS_IOV("");
        return true;
    }
    return false;
}

/* ---- JSON ---- */
/* Pairs are grouped by key in O(n log n): a form body of millions of fields must not turn into
 * a quadratic loop. Keys keep the order of their first appearance, values their own order. */
static _Thread_local const api_kv_t *sort_kv; /* qsort has no context argument */

static int by_key_then_index(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    hs_iovec_t x = sort_kv[i].key, y = sort_kv[j].key;
    int c = memcmp(x.base, y.base, HS_MIN(x.len, y.len));
    if (c == 0 && x.len != y.len)
        c = x.len < y.len ? -1 : 1;
    if (c == 0)
        c = i < j ? -1 : i > j;
    return c;
}

static int by_first_index(const void *a, const void *b)
{
    size_t i = ((const size_t *)a)[0], j = ((const size_t *)b)[0];
    return i < j ? -1 : i > j;
}

void api_json_pairs(hs_buf_t *b, const api_kv_t *kv, size_t n)
{
    HS_BUF_LIT(b, "{");
    size_t *order = hs_malloc((n ? n : 1) * sizeof(size_t));
    size_t(*groups)[3] = hs_malloc((n ? n : 1) * sizeof(*groups)); /* first index, start, end in order[] */
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    sort_kv = kv;
    qsort(order, n, sizeof(size_t), by_key_then_index);
    size_t ng = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && hs_iov_eq(kv[order[j]].key, kv[order[i]].key.base, kv[order[i]].key.len))
            j++;
        groups[ng][0] = order[i];
        groups[ng][1] = i;
        groups[ng][2] = j;
        ng++;
        i = j;
    }
    qsort(groups, ng, sizeof(*groups), by_first_index);
    for (size_t g = 0; g < ng; g++) {
        const api_kv_t *k0 = &kv[groups[g][0]];
        if (g)
            HS_BUF_LIT(b, ", ");
        api_json_bytes(b, k0->key.base, k0->key.len, "text/plain");
        HS_BUF_LIT(b, ": ");
        size_t s0 = groups[g][1], e0 = groups[g][2];
        if (e0 - s0 == 1) {
            api_json_bytes(b, k0->value.base, k0->value.len, "text/plain");
            continue;
        }
        HS_BUF_LIT(b, "[");
        for (size_t k = s0; k < e0; k++) {
            if (k > s0)
                HS_BUF_LIT(b, ", ");
            api_json_bytes(b, kv[order[k]].value.base, kv[order[k]].value.len, "text/plain");
        }
        HS_BUF_LIT(b, "]");
    }
    free(order);
    free(groups);
    HS_BUF_LIT(b, "}");
}

void api_json_bytes(hs_buf_t *b, const char *p, size_t n, const char *ctype)
{
    if (hs_utf8_valid(p, n)) {
        hs_json_str(b, p ? p : "", n);
        return;
    }
    hs_buf_printf(b, "\"data:%s;base64,", ctype ? ctype : "application/octet-stream");
    if (hs_buf_reserve(b, HS_BASE64_LEN(n) + 2, SIZE_MAX / 2) != HS_OK)
        abort();
    b->len += hs_base64_encode(b->base + b->len, p, n, 0);
    HS_BUF_LIT(b, "\"");
}

/* ---- numbers and durations ---- */
static const char *fmt_ms(hs_req_t *req, uint64_t ms)
{
    if (ms % 1000 == 0)
        return hs_arena_printf(&req->arena, "%llus", (unsigned long long)(ms / 1000)).base;
    return hs_arena_printf(&req->arena, "%llums", (unsigned long long)ms).base;
}

static const char *fmt_size(hs_req_t *req, uint64_t n)
{
    if (n && n % (1024 * 1024) == 0)
        return hs_arena_printf(&req->arena, "%llum", (unsigned long long)(n >> 20)).base;
    if (n && n % 1024 == 0)
        return hs_arena_printf(&req->arena, "%lluk", (unsigned long long)(n >> 10)).base;
    return hs_arena_printf(&req->arena, "%llu bytes", (unsigned long long)n).base;
}

bool api_check_duration(hs_req_t *req, const char *what, uint64_t ms)
{
    if (ms <= api_conf(req)->api_max_duration)
        return true;
    hs_req_set_cause(req, API_CAUSE(API_CAUSE_CAP));
    api_fail(req, 400, "%s asks for %s, over the API's cap --api-max-duration (%s)", what, fmt_ms(req, ms),
             fmt_ms(req, api_conf(req)->api_max_duration));
    return false;
}

bool api_check_bytes(hs_req_t *req, const char *what, uint64_t n)
{
    if (n <= api_conf(req)->api_max_bytes)
        return true;
    hs_req_set_cause(req, API_CAUSE(API_CAUSE_CAP));
    api_fail(req, 400, "%s asks for %llu bytes, over the API's cap --api-max-bytes (%s)", what, (unsigned long long)n,
             fmt_size(req, api_conf(req)->api_max_bytes));
    return false;
}

bool api_arg_u64(hs_req_t *req, const char *name, uint64_t def, uint64_t max, uint64_t *out)
{
    hs_iovec_t v;
    if (!api_query(req, name, &v)) {
        *out = def;
        return true;
    }
    if (!hs_parse_u64(v, out)) {
        api_fail(req, 400, "the query parameter %s must be a non-negative integer, got '%.*s'", name,
                 (int)HS_MIN(v.len, 64), v.base);
        return false;
    }
    if (*out > max) {
        api_fail(req, 400, "the query parameter %s must be at most %llu, got %llu", name, (unsigned long long)max,
                 (unsigned long long)*out);
        return false;
    }
    return true;
}

bool api_arg_ms(hs_req_t *req, const char *name, uint64_t unit_ms, uint64_t def, uint64_t *out_ms)
{
    hs_iovec_t v;
    if (!api_query(req, name, &v)) {
        *out_ms = def;
        return true;
    }
    if (hs_parse_duration_in(v, unit_ms, out_ms) != HS_OK) {
        api_fail(req, 400, "the query parameter %s must be a duration such as %s, 250ms or 2s, got '%.*s'", name,
                 unit_ms == 1 ? "500" : "0.5", (int)HS_MIN(v.len, 64), v.base);
        return false;
    }
    return api_check_duration(req, hs_arena_printf(&req->arena, "%s=%.*s", name, (int)HS_MIN(v.len, 64), v.base).base,
                              *out_ms);
}

/* ---- responses ---- */
int api_send_mem(hs_req_t *req, int status, const void *p, size_t n, const char *ctype)
{
    if (n)
        hs_res_body(req, p, n);
    req->content_type = ctype;
    return hs_res_send(req, status);
}

int api_send_buf(hs_req_t *req, int status, hs_buf_t *b, const char *ctype)
{
    char *p = NULL;
    if (b->len) {
        p = hs_arena_alloc(&req->arena, b->len);
        memcpy(p, b->base, b->len);
    }
    size_t n = b->len;
    hs_buf_free(b);
    return api_send_mem(req, status, p, n, ctype);
}

int api_fail(hs_req_t *req, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hs_iovec_t d = hs_arena_vprintf(&req->arena, fmt, ap);
    va_end(ap);
    return hs_res_error(req, status, d.base);
}

bool api_wants_json(hs_req_t *req)
{
    static const char *const types[] = {"text/plain", "application/json"};
    return hs_negotiate_type(hs_req_header(req, HS_HDR_ACCEPT), types, 2) == 1;
}

hs_iovec_t api_path(hs_req_t *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hs_iovec_t rest = hs_arena_vprintf(&req->arena, fmt, ap);
    va_end(ap);
    return hs_arena_printf(&req->arena, "%s%s", API_PREFIX(req), rest.base);
}

hs_iovec_t api_host(hs_req_t *req)
{
    if (req->meta.host.len)
        return req->meta.host;
    struct sockaddr_storage ss;
    char name[HS_ADDR_MAX] = "localhost:80";
    if (hs_req_local_addr(req, &ss) == HS_OK && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
        hs_addr_format((const struct sockaddr *)&ss, name, sizeof(name), HS_ADDR_PORT);
    return hs_iov(hs_arena_strndup(&req->arena, name, strlen(name)), strlen(name));
}

hs_iovec_t api_origin(hs_req_t *req)
{
    hs_iovec_t xff = hs_req_header_named(req, "x-forwarded-for");
    if (xff.base && xff.len)
        return xff;
    char peer[HS_ADDR_MAX];
    size_t n = hs_addr_format(hs_req_peer_addr(req), peer, sizeof(peer), 0);
    return hs_iov(hs_arena_strndup(&req->arena, peer, n), n);
}

/* The items of a comma-separated list of CIDR blocks, one by one (*pos: the cursor, from 0). */
static bool next_cidr(const char *list, size_t *pos, hs_iovec_t *item)
{
    hs_iovec_t v = hs_iov_cstr(list);
    *item = hs_list_next(v, pos);
    return item->base != NULL;
}

const char *api_cidr_list_error(const char *list, const char **bad_at, size_t *bad_len)
{
    size_t pos = 0;
    hs_iovec_t it;
    while (list && next_cidr(list, &pos, &it)) {
        hs_cidr_t c;
        const char *why = "not an address or CIDR block";
        if (hs_cidr_parse(it, &c, &why) != HS_OK) {
            *bad_at = it.base;
            *bad_len = it.len;
            return why;
        }
    }
    return NULL;
}

/* X-Forwarded-Proto (a de facto field; RFC 7239 §5.4 "proto" is its standard form) says what the
 * client used to reach a front proxy. Anyone can send it, so it counts only from a proxy the
 * configuration trusts; the list is checked (router.c) and short, and read only when the field
 * is there. The first element is the one the first proxy wrote. */
const char *api_scheme(hs_req_t *req)
{
    const char *own = hs_req_scheme(req);
    const api_conf_t *ac = api_conf(req);
    if (!ac->trusted_proxies || !ac->trusted_proxies[0])
        return own;
    hs_iovec_t xfp = hs_req_header_named(req, "x-forwarded-proto");
    if (!xfp.base)
        return own;
    hs_ip_t peer;
    if (!hs_ip_from_sockaddr(hs_req_peer_addr(req), &peer))
        return own;
    size_t pos = 0;
    hs_iovec_t it;
    bool trusted = false;
    while (!trusted && next_cidr(ac->trusted_proxies, &pos, &it)) {
        hs_cidr_t c;
        trusted = hs_cidr_parse(it, &c, NULL) == HS_OK && hs_cidr_match(&c, &peer);
    }
    if (!trusted)
        return own;
    pos = 0;
    hs_iovec_t first = hs_list_next(xfp, &pos);
    if (first.base && HS_IOV_IEQ(first, "https"))
        return "https";
    if (first.base && HS_IOV_IEQ(first, "http"))
        return "http";
    return own;
}

hs_iovec_t api_url(hs_req_t *req)
{
    if (req->p.form == HS_TARGET_ABSOLUTE)
        return req->p.target;
    hs_iovec_t host = api_host(req);
    return hs_arena_printf(&req->arena, "%s://%.*s%.*s", api_scheme(req), (int)host.len, host.base,
                           (int)req->p.target.len, req->p.target.base);
}
