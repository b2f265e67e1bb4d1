/* statusd — client-testing API helpers: query strings, JSON, base64, durations, caps, randomness
 * and stateless tokens. See api.h for the contracts. */
#define _GNU_SOURCE
#include "api.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

/* ---- percent-decoding and form/query pairs ---- */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

hs_iovec_t api_pct_decode(hs_arena_t *a, hs_iovec_t in, bool plus)
{
    char *out = hs_arena_alloc(a, in.len + 1);
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        char c = in.base[i];
        if (c == '+' && plus) {
            c = ' ';
        } else if (c == '%' && i + 2 < in.len) {
            int h = hexval(in.base[i + 1]), l = hexval(in.base[i + 2]);
            if (h >= 0 && l >= 0) {
                c = (char)(h * 16 + l);
                i += 2;
            }
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return hs_iov(out, n);
}

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
        kv[n].key = api_pct_decode(a, k, true);
        kv[n].value = api_pct_decode(a, v.base ? v : HS_IOV(""), true);
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
        hs_iovec_t kd = api_pct_decode(&req->arena, k, true);
        if (kd.len != nlen || memcmp(kd.base, name, nlen) != 0)
            continue;
        *out = v.base ? api_pct_decode(&req->arena, v, true) : HS_IOV("");
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

bool api_utf8_valid(const unsigned char *p, size_t n)
{
    /* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF */
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

void api_json_bytes(hs_buf_t *b, const char *p, size_t n, const char *ctype)
{
    if (api_utf8_valid((const unsigned char *)p, n)) {
        hs_json_str(b, p ? p : "", n);
        return;
    }
    hs_buf_printf(b, "\"data:%s;base64,", ctype ? ctype : "application/octet-stream");
    size_t need = 4 * ((n + 2) / 3);
    if (hs_buf_reserve(b, need + 2, SIZE_MAX / 2) != HS_OK)
        abort();
    b->len += api_b64_encode(p, n, b->base + b->len);
    HS_BUF_LIT(b, "\"");
}

/* A strict recursive-descent JSON validator (RFC 8259) with a depth limit. */
typedef struct {
    const unsigned char *p, *end;
    int depth;
} jv_t;

static void jv_ws(jv_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool jv_value(jv_t *j);

static bool jv_lit(jv_t *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool jv_string(jv_t *j)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    const unsigned char *start = ++j->p;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = *j->p;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end)
                return false;
            c = *j->p;
            if (c == 'u') {
                if (j->end - j->p < 5)
                    return false;
                for (int k = 1; k <= 4; k++)
                    if (hexval((char)j->p[k]) < 0)
                        return false;
                j->p += 4;
            } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
                return false;
            }
        }
        j->p++;
    }
    if (j->p >= j->end)
        return false;
    if (!api_utf8_valid(start, (size_t)(j->p - start)))
        return false;
    j->p++;
    return true;
}

static bool jv_number(jv_t *j)
{
    const unsigned char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end)
        return false;
    if (*j->p == '0') {
        j->p++;
    } else if (*j->p >= '1' && *j->p <= '9') {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    } else {
        return false;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        const unsigned char *d = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
        if (j->p == d)
            return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        const unsigned char *d = j->p;
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
        if (j->p == d)
            return false;
    }
    return j->p > s;
}

static bool jv_container(jv_t *j, char close)
{
    if (++j->depth > 64)
        return false;
    j->p++;
    jv_ws(j);
    if (j->p < j->end && *j->p == (unsigned char)close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        jv_ws(j);
        if (close == '}') {
            if (!jv_string(j))
                return false;
            jv_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return false;
            j->p++;
        }
        if (!jv_value(j))
            return false;
        jv_ws(j);
        if (j->p >= j->end)
            return false;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p != (unsigned char)close)
            return false;
        j->p++;
        j->depth--;
        return true;
    }
}

static bool jv_value(jv_t *j)
{
    jv_ws(j);
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{': return jv_container(j, '}');
    case '[': return jv_container(j, ']');
    case '"': return jv_string(j);
    case 't': return jv_lit(j, "true");
    case 'f': return jv_lit(j, "false");
    case 'n': return jv_lit(j, "null");
    default: return jv_number(j);
    }
}

bool api_json_valid(const char *p, size_t n)
{
    if (!p || n == 0)
        return false;
    jv_t j = {(const unsigned char *)p, (const unsigned char *)p + n, 0};
    if (!jv_value(&j))
        return false;
    jv_ws(&j);
    return j.p == j.end;
}

/* ---- base64 ---- */
static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t api_b64_encode(const void *in, size_t n, char *out)
{
    const unsigned char *p = in;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64std[v >> 18];
        out[o++] = b64std[(v >> 12) & 63];
        out[o++] = b64std[(v >> 6) & 63];
        out[o++] = b64std[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = b64std[v >> 18];
        out[o++] = b64std[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = b64std[v >> 18];
        out[o++] = b64std[(v >> 12) & 63];
        out[o++] = b64std[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

static int b64val(char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

bool api_b64_decode(hs_iovec_t in, bool url, unsigned char *out, size_t *outlen)
{
    size_t len = in.len;
    while (len > 0 && in.base[len - 1] == '=')
        len--;
    if (in.len - len > 2 || (in.len != len && in.len % 4 != 0) || len % 4 == 1)
        return false;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val(in.base[i], url);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return false; /* non-canonical trailing bits */
    *outlen = o;
    return true;
}

/* ---- numbers and durations ---- */
bool api_parse_u64(hs_iovec_t v, uint64_t *out)
{
    if (!v.base || v.len == 0 || v.len > 19)
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return false;
        n = n * 10 + (uint64_t)(v.base[i] - '0');
    }
    *out = n;
    return true;
}

bool api_parse_ms(hs_iovec_t v, uint64_t unit_ms, uint64_t *out_ms)
{
    if (!v.base || v.len == 0 || v.len > 32)
        return false;
    size_t i = 0;
    double whole = 0, frac = 0, scale = 1;
    bool digits = false;
    while (i < v.len && v.base[i] >= '0' && v.base[i] <= '9') {
        whole = whole * 10 + (v.base[i++] - '0');
        digits = true;
    }
    if (i < v.len && v.base[i] == '.') {
        i++;
        while (i < v.len && v.base[i] >= '0' && v.base[i] <= '9') {
            scale /= 10;
            frac += (v.base[i++] - '0') * scale;
            digits = true;
        }
    }
    if (!digits)
        return false;
    hs_iovec_t unit = hs_iov(v.base + i, v.len - i);
    double mult = (double)unit_ms;
    if (unit.len == 0)
        mult = (double)unit_ms;
    else if (HS_IOV_EQ(unit, "ms"))
        mult = 1;
    else if (HS_IOV_EQ(unit, "s"))
        mult = 1000;
    else if (HS_IOV_EQ(unit, "m"))
        mult = 60000;
    else
        return false;
    double ms = (whole + frac) * mult;
    if (ms > 1e15)
        return false;
    *out_ms = (uint64_t)(ms + 0.5);
    return true;
}

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
    if (ms <= api_cfg->api_max_duration)
        return true;
    api_fail(req, 400, "%s asks for %s, over the API's cap --api-max-duration (%s)", what, fmt_ms(req, ms),
             fmt_ms(req, api_cfg->api_max_duration));
    return false;
}

bool api_check_bytes(hs_req_t *req, const char *what, uint64_t n)
{
    if (n <= api_cfg->api_max_bytes)
        return true;
    api_fail(req, 400, "%s asks for %llu bytes, over the API's cap --api-max-bytes (%s)", what, (unsigned long long)n,
             fmt_size(req, api_cfg->api_max_bytes));
    return false;
}

bool api_arg_u64(hs_req_t *req, const char *name, uint64_t def, uint64_t max, uint64_t *out)
{
    hs_iovec_t v;
    if (!api_query(req, name, &v)) {
        *out = def;
        return true;
    }
    if (!api_parse_u64(v, out)) {
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
    if (!api_parse_ms(v, unit_ms, out_ms)) {
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
    return hs_arena_printf(&req->arena, "%s%s", api_prefix, rest.base);
}

hs_iovec_t api_host(hs_req_t *req)
{
    if (req->meta.host.len)
        return req->meta.host;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char name[INET6_ADDRSTRLEN] = "localhost";
    int port = 80;
    if (getsockname(req->conn->sock.io.fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, name, sizeof(name));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            char v6[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, v6, sizeof(v6));
            snprintf(name, sizeof(name), "[%.*s]", (int)sizeof(name) - 3, v6);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    return hs_arena_printf(&req->arena, "%s:%d", name, port);
}

hs_iovec_t api_origin(hs_req_t *req)
{
    hs_iovec_t xff = hs_req_header_named(req, "x-forwarded-for");
    if (xff.base && xff.len)
        return xff;
    char peer[64];
    hs__peer_name(req->conn, peer, sizeof(peer));
    return hs_iov(hs_arena_strndup(&req->arena, peer, strlen(peer)), strlen(peer));
}

hs_iovec_t api_url(hs_req_t *req)
{
    if (req->p.form == HS_TARGET_ABSOLUTE)
        return req->p.target;
    hs_iovec_t host = api_host(req);
    return hs_arena_printf(&req->arena, "http://%.*s%.*s", (int)host.len, host.base, (int)req->p.target.len,
                           req->p.target.base);
}

/* ---- randomness and tokens ---- */
void api_random(void *p, size_t n)
{
    if (RAND_bytes(p, (int)n) != 1) {
        /* RAND_bytes only fails when the system has no entropy source: unusable */
        hs_log_error("RAND_bytes failed");
        abort();
    }
}

double api_random_unit(void)
{
    uint64_t v;
    api_random(&v, sizeof(v));
    return (double)(v >> 11) / (double)(1ULL << 53);
}

uint64_t api_prng_next(api_prng_t *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void api_prng_fill(api_prng_t *g, unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint64_t v = api_prng_next(g);
        for (int k = 0; k < 8 && i < n; k++, v >>= 8)
            p[i++] = (unsigned char)v;
    }
}

static unsigned char mac_key[32];
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;

static void mac_key_init(void)
{
    api_random(mac_key, sizeof(mac_key));
}

void api_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void api_mac_hex(const void *data, size_t n, char *out, size_t hexlen)
{
    pthread_once(&mac_once, mac_key_init);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), mac_key, sizeof(mac_key), data, n, md, &mdlen);
    char full[2 * EVP_MAX_MD_SIZE + 1];
    api_hex(md, mdlen, full);
    if (hexlen > 2 * (size_t)mdlen)
        hexlen = 2 * (size_t)mdlen;
    memcpy(out, full, hexlen);
    out[hexlen] = '\0';
}
