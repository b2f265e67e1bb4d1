/* statusd — command line: serve (default), -t, explain, list. Thin: everything is in the library. */
#define _GNU_SOURCE
#include "hs/cli.h"
#include "hs/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HS_VERSION
#define HS_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "statusd %s — an HTTP/1.1 server that answers with the right status code\n"
            "\n"
            "Usage:\n"
            "  statusd [serve] [--config FILE] [OPTIONS]   run the server\n"
            "  statusd -t [--config FILE] [OPTIONS]        check the configuration and exit\n"
            "  statusd explain CODE|CLASS... [--json]      what a status code means (e.g. 418, 4xx)\n"
            "  statusd list [--class 5xx] [--unofficial] [--json]\n"
            "  statusd --help | --version\n"
            "\n"
            "Without --root, the client-testing API is served at / (try /status/418, /anything, /codes).\n"
            "Configuration comes from embedded defaults, then --config FILE (YAML), then STATUSD_*\n"
            "environment variables, then options. Every directive:\n\n",
            HS_VERSION);
    hs_config_print_help(out);
    fprintf(out, "\nExamples:\n"
                 "  statusd --listen 127.0.0.1:0 --access-log -\n"
                 "  statusd --root ./public --workers 2\n"
                 "  statusd explain 451\n");
}

/* Apply command-line options to cfg. `only_config` pass picks up --config only. */
static int apply_args(hs_config_t *cfg, int argc, char **argv, bool *test_only, const char **config_path,
                      bool only_config)
{
    char err[512];
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (i == 1 && strcmp(a, "serve") == 0)
            continue;
        if (strcmp(a, "-t") == 0 || strcmp(a, "--test") == 0) {
            *test_only = true;
            continue;
        }
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "statusd: %s needs a file name\n", a);
                return 2;
            }
            *config_path = argv[++i];
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0) {
            *config_path = a + 9;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "statusd: unexpected argument '%s' (see 'statusd --help')\n", a);
            return 2;
        }
        char name[64];
        const char *value = NULL;
        const char *eq = strchr(a + 2, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (nlen >= sizeof(name)) {
            fprintf(stderr, "statusd: unknown option '%s' (see 'statusd --help')\n", a);
            return 2;
        }
        memcpy(name, a + 2, nlen);
        name[nlen] = '\0';
        if (eq)
            value = eq + 1;
        const hs_directive_t *d = hs_config_find(name);
        if (!d && strncmp(name, "no-", 3) == 0 && !eq) {
            d = hs_config_find(name + 3);
            if (d && d->type == HS_DT_BOOL)
                value = "false";
            else
                d = NULL;
        }
        if (!d) {
            fprintf(stderr, "statusd: unknown option '%s' (see 'statusd --help')\n", a);
            return 2;
        }
        if (!value) {
            if (d->type == HS_DT_BOOL) {
                value = "true";
            } else {
                if (i + 1 >= argc) {
                    fprintf(stderr, "statusd: --%s needs a value (%s)\n", name, d->metavar);
                    return 2;
                }
                value = argv[++i];
            }
        }
        if (only_config)
            continue;
        if (hs_config_set(cfg, d, value, err, sizeof(err)) != HS_OK) {
            fprintf(stderr, "statusd: --%s: %s\n", name, err);
            return 2;
        }
    }
    return 0;
}

/* What a reload reads again (SIGHUP): the same file, the environment, the same flags. */
typedef struct {
    int argc;
    char **argv;
    const char *config_path;
} sources_t;

static void apply_log_level(const hs_config_t *cfg)
{
    if (!strcmp(cfg->log_level, "error"))
        hs_log_level = HS_LOG_ERROR;
    else if (!strcmp(cfg->log_level, "warn"))
        hs_log_level = HS_LOG_WARN;
    else if (!strcmp(cfg->log_level, "debug"))
        hs_log_level = HS_LOG_DEBUG;
    else
        hs_log_level = HS_LOG_INFO;
}

static int reload(hs_config_t *cfg, void *arg, char *err, size_t errlen)
{
    const sources_t *src = arg;
    bool test_only = false;
    const char *path = src->config_path;
    hs_config_defaults(cfg);
    if (path && hs_config_load_file(cfg, path, err, errlen) != HS_OK)
        return HS_ERROR;
    if (hs_config_load_env(cfg, err, errlen) != HS_OK)
        return HS_ERROR;
    if (apply_args(cfg, src->argc, src->argv, &test_only, &path, false) != 0) {
        snprintf(err, errlen, "the command line (see above)");
        return HS_ERROR;
    }
    if (hs_config_validate(cfg, err, errlen) != HS_OK)
        return HS_ERROR;
    apply_log_level(cfg);
    return HS_OK;
}

int main(int argc, char **argv)
{
    if (argc >= 2) {
        if (strcmp(argv[1], "explain") == 0)
            return hs_cli_explain(argc - 1, argv + 1);
        if (strcmp(argv[1], "list") == 0)
            return hs_cli_list(argc - 1, argv + 1);
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
            printf("statusd %s\n", HS_VERSION);
            return 0;
        }
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }

    hs_config_t cfg;
    hs_server_t srv;
    memset(&srv, 0, sizeof(srv));
    hs_config_defaults(&cfg);
    bool test_only = false;
    const char *config_path = getenv("STATUSD_CONFIG");
    char err[1024];
    int rc = apply_args(&cfg, argc, argv, &test_only, &config_path, true);
    if (rc)
        goto Exit;
    rc = 1;
    if (config_path && hs_config_load_file(&cfg, config_path, err, sizeof(err)) != HS_OK) {
        fprintf(stderr, "statusd: %s\n", err);
        goto Exit;
    }
    if (hs_config_load_env(&cfg, err, sizeof(err)) != HS_OK) {
        fprintf(stderr, "statusd: %s\n", err);
        goto Exit;
    }
    if ((rc = apply_args(&cfg, argc, argv, &test_only, &config_path, false)) != 0)
        goto Exit;
    rc = 1;
    if (hs_config_validate(&cfg, err, sizeof(err)) != HS_OK) {
        /* a check that found its directive already says FILE:LINE: the file once */
        bool located = config_path && !strncmp(err, config_path, strlen(config_path));
        fprintf(stderr, "statusd: %s%s%s\n", config_path && !located ? config_path : "",
                config_path && !located ? ": " : "", err);
        goto Exit;
    }
    apply_log_level(&cfg);
    /* -t runs the same initialisation as serving (listen addresses, log file, document root,
     * module settings) short of binding, so what it accepts will start. */
    if (hs_server_init(&srv, &cfg) != HS_OK)
        goto Exit;
    if (test_only) {
        printf("statusd: configuration %s%sis valid\n", config_path ? config_path : "", config_path ? " " : "");
        rc = 0;
        goto Exit;
    }
    sources_t src = {.argc = argc, .argv = argv, .config_path = config_path};
    srv.load = reload;
    srv.load_arg = &src;
    rc = hs_server_run(&srv);
Exit:
    hs_server_fini(&srv);
    hs_config_free(&cfg);
    return rc;
}
