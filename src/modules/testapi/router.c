/* statusd — the client-testing API module: mounting, the route table, methods (405 with Allow,
 * OPTIONS), CORS for browsers, and the landing page that lists every route.
 *
 * Without --root the API is at / ; with --root it moves under --api-prefix (default /_api);
 * --no-api turns it off. Paths the table does not know are declined, so other modules (static
 * files, /codes) see them. */
#define _GNU_SOURCE
#include "api.h"

#include <stdio.h>

#define OFF(f) offsetof(api_conf_t, f)
HS_DIRECTIVES_BEGIN
static const hs_directive_t directives[] = {
    {"api", HS_DT_BOOL, OFF(api), "true", "BOOL",
     "serve the client-testing API (--no-api turns it off); on a path: that path serves it", 0, 0,
     HS_SCOPE_TOP | HS_SCOPE_PATH},
    {"api_prefix", HS_DT_STRING, OFF(api_prefix), "/_api", "PATH",
     "where the API is mounted when --root is given (a configuration without hosts)", 0, 0, HS_SCOPE_TOP},
    /* caps: over a cap the API answers 400 naming it */
    {"api_max_duration", HS_DT_DURATION, OFF(api_max_duration), "10s", "DURATION",
     "longest delay, drip, stream or hang the API will perform (400 naming the cap beyond)", 1, 3600000, HS_SCOPE_ALL},
    {"api_max_bytes", HS_DT_SIZE, OFF(api_max_bytes), "10m", "SIZE",
     "largest body the API will generate (400 naming the cap beyond)", 1, 1LL << 30, HS_SCOPE_ALL},
    {"allow_redirect_host", HS_DT_STRING, OFF(allow_redirect_host), "", "HOSTS",
     "comma-separated hosts /redirect-to may send clients to besides this server", 0, 0, HS_SCOPE_ALL},
    {"api_trusted_proxies", HS_DT_STRING, OFF(trusted_proxies), "", "CIDRS",
     "comma-separated addresses or CIDR blocks of front proxies whose X-Forwarded-Proto sets the scheme of the "
     "API's URLs (/get's url, absolute redirects); from anyone else it is ignored",
     0, 0, HS_SCOPE_ALL},
};
HS_DIRECTIVES_END
#undef OFF

enum {
    M_GET = 1 << 0, /* and HEAD */
    M_POST = 1 << 1,
    M_PUT = 1 << 2,
    M_PATCH = 1 << 3,
    M_DELETE = 1 << 4,
    M_BREW = 1 << 5,
    M_OTHER = 1 << 6, /* every other known method but TRACE */
    M_ANY = 0x7f,
};

typedef struct {
    const char *path;
    bool prefix; /* `path` ends in '/' and the rest goes to the handler */
    unsigned methods;
    api_handler_t fn;
} route_t;

static int landing(hs_req_t *req, hs_iovec_t rest);

static const route_t routes[] = {
    {"/", false, M_GET, landing},
    /* echo */
    {"/get", false, M_GET, api_r_get},
    {"/post", false, M_POST, api_r_body_echo},
    {"/put", false, M_PUT, api_r_body_echo},
    {"/patch", false, M_PATCH, api_r_body_echo},
    {"/delete", false, M_DELETE, api_r_body_echo},
    {"/anything", false, M_ANY, api_r_anything},
    {"/anything/", true, M_ANY, api_r_anything},
    {"/headers", false, M_GET, api_r_headers},
    {"/ip", false, M_GET, api_r_ip},
    {"/user-agent", false, M_GET, api_r_user_agent},
    {"/dump/request", false, M_ANY, api_r_dump_request},
    {"/response-headers", false, M_GET | M_POST, api_r_response_headers},
    /* status */
    {"/status/", true, M_ANY, api_r_status},
    /* redirects */
    {"/redirect/", true, M_GET, api_r_redirect},
    {"/relative-redirect/", true, M_GET, api_r_relative_redirect},
    {"/absolute-redirect/", true, M_GET, api_r_absolute_redirect},
    {"/redirect-to", false, M_ANY, api_r_redirect_to},
    /* time and size */
    {"/delay/", true, M_ANY, api_r_delay},
    {"/drip", false, M_GET, api_r_drip},
    {"/bytes/", true, M_GET, api_r_bytes},
    {"/stream/", true, M_GET, api_r_stream},
    {"/stream-bytes/", true, M_GET, api_r_stream_bytes},
    {"/range/", true, M_GET, api_r_range},
    {"/sse", false, M_GET, api_r_sse},
    {"/trailers", false, M_GET, api_r_trailers},
    /* caching */
    {"/cache", false, M_GET, api_r_cache},
    {"/cache/", true, M_GET, api_r_cache_n},
    {"/etag/", true, M_GET, api_r_etag},
    /* auth */
    {"/basic-auth/", true, M_GET, api_r_basic_auth},
    {"/hidden-basic-auth/", true, M_GET, api_r_hidden_basic_auth},
    {"/digest-auth/", true, M_ANY, api_r_digest_auth},
    {"/bearer", false, M_GET, api_r_bearer},
    /* cookies and sessions */
    {"/cookies", false, M_GET, api_r_cookies},
    {"/cookies/set", false, M_GET, api_r_cookies_set},
    {"/cookies/set/", true, M_GET, api_r_cookies_set_path},
    {"/cookies/delete", false, M_GET, api_r_cookies_delete},
    {"/session", false, M_GET, api_r_session},
    {"/session/login", false, M_POST, api_r_session_login},
    {"/session/logout", false, M_POST, api_r_session_logout},
    /* formats */
    {"/gzip", false, M_GET, api_r_gzip},
    {"/deflate", false, M_GET, api_r_deflate},
    {"/brotli", false, M_GET, api_r_brotli},
    {"/zstd", false, M_GET, api_r_zstd},
    {"/encoding/utf8", false, M_GET, api_r_utf8},
    {"/html", false, M_GET, api_r_html},
    {"/json", false, M_GET, api_r_json},
    {"/xml", false, M_GET, api_r_xml},
    {"/robots.txt", false, M_GET, api_r_robots},
    {"/deny", false, M_GET, api_r_deny},
    {"/image", false, M_GET, api_r_image},
    {"/image/", true, M_GET, api_r_image},
    {"/base64/", true, M_GET, api_r_base64},
    {"/uuid", false, M_GET, api_r_uuid},
    {"/links/", true, M_GET, api_r_links},
    {"/forms/post", false, M_GET, api_r_forms_post},
    /* status causes */
    {"/forms/reset", false, M_GET | M_POST, api_r_forms_reset},
    {"/coffee", false, M_GET | M_POST | M_BREW, api_r_coffee},
    {"/retry-with", false, M_GET, api_r_retry_with},
    {"/jobs", false, M_POST, api_r_jobs},
    {"/jobs/", true, M_GET, api_r_jobs},
    {"/websocket/echo", false, M_GET, api_r_websocket_echo},
    {"/fault/", true, M_ANY, api_r_fault},
    {"/sink", false, M_POST | M_PUT, api_r_sink},
};

/* One line per route for the landing page. */
static const struct {
    const char *route, *what;
} docs[] = {
    {"/status/{code}",
     "any code of the registry (any method), with the headers it calls for; /status/200,500 picks "
     "at random, /status/200:0.8,500:0.2 by weight; ?sleep=MS; X-HttpStatus-Response-{Name} and "
     "X-HttpStatus-Sleep request headers (httpstat.us); 1xx as real interim responses then 200 (a client "
     "that shows a 103 as the final status does not understand interim responses)"},
    {"/get /post /put /patch /delete", "echo the request for that method (405 with Allow otherwise)"},
    {"/anything[/{path}]", "echo any request but TRACE: args, data, files, form, headers, json, method, origin, url"},
    {"/headers /ip /user-agent", "parts of the request"},
    {"/dump/request", "the request as received (head and body)"},
    {"/response-headers?k=v", "k: v sent as response headers and listed in the body"},
    {"/redirect/{n}", "302 n times, then /get (?absolute=true for absolute URLs)"},
    {"/relative-redirect/{n} /absolute-redirect/{n}", "302 chains with relative or absolute Location"},
    {"/redirect-to?url=&status_code=", "a 300-308 to url: this server only, unless --allow-redirect-host"},
    {"/delay/{s}", "the echo after s seconds"},
    {"/drip?duration=&numbytes=&code=&delay=", "bytes dripped over duration seconds"},
    {"/bytes/{n}?seed=", "n random bytes"},
    {"/stream/{n}", "n JSON lines, chunked"},
    {"/stream-bytes/{n}?chunk_size=&seed=", "n random bytes, chunked"},
    {"/range/{n}", "range requests: 206 single or multipart/byteranges, If-Range, ETag, 416"},
    {"/sse?count=&delay=", "server-sent events (text/event-stream)"},
    {"/trailers?k=v", "a chunked body with k: v in its trailer section (announced by Trailer)"},
    {"/cache", "304 when the request is conditional"},
    {"/cache/{n}", "Cache-Control: public, max-age=n"},
    {"/etag/{etag}", "If-None-Match → 304, If-Match mismatch → 412"},
    {"/basic-auth/{user}/{passwd}", "Basic auth: 401 with WWW-Authenticate until the right credentials"},
    {"/hidden-basic-auth/{user}/{passwd}", "Basic auth that answers 404 instead of 401"},
    {"/digest-auth/{qop}/{user}/{passwd}[/{algorithm}]", "Digest auth (RFC 7616): auth or auth-int; MD5, SHA-256, "
                                                         "SHA-512-256"},
    {"/bearer", "401 with WWW-Authenticate: Bearer without a token"},
    {"/cookies /cookies/set?k=v /cookies/set/{k}/{v} /cookies/delete?k",
     "cookies (set and delete redirect to /cookies)"},
    {"POST /session/login?ttl=S, GET /session, POST /session/logout", "a session cookie: 200 while valid, 440 Login "
                                                                      "Time-out after expiry"},
    {"/gzip /deflate /brotli /zstd", "a compressed JSON body with Content-Encoding"},
    {"/encoding/utf8 /html /json /xml /robots.txt /deny", "documents of each type"},
    {"/image /image/{png,jpeg,webp,svg}", "an image chosen by Accept (406 when none fits) or by name"},
    {"/base64/{value} /uuid /links/{n}/{offset}", "base64 decoding, a v4 UUID, a page of links"},
    {"/forms/post", "an HTML form that posts to /post"},
    {"POST /forms/reset", "205 Reset Content"},
    {"/coffee", "BREW or POST → 418 I'm a teapot (RFC 2324, 7168); GET → the pot"},
    {"/retry-with?require=NAME", "449 Retry With naming the missing parameter, 200 when present"},
    {"POST /jobs?seconds=S, GET /jobs/{id}", "202 Accepted with Location; progress (200) until done, then 303 to the "
                                             "result"},
    {"/websocket/echo", "RFC 6455 echo after 101 Switching Protocols; 426 Upgrade Required without Upgrade"},
    {"/fault/{kind}", "a broken response or connection, on purpose (see below)"},
    {"POST /sink?rate=SIZE&max=SIZE", "take a body as it arrives without holding it: its size and SHA-256; read no "
                                      "faster than rate bytes/s (back-pressure); 413 as soon as it passes max"},
    {"/codes", "what every status code means"},
};

static int landing(hs_req_t *req, hs_iovec_t rest)
{
    static const char *const types[] = {"text/plain", "text/html"};
    bool html = hs_negotiate_type(hs_req_header(req, HS_HDR_ACCEPT), types, 2) == 1;
    hs_buf_t b = {0};
    const char *pf = API_PREFIX(req);
    if (html) {
        HS_BUF_LIT(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">"
                       "<title>statusd client-testing API</title></head>\n<body>\n"
                       "<h1>statusd client-testing API</h1>\n<p>httpbin-compatible routes, every status code of "
                       "the registry and connection faults on demand. Durations and sizes are capped by "
                       "--api-max-duration and --api-max-bytes; asking for more is a 400 that names the cap.</p>\n"
                       "<h2>Routes</h2>\n<dl>\n");
        for (size_t i = 0; i < HS_ARRAY_SIZE(docs); i++) {
            HS_BUF_LIT(&b, "<dt><code>");
            if (!strchr(docs[i].route, ' ') && !strchr(docs[i].route, '{') && !strchr(docs[i].route, '?')) {
                /* /codes belongs to the reference module, linked like the engine's error pages */
                bool ours = docs[i].route[1] && strcmp(docs[i].route, "/codes") != 0;
                hs_buf_printf(&b, "<a href=\"%s%s\">", ours ? pf : "", docs[i].route);
                HS_HTML_CSTR(&b, docs[i].route);
                HS_BUF_LIT(&b, "</a>");
            } else {
                HS_HTML_CSTR(&b, docs[i].route);
            }
            HS_BUF_LIT(&b, "</code></dt><dd>");
            HS_HTML_CSTR(&b, docs[i].what);
            HS_BUF_LIT(&b, "</dd>\n");
        }
        HS_BUF_LIT(&b, "</dl>\n<h2>Faults</h2>\n<table>\n<tr><th>/fault/…</th><th>on the wire</th>"
                       "<th>a correct client reports</th></tr>\n");
        for (size_t i = 0; i < api_num_fault_docs; i++) {
            hs_buf_printf(&b, "<tr><td><code>%s</code></td><td>", api_fault_docs[i].kind);
            HS_HTML_CSTR(&b, api_fault_docs[i].wire);
            HS_BUF_LIT(&b, "</td><td>");
            HS_HTML_CSTR(&b, api_fault_docs[i].client);
            HS_BUF_LIT(&b, "</td></tr>\n");
        }
        HS_BUF_LIT(&b, "</table>\n</body>\n</html>\n");
    } else {
        HS_BUF_LIT(&b, "statusd client-testing API\n\nhttpbin-compatible routes, every status code of the registry and "
                       "connection faults on demand.\nDurations and sizes are capped by --api-max-duration and "
                       "--api-max-bytes (400 naming the cap beyond).\n\nRoutes");
        if (pf[0])
            hs_buf_printf(&b, " (under %s)", pf);
        HS_BUF_LIT(&b, ":\n");
        for (size_t i = 0; i < HS_ARRAY_SIZE(docs); i++)
            hs_buf_printf(&b, "  %s\n      %s\n", docs[i].route, docs[i].what);
        HS_BUF_LIT(&b, "\nFaults, /fault/{kind}:\n");
        for (size_t i = 0; i < api_num_fault_docs; i++)
            hs_buf_printf(&b, "  %s\n      sends: %s\n      a correct client reports: %s\n", api_fault_docs[i].kind,
                          api_fault_docs[i].wire, api_fault_docs[i].client);
    }
    HS_RES_HEADER(req, "Vary", "Accept");
    return api_send_buf(req, 200, &b, html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8");
}

static unsigned method_bit(hs_method_t m)
{
    switch (m) {
    case HS_METHOD_GET:
    case HS_METHOD_HEAD: return M_GET;
    case HS_METHOD_POST: return M_POST;
    case HS_METHOD_PUT: return M_PUT;
    case HS_METHOD_PATCH: return M_PATCH;
    case HS_METHOD_DELETE: return M_DELETE;
    case HS_METHOD_BREW: return M_BREW;
    case HS_METHOD_TRACE: return 0; /* never: it would echo credentials back (cross-site tracing) */
    default: return M_OTHER;
    }
}

static const char *allow_of(hs_req_t *req, unsigned methods)
{
    if (methods == M_ANY)
        return "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
    hs_buf_t b = {0};
    static const struct {
        unsigned bit;
        const char *names;
    } names[] = {{M_GET, "GET, HEAD"}, {M_POST, "POST"},     {M_PUT, "PUT"},
                 {M_PATCH, "PATCH"},   {M_DELETE, "DELETE"}, {M_BREW, "BREW"}};
    for (size_t i = 0; i < HS_ARRAY_SIZE(names); i++)
        if (methods & names[i].bit)
            hs_buf_printf(&b, "%s, ", names[i].names);
    HS_BUF_LIT(&b, "OPTIONS");
    const char *s = hs_arena_strndup(&req->arena, b.base, b.len);
    hs_buf_free(&b);
    return s;
}

/* Routes are matched on the path's normal form below the mount point. */
static int content(hs_req_t *req)
{
    hs_iovec_t path = hs_req_path_below_mount(req);
    const route_t *r = NULL;
    hs_iovec_t rest = HS_IOV("");
    for (size_t i = 0; i < HS_ARRAY_SIZE(routes) && !r; i++) {
        size_t n = strlen(routes[i].path);
        if (routes[i].prefix ? (path.len >= n && memcmp(path.base, routes[i].path, n) == 0)
                             : hs_iov_eq(path, routes[i].path, n)) {
            r = &routes[i];
            rest = hs_iov(path.base + n, path.len - n);
            if (r->prefix && r->fn == api_r_anything)
                rest = HS_IOV("");
        }
    }
    if (!r)
        return HS_DECLINED;
    /* CORS (as httpbin): a browser page on another origin may call the API */
    hs_iovec_t origin = hs_req_header(req, HS_HDR_ORIGIN);
    if (origin.base) {
        hs_res_header(req, HS_IOV("Access-Control-Allow-Origin"), origin);
        HS_RES_HEADER(req, "Access-Control-Allow-Credentials", "true");
        HS_RES_HEADER(req, "Vary", "Origin");
    }
    hs_method_t m = req->p.method_id;
    if (m == HS_METHOD_OPTIONS && !(r->methods & M_OTHER)) {
        req->allow = allow_of(req, r->methods);
        if (origin.base) {
            hs_res_header(req, HS_IOV("Access-Control-Allow-Methods"), hs_iov_cstr(req->allow));
            hs_iovec_t rh = hs_req_header_named(req, "access-control-request-headers");
            if (rh.base)
                hs_res_header(req, HS_IOV("Access-Control-Allow-Headers"), rh);
            HS_RES_HEADER(req, "Access-Control-Max-Age", "3600");
        }
        return hs_res_send(req, 204);
    }
    if (!(method_bit(m) & r->methods))
        return hs_res_method_not_allowed(req, allow_of(req, r->methods));
    return r->fn(req, rest);
}

static int check(hs_config_t *cfg, const hs_pathconf_t *path, void *p, const char **bad, char *err, size_t errlen)
{
    HS_UNUSED(cfg);
    HS_UNUSED(path);
    const api_conf_t *ac = p;
    if (ac->api_prefix && (ac->api_prefix[0] != '/' || strlen(ac->api_prefix) < 2)) {
        snprintf(err, errlen, "api_prefix must start with '/' and name a path, got '%s'", ac->api_prefix);
        *bad = "api_prefix";
        return HS_ERROR;
    }
    const char *at;
    size_t len;
    const char *why = api_cidr_list_error(ac->trusted_proxies, &at, &len);
    if (why) {
        snprintf(err, errlen, "api_trusted_proxies: '%.*s': %s", (int)HS_MIN(len, (size_t)64), at, why);
        *bad = "api_trusted_proxies";
        return HS_ERROR;
    }
    return HS_OK;
}

/* Without hosts the API is at /, or at api_prefix when a root (or --proxy, --proxy-forward) serves /. */
static const char *mount(hs_config_t *cfg, const void *conf, bool flat)
{
    const api_conf_t *ac = conf;
    if (!flat || !ac->api)
        return NULL;
    const hs_directive_t *root = hs_config_find("root");
    bool files = root && *(char **)hs_config_field(cfg, root);
    const hs_directive_t *proxy = hs_config_find("proxy"), *ups = hs_config_find("proxy.upstreams"),
                         *fwd = hs_config_find("proxy.forward");
    bool proxied = (proxy && hs_config_given(cfg, proxy)) || (ups && hs_config_given(cfg, ups)) ||
                   (fwd && hs_config_given(cfg, fwd));
    return files || proxied ? ac->api_prefix : "/";
}

/* Why the API answered as it did (api.h: API_CAUSE_*). */
static const hs_cause_info_t causes[] = {
    [API_CAUSE_STATUS] = {"api:status", 0, {0}, "", "The client asked the API for this status (/status/{code})."},
    [API_CAUSE_FAULT] = {"api:fault", 0, {0}, "", "The client asked the API for a connection fault (/fault/{kind})."},
    [API_CAUSE_CAP] = {"api:cap",
                       400,
                       {0},
                       "api_max_duration",
                       "The request asks for more than a cap allows (api_max_duration, api_max_bytes)."},
};

hs_module_t hs_module_testapi = {
    .name = "testapi",
    .conf = {.name = "testapi",
             .directives = directives,
             .count = HS_ARRAY_SIZE(directives),
             .size = sizeof(api_conf_t),
             .handler = "api",
             .check = check,
             .mount = mount},
    .content = content,
    .causes = causes,
    .ncauses = HS_ARRAY_SIZE(causes),
};
