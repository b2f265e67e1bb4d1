/* statusd — the client behind trusted front proxies: Forwarded (RFC 7239) and X-Forwarded-For.
 *
 * Why from the right: each proxy appends the address it received the request from, so the
 * rightmost element is the only one the nearest proxy vouches for; the elements to its left were
 * either appended by the proxies before it (believed only while those are trusted too) or sent
 * by the client, who can write anything there. The walk therefore starts at the peer and stops
 * at the first hop that is not a trusted proxy.
 *
 * Why Forwarded is parsed from the left: a quoted-string may contain commas and semicolons, so
 * the only reliable reading of a field line is the one the grammar gives, from its start. When a
 * line does not parse, what follows the error is lost — including, possibly, the part a trusted
 * proxy appended after the client's garbage in the same line — so the walk meets the error
 * before any element of that line and reports it (HS_FWD_MALFORMED), never guessing where the
 * trusted part begins. X-Forwarded-For has no quoting and is split from the right.
 *
 * Grammar (RFC 7239 §4, with RFC 9110 §5.6 for lists, tokens and quoted strings):
 *     Forwarded         = 1#forwarded-element
 *     forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
 *     forwarded-pair    = token "=" value          value = token / quoted-string
 * Parameter names are case-insensitive and none may occur twice in an element (§4); OWS is
 * accepted around ';' as around ',' (a common way of writing it, and unambiguous). Nodes (§6):
 *     node     = nodename [ ":" node-port ]
 *     nodename = IPv4address / "[" IPv6address "]" / "unknown" / obfnode
 *     obfnode  = "_" 1*( ALPHA / DIGIT / "." / "_" / "-" )
 *     node-port = port / obfport    port = 1*5DIGIT    obfport = "_" 1*(ALPHA / DIGIT / "." / "_" / "-")
 * An IPv6 node contains ':' and '[', which are not token characters, so it must be quoted; an
 * unquoted one is malformed (§6.1). */
#define _GNU_SOURCE
#include "hs/forwarded.h"

#include "hs/fields.h"

#include <strings.h>

#define NODE_MAX 63 /* longest node text accepted (an IPv6 node with a port is 53) */

static bool is_obfchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

static bool obf_ok(hs_iovec_t s)
{
    if (s.len < 2 || s.base[0] != '_')
        return false;
    for (size_t i = 1; i < s.len; i++)
        if (!is_obfchar((unsigned char)s.base[i]))
            return false;
    return true;
}

/* A decimal port, 1*5DIGIT, 0..65535. */
static bool port_ok(hs_iovec_t s, uint16_t *port)
{
    uint64_t v;
    if (s.len == 0 || s.len > 5 || !hs_parse_u64(s, &v) || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

int hs_fwd_parse_node(hs_iovec_t s, hs_ip_t *addr, uint16_t *port)
{
    *port = 0;
    if (s.len == 0 || s.len > NODE_MAX)
        return HS_FWD_MALFORMED;
    hs_iovec_t name = s, p = HS_IOV_NULL;
    if (s.base[0] == '[') {
        const char *close = memchr(s.base, ']', s.len);
        if (!close)
            return HS_FWD_MALFORMED;
        name = hs_iov(s.base + 1, (size_t)(close - s.base - 1));
        size_t rest = s.len - (size_t)(close - s.base) - 1;
        if (rest > 0) {
            if (close[1] != ':')
                return HS_FWD_MALFORMED;
            p = hs_iov(close + 2, rest - 1);
        }
        if (!memchr(name.base, ':', name.len) || hs_ip_parse(name, addr) != HS_OK)
            return HS_FWD_MALFORMED; /* only IPv6 goes in brackets */
    } else {
        const char *colon = memchr(s.base, ':', s.len);
        if (colon) {
            name = hs_iov(s.base, (size_t)(colon - s.base));
            p = hs_iov(colon + 1, s.len - name.len - 1);
        }
        if (hs_iov_ieq(name, "unknown", 7))
            return p.base && !port_ok(p, port) && !obf_ok(p) ? HS_FWD_MALFORMED : HS_FWD_UNKNOWN;
        if (name.len && name.base[0] == '_') {
            if (!obf_ok(name) || (p.base && !port_ok(p, port) && !obf_ok(p)))
                return HS_FWD_MALFORMED;
            *port = 0;
            return HS_FWD_OBFUSCATED;
        }
        if (memchr(name.base, ':', name.len) || hs_ip_parse(name, addr) != HS_OK || !hs_ip_is_v4(addr))
            return HS_FWD_MALFORMED; /* an unbracketed IPv6 address is not a node */
    }
    if (p.base) {
        uint16_t v = 0;
        if (port_ok(p, &v))
            *port = v;
        else if (!obf_ok(p))
            return HS_FWD_MALFORMED;
    }
    return HS_FWD_ADDR;
}

/* ---- one Forwarded line, parsed from the left ---- */

enum { EL_FOR, EL_NO_FOR, EL_ERROR };
typedef struct elem_s {
    hs_iovec_t raw; /* the for= value as written (token, or quoted-string with its quotes) */
    int kind;
} elem_t;

#define RING (HS_FWD_MAX_HOPS + 1) /* a walk never needs more of one line than this */

typedef struct line_s {
    elem_t el[RING];
    size_t n; /* elements seen; the last min(n, RING) are kept, el[i % RING] */
} line_t;

static void line_push(line_t *l, hs_iovec_t raw, int kind)
{
    l->el[l->n % RING] = (elem_t){raw, kind};
    l->n++;
}

static size_t skip_ows(hs_iovec_t v, size_t i)
{
    while (i < v.len && (v.base[i] == ' ' || v.base[i] == '\t'))
        i++;
    return i;
}

/* The end of the quoted-string starting at v.base[i] == '"', or 0 when it is not one. */
static size_t quoted_end(hs_iovec_t v, size_t i)
{
    for (i++; i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (c == '"')
            return i + 1;
        if (c == '\\') {
            if (++i >= v.len)
                return 0;
            c = (unsigned char)v.base[i];
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 0;
}

static void parse_forwarded_line(hs_iovec_t v, line_t *l)
{
    size_t i = 0;
    l->n = 0;
    for (;;) {
        while ((i = skip_ows(v, i)) < v.len && v.base[i] == ',')
            i++; /* empty list elements are allowed (RFC 9110 §5.6.1.2) */
        if (i >= v.len)
            return;
        hs_iovec_t for_raw = HS_IOV_NULL;
        unsigned seen = 0; /* for, by, host, proto */
        for (;;) {         /* the pairs of one element */
            if (v.base[i] != ';' && v.base[i] != ',') {
                size_t s = i;
                while (i < v.len && hs_is_tchar((unsigned char)v.base[i]))
                    i++;
                hs_iovec_t name = hs_iov(v.base + s, i - s);
                if (name.len == 0 || i >= v.len || v.base[i] != '=')
                    goto Error;
                size_t vs = ++i;
                if (i < v.len && v.base[i] == '"') {
                    if (!(i = quoted_end(v, i)))
                        goto Error;
                } else {
                    while (i < v.len && hs_is_tchar((unsigned char)v.base[i]))
                        i++;
                    if (i == vs)
                        goto Error;
                }
                static const char *const known[] = {"for", "by", "host", "proto"};
                for (unsigned k = 0; k < 4; k++) {
                    if (!hs_iov_ieq(name, known[k], strlen(known[k])))
                        continue;
                    if (seen & (1u << k))
                        goto Error; /* RFC 7239 §4: at most once per element */
                    seen |= 1u << k;
                    if (k == 0)
                        for_raw = hs_iov(v.base + vs, i - vs);
                }
            }
            i = skip_ows(v, i);
            if (i < v.len && v.base[i] == ';') {
                i = skip_ows(v, i + 1);
                if (i < v.len)
                    continue;
            }
            break;
        }
        if (i < v.len && v.base[i] != ',')
            goto Error;
        line_push(l, for_raw, for_raw.base ? EL_FOR : EL_NO_FOR);
    }
Error:
    line_push(l, HS_IOV_NULL, EL_ERROR);
}

/* ---- the walk ---- */

typedef struct walk_s {
    const hs_acl_t *trusted;
    hs_fwd_result_t *out;
    hs_ip_t cur;
    int rc; /* HS_AGAIN while walking */
} walk_t;

static int finish(walk_t *w, int kind, int rc, const char *detail)
{
    w->out->kind = kind;
    w->out->addr = w->cur;
    w->out->detail = detail;
    w->rc = rc;
    return rc;
}

/* Step over one node; returns HS_AGAIN to go on to the next one on the left. */
static int step(walk_t *w, hs_iovec_t node)
{
    hs_fwd_result_t *out = w->out;
    hs_ip_t ip;
    uint16_t port;
    if (out->hops >= HS_FWD_MAX_HOPS)
        return finish(w, HS_FWD_MALFORMED, HS_ERROR, "more trusted hops than statusd walks");
    int kind = hs_fwd_parse_node(node, &ip, &port);
    out->hops++;
    switch (kind) {
    case HS_FWD_ADDR:
        w->cur = ip;
        out->port = port;
        if (hs_acl_match(w->trusted, &ip) < 0)
            return finish(w, HS_FWD_ADDR, HS_OK, NULL);
        return HS_AGAIN;
    case HS_FWD_UNKNOWN: return finish(w, HS_FWD_UNKNOWN, HS_DECLINED, NULL);
    case HS_FWD_OBFUSCATED: {
        const char *colon = memchr(node.base, ':', node.len);
        size_t len = colon ? (size_t)(colon - node.base) : node.len;
        memcpy(out->node_buf, node.base, len); /* len <= NODE_MAX < sizeof(node_buf) */
        out->node_buf[len] = '\0';
        out->node = hs_iov(out->node_buf, len);
        return finish(w, HS_FWD_OBFUSCATED, HS_DECLINED, NULL);
    }
    default:
        out->hops--;
        return finish(w, HS_FWD_MALFORMED, HS_ERROR, "a node that is not an address, \"unknown\" or an obfuscated id");
    }
}

static int walk_forwarded(walk_t *w, const hs_iovec_t *values, size_t n)
{
    line_t l;
    for (size_t li = n; li-- > 0;) {
        if (!values[li].base)
            continue;
        parse_forwarded_line(values[li], &l);
        size_t kept = HS_MIN(l.n, (size_t)RING);
        for (size_t k = 0; k < kept; k++) {
            const elem_t *e = &l.el[(l.n - 1 - k) % RING];
            if (e->kind == EL_ERROR)
                return finish(w, HS_FWD_MALFORMED, HS_ERROR, "a Forwarded field that does not parse (RFC 7239 §4)");
            if (e->kind == EL_NO_FOR) {
                w->out->hops++; /* a hop that did not say who its client was (RFC 7239 §5.2) */
                return finish(w, HS_FWD_UNKNOWN, HS_DECLINED, NULL);
            }
            char buf[NODE_MAX + 1];
            hs_iovec_t node = e->raw;
            if (node.len && node.base[0] == '"') {
                if (node.len > NODE_MAX + 2)
                    return finish(w, HS_FWD_MALFORMED, HS_ERROR, "a Forwarded node longer than statusd reads");
                ssize_t len = hs_unquote(node, buf);
                if (len < 0)
                    return finish(w, HS_FWD_MALFORMED, HS_ERROR, "a malformed quoted-string in Forwarded");
                node = hs_iov(buf, (size_t)len);
            } else if (memchr(node.base, ':', node.len) || memchr(node.base, '[', node.len)) {
                return finish(w, HS_FWD_MALFORMED, HS_ERROR, "an unquoted IPv6 address or port (RFC 7239 §6.1)");
            }
            if (step(w, node) != HS_AGAIN)
                return w->rc;
        }
    }
    return HS_AGAIN;
}

/* An X-Forwarded-For element: an address, "[v6]" or "[v6]:port", "v4:port", or a bare IPv6 address. */
static int xff_step(walk_t *w, hs_iovec_t el)
{
    if (hs_iov_ieq(el, "unknown", 7)) {
        w->out->hops++;
        return finish(w, HS_FWD_UNKNOWN, HS_DECLINED, NULL);
    }
    hs_iovec_t node = el;
    char buf[NODE_MAX + 1];
    size_t colons = 0;
    for (size_t i = 0; i < el.len; i++)
        colons += el.base[i] == ':';
    if (colons > 1 && el.len && el.base[0] != '[') { /* a bare IPv6 address: bracket it */
        if (el.len + 2 > NODE_MAX)
            return finish(w, HS_FWD_MALFORMED, HS_ERROR, "an X-Forwarded-For element longer than statusd reads");
        buf[0] = '[';
        memcpy(buf + 1, el.base, el.len);
        buf[el.len + 1] = ']';
        node = hs_iov(buf, el.len + 2);
    }
    if (node.len && node.base[0] == '_')
        return finish(w, HS_FWD_MALFORMED, HS_ERROR, "an X-Forwarded-For element that is not an address");
    return step(w, node);
}

static int walk_xff(walk_t *w, const hs_iovec_t *values, size_t n)
{
    for (size_t li = n; li-- > 0;) {
        hs_iovec_t v = values[li];
        if (!v.base)
            continue;
        size_t end = v.len;
        for (;;) {
            size_t s = end;
            while (s > 0 && v.base[s - 1] != ',')
                s--;
            size_t a = s, b = end;
            while (a < b && (v.base[a] == ' ' || v.base[a] == '\t'))
                a++;
            while (b > a && (v.base[b - 1] == ' ' || v.base[b - 1] == '\t'))
                b--;
            if (b > a && xff_step(w, hs_iov(v.base + a, b - a)) != HS_AGAIN)
                return w->rc;
            if (s == 0)
                break;
            end = s - 1;
        }
    }
    return HS_AGAIN;
}

int hs_fwd_client(const hs_ip_t *peer, const hs_acl_t *trusted, int mode, const hs_iovec_t *values, size_t n,
                  hs_fwd_result_t *out)
{
    memset(out, 0, offsetof(hs_fwd_result_t, node_buf));
    out->node_buf[0] = '\0';
    walk_t w = {trusted, out, *peer, HS_AGAIN};
    if (hs_acl_match(trusted, peer) < 0)
        return finish(&w, HS_FWD_ADDR, HS_OK, NULL);
    int rc = mode == HS_FWD_XFF ? walk_xff(&w, values, n) : walk_forwarded(&w, values, n);
    if (rc != HS_AGAIN)
        return rc;
    /* every hop was trusted (or there was none): the leftmost address is the client */
    return finish(&w, HS_FWD_ADDR, HS_OK, NULL);
}
