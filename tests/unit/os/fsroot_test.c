/* Unit tests: opening below a root (src/os/fsroot.c) — with openat2(RESOLVE_BENEATH) and with
 * the realpath fallback used when openat2 is missing: links inside the root are followed, links
 * leading out are refused unless the root follows symbolic links; several roots side by side. */
#define _GNU_SOURCE
#include "hs/fsroot.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char base[] = "/tmp/statusd-open-test-XXXXXX";
static char root[256], outside[256];

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static hs_fsroot_t r;

static int try_open(const char *rel)
{
    struct stat st;
    const char *detail = NULL;
    int fd = hs_fsroot_open(&r, rel, &st, &detail);
    if (fd < 0 && !(detail && detail[0]))
        return -1; /* every refusal says why */
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return -fd;
}

static void run(const char *mode)
{
    is_int(try_open(""), 0, "%s: the root itself", mode);
    is_int(try_open("f.txt"), 0, "%s: a file", mode);
    is_int(try_open("in"), 0, "%s: relative link inside", mode);
    is_int(try_open("abs_in"), 0, "%s: absolute link that stays inside", mode);
    is_int(try_open("sub/up_in"), 0, "%s: ../ link that stays inside", mode);
    is_int(try_open("out"), 403, "%s: absolute link out", mode);
    is_int(try_open("rel_out"), 403, "%s: relative link out", mode);
    is_int(try_open("dir_out/secret.txt"), 403, "%s: through a directory link out", mode);
    is_int(try_open("missing"), 404, "%s: missing", mode);
    is_int(try_open("f.txt/x"), 404, "%s: below a file", mode);
    is_int(try_open("loop"), 403, "%s: link loop", mode);
}

int main(void)
{
    if (!mkdtemp(base))
        return 1;
    snprintf(root, sizeof(root), "%s/root", base);
    snprintf(outside, sizeof(outside), "%s/outside", base);
    mkdir(root, 0755);
    mkdir(outside, 0755);
    char p[512], t[512];
    snprintf(p, sizeof(p), "%s/secret.txt", outside);
    put(p, "secret\n");
    snprintf(p, sizeof(p), "%s/f.txt", root);
    put(p, "f\n");
    snprintf(p, sizeof(p), "%s/sub", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/in", root);
    if (symlink("f.txt", p))
        return 1;
    snprintf(p, sizeof(p), "%s/abs_in", root);
    snprintf(t, sizeof(t), "%s/f.txt", root);
    if (symlink(t, p))
        return 1;
    snprintf(p, sizeof(p), "%s/sub/up_in", root);
    if (symlink("../f.txt", p))
        return 1;
    snprintf(p, sizeof(p), "%s/out", root);
    snprintf(t, sizeof(t), "%s/secret.txt", outside);
    if (symlink(t, p))
        return 1;
    snprintf(p, sizeof(p), "%s/rel_out", root);
    if (symlink("../outside/secret.txt", p))
        return 1;
    snprintf(p, sizeof(p), "%s/dir_out", root);
    if (symlink(outside, p))
        return 1;
    snprintf(p, sizeof(p), "%s/loop", root);
    if (symlink("loop", p))
        return 1;

    ok(hs_fsroot_init(&r, root, false) == HS_OK && r.fd >= 0 && r.real && r.id != 0, "init");
    run("openat2");
    r.have_openat2 = false; /* as on a kernel without openat2 */
    run("realpath");
    hs_fsroot_fini(&r);

    ok(hs_fsroot_init(&r, root, true) == HS_OK, "init, following links");
    is_int(try_open("out"), 0, "follow_symlinks: absolute link out");
    is_int(try_open("dir_out/secret.txt"), 0, "follow_symlinks: through a directory link out");

    /* two roots side by side: each keeps its own policy and identity */
    hs_fsroot_t strict;
    ok(hs_fsroot_init(&strict, root, false) == HS_OK && strict.id != r.id, "a second root has its own identity");
    struct stat st;
    const char *detail = NULL;
    int fd = hs_fsroot_open(&strict, "out", &st, &detail);
    ok(fd == -403, "the strict root still refuses the link out (%d)", fd);
    is_int(try_open("out"), 0, "while the other follows it");
    hs_fsroot_t sub;
    char subdir[300];
    snprintf(subdir, sizeof(subdir), "%s/sub", root);
    ok(hs_fsroot_init(&sub, subdir, false) == HS_OK, "a root inside another");
    fd = hs_fsroot_open(&sub, "up_in", &st, &detail);
    ok(fd == -403, "from sub/, ../f.txt is outside its root (%d)", fd);
    if (fd >= 0)
        close(fd);
    hs_fsroot_fini(&sub);
    hs_fsroot_fini(&strict);
    hs_fsroot_fini(&r);
    hs_fsroot_fini(&r);
    ok(r.fd == -1 && r.real == NULL, "fini twice is harmless");

    hs_fsroot_t bad;
    ok(hs_fsroot_init(&bad, "/nonexistent/statusd-root", false) == -ENOENT && bad.fd == -1, "a missing root: -ENOENT");
    snprintf(p, sizeof(p), "%s/f.txt", root);
    ok(hs_fsroot_init(&bad, p, false) == -ENOTDIR && bad.fd == -1, "a file as root: -ENOTDIR");
    hs_fsroot_t slash;
    ok(hs_fsroot_init(&slash, "/", false) == HS_OK && slash.real_len == 0, "the root \"/\": everything is below");
    hs_fsroot_fini(&slash);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (system(cmd) != 0)
        return 1;
    return tap_done();
}
