/* statusd — WebDAV request header fields (RFC 4918 §10), implemented in hdr.c: If (tagged and
 * untagged lists, state tokens, entity tags, Not) with its evaluation, Lock-Token, Timeout,
 * Depth, Overwrite and Destination; and the mapping of a request path below a mount point.
 *
 * Every parser takes a field value as received (a NULL base: the field is absent), reads only
 * it, and returns 0 or a status — 400 for a malformed value — with *detail a static text. Results
 * are slices of the value or arena memory, valid while both are. Where a field may not be
 * repeated (Depth, Overwrite, Destination, Lock-Token), the caller checks the count
 * (hs_req_field_count) and answers 400 for more than one. */
#ifndef HS_DAV_HDR_H
#define HS_DAV_HDR_H

#include "hs/conditional.h"

/* ---- If (RFC 4918 §10.4) ----
 *     If = ( 1*No-tag-list | 1*Tagged-list )
 *     Tagged-list = Resource-Tag 1*List          Resource-Tag = "<" Simple-ref ">"
 *     List = "(" 1*Condition ")"                 Condition = ["Not"] (State-token | "[" entity-tag "]")
 * Several field lines are one value when joined with a space (the field is not a comma list). */
typedef struct hs__dav_if_cond_s {
    bool not ;        /* "Not" before it */
    bool is_etag;     /* an entity tag; else a state token */
    hs_iovec_t token; /* the state token's URI, without < > */
    hs_etag_t etag;   /* the entity tag */
} hs__dav_if_cond_t;

typedef struct hs__dav_if_list_s {
    /* The resource the list is about: NULL base for the request URI (a No-tag-list); else the
     * tag's path, percent-decoded and normalised (hs_path_normalize, HS_PATH_DECODE), a trailing
     * slash kept as written. */
    hs_iovec_t path;
    bool foreign; /* tagged with a URI of another scheme or authority: no resource here */
    hs__dav_if_cond_t *conds;
    size_t n;
} hs__dav_if_list_t;

typedef struct hs__dav_if_s {
    hs__dav_if_list_t *lists; /* in the order written; one entry per List */
    size_t n;
    bool tagged;
} hs__dav_if_t;

/* Where the request was sent, to resolve absolute URIs in Resource-Tags and Destination. */
typedef struct hs__dav_origin_s {
    hs_iovec_t scheme; /* "http" or "https" */
    hs_iovec_t host;   /* the Host field value: host [":" port] */
} hs__dav_origin_t;

/* Parse an If value. 0 with *out (n == 0 when the field is absent), or 400. */
int hs__dav_if_parse(hs_arena_t *a, hs_iovec_t value, const hs__dav_origin_t *origin, hs__dav_if_t *out,
                     const char **detail);

/* The state of one resource, as the caller knows it (RFC 4918 §10.4.4). An unmapped URL is a
 * resource that exists but has no etag and no lock: exists false, the rest empty. */
typedef struct hs__dav_if_state_s {
    bool exists;
    hs_iovec_t etag;          /* its current entity-tag, quoted; NULL base: none */
    const hs_iovec_t *tokens; /* the tokens of every lock whose scope includes it */
    size_t ntokens;
} hs__dav_if_state_t;
/* Fill *st for the list's resource (list->path NULL base: the request URI; list->foreign lists
 * are never passed). HS_OK, or a status (such as 500) that hs__dav_if_eval returns as it is. */
typedef int (*hs__dav_if_lookup_t)(void *ctx, const hs__dav_if_list_t *list, hs__dav_if_state_t *st);

/* RFC 4918 §10.4.3: 1 when the header holds (a list whose every condition holds — a state
 * token matching one of the resource's lock tokens exactly, an entity tag matching by the
 * strong comparison —, "Not" reversing one condition), 0 when it fails (the caller answers
 * 412), or the lookup's status. An absent header (h->n == 0) holds. */
int hs__dav_if_eval(const hs__dav_if_t *h, hs__dav_if_lookup_t lookup, void *ctx);

/* Does the header submit this lock token (RFC 4918 §10.4.1, §7.5)? A token is submitted when it
 * appears as a state token not preceded by "Not", in any list (litmus: "(<token>) (Not
 * <DAV:no-lock>)" submits it; "(<tokenx>) (Not <DAV:no-lock>)" holds but submits nothing of
 * use, so a locked resource answers 423). */
bool hs__dav_if_submits(const hs__dav_if_t *h, hs_iovec_t token);

/* ---- Lock-Token (RFC 4918 §10.5): Coded-URL = "<" absolute-URI ">" ---- */
int hs__dav_lock_token(hs_iovec_t value, hs_iovec_t *token, const char **detail);

/* ---- Timeout (RFC 4918 §10.7): 1#( "Second-" 1*DIGIT | "Infinite" ) ----
 * The first element understood, capped at max seconds ("Infinite" is max); dflt when the field
 * is absent or holds nothing understood (a timeout is the client's wish, never an error). */
uint32_t hs__dav_timeout(hs_iovec_t value, uint32_t dflt, uint32_t max);

/* ---- Depth (RFC 4918 §10.2): "0" | "1" | "infinity" ---- */
#define HS__DAV_DEPTH_INFINITY 0x7fffffff
/* *depth = 0, 1 or HS__DAV_DEPTH_INFINITY (dflt when absent); 400 for anything else. */
int hs__dav_depth(hs_iovec_t value, int dflt, int *depth, const char **detail);

/* ---- Overwrite (RFC 4918 §10.6): "T" | "F", T when absent ---- */
int hs__dav_overwrite(hs_iovec_t value, bool *overwrite, const char **detail);

/* ---- Destination (RFC 4918 §10.3): absolute-URI, or an absolute path ---- */
typedef struct hs__dav_dest_s {
    hs_iovec_t path;   /* percent-decoded, normalised, NUL-terminated in the arena ("/a/b/") */
    bool other_server; /* another scheme or authority: 502 (RFC 4918 §9.8.5) — path is then empty */
} hs__dav_dest_t;
/* 0 with *out, or 400 (absent, not a URI, a fragment, a bad escape, an encoded NUL) or 404 (an
 * encoded '/', which no file name can hold). */
int hs__dav_destination(hs_arena_t *a, hs_iovec_t value, const hs__dav_origin_t *origin, hs__dav_dest_t *out,
                        const char **detail);

/* ---- Paths below a mount point ----
 * A decoded, normalised request path relative to the decoded mount prefix: *rel is "" for the
 * mount point itself, else "a/b" (no leading or trailing slash) — the form hs_fsroot_open, the
 * store and the file operations take. false when path is not below mount. */
bool hs__dav_path_rel(hs_iovec_t mount, hs_iovec_t path, hs_iovec_t *rel);

#endif
