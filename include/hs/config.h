/* statusd — configuration: one table of directives serving the YAML file, command-line flags
 * and STATUSD_* environment variables (nginx ngx_command_t, redis standardConfig).
 *
 * Precedence: embedded defaults < --config FILE < STATUSD_* environment < command-line flags.
 * A directive `max_body` is `max_body:` in YAML, `--max-body` on the command line and
 * `STATUSD_MAX_BODY` in the environment. */
#ifndef HS_CONFIG_H
#define HS_CONFIG_H

#include "hs/core.h"
#include <stdio.h>

#define HS_MAX_LISTEN 16
#define HS_MAX_ERROR_PAGES 64
#define HS_ERROR_PAGE_MAX_SIZE (64 * 1024)

/* One operator-supplied error page (the error_page directive): the body statusd sends instead
 * of the page it would build from the registry, for one 4xx/5xx status. */
typedef struct hs_error_page_s {
    int status;
    char *path;               /* as configured */
    const char *content_type; /* from the file name's extension (static string) */
    char *body;               /* the file's bytes, read by hs_config_validate; NULL before */
    size_t len;
} hs_error_page_t;

typedef struct hs_config_s {
    /* server */
    char *listen[HS_MAX_LISTEN];
    size_t num_listen;
    bool listen_is_default; /* still the embedded default: the first explicit value replaces it */
    int workers;            /* 0 = number of cores */
    int max_connections;    /* over this: 503 + Retry-After, then close */
    int retry_after;        /* seconds, for 503 on overload */
    char *root;             /* static document root, NULL = none */
    char *server_name;      /* Server header value */
    char *access_log;       /* path, "-" or "off" */
    char *log_level;
    /* limits */
    uint64_t max_uri;
    uint64_t max_field;
    uint64_t max_head;
    int max_headers;
    uint64_t max_body;
    uint64_t max_chunk_ext;
    uint64_t max_trailer;
    /* timeouts, milliseconds */
    uint64_t header_timeout;
    uint64_t body_timeout;
    uint64_t keepalive_timeout;
    uint64_t send_timeout;
    uint64_t drain_timeout;
    uint64_t linger_timeout;
    int max_keepalive_requests;
    /* behaviour */
    char *length_required; /* comma-separated methods that need a declared body length (411) */
    bool api;              /* the client-testing API */
    char *api_prefix;      /* where the API is mounted when a root is served */
    /* client-testing API caps (src/modules/testapi): over a cap the API answers 400 naming it */
    uint64_t api_max_duration; /* ms: longest delay/drip/sse/hang/job a request may ask for */
    uint64_t api_max_bytes;    /* largest generated body (/bytes, /stream-bytes, /range, /drip …) */
    char *allow_redirect_host; /* comma-separated extra hosts /redirect-to may point at, NULL = none */
    /* static origin (src/modules/static) */
    bool autoindex;        /* HTML listing for directories without an index file (else 403) */
    bool follow_symlinks;  /* allow symbolic links that lead outside the root */
    bool file_watch;       /* open-file cache kept fresh by inotify (else a stat per wake-up) */
    char *index;           /* comma-separated index file names for directories */
    char *cache_control;   /* Cache-Control value on static responses, NULL = none */
    bool compress;         /* on-the-fly gzip/br/zstd for compressible types */
    uint64_t compress_max; /* largest file compressed on the fly */
    char *user;            /* when started as root: drop privileges to this user after binding */
    /* error pages: "CODE=FILE" values; the files are read once, at startup (hs_config_validate) */
    hs_error_page_t error_pages[HS_MAX_ERROR_PAGES];
    size_t num_error_pages;
    /* where a directive value came from, for error messages */
    const char *config_file;
} hs_config_t;

typedef enum {
    HS_DT_STRING,
    HS_DT_INT,
    HS_DT_SIZE,
    HS_DT_DURATION,
    HS_DT_BOOL,
    HS_DT_LIST,
} hs_directive_type_t;

typedef struct hs_directive_s {
    const char *name; /* YAML key, e.g. "max_body" */
    hs_directive_type_t type;
    size_t offset;       /* into hs_config_t */
    const char *def;     /* embedded default, as text ("" = none) */
    const char *metavar; /* for --help */
    const char *help;
    long long min, max; /* bounds for INT/SIZE/DURATION(ms); 0,0 = unbounded */
} hs_directive_t;

const hs_directive_t *hs_config_directives(size_t *count);
const hs_directive_t *hs_config_find(const char *name); /* accepts max_body, max-body */

/* Fill cfg with the embedded defaults. */
void hs_config_defaults(hs_config_t *cfg);
void hs_config_free(hs_config_t *cfg);

/* Set one directive from text. On error returns HS_ERROR and writes a message (without
 * location) into err. */
int hs_config_set(hs_config_t *cfg, const hs_directive_t *d, const char *value, char *err, size_t errlen);

/* Load a YAML file. On error returns HS_ERROR with "FILE:LINE: message" in err. */
int hs_config_load_file(hs_config_t *cfg, const char *path, char *err, size_t errlen);
/* Parse YAML from memory (for tests and fuzzing); `name` is used in messages. */
int hs_config_load_yaml(hs_config_t *cfg, const char *name, const char *text, size_t len, char *err, size_t errlen);

/* Apply STATUSD_* variables from environ. */
int hs_config_load_env(hs_config_t *cfg, char *err, size_t errlen);

/* Cross-directive checks after everything is loaded (e.g. max_field <= max_head); also reads
 * the error_page files (each a regular file of at most HS_ERROR_PAGE_MAX_SIZE bytes). */
int hs_config_validate(hs_config_t *cfg, char *err, size_t errlen);

/* Print the directive reference (used by --help). */
void hs_config_print_help(FILE *out);

#endif
