/* statusd — content negotiation (RFC 9110 §12.5.1) and JSON escaping. */
#include "hs/http.h"

#include <stdio.h>

/* q-value: "1", "1.000", "0", "0.5" … (RFC 9110 §12.4.2); returns 0..1000, -1 if malformed. */
static int parse_q(hs_iovec_t v)
{
    if (v.len == 0 || v.len > 5)
        return -1;
    if (v.base[0] == '1') {
        for (size_t i = 1; i < v.len; i++)
            if ((i == 1 && v.base[i] != '.') || (i > 1 && v.base[i] != '0'))
                return -1;
        return 1000;
    }
    if (v.base[0] != '0')
        return -1;
    int q = 0, scale = 100;
    for (size_t i = 1; i < v.len; i++) {
        if (i == 1) {
            if (v.base[i] != '.')
                return -1;
            continue;
        }
        if (v.base[i] < '0' || v.base[i] > '9')
            return -1;
        q += (v.base[i] - '0') * scale;
        scale /= 10;
    }
    return q;
}

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
            size_t k = 0;
            while (k < el.len && el.base[k] != ';')
                k++;
            hs_iovec_t range = hs_iov(el.base, k);
            while (range.len && (range.base[range.len - 1] == ' ' || range.base[range.len - 1] == '\t'))
                range.len--;
            int eq = 1000;
            /* parameters: look for q= */
            size_t i = k;
            while (i < el.len) {
                i++; /* skip ';' */
                while (i < el.len && (el.base[i] == ' ' || el.base[i] == '\t'))
                    i++;
                size_t s = i;
                while (i < el.len && el.base[i] != ';')
                    i++;
                hs_iovec_t param = hs_iov(el.base + s, i - s);
                while (param.len && (param.base[param.len - 1] == ' ' || param.base[param.len - 1] == '\t'))
                    param.len--;
                if (param.len >= 2 && (param.base[0] | 0x20) == 'q' && param.base[1] == '=') {
                    int pq = parse_q(hs_iov(param.base + 2, param.len - 2));
                    eq = pq < 0 ? 0 : pq;
                }
            }
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
