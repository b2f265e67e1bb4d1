/* statusd — the reverse proxy (gateway) module: what its files share.
 *
 *   conf.c       directives, URL and address parsing, the registry of upstreams built by check
 *   upstreams.c  choosing an upstream (round robin, least connections, consistent hash), passive
 *                and active health, names resolved at start and on helper threads
 *   headers.c    header hygiene both ways (RFC 9110 §7.6): hop-by-hop and Connection-named fields,
 *                Via, Forwarded (RFC 7239) and X-Forwarded-*, Host
 *   proxy.c      the content handler: one request through the HTTP/1.1 client (hs/client.h), the
 *                status by cause (hs/upstream.h), Proxy-Status (RFC 9209), log fields
 *   forward.c    forward-proxy mode (proxy.forward): the destination of an absolute-form request
 *                or a CONNECT, its port and address rules, the answers that refuse it
 *
 * Lifetimes. Everything built from the configuration (upstreams, their health and name state,
 * the lists of each path) lives in the configuration's arena and is shared read-only by the
 * workers, except the fields marked shared, which are atomics or under their mutex. What a
 * worker owns (its keep-alive pool, connection counts, queues, its copy of the resolved
 * addresses) is made by init_worker. A request's state lives in its arena. */
#ifndef HS_PROXY_INTERNAL_H
#define HS_PROXY_INTERNAL_H

#include "hs/cidr.h"
#include "hs/client.h"
#include "hs/http.h"
#include "hs/metrics.h"
#include "hs/upstream.h"

#include <netinet/in.h>
#include <zlib.h>

extern hs_module_t hs_module_proxy;

#define PROXY_MAX_ADDRS 8      /* addresses kept per upstream name */
#define PROXY_MAX_TARGETS 64   /* upstreams of one path */
#define PROXY_MAX_TRUSTED 32   /* trusted_proxies entries */
#define PROXY_RING_POINTS 160  /* consistent-hash points per upstream */
#define PROXY_REPLAY_MAX 65536 /* request body bytes kept for a retry on another upstream */

#define PROXY_MAX_PORT_RANGES 32 /* entries of proxy.forward_ports / proxy.connect_ports */
#define PROXY_MAX_DEST 64        /* entries of proxy.forward_allow / proxy.forward_deny */
#define PROXY_MAX_HOSTS 256      /* entries of proxy.forward_hosts / proxy.forward_hosts_deny */

typedef enum { PROXY_LB_ROUND_ROBIN, PROXY_LB_LEAST_CONN, PROXY_LB_HASH } proxy_lb_t;

/* Ports a forward proxy may connect to: inclusive ranges, in the order written. */
typedef struct proxy_ports_s {
    uint16_t lo[PROXY_MAX_PORT_RANGES], hi[PROXY_MAX_PORT_RANGES];
    uint8_t n;
} proxy_ports_t;

/* A destination a forward proxy's host lists name (proxy.forward_hosts, forward_hosts_deny), as
 * written: a name ("example.org": that name), "*.example.org" (its subdomains, not itself),
 * ".example.org" (itself and its subdomains), or an address ("192.0.2.1", "[2001:db8::1]"; only
 * a target written as that address matches it). Names are kept lowercase, without a final dot. */
typedef enum { PROXY_HOST_NAME, PROXY_HOST_SUBDOMAINS, PROXY_HOST_DOMAIN, PROXY_HOST_ADDR4, PROXY_HOST_ADDR6 } proxy_hkind_t;
typedef struct proxy_hostpat_s {
    uint8_t kind; /* proxy_hkind_t */
    uint8_t len;  /* of name */
    char name[254];
    uint8_t addr[16];
} proxy_hostpat_t;

/* The module's causes (hs_module_proxy.causes, forward.c): forward-proxy refusals. The failures
 * of the exchange itself are the gateway's table (hs/upstream.h), as for reverse proxying. */
enum {
    PROXY_CAUSE_BAD_TARGET,  /* 400: no usable host[:port] (CONNECT without a port, a bad name) */
    PROXY_CAUSE_PORT_DENIED, /* 403: the port is not in forward_ports / connect_ports */
    PROXY_CAUSE_DEST_DENIED, /* 403: the address is in forward_deny, or not in forward_allow */
    PROXY_CAUSE_ORIGIN_FORM, /* 421: an origin-form request on a forward-only path */
    PROXY_CAUSE_HOST_DENIED, /* 403: the host is in forward_hosts_deny, or not in forward_hosts */
    PROXY_CAUSE__COUNT
};
extern const hs_cause_info_t hs__proxy_causes[PROXY_CAUSE__COUNT];
typedef enum { PROXY_KEY_IP, PROXY_KEY_URI, PROXY_KEY_HOST, PROXY_KEY_HEADER } proxy_key_t;
typedef enum { PROXY_HOST_PASS, PROXY_HOST_UPSTREAM, PROXY_HOST_FIXED } proxy_host_t;

/* The state of one upstream name, shared by every worker (names only; literals need none). It is
 * on the heap, not in the configuration's arena, and counted: a lookup running on a helper
 * thread holds it, so a configuration dropped after a reload meanwhile cannot pull it away. */
typedef struct proxy_dns_s {
    _Atomic int refs; /* the registry's, and each lookup's (hs__proxy_dns_hold / _release) */
    pthread_mutex_t mu;
    const char *name;
    char port[8];
    uint64_t timeout_ms; /* proxy.dns_timeout: an answer slower than this counts as a timeout */
    /* under mu: */
    struct sockaddr_storage addrs[PROXY_MAX_ADDRS];
    socklen_t lens[PROXY_MAX_ADDRS];
    int naddrs;
    int cause;           /* of the last answer: HS_UP_NONE, HS_UP_DNS_ERROR or HS_UP_DNS_TIMEOUT */
    const char *detail;  /* static text for a failure */
    uint64_t answered;   /* monotonic ms of the last answer; 0 = none yet */
    bool inflight;       /* a lookup is running on a helper thread */
    _Atomic uint32_t gen; /* bumped at every answer: workers copy the state when it moved */
    struct proxy_dns_s *next;
} proxy_dns_t;

/* One upstream (scheme, host, port), shared by every path that names it. */
typedef struct proxy_upstream_s {
    int index;             /* into each worker's per-upstream state */
    const char *authority; /* "127.0.0.1:9000", "[::1]:80", "backend.internal:80" (logs, next-hop) */
    const char *host_field; /* the same without a default port 80: Host when rewritten */
    const char *host;      /* the name or address, without brackets (an https upstream's SNI and the
                              name its certificate must be for) */
    uint16_t port;
    bool tls;              /* https://: TLS with the path's proxy.tls.* context */
    struct sockaddr_storage addr; /* a literal address (dns == NULL) */
    socklen_t addrlen;
    proxy_dns_t *dns;             /* a name: its shared state */
    /* shared health: passive (failures seen by requests) and active (health checks) */
    _Atomic uint64_t down_until; /* monotonic ms; passive: out of rotation until then */
    _Atomic uint32_t fails;      /* failures in a row */
    _Atomic uint32_t level;      /* back-off doublings so far */
    _Atomic bool check_down;     /* the last active health check failed */
    struct proxy_upstream_s *next;
} proxy_upstream_t;
/* A forward proxy's destination is an upstream made for one request, in its arena: index -1 (no
 * per-worker state, no health shared with other requests), its own name state (dns) when the
 * target names a host. */
#define PROXY_FORWARD_INDEX (-1)

/* One URL of a path: an upstream and the path that replaces the mount point (none: the target
 * is passed as the client sent it). */
typedef struct proxy_target_s {
    proxy_upstream_t *up;
    const char *path; /* NULL, or "/base" without a trailing slash ("" for "/") */
    size_t path_len;
} proxy_target_t;

/* The upstreams a path names. Settings hold a pointer to it, so paths that inherit it share it
 * (and its round-robin cursor index); a path that names its own starts a new one. */
typedef struct proxy_list_s {
    const void *owner; /* the settings struct that made it */
    const char **urls;
    size_t n, cap;
    /* built by check: */
    bool built;
    bool tls; /* some target is https */
    int group; /* index of per-worker round-robin cursors */
    proxy_target_t *t;
    size_t nt;
    uint32_t *ring_hash; /* consistent-hash ring, sorted */
    uint16_t *ring_tgt;
    size_t nring;
} proxy_list_t;

/* A TLS client context for upstreams (hs/tls.h) and the proxy.tls.* settings it was made from. */
typedef struct proxy_tls_s {
    const char *ca, *cert, *key; /* NULL: not given */
    bool insecure;
    struct hs_tls_client_s *client; /* the registry's reference, dropped by release */
    struct proxy_tls_s *next;
} proxy_tls_t;

/* Everything built from a configuration, hung on the top settings (check). */
typedef struct proxy_registry_s {
    proxy_upstream_t *ups;
    int nups;
    proxy_dns_t *names;
    int ngroups;
    proxy_list_t **lists; /* every built list (active health checks walk them) */
    const void **list_confs; /* the settings of each (for its health settings) */
    size_t nlists, caplists;
    proxy_tls_t *tls; /* the configuration's TLS client contexts */
    char via[64]; /* this process's Via pseudonym when proxy.via is not given */
} proxy_registry_t;

typedef struct proxy_conf_s {
    proxy_list_t *list;
    char *errors;
    char *balance;
    char *hash_key;
    char *host;
    char *trusted_proxies;
    char *via;
    char *name;
    char *health_check;
    char *tls_ca, *tls_cert, *tls_key; /* proxy.tls.* */
    uint64_t connect_timeout, send_timeout, read_timeout, idle_timeout;
    uint64_t reuse_idle_max;
    uint64_t queue_timeout, fail_timeout;
    uint64_t health_interval, health_timeout;
    uint64_t buffer_size;
    uint64_t keepalive_timeout, dns_timeout, dns_refresh; /* top */
    int retries, max_conns, queue, fail_max, max_interim;
    int keepalive; /* top */
    bool retry_idempotency_key;
    bool forwarded, x_forwarded;
    bool expose_upstream;
    bool compress, mark_transformed;
    bool tls_insecure;
    bool forward; /* proxy.forward: absolute-form requests and CONNECT go where they name */
    char *forward_ports, *connect_ports, *forward_allow, *forward_deny, *forward_hosts, *forward_hosts_deny;
    /* made by check: */
    proxy_ports_t fports, cports; /* forward_ports, connect_ports */
    hs_cidr_t *fallow, *fdeny;    /* in the configuration's arena */
    int nfallow, nfdeny;
    proxy_hostpat_t *hallow, *hdeny; /* forward_hosts, forward_hosts_deny; in the configuration's arena */
    int nhallow, nhdeny;
    struct hs_tls_client_s *tls_client; /* for the https targets of list (NULL: none has https) */
    hs_proxy_errors_t mode;
    proxy_lb_t lb;
    proxy_key_t key;
    const char *key_name; /* the header of hash_key header:NAME */
    size_t key_name_len;
    proxy_host_t host_mode;
    hs_cidr_t trusted[PROXY_MAX_TRUSTED];
    int ntrusted;
    const char *via_name; /* the pseudonym in Via, NULL = none sent */
    bool name_token;      /* name is an sf-token (RFC 8941 §3.3.4): written as it is */
    proxy_registry_t *reg; /* the top's settings only */
} proxy_conf_t;

/* ---- per worker ---- */
typedef struct proxy_req_s proxy_req_t;

typedef struct proxy_uw_s {
    struct proxy_stat_s *stat; /* its /metrics counters (metrics.c), found on first count */
    int active; /* exchanges in flight (max_conns) */
    proxy_req_t *qhead, *qtail; /* requests waiting for a connection (max_conns, queue) */
    int nqueued;
    unsigned addr_rr;
    /* this worker's copy of the name's state */
    uint32_t gen;
    int naddrs, cause;
    const char *detail;
    uint64_t answered;
    struct sockaddr_storage addrs[PROXY_MAX_ADDRS];
    socklen_t lens[PROXY_MAX_ADDRS];
} proxy_uw_t;

/* A worker's state for the upstreams of one configuration generation (a reload makes another
 * registry, with other indexes): per upstream and per list. Made when a request of that
 * generation first comes to the worker, dropped once none of its requests is left and another
 * generation is current. */
typedef struct proxy_view_s {
    uint64_t gen_id;
    const proxy_registry_t *reg;
    proxy_uw_t *u;  /* per upstream */
    unsigned *rr;   /* per list (group) */
    size_t reqs;    /* requests of this worker using it */
    struct proxy_view_s *next;
} proxy_view_t;

/* /metrics: a worker's attempts to one upstream (by authority, so the counts outlive a reload),
 * by outcome: [HS_UP_NONE] a response came to its end, [cause] that failure, [HS_UP__COUNT] cut
 * short (the client left, the server stopped). Written by the worker only (hs_counter_add);
 * entries are added, never removed, and published by storing nstats (release) after the name. */
#define PROXY_STATS_MAX 64 /* upstream labels per worker; the last is "_other" */
typedef struct proxy_stat_s {
    char name[96];
    hs_counter_t n[HS_UP__COUNT + 1];
} proxy_stat_t;

typedef struct proxy_worker_s {
    hs_worker_t *w;
    proxy_stat_t *stats; /* PROXY_STATS_MAX, made on first count */
    _Atomic size_t nstats;
    hs_client_pool_t *pool; /* by address: shared by every generation (keep-alive across reloads) */
    proxy_view_t *views;    /* newest first */
    uint64_t ends;          /* requests of this module ended here (a guard for callbacks, proxy.c) */
    hs_timer_t health_timer; /* worker 0, while the current generation has active health checks */
    struct proxy_probe_s *probes;
    int nprobes;
    uint64_t probes_gen; /* the generation the probes were made for (0: none) */
} proxy_worker_t;

/* The worker's view of a generation's upstreams (made on first use); top is the generation's
 * configuration (gen may be NULL where no reload exists: a test rig). */
proxy_view_t *hs__proxy_view(proxy_worker_t *pw, const hs_gen_t *gen, const hs_config_t *top);
/* A request of the view ended: views no request uses and no longer current go. */
void hs__proxy_view_done(proxy_worker_t *pw, proxy_view_t *v);

/* ---- conf.c ---- */
/* Parse "http://host[:port][/path]" or "https://…" (host: a name, an IPv4 address or [IPv6]; *tls
 * set for https, whose default port is 443). HS_OK or HS_ERROR with a message. */
int hs__proxy_parse_url(const char *url, char *host, size_t hostcap, uint16_t *port, bool *tls, const char **path,
                        char *err, size_t errlen);
/* Parse "10.0.0.0/8, 127.0.0.1, ::1" (hs/cidr.h blocks, separated by commas or spaces) into out
 * (at most max). The count, or -1 with a message. */
int hs__proxy_parse_cidrs(const char *s, hs_cidr_t *out, int max, char *err, size_t errlen);
/* The items of a setting's list ("a, b c": commas and blanks separate them): the next one's start
 * with its length in *len, *s moved past it; NULL when none is left (s may be NULL). */
const char *hs__proxy_list_next(const char **s, size_t *len);
bool hs__proxy_cidr_match(const hs_cidr_t *list, int n, const struct sockaddr *sa);
static inline proxy_registry_t *hs__proxy_registry(const hs_config_t *top)
{
    const proxy_conf_t *pc = top->mod[hs_module_proxy.index];
    return pc ? pc->reg : NULL;
}
int hs__proxy_conf_check(hs_config_t *cfg, const hs_pathconf_t *path, void *conf, const char **bad, char *err,
                         size_t errlen);
void hs__proxy_conf_release(void *conf);
const char *hs__proxy_conf_mount(hs_config_t *cfg, const void *conf, bool flat);
extern const hs_directive_t hs__proxy_directives[];
extern const size_t hs__proxy_ndirectives;

/* ---- forward.c ---- */
/* Parse "80, 443, 1024-65535" (ports and inclusive ranges separated by commas or spaces; "*" for
 * every port, "none" or "" for none) into out. HS_OK, or HS_ERROR with a message. */
int hs__proxy_parse_ports(const char *s, proxy_ports_t *out, char *err, size_t errlen);
bool hs__proxy_port_allowed(const proxy_ports_t *p, uint16_t port);
/* Parse an authority, "host:port" or "host" (a name, an IPv4 address or [IPv6]), into host
 * (NUL-terminated, no brackets; hostcap bytes) and *port (default_port when none is given; a port
 * is required when need_port). HS_OK, or HS_ERROR with *why a static explanation. A name is
 * letters, digits, '-', '_' and '.' only (what DNS resolves), at most 253 bytes. */
int hs__proxy_parse_authority(hs_iovec_t a, bool need_port, uint16_t default_port, char *host, size_t hostcap,
                              uint16_t *port, const char **why);
/* The destination of a forward request (absolute-form or CONNECT) on a path with proxy.forward:
 * its upstream and target, made in the request's arena (dns: a counted name state of its own,
 * which the caller releases at the end of the request). HS_OK, or HS_DONE when it was refused
 * (400 bad target, 403 port: answered here). */
int hs__proxy_forward_target(hs_req_t *req, const proxy_conf_t *pc, proxy_target_t **out);
/* Parse a host list (proxy.forward_hosts): entries separated by commas or blanks, at most max,
 * into out. The count, or -1 with err set (the entry and what is wrong with it). "none" or ""
 * is an empty list. */
int hs__proxy_parse_hosts(const char *s, proxy_hostpat_t *out, int max, char *err, size_t errlen);
/* Does the target's host (as hs__proxy_parse_authority gave it: a name, a dotted IPv4 address or
 * an IPv6 address without brackets) match an entry of the list? Names compare without case and
 * without a final dot. */
bool hs__proxy_host_match(const proxy_hostpat_t *list, int n, const char *host);
/* May the forward proxy connect to this address (forward_allow, forward_deny)? */
bool hs__proxy_forward_addr_ok(const proxy_conf_t *pc, const struct sockaddr *sa);
/* Answer a refusal of the forward proxy (PROXY_CAUSE_*): its status, the module's cause,
 * Proxy-Status (RFC 9209) and an error page naming the cause, the detail and the request id. */
void hs__proxy_forward_refuse(hs_req_t *req, const proxy_conf_t *pc, int cause, const char *detail);

/* ---- upstreams.c ---- */
/* Resolve every name once, in parallel, before the workers start (the system resolver's own
 * timeouts bound it); a name that does not resolve is reported, not fatal. */
void hs__proxy_resolve_at_start(proxy_registry_t *reg, uint64_t dns_timeout_ms);
/* Does upstream `up` take requests now? (single: the path has only this one, so passive health
 * does not take it out of rotation — there would be nothing left to send to.) */
bool hs__proxy_usable(const proxy_upstream_t *up, uint64_t now, bool single);
/* A failure or a success of an exchange with `up` (passive health). */
void hs__proxy_health_failed(const proxy_conf_t *pc, proxy_upstream_t *up, uint64_t now);
void hs__proxy_health_ok(proxy_upstream_t *up);
/* The target for an attempt: not in `tried` (a bit per target), usable; NULL when none. `key` is
 * the hashed key for PROXY_LB_HASH. */
const proxy_target_t *hs__proxy_pick(proxy_view_t *v, const proxy_conf_t *pc, uint64_t tried, uint32_t key,
                                     uint64_t now, int *index);
/* The earliest time a target of the list comes back (for Retry-After), 0 when unknown. */
uint64_t hs__proxy_next_up(const proxy_conf_t *pc, uint64_t now);
uint32_t hs__proxy_hash(const void *p, size_t n);
/* Build the consistent-hash ring of a list (check). */
void hs__proxy_ring_build(hs_config_t *cfg, proxy_list_t *l);
/* Refresh the worker's copy of a name's state when it moved. */
void hs__proxy_dns_view(proxy_uw_t *uw, proxy_dns_t *d);
/* Look `d` up (on a helper thread): the work function for hs_req_offload (the caller holds a
 * reference for the job and releases it in its done function). */
void hs__proxy_dns_work(void *arg);
void hs__proxy_dns_hold(proxy_dns_t *d);
void hs__proxy_dns_release(proxy_dns_t *d);
/* Per-worker state and active health checks: worker 0 has a health timer only while the current
 * generation has paths with proxy.health_check (hs__proxy_worker_gen: after a reload). */
int hs__proxy_init_worker(hs_worker_t *w);
void hs__proxy_fini_worker(hs_worker_t *w);
void hs__proxy_worker_gen(hs_worker_t *w);

/* ---- metrics.c ---- */
#define PROXY_CANCELLED HS_UP__COUNT /* an outcome for hs__proxy_count: the exchange was cut short */
/* Count the outcome of an attempt at `up` (NULL: none was chosen) while a path serves /metrics:
 * HS_UP_NONE for a response that came to its end, a cause, or PROXY_CANCELLED. */
void hs__proxy_count(proxy_worker_t *pw, proxy_uw_t *uw, const proxy_upstream_t *up, int outcome);
/* statusd_upstream_* series (hs_module_t.metrics). */
void hs__proxy_metrics(hs_server_t *srv, struct hs_metrics_out_s *o);

/* ---- headers.c ---- */
typedef struct proxy_fwd_s {
    hs_header_t *h; /* the fields to send, in the request arena */
    size_t n;
    hs_iovec_t target;
} proxy_fwd_t;
/* The request head for the upstream: the client's fields without hop-by-hop ones and those its
 * Connection names, with Host, Via, Forwarded/X-Forwarded-*, Upgrade as configured. */
void hs__proxy_request_fields(hs_req_t *req, const proxy_conf_t *pc, const proxy_target_t *t, proxy_fwd_t *out);
/* Copy the upstream's fields that go on to the client (no hop-by-hop ones, no framing, no Date or
 * Server: ours are sent) into the response; Proxy-Status values are appended to `ps`. `upgrade`:
 * keep Upgrade (a 101). h[0..n) must be as hs_parse_response or hs_parse_trailers left them:
 * tokens set, in order, all in the one buffer parsed (it is copied as one span into the arena;
 * the buffer may be reused once this returns). */
void hs__proxy_response_fields(hs_req_t *req, const hs_header_t *h, size_t n, bool upgrade, hs_buf_t *ps);
/* The same for an interim response or trailers: into out (arena), the count. */
size_t hs__proxy_copy_fields(hs_req_t *req, const hs_header_t *h, size_t n, hs_res_header_t *out);
/* Is this a hop-by-hop field (RFC 9110 §7.6.1), or one the gateway writes itself? */
bool hs__proxy_hop_by_hop(hs_iovec_t name);

/* ---- transform.c ---- */
typedef struct proxy_gzip_s {
    z_stream z;
    bool on;
} proxy_gzip_t;
/* Should this relayed response be gzipped on the fly (proxy.compress)? */
bool hs__proxy_gzip_wanted(const hs_req_t *req, const proxy_conf_t *pc, const hs_parsed_res_t *res,
                           const hs_res_meta_t *meta);
/* Start: the response's fields say gzip (Content-Encoding, Vary, a weak ETag; no length). HS_OK or
 * HS_ERROR (then nothing changed). */
int hs__proxy_gzip_start(proxy_gzip_t *g, hs_req_t *req);
/* Code n bytes (and end the stream with finish) into out (a growable buffer the caller frees). */
int hs__proxy_gzip_write(proxy_gzip_t *g, const char *p, size_t n, bool finish, hs_buf_t *out);
void hs__proxy_gzip_end(proxy_gzip_t *g);

#endif
