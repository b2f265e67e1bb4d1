/* statusd — policy: redirect templates and the loop check.
 *
 * A template is a URI reference with variables: `https://example.com/new$path?$query`,
 * `$scheme://$host/login?next=$path`, `/archive${rest}`. It is compiled once (at configuration)
 * into literal and variable segments, each knowing which URI component it sits in, because the
 * characters a value may keep depend on the component (RFC 3986 §3.3 path, §3.4 query, §3.5
 * fragment, §3.2 authority):
 *   - a value keeps what its component allows as is, keeps valid %XX escapes as they are (the
 *     request path and query are already encoded: decoding and re-encoding them would change
 *     what they mean — "%2F" is not "/"), and escapes every other byte as %XX;
 *   - in the path, '?' and '#' are escaped (they would end the path), and so is '\' (browsers
 *     read "/\evil.example" as "//evil.example");
 *   - $host in the authority must already be a valid authority (host and port); anything else
 *     there would change where the client goes, so the expansion fails rather than encode it.
 * No value may change where a relative target points — the classic open redirect:
 *   - $path is the request path in its normal form (hs/path.h): dot segments gone and slashes
 *     merged, so a request for "//evil.example/x" is "/evil.example/x";
 *   - "/$path" joins with one slash, and a target without an authority whose expansion still
 *     starts with "//" ("/${rest}/x" with an empty rest) has the extra slashes removed (both
 *     found by fuzz_redirect);
 *   - a template cannot start with $query, and in the first segment of a relative reference a
 *     value's ':' is escaped ("a$query" with "javascript:…" would otherwise become a scheme).
 *
 * `?$query` (and `&$query`) at the end of the query part disappears with an empty query: a
 * redirect of "/a" to "/b?$query" is "/b", not "/b?".
 *
 * The loop check. A rule whose target can be a request that the same rule answers again sends
 * the client round in circles (or, when the path grows, until 414). Whether a template can do
 * that for *some* request depends only on how the request's parts are copied, so it is decided by
 * expanding the template for a small set of witness requests under the rule's scope (its
 * schemes, its host names or an arbitrary one for a catch-all host, paths at and below its
 * prefix, with and without a query), resolving each target against its request (RFC 3986 §5.2)
 * and asking whether the target comes back to the rule: by default when its scheme and host are
 * the rule's and its path is under the prefix, or through the caller's `reaches`, which knows the
 * whole configuration (a longer path prefix elsewhere may take the target away). */
#define _GNU_SOURCE
#include "policy.h"

#include "hs/codec.h"
#include "hs/path.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

enum { V_LITERAL, V_SCHEME, V_HOST, V_PATH, V_QUERY, V_REST };
enum { C_SCHEME, C_AUTHORITY, C_PATH, C_QUERY, C_FRAGMENT };

typedef struct seg_s {
    int var;
    int comp;          /* the component the segment starts in (a literal may span several) */
    bool drop_sep;     /* V_QUERY: drop the '?' or '&' before it when the query is empty */
    bool colon_escape; /* in the first segment of a relative reference: ':' would read as a scheme */
    const char *text;  /* V_LITERAL */
    size_t len;
} seg_t;

struct hs__redirect_s {
    seg_t *seg;
    size_t n;
    bool authority; /* the target has one ("//…" or "scheme://…") */
    char *text;     /* literals, unescaped "$$" */
    size_t literal_len;
};

void hs__redirect_free(hs__redirect_t *r)
{
    if (!r)
        return;
    free(r->seg);
    free(r->text);
    free(r);
}

static bool is_sub_delim(unsigned char c)
{
    return c && strchr("!$&'()*+,;=", c);
}

static bool is_pchar(unsigned char c)
{
    return hs_is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@';
}

/* May byte c stand unescaped in component comp? */
static bool allowed_in(int comp, unsigned char c)
{
    switch (comp) {
    case C_PATH: return is_pchar(c) || c == '/';
    case C_QUERY:
    case C_FRAGMENT: return is_pchar(c) || c == '/' || c == '?';
    case C_AUTHORITY: return hs_is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '[' || c == ']' || c == '@';
    default: return hs_is_unreserved(c) || c == '+'; /* scheme */
    }
}

static int fail(char *err, size_t errlen, const char *fmt, ...) HS_FMT(3, 4);
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return HS_ERROR;
}

static int var_of(const char *name, size_t n)
{
    static const struct {
        const char *name;
        int var;
    } vars[] = {{"scheme", V_SCHEME}, {"host", V_HOST}, {"path", V_PATH}, {"query", V_QUERY}, {"rest", V_REST}};
    for (size_t i = 0; i < HS_ARRAY_SIZE(vars); i++)
        if (strlen(vars[i].name) == n && memcmp(vars[i].name, name, n) == 0)
            return vars[i].var;
    return -1;
}

/* Follow the component as literal text goes by: "scheme://authority/path?query#fragment". */
typedef struct comp_state_s {
    int comp;
    bool at_start;  /* right after "scheme:": "//" opens an authority */
    bool first_seg; /* still in the first segment of a reference without a scheme (RFC 3986 §4.2) */
} comp_state_t;

static bool is_scheme_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
           c == '.';
}

static void comp_advance(comp_state_t *st, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (st->comp == C_SCHEME) {
            if (is_scheme_char(c))
                continue;
            if (c == ':') {
                st->comp = C_PATH;
                st->at_start = true;
                continue;
            }
            st->comp = C_PATH; /* no scheme after all: a relative reference; c is read as such */
            st->at_start = false;
            st->first_seg = true;
        }
        if (c == '/' || st->comp != C_PATH)
            st->first_seg = false;
        switch (st->comp) {
        case C_PATH:
            if (st->at_start && c == '/' && i + 1 < n && p[i + 1] == '/') {
                st->comp = C_AUTHORITY;
                st->at_start = false;
                i++;
                continue;
            }
            st->at_start = false;
            if (c == '?')
                st->comp = C_QUERY;
            else if (c == '#')
                st->comp = C_FRAGMENT;
            break;
        case C_AUTHORITY:
            if (c == '/')
                st->comp = C_PATH;
            else if (c == '?')
                st->comp = C_QUERY;
            else if (c == '#')
                st->comp = C_FRAGMENT;
            break;
        case C_QUERY:
            if (c == '#')
                st->comp = C_FRAGMENT;
            break;
        default: break;
        }
    }
}

int hs__redirect_compile(const char *tmpl, hs__redirect_t **out, char *err, size_t errlen)
{
    size_t n = strlen(tmpl);
    if (n == 0)
        return fail(err, errlen, "an empty redirect target");
    if (n > HS__REDIRECT_MAX)
        return fail(err, errlen, "a redirect target longer than %d bytes", HS__REDIRECT_MAX);
    hs__redirect_t *r = hs_calloc(1, sizeof(*r));
    r->text = hs_malloc(n + 1);
    r->seg = hs_calloc(n + 1, sizeof(seg_t));
    size_t tl = 0;
    /* until a character says otherwise, the reference may start with a scheme; "//" opens an
     * authority at once (a network-path reference) */
    comp_state_t st = {.comp = tmpl[0] == '/' && tmpl[1] == '/' ? C_AUTHORITY : C_SCHEME};
    size_t first = st.comp == C_AUTHORITY ? 2 : 0;
    if (first) {
        memcpy(r->text, "//", 2);
        tl = 2;
        r->seg[r->n++] = (seg_t){.var = V_LITERAL, .comp = C_PATH, .text = r->text, .len = 2};
        r->literal_len = 2;
    }
    for (size_t i = first; i < n;) {
        unsigned char c = (unsigned char)tmpl[i];
        if (c == '$' && tmpl[i + 1] != '$') {
            size_t s = i + 1, e;
            bool braced = tmpl[s] == '{';
            if (braced) {
                const char *close = strchr(tmpl + s, '}');
                if (!close)
                    goto Bad_brace;
                e = (size_t)(close - tmpl);
                s++;
            } else {
                e = s;
                while ((tmpl[e] >= 'a' && tmpl[e] <= 'z') || tmpl[e] == '_')
                    e++;
            }
            int v = var_of(tmpl + s, e - s);
            if (v < 0) {
                fail(err, errlen, "at column %zu: unknown variable '$%.*s' (known: $scheme $host $path $query $rest)",
                     i + 1, (int)(e - s), tmpl + s);
                goto Error;
            }
            if (st.comp == C_SCHEME && v != V_SCHEME) {
                st.comp = C_PATH; /* "$path…" at the start: a relative reference */
                st.at_start = false;
                st.first_seg = true;
            }
            if (v == V_QUERY && i == 0) {
                /* "$query…": the client would choose the scheme or the host ("//evil.example") */
                fail(err, errlen, "a target cannot start with $query");
                goto Error;
            }
            seg_t *sg = &r->seg[r->n++];
            *sg = (seg_t){.var = v, .comp = st.comp, .colon_escape = st.comp == C_PATH && st.first_seg};
            if (v == V_PATH)
                st.first_seg = false; /* it starts with '/' */
            if (v == V_SCHEME && (st.comp == C_SCHEME ? i != 0 : st.comp != C_QUERY && st.comp != C_FRAGMENT)) {
                fail(err, errlen, "at column %zu: $scheme can only start the target or stand in its query", i + 1);
                goto Error;
            }
            if (v == V_HOST && st.comp == C_PATH) {
                fail(err, errlen, "at column %zu: $host in the path (write $scheme://$host/…)", i + 1);
                goto Error;
            }
            if (v == V_QUERY && st.comp == C_AUTHORITY) {
                fail(err, errlen, "at column %zu: $query in the host part of the target", i + 1);
                goto Error;
            }
            if ((v == V_PATH || v == V_REST) && st.comp == C_AUTHORITY) {
                sg->comp = st.comp = C_PATH; /* "https://host$path": the path starts with its '/' */
                st.at_start = false;
            }
            if (v == V_QUERY && sg->comp == C_QUERY && r->n >= 2) {
                const seg_t *prev = &r->seg[r->n - 2];
                size_t after = braced ? e + 1 : e;
                if (prev->var == V_LITERAL && prev->len &&
                    (prev->text[prev->len - 1] == '?' || prev->text[prev->len - 1] == '&') &&
                    (tmpl[after] == '\0' || tmpl[after] == '#'))
                    sg->drop_sep = true;
            }
            i = braced ? e + 1 : e;
            if (v != V_SCHEME && v != V_HOST)
                st.at_start = false;
            if (v == V_SCHEME && st.comp == C_SCHEME) {
                /* the scheme is the request's: "://" must follow */
                if (strncmp(tmpl + i, "://", 3) != 0) {
                    fail(err, errlen, "at column %zu: $scheme must be followed by ://", i + 1);
                    goto Error;
                }
            }
            continue;
        }
        /* a literal run up to the next variable */
        char *lit = r->text + tl;
        while (i < n && !(tmpl[i] == '$' && tmpl[i + 1] != '$')) {
            unsigned char d = (unsigned char)tmpl[i];
            if (d == '$') { /* "$$" is one '$' */
                r->text[tl++] = '$';
                i += 2;
                continue;
            }
            if (d == '%') {
                if (hs_hex_digit((unsigned char)tmpl[i + 1]) < 0 || hs_hex_digit((unsigned char)tmpl[i + 2]) < 0) {
                    fail(err, errlen, "at column %zu: '%%' not followed by two hex digits", i + 1);
                    goto Error;
                }
            } else if (!(hs_is_unreserved(d) || is_sub_delim(d) || (d && strchr(":/?#[]@", d)))) {
                fail(err, errlen, "at column %zu: a character a URI cannot hold (0x%02x); write it %%-encoded", i + 1,
                     d);
                goto Error;
            }
            r->text[tl++] = (char)d;
            i++;
        }
        size_t len = (size_t)(r->text + tl - lit);
        seg_t *sg = &r->seg[r->n++];
        *sg = (seg_t){.var = V_LITERAL, .comp = st.comp, .text = lit, .len = len};
        comp_advance(&st, lit, len);
        r->literal_len += len;
    }
    r->text[tl] = '\0';
    /* an authority: "//" at the start, or right after a scheme (literal or $scheme) */
    size_t k = 0;
    while (is_scheme_char(tmpl[k]))
        k++;
    r->authority = (tmpl[0] == '/' && tmpl[1] == '/') || (k > 0 && strncmp(tmpl + k, "://", 3) == 0) ||
                   strncmp(tmpl, "$scheme://", 10) == 0 || strncmp(tmpl, "${scheme}://", 12) == 0;
    *out = r;
    return HS_OK;
Bad_brace:
    fail(err, errlen, "a '${' without its '}'");
Error:
    hs__redirect_free(r);
    return HS_ERROR;
}

/* Append v for component comp: allowed bytes and valid escapes as they are, the rest as %XX
 * (and ':' too with colon_escape, up to the first '/'). */
static char *put_encoded(char *p, hs_iovec_t v, int comp, bool colon_escape)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (c == '%' && i + 2 < v.len && hs_hex_digit((unsigned char)v.base[i + 1]) >= 0 &&
            hs_hex_digit((unsigned char)v.base[i + 2]) >= 0) {
            *p++ = '%'; /* an escape kept as it is */
            continue;
        }
        if (c != '%' && allowed_in(comp, c) && !(colon_escape && c == ':')) {
            *p++ = (char)c;
            colon_escape = colon_escape && c != '/'; /* past the first segment */
            continue;
        }
        *p++ = '%';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 15];
    }
    return p;
}

static bool authority_ok(hs_iovec_t h)
{
    if (h.len == 0)
        return false;
    for (size_t i = 0; i < h.len; i++) {
        unsigned char c = (unsigned char)h.base[i];
        if (!(hs_is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '[' || c == ']'))
            return false;
    }
    return true;
}

/* $rest: the normal path after the prefix (a prefix's trailing '/' stays with the rest). */
static hs_iovec_t rest_of(hs_iovec_t path, hs_iovec_t prefix)
{
    size_t pl = prefix.len;
    if (pl && prefix.base[pl - 1] == '/')
        pl--;
    if (!hs_path_has_prefix(path, prefix) || pl > path.len)
        return path;
    return hs_iov(path.base + pl, path.len - pl);
}

int hs__redirect_expand(const hs__redirect_t *r, const hs__redirect_req_t *req, hs_arena_t *a, hs_iovec_t *out,
                        const char **detail)
{
    hs_iovec_t rest = rest_of(req->path, req->prefix);
    size_t cap = r->literal_len + 1;
    for (size_t i = 0; i < r->n; i++) {
        switch (r->seg[i].var) {
        case V_SCHEME: cap += req->scheme.len; break;
        case V_HOST: cap += 3 * req->host.len; break;
        case V_PATH: cap += 3 * req->path.len; break;
        case V_QUERY: cap += 3 * (req->query.base ? req->query.len : 0); break;
        case V_REST: cap += 3 * rest.len; break;
        default: break;
        }
    }
    if (cap > 4 * HS__REDIRECT_MAX) {
        *detail = "the redirect target would be too long";
        return HS_ERROR;
    }
    char *buf = hs_arena_alloc(a, cap), *p = buf;
    for (size_t i = 0; i < r->n; i++) {
        const seg_t *s = &r->seg[i];
        switch (s->var) {
        case V_LITERAL:
            memcpy(p, s->text, s->len);
            p += s->len;
            break;
        case V_SCHEME: p = put_encoded(p, req->scheme, C_SCHEME, false); break;
        case V_HOST:
            if (s->comp == C_AUTHORITY) {
                if (!authority_ok(req->host)) {
                    *detail = "the Host field is not an authority a redirect can point to";
                    return HS_ERROR;
                }
                memcpy(p, req->host.base, req->host.len);
                p += req->host.len;
            } else
                p = put_encoded(p, req->host, s->comp, s->colon_escape);
            break;
        case V_PATH:
        case V_REST: {
            hs_iovec_t v = s->var == V_PATH ? req->path : rest;
            if (s->comp == C_PATH && v.len && v.base[0] == '/' && p > buf && p[-1] == '/')
                v = hs_iov(v.base + 1, v.len - 1); /* "/$path": one slash, not two */
            p = put_encoded(p, v, s->comp, s->colon_escape);
            break;
        }
        case V_QUERY:
            if ((!req->query.base || req->query.len == 0) && s->drop_sep && p > buf)
                p--; /* "/b?$query" with no query is "/b" */
            else if (req->query.base)
                p = put_encoded(p, req->query, s->comp, s->colon_escape);
            break;
        }
    }
    if (!r->authority && p - buf >= 2 && buf[0] == '/' && buf[1] == '/') {
        /* "/${rest}/x" with an empty rest: "//x" would name the host x (an open redirect) */
        size_t k = 1;
        while (buf + k < p && buf[k] == '/')
            k++;
        memmove(buf + 1, buf + k, (size_t)(p - buf) - k);
        p -= k - 1;
    }
    if ((size_t)(p - buf) > HS__REDIRECT_MAX) {
        *detail = "the redirect target would be too long";
        return HS_ERROR;
    }
    *p = '\0';
    *out = hs_iov(buf, (size_t)(p - buf));
    return HS_OK;
}

/* ---- the loop check ---- */

/* A target resolved against its request (RFC 3986 §5.2, enough of it for this check). */
typedef struct target_s {
    char scheme[16];
    char host[256];  /* lowercase, without a default port */
    hs_iovec_t path; /* normal form, in the arena */
    bool ok;
} target_t;

static void lower_host(const char *scheme, hs_iovec_t auth, char *out, size_t n)
{
    const char *at = memchr(auth.base, '@', auth.len);
    if (at) /* userinfo is not the host */
        auth = hs_iov(at + 1, auth.len - (size_t)(at - auth.base) - 1);
    size_t len = HS_MIN(auth.len, n - 1);
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(auth.base[i] >= 'A' && auth.base[i] <= 'Z' ? auth.base[i] + 32 : auth.base[i]);
    out[len] = '\0';
    const char *dflt = strcmp(scheme, "https") == 0 ? ":443" : strcmp(scheme, "http") == 0 ? ":80" : NULL;
    size_t dl = dflt ? strlen(dflt) : 0;
    if (dflt && len > dl && strcmp(out + len - dl, dflt) == 0)
        out[len - dl] = '\0';
    if (len > 0 && out[strlen(out) - 1] == '.') /* "example.com." is example.com */
        out[strlen(out) - 1] = '\0';
}

static void resolve(hs_arena_t *a, const char *bscheme, const char *bhost, hs_iovec_t bpath, hs_iovec_t ref,
                    target_t *t)
{
    memset(t, 0, sizeof(*t));
    size_t i = 0;
    /* scheme */
    while (i < ref.len && is_scheme_char(ref.base[i]))
        i++;
    bool has_scheme =
        i > 0 && i < ref.len && ref.base[i] == ':' && ((ref.base[0] | 0x20) >= 'a' && (ref.base[0] | 0x20) <= 'z');
    size_t pos = 0;
    if (has_scheme) {
        size_t sl = HS_MIN(i, sizeof(t->scheme) - 1);
        for (size_t k = 0; k < sl; k++)
            t->scheme[k] = (char)(ref.base[k] | 0x20);
        pos = i + 1;
    } else
        snprintf(t->scheme, sizeof(t->scheme), "%s", bscheme);
    hs_iovec_t rest = hs_iov(ref.base + pos, ref.len - pos);
    size_t cut = 0;
    while (cut < rest.len && rest.base[cut] != '?' && rest.base[cut] != '#')
        cut++;
    hs_iovec_t path = hs_iov(rest.base, cut);
    if (path.len >= 2 && path.base[0] == '/' && path.base[1] == '/') {
        size_t e = 2;
        while (e < path.len && path.base[e] != '/')
            e++;
        lower_host(t->scheme, hs_iov(path.base + 2, e - 2), t->host, sizeof(t->host));
        path = hs_iov(path.base + e, path.len - e);
        if (path.len == 0)
            path = HS_IOV("/");
    } else {
        snprintf(t->host, sizeof(t->host), "%s", bhost);
        if (path.len == 0) {
            path = bpath; /* "?q" or "#f" or "": the same path */
        } else if (path.base[0] != '/') {
            /* a relative path: merge with the base's directory (§5.2.3) */
            const char *slash = bpath.len ? memrchr(bpath.base, '/', bpath.len) : NULL;
            size_t dl = slash ? (size_t)(slash - bpath.base) + 1 : 1;
            char *m = hs_arena_alloc(a, dl + path.len + 1);
            memcpy(m, slash ? bpath.base : "/", dl);
            memcpy(m + dl, path.base, path.len);
            path = hs_iov(m, dl + path.len);
        }
    }
    const char *detail;
    t->ok = hs_path_normalize_arena(a, path, &t->path, 0, &detail) == 0;
}

static bool host_in_scope(const hs__redirect_scope_t *sc, const char *host)
{
    if (!sc->hosts)
        return true; /* a catch-all host: any name may land here */
    for (const char *const *h = sc->hosts; *h; h++) {
        char norm[256];
        lower_host("http", hs_iov_cstr(*h), norm, sizeof(norm));
        if (strcmp(norm, host) == 0)
            return true;
    }
    return false;
}

static bool reaches(const hs__redirect_scope_t *sc, const target_t *t)
{
    if (sc->reaches)
        return sc->reaches(sc->ctx, hs_iov_cstr(t->scheme), hs_iov_cstr(t->host), t->path);
    bool scheme = (sc->http && strcmp(t->scheme, "http") == 0) || (sc->https && strcmp(t->scheme, "https") == 0);
    return scheme && host_in_scope(sc, t->host) && hs_path_has_prefix(t->path, sc->prefix);
}

int hs__redirect_check_loop(const hs__redirect_t *r, const hs__redirect_scope_t *sc, char *err, size_t errlen)
{
    hs_arena_t a;
    hs_arena_init(&a);
    const char *schemes[2];
    size_t ns = 0;
    if (sc->http)
        schemes[ns++] = "http";
    if (sc->https)
        schemes[ns++] = "https";
    const char *catch_all[] = {"any-host.invalid", NULL};
    const char *const *hosts = sc->hosts && sc->hosts[0] ? sc->hosts : catch_all;
    /* paths at and under the prefix */
    hs_iovec_t p = sc->prefix;
    size_t pl = p.len && p.base[p.len - 1] == '/' ? p.len - 1 : p.len;
    const char *suffixes[] = {"", "/", "/a", "/a/b.html", "/a%20b/c", "/a/"};
    const char *queries[] = {NULL, "", "x=1&y=%2F"};
    int rc = HS_OK;
    for (size_t si = 0; si < ns && rc == HS_OK; si++)
        for (const char *const *h = hosts; *h && rc == HS_OK; h++)
            for (size_t k = 0; k < HS_ARRAY_SIZE(suffixes) && rc == HS_OK; k++) {
                hs_iovec_t wp = hs_arena_printf(&a, "%.*s%s", (int)pl, p.base, suffixes[k]);
                if (wp.len == 0)
                    wp = HS_IOV("/");
                const char *detail;
                hs_iovec_t norm;
                if (hs_path_normalize_arena(&a, wp, &norm, 0, &detail) != 0 || !hs_path_has_prefix(norm, sc->prefix))
                    continue; /* this rule never sees such a request */
                for (size_t q = 0; q < HS_ARRAY_SIZE(queries) && rc == HS_OK; q++) {
                    hs__redirect_req_t req = {.scheme = hs_iov_cstr(schemes[si]),
                                              .host = hs_iov_cstr(*h),
                                              .path = norm,
                                              .query = queries[q] ? hs_iov_cstr(queries[q]) : HS_IOV_NULL,
                                              .prefix = sc->prefix};
                    hs_iovec_t loc;
                    if (hs__redirect_expand(r, &req, &a, &loc, &detail) != HS_OK)
                        continue;
                    char bhost[256];
                    lower_host(schemes[si], req.host, bhost, sizeof(bhost));
                    target_t t;
                    resolve(&a, schemes[si], bhost, norm, loc, &t);
                    if (t.ok && reaches(sc, &t)) {
                        fail(err, errlen,
                             "redirect loop: a request for %s://%s%.*s%s%s is sent to %s, which this rule redirects "
                             "again",
                             schemes[si], *h, (int)norm.len, norm.base, queries[q] ? "?" : "",
                             queries[q] ? queries[q] : "", loc.base);
                        rc = HS_ERROR;
                    }
                }
            }
    hs_arena_reset(&a);
    return rc;
}
