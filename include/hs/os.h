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

#endif
