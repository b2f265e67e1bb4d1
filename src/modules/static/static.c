/* statusd — static origin: files from --root.
 *
 * For every request the handler, in this order:
 *   1. maps the path below the root (map.c) — 400/404 for impossible paths;
 *   2. opens it (symlinks out of the root refused unless follow_symlinks) — 403/404;
 *   3. applies the method: OPTIONS → 204 with Allow, anything but GET/HEAD → 405 with Allow;
 *   4. for a directory: 301 to the address with the trailing slash, the index file, a listing
 *      (autoindex) or 403;
 *   5. selects the representation: an instance manipulation asked with A-IM (RFC 3229), else
 *      a content coding by Accept-Encoding (a fresh precompressed sibling file or coding on the
 *      fly), else the file itself;
 *   6. evaluates preconditions in RFC 9110 §13.2.2 order — 304/412;
 *   7. answers 226, 206 (one range or multipart/byteranges), 416, or 200.
 * Files come through the worker's open-file cache (fcache.c), which also keeps a small file's
 * bytes and a file's Content-Type, ETag and Last-Modified text. File bytes go out by sendfile
 * (hs_res_body_file) or, for small cached files, with the head in one writev; only coded
 * variants live in memory. Descriptors stay held until the request ends (a request cleanup).
 */
#define _GNU_SOURCE
#include "static.h"

#include "hs/static.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_INDEX 8

static const char allow_file[] = "GET, HEAD, OPTIONS";

/* ---- settings ---- */
#define OFF(f) offsetof(hs__static_conf_t, f)
HS_DIRECTIVES_BEGIN
static const hs_directive_t directives[] = {
    {"root", HS_DT_STRING, OFF(root), "", "DIR",
     "serve static files from DIR (without it, the API is served at /); on a path: that path serves them", 0, 0,
     HS_SCOPE_TOP | HS_SCOPE_PATH},
    {"autoindex", HS_DT_BOOL, OFF(autoindex), "false", "BOOL", "list directories that have no index file (else 403)", 0,
     0, HS_SCOPE_ALL},
    {"follow_symlinks", HS_DT_BOOL, OFF(follow_symlinks), "false", "BOOL",
     "serve symbolic links that lead outside the root (else 403)", 0, 0, HS_SCOPE_ALL},
    {"file_watch", HS_DT_BOOL, OFF(file_watch), "true", "BOOL",
     "keep cached files fresh by change notifications (inotify); --no-file-watch on network filesystems "
     "(changes made by other machines raise none): a stat per event-loop wake-up instead",
     0, 0, HS_SCOPE_TOP},
    {"index", HS_DT_STRING, OFF(index), "index.html", "NAMES", "comma-separated index file names for directories", 0, 0,
     HS_SCOPE_ALL},
    {"cache_control", HS_DT_STRING, OFF(cache_control), "", "VALUE",
     "Cache-Control sent with static files (e.g. 'public, max-age=3600')", 0, 0, HS_SCOPE_ALL},
    {"compress", HS_DT_BOOL, OFF(compress), "true", "BOOL",
     "compress text-like files on the fly (gzip, br, zstd) when the client accepts it", 0, 0, HS_SCOPE_ALL},
    {"compress_max", HS_DT_SIZE, OFF(compress_max), "10m", "SIZE", "largest file compressed on the fly", 0, 1LL << 30,
     HS_SCOPE_ALL},
};
HS_DIRECTIVES_END
#undef OFF

/* Document roots are opened once per directory and link policy, whatever number of paths
 * serve them (so the open-file cache shares their entries); the configuration's end closes
 * them. Only the configuration's thread touches this list. */
typedef struct root_s {
    struct root_s *next;
    char *path;
    int refs;
    hs_fsroot_t fs;
} root_t;
static root_t *roots;

static void release(void *p)
{
    hs__static_conf_t *sc = p;
    for (root_t **r = &roots; sc->fsroot && *r; r = &(*r)->next) {
        if (&(*r)->fs != sc->fsroot)
            continue;
        root_t *dead = *r;
        if (--dead->refs == 0) {
            *r = dead->next;
            hs_fsroot_fini(&dead->fs);
            free(dead->path);
            free(dead);
        }
        break;
    }
    sc->fsroot = NULL;
}

/* Settings with a root: the root opened (before privileges are dropped; once per directory),
 * the index names read. */
static int check(hs_config_t *cfg, const hs_pathconf_t *path, void *p, const char **bad, char *err, size_t errlen)
{
    HS_UNUSED(path);
    hs__static_conf_t *sc = p;
    if (!sc->root)
        return HS_OK;
    if (hs_static_mime_prepare() != HS_OK) {
        snprintf(err, errlen, "the MIME types cannot be read");
        return HS_ERROR;
    }
    root_t *r = roots;
    while (r && !(strcmp(r->path, sc->root) == 0 && r->fs.follow_symlinks == sc->follow_symlinks))
        r = r->next;
    if (!r) {
        r = hs_calloc(1, sizeof(*r));
        int e = hs_fsroot_init(&r->fs, sc->root, sc->follow_symlinks);
        if (e != HS_OK) {
            snprintf(err, errlen, "root %s: %s", sc->root, strerror(-e));
            *bad = "root";
            free(r);
            return HS_ERROR;
        }
        r->path = hs_strdup(sc->root);
        r->next = roots;
        roots = r;
    }
    r->refs++;
    sc->fsroot = &r->fs;
    sc->num_index = 0;
    sc->index_names = hs_config_alloc(cfg, MAX_INDEX * sizeof(*sc->index_names));
    if (sc->index) {
        hs_iovec_t v = hs_iov_cstr(sc->index), el;
        size_t pos = 0;
        while ((el = hs_list_next(v, &pos)).base) {
            *bad = "index";
            if (memchr(el.base, '/', el.len) || HS_IOV_EQ(el, ".") || HS_IOV_EQ(el, "..")) {
                snprintf(err, errlen, "index: '%.*s' is not a file name", (int)el.len, el.base);
                return HS_ERROR;
            }
            if (sc->num_index == MAX_INDEX) {
                snprintf(err, errlen, "index: at most %d names", MAX_INDEX);
                return HS_ERROR;
            }
            char *name = hs_config_alloc(cfg, el.len + 1);
            memcpy(name, el.base, el.len);
            name[el.len] = '\0';
            sc->index_names[sc->num_index++] = name;
        }
    }
    return HS_OK;
}

/* Without hosts, a root serves "/" — unless `dav` (--dav) hands it to the WebDAV module, which
 * then serves the same root at "/" and answers GET and HEAD through hs_static_serve. */
static const char *mount(hs_config_t *cfg, const void *conf, bool flat)
{
    const hs__static_conf_t *sc = conf;
    const hs_directive_t *dav = hs_config_find("dav");
    if (dav && dav->type == HS_DT_BOOL && *(bool *)hs_config_field(cfg, dav))
        return NULL;
    return flat && sc->root ? "/" : NULL;
}

/* ---- per-worker state: the open-file cache, the coded-bytes cache, codings under way ---- */
typedef struct coding_s coding_t;
typedef struct {
    hs__static_fcache_t *fc;
    hs__static_ccache_t *cc;
    coding_t *codings; /* files being coded off the loop */
} sworker_t;

static int init_worker(hs_worker_t *w)
{
    const hs__static_conf_t *top = hs_server_conf(w->srv, &hs_module_static);
    sworker_t *sw = hs_calloc(1, sizeof(*sw));
    sw->fc = hs__static_fcache_new(&w->loop, top->file_watch);
    sw->cc = hs__static_ccache_new();
    w->mod[hs_module_static.index] = sw;
    return HS_OK;
}

static void fini_worker(hs_worker_t *w);

/* statusd_static_file_cache_{hits,misses}_total: every worker's open-file cache, summed */
static void metrics(hs_server_t *srv, hs_metrics_out_t *o)
{
    uint64_t hits = 0, misses = 0;
    for (int i = 0; i < srv->nworkers; i++) {
        const sworker_t *sw = hs_worker_ctx(&srv->workers[i], &hs_module_static);
        if (sw)
            hs__static_fcache_stats(sw->fc, &hits, &misses);
    }
    hs_metrics_family(o, "statusd_static_file_cache_hits_total", "counter",
                      "Files found open in a worker's open-file cache.");
    hs_metrics_sample(o, "statusd_static_file_cache_hits_total", NULL, hits);
    hs_metrics_family(o, "statusd_static_file_cache_misses_total", "counter",
                      "Files opened because the open-file cache did not hold them (or held an older version).");
    hs_metrics_sample(o, "statusd_static_file_cache_misses_total", NULL, misses);
}

static sworker_t *sworker(const hs_req_t *req)
{
    return hs_worker_ctx(req->worker, &hs_module_static);
}

/* ---- per-request resources, released when the request is freed ---- */
typedef struct sreq_s sreq_t;
typedef struct sfile_s sfile_t;

struct sreq_s {
    int fds[4];
    void *ents[4]; /* open-file cache entry of fds[i], NULL when the request owns it */
    size_t nfds;
    hs__static_blob_t *blob;
    /* while waiting for a file to be coded off the loop */
    hs_req_t *req;
    coding_t *waiting; /* NULL when not waiting */
    sfile_t *wait_f;
    sreq_t *wnext, **wprev;
};

static void stop_waiting(sreq_t *s)
{
    if (!s->waiting)
        return;
    *s->wprev = s->wnext;
    if (s->wnext)
        s->wnext->wprev = s->wprev;
    s->waiting = NULL;
}

static void sreq_free(void *p)
{
    sreq_t *s = p;
    stop_waiting(s); /* the client left while its file was being coded */
    for (size_t i = 0; i < s->nfds; i++)
        hs__static_fcache_release(s->fds[i], s->ents[i]);
    hs__static_blob_release(s->blob);
}

static sreq_t *sreq(hs_req_t *req)
{
    sreq_t *s = hs_req_ctx(req, &hs_module_static);
    if (!s) {
        s = hs_arena_alloc(&req->arena, sizeof(*s));
        memset(s, 0, sizeof(*s));
        s->req = req;
        hs_req_set_ctx(req, &hs_module_static, s);
        hs_req_cleanup(req, sreq_free, s);
    }
    return s;
}

static void keep_fd_ent(hs_req_t *req, int fd, void *ent)
{
    sreq_t *s = sreq(req);
    if (s->nfds == HS_ARRAY_SIZE(s->fds)) /* bounded by design: file, index, one sibling */
        abort();
    s->ents[s->nfds] = ent;
    s->fds[s->nfds++] = fd;
}

static void keep_fd(hs_req_t *req, int fd)
{
    keep_fd_ent(req, fd, NULL);
}

/* Why a file was not served as it is (hs_module_t.causes; entry i is cause FC_<i>). */
enum {
    FC_NOT_FOUND,
    FC_FORBIDDEN,
    FC_NO_FDS,
    FC_ERROR,
    FC_BAD_PATH,
    FC_NOT_REGULAR,
    FC_TRAILING_SLASH,
    FC_NO_INDEX,
    FC_DIRECTORY,
    FC_PRECONDITION,
    FC_NOT_MODIFIED,
    FC_RANGE,
    FC_CODING
};
static const hs_cause_info_t causes[] = {
    [FC_NOT_FOUND] = {"file:not_found", 404, {0}, "root", "No file or directory by that name below the root."},
    [FC_FORBIDDEN] = {"file:forbidden",
                      403,
                      {0},
                      "follow_symlinks",
                      "The file's permissions refuse the server's user, or a symbolic link leads out of the root."},
    [FC_NO_FDS] = {"file:no_fds", 503, {0}, "", "Out of file descriptors while opening the file (Retry-After)."},
    [FC_ERROR] = {"file:error", 500, {0}, "", "The file could not be opened for another reason (an I/O error)."},
    [FC_BAD_PATH] =
        {"file:bad_path", 400, {0}, "", "The path cannot name a file (an escaped slash or NUL in a segment)."},
    [FC_NOT_REGULAR] = {"file:not_regular", 403, {0}, "", "The path names neither a regular file nor a directory."},
    [FC_TRAILING_SLASH] = {"file:trailing_slash", 404, {0}, "", "A file was asked for with a trailing slash."},
    [FC_NO_INDEX] = {"file:no_index",
                     403,
                     {0},
                     "autoindex",
                     "A directory without an index file, and listings are off (or not permitted)."},
    [FC_DIRECTORY] = {"file:directory", 301, {0}, "", "A directory was asked for without its trailing slash."},
    [FC_PRECONDITION] = {"file:precondition",
                         412,
                         {0},
                         "",
                         "If-Match or If-Unmodified-Since failed for the current file (RFC 9110 §13.2.2)."},
    [FC_NOT_MODIFIED] = {"file:not_modified",
                         304,
                         {0},
                         "",
                         "If-None-Match or If-Modified-Since matched the current file (RFC 9110 §13.2.2)."},
    [FC_RANGE] = {"file:range", 416, {0}, "", "No requested byte range lies within the file (RFC 9110 §14.2)."},
    [FC_CODING] = {"file:coding",
                   406,
                   {0},
                   "compress",
                   "Accept-Encoding excludes identity and no coding the server has is acceptable (RFC 9110 §12.5.3)."},
};

static int fail(hs_req_t *req, int status, unsigned cause, const char *detail)
{
    hs_req_set_cause(req, hs_module_cause(&hs_module_static, cause));
    return hs_res_error(req, status, detail);
}

/* fsroot and map failures: their status says why */
static int open_failed(hs_req_t *req, int status, const char *detail)
{
    if (status == 503) /* RFC 9110 §10.2.3: say when to come back */
        hs_res_headerf(req, "Retry-After", "%d", hs_req_top(req)->retry_after);
    unsigned cause = status == 404   ? FC_NOT_FOUND
                     : status == 403 ? FC_FORBIDDEN
                     : status == 503 ? FC_NO_FDS
                     : status == 400 ? FC_BAD_PATH
                                     : FC_ERROR;
    return fail(req, status, cause, detail);
}

/* ETag, Last-Modified, Cache-Control and Vary (with a negotiated variant's Content-Location
 * and Content-Language): on 200/206/226 and, as RFC 9110 §15.4.5 requires, on 304 exactly as
 * the 200 would have them. */
static void add_validators(hs_req_t *req, hs_iovec_t etag, time_t lm, const hs__static_fmeta_t *meta, bool vary,
                           const hs__static_chosen_t *neg)
{
    const char *date = meta && meta->mtime == lm ? meta->last_modified : NULL;
    if (!date) {
        char *d = hs_arena_alloc(&req->arena, 30);
        hs_http_date(lm, d);
        date = d;
    }
    hs_res_header(req, HS_IOV("ETag"), etag);
    hs_res_header(req, HS_IOV("Last-Modified"), hs_iov(date, 29));
    if (hs__static_conf(req)->cache_control)
        HS_RES_HEADER(req, "Cache-Control", hs__static_conf(req)->cache_control);
    if (neg)
        hs__static_chosen_headers(req, neg, vary, true);
    else if (vary) /* RFC 9110 §12.5.5: the choice of coding depended on Accept-Encoding */
        HS_RES_HEADER(req, "Vary", "Accept-Encoding");
}

static bool newer_or_same(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

/* A file being answered: what serve_file selected, kept in the request's arena so that the
 * answer can be finished after coding the file off the loop. */
struct sfile_s {
    int fd;
    struct stat st;
    const char *rel;
    const hs__static_fmeta_t *meta;
    hs__static_type_t type;
    bool vary;
    time_t lm;
    hs_iovec_t etag;
    hs_range_src_t body;
    int coding;                     /* content coding of the body sent */
    int im;                         /* instance manipulation (226) or identity */
    int code_now;                   /* coding still to produce in memory */
    int pc;                         /* outcome of the preconditions: 0, 304 or 412 */
    const hs__static_chosen_t *neg; /* the variant negotiation chose, or NULL */
};

/* Vary on an error about the selected representation (412, 416, 406). */
static void add_vary(hs_req_t *req, const sfile_t *f)
{
    if (f->neg)
        hs__static_chosen_headers(req, f->neg, f->vary, false);
    else if (f->vary)
        HS_RES_HEADER(req, "Vary", "Accept-Encoding");
}

/* The selected representation's validators (RFC 9110 §8.8): a file always has both. */
static hs_validators_t validators(const sfile_t *f)
{
    return (hs_validators_t){.exists = true, .has_last_modified = true, .etag = f->etag, .last_modified = f->lm};
}

/* RFC 9110 §13.2.2 steps 1-4 against the selected representation: 0, 304 or 412. */
static int preconditions(const hs_req_t *req, const sfile_t *f)
{
    hs_validators_t v = validators(f);
    return hs_preconditions(req, &v);
}

/* Files at least this large are coded on a helper thread: coding a few MB takes the loop away
 * from every other connection for tens of milliseconds. Smaller ones cost less than the
 * hand-over. */
#define OFFLOAD_CODING_MIN (64 * 1024)

static int finish(hs_req_t *req, sfile_t *f)
{
    if (f->pc == 304) {
        add_validators(req, f->etag, f->lm, f->meta, f->vary, f->neg);
        hs_req_set_cause(req, hs_module_cause(&hs_module_static, FC_NOT_MODIFIED));
        return hs_res_send(req, 304);
    }
    if (f->pc == 412) {
        add_vary(req, f);
        return fail(req, 412, FC_PRECONDITION,
                    "a precondition (If-Match or If-Unmodified-Since) failed for the current file");
    }

    if (f->im != HS_CODING_IDENTITY) {
        /* RFC 3229 §10.4.1: 226 with IM naming the manipulation and the instance's ETag; the
         * body is the whole manipulated instance, so Range is not applied */
        add_validators(req, f->etag, f->lm, f->meta, f->vary, f->neg);
        hs_res_headerf(req, "IM", "%s", hs__static_coding_name[f->im]);
        req->content_type = f->type.content_type;
        hs_range_full_body(req, &f->body);
        return hs_res_send(req, 226);
    }

    /* RFC 9110 §14: Range for GET, when If-Range (step 5 of §13.2.2) agrees */
    hs_range_t ranges[HS_RANGE_MAX];
    size_t nr = 0;
    hs_validators_t val = validators(f);
    int rr = hs_range_select(req, &val, f->body.len, ranges, &nr);
    if (rr == HS_RANGE_UNSATISFIABLE) {
        hs_range_not_satisfiable(req, f->body.len); /* RFC 9110 §15.5.17 */
        add_vary(req, f);
        return fail(req, 416, FC_RANGE, "none of the requested byte ranges lies within the file");
    }
    add_validators(req, f->etag, f->lm, f->meta, f->vary, f->neg);
    HS_RES_HEADER(req, "Accept-Ranges", "bytes"); /* RFC 9110 §14.3 */
    if (f->coding != HS_CODING_IDENTITY)
        hs_res_headerf(req, "Content-Encoding", "%s", hs__static_coding_name[f->coding]);
    if (rr == HS_RANGE_OK) {
        hs_range_body(req, &f->body, f->type.content_type, ranges, nr);
        return hs_res_send(req, 206);
    }
    req->content_type = f->type.content_type;
    hs_range_full_body(req, &f->body);
    return hs_res_send(req, 200);
}

/* The coded bytes are here (b, a reference the request now owns), or coding failed (NULL). */
static int finish_coded(hs_req_t *req, sfile_t *f, hs__static_blob_t *b)
{
    if (b) {
        sreq(req)->blob = b;
        f->body = (hs_range_src_t){.fd = -1, .mem = b->data, .len = b->len};
        return finish(req, f);
    }
    /* coding failed (memory, a file that shrank): send the file itself, judged by its own
     * validator */
    hs_log_warn("static: could not code %s as %s; sending it uncoded", f->rel, hs__static_coding_name[f->code_now]);
    f->im = f->coding = HS_CODING_IDENTITY;
    f->etag = f->meta ? f->meta->etag : hs_etag_from_stat_arena(&req->arena, &f->st, NULL);
    f->pc = preconditions(req, f);
    return finish(req, f);
}

/* Codings of large files under way on this worker: every request for the same file version
 * and coding waits for the one job, so a crowd asking for a newly changed file costs one
 * coding, not one each. */
struct coding_s {
    coding_t *next, **prev; /* in the worker's list; prev NULL once the worker is gone */
    sworker_t *sw;          /* the worker's state (valid while prev is set) */
    uint64_t max;           /* compress_max of the path that asked */
    struct stat st;
    int coding;
    sreq_t *waiters;
};

static void fini_worker(hs_worker_t *w)
{
    sworker_t *sw = w->mod[hs_module_static.index];
    for (coding_t *c = sw->codings; c; c = c->next)
        c->prev = NULL; /* jobs still running own their entry */
    hs__static_fcache_free(sw->fc);
    hs__static_ccache_free(sw->cc);
    free(sw);
    w->mod[hs_module_static.index] = NULL;
}

static coding_t *coding_find(sworker_t *sw, const struct stat *st, int coding)
{
    for (coding_t *c = sw->codings; c; c = c->next)
        if (c->coding == coding && hs__static_same_version(&c->st, st))
            return c;
    return NULL;
}

static void wait_for(hs_req_t *req, coding_t *c, sfile_t *f)
{
    sreq_t *s = sreq(req);
    s->waiting = c;
    s->wait_f = f;
    s->wnext = c->waiters;
    s->wprev = &c->waiters;
    if (c->waiters)
        c->waiters->wprev = &s->wnext;
    c->waiters = s;
}

typedef struct {
    int fd; /* a duplicate: the job's own, whatever happens to the requests */
    coding_t *c;
    hs__static_blob_t *blob;
} code_job_t;

static void code_work(void *arg) /* on a helper thread */
{
    code_job_t *j = arg;
    j->blob = hs__static_code_file(j->fd, &j->c->st, j->c->coding, j->c->max);
}

static void code_done(hs_req_t *req, void *arg) /* on the worker (at shutdown: after it) */
{
    HS_UNUSED(req); /* the first asker; every request still waiting is in c->waiters */
    code_job_t *j = arg;
    coding_t *c = j->c;
    close(j->fd);
    hs_log_debug("static: coded inode %llu as %s off the loop: %zu bytes", (unsigned long long)c->st.st_ino,
                 hs__static_coding_name[c->coding], j->blob ? j->blob->len : 0);
    if (c->prev) { /* the worker is alive: out of its list, and the bytes into its cache */
        *c->prev = c->next;
        if (c->next)
            c->next->prev = c->prev;
        if (j->blob)
            hs__static_compress_keep(c->sw->cc, &c->st, c->coding, j->blob);
    }
    while (c->waiters) {
        sreq_t *s = c->waiters;
        stop_waiting(s);
        if (j->blob)
            j->blob->refs++; /* the request's own reference */
        finish_coded(s->req, s->wait_f, j->blob);
    }
    hs__static_blob_release(j->blob);
    free(c);
    free(j);
}

/* Code the file off the loop (joining a job already under way for the same version), or
 * false when that cannot be done (the caller codes it in place). */
static bool code_later(hs_req_t *req, int fd, const struct stat *st, sfile_t *f)
{
    sworker_t *sw = sworker(req);
    coding_t *c = coding_find(sw, st, f->code_now);
    if (c) {
        wait_for(req, c, f);
        return true;
    }
    int jfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (jfd < 0)
        return false;
    c = hs_calloc(1, sizeof(*c));
    c->st = *st;
    c->coding = f->code_now;
    c->sw = sw;
    c->max = hs__static_conf(req)->compress_max;
    code_job_t *j = hs_malloc(sizeof(*j));
    *j = (code_job_t){.fd = jfd, .c = c};
    if (hs_req_offload(req, code_work, code_done, j) != HS_OK) {
        close(jfd);
        free(c);
        free(j);
        return false;
    }
    c->next = sw->codings;
    c->prev = &sw->codings;
    if (sw->codings)
        sw->codings->prev = &c->next;
    sw->codings = c;
    wait_for(req, c, f);
    return true;
}

static int serve_file(hs_req_t *req, const hs_fsroot_t *root, int fd, const void *ent, const struct stat *st,
                      const char *rel, const hs__static_chosen_t *neg)
{
    const hs__static_conf_t *cfg = hs__static_conf(req);
    sfile_t *f = hs_arena_alloc(&req->arena, sizeof(*f));
    f->fd = fd;
    f->st = *st;
    f->rel = rel;
    f->meta = hs__static_fcache_meta(ent);
    f->type = f->meta ? f->meta->type : hs__static_mime_lookup(rel);
    f->neg = neg;
    if (neg) /* a variant's type comes from its name's segments or its type map */
        f->type = neg->type;
    f->vary = f->type.compressible;
    /* RFC 9110 §8.8.2.1: Last-Modified is never later than the message's Date */
    f->lm = st->st_mtime > req->start_sec ? req->start_sec : st->st_mtime;
    f->etag = f->meta ? f->meta->etag : hs_etag_from_stat_arena(&req->arena, st, NULL);
    f->body = (hs_range_src_t){.fd = fd, .mem = NULL, .len = (uint64_t)st->st_size};
    const char *cached = hs__static_fcache_data(ent);
    if (cached) /* a small file from the open-file cache: head and body leave in one writev */
        f->body = (hs_range_src_t){.fd = -1, .mem = cached, .len = (uint64_t)st->st_size};
    f->coding = HS_CODING_IDENTITY;

    /* RFC 3229 §10.5.3: A-IM asks for an instance manipulation of the whole instance; files
     * too large to code on the fly are answered as if it were absent */
    f->im = HS_CODING_IDENTITY;
    if ((req->p.method_id == HS_METHOD_GET || req->p.method_id == HS_METHOD_HEAD) &&
        (uint64_t)st->st_size <= cfg->compress_max && (!neg || neg->coding == HS_CODING_IDENTITY))
        f->im = hs__static_negotiate_im(req);
    f->code_now = f->im; /* coding still to produce in memory, once preconditions have passed */

    if (f->im == HS_CODING_IDENTITY && f->type.compressible) {
        /* precompressed siblings (file.br, file.zst, file.gz) not older than the file */
        unsigned pre = 0, avail = 0;
        int pre_fd[HS_CODING__COUNT];
        struct stat pre_st[HS_CODING__COUNT];
        bool asked = hs_req_field_count(req, HS_HDR_ACCEPT_ENCODING) > 0;
        size_t rlen = strlen(rel);
        for (int c = 0; c < HS_CODING__COUNT; c++) {
            pre_fd[c] = -1;
            if (!asked || c == HS_CODING_IDENTITY || c == HS_CODING_DEFLATE)
                continue;
            const char *sib = hs_arena_printf(&req->arena, "%.*s%s", (int)rlen, rel, hs__static_coding_ext[c]).base;
            const char *ignored;
            int sfd = hs_fsroot_open(root, sib, &pre_st[c], &ignored);
            if (sfd < 0)
                continue;
            if (!S_ISREG(pre_st[c].st_mode) || !newer_or_same(&pre_st[c].st_mtim, &st->st_mtim)) {
                close(sfd); /* stale: the file changed after it was compressed */
                continue;
            }
            pre_fd[c] = sfd;
            pre |= 1u << c;
        }
        avail = pre;
        if (cfg->compress && (uint64_t)st->st_size <= cfg->compress_max)
            avail |= (1u << HS_CODING_BR) | (1u << HS_CODING_ZSTD) | (1u << HS_CODING_GZIP);
        int c = hs__static_negotiate_encoding(req, avail, pre);
        if (c > 0 && (pre & (1u << c))) {
            f->body = (hs_range_src_t){.fd = pre_fd[c], .mem = NULL, .len = (uint64_t)pre_st[c].st_size};
            f->etag = hs_etag_from_stat_arena(&req->arena, &pre_st[c], hs__static_coding_etag[c]);
            keep_fd(req, pre_fd[c]);
            pre_fd[c] = -1;
        } else if (c > 0) {
            /* coded on the fly: the tag is known before the bytes are */
            f->etag = hs_etag_from_stat_arena(&req->arena, st, hs__static_coding_etag[c]);
            f->code_now = c;
        }
        for (int k = 0; k < HS_CODING__COUNT; k++)
            if (pre_fd[k] >= 0)
                close(pre_fd[k]);
        if (c < 0) {
            /* RFC 9110 §12.5.3: identity excluded and no acceptable coding */
            if (neg)
                hs__static_chosen_headers(req, neg, true, false);
            else
                HS_RES_HEADER(req, "Vary", "Accept-Encoding");
            return fail(req, 406, FC_CODING,
                        "no content coding this server has for the file is acceptable "
                        "(Accept-Encoding excludes identity); available: br, zstd, gzip");
        }
        f->coding = c;
    }
    if (neg && neg->coding != HS_CODING_IDENTITY)
        f->coding = neg->coding; /* a type map's coded variant: sent as it is, Content-Encoding named */

    /* RFC 9110 §13.2.2 steps 1-4, against the selected representation's validators; a 304 or
     * 412 never needs the coded bytes */
    f->pc = preconditions(req, f);
    if (f->code_now == HS_CODING_IDENTITY || f->pc != 0)
        return finish(req, f);
    hs__static_blob_t *b = hs__static_compress_cached(sworker(req)->cc, st, f->code_now);
    if (!b && st->st_size >= OFFLOAD_CODING_MIN && code_later(req, fd, st, f))
        return HS_AGAIN; /* answered by code_done */
    if (!b)
        b = hs__static_compress(sworker(req)->cc, fd, st, f->code_now, cfg->compress_max);
    return finish_coded(req, f, b);
}

static int redirect_to_slash(hs_req_t *req, const hs__static_path_t *mp)
{
    /* RFC 9110 §15.4.2: the directory's address ends in '/', so relative links inside it
     * resolve; the Location is the normalised path, re-encoded, with the query kept */
    hs_iovec_t enc = hs_pct_encode_arena(&req->arena, mp->rel, mp->len, HS_PCT_KEEP_SLASH);
    hs_iovec_t mnt = hs_req_mount(req);
    if (req->p.query.base)
        hs_res_headerf(req, "Location", "%.*s/%.*s/?%.*s", (int)mnt.len, mnt.base, (int)enc.len, enc.base,
                       (int)req->p.query.len, req->p.query.base);
    else
        hs_res_headerf(req, "Location", "%.*s/%.*s/", (int)mnt.len, mnt.base, (int)enc.len, enc.base);
    return fail(req, 301, FC_DIRECTORY, "this is a directory; its address ends with a slash");
}

/* A name answered from its variants (negotiate.c), or HS_DECLINED when it has none. */
static int negotiated(hs_req_t *req, const hs_fsroot_t *root, hs__static_fcache_t *fc, const char *rel)
{
    hs__static_chosen_t ch;
    int r = hs__static_negotiate(req, root, fc, rel, &ch);
    if (r == HS__NEG_CHOSEN) {
        hs__static_chosen_t *kept = hs_arena_alloc(&req->arena, sizeof(*kept)); /* serve_file may finish later */
        *kept = ch;
        keep_fd_ent(req, kept->fd, kept->ent);
        return serve_file(req, root, kept->fd, kept->ent, &kept->st, kept->rel, kept);
    }
    if (r == HS__NEG_METHOD && req->p.method_id == HS_METHOD_OPTIONS) {
        req->allow = allow_file; /* RFC 9110 §9.3.7 */
        return hs_res_send(req, 204);
    }
    if (r == HS__NEG_METHOD)
        return hs_res_method_not_allowed(req, allow_file); /* RFC 9110 §15.5.6 */
    return r;
}

bool hs_static_negotiable(hs_req_t *req, const hs_fsroot_t *root, const char *rel)
{
    return rel[0] && hs__static_negotiating(req) && hs__static_negotiable(req, root, sworker(req)->fc, rel);
}

int hs_static_serve(hs_req_t *req, const hs_fsroot_t *root)
{
    const hs__static_conf_t *sc = hs__static_conf(req);
    const char *detail = NULL;
    hs__static_path_t mp;
    /* the file below the mount point: the rest of the path's normal form, every escape decoded */
    int status = hs__static_map(&req->arena, hs_req_path_below_mount(req), req->npath_plain, &mp, &detail);
    if (status)
        return open_failed(req, status, detail);
    struct stat st;
    void *ent;
    hs__static_fcache_t *fc = sworker(req)->fc;
    hs_method_t m = req->p.method_id;
    /* a name that is no file (or a type map) is answered from its variants (negotiate.c); one
     * negotiated lately skips the failed open */
    bool negotiating = mp.len && !mp.trailing_slash && hs__static_negotiating(req);
    if (negotiating && hs__static_negotiated_known(req, root, mp.rel)) {
        int r = negotiated(req, root, fc, mp.rel);
        if (r != HS_DECLINED)
            return r;
    }
    int fd = hs__static_fcache_open(fc, root, mp.rel, &st, &detail, &ent);
    if (negotiating &&
        (fd == -404 || (fd >= 0 && S_ISREG(st.st_mode) && mp.len > 4 && !memcmp(mp.rel + mp.len - 4, ".var", 4)))) {
        hs__static_fcache_release(fd, ent);
        int r = negotiated(req, root, fc, mp.rel);
        if (r != HS_DECLINED)
            return r;
        if (fd >= 0) /* a type map that is no longer one: the file after all */
            fd = hs__static_fcache_open(fc, root, mp.rel, &st, &detail, &ent);
    }
    if (fd < 0)
        return open_failed(req, -fd, detail);
    keep_fd_ent(req, fd, ent);
    bool dir = S_ISDIR(st.st_mode);
    if (!dir && !S_ISREG(st.st_mode))
        return fail(req, 403, FC_NOT_REGULAR, "this path is neither a regular file nor a directory");
    if (!dir && mp.trailing_slash)
        return fail(req, 404, FC_TRAILING_SLASH, "this is a file, not a directory; its address has no trailing slash");

    if (m == HS_METHOD_OPTIONS) {
        req->allow = allow_file; /* RFC 9110 §9.3.7 */
        return hs_res_send(req, 204);
    }
    if (m != HS_METHOD_GET && m != HS_METHOD_HEAD)
        return hs_res_method_not_allowed(req, allow_file); /* RFC 9110 §15.5.6 */

    if (!dir)
        return serve_file(req, root, fd, ent, &st, mp.rel, NULL);
    if (!mp.trailing_slash)
        return redirect_to_slash(req, &mp);
    for (size_t i = 0; i < sc->num_index; i++) {
        const char *ip =
            mp.len ? hs_arena_printf(&req->arena, "%s/%s", mp.rel, sc->index_names[i]).base : sc->index_names[i];
        struct stat ist;
        void *ient;
        int ifd = hs__static_fcache_open(fc, root, ip, &ist, &detail, &ient);
        if (ifd == -404 && hs__static_negotiating(req)) { /* index.html.en, index.html.fr … */
            int r = negotiated(req, root, fc, ip);
            if (r != HS_DECLINED)
                return r;
        }
        if (ifd == -404)
            continue;
        if (ifd < 0)
            return open_failed(req, -ifd, detail);
        if (!S_ISREG(ist.st_mode)) {
            hs__static_fcache_release(ifd, ient); /* a directory called index.html is not an index file */
            continue;
        }
        keep_fd_ent(req, ifd, ient);
        return serve_file(req, root, ifd, ient, &ist, ip, NULL);
    }
    if (!sc->autoindex)
        return fail(req, 403, FC_NO_INDEX, "this directory has no index file and directory listings are off");
    hs_iovec_t mnt = hs_req_mount(req);
    const char *shown =
        hs_arena_printf(&req->arena, "%.*s/%s%s", (int)mnt.len, mnt.base, mp.rel, mp.len ? "/" : "").base;
    return hs__static_autoindex(req, root, fd, mp.rel, shown, sc->cache_control);
}

static int content(hs_req_t *req)
{
    const hs__static_conf_t *sc = hs__static_conf(req);
    return sc->fsroot ? hs_static_serve(req, sc->fsroot) : HS_DECLINED;
}

hs__static_fcache_t *hs__static_worker_fcache(const hs_req_t *req)
{
    sworker_t *sw = req->worker ? sworker(req) : NULL;
    return sw ? sw->fc : NULL;
}

hs_module_t hs_module_static = {
    .name = "static",
    .conf = {.name = "static",
             .directives = directives,
             .count = HS_ARRAY_SIZE(directives),
             .size = sizeof(hs__static_conf_t),
             .handler = "root",
             .check = check,
             .release = release,
             .mount = mount},
    .init_worker = init_worker,
    .fini_worker = fini_worker,
    .content = content,
    .metrics = metrics,
    .causes = causes,
    .ncauses = HS_ARRAY_SIZE(causes),
};
