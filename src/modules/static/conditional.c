/* statusd — static origin: validators and conditional requests (RFC 9110 §8.8, §13).
 *
 * Our entity tags are strong (RFC 9110 §8.8.3.1): they change whenever the bytes may have
 * changed, because they combine the inode, the size and the modification time to the
 * nanosecond. Coded variants get their own tag (a suffix), since they are different bytes.
 */
#define _GNU_SOURCE
#include "static.h"

#include <inttypes.h>

size_t hs__static_etag_fmt(char *out, const struct stat *st, const char *suffix)
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

hs_iovec_t hs__static_etag(hs_arena_t *a, const struct stat *st, const char *suffix)
{
    char *b = hs_arena_alloc(a, HS_STATIC_ETAG_MAX + (suffix ? strlen(suffix) : 0));
    return hs_iov(b, hs__static_etag_fmt(b, st, suffix));
}

/* The next entity-tag of a list (RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE,
 * etagc = %x21 / %x23-7E / obs-text — commas may occur inside a tag, so the list is not split
 * on commas blindly). 1 with *tag (quotes included) and *weak, 0 at the end, -1 if malformed. */
static int next_etag(hs_iovec_t v, size_t *pos, hs_iovec_t *tag, bool *weak)
{
    size_t i = *pos;
    while (i < v.len && (v.base[i] == ' ' || v.base[i] == '\t' || v.base[i] == ','))
        i++;
    if (i >= v.len) {
        *pos = i;
        return 0;
    }
    *weak = false;
    if (v.base[i] == 'W' && i + 1 < v.len && v.base[i + 1] == '/') {
        *weak = true;
        i += 2;
    }
    if (i >= v.len || v.base[i] != '"')
        return -1;
    size_t s = i++;
    for (; i < v.len && v.base[i] != '"'; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (c < 0x21 || c == 0x7f)
            return -1;
    }
    if (i >= v.len)
        return -1;
    i++;
    *tag = hs_iov(v.base + s, i - s);
    /* after a tag: OWS then ',' or the end */
    size_t j = i;
    while (j < v.len && (v.base[j] == ' ' || v.base[j] == '\t'))
        j++;
    if (j < v.len && v.base[j] != ',')
        return -1;
    *pos = i;
    return 1;
}

static bool is_star(hs_iovec_t v)
{
    return v.len == 1 && v.base[0] == '*';
}

int hs__static_field_count(const hs_req_t *req, int token)
{
    int n = 0;
    for (size_t i = 0; i < req->p.num_headers; i++)
        n += req->p.headers[i].token == token;
    return n;
}

/* Does any tag in any field line with `token` match ours? "*" matches any current
 * representation. Strong comparison (RFC 9110 §8.8.3.2) also requires both tags to be strong;
 * weak comparison only compares the opaque tags. A malformed list yields `on_error`. */
static bool list_matches(const hs_req_t *req, int token, hs_iovec_t etag, bool strong, bool on_error)
{
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        if (h->token != token)
            continue;
        if (is_star(h->value))
            return true;
        size_t pos = 0;
        hs_iovec_t tag;
        bool weak;
        int r;
        while ((r = next_etag(h->value, &pos, &tag, &weak)) == 1) {
            if (strong && weak)
                continue;
            if (tag.len == etag.len && memcmp(tag.base, etag.base, etag.len) == 0)
                return true;
        }
        if (r < 0)
            return on_error;
    }
    return false;
}

/* A single HTTP-date field into *t; false when absent, repeated or invalid (RFC 9110 §13.1.3,
 * §13.1.4: such a field is ignored). */
static bool single_date(const hs_req_t *req, int token, time_t *t)
{
    return hs__static_field_count(req, token) == 1 && hs_http_date_parse(req->meta.h[token]->value, t);
}

int hs__static_preconditions(const hs_req_t *req, hs_iovec_t etag, time_t last_modified)
{
    bool get_or_head = req->p.method_id == HS_METHOD_GET || req->p.method_id == HS_METHOD_HEAD;
    /* RFC 9110 §13.2.2 step 1: If-Match, strong comparison; false → 412 (§13.1.1) */
    if (req->meta.h[HS_HDR_IF_MATCH]) {
        if (!list_matches(req, HS_HDR_IF_MATCH, etag, true, false))
            return 412;
    } else if (req->meta.h[HS_HDR_IF_UNMODIFIED_SINCE]) {
        /* step 2: If-Unmodified-Since only without If-Match; an invalid date is ignored
         * (§13.1.4); modified after the date → 412 */
        time_t t;
        if (single_date(req, HS_HDR_IF_UNMODIFIED_SINCE, &t) && last_modified > t)
            return 412;
    }
    /* step 3: If-None-Match, weak comparison; a match → 304 for GET/HEAD, else 412 (§13.1.2).
     * A malformed list matches nothing. */
    if (req->meta.h[HS_HDR_IF_NONE_MATCH]) {
        if (list_matches(req, HS_HDR_IF_NONE_MATCH, etag, false, false))
            return get_or_head ? 304 : 412;
    } else if (get_or_head && req->meta.h[HS_HDR_IF_MODIFIED_SINCE]) {
        /* step 4: If-Modified-Since only for GET/HEAD and only without If-None-Match (§13.1.3);
         * not modified since the date → 304 */
        time_t t;
        if (single_date(req, HS_HDR_IF_MODIFIED_SINCE, &t) && last_modified <= t)
            return 304;
    }
    return 0; /* step 5 (If-Range) belongs to range processing */
}

bool hs__static_if_range(const hs_req_t *req, hs_iovec_t etag, time_t last_modified)
{
    int n = hs__static_field_count(req, HS_HDR_IF_RANGE);
    if (n == 0)
        return true;
    if (n > 1)
        return false; /* not a valid single validator: the Range is ignored */
    hs_iovec_t v = req->meta.h[HS_HDR_IF_RANGE]->value;
    /* RFC 9110 §13.1.5: an entity-tag starts with DQUOTE (or W/); else it is an HTTP-date */
    if (v.len >= 1 && (v.base[0] == '"' || (v.len >= 2 && v.base[0] == 'W' && v.base[1] == '/'))) {
        size_t pos = 0;
        hs_iovec_t tag;
        bool weak;
        if (next_etag(v, &pos, &tag, &weak) != 1 || weak)
            return false; /* a weak tag never matches for If-Range (strong comparison) */
        size_t rest = pos;
        hs_iovec_t more;
        if (next_etag(v, &rest, &more, &weak) != 0)
            return false; /* a list is not a valid If-Range */
        return tag.len == etag.len && memcmp(tag.base, etag.base, etag.len) == 0;
    }
    time_t t;
    return hs_http_date_parse(v, &t) && t == last_modified; /* exact match with Last-Modified only */
}
