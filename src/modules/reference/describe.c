/* statusd — the registry in words: the flag and header vocabulary, the text block of
 * `statusd explain` and its JSON object. Used by the /codes pages and by src/cli/explain.c, so
 * the browser and the command line never disagree. Everything is written into an hs_buf_t. */
#include "reference.h"

#include "hs/http.h" /* hs_json_str */

#define WRAP_COLS 78  /* text output never goes past this column */
#define LABEL_COLS 14 /* width of "Recommended:  " */

const hs__ref_flag_t hs__ref_flags[] = {
    {HS_SF_INTERIM, "interim", "interim (never the final response)"},
    {HS_SF_NOBODY, "nobody", "never has content"},
    {HS_SF_CACHEABLE, "cacheable", "cacheable by default"},
    {HS_SF_CLOSE, "close", "closes the connection"},
    {HS_SF_DEPRECATED, "deprecated", "deprecated"},
    {HS_SF_RESERVED, "reserved", "reserved"},
    {HS_SF_HISTORIC, "historic", "historic (no longer used by its vendor)"},
    {HS_SF_UNOFFICIAL, "unofficial", "unofficial (not in the IANA registry)"},
    {HS_SF_LOGONLY, "log_only", "log only (never sent on the wire)"},
};
const size_t hs__ref_num_flags = HS_ARRAY_SIZE(hs__ref_flags);

const char *hs__ref_header_label(uint32_t bit)
{
    if (bit == HS_RH_CONNECTION_CLOSE)
        return "Connection: close";
    return hs_status_header_name(bit);
}

const char *hs__ref_class_words(int cls)
{
    static const char *const words[] = {
        "", "informational", "successful", "redirection", "client error", "server error"};
    return cls >= 1 && cls <= 5 ? words[cls] : "unknown";
}

size_t hs__ref_utf8_cols(const char *s, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cols++;
    return cols;
}

void hs__ref_flags_words(hs_buf_t *b, uint32_t mask)
{
    bool any = false;
    for (size_t i = 0; i < hs__ref_num_flags; i++) {
        if (!(mask & hs__ref_flags[i].bit))
            continue;
        hs_buf_printf(b, "%s%s", any ? ", " : "", hs__ref_flags[i].text);
        any = true;
    }
    if (!any)
        HS_BUF_LIT(b, "none");
}

void hs__ref_headers_words(hs_buf_t *b, uint32_t mask)
{
    bool any = false;
    for (uint32_t bit = 1; bit && bit <= mask; bit <<= 1) {
        const char *name = (mask & bit) ? hs__ref_header_label(bit) : NULL;
        if (!name)
            continue;
        hs_buf_printf(b, "%s%s", any ? ", " : "", name);
        any = true;
    }
    if (!any)
        HS_BUF_LIT(b, "none");
}

/* ---- text ---- */

static void spaces(hs_buf_t *b, size_t n)
{
    while (n--)
        HS_BUF_LIT(b, " ");
}

/* Append `text` word by word on a line where `col` columns are already used; lines break before
 * WRAP_COLS and continue after `indent` spaces. Ends the last line. A word wider than the line
 * goes on a line of its own. */
static void put_wrapped(hs_buf_t *b, const char *text, size_t col, size_t indent)
{
    bool line_has_words = false;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " \n\t");
        size_t w = hs__ref_utf8_cols(p, len);
        if (line_has_words && col + 1 + w > WRAP_COLS) {
            HS_BUF_LIT(b, "\n");
            spaces(b, indent);
            col = indent;
            line_has_words = false;
        }
        if (line_has_words) {
            HS_BUF_LIT(b, " ");
            col++;
        }
        hs_buf_append(b, p, len);
        col += w;
        line_has_words = true;
        p += len;
    }
    HS_BUF_LIT(b, "\n");
}

/* "Label:" padded to LABEL_COLS, then `text` wrapped under itself. */
static void put_field(hs_buf_t *b, const char *label, const char *text)
{
    size_t n = strlen(label);
    hs_buf_append(b, label, n);
    spaces(b, n < LABEL_COLS ? LABEL_COLS - n : 1);
    put_wrapped(b, text, n < LABEL_COLS ? LABEL_COLS : n + 1, LABEL_COLS);
}

/* put_field for a value built in a scratch buffer. */
static void put_field_buf(hs_buf_t *b, const char *label, hs_buf_t *value)
{
    HS_BUF_LIT(value, "\0");
    put_field(b, label, value->base);
    value->len = 0;
}

void hs__ref_text(hs_buf_t *b, const hs_status_info_t *s)
{
    hs_buf_t v = {0};
    int cls = s->code / 100;

    hs_buf_printf(b, "%d %s\n", s->code, s->reason);
    hs_buf_printf(&v, "%dxx (%s)", cls, hs__ref_class_words(cls));
    put_field_buf(b, "Class:", &v);
    put_field(b, "Origin:", hs_status_origin_name(s->origin));
    put_field(b, "Reference:", s->ref);
    hs__ref_flags_words(&v, s->flags);
    put_field_buf(b, "Flags:", &v);
    hs__ref_headers_words(&v, s->required);
    put_field_buf(b, "Required:", &v);
    hs__ref_headers_words(&v, s->recommended);
    put_field_buf(b, "Recommended:", &v);
    put_field(b, "Summary:", s->summary);
    HS_BUF_LIT(b, "\n");
    put_wrapped(b, s->explanation, 0, 0);
    hs_buf_free(&v);
}

/* ---- JSON ---- */

static void json_cstr(hs_buf_t *b, const char *s)
{
    hs_json_str(b, s, strlen(s));
}

static void json_headers(hs_buf_t *b, uint32_t mask)
{
    bool first = true;
    HS_BUF_LIT(b, "[");
    for (uint32_t bit = 1; bit && bit <= mask; bit <<= 1) {
        const char *name = (mask & bit) ? hs__ref_header_label(bit) : NULL;
        if (!name)
            continue;
        if (!first)
            HS_BUF_LIT(b, ", ");
        json_cstr(b, name);
        first = false;
    }
    HS_BUF_LIT(b, "]");
}

void hs__ref_json(hs_buf_t *b, const hs_status_info_t *s, const char *ind)
{
    hs_buf_printf(b, "%s{\n", ind);
    hs_buf_printf(b, "%s  \"code\": %d,\n", ind, s->code);
    hs_buf_printf(b, "%s  \"reason\": ", ind);
    json_cstr(b, s->reason);
    hs_buf_printf(b, ",\n%s  \"symbol\": ", ind);
    json_cstr(b, s->symbol);
    hs_buf_printf(b, ",\n%s  \"class\": \"%dxx\",\n", ind, s->code / 100);
    hs_buf_printf(b, "%s  \"origin\": ", ind);
    json_cstr(b, hs_status_origin_name(s->origin));
    hs_buf_printf(b, ",\n%s  \"reference\": ", ind);
    json_cstr(b, s->ref);
    hs_buf_printf(b, ",\n%s  \"flags\": [", ind);
    bool first = true;
    for (size_t i = 0; i < hs__ref_num_flags; i++) {
        if (!(s->flags & hs__ref_flags[i].bit))
            continue;
        if (!first)
            HS_BUF_LIT(b, ", ");
        json_cstr(b, hs__ref_flags[i].json);
        first = false;
    }
    hs_buf_printf(b, "],\n%s  \"required_headers\": ", ind);
    json_headers(b, s->required);
    hs_buf_printf(b, ",\n%s  \"recommended_headers\": ", ind);
    json_headers(b, s->recommended);
    hs_buf_printf(b, ",\n%s  \"summary\": ", ind);
    json_cstr(b, s->summary);
    hs_buf_printf(b, ",\n%s  \"explanation\": ", ind);
    json_cstr(b, s->explanation);
    hs_buf_printf(b, "\n%s}", ind);
}
