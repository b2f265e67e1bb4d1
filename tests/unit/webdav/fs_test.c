/* Unit tests: WebDAV file operations (src/modules/webdav/fs.c, copy.c, walk.c, live.c) — PUT by
 * temporary file and rename (old content intact on abort, quota, a full file system and kill -9;
 * no temporary file left), MKCOL, DELETE with per-member failures, COPY and MOVE with their
 * statuses, dead properties, locks and tombstones following the files, walks with bindings
 * (208) and cycles (508), the node budget, and live properties. */
#define _GNU_SOURCE
#include "../../../src/modules/static/static.h"
#include "../../../src/modules/webdav/fs.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static hs_arena_t A;
static char base[64], top[128], dbpath[160];
static hs_fsroot_t root;
static hs__dav_store_t *store;
static hs__dav_fs_t fs;

static const char *mime(const char *rel)
{
    return hs__static_mime_lookup(rel).content_type;
}

static void path_of(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", top, rel);
}

static void write_file(const char *rel, const char *content)
{
    char p[512];
    path_of(p, sizeof(p), rel);
    FILE *f = fopen(p, "w");
    if (!f)
        abort();
    fputs(content, f);
    fclose(f);
}

static void make_dir(const char *rel)
{
    char p[512];
    path_of(p, sizeof(p), rel);
    mkdir(p, 0755);
}

/* The content of a file (static buffer), or NULL. */
static const char *read_file(const char *rel)
{
    static char buf[4096];
    char p[512];
    path_of(p, sizeof(p), rel);
    FILE *f = fopen(p, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static bool exists(const char *rel)
{
    char p[512];
    struct stat st;
    path_of(p, sizeof(p), rel);
    return lstat(p, &st) == 0;
}

/* Entries of a directory, for "nothing left behind" checks. */
static int entries(const char *rel)
{
    char p[512];
    path_of(p, sizeof(p), rel);
    int fd = open(p, O_RDONLY | O_DIRECTORY);
    size_t n = 0;
    char **names = fd >= 0 ? hs__dav_fs_names(fd, &n) : NULL;
    free(names);
    if (fd >= 0)
        close(fd);
    return (int)n;
}

static int put(const char *rel, const char *content, bool exclusive, bool *created)
{
    hs__dav_put_t *p;
    const char *detail;
    int st = hs__dav_put_begin(&fs, rel, (int64_t)strlen(content), &p, &detail);
    if (st)
        return st;
    if ((st = hs__dav_put_write(p, content, strlen(content), &detail)) != 0) {
        hs__dav_put_abort(p);
        return st;
    }
    struct stat sst;
    return hs__dav_put_commit(p, exclusive, created, &sst, &detail);
}

static void set_prop(const char *rel, const char *value)
{
    hs__dav_propop_t op = {.name = {HS_IOV("t"), HS_IOV("p")}, .value = hs_iov_cstr(value), .lang = HS_IOV_NULL};
    hs__dav_prop_patch(store, rel, &op, 1);
}

static const char *get_prop(const char *rel)
{
    hs__dav_qname_t q = {HS_IOV("t"), HS_IOV("p")};
    hs__dav_prop_t p;
    return hs__dav_prop_get(store, &A, rel, &q, &p) == HS_OK ? p.value.base : NULL;
}

/* Reports collected for 207s. */
static char reports[2048];
static void report(void *ctx, const char *rel, int status, const char *detail)
{
    size_t n = strlen(reports);
    snprintf(reports + n, sizeof(reports) - n, "%s=%d;", rel, status);
}

static void test_put(void)
{
    bool created;
    is_int(put("a.txt", "hello", false, &created), 0, "PUT a new file");
    ok(created && read_file("a.txt") && strcmp(read_file("a.txt"), "hello") == 0, "created, content stored");
    is_int(put("a.txt", "replaced", false, &created), 0, "PUT over it");
    ok(!created && strcmp(read_file("a.txt"), "replaced") == 0, "replaced (204)");
    is_int(put("a.txt", "x", true, &created), 412, "If-None-Match: * onto an existing file: 412");
    ok(strcmp(read_file("a.txt"), "replaced") == 0, "…and the old content stays");
    is_int(put("excl.txt", "only", true, &created), 0, "an exclusive PUT onto nothing");
    ok(created && strcmp(read_file("excl.txt"), "only") == 0, "created");
    is_int(put("missing/a.txt", "x", false, &created), 409, "no parent: 409 (RFC 4918 §9.7.1)");
    is_int(put("a.txt/b", "x", false, &created), 409, "the parent is a file: 409");
    make_dir("dir");
    is_int(put("dir", "x", false, &created), 405, "onto a collection: 405");
    is_int(put("", "x", false, &created), 405, "onto the root: 405");

    /* the ETag PUT returns is GET's */
    hs__dav_put_t *p;
    const char *detail;
    is_int(hs__dav_put_begin(&fs, "etag.txt", -1, &p, &detail), 0, "begin without a length (chunked)");
    hs__dav_put_write(p, "abc", 3, &detail);
    hs__dav_put_write(p, "def", 3, &detail);
    struct stat st1, st2;
    hs__dav_put_commit(p, false, &created, &st1, &detail);
    char path[512];
    path_of(path, sizeof(path), "etag.txt");
    stat(path, &st2);
    char t1[HS_ETAG_STAT_MAX + 1], t2[HS_ETAG_STAT_MAX + 1];
    size_t l1 = hs_etag_from_stat(t1, &st1, NULL), l2 = hs_etag_from_stat(t2, &st2, NULL);
    ok(l1 == l2 && memcmp(t1, t2, l1) == 0 && strcmp(read_file("etag.txt"), "abcdef") == 0,
       "pieces stored in order; the returned stat gives the file's ETag");

    /* an aborted upload leaves the old content and nothing else */
    int before = entries("");
    is_int(hs__dav_put_begin(&fs, "a.txt", -1, &p, &detail), 0, "begin over a.txt");
    hs__dav_put_write(p, "partial", 7, &detail);
    ok(strcmp(read_file("a.txt"), "replaced") == 0, "readers see the old content during the upload");
    is_int(entries(""), before, "the upload has no name while it runs (O_TMPFILE)");
    hs__dav_put_abort(p);
    ok(strcmp(read_file("a.txt"), "replaced") == 0 && entries("") == before, "abort: old content, nothing left");

    /* permissions of a replaced file are kept */
    chmod(path, 0600);
    put("etag.txt", "new", false, &created);
    stat(path, &st2);
    is_int(st2.st_mode & 0777, 0600, "a replaced file keeps its mode");

    /* kill -9 in the middle of an upload */
    int fds[2];
    if (pipe(fds) != 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        hs__dav_put_t *cp;
        const char *d;
        if (hs__dav_put_begin(&fs, "a.txt", -1, &cp, &d) == 0)
            hs__dav_put_write(cp, "half of a new versi", 19, &d);
        char c = 'x';
        if (write(fds[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    ok(read(fds[0], &c, 1) == 1, "the child is writing");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    close(fds[1]);
    ok(strcmp(read_file("a.txt"), "replaced") == 0, "kill -9 during PUT: the old file is intact");
    is_int(entries(""), before, "…and no temporary file is visible");

    /* quota */
    fs.quota = 1; /* recomputed below: set it from what is used now */
    fs.used_known = false;
    uint64_t used, avail;
    hs__dav_quota(&fs, &used, &avail);
    fs.quota = used + 10;
    fs.used_known = false;
    is_int(hs__dav_put_begin(&fs, "q.txt", 11, &p, &detail), 507, "Content-Length over the quota: 507");
    is_int(hs__dav_put_begin(&fs, "q.txt", -1, &p, &detail), 0, "chunked: begins");
    is_int(hs__dav_put_write(p, "0123456789", 10, &detail), 0, "10 bytes fit");
    is_int(hs__dav_put_write(p, "x", 1, &detail), 507, "the 11th passes the quota: 507");
    hs__dav_put_abort(p);
    ok(!exists("q.txt"), "nothing stored");
    is_int(put("a.txt", "replaced plus 12345", false, &created), 507,
           "replacing 8 bytes by 19 adds 11: over the 10 left");
    is_int(put("a.txt", "replaced plus 1234", false, &created), 0, "replacing 8 bytes by 18 adds 10: fits");
    ok(strcmp(read_file("a.txt"), "replaced plus 1234") == 0, "stored");
    put("a.txt", "replaced", false, &created);
    fs.quota = 0;
}

static void test_enospc(void)
{
    char mnt[512];
    path_of(mnt, sizeof(mnt), "small");
    mkdir(mnt, 0755);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        printf("ok %d # SKIP tmpfs cannot be mounted here (%s)\n", ++tap_n, strerror(errno));
        rmdir(mnt);
        return;
    }
    bool created;
    is_int(put("small/f", "old content", false, &created), 0, "a file on a 64 KiB file system");
    hs__dav_put_t *p;
    const char *detail;
    is_int(hs__dav_put_begin(&fs, "small/f", -1, &p, &detail), 0, "begin a large upload");
    char block[8192];
    memset(block, 'z', sizeof(block));
    int st = 0;
    for (int i = 0; i < 64 && st == 0; i++)
        st = hs__dav_put_write(p, block, sizeof(block), &detail);
    is_int(st, 507, "ENOSPC while writing: 507");
    hs__dav_put_abort(p);
    ok(strcmp(read_file("small/f"), "old content") == 0, "the old content intact");
    is_int(entries("small"), 1, "no temporary file");
    /* COPY of a big file onto it: 507, old content intact */
    char big[512];
    path_of(big, sizeof(big), "big.bin");
    FILE *f = fopen(big, "w");
    for (int i = 0; i < 16; i++)
        fwrite(block, 1, sizeof(block), f);
    fclose(f);
    is_int(hs__dav_copy(&fs, "big.bin", "small/f", 0, true, report, NULL, &created, &detail), 507,
           "COPY onto a full file system: 507");
    ok(strcmp(read_file("small/f"), "old content") == 0, "the destination's old content intact");
    is_int(hs__dav_mkcol(&fs, "small/d", &detail), 201, "a directory still fits");
    umount(mnt);
    rmdir(mnt);
    unlink(big);
}

static void test_mkcol_delete(void)
{
    const char *detail;
    is_int(hs__dav_mkcol(&fs, "c1", &detail), 201, "MKCOL");
    is_int(hs__dav_mkcol(&fs, "c1", &detail), 405, "MKCOL again: 405 (RFC 4918 §9.3.1)");
    is_int(hs__dav_mkcol(&fs, "a.txt", &detail), 405, "MKCOL on a file: 405");
    is_int(hs__dav_mkcol(&fs, "nope/c", &detail), 409, "MKCOL without parent: 409");
    is_int(hs__dav_mkcol(&fs, "a.txt/c", &detail), 409, "MKCOL under a file: 409");
    is_int(hs__dav_mkcol(&fs, "", &detail), 405, "MKCOL on the root: 405");
    is_int(hs__dav_mkcol(&fs, "c1/..", &detail), 400, "a dot segment in a key: 400");
    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    is_int(hs__dav_mkcol(&fs, longname, &detail), 400, "a segment over NAME_MAX: 400");

    bool created;
    make_dir("t");
    make_dir("t/u");
    write_file("t/f", "1");
    write_file("t/u/g", "2");
    set_prop("t", "tp");
    set_prop("t/u/g", "gp");
    hs__dav_lock_t l = {.root = HS_IOV("t/u"), .depth = 0, .exclusive = true, .timeout = 60}, c;
    hs__dav_lock_create(store, &A, &l, time(NULL), &c);
    reports[0] = '\0';
    is_int(hs__dav_delete(&fs, "t", report, NULL, &detail), 204, "DELETE a tree: 204");
    ok(!exists("t") && reports[0] == '\0', "gone, nothing reported");
    ok(!get_prop("t") && !get_prop("t/u/g"), "dead properties gone");
    hs__dav_lock_t *ls;
    size_t n;
    hs__dav_lock_list(store, &A, "t", HS__DAV_LOCK_INFINITY, time(NULL), &ls, &n);
    is_int(n, 0, "locks gone");
    int64_t now = time(NULL);
    is_int(hs__dav_gone(&fs, "t", now), 1, "410 for the collection");
    is_int(hs__dav_gone(&fs, "t/u/g", now), 1, "410 for a member");
    is_int(hs__dav_delete(&fs, "t", report, NULL, &detail), 404, "DELETE again: 404");
    is_int(hs__dav_delete(&fs, "", report, NULL, &detail), 403, "DELETE the root: 403");
    is_int(hs__dav_mkcol(&fs, "t", &detail), 201, "made again");
    is_int(hs__dav_gone(&fs, "t", now), 0, "no longer gone");
    is_int(hs__dav_gone(&fs, "t/u", now), 0, "nor its old members");
    put("t/f", "x", false, &created);
    is_int(hs__dav_delete(&fs, "t/f", report, NULL, &detail), 204, "DELETE a file");
    is_int(hs__dav_gone(&fs, "t/f", now), 1, "it is gone (410)");
    put("t/f", "y", false, &created);
    is_int(hs__dav_gone(&fs, "t/f", now), 0, "PUT brings it back");

    /* a symbolic link is removed, never followed */
    make_dir("keep");
    write_file("keep/k", "k");
    char target[512], link[512];
    path_of(target, sizeof(target), "keep");
    path_of(link, sizeof(link), "t/link");
    if (symlink(target, link) != 0)
        printf("# symlink failed\n");
    is_int(hs__dav_delete(&fs, "t", report, NULL, &detail), 204, "DELETE a tree holding a link to a collection");
    ok(exists("keep/k"), "the link's target is untouched");

    /* members that cannot be deleted: 207 with exactly them (as nobody, so permissions count) */
    make_dir("p");
    make_dir("p/ro");
    write_file("p/a", "a");
    write_file("p/ro/x", "x");
    write_file("p/z", "z");
    char pd[512];
    path_of(pd, sizeof(pd), "p");
    chmod(pd, 0777);
    int fds[2];
    if (pipe(fds) != 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        hs__dav_fs_t nfs;
        hs__dav_fs_init(&nfs, &root, NULL, "/dav");
        nfs.fsync = HS__DAV_FSYNC_NONE;
        char ro[512];
        path_of(ro, sizeof(ro), "p/ro");
        if (geteuid() != 0)
            chmod(ro, 0555);
        reports[0] = '\0';
        int st = hs__dav_delete(&nfs, "p", report, NULL, &detail);
        char out[2100];
        int len = snprintf(out, sizeof(out), "%d %s", st, reports);
        if (write(fds[1], out, (size_t)len + 1) < 0)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    char out[2100] = "";
    ssize_t got = read(fds[0], out, sizeof(out) - 1);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    ok(got > 0 && strcmp(out, "207 p/ro/x=403;") == 0,
       "DELETE with a member that cannot go: 207, only it reported (%s)", out);
    ok(!exists("p/a") && !exists("p/z") && exists("p/ro/x") && exists("p"), "the rest is gone; the ancestors stay");
    char ro[512];
    path_of(ro, sizeof(ro), "p/ro");
    chmod(ro, 0755);
    hs__dav_delete(&fs, "p", report, NULL, &detail);
}

static void test_copy_move(void)
{
    const char *detail;
    bool created;
    make_dir("src");
    make_dir("src/sub");
    write_file("src/f1", "one");
    write_file("src/sub/f2", "two");
    set_prop("src", "s");
    set_prop("src/sub/f2", "f2");
    reports[0] = '\0';
    is_int(hs__dav_copy(&fs, "src", "dst", HS__DAV_LOCK_INFINITY, true, report, NULL, &created, &detail), 201,
           "COPY a tree: 201");
    ok(created && strcmp(read_file("dst/f1"), "one") == 0 && strcmp(read_file("dst/sub/f2"), "two") == 0,
       "contents copied");
    ok(get_prop("dst") && strcmp(get_prop("dst"), "s") == 0 && get_prop("dst/sub/f2"), "dead properties copied");
    ok(strcmp(read_file("src/f1"), "one") == 0 && get_prop("src"), "the source unchanged");
    is_int(hs__dav_copy(&fs, "src", "dst", HS__DAV_LOCK_INFINITY, false, report, NULL, &created, &detail), 412,
           "Overwrite: F onto it: 412");
    write_file("dst/extra", "e");
    is_int(hs__dav_copy(&fs, "src", "dst", HS__DAV_LOCK_INFINITY, true, report, NULL, &created, &detail), 204,
           "Overwrite: T onto it: 204");
    ok(!exists("dst/extra"), "the destination was deleted first (RFC 4918 §9.8.4)");
    is_int(hs__dav_copy(&fs, "src", "shallow", 0, true, report, NULL, &created, &detail), 201, "COPY Depth: 0");
    ok(exists("shallow") && entries("shallow") == 0, "an empty collection");
    is_int(hs__dav_copy(&fs, "src/f1", "f1copy", 0, true, report, NULL, &created, &detail), 201, "COPY a file");
    ok(strcmp(read_file("f1copy"), "one") == 0, "its content");
    write_file("f1copy", "old");
    is_int(hs__dav_copy(&fs, "src/sub/f2", "f1copy", 0, true, report, NULL, &created, &detail), 204,
           "COPY a file over a file: 204");
    ok(strcmp(read_file("f1copy"), "two") == 0, "replaced");
    is_int(hs__dav_copy(&fs, "src", "src", HS__DAV_LOCK_INFINITY, true, report, NULL, &created, &detail), 403,
           "onto itself: 403");
    is_int(hs__dav_copy(&fs, "src", "src/sub/x", HS__DAV_LOCK_INFINITY, true, report, NULL, &created, &detail), 403,
           "into itself: 403");
    is_int(hs__dav_copy(&fs, "src/sub", "src", HS__DAV_LOCK_INFINITY, true, report, NULL, &created, &detail), 403,
           "onto its own ancestor: 403");
    is_int(hs__dav_copy(&fs, "none", "x", 0, true, report, NULL, &created, &detail), 404, "no source: 404");
    is_int(hs__dav_copy(&fs, "src", "no/x", 0, true, report, NULL, &created, &detail), 409, "no parent: 409");

    /* a cycle of bindings: 508, nothing written */
    make_dir("cyc");
    make_dir("cyc/in");
    char target[512], link[512];
    path_of(target, sizeof(target), "cyc");
    path_of(link, sizeof(link), "cyc/in/back");
    if (symlink(target, link) != 0)
        printf("# symlink failed\n");
    is_int(hs__dav_copy(&fs, "cyc", "cyc2", HS__DAV_LOCK_INFINITY, true, report, NULL, &created, &detail), 508,
           "COPY of a collection with a cycle: 508");
    ok(!exists("cyc2"), "nothing copied");
    is_int(hs__dav_copy(&fs, "cyc", "cyc3", 0, true, report, NULL, &created, &detail), 201, "Depth 0 copies anyway");

    /* MOVE */
    hs__dav_lock_t l = {.root = HS_IOV("dst/sub"), .depth = 0, .exclusive = true, .timeout = 60}, c;
    hs__dav_lock_create(store, &A, &l, time(NULL), &c);
    is_int(hs__dav_move(&fs, "dst", "moved", true, report, NULL, &created, &detail), 201, "MOVE a tree: 201");
    ok(!exists("dst") && strcmp(read_file("moved/sub/f2"), "two") == 0, "moved");
    ok(!get_prop("dst") && get_prop("moved") && get_prop("moved/sub/f2"), "dead properties moved");
    hs__dav_lock_t *ls;
    size_t n;
    hs__dav_lock_list(store, &A, "", HS__DAV_LOCK_INFINITY, time(NULL), &ls, &n);
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= hs_iov_has_prefix(ls[i].root, "dst") || hs_iov_has_prefix(ls[i].root, "moved");
    ok(!any, "locks do not move (RFC 4918 §9.9.1)");
    write_file("m1", "m1");
    write_file("m2", "m2");
    is_int(hs__dav_move(&fs, "m1", "m2", false, report, NULL, &created, &detail), 412, "MOVE Overwrite: F: 412");
    is_int(hs__dav_move(&fs, "m1", "m2", true, report, NULL, &created, &detail), 204, "MOVE over a file: 204");
    ok(!exists("m1") && strcmp(read_file("m2"), "m1") == 0, "replaced");
    is_int(hs__dav_move(&fs, "m2", "moved", true, report, NULL, &created, &detail), 204, "a file over a collection");
    ok(strcmp(read_file("moved"), "m1") == 0, "the collection was deleted first");
    is_int(hs__dav_move(&fs, "src", "src/sub/in", true, report, NULL, &created, &detail), 403, "into itself: 403");
    is_int(hs__dav_move(&fs, "nothing", "x", true, report, NULL, &created, &detail), 404, "no source: 404");
    is_int(hs__dav_move(&fs, "src", "no/x", true, report, NULL, &created, &detail), 409, "no parent: 409");
    is_int(hs__dav_move(&fs, "", "x", true, report, NULL, &created, &detail), 403, "the root: 403");
}

/* walks */
static char walked[4096];
static int walk_cb(void *ctx, const char *rel, const struct stat *st, int kind, int status)
{
    static const char *const k[] = {"F", "C", "AGAIN", "LOOP", "ERR"};
    size_t n = strlen(walked);
    snprintf(walked + n, sizeof(walked) - n, "%s:%s%s%.0d;", rel[0] ? rel : "/", k[kind], status ? "" : "", status);
    return 0;
}

static void test_walk(void)
{
    const char *detail;
    make_dir("w");
    make_dir("w/b");
    make_dir("w/a");
    write_file("w/a/f", "f");
    write_file("w/z", "z");
    write_file("w/" HS__DAV_TMP_PREFIX "put-1", "hidden");
    char target[512], link[512];
    path_of(target, sizeof(target), "w/a");
    path_of(link, sizeof(link), "w/b/alias");
    if (symlink(target, link) != 0)
        printf("# symlink failed\n");
    path_of(link, sizeof(link), "w/b/up");
    if (symlink("..", link) != 0)
        printf("# symlink failed\n");
    path_of(link, sizeof(link), "w/out");
    if (symlink("/etc", link) != 0)
        printf("# symlink failed\n");
    walked[0] = '\0';
    is_int(hs__dav_walk(&fs, "w", 0, 0, walk_cb, NULL, &detail), 0, "walk Depth 0");
    ok(strcmp(walked, "w:C;") == 0, "just the collection (%s)", walked);
    walked[0] = '\0';
    hs__dav_walk(&fs, "w", 1, 0, walk_cb, NULL, &detail);
    ok(strcmp(walked, "w:C;w/a:C;w/b:C;w/out:ERR403;w/z:F;") == 0,
       "Depth 1: sorted members, hidden ones skipped, a link out of the tree 403 (%s)", walked);
    walked[0] = '\0';
    is_int(hs__dav_walk(&fs, "w", HS__DAV_LOCK_INFINITY, 0, walk_cb, NULL, &detail), 0, "walk Depth infinity");
    ok(strcmp(walked, "w:C;w/a:C;w/a/f:F;w/b:C;w/b/alias:AGAIN208;w/b/up:LOOP508;w/out:ERR403;w/z:F;") == 0,
       "a second binding is 208, a link to an ancestor 508 (%s)", walked);
    walked[0] = '\0';
    is_int(hs__dav_walk(&fs, "w", HS__DAV_LOCK_INFINITY, 5, walk_cb, NULL, &detail), 403, "over the budget: 403");
    ok(strcmp(walked, "w:C;w/a:C;w/a/f:F;w/b:C;w/b/alias:AGAIN208;") == 0, "stopped before the sixth (%s)", walked);
    walked[0] = '\0';
    is_int(hs__dav_walk_flags(&fs, "w", HS__DAV_LOCK_INFINITY, 0, HS__DAV_WALK_REPEAT, walk_cb, NULL, &detail), 0,
           "walk Depth infinity, repeating second bindings");
    ok(strcmp(walked, "w:C;w/a:C;w/a/f:F;w/b:C;w/b/alias:C;w/b/alias/f:F;w/b/up:LOOP508;w/out:ERR403;w/z:F;") == 0,
       "a second binding is entered again, a cycle still stops (%s)", walked);
    is_int(hs__dav_walk(&fs, "w/none", 1, 0, walk_cb, NULL, &detail), 404, "walk of nothing: 404");
    walked[0] = '\0';
    hs__dav_walk(&fs, "w/z", 1, 0, walk_cb, NULL, &detail);
    ok(strcmp(walked, "w/z:F;") == 0, "a file has no members");
    walked[0] = '\0';
    hs__dav_walk(&fs, "w/b/alias", 1, 0, walk_cb, NULL, &detail);
    ok(strcmp(walked, "w/b/alias:C;w/b/alias/f:F;") == 0, "walking through a binding (%s)", walked);
}

static hs_iovec_t live(const char *rel, const char *name, int *status)
{
    struct stat st;
    const char *detail;
    hs__dav_stat(&fs, rel, &st, &detail);
    hs_buf_t b = {0};
    hs__dav_qname_t q = {HS_IOV("DAV:"), hs_iov_cstr(name)};
    *status = hs__dav_live_get(&fs, &A, rel, &st, &q, time(NULL), &b);
    hs_iovec_t v = hs_iov(hs_arena_strndup(&A, b.base ? b.base : "", b.len), b.len);
    hs_buf_free(&b);
    return v;
}

static void test_live(void)
{
    int st;
    bool created;
    put("live.html", "<p>hi</p>", false, &created);
    make_dir("lc");
    hs_iovec_t v = live("live.html", "getetag", &st);
    struct stat s;
    char p[512];
    path_of(p, sizeof(p), "live.html");
    stat(p, &s);
    char tag[HS_ETAG_STAT_MAX + 1];
    size_t tl = hs_etag_from_stat(tag, &s, NULL);
    ok(st == 200 && v.len == tl && memcmp(v.base, tag, tl) == 0, "getetag is GET's ETag (%s)", v.base);
    v = live("live.html", "getcontenttype", &st);
    ok(st == 200 && hs_iov_has_prefix(v, "text/html"), "getcontenttype from the MIME table (%s)", v.base);
    v = live("live.html", "getcontentlength", &st);
    ok(st == 200 && HS_IOV_EQ(v, "9"), "getcontentlength");
    v = live("live.html", "getlastmodified", &st);
    time_t t;
    ok(st == 200 && hs_http_date_parse(v, &t) && t == s.st_mtime, "getlastmodified is an HTTP-date (%s)", v.base);
    v = live("live.html", "creationdate", &st);
    ok(st == 200 && v.len == 20 && v.base[4] == '-' && v.base[10] == 'T' && v.base[19] == 'Z', "creationdate (%s)",
       v.base);
    v = live("live.html", "resourcetype", &st);
    ok(st == 200 && v.len == 0, "a file's resourcetype is empty");
    v = live("lc", "resourcetype", &st);
    ok(st == 200 && HS_IOV_EQ(v, "<D:collection/>"), "a collection's");
    live("lc", "getcontentlength", &st);
    is_int(st, 404, "no getcontentlength on a collection");
    live("live.html", "quota-used-bytes", &st);
    is_int(st, 404, "quota on a file: 404");
    uint64_t used, avail;
    fs.used_known = false;
    hs__dav_quota(&fs, &used, &avail);
    v = live("lc", "quota-used-bytes", &st);
    ok(st == 200 && (uint64_t)strtoull(v.base, NULL, 10) == used, "quota-used-bytes (%s)", v.base);
    fs.quota = used + 1000;
    v = live("lc", "quota-available-bytes", &st);
    ok(st == 200 && strcmp(v.base, "1000") == 0, "quota-available-bytes under a quota (%s)", v.base);
    fs.quota = 0;
    v = live("lc", "supportedlock", &st);
    ok(st == 200 && strstr(v.base, "<D:exclusive/>") && strstr(v.base, "<D:shared/>"), "supportedlock");
    v = live("live.html", "resource-id", &st);
    hs_iovec_t v2 = live("a.txt", "resource-id", &st);
    ok(st == 200 && hs_iov_has_prefix(v, "<D:href>urn:uuid:") &&
           !(v.len == v2.len && memcmp(v.base, v2.base, v.len) == 0),
       "resource-id differs between files");
    hs__dav_move(&fs, "live.html", "lc/moved.html", true, NULL, NULL, &created, &(const char *){NULL});
    hs_iovec_t v3 = live("lc/moved.html", "resource-id", &st);
    ok(v.len == v3.len && memcmp(v.base, v3.base, v.len) == 0, "…and stays through a MOVE (RFC 5842 §3.1)");
    v = live("lc/moved.html", "parent-set", &st);
    ok(st == 200 &&
           strcmp(v.base, "<D:parent><D:href>/dav/lc/</D:href><D:segment>moved.html</D:segment></D:parent>") == 0,
       "parent-set (%s)", v.base);
    v = live("lc", "lockdiscovery", &st);
    ok(st == 200 && v.len == 0, "no locks: empty lockdiscovery");
    hs__dav_lock_t l = {.root = HS_IOV("lc"),
                        .depth = HS__DAV_LOCK_INFINITY,
                        .exclusive = false,
                        .timeout = 100,
                        .owner = HS_IOV("litmus test suite")},
                   c;
    hs__dav_lock_create(store, &A, &l, time(NULL), &c);
    v = live("lc/moved.html", "lockdiscovery", &st);
    ok(st == 200 && strstr(v.base, l.token.base) && strstr(v.base, "<D:lockroot><D:href>/dav/lc/</D:href>") &&
           strstr(v.base, "<D:depth>infinity</D:depth>") && strstr(v.base, "<D:shared/>") &&
           strstr(v.base, "<D:owner>litmus test suite</D:owner>") && strstr(v.base, "<D:timeout>Second-"),
       "lockdiscovery through the collection's lock (%s)", v.base);
    hs_buf_t body = {0};
    hs__dav_xml_lock_body(&body, &fs, &l, time(NULL));
    const hs__dav_xnode_t *r;
    const char *detail;
    ok(hs__dav_xml_parse(&A, body.base, body.len, NULL, &r, &detail) == 0 && hs__dav_is_dav(&r->q, "prop") &&
           hs__dav_xml_child(hs__dav_xml_child(r, "DAV:", "lockdiscovery"), "DAV:", "activelock"),
       "the LOCK response body reads back");
    hs_buf_free(&body);
    v = live("lc", "displayname", &st);
    ok(st == 200 && HS_IOV_EQ(v, "lc"), "displayname: the collection's own name");
    v = live("", "displayname", &st);
    ok(st == 200 && HS_IOV_EQ(v, "dav"), "displayname of the tree's root: the mount's name");
    live("lc", "getcontentlanguage", &st);
    is_int(st, 404, "getcontentlanguage: none until a client sets one");
    hs__dav_qname_t q1 = {HS_IOV("DAV:"), HS_IOV("getetag")}, q2 = {HS_IOV("DAV:"), HS_IOV("displayname")},
                    q3 = {HS_IOV("x"), HS_IOV("getetag")};
    ok(hs__dav_live_protected(&q1) && !hs__dav_live_protected(&q2) && !hs__dav_live_protected(&q3),
       "protected: live DAV: properties only, displayname settable");
    ok(hs__dav_live_find(&q2) && hs__dav_live_find(&q2)->settable && !hs__dav_live_find(&q3), "found by name");
    size_t n;
    const hs__dav_live_t *tab = hs__dav_live_table(&n);
    size_t nall = 0;
    for (size_t i = 0; i < n; i++)
        nall += tab[i].allprop;
    ok(n == 14 && nall == 10, "14 live properties, 10 of them in allprop (displayname, getcontentlanguage too)");
    ok(HS_IOV_EQ(hs__dav_href(&A, &fs, "", true), "/dav/") &&
           HS_IOV_EQ(hs__dav_href(&A, &fs, "a b", false), "/dav/a b"),
       "hrefs under the mount point");
}

static void test_bind(void)
{
    const char *detail;
    bool created;
    make_dir("bd");
    make_dir("bd/x");
    make_dir("bd/y");
    write_file("bd/x/file", "content");
    is_int(hs__dav_bind(&fs, "bd/y", "alias", "bd/x", false, &created, &detail), 201, "BIND a collection: 201");
    char p[512], text[256];
    path_of(p, sizeof(p), "bd/y/alias");
    ssize_t n = readlink(p, text, sizeof(text) - 1);
    text[n > 0 ? n : 0] = '\0';
    ok(created && strcmp(text, "../x") == 0, "a relative link (%s)", text);
    ok(read_file("bd/y/alias/file") && strcmp(read_file("bd/y/alias/file"), "content") == 0, "the content through it");
    is_int(hs__dav_bind(&fs, "bd/y", "alias", "bd/x/file", false, &created, &detail), 412, "bound: Overwrite F 412");
    is_int(hs__dav_bind(&fs, "bd/y", "alias", "bd/x/file", true, &created, &detail), 200, "rebound with Overwrite T");
    ok(!created && strcmp(read_file("bd/y/alias"), "content") == 0 && exists("bd/x/file"), "a file binding; x kept");
    is_int(hs__dav_bind(&fs, "bd/y", "top", "", false, &created, &detail), 201, "a binding to the root");
    n = readlink((path_of(p, sizeof(p), "bd/y/top"), p), text, sizeof(text) - 1);
    text[n > 0 ? n : 0] = '\0';
    ok(strcmp(text, "../..") == 0, "…as ../.. (%s)", text);
    walked[0] = '\0';
    hs__dav_walk(&fs, "bd", HS__DAV_LOCK_INFINITY, 0, walk_cb, NULL, &detail);
    ok(strstr(walked, "bd/y/top:C;") && strstr(walked, "bd/y/top/bd:LOOP508;"),
       "a cycle through BIND is found by walks");
    is_int(hs__dav_bind(&fs, "bd/y", "none", "bd/nothing", false, &created, &detail), 409, "no target: 409");
    is_int(hs__dav_bind(&fs, "bd/x/file", "s", "bd/x", false, &created, &detail), 409, "into a file: 409");
    is_int(hs__dav_bind(&fs, "bd/y", "a/b", "bd/x", false, &created, &detail), 403, "a segment with '/': 403");
    is_int(hs__dav_bind(&fs, "bd/y", HS__DAV_TMP_PREFIX "x", "bd/x", false, &created, &detail), 403,
           "a reserved name: 403");
    is_int(hs__dav_rebind(&fs, "bd", "moved-alias", "bd/y/alias", false, &created, &detail), 201, "REBIND a link");
    path_of(p, sizeof(p), "bd/moved-alias");
    n = readlink(p, text, sizeof(text) - 1);
    text[n > 0 ? n : 0] = '\0';
    ok(!exists("bd/y/alias") && strcmp(text, "x/file") == 0, "rewritten for its new directory (%s)", text);
    is_int(hs__dav_rebind(&fs, "bd/y", "xx", "bd/x", false, &created, &detail), 201, "REBIND a real collection");
    ok(!exists("bd/x") && exists("bd/y/xx/file"), "renamed");
    is_int(hs__dav_rebind(&fs, "bd/y/xx", "in", "bd/y", false, &created, &detail), 403, "into itself: 403");
    is_int(hs__dav_unbind(&fs, "bd", "moved-alias", report, NULL, &detail), 200, "UNBIND a link");
    ok(!exists("bd/moved-alias") && exists("bd/y/xx/file"), "the link gone, its target kept");
    is_int(hs__dav_unbind(&fs, "bd/y", "xx", report, NULL, &detail), 200, "UNBIND the last binding");
    ok(!exists("bd/y/xx"), "the resource is gone (RFC 5842 §5)");
    is_int(hs__dav_unbind(&fs, "bd/y", "xx", report, NULL, &detail), 404, "UNBIND again: 404");
}

int main(void)
{
    hs_arena_init(&A);
    snprintf(base, sizeof(base), "/tmp/hs-fs-XXXXXX");
    if (!mkdtemp(base))
        return 1;
    chmod(base, 0755);
    snprintf(top, sizeof(top), "%s/tree", base);
    snprintf(dbpath, sizeof(dbpath), "%s/dav.sqlite", base);
    mkdir(top, 0755);
    hs__static_mime_init();
    if (hs_fsroot_init(&root, top, false) != HS_OK)
        return 1;
    const char *detail;
    if (hs__dav_store_open_sqlite(&(hs__dav_store_opts_t){.path = dbpath}, &store, &detail) != HS_OK)
        return 1;
    hs__dav_fs_init(&fs, &root, store, "/dav");
    fs.content_type = mime;
    fs.tomb_seconds = 60;
    test_put();
    test_enospc();
    test_mkcol_delete();
    test_copy_move();
    test_walk();
    test_live();
    test_bind();
    hs__dav_fs_fini(&fs);
    hs__dav_store_close(store);
    hs_fsroot_fini(&root);
    hs__static_mime_free();
    hs_arena_reset(&A);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    if (system(cmd) != 0)
        printf("# cleanup failed\n");
    return tap_done();
}
