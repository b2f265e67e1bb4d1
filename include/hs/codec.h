/* statusd — byte codecs (src/core/codec.c): hexadecimal, percent-encoding (RFC 3986 §2.1),
 * application/x-www-form-urlencoded pairs, base64 (RFC 4648), UTF-8 validation (RFC 3629) and
 * HTML escaping.
 *
 * Ownership: every function writes into memory the caller provides (an output array sized as
 * stated, an hs_buf_t, or an arena) and keeps no pointer to its input. Decoders are safe on any
 * input: they never read outside in[0..n) and report malformed input instead of guessing. */
#ifndef HS_CODEC_H
#define HS_CODEC_H

#include "hs/core.h"

/* ---- Hexadecimal ---- */
/* The value of a hex digit ('0'-'9', 'a'-'f', 'A'-'F'), or -1 for any other byte. */
static inline int hs_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
/* 2n lowercase hex digits of in[0..n) into out, then a NUL (out needs 2n + 1 bytes). Returns
 * the number of digits written (2n). */
size_t hs_hex_encode(char *out, const void *in, size_t n);
/* Hex digits in[0..n) (either case) into out (n / 2 bytes). false when n is odd or a byte is not
 * a hex digit; out may then be partly written. */
bool hs_hex_decode(unsigned char *out, const char *in, size_t n);

/* ---- Percent-encoding (RFC 3986 §2.1) ---- */
enum {
    HS_PCT_PLUS = 1,       /* decode: '+' means a space (application/x-www-form-urlencoded) */
    HS_PCT_STRICT = 2,     /* decode: a '%' without two hex digits after it is an error */
    HS_PCT_KEEP_SLASH = 4, /* encode: '/' is left as it is (a path) */
};
/* Unreserved characters (RFC 3986 §2.3): ALPHA / DIGIT / "-" / "." / "_" / "~". */
static inline bool hs_is_unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}
/* Decode in[0..n) into out, which has room for n bytes (out == in is allowed: decoding never
 * lengthens). Without HS_PCT_STRICT a malformed escape is kept as it is. Returns the decoded
 * length, or -1 (HS_PCT_STRICT only) at the first malformed escape. */
ssize_t hs_pct_decode(char *out, const char *in, size_t n, unsigned flags);
/* Encode in[0..n) into out (room for 3n bytes): every byte but the unreserved ones (and '/' with
 * HS_PCT_KEEP_SLASH) becomes %XX with uppercase hex (RFC 3986 §2.1). Returns the length; no NUL. */
size_t hs_pct_encode(char *out, const char *in, size_t n, unsigned flags);
/* The same into NUL-terminated arena memory. decode returns a NULL base on a malformed escape
 * with HS_PCT_STRICT. */
hs_iovec_t hs_pct_decode_arena(hs_arena_t *a, hs_iovec_t in, unsigned flags);
hs_iovec_t hs_pct_encode_arena(hs_arena_t *a, const char *in, size_t n, unsigned flags);

/* ---- application/x-www-form-urlencoded (query strings, form bodies) ----
 * The next non-empty key=value pair of s (split on '&', then on the first '='), undecoded: both
 * are slices of s. *value has a NULL base when the pair has no '='. *pos starts at 0. false when
 * there are no more pairs (also for a NULL s). */
bool hs_form_next(hs_iovec_t s, size_t *pos, hs_iovec_t *key, hs_iovec_t *value);

/* ---- Base64 (RFC 4648 §4; the URL and filename safe alphabet of §5 with HS_B64_URL) ---- */
enum {
    HS_B64_URL = 1,   /* '-' and '_' instead of '+' and '/' */
    HS_B64_NOPAD = 2, /* encode: no '=' padding */
};
#define HS_BASE64_LEN(n) (4 * (((n) + 2) / 3))     /* encoded length with padding */
#define HS_BASE64_DECODED_MAX(n) ((n) / 4 * 3 + 3) /* room decode needs for n input bytes */
/* Encode in[0..n) into out (HS_BASE64_LEN(n) bytes; no NUL). Returns the length written. */
size_t hs_base64_encode(char *out, const void *in, size_t n, unsigned flags);
/* Decode in[0..n) into out (HS_BASE64_DECODED_MAX(n) bytes); *outlen gets the decoded length.
 * Padding may be left out; when present it must complete the last quantum. false on any other
 * malformed input: a byte outside the alphabet, a lone sixth of a byte, non-zero bits after
 * the last byte (non-canonical, RFC 4648 §3.5). */
bool hs_base64_decode(unsigned char *out, size_t *outlen, const char *in, size_t n, unsigned flags);

/* ---- UTF-8 (RFC 3629) ----
 * Is p[0..n) well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF? */
bool hs_utf8_valid(const void *p, size_t n);

/* ---- HTML ----
 * Append s[0..n) to b with & < > " ' as character references: safe as text and inside a quoted
 * attribute value. */
void hs_html_escape(hs_buf_t *b, const char *s, size_t n);
#define HS_HTML_CSTR(b, s) hs_html_escape((b), (s), strlen(s))

#endif
