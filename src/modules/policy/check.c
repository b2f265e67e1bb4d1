/* statusd — policy: checking a host's or path's final settings (the module's check and release),
 * the objects rules share (password files, admission files, the rate-limit store), and the times
 * of maintenance.until.
 *
 * Why here and not in the setters: a setter sees one value; a redirect that comes back to
 * itself, a return code and the headers it needs, a rule missing its key, a file that must be
 * read — these need the whole tree, and their errors carry the FILE:LINE of the directive at
 * fault (the engine's locate, from pol_spec_t.by or the directive's name). Each spec is compiled
 * once however many paths share it; check() fails cleanly (what it compiled for the failed
 * settings struct alone is undone, nothing else is touched). */
#define _GNU_SOURCE
#include "module.h"

#include "hs/status.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(char *err, size_t errlen, const char *fmt, ...) HS_FMT(3, 4);
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return HS_ERROR;
}

/* A rule's namespace in a shared store (store.redis): what the rule is — its kind, name, numbers
 * and key — and not where the configuration happened to declare it, so that every instance of a
 * service, and this one after a reload, count the same rule in the same Redis keys. Two rules
 * alike in all of these share their counters there: give them different names (limit.name) to
 * keep them apart. FNV-1a, never 0. */
static uint32_t shared_zone(char kind, const char *name, uint64_t a, uint64_t b, uint64_t c, int key,
                            const char *header)
{
    uint32_t h = 2166136261u;
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "%c|%s|%llu|%llu|%llu|%d|%s", kind, name ? name : "", (unsigned long long)a,
                     (unsigned long long)b, (unsigned long long)c, key, header ? header : "");
    for (int i = 0; i < n && i < (int)sizeof(buf) - 1; i++)
        h = (h ^ (unsigned char)buf[i]) * 16777619u;
    return h ? h : 1;
}

/* ---- shared objects: password files, admission files, the rate-limit store ----
 * Made by check() on the configuration's thread, shared by every spec naming the same file;
 * SIGHUP (main thread, while workers serve) walks the same list under its lock. */
typedef struct shared_s {
    struct shared_s *next;
    char *path;
    bool plain; /* htpasswd: allow_plain */
    bool admit; /* an admission file, else a password file */
    int refs;
    hs__htpasswd_t *h;
    pol_admit_t *a;
} shared_t;

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static shared_t *shared;
static hs_limit_store_t *store;
static int store_refs;

hs_limit_store_t *hs__policy_store(void)
{
    return store;
}

static void store_ref(int keys)
{
    if (store_refs++ == 0) {
        size_t n = keys > 0 ? (size_t)keys : 100000;
        store = hs_limit_memstore_new(n, n / 4 > 1024 ? n / 4 : 1024);
    }
}

static void store_unref(void)
{
    if (--store_refs == 0) {
        hs_limit_store_free(store);
        store = NULL;
    }
}

static shared_t *shared_get(const char *path, bool admit, bool plain, char *err, size_t errlen)
{
    pthread_mutex_lock(&shared_mu);
    shared_t *s = shared;
    while (s && !(s->admit == admit && s->plain == plain && !strcmp(s->path, path)))
        s = s->next;
    if (s) {
        s->refs++;
        pthread_mutex_unlock(&shared_mu);
        return s;
    }
    pthread_mutex_unlock(&shared_mu);
    hs__htpasswd_t *h = NULL;
    pol_admit_t *a = NULL;
    if (admit) {
        if (hs__admit_open(path, &a, err, errlen) != HS_OK)
            return NULL;
    } else {
        hs__htpasswd_opts_t o = {.allow_plain = plain};
        if (hs__htpasswd_open(path, &o, &h, err, errlen) != HS_OK)
            return NULL;
    }
    s = hs_calloc(1, sizeof(*s));
    *s = (shared_t){.path = hs_strdup(path), .plain = plain, .admit = admit, .refs = 1, .h = h, .a = a};
    pthread_mutex_lock(&shared_mu);
    s->next = shared;
    shared = s;
    pthread_mutex_unlock(&shared_mu);
    return s;
}

static void shared_put_htpasswd(hs__htpasswd_t *h)
{
    pthread_mutex_lock(&shared_mu);
    for (shared_t **p = &shared; *p; p = &(*p)->next) {
        shared_t *s = *p;
        if ((h && s->h == h) && --s->refs == 0) {
            *p = s->next;
            hs__htpasswd_free(s->h);
            free(s->path);
            free(s);
            break;
        }
        if (h && s->h == h)
            break;
    }
    pthread_mutex_unlock(&shared_mu);
}

static void shared_put_admit(pol_admit_t *a)
{
    pthread_mutex_lock(&shared_mu);
    for (shared_t **p = &shared; *p; p = &(*p)->next) {
        shared_t *s = *p;
        if (s->a != a)
            continue;
        if (--s->refs == 0) {
            *p = s->next;
            hs__admit_free(s->a);
            free(s->path);
            free(s);
        }
        break;
    }
    pthread_mutex_unlock(&shared_mu);
}

/* SIGHUP: every password and admission file read again, whether it changed or not. */
void hs__policy_reload(hs_server_t *srv)
{
    HS_UNUSED(srv);
    pthread_mutex_lock(&shared_mu);
    for (shared_t *s = shared; s; s = s->next) {
        char err[512];
        int r = s->admit ? hs__admit_reload(s->a, err, sizeof(err)) : hs__htpasswd_reload(s->h, err, sizeof(err));
        if (r != HS_OK)
            hs_log_error("SIGHUP: %s", err);
        else
            hs_log_info("SIGHUP: %s read again", s->path);
    }
    pthread_mutex_unlock(&shared_mu);
}

/* ---- check: compile each spec once, sum up the rules ---- */

/* Where a spec was written: the prefix of the scope whose settings made it, and that host's
 * names for the loop check. */
typedef struct where_s {
    const char *prefix;
    const hs_hostconf_t *host; /* NULL: the top (every host) */
} where_t;

static where_t where_of(hs_config_t *top, const hs_pathconf_t *path, const void *owner)
{
    int idx = hs_module_policy.index;
    where_t w = {path->prefix ? path->prefix : "", path->host};
    if (owner == top->mod[idx])
        return (where_t){"", NULL};
    size_t nh;
    const hs_hostconf_t *hosts = hs_config_hosts(top, &nh);
    for (size_t i = 0; i < nh; i++) {
        const hs_hostconf_t *h = &hosts[i];
        if (h->cfg->mod[idx] == owner)
            return (where_t){"", h};
        for (size_t j = 0; j < h->npaths; j++)
            if (h->paths[j]->cfg->mod[idx] == owner)
                return (where_t){h->paths[j]->prefix, h};
    }
    return w;
}

typedef struct loop_ctx_s {
    hs_config_t *top;
    const void *spec;
} loop_ctx_t;

/* Does a request for (scheme, host, path) meet this very redirect (or fixed answer) again? */
static bool loop_reaches(void *ctx, hs_iovec_t scheme, hs_iovec_t host, hs_iovec_t path)
{
    loop_ctx_t *x = ctx;
    if (!HS_IOV_EQ(scheme, "http"))
        return false; /* only plain HTTP is served for now (hs_req_scheme; TLS: issue 15) */
    bool known;
    const hs_pathconf_t *p = hs_config_lookup(x->top, host, path, &known);
    if (!known && x->top->strict_hosts)
        return false; /* 421 */
    const pol_conf_t *c = p ? p->cfg->mod[hs_module_policy.index] : x->top->mod[hs_module_policy.index];
    return (const void *)c->redirect == x->spec || (const void *)c->ret == x->spec;
}

static int check_loop(hs_config_t *top, const hs__redirect_t *r, const where_t *w, const void *spec, char *err,
                      size_t errlen)
{
    const char *names[2] = {NULL, NULL};
    char wild[300];
    if (w->host && strcmp(w->host->name, "*") != 0) {
        if (w->host->name[0] == '*') { /* "*.example.com": one name below it */
            snprintf(wild, sizeof(wild), "www%s", w->host->name + 1);
            names[0] = wild;
        } else
            names[0] = w->host->name;
    }
    loop_ctx_t x = {top, spec};
    hs__redirect_scope_t sc = {.hosts = names[0] ? names : NULL,
                               .http = true,
                               .prefix = hs_iov_cstr(w->prefix),
                               .reaches = loop_reaches,
                               .ctx = &x};
    return hs__redirect_check_loop(r, &sc, err, errlen);
}

static void uncompile_acl(pol_acl_t *s)
{
    hs_acl_free(s->acl);
    s->acl = NULL;
    free(s->why);
    s->why = NULL;
    s->s.ready = false;
}

static void uncompile_cidrs(pol_cidrs_t *s)
{
    hs_acl_free(s->acl);
    s->acl = NULL;
    s->s.ready = false;
}

static void uncompile_captive(pol_captive_t *s)
{
    uncompile_cidrs(&s->adm);
    for (size_t i = 0; i < s->nfiles; i++)
        shared_put_admit(s->files[i]);
    free(s->files);
    s->files = NULL;
    s->nfiles = 0;
    free((void *)s->body);
    s->body = NULL;
    s->s.ready = false;
}

static void uncompile_limit(pol_limit_t *s)
{
    free(s->policy_item);
    s->policy_item = NULL;
    store_unref();
    s->s.ready = false;
}

static void uncompile_bw(pol_bw_t *s)
{
    free(s->policy_item);
    s->policy_item = NULL;
    store_unref();
    s->s.ready = false;
}

static void uncompile_auth(pol_auth_t *s)
{
    shared_put_htpasswd(s->h);
    s->h = NULL;
    free((void *)s->challenge);
    s->challenge = NULL;
    s->s.ready = false;
}

static void uncompile_redirect(pol_redirect_t *s)
{
    hs__redirect_free(s->r);
    s->r = NULL;
    s->s.ready = false;
}

static void uncompile_return(pol_return_t *s)
{
    hs__redirect_free(s->loc);
    s->loc = NULL;
    free((void *)s->challenge);
    s->challenge = NULL;
    s->s.ready = false;
}

static void uncompile_paths(pol_paths_t *s)
{
    free((void *)s->link);
    s->link = NULL;
    s->s.ready = false;
}

static void uncompile_hints(pol_hints_t *s)
{
    free(s->h);
    s->h = NULL;
    s->s.ready = false;
}

static void uncompile_maint(pol_maint_t *s)
{
    s->s.ready = false;
}

/* Every spec of a settings struct, with its compiled parts' release. */
typedef struct slot_s {
    pol_spec_t *s;
    void (*uncompile)(void *);
} slot_t;

#define NSLOTS 14
static size_t slots_of(pol_conf_t *c, slot_t out[NSLOTS])
{
    size_t n = 0;
#define SLOT(p, fn)                                                                                                    \
    if (p)                                                                                                             \
    out[n++] = (slot_t){&(p)->s, (void (*)(void *))(fn)}
    SLOT(c->trusted, uncompile_cidrs);
    SLOT(c->acl, uncompile_acl);
    SLOT(c->captive, uncompile_captive);
    SLOT(c->limit, uncompile_limit);
    SLOT(c->auth, uncompile_auth);
    SLOT(c->bw, uncompile_bw);
    SLOT(c->hints, uncompile_hints);
    SLOT(c->redirect, uncompile_redirect);
    SLOT(c->ret, uncompile_return);
    SLOT(c->gone, uncompile_paths);
    SLOT(c->parental, uncompile_paths);
    SLOT(c->legal, uncompile_paths);
    SLOT(c->pay, uncompile_paths);
    SLOT(c->maint, uncompile_maint);
#undef SLOT
    return n;
}

static char *strdupf(const char *fmt, ...) HS_FMT(1, 2);
static char *strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

static hs_acl_t *acl_of(const hs_cidr_t *v, const uint8_t *act, size_t n)
{
    hs_acl_t *a = hs_acl_new();
    for (size_t i = 0; i < n; i++)
        hs_acl_add(a, &v[i], act ? act[i] : HS_ACL_ALLOW);
    hs_acl_compile(a);
    return a;
}

static int compile_acl(pol_acl_t *s)
{
    s->acl = acl_of(s->cidr, s->action, s->n);
    s->why = hs_calloc(s->n, sizeof(*s->why) + HS_CIDR_MAX + 8);
    char *text = (char *)(s->why + s->n);
    bool any_allow = false;
    s->unidentified = -1;
    for (size_t i = 0; i < s->n; i++) {
        char *t = text + i * (HS_CIDR_MAX + 8);
        int k = snprintf(t, 8, "%s:", s->action[i] == HS_ACL_ALLOW ? "allow" : "deny");
        hs_cidr_format(&s->cidr[i], t + k, HS_CIDR_MAX);
        s->why[i] = t;
        any_allow |= s->action[i] == HS_ACL_ALLOW;
        if (s->unidentified < 0 && s->cidr[i].bits == 0 && s->cidr[i].sees_v4) { /* "all" */
            s->unidentified = s->action[i];
            s->unidentified_why = t;
        }
    }
    s->dflt = any_allow ? HS_ACL_DENY : HS_ACL_ALLOW;
    if (s->unidentified < 0) {
        s->unidentified = s->dflt;
        s->unidentified_why = any_allow ? "deny:unidentified" : NULL;
    }
    return HS_OK;
}

static const char *captive_page(const char *login)
{
    /* RFC 6585 §6: the body links the login page; no challenge, not to be cached */
    hs_buf_t b = {0};
    HS_BUF_LIT(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<title>511 Network Authentication Required</title>\n");
    HS_BUF_LIT(&b, "<meta http-equiv=\"refresh\" content=\"0; url=");
    HS_HTML_CSTR(&b, login);
    HS_BUF_LIT(&b, "\">\n</head>\n<body>\n<h1>511 Network Authentication Required</h1>\n"
                   "<p>This network needs you to log in before you can go further.</p>\n<p><a href=\"");
    HS_HTML_CSTR(&b, login);
    HS_BUF_LIT(&b, "\">Log in to the network</a></p>\n</body>\n</html>\n");
    char *s = hs_malloc(b.len + 1);
    memcpy(s, b.base, b.len);
    s[b.len] = '\0';
    hs_buf_free(&b);
    return s;
}

/* Is sp this spec (which may be NULL)? */
#define IS(p) ((p) && sp == &(p)->s)

/* Compile one spec; on error *bad names the directive. */
static int compile(hs_config_t *top, const hs_pathconf_t *path, pol_conf_t *c, pol_spec_t *sp, const char **badd,
                   char *err, size_t errlen)
{
    pol_conf_t *topc = top->mod[hs_module_policy.index];
    if (IS(c->trusted)) {
        c->trusted->acl = acl_of(c->trusted->v, NULL, c->trusted->n);
    } else if (IS(c->acl)) {
        compile_acl(c->acl);
    } else if (IS(c->captive)) {
        pol_captive_t *s = c->captive;
        *badd = s->s.by;
        if (!s->login)
            return bad(err, errlen, "captive_portal needs login: the page clients not admitted are sent to");
        s->adm.acl = acl_of(s->adm.v, NULL, s->adm.n);
        s->files = hs_calloc(s->adm.files.n ? s->adm.files.n : 1, sizeof(*s->files));
        for (size_t i = 0; i < s->adm.files.n; i++) {
            shared_t *sh = shared_get(s->adm.files.v[i], true, false, err, errlen);
            if (!sh) {
                *badd = "captive_portal.admitted";
                uncompile_captive(s);
                return HS_ERROR;
            }
            s->files[s->nfiles++] = sh->a;
        }
        s->body = captive_page(s->login);
        s->body_len = strlen(s->body);
    } else if (IS(c->limit)) {
        pol_limit_t *s = c->limit;
        const char *why;
        *badd = s->s.by;
        if (!s->count)
            return bad(err, errlen, "limit needs rate: how many requests per second, minute, hour or day (10r/s)");
        if (hs_gcra_init(&s->g, s->count, s->period_ms, s->burst, &why) != HS_OK)
            return bad(err, errlen, "limit: %s", why);
        s->g.zone = s->zone;
        s->g.name = s->name;
        s->g.shared_zone = shared_zone('l', s->name, s->count, s->period_ms, s->burst, s->key, s->header);
        char item[HS__POLICY_ITEM_MAX];
        hs__policy_rate_policy_item(item, sizeof(item), &s->g);
        s->policy_item = hs_strdup(item);
        store_ref(topc->limit_keys);
    } else if (IS(c->auth)) {
        pol_auth_t *s = c->auth;
        *badd = s->s.by;
        if (!s->file)
            return bad(err, errlen, "auth needs htpasswd: the password file (make one with Apache's htpasswd)");
        *badd = "auth.htpasswd";
        shared_t *sh = shared_get(s->file, false, s->allow_plain, err, errlen);
        if (!sh)
            return HS_ERROR;
        s->h = sh->h;
        char ch[HS_BASIC_CHALLENGE_MAX];
        hs_basic_challenge(ch, sizeof(ch), s->realm);
        s->challenge = hs_strdup(ch);
    } else if (IS(c->bw)) {
        pol_bw_t *s = c->bw;
        const char *why;
        *badd = s->s.by;
        if (!s->bytes || !s->per_ms)
            return bad(err, errlen, "bandwidth needs bytes and per (bandwidth: {bytes: 10g, per: 30d})");
        if (hs_budget_init(&s->b, s->bytes, s->per_ms, &why) != HS_OK)
            return bad(err, errlen, "bandwidth: %s", why);
        s->b.zone = s->zone;
        s->b.name = s->name;
        s->b.shared_zone = shared_zone('b', s->name, s->bytes, s->per_ms, 0, s->key, NULL);
        char item[HS__POLICY_ITEM_MAX];
        hs__policy_budget_policy_item(item, sizeof(item), &s->b);
        s->policy_item = hs_strdup(item);
        store_ref(topc->limit_keys);
    } else if (IS(c->hints)) {
        pol_hints_t *s = c->hints;
        s->h = hs_calloc(s->links.n, sizeof(*s->h));
        for (size_t i = 0; i < s->links.n; i++)
            s->h[i] = (hs_res_header_t){HS_IOV("Link"), hs_iov_cstr(s->links.v[i])};
    } else if (IS(c->redirect)) {
        pol_redirect_t *s = c->redirect;
        *badd = s->s.by;
        if (!s->to)
            return bad(err, errlen, "redirect needs to: the target URL");
        *badd = "redirect.to";
        char msg[512];
        if (hs__redirect_compile(s->to, &s->r, msg, sizeof(msg)) != HS_OK)
            return bad(err, errlen, "redirect.to: %s", msg);
        where_t w = where_of(top, path, s->s.owner);
        s->prefix = w.prefix;
        if (check_loop(top, s->r, &w, s, err, errlen) != HS_OK) {
            uncompile_redirect(s);
            return HS_ERROR;
        }
    } else if (IS(c->ret)) {
        pol_return_t *s = c->ret;
        *badd = s->status_by ? s->status_by : s->s.by;
        if (!s->status)
            return bad(err, errlen, "return needs status: the code to answer with");
        const hs_status_info_t *info = hs_status_get(s->status);
        if (s->body && !hs_status_allows_body(s->status))
            return bad(err, errlen, "return %d: a %d response has no content, so return.body cannot be sent", s->status,
                       s->status);
        if (s->status == 444 && (s->body || s->links.n || s->location))
            return bad(err, errlen, "return 444 closes the connection without a byte: nothing else can be sent");
        /* what the registry requires, and the Link of 451 (RFC 7725 §3) and the RateLimit fields
         * of 429 that status-codes.md lists among their rules */
        for (uint32_t left = info->required | (info->recommended & (HS_RH_LINK | HS_RH_RATELIMIT)); left;
             left &= left - 1) {
            uint32_t bit = left & -left;
            const char *name = hs_status_header_name(bit);
            switch (bit) {
            case HS_RH_LOCATION:
                if (s->location)
                    continue;
                return bad(err, errlen, "return %d needs return.location: a %d response must carry Location", s->status,
                           s->status);
            case HS_RH_ALLOW: continue; /* return.allow, or empty: no method is allowed (RFC 9110 §10.2.1) */
            case HS_RH_WWW_AUTHENTICATE:
            case HS_RH_PROXY_AUTHENTICATE:
                if (s->realm)
                    continue;
                return bad(err, errlen, "return %d needs return.realm: a %d response must carry %s with a challenge",
                           s->status, s->status, name);
            case HS_RH_RETRY_AFTER:
                if (s->retry_after_set)
                    continue;
                break;
            case HS_RH_LINK:
                if (s->links.n)
                    continue;
                return bad(err, errlen, "return %d needs return.link: a %d response must carry Link%s", s->status,
                           s->status, s->status == 451 ? " (rel=\"blocked-by\", RFC 7725 §4)" : "");
            case HS_RH_CONNECTION_CLOSE: continue; /* the engine closes after it */
            default: break;
            }
            if (s->status == 429)
                return bad(err, errlen,
                           "return 429 cannot be made: it needs Retry-After and the RateLimit fields of a real limit "
                           "(use limit: {rate: …})");
            return bad(err, errlen,
                       "return %d cannot be made: a %d response must carry %s, which a fixed answer cannot give "
                       "truthfully",
                       s->status, s->status, name);
        }
        if (s->location) {
            char msg[512];
            *badd = "return.location";
            if (hs__redirect_compile(s->location, &s->loc, msg, sizeof(msg)) != HS_OK)
                return bad(err, errlen, "return.location: %s", msg);
            where_t w = where_of(top, path, s->s.owner);
            s->prefix = w.prefix;
            if (s->status >= 300 && s->status < 400 && check_loop(top, s->loc, &w, s, err, errlen) != HS_OK) {
                uncompile_return(s);
                return HS_ERROR;
            }
        }
        if (s->realm) {
            char ch[HS_BASIC_CHALLENGE_MAX];
            hs_basic_challenge(ch, sizeof(ch), s->realm);
            s->challenge = hs_strdup(ch);
        }
    } else if (IS(c->legal)) {
        *badd = c->legal->s.by;
        if (!c->legal->url)
            return bad(err, errlen,
                       "legal_block needs blocked_by: who demanded the block (a 451 carries Link: <URL>; "
                       "rel=\"blocked-by\", RFC 7725 §4)");
        c->legal->link = strdupf("<%s>; rel=\"blocked-by\"", c->legal->url);
    } else if (IS(c->pay)) {
        *badd = c->pay->s.by;
        if (!c->pay->url)
            return bad(err, errlen, "payment_required needs pay_at: where to pay");
        c->pay->link = strdupf("<%s>; rel=\"payment\"", c->pay->url);
    }
    return HS_OK;
}

int hs__policy_check(hs_config_t *top, const hs_pathconf_t *path, void *p, const char **badd, char *err, size_t errlen)
{
    pol_conf_t *c = p;
    slot_t slots[NSLOTS];
    size_t n = slots_of(c, slots);
    for (size_t i = 0; i < n; i++) {
        if (slots[i].s->ready)
            continue;
        if (compile(top, path, c, slots[i].s, badd, err, errlen) != HS_OK) {
            /* nothing of this struct is kept: undo what was compiled for it alone (the failed
             * spec cleaned up after itself) */
            for (size_t k = 0; k < i; k++)
                if (slots[k].s->refs == 0 && slots[k].s->ready)
                    slots[k].uncompile(slots[k].s);
            return HS_ERROR;
        }
        slots[i].s->ready = true;
    }
    if (c->limit && c->limit->key == KEY_USER && !c->auth) {
        *badd = "limit.key";
        for (size_t k = 0; k < n; k++)
            if (slots[k].s->refs == 0 && slots[k].s->ready)
                slots[k].uncompile(slots[k].s);
        return bad(err, errlen, "limit.key user needs auth on the same host or path (who else is the user?)");
    }
    for (size_t i = 0; i < n; i++)
        slots[i].s->refs++;
    /* the rules that apply here, for the handlers' one test */
    unsigned a = 0, r = 0;
    if (c->acl && c->acl->n)
        a |= PA_ACL | PA_CLIENT;
    if (c->captive)
        a |= PA_CAPTIVE | PA_CLIENT;
    if (c->limit) /* a user or a field may be missing: the address stands in */
        a |= (c->limit->key == KEY_USER ? PA_LIMIT_USER : PA_LIMIT_EARLY) | PA_CLIENT;
    if (c->auth)
        a |= PA_AUTH;
    if (c->bw)
        a |= PA_BANDWIDTH | (c->bw->key != KEY_SCOPE ? PA_CLIENT : 0);
    if (c->require_conditional)
        a |= PA_CONDITIONAL;
    if (c->hints && c->hints->links.n)
        a |= PA_HINTS;
    if (c->legal)
        r |= PR_LEGAL;
    if (c->gone && c->gone->paths.n)
        r |= PR_GONE;
    if (c->parental && c->parental->paths.n)
        r |= PR_PARENTAL;
    if (c->pay)
        r |= PR_PAYMENT;
    if (c->maint && c->maint->on)
        r |= PR_MAINT;
    if (c->ret)
        r |= PR_RETURN;
    if (c->redirect)
        r |= PR_REDIRECT;
    c->access = a;
    c->rewrite = r;
    return HS_OK;
}

void hs__policy_release(void *p)
{
    pol_conf_t *c = p;
    slot_t slots[NSLOTS];
    size_t n = slots_of(c, slots);
    for (size_t i = 0; i < n; i++)
        if (slots[i].s->refs > 0 && --slots[i].s->refs == 0 && slots[i].s->ready)
            slots[i].uncompile(slots[i].s);
    c->access = c->rewrite = 0;
}

/* ---- times (maintenance.until) ---- */

static bool digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int hs__policy_time_parse(hs_iovec_t s, int64_t *out)
{
    /* RFC 3339 §5.6: date-time = full-date "T" full-time; full-time = partial-time time-offset */
    const char *p = s.base;
    size_t n = s.len;
    int Y, M, D, h, mi, sec;
    if (n >= 20 && digits(p, 4, &Y) && p[4] == '-' && digits(p + 5, 2, &M) && p[7] == '-' && digits(p + 8, 2, &D) &&
        (p[10] == 'T' || p[10] == 't' || p[10] == ' ') && digits(p + 11, 2, &h) && p[13] == ':' &&
        digits(p + 14, 2, &mi) && p[16] == ':' && digits(p + 17, 2, &sec)) {
        size_t i = 19;
        if (i < n && p[i] == '.') { /* a fraction of a second: read, not used */
            size_t f = ++i;
            while (i < n && p[i] >= '0' && p[i] <= '9')
                i++;
            if (i == f)
                return HS_ERROR;
        }
        int64_t off = 0;
        if (i + 1 == n && (p[i] == 'Z' || p[i] == 'z')) {
            i++;
        } else if (i + 6 == n && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':') {
            int oh, om;
            if (!digits(p + i + 1, 2, &oh) || !digits(p + i + 4, 2, &om) || oh > 23 || om > 59)
                return HS_ERROR;
            off = (p[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
            i += 6;
        } else
            return HS_ERROR;
        static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 60)
            return HS_ERROR;
        bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
        if (M == 2 && D == 29 && !leap)
            return HS_ERROR;
        if (sec == 60)
            sec = 59; /* a leap second: the moment before */
        int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off;
        if (t < 0)
            return HS_ERROR;
        *out = t;
        return HS_OK;
    }
    time_t t;
    if (hs_http_date_parse(s, &t) && t >= 0) {
        *out = (int64_t)t;
        return HS_OK;
    }
    return HS_ERROR;
}
