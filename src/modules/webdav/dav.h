/* statusd — the WebDAV module (RFC 4918 classes 1-3, RFC 5842 bindings, RFC 4331 quotas): what
 * its request files share. The library below it (fs.h, hdr.h, store.h, xml.h) knows nothing of
 * requests; these files turn requests into its calls and its statuses into responses.
 *
 *   module.c     settings (dav.*), their check, the stores opened at start-up, the content
 *                handler: the path mapped to a key, the method dispatched; OPTIONS, GET and HEAD
 *                (through the static origin, hs/static.h); responses shared by the methods
 *   job.c        work on helper threads (hs_req_offload) with 102 Processing meanwhile
 *   m_put.c      PUT, streamed into a temporary file
 *   m_tree.c     MKCOL, DELETE, COPY, MOVE
 *   m_props.c    PROPFIND, PROPPATCH
 *   m_lock.c     LOCK, UNLOCK
 *   m_bind.c     BIND, UNBIND, REBIND
 *
 * Every method, in the order RFC 4918 and the litmus suite expect: the path mapped below the
 * mount to a key (400/404 for paths no file can have), the method's own header fields (400), the
 * If header evaluated against the tree (412), then for a method that changes the tree the lock
 * check (423 with DAV:lock-token-submitted), then the work. */
#ifndef HS_DAV_MODULE_H
#define HS_DAV_MODULE_H

#include "fs.h"

#include "hs/http.h"

/* One tree served over WebDAV: made by the settings check of a path that names dav.root (or the
 * flat configuration's "/" with --dav), which creates nothing; its database opened by the
 * module's init (as root, before privileges are dropped); released with the settings. Shared by
 * every worker and helper thread (hs__dav_fs_t is). */
typedef struct hs__dav_tree_s hs__dav_tree_t;
struct hs__dav_tree_s {
    hs__dav_tree_t *next; /* the module's list, for init */
    hs_fsroot_t root;
    hs__dav_fs_t fs;
    char *mount;      /* the decoded URL path of the tree ("/", "/files"): fs.mount */
    char *db_path;    /* where its SQLite database is */
    hs__dav_store_t *store;
};

/* The module's settings (dav.* directives), one struct per path. */
typedef struct hs__dav_conf_s {
    char *root;            /* dav.root: naming it makes the module a path's handler */
    bool flat;             /* dav (--dav): the flat configuration's --root is writable */
    uint64_t quota;        /* dav.quota: bytes the tree may hold (0: the disk's room) */
    char *store;           /* dav.store: the database file ("": the state directory) */
    char *fsync;           /* dav.fsync: full, data or none */
    uint64_t processing;   /* dav.processing: ms between 102 Processing interim responses */
    int processing_max;    /* dav.processing_max: at most this many per request */
    int max_nodes;         /* dav.max_nodes: resources a Depth: infinity PROPFIND may list */
    uint64_t lock_timeout; /* dav.lock_timeout: ms a lock lasts when the client names none */
    uint64_t lock_max;     /* dav.lock_max: the longest lock granted (ms; Timeout: Infinite) */
    uint64_t gone;         /* dav.gone: ms a deleted resource answers 410 (0: never) */
    hs__dav_tree_t *tree;  /* made by the check for a path this module serves; else NULL */
} hs__dav_conf_t;

extern hs_module_t hs_module_webdav;

/* ---- one request (its state in the module's request slot) ---- */
typedef struct hs__dav_job_s hs__dav_job_t;
typedef struct hs__dav_req_s hs__dav_req_t;
struct hs__dav_req_s {
    hs_req_t *req;
    const hs__dav_conf_t *c;
    hs__dav_tree_t *t;
    hs__dav_fs_t *fs;
    const char *rel; /* the key of the request URI ("" the root; "a/b") */
    bool slash;      /* the path was written with a trailing slash */
    bool exists;     /* something is at rel (st is its stat) */
    struct stat st;
    hs__dav_if_t ifh; /* the If header (n == 0 without one) */
    bool if_subtree;  /* evaluate it for a request on the whole subtree (DELETE) */
    hs__dav_origin_t origin;
    int64_t now; /* wall-clock seconds when the request started (locks expire by it) */

    /* a request body read as XML (hs__dav_read_xml) */
    hs__dav_xml_t *xml;
    void (*on_xml)(hs__dav_req_t *d, const hs__dav_xnode_t *root);
    /* PUT */
    hs__dav_put_t *put;
    bool put_exclusive;
    /* work on a helper thread (job.c) */
    hs__dav_job_t *job;
    int interims; /* 102s sent */
};

/* ---- shared by the method files (module.c) ---- */

/* Answer status with a registry error page explaining detail (503 with Retry-After). HS_OK. */
int hs__dav_fail(hs__dav_req_t *d, int status, const char *detail);
/* Answer status with the XML body in b (application/xml), which the request now owns (freed when
 * it ends). HS_OK. */
int hs__dav_send_xml(hs__dav_req_t *d, int status, hs_buf_t *b);
/* 423 Locked with <D:lock-token-submitted> naming the lock root (RFC 4918 §9.10.6 / §12, the
 * precondition of every method that changes a locked resource). HS_OK. */
int hs__dav_locked(hs__dav_req_t *d, hs_iovec_t href);
/* A DAV:error body with one condition (RFC 4918 §16) and status. HS_OK. */
int hs__dav_condition(hs__dav_req_t *d, int status, const char *condition, const hs_iovec_t *hrefs, size_t n);
/* The If check and, for a change, the lock check, answering 412/423/500/503 itself: true when
 * the request may go on. depth and membership as for hs__dav_locks_check; lock_rel NULL: no lock
 * check. */
bool hs__dav_allowed(hs__dav_req_t *d, const char *lock_rel, int depth, bool membership);
/* The lock check alone for another key (a destination), answering 423 itself: true when fine. */
bool hs__dav_unlocked(hs__dav_req_t *d, const char *rel, int depth, bool membership);
/* Location of a new resource (RFC 9110 §10.2.2), for 201. */
void hs__dav_location(hs__dav_req_t *d, const char *rel, bool collection);
/* Read the request body as XML, then call on_xml with its document element (NULL: no body).
 * A body that is not XML (a Content-Type other than application/xml or text/xml) is 415, a
 * malformed one 400, one over the limits 413 — answered here. Returns HS_AGAIN (or HS_OK when
 * answered at once). */
int hs__dav_read_xml(hs__dav_req_t *d, void (*on_xml)(hs__dav_req_t *d, const hs__dav_xnode_t *root));
/* The key of a decoded absolute path of this server (a Destination, a DAV:href), in the request's
 * arena: 0 with *rel, 502 when the path lies outside this tree (RFC 4918 §9.8.5: "another URL
 * namespace"), 403 for a name the server keeps for itself. */
int hs__dav_key(hs__dav_req_t *d, hs_iovec_t path, const char **rel, const char **detail);
/* Does the client understand bindings (RFC 5842 §8.2: "DAV: bind" in the request)? */
bool hs__dav_bind_aware(const hs__dav_req_t *d);
/* The status of a store failure (-EBUSY 503, -ENOSPC 507, else 500) with a detail. */
int hs__dav_store_status(int r, const char **detail);

/* ---- work on helper threads with 102 Processing meanwhile (job.c) ----
 * A job runs `work` on a helper thread (never touching the request), then `done` on the worker
 * with the request (NULL when it ended meanwhile: only release then). While it runs, the
 * request's timer sends 102 Processing every dav.processing, at most dav.processing_max times
 * (RFC 2518 §10.1: the server is still working, the client should wait). The job's arena and
 * multistatus buffer belong to it; `report` appends a member's failure to the multistatus for a
 * 207 (RFC 4918 §9.6.1, §9.8.8). */
struct hs__dav_job_s {
    hs__dav_fs_t *fs;
    void (*work)(hs__dav_job_t *j);
    void (*done)(hs__dav_req_t *d, hs__dav_job_t *j);
    hs_arena_t arena;
    /* inputs */
    char *src, *dst;
    int depth;
    bool overwrite, bind_aware;
    hs__dav_propfind_t pf;
    size_t max_nodes;
    int64_t now;
    /* outputs */
    int status;
    const char *detail;
    bool created;
    bool store_refused; /* the lock store refused an operation of the work (store:unavailable) */
    hs_buf_t body; /* a multistatus under way */
    hs__dav_ms_t ms;
    size_t nresp;
    hs__dav_put_t *put; /* m_put.c: the upload to commit */
    struct stat st;
};
hs__dav_job_t *hs__dav_job_new(hs__dav_req_t *d, void (*work)(hs__dav_job_t *),
                               void (*done)(hs__dav_req_t *, hs__dav_job_t *));
/* Run it (on a helper when one is free, else in place). Returns HS_AGAIN; done answers. */
int hs__dav_job_run(hs__dav_req_t *d, hs__dav_job_t *j);
void hs__dav_job_free(hs__dav_job_t *j);
/* A report callback (hs__dav_report_cb) appending to the job's multistatus. */
void hs__dav_job_report(void *ctx, const char *rel, int status, const char *detail);

/* ---- the methods (each returns as a content handler does) ---- */
int hs__dav_m_put(hs__dav_req_t *d);
int hs__dav_m_mkcol(hs__dav_req_t *d);
int hs__dav_m_delete(hs__dav_req_t *d);
int hs__dav_m_copymove(hs__dav_req_t *d, bool move);
int hs__dav_m_propfind(hs__dav_req_t *d);
int hs__dav_m_proppatch(hs__dav_req_t *d);
int hs__dav_m_lock(hs__dav_req_t *d);
int hs__dav_m_unlock(hs__dav_req_t *d);
int hs__dav_m_bind(hs__dav_req_t *d, int kind); /* HS__DAV_BIND, HS__DAV_REBIND, HS__DAV_UNBIND */

#endif
