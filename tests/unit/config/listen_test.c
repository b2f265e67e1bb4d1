/* Unit tests for listen values (src/config/listen.c): addresses, tls:// and its per-listener
 * options, percent-decoding, errors; the YAML mapping item form (yaml.c) and where a value came
 * from (hs_config_origin); finding a host by name (hs_config_find_host); the TLS directives'
 * words. */
#define _GNU_SOURCE
#include "hs/config.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

static char err[512];

static int parse(const char *text, hs_listen_t *out, char *store)
{
    err[0] = '\0';
    return hs_listen_parse(text, out, store, strlen(text) + 1, err, sizeof(err));
}

static unsigned port_of(const hs_listen_t *l)
{
    const struct sockaddr *sa = (const struct sockaddr *)&l->addr;
    return ntohs(sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                                           : ((const struct sockaddr_in *)sa)->sin_port);
}

static void bad(const char *text, const char *want)
{
    hs_listen_t l;
    char store[512];
    int r = parse(text, &l, store);
    if (!ok(r == HS_ERROR && strstr(err, want), "listen '%s' refused: %s", text, want))
        printf("#   r=%d err='%s'\n", r, err);
}

static void test_parse(void)
{
    hs_listen_t l;
    char store[512];
    ok(parse("127.0.0.1:8080", &l, store) == HS_OK && !l.tls && port_of(&l) == 8080 && l.addr.ss_family == AF_INET &&
           l.early_data == -1 && l.plain_http == HS_PLAIN_HTTP_DEFAULT && !l.cert,
       "a plain address");
    ok(parse("8443", &l, store) == HS_OK && port_of(&l) == 8443 &&
           ((struct sockaddr_in *)&l.addr)->sin_addr.s_addr == htonl(INADDR_ANY),
       "a port alone: every IPv4 interface");
    ok(parse("[::1]:0", &l, store) == HS_OK && l.addr.ss_family == AF_INET6 && port_of(&l) == 0, "IPv6, port 0");
    ok(parse("localhost:1", &l, store) == HS_OK && l.addr.ss_family == AF_INET, "localhost");
    ok(parse("http://127.0.0.1:80", &l, store) == HS_OK && !l.tls, "http:// is plain");
    ok(parse("tls://127.0.0.1:443", &l, store) == HS_OK && l.tls && port_of(&l) == 443 && !l.cert, "tls://");
    ok(parse("TLS://[::]:443", &l, store) == HS_OK && l.tls && l.addr.ss_family == AF_INET6, "TLS:// any case");
    ok(parse("  tls://0.0.0.0:443   cert=/etc/a%20b.pem\tkey=/k  plain_http=redirect early_data=true", &l, store) ==
               HS_OK &&
           l.tls && !strcmp(l.cert, "/etc/a b.pem") && !strcmp(l.key, "/k") && l.plain_http == HS_PLAIN_HTTP_REDIRECT &&
           l.early_data == 1,
       "options, spaces and tabs, a %%-escaped space");
    ok(parse("address=tls://127.0.0.1:0 tls.cert=/c tls.key=/k tls.client_certs.ca=/ca "
             "tls.client_certs.verify=optional tls.ocsp_response=/o tls.plain_http=497 tls.early_data=false",
             &l, store) == HS_OK &&
           l.tls && !strcmp(l.client_ca, "/ca") && !strcmp(l.client_verify, "optional") && !strcmp(l.ocsp, "/o") &&
           l.plain_http == HS_PLAIN_HTTP_497 && l.early_data == 0,
       "the YAML item form: address= and tls.-prefixed names");
    ok(parse("address=127.0.0.1:0 tls.cert=/c", &l, store) == HS_OK && l.tls, "tls.* options make a TLS listener");
    ok(parse("address=127.0.0.1:0 tls=true", &l, store) == HS_OK && l.tls, "tls=true");
    ok(parse("cert=%25 tls://1.2.3.4:5", &l, store) == HS_OK && !strcmp(l.cert, "%"), "the address may come last");

    bad("", "no address");
    bad("cert=/c", "no address");
    bad("a:1", "not an IP address");
    bad("127.0.0.1:", "bad port");
    bad("127.0.0.1:65536", "bad port");
    bad("127.0.0.1:8x", "bad port");
    bad("[::1]8080", "expected [IPv6]:PORT");
    bad("[::1", "expected [IPv6]:PORT");
    bad("1.2.3.4:5 6.7.8.9:10", "two addresses");
    bad("address=1.2.3.4:5 address=1.2.3.4:6", "given twice");
    bad("127.0.0.1:1 cert=/c", "TLS options on a plain listener");
    bad("http://127.0.0.1:1 tls.cert=/c", "http:// with TLS options");
    bad("tls://127.0.0.1:1 tls=false", "tls:// with tls=false");
    bad("tls://127.0.0.1:1 colour=red", "unknown option 'colour'");
    bad("tls://127.0.0.1:1 cert=%zz", "bad %-escape");
    bad("tls://127.0.0.1:1 cert=%2", "bad %-escape");
    bad("tls://127.0.0.1:1 cert=a%00b", "bad %-escape");
    bad("tls://127.0.0.1:1 client_certs.verify=maybe", "off, optional or required");
    bad("tls://127.0.0.1:1 plain_http=301", "497 or redirect");
    bad("tls://127.0.0.1:1 early_data=1", "true or false");
    bad("tls://127.0.0.1:1 key=", "'key' needs a value");

    /* the store is never overrun: exactly strlen + 1 bytes, the longest value */
    const char *t = "tls://1.1.1.1:1 cert=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    size_t n = strlen(t) + 1;
    char *exact = malloc(n);
    ok(hs_listen_parse(t, &l, exact, n, err, sizeof(err)) == HS_OK && strlen(l.cert) == 40, "store of strlen+1");
    ok(hs_listen_parse(t, &l, exact, 10, err, sizeof(err)) == HS_ERROR, "a store too small is an error, not an "
                                                                        "overrun");
    free(exact);
    is_int(hs_listen_verify_word("required"), 2, "verify words");
    is_int(hs_listen_verify_word("Required"), -1, "verify words are lowercase");
    is_int(hs_listen_plain_http_word("redirect"), HS_PLAIN_HTTP_REDIRECT, "plain_http words");
}

static void test_yaml_and_origin(void)
{
    hs_config_t c;
    hs_config_defaults(&c);
    const char *y = "listen:\n"
                    "  - 127.0.0.1:0\n"
                    "  - address: \"tls://127.0.0.1:0\"\n"
                    "    tls: {cert: \"/a b.pem\", key: /k%, client_certs: {ca: /ca, verify: optional}}\n"
                    "tls:\n"
                    "  cert: /top.pem\n"
                    "hosts:\n"
                    "  a.test:\n"
                    "    tls: {cert: /a.pem}\n"
                    "    paths: {/: {api: true}}\n"
                    "  \"*.b.test\": {paths: {/: {api: true}}}\n";
    int r = hs_config_load_yaml(&c, "t.yaml", y, strlen(y), err, sizeof(err));
    ok(r == HS_OK, "YAML with a mapping listen item (%s)", err);
    ok(c.num_listen == 2 && !c.listen_items[0]->tls && c.listen_items[1]->tls, "two listeners, the second TLS");
    const hs_listen_t *l = c.listen_items[1];
    ok(l->cert && !strcmp(l->cert, "/a b.pem") && !strcmp(l->key, "/k%") && !strcmp(l->client_ca, "/ca") &&
           !strcmp(l->client_verify, "optional"),
       "its nested options, spaces and '%%' kept through the text form");
    ok(hs_config_validate(&c, err, sizeof(err)) == HS_OK, "validates (%s)", err);
    char where[256];
    ok(!strcmp(hs_config_origin(&c, NULL, "listen", 1, where, sizeof(where)), "t.yaml:3"), "the item's line: %s",
       where);
    ok(!strcmp(hs_config_origin(&c, NULL, "listen", 0, where, sizeof(where)), "t.yaml:2"), "the first: %s", where);
    ok(!strcmp(hs_config_origin(&c, NULL, "tls.cert", 0, where, sizeof(where)), "t.yaml:6"), "tls.cert: %s", where);
    ok(!strcmp(hs_config_origin(&c, NULL, "tls.key", 0, where, sizeof(where)), ""), "a default has no origin");
    size_t n;
    const hs_hostconf_t *hosts = hs_config_hosts(&c, &n);
    ok(n == 2 && !strcmp(hs_config_origin(&c, &hosts[0], "tls.cert", 0, where, sizeof(where)), "t.yaml:9"),
       "a host's own tls.cert: %s", where);
    ok(!strcmp(hs_config_origin(&c, &hosts[1], "tls.cert", 0, where, sizeof(where)), "t.yaml:6"),
       "a host without one: the top's: %s", where);
    ok(hosts[0].cfg->tls_cert != c.tls_cert && hosts[1].cfg->tls_cert == c.tls_cert,
       "a host's own value is its own string; an inherited one is the top's");
    bool known;
    ok(hs_config_find_host(&c, HS_IOV("A.Test:443"), &known) == &hosts[0] && known, "find a host by name and port");
    ok(hs_config_find_host(&c, HS_IOV("x.b.test."), &known) == &hosts[1] && known, "a wildcard, a trailing dot");
    ok(hs_config_find_host(&c, HS_IOV("b.test"), &known) == &hosts[0] && !known, "unknown: the first, not known");
    hs_config_free(&c);

    /* flags and variables: their origin */
    hs_config_defaults(&c);
    const hs_directive_t *d = hs_config_find("listen");
    ok(hs_config_set(&c, d, "tls://127.0.0.1:0 cert=/x", err, sizeof(err)) == HS_OK, "a flag's listen value");
    ok(!strcmp(hs_config_origin(&c, NULL, "listen", 0, where, sizeof(where)), "command line"), "origin: %s", where);
    ok(hs_config_set(&c, d, "tls://127.0.0.1:0 cert=", err, sizeof(err)) == HS_ERROR && strstr(err, "needs a value"),
       "an empty option value is refused");
    ok(hs_config_set(&c, hs_config_find("tls.client_certs.verify"), "sometimes", err, sizeof(err)) == HS_ERROR &&
           strstr(err, "off, optional or required"),
       "tls.client_certs.verify checks its word (%s)", err);
    ok(hs_config_set(&c, hs_config_find("tls.plain_http"), "redirect", err, sizeof(err)) == HS_OK &&
           !strcmp(c.tls_plain_http, "redirect"),
       "tls.plain_http redirect");
    hs_config_free(&c);
}

static void test_tls_rule(void)
{
    hs_config_t c;
    hs_config_defaults(&c);
    const char *y = "hosts:\n  h:\n    paths:\n      /: {api: true}\n      /a: {require_tls: true}\n"
                    "      /b: {redirect_to_https: true}\n      /a/c: {redirect_to_https: true}\n";
    ok(hs_config_load_yaml(&c, "t.yaml", y, strlen(y), err, sizeof(err)) == HS_OK &&
           hs_config_validate(&c, err, sizeof(err)) == HS_OK,
       "require_tls and redirect_to_https on paths (%s)", err);
    bool known;
    const hs_pathconf_t *p = hs_config_lookup(&c, HS_IOV("h"), HS_IOV("/a/x"), &known);
    ok(p && p->cfg->tls_rule == 426, "require_tls: 426");
    p = hs_config_lookup(&c, HS_IOV("h"), HS_IOV("/b"), &known);
    ok(p && p->cfg->tls_rule == 308, "redirect_to_https: 308");
    p = hs_config_lookup(&c, HS_IOV("h"), HS_IOV("/a/c/d"), &known);
    ok(p && p->cfg->tls_rule == 308, "a path below: redirect wins over require");
    p = hs_config_lookup(&c, HS_IOV("h"), HS_IOV("/x"), &known);
    ok(p && p->cfg->tls_rule == 0, "elsewhere: none");
    hs_config_free(&c);
}

int main(void)
{
    test_parse();
    test_yaml_and_origin();
    test_tls_rule();
    return tap_done();
}
