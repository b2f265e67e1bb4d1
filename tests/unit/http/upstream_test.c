/* Unit tests for the gateway's cause table (src/http/upstream.def), Proxy-Status formatting
 * (RFC 9209, RFC 8941 strings) and Via loop detection (RFC 9110 §7.6.3). */
#include "hs/upstream.h"
#include "tap.h"

#include <stdlib.h>

/* RFC 9209 §2.3: the registered error types */
static const char *const rfc9209_types[] = {
    "dns_timeout",
    "dns_error",
    "destination_not_found",
    "destination_unavailable",
    "destination_ip_prohibited",
    "destination_ip_unroutable",
    "connection_refused",
    "connection_terminated",
    "connection_timeout",
    "connection_read_timeout",
    "connection_write_timeout",
    "connection_limit_reached",
    "tls_protocol_error",
    "tls_certificate_error",
    "tls_alert_received",
    "http_request_error",
    "http_request_denied",
    "http_response_incomplete",
    "http_response_header_section_size",
    "http_response_header_size",
    "http_response_body_size",
    "http_response_trailer_section_size",
    "http_response_trailer_size",
    "http_response_transfer_coding",
    "http_response_content_coding",
    "http_response_timeout",
    "http_upgrade_failed",
    "http_protocol_error",
    "proxy_internal_response",
    "proxy_internal_error",
    "proxy_configuration_error",
    "proxy_loop_detected",
};

static void test_table(void)
{
    size_t n;
    const hs_up_cause_info_t *t = hs_up_cause_table(&n);
    is_int(n, HS_UP__COUNT - 1, "one entry per cause");
    bool ids_ok = true, types_ok = true, status_ok = true, lookup_ok = true;
    for (size_t i = 0; i < n; i++) {
        const hs_up_cause_info_t *c = &t[i];
        lookup_ok &= hs_up_cause(c->cause) == c && hs_up_cause_by_id(hs_iov_cstr(c->id)) == c;
        for (size_t k = 0; k < i; k++)
            ids_ok &= strcmp(t[k].id, c->id) != 0;
        for (const char *p = c->id; *p; p++)
            ids_ok &= (*p >= 'a' && *p <= 'z') || *p == '_';
        bool known = false;
        for (size_t k = 0; k < HS_ARRAY_SIZE(rfc9209_types); k++)
            known |= strcmp(rfc9209_types[k], c->error_type) == 0;
        if (!known)
            printf("# %s: unregistered error type %s\n", c->id, c->error_type);
        types_ok &= known;
        for (int m = 0; m < 3; m++) {
            int s = c->status[m];
            bool after = (c->flags & HS_UPC_AFTER_HEAD) != 0;
            status_ok &= after ? s == 0 : (s >= 500 && s <= 599);
            status_ok &= !(c->flags & HS_UPC_RETRY_AFTER) || s == 503;
        }
        ids_ok &= c->summary && c->summary[0];
    }
    ok(ids_ok, "ids unique, lowercase, with a summary");
    ok(types_ok, "every Proxy-Status error type is registered in RFC 9209 §2.3");
    ok(status_ok, "statuses: 5xx before the head, unchanged after; Retry-After only on 503");
    ok(lookup_ok, "lookup by enum and by id");
    ok(hs_up_cause(HS_UP_NONE) == NULL && hs_up_cause(HS_UP__COUNT) == NULL && hs_up_cause(-1) == NULL,
       "no entry for none or out of range");
    ok(hs_up_cause_by_id(HS_IOV("connect")) == NULL, "no entry for an unknown id");
    ok(strcmp(hs_up_phase_name(HS_UP_PHASE_HEADERS), "headers") == 0 && strcmp(hs_up_phase_name(99), "-") == 0,
       "phase names");
}

/* The issue's table, row by row: standard / detailed / timeouts. */
static void row(int cause, int st, int de, int to, const char *name)
{
    int s = hs_up_cause_status(cause, HS_PROXY_ERRORS_STANDARD);
    int d = hs_up_cause_status(cause, HS_PROXY_ERRORS_DETAILED);
    int t = hs_up_cause_status(cause, HS_PROXY_ERRORS_TIMEOUTS);
    if (!ok(s == st && d == de && t == to, "%s: %d / %d / %d", name, st, de, to))
        printf("#   got %d / %d / %d\n", s, d, t);
}

static void test_issue_table(void)
{
    row(HS_UP_DNS_ERROR, 502, 530, 502, "name does not resolve");
    row(HS_UP_DNS_TIMEOUT, 504, 530, 504, "DNS timeout");
    row(HS_UP_CONNECT_REFUSED, 502, 521, 502, "connection refused");
    row(HS_UP_CONNECT_TIMEOUT, 504, 522, 599, "connect timeout");
    row(HS_UP_NO_ROUTE, 502, 523, 502, "no route");
    row(HS_UP_TLS_HANDSHAKE, 502, 525, 502, "TLS handshake");
    row(HS_UP_TLS_CERTIFICATE, 502, 526, 502, "certificate");
    row(HS_UP_TLS_ALERT, 502, 525, 502, "TLS alert received");
    row(HS_UP_SEND_TIMEOUT, 504, 524, 598, "send timeout");
    row(HS_UP_HEAD_TIMEOUT, 504, 524, 598, "no head in time");
    row(HS_UP_CLOSED_BEFORE_HEAD, 502, 520, 502, "closed before any byte");
    row(HS_UP_MALFORMED_HEAD, 502, 520, 502, "malformed head");
    row(HS_UP_BAD_FRAMING, 502, 520, 502, "bad framing");
    row(HS_UP_BAD_STATUS, 502, 520, 502, "bad status");
    row(HS_UP_HEAD_TOO_LARGE, 502, 520, 502, "oversized head");
    row(HS_UP_NO_HEALTHY_UPSTREAM, 503, 503, 503, "no healthy upstream");
    row(HS_UP_CONNECTION_LIMIT, 503, 503, 503, "connection limit");
    row(HS_UP_TRUNCATED_BODY, 0, 0, 0, "failure after the head: status unchanged");
    ok(hs_up_cause(HS_UP_NO_HEALTHY_UPSTREAM)->flags & HS_UPC_RETRY_AFTER, "503 rows carry Retry-After");
    is_int(hs_up_cause_status(HS_UP_CONNECT_REFUSED, (hs_proxy_errors_t)7), 0, "an unknown mode: 0");
}

static void expect_ps(const hs_proxy_status_t *ps, const char *prefix, const char *want, const char *name)
{
    hs_buf_t b = {0};
    if (prefix)
        hs_buf_append(&b, prefix, strlen(prefix));
    hs_proxy_status_format(&b, ps);
    hs_buf_append(&b, "", 1);
    if (!ok(strcmp(b.base, want) == 0, "Proxy-Status: %s", name))
        printf("#   got  %s\n#   want %s\n", b.base, want);
    hs_buf_free(&b);
}

static void test_proxy_status(void)
{
    expect_ps(&(hs_proxy_status_t){.cause = HS_UP_CONNECT_REFUSED}, NULL, "statusd; error=connection_refused",
              "an error");
    expect_ps(&(hs_proxy_status_t){.received_status = 503}, NULL, "statusd; received-status=503", "a relayed status");
    expect_ps(&(hs_proxy_status_t){.cause = HS_UP_HEAD_TIMEOUT, .details = HS_IOV("no head after 60 s")}, NULL,
              "statusd; error=http_response_timeout; details=\"no head after 60 s\"", "details");
    expect_ps(&(hs_proxy_status_t){.cause = HS_UP_MALFORMED_HEAD, .details = HS_IOV("say \"hi\" \\ \x01\xff")}, NULL,
              "statusd; error=http_protocol_error; details=\"say \\\"hi\\\" \\\\ ??\"", "sf-string escaping");
    expect_ps(&(hs_proxy_status_t){.proxy = "edge-1", .received_status = 200, .next_hop = HS_IOV("10.0.0.1:80")},
              NULL, "edge-1; received-status=200; next-hop=\"10.0.0.1:80\"", "a name and a next hop");
    expect_ps(&(hs_proxy_status_t){.proxy = "my proxy", .cause = HS_UP_DNS_ERROR}, NULL,
              "\"my proxy\"; error=dns_error", "a name that is not an sf-token goes as a string");
    expect_ps(&(hs_proxy_status_t){.cause = HS_UP_TLS_ALERT, .tls_alert = 40, .details = HS_IOV("tls_alert")}, NULL,
              "statusd; error=tls_alert_received; alert-id=40; alert-message=\"handshake_failure\"; "
              "details=\"tls_alert\"",
              "RFC 9209 §2.3.15: alert-id and alert-message");
    expect_ps(&(hs_proxy_status_t){.cause = HS_UP_TLS_ALERT, .tls_alert = 199}, NULL,
              "statusd; error=tls_alert_received; alert-id=199", "an alert the registry does not name: no message");
    expect_ps(&(hs_proxy_status_t){.cause = HS_UP_TLS_ALERT, .tls_alert = -1}, NULL,
              "statusd; error=tls_alert_received", "no alert number: no parameters");
    expect_ps(&(hs_proxy_status_t){.cause = HS_UP_TLS_HANDSHAKE, .tls_alert = 40}, NULL,
              "statusd; error=tls_protocol_error", "alert parameters only with tls_alert_received");
    expect_ps(&(hs_proxy_status_t){.proxy = "1proxy", .cause = HS_UP_DNS_ERROR}, NULL, "\"1proxy\"; error=dns_error",
              "a token may not start with a digit");
    expect_ps(&(hs_proxy_status_t){.cause = HS_UP_CONNECT_TIMEOUT}, "cdn; error=http_response_timeout",
              "cdn; error=http_response_timeout, statusd; error=connection_timeout", "appended to another member");
    expect_ps(&(hs_proxy_status_t){0}, NULL, "statusd", "neither error nor status: the name alone");
}

static void test_via(void)
{
    hs_iovec_t me = HS_IOV("statusd");
    ok(hs_via_has(HS_IOV("1.1 statusd"), me), "Via: 1.1 statusd");
    ok(hs_via_has(HS_IOV("1.0 fred, 1.1 StatusD (statusd/0.1)"), me), "second element, case-insensitive, comment");
    ok(hs_via_has(HS_IOV("HTTP/1.1 statusd"), me), "with a protocol name");
    ok(!hs_via_has(HS_IOV("1.1 statusd2"), me), "a longer name is another proxy");
    ok(!hs_via_has(HS_IOV("1.1 edge (x, 1.1 statusd y)"), me), "inside a comment: not a hop");
    ok(!hs_via_has(HS_IOV("1.1 edge (x \\) 1.1 statusd, y)"), me), "a quoted-pair does not end the comment");
    ok(!hs_via_has(HS_IOV("statusd"), me), "a lone word is the protocol, not received-by");
    ok(!hs_via_has(HS_IOV_NULL, me) && !hs_via_has(HS_IOV(""), me), "no Via");
    ok(hs_via_has(HS_IOV("1.1 a,1.1 statusd:8080"), HS_IOV("statusd:8080")), "a pseudonym with a port");
}

int main(void)
{
    test_table();
    test_issue_table();
    test_proxy_status();
    test_via();
    return tap_done();
}
