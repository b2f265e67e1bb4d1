/* statusd — the cause registry (include/hs/cause.h).
 *
 * The engine's causes (causes.def) and the gateway's (upstream.def) are tables made at compile
 * time; each status's default cause is made once, from status.def, the first time the registry
 * is used. Module tables are appended by hs_cause_register before workers start. All of it is
 * one array of pointers indexed by the dense id, so the hot path (the access log, the metrics)
 * finds a cause's id with one load, and the metrics keep one counter per id. */
#include "hs/http.h"
#include "hs/status.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>

static const hs_cause_info_t engine[] = {
#define HS_CAUSE_DEF(sym, id_, status_, directive_, summary_)                                                          \
    {.id = id_, .status = status_, .directive = directive_, .summary = summary_},
#include "causes.def"
#undef HS_CAUSE_DEF
};
_Static_assert(HS_ARRAY_SIZE(engine) == HS_CAUSE__ENGINE_END - 1, "one entry per engine cause");

/* The gateway's causes under the names the access log and metrics use: upstream_<id>. Their
 * status depends on proxy.errors: the standard mode's first, the others in `also`. */
#define ALT(st, other) ((other) != (st) ? (other) : 0)
static const hs_cause_info_t upstream[] = {
#define HS_CAUSE(sym, id_, type, st, de, to, flags_, summary_)                                                         \
    {.id = "upstream_" id_,                                                                                            \
     .status = st,                                                                                                     \
     .also = {ALT(st, de), ALT(st, to) != ALT(st, de) ? ALT(st, to) : 0},                                              \
     .directive = "proxy.errors",                                                                                      \
     .summary = summary_},
#include "upstream.def"
#undef HS_CAUSE
};
#undef ALT
_Static_assert(HS_ARRAY_SIZE(upstream) == HS_UP__COUNT - 1, "one entry per upstream cause");

#define STATUS_DEFAULT_FIRST (HS_CAUSE__ENGINE_END + HS_ARRAY_SIZE(upstream))

static const hs_cause_info_t *all[HS_CAUSE_MAX];
static hs_cause_t count;
static hs_cause_t status_first, status_end; /* the defaults: [status_first, status_end) */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static hs_cause_info_t *defaults; /* one per registry entry, with their ids */

static void init(void)
{
    count = 1;
    for (size_t i = 0; i < HS_ARRAY_SIZE(engine); i++)
        all[count++] = &engine[i];
    for (size_t i = 0; i < HS_ARRAY_SIZE(upstream); i++)
        all[count++] = &upstream[i];
    size_t n;
    const hs_status_info_t *t = hs_status_table(&n);
    defaults = hs_calloc(n, sizeof(*defaults));
    status_first = count;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(t[i].symbol);
        char *id = hs_malloc(len + 1);
        for (size_t k = 0; k <= len; k++)
            id[k] = (char)tolower((unsigned char)t[i].symbol[k]);
        defaults[i] = (hs_cause_info_t){.id = id, .status = t[i].code, .summary = t[i].summary};
        all[count++] = &defaults[i];
    }
    status_end = count;
}

static inline void ready(void)
{
    pthread_once(&once, init);
}

const hs_cause_info_t *hs_cause_get(hs_cause_t cause)
{
    ready();
    return cause && cause < count ? all[cause] : NULL;
}

const char *hs_cause_id(hs_cause_t cause)
{
    const hs_cause_info_t *c = hs_cause_get(cause);
    return c ? c->id : "-";
}

hs_cause_t hs_cause_find(hs_iovec_t id)
{
    ready();
    for (hs_cause_t i = 1; i < count; i++)
        if (hs_iov_eq(id, all[i]->id, strlen(all[i]->id)))
            return i;
    return HS_CAUSE_NONE;
}

hs_cause_t hs_cause_default(int status)
{
    ready();
    size_t n;
    const hs_status_info_t *t = hs_status_table(&n), *s = hs_status_get(status);
    return s ? (hs_cause_t)(status_first + (s - t)) : HS_CAUSE_NONE;
}

hs_cause_t hs_cause_count(void)
{
    ready();
    return count;
}

bool hs_cause_is_default(hs_cause_t cause)
{
    ready();
    return cause >= status_first && cause < status_end;
}

/* Ids are what a log reader greps for and a metrics label carries: kept to a small alphabet. */
static bool good_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)id[i]) || isdigit((unsigned char)id[i]) || strchr("_:.-", id[i])))
            return false;
    return true;
}

hs_cause_t hs_cause_register(const hs_cause_info_t *table, size_t n)
{
    ready();
    if (n == 0 || n > (size_t)(HS_CAUSE_MAX - count)) {
        fprintf(stderr, "statusd: cause registry: %zu causes do not fit (at most %d in all)\n", n, HS_CAUSE_MAX);
        return HS_CAUSE_NONE;
    }
    for (size_t i = 0; i < n; i++) {
        const char *id = table[i].id;
        bool dup = !good_id(id) || hs_cause_find(hs_iov_cstr(id)) != HS_CAUSE_NONE;
        for (size_t k = 0; k < i && !dup; k++)
            dup = strcmp(table[k].id, id) == 0;
        if (dup) {
            fprintf(stderr, "statusd: cause registry: '%s' is malformed or taken\n", id ? id : "(null)");
            return HS_CAUSE_NONE;
        }
    }
    hs_cause_t base = count;
    for (size_t i = 0; i < n; i++)
        all[count++] = &table[i];
    return base;
}

/* ---- the modules' tables (hs_module_t.causes) ---- */

int hs_modules_register_causes(hs_module_t *const *mods)
{
    for (size_t i = 0; mods[i]; i++) {
        hs_module_t *m = mods[i];
        if (!m->ncauses || m->cause_base)
            continue;
        if (!(m->cause_base = hs_cause_register(m->causes, m->ncauses))) {
            fprintf(stderr, "statusd: module %s: its causes cannot be registered\n", m->name);
            return HS_ERROR;
        }
    }
    return HS_OK;
}
