/* statusd — containment below a root directory.
 *
 * The kernel resolves a path relative to a descriptor of the root with openat2(RESOLVE_BENEATH)
 * (Linux >= 5.6), so neither "..", nor a symbolic link, nor a rename racing with the lookup can
 * lead out of it; RESOLVE_NO_MAGICLINKS refuses /proc-style links. When openat2 is missing, or
 * refuses a link that is absolute but lands inside the root (EXDEV), the file is opened normally
 * and the path of what was actually opened (/proc/self/fd) must lie below the root's real path
 * — checked on the open descriptor, so no race between the check and the use.
 *
 * The request path reaching here is already normalised (src/http/path.c): this is the second,
 * independent defence, not the only one. */
#define _GNU_SOURCE
#include "hs/fsroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic uint64_t next_id = 1;

int hs_fsroot_init(hs_fsroot_t *r, const char *path, bool follow_symlinks)
{
    *r = (hs_fsroot_t){.fd = -1, .follow_symlinks = follow_symlinks};
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char *real = realpath(path, NULL);
    if (!real) {
        int e = errno;
        close(fd);
        return -e;
    }
    r->fd = fd;
    r->real = real;
    r->real_len = strlen(real);
    if (r->real_len == 1)
        r->real_len = 0; /* the root is "/": every path is below it */
    r->id = atomic_fetch_add(&next_id, 1);
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_DIRECTORY, .resolve = RESOLVE_BENEATH};
    int probe = (int)syscall(SYS_openat2, fd, ".", &how, sizeof(how));
    r->have_openat2 = probe >= 0;
    if (probe >= 0)
        close(probe);
    else
        hs_log_debug("openat2 unavailable (%s): symlink containment by realpath check", strerror(errno));
    return HS_OK;
}

void hs_fsroot_fini(hs_fsroot_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    free(r->real);
    r->fd = -1;
    r->real = NULL;
    r->real_len = 0;
}

/* Is the file open at fd below the root's real path? */
static bool fd_below_root(const hs_fsroot_t *r, int fd, const char *rel)
{
    char link[64], buf[PATH_MAX + 1];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, PATH_MAX);
    if (n < 0) {
        /* no /proc: resolve the path by name instead (racy, but still refuses what it sees) */
        char full[PATH_MAX];
        if (snprintf(full, sizeof(full), "%s/%s", r->real_len ? r->real : "", rel) >= (int)sizeof(full))
            return false;
        if (!realpath(full, buf))
            return false;
        n = (ssize_t)strlen(buf);
    }
    buf[n] = '\0';
    if (r->real_len == 0)
        return true;
    return (size_t)n >= r->real_len && memcmp(buf, r->real, r->real_len) == 0 &&
           (buf[r->real_len] == '\0' || buf[r->real_len] == '/');
}

int hs_fsroot_open(const hs_fsroot_t *r, const char *rel, struct stat *st, const char **detail)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: never a terminal. */
    const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    const char *name = rel[0] ? rel : ".";
    int fd = -1;
    bool check = false;
    if (r->follow_symlinks) {
        fd = openat(r->fd, name, flags);
    } else if (r->have_openat2) {
        struct open_how how = {.flags = flags, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
        int tries = 0;
        do /* EAGAIN: a concurrent rename made the kernel unsure; bounded retries */
            fd = (int)syscall(SYS_openat2, r->fd, name, &how, sizeof(how));
        while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 8);
        if (fd < 0 && errno == EXDEV) {
            /* resolution left the root — perhaps only through an absolute link that lands back
             * inside it: open it and judge where it really is */
            fd = openat(r->fd, name, flags);
            check = true;
        }
    } else {
        fd = openat(r->fd, name, flags);
        check = true;
    }
    if (fd >= 0 && check && !fd_below_root(r, fd, rel)) {
        close(fd);
        *detail = "the path leads through a symbolic link to outside the document root";
        return -403;
    }
    if (fd < 0) {
        switch (errno) {
        case ENOENT:
        case ENOTDIR:
        case ENAMETOOLONG: *detail = "no file or directory exists at this path"; return -404;
        case EACCES:
        case EPERM: *detail = "the server is not permitted to read this path"; return -403;
        case ELOOP: *detail = "the path runs into a loop of symbolic links"; return -403;
        case EXDEV: *detail = "the path leads through a symbolic link to outside the document root"; return -403;
        case EMFILE:
        case ENFILE: *detail = "the server is out of file descriptors; retry shortly"; return -503;
        default: *detail = "the file could not be opened"; return -500;
        }
    }
    if (fstat(fd, st) < 0) {
        close(fd);
        *detail = "the file could not be examined";
        return -500;
    }
    return fd;
}
