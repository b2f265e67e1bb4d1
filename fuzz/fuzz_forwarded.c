/* statusd fuzz target: the client behind trusted proxies (src/http/forwarded.c) and CIDR text
 * (src/core/cidr.c).
 *
 * Input: byte 0 chooses the peer (trusted or not, IPv4 or IPv6); the rest is field lines
 * separated by "\xff\xfe", walked as Forwarded and as X-Forwarded-For; each line is also parsed
 * as a node and as a CIDR block.
 *
 * Checks (beyond no crash/over-read/leak; every line is an exact-size heap copy):
 *   walk      the return value agrees with the kind (HS_OK: an address; HS_DECLINED: unknown or
 *             obfuscated; HS_ERROR: malformed with a detail); hops never exceed the limit; an
 *             obfuscated id is a NUL-terminated "_…" inside the result; a peer that is not
 *             trusted is the answer, with no hop, whatever the lines say;
 *   XFF       several lines walk like the same lines joined with ", " (one list, RFC 9110 §5.3);
 *   node      an address node gives back an address; a node parsed twice gives the same answer;
 *   CIDR      a block that parses formats to text that parses to the same block, and its own
 *             network address matches it.
 */
#include "hs/forwarded.h"
#include "fuzz_util.h"

static hs_acl_t *trusted;

static void check_walk(const hs_ip_t *peer, int mode, const hs_iovec_t *v, size_t n, hs_fwd_result_t *r, int *rc)
{
    *rc = hs_fwd_client(peer, trusted, mode, v, n, r);
    FUZZ_CHECK(r->hops <= HS_FWD_MAX_HOPS, "hops %u", r->hops);
    switch (r->kind) {
    case HS_FWD_ADDR: FUZZ_CHECK(*rc == HS_OK, "address with rc %d", *rc); break;
    case HS_FWD_UNKNOWN: FUZZ_CHECK(*rc == HS_DECLINED, "unknown with rc %d", *rc); break;
    case HS_FWD_OBFUSCATED:
        FUZZ_CHECK(*rc == HS_DECLINED, "obfuscated with rc %d", *rc);
        FUZZ_CHECK(r->node.base == r->node_buf && r->node.len >= 2 && r->node_buf[0] == '_' &&
                       r->node_buf[r->node.len] == '\0',
                   "obfuscated id shape");
        break;
    case HS_FWD_MALFORMED: FUZZ_CHECK(*rc == HS_ERROR && r->detail && r->detail[0], "malformed with rc %d", *rc); break;
    default: FUZZ_CHECK(0, "kind %d", r->kind);
    }
    if (hs_acl_match(trusted, peer) < 0)
        FUZZ_CHECK(*rc == HS_OK && r->hops == 0 && hs_ip_eq(&r->addr, peer), "untrusted peer not the answer");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!trusted) {
        trusted = hs_acl_new();
        hs_acl_add_text(trusted, HS_IOV("10.0.0.0/8"), HS_ACL_ALLOW, NULL);
        hs_acl_add_text(trusted, HS_IOV("192.0.2.0/24"), HS_ACL_ALLOW, NULL);
        hs_acl_add_text(trusted, HS_IOV("2001:db8::/32"), HS_ACL_ALLOW, NULL);
        hs_acl_compile(trusted);
    }
    if (size < 1)
        return 0;
    static const char *const peers[] = {"10.0.0.1", "198.51.100.1", "2001:db8::1", "2001:db9::1"};
    hs_ip_t peer;
    hs_ip_parse(hs_iov_cstr(peers[data[0] & 3]), &peer);

    enum { MAX_LINES = 8 };
    char *copies[MAX_LINES];
    hs_iovec_t v[MAX_LINES];
    size_t n = 0, pos = 0, plen, total = 0;
    const uint8_t *piece;
    while (n < MAX_LINES && fuzz_next_piece(data + 1, size - 1, &pos, 0xff, 0xfe, &piece, &plen)) {
        copies[n] = fuzz_dup(piece, plen);
        v[n] = hs_iov(copies[n], plen);
        total += plen + 2;
        n++;
    }

    hs_fwd_result_t r1, r2;
    int rc1, rc2;
    check_walk(&peer, HS_FWD_FORWARDED, v, n, &r1, &rc1);
    check_walk(&peer, HS_FWD_XFF, v, n, &r1, &rc1);

    /* X-Forwarded-For: the lines joined into one list walk the same */
    char *joined = malloc(total + 1);
    size_t jl = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) {
            joined[jl++] = ',';
            joined[jl++] = ' ';
        }
        memcpy(joined + jl, v[i].base, v[i].len);
        jl += v[i].len;
    }
    char *jcopy = fuzz_dup((const uint8_t *)joined, jl);
    hs_iovec_t one = hs_iov(jcopy, jl);
    check_walk(&peer, HS_FWD_XFF, &one, n ? 1 : 0, &r2, &rc2);
    FUZZ_CHECK(rc1 == rc2 && r1.kind == r2.kind && r1.hops == r2.hops && hs_ip_eq(&r1.addr, &r2.addr),
               "XFF lines (%d kind %d hops %u) vs joined (%d kind %d hops %u)", rc1, r1.kind, r1.hops, rc2, r2.kind,
               r2.hops);
    free(jcopy);
    free(joined);

    for (size_t i = 0; i < n; i++) {
        hs_ip_t a1 = {0, 0}, a2 = {0, 0};
        uint16_t p1, p2;
        int k1 = hs_fwd_parse_node(v[i], &a1, &p1), k2 = hs_fwd_parse_node(v[i], &a2, &p2);
        FUZZ_CHECK(k1 == k2 && (k1 != HS_FWD_ADDR || (hs_ip_eq(&a1, &a2) && p1 == p2)), "node parse not stable");

        hs_cidr_t c, c2;
        if (hs_cidr_parse(v[i], &c, NULL) == HS_OK) {
            char text[HS_CIDR_MAX];
            size_t tl = hs_cidr_format(&c, text, sizeof(text));
            FUZZ_CHECK(tl > 0, "a block that does not format");
            FUZZ_CHECK(hs_cidr_parse(hs_iov(text, tl), &c2, NULL) == HS_OK && hs_ip_eq(&c.net, &c2.net) &&
                           hs_ip_eq(&c.mask, &c2.mask) && c.bits == c2.bits && c.sees_v4 == c2.sees_v4,
                       "'%s' does not parse back to the same block", text);
            FUZZ_CHECK(hs_cidr_match(&c, &c.net) || (!c.sees_v4 && hs_ip_is_v4(&c.net)), "'%s' misses its network",
                       text);
        }
        free(copies[i]);
    }
    return 0;
}
