/* statusd — content negotiation over variants (RFC 9110 §12), for the static origin and any
 * module that serves files from an hs_fsroot_t.
 *
 * Where variants come from. With `negotiate: true` on a path, a GET or HEAD for a name that is
 * not a file — /page, /photo — looks at the names beside it:
 *   - NAME.var, a type map (typemap.c), wins when it exists; a request for NAME.var itself is
 *     negotiated through it too (Apache's type-map handler does the same), so a map is never
 *     sent as it is;
 *   - otherwise every regular file whose name is NAME, a dot, then a type extension and/or a
 *     language tag (hs__static_variant_name): page.en.html, page.html.fr, photo.webp. Their
 *     precompressed siblings (page.en.html.gz) are no variants of their own: once a variant is
 *     chosen, the static module picks its coding as for any file.
 * A name that is a file (or a directory) is never negotiated: adding page.html beside
 * page.en.html does not change what /page.html is.
 *
 * Choosing (src/http/negotiate.c: type × language × coding × qs, then a documented order). The
 * outcome:
 *   - the client asked for the list (Negotiate: vlist or list, RFC 2295 §8.4; or the configured
 *     query parameter): 300 with every variant, Location naming the one it would have got;
 *   - nothing acceptable (every variant weighs 0): 406 listing the variants;
 *   - negotiate.on_tie: list and the best variants tie on the client's preferences while
 *     differing in type or language: 300 without Location (RFC 9110 §15.4.1: the server
 *     declines to choose);
 *   - the chosen variant is itself negotiable (a type map naming a type map, or a name that would
 *     be negotiated): 506 naming the loop (RFC 2295 §8.1); `statusd -t` finds such maps at start
 *     (check below);
 *   - otherwise the variant is served as the file itself would be, with Content-Location naming
 *     it, its own validators (ETag, Last-Modified) and Vary listing every request field that
 *     took part, on every answer: 200, 206, 304, 412, 416, HEAD (RFC 9110 §12.5.5, §15.4.5).
 * Vary names Accept always (every variant has a type; even one variant can be refused),
 * Accept-Language when a variant has a language, Accept-Encoding when one is coded (or the
 * caller chose a coding), and Negotiate, which turns any of these answers into the 300 list.
 *
 * What it costs. Each worker keeps, with no locks:
 *   - directory listings: the sorted names of a directory (at most DIR_MAX_NAMES; a larger
 *     directory is not negotiated in, which bounds a scan and its memory), checked like the
 *     open-file cache's entries: fresh while no file-change notification came for it or the
 *     directories above (a stamp, fcache.c), else by one stat of the directory against the
 *     version it was read at;
 *   - variant sets: the variants of one negotiated name with everything the answer needs, valid
 *     while their listing is the same (and, for a type map, while the map's own version is: the
 *     open-file cache keeps that fresh), and a memo of the last decisions keyed by the exact
 *     Accept, Accept-Language and Accept-Encoding (the visitors of a page send a handful of
 *     distinct ones), so that the fields are read once per set and kind of client.
 * A request for a negotiated name then costs two table lookups, a comparison of its fields with
 * the memo's, and the open-file cache's lookup of the variant: no system call. The static module
 * asks only for a name the open-file cache does not have (or one negotiated lately:
 * hs__static_negotiated_known), so a plain file costs one table probe. Both caches have a byte
 * budget; past it they are emptied and rebuilt as requests come. bench/negotiate_cost.py
 * measures it: instructions per request against the plain file with the same request fields.
 */
#define _GNU_SOURCE
#include "static.h"

#include "hs/static.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#define DIR_MAX_NAMES 10000      /* a directory with more entries is not negotiated in */
#define DIR_SLOTS 64             /* listings per worker (direct-mapped) */
#define DIR_BYTES_MAX (8u << 20) /* listings' memory per worker */
#define SET_SLOTS 256            /* variant sets per worker (direct-mapped) */
#define SET_BYTES_MAX (4u << 20) /* variant sets' memory per worker */
#define CHECK_MAX_ENTRIES 200000 /* statusd -t: entries of a root walked looking for type maps */
#define CHECK_MAX_DEPTH 32

/* ---- settings ---- */
typedef struct nconf_s {
    bool negotiate;
    char *on_tie;     /* "choose" or "list" */
    char *list_query; /* a query parameter asking for the 300 list; NULL: none */
    bool tie_list;    /* on_tie is "list" (made by check) */
} nconf_t;

#define OFF(f) offsetof(nconf_t, f)
HS_DIRECTIVES_BEGIN
static const hs_directive_t directives[] = {
    {"negotiate", HS_DT_BOOL, OFF(negotiate), "false", "BOOL",
     "answer a name that is no file from its variants (page.en.html, photo.webp …) or a type map NAME.var: "
     "300, 406, 506 (RFC 9110 §12)",
     0, 0, HS_SCOPE_ALL},
    {"negotiate.on_tie", HS_DT_STRING, OFF(on_tie), "choose", "choose|list",
     "variants tied on the client's preferences: choose by the documented order, or list them (300)", 0, 0,
     HS_SCOPE_ALL},
    {"negotiate.list_query", HS_DT_STRING, OFF(list_query), "", "NAME",
     "a query parameter that asks a negotiated resource for its list of variants (300), e.g. variants", 0, 0,
     HS_SCOPE_ALL},
};
HS_DIRECTIVES_END
#undef OFF

bool hs__static_negotiating(const hs_req_t *req)
{
    const nconf_t *nc = hs_req_conf(req, &hs_module_negotiate);
    return nc && nc->negotiate;
}

/* ---- names ---- */
static bool coding_ext(const char *s, size_t n)
{
    return (n == 2 && (!memcmp(s, "gz", 2) || !memcmp(s, "br", 2))) || (n == 3 && !memcmp(s, "zst", 3)) ||
           (n == 3 && !memcmp(s, "var", 3));
}

/* A language tag in a file name: the first subtag of exactly two letters (en, fr-CA, zh-Hant-TW,
 * es-419). Three-letter codes are left to type maps: too many file extensions (bak, min, old)
 * would read as languages. */
static bool name_lang(const char *s, size_t n)
{
    if (n < 2 || !hs__static_language_tag(hs_iov(s, n)) || (n > 2 && s[2] != '-'))
        return false;
    return true;
}

static bool name_type(const char *s, size_t n, hs__static_type_t *t)
{
    return hs__static_mime_ext(s, n, t);
}

bool hs__static_variant_name(const char *base, size_t blen, const char *name, size_t nlen, hs__static_type_t *type,
                             hs_iovec_t *lang)
{
    if (nlen <= blen + 1 || memcmp(name, base, blen) != 0 || name[blen] != '.')
        return false;
    const char *s = name + blen + 1;
    size_t n = nlen - blen - 1;
    const char *dot = memchr(s, '.', n);
    *lang = HS_IOV("");
    if (!dot) { /* one segment: a type, or a language when the base has a type of its own */
        if (coding_ext(s, n))
            return false;
        const char *bdot = memrchr(base, '.', blen);
        if (bdot && bdot != base && name_lang(s, n) && name_type(bdot + 1, (size_t)(base + blen - bdot - 1), type)) {
            *lang = hs_iov(s, n);
            return true;
        }
        return name_type(s, n, type);
    }
    const char *a = s, *b = dot + 1;
    size_t an = (size_t)(dot - s), bn = n - an - 1;
    if (memchr(b, '.', bn) || coding_ext(b, bn))
        return false;                                 /* more segments, or a coded sibling */
    if (name_lang(a, an) && name_type(b, bn, type)) { /* page.en.html */
        *lang = hs_iov(a, an);
        return true;
    }
    if (name_lang(b, bn) && name_type(a, an, type)) { /* page.html.en */
        *lang = hs_iov(b, bn);
        return true;
    }
    return false;
}

/* FNV-1a from the root's identity. */
static uint32_t hash_key(uint64_t root_id, const char *s, size_t n)
{
    uint32_t h = 2166136261u ^ (uint32_t)(root_id * 0x9e3779b97f4a7c15u >> 32);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static bool same_dir_version(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* ---- directory listings ---- */
typedef struct dent_s {
    const char *name;
    uint32_t len;
    unsigned char type; /* d_type */
} dent_t;

typedef struct dlist_s {
    uint64_t root_id, seq;
    uint32_t hash;
    hs__static_stamp_t stamp;
    struct stat st; /* the directory's version when it was read */
    bool too_big;
    size_t n, bytes;
    dent_t *ents; /* sorted by name, bytewise */
    char *blob;   /* the names, NUL-terminated, then the key */
    char *key;
} dlist_t;

/* ---- variant sets ---- */
typedef struct nvar_s {
    const char *rel;        /* below the root */
    const char *href;       /* rel percent-encoded (for Content-Location, Link, the lists) */
    const char *media;      /* type/subtype only */
    const char *language;   /* NULL: none */
    const char *desc;       /* NULL: none */
    hs__static_type_t type; /* the Content-Type sent */
    int coding;
    int qs;
    bool own_type; /* type.content_type is in mem (a type map's), not the MIME table's */
    size_t line;   /* in the type map; 0 for a sibling */
    bool is_map;   /* the variant is a type map itself: choosing it is 506 */
    char *mem;     /* every string above but type (for siblings: the MIME table's) */
    size_t memlen; /* its size */
} nvar_t;

enum { VS_SIBLINGS = 1, VS_MAP, VS_BAD };

/* A decision already made for the same request fields (clients of one kind send the same ones). */
#define MEMO_SLOTS 4
#define MEMO_MAX 1024 /* bytes of Accept, Accept-Language and Accept-Encoding together, at most */
typedef struct memo_s {
    uint32_t len[3]; /* of each field; UINT32_MAX: absent */
    char *keys;      /* the fields, one after the other (malloc); NULL: an empty slot */
    int best;
    bool tie_differs; /* variants of another type or language tie with the best */
} memo_t;

typedef struct vset_s {
    uint64_t root_id, dir_seq;
    uint32_t hash;
    char *key; /* the request's rel */
    int kind;
    char *map_rel;      /* VS_MAP, and VS_BAD from a map: the map */
    struct stat map_st; /* its version when read */
    const char *err;    /* VS_BAD: why (static text) */
    size_t err_line;
    bool lang, coded; /* dimensions beyond the type */
    size_t n;
    nvar_t v[HS_NEG_MAX_VARIANTS];
    hs_variant_t hv[HS_NEG_MAX_VARIANTS];
    memo_t memo[MEMO_SLOTS];
    unsigned memo_next;
    size_t bytes;
} vset_t;

typedef struct nworker_s {
    dlist_t *dirs[DIR_SLOTS];
    size_t dir_bytes;
    vset_t *sets[SET_SLOTS];
    size_t set_bytes;
    uint64_t seq;
} nworker_t;

static void dlist_free(nworker_t *nw, dlist_t *d)
{
    if (!d)
        return;
    nw->dir_bytes -= d->bytes;
    free(d->ents);
    free(d->blob);
    free(d);
}

static void vset_free(nworker_t *nw, vset_t *s)
{
    if (!s)
        return;
    nw->set_bytes -= s->bytes;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].mem);
    for (size_t i = 0; i < MEMO_SLOTS; i++)
        free(s->memo[i].keys);
    free(s->map_rel);
    free(s->key);
    free(s);
}

static int init_worker(hs_worker_t *w)
{
    w->mod[hs_module_negotiate.index] = hs_calloc(1, sizeof(nworker_t));
    return HS_OK;
}

static void fini_worker(hs_worker_t *w)
{
    nworker_t *nw = w->mod[hs_module_negotiate.index];
    for (size_t i = 0; i < DIR_SLOTS; i++)
        dlist_free(nw, nw->dirs[i]);
    for (size_t i = 0; i < SET_SLOTS; i++)
        vset_free(nw, nw->sets[i]);
    free(nw);
    w->mod[hs_module_negotiate.index] = NULL;
}

static int cmp_dent(const void *a, const void *b)
{
    const dent_t *x = a, *y = b;
    int c = memcmp(x->name, y->name, HS_MIN(x->len, y->len));
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The first entry not below name[0..n) in the listing's order. */
static size_t lower_bound(const dlist_t *d, const char *name, size_t n)
{
    size_t lo = 0, hi = d->n;
    dent_t key = {name, (uint32_t)n, 0};
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_dent(&d->ents[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const dent_t *find(const dlist_t *d, const char *name, size_t n)
{
    size_t i = lower_bound(d, name, n);
    return i < d->n && d->ents[i].len == n && !memcmp(d->ents[i].name, name, n) ? &d->ents[i] : NULL;
}

/* Read the directory `dir` (NUL-terminated, below root) into a new listing, or NULL when it
 * cannot be opened as a directory below the root. */
static dlist_t *dlist_read(nworker_t *nw, const hs_fsroot_t *root, const char *dir, size_t dlen)
{
    const char *detail;
    struct stat st;
    int fd = hs_fsroot_open(root, dir, &st, &detail);
    if (fd < 0)
        return NULL;
    DIR *dp = S_ISDIR(st.st_mode) ? fdopendir(fd) : NULL;
    if (!dp) {
        close(fd);
        return NULL;
    }
    hs_buf_t names = {0}, ents = {0};
    bool too_big = false;
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(dp)) != NULL) {
        size_t len = strlen(de->d_name);
        if ((len == 1 && de->d_name[0] == '.') || (len == 2 && !memcmp(de->d_name, "..", 2)))
            continue;
        if (n == DIR_MAX_NAMES) {
            too_big = true;
            break;
        }
        dent_t e = {(const char *)(uintptr_t)names.len, (uint32_t)len, de->d_type};
        hs_buf_append(&names, de->d_name, len + 1);
        hs_buf_append(&ents, &e, sizeof(e));
        n++;
    }
    closedir(dp);
    dlist_t *d = hs_calloc(1, sizeof(*d));
    d->st = st;
    d->root_id = root->id;
    d->seq = ++nw->seq;
    d->too_big = too_big;
    if (too_big) {
        hs_log_warn("negotiate: the directory /%s has more than %d entries: names in it are not negotiated", dir,
                    DIR_MAX_NAMES);
        n = 0;
        names.len = 0;
    }
    hs_buf_append(&names, dir, dlen + 1);
    d->blob = names.base;
    d->key = d->blob + names.len - dlen - 1;
    d->ents = (dent_t *)ents.base;
    d->n = n;
    for (size_t i = 0; i < n; i++)
        d->ents[i].name = d->blob + (uintptr_t)d->ents[i].name;
    if (n)
        qsort(d->ents, n, sizeof(dent_t), cmp_dent);
    d->bytes = sizeof(*d) + names.cap + ents.cap;
    return d;
}

/* The worker's listing of `dir`, fresh; NULL when it is no readable directory below the root. */
static dlist_t *listing(nworker_t *nw, const hs_fsroot_t *root, hs__static_fcache_t *fc, const char *dir, size_t dlen)
{
    uint32_t h = hash_key(root->id, dir, dlen);
    dlist_t **slot = &nw->dirs[h % DIR_SLOTS];
    dlist_t *d = *slot;
    hs__static_stamp_t stamp = {0};
    if (d && d->hash == h && d->root_id == root->id && !strcmp(d->key, dir)) {
        if (fc && hs__static_fcache_stamp_fresh(fc, &d->stamp))
            return d;
        /* watches first, then the stat: a change after the stat is a notification */
        if (fc)
            hs__static_fcache_stamp(fc, root, dir, &stamp);
        struct stat cur;
        if (fstatat(root->fd, dlen ? dir : ".", &cur, 0) == 0 && same_dir_version(&cur, &d->st)) {
            d->stamp = stamp;
            return d;
        }
    } else if (fc) {
        hs__static_fcache_stamp(fc, root, dir, &stamp);
    }
    *slot = NULL;
    dlist_free(nw, d);
    d = dlist_read(nw, root, dir, dlen);
    if (!d)
        return NULL;
    d->hash = h;
    d->stamp = stamp;
    if (nw->dir_bytes + d->bytes > DIR_BYTES_MAX) /* over budget: start afresh */
        for (size_t i = 0; i < DIR_SLOTS; i++) {
            dlist_free(nw, nw->dirs[i]);
            nw->dirs[i] = NULL;
        }
    nw->dir_bytes += d->bytes;
    *slot = d;
    return d;
}

/* A listed name is a regular file (following a symbolic link; the open checks where it leads). */
static bool regular(const hs_fsroot_t *root, const char *dir, size_t dlen, const dent_t *e)
{
    if (e->type == DT_REG)
        return true;
    if (e->type != DT_LNK && e->type != DT_UNKNOWN)
        return false;
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof(path), "%.*s%s%.*s", (int)dlen, dir, dlen ? "/" : "", (int)e->len, e->name) >=
        (int)sizeof(path))
        return false;
    return fstatat(root->fd, path, &st, 0) == 0 && S_ISREG(st.st_mode);
}

/* Where `rel` splits into its directory and its base name. */
static void split(const char *rel, size_t *dlen, const char **base, size_t *blen)
{
    const char *slash = strrchr(rel, '/');
    *dlen = slash ? (size_t)(slash - rel) : 0;
    *base = slash ? slash + 1 : rel;
    *blen = strlen(*base);
}

static bool ends_with_var(const char *s, size_t n)
{
    return n > 4 && !memcmp(s + n - 4, ".var", 4);
}

/* One variant's strings in one allocation. */
static void var_fill(nvar_t *v, const char *rel, size_t rlen, const char *media, size_t mlen, hs_iovec_t lang,
                     hs_iovec_t desc, hs_iovec_t ctype)
{
    size_t href_cap = 3 * rlen + 1;
    size_t need = rlen + 1 + href_cap + mlen + 1 + lang.len + 1 + desc.len + 1 + ctype.len + 1;
    char *p = hs_malloc(need);
    v->mem = p;
    v->memlen = need;
    memcpy(p, rel, rlen);
    p[rlen] = '\0';
    v->rel = p;
    p += rlen + 1;
    size_t hl = hs_pct_encode(p, rel, rlen, HS_PCT_KEEP_SLASH);
    p[hl] = '\0';
    v->href = p;
    p += hl + 1;
    memcpy(p, media, mlen);
    p[mlen] = '\0';
    v->media = p;
    p += mlen + 1;
    v->language = NULL;
    if (lang.len) {
        memcpy(p, lang.base, lang.len);
        p[lang.len] = '\0';
        v->language = p;
        p += lang.len + 1;
    }
    v->desc = NULL;
    if (desc.len) {
        memcpy(p, desc.base, desc.len);
        p[desc.len] = '\0';
        v->desc = p;
        p += desc.len + 1;
    }
    if (ctype.len) {
        memcpy(p, ctype.base, ctype.len);
        p[ctype.len] = '\0';
        v->type.content_type = p;
        v->own_type = true;
    }
}

static size_t media_len(const char *t)
{
    size_t n = 0;
    while (t[n] && t[n] != ';' && t[n] != ' ')
        n++;
    return n;
}

/* The variants among the listed siblings of base. */
static void build_siblings(vset_t *s, const hs_fsroot_t *root, const dlist_t *d, const char *dir, size_t dlen,
                           const char *base, size_t blen)
{
    s->kind = VS_SIBLINGS;
    size_t i = lower_bound(d, base, blen);
    for (; i < d->n; i++) {
        const dent_t *e = &d->ents[i];
        if (e->len < blen || memcmp(e->name, base, blen) != 0)
            break;
        hs__static_type_t type;
        hs_iovec_t lang;
        if (!hs__static_variant_name(base, blen, e->name, e->len, &type, &lang) || !regular(root, dir, dlen, e))
            continue;
        if (s->n == HS_NEG_MAX_VARIANTS) {
            s->kind = VS_BAD;
            s->err = "more than 64 variants: a name may have at most 64 (list the ones to offer in a type map)";
            return;
        }
        nvar_t *v = &s->v[s->n++];
        memset(v, 0, sizeof(*v));
        char rel[PATH_MAX];
        int rl = snprintf(rel, sizeof(rel), "%.*s%s%.*s", (int)dlen, dir, dlen ? "/" : "", (int)e->len, e->name);
        v->type = type;
        var_fill(v, rel, (size_t)rl, type.content_type, media_len(type.content_type), lang, HS_IOV(""), HS_IOV(""));
        v->coding = HS_CODING_IDENTITY;
        v->qs = 1000;
    }
}

/* The variants of the type map map_rel (a file in `dir`). */
static void build_map(vset_t *s, const hs_fsroot_t *root, hs__static_fcache_t *fc, const char *dir, size_t dlen,
                      const char *map_rel)
{
    s->kind = VS_MAP;
    s->map_rel = hs_strdup(map_rel);
    const char *detail;
    void *ent = NULL;
    int fd = fc ? hs__static_fcache_open(fc, root, map_rel, &s->map_st, &detail, &ent)
                : hs_fsroot_open(root, map_rel, &s->map_st, &detail);
    if (fd < 0) {
        s->kind = VS_BAD;
        s->err = "the type map cannot be opened";
        return;
    }
    hs_arena_t a;
    hs_arena_init(&a);
    const char *text = hs__static_fcache_data(ent);
    size_t len = (size_t)s->map_st.st_size;
    if (!S_ISREG(s->map_st.st_mode) || s->map_st.st_size > HS_TYPEMAP_MAX_SIZE) {
        s->kind = VS_BAD;
        s->err = S_ISREG(s->map_st.st_mode) ? "the type map is larger than 64 KiB" : "the type map is no file";
        goto Exit;
    }
    if (!text && len) {
        char *buf = hs_arena_alloc(&a, len);
        if (pread(fd, buf, len, 0) != (ssize_t)len) {
            s->kind = VS_BAD;
            s->err = "the type map cannot be read";
            goto Exit;
        }
        text = buf;
    }
    /* the negotiated name: the map's own name without ".var" */
    const char *mbase = strrchr(map_rel, '/');
    mbase = mbase ? mbase + 1 : map_rel;
    hs_iovec_t self = hs_iov(mbase, strlen(mbase) - 4);
    hs__typemap_t *m = hs_arena_alloc(&a, sizeof(*m));
    if (hs__typemap_parse(&a, text, len, self, m, &s->err_line, &s->err) != HS_OK) {
        s->kind = VS_BAD;
        goto Exit;
    }
    for (size_t i = 0; i < m->n; i++) {
        const hs__typemap_entry_t *e = &m->e[i];
        /* the URI against the map's own address: its directory, dot segments resolved and never
         * above the root, escapes decoded once (RFC 3986 §5.2) */
        hs_iovec_t joined =
            hs_arena_printf(&a, "/%.*s%s%.*s", (int)dlen, dir, dlen ? "/" : "", (int)e->uri.len, e->uri.base);
        hs_iovec_t norm;
        const char *why;
        if (hs_path_normalize_arena(&a, joined, &norm, HS_PATH_DECODE, &why) != 0 || norm.len < 2 ||
            norm.base[norm.len - 1] == '/') {
            s->kind = VS_BAD;
            s->err = "a URI that names no file below the root";
            s->err_line = e->line;
            break;
        }
        nvar_t *v = &s->v[s->n++];
        memset(v, 0, sizeof(*v));
        const char *rel = norm.base + 1;
        size_t rlen = norm.len - 1;
        hs__static_type_t ext = hs__static_mime_lookup(rel);
        v->type.compressible = ext.compressible && e->coding == HS_CODING_IDENTITY;
        v->type.content_type = ext.content_type;
        hs_iovec_t ct = e->type.len ? e->type : HS_IOV("");
        const char *media = ct.len ? ct.base : ext.content_type;
        size_t mlen = ct.len ? media_len(ct.base) : media_len(ext.content_type);
        var_fill(v, rel, rlen, media, mlen, e->language, e->description, ct);
        v->coding = e->coding;
        v->line = e->line;
        v->is_map = ends_with_var(rel, rlen);
        v->qs = e->qs;
    }
    if (s->kind == VS_MAP && s->n == 0) {
        s->kind = VS_BAD;
        s->err = "the type map lists no variant";
    }
Exit:
    hs_arena_reset(&a);
    hs__static_fcache_release(fd, ent);
}

static void set_dims(vset_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        nvar_t *v = &s->v[i];
        int qs = v->qs;
        s->hv[i] = (hs_variant_t){.type = hs_iov_cstr(v->media),
                                  .language = v->language ? hs_iov_cstr(v->language) : HS_IOV(""),
                                  .coding = v->coding ? hs_iov_cstr(hs__static_coding_name[v->coding]) : HS_IOV(""),
                                  .qs = qs};
        s->lang |= v->language != NULL;
        s->coded |= v->coding != HS_CODING_IDENTITY;
        s->bytes += v->memlen;
    }
}

/* Is a listed name a variant of base by its name, or its type map? */
static bool any_variant(const dlist_t *d, const char *base, size_t blen)
{
    for (size_t i = lower_bound(d, base, blen); i < d->n; i++) {
        const dent_t *e = &d->ents[i];
        if (e->len < blen || memcmp(e->name, base, blen) != 0)
            break;
        hs__static_type_t t;
        hs_iovec_t l;
        if ((e->len == blen + 4 && !memcmp(e->name + blen, ".var", 4)) ||
            hs__static_variant_name(base, blen, e->name, e->len, &t, &l))
            return true;
    }
    return false;
}

/* What kind of resource rel is, from its directory's listing: the set of its variants (cached),
 * or NULL when it is not negotiated (a file, a directory, nothing with variants). */
static vset_t *variants(nworker_t *nw, const hs_fsroot_t *root, hs__static_fcache_t *fc, const char *rel)
{
    size_t dlen, blen;
    const char *base;
    split(rel, &dlen, &base, &blen);
    if (!blen || blen > NAME_MAX)
        return NULL;
    char dir[PATH_MAX];
    if (dlen >= sizeof(dir))
        return NULL;
    memcpy(dir, rel, dlen);
    dir[dlen] = '\0';
    dlist_t *d = listing(nw, root, fc, dir, dlen);
    if (!d || d->too_big)
        return NULL;

    /* a set made from this very listing is current (for a type map, while the map is too) */
    size_t rlen = strlen(rel);
    uint32_t h = hash_key(root->id, rel, rlen);
    vset_t **slot = &nw->sets[h % SET_SLOTS];
    vset_t *s = *slot;
    if (s && s->hash == h && s->root_id == root->id && s->dir_seq == d->seq && !strcmp(s->key, rel)) {
        if (!s->map_rel)
            return s;
        /* a map's contents may change without its directory changing: its version, through
         * the open-file cache (no system call while it is fresh) */
        struct stat st;
        const char *detail;
        void *ent = NULL;
        int fd = fc ? hs__static_fcache_open(fc, root, s->map_rel, &st, &detail, &ent)
                    : hs_fsroot_open(root, s->map_rel, &st, &detail);
        bool same = fd >= 0 && hs__static_same_version(&st, &s->map_st);
        hs__static_fcache_release(fd, ent);
        if (same)
            return s;
    }
    /* kind: a type map asked for by its name, a file (not negotiated), a type map beside it,
     * or siblings */
    const dent_t *self = find(d, base, blen);
    bool direct_map = self && ends_with_var(base, blen);
    if (self && !direct_map)
        return NULL;
    char map_name[NAME_MAX + 8];
    snprintf(map_name, sizeof(map_name), "%.*s.var", (int)blen, base);
    const dent_t *map = direct_map ? self : find(d, map_name, blen + 4);
    if (map && !regular(root, dir, dlen, map)) {
        if (direct_map)
            return NULL;
        map = NULL;
    }
    if (!map && !any_variant(d, base, blen))
        return NULL; /* the common missing name: nothing to build */
    vset_t *ns = hs_calloc(1, sizeof(*ns));
    ns->key = hs_strdup(rel);
    ns->hash = h;
    ns->root_id = root->id;
    ns->dir_seq = d->seq;
    if (map) {
        hs_buf_t mr = {0};
        hs_buf_printf(&mr, "%s%s%.*s", dir, dlen ? "/" : "", (int)map->len, map->name);
        build_map(ns, root, fc, dir, dlen, mr.base);
        hs_buf_free(&mr);
    } else {
        build_siblings(ns, root, d, dir, dlen, base, blen);
    }
    if (ns->kind != VS_BAD && ns->n == 0 && !map) {
        vset_free(nw, ns); /* no variants: not negotiated */
        return NULL;
    }
    set_dims(ns);
    ns->bytes += sizeof(*ns) + MEMO_SLOTS * MEMO_MAX;
    *slot = NULL;
    vset_free(nw, s);
    if (nw->set_bytes + ns->bytes > SET_BYTES_MAX) /* over budget: start afresh */
        for (size_t i = 0; i < SET_SLOTS; i++) {
            vset_free(nw, nw->sets[i]);
            nw->sets[i] = NULL;
        }
    nw->set_bytes += ns->bytes;
    *slot = ns;
    return ns;
}

bool hs__static_negotiated_known(const hs_req_t *req, const hs_fsroot_t *root, const char *rel)
{
    nworker_t *nw = req->worker ? hs_worker_ctx(req->worker, &hs_module_negotiate) : NULL;
    if (!nw)
        return false;
    size_t n = strlen(rel);
    uint32_t h = hash_key(root->id, rel, n);
    const vset_t *s = nw->sets[h % SET_SLOTS];
    return s && s->hash == h && s->root_id == root->id && !strcmp(s->key, rel);
}

/* Would a request for rel be negotiated? Decided from the listing alone (no set is built, so
 * the caller's set stays valid). */
static bool negotiable(nworker_t *nw, const hs_fsroot_t *root, hs__static_fcache_t *fc, const char *rel)
{
    size_t dlen, blen;
    const char *base;
    split(rel, &dlen, &base, &blen);
    char dir[PATH_MAX];
    if (!blen || blen > NAME_MAX || dlen >= sizeof(dir))
        return false;
    if (ends_with_var(base, blen))
        return true;
    memcpy(dir, rel, dlen);
    dir[dlen] = '\0';
    const dlist_t *d = listing(nw, root, fc, dir, dlen);
    return d && !d->too_big && !find(d, base, blen) && any_variant(d, base, blen);
}

bool hs__static_negotiable(const hs_req_t *req, const hs_fsroot_t *root, hs__static_fcache_t *fc, const char *rel)
{
    nworker_t *nw = req->worker ? hs_worker_ctx(req->worker, &hs_module_negotiate) : NULL;
    return nw && negotiable(nw, root, fc, rel);
}

/* ---- the request's side ---- */
static const char *vary_text(bool lang, bool coding)
{
    static const char *const t[4] = {"Accept, Negotiate", "Accept, Accept-Language, Negotiate",
                                     "Accept, Accept-Encoding, Negotiate",
                                     "Accept, Accept-Language, Accept-Encoding, Negotiate"};
    return t[(lang ? 1 : 0) | (coding ? 2 : 0)];
}

/* A field's value, its lines joined with ", " (RFC 9110 §5.3) when there are several. */
static hs_iovec_t field(hs_req_t *req, int token)
{
    const hs_header_t *first = req->meta.h[token];
    if (!first)
        return HS_IOV_NULL;
    size_t count = 0, total = 0;
    for (size_t i = 0; i < req->p.num_headers; i++)
        if (req->p.headers[i].token == token) {
            count++;
            total += req->p.headers[i].value.len + 2;
        }
    if (count == 1)
        return first->value;
    char *p = hs_arena_alloc(&req->arena, total);
    size_t n = 0;
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        if (h->token != token)
            continue;
        if (n) {
            memcpy(p + n, ", ", 2);
            n += 2;
        }
        memcpy(p + n, h->value.base, h->value.len);
        n += h->value.len;
    }
    return hs_iov(p, n);
}

/* Did the client ask for the list: Negotiate: vlist (RFC 2295 §8.4) or list, or the query
 * parameter named by negotiate.list_query? */
static bool list_asked(const hs_req_t *req, const nconf_t *nc)
{
    for (size_t i = 0; i < req->p.num_headers; i++) {
        const hs_header_t *h = &req->p.headers[i];
        if (!HS_IOV_IEQ(h->name, "negotiate"))
            continue;
        size_t pos = 0;
        hs_iovec_t el;
        while ((el = hs_list_next(h->value, &pos)).base)
            if (HS_IOV_IEQ(el, "vlist") || HS_IOV_IEQ(el, "list"))
                return true;
    }
    if (nc->list_query && req->p.query.base) {
        size_t pos = 0;
        hs_iovec_t k, v;
        size_t ql = strlen(nc->list_query);
        while (hs_form_next(req->p.query, &pos, &k, &v))
            if (k.len == ql && !memcmp(k.base, nc->list_query, ql))
                return true;
    }
    return false;
}

/* The variant's address: the mount point, then its path below the root. */
static const char *address(hs_req_t *req, const nvar_t *v)
{
    hs_iovec_t mnt = hs_req_mount(req);
    size_t hl = strlen(v->href);
    char *p = hs_arena_alloc(&req->arena, mnt.len + hl + 2);
    memcpy(p, mnt.base, mnt.len);
    p[mnt.len] = '/';
    memcpy(p + mnt.len + 1, v->href, hl + 1);
    return p;
}

/* Append `s` to b as a quoted-string (RFC 9110 §5.6.4). */
static void quoted(hs_buf_t *b, const char *s)
{
    HS_BUF_LIT(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            HS_BUF_LIT(b, "\\");
        hs_buf_append(b, s, 1);
    }
    HS_BUF_LIT(b, "\"");
}

/* 300 or 406 listing every variant. For 300 each variant also gets a Link field (RFC 8288:
 * rel="alternate" with its type and languages), and Location names `preferred` when there is one
 * (RFC 9110 §15.4.1). */
/* Why negotiation answered itself (hs_module_t.causes; entry i is cause NC_<i>). */
enum { NC_NONE_ACCEPTABLE, NC_LIST, NC_LOOP, NC_BAD_MAP };
static const hs_cause_info_t causes[] = {
    [NC_NONE_ACCEPTABLE] = {"negotiate:none_acceptable",
                            406,
                            {0},
                            "negotiate",
                            "Every variant of the resource is excluded by the client's Accept, Accept-Language or "
                            "Accept-Encoding (RFC 9110 §15.5.7); the body lists them."},
    [NC_LIST] = {"negotiate:list",
                 300,
                 {0},
                 "negotiate.on_tie",
                 "The client asked for the list of variants (Negotiate: list or vlist, or negotiate.list_query), or "
                 "the best variants tie and negotiate.on_tie is list (RFC 9110 §15.4.1)."},
    [NC_LOOP] = {"negotiate:variant_negotiates",
                 506,
                 {0},
                 "negotiate",
                 "The chosen variant is itself negotiable: a type map naming a type map or a name with variants "
                 "of its own (RFC 2295 §8.1)."},
    [NC_BAD_MAP] = {"negotiate:bad_type_map",
                    500,
                    {0},
                    "negotiate",
                    "The resource's type map cannot be read (its line is in the body and the error log)."},
};

static int answer_list(hs_req_t *req, const vset_t *s, int status, int preferred, const char *detail)
{
    hs_req_set_cause(req, hs_module_cause(&hs_module_negotiate, status == 300 ? NC_LIST : NC_NONE_ACCEPTABLE));
    HS_RES_HEADER(req, "Vary", vary_text(s->lang, s->coded)); /* the body's format too: Accept */
    hs_res_variant_t *list = hs_arena_alloc(&req->arena, (s->n ? s->n : 1) * sizeof(*list));
    for (size_t i = 0; i < s->n; i++) {
        const nvar_t *v = &s->v[i];
        list[i] = (hs_res_variant_t){address(req, v), v->media, v->language, v->desc};
        if (status != 300)
            continue;
        hs_buf_t b = {0};
        hs_buf_printf(&b, "<%s>; rel=\"alternate\"; type=", list[i].href);
        quoted(&b, v->media);
        size_t pos = 0;
        hs_iovec_t tag;
        while (v->language && (tag = hs_list_next(hs_iov_cstr(v->language), &pos)).base)
            hs_buf_printf(&b, "; hreflang=%.*s", (int)tag.len, tag.base);
        if (v->desc) {
            HS_BUF_LIT(&b, "; title=");
            quoted(&b, v->desc);
        }
        hs_res_header(req, HS_IOV("Link"), hs_iov(hs_arena_strndup(&req->arena, b.base, b.len), b.len));
        hs_buf_free(&b);
    }
    if (status == 300 && preferred >= 0)
        HS_RES_HEADER(req, "Location", list[preferred].href);
    return hs_res_error_variants(req, status, detail, list, s->n);
}

static const char *shown(hs_req_t *req, const char *rel)
{
    hs_iovec_t mnt = hs_req_mount(req);
    return hs_arena_printf(&req->arena, "%.*s/%s", (int)mnt.len, mnt.base, rel).base;
}

static int answer_506(hs_req_t *req, const vset_t *s, const nvar_t *v)
{
    HS_RES_HEADER(req, "Vary", vary_text(s->lang, s->coded));
    const char *what = v->is_map ? "is itself a type map" : "is itself negotiated (it has variants of its own)";
    const char *detail =
        s->map_rel
            ? hs_arena_printf(&req->arena,
                              "the type map %s (line %zu) chose %s, which %s: negotiating again could loop, so no "
                              "representation can be selected; the type map must name files",
                              shown(req, s->map_rel), v->line, shown(req, v->rel), what)
                  .base
            : hs_arena_printf(&req->arena, "the variant %s %s", shown(req, v->rel), what).base;
    hs_log_error("negotiate: 506 for %.*s: %s", (int)req->p.target.len, req->p.target.base, detail);
    hs_req_set_cause(req, hs_module_cause(&hs_module_negotiate, NC_LOOP));
    return hs_res_error(req, 506, detail);
}

/* Do variants of another type or language tie with the best on the client's preferences? */
static bool tie_differs(const vset_t *s, const hs_variant_score_t *sc, int best)
{
    const nvar_t *b = &s->v[best];
    for (size_t i = 0; i < s->n; i++) {
        if (!sc[i].q || !hs_variant_tie(&sc[i], &sc[best]))
            continue;
        const nvar_t *v = &s->v[i];
        bool same_lang =
            (!v->language && !b->language) || (v->language && b->language && !strcasecmp(v->language, b->language));
        if (strcasecmp(v->media, b->media) || !same_lang)
            return true;
    }
    return false;
}

/* The choice for these fields: from the set's memo when the same fields were seen (the common
 * case: a page's visitors use a handful of browsers), else made now and remembered. */
static int decide(vset_t *s, const hs_neg_prefs_t *p, bool *ties)
{
    const hs_iovec_t f[3] = {p->accept, p->accept_language, p->accept_encoding};
    uint32_t len[3];
    size_t total = 0;
    for (int k = 0; k < 3; k++) {
        len[k] = f[k].base ? (uint32_t)HS_MIN(f[k].len, MEMO_MAX + 1) : UINT32_MAX;
        total += f[k].base ? f[k].len : 0;
    }
    for (size_t i = 0; total <= MEMO_MAX && i < MEMO_SLOTS; i++) {
        const memo_t *m = &s->memo[i];
        if (!m->keys || memcmp(m->len, len, sizeof(len)) != 0)
            continue;
        const char *k = m->keys;
        bool same = true;
        for (int j = 0; j < 3 && same; j++) {
            if (len[j] == UINT32_MAX)
                continue;
            same = !memcmp(k, f[j].base, len[j]);
            k += len[j];
        }
        if (same) {
            *ties = m->tie_differs;
            return m->best;
        }
    }
    hs_variant_score_t sc[HS_NEG_MAX_VARIANTS];
    size_t tied;
    int best = hs_negotiate_variants(p, s->hv, s->n, sc, &tied);
    *ties = best >= 0 && tied > 1 && tie_differs(s, sc, best);
    if (total <= MEMO_MAX) {
        memo_t *m = &s->memo[s->memo_next++ % MEMO_SLOTS];
        free(m->keys);
        m->keys = hs_malloc(total ? total : 1);
        char *k = m->keys;
        for (int j = 0; j < 3; j++) {
            m->len[j] = len[j];
            if (len[j] != UINT32_MAX) {
                memcpy(k, f[j].base, len[j]);
                k += len[j];
            }
        }
        m->best = best;
        m->tie_differs = *ties;
    }
    return best;
}

void hs__static_chosen_headers(hs_req_t *req, const hs__static_chosen_t *c, bool coding_chosen, bool representation)
{
    HS_RES_HEADER(req, "Vary", coding_chosen ? c->vary_ae : c->vary); /* RFC 9110 §12.5.5 */
    if (!representation)
        return;
    hs_res_header(req, HS_IOV("Content-Location"), c->location); /* RFC 9110 §8.7 */
    if (c->language)
        HS_RES_HEADER(req, "Content-Language", c->language); /* RFC 9110 §8.5 */
}

int hs__static_negotiate(hs_req_t *req, const hs_fsroot_t *root, hs__static_fcache_t *fc, const char *rel,
                         hs__static_chosen_t *out)
{
    const nconf_t *nc = hs_req_conf(req, &hs_module_negotiate);
    nworker_t *nw = req->worker ? hs_worker_ctx(req->worker, &hs_module_negotiate) : NULL;
    if (!nc || !nc->negotiate || !nw || !rel[0])
        return HS_DECLINED;
    vset_t *s = variants(nw, root, fc, rel);
    if (!s)
        return HS_DECLINED;
    if (req->p.method_id != HS_METHOD_GET && req->p.method_id != HS_METHOD_HEAD)
        return HS__NEG_METHOD;
    if (s->kind == VS_BAD) {
        const char *detail = s->map_rel ? hs_arena_printf(&req->arena, "the type map %s is broken (line %zu): %s",
                                                          shown(req, s->map_rel), s->err_line, s->err)
                                              .base
                                        : hs_arena_printf(&req->arena, "%s: %s", shown(req, rel), s->err).base;
        hs_log_error("negotiate: %s", detail);
        hs_req_set_cause(req, hs_module_cause(&hs_module_negotiate, NC_BAD_MAP));
        return hs_res_error(req, 500, detail);
    }

    hs_neg_prefs_t prefs = {field(req, HS_HDR_ACCEPT), field(req, HS_HDR_ACCEPT_LANGUAGE),
                            field(req, HS_HDR_ACCEPT_ENCODING)};
    bool ties;
    int best = decide(s, &prefs, &ties);
    if (list_asked(req, nc))
        return answer_list(req, s, 300, best, "the client asked for the list of this resource's variants");
    if (best < 0) /* RFC 9110 §15.5.7 */
        return answer_list(req, s, 406, -1,
                           "no variant of this resource is acceptable to the request's Accept, Accept-Language "
                           "and Accept-Encoding");
    if (nc->tie_list && ties) /* RFC 9110 §15.4.1: the preferences single out no variant among different ones */
        return answer_list(req, s, 300, -1,
                           "several variants are equally acceptable and the server does not choose among them");
    hs_variant_score_t sc[HS_NEG_MAX_VARIANTS];
    bool scored = false;
    for (;;) {
        const nvar_t *v = &s->v[best];
        if (v->is_map)
            return answer_506(req, s, v);
        const char *detail;
        void *ent = NULL;
        int fd = fc ? hs__static_fcache_open(fc, root, v->rel, &out->st, &detail, &ent)
                    : hs_fsroot_open(root, v->rel, &out->st, &detail);
        if (fd >= 0 && S_ISREG(out->st.st_mode)) {
            out->fd = fd;
            out->ent = ent;
            /* the variant's strings in one copy: the cached set may go before the request does */
            char *mem = hs_arena_alloc(&req->arena, v->memlen);
            memcpy(mem, v->mem, v->memlen);
#define REBASE(p) (mem + ((p)-v->mem))
            out->rel = REBASE(v->rel);
            out->type = v->type;
            if (v->own_type)
                out->type.content_type = REBASE(v->type.content_type);
            out->language = v->language ? REBASE(v->language) : NULL;
#undef REBASE
            out->coding = v->coding;
            out->vary = vary_text(s->lang, s->coded);
            out->vary_ae = vary_text(s->lang, true);
            out->location = hs_iov_cstr(address(req, v));
            return HS__NEG_CHOSEN;
        }
        if (fd >= 0)
            hs__static_fcache_release(fd, ent);
        else if (fd != -404 && fd != -403) {
            if (fd == -503)
                hs_res_headerf(req, "Retry-After", "%d", hs_req_top(req)->retry_after); /* RFC 9110 §10.2.3 */
            return hs_res_error(req, -fd, detail);
        }
        if (fd == -404 && negotiable(nw, root, fc, v->rel))
            return answer_506(req, s, v);
        /* a variant that is gone, or cannot be served: the next one */
        hs_log_warn("negotiate: the variant %s of %s %s; trying the next", v->rel, rel,
                    fd == -403 ? "is not permitted" : "does not exist as a file");
        if (!scored) { /* the scores, to find the next best */
            size_t tied;
            hs_negotiate_variants(&prefs, s->hv, s->n, sc, &tied);
            scored = true;
        }
        sc[best].q = 0;
        best = -1;
        for (size_t i = 0; i < s->n; i++)
            if (sc[i].q && (best < 0 || hs_variant_cmp(&sc[i], &sc[best]) < 0))
                best = (int)i;
        if (best < 0)
            return answer_list(req, s, 404, -1, "none of the variants this resource names exists");
    }
}

/* ---- statusd -t: type maps that would answer 506, or are broken, found at start ---- */
typedef struct walk_s {
    const hs_fsroot_t *root;
    size_t entries;
    char *err;
    size_t errlen;
    bool failed;
} walk_t;

/* Would `rel` (a map's variant) be negotiated? From the file system directly: no caches. */
static bool check_negotiable(const hs_fsroot_t *root, const char *rel)
{
    size_t dlen, blen;
    const char *base;
    split(rel, &dlen, &base, &blen);
    if (ends_with_var(base, blen))
        return true;
    struct stat st;
    if (fstatat(root->fd, rel, &st, 0) == 0)
        return false;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%.*s", (int)dlen, rel);
    int fd = openat(root->fd, dlen ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dp) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    bool found = false;
    struct dirent *de;
    for (size_t n = 0; !found && n < DIR_MAX_NAMES && (de = readdir(dp)) != NULL; n++) {
        size_t len = strlen(de->d_name);
        hs__static_type_t t;
        hs_iovec_t l;
        found = (len == blen + 4 && !memcmp(de->d_name, base, blen) && !memcmp(de->d_name + blen, ".var", 4)) ||
                hs__static_variant_name(base, blen, de->d_name, len, &t, &l);
    }
    closedir(dp);
    return found;
}

static void check_map(walk_t *w, const char *rel)
{
    const char *detail;
    struct stat st;
    int fd = hs_fsroot_open(w->root, rel, &st, &detail);
    if (fd < 0)
        return;
    const char *shown_root = w->root->real ? w->root->real : "";
    if (st.st_size > HS_TYPEMAP_MAX_SIZE) {
        snprintf(w->err, w->errlen, "negotiate: %s/%s: the type map is larger than 64 KiB", shown_root, rel);
        w->failed = true;
        close(fd);
        return;
    }
    size_t len = (size_t)st.st_size;
    char *text = hs_malloc(len ? len : 1);
    bool ok = pread(fd, text, len, 0) == (ssize_t)len;
    close(fd);
    hs_arena_t a;
    hs_arena_init(&a);
    hs__typemap_t *m = hs_arena_alloc(&a, sizeof(*m));
    const char *mbase = strrchr(rel, '/');
    mbase = mbase ? mbase + 1 : rel;
    size_t err_line = 0;
    const char *err = NULL;
    if (!ok) {
        snprintf(w->err, w->errlen, "negotiate: %s/%s: the type map cannot be read", shown_root, rel);
        w->failed = true;
    } else if (hs__typemap_parse(&a, text, len, hs_iov(mbase, strlen(mbase) - 4), m, &err_line, &err) != HS_OK) {
        snprintf(w->err, w->errlen, "negotiate: %s/%s:%zu: %s", shown_root, rel, err_line, err);
        w->failed = true;
    }
    size_t dlen = (size_t)(mbase - rel);
    for (size_t i = 0; !w->failed && i < m->n; i++) {
        hs_iovec_t joined = hs_arena_printf(&a, "/%.*s%.*s", (int)dlen, rel, (int)m->e[i].uri.len, m->e[i].uri.base);
        hs_iovec_t norm;
        const char *why;
        if (hs_path_normalize_arena(&a, joined, &norm, HS_PATH_DECODE, &why) != 0 || norm.len < 2 ||
            norm.base[norm.len - 1] == '/') {
            snprintf(w->err, w->errlen, "negotiate: %s/%s:%zu: the URI names no file below the root", shown_root, rel,
                     m->e[i].line);
            w->failed = true;
        } else if (check_negotiable(w->root, norm.base + 1)) {
            snprintf(w->err, w->errlen,
                     "negotiate: %s/%s:%zu: the variant %s is itself %s: a request choosing it would get 506 "
                     "Variant Also Negotiates",
                     shown_root, rel, m->e[i].line, norm.base + 1,
                     ends_with_var(norm.base, norm.len) ? "a type map" : "negotiated (it has variants of its own)");
            w->failed = true;
        }
    }
    hs_arena_reset(&a);
    free(text);
}

/* Walk the directory `rel` (open at fd, consumed) for *.var files. */
static void walk(walk_t *w, int fd, const char *rel, int depth)
{
    DIR *dp = fdopendir(fd);
    if (!dp) {
        close(fd);
        return;
    }
    struct dirent *de;
    while (!w->failed && w->entries < CHECK_MAX_ENTRIES && (de = readdir(dp)) != NULL) {
        w->entries++;
        size_t len = strlen(de->d_name);
        if ((len == 1 && de->d_name[0] == '.') || (len == 2 && !memcmp(de->d_name, "..", 2)))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >= (int)sizeof(path))
            continue;
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_DIR && depth < CHECK_MAX_DEPTH) {
            int sub = openat(dirfd(dp), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                walk(w, sub, path, depth + 1);
        } else if ((type == DT_REG || type == DT_LNK) && ends_with_var(de->d_name, len)) {
            check_map(w, path);
        }
    }
    closedir(dp);
}

/* The static module's settings of the same path (its check ran first: the root is open). */
static const hs__static_conf_t *static_conf(const hs_pathconf_t *path)
{
    return path && path->cfg ? path->cfg->mod[hs_module_static.index] : NULL;
}

/* Walk a negotiating path's root for its type maps: the first broken one, or one that would
 * answer 506, fails the check with its FILE:LINE. */
static int check_root(const hs_fsroot_t *root, const char **bad, char *err, size_t errlen)
{
    /* each root once per process: several paths often share one */
    static uint64_t checked[64];
    static size_t nchecked;
    for (size_t i = 0; i < nchecked; i++)
        if (checked[i] == root->id)
            return HS_OK;
    walk_t w = {.root = root, .err = err, .errlen = errlen};
    int fd = openat(root->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0)
        walk(&w, fd, "", 0);
    if (w.failed) {
        *bad = "negotiate";
        return HS_ERROR;
    }
    if (w.entries >= CHECK_MAX_ENTRIES)
        hs_log_info("negotiate: checked the type maps among the first %d entries of %s only", CHECK_MAX_ENTRIES,
                    root->real ? root->real : "/");
    if (nchecked < HS_ARRAY_SIZE(checked))
        checked[nchecked++] = root->id;
    return HS_OK;
}

static int check(hs_config_t *cfg, const hs_pathconf_t *path, void *p, const char **bad, char *err, size_t errlen)
{
    HS_UNUSED(cfg);
    nconf_t *nc = p;
    nc->tie_list = false;
    if (nc->on_tie && strcmp(nc->on_tie, "choose") && strcmp(nc->on_tie, "list")) {
        *bad = "negotiate.on_tie";
        snprintf(err, errlen, "negotiate.on_tie must be 'choose' or 'list', got '%s'", nc->on_tie);
        return HS_ERROR;
    }
    nc->tie_list = nc->on_tie && !strcmp(nc->on_tie, "list");
    if (nc->list_query && (!nc->list_query[0] || strpbrk(nc->list_query, "&=#? "))) {
        *bad = "negotiate.list_query";
        snprintf(err, errlen, "negotiate.list_query must be a query parameter name (such as variants)");
        return HS_ERROR;
    }
    const hs__static_conf_t *sc = static_conf(path);
    if (!nc->negotiate || !sc || !sc->fsroot)
        return HS_OK;
    return check_root(sc->fsroot, bad, err, errlen);
}

int hs_static_check_negotiation(const hs_pathconf_t *path, const hs_fsroot_t *root, const char **bad, char *err,
                                size_t errlen)
{
    const nconf_t *nc = path && path->cfg ? path->cfg->mod[hs_module_negotiate.index] : NULL;
    if (!nc || !nc->negotiate || !root || root->fd < 0)
        return HS_OK;
    return check_root(root, bad, err, errlen);
}

hs_module_t hs_module_negotiate = {
    .name = "negotiate",
    .conf = {.name = "negotiate",
             .directives = directives,
             .count = HS_ARRAY_SIZE(directives),
             .size = sizeof(nconf_t),
             .check = check},
    .causes = causes,
    .ncauses = HS_ARRAY_SIZE(causes),
    .init_worker = init_worker,
    .fini_worker = fini_worker,
};
