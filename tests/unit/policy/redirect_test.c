/* Unit tests: redirect templates and the loop check (src/modules/policy/redirect.c). */
#define _GNU_SOURCE
#include "../../../src/modules/policy/policy.h"
#include "tap.h"

static hs_arena_t arena;

static void expand(const char *tmpl, const char *scheme, const char *host, const char *path, const char *query,
                   const char *prefix, const char *want)
{
    hs__redirect_t *r = NULL;
    char err[256] = "";
    hs_iovec_t out = HS_IOV_NULL;
    const char *detail = NULL;
    int rc = hs__redirect_compile(tmpl, &r, err, sizeof(err));
    if (rc == HS_OK) {
        hs__redirect_req_t req = {hs_iov_cstr(scheme), hs_iov_cstr(host), hs_iov_cstr(path),
                                  query ? hs_iov_cstr(query) : HS_IOV_NULL, hs_iov_cstr(prefix ? prefix : "/")};
        rc = hs__redirect_expand(r, &req, &arena, &out, &detail);
    }
    if (want)
        ok(rc == HS_OK && strcmp(out.base, want) == 0, "%s [%s %s %s] -> %s (got %s%s)", tmpl, host, path,
           query ? query : "(none)", want, rc == HS_OK ? out.base : "error: ",
           rc == HS_OK ? ""
           : detail    ? detail
                       : err);
    else
        ok(rc == HS_ERROR && detail, "%s [host %s]: refused at expansion (%s)", tmpl, host, detail ? detail : err);
    hs__redirect_free(r);
}

static void bad(const char *tmpl, const char *want_substr)
{
    hs__redirect_t *r = NULL;
    char err[256] = "";
    ok(hs__redirect_compile(tmpl, &r, err, sizeof(err)) == HS_ERROR && !r && strstr(err, want_substr),
       "'%s' refused: %s", tmpl, err);
}

typedef struct scope_s {
    const char *const *hosts;
    bool http, https;
    const char *prefix;
    bool (*reaches)(void *ctx, hs_iovec_t scheme, hs_iovec_t host, hs_iovec_t path);
} scope_t;

static void loop(const char *tmpl, scope_t sc, bool want_loop, const char *name)
{
    hs__redirect_t *r = NULL;
    char err[512] = "";
    if (hs__redirect_compile(tmpl, &r, err, sizeof(err)) != HS_OK) {
        ok(0, "%s: does not compile: %s", tmpl, err);
        return;
    }
    hs__redirect_scope_t s = {sc.hosts, sc.http, sc.https, hs_iov_cstr(sc.prefix), sc.reaches, NULL};
    int rc = hs__redirect_check_loop(r, &s, err, sizeof(err));
    ok(want_loop ? rc == HS_ERROR && strstr(err, "redirect loop") : rc == HS_OK, "%s: %s on %s -> %s%s%s", name, tmpl,
       sc.prefix, want_loop ? "loop" : "no loop", rc == HS_ERROR ? ": " : "", rc == HS_ERROR ? err : "");
    hs__redirect_free(r);
}

static bool www_elsewhere(void *ctx, hs_iovec_t scheme, hs_iovec_t host, hs_iovec_t path)
{
    return !HS_IOV_EQ(host, "www.example.com"); /* a host of its own in the configuration */
}

int main(void)
{
    hs_arena_init(&arena);
    /* ---- expansion ---- */
    const char *T = "https://example.com/new$path?$query";
    expand(T, "http", "a.example", "/a/b", "x=1", NULL, "https://example.com/new/a/b?x=1");
    expand(T, "http", "a.example", "/a/b", NULL, NULL, "https://example.com/new/a/b");
    expand(T, "http", "a.example", "/a/b", "", NULL, "https://example.com/new/a/b");
    expand("$scheme://$host$path", "http", "example.org:8080", "/a", NULL, NULL, "http://example.org:8080/a");
    expand("${scheme}://${host}${path}x", "https", "[2001:db8::1]:8443", "/a/", NULL, NULL,
           "https://[2001:db8::1]:8443/a/x");
    expand("//$host/moved$path", "http", "example.org", "/p", NULL, NULL, "//example.org/moved/p");
    expand("/archive${rest}", "http", "h", "/old/a%20b", NULL, "/old", "/archive/a%20b");
    expand("/archive$rest", "http", "h", "/old", NULL, "/old", "/archive");
    expand("/archive$rest", "http", "h", "/old/", NULL, "/old/", "/archive/");
    expand("https://new.example$rest?$query", "http", "h", "/old/x", "q=%2F", "/old", "https://new.example/x?q=%2F");

    /* percent-encoding per component */
    expand("/to$path", "http", "h", "/a b\"<c>\\d^e`{f}|", NULL, NULL, "/to/a%20b%22%3Cc%3E%5Cd%5Ee%60%7Bf%7D%7C");
    expand("/to$path", "http", "h", "/a%2Fb/%zz/%4", NULL, NULL, "/to/a%2Fb/%25zz/%254");
    expand("/to$path", "http", "h", "/caf\xc3\xa9/x;p=1/@:!$&'()*+,=", NULL, NULL, "/to/caf%C3%A9/x;p=1/@:!$&'()*+,=");
    expand("/to?$query", "http", "h", "/", "a=1&b=/x?y#frag z", NULL, "/to?a=1&b=/x?y%23frag%20z");
    expand("/q/$query/end", "http", "h", "/", "a?b/c#d", NULL, "/q/a%3Fb/c%23d/end");
    expand("/login?next=$path&h=$host", "http", "a b", "/x", NULL, NULL, "/login?next=/x&h=a%20b");
    expand("/login?from=$scheme", "https", "h", "/", NULL, NULL, "/login?from=https");
    expand("https://$host/x", "http", "evil.example/x", "/", NULL, NULL, NULL);
    expand("https://$host/x", "http", "user@evil.example", "/", NULL, NULL, NULL);
    expand("https://$host/x", "http", "", "/", NULL, NULL, NULL);
    expand("/price$$5", "http", "h", "/", NULL, NULL, "/price$5");
    expand("/b?a=1&$query", "http", "h", "/", NULL, NULL, "/b?a=1");
    expand("/b?$query#top", "http", "h", "/", NULL, NULL, "/b#top");
    expand("/b?$query&z=1", "http", "h", "/", NULL, NULL, "/b?&z=1");
    expand("/b?$query", "http", "h", "/", "k", NULL, "/b?k");
    /* the path is the normal form: "//evil.example/x" was normalised to "/evil.example/x" */
    expand("$path", "http", "h", "/evil.example/x", NULL, NULL, "/evil.example/x");
    char longp[9000];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    expand("/x$path", "http", "h", longp, NULL, NULL, NULL);

    /* a relative reference cannot be turned into another scheme or host by a value */
    expand("/$path", "http", "h", "/evil.example/x", NULL, NULL, "/evil.example/x");
    expand("/${rest}/x", "http", "h", "/old", NULL, "/old", "/x");
    expand("https://h/$path", "http", "h", "/a", NULL, NULL, "https://h/a");
    expand("x$rest", "http", "h", "/old/javascript:alert(1)", NULL, "/old", "x/javascript:alert(1)");
    expand("a$query", "http", "h", "/", "javascript:alert(1)", NULL, "ajavascript%3Aalert(1)");
    expand("./$query", "http", "h", "/", "//evil.example", NULL, ".///evil.example");

    /* ---- compile errors ---- */
    bad("$query", "cannot start with $query");
    bad("${query}/x", "cannot start with $query");
    bad("/a$rest}", "column 8: a character a URI cannot hold");
    bad("", "empty");
    bad("/a b", "column 3");
    bad("/a\"b", "column 3");
    bad("/caf\xc3\xa9", "column 5");
    bad("/a%zz", "column 3: '%' not followed");
    bad("/a%4", "'%' not followed");
    bad("/$unknown", "unknown variable '$unknown'");
    bad("/${path", "without its '}'");
    bad("/${}x", "unknown variable");
    bad("/x/$host", "$host in the path");
    bad("https://$query/", "$query in the host part");
    bad("a$scheme://x", "$scheme can only start");
    bad("/x$scheme", "$scheme can only start");
    bad("$scheme/x", "must be followed by ://");

    /* ---- loops ---- */
    const char *const ex[] = {"example.com", NULL};
    const char *const exmixed[] = {"Example.COM", NULL};
    scope_t http_ex = {ex, true, false, "/old", NULL};
    loop("/new$rest", http_ex, false, "moved elsewhere");
    loop("/old/new", http_ex, true, "a fixed target under the prefix");
    loop("/old", http_ex, true, "to the prefix itself");
    loop("/old2/x", http_ex, false, "/old2 is not under /old");
    loop("$path", http_ex, true, "to itself");
    loop("https://example.com$path", http_ex, false, "http to https, rule on http only");
    scope_t both_ex = {ex, true, true, "/old", NULL};
    loop("https://example.com$path", both_ex, true, "http to https, rule on both");
    loop("https://other.example$path", both_ex, false, "another host");
    loop("$scheme://$host/old$rest", http_ex, true, "rebuilt to the same URL");
    loop("$scheme://$host/new$rest", http_ex, false, "rebuilt elsewhere");
    loop("/new$path", http_ex, false, "/new/old/… is not under /old");
    scope_t root = {ex, true, false, "/", NULL};
    loop("/new$path", root, true, "on /: the path grows without end");
    loop("https://example.com/$path", root, false, "on / to https, http only");
    loop("?page=2", http_ex, true, "a query-only reference stays on the same path");
    loop("x", http_ex, true, "a relative path resolves under the prefix");
    loop("../elsewhere", http_ex, true, "a relative path resolves against the request (/old/a/b.html: /old/elsewhere)");
    loop("../../../elsewhere", http_ex, false, "... and one that climbs out of the prefix from every witness");
    loop("http://EXAMPLE.com:80/old/x", (scope_t){exmixed, true, false, "/old", NULL}, true,
         "host case and the default port do not matter");
    loop("http://example.com:8080/old/x", http_ex, false, "another port is another authority");
    scope_t catch_all = {NULL, true, true, "/", NULL};
    loop("https://www.example.com$path", catch_all, true, "a catch-all host: any name may come back");
    loop("https://www.example.com$path", (scope_t){NULL, true, true, "/", www_elsewhere}, false,
         "... unless the configuration says that host lives elsewhere");
    loop("https://example.com$path", (scope_t){NULL, true, false, "/", NULL}, false,
         "a catch-all on http only, to https");
    loop("/maintenance.html", (scope_t){ex, true, false, "/", NULL}, true, "a fixed page under the same rule");
    hs_arena_reset(&arena);
    return tap_done();
}
