/* statusd — `statusd explain` and `statusd list`: the status-code registry on the command line.
 *
 *   statusd explain 418            one code, as text
 *   statusd explain 404 500 4xx    several codes and whole classes, one block each
 *   statusd explain --json 451     a JSON object (an array for several codes or a class)
 *   statusd explain --causes [502 | connect_timeout …] [--json]
 *                                  the gateway's upstream-failure causes: all, those answering
 *                                  with a code (in any proxy.errors mode), or by id
 *   statusd list [--class 5xx] [--unofficial] [--json]
 *
 * Everything printed comes from the registry (src/http/status.def) and the gateway's cause table
 * (src/http/upstream.def). */
#include "hs/cli.h"
#include "hs/status.h"
#include "hs/json.h"
#include "hs/upstream.h"

#include "../modules/reference/reference.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char usage_text[] = "usage: statusd explain [--json] CODE|CLASS...\n"
                                 "       statusd explain --causes [--json] [CODE|CAUSE...]\n"
                                 "       statusd list [--class CLASS] [--unofficial] [--json]\n"
                                 "\n"
                                 "  explain        describe status codes: one (418), several (404 500) or a whole\n"
                                 "                 class (4xx): meaning, origin, reference, flags, the headers a\n"
                                 "                 response must or should carry, and when statusd sends it\n"
                                 "  --causes       the gateway's upstream-failure causes (a reverse proxy's 502,\n"
                                 "                 503, 504, 52x, 530, 598, 599): every one, the ones answering\n"
                                 "                 with a code in any proxy.errors mode (502), or one by its id\n"
                                 "                 as the access log and Proxy-Status name it (connect_timeout)\n"
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

/* ---- the gateway's causes ---- */

static const char *const mode_names[] = {"standard", "detailed", "timeouts"};

/* Which requests another upstream may get after this cause (RFC 9110 §9.2.2). */
static const char *retry_words(const hs_up_cause_info_t *c)
{
    if (c->flags & HS_UPC_AFTER_HEAD)
        return "never: the response head went to the client already";
    if (c->cause == HS_UP_PROXY_LOOP_DETECTED)
        return "never";
    if (c->flags & HS_UPC_NOT_SENT)
        return "any method (the request did not reach the upstream)";
    return "idempotent methods only (GET, HEAD, PUT, DELETE …; Idempotency-Key when enabled)";
}

static void cause_text(FILE *out, const hs_up_cause_info_t *c)
{
    fprintf(out, "%s\n", c->id);
    if (c->flags & HS_UPC_AFTER_HEAD) {
        fputs("  status:        unchanged (the upstream's); the body ends abortively: no final chunk, never\n"
              "                 padded, logged with truncated=1\n",
              out);
    } else {
        fputs("  status:       ", out);
        for (int m = 0; m < 3; m++)
            fprintf(out, "%s %d %s (%s)", m ? "," : "", c->status[m], hs_status_reason(c->status[m]), mode_names[m]);
        fputs((c->flags & HS_UPC_RETRY_AFTER) ? "; with Retry-After\n" : "\n", out);
    }
    fprintf(out, "  Proxy-Status:  error=%s; details=\"%s\"\n", c->error_type, c->id);
    fprintf(out, "  retried:       %s\n", retry_words(c));
    fprintf(out, "  %s\n", c->summary);
}

static void cause_json(FILE *out, const hs_up_cause_info_t *c, const char *ind)
{
    hs_buf_t b = {0};
    hs_buf_printf(&b, "%s{\"id\": ", ind);
    hs_json_str(&b, c->id, strlen(c->id));
    HS_BUF_LIT(&b, ", \"error_type\": ");
    hs_json_str(&b, c->error_type, strlen(c->error_type));
    if (c->flags & HS_UPC_AFTER_HEAD)
        HS_BUF_LIT(&b, ", \"status\": null");
    else
        hs_buf_printf(&b, ", \"status\": {\"standard\": %d, \"detailed\": %d, \"timeouts\": %d}", c->status[0],
                      c->status[1], c->status[2]);
    hs_buf_printf(&b, ", \"retry_after\": %s, \"not_sent\": %s, \"timeout\": %s, \"after_head\": %s, \"summary\": ",
                  (c->flags & HS_UPC_RETRY_AFTER) ? "true" : "false", (c->flags & HS_UPC_NOT_SENT) ? "true" : "false",
                  (c->flags & HS_UPC_TIMEOUT) ? "true" : "false", (c->flags & HS_UPC_AFTER_HEAD) ? "true" : "false");
    hs_json_str(&b, c->summary, strlen(c->summary));
    HS_BUF_LIT(&b, "}");
    put_buf(out, &b);
}

/* Does an operand (a code or a cause id) select this cause? */
static bool cause_selected(const hs_up_cause_info_t *c, const char *a)
{
    int code = 0;
    if (strlen(a) == 3 && a[0] >= '1' && a[0] <= '5' && a[1] >= '0' && a[1] <= '9' && a[2] >= '0' && a[2] <= '9')
        code = (a[0] - '0') * 100 + (a[1] - '0') * 10 + (a[2] - '0');
    if (code)
        return c->status[0] == code || c->status[1] == code || c->status[2] == code;
    return strcmp(c->id, a) == 0;
}

static int explain_causes(int argc, char **argv, bool json)
{
    size_t count;
    const hs_up_cause_info_t *table = hs_up_cause_table(&count);
    int operands = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        operands++;
        bool any = false;
        for (size_t k = 0; k < count && !any; k++)
            any = cause_selected(&table[k], argv[i]);
        if (!any) {
            fprintf(stderr,
                    "statusd: no gateway cause answers with or is called '%s' (see 'statusd explain --causes')\n",
                    argv[i]);
            return 2;
        }
    }
    size_t n = 0;
    if (json)
        fputs("[", stdout);
    for (size_t k = 0; k < count; k++) {
        bool pick = operands == 0;
        for (int i = 1; i < argc && !pick; i++)
            pick = argv[i][0] != '-' && cause_selected(&table[k], argv[i]);
        if (!pick)
            continue;
        if (json) {
            fputs(n ? ",\n" : "\n", stdout);
            cause_json(stdout, &table[k], "  ");
        } else {
            if (n)
                fputc('\n', stdout);
            cause_text(stdout, &table[k]);
        }
        n++;
    }
    if (json)
        fputs(n ? "\n]\n" : "]\n", stdout);
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
        if (causes)
            continue; /* checked by explain_causes */
        operands++;
        if (parse_class(a, false)) {
            classes++;
        } else if (!parse_code(a)) {
            fprintf(stderr, "statusd: unknown status code '%s' (see 'statusd list')\n", a);
            unknown++;
        }
    }
    if (causes)
        return explain_causes(argc, argv, json);
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
