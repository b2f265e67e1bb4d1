/* statusd — proactive content negotiation (RFC 9110 §12), implemented in src/http/negotiate.c:
 * the type of a generated document (error pages, /codes), and the choice among the variants of
 * a resource (the static module's negotiated files).
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

/* ---- Choosing among the variants of one resource (RFC 9110 §12.1, §12.5) ----
 *
 * Each variant is described by its media type, its languages, its content coding and the
 * server's own quality for it (qs, as in Apache's type maps). A variant's weight is the product
 * of four factors, each 0..1000:
 *   type      the q of the most specific Accept range matching it (exact > type/ * > * / *);
 *             no matching range: 0. No Accept (or an empty one): 1000.       RFC 9110 §12.5.1
 *   language  the highest weight among its tags; a tag's weight is the q of the longest
 *             Accept-Language range matching it by basic filtering (the range equals the tag or
 *             is a prefix of it followed by '-'; "*" matches any tag — RFC 4647 §3.3.1). A
 *             variant none of whose tags any range matches gets HS_NEG_LANG_FALLBACK (0.001):
 *             still acceptable, after everything the client asked for. A variant without a
 *             language is neutral: 1000. No Accept-Language: 1000.             RFC 9110 §12.5.4
 *   coding    1000 for a variant without a coding; for a coded one the q of its coding in
 *             Accept-Encoding (x-gzip is gzip), else of "*", else 0. No Accept-Encoding: 1000;
 *             an empty one: 0.                                                  RFC 9110 §12.5.3
 *   qs        the server's.
 * q=0 anywhere excludes the variant. A malformed weight makes its Accept or Accept-Language range
 * weigh 0 and its Accept-Encoding member ignored (as hs_negotiate_type and the static module do).
 *
 * The order, best first (documented in the README):
 *   1. the higher weight;
 *   2. the more specific Accept match (a type the client named before one it reached by type/ *,
 *      before * / *);
 *   3. a language the client named (by a range other than "*") before a neutral or fallback one;
 *   4. a language equal to the range that named it before one the range is a prefix of ("fr"
 *      prefers fr to fr-CA);
 *   — variants equal on 1-4 are a tie on the client's preferences (hs_variant_tie) —
 *   5. a variant without a content coding before a coded one;
 *   6. the earlier deciding range in Accept, then in Accept-Language;
 *   7. the earlier variant in the caller's array.
 * Cost: one pass over each field, each element compared with every variant (every tag of every
 * variant for Accept-Language); nothing allocated, whatever the size of the fields. */
#define HS_NEG_LANG_FALLBACK 1
#define HS_NEG_MAX_VARIANTS 64 /* variants considered; the rest are ignored (callers keep to it) */
#define HS_NEG_MAX_TAGS 8      /* language tags of one variant considered */

typedef struct hs_variant_s {
    hs_iovec_t type;     /* media type; parameters after ';' are not compared */
    hs_iovec_t language; /* a Content-Language value (comma-separated tags); empty: neutral */
    hs_iovec_t coding;   /* content coding; empty or "identity": none */
    int qs;              /* the server's quality, 0..1000 */
} hs_variant_t;

/* The request's preferences: field values, a NULL base when the field is absent. Where a field
 * has several lines, the caller joins them with ", " (RFC 9110 §5.3). */
typedef struct hs_neg_prefs_s {
    hs_iovec_t accept, accept_language, accept_encoding;
} hs_neg_prefs_t;

typedef struct hs_variant_score_s {
    uint64_t q; /* type × language × coding × qs; 0: not acceptable */
    int type_q, lang_q, coding_q;
    uint8_t type_spec;      /* 3 exact, 2 type/ *, 1 * / *, 0 without Accept */
    bool lang_explicit;     /* its weight came from a range other than "*" */
    bool lang_exact;        /* … from a range equal to its tag */
    bool lang_fallback;     /* no range matched any of its tags */
    bool coded;             /* it has a content coding */
    int type_pos, lang_pos; /* index of the deciding range in its field; INT32_MAX: none */
    int index;              /* in the caller's array */
} hs_variant_score_t;

/* Score v[0..n) (n at most HS_NEG_MAX_VARIANTS) into scores[0..n) and return the index of the best variant (the order
 * above), or -1 when every variant weighs 0 (406). *ntied receives how many variants (the best one included) tie with
 * the best on the client's preferences; 0 with -1. */
int hs_negotiate_variants(const hs_neg_prefs_t *p, const hs_variant_t *v, size_t n, hs_variant_score_t *scores,
                          size_t *ntied);
/* Steps 1-4 of the order: equal weight, type specificity, explicit and exact language. */
bool hs_variant_tie(const hs_variant_score_t *a, const hs_variant_score_t *b);
/* The order itself: < 0 when a comes first. */
int hs_variant_cmp(const hs_variant_score_t *a, const hs_variant_score_t *b);

/* The next member of a weighted list (Accept, Accept-Language, Accept-Encoding …) at *pos
 * (start at 0): its value and weight exactly as hs_list_next then hs_element_weight give them
 * (the value trimmed, without parameters; 0..1000, 1000 without q, -1 for a malformed q), in one
 * pass over the bytes. false at the end. */
bool hs_weighted_next(hs_iovec_t v, size_t *pos, hs_iovec_t *value, int *q);

/* A language tag as a range matches it (RFC 4647 §3.3.1, basic filtering): 0 no match, 1 for
 * "*", else 1 + the range's length (longer is more specific). Case-insensitive. */
int hs_language_match(hs_iovec_t range, hs_iovec_t tag);

#endif
