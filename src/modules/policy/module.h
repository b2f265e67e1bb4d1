/* statusd — the policy module: its settings (conf.c), the rewrite and access phases (rewrite.c,
 * access.c) and the captive portal's admission files (admit.c), on top of the library code of
 * policy.h.
 *
 * Rules as written. Each rule of a host or a path is a small object made by its directives'
 * setters in the configuration's arena ("spec"). Settings flow down by copy (include/hs/config.h):
 * a path's settings start as a copy of its parent's and so share the parent's specs; a setter
 * that writes to a spec it did not make (spec->owner is another settings struct) first makes one
 * of its own — a copy, or an empty one for the rules whose lists a scope replaces (allow/deny,
 * trusted_proxies). Every list directive replaces the list it inherited on its first value in a
 * scope and appends after that; `NAME: off` (or an empty value) drops an inherited rule.
 *
 * Compiled rules. check() (once per settings struct) prepares what requests need — ACLs, the
 * htpasswd handle, GCRA parameters, compiled redirect templates, preformatted header values —
 * inside the spec itself, once per spec however many paths share it (spec->refs counts them;
 * release() frees the compiled parts with the last). It also sums up which rules apply in two
 * bit sets, so that a request on a path with no rule costs one test per phase and no
 * allocation. All of it is read-only while requests run, except what says otherwise (the
 * htpasswd handle and admission files reload themselves; the rate-limit store is shared). */
#ifndef HS_MODULES_POLICY_MODULE_H
#define HS_MODULES_POLICY_MODULE_H

#include "policy.h"
#include "hs/cidr.h"
#include "hs/forwarded.h"
#include "hs/http.h"

extern hs_module_t hs_module_policy;

/* Access rules, in the order the access phase runs them. */
enum {
    PA_ACL = 1u << 0,         /* allow / deny: 403, or 444 (close without a byte) */
    PA_CAPTIVE = 1u << 1,     /* captive_portal: 511 */
    PA_LIMIT_EARLY = 1u << 2, /* limit keyed by address or header: 429 */
    PA_AUTH = 1u << 3,        /* auth: 401 / 407, 403 for a user not in auth.users */
    PA_LIMIT_USER = 1u << 4,  /* limit keyed by user: 429 */
    PA_BANDWIDTH = 1u << 5,   /* bandwidth: 509 */
    PA_CONDITIONAL = 1u << 6, /* require_conditional: 428 */
    PA_HINTS = 1u << 7,       /* early_hints: 103 */
    PA_CLIENT = 1u << 8,      /* the client's address is needed (set with any rule that keys on it) */
};
/* Rewrite rules, in the order the rewrite phase runs them. */
enum {
    PR_LEGAL = 1u << 0,    /* legal_block: 451 with Link rel="blocked-by" */
    PR_GONE = 1u << 1,     /* gone: 410 */
    PR_PARENTAL = 1u << 2, /* parental_block: 450 */
    PR_PAYMENT = 1u << 3,  /* payment_required: 402 */
    PR_MAINT = 1u << 4,    /* maintenance: 503 with Retry-After */
    PR_RETURN = 1u << 5,   /* return: a fixed answer */
    PR_REDIRECT = 1u << 6, /* redirect: 301 … 308 with Location */
};

/* Why a rule answered (hs_module_t.causes, conf.c): set with the rule's log field by
 * hs__policy_cause, so the access log's cause, /metrics and statusd explain --causes name it. */
enum {
    PC_DENY,
    PC_DENY_CLOSE,
    PC_CAPTIVE,
    PC_LIMIT,
    PC_AUTH,
    PC_PROXY_AUTH,
    PC_USER,
    PC_BANDWIDTH,
    PC_CONDITIONAL,
    PC_LEGAL,
    PC_GONE,
    PC_PARENTAL,
    PC_PAYMENT,
    PC_MAINTENANCE,
    PC_RETURN,
    PC_REDIRECT,
    PC_REDIRECT_FAILED,
    PC__COUNT
};
static inline void hs__policy_cause(hs_req_t *req, unsigned cause)
{
    hs_req_set_cause(req, hs_module_cause(&hs_module_policy, cause));
}

/* What every spec starts with. */
typedef struct pol_spec_s {
    const void *owner; /* the settings struct whose setter made it */
    const char *by;    /* the directive that wrote to it last (for messages) */
    int refs;          /* settings structs checked with it (compiled parts live while > 0) */
    bool ready;        /* compiled */
} pol_spec_t;

/* A list of strings in the configuration's arena; cap 0 = not this spec's own yet (inherited or
 * empty): the next value starts a new list. */
typedef struct pol_strs_s {
    const char **v;
    size_t n, cap;
} pol_strs_t;

/* A CIDR list (trusted_proxies, captive admissions). */
typedef struct pol_cidrs_s {
    pol_spec_t s;
    hs_cidr_t *v;
    size_t n, cap;
    pol_strs_t files; /* captive admissions only: files of CIDRs, watched (admit.c) */
    hs_acl_t *acl;    /* compiled */
} pol_cidrs_t;

/* allow / deny, in the order written. */
typedef struct pol_acl_s {
    pol_spec_t s;
    hs_cidr_t *cidr;
    uint8_t *action; /* HS_ACL_ALLOW, HS_ACL_DENY */
    size_t n, cap;
    bool close; /* a deny closes the connection without a byte (logged as 444) */
    /* compiled */
    hs_acl_t *acl;
    const char **why; /* per rule: "allow:10.0.0.0/8", "deny:all" (for the log's rule= field) */
    int dflt;         /* the action when no rule matches: deny once any allow rule exists */
    int unidentified; /* the action for a client no address is known for (the first "all" rule, else dflt) */
    const char *unidentified_why;
} pol_acl_t;

typedef struct pol_admit_s pol_admit_t; /* a watched file of admitted addresses (admit.c) */

typedef struct pol_captive_s {
    pol_spec_t s;
    const char *login; /* the portal's login page (absolute URL or path) */
    pol_cidrs_t adm;   /* addresses and files */
    /* compiled */
    pol_admit_t **files;
    size_t nfiles;
    const char *body; /* the 511 page (HTML, links the login page) */
    size_t body_len;
} pol_captive_t;

enum { KEY_ADDR = 1, KEY_USER, KEY_HEADER, KEY_SCOPE };

typedef struct pol_limit_s {
    pol_spec_t s;
    uint64_t count, period_ms; /* 0: no rate given */
    uint64_t burst;
    int key;
    const char *header; /* KEY_HEADER: the field's name, lowercase */
    const char *name;
    uint32_t zone;
    hs_gcra_t g;       /* compiled */
    char *policy_item; /* RateLimit-Policy value */
} pol_limit_t;

typedef struct pol_auth_s {
    pol_spec_t s;
    const char *file, *realm;
    pol_strs_t users;
    bool proxy; /* scope: proxy — absolute-form requests, Proxy-Authorization, 407 */
    bool allow_plain;
    /* compiled */
    hs__htpasswd_t *h; /* shared by every spec naming the same file (conf.c) */
    const char *challenge;
} pol_auth_t;

typedef struct pol_bw_s {
    pol_spec_t s;
    uint64_t bytes, per_ms;
    int key; /* KEY_SCOPE, KEY_ADDR or KEY_USER */
    const char *name;
    uint32_t zone;
    hs_budget_t b; /* compiled */
    char *policy_item;
} pol_bw_t;

typedef struct pol_redirect_s {
    pol_spec_t s;
    const char *to;
    int status;
    /* compiled */
    hs__redirect_t *r;
    const char *prefix; /* the path prefix of the scope that wrote it, for $rest */
} pol_redirect_t;

typedef struct pol_return_s {
    pol_spec_t s;
    int status;
    const char *body, *content_type, *location, *allow, *realm;
    const char *status_by; /* "return" or "return.status" */
    uint64_t retry_after_ms;
    bool retry_after_set;
    pol_strs_t links;
    /* compiled */
    hs__redirect_t *loc;
    const char *challenge;
    const char *prefix;
} pol_return_t;

/* Paths a rule covers (gone, parental_block, legal_block, payment_required), normal form, no
 * trailing slash ("" = every path). */
typedef struct pol_paths_s {
    pol_spec_t s;
    pol_strs_t paths;
    const char *url;  /* legal_block.blocked_by, payment_required.pay_at */
    const char *link; /* compiled: the Link field value */
} pol_paths_t;

typedef struct pol_maint_s {
    pol_spec_t s;
    bool on;
    int64_t until; /* Unix seconds; 0: none */
    uint64_t retry_after_ms;
} pol_maint_t;

typedef struct pol_hints_s {
    pol_spec_t s;
    pol_strs_t links;
    hs_res_header_t *h; /* compiled */
} pol_hints_t;

/* The module's settings for a host or path. */
typedef struct pol_conf_s {
    unsigned access, rewrite; /* which rules apply (PA_*, PR_*), made by check() */
    pol_cidrs_t *trusted;
    int fwd_mode; /* HS_FWD_XFF or HS_FWD_FORWARDED */
    pol_acl_t *acl;
    pol_captive_t *captive;
    pol_limit_t *limit;
    pol_auth_t *auth;
    pol_bw_t *bw;
    bool require_conditional;
    pol_hints_t *hints;
    pol_redirect_t *redirect;
    pol_return_t *ret;
    pol_paths_t *gone, *parental, *legal, *pay;
    pol_maint_t *maint;
    int limit_keys; /* top: states the shared store keeps */
    char *unused;   /* where directives handled wholly by their setters point */
} pol_conf_t;

/* check.c: the module's check and release (hs_conf_schema_t), SIGHUP (hs_module_t.reload) */
int hs__policy_check(hs_config_t *top, const hs_pathconf_t *path, void *conf, const char **bad, char *err,
                     size_t errlen);
void hs__policy_release(void *conf);
void hs__policy_reload(hs_server_t *srv);

/* check.c: the shared rate-limit store (made when a checked rule needs it), and the time values
 * of maintenance.until. */
hs_limit_store_t *hs__policy_store(void);
/* Parse a time: RFC 3339 ("2026-12-31T23:00:00Z", "…+01:00", fractions of a second ignored) or
 * an HTTP-date (IMF-fixdate, RFC 9110 §5.6.7). HS_OK with *out (Unix seconds, years 1970-9999), or
 * HS_ERROR. No allocation; reads exactly s. */
int hs__policy_time_parse(hs_iovec_t s, int64_t *out);
/* Is `path` (normal form) one of the paths, or below one? */
bool hs__policy_paths_match(const pol_strs_t *paths, hs_iovec_t path);

/* admit.c: a file of addresses and CIDR blocks, one per line ('#' comments), re-read when it
 * changes (looked at once a second) and on SIGHUP. */
int hs__admit_open(const char *path, pol_admit_t **out, char *err, size_t errlen);
void hs__admit_free(pol_admit_t *a);
/* Is ip admitted by the file's current content? Any thread. */
bool hs__admit_match(pol_admit_t *a, const hs_ip_t *ip, uint64_t now_ms);
int hs__admit_reload(pol_admit_t *a, char *err, size_t errlen);

/* access.c, rewrite.c: the phase handlers; log: the bytes of a bandwidth budget. */
int hs__policy_access(hs_req_t *req);
int hs__policy_rewrite(hs_req_t *req);
void hs__policy_log(hs_req_t *req);

#endif
