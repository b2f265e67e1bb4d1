/* statusd — content negotiation (RFC 9110 §12.5.1). */
#include "hs/negotiate.h"

#include "hs/fields.h"

/* Specificity of a media range against a type: 3 exact, 2 type/ *, 1 * / *, 0 no match. */
static int match(hs_iovec_t range, const char *type)
{
    size_t tl = strlen(type);
    if (hs_iov_ieq(range, type, tl))
        return 3;
    if (range.len == 3 && memcmp(range.base, "*/*", 3) == 0)
        return 1;
    const char *slash = strchr(type, '/');
    size_t major = (size_t)(slash - type);
    if (range.len == major + 2 && range.base[major] == '/' && range.base[major + 1] == '*' &&
        hs_iov_ieq(hs_iov(range.base, major), type, major))
        return 2;
    return 0;
}

int hs_negotiate_type(hs_iovec_t accept, const char *const *types, size_t n)
{
    if (!accept.base)
        return 0;
    int best = -1, best_q = 0;
    for (size_t t = 0; t < n; t++) {
        /* the most specific matching range decides this type's q (RFC 9110 §12.5.1) */
        int spec = 0, q = 0;
        size_t pos = 0;
        hs_iovec_t el;
        bool any = false;
        while ((el = hs_list_next(accept, &pos)).base) {
            any = true;
            hs_iovec_t range;
            int eq = hs_element_weight(el, &range);
            if (eq < 0)
                eq = 0; /* a malformed weight: the range is not acceptable */
            int m = match(range, types[t]);
            if (m > spec) {
                spec = m;
                q = eq;
            }
        }
        if (!any)
            return 0; /* an empty Accept is treated as absent */
        if (spec > 0 && q > best_q) {
            best = (int)t;
            best_q = q;
        }
    }
    return best;
}

/* ---- variants (RFC 9110 §12.1, §12.5) ----
 *
 * Each request field is walked once; every element is compared with every variant, keeping per
 * variant only the deciding element so far. So a field of any size costs time proportional to
 * its elements times the variants (both bounded: a field by max_field, variants by the caller)
 * and no memory. */

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* ASCII case-insensitive equality of a[0..n) and b[0..n), either side in any case. */
static bool ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

/* type/subtype of a Content-Type value, without parameters or surrounding whitespace. */
static hs_iovec_t media_type(hs_iovec_t t)
{
    size_t n = 0;
    while (n < t.len && t.base[n] != ';')
        n++;
    while (n && (t.base[n - 1] == ' ' || t.base[n - 1] == '\t'))
        n--;
    size_t s = 0;
    while (s < n && (t.base[s] == ' ' || t.base[s] == '\t'))
        s++;
    return hs_iov(t.base + s, n - s);
}

/* Specificity of a media range against a media type: 3 exact, 2 type/ *, 1 * / *, 0 none. */
static int match_type(hs_iovec_t range, hs_iovec_t type)
{
    if (range.len == 3 && memcmp(range.base, "*/*", 3) == 0)
        return 1;
    if (range.len == type.len && ieq(range.base, type.base, type.len))
        return 3;
    const char *slash = memchr(type.base, '/', type.len);
    size_t major = slash ? (size_t)(slash - type.base) : 0;
    if (slash && range.len == major + 2 && range.base[major] == '/' && range.base[major + 1] == '*' &&
        ieq(range.base, type.base, major))
        return 2;
    return 0;
}

int hs_language_match(hs_iovec_t range, hs_iovec_t tag)
{
    if (range.len == 1 && range.base[0] == '*')
        return 1;
    /* RFC 4647 §3.3.1: the range equals the tag, or is a prefix of it ending where a '-' follows */
    if (range.len == 0 || range.len > tag.len || !ieq(range.base, tag.base, range.len))
        return 0;
    if (range.len < tag.len && tag.base[range.len] != '-')
        return 0;
    return 1 + (int)HS_MIN(range.len, 1000);
}

/* RFC 9110 §8.4.1.3: x-gzip is gzip. */
static bool same_coding(hs_iovec_t a, hs_iovec_t b)
{
    if (HS_IOV_IEQ(a, "x-gzip"))
        a = HS_IOV("gzip");
    if (HS_IOV_IEQ(b, "x-gzip"))
        b = HS_IOV("gzip");
    return a.len == b.len && ieq(a.base, b.base, a.len);
}

static bool no_coding(hs_iovec_t c)
{
    return !c.base || c.len == 0 || HS_IOV_IEQ(c, "identity");
}

static bool has_elements(hs_iovec_t v)
{
    size_t pos = 0;
    return v.base && hs_list_next(v, &pos).base;
}

static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

static hs_iovec_t trimmed(const char *s, const char *e)
{
    while (s < e && ows(*s))
        s++;
    while (e > s && ows(e[-1]))
        e--;
    return hs_iov(s, (size_t)(e - s));
}

/* One ';'-separated segment of a member: the first is its value, the others parameters, of
 * which only q is read (RFC 9110 §12.4.2; the last one wins, a malformed one spoils the member). */
static void segment(hs_iovec_t t, bool first, hs_iovec_t *value, int *q, bool *bad)
{
    if (first) {
        *value = t;
        return;
    }
    if (t.len < 2 || (t.base[0] | 0x20) != 'q' || t.base[1] != '=')
        return; /* another parameter, or "q" without a value */
    int w = hs_qvalue(hs_iov(t.base + 2, t.len - 2));
    if (w < 0)
        *bad = true;
    else
        *q = w;
}

bool hs_weighted_next(hs_iovec_t v, size_t *pos, hs_iovec_t *value, int *q)
{
    const char *s = v.base;
    size_t n = v.len, i = *pos;
    while (i < n && (ows(s[i]) || s[i] == ','))
        i++;
    if (i >= n) {
        *pos = n;
        return false;
    }
    /* one pass: ',' and ';' outside quoted-strings split, a backslash inside one takes the next
     * byte along (RFC 9110 §5.6.4) */
    size_t seg = i;
    bool quoted = false, first = true, bad = false;
    *q = 1000;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            quoted = !quoted;
        } else if (quoted) {
            if (c == '\\' && i + 1 < n)
                i++;
        } else if (c == ',') {
            break;
        } else if (c == ';') {
            segment(trimmed(s + seg, s + i), first, value, q, &bad);
            first = false;
            seg = i + 1;
        }
    }
    segment(trimmed(s + seg, s + i), first, value, q, &bad);
    *pos = i;
    if (bad)
        *q = -1;
    return true;
}

/* Accept (RFC 9110 §12.5.1): per variant, the most specific matching range, the first of equals. */
static void score_types(hs_iovec_t accept, const hs_variant_t *v, size_t n, hs_variant_score_t *s)
{
    hs_iovec_t media[HS_NEG_MAX_VARIANTS];
    for (size_t i = 0; i < n; i++) {
        media[i] = media_type(v[i].type);
        s[i].type_q = 0;
        s[i].type_spec = 0;
        s[i].type_pos = INT32_MAX;
    }
    if (!has_elements(accept)) { /* absent or empty: everything is acceptable */
        for (size_t i = 0; i < n; i++)
            s[i].type_q = 1000;
        return;
    }
    size_t pos = 0;
    hs_iovec_t range;
    int q;
    for (int k = 0; hs_weighted_next(accept, &pos, &range, &q); k = k < INT32_MAX - 1 ? k + 1 : k) {
        if (q < 0)
            q = 0; /* a malformed weight: the range is not acceptable */
        for (size_t i = 0; i < n; i++) {
            int m = match_type(range, media[i]);
            if (m > s[i].type_spec) {
                s[i].type_spec = (uint8_t)m;
                s[i].type_q = q;
                s[i].type_pos = k;
            }
        }
    }
}

/* Accept-Language (RFC 9110 §12.5.4, RFC 4647 §3.3.1): per tag, the longest matching range (the
 * first of equals); per variant, the best of its tags. */
static void score_languages(hs_iovec_t al, const hs_variant_t *v, size_t n, hs_variant_score_t *s)
{
    typedef struct {
        hs_iovec_t tag;
        int spec, q, at;
        size_t variant;
    } tag_t;
    tag_t tags[HS_NEG_MAX_VARIANTS * HS_NEG_MAX_TAGS];
    size_t nt = 0;
    bool present = has_elements(al);
    for (size_t i = 0; i < n; i++) {
        s[i].lang_explicit = false;
        s[i].lang_exact = false;
        s[i].lang_fallback = false;
        s[i].lang_pos = INT32_MAX;
        s[i].lang_q = 1000; /* no preference stated, or a neutral variant */
        size_t tpos = 0, k = 0;
        hs_iovec_t tag;
        bool one = present && v[i].language.len && !memchr(v[i].language.base, ',', v[i].language.len);
        if (one) { /* the usual single tag, without a list to walk */
            tag = trimmed(v[i].language.base, v[i].language.base + v[i].language.len);
            if (tag.len) {
                tags[nt++] = (tag_t){.tag = tag, .spec = 0, .q = 0, .at = INT32_MAX, .variant = i};
                k++;
            }
        }
        while (present && !one && k < HS_NEG_MAX_TAGS && (tag = hs_list_next(v[i].language, &tpos)).base) {
            tags[nt++] = (tag_t){.tag = tag, .spec = 0, .q = 0, .at = INT32_MAX, .variant = i};
            k++;
        }
        if (k)
            s[i].lang_q = -1; /* decided below */
    }
    size_t pos = 0;
    hs_iovec_t range;
    int w;
    for (int k = 0; nt && hs_weighted_next(al, &pos, &range, &w); k = k < INT32_MAX - 1 ? k + 1 : k) {
        for (size_t t = 0; t < nt; t++) {
            int m = hs_language_match(range, tags[t].tag);
            if (m > tags[t].spec) {
                tags[t].spec = m;
                tags[t].q = w < 0 ? 0 : w;
                tags[t].at = k;
            }
        }
    }
    for (size_t t = 0; t < nt; t++) {
        hs_variant_score_t *vs = &s[tags[t].variant];
        if (tags[t].spec == 0)
            continue; /* this tag is matched by nothing */
        bool expl = tags[t].spec > 1;
        bool exact = expl && (size_t)tags[t].spec - 1 == tags[t].tag.len;
        int q = tags[t].q;
        if (q > vs->lang_q || (q == vs->lang_q && expl && !vs->lang_explicit) ||
            (q == vs->lang_q && expl == vs->lang_explicit && exact && !vs->lang_exact) ||
            (q == vs->lang_q && expl == vs->lang_explicit && exact == vs->lang_exact && tags[t].at < vs->lang_pos)) {
            vs->lang_q = q;
            vs->lang_explicit = expl;
            vs->lang_exact = exact;
            vs->lang_pos = tags[t].at;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i].lang_q < 0) { /* no range matched any of its tags */
            s[i].lang_q = HS_NEG_LANG_FALLBACK;
            s[i].lang_fallback = true;
        }
    }
}

/* Accept-Encoding (RFC 9110 §12.5.3) for coded variants. */
static void score_codings(hs_iovec_t ae, const hs_variant_t *v, size_t n, hs_variant_score_t *s)
{
    bool empty = ae.base && !has_elements(ae);
    for (size_t i = 0; i < n; i++) {
        s[i].coded = !no_coding(v[i].coding);
        s[i].coding_q = 1000;
        if (!s[i].coded || !ae.base)
            continue;
        if (empty) {
            s[i].coding_q = 0; /* an empty Accept-Encoding asks for no coding at all */
            continue;
        }
        int q = -1, q_star = -1, w;
        size_t pos = 0;
        hs_iovec_t tok;
        while (hs_weighted_next(ae, &pos, &tok, &w)) {
            if (w < 0)
                continue; /* a malformed member is ignored */
            if (tok.len == 1 && tok.base[0] == '*')
                q_star = HS_MAX(q_star, w);
            else if (same_coding(tok, v[i].coding))
                q = HS_MAX(q, w);
        }
        s[i].coding_q = q >= 0 ? q : q_star >= 0 ? q_star : 0;
    }
}

bool hs_variant_tie(const hs_variant_score_t *a, const hs_variant_score_t *b)
{
    return a->q == b->q && a->type_spec == b->type_spec && a->lang_explicit == b->lang_explicit &&
           a->lang_exact == b->lang_exact;
}

int hs_variant_cmp(const hs_variant_score_t *a, const hs_variant_score_t *b)
{
    if (a->q != b->q)
        return a->q > b->q ? -1 : 1;
    if (a->type_spec != b->type_spec)
        return a->type_spec > b->type_spec ? -1 : 1;
    if (a->lang_explicit != b->lang_explicit)
        return a->lang_explicit ? -1 : 1;
    if (a->lang_exact != b->lang_exact)
        return a->lang_exact ? -1 : 1;
    if (a->coded != b->coded)
        return a->coded ? 1 : -1;
    if (a->type_pos != b->type_pos)
        return a->type_pos < b->type_pos ? -1 : 1;
    if (a->lang_pos != b->lang_pos)
        return a->lang_pos < b->lang_pos ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

int hs_negotiate_variants(const hs_neg_prefs_t *p, const hs_variant_t *v, size_t n, hs_variant_score_t *s,
                          size_t *ntied)
{
    *ntied = 0;
    if (n > HS_NEG_MAX_VARIANTS)
        n = HS_NEG_MAX_VARIANTS;
    score_types(p->accept, v, n, s);
    score_languages(p->accept_language, v, n, s);
    score_codings(p->accept_encoding, v, n, s);
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        s[i].index = (int)i;
        int qs = v[i].qs < 0 ? 0 : v[i].qs > 1000 ? 1000 : v[i].qs;
        s[i].q = (uint64_t)s[i].type_q * (uint64_t)s[i].lang_q * (uint64_t)s[i].coding_q * (uint64_t)qs;
        if (s[i].q && (best < 0 || hs_variant_cmp(&s[i], &s[best]) < 0))
            best = (int)i;
    }
    if (best >= 0)
        for (size_t i = 0; i < n; i++)
            *ntied += s[i].q && hs_variant_tie(&s[i], &s[best]);
    return best;
}
