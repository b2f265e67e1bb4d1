/* statusd — `statusd explain` and `statusd list`: the status-code registry on the command line.
 *
 *   statusd explain 418            one code, as text
 *   statusd explain 404 500 4xx    several codes and whole classes, one block each
 *   statusd explain --json 451     a JSON object (an array for several codes or a class)
 *   statusd list [--class 5xx] [--unofficial] [--json]
 *
 * Everything printed comes from the registry (src/http/status.def). */
#include "hs/cli.h"
#include "hs/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define WRAP_COLS 78  /* text output never goes past this column */
#define LABEL_COLS 14 /* width of "Recommended:  " */

static const char usage_text[] = "usage: statusd explain [--json] CODE|CLASS...\n"
                                 "       statusd list [--class CLASS] [--unofficial] [--json]\n"
                                 "\n"
                                 "  explain        describe status codes: one (418), several (404 500) or a whole\n"
                                 "                 class (4xx): meaning, origin, reference, flags, the headers a\n"
                                 "                 response must or should carry, and when statusd sends it\n"
                                 "  list           one line per code the registry knows\n"
                                 "\n"
                                 "  --json         print JSON: an object for one code, otherwise an array\n"
                                 "  --class CLASS  list only one class: 1xx, 2xx, 3xx, 4xx or 5xx\n"
                                 "  --unofficial   list only codes that are not in the IANA registry\n"
                                 "  -h, --help     show this help\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("statusd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    fputs(usage_text, stderr);
    return 2;
}

/* 0 on success, 1 (with a message) when stdout could not be written. */
static int finish(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "statusd: cannot write the output: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

/* ---- operands ---- */

/* "4xx" / "4XX" (and "4" when `bare` is set) → 4; anything else → 0. Only classes 1..5 exist. */
static int parse_class(const char *s, bool bare)
{
    if (s[0] < '1' || s[0] > '5')
        return 0;
    if (s[1] == '\0')
        return bare ? s[0] - '0' : 0;
    if ((s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X') && s[3] == '\0')
        return s[0] - '0';
    return 0;
}

/* Exactly three digits and registered → the code; anything else → 0. */
static int parse_code(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    if (s[3] != '\0')
        return 0;
    int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return hs_status_get(code) ? code : 0;
}

/* ---- words for flags and headers ---- */

static const struct {
    uint32_t bit;
    const char *json; /* machine name */
    const char *text; /* in words */
} flag_names[] = {
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

/* Header named by one HS_RH_* bit, as shown to people (the Connection bit means "close"). */
static const char *header_label(uint32_t bit)
{
    if (bit == HS_RH_CONNECTION_CLOSE)
        return "Connection: close";
    return hs_status_header_name(bit);
}

static const char *class_words(int cls)
{
    static const char *const words[] = {
        "", "informational", "successful", "redirection", "client error", "server error"};
    return cls >= 1 && cls <= 5 ? words[cls] : "unknown";
}

/* ---- text output ---- */

/* Display columns of a UTF-8 string (every code point counts as one column). */
static size_t utf8_cols(const char *s, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cols++;
    return cols;
}

static void spaces(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
}

/* Print `text` word by word on a line where `col` columns are already used; lines break before
 * WRAP_COLS and continue after `indent` spaces. Ends the last line. A word wider than the line
 * is printed on a line of its own. */
static void put_wrapped(FILE *out, const char *text, size_t col, size_t indent)
{
    bool line_has_words = false;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, " \n\t");
        size_t w = utf8_cols(p, len);
        if (line_has_words && col + 1 + w > WRAP_COLS) {
            fputc('\n', out);
            spaces(out, indent);
            col = indent;
            line_has_words = false;
        }
        if (line_has_words) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, len, out);
        col += w;
        line_has_words = true;
        p += len;
    }
    fputc('\n', out);
}

/* "Label:" padded to LABEL_COLS, then `text` wrapped under itself. */
static void put_field(FILE *out, const char *label, const char *text)
{
    fputs(label, out);
    size_t n = strlen(label);
    spaces(out, n < LABEL_COLS ? LABEL_COLS - n : 1);
    put_wrapped(out, text, n < LABEL_COLS ? LABEL_COLS : n + 1, LABEL_COLS);
}

/* Join the words for every bit of `mask` with ", " into buf; "none" when the mask is empty. */
static const char *flags_text(uint32_t mask, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
        if (!(mask & flag_names[i].bit))
            continue;
        int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", flag_names[i].text);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
    }
    return len ? buf : "none";
}

static const char *headers_text(uint32_t mask, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (uint32_t bit = 1; bit && bit <= mask; bit <<= 1) {
        const char *name = (mask & bit) ? header_label(bit) : NULL;
        if (!name)
            continue;
        int n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", name);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
    }
    return len ? buf : "none";
}

static void explain_text(FILE *out, const hs_status_info_t *s)
{
    char buf[512];
    int cls = s->code / 100;

    fprintf(out, "%d %s\n", s->code, s->reason);
    snprintf(buf, sizeof(buf), "%dxx (%s)", cls, class_words(cls));
    put_field(out, "Class:", buf);
    put_field(out, "Origin:", hs_status_origin_name(s->origin));
    put_field(out, "Reference:", s->ref);
    put_field(out, "Flags:", flags_text(s->flags, buf, sizeof(buf)));
    put_field(out, "Required:", headers_text(s->required, buf, sizeof(buf)));
    put_field(out, "Recommended:", headers_text(s->recommended, buf, sizeof(buf)));
    put_field(out, "Summary:", s->summary);
    fputc('\n', out);
    put_wrapped(out, s->explanation, 0, 0);
}

/* ---- JSON output ---- */

/* A JSON string: quotes, backslashes and control characters escaped; UTF-8 passes through. */
static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void json_headers(FILE *out, uint32_t mask)
{
    bool first = true;
    fputc('[', out);
    for (uint32_t bit = 1; bit && bit <= mask; bit <<= 1) {
        const char *name = (mask & bit) ? header_label(bit) : NULL;
        if (!name)
            continue;
        if (!first)
            fputs(", ", out);
        json_str(out, name);
        first = false;
    }
    fputc(']', out);
}

/* One object; `ind` is the indentation of its braces. */
static void explain_json(FILE *out, const hs_status_info_t *s, const char *ind)
{
    fprintf(out, "%s{\n", ind);
    fprintf(out, "%s  \"code\": %d,\n", ind, s->code);
    fprintf(out, "%s  \"reason\": ", ind);
    json_str(out, s->reason);
    fprintf(out, ",\n%s  \"symbol\": ", ind);
    json_str(out, s->symbol);
    fprintf(out, ",\n%s  \"class\": \"%dxx\",\n", ind, s->code / 100);
    fprintf(out, "%s  \"origin\": ", ind);
    json_str(out, hs_status_origin_name(s->origin));
    fprintf(out, ",\n%s  \"reference\": ", ind);
    json_str(out, s->ref);
    fprintf(out, ",\n%s  \"flags\": [", ind);
    bool first = true;
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
        if (!(s->flags & flag_names[i].bit))
            continue;
        if (!first)
            fputs(", ", out);
        json_str(out, flag_names[i].json);
        first = false;
    }
    fprintf(out, "],\n%s  \"required_headers\": ", ind);
    json_headers(out, s->required);
    fprintf(out, ",\n%s  \"recommended_headers\": ", ind);
    json_headers(out, s->recommended);
    fprintf(out, ",\n%s  \"summary\": ", ind);
    json_str(out, s->summary);
    fprintf(out, ",\n%s  \"explanation\": ", ind);
    json_str(out, s->explanation);
    fprintf(out, "\n%s}", ind);
}

/* Streams either a single JSON value or the elements of one array. */
typedef struct {
    FILE *out;
    bool json, array;
    size_t n;
} printer_t;

static void print_start(printer_t *pr)
{
    if (pr->json && pr->array)
        fputs("[", pr->out);
}

static void print_one(printer_t *pr, const hs_status_info_t *s)
{
    if (pr->json) {
        if (pr->array)
            fputs(pr->n ? ",\n" : "\n", pr->out);
        explain_json(pr->out, s, pr->array ? "  " : "");
    } else {
        if (pr->n)
            fputc('\n', pr->out);
        explain_text(pr->out, s);
    }
    pr->n++;
}

static void print_end(printer_t *pr)
{
    if (pr->json)
        fputs(pr->array ? (pr->n ? "\n]\n" : "]\n") : "\n", pr->out);
}

/* ---- explain ---- */

int hs_cli_explain(int argc, char **argv)
{
    bool json = false, options_done = false;
    int operands = 0, classes = 0, unknown = 0;

    /* First pass: options, and check every operand before printing anything. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0) {
                options_done = true;
            } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
                fputs(usage_text, stdout);
                return finish();
            } else if (strcmp(a, "--json") == 0) {
                json = true;
            } else {
                return usage_error("unknown option '%s'", a);
            }
            continue;
        }
        operands++;
        if (parse_class(a, false)) {
            classes++;
        } else if (!parse_code(a)) {
            fprintf(stderr, "statusd: unknown status code '%s' (see 'statusd list')\n", a);
            unknown++;
        }
    }
    if (unknown)
        return 2;
    if (operands == 0)
        return usage_error("%s: which status code? e.g. 'statusd explain 404' or 'statusd explain 4xx'",
                           argc > 0 ? argv[0] : "explain");

    size_t count;
    const hs_status_info_t *table = hs_status_table(&count);
    printer_t pr = {.out = stdout, .json = json, .array = operands > 1 || classes > 0};
    print_start(&pr);
    options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && a[0] == '-' && a[1] != '\0') {
            options_done = strcmp(a, "--") == 0;
            continue;
        }
        int cls = parse_class(a, false);
        if (cls) {
            for (size_t k = 0; k < count; k++)
                if (table[k].code / 100 == cls)
                    print_one(&pr, &table[k]);
        } else {
            print_one(&pr, hs_status_get(parse_code(a)));
        }
    }
    print_end(&pr);
    return finish();
}

/* ---- list ---- */

int hs_cli_list(int argc, char **argv)
{
    bool json = false, unofficial = false;
    int cls = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return finish();
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--unofficial") == 0) {
            unofficial = true;
        } else if (strcmp(a, "--class") == 0 || strncmp(a, "--class=", 8) == 0) {
            const char *v = a[7] == '=' ? a + 8 : NULL;
            if (!v) {
                if (i + 1 >= argc)
                    return usage_error("%s needs a class such as 4xx", a);
                v = argv[++i];
            }
            cls = parse_class(v, true);
            if (!cls) {
                fprintf(stderr, "statusd: unknown status class '%s' (expected 1xx, 2xx, 3xx, 4xx or 5xx)\n", v);
                return 2;
            }
        } else if (a[0] == '-') {
            return usage_error("unknown option '%s'", a);
        } else {
            if (parse_class(a, false))
                return usage_error("unexpected argument '%s' (to list one class: --class %s)", a, a);
            return usage_error("unexpected argument '%s' (to describe a code: statusd explain %s)", a, a);
        }
    }

    size_t count;
    const hs_status_info_t *table = hs_status_table(&count);
#define LISTED(s) (!(cls && (s)->code / 100 != cls) && !(unofficial && !((s)->flags & HS_SF_UNOFFICIAL)))
    size_t reason_cols = 0; /* align the summaries of the codes listed */
    for (size_t k = 0; k < count; k++) {
        size_t w = utf8_cols(table[k].reason, strlen(table[k].reason));
        if (LISTED(&table[k]) && w > reason_cols)
            reason_cols = w;
    }

    printer_t pr = {.out = stdout, .json = true, .array = true};
    if (json)
        print_start(&pr);
    for (size_t k = 0; k < count; k++) {
        const hs_status_info_t *s = &table[k];
        if (!LISTED(s))
            continue;
        if (json) {
            print_one(&pr, s);
        } else {
            printf("%d  %s", s->code, s->reason);
            spaces(stdout, reason_cols - utf8_cols(s->reason, strlen(s->reason)));
            printf("  — %s\n", s->summary);
        }
    }
#undef LISTED
    if (json)
        print_end(&pr);
    return finish();
}
