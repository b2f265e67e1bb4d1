/* statusd — the YAML front end (libyaml events): directives at the top are applied at once;
 * `hosts:` holds hosts, each with its directives and `paths:`, each path with its directives.
 * Values on hosts and paths are checked as they are read (so a mistake is reported with its
 * line) and kept with their line for hs_config_validate, which builds the hosts (scopes.c).
 * Nested mappings name directives with dots (`dav: {root: DIR}` is `dav.root`); a mapping given
 * to a list of CODE=FILE items (error_page: {404: file}) is read as such items; and an item of a
 * list that is itself a mapping (listen: [{address: tls://…, tls: {cert: F}}]) becomes one text
 * value, "address=tls://… tls.cert=F" (nested names dotted, values %-escaped where they hold
 * spaces or '%'), which the directive's setter parses like the flag form of the same value. */
#define _GNU_SOURCE
#include "internal.h"
#include "hs/path.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>

#define MIB (1024LL * 1024)

typedef struct {
    hs_config_t *cfg;
    const char *name;
    yaml_parser_t parser;
    char *err;
    size_t errlen;
} yctx_t;

/* Where the values being read go. */
typedef struct {
    unsigned kind;       /* HS_SCOPE_TOP, HS_SCOPE_HOST or HS_SCOPE_PATH */
    hs__cscope_t *scope; /* the host or path (NULL at the top) */
} target_t;

static int yerr(yctx_t *y, size_t line, const char *fmt, ...) HS_FMT(3, 4);
static int yerr(yctx_t *y, size_t line, const char *fmt, ...)
{
    int n = snprintf(y->err, y->errlen, "%s:%zu: ", y->name, line);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < y->errlen)
        vsnprintf(y->err + n, y->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return HS_ERROR;
}

static int next_event(yctx_t *y, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&y->parser, ev))
        return yerr(y, y->parser.problem_mark.line + 1, "YAML syntax error: %s%s%s",
                    y->parser.problem ? y->parser.problem : "unknown", y->parser.context ? " " : "",
                    y->parser.context ? y->parser.context : "");
    return HS_OK;
}

static const char *kind_name(unsigned kind)
{
    return kind == HS_SCOPE_HOST ? "a host" : kind == HS_SCOPE_PATH ? "a path" : "the top level";
}

/* One value for directive d, at line, into the target. */
static int put_value(yctx_t *y, const target_t *t, const hs_directive_t *d, const char *value, size_t line)
{
    char msg[256];
    if (!(d->scope & t->kind)) {
        if (d->scope == HS_SCOPE_TOP)
            return yerr(y, line, "'%s' is set for the whole server: put it at the top level, not on %s", d->name,
                        kind_name(t->kind));
        return yerr(y, line, "'%s' cannot be set on %s", d->name, kind_name(t->kind));
    }
    if (t->kind == HS_SCOPE_TOP) {
        if (hs__config_set_at(y->cfg, d, value, y->name, line, msg, sizeof(msg)) != HS_OK)
            return yerr(y, line, "%s", msg);
        return HS_OK;
    }
    /* a host's or a path's value: checked now on a scratch copy of the top's settings, applied
     * when the hosts are built */
    const hs_conf_schema_t *schema = hs__config_schema(d->owner);
    void *scratch = hs_config_alloc(y->cfg, schema->size);
    memcpy(scratch, d->owner ? y->cfg->mod[d->owner] : (void *)y->cfg, schema->size);
    if (hs__config_apply(y->cfg, scratch, d, value, msg, sizeof(msg)) != HS_OK)
        return yerr(y, line, "%s", msg);
    hs__centry_t *e = hs_config_alloc(y->cfg, sizeof(*e));
    *e = (hs__centry_t){.d = d, .value = hs_config_strdup(y->cfg, value), .origin = y->name, .line = line};
    *t->scope->tail = e;
    t->scope->tail = &e->next;
    return HS_OK;
}

/* The next key of a mapping into out (truncated to cap) and its line: 1, or 0 at the end of
 * the mapping, or HS_ERROR (reported with `not_scalar` when the key is not a plain value). */
static int next_key(yctx_t *y, char *out, size_t cap, size_t *line, const char *not_scalar)
{
    yaml_event_t key;
    if (next_event(y, &key) != HS_OK)
        return HS_ERROR;
    if (key.type == YAML_MAPPING_END_EVENT) {
        yaml_event_delete(&key);
        return 0;
    }
    *line = key.start_mark.line + 1;
    if (key.type != YAML_SCALAR_EVENT) {
        yaml_event_delete(&key);
        return yerr(y, *line, "%s", not_scalar);
    }
    snprintf(out, cap, "%s", (char *)key.data.scalar.value);
    yaml_event_delete(&key);
    return 1;
}

/* The items of `key: [a, b, …]` inside a mapping given to a list directive, each put as
 * "key=item" with its own line. */
static int parse_pair_list(yctx_t *y, const target_t *t, const hs_directive_t *d, const char *key,
                           const char *not_plain)
{
    for (;;) {
        yaml_event_t item;
        if (next_event(y, &item) != HS_OK)
            return HS_ERROR;
        if (item.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&item);
            return HS_OK;
        }
        size_t iline = item.start_mark.line + 1;
        if (item.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&item);
            return yerr(y, iline, "%s", not_plain);
        }
        hs_buf_t b = {0};
        hs_buf_printf(&b, "%s=%s", key, (char *)item.data.scalar.value);
        yaml_event_delete(&item);
        int r = put_value(y, t, d, b.base, iline);
        hs_buf_free(&b);
        if (r != HS_OK)
            return r;
    }
}

/* A mapping given to a list of KEY=VALUE items (error_page: {404: /srv/404.html}): each
 * `key: value` pair is put as "key=value"; a list value puts one item per element. */
static int parse_pairs(yctx_t *y, const target_t *t, const hs_directive_t *d)
{
    char not_plain[160];
    snprintf(not_plain, sizeof(not_plain), "'%s' entries must be plain values", d->name);
    for (;;) {
        char key[256];
        size_t kline;
        int k = next_key(y, key, sizeof(key), &kline, not_plain);
        if (k <= 0)
            return k == 0 ? HS_OK : HS_ERROR;
        yaml_event_t val;
        if (next_event(y, &val) != HS_OK)
            return HS_ERROR;
        size_t vline = val.start_mark.line + 1;
        if (val.type == YAML_SEQUENCE_START_EVENT) {
            /* `key: [a, b]` is the items key=a and key=b (deny: {from: [CIDR, …], action: close}) */
            yaml_event_delete(&val);
            int r = parse_pair_list(y, t, d, key, not_plain);
            if (r != HS_OK)
                return r;
            continue;
        }
        if (val.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&val);
            return yerr(y, vline, "%s", not_plain);
        }
        hs_buf_t item = {0};
        hs_buf_printf(&item, "%s=%s", key, (char *)val.data.scalar.value);
        yaml_event_delete(&val);
        int r = put_value(y, t, d, item.base, vline);
        hs_buf_free(&item);
        if (r != HS_OK)
            return r;
    }
}

/* A list item given as a mapping, flattened into " name=value" pairs appended to out (names below
 * `prefix`, dotted). Bounded: the whole item at most 64 KiB. */
static int item_mapping(yctx_t *y, const hs_directive_t *d, const char *prefix, hs_buf_t *out)
{
    for (;;) {
        char key[128], name[256];
        size_t kline;
        int k = next_key(y, key, sizeof(key), &kline, "a list item's keys must be plain names");
        if (k <= 0)
            return k == 0 ? HS_OK : HS_ERROR;
        snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", key);
        yaml_event_t val;
        if (next_event(y, &val) != HS_OK)
            return HS_ERROR;
        size_t vline = val.start_mark.line + 1;
        int r = HS_OK;
        if (val.type == YAML_MAPPING_START_EVENT) {
            r = item_mapping(y, d, name, out);
        } else if (val.type != YAML_SCALAR_EVENT) {
            r = yerr(y, vline, "'%s' items: '%s' takes a single value", d->name, name);
        } else {
            const unsigned char *v = val.data.scalar.value;
            hs_buf_printf(out, "%s%s=", out->len ? " " : "", name);
            for (size_t i = 0; i < val.data.scalar.length; i++) {
                if (v[i] <= ' ' || v[i] == '%' || v[i] == 0x7f)
                    hs_buf_printf(out, "%%%02X", v[i]);
                else
                    hs_buf_append(out, &v[i], 1);
            }
            if (out->len > 65536)
                r = yerr(y, vline, "'%s' item too long", d->name);
        }
        yaml_event_delete(&val);
        if (r != HS_OK)
            return r;
    }
}

static int parse_hosts(yctx_t *y, size_t line);
static int parse_paths(yctx_t *y, hs__cscope_t *host, size_t line);

/* A mapping of directives into the target; keys are prefixed by `prefix` (nested mappings
 * flatten to a.b). At the top `hosts` holds the hosts; on a host, `paths` holds its paths. */
static int parse_mapping(yctx_t *y, const target_t *t, const char *prefix)
{
    for (;;) {
        char key[128], name[256];
        size_t kline;
        int k = next_key(y, key, sizeof(key), &kline, "expected a directive name");
        if (k <= 0)
            return k == 0 ? HS_OK : HS_ERROR;
        snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", key);

        yaml_event_t val;
        if (next_event(y, &val) != HS_OK)
            return HS_ERROR;
        size_t vline = val.start_mark.line + 1;
        yaml_event_type_t vt = val.type;
        if (vt != YAML_SCALAR_EVENT)
            yaml_event_delete(&val); /* a scalar's text is used below */
        int r = HS_OK;
        if (!prefix[0] && t->kind == HS_SCOPE_TOP && !strcmp(key, "hosts")) {
            if (vt != YAML_MAPPING_START_EVENT)
                r = yerr(y, vline, "'hosts' expects a mapping of host names (hosts: {example.com: {paths: …}})");
            else
                r = parse_hosts(y, vline);
        } else if (!prefix[0] && t->kind == HS_SCOPE_HOST && !strcmp(key, "paths")) {
            if (vt != YAML_MAPPING_START_EVENT)
                r = yerr(y, vline, "'paths' expects a mapping of path prefixes (paths: {/: {root: DIR}})");
            else
                r = parse_paths(y, t->scope, vline);
        } else if (!prefix[0] && (!strcmp(key, "hosts") || !strcmp(key, "paths"))) {
            r = yerr(y, kline, "'%s' belongs %s", key,
                     !strcmp(key, "hosts") ? "at the top level" : "on a host (hosts: NAME: paths: …)");
        } else if (vt == YAML_MAPPING_START_EVENT) {
            const hs_directive_t *pd = hs_config_find(name);
            r = pd && pd->type == HS_DT_LIST ? parse_pairs(y, t, pd) : parse_mapping(y, t, name);
        } else {
            const hs_directive_t *d = hs_config_find(name);
            if (!d) {
                r = yerr(y, kline, "unknown directive '%s' (see 'statusd --help')", name);
            } else if (vt == YAML_SCALAR_EVENT) {
                r = put_value(y, t, d, (char *)val.data.scalar.value, vline);
            } else if (vt == YAML_SEQUENCE_START_EVENT) {
                if (d->type != HS_DT_LIST)
                    r = yerr(y, vline, "'%s' takes a single value, not a list", d->name);
                while (r == HS_OK) {
                    yaml_event_t item;
                    if (next_event(y, &item) != HS_OK)
                        return HS_ERROR;
                    if (item.type == YAML_SEQUENCE_END_EVENT) {
                        yaml_event_delete(&item);
                        break;
                    }
                    size_t iline = item.start_mark.line + 1;
                    if (item.type == YAML_MAPPING_START_EVENT) {
                        hs_buf_t text = {0};
                        r = item_mapping(y, d, "", &text);
                        hs_buf_append(&text, "", 1); /* a C string for the setter */
                        if (r == HS_OK)
                            r = put_value(y, t, d, text.base, iline);
                        hs_buf_free(&text);
                    } else if (item.type != YAML_SCALAR_EVENT) {
                        r = yerr(y, iline, "'%s' list items must be plain values or mappings", d->name);
                    } else {
                        r = put_value(y, t, d, (char *)item.data.scalar.value, iline);
                    }
                    yaml_event_delete(&item);
                }
            } else {
                r = yerr(y, vline, "unexpected value for '%s'", d->name);
            }
        }
        if (vt == YAML_SCALAR_EVENT)
            yaml_event_delete(&val);
        if (r != HS_OK)
            return r;
    }
}

/* A host name as written: "example.com", "*.example.com" (any name below it), "*" (any name),
 * or an IP address; lowercase, no port, no trailing dot. */
static bool host_name_ok(const char *s)
{
    if (!strcmp(s, "*"))
        return true;
    if (!strncmp(s, "*.", 2))
        s += 2;
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[n - 1] == '.' || s[0] == '.')
        return false;
    if (s[0] == '[') /* an IPv6 literal */
        return s[n - 1] == ']' && strspn(s + 1, "0123456789abcdef:.") == n - 2;
    for (const char *p = s; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_'))
            return false;
        if (*p == '.' && p[1] == '.')
            return false;
    }
    return true;
}

static hs__cscope_t *new_scope(yctx_t *y, const char *name, size_t line)
{
    hs__cscope_t *s = hs_config_alloc(y->cfg, sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->name = hs_config_strdup(y->cfg, name);
    s->file = hs_config_strdup(y->cfg, y->name);
    s->line = line;
    s->tail = &s->entries;
    s->paths_tail = &s->paths;
    return s;
}

/* The value of a host's or a path's key: a mapping of its directives, read into a new scope
 * appended at *tail. NULL after an error (`expects` is the message, with %s the key). */
static hs__cscope_t *scope_value(yctx_t *y, const char *name, size_t line, unsigned kind, hs__cscope_t ***tail,
                                 const char *expects)
{
    yaml_event_t val;
    if (next_event(y, &val) != HS_OK)
        return NULL;
    yaml_event_type_t vt = val.type;
    yaml_event_delete(&val);
    if (vt != YAML_MAPPING_START_EVENT) {
        yerr(y, line, expects, name[0] ? name : "/");
        return NULL;
    }
    hs__cscope_t *sc = new_scope(y, name, line);
    **tail = sc;
    *tail = &sc->next;
    target_t t = {.kind = kind, .scope = sc};
    return parse_mapping(y, &t, "") == HS_OK ? sc : NULL;
}

static int parse_hosts(yctx_t *y, size_t line)
{
    hs_conf_state_t *st = y->cfg->state;
    if (st->hosts)
        return yerr(y, line, "'hosts' given twice");
    for (;;) {
        char key[300];
        size_t kline;
        int k = next_key(y, key, sizeof(key), &kline, "expected a host name");
        if (k <= 0)
            return k == 0 ? HS_OK : HS_ERROR;
        for (char *p = key; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (!host_name_ok(key))
            return yerr(y, kline, "'%s' is not a host name (example.com, *.example.com, * or an IP address; no port)",
                        key);
        for (hs__cscope_t *h = st->hosts; h; h = h->next)
            if (!strcmp(h->name, key))
                return yerr(y, kline, "host '%s' given twice (first at line %zu)", key, h->line);
        hs__cscope_t *h = scope_value(y, key, kline, HS_SCOPE_HOST, &st->hosts_tail,
                                      "host '%s' expects a mapping with its paths (paths: {/: {root: DIR}})");
        if (!h)
            return HS_ERROR;
        if (!h->paths)
            return yerr(y, kline, "host '%s' has no paths: give it paths: {/: {root: DIR}} or another handler", key);
    }
}

static int parse_paths(yctx_t *y, hs__cscope_t *host, size_t line)
{
    HS_UNUSED(line);
    for (;;) {
        char key[1024];
        size_t kline;
        int k = next_key(y, key, sizeof(key), &kline, "expected a path prefix");
        if (k <= 0)
            return k == 0 ? HS_OK : HS_ERROR;
        if (key[0] != '/' || strpbrk(key, "?#"))
            return yerr(y, kline, "'%s' is not a path prefix: it starts with '/' and has no query ('?') or '#'", key);
        char norm[sizeof(key)];
        size_t nlen;
        const char *why;
        if (hs_path_normalize(hs_iov_cstr(key), norm, &nlen, 0, &why) != 0)
            return yerr(y, kline, "path '%s': %s", key, why);
        while (nlen > 0 && norm[nlen - 1] == '/')
            norm[--nlen] = '\0'; /* "/" is "", "/api/" is "/api" */
        for (hs__cscope_t *p = host->paths; p; p = p->next)
            if (!strcmp(p->name, norm))
                return yerr(y, kline, "path '%s' of host '%s' given twice (first at line %zu)", key, host->name,
                            p->line);
        if (!scope_value(y, norm, kline, HS_SCOPE_PATH, &host->paths_tail,
                         "path '%s' expects a mapping: its handler and settings ({root: DIR}, {api: true})"))
            return HS_ERROR;
    }
}

int hs_config_load_yaml(hs_config_t *cfg, const char *name, const char *text, size_t len, char *err, size_t errlen)
{
    yctx_t y = {.cfg = cfg, .name = hs_config_strdup(cfg, name), .err = err, .errlen = errlen};
    int ret = HS_ERROR;
    if (!yaml_parser_initialize(&y.parser)) {
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", name);
        return HS_ERROR;
    }
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
    yaml_event_t ev;
    bool seen_doc = false;
    for (;;) {
        if (next_event(&y, &ev) != HS_OK)
            goto Exit;
        yaml_event_type_t t = ev.type;
        size_t line = ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT)
            break;
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT || t == YAML_DOCUMENT_END_EVENT)
            continue;
        if (t == YAML_MAPPING_START_EVENT && !seen_doc) {
            seen_doc = true;
            target_t top = {.kind = HS_SCOPE_TOP};
            if (parse_mapping(&y, &top, "") != HS_OK)
                goto Exit;
            continue;
        }
        if (t == YAML_SCALAR_EVENT && !seen_doc) {
            /* an empty document is a scalar null; anything else is a mistake */
            yerr(&y, line, "expected a mapping of directives (name: value)");
            goto Exit;
        }
        yerr(&y, line, "expected a single mapping of directives");
        goto Exit;
    }
    ret = HS_OK;
Exit:
    yaml_parser_delete(&y.parser);
    cfg->state->validated = false;
    return ret;
}

int hs_config_load_file(hs_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return HS_ERROR;
    }
    hs_buf_t b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > 4 * MIB) {
            fclose(f);
            hs_buf_free(&b);
            snprintf(err, errlen, "%s: larger than 4 MiB; not a configuration file?", path);
            return HS_ERROR;
        }
        hs_buf_append(&b, chunk, n);
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        hs_buf_free(&b);
        snprintf(err, errlen, "%s: read error", path);
        return HS_ERROR;
    }
    int r = hs_config_load_yaml(cfg, path, b.base ? b.base : "", b.len, err, errlen);
    hs_buf_free(&b);
    if (r == HS_OK)
        cfg->config_file = path;
    return r;
}
