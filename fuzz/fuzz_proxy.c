/* statusd fuzz target: the gateway's header hygiene (src/modules/proxy/headers.c) on hostile heads.
 *
 * The first input byte picks the direction and a few variations; the rest is a head.
 *   Requests (bit 0 clear): parsed and validated as the engine does (hs_parse_request,
 *     hs_parse_semantics, the path's normal form), from a client address the byte picks (trusted
 *     or not, IPv4 or IPv6), to an upstream without or with a path; what the proxy would send
 *     upstream (hs__proxy_request_fields) must hold no hop-by-hop field (RFC 9110 §7.6.1) nor one
 *     a Connection field named, no framing field (the client writes exactly one), nothing that
 *     folds into one with '_', exactly one Host, at most one Via, Forwarded and X-Forwarded-For,
 *     field values without CR, LF or NUL, and a request-target without spaces or controls.
 *   Responses (bit 0 set): a strict response head (hs_parse_response); the fields relayed to the
 *     client (hs__proxy_response_fields) must hold no hop-by-hop field (Upgrade only for a 101,
 *     which the client needs even when Connection names it), none its Connection named, no
 *     framing, Date, Server or Proxy-Status (ours are written). */
#define _GNU_SOURCE
#include "internal.h"
#include "../src/modules/proxy/proxy.h"
#include "hs/path.h"
#include "fuzz_util.h"

#include <arpa/inet.h>
#include <ctype.h>

static hs_config_t cfg;
static const proxy_conf_t *pc;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    hs_config_defaults(&cfg);
    static const char *const set[][2] = {
        {"proxy", "http://127.0.0.1:9"},
        {"proxy", "http://[::1]:8080/base/"},
        {"proxy.via", "gw1"},
        {"proxy.trusted_proxies", "10.0.0.0/8, 2001:db8::/32"},
    };
    for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
        const hs_directive_t *d = hs_config_find(set[i][0]);
        if (!d || hs_config_set(&cfg, d, set[i][1], err, sizeof(err)) != HS_OK)
            abort();
    }
    if (hs_config_validate(&cfg, err, sizeof(err)) != HS_OK) {
        fprintf(stderr, "fuzz_proxy: %s\n", err);
        abort();
    }
    pc = cfg.mod[hs_module_proxy.index];
    return 0;
}

static bool ieq(hs_iovec_t a, const char *lower)
{
    return hs_iov_ieq(a, lower, strlen(lower));
}

/* The name with '_' read as '-', lowercased, into out (NUL-terminated; cut at 63 bytes). */
static void fold(hs_iovec_t n, char *out)
{
    size_t k = 0;
    for (; k < n.len && k < 63; k++)
        out[k] = n.base[k] == '_' ? '-' : (char)tolower((unsigned char)n.base[k]);
    out[k] = '\0';
}

static void check_value(hs_iovec_t v, const char *what)
{
    for (size_t i = 0; i < v.len; i++)
        FUZZ_CHECK(v.base[i] != '\r' && v.base[i] != '\n' && v.base[i] != '\0', "%s value holds CR, LF or NUL", what);
}

/* Is `name` listed by a Connection field among h[0..n)? */
static bool named_by_connection(const hs_header_t *h, size_t n, hs_iovec_t name)
{
    for (size_t i = 0; i < n; i++) {
        if (!ieq(h[i].name, "connection"))
            continue;
        size_t pos = 0;
        hs_iovec_t o;
        while ((o = hs_list_next(h[i].value, &pos)).base) {
            if (o.len != name.len)
                continue;
            bool same = true;
            for (size_t k = 0; k < o.len && same; k++)
                same = tolower((unsigned char)o.base[k]) == tolower((unsigned char)name.base[k]);
            if (same)
                return true;
        }
    }
    return false;
}

static void request(const uint8_t sel, const uint8_t *data, size_t size)
{
    char *buf = fuzz_dup(data, size);
    hs_header_t hdrs[32];
    hs_parsed_req_t p = {.headers = hdrs};
    const hs_parse_limits_t limits = {.max_uri = 2048, .max_field = 2048, .max_head = 8192, .max_headers = 32};
    hs_conn_t conn;
    hs_req_t req;
    memset(&conn, 0, sizeof(conn));
    memset(&req, 0, sizeof(req));
    hs_arena_init(&req.arena);
    if (hs_parse_request(buf, size, &p, &limits) <= 0 || hs_parse_semantics(&p, &req.meta) != HS_OK)
        goto Exit;
    req.p = p;
    req.conn = &conn;
    const char *why;
    if (p.form != HS_TARGET_ORIGIN && p.form != HS_TARGET_ABSOLUTE)
        goto Exit;
    if (hs_path_normalize_arena(&req.arena, p.path, &req.npath, 0, &why) != 0)
        goto Exit;
    /* the client: 127.0.0.1 (untrusted), 10.1.2.3 (trusted), 2001:db8::5 (trusted), ::1 */
    switch ((sel >> 1) & 3) {
    case 0:
    case 1: {
        struct sockaddr_in *a = (struct sockaddr_in *)&conn.peer;
        a->sin_family = AF_INET;
        inet_pton(AF_INET, (sel >> 1) & 1 ? "10.1.2.3" : "127.0.0.1", &a->sin_addr);
        break;
    }
    default:
        conn.peer.sin6_family = AF_INET6;
        inet_pton(AF_INET6, (sel >> 1) & 1 ? "::1" : "2001:db8::5", &conn.peer.sin6_addr);
        break;
    }
    const proxy_target_t *t = &pc->list->t[(sel >> 3) & 1];
    proxy_fwd_t out;
    hs__proxy_request_fields(&req, pc, t, &out);
    int hosts = 0, vias = 0, fwds = 0, xffs = 0;
    for (size_t i = 0; i < out.n; i++) {
        hs_iovec_t nm = out.h[i].name, v = out.h[i].value;
        char f[64];
        fold(nm, f);
        check_value(v, "forwarded field");
        FUZZ_CHECK(nm.len > 0, "an empty field name");
        bool ours =
            !memchr(nm.base, '_', nm.len) &&
            (!strcmp(f, "host") || !strcmp(f, "via") || !strcmp(f, "forwarded") || !strcmp(f, "x-forwarded-for") ||
             !strcmp(f, "x-forwarded-proto") || !strcmp(f, "x-forwarded-host") || !strcmp(f, "expect"));
        if (!strcmp(f, "connection") || !strcmp(f, "upgrade")) {
            FUZZ_CHECK(req.meta.upgrade, "%s sent for a request that does not upgrade", f);
            FUZZ_CHECK(strcmp(f, "connection") || HS_IOV_EQ(v, "upgrade"), "Connection: %.*s", (int)v.len, v.base);
            ours = true;
        }
        FUZZ_CHECK(strcmp(f, "keep-alive") && strcmp(f, "proxy-connection") && strcmp(f, "te") &&
                       strcmp(f, "transfer-encoding") && strcmp(f, "content-length") &&
                       strcmp(f, "proxy-authorization"),
                   "hop-by-hop or framing field %.*s forwarded", (int)nm.len, nm.base);
        bool owned = !strcmp(f, "host") || !strcmp(f, "via") || !strcmp(f, "forwarded") ||
                     !strcmp(f, "x-forwarded-for") || !strcmp(f, "x-forwarded-proto") || !strcmp(f, "x-forwarded-host");
        FUZZ_CHECK(memchr(nm.base, '_', nm.len) == NULL || !owned, "%.*s folds into a field the gateway owns",
                   (int)nm.len, nm.base);
        if (!strcmp(f, "expect"))
            FUZZ_CHECK(HS_IOV_EQ(v, "100-continue"), "Expect: %.*s", (int)v.len, v.base);
        if (!ours)
            FUZZ_CHECK(!named_by_connection(p.headers, p.num_headers, nm), "%.*s was named by Connection", (int)nm.len,
                       nm.base);
        hosts += !strcmp(f, "host") && nm.len == 4;
        vias += !strcmp(f, "via");
        fwds += !strcmp(f, "forwarded");
        xffs += !strcmp(f, "x-forwarded-for");
    }
    FUZZ_CHECK(hosts == 1 && vias <= 1 && fwds <= 1 && xffs <= 1, "Host %d, Via %d, Forwarded %d, XFF %d", hosts, vias,
               fwds, xffs);
    FUZZ_CHECK(out.target.len > 0 && out.target.base[0] == '/', "target %.*s", (int)out.target.len, out.target.base);
    for (size_t i = 0; i < out.target.len; i++)
        FUZZ_CHECK((unsigned char)out.target.base[i] > 0x20 && out.target.base[i] != 0x7f, "target byte %02x",
                   (unsigned char)out.target.base[i]);
Exit:
    hs_arena_reset(&req.arena);
    free(buf);
}

static void response(const uint8_t sel, const uint8_t *data, size_t size)
{
    char *buf = fuzz_dup(data, size);
    hs_header_t hdrs[32];
    hs_parsed_res_t res = {.headers = hdrs};
    const hs_parse_limits_t limits = {.max_field = 2048, .max_head = 8192, .max_headers = 32};
    hs_req_t req;
    memset(&req, 0, sizeof(req));
    hs_arena_init(&req.arena);
    if (hs_parse_response(buf, size, &res, &limits) <= 0)
        goto Exit;
    bool upgrade = (sel >> 1) & 1;
    hs_buf_t ps = {0};
    hs__proxy_response_fields(&req, res.headers, res.num_headers, upgrade, &ps);
    for (size_t i = 0; i < req.num_res_headers; i++) {
        hs_iovec_t nm = req.res_headers[i].name;
        char f[64];
        fold(nm, f);
        check_value(req.res_headers[i].value, "relayed field");
        FUZZ_CHECK(!ieq(nm, "connection") && !ieq(nm, "keep-alive") && !ieq(nm, "proxy-connection") && !ieq(nm, "te") &&
                       !ieq(nm, "transfer-encoding") && !ieq(nm, "content-length") && !ieq(nm, "date") &&
                       !ieq(nm, "server") && !ieq(nm, "proxy-status"),
                   "%.*s relayed", (int)nm.len, nm.base);
        FUZZ_CHECK(upgrade || !ieq(nm, "upgrade"), "Upgrade relayed without a 101");
        FUZZ_CHECK((upgrade && ieq(nm, "upgrade")) || !named_by_connection(res.headers, res.num_headers, nm),
                   "%.*s was named by Connection", (int)nm.len, nm.base);
    }
    hs_res_header_t copies[32];
    size_t n = hs__proxy_copy_fields(&req, res.headers, res.num_headers, copies);
    FUZZ_CHECK(n <= res.num_headers, "copied %zu of %zu", n, res.num_headers);
    hs_buf_free(&ps);
Exit:
    hs_arena_reset(&req.arena);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        response(data[0], data + 1, size - 1);
    else
        request(data[0], data + 1, size - 1);
    return 0;
}
