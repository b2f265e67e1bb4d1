/* statusd — static origin: declarations shared by the files of src/modules/static/.
 *
 *   static.c       the content handler: methods, directories, representation selection, sending
 *   map.c          request path → file below the root (decoding, dot segments, symlink policy)
 *   mime.c         Content-Type from /etc/mime.types (or a built-in table)
 *   compress.c     Accept-Encoding / A-IM negotiation, precompressed files, on-the-fly coding
 *                  with a per-worker cache
 *   autoindex.c    HTML directory listings
 */
#ifndef HS_STATIC_H
#define HS_STATIC_H

#include "hs/http.h"
#include "hs/metrics.h"
#include "hs/conditional.h"
#include "hs/fsroot.h"
#include "hs/path.h"
#include "hs/range.h"

#include <sys/stat.h>

/* ---- settings (static.c): one struct per path, made by the configuration ---- */
typedef struct hs__static_conf_s {
    char *root;          /* the document root: naming it makes the module a path's handler */
    bool autoindex;      /* HTML listing for directories without an index file (else 403) */
    bool follow_symlinks; /* allow symbolic links that lead outside the root */
    bool file_watch;     /* open-file cache kept fresh by inotify (server-wide) */
    bool compress;       /* on-the-fly gzip/br/zstd for compressible types */
    char *index;         /* comma-separated index file names */
    char *cache_control; /* Cache-Control on static responses, NULL = none */
    uint64_t compress_max; /* largest file compressed on the fly */
    /* made by the module's check, once the settings are final */
    const hs_fsroot_t *fsroot;
    const char **index_names;
    size_t num_index;
} hs__static_conf_t;

extern hs_module_t hs_module_static;
static inline const hs__static_conf_t *hs__static_conf(const hs_req_t *req)
{
    return hs_req_conf(req, &hs_module_static);
}

/* The per-worker caches (made by the module's init_worker). */
typedef struct hs__static_fcache_s hs__static_fcache_t;
typedef struct hs__static_ccache_s hs__static_ccache_t;

/* ---- map.c ---- */
typedef struct hs__static_path_s {
    char *rel; /* decoded, normalised, relative to the root, NUL-terminated ("" = the root) */
    size_t len;
    bool trailing_slash; /* the (normalised) path names a directory: it ends in '/' */
} hs__static_path_t;

/* Map an origin-form path (undecoded) to a path below the root: hs_path_normalize with
 * HS_PATH_DECODE (each segment percent-decoded on its own, dot segments removed — also when
 * written %2e — and never above the root, slashes merged). Returns 0, or a status: 400 (bad
 * escape, NUL byte) or 404 (an encoded '/' — no file name can contain one). *detail explains.
 * Memory comes from `a`. */
int hs__static_map(hs_arena_t *a, hs_iovec_t path, bool plain, hs__static_path_t *out, const char **detail);

/* ---- fcache.c ----
 * hs_fsroot_open (src/os/fsroot.c) through the worker's open-file cache: regular files are
 * cached — keyed by the root and rel, so two roots never share an entry — and kept fresh by
 * file-change notifications (inotify), or by a stat of the path once per wake-up of `loop`
 * where those are unavailable. *ent receives the cache entry (NULL when the caller owns the
 * descriptor); pass both to hs__static_fcache_release when done. The root must outlive the
 * worker threads. */
int hs__static_fcache_open(hs__static_fcache_t *fc, const hs_fsroot_t *root, const char *rel, struct stat *st,
                           const char **detail, void **ent);
/* One worker's cache, on its loop; with watch false (file_watch off) entries are checked by stat. */
hs__static_fcache_t *hs__static_fcache_new(hs_loop_t *loop, bool watch);
void hs__static_fcache_free(hs__static_fcache_t *fc);
void hs__static_fcache_release(int fd, void *ent);
/* Add the cache's lookups answered from it and the others to *hits and *misses (any thread:
 * the counters are the worker's, read whole). */
void hs__static_fcache_stats(const hs__static_fcache_t *fc, uint64_t *hits, uint64_t *misses);
/* The cached bytes of a small file (valid while the entry is held), or NULL. */
const char *hs__static_fcache_data(const void *ent);

/* ---- mime.c ---- */
int hs__static_mime_init(void);
void hs__static_mime_free(void);
typedef struct hs__static_type_s {
    const char *content_type; /* with "; charset=utf-8" for textual types */
    bool compressible;
} hs__static_type_t;
hs__static_type_t hs__static_mime_lookup(const char *name);

/* What the open-file cache keeps about a file besides its descriptor, so that a hot file's
 * headers cost no formatting: computed once when the entry is made (fcache.c). */
typedef struct hs__static_fmeta_s {
    hs__static_type_t type;
    hs_iovec_t etag;              /* the identity representation's strong tag */
    time_t mtime;                 /* st_mtime, for which last_modified is the text */
    const char *last_modified;    /* IMF-fixdate of mtime */
} hs__static_fmeta_t;
/* The entry's metadata (valid while the entry is held), or NULL without an entry. */
const hs__static_fmeta_t *hs__static_fcache_meta(const void *ent);

/* The same version of a file: same inode, size, modification and change times (fcache.c). */
bool hs__static_same_version(const struct stat *a, const struct stat *b);

/* ---- compress.c ---- */
enum { HS_CODING_IDENTITY = 0, HS_CODING_BR, HS_CODING_ZSTD, HS_CODING_GZIP, HS_CODING_DEFLATE, HS_CODING__COUNT };
extern const char *const hs__static_coding_name[HS_CODING__COUNT]; /* "br", "gzip" … */
extern const char *const hs__static_coding_ext[HS_CODING__COUNT];  /* ".br", ".gz" … */
extern const char *const hs__static_coding_etag[HS_CODING__COUNT]; /* "br", "gz" … */

/* Compressed bytes shared between the per-worker cache and the requests sending them. */
typedef struct hs__static_blob_s {
    int refs;
    size_t len;
    char *data;
} hs__static_blob_t;
void hs__static_blob_release(hs__static_blob_t *b);
/* The file (fd, st) coded with `coding`, from the worker's cache or compressed now.
 * NULL on failure (the caller falls back to identity). The caller owns one reference. */
hs__static_blob_t *hs__static_compress(hs__static_ccache_t *c, int fd, const struct stat *st, int coding,
                                       uint64_t max);
/* Its parts. The cached copy of that version (a reference) or NULL; the file coded now, with
 * no cache involved (safe on a helper thread; NULL above `max` bytes or on failure); and
 * keeping a blob coded elsewhere in this worker's cache (which takes its own reference). */
hs__static_blob_t *hs__static_compress_cached(hs__static_ccache_t *c, const struct stat *st, int coding);
hs__static_blob_t *hs__static_code_file(int fd, const struct stat *st, int coding, uint64_t max);
void hs__static_compress_keep(hs__static_ccache_t *c, const struct stat *st, int coding, hs__static_blob_t *b);
/* One worker's cache of coded bytes. */
hs__static_ccache_t *hs__static_ccache_new(void);
void hs__static_ccache_free(hs__static_ccache_t *c);

/* Accept-Encoding negotiation (RFC 9110 §12.5.3). `avail` is a bit set of codings the server
 * can produce (1 << HS_CODING_*), `pre` those available precompressed (preferred on a tie).
 * Returns the chosen coding, HS_CODING_IDENTITY, or -1 when identity is excluded and nothing
 * else is acceptable (406). */
int hs__static_negotiate_encoding(const hs_req_t *req, unsigned avail, unsigned pre);
/* A-IM (RFC 3229 §10.5.3): HS_CODING_GZIP, HS_CODING_DEFLATE or HS_CODING_IDENTITY. */
int hs__static_negotiate_im(const hs_req_t *req);

/* ---- autoindex.c ---- */
/* Send an HTML listing of the directory open at dir_fd, which is `rel` below `root` ("" for the
 * root itself); `shown` is the decoded URL path. The root must outlive the request. */
int hs__static_autoindex(hs_req_t *req, const hs_fsroot_t *root, int dir_fd, const char *rel, const char *shown,
                         const char *cache_control);

#endif
