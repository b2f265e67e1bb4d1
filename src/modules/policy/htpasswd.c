/* statusd — policy: htpasswd files, their reloads, and checking Basic credentials against them.
 *
 * Snapshots. A file is read once into a snapshot: a copy of its bytes with the users and hashes
 * cut out of it in place, sorted by user for a binary search. A snapshot never changes; it is
 * reference-counted, and the handle's pointer to the current one is swapped under a small mutex
 * when the file changes. A check takes a reference for as long as it runs — on a helper thread a
 * bcrypt check lasts hundreds of milliseconds — so a reload never pulls the users from under it.
 *
 * Noticing changes. The file is stat'ed at most once per check interval, by whichever thread
 * calls first after it (a compare-and-swap on the next check time elects one); device, inode,
 * size, mtime and ctime tell an edit in place and a replacement by rename(2) alike. A version
 * that does not parse is reported once and the previous users stay in force: a half-written
 * file must not lock everybody out.
 *
 * The cache. Hashing is slow on purpose, and a browser sends the same Authorization field with
 * every request, so recent verdicts are kept, keyed by HMAC-SHA-256 of the whole field value
 * under a key drawn at start (the cache holds no password, and knowing a cached key does not help
 * anyone forge a field with that MAC). Entries carry the snapshot generation they were computed
 * against: a reload makes them all stale at once. Wrong passwords are cached too, for a sixth of
 * the time, so that a client retrying the same wrong field does not cost a hash each time; such
 * entries never push out a live right one. The cache is small and set-associative (4 ways),
 * behind one mutex held for a few compares.
 *
 * Unknown users. A check for a user who is not in the file still computes a hash — against the
 * first entry's, with the verdict thrown away — so that the time a 401 takes does not tell which
 * user names exist. */
#define _GNU_SOURCE
#include "policy.h"

#include "hs/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define USER_MAX 255
#define MAC_LEN 16
#define WAYS 4

typedef struct entry_s {
    const char *user, *hash; /* NUL-terminated, inside the snapshot's copy of the file */
    uint16_t user_len, hash_len;
    uint8_t scheme;
    uint32_t line; /* for reports */
} entry_t;

typedef struct snap_s {
    _Atomic unsigned refs;
    uint64_t gen;
    entry_t *e;
    size_t n;
    char *text;
    struct stat st; /* of the file this was read from */
} snap_t;

typedef struct centry_s {
    unsigned char mac[MAC_LEN];
    uint64_t gen;
    uint64_t expires_ms; /* 0: free */
    uint8_t verdict;
} centry_t;

struct hs__htpasswd_s {
    char *path;
    hs__htpasswd_opts_t o;
    pthread_mutex_t mu; /* guards cur and the cache */
    snap_t *cur;
    uint64_t gen; /* of cur; read with mu held */
    _Atomic uint64_t next_check_ms;
    struct stat failed; /* the version that last failed to load (reported once) */
    bool have_failed;
    centry_t *cache;
    size_t nsets;
    _Atomic uint64_t hits, misses, hashes;
};

struct hs__auth_job_s {
    hs__htpasswd_t *h;
    snap_t *snap;
    unsigned char mac[MAC_LEN];
    char user[USER_MAX + 1];
    size_t user_len, pw_len;
    int verdict;
    char pw[HS__PW_PASSWORD_MAX + 1];
};

/* ---- snapshots ---- */

static void snap_release(snap_t *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        free(s->e);
        free(s->text);
        free(s);
    }
}

static snap_t *snap_acquire(hs__htpasswd_t *h)
{
    pthread_mutex_lock(&h->mu);
    snap_t *s = h->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&h->mu);
    return s;
}

static int entry_cmp(const void *pa, const void *pb)
{
    const entry_t *a = pa, *b = pb;
    int c = memcmp(a->user, b->user, HS_MIN(a->user_len, b->user_len));
    return c ? c : (int)a->user_len - (int)b->user_len;
}

static const entry_t *snap_find(const snap_t *s, const char *user, size_t len)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const entry_t *e = &s->e[mid];
        int c = memcmp(e->user, user, HS_MIN((size_t)e->user_len, len));
        if (c == 0)
            c = (int)e->user_len - (int)len;
        if (c == 0)
            return e;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int fail(char *err, size_t errlen, const char *path, size_t line, const char *fmt, ...) HS_FMT(5, 6);
static int fail(char *err, size_t errlen, const char *path, size_t line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line)
        snprintf(err, errlen, "%s:%zu: %s", path, line, msg);
    else
        snprintf(err, errlen, "%s: %s", path, msg);
    return HS_ERROR;
}

static bool has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Read the whole file within the size limit. */
static int read_file(const char *path, size_t max, char **text, size_t *len, struct stat *st, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail(err, errlen, path, 0, "cannot open: %s", strerror(errno));
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return fail(err, errlen, path, 0, "not a regular file");
    }
    if ((uint64_t)st->st_size > max) {
        close(fd);
        return fail(err, errlen, path, 0, "larger than %zu bytes", max);
    }
    size_t cap = (size_t)st->st_size + 1, n = 0;
    char *buf = hs_malloc(cap + 1);
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return fail(err, errlen, path, 0, "read: %s", strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap) { /* it grew while we read: take what the limit allows */
            if (cap > max) {
                free(buf);
                close(fd);
                return fail(err, errlen, path, 0, "larger than %zu bytes", max);
            }
            cap = HS_MIN(2 * cap, max + 1);
            buf = hs_realloc(buf, cap + 1);
        }
    }
    close(fd);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return HS_OK;
}

static int load(const char *path, const hs__htpasswd_opts_t *o, snap_t **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    if (read_file(path, o->max_file, &text, &len, &st, err, errlen) != HS_OK)
        return HS_ERROR;
    snap_t *s = hs_calloc(1, sizeof(*s));
    s->text = text;
    s->st = st;
    atomic_init(&s->refs, 1);
    size_t cap = 0, lineno = 0;
    for (size_t pos = 0; pos < len;) {
        lineno++;
        char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl != NULL);
        if (ll > o->max_line) {
            fail(err, errlen, path, lineno, "a line longer than %zu bytes", o->max_line);
            goto Error;
        }
        if (memchr(line, '\0', ll)) {
            fail(err, errlen, path, lineno, "a NUL byte");
            goto Error;
        }
        while (ll > 0 && blank(line[ll - 1]))
            ll--;
        while (ll > 0 && blank(*line))
            line++, ll--;
        if (ll == 0 || line[0] == '#')
            continue;
        char *colon = memchr(line, ':', ll);
        if (!colon) {
            fail(err, errlen, path, lineno, "expected user:hash");
            goto Error;
        }
        size_t ul = (size_t)(colon - line);
        char *hash = colon + 1, *end = memchr(hash, ':', ll - ul - 1);
        size_t hl = end ? (size_t)(end - hash) : ll - ul - 1;
        if (ul == 0) {
            fail(err, errlen, path, lineno, "an empty user name");
            goto Error;
        }
        if (ul > USER_MAX || has_ctl(line, ul) || !hs_utf8_valid(line, ul)) {
            fail(err, errlen, path, lineno, "a user name must be 1 to 255 bytes of UTF-8 without control characters");
            goto Error;
        }
        const char *why = NULL;
        int scheme = hs__pw_scheme(hs_iov(hash, hl), o->allow_plain, &why);
        if (!scheme) {
            fail(err, errlen, path, lineno, "user '%.*s': %s", (int)ul, line, why);
            goto Error;
        }
        if (s->n == cap) {
            cap = cap ? 2 * cap : 16;
            s->e = hs_realloc(s->e, cap * sizeof(entry_t));
        }
        line[ul] = '\0';
        hash[hl] = '\0'; /* over the newline, the ':' or blanks: inside the line, or the spare byte */
        s->e[s->n++] = (entry_t){line, hash, (uint16_t)ul, (uint16_t)hl, (uint8_t)scheme, (uint32_t)lineno};
    }
    if (s->n > 1) {
        /* sorted, duplicates are neighbours; their lines are found again only to report them */
        qsort(s->e, s->n, sizeof(entry_t), entry_cmp);
        for (size_t i = 1; i < s->n; i++)
            if (entry_cmp(&s->e[i - 1], &s->e[i]) == 0) {
                const entry_t *a = &s->e[i - 1], *d = &s->e[i];
                fail(err, errlen, path, HS_MAX(a->line, d->line), "user '%s' is already defined on line %u", d->user,
                     HS_MIN(a->line, d->line));
                goto Error;
            }
    }
    *out = s;
    return HS_OK;
Error:
    free(s->e);
    free(s->text);
    free(s);
    return HS_ERROR;
}

static bool same_version(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int hs__htpasswd_open(const char *path, const hs__htpasswd_opts_t *opts, hs__htpasswd_t **out, char *err, size_t errlen)
{
    hs__htpasswd_opts_t o = opts ? *opts : (hs__htpasswd_opts_t){0};
    if (!o.cache_entries)
        o.cache_entries = 1024;
    if (!o.check_interval_ms)
        o.check_interval_ms = 1000;
    if (!o.max_file)
        o.max_file = 16 << 20;
    if (!o.max_line)
        o.max_line = 4096;
    if (!o.cache_ttl_ms)
        o.cache_ttl_ms = 60000;
    snap_t *s;
    if (load(path, &o, &s, err, errlen) != HS_OK)
        return HS_ERROR;
    hs__htpasswd_t *h = hs_calloc(1, sizeof(*h));
    h->path = hs_strdup(path);
    h->o = o;
    pthread_mutex_init(&h->mu, NULL);
    s->gen = h->gen = 1;
    h->cur = s;
    if (o.cache_entries) {
        size_t sets = 1;
        while (sets * WAYS < o.cache_entries)
            sets <<= 1;
        h->nsets = sets;
        h->cache = hs_calloc(sets * WAYS, sizeof(centry_t));
    }
    *out = h;
    return HS_OK;
}

void hs__htpasswd_free(hs__htpasswd_t *h)
{
    if (!h)
        return;
    snap_release(h->cur);
    pthread_mutex_destroy(&h->mu);
    free(h->cache);
    free(h->path);
    free(h);
}

size_t hs__htpasswd_count(hs__htpasswd_t *h)
{
    snap_t *s = snap_acquire(h);
    size_t n = s->n;
    snap_release(s);
    return n;
}

/* Swap in a new snapshot (mu held by nobody): the old one goes when its last check ends. */
static void install(hs__htpasswd_t *h, snap_t *s)
{
    pthread_mutex_lock(&h->mu);
    snap_t *old = h->cur;
    s->gen = ++h->gen;
    h->cur = s;
    h->have_failed = false;
    pthread_mutex_unlock(&h->mu);
    snap_release(old);
}

static int reload_if(hs__htpasswd_t *h, bool force, bool *reloaded, char *err, size_t errlen)
{
    struct stat st;
    if (stat(h->path, &st) != 0) {
        int e = errno;
        pthread_mutex_lock(&h->mu);
        bool said = h->have_failed && h->failed.st_nlink == 0 && h->failed.st_ino == 0;
        memset(&h->failed, 0, sizeof(h->failed)); /* "gone", reported once */
        h->have_failed = true;
        pthread_mutex_unlock(&h->mu);
        if (said && !force)
            return HS_OK;
        return fail(err, errlen, h->path, 0, "cannot stat: %s (the users loaded before stay in force)", strerror(e));
    }
    pthread_mutex_lock(&h->mu);
    bool unchanged = same_version(&st, &h->cur->st);
    bool known_bad = h->have_failed && same_version(&st, &h->failed);
    pthread_mutex_unlock(&h->mu);
    if ((unchanged || known_bad) && !force)
        return HS_OK;
    snap_t *s;
    if (load(h->path, &h->o, &s, err, errlen) != HS_OK) {
        pthread_mutex_lock(&h->mu);
        h->failed = st;
        h->have_failed = true;
        pthread_mutex_unlock(&h->mu);
        return HS_ERROR;
    }
    install(h, s);
    if (reloaded)
        *reloaded = true;
    return HS_OK;
}

int hs__htpasswd_refresh(hs__htpasswd_t *h, uint64_t now_ms, bool *reloaded, char *err, size_t errlen)
{
    if (reloaded)
        *reloaded = false;
    uint64_t next = atomic_load_explicit(&h->next_check_ms, memory_order_relaxed);
    if (now_ms < next)
        return HS_OK;
    if (!atomic_compare_exchange_strong(&h->next_check_ms, &next, now_ms + h->o.check_interval_ms))
        return HS_OK; /* another thread is looking */
    return reload_if(h, false, reloaded, err, errlen);
}

int hs__htpasswd_reload(hs__htpasswd_t *h, char *err, size_t errlen)
{
    return reload_if(h, true, NULL, err, errlen);
}

/* ---- the credential cache ---- */

typedef struct mac_tls_s {
    EVP_MAC_CTX *ctx;
} mac_tls_t;

static void mac_tls_destroy(void *p) /* thread exit */
{
    EVP_MAC_CTX_free(((mac_tls_t *)p)->ctx);
    free(p);
}

static hs_tls_t mac_tls = HS_TLS(sizeof(mac_tls_t), mac_tls_destroy);
static unsigned char mac_key[32];
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;

static void mac_key_init(void)
{
    hs_random(mac_key, sizeof(mac_key));
}

/* HMAC-SHA-256 of the field, truncated, with a context kept per thread (set up once: the
 * one-shot HMAC() of OpenSSL 3 looks its algorithm up on every call, five times slower). */
static void field_mac(hs_iovec_t field, unsigned char out[MAC_LEN])
{
    pthread_once(&mac_once, mac_key_init);
    mac_tls_t *t = hs_tls_get(&mac_tls);
    unsigned char md[32];
    size_t mdlen = 0;
    if (!t->ctx) {
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        t->ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac);
        OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_END};
        if (!t->ctx || !EVP_MAC_init(t->ctx, mac_key, sizeof(mac_key), p)) {
            hs_log_error("htpasswd: HMAC-SHA-256 is not available from OpenSSL");
            abort();
        }
    }
    if (!EVP_MAC_init(t->ctx, NULL, 0, NULL) || !EVP_MAC_update(t->ctx, (const unsigned char *)field.base, field.len) ||
        !EVP_MAC_final(t->ctx, md, &mdlen, sizeof(md))) {
        hs_log_error("htpasswd: HMAC-SHA-256 failed");
        abort();
    }
    memcpy(out, md, MAC_LEN);
}

static centry_t *cache_set(hs__htpasswd_t *h, const unsigned char mac[MAC_LEN])
{
    uint64_t v;
    memcpy(&v, mac, sizeof(v));
    return &h->cache[(v & (h->nsets - 1)) * WAYS];
}

int hs__auth_cached(hs__htpasswd_t *h, hs_iovec_t field, uint64_t now_ms, int *verdict)
{
    if (!h->cache) {
        atomic_fetch_add_explicit(&h->misses, 1, memory_order_relaxed);
        return HS_AGAIN;
    }
    unsigned char mac[MAC_LEN];
    field_mac(field, mac);
    int rc = HS_AGAIN;
    pthread_mutex_lock(&h->mu);
    centry_t *set = cache_set(h, mac);
    for (int i = 0; i < WAYS; i++) {
        centry_t *c = &set[i];
        if (c->expires_ms > now_ms && c->gen == h->gen && CRYPTO_memcmp(c->mac, mac, MAC_LEN) == 0) {
            *verdict = c->verdict;
            rc = HS_OK;
            break;
        }
    }
    pthread_mutex_unlock(&h->mu);
    atomic_fetch_add_explicit(rc == HS_OK ? &h->hits : &h->misses, 1, memory_order_relaxed);
    return rc;
}

static void cache_put(hs__htpasswd_t *h, const unsigned char mac[MAC_LEN], uint64_t gen, int verdict, uint64_t now_ms)
{
    if (!h->cache)
        return;
    uint64_t ttl = verdict == HS__AUTH_OK ? h->o.cache_ttl_ms : HS_MAX(h->o.cache_ttl_ms / 6, (uint64_t)1);
    pthread_mutex_lock(&h->mu);
    if (gen == h->gen) { /* not computed against users that have since changed */
        centry_t *set = cache_set(h, mac), *victim = NULL;
        for (int i = 0; i < WAYS && !victim; i++)
            if (CRYPTO_memcmp(set[i].mac, mac, MAC_LEN) == 0 || set[i].expires_ms <= now_ms || set[i].gen != h->gen)
                victim = &set[i];
        for (int i = 0; i < WAYS && !victim; i++) /* the oldest wrong one, or for a right one the oldest */
            if ((verdict == HS__AUTH_OK || set[i].verdict != HS__AUTH_OK) &&
                (!victim || set[i].expires_ms < victim->expires_ms))
                victim = &set[i];
        if (victim) {
            memcpy(victim->mac, mac, MAC_LEN);
            victim->gen = gen;
            victim->expires_ms = now_ms + ttl;
            victim->verdict = (uint8_t)verdict;
        }
    }
    pthread_mutex_unlock(&h->mu);
}

/* ---- checks ---- */

hs__auth_job_t *hs__auth_job_new(hs__htpasswd_t *h, hs_iovec_t field, const hs_basic_cred_t *cred)
{
    hs__auth_job_t *j = hs_calloc(1, sizeof(*j));
    j->h = h;
    j->verdict = HS__AUTH_UNKNOWN_USER;
    if (h->cache)
        field_mac(field, j->mac);
    if (cred->kind != HS_BASIC_CREDENTIALS || cred->user.len > USER_MAX || cred->pass.len > HS__PW_PASSWORD_MAX) {
        j->user_len = SIZE_MAX; /* matches nobody */
        return j;
    }
    memcpy(j->user, cred->user.base, cred->user.len);
    j->user_len = cred->user.len;
    memcpy(j->pw, cred->pass.base, cred->pass.len);
    j->pw_len = cred->pass.len;
    j->snap = snap_acquire(h);
    return j;
}

void hs__auth_job_run(void *arg)
{
    hs__auth_job_t *j = arg;
    const snap_t *s = j->snap;
    if (!s)
        return;
    const entry_t *e = snap_find(s, j->user, j->user_len);
    hs_iovec_t pw = hs_iov(j->pw, j->pw_len);
    atomic_fetch_add_explicit(&j->h->hashes, 1, memory_order_relaxed);
    if (e) {
        j->verdict = hs__pw_verify(e->scheme, hs_iov(e->hash, e->hash_len), pw) ? HS__AUTH_OK : HS__AUTH_WRONG;
    } else {
        if (s->n > 0) /* a decoy: the same work as for a known user */
            (void)hs__pw_verify(s->e[0].scheme, hs_iov(s->e[0].hash, s->e[0].hash_len), pw);
        j->verdict = HS__AUTH_UNKNOWN_USER;
    }
}

int hs__auth_job_finish(hs__auth_job_t *j, uint64_t now_ms)
{
    int verdict = j->verdict;
    if (j->snap) {
        cache_put(j->h, j->mac, j->snap->gen, verdict, now_ms);
        snap_release(j->snap);
    }
    OPENSSL_cleanse(j, sizeof(*j));
    free(j);
    return verdict;
}

int hs__auth_verify(hs__htpasswd_t *h, hs_iovec_t field, const hs_basic_cred_t *cred, uint64_t now_ms)
{
    int verdict;
    if (hs__auth_cached(h, field, now_ms, &verdict) == HS_OK)
        return verdict;
    hs__auth_job_t *j = hs__auth_job_new(h, field, cred);
    hs__auth_job_run(j);
    return hs__auth_job_finish(j, now_ms);
}

void hs__auth_stats(hs__htpasswd_t *h, hs__auth_stats_t *out)
{
    out->hits = atomic_load_explicit(&h->hits, memory_order_relaxed);
    out->misses = atomic_load_explicit(&h->misses, memory_order_relaxed);
    out->hashes = atomic_load_explicit(&h->hashes, memory_order_relaxed);
}
