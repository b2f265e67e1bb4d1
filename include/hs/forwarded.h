/* statusd — the client behind trusted front proxies (src/http/forwarded.c): `Forwarded`
 * (RFC 7239) or `X-Forwarded-For`, walked from the right while the hops are trusted.
 *
 * The connection's peer is the last hop. When it is a trusted proxy, the element it appended —
 * the rightmost — names the hop before it; if that one is trusted too, the walk goes on to the
 * left, and so on. The first hop that is not trusted is the client: everything to its left was
 * written by the client itself (or by proxies nobody vouches for) and is never believed. When
 * every hop is trusted, the leftmost one is the client.
 *
 * Only one of the two fields is read, as configured: reading both would let a client pick the
 * one its proxy did not rewrite. Field lines are given in the order they arrived; a proxy that
 * adds a new line instead of appending to the last one is the same list (RFC 9110 §5.3).
 *
 * Nothing is allocated; the result's identifier is a slice of the values passed in, or of a
 * buffer inside the result. Safe from any thread (the acl is read-only once compiled). */
#ifndef HS_FORWARDED_H
#define HS_FORWARDED_H

#include "hs/cidr.h"

enum {
    HS_FWD_FORWARDED = 1, /* Forwarded: for=… (RFC 7239 §5.2) */
    HS_FWD_XFF = 2,       /* X-Forwarded-For: addr, addr, … (de facto) */
};

/* What the walk ended on. */
enum {
    HS_FWD_ADDR = 0,       /* an address: out->addr (maybe the peer: no hop trusted, no field) */
    HS_FWD_UNKNOWN = 1,    /* "unknown", or a Forwarded element without for= (RFC 7239 §6.2) */
    HS_FWD_OBFUSCATED = 2, /* an obfuscated identifier "_abc" (RFC 7239 §6.3): out->node */
    HS_FWD_MALFORMED = 3,  /* the walk reached text that does not parse: out->detail */
};

#define HS_FWD_MAX_HOPS 64 /* trusted hops walked at most; a longer chain ends as malformed */

typedef struct hs_fwd_result_s {
    hs_ip_t addr;       /* HS_FWD_ADDR: the client's address; otherwise the last address reached (the
                           trusted hop that wrote the element the walk stopped at) */
    int kind;           /* HS_FWD_* above */
    unsigned hops;      /* trusted proxies passed (0: the peer is the client) */
    uint16_t port;      /* the client's port when the element gave a numeric one, else 0 */
    hs_iovec_t node;    /* HS_FWD_OBFUSCATED: the identifier, e.g. "_hidden" (a slice of node_buf) */
    const char *detail; /* HS_FWD_MALFORMED: a static explanation */
    char node_buf[64];
} hs_fwd_result_t;

/* Walk the field lines values[0..n) (the values of every Forwarded or every X-Forwarded-For line,
 * in order) from the right, starting at the peer, believing hops that `trusted` matches (the
 * action of the matching rule does not matter: any rule that matches is trust; NULL trusts
 * nobody). Returns HS_OK when it ended on an address (kind HS_FWD_ADDR), HS_DECLINED when it
 * ended on "unknown" or an obfuscated identifier, HS_ERROR when it reached malformed text; out is
 * filled in every case. How the caller may use the outcomes:
 *   - address rules: only HS_OK gives an address to match; for the others, treat the client as
 *     unidentified (e.g. deny when an allow list is in force) or use out->addr (the proxy);
 *   - rate-limit keys: out->addr for HS_OK, out->node for an obfuscated identifier. */
int hs_fwd_client(const hs_ip_t *peer, const hs_acl_t *trusted, int mode, const hs_iovec_t *values, size_t n,
                  hs_fwd_result_t *out);

/* One node as written in a Forwarded for=/by= parameter, after unquoting (RFC 7239 §6):
 * "192.0.2.43", "192.0.2.43:47011", "[2001:db8:cafe::17]", "[2001:db8:cafe::17]:4711",
 * "unknown", "_hidden", "_hidden:_port". Returns HS_FWD_ADDR (addr and port set; port 0 when
 * absent or obfuscated), HS_FWD_UNKNOWN, HS_FWD_OBFUSCATED, or HS_FWD_MALFORMED. */
int hs_fwd_parse_node(hs_iovec_t s, hs_ip_t *addr, uint16_t *port);

#endif
