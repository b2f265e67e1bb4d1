/* statusd — the directive tables and their front ends at the top of a configuration: the
 * engine's table, the joined table of every owner, typed setters, embedded defaults, the
 * environment, --help. YAML is in yaml.c, hosts and paths in scopes.c.
 *
 * Memory: every string and list a configuration keeps comes from its arena, so the settings of
 * a host or a path can start as a plain copy of their parent's (scopes.c) and nothing is freed
 * twice; hs_config_free releases it all at once. */
#define _GNU_SOURCE
#include "internal.h"
#include "hs/status.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define OFF(f) offsetof(hs_config_t, f)
#define KIB 1024LL
#define MIB (1024LL * 1024)
#define TOP HS_SCOPE_TOP
#define ALL HS_SCOPE_ALL
#define TOP_HOST (HS_SCOPE_TOP | HS_SCOPE_HOST)

static int set_listen(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err,
                      size_t errlen);
static int set_error_page(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err,
                          size_t errlen);
static int set_word(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err, size_t errlen);

/* The engine's directives; the modules' are in their own files. */
HS_DIRECTIVES_BEGIN
static const hs_directive_t engine_directives[] = {
    {"listen", HS_DT_LIST, OFF(listen), "127.0.0.1:8080", "ADDR:PORT",
     "address to listen on (repeatable; port 0 picks a free port, printed at startup); tls://ADDR:PORT serves HTTPS, "
     "and may override the tls.* settings for itself: \"tls://ADDR:PORT cert=FILE key=FILE plain_http=redirect\"",
     0, 0, TOP, set_listen},
    {"workers", HS_DT_INT, OFF(workers), "0", "N", "worker threads, each with its own listener (0 = one per core)", 0,
     1024, TOP},
    {"io_uring", HS_DT_BOOL, OFF(io_uring), "true", "BOOL",
     "read the sockets one wake-up finds ready, and send the small writes it makes, with one system call each way "
     "(io_uring, where the kernel allows it; false: a recvfrom and a send each); read at start only",
     0, 0, TOP},
    {"max_connections", HS_DT_INT, OFF(max_connections), "10000", "N",
     "open connections over this get 503 with Retry-After and are closed", 1, 10000000, TOP},
    {"retry_after", HS_DT_INT, OFF(retry_after), "5", "SECONDS", "Retry-After sent with 503 on overload", 0, 86400,
     TOP},
    {"server_name", HS_DT_STRING, OFF(server_name), "statusd", "NAME", "value of the Server header", 0, 0, TOP},
    {"access_log", HS_DT_STRING, OFF(access_log), "off", "PATH|-|off",
     "access log file ('-': standard output); a host or a path may have its own", 0, 0, ALL},
    {"log_format", HS_DT_STRING, OFF(log_format), "combined", "FORMAT",
     "access log lines: combined (with the duration), json (one object per line) or a template of $variables "
     "($remote_addr $time_local $time_iso8601 $request $method $target $path $query $protocol $status $cause $bytes "
     "$bytes_sent $duration $host $vhost $request_id $fields $field_NAME $http_NAME; $$ is a dollar)",
     0, 0, ALL},
    {"log_level", HS_DT_STRING, OFF(log_level), "info", "LEVEL", "error, warn, info or debug", 0, 0, TOP},
    {"user", HS_DT_STRING, OFF(user), "nobody", "USER",
     "when started as root, switch to this user after binding (root keeps root)", 0, 0, TOP},
    {"strict_hosts", HS_DT_BOOL, OFF(strict_hosts), "false", "BOOL",
     "answer 421 Misdirected Request to a Host that names none of the configured hosts (else the first host "
     "serves it)",
     0, 0, TOP},
    /* TLS (src/http/https.c, src/event/tls.c) */
    {"tls.cert", HS_DT_STRING, OFF(tls_cert), "", "FILE",
     "PEM certificate chain of the tls:// listeners; on a host: the certificate SNI selects for it", 0, 0, TOP_HOST},
    {"tls.key", HS_DT_STRING, OFF(tls_key), "", "FILE", "PEM private key of tls.cert (default: in the tls.cert file)",
     0, 0, TOP_HOST},
    {"tls.ocsp_response", HS_DT_STRING, OFF(tls_ocsp), "", "FILE",
     "DER OCSP response stapled while it is fresh (renew the file, then SIGHUP); only for a certificate that names "
     "an OCSP responder",
     0, 0, TOP_HOST},
    {"tls.client_certs.ca", HS_DT_STRING, OFF(tls_client_ca), "", "FILE",
     "ask for client certificates chaining to these PEM authorities: one that fails verification gets 495, a "
     "missing one 496 when required",
     0, 0, TOP_HOST},
    {"tls.client_certs.verify", HS_DT_STRING, OFF(tls_client_verify), "", "MODE",
     "off, optional or required: whether a client certificate is needed (default: required when "
     "tls.client_certs.ca is set)",
     0, 0, TOP_HOST, set_word},
    {"tls.early_data", HS_DT_BOOL, OFF(tls_early_data), "false", "BOOL",
     "accept TLS 1.3 early data (0-RTT, single-use tickets): safe methods are served, others get 425 (RFC 8470)", 0, 0,
     TOP},
    {"tls.session_tickets", HS_DT_BOOL, OFF(tls_session_tickets), "true", "BOOL",
     "resume TLS sessions with tickets encrypted under rotating keys", 0, 0, TOP},
    {"tls.ticket_key_rotation", HS_DT_DURATION, OFF(tls_ticket_rotate), "1h", "DURATION",
     "how long a session-ticket key encrypts new tickets; it then decrypts for as long again and is wiped", 1000,
     7 * 86400000LL, TOP},
    {"tls.plain_http", HS_DT_STRING, OFF(tls_plain_http), "497", "497|redirect",
     "what plain HTTP on a TLS port gets: 497 HTTP Request Sent to HTTPS Port, or a 308 redirect to https://", 0, 0,
     TOP, set_word},
    {"https_port", HS_DT_INT, OFF(https_port), "0", "PORT",
     "port of the https:// URLs statusd redirects to (0: the first TLS listener's)", 0, 65535, TOP},
    {"require_tls", HS_DT_BOOL, OFF(require_tls), "false", "BOOL",
     "requests over plain HTTP get 426 Upgrade Required naming TLS (RFC 9110 §15.5.22)", 0, 0, ALL},
    {"redirect_to_https", HS_DT_BOOL, OFF(redirect_to_https), "false", "BOOL",
     "requests over plain HTTP get a 308 redirect to the same URL with https://", 0, 0, ALL},
    {"max_uri", HS_DT_SIZE, OFF(max_uri), "8k", "SIZE", "longest request target (414 beyond)", 16, 1 * MIB, TOP},
    {"max_field", HS_DT_SIZE, OFF(max_field), "8k", "SIZE", "longest header field line (431 beyond)", 64, 1 * MIB, TOP},
    {"max_head", HS_DT_SIZE, OFF(max_head), "32k", "SIZE", "largest request head (431 beyond)", 256, 4 * MIB, TOP},
    {"max_headers", HS_DT_INT, OFF(max_headers), "100", "N", "most header fields in a request (431 beyond)", 1, 10000,
     TOP},
    {"max_body", HS_DT_SIZE, OFF(max_body), "10m", "SIZE", "largest request body (413 beyond)", 0, 1LL << 40, ALL},
    {"max_chunk_ext", HS_DT_SIZE, OFF(max_chunk_ext), "1k", "SIZE",
     "longest chunk-size line with extensions (400 beyond)", 16, 1 * MIB, TOP},
    {"max_trailer", HS_DT_SIZE, OFF(max_trailer), "8k", "SIZE",
     "largest trailer section of a chunked body (431 beyond)", 0, 1 * MIB, TOP},
    {"header_timeout", HS_DT_DURATION, OFF(header_timeout), "10s", "DURATION",
     "time to receive a whole request head once it has started (408 beyond)", 1, 86400000, TOP},
    {"body_timeout", HS_DT_DURATION, OFF(body_timeout), "10s", "DURATION",
     "longest pause while receiving a request body (408 beyond)", 1, 86400000, TOP},
    {"keepalive_timeout", HS_DT_DURATION, OFF(keepalive_timeout), "30s", "DURATION",
     "idle time before a keep-alive connection is closed silently", 1, 86400000, TOP},
    {"send_timeout", HS_DT_DURATION, OFF(send_timeout), "30s", "DURATION",
     "longest pause while the client is not reading the response", 1, 86400000, TOP},
    {"drain_timeout", HS_DT_DURATION, OFF(drain_timeout), "10s", "DURATION",
     "on SIGTERM/SIGINT, time allowed for in-flight responses", 0, 86400000, TOP},
    {"drain_delay", HS_DT_DURATION, OFF(drain_delay), "0s", "DURATION",
     "on SIGTERM/SIGINT, keep accepting and serving this long while health paths answer 503, so that a load "
     "balancer takes the instance out before the drain starts (a second signal ends it early)",
     0, 3600000, TOP},
    {"linger_timeout", HS_DT_DURATION, OFF(linger_timeout), "2s", "DURATION",
     "after an error response, time spent draining the client's input before closing", 0, 60000, TOP},
    {"handshake_timeout", HS_DT_DURATION, OFF(handshake_timeout), "10s", "DURATION",
     "time for a TLS handshake to complete once a connection is accepted (then it is closed)", 1, 86400000, TOP},
    {"max_keepalive_requests", HS_DT_INT, OFF(max_keepalive_requests), "10000", "N",
     "requests served on one connection before it is closed", 1, 100000000, TOP},
    {"length_required", HS_DT_STRING, OFF(length_required), "PUT", "METHODS",
     "comma-separated methods that must declare a body length (411 otherwise)", 0, 0, ALL},
    /* error pages (src/http/response.c) */
    {"error_page", HS_DT_LIST, OFF(error_pages), "", "CODE=FILE",
     "send FILE as the body of the CODE (4xx/5xx) responses statusd generates; repeatable or comma-separated; "
     "type from the extension (.html .htm .json .txt .xml); read at startup, at most 64k",
     0, 0, ALL, set_error_page},
};
HS_DIRECTIVES_END

const hs_conf_schema_t hs_config_engine_schema = {
    .name = "engine",
    .directives = engine_directives,
    .count = HS_ARRAY_SIZE(engine_directives),
    .size = sizeof(hs_config_t),
};

/* ---- the joined table ---- */
static hs_directive_t *joined;
static size_t njoined;
static const hs_conf_schema_t *const *schemas;
static size_t nschemas;
static pthread_once_t join_once = PTHREAD_ONCE_INIT;

static void join(void)
{
    nschemas = hs_config_schemas(&schemas);
    if (nschemas > HS_MAX_MODULES)
        abort(); /* a build with more modules than HS_MAX_MODULES: raise it */
    for (size_t s = 0; s < nschemas; s++)
        njoined += schemas[s]->count;
    joined = hs_calloc(njoined, sizeof(*joined));
    size_t k = 0;
    for (size_t s = 0; s < nschemas; s++) {
        for (size_t i = 0; i < schemas[s]->count; i++) {
            joined[k] = schemas[s]->directives[i];
            joined[k].owner = (uint8_t)s;
            if (!joined[k].scope)
                joined[k].scope = HS_SCOPE_TOP;
            k++;
        }
    }
}

const hs_directive_t *hs_config_directives(size_t *count)
{
    pthread_once(&join_once, join);
    *count = njoined;
    return joined;
}

const hs_conf_schema_t *hs__config_schema(int owner)
{
    pthread_once(&join_once, join);
    return owner >= 0 && (size_t)owner < nschemas ? schemas[owner] : NULL;
}

/* The spellings of a name: max_body, max-body, MAX_BODY; dav.root, dav-root, DAV_ROOT. */
static bool same_name(const char *query, const char *name)
{
    for (;; query++, name++) {
        char q = *query == '-' ? '_' : (char)tolower((unsigned char)*query);
        /* a dot (YAML nesting) only matches a dot; '_' and '-' (flags, variables) match either */
        bool ok = q == *name || (q == '_' && *name == '.');
        if (!ok)
            return false;
        if (!q)
            return true;
    }
}

const hs_directive_t *hs_config_find(const char *name)
{
    if (strlen(name) >= 96)
        return NULL;
    size_t count;
    const hs_directive_t *all = hs_config_directives(&count);
    for (size_t i = 0; i < count; i++)
        if (same_name(name, all[i].name))
            return &all[i];
    return NULL;
}

/* The settings struct of a directive's owner within an engine settings set. */
static void *owner_conf(hs_config_t *cfg, const hs_directive_t *d)
{
    return d->owner == 0 ? (void *)cfg : cfg->mod[d->owner];
}

void *hs_config_field(hs_config_t *cfg, const hs_directive_t *d)
{
    return hs__config_field_in(owner_conf(cfg, d), d);
}

/* ---- memory ---- */
void *hs_config_alloc(hs_config_t *cfg, size_t n)
{
    return hs_arena_alloc(&cfg->state->arena, n);
}

char *hs_config_strdup(hs_config_t *cfg, const char *s)
{
    return hs_arena_strndup(&cfg->state->arena, s, strlen(s));
}

hs_config_t *hs__config_copy(hs_config_t *top, const hs_config_t *from)
{
    hs_config_t *c = hs_config_alloc(top, sizeof(*c));
    *c = *from;
    for (size_t s = 1; s < nschemas; s++) {
        c->mod[s] = hs_config_alloc(top, schemas[s]->size);
        memcpy(c->mod[s], from->mod[s], schemas[s]->size);
    }
    return c;
}

/* ---- setting values ---- */

/* listen: the first explicit value replaces the embedded default; later ones add to it. */
static int set_listen(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err,
                      size_t errlen)
{
    hs_config_t *c = conf;
    if (value[0] == '\0') {
        snprintf(err, errlen, "'%s' needs a value", d->name);
        return HS_ERROR;
    }
    if (c->listen_is_default)
        c->num_listen = 0;
    c->listen_is_default = value == d->def;
    if (c->num_listen >= HS_MAX_LISTEN) {
        snprintf(err, errlen, "at most %d '%s' values", HS_MAX_LISTEN, d->name);
        return HS_ERROR;
    }
    size_t len = strlen(value) + 1;
    hs_listen_t *item = hs_config_alloc(cfg, sizeof(*item));
    if (hs_listen_parse(value, item, hs_config_alloc(cfg, len), len, err, errlen) != HS_OK)
        return HS_ERROR;
    c->listen_items[c->num_listen] = item;
    c->listen[c->num_listen++] = hs_config_strdup(cfg, value);
    return HS_OK;
}

/* A word from a short list (tls.client_certs.verify, tls.plain_http). */
static int set_word(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err, size_t errlen)
{
    bool verify = !strcmp(d->name, "tls.client_certs.verify");
    if (value[0] && (verify ? hs_listen_verify_word(value) : hs_listen_plain_http_word(value)) < 0) {
        snprintf(err, errlen, "'%s' expects %s, got '%s'", d->name,
                 verify ? "off, optional or required" : "497 or redirect", value);
        return HS_ERROR;
    }
    *(char **)hs__config_field_in(conf, d) = value[0] ? hs_config_strdup(cfg, value) : NULL;
    return HS_OK;
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
 * flags override the environment, which overrides the YAML file, and a path overrides its host;
 * an empty value forgets every page set so far. The files themselves are read by validate. */
static int set_error_page(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err,
                          size_t errlen)
{
    HS_UNUSED(d);
    hs_config_t *c = conf;
    if (!value[0]) {
        c->num_error_pages = 0;
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
        char *path = hs_arena_strndup(&cfg->state->arena, fs, (size_t)(e - fs));
        const char *type = error_page_type(path);
        if (!type) {
            snprintf(err, errlen,
                     "'error_page' %d: cannot tell the type of '%s' from its name (use .html, .htm, .xhtml, .json, "
                     ".txt, .text or .xml)",
                     code, path);
            return HS_ERROR;
        }
        hs_error_page_t *page = NULL;
        for (size_t i = 0; i < c->num_error_pages && !page; i++)
            if (c->error_pages[i].status == code)
                page = &c->error_pages[i];
        if (!page) {
            if (c->num_error_pages == HS_MAX_ERROR_PAGES) {
                snprintf(err, errlen, "at most %d 'error_page' values", HS_MAX_ERROR_PAGES);
                return HS_ERROR;
            }
            page = &c->error_pages[c->num_error_pages++];
        }
        *page = (hs_error_page_t){.status = code, .path = path, .content_type = type};
    }
    return HS_OK;
}

int hs__config_apply(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err, size_t errlen)
{
    if (d->set)
        return d->set(cfg, conf, d, value, err, errlen);
    void *field = hs__config_field_in(conf, d);
    switch (d->type) {
    case HS_DT_STRING: {
        char **p = field;
        *p = value[0] ? hs_config_strdup(cfg, value) : NULL;
        return HS_OK;
    }
    case HS_DT_LIST: snprintf(err, errlen, "'%s': a list without a setter", d->name); return HS_ERROR;
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

int hs__config_set_at(hs_config_t *cfg, const hs_directive_t *d, const char *value, const char *origin, size_t line,
                      char *err, size_t errlen)
{
    if (hs__config_apply(cfg, owner_conf(cfg, d), d, value, err, errlen) != HS_OK)
        return HS_ERROR;
    hs_conf_state_t *st = cfg->state;
    hs__centry_t *e = hs_config_alloc(cfg, sizeof(*e));
    *e = (hs__centry_t){.d = d, .value = hs_config_strdup(cfg, value), .origin = origin, .line = line};
    *st->top_tail = e;
    st->top_tail = &e->next;
    st->validated = false;
    return HS_OK;
}

int hs_config_set(hs_config_t *cfg, const hs_directive_t *d, const char *value, char *err, size_t errlen)
{
    return hs__config_set_at(cfg, d, value, cfg->state->origin, cfg->state->line, err, errlen);
}

bool hs_config_given(const hs_config_t *cfg, const hs_directive_t *d)
{
    for (const hs__centry_t *e = cfg->state->top; e; e = e->next)
        if (e->d == d)
            return true;
    return false;
}

/* ---- defaults and the end ---- */
void hs_config_defaults(hs_config_t *cfg)
{
    char err[256];
    size_t count;
    const hs_directive_t *all = hs_config_directives(&count);
    memset(cfg, 0, sizeof(*cfg));
    cfg->state = hs_calloc(1, sizeof(*cfg->state));
    hs_arena_init(&cfg->state->arena);
    cfg->state->top_tail = &cfg->state->top;
    cfg->state->hosts_tail = &cfg->state->hosts;
    cfg->state->origin = "command line";
    for (size_t s = 1; s < nschemas; s++) {
        cfg->mod[s] = hs_config_alloc(cfg, schemas[s]->size);
        memset(cfg->mod[s], 0, schemas[s]->size);
    }
    for (size_t i = 0; i < count; i++) {
        if (hs__config_apply(cfg, owner_conf(cfg, &all[i]), &all[i], all[i].def, err, sizeof(err)) != HS_OK) {
            fprintf(stderr, "statusd: bad embedded default for %s: %s\n", all[i].name, err);
            abort();
        }
    }
    cfg->config_file = NULL;
}

void hs_config_free(hs_config_t *cfg)
{
    hs_conf_state_t *st = cfg->state;
    if (st) {
        for (size_t i = 0; i < st->nchecked; i++)
            if (st->checked[i].schema->release)
                st->checked[i].schema->release(st->checked[i].conf);
        free(st->checked);
        for (size_t i = 0; i < st->nbuilt; i++)
            free(st->built[i].paths);
        free(st->built);
        hs_arena_reset(&st->arena);
        free(st);
    }
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- the environment ---- */
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
        if (hs__config_set_at(cfg, d, eq + 1, "environment", 0, msg, sizeof(msg)) != HS_OK) {
            snprintf(err, errlen, "environment: STATUSD_%s: %s", name, msg);
            return HS_ERROR;
        }
    }
    cfg->state->origin = "command line"; /* flags come after */
    return HS_OK;
}

/* ---- --help ---- */
static const char *scope_words(unsigned scope)
{
    switch (scope & HS_SCOPE_ALL) {
    case HS_SCOPE_TOP: return "top";
    case HS_SCOPE_TOP | HS_SCOPE_PATH: return "top, path";
    case HS_SCOPE_TOP | HS_SCOPE_HOST: return "top, host";
    case HS_SCOPE_ALL: return "top, host, path";
    case HS_SCOPE_PATH: return "path";
    default: return "host, path";
    }
}

void hs_config_print_help(FILE *out)
{
    size_t count;
    const hs_directive_t *all = hs_config_directives(&count);
    for (size_t i = 0; i < count; i++) {
        const hs_directive_t *d = &all[i];
        char flag[96], env[96];
        size_t k = 0;
        for (const char *c = d->name; *c && k < sizeof(flag) - 1; c++)
            flag[k++] = *c == '_' || *c == '.' ? '-' : *c;
        flag[k] = '\0';
        k = 0;
        for (const char *c = d->name; *c && k < sizeof(env) - 1; c++)
            env[k++] = *c == '.' ? '_' : (char)toupper((unsigned char)*c);
        env[k] = '\0';
        char left[256];
        if (d->type == HS_DT_BOOL)
            snprintf(left, sizeof(left), "--%s / --no-%s", flag, flag);
        else
            snprintf(left, sizeof(left), "--%s %s", flag, d->metavar);
        fprintf(out, "  %-34s %s%s\n", left, strlen(left) >= 34 ? " " : "", d->help); /* two spaces at least */
        fprintf(out, "  %-34s default: %s; YAML: %s; env: STATUSD_%s; scope: %s\n", "", d->def[0] ? d->def : "(none)",
                d->name, env, scope_words(d->scope));
    }
}
