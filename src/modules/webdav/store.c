/* statusd — the WebDAV store interface (see store.h): dispatch to an implementation, the lock
 * coverage rule, and where a tree's database lives.
 *
 * Where the database lives, and why not inside the tree. A file inside the served tree would be
 * reachable by every method unless each of them remembered to hide it: GET through the static
 * module, PROPFIND listings, PUT and DELETE of the name, COPY/MOVE of its directory, quota
 * accounting. Outside the tree, containment (openat2 RESOLVE_BENEATH) makes it unreachable by
 * construction, as it does the -wal and -shm files SQLite keeps beside it. The default is a
 * state directory (systemd's StateDirectory, /var/lib/statusd for root, the XDG state directory
 * otherwise) — local storage, which WAL mode needs (its shared memory file does not work over
 * network file systems) — under a name derived from the tree's real path, so that every process
 * serving one tree on a host shares one database and no two trees do. A configured path is
 * checked to lie outside the tree (hs__dav_store_check_path). */
#define _GNU_SOURCE
#include "store.h"

#include "hs/crypto.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void hs__dav_store_close(hs__dav_store_t *s)
{
    if (s)
        s->ops->close(s);
}

int hs__dav_prop_get(hs__dav_store_t *s, hs_arena_t *a, const char *rel, const hs__dav_qname_t *q, hs__dav_prop_t *out)
{
    return s->ops->prop_get(s, a, rel, q, out);
}

int hs__dav_prop_list(hs__dav_store_t *s, hs_arena_t *a, const char *rel, hs__dav_prop_t **out, size_t *n)
{
    return s->ops->prop_list(s, a, rel, out, n);
}

int hs__dav_prop_patch(hs__dav_store_t *s, const char *rel, const hs__dav_propop_t *ops, size_t n)
{
    return s->ops->prop_patch(s, rel, ops, n);
}

int hs__dav_prop_copy(hs__dav_store_t *s, const char *src, const char *dst, bool subtree)
{
    return s->ops->prop_copy(s, src, dst, subtree);
}

int hs__dav_prop_move(hs__dav_store_t *s, const char *src, const char *dst)
{
    return s->ops->prop_move(s, src, dst);
}

int hs__dav_prop_delete(hs__dav_store_t *s, const char *rel, bool subtree)
{
    return s->ops->prop_delete(s, rel, subtree);
}

int hs__dav_lock_create(hs__dav_store_t *s, hs_arena_t *a, hs__dav_lock_t *l, int64_t now, hs__dav_lock_t *conflict)
{
    return s->ops->lock_create(s, a, l, now, conflict);
}

int hs__dav_lock_get(hs__dav_store_t *s, hs_arena_t *a, const char *token, int64_t now, hs__dav_lock_t *out)
{
    return s->ops->lock_get(s, a, token, now, out);
}

int hs__dav_lock_refresh(hs__dav_store_t *s, hs_arena_t *a, const char *token, uint32_t timeout, int64_t now,
                         hs__dav_lock_t *out)
{
    return s->ops->lock_refresh(s, a, token, timeout, now, out);
}

int hs__dav_lock_remove(hs__dav_store_t *s, const char *token)
{
    return s->ops->lock_remove(s, token);
}

int hs__dav_lock_list(hs__dav_store_t *s, hs_arena_t *a, const char *rel, int depth, int64_t now, hs__dav_lock_t **out,
                      size_t *n)
{
    return s->ops->lock_list(s, a, rel, depth, now, out, n);
}

int hs__dav_lock_delete(hs__dav_store_t *s, const char *rel, bool subtree)
{
    return s->ops->lock_delete(s, rel, subtree);
}

int hs__dav_tomb_add(hs__dav_store_t *s, const char *rel, bool subtree, int64_t expires, int64_t now)
{
    return s->ops->tomb_add(s, rel, subtree, expires, now);
}

int hs__dav_tomb_check(hs__dav_store_t *s, const char *rel, int64_t now)
{
    return s->ops->tomb_check(s, rel, now);
}

int hs__dav_tomb_clear(hs__dav_store_t *s, const char *rel)
{
    return s->ops->tomb_clear(s, rel);
}

bool hs__dav_lock_covers(const hs__dav_lock_t *l, const char *rel)
{
    size_t rl = l->root.len, n = strlen(rel);
    if (rl == n && memcmp(l->root.base, rel, n) == 0)
        return true;
    if (l->depth != HS__DAV_LOCK_INFINITY)
        return false;
    /* RFC 4918 §7.4: a depth-infinity lock covers every member of its root's subtree */
    return rl == 0 || (n > rl && memcmp(l->root.base, rel, rl) == 0 && rel[rl] == '/');
}

/* ---- the database's place ---- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

int hs__dav_store_default_path(const char *root_real, char *out, size_t outlen)
{
    char dir[PATH_MAX];
    const char *sd = getenv("STATE_DIRECTORY"), *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;
    if (sd && sd[0] == '/') {
        /* systemd may list several, separated by ':'; the first is ours */
        const char *colon = strchr(sd, ':');
        n = snprintf(dir, sizeof(dir), "%.*s", (int)(colon ? (size_t)(colon - sd) : strlen(sd)), sd);
    } else if (geteuid() == 0) {
        n = snprintf(dir, sizeof(dir), "/var/lib/statusd");
    } else if (xdg && xdg[0] == '/') {
        n = snprintf(dir, sizeof(dir), "%s/statusd", xdg);
    } else if (home && home[0] == '/') {
        n = snprintf(dir, sizeof(dir), "%s/.local/state/statusd", home);
    } else {
        n = snprintf(dir, sizeof(dir), "/tmp/statusd-%u", (unsigned)geteuid());
    }
    if (n < 0 || (size_t)n >= sizeof(dir))
        return HS_ERROR;
    /* the root's last segment, for people reading the directory; the hash makes it unique */
    const char *base = strrchr(root_real, '/');
    base = base && base[1] ? base + 1 : "root";
    char name[48];
    size_t k = 0;
    for (; *base && k < sizeof(name) - 1; base++)
        name[k++] = (char)((*base >= 'a' && *base <= 'z') || (*base >= 'A' && *base <= 'Z') ||
                                   (*base >= '0' && *base <= '9') || *base == '-' || *base == '_' || *base == '.'
                               ? *base
                               : '_');
    name[k] = '\0';
    n = snprintf(out, outlen, "%s/dav-%s-%016llx.sqlite", dir, name, (unsigned long long)fnv1a(root_real));
    return n < 0 || (size_t)n >= outlen ? HS_ERROR : HS_OK;
}

int hs__dav_store_check_path(const char *root_real, const char *db_path, const char **detail)
{
    /* resolve the directory (the file may not exist yet), then judge by real paths */
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(db_path, '/');
    int n = slash ? snprintf(dir, sizeof(dir), "%.*s", (int)(slash == db_path ? 1 : slash - db_path), db_path)
                  : snprintf(dir, sizeof(dir), ".");
    if (n < 0 || (size_t)n >= sizeof(dir) || !realpath(dir, real)) {
        *detail = "the WebDAV database's directory does not exist";
        return HS_ERROR;
    }
    size_t rl = strlen(root_real), dl = strlen(real);
    if (strcmp(root_real, "/") == 0 ||
        (dl >= rl && memcmp(real, root_real, rl) == 0 && (real[rl] == '\0' || real[rl] == '/'))) {
        *detail = "the WebDAV database must not lie inside the tree it describes (it would be served and listed)";
        return HS_ERROR;
    }
    return HS_OK;
}

/* Unique across processes, hosts and restarts without coordination (RFC 4918 §6.5): what lets
 * the SQLite and the Redis stores make tokens alike. */
hs_iovec_t hs__dav_new_lock_token(hs_arena_t *a)
{
    unsigned char u[16];
    hs_random(u, sizeof(u));
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    return hs_arena_printf(a, "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
                           u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                           u[15]);
}
