/* statusd — hosts and paths: building them from what was written (hs_config_validate), and
 * finding the one that serves a request (hs_config_lookup).
 *
 * Settings flow down by copy and replay: a host's settings start as a copy of the top's and its
 * own values are applied to them; a path starts from the nearest enclosing path of its host (on
 * segment boundaries) or from the host. The values were checked when they were read (yaml.c),
 * so replaying them cannot fail. Every settings struct in use is then checked once by its owner
 * (the engine reads its error pages; the static origin opens its document root …); a mistake is
 * reported with the FILE:LINE of the value at fault. */
#define _GNU_SOURCE
#include "internal.h"
#include "hs/fields.h"
#include "hs/logfmt.h"
#include "hs/parse.h"
#include "hs/path.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- locations ---- */

static bool under(const char *path, const char *prefix);

/* Prefix err with where the value of d that `cfg` holds was written: the scope's own values
 * first (`own`), then those of the enclosing paths of the host `hscope` (nearest first: a path
 * inherits from them, `prefix` is its own), then the host's, then the top's. */
static void locate(const hs_config_t *top, const hs__centry_t *own, const hs__centry_t *host, const hs_directive_t *d,
                   char *err, size_t errlen, const hs__cscope_t *hscope, const char *prefix)
{
    const hs__centry_t *found = NULL;
    for (const hs__centry_t *e = own; e; e = e->next)
        if (e->d == d)
            found = e; /* the last value given wins */
    size_t best = 0;
    for (const hs__cscope_t *ps = hscope && prefix && !found ? hscope->paths : NULL; ps; ps = ps->next) {
        size_t len = strlen(ps->name);
        if (strcmp(ps->name, prefix) == 0 || !under(prefix, ps->name) || (found && len < best))
            continue;
        for (const hs__centry_t *e = ps->entries; e; e = e->next)
            if (e->d == d) {
                found = e;
                best = len;
            }
    }
    for (const hs__centry_t *e = host; e && !found; e = e->next)
        if (e->d == d)
            found = e;
    if (!found)
        for (const hs__centry_t *e = top->state->top; e; e = e->next)
            if (e->d == d)
                found = e;
    if (!found || !found->origin)
        return;
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s", err);
    if (found->line)
        snprintf(err, errlen, "%s:%zu: %s", found->origin, found->line, msg);
    else
        snprintf(err, errlen, "%s: %s", found->origin, msg);
}

/* ---- the engine's own checks of a settings set ---- */

/* Read one error_page file into pg->body: a regular file of at most HS_ERROR_PAGE_MAX_SIZE
 * bytes. HS_OK, or HS_ERROR with a message naming the code and the file. */
static int error_page_load(hs_config_t *top, hs_error_page_t *pg, char *err, size_t errlen)
{
    int ret = HS_ERROR;
    struct stat st;
    pg->body = NULL;
    pg->len = 0;
    /* O_NONBLOCK: a FIFO must not stall startup; it is refused below as not a regular file */
    int fd = open(pg->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "error_page %d: cannot read %s: %s", pg->status, pg->path, strerror(errno));
        goto Exit;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "error_page %d: %s is not a regular file", pg->status, pg->path);
        goto Exit;
    }
    if (st.st_size > HS_ERROR_PAGE_MAX_SIZE) {
        snprintf(err, errlen, "error_page %d: %s has %lld bytes; an error page may have at most %d", pg->status,
                 pg->path, (long long)st.st_size, HS_ERROR_PAGE_MAX_SIZE);
        goto Exit;
    }
    /* room for one byte more than fstat said, to notice a file that grew meanwhile */
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *body = hs_config_alloc(top, cap);
    for (;;) {
        ssize_t n = read(fd, body + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "error_page %d: cannot read %s: %s", pg->status, pg->path, strerror(errno));
            goto Exit;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap) {
            snprintf(err, errlen, "error_page %d: %s changed while it was being read", pg->status, pg->path);
            goto Exit;
        }
    }
    pg->body = body;
    pg->len = len;
    ret = HS_OK;
Exit:
    if (fd >= 0)
        close(fd);
    return ret;
}

/* Every error_page file is read here, once, at startup (and by -t), before privileges are
 * dropped; answering a request never touches the disk for it. The methods of length_required
 * become a bit set. */
static int engine_check(hs_config_t *top, hs_config_t *c, const char **bad, char *err, size_t errlen)
{
    if (hs_logfmt_compile(&top->state->arena, c->log_format ? c->log_format : "", &c->log_fmt, err, errlen) != HS_OK) {
        *bad = "log_format";
        return HS_ERROR;
    }
    for (size_t i = 0; i < c->num_error_pages; i++) {
        if (error_page_load(top, &c->error_pages[i], err, errlen) != HS_OK) {
            *bad = "error_page";
            return HS_ERROR;
        }
    }
    c->tls_rule = c->redirect_to_https ? 308 : c->require_tls ? 426 : 0;
    c->length_required_mask = 0;
    if (c->length_required) {
        hs_iovec_t v = hs_iov_cstr(c->length_required), m;
        size_t pos = 0;
        while ((m = hs_list_next(v, &pos)).base) {
            bool found = false;
            for (int i = 1; i < HS_METHOD__COUNT; i++) {
                const char *name = hs_method_name((hs_method_t)i);
                if (name[0] && hs_iov_eq(m, name, strlen(name))) {
                    c->length_required_mask |= 1u << i;
                    found = true;
                }
            }
            if (!found) {
                snprintf(err, errlen, "length_required: unknown method '%.*s'", (int)m.len, m.base);
                *bad = "length_required";
                return HS_ERROR;
            }
        }
    }
    return HS_OK;
}

/* ---- building ---- */

/* Does this value name its owner a content handler (a non-empty string, or true)? */
static bool names_handler(const hs__centry_t *e)
{
    const hs_conf_schema_t *s = hs__config_schema(e->d->owner);
    if (!s || !s->handler ||
        (strcmp(s->handler, e->d->name) != 0 && (!s->handler_alt || strcmp(s->handler_alt, e->d->name) != 0)))
        return false;
    if (e->d->type == HS_DT_BOOL)
        return !strcasecmp(e->value, "true") || !strcasecmp(e->value, "yes") || !strcasecmp(e->value, "on") ||
               !strcmp(e->value, "1");
    return e->value[0] != '\0';
}

/* "root, api, …" : every setting that names a path's handler, from the modules' schemas, so that the
 * error naming them follows the modules compiled in. */
static void handler_list(char *out, size_t cap)
{
    const hs_conf_schema_t *const *schemas;
    size_t n = hs_config_schemas(&schemas), len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *names[2] = {schemas[i] ? schemas[i]->handler : NULL, schemas[i] ? schemas[i]->handler_alt : NULL};
        for (size_t k = 0; k < 2; k++) {
            if (!names[k])
                continue;
            int w = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", names[k]);
            if (w < 0 || (size_t)w >= cap - len)
                return; /* cut short: the list is a hint */
            len += (size_t)w;
        }
    }
}

static int apply_entries(hs_config_t *top, hs_config_t *c, const hs__centry_t *e, char *err, size_t errlen)
{
    for (; e; e = e->next) {
        void *conf = e->d->owner ? c->mod[e->d->owner] : (void *)c;
        if (hs__config_apply(top, conf, e->d, e->value, err, errlen) != HS_OK)
            return HS_ERROR;
    }
    return HS_OK;
}

static hs_pathconf_t *add_path(hs_config_t *top, hs_hostconf_t *h, size_t *cap, const char *prefix, int handler,
                               hs_config_t *cfg)
{
    if (h->npaths == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        h->paths = hs_realloc(h->paths, *cap * sizeof(*h->paths));
    }
    hs_pathconf_t *p = hs_config_alloc(top, sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->prefix = hs_config_strdup(top, prefix);
    p->prefix_len = strlen(prefix);
    p->host = h;
    p->handler = handler;
    p->mount = p->prefix;
    p->mount_len = p->prefix_len;
    p->cfg = cfg;
    h->paths[h->npaths++] = p;
    return p;
}

static hs_pathconf_t *find_prefix(const hs_hostconf_t *h, const char *prefix)
{
    for (size_t i = 0; i < h->npaths; i++)
        if (!strcmp(h->paths[i]->prefix, prefix))
            return h->paths[i];
    return NULL;
}

/* A mount point given by a module (mount()): in normal form without a trailing slash. */
static const char *mount_prefix(hs_config_t *top, const char *m)
{
    char *norm = hs_config_alloc(top, strlen(m) + 2);
    size_t n;
    const char *why;
    if (m[0] != '/' || hs_path_normalize(hs_iov_cstr(m), norm, &n, 0, &why) != 0)
        return NULL;
    while (n > 0 && norm[n - 1] == '/')
        norm[--n] = '\0';
    return norm;
}

/* The paths every module serves by itself on host h (flat: the configuration has no hosts). */
static int add_mounts(hs_config_t *top, hs_hostconf_t *h, size_t *cap, bool flat, char *err, size_t errlen)
{
    const hs_conf_schema_t *const *schemas;
    size_t n = hs_config_schemas(&schemas);
    for (size_t s = 1; s < n; s++) {
        if (!schemas[s]->mount)
            continue;
        const char *m = schemas[s]->mount(top, h->cfg->mod[s], flat);
        if (!m)
            continue;
        const char *prefix = mount_prefix(top, m);
        if (!prefix) {
            snprintf(err, errlen, "%s: '%s' is not a path", schemas[s]->name, m);
            return HS_ERROR;
        }
        hs_pathconf_t *p = find_prefix(h, prefix);
        if (p && flat) {
            snprintf(err, errlen, "%s and %s would both serve %s; move one of them (api_prefix)",
                     schemas[p->handler]->name, schemas[s]->name, prefix[0] ? prefix : "/");
            return HS_ERROR;
        }
        if (p)
            continue; /* the host names that path itself */
        p = add_path(top, h, cap, prefix, (int)s, h->cfg);
        p->implicit = true;
    }
    return HS_OK;
}

static int by_prefix_length(const void *a, const void *b)
{
    const hs_pathconf_t *x = *(hs_pathconf_t *const *)a, *y = *(hs_pathconf_t *const *)b;
    return x->prefix_len < y->prefix_len ? 1 : x->prefix_len > y->prefix_len ? -1 : strcmp(x->prefix, y->prefix);
}

static bool under(const char *path, const char *prefix)
{
    return prefix[0] == '\0' || hs_path_has_prefix(hs_iov_cstr(path), hs_iov_cstr(prefix));
}

/* One host as written: its settings, its paths (each from its enclosing path or the host), and
 * the paths modules add by themselves. */
static int build_host(hs_config_t *top, const hs__cscope_t *hs, hs_hostconf_t *h, char *err, size_t errlen)
{
    h->name = hs->name;
    h->file = hs->file;
    h->line = hs->line;
    h->cfg = hs__config_copy(top, top);
    if (apply_entries(top, h->cfg, hs->entries, err, errlen) != HS_OK)
        return HS_ERROR;
    /* paths, shortest first, so that each finds its enclosing path already built */
    size_t np = 0, cap = 0;
    for (const hs__cscope_t *p = hs->paths; p; p = p->next)
        np++;
    const hs__cscope_t **order = hs_calloc(np ? np : 1, sizeof(*order));
    np = 0;
    for (const hs__cscope_t *p = hs->paths; p; p = p->next)
        order[np++] = p;
    for (size_t i = 1; i < np; i++) /* insertion sort by length: few paths */
        for (size_t j = i; j > 0 && strlen(order[j - 1]->name) > strlen(order[j]->name); j--) {
            const hs__cscope_t *t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    int ret = HS_ERROR;
    for (size_t i = 0; i < np; i++) {
        const hs__cscope_t *ps = order[i];
        const hs_pathconf_t *parent = NULL;
        for (size_t k = 0; k < h->npaths; k++)
            if (under(ps->name, h->paths[k]->prefix) && (!parent || h->paths[k]->prefix_len > parent->prefix_len))
                parent = h->paths[k];
        hs_config_t *c = hs__config_copy(top, parent ? parent->cfg : h->cfg);
        if (apply_entries(top, c, ps->entries, err, errlen) != HS_OK)
            goto Exit;
        int handler = 0;
        const char *named = NULL; /* the setting that named it, as written (proxy.forward, not proxy.upstreams) */
        for (const hs__centry_t *e = ps->entries; e; e = e->next) {
            if (names_handler(e)) {
                if (handler && handler != e->d->owner) {
                    snprintf(err, errlen, "%s:%zu: path '%s' names two handlers (%s and %s): give each its own path",
                             e->origin, e->line, ps->name[0] ? ps->name : "/", named, e->d->name);
                    goto Exit;
                }
                handler = e->d->owner;
                named = e->d->name;
            }
        }
        hs_pathconf_t *p = add_path(top, h, &cap, ps->name, handler, c);
        p->file = ps->file;
        p->line = ps->line;
        if (!handler && parent) { /* under a path with a handler: it serves here too */
            p->handler = parent->handler;
            p->mount = parent->mount;
            p->mount_len = parent->mount_len;
        }
        if (!p->handler) {
            char list[256];
            handler_list(list, sizeof(list));
            snprintf(err, errlen,
                     "%s:%zu: path '%s' of host '%s' names no handler: give it one of %s, or put it under a path that "
                     "has one",
                     ps->file, ps->line, ps->name[0] ? ps->name : "/", hs->name, list);
            goto Exit;
        }
    }
    if (add_mounts(top, h, &cap, false, err, errlen) != HS_OK)
        goto Exit;
    qsort(h->paths, h->npaths, sizeof(*h->paths), by_prefix_length);
    ret = HS_OK;
Exit:
    free(order);
    return ret;
}

/* A configuration without hosts: one default host from the top's settings, and the paths the
 * modules mount from them (static files at /, the API at / or api_prefix, /codes). */
static int build_flat(hs_config_t *top, hs_hostconf_t *h, char *err, size_t errlen)
{
    size_t cap = 0;
    h->name = "*";
    h->cfg = top;
    if (add_mounts(top, h, &cap, true, err, errlen) != HS_OK)
        return HS_ERROR;
    qsort(h->paths, h->npaths, sizeof(*h->paths), by_prefix_length);
    return HS_OK;
}

/* With hosts, a handler given at the top would serve nothing: say so rather than ignore it. */
static int no_top_handlers(hs_config_t *top, char *err, size_t errlen)
{
    const hs_conf_schema_t *const *schemas;
    size_t n = hs_config_schemas(&schemas);
    for (size_t s = 1; s < n; s++) {
        if (!schemas[s]->handler)
            continue;
        const hs_directive_t *d = hs_config_find(schemas[s]->handler);
        if (!(d && hs_config_given(top, d)) && schemas[s]->handler_alt)
            d = hs_config_find(schemas[s]->handler_alt);
        if (d && hs_config_given(top, d)) {
            snprintf(err, errlen,
                     "'%s' at the top level configures the default host's '/', but the configuration has hosts: "
                     "give each path its handler instead (hosts: NAME: paths: /: {%s: …})",
                     d->name, d->name);
            locate(top, NULL, NULL, d, err, errlen, NULL, NULL);
            return HS_ERROR;
        }
    }
    return HS_OK;
}

static void release_built(hs_config_t *top)
{
    hs_conf_state_t *st = top->state;
    for (size_t i = 0; i < st->nchecked; i++)
        if (st->checked[i].schema->release)
            st->checked[i].schema->release(st->checked[i].conf);
    st->nchecked = 0;
    for (size_t i = 0; i < st->nbuilt; i++)
        free(st->built[i].paths);
    free(st->built);
    st->built = NULL;
    st->nbuilt = 0;
}

/* Check one settings set of a path once (a set shared by several paths is checked once). */
static int check_path(hs_config_t *top, const hs_pathconf_t *p, const hs__centry_t *own, const hs__centry_t *host,
                      const hs__cscope_t *hscope, char *err, size_t errlen)
{
    hs_conf_state_t *st = top->state;
    const hs_conf_schema_t *const *schemas;
    size_t n = hs_config_schemas(&schemas);
    const char *bad = NULL;
    bool engine_seen = false;
    for (size_t i = 0; i < st->nchecked && !engine_seen; i++)
        engine_seen = st->checked[i].conf == p->cfg;
    for (size_t s = 0; s < n; s++) {
        void *conf = s ? p->cfg->mod[s] : (void *)p->cfg;
        bool seen = s == 0 ? engine_seen : false;
        for (size_t i = 0; i < st->nchecked && !seen; i++)
            seen = st->checked[i].conf == conf;
        if (seen)
            continue;
        int r = s == 0              ? engine_check(top, p->cfg, &bad, err, errlen)
                : schemas[s]->check ? schemas[s]->check(top, p, conf, &bad, err, errlen)
                                    : HS_OK;
        if (r != HS_OK) {
            const hs_directive_t *d = bad ? hs_config_find(bad) : NULL;
            if (d)
                locate(top, own, host, d, err, errlen, hscope, p->prefix);
            return HS_ERROR;
        }
        /* remembered so that it is checked once and released at the end */
        if (st->nchecked == st->capchecked) {
            st->capchecked = st->capchecked ? st->capchecked * 2 : 16;
            st->checked = hs_realloc(st->checked, st->capchecked * sizeof(*st->checked));
        }
        st->checked[st->nchecked].schema = schemas[s];
        st->checked[st->nchecked++].conf = conf;
    }
    return HS_OK;
}

/* Which modules have nothing to do on a path, per phase (their schema's phases, once checked). */
static void idle_phases(hs_pathconf_t *p)
{
    const hs_conf_schema_t *const *schemas;
    size_t n = hs_config_schemas(&schemas);
    static const unsigned bits[3] = {HS_PHASE_BIT_REWRITE, HS_PHASE_BIT_ACCESS, HS_PHASE_BIT_LOG};
    for (size_t s = 1; s < n && s < 32; s++) {
        if (!schemas[s]->phases)
            continue;
        unsigned busy = schemas[s]->phases(p->cfg->mod[s]);
        for (int k = 0; k < 3; k++)
            if (!(busy & bits[k]))
                p->idle[k] |= 1u << s;
    }
}

int hs_config_validate(hs_config_t *cfg, char *err, size_t errlen)
{
    hs_conf_state_t *st = cfg->state;
    if (st->validated)
        return HS_OK;
    release_built(cfg);
    /* An empty value ("log_level:" in YAML, STATUSD_LOG_LEVEL=) leaves the string NULL: refuse it
     * here instead of passing NULL to strcmp. */
    if (!cfg->log_level || (strcmp(cfg->log_level, "error") && strcmp(cfg->log_level, "warn") &&
                            strcmp(cfg->log_level, "info") && strcmp(cfg->log_level, "debug"))) {
        snprintf(err, errlen, "log_level must be error, warn, info or debug, got '%s'",
                 cfg->log_level ? cfg->log_level : "");
        return HS_ERROR;
    }
    size_t nhosts = 0;
    for (const hs__cscope_t *h = st->hosts; h; h = h->next)
        nhosts++;
    st->built = hs_calloc(nhosts ? nhosts : 1, sizeof(*st->built));
    int r = HS_OK;
    if (!nhosts) {
        st->nbuilt = 1;
        r = build_flat(cfg, &st->built[0], err, errlen);
    } else {
        r = no_top_handlers(cfg, err, errlen);
        for (const hs__cscope_t *h = st->hosts; h && r == HS_OK; h = h->next)
            r = build_host(cfg, h, &st->built[st->nbuilt++], err, errlen);
    }
    /* every settings set in use, checked by its owner: the top's first (it serves requests
     * that find no path, and its error pages), then each path's */
    if (r == HS_OK) {
        hs_pathconf_t topp = {.prefix = "", .cfg = cfg};
        r = check_path(cfg, &topp, NULL, NULL, NULL, err, errlen);
    }
    for (size_t i = 0; i < st->nbuilt && r == HS_OK; i++) {
        const hs__cscope_t *hs = st->hosts;
        for (size_t k = 0; hs && k < i; k++)
            hs = hs->next;
        for (size_t j = 0; j < st->built[i].npaths && r == HS_OK; j++) {
            const hs_pathconf_t *p = st->built[i].paths[j];
            const hs__centry_t *own = NULL;
            for (const hs__cscope_t *ps = hs ? hs->paths : NULL; ps; ps = ps->next)
                if (!strcmp(ps->name, p->prefix))
                    own = ps->entries;
            r = check_path(cfg, p, own, hs ? hs->entries : NULL, hs, err, errlen);
            if (r == HS_OK)
                idle_phases(st->built[i].paths[j]);
        }
    }
    if (r != HS_OK) {
        release_built(cfg);
        return HS_ERROR;
    }
    st->one_host = st->nbuilt == 1 && !strcmp(st->built[0].name, "*");
    st->validated = true;
    return HS_OK;
}

/* ---- finding the path of a request ---- */

const hs_hostconf_t *hs_config_hosts(const hs_config_t *cfg, size_t *n)
{
    *n = cfg->state ? cfg->state->nbuilt : 0;
    return cfg->state ? cfg->state->built : NULL;
}

/* The name of an authority: without the port, the brackets' content kept for IPv6. */
static hs_iovec_t host_only(hs_iovec_t a)
{
    if (a.len && a.base[0] == '[') {
        const char *rb = memchr(a.base, ']', a.len);
        return rb ? hs_iov(a.base, (size_t)(rb - a.base) + 1) : a;
    }
    for (size_t i = a.len; i > 0; i--)
        if (a.base[i - 1] == ':')
            return hs_iov(a.base, i - 1);
    return a;
}

static bool host_matches(const char *name, hs_iovec_t host)
{
    size_t n = strlen(name);
    if (name[0] == '*' && name[1] == '\0')
        return true;
    if (name[0] == '*' && name[1] == '.') /* below the name, not the name itself */
        return host.len > n - 1 && strncasecmp(host.base + host.len - (n - 1), name + 1, n - 1) == 0;
    return host.len == n && strncasecmp(host.base, name, n) == 0;
}

const hs_pathconf_t *hs_config_lookup(const hs_config_t *cfg, hs_iovec_t host, hs_iovec_t path, bool *known)
{
    return hs_config_host_path(hs_config_find_host(cfg, host, known), path);
}

/* The best of n names (at base, stride bytes apart) for an authority: a name itself, else the
 * first wildcard that covers it; -1 none. One walk for hosts as built and for names alone. */
static int best_host(const char *base, size_t stride, size_t n, hs_iovec_t host)
{
    hs_iovec_t name = host_only(host);
    if (name.len && name.base[name.len - 1] == '.')
        name.len--; /* the absolute form of a DNS name */
    int wild = -1;
    for (size_t i = 0; i < n; i++) {
        const char *pattern = *(const char *const *)(base + i * stride);
        if (pattern[0] != '*' && host_matches(pattern, name))
            return (int)i;
        if (pattern[0] == '*' && wild < 0 && host_matches(pattern, name))
            wild = (int)i;
    }
    return wild;
}

int hs_config_match_host(const char *const *names, size_t n, hs_iovec_t authority)
{
    return best_host((const char *)names, sizeof(*names), n, authority);
}

const hs_hostconf_t *hs_config_find_host(const hs_config_t *cfg, hs_iovec_t host, bool *known)
{
    const hs_conf_state_t *st = cfg->state;
    *known = true;
    if (st->one_host)
        return &st->built[0];
    int i = best_host((const char *)st->built + offsetof(hs_hostconf_t, name), sizeof(hs_hostconf_t), st->nbuilt, host);
    if (i >= 0)
        return &st->built[i];
    *known = false;
    return &st->built[0];
}

const hs_pathconf_t *hs_config_host_path(const hs_hostconf_t *h, hs_iovec_t path)
{
    for (hs_pathconf_t *const *pp = h->paths, *const *end = pp + h->npaths; pp < end; pp++) {
        const hs_pathconf_t *p = *pp;
        size_t n = p->prefix_len;
        if (n == 0)
            return p; /* "/": everything left */
        /* both start with '/': most prefixes differ at the next byte, seen here without a call */
        if (path.len >= n && (n < 2 || path.base[1] == p->prefix[1]) && hs_path_has_prefix(path, hs_iov(p->prefix, n)))
            return p;
    }
    return NULL;
}

const char *hs_config_origin(const hs_config_t *cfg, const hs_hostconf_t *host, const char *name, size_t nth, char *buf,
                             size_t len)
{
    const hs_conf_state_t *st = cfg->state;
    const hs_directive_t *d = hs_config_find(name);
    const hs__centry_t *found = NULL;
    buf[0] = '\0';
    if (!d || !st)
        return buf;
    if (host) {
        for (const hs__cscope_t *h = st->hosts; h; h = h->next)
            if (!strcmp(h->name, host->name))
                for (const hs__centry_t *e = h->entries; e; e = e->next)
                    if (e->d == d)
                        found = e; /* the last value given wins */
    }
    for (const hs__centry_t *e = st->top; e && !found; e = e->next) {
        if (e->d != d)
            continue;
        if (d->type != HS_DT_LIST) {
            for (const hs__centry_t *l = e; l; l = l->next)
                if (l->d == d)
                    found = l;
        } else if (nth-- == 0) {
            found = e;
        }
    }
    if (found && found->origin) {
        if (found->line)
            snprintf(buf, len, "%s:%zu", found->origin, found->line);
        else
            snprintf(buf, len, "%s", found->origin);
    }
    return buf;
}
