/* statusd — validators and conditional requests (RFC 9110 §8.8, §13), implemented in
 * src/http/conditional.c, for any resource: a file, a generated document, a WebDAV resource that
 * does not exist yet.
 *
 * Nothing here allocates except the *_arena formatter; results are slices of the request's
 * fields or of the caller's validators, valid while those are. */
#ifndef HS_CONDITIONAL_H
#define HS_CONDITIONAL_H

#include "hs/http.h"

#include <sys/stat.h>
#include <time.h>

/* ---- Entity tags (RFC 9110 §8.8.3) ----
 *     entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE,  etagc = %x21 / %x23-7E / obs-text */
typedef struct hs_etag_s {
    hs_iovec_t opaque; /* the opaque-tag, quotes included */
    bool weak;
} hs_etag_t;
/* v is exactly one entity-tag: true with *tag. */
bool hs_etag_parse(hs_iovec_t v, hs_etag_t *tag);
/* The next entity-tag of a comma list (a comma inside a tag is part of it): 1 with *tag, 0 at
 * the end, -1 when the list is malformed. *pos starts at 0. */
int hs_etag_next(hs_iovec_t list, size_t *pos, hs_etag_t *tag);
/* §8.8.3.2: strong comparison — both strong and the same opaque-tag; weak comparison — the same
 * opaque-tag, weak or not. */
bool hs_etag_strong_eq(hs_etag_t a, hs_etag_t b);
bool hs_etag_weak_eq(hs_etag_t a, hs_etag_t b);

/* A strong tag for a version of a file (quoted): inode, size and modification time to the
 * nanosecond, in hex, then "-suffix" when given (a coded variant is other bytes, so another
 * tag). out needs HS_ETAG_STAT_MAX + strlen(suffix) + 1 bytes; returns the length (no NUL). */
#define HS_ETAG_STAT_MAX (3 * 16 + 5) /* without a suffix */
size_t hs_etag_from_stat(char *out, const struct stat *st, const char *suffix);
hs_iovec_t hs_etag_from_stat_arena(hs_arena_t *a, const struct stat *st, const char *suffix);

/* ---- Preconditions (RFC 9110 §13.2.2) ----
 * What the server knows of the target resource's selected representation. */
typedef struct hs_validators_s {
    bool exists;            /* it has a current representation (false: a PUT may create it) */
    bool has_last_modified; /* last_modified is meaningful */
    hs_iovec_t etag;        /* its entity-tag as the ETag field would carry it; NULL base: none */
    time_t last_modified;
} hs_validators_t;

/* Evaluate If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order of
 * RFC 9110 §13.2.2 (steps 1-4). Returns 0 (go on: perform the method; step 5, If-Range, belongs
 * to Range handling), 304 (GET/HEAD not modified) or 412 (Precondition Failed). "If-Match: *" on
 * a resource that does not exist is 412; "If-None-Match: *" on one that does is 304 for GET/HEAD
 * and 412 otherwise (a PUT that must not overwrite). */
int hs_preconditions(const hs_req_t *req, const hs_validators_t *v);

/* If-Range (RFC 9110 §13.1.5): true when absent, or when its validator matches the selected
 * representation — an entity-tag by strong comparison, a date by exact equality with
 * Last-Modified. false also when it is repeated, a list, or malformed (the Range is ignored). */
bool hs_if_range(const hs_req_t *req, const hs_validators_t *v);

/* How many field lines the request has with this well-known token (HS_HDR_*). */
int hs_req_field_count(const hs_req_t *req, int token);

#endif
