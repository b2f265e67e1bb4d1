/* statusd — proactive content negotiation (RFC 9110 §12.5), implemented in src/http/negotiate.c.
 * Reads its arguments only; allocates nothing. */
#ifndef HS_NEGOTIATE_H
#define HS_NEGOTIATE_H

#include "hs/core.h"

/* Pick the best of `types` (e.g. "text/html") for an Accept value (RFC 9110 §12.5.1), honouring
 * q-values, wildcards and q=0; the most specific matching range decides a type's weight, and a
 * range with a malformed q counts as q=0. Returns the index, -1 when none is acceptable. An
 * absent or empty Accept (NULL base) accepts everything: returns 0. Ties go to the earlier entry
 * of `types`. */
int hs_negotiate_type(hs_iovec_t accept, const char *const *types, size_t n);

#endif
