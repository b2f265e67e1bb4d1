/* Unit tests: the IETF RateLimit fields (src/modules/policy/limit.c,
 * draft-ietf-httpapi-ratelimit-headers-10 §3 and §4) from real limiter and budget results. */
#define _GNU_SOURCE
#include "../../../src/modules/policy/policy.h"
#include "hs/forwarded.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* What the access phase of a path with an `allow` rule and a `limit` rule will do per request:
 * the peer's address from its socket address, the first matching rule, one GCRA step in the
 * shared store keyed by the address, and the near-limit test (plus the RateLimit item when near).
 * Printed, not asserted: the bar is 5 % of a ~4 µs request, i.e. 200 ns. */
static void bench_access_phase(void)
{
    hs_acl_t *acl = hs_acl_new();
    hs_acl_add_text(acl, HS_IOV("10.0.0.0/8"), HS_ACL_ALLOW, NULL);
    hs_acl_add_text(acl, HS_IOV("192.168.0.0/16"), HS_ACL_ALLOW, NULL);
    hs_acl_add_text(acl, HS_IOV("all"), HS_ACL_DENY, NULL);
    hs_acl_compile(acl);
    hs_limit_store_t *store = hs_limit_memstore_new(65536, 1024);
    hs_gcra_t g;
    hs_gcra_init(&g, 1000000, 1000, 100, NULL); /* never refuses here: the admitted path is measured */
    g.zone = 1;
    g.name = "bench";
    struct sockaddr_in6 peers[256];
    for (int i = 0; i < 256; i++) {
        char txt[64];
        snprintf(txt, sizeof(txt), "::ffff:10.0.%d.%d", i / 16, i % 16);
        memset(&peers[i], 0, sizeof(peers[i]));
        peers[i].sin6_family = AF_INET6;
        inet_pton(AF_INET6, txt, &peers[i].sin6_addr);
    }
    enum { N = 1000000 };
    unsigned admitted = 0, near = 0;
    char item[HS__POLICY_ITEM_MAX];
    double a = now_ns();
    for (int i = 0; i < N; i++) {
        hs_ip_t ip;
        hs_ip_from_sockaddr((const struct sockaddr *)&peers[i & 255], &ip);
        if (hs_acl_action(acl, &ip, HS_ACL_DENY) != HS_ACL_ALLOW)
            continue;
        hs_limit_result_t r;
        hs_limit_gcra(store, &g, hs_iov((const char *)&ip, sizeof(ip)), (uint64_t)i * 1000, 1, &r, NULL, NULL);
        admitted += r.allowed;
        if (hs__policy_rate_near(&g, &r))
            near += hs__policy_rate_item(item, sizeof(item), &g, &r) > 0;
    }
    double z = now_ns();
    printf("# bench: access phase, allow rule + limit rule (address, first match, GCRA in the shared store): "
           "%.1f ns/request\n",
           (z - a) / N);
    /* the same behind a trusted proxy: the client from X-Forwarded-For first */
    hs_acl_t *trusted = hs_acl_new();
    hs_acl_add_text(trusted, HS_IOV("127.0.0.1"), HS_ACL_ALLOW, NULL);
    hs_acl_compile(trusted);
    hs_ip_t proxy;
    hs_ip_parse(HS_IOV("127.0.0.1"), &proxy);
    hs_iovec_t xff = HS_IOV("203.0.113.7, 10.1.2.3");
    a = now_ns();
    for (int i = 0; i < N; i++) {
        hs_fwd_result_t fr;
        hs_fwd_client(&proxy, trusted, HS_FWD_XFF, &xff, 1, &fr);
        if (hs_acl_action(acl, &fr.addr, HS_ACL_DENY) != HS_ACL_ALLOW)
            continue;
        hs_limit_result_t r;
        hs_limit_gcra(store, &g, hs_iov((const char *)&fr.addr, sizeof(fr.addr)), (uint64_t)i * 1000, 1, &r, NULL,
                      NULL);
        admitted += r.allowed;
    }
    z = now_ns();
    printf("# bench: the same behind a trusted proxy (X-Forwarded-For walked first): %.1f ns/request\n", (z - a) / N);
    ok(admitted == 2 * N && near == 0, "benchmark: every request admitted, none near the limit");
    hs_acl_free(trusted);
    hs_acl_free(acl);
    hs_limit_store_free(store);
}

#define MS HS_NS_PER_MS
#define SEC HS_NS_PER_SEC

static void is_str(const char *got, const char *want, const char *name)
{
    if (!ok(strcmp(got, want) == 0, "%s: %s", name, want))
        printf("#   got %s\n", got);
}

int main(void)
{
    ok(hs__policy_name_ok("default") && hs__policy_name_ok("api.v2_per-user"), "policy names");
    ok(!hs__policy_name_ok("") && !hs__policy_name_ok("a b") && !hs__policy_name_ok("a\"b") &&
           !hs__policy_name_ok(NULL) &&
           !hs__policy_name_ok("0123456789012345678901234567890123456789012345678901234567890123456789"),
       "empty, space, quote, NULL, over 64: refused");

    hs_gcra_t g;
    uint64_t count, period;
    hs_rate_parse(HS_IOV("100r/m"), &count, &period, NULL);
    hs_gcra_init(&g, count, period, 4, NULL);
    g.name = "default";
    char out[HS__POLICY_ITEM_MAX];
    hs__policy_rate_policy_item(out, sizeof(out), &g);
    is_str(out, "\"default\";q=100;w=60", "RateLimit-Policy for 100r/m");

    /* a burst of 5 at once, then the sixth */
    uint64_t tat = 0, t = 100 * SEC;
    hs_limit_result_t r;
    hs_gcra_step(&g, &tat, t, 1, &r);
    hs__policy_rate_item(out, sizeof(out), &g, &r);
    is_str(out, "\"default\";r=4;t=1", "after the first: 4 left, one more within a second (0.6 s)");
    ok(!hs__policy_rate_near(&g, &r), "... not near the limit: no RateLimit field on this response");
    for (int i = 0; i < 3; i++)
        hs_gcra_step(&g, &tat, t, 1, &r);
    hs__policy_rate_item(out, sizeof(out), &g, &r);
    is_str(out, "\"default\";r=1;t=1", "after four: 1 left");
    ok(hs__policy_rate_near(&g, &r), "... near: a quarter of the capacity or less");
    hs_gcra_step(&g, &tat, t, 1, &r);
    hs__policy_rate_item(out, sizeof(out), &g, &r);
    is_str(out, "\"default\";r=0;t=1", "after five: none left");
    hs_gcra_step(&g, &tat, t + 200 * MS, 1, &r);
    ok(!r.allowed && hs_ns_to_delay_seconds(r.retry_after_ns) == 1, "the sixth, 0.2 s later: refused, Retry-After: 1");
    hs__policy_rate_item(out, sizeof(out), &g, &r);
    is_str(out, "\"default\";r=0;t=1", "... its RateLimit t equals Retry-After (draft §6)");
    ok(hs__policy_rate_near(&g, &r), "a refusal always carries the field");

    hs_rate_parse(HS_IOV("1r/m"), &count, &period, NULL);
    hs_gcra_init(&g, count, period, 0, NULL);
    g.name = "slow";
    tat = 0;
    hs_gcra_step(&g, &tat, t, 1, &r);
    hs_gcra_step(&g, &tat, t + 15500 * MS, 1, &r);
    hs__policy_rate_item(out, sizeof(out), &g, &r);
    ok(!r.allowed && hs_ns_to_delay_seconds(r.retry_after_ns) == 45, "1r/m, again after 15.5 s: Retry-After: 45");
    is_str(out, "\"slow\";r=0;t=45", "RateLimit for it");
    hs_gcra_step(&g, &tat, t + 200 * SEC, 0, &r);
    hs__policy_rate_item(out, sizeof(out), &g, &r);
    is_str(out, "\"slow\";r=1", "at capacity: no t (nothing more is coming)");

    ok(hs__policy_rate_item(out, 10, &g, &r) == 0 && out[0] == '\0', "too small a buffer: 0, empty");

    hs_budget_t b;
    hs_budget_init(&b, 10ULL << 30, 30ULL * 86400000, NULL);
    b.name = "egress";
    hs__policy_budget_policy_item(out, sizeof(out), &b);
    is_str(out, "\"egress\";q=10737418240;qu=\"content-bytes\";w=2592000", "a byte budget's policy (§3.1.2 qu)");
    uint64_t end = 0, used = 0;
    hs_budget_result_t br;
    hs_budget_step(&b, &end, &used, 1700000000000ULL, 10ULL << 30, &br);
    hs__policy_budget_item(out, sizeof(out), &b, &br);
    ok(br.exhausted, "10 GiB sent: spent");
    is_str(out, "\"egress\";r=0;t=352000",
           "RateLimit for a spent budget: seconds to the period end (epoch-aligned 30 d)");

    bench_access_phase();
    return tap_done();
}
