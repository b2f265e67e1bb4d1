/* statusd — access log formats: combined, json and $variable templates (include/hs/logfmt.h).
 *
 * A format is compiled once (at startup, at a reload, by `statusd -t`) into a list of pieces:
 * literal text and variables. Rendering walks the list; nothing is parsed per request. The
 * combined format is rendered by its own function, which writes exactly the line statusd has
 * always written (the same bounds, the same escapes), so that log parsers of the past keep
 * working; json and templates share the value functions.
 *
 * Escapes are the point of this file: a client controls the target, every header and (through
 * an unparsable head) the whole request line. A template value escapes controls, bytes above
 * 0x7E, '"' and '\' as \xHH, so a line can neither be split nor given a forged field; json
 * writes RFC 8259 §7 strings that are valid UTF-8 whatever the input (an invalid byte becomes
 * \u00XX, its Latin-1 reading: HTTP's obs-text was ISO-8859-1). */
#define _GNU_SOURCE
#include "hs/logfmt.h"
#include "hs/addr.h"
#include "hs/codec.h"

#include <ctype.h>
#include <stdio.h>

#define TEMPLATE_MAX 2048
#define PIECES_MAX 128
#define VALUE_MAX 1024 /* a value in json or a template is cut here */

enum { F_COMBINED, F_JSON, F_TEMPLATE };

enum {
    V_LITERAL,
    V_REMOTE_ADDR,
    V_TIME_LOCAL,
    V_TIME_ISO8601,
    V_REQUEST,
    V_METHOD,
    V_TARGET,
    V_PATH,
    V_QUERY,
    V_PROTOCOL,
    V_STATUS,
    V_CAUSE,
    V_BYTES,
    V_BYTES_SENT,
    V_DURATION,
    V_HOST,
    V_VHOST,
    V_REQUEST_ID,
    V_FIELDS,
    V_FIELD, /* field_NAME */
    V_HTTP,  /* http_NAME */
};

static const struct {
    const char *name;
    uint8_t var;
} vars[] = {
    {"remote_addr", V_REMOTE_ADDR},
    {"time_local", V_TIME_LOCAL},
    {"time_iso8601", V_TIME_ISO8601},
    {"request", V_REQUEST},
    {"method", V_METHOD},
    {"target", V_TARGET},
    {"path", V_PATH},
    {"query", V_QUERY},
    {"protocol", V_PROTOCOL},
    {"status", V_STATUS},
    {"cause", V_CAUSE},
    {"bytes", V_BYTES},
    {"bytes_sent", V_BYTES_SENT},
    {"duration", V_DURATION},
    {"host", V_HOST},
    {"vhost", V_VHOST},
    {"request_id", V_REQUEST_ID},
    {"fields", V_FIELDS},
};

typedef struct {
    uint8_t var;
    const char *text; /* the literal, or the NAME of field_NAME / http_NAME (lowercase, '-' for '_') */
    size_t len;
} piece_t;

struct hs_logfmt_s {
    int kind;
    size_t npieces;
    piece_t pieces[];
};

/* ---- compiling ---- */

int hs_logfmt_compile(hs_arena_t *arena, const char *spec, const hs_logfmt_t **out, char *err, size_t errlen)
{
    size_t n = strlen(spec);
    if (!strcmp(spec, "combined") || !strcmp(spec, "json")) {
        hs_logfmt_t *f = hs_arena_alloc(arena, sizeof(*f));
        *f = (hs_logfmt_t){.kind = spec[0] == 'c' ? F_COMBINED : F_JSON};
        *out = f;
        return HS_OK;
    }
    if (n == 0 || n > TEMPLATE_MAX) {
        snprintf(err, errlen, "a log format is combined, json or a template of 1 to %d bytes", TEMPLATE_MAX);
        return HS_ERROR;
    }
    piece_t pieces[PIECES_MAX];
    size_t np = 0;
    char *lit = hs_arena_alloc(arena, n + 1); /* the literals, with "$$" made "$" */
    size_t lit_start = 0, lit_len = 0;
#define FLUSH_LITERAL()                                                                                                \
    do {                                                                                                               \
        if (lit_len > lit_start) {                                                                                     \
            if (np == PIECES_MAX)                                                                                      \
                goto TooMany;                                                                                          \
            pieces[np++] = (piece_t){.var = V_LITERAL, .text = lit + lit_start, .len = lit_len - lit_start};           \
        }                                                                                                              \
        lit_start = lit_len;                                                                                           \
    } while (0)
    for (size_t i = 0; i < n;) {
        char c = spec[i];
        if (c == '\n' || c == '\r') {
            snprintf(err, errlen, "a log format cannot hold a line break (offset %zu)", i);
            return HS_ERROR;
        }
        if (c != '$') {
            lit[lit_len++] = c;
            i++;
            continue;
        }
        if (i + 1 < n && spec[i + 1] == '$') {
            lit[lit_len++] = '$';
            i += 2;
            continue;
        }
        size_t at = i++;
        bool brace = i < n && spec[i] == '{';
        if (brace)
            i++;
        size_t s = i;
        while (i < n && (islower((unsigned char)spec[i]) || isdigit((unsigned char)spec[i]) || spec[i] == '_' ||
                         (brace && (isupper((unsigned char)spec[i]) || spec[i] == '-'))))
            i++;
        size_t e = i;
        if (brace) {
            if (i >= n || spec[i] != '}') {
                snprintf(err, errlen, "'${' at offset %zu is not closed by '}' after a variable name", at);
                return HS_ERROR;
            }
            i++;
        }
        if (e == s) {
            snprintf(err, errlen, "'$' at offset %zu names no variable (write $$ for a dollar sign)", at);
            return HS_ERROR;
        }
        piece_t p = {0};
        size_t len = e - s;
        for (size_t k = 0; k < HS_ARRAY_SIZE(vars) && !p.var; k++)
            if (strlen(vars[k].name) == len && !memcmp(vars[k].name, spec + s, len))
                p.var = vars[k].var;
        if (!p.var && len > 5 && (!memcmp(spec + s, "http_", 5) || !memcmp(spec + s, "field", 5))) {
            bool http = spec[s] == 'h';
            size_t skip = http ? 5 : 6;
            if (http || (len > 6 && spec[s + 5] == '_')) {
                char *name = hs_arena_alloc(arena, len - skip + 1);
                for (size_t k = 0; k < len - skip; k++) {
                    char ch = (char)tolower((unsigned char)spec[s + skip + k]);
                    name[k] = http && ch == '_' ? '-' : ch;
                }
                name[len - skip] = '\0';
                p = (piece_t){.var = http ? V_HTTP : V_FIELD, .text = name, .len = len - skip};
            }
        }
        if (!p.var) {
            snprintf(err, errlen, "unknown variable '$%.*s' at offset %zu (see the README: access log formats)",
                     (int)HS_MIN(len, (size_t)64), spec + s, at);
            return HS_ERROR;
        }
        FLUSH_LITERAL();
        if (np == PIECES_MAX)
            goto TooMany;
        pieces[np++] = p;
    }
    FLUSH_LITERAL();
#undef FLUSH_LITERAL
    hs_logfmt_t *f = hs_arena_alloc(arena, sizeof(*f) + np * sizeof(piece_t));
    f->kind = F_TEMPLATE;
    f->npieces = np;
    memcpy(f->pieces, pieces, np * sizeof(piece_t));
    *out = f;
    return HS_OK;
TooMany:
    snprintf(err, errlen, "a log format may have at most %d pieces of text and variables", PIECES_MAX);
    return HS_ERROR;
}

bool hs_logfmt_is_combined(const hs_logfmt_t *f)
{
    return f->kind == F_COMBINED;
}

/* ---- the modules' fields: [key length][key][value length, 2 bytes][value] ---- */

void hs_logfields_add(hs_buf_t *b, const char *key, const char *value, size_t len)
{
    size_t k = HS_MIN(strlen(key), (size_t)64);
    len = HS_MIN(len, (size_t)65535);
    unsigned char hdr[3] = {(unsigned char)k};
    hs_buf_append(b, hdr, 1);
    hs_buf_append(b, key, k);
    hdr[1] = (unsigned char)(len & 0xff);
    hdr[2] = (unsigned char)(len >> 8);
    hs_buf_append(b, hdr + 1, 2);
    hs_buf_append(b, value, len);
}

/* The next field from *pos; false at the end (or at a damaged entry). */
static bool next_field(hs_iovec_t all, size_t *pos, hs_iovec_t *key, hs_iovec_t *value)
{
    const unsigned char *p = (const unsigned char *)all.base;
    if (*pos >= all.len)
        return false;
    size_t k = p[*pos];
    if (*pos + 1 + k + 2 > all.len)
        return false;
    *key = hs_iov(all.base + *pos + 1, k);
    size_t v = p[*pos + 1 + k] | (size_t)p[*pos + 2 + k] << 8;
    if (*pos + 3 + k + v > all.len)
        return false;
    *value = hs_iov(all.base + *pos + 3 + k, v);
    *pos += 3 + k + v;
    return true;
}

/* ---- combined: the line as it always was ---- */

/* Escape for a quoted log field: quotes, backslashes and non-printable bytes become \xHH;
 * nothing becomes "-". Writes while there is room for one more escape (room - 4). */
static size_t esc(char *out, size_t room, const char *s, size_t n)
{
    size_t o = 0;
    if (!s || n == 0) {
        if (room > 1)
            out[o++] = '-';
        return o;
    }
    for (size_t i = 0; i < n && o + 4 < room; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = 'x';
            o += hs_hex_encode(out + o, &c, 1);
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

static hs_iovec_t header(const hs_logrec_t *r, const char *lower, size_t n)
{
    for (size_t i = 0; i < r->num_headers; i++)
        if (hs_iov_ieq(r->headers[i].name, lower, n))
            return r->headers[i].value;
    return HS_IOV_NULL;
}

/* " key=value" per module field, quoted when the value is empty or has a space or a quote. */
static size_t combined_fields(char *out, size_t room, hs_iovec_t fields)
{
    size_t pos = 0, o = 0;
    hs_iovec_t k, v;
    char tmp[2048];
    while (next_field(fields, &pos, &k, &v)) {
        size_t t = 0;
        bool quote = v.len == 0 || memchr(v.base, ' ', v.len) || memchr(v.base, '"', v.len);
        tmp[t++] = ' ';
        memcpy(tmp + t, k.base, k.len);
        t += k.len;
        tmp[t++] = '=';
        if (quote)
            tmp[t++] = '"';
        if (v.len)
            t += esc(tmp + t, sizeof(tmp) - t - 2, v.base, v.len);
        if (quote)
            tmp[t++] = '"';
        size_t c = HS_MIN(t, room - o);
        memcpy(out + o, tmp, c);
        o += c;
    }
    return o;
}

static void render_combined(const hs_logrec_t *r, hs_buf_t *b)
{
    char line[2048], peer[HS_ADDR_MAX];
    hs_addr_format(r->peer, peer, sizeof(peer), 0);
    size_t o = (size_t)snprintf(line, sizeof(line), "%s - - [%s] \"", peer, r->time_local);
    o += esc(line + o, 700, r->request.base, r->request.len);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "\" %d %llu \"", r->status, (unsigned long long)r->bytes);
    hs_iovec_t ref = header(r, "referer", 7), ua = header(r, "user-agent", 10);
    o += esc(line + o, 500, ref.base, ref.len);
    line[o++] = '"';
    line[o++] = ' ';
    line[o++] = '"';
    o += esc(line + o, 500, ua.base, ua.len);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "\" %.3f", (double)r->duration_ms / 1000.0);
    if (r->fields.len && o < sizeof(line) - 1) /* the modules' fields, bounded like the others */
        o += combined_fields(line + o, sizeof(line) - 1 - o, r->fields);
    o = HS_MIN(o, sizeof(line) - 1);
    line[o++] = '\n';
    hs_buf_append(b, line, o);
}

/* ---- json ---- */

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4: no overlongs, no surrogates, at most
 * U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (c < 0xc2 || c > 0xf4 || n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

static void json_str(hs_buf_t *b, const char *s, size_t n)
{
    if (!s) {
        HS_BUF_LIT(b, "null");
        return;
    }
    n = HS_MIN(n, (size_t)VALUE_MAX);
    HS_BUF_LIT(b, "\"");
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t u = c >= 0x80 ? utf8_len((const unsigned char *)s + i, n - i) : 0;
        if (u) {
            i += u;
            continue;
        }
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
        start = ++i;
    }
    if (n > start)
        hs_buf_append(b, s + start, n - start);
    HS_BUF_LIT(b, "\"");
}

static void iso8601(time_t t, char out[21])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *protocol(const hs_logrec_t *r)
{
    return r->minor_version < 0 ? NULL : r->minor_version ? "HTTP/1.1" : "HTTP/1.0";
}

#define KEY(b, k) HS_BUF_LIT((b), ",\"" k "\":")

static void render_json(const hs_logrec_t *r, hs_buf_t *b)
{
    char t[21], peer[HS_ADDR_MAX];
    iso8601(r->when, t);
    hs_addr_format(r->peer, peer, sizeof(peer), 0);
    hs_buf_printf(b, "{\"time\":\"%s\",\"remote_addr\":", t);
    json_str(b, peer, strlen(peer));
    KEY(b, "host");
    json_str(b, r->host.base, r->host.len);
    KEY(b, "vhost");
    json_str(b, r->vhost.base, r->vhost.len);
    KEY(b, "method");
    json_str(b, r->method.base, r->method.len);
    KEY(b, "target");
    json_str(b, r->target.base, r->target.len);
    KEY(b, "protocol");
    const char *proto = protocol(r);
    json_str(b, proto, proto ? 8 : 0);
    KEY(b, "request");
    json_str(b, r->request.base, r->request.len);
    hs_buf_printf(b, ",\"status\":%d,\"cause\":", r->status);
    json_str(b, r->cause, strlen(r->cause));
    hs_buf_printf(b, ",\"bytes\":%llu,\"bytes_sent\":%llu,\"duration\":%.3f", (unsigned long long)r->bytes,
                  (unsigned long long)r->bytes_sent, (double)r->duration_ms / 1000.0);
    hs_iovec_t ref = header(r, "referer", 7), ua = header(r, "user-agent", 10);
    KEY(b, "referer");
    json_str(b, ref.base, ref.len);
    KEY(b, "user_agent");
    json_str(b, ua.base, ua.len);
    hs_buf_printf(b, ",\"request_id\":%llu", (unsigned long long)r->request_id);
    size_t pos = 0;
    hs_iovec_t k, v;
    while (next_field(r->fields, &pos, &k, &v)) {
        HS_BUF_LIT(b, ",");
        json_str(b, k.base, k.len);
        HS_BUF_LIT(b, ":");
        json_str(b, v.base, v.len);
    }
    HS_BUF_LIT(b, "}\n");
}

/* ---- templates ---- */

/* A value in a template: escaped as combined escapes quoted fields; absent or empty is "-". */
static void put_value(hs_buf_t *b, const char *s, size_t n)
{
    char tmp[VALUE_MAX * 4 + 8];
    size_t o = esc(tmp, sizeof(tmp), s, HS_MIN(n, (size_t)VALUE_MAX));
    hs_buf_append(b, tmp, o);
}

static void render_template(const hs_logfmt_t *f, const hs_logrec_t *r, hs_buf_t *b)
{
    char tmp[64];
    for (size_t i = 0; i < f->npieces; i++) {
        const piece_t *p = &f->pieces[i];
        switch (p->var) {
        case V_LITERAL: hs_buf_append(b, p->text, p->len); break;
        case V_REMOTE_ADDR: {
            char peer[HS_ADDR_MAX];
            hs_addr_format(r->peer, peer, sizeof(peer), 0);
            put_value(b, peer, strlen(peer));
            break;
        }
        case V_TIME_LOCAL: hs_buf_append(b, r->time_local, strlen(r->time_local)); break;
        case V_TIME_ISO8601:
            iso8601(r->when, tmp);
            hs_buf_append(b, tmp, strlen(tmp));
            break;
        case V_REQUEST: put_value(b, r->request.base, r->request.len); break;
        case V_METHOD: put_value(b, r->method.base, r->method.len); break;
        case V_TARGET: put_value(b, r->target.base, r->target.len); break;
        case V_PATH: put_value(b, r->path.base, r->path.len); break;
        case V_QUERY: put_value(b, r->query.base, r->query.len); break;
        case V_PROTOCOL: {
            const char *proto = protocol(r);
            put_value(b, proto, proto ? 8 : 0);
            break;
        }
        case V_STATUS: hs_buf_printf(b, "%d", r->status); break;
        case V_CAUSE: put_value(b, r->cause, strlen(r->cause)); break;
        case V_BYTES: hs_buf_printf(b, "%llu", (unsigned long long)r->bytes); break;
        case V_BYTES_SENT: hs_buf_printf(b, "%llu", (unsigned long long)r->bytes_sent); break;
        case V_DURATION: hs_buf_printf(b, "%.3f", (double)r->duration_ms / 1000.0); break;
        case V_HOST: put_value(b, r->host.base, r->host.len); break;
        case V_VHOST: put_value(b, r->vhost.base, r->vhost.len); break;
        case V_REQUEST_ID: hs_buf_printf(b, "%llu", (unsigned long long)r->request_id); break;
        case V_FIELDS: {
            char line[2048];
            size_t n = combined_fields(line, sizeof(line), r->fields);
            hs_buf_append(b, line, n);
            break;
        }
        case V_FIELD: {
            size_t pos = 0;
            hs_iovec_t k, v, found = HS_IOV_NULL;
            while (next_field(r->fields, &pos, &k, &v))
                if (hs_iov_eq(k, p->text, p->len))
                    found = v;
            put_value(b, found.base, found.len);
            break;
        }
        case V_HTTP: {
            hs_iovec_t v = header(r, p->text, p->len);
            put_value(b, v.base, v.len);
            break;
        }
        }
    }
    HS_BUF_LIT(b, "\n");
}

void hs_logfmt_render(const hs_logfmt_t *f, const hs_logrec_t *rec, hs_buf_t *out)
{
    switch (f->kind) {
    case F_COMBINED: render_combined(rec, out); break;
    case F_JSON: render_json(rec, out); break;
    default: render_template(f, rec, out); break;
    }
}
