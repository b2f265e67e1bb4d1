/* statusd fuzz target: configuration — YAML through hs_config_load_yaml (libyaml events into the
 * directive table), then hs_config_validate, then hs_config_free; and single values through
 * hs_config_set for every directive.
 *
 * Checks: no crash or leak on any input (a failed load must free what it allocated); on error a
 * "NAME:LINE: message" text is produced; on success every bounded directive is within its bounds.
 */
#include "hs/config.h"
#include "fuzz_util.h"

static void check_bounds(hs_config_t *cfg)
{
    size_t n;
    const hs_directive_t *d = hs_config_directives(&n);
    for (size_t i = 0; i < n; i++) {
        const void *f = hs_config_field(cfg, &d[i]);
        if (!(d[i].min || d[i].max))
            continue;
        if (d[i].type == HS_DT_INT) {
            int v = *(const int *)f;
            FUZZ_CHECK(v >= d[i].min && v <= d[i].max, "%s = %d out of bounds", d[i].name, v);
        } else if (d[i].type == HS_DT_SIZE || d[i].type == HS_DT_DURATION) {
            uint64_t v = *(const uint64_t *)f;
            FUZZ_CHECK(v >= (uint64_t)d[i].min && v <= (uint64_t)d[i].max, "%s = %llu out of bounds", d[i].name,
                       (unsigned long long)v);
        }
    }
    FUZZ_CHECK(cfg->num_listen >= 1 && cfg->num_listen <= HS_MAX_LISTEN, "%zu listen values", cfg->num_listen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    hs_config_t cfg;

    /* the whole input as a YAML file */
    char *text = fuzz_dup(data, size);
    hs_config_defaults(&cfg);
    err[0] = '\0';
    int r = hs_config_load_yaml(&cfg, "fuzz.yaml", text, size, err, sizeof(err));
    if (r == HS_OK) {
        check_bounds(&cfg);
        if (hs_config_validate(&cfg, err, sizeof(err)) != HS_OK)
            FUZZ_CHECK(err[0], "validate failed without a message");
    } else {
        FUZZ_CHECK(r == HS_ERROR, "load returned %d", r);
        FUZZ_CHECK(strncmp(err, "fuzz.yaml:", 10) == 0, "error without a location: '%s'", err);
        FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "unterminated error");
    }
    hs_config_free(&cfg);
    free(text);

    /* first byte picks a directive, the rest is its value (as from a flag or the environment) */
    if (size >= 1) {
        size_t n;
        const hs_directive_t *d = hs_config_directives(&n);
        const hs_directive_t *dir = &d[data[0] % n];
        char *value = fuzz_strdup(data + 1, size - 1);
        hs_config_defaults(&cfg);
        err[0] = '\0';
        if (hs_config_set(&cfg, dir, value, err, sizeof(err)) == HS_OK)
            check_bounds(&cfg);
        else
            FUZZ_CHECK(err[0], "hs_config_set failed without a message");
        FUZZ_CHECK(hs_config_find(dir->name) == dir, "hs_config_find(%s)", dir->name);
        hs_config_free(&cfg);
        free(value);
    }
    return 0;
}
