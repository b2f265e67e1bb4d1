/* statusd — HTTP/1.1 request-head parser (RFC 9112). No I/O, no allocation.
 *
 * Strictness policy: every syntax rule of RFC 9112 that a lenient parser could disagree with
 * another about is an error here, so that statusd and any intermediary in front of it can never
 * see a different message boundary (request smuggling). In particular: line endings are CRLF
 * only (a bare LF or bare CR is a 400), obs-fold is rejected, whitespace before the colon is
 * rejected, control bytes in values are rejected.
 */
#include "hs/parse.h"

#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Character classes. */
enum { C_TCHAR = 1, C_VCHAR = 2, C_FIELD = 4, C_TARGET = 8, C_HEX = 16 };

/* clang-format off */
static const uint8_t cls[256] = {
#define T (C_TCHAR | C_VCHAR | C_FIELD | C_TARGET)
#define V (C_VCHAR | C_FIELD | C_TARGET)
#define H (C_HEX | T)
    /* 0x00-0x1f: controls; only HTAB is allowed inside a field value */
    0, 0, 0, 0, 0, 0, 0, 0, 0, C_FIELD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* SP ! " # $ % & ' ( ) * + , - . / */
    C_FIELD, T, V, T, T, T, T, T, V, V, T, T, V, T, T, V,
    /* 0-9 : ; < = > ? */
    H, H, H, H, H, H, H, H, H, H, V, V, V, V, V, V,
    /* @ A-F G-O */
    V, H, H, H, H, H, H, T, T, T, T, T, T, T, T, T,
    /* P-Z [ \ ] ^ _ */
    T, T, T, T, T, T, T, T, T, T, T, V, V, V, T, T,
    /* ` a-f g-o */
    T, H, H, H, H, H, H, T, T, T, T, T, T, T, T, T,
    /* p-z { | } ~ DEL */
    T, T, T, T, T, T, T, T, T, T, T, V, T, V, T, 0,
    /* 0x80-0xff: obs-text, allowed in field values only (RFC 9110 §5.5) */
#define O8 C_FIELD, C_FIELD, C_FIELD, C_FIELD, C_FIELD, C_FIELD, C_FIELD, C_FIELD
#define O32 O8, O8, O8, O8
    O32, O32, O32, O32
#undef O8
#undef O32
#undef T
#undef V
#undef H
};
/* clang-format on */

#define IS_TCHAR(c) (cls[(unsigned char)(c)] & C_TCHAR)
#define IS_FIELD(c) (cls[(unsigned char)(c)] & C_FIELD)
#define IS_TARGET(c) (cls[(unsigned char)(c)] & C_TARGET)
#define IS_HEX(c) (cls[(unsigned char)(c)] & C_HEX)

#define MAX_METHOD 32

static const char *const method_names[HS_METHOD__COUNT] = {
    [HS_METHOD_UNKNOWN] = "",
    [HS_METHOD_GET] = "GET",
    [HS_METHOD_HEAD] = "HEAD",
    [HS_METHOD_POST] = "POST",
    [HS_METHOD_PUT] = "PUT",
    [HS_METHOD_DELETE] = "DELETE",
    [HS_METHOD_CONNECT] = "CONNECT",
    [HS_METHOD_OPTIONS] = "OPTIONS",
    [HS_METHOD_TRACE] = "TRACE",
    [HS_METHOD_PATCH] = "PATCH",
    [HS_METHOD_PROPFIND] = "PROPFIND",
    [HS_METHOD_PROPPATCH] = "PROPPATCH",
    [HS_METHOD_MKCOL] = "MKCOL",
    [HS_METHOD_COPY] = "COPY",
    [HS_METHOD_MOVE] = "MOVE",
    [HS_METHOD_LOCK] = "LOCK",
    [HS_METHOD_UNLOCK] = "UNLOCK",
    [HS_METHOD_BREW] = "BREW",
    [HS_METHOD_WHEN] = "WHEN",
    [HS_METHOD_BIND] = "BIND",
    [HS_METHOD_UNBIND] = "UNBIND",
    [HS_METHOD_REBIND] = "REBIND",
    [HS_METHOD_MEXT] = "",
};

const char *hs_method_name(hs_method_t m)
{
    return (unsigned)m < HS_METHOD__COUNT ? method_names[m] : "";
}

static hs_method_t method_lookup(const char *p, size_t n)
{
    /* Methods are case-sensitive (RFC 9110 §9.1). */
    if (n >= 3 && p[0] == 'M' && p[1] == '-')
        return HS_METHOD_MEXT; /* RFC 2774 §5 */
    for (int m = 1; m < HS_METHOD__COUNT; m++) {
        const char *name = method_names[m];
        if (name[0] == p[0] && strlen(name) == n && memcmp(name, p, n) == 0)
            return (hs_method_t)m;
    }
    return HS_METHOD_UNKNOWN;
}

static const struct {
    const char *name;
    int token;
    uint8_t len;
} header_names[] = {
    {"host", HS_HDR_HOST, 4},
    {"content-length", HS_HDR_CONTENT_LENGTH, 14},
    {"transfer-encoding", HS_HDR_TRANSFER_ENCODING, 17},
    {"connection", HS_HDR_CONNECTION, 10},
    {"expect", HS_HDR_EXPECT, 6},
    {"upgrade", HS_HDR_UPGRADE, 7},
    {"te", HS_HDR_TE, 2},
    {"content-type", HS_HDR_CONTENT_TYPE, 12},
    {"accept", HS_HDR_ACCEPT, 6},
    {"accept-encoding", HS_HDR_ACCEPT_ENCODING, 15},
    {"accept-language", HS_HDR_ACCEPT_LANGUAGE, 15},
    {"if-match", HS_HDR_IF_MATCH, 8},
    {"if-none-match", HS_HDR_IF_NONE_MATCH, 13},
    {"if-modified-since", HS_HDR_IF_MODIFIED_SINCE, 17},
    {"if-unmodified-since", HS_HDR_IF_UNMODIFIED_SINCE, 19},
    {"if-range", HS_HDR_IF_RANGE, 8},
    {"range", HS_HDR_RANGE, 5},
    {"authorization", HS_HDR_AUTHORIZATION, 13},
    {"cookie", HS_HDR_COOKIE, 6},
    {"user-agent", HS_HDR_USER_AGENT, 10},
    {"referer", HS_HDR_REFERER, 7},
    {"man", HS_HDR_MAN, 3},
    {"early-data", HS_HDR_EARLY_DATA, 10},
    {"a-im", HS_HDR_A_IM, 4},
    {"depth", HS_HDR_DEPTH, 5},
    {"destination", HS_HDR_DESTINATION, 11},
    {"overwrite", HS_HDR_OVERWRITE, 9},
    {"if", HS_HDR_IF, 2},
    {"prefer", HS_HDR_PREFER, 6},
    {"origin", HS_HDR_ORIGIN, 6},
    {"content-encoding", HS_HDR_CONTENT_ENCODING, 16},
    {"proxy-authorization", HS_HDR_PROXY_AUTHORIZATION, 19},
};

/* The token lookup compares whole words instead of bytes. A name of 2..19 bytes is covered by
 * two or three loads that may overlap and never reach outside it: 2..3 bytes by two 16-bit
 * loads (the first two, the last two), 4..7 by two 32-bit loads, 8..16 by two 64-bit loads,
 * 17..19 by three. Each word is case-folded by setting bit 0x20 of every byte that has bit
 * 0x40: that maps A-Z onto a-z and leaves every byte below 0x40 alone, so it is exact against
 * the table's names, which are all [a-z-] (a byte matches 'x' only as 'x' or 'X', and '-' only
 * as '-'). The folded words and the length hash into an open-addressed table of NAME_SLOTS
 * (linear probing, a quarter full at most), built once before main from header_names, which
 * stays the one list: a name that is no token usually meets an empty slot at once. */
#define NAME_SLOTS 256
typedef struct name_key_s {
    uint64_t first, last, mid; /* folded words: the first, the last, the middle (17..19 only) */
    uint8_t len;
    int token;
} name_key_t;
static name_key_t name_keys[HS_ARRAY_SIZE(header_names)];
static uint8_t name_slot[NAME_SLOTS]; /* 1 + index into name_keys, 0: empty */
/* A filter before the words: per length, a bit for each first letter a table name of that
 * length has ((c | 0x20) & 31, the same for both cases of a letter). Most names that are no
 * token (Date, Server, ETag, Vary, Last-Modified …) stop here. */
static uint32_t first_letters[20];

static inline uint64_t fold_word(uint64_t w)
{
    return w | ((w & 0x4040404040404040ull) >> 1);
}

static inline void name_words(const char *name, size_t len, name_key_t *k)
{
    if (len >= 8) {
        uint64_t a, b;
        memcpy(&a, name, 8);
        memcpy(&b, name + len - 8, 8);
        k->first = fold_word(a);
        k->last = fold_word(b);
        if (len > 16) {
            memcpy(&a, name + 8, 8);
            k->mid = fold_word(a);
        } else {
            k->mid = 0;
        }
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, name, 4);
        memcpy(&b, name + len - 4, 4);
        k->first = fold_word(a);
        k->last = fold_word(b);
        k->mid = 0;
    } else {
        uint16_t a, b;
        memcpy(&a, name, 2);
        memcpy(&b, name + len - 2, 2);
        k->first = fold_word(a);
        k->last = fold_word(b);
        k->mid = 0;
    }
}

static inline unsigned name_hash(const name_key_t *k, size_t len)
{
    uint64_t h = (k->first ^ (k->last * 31) ^ len) * 0x9e3779b97f4a7c15ull;
    return (unsigned)(h >> 56); /* NAME_SLOTS = 256 */
}

__attribute__((constructor)) static void header_index_init(void)
{
    _Static_assert(HS_ARRAY_SIZE(header_names) * 4 <= NAME_SLOTS, "the name table must stay sparse");
    for (size_t i = 0; i < HS_ARRAY_SIZE(header_names); i++) {
        size_t len = header_names[i].len;
        if (len < 2 || len > 19)
            abort(); /* a name the words above do not cover: widen name_words */
        name_key_t *k = &name_keys[i];
        name_words(header_names[i].name, len, k);
        k->len = (uint8_t)len;
        k->token = header_names[i].token;
        first_letters[len] |= 1u << ((header_names[i].name[0] | 0x20) & 31);
        unsigned h = name_hash(k, len);
        while (name_slot[h])
            h = (h + 1) % NAME_SLOTS;
        name_slot[h] = (uint8_t)(i + 1);
    }
}

int hs_header_token(const char *name, size_t len)
{
    if (len < 2 || len > 19 || !(first_letters[len] & (1u << ((name[0] | 0x20) & 31))))
        return HS_HDR_OTHER;
    name_key_t q;
    name_words(name, len, &q);
    for (unsigned h = name_hash(&q, len); name_slot[h]; h = (h + 1) % NAME_SLOTS) {
        const name_key_t *k = &name_keys[name_slot[h] - 1];
        if (k->first == q.first && k->last == q.last && k->mid == q.mid && k->len == len)
            return k->token;
    }
    return HS_HDR_OTHER;
}

/* The first byte at or after p (before end) that is not a field-value byte (RFC 9110 §5.5:
 * HTAB, SP, VCHAR, obs-text). With SSE2, sixteen bytes at a time: a block with no byte below SP
 * and no DEL is skipped whole; the block holding such a byte hands over to the byte loop at
 * that byte, which decides (HTAB is allowed, so it may go on, byte by byte). */
static inline const char *skip_field_value(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ge_sp = _mm_cmpeq_epi8(_mm_max_epu8(v, sp), v); /* unsigned v >= 0x20 */
        unsigned ok = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(_mm_cmpeq_epi8(v, del), ge_sp));
        if (ok != 0xffff) {
            p += __builtin_ctz(~ok);
            break;
        }
        p += 16;
    }
#endif
    while (p < end && IS_FIELD(*p))
        p++;
    return p;
}

/* The first byte at or after p (before end) that is not a tchar: where a field name ends.
 * Four bytes a round while four remain, so that the bound is checked once per round. */
static inline const char *skip_tchars(const char *p, const char *end)
{
    while (end - p >= 4) {
        if (!IS_TCHAR(p[0]))
            return p;
        if (!IS_TCHAR(p[1]))
            return p + 1;
        if (!IS_TCHAR(p[2]))
            return p + 2;
        if (!IS_TCHAR(p[3]))
            return p + 3;
        p += 4;
    }
    while (p < end && IS_TCHAR(*p))
        p++;
    return p;
}

/* ---- the field section (RFC 9112 §5), shared by requests, responses and trailers ----------
 *
 * One loop for every field section statusd reads, so that the request parser, the response
 * parser and the trailer parser can never disagree about where a field ends. It reports what
 * went wrong as a code; each caller turns it into its own error (a 400 or 431 for a request, a
 * cause id for an upstream response). It is inlined into each caller: the request parser is the
 * hot path and pays no call for the sharing. */
enum {
    FE_OK = 0,
    FE_AGAIN,      /* incomplete, and nothing wrong so far */
    FE_WS_FIRST,   /* whitespace before the first field: RFC 9112 §2.2 */
    FE_OBS_FOLD,   /* a line starting with whitespace: obs-fold, RFC 9112 §5.2 */
    FE_END_CR,     /* CR not followed by LF at the end of the section */
    FE_BARE_LF,    /* a line ending in LF alone */
    FE_WS_COLON,   /* whitespace between the name and the colon: RFC 9112 §5.1 */
    FE_NAME_CHAR,  /* a byte that is not a tchar in a name */
    FE_EMPTY_NAME, /* ":value" */
    FE_CTL,        /* a control byte (NUL, bare CR …) inside a value: RFC 9110 §5.5 */
    FE_VALUE_CR,   /* CR not followed by LF after a value: RFC 9112 §2.2 */
    FE_FIELD_SIZE, /* one field line over max_field */
    FE_COUNT,      /* more fields than max_headers */
    FE__N
};

/* Parse field lines from *pp up to and including the empty line that ends the section. On
 * FE_OK *pp is just past it; on FE_AGAIN and errors *pp is unspecified. */
static inline __attribute__((always_inline)) int parse_fields(const char **pp, const char *end, hs_header_t *headers,
                                                              size_t *num, size_t max_headers, size_t max_field)
{
    const char *p = *pp;
    size_t k = *num; /* a local count: stores into headers[] cannot alias it */
    for (;;) {
        if (p == end)
            return FE_AGAIN;
        if (*p == '\r') {
            if (p + 1 == end)
                return FE_AGAIN;
            if (p[1] != '\n')
                return FE_END_CR;
            p += 2;
            break;
        }
        if (*p == ' ' || *p == '\t')
            return k == 0 ? FE_WS_FIRST : FE_OBS_FOLD;
        const char *line = p;
        const char *n = p;
        p = skip_tchars(p, end);
        if (p == end)
            return (size_t)(p - line) > max_field ? FE_FIELD_SIZE : FE_AGAIN;
        if (*p != ':') {
            if (p == n && *p == '\n')
                return FE_BARE_LF;
            if (*p == ' ' || *p == '\t')
                return FE_WS_COLON;
            return FE_NAME_CHAR;
        }
        if (p == n)
            return FE_EMPTY_NAME;
        hs_iovec_t name = hs_iov(n, (size_t)(p - n));
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *v = p;
        p = skip_field_value(p, end);
        if ((size_t)(p - line) > max_field)
            return FE_FIELD_SIZE;
        if (p == end)
            return FE_AGAIN;
        if (*p != '\r')
            return *p == '\n' ? FE_BARE_LF : FE_CTL;
        if (p + 1 == end)
            return FE_AGAIN;
        if (p[1] != '\n')
            return FE_VALUE_CR;
        const char *ve = p;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        p += 2;
        if (k == max_headers)
            return FE_COUNT;
        hs_header_t *h = &headers[k++];
        h->name = name;
        h->value = hs_iov(v, (size_t)(ve - v));
        h->token = hs_header_token(name.base, name.len);
    }
    *pp = p;
    *num = k;
    return FE_OK;
}

/* What each field-section error means in a request: its cause (whose status is the answer). */
static const struct {
    uint16_t status, cause;
    const char *detail;
} req_field_errors[FE__N] = {
#define E(fe, c, why) [fe] = {HS_CAUSE_STATUS_##c, HS_CAUSE_##c, why}
    E(FE_WS_FIRST, WS_BEFORE_FIELD, "whitespace between the request line and the first header field"),
    E(FE_OBS_FOLD, OBS_FOLD, "obsolete line folding (obs-fold) is not accepted"),
    E(FE_END_CR, BARE_CR, "bare CR in the header section"),
    E(FE_BARE_LF, BARE_LF, "a header line ends in a bare LF"),
    E(FE_WS_COLON, WS_BEFORE_COLON, "whitespace between a header field name and the colon"),
    E(FE_NAME_CHAR, BAD_FIELD_NAME, "a header field name contains a character that is not allowed"),
    E(FE_EMPTY_NAME, EMPTY_FIELD_NAME, "a header field has an empty name"),
    E(FE_CTL, FIELD_VALUE_CTL, "a header field value contains a control character (NUL, CR, LF or similar)"),
    E(FE_VALUE_CR, BARE_CR, "bare CR in a header field value"),
    E(FE_FIELD_SIZE, FIELD_TOO_LARGE, "a header field is larger than the server accepts"),
    E(FE_COUNT, TOO_MANY_FIELDS, "the request has more header fields than the server accepts"),
#undef E
};

/* The cause names the status too (HS_CAUSE_STATUS_<cause>, a constant: src/http/causes.def). */
#define FAIL(cause, why)                                                                                               \
    do {                                                                                                               \
        req->error = HS_CAUSE_STATUS_##cause;                                                                          \
        req->error_cause = HS_CAUSE_##cause;                                                                           \
        req->error_detail = (why);                                                                                     \
        return HS_ERROR;                                                                                               \
    } while (0)

/* Incomplete input: the only errors possible are the size limits. */
#define NEED_MORE()                                                                                                    \
    do {                                                                                                               \
        if (len > limits->max_head)                                                                                    \
            FAIL(HEAD_TOO_LARGE, "the request head is larger than the server accepts");                                \
        return HS_AGAIN;                                                                                               \
    } while (0)

/* The bytes of a path parse_target looks at twice (the rest of the target's bytes: passed over). */
static const uint8_t target_stop[256] = {['?'] = 1, ['#'] = 1, ['%'] = 1, ['/'] = 1};

static int parse_target(hs_parsed_req_t *req)
{
    const char *p = req->target.base, *end = p + req->target.len;
    req->query = HS_IOV_NULL;
    req->authority = HS_IOV_NULL;
    req->path_plain = false;
    if (*p == '/') {
        req->form = HS_TARGET_ORIGIN;
    } else if (req->target.len == 1 && *p == '*') {
        req->form = HS_TARGET_ASTERISK; /* RFC 9112 §3.2.4 */
        if (req->method_id != HS_METHOD_OPTIONS)
            FAIL(ASTERISK_NOT_OPTIONS, "the asterisk-form target is only allowed with OPTIONS");
        req->path = req->target;
        return HS_OK;
    } else if (req->method_id == HS_METHOD_CONNECT) {
        req->form = HS_TARGET_AUTHORITY; /* RFC 9112 §3.2.3 */
        req->authority = req->target;
        req->path = HS_IOV_NULL;
        return HS_OK;
    } else {
        /* absolute-form, RFC 9112 §3.2.2: we accept http and https schemes */
        size_t skip;
        if (req->target.len > 7 && hs_iov_ieq(hs_iov(p, 7), "http://", 7))
            skip = 7;
        else if (req->target.len > 8 && hs_iov_ieq(hs_iov(p, 8), "https://", 8))
            skip = 8;
        else
            FAIL(BAD_TARGET_FORM, "the request target is neither origin-form nor absolute-form");
        req->form = HS_TARGET_ABSOLUTE;
        const char *a = p + skip, *q = a;
        while (q < end && *q != '/' && *q != '?' && *q != '#')
            q++;
        if (q == a)
            FAIL(EMPTY_AUTHORITY, "the absolute-form target has an empty authority");
        for (const char *c = a; c < q; c++)
            if (*c == '@')
                FAIL(TARGET_USERINFO, "userinfo is not allowed in an http(s) target"); /* RFC 9110 §4.2.4 */
        req->authority = hs_iov(a, (size_t)(q - a));
        p = q;
        if (p == end || *p != '/') {
            req->path = HS_IOV("/");
            req->path_plain = true;
            /* RFC 9112 §3.2: the request-target never carries a fragment; the query of an
             * absolute-form target without a path ("http://h?x#y") must be checked for one too. */
            if (p < end && *p == '?' && !memchr(p, '#', (size_t)(end - p)))
                req->query = hs_iov(p + 1, (size_t)(end - p - 1));
            else if (p < end)
                FAIL(TARGET_FRAGMENT, "a fragment is not allowed in the request target");
            return HS_OK;
        }
    }
    /* One pass over the path: where it ends (the query), a fragment, and whether it is plain —
     * no escape, no "//", no "/." (hs_path_is_plain, so that find-config need not look again). */
    bool plain = true;
    const char *c = p;
    for (; c < end; c++) {
        unsigned char ch = (unsigned char)*c;
        if (!target_stop[ch])
            continue;
        if (ch == '?')
            break;
        if (ch == '#')
            FAIL(TARGET_FRAGMENT, "a fragment is not allowed in the request target"); /* RFC 9112 §3.2 */
        if (ch == '%' || (c + 1 < end && (c[1] == '/' || c[1] == '.')))
            plain = false; /* an escape, or a '/' followed by '/' or '.' */
    }
    req->path = hs_iov(p, (size_t)(c - p));
    req->path_plain = plain;
    if (c < end) {
        if (memchr(c + 1, '#', (size_t)(end - c - 1)))
            FAIL(TARGET_FRAGMENT, "a fragment is not allowed in the request target"); /* RFC 9112 §3.2 */
        req->query = hs_iov(c + 1, (size_t)(end - c - 1));
    }
    return HS_OK;
}

int hs_parse_request(const char *buf, size_t len, hs_parsed_req_t *req, const hs_parse_limits_t *limits)
{
    const char *p = buf, *end = buf + len;
    size_t max_headers = limits->max_headers;
    req->num_headers = 0;
    req->error = 0;
    req->error_cause = 0;
    req->error_detail = NULL;

    /* RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before the
     * request-line. We ignore up to four CRLFs, no more (no unbounded prelude). */
    for (int i = 0; i < 4 && p < end && *p == '\r'; i++) {
        if (p + 1 == end)
            NEED_MORE();
        if (p[1] != '\n')
            FAIL(BARE_CR, "bare CR in the request line");
        p += 2;
    }

    /* method = token (RFC 9112 §3.1) */
    const char *m = p;
    while (p < end && IS_TCHAR(*p)) {
        if (p - m >= MAX_METHOD)
            FAIL(METHOD_TOO_LONG, "the request method is longer than any method this server implements");
        p++;
    }
    if (p == end)
        NEED_MORE();
    if (p == m)
        FAIL(NO_METHOD, "the request line does not start with a method token");
    if (*p != ' ')
        FAIL(METHOD_SPACE, "the method must be followed by exactly one space");
    req->method = hs_iov(m, (size_t)(p - m));
    req->method_id = method_lookup(m, req->method.len);
    p++;

    /* request-target: visible ASCII only; whitespace ends it (RFC 9112 §3.2) */
    const char *t = p;
    while (p < end && IS_TARGET(*p)) {
        p++;
        if ((size_t)(p - t) > limits->max_uri)
            FAIL(TARGET_TOO_LONG, "the request target is longer than the server accepts");
    }
    if (p == end)
        NEED_MORE();
    if (p == t)
        FAIL(EMPTY_TARGET, "the request target is empty or preceded by extra whitespace");
    if (*p != ' ') {
        if ((unsigned char)*p >= 0x80)
            FAIL(TARGET_NON_ASCII, "the request target contains a non-ASCII byte (it must be percent-encoded)");
        FAIL(TARGET_CTL, "the request target contains a control character or the request line lacks a version");
    }
    req->target = hs_iov(t, (size_t)(p - t));
    p++;

    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF (RFC 9112 §2.3, §3) */
    {
        static const char proto[] = "HTTP/";
        size_t have = (size_t)(end - p);
        /* a constant length is compared inline; a shorter prefix only while the line arrives */
        if (have >= 5 ? memcmp(p, proto, 5) != 0 : memcmp(p, proto, have) != 0)
            FAIL(NO_VERSION, "the request line does not end in an HTTP version");
        if (have < 10)
            NEED_MORE(); /* "HTTP/1.1\r\n" */
        if (p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
            FAIL(BAD_VERSION, "the HTTP version is malformed");
        if (p[8] == '\n')
            FAIL(BARE_LF, "the request line ends in a bare LF");
        if (p[8] != '\r')
            FAIL(BAD_VERSION, "the HTTP version is malformed");
        if (p[9] != '\n')
            FAIL(BARE_CR, "bare CR in the request line");
        if (p[5] != '1')
            FAIL(HTTP_MAJOR_VERSION, "only HTTP/1.0 and HTTP/1.1 are supported"); /* RFC 9110 §15.6.6 */
        req->minor_version = p[7] == '0' ? 0 : 1;
        p += 10;
    }
    if (parse_target(req) != HS_OK)
        return HS_ERROR;

    /* header fields (RFC 9112 §5) */
    int fe = parse_fields(&p, end, req->headers, &req->num_headers, max_headers, limits->max_field);
    if (HS_UNLIKELY(fe != FE_OK)) {
        if (fe == FE_AGAIN)
            NEED_MORE();
        req->error = req_field_errors[fe].status;
        req->error_cause = req_field_errors[fe].cause;
        req->error_detail = req_field_errors[fe].detail;
        return HS_ERROR;
    }
    if ((size_t)(p - buf) > limits->max_head)
        FAIL(HEAD_TOO_LARGE, "the request head is larger than the server accepts");
    return (int)(p - buf);
}

int hs_parse_content_length(hs_iovec_t v, int64_t *out)
{
    /* RFC 9110 §8.6: Content-Length = 1*DIGIT. No sign, no hex, no list, no spaces. */
    if (v.len == 0 || v.len > 18)
        return HS_ERROR;
    int64_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        char c = v.base[i];
        if (c < '0' || c > '9')
            return HS_ERROR;
        n = n * 10 + (c - '0');
    }
    *out = n;
    return HS_OK;
}

/* ==== Responses ================================================================================
 * The same field loop, a stricter first line: a gateway must never relay bytes it is unsure
 * about (nginx passes a garbage status line to the client as HTTP/0.9 bytes; we answer 502). */

#undef FAIL
#define FAIL(cause, why)                                                                                               \
    do {                                                                                                               \
        res->error = (cause);                                                                                          \
        res->error_detail = (why);                                                                                     \
        return HS_ERROR;                                                                                               \
    } while (0)

#define RES_NEED_MORE()                                                                                                \
    do {                                                                                                               \
        if (len > limits->max_head)                                                                                    \
            FAIL(HS_UP_HEAD_TOO_LARGE, "the response head is larger than the gateway accepts");                        \
        return HS_AGAIN;                                                                                               \
    } while (0)

/* What each field-section error means in a response head, and in a trailer section. */
static const struct {
    int cause;
    const char *detail;
} res_field_errors[FE__N] = {
    [FE_WS_FIRST] = {HS_UP_MALFORMED_HEAD, "whitespace between the status line and the first header field"},
    [FE_OBS_FOLD] = {HS_UP_MALFORMED_HEAD, "obsolete line folding (obs-fold) in the response head"},
    [FE_END_CR] = {HS_UP_MALFORMED_HEAD, "bare CR in the response's header section"},
    [FE_BARE_LF] = {HS_UP_MALFORMED_HEAD, "a response header line ends in a bare LF"},
    [FE_WS_COLON] = {HS_UP_MALFORMED_HEAD, "whitespace between a response header field name and the colon"},
    [FE_NAME_CHAR] = {HS_UP_MALFORMED_HEAD, "a response header field name contains a character that is not allowed"},
    [FE_EMPTY_NAME] = {HS_UP_MALFORMED_HEAD, "a response header field has an empty name"},
    [FE_CTL] = {HS_UP_MALFORMED_HEAD, "a response header field value contains a control character (NUL, CR, LF …)"},
    [FE_VALUE_CR] = {HS_UP_MALFORMED_HEAD, "bare CR in a response header field value"},
    [FE_FIELD_SIZE] = {HS_UP_FIELD_TOO_LARGE, "a response header field is larger than the gateway accepts"},
    [FE_COUNT] = {HS_UP_HEAD_TOO_LARGE, "the response has more header fields than the gateway accepts"},
};

static const struct {
    int cause;
    const char *detail;
} trailer_errors[FE__N] = {
    [FE_WS_FIRST] = {HS_UP_BAD_CHUNK, "whitespace at the start of the trailer section"},
    [FE_OBS_FOLD] = {HS_UP_BAD_CHUNK, "obsolete line folding (obs-fold) in the trailer section"},
    [FE_END_CR] = {HS_UP_BAD_CHUNK, "bare CR at the end of the chunked body"},
    [FE_BARE_LF] = {HS_UP_BAD_CHUNK, "a trailer line ends in a bare LF"},
    [FE_WS_COLON] = {HS_UP_BAD_CHUNK, "whitespace before the colon of a trailer field"},
    [FE_NAME_CHAR] = {HS_UP_BAD_CHUNK, "a trailer field name is malformed"},
    [FE_EMPTY_NAME] = {HS_UP_BAD_CHUNK, "a trailer field has an empty name"},
    [FE_CTL] = {HS_UP_BAD_CHUNK, "a trailer field value contains a control character"},
    [FE_VALUE_CR] = {HS_UP_BAD_CHUNK, "bare CR in a trailer field"},
    [FE_FIELD_SIZE] = {HS_UP_TRAILERS_TOO_LARGE, "a trailer field is larger than the gateway accepts"},
    [FE_COUNT] = {HS_UP_TRAILERS_TOO_LARGE, "the trailer section has more fields than the gateway accepts"},
};

int hs_parse_response(const char *buf, size_t len, hs_parsed_res_t *res, const hs_parse_limits_t *limits)
{
    const char *p = buf, *end = buf + len;
    res->num_headers = 0;
    res->status = 0;
    res->error = 0;
    res->error_detail = NULL;

    /* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF   (RFC 9112 §4)
     * HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (§2.3). The prefix is checked byte
     * by byte as it arrives, so that anything else (an HTTP/0.9 body, "ICY 200 OK", a leading
     * CRLF) fails at once instead of waiting for more. */
    static const char proto[] = "HTTP/";
    size_t have = (size_t)(end - p);
    if (have >= 5 ? memcmp(p, proto, 5) != 0 : memcmp(p, proto, have) != 0) /* constant length: inline */
        FAIL(HS_UP_MALFORMED_HEAD, "the response does not start with an HTTP/1.x status line");
    if (have >= 6 && (p[5] < '0' || p[5] > '9'))
        FAIL(HS_UP_MALFORMED_HEAD, "the HTTP version of the response is malformed");
    if (have >= 7 && p[6] != '.')
        FAIL(HS_UP_MALFORMED_HEAD, "the HTTP version of the response is malformed");
    if (have >= 8 && (p[7] < '0' || p[7] > '9'))
        FAIL(HS_UP_MALFORMED_HEAD, "the HTTP version of the response is malformed");
    if (have >= 6 && p[5] != '1')
        FAIL(HS_UP_MALFORMED_HEAD, "the response is not HTTP/1.x"); /* RFC 9110 §6.2: the major version */
    if (have >= 9 && p[8] != ' ')
        FAIL(HS_UP_MALFORMED_HEAD, "the HTTP version is not followed by exactly one space");
    for (size_t i = 9; i < 12 && i < have; i++)
        if (p[i] < '0' || p[i] > '9')
            FAIL(HS_UP_MALFORMED_HEAD, "the status code is not three digits");
    /* RFC 9112 §4 makes the space before an empty reason a duty of the sender; a status line
     * that ends right after the code ("HTTP/1.1 204" CRLF) is accepted: it cannot be read two
     * ways. Anything else after the code is an error. */
    if (have >= 13 && p[12] != ' ' && p[12] != '\r') {
        if (p[12] >= '0' && p[12] <= '9')
            FAIL(HS_UP_BAD_STATUS, "the status code has more than three digits");
        FAIL(HS_UP_MALFORMED_HEAD,
             p[12] == '\n' ? "the status line ends in a bare LF" : "the status code is not followed by a space");
    }
    if (have < 13)
        RES_NEED_MORE();
    res->minor_version = p[7] == '0' ? 0 : 1;
    res->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (res->status < 100 || res->status > 599)
        FAIL(HS_UP_BAD_STATUS, "the status code is outside 100-599"); /* RFC 9110 §15 */
    p += p[12] == ' ' ? 13 : 12;
    const char *r = p;
    p = skip_field_value(p, end); /* reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ), RFC 9112 §4 */
    if (p == end)
        RES_NEED_MORE();
    if (*p != '\r')
        FAIL(HS_UP_MALFORMED_HEAD,
             *p == '\n' ? "the status line ends in a bare LF" : "the reason phrase contains a control character");
    if (p + 1 == end)
        RES_NEED_MORE();
    if (p[1] != '\n')
        FAIL(HS_UP_MALFORMED_HEAD, "bare CR in the status line");
    res->reason = hs_iov(r, (size_t)(p - r));
    p += 2;

    int fe = parse_fields(&p, end, res->headers, &res->num_headers, limits->max_headers, limits->max_field);
    if (fe != FE_OK) {
        if (fe == FE_AGAIN)
            RES_NEED_MORE();
        FAIL(res_field_errors[fe].cause, res_field_errors[fe].detail);
    }
    if ((size_t)(p - buf) > limits->max_head)
        FAIL(HS_UP_HEAD_TOO_LARGE, "the response head is larger than the gateway accepts");
    return (int)(p - buf);
}

int hs_parse_trailers(const char *buf, size_t len, hs_header_t *headers, size_t *num, const hs_parse_limits_t *limits,
                      int *cause, const char **detail)
{
    const char *p = buf, *end = buf + len;
    *num = 0;
    int fe = parse_fields(&p, end, headers, num, limits->max_headers, limits->max_field);
    if (fe == FE_AGAIN && len <= limits->max_head)
        return HS_AGAIN;
    if (fe == FE_OK && (size_t)(p - buf) <= limits->max_head)
        return (int)(p - buf);
    if (fe == FE_OK || fe == FE_AGAIN) {
        *cause = HS_UP_TRAILERS_TOO_LARGE;
        *detail = "the trailer section is larger than the gateway accepts";
    } else {
        *cause = trailer_errors[fe].cause;
        *detail = trailer_errors[fe].detail;
    }
    return HS_ERROR;
}
