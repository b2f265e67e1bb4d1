/* statusd — IP addresses, CIDR blocks and ordered address rules (src/core/cidr.c), for the
 * policy rules (allow/deny, trusted front proxies, captive-portal admissions) and rate-limit keys.
 *
 * One representation for both families: an address is 128 bits, IPv4 ones as IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), so that a peer reaching an IPv6 socket from IPv4
 * and a peer on an IPv4 socket are the same client. Matching is two masked 64-bit compares.
 *
 * Which rules see an IPv4 client: rules written in IPv4 notation ("10.0.0.0/8"), rules written
 * inside ::ffff:0:0/96 ("::ffff:10.0.0.0/104"), and "all". An IPv6 rule that merely contains the
 * mapped block ("::/0", "::/8") does not: "deny ::/0" refuses IPv6 clients, not IPv4 ones.
 *
 * Ownership and threads: hs_ip_t and hs_cidr_t are plain values. An hs_acl_t is built by one
 * thread (configuration), then compiled; after hs_acl_compile it is read-only and may be matched
 * from any number of threads at once without locks. Nothing here allocates except the acl. */
#ifndef HS_CIDR_H
#define HS_CIDR_H

#include "hs/core.h"

#include <sys/socket.h>

/* An address as a 128-bit big-endian number split in two halves (host byte order). */
typedef struct hs_ip_s {
    uint64_t hi, lo;
} hs_ip_t;

#define HS_IP_V4_MAPPED_HI 0ULL
#define HS_IP_V4_MAPPED_LO 0x0000ffff00000000ULL

static inline bool hs_ip_is_v4(const hs_ip_t *ip)
{
    return ip->hi == 0 && (ip->lo >> 32) == 0xffffULL;
}
static inline bool hs_ip_eq(const hs_ip_t *a, const hs_ip_t *b)
{
    return a->hi == b->hi && a->lo == b->lo;
}
/* An IPv4 address given as a host-order 32-bit number. */
static inline hs_ip_t hs_ip_v4(uint32_t v4)
{
    return (hs_ip_t){HS_IP_V4_MAPPED_HI, HS_IP_V4_MAPPED_LO | v4};
}

/* The address of an AF_INET or AF_INET6 socket address (a v4-mapped IPv6 one stays mapped, which
 * is the IPv4 form here). false (and *out zeroed) for another family or NULL. */
bool hs_ip_from_sockaddr(const struct sockaddr *sa, hs_ip_t *out);
/* The address as an AF_INET (mapped addresses) or AF_INET6 socket address with port 0; returns
 * its length. */
socklen_t hs_ip_to_sockaddr(const hs_ip_t *ip, struct sockaddr_storage *out);
/* Parse an address in text: dotted-quad IPv4 ("192.0.2.1", four decimal parts without leading
 * zeros) or IPv6 (RFC 4291 §2.2, "2001:db8::1", "::ffff:192.0.2.1"), without brackets, port or
 * zone. HS_OK, or HS_ERROR (and *out untouched) for anything else. */
int hs_ip_parse(hs_iovec_t s, hs_ip_t *out);
#define HS_IP_MAX 46 /* INET6_ADDRSTRLEN: room for any address and its NUL */
/* The address as text into out (n bytes, NUL-terminated when n > 0): IPv4 in dotted quad, other
 * addresses in the RFC 5952 form. Returns the length without the NUL (0 when n is too small). */
size_t hs_ip_format(const hs_ip_t *ip, char *out, size_t n);
/* The address with everything after its network prefix cleared: v4_bits for IPv4 addresses,
 * v6_bits for the others (0..32, 0..128) — e.g. one rate-limit key per IPv6 /64. */
hs_ip_t hs_ip_prefix(const hs_ip_t *ip, unsigned v4_bits, unsigned v6_bits);

/* ---- CIDR blocks ---- */
typedef struct hs_cidr_s {
    hs_ip_t net, mask; /* net has no bit outside mask */
    uint8_t bits;      /* prefix length in the 128-bit space (an IPv4 /8 is 104) */
    bool v4_notation;  /* written in IPv4 notation (a block inside ::ffff:0:0/96 is formatted as IPv4 anyway) */
    bool sees_v4;      /* may match IPv4 clients (see the header comment) */
} hs_cidr_t;

/* Parse "ADDR" (a single address: /32 or /128), "ADDR/BITS" or "all" (every address of both
 * families). BITS is decimal without leading zeros, at most 32 for IPv4 and 128 for IPv6. A
 * block with bits set after its prefix ("10.0.0.1/8") is refused, not silently masked: it is a
 * typo as often as not. HS_OK, or HS_ERROR with *err (when err is not NULL) set to a static
 * explanation. */
int hs_cidr_parse(hs_iovec_t s, hs_cidr_t *out, const char **err);
static inline bool hs_cidr_match(const hs_cidr_t *c, const hs_ip_t *ip)
{
    return ((ip->hi & c->mask.hi) == c->net.hi) & ((ip->lo & c->mask.lo) == c->net.lo) &
           (c->sees_v4 | !hs_ip_is_v4(ip));
}
#define HS_CIDR_MAX (HS_IP_MAX + 4)
/* The block as text ("10.0.0.0/8", "2001:db8::/32", "all"); same contract as hs_ip_format. */
size_t hs_cidr_format(const hs_cidr_t *c, char *out, size_t n);

/* ---- Ordered rules: first match wins ----
 * Each rule is a block and an action, a small number the caller chooses (HS_ACL_ALLOW,
 * HS_ACL_DENY or its own). Lists of any length: up to a few rules are scanned in order; longer
 * ones (captive-portal admissions, blocklists) are compiled into a sorted table of disjoint
 * ranges, each with the first rule covering it, searched in O(log n). */
enum { HS_ACL_ALLOW = 0, HS_ACL_DENY = 1 };
typedef struct hs_acl_rule_s {
    hs_cidr_t cidr;
    int action;
} hs_acl_rule_t;
typedef struct hs_acl_s hs_acl_t;

hs_acl_t *hs_acl_new(void);
void hs_acl_free(hs_acl_t *a); /* NULL is fine */
/* Append a rule (before hs_acl_compile). HS_OK, or HS_ERROR past HS_ACL_MAX_RULES. */
#define HS_ACL_MAX_RULES 1000000
int hs_acl_add(hs_acl_t *a, const hs_cidr_t *c, int action);
/* Parse text with hs_cidr_parse and append it. HS_OK, or HS_ERROR with *err set. */
int hs_acl_add_text(hs_acl_t *a, hs_iovec_t text, int action, const char **err);
/* Freeze the list: build the lookup table when the list is long. Call once, after the last add
 * and before the first match; the list is read-only from then on. */
void hs_acl_compile(hs_acl_t *a);
/* The index of the first rule matching ip, or -1 when none does (the caller's default then
 * applies). A NULL acl matches nothing. Safe from any thread after hs_acl_compile. */
int hs_acl_match(const hs_acl_t *a, const hs_ip_t *ip);
size_t hs_acl_count(const hs_acl_t *a);
const hs_acl_rule_t *hs_acl_rule(const hs_acl_t *a, size_t i);
/* The action of the first matching rule, or dflt when none matches. */
static inline int hs_acl_action(const hs_acl_t *a, const hs_ip_t *ip, int dflt)
{
    int i = hs_acl_match(a, ip);
    return i < 0 ? dflt : hs_acl_rule(a, (size_t)i)->action;
}

#endif
