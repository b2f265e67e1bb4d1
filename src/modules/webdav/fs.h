/* statusd — WebDAV file operations on a tree below an hs_fsroot_t (fs.c, copy.c, walk.c), and
 * the live properties of its resources (live.c).
 *
 * Paths are keys relative to the root, as the store takes them: "" for the root, "a/b" below it
 * (hs__dav_path_rel makes them from a request path). Every file is reached through the root's
 * descriptor: a resource's parent directory with hs_fsroot_open (openat2 RESOLVE_BENEATH, or the
 * root's symlink policy), then one name relative to it, opened with O_NOFOLLOW or acted on with
 * the *at calls — no string path outside the tree is ever built.
 *
 * Each operation returns the status of the whole request: 201/204 (or 200), 207 when some
 * members of a collection failed — each reported once through the caller's callback, for the
 * multistatus body —, or the single status that applies (403, 404, 405, 409, 412, 423, 500,
 * 502, 503, 507, 508), with *detail a static explanation. Lock checks (423) and preconditions
 * (412 from If/If-Match) are the caller's, made before calling; what is checked here is what only
 * the file system can tell.
 *
 * The operations block on the file system (and on fsync): the dav module runs those that walk
 * trees (DELETE, COPY, MOVE across file systems, Depth-infinity PROPFIND) on helper threads
 * (hs_req_offload) with 102 Processing meanwhile, and PUT writes as the body arrives. All
 * functions are safe from any thread; an hs__dav_fs_t is shared. */
#ifndef HS_DAV_FS_H
#define HS_DAV_FS_H

#include "hdr.h"
#include "store.h"

#include "hs/fsroot.h"

#include <pthread.h>
#include <sys/stat.h>

/* When data reaches the disk before a 2xx is sent. */
enum {
    HS__DAV_FSYNC_FULL = 0, /* default: a new file's data before it is renamed into place (so a
                               crash can never leave a name pointing at a partial file), then the
                               directory (so the rename itself survives a crash once answered) */
    HS__DAV_FSYNC_DATA,     /* the data only: the name may revert to the old content after a crash */
    HS__DAV_FSYNC_NONE,     /* none: the kernel writes back when it will (tests, scratch trees) */
};

/* Names the file operations make for themselves and every listing hides: a PUT's temporary
 * file where the file system has no O_TMPFILE. */
#define HS__DAV_TMP_PREFIX ".~statusd-"
bool hs__dav_fs_hidden(const char *name);

typedef struct hs__dav_fs_s {
    const hs_fsroot_t *root;
    hs__dav_store_t *store; /* dead properties, locks, tombstones follow the files; NULL: none */
    const char *mount;      /* the decoded URL path of the root ("/dav", "/"), for hrefs */
    /* The Content-Type GET sends for the file at rel (the static module's MIME table, e.g. a
     * wrapper of hs__static_mime_lookup): getcontenttype. NULL: application/octet-stream. */
    const char *(*content_type)(const char *rel);
    uint64_t quota;        /* bytes the tree may hold (RFC 4331); 0: the file system's room */
    int fsync;             /* HS__DAV_FSYNC_* */
    uint32_t tomb_seconds; /* 410 Gone for this long after a DELETE; 0: no tombstones */
    size_t max_depth;      /* directory nesting a walk follows: 0 = 128 */
    /* quota accounting: bytes of regular files below the root, walked at most every
     * usage_ttl_ms and adjusted by this process's own writes in between */
    uint32_t usage_ttl_ms; /* 0 = 5000 */
    pthread_mutex_t mu;
    uint64_t used;
    uint64_t used_at_ms;
    bool used_known;
} hs__dav_fs_t;

/* Defaults set, fields may be changed after. hs__dav_fs_fini releases the mutex only: the root
 * and the store remain the caller's. */
void hs__dav_fs_init(hs__dav_fs_t *fs, const hs_fsroot_t *root, hs__dav_store_t *store, const char *mount);
void hs__dav_fs_fini(hs__dav_fs_t *fs);

/* A member that failed, for a 207: rel is the member's key, status its code (valid during the
 * call). */
typedef void (*hs__dav_report_cb)(void *ctx, const char *rel, int status, const char *detail);

/* Look at a resource without following a final symbolic link out of the tree: 0 with *st (the
 * resource itself, or what an in-tree link names), or 403/404/500/503. */
int hs__dav_stat(const hs__dav_fs_t *fs, const char *rel, struct stat *st, const char **detail);
/* 410 Gone: 1 when rel was deleted within tomb_seconds and nothing is there now (the caller has
 * found nothing), 0 otherwise (also without a store). */
int hs__dav_gone(const hs__dav_fs_t *fs, const char *rel, int64_t now);

/* ---- PUT (RFC 4918 §9.7, RFC 9110 §9.3.4) ----
 * The body goes to a temporary file in the target's directory (O_TMPFILE: unnamed, so a crash
 * leaves nothing behind), which replaces the target in one rename when complete: a reader sees
 * the old content or the new, never a mixture, and a failed or interrupted upload leaves the old
 * content as it was.
 * begin: 0 with *out, or 409 (no parent collection, RFC 4918 §9.7.1), 405 (a collection is
 * there), 403, 507 (`expected` bytes — the Content-Length, or -1 — would pass the quota), 500/503.
 * write: 0, or 507 (ENOSPC, EDQUOT, or the quota passed while writing) / 500; after a failure
 * only abort is allowed. commit: `exclusive` for a PUT that must not replace (If-None-Match: *):
 * 412 when something is there by then. 0 with *created (201 new / 204 replaced) and the new
 * file's *st (its ETag), or 412/507/500. commit and abort release the handle. */
typedef struct hs__dav_put_s hs__dav_put_t;
int hs__dav_put_begin(hs__dav_fs_t *fs, const char *rel, int64_t expected, hs__dav_put_t **out, const char **detail);
int hs__dav_put_write(hs__dav_put_t *p, const void *data, size_t len, const char **detail);
int hs__dav_put_commit(hs__dav_put_t *p, bool exclusive, bool *created, struct stat *st, const char **detail);
void hs__dav_put_abort(hs__dav_put_t *p);

/* ---- MKCOL (RFC 4918 §9.3.1): 201, 405 (something is there), 409 (no parent), 403, 507 ---- */
int hs__dav_mkcol(hs__dav_fs_t *fs, const char *rel, const char **detail);

/* ---- DELETE (RFC 4918 §9.6) ----
 * A file, or a collection with all its members (depth-first; a symbolic link is removed, never
 * followed). 204; 207 when members failed (each reported; their ancestors then cannot be removed
 * and are not reported, §9.6.1); 404; 403 (the root itself, or the resource itself failed).
 * With a store: the removed resources' dead properties and locks go, and a tombstone keeps the
 * path Gone (410) for tomb_seconds. */
int hs__dav_delete(hs__dav_fs_t *fs, const char *rel, hs__dav_report_cb report, void *ctx, const char **detail);

/* ---- COPY and MOVE (RFC 4918 §9.8, §9.9) ----
 * depth: 0 or HS__DAV_DEPTH_INFINITY (COPY of a collection; MOVE is always infinity). An
 * existing destination with overwrite is deleted first (§9.8.4, §9.9.3) — a file replaced by a
 * file goes in one rename, so a failed copy (507) leaves it intact —, without overwrite it is a
 * 412. 201 (*created) / 204; 207 with members reported; 403 (source and destination the same,
 * or one inside the other); 404 (no source); 409 (no destination parent, §9.8.5); 507; 508 (a
 * cycle of in-tree symbolic links below the source, §9.8.8 with RFC 5842 §7.2). Dead properties
 * follow; a MOVE's source loses its locks (§9.9.1 / §7.7), the destination's tombstones go. */
int hs__dav_copy(hs__dav_fs_t *fs, const char *src, const char *dst, int depth, bool overwrite,
                 hs__dav_report_cb report, void *ctx, bool *created, const char **detail);
int hs__dav_move(hs__dav_fs_t *fs, const char *src, const char *dst, bool overwrite, hs__dav_report_cb report,
                 void *ctx, bool *created, const char **detail);

/* ---- Bindings (RFC 5842), bind.c ----
 * A second binding of a resource is a symbolic link inside the tree, relative (it stays right
 * when the whole tree moves), which every operation here treats as a binding: walks follow it
 * (208/508), DELETE and UNBIND remove the link and never its target, resource-id is the target's.
 * bind: a new binding `segment` in collection coll_rel to the resource target_rel (which must
 * exist): 201 (*created) / 200 (an existing binding replaced, overwrite), 404 (no target), 409
 * (coll_rel is not a collection), 412 (the segment is bound and !overwrite), 403 (the root, or a
 * name the file operations keep for themselves), 507.
 * unbind: remove the binding coll_rel/segment: 200, 404; the last binding of a resource (not a
 * link) is the resource itself, deleted as DELETE would (RFC 5842 §5), with 207 possible.
 * rebind: move the binding src_rel to coll_rel/segment — MOVE without ever copying: 201/200,
 * 404, 409, 412, 403; 502 would need another file system (EXDEV: RFC 5842 §6.2's
 * cross-server-binding). */
int hs__dav_bind(hs__dav_fs_t *fs, const char *coll_rel, const char *segment, const char *target_rel, bool overwrite,
                 bool *created, const char **detail);
int hs__dav_unbind(hs__dav_fs_t *fs, const char *coll_rel, const char *segment, hs__dav_report_cb report, void *ctx,
                   const char **detail);
int hs__dav_rebind(hs__dav_fs_t *fs, const char *coll_rel, const char *segment, const char *src_rel, bool overwrite,
                   bool *created, const char **detail);

/* ---- Walking a tree (walk.c), for PROPFIND and COPY ----
 * Calls cb for rel and, with depth 1 or infinity, its members (in-tree symbolic links are
 * followed like any binding, names sorted, hidden names skipped). kind says what the member is:
 *   HS__DAV_WALK_FILE, HS__DAV_WALK_COLL   a resource (st valid)
 *   HS__DAV_WALK_AGAIN   a collection reached a second time through another binding: report it
 *                        208 Already Reported (RFC 5842 §7.1) and do not descend (st valid)
 *   HS__DAV_WALK_LOOP    a collection that is its own ancestor: a cycle (508 Loop Detected for a
 *                        client that does not understand bindings, RFC 5842 §7.2) (st valid)
 *   HS__DAV_WALK_ERROR   a member that cannot be opened (status says why; st NULL)
 * cb returns 0 to go on, a non-zero status to stop the walk with it. The walk stops with 403 when
 * it would call cb more than max_nodes times (0: no limit) — a PROPFIND Depth: infinity past the
 * configured budget, answered with <propfind-finite-depth/> (RFC 4918 §9.1) — before the call
 * that would pass it. Returns 0, or that status, or 404/403/500 for rel itself. */
enum { HS__DAV_WALK_FILE, HS__DAV_WALK_COLL, HS__DAV_WALK_AGAIN, HS__DAV_WALK_LOOP, HS__DAV_WALK_ERROR };
typedef int (*hs__dav_walk_cb)(void *ctx, const char *rel, const struct stat *st, int kind, int status);
int hs__dav_walk(const hs__dav_fs_t *fs, const char *rel, int depth, size_t max_nodes, hs__dav_walk_cb cb, void *ctx,
                 const char **detail);
/* The same with flags. HS__DAV_WALK_REPEAT: a collection reached again through another binding
 * (not a cycle) is entered again, its members reported under that binding too, instead of
 * HS__DAV_WALK_AGAIN — for a PROPFIND from a client that does not understand 208 (RFC 5842
 * §7.1, §8.2); set max_nodes, which then bounds the work. */
#define HS__DAV_WALK_REPEAT 1u
int hs__dav_walk_flags(const hs__dav_fs_t *fs, const char *rel, int depth, size_t max_nodes, unsigned flags,
                       hs__dav_walk_cb cb, void *ctx, const char **detail);

/* ---- Live properties (live.c) ----
 * The RFC 4918 §15 properties (creationdate, getcontentlength, getcontenttype, getetag — the
 * static GET's ETag —, getlastmodified, resourcetype, supportedlock, lockdiscovery), RFC 4331's
 * quota-available-bytes and quota-used-bytes (collections), RFC 5842's resource-id and
 * parent-set; and the two RFC 4918 defines as settable (§15.2, §15.3): displayname, the
 * resource's own name unless a client set another, and getcontentlanguage, present once a client
 * set it. A value set by PROPPATCH is kept in the store and wins over the computed one.
 * Values are fragments for hs__dav_ms_prop; they use the prefix D, which every body the
 * writer makes declares. */
typedef struct hs__dav_live_s {
    const char *name; /* in DAV: */
    bool allprop;     /* returned by allprop (RFC 4918's own; not RFC 4331's or RFC 5842's) */
    bool settable;    /* PROPPATCH may set it (the store's value wins); else protected */
} hs__dav_live_t;
/* Every live property, for propname and allprop; *n entries. */
const hs__dav_live_t *hs__dav_live_table(size_t *n);
/* q's entry in the table, NULL when q is no live property. */
const hs__dav_live_t *hs__dav_live_find(const hs__dav_qname_t *q);
/* Is q a protected live property (so PROPPATCH must answer 403 cannot-modify-protected-property,
 * RFC 4918 §9.2.1)? */
bool hs__dav_live_protected(const hs__dav_qname_t *q);
/* Append q's value for the resource at rel (stat st, collection when S_ISDIR) to out: 200, or
 * 404 when q is not a live property of this resource, or 500/503 (the store failed). */
int hs__dav_live_get(hs__dav_fs_t *fs, hs_arena_t *a, const char *rel, const struct stat *st, const hs__dav_qname_t *q,
                     int64_t now, hs_buf_t *out);
/* A lock as a DAV:activelock (RFC 4918 §14.1), its timeout as the seconds left; and the body of
 * a LOCK response (§9.10.1: <D:prop><D:lockdiscovery> with the lock). */
void hs__dav_xml_activelock(hs_buf_t *b, const hs__dav_fs_t *fs, const hs__dav_lock_t *l, int64_t now);
void hs__dav_xml_lock_body(hs_buf_t *b, const hs__dav_fs_t *fs, const hs__dav_lock_t *l, int64_t now);
/* The href of a key: mount + "/" + rel, with a trailing slash for a collection. In the arena. */
hs_iovec_t hs__dav_href(hs_arena_t *a, const hs__dav_fs_t *fs, const char *rel, bool collection);
/* RFC 4331: bytes used below the root (cached, see usage_ttl_ms) and bytes still available
 * (the smaller of the quota's rest and the file system's free space). HS_OK or -errno. */
int hs__dav_quota(hs__dav_fs_t *fs, uint64_t *used, uint64_t *available);

/* ---- PROPFIND and PROPPATCH of one resource (props.c) ----
 * propfind_write: one DAV:response for the resource at rel (stat st) into m, href its decoded
 * URL path (hs__dav_href): for PROP the properties asked for, 200 with their values and 404 for
 * those it does not have; for PROPNAME the names of every live and dead property it has; for
 * ALLPROP every dead property, RFC 4918's live ones and those named by DAV:include (RFC 4918
 * §9.1, §14.8). 0, or 500/503 when the store failed — then nothing was written.
 * proppatch_apply: the instructions of a PROPPATCH applied to rel in order, all or nothing (RFC
 * 4918 §9.2), and its DAV:response written into m, each property once: all 200; or, when a
 * live property is among them, that one 403 with cannot-modify-protected-property (§9.2.1) and
 * every other 424 Failed Dependency; or, when the store refuses, all of them 507 (its limits)
 * or 500/503. Returns 200 or that status (for the log; the HTTP status is 207 either way). */
int hs__dav_propfind_write(hs__dav_fs_t *fs, hs_arena_t *a, const char *rel, const struct stat *st,
                           const hs__dav_propfind_t *pf, int64_t now, hs__dav_ms_t *m);
int hs__dav_proppatch_apply(hs__dav_fs_t *fs, hs_arena_t *a, const char *rel, const hs__dav_proppatch_t *pp,
                            hs__dav_ms_t *m);

/* ---- Conditions on locks (cond.c) ---- */
/* The If header against the tree (RFC 4918 §10.4): each list's resource — the request URI's key
 * req_rel for an untagged list (NULL when the request URI is not in the tree), a tag's path
 * mapped below fs->mount — looked up on the disk (its ETag as GET sends it) and in the store
 * (the tokens of the locks whose scope includes it). 0 when it holds (or is absent), 412 when
 * not, 500/503 when the store failed. */
int hs__dav_if_check(hs__dav_fs_t *fs, hs_arena_t *a, const hs__dav_if_t *h, const char *req_rel, int64_t now);
/* The same for a DELETE, which removes req_rel's whole subtree from its parent: an untagged list
 * also matches the tokens of the locks rooted below req_rel and on its parent collection — the
 * locks whose tokens the request must submit (hs__dav_locks_check). Windows' WebDAV client
 * submits those untagged, where RFC 4918 §10.4.2 would tag each with its lock's root; a strict
 * reading answers it 412 although it holds every lock it needs. A header that holds under
 * hs__dav_if_check holds here too. */
int hs__dav_if_check_subtree(hs__dav_fs_t *fs, hs_arena_t *a, const hs__dav_if_t *h, const char *req_rel,
                             int64_t now);
/* May a request change rel (RFC 4918 §7)? Every live lock that covers rel — and with depth
 * HS__DAV_DEPTH_INFINITY every lock below it (DELETE, MOVE and COPY onto a collection) — must
 * have its token submitted in h (hs__dav_if_submits); with `membership` also the locks of rel's
 * parent collection, whose member list the request changes (a new resource, a removed one:
 * §7.4 "prevents the addition or removal of member URLs"). 0, or 423 with *locked the href of the
 * first lock root whose token is missing (for <D:lock-token-submitted>), or 500/503. */
int hs__dav_locks_check(hs__dav_fs_t *fs, hs_arena_t *a, const hs__dav_if_t *h, const char *rel, int depth,
                        bool membership, int64_t now, hs_iovec_t *locked);

/* ---- Shared by fs.c, copy.c, walk.c and live.c (the module uses the functions above) ---- */
/* An errno as the status it means for the resource acted on, with a static *detail. */
int hs__dav_fs_status(int err, const char **detail);
/* The directory holding rel, opened through the root: a descriptor with *name pointing at rel's
 * last segment, or -status (409 when the parent is missing or not a collection, RFC 4918 §9.7.1,
 * §9.3.1; 403/500/503). rel must not be "". */
int hs__dav_fs_parent(const hs__dav_fs_t *fs, const char *rel, const char **name, const char **detail);
/* A new file to fill in directory dirfd: unnamed (O_TMPFILE) when the file system can, else a
 * hidden name written into tmpname (tmpname[0] is NUL for an unnamed one). fd, or -status. */
int hs__dav_fs_tmp_open(int dirfd, mode_t mode, char tmpname[64], const char **detail);
/* Sync it as the policy says, then give it `name` in dirfd: replacing what is there (created
 * tells whether anything was), or with exclusive only if nothing is (412 otherwise). 0 or a
 * status; the temporary name never stays behind. */
int hs__dav_fs_tmp_place(const hs__dav_fs_t *fs, int dirfd, int fd, const char *tmpname, const char *name,
                         bool exclusive, bool *created, const char **detail);
/* Forget a temporary file that will not be placed (closes fd). */
void hs__dav_fs_tmp_discard(int dirfd, int fd, const char *tmpname);
/* Bytes the quota still allows to add (UINT64_MAX without a quota). */
uint64_t hs__dav_fs_room(hs__dav_fs_t *fs);
/* This process changed the tree's usage by delta bytes. */
void hs__dav_fs_usage_add(hs__dav_fs_t *fs, int64_t delta);
/* Bytes of regular files below the root, symbolic links not followed (walk.c). HS_OK or -errno. */
int hs__dav_fs_du(const hs__dav_fs_t *fs, uint64_t *bytes);
/* The names in the directory open at dirfd, sorted, "." and ".." left out: one malloc'd block
 * (free it whole) of n pointers, a NULL, and the strings. NULL with errno on failure. */
char **hs__dav_fs_names(int dirfd, size_t *n);
/* Delete rel and, for a collection, its members: 204, or 207 with members reported, or the
 * status of rel itself; usage, properties and locks follow. Without `tombstone` no tombstone is
 * left (the destination of a COPY or MOVE, replaced at once). */
int hs__dav_fs_remove(hs__dav_fs_t *fs, const char *rel, bool tombstone, hs__dav_report_cb report, void *ctx,
                      const char **detail);

#endif
