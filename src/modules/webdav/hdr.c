/* statusd — WebDAV request header fields (see hdr.h).
 *
 * The If field is the one with a grammar of its own (RFC 4918 §10.4.2): not a comma list, but
 * juxtaposed productions separated by optional whitespace. It is read in one pass, strictly: a
 * malformed If is a 400 (litmus fail_cond_put: never a 400 for a well-formed one that fails, which
 * is a 412). Lists and conditions gather in growable buffers and move to the arena at the end, so
 * the only memory committed is proportional to the field, which the engine has already bounded.
 *
 * Resource-Tags and Destination share one resolver: an absolute path, or an absolute URI whose
 * scheme and authority must be this server's for the path to mean anything here (otherwise
 * "another server": a foreign If list matches nothing; a foreign Destination is a 502, RFC 4918
 * §9.8.5). Paths are percent-decoded and normalised with hs_path_normalize (HS_PATH_DECODE), the
 * same walk the request path takes, so "/a/%62" and "/a/./b" name one resource everywhere. */
#include "hdr.h"

#include "hs/path.h"

#include <stdlib.h>

static bool ws(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_ws(hs_iovec_t v, size_t *i)
{
    while (*i < v.len && ws(v.base[*i]))
        (*i)++;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ); returns its length up to
 * the ':' (0 when s does not start with a scheme and a colon). */
static size_t scheme_len(hs_iovec_t s)
{
    if (s.len == 0 || !is_alpha(s.base[0]))
        return 0;
    size_t i = 1;
    while (i < s.len && (is_alpha(s.base[i]) || (s.base[i] >= '0' && s.base[i] <= '9') || s.base[i] == '+' ||
                         s.base[i] == '-' || s.base[i] == '.'))
        i++;
    return i < s.len && s.base[i] == ':' ? i : 0;
}

/* Bytes a URI may hold as written (RFC 3986 §2: visible ASCII but for the delimiters no URI
 * contains; '%' escapes are checked by the path normaliser where it matters). */
static bool uri_chars_ok(hs_iovec_t s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.base[i];
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '{' || c == '}' || c == '|' ||
            c == '\\' || c == '^' || c == '`')
            return false;
    }
    return true;
}

/* host [":" port] split; an IPv6 literal keeps its brackets. port 0 when absent or empty. */
static bool split_host(hs_iovec_t hp, hs_iovec_t *host, unsigned *port)
{
    size_t end = hp.len;
    *port = 0;
    if (hp.len && hp.base[0] == '[') {
        const char *rb = memchr(hp.base, ']', hp.len);
        if (!rb)
            return false;
        end = (size_t)(rb - hp.base) + 1;
        if (end < hp.len && hp.base[end] != ':')
            return false;
    } else {
        const char *colon = memchr(hp.base, ':', hp.len);
        if (colon)
            end = (size_t)(colon - hp.base);
    }
    *host = hs_iov(hp.base, end);
    if (end < hp.len) { /* ":" port */
        unsigned long p = 0;
        for (size_t i = end + 1; i < hp.len; i++) {
            if (hp.base[i] < '0' || hp.base[i] > '9' || (p = p * 10 + (unsigned long)(hp.base[i] - '0')) > 65535)
                return false;
        }
        *port = (unsigned)p;
    }
    return host->len > 0;
}

static unsigned default_port(hs_iovec_t scheme)
{
    return HS_IOV_IEQ(scheme, "https") ? 443 : 80;
}

/* Is scheme://authority this server (RFC 3986 §6.2.3: case-insensitive scheme and host, the
 * scheme's default port when none is written)? A userinfo part is not part of the comparison. */
static bool same_server(hs_iovec_t scheme, hs_iovec_t auth, const hs__dav_origin_t *o)
{
    if (!o || !o->scheme.base || !o->host.base || scheme.len != o->scheme.len)
        return false;
    for (size_t i = 0; i < scheme.len; i++)
        if ((scheme.base[i] | 0x20) != (o->scheme.base[i] | 0x20))
            return false;
    for (size_t i = auth.len; i-- > 0;)
        if (auth.base[i] == '@') {
            auth = hs_iov(auth.base + i + 1, auth.len - i - 1);
            break;
        }
    hs_iovec_t h1, h2;
    unsigned p1, p2;
    if (!split_host(auth, &h1, &p1) || !split_host(o->host, &h2, &p2) || h1.len != h2.len)
        return false;
    for (size_t i = 0; i < h1.len; i++)
        if ((h1.base[i] | 0x20) != (h2.base[i] | 0x20))
            return false;
    unsigned d = default_port(scheme);
    return (p1 ? p1 : d) == (p2 ? p2 : d);
}

/* An absolute path or absolute URI (already stripped of its delimiters) to a decoded, normalised
 * path on this server: 0 with *path, 0 with *foreign set (another server, or a URI without an
 * authority such as "urn:x"), or 400/404. */
static int resolve_ref(hs_arena_t *a, hs_iovec_t s, const hs__dav_origin_t *o, hs_iovec_t *path, bool *foreign,
                       const char **detail)
{
    *foreign = false;
    *path = HS_IOV_NULL;
    if (s.len == 0 || !uri_chars_ok(s) || memchr(s.base, '#', s.len)) {
        *detail = "a URI in a WebDAV header is malformed (RFC 3986)";
        return 400;
    }
    hs_iovec_t p = s;
    if (s.base[0] != '/') {
        size_t sl = scheme_len(s);
        if (!sl) {
            *detail = "a URI in a WebDAV header is neither an absolute URI nor an absolute path (RFC 4918 §10.3)";
            return 400;
        }
        hs_iovec_t scheme = hs_iov(s.base, sl), rest = hs_iov(s.base + sl + 1, s.len - sl - 1);
        if (rest.len < 2 || rest.base[0] != '/' || rest.base[1] != '/') {
            *foreign = true; /* no authority: not a location on any web server */
            return 0;
        }
        size_t ae = 2;
        while (ae < rest.len && rest.base[ae] != '/' && rest.base[ae] != '?')
            ae++;
        if (!same_server(scheme, hs_iov(rest.base + 2, ae - 2), o)) {
            *foreign = true;
            return 0;
        }
        p = ae < rest.len && rest.base[ae] == '/' ? hs_iov(rest.base + ae, rest.len - ae) : HS_IOV("/");
    }
    return hs_path_normalize_arena(a, p, path, HS_PATH_DECODE, detail);
}

/* ---- If ---- */

static int bad_if(const char **detail, const char *why)
{
    *detail = why;
    return 400;
}

/* One Condition at *i (after optional whitespace). */
static int parse_cond(hs_iovec_t v, size_t *i, hs__dav_if_cond_t *c, const char **detail)
{
    *c = (hs__dav_if_cond_t){0};
    if (*i + 3 <= v.len && hs_iov_ieq(hs_iov(v.base + *i, 3), "not", 3)) {
        c->not = true;
        *i += 3;
        skip_ws(v, i);
    }
    if (*i >= v.len)
        return bad_if(detail, "the If field ends inside a condition (RFC 4918 §10.4.2)");
    if (v.base[*i] == '<') { /* State-token = Coded-URL = "<" absolute-URI ">" */
        const char *gt = memchr(v.base + *i, '>', v.len - *i);
        if (!gt)
            return bad_if(detail, "a state token in the If field has no closing '>' (RFC 4918 §10.4.2)");
        hs_iovec_t u = hs_iov(v.base + *i + 1, (size_t)(gt - v.base) - *i - 1);
        if (!scheme_len(u) || !uri_chars_ok(u))
            return bad_if(detail, "a state token in the If field is not an absolute URI (RFC 4918 §10.4.2)");
        c->token = u;
        *i = (size_t)(gt - v.base) + 1;
        return 0;
    }
    if (v.base[*i] == '[') { /* "[" entity-tag "]"; a tag may hold ']', so find its quotes first */
        size_t s = *i + 1, q = s;
        if (q + 2 <= v.len && v.base[q] == 'W' && v.base[q + 1] == '/')
            q += 2;
        if (q >= v.len || v.base[q] != '"')
            return bad_if(detail, "an entity tag in the If field is malformed (RFC 9110 §8.8.3)");
        const char *close = memchr(v.base + q + 1, '"', v.len - q - 1);
        if (!close || (size_t)(close - v.base) + 1 >= v.len || close[1] != ']')
            return bad_if(detail, "an entity tag in the If field is malformed (RFC 9110 §8.8.3)");
        size_t e = (size_t)(close - v.base) + 1;
        if (!hs_etag_parse(hs_iov(v.base + s, e - s), &c->etag))
            return bad_if(detail, "an entity tag in the If field is malformed (RFC 9110 §8.8.3)");
        c->is_etag = true;
        *i = e + 1;
        return 0;
    }
    return bad_if(detail, "a condition in the If field is neither a state token nor an entity tag (RFC 4918 §10.4.2)");
}

int hs__dav_if_parse(hs_arena_t *a, hs_iovec_t v, const hs__dav_origin_t *origin, hs__dav_if_t *out,
                     const char **detail)
{
    *out = (hs__dav_if_t){0};
    if (!v.base)
        return 0;
    hs_buf_t lists = {0}, conds = {0}, firsts = {0}; /* firsts: each list's first condition */
    int st = 0, mode = 0;                            /* 0 nothing yet, 1 untagged, 2 tagged */
    hs_iovec_t tag = HS_IOV_NULL;
    bool foreign = false, tag_has_list = true;
    size_t i = 0;
    for (;;) {
        skip_ws(v, &i);
        if (i >= v.len)
            break;
        char c = v.base[i];
        if (c == '<') { /* Resource-Tag */
            if (mode == 1 || !tag_has_list) {
                st = bad_if(detail, mode == 1 ? "the If field mixes tagged and untagged lists (RFC 4918 §10.4.2)"
                                              : "a resource tag in the If field has no list (RFC 4918 §10.4.2)");
                break;
            }
            mode = 2;
            const char *gt = memchr(v.base + i, '>', v.len - i);
            if (!gt) {
                st = bad_if(detail, "a resource tag in the If field has no closing '>' (RFC 4918 §10.4.2)");
                break;
            }
            hs_iovec_t ref = hs_iov(v.base + i + 1, (size_t)(gt - v.base) - i - 1);
            if ((st = resolve_ref(a, ref, origin, &tag, &foreign, detail)) != 0) {
                if (st != 400) { /* a tag naming no possible file ("%2F") names no resource here */
                    st = 0;
                    foreign = true;
                } else {
                    break;
                }
            }
            tag_has_list = false;
            i = (size_t)(gt - v.base) + 1;
            continue;
        }
        if (c != '(') {
            st = bad_if(detail, "the If field holds something other than lists and resource tags (RFC 4918 §10.4.2)");
            break;
        }
        if (mode == 0)
            mode = 1;
        i++;
        size_t first = conds.len / sizeof(hs__dav_if_cond_t);
        for (;;) {
            skip_ws(v, &i);
            if (i < v.len && v.base[i] == ')')
                break;
            hs__dav_if_cond_t cond;
            if ((st = parse_cond(v, &i, &cond, detail)) != 0)
                break;
            hs_buf_append(&conds, &cond, sizeof(cond));
        }
        if (st)
            break;
        size_t n = conds.len / sizeof(hs__dav_if_cond_t) - first;
        if (n == 0) {
            st = bad_if(detail, "an empty list in the If field (RFC 4918 §10.4.2: List = \"(\" 1*Condition \")\")");
            break;
        }
        i++; /* ')' */
        hs__dav_if_list_t l = {
            .path = mode == 2 && !foreign ? tag : HS_IOV_NULL, .foreign = mode == 2 && foreign, .n = n};
        hs_buf_append(&lists, &l, sizeof(l));
        hs_buf_append(&firsts, &first, sizeof(first)); /* conds moves as it grows: an index for now */
        tag_has_list = true;
    }
    if (!st && !tag_has_list)
        st = bad_if(detail, "a resource tag in the If field has no list (RFC 4918 §10.4.2)");
    if (!st && lists.len == 0)
        st = bad_if(detail, "the If field is empty (RFC 4918 §10.4.2)");
    if (!st) {
        hs__dav_if_cond_t *cs = hs_arena_alloc(a, conds.len);
        memcpy(cs, conds.base, conds.len);
        out->n = lists.len / sizeof(hs__dav_if_list_t);
        out->lists = hs_arena_alloc(a, lists.len);
        memcpy(out->lists, lists.base, lists.len);
        for (size_t k = 0; k < out->n; k++)
            out->lists[k].conds = cs + ((size_t *)(void *)firsts.base)[k];
        out->tagged = mode == 2;
    }
    hs_buf_free(&lists);
    hs_buf_free(&conds);
    hs_buf_free(&firsts);
    return st;
}

static bool cond_holds(const hs__dav_if_cond_t *c, const hs__dav_if_state_t *s)
{
    bool match = false;
    if (c->is_etag) {
        hs_etag_t cur;
        match = s->exists && s->etag.base && hs_etag_parse(s->etag, &cur) && hs_etag_strong_eq(c->etag, cur);
    } else {
        for (size_t i = 0; i < s->ntokens && !match; i++)
            match = s->tokens[i].len == c->token.len && memcmp(s->tokens[i].base, c->token.base, c->token.len) == 0;
    }
    return match != c->not ;
}

int hs__dav_if_eval(const hs__dav_if_t *h, hs__dav_if_lookup_t lookup, void *ctx)
{
    if (h->n == 0)
        return 1;
    for (size_t i = 0; i < h->n; i++) {
        const hs__dav_if_list_t *l = &h->lists[i];
        /* §10.4.4: a resource we cannot see has no state: "as if the URL identified a resource
         * that exists but does not have the specified state" */
        hs__dav_if_state_t st = {0};
        if (!l->foreign) {
            int r = lookup(ctx, l, &st);
            if (r != HS_OK)
                return r;
        }
        bool all = true;
        for (size_t k = 0; k < l->n && all; k++)
            all = cond_holds(&l->conds[k], &st);
        if (all)
            return 1; /* §10.4.3: the lists are a disjunction */
    }
    return 0;
}

bool hs__dav_if_submits(const hs__dav_if_t *h, hs_iovec_t token)
{
    for (size_t i = 0; i < h->n; i++)
        for (size_t k = 0; k < h->lists[i].n; k++) {
            const hs__dav_if_cond_t *c = &h->lists[i].conds[k];
            if (!c->not &&!c->is_etag && c->token.len == token.len && memcmp(c->token.base, token.base, token.len) == 0)
                return true;
        }
    return false;
}

/* ---- Lock-Token, Timeout, Depth, Overwrite ---- */

static hs_iovec_t trim(hs_iovec_t v)
{
    while (v.len && ws(v.base[0]))
        v = hs_iov(v.base + 1, v.len - 1);
    while (v.len && ws(v.base[v.len - 1]))
        v.len--;
    return v;
}

int hs__dav_lock_token(hs_iovec_t value, hs_iovec_t *token, const char **detail)
{
    hs_iovec_t v = trim(value);
    if (!value.base || v.len < 3 || v.base[0] != '<' || v.base[v.len - 1] != '>') {
        *detail = "Lock-Token must be one Coded-URL: \"<\" absolute-URI \">\" (RFC 4918 §10.5)";
        return 400;
    }
    hs_iovec_t u = hs_iov(v.base + 1, v.len - 2);
    if (!scheme_len(u) || !uri_chars_ok(u)) {
        *detail = "Lock-Token must be one Coded-URL: \"<\" absolute-URI \">\" (RFC 4918 §10.5)";
        return 400;
    }
    *token = u;
    return 0;
}

uint32_t hs__dav_timeout(hs_iovec_t value, uint32_t dflt, uint32_t max)
{
    if (!value.base)
        return HS_MIN(dflt, max);
    size_t pos = 0;
    hs_iovec_t el;
    while ((el = hs_list_next(value, &pos)).base) {
        if (HS_IOV_IEQ(el, "infinite"))
            return max;
        if (el.len > 7 && hs_iov_ieq(hs_iov(el.base, 7), "second-", 7)) {
            uint64_t s;
            /* §10.7: at most 2^32 - 1; a larger or unparsable number is not understood */
            if (hs_parse_u64(hs_iov(el.base + 7, el.len - 7), &s) && s <= UINT32_MAX)
                return (uint32_t)HS_MIN(s, (uint64_t)max);
        }
    }
    return HS_MIN(dflt, max);
}

int hs__dav_depth(hs_iovec_t value, int dflt, int *depth, const char **detail)
{
    if (!value.base) {
        *depth = dflt;
        return 0;
    }
    hs_iovec_t v = trim(value);
    if (HS_IOV_EQ(v, "0"))
        *depth = 0;
    else if (HS_IOV_EQ(v, "1"))
        *depth = 1;
    else if (HS_IOV_IEQ(v, "infinity"))
        *depth = HS__DAV_DEPTH_INFINITY;
    else {
        *detail = "Depth must be 0, 1 or infinity (RFC 4918 §10.2)";
        return 400;
    }
    return 0;
}

int hs__dav_overwrite(hs_iovec_t value, bool *overwrite, const char **detail)
{
    if (!value.base) {
        *overwrite = true; /* §10.6: "If the Overwrite header is not included ... T" */
        return 0;
    }
    hs_iovec_t v = trim(value);
    if (v.len == 1 && (v.base[0] == 'T' || v.base[0] == 't' || v.base[0] == 'F' || v.base[0] == 'f')) {
        *overwrite = (v.base[0] | 0x20) == 't';
        return 0;
    }
    *detail = "Overwrite must be T or F (RFC 4918 §10.6)";
    return 400;
}

int hs__dav_destination(hs_arena_t *a, hs_iovec_t value, const hs__dav_origin_t *origin, hs__dav_dest_t *out,
                        const char **detail)
{
    *out = (hs__dav_dest_t){.path = hs_iov("", 0)};
    if (!value.base) {
        *detail = "COPY and MOVE need a Destination (RFC 4918 §9.8, §9.9)";
        return 400;
    }
    bool foreign;
    hs_iovec_t path;
    int st = resolve_ref(a, trim(value), origin, &path, &foreign, detail);
    if (st)
        return st;
    out->other_server = foreign;
    if (!foreign)
        out->path = path;
    return 0;
}

bool hs__dav_path_rel(hs_iovec_t mount, hs_iovec_t path, hs_iovec_t *rel)
{
    while (mount.len > 1 && mount.base[mount.len - 1] == '/')
        mount.len--;
    if (!hs_path_has_prefix(path, mount))
        return false;
    size_t s = mount.len == 1 ? 0 : mount.len;
    while (s < path.len && path.base[s] == '/')
        s++;
    size_t e = path.len;
    while (e > s && path.base[e - 1] == '/')
        e--;
    *rel = hs_iov(path.base + s, e - s);
    return true;
}
