/* Unit tests: the open-file cache (src/modules/static/fcache.c) with two roots in one process —
 * equal paths below different roots are different entries, each opened under its own root's
 * policy, and a change below one root is seen there. */
#define _GNU_SOURCE
#include "../../../src/modules/static/static.h"
#include "tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char base[] = "/tmp/statusd-fcache-test-XXXXXX";

static void put(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

/* The cached bytes of rel below root (a small file is kept in memory), or NULL after -status. */
static const char *get(const hs_fsroot_t *root, hs__static_fcache_t *fc, const char *rel, int *status, ino_t *ino)
{
    struct stat st;
    const char *detail = NULL;
    void *ent = NULL;
    int fd = hs__static_fcache_open(fc, root, rel, &st, &detail, &ent);
    *status = fd < 0 ? -fd : 0;
    if (fd < 0)
        return NULL;
    static char copy[64];
    const char *d = hs__static_fcache_data(ent);
    snprintf(copy, sizeof(copy), "%.*s", d ? (int)st.st_size : 0, d ? d : "");
    *ino = st.st_ino;
    hs__static_fcache_release(fd, ent);
    return copy;
}

int main(void)
{
    if (!mkdtemp(base))
        return 1;
    char a[300], b[300], out[300], link[600];
    snprintf(a, sizeof(a), "%s/a", base);
    snprintf(b, sizeof(b), "%s/b", base);
    snprintf(out, sizeof(out), "%s/out", base);
    mkdir(a, 0755);
    mkdir(b, 0755);
    mkdir(out, 0755);
    put(a, "f.txt", "from a");
    put(b, "f.txt", "from b");
    put(out, "s.txt", "secret");
    snprintf(link, sizeof(link), "%s/s.txt", out);
    char lp[600];
    snprintf(lp, sizeof(lp), "%s/l.txt", a);
    if (symlink(link, lp))
        return 1;
    snprintf(lp, sizeof(lp), "%s/l.txt", b);
    if (symlink(link, lp))
        return 1;

    if (hs__static_mime_init() != HS_OK)
        return 1;
    hs_loop_t loop;
    if (hs_loop_init(&loop) != HS_OK)
        return 1;
    hs__static_fcache_t *fc = hs__static_fcache_new(&loop, true);
    hs_fsroot_t ra, rb;
    ok(hs_fsroot_init(&ra, a, false) == HS_OK && hs_fsroot_init(&rb, b, true) == HS_OK, "two roots");

    int st;
    ino_t ia = 0, ib = 0;
    const char *t = get(&ra, fc, "f.txt", &st, &ia);
    ok(t && strcmp(t, "from a") == 0, "root a: its own file (%s)", t ? t : "-");
    t = get(&rb, fc, "f.txt", &st, &ib);
    ok(t && strcmp(t, "from b") == 0 && ib != ia, "root b: the same path is another entry (%s)", t ? t : "-");
    t = get(&ra, fc, "f.txt", &st, &ia);
    ok(t && strcmp(t, "from a") == 0, "root a again: still its own (%s)", t ? t : "-");

    /* each root's own link policy, also once the other has the path cached */
    t = get(&rb, fc, "l.txt", &st, &ib);
    ok(t && strcmp(t, "secret") == 0, "root b follows links out (%s)", t ? t : "-");
    t = get(&ra, fc, "l.txt", &st, &ia);
    ok(!t && st == 403, "root a refuses the same link (%d)", st);

    /* a change below one root: seen there, the other untouched */
    put(a, "f.txt", "new a");
    loop.iter++;
    loop.now_ms += 2000; /* past the once-a-second check, whatever the notifications did */
    t = get(&ra, fc, "f.txt", &st, &ia);
    ok(t && strcmp(t, "new a") == 0, "root a sees its change (%s)", t ? t : "-");
    t = get(&rb, fc, "f.txt", &st, &ib);
    ok(t && strcmp(t, "from b") == 0, "root b unchanged (%s)", t ? t : "-");

    hs__static_fcache_free(fc);
    hs_fsroot_fini(&ra);
    hs_fsroot_fini(&rb);
    hs_loop_destroy(&loop);
    hs__static_mime_free();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (system(cmd) != 0)
        return 1;
    return tap_done();
}
