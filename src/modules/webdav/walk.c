/* statusd — walking a WebDAV tree (see fs.h): PROPFIND's Depth 1 and infinity, COPY's check for
 * cycles, and the quota's byte count.
 *
 * Bindings. A symbolic link inside the tree that names a directory inside the tree is a second
 * binding of that collection (RFC 5842 §2): PROPFIND and COPY follow it like any member (its
 * target is opened through the root, hs_fsroot_open, so a link leading out of the tree is a 403
 * member, never a way out). Following links makes cycles possible, so a Depth-infinity walk
 * remembers the collections it has entered, by device and inode:
 *   - one of the current collection's ancestors reached again is a cycle: HS__DAV_WALK_LOOP,
 *     not entered (508 Loop Detected for a client that does not speak bindings, RFC 5842 §7.2);
 *   - any other collection reached again is a second binding: HS__DAV_WALK_AGAIN, not entered
 *     (208 Already Reported for one that does, RFC 5842 §7.1) — which also bounds the walk by
 *     the number of distinct collections, however the links are arranged.
 * A Depth-1 listing shows each member once and enters nothing, so it needs neither. With
 * HS__DAV_WALK_REPEAT a second binding is entered like the first (a client that does not know
 * 208 must see every member under each binding, RFC 5842 §7.1); only cycles stop it, and the
 * node budget bounds the work.
 *
 * The node budget (max_nodes) is checked before each callback, so a PROPFIND that would pass
 * it stops with 403 before the response starts when the caller counts first (a walk with a
 * callback that writes nothing), or before more than max_nodes responses otherwise. Nesting is
 * bounded by max_depth so that descriptors held along the current path stay few. */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct dirid_s {
    uint64_t dev, ino;
} dirid_t;

typedef struct walk_s {
    const hs__dav_fs_t *fs;
    hs__dav_walk_cb cb;
    void *ctx;
    size_t max, count;
    bool infinite;
    size_t level, max_depth;
    bool repeat;   /* HS__DAV_WALK_REPEAT: enter a second binding again */
    hs_buf_t path; /* the current key, NUL-terminated; len counts the NUL */
    dirid_t *anc;  /* the current collection's ancestors and itself */
    size_t nanc, canc;
    dirid_t *set; /* every collection entered (open addressing; ino 0 = empty) */
    size_t nset, cset;
    const char **detail;
} walk_t;

static dirid_t id_of(const struct stat *st)
{
    return (dirid_t){(uint64_t)st->st_dev, (uint64_t)st->st_ino};
}

static size_t slot(const walk_t *w, dirid_t id)
{
    uint64_t h = (id.dev * 0x9e3779b97f4a7c15ull) ^ (id.ino * 0xc2b2ae3d27d4eb4full);
    return (size_t)(h ^ (h >> 29)) & (w->cset - 1);
}

static bool set_has(const walk_t *w, dirid_t id)
{
    if (!w->cset)
        return false;
    for (size_t i = slot(w, id);; i = (i + 1) & (w->cset - 1)) {
        if (w->set[i].ino == 0 && w->set[i].dev == 0)
            return false;
        if (w->set[i].ino == id.ino && w->set[i].dev == id.dev)
            return true;
    }
}

static void set_add(walk_t *w, dirid_t id)
{
    if (2 * (w->nset + 1) > w->cset) { /* grow at half full */
        dirid_t *old = w->set;
        size_t oc = w->cset;
        w->cset = oc ? 2 * oc : 64;
        w->set = hs_calloc(w->cset, sizeof(dirid_t));
        w->nset = 0;
        for (size_t i = 0; i < oc; i++)
            if (old[i].ino || old[i].dev)
                set_add(w, old[i]);
        free(old);
    }
    size_t i = slot(w, id);
    while (w->set[i].ino || w->set[i].dev)
        i = (i + 1) & (w->cset - 1);
    w->set[i] = id;
    w->nset++;
}

static bool is_ancestor(const walk_t *w, dirid_t id)
{
    for (size_t i = 0; i < w->nanc; i++)
        if (w->anc[i].ino == id.ino && w->anc[i].dev == id.dev)
            return true;
    return false;
}

static void anc_push(walk_t *w, dirid_t id)
{
    if (w->nanc == w->canc) {
        w->canc = w->canc ? 2 * w->canc : 16;
        w->anc = hs_realloc(w->anc, w->canc * sizeof(dirid_t));
    }
    w->anc[w->nanc++] = id;
}

static int emit(walk_t *w, const struct stat *st, int kind, int status)
{
    if (w->max && w->count >= w->max) {
        *w->detail = "the tree has more resources than a Depth: infinity PROPFIND may list (RFC 4918 §9.1)";
        return 403;
    }
    w->count++;
    return w->cb(w->ctx, w->path.base, st, kind, status);
}

static void push_name(hs_buf_t *b, const char *name)
{
    if (b->len > 1) {
        b->base[b->len - 1] = '/';
    } else {
        b->len = 0; /* below the root "" */
    }
    hs_buf_append(b, name, strlen(name) + 1);
}

static int walk_dir(walk_t *w, int fd);

/* One member `name` of the directory open at fd (w->path is its key). */
static int walk_member(walk_t *w, int fd, const char *name)
{
    struct stat st;
    const char *detail = NULL;
    int cfd = -1, r;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return emit(w, NULL, HS__DAV_WALK_ERROR, errno == ENOENT ? 404 : hs__dav_fs_status(errno, &detail));
    if (S_ISLNK(st.st_mode)) {
        /* a binding: resolved through the root, so it cannot lead out of the tree */
        cfd = hs_fsroot_open(w->fs->root, w->path.base, &st, &detail);
        if (cfd < 0)
            return emit(w, NULL, HS__DAV_WALK_ERROR, -cfd);
    }
    if (!S_ISDIR(st.st_mode)) {
        r = emit(w, &st, HS__DAV_WALK_FILE, 0);
    } else if (!w->infinite) {
        r = emit(w, &st, HS__DAV_WALK_COLL, 0);
    } else {
        dirid_t id = id_of(&st);
        if (is_ancestor(w, id)) {
            r = emit(w, &st, HS__DAV_WALK_LOOP, 508);
        } else if (!w->repeat && set_has(w, id)) {
            r = emit(w, &st, HS__DAV_WALK_AGAIN, 208);
        } else {
            if (!w->repeat)
                set_add(w, id);
            r = emit(w, &st, HS__DAV_WALK_COLL, 0);
            if (r == 0 && w->level >= w->max_depth) {
                r = emit(w, NULL, HS__DAV_WALK_ERROR, 500);
            } else if (r == 0) {
                if (cfd < 0)
                    cfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0) {
                    r = emit(w, NULL, HS__DAV_WALK_ERROR, hs__dav_fs_status(errno, &detail));
                } else {
                    anc_push(w, id);
                    w->level++;
                    r = walk_dir(w, cfd);
                    w->level--;
                    w->nanc--;
                }
            }
        }
    }
    if (cfd >= 0)
        close(cfd);
    return r;
}

static int walk_dir(walk_t *w, int fd)
{
    size_t n;
    char **names = hs__dav_fs_names(fd, &n);
    if (!names) /* unreadable: the collection was reported, its members cannot be */
        return 0;
    size_t mark = w->path.len;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (hs__dav_fs_hidden(names[i]))
            continue;
        push_name(&w->path, names[i]);
        r = walk_member(w, fd, names[i]);
        w->path.len = mark;
        w->path.base[mark - 1] = '\0';
    }
    free(names);
    return r;
}

int hs__dav_walk(const hs__dav_fs_t *fs, const char *rel, int depth, size_t max_nodes, hs__dav_walk_cb cb, void *ctx,
                 const char **detail)
{
    return hs__dav_walk_flags(fs, rel, depth, max_nodes, 0, cb, ctx, detail);
}

int hs__dav_walk_flags(const hs__dav_fs_t *fs, const char *rel, int depth, size_t max_nodes, unsigned flags,
                       hs__dav_walk_cb cb, void *ctx, const char **detail)
{
    struct stat st;
    int fd = hs_fsroot_open(fs->root, rel, &st, detail);
    if (fd < 0)
        return -fd;
    walk_t w = {.fs = fs,
                .cb = cb,
                .ctx = ctx,
                .max = max_nodes,
                .infinite = depth == HS__DAV_LOCK_INFINITY,
                .max_depth = fs->max_depth ? fs->max_depth : 128,
                .repeat = (flags & HS__DAV_WALK_REPEAT) != 0,
                .detail = detail};
    hs_buf_append(&w.path, rel, strlen(rel) + 1);
    int r = emit(&w, &st, S_ISDIR(st.st_mode) ? HS__DAV_WALK_COLL : HS__DAV_WALK_FILE, 0);
    if (r == 0 && S_ISDIR(st.st_mode) && depth > 0) {
        if (w.infinite) {
            if (!w.repeat)
                set_add(&w, id_of(&st));
            anc_push(&w, id_of(&st));
        }
        r = walk_dir(&w, fd);
    }
    close(fd);
    hs_buf_free(&w.path);
    free(w.anc);
    free(w.set);
    return r;
}

/* ---- the quota's byte count: regular files, links not followed ---- */

static int du_dir(int fd, size_t level, uint64_t *bytes)
{
    if (level > 128)
        return HS_OK; /* deeper trees are not counted past this: bounded work */
    size_t n;
    char **names = hs__dav_fs_names(fd, &n);
    if (!names)
        return errno == EACCES ? HS_OK : -errno;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed meanwhile */
        if (S_ISREG(st.st_mode)) {
            *bytes += (uint64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode)) {
            int cfd = openat(fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd >= 0) {
                du_dir(cfd, level + 1, bytes);
                close(cfd);
            }
        }
    }
    free(names);
    return HS_OK;
}

int hs__dav_fs_du(const hs__dav_fs_t *fs, uint64_t *bytes)
{
    *bytes = 0;
    return du_dir(fs->root->fd, 0, bytes);
}
