/* statusd — the directive table and its three front ends (YAML, flags, environment). */
#define _GNU_SOURCE
#include "hs/config.h"
#include "hs/status.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define OFF(f) offsetof(hs_config_t, f)
#define KIB 1024LL
#define MIB (1024LL * 1024)

static const hs_directive_t directives[] = {
    {"listen", HS_DT_LIST, OFF(listen), "127.0.0.1:8080", "ADDR:PORT",
     "address to listen on (repeatable; port 0 picks a free port, printed at startup)", 0, 0},
    {"workers", HS_DT_INT, OFF(workers), "0", "N", "worker threads, each with its own listener (0 = one per core)", 0,
     1024},
    {"root", HS_DT_STRING, OFF(root), "", "DIR", "serve static files from DIR (without it, the API is served at /)", 0,
     0},
    {"max_connections", HS_DT_INT, OFF(max_connections), "10000", "N",
     "open connections over this get 503 with Retry-After and are closed", 1, 10000000},
    {"retry_after", HS_DT_INT, OFF(retry_after), "5", "SECONDS", "Retry-After sent with 503 on overload", 0, 86400},
    {"server_name", HS_DT_STRING, OFF(server_name), "statusd", "NAME", "value of the Server header", 0, 0},
    {"access_log", HS_DT_STRING, OFF(access_log), "off", "PATH|-|off", "combined-format access log with duration", 0,
     0},
    {"log_level", HS_DT_STRING, OFF(log_level), "info", "LEVEL", "error, warn, info or debug", 0, 0},
    {"max_uri", HS_DT_SIZE, OFF(max_uri), "8k", "SIZE", "longest request target (414 beyond)", 16, 1 * MIB},
    {"max_field", HS_DT_SIZE, OFF(max_field), "8k", "SIZE", "longest header field line (431 beyond)", 64, 1 * MIB},
    {"max_head", HS_DT_SIZE, OFF(max_head), "32k", "SIZE", "largest request head (431 beyond)", 256, 4 * MIB},
    {"max_headers", HS_DT_INT, OFF(max_headers), "100", "N", "most header fields in a request (431 beyond)", 1, 10000},
    {"max_body", HS_DT_SIZE, OFF(max_body), "10m", "SIZE", "largest request body (413 beyond)", 0, 1LL << 40},
    {"max_chunk_ext", HS_DT_SIZE, OFF(max_chunk_ext), "1k", "SIZE",
     "longest chunk-size line with extensions (400 beyond)", 16, 1 * MIB},
    {"max_trailer", HS_DT_SIZE, OFF(max_trailer), "8k", "SIZE",
     "largest trailer section of a chunked body (431 beyond)", 0, 1 * MIB},
    {"header_timeout", HS_DT_DURATION, OFF(header_timeout), "10s", "DURATION",
     "time to receive a whole request head once it has started (408 beyond)", 1, 86400000},
    {"body_timeout", HS_DT_DURATION, OFF(body_timeout), "10s", "DURATION",
     "longest pause while receiving a request body (408 beyond)", 1, 86400000},
    {"keepalive_timeout", HS_DT_DURATION, OFF(keepalive_timeout), "30s", "DURATION",
     "idle time before a keep-alive connection is closed silently", 1, 86400000},
    {"send_timeout", HS_DT_DURATION, OFF(send_timeout), "30s", "DURATION",
     "longest pause while the client is not reading the response", 1, 86400000},
    {"drain_timeout", HS_DT_DURATION, OFF(drain_timeout), "10s", "DURATION",
     "on SIGTERM/SIGINT, time allowed for in-flight responses", 0, 86400000},
    {"linger_timeout", HS_DT_DURATION, OFF(linger_timeout), "2s", "DURATION",
     "after an error response, time spent draining the client's input before closing", 0, 60000},
    {"max_keepalive_requests", HS_DT_INT, OFF(max_keepalive_requests), "10000", "N",
     "requests served on one connection before it is closed", 1, 100000000},
    {"length_required", HS_DT_STRING, OFF(length_required), "PUT", "METHODS",
     "comma-separated methods that must declare a body length (411 otherwise)", 0, 0},
    {"api", HS_DT_BOOL, OFF(api), "true", "BOOL", "serve the client-testing API (--no-api turns it off)", 0, 0},
    {"api_prefix", HS_DT_STRING, OFF(api_prefix), "/_api", "PATH", "where the API is mounted when --root is given", 0,
     0},
    /* client-testing API caps (src/modules/testapi) */
    {"api_max_duration", HS_DT_DURATION, OFF(api_max_duration), "10s", "DURATION",
     "longest delay, drip, stream or hang the API will perform (400 naming the cap beyond)", 1, 3600000},
    {"api_max_bytes", HS_DT_SIZE, OFF(api_max_bytes), "10m", "SIZE",
     "largest body the API will generate (400 naming the cap beyond)", 1, 1LL << 30},
    {"allow_redirect_host", HS_DT_STRING, OFF(allow_redirect_host), "", "HOSTS",
     "comma-separated hosts /redirect-to may send clients to besides this server", 0, 0},
    /* static origin (src/modules/static) */
    {"autoindex", HS_DT_BOOL, OFF(autoindex), "false", "BOOL", "list directories that have no index file (else 403)", 0,
     0},
    {"follow_symlinks", HS_DT_BOOL, OFF(follow_symlinks), "false", "BOOL",
     "serve symbolic links that lead outside the root (else 403)", 0, 0},
    {"file_watch", HS_DT_BOOL, OFF(file_watch), "true", "BOOL",
     "keep cached files fresh by change notifications (inotify); --no-file-watch on network filesystems "
     "(changes made by other machines raise none): a stat per event-loop wake-up instead",
     0, 0},
    {"index", HS_DT_STRING, OFF(index), "index.html", "NAMES", "comma-separated index file names for directories", 0,
     0},
    {"cache_control", HS_DT_STRING, OFF(cache_control), "", "VALUE",
     "Cache-Control sent with static files (e.g. 'public, max-age=3600')", 0, 0},
    {"compress", HS_DT_BOOL, OFF(compress), "true", "BOOL",
     "compress text-like files on the fly (gzip, br, zstd) when the client accepts it", 0, 0},
    {"compress_max", HS_DT_SIZE, OFF(compress_max), "10m", "SIZE", "largest file compressed on the fly", 0, 1LL << 30},
    {"user", HS_DT_STRING, OFF(user), "nobody", "USER",
     "when started as root, switch to this user after binding (root keeps root)", 0, 0},
    /* error pages (src/http/response.c) */
    {"error_page", HS_DT_LIST, OFF(error_pages), "", "CODE=FILE",
     "send FILE as the body of the CODE (4xx/5xx) responses statusd generates; repeatable or comma-separated; "
     "type from the extension (.html .htm .json .txt .xml); read at startup, at most 64k",
     0, 0},
};

const hs_directive_t *hs_config_directives(size_t *count)
{
    *count = HS_ARRAY_SIZE(directives);
    return directives;
}

const hs_directive_t *hs_config_find(const char *name)
{
    char norm[64];
    size_t n = strlen(name);
    if (n >= sizeof(norm))
        return NULL;
    for (size_t i = 0; i <= n; i++)
        norm[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
    for (size_t i = 0; i < HS_ARRAY_SIZE(directives); i++)
        if (strcmp(directives[i].name, norm) == 0)
            return &directives[i];
    return NULL;
}

static void list_clear(hs_config_t *cfg)
{
    for (size_t i = 0; i < cfg->num_listen; i++)
        free(cfg->listen[i]);
    cfg->num_listen = 0;
}

static void error_pages_clear(hs_config_t *cfg)
{
    for (size_t i = 0; i < cfg->num_error_pages; i++) {
        free(cfg->error_pages[i].path);
        free(cfg->error_pages[i].body);
    }
    cfg->num_error_pages = 0;
}

void hs_config_free(hs_config_t *cfg)
{
    list_clear(cfg);
    error_pages_clear(cfg);
    for (size_t i = 0; i < HS_ARRAY_SIZE(directives); i++) {
        if (directives[i].type == HS_DT_STRING) {
            char **p = (char **)((char *)cfg + directives[i].offset);
            free(*p);
            *p = NULL;
        }
    }
}

void hs_config_defaults(hs_config_t *cfg)
{
    char err[256];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < HS_ARRAY_SIZE(directives); i++) {
        if (hs_config_set(cfg, &directives[i], directives[i].def, err, sizeof(err)) != HS_OK) {
            fprintf(stderr, "statusd: bad embedded default for %s: %s\n", directives[i].name, err);
            abort();
        }
    }
    cfg->config_file = NULL;
}

/* Content-Type of an error page, from its file name's extension; NULL when not one we serve. */
static const char *error_page_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
        {".xhtml", "application/xhtml+xml"},   {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"}, {".text", "text/plain; charset=utf-8"},
        {".xml", "application/xml"},
    };
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return NULL;
    for (size_t i = 0; i < HS_ARRAY_SIZE(types); i++)
        if (!strcasecmp(dot, types[i].ext))
            return types[i].type;
    return NULL;
}

/* error_page: "CODE=FILE", several separated by commas. A code given again gets the new file, so
 * flags override the environment, which overrides the YAML file; an empty value forgets every
 * page set so far. The files themselves are read by hs_config_validate. */
static int error_page_set(hs_config_t *cfg, const char *value, char *err, size_t errlen)
{
    if (!value[0]) {
        error_pages_clear(cfg);
        return HS_OK;
    }
    for (const char *p = value; *p;) {
        const char *s = p, *e = p + strcspn(p, ",");
        p = *e ? e + 1 : e;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq || eq - s != 3 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
            !isdigit((unsigned char)s[2])) {
            snprintf(err, errlen, "'error_page' expects CODE=FILE such as 404=/srv/errors/404.html, got '%.*s'",
                     (int)(e - s), s);
            return HS_ERROR;
        }
        int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
        const hs_status_info_t *info = hs_status_get(code);
        if (code < 400 || code > 599 || !info) {
            snprintf(err, errlen, "'error_page': %d is not a 4xx or 5xx code of the registry (see 'statusd list')",
                     code);
            return HS_ERROR;
        }
        if (info->flags & HS_SF_LOGONLY) {
            snprintf(err, errlen, "'error_page': %d is only logged, never sent, so it has no page", code);
            return HS_ERROR;
        }
        const char *fs = eq + 1;
        while (fs < e && isspace((unsigned char)*fs))
            fs++;
        if (fs == e) {
            snprintf(err, errlen, "'error_page' %d: which file? e.g. %d=/srv/errors/%d.html", code, code, code);
            return HS_ERROR;
        }
        char *path = hs_malloc((size_t)(e - fs) + 1);
        memcpy(path, fs, (size_t)(e - fs));
        path[e - fs] = '\0';
        const char *type = error_page_type(path);
        if (!type) {
            snprintf(err, errlen,
                     "'error_page' %d: cannot tell the type of '%s' from its name (use .html, .htm, .xhtml, .json, "
                     ".txt, .text or .xml)",
                     code, path);
            free(path);
            return HS_ERROR;
        }
        hs_error_page_t *page = NULL;
        for (size_t i = 0; i < cfg->num_error_pages && !page; i++)
            if (cfg->error_pages[i].status == code)
                page = &cfg->error_pages[i];
        if (!page) {
            if (cfg->num_error_pages == HS_MAX_ERROR_PAGES) {
                snprintf(err, errlen, "at most %d 'error_page' values", HS_MAX_ERROR_PAGES);
                free(path);
                return HS_ERROR;
            }
            page = &cfg->error_pages[cfg->num_error_pages++];
        } else {
            free(page->path);
            free(page->body);
        }
        *page = (hs_error_page_t){.status = code, .path = path, .content_type = type};
    }
    return HS_OK;
}

int hs_config_set(hs_config_t *cfg, const hs_directive_t *d, const char *value, char *err, size_t errlen)
{
    void *field = (char *)cfg + d->offset;
    switch (d->type) {
    case HS_DT_STRING: {
        char **p = field;
        free(*p);
        *p = value[0] ? hs_strdup(value) : NULL;
        return HS_OK;
    }
    case HS_DT_LIST: {
        /* Two list directives, each with its own storage: error_page (CODE=FILE pairs) and listen. */
        if (d->offset == OFF(error_pages))
            return error_page_set(cfg, value, err, errlen);
        if (value[0] == '\0') {
            snprintf(err, errlen, "'%s' needs a value", d->name);
            return HS_ERROR;
        }
        /* the first explicit value replaces the embedded default; later ones add to it */
        if (cfg->listen_is_default)
            list_clear(cfg);
        cfg->listen_is_default = value == d->def;
        if (cfg->num_listen >= HS_MAX_LISTEN) {
            snprintf(err, errlen, "at most %d '%s' values", HS_MAX_LISTEN, d->name);
            return HS_ERROR;
        }
        cfg->listen[cfg->num_listen++] = hs_strdup(value);
        return HS_OK;
    }
    case HS_DT_BOOL: {
        bool *b = field;
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcasecmp(value, "on") || !strcmp(value, "1"))
            *b = true;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcasecmp(value, "off") ||
                 !strcmp(value, "0"))
            *b = false;
        else {
            snprintf(err, errlen, "'%s' expects true or false, got '%s'", d->name, value);
            return HS_ERROR;
        }
        return HS_OK;
    }
    case HS_DT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            snprintf(err, errlen, "'%s' expects an integer, got '%s'", d->name, value);
            return HS_ERROR;
        }
        if ((d->min || d->max) && (v < d->min || v > d->max)) {
            snprintf(err, errlen, "'%s' must be between %lld and %lld, got %lld", d->name, d->min, d->max, v);
            return HS_ERROR;
        }
        *(int *)field = (int)v;
        return HS_OK;
    }
    case HS_DT_SIZE:
    case HS_DT_DURATION: {
        uint64_t v;
        int r = d->type == HS_DT_SIZE ? hs_parse_size(value, &v) : hs_parse_duration(value, &v);
        if (r != HS_OK) {
            snprintf(err, errlen,
                     d->type == HS_DT_SIZE ? "'%s' expects a size such as 512, 8k or 10m, got '%s'"
                                           : "'%s' expects a duration such as 500ms, 10s or 2m, got '%s'",
                     d->name, value);
            return HS_ERROR;
        }
        if ((d->min || d->max) && (v < (uint64_t)d->min || v > (uint64_t)d->max)) {
            if (d->type == HS_DT_SIZE)
                snprintf(err, errlen, "'%s' must be between %lld and %lld bytes, got %llu", d->name, d->min, d->max,
                         (unsigned long long)v);
            else
                snprintf(err, errlen, "'%s' must be between %lldms and %lldms, got %llums", d->name, d->min, d->max,
                         (unsigned long long)v);
            return HS_ERROR;
        }
        *(uint64_t *)field = v;
        return HS_OK;
    }
    }
    return HS_ERROR;
}

/* ---- YAML ---- */
typedef struct {
    hs_config_t *cfg;
    const char *name;
    yaml_parser_t parser;
    char *err;
    size_t errlen;
} yctx_t;

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

static int apply_scalar(yctx_t *y, const hs_directive_t *d, const char *value, size_t line)
{
    char msg[256];
    if (hs_config_set(y->cfg, d, value, msg, sizeof(msg)) != HS_OK)
        return yerr(y, line, "%s", msg);
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

/* A mapping given to a list of KEY=VALUE items (error_page: {404: /srv/404.html}): each
 * `key: value` pair is applied as "key=value". */
static int parse_pairs(yctx_t *y, const hs_directive_t *d)
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
        if (val.type != YAML_SCALAR_EVENT) {
            yaml_event_delete(&val);
            return yerr(y, vline, "%s", not_plain);
        }
        hs_buf_t item = {0};
        hs_buf_printf(&item, "%s=%s", key, (char *)val.data.scalar.value);
        yaml_event_delete(&val);
        int r = apply_scalar(y, d, item.base, vline);
        hs_buf_free(&item);
        if (r != HS_OK)
            return r;
    }
}

/* Parse a mapping whose keys are prefixed by `prefix` (nested mappings flatten to a.b). */
static int parse_mapping(yctx_t *y, const char *prefix)
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
        if (val.type == YAML_MAPPING_START_EVENT) {
            yaml_event_delete(&val);
            const hs_directive_t *pd = hs_config_find(name);
            if (pd && pd->type == HS_DT_LIST && pd->offset == OFF(error_pages)) {
                if (parse_pairs(y, pd) != HS_OK)
                    return HS_ERROR;
                continue;
            }
            if (parse_mapping(y, name) != HS_OK)
                return HS_ERROR;
            continue;
        }
        const hs_directive_t *d = hs_config_find(name);
        if (!d) {
            yaml_event_delete(&val);
            return yerr(y, kline, "unknown directive '%s' (see 'statusd --help')", name);
        }
        if (val.type == YAML_SCALAR_EVENT) {
            int r = apply_scalar(y, d, (char *)val.data.scalar.value, vline);
            yaml_event_delete(&val);
            if (r != HS_OK)
                return r;
        } else if (val.type == YAML_SEQUENCE_START_EVENT) {
            yaml_event_delete(&val);
            if (d->type != HS_DT_LIST)
                return yerr(y, vline, "'%s' takes a single value, not a list", d->name);
            for (;;) {
                yaml_event_t item;
                if (next_event(y, &item) != HS_OK)
                    return HS_ERROR;
                if (item.type == YAML_SEQUENCE_END_EVENT) {
                    yaml_event_delete(&item);
                    break;
                }
                size_t iline = item.start_mark.line + 1;
                if (item.type != YAML_SCALAR_EVENT) {
                    yaml_event_delete(&item);
                    return yerr(y, iline, "'%s' list items must be plain values", d->name);
                }
                int r = apply_scalar(y, d, (char *)item.data.scalar.value, iline);
                yaml_event_delete(&item);
                if (r != HS_OK)
                    return r;
            }
        } else {
            yaml_event_delete(&val);
            return yerr(y, vline, "unexpected value for '%s'", d->name);
        }
    }
}

int hs_config_load_yaml(hs_config_t *cfg, const char *name, const char *text, size_t len, char *err, size_t errlen)
{
    yctx_t y = {.cfg = cfg, .name = name, .err = err, .errlen = errlen};
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
            if (parse_mapping(&y, "") != HS_OK)
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

int hs_config_load_env(hs_config_t *cfg, char *err, size_t errlen)
{
    extern char **environ;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "STATUSD_", 8) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char name[64];
        size_t n = (size_t)(eq - *e) - 8;
        if (n == 0 || n >= sizeof(name))
            continue;
        memcpy(name, *e + 8, n);
        name[n] = '\0';
        if (!strcmp(name, "BIN") || !strcmp(name, "CONFIG"))
            continue; /* used by tests and wrappers, not directives */
        const hs_directive_t *d = hs_config_find(name);
        if (!d) {
            snprintf(err, errlen, "environment: unknown directive in %.*s", (int)(eq - *e), *e);
            return HS_ERROR;
        }
        char msg[256];
        if (hs_config_set(cfg, d, eq + 1, msg, sizeof(msg)) != HS_OK) {
            snprintf(err, errlen, "environment: STATUSD_%s: %s", name, msg);
            return HS_ERROR;
        }
    }
    return HS_OK;
}

/* Read one error_page file into pg->body: a regular file of at most HS_ERROR_PAGE_MAX_SIZE
 * bytes. HS_OK, or HS_ERROR with a message naming the code and the file. */
static int error_page_load(hs_error_page_t *pg, char *err, size_t errlen)
{
    int ret = HS_ERROR;
    struct stat st;
    free(pg->body);
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
    pg->body = hs_malloc(cap);
    for (;;) {
        ssize_t n = read(fd, pg->body + len, cap - len);
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
    pg->len = len;
    ret = HS_OK;
Exit:
    if (fd >= 0)
        close(fd);
    if (ret != HS_OK) {
        free(pg->body);
        pg->body = NULL;
    }
    return ret;
}

/* Every error_page file is read here, once, at startup (and by -t), before privileges are
 * dropped; answering a request never touches the disk for it. */
static int error_pages_load(hs_config_t *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->num_error_pages; i++)
        if (error_page_load(&cfg->error_pages[i], err, errlen) != HS_OK)
            return HS_ERROR;
    return HS_OK;
}

int hs_config_validate(hs_config_t *cfg, char *err, size_t errlen)
{
    /* max_uri and max_field larger than max_head are allowed: the head limit then applies first. */
    if (cfg->api_prefix && (cfg->api_prefix[0] != '/' || strlen(cfg->api_prefix) < 2)) {
        snprintf(err, errlen, "api_prefix must start with '/' and name a path, got '%s'", cfg->api_prefix);
        return HS_ERROR;
    }
    /* An empty value ("log_level:" in YAML, STATUSD_LOG_LEVEL=) leaves the string NULL: refuse it
     * here instead of passing NULL to strcmp. */
    if (!cfg->log_level || (strcmp(cfg->log_level, "error") && strcmp(cfg->log_level, "warn") &&
                            strcmp(cfg->log_level, "info") && strcmp(cfg->log_level, "debug"))) {
        snprintf(err, errlen, "log_level must be error, warn, info or debug, got '%s'",
                 cfg->log_level ? cfg->log_level : "");
        return HS_ERROR;
    }
    return error_pages_load(cfg, err, errlen);
}

void hs_config_print_help(FILE *out)
{
    for (size_t i = 0; i < HS_ARRAY_SIZE(directives); i++) {
        const hs_directive_t *d = &directives[i];
        char flag[64], env[64];
        size_t k = 0;
        for (const char *c = d->name; *c && k < sizeof(flag) - 1; c++)
            flag[k++] = *c == '_' ? '-' : *c;
        flag[k] = '\0';
        k = 0;
        for (const char *c = d->name; *c && k < sizeof(env) - 1; c++)
            env[k++] = (char)toupper((unsigned char)*c);
        env[k] = '\0';
        char left[160];
        if (d->type == HS_DT_BOOL)
            snprintf(left, sizeof(left), "--%s / --no-%s", flag, flag);
        else
            snprintf(left, sizeof(left), "--%s %s", flag, d->metavar);
        fprintf(out, "  %-34s %s\n", left, d->help);
        fprintf(out, "  %-34s default: %s; YAML: %s; env: STATUSD_%s\n", "", d->def[0] ? d->def : "(none)", d->name,
                env);
    }
}
