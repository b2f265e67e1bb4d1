/* statusd — what the Redis stores share: where Redis is (URLs), counters, scripts by SHA-1, the
 * RESP of EVAL/EVALSHA, and the checks of the rate-limit scripts' replies.
 *
 * Why the replies are checked so closely: a key of ours may have been written by another program
 * (a prefix shared by mistake), a script of another statusd version may be loaded under a
 * different name, or a proxy in the way may mangle a reply. The scripts return a fixed shape of
 * integers; anything else is an error of that one operation, handled by the failure policy, and
 * never trusted to admit or refuse a client. The GCRA verdict is even recomputed here from the
 * state the script saw, with the in-process store's own code, so that the RateLimit and
 * Retry-After fields are exactly those a single instance would send. */
#define _GNU_SOURCE
#include "redis.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

const uint32_t hs_redis_latency_le_us[HS_REDIS_LATENCY_BUCKETS] = {100,  250,   500,   1000,  2500,
                                                                   5000, 10000, 25000, 50000, 100000};

uint64_t hs__redis_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- URLs ---- */

static bool has_prefix(hs_iovec_t s, const char *p, size_t n)
{
    return s.len >= n && memcmp(s.base, p, n) == 0;
}

int hs_redis_url_parse(hs_iovec_t url, hs_redis_addr_t *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    if (url.base && memchr(url.base, '\0', url.len)) {
        *err = "a Redis URL has no NUL byte";
        return HS_ERROR;
    }
    if (url.base && has_prefix(url, "unix:", 5)) {
        hs_iovec_t p = hs_iov(url.base + 5, url.len - 5);
        /* unix:///path is accepted too (the form some clients write) */
        if (has_prefix(p, "//", 2) && p.len > 2 && p.base[2] == '/')
            p = hs_iov(p.base + 2, p.len - 2);
        if (!p.len || p.base[0] != '/') {
            *err = "a unix: Redis URL names an absolute path (unix:/run/redis/redis.sock)";
            return HS_ERROR;
        }
        if (p.len >= HS_REDIS_PATH_MAX) {
            *err = "the Redis socket path is too long (at most 107 bytes)";
            return HS_ERROR;
        }
        out->unix_socket = true;
        memcpy(out->path, p.base, p.len);
        return HS_OK;
    }
    if (!url.base || !has_prefix(url, "tcp://", 6)) {
        *err = "a Redis URL is unix:/PATH or tcp://HOST:PORT";
        return HS_ERROR;
    }
    hs_iovec_t hp = hs_iov(url.base + 6, url.len - 6);
    if (hp.len && hp.base[hp.len - 1] == '/')
        hp.len--; /* tcp://host:port/ */
    if (hp.len && (memchr(hp.base, '@', hp.len) || memchr(hp.base, '/', hp.len) || memchr(hp.base, '?', hp.len))) {
        *err = "a Redis URL is tcp://HOST:PORT: no user or password, database or options in it";
        return HS_ERROR;
    }
    hs_iovec_t host, port = HS_IOV_NULL;
    if (hp.len && hp.base[0] == '[') {
        const char *close = memchr(hp.base, ']', hp.len);
        if (!close) {
            *err = "an IPv6 address in a Redis URL ends with ']'";
            return HS_ERROR;
        }
        host = hs_iov(hp.base + 1, (size_t)(close - hp.base) - 1);
        size_t rest = hp.len - (size_t)(close + 1 - hp.base);
        if (rest) {
            if (close[1] != ':') {
                *err = "expected ':' and a port after the IPv6 address";
                return HS_ERROR;
            }
            port = hs_iov(close + 2, rest - 1);
        }
        struct in6_addr a6;
        char tmp[64];
        if (host.len == 0 || host.len >= sizeof(tmp)) {
            *err = "not an IPv6 address";
            return HS_ERROR;
        }
        memcpy(tmp, host.base, host.len);
        tmp[host.len] = '\0';
        if (inet_pton(AF_INET6, tmp, &a6) != 1) {
            *err = "not an IPv6 address";
            return HS_ERROR;
        }
    } else {
        const char *colon = hp.len ? memchr(hp.base, ':', hp.len) : NULL;
        host = hs_iov(hp.base, colon ? (size_t)(colon - hp.base) : hp.len);
        if (colon)
            port = hs_iov(colon + 1, hp.len - host.len - 1);
        for (size_t i = 0; i < host.len; i++) {
            char ch = host.base[i];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                  ch == '.' || ch == '_')) {
                *err = "a Redis host is a name or an address (letters, digits, '-', '.', '_'); "
                       "no user or password in the URL";
                return HS_ERROR;
            }
        }
    }
    if (!host.len || host.len >= HS_REDIS_HOST_MAX) {
        *err = "a tcp:// Redis URL names a host (tcp://127.0.0.1:6379)";
        return HS_ERROR;
    }
    uint64_t pn = 6379;
    if (port.base && (!hs_parse_u64(port, &pn) || pn == 0 || pn > 65535 || port.len > 5)) {
        *err = "a Redis port is 1 to 65535";
        return HS_ERROR;
    }
    memcpy(out->host, host.base, host.len);
    out->port = (int)pn;
    return HS_OK;
}

int hs_redis_addr_resolve(hs_redis_addr_t *a, const char **err)
{
    if (a->unix_socket || a->ip[0])
        return HS_OK;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(a->host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        *err = "the Redis host name cannot be resolved";
        return HS_ERROR;
    }
    const void *p = res->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
                                              : (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
    bool ok = inet_ntop(res->ai_family, p, a->ip, sizeof(a->ip)) != NULL;
    freeaddrinfo(res);
    if (!ok) {
        *err = "the Redis host's address cannot be used";
        return HS_ERROR;
    }
    return HS_OK;
}

void hs_redis_addr_format(const hs_redis_addr_t *a, char *out, size_t n)
{
    if (a->unix_socket) /* unix://PATH when PATH starts with "//": unix:///x would read as /x */
        snprintf(out, n, "unix:%s%s", a->path[1] == '/' ? "//" : "", a->path);
    else if (strchr(a->host, ':'))
        snprintf(out, n, "tcp://[%s]:%d", a->host, a->port);
    else
        snprintf(out, n, "tcp://%s:%d", a->host, a->port);
}

/* ---- counters ---- */

static hs__redis_counters_t lock_counters;

hs__redis_counters_t *hs__store_lock_counters(void)
{
    return &lock_counters;
}

void hs__redis_latency(hs__redis_counters_t *c, uint64_t us, bool owner)
{
    int b = 0;
    while (b < HS_REDIS_LATENCY_BUCKETS && us > hs_redis_latency_le_us[b])
        b++;
    if (owner) {
        HS__STAT_BUMP(c, latency_count, 1);
        HS__STAT_BUMP(c, latency_sum_us, us);
        HS__STAT_BUMP(c, latency_bucket[b], 1);
    } else {
        HS__STAT_ADD(c, latency_count, 1);
        HS__STAT_ADD(c, latency_sum_us, us);
        HS__STAT_ADD(c, latency_bucket[b], 1);
    }
}

#define LOAD(f) atomic_load_explicit(&c->f, memory_order_relaxed)
void hs__redis_stats_add(const hs__redis_counters_t *c, hs_redis_stats_t *out)
{
    out->ops += LOAD(ops);
    out->answered += LOAD(answered);
    out->timeouts += LOAD(timeouts);
    out->unreachable += LOAD(unreachable);
    out->bad_replies += LOAD(bad_replies);
    out->overflows += LOAD(overflows);
    out->script_errors += LOAD(script_errors);
    out->errors = out->timeouts + out->unreachable + out->bad_replies + out->overflows + out->script_errors;
    out->fallbacks += LOAD(fallbacks);
    out->refused += LOAD(refused);
    out->connects += LOAD(connects);
    out->outages += LOAD(outages);
    out->in_flight += LOAD(in_flight);
    out->up = out->up || LOAD(up);
    out->latency_count += LOAD(latency_count);
    out->latency_sum_us += LOAD(latency_sum_us);
    uint64_t cum = 0;
    for (int b = 0; b < HS_REDIS_LATENCY_BUCKETS; b++) {
        cum += LOAD(latency_bucket[b]);
        out->latency_le[b] += cum;
    }
}
#undef LOAD

/* ---- scripts ---- */

void hs__redis_script_init(hs__redis_script_t *s)
{
    if (s->sha[0])
        return;
    unsigned char d[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)s->body, strlen(s->body), d);
    char hex[41];
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    memcpy(s->sha, hex, sizeof(hex)); /* a whole copy: a racing thread writes the same bytes */
}

bool hs__redis_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && r->str && r->len >= 8 && memcmp(r->str, "NOSCRIPT", 8) == 0;
}

static void bulk(hs_buf_t *b, const char *p, size_t n)
{
    char head[32], *e = head;
    *e++ = '$';
    e = hs_fmt_u64(e, n);
    *e++ = '\r';
    *e++ = '\n';
    hs_buf_append(b, head, (size_t)(e - head));
    hs_buf_append(b, p, n);
    HS_BUF_LIT(b, "\r\n");
}

void hs__redis_format_eval(hs_buf_t *b, const hs__redis_script_t *s, bool eval, int nkeys, int nargs,
                           const hs_iovec_t *args)
{
    char head[32], *e = head, nk[12];
    *e++ = '*';
    e = hs_fmt_u64(e, (uint64_t)nargs + 3);
    *e++ = '\r';
    *e++ = '\n';
    hs_buf_append(b, head, (size_t)(e - head));
    if (eval) {
        HS_BUF_LIT(b, "$4\r\nEVAL\r\n");
        bulk(b, s->body, strlen(s->body));
    } else {
        HS_BUF_LIT(b, "$7\r\nEVALSHA\r\n$40\r\n");
        hs_buf_append(b, s->sha, 40);
        HS_BUF_LIT(b, "\r\n");
    }
    bulk(b, nk, (size_t)(hs_fmt_u64(nk, (uint64_t)nkeys) - nk));
    for (int i = 0; i < nargs; i++)
        bulk(b, args[i].base ? args[i].base : "", args[i].len);
}

/* ---- the rate-limit scripts' replies ---- */

#define ORIGIN (1ULL << 62) /* where the shifted state starts: far from 0 and from overflow */
#define AHEAD_MAX (1ULL << 62)

/* n space-separated decimal numbers (no sign, no leading zero, at most 19 digits each), the whole
 * of a string reply: one spelling per value, nothing else accepted. */
static bool numbers(const redisReply *r, uint64_t *v, int n)
{
    if (!r || r->type != REDIS_REPLY_STRING || !r->str)
        return false;
    const char *p = r->str, *e = r->str + r->len;
    for (int i = 0; i < n; i++) {
        if (i && (p >= e || *p++ != ' '))
            return false;
        const char *d = p;
        uint64_t x = 0;
        while (p < e && *p >= '0' && *p <= '9' && p - d < 19)
            x = x * 10 + (uint64_t)(*p++ - '0');
        if (p == d || (p - d > 1 && *d == '0') || (p < e && *p >= '0' && *p <= '9'))
            return false;
        v[i] = x;
    }
    return p == e;
}

int hs__redis_gcra_reply(const redisReply *r, bool *admitted, uint64_t *ahead_ns)
{
    uint64_t v[3];
    if (!numbers(r, v, 3) || v[0] > 1 || v[2] >= HS_NS_PER_SEC)
        return HS_ERROR;
    uint64_t ahead = v[1] > AHEAD_MAX / HS_NS_PER_SEC ? AHEAD_MAX : v[1] * HS_NS_PER_SEC + v[2];
    *admitted = v[0] == 1;
    *ahead_ns = ahead > AHEAD_MAX ? AHEAD_MAX : ahead;
    return HS_OK;
}

int hs__redis_gcra_result(const hs_gcra_t *g, uint32_t cost, bool admitted, uint64_t ahead_ns, hs_limit_result_t *out)
{
    /* The script saw TAT = now + ahead (or no state: ahead 0, which means the same). The same
     * step on TAT' = ORIGIN + ahead at now' = ORIGIN gives the same verdict and the same
     * remaining, reset and retry-after: they depend on TAT − now only. Overflow: ORIGIN + 2^62
     * (ahead) + 2^62 (cost·T ≤ C·T ≤ 2^62) < 2^64. */
    uint64_t tat = ORIGIN + (ahead_ns > AHEAD_MAX ? AHEAD_MAX : ahead_ns);
    bool ok = hs_gcra_step(g, &tat, ORIGIN, cost, out);
    if (cost > g->capacity) /* never asked of Redis as such: the script only looked (cost 0) */
        return admitted ? HS_OK : HS_ERROR;
    return ok == admitted ? HS_OK : HS_ERROR;
}

int hs__redis_budget_reply(const hs_budget_t *b, const redisReply *r, hs_budget_result_t *out)
{
    uint64_t v[3];
    if (!numbers(r, v, 3))
        return HS_ERROR;
    uint64_t end = v[0], now = v[1], used = v[2];
    /* the period the script used must be this budget's: it ends after now, at most one period on */
    if (now == 0 || end <= now || end - now > b->period_ms || end % b->period_ms != 0)
        return HS_ERROR;
    out->used = used;
    out->exhausted = used >= b->bytes;
    out->remaining = out->exhausted ? 0 : b->bytes - used;
    out->period_end_ms = end;
    out->reset_ms = end - now;
    return HS_OK;
}
