/* statusd — policy module internals: password files and hashes, the RateLimit fields, redirect
 * templates. The rules themselves (access/rewrite phase handlers, directives) are wired on top of
 * these when the module API of Engine v2 lands; everything here is library code with no request
 * in sight, so it can be unit-tested and fuzzed on its own.
 *
 * Generic pieces live in the engine: CIDR blocks and ordered rules (hs/cidr.h), the client
 * behind trusted proxies (hs/forwarded.h), GCRA, budgets and their stores (hs/ratelimit.h),
 * Basic credentials (hs/basic.h). */
#ifndef HS_MODULES_POLICY_H
#define HS_MODULES_POLICY_H

#include "hs/basic.h"
#include "hs/ratelimit.h"

/* ==== Password hashes (pwhash.c) ==========================================================
 * Every format Debian's htpasswd (apache2-utils 2.4) writes, and the libcrypt ones it reads:
 *   $2y$ $2a$ $2b$  bcrypt                (htpasswd -B [-C cost])     libcrypt
 *   $5$             SHA-256-crypt         (htpasswd -2 [-r rounds])   libcrypt
 *   $6$             SHA-512-crypt         (htpasswd -5 [-r rounds])   libcrypt
 *   $y$             yescrypt              (mkpasswd, passwd)          libcrypt
 *   $1$             MD5-crypt (glibc)     (openssl passwd -1)         libcrypt
 *   13 characters   traditional DES crypt (htpasswd -d)               libcrypt
 *   $apr1$          Apache MD5            (htpasswd -m, the default)  here, on OpenSSL's MD5
 *   {SHA}           base64 SHA-1, unsalted (htpasswd -s)              OpenSSL
 *   anything else   plaintext (htpasswd -p) — refused unless allowed: Apache itself only accepts
 *                   it on Windows and NetWare. Even then, a 13-character password made only of
 *                   ./0-9A-Za-z reads as a DES hash (as in Apache: the formats cannot be told
 *                   apart). */
enum {
    HS__PW_BCRYPT = 1,
    HS__PW_SHA256,
    HS__PW_SHA512,
    HS__PW_YESCRYPT,
    HS__PW_MD5CRYPT,
    HS__PW_DES,
    HS__PW_APR1,
    HS__PW_SHA1,
    HS__PW_PLAIN,
};
#define HS__PW_BCRYPT_COST_MAX 17  /* what htpasswd -C accepts; a cost-17 check takes ~10 s */
#define HS__PW_ROUNDS_MAX 10000000 /* SHA-crypt rounds= (htpasswd -r); default 5000 */
#define HS__PW_HASH_MAX 512        /* the longest hash text read */
#define HS__PW_PASSWORD_MAX 1024   /* the longest password verified (bcrypt reads 72 bytes) */
/* The scheme of a stored hash, after checking its syntax (and, for the libcrypt ones, that this
 * system's libcrypt can verify it: crypt_checksalt). 0 with *err set when unusable: unknown and
 * plaintext not allowed, malformed, truncated, a bcrypt cost or a rounds= beyond the caps above.
 * Thread-safe. */
int hs__pw_scheme(hs_iovec_t hash, bool allow_plain, const char **err);
const char *hs__pw_scheme_name(int scheme);
/* Does `pw` match `hash` (whose scheme hs__pw_scheme gave)? The final comparison takes constant
 * time (CRYPTO_memcmp). Slow by design for the salted schemes (bcrypt cost 12: ~0.2 s): call it on
 * a helper thread, never on an event loop. Thread-safe; allocates a 32 KiB libcrypt work area
 * per call and wipes it. A password with a NUL byte or longer than HS__PW_PASSWORD_MAX matches
 * nothing. */
bool hs__pw_verify(int scheme, hs_iovec_t hash, hs_iovec_t pw);
/* Apache's MD5 ($apr1$, and with magic "$1$" the MD5-crypt it derives from) of pw with salt (at
 * most 8 characters are used) into out (NUL-terminated: magic, salt, '$', 22 characters; 40
 * bytes are enough). Exposed for tests. */
#define HS__PW_MD5_OUT 40
void hs__pw_md5crypt(const char *magic, hs_iovec_t pw, hs_iovec_t salt, char out[HS__PW_MD5_OUT]);

/* ==== htpasswd files (htpasswd.c) =========================================================
 * A file is loaded whole into a snapshot (sorted users, their hashes) that is never modified;
 * readers hold a reference, and a reload builds a new snapshot and swaps it in, so a check that is
 * running on a helper thread keeps the snapshot it started with. */
typedef struct hs__htpasswd_s hs__htpasswd_t;

typedef struct hs__htpasswd_opts_s { /* a zero field takes its default */
    size_t max_file;                 /* bytes; default 16 MiB */
    size_t max_line;                 /* bytes, without the newline; default 4096 */
    uint64_t check_interval_ms;      /* how often the file is stat'ed for a change; default 1000 */
    size_t cache_entries;            /* credential cache size, rounded up to a multiple of 4; default 1024 */
    uint64_t cache_ttl_ms;           /* how long a verdict is reused; default 60000 (wrong ones: a sixth) */
    bool allow_plain;                /* accept plaintext passwords (htpasswd -p) */
} hs__htpasswd_opts_t;

/* Load `path` (NULL opts: the defaults). HS_OK with *out set, or HS_ERROR with "PATH:LINE:
 * message" (or "PATH: message") in err. What is refused: an unreadable or non-regular file, one
 * over max_file, a line over max_line, a NUL byte, a line without ':', an empty user or one with
 * control characters or not UTF-8 or over 255 bytes, a hash hs__pw_scheme refuses, a user defined
 * twice (Apache would silently use the first). Comments ('#' first) and blank lines are skipped;
 * leading and trailing blanks and a CR before the LF are ignored; text after a second ':' is
 * ignored (as Apache does). An empty file is valid (nobody gets in). */
int hs__htpasswd_open(const char *path, const hs__htpasswd_opts_t *opts, hs__htpasswd_t **out, char *err,
                      size_t errlen);
void hs__htpasswd_free(hs__htpasswd_t *h); /* no check may be running on it */
size_t hs__htpasswd_count(hs__htpasswd_t *h);
/* Stat the file when check_interval_ms has passed since the last look (one thread looks, the
 * others go on at once), and when it changed (device, inode, size, mtime, ctime) load it again
 * and swap it in: checks started later use the new users, cached verdicts are dropped. Returns
 * HS_OK (nothing to do, or reloaded: *reloaded says which when not NULL), or HS_ERROR with err
 * when the new content is refused — the previous users stay in force, and the same broken
 * version is reported once. Any thread; the reload itself reads and parses the file (a worker
 * calling it pays for that, once per change). */
int hs__htpasswd_refresh(hs__htpasswd_t *h, uint64_t now_ms, bool *reloaded, char *err, size_t errlen);
/* Load the file again now, changed or not (SIGHUP). Same results. */
int hs__htpasswd_reload(hs__htpasswd_t *h, char *err, size_t errlen);

/* ---- Checking credentials ----
 * A verdict: */
enum {
    HS__AUTH_OK = 0,      /* the password matches */
    HS__AUTH_WRONG,       /* a known user, another password */
    HS__AUTH_UNKNOWN_USER /* no such user (answer as for WRONG: 401, never tell them apart) */
};
/* The quick part, for the event loop: the verdict for these credentials if it is cached
 * (HS_OK, *verdict set), else HS_AGAIN — the hash must be computed, off the loop. The cache key is
 * a keyed hash (HMAC-SHA-256 under a key drawn at start) of the whole field value, so the cache
 * holds no password and cannot be probed. cred must come from hs_basic_parse(field). Any thread. */
int hs__auth_cached(hs__htpasswd_t *h, hs_iovec_t field, uint64_t now_ms, int *verdict);

/* The slow part, as a job shaped for hs_req_offload(req, work, done, arg):
 *     hs__auth_job_t *job = hs__auth_job_new(h, field, &cred);
 *     if (hs_req_offload(req, hs__auth_job_run, on_done, job) != HS_OK)
 *         hs__auth_job_run(job), on_done(req, job);        (no helper: in place)
 *     return HS_AGAIN;
 *     static void on_done(hs_req_t *req, void *job) {
 *         int verdict = hs__auth_job_finish(job, now_ms);  (always: it frees the job)
 *         if (req) … answer, or hs_req_resume(req);
 *     }
 * new (any thread) copies what it needs — the field's MAC, the user, the password — and holds
 * the current snapshot; run (any thread, no lock held while hashing) verifies, against a decoy
 * entry when the user is unknown so that the time taken does not tell; finish (any thread) caches
 * the verdict unless the file changed meanwhile, wipes the password, frees the job and returns the
 * verdict. */
typedef struct hs__auth_job_s hs__auth_job_t;
hs__auth_job_t *hs__auth_job_new(hs__htpasswd_t *h, hs_iovec_t field, const hs_basic_cred_t *cred);
void hs__auth_job_run(void *job);
int hs__auth_job_finish(hs__auth_job_t *job, uint64_t now_ms);
/* Both parts in place (tests, `statusd -t` checks, a single-threaded caller). */
int hs__auth_verify(hs__htpasswd_t *h, hs_iovec_t field, const hs_basic_cred_t *cred, uint64_t now_ms);

typedef struct hs__auth_stats_s {
    uint64_t hits, misses, hashes; /* cache hits, misses; hashes computed */
} hs__auth_stats_t;
void hs__auth_stats(hs__htpasswd_t *h, hs__auth_stats_t *out);

/* ==== The IETF RateLimit fields (limit.c) =================================================
 * draft-ietf-httpapi-ratelimit-headers-10 §3 (RateLimit-Policy) and §4 (RateLimit); see limit.c
 * for what each parameter says. Items are written into out (n bytes, NUL-terminated); each
 * returns the length, or 0 when it does not fit (HS__POLICY_ITEM_MAX always does). */
#define HS_POLICY_NAME_MAX 64
#define HS__POLICY_ITEM_MAX (HS_POLICY_NAME_MAX + 80)
/* A policy name: 1..64 of A-Z a-z 0-9 . _ - (a String item needing no escapes). */
bool hs__policy_name_ok(const char *name);
/* "name";q=COUNT;w=PERIOD_S */
size_t hs__policy_rate_policy_item(char *out, size_t n, const hs_gcra_t *g);
/* "name";r=REMAINING;t=SECONDS — t is the Retry-After of a refusal, else the wait until r
 * grows; left out when r is at capacity. */
size_t hs__policy_rate_item(char *out, size_t n, const hs_gcra_t *g, const hs_limit_result_t *r);
/* Should this response carry RateLimit? Refusals, and a quarter of the capacity or less left. */
bool hs__policy_rate_near(const hs_gcra_t *g, const hs_limit_result_t *r);
/* "name";q=BYTES;qu="content-bytes";w=PERIOD_S and "name";r=BYTES_LEFT;t=SECONDS_TO_PERIOD_END */
size_t hs__policy_budget_policy_item(char *out, size_t n, const hs_budget_t *b);
size_t hs__policy_budget_item(char *out, size_t n, const hs_budget_t *b, const hs_budget_result_t *r);

/* ==== Redirect templates (redirect.c) =====================================================
 * `redirect: {to: TEMPLATE, status: 301|302|303|307|308}`. A template is a URI reference (RFC
 * 3986 §4.1: absolute, network-path, absolute-path or relative) with variables, written $name or
 * ${name}; "$$" is a '$':
 *   $scheme  the request's scheme ("http", "https"); only at the very start ("$scheme://…") or in
 *            the query
 *   $host    the Host field as received (in the authority it must be a valid host[:port], else
 *            the expansion fails; elsewhere it is %-encoded)
 *   $path    the request path in its normal form (hs_path_normalize, URI form)
 *   $rest    the part of $path after the rule's prefix ("/old" on "/old/a/b" → "/a/b")
 *   $query   the query as received, without '?'; "?$query" or "&$query" ending the query part
 *            vanishes with an empty query
 * Values keep what their URI component allows and their valid %XX escapes, everything else is
 * %-encoded for that component (see redirect.c). Literal text must already be a valid URI
 * reference: a space, '"', '<', '\', a byte >= 0x80 or a '%' not followed by two hex digits is a
 * compile error, reported with its column. */
typedef struct hs__redirect_s hs__redirect_t;
#define HS__REDIRECT_MAX 8192 /* longest template and longest expansion */
/* Compile a template (NUL-terminated). HS_OK with *out, or HS_ERROR with a message in err. */
int hs__redirect_compile(const char *tmpl, hs__redirect_t **out, char *err, size_t errlen);
void hs__redirect_free(hs__redirect_t *r);

typedef struct hs__redirect_req_s {
    hs_iovec_t scheme; /* "http" or "https" */
    hs_iovec_t host;   /* the Host field value */
    hs_iovec_t path;   /* normal form */
    hs_iovec_t query;  /* without '?'; a NULL base when the target had none */
    hs_iovec_t prefix; /* the rule's path prefix (normal form), for $rest */
} hs__redirect_req_t;
/* The Location for a request into the arena (NUL-terminated). HS_OK, or HS_ERROR with *detail
 * when $host cannot stand in an authority or the result would pass HS__REDIRECT_MAX (the module
 * answers 500 and logs it: a configuration that cannot serve this request). Read-only on r: any
 * thread. */
int hs__redirect_expand(const hs__redirect_t *r, const hs__redirect_req_t *req, hs_arena_t *a, hs_iovec_t *out,
                        const char **detail);

/* Where a redirect rule applies, for the loop check. */
typedef struct hs__redirect_scope_s {
    const char *const *hosts; /* the names of the rule's host (NULL-terminated); NULL: a catch-all
                                 host, which any name may reach */
    bool http, https;         /* the schemes it serves */
    hs_iovec_t prefix;        /* its path prefix, normal form */
    /* Optional: does a request for (scheme, host, path) come to this very rule? The configuration
     * knows (another host, a longer prefix elsewhere); NULL: same scheme set, same host names,
     * path under the prefix. host is lowercase without a default port; path is in normal form. */
    bool (*reaches)(void *ctx, hs_iovec_t scheme, hs_iovec_t host, hs_iovec_t path);
    void *ctx;
} hs__redirect_scope_t;
/* Can some request under the scope be redirected to a target that the same rule redirects again
 * (a loop, for `statusd -t`)? HS_OK when no witness request does, HS_ERROR with an example in err
 * ("redirect loop: a request for http://example.com/old/a is sent to /old/a, which this rule
 * redirects again"). */
int hs__redirect_check_loop(const hs__redirect_t *r, const hs__redirect_scope_t *scope, char *err, size_t errlen);

#endif
