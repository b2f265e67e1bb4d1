/* statusd — forward-proxy mode (proxy.forward): requests that name where they go.
 *
 * A client configured to use a proxy sends it the whole URL (absolute-form, RFC 9112 §3.2.2:
 * "GET http://example.org/x HTTP/1.1"), or asks it for a tunnel (CONNECT example.org:443, RFC
 * 9110 §9.3.6; authority-form, RFC 9112 §3.2.3). On a path with proxy.forward the destination is
 * the authority of the target; everything after that — the lookup of its name, the connection,
 * the exchange, the causes and their statuses, Proxy-Status, the log — is the gateway's, as for
 * the upstreams of a reverse proxy (proxy.c). What is forward-only lives here:
 *
 *   the destination   the target's host and port, parsed strictly: a name is what DNS can
 *                     resolve (letters, digits, '-', '_', '.'), an address is IPv4 or [IPv6];
 *                     CONNECT needs its port (authority-form is host ":" port), absolute-form
 *                     takes 80 (http) or 443 (https). Anything else: 400 forward:bad_target.
 *   ports             a CONNECT only to connect_ports (default 443: a tunnel to port 25 sends
 *                     mail; squid's SSL_ports), other requests only to forward_ports (default 80,
 *                     443, 1024-65535: squid's Safe_ports without the protocols statusd does not
 *                     speak). Else 403 forward:port_denied, decided before any lookup.
 *   addresses         checked on the address actually connected to, after the lookup, so that a
 *                     name that resolves to 127.0.0.1 (or a rebinding DNS) gains nothing:
 *                     forward_deny (default loopback, "this network", the unspecified addresses
 *                     and link-local — 169.254.169.254 is a cloud's metadata service) refuses,
 *                     forward_allow (when given) is the only addresses allowed. Else 403
 *                     forward:destination_denied.
 *   host names        checked on the target as the client wrote it, before any lookup, so that
 *                     a name that may not be reached is never looked up: forward_hosts_deny
 *                     refuses, forward_hosts (when given) is the only destinations allowed — an
 *                     egress allow list ("*.debian.org, .github.com"). A target written as an
 *                     address matches only an entry written as that address, so an allow list
 *                     of names is not bypassed by the address of some other host. Else 403
 *                     forward:host_denied.
 *
 * Every refusal carries Proxy-Status (RFC 9209 §2.3: http_request_error for a target we cannot
 * use, http_request_denied for a port or a host name, destination_ip_prohibited for an address). */
#define _GNU_SOURCE
#include "proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

const hs_cause_info_t hs__proxy_causes[PROXY_CAUSE__COUNT] = {
    [PROXY_CAUSE_BAD_TARGET] = {"forward:bad_target",
                                400,
                                {0},
                                "proxy.forward",
                                "A forward-proxy request whose destination cannot be used: CONNECT without a port, "
                                "a host that is no name or address, a CONNECT with content."},
    [PROXY_CAUSE_PORT_DENIED] = {"forward:port_denied",
                                 403,
                                 {0},
                                 "proxy.connect_ports",
                                 "The forward proxy may not connect to that port (proxy.connect_ports for CONNECT, "
                                 "proxy.forward_ports for other requests)."},
    [PROXY_CAUSE_DEST_DENIED] = {"forward:destination_denied",
                                 403,
                                 {0},
                                 "proxy.forward_deny",
                                 "The destination's address is in proxy.forward_deny (by default loopback and "
                                 "link-local) or not in proxy.forward_allow."},
    [PROXY_CAUSE_ORIGIN_FORM] = {"forward:origin_form",
                                 421,
                                 {0},
                                 "proxy.forward",
                                 "An origin-form request on a forward-proxy path without upstreams: this server "
                                 "is no origin for it (send the absolute URL, or CONNECT)."},
    [PROXY_CAUSE_HOST_DENIED] =
        {"forward:host_denied",
         403,
         {0},
         "proxy.forward_hosts",
         "The forward proxy may not go to the host the request names: it is in "
         "proxy.forward_hosts_deny, or not in proxy.forward_hosts (checked before any lookup)."},
};

/* RFC 9209 §2.3 error types of the refusals */
static const char *const ps_type[PROXY_CAUSE__COUNT] = {
    [PROXY_CAUSE_BAD_TARGET] = "http_request_error",         /* a target we cannot use */
    [PROXY_CAUSE_PORT_DENIED] = "http_request_denied",       /* the port */
    [PROXY_CAUSE_DEST_DENIED] = "destination_ip_prohibited", /* the address connected to */
    [PROXY_CAUSE_ORIGIN_FORM] = "http_request_error",        /* not a forward request */
    [PROXY_CAUSE_HOST_DENIED] = "http_request_denied",       /* the name the request gave */
};

/* ---- ports ---- */
static bool parse_port(const char *p, size_t n, uint16_t *out)
{
    unsigned long v = 0;
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

int hs__proxy_parse_ports(const char *list, proxy_ports_t *out, char *err, size_t errlen)
{
    out->n = 0;
    if (!list || !strcmp(list, "none"))
        return HS_OK;
    size_t k;
    for (const char *s; (s = hs__proxy_list_next(&list, &k)) != NULL;) {
        if (out->n == PROXY_MAX_PORT_RANGES) {
            snprintf(err, errlen, "at most %d ports or ranges", PROXY_MAX_PORT_RANGES);
            return HS_ERROR;
        }
        uint16_t lo, hi;
        const char *dash = memchr(s, '-', k);
        bool good;
        if (k == 1 && *s == '*') {
            lo = 1, hi = 65535, good = true;
        } else if (dash) {
            good = parse_port(s, (size_t)(dash - s), &lo) && parse_port(dash + 1, k - (size_t)(dash - s) - 1, &hi) &&
                   lo <= hi;
        } else {
            good = parse_port(s, k, &lo);
            hi = lo;
        }
        if (!good) {
            snprintf(err, errlen, "'%.*s' is not a port (1-65535), a range LOW-HIGH or *", (int)HS_MIN(k, (size_t)40),
                     s);
            return HS_ERROR;
        }
        out->lo[out->n] = lo;
        out->hi[out->n] = hi;
        out->n++;
    }
    return HS_OK;
}

bool hs__proxy_port_allowed(const proxy_ports_t *p, uint16_t port)
{
    for (unsigned i = 0; i < p->n; i++)
        if (port >= p->lo[i] && port <= p->hi[i])
            return true;
    return false;
}

/* ---- the destination ---- */
static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
}

int hs__proxy_parse_authority(hs_iovec_t a, bool need_port, uint16_t default_port, char *host, size_t hostcap,
                              uint16_t *port, const char **why)
{
    const char *p = a.base, *end = a.base + a.len, *h, *he;
    if (!a.base || a.len == 0) {
        *why = "the target names no host";
        return HS_ERROR;
    }
    if (*p == '[') { /* IP-literal (RFC 3986 §3.2.2): IPv6 only (no IPvFuture, no zone) */
        h = p + 1;
        he = memchr(h, ']', (size_t)(end - h));
        if (!he) {
            *why = "an IPv6 address in the target lacks its ']'";
            return HS_ERROR;
        }
        p = he + 1;
    } else {
        h = p;
        while (p < end && *p != ':')
            p++;
        he = p;
    }
    size_t hl = (size_t)(he - h);
    if (hl == 0 || hl > 253 || hl >= hostcap) {
        *why = hl == 0 ? "the target names no host" : "the target's host name is too long";
        return HS_ERROR;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (h > a.base) {
        struct in6_addr a6;
        if (memchr(host, '\0', hl) || inet_pton(AF_INET6, host, &a6) != 1) {
            *why = "the target's [address] is not an IPv6 address";
            return HS_ERROR;
        }
    } else {
        for (size_t i = 0; i < hl; i++)
            if (!name_char(host[i])) {
                *why = "the target's host is neither a DNS name nor an IPv4 address";
                return HS_ERROR;
            }
        if (host[0] == '.' || host[0] == '-' || strstr(host, "..")) {
            *why = "the target's host is not a valid DNS name";
            return HS_ERROR;
        }
    }
    if (p == end || (p + 1 == end && *p == ':')) { /* no port, or an empty one (RFC 3986 §3.2.3) */
        if (need_port) {
            *why = "CONNECT needs host:port (RFC 9112 §3.2.3)";
            return HS_ERROR;
        }
        *port = default_port;
        return HS_OK;
    }
    if (*p != ':' || !parse_port(p + 1, (size_t)(end - p - 1), port)) {
        *why = "the target's port is not a number from 1 to 65535";
        return HS_ERROR;
    }
    return HS_OK;
}

/* ---- host lists ---- */

/* A name without its final dot, lowercased into out (cap 254). Its length, or 0 if it is no name
 * (what parse_authority accepts: name bytes, not starting with '.' or '-', no ".."). */
static size_t norm_name(const char *p, size_t n, char *out)
{
    if (n && p[n - 1] == '.')
        n--;
    if (n == 0 || n > 253 || p[0] == '.' || p[0] == '-' || p[n - 1] == '.') /* "a.." is no name */
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!name_char(c) || (c == '.' && i + 1 < n && p[i + 1] == '.'))
            return 0;
        out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return n;
}

/* An IPv4 address in any form the resolver takes as one (inet_aton: "127.1" and "0x7f.0.0.1" are
 * 127.0.0.1; getaddrinfo reads numeric hosts so), so that a list naming 10.0.0.1 is not passed by
 * writing it another way. */
static bool ipv4(const char *text, uint8_t out[4])
{
    struct in_addr in;
    if (!inet_aton(text, &in))
        return false;
    memcpy(out, &in.s_addr, 4);
    return true;
}

int hs__proxy_parse_hosts(const char *list, proxy_hostpat_t *out, int max, char *err, size_t errlen)
{
    int n = 0;
    if (!list || !strcmp(list, "none"))
        return 0;
    size_t k;
    for (const char *s; (s = hs__proxy_list_next(&list, &k)) != NULL;) {
        if (n == max) {
            snprintf(err, errlen, "at most %d entries", max);
            return -1;
        }
        proxy_hostpat_t *h = &out[n];
        memset(h, 0, sizeof(*h));
        char text[256];
        bool good = k < sizeof(text);
        if (good) {
            memcpy(text, s, k);
            text[k] = '\0';
        }
        if (good && text[0] == '[') { /* [IPv6] */
            good = k > 2 && text[k - 1] == ']';
            if (good) {
                text[k - 1] = '\0';
                good = inet_pton(AF_INET6, text + 1, h->addr) == 1;
            }
            h->kind = PROXY_HOST_ADDR6;
        } else if (good && inet_pton(AF_INET6, text, h->addr) == 1) {
            h->kind = PROXY_HOST_ADDR6;
        } else if (good && ipv4(text, h->addr)) {
            h->kind = PROXY_HOST_ADDR4;
        } else if (good) {
            const char *name = text;
            h->kind = PROXY_HOST_NAME;
            if (text[0] == '*' && text[1] == '.')
                h->kind = PROXY_HOST_SUBDOMAINS, name += 2;
            else if (text[0] == '.')
                h->kind = PROXY_HOST_DOMAIN, name += 1;
            size_t len = norm_name(name, strlen(name), h->name);
            uint8_t a[4];
            good = len > 0 && !ipv4(h->name, a); /* "192.0.2.1." is neither a name nor, written so, an address */
            h->len = (uint8_t)len;
        }
        if (!good) {
            snprintf(err, errlen,
                     "'%.*s' is not a host name, *.domain, .domain or an address (a host name is letters, digits, "
                     "'-', '_' and dots)",
                     (int)HS_MIN(k, (size_t)60), s);
            return -1;
        }
        n++;
    }
    return n;
}

bool hs__proxy_host_match(const proxy_hostpat_t *list, int n, const char *host)
{
    uint8_t a[16];
    int fam = strchr(host, ':') ? AF_INET6 : ipv4(host, a) ? AF_INET : 0;
    if (fam == AF_INET6 && inet_pton(AF_INET6, host, a) != 1)
        return false;
    char name[254];
    size_t nl = fam ? 0 : norm_name(host, strlen(host), name);
    if (!fam && nl == 0)
        return false;
    for (int i = 0; i < n; i++) {
        const proxy_hostpat_t *h = &list[i];
        switch (h->kind) {
        case PROXY_HOST_ADDR4:
            if (fam == AF_INET && !memcmp(a, h->addr, 4))
                return true;
            break;
        case PROXY_HOST_ADDR6:
            if (fam == AF_INET6 && !memcmp(a, h->addr, 16))
                return true;
            break;
        default: /* names: a target written as an address matches none */
            if (fam)
                break;
            if (h->kind != PROXY_HOST_SUBDOMAINS && nl == h->len && !memcmp(name, h->name, nl))
                return true;
            if (h->kind != PROXY_HOST_NAME && nl > h->len && name[nl - h->len - 1] == '.' &&
                !memcmp(name + nl - h->len, h->name, h->len))
                return true;
        }
    }
    return false;
}

/* A name state of the request's own (counted: a lookup on a helper thread holds it too). */
static proxy_dns_t *dns_new(const char *host, uint16_t port, uint64_t timeout_ms)
{
    proxy_dns_t *d = hs_calloc(1, sizeof(*d));
    atomic_init(&d->refs, 1);
    pthread_mutex_init(&d->mu, NULL);
    d->name = hs_strdup(host);
    snprintf(d->port, sizeof(d->port), "%u", port);
    d->timeout_ms = timeout_ms;
    return d;
}

int hs__proxy_forward_target(hs_req_t *req, const proxy_conf_t *pc, proxy_target_t **out)
{
    bool tunnel = req->p.method_id == HS_METHOD_CONNECT;
    /* absolute-form with https: the proxy speaks TLS to the origin (clients use CONNECT for it,
     * but RFC 9112 §3.2.2 allows it) */
    bool tls = !tunnel && req->p.target.len > 8 && hs_iov_ieq(hs_iov(req->p.target.base, 8), "https://", 8);
    char host[256];
    uint16_t port;
    const char *why = NULL;
    if (hs__proxy_parse_authority(req->p.authority, tunnel, tls ? 443 : 80, host, sizeof(host), &port, &why) != HS_OK) {
        hs__proxy_forward_refuse(req, pc, PROXY_CAUSE_BAD_TARGET, why);
        return HS_DONE;
    }
    if (tunnel && (req->meta.chunked || req->meta.content_length > 0)) {
        /* RFC 9110 §9.3.6: "A CONNECT request message does not have content" — bytes after the
         * head would be taken for the tunnel's or for a body: we do not guess */
        hs__proxy_forward_refuse(req, pc, PROXY_CAUSE_BAD_TARGET, "a CONNECT request has no content");
        return HS_DONE;
    }
    if (!hs__proxy_port_allowed(tunnel ? &pc->cports : &pc->fports, port)) {
        hs__proxy_forward_refuse(req, pc, PROXY_CAUSE_PORT_DENIED,
                                 hs_arena_printf(&req->arena, "%s to port %u is not allowed here (%s)",
                                                 tunnel ? "CONNECT" : "a request", port,
                                                 tunnel ? "proxy.connect_ports" : "proxy.forward_ports")
                                     .base);
        return HS_DONE;
    }
    /* the names, before any lookup (a name that may not be reached is not looked up either) */
    bool denied = pc->nhdeny && hs__proxy_host_match(pc->hdeny, pc->nhdeny, host);
    if (denied || (pc->nhallow && !hs__proxy_host_match(pc->hallow, pc->nhallow, host))) {
        hs__proxy_forward_refuse(req, pc, PROXY_CAUSE_HOST_DENIED,
                                 hs_arena_printf(&req->arena, "the forward proxy may not go to %s (%s)", host,
                                                 denied ? "proxy.forward_hosts_deny" : "not in proxy.forward_hosts")
                                     .base);
        return HS_DONE;
    }
    proxy_upstream_t *up = hs_arena_alloc(&req->arena, sizeof(*up));
    memset(up, 0, sizeof(*up));
    up->index = PROXY_FORWARD_INDEX;
    up->port = port;
    up->tls = tls;
    bool v6 = strchr(host, ':') != NULL;
    up->host = hs_arena_printf(&req->arena, "%s", host).base;
    up->authority = hs_arena_printf(&req->arena, v6 ? "[%s]:%u" : "%s:%u", host, port).base;
    up->host_field =
        port == (tls ? 443 : 80) ? hs_arena_printf(&req->arena, v6 ? "[%s]" : "%s", host).base : up->authority;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&up->addr;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&up->addr;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        up->addrlen = sizeof(*s4);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        up->addrlen = sizeof(*s6);
    } else {
        const proxy_conf_t *top = hs_req_top(req)->mod[hs_module_proxy.index];
        up->dns = dns_new(host, port, top->dns_timeout);
    }
    proxy_target_t *t = hs_arena_alloc(&req->arena, sizeof(*t));
    *t = (proxy_target_t){.up = up};
    *out = t;
    return HS_OK;
}

bool hs__proxy_forward_addr_ok(const proxy_conf_t *pc, const struct sockaddr *sa)
{
    if (pc->nfdeny && hs__proxy_cidr_match(pc->fdeny, pc->nfdeny, sa))
        return false;
    return !pc->nfallow || hs__proxy_cidr_match(pc->fallow, pc->nfallow, sa);
}

void hs__proxy_forward_refuse(hs_req_t *req, const proxy_conf_t *pc, int cause, const char *detail)
{
    const hs_cause_info_t *ci = &hs__proxy_causes[cause];
    /* A client may send its first tunnel bytes (a TLS ClientHello) right behind CONNECT: after a
     * refusal they must not be read as the next request. The connection ends with the answer. */
    if (req->p.method_id == HS_METHOD_CONNECT)
        req->res_close = true;
    /* Proxy-Status: NAME; error=TYPE; details="ID" (RFC 9209 §2; the id is an sf-string as it is:
     * [a-z_:]) */
    if (pc->name_token) {
        hs_res_headerf(req, "Proxy-Status", "%s; error=%s; details=\"%s\"", pc->name, ps_type[cause], ci->id);
    } else { /* an sf-string (RFC 8941 §3.3.3): '"' and '\\' escaped, other bytes outside 0x20-0x7e as '?' */
        char name[2 * 64 + 1], *q = name;
        for (const char *p = pc->name; *p && q < name + sizeof(name) - 2; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '"' || c == '\\')
                *q++ = '\\';
            *q++ = c >= 0x20 && c <= 0x7e ? (char)c : '?';
        }
        *q = '\0';
        hs_res_headerf(req, "Proxy-Status", "\"%s\"; error=%s; details=\"%s\"", name, ps_type[cause], ci->id);
    }
    hs_req_log_field(req, "forward", "%s", ci->id + 8); /* bad_target, port_denied … */
    hs_req_set_cause(req, hs_module_cause(&hs_module_proxy, (unsigned)cause));
    hs_res_error(req, ci->status,
                 hs_arena_printf(&req->arena, "%s (cause %s; request %llu)", detail ? detail : ci->summary, ci->id,
                                 (unsigned long long)req->id)
                     .base);
}
