/* Unit tests for the cause registry (include/hs/cause.h, src/http/causes.def): every id unique
 * and well formed, every status known to the status registry, each status's default, module
 * tables, and the parsers naming the cause of what they refuse. */
#include "hs/http.h"
#include "tap.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

static hs_parsed_req_t parse(const char *s, hs_header_t *h, int *r)
{
    hs_parsed_req_t p = {.headers = h};
    hs_parse_limits_t lim = {.max_uri = 64, .max_field = 128, .max_head = 512, .max_headers = 8};
    *r = hs_parse_request(s, strlen(s), &p, &lim);
    return p;
}

static void parses_to(const char *req, int status, const char *cause)
{
    hs_header_t h[8];
    int r;
    hs_parsed_req_t p = parse(req, h, &r);
    if (r > 0) {
        hs_req_meta_t meta;
        r = hs_parse_semantics(&p, &meta);
    }
    ok(r == HS_ERROR && p.error == status && strcmp(hs_cause_id(p.error_cause), cause) == 0,
       "%s → %d %s (got %d %s)", cause, status, cause, p.error, hs_cause_id(p.error_cause));
}

static void chunked_to(const char *body, uint64_t max_body, int status, const char *cause)
{
    char buf[256];
    size_t len = strlen(body), consumed;
    memcpy(buf, body, len);
    hs_chunked_t d = {0};
    hs_chunked_limits_t lim = {.max_body = max_body, .max_ext = 32, .max_trailer = 16};
    int st = 0;
    const char *detail = NULL;
    int r = hs_chunked_decode(&d, buf, &len, &consumed, &lim, &st, &detail);
    ok(r == HS_ERROR && st == status && strcmp(hs_cause_id(d.error_cause), cause) == 0, "chunked %s → %d (got %d %s)",
       cause, status, st, hs_cause_id(d.error_cause));
}

int main(void)
{
    hs_cause_t n = hs_cause_count();
    ok(n > HS_CAUSE__ENGINE_END + HS_UP__COUNT, "the registry holds the engine's, the gateway's and the defaults (%u)",
       n);
    bool unique = true, formed = true, known = true;
    for (hs_cause_t i = 1; i < n; i++) {
        const hs_cause_info_t *c = hs_cause_get(i);
        if (hs_cause_find(hs_iov_cstr(c->id)) != i) {
            unique = false;
            printf("# '%s' is not unique\n", c->id);
        }
        for (const char *p = c->id; *p; p++)
            if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || strchr("_:.-", *p)))
                formed = false;
        if (c->status && !hs_status_get(c->status)) {
            known = false;
            printf("# %s: status %d is not in the registry\n", c->id, c->status);
        }
        if (!c->summary || !c->summary[0])
            formed = false;
    }
    ok(unique, "every cause id is unique (engine ids never repeat a status's default)");
    ok(formed, "every id is [a-z0-9_:.-] and has a summary");
    ok(known, "every cause's status is in the status registry");

    ok(strcmp(hs_cause_id(hs_cause_default(404)), "not_found") == 0, "404's default is not_found");
    ok(strcmp(hs_cause_id(hs_cause_default(499)), "client_closed_request") == 0, "499's default");
    ok(hs_cause_is_default(hs_cause_default(200)) && !hs_cause_is_default(HS_CAUSE_BARE_CR), "defaults are told apart");
    ok(hs_cause_default(299) == HS_CAUSE_NONE, "no default for a code the registry does not know");
    ok(hs_cause_resolve(HS_CAUSE_OBS_FOLD, 400) == HS_CAUSE_OBS_FOLD, "an explicit cause wins");
    ok(hs_cause_resolve(0, 431) == hs_cause_default(431), "no cause: the status's default");
    ok(strcmp(hs_cause_id(0), "-") == 0 && hs_cause_get(0) == NULL && hs_cause_get(HS_CAUSE_MAX - 1) == NULL,
       "none and unregistered ids");
    ok(strcmp(hs_cause_id(HS_CAUSE_UPSTREAM(HS_UP_CONNECT_REFUSED)), "upstream_connect_refused") == 0,
       "upstream causes as upstream_<id>");
    const hs_cause_info_t *up = hs_cause_get(HS_CAUSE_UPSTREAM(HS_UP_CONNECT_TIMEOUT));
    ok(up && up->status == 504 && up->also[0] == 522 && up->also[1] == 599, "an upstream cause's proxy_errors statuses");
    is_int(hs_cause_get(HS_CAUSE_HEADER_TIMEOUT)->status, 408, "header_timeout is a 408");
    ok(strcmp(hs_cause_get(HS_CAUSE_TARGET_TOO_LONG)->directive, "max_uri") == 0, "with the directive changing it");

    static const hs_cause_info_t mine[] = {{"test:one", 403, {0}, "", "one"}, {"test:two", 429, {0}, "x", "two"}};
    hs_cause_t base = hs_cause_register(mine, 2);
    ok(base == n && hs_cause_find(HS_IOV("test:two")) == base + 1, "a table is appended, entry i at base + i");
    static const hs_cause_info_t dup[] = {{"obs_fold", 400, {0}, "", "taken"}};
    static const hs_cause_info_t bad[] = {{"Has Space", 400, {0}, "", "malformed"}};
    static const hs_cause_info_t twice[] = {{"test:x", 400, {0}, "", "a"}, {"test:x", 400, {0}, "", "b"}};
    ok(!hs_cause_register(dup, 1) && !hs_cause_register(bad, 1) && !hs_cause_register(twice, 2),
       "a taken, malformed or repeated id is refused");
    ok(hs_cause_count() == n + 2, "a refused table adds nothing");

    hs_module_t m = {.name = "m", .causes = mine + 1, .ncauses = 1};
    hs_module_t *mods[] = {&m, NULL};
    ok(hs_modules_register_causes(mods) == HS_ERROR, "a module repeating a registered id is refused");
    static const hs_cause_info_t fresh[] = {{"m:deny", 403, {0}, "rules", "deny"}};
    hs_module_t m2 = {.name = "m2", .causes = fresh, .ncauses = 1};
    hs_module_t *mods2[] = {&m2, NULL};
    ok(hs_modules_register_causes(mods2) == HS_OK && strcmp(hs_cause_id(hs_module_cause(&m2, 0)), "m:deny") == 0,
       "a module's cause i is hs_module_cause(m, i)");
    hs_cause_t again = m2.cause_base;
    hs_modules_register_causes(mods2);
    ok(m2.cause_base == again, "registering a module twice keeps its causes");

    /* the parsers name the cause of each refusal */
    parses_to("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
              "cl_te_conflict");
    parses_to("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, "obs_fold");
    parses_to("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare_lf");
    parses_to("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "http_major_version");
    parses_to("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n", 414,
              "target_too_long");
    parses_to("GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
              431, "field_too_large");
    parses_to("GET / HTTP/1.1\r\n\r\n", 400, "missing_host");
    parses_to("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "duplicate_host");
    parses_to("GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n", 417, "unsupported_expect");
    parses_to("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "unknown_transfer_coding");
    parses_to("GET /#x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "target_fragment");
    chunked_to("zz\r\n", 100, 400, "bad_chunk_size");
    chunked_to("ff\r\n", 100, 413, "body_too_large");
    chunked_to("1;=x\r\n", 100, 400, "bad_chunk_ext");
    chunked_to("1\r\nab\r\n", 100, 400, "bad_chunk_framing");
    chunked_to("0\r\nX-Long-Trailer: 0123456789\r\n\r\n", 100, 431, "trailer_too_large");
    return tap_done();
}
