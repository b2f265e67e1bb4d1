/* Unit tests for the directive table (src/config/config.c): defaults, hs_config_set for every
 * type, YAML loading with line numbers in errors, the environment, and cross checks. */
#define _GNU_SOURCE
#include "hs/config.h"
#include "tap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static char err[512];

static const hs_directive_t *D(const char *name)
{
    const hs_directive_t *d = hs_config_find(name);
    if (!d) {
        printf("# no directive %s\n", name);
        exit(2);
    }
    return d;
}

/* Module settings at the top: a field found through its directive. */
#define FIELD(c, name, type) (*(type *)hs_config_field(&(c), D(name)))
#define ROOT(c) FIELD(c, "root", char *)
#define API(c) FIELD(c, "api", bool)
#define API_PREFIX(c) FIELD(c, "api_prefix", char *)

static int set(hs_config_t *c, const char *name, const char *value)
{
    err[0] = 0;
    return hs_config_set(c, D(name), value, err, sizeof(err));
}

/* hs_config_set must refuse `value` with a message that names the directive. */
static void set_bad(hs_config_t *c, const char *name, const char *value, const char *must_contain)
{
    int r = set(c, name, value);
    if (!ok(r == HS_ERROR && strstr(err, name) && (!must_contain || strstr(err, must_contain)),
            "%s = '%s' refused with a message", name, value))
        printf("#   r=%d err='%s'\n", r, err);
}

static int yaml(hs_config_t *c, const char *text)
{
    err[0] = 0;
    return hs_config_load_yaml(c, "test.yaml", text, strlen(text), err, sizeof(err));
}

/* Loading must fail with "test.yaml:LINE:" in the message (and `also` if given). */
static void yaml_bad(const char *text, int line, const char *also, const char *name)
{
    hs_config_t c;
    hs_config_defaults(&c);
    char want[64];
    snprintf(want, sizeof(want), "test.yaml:%d:", line);
    int r = yaml(&c, text);
    if (!ok(r == HS_ERROR && strncmp(err, want, strlen(want)) == 0 && (!also || strstr(err, also)), "YAML %s -> %s",
            name, want))
        printf("#   r=%d err='%s'\n", r, err);
    hs_config_free(&c);
}

static void test_defaults(void)
{
    hs_config_t c;
    hs_config_defaults(&c);
    ok(c.num_listen == 1 && c.listen[0] && strcmp(c.listen[0], "127.0.0.1:8080") == 0, "default listen");
    ok(c.listen_is_default, "listen_is_default after defaults");
    is_int(c.workers, 0, "default workers");
    is_int(c.max_connections, 10000, "default max_connections");
    is_int(c.retry_after, 5, "default retry_after");
    ok(ROOT(c) == NULL, "default root: none");
    ok(c.server_name && strcmp(c.server_name, "statusd") == 0, "default server_name");
    ok(c.access_log && strcmp(c.access_log, "off") == 0, "default access_log");
    ok(c.log_level && strcmp(c.log_level, "info") == 0, "default log_level");
    is_int(c.max_uri, 8192, "default max_uri 8k");
    is_int(c.max_field, 8192, "default max_field 8k");
    is_int(c.max_head, 32768, "default max_head 32k");
    is_int(c.max_headers, 100, "default max_headers");
    is_int(c.max_body, 10 * 1024 * 1024, "default max_body 10m");
    is_int(c.max_chunk_ext, 1024, "default max_chunk_ext");
    is_int(c.max_trailer, 8192, "default max_trailer");
    is_int(c.header_timeout, 10000, "default header_timeout 10s");
    is_int(c.body_timeout, 10000, "default body_timeout");
    is_int(c.keepalive_timeout, 30000, "default keepalive_timeout 30s");
    is_int(c.send_timeout, 30000, "default send_timeout");
    is_int(c.drain_timeout, 10000, "default drain_timeout");
    is_int(c.linger_timeout, 2000, "default linger_timeout 2s");
    is_int(c.max_keepalive_requests, 10000, "default max_keepalive_requests");
    ok(c.length_required && strcmp(c.length_required, "PUT") == 0, "default length_required");
    ok(API(c), "default api on");
    ok(API_PREFIX(c) && strcmp(API_PREFIX(c), "/_api") == 0, "default api_prefix");
    ok(c.config_file == NULL, "no config file by default");
    is_int(hs_config_validate(&c, err, sizeof(err)), HS_OK, "defaults validate");

    /* every directive: its default parses, and it can be found by both spellings */
    size_t n = 0;
    const hs_directive_t *all = hs_config_directives(&n);
    ok(n >= 20, "directive table has %zu entries", n);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char dash[64];
        snprintf(dash, sizeof(dash), "%s", all[i].name);
        for (char *p = dash; *p; p++)
            if (*p == '_')
                *p = '-';
        if (hs_config_find(all[i].name) != &all[i] || hs_config_find(dash) != &all[i] || !all[i].help || !all[i].def)
            bad++;
    }
    ok(bad == 0, "every directive found by name_with_underscores and name-with-dashes");
    hs_config_free(&c);
    ok(c.server_name == NULL && c.num_listen == 0, "hs_config_free clears strings and the list");
}

static void test_find(void)
{
    const hs_directive_t *a = hs_config_find("max_body"), *b = hs_config_find("max-body");
    ok(a && a == b && strcmp(a->name, "max_body") == 0, "max_body and max-body find the same directive");
    ok(hs_config_find("MAX_BODY") == a, "MAX_BODY (environment spelling) finds it too");
    ok(hs_config_find("nonexistent") == NULL, "unknown name -> NULL");
    ok(hs_config_find("") == NULL, "empty name -> NULL");
    ok(hs_config_find("max_bod") == NULL && hs_config_find("max_body_") == NULL, "no prefix/suffix matches");
    char longname[200];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    ok(hs_config_find(longname) == NULL, "very long name -> NULL (no overflow)");
}

static void test_set(void)
{
    hs_config_t c;
    hs_config_defaults(&c);

    /* sizes (KiB units) */
    ok(set(&c, "max_body", "8k") == HS_OK && c.max_body == 8192, "max_body 8k = 8192");
    ok(set(&c, "max_body", "10m") == HS_OK && c.max_body == 10485760, "max_body 10m");
    ok(set(&c, "max_body", "1g") == HS_OK && c.max_body == 1073741824, "max_body 1g");
    ok(set(&c, "max_body", "512") == HS_OK && c.max_body == 512, "max_body 512");
    ok(set(&c, "max_body", "0") == HS_OK && c.max_body == 0, "max_body 0 (bounds 0..1T)");
    ok(set(&c, "max_body", "8K") == HS_OK && c.max_body == 8192, "8K");
    ok(set(&c, "max_body", "8kb") == HS_OK && c.max_body == 8192, "8kb");
    ok(set(&c, "max_body", "8KiB") == HS_OK && c.max_body == 8192, "8KiB");
    ok(set(&c, "max-body", "2k") == HS_OK && c.max_body == 2048, "set through the dashed name");
    set_bad(&c, "max_body", "lots", "size");
    set_bad(&c, "max_body", "", NULL);
    set_bad(&c, "max_body", "-1", NULL);
    set_bad(&c, "max_body", "8x", NULL);
    set_bad(&c, "max_body", "8 k", NULL);
    set_bad(&c, "max_body", "k", NULL);
    set_bad(&c, "max_body", "1t", NULL);
    set_bad(&c, "max_body", "2048g", "between"); /* over the 1 TiB bound */
    is_int(c.max_body, 2048, "refused values leave the old value");
    set_bad(&c, "max_uri", "8", "between");  /* min 16 */
    set_bad(&c, "max_uri", "2m", "between"); /* max 1 MiB */
    ok(set(&c, "max_uri", "16") == HS_OK && c.max_uri == 16, "max_uri at its lower bound");
    ok(set(&c, "max_uri", "1m") == HS_OK && c.max_uri == 1048576, "max_uri at its upper bound");

    /* durations */
    ok(set(&c, "header_timeout", "500ms") == HS_OK && c.header_timeout == 500, "500ms");
    ok(set(&c, "header_timeout", "10s") == HS_OK && c.header_timeout == 10000, "10s");
    ok(set(&c, "header_timeout", "2m") == HS_OK && c.header_timeout == 120000, "2m");
    ok(set(&c, "header_timeout", "1h") == HS_OK && c.header_timeout == 3600000, "1h");
    ok(set(&c, "header_timeout", "7") == HS_OK && c.header_timeout == 7000, "plain number = seconds");
    ok(set(&c, "header_timeout", "1.5s") == HS_OK && c.header_timeout == 1500, "1.5s");
    set_bad(&c, "header_timeout", "soon", "duration");
    set_bad(&c, "header_timeout", "", NULL);
    set_bad(&c, "header_timeout", "10x", NULL);
    set_bad(&c, "header_timeout", "-5s", NULL);
    set_bad(&c, "header_timeout", "ms", NULL);
    set_bad(&c, "header_timeout", "0", "between"); /* min 1 ms */
    set_bad(&c, "header_timeout", "25h", "between");
    ok(set(&c, "drain_timeout", "0") == HS_OK && c.drain_timeout == 0, "drain_timeout may be 0");
    set_bad(&c, "linger_timeout", "2m", "between"); /* max 60 s */
    ok(set(&c, "linger_timeout", "60s") == HS_OK && c.linger_timeout == 60000, "linger_timeout at its bound");

    /* bools */
    static const char *const yes[] = {"true", "TRUE", "yes", "on", "1", "True"};
    static const char *const no[] = {"false", "FALSE", "no", "off", "0", "Off"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(yes); i++) {
        API(c) = false;
        ok(set(&c, "api", yes[i]) == HS_OK && API(c), "api '%s' -> true", yes[i]);
        ok(set(&c, "api", no[i]) == HS_OK && !API(c), "api '%s' -> false", no[i]);
    }
    set_bad(&c, "api", "maybe", "true or false");
    set_bad(&c, "api", "", NULL);
    set_bad(&c, "api", "2", NULL);

    /* ints with bounds */
    ok(set(&c, "workers", "4") == HS_OK && c.workers == 4, "workers 4");
    ok(set(&c, "workers", "0") == HS_OK && c.workers == 0, "workers 0");
    ok(set(&c, "workers", "1024") == HS_OK && c.workers == 1024, "workers at upper bound");
    set_bad(&c, "workers", "1025", "between");
    set_bad(&c, "workers", "-1", "between");
    set_bad(&c, "workers", "abc", "integer");
    set_bad(&c, "workers", "4x", "integer");
    set_bad(&c, "workers", "", "integer");
    set_bad(&c, "workers", "4.5", "integer");
    set_bad(&c, "workers", "99999999999999999999999", NULL);
    is_int(c.workers, 1024, "refused ints leave the old value");
    set_bad(&c, "max_headers", "0", "between");
    ok(set(&c, "max_headers", "10000") == HS_OK && c.max_headers == 10000, "max_headers at upper bound");
    set_bad(&c, "max_connections", "0", "between");
    set_bad(&c, "retry_after", "86401", "between");

    /* strings */
    ok(set(&c, "root", "/srv/www") == HS_OK && ROOT(c) && strcmp(ROOT(c), "/srv/www") == 0, "root set");
    ok(set(&c, "root", "") == HS_OK && ROOT(c) == NULL, "empty string -> none");
    ok(set(&c, "server_name", "x y") == HS_OK && strcmp(c.server_name, "x y") == 0, "server_name with space");

    /* lists: the first explicit value replaces the default, later ones append */
    ok(set(&c, "listen", "0.0.0.0:80") == HS_OK && c.num_listen == 1 && strcmp(c.listen[0], "0.0.0.0:80") == 0,
       "first listen replaces the default");
    ok(!c.listen_is_default, "listen no longer default");
    ok(set(&c, "listen", "[::]:80") == HS_OK && c.num_listen == 2 && strcmp(c.listen[1], "[::]:80") == 0 &&
           strcmp(c.listen[0], "0.0.0.0:80") == 0,
       "second listen appends");
    set_bad(&c, "listen", "", "needs a value");
    for (int i = (int)c.num_listen; i < HS_MAX_LISTEN; i++)
        set(&c, "listen", "127.0.0.1:1");
    is_int(c.num_listen, HS_MAX_LISTEN, "listen filled to HS_MAX_LISTEN");
    set_bad(&c, "listen", "127.0.0.1:2", "at most");
    is_int(c.num_listen, HS_MAX_LISTEN, "no overflow past HS_MAX_LISTEN");
    hs_config_free(&c);
}

static void test_yaml(void)
{
    hs_config_t c;
    hs_config_defaults(&c);
    const char *good = "# statusd test\n"
                       "listen: 127.0.0.1:0\n"
                       "workers: 2\n"
                       "max_body: 1m\n"
                       "header_timeout: 500ms\n"
                       "keepalive_timeout: 2m\n"
                       "api: false\n"
                       "root: /tmp\n"
                       "server-name: \"My Server\"\n"
                       "length_required: PUT,POST\n";
    int r = yaml(&c, good);
    if (!ok(r == HS_OK, "valid YAML loads"))
        printf("#   err='%s'\n", err);
    ok(c.num_listen == 1 && strcmp(c.listen[0], "127.0.0.1:0") == 0, "YAML listen replaces the default");
    is_int(c.workers, 2, "YAML workers");
    is_int(c.max_body, 1048576, "YAML max_body 1m");
    is_int(c.header_timeout, 500, "YAML header_timeout 500ms");
    is_int(c.keepalive_timeout, 120000, "YAML keepalive_timeout 2m");
    ok(!API(c), "YAML api false");
    ok(ROOT(c) && strcmp(ROOT(c), "/tmp") == 0, "YAML root");
    ok(c.server_name && strcmp(c.server_name, "My Server") == 0, "YAML quoted string, dashed key");
    ok(c.length_required && strcmp(c.length_required, "PUT,POST") == 0, "YAML length_required");
    is_int(c.max_uri, 8192, "untouched directives keep their defaults");
    hs_config_free(&c);

    /* list for listen */
    hs_config_defaults(&c);
    r = yaml(&c, "listen:\n  - 127.0.0.1:1\n  - 127.0.0.1:2\n  - \"[::1]:3\"\n");
    ok(r == HS_OK && c.num_listen == 3 && strcmp(c.listen[0], "127.0.0.1:1") == 0 &&
           strcmp(c.listen[2], "[::1]:3") == 0,
       "listen as a YAML list: default replaced, items appended");
    hs_config_free(&c);
    hs_config_defaults(&c);
    r = yaml(&c, "listen: [127.0.0.1:1, 127.0.0.1:2]\n");
    ok(r == HS_OK && c.num_listen == 2, "listen as a flow list");
    hs_config_free(&c);

    /* empty input: no directives, defaults stay */
    hs_config_defaults(&c);
    ok(yaml(&c, "") == HS_OK && c.workers == 0, "empty YAML is fine");
    ok(yaml(&c, "# only a comment\n") == HS_OK, "comment-only YAML is fine");
    hs_config_free(&c);

    /* errors carry FILE:LINE: */
    yaml_bad("workers: 2\n\nfoo: 1\n", 3, "foo", "unknown directive on line 3");
    yaml_bad("bogus: 1\n", 1, "bogus", "unknown directive on line 1");
    yaml_bad("workers: 2\nmax_body: lots\n", 2, "max_body", "bad size on line 2");
    yaml_bad("# c\n# c\n\n\nworkers: many\n", 5, "workers", "bad int on line 5");
    yaml_bad("api: true\nheader_timeout: 5 parsecs\n", 2, "header_timeout", "bad duration on line 2");
    yaml_bad("workers: 1\nmax_headers: 0\n", 2, "between", "out-of-bounds value on line 2");
    yaml_bad("listen:\n  - 127.0.0.1:1\n  - \"\"\n", 3, "listen", "bad list item on line 3");
    yaml_bad("listen:\n  - a:1\n  - 127.0.0.1:1\n", 2, "not an IP address", "a listen address is checked where it is given");
    yaml_bad("listen:\n  - 127.0.0.1:1\n  - {x: 1}\n", 3, "unknown option 'x'", "a mapping list item with an unknown key");
    yaml_bad("listen:\n  - 127.0.0.1:1\n  - {address: 127.0.0.1:2, tls: {cert: [a]}}\n", 3, "single value",
             "a mapping list item with a list inside");
    yaml_bad("workers: [1, 2]\n", 1, "single value", "list for a scalar directive");
    yaml_bad("workers: 2\nmax_body: 1k\n- item\nroot: /x\n", 3, "YAML", "syntax error on line 3");
    yaml_bad("workers: 2\n\tmax_body: 1\n", 2, "YAML", "tab indentation on line 2");
    yaml_bad("workers: 2\n\nroot: \"a\\qb\"\n", 3, "YAML", "bad escape on line 3");
    yaml_bad("max:\n  body: 1k\n", 2, "max.body", "nested mapping is not a directive");
    /* documents that are not a mapping */
    yaml_bad("- a\n- b\n", 1, "mapping", "sequence document");
    yaml_bad("hello\n", 1, "mapping", "scalar document");
    yaml_bad("\n\n42\n", 3, "mapping", "scalar document on line 3");
    yaml_bad("workers: 1\n---\nworkers: 2\n", 3, "mapping", "second document");

    /* hs_config_load_file: the path is the name in messages */
    char path[] = "/tmp/statusd-config-test-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "workers: 3\nnope: 1\n";
    ok(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "(temp file written)");
    close(fd);
    hs_config_defaults(&c);
    err[0] = 0;
    r = hs_config_load_file(&c, path, err, sizeof(err));
    char want[128];
    snprintf(want, sizeof(want), "%s:2:", path);
    ok(r == HS_ERROR && strncmp(err, want, strlen(want)) == 0, "load_file error names PATH:2:");
    hs_config_free(&c);
    fd = open(path, O_WRONLY | O_TRUNC);
    text = "workers: 3\n";
    ok(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), "(temp file rewritten)");
    close(fd);
    hs_config_defaults(&c);
    r = hs_config_load_file(&c, path, err, sizeof(err));
    ok(r == HS_OK && c.workers == 3 && c.config_file == path, "load_file loads and records the file");
    hs_config_free(&c);
    unlink(path);
    hs_config_defaults(&c);
    r = hs_config_load_file(&c, path, err, sizeof(err));
    ok(r == HS_ERROR && strstr(err, path), "missing file -> error naming it");
    hs_config_free(&c);
}

static void test_env(void)
{
    /* start from an environment without STATUSD_* directives */
    extern char **environ;
    for (;;) {
        char **e = environ;
        while (*e && strncmp(*e, "STATUSD_", 8) != 0)
            e++;
        if (!*e)
            break;
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(strchr(*e, '=') - *e), *e);
        unsetenv(name);
    }
    hs_config_t c;
    hs_config_defaults(&c);
    setenv("STATUSD_MAX_BODY", "1k", 1);
    setenv("STATUSD_WORKERS", "3", 1);
    setenv("STATUSD_BIN", "/ignored", 1);
    int r = hs_config_load_env(&c, err, sizeof(err));
    ok(r == HS_OK && c.max_body == 1024 && c.workers == 3, "STATUSD_MAX_BODY / STATUSD_WORKERS applied");
    setenv("STATUSD_WORKERS", "lots", 1);
    r = hs_config_load_env(&c, err, sizeof(err));
    ok(r == HS_ERROR && strstr(err, "STATUSD_WORKERS"), "bad environment value names the variable");
    unsetenv("STATUSD_WORKERS");
    setenv("STATUSD_NO_SUCH_THING", "1", 1);
    r = hs_config_load_env(&c, err, sizeof(err));
    ok(r == HS_ERROR && strstr(err, "NO_SUCH_THING"), "unknown STATUSD_ variable is an error");
    unsetenv("STATUSD_NO_SUCH_THING");
    unsetenv("STATUSD_MAX_BODY");
    unsetenv("STATUSD_BIN");
    hs_config_free(&c);
}

static void test_validate(void)
{
    hs_config_t c;
    hs_config_defaults(&c);
    set(&c, "api_prefix", "api");
    ok(hs_config_validate(&c, err, sizeof(err)) == HS_ERROR && strstr(err, "api_prefix"), "api_prefix without /");
    set(&c, "api_prefix", "/");
    ok(hs_config_validate(&c, err, sizeof(err)) == HS_ERROR, "api_prefix of just /");
    set(&c, "api_prefix", "/x");
    ok(hs_config_validate(&c, err, sizeof(err)) == HS_OK, "api_prefix /x fine");
    set(&c, "log_level", "verbose");
    ok(hs_config_validate(&c, err, sizeof(err)) == HS_ERROR && strstr(err, "log_level"), "unknown log_level");
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < 4; i++) {
        set(&c, "log_level", levels[i]);
        ok(hs_config_validate(&c, err, sizeof(err)) == HS_OK, "log_level %s fine", levels[i]);
    }
    /* an empty value ("log_level:" in YAML) leaves the string unset: refused, not a crash */
    ok(yaml(&c, "log_level:\n") == HS_OK, "(empty log_level loads)");
    ok(hs_config_validate(&c, err, sizeof(err)) == HS_ERROR && strstr(err, "log_level"), "empty log_level refused");
    set(&c, "log_level", "info");
    /* max_uri/max_field over max_head are allowed (the head limit applies first) */
    set(&c, "max_head", "256");
    set(&c, "max_field", "1m");
    ok(hs_config_validate(&c, err, sizeof(err)) == HS_OK, "max_field > max_head allowed");
    hs_config_free(&c);
}

int main(void)
{
    test_defaults();
    test_find();
    test_set();
    test_yaml();
    test_env();
    test_validate();
    return tap_done();
}
