/* statusd — validators and conditional requests (RFC 9110 §8.8, §13).
 *
 * The preconditions are evaluated in the order §13.2.2 prescribes, for a resource described
 * only by its validators, so that the same code serves a static file, a generated document and a
 * WebDAV resource that does not exist yet ("If-None-Match: *" on a PUT that must not overwrite,
 * "If-Match: *" on one that must). Entity tags are compared with the two functions of §8.8.3.2:
 * strong comparison for If-Match and If-Range, weak for If-None-Match.
 *
 * File tags are strong (§8.8.3.1): they change whenever the bytes may have changed, because they
 * combine the inode, the size and the modification time to the nanosecond. */
#define _GNU_SOURCE
#include "hs/conditional.h"

/* ---- entity tags ---- */
static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* One entity-tag at v[i..): its end in *end, or false. */
static bool scan_etag(hs_iovec_t v, size_t i, hs_etag_t *tag, size_t *end)
{
    tag->weak = false;
    if (i + 1 < v.len && v.base[i] == 'W' && v.base[i + 1] == '/') {
        tag->weak = true;
        i += 2;
    }
    if (i >= v.len || v.base[i] != '"')
        return false;
    size_t s = i++;
    for (; i < v.len && v.base[i] != '"'; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (c < 0x21 || c == 0x7f)
            return false; /* etagc = %x21 / %x23-7E / obs-text */
    }
    if (i >= v.len)
        return false;
    i++;
    tag->opaque = hs_iov(v.base + s, i - s);
    *end = i;
    return true;
}

bool hs_etag_parse(hs_iovec_t v, hs_etag_t *tag)
{
    size_t end;
    return v.base && scan_etag(v, 0, tag, &end) && end == v.len;
}

int hs_etag_next(hs_iovec_t v, size_t *pos, hs_etag_t *tag)
{
    /* a list of entity-tags is not split on commas blindly: a tag may contain one */
    size_t i = *pos;
    while (i < v.len && (is_ows(v.base[i]) || v.base[i] == ','))
        i++;
    if (i >= v.len) {
        *pos = i;
        return 0;
    }
    size_t end;
    if (!scan_etag(v, i, tag, &end))
        return -1;
    size_t j = end; /* after a tag: OWS, then ',' or the end */
    while (j < v.len && is_ows(v.base[j]))
        j++;
    if (j < v.len && v.base[j] != ',')
        return -1;
    *pos = end;
    return 1;
}

bool hs_etag_weak_eq(hs_etag_t a, hs_etag_t b)
{
    return a.opaque.len == b.opaque.len && memcmp(a.opaque.base, b.opaque.base, a.opaque.len) == 0;
}

bool hs_etag_strong_eq(hs_etag_t a, hs_etag_t b)
{
    return !a.weak && !b.weak && hs_etag_weak_eq(a, b);
}

size_t hs_etag_from_stat(char *out, const struct stat *st, const char *suffix)
{
    uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
    char *p = out; /* "ino-size-ns[-sfx]" in hex */
    *p++ = '"';
    p = hs_fmt_hex(p, (uint64_t)st->st_ino);
    *p++ = '-';
    p = hs_fmt_hex(p, (uint64_t)st->st_size);
    *p++ = '-';
    p = hs_fmt_hex(p, ns);
    if (suffix) {
        size_t sl = strlen(suffix);
        *p++ = '-';
        memcpy(p, suffix, sl);
        p += sl;
    }
    *p++ = '"';
    return (size_t)(p - out);
}

hs_iovec_t hs_etag_from_stat_arena(hs_arena_t *a, const struct stat *st, const char *suffix)
{
    char *b = hs_arena_alloc(a, HS_ETAG_STAT_MAX + (suffix ? strlen(suffix) + 1 : 0));
    return hs_iov(b, hs_etag_from_stat(b, st, suffix));
}

/* ---- preconditions ---- */
int hs_req_field_count(const hs_req_t *req, int token)
{
    /* the head's analysis keeps each well-known field's first line (meta.h): none there, none
     * at all — the common case (no Range, no If-Range …) costs one load; else count from it */
    const hs_header_t *h = token > 0 && token < HS_HDR__COUNT ? req->meta.h[token] : req->p.headers;
    if (!h)
        return 0;
    int n = 0;
    for (const hs_header_t *end = req->p.headers + req->p.num_headers; h < end; h++)
        n += h->token == token;
    return n;
}

static bool is_star(hs_iovec_t v)
{
    return v.len == 1 && v.base[0] == '*';
}

/* Does any field line with `token` match the representation? "*" matches when it exists
 * (§13.1.1, §13.1.2); a tag list is compared with the strong or weak function. A malformed
 * list makes the whole condition match nothing. */
static bool list_matches(const hs_req_t *req, int token, const hs_validators_t *v, bool strong)
{
    hs_etag_t ours;
    bool have_tag = v->exists && hs_etag_parse(v->etag, &ours);
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        if (h->token != token)
            continue;
        if (is_star(h->value)) {
            if (v->exists)
                return true;
            continue;
        }
        size_t pos = 0;
        hs_etag_t tag;
        int r;
        while ((r = hs_etag_next(h->value, &pos, &tag)) == 1)
            if (have_tag && (strong ? hs_etag_strong_eq(tag, ours) : hs_etag_weak_eq(tag, ours)))
                return true;
        if (r < 0)
            return false;
    }
    return false;
}

/* A single valid HTTP-date field into *t; false when absent, repeated or invalid (§13.1.3,
 * §13.1.4: such a field is ignored). */
static bool single_date(const hs_req_t *req, int token, time_t *t)
{
    return hs_req_field_count(req, token) == 1 && hs_http_date_parse(req->meta.h[token]->value, t);
}

int hs_preconditions(const hs_req_t *req, const hs_validators_t *v)
{
    bool get_or_head = req->p.method_id == HS_METHOD_GET || req->p.method_id == HS_METHOD_HEAD;
    bool dated = v->exists && v->has_last_modified;
    /* step 1: If-Match, strong comparison; false → 412 (§13.1.1) */
    if (req->meta.h[HS_HDR_IF_MATCH]) {
        if (!list_matches(req, HS_HDR_IF_MATCH, v, true))
            return 412;
    } else if (req->meta.h[HS_HDR_IF_UNMODIFIED_SINCE] && dated) {
        /* step 2: If-Unmodified-Since only without If-Match, ignored when invalid or when the
         * resource has no modification date (§13.1.4); modified after the date → 412 */
        time_t t;
        if (single_date(req, HS_HDR_IF_UNMODIFIED_SINCE, &t) && v->last_modified > t)
            return 412;
    }
    /* step 3: If-None-Match, weak comparison; a match → 304 for GET/HEAD, else 412 (§13.1.2) */
    if (req->meta.h[HS_HDR_IF_NONE_MATCH]) {
        if (list_matches(req, HS_HDR_IF_NONE_MATCH, v, false))
            return get_or_head ? 304 : 412;
    } else if (get_or_head && req->meta.h[HS_HDR_IF_MODIFIED_SINCE] && dated) {
        /* step 4: If-Modified-Since only for GET/HEAD, only without If-None-Match, ignored
         * without a modification date (§13.1.3); not modified since the date → 304 */
        time_t t;
        if (single_date(req, HS_HDR_IF_MODIFIED_SINCE, &t) && v->last_modified <= t)
            return 304;
    }
    return 0; /* step 5 (If-Range) belongs to Range handling */
}

bool hs_if_range(const hs_req_t *req, const hs_validators_t *v)
{
    int n = hs_req_field_count(req, HS_HDR_IF_RANGE);
    if (n == 0)
        return true;
    if (n > 1 || !v->exists)
        return false; /* not one valid validator, or nothing it could match */
    hs_iovec_t f = req->meta.h[HS_HDR_IF_RANGE]->value;
    /* §13.1.5: an entity-tag starts with DQUOTE or W/; anything else is an HTTP-date */
    if (f.len >= 1 && (f.base[0] == '"' || (f.len >= 2 && f.base[0] == 'W' && f.base[1] == '/'))) {
        hs_etag_t tag, ours;
        /* one tag only (a list is not a valid If-Range), compared strongly: a weak one never
         * matches */
        return hs_etag_parse(f, &tag) && hs_etag_parse(v->etag, &ours) && hs_etag_strong_eq(tag, ours);
    }
    time_t t;
    return v->has_last_modified && hs_http_date_parse(f, &t) && t == v->last_modified; /* exact match only */
}
