/* statusd fuzz target: the forward proxy's parsers (src/modules/proxy/forward.c) — the
 * destination of a CONNECT or an absolute-form request (hs__proxy_parse_authority, on attacker
 * input) and the port lists of proxy.forward_ports / proxy.connect_ports (hs__proxy_parse_ports,
 * on configuration text), with the address lists beside them (hs__proxy_parse_cidrs).
 *
 * The first input byte picks need_port and the default port; the rest is the text, also given
 * to the parsers exactly sized (no NUL for the authority: ASan sees a read past it).
 * Checks: an accepted authority has a host of 1-253 bytes with no NUL, made of name bytes only
 * (letters, digits, '-', '_', '.'; not starting with '.' or '-', no "..") unless the input was
 * an [IPv6] literal, whose host then has a ':'; a port from 1 to 65535, the default exactly when
 * the input has no port; need_port refuses a port-less input. A refusal says why. Accepted port
 * lists have at most PROXY_MAX_PORT_RANGES ranges, each LOW <= HIGH within 1-65535, and
 * hs__proxy_port_allowed agrees with the ranges at their edges; written back as text they parse
 * to the same ranges. The host lists of proxy.forward_hosts (hs__proxy_parse_hosts, configuration
 * text) and their matching (hs__proxy_host_match, on the host of an accepted authority):
 * accepted name entries are lowercase name bytes without a final dot; each entry matches what it
 * says (a name itself, "*.d" a subdomain of d but not d, ".d" both) and the list matches the
 * host exactly when some one-entry list of it does. */
#define _GNU_SOURCE
#include "internal.h"
#include "../src/modules/proxy/proxy.h"
#include "fuzz_util.h"

#include <stdio.h>

static bool name_byte(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
}

static void authority(const uint8_t *data, size_t size, bool need_port, uint16_t def)
{
    char *exact = fuzz_dup(data, size); /* no NUL after it */
    char host[256];
    uint16_t port = 0;
    const char *why = NULL;
    int r = hs__proxy_parse_authority(hs_iov(exact, size), need_port, def, host, sizeof(host), &port, &why);
    if (r == HS_OK) {
        size_t hl = strlen(host);
        FUZZ_CHECK(hl >= 1 && hl <= 253, "host length %zu", hl);
        FUZZ_CHECK(port >= 1, "port 0");
        bool literal = size > 0 && exact[0] == '[';
        if (literal) {
            FUZZ_CHECK(strchr(host, ':') != NULL, "an [IPv6] host without ':': '%s'", host);
        } else {
            for (size_t i = 0; i < hl; i++)
                FUZZ_CHECK(name_byte(host[i]), "byte 0x%02x in a host name", (unsigned char)host[i]);
            FUZZ_CHECK(host[0] != '.' && host[0] != '-' && !strstr(host, ".."), "not a DNS name: '%s'", host);
        }
        /* the port part: what follows the host ("]" for a literal) */
        const char *after = literal ? memchr(exact, ']', size) : memchr(exact, ':', size);
        size_t rest = after ? size - (size_t)(after - exact) - (literal ? 1 : 0) : 0;
        bool has_port = rest > 1; /* ":" alone is an empty port (RFC 3986 §3.2.3) */
        FUZZ_CHECK(has_port || port == def, "no port, yet %u (default %u)", port, def);
        FUZZ_CHECK(has_port || !need_port, "accepted without the port it needs");
    } else {
        FUZZ_CHECK(why && *why, "a refusal without a reason");
    }
    free(exact);
}

static void ports(const char *text)
{
    proxy_ports_t p;
    char err[256];
    if (hs__proxy_parse_ports(text, &p, err, sizeof(err)) != HS_OK) {
        FUZZ_CHECK(err[0] != '\0', "an error without a message");
        return;
    }
    FUZZ_CHECK(p.n <= PROXY_MAX_PORT_RANGES, "%u ranges", p.n);
    char back[PROXY_MAX_PORT_RANGES * 12 + 1], *w = back;
    back[0] = '\0';
    for (unsigned i = 0; i < p.n; i++) {
        FUZZ_CHECK(p.lo[i] >= 1 && p.lo[i] <= p.hi[i], "range %u-%u", p.lo[i], p.hi[i]);
        FUZZ_CHECK(hs__proxy_port_allowed(&p, p.lo[i]) && hs__proxy_port_allowed(&p, p.hi[i]), "edges refused");
        w += sprintf(w, "%s%u-%u", i ? "," : "", p.lo[i], p.hi[i]);
    }
    FUZZ_CHECK(p.n || !hs__proxy_port_allowed(&p, 443), "an empty list allows a port");
    proxy_ports_t q;
    FUZZ_CHECK(hs__proxy_parse_ports(p.n ? back : "none", &q, err, sizeof(err)) == HS_OK && q.n == p.n &&
                   !memcmp(q.lo, p.lo, p.n * sizeof(p.lo[0])) && !memcmp(q.hi, p.hi, p.n * sizeof(p.hi[0])),
               "'%s' does not parse back", back);
}

static void hosts(const char *text, const char *host)
{
    static proxy_hostpat_t list[PROXY_MAX_HOSTS];
    char err[256];
    int n = hs__proxy_parse_hosts(text, list, PROXY_MAX_HOSTS, err, sizeof(err));
    FUZZ_CHECK(n >= -1 && n <= PROXY_MAX_HOSTS, "%d entries", n);
    if (n < 0) {
        FUZZ_CHECK(err[0] != '\0', "an error without a message");
        return;
    }
    bool any = false;
    for (int i = 0; i < n; i++) {
        const proxy_hostpat_t *h = &list[i];
        any |= hs__proxy_host_match(h, 1, host);
        if (h->kind == PROXY_HOST_ADDR4 || h->kind == PROXY_HOST_ADDR6)
            continue;
        FUZZ_CHECK(h->len >= 1 && h->len <= 253 && strlen(h->name) == h->len, "entry length %u", h->len);
        for (unsigned k = 0; k < h->len; k++)
            FUZZ_CHECK(name_byte(h->name[k]) && !(h->name[k] >= 'A' && h->name[k] <= 'Z'), "byte 0x%02x in an entry",
                       (unsigned char)h->name[k]);
        FUZZ_CHECK(h->name[h->len - 1] != '.', "a final dot kept: '%s'", h->name);
        FUZZ_CHECK(hs__proxy_host_match(h, 1, h->name) == (h->kind != PROXY_HOST_SUBDOMAINS), "'%s' itself",
                   h->name);
        if (h->len <= 250) {
            char sub[256];
            snprintf(sub, sizeof(sub), "a.%s", h->name);
            FUZZ_CHECK(hs__proxy_host_match(h, 1, sub) == (h->kind != PROXY_HOST_NAME), "'%s' under '%s'", sub,
                       h->name);
        }
    }
    FUZZ_CHECK(hs__proxy_host_match(list, n, host) == any, "the list and its entries disagree on '%s'", host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++, size--;
    authority(data, size, (mode & 1) != 0, (mode & 2) ? 443 : 80);
    char *text = fuzz_strdup(data, size);
    ports(text);
    /* a host list, and the host of the text's first word as a target names it */
    char host[256] = "";
    uint16_t port;
    const char *why;
    size_t w = strcspn(text, " ,\t");
    if (hs__proxy_parse_authority(hs_iov(text, w), false, 80, host, sizeof(host), &port, &why) != HS_OK)
        snprintf(host, sizeof(host), "example.org");
    hosts(text, host);
    hs_cidr_t cidrs[PROXY_MAX_DEST];
    char err[256];
    int n = hs__proxy_parse_cidrs(text, cidrs, PROXY_MAX_DEST, err, sizeof(err));
    FUZZ_CHECK(n >= -1 && n <= PROXY_MAX_DEST, "%d blocks", n);
    free(text);
    return 0;
}
