/* Unit tests for a TLS listener's connection in the engine (src/http/conn.c handshake state,
 * src/http/https.c): an in-process server whose first listener is tls:// (the rig), a client
 * session on the other end of the socketpair. The handshake, requests over it (the scheme a
 * module sees is https), plain HTTP on the TLS port (497), a handshake that fails (logged), a
 * client that leaves without a byte, and hs__https_url. */
#define _GNU_SOURCE
#include "tap.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <string.h>

#include "../lib/rig.h"
#include "../lib/tlsgen.h"

static char dir[64], chain[128], key[128], listen_value[300], log_path[128];
static const char *scheme_seen;

static int rewrite(hs_req_t *req)
{
    scheme_seen = hs_req_scheme(req);
    return HS_DECLINED;
}

static hs_module_t probe = {.name = "probe", .rewrite = rewrite};
static hs_module_t *mods[HS_MAX_MODULES + 1];

static int start(rig_t *r)
{
    const char *set[][2] = {{"listen", listen_value}, {"access_log", log_path}, {"handshake_timeout", "200ms"}};
    if (rig_start(r, set, HS_ARRAY_SIZE(set)) != HS_OK)
        return HS_ERROR;
    /* the probe first, then the real modules */
    mods[0] = &probe;
    probe.index = 0;
    for (size_t i = 0; hs_modules[i]; i++)
        mods[i + 1] = hs_modules[i];
    hs_server_use_modules(&r->srv, mods);
    return HS_OK;
}

/* A TLS client on the rig's client end: handshake, one request, the whole answer (bounded). */
static char *tls_exchange(rig_t *r, SSL_CTX *ctx, const char *req, bool *handshook)
{
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, r->client);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set_connect_state(ssl);
    hs_buf_t out = {0};
    size_t sent = 0, len = strlen(req);
    *handshook = false;
    for (int round = 0; round < 400; round++) {
        ERR_clear_error();
        if (!*handshook) {
            int h = SSL_do_handshake(ssl);
            if (h == 1)
                *handshook = true;
            else if (SSL_get_error(ssl, h) != SSL_ERROR_WANT_READ && SSL_get_error(ssl, h) != SSL_ERROR_WANT_WRITE)
                break;
        }
        if (*handshook && sent < len) {
            size_t w = 0;
            if (SSL_write_ex(ssl, req + sent, len - sent, &w) == 1)
                sent += w;
        }
        if (*handshook) {
            char buf[16384];
            size_t got = 0;
            int k;
            while ((k = SSL_read_ex(ssl, buf, sizeof(buf), &got)) == 1)
                hs_buf_append(&out, buf, got);
            int e = SSL_get_error(ssl, k);
            if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL)
                break;
        }
        hs_loop_run_once(&r->w.loop, 2);
        if (!r->w.conns)
            break;
    }
    SSL_free(ssl);
    hs_buf_append(&out, "", 1);
    return out.base;
}

static void empty_log(void)
{
    FILE *f = fopen(log_path, "w");
    if (f)
        fclose(f);
}

static char *read_log(void)
{
    hs_buf_t b = {0};
    FILE *f = fopen(log_path, "r");
    char line[4096];
    while (f && fgets(line, sizeof(line), f))
        hs_buf_append(&b, line, strlen(line));
    if (f)
        fclose(f);
    hs_buf_append(&b, "", 1);
    return b.base;
}

static void test_request_over_tls(SSL_CTX *ctx)
{
    rig_t r;
    ok(start(&r) == HS_OK, "a server whose listener is tls://");
    bool hs;
    scheme_seen = NULL;
    char *out = tls_exchange(&r, ctx, "GET /status/418 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", &hs);
    ok(hs, "the client completed the handshake");
    ok(strncmp(out, "HTTP/1.1 418 I'm a teapot\r\n", 27) == 0, "a request over TLS is answered");
    ok(scheme_seen && !strcmp(scheme_seen, "https"), "a module sees the scheme https");
    free(out);
    rig_stop(&r); /* writes the log */
    char *log = read_log();
    ok(strstr(log, "\"GET /status/418 HTTP/1.1\" 418 ") && strstr(log, " tls=TLSv1.3 cipher=TLS_") &&
           !strstr(log, "tls_error"),
       "the log line has the version, the cipher and no failure");
    free(log);
}

static void test_plain_on_tls_port(void)
{
    rig_t r;
    start(&r);
    scheme_seen = NULL;
    const char *req = "GET /a?b HTTP/1.1\r\nHost: x.test:8443\r\n\r\n";
    char *out = rig_exchange(&r, req, strlen(req), 0);
    ok(strncmp(out, "HTTP/1.1 497 HTTP Request Sent to HTTPS Port\r\n", 46) == 0, "plain HTTP on the TLS port: 497");
    ok(strstr(out, "Connection: close\r\n") && strstr(out, "https://x.test:"), "closed, naming the https URL");
    ok(!scheme_seen, "the request went no further than the engine");
    free(out);
    rig_stop(&r);
}

static void test_failed_and_silent(void)
{
    /* a TLS 1.1-only client: refused, and the failure is logged */
    rig_t r;
    start(&r);
    SSL_CTX *old = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
    SSL_CTX_set_min_proto_version(old, TLS1_1_VERSION);
    SSL_CTX_set_security_level(old, 0);
    bool hs;
    char *out = tls_exchange(&r, old, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", &hs);
    ok(!hs && !r.w.conns, "a TLS 1.1 client: no handshake, the connection closed");
    free(out);
    SSL_CTX_free(old);
    rig_stop(&r);
    char *log = read_log();
    ok(strstr(log, "\"-\" 444 0 \"-\" \"-\" ") && strstr(log, " tls_error=\"unsupported protocol\""),
       "logged: 444 and why");
    free(log);
    /* a client that leaves without a byte: nothing logged, no failure */
    empty_log();
    start(&r);
    shutdown(r.client, SHUT_WR);
    for (int i = 0; i < 50 && r.w.conns; i++)
        hs_loop_run_once(&r.w.loop, 2);
    ok(!r.w.conns, "a client that left without a byte: closed");
    rig_stop(&r);
    log = read_log();
    ok(log[0] == '\0', "and not logged");
    free(log);
    /* a handshake that starts and stalls: closed after handshake_timeout, logged */
    start(&r);
    if (write(r.client, "\x16\x03\x01\x00\x40\x01", 6) != 6)
        abort();
    for (int i = 0; i < 200 && r.w.conns; i++)
        hs_loop_run_once(&r.w.loop, 5);
    ok(!r.w.conns, "a stalled handshake is closed after handshake_timeout");
    rig_stop(&r);
    log = read_log();
    ok(strstr(log, "did not complete within handshake_timeout") != NULL, "logged");
    free(log);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof(dir), "%s", tlsgen_dir());
    tlsgen_id_t ca = tlsgen_make("test CA", NULL, NULL, -1, 30);
    tlsgen_id_t leaf = tlsgen_make("localhost", "DNS:localhost", &ca, -1, 30);
    tlsgen_write(dir, "leaf", &leaf, &ca);
    tlsgen_write(dir, "ca", &ca, NULL);
    snprintf(chain, sizeof(chain), "%s/leaf.pem", dir);
    snprintf(key, sizeof(key), "%s/leaf.key", dir);
    snprintf(log_path, sizeof(log_path), "%s/access.log", dir);
    snprintf(listen_value, sizeof(listen_value), "tls://127.0.0.1:0 cert=%s key=%s", chain, key);
    char ca_path[128];
    snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, ca_path, NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

    test_request_over_tls(ctx);
    empty_log();
    test_plain_on_tls_port();
    empty_log();
    test_failed_and_silent();

    SSL_CTX_free(ctx);
    tlsgen_free(&ca);
    tlsgen_free(&leaf);
    tlsgen_cleanup(dir);
    return tap_done();
}
