/* statusd fuzz target: redirect templates (src/modules/policy/redirect.c).
 *
 * Input: pieces separated by "\xff\xfe": [template] [request path] [query] [Host]. The path is
 * normalised first, as the module will (a path that does not normalise is skipped); an absent
 * query piece means no query.
 *
 * Checks (beyond no crash/over-read/leak):
 *   compile   a refusal has a message; a template with a byte outside the URI characters never
 *             compiles;
 *   expand    the Location is at most HS__REDIRECT_MAX bytes, NUL-terminated, made only of URI
 *             characters with every '%' starting a valid escape (whatever the request held), and
 *             starts with "//" only when the template does (no open redirect through $path);
 *             the same request expands to the same bytes twice;
 *   loop      the check answers (HS_OK or HS_ERROR with a message) for the request's own path as
 *             the prefix.
 */
#define _GNU_SOURCE
#include "../src/modules/policy/policy.h"
#include "hs/path.h"
#include "fuzz_util.h"

static bool uri_char(unsigned char c)
{
    return hs_is_unreserved(c) || (c && strchr("!$&'()*+,;=:/?#[]@%", c));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0, plen;
    const uint8_t *piece, *p[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0, 0, 0, 0};
    int n = 0;
    while (n < 4 && fuzz_next_piece(data, size, &pos, 0xff, 0xfe, &piece, &plen))
        p[n] = piece, len[n] = plen, n++;
    if (n < 1 || len[0] > HS__REDIRECT_MAX)
        return 0;
    char *tmpl = fuzz_strdup(p[0], len[0]);
    hs__redirect_t *r = NULL;
    char err[256] = "";
    int rc = hs__redirect_compile(tmpl, &r, err, sizeof(err));
    bool clean = strlen(tmpl) == len[0];
    for (size_t i = 0; i < strlen(tmpl); i++) {
        if (tmpl[i] == '$' && tmpl[i + 1] == '{') { /* template syntax: ${name} */
            const char *close = strchr(tmpl + i, '}');
            if (close) {
                i = (size_t)(close - tmpl);
                continue;
            }
        }
        if (!uri_char((unsigned char)tmpl[i]))
            clean = false;
    }
    if (rc != HS_OK) {
        FUZZ_CHECK(!r && err[0], "a refusal without a message");
        free(tmpl);
        return 0;
    }
    FUZZ_CHECK(clean || strlen(tmpl) != len[0], "'%s' compiled with a byte a URI cannot hold", tmpl);

    hs_arena_t a;
    hs_arena_init(&a);
    char *rawpath = fuzz_dup(n > 1 ? p[1] : (const uint8_t *)"/", n > 1 ? len[1] : 1);
    hs_iovec_t norm;
    const char *detail;
    if (hs_path_normalize_arena(&a, hs_iov(rawpath, n > 1 ? len[1] : 1), &norm, 0, &detail) == 0) {
        char *query = n > 2 ? fuzz_dup(p[2], len[2]) : NULL;
        char *host = fuzz_dup(n > 3 ? p[3] : (const uint8_t *)"example.com", n > 3 ? len[3] : 11);
        hs__redirect_req_t req = {HS_IOV("https"), hs_iov(host, n > 3 ? len[3] : 11), norm,
                                  query ? hs_iov(query, len[2]) : HS_IOV_NULL, norm};
        hs_iovec_t out, out2;
        if (hs__redirect_expand(r, &req, &a, &out, &detail) == HS_OK) {
            FUZZ_CHECK(out.len <= HS__REDIRECT_MAX && out.base[out.len] == '\0', "length %zu", out.len);
            for (size_t i = 0; i < out.len; i++) {
                unsigned char c = (unsigned char)out.base[i];
                FUZZ_CHECK(uri_char(c), "byte 0x%02x at %zu of '%s'", c, i, out.base);
                if (c == '%')
                    FUZZ_CHECK(i + 2 < out.len + 1 && hs_hex_digit((unsigned char)out.base[i + 1]) >= 0 &&
                                   hs_hex_digit((unsigned char)out.base[i + 2]) >= 0,
                               "a bad escape at %zu of '%s'", i, out.base);
            }
            if (out.len >= 2 && out.base[0] == '/' && out.base[1] == '/')
                FUZZ_CHECK(tmpl[0] == '/' && tmpl[1] == '/', "'%s' made the network-path reference '%s'", tmpl,
                           out.base);
            FUZZ_CHECK(hs__redirect_expand(r, &req, &a, &out2, &detail) == HS_OK && out2.len == out.len &&
                           memcmp(out.base, out2.base, out.len) == 0,
                       "two expansions differ");
        } else {
            FUZZ_CHECK(detail && detail[0], "an expansion refused without a detail");
        }
        const char *const hosts[] = {"example.com", NULL};
        hs__redirect_scope_t sc = {hosts, true, true, norm, NULL, NULL};
        char lerr[512] = "";
        int lr = hs__redirect_check_loop(r, &sc, lerr, sizeof(lerr));
        FUZZ_CHECK(lr == HS_OK || (lr == HS_ERROR && strstr(lerr, "redirect loop")), "loop check %d '%s'", lr, lerr);
        free(query);
        free(host);
    }
    free(rawpath);
    hs_arena_reset(&a);
    hs__redirect_free(r);
    free(tmpl);
    return 0;
}
