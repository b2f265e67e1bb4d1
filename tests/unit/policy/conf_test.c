/* Unit tests: the policy module's settings (src/modules/policy/conf.c) — times for
 * maintenance.until, how rules flow down hosts and paths (shared until a scope writes to them,
 * lists replaced, `off`), the rule sets check() sums up, and check() failures leaving nothing
 * behind (LeakSanitizer in `make sanitize`). */
#define _GNU_SOURCE
#include "../../../src/modules/policy/module.h"
#include "tap.h"

static void times(void)
{
    static const struct {
        const char *in;
        int64_t want; /* -1: refused */
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-12-31T23:00:00Z", 1798758000},
        {"2026-12-31t23:00:00z", 1798758000},
        {"2026-12-31 23:00:00Z", 1798758000},
        {"2027-01-01T00:30:00+01:30", 1798758000},
        {"2026-12-31T20:00:00-03:00", 1798758000},
        {"2026-12-31T23:00:00.999Z", 1798758000},
        {"2024-02-29T00:00:00Z", 1709164800},
        {"2016-12-31T23:59:60Z", 1483228799}, /* a leap second reads as the one before */
        {"Thu, 31 Dec 2026 23:00:00 GMT", 1798758000},
        {"9999-12-31T23:59:59Z", 253402300799LL},
        {"2023-02-29T00:00:00Z", -1},
        {"2026-13-01T00:00:00Z", -1},
        {"2026-12-31T24:00:00Z", -1},
        {"2026-12-31T23:00:00", -1},
        {"2026-12-31T23:00:00+1:00", -1},
        {"2026-12-31T23:00:00.Z", -1},
        {"1969-12-31T23:59:59Z", -1},
        {"1970-01-01T00:00:00+00:01", -1},
        {"2026-12-31", -1},
        {"tomorrow", -1},
        {"", -1},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(cases); i++) {
        int64_t t = -7;
        int r = hs__policy_time_parse(hs_iov_cstr(cases[i].in), &t);
        if (cases[i].want < 0)
            ok(r == HS_ERROR && t == -7, "time '%s' refused", cases[i].in);
        else
            ok(r == HS_OK && t == cases[i].want, "time '%s' = %lld (got %lld)", cases[i].in,
               (long long)cases[i].want, (long long)t);
    }
    /* exactly the bytes given: a prefix of a longer valid text is not read past */
    int64_t t;
    ok(hs__policy_time_parse(hs_iov("2026-12-31T23:00:00Zjunk", 20), &t) == HS_OK && t == 1798758000,
       "only the given length is read");
}

static const hs_pathconf_t *path_of(hs_config_t *cfg, const char *host, const char *path)
{
    bool known;
    return hs_config_lookup(cfg, hs_iov_cstr(host), hs_iov_cstr(path), &known);
}

static const pol_conf_t *pconf(const hs_pathconf_t *p)
{
    return p->cfg->mod[hs_module_policy.index];
}

static int load(hs_config_t *cfg, const char *yaml, char *err, size_t errlen)
{
    hs_config_defaults(cfg);
    if (hs_config_load_yaml(cfg, "t.yaml", yaml, strlen(yaml), err, errlen) != HS_OK)
        return HS_ERROR;
    return hs_config_validate(cfg, err, errlen);
}

static void flow(void)
{
    hs_config_t cfg;
    char err[512] = "";
    int r = load(&cfg,
                 "allow: [10.0.0.0/8]\n"
                 "hosts:\n"
                 "  a.test:\n"
                 "    limit: {rate: 10r/s, burst: 3}\n"
                 "    paths:\n"
                 "      /: {api: true}\n"
                 "      /x: {deny: [192.0.2.0/24]}\n"
                 "      /y: {limit: {rate: 1r/s}}\n"
                 "      /z: {limit: off, allow: \"\"}\n"
                 "      /g: {gone: [/g/a, /g/b/]}\n"
                 "      /g/sub: {gone: [/g/c]}\n",
                 err, sizeof(err));
    ok(r == HS_OK, "a configuration with rules on hosts and paths loads (%s)", err);
    if (r != HS_OK) {
        hs_config_free(&cfg);
        return;
    }
    const pol_conf_t *root = pconf(path_of(&cfg, "a.test", "/")), *x = pconf(path_of(&cfg, "a.test", "/x")),
                     *y = pconf(path_of(&cfg, "a.test", "/y")), *z = pconf(path_of(&cfg, "a.test", "/z/1")),
                     *g = pconf(path_of(&cfg, "a.test", "/g")), *gs = pconf(path_of(&cfg, "a.test", "/g/sub")),
                     *codes = pconf(path_of(&cfg, "a.test", "/codes"));
    ok(root->limit && root->limit == x->limit && root->limit == codes->limit,
       "paths that do not write the host's limit share it (one counter per client for the host)");
    ok(y->limit != root->limit && y->limit->zone != root->limit->zone && y->limit->burst == 3 &&
           y->limit->g.count == 1,
       "a path writing a key of the limit gets a rule of its own, the other keys inherited");
    ok(!z->limit && !z->acl && !(z->access & (PA_LIMIT_EARLY | PA_ACL)), "off and an empty list drop inherited rules");
    ok(root->acl && root->acl->n == 1 && root->acl->action[0] == HS_ACL_ALLOW, "the top's allow reaches the host");
    ok(x->acl && x->acl->n == 1 && x->acl->action[0] == HS_ACL_DENY && x->acl->dflt == HS_ACL_ALLOW,
       "a path writing deny replaces the inherited list (a deny list lets others in)");
    ok(root->acl->dflt == HS_ACL_DENY, "with an allow, an address no rule matches is refused");
    ok((root->access & (PA_ACL | PA_LIMIT_EARLY | PA_CLIENT)) == (PA_ACL | PA_LIMIT_EARLY | PA_CLIENT) &&
           !root->rewrite,
       "check() sums up the rules of a path");
    ok(g->gone && g->gone->paths.n == 2 && !strcmp(g->gone->paths.v[1], "/g/b"), "gone paths in normal form");
    ok(gs->gone && gs->gone->paths.n == 1 && !strcmp(gs->gone->paths.v[0], "/g/c") && g->gone->paths.n == 2,
       "a path's own list replaces the inherited one and leaves the parent's alone");
    ok(hs__policy_paths_match(&g->gone->paths, HS_IOV("/g/b/c")) && !hs__policy_paths_match(&g->gone->paths, HS_IOV("/g/bc")),
       "paths match on segment boundaries");
    ok(hs__policy_store() != NULL, "a limit makes the shared store");
    hs_config_free(&cfg);
    ok(hs__policy_store() == NULL, "the store goes with the last configuration that used it");
}

static void failures(void)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"hosts:\n  a.test:\n    paths:\n      /: {api: true, limit: {burst: 2}}\n", "t.yaml:4: limit needs rate"},
        {"hosts:\n  a.test:\n    paths:\n      /:\n        api: true\n        limit: {rate: 1r/s}\n        auth: "
         "{htpasswd: /nonexistent}\n",
         "t.yaml:7: /nonexistent: cannot open"},
        {"hosts:\n  a.test:\n    paths:\n      /: {api: true, redirect: {to: \"/$path\"}}\n", "t.yaml:4: redirect loop"},
        {"hosts:\n  a.test:\n    paths:\n      /: {api: true, return: {status: 301}}\n", "t.yaml:4: return 301 needs"},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(cases); i++) {
        hs_config_t cfg;
        char err[512] = "";
        int r = load(&cfg, cases[i].yaml, err, sizeof(err));
        ok(r == HS_ERROR && strstr(err, cases[i].want), "refused: %s (got '%s')", cases[i].want, err);
        hs_config_free(&cfg);
    }
    ok(hs__policy_store() == NULL, "a refused configuration leaves no store behind");
}

int main(void)
{
    times();
    flow();
    failures();
    return tap_done();
}
