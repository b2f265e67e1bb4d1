/* statusd — WebDAV COPY and MOVE (see fs.h).
 *
 * COPY writes every file of the destination the way PUT does — a file of its own, renamed into
 * place — so a destination file that is replaced by a file keeps its old content when the copy
 * fails (507 with the old content intact). A destination collection, or a file replaced by a
 * collection, is deleted first as RFC 4918 §9.8.4 requires ("as if a DELETE with Depth:
 * infinity"). Members are copied depth-first; one that fails is reported (with its destination
 * key: the resource the failure is about, §9.8.8) and, when it is a collection, its members are
 * not attempted. In-tree symbolic links are bindings and are followed (the copy holds the
 * content); a cycle of them below the source makes the whole COPY a 508 before anything is
 * written (RFC 5842 §7.2: the entire operation failed), found by a walk (walk.c) that touches no
 * file.
 *
 * MOVE is one rename(2) within the tree — atomic for a collection of any size, and for a file
 * replacing a file. Across file systems (a mount point inside the tree: EXDEV) it is a COPY
 * followed by a DELETE of the source. Dead properties move with the resources; locks do not
 * (RFC 4918 §9.9.1: a lock on the source is removed with it, §7.7). */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The same key, or one inside the other ("" contains everything). */
static bool related(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = HS_MIN(la, lb);
    if (n == 0)
        return true;
    if (memcmp(a, b, n) != 0)
        return false;
    return la == lb || (la < lb ? b[la] == '/' : a[lb] == '/');
}

typedef struct cp_s {
    hs__dav_fs_t *fs;
    hs__dav_report_cb report;
    void *ctx;
    hs_buf_t spath, dpath; /* keys of the member at hand, NUL-terminated */
    uint64_t room;         /* bytes the quota still allows */
    size_t level, max_depth;
    int failures;
} cp_t;

static void cp_fail(cp_t *c, int status, const char *detail)
{
    c->failures++;
    if (c->report)
        c->report(c->ctx, c->dpath.base, status, detail);
}

static int copy_bytes(int from, int to)
{
    bool plain = false;
    uint64_t done = 0;
    while (!plain) {
        ssize_t n = copy_file_range(from, NULL, to, NULL, 1 << 30, 0);
        if (n == 0)
            return 0;
        if (n > 0) {
            done += (uint64_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP && errno != EBADF)
            return -errno;
        plain = true; /* not between these files: read and write */
    }
    if (lseek(from, (off_t)done, SEEK_SET) < 0)
        return -errno;
    char buf[65536];
    for (;;) {
        ssize_t n = read(from, buf, sizeof(buf));
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(to, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            off += w;
        }
    }
}

/* The file open at sfd as `name` in ddirfd, replacing what is there. 0 or a status. */
static int copy_file(cp_t *c, int sfd, const struct stat *sst, int ddirfd, const char *name, uint64_t replaced,
                     const char **detail)
{
    uint64_t size = (uint64_t)sst->st_size;
    uint64_t room = c->room > UINT64_MAX - replaced ? UINT64_MAX : c->room + replaced;
    if (size > room) {
        *detail = "the copy would pass the quota: the destination is unchanged (RFC 4331, RFC 4918 §11.5)";
        return 507;
    }
    char tmpname[64];
    int tfd = hs__dav_fs_tmp_open(ddirfd, sst->st_mode & 07777, tmpname, detail);
    if (tfd < 0)
        return -tfd;
    int r = copy_bytes(sfd, tfd);
    if (r < 0) {
        hs__dav_fs_tmp_discard(ddirfd, tfd, tmpname);
        return hs__dav_fs_status(-r, detail);
    }
    fchmod(tfd, sst->st_mode & 07777);
    bool created;
    int st = hs__dav_fs_tmp_place(c->fs, ddirfd, tfd, tmpname, name, false, &created, detail);
    if (st) {
        hs__dav_fs_tmp_discard(ddirfd, tfd, tmpname);
        return st;
    }
    close(tfd);
    c->room = c->room == UINT64_MAX ? UINT64_MAX : room - size;
    hs__dav_fs_usage_add(c->fs, (int64_t)size - (int64_t)replaced);
    return 0;
}

static void push2(hs_buf_t *b, const char *name)
{
    if (b->len > 1)
        b->base[b->len - 1] = '/';
    else
        b->len = 0;
    hs_buf_append(b, name, strlen(name) + 1);
}

static void pop2(hs_buf_t *b, size_t len)
{
    b->len = len;
    b->base[len - 1] = '\0';
}

static void cp_members(cp_t *c, int sdir, int ddir);

/* One member: source `name` in sdir (c->spath), destination `name` in ddir (c->dpath). */
static void cp_member(cp_t *c, int sdir, int ddir, const char *name)
{
    const char *detail = NULL;
    struct stat st;
    int sfd = -1;
    if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) /* removed meanwhile: nothing to copy */
            cp_fail(c, hs__dav_fs_status(errno, &detail), detail);
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        sfd = hs_fsroot_open(c->fs->root, c->spath.base, &st, &detail); /* a binding, within the tree */
        if (sfd < 0) {
            cp_fail(c, -sfd, detail);
            return;
        }
    } else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        sfd = openat(sdir, name,
                     O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
        if (sfd < 0 || fstat(sfd, &st) != 0) {
            cp_fail(c, hs__dav_fs_status(errno, &detail), detail);
            if (sfd >= 0)
                close(sfd);
            return;
        }
    }
    if (S_ISREG(st.st_mode)) {
        int r = copy_file(c, sfd, &st, ddir, name, 0, &detail);
        if (r)
            cp_fail(c, r, detail);
    } else if (S_ISDIR(st.st_mode)) {
        if (c->level >= c->max_depth) {
            cp_fail(c, 500, "the collection is nested deeper than the server walks");
        } else if (mkdirat(ddir, name, (st.st_mode & 07777) | 0700) != 0) {
            cp_fail(c, hs__dav_fs_status(errno, &detail), detail);
        } else {
            int nd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (nd < 0) {
                cp_fail(c, hs__dav_fs_status(errno, &detail), detail);
            } else {
                c->level++;
                cp_members(c, sfd, nd);
                c->level--;
                fchmod(nd, st.st_mode & 07777);
                close(nd);
            }
        }
    } else {
        cp_fail(c, 403, "only files and collections can be copied");
    }
    if (sfd >= 0)
        close(sfd);
}

static void cp_members(cp_t *c, int sdir, int ddir)
{
    size_t n;
    char **names = hs__dav_fs_names(sdir, &n);
    if (!names) {
        const char *detail;
        cp_fail(c, hs__dav_fs_status(errno, &detail), detail);
        return;
    }
    size_t sm = c->spath.len, dm = c->dpath.len;
    for (size_t i = 0; i < n; i++) {
        if (hs__dav_fs_hidden(names[i]))
            continue;
        push2(&c->spath, names[i]);
        push2(&c->dpath, names[i]);
        cp_member(c, sdir, ddir, names[i]);
        pop2(&c->spath, sm);
        pop2(&c->dpath, dm);
    }
    free(names);
}

static int loop_cb(void *ctx, const char *rel, const struct stat *st, int kind, int status)
{
    return kind == HS__DAV_WALK_LOOP ? 508 : 0;
}

int hs__dav_copy(hs__dav_fs_t *fs, const char *src, const char *dst, int depth, bool overwrite,
                 hs__dav_report_cb report, void *ctx, bool *created, const char **detail)
{
    *created = false;
    if (related(src, dst)) {
        *detail = "the source and the destination are the same, or one contains the other (RFC 4918 §9.8.5)";
        return 403;
    }
    struct stat sst;
    int sfd = hs_fsroot_open(fs->root, src, &sst, detail);
    if (sfd < 0)
        return -sfd;
    bool deep = S_ISDIR(sst.st_mode) && depth == HS__DAV_LOCK_INFINITY;
    int st = 0;
    if (deep && hs__dav_walk(fs, src, HS__DAV_LOCK_INFINITY, 0, loop_cb, NULL, detail) == 508) {
        *detail = "the source collection contains a cycle of bindings: nothing was copied (RFC 5842 §7.2)";
        close(sfd);
        return 508;
    }
    const char *dname;
    int ddir = hs__dav_fs_parent(fs, dst, &dname, detail);
    if (ddir < 0) {
        close(sfd);
        return -ddir;
    }
    struct stat dst_st;
    bool exists = fstatat(ddir, dname, &dst_st, AT_SYMLINK_NOFOLLOW) == 0;
    cp_t c = {.fs = fs, .report = report, .ctx = ctx, .max_depth = fs->max_depth ? fs->max_depth : 128};
    uint64_t replaced = 0;
    if (exists && !overwrite) {
        *detail = "the destination exists and Overwrite is F (RFC 4918 §9.8.4)";
        st = 412;
        goto Exit;
    }
    if (exists && (S_ISDIR(dst_st.st_mode) || !S_ISREG(sst.st_mode))) {
        /* §9.8.4: the destination goes first, as a DELETE with Depth: infinity would */
        st = hs__dav_fs_remove(fs, dst, false, report, ctx, detail);
        if (st != 204)
            goto Exit;
        st = 0;
    } else if (exists && S_ISREG(dst_st.st_mode)) {
        replaced = (uint64_t)dst_st.st_size; /* replaced in one rename below */
    }
    c.room = hs__dav_fs_room(fs);
    hs_buf_append(&c.spath, src, strlen(src) + 1);
    hs_buf_append(&c.dpath, dst, strlen(dst) + 1);
    if (S_ISREG(sst.st_mode)) {
        st = copy_file(&c, sfd, &sst, ddir, dname, replaced, detail);
    } else if (S_ISDIR(sst.st_mode)) {
        if (mkdirat(ddir, dname, (sst.st_mode & 07777) | 0700) != 0) {
            st = hs__dav_fs_status(errno, detail);
        } else if (deep) {
            int nd = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (nd < 0) {
                st = hs__dav_fs_status(errno, detail);
            } else {
                cp_members(&c, sfd, nd);
                fchmod(nd, sst.st_mode & 07777);
                close(nd);
            }
        }
    } else {
        *detail = "only files and collections can be copied";
        st = 403;
    }
    if (st == 0) {
        if (fs->fsync == HS__DAV_FSYNC_FULL)
            fsync(ddir);
        *created = !exists;
        if (fs->store) {
            hs__dav_prop_copy(fs->store, src, dst, deep);
            hs__dav_tomb_clear(fs->store, dst);
        }
        if (c.failures) {
            *detail = "some members could not be copied";
            st = 207;
        } else {
            st = *created ? 201 : 204;
        }
    }
Exit:
    close(sfd);
    close(ddir);
    hs_buf_free(&c.spath);
    hs_buf_free(&c.dpath);
    return st;
}

int hs__dav_move(hs__dav_fs_t *fs, const char *src, const char *dst, bool overwrite, hs__dav_report_cb report,
                 void *ctx, bool *created, const char **detail)
{
    *created = false;
    if (!src[0]) {
        *detail = "the root of the tree cannot be moved";
        return 403;
    }
    if (related(src, dst)) {
        *detail = "the source and the destination are the same, or one contains the other (RFC 4918 §9.9.4)";
        return 403;
    }
    const char *sname, *dname;
    int sdir = hs__dav_fs_parent(fs, src, &sname, detail);
    if (sdir < 0)
        return sdir == -409 ? 404 : -sdir;
    struct stat sst, dst_st;
    if (fstatat(sdir, sname, &sst, AT_SYMLINK_NOFOLLOW) != 0) {
        int st = hs__dav_fs_status(errno, detail);
        close(sdir);
        return st;
    }
    int ddir = hs__dav_fs_parent(fs, dst, &dname, detail);
    if (ddir < 0) {
        close(sdir);
        return -ddir;
    }
    int st = 0;
    bool exists = fstatat(ddir, dname, &dst_st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !overwrite) {
        *detail = "the destination exists and Overwrite is F (RFC 4918 §9.9.3)";
        st = 412;
    } else if (exists && (S_ISDIR(dst_st.st_mode) || S_ISDIR(sst.st_mode))) {
        /* §9.9.3: the destination goes first; a file over a file is replaced by the rename */
        st = hs__dav_fs_remove(fs, dst, false, report, ctx, detail);
        st = st == 204 ? 0 : st;
    }
    if (st == 0 && renameat(sdir, sname, ddir, dname) != 0) {
        if (errno == EXDEV) {
            /* another file system below the tree: copy, then delete the source */
            close(sdir);
            close(ddir);
            st = hs__dav_copy(fs, src, dst, HS__DAV_LOCK_INFINITY, true, report, ctx, created, detail);
            if (st == 201 || st == 204) {
                int r = hs__dav_fs_remove(fs, src, false, report, ctx, detail);
                if (r != 204)
                    st = r == 207 ? 207 : st;
            }
            return st;
        }
        st = hs__dav_fs_status(errno, detail);
    } else if (st == 0) {
        if (fs->fsync == HS__DAV_FSYNC_FULL) {
            fsync(ddir);
            fsync(sdir);
        }
        if (exists && S_ISREG(dst_st.st_mode) && S_ISREG(sst.st_mode) && dst_st.st_nlink <= 1)
            hs__dav_fs_usage_add(fs, -(int64_t)dst_st.st_size);
        if (fs->store) {
            hs__dav_prop_move(fs->store, src, dst);
            hs__dav_lock_delete(fs->store, src, true);
            hs__dav_tomb_clear(fs->store, dst);
        }
        *created = !exists;
        st = *created ? 201 : 204;
    }
    close(sdir);
    close(ddir);
    return st;
}
