/* statusd — the policy module's directives and their setters, which check each value as it is
 * read, so that a mistake is reported at its FILE:LINE; and the module itself. The check of a
 * host's or path's final settings is in check.c, the rules run in access.c and rewrite.c;
 * module.h says how specs are shared.
 *
 * Why most values are checked in the setters: the configuration calls a setter when the value is
 * read (a flag, a variable, a YAML line), and again when a host or path is built; only what needs
 * the whole tree (a redirect that comes back to itself, a return code and the headers it needs,
 * a password file that must be read) waits for check(), whose errors carry the line of the
 * directive at fault. */
#define _GNU_SOURCE
#include "module.h"

#include "hs/path.h"
#include "hs/status.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define OFF(f) offsetof(pol_conf_t, f)
#define ALL HS_SCOPE_ALL

static uint32_t zone_seq; /* configuration thread only */
/* Each setter notes its directive's name first (SETTER), so that the spec it writes to knows
 * which directive wrote it last (pol_spec_t.by: where check() reports an incomplete rule). */
static const char *cur_by;

/* ---- small helpers for setters ---- */

static int bad(char *err, size_t errlen, const char *fmt, ...) HS_FMT(3, 4);
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return HS_ERROR;
}

/* The spec in *slot, made this scope's own: a copy of the inherited one, or a new zeroed one
 * (fresh: the rules a scope replaces as a whole). */
static void *own(hs_config_t *cfg, const void *conf, void *slot, size_t size, bool fresh, bool *made)
{
    pol_spec_t **sp = slot, *s = *sp;
    if (made)
        *made = false;
    if (s && s->owner == conf) {
        s->by = cur_by;
        return s;
    }
    pol_spec_t *n = hs_config_alloc(cfg, size);
    if (s && !fresh)
        memcpy(n, s, size);
    else
        memset(n, 0, size);
    n->owner = conf;
    n->refs = 0;
    n->ready = false;
    n->by = cur_by;
    *sp = n;
    if (made)
        *made = true;
    return n;
}

static void strs_add(hs_config_t *cfg, pol_strs_t *l, const char *s, size_t len)
{
    if (l->cap == 0 || l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        const char **v = hs_config_alloc(cfg, cap * sizeof(*v));
        if (l->cap)
            memcpy(v, l->v, l->n * sizeof(*v));
        else
            l->n = 0; /* the first value in this scope replaces what was inherited */
        l->v = v;
        l->cap = cap;
    }
    char *c = hs_config_alloc(cfg, len + 1);
    memcpy(c, s, len);
    c[len] = '\0';
    l->v[l->n++] = c;
}

static void cidrs_add(hs_config_t *cfg, hs_cidr_t **v, uint8_t **act, size_t *n, size_t *cap, const hs_cidr_t *c,
                      int action)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        hs_cidr_t *nv = hs_config_alloc(cfg, nc * sizeof(*nv));
        if (*n)
            memcpy(nv, *v, *n * sizeof(*nv));
        *v = nv;
        if (act) {
            uint8_t *na = hs_config_alloc(cfg, nc);
            if (*n)
                memcpy(na, *act, *n);
            *act = na;
        }
        *cap = nc;
    }
    (*v)[*n] = *c;
    if (act)
        (*act)[*n] = (uint8_t)action;
    (*n)++;
}

/* Call fn on each item of a list of CIDR blocks separated by commas or blanks. */
static int each_cidr(const char *value, const char *what, char *err, size_t errlen,
                     void (*fn)(void *ctx, const hs_cidr_t *c), void *ctx)
{
    size_t seen = 0;
    for (const char *p = value; *p;) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ", \t");
        hs_cidr_t c;
        const char *why = NULL;
        if (hs_cidr_parse(hs_iov(p, n), &c, &why) != HS_OK)
            return bad(err, errlen, "%s: '%.*s' is not an address, a CIDR block or 'all': %s", what, (int)n, p,
                       why ? why : "malformed");
        fn(ctx, &c);
        seen++;
        p += n;
    }
    if (!seen)
        return bad(err, errlen, "%s: expected addresses or CIDR blocks such as 10.0.0.0/8, 2001:db8::/32 or all", what);
    return HS_OK;
}

static bool is_off(const char *v)
{
    return !v[0] || !strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0");
}

/* A URL a response may point to: an absolute http(s) URL or an absolute path, of characters a
 * URI reference may hold (RFC 3986 §2), at most 2048. */
static bool url_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 2048)
        return false;
    if (!(s[0] == '/' || !strncasecmp(s, "http://", 7) || !strncasecmp(s, "https://", 8)))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c))
            return false;
    }
    return true;
}

/* A Link field value (RFC 8288 §3) as an operator writes it: "<URI>" then parameters; visible
 * ASCII, spaces and tabs only (it goes on the wire as is). */
static bool link_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 1024 || s[0] != '<' || !strchr(s + 1, '>'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c >= 0x7f)
            return false;
    }
    return true;
}

static int parse_int(const char *value, long long lo, long long hi, long long *out)
{
    char *end;
    if (!isdigit((unsigned char)value[0]))
        return HS_ERROR;
    long long v = strtoll(value, &end, 10);
    if (*end || v < lo || v > hi)
        return HS_ERROR;
    *out = v;
    return HS_OK;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcmp(v, "0"))
        *out = false;
    else
        return HS_ERROR;
    return HS_OK;
}

/* A path as a rule lists it: starts with '/', in normal form without a trailing slash. */
static int add_path(hs_config_t *cfg, pol_strs_t *l, const char *name, const char *value, char *err, size_t errlen)
{
    if (value[0] != '/' || strpbrk(value, "?#"))
        return bad(err, errlen, "%s: '%s' is not a path (it starts with '/' and has no '?' or '#')", name, value);
    size_t n = strlen(value), len;
    char *norm = hs_config_alloc(cfg, n + 2);
    const char *why;
    if (hs_path_normalize(hs_iov(value, n), norm, &len, 0, &why) != 0)
        return bad(err, errlen, "%s: path '%s': %s", name, value, why);
    while (len > 0 && norm[len - 1] == '/')
        len--;
    strs_add(cfg, l, norm, len);
    return HS_OK;
}

bool hs__policy_paths_match(const pol_strs_t *paths, hs_iovec_t path)
{
    for (size_t i = 0; i < paths->n; i++) {
        const char *p = paths->v[i];
        if (!p[0] || hs_path_has_prefix(path, hs_iov_cstr(p)))
            return true;
    }
    return false;
}

/* ---- setters ---- */
#define SETTER(fn)                                                                                                     \
    static int fn##_(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err,              \
                     size_t errlen);                                                                                   \
    static int fn(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err, size_t errlen)  \
    {                                                                                                                  \
        cur_by = d->name;                                                                                              \
        return fn##_(cfg, conf, d, value, err, errlen);                                                                \
    }                                                                                                                  \
    static int fn##_(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err, size_t errlen)

typedef struct {
    hs_config_t *cfg;
    void *spec;
    int action;
} cidr_ctx_t;

static void put_trusted(void *ctx, const hs_cidr_t *c)
{
    cidr_ctx_t *x = ctx;
    pol_cidrs_t *s = x->spec;
    cidrs_add(x->cfg, &s->v, NULL, &s->n, &s->cap, c, 0);
}

SETTER(set_trusted)
{
    pol_conf_t *c = conf;
    if (!value[0]) {
        c->trusted = NULL;
        return HS_OK;
    }
    pol_cidrs_t *s = own(cfg, conf, &c->trusted, sizeof(*s), true, NULL);
    cidr_ctx_t x = {cfg, s, 0};
    return each_cidr(value, d->name, err, errlen, put_trusted, &x);
}

SETTER(set_fwd_header)
{
    pol_conf_t *c = conf;
    if (!strcasecmp(value, "x-forwarded-for"))
        c->fwd_mode = HS_FWD_XFF;
    else if (!strcasecmp(value, "forwarded"))
        c->fwd_mode = HS_FWD_FORWARDED;
    else
        return bad(err, errlen, "'%s' is x-forwarded-for or forwarded (RFC 7239), got '%s'", d->name, value);
    return HS_OK;
}

static void put_acl(void *ctx, const hs_cidr_t *cidr)
{
    cidr_ctx_t *x = ctx;
    pol_acl_t *s = x->spec;
    cidrs_add(x->cfg, &s->cidr, &s->action, &s->n, &s->cap, cidr, x->action);
}

static int set_acl(hs_config_t *cfg, pol_conf_t *c, const hs_directive_t *d, const char *value, int action, char *err,
                   size_t errlen)
{
    if (!value[0]) {
        c->acl = NULL;
        return HS_OK;
    }
    pol_acl_t *s = own(cfg, c, &c->acl, sizeof(*s), true, NULL);
    if (!strncmp(value, "action=", 7)) {
        const char *a = value + 7;
        if (action != HS_ACL_DENY)
            return bad(err, errlen, "'%s' has no action (only deny does: 403 or close)", d->name);
        if (!strcasecmp(a, "close") || !strcmp(a, "444"))
            s->close = true;
        else if (!strcasecmp(a, "403") || !strcasecmp(a, "refuse"))
            s->close = false;
        else
            return bad(err, errlen, "deny: action is 403 (answer Forbidden) or close (close without a byte), got '%s'",
                       a);
        return HS_OK;
    }
    if (!strncmp(value, "from=", 5))
        value += 5;
    else if (strchr(value, '='))
        return bad(err, errlen, "'%s' takes addresses, or {from: [CIDR, …], action: 403|close}; got '%s'", d->name,
                   value);
    cidr_ctx_t x = {cfg, s, action};
    return each_cidr(value, d->name, err, errlen, put_acl, &x);
}

SETTER(set_allow)
{
    return set_acl(cfg, conf, d, value, HS_ACL_ALLOW, err, errlen);
}

SETTER(set_deny)
{
    return set_acl(cfg, conf, d, value, HS_ACL_DENY, err, errlen);
}

/* `NAME: off` for the rules written as mappings */
static int set_off(void *slot, const hs_directive_t *d, const char *value, char *err, size_t errlen)
{
    if (value == d->def)
        return HS_OK;
    if (!is_off(value))
        return bad(err, errlen, "'%s' takes 'off' (to drop the rule a scope inherits) or a mapping of its settings",
                   d->name);
    *(void **)slot = NULL;
    return HS_OK;
}

SETTER(set_captive)
{
    HS_UNUSED(cfg);
    return set_off(&((pol_conf_t *)conf)->captive, d, value, err, errlen);
}

SETTER(set_captive_login)
{
    pol_conf_t *c = conf;
    if (value == d->def)
        return HS_OK;
    if (!url_ok(value))
        return bad(err, errlen, "'%s' is the login page: an http(s) URL or a path, got '%s'", d->name, value);
    pol_captive_t *s = own(cfg, conf, &c->captive, sizeof(*s), false, NULL);
    s->login = hs_config_strdup(cfg, value);
    return HS_OK;
}

static void put_admitted(void *ctx, const hs_cidr_t *cidr)
{
    cidr_ctx_t *x = ctx;
    pol_cidrs_t *s = x->spec;
    cidrs_add(x->cfg, &s->v, NULL, &s->n, &s->cap, cidr, 0);
}

SETTER(set_captive_admitted)
{
    pol_conf_t *c = conf;
    if (value == d->def)
        return HS_OK;
    pol_captive_t *s = own(cfg, conf, &c->captive, sizeof(*s), false, NULL);
    if (s->adm.s.owner != s) { /* the first admission in this scope replaces the inherited ones */
        s->adm = (pol_cidrs_t){.s = {.owner = s}};
    }
    if (value[0] == '/') {
        strs_add(cfg, &s->adm.files, value, strlen(value));
        return HS_OK;
    }
    cidr_ctx_t x = {cfg, &s->adm, 0};
    return each_cidr(value, d->name, err, errlen, put_admitted, &x);
}

static pol_limit_t *limit_own(hs_config_t *cfg, pol_conf_t *c)
{
    bool made;
    pol_limit_t *s = own(cfg, c, &c->limit, sizeof(*s), false, &made);
    if (made) {
        s->zone = ++zone_seq; /* a rule of its own: its own counters */
        if (!s->key) {
            s->key = KEY_ADDR;
            s->name = "rate";
        }
        s->policy_item = NULL;
    }
    return s;
}

SETTER(set_limit)
{
    HS_UNUSED(cfg);
    return set_off(&((pol_conf_t *)conf)->limit, d, value, err, errlen);
}

SETTER(set_limit_rate)
{
    if (value == d->def)
        return HS_OK;
    uint64_t count, period;
    const char *why;
    if (hs_rate_parse(hs_iov_cstr(value), &count, &period, &why) != HS_OK)
        return bad(err, errlen, "'%s': %s, got '%s'", d->name, why, value);
    pol_limit_t *s = limit_own(cfg, conf);
    s->count = count;
    s->period_ms = period;
    return HS_OK;
}

SETTER(set_limit_burst)
{
    if (value == d->def)
        return HS_OK;
    long long v;
    if (parse_int(value, 0, HS_BURST_MAX, &v) != HS_OK)
        return bad(err, errlen, "'%s' is 0 to %d requests admitted at once beyond the rate, got '%s'", d->name,
                   HS_BURST_MAX, value);
    limit_own(cfg, conf)->burst = (uint64_t)v;
    return HS_OK;
}

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s)))
            return false;
    return true;
}

/* addr | user | header:NAME (| scope for budgets) */
static int parse_key(hs_config_t *cfg, const char *name, const char *value, bool scope_ok, int *key,
                     const char **header, char *err, size_t errlen)
{
    if (!strcasecmp(value, "addr") || !strcasecmp(value, "address"))
        *key = KEY_ADDR;
    else if (!strcasecmp(value, "user"))
        *key = KEY_USER;
    else if (scope_ok && !strcasecmp(value, "scope"))
        *key = KEY_SCOPE;
    else if (!scope_ok && !strncasecmp(value, "header:", 7) && is_token(value + 7) && strlen(value + 7) < 64) {
        *key = KEY_HEADER;
        char *h = hs_config_strdup(cfg, value + 7);
        for (char *p = h; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        *header = h;
    } else
        return bad(err, errlen, "'%s' is %s, got '%s'", name,
                   scope_ok ? "scope (the host or path as a whole), addr or user" : "addr, user or header:NAME", value);
    return HS_OK;
}

SETTER(set_limit_key)
{
    if (value == d->def)
        return HS_OK;
    int key;
    const char *header = NULL;
    if (parse_key(cfg, d->name, value, false, &key, &header, err, errlen) != HS_OK)
        return HS_ERROR;
    pol_limit_t *s = limit_own(cfg, conf);
    s->key = key;
    s->header = header;
    return HS_OK;
}

SETTER(set_limit_name)
{
    if (value == d->def)
        return HS_OK;
    if (!hs__policy_name_ok(value))
        return bad(err, errlen, "'%s' is 1 to %d of A-Z a-z 0-9 . _ -, got '%s'", d->name, HS_POLICY_NAME_MAX, value);
    limit_own(cfg, conf)->name = hs_config_strdup(cfg, value);
    return HS_OK;
}

SETTER(set_limit_keys)
{
    HS_UNUSED(cfg);
    long long v;
    if (parse_int(value, 1024, 1 << 24, &v) != HS_OK)
        return bad(err, errlen, "'%s' is 1024 to %d, got '%s'", d->name, 1 << 24, value);
    ((pol_conf_t *)conf)->limit_keys = (int)v;
    return HS_OK;
}

static pol_auth_t *auth_own(hs_config_t *cfg, pol_conf_t *c)
{
    bool made;
    pol_auth_t *s = own(cfg, c, &c->auth, sizeof(*s), false, &made);
    if (made) {
        s->users.cap = 0; /* inherited users: replaced by the first given here */
        if (!s->realm)
            s->realm = "restricted";
    }
    return s;
}

SETTER(set_auth)
{
    HS_UNUSED(cfg);
    return set_off(&((pol_conf_t *)conf)->auth, d, value, err, errlen);
}

SETTER(set_auth_file)
{
    if (value == d->def)
        return HS_OK;
    if (!value[0])
        return bad(err, errlen, "'%s' needs a file name (auth: off drops the rule)", d->name);
    auth_own(cfg, conf)->file = hs_config_strdup(cfg, value);
    return HS_OK;
}

SETTER(set_auth_realm)
{
    if (value == d->def)
        return HS_OK;
    if (!hs_basic_realm_ok(value))
        return bad(err, errlen, "'%s' is 1 to 255 bytes of UTF-8 without control characters", d->name);
    auth_own(cfg, conf)->realm = hs_config_strdup(cfg, value);
    return HS_OK;
}

SETTER(set_auth_users)
{
    if (value == d->def)
        return HS_OK;
    size_t n = strlen(value);
    if (n == 0 || n > 255 || strchr(value, ':') || !hs_utf8_valid(value, n))
        return bad(err, errlen, "'%s': '%s' is not a user name (1 to 255 bytes of UTF-8, no ':')", d->name, value);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            return bad(err, errlen, "'%s': a user name has no control characters", d->name);
    pol_auth_t *s = auth_own(cfg, conf);
    strs_add(cfg, &s->users, value, n);
    return HS_OK;
}

SETTER(set_auth_scope)
{
    if (value == d->def)
        return HS_OK;
    bool proxy;
    if (!strcasecmp(value, "origin"))
        proxy = false;
    else if (!strcasecmp(value, "proxy"))
        proxy = true;
    else
        return bad(err, errlen, "'%s' is origin (401, Authorization) or proxy (407, Proxy-Authorization), got '%s'",
                   d->name, value);
    auth_own(cfg, conf)->proxy = proxy;
    return HS_OK;
}

SETTER(set_auth_plain)
{
    if (value == d->def)
        return HS_OK;
    bool b;
    if (parse_bool(value, &b) != HS_OK)
        return bad(err, errlen, "'%s' expects true or false, got '%s'", d->name, value);
    auth_own(cfg, conf)->allow_plain = b;
    return HS_OK;
}

static pol_bw_t *bw_own(hs_config_t *cfg, pol_conf_t *c)
{
    bool made;
    pol_bw_t *s = own(cfg, c, &c->bw, sizeof(*s), false, &made);
    if (made) {
        s->zone = ++zone_seq;
        if (!s->key) {
            s->key = KEY_SCOPE;
            s->name = "bandwidth";
        }
        s->policy_item = NULL;
    }
    return s;
}

SETTER(set_bw)
{
    HS_UNUSED(cfg);
    return set_off(&((pol_conf_t *)conf)->bw, d, value, err, errlen);
}

SETTER(set_bw_bytes)
{
    if (value == d->def)
        return HS_OK;
    uint64_t v;
    if (hs_parse_size(value, &v) != HS_OK || v == 0 || v > (1ULL << 60))
        return bad(err, errlen, "'%s' expects a size such as 500m, 10g or 1024g, got '%s'", d->name, value);
    bw_own(cfg, conf)->bytes = v;
    return HS_OK;
}

SETTER(set_bw_per)
{
    if (value == d->def)
        return HS_OK;
    uint64_t ms;
    if (hs_parse_duration(value, &ms) != HS_OK || ms < 1000 || ms > 366ULL * 86400000 || ms % 1000)
        return bad(err, errlen, "'%s' expects whole seconds from 1s to 366d (1h, 1d, 30d), got '%s'", d->name, value);
    bw_own(cfg, conf)->per_ms = ms;
    return HS_OK;
}

SETTER(set_bw_key)
{
    if (value == d->def)
        return HS_OK;
    int key;
    const char *header = NULL;
    if (parse_key(cfg, d->name, value, true, &key, &header, err, errlen) != HS_OK)
        return HS_ERROR;
    bw_own(cfg, conf)->key = key;
    return HS_OK;
}

SETTER(set_bw_name)
{
    if (value == d->def)
        return HS_OK;
    if (!hs__policy_name_ok(value))
        return bad(err, errlen, "'%s' is 1 to %d of A-Z a-z 0-9 . _ -, got '%s'", d->name, HS_POLICY_NAME_MAX, value);
    bw_own(cfg, conf)->name = hs_config_strdup(cfg, value);
    return HS_OK;
}

SETTER(set_hints)
{
    pol_conf_t *c = conf;
    if (!value[0]) {
        c->hints = NULL;
        return HS_OK;
    }
    if (!link_ok(value))
        return bad(err, errlen,
                   "'%s': '%s' is not a Link value such as '</style.css>; rel=preload; as=style' (RFC 8288)", d->name,
                   value);
    bool made;
    pol_hints_t *s = own(cfg, conf, &c->hints, sizeof(*s), false, &made);
    if (made)
        s->links.cap = 0;
    strs_add(cfg, &s->links, value, strlen(value));
    return HS_OK;
}

SETTER(set_redirect)
{
    HS_UNUSED(cfg);
    return set_off(&((pol_conf_t *)conf)->redirect, d, value, err, errlen);
}

static int template_ok(const char *name, const char *value, char *err, size_t errlen)
{
    hs__redirect_t *r;
    char msg[256];
    if (hs__redirect_compile(value, &r, msg, sizeof(msg)) != HS_OK)
        return bad(err, errlen, "'%s': %s", name, msg);
    hs__redirect_free(r);
    return HS_OK;
}

SETTER(set_redirect_to)
{
    pol_conf_t *c = conf;
    if (value == d->def)
        return HS_OK;
    if (template_ok(d->name, value, err, errlen) != HS_OK)
        return HS_ERROR;
    pol_redirect_t *s = own(cfg, conf, &c->redirect, sizeof(*s), false, NULL);
    if (!s->status)
        s->status = 302;
    s->to = hs_config_strdup(cfg, value);
    return HS_OK;
}

SETTER(set_redirect_status)
{
    pol_conf_t *c = conf;
    if (value == d->def)
        return HS_OK;
    long long v;
    if (parse_int(value, 300, 399, &v) != HS_OK || !(v == 301 || v == 302 || v == 303 || v == 307 || v == 308))
        return bad(err, errlen, "'%s' is 301, 302, 303, 307 or 308, got '%s'", d->name, value);
    pol_redirect_t *s = own(cfg, conf, &c->redirect, sizeof(*s), false, NULL);
    s->status = (int)v;
    return HS_OK;
}

static pol_return_t *ret_own(hs_config_t *cfg, pol_conf_t *c)
{
    bool made;
    pol_return_t *s = own(cfg, c, &c->ret, sizeof(*s), false, &made);
    if (made)
        s->links.cap = 0;
    return s;
}

static int return_status(hs_config_t *cfg, pol_conf_t *c, const char *name, const char *value, char *err, size_t errlen)
{
    long long v;
    if (parse_int(value, 100, 999, &v) != HS_OK || strlen(value) != 3)
        return bad(err, errlen, "'%s' expects a status code such as 404 or 503, got '%s'", name, value);
    const hs_status_info_t *info = hs_status_get((int)v);
    if (!info)
        return bad(err, errlen, "'%s': %lld is not a status code statusd knows (see 'statusd list')", name, v);
    if (info->flags & HS_SF_INTERIM)
        return bad(err, errlen, "'%s': %lld is an interim (1xx) response, never a final answer", name, v);
    if ((info->flags & HS_SF_LOGONLY) && v != 444)
        return bad(err, errlen, "'%s': %lld is only ever logged, never sent", name, v);
    pol_return_t *s = ret_own(cfg, c);
    s->status = (int)v;
    s->status_by = name;
    return HS_OK;
}

SETTER(set_return)
{
    pol_conf_t *c = conf;
    if (value == d->def)
        return HS_OK;
    if (is_off(value)) {
        c->ret = NULL;
        return HS_OK;
    }
    return return_status(cfg, c, d->name, value, err, errlen);
}

SETTER(set_return_status)
{
    if (value == d->def)
        return HS_OK;
    return return_status(cfg, conf, d->name, value, err, errlen);
}

SETTER(set_return_text)
{
    if (value == d->def)
        return HS_OK;
    pol_return_t *s = ret_own(cfg, conf);
    const char *key = strchr(d->name, '.') + 1;
    size_t n = strlen(value);
    if (!strcmp(key, "body")) {
        if (n > 65536)
            return bad(err, errlen, "'%s' is at most 64k", d->name);
        s->body = hs_config_strdup(cfg, value);
    } else if (!strcmp(key, "content_type")) {
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
                return bad(err, errlen, "'%s' has a control character", d->name);
        if (!n || !strchr(value, '/'))
            return bad(err, errlen, "'%s' is a media type such as text/html, got '%s'", d->name, value);
        s->content_type = hs_config_strdup(cfg, value);
    } else if (!strcmp(key, "location")) {
        if (template_ok(d->name, value, err, errlen) != HS_OK)
            return HS_ERROR;
        s->location = hs_config_strdup(cfg, value);
    } else if (!strcmp(key, "allow")) {
        /* RFC 9110 §10.2.1: a list of method tokens; empty is "no method" */
        for (size_t i = 0; i < n; i++)
            if (!(isalnum((unsigned char)value[i]) || strchr("!#$%&'*+-.^_`|~, ", value[i])))
                return bad(err, errlen, "'%s' is a comma-separated list of methods, got '%s'", d->name, value);
        s->allow = hs_config_strdup(cfg, value);
    } else if (!strcmp(key, "realm")) {
        if (!hs_basic_realm_ok(value))
            return bad(err, errlen, "'%s' is 1 to 255 bytes of UTF-8 without control characters", d->name);
        s->realm = hs_config_strdup(cfg, value);
    } else if (!strcmp(key, "retry_after")) {
        uint64_t ms;
        if (hs_parse_duration(value, &ms) != HS_OK || ms > 366ULL * 86400000)
            return bad(err, errlen, "'%s' expects a duration such as 30s, 5m or 1d, got '%s'", d->name, value);
        s->retry_after_ms = ms;
        s->retry_after_set = true;
    } else if (!strcmp(key, "link")) {
        if (!link_ok(value))
            return bad(err, errlen,
                       "'%s': '%s' is not a Link value such as '<https://example.com/>; rel=\"blocked-by\"'", d->name,
                       value);
        strs_add(cfg, &s->links, value, n);
    }
    return HS_OK;
}

static int set_paths(hs_config_t *cfg, pol_paths_t **slot, const void *conf, const hs_directive_t *d, const char *value,
                     char *err, size_t errlen)
{
    if (value == d->def)
        return HS_OK;
    if (!value[0]) {
        *slot = NULL;
        return HS_OK;
    }
    bool made;
    pol_paths_t *s = own(cfg, conf, slot, sizeof(*s), false, &made);
    if (made)
        s->paths.cap = 0;
    return add_path(cfg, &s->paths, d->name, value, err, errlen);
}

SETTER(set_gone)
{
    return set_paths(cfg, &((pol_conf_t *)conf)->gone, conf, d, value, err, errlen);
}

SETTER(set_parental)
{
    return set_paths(cfg, &((pol_conf_t *)conf)->parental, conf, d, value, err, errlen);
}

SETTER(set_legal_paths)
{
    return set_paths(cfg, &((pol_conf_t *)conf)->legal, conf, d, value, err, errlen);
}

SETTER(set_pay_paths)
{
    return set_paths(cfg, &((pol_conf_t *)conf)->pay, conf, d, value, err, errlen);
}

static int set_url(hs_config_t *cfg, pol_paths_t **slot, const void *conf, const hs_directive_t *d, const char *value,
                   char *err, size_t errlen)
{
    if (value == d->def)
        return HS_OK;
    if (!url_ok(value))
        return bad(err, errlen, "'%s' expects an http(s) URL or a path, got '%s'", d->name, value);
    bool made;
    pol_paths_t *s = own(cfg, conf, slot, sizeof(*s), false, &made);
    if (made)
        s->paths.cap = 0; /* the inherited paths stay, until a path given here replaces them */
    s->url = hs_config_strdup(cfg, value);
    return HS_OK;
}

SETTER(set_legal_by)
{
    return set_url(cfg, &((pol_conf_t *)conf)->legal, conf, d, value, err, errlen);
}

SETTER(set_pay_at)
{
    return set_url(cfg, &((pol_conf_t *)conf)->pay, conf, d, value, err, errlen);
}

static pol_maint_t *maint_own(hs_config_t *cfg, pol_conf_t *c)
{
    bool made;
    pol_maint_t *s = own(cfg, c, &c->maint, sizeof(*s), false, &made);
    if (made && !s->retry_after_ms)
        s->retry_after_ms = 300000;
    return s;
}

SETTER(set_maint)
{
    pol_conf_t *c = conf;
    if (value == d->def)
        return HS_OK;
    bool on;
    if (parse_bool(value, &on) != HS_OK)
        return bad(err, errlen, "'%s' is on or off, or a mapping {until: TIME, retry_after: DURATION}", d->name);
    if (!on) {
        c->maint = NULL;
        return HS_OK;
    }
    maint_own(cfg, c)->on = true;
    return HS_OK;
}

SETTER(set_maint_until)
{
    if (value == d->def)
        return HS_OK;
    int64_t t;
    if (hs__policy_time_parse(hs_iov_cstr(value), &t) != HS_OK)
        return bad(err, errlen,
                   "'%s' expects a time such as 2026-12-31T23:00:00Z (RFC 3339) or Thu, 31 Dec 2026 23:00:00 GMT, "
                   "got '%s'",
                   d->name, value);
    pol_maint_t *s = maint_own(cfg, conf);
    s->on = true;
    s->until = t;
    return HS_OK;
}

SETTER(set_maint_retry)
{
    if (value == d->def)
        return HS_OK;
    uint64_t ms;
    if (hs_parse_duration(value, &ms) != HS_OK || ms < 1000 || ms > 366ULL * 86400000)
        return bad(err, errlen, "'%s' expects a duration from 1s to 366d, got '%s'", d->name, value);
    pol_maint_t *s = maint_own(cfg, conf);
    s->on = true; /* a maintenance mapping means maintenance */
    s->retry_after_ms = ms;
    return HS_OK;
}

/* ---- the table ---- */
HS_DIRECTIVES_BEGIN
static const hs_directive_t directives[] = {
    /* access */
    {"trusted_proxies", HS_DT_LIST, OFF(trusted), "", "CIDR",
     "front proxies whose Forwarded / X-Forwarded-For name the client (addresses or blocks, repeatable or "
     "comma-separated); the client is the first hop from the right that is not one of them",
     0, 0, ALL, set_trusted},
    {"forwarded_header", HS_DT_STRING, OFF(unused), "x-forwarded-for", "FIELD",
     "the field trusted proxies name the client in: x-forwarded-for or forwarded (only that one is read)", 0, 0, ALL,
     set_fwd_header},
    {"allow", HS_DT_LIST, OFF(acl), "", "CIDR",
     "addresses let in (with deny: first match wins; once any allow is given, an address no rule matches is "
     "refused)",
     0, 0, ALL, set_allow},
    {"deny", HS_DT_LIST, OFF(acl), "", "CIDR",
     "addresses refused with 403; deny: {from: [CIDR, …], action: close} closes without a byte instead (logged as "
     "444)",
     0, 0, ALL, set_deny},
    {"captive_portal", HS_DT_STRING, OFF(captive), "", "off", "captive_portal: off drops an inherited portal", 0, 0,
     ALL, set_captive},
    {"captive_portal.login", HS_DT_STRING, OFF(captive), "", "URL",
     "clients not admitted get 511 Network Authentication Required linking this login page (RFC 6585 §6)", 0, 0, ALL,
     set_captive_login},
    {"captive_portal.admitted", HS_DT_LIST, OFF(captive), "", "ENTRY",
     "admitted clients: addresses, CIDR blocks, or files of them (an absolute path; one per line, re-read when "
     "they change)",
     0, 0, ALL, set_captive_admitted},
    {"limit", HS_DT_STRING, OFF(limit), "", "off", "limit: off drops an inherited rate limit", 0, 0, ALL, set_limit},
    {"limit.rate", HS_DT_STRING, OFF(limit), "", "RATE",
     "requests allowed per key (10r/s, 600r/m, 1r/h, 100r/d); beyond: 429 with Retry-After and the RateLimit "
     "fields",
     0, 0, ALL, set_limit_rate},
    {"limit.burst", HS_DT_INT, OFF(limit), "0", "N",
     "requests admitted at once beyond the rate, 0 to 1000000 (nginx's burst, nodelay)", 0, 0, ALL, set_limit_burst},
    {"limit.key", HS_DT_STRING, OFF(limit), "addr", "KEY",
     "what a limit counts by: addr (the client's address, IPv6 by /64), user (the authenticated user) or "
     "header:NAME (a field's value)",
     0, 0, ALL, set_limit_key},
    {"limit.name", HS_DT_STRING, OFF(limit), "rate", "NAME", "the policy's name in RateLimit-Policy and RateLimit", 0,
     0, ALL, set_limit_name},
    {"limit_keys", HS_DT_INT, OFF(limit_keys), "100000", "N",
     "rate-limit and budget states kept in memory (64 bytes each, shared by the workers); old ones make room", 1024,
     1 << 24, HS_SCOPE_TOP, set_limit_keys},
    {"auth", HS_DT_STRING, OFF(auth), "", "off", "auth: off drops an inherited authentication rule", 0, 0, ALL,
     set_auth},
    {"auth.htpasswd", HS_DT_STRING, OFF(auth), "", "FILE",
     "Basic authentication (RFC 7617) against an Apache htpasswd file (bcrypt, SHA-256/512-crypt, yescrypt, apr1, "
     "SHA, crypt); re-read when it changes and on SIGHUP",
     0, 0, ALL, set_auth_file},
    {"auth.realm", HS_DT_STRING, OFF(auth), "restricted", "REALM", "the realm of the Basic challenge", 0, 0, ALL,
     set_auth_realm},
    {"auth.users", HS_DT_LIST, OFF(auth), "", "USER", "only these users of the file are let in (others get 403)", 0, 0,
     ALL, set_auth_users},
    {"auth.scope", HS_DT_STRING, OFF(auth), "origin", "origin|proxy",
     "proxy: absolute-form requests authenticate with Proxy-Authorization and get 407 with Proxy-Authenticate", 0, 0,
     ALL, set_auth_scope},
    {"auth.allow_plain", HS_DT_BOOL, OFF(auth), "false", "BOOL", "accept plaintext passwords in the file (htpasswd -p)",
     0, 0, ALL, set_auth_plain},
    {"bandwidth", HS_DT_STRING, OFF(bw), "", "off", "bandwidth: off drops an inherited byte budget", 0, 0, ALL, set_bw},
    {"bandwidth.bytes", HS_DT_SIZE, OFF(bw), "", "SIZE",
     "response bytes allowed per period; once spent: 509 with Retry-After at the period's end", 0, 0, ALL,
     set_bw_bytes},
    {"bandwidth.per", HS_DT_DURATION, OFF(bw), "", "DURATION",
     "the budget's period (1h, 1d, 30d), aligned on the Unix epoch (UTC)", 0, 0, ALL, set_bw_per},
    {"bandwidth.key", HS_DT_STRING, OFF(bw), "scope", "scope|addr|user",
     "one budget for the host or path, or one per client address or user", 0, 0, ALL, set_bw_key},
    {"bandwidth.name", HS_DT_STRING, OFF(bw), "bandwidth", "NAME", "the budget's name in the RateLimit fields", 0, 0,
     ALL, set_bw_name},
    {"require_conditional", HS_DT_BOOL, OFF(require_conditional), "false", "BOOL",
     "PUT, PATCH and DELETE without If-Match, If-Unmodified-Since or If-None-Match get 428 (RFC 6585 §3)", 0, 0, ALL},
    {"early_hints", HS_DT_LIST, OFF(hints), "", "LINK",
     "Link values sent in a 103 Early Hints before the final response (HTTP/1.1 clients; RFC 8297)", 0, 0, ALL,
     set_hints},
    /* rewrite */
    {"redirect", HS_DT_STRING, OFF(redirect), "", "off", "redirect: off drops an inherited redirect", 0, 0, ALL,
     set_redirect},
    {"redirect.to", HS_DT_STRING, OFF(redirect), "", "URL",
     "redirect every request here; $scheme $host $path $rest $query are replaced; a redirect to itself is refused", 0,
     0, ALL, set_redirect_to},
    {"redirect.status", HS_DT_INT, OFF(redirect), "302", "CODE", "the redirect's status: 301, 302, 303, 307 or 308", 0,
     0, ALL, set_redirect_status},
    {"return", HS_DT_STRING, OFF(ret), "", "CODE|off",
     "answer every request here with CODE (444: close without a byte); return: {status: …, body: …} for more", 0, 0,
     ALL, set_return},
    {"return.status", HS_DT_INT, OFF(ret), "", "CODE",
     "the status of the fixed answer: any code of the registry; the headers it requires are made from the settings "
     "below",
     0, 0, ALL, set_return_status},
    {"return.body", HS_DT_STRING, OFF(ret), "", "TEXT", "its body (else the registry's page for 4xx/5xx)", 0, 0, ALL,
     set_return_text},
    {"return.content_type", HS_DT_STRING, OFF(ret), "text/plain; charset=utf-8", "TYPE", "the body's type", 0, 0, ALL,
     set_return_text},
    {"return.location", HS_DT_STRING, OFF(ret), "", "URL", "Location (3xx, 201), with the variables of redirect.to", 0,
     0, ALL, set_return_text},
    {"return.allow", HS_DT_STRING, OFF(ret), "", "METHODS", "Allow of a 405 (empty: no method is allowed)", 0, 0, ALL,
     set_return_text},
    {"return.retry_after", HS_DT_DURATION, OFF(ret), "", "DURATION", "Retry-After (503, 413, 509)", 0, 0, ALL,
     set_return_text},
    {"return.link", HS_DT_LIST, OFF(ret), "", "LINK", "Link values (451 needs one)", 0, 0, ALL, set_return_text},
    {"return.realm", HS_DT_STRING, OFF(ret), "", "REALM", "the Basic challenge's realm of a 401 or 407", 0, 0, ALL,
     set_return_text},
    {"gone", HS_DT_LIST, OFF(gone), "", "PATH", "paths (and everything below them) answered 410 Gone", 0, 0, ALL,
     set_gone},
    {"legal_block.paths", HS_DT_LIST, OFF(legal), "", "PATH",
     "paths answered 451 Unavailable For Legal Reasons (none given: every path here)", 0, 0, ALL, set_legal_paths},
    {"legal_block.blocked_by", HS_DT_STRING, OFF(legal), "", "URL",
     "who demanded the block: sent as Link: <URL>; rel=\"blocked-by\" (RFC 7725 §4)", 0, 0, ALL, set_legal_by},
    {"parental_block", HS_DT_LIST, OFF(parental), "", "PATH", "paths answered 450 Blocked by Parental Controls", 0, 0,
     ALL, set_parental},
    {"payment_required.paths", HS_DT_LIST, OFF(pay), "", "PATH",
     "paths answered 402 Payment Required (none given: every path here)", 0, 0, ALL, set_pay_paths},
    {"payment_required.pay_at", HS_DT_STRING, OFF(pay), "", "URL",
     "where to pay: sent as Link: <URL>; rel=\"payment\" and in the body", 0, 0, ALL, set_pay_at},
    {"maintenance", HS_DT_STRING, OFF(maint), "", "on|off", "answer 503 with Retry-After to every request here", 0, 0,
     ALL, set_maint},
    {"maintenance.until", HS_DT_STRING, OFF(maint), "", "TIME",
     "the end of the maintenance (2026-12-31T23:00:00Z or an HTTP-date): Retry-After counts down to it, and the "
     "rule lapses then",
     0, 0, ALL, set_maint_until},
    {"maintenance.retry_after", HS_DT_DURATION, OFF(maint), "5m", "TIME", "Retry-After when no end is given", 0, 0, ALL,
     set_maint_retry},
};
HS_DIRECTIVES_END

/* ---- the module ---- */
/* A path without rules costs nothing: the engine skips the handlers of the phases named here. */
static unsigned phases(const void *conf)
{
    const pol_conf_t *c = conf;
    return (c->rewrite ? HS_PHASE_BIT_REWRITE : 0u) | (c->access ? HS_PHASE_BIT_ACCESS : 0u) |
           (c->access & PA_BANDWIDTH ? HS_PHASE_BIT_LOG : 0u);
}

static const hs_cause_info_t causes[PC__COUNT] = {
    [PC_DENY] = {"rule:deny", 403, {0}, "allow", "An allow/deny rule refused the client's address (first match wins)."},
    [PC_DENY_CLOSE] =
        {"rule:deny_close", 444, {0}, "deny", "A deny rule with action: close: the connection closed without a byte."},
    [PC_CAPTIVE] = {"rule:captive_portal",
                    511,
                    {0},
                    "captive_portal",
                    "The client is not admitted yet: the body links the login page (RFC 6585 §6)."},
    [PC_LIMIT] = {"rule:limit",
                  429,
                  {0},
                  "limit",
                  "Over a rate limit (GCRA): Retry-After and the RateLimit fields say when to come back."},
    [PC_AUTH] = {"rule:auth",
                 401,
                 {0},
                 "auth",
                 "Credentials missing, malformed, of another scheme or wrong (Basic, RFC 7617)."},
    [PC_PROXY_AUTH] = {"rule:proxy_auth",
                       407,
                       {0},
                       "auth.scope",
                       "Proxy credentials missing or wrong on a forward-proxy request (auth.scope: proxy)."},
    [PC_USER] = {"rule:auth_user", 403, {0}, "auth.users", "A valid user who is not in auth.users."},
    [PC_BANDWIDTH] = {"rule:bandwidth",
                      509,
                      {0},
                      "bandwidth",
                      "The bandwidth budget of the period is spent; Retry-After gives the period's end."},
    [PC_CONDITIONAL] = {"rule:require_conditional",
                        428,
                        {0},
                        "require_conditional",
                        "A write without If-Match or If-Unmodified-Since (RFC 6585 §3)."},
    [PC_LEGAL] = {"rule:legal_block",
                  451,
                  {0},
                  "legal_block",
                  "Blocked on a legal demand; Link rel=\"blocked-by\" names who demanded it (RFC 7725)."},
    [PC_GONE] = {"rule:gone", 410, {0}, "gone", "Removed on purpose and not coming back."},
    [PC_PARENTAL] = {"rule:parental_block", 450, {0}, "parental_block", "Blocked by parental controls."},
    [PC_PAYMENT] = {"rule:payment_required", 402, {0}, "payment_required", "Payment is required; Link names where."},
    [PC_MAINTENANCE] =
        {"rule:maintenance", 503, {0}, "maintenance", "Down for maintenance until the configured time (Retry-After)."},
    [PC_RETURN] = {"rule:return", 0, {0}, "return", "A fixed answer configured with return: (its status)."},
    [PC_REDIRECT] = {"rule:redirect", 0, {0}, "redirect", "A redirect rule (301, 302, 303, 307 or 308 with Location)."},
    [PC_REDIRECT_FAILED] = {"rule:redirect_failed",
                            500,
                            {0},
                            "redirect",
                            "A redirect's Location could not be made for this request (its Host cannot stand in a "
                            "URL, or it would be too long)."},
};

hs_module_t hs_module_policy = {
    .name = "policy",
    .conf = {.name = "policy",
             .directives = directives,
             .count = HS_ARRAY_SIZE(directives),
             .size = sizeof(pol_conf_t),
             .check = hs__policy_check,
             .release = hs__policy_release,
             .phases = phases},
    .rewrite = hs__policy_rewrite,
    .access = hs__policy_access,
    .log = hs__policy_log,
    .reload = hs__policy_reload,
    .causes = causes,
    .ncauses = PC__COUNT,
};
