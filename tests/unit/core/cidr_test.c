/* Unit tests: addresses, CIDR blocks and ordered rules (src/core/cidr.c), with a cross-check of
 * the compiled table against a plain scan on random lists, and the cost of a match (TAP comment). */
#define _GNU_SOURCE
#include "hs/cidr.h"
#include "hs/crypto.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

static hs_ip_t ip(const char *s)
{
    hs_ip_t v = {0xdead, 0xbeef};
    if (hs_ip_parse(hs_iov_cstr(s), &v) != HS_OK)
        printf("# (test) cannot parse %s\n", s);
    return v;
}

static void parse_ok(const char *s, const char *back)
{
    hs_cidr_t c;
    const char *err = NULL;
    char out[HS_CIDR_MAX];
    int rc = hs_cidr_parse(hs_iov_cstr(s), &c, &err);
    hs_cidr_format(&c, out, sizeof(out));
    ok(rc == HS_OK && strcmp(out, back) == 0, "cidr %s -> %s (got %s%s%s)", s, back,
       rc == HS_OK ? out : "error: ", rc == HS_OK ? "" : err, "");
}

static void parse_bad(const char *s)
{
    hs_cidr_t c;
    const char *err = NULL;
    ok(hs_cidr_parse(hs_iov_cstr(s), &c, &err) == HS_ERROR && err, "cidr '%s' refused (%s)", s, err ? err : "-");
}

static bool m(const char *cidr, const char *addr)
{
    hs_cidr_t c;
    if (hs_cidr_parse(hs_iov_cstr(cidr), &c, NULL) != HS_OK)
        return false;
    hs_ip_t a = ip(addr);
    return hs_cidr_match(&c, &a);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static hs_cidr_t random_cidr(hs_prng_t *g)
{
    hs_cidr_t c;
    uint64_t r = hs_prng_next(g);
    char text[80];
    if (r & 1) {
        unsigned bits = (unsigned)(hs_prng_next(g) % 33);
        uint32_t v4 = (uint32_t)hs_prng_next(g) & (uint32_t)(bits ? ~0U << (32 - bits) : 0);
        /* a few small neighbourhoods so that blocks overlap often */
        if (r & 2)
            v4 = (v4 & 0x0000ffffU) | 0x0a000000U, v4 &= (uint32_t)(bits ? ~0U << (32 - bits) : 0);
        struct in_addr a = {htonl(v4)};
        char buf[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a, buf, sizeof(buf));
        snprintf(text, sizeof(text), "%s/%u", buf, bits);
    } else {
        unsigned bits = (unsigned)(hs_prng_next(g) % 129);
        hs_ip_t v = {hs_prng_next(g), hs_prng_next(g)};
        if (r & 2)
            v.hi = 0x20010db800000000ULL | (v.hi & 0xffff);
        if ((r & 12) == 12)
            v.hi = 0, v.lo = 0x0000ffff00000000ULL | (v.lo & 0xffffffff), bits = 96 + bits % 33;
        hs_ip_t pre = hs_ip_prefix(&v, bits >= 96 ? bits - 96 : 0, bits);
        char buf[HS_IP_MAX];
        struct sockaddr_storage ss;
        hs_ip_to_sockaddr(&pre, &ss);
        if (hs_ip_is_v4(&pre)) { /* write mapped blocks in IPv6 notation */
            snprintf(buf, sizeof(buf), "::ffff:%u.%u.%u.%u", (unsigned)(pre.lo >> 24) & 255,
                     (unsigned)(pre.lo >> 16) & 255, (unsigned)(pre.lo >> 8) & 255, (unsigned)pre.lo & 255);
        } else
            hs_ip_format(&pre, buf, sizeof(buf));
        snprintf(text, sizeof(text), "%s/%u", buf, bits);
    }
    if ((r & 0xff0) == 0x550)
        snprintf(text, sizeof(text), "all");
    if (hs_cidr_parse(hs_iov_cstr(text), &c, NULL) != HS_OK) {
        printf("# (test) random block %s refused\n", text);
        hs_cidr_parse(HS_IOV("192.0.2.0/24"), &c, NULL);
    }
    return c;
}

static hs_ip_t random_ip(hs_prng_t *g, const hs_acl_t *a)
{
    uint64_t r = hs_prng_next(g);
    hs_ip_t v = {hs_prng_next(g), hs_prng_next(g)};
    if (r % 3 == 0)
        v = hs_ip_v4((uint32_t)v.lo);
    if (r % 5 == 0)
        v = hs_ip_v4(0x0a000000U | ((uint32_t)v.lo & 0xffff));
    if (r % 7 == 0 && hs_acl_count(a)) { /* near a boundary of some block */
        const hs_cidr_t *c = &hs_acl_rule(a, (size_t)(hs_prng_next(g) % hs_acl_count(a)))->cidr;
        v = c->net;
        if (r & 8) {
            v.hi |= ~c->mask.hi, v.lo |= ~c->mask.lo; /* its last address */
            if (r & 16) {                             /* one past it */
                if (++v.lo == 0)
                    v.hi++;
            }
        } else if (r & 16) { /* one before it */
            if (v.lo-- == 0)
                v.hi--;
        }
    }
    return v;
}

static void cross_check(unsigned seed, size_t nrules, size_t nprobes)
{
    hs_prng_t g = {seed};
    hs_acl_t *compiled = hs_acl_new(), *plain = hs_acl_new();
    for (size_t i = 0; i < nrules; i++) {
        hs_cidr_t c = random_cidr(&g);
        int action = (int)(hs_prng_next(&g) % 3);
        hs_acl_add(compiled, &c, action);
        hs_acl_add(plain, &c, action);
    }
    hs_acl_compile(compiled);
    size_t bad = 0, hits = 0;
    for (size_t k = 0; k < nprobes; k++) {
        hs_ip_t v = random_ip(&g, plain);
        int want = -1;
        for (size_t i = 0; i < nrules && want < 0; i++)
            if (hs_cidr_match(&hs_acl_rule(plain, i)->cidr, &v))
                want = (int)i;
        int got = hs_acl_match(compiled, &v);
        hits += want >= 0;
        if (got != want && bad++ < 3) {
            char t[HS_IP_MAX];
            hs_ip_format(&v, t, sizeof(t));
            printf("#   %s: table says rule %d, a scan says %d\n", t, got, want);
        }
    }
    ok(bad == 0, "compiled table = first match of a scan (seed %u, %zu rules, %zu probes, %zu hits)", seed, nrules,
       nprobes, hits);
    hs_acl_free(compiled);
    hs_acl_free(plain);
}

int main(void)
{
    /* ---- addresses ---- */
    hs_ip_t a = ip("192.0.2.1"), b = ip("::ffff:192.0.2.1");
    ok(hs_ip_is_v4(&a) && hs_ip_eq(&a, &b), "IPv4 and its IPv4-mapped form are one address");
    ok(!hs_ip_is_v4((hs_ip_t[]){ip("::192.0.2.1")}), "the deprecated IPv4-compatible form is IPv6");
    hs_ip_t dummy;
    const char *bad_ips[] = {
        "",          "1.2.3",        "1.2.3.4.5",    "01.2.3.4",
        "1.2.3.256", "0x1.2.3.4",    "1.2.3.4 ",     " 1.2.3.4",
        "[::1]",     "fe80::1%eth0", ":::",          "1::2::3",
        "12345::",   "1.2.3.4/8",    "::ffff:1.2.3", "1111:2222:3333:4444:5555:6666:7777:8888:9999"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad_ips); i++)
        ok(hs_ip_parse(hs_iov_cstr(bad_ips[i]), &dummy) == HS_ERROR, "address '%s' refused", bad_ips[i]);
    ok(hs_ip_parse(hs_iov("1.2.3.4\0", 8), &dummy) == HS_ERROR, "an embedded NUL refused");
    char t[HS_IP_MAX];
    hs_ip_t c6 = ip("2001:0db8:0000:0000:0000:0000:0000:0001");
    hs_ip_format(&c6, t, sizeof(t));
    ok(strcmp(t, "2001:db8::1") == 0, "IPv6 formatted in RFC 5952 form (%s)", t);
    hs_ip_format(&b, t, sizeof(t));
    ok(strcmp(t, "192.0.2.1") == 0, "a mapped address formatted as IPv4 (%s)", t);
    ok(hs_ip_format(&c6, t, 5) == 0 && t[0] == '\0', "no room: empty");

    struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(80)};
    inet_pton(AF_INET, "198.51.100.7", &s4.sin_addr);
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:198.51.100.7", &s6.sin6_addr);
    hs_ip_t x4, x6;
    ok(hs_ip_from_sockaddr((struct sockaddr *)&s4, &x4) && hs_ip_from_sockaddr((struct sockaddr *)&s6, &x6) &&
           hs_ip_eq(&x4, &x6),
       "AF_INET and a v4-mapped AF_INET6 peer are the same client");
    struct sockaddr un = {.sa_family = AF_UNIX};
    ok(!hs_ip_from_sockaddr(&un, &x4) && !hs_ip_from_sockaddr(NULL, &x4), "other families: false");
    struct sockaddr_storage ss;
    ok(hs_ip_to_sockaddr(&x6, &ss) == sizeof(struct sockaddr_in) && ss.ss_family == AF_INET,
       "back to a socket address: AF_INET for IPv4");
    ok(hs_ip_to_sockaddr(&c6, &ss) == sizeof(struct sockaddr_in6) && hs_ip_from_sockaddr((void *)&ss, &x6) &&
           hs_ip_eq(&x6, &c6),
       "AF_INET6 round trip");
    hs_ip_t p = hs_ip_prefix((hs_ip_t[]){ip("2001:db8:1:2:3:4:5:6")}, 24, 64);
    hs_ip_format(&p, t, sizeof(t));
    ok(strcmp(t, "2001:db8:1:2::") == 0, "IPv6 /64 prefix (%s)", t);
    p = hs_ip_prefix(&a, 24, 64);
    hs_ip_format(&p, t, sizeof(t));
    ok(strcmp(t, "192.0.2.0") == 0 && hs_ip_is_v4(&p), "IPv4 /24 prefix (%s)", t);

    /* ---- blocks ---- */
    parse_ok("10.0.0.0/8", "10.0.0.0/8");
    parse_ok("192.0.2.7", "192.0.2.7/32");
    parse_ok("0.0.0.0/0", "0.0.0.0/0");
    parse_ok("2001:db8::/32", "2001:db8::/32");
    parse_ok("2001:DB8:0::/48", "2001:db8::/48");
    parse_ok("::1", "::1/128");
    parse_ok("::/0", "::/0");
    parse_ok("::ffff:10.0.0.0/104", "10.0.0.0/8");
    parse_ok("::ffff:0:0/96", "0.0.0.0/0");
    parse_ok("all", "all");
    parse_bad("10.0.0.1/8");
    parse_bad("10.0.0.0/33");
    parse_bad("10.0.0.0/08");
    parse_bad("10.0.0.0/");
    parse_bad("10.0.0.0/-1");
    parse_bad("10.0.0.0/8/8");
    parse_bad("2001:db8::/129");
    parse_bad("2001:db8::1/32");
    parse_bad("");
    parse_bad("ALL");
    parse_bad("10/8");
    parse_bad("localhost");

    ok(m("10.0.0.0/8", "10.255.255.255") && m("10.0.0.0/8", "10.0.0.0") && !m("10.0.0.0/8", "11.0.0.0"),
       "IPv4 /8 bounds");
    ok(m("10.0.0.0/8", "::ffff:10.1.2.3"), "an IPv4 rule matches the mapped form");
    ok(m("::ffff:10.0.0.0/104", "10.1.2.3"), "a mapped-notation rule matches IPv4");
    ok(m("192.0.2.1", "192.0.2.1") && !m("192.0.2.1", "192.0.2.2"), "single address");
    ok(m("0.0.0.0/0", "203.0.113.9") && !m("0.0.0.0/0", "2001:db8::1"), "0.0.0.0/0: every IPv4 client, no IPv6");
    ok(m("::/0", "2001:db8::1") && !m("::/0", "203.0.113.9"), "::/0: every IPv6 client, no IPv4");
    ok(m("all", "2001:db8::1") && m("all", "203.0.113.9"), "all: both families");
    ok(m("2001:db8::/32", "2001:db8:ffff::1") && !m("2001:db8::/32", "2001:db9::"), "IPv6 /32 bounds");
    ok(m("2001:db8::/127", "2001:db8::1") && !m("2001:db8::/127", "2001:db8::2"), "IPv6 /127");
    ok(m("2001:db8::/65", "2001:db8::7fff:0:0:0") && !m("2001:db8::/65", "2001:db8::8000:0:0:0"), "IPv6 /65");
    ok(!m("::/8", "10.0.0.1"), "an IPv6 block around the mapped block does not see IPv4 clients");

    /* ---- ordered rules ---- */
    hs_acl_t *acl = hs_acl_new();
    const char *err = NULL;
    ok(hs_acl_add_text(acl, HS_IOV("10.1.0.0/16"), HS_ACL_DENY, &err) == HS_OK &&
           hs_acl_add_text(acl, HS_IOV("10.0.0.0/8"), HS_ACL_ALLOW, &err) == HS_OK &&
           hs_acl_add_text(acl, HS_IOV("2001:db8::/32"), HS_ACL_ALLOW, &err) == HS_OK &&
           hs_acl_add_text(acl, HS_IOV("all"), HS_ACL_DENY, &err) == HS_OK,
       "four rules added");
    ok(hs_acl_add_text(acl, HS_IOV("10.0.0.0/33"), HS_ACL_DENY, &err) == HS_ERROR && err, "a bad rule: %s", err);
    hs_acl_compile(acl);
    ok(hs_acl_add_text(acl, HS_IOV("10.0.0.0/8"), HS_ACL_DENY, &err) == HS_ERROR, "no rule after compile");
    hs_ip_t q1 = ip("10.1.2.3"), q2 = ip("10.2.3.4"), q3 = ip("2001:db8::5"), q4 = ip("192.0.2.1");
    is_int(hs_acl_match(acl, &q1), 0, "first match wins: 10.1.2.3 hits the /16 deny before the /8 allow");
    is_int(hs_acl_match(acl, &q2), 1, "10.2.3.4: the /8 allow");
    is_int(hs_acl_match(acl, &q3), 2, "IPv6 rule");
    is_int(hs_acl_match(acl, &q4), 3, "all catches the rest");
    is_int(hs_acl_action(acl, &q2, HS_ACL_DENY), HS_ACL_ALLOW, "action of the matching rule");
    is_int(hs_acl_match(NULL, &q2), -1, "a NULL list matches nothing");
    hs_acl_t *empty = hs_acl_new();
    hs_acl_compile(empty);
    is_int(hs_acl_action(empty, &q2, 42), 42, "the default when nothing matches");
    hs_acl_free(empty);

    /* ---- long lists: compiled table vs scan ---- */
    cross_check(1, 9, 20000);
    cross_check(2, 50, 20000);
    cross_check(3, 1000, 20000);
    cross_check(4, 20000, 20000);
    hs_acl_t *full = hs_acl_new();
    hs_cidr_t c;
    for (int i = 0; i < 20; i++) {
        hs_cidr_parse(HS_IOV("::/0"), &c, NULL);
        hs_acl_add(full, &c, 1);
    }
    hs_cidr_parse(HS_IOV("all"), &c, NULL);
    hs_acl_add(full, &c, 2);
    hs_acl_compile(full);
    hs_ip_t top = {~0ULL, ~0ULL}, zero = {0, 0};
    ok(hs_acl_match(full, &top) == 0 && hs_acl_match(full, &zero) == 0 && hs_acl_match(full, &q4) == 20,
       "table: ranges that reach the top and the bottom of the space");
    hs_acl_free(full);

    /* ---- cost of a match (not asserted) ---- */
    enum { N = 2000000 };
    hs_ip_t probes[64];
    hs_prng_t g = {7};
    for (int i = 0; i < 64; i++)
        probes[i] = hs_ip_v4(0x0a000000U | ((uint32_t)hs_prng_next(&g) & 0x00ffffffU));
    volatile int sink = 0;
    double t0 = now_ns();
    for (int i = 0; i < N; i++)
        sink += hs_acl_match(acl, &probes[i & 63]);
    double t1 = now_ns();
    printf("# bench: hs_acl_match, 4 rules (scan): %.1f ns/op\n", (t1 - t0) / N);
    hs_acl_t *big = hs_acl_new();
    for (int i = 0; i < 10000; i++) {
        hs_cidr_t r = {.net = hs_ip_v4(0x0a000000U | ((uint32_t)i << 8)), .bits = 120, .sees_v4 = true};
        r.mask = (hs_ip_t){~0ULL, ~0ULL << 8};
        hs_acl_add(big, &r, i & 1);
    }
    hs_acl_compile(big);
    t0 = now_ns();
    for (int i = 0; i < N; i++)
        sink += hs_acl_match(big, &probes[i & 63]);
    t1 = now_ns();
    printf("# bench: hs_acl_match, 10000 rules (table): %.1f ns/op\n", (t1 - t0) / N);
    ok(sink != 12345, "benchmarks ran");
    hs_acl_free(big);
    hs_acl_free(acl);
    return tap_done();
}
