/* Unit tests: the client behind trusted proxies (src/http/forwarded.c) — RFC 7239 nodes and
 * elements, X-Forwarded-For, the walk from the right, and what stops it. */
#define _GNU_SOURCE
#include "hs/forwarded.h"
#include "tap.h"

static hs_acl_t *trusted;

static hs_ip_t ip(const char *s)
{
    hs_ip_t v = {0, 0};
    hs_ip_parse(hs_iov_cstr(s), &v);
    return v;
}

/* Walk `lines` (NULL-terminated) from `peer`; check the outcome. want_addr "" = do not check. */
static void walk(int mode, const char *peer, const char *const *lines, int want_rc, int want_kind,
                 const char *want_addr, unsigned want_hops, const char *name)
{
    hs_iovec_t v[8];
    size_t n = 0;
    for (; lines[n]; n++)
        v[n] = hs_iov_cstr(lines[n]);
    hs_ip_t p = ip(peer);
    hs_fwd_result_t r;
    int rc = hs_fwd_client(&p, trusted, mode, v, n, &r);
    char got[HS_IP_MAX];
    hs_ip_format(&r.addr, got, sizeof(got));
    bool addr_ok = !*want_addr || strcmp(got, want_addr) == 0;
    if (!ok(rc == want_rc && r.kind == want_kind && addr_ok && r.hops == want_hops, "%s", name))
        printf("#   rc %d kind %d addr %s hops %u detail %s\n", rc, r.kind, got, r.hops, r.detail ? r.detail : "-");
}
#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define FWD HS_FWD_FORWARDED
#define XFF HS_FWD_XFF

static void node(const char *s, int want, const char *want_addr, unsigned want_port)
{
    hs_ip_t a = {0, 0};
    uint16_t port = 99;
    int k = hs_fwd_parse_node(hs_iov_cstr(s), &a, &port);
    char got[HS_IP_MAX] = "";
    if (k == HS_FWD_ADDR)
        hs_ip_format(&a, got, sizeof(got));
    ok(k == want && (!want_addr || strcmp(got, want_addr) == 0) && (k != HS_FWD_ADDR || port == want_port),
       "node '%s' -> kind %d %s port %u (got %d %s %u)", s, want, want_addr ? want_addr : "", want_port, k, got, port);
}

int main(void)
{
    trusted = hs_acl_new();
    hs_acl_add_text(trusted, HS_IOV("10.0.0.0/8"), HS_ACL_ALLOW, NULL);
    hs_acl_add_text(trusted, HS_IOV("2001:db8:ffff::/48"), HS_ACL_ALLOW, NULL);
    hs_acl_compile(trusted);

    /* ---- nodes (RFC 7239 §6) ---- */
    node("192.0.2.43", HS_FWD_ADDR, "192.0.2.43", 0);
    node("192.0.2.43:47011", HS_FWD_ADDR, "192.0.2.43", 47011);
    node("[2001:db8:cafe::17]", HS_FWD_ADDR, "2001:db8:cafe::17", 0);
    node("[2001:db8:cafe::17]:4711", HS_FWD_ADDR, "2001:db8:cafe::17", 4711);
    node("[::ffff:192.0.2.1]:1", HS_FWD_ADDR, "192.0.2.1", 1);
    node("192.0.2.43:_abc", HS_FWD_ADDR, "192.0.2.43", 0);
    node("unknown", HS_FWD_UNKNOWN, NULL, 0);
    node("UNKNOWN:80", HS_FWD_UNKNOWN, NULL, 0);
    node("_hidden", HS_FWD_OBFUSCATED, NULL, 0);
    node("_SEVKISEK", HS_FWD_OBFUSCATED, NULL, 0);
    node("_hidden:_p", HS_FWD_OBFUSCATED, NULL, 0);
    const char *bad[] = {"",
                         "2001:db8::1",
                         "[192.0.2.1]",
                         "[2001:db8::1",
                         "[2001:db8::1]80",
                         "[2001:db8::1]:",
                         "192.0.2.1:",
                         "192.0.2.1:65536",
                         "192.0.2.1:123456",
                         "192.0.2.1:-1",
                         "_",
                         "_a b",
                         "_a:",
                         "example.com",
                         "unknown:x",
                         "192.0.2.1:8:8",
                         "[fe80::1%25eth0]",
                         "0123456789012345678901234567890123456789012345678901234567890123456789"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad); i++)
        node(bad[i], HS_FWD_MALFORMED, NULL, 0);

    /* ---- no trusted hop ---- */
    walk(FWD, "192.0.2.1", L("for=198.51.100.1"), HS_OK, HS_FWD_ADDR, "192.0.2.1", 0,
         "an untrusted peer is the client, whatever it claims");
    walk(FWD, "10.0.0.1", (const char *const[]){NULL}, HS_OK, HS_FWD_ADDR, "10.0.0.1", 0,
         "a trusted peer without the field is the client");

    /* ---- Forwarded ---- */
    walk(FWD, "10.0.0.1", L("for=192.0.2.60;proto=http;by=203.0.113.43"), HS_OK, HS_FWD_ADDR, "192.0.2.60", 1,
         "one trusted proxy");
    walk(FWD, "10.0.0.1", L("for=192.0.2.43, for=198.51.100.17"), HS_OK, HS_FWD_ADDR, "198.51.100.17", 1,
         "the rightmost untrusted hop, not the leftmost claim");
    walk(FWD, "10.0.0.1", L("for=192.0.2.43, for=10.2.2.2, for=10.3.3.3"), HS_OK, HS_FWD_ADDR, "192.0.2.43", 3,
         "three hops, two trusted proxies in the chain");
    walk(FWD, "10.0.0.1", L("for=10.9.9.9, for=10.2.2.2"), HS_OK, HS_FWD_ADDR, "10.9.9.9", 2,
         "every hop trusted: the leftmost");
    walk(FWD, "10.0.0.1", L("for=192.0.2.43", "for=10.2.2.2"), HS_OK, HS_FWD_ADDR, "192.0.2.43", 2,
         "two field lines are one list");
    walk(FWD, "10.0.0.1", L("For=\"[2001:db8:cafe::17]:4711\""), HS_OK, HS_FWD_ADDR, "2001:db8:cafe::17", 1,
         "a quoted IPv6 node with a port; the name is case-insensitive");
    walk(FWD, "2001:db8:ffff::1", L("for=\"[2001:db8:ffff::2]\", for=\"[2001:db8:ffff::3]\""), HS_OK, HS_FWD_ADDR,
         "2001:db8:ffff::2", 2, "IPv6 proxies, all trusted");
    walk(FWD, "::ffff:10.0.0.1", L("for=192.0.2.9"), HS_OK, HS_FWD_ADDR, "192.0.2.9", 1,
         "a v4-mapped peer is trusted by an IPv4 rule");
    walk(FWD, "10.0.0.1", L("for=192.0.2.9 ; proto=https ;by=_x"), HS_OK, HS_FWD_ADDR, "192.0.2.9", 1,
         "OWS around ';'");
    walk(FWD, "10.0.0.1", L(",, for=192.0.2.9 ,,"), HS_OK, HS_FWD_ADDR, "192.0.2.9", 1, "empty list elements");
    walk(FWD, "10.0.0.1", L("for=192.0.2.9;;proto=http;"), HS_OK, HS_FWD_ADDR, "192.0.2.9", 1, "empty pairs");
    walk(FWD, "10.0.0.1", L("for=192.0.2.9;ext=\"a,b;c=d\""), HS_OK, HS_FWD_ADDR, "192.0.2.9", 1,
         "an extension parameter whose quoted value holds ',' and ';'");
    walk(FWD, "10.0.0.1", L("for=unknown"), HS_DECLINED, HS_FWD_UNKNOWN, "10.0.0.1", 1,
         "unknown: declined, the address is the proxy's");
    walk(FWD, "10.0.0.1", L("for=_hidden, for=10.5.5.5"), HS_DECLINED, HS_FWD_OBFUSCATED, "10.5.5.5", 2,
         "an obfuscated client behind two proxies");
    walk(FWD, "10.0.0.1", L("proto=https;by=10.0.0.1"), HS_DECLINED, HS_FWD_UNKNOWN, "10.0.0.1", 1,
         "an element without for=: unknown");
    walk(FWD, "10.0.0.1", L("for=\"garbage, for=192.0.2.1"), HS_ERROR, HS_FWD_MALFORMED, "10.0.0.1", 0,
         "an unterminated quote swallows the rest: malformed, nothing guessed");
    walk(FWD, "10.0.0.1", L("for=\"garbage", "for=192.0.2.1"), HS_OK, HS_FWD_ADDR, "192.0.2.1", 1,
         "garbage on another line is never reached");
    walk(FWD, "10.0.0.1", L("for=\"garbage", "for=10.1.1.1"), HS_ERROR, HS_FWD_MALFORMED, "10.1.1.1", 1,
         "... unless the walk gets there");
    walk(FWD, "10.0.0.1", L("for=2001:db8::1"), HS_ERROR, HS_FWD_MALFORMED, "", 0, "an unquoted IPv6 node");
    walk(FWD, "10.0.0.1", L("for=192.0.2.1;for=192.0.2.2"), HS_ERROR, HS_FWD_MALFORMED, "", 0, "for= twice");
    walk(FWD, "10.0.0.1", L("for=192.0.2.1;by=a;BY=b"), HS_ERROR, HS_FWD_MALFORMED, "", 0, "by= twice");
    walk(FWD, "10.0.0.1", L("for=192.0.2.1 x"), HS_ERROR, HS_FWD_MALFORMED, "", 0, "junk after a value");
    walk(FWD, "10.0.0.1", L("for="), HS_ERROR, HS_FWD_MALFORMED, "", 0, "an empty value");
    walk(FWD, "10.0.0.1", L("=x"), HS_ERROR, HS_FWD_MALFORMED, "", 0, "no name");
    walk(FWD, "10.0.0.1", L("for = 192.0.2.1"), HS_ERROR, HS_FWD_MALFORMED, "", 0, "spaces around '='");
    walk(FWD, "10.0.0.1", L("for=\"192.0.2.1\x01\""), HS_ERROR, HS_FWD_MALFORMED, "", 0, "a control byte");
    walk(FWD, "10.0.0.1", L("for=example.com"), HS_ERROR, HS_FWD_MALFORMED, "", 0, "a host name is not a node");

    /* a long chain of trusted proxies stops at the limit */
    char longv[64 * 16 + 64] = "for=192.0.2.1";
    for (int i = 0; i < 70; i++)
        snprintf(longv + strlen(longv), sizeof(longv) - strlen(longv), ",for=10.0.%d.1", i);
    walk(FWD, "10.0.0.1", L(longv), HS_ERROR, HS_FWD_MALFORMED, "", HS_FWD_MAX_HOPS,
         "more trusted hops than the limit");
    char okv[64 * 16] = "for=192.0.2.1";
    for (int i = 0; i < 62; i++)
        snprintf(okv + strlen(okv), sizeof(okv) - strlen(okv), ", for=10.0.%d.1", i);
    walk(FWD, "10.0.0.1", L(okv), HS_OK, HS_FWD_ADDR, "192.0.2.1", 63, "63 hops: within the limit");

    /* ---- X-Forwarded-For ---- */
    walk(XFF, "10.0.0.1", L("203.0.113.5, 198.51.100.17"), HS_OK, HS_FWD_ADDR, "198.51.100.17", 1, "XFF: rightmost");
    walk(XFF, "10.0.0.1", L("203.0.113.5, 10.1.1.1"), HS_OK, HS_FWD_ADDR, "203.0.113.5", 2, "XFF: through a proxy");
    walk(XFF, "10.0.0.1", L("203.0.113.5", "10.1.1.1,10.2.2.2"), HS_OK, HS_FWD_ADDR, "203.0.113.5", 3,
         "XFF: several lines");
    walk(XFF, "10.0.0.1", L("2001:db8::7"), HS_OK, HS_FWD_ADDR, "2001:db8::7", 1, "XFF: a bare IPv6 address");
    walk(XFF, "10.0.0.1", L("[2001:db8::7]:443"), HS_OK, HS_FWD_ADDR, "2001:db8::7", 1, "XFF: bracketed with a port");
    walk(XFF, "10.0.0.1", L("192.0.2.7:5555"), HS_OK, HS_FWD_ADDR, "192.0.2.7", 1, "XFF: IPv4 with a port");
    walk(XFF, "10.0.0.1", L("junk here, 192.0.2.7"), HS_OK, HS_FWD_ADDR, "192.0.2.7", 1,
         "XFF: garbage left of the client is never read");
    walk(XFF, "10.0.0.1", L("192.0.2.7, junk"), HS_ERROR, HS_FWD_MALFORMED, "10.0.0.1", 0, "XFF: garbage reached");
    walk(XFF, "10.0.0.1", L(" , 192.0.2.7 ,, "), HS_OK, HS_FWD_ADDR, "192.0.2.7", 1, "XFF: empty elements");
    walk(XFF, "10.0.0.1", L("unknown"), HS_DECLINED, HS_FWD_UNKNOWN, "10.0.0.1", 1, "XFF: unknown");
    walk(XFF, "10.0.0.1", L("_hidden"), HS_ERROR, HS_FWD_MALFORMED, "", 0, "XFF: no obfuscated ids");
    walk(XFF, "10.0.0.1", L("for=192.0.2.1"), HS_ERROR, HS_FWD_MALFORMED, "", 0, "XFF: Forwarded syntax is not XFF");
    walk(XFF, "192.0.2.50", L("10.1.1.1"), HS_OK, HS_FWD_ADDR, "192.0.2.50", 0, "XFF: untrusted peer");

    hs_acl_free(trusted);
    return tap_done();
}
