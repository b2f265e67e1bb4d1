/* Unit tests: opening below the root (src/modules/static/map.c) — with openat2(RESOLVE_BENEATH)
 * and with the realpath fallback used when openat2 is missing: links inside the root are
 * followed, links leading out are refused unless follow_symlinks. */
#define _GNU_SOURCE
#include "../../../src/modules/static/static.h"
#include "tap.h"

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

static int try_open(const char *rel)
{
    struct stat st;
    const char *detail = NULL;
    int fd = hs__static_open(rel, &st, &detail);
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

    static hs_config_t cfg;
    cfg.follow_symlinks = false;
    hs__static_cfg = &cfg;
    hs__static_root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ok(hs__static_map_init(root) == HS_OK, "init");
    run("openat2");
    hs__static_map_without_openat2();
    run("realpath");
    cfg.follow_symlinks = true;
    is_int(try_open("out"), 0, "follow_symlinks: absolute link out");
    is_int(try_open("dir_out/secret.txt"), 0, "follow_symlinks: through a directory link out");

    close(hs__static_root_fd);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (system(cmd) != 0)
        return 1;
    return tap_done();
}
