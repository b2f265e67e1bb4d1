/* statusd — configuration: directive tables serving the YAML file, command-line flags and
 * STATUSD_* environment variables (nginx ngx_command_t, redis standardConfig), in scopes.
 *
 * Directives belong to their owners: the engine's table (src/config/config.c) fills the engine's
 * settings (hs_config_t); each module's table (its hs_conf_schema_t) fills the module's own
 * settings struct. A directive may be written at the top of the configuration (also as a flag
 * or a variable), on a host, or on a path, as its `scope` allows:
 *
 *   max_body: 10m                      # top: the default of every host and path
 *   strict_hosts: true
 *   hosts:
 *     example.com:
 *       paths:
 *         /:       {root: /srv/www, cache_control: "public, max-age=60"}
 *         /api:    {api: true, max_body: 1m}
 *         /static: {root: /srv/static, autoindex: true}
 *     other.example: {paths: {/: {root: /srv/other}}}
 *
 * Settings flow down: a host starts from the top, a path from the nearest enclosing path of its
 * host (or the host), and then applies what it says itself. Each path names its content handler
 * (`root:` static files, `api:` the client-testing API, `codes:` the status-code pages) or takes
 * the handler of the path it lies under. The longest matching path wins; an unknown Host goes to
 * the first host (421 with strict_hosts). Without `hosts:` the flat directives describe one
 * default host, as they always did: `root` serves `/`, the API sits at `/` or at api_prefix, and
 * every host has `/codes`.
 *
 * Precedence at the top: embedded defaults < --config FILE < STATUSD_* environment < flags.
 * A directive `max_body` is `max_body:` in YAML, `--max-body` on the command line and
 * `STATUSD_MAX_BODY` in the environment. Nested YAML mappings name directives with dots
 * (`dav: {root: DIR}` is `dav.root`). All memory of a configuration comes from one arena,
 * released by hs_config_free. */
#ifndef HS_CONFIG_H
#define HS_CONFIG_H

#include "hs/core.h"
#include <stdio.h>
#include <sys/socket.h>

#define HS_MAX_LISTEN 16
#define HS_MAX_ERROR_PAGES 64
#define HS_ERROR_PAGE_MAX_SIZE (64 * 1024)
#define HS_MAX_MODULES 16     /* settings sets: the engine's (0) and one per module */
#define HS_MAX_LOG_TARGETS 32 /* distinct access log files over the life of a process */

typedef struct hs_config_s hs_config_t;
typedef struct hs_conf_state_s hs_conf_state_t;
typedef struct hs_hostconf_s hs_hostconf_t;
typedef struct hs_pathconf_s hs_pathconf_t;

/* One operator-supplied error page (the error_page directive): the body statusd sends instead
 * of the page it would build from the registry, for one 4xx/5xx status. */
typedef struct hs_error_page_s {
    int status;
    char *path;               /* as configured */
    const char *content_type; /* from the file name's extension (static string) */
    char *body;               /* the file's bytes, read by hs_config_validate; NULL before */
    size_t len;
} hs_error_page_t;

/* A value of the listen directive, parsed (src/config/listen.c):
 *
 *   [tls://|http://]ADDRESS [NAME=VALUE]...
 *
 * ADDRESS is HOST:PORT, [IPv6]:PORT or PORT (port 0: any free port); `address=ADDRESS` may stand
 * for it. tls:// makes a TLS listener, which may override the tls.* directives for itself with
 * cert=, key=, ocsp_response=, client_certs.ca=, client_certs.verify=, early_data=, plain_http=
 * (each also with its tls. prefix, which the YAML form `{address: …, tls: {cert: …}}` gives);
 * a VALUE is percent-decoded (%20 for a space). */
enum { HS_PLAIN_HTTP_DEFAULT, HS_PLAIN_HTTP_497, HS_PLAIN_HTTP_REDIRECT };
typedef struct hs_listen_s {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool tls;
    int8_t early_data;  /* -1: tls.early_data decides */
    uint8_t plain_http; /* HS_PLAIN_HTTP_*: what plain HTTP on this TLS port gets (DEFAULT: tls.plain_http) */
    /* NULL: the tls.* directive's value */
    const char *cert, *key, *ocsp, *client_ca, *client_verify;
} hs_listen_t;
/* Parse `text` into *out. Decoded values are written into `store` (at least strlen(text) + 1
 * bytes) and out's strings point there. HS_OK, or HS_ERROR with a message in err. Reads nothing
 * beyond text's NUL and writes nothing beyond store[storelen). */
int hs_listen_parse(const char *text, hs_listen_t *out, char *store, size_t storelen, char *err, size_t errlen);
/* What the tls.client_certs.verify and tls.plain_http words mean: HS_TLS_VERIFY_* (0 off, 1
 * optional, 2 required) and HS_PLAIN_HTTP_*; -1 for a word that is neither. */
int hs_listen_verify_word(const char *w);
int hs_listen_plain_http_word(const char *w);

/* Where a directive may be written. */
enum {
    HS_SCOPE_TOP = 1,  /* the top of the file, a flag, a variable */
    HS_SCOPE_HOST = 2, /* hosts: NAME: DIRECTIVE */
    HS_SCOPE_PATH = 4, /* hosts: NAME: paths: /PREFIX: DIRECTIVE */
    HS_SCOPE_ALL = 7,
};

typedef enum {
    HS_DT_STRING,
    HS_DT_INT,
    HS_DT_SIZE,
    HS_DT_DURATION,
    HS_DT_BOOL,
    HS_DT_LIST,
} hs_directive_type_t;

typedef struct hs_directive_s hs_directive_t;
/* A setter for values no plain type describes: HS_OK, or HS_ERROR with a message in err. Memory
 * it keeps must come from hs_config_alloc. */
typedef int (*hs_directive_set_t)(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err,
                                  size_t errlen);

struct hs_directive_s {
    const char *name; /* YAML key, e.g. "max_body" (nested: "dav.root") */
    hs_directive_type_t type;
    size_t offset;       /* into its owner's settings struct */
    const char *def;     /* embedded default, as text ("" = none) */
    const char *metavar; /* for --help */
    const char *help;
    long long min, max;     /* bounds for INT/SIZE/DURATION(ms); 0,0 = unbounded */
    unsigned scope;         /* HS_SCOPE_*: where it may be written (0 = HS_SCOPE_TOP) */
    hs_directive_set_t set; /* for HS_DT_LIST and special values; NULL = by type */
    /* filled when the tables are joined (hs_config_directives): */
    uint8_t owner; /* 0 = the engine, else the module's index */
};

/* Directive tables are written positionally; their trailing members (scope, set, owner) may be
 * left out, which -Wextra would otherwise report entry by entry. Put a table between these. */
#define HS_DIRECTIVES_BEGIN                                                                                            \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")
#define HS_DIRECTIVES_END _Pragma("GCC diagnostic pop")

/* Everything the configuration needs to know of a settings owner. Modules embed one. */
typedef struct hs_conf_schema_s {
    const char *name;
    const hs_directive_t *directives;
    size_t count;
    size_t size; /* of the settings struct its offsets point into */
    /* The directive whose value names this module a path's content handler (a non-empty string
     * or true): "root", "api", "codes" … NULL: never a content handler. */
    const char *handler;
    /* A second directive that names it a content handler the same way (the proxy's
     * proxy.forward beside proxy.upstreams); NULL: none. */
    const char *handler_alt;
    /* Check and prepare the settings of one path, once they are final (open a document root,
     * parse a list …). On error: HS_ERROR, *bad = the directive at fault (its FILE:LINE is
     * added), message in err. NULL = nothing to check. */
    int (*check)(hs_config_t *cfg, const hs_pathconf_t *path, void *conf, const char **bad, char *err, size_t errlen);
    /* Release what check made (descriptors). Called once per checked settings struct. */
    void (*release)(void *conf);
    /* Where this module serves without being named on a path: with flat true, in a
     * configuration without hosts (conf: the top settings); with flat false, on every host that
     * does not name that path itself (conf: the host's settings). NULL or a NULL result: nowhere.
     * A path prefix such as "/", "/codes", "/_api". */
    const char *(*mount)(hs_config_t *cfg, const void *conf, bool flat);
    /* With these (checked) settings, the phases in which the module's handlers have work: an
     * OR of HS_PHASE_BIT_*. Asked once per path when the configuration is built; on a path where
     * a phase is not named, the engine does not call the module's handler for it (a module
     * with nothing to do on a path costs nothing there). NULL: every phase, always. */
    unsigned (*phases)(const void *conf);
} hs_conf_schema_t;

enum { HS_PHASE_BIT_REWRITE = 1, HS_PHASE_BIT_ACCESS = 2, HS_PHASE_BIT_LOG = 4 };

/* The settings owners: index 0 is the engine (hs_config_engine_schema), then every module
 * (src/modules/modules.c, which also gives each module its index). */
size_t hs_config_schemas(const hs_conf_schema_t *const **out);
extern const hs_conf_schema_t hs_config_engine_schema;

/* The engine's settings. At the top of a configuration this is the configuration itself; every
 * path has its own copy (hs_pathconf_t.cfg) where the path-scoped ones may differ. */
struct hs_config_s {
    /* server */
    char *listen[HS_MAX_LISTEN];
    hs_listen_t *listen_items[HS_MAX_LISTEN]; /* the same, parsed */
    size_t num_listen;
    bool listen_is_default; /* still the embedded default: the first explicit value replaces it */
    int workers;            /* 0 = number of cores */
    bool io_uring;          /* batch each wake-up's reads and small writes (hs_loop_use_uring); at start only */
    int max_connections;    /* over this: 503 + Retry-After, then close */
    int retry_after;        /* seconds, for 503 on overload */
    char *server_name;      /* Server header value */
    char *access_log;       /* path, "-" or "off" (path) */
    char *log_format;       /* combined, json or a $template (path) */
    const struct hs_logfmt_s *log_fmt; /* log_format compiled (hs_config_validate) */
    int log_target;                    /* the access log file of these settings, -1 = off (bound by the server) */
    char *log_level;
    char *user;        /* when started as root: drop privileges to this user after binding */
    bool strict_hosts; /* a Host naming none of the hosts: 421 (else the first host serves it) */
    /* TLS (src/http/https.c): the certificate of tls:// listeners, and of a host (SNI) where it
     * is set on one; a listen item may override them for its listener */
    char *tls_cert, *tls_key, *tls_ocsp;
    char *tls_client_ca;        /* client certificates must chain to these (495/496) */
    char *tls_client_verify;    /* off, optional, required ("": required with a ca) */
    char *tls_plain_http;       /* plain HTTP on a TLS port: "497" or "redirect" (308) */
    bool tls_early_data;        /* TLS 1.3 0-RTT for safe methods (425 for the others) */
    bool tls_session_tickets;   /* session tickets under rotating keys */
    uint64_t tls_ticket_rotate; /* ms a ticket key encrypts before the next one */
    int https_port;             /* port in https:// redirects; 0: the first TLS listener's */
    /* limits */
    uint64_t max_uri;
    uint64_t max_field;
    uint64_t max_head;
    int max_headers;
    uint64_t max_body; /* path */
    uint64_t max_chunk_ext;
    uint64_t max_trailer;
    /* timeouts, milliseconds */
    uint64_t header_timeout;
    uint64_t body_timeout;
    uint64_t keepalive_timeout;
    uint64_t send_timeout;
    uint64_t drain_timeout;
    uint64_t drain_delay; /* SIGTERM: health paths answer 503 this long before the drain starts */
    uint64_t linger_timeout;
    uint64_t handshake_timeout;
    int max_keepalive_requests;
    /* behaviour (path) */
    char *length_required;         /* comma-separated methods that need a declared body length (411) */
    unsigned length_required_mask; /* the same as a bit per hs_method_t (made by hs_config_validate) */
    bool require_tls;              /* plain HTTP gets 426 (RFC 9110 §15.5.22) */
    bool redirect_to_https;        /* plain HTTP gets 308 to the https:// URL */
    uint16_t tls_rule;             /* 0, 426 or 308: the two above as one (made by hs_config_validate) */
    /* CONNECT (RFC 9110 §9.3.6): the path's content handler serves it (a forward proxy); set by
     * its module's check. At the top: some path does (else the engine answers 405 at once). */
    bool takes_connect;
    /* error pages (path): "CODE=FILE" values; the files are read by hs_config_validate */
    hs_error_page_t error_pages[HS_MAX_ERROR_PAGES];
    size_t num_error_pages;

    /* each module's settings here (mod[module index]); mod[0] is unused */
    void *mod[HS_MAX_MODULES];
    /* where the top's values came from, for messages */
    const char *config_file;
    /* the configuration as written and as built (shared by the copies) */
    hs_conf_state_t *state;
};

/* A path of a host, as built by hs_config_validate. */
struct hs_pathconf_s {
    const char *prefix; /* normal form, no trailing slash: "" for "/", "/api" … */
    size_t prefix_len;
    const hs_hostconf_t *host;
    int handler;       /* the content handler's module index; 0 = none (404) */
    const char *mount; /* the prefix of the path that named the handler (files map below it) */
    size_t mount_len;
    hs_config_t *cfg; /* the settings here: engine fields, and mod[] per module */
    bool implicit;    /* made for a configuration without hosts, or /codes */
    /* per phase (rewrite, access, log): bit i set when module index i has no work on this path
     * (its schema's phases); the engine skips its handler */
    uint32_t idle[3];
    const char *file; /* where it was written (NULL when implicit) */
    size_t line;
};

struct hs_hostconf_s {
    const char *name;      /* lowercase; "*.example.com" matches any name below; "*" matches any */
    hs_pathconf_t **paths; /* longest prefix first */
    size_t npaths;
    hs_config_t *cfg;     /* the settings of the host */
    uint8_t metrics_slot; /* its label in /metrics (given by the server: src/http/metrics.c) */
    const char *file;
    size_t line;
};

/* The built hosts (after hs_config_validate): the first is the default. */
const hs_hostconf_t *hs_config_hosts(const hs_config_t *cfg, size_t *n);
/* The path serving (host, path): `host` is the request's authority (port and a trailing dot are
 * ignored, case too), `path` the request path in normal form (hs_path_normalize). *known is set
 * false when no host has that name (the default host is used). NULL when no path of the host
 * matches (the engine answers 404). */
const hs_pathconf_t *hs_config_lookup(const hs_config_t *cfg, hs_iovec_t host, hs_iovec_t path, bool *known);
/* The same in two steps: the host serving `host` (the default when none has that name: *known
 * false), then its path for `path` (NULL: none). */
const hs_hostconf_t *hs_config_find_host(const hs_config_t *cfg, hs_iovec_t host, bool *known);
const hs_pathconf_t *hs_config_host_path(const hs_hostconf_t *h, hs_iovec_t path);
/* Which of n host names, written as hosts are (example.com, *.example.com, *), an authority names,
 * decided as hs_config_find_host decides: a name itself first, else the first wildcard; -1 none.
 * Reads only its arguments (any thread). */
int hs_config_match_host(const char *const *names, size_t n, hs_iovec_t authority);
/* Where the value of directive `name` in force on `host` (NULL: at the top) was given: "FILE:LINE"
 * (or "environment", "command line") into buf, "" when it is the embedded default. For a list
 * directive at the top, the value numbered `nth` (0 first). Returns buf. */
const char *hs_config_origin(const hs_config_t *cfg, const hs_hostconf_t *host, const char *name, size_t nth, char *buf,
                             size_t len);

/* ---- the directive tables ---- */
/* Every directive of the engine and the modules, joined (stable for the process). */
const hs_directive_t *hs_config_directives(size_t *count);
const hs_directive_t *hs_config_find(const char *name); /* accepts max_body, max-body, MAX_BODY */
/* The field a directive fills in the top settings (the engine's or its module's). */
void *hs_config_field(hs_config_t *cfg, const hs_directive_t *d);
/* Memory that lives as long as the configuration. */
void *hs_config_alloc(hs_config_t *cfg, size_t n);
char *hs_config_strdup(hs_config_t *cfg, const char *s);

/* Fill cfg with the embedded defaults (every module's too). */
void hs_config_defaults(hs_config_t *cfg);
void hs_config_free(hs_config_t *cfg);

/* Set one directive at the top from text. On error returns HS_ERROR and writes a message
 * (without location) into err. */
int hs_config_set(hs_config_t *cfg, const hs_directive_t *d, const char *value, char *err, size_t errlen);
/* Was the directive given (file, environment or flag) rather than left at its default? */
bool hs_config_given(const hs_config_t *cfg, const hs_directive_t *d);

/* Load a YAML file. On error returns HS_ERROR with "FILE:LINE: message" in err. */
int hs_config_load_file(hs_config_t *cfg, const char *path, char *err, size_t errlen);
/* Parse YAML from memory (for tests and fuzzing); `name` is used in messages. */
int hs_config_load_yaml(hs_config_t *cfg, const char *name, const char *text, size_t len, char *err, size_t errlen);

/* Apply STATUSD_* variables from environ. */
int hs_config_load_env(hs_config_t *cfg, char *err, size_t errlen);

/* Check everything once it is loaded and build the hosts and paths: cross-directive checks, the
 * error_page files (each a regular file of at most HS_ERROR_PAGE_MAX_SIZE bytes), and each
 * module's check of each path (document roots opened …). Messages carry FILE:LINE of the value
 * at fault where it came from a file. Idempotent. */
int hs_config_validate(hs_config_t *cfg, char *err, size_t errlen);

/* Print the directive reference (used by --help), with each directive's scope. */
void hs_config_print_help(FILE *out);

#endif
