/* statusd — chunked transfer coding decoder (RFC 9112 §7.1). In place, no allocation.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-size   = 1*HEXDIG
 *   chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
 *   chunk-ext-name = token
 *   chunk-ext-val  = token / quoted-string                        (RFC 9112 §7.1.1)
 *   quoted-string  = DQUOTE *( qdtext / quoted-pair ) DQUOTE      (RFC 9110 §5.6.4)
 *
 * Extensions are checked against this grammar byte by byte (BWS only around ';' and
 * '='; a name is never empty) and limited in length with the size (max_ext); their content is
 * ignored. Trailer fields are syntax-checked and discarded, unless the caller set
 * stop_at_trailers: then decoding ends after the last-chunk line and the caller reads the
 * trailer section with hs_parse_trailers (the gateway's client, which passes trailers on).
 */
#include "hs/parse.h"

#include "hs/codec.h"

enum {
    S_SIZE_FIRST,   /* expecting the first hex digit */
    S_SIZE,         /* more hex digits, or the end of them */
    S_EXT,          /* after the size or an extension's value: CR, BWS or ';' */
    S_EXT_BWS,      /* whitespace after the size or a value: only more BWS or ';' may follow */
    S_EXT_NAME0,    /* after ';': BWS, then the first byte of the name */
    S_EXT_NAME,     /* inside the name */
    S_EXT_NAME_BWS, /* whitespace after the name: only more BWS, '=' or ';' may follow */
    S_EXT_VAL0,     /* after '=': BWS, then a token or a quoted-string */
    S_EXT_TOKEN,    /* inside a token value */
    S_EXT_QUOTED,   /* inside a quoted-string value */
    S_EXT_QPAIR,    /* after a backslash inside a quoted-string */
    S_SIZE_LF,      /* CR seen, expecting LF */
    S_DATA,
    S_DATA_CR,
    S_DATA_LF,
    S_TR_START, /* start of a trailer line, or the final CRLF */
    S_TR_NAME,
    S_TR_VALUE,
    S_TR_LF,  /* CR seen at the end of a trailer field */
    S_END_LF, /* CR of the final empty line seen */
    S_DONE,
};

static inline bool is_field(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static inline bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* The cause names the status too (HS_CAUSE_STATUS_<cause>: src/http/causes.def). */
#define FAIL(cause, why)                                                                                               \
    do {                                                                                                               \
        *status = HS_CAUSE_STATUS_##cause;                                                                             \
        d->error_cause = HS_CAUSE_##cause;                                                                             \
        *detail = (why);                                                                                               \
        goto Error;                                                                                                    \
    } while (0)

int hs_chunked_decode(hs_chunked_t *d, char *buf, size_t *len, size_t *consumed, const hs_chunked_limits_t *limits,
                      int *status, const char **detail)
{
    size_t in = 0, out = 0, n = *len;
    int ret = HS_AGAIN;

    while (in < n) {
        unsigned char c = (unsigned char)buf[in];
        switch (d->state) {
        case S_SIZE_FIRST:
        case S_SIZE: {
            int v = hs_hex_digit(c);
            if (v >= 0) {
                /* leading zeros are allowed by 1*HEXDIG and do not count toward overflow */
                if ((d->chunk_left != 0 || v != 0) && ++d->hex_digits > 15)
                    FAIL(CHUNK_SIZE_OVERFLOW, "the chunk size has too many digits (overflow)");
                d->chunk_left = (d->chunk_left << 4) | (uint64_t)v;
                d->state = S_SIZE;
                in++;
                if (++d->line_len > limits->max_ext)
                    FAIL(CHUNK_LINE_TOO_LONG, "the chunk-size line is longer than the server accepts");
                break;
            }
            if (d->state == S_SIZE_FIRST)
                FAIL(BAD_CHUNK_SIZE, "the chunk size is not a hexadecimal number");
            if (d->chunk_left > limits->max_body || d->total + d->chunk_left > limits->max_body)
                FAIL(BODY_TOO_LARGE, "the chunked request body is larger than the server accepts");
            d->state = S_EXT;
            continue;
        }
        case S_EXT:
        case S_EXT_BWS:
        case S_EXT_NAME0:
        case S_EXT_NAME:
        case S_EXT_NAME_BWS:
        case S_EXT_VAL0:
        case S_EXT_TOKEN:
        case S_EXT_QUOTED:
        case S_EXT_QPAIR:
            /* RFC 9112 §7.1.1 chunk-ext, one byte at a time (see the grammar at the top) */
            switch (d->state) {
            case S_EXT_TOKEN:
                if (hs_is_tchar(c))
                    break;
                /* the value ended: what may follow a value is what may follow the size */
                /* fall through */
            case S_EXT:
                /* BWS is only allowed before a ';': "5 \r\n" is not valid chunk-size syntax */
                if (c == '\r')
                    d->state = S_SIZE_LF;
                else if (c == ';')
                    d->state = S_EXT_NAME0;
                else if (is_ws(c))
                    d->state = S_EXT_BWS;
                else
                    FAIL(BAD_CHUNK_EXT, c == '\n' ? "a chunk-size line ends in a bare LF"
                                        : d->state == S_EXT_TOKEN
                                            ? "a chunk extension value is not a token or quoted-string"
                                            : "the chunk size is followed by something other than an "
                                              "extension");
                break;
            case S_EXT_BWS:
                if (c == ';')
                    d->state = S_EXT_NAME0;
                else if (!is_ws(c))
                    FAIL(BAD_CHUNK_EXT, c == '\n'   ? "a chunk-size line ends in a bare LF"
                                        : c == '\r' ? "whitespace in a chunk-size line is not followed by an extension"
                                                    : "whitespace in a chunk-size line is not followed by ';'");
                break;
            case S_EXT_NAME0:
                if (hs_is_tchar(c))
                    d->state = S_EXT_NAME;
                else if (!is_ws(c))
                    FAIL(BAD_CHUNK_EXT, "a chunk extension has no name (chunk-ext-name is a token)");
                break;
            case S_EXT_NAME:
                if (hs_is_tchar(c))
                    break;
                if (c == '\r')
                    d->state = S_SIZE_LF;
                else if (c == ';')
                    d->state = S_EXT_NAME0;
                else if (c == '=')
                    d->state = S_EXT_VAL0;
                else if (is_ws(c))
                    d->state = S_EXT_NAME_BWS;
                else
                    FAIL(BAD_CHUNK_EXT,
                         c == '\n' ? "a chunk-size line ends in a bare LF" : "a chunk extension name is not a token");
                break;
            case S_EXT_NAME_BWS:
                if (c == ';')
                    d->state = S_EXT_NAME0;
                else if (c == '=')
                    d->state = S_EXT_VAL0;
                else if (!is_ws(c))
                    FAIL(BAD_CHUNK_EXT, "whitespace after a chunk extension name is not followed by '=' or ';'");
                break;
            case S_EXT_VAL0:
                if (hs_is_tchar(c))
                    d->state = S_EXT_TOKEN;
                else if (c == '"')
                    d->state = S_EXT_QUOTED;
                else if (!is_ws(c))
                    FAIL(BAD_CHUNK_EXT, "a chunk extension has '=' but no token or quoted-string value");
                break;
            case S_EXT_QUOTED:
                /* qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
                if (c == '"')
                    d->state = S_EXT;
                else if (c == '\\')
                    d->state = S_EXT_QPAIR;
                else if (!is_field(c))
                    FAIL(BAD_CHUNK_EXT, c == '\r' || c == '\n' ? "a quoted chunk extension value is not closed"
                                                               : "a chunk extension contains a control character");
                break;
            default: /* S_EXT_QPAIR: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
                if (!is_field(c))
                    FAIL(BAD_CHUNK_EXT, "a chunk extension contains a control character");
                d->state = S_EXT_QUOTED;
                break;
            }
            in++;
            if (++d->line_len > limits->max_ext)
                FAIL(CHUNK_LINE_TOO_LONG, "chunk extensions are longer than the server accepts");
            break;
        case S_SIZE_LF:
            if (c != '\n')
                FAIL(BAD_CHUNK_FRAMING, "bare CR in a chunk-size line");
            in++;
            d->line_len = 0;
            d->hex_digits = 0;
            if (d->chunk_left == 0) {
                if (d->stop_at_trailers) { /* the caller parses the trailer section itself */
                    d->state = S_DONE;
                    ret = HS_DONE;
                    goto Exit;
                }
                d->state = S_TR_START;
            } else {
                d->total += d->chunk_left;
                d->state = S_DATA;
            }
            break;
        case S_DATA: {
            size_t take = n - in;
            if (take > d->chunk_left)
                take = (size_t)d->chunk_left;
            if (out != in)
                memmove(buf + out, buf + in, take);
            out += take;
            in += take;
            d->chunk_left -= take;
            if (d->chunk_left == 0)
                d->state = S_DATA_CR;
            break;
        }
        case S_DATA_CR:
            if (c != '\r')
                FAIL(BAD_CHUNK_FRAMING, "chunk data is not followed by CRLF (the chunk size does not match)");
            in++;
            d->state = S_DATA_LF;
            break;
        case S_DATA_LF:
            if (c != '\n')
                FAIL(BAD_CHUNK_FRAMING, "chunk data is not followed by CRLF");
            in++;
            d->state = S_SIZE_FIRST;
            break;
        case S_TR_START:
            if (c == '\r') {
                d->state = S_END_LF;
                in++;
                break;
            }
            if (!hs_is_tchar(c))
                FAIL(BAD_TRAILER,
                     c == '\n' ? "the chunked body ends in a bare LF" : "a trailer field name is malformed");
            d->state = S_TR_NAME;
            break;
        case S_TR_NAME:
            if (c == ':')
                d->state = S_TR_VALUE;
            else if (!hs_is_tchar(c))
                FAIL(BAD_TRAILER, c == ' ' || c == '\t' ? "whitespace before the colon of a trailer field"
                                                        : "a trailer field name is malformed");
            in++;
            if (++d->trailer_len > limits->max_trailer)
                FAIL(TRAILER_TOO_LARGE, "the trailer section is larger than the server accepts");
            break;
        case S_TR_VALUE:
            if (c == '\r')
                d->state = S_TR_LF;
            else if (!is_field(c))
                FAIL(BAD_TRAILER, "a trailer field value contains a control character");
            in++;
            if (++d->trailer_len > limits->max_trailer)
                FAIL(TRAILER_TOO_LARGE, "the trailer section is larger than the server accepts");
            break;
        case S_TR_LF:
            if (c != '\n')
                FAIL(BAD_TRAILER, "bare CR in a trailer field");
            in++;
            d->state = S_TR_START;
            break;
        case S_END_LF:
            if (c != '\n')
                FAIL(BAD_CHUNK_FRAMING, "bare CR at the end of the chunked body");
            in++;
            d->state = S_DONE;
            ret = HS_DONE;
            goto Exit;
        case S_DONE: ret = HS_DONE; goto Exit;
        }
    }
Exit:
    *len = out;
    *consumed = in;
    return ret;
Error:
    *len = out;
    *consumed = in;
    return HS_ERROR;
}
