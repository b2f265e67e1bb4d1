/* statusd — static origin: type maps (NAME.var), Apache's format, for the variants a naming
 * scheme cannot express (a quality per variant, several languages, a coded file, a variant in
 * another directory).
 *
 *     # the resource itself may be named first, alone: such a record is skipped
 *     URI: page
 *
 *     URI: page.en.html
 *     Content-Type: text/html; charset=utf-8; qs=0.9
 *     Content-Language: en
 *
 *     URI: page.fr.html.gz
 *     Content-Type: text/html
 *     Content-Language: fr, fr-CA
 *     Content-Encoding: gzip
 *     Description: French, compressed
 *
 * Records are separated by blank lines; field names are case-insensitive. A record needs a URI
 * (a relative reference, resolved against the map's own address by the caller); Content-Type
 * may carry qs (the server's quality, a qvalue: RFC 9110 §12.4.2 syntax), which is taken out of
 * the type sent; without a Content-Type the caller takes the type from the URI's extension.
 *
 * The parser is strict, because a map is configuration written by hand and a silent guess
 * would serve the wrong variant: an unknown field, a repeated field, a folded line, a NUL, an
 * inline Body, a malformed type, tag, coding or qs are errors with their line. Limits hold
 * before anything is kept: the text's size (HS_TYPEMAP_MAX_SIZE), a line's length
 * (HS_TYPEMAP_MAX_LINE), the number of records (HS_TYPEMAP_MAX_ENTRIES) and of languages of one
 * record (HS_NEG_MAX_TAGS). Nothing is allocated but a rewritten Content-Type, in the arena.
 */
#define _GNU_SOURCE
#include "static.h"

#include <stdio.h>

static bool is_token(hs_iovec_t t)
{
    if (!t.len)
        return false;
    for (size_t i = 0; i < t.len; i++)
        if (!hs_is_tchar((unsigned char)t.base[i]))
            return false;
    return true;
}

static hs_iovec_t trim(hs_iovec_t v)
{
    while (v.len && (v.base[0] == ' ' || v.base[0] == '\t')) {
        v.base++;
        v.len--;
    }
    while (v.len && (v.base[v.len - 1] == ' ' || v.base[v.len - 1] == '\t'))
        v.len--;
    return v;
}

bool hs__static_language_tag(hs_iovec_t t)
{
    /* RFC 5646 §2.1, loosely: subtags of 1-8 letters or digits joined by '-', the first of
     * letters only (grandfathered and private-use forms such as "x-klingon" fit too) */
    if (t.len == 0 || t.len > 64)
        return false;
    size_t run = 0;
    bool first = true;
    for (size_t i = 0; i <= t.len; i++) {
        if (i == t.len || t.base[i] == '-') {
            if (run == 0 || run > 8)
                return false;
            run = 0;
            first = false;
            continue;
        }
        unsigned char c = (unsigned char)t.base[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alpha && (first || c < '0' || c > '9'))
            return false;
        run++;
    }
    return true;
}

int hs__static_coding_of(hs_iovec_t t)
{
    if (HS_IOV_IEQ(t, "identity"))
        return HS_CODING_IDENTITY;
    if (HS_IOV_IEQ(t, "gzip") || HS_IOV_IEQ(t, "x-gzip")) /* RFC 9110 §8.4.1.3 */
        return HS_CODING_GZIP;
    if (HS_IOV_IEQ(t, "br"))
        return HS_CODING_BR;
    if (HS_IOV_IEQ(t, "zstd"))
        return HS_CODING_ZSTD;
    if (HS_IOV_IEQ(t, "deflate"))
        return HS_CODING_DEFLATE;
    return -1;
}

typedef struct {
    size_t line;
    const char *msg;
} perr_t;

static int fail(perr_t *e, size_t line, const char *msg)
{
    e->line = line;
    e->msg = msg;
    return HS_ERROR;
}

/* Content-Type: media-type = type "/" subtype *( OWS ";" OWS parameter ) (RFC 9110 §8.3.1);
 * qs is taken out into *qs, the rest kept as written. */
static int content_type(hs_arena_t *a, hs_iovec_t v, hs_iovec_t *out, int *qs, perr_t *e, size_t line)
{
    size_t pos;
    hs_iovec_t mt = hs_element_value(v, &pos);
    const char *slash = memchr(mt.base, '/', mt.len);
    if (!slash || !is_token(hs_iov(mt.base, (size_t)(slash - mt.base))) ||
        !is_token(hs_iov(slash + 1, (size_t)(mt.base + mt.len - slash - 1))))
        return fail(e, line, "Content-Type is not a media type (type/subtype)");
    hs_buf_t b = {0};
    hs_buf_append(&b, mt.base, mt.len);
    hs_param_t p;
    bool seen_qs = false;
    while (hs_param_next(v, &pos, &p)) {
        if (!is_token(p.name) || !p.value.base || !p.value.len) {
            hs_buf_free(&b);
            return fail(e, line, "Content-Type has a malformed parameter");
        }
        if (HS_IOV_IEQ(p.name, "qs")) {
            int q = hs_qvalue(p.value);
            if (q < 0 || seen_qs) {
                hs_buf_free(&b);
                return fail(e, line, seen_qs ? "qs is given twice" : "qs must be a qvalue between 0 and 1 (0.5, 1)");
            }
            seen_qs = true;
            *qs = q;
            continue;
        }
        HS_BUF_LIT(&b, "; ");
        hs_buf_append(&b, p.name.base, p.name.len);
        HS_BUF_LIT(&b, "=");
        hs_buf_append(&b, p.value.base, p.value.len);
    }
    *out = hs_iov(hs_arena_strndup(a, b.base, b.len), b.len);
    hs_buf_free(&b);
    return HS_OK;
}

static int content_language(hs_iovec_t v, perr_t *e, size_t line)
{
    size_t pos = 0, n = 0;
    hs_iovec_t el;
    while ((el = hs_list_next(v, &pos)).base) {
        if (!hs__static_language_tag(el))
            return fail(e, line, "Content-Language holds something that is not a language tag");
        if (++n > HS_NEG_MAX_TAGS)
            return fail(e, line, "Content-Language lists more than 8 languages");
    }
    return n ? HS_OK : fail(e, line, "Content-Language is empty");
}

static bool uri_ok(hs_iovec_t u)
{
    if (!u.len || u.base[0] == '/')
        return false;
    for (size_t i = 0; i < u.len; i++) {
        unsigned char c = (unsigned char)u.base[i];
        if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#' || c == '\\')
            return false;
        if (c == ':' && !memchr(u.base, '/', i))
            return false; /* a scheme ("http:"), not a reference to a file beside the map */
    }
    return true;
}

enum { F_URI = 1, F_TYPE = 2, F_LANG = 4, F_CODING = 8, F_LENGTH = 16, F_DESC = 32 };

/* The record being read is complete: keep it (or skip it when it only names the resource). */
static int end_record(hs__typemap_t *m, hs__typemap_entry_t *cur, unsigned fields, hs_iovec_t self, perr_t *e)
{
    if (!fields)
        return HS_OK;
    if (!(fields & F_URI))
        return fail(e, cur->line, "a record without a URI");
    if (fields == F_URI && self.base) {
        /* "URI: page" (or page.var) alone: Apache's way of naming the negotiated resource */
        hs_iovec_t u = cur->uri;
        if ((u.len == self.len && memcmp(u.base, self.base, u.len) == 0) ||
            (u.len == self.len + 4 && memcmp(u.base, self.base, self.len) == 0 &&
             memcmp(u.base + self.len, ".var", 4) == 0))
            return HS_OK;
    }
    if (m->n == HS_TYPEMAP_MAX_ENTRIES)
        return fail(e, cur->line, "more than 64 variants in one type map");
    m->e[m->n++] = *cur;
    return HS_OK;
}

int hs__typemap_parse(hs_arena_t *a, const char *text, size_t len, hs_iovec_t self, hs__typemap_t *m, size_t *err_line,
                      const char **err)
{
    m->n = 0;
    perr_t e = {0, NULL};
    hs__typemap_entry_t cur;
    memset(&cur, 0, sizeof(cur));
    unsigned fields = 0;
    size_t line = 0;
    int r = HS_OK;
    if (len > HS_TYPEMAP_MAX_SIZE) {
        r = fail(&e, 0, "the type map is larger than 64 KiB");
        goto Exit;
    }
    for (size_t pos = 0; pos < len && r == HS_OK;) {
        line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        hs_iovec_t l = hs_iov(text + pos, end - pos);
        pos = nl ? end + 1 : len;
        if (l.len && l.base[l.len - 1] == '\r')
            l.len--;
        if (l.len > HS_TYPEMAP_MAX_LINE) {
            r = fail(&e, line, "a line longer than 1024 bytes");
            break;
        }
        if (memchr(l.base, '\0', l.len)) {
            r = fail(&e, line, "a NUL byte");
            break;
        }
        if (l.len && l.base[0] == '#')
            continue;
        if (!trim(l).len) { /* a blank line ends a record */
            r = end_record(m, &cur, fields, self, &e);
            fields = 0;
            continue;
        }
        if (l.base[0] == ' ' || l.base[0] == '\t') {
            r = fail(&e, line, "a line starting with whitespace (folded lines are not supported)");
            break;
        }
        const char *colon = memchr(l.base, ':', l.len);
        hs_iovec_t name = colon ? hs_iov(l.base, (size_t)(colon - l.base)) : l;
        if (!colon || !is_token(name)) {
            r = fail(&e, line, "expected 'Field: value'");
            break;
        }
        hs_iovec_t v = trim(hs_iov(colon + 1, (size_t)(l.base + l.len - colon - 1)));
        for (size_t i = 0; i < v.len; i++)
            if ((unsigned char)v.base[i] < 0x20 && v.base[i] != '\t') {
                r = fail(&e, line, "a control character in a value");
                break;
            }
        if (r != HS_OK)
            break;
        if (!fields) {
            memset(&cur, 0, sizeof(cur));
            cur.qs = 1000;
            cur.line = line;
        }
        unsigned f = HS_IOV_IEQ(name, "uri")                ? F_URI
                     : HS_IOV_IEQ(name, "content-type")     ? F_TYPE
                     : HS_IOV_IEQ(name, "content-language") ? F_LANG
                     : HS_IOV_IEQ(name, "content-encoding") ? F_CODING
                     : HS_IOV_IEQ(name, "content-length")   ? F_LENGTH
                     : HS_IOV_IEQ(name, "description")      ? F_DESC
                                                            : 0;
        if (!f) {
            r = fail(&e, line,
                     HS_IOV_IEQ(name, "body") ? "inline Body is not supported: put the variant in a file"
                                              : "unknown field (URI, Content-Type, Content-Language, Content-Encoding, "
                                                "Content-Length, Description)");
            break;
        }
        if (fields & f) {
            r = fail(&e, line, "a field given twice in one record");
            break;
        }
        fields |= f;
        switch (f) {
        case F_URI:
            if (!uri_ok(v))
                r = fail(&e, line, "URI must be a relative reference to a file (no scheme, no leading '/', no query)");
            cur.uri = v;
            cur.line = line;
            break;
        case F_TYPE: r = content_type(a, v, &cur.type, &cur.qs, &e, line); break;
        case F_LANG:
            r = content_language(v, &e, line);
            cur.language = v;
            break;
        case F_CODING:
            cur.coding = hs__static_coding_of(v);
            if (cur.coding < 0)
                r = fail(&e, line, "Content-Encoding must be one of gzip, br, zstd, deflate or identity");
            break;
        case F_LENGTH: {
            uint64_t ignored;
            if (!hs_parse_u64(v, &ignored))
                r = fail(&e, line, "Content-Length must be a number");
            break;
        }
        case F_DESC: cur.description = v; break;
        }
    }
    if (r == HS_OK)
        r = end_record(m, &cur, fields, self, &e);
Exit:
    if (r != HS_OK) {
        m->n = 0;
        *err_line = e.line;
        *err = e.msg;
    }
    return r;
}
