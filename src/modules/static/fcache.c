/* statusd — per-worker open-file cache for the static origin.
 *
 * A hot file costs three syscalls per request without it (open, fstat, close). With it, an
 * entry keeps the descriptor, the stat, the Content-Type/ETag/Last-Modified text and, for a
 * small file, its bytes. Entries are reference-counted so a descriptor still being sent with
 * sendfile is never closed under a response. Each worker thread has its own table (no locks);
 * a thread-exit destructor releases it.
 *
 * Freshness. The promise: a change to a file, or to any directory on its path, is seen by
 * every request read in a later wake-up of the worker's loop and by every request on a
 * connection opened after the change (requests read in one wake-up see the files as they were
 * when it began). Two ways keep it:
 *
 *  - Notifications (the normal case). Each worker has an inotify instance watching every
 *    cached file (content, attributes, deletion) and every directory from the root down to it
 *    (names created, removed or renamed; permissions). Its descriptor is registered to be
 *    dispatched before anything else in a loop wake-up (hs_io_add_first), and any event bumps
 *    the cache's generation, after which every entry is checked by one stat of its path before
 *    it is used again. The kernel queues the event inside the system call that made the change,
 *    so it is in the same or an earlier wake-up than any request sent after the change; and
 *    since a wake-up's accept loop can take a connection opened after a change made later
 *    than the wake-up began, the queue is also read once after new connections were accepted.
 *    An entry that has seen no event since its last check costs nothing. Watches are placed
 *    before the stat that validates an entry, so no change can fall between them.
 *
 *  - A stat of the path once per loop wake-up and per accepted connection, for entries that
 *    could not be watched (inotify missing or out of watches) and for all of them with
 *    --no-file-watch (network filesystems: changes made by other machines raise no event).
 *
 * Writes through a shared mapping raise no event; they do change the mtime, so every entry is
 * also checked by a stat at least once a second (FC_RECHECK_MS). A changed inode, size, mtime,
 * ctime or mode (or a vanished path) drops the entry and the file is opened afresh through
 * hs_fsroot_open, which applies the whole containment policy again (below the root, symbolic
 * links).
 *
 * Several roots. An entry is keyed by its root's identity (hs_fsroot_t.id, unique in the
 * process) and its path below that root, so two roots never share an entry even when their
 * paths are equal; a watched directory likewise belongs to one root. The number of watches is bounded: past
 * FC_MAX_WATCHES, or when a watched directory is moved or removed, the instance is replaced by a fresh one and entries
 * are re-watched as they are next used. */
#define _GNU_SOURCE
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#define FC_BUCKETS 512
#define FC_KEY_MAX 240
#define FC_SMALL 16384          /* files up to this size are kept in memory too */
#define FC_RECHECK_MS 1000      /* a stat at least this often, whatever the notifications say */
#define FC_MAX_WATCHES 8192     /* per worker; past it the instance is renewed */
#define FC_DIR_BUCKETS 256      /* watched directories, by path */
#define FC_RETRY_WATCH_MS 10000 /* after the kernel refuses a watch, stat mode for this long */

/* Directory events: names appearing, disappearing or moving, permissions, the directory
 * itself moved or removed. Not IN_MODIFY: a log file written in a served directory must not
 * invalidate the whole cache on every write (cached files have watches of their own). */
#define DIR_MASK                                                                                                       \
    (IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)

typedef struct fentry_s {
    int fd;
    int refs;            /* requests using fd + 1 while the entry is in the table */
    uint64_t epoch;      /* loop iteration of the last stat */
    uint64_t acc;        /* connections the loop had accepted then */
    uint64_t checked_ms; /* loop clock at the last stat */
    uint64_t gen;        /* the cache's generation at the last stat */
    uint32_t inst;       /* the inotify instance watching it and its directories; 0 = none */
    struct stat st;
    char *data; /* the whole file when it is small: sent with the head in one writev */
    hs__static_fmeta_t meta;
    char etag[HS_ETAG_STAT_MAX];
    char last_modified[30];
    uint32_t hash;
    uint64_t root_id; /* with key: the entry's identity */
    char key[FC_KEY_MAX];
} fentry_t;

typedef struct wdir_s {
    struct wdir_s *next;
    int wd;
    uint64_t root_id;
    char path[]; /* relative to its root, "" for the root itself */
} wdir_t;

struct hs__static_fcache_s {
    fentry_t *slot[FC_BUCKETS];
    hs_loop_t *loop;
    hs_io_t io;    /* the inotify descriptor; fd -1 without one */
    uint64_t gen;  /* bumped by every batch of events */
    uint32_t inst; /* bumped whenever a new inotify instance is made; 0 = never made */
    bool renew;    /* a watched directory moved or vanished: replace the instance */
    unsigned nwatches, ndirs;
    uint64_t no_watch_until; /* loop ms: the kernel refused a watch; do not ask before */
    uint64_t accepted;       /* loop->accepted when the events were last read */
    wdir_t *dirs[FC_DIR_BUCKETS];
    bool watch;                /* notifications wanted (file_watch) */
    hs_counter_t hits, misses; /* lookups answered from the table, and the others (metrics) */
};
typedef hs__static_fcache_t fcache_t;

static void unref(fentry_t *e)
{
    if (--e->refs == 0) {
        close(e->fd);
        free(e->data);
        free(e);
    }
}

/* FNV-1a of the path, started from the root's identity */
static uint32_t hash_key(uint64_t root_id, const char *s, size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)(root_id * 0x9e3779b97f4a7c15u >> 32);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* ---- watched directories ---- */
static void dirs_clear(fcache_t *fc)
{
    for (int i = 0; i < FC_DIR_BUCKETS; i++) {
        while (fc->dirs[i]) {
            wdir_t *d = fc->dirs[i];
            fc->dirs[i] = d->next;
            free(d);
        }
    }
    fc->ndirs = 0;
}

static wdir_t **dir_find(fcache_t *fc, const hs_fsroot_t *root, const char *path, size_t n)
{
    wdir_t **p = &fc->dirs[hash_key(root->id, path, n) % FC_DIR_BUCKETS];
    for (; *p; p = &(*p)->next)
        if ((*p)->root_id == root->id && strncmp((*p)->path, path, n) == 0 && (*p)->path[n] == '\0')
            break;
    return p;
}

/* A watched directory moved or went away (or its watch did): forget it. Returns whether wd
 * was a directory's. */
static bool dir_forget_wd(fcache_t *fc, int wd)
{
    for (int i = 0; i < FC_DIR_BUCKETS; i++) {
        for (wdir_t **p = &fc->dirs[i]; *p; p = &(*p)->next) {
            if ((*p)->wd == wd) {
                wdir_t *d = *p;
                *p = d->next;
                free(d);
                fc->ndirs--;
                return true;
            }
        }
    }
    return false;
}

/* ---- the inotify instance ---- */
static void on_events(hs_io_t *io, int events)
{
    HS_UNUSED(events);
    fcache_t *fc = (fcache_t *)((char *)io - offsetof(fcache_t, io));
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    while ((n = read(io->fd, buf, sizeof(buf))) > 0) {
        fc->gen++; /* whatever happened, every entry is checked again before use */
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->mask & IN_Q_OVERFLOW) {
                fc->renew = true; /* events were lost: start afresh */
            } else if (ev->mask & (IN_MOVE_SELF | IN_DELETE_SELF | IN_IGNORED)) {
                /* a directory that moved still has its watch, now on another path: the
                 * instance is renewed so that the new path's directories get watched */
                if (dir_forget_wd(fc, ev->wd))
                    fc->renew = true;
            }
            p += sizeof(*ev) + ev->len;
        }
    }
}

static void instance_close(fcache_t *fc)
{
    if (fc->io.fd >= 0) {
        if (fc->loop)
            hs_io_del_first(fc->loop, &fc->io);
        close(fc->io.fd);
        fc->io.fd = -1;
    }
    dirs_clear(fc);
    fc->nwatches = 0;
}

/* (Re)make the instance; entries watched by an older one are re-watched when next used. */
static void instance_open(fcache_t *fc)
{
    instance_close(fc);
    fc->renew = false;
    fc->gen++;
    fc->inst++;
    if (fc->inst == 0)
        fc->inst = 1;
    if (!fc->watch)
        return;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        hs_log_warn("static: no file-change notifications (%s): cached files are checked by stat", strerror(errno));
        return;
    }
    fc->io.fd = fd;
    fc->io.cb = on_events;
    if (hs_io_add_first(fc->loop, &fc->io) != HS_OK) {
        close(fd);
        fc->io.fd = -1;
    }
}

static int add_watch(fcache_t *fc, const hs_fsroot_t *root, const char *rel, size_t n, uint32_t mask)
{
    char path[PATH_MAX];
    if (!root->real ||
        snprintf(path, sizeof(path), "%s%s%.*s", root->real, n ? "/" : "", (int)n, rel) >= (int)sizeof(path))
        return -1;
    int wd = inotify_add_watch(fc->io.fd, path, mask);
    if (wd < 0) {
        if (errno == ENOSPC || errno == ENOMEM)
            fc->no_watch_until = fc->loop->now_ms + FC_RETRY_WATCH_MS; /* the user's limit */
        return -1;
    }
    fc->nwatches++;
    return wd;
}

static bool watch_dir(fcache_t *fc, const hs_fsroot_t *root, const char *rel, size_t n)
{
    wdir_t **slot = dir_find(fc, root, rel, n);
    if (*slot)
        return true;
    int wd = add_watch(fc, root, rel, n, DIR_MASK);
    if (wd < 0)
        return false;
    wdir_t *d = hs_malloc(sizeof(*d) + n + 1);
    d->next = NULL;
    d->wd = wd;
    d->root_id = root->id;
    memcpy(d->path, rel, n);
    d->path[n] = '\0';
    *slot = d;
    fc->ndirs++;
    return true;
}

/* Watch rel and every directory from the root down to it. False when any watch failed: the
 * entry is then kept fresh by stat. */
static bool watch_entry(fcache_t *fc, const hs_fsroot_t *root, const char *rel, size_t len)
{
    if (fc->nwatches >= FC_MAX_WATCHES) /* a renewal asked by events happened in fcache_open */
        instance_open(fc);
    if (fc->io.fd < 0 || fc->loop->now_ms < fc->no_watch_until)
        return false;
    if (!watch_dir(fc, root, rel, 0)) /* the root */
        return false;
    for (size_t i = 0; i < len; i++)
        if (rel[i] == '/' && !watch_dir(fc, root, rel, i))
            return false;
    return add_watch(fc, root, rel, len, FILE_MASK) >= 0;
}

/* ---- the table: one per worker (the static module's init_worker) ---- */
hs__static_fcache_t *hs__static_fcache_new(hs_loop_t *loop, bool watch)
{
    fcache_t *fc = hs_calloc(1, sizeof(*fc));
    fc->io.fd = -1;
    fc->loop = loop;
    fc->watch = watch;
    instance_open(fc);
    return fc;
}

void hs__static_fcache_free(hs__static_fcache_t *fc)
{
    for (int i = 0; i < FC_BUCKETS; i++)
        if (fc->slot[i])
            unref(fc->slot[i]);
    instance_close(fc); /* the worker's loop is still there: the descriptor leaves it */
    free(fc);
}

bool hs__static_same_version(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return hs__static_same_version(a, b) && a->st_mode == b->st_mode;
}

static bool fresh(const fcache_t *fc, const fentry_t *e)
{
    if (e->epoch == fc->loop->iter && e->acc == fc->loop->accepted)
        return true; /* checked in this very wake-up */
    return e->inst == fc->inst && e->inst != 0 && fc->io.fd >= 0 && e->gen == fc->gen &&
           fc->loop->now_ms - e->checked_ms < FC_RECHECK_MS;
}

static void mark_checked(fcache_t *fc, fentry_t *e, uint32_t inst)
{
    e->epoch = fc->loop->iter;
    e->acc = fc->loop->accepted;
    e->checked_ms = fc->loop->now_ms;
    e->gen = fc->gen;
    e->inst = inst;
}

/* Before an entry is looked at: the events queued so far, and a renewed instance if they asked. */
static void sync_events(fcache_t *fc)
{
    hs_loop_t *loop = fc->loop;
    if (fc->accepted != loop->accepted) {
        /* A connection accepted since the events were last read may have been opened after a
         * change whose event is queued but not yet dispatched (the accept loop runs within
         * one wake-up): read them now. One read per batch of new connections. */
        fc->accepted = loop->accepted;
        if (fc->io.fd >= 0)
            on_events(&fc->io, HS_EV_READ);
    }
    if (fc->renew)
        instance_open(fc); /* every entry is re-watched, on the new paths, when next used */
}

int hs__static_fcache_open(hs__static_fcache_t *fc, const hs_fsroot_t *root, const char *rel, struct stat *st,
                           const char **detail, void **ent)
{
    *ent = NULL;
    size_t n = strlen(rel);
    if (n >= FC_KEY_MAX)
        return hs_fsroot_open(root, rel, st, detail);
    sync_events(fc);
    uint32_t h = hash_key(root->id, rel, n);
    fentry_t **slot = &fc->slot[h % FC_BUCKETS];
    fentry_t *e = *slot;
    if (e && e->hash == h && e->root_id == root->id && strcmp(e->key, rel) == 0) {
        if (!fresh(fc, e)) {
            /* watches first (if this instance does not have them yet), then the stat: a
             * change after the stat is then an event */
            uint32_t inst =
                e->inst == fc->inst && e->inst != 0 ? e->inst : (watch_entry(fc, root, rel, n) ? fc->inst : 0);
            struct stat cur;
            if (fstatat(root->fd, rel[0] ? rel : ".", &cur, 0) != 0 || !same_file(&cur, &e->st)) {
                *slot = NULL; /* changed or gone: open afresh below */
                unref(e);
                e = NULL;
            } else {
                mark_checked(fc, e, inst);
            }
        }
        if (e) {
            e->refs++;
            *st = e->st;
            *ent = e;
            hs_counter_add(&fc->hits, 1);
            return e->fd;
        }
    }
    hs_counter_add(&fc->misses, 1);
    int fd = hs_fsroot_open(root, rel, st, detail);
    if (fd < 0 || !S_ISREG(st->st_mode)) /* directories are read with fdopendir: not shared */
        return fd;
    /* watched from here on if the path still names what was opened once the watches are in
     * place; otherwise (changed meanwhile, or no watches) kept fresh by stat for now */
    uint32_t inst = 0;
    struct stat cur;
    if (watch_entry(fc, root, rel, n) && fstatat(root->fd, rel, &cur, 0) == 0 && same_file(&cur, st))
        inst = fc->inst;
    if (*slot) { /* collision: the newer path wins */
        unref(*slot);
        *slot = NULL;
    }
    e = hs_malloc(sizeof(*e));
    e->fd = fd;
    e->refs = 2; /* the table and this request */
    e->st = *st;
    mark_checked(fc, e, inst);
    e->data = NULL;
    if (st->st_size > 0 && st->st_size <= FC_SMALL) {
        char *d = hs_malloc((size_t)st->st_size);
        if (pread(fd, d, (size_t)st->st_size, 0) == st->st_size)
            e->data = d;
        else
            free(d);
    }
    e->meta.type = hs__static_mime_lookup(rel);
    e->meta.etag = hs_iov(e->etag, hs_etag_from_stat(e->etag, st, NULL));
    e->meta.mtime = st->st_mtime;
    hs_http_date(st->st_mtime, e->last_modified);
    e->meta.last_modified = e->last_modified;
    e->hash = h;
    e->root_id = root->id;
    memcpy(e->key, rel, n + 1);
    *slot = e;
    *ent = e;
    return fd;
}

void hs__static_fcache_stats(const hs__static_fcache_t *fc, uint64_t *hits, uint64_t *misses)
{
    *hits += hs_counter_get(&fc->hits);
    *misses += hs_counter_get(&fc->misses);
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

/* ---- stamps: the same freshness for what other files derive from a directory ----
 * Negotiation (negotiate.c) keeps a directory's names and the variants found among them. A
 * stamp records when that was checked, exactly as an entry does (mark_checked), and is fresh
 * under the same rule (fresh): the directory and those above it are watched for names
 * appearing, disappearing or moving, so any such change bumps the generation. */
void hs__static_fcache_stamp(hs__static_fcache_t *fc, const hs_fsroot_t *root, const char *dir, hs__static_stamp_t *s)
{
    sync_events(fc);
    size_t n = strlen(dir);
    bool ok = n < FC_KEY_MAX;
    if (ok && fc->nwatches >= FC_MAX_WATCHES)
        instance_open(fc);
    ok = ok && fc->io.fd >= 0 && fc->loop->now_ms >= fc->no_watch_until && watch_dir(fc, root, dir, 0);
    for (size_t i = 0; ok && i < n; i++)
        if (dir[i] == '/')
            ok = watch_dir(fc, root, dir, i);
    ok = ok && (n == 0 || watch_dir(fc, root, dir, n));
    s->epoch = fc->loop->iter;
    s->acc = fc->loop->accepted;
    s->checked_ms = fc->loop->now_ms;
    s->gen = fc->gen;
    s->inst = ok ? fc->inst : 0;
}

bool hs__static_fcache_stamp_fresh(hs__static_fcache_t *fc, const hs__static_stamp_t *s)
{
    sync_events(fc);
    if (s->epoch == fc->loop->iter && s->acc == fc->loop->accepted)
        return true;
    return s->inst == fc->inst && s->inst != 0 && fc->io.fd >= 0 && s->gen == fc->gen &&
           fc->loop->now_ms - s->checked_ms < FC_RECHECK_MS;
}
