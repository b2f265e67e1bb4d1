/* statusd — the status-code registry in words, shared by the /codes pages (reference.c) and by
 * `statusd explain` / `statusd list` (src/cli/explain.c), so both say exactly the same thing.
 *
 *   describe.c   flag and header words, the text block of `explain`, the JSON object of
 *                `explain --json` (written into a buffer, so a server response and stdout can
 *                both use it)
 *   reference.c  the content handler: /codes and /codes/{code} in HTML, JSON and text
 */
#ifndef HS_REFERENCE_H
#define HS_REFERENCE_H

#include "hs/core.h"
#include "hs/status.h"

/* One HS_SF_* flag: its machine name (JSON) and its meaning in words (text, HTML). */
typedef struct hs__ref_flag_s {
    uint32_t bit;
    const char *json;
    const char *text;
} hs__ref_flag_t;

/* Every flag, in the order they are shown. */
extern const hs__ref_flag_t hs__ref_flags[];
extern const size_t hs__ref_num_flags;

/* The header named by one HS_RH_* bit as shown to people ("Connection: close" for the
 * Connection bit), or NULL when `bit` is not exactly one known bit. */
const char *hs__ref_header_label(uint32_t bit);

/* "informational", "successful", "redirection", "client error", "server error" for classes
 * 1..5; "unknown" otherwise. */
const char *hs__ref_class_words(int cls);

/* Display columns of UTF-8 text: every code point counts as one column. */
size_t hs__ref_utf8_cols(const char *s, size_t n);

/* Append the words for every flag of `mask` (or header of an HS_RH_* mask), joined by ", ";
 * "none" when the mask is empty. */
void hs__ref_flags_words(hs_buf_t *b, uint32_t mask);
void hs__ref_headers_words(hs_buf_t *b, uint32_t mask);

/* The text block of `statusd explain CODE`: "NNN Reason", labelled fields, then the
 * explanation, wrapped before column 78. Ends with a newline. */
void hs__ref_text(hs_buf_t *b, const hs_status_info_t *s);

/* The JSON object of `statusd explain --json CODE` (code, reason, symbol, class, origin,
 * reference, flags, required_headers, recommended_headers, summary, explanation), one field
 * per line; every line starts with `ind`, and no newline follows the closing brace. */
void hs__ref_json(hs_buf_t *b, const hs_status_info_t *s, const char *ind);

#endif
