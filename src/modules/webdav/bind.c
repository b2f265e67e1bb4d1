/* statusd — WebDAV bindings (RFC 5842; see fs.h): BIND, UNBIND, REBIND on a tree of files.
 *
 * A file system has one binding per directory (its name in its parent) and hard links only for
 * files, so an extra binding is a symbolic link. It is written relative to its own directory
 * ("../x/y"), so that it keeps naming the same resource when the tree is moved or mounted
 * elsewhere, and it never leaves the tree: the target is a key below the root, and every later
 * use of the link resolves it through the root (hs_fsroot_open) anyway.
 *
 * Dead properties and locks are kept per path, so a second binding starts with none of its own
 * (resource-id, computed from the inode, is the same through every binding, RFC 5842 §3.1). */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char *join(const char *coll, const char *seg)
{
    size_t cl = strlen(coll), sl = strlen(seg);
    char *k = hs_malloc(cl + sl + 2);
    if (cl) {
        memcpy(k, coll, cl);
        k[cl] = '/';
        memcpy(k + cl + 1, seg, sl + 1);
    } else {
        memcpy(k, seg, sl + 1);
    }
    return k;
}

static bool related(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = HS_MIN(la, lb);
    if (n == 0)
        return true;
    if (memcmp(a, b, n) != 0)
        return false;
    return la == lb || (la < lb ? b[la] == '/' : a[lb] == '/');
}

/* The link text that names key `target` from directory key `dir`: "../" for every segment of dir
 * not shared, then the rest of target ("." when target is dir itself). */
static char *relative(const char *dir, const char *target)
{
    size_t common = 0, i = 0;
    for (;; i++) { /* the longest common prefix ending on a segment boundary */
        char d = dir[i], t = target[i];
        if ((d == '/' || d == '\0') && (t == '/' || t == '\0'))
            common = i;
        if (d != t || d == '\0')
            break;
    }
    if (dir[0] == '\0' || target[0] == '\0')
        common = 0;
    hs_buf_t b = {0};
    for (const char *p = dir + common; *p;) {
        if (*p == '/')
            p++;
        if (!*p)
            break;
        HS_BUF_LIT(&b, "../");
        while (*p && *p != '/')
            p++;
    }
    const char *rest = target + common;
    if (*rest == '/')
        rest++;
    if (*rest)
        hs_buf_append(&b, rest, strlen(rest));
    else if (b.len)
        b.len--; /* "../.." rather than "../../" */
    else
        HS_BUF_LIT(&b, ".");
    hs_buf_append(&b, "", 1);
    return b.base;
}

/* A link text read from directory key `dir`, as a key: 0 with *out (malloc'd), or 403 when it is
 * absolute or climbs above the root. */
static int resolve(const char *dir, const char *link, char **out)
{
    if (link[0] == '/')
        return 403;
    hs_buf_t b = {0};
    hs_buf_append(&b, dir, strlen(dir));
    for (const char *p = link; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (b.len == 0) {
                hs_buf_free(&b);
                return 403;
            }
            while (b.len && b.base[b.len - 1] != '/')
                b.len--;
            if (b.len)
                b.len--;
        } else if (n && !(n == 1 && p[0] == '.')) {
            if (b.len)
                HS_BUF_LIT(&b, "/");
            hs_buf_append(&b, p, n);
        }
        p += n + (e ? 1 : 0);
    }
    hs_buf_append(&b, "", 1);
    *out = b.base;
    return 0;
}

static int check_segment(const char *seg, const char **detail)
{
    if (!seg[0] || strchr(seg, '/') || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0 || hs__dav_fs_hidden(seg) ||
        strlen(seg) > NAME_MAX) {
        *detail = "the segment cannot name a binding here (RFC 5842 §4)";
        return 403;
    }
    return 0;
}

/* The collection coll, opened: a descriptor or -status (404 nothing there, 409 not a collection). */
static int open_coll(const hs__dav_fs_t *fs, const char *coll, const char **detail)
{
    struct stat st;
    int fd = hs_fsroot_open(fs->root, coll, &st, detail);
    if (fd < 0)
        return fd;
    if (!S_ISDIR(st.st_mode)) {
        close(fd);
        *detail = "the request URI is not a collection (RFC 5842 §4: DAV:bind-into-collection)";
        return -409;
    }
    return fd;
}

/* Make room for a binding `seg` in dirfd (key `key`): 0 (nothing there, or removed with
 * overwrite; *existed says which), 412, or a status. */
static int clear_slot(hs__dav_fs_t *fs, int dirfd, const char *seg, const char *key, bool overwrite, bool *existed,
                      const char **detail)
{
    struct stat st;
    *existed = fstatat(dirfd, seg, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (!*existed)
        return 0;
    if (!overwrite) {
        *detail = "the segment is bound and Overwrite is F (RFC 5842 §4: DAV:can-overwrite)";
        return 412;
    }
    if (S_ISLNK(st.st_mode)) { /* another binding: only it goes */
        if (unlinkat(dirfd, seg, 0) != 0 && errno != ENOENT)
            return hs__dav_fs_status(errno, detail);
        if (fs->store) {
            hs__dav_prop_delete(fs->store, key, true);
            hs__dav_lock_delete(fs->store, key, true);
        }
        return 0;
    }
    int r = hs__dav_fs_remove(fs, key, false, NULL, NULL, detail); /* the last binding: the resource */
    return r == 204 ? 0 : r;
}

int hs__dav_bind(hs__dav_fs_t *fs, const char *coll, const char *seg, const char *target, bool overwrite, bool *created,
                 const char **detail)
{
    *created = false;
    int st = check_segment(seg, detail);
    if (st)
        return st;
    char *key = join(coll, seg), *link = NULL;
    int dirfd = -1;
    struct stat tst;
    if (strcmp(key, target) == 0) {
        *detail = "a resource is already bound at this segment by that very binding";
        st = 403;
        goto Exit;
    }
    if (hs__dav_stat(fs, target, &tst, detail) != 0) {
        *detail = "the binding's target does not exist (RFC 5842 §4: DAV:bind-source-exists)";
        st = 409;
        goto Exit;
    }
    if ((dirfd = open_coll(fs, coll, detail)) < 0) {
        st = -dirfd;
        goto Exit;
    }
    bool existed;
    if ((st = clear_slot(fs, dirfd, seg, key, overwrite, &existed, detail)) != 0)
        goto Exit;
    link = relative(coll, target);
    if (symlinkat(link, dirfd, seg) != 0) {
        st = errno == EEXIST ? 412 : hs__dav_fs_status(errno, detail);
        if (errno == EEXIST)
            *detail = "the segment was bound meanwhile";
        goto Exit;
    }
    if (fs->fsync == HS__DAV_FSYNC_FULL)
        fsync(dirfd);
    if (fs->store)
        hs__dav_tomb_clear(fs->store, key);
    *created = !existed;
    st = existed ? 200 : 201;
Exit:
    if (dirfd >= 0)
        close(dirfd);
    free(key);
    free(link);
    return st;
}

int hs__dav_unbind(hs__dav_fs_t *fs, const char *coll, const char *seg, hs__dav_report_cb report, void *ctx,
                   const char **detail)
{
    int st = check_segment(seg, detail);
    if (st)
        return st == 403 ? 404 : st;
    char *key = join(coll, seg);
    int dirfd = open_coll(fs, coll, detail);
    if (dirfd < 0) {
        free(key);
        return -dirfd;
    }
    struct stat lst;
    if (fstatat(dirfd, seg, &lst, AT_SYMLINK_NOFOLLOW) != 0) {
        st = hs__dav_fs_status(errno, detail);
    } else if (S_ISLNK(lst.st_mode)) {
        if (unlinkat(dirfd, seg, 0) != 0) {
            st = hs__dav_fs_status(errno, detail);
        } else {
            if (fs->fsync == HS__DAV_FSYNC_FULL)
                fsync(dirfd);
            if (fs->store) {
                hs__dav_prop_delete(fs->store, key, true);
                hs__dav_lock_delete(fs->store, key, true);
            }
            st = 200;
        }
    } else {
        /* RFC 5842 §5: removing the last binding removes the resource */
        st = hs__dav_fs_remove(fs, key, true, report, ctx, detail);
        st = st == 204 ? 200 : st;
    }
    close(dirfd);
    free(key);
    return st;
}

int hs__dav_rebind(hs__dav_fs_t *fs, const char *coll, const char *seg, const char *src, bool overwrite, bool *created,
                   const char **detail)
{
    *created = false;
    int st = check_segment(seg, detail);
    if (st)
        return st;
    if (!src[0]) {
        *detail = "the root's binding cannot be moved";
        return 403;
    }
    char *key = join(coll, seg), *target = NULL, *link = NULL;
    const char *sname;
    int sdir = -1, ddir = -1;
    if (related(src, key)) {
        *detail = "the binding would move onto itself or into itself (RFC 5842 §6)";
        st = 403;
        goto Exit;
    }
    if ((sdir = hs__dav_fs_parent(fs, src, &sname, detail)) < 0) {
        st = sdir == -409 ? 404 : -sdir;
        goto Exit;
    }
    struct stat sst;
    if (fstatat(sdir, sname, &sst, AT_SYMLINK_NOFOLLOW) != 0) {
        st = hs__dav_fs_status(errno, detail);
        goto Exit;
    }
    if (S_ISLNK(sst.st_mode)) {
        /* a relative link must be rewritten for its new directory */
        char text[PATH_MAX];
        ssize_t n = readlinkat(sdir, sname, text, sizeof(text) - 1);
        if (n < 0) {
            st = hs__dav_fs_status(errno, detail);
            goto Exit;
        }
        text[n] = '\0';
        const char *slash = strrchr(src, '/');
        char *sdir_key = hs_malloc(slash ? (size_t)(slash - src) + 1 : 1);
        memcpy(sdir_key, src, slash ? (size_t)(slash - src) : 0);
        sdir_key[slash ? slash - src : 0] = '\0';
        st = resolve(sdir_key, text, &target);
        free(sdir_key);
        if (st) {
            *detail = "the binding leads out of the tree";
            goto Exit;
        }
        link = relative(coll, target);
    }
    if ((ddir = open_coll(fs, coll, detail)) < 0) {
        st = -ddir;
        goto Exit;
    }
    bool existed;
    if ((st = clear_slot(fs, ddir, seg, key, overwrite, &existed, detail)) != 0)
        goto Exit;
    if (link) {
        if (symlinkat(link, ddir, seg) != 0 || unlinkat(sdir, sname, 0) != 0) {
            st = hs__dav_fs_status(errno, detail);
            goto Exit;
        }
    } else if (renameat(sdir, sname, ddir, seg) != 0) {
        st = errno == EXDEV ? 502 : hs__dav_fs_status(errno, detail);
        if (errno == EXDEV)
            *detail = "the binding would cross file systems (RFC 5842 §6.2: DAV:cross-server-binding)";
        goto Exit;
    }
    if (fs->fsync == HS__DAV_FSYNC_FULL) {
        fsync(ddir);
        fsync(sdir);
    }
    if (fs->store) {
        hs__dav_prop_move(fs->store, src, key);
        hs__dav_lock_delete(fs->store, src, true);
        hs__dav_tomb_clear(fs->store, key);
    }
    *created = !existed;
    st = existed ? 200 : 201;
Exit:
    if (sdir >= 0)
        close(sdir);
    if (ddir >= 0)
        close(ddir);
    free(key);
    free(target);
    free(link);
    return st;
}
