/* statusd — the WebDAV store in SQLite (see store.h): one database file per tree.
 *
 * Why SQLite, and how it is used:
 *   - WAL mode: readers never wait for the writer, and a process killed at any point (kill -9
 *     in the middle of a transaction, or of its commit) leaves the database as it was after the
 *     last committed transaction — the next opener rolls the log back or forward. With
 *     synchronous=NORMAL a commit is durable across a process crash (it is in the kernel's page
 *     cache) and consistent across a power cut, where the last commits before it may be lost;
 *     FULL would add an fsync per commit for the power-cut case only. Locks last minutes and
 *     dead properties are metadata: NORMAL is the trade.
 *   - Several processes: SQLite's file locks order the writers; a busy timeout makes a writer
 *     wait its turn instead of failing, and every read-then-write operation runs in BEGIN
 *     IMMEDIATE, which takes the write lock at the start — a lock's conflict check and its
 *     insertion cannot be split by another process, and no two transactions can deadlock by
 *     upgrading read locks.
 *   - Threads: a connection belongs to one thread at a time. The store keeps a small pool of
 *     idle connections (mutex-guarded); an operation takes one, uses its prepared statements and
 *     gives it back. No per-thread state, so helper threads and workers share one pool.
 *   - Paths are TEXT compared with the BINARY collation (memcmp): a subtree "a" is "a" plus the
 *     range ("a/", "a0") — '0' is the byte after '/' — which the primary-key index serves. File
 *     names are bytes, not necessarily UTF-8, so no SQL string function (length, substr) ever
 *     touches a path: renaming keys for COPY and MOVE is done here, in C.
 *   - Limits are enforced inside the transaction that would pass them, which then rolls back. */
#define _GNU_SOURCE
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#define SCHEMA_VERSION 1
#define MAX_IDLE 16

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS props("
    " path TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, lang TEXT, value TEXT NOT NULL,"
    " PRIMARY KEY(path, ns, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS locks("
    " token TEXT PRIMARY KEY, root TEXT NOT NULL, depth INTEGER NOT NULL,"
    " exclusive INTEGER NOT NULL, created INTEGER NOT NULL, owner TEXT, principal TEXT,"
    " timeout INTEGER NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS locks_root ON locks(root);"
    "CREATE TABLE IF NOT EXISTS tombs("
    " path TEXT PRIMARY KEY, subtree INTEGER NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS tombs_expires ON tombs(expires);";

/* Prepared statements, by id. A range is (?lo, ?hi) exclusive, ?hi NULL for no upper bound. */
enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_PROP_GET,
    S_PROP_LIST,
    S_PROP_SET,
    S_PROP_DEL,
    S_PROP_STATS,
    S_PROP_SUBTREE,
    S_PROP_DEL_AT,
    S_PROP_DEL_RANGE,
    S_LOCK_SWEEP,
    S_LOCK_COUNT,
    S_LOCK_AT,
    S_LOCK_RANGE,
    S_LOCK_INSERT,
    S_LOCK_GET,
    S_LOCK_REFRESH,
    S_LOCK_REMOVE,
    S_LOCK_DEL_AT,
    S_LOCK_DEL_RANGE,
    S_TOMB_ADD,
    S_TOMB_SWEEP,
    S_TOMB_COUNT,
    S_TOMB_TRIM,
    S_TOMB_GET,
    S_TOMB_DEL_AT,
    S_TOMB_DEL_RANGE,
    S__COUNT
};

#define LOCK_COLS "token, root, depth, exclusive, created, owner, principal, timeout, expires"
static const char *const sql[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_PROP_GET] = "SELECT ns, name, lang, value FROM props WHERE path = ?1 AND ns = ?2 AND name = ?3",
    [S_PROP_LIST] = "SELECT ns, name, lang, value FROM props WHERE path = ?1 ORDER BY ns, name",
    [S_PROP_SET] = "INSERT OR REPLACE INTO props(path, ns, name, lang, value) VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_PROP_DEL] = "DELETE FROM props WHERE path = ?1 AND ns = ?2 AND name = ?3",
    [S_PROP_STATS] = "SELECT count(*), coalesce(sum(length(CAST(value AS BLOB))), 0) FROM props WHERE path = ?1",
    [S_PROP_SUBTREE] = "SELECT path, ns, name, lang, value FROM props WHERE path = ?1"
                       " OR (?4 AND path > ?2 AND (?3 IS NULL OR path < ?3))",
    [S_PROP_DEL_AT] = "DELETE FROM props WHERE path = ?1",
    [S_PROP_DEL_RANGE] = "DELETE FROM props WHERE path > ?1 AND (?2 IS NULL OR path < ?2)",
    [S_LOCK_SWEEP] = "DELETE FROM locks WHERE expires <= ?1",
    [S_LOCK_COUNT] = "SELECT count(*) FROM locks",
    [S_LOCK_AT] = "SELECT " LOCK_COLS " FROM locks WHERE root = ?1 AND expires > ?2 AND (?3 OR depth = ?4)",
    [S_LOCK_RANGE] = "SELECT " LOCK_COLS " FROM locks WHERE root > ?1 AND (?2 IS NULL OR root < ?2) AND expires > ?3",
    [S_LOCK_INSERT] = "INSERT INTO locks(" LOCK_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_LOCK_GET] = "SELECT " LOCK_COLS " FROM locks WHERE token = ?1 AND expires > ?2",
    [S_LOCK_REFRESH] = "UPDATE locks SET timeout = ?2, expires = ?3 WHERE token = ?1 AND expires > ?4",
    [S_LOCK_REMOVE] = "DELETE FROM locks WHERE token = ?1",
    [S_LOCK_DEL_AT] = "DELETE FROM locks WHERE root = ?1",
    [S_LOCK_DEL_RANGE] = "DELETE FROM locks WHERE root > ?1 AND (?2 IS NULL OR root < ?2)",
    [S_TOMB_ADD] = "INSERT OR REPLACE INTO tombs(path, subtree, expires) VALUES(?1, ?2, ?3)",
    [S_TOMB_SWEEP] = "DELETE FROM tombs WHERE expires <= ?1",
    [S_TOMB_COUNT] = "SELECT count(*) FROM tombs",
    [S_TOMB_TRIM] = "DELETE FROM tombs WHERE path IN (SELECT path FROM tombs ORDER BY expires LIMIT ?1)",
    [S_TOMB_GET] = "SELECT subtree FROM tombs WHERE path = ?1 AND expires > ?2",
    [S_TOMB_DEL_AT] = "DELETE FROM tombs WHERE path = ?1",
    [S_TOMB_DEL_RANGE] = "DELETE FROM tombs WHERE path > ?1 AND (?2 IS NULL OR path < ?2)",
};

typedef struct conn_s {
    sqlite3 *db;
    sqlite3_stmt *st[S__COUNT];
    struct conn_s *next;
    bool in_txn;
} conn_t;

typedef struct sq_store_s {
    hs__dav_store_t base;
    hs__dav_store_opts_t o;
    char *path;
    pthread_mutex_t mu;
    conn_t *idle;
    size_t nidle;
} sq_store_t;

static int err_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return HS_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH: return -EACCES;
    case SQLITE_CANTOPEN: return -ENOENT;
    default: return -EIO;
    }
}

static void conn_close(conn_t *c)
{
    for (int i = 0; i < S__COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close_v2(c->db);
    free(c);
}

static int conn_open(sq_store_t *s, conn_t **out)
{
    conn_t *c = hs_calloc(1, sizeof(*c));
    int rc = sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(c->db, (int)s->o.busy_ms);
        /* journal_mode is a property of the file (set once, kept); synchronous is per
         * connection. Both statements wait through the busy handler like any other. */
        rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;", NULL,
                          NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        int e = err_of(rc);
        conn_close(c);
        return e;
    }
    *out = c;
    return HS_OK;
}

static int conn_get(sq_store_t *s, conn_t **out)
{
    pthread_mutex_lock(&s->mu);
    conn_t *c = s->idle;
    if (c) {
        s->idle = c->next;
        s->nidle--;
    }
    pthread_mutex_unlock(&s->mu);
    if (c) {
        *out = c;
        return HS_OK;
    }
    return conn_open(s, out);
}

static void conn_put(sq_store_t *s, conn_t *c)
{
    if (c->in_txn) { /* an operation that failed half-way: nothing of it stays */
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        c->in_txn = false;
    }
    pthread_mutex_lock(&s->mu);
    if (s->nidle < MAX_IDLE) {
        c->next = s->idle;
        s->idle = c;
        s->nidle++;
        c = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (c)
        conn_close(c);
}

/* The statement `id`, reset and unbound, or NULL when it cannot be prepared. */
static sqlite3_stmt *st(conn_t *c, int id)
{
    if (!c->st[id] && sqlite3_prepare_v3(c->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id], NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(c->st[id]);
    sqlite3_clear_bindings(c->st[id]);
    return c->st[id];
}

static void bind_str(sqlite3_stmt *q, int i, const char *s, size_t n)
{
    sqlite3_bind_text(q, i, s ? s : "", (int)n, SQLITE_STATIC);
}
#define BIND_IOV(q, i, v) bind_str((q), (i), (v).base, (v).len)
#define BIND_CSTR(q, i, s) bind_str((q), (i), (s), strlen(s))

/* Step a statement that returns no rows (or whose rows are not wanted). */
static int run(sqlite3_stmt *q)
{
    if (!q)
        return -EIO;
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? HS_OK : err_of(rc);
}

static int begin(conn_t *c)
{
    int r = run(st(c, S_BEGIN));
    c->in_txn = r == HS_OK;
    return r;
}

static int commit(conn_t *c)
{
    int r = run(st(c, S_COMMIT));
    if (r == HS_OK)
        c->in_txn = false;
    return r;
}

static hs_iovec_t col(hs_arena_t *a, sqlite3_stmt *q, int i)
{
    if (sqlite3_column_type(q, i) == SQLITE_NULL)
        return HS_IOV_NULL;
    const char *t = (const char *)sqlite3_column_text(q, i);
    size_t n = (size_t)sqlite3_column_bytes(q, i);
    return hs_iov(hs_arena_strndup(a, t ? t : "", n), n);
}

/* The members' range of rel's subtree: ("a/", "a0"), or ("", none) for the root. lo and hi need
 * strlen(rel) + 2 bytes. */
static void subtree_range(const char *rel, char *lo, char *hi, bool *unbounded)
{
    size_t n = strlen(rel);
    *unbounded = n == 0;
    memcpy(lo, rel, n);
    memcpy(hi, rel, n);
    lo[n] = n ? '/' : '\0';
    hi[n] = '0'; /* '/' + 1 */
    lo[n + (n ? 1 : 0)] = '\0';
    hi[n + 1] = '\0';
}

static void bind_range(sqlite3_stmt *q, int ilo, int ihi, const char *lo, const char *hi, bool unbounded)
{
    BIND_CSTR(q, ilo, lo);
    if (unbounded)
        sqlite3_bind_null(q, ihi);
    else
        BIND_CSTR(q, ihi, hi);
}

/* ---- properties ---- */

static void read_prop(hs_arena_t *a, sqlite3_stmt *q, int first, hs__dav_prop_t *p)
{
    p->name.ns = col(a, q, first);
    p->name.name = col(a, q, first + 1);
    p->lang = col(a, q, first + 2);
    p->value = col(a, q, first + 3);
}

static int sq_prop_get(hs__dav_store_t *bs, hs_arena_t *a, const char *rel, const hs__dav_qname_t *qn,
                       hs__dav_prop_t *out)
{
    sq_store_t *s = (sq_store_t *)bs;
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    sqlite3_stmt *q = st(c, S_PROP_GET);
    if (!q) {
        conn_put(s, c);
        return -EIO;
    }
    BIND_CSTR(q, 1, rel);
    BIND_IOV(q, 2, qn->ns);
    BIND_IOV(q, 3, qn->name);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        read_prop(a, q, 0, out);
        r = HS_OK;
    } else {
        r = rc == SQLITE_DONE ? HS_DECLINED : err_of(rc);
    }
    sqlite3_reset(q);
    conn_put(s, c);
    return r;
}

static int sq_prop_list(hs__dav_store_t *bs, hs_arena_t *a, const char *rel, hs__dav_prop_t **out, size_t *n)
{
    sq_store_t *s = (sq_store_t *)bs;
    *out = NULL;
    *n = 0;
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    sqlite3_stmt *q = st(c, S_PROP_LIST);
    if (!q) {
        conn_put(s, c);
        return -EIO;
    }
    BIND_CSTR(q, 1, rel);
    hs_buf_t rows = {0};
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hs__dav_prop_t p;
        read_prop(a, q, 0, &p);
        hs_buf_append(&rows, &p, sizeof(p));
    }
    r = rc == SQLITE_DONE ? HS_OK : err_of(rc);
    sqlite3_reset(q);
    conn_put(s, c);
    if (r == HS_OK && rows.len) {
        *out = hs_arena_alloc(a, rows.len);
        memcpy(*out, rows.base, rows.len);
        *n = rows.len / sizeof(hs__dav_prop_t);
    }
    hs_buf_free(&rows);
    return r;
}

static int sq_prop_patch(hs__dav_store_t *bs, const char *rel, const hs__dav_propop_t *ops, size_t n)
{
    sq_store_t *s = (sq_store_t *)bs;
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    if ((r = begin(c)) != HS_OK)
        goto Exit;
    /* RFC 4918 §9.2: in document order, all or nothing */
    for (size_t i = 0; i < n && r == HS_OK; i++) {
        const hs__dav_propop_t *op = &ops[i];
        sqlite3_stmt *q = st(c, op->remove ? S_PROP_DEL : S_PROP_SET);
        if (!q) {
            r = -EIO;
            break;
        }
        BIND_CSTR(q, 1, rel);
        BIND_IOV(q, 2, op->name.ns);
        BIND_IOV(q, 3, op->name.name);
        if (!op->remove) {
            if (op->lang.base)
                BIND_IOV(q, 4, op->lang);
            BIND_IOV(q, 5, op->value);
        }
        r = run(q);
    }
    if (r == HS_OK) {
        sqlite3_stmt *q = st(c, S_PROP_STATS);
        if (!q) {
            r = -EIO;
            goto Exit;
        }
        BIND_CSTR(q, 1, rel);
        if (sqlite3_step(q) == SQLITE_ROW && ((size_t)sqlite3_column_int64(q, 0) > s->o.max_props ||
                                              (size_t)sqlite3_column_int64(q, 1) > s->o.max_prop_bytes))
            r = -ENOSPC; /* RFC 4918 §9.2.1: 507, nothing recorded */
        sqlite3_reset(q);
    }
    if (r == HS_OK)
        r = commit(c);
Exit:
    conn_put(s, c); /* rolls back what did not commit */
    return r;
}

/* Collect the properties of src (and its members, with subtree) into rows. */
static int collect_props(conn_t *c, hs_arena_t *a, const char *src, bool subtree, hs_buf_t *paths, hs_buf_t *rows)
{
    size_t n = strlen(src);
    char *lo = hs_arena_alloc(a, n + 2), *hi = hs_arena_alloc(a, n + 2);
    bool unb;
    subtree_range(src, lo, hi, &unb);
    sqlite3_stmt *q = st(c, S_PROP_SUBTREE);
    if (!q)
        return -EIO;
    BIND_CSTR(q, 1, src);
    bind_range(q, 2, 3, lo, hi, unb);
    sqlite3_bind_int(q, 4, subtree);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hs_iovec_t path = col(a, q, 0);
        hs__dav_prop_t p;
        read_prop(a, q, 1, &p);
        hs_buf_append(paths, &path, sizeof(path));
        hs_buf_append(rows, &p, sizeof(p));
    }
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? HS_OK : err_of(rc);
}

static int delete_at(conn_t *c, int at, int range, const char *rel, bool subtree)
{
    sqlite3_stmt *q = st(c, at);
    if (!q)
        return -EIO;
    BIND_CSTR(q, 1, rel);
    int r = run(q);
    if (r != HS_OK || !subtree)
        return r;
    size_t n = strlen(rel);
    char lo[n + 2], hi[n + 2];
    bool unb;
    subtree_range(rel, lo, hi, &unb);
    if (!(q = st(c, range)))
        return -EIO;
    bind_range(q, 1, 2, lo, hi, unb);
    return run(q);
}

/* Copy (and with move, then delete) src's properties to dst, mapping each path's prefix. */
static int copy_props(sq_store_t *s, const char *src, const char *dst, bool subtree, bool move)
{
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    hs_arena_t a;
    hs_arena_init(&a);
    hs_buf_t paths = {0}, rows = {0};
    size_t sl = strlen(src), dl = strlen(dst);
    if ((r = begin(c)) != HS_OK)
        goto Exit;
    if ((r = collect_props(c, &a, src, subtree, &paths, &rows)) != HS_OK)
        goto Exit;
    /* the destination is replaced: its own properties go first */
    if ((r = delete_at(c, S_PROP_DEL_AT, S_PROP_DEL_RANGE, dst, subtree)) != HS_OK)
        goto Exit;
    if (move && (r = delete_at(c, S_PROP_DEL_AT, S_PROP_DEL_RANGE, src, subtree)) != HS_OK)
        goto Exit;
    size_t nrows = rows.len / sizeof(hs__dav_prop_t);
    for (size_t i = 0; i < nrows && r == HS_OK; i++) {
        const hs_iovec_t *path = (const hs_iovec_t *)(void *)paths.base + i;
        const hs__dav_prop_t *p = (const hs__dav_prop_t *)(void *)rows.base + i;
        /* src itself → dst; src/x (or x when src is the root) → dst/x (or x when dst is the root) */
        size_t skip = path->len == sl ? sl : sl ? sl + 1 : 0;
        hs_iovec_t rest = hs_iov(path->base + skip, path->len - skip);
        hs_iovec_t np = rest.len == 0 ? hs_iov(dst, dl)
                        : dl          ? hs_arena_printf(&a, "%s/%.*s", dst, (int)rest.len, rest.base)
                                      : rest;
        sqlite3_stmt *q = st(c, S_PROP_SET);
        if (!q) {
            r = -EIO;
            break;
        }
        BIND_IOV(q, 1, np);
        BIND_IOV(q, 2, p->name.ns);
        BIND_IOV(q, 3, p->name.name);
        if (p->lang.base)
            BIND_IOV(q, 4, p->lang);
        BIND_IOV(q, 5, p->value);
        r = run(q);
    }
    if (r == HS_OK)
        r = commit(c);
Exit:
    conn_put(s, c);
    hs_buf_free(&paths);
    hs_buf_free(&rows);
    hs_arena_reset(&a);
    return r;
}

static int sq_prop_copy(hs__dav_store_t *bs, const char *src, const char *dst, bool subtree)
{
    return copy_props((sq_store_t *)bs, src, dst, subtree, false);
}

static int sq_prop_move(hs__dav_store_t *bs, const char *src, const char *dst)
{
    return copy_props((sq_store_t *)bs, src, dst, true, true);
}

/* One write statement pair (at, range) in a transaction of its own. */
static int delete_tx(sq_store_t *s, int at, int range, const char *rel, bool subtree)
{
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    if ((r = begin(c)) == HS_OK && (r = delete_at(c, at, range, rel, subtree)) == HS_OK)
        r = commit(c);
    conn_put(s, c);
    return r;
}

static int sq_prop_delete(hs__dav_store_t *bs, const char *rel, bool subtree)
{
    return delete_tx((sq_store_t *)bs, S_PROP_DEL_AT, S_PROP_DEL_RANGE, rel, subtree);
}

/* ---- locks ---- */

static void read_lock(hs_arena_t *a, sqlite3_stmt *q, hs__dav_lock_t *l)
{
    l->token = col(a, q, 0);
    l->root = col(a, q, 1);
    l->depth = sqlite3_column_int(q, 2) ? HS__DAV_LOCK_INFINITY : 0;
    l->exclusive = sqlite3_column_int(q, 3) != 0;
    l->created = sqlite3_column_int(q, 4) != 0;
    l->owner = col(a, q, 5);
    l->principal = col(a, q, 6);
    l->timeout = (uint32_t)sqlite3_column_int64(q, 7);
    l->expires = sqlite3_column_int64(q, 8);
}

static int step_locks(hs_arena_t *a, sqlite3_stmt *q, hs_buf_t *out)
{
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hs__dav_lock_t l;
        read_lock(a, q, &l);
        hs_buf_append(out, &l, sizeof(l));
    }
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? HS_OK : err_of(rc);
}

/* The lengths of rel's ancestors and of rel itself, shortest first: "a/b" → 0 (the root), 1
 * ("a"), 3 ("a/b"); "" → 0. Returns how many (out has room for strlen(rel) + 2). */
static size_t prefixes(const char *rel, size_t *out)
{
    size_t n = strlen(rel), k = 0;
    if (n)
        out[k++] = 0;
    for (size_t i = 0; i < n; i++)
        if (rel[i] == '/')
            out[k++] = i;
    out[k++] = n;
    return k;
}

/* The live locks covering rel, and with depth infinity those below it, appended to out. */
static int list_locks(conn_t *c, hs_arena_t *a, const char *rel, int depth, int64_t now, hs_buf_t *out)
{
    size_t n = strlen(rel);
    size_t *ends = hs_arena_alloc(a, (n + 2) * sizeof(size_t)), k = prefixes(rel, ends);
    /* rel itself and each ancestor (whose lock counts with depth infinity only, RFC 4918 §7.4) */
    for (size_t i = 0; i < k; i++) {
        sqlite3_stmt *q = st(c, S_LOCK_AT);
        if (!q)
            return -EIO;
        bind_str(q, 1, rel, ends[i]);
        sqlite3_bind_int64(q, 2, now);
        sqlite3_bind_int(q, 3, ends[i] == n);
        sqlite3_bind_int(q, 4, 1);
        int r = step_locks(a, q, out);
        if (r)
            return r;
    }
    if (depth != HS__DAV_LOCK_INFINITY)
        return HS_OK;
    char lo[n + 2], hi[n + 2];
    bool unb;
    subtree_range(rel, lo, hi, &unb);
    sqlite3_stmt *q = st(c, S_LOCK_RANGE);
    if (!q)
        return -EIO;
    bind_range(q, 1, 2, lo, hi, unb);
    sqlite3_bind_int64(q, 3, now);
    return step_locks(a, q, out);
}

static int sq_lock_list(hs__dav_store_t *bs, hs_arena_t *a, const char *rel, int depth, int64_t now,
                        hs__dav_lock_t **out, size_t *n)
{
    sq_store_t *s = (sq_store_t *)bs;
    *out = NULL;
    *n = 0;
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    hs_buf_t rows = {0};
    r = list_locks(c, a, rel, depth, now, &rows);
    conn_put(s, c);
    if (r == HS_OK && rows.len) {
        *out = hs_arena_alloc(a, rows.len);
        memcpy(*out, rows.base, rows.len);
        *n = rows.len / sizeof(hs__dav_lock_t);
    }
    hs_buf_free(&rows);
    return r;
}

static int sq_lock_create(hs__dav_store_t *bs, hs_arena_t *a, hs__dav_lock_t *l, int64_t now, hs__dav_lock_t *conflict)
{
    sq_store_t *s = (sq_store_t *)bs;
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    hs_buf_t rows = {0};
    char rel[l->root.len + 1];
    memcpy(rel, l->root.base, l->root.len);
    rel[l->root.len] = '\0';
    if ((r = begin(c)) != HS_OK)
        goto Exit;
    sqlite3_stmt *q = st(c, S_LOCK_SWEEP);
    if (!q) {
        r = -EIO;
        goto Exit;
    }
    sqlite3_bind_int64(q, 1, now);
    if ((r = run(q)) != HS_OK)
        goto Exit;
    /* RFC 4918 §6.1: the new lock against every live lock that covers its root, and for a
     * depth-infinity lock every lock below it too */
    if ((r = list_locks(c, a, rel, l->depth, now, &rows)) != HS_OK)
        goto Exit;
    for (size_t i = 0; i < rows.len / sizeof(hs__dav_lock_t); i++) {
        const hs__dav_lock_t *o = (const hs__dav_lock_t *)(void *)rows.base + i;
        if (o->exclusive || l->exclusive) {
            if (conflict)
                *conflict = *o;
            r = -EEXIST;
            goto Exit;
        }
    }
    if (!(q = st(c, S_LOCK_COUNT))) {
        r = -EIO;
        goto Exit;
    }
    if (sqlite3_step(q) == SQLITE_ROW && (size_t)sqlite3_column_int64(q, 0) >= s->o.max_locks)
        r = -ENOSPC;
    sqlite3_reset(q);
    if (r)
        goto Exit;
    l->token = hs__dav_new_lock_token(a);
    l->expires = now + (int64_t)l->timeout;
    if (!(q = st(c, S_LOCK_INSERT))) {
        r = -EIO;
        goto Exit;
    }
    BIND_IOV(q, 1, l->token);
    BIND_IOV(q, 2, l->root);
    sqlite3_bind_int(q, 3, l->depth == HS__DAV_LOCK_INFINITY);
    sqlite3_bind_int(q, 4, l->exclusive);
    sqlite3_bind_int(q, 5, l->created);
    if (l->owner.base)
        BIND_IOV(q, 6, l->owner);
    if (l->principal.base)
        BIND_IOV(q, 7, l->principal);
    sqlite3_bind_int64(q, 8, l->timeout);
    sqlite3_bind_int64(q, 9, l->expires);
    if ((r = run(q)) == HS_OK)
        r = commit(c);
Exit:
    conn_put(s, c);
    hs_buf_free(&rows);
    return r;
}

static int get_lock(conn_t *c, hs_arena_t *a, const char *token, int64_t now, hs__dav_lock_t *out)
{
    sqlite3_stmt *q = st(c, S_LOCK_GET);
    if (!q)
        return -EIO;
    BIND_CSTR(q, 1, token);
    sqlite3_bind_int64(q, 2, now);
    int rc = sqlite3_step(q), r;
    if (rc == SQLITE_ROW) {
        read_lock(a, q, out);
        r = HS_OK;
    } else {
        r = rc == SQLITE_DONE ? HS_DECLINED : err_of(rc);
    }
    sqlite3_reset(q);
    return r;
}

static int sq_lock_get(hs__dav_store_t *bs, hs_arena_t *a, const char *token, int64_t now, hs__dav_lock_t *out)
{
    sq_store_t *s = (sq_store_t *)bs;
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    r = get_lock(c, a, token, now, out);
    conn_put(s, c);
    return r;
}

static int sq_lock_refresh(hs__dav_store_t *bs, hs_arena_t *a, const char *token, uint32_t timeout, int64_t now,
                           hs__dav_lock_t *out)
{
    sq_store_t *s = (sq_store_t *)bs;
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    if ((r = begin(c)) != HS_OK)
        goto Exit;
    sqlite3_stmt *q = st(c, S_LOCK_REFRESH);
    if (!q) {
        r = -EIO;
        goto Exit;
    }
    BIND_CSTR(q, 1, token);
    sqlite3_bind_int64(q, 2, timeout);
    sqlite3_bind_int64(q, 3, now + (int64_t)timeout);
    sqlite3_bind_int64(q, 4, now);
    if ((r = run(q)) != HS_OK)
        goto Exit;
    if (sqlite3_changes(c->db) == 0) {
        r = HS_DECLINED;
        goto Exit;
    }
    if ((r = get_lock(c, a, token, now, out)) == HS_OK)
        r = commit(c);
Exit:
    conn_put(s, c);
    return r;
}

static int sq_lock_remove(hs__dav_store_t *bs, const char *token)
{
    sq_store_t *s = (sq_store_t *)bs;
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    sqlite3_stmt *q = st(c, S_LOCK_REMOVE);
    if (!q) {
        conn_put(s, c);
        return -EIO;
    }
    BIND_CSTR(q, 1, token);
    if ((r = run(q)) == HS_OK && sqlite3_changes(c->db) == 0)
        r = HS_DECLINED;
    conn_put(s, c);
    return r;
}

static int sq_lock_delete(hs__dav_store_t *bs, const char *rel, bool subtree)
{
    return delete_tx((sq_store_t *)bs, S_LOCK_DEL_AT, S_LOCK_DEL_RANGE, rel, subtree);
}

/* ---- tombstones ---- */

static int sq_tomb_add(hs__dav_store_t *bs, const char *rel, bool subtree, int64_t expires, int64_t now)
{
    sq_store_t *s = (sq_store_t *)bs;
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    if ((r = begin(c)) != HS_OK)
        goto Exit;
    sqlite3_stmt *q;
    /* a deleted subtree's own tombstones are covered by the new one */
    if (subtree && (r = delete_at(c, S_TOMB_DEL_AT, S_TOMB_DEL_RANGE, rel, true)) != HS_OK)
        goto Exit;
    if (!(q = st(c, S_TOMB_ADD))) {
        r = -EIO;
        goto Exit;
    }
    BIND_CSTR(q, 1, rel);
    sqlite3_bind_int(q, 2, subtree);
    sqlite3_bind_int64(q, 3, expires);
    if ((r = run(q)) != HS_OK)
        goto Exit;
    if (!(q = st(c, S_TOMB_SWEEP))) {
        r = -EIO;
        goto Exit;
    }
    sqlite3_bind_int64(q, 1, now);
    if ((r = run(q)) != HS_OK)
        goto Exit;
    /* bounded: beyond max_tombs the ones that would expire first are forgotten */
    if (!(q = st(c, S_TOMB_COUNT))) {
        r = -EIO;
        goto Exit;
    }
    int64_t count = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    if (count > (int64_t)s->o.max_tombs) {
        if (!(q = st(c, S_TOMB_TRIM))) {
            r = -EIO;
            goto Exit;
        }
        sqlite3_bind_int64(q, 1, count - (int64_t)s->o.max_tombs);
        if ((r = run(q)) != HS_OK)
            goto Exit;
    }
    r = commit(c);
Exit:
    conn_put(s, c);
    return r;
}

static int sq_tomb_check(hs__dav_store_t *bs, const char *rel, int64_t now)
{
    sq_store_t *s = (sq_store_t *)bs;
    conn_t *c;
    int r = conn_get(s, &c);
    if (r)
        return r;
    size_t n = strlen(rel), ends[n + 2], k = prefixes(rel, ends);
    int gone = 0;
    /* rel itself, then each ancestor deleted with its subtree, nearest first */
    for (size_t i = k; i-- > 0 && !gone && !r;) {
        sqlite3_stmt *q = st(c, S_TOMB_GET);
        if (!q) {
            r = -EIO;
            break;
        }
        bind_str(q, 1, rel, ends[i]);
        sqlite3_bind_int64(q, 2, now);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            gone = ends[i] == n || sqlite3_column_int(q, 0) != 0;
        else if (rc != SQLITE_DONE)
            r = err_of(rc);
        sqlite3_reset(q);
    }
    conn_put(s, c);
    return r ? r : gone;
}

static int sq_tomb_clear(hs__dav_store_t *bs, const char *rel)
{
    return delete_tx((sq_store_t *)bs, S_TOMB_DEL_AT, S_TOMB_DEL_RANGE, rel, true);
}

/* ---- opening ---- */

static void sq_close(hs__dav_store_t *bs)
{
    sq_store_t *s = (sq_store_t *)bs;
    while (s->idle) {
        conn_t *c = s->idle;
        s->idle = c->next;
        conn_close(c);
    }
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

static const hs__dav_store_ops_t sqlite_ops = {
    .close = sq_close,
    .prop_get = sq_prop_get,
    .prop_list = sq_prop_list,
    .prop_patch = sq_prop_patch,
    .prop_copy = sq_prop_copy,
    .prop_move = sq_prop_move,
    .prop_delete = sq_prop_delete,
    .lock_create = sq_lock_create,
    .lock_get = sq_lock_get,
    .lock_refresh = sq_lock_refresh,
    .lock_remove = sq_lock_remove,
    .lock_list = sq_lock_list,
    .lock_delete = sq_lock_delete,
    .tomb_add = sq_tomb_add,
    .tomb_check = sq_tomb_check,
    .tomb_clear = sq_tomb_clear,
};

int hs__dav_store_open_sqlite(const hs__dav_store_opts_t *o, hs__dav_store_t **out, const char **detail)
{
    *out = NULL;
    sq_store_t *s = hs_calloc(1, sizeof(*s));
    s->base.ops = &sqlite_ops;
    s->o = *o;
    if (!s->o.busy_ms)
        s->o.busy_ms = 5000;
    if (!s->o.max_locks)
        s->o.max_locks = 10000;
    if (!s->o.max_props)
        s->o.max_props = 1000;
    if (!s->o.max_prop_bytes)
        s->o.max_prop_bytes = 4u << 20;
    if (!s->o.max_tombs)
        s->o.max_tombs = 10000;
    s->path = hs_strdup(o->path);
    s->o.path = s->path;
    pthread_mutex_init(&s->mu, NULL);
    conn_t *c;
    int r = conn_open(s, &c);
    if (r) {
        *detail = "the WebDAV database cannot be opened";
        sq_close(&s->base);
        return r;
    }
    /* the schema, once, by whichever process comes first; a newer schema is not ours to touch */
    sqlite3_stmt *q = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    if (version > SCHEMA_VERSION) {
        *detail = "the WebDAV database was made by a newer statusd";
        r = -EPROTO;
    } else if (version < 0) {
        *detail = "the WebDAV database cannot be read (not an SQLite database?)";
        r = -EIO;
    } else {
        char init[sizeof(schema) + 64];
        snprintf(init, sizeof(init), "BEGIN IMMEDIATE;%sPRAGMA user_version=%d;COMMIT;", schema, SCHEMA_VERSION);
        int rc = sqlite3_exec(c->db, init, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            *detail = "the WebDAV database's tables cannot be created";
            r = err_of(rc);
        }
    }
    if (r) {
        conn_close(c);
        sq_close(&s->base);
        return r;
    }
    conn_put(s, c);
    *out = &s->base;
    return HS_OK;
}
