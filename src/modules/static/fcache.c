/* statusd — per-worker open-file cache for the static origin.
 *
 * A hot file costs three syscalls per request without it (open, fstat, close). With it, an
 * entry keeps the descriptor and the stat of a path, revalidated by one stat of the path once
 * per event-loop wake-up and per accepted connection (`epoch` = loop->iter): requests handled
 * in the same wake-up see the file as it was at that instant (like lighttpd's stat cache, but
 * microseconds rather than a second), and a file replaced or edited before a wake-up or before
 * a client connected is never served stale. A
 * changed inode, size, mtime or ctime (or a vanished path) drops the entry and the file is
 * opened afresh through hs__static_open, which applies the whole mapping policy again (below
 * the root, symbolic links). Entries are reference-counted so
 * a descriptor still being sent with sendfile is never closed under a response. Each worker
 * thread has its own table (no locks); a thread-exit destructor releases it. */
#define _GNU_SOURCE
#include "static.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define FC_BUCKETS 512
#define FC_KEY_MAX 240
#define FC_SMALL 16384 /* files up to this size are kept in memory too */

typedef struct fentry_s {
    int fd;
    int refs;       /* requests using fd + 1 while the entry is in the table */
    uint64_t epoch; /* loop iteration of the last check */
    struct stat st;
    char *data; /* the whole file when it is small: sent with the head in one writev */
    hs__static_fmeta_t meta;
    char etag[HS_STATIC_ETAG_MAX];
    char last_modified[30];
    uint32_t hash;
    char key[FC_KEY_MAX];
} fentry_t;

typedef struct {
    fentry_t *slot[FC_BUCKETS];
} fcache_t;

static pthread_key_t fc_key;
static pthread_once_t fc_once = PTHREAD_ONCE_INIT;

static void unref(fentry_t *e)
{
    if (--e->refs == 0) {
        close(e->fd);
        free(e->data);
        free(e);
    }
}

static void fc_destroy(void *p)
{
    fcache_t *fc = p;
    for (int i = 0; i < FC_BUCKETS; i++)
        if (fc->slot[i])
            unref(fc->slot[i]);
    free(fc);
}

static void fc_key_init(void)
{
    pthread_key_create(&fc_key, fc_destroy);
}

static fcache_t *fc_get(void)
{
    pthread_once(&fc_once, fc_key_init);
    fcache_t *fc = pthread_getspecific(fc_key);
    if (!fc) {
        fc = hs_calloc(1, sizeof(*fc));
        pthread_setspecific(fc_key, fc);
    }
    return fc;
}

static uint32_t hash_key(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec &&
           a->st_mode == b->st_mode;
}

int hs__static_fcache_open(const char *rel, uint64_t epoch, struct stat *st, const char **detail, void **ent)
{
    *ent = NULL;
    size_t n = strlen(rel);
    if (n >= FC_KEY_MAX)
        return hs__static_open(rel, st, detail);
    fcache_t *fc = fc_get();
    uint32_t h = hash_key(rel, n);
    fentry_t **slot = &fc->slot[h % FC_BUCKETS];
    fentry_t *e = *slot;
    if (e && e->hash == h && strcmp(e->key, rel) == 0) {
        struct stat cur;
        if (e->epoch != epoch) {
            if (fstatat(hs__static_root_fd, rel[0] ? rel : ".", &cur, 0) != 0 || !same_file(&cur, &e->st)) {
                *slot = NULL; /* changed or gone: open afresh below */
                unref(e);
                e = NULL;
            } else {
                e->epoch = epoch;
            }
        }
        if (e) {
            e->refs++;
            *st = e->st;
            *ent = e;
            return e->fd;
        }
    }
    int fd = hs__static_open(rel, st, detail);
    if (fd < 0 || !S_ISREG(st->st_mode)) /* directories are read with fdopendir: not shared */
        return fd;
    if (*slot) { /* collision: the newer path wins */
        unref(*slot);
        *slot = NULL;
    }
    e = hs_malloc(sizeof(*e));
    e->fd = fd;
    e->refs = 2; /* the table and this request */
    e->st = *st;
    e->epoch = epoch;
    e->data = NULL;
    if (st->st_size > 0 && st->st_size <= FC_SMALL) {
        char *d = hs_malloc((size_t)st->st_size);
        if (pread(fd, d, (size_t)st->st_size, 0) == st->st_size)
            e->data = d;
        else
            free(d);
    }
    e->meta.type = hs__static_mime_lookup(rel);
    e->meta.etag = hs_iov(e->etag, hs__static_etag_fmt(e->etag, st, NULL));
    e->meta.mtime = st->st_mtime;
    hs_http_date(st->st_mtime, e->last_modified);
    e->meta.last_modified = e->last_modified;
    e->hash = h;
    memcpy(e->key, rel, n + 1);
    *slot = e;
    *ent = e;
    return fd;
}

void hs__static_fcache_release(int fd, void *ent)
{
    if (ent)
        unref(ent);
    else if (fd >= 0)
        close(fd);
}

const char *hs__static_fcache_data(const void *ent)
{
    return ent ? ((const fentry_t *)ent)->data : NULL;
}

const hs__static_fmeta_t *hs__static_fcache_meta(const void *ent)
{
    return ent ? &((const fentry_t *)ent)->meta : NULL;
}
