/* statusd — what WebDAV keeps beside the files of a tree: dead properties (RFC 4918 §4), write
 * locks (§6, §7) and tombstones of deleted resources (for 410 Gone), behind a small interface so
 * that another implementation (Redis, for several hosts) can take SQLite's place (store.c
 * dispatches, store_sqlite.c implements).
 *
 * Keys are resource paths relative to the tree's root, the form the file operations take: ""
 * for the root, "a/b" below it — decoded, normalised, no leading or trailing slash. A subtree
 * of "a" is "a" and every "a/…" (of "": everything).
 *
 * Every function is safe from any thread, and several processes may use one store at once: each
 * operation that reads and writes (taking a lock, applying a PROPPATCH, moving properties) is
 * one transaction, so a conflict check and the write it allows cannot be split by another
 * process. Calls block for at most the store's busy timeout (a few milliseconds when nothing
 * else writes): the dav module calls them from workers for single resources and from helper
 * threads for trees.
 *
 * Returns: HS_OK; HS_DECLINED for "no such property / lock"; -EBUSY when the store stayed busy
 * beyond its timeout (answer 503 with Retry-After); -ENOSPC when a limit or the disk is full (507,
 * RFC 4918 §9.2.1 and §11.5); -EEXIST for a lock conflict (423); another -errno for anything else
 * (500). Strings returned live in the arena passed in. */
#ifndef HS_DAV_STORE_H
#define HS_DAV_STORE_H

#include "xml.h"

#include "hs/redis.h"

/* A dead property. */
typedef struct hs__dav_prop_s {
    hs__dav_qname_t name;
    hs_iovec_t lang;  /* xml:lang of the property element; NULL base: none */
    hs_iovec_t value; /* an XML fragment (hs__dav_xml_fragment), "" when empty */
} hs__dav_prop_t;

/* A write lock (RFC 4918 §6: scope, depth, owner, timeout, token, root). */
#define HS__DAV_LOCK_INFINITY 0x7fffffff /* the same value as HS__DAV_DEPTH_INFINITY */
typedef struct hs__dav_lock_s {
    hs_iovec_t token;     /* "urn:uuid:…" (RFC 4918 §6.5, RFC 4122 version 4 from getrandom) */
    hs_iovec_t root;      /* the lock root (a key: "", "a/b") */
    int depth;            /* 0 or HS__DAV_LOCK_INFINITY */
    bool exclusive;       /* else shared */
    bool created;         /* the LOCK created an empty resource at an unmapped URL (§7.3) */
    hs_iovec_t owner;     /* the owner element's content as a fragment; NULL base: none */
    hs_iovec_t principal; /* who took it, when the request was authenticated; NULL base: nobody */
    uint32_t timeout;     /* seconds granted */
    int64_t expires;      /* wall-clock second it ends (processes share the store) */
} hs__dav_lock_t;

typedef struct hs__dav_store_s hs__dav_store_t;

/* What an implementation provides; the functions below document each operation. */
typedef struct hs__dav_store_ops_s {
    void (*close)(hs__dav_store_t *s);
    int (*prop_get)(hs__dav_store_t *s, hs_arena_t *a, const char *rel, const hs__dav_qname_t *q, hs__dav_prop_t *out);
    int (*prop_list)(hs__dav_store_t *s, hs_arena_t *a, const char *rel, hs__dav_prop_t **out, size_t *n);
    int (*prop_patch)(hs__dav_store_t *s, const char *rel, const hs__dav_propop_t *ops, size_t n);
    int (*prop_copy)(hs__dav_store_t *s, const char *src, const char *dst, bool subtree);
    int (*prop_move)(hs__dav_store_t *s, const char *src, const char *dst);
    int (*prop_delete)(hs__dav_store_t *s, const char *rel, bool subtree);
    int (*lock_create)(hs__dav_store_t *s, hs_arena_t *a, hs__dav_lock_t *l, int64_t now, hs__dav_lock_t *conflict);
    int (*lock_get)(hs__dav_store_t *s, hs_arena_t *a, const char *token, int64_t now, hs__dav_lock_t *out);
    int (*lock_refresh)(hs__dav_store_t *s, hs_arena_t *a, const char *token, uint32_t timeout, int64_t now,
                        hs__dav_lock_t *out);
    int (*lock_remove)(hs__dav_store_t *s, const char *token);
    int (*lock_list)(hs__dav_store_t *s, hs_arena_t *a, const char *rel, int depth, int64_t now, hs__dav_lock_t **out,
                     size_t *n);
    int (*lock_delete)(hs__dav_store_t *s, const char *rel, bool subtree);
    int (*tomb_add)(hs__dav_store_t *s, const char *rel, bool subtree, int64_t expires, int64_t now);
    int (*tomb_check)(hs__dav_store_t *s, const char *rel, int64_t now);
    int (*tomb_clear)(hs__dav_store_t *s, const char *rel);
} hs__dav_store_ops_t;

struct hs__dav_store_s {
    const hs__dav_store_ops_t *ops;
};

/* ---- SQLite (store_sqlite.c) ---- */
typedef struct hs__dav_store_opts_s {
    const char *path;      /* the database file; its directory must exist and be writable */
    unsigned busy_ms;      /* how long to wait for another writer: 0 = 5000 */
    size_t max_locks;      /* live locks in the tree: 0 = 10000 (beyond: -ENOSPC) */
    size_t max_props;      /* dead properties per resource: 0 = 1000 */
    size_t max_prop_bytes; /* bytes of dead property values per resource: 0 = 4 MiB */
    size_t max_tombs;      /* tombstones kept (the oldest go first): 0 = 10000 */
} hs__dav_store_opts_t;
/* Open (creating the file and its tables when needed) in WAL mode. HS_OK with *out, or -errno
 * with *detail (a static text). Close with hs__dav_store_close. */
int hs__dav_store_open_sqlite(const hs__dav_store_opts_t *o, hs__dav_store_t **out, const char **detail);

/* Where a tree's database lives when none is configured: <state dir>/dav-<name>-<hash>.sqlite,
 * <name> the root's last path segment (sanitised) and <hash> 16 hex digits of a hash of its real
 * path, so that every process serving the same tree finds the same file and two trees never
 * share one. The state directory is $STATE_DIRECTORY (systemd's StateDirectory=), else
 * /var/lib/statusd for root, else $XDG_STATE_HOME/statusd or ~/.local/state/statusd. Writes a
 * NUL-terminated path into out; HS_OK, or HS_ERROR when it does not fit. The directory is not
 * created. */
int hs__dav_store_default_path(const char *root_real, char *out, size_t outlen);
/* Refuse a database inside the tree it describes (it would be served by GET, listed by PROPFIND,
 * and overwritten by PUT): HS_OK when db_path lies outside root_real (both resolved — the file
 * need not exist, its directory must), HS_ERROR with *detail otherwise. */
int hs__dav_store_check_path(const char *root_real, const char *db_path, const char **detail);

/* ---- Locks in Redis, for a tree several instances serve (store_redis.c) ----
 * Wraps a store (SQLite) that keeps the dead properties and the tombstones, and a tree's locks
 * while Redis cannot answer under on_failure open; the locks themselves live in Redis, where
 * every instance serving the tree sees them. Each lock operation is one Lua script (one round
 * trip, bounded by timeout_ms); when Redis does not answer in time, on_failure closed gives
 * -EBUSY (503 with Retry-After) and open the wrapped store's answer. Same contract as above;
 * the wrapped store is owned from here on (closed with this one). */
typedef struct hs__dav_redis_opts_s {
    hs_redis_addr_t addr;       /* resolved */
    const char *prefix;         /* of every key ("statusd:") */
    const char *tree;           /* the tree's real path: instances serving the same path share its locks */
    uint32_t timeout_ms;        /* 0: 50 */
    hs_redis_failure_t failure; /* on_failure */
    size_t max_locks;           /* live locks in the tree: 0 = 10000 (beyond: -ENOSPC) */
    struct hs__redis_counters_s *stats; /* NULL: the process's WebDAV lock counters */
} hs__dav_redis_opts_t;
int hs__dav_store_open_redis(hs__dav_store_t *inner, const hs__dav_redis_opts_t *o, hs__dav_store_t **out);
/* Set on the calling thread when a Redis lock store refused an operation (on_failure: closed,
 * -EBUSY): the 503 that follows names the cause store:unavailable. Cleared by the reader. Work
 * on a helper thread (job.c) carries it back with its result to the loop thread. */
extern _Thread_local bool hs__dav_redis_refused;
/* A lock record as kept in Redis ("1 D X C TIMEOUT EXPIRES" then root, owner, principal as
 * LENGTH:BYTES, "-" for none): make appends one (HS_ERROR beyond 64 KiB), parse reads one into
 * *out with the token given (strings in the arena; HS_ERROR for anything malformed). */
int hs__dav_redis_record_make(hs_buf_t *b, const hs__dav_lock_t *l);
int hs__dav_redis_record_parse(hs_arena_t *a, const char *rec, size_t n, hs_iovec_t token, hs__dav_lock_t *out);

/* ---- The interface (store.c) ---- */
void hs__dav_store_close(hs__dav_store_t *s); /* NULL is fine */

/* Dead properties. get: HS_OK with *out, HS_DECLINED when absent. list: all of a resource's, in
 * a stable order (namespace, then name). patch: apply ops in order, all or none (RFC 4918 §9.2);
 * removing an absent property succeeds (§14.23); -ENOSPC beyond max_props / max_prop_bytes.
 * copy: the destination's properties (and, with subtree, its members') are replaced by the
 * source's. move: the same, then the source's are gone. delete: the resource's (and members'). */
int hs__dav_prop_get(hs__dav_store_t *s, hs_arena_t *a, const char *rel, const hs__dav_qname_t *q, hs__dav_prop_t *out);
int hs__dav_prop_list(hs__dav_store_t *s, hs_arena_t *a, const char *rel, hs__dav_prop_t **out, size_t *n);
int hs__dav_prop_patch(hs__dav_store_t *s, const char *rel, const hs__dav_propop_t *ops, size_t n);
int hs__dav_prop_copy(hs__dav_store_t *s, const char *src, const char *dst, bool subtree);
int hs__dav_prop_move(hs__dav_store_t *s, const char *src, const char *dst);
int hs__dav_prop_delete(hs__dav_store_t *s, const char *rel, bool subtree);

/* Locks. create: l->root, depth, exclusive, created, owner, principal and timeout in; a new
 * token and expires out (token in the arena). -EEXIST when a live lock conflicts (RFC 4918 §6.1:
 * an exclusive lock conflicts with any other, shared ones with exclusive ones; a lock covers its
 * root and, with depth infinity, every member), with the first such lock in *conflict. Expired
 * locks are swept first. get/refresh/remove by token: HS_DECLINED when no live lock has it.
 * list: the live locks that cover rel (rooted there, or at an ancestor with depth infinity) and,
 * with depth HS__DAV_LOCK_INFINITY, also those rooted anywhere below rel (what a DELETE or MOVE of
 * a collection, or a depth-infinity LOCK, must consider). delete: every lock rooted at rel (and
 * below it, with subtree) — a MOVE's source and a DELETE's resources lose their locks (§7.7). */
int hs__dav_lock_create(hs__dav_store_t *s, hs_arena_t *a, hs__dav_lock_t *l, int64_t now, hs__dav_lock_t *conflict);
int hs__dav_lock_get(hs__dav_store_t *s, hs_arena_t *a, const char *token, int64_t now, hs__dav_lock_t *out);
int hs__dav_lock_refresh(hs__dav_store_t *s, hs_arena_t *a, const char *token, uint32_t timeout, int64_t now,
                         hs__dav_lock_t *out);
int hs__dav_lock_remove(hs__dav_store_t *s, const char *token);
int hs__dav_lock_list(hs__dav_store_t *s, hs_arena_t *a, const char *rel, int depth, int64_t now, hs__dav_lock_t **out,
                      size_t *n);
int hs__dav_lock_delete(hs__dav_store_t *s, const char *rel, bool subtree);
/* Does lock l cover rel (the same rule as list)? */
bool hs__dav_lock_covers(const hs__dav_lock_t *l, const char *rel);
/* A new lock token, for the stores' lock_create: "urn:uuid:" and a version 4 UUID (RFC 4122
 * §4.4) from the kernel's random bytes, in the arena. */
hs_iovec_t hs__dav_new_lock_token(hs_arena_t *a);

/* Tombstones (410 Gone after a DELETE, for a configured time). add: rel was deleted (with
 * subtree: everything below it too) and stays gone until expires; beyond max_tombs the oldest
 * are forgotten (then 404). check: 1 when rel (or an ancestor deleted with its subtree) is
 * gone, 0 otherwise. clear: something exists at rel again — rel and everything below forget
 * their tombstones. */
int hs__dav_tomb_add(hs__dav_store_t *s, const char *rel, bool subtree, int64_t expires, int64_t now);
int hs__dav_tomb_check(hs__dav_store_t *s, const char *rel, int64_t now);
int hs__dav_tomb_clear(hs__dav_store_t *s, const char *rel);

#endif
