/* Tests for the reverse proxy's pieces that need no sockets (src/modules/proxy): upstream URLs,
 * trusted networks, the consistent-hash ring and the balancing order, passive health, the
 * configuration (lists replaced per path, the flat --proxy mount, mistakes with their line),
 * response fields passed on, and when a response is gzipped. The request path is exercised
 * end to end by tests/integration/test_proxy*.py. */
#define _GNU_SOURCE
#include "../../../src/modules/proxy/proxy.h"
#include "lib/fake_req.h"
#include "tap.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

static void test_urls(void)
{
    char host[256], err[256];
    uint16_t port;
    bool tls;
    const char *path;
    ok(hs__proxy_parse_url("http://127.0.0.1:9000", host, sizeof(host), &port, &tls, &path, err, sizeof(err)) == HS_OK &&
           !strcmp(host, "127.0.0.1") && port == 9000 && !path,
       "an address and a port, no path");
    ok(hs__proxy_parse_url("http://backend.internal/base/", host, sizeof(host), &port, &tls, &path, err, sizeof(err)) ==
               HS_OK &&
           !strcmp(host, "backend.internal") && port == 80 && path && !strcmp(path, "/base/"),
       "a name, port 80 by default, a path");
    ok(hs__proxy_parse_url("HTTP://[::1]:8080/", host, sizeof(host), &port, &tls, &path, err, sizeof(err)) == HS_OK &&
           !strcmp(host, "::1") && port == 8080,
       "an IPv6 literal, the scheme in any case");
    static const char *const bad[] = {
        "https://",            "ftp://a.test",     "http://",          "http://:80",  "http://a.test:0",
        "http://a.test:70000", "http://a.test:x",  "http://u@a.test",  "http://[::1", "http://[zz]:1",
        "http://a.test/x y",   "http://a.test/?q", "http://a.test/#f", "a.test:80",
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad); i++) {
        err[0] = '\0';
        ok(hs__proxy_parse_url(bad[i], host, sizeof(host), &port, &tls, &path, err, sizeof(err)) == HS_ERROR && err[0],
           "refused: %s (%s)", bad[i], err);
    }
    ok(hs__proxy_parse_url("https://a.test", host, sizeof(host), &port, &tls, &path, err, sizeof(err)) == HS_OK &&
           tls && port == 443 && !strcmp(host, "a.test") && !path,
       "https: TLS, port 443 by default");
    ok(hs__proxy_parse_url("HTTPS://[::1]:8443/x", host, sizeof(host), &port, &tls, &path, err, sizeof(err)) == HS_OK &&
           tls && port == 8443 && !strcmp(host, "::1") && path && !strcmp(path, "/x"),
       "https with an IPv6 literal, a port and a path");
    ok(hs__proxy_parse_url("http://a.test", host, sizeof(host), &port, &tls, &path, err, sizeof(err)) == HS_OK && !tls,
       "http: no TLS");
}

static void test_cidrs(void)
{
    hs_cidr_t c[8];
    char err[256];
    int n = hs__proxy_parse_cidrs("10.0.0.0/8, 127.0.0.1 ::1,2001:db8::/32", c, 8, err, sizeof(err));
    is_int(n, 4, "four entries");
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET, "10.1.2.3", &a4.sin_addr);
    ok(hs__proxy_cidr_match(c, n, (struct sockaddr *)&a4), "10.1.2.3 in 10.0.0.0/8");
    inet_pton(AF_INET, "11.1.2.3", &a4.sin_addr);
    ok(!hs__proxy_cidr_match(c, n, (struct sockaddr *)&a4), "11.1.2.3 is not");
    inet_pton(AF_INET6, "::ffff:10.9.9.9", &a6.sin6_addr);
    ok(hs__proxy_cidr_match(c, n, (struct sockaddr *)&a6), "a v4-mapped client counts as v4");
    inet_pton(AF_INET6, "2001:db8:ffff::1", &a6.sin6_addr);
    ok(hs__proxy_cidr_match(c, n, (struct sockaddr *)&a6), "2001:db8::/32");
    inet_pton(AF_INET6, "2001:db9::1", &a6.sin6_addr);
    ok(!hs__proxy_cidr_match(c, n, (struct sockaddr *)&a6), "2001:db9:: is not");
    ok(hs__proxy_parse_cidrs("10.0.0.0/33", c, 8, err, sizeof(err)) < 0, "prefix too long: %s", err);
    ok(hs__proxy_parse_cidrs("ten", c, 8, err, sizeof(err)) < 0, "not an address: %s", err);
    ok(hs__proxy_parse_cidrs("1.1.1.1,2.2.2.2", c, 1, err, sizeof(err)) < 0, "too many: %s", err);
    is_int(hs__proxy_parse_cidrs("", c, 8, err, sizeof(err)), 0, "empty: none");
}

/* A configuration from YAML, validated. */
static int load(hs_config_t *cfg, const char *yaml, char *err, size_t errlen)
{
    hs_config_defaults(cfg);
    if (hs_config_load_yaml(cfg, "t.yaml", yaml, strlen(yaml), err, errlen) != HS_OK)
        return HS_ERROR;
    return hs_config_validate(cfg, err, errlen);
}

static const hs_pathconf_t *path_of(hs_config_t *cfg, const char *host, const char *path)
{
    bool known;
    return hs_config_lookup(cfg, hs_iov_cstr(host), hs_iov_cstr(path), &known);
}

static const proxy_conf_t *pconf(const hs_pathconf_t *p)
{
    return p->cfg->mod[hs_module_proxy.index];
}

static void test_config(void)
{
    hs_config_t cfg;
    char err[512];
    int r = load(&cfg,
                 "hosts:\n"
                 "  a.test:\n"
                 "    proxy: {errors: detailed}\n"
                 "    paths:\n"
                 "      /app: {proxy: {upstreams: [\"http://127.0.0.1:9000\", \"http://127.0.0.1:9001/v1\"]}}\n"
                 "      /app/admin: {proxy: {upstreams: [\"http://127.0.0.1:9100\"], errors: timeouts}}\n"
                 "      /app/static: {proxy: {balance: hash, hash_key: \"header:X-User\"}}\n",
                 err, sizeof(err));
    ok(r == HS_OK, "a configuration with proxied paths: %s", r == HS_OK ? "" : err);
    if (r == HS_OK) {
        const proxy_conf_t *app = pconf(path_of(&cfg, "a.test", "/app/x"));
        const proxy_conf_t *admin = pconf(path_of(&cfg, "a.test", "/app/admin/x"));
        const proxy_conf_t *st = pconf(path_of(&cfg, "a.test", "/app/static/x"));
        ok(app->list && app->list->nt == 2 && app->mode == HS_PROXY_ERRORS_DETAILED, "/app: two upstreams, detailed");
        ok(app->list->t[1].path && !strcmp(app->list->t[1].path, "/v1") && !app->list->t[0].path,
           "a URL's path, without its trailing slash; none for the other");
        ok(admin->list != app->list && admin->list->nt == 1 && admin->mode == HS_PROXY_ERRORS_TIMEOUTS,
           "/app/admin: its own list replaces the inherited one");
        ok(st->list == app->list && st->lb == PROXY_LB_HASH && st->key == PROXY_KEY_HEADER &&
               !strcmp(st->key_name, "x-user"),
           "/app/static: shares /app's list, hashes a header (lowercased)");
        const proxy_registry_t *reg = hs__proxy_registry(&cfg);
        ok(reg && reg->nups == 3 && reg->names == NULL, "three upstreams, no names to resolve");
        ok(path_of(&cfg, "a.test", "/app")->handler == hs_module_proxy.index, "the path's handler is the proxy");
    }
    hs_config_free(&cfg);

    /* hs_conf_schema_t.phases: the proxy's log handler runs where it has upstreams, and is skipped
     * elsewhere; it has no rewrite or access work anywhere (idle[]: rewrite, access, log) */
    r = load(&cfg,
             "hosts:\n"
             "  a.test:\n"
             "    paths:\n"
             "      /: {root: /tmp}\n"
             "      /app: {proxy: {upstreams: [\"http://127.0.0.1:9000\"]}}\n",
             err, sizeof(err));
    ok(r == HS_OK, "a proxied path beside a static one: %s", r == HS_OK ? "" : err);
    if (r == HS_OK) {
        uint32_t bit = 1u << hs_module_proxy.index;
        const hs_pathconf_t *app = path_of(&cfg, "a.test", "/app/x"), *st = path_of(&cfg, "a.test", "/x");
        ok(!(app->idle[2] & bit) && (app->idle[0] & bit) && (app->idle[1] & bit),
           "/app: the proxy logs there, no rewrite or access work");
        ok((st->idle[0] & bit) && (st->idle[1] & bit) && (st->idle[2] & bit), "/: the proxy is idle in every phase");
    }
    hs_config_free(&cfg);

    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"hosts:\n  a.test:\n    paths:\n      /x: {proxy: {upstreams: [\"http://a.test\", \"gopher://b\"]}}\n",
         "t.yaml:4: "},
        {"hosts:\n  a.test:\n    paths:\n      /x:\n        proxy:\n          upstreams: [\"http://a.test\"]\n"
         "          errors: loud\n",
         "t.yaml:7: "},
        {"hosts:\n  a.test:\n    paths:\n      /x:\n        proxy:\n          upstreams: [\"http://a.test\"]\n"
         "          balance: random\n",
         "t.yaml:7: "},
        {"hosts:\n  a.test:\n    paths:\n      /x:\n        proxy:\n          upstreams: [\"http://a.test\"]\n"
         "          trusted_proxies: \"10.0.0.0/99\"\n",
         "t.yaml:7: "},
        {"hosts:\n  a.test:\n    paths:\n      /x:\n        proxy:\n          upstreams: [\"http://a.test\"]\n"
         "          health_check: healthz\n",
         "t.yaml:7: "},
        {"proxy: {upstreams: [\"http://a.test\"]}\nhosts:\n  a.test:\n    paths:\n      /: {api: true}\n",
         "t.yaml:1: "},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad); i++) {
        err[0] = '\0';
        r = load(&cfg, bad[i].yaml, err, sizeof(err));
        ok(r == HS_ERROR && strstr(err, bad[i].want), "mistake %zu reported at its line: %s", i, err);
        hs_config_free(&cfg);
    }
}

static void test_flat_mount(void)
{
    hs_config_t cfg;
    char err[512];
    hs_config_defaults(&cfg);
    ok(hs_config_set(&cfg, hs_config_find("proxy"), "http://127.0.0.1:9000", err, sizeof(err)) == HS_OK &&
           hs_config_set(&cfg, hs_config_find("proxy"), "http://127.0.0.1:9001", err, sizeof(err)) == HS_OK,
       "--proxy twice");
    int r = hs_config_validate(&cfg, err, sizeof(err));
    ok(r == HS_OK, "validates: %s", r ? err : "");
    if (r == HS_OK) {
        const hs_pathconf_t *root = path_of(&cfg, "x", "/anything");
        const hs_pathconf_t *api = path_of(&cfg, "x", "/_api/get");
        const hs_pathconf_t *codes = path_of(&cfg, "x", "/codes/502");
        ok(root && root->handler == hs_module_proxy.index && pconf(root)->list->nt == 2, "/ is proxied to both");
        ok(api && api->handler != hs_module_proxy.index, "the API moved under /_api");
        ok(codes && codes->handler != hs_module_proxy.index, "/codes stays statusd's");
    }
    hs_config_free(&cfg);

    hs_config_defaults(&cfg);
    hs_config_set(&cfg, hs_config_find("proxy"), "http://127.0.0.1:9000", err, sizeof(err));
    hs_config_set(&cfg, hs_config_find("root"), "/tmp", err, sizeof(err));
    r = hs_config_validate(&cfg, err, sizeof(err));
    ok(r == HS_ERROR && strstr(err, "would both serve /"), "--proxy with --root is refused: %s", err);
    hs_config_free(&cfg);
}

static void test_ring_and_pick(void)
{
    hs_config_t cfg;
    char err[512];
    int r = load(&cfg,
                 "hosts:\n  a.test:\n    paths:\n"
                 "      /h: {proxy: {upstreams: [\"http://10.0.0.1\", \"http://10.0.0.2\", \"http://10.0.0.3\"], "
                 "balance: hash}}\n"
                 "      /r: {proxy: {upstreams: [\"http://10.0.0.1\", \"http://10.0.0.2\", \"http://10.0.0.3\"]}}\n",
                 err, sizeof(err));
    ok(r == HS_OK, "three upstreams: %s", r ? err : "");
    if (r != HS_OK)
        return;
    const proxy_conf_t *h = pconf(path_of(&cfg, "a.test", "/h")), *rr = pconf(path_of(&cfg, "a.test", "/r"));
    const proxy_registry_t *reg = hs__proxy_registry(&cfg);
    proxy_uw_t u[8] = {{0}};
    unsigned cursors[8] = {0};
    proxy_view_t pw = {.reg = reg, .u = u, .rr = cursors};
    ok(h->list->nring == 3 * PROXY_RING_POINTS, "ring points");
    bool sorted = true;
    for (size_t i = 1; i < h->list->nring; i++)
        sorted &= h->list->ring_hash[i - 1] <= h->list->ring_hash[i];
    ok(sorted, "the ring is sorted");
    int counts[3] = {0}, idx, same = 0;
    for (int k = 0; k < 3000; k++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "user-%d", k);
        uint32_t hk = hs__proxy_hash(key, (size_t)n);
        const proxy_target_t *t = hs__proxy_pick(&pw, h, 0, hk, 1000, &idx);
        counts[idx]++;
        const proxy_target_t *t2 = hs__proxy_pick(&pw, h, 0, hk, 1000, &idx);
        same += t == t2;
        /* without the first choice, the key moves to another, the same one every time */
        int first = (int)(t - h->list->t);
        const proxy_target_t *t3 = hs__proxy_pick(&pw, h, 1ull << first, hk, 1000, &idx);
        const proxy_target_t *t4 = hs__proxy_pick(&pw, h, 1ull << first, hk, 1000, &idx);
        same += t3 == t4 && t3 != t ? 0 : -100000;
    }
    ok(same == 3000, "one key, one upstream; and a stable second choice");
    ok(counts[0] > 700 && counts[1] > 700 && counts[2] > 700, "keys spread: %d %d %d", counts[0], counts[1], counts[2]);
    /* round robin from the cursor, skipping what was tried */
    int seq[6];
    for (int k = 0; k < 6; k++) {
        hs__proxy_pick(&pw, rr, 0, 0, 1000, &idx);
        seq[k] = idx;
    }
    ok(seq[0] != seq[1] && seq[1] != seq[2] && seq[0] == seq[3] && seq[1] == seq[4], "round robin: %d %d %d %d", seq[0],
       seq[1], seq[2], seq[3]);
    hs__proxy_pick(&pw, rr, 0x3, 0, 1000, &idx);
    is_int(idx, 2, "tried 0 and 1: 2");
    ok(hs__proxy_pick(&pw, rr, 0x7, 0, 1000, &idx) == NULL, "all tried: none");
    /* passive health: one failure takes an upstream out for fail_timeout, a success brings it back */
    proxy_upstream_t *up0 = rr->list->t[0].up;
    hs__proxy_health_failed(rr, up0, 1000);
    ok(!hs__proxy_usable(up0, 1000 + rr->fail_timeout - 1, false), "out after a failure");
    ok(hs__proxy_usable(up0, 1000 + rr->fail_timeout, false), "back after fail_timeout");
    ok(hs__proxy_usable(up0, 1001, true), "a path's only upstream stays in");
    hs__proxy_health_failed(rr, up0, 20000);
    ok(!hs__proxy_usable(up0, 20000 + rr->fail_timeout, false), "failing again: out twice as long");
    is_int((long long)hs__proxy_next_up(rr, 20000), (long long)(20000 + 2 * rr->fail_timeout), "when it is back");
    for (int k = 0; k < 6; k++) {
        hs__proxy_pick(&pw, rr, 0, 0, 20001, &idx);
        ok(idx != 0, "while out it is not chosen (%d)", idx);
    }
    hs__proxy_health_ok(up0);
    ok(hs__proxy_usable(up0, 20001, false), "a success brings it back");
    hs_config_free(&cfg);
}

static void test_response_fields(void)
{
    fake_req_t f;
    hs_req_t *req = fake_req_set(&f, HS_METHOD_GET, NULL);
    hs_arena_init(&req->arena);
    /* the fields as the response parser leaves them (the functions' contract: tokens set, every
     * field in the one buffer it read) */
    static const char head[] = "HTTP/1.1 200 OK\r\n"
                               "Connection: X-Secret, close\r\n"
                               "X-Secret: s\r\n"
                               "Keep-Alive: timeout=5\r\n"
                               "Transfer-Encoding: chunked\r\n"
                               "Date: then\r\n"
                               "Server: up\r\n"
                               "Proxy-Status: edge; received-status=200\r\n"
                               "Upgrade: h2c\r\n"
                               "ETag: \"e\"\r\n"
                               "Set-Cookie: a=1\r\n"
                               "\r\n";
    char *buf = strdup(head);
    hs_header_t in[16];
    hs_parsed_res_t pr = {.headers = in};
    hs_parse_limits_t lim = {.max_headers = 16, .max_field = 1024, .max_head = 4096};
    ok(hs_parse_response(buf, strlen(buf), &pr, &lim) == (int)strlen(buf) && pr.num_headers == 10, "head parsed");
    hs_buf_t ps = {0};
    hs__proxy_response_fields(req, in, pr.num_headers, false, &ps);
    is_int(req->num_res_headers, 2, "only ETag and Set-Cookie go on");
    ok(req->num_res_headers == 2 && HS_IOV_EQ(req->res_headers[0].name, "ETag") &&
           HS_IOV_EQ(req->res_headers[1].value, "a=1") &&
           !(req->res_headers[1].value.base >= buf && req->res_headers[1].value.base < buf + strlen(head)),
       "in order, copied");
    ok(ps.len && !memcmp(ps.base, "edge; received-status=200", ps.len), "Proxy-Status of a further gateway kept");
    hs_buf_free(&ps);
    hs_res_header_t out[16];
    size_t n = hs__proxy_copy_fields(req, in, pr.num_headers, out);
    is_int(n, 3, "interim and trailer fields: the same rules (Proxy-Status too)");
    ok(hs__proxy_hop_by_hop(HS_IOV("TE")) && hs__proxy_hop_by_hop(HS_IOV("proxy-connection")) &&
           !hs__proxy_hop_by_hop(HS_IOV("trailer")),
       "hop-by-hop names");
    free(buf);
    fake_req_done(req);
}

static void test_gzip_wanted(void)
{
    hs_config_t cfg;
    char err[512];
    int r = load(
        &cfg, "hosts:\n  a.test:\n    paths:\n      /: {proxy: {upstreams: [\"http://10.0.0.1\"], compress: true}}\n",
        err, sizeof(err));
    ok(r == HS_OK, "compress on: %s", r ? err : "");
    if (r != HS_OK)
        return;
    const proxy_conf_t *pc = pconf(path_of(&cfg, "a.test", "/"));
    hs_header_t h[3] = {{.name = HS_IOV("Content-Type"), .value = HS_IOV("application/problem+json")},
                        {.name = HS_IOV("Cache-Control"), .value = HS_IOV("max-age=5")}};
    hs_parsed_res_t res = {.status = 200, .headers = h, .num_headers = 2};
    hs_res_meta_t meta = {.framing = HS_FRAMING_LENGTH, .content_length = 5000};
    fake_req_t f;
    hs_req_t *req = fake_req_set(&f, HS_METHOD_GET, (const char *[]){"Accept-Encoding", "gzip;q=0.1", NULL});
    ok(hs__proxy_gzip_wanted(req, pc, &res, &meta), "a +json 200 to a client taking gzip");
    meta.content_length = 100;
    ok(!hs__proxy_gzip_wanted(req, pc, &res, &meta), "not a tiny one");
    meta.content_length = 5000;
    res.status = 206;
    ok(!hs__proxy_gzip_wanted(req, pc, &res, &meta), "not a 206");
    res.status = 200;
    h[1].value = HS_IOV("public, no-transform");
    ok(!hs__proxy_gzip_wanted(req, pc, &res, &meta), "not with no-transform (RFC 9111 §5.2.2.6)");
    h[1].value = HS_IOV("max-age=5");
    h[2] = (hs_header_t){.name = HS_IOV("Content-Encoding"), .value = HS_IOV("br")};
    res.num_headers = 3;
    ok(!hs__proxy_gzip_wanted(req, pc, &res, &meta), "not when coded already");
    res.num_headers = 2;
    h[0].value = HS_IOV("image/png");
    ok(!hs__proxy_gzip_wanted(req, pc, &res, &meta), "not an image");
    h[0].value = HS_IOV("text/html; charset=utf-8");
    req = fake_req_set(&f, HS_METHOD_GET, (const char *[]){"Accept-Encoding", "gzip;q=0, *", NULL});
    ok(!hs__proxy_gzip_wanted(req, pc, &res, &meta), "not when gzip;q=0, whatever * says");
    req = fake_req_set(&f, HS_METHOD_GET, (const char *[]){"Accept-Encoding", "br, *;q=0.5", NULL});
    ok(hs__proxy_gzip_wanted(req, pc, &res, &meta), "* covers gzip");
    req->no_body = true;
    ok(!hs__proxy_gzip_wanted(req, pc, &res, &meta), "not for HEAD");
    hs_config_free(&cfg);
}

int main(void)
{
    test_urls();
    test_cidrs();
    test_config();
    test_flat_mount();
    test_ring_and_pick();
    test_response_fields();
    test_gzip_wanted();
    return tap_done();
}
