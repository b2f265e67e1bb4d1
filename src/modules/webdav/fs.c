/* statusd — WebDAV file operations (see fs.h): PUT, MKCOL, DELETE, and the temporary files, the
 * errno-to-status table and the quota accounting that COPY and MOVE (copy.c) share.
 *
 * New content is never written over old content. A PUT (and a COPY of a file) fills a file of
 * its own in the target's directory and then gives it the target's name in one rename(2), which
 * replaces the old file atomically: a reader sees the old bytes or the new, a failure — the disk
 * full (ENOSPC, EDQUOT: 507), the quota passed (507), the client gone, the process killed —
 * leaves the old file as it was. Where the file system supports O_TMPFILE the new file has no
 * name until it is complete, so even kill -9 leaves nothing visible; it is linked under a hidden
 * temporary name (through /proc/self/fd) just before the rename. Elsewhere it is created under
 * a hidden name (HS__DAV_TMP_PREFIX) that listings skip.
 *
 * fsync policy (HS__DAV_FSYNC_FULL by default): the file's data before the rename, so that after
 * a power cut the name never points at a file whose blocks were not written (delayed
 * allocation), and the directory after it, so that a 201/204 the client saw is not undone by a
 * crash. DATA keeps the first; NONE neither.
 *
 * The statuses follow RFC 4918 §9: a missing parent is 409 (§9.3.1, §9.7.1), MKCOL on an existing
 * URL is 405 (§9.3.1), PUT onto a collection 405 (§9.7.2), a full disk or quota 507 (§11.5). */
#define _GNU_SOURCE
#include "fs.h"

#include "hs/codec.h"
#include "hs/crypto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

void hs__dav_fs_init(hs__dav_fs_t *fs, const hs_fsroot_t *root, hs__dav_store_t *store, const char *mount)
{
    *fs = (hs__dav_fs_t){.root = root, .store = store, .mount = mount ? mount : "/"};
    pthread_mutex_init(&fs->mu, NULL);
}

void hs__dav_fs_fini(hs__dav_fs_t *fs)
{
    pthread_mutex_destroy(&fs->mu);
}

bool hs__dav_fs_hidden(const char *name)
{
    return strncmp(name, HS__DAV_TMP_PREFIX, sizeof(HS__DAV_TMP_PREFIX) - 1) == 0;
}

int hs__dav_fs_status(int err, const char **detail)
{
    switch (err) {
    case ENOENT: *detail = "no resource exists at this path"; return 404;
    case ENOTDIR: *detail = "a collection on the path is a file (RFC 4918 §9.3.1)"; return 409;
    case EACCES:
    case EPERM: *detail = "the server is not permitted to change this path"; return 403;
    case EROFS: *detail = "the file system is read-only"; return 403;
    case ENOSPC: *detail = "the disk is full: nothing was changed (RFC 4918 §11.5)"; return 507;
    case EDQUOT: *detail = "the disk quota is used up: nothing was changed (RFC 4918 §11.5)"; return 507;
    case EEXIST:
    case ENOTEMPTY: *detail = "something else appeared at this path meanwhile"; return 409;
    case EISDIR: *detail = "a collection is at this path"; return 405;
    case ELOOP: *detail = "the path runs into a loop of symbolic links"; return 403;
    case ENAMETOOLONG: *detail = "a path segment is longer than the file system allows"; return 400;
    case EMFILE:
    case ENFILE: *detail = "the server is out of file descriptors; retry shortly"; return 503;
    case EBUSY: *detail = "the path is in use by the system (a mount point)"; return 403;
    default: *detail = "the file system failed"; return 500;
    }
}

int hs__dav_fs_parent(const hs__dav_fs_t *fs, const char *rel, const char **name, const char **detail)
{
    const char *slash = strrchr(rel, '/');
    *name = slash ? slash + 1 : rel;
    size_t plen = slash ? (size_t)(slash - rel) : 0;
    char *parent = hs_malloc(plen + 1);
    memcpy(parent, rel, plen);
    parent[plen] = '\0';
    struct stat st;
    int fd = hs_fsroot_open(fs->root, parent, &st, detail);
    free(parent);
    if (fd == -404) {
        *detail = "the parent collection does not exist (RFC 4918 §9.3.1, §9.7.1)";
        return -409;
    }
    if (fd < 0)
        return fd;
    if (!S_ISDIR(st.st_mode)) {
        close(fd);
        *detail = "the parent is not a collection (RFC 4918 §9.3.1, §9.7.1)";
        return -409;
    }
    if (**name == '\0' || strlen(*name) > NAME_MAX || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0) {
        close(fd); /* keys are normalised: a dot segment here is a caller's mistake, refused */
        *detail = strlen(*name) > NAME_MAX ? "a path segment is longer than the file system allows"
                                           : "an empty or dot path segment";
        return -400;
    }
    return fd;
}

int hs__dav_stat(const hs__dav_fs_t *fs, const char *rel, struct stat *st, const char **detail)
{
    int fd = hs_fsroot_open(fs->root, rel, st, detail);
    if (fd < 0)
        return -fd;
    close(fd);
    return 0;
}

int hs__dav_gone(const hs__dav_fs_t *fs, const char *rel, int64_t now)
{
    if (!fs->store || !fs->tomb_seconds)
        return 0;
    return hs__dav_tomb_check(fs->store, rel, now) == 1;
}

/* ---- temporary files ---- */

static void random_name(char out[64], const char *what)
{
    unsigned char r[8];
    char hex[17];
    hs_random(r, sizeof(r));
    hs_hex_encode(hex, r, sizeof(r));
    snprintf(out, 64, "%s%s-%s", HS__DAV_TMP_PREFIX, what, hex);
}

int hs__dav_fs_tmp_open(int dirfd, mode_t mode, char tmpname[64], const char **detail)
{
    tmpname[0] = '\0';
    int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
    if (fd >= 0)
        return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
        return -hs__dav_fs_status(errno, detail);
    /* no O_TMPFILE here: a hidden name nobody else will pick */
    for (int tries = 0; tries < 4; tries++) {
        random_name(tmpname, "put");
        fd = openat(dirfd, tmpname, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        tmpname[0] = '\0';
        return -hs__dav_fs_status(e, detail);
    }
    return fd;
}

void hs__dav_fs_tmp_discard(int dirfd, int fd, const char *tmpname)
{
    if (tmpname[0])
        unlinkat(dirfd, tmpname, 0);
    close(fd); /* an unnamed file is freed here */
}

/* Give the unnamed file open at fd the name `as` in dirfd. */
static int link_unnamed(int fd, int dirfd, const char *as)
{
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, dirfd, as, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    if (errno == ENOENT) /* no /proc: AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, but try */
        return linkat(fd, "", dirfd, as, AT_EMPTY_PATH) == 0 ? 0 : -1;
    return -1;
}

int hs__dav_fs_tmp_place(const hs__dav_fs_t *fs, int dirfd, int fd, const char *tmpname, const char *name,
                         bool exclusive, bool *created, const char **detail)
{
    *created = false;
    if (fs->fsync != HS__DAV_FSYNC_NONE && fsync(fd) != 0)
        return hs__dav_fs_status(errno, detail);
    char tmp[64];
    const char *from = tmpname;
    if (!tmpname[0]) {
        if (exclusive) {
            /* linking fails if anything is there: If-None-Match: * without a race */
            if (link_unnamed(fd, dirfd, name) != 0) {
                if (errno == EEXIST) {
                    *detail = "a resource was created at this path meanwhile";
                    return 412;
                }
                return hs__dav_fs_status(errno, detail);
            }
            *created = true;
            goto Synced;
        }
        random_name(tmp, "new");
        if (link_unnamed(fd, dirfd, tmp) != 0)
            return hs__dav_fs_status(errno, detail);
        from = tmp;
    } else if (exclusive) {
        int r = linkat(dirfd, tmpname, dirfd, name, 0);
        int e = errno;
        if (r != 0) {
            if (e == EEXIST) {
                *detail = "a resource was created at this path meanwhile";
                return 412;
            }
            return hs__dav_fs_status(e, detail);
        }
        unlinkat(dirfd, tmpname, 0);
        *created = true;
        goto Synced;
    }
    /* first as new (tells 201 from 204 without a race), else over what is there */
    if (renameat2(dirfd, from, dirfd, name, RENAME_NOREPLACE) == 0) {
        *created = true;
    } else if (errno == EEXIST || errno == EINVAL || errno == ENOSYS) {
        struct stat old;
        bool had = errno != EEXIST ? fstatat(dirfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0 : true;
        if (renameat(dirfd, from, dirfd, name) != 0) {
            int e = errno;
            if (from != tmpname)
                unlinkat(dirfd, from, 0);
            return hs__dav_fs_status(e, detail);
        }
        *created = !had;
    } else {
        int e = errno;
        if (from != tmpname)
            unlinkat(dirfd, from, 0);
        return hs__dav_fs_status(e, detail);
    }
Synced:
    if (fs->fsync == HS__DAV_FSYNC_FULL)
        fsync(dirfd); /* the name itself; a failure here changes nothing already visible */
    return 0;
}

/* ---- quota accounting ---- */

void hs__dav_fs_usage_add(hs__dav_fs_t *fs, int64_t delta)
{
    pthread_mutex_lock(&fs->mu);
    if (fs->used_known)
        fs->used = delta < 0 && (uint64_t)-delta > fs->used ? 0 : (uint64_t)((int64_t)fs->used + delta);
    pthread_mutex_unlock(&fs->mu);
}

int hs__dav_quota(hs__dav_fs_t *fs, uint64_t *used, uint64_t *available)
{
    uint64_t now = hs_now_ms(), ttl = fs->usage_ttl_ms ? fs->usage_ttl_ms : 5000;
    pthread_mutex_lock(&fs->mu);
    bool fresh = fs->used_known && now - fs->used_at_ms < ttl;
    uint64_t u = fs->used;
    pthread_mutex_unlock(&fs->mu);
    if (!fresh) {
        int r = hs__dav_fs_du(fs, &u);
        if (r != HS_OK)
            return r;
        pthread_mutex_lock(&fs->mu);
        fs->used = u;
        fs->used_at_ms = now;
        fs->used_known = true;
        pthread_mutex_unlock(&fs->mu);
    }
    struct statvfs sv;
    uint64_t free_bytes = UINT64_MAX;
    if (fstatvfs(fs->root->fd, &sv) == 0)
        free_bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    uint64_t room = UINT64_MAX;
    if (fs->quota)
        room = u >= fs->quota ? 0 : fs->quota - u;
    *used = u;
    *available = HS_MIN(room, free_bytes);
    return HS_OK;
}

uint64_t hs__dav_fs_room(hs__dav_fs_t *fs)
{
    if (!fs->quota)
        return UINT64_MAX;
    uint64_t used, avail;
    if (hs__dav_quota(fs, &used, &avail) != HS_OK)
        return 0; /* cannot tell: refuse rather than overrun */
    return used >= fs->quota ? 0 : fs->quota - used;
}

/* ---- PUT ---- */

struct hs__dav_put_s {
    hs__dav_fs_t *fs;
    int dirfd, fd;
    char *rel;
    const char *name; /* inside rel */
    char tmpname[64];
    uint64_t written, old_size, room;
    bool failed;
};

static void put_free(hs__dav_put_t *p)
{
    if (p->dirfd >= 0)
        close(p->dirfd);
    free(p->rel);
    free(p);
}

int hs__dav_put_begin(hs__dav_fs_t *fs, const char *rel, int64_t expected, hs__dav_put_t **out, const char **detail)
{
    *out = NULL;
    if (!rel[0]) {
        *detail = "the root is a collection; PUT cannot replace it (RFC 4918 §9.7.2)";
        return 405;
    }
    hs__dav_put_t *p = hs_calloc(1, sizeof(*p));
    p->fs = fs;
    p->fd = p->dirfd = -1;
    p->rel = hs_strdup(rel);
    int dfd = hs__dav_fs_parent(fs, p->rel, &p->name, detail);
    if (dfd < 0) {
        put_free(p);
        return -dfd;
    }
    p->dirfd = dfd;
    struct stat old;
    mode_t mode = 0666; /* less the umask, as for any new file */
    if (fstatat(dfd, p->name, &old, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(old.st_mode)) {
            put_free(p);
            *detail = "a collection is at this path; PUT does not replace collections (RFC 4918 §9.7.2)";
            return 405;
        }
        if (S_ISREG(old.st_mode)) {
            p->old_size = (uint64_t)old.st_size;
            mode = old.st_mode & 07777; /* a replaced file keeps its permissions */
        }
    } else if (errno != ENOENT) {
        int st = hs__dav_fs_status(errno, detail);
        put_free(p);
        return st;
    }
    uint64_t room = hs__dav_fs_room(fs);
    p->room = room == UINT64_MAX ? UINT64_MAX : room + p->old_size; /* the old file's bytes go */
    if (expected >= 0 && (uint64_t)expected > p->room) {
        put_free(p);
        *detail = "the upload would pass the quota: nothing was changed (RFC 4331, RFC 4918 §11.5)";
        return 507;
    }
    int fd = hs__dav_fs_tmp_open(dfd, mode, p->tmpname, detail);
    if (fd < 0) {
        put_free(p);
        return -fd;
    }
    if (mode != 0666)
        fchmod(fd, mode);
    p->fd = fd;
    *out = p;
    return 0;
}

int hs__dav_put_write(hs__dav_put_t *p, const void *data, size_t len, const char **detail)
{
    if (p->failed) {
        *detail = "the upload already failed";
        return 500;
    }
    if (len > p->room - p->written) {
        p->failed = true;
        *detail = "the upload passed the quota: nothing was changed (RFC 4331, RFC 4918 §11.5)";
        return 507;
    }
    const char *d = data;
    while (len) {
        ssize_t n = write(p->fd, d, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            p->failed = true;
            return hs__dav_fs_status(errno, detail);
        }
        d += n;
        len -= (size_t)n;
        p->written += (uint64_t)n;
    }
    return 0;
}

int hs__dav_put_commit(hs__dav_put_t *p, bool exclusive, bool *created, struct stat *st, const char **detail)
{
    *created = false;
    int r = p->failed ? 500 : 0;
    if (r) {
        *detail = "the upload already failed";
    } else {
        r = hs__dav_fs_tmp_place(p->fs, p->dirfd, p->fd, p->tmpname, p->name, exclusive, created, detail);
    }
    if (r) {
        hs__dav_fs_tmp_discard(p->dirfd, p->fd, p->tmpname);
        put_free(p);
        return r;
    }
    if (st && fstat(p->fd, st) != 0)
        memset(st, 0, sizeof(*st));
    close(p->fd);
    hs__dav_fs_usage_add(p->fs, (int64_t)p->written - (*created ? 0 : (int64_t)p->old_size));
    if (p->fs->store) {
        /* a new resource starts without the dead properties of whatever was here before it
         * (deleted behind our back), and is no longer gone */
        if (*created)
            hs__dav_prop_delete(p->fs->store, p->rel, false);
        hs__dav_tomb_clear(p->fs->store, p->rel);
    }
    put_free(p);
    return 0;
}

void hs__dav_put_abort(hs__dav_put_t *p)
{
    if (!p)
        return;
    hs__dav_fs_tmp_discard(p->dirfd, p->fd, p->tmpname);
    put_free(p);
}

/* ---- MKCOL ---- */

int hs__dav_mkcol(hs__dav_fs_t *fs, const char *rel, const char **detail)
{
    if (!rel[0]) {
        *detail = "the root exists (RFC 4918 §9.3.1: MKCOL on a mapped URL)";
        return 405;
    }
    const char *name;
    int dfd = hs__dav_fs_parent(fs, rel, &name, detail);
    if (dfd < 0)
        return -dfd;
    int st = 201;
    if (fs->quota && hs__dav_fs_room(fs) == 0) {
        *detail = "the quota is used up: nothing was created (RFC 4331, RFC 4918 §11.5)";
        st = 507;
    } else if (mkdirat(dfd, name, 0777) != 0) {
        if (errno == EEXIST) {
            *detail = "a resource exists at this URL (RFC 4918 §9.3.1)";
            st = 405;
        } else {
            st = hs__dav_fs_status(errno, detail);
        }
    } else {
        if (fs->fsync == HS__DAV_FSYNC_FULL)
            fsync(dfd);
        if (fs->store) {
            hs__dav_prop_delete(fs->store, rel, true);
            hs__dav_tomb_clear(fs->store, rel);
        }
    }
    close(dfd);
    return st;
}

/* ---- DELETE ---- */

typedef struct del_s {
    hs__dav_fs_t *fs;
    hs__dav_report_cb report;
    void *ctx;
    hs_buf_t path;    /* the key of the entry at hand */
    hs_buf_t removed; /* keys removed, NUL-separated, when members failed (store clean-up) */
    uint64_t freed;
    size_t depth, max_depth;
} del_t;

static void del_fail(del_t *d, int err, const char *why)
{
    const char *detail = why;
    int st = why ? 500 : hs__dav_fs_status(err, &detail);
    if (d->report)
        d->report(d->ctx, d->path.base, st, detail);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **hs__dav_fs_names(int dirfd, size_t *n)
{
    *n = 0;
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return NULL;
    }
    hs_buf_t names = {0};
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        hs_buf_append(&names, e->d_name, strlen(e->d_name) + 1);
        count++;
    }
    closedir(dir);
    char **out = hs_malloc((count + 1) * sizeof(char *) + names.len);
    char *p = (char *)(out + count + 1);
    if (names.len)
        memcpy(p, names.base, names.len);
    for (size_t i = 0; i < count; i++) {
        out[i] = p;
        p += strlen(p) + 1;
    }
    out[count] = NULL;
    qsort(out, count, sizeof(char *), cmp_names);
    hs_buf_free(&names);
    *n = count;
    return out;
}

static void path_push(hs_buf_t *b, const char *name)
{
    if (b->len > 1 || (b->len == 1 && b->base[0])) { /* not the root's "" */
        b->len--;                                    /* the NUL */
        HS_BUF_LIT(b, "/");
    } else {
        b->len = 0;
    }
    hs_buf_append(b, name, strlen(name) + 1);
}

static void path_pop(hs_buf_t *b, size_t len)
{
    b->len = len;
    b->base[len - 1] = '\0';
}

/* Remove `name` in parentfd (d->path is its key). true when it is gone. */
static bool del_entry(del_t *d, int parentfd, const char *name, bool top)
{
    struct stat st;
    if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return true; /* gone already: that is what was asked */
        del_fail(d, errno, NULL);
        return false;
    }
    if (!S_ISDIR(st.st_mode)) { /* a file, or a symbolic link: the binding goes, never its target */
        if (unlinkat(parentfd, name, 0) != 0 && errno != ENOENT) {
            del_fail(d, errno, NULL);
            return false;
        }
        if (S_ISREG(st.st_mode) && st.st_nlink <= 1)
            d->freed += (uint64_t)st.st_size;
        if (!top && d->fs->store)
            hs_buf_append(&d->removed, d->path.base, d->path.len);
        return true;
    }
    if (d->depth >= d->max_depth) {
        del_fail(d, 0, "the collection is nested deeper than the server walks");
        return false;
    }
    int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        del_fail(d, errno, NULL);
        return false;
    }
    size_t n;
    char **names = hs__dav_fs_names(fd, &n);
    if (!names) {
        del_fail(d, errno, NULL);
        close(fd);
        return false;
    }
    bool all = true;
    size_t mark = d->path.len;
    d->depth++;
    for (size_t i = 0; i < n; i++) {
        path_push(&d->path, names[i]);
        all &= del_entry(d, fd, names[i], false);
        path_pop(&d->path, mark);
    }
    d->depth--;
    free(names);
    close(fd);
    if (!all) /* RFC 4918 §9.6.1: a collection whose members failed stays, and is not reported */
        return false;
    if (unlinkat(parentfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        del_fail(d, errno, NULL);
        return false;
    }
    if (!top && d->fs->store)
        hs_buf_append(&d->removed, d->path.base, d->path.len);
    return true;
}

/* A reporter for the top resource: its failure becomes the answer, not a multistatus entry. */
typedef struct top_s {
    del_t *d;
    const char *top;
    int status;
    const char *detail;
    hs__dav_report_cb report;
    void *ctx;
    int members;
} top_t;

static void top_report(void *ctx, const char *rel, int status, const char *detail)
{
    top_t *t = ctx;
    if (strcmp(rel, t->top) == 0) {
        t->status = status;
        t->detail = detail;
        return;
    }
    t->members++;
    if (t->report)
        t->report(t->ctx, rel, status, detail);
}

int hs__dav_fs_remove(hs__dav_fs_t *fs, const char *rel, bool tombstone, hs__dav_report_cb report, void *ctx,
                      const char **detail)
{
    if (!rel[0]) {
        *detail = "the root of the tree cannot be deleted";
        return 403;
    }
    const char *name;
    int dfd = hs__dav_fs_parent(fs, rel, &name, detail);
    if (dfd < 0)
        return dfd == -409 ? 404 : -dfd;
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        int s = hs__dav_fs_status(errno, detail);
        close(dfd);
        return s;
    }
    del_t d = {.fs = fs, .max_depth = fs->max_depth ? fs->max_depth : 128};
    top_t t = {.d = &d, .top = rel, .report = report, .ctx = ctx};
    d.report = top_report;
    d.ctx = &t;
    hs_buf_append(&d.path, rel, strlen(rel) + 1);
    bool gone = del_entry(&d, dfd, name, true);
    if (gone && fs->fsync == HS__DAV_FSYNC_FULL)
        fsync(dfd);
    close(dfd);
    hs__dav_fs_usage_add(fs, -(int64_t)d.freed);
    int status = 204;
    if (!gone) {
        status = t.members ? 207 : t.status ? t.status : 500;
        *detail = t.members ? "some members could not be deleted" : t.detail ? t.detail : "the deletion failed";
    }
    if (fs->store) {
        bool subtree = S_ISDIR(st.st_mode);
        if (gone) {
            hs__dav_prop_delete(fs->store, rel, subtree);
            hs__dav_lock_delete(fs->store, rel, subtree);
            if (tombstone && fs->tomb_seconds) {
                int64_t now = (int64_t)time(NULL);
                hs__dav_tomb_add(fs->store, rel, subtree, now + fs->tomb_seconds, now);
            }
        } else {
            /* only what is gone loses its properties and locks */
            for (size_t off = 0; off < d.removed.len;) {
                const char *k = d.removed.base + off;
                hs__dav_prop_delete(fs->store, k, false);
                hs__dav_lock_delete(fs->store, k, false);
                off += strlen(k) + 1;
            }
        }
    }
    hs_buf_free(&d.path);
    hs_buf_free(&d.removed);
    return status;
}

int hs__dav_delete(hs__dav_fs_t *fs, const char *rel, hs__dav_report_cb report, void *ctx, const char **detail)
{
    return hs__dav_fs_remove(fs, rel, true, report, ctx, detail);
}
