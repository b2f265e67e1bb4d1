/* statusd — client-testing API: redirects (httpbin).
 *   /redirect/{n}[?absolute=true]   302 n times, then /get (through /relative-redirect)
 *   /relative-redirect/{n}          302 with a relative Location
 *   /absolute-redirect/{n}          302 with an absolute Location built from Host
 *   /redirect-to?url=U&status_code=C   C (300, 301, 302, 303, 305, 307, 308; default 302) to U
 * /redirect-to only points at this server (a relative reference, or an absolute URL whose
 * authority is this request's Host) unless --allow-redirect-host names the other host: an open
 * redirector would let anyone borrow this server's name for phishing. */
#define _GNU_SOURCE
#include "api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <strings.h>

#define MAX_REDIRECTS 1000

static bool redirect_count(hs_req_t *req, hs_iovec_t rest, uint64_t *n)
{
    if (!hs_parse_u64(rest, n) || *n == 0) {
        api_fail(req, 400, "expected a positive number of redirects after the route, got '%.*s'",
                 (int)HS_MIN(rest.len, 32), rest.base);
        return false;
    }
    if (*n > MAX_REDIRECTS) {
        api_fail(req, 400, "at most %d redirects can be chained (a fixed limit of the API)", MAX_REDIRECTS);
        return false;
    }
    return true;
}

static int send_redirect(hs_req_t *req, int status, hs_iovec_t location)
{
    hs_res_header(req, HS_IOV("Location"), location);
    if (!hs_status_allows_body(status))
        return hs_res_send(req, status);
    hs_buf_t b = {0};
    HS_BUF_LIT(&b, "<!DOCTYPE html>\n<title>Redirecting</title>\n<p>Redirecting to <a href=\"");
    hs_html_escape(&b, location.base, location.len);
    HS_BUF_LIT(&b, "\">the target</a>.</p>\n");
    return api_send_buf(req, status, &b, "text/html; charset=utf-8");
}

static hs_iovec_t absolute(hs_req_t *req, hs_iovec_t path)
{
    hs_iovec_t host = api_host(req);
    return hs_arena_printf(&req->arena, "%s://%.*s%.*s", api_scheme(req), (int)host.len, host.base, (int)path.len,
                           path.base);
}

int api_r_redirect(hs_req_t *req, hs_iovec_t rest)
{
    uint64_t n;
    if (!redirect_count(req, rest, &n))
        return HS_OK;
    hs_iovec_t abs;
    bool is_abs = api_query(req, "absolute", &abs) && HS_IOV_IEQ(abs, "true");
    hs_iovec_t path =
        n == 1 ? api_path(req, "/get")
               : api_path(req, "/%s-redirect/%llu", is_abs ? "absolute" : "relative", (unsigned long long)n - 1);
    return send_redirect(req, 302, is_abs ? absolute(req, path) : path);
}

int api_r_relative_redirect(hs_req_t *req, hs_iovec_t rest)
{
    uint64_t n;
    if (!redirect_count(req, rest, &n))
        return HS_OK;
    return send_redirect(
        req, 302, n == 1 ? api_path(req, "/get") : api_path(req, "/relative-redirect/%llu", (unsigned long long)n - 1));
}

int api_r_absolute_redirect(hs_req_t *req, hs_iovec_t rest)
{
    uint64_t n;
    if (!redirect_count(req, rest, &n))
        return HS_OK;
    hs_iovec_t path =
        n == 1 ? api_path(req, "/get") : api_path(req, "/absolute-redirect/%llu", (unsigned long long)n - 1);
    return send_redirect(req, 302, absolute(req, path));
}

/* Is `authority` (host[:port]) one the configuration allows besides this server? */
static bool allowed_host(const hs_req_t *req, hs_iovec_t authority)
{
    const char *list = api_conf(req)->allow_redirect_host;
    if (!list)
        return false;
    hs_iovec_t host = authority;
    if (host.len && host.base[0] != '[') {
        const char *colon = memchr(host.base, ':', host.len);
        if (colon)
            host.len = (size_t)(colon - host.base);
    } else if (host.len) {
        const char *rb = memchr(host.base, ']', host.len);
        if (rb)
            host.len = (size_t)(rb - host.base) + 1;
    }
    hs_iovec_t v = hs_iov_cstr(list), item;
    size_t pos = 0;
    while ((item = hs_list_next(v, &pos)).base) {
        if (HS_IOV_EQ(item, "*"))
            return true; /* any host */
        if (item.len > 2 && item.base[0] == '*' && item.base[1] == '.') {
            /* any name below the domain (not the domain itself), whatever the port */
            size_t n = item.len - 1;
            if (host.len > n && strncasecmp(host.base + host.len - n, item.base + 1, n) == 0)
                return true;
            continue;
        }
        bool has_port = item.len && item.base[item.len - 1] != ']' && memchr(item.base, ':', item.len) &&
                        (item.base[0] != '[' || memchr(item.base, ']', item.len));
        hs_iovec_t against = has_port ? authority : host;
        if (against.len == item.len && strncasecmp(against.base, item.base, item.len) == 0)
            return true;
    }
    return false;
}

/* Is `authority` a name this server is reachable by: the request's own Host, the address the
 * connection came to, any listener's address, and — for a loopback listener — localhost,
 * 127.0.0.1 and [::1] with its port? */
static bool is_this_server(hs_req_t *req, hs_iovec_t authority)
{
    hs_iovec_t here = api_host(req);
    if (authority.len == here.len && strncasecmp(authority.base, here.base, here.len) == 0)
        return true;
    /* without a port the URL means port 80 (RFC 9110 §4.2.1) */
    char with_port[300];
    const char *colon =
        authority.len && authority.base[authority.len - 1] != ']' ? memrchr(authority.base, ':', authority.len) : NULL;
    if (!colon && authority.len < sizeof(with_port) - 4) {
        snprintf(with_port, sizeof(with_port), "%.*s:80", (int)authority.len, authority.base);
        authority = hs_iov_cstr(with_port);
    }
    struct sockaddr_storage local;
    char name[HS_ADDR_MAX];
    if (hs_req_local_addr(req, &local) == HS_OK) {
        size_t n = hs_addr_format((const struct sockaddr *)&local, name, sizeof(name), HS_ADDR_PORT);
        if (authority.len == n && strncasecmp(authority.base, name, n) == 0)
            return true;
    }
    const hs_gen_t *g = req->gen; /* the listeners of the configuration serving it */
    for (size_t i = 0; i < g->num_listen; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&g->listen_addr[i];
        size_t n = hs_addr_format(sa, name, sizeof(name), HS_ADDR_PORT);
        if (authority.len == n && strncasecmp(authority.base, name, n) == 0)
            return true;
        bool loopback =
            (sa->sa_family == AF_INET && (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127) ||
            (sa->sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr));
        if (!loopback)
            continue;
        int port = ntohs(sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                                  : ((const struct sockaddr_in6 *)sa)->sin6_port);
        static const char *const names[] = {"localhost", "127.0.0.1", "[::1]"};
        for (size_t k = 0; k < HS_ARRAY_SIZE(names); k++) {
            int m = snprintf(name, sizeof(name), "%s:%d", names[k], port);
            if (m > 0 && authority.len == (size_t)m && strncasecmp(authority.base, name, (size_t)m) == 0)
                return true;
        }
    }
    return false;
}

/* 0 when `url` may be redirected to; else 400 (not a usable URL) or 403 (another host), with why. */
static int check_target(hs_req_t *req, hs_iovec_t url, const char **why)
{
#define BAD(text)                                                                                                      \
    do {                                                                                                               \
        *why = (text);                                                                                                 \
        return 400;                                                                                                    \
    } while (0)
    if (url.len == 0)
        BAD("the url parameter is empty");
    for (size_t i = 0; i < url.len; i++) {
        unsigned char c = (unsigned char)url.base[i];
        if (c <= 0x20 || c >= 0x7f)
            BAD("the url contains spaces, control or non-ASCII bytes; percent-encode them (RFC 3986)");
    }
    size_t i = 0;
    hs_iovec_t authority = HS_IOV_NULL;
    if (url.len >= 2 && url.base[0] == '/' && url.base[1] == '/') {
        i = 2; /* network-path reference: names a host */
    } else {
        /* scheme ":" … (RFC 3986 §3.1); anything else is a relative reference to this server */
        size_t k = 0;
        while (k < url.len && ((url.base[k] | 0x20) >= 'a' && (url.base[k] | 0x20) <= 'z'))
            k++;
        while (k > 0 && k < url.len &&
               (strchr("+-.", url.base[k]) || (url.base[k] >= '0' && url.base[k] <= '9') ||
                ((url.base[k] | 0x20) >= 'a' && (url.base[k] | 0x20) <= 'z')))
            k++;
        if (k == 0 || k >= url.len || url.base[k] != ':')
            return 0;
        hs_iovec_t scheme = hs_iov(url.base, k);
        if (!HS_IOV_IEQ(scheme, "http") && !HS_IOV_IEQ(scheme, "https"))
            BAD("only http and https URLs (or relative references) can be redirected to");
        if (url.len < k + 3 || url.base[k + 1] != '/' || url.base[k + 2] != '/')
            BAD("an absolute http(s) URL needs an authority (http://host/...)");
        i = k + 3;
    }
    size_t s = i;
    while (i < url.len && url.base[i] != '/' && url.base[i] != '?' && url.base[i] != '#')
        i++;
    authority = hs_iov(url.base + s, i - s);
    if (memchr(authority.base, '@', authority.len))
        BAD("user information in the URL's authority is refused");
#undef BAD
    if (is_this_server(req, authority) || allowed_host(req, authority))
        return 0;
    hs_iovec_t here = api_host(req);
    *why = hs_arena_printf(&req->arena,
                           "redirects only go to this server (%.*s and the names it listens on) or to a relative "
                           "path; start statusd with --allow-redirect-host %.*s (or a pattern such as *.example.com, "
                           "or *) to allow that host",
                           (int)here.len, here.base, (int)HS_MIN(authority.len, 200), authority.base)
               .base;
    return 403;
}

int api_r_redirect_to(hs_req_t *req, hs_iovec_t rest)
{
    hs_iovec_t url, sc;
    if (!api_query(req, "url", &url))
        return api_fail(req, 400, "the url query parameter is required: /redirect-to?url=/get&status_code=307");
    int status = 302;
    if (api_query(req, "status_code", &sc)) {
        uint64_t v;
        if (!hs_parse_u64(sc, &v) ||
            !(v == 300 || v == 301 || v == 302 || v == 303 || v == 305 || v == 307 || v == 308))
            return api_fail(req, 400,
                            "status_code must be a redirect that carries a Location: 300, 301, 302, 303, 305, 307 or "
                            "308 (got '%.*s'); 304 and 306 are not redirects to a URL",
                            (int)HS_MIN(sc.len, 32), sc.base);
        status = (int)v;
    }
    const char *why = NULL;
    int refused = check_target(req, url, &why);
    if (refused)
        return api_fail(req, refused, "%s", why);
    return send_redirect(req, status, url);
}
