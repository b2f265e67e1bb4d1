/* statusd — header-field tokenising (RFC 9110 §5.6), implemented in src/http/fields.c:
 * comma-separated lists, elements with parameters, weights (q-values) and quoted strings.
 *
 * Nothing here allocates except hs_param_text (in the arena it is given): the results are
 * slices of the value passed in, valid while it is. A value of any length and content is
 * safe; malformed syntax is reported, never guessed at. */
#ifndef HS_FIELDS_H
#define HS_FIELDS_H

#include "hs/core.h"

/* ---- Lists (RFC 9110 §5.6.1) ----
 * The next element of a comma-separated list, trimmed of OWS, or a NULL base when done; *pos is
 * the cursor (start at 0). Empty elements are skipped; a comma inside a quoted-string does not
 * split. */
hs_iovec_t hs_list_next(hs_iovec_t value, size_t *pos);

/* ---- Elements with parameters (RFC 9110 §5.6.6) ----
 *     element   = value *( OWS ";" OWS [ parameter ] )
 *     parameter = name "=" ( token / quoted-string )
 * hs_element_value gives the leading value (up to the first ';' outside a quoted-string, OWS
 * trimmed) and sets *pos where the parameters start; hs_param_next then walks them. */
hs_iovec_t hs_element_value(hs_iovec_t el, size_t *pos);
typedef struct hs_param_s {
    hs_iovec_t name;  /* as received: compare with hs_iov_ieq (parameter names are case-insensitive);
                         empty for a malformed "=value" */
    hs_iovec_t value; /* raw: a token, or a quoted-string with its quotes (hs_param_text); a NULL
                         base when the parameter has no '=' */
} hs_param_t;
/* The next parameter at *pos into *p; false when none is left. Empty ones (";;") are skipped. */
bool hs_param_next(hs_iovec_t el, size_t *pos, hs_param_t *p);

/* ---- Weights (RFC 9110 §12.4.2) ----
 * qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) as 0..1000 ("0.5" → 500), or -1
 * when malformed ("1.0001", "0.5000", ".5", "1.5", "", " 1"). */
int hs_qvalue(hs_iovec_t v);
/* An element of a weighted list (Accept, Accept-Encoding, TE, A-IM …): its value into *value and
 * its weight, 0..1000 — 1000 without a q parameter ("q" or "Q"), the last one when repeated —
 * or -1 when a q parameter is malformed (the caller decides: ignore the element, or treat it as
 * q=0). */
int hs_element_weight(hs_iovec_t el, hs_iovec_t *value);

/* ---- Quoted strings (RFC 9110 §5.6.4) ----
 * When v is exactly one quoted-string, write its text into out (room for v.len bytes), each
 * quoted-pair replaced by the byte it quotes, and return the length. -1 when v is not one:
 * no opening or closing quote, anything after the closing one, a control character other than
 * HTAB, a backslash with nothing to quote. */
ssize_t hs_unquote(hs_iovec_t v, char *out);
/* A parameter value as the text it stands for: a token as it is (the same slice, no copy), a
 * quoted-string unquoted into the arena (NUL-terminated); a NULL base when it is malformed or
 * absent. */
hs_iovec_t hs_param_text(hs_arena_t *a, hs_iovec_t value);

#endif
