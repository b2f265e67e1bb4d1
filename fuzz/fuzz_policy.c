/* statusd fuzz target: the policy module's own value parsers (src/modules/policy/conf.c) — the
 * times of maintenance.until (RFC 3339 and HTTP-dates) and the path lists of gone,
 * parental_block, legal_block and payment_required — and a whole policy configuration.
 *
 * Input: the first byte picks what the rest is:
 *   0  a time: a time accepted is within 1970..9999, and an RFC 3339 UTC time formatted back from
 *      it parses to the same second;
 *   1  "PATH\nREQUEST": PATH given to `gone` through the directive table; when accepted, a request
 *      for that path (normal form) is covered, and REQUEST's answer does not change between
 *      two lookups;
 *   2  a YAML configuration validated and freed (the setters, check() and release() of every
 *      policy rule, with the files it names).
 * Beyond no crash, over-read or leak. */
#define _GNU_SOURCE
#include "../src/modules/policy/module.h"
#include "hs/path.h"
#include "fuzz_util.h"

#include <time.h>

static void fuzz_time(const uint8_t *data, size_t size)
{
    char *v = fuzz_dup(data, size);
    int64_t t;
    if (hs__policy_time_parse(hs_iov(v, size), &t) == HS_OK) {
        FUZZ_CHECK(t >= 0 && t <= 253402300799LL, "time %lld out of range", (long long)t);
        struct tm tm;
        time_t tt = (time_t)t;
        gmtime_r(&tt, &tm);
        char back[32];
        size_t n = strftime(back, sizeof(back), "%Y-%m-%dT%H:%M:%SZ", &tm);
        int64_t again;
        FUZZ_CHECK(hs__policy_time_parse(hs_iov(back, n), &again) == HS_OK && again == t, "'%s' does not round-trip",
                   back);
    }
    free(v);
}

static void fuzz_paths(const uint8_t *data, size_t size)
{
    char *s = fuzz_strdup(data, size);
    char *nl = strchr(s, '\n');
    char *req = nl ? nl + 1 : "";
    if (nl)
        *nl = '\0';
    hs_config_t cfg;
    hs_config_defaults(&cfg);
    const hs_directive_t *d = hs_config_find("gone");
    char err[512];
    if (hs_config_set(&cfg, d, s, err, sizeof(err)) == HS_OK && s[0]) {
        const pol_conf_t *c = cfg.mod[hs_module_policy.index];
        FUZZ_CHECK(c->gone && c->gone->paths.n == 1, "one path kept");
        const char *p = c->gone->paths.v[0];
        FUZZ_CHECK(!p[0] || (p[0] == '/' && p[strlen(p) - 1] != '/'), "path '%s' not in normal form", p);
        FUZZ_CHECK(hs__policy_paths_match(&c->gone->paths, hs_iov_cstr(p[0] ? p : "/")), "'%s' not covered", p);
        hs_arena_t a;
        hs_arena_init(&a);
        hs_iovec_t norm;
        const char *why;
        if (hs_path_normalize_arena(&a, hs_iov_cstr(req), &norm, 0, &why) == 0) {
            bool m1 = hs__policy_paths_match(&c->gone->paths, norm);
            FUZZ_CHECK(m1 == hs__policy_paths_match(&c->gone->paths, norm), "unstable match");
        }
        hs_arena_reset(&a);
    } else if (s[0]) {
        FUZZ_CHECK(err[0], "refused without a message");
    }
    hs_config_free(&cfg);
    free(s);
}

static void fuzz_yaml(const uint8_t *data, size_t size)
{
    char *text = fuzz_dup(data, size);
    hs_config_t cfg;
    char err[1024];
    hs_config_defaults(&cfg);
    err[0] = '\0';
    if (hs_config_load_yaml(&cfg, "fuzz.yaml", text, size, err, sizeof(err)) == HS_OK) {
        if (hs_config_validate(&cfg, err, sizeof(err)) != HS_OK)
            FUZZ_CHECK(err[0], "validate failed without a message");
    } else {
        FUZZ_CHECK(strncmp(err, "fuzz.yaml:", 10) == 0, "error without a location: '%s'", err);
    }
    hs_config_free(&cfg);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0: fuzz_time(data + 1, size - 1); break;
    case 1: fuzz_paths(data + 1, size - 1); break;
    default: fuzz_yaml(data + 1, size - 1); break;
    }
    return 0;
}
