/* statusd — `statusd explain` and `statusd list`: the status-code registry on the command line.
 *
 *   statusd explain 418            one code, as text
 *   statusd explain 404 500 4xx    several codes and whole classes, one block each
 *   statusd explain --json 451     a JSON object (an array for several codes or a class)
 *   statusd list [--class 5xx] [--unofficial] [--json]
 *
 * Everything printed comes from the registry (src/http/status.def). */
#include "hs/cli.h"
#include "hs/http.h"
#include "hs/json.h"
#include "hs/status.h"

#include "../modules/reference/reference.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] = "usage: statusd explain [--json] CODE|CLASS...\n"
                                 "       statusd explain --causes [--json] [CODE|CLASS...]\n"
                                 "       statusd list [--class CLASS] [--unofficial] [--json]\n"
                                 "\n"
                                 "  explain        describe status codes: one (418), several (404 500) or a whole\n"
                                 "                 class (4xx): meaning, origin, reference, flags, the headers a\n"
                                 "                 response must or should carry, and when statusd sends it\n"
                                 "  list           one line per code the registry knows\n"
                                 "\n"
                                 "  --causes       what makes statusd send these codes (every cause without\n"
                                 "                 a code): the cause id the access log and /metrics use,\n"
                                 "                 the directive that changes it, and what happened\n"
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

/* ---- one code, as text or JSON ----
 * The words and the JSON object come from src/modules/reference/describe.c, which the /codes
 * pages use too, so the command line and the browser say the same thing. */

static void put_buf(FILE *out, hs_buf_t *b)
{
    if (b->len)
        fwrite(b->base, 1, b->len, out);
    hs_buf_free(b);
}

static void explain_text(FILE *out, const hs_status_info_t *s)
{
    hs_buf_t b = {0};
    hs__ref_text(&b, s);
    put_buf(out, &b);
}

/* One object; `ind` is the indentation of its braces. */
static void explain_json(FILE *out, const hs_status_info_t *s, const char *ind)
{
    hs_buf_t b = {0};
    hs__ref_json(&b, s, ind);
    put_buf(out, &b);
}

static void spaces(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
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

/* ---- explain --causes ----
 * From the cause registry (include/hs/cause.h): the engine's causes, the gateway's, the
 * modules', and each status's default (used when nothing more precise is known). */

static bool cause_has_status(const hs_cause_info_t *c, int code, int cls)
{
    int st[3] = {c->status, c->also[0], c->also[1]};
    for (int i = 0; i < 3; i++)
        if (st[i] && (code ? st[i] == code : st[i] / 100 == cls))
            return true;
    return false;
}

static bool cause_wanted(const hs_cause_info_t *c, int argc, char **argv)
{
    bool any = false;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        any = true;
        if (cause_has_status(c, parse_code(argv[i]), parse_class(argv[i], false)))
            return true;
    }
    return !any;
}

static void cause_statuses(hs_buf_t *b, const hs_cause_info_t *c)
{
    if (!c->status) {
        HS_BUF_LIT(b, "any");
        return;
    }
    hs_buf_printf(b, "%d", c->status);
    for (int i = 0; i < 2; i++)
        if (c->also[i])
            hs_buf_printf(b, "/%d", c->also[i]);
}

/* By status (any-status causes last), then in the registry's order: precise causes before the
 * status's default. */
static int by_status(const void *a, const void *b)
{
    hs_cause_t x = *(const hs_cause_t *)a, y = *(const hs_cause_t *)b;
    unsigned sx = hs_cause_get(x)->status ? hs_cause_get(x)->status : 1000;
    unsigned sy = hs_cause_get(y)->status ? hs_cause_get(y)->status : 1000;
    if (sx != sy)
        return sx < sy ? -1 : 1;
    if (hs_cause_is_default(x) != hs_cause_is_default(y))
        return hs_cause_is_default(x) ? 1 : -1;
    return x < y ? -1 : x > y;
}

static int explain_causes(int argc, char **argv, bool json)
{
    hs_modules_register_causes(hs_modules);
    hs_cause_t n = hs_cause_count(), list[HS_CAUSE_MAX];
    size_t width = 0, count = 0;
    for (hs_cause_t i = 1; i < n; i++)
        if (cause_wanted(hs_cause_get(i), argc, argv)) {
            width = HS_MAX(width, strlen(hs_cause_get(i)->id));
            list[count++] = i;
        }
    qsort(list, count, sizeof(list[0]), by_status);
    printer_t pr = {.out = stdout, .json = json, .array = true};
    print_start(&pr);
    for (size_t k = 0; k < count; k++) {
        hs_cause_t i = list[k];
        const hs_cause_info_t *c = hs_cause_get(i);
        bool dflt = hs_cause_is_default(i);
        const char *dir = c->directive && c->directive[0] ? c->directive : NULL;
        hs_buf_t b = {0};
        if (json) {
            HS_BUF_LIT(&b, "  {\"id\": ");
            hs_json_str(&b, c->id, strlen(c->id));
            hs_buf_printf(&b, ", \"status\": %d, \"also\": [", c->status);
            for (int a = 0, m = 0; a < 2; a++)
                if (c->also[a])
                    hs_buf_printf(&b, "%s%d", m++ ? ", " : "", c->also[a]);
            HS_BUF_LIT(&b, "], \"directive\": ");
            if (dir)
                hs_json_str(&b, dir, strlen(dir));
            else
                HS_BUF_LIT(&b, "null");
            hs_buf_printf(&b, ", \"default\": %s, \"summary\": ", dflt ? "true" : "false");
            hs_json_str(&b, c->summary ? c->summary : "", c->summary ? strlen(c->summary) : 0);
            HS_BUF_LIT(&b, "}");
            fputs(pr.n ? ",\n" : "\n", stdout);
        } else {
            hs_buf_t st = {0};
            cause_statuses(&st, c);
            hs_buf_printf(&b, "%-7.*s  %-*s  %s%s%s%s\n", (int)st.len, st.base, (int)width, c->id,
                          dflt ? "(default) " : "", c->summary ? c->summary : "", dir ? " Changed by: " : "",
                          dir ? dir : "");
            hs_buf_free(&st);
        }
        put_buf(stdout, &b);
        pr.n++;
    }
    print_end(&pr);
    return finish();
}

/* ---- explain ---- */

int hs_cli_explain(int argc, char **argv)
{
    bool json = false, options_done = false, causes = false;
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
            } else if (strcmp(a, "--causes") == 0) {
                causes = true;
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
    if (causes)
        return explain_causes(argc, argv, json);
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
        size_t w = hs__ref_utf8_cols(table[k].reason, strlen(table[k].reason));
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
            spaces(stdout, reason_cols - hs__ref_utf8_cols(s->reason, strlen(s->reason)));
            printf("  — %s\n", s->summary);
        }
    }
#undef LISTED
    if (json)
        print_end(&pr);
    return finish();
}
