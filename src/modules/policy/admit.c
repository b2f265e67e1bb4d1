/* statusd — policy: the captive portal's files of admitted clients.
 *
 * A portal admits a client by appending its address to a file (its login page's back end does
 * that); statusd must notice without a restart. The file is stat'ed at most once a second, by the
 * first request that looks after the second is over (a compare-and-swap elects it, as for the
 * password files), and read again when its device, inode, size, mtime or ctime changed; SIGHUP
 * reads it again whatever changed. A version that does not parse is reported once and the
 * previous admissions stay in force: a half-written file must not throw everybody out.
 *
 * The addresses are compiled into an ACL (hs/cidr.h: a sorted table of ranges for long lists),
 * swapped under a mutex; a lookup holds the mutex for the O(log n) match only. */
#define _GNU_SOURCE
#include "module.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADMIT_MAX_FILE (64u << 20) /* 64 MiB: about two million addresses */
#define ADMIT_MAX_LINE 256

struct pol_admit_s {
    char *path;
    pthread_mutex_t mu; /* guards acl, st, failed */
    hs_acl_t *acl;
    struct stat st, failed;
    bool have_failed;
    _Atomic uint64_t next_check_ms;
};

static bool same(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Read and compile the file. HS_OK with *out and *st, or HS_ERROR with "PATH[:LINE]: why". */
static int load(const char *path, hs_acl_t **out, struct stat *st, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return HS_ERROR;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || (uint64_t)st->st_size > ADMIT_MAX_FILE) {
        snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path, ADMIT_MAX_FILE);
        close(fd);
        return HS_ERROR;
    }
    size_t cap = (size_t)st->st_size + 1, len = 0;
    char *text = hs_malloc(cap);
    for (;;) {
        ssize_t n = read(fd, text + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == cap)
            break; /* it grew while read: the rest comes with the next look */
    }
    close(fd);
    hs_acl_t *acl = hs_acl_new();
    size_t lineno = 0;
    int rc = HS_OK;
    for (size_t pos = 0; pos < len && rc == HS_OK;) {
        lineno++;
        const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl != NULL);
        if (ll > ADMIT_MAX_LINE) {
            snprintf(err, errlen, "%s:%zu: a line longer than %d bytes", path, lineno, ADMIT_MAX_LINE);
            rc = HS_ERROR;
            break;
        }
        const char *hash = memchr(line, '#', ll);
        if (hash)
            ll = (size_t)(hash - line);
        while (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\t' || line[ll - 1] == '\r'))
            ll--;
        while (ll && (*line == ' ' || *line == '\t'))
            line++, ll--;
        if (!ll)
            continue;
        const char *why = NULL;
        if (hs_acl_add_text(acl, hs_iov(line, ll), HS_ACL_ALLOW, &why) != HS_OK) {
            snprintf(err, errlen, "%s:%zu: '%.*s' is not an address or CIDR block: %s", path, lineno,
                     (int)HS_MIN(ll, 64), line, why ? why : "too many");
            rc = HS_ERROR;
        }
    }
    free(text);
    if (rc != HS_OK) {
        hs_acl_free(acl);
        return HS_ERROR;
    }
    hs_acl_compile(acl);
    *out = acl;
    return HS_OK;
}

int hs__admit_open(const char *path, pol_admit_t **out, char *err, size_t errlen)
{
    hs_acl_t *acl;
    struct stat st;
    if (load(path, &acl, &st, err, errlen) != HS_OK)
        return HS_ERROR;
    pol_admit_t *a = hs_calloc(1, sizeof(*a));
    a->path = hs_strdup(path);
    pthread_mutex_init(&a->mu, NULL);
    a->acl = acl;
    a->st = st;
    *out = a;
    return HS_OK;
}

void hs__admit_free(pol_admit_t *a)
{
    if (!a)
        return;
    hs_acl_free(a->acl);
    pthread_mutex_destroy(&a->mu);
    free(a->path);
    free(a);
}

static int reload_if(pol_admit_t *a, bool force, char *err, size_t errlen)
{
    struct stat st;
    if (stat(a->path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot stat: %s (the admissions read before stay in force)", a->path,
                 strerror(errno));
        return HS_ERROR;
    }
    pthread_mutex_lock(&a->mu);
    bool skip = !force && (same(&st, &a->st) || (a->have_failed && same(&st, &a->failed)));
    pthread_mutex_unlock(&a->mu);
    if (skip)
        return HS_OK;
    hs_acl_t *acl;
    struct stat now;
    if (load(a->path, &acl, &now, err, errlen) != HS_OK) {
        pthread_mutex_lock(&a->mu);
        a->failed = st;
        a->have_failed = true;
        pthread_mutex_unlock(&a->mu);
        return HS_ERROR;
    }
    pthread_mutex_lock(&a->mu);
    hs_acl_t *old = a->acl;
    a->acl = acl;
    a->st = now;
    a->have_failed = false;
    pthread_mutex_unlock(&a->mu);
    hs_acl_free(old);
    return HS_OK;
}

int hs__admit_reload(pol_admit_t *a, char *err, size_t errlen)
{
    return reload_if(a, true, err, errlen);
}

bool hs__admit_match(pol_admit_t *a, const hs_ip_t *ip, uint64_t now_ms)
{
    uint64_t next = atomic_load_explicit(&a->next_check_ms, memory_order_relaxed);
    if (now_ms >= next && atomic_compare_exchange_strong(&a->next_check_ms, &next, now_ms + 1000)) {
        char err[512];
        if (reload_if(a, false, err, sizeof(err)) != HS_OK)
            hs_log_error("captive_portal: %s", err);
    }
    pthread_mutex_lock(&a->mu);
    bool in = hs_acl_match(a->acl, ip) >= 0;
    pthread_mutex_unlock(&a->mu);
    return in;
}
