/* statusd — byte codecs: hex, percent-encoding, form pairs, base64, UTF-8 validation, HTML
 * escaping. See hs/codec.h for the contracts.
 *
 * One implementation of each, for every part of the server: the path normaliser, the static
 * origin's links, the client-testing API's query strings and its /base64 route all decode the
 * same way, so a byte means the same thing wherever it is read. */
#define _GNU_SOURCE
#include "hs/codec.h"

/* ---- hex ---- */
static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

size_t hs_hex_encode(char *out, const void *in, size_t n)
{
    const unsigned char *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_lower[p[i] >> 4];
        out[2 * i + 1] = hex_lower[p[i] & 15];
    }
    out[2 * n] = '\0';
    return 2 * n;
}

bool hs_hex_decode(unsigned char *out, const char *in, size_t n)
{
    if (n % 2)
        return false;
    for (size_t i = 0; i < n; i += 2) {
        int h = hs_hex_digit((unsigned char)in[i]), l = hs_hex_digit((unsigned char)in[i + 1]);
        if (h < 0 || l < 0)
            return false;
        out[i / 2] = (unsigned char)(h << 4 | l);
    }
    return true;
}

/* ---- percent-encoding ---- */
ssize_t hs_pct_decode(char *out, const char *in, size_t n, unsigned flags)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '+' && (flags & HS_PCT_PLUS)) {
            c = ' ';
        } else if (c == '%') {
            int h = i + 2 < n ? hs_hex_digit((unsigned char)in[i + 1]) : -1;
            int l = i + 2 < n ? hs_hex_digit((unsigned char)in[i + 2]) : -1;
            if (h >= 0 && l >= 0) {
                c = (char)(h * 16 + l);
                i += 2;
            } else if (flags & HS_PCT_STRICT) {
                return -1;
            }
        }
        out[o++] = c;
    }
    return (ssize_t)o;
}

size_t hs_pct_encode(char *out, const char *in, size_t n, unsigned flags)
{
    char *q = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (hs_is_unreserved(c) || (c == '/' && (flags & HS_PCT_KEEP_SLASH))) {
            *q++ = (char)c;
        } else {
            *q++ = '%';
            *q++ = hex_upper[c >> 4];
            *q++ = hex_upper[c & 15];
        }
    }
    return (size_t)(q - out);
}

hs_iovec_t hs_pct_decode_arena(hs_arena_t *a, hs_iovec_t in, unsigned flags)
{
    char *out = hs_arena_alloc(a, in.len + 1);
    ssize_t n = hs_pct_decode(out, in.base, in.len, flags);
    if (n < 0)
        return HS_IOV_NULL;
    out[n] = '\0';
    return hs_iov(out, (size_t)n);
}

hs_iovec_t hs_pct_encode_arena(hs_arena_t *a, const char *in, size_t n, unsigned flags)
{
    char *out = hs_arena_alloc(a, 3 * n + 1);
    size_t len = hs_pct_encode(out, in, n, flags);
    out[len] = '\0';
    return hs_iov(out, len);
}

/* ---- form pairs ---- */
bool hs_form_next(hs_iovec_t s, size_t *pos, hs_iovec_t *key, hs_iovec_t *value)
{
    size_t i = *pos;
    while (s.base && i < s.len) {
        size_t st = i;
        while (i < s.len && s.base[i] != '&')
            i++;
        hs_iovec_t pair = hs_iov(s.base + st, i - st);
        i++;
        if (pair.len == 0)
            continue;
        const char *eq = memchr(pair.base, '=', pair.len);
        *key = eq ? hs_iov(pair.base, (size_t)(eq - pair.base)) : pair;
        *value = eq ? hs_iov(eq + 1, pair.len - key->len - 1) : HS_IOV_NULL;
        *pos = i;
        return true;
    }
    *pos = i;
    return false;
}

/* ---- base64 ---- */
static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t hs_base64_encode(char *out, const void *in, size_t n, unsigned flags)
{
    const char *alpha = (flags & HS_B64_URL) ? b64_url : b64_std;
    const unsigned char *p = in;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    size_t rest = n - i;
    if (rest) {
        /* RFC 4648 §4: a final quantum of 8 or 16 bits gives 2 or 3 characters and padding */
        uint32_t v = (uint32_t)p[i] << 16 | (rest == 2 ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        if (rest == 2)
            out[o++] = alpha[(v >> 6) & 63];
        if (!(flags & HS_B64_NOPAD)) {
            out[o++] = '=';
            if (rest == 1)
                out[o++] = '=';
        }
    }
    return o;
}

static int b64_value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

bool hs_base64_decode(unsigned char *out, size_t *outlen, const char *in, size_t n, unsigned flags)
{
    bool url = flags & HS_B64_URL;
    size_t len = n;
    while (len > 0 && in[len - 1] == '=')
        len--;
    /* at most two '=', and only to complete the last 4-character quantum; 4k+1 characters
     * cannot encode whole bytes */
    if (n - len > 2 || (n != len && n % 4 != 0) || len % 4 == 1)
        return false;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i], url);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return false; /* RFC 4648 §3.5: the pad bits must be zero */
    *outlen = o;
    return true;
}

/* ---- UTF-8 ---- */
bool hs_utf8_valid(const void *s, size_t n)
{
    /* RFC 3629 §4: no overlong forms, no surrogates, nothing above U+10FFFF */
    const unsigned char *p = s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* ---- HTML ---- */
void hs_html_escape(hs_buf_t *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        hs_buf_append(b, s + start, i - start);
        hs_buf_append(b, rep, strlen(rep));
        start = i + 1;
    }
    hs_buf_append(b, s + start, n - start);
}
