/* statusd — static origin: from a request path to a file that is certainly below the root.
 *
 * Two independent defences:
 *   1. the path is normalised (src/http/path.c, every escape decoded once) so that it never names
 *      anything above the root: each segment is percent-decoded on its own (so an encoded '/'
 *      can never create a segment boundary, and %2e%2e is recognised as the dot segment it is —
 *      RFC 3986 §2.3 and §6.2.2.2), dot segments are removed with ".." clamped at the root
 *      (RFC 3986 §5.2.4), NUL is refused;
 *   2. the kernel resolves the result relative to a descriptor of the root with
 *      openat2(RESOLVE_BENEATH) (Linux >= 5.6), so a symbolic link cannot lead out of it. When
 *      openat2 is missing, or refuses a link that is absolute but stays inside the root, the
 *      file is opened normally and the path of what was actually opened (/proc/self/fd) must
 *      lie below the root's real path — checked on the open descriptor, so no race.
 */
#define _GNU_SOURCE
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool have_openat2;
static char *root_real; /* realpath of the root */
static size_t root_real_len;

int hs__static_map(hs_arena_t *a, hs_iovec_t path, hs__static_path_t *out, const char **detail)
{
    hs_iovec_t p;
    int st = hs_path_normalize_arena(a, path, &p, HS_PATH_DECODE, detail);
    if (st)
        return st;
    /* "/" or "/a/b" or "/a/b/": relative to the root, without the slashes around it */
    char *rel = (char *)p.base + 1;
    size_t len = p.len - 1;
    out->trailing_slash = len == 0 || rel[len - 1] == '/';
    if (len && rel[len - 1] == '/')
        rel[--len] = '\0';
    out->rel = rel;
    out->len = len;
    return 0;
}

int hs__static_map_init(const char *root)
{
    free(root_real);
    root_real = realpath(root, NULL);
    if (!root_real) {
        fprintf(stderr, "statusd: root %s: %s\n", root, strerror(errno));
        return HS_ERROR;
    }
    root_real_len = strlen(root_real);
    if (root_real_len == 1)
        root_real_len = 0; /* the root is "/": every path is below it */
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_DIRECTORY, .resolve = RESOLVE_BENEATH};
    int fd = (int)syscall(SYS_openat2, hs__static_root_fd, ".", &how, sizeof(how));
    have_openat2 = fd >= 0;
    if (fd >= 0)
        close(fd);
    else
        hs_log_debug("openat2 unavailable (%s): symlink containment by realpath check", strerror(errno));
    return HS_OK;
}

const char *hs__static_root_path(void)
{
    return root_real;
}

void hs__static_map_without_openat2(void)
{
    have_openat2 = false;
}

/* Is the file open at fd below the root's real path? */
static bool fd_below_root(int fd, const char *rel)
{
    char link[64], buf[PATH_MAX + 1];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, PATH_MAX);
    if (n < 0) {
        /* no /proc: resolve the path by name instead (racy, but still refuses what it sees) */
        char full[PATH_MAX];
        if (snprintf(full, sizeof(full), "%s/%s", root_real_len ? root_real : "", rel) >= (int)sizeof(full))
            return false;
        if (!realpath(full, buf))
            return false;
        n = (ssize_t)strlen(buf);
    }
    buf[n] = '\0';
    if (root_real_len == 0)
        return true;
    return (size_t)n >= root_real_len && memcmp(buf, root_real, root_real_len) == 0 &&
           (buf[root_real_len] == '\0' || buf[root_real_len] == '/');
}

int hs__static_open(const char *rel, struct stat *st, const char **detail)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: never a terminal. */
    const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    const char *name = rel[0] ? rel : ".";
    int fd = -1;
    bool check = false;
    if (hs__static_cfg->follow_symlinks) {
        fd = openat(hs__static_root_fd, name, flags);
    } else if (have_openat2) {
        struct open_how how = {.flags = flags, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
        int tries = 0;
        do /* EAGAIN: a concurrent rename made the kernel unsure; bounded retries */
            fd = (int)syscall(SYS_openat2, hs__static_root_fd, name, &how, sizeof(how));
        while (fd < 0 && (errno == EAGAIN || errno == EINTR) && ++tries < 8);
        if (fd < 0 && errno == EXDEV) {
            /* resolution left the root — perhaps only through an absolute link that lands back
             * inside it: open it and judge where it really is */
            fd = openat(hs__static_root_fd, name, flags);
            check = true;
        }
    } else {
        fd = openat(hs__static_root_fd, name, flags);
        check = true;
    }
    if (fd >= 0 && check && !fd_below_root(fd, rel)) {
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
