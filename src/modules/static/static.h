/* statusd — static origin: declarations shared by the files of src/modules/static/.
 *
 *   static.c       the content handler: methods, directories, representation selection, sending
 *   map.c          request path → file below the root (decoding, dot segments, symlink policy)
 *   mime.c         Content-Type from /etc/mime.types (or a built-in table)
 *   compress.c     Accept-Encoding / A-IM negotiation, precompressed files, on-the-fly coding
 *                  with a per-worker cache
 *   autoindex.c    HTML directory listings
 *   negotiate.c    content negotiation over variants (negotiate: true): sibling files and type
 *                  maps, 300 / 406 / 506, the per-worker caches of directory names and variants
 *   typemap.c      the type-map (NAME.var) parser
 */
#ifndef HS_STATIC_MODULE_H
#define HS_STATIC_MODULE_H

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

/* ---- fcache.c: stamps ----
 * Freshness without a stat for what is derived from a directory's names (negotiate.c), by the
 * open-file cache's rule: fresh within the wake-up it was checked in, and afterwards while no
 * file-change notification arrived (at most FC_RECHECK_MS, a second). */
typedef struct hs__static_stamp_s {
    uint64_t epoch, acc, checked_ms, gen;
    uint32_t inst;
} hs__static_stamp_t;
/* Watch `dir` (below root; "" = the root) and every directory above it, and record now into *s.
 * Call it before the stat that validates what was derived, so that a change after the stat is
 * a notification. */
void hs__static_fcache_stamp(hs__static_fcache_t *fc, const hs_fsroot_t *root, const char *dir, hs__static_stamp_t *s);
/* Can nothing have changed in the directory since *s was recorded? */
bool hs__static_fcache_stamp_fresh(hs__static_fcache_t *fc, const hs__static_stamp_t *s);

/* ---- mime.c ---- */
/* The type of a known extension (without the dot, any case): true with *out, false when
 * /etc/mime.types (or the built-in table) does not know it. */
bool hs__static_mime_ext(const char *ext, size_t n, hs__static_type_t *out);

/* ---- typemap.c: type maps (NAME.var, Apache's format; the grammar is described there) ---- */
#define HS_TYPEMAP_MAX_SIZE (64 * 1024)            /* larger maps are refused before reading */
#define HS_TYPEMAP_MAX_LINE 1024                   /* bytes in a line */
#define HS_TYPEMAP_MAX_ENTRIES HS_NEG_MAX_VARIANTS /* records (variants) in one map */
typedef struct hs__typemap_entry_s {
    hs_iovec_t uri;         /* as written: a relative reference, undecoded */
    hs_iovec_t type;        /* Content-Type without qs (arena); empty: from the URI's extension */
    hs_iovec_t language;    /* Content-Language as written (validated tags); empty: none */
    hs_iovec_t description; /* empty: none */
    int coding;             /* HS_CODING_* of Content-Encoding; HS_CODING_IDENTITY without one */
    int qs;                 /* 0..1000; 1000 without one */
    size_t line;            /* of the record's URI */
} hs__typemap_entry_t;
typedef struct hs__typemap_s {
    hs__typemap_entry_t e[HS_TYPEMAP_MAX_ENTRIES];
    size_t n;
} hs__typemap_t;
/* Parse text[0..len) into *m. Values are slices of text (which must outlive *m) or arena
 * copies. `self` is the name of the negotiated resource (the map's name without ".var"): a
 * record naming only it (or the map) is skipped; a NULL base skips nothing. HS_OK, or HS_ERROR
 * with *err_line (0: the whole map) and *err, a static message; m->n is then 0. */
int hs__typemap_parse(hs_arena_t *a, const char *text, size_t len, hs_iovec_t self, hs__typemap_t *m,
                      size_t *err_line, const char **err);
/* A language tag, loosely per RFC 5646 §2.1: subtags of 1-8 letters or digits joined by '-', the
 * first of letters only. */
bool hs__static_language_tag(hs_iovec_t t);
/* A content coding by name (x-gzip is gzip): HS_CODING_*, or -1 for one the server does not know. */
int hs__static_coding_of(hs_iovec_t t);

/* ---- negotiate.c: content negotiation over variants (RFC 9110 §12) ----
 *
 * With `negotiate: true` on a path, a GET or HEAD for a name that is no file (page, photo) is
 * answered from its variants: sibling files whose names add a type extension and/or a language
 * tag (page.en.html, page.html.fr, photo.webp), or the records of a type map NAME.var (a request
 * for NAME.var itself is negotiated too, as with Apache's type-map handler). Settings belong to
 * their own owner, hs_module_negotiate (directives negotiate, negotiate.on_tie,
 * negotiate.list_query), so they exist on every path whatever its handler.
 *
 * The entry point serves any module that serves files from an hs_fsroot_t (the static origin,
 * WebDAV's GET): call it when the requested file is missing (-404) or is a type map (NAME.var),
 * or before opening it at all when hs__static_negotiated_known says the name was negotiated
 * lately (it answers correctly in every case: calling it first costs a listing lookup for every
 * plain file); then serve what it chose exactly as the file itself would be served, adding
 * hs__static_chosen_headers to every response. */
typedef struct hs__static_chosen_s {
    int fd;                 /* the variant's file, open; the caller owns it with ent: */
    void *ent;              /* release both with hs__static_fcache_release when done */
    struct stat st;         /* its stat */
    const char *rel;        /* the variant below the root (request arena) */
    hs__static_type_t type; /* the Content-Type to send (from the type map or the extension) */
    const char *language;   /* Content-Language, or NULL */
    int coding;             /* the coding the file is in (a type map's Content-Encoding), else identity */
    const char *vary;       /* the dimensions that took part, for Vary: static text */
    const char *vary_ae;    /* the same with Accept-Encoding, for when the caller also chose a coding */
    hs_iovec_t location;    /* Content-Location: the variant's own path (request arena) */
} hs__static_chosen_t;
enum {
    HS__NEG_CHOSEN = 1, /* a variant was chosen: *out */
    HS__NEG_METHOD = 2, /* a negotiable resource, but the method is not GET or HEAD: answer it as a file */
};
/* Negotiate `rel` (the request's file below root, decoded; not a directory path) for req, with
 * the worker's open-file cache `fc` (NULL: no cache, a stat per request instead). Returns
 * HS_DECLINED (negotiation is off for the path, or `rel` names an existing file other than a
 * type map, or has no variants: carry on without negotiation), HS_OK (answered: 300, 406, 506,
 * or an error such as 500 for a broken type map; return HS_OK from the handler),
 * HS__NEG_CHOSEN or HS__NEG_METHOD. */
int hs__static_negotiate(hs_req_t *req, const hs_fsroot_t *root, hs__static_fcache_t *fc, const char *rel,
                         hs__static_chosen_t *out);
/* The chosen variant's fields: Vary (vary_ae when `coding_chosen`: the caller negotiated a
 * content coding too) on every response; Content-Location and Content-Language as well when
 * `representation` (200, 206, 226, 304 — RFC 9110 §15.4.5: a 304 carries what the 200 would). */
void hs__static_chosen_headers(hs_req_t *req, const hs__static_chosen_t *c, bool coding_chosen, bool representation);
/* Was rel negotiated lately on this worker (a variant set is cached for it)? A hint only, with
 * no freshness check: a cheap way to skip the failed open of a name that is no file. */
bool hs__static_negotiated_known(const hs_req_t *req, const hs_fsroot_t *root, const char *rel);
/* Is negotiation on for the request's path? (cheap: one settings lookup) */
bool hs__static_negotiating(const hs_req_t *req);
/* Would a GET of rel be answered from its variants: no file of that name, but sibling variants
 * or a type map (rel ends in .var)? Decided from the directory listing; false without the
 * worker's negotiation state. Does not look at the path's negotiate setting. */
bool hs__static_negotiable(const hs_req_t *req, const hs_fsroot_t *root, hs__static_fcache_t *fc, const char *rel);
/* Is `name` a variant of `base` by its name (both file names in one directory): base "." then a
 * type extension and/or a language tag whose first subtag has two letters (page.en.html,
 * page.html.en, page.fr-CA.html, photo.webp; index.html.en when the base has a type)? Names
 * ending in a coding (.gz .br .zst: precompressed siblings of a variant) or .var are not. True
 * with *type and *lang (a slice of name; empty: none). */
bool hs__static_variant_name(const char *base, size_t blen, const char *name, size_t nlen, hs__static_type_t *type,
                             hs_iovec_t *lang);
/* The static module's open-file cache of the request's worker, for other modules serving files. */
hs__static_fcache_t *hs__static_worker_fcache(const hs_req_t *req);
extern hs_module_t hs_module_negotiate;

#endif
