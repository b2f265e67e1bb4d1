/* statusd — the reverse proxy's configuration: its directives, the URL and address syntax it
 * accepts, and the registry of upstreams built when a configuration is checked.
 *
 * Two spellings name a path's upstreams. In YAML, `proxy: {upstreams: [URL, …], errors: …}` on a
 * path (the nested mapping gives `proxy.upstreams`, `proxy.errors` …); on the command line
 * `--proxy URL` (repeatable), the flag form for the default path of a configuration without
 * hosts, which also takes `--proxy-errors`, `--proxy-connect-timeout` … Both fill one list.
 * A path that names its own upstreams starts a new list; one that does not shares its parent's
 * (and its round-robin position).
 *
 * Without hosts, `--proxy` serves `/`: the client-testing API then moves under `--api-prefix`
 * (as it does for `--root`) and `/codes` stays statusd's own. `--proxy` with `--root` is refused
 * (both would serve `/`): a configuration file with paths puts them side by side. */
#define _GNU_SOURCE
#include "proxy.h"

#include "hs/tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#define OFF(f) offsetof(proxy_conf_t, f)
#define PATHS (HS_SCOPE_TOP | HS_SCOPE_PATH)
#define ALL HS_SCOPE_ALL
#define TOP HS_SCOPE_TOP

static int set_url(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err, size_t errlen);

HS_DIRECTIVES_BEGIN
const hs_directive_t hs__proxy_directives[] = {
    {"proxy", HS_DT_STRING, OFF(list), "", "URL",
     "reverse-proxy / to this upstream (http:// or https://host[:port][/path]; repeatable: requests are balanced); "
     "the flag "
     "form of proxy.upstreams for a configuration without hosts",
     0, 0, TOP, set_url},
    {"proxy.upstreams", HS_DT_LIST, OFF(list), "", "URL",
     "the upstreams of a path (http:// or https://host[:port][/path], repeatable); naming them makes the path a "
     "reverse proxy; a URL with a path replaces the path's prefix by it; https: TLS to the upstream (port 443 by "
     "default), its certificate verified for the host (proxy.tls.*)",
     0, 0, PATHS, set_url},
    {"proxy.forward", HS_DT_BOOL, OFF(forward), "false", "BOOL",
     "forward-proxy mode: absolute-form requests (GET http://host/…) go to the host they name and CONNECT "
     "host:port opens a tunnel (RFC 9110 §9.3.6); origin-form requests go to proxy.upstreams, or get 421 without "
     "them; CONNECT is served by the host's /",
     0, 0, PATHS},
    {"proxy.forward_ports", HS_DT_STRING, OFF(forward_ports), "80, 443, 1024-65535", "PORTS",
     "ports absolute-form requests may go to: ports and ranges LOW-HIGH, * for any, none (403 forward:port_denied "
     "beyond)",
     0, 0, ALL},
    {"proxy.connect_ports", HS_DT_STRING, OFF(connect_ports), "443", "PORTS",
     "ports CONNECT may open tunnels to (squid's SSL_ports): ports and ranges, * for any, none (403 "
     "forward:port_denied beyond)",
     0, 0, ALL},
    {"proxy.forward_allow", HS_DT_STRING, OFF(forward_allow), "", "CIDRS",
     "when given, the only destination addresses the forward proxy connects to (checked after the lookup; 403 "
     "forward:destination_denied beyond)",
     0, 0, ALL},
    {"proxy.forward_deny", HS_DT_STRING, OFF(forward_deny),
     "127.0.0.0/8, ::1, 0.0.0.0/8, ::, 169.254.0.0/16, fe80::/10", "CIDRS|none",
     "destination addresses the forward proxy never connects to, even when forward_allow lists them (default: "
     "loopback, unspecified, link-local; checked after the lookup; 403 forward:destination_denied)",
     0, 0, ALL},
    {"proxy.forward_hosts", HS_DT_STRING, OFF(forward_hosts), "", "HOSTS",
     "when given, the only destinations the forward proxy goes to, by the host the request names (checked before "
     "the lookup): names, *.domain (its subdomains), .domain (it and its subdomains), addresses (a target written as "
     "an address must be listed as one); 403 forward:host_denied beyond",
     0, 0, ALL},
    {"proxy.forward_hosts_deny", HS_DT_STRING, OFF(forward_hosts_deny), "", "HOSTS",
     "destinations the forward proxy never goes to, even when forward_hosts lists them (the same forms, checked "
     "first; 403 forward:host_denied)",
     0, 0, ALL},
    {"proxy.errors", HS_DT_STRING, OFF(errors), "standard", "MODE",
     "the statuses for upstream failures: standard (502/503/504), detailed (Cloudflare's 52x and 530) or "
     "timeouts (598/599 for timeouts); see 'statusd explain --causes'",
     0, 0, ALL},
    {"proxy.connect_timeout", HS_DT_DURATION, OFF(connect_timeout), "5s", "DURATION",
     "time to connect to an upstream, the TLS handshake of an https upstream included (connect_timeout cause beyond)",
     1, 3600000, ALL},
    {"proxy.tls.ca", HS_DT_STRING, OFF(tls_ca), "", "FILE",
     "PEM file of the authorities an https upstream's certificate must chain to (default: the system's store)", 0, 0,
     ALL},
    {"proxy.tls.insecure", HS_DT_BOOL, OFF(tls_insecure), "false", "BOOL",
     "do not verify https upstreams' certificates (tests, private networks): any certificate, any name", 0, 0, ALL},
    {"proxy.tls.cert", HS_DT_STRING, OFF(tls_cert), "", "FILE",
     "PEM client certificate (then its chain) presented to https upstreams that ask for one", 0, 0, ALL},
    {"proxy.tls.key", HS_DT_STRING, OFF(tls_key), "", "FILE",
     "PEM private key of proxy.tls.cert (default: in that file)", 0, 0, ALL},
    {"proxy.send_timeout", HS_DT_DURATION, OFF(send_timeout), "60s", "DURATION",
     "longest time an upstream may take no request bytes (send_timeout cause beyond)", 1, 86400000, ALL},
    {"proxy.read_timeout", HS_DT_DURATION, OFF(read_timeout), "60s", "DURATION",
     "time from the request's end to the upstream's whole response head (head_timeout cause beyond)", 1, 86400000, ALL},
    {"proxy.idle_timeout", HS_DT_DURATION, OFF(idle_timeout), "60s", "DURATION",
     "longest silence of an upstream within a response body or a tunnel (the body then ends abortively)", 1, 86400000,
     ALL},
    {"proxy.balance", HS_DT_STRING, OFF(balance), "round_robin", "WAY",
     "how an upstream is chosen: round_robin, least_conn or hash (consistent hash of proxy.hash_key)", 0, 0, ALL},
    {"proxy.hash_key", HS_DT_STRING, OFF(hash_key), "ip", "KEY",
     "what balance: hash hashes: ip (the client's address), uri, host, or header:NAME", 0, 0, ALL},
    {"proxy.retries", HS_DT_INT, OFF(retries), "1", "N",
     "further attempts on other upstreams after a failure before the response head (any method when the "
     "request never reached the upstream, else idempotent methods only: RFC 9110 §9.2.2)",
     0, 16, ALL},
    {"proxy.retry_idempotency_key", HS_DT_BOOL, OFF(retry_idempotency_key), "false", "BOOL",
     "treat a request carrying Idempotency-Key as idempotent for retries", 0, 0, ALL},
    {"proxy.reuse_idle_max", HS_DT_DURATION, OFF(reuse_idle_max), "1s", "DURATION",
     "a request that may not be retried is never sent on a pooled connection idle longer than this (the "
     "keep-alive race); keep it below the upstreams' keep-alive timeout; 0 = no limit",
     0, 86400000, ALL},
    {"proxy.host", HS_DT_STRING, OFF(host), "pass", "pass|upstream|NAME",
     "the Host sent upstream: the client's (pass), the upstream's host and port (upstream), or NAME", 0, 0, ALL},
    {"proxy.trusted_proxies", HS_DT_STRING, OFF(trusted_proxies), "", "CIDRS",
     "comma-separated addresses or networks whose Forwarded and X-Forwarded-* fields are kept and extended (from "
     "any other client they are replaced)",
     0, 0, ALL},
    {"proxy.forwarded", HS_DT_BOOL, OFF(forwarded), "true", "BOOL", "send Forwarded (RFC 7239) upstream", 0, 0, ALL},
    {"proxy.x_forwarded", HS_DT_BOOL, OFF(x_forwarded), "true", "BOOL",
     "send X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host upstream", 0, 0, ALL},
    {"proxy.via", HS_DT_STRING, OFF(via), "", "NAME|off",
     "this gateway's pseudonym in Via (RFC 9110 §7.6.3), also used to refuse loops (default: statusd- and a "
     "random id made at start); off sends no Via and detects no loops",
     0, 0, ALL},
    {"proxy.name", HS_DT_STRING, OFF(name), "statusd", "NAME", "this gateway's name in Proxy-Status (RFC 9209)", 0, 0,
     ALL},
    {"proxy.expose_upstream", HS_DT_BOOL, OFF(expose_upstream), "false", "BOOL",
     "name the upstream's address in error pages and Proxy-Status (next-hop); off: only the access log has it", 0, 0,
     ALL},
    {"proxy.compress", HS_DT_BOOL, OFF(compress), "false", "BOOL",
     "gzip text-like 200 responses on the fly for clients that accept it, unless the upstream coded them or said "
     "Cache-Control: no-transform",
     0, 0, ALL},
    {"proxy.mark_transformed", HS_DT_BOOL, OFF(mark_transformed), "false", "BOOL",
     "answer 203 Non-Authoritative Information instead of 200 when statusd transformed the upstream's 200 "
     "(RFC 9110 §15.3.4)",
     0, 0, ALL},
    {"proxy.max_conns", HS_DT_INT, OFF(max_conns), "0", "N",
     "requests in flight per upstream and worker (0 = no limit); more wait in the queue", 0, 1000000, ALL},
    {"proxy.queue", HS_DT_INT, OFF(queue), "100", "N",
     "requests that may wait per upstream and worker when max_conns is reached (beyond: 503 connection_limit)", 0,
     1000000, ALL},
    {"proxy.queue_timeout", HS_DT_DURATION, OFF(queue_timeout), "5s", "DURATION",
     "longest wait in that queue (503 connection_limit beyond)", 1, 3600000, ALL},
    {"proxy.fail_max", HS_DT_INT, OFF(fail_max), "1", "N",
     "failures in a row that take an upstream out of rotation (passive health; 0 = never); a path with a single "
     "upstream keeps it",
     0, 1000, ALL},
    {"proxy.fail_timeout", HS_DT_DURATION, OFF(fail_timeout), "10s", "DURATION",
     "how long an upstream stays out after failing; doubled for each failure after it comes back (at most 16x)", 1,
     86400000, ALL},
    {"proxy.health_check", HS_DT_STRING, OFF(health_check), "", "PATH",
     "active health checks: GET this path on every upstream of the path (2xx/3xx = healthy); empty = none", 0, 0, ALL},
    {"proxy.health_interval", HS_DT_DURATION, OFF(health_interval), "5s", "DURATION", "time between health checks", 100,
     86400000, ALL},
    {"proxy.health_timeout", HS_DT_DURATION, OFF(health_timeout), "2s", "DURATION",
     "time a health check may take (connect, then the response head)", 1, 3600000, ALL},
    {"proxy.buffer_size", HS_DT_SIZE, OFF(buffer_size), "64k", "SIZE",
     "bytes queued towards a slow side before the other is held back (request body, tunnel)", 4096, 64LL << 20, ALL},
    {"proxy.max_interim", HS_DT_INT, OFF(max_interim), "16", "N",
     "interim (1xx) responses accepted before the final one (502 too_many_interim beyond)", 1, 1000, ALL},
    {"proxy.keepalive", HS_DT_INT, OFF(keepalive), "32", "N",
     "idle keep-alive connections kept per upstream and worker (0 = none)", 0, 100000, TOP},
    {"proxy.keepalive_timeout", HS_DT_DURATION, OFF(keepalive_timeout), "60s", "DURATION",
     "an idle upstream connection is closed after this (and a second before the upstream's Keep-Alive timeout)", 1,
     86400000, TOP},
    {"proxy.dns_timeout", HS_DT_DURATION, OFF(dns_timeout), "5s", "DURATION",
     "longest wait for an upstream name's addresses (dns_timeout cause beyond)", 1, 600000, TOP},
    {"proxy.dns_refresh", HS_DT_DURATION, OFF(dns_refresh), "30s", "DURATION",
     "upstream names in use are looked up again this often (on a helper thread; requests go on meanwhile)", 1000,
     86400000, TOP},
};
HS_DIRECTIVES_END
const size_t hs__proxy_ndirectives = HS_ARRAY_SIZE(hs__proxy_directives);

/* ---- URLs ---- */
static bool host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* https:// (port 443 by default) marks the upstream for TLS: the host is the name sent as SNI and
 * the name its certificate must be for; the path's proxy.tls.* settings give the client context
 * (built by check, one per distinct set of settings). */
int hs__proxy_parse_url(const char *url, char *host, size_t hostcap, uint16_t *port, bool *tls, const char **path,
                        char *err, size_t errlen)
{
    *tls = !strncasecmp(url, "https://", 8);
    if (!*tls && strncasecmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "'%s' is not an upstream URL: expected http://host[:port][/path] or https://…", url);
        return HS_ERROR;
    }
    const char *p = url + (*tls ? 8 : 7), *h, *he;
    if (*p == '[') { /* an IPv6 literal (RFC 3986 §3.2.2) */
        h = p + 1;
        he = strchr(h, ']');
        if (!he) {
            snprintf(err, errlen, "'%s': an IPv6 address needs its closing ']'", url);
            return HS_ERROR;
        }
        p = he + 1;
    } else {
        h = p;
        while (*p && host_char(*p))
            p++;
        he = p;
    }
    size_t hl = (size_t)(he - h);
    if (hl == 0 || hl >= hostcap || hl > 253) {
        snprintf(err, errlen, "'%s': the upstream's host is %s", url, hl == 0 ? "missing" : "too long");
        return HS_ERROR;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (h[-1] == '[') {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1) {
            snprintf(err, errlen, "'%s': '%s' is not an IPv6 address", url, host);
            return HS_ERROR;
        }
    }
    *port = *tls ? 443 : 80;
    if (*p == ':') {
        unsigned long v = 0;
        const char *d = ++p;
        while (*p >= '0' && *p <= '9' && v <= 65535)
            v = v * 10 + (unsigned long)(*p++ - '0');
        if (p == d || v == 0 || v > 65535) {
            snprintf(err, errlen, "'%s': the port must be a number from 1 to 65535", url);
            return HS_ERROR;
        }
        *port = (uint16_t)v;
    }
    *path = NULL;
    if (*p == '/') {
        *path = p;
        for (; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') {
                snprintf(err, errlen, "'%s': the path may not have spaces, controls, a query ('?') or a fragment", url);
                return HS_ERROR;
            }
        }
    } else if (*p) {
        snprintf(err, errlen, "'%s': unexpected '%c' after the host%s", url, *p,
                 *p == '@' ? " (credentials in the URL are not supported)" : "");
        return HS_ERROR;
    }
    return HS_OK;
}

const char *hs__proxy_list_next(const char **s, size_t *len)
{
    const char *p = *s;
    if (!p)
        return NULL;
    p += strspn(p, ", \t");
    if (!*p)
        return NULL;
    *len = strcspn(p, ", \t");
    *s = p + *len;
    return p;
}

/* ---- trusted proxies (hs/cidr.h blocks) ---- */
int hs__proxy_parse_cidrs(const char *list, hs_cidr_t *out, int max, char *err, size_t errlen)
{
    int n = 0;
    size_t k;
    for (const char *s; (s = hs__proxy_list_next(&list, &k)) != NULL;) {
        if (n == max) {
            snprintf(err, errlen, "at most %d trusted_proxies entries", max);
            return -1;
        }
        const char *why = NULL;
        if (hs_cidr_parse(hs_iov(s, k), &out[n], &why) != HS_OK) {
            snprintf(err, errlen, "'%.*s': %s", (int)HS_MIN(k, (size_t)80), s, why ? why : "not an address or network");
            return -1;
        }
        n++;
    }
    return n;
}

bool hs__proxy_cidr_match(const hs_cidr_t *list, int n, const struct sockaddr *sa)
{
    hs_ip_t ip;
    if (!hs_ip_from_sockaddr(sa, &ip))
        return false;
    for (int i = 0; i < n; i++)
        if (hs_cidr_match(&list[i], &ip))
            return true;
    return false;
}

/* ---- setting the list ----
 * An empty value forgets the list. A value given to settings that did not make the list they
 * hold (a path's copy of its parent's) starts a new one: a path's own upstreams replace the
 * inherited ones; several values on the same settings (repeated flags, a YAML sequence) add up.
 * The URL is checked here, so that a mistake is reported with its line. */
static int set_url(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err, size_t errlen)
{
    proxy_conf_t *pc = conf;
    if (!value[0]) {
        pc->list = NULL;
        return HS_OK;
    }
    char host[256];
    uint16_t port;
    bool tls;
    const char *path;
    if (hs__proxy_parse_url(value, host, sizeof(host), &port, &tls, &path, err, errlen) != HS_OK)
        return HS_ERROR;
    proxy_list_t *l = pc->list;
    if (!l || l->owner != pc) {
        l = hs_config_alloc(cfg, sizeof(*l));
        memset(l, 0, sizeof(*l));
        l->owner = pc;
        pc->list = l;
    }
    if (l->n == PROXY_MAX_TARGETS) {
        snprintf(err, errlen, "'%s': at most %d upstreams per path", d->name, PROXY_MAX_TARGETS);
        return HS_ERROR;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        const char **urls = hs_config_alloc(cfg, cap * sizeof(*urls));
        if (l->n)
            memcpy(urls, l->urls, l->n * sizeof(*urls));
        l->urls = urls;
        l->cap = cap;
    }
    l->urls[l->n++] = hs_config_strdup(cfg, value);
    l->built = false;
    return HS_OK;
}

/* ---- the registry ---- */
static proxy_registry_t *registry(hs_config_t *cfg)
{
    proxy_conf_t *top = cfg->mod[hs_module_proxy.index];
    if (!top->reg) {
        proxy_registry_t *r = hs_config_alloc(cfg, sizeof(*r));
        memset(r, 0, sizeof(*r));
        uint32_t id = 0;
        if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
            id = (uint32_t)hs_now_ms() ^ (uint32_t)getpid() << 16;
        snprintf(r->via, sizeof(r->via), "statusd-%08x", id);
        top->reg = r;
    }
    return top->reg;
}

static proxy_dns_t *dns_for(hs_config_t *cfg, proxy_registry_t *r, const char *host, uint16_t port)
{
    const proxy_conf_t *top = cfg->mod[hs_module_proxy.index];
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    for (proxy_dns_t *d = r->names; d; d = d->next)
        if (!strcasecmp(d->name, host) && !strcmp(d->port, ps))
            return d;
    proxy_dns_t *d = hs_calloc(1, sizeof(*d)); /* counted, see proxy.h: the registry holds one */
    atomic_init(&d->refs, 1);
    pthread_mutex_init(&d->mu, NULL);
    d->name = hs_strdup(host);
    memcpy(d->port, ps, sizeof(ps));
    d->timeout_ms = top->dns_timeout;
    d->next = r->names;
    r->names = d;
    return d;
}

static proxy_upstream_t *upstream_for(hs_config_t *cfg, proxy_registry_t *r, const char *host, uint16_t port, bool tls)
{
    char auth[300], hostf[300];
    bool v6 = strchr(host, ':') != NULL;
    snprintf(auth, sizeof(auth), v6 ? "[%s]:%u" : "%s:%u", host, port);
    if (port == (tls ? 443 : 80))
        snprintf(hostf, sizeof(hostf), v6 ? "[%s]" : "%s", host);
    else
        snprintf(hostf, sizeof(hostf), "%s", auth);
    for (proxy_upstream_t *u = r->ups; u; u = u->next)
        if (!strcasecmp(u->authority, auth) && u->tls == tls)
            return u;
    proxy_upstream_t *u = hs_config_alloc(cfg, sizeof(*u));
    memset(u, 0, sizeof(*u));
    u->index = r->nups++;
    u->tls = tls;
    u->authority = hs_config_strdup(cfg, auth);
    u->host_field = hs_config_strdup(cfg, hostf);
    u->host = hs_config_strdup(cfg, host);
    u->port = port;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&u->addr;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&u->addr;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        u->addrlen = sizeof(*s4);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        u->addrlen = sizeof(*s6);
    } else {
        u->dns = dns_for(cfg, r, host, port);
    }
    /* the newest last, so that indexes and lists read in the order written */
    proxy_upstream_t **tail = &r->ups;
    while (*tail)
        tail = &(*tail)->next;
    *tail = u;
    return u;
}

static void build_list(hs_config_t *cfg, proxy_conf_t *pc)
{
    proxy_registry_t *r = registry(cfg);
    proxy_list_t *l = pc->list;
    l->t = hs_config_alloc(cfg, l->n * sizeof(*l->t));
    l->nt = 0;
    for (size_t i = 0; i < l->n; i++) {
        char host[256], err[256];
        uint16_t port;
        bool tls;
        const char *path;
        if (hs__proxy_parse_url(l->urls[i], host, sizeof(host), &port, &tls, &path, err, sizeof(err)) != HS_OK)
            continue; /* checked when it was set */
        proxy_target_t *t = &l->t[l->nt++];
        t->up = upstream_for(cfg, r, host, port, tls);
        l->tls |= tls;
        t->path = NULL;
        if (path) {
            size_t n = strlen(path);
            while (n > 0 && path[n - 1] == '/')
                n--;
            char *copy = hs_config_alloc(cfg, n + 1);
            memcpy(copy, path, n);
            copy[n] = '\0';
            t->path = copy;
            t->path_len = n;
        }
    }
    l->group = r->ngroups++;
    hs__proxy_ring_build(cfg, l);
    if (r->nlists == r->caplists) {
        size_t cap = r->caplists ? r->caplists * 2 : 8;
        proxy_list_t **ls = hs_config_alloc(cfg, cap * sizeof(*ls));
        const void **cs = hs_config_alloc(cfg, cap * sizeof(*cs));
        if (r->nlists) {
            memcpy(ls, r->lists, r->nlists * sizeof(*ls));
            memcpy(cs, r->list_confs, r->nlists * sizeof(*cs));
        }
        r->lists = ls;
        r->list_confs = cs;
        r->caplists = cap;
    }
    r->lists[r->nlists] = l;
    r->list_confs[r->nlists++] = pc;
    l->built = true;
}

/* Has the configuration hosts of its own (rather than the one default host)? */
static bool has_hosts(const hs_config_t *cfg)
{
    size_t n;
    const hs_hostconf_t *h = hs_config_hosts(cfg, &n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < h[i].npaths; j++)
            if (!h[i].paths[j]->implicit)
                return true;
    return false;
}

static const char *root_of(hs_config_t *cfg)
{
    const hs_directive_t *root = hs_config_find("root");
    return root ? *(char **)hs_config_field(cfg, root) : NULL;
}

/* A pseudonym for Via (RFC 9110 §7.6.3: received-by = pseudonym): a token, no list syntax. */
static bool via_ok(const char *s)
{
    if (!*s || strlen(s) > 60)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~:", *s))
            return false;
    return true;
}

/* ---- TLS to upstreams ----
 * A client context per distinct proxy.tls.* settings of a configuration, made by check (so that
 * `statusd -t`, startup and a reload read the files the same way and name the setting at fault
 * with its FILE:LINE), kept in the registry and freed with the configuration: a configuration
 * generation's requests use its contexts, connections made under an older one keep theirs (each
 * TLS socket holds a reference) and are not reused for the new one (the pool keys connections by
 * context). */
static bool same(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static int tls_client_for(hs_config_t *cfg, proxy_conf_t *pc, const char **bad, char *err, size_t errlen)
{
    proxy_registry_t *r = registry(cfg);
    const char *ca = nonempty(pc->tls_ca), *cert = nonempty(pc->tls_cert), *key = nonempty(pc->tls_key);
    for (proxy_tls_t *t = r->tls; t; t = t->next)
        if (same(t->ca, ca) && same(t->cert, cert) && same(t->key, key) && t->insecure == pc->tls_insecure) {
            pc->tls_client = t->client;
            return HS_OK;
        }
    static const struct {
        const char *name;
        size_t off;
    } files[] = {{"proxy.tls.ca", OFF(tls_ca)}, {"proxy.tls.cert", OFF(tls_cert)}, {"proxy.tls.key", OFF(tls_key)}};
    for (size_t i = 0; i < HS_ARRAY_SIZE(files); i++) {
        const char *f = nonempty(*(char **)((char *)pc + files[i].off));
        if (f && access(f, R_OK) != 0) {
            *bad = files[i].name;
            snprintf(err, errlen, "%s: cannot read %s: %s", files[i].name, f, strerror(errno));
            return HS_ERROR;
        }
    }
    if (key && !cert) {
        *bad = "proxy.tls.key";
        snprintf(err, errlen, "proxy.tls.key needs proxy.tls.cert");
        return HS_ERROR;
    }
    hs_tls_client_opts_t o = {.ca_file = ca, .insecure = pc->tls_insecure, .cert = cert, .key = key};
    char why[256];
    hs_tls_client_t *c = hs_tls_client_new(&o, why, sizeof(why));
    if (!c) {
        *bad = strstr(why, "client certificate") ? "proxy.tls.cert" : "proxy.tls.ca";
        snprintf(err, errlen, "%s: %s", *bad, why);
        return HS_ERROR;
    }
    proxy_tls_t *t = hs_config_alloc(cfg, sizeof(*t));
    *t = (proxy_tls_t){.ca = ca, .cert = cert, .key = key, .insecure = pc->tls_insecure, .client = c, .next = r->tls};
    r->tls = t;
    pc->tls_client = c;
    return HS_OK;
}

/* Forward-proxy settings (forward.c): the port lists and address lists, parsed once here so that
 * a mistake is reported with its FILE:LINE; and the engine told that CONNECT is served where the
 * proxy is the handler of a path with proxy.forward (its "/": request.c). */
static int forward_check(hs_config_t *cfg, const hs_pathconf_t *path, proxy_conf_t *pc, const char **bad, char *err,
                         size_t errlen)
{
    char why[200];
    *bad = "proxy.forward_ports";
    if (hs__proxy_parse_ports(pc->forward_ports, &pc->fports, why, sizeof(why)) != HS_OK) {
        snprintf(err, errlen, "proxy.forward_ports: %s", why);
        return HS_ERROR;
    }
    *bad = "proxy.connect_ports";
    if (hs__proxy_parse_ports(pc->connect_ports, &pc->cports, why, sizeof(why)) != HS_OK) {
        snprintf(err, errlen, "proxy.connect_ports: %s", why);
        return HS_ERROR;
    }
    static const struct {
        const char *name;
        size_t off;
    } lists[] = {{"proxy.forward_allow", OFF(forward_allow)}, {"proxy.forward_deny", OFF(forward_deny)}};
    for (size_t i = 0; i < HS_ARRAY_SIZE(lists); i++) {
        const char *v = *(char **)((char *)pc + lists[i].off);
        hs_cidr_t tmp[PROXY_MAX_DEST];
        int n = 0;
        *bad = lists[i].name;
        if (v && strcmp(v, "none") != 0) {
            n = hs__proxy_parse_cidrs(v, tmp, PROXY_MAX_DEST, why, sizeof(why));
            if (n < 0) {
                snprintf(err, errlen, "%s: %s", lists[i].name, why);
                return HS_ERROR;
            }
        }
        hs_cidr_t *copy = n ? hs_config_alloc(cfg, (size_t)n * sizeof(*copy)) : NULL;
        if (n)
            memcpy(copy, tmp, (size_t)n * sizeof(*copy));
        if (i == 0)
            pc->fallow = copy, pc->nfallow = n;
        else
            pc->fdeny = copy, pc->nfdeny = n;
    }
    static const struct {
        const char *name;
        size_t off;
    } hlists[] = {{"proxy.forward_hosts", OFF(forward_hosts)}, {"proxy.forward_hosts_deny", OFF(forward_hosts_deny)}};
    for (size_t i = 0; i < HS_ARRAY_SIZE(hlists); i++) {
        const char *v = *(char **)((char *)pc + hlists[i].off);
        *bad = hlists[i].name;
        proxy_hostpat_t *tmp = hs_calloc(PROXY_MAX_HOSTS, sizeof(*tmp));
        int n = hs__proxy_parse_hosts(v, tmp, PROXY_MAX_HOSTS, why, sizeof(why));
        if (n < 0) {
            free(tmp);
            snprintf(err, errlen, "%s: %s", hlists[i].name, why);
            return HS_ERROR;
        }
        proxy_hostpat_t *copy = n ? hs_config_alloc(cfg, (size_t)n * sizeof(*copy)) : NULL;
        if (n)
            memcpy(copy, tmp, (size_t)n * sizeof(*copy));
        free(tmp);
        if (i == 0)
            pc->hallow = copy, pc->nhallow = n;
        else
            pc->hdeny = copy, pc->nhdeny = n;
    }
    *bad = NULL;
    /* a path whose handler is the proxy (or, without hosts, the flag form's "/") */
    bool handler = path->host ? path->handler == hs_module_proxy.index : !has_hosts(cfg);
    if (pc->forward && handler) {
        path->cfg->takes_connect = true;
        cfg->takes_connect = true; /* the top: some path does (conn.c) */
    }
    return HS_OK;
}

int hs__proxy_conf_check(hs_config_t *cfg, const hs_pathconf_t *path, void *conf, const char **bad, char *err,
                         size_t errlen)
{
    proxy_conf_t *pc = conf;
    if (!path->host) { /* the top's settings: checked first */
        const hs_directive_t *flag = hs_config_find("proxy");
        bool ups = pc->list && pc->list->n, given = ups || pc->forward;
        const char *what = !ups ? "proxy.forward" : hs_config_given(cfg, flag) ? "proxy" : "proxy.upstreams";
        if (given && has_hosts(cfg)) {
            *bad = what;
            snprintf(err, errlen,
                     "'%s' configures the default path of a configuration without hosts; with hosts, give a path "
                     "its upstreams (paths: {/app: {proxy: {upstreams: [URL]}}})",
                     *bad);
            return HS_ERROR;
        }
        const char *root = root_of(cfg);
        if (given && root && *root) {
            *bad = what;
            snprintf(err, errlen,
                     "--%s and --root would both serve /: put them on paths of their own in a configuration file "
                     "(hosts: NAME: paths: {/: {root: DIR}, /app: {proxy: {upstreams: [URL]}}})",
                     ups ? "proxy" : "proxy-forward");
            return HS_ERROR;
        }
    }
    if (forward_check(cfg, path, pc, bad, err, errlen) != HS_OK)
        return HS_ERROR;
    *bad = "proxy.errors";
    if (!pc->errors || !strcmp(pc->errors, "standard"))
        pc->mode = HS_PROXY_ERRORS_STANDARD;
    else if (!strcmp(pc->errors, "detailed"))
        pc->mode = HS_PROXY_ERRORS_DETAILED;
    else if (!strcmp(pc->errors, "timeouts"))
        pc->mode = HS_PROXY_ERRORS_TIMEOUTS;
    else {
        snprintf(err, errlen, "proxy.errors must be standard, detailed or timeouts, got '%s'", pc->errors);
        return HS_ERROR;
    }
    *bad = "proxy.balance";
    if (!pc->balance || !strcmp(pc->balance, "round_robin"))
        pc->lb = PROXY_LB_ROUND_ROBIN;
    else if (!strcmp(pc->balance, "least_conn"))
        pc->lb = PROXY_LB_LEAST_CONN;
    else if (!strcmp(pc->balance, "hash"))
        pc->lb = PROXY_LB_HASH;
    else {
        snprintf(err, errlen, "proxy.balance must be round_robin, least_conn or hash, got '%s'", pc->balance);
        return HS_ERROR;
    }
    *bad = "proxy.hash_key";
    const char *k = pc->hash_key ? pc->hash_key : "ip";
    pc->key_name = NULL;
    if (!strcmp(k, "ip"))
        pc->key = PROXY_KEY_IP;
    else if (!strcmp(k, "uri"))
        pc->key = PROXY_KEY_URI;
    else if (!strcmp(k, "host"))
        pc->key = PROXY_KEY_HOST;
    else if (!strncmp(k, "header:", 7) && k[7]) {
        pc->key = PROXY_KEY_HEADER;
        size_t n = strlen(k + 7);
        char *lower = hs_config_alloc(cfg, n + 1);
        for (size_t i = 0; i <= n; i++)
            lower[i] = (char)tolower((unsigned char)k[7 + i]);
        pc->key_name = lower;
        pc->key_name_len = n;
    } else {
        snprintf(err, errlen, "proxy.hash_key must be ip, uri, host or header:NAME, got '%s'", k);
        return HS_ERROR;
    }
    *bad = "proxy.host";
    if (!pc->host || !strcmp(pc->host, "pass"))
        pc->host_mode = PROXY_HOST_PASS;
    else if (!strcmp(pc->host, "upstream"))
        pc->host_mode = PROXY_HOST_UPSTREAM;
    else {
        for (const char *p = pc->host; *p; p++)
            if (!host_char(*p) && *p != ':' && *p != '[' && *p != ']') {
                snprintf(err, errlen, "proxy.host must be pass, upstream or a host name, got '%s'", pc->host);
                return HS_ERROR;
            }
        pc->host_mode = PROXY_HOST_FIXED;
    }
    *bad = "proxy.trusted_proxies";
    pc->ntrusted = hs__proxy_parse_cidrs(pc->trusted_proxies, pc->trusted, PROXY_MAX_TRUSTED, err, errlen);
    if (pc->ntrusted < 0)
        return HS_ERROR;
    *bad = "proxy.via";
    if (pc->via && !strcmp(pc->via, "off"))
        pc->via_name = NULL;
    else if (pc->via && *pc->via) {
        if (!via_ok(pc->via)) {
            snprintf(err, errlen, "proxy.via must be a token such as gw-1 (or off), got '%s'", pc->via);
            return HS_ERROR;
        }
        pc->via_name = pc->via;
    } else {
        pc->via_name = registry(cfg)->via;
    }
    *bad = "proxy.name";
    if (!pc->name || !*pc->name || strlen(pc->name) > 60) {
        snprintf(err, errlen, "proxy.name must be a short name such as statusd");
        return HS_ERROR;
    }
    pc->name_token = isalpha((unsigned char)pc->name[0]) || pc->name[0] == '*';
    for (const char *q = pc->name + 1; *q && pc->name_token; q++)
        pc->name_token = isalnum((unsigned char)*q) || strchr("!#$%&'*+-.^_`|~:/", *q);
    *bad = "proxy.health_check";
    if (pc->health_check && pc->health_check[0] != '/') {
        snprintf(err, errlen, "proxy.health_check must be a path starting with '/', got '%s'", pc->health_check);
        return HS_ERROR;
    }
    *bad = NULL;
    if (pc->list && pc->list->n && !pc->list->built)
        build_list(cfg, pc);
    pc->tls_client = NULL;
    /* https: an upstream's, or (forward) an absolute-form https:// target's */
    if (((pc->list && pc->list->n && pc->list->tls) || pc->forward) &&
        tls_client_for(cfg, pc, bad, err, errlen) != HS_OK)
        return HS_ERROR;
    return HS_OK;
}

void hs__proxy_conf_release(void *conf)
{
    proxy_conf_t *pc = conf;
    if (pc->list)
        pc->list->built = false;
    if (pc->reg) { /* the top's: built again by the next check */
        proxy_dns_t *next;
        for (proxy_dns_t *d = pc->reg->names; d; d = next) {
            next = d->next;
            hs__proxy_dns_release(d);
        }
        pc->reg->names = NULL;
        for (proxy_tls_t *t = pc->reg->tls; t; t = t->next)
            hs_tls_client_free(t->client); /* sockets using it hold their own reference */
        pc->reg->tls = NULL;
    }
    pc->reg = NULL;
}

const char *hs__proxy_conf_mount(hs_config_t *cfg, const void *conf, bool flat)
{
    const proxy_conf_t *pc = conf;
    if (!flat || ((!pc->list || !pc->list->n) && !pc->forward))
        return NULL;
    const char *root = root_of(cfg);
    return root && *root ? NULL : "/"; /* with --root: refused by check, with a clear message */
}

/* Each configuration generation (startup, and every reload) looks its names up before it serves. */
static int init(hs_gen_t *gen)
{
    proxy_registry_t *reg = hs__proxy_registry(gen->cfg);
    const proxy_conf_t *top = gen->cfg->mod[hs_module_proxy.index];
    if (reg && reg->names)
        hs__proxy_resolve_at_start(reg, top->dns_timeout);
    return HS_OK;
}

int hs__proxy_content(hs_req_t *req);
void hs__proxy_log(hs_req_t *req);

/* The gateway has no rewrite or access work; its log handler adds the upstream fields, and only
 * where it is the handler (a path with upstreams): elsewhere the engine skips it. */
static unsigned phases(const void *conf)
{
    const proxy_conf_t *pc = conf;
    return (pc->list && pc->list->n) || pc->forward ? (unsigned)HS_PHASE_BIT_LOG : 0u;
}

hs_module_t hs_module_proxy = {
    .name = "proxy",
    .conf = {.name = "proxy",
             .directives = hs__proxy_directives,
             .count = HS_ARRAY_SIZE(hs__proxy_directives),
             .size = sizeof(proxy_conf_t),
             .handler = "proxy.upstreams",
             .handler_alt = "proxy.forward",
             .check = hs__proxy_conf_check,
             .release = hs__proxy_conf_release,
             .mount = hs__proxy_conf_mount,
             .phases = phases},
    .init = init,
    .init_worker = hs__proxy_init_worker,
    .fini_worker = hs__proxy_fini_worker,
    .worker_gen = hs__proxy_worker_gen,
    .content = hs__proxy_content,
    .log = hs__proxy_log,
    .metrics = hs__proxy_metrics,
    .causes = hs__proxy_causes,
    .ncauses = PROXY_CAUSE__COUNT,
};
