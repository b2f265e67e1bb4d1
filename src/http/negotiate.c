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
