/* statusd — causes: why a response has the status it has, as one small registry.
 *
 * Every response statusd generates carries a cause id (`header_timeout`, `cl_te_conflict`,
 * `rule:deny` …). The access log writes it (json and template formats), /metrics counts errors
 * by it (statusd_http_request_errors_total{cause="…"}), `statusd explain --causes 400` lists the
 * causes of a status with the directive that changes each. All of it comes from one table:
 *
 *   1 … HS_CAUSE__ENGINE_END-1   the engine's causes (src/http/causes.def)
 *   then                          the gateway's upstream causes (src/http/upstream.def), as
 *                                 "upstream_<id>": HS_CAUSE_UPSTREAM(HS_UP_CONNECT_REFUSED)
 *   then                          one default per status of the registry (status.def): the
 *                                 symbol in lowercase, `not_found`, `ok`; a response without a
 *                                 cause of its own gets its status's (hs_cause_resolve)
 *   then                          the modules' tables (hs_module_t.causes), and tables given to
 *                                 hs_cause_register, in the order they were registered
 *
 * Ids are unique across all of it (a module's table that repeats one is refused). The number
 * of causes is bounded (HS_CAUSE_MAX), which bounds the cardinality of the metrics' cause label.
 *
 * Threads: the engine's, upstream and status causes exist from the start; tables are registered
 * before workers start (hs_server_init does it for the modules). After that the registry is
 * read-only and every function may be called from any thread. Every pointer returned points
 * to static data or to the caller's table, which must live as long as the process. */
#ifndef HS_CAUSE_H
#define HS_CAUSE_H

#include "hs/core.h"
#include "hs/upstream.h"

/* A cause's dense id: 0 = none (the status's default is used). */
typedef uint16_t hs_cause_t;

#define HS_CAUSE_MAX 1024 /* causes of every kind together */

typedef struct hs_cause_info_s {
    const char *id;        /* "header_timeout", "rule:deny": [a-z0-9_:.-], at most 63 bytes */
    uint16_t status;       /* the status it leads to; 0: it varies (the client chose it, or it stays as it was) */
    uint16_t also[2];      /* other statuses it may lead to (the gateway's proxy.errors modes), 0 = none */
    const char *directive; /* the directive that changes it; "" or NULL when none */
    const char *summary;   /* one line */
} hs_cause_info_t;

/* The engine's causes: HS_CAUSE_HEADER_TIMEOUT …, and each one's status as a constant
 * (HS_CAUSE_STATUS_HEADER_TIMEOUT = 408) for parsers that set both. */
enum {
    HS_CAUSE_NONE = 0,
#define HS_CAUSE_DEF(sym, id, status, directive, summary) HS_CAUSE_##sym,
#include "../../src/http/causes.def"
#undef HS_CAUSE_DEF
    HS_CAUSE__ENGINE_END
};
enum {
#define HS_CAUSE_DEF(sym, id, status, directive, summary) HS_CAUSE_STATUS_##sym = (status),
#include "../../src/http/causes.def"
#undef HS_CAUSE_DEF
};

/* The cause of an upstream failure (hs_up_cause_t, HS_UP_NONE excluded). */
#define HS_CAUSE_UPSTREAM(up) ((hs_cause_t)(HS_CAUSE__ENGINE_END + (int)(up)-1))

/* The info of a cause, or NULL for HS_CAUSE_NONE and ids not registered. */
const hs_cause_info_t *hs_cause_get(hs_cause_t cause);
/* The id of a cause, never NULL ("-" for HS_CAUSE_NONE and unknown values). */
const char *hs_cause_id(hs_cause_t cause);
/* The cause with this id, or HS_CAUSE_NONE. Linear: for configuration and rare paths. */
hs_cause_t hs_cause_find(hs_iovec_t id);
/* The default cause of a status (the registry's symbol in lowercase); HS_CAUSE_NONE for a code
 * the registry does not know. O(1). */
hs_cause_t hs_cause_default(int status);
/* `cause` when set, else the default of `status`. */
static inline hs_cause_t hs_cause_resolve(hs_cause_t cause, int status)
{
    return cause ? cause : hs_cause_default(status);
}
/* One past the highest id registered so far. */
hs_cause_t hs_cause_count(void);
/* Is this cause a status's default (rather than a precise cause)? */
bool hs_cause_is_default(hs_cause_t cause);
/* Register a table of n causes: the id of its first (the others follow in order), or
 * HS_CAUSE_NONE with a message on stderr when an id is malformed or taken, or the registry is
 * full. Before workers start; the table must live as long as the process. */
hs_cause_t hs_cause_register(const hs_cause_info_t *table, size_t n);

#endif
