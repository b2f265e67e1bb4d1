/* statusd — a directory tree served to clients (src/os/fsroot.c): the root of the static origin,
 * later of WebDAV collections. Files are opened below it and certainly below it, whatever
 * symbolic links the tree holds, unless the root follows symbolic links by configuration.
 * Several roots can exist in one process; each is read-only once made and may be shared by all
 * threads.
 *
 * Ownership: hs_fsroot_init opens a descriptor and allocates the real path, both released by
 * hs_fsroot_fini. hs_fsroot_open returns a descriptor the caller owns. */
#ifndef HS_FSROOT_H
#define HS_FSROOT_H

#include "hs/core.h"

#include <sys/stat.h>

typedef struct hs_fsroot_s {
    int fd;               /* the root directory (O_DIRECTORY); -1 when not open */
    char *real;           /* its absolute, resolved path */
    size_t real_len;      /* strlen(real), or 0 when the root is "/" (everything is below it) */
    bool have_openat2;    /* openat2(RESOLVE_BENEATH) works here (Linux >= 5.6); tests may clear it */
    bool follow_symlinks; /* links may lead out of the root (configuration) */
    uint64_t id;          /* unique in the process, never reused: what caches key on */
} hs_fsroot_t;

/* Open the directory at `path` as a root. HS_OK, or -errno when it cannot be opened or resolved
 * (r->fd is then -1 and nothing is held). */
int hs_fsroot_init(hs_fsroot_t *r, const char *path, bool follow_symlinks);
/* Release what init took (idempotent). */
void hs_fsroot_fini(hs_fsroot_t *r);

/* Open `rel` (relative to the root, without a leading '/'; "" is the root itself) read-only,
 * non-blocking, and fstat it into *st. Returns the descriptor, or -status with *detail set to a
 * static explanation:
 *   -404  nothing there (ENOENT, ENOTDIR, ENAMETOOLONG)
 *   -403  not permitted, a loop of symbolic links, or a link leading out of the root
 *   -503  out of file descriptors (retry later)
 *   -500  anything else
 * Without follow_symlinks, resolution uses openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
 * a link that leaves the root and comes back (an absolute link to inside), or a kernel without
 * openat2, is judged by where the opened file really is (its /proc/self/fd path against the
 * root's real path). */
int hs_fsroot_open(const hs_fsroot_t *r, const char *rel, struct stat *st, const char **detail);

#endif
