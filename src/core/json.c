/* statusd — JSON (RFC 8259): string escaping, a writer with automatic commas, a validator.
 *
 * The writer keeps one bit per open container for "is an object" and one for "has an item", so
 * it needs no allocation and knows where a comma goes. It escapes only what RFC 8259 §7 requires
 * (quote, backslash, U+0000..U+001F) plus DEL; UTF-8 passes through untouched, so text stays
 * readable and the output is as long as the input plus its escapes. */
#define _GNU_SOURCE
#include "hs/json.h"

#include "hs/codec.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void hs_json_str(hs_buf_t *b, const char *s, size_t len)
{
    HS_BUF_LIT(b, "\"");
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        if (i > start)
            hs_buf_append(b, s + start, i - start);
        switch (c) {
        case '"': HS_BUF_LIT(b, "\\\""); break;
        case '\\': HS_BUF_LIT(b, "\\\\"); break;
        case '\n': HS_BUF_LIT(b, "\\n"); break;
        case '\r': HS_BUF_LIT(b, "\\r"); break;
        case '\t': HS_BUF_LIT(b, "\\t"); break;
        default: hs_buf_printf(b, "\\u%04x", c);
        }
        start = i + 1;
    }
    if (len > start)
        hs_buf_append(b, s + start, len - start);
    HS_BUF_LIT(b, "\"");
}

/* ---- writer ---- */
void hs_json_init(hs_json_t *j, hs_buf_t *b, unsigned flags)
{
    *j = (hs_json_t){.b = b, .flags = flags};
}

static uint64_t bit(const hs_json_t *j)
{
    return (uint64_t)1 << (j->depth - 1);
}

/* Before any value or key: the comma that separates it from the previous item. */
static void before_item(hs_json_t *j, bool is_key)
{
    if (j->after_key) {
        if (is_key)
            abort(); /* two keys in a row */
        j->after_key = false;
        return;
    }
    if (j->depth == 0)
        return; /* a top-level value */
    bool in_object = j->in_object & bit(j);
    if (in_object != is_key)
        abort(); /* a value without a key in an object, or a key in an array */
    if (j->has_items & bit(j)) {
        if (j->flags & HS_JSON_SPACED)
            HS_BUF_LIT(j->b, ", ");
        else
            HS_BUF_LIT(j->b, ",");
    }
    j->has_items |= bit(j);
}

static void begin(hs_json_t *j, bool object)
{
    before_item(j, false);
    if (j->depth == HS_JSON_MAX_DEPTH)
        abort();
    j->depth++;
    j->has_items &= ~bit(j);
    if (object)
        j->in_object |= bit(j);
    else
        j->in_object &= ~bit(j);
    hs_buf_append(j->b, object ? "{" : "[", 1);
}

void hs_json_object(hs_json_t *j)
{
    begin(j, true);
}

void hs_json_array(hs_json_t *j)
{
    begin(j, false);
}

void hs_json_end(hs_json_t *j)
{
    if (j->depth == 0 || j->after_key)
        abort(); /* nothing open, or a key without its value */
    hs_buf_append(j->b, (j->in_object & bit(j)) ? "}" : "]", 1);
    j->depth--;
}

void hs_json_key(hs_json_t *j, const char *k, size_t n)
{
    before_item(j, true);
    hs_json_str(j->b, k, n);
    if (j->flags & HS_JSON_SPACED)
        HS_BUF_LIT(j->b, ": ");
    else
        HS_BUF_LIT(j->b, ":");
    j->after_key = true;
}

void hs_json_string(hs_json_t *j, const char *s, size_t n)
{
    before_item(j, false);
    hs_json_str(j->b, s, n);
}

void hs_json_cstr(hs_json_t *j, const char *s)
{
    if (s)
        hs_json_string(j, s, strlen(s));
    else
        hs_json_null(j);
}

void hs_json_int(hs_json_t *j, int64_t v)
{
    before_item(j, false);
    char tmp[24], *p = tmp;
    if (v < 0)
        *p++ = '-';
    p = hs_fmt_u64(p, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    hs_buf_append(j->b, tmp, (size_t)(p - tmp));
}

void hs_json_uint(hs_json_t *j, uint64_t v)
{
    before_item(j, false);
    char tmp[24];
    hs_buf_append(j->b, tmp, (size_t)(hs_fmt_u64(tmp, v) - tmp));
}

void hs_json_double(hs_json_t *j, double v)
{
    if (!isfinite(v)) {
        hs_json_null(j); /* RFC 8259 §6: no NaN or Infinity */
        return;
    }
    before_item(j, false);
    /* the shortest of %.15g/%.16g/%.17g that reads back as the same double */
    char tmp[32];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    hs_buf_append(j->b, tmp, strlen(tmp));
}

void hs_json_bool(hs_json_t *j, bool v)
{
    before_item(j, false);
    if (v)
        HS_BUF_LIT(j->b, "true");
    else
        HS_BUF_LIT(j->b, "false");
}

void hs_json_null(hs_json_t *j)
{
    before_item(j, false);
    HS_BUF_LIT(j->b, "null");
}

void hs_json_raw(hs_json_t *j, const char *json, size_t n)
{
    before_item(j, false);
    hs_buf_append(j->b, json, n);
}

/* ---- validator: strict recursive descent with a depth limit ---- */
typedef struct {
    const unsigned char *p, *end;
    int depth;
} jv_t;

static void jv_ws(jv_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool jv_value(jv_t *j);

static bool jv_lit(jv_t *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool jv_string(jv_t *j)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    const unsigned char *start = ++j->p;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = *j->p;
        if (c < 0x20)
            return false; /* RFC 8259 §7: control characters must be escaped */
        if (c == '\\') {
            j->p++;
            if (j->p >= j->end)
                return false;
            c = *j->p;
            if (c == 'u') {
                if (j->end - j->p < 5)
                    return false;
                for (int k = 1; k <= 4; k++)
                    if (hs_hex_digit(j->p[k]) < 0)
                        return false;
                j->p += 4;
            } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
                return false;
            }
        }
        j->p++;
    }
    if (j->p >= j->end)
        return false;
    if (!hs_utf8_valid(start, (size_t)(j->p - start)))
        return false; /* RFC 8259 §8.1 */
    j->p++;
    return true;
}

/* 1*DIGIT: false when there is none. */
static bool jv_digits(jv_t *j)
{
    const unsigned char *d = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > d;
}

static bool jv_number(jv_t *j)
{
    /* RFC 8259 §6: [ minus ] int [ frac ] [ exp ], no leading zeros, no bare '.' */
    const unsigned char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end)
        return false;
    if (*j->p == '0') {
        j->p++;
    } else if (!jv_digits(j)) {
        return false;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!jv_digits(j))
            return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!jv_digits(j))
            return false;
    }
    return j->p > s;
}

static bool jv_container(jv_t *j, char close)
{
    if (++j->depth > HS_JSON_MAX_DEPTH)
        return false;
    j->p++;
    jv_ws(j);
    if (j->p < j->end && *j->p == (unsigned char)close) {
        j->p++;
        j->depth--;
        return true;
    }
    for (;;) {
        jv_ws(j);
        if (close == '}') {
            if (!jv_string(j))
                return false;
            jv_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return false;
            j->p++;
        }
        if (!jv_value(j))
            return false;
        jv_ws(j);
        if (j->p >= j->end)
            return false;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p != (unsigned char)close)
            return false;
        j->p++;
        j->depth--;
        return true;
    }
}

static bool jv_value(jv_t *j)
{
    jv_ws(j);
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{': return jv_container(j, '}');
    case '[': return jv_container(j, ']');
    case '"': return jv_string(j);
    case 't': return jv_lit(j, "true");
    case 'f': return jv_lit(j, "false");
    case 'n': return jv_lit(j, "null");
    default: return jv_number(j);
    }
}

bool hs_json_valid(const char *p, size_t n)
{
    if (!p || n == 0)
        return false;
    jv_t j = {(const unsigned char *)p, (const unsigned char *)p + n, 0};
    if (!jv_value(&j))
        return false;
    jv_ws(&j);
    return j.p == j.end;
}
