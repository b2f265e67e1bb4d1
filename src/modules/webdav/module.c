/* statusd — the WebDAV module: settings, start-up, the content handler (see dav.h).
 *
 * Configuration. A path names the module its handler with dav.root:
 *     paths: {/files: {dav: {root: /srv/files, quota: 10g}}}
 * and the flat configuration (no hosts) has a shortcut: --dav makes the default --root writable,
 * i.e. `statusd --root DIR --dav` serves DIR at "/" over WebDAV exactly as if "/" named
 * dav.root: DIR (the API then sits at --api-prefix, /codes stays). The static origin steps aside
 * for it (its mount hook reads `dav`), and GET and HEAD are still answered by the static origin's
 * code (hs_static_serve): ranges, conditionals, compression and the open-file cache unchanged.
 *
 * Start-up. The settings check opens the tree (before privileges are dropped, like a document
 * root) and works out where its database lives — never inside the tree (hs__dav_store_check_path)
 * — without creating anything. The module's init, still as root, creates the database (and the
 * state directory when it is missing) and gives them to --user, who must be able to write them
 * once root is gone; `statusd -t` runs it too (it initialises what serving would), so a database
 * that cannot be opened is reported before the server is started.
 *
 * Requests. The path below the mount point is decoded into a key (hs/path.h, HS_PATH_DECODE: the
 * normal form every module agrees on), the If header parsed once (several field lines joined with
 * a space, RFC 4918 §10.4 being no comma list), and the method dispatched. A 405 always carries
 * the Allow of the resource as it is (RFC 9110 §15.5.6). */
#define _GNU_SOURCE
#include "dav.h"

#include "hs/path.h"
#include "hs/static.h"
#include "hs/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- settings ---- */
#define OFF(f) offsetof(hs__dav_conf_t, f)
HS_DIRECTIVES_BEGIN
static const hs_directive_t directives[] = {
    {"dav", HS_DT_BOOL, OFF(flat), "false", "BOOL",
     "make --root writable over WebDAV at / (a configuration without hosts; with hosts, give a path dav.root)", 0, 0,
     HS_SCOPE_TOP},
    {"dav.root", HS_DT_STRING, OFF(root), "", "DIR",
     "on a path: serve DIR there over WebDAV (RFC 4918 classes 1-3, RFC 5842 bindings, RFC 4331 quotas)", 0, 0,
     HS_SCOPE_PATH},
    {"dav.quota", HS_DT_SIZE, OFF(quota), "0", "SIZE",
     "bytes a WebDAV tree may hold; a write beyond gets 507 and changes nothing (0: the disk's room)", 0, 0,
     HS_SCOPE_ALL},
    {"dav.store", HS_DT_STRING, OFF(store), "", "FILE",
     "the SQLite database of a tree's dead properties, locks and tombstones, outside the tree (default: one file "
     "per tree in $STATE_DIRECTORY, /var/lib/statusd as root, else ~/.local/state/statusd)",
     0, 0, HS_SCOPE_TOP | HS_SCOPE_PATH},
    {"dav.fsync", HS_DT_STRING, OFF(fsync), "full", "full|data|none",
     "what reaches the disk before a write is answered: the data and the new name (full), the data (data), "
     "nothing (none)",
     0, 0, HS_SCOPE_ALL},
    {"dav.processing", HS_DT_DURATION, OFF(processing), "10s", "DURATION",
     "send 102 Processing this often while a COPY, MOVE, DELETE or deep PROPFIND is still working", 100, 3600000,
     HS_SCOPE_ALL},
    {"dav.processing_max", HS_DT_INT, OFF(processing_max), "30", "N",
     "at most this many 102 Processing per request (0: none)", 0, 1000, HS_SCOPE_ALL},
    {"dav.max_nodes", HS_DT_INT, OFF(max_nodes), "10000", "N",
     "resources a PROPFIND with Depth: infinity may list; beyond, 403 with propfind-finite-depth", 1, 100000000,
     HS_SCOPE_ALL},
    {"dav.lock_timeout", HS_DT_DURATION, OFF(lock_timeout), "10m", "DURATION",
     "how long a WebDAV lock lasts when the client asks for no particular time", 1000, 604800000, HS_SCOPE_ALL},
    {"dav.lock_max", HS_DT_DURATION, OFF(lock_max), "1h", "DURATION",
     "the longest WebDAV lock granted (also for Timeout: Infinite)", 1000, 604800000, HS_SCOPE_ALL},
    {"dav.gone", HS_DT_DURATION, OFF(gone), "1h", "DURATION",
     "a GET of a resource deleted this recently gets 410 Gone instead of 404 (0: never)", 0, 0, HS_SCOPE_ALL},
};
HS_DIRECTIVES_END
#undef OFF

/* Trees made by the check, for init (configuration thread only). */
static hs__dav_tree_t *trees;

static void tree_close_store(hs__dav_tree_t *t)
{
    hs__dav_store_close(t->store);
    t->store = NULL;
    t->fs.store = NULL;
}

static void release(void *p)
{
    hs__dav_conf_t *c = p;
    hs__dav_tree_t *t = c->tree;
    if (!t)
        return;
    for (hs__dav_tree_t **pp = &trees; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    tree_close_store(t);
    hs__dav_fs_fini(&t->fs);
    hs_fsroot_fini(&t->root);
    free(t->mount);
    free(t->db_path);
    free(t);
    c->tree = NULL;
}

/* getcontenttype: what GET sends (the static origin's table). */
static const char *content_type(const char *rel)
{
    return hs_static_content_type(rel);
}

/* The directory part of a file path ("." for a bare name). */
static void dir_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, n, ".");
    else
        snprintf(out, n, "%.*s", (int)(slash == path ? 1 : slash - path), path);
}

/* The database must lie outside the tree. Its directory may not exist yet (the default state
 * directory is made by init): then the nearest existing ancestor is judged, which is where any
 * symbolic link could lead. */
static int check_db_place(const char *root_real, const char *db, const char **detail)
{
    char probe[PATH_MAX];
    snprintf(probe, sizeof(probe), "%s", db);
    for (int i = 0; i < 64; i++) {
        char dir[PATH_MAX];
        dir_of(probe, dir, sizeof(dir));
        struct stat st;
        if (stat(dir, &st) == 0) {
            /* a name in an existing directory: the store's own check */
            char name[PATH_MAX + 8];
            snprintf(name, sizeof(name), "%s/x", dir);
            return hs__dav_store_check_path(root_real, strcmp(probe, db) == 0 ? db : name, detail);
        }
        if (strcmp(dir, probe) == 0 || strcmp(dir, ".") == 0 || strcmp(dir, "/") == 0)
            break;
        snprintf(probe, sizeof(probe), "%s", dir);
    }
    *detail = "the WebDAV database's directory cannot be found";
    return HS_ERROR;
}

/* A configuration without hosts: its one host has only the paths modules mount by themselves. */
static bool flat_configuration(const hs_config_t *cfg)
{
    size_t n;
    const hs_hostconf_t *h = hs_config_hosts(cfg, &n);
    if (n != 1)
        return false;
    for (size_t i = 0; i < h->npaths; i++)
        if (!h->paths[i]->implicit)
            return false;
    return true;
}

static int check(hs_config_t *cfg, const hs_pathconf_t *path, void *p, const char **bad, char *err, size_t errlen)
{
    hs__dav_conf_t *c = p;
    if (c->fsync && strcmp(c->fsync, "full") && strcmp(c->fsync, "data") && strcmp(c->fsync, "none")) {
        *bad = "dav.fsync";
        snprintf(err, errlen, "dav.fsync must be full, data or none, got '%s'", c->fsync);
        return HS_ERROR;
    }
    const char *dir = NULL, *mount = NULL;
    if (c->root && flat_configuration(cfg)) {
        /* --dav-root or STATUSD_DAV_ROOT: a path's directive, which nothing here would read */
        *bad = "dav.root";
        snprintf(err, errlen,
                 "dav.root names the tree of a path (hosts: NAME: paths: /PREFIX: {dav: {root: DIR}}); "
                 "without hosts, --root DIR --dav serves DIR over WebDAV at /");
        return HS_ERROR;
    }
    if (c->flat) {
        const hs_directive_t *rd = hs_config_find("root");
        const char *top_root = rd ? *(char **)hs_config_field(cfg, rd) : NULL;
        *bad = "dav";
        if (!flat_configuration(cfg)) {
            snprintf(err, errlen,
                     "dav (--dav) makes the flat configuration's --root writable; with hosts give the "
                     "path its own tree (paths: /PREFIX: {dav: {root: DIR}})");
            return HS_ERROR;
        }
        if (!top_root) {
            snprintf(err, errlen, "dav (--dav) makes --root writable over WebDAV: give --root DIR too");
            return HS_ERROR;
        }
        dir = top_root;
        mount = "/";
    } else if (c->root && path->handler == hs_module_webdav.index) {
        dir = c->root;
        mount = path->mount[0] ? path->mount : "/";
        *bad = "dav.root";
    } else {
        return HS_OK; /* another module serves this path */
    }
    if (hs_static_mime_prepare() != HS_OK) {
        snprintf(err, errlen, "the MIME types cannot be read");
        return HS_ERROR;
    }
    hs__dav_tree_t *t = hs_calloc(1, sizeof(*t));
    int e = hs_fsroot_init(&t->root, dir, false);
    if (e != HS_OK) {
        snprintf(err, errlen, "%s: %s", dir, strerror(-e));
        free(t);
        return HS_ERROR;
    }
    /* hrefs are decoded paths, re-encoded when written (hs__dav_xml_href) */
    const char *why;
    hs_iovec_t dm;
    hs_arena_t a;
    hs_arena_init(&a);
    if (hs_path_normalize_arena(&a, hs_iov_cstr(mount), &dm, HS_PATH_DECODE, &why) != 0)
        dm = HS_IOV("/");
    t->mount = hs_strdup(dm.base);
    hs_arena_reset(&a);
    char db[PATH_MAX];
    if (c->store && c->store[0]) {
        snprintf(db, sizeof(db), "%s", c->store);
    } else if (hs__dav_store_default_path(t->root.real, db, sizeof(db)) != HS_OK) {
        snprintf(err, errlen, "%s: the WebDAV database's default path is too long; set dav.store", dir);
        goto Fail;
    }
    if (check_db_place(t->root.real, db, &why) != HS_OK) {
        *bad = c->store && c->store[0] ? "dav.store" : *bad;
        snprintf(err, errlen, "%s: %s (%s)", db, why, t->root.real);
        goto Fail;
    }
    for (hs__dav_tree_t *o = trees; o; o = o->next)
        if (strcmp(o->db_path, db) == 0 && strcmp(o->root.real, t->root.real) != 0) {
            *bad = "dav.store";
            snprintf(err, errlen, "%s would hold the WebDAV state of two trees (%s and %s): give each its own", db,
                     o->root.real, t->root.real);
            goto Fail;
        }
    /* a negotiating path's GET answers from type maps in the tree (hs_static_serve): a broken one
     * is found now, not at request time; with --dav the static origin's check walked --root */
    if (!c->flat && hs_static_check_negotiation(path, &t->root, bad, err, errlen) != HS_OK)
        goto Fail;
    t->db_path = hs_strdup(db);
    hs__dav_fs_init(&t->fs, &t->root, NULL, t->mount);
    t->fs.content_type = content_type;
    t->fs.quota = c->quota;
    t->fs.fsync = !c->fsync || !strcmp(c->fsync, "full") ? HS__DAV_FSYNC_FULL
                  : !strcmp(c->fsync, "data")            ? HS__DAV_FSYNC_DATA
                                                         : HS__DAV_FSYNC_NONE;
    t->fs.tomb_seconds = (uint32_t)HS_MIN(c->gone / 1000, (uint64_t)UINT32_MAX);
    t->next = trees;
    trees = t;
    c->tree = t;
    return HS_OK;
Fail:
    hs_fsroot_fini(&t->root);
    free(t->mount);
    free(t);
    return HS_ERROR;
}

/* With --dav the tree is at "/" of the flat configuration (the static origin does not mount
 * there then); paths name their trees themselves. */
static const char *mount(hs_config_t *cfg, const void *conf, bool flat)
{
    const hs__dav_conf_t *c = conf;
    const hs_directive_t *rd = hs_config_find("root");
    return flat && c->flat && rd && *(char **)hs_config_field(cfg, rd) ? "/" : NULL;
}

/* ---- start-up: the databases, made and given to --user while we are root ---- */

static bool user_ids(const char *user, uid_t *uid, gid_t *gid)
{
    if (!user || !*user)
        return false;
    struct passwd *pw = getpwnam(user);
    if (pw) {
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
        return true;
    }
    char *end;
    unsigned long v = strtoul(user, &end, 10);
    if (*end || end == user || v > 0xfffffffeUL)
        return false;
    *uid = (uid_t)v;
    *gid = (gid_t)v;
    return true;
}

static int open_tree(hs__dav_tree_t *t, const hs_config_t *cfg)
{
    const char *user = cfg->user;
    uid_t uid = 0;
    gid_t gid = 0;
    bool give = geteuid() == 0 && user_ids(user, &uid, &gid) && uid != 0;
    char dir[PATH_MAX];
    dir_of(t->db_path, dir, sizeof(dir));
    struct stat st;
    if (stat(dir, &st) != 0) {
        /* the default state directory (or a configured one) that is not there yet: made for the
         * user who will write it; its parents as any directory would be */
        char part[PATH_MAX];
        for (size_t i = 1; dir[i - 1]; i++) {
            if (dir[i] != '/' && dir[i] != '\0')
                continue;
            snprintf(part, sizeof(part), "%.*s", (int)i, dir);
            if (mkdir(part, dir[i] ? 0755 : 0750) != 0 && errno != EEXIST) {
                fprintf(stderr, "statusd: dav: cannot create %s: %s\n", part, strerror(errno));
                return HS_ERROR;
            }
        }
        if (give && chown(dir, uid, gid) != 0)
            hs_log_warn("dav: cannot give %s to %s: %s", dir, user, strerror(errno));
    }
    const char *why;
    if (hs__dav_store_check_path(t->root.real, t->db_path, &why) != HS_OK) {
        fprintf(stderr, "statusd: dav: %s: %s\n", t->db_path, why);
        return HS_ERROR;
    }
    hs__dav_store_opts_t o = {.path = t->db_path};
    int r = hs__dav_store_open_sqlite(&o, &t->store, &why);
    if (r != HS_OK) {
        fprintf(stderr, "statusd: dav: %s: %s (%s)\n", t->db_path, why, strerror(-r));
        return HS_ERROR;
    }
    if (give) {
        /* the database and its WAL companions, which the open just made (SQLite keeps them while
         * a connection is open: the store's pool holds one) */
        static const char *const sfx[] = {"", "-wal", "-shm"};
        for (size_t i = 0; i < HS_ARRAY_SIZE(sfx); i++) {
            char f[PATH_MAX + 8];
            snprintf(f, sizeof(f), "%s%s", t->db_path, sfx[i]);
            if (chown(f, uid, gid) != 0 && errno != ENOENT)
                hs_log_warn("dav: cannot give %s to %s: %s", f, user, strerror(errno));
        }
    }
    /* several instances serving the tree: its locks in Redis (store.redis), the rest stays here */
    const hs_store_settings_t *ss = hs_store_settings(cfg);
    if (ss) {
        hs__dav_redis_opts_t ro = {.addr = ss->addr,
                                   .prefix = ss->prefix ? ss->prefix : "",
                                   .tree = t->root.real,
                                   .timeout_ms = (uint32_t)ss->timeout,
                                   .failure = ss->failure};
        hs__dav_store_open_redis(t->store, &ro, &t->store);
    }
    t->fs.store = t->store;
    hs_log_info("dav: %s at %s (state in %s%s)", t->root.real, t->mount, t->db_path, ss ? "; locks in Redis" : "");
    return HS_OK;
}

static int init(hs_gen_t *gen)
{
    for (hs__dav_tree_t *t = trees; t; t = t->next)
        if (!t->store && open_tree(t, gen->cfg) != HS_OK)
            return HS_ERROR;
    return HS_OK;
}

/* ---- responses shared by the methods ---- */

int hs__dav_store_status(int r, const char **detail)
{
    if (r == -EBUSY) {
        *detail = "the WebDAV database is busy; retry shortly";
        return 503;
    }
    if (r == -ENOSPC) {
        *detail = "the WebDAV database is full (RFC 4918 §11.5)";
        return 507;
    }
    *detail = "the WebDAV database failed";
    return 500;
}

/* What the resource at the request URI accepts, as it is now (OPTIONS and every 405). */
static const char *allow_of(const hs__dav_req_t *d)
{
    if (!d->exists)
        return "OPTIONS, PUT, MKCOL, LOCK";
    if (S_ISDIR(d->st.st_mode))
        return "OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK, BIND, UNBIND, REBIND";
    return "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK";
}

int hs__dav_fail(hs__dav_req_t *d, int status, const char *detail)
{
    hs_req_t *req = d->req;
    if (status == 503) { /* RFC 9110 §10.2.3: when to come back */
        hs_res_headerf(req, "Retry-After", "%d", hs_req_top(req)->retry_after);
        if (hs__dav_redis_refused) { /* the shared lock store is down (store.on_failure: closed) */
            hs_req_set_cause(req, hs_store_cause_unavailable());
            detail = "the shared lock store (Redis) does not answer; retry shortly";
        }
    }
    hs__dav_redis_refused = false;
    if (status == 405) {
        struct stat st;
        const char *why;
        d->exists = hs__dav_stat(d->fs, d->rel, &st, &why) == 0;
        if (d->exists)
            d->st = st;
        req->allow = allow_of(d); /* RFC 9110 §15.5.6 */
    }
    return hs_res_error(req, status, detail ? detail : hs_status_reason(status));
}

static void free_buf(void *p)
{
    hs_buf_free(p);
}

int hs__dav_send_xml(hs__dav_req_t *d, int status, hs_buf_t *b)
{
    hs_req_t *req = d->req;
    hs_buf_t *keep = hs_arena_alloc(&req->arena, sizeof(*keep));
    *keep = *b;
    *b = (hs_buf_t){0};
    hs_req_cleanup(req, free_buf, keep);
    hs_res_body(req, keep->base, keep->len);
    req->content_type = "application/xml; charset=utf-8";
    return hs_res_send(req, status);
}

int hs__dav_condition(hs__dav_req_t *d, int status, const char *condition, const hs_iovec_t *hrefs, size_t n)
{
    hs_buf_t b = {0};
    hs__dav_xml_error(&b, condition, hrefs, n);
    return hs__dav_send_xml(d, status, &b);
}

int hs__dav_locked(hs__dav_req_t *d, hs_iovec_t href)
{
    d->req->error_detail = "the resource is locked and the request did not submit the lock's token";
    return hs__dav_condition(d, 423, "lock-token-submitted", &href, href.base ? 1 : 0);
}

bool hs__dav_unlocked(hs__dav_req_t *d, const char *rel, int depth, bool membership)
{
    hs_iovec_t locked;
    int st = hs__dav_locks_check(d->fs, &d->req->arena, &d->ifh, rel, depth, membership, d->now, &locked);
    if (st == 0)
        return true;
    if (st == 423)
        hs__dav_locked(d, locked);
    else
        hs__dav_fail(d, st, st == 503 ? "the WebDAV database is busy; retry shortly" : "the lock check failed");
    return false;
}

bool hs__dav_allowed(hs__dav_req_t *d, const char *lock_rel, int depth, bool membership)
{
    int st = d->if_subtree ? hs__dav_if_check_subtree(d->fs, &d->req->arena, &d->ifh, d->rel, d->now)
                           : hs__dav_if_check(d->fs, &d->req->arena, &d->ifh, d->rel, d->now);
    if (st == 412) {
        hs__dav_fail(d, 412, "no list of the If header holds for the resources it names (RFC 4918 §10.4)");
        return false;
    }
    if (st) {
        hs__dav_fail(d, st, "the If header could not be evaluated");
        return false;
    }
    return !lock_rel || hs__dav_unlocked(d, lock_rel, depth, membership);
}

void hs__dav_location(hs__dav_req_t *d, const char *rel, bool collection)
{
    hs_req_t *req = d->req;
    hs_iovec_t href = hs__dav_href(&req->arena, d->fs, rel, collection);
    hs_iovec_t enc = hs_pct_encode_arena(&req->arena, href.base, href.len, HS_PCT_KEEP_SLASH);
    hs_res_header(req, HS_IOV("Location"), enc);
}

bool hs__dav_bind_aware(const hs__dav_req_t *d)
{
    const hs_req_t *req = d->req;
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        if (!HS_IOV_IEQ(h->name, "dav"))
            continue;
        size_t pos = 0;
        hs_iovec_t el;
        while ((el = hs_list_next(h->value, &pos)).base)
            if (HS_IOV_IEQ(el, "bind"))
                return true;
    }
    return false;
}

/* The key of a decoded path below `mount`. */
static int key_below(hs__dav_req_t *d, const char *mount, hs_iovec_t path, const char **rel, const char **detail)
{
    hs_iovec_t r;
    if (!hs__dav_path_rel(hs_iov_cstr(mount), path, &r)) {
        *detail = "the destination is outside this WebDAV tree (RFC 4918 §9.8.5: another URL namespace)";
        return 502;
    }
    char *k = hs_arena_strndup(&d->req->arena, r.base, r.len);
    for (char *s = k; *s;) {
        char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char save = s[n];
        s[n] = '\0';
        bool hidden = hs__dav_fs_hidden(s);
        s[n] = save;
        if (hidden) {
            *detail = "names starting with " HS__DAV_TMP_PREFIX " are the server's own";
            return 403;
        }
        s += n + (e ? 1 : 0);
    }
    *rel = k;
    return 0;
}

int hs__dav_key(hs__dav_req_t *d, hs_iovec_t path, const char **rel, const char **detail)
{
    return key_below(d, d->t->mount, path, rel, detail);
}

/* ---- request bodies read as XML ---- */

static bool xml_type(hs_iovec_t ct)
{
    size_t n = 0;
    while (n < ct.len && ct.base[n] != ';')
        n++;
    hs_iovec_t t = hs_iov(ct.base, n);
    while (t.len && (t.base[t.len - 1] == ' ' || t.base[t.len - 1] == '\t'))
        t.len--;
    while (t.len && (t.base[0] == ' ' || t.base[0] == '\t'))
        t = hs_iov(t.base + 1, t.len - 1);
    return HS_IOV_IEQ(t, "application/xml") || HS_IOV_IEQ(t, "text/xml") ||
           (t.len > 4 && hs_iov_ieq(hs_iov(t.base + t.len - 4, 4), "+xml", 4));
}

static void xml_piece(hs_req_t *req, const char *data, size_t len, int how)
{
    hs__dav_req_t *d = hs_req_ctx(req, &hs_module_webdav);
    if (!d->xml)
        return;
    hs__dav_redis_refused = false; /* this request's own from here (another's may be left on the thread) */
    if (how == HS_BODY_ERROR) {    /* answered by the engine (or nobody is left) */
        hs__dav_xml_free(d->xml);
        d->xml = NULL;
        return;
    }
    const char *detail = NULL;
    int st = len ? hs__dav_xml_feed(d->xml, data, len, &detail) : 0;
    if (st) {
        hs__dav_xml_free(d->xml);
        d->xml = NULL;
        hs__dav_fail(d, st, detail);
        return;
    }
    if (how != HS_BODY_END)
        return;
    const hs__dav_xnode_t *root = NULL;
    hs__dav_xml_t *x = d->xml;
    d->xml = NULL;
    if ((st = hs__dav_xml_finish(x, &root, &detail)) != 0) {
        hs__dav_fail(d, st, detail);
        return;
    }
    d->on_xml(d, root);
}

int hs__dav_read_xml(hs__dav_req_t *d, void (*on_xml)(hs__dav_req_t *d, const hs__dav_xnode_t *root))
{
    hs_req_t *req = d->req;
    if (hs_req_has_body(req)) {
        hs_iovec_t ct = hs_req_header(req, HS_HDR_CONTENT_TYPE);
        if (ct.base && !xml_type(ct)) {
            /* RFC 9110 §15.5.16: say what would have been accepted */
            HS_RES_HEADER(req, "Accept", "application/xml, text/xml");
            return hs__dav_fail(d, 415, "the request body of this method is XML: send application/xml or text/xml");
        }
        hs_iovec_t ce = hs_req_header(req, HS_HDR_CONTENT_ENCODING);
        if (ce.base && !HS_IOV_IEQ(ce, "identity")) {
            HS_RES_HEADER(req, "Accept-Encoding", "identity");
            return hs__dav_fail(d, 415, "a content coding of a WebDAV request body is not supported here");
        }
    }
    d->on_xml = on_xml;
    d->xml = hs__dav_xml_new(&req->arena, NULL);
    return hs_req_body_stream(req, xml_piece);
}

/* ---- the request ---- */

static void req_end(void *p)
{
    hs__dav_req_t *d = p;
    hs__dav_xml_free(d->xml);
    d->xml = NULL;
    hs__dav_put_abort(d->put); /* an upload that did not finish leaves the old file as it was */
    d->put = NULL;
}

static int options(hs__dav_req_t *d)
{
    hs_req_t *req = d->req;
    /* RFC 4918 §10.1 (compliance classes 1, 2, 3), RFC 5842 §8.1 (bind); MS-Author-Via tells
     * Microsoft's clients to author over WebDAV rather than FrontPage extensions */
    HS_RES_HEADER(req, "DAV", "1, 2, 3, bind");
    HS_RES_HEADER(req, "MS-Author-Via", "DAV");
    req->allow = allow_of(d); /* RFC 9110 §9.3.7 */
    req->content_length = 0;
    return hs_res_send(req, 200);
}

/* RFC 9110 §13.2.2 steps 1-4 for a method that changes or reads state other than GET's: the
 * resource's validators as GET would send them. 0 or 412. */
static int preconditions(const hs__dav_req_t *d)
{
    char tag[HS_ETAG_STAT_MAX + 1];
    hs_validators_t v = {.exists = d->exists};
    if (d->exists) {
        v.etag = hs_iov(tag, hs_etag_from_stat(tag, &d->st, NULL));
        v.has_last_modified = true;
        v.last_modified = d->st.st_mtime;
    }
    int r = hs_preconditions(d->req, &v);
    return r == 304 ? 412 : r;
}

/* The If field: its lines joined with a space (one value, RFC 4918 §10.4 is no comma list). */
static hs_iovec_t if_value(hs_req_t *req)
{
    int n = hs_req_field_count(req, HS_HDR_IF);
    if (n <= 1)
        return hs_req_header(req, HS_HDR_IF);
    hs_buf_t b = {0};
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        if (h->token != HS_HDR_IF)
            continue;
        if (b.len)
            HS_BUF_LIT(&b, " ");
        hs_buf_append(&b, h->value.base, h->value.len);
    }
    hs_iovec_t v = hs_iov(hs_arena_strndup(&req->arena, b.base, b.len), b.len);
    hs_buf_free(&b);
    return v;
}

static int content(hs_req_t *req)
{
    const hs__dav_conf_t *c = hs_req_conf(req, &hs_module_webdav);
    if (!c->tree)
        return HS_DECLINED;
    hs__dav_redis_refused = false; /* nothing refused for this request yet */
    hs__dav_req_t *d = hs_arena_alloc(&req->arena, sizeof(*d));
    memset(d, 0, sizeof(*d));
    d->req = req;
    d->c = c;
    d->t = c->tree;
    d->fs = &c->tree->fs;
    d->rel = "";
    d->now = (int64_t)time(NULL);
    hs_req_set_ctx(req, &hs_module_webdav, d);
    hs_req_cleanup(req, req_end, d);
    hs_method_t m = req->p.method_id;

    /* the key: the path below the mount point, every escape decoded once */
    const char *detail = NULL;
    hs_iovec_t dp;
    int st = hs_path_normalize_arena(&req->arena, hs_req_path_below_mount(req), &dp, HS_PATH_DECODE, &detail);
    if (st)
        return hs__dav_fail(d, st, detail);
    d->slash = dp.len > 1 && dp.base[dp.len - 1] == '/';
    const char *rel;
    if ((st = key_below(d, "/", dp, &rel, &detail)) != 0) {
        bool reading = m == HS_METHOD_GET || m == HS_METHOD_HEAD || m == HS_METHOD_PROPFIND || m == HS_METHOD_OPTIONS;
        return hs__dav_fail(d, reading ? 404 : st, reading ? "no resource exists at this path" : detail);
    }
    d->rel = rel;

    if (m == HS_METHOD_GET || m == HS_METHOD_HEAD) {
        /* RFC 9110 §15.5.11: deleted here lately (a tombstone), not just unknown. One fstatat
         * tells that nothing is there (existence only: serving is the static origin's, with its
         * containment) before the store is asked. A name deleted while its variants remain
         * (page beside page.en.html on a negotiating path) is still available: negotiated. */
        struct stat sst;
        if (d->c->gone && rel[0] && fstatat(d->t->root.fd, rel, &sst, AT_SYMLINK_NOFOLLOW) != 0 &&
            (errno == ENOENT || errno == ENOTDIR) && hs__dav_gone(d->fs, rel, d->now) &&
            !hs_static_negotiable(req, &d->t->root, rel))
            return hs__dav_fail(d, 410, "this resource was deleted; it is gone for good");
        /* RFC 4918 §10.4: the If header is a precondition of any method (rare on a GET: only
         * then does the read cost more than the static origin's own) */
        if (hs_req_field_count(req, HS_HDR_IF) > 0) {
            d->origin = (hs__dav_origin_t){hs_iov_cstr(hs_req_scheme(req)), req->meta.host};
            if ((st = hs__dav_if_parse(&req->arena, if_value(req), &d->origin, &d->ifh, &detail)) != 0)
                return hs__dav_fail(d, st, detail);
            if (!hs__dav_allowed(d, NULL, 0, false))
                return HS_OK;
        }
        return hs_static_serve(req, &d->t->root);
    }

    st = hs__dav_stat(d->fs, rel, &d->st, &detail);
    if (st != 0 && st != 404)
        return hs__dav_fail(d, st, detail);
    d->exists = st == 0;
    if (d->exists && d->slash && !S_ISDIR(d->st.st_mode) && m != HS_METHOD_MKCOL)
        return hs__dav_fail(d, 404, "this is a file, not a collection; its address has no trailing slash");
    if (m == HS_METHOD_OPTIONS)
        return options(d);

    d->origin = (hs__dav_origin_t){hs_iov_cstr(hs_req_scheme(req)), req->meta.host};
    if ((st = hs__dav_if_parse(&req->arena, if_value(req), &d->origin, &d->ifh, &detail)) != 0)
        return hs__dav_fail(d, st, detail);
    if ((st = preconditions(d)) != 0)
        return hs__dav_fail(d, st, "a precondition (If-Match, If-None-Match or If-Unmodified-Since) failed");

    switch (m) {
    case HS_METHOD_PUT: return hs__dav_m_put(d);
    case HS_METHOD_DELETE: return hs__dav_m_delete(d);
    case HS_METHOD_MKCOL: return hs__dav_m_mkcol(d);
    case HS_METHOD_COPY: return hs__dav_m_copymove(d, false);
    case HS_METHOD_MOVE: return hs__dav_m_copymove(d, true);
    case HS_METHOD_PROPFIND: return hs__dav_m_propfind(d);
    case HS_METHOD_PROPPATCH: return hs__dav_m_proppatch(d);
    case HS_METHOD_LOCK: return hs__dav_m_lock(d);
    case HS_METHOD_UNLOCK: return hs__dav_m_unlock(d);
    case HS_METHOD_BIND: return hs__dav_m_bind(d, HS__DAV_BIND);
    case HS_METHOD_UNBIND: return hs__dav_m_bind(d, HS__DAV_UNBIND);
    case HS_METHOD_REBIND: return hs__dav_m_bind(d, HS__DAV_REBIND);
    default: return hs__dav_fail(d, 405, "this method is not one a WebDAV resource accepts");
    }
}

hs_module_t hs_module_webdav = {
    .name = "webdav",
    .conf = {.name = "webdav",
             .directives = directives,
             .count = HS_ARRAY_SIZE(directives),
             .size = sizeof(hs__dav_conf_t),
             .handler = "dav.root",
             .check = check,
             .release = release,
             .mount = mount},
    .init = init, /* the stores close with the settings (release), after the helper threads are done */
    .content = content,
};
