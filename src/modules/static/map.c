/* statusd — static origin: from a request path to a file that is certainly below the root.
 *
 * Two independent defences:
 *   1. the path is normalised so that it never names anything above the root: every segment is
 *      percent-decoded on its own (so an encoded '/' can never create a segment boundary, and
 *      %2e%2e is recognised as the dot segment it is — RFC 3986 §2.3 and §6.2.2.2), dot
 *      segments are removed with ".." clamped at the root (RFC 3986 §5.2.4), NUL is refused;
 *      decoding happens exactly once, so "%252e%252e" stays the literal name "%2e%2e";
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
    if (path.len == 0 || path.base[0] != '/') {
        *detail = "the request target does not start with '/'";
        return 400;
    }
    /* decoding never lengthens the path */
    char *rel = hs_arena_alloc(a, path.len + 1);
    size_t o = 0;
    bool trailing = false;
    size_t i = 1; /* after the leading '/' */
    for (;;) {
        size_t s = i;
        while (i < path.len && path.base[i] != '/')
            i++;
        /* decode path.base[s..i) into rel, after a separator when rel is not empty */
        size_t seg_start = o ? o + 1 : 0, w = seg_start;
        for (size_t k = s; k < i; k++) {
            unsigned char c = (unsigned char)path.base[k];
            if (c == '%') {
                int h = k + 2 < i ? hs_hex_digit((unsigned char)path.base[k + 1]) : -1;
                int l = k + 2 < i ? hs_hex_digit((unsigned char)path.base[k + 2]) : -1;
                if (h < 0 || l < 0) {
                    *detail = "the path contains a malformed percent-escape"; /* RFC 3986 §2.1 */
                    return 400;
                }
                c = (unsigned char)(h * 16 + l);
                k += 2;
                if (c == '/') {
                    /* an encoded slash is data inside one segment; no file name contains it */
                    *detail = "the path contains an encoded '/' (%2F); no file has such a name";
                    return 404;
                }
            }
            if (c == '\0') {
                *detail = "the path contains a NUL byte (%00)";
                return 400;
            }
            rel[w++] = (char)c;
        }
        size_t seg_len = w - seg_start;
        const char *seg = rel + seg_start;
        bool last = i >= path.len;
        if (seg_len == 0 || (seg_len == 1 && seg[0] == '.')) {
            trailing = last; /* "a/" and "a/." name the directory a/ */
        } else if (seg_len == 2 && seg[0] == '.' && seg[1] == '.') {
            /* RFC 3986 §5.2.4: remove the last segment; above the root there is nothing */
            while (o > 0 && rel[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            trailing = last;
        } else {
            if (o)
                rel[o] = '/';
            o = w;
            trailing = false;
        }
        if (last)
            break;
        i++; /* the '/' */
    }
    rel[o] = '\0';
    out->rel = rel;
    out->len = o;
    out->trailing_slash = trailing || o == 0;
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
