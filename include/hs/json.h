/* statusd — JSON (RFC 8259), implemented in src/core/json.c: string escaping, a small writer
 * over an hs_buf_t, and a validator.
 *
 * Ownership: the writer appends to the caller's buffer (it neither allocates one nor frees it)
 * and keeps no pointer to the values it is given. Appends are small and bounded by what the
 * caller writes: they abort when memory runs out (hs_buf_append). */
#ifndef HS_JSON_H
#define HS_JSON_H

#include "hs/core.h"

/* A JSON string for s[0..len) with its quotes: '"', '\' and control bytes are escaped (\n, \r,
 * \t, else \u00XX; DEL as \u007f); every other byte, UTF-8 included, passes through as it is. */
void hs_json_str(hs_buf_t *b, const char *s, size_t len);

/* ---- Writer ----
 * Commas between members and elements come by themselves:
 *     hs_json_t j;
 *     hs_json_init(&j, &buf, 0);
 *     hs_json_object(&j);
 *     HS_JSON_KEY(&j, "status"); hs_json_int(&j, 404);
 *     HS_JSON_KEY(&j, "tags");   hs_json_array(&j); hs_json_cstr(&j, "a"); hs_json_end(&j);
 *     hs_json_end(&j);                      → {"status":404,"tags":["a"]}
 * Nesting is limited to HS_JSON_MAX_DEPTH; going deeper, ending more than was begun, or a key
 * outside an object are programming errors and abort. */
#define HS_JSON_MAX_DEPTH 64
enum {
    HS_JSON_SPACED = 1, /* ", " between items and ": " after keys (httpbin's style) */
};
typedef struct hs_json_s {
    hs_buf_t *b;
    uint64_t in_object; /* bit d: the container at depth d is an object */
    uint64_t has_items; /* bit d: the container at depth d has an item already */
    unsigned depth;
    unsigned flags;
    bool after_key; /* a key was written; its value comes next */
} hs_json_t;

void hs_json_init(hs_json_t *j, hs_buf_t *b, unsigned flags);
void hs_json_object(hs_json_t *j); /* begin an object: '{' */
void hs_json_array(hs_json_t *j);  /* begin an array: '[' */
void hs_json_end(hs_json_t *j);    /* end the innermost object or array */
void hs_json_key(hs_json_t *j, const char *k, size_t n);
#define HS_JSON_KEY(j, lit) hs_json_key((j), (lit), sizeof(lit) - 1)
void hs_json_string(hs_json_t *j, const char *s, size_t n);
void hs_json_cstr(hs_json_t *j, const char *s); /* NULL writes null */
void hs_json_int(hs_json_t *j, int64_t v);
void hs_json_uint(hs_json_t *j, uint64_t v);
void hs_json_double(hs_json_t *j, double v); /* shortest form that reads back the same; NaN/inf → null */
void hs_json_bool(hs_json_t *j, bool v);
void hs_json_null(hs_json_t *j);
/* A value already encoded as JSON (not checked), such as a request body hs_json_valid accepted. */
void hs_json_raw(hs_json_t *j, const char *json, size_t n);

/* ---- Validator ----
 * Is p[0..n) exactly one JSON value (RFC 8259), with optional whitespace around it? Strings must
 * be valid UTF-8; nesting deeper than HS_JSON_MAX_DEPTH is refused. false for NULL or empty. */
bool hs_json_valid(const char *p, size_t n);

#endif
