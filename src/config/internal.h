/* statusd — what the files of src/config share: the state of one configuration (its arena, the
 * values given at the top with their origin, the hosts and paths as written, the hosts as
 * built). */
#ifndef HS_CONFIG_INTERNAL_H
#define HS_CONFIG_INTERNAL_H

#include "hs/config.h"

/* A value given for a directive somewhere: at the top (a file, the environment, a flag), on a
 * host or on a path. */
typedef struct hs__centry_s {
    const hs_directive_t *d;
    const char *value;
    const char *origin; /* a file name, "environment" or "command line" */
    size_t line;        /* in the file; 0 otherwise */
    struct hs__centry_s *next;
} hs__centry_t;

/* A host or a path as written in the file. */
typedef struct hs__cscope_s {
    const char *name; /* host name (lowercase) or path prefix (normal form) */
    const char *file;
    size_t line;
    hs__centry_t *entries, **tail;
    struct hs__cscope_s *next;  /* the next host, or the next path of the host */
    struct hs__cscope_s *paths; /* a host's paths, in order */
    struct hs__cscope_s **paths_tail;
} hs__cscope_t;

struct hs_conf_state_s {
    hs_arena_t arena;
    hs__centry_t *top, **top_tail; /* values given at the top, in order */
    hs__cscope_t *hosts, **hosts_tail;
    const char *origin; /* where hs_config_set's values come from now */
    size_t line;
    /* built by hs_config_validate */
    hs_hostconf_t *built;
    size_t nbuilt;
    bool validated;
    bool one_host; /* one host that takes every name: no name to compare per request */
    /* settings structs a module checked, to release at the end */
    struct checked_s {
        const hs_conf_schema_t *schema;
        void *conf;
    } * checked;
    size_t nchecked, capchecked;
};

/* config.c */
const hs_conf_schema_t *hs__config_schema(int owner);
/* Set d in the settings struct `conf` of its owner (no record is kept). */
int hs__config_apply(hs_config_t *cfg, void *conf, const hs_directive_t *d, const char *value, char *err,
                     size_t errlen);
/* A value given at the top, recorded with the origin and line, and applied. */
int hs__config_set_at(hs_config_t *cfg, const hs_directive_t *d, const char *value, const char *origin, size_t line,
                      char *err, size_t errlen);
/* A fresh copy of a settings set (the engine's and every module's) made from `from`. */
hs_config_t *hs__config_copy(hs_config_t *top, const hs_config_t *from);
/* The directive's field in `conf` (the engine's hs_config_t or a module's struct). */
static inline void *hs__config_field_in(void *conf, const hs_directive_t *d)
{
    return (char *)conf + d->offset;
}

#endif
