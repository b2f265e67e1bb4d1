/* statusd — policy: the IETF RateLimit fields for rate limits and byte budgets.
 *
 * The fields follow draft-ietf-httpapi-ratelimit-headers-10 (September 2025), whose syntax has
 * been stable since -08: both are Structured Field Lists (RFC 9651 §3.1) of Items whose value is
 * a String naming the policy:
 *   RateLimit-Policy: "api";q=100;w=60                          (§3: quota q in window w seconds)
 *   RateLimit-Policy: "egress";q=1000000;qu="content-bytes";w=3600   (§3.1.2: the quota unit)
 *   RateLimit: "api";r=0;t=3                                    (§4: r remaining, t seconds until
 *                                                                more quota, delay-seconds)
 * What statusd says, and why:
 *   - q and w are the rule as the operator wrote it (`rate: 100r/m` → q=100;w=60): the long-run
 *     rate, which is what a client pacing itself needs; the burst is not a quota of its own;
 *   - r is exact: how many requests would be admitted now, back to back (the GCRA room), and t
 *     the whole seconds, rounded up, until r grows — omitted when r is at capacity (nothing more
 *     is coming, and t is optional, §4.1);
 *   - on a refusal t equals Retry-After, which §6 requires to be no earlier than the reset;
 *   - §6 lets a server send RateLimit only near exhaustion; statusd sends it on refusals and when
 *     a quarter or less of the capacity is left (hs__policy_rate_near), so that a client far from
 *     the limit pays no bytes for it.
 * Names are restricted to [A-Za-z0-9._-] so they never need escaping in an sf-string. */
#define _GNU_SOURCE
#include "policy.h"

bool hs__policy_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > HS_POLICY_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

typedef struct out_s {
    char *p, *end;
    bool overflow;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if ((size_t)(o->end - o->p) < n) {
        o->overflow = true;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

static void put_u64(out_t *o, uint64_t v)
{
    char b[20];
    put(o, b, (size_t)(hs_fmt_u64(b, v) - b));
}

static void put_name(out_t *o, const char *name)
{
    put(o, "\"", 1);
    put(o, name, strlen(name));
    put(o, "\"", 1);
}

static size_t done(out_t *o, char *out)
{
    if (o->overflow || o->p == o->end) {
        if (o->end > out)
            out[0] = '\0';
        return 0;
    }
    *o->p = '\0';
    return (size_t)(o->p - out);
}

size_t hs__policy_rate_policy_item(char *out, size_t n, const hs_gcra_t *g)
{
    out_t o = {out, out + n, false};
    put_name(&o, g->name);
    put(&o, ";q=", 3);
    put_u64(&o, g->count);
    put(&o, ";w=", 3);
    put_u64(&o, g->period_s);
    return done(&o, out);
}

size_t hs__policy_rate_item(char *out, size_t n, const hs_gcra_t *g, const hs_limit_result_t *r)
{
    out_t o = {out, out + n, false};
    put_name(&o, g->name);
    put(&o, ";r=", 3);
    put_u64(&o, r->remaining);
    uint64_t t = r->allowed ? r->reset_ns : r->retry_after_ns;
    if (t != 0 && t != UINT64_MAX) {
        put(&o, ";t=", 3);
        put_u64(&o, hs_ns_to_delay_seconds(t));
    }
    return done(&o, out);
}

bool hs__policy_rate_near(const hs_gcra_t *g, const hs_limit_result_t *r)
{
    return !r->allowed || (uint64_t)r->remaining * 4 <= g->capacity;
}

size_t hs__policy_budget_policy_item(char *out, size_t n, const hs_budget_t *b)
{
    out_t o = {out, out + n, false};
    put_name(&o, b->name);
    put(&o, ";q=", 3);
    put_u64(&o, b->bytes);
    put(&o, ";qu=\"content-bytes\";w=", 22);
    put_u64(&o, (b->period_ms + 999) / 1000);
    return done(&o, out);
}

size_t hs__policy_budget_item(char *out, size_t n, const hs_budget_t *b, const hs_budget_result_t *r)
{
    out_t o = {out, out + n, false};
    put_name(&o, b->name);
    put(&o, ";r=", 3);
    put_u64(&o, r->remaining);
    put(&o, ";t=", 3);
    put_u64(&o, hs_ns_to_delay_seconds(r->reset_ms * HS_NS_PER_MS));
    return done(&o, out);
}
