/* statusd — header hygiene of the reverse proxy, both ways.
 *
 * RFC 9110 §7.6.1: the fields that describe one connection (Connection, Proxy-Connection,
 * Keep-Alive, TE, Transfer-Encoding, Upgrade) and every field a Connection field names are
 * removed before a message is forwarded; the framing (Content-Length, Transfer-Encoding) is
 * written afresh by whoever sends the next hop's message, exactly once (RFC 9112 §6), so a
 * message can never reach the upstream (or the client) with two framings. Towards the upstream:
 *
 *   Host            the client's (pass), the upstream's (upstream) or a fixed name (proxy.host);
 *                   an HTTP/1.0 request without Host gets the upstream's
 *   Via             what came, plus "1.1 PSEUDONYM" (RFC 9110 §7.6.3: received-protocol is the
 *                   client's version); a request that already names our pseudonym is a loop
 *                   (proxy.c refuses it before it gets here)
 *   Forwarded       RFC 7239: for= the client's address, host= the Host it asked for, proto=;
 *                   appended to what came only from trusted_proxies, else replacing it
 *   X-Forwarded-For, -Proto, -Host   the same, in the de-facto form
 *   Upgrade         kept, with "Connection: upgrade", when the client asked to upgrade
 *   Expect          kept only as 100-continue (the client's 100 is the upstream's)
 *   Max-Forwards    decremented (RFC 9110 §7.6.2; OPTIONS with 0 is answered by proxy.c)
 *   Proxy-Authorization  removed: credentials for a proxy are not the origin's business
 *
 * Towards the client: Date and Server are ours (the engine writes them); Proxy-Status members
 * from further gateways are kept and ours is appended after them (RFC 9209 §2).
 *
 * Values are referenced where they live as long as the request (the request head is in its
 * arena); what is built or comes from the upstream's buffer is copied into the arena. */
#define _GNU_SOURCE
#include "proxy.h"

#include <stdio.h>

#define MAX_CONN_OPTIONS 32

bool hs__proxy_hop_by_hop(hs_iovec_t n)
{
    switch (n.len) {
    case 2: return HS_IOV_IEQ(n, "te");
    case 7: return HS_IOV_IEQ(n, "upgrade");
    case 10: return HS_IOV_IEQ(n, "connection") || HS_IOV_IEQ(n, "keep-alive");
    case 14: return HS_IOV_IEQ(n, "content-length");
    case 16: return HS_IOV_IEQ(n, "proxy-connection");
    case 17: return HS_IOV_IEQ(n, "transfer-encoding");
    default: return false;
    }
}

/* The options every Connection field lists (RFC 9110 §7.6.1): all of them, however many (in the
 * arena past the few kept inline), so that no field a Connection names can slip through. */
typedef struct conn_opts_s {
    hs_iovec_t inl[MAX_CONN_OPTIONS];
    hs_iovec_t *v;
    size_t n;
} conn_opts_t;

static void connection_options(hs_arena_t *a, const hs_header_t *h, size_t n, conn_opts_t *o)
{
    o->v = o->inl;
    o->n = 0;
    size_t total = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            if (h[i].name.len != 10 || !HS_IOV_IEQ(h[i].name, "connection"))
                continue;
            size_t pos = 0;
            hs_iovec_t opt;
            while ((opt = hs_list_next(h[i].value, &pos)).base) {
                if (pass == 0)
                    total++;
                else
                    o->v[o->n++] = opt;
            }
        }
        if (pass == 0 && total > MAX_CONN_OPTIONS)
            o->v = hs_arena_alloc(a, total * sizeof(*o->v));
    }
}

/* hs_iov_ieq wants a lowercase literal; options are as received, so fold both sides. */
static bool ieq(hs_iovec_t a, hs_iovec_t b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        unsigned char x = (unsigned char)a.base[i], y = (unsigned char)b.base[i];
        if (x >= 'A' && x <= 'Z')
            x += 32;
        if (y >= 'A' && y <= 'Z')
            y += 32;
        if (x != y)
            return false;
    }
    return true;
}

static bool in_options(hs_iovec_t name, const hs_iovec_t *opt, size_t nopt)
{
    for (size_t i = 0; i < nopt; i++)
        if (ieq(name, opt[i]))
            return true;
    return false;
}

/* "Transfer_Encoding", "content_length", "Connection_": a name that some upstreams (CGI and
 * WSGI environments, frameworks that fold '_' and '-') read as a framing or hop-by-hop field.
 * Forwarded, it could give the upstream a second framing the gateway never saw; dropped. */
static bool underscore_alias(hs_iovec_t nm)
{
    char folded[32];
    if (nm.len >= sizeof(folded))
        return false;
    for (size_t i = 0; i < nm.len; i++)
        folded[i] = nm.base[i] == '_' ? '-' : nm.base[i];
    hs_iovec_t f = hs_iov(folded, nm.len);
    return hs__proxy_hop_by_hop(f) || HS_IOV_IEQ(f, "host") || HS_IOV_IEQ(f, "forwarded") ||
           HS_IOV_IEQ(f, "x-forwarded-for") || HS_IOV_IEQ(f, "x-forwarded-host") ||
           HS_IOV_IEQ(f, "x-forwarded-proto") || HS_IOV_IEQ(f, "via");
}

/* The values of one field as they came (several field lines, or a list): joined with ", " when
 * forwarded. Few of them: a request with more than MAX_JOIN lines of one kind keeps the first. */
#define MAX_JOIN 16
typedef struct join_s {
    hs_iovec_t v[MAX_JOIN];
    size_t n, len;
} join_t;

static void join_add(join_t *j, hs_iovec_t v)
{
    if (j->n < MAX_JOIN) {
        j->v[j->n++] = v;
        j->len += v.len + 2;
    }
}

/* Write what came, then ", ", then our element (when there is one): into the arena. When
 * nothing came and ours already lives as long as the request (`mine_kept`), ours is the value. */
static hs_iovec_t join_with(hs_req_t *req, const join_t *j, const char *mine, size_t mlen, bool mine_kept)
{
    if (j->n == 0 && mine_kept)
        return hs_iov(mine, mlen);
    char *out = hs_arena_alloc(&req->arena, j->len + mlen + 1), *p = out;
    for (size_t i = 0; i < j->n; i++) {
        if (p > out) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        memcpy(p, j->v[i].base, j->v[i].len);
        p += j->v[i].len;
    }
    if (mlen) {
        if (p > out) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        memcpy(p, mine, mlen);
        p += mlen;
    }
    return hs_iov(out, (size_t)(p - out));
}

static inline char *put(char *p, const char *s, size_t n)
{
    return hs_put(p, s, n);
}

/* RFC 7239 §4: a value that is not a token is a quoted-string (p needs 2 + 2 * v.len bytes). A
 * Host with a port is the common case of the second: quoted whole when it holds no DQUOTE or
 * backslash, else escaped byte by byte. */
static char *fwd_value(char *p, hs_iovec_t v)
{
    const unsigned char *b = (const unsigned char *)v.base;
    size_t i = 0;
    while (i < v.len && hs_is_tchar(b[i]))
        i++;
    if (v.len && i == v.len)
        return put(p, v.base, v.len);
    *p++ = '"';
    if (!memchr(v.base + i, '"', v.len - i) && !memchr(v.base + i, '\\', v.len - i)) {
        p = put(p, v.base, v.len);
    } else {
        for (i = 0; i < v.len; i++) {
            if (v.base[i] == '"' || v.base[i] == '\\')
                *p++ = '\\';
            *p++ = v.base[i];
        }
    }
    *p++ = '"';
    return p;
}

static hs_iovec_t request_target(hs_req_t *req, const proxy_target_t *t)
{
    const hs_parsed_req_t *p = &req->p;
    if (!t->path) {
        if (p->form == HS_TARGET_ORIGIN)
            return p->target; /* exactly as the client sent it */
        if (!p->query.base)
            return p->path;
        return hs_arena_printf(&req->arena, "%.*s?%.*s", (int)p->path.len, p->path.base, (int)p->query.len,
                               p->query.base);
    }
    /* the mount point replaced by the URL's path, on the path's normal form */
    hs_iovec_t below = hs_req_path_below_mount(req);
    if (p->query.base)
        return hs_arena_printf(&req->arena, "%.*s%.*s?%.*s", (int)t->path_len, t->path, (int)below.len, below.base,
                               (int)p->query.len, p->query.base);
    return hs_arena_printf(&req->arena, "%.*s%.*s", (int)t->path_len, t->path, (int)below.len, below.base);
}

void hs__proxy_request_fields(hs_req_t *req, const proxy_conf_t *pc, const proxy_target_t *t, proxy_fwd_t *out)
{
    const hs_header_t *in = req->p.headers;
    size_t n = req->p.num_headers;
    hs_header_t *h = hs_arena_alloc(&req->arena, (n + 10) * sizeof(*h));
    size_t k = 0;
    conn_opts_t co; /* the inline arrays are not cleared: only their first n are read */
    co.v = co.inl;
    co.n = 0;
    if (req->meta.h[HS_HDR_CONNECTION])
        connection_options(&req->arena, in, n, &co);
    const hs_iovec_t *opt = co.v;
    size_t nopt = co.n;
    join_t via, fwd, xff;
    via.n = via.len = fwd.n = fwd.len = xff.n = xff.len = 0;
    hs_iovec_t xfp = HS_IOV_NULL, xfh = HS_IOV_NULL;
    bool trusted = pc->ntrusted > 0 && hs__proxy_cidr_match(pc->trusted, pc->ntrusted, hs_req_peer_addr(req));
    bool fwd_on = pc->forwarded, x_on = pc->x_forwarded;
    for (size_t i = 0; i < n; i++) {
        const hs_header_t *f = &in[i];
        switch (f->token) {
        case HS_HDR_HOST:
        case HS_HDR_CONTENT_LENGTH:
        case HS_HDR_TRANSFER_ENCODING:
        case HS_HDR_CONNECTION:
        case HS_HDR_UPGRADE:
        case HS_HDR_TE:
        case HS_HDR_EXPECT:
        case HS_HDR_PROXY_AUTHORIZATION: continue;
        case HS_HDR_OTHER: break;
        default: /* a well-known end-to-end field: as it is, unless Connection names it */
            if (!nopt || !in_options(f->name, opt, nopt))
                h[k++] = *f;
            continue;
        }
        hs_iovec_t nm = f->name;
        if (memchr(nm.base, '_', nm.len) && underscore_alias(nm))
            continue;
        if (nm.len == 10 && HS_IOV_IEQ(nm, "keep-alive"))
            continue;
        if (nm.len == 16 && HS_IOV_IEQ(nm, "proxy-connection"))
            continue;
        if (nm.len == 3 && HS_IOV_IEQ(nm, "via")) {
            join_add(&via, f->value);
            continue;
        }
        if (fwd_on && nm.len == 9 && HS_IOV_IEQ(nm, "forwarded")) {
            if (trusted)
                join_add(&fwd, f->value);
            continue;
        }
        if (x_on && nm.len > 12 && hs_iov_ieq(hs_iov(nm.base, 12), "x-forwarded-", 12)) {
            hs_iovec_t rest = hs_iov(nm.base + 12, nm.len - 12);
            if (HS_IOV_IEQ(rest, "for")) {
                if (trusted)
                    join_add(&xff, f->value);
                continue;
            }
            if (HS_IOV_IEQ(rest, "proto")) {
                if (trusted && !xfp.base)
                    xfp = f->value;
                continue;
            }
            if (HS_IOV_IEQ(rest, "host")) {
                if (trusted && !xfh.base)
                    xfh = f->value;
                continue;
            }
        }
        if (nopt && in_options(nm, opt, nopt))
            continue;
        if (nm.len == 12 && HS_IOV_IEQ(nm, "max-forwards")) {
            uint64_t mf;
            if (hs_parse_u64(f->value, &mf) && mf > 0) {
                char *v = hs_arena_alloc(&req->arena, 24);
                h[k++] = (hs_header_t){.name = nm, .value = hs_iov(v, (size_t)(hs_fmt_u64(v, mf - 1) - v))};
                continue;
            }
        }
        h[k++] = *f;
    }

    /* Host */
    hs_iovec_t client_host = req->meta.host;
    /* a forward proxy's destination: the target's authority (RFC 9112 §3.2.2: a proxy replaces
     * the Host it received by the target's host information), whatever proxy.host says */
    proxy_host_t mode = t->up->index == PROXY_FORWARD_INDEX ? PROXY_HOST_UPSTREAM : pc->host_mode;
    hs_iovec_t host = mode == PROXY_HOST_UPSTREAM ? hs_iov_cstr(t->up->host_field)
                      : mode == PROXY_HOST_FIXED  ? hs_iov_cstr(pc->host)
                      : client_host.len           ? client_host
                                                  : hs_iov_cstr(t->up->host_field);
    h[k++] = (hs_header_t){.name = HS_IOV("Host"), .value = host};

    /* Via: what came, then "1.1 PSEUDONYM" (the version the client spoke) */
    if (pc->via_name || via.n) {
        char me[80], *p = me;
        if (pc->via_name) {
            p = put(p, req->p.minor_version == 0 ? "1.0 " : "1.1 ", 4);
            size_t vl = HS_MIN(strlen(pc->via_name), sizeof(me) - 4);
            p = put(p, pc->via_name, vl);
        }
        h[k++] = (hs_header_t){.name = HS_IOV("Via"), .value = join_with(req, &via, me, (size_t)(p - me), false)};
    }

    /* the client's address */
    char *ip = hs_arena_alloc(&req->arena, HS_ADDR_MAX); /* kept: X-Forwarded-For's value */
    const struct sockaddr *peer = hs_req_peer_addr(req);
    size_t iplen = hs_addr_format(peer, ip, HS_ADDR_MAX, 0);
    const struct sockaddr_in6 *p6 = (const struct sockaddr_in6 *)peer;
    bool v6 = peer->sa_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&p6->sin6_addr);
    hs_iovec_t scheme = hs_iov_cstr(hs_req_scheme(req));
    if (fwd_on) {
        char *me = hs_arena_alloc(&req->arena, iplen + 2 * client_host.len + scheme.len + 32), *p = me;
        p = put(p, "for=", 4);
        if (v6) {
            p = put(p, "\"[", 2);
            p = put(p, ip, iplen);
            p = put(p, "]\"", 2);
        } else {
            p = put(p, ip, iplen);
        }
        if (client_host.len) {
            p = put(p, ";host=", 6);
            p = fwd_value(p, client_host);
        }
        p = put(p, ";proto=", 7);
        p = put(p, scheme.base, scheme.len);
        h[k++] = (hs_header_t){.name = HS_IOV("Forwarded"), .value = join_with(req, &fwd, me, (size_t)(p - me), true)};
    }
    if (x_on) {
        h[k++] = (hs_header_t){.name = HS_IOV("X-Forwarded-For"), .value = join_with(req, &xff, ip, iplen, true)};
        h[k++] = (hs_header_t){.name = HS_IOV("X-Forwarded-Proto"), .value = xfp.base ? xfp : scheme};
        if (xfh.base || client_host.len)
            h[k++] = (hs_header_t){.name = HS_IOV("X-Forwarded-Host"), .value = xfh.base ? xfh : client_host};
    }
    if (req->meta.upgrade) {
        h[k++] = (hs_header_t){.name = HS_IOV("Connection"), .value = HS_IOV("upgrade")};
        h[k++] = (hs_header_t){.name = HS_IOV("Upgrade"), .value = hs_req_header(req, HS_HDR_UPGRADE)};
    }
    if (req->meta.expect_continue)
        h[k++] = (hs_header_t){.name = HS_IOV("Expect"), .value = HS_IOV("100-continue")};
    out->h = h;
    out->n = k;
    out->target = request_target(req, t);
}

/* ---- towards the client ---- */

/* The fields of one section (a response head, interim head or trailer section) all lie in the
 * one buffer the parser read; that buffer goes back to the upstream connection (or the pool)
 * before the response leaves. One copy of the span the fields cover, into the arena, instead of
 * one per name and value: the pointers are then moved by the same offset. */
typedef struct span_s {
    const char *lo;
    char *mem;
} span_t;

static void span_copy(hs_req_t *req, const hs_header_t *h, size_t n, span_t *s)
{
    /* in order in one buffer (the parser's): from the first name to the end of the last value */
    const char *lo = n ? h[0].name.base : NULL;
    size_t len = n ? (size_t)(h[n - 1].value.base + h[n - 1].value.len - lo) : 0;
    s->lo = lo;
    s->mem = hs_arena_alloc(&req->arena, len ? len : 1);
    if (len)
        memcpy(s->mem, lo, len);
}

static inline hs_iovec_t moved(const span_t *s, hs_iovec_t v)
{
    return hs_iov(s->mem + (v.base - s->lo), v.len); /* an empty value's base is inside the span too */
}

/* Should this field of an upstream's response go on to the client? The parser's token decides
 * for the well-known names; the others that matter here are told apart by their length first. */
static bool keep_response_field(const hs_header_t *f, bool upgrade, const hs_iovec_t *opt, size_t nopt)
{
    switch (f->token) {
    case HS_HDR_UPGRADE: return upgrade;
    case HS_HDR_CONNECTION: /* RFC 9110 §7.6.1; the framing is written afresh (RFC 9112 §6) */
    case HS_HDR_TRANSFER_ENCODING:
    case HS_HDR_CONTENT_LENGTH:
    case HS_HDR_TE: return false;
    case HS_HDR_OTHER: {
        hs_iovec_t nm = f->name;
        switch (nm.len) {
        /* the first letter before the whole name: most fields share a length with one of these */
        case 4: /* Date and Server are ours: the engine writes them */
            if ((nm.base[0] | 0x20) == 'd' && HS_IOV_IEQ(nm, "date"))
                return false;
            break;
        case 6:
            if ((nm.base[0] | 0x20) == 's' && HS_IOV_IEQ(nm, "server"))
                return false;
            break;
        case 10:
            if ((nm.base[0] | 0x20) == 'k' && HS_IOV_IEQ(nm, "keep-alive"))
                return false;
            break;
        case 16:
            if ((nm.base[0] | 0x20) == 'p' && HS_IOV_IEQ(nm, "proxy-connection"))
                return false;
            break;
        default: break;
        }
        break;
    }
    default: break;
    }
    return !(nopt && in_options(f->name, opt, nopt));
}

void hs__proxy_response_fields(hs_req_t *req, const hs_header_t *h, size_t n, bool upgrade, hs_buf_t *ps)
{
    conn_opts_t co;
    co.v = co.inl;
    co.n = 0;
    for (size_t i = 0; i < n; i++)
        if (h[i].token == HS_HDR_CONNECTION) {
            connection_options(&req->arena, h, n, &co);
            break;
        }
    const hs_iovec_t *opt = co.v;
    size_t nopt = co.n;
    span_t sp;
    span_copy(req, h, n, &sp);
    hs_res_headers_reserve(req, n + 4); /* and the few the gateway and the engine add */
    for (size_t i = 0; i < n; i++) {
        hs_iovec_t nm = h[i].name;
        if (nm.len == 12 && h[i].token == HS_HDR_OTHER && (nm.base[0] | 0x20) == 'p' &&
            HS_IOV_IEQ(nm, "proxy-status")) {
            if (ps->len) /* RFC 9209 §2: further gateways first, ours last */
                HS_BUF_LIT(ps, ", ");
            hs_buf_append(ps, h[i].value.base, h[i].value.len);
            continue;
        }
        if (!keep_response_field(&h[i], upgrade, opt, nopt))
            continue;
        hs_res_header(req, moved(&sp, nm), moved(&sp, h[i].value));
    }
}

size_t hs__proxy_copy_fields(hs_req_t *req, const hs_header_t *h, size_t n, hs_res_header_t *out)
{
    conn_opts_t co;
    co.v = co.inl;
    co.n = 0;
    connection_options(&req->arena, h, n, &co);
    const hs_iovec_t *opt = co.v;
    size_t nopt = co.n;
    span_t sp;
    span_copy(req, h, n, &sp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep_response_field(&h[i], false, opt, nopt))
            continue;
        out[k].name = moved(&sp, h[i].name);
        out[k].value = moved(&sp, h[i].value);
        k++;
    }
    return k;
}
