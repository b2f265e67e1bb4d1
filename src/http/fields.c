/* statusd — header-field tokenising (RFC 9110 §5.6): one implementation of lists, parameters,
 * q-values and quoted strings for the engine (Connection, Transfer-Encoding, Expect, Vary),
 * content negotiation (Accept, Accept-Encoding, A-IM) and the modules (multipart boundaries,
 * Digest credentials).
 *
 * Every scanner here knows about quoted-strings: a ',' or ';' inside quotes is text, and a
 * backslash inside quotes takes the next byte along, so that "a,b" stays one value. */
#define _GNU_SOURCE
#include "hs/fields.h"

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The index of the first `stop` byte at or after i that is outside a quoted-string, or len. */
static size_t scan_to(hs_iovec_t v, size_t i, char stop)
{
    bool quoted = false;
    while (i < v.len && (quoted || v.base[i] != stop)) {
        if (v.base[i] == '"')
            quoted = !quoted;
        else if (quoted && v.base[i] == '\\' && i + 1 < v.len)
            i++;
        i++;
    }
    return i;
}

static hs_iovec_t trim(const char *s, const char *e)
{
    while (s < e && is_ows(*s))
        s++;
    while (e > s && is_ows(e[-1]))
        e--;
    return hs_iov(s, (size_t)(e - s));
}

hs_iovec_t hs_list_next(hs_iovec_t value, size_t *pos)
{
    /* RFC 9110 §5.6.1: #element allows empty elements and OWS around commas; a recipient
     * ignores the empty ones */
    size_t i = *pos;
    for (;;) {
        while (i < value.len && (is_ows(value.base[i]) || value.base[i] == ','))
            i++;
        if (i >= value.len) {
            *pos = i;
            return HS_IOV_NULL;
        }
        size_t s = i;
        i = scan_to(value, i, ',');
        *pos = i;
        hs_iovec_t el = trim(value.base + s, value.base + i);
        if (el.len)
            return el;
    }
}

hs_iovec_t hs_element_value(hs_iovec_t el, size_t *pos)
{
    size_t i = el.base ? scan_to(el, 0, ';') : 0;
    *pos = i;
    return trim(el.base, el.base + i);
}

bool hs_param_next(hs_iovec_t el, size_t *pos, hs_param_t *p)
{
    size_t i = *pos;
    while (i < el.len) {
        i++; /* the ';' */
        size_t s = i;
        i = scan_to(el, i, ';');
        hs_iovec_t t = trim(el.base + s, el.base + i);
        if (t.len == 0)
            continue; /* ";;" or a trailing ';' */
        *pos = i;
        /* §5.6.6: no whitespace around '=' — "q = 0.5" is a parameter named "q " */
        const char *eq = memchr(t.base, '=', t.len);
        p->name = eq ? hs_iov(t.base, (size_t)(eq - t.base)) : t;
        p->value = eq ? hs_iov(eq + 1, t.len - p->name.len - 1) : HS_IOV_NULL;
        return true;
    }
    *pos = i;
    return false;
}

int hs_qvalue(hs_iovec_t v)
{
    /* RFC 9110 §12.4.2: at most three decimals, nothing above 1 */
    if (v.len == 0 || v.len > 5 || (v.len > 1 && v.base[1] != '.'))
        return -1;
    if (v.base[0] == '1') {
        for (size_t i = 2; i < v.len; i++)
            if (v.base[i] != '0')
                return -1;
        return 1000;
    }
    if (v.base[0] != '0')
        return -1;
    int q = 0, scale = 100;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return -1;
        q += (v.base[i] - '0') * scale;
    }
    return q;
}

int hs_element_weight(hs_iovec_t el, hs_iovec_t *value)
{
    size_t pos;
    *value = hs_element_value(el, &pos);
    int q = 1000;
    hs_param_t p;
    while (hs_param_next(el, &pos, &p)) {
        /* weight = OWS ";" OWS "q=" qvalue, "q" case-insensitive (§12.4.2) */
        if (p.name.len == 1 && (p.name.base[0] | 0x20) == 'q' && p.value.base) {
            q = hs_qvalue(p.value);
            if (q < 0)
                return -1;
        }
    }
    return q;
}

ssize_t hs_unquote(hs_iovec_t v, char *out)
{
    /* quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
     * qdtext        = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
     * quoted-pair   = "\" ( HTAB / SP / VCHAR / obs-text ) */
    if (v.len < 2 || v.base[0] != '"')
        return -1;
    size_t o = 0;
    for (size_t i = 1; i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (c == '"')
            return i == v.len - 1 ? (ssize_t)o : -1; /* the closing quote must end the value */
        if (c == '\\') {
            if (++i == v.len - 1 || i >= v.len)
                return -1; /* a backslash quoting the closing quote, or nothing */
            c = (unsigned char)v.base[i];
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -1;
        out[o++] = (char)c;
    }
    return -1; /* no closing quote */
}

hs_iovec_t hs_param_text(hs_arena_t *a, hs_iovec_t value)
{
    if (!value.base || value.len == 0)
        return HS_IOV_NULL;
    if (value.base[0] != '"')
        return value;
    char *out = hs_arena_alloc(a, value.len);
    ssize_t n = hs_unquote(value, out);
    if (n < 0)
        return HS_IOV_NULL;
    out[n] = '\0';
    return hs_iov(out, (size_t)n);
}
