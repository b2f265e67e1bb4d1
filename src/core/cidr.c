/* statusd — IP addresses, CIDR blocks and ordered address rules.
 *
 * Why 128 bits for everything: a listener on [::] sees IPv4 peers as ::ffff:a.b.c.d, one on
 * 0.0.0.0 sees them as AF_INET; mapping both to the same number means a rule written once
 * matches the same client whichever socket it came through, and the match is the same two
 * masked compares for both families (a few nanoseconds, no branch on the family).
 *
 * Text is parsed with inet_pton, which is strict where it matters: four decimal parts for IPv4
 * (no "10.1", no octal "010.0.0.1", no hex), RFC 4291 text for IPv6, no zone suffix.
 *
 * Long rule lists. "First match wins" over thousands of blocks would cost a scan per request;
 * instead hs_acl_compile sweeps the blocks' boundaries once, in address order, keeping the rules
 * covering the current point in a min-heap of rule indexes (lazily pruned), so every elementary
 * range between two boundaries gets the smallest index — the rule a scan would have found. Equal
 * neighbours are merged, and a lookup is a binary search over the range starts. IPv4 clients and
 * IPv6 clients get a table each, since an IPv6 rule such as ::/0 does not apply to IPv4 clients
 * although its range covers the mapped block. */
#define _GNU_SOURCE
#include "hs/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

typedef unsigned __int128 u128;

static inline u128 ip128(const hs_ip_t *ip)
{
    return ((u128)ip->hi << 64) | ip->lo;
}

static uint64_t load_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void store_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

bool hs_ip_from_sockaddr(const struct sockaddr *sa, hs_ip_t *out)
{
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        *out = hs_ip_v4(ntohl(a->sin_addr.s_addr));
        return true;
    }
    if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        out->hi = load_be64(a->sin6_addr.s6_addr);
        out->lo = load_be64(a->sin6_addr.s6_addr + 8);
        return true;
    }
    *out = (hs_ip_t){0, 0};
    return false;
}

socklen_t hs_ip_to_sockaddr(const hs_ip_t *ip, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (hs_ip_is_v4(ip)) {
        struct sockaddr_in *a = (struct sockaddr_in *)out;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl((uint32_t)ip->lo);
        return sizeof(*a);
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    a->sin6_family = AF_INET6;
    store_be64(a->sin6_addr.s6_addr, ip->hi);
    store_be64(a->sin6_addr.s6_addr + 8, ip->lo);
    return sizeof(*a);
}

int hs_ip_parse(hs_iovec_t s, hs_ip_t *out)
{
    char buf[HS_IP_MAX];
    if (!s.base || s.len == 0 || s.len >= sizeof(buf))
        return HS_ERROR;
    memcpy(buf, s.base, s.len);
    buf[s.len] = '\0';
    if (memchr(buf, '\0', s.len)) /* an embedded NUL would end the text early */
        return HS_ERROR;
    if (memchr(buf, ':', s.len)) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, buf, &a6) != 1)
            return HS_ERROR;
        out->hi = load_be64(a6.s6_addr);
        out->lo = load_be64(a6.s6_addr + 8);
        return HS_OK;
    }
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) != 1)
        return HS_ERROR;
    *out = hs_ip_v4(ntohl(a4.s_addr));
    return HS_OK;
}

size_t hs_ip_format(const hs_ip_t *ip, char *out, size_t n)
{
    if (n == 0)
        return 0;
    char buf[HS_IP_MAX];
    if (hs_ip_is_v4(ip)) {
        struct in_addr a4 = {htonl((uint32_t)ip->lo)};
        inet_ntop(AF_INET, &a4, buf, sizeof(buf));
    } else {
        struct in6_addr a6;
        store_be64(a6.s6_addr, ip->hi);
        store_be64(a6.s6_addr + 8, ip->lo);
        inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
    }
    size_t len = strlen(buf);
    if (len >= n) {
        out[0] = '\0';
        return 0;
    }
    memcpy(out, buf, len + 1);
    return len;
}

/* The mask of a prefix of `bits` (0..128) in the 128-bit space. */
static hs_ip_t mask_of(unsigned bits)
{
    hs_ip_t m;
    m.hi = bits == 0 ? 0 : bits >= 64 ? ~0ULL : ~0ULL << (64 - bits);
    m.lo = bits <= 64 ? 0 : bits >= 128 ? ~0ULL : ~0ULL << (128 - bits);
    return m;
}

hs_ip_t hs_ip_prefix(const hs_ip_t *ip, unsigned v4_bits, unsigned v6_bits)
{
    unsigned bits = hs_ip_is_v4(ip) ? 96 + HS_MIN(v4_bits, 32u) : HS_MIN(v6_bits, 128u);
    hs_ip_t m = mask_of(bits);
    return (hs_ip_t){ip->hi & m.hi, ip->lo & m.lo};
}

static bool in_mapped_block(const hs_ip_t *net, unsigned bits)
{
    return bits >= 96 && hs_ip_is_v4(net);
}

int hs_cidr_parse(hs_iovec_t s, hs_cidr_t *out, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    if (!s.base || s.len == 0) {
        *err = "an empty address";
        return HS_ERROR;
    }
    if (HS_IOV_EQ(s, "all")) {
        *out = (hs_cidr_t){.bits = 0, .sees_v4 = true};
        return HS_OK;
    }
    const char *slash = memchr(s.base, '/', s.len);
    hs_iovec_t addr = slash ? hs_iov(s.base, (size_t)(slash - s.base)) : s;
    hs_ip_t ip;
    if (hs_ip_parse(addr, &ip) != HS_OK) {
        *err = "not an IPv4 or IPv6 address (expected 192.0.2.0/24, 2001:db8::/32, a single address or all)";
        return HS_ERROR;
    }
    bool v4 = !memchr(addr.base, ':', addr.len);
    unsigned max = v4 ? 32 : 128, bits = max;
    if (slash) {
        hs_iovec_t b = hs_iov(slash + 1, s.len - addr.len - 1);
        uint64_t v;
        if (!hs_parse_u64(b, &v) || (b.len > 1 && b.base[0] == '0') || v > max) {
            *err = v4 ? "the prefix length after '/' must be 0 to 32" : "the prefix length after '/' must be 0 to 128";
            return HS_ERROR;
        }
        bits = (unsigned)v;
    }
    unsigned bits128 = v4 ? 96 + bits : bits;
    hs_ip_t m = mask_of(bits128);
    if ((ip.hi & ~m.hi) || (ip.lo & ~m.lo)) {
        *err = "the address has bits set after its prefix length (write the network address, e.g. 10.0.0.0/8)";
        return HS_ERROR;
    }
    *out = (hs_cidr_t){.net = ip,
                       .mask = m,
                       .bits = (uint8_t)bits128,
                       .v4_notation = v4,
                       .sees_v4 = v4 || in_mapped_block(&ip, bits128)};
    return HS_OK;
}

size_t hs_cidr_format(const hs_cidr_t *c, char *out, size_t n)
{
    if (n == 0)
        return 0;
    if (c->bits == 0 && c->sees_v4 && !c->v4_notation) {
        if (n < 4) {
            out[0] = '\0';
            return 0;
        }
        memcpy(out, "all", 4);
        return 3;
    }
    /* a block inside the mapped range is written as the IPv4 block it is: hs_ip_format writes
     * its address as IPv4, and "10.0.0.0/104" would read as nonsense */
    char ip[HS_IP_MAX];
    hs_ip_format(&c->net, ip, sizeof(ip));
    unsigned bits = in_mapped_block(&c->net, c->bits) ? c->bits - 96u : c->bits;
    int len = snprintf(out, n, "%s/%u", ip, bits);
    if (len < 0 || (size_t)len >= n) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)len;
}

/* ---- ordered rules ---- */

#define SCAN_MAX 8 /* up to this many rules, a scan is faster than a search */

typedef struct table_s {
    u128 *start; /* ascending; start[0] == 0 */
    int *rule;   /* first rule covering [start[i], start[i+1]), or -1 */
    size_t n;
} table_t;

struct hs_acl_s {
    hs_acl_rule_t *rules;
    size_t n, cap;
    bool compiled;
    table_t v4, v6; /* built when n > SCAN_MAX */
};

hs_acl_t *hs_acl_new(void)
{
    return hs_calloc(1, sizeof(hs_acl_t));
}

static void table_free(table_t *t)
{
    free(t->start);
    free(t->rule);
}

void hs_acl_free(hs_acl_t *a)
{
    if (!a)
        return;
    free(a->rules);
    table_free(&a->v4);
    table_free(&a->v6);
    free(a);
}

int hs_acl_add(hs_acl_t *a, const hs_cidr_t *c, int action)
{
    if (a->compiled || a->n >= HS_ACL_MAX_RULES)
        return HS_ERROR;
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 8;
        a->rules = hs_realloc(a->rules, a->cap * sizeof(*a->rules));
    }
    a->rules[a->n++] = (hs_acl_rule_t){*c, action};
    return HS_OK;
}

int hs_acl_add_text(hs_acl_t *a, hs_iovec_t text, int action, const char **err)
{
    hs_cidr_t c;
    if (hs_cidr_parse(text, &c, err) != HS_OK)
        return HS_ERROR;
    if (hs_acl_add(a, &c, action) != HS_OK) {
        if (err)
            *err = "too many address rules";
        return HS_ERROR;
    }
    return HS_OK;
}

size_t hs_acl_count(const hs_acl_t *a)
{
    return a ? a->n : 0;
}

const hs_acl_rule_t *hs_acl_rule(const hs_acl_t *a, size_t i)
{
    return &a->rules[i];
}

/* A boundary of the sweep: rule `idx` starts covering at `at` (open) or stops at `at` (close). */
typedef struct edge_s {
    u128 at;
    int idx;
    bool open;
} edge_t;

static int edge_cmp(const void *pa, const void *pb)
{
    const edge_t *a = pa, *b = pb;
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    return (int)a->open - (int)b->open; /* closes first: a rule ending here no longer covers */
}

/* A binary min-heap of rule indexes. */
typedef struct heap_s {
    int *v;
    size_t n;
} heap_t;

static void heap_push(heap_t *h, int x)
{
    size_t i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2] > x) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = x;
}

static void heap_pop(heap_t *h)
{
    int x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1] < h->v[c])
            c++;
        if (h->v[c] >= x)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = x;
}

static void build_table(hs_acl_t *a, table_t *t, bool for_v4)
{
    edge_t *e = hs_malloc(2 * a->n * sizeof(*e) + 1);
    size_t ne = 0;
    for (size_t i = 0; i < a->n; i++) {
        const hs_cidr_t *c = &a->rules[i].cidr;
        if (for_v4 && !c->sees_v4)
            continue;
        u128 lo = ip128(&c->net), hi = lo | ~ip128(&c->mask);
        e[ne++] = (edge_t){lo, (int)i, true};
        if (hi != ~(u128)0) /* a range reaching the top never closes */
            e[ne++] = (edge_t){hi + 1, (int)i, false};
    }
    qsort(e, ne, sizeof(*e), edge_cmp);
    bool *active = hs_calloc(a->n + 1, sizeof(bool));
    heap_t h = {hs_malloc((a->n + 1) * sizeof(int)), 0};
    t->start = hs_malloc((ne + 1) * sizeof(u128));
    t->rule = hs_malloc((ne + 1) * sizeof(int));
    t->start[0] = 0;
    t->rule[0] = -1;
    t->n = 1;
    for (size_t k = 0; k < ne;) {
        u128 at = e[k].at;
        for (; k < ne && e[k].at == at; k++) {
            active[e[k].idx] = e[k].open;
            if (e[k].open)
                heap_push(&h, e[k].idx);
        }
        while (h.n > 0 && !active[h.v[0]])
            heap_pop(&h);
        int best = h.n > 0 ? h.v[0] : -1;
        if (best == t->rule[t->n - 1])
            continue; /* the same answer as the range before: merge */
        if (t->start[t->n - 1] == at)
            t->rule[t->n - 1] = best; /* (only at address 0) */
        else {
            t->start[t->n] = at;
            t->rule[t->n] = best;
            t->n++;
        }
    }
    free(h.v);
    free(active);
    free(e);
}

void hs_acl_compile(hs_acl_t *a)
{
    if (a->compiled)
        return;
    a->compiled = true;
    if (a->n <= SCAN_MAX)
        return;
    build_table(a, &a->v4, true);
    build_table(a, &a->v6, false);
}

static int table_find(const table_t *t, u128 x)
{
    size_t lo = 0, hi = t->n; /* the last start <= x lies in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->start[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    return t->rule[lo];
}

int hs_acl_match(const hs_acl_t *a, const hs_ip_t *ip)
{
    if (!a)
        return -1;
    if (a->n <= SCAN_MAX || !a->compiled) {
        for (size_t i = 0; i < a->n; i++)
            if (hs_cidr_match(&a->rules[i].cidr, ip))
                return (int)i;
        return -1;
    }
    return table_find(hs_ip_is_v4(ip) ? &a->v4 : &a->v6, ip128(ip));
}
