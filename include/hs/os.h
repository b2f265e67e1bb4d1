/* statusd — Linux shims (src/os/): the only place for operating-system specifics. */
#ifndef HS_OS_H
#define HS_OS_H

/* Privilege drop (src/os/privdrop.c). When the process runs as root, switch for good to `user`
 * (a name or a numeric uid): supplementary groups dropped, then group, then user; afterwards
 * regaining root must be impossible, which is verified. "root" (or a user with uid 0) keeps
 * root, with a warning. When not running as root there is nothing to drop: HS_OK.
 * Returns HS_OK, or HS_ERROR after printing why on stderr — the caller must then exit, never
 * continue as root. */
int hs_os_drop_privileges(const char *user);

/* systemd (src/os/systemd.c), from the documented protocols, no library.
 * hs_os_notify: send `state` ("READY=1", "STOPPING=1", "STATUS=…", lines joined by \n) to the
 * service manager at $NOTIFY_SOCKET. HS_OK (also when there is none), or -errno.
 * hs_os_notify_reloading: "RELOADING=1" with MONOTONIC_USEC, before a reload (READY=1 after).
 * hs_os_listen_fds: the number of listening descriptors passed by socket activation (from fd 3
 * on; made close-on-exec), 0 when $LISTEN_PID is not this process, -EBADF when one is not open.
 * The LISTEN_* variables are removed. Call it once, at startup, from the main thread. */
int hs_os_notify(const char *state);
/* Connect to $NOTIFY_SOCKET now (before dropping privileges); hs_os_notify does it on first use
 * otherwise. HS_OK or -errno. */
int hs_os_notify_init(void);
int hs_os_notify_reloading(void);
int hs_os_listen_fds(void);

#endif
