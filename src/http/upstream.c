/* statusd — the upstream-failure cause table (upstream.def), Proxy-Status formatting (RFC 9209)
 * and Via loop detection (RFC 9110 §7.6.3). */
#include "hs/upstream.h"
#include "hs/tls.h"

static const hs_up_cause_info_t table[] = {
#define HS_CAUSE(sym, id_, type, st, de, to, flags_, summary_)                                                         \
    {.cause = HS_UP_##sym, .id = id_, .error_type = type, .status = {st, de, to}, .flags = flags_, .summary = summary_},
#include "upstream.def"
#undef HS_CAUSE
};

_Static_assert(HS_ARRAY_SIZE(table) == HS_UP__COUNT - 1, "one table entry per cause");

const hs_up_cause_info_t *hs_up_cause(int cause)
{
    if (cause <= HS_UP_NONE || cause >= HS_UP__COUNT)
        return NULL;
    return &table[cause - 1];
}

const hs_up_cause_info_t *hs_up_cause_by_id(hs_iovec_t id)
{
    for (size_t i = 0; i < HS_ARRAY_SIZE(table); i++)
        if (hs_iov_eq(id, table[i].id, strlen(table[i].id)))
            return &table[i];
    return NULL;
}

const hs_up_cause_info_t *hs_up_cause_table(size_t *count)
{
    *count = HS_ARRAY_SIZE(table);
    return table;
}

int hs_up_cause_status(int cause, hs_proxy_errors_t mode)
{
    const hs_up_cause_info_t *c = hs_up_cause(cause);
    if (!c || (unsigned)mode > HS_PROXY_ERRORS_TIMEOUTS)
        return 0;
    return c->status[mode];
}

const char *hs_up_phase_name(int phase)
{
    static const char *const names[HS_UP_PHASE__COUNT] = {
        [HS_UP_PHASE_NONE] = "-",          [HS_UP_PHASE_RESOLVE] = "resolve", [HS_UP_PHASE_CONNECT] = "connect",
        [HS_UP_PHASE_TLS] = "tls",         [HS_UP_PHASE_SEND] = "send",       [HS_UP_PHASE_WAIT] = "wait",
        [HS_UP_PHASE_HEADERS] = "headers", [HS_UP_PHASE_BODY] = "body",
    };
    return (unsigned)phase < HS_UP_PHASE__COUNT ? names[phase] : "-";
}

/* ---- Proxy-Status ---- */

/* RFC 8941 §3.3.4: sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" ) */
static bool sf_token(const char *s)
{
    unsigned char c = (unsigned char)s[0];
    if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '*'))
        return false;
    for (s++; *s; s++) {
        c = (unsigned char)*s;
        bool ok = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
                  strchr("!#$%&'*+-.^_`|~:/", c) != NULL;
        if (!ok)
            return false;
    }
    return true;
}

/* RFC 8941 §3.3.3: sf-string = DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE, where
 * unescaped is printable ASCII other than those two. Anything else cannot be carried. */
static void sf_string(hs_buf_t *out, hs_iovec_t v)
{
    HS_BUF_LIT(out, "\"");
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            hs_buf_append(out, e, 2);
        } else {
            char b = c >= 0x20 && c <= 0x7e ? (char)c : '?';
            hs_buf_append(out, &b, 1);
        }
    }
    HS_BUF_LIT(out, "\"");
}

void hs_proxy_status_format(hs_buf_t *out, const hs_proxy_status_t *ps)
{
    const char *name = ps->proxy && ps->proxy[0] ? ps->proxy : "statusd";
    if (out->len > 0)
        HS_BUF_LIT(out, ", ");
    if (sf_token(name))
        hs_buf_append(out, name, strlen(name));
    else
        sf_string(out, hs_iov_cstr(name));
    const hs_up_cause_info_t *c = hs_up_cause(ps->cause);
    if (c) {
        HS_BUF_LIT(out, "; error=");
        hs_buf_append(out, c->error_type, strlen(c->error_type));
        if (c->cause == HS_UP_TLS_ALERT && ps->tls_alert >= 0 && ps->tls_alert <= 255) {
            /* RFC 9209 §2.3.15: alert-id an sf-integer, alert-message a token or an sf-string
             * (a string here), both from the TLS Alerts registry */
            hs_buf_printf(out, "; alert-id=%d", ps->tls_alert);
            const char *alert = hs_tls_alert_name(ps->tls_alert);
            if (alert) {
                HS_BUF_LIT(out, "; alert-message=");
                sf_string(out, hs_iov_cstr(alert));
            }
        }
    } else if (ps->received_status >= 100 && ps->received_status <= 999) {
        /* RFC 9209 §2.1.2: an sf-integer */
        hs_buf_printf(out, "; received-status=%d", ps->received_status);
    }
    if (ps->next_hop.base) {
        HS_BUF_LIT(out, "; next-hop=");
        sf_string(out, ps->next_hop);
    }
    if (ps->details.base) {
        HS_BUF_LIT(out, "; details=");
        sf_string(out, ps->details);
    }
}

/* ---- Via ----
 *   Via = #( received-protocol RWS received-by [ RWS comment ] )      RFC 9110 §7.6.3
 * Elements are split by hand rather than with hs_list_next: a comment may hold commas, and a
 * pseudonym written inside one must not count. */
static bool via_element_is(const char *p, const char *end, hs_iovec_t pseudonym)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (p < end && *p != ' ' && *p != '\t') /* received-protocol */
        p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *by = p;
    while (p < end && *p != ' ' && *p != '\t' && *p != '(')
        p++;
    if ((size_t)(p - by) != pseudonym.len)
        return false;
    for (size_t i = 0; i < pseudonym.len; i++) {
        unsigned char a = (unsigned char)by[i], b = (unsigned char)pseudonym.base[i];
        if (a != b && ((a | 0x20) != (b | 0x20) || (a | 0x20) < 'a' || (a | 0x20) > 'z'))
            return false;
    }
    return true;
}

bool hs_via_has(hs_iovec_t via, hs_iovec_t pseudonym)
{
    if (!via.base || pseudonym.len == 0)
        return false;
    const char *p = via.base, *end = via.base + via.len, *start = p;
    int depth = 0;
    for (; p <= end; p++) {
        if (p == end || (*p == ',' && depth == 0)) {
            if (via_element_is(start, p, pseudonym))
                return true;
            start = p + 1;
            continue;
        }
        if (*p == '(')
            depth++;
        else if (*p == ')' && depth > 0)
            depth--;
        else if (*p == '\\' && depth > 0 && p + 1 < end)
            p++; /* quoted-pair inside a comment */
    }
    return false;
}
