/* statusd — dropping root after the listeners are bound, so that file permissions mean what
 * they say: a file the configured user may not read is answered with 403, not served.
 * Order matters: supplementary groups and the group first, while we still may change them,
 * then the user; setuid as root changes real, effective and saved ids at once. */
#define _GNU_SOURCE
#include "hs/core.h"
#include "hs/os.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int hs_os_drop_privileges(const char *user)
{
    if (geteuid() != 0)
        return HS_OK; /* not root: nothing to drop */
    if (!user || !*user) {
        fprintf(stderr, "statusd: running as root and no 'user' to switch to (use --user NAME, or --user root "
                        "to keep root deliberately)\n");
        return HS_ERROR;
    }
    uid_t uid;
    gid_t gid;
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw) {
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    } else {
        char *end;
        unsigned long v = strtoul(user, &end, 10);
        if (*end || end == user || v == (unsigned long)-1 || v > 0xfffffffeUL) {
            fprintf(stderr, "statusd: cannot drop privileges: user '%s' %s\n", user,
                    errno ? strerror(errno) : "does not exist");
            return HS_ERROR;
        }
        uid = (uid_t)v;
        gid = (gid_t)v;
    }
    if (uid == 0) {
        hs_log_warn("running as root ('user: %s'): file permissions do not restrict what is served", user);
        return HS_OK;
    }
    if (setgroups(1, &gid) != 0) {
        fprintf(stderr, "statusd: cannot drop privileges: setgroups(%u): %s\n", (unsigned)gid, strerror(errno));
        return HS_ERROR;
    }
    if (setgid(gid) != 0) {
        fprintf(stderr, "statusd: cannot drop privileges: setgid(%u): %s\n", (unsigned)gid, strerror(errno));
        return HS_ERROR;
    }
    if (setuid(uid) != 0) {
        fprintf(stderr, "statusd: cannot drop privileges: setuid(%u): %s\n", (unsigned)uid, strerror(errno));
        return HS_ERROR;
    }
    /* verify: root must be gone for good */
    if (geteuid() != uid || getuid() != uid || getegid() != gid || setuid(0) == 0 || seteuid(0) == 0) {
        fprintf(stderr, "statusd: cannot drop privileges: root could be regained after switching to '%s'\n", user);
        return HS_ERROR;
    }
    hs_log_debug("switched to user %s (uid %u, gid %u)", user, (unsigned)uid, (unsigned)gid);
    return HS_OK;
}
