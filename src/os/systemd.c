/* statusd — the two systemd interfaces a service needs, implemented from their documented
 * protocols rather than linked from libsystemd (sd_notify(3), sd_listen_fds(3)): each is a few
 * lines, and a library dependency on every build and test machine would buy nothing else.
 *
 * Notification: one datagram of "KEY=VALUE\n" lines sent to the AF_UNIX socket named by
 * $NOTIFY_SOCKET — a path, or an abstract name when it starts with '@' (the '@' becomes a NUL).
 * Socket activation: $LISTEN_PID names this process and $LISTEN_FDS counts descriptors passed
 * from 3 (SD_LISTEN_FDS_START) upwards; both variables are removed once read so that children
 * never take them for their own. */
#define _GNU_SOURCE
#include "hs/core.h"
#include "hs/os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The socket is connected once, at startup and as root (hs_os_notify_init): after the
 * privilege drop the user statusd runs as may not be allowed to reach a socket file (a private
 * directory), and a connected datagram socket needs no permission check per message. */
static int notify_fd = -1;

int hs_os_notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (notify_fd >= 0 || !path || !path[0])
        return HS_OK; /* connected already, or not started by a service manager that listens */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
        return -EINVAL;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* the abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    if (connect(fd, (struct sockaddr *)&sa, len) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    notify_fd = fd;
    return HS_OK;
}

int hs_os_notify(const char *state)
{
    int r = hs_os_notify_init();
    if (r != HS_OK || notify_fd < 0)
        return r;
    return send(notify_fd, state, strlen(state), MSG_NOSIGNAL) < 0 ? -errno : HS_OK;
}

int hs_os_notify_reloading(void)
{
    /* RELOADING=1 with the monotonic time, as systemd 253's Type=notify-reload wants it */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char msg[96];
    snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    return hs_os_notify(msg);
}

int hs_os_listen_fds(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int n = 0;
    if (pid && fds) {
        char *end;
        long p = strtol(pid, &end, 10);
        long k = *end ? -1 : strtol(fds, &end, 10);
        if (p == (long)getpid() && !*end && k > 0 && k <= 64)
            n = (int)k;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    for (int fd = 3; fd < 3 + n; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl < 0)
            return -EBADF;
        fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
    }
    return n;
}
