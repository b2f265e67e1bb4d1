/* statusd — the /codes reference: what every status code of the registry means, served by
 * statusd itself.
 *
 *   GET /codes            every code, grouped by class; ?class=4xx keeps one class
 *   GET /codes/{code}     one code: reason, class, origin and reference, flags, required and
 *                         recommended headers, summary, explanation, the neighbouring codes
 *
 * Mounted at /codes whatever --root, --api or --api-prefix say: this module comes first in
 * src/modules/modules.c and declines every other path.
 *
 * Representations (proactive negotiation, RFC 9110 §12.5.1, with hs_negotiate_type): text/html
 * for browsers (no script, one small inline stylesheet), application/json (the objects of
 * `statusd explain --json`; the index is the array of `statusd list --json`), text/plain (the
 * blocks of `statusd explain`). On ties — Accept absent or `* / *` — text/plain wins, as for the
 * error pages. Every negotiated answer carries Vary: Accept (RFC 9110 §12.5.5); when Accept
 * rules out all three the answer is 406 naming them (§15.5.7).
 *
 * A code the registry does not know is 404 with suggestions: the nearest registered codes of
 * the same class, codes whose reason phrase matches a word, or the class indexes. Only GET and
 * HEAD are served: other methods get 405 with Allow, OPTIONS gets 204 with Allow (§9.3.7).
 *
 * Everything comes from the registry (src/http/status.def) through describe.c; nothing is
 * read from disk, so the pages work the same after the privilege drop. */
#define _GNU_SOURCE
#include "reference.h"

#include "hs/http.h"

#include <stdlib.h>

#define ALLOW "GET, HEAD, OPTIONS"
#define MAX_SUGGEST 6

/* The order decides ties (hs_negotiate_type prefers the earlier type). */
enum { F_TEXT, F_HTML, F_JSON, F_COUNT };
static const char *const types[F_COUNT] = {"text/plain", "text/html", "application/json"};
static const char *const ctypes[F_COUNT] = {"text/plain; charset=utf-8", "text/html; charset=utf-8",
                                            "application/json"};

/* ---- small helpers ---- */

/* HTML text and attribute escaping (the five characters that matter). */
static void esc(hs_buf_t *b, const char *s)
{
    hs_html_escape(b, s, strlen(s));
}

static int send_buf(hs_req_t *req, int status, hs_buf_t *b, int fmt)
{
    char *p = hs_arena_alloc(&req->arena, b->len ? b->len : 1);
    if (b->len)
        memcpy(p, b->base, b->len);
    hs_res_body(req, p, b->len);
    hs_buf_free(b);
    req->content_type = ctypes[fmt];
    return hs_res_send(req, status);
}

/* "4xx", "4XX" or "4" → 4; anything else → 0. */
static int parse_class(hs_iovec_t v)
{
    if (v.len == 0 || v.base[0] < '1' || v.base[0] > '5')
        return 0;
    if (v.len == 1)
        return v.base[0] - '0';
    if (v.len == 3 && (v.base[1] | 0x20) == 'x' && (v.base[2] | 0x20) == 'x')
        return v.base[0] - '0';
    return 0;
}

/* Three digits → their value; anything else → -1. */
static int parse_three_digits(hs_iovec_t v)
{
    if (v.len != 3)
        return -1;
    int n = 0;
    for (size_t i = 0; i < 3; i++) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return -1;
        n = n * 10 + (v.base[i] - '0');
    }
    return n;
}

/* The `class` query parameter: 0 when absent, 1..5 for a class, -1 when present but not a
 * class. Other parameters are ignored. */
static int class_param(const hs_req_t *req)
{
    size_t pos = 0;
    hs_iovec_t k, v;
    while (hs_form_next(req->p.query, &pos, &k, &v)) {
        if (v.base && HS_IOV_EQ(k, "class")) {
            int cls = parse_class(v);
            return cls ? cls : -1;
        }
    }
    return 0;
}

/* The registered codes just before and after `s` in the table, or NULL. */
static void neighbours(const hs_status_info_t *s, const hs_status_info_t **prev, const hs_status_info_t **next)
{
    size_t count;
    const hs_status_info_t *table = hs_status_table(&count);
    size_t i = (size_t)(s - table);
    *prev = i > 0 ? &table[i - 1] : NULL;
    *next = i + 1 < count ? &table[i + 1] : NULL;
}

/* ---- HTML ---- */

static const char stylesheet[] =
    ":root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;"
    "--link:#0550ae;--tag:#fff1e5;--tagfg:#8a3500}"
    "@media(prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--soft:#151b23;"
    "--link:#4493f8;--tag:#3d2a15;--tagfg:#f0b070}body{background:#0d1117}}"
    "body{margin:0;color:var(--fg);font:16px/1.6 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}"
    "main{max-width:52rem;margin:0 auto;padding:1.5rem 1.25rem 3rem}"
    "a{color:var(--link);text-underline-offset:2px}"
    "h1{font-size:2rem;line-height:1.25;margin:.5rem 0}"
    "h2{font-size:1.25rem;margin:2rem 0 .5rem;padding-bottom:.3rem;border-bottom:1px solid var(--line)}"
    ".num{font-variant-numeric:tabular-nums;font-weight:700}"
    ".lead{font-size:1.15rem;margin:.25rem 0 1rem}"
    ".muted,nav.crumbs{color:var(--muted);font-weight:400}"
    "nav.crumbs{font-size:.9rem}"
    "nav.classes{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}"
    "nav.classes a{padding:.15rem .7rem;border:1px solid var(--line);border-radius:1rem;text-decoration:none}"
    "nav.classes a[aria-current]{background:var(--soft);color:var(--fg);font-weight:600}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;vertical-align:top;padding:.4rem .6rem;border-bottom:1px solid var(--line)}"
    "th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}"
    "td:first-child{width:3.5rem}td:nth-child(2){width:17rem}"
    ".tag{display:inline-block;font-size:.75rem;line-height:1.5;padding:0 .45rem;margin-left:.3rem;"
    "border-radius:.7rem;background:var(--tag);color:var(--tagfg);white-space:nowrap}"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.4rem 1.5rem;margin:1.25rem 0;"
    "padding:1rem 1.25rem;background:var(--soft);border:1px solid var(--line);border-radius:.5rem}"
    "dl.facts div{display:contents}dt{font-weight:600}dd{margin:0}"
    "code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}"
    "nav.pager{display:flex;justify-content:space-between;gap:1rem;margin-top:2.5rem;padding-top:1rem;"
    "border-top:1px solid var(--line)}"
    "footer{margin-top:2rem;font-size:.85rem;color:var(--muted)}";

static void html_start(hs_buf_t *b, const char *title)
{
    HS_BUF_LIT(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    esc(b, title);
    HS_BUF_LIT(b, "</title>\n<style>");
    HS_BUF_LIT(b, stylesheet);
    HS_BUF_LIT(b, "</style>\n</head>\n<body>\n<main>\n");
}

static void html_end(hs_buf_t *b, bool formats_note)
{
    if (formats_note)
        HS_BUF_LIT(b, "<footer>The same information is available as JSON (<code>Accept: application/json</code>) "
                      "and as plain text (<code>Accept: text/plain</code>), and on the command line with "
                      "<code>statusd explain</code>.</footer>\n");
    HS_BUF_LIT(b, "</main>\n</body>\n</html>\n");
}

/* Badges after a reason phrase: the origin of an unofficial code, and the flags that warn. */
static void html_tags(hs_buf_t *b, const hs_status_info_t *s)
{
    if (s->flags & HS_SF_UNOFFICIAL) {
        HS_BUF_LIT(b, " <span class=\"tag\" title=\"unofficial: not in the IANA registry\">");
        esc(b, hs_status_origin_name(s->origin));
        HS_BUF_LIT(b, "</span>");
    }
    if (s->flags & HS_SF_DEPRECATED)
        HS_BUF_LIT(b, " <span class=\"tag\">deprecated</span>");
    if (s->flags & HS_SF_RESERVED)
        HS_BUF_LIT(b, " <span class=\"tag\">reserved</span>");
    if (s->flags & HS_SF_HISTORIC)
        HS_BUF_LIT(b, " <span class=\"tag\">historic</span>");
    if (s->flags & HS_SF_LOGONLY)
        HS_BUF_LIT(b, " <span class=\"tag\" title=\"logged, never sent on the wire\">log only</span>");
}

/* The reference, with every "RFC NNNN" (and its "§X.Y" when present) linked to the RFC Editor. */
static void html_reference(hs_buf_t *b, const char *ref)
{
    const char *p = ref;
    while (*p) {
        const char *rfc = strstr(p, "RFC ");
        if (!rfc || rfc[4] < '0' || rfc[4] > '9') {
            esc(b, p);
            return;
        }
        hs_html_escape(b, p, (size_t)(rfc - p));
        const char *num = rfc + 4, *e = num;
        while (*e >= '0' && *e <= '9')
            e++;
        int num_len = (int)(e - num);
        const char *sec = NULL, *sec_end = NULL;
        if (strncmp(e, " \xc2\xa7", 3) == 0 && e[3] >= '0' && e[3] <= '9') { /* " §" */
            sec = sec_end = e + 3;
            while ((*sec_end >= '0' && *sec_end <= '9') || (*sec_end == '.' && sec_end[1] >= '0' && sec_end[1] <= '9'))
                sec_end++;
            e = sec_end;
        }
        hs_buf_printf(b, "<a href=\"https://www.rfc-editor.org/rfc/rfc%.*s.html", num_len, num);
        if (sec)
            hs_buf_printf(b, "#section-%.*s", (int)(sec_end - sec), sec);
        HS_BUF_LIT(b, "\">");
        hs_html_escape(b, rfc, (size_t)(e - rfc));
        HS_BUF_LIT(b, "</a>");
        p = e;
    }
}

static void html_headers(hs_buf_t *b, uint32_t mask)
{
    bool any = false;
    for (uint32_t bit = 1; bit && bit <= mask; bit <<= 1) {
        const char *name = (mask & bit) ? hs__ref_header_label(bit) : NULL;
        if (!name)
            continue;
        if (any)
            HS_BUF_LIT(b, ", ");
        HS_BUF_LIT(b, "<code>");
        esc(b, name);
        HS_BUF_LIT(b, "</code>");
        any = true;
    }
    if (!any)
        HS_BUF_LIT(b, "none");
}

/* The class filter links: All, 1xx … 5xx; `current` (0 = all) is marked. */
static void html_class_nav(hs_buf_t *b, int current)
{
    HS_BUF_LIT(b, "<nav class=\"classes\" aria-label=\"Classes\">");
    hs_buf_printf(b, "<a href=\"/codes\"%s>All codes</a>", current ? "" : " aria-current=\"page\"");
    for (int c = 1; c <= 5; c++)
        hs_buf_printf(b, "<a href=\"/codes?class=%dxx\"%s>%dxx %s</a>", c, current == c ? " aria-current=\"page\"" : "",
                      c, hs__ref_class_words(c));
    HS_BUF_LIT(b, "</nav>\n");
}

static void index_html(hs_buf_t *b, int only)
{
    size_t count;
    const hs_status_info_t *table = hs_status_table(&count);
    char title[64];
    if (only)
        snprintf(title, sizeof(title), "%dxx status codes (%s)", only, hs__ref_class_words(only));
    else
        snprintf(title, sizeof(title), "HTTP status codes");
    html_start(b, title);
    if (only)
        HS_BUF_LIT(b, "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a href=\"/codes\">Status codes</a></nav>\n");
    HS_BUF_LIT(b, "<h1>");
    esc(b, title);
    HS_BUF_LIT(b, "</h1>\n<p class=\"lead\">");
    if (only) {
        hs_buf_printf(b,
                      "The %dxx codes statusd knows. Each one links to its own page: what it means, the "
                      "headers a response with it must or should carry, and when statusd sends it.",
                      only);
    } else {
        hs_buf_printf(b,
                      "The %zu status codes statusd knows: the ones registered with IANA and the unofficial ones "
                      "that servers, proxies and CDNs send in the wild (marked with their origin). Each code "
                      "links to its own page: what it means, the headers a response with it must or should "
                      "carry, and when statusd sends it.",
                      count);
    }
    HS_BUF_LIT(b, "</p>\n");
    html_class_nav(b, only);
    for (int c = 1; c <= 5; c++) {
        if (only && c != only)
            continue;
        hs_buf_printf(b,
                      "<section id=\"%dxx\" aria-labelledby=\"h%dxx\">\n<h2 id=\"h%dxx\">%dxx "
                      "<span class=\"muted\">%s</span></h2>\n<table>\n<thead><tr><th scope=\"col\">Code</th>"
                      "<th scope=\"col\">Reason</th><th scope=\"col\">Summary</th></tr></thead>\n<tbody>\n",
                      c, c, c, c, hs__ref_class_words(c));
        for (size_t k = 0; k < count; k++) {
            const hs_status_info_t *s = &table[k];
            if (s->code / 100 != c)
                continue;
            hs_buf_printf(b,
                          "<tr id=\"c%d\"><td class=\"num\"><a href=\"/codes/%d\">%d</a></td><td>"
                          "<a href=\"/codes/%d\">",
                          s->code, s->code, s->code, s->code);
            esc(b, s->reason);
            HS_BUF_LIT(b, "</a>");
            html_tags(b, s);
            HS_BUF_LIT(b, "</td><td>");
            esc(b, s->summary);
            HS_BUF_LIT(b, "</td></tr>\n");
        }
        HS_BUF_LIT(b, "</tbody>\n</table>\n</section>\n");
    }
    html_end(b, true);
}

static void code_html(hs_buf_t *b, const hs_status_info_t *s)
{
    int cls = s->code / 100;
    const hs_status_info_t *prev, *next;
    neighbours(s, &prev, &next);
    char title[160];
    snprintf(title, sizeof(title), "%d %s", s->code, s->reason);
    html_start(b, title);
    hs_buf_printf(b,
                  "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a href=\"/codes\">Status codes</a> › "
                  "<a href=\"/codes?class=%dxx\">%dxx %s</a> › <span aria-current=\"page\">%d</span></nav>\n",
                  cls, cls, hs__ref_class_words(cls), s->code);
    hs_buf_printf(b, "<article>\n<h1><span class=\"num\">%d</span> ", s->code);
    esc(b, s->reason);
    HS_BUF_LIT(b, "</h1>\n<p class=\"lead\">");
    esc(b, s->summary);
    HS_BUF_LIT(b, "</p>\n<dl class=\"facts\">\n");
    hs_buf_printf(b, "<div><dt>Class</dt><dd>%dxx (%s)</dd></div>\n", cls, hs__ref_class_words(cls));
    HS_BUF_LIT(b, "<div><dt>Origin</dt><dd>");
    esc(b, hs_status_origin_name(s->origin));
    if (s->flags & HS_SF_UNOFFICIAL)
        HS_BUF_LIT(b, " <span class=\"tag\">unofficial</span> not in the IANA registry");
    else
        HS_BUF_LIT(b, " registry of HTTP status codes");
    HS_BUF_LIT(b, "</dd></div>\n<div><dt>Reference</dt><dd>");
    html_reference(b, s->ref);
    HS_BUF_LIT(b, "</dd></div>\n<div><dt>Flags</dt><dd>");
    hs_buf_t words = {0};
    hs__ref_flags_words(&words, s->flags);
    hs_html_escape(b, words.base, words.len);
    hs_buf_free(&words);
    HS_BUF_LIT(b, "</dd></div>\n<div><dt>Required headers</dt><dd>");
    html_headers(b, s->required);
    HS_BUF_LIT(b, "</dd></div>\n<div><dt>Recommended headers</dt><dd>");
    html_headers(b, s->recommended);
    HS_BUF_LIT(b, "</dd></div>\n</dl>\n<h2>What it means</h2>\n<p>");
    esc(b, s->explanation);
    HS_BUF_LIT(b, "</p>\n</article>\n<nav class=\"pager\" aria-label=\"Neighbouring codes\">");
    if (prev) {
        hs_buf_printf(b, "<a rel=\"prev\" href=\"/codes/%d\">← %d ", prev->code, prev->code);
        esc(b, prev->reason);
        HS_BUF_LIT(b, "</a>");
    } else {
        HS_BUF_LIT(b, "<span></span>");
    }
    HS_BUF_LIT(b, "<a href=\"/codes\">All codes</a>");
    if (next) {
        hs_buf_printf(b, "<a rel=\"next\" href=\"/codes/%d\">%d ", next->code, next->code);
        esc(b, next->reason);
        HS_BUF_LIT(b, " →</a>");
    } else {
        HS_BUF_LIT(b, "<span></span>");
    }
    HS_BUF_LIT(b, "</nav>\n");
    html_end(b, true);
}

/* ---- text ---- */

static void index_text(hs_buf_t *b, int only)
{
    size_t count;
    const hs_status_info_t *table = hs_status_table(&count);
    if (only)
        hs_buf_printf(b, "%dxx status codes (%s)\n", only, hs__ref_class_words(only));
    else
        hs_buf_printf(b, "HTTP status codes known to statusd (%zu)\n", count);
    HS_BUF_LIT(b, "Unofficial codes show their origin in brackets. One code: /codes/{code}\n");
    int last = 0;
    for (size_t k = 0; k < count; k++) {
        const hs_status_info_t *s = &table[k];
        int c = s->code / 100;
        if (only && c != only)
            continue;
        if (c != last)
            hs_buf_printf(b, "\n%dxx %s\n\n", c, hs__ref_class_words(c));
        last = c;
        hs_buf_printf(b, "  %d  %s", s->code, s->reason);
        if (s->flags & HS_SF_UNOFFICIAL)
            hs_buf_printf(b, " [%s]", hs_status_origin_name(s->origin));
        hs_buf_printf(b, "\n       %s\n", s->summary);
    }
}

static void code_text(hs_buf_t *b, const hs_status_info_t *s)
{
    const hs_status_info_t *prev, *next;
    neighbours(s, &prev, &next);
    hs__ref_text(b, s);
    HS_BUF_LIT(b, "\n");
    if (prev)
        hs_buf_printf(b, "Previous:     %d %s (/codes/%d)\n", prev->code, prev->reason, prev->code);
    if (next)
        hs_buf_printf(b, "Next:         %d %s (/codes/%d)\n", next->code, next->reason, next->code);
    HS_BUF_LIT(b, "All codes:    /codes\n");
}

/* ---- JSON: exactly what `statusd list --json` and `statusd explain --json` print ---- */

static void index_json(hs_buf_t *b, int only)
{
    size_t count, n = 0;
    const hs_status_info_t *table = hs_status_table(&count);
    HS_BUF_LIT(b, "[");
    for (size_t k = 0; k < count; k++) {
        if (only && table[k].code / 100 != only)
            continue;
        if (n++)
            HS_BUF_LIT(b, ",");
        HS_BUF_LIT(b, "\n");
        hs__ref_json(b, &table[k], "  ");
    }
    if (n)
        HS_BUF_LIT(b, "\n");
    HS_BUF_LIT(b, "]\n");
}

/* ---- 404 with suggestions ---- */

typedef struct {
    const hs_status_info_t *code; /* a code, or NULL for a class */
    int cls;
} suggestion_t;

typedef struct {
    const char *detail;
    suggestion_t s[MAX_SUGGEST];
    size_t n;
} not_found_t;

static void add_code(not_found_t *nf, const hs_status_info_t *s)
{
    for (size_t i = 0; i < nf->n; i++)
        if (nf->s[i].code == s)
            return;
    if (nf->n < MAX_SUGGEST)
        nf->s[nf->n++] = (suggestion_t){.code = s};
}

static void add_class(not_found_t *nf, int cls)
{
    if (nf->n < MAX_SUGGEST)
        nf->s[nf->n++] = (suggestion_t){.cls = cls};
}

/* The registered codes nearest to `n` (of class `cls` when it is 1..5), nearest first, the
 * lower one first on a tie: each round takes the smallest (distance, code) above the last. */
static void add_nearest(not_found_t *nf, int n, int cls)
{
    size_t count;
    const hs_status_info_t *table = hs_status_table(&count);
    int last_d = -1, last_code = -1;
    while (nf->n < MAX_SUGGEST) {
        const hs_status_info_t *best = NULL;
        int best_d = 0;
        for (size_t k = 0; k < count; k++) {
            int code = table[k].code, d = abs(code - n);
            if (cls && code / 100 != cls)
                continue;
            if (d < last_d || (d == last_d && code <= last_code))
                continue;
            if (!best || d < best_d || (d == best_d && code < best->code)) {
                best = &table[k];
                best_d = d;
            }
        }
        if (!best)
            return;
        last_d = best_d;
        last_code = best->code;
        add_code(nf, best);
    }
}

/* Codes whose reason phrase (or symbol) contains the words of `q`: "teapot", "not-found",
 * "too_many". Case and the separators - _ + and %20 do not matter. */
static void add_matching(not_found_t *nf, hs_iovec_t q)
{
    char want[48], hay[128];
    size_t n = 0;
    for (size_t i = 0; i < q.len && n < sizeof(want) - 1; i++) {
        char c = q.base[i];
        if (c == '%' && i + 2 < q.len && q.base[i + 1] == '2' && q.base[i + 2] == '0') {
            c = ' ';
            i += 2;
        } else if (c == '-' || c == '_' || c == '+') {
            c = ' ';
        } else if (c >= 'A' && c <= 'Z') {
            c = (char)(c | 0x20);
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'')) {
            return; /* not a phrase */
        }
        want[n++] = c;
    }
    want[n] = '\0';
    if (n < 3)
        return;
    size_t count;
    const hs_status_info_t *table = hs_status_table(&count);
    for (size_t k = 0; k < count; k++) {
        for (int pass = 0; pass < 2; pass++) {
            const char *src = pass ? table[k].symbol : table[k].reason;
            size_t m = 0;
            for (; src[m] && m < sizeof(hay) - 1; m++)
                hay[m] = src[m] == '_' ? ' ' : (char)(src[m] >= 'A' && src[m] <= 'Z' ? src[m] | 0x20 : src[m]);
            hay[m] = '\0';
            if (strstr(hay, want)) {
                add_code(nf, &table[k]);
                break;
            }
        }
    }
}

/* What `rest` (the path after "/codes/") might have meant. */
static void suggest(hs_req_t *req, hs_iovec_t rest, not_found_t *nf)
{
    /* what the client asked for, shown back in printable ASCII and at most 40 bytes */
    size_t shown_len = HS_MIN(rest.len, 40);
    char *shown = hs_arena_alloc(&req->arena, shown_len + 4);
    for (size_t i = 0; i < shown_len; i++)
        shown[i] = rest.base[i] > 0x20 && rest.base[i] < 0x7f ? rest.base[i] : '?';
    strcpy(shown + shown_len, rest.len > shown_len ? "..." : "");

    size_t digits = 0;
    while (digits < rest.len && rest.base[digits] >= '0' && rest.base[digits] <= '9')
        digits++;
    int n = parse_three_digits(hs_iov(rest.base, HS_MIN(digits, 3)));
    int cls = parse_class(rest);

    if (digits == 3 && hs_status_get(n)) {
        /* "404/", "404.html", "404x": the code exists, the page is /codes/404 */
        nf->detail =
            hs_arena_printf(&req->arena, "there is no page at /codes/%s; the page for %d is /codes/%d", shown, n, n)
                .base;
        add_code(nf, hs_status_get(n));
        add_nearest(nf, n, n / 100);
    } else if (digits == 3 && digits == rest.len) {
        nf->detail = hs_arena_printf(&req->arena, "no status code %d is registered", n).base;
        add_nearest(nf, n, n / 100 >= 1 && n / 100 <= 5 ? n / 100 : 0);
    } else if (cls && rest.len == 3) {
        nf->detail =
            hs_arena_printf(&req->arena, "'%s' is a class: its codes are listed at /codes?class=%dxx", shown, cls).base;
        add_class(nf, cls);
    } else if (digits > 0 && digits == rest.len) {
        nf->detail =
            hs_arena_printf(&req->arena, "'%s' is not a status code: status codes have three digits", shown).base;
        if (rest.base[0] >= '1' && rest.base[0] <= '5')
            add_class(nf, rest.base[0] - '0');
    } else {
        nf->detail = hs_arena_printf(&req->arena, "'%s' is not a status code", shown).base;
        add_matching(nf, rest);
    }
    if (nf->n == 0)
        for (int c = 1; c <= 5; c++)
            add_class(nf, c);
}

static int not_found(hs_req_t *req, hs_iovec_t rest, int fmt)
{
    not_found_t nf = {0};
    suggest(req, rest, &nf);
    hs_buf_t b = {0};
    if (fmt == F_JSON) {
        HS_BUF_LIT(&b, "{\"status\":404,\"reason\":\"Not Found\",\"detail\":");
        hs_json_str(&b, nf.detail, strlen(nf.detail));
        HS_BUF_LIT(&b, ",\"suggestions\":[");
        for (size_t i = 0; i < nf.n; i++) {
            const suggestion_t *s = &nf.s[i];
            if (i)
                HS_BUF_LIT(&b, ",");
            if (s->code) {
                hs_buf_printf(&b, "{\"code\":%d,\"reason\":", s->code->code);
                hs_json_str(&b, s->code->reason, strlen(s->code->reason));
                hs_buf_printf(&b, ",\"href\":\"/codes/%d\"}", s->code->code);
            } else {
                hs_buf_printf(&b, "{\"class\":\"%dxx\",\"href\":\"/codes?class=%dxx\"}", s->cls, s->cls);
            }
        }
        HS_BUF_LIT(&b, "]}\n");
    } else if (fmt == F_HTML) {
        html_start(&b, "404 Not Found");
        HS_BUF_LIT(&b, "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><a href=\"/codes\">Status codes</a></nav>\n"
                       "<h1><span class=\"num\">404</span> Not Found</h1>\n<p class=\"lead\">");
        esc(&b, nf.detail);
        HS_BUF_LIT(&b, ".</p>\n<h2>Perhaps one of these</h2>\n<ul>\n");
        for (size_t i = 0; i < nf.n; i++) {
            const suggestion_t *s = &nf.s[i];
            if (s->code) {
                hs_buf_printf(&b, "<li><a href=\"/codes/%d\"><span class=\"num\">%d</span> ", s->code->code,
                              s->code->code);
                esc(&b, s->code->reason);
                HS_BUF_LIT(&b, "</a>");
                html_tags(&b, s->code);
                HS_BUF_LIT(&b, " <span class=\"muted\">");
                esc(&b, s->code->summary);
                HS_BUF_LIT(&b, "</span></li>\n");
            } else {
                hs_buf_printf(&b, "<li><a href=\"/codes?class=%dxx\">%dxx %s</a></li>\n", s->cls, s->cls,
                              hs__ref_class_words(s->cls));
            }
        }
        HS_BUF_LIT(&b, "</ul>\n<p><a href=\"/codes\">All status codes</a></p>\n");
        html_end(&b, false);
    } else {
        hs_buf_printf(&b, "404 Not Found\n%s\n\nPerhaps one of these:\n", nf.detail);
        for (size_t i = 0; i < nf.n; i++) {
            const suggestion_t *s = &nf.s[i];
            if (s->code)
                hs_buf_printf(&b, "  %d %s  /codes/%d\n", s->code->code, s->code->reason, s->code->code);
            else
                hs_buf_printf(&b, "  %dxx %s  /codes?class=%dxx\n", s->cls, hs__ref_class_words(s->cls), s->cls);
        }
        HS_BUF_LIT(&b, "All codes: /codes\n");
    }
    req->error_detail = nf.detail;
    return send_buf(req, 404, &b, fmt);
}

/* ---- the handler ---- */

/* /codes (the index) and /codes/NNN, below wherever the pages are mounted */
static int content(hs_req_t *req)
{
    hs_iovec_t below = hs_req_path_below_mount(req); /* "/" or "/418" */
    hs_iovec_t rest = below.len > 1 ? hs_iov(below.base + 1, below.len - 1) : HS_IOV("");
    const hs_status_info_t *info = NULL;
    if (rest.len) {
        int n = parse_three_digits(rest);
        info = n >= 0 ? hs_status_get(n) : NULL;
    }

    int fmt = hs_negotiate_type(hs_req_header(req, HS_HDR_ACCEPT), types, F_COUNT);
    if (rest.len && !info) { /* no such resource, whatever the method: 404 (text when nothing fits) */
        HS_RES_HEADER(req, "Vary", "Accept");
        return not_found(req, rest, fmt < 0 ? F_TEXT : fmt);
    }

    hs_method_t m = req->p.method_id;
    if (m == HS_METHOD_OPTIONS) {
        req->allow = ALLOW; /* RFC 9110 §9.3.7 */
        return hs_res_send(req, 204);
    }
    if (m != HS_METHOD_GET && m != HS_METHOD_HEAD)
        return hs_res_method_not_allowed(req, ALLOW);

    int only = info ? 0 : class_param(req);
    if (only < 0)
        return hs_res_error(req, 400, "the class parameter takes 1xx, 2xx, 3xx, 4xx or 5xx");
    HS_RES_HEADER(req, "Vary", "Accept"); /* on the 406 too: another Accept would get a page */
    if (fmt < 0)
        return hs_res_error(req, 406,
                            "this resource is available as text/plain, text/html and application/json, "
                            "and the Accept header rules out all three");

    hs_buf_t b = {0};
    switch (fmt) {
    case F_HTML:
        if (info)
            code_html(&b, info);
        else
            index_html(&b, only);
        break;
    case F_JSON:
        if (info) {
            hs__ref_json(&b, info, "");
            HS_BUF_LIT(&b, "\n");
        } else {
            index_json(&b, only);
        }
        break;
    default:
        if (info)
            code_text(&b, info);
        else
            index_text(&b, only);
        break;
    }
    return send_buf(req, 200, &b, fmt);
}

/* ---- settings: whether every host has /codes ---- */
typedef struct {
    bool codes;
} ref_conf_t;

HS_DIRECTIVES_BEGIN
static const hs_directive_t directives[] = {
    {"codes", HS_DT_BOOL, offsetof(ref_conf_t, codes), "true", "BOOL",
     "serve the status-code pages at /codes on every host (on a path: serve them at that path)", 0, 0, HS_SCOPE_ALL},
};
HS_DIRECTIVES_END

static const char *mount(hs_config_t *cfg, const void *conf, bool flat)
{
    HS_UNUSED(cfg);
    HS_UNUSED(flat);
    return ((const ref_conf_t *)conf)->codes ? "/codes" : NULL;
}

hs_module_t hs_module_reference = {
    .name = "reference",
    .conf = {.name = "reference",
             .directives = directives,
             .count = HS_ARRAY_SIZE(directives),
             .size = sizeof(ref_conf_t),
             .handler = "codes",
             .mount = mount},
    .content = content,
};
