/* statusd — static origin: Content-Type by file extension (RFC 9110 §8.3).
 *
 * /etc/mime.types (Debian package media-types) is read once at start-up into a sorted table;
 * without it a small built-in table is used. Textual types get "; charset=utf-8" (RFC 9110
 * §8.3.2: for text/ types the default charset is otherwise left to guessing), and are marked
 * compressible. Unknown extensions are application/octet-stream (RFC 9110 §8.3: a sender that
 * does not know the type should not guess one).
 */
#define _GNU_SOURCE
#include "static.h"

#include "hs/static.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

typedef struct {
    char *ext;  /* lowercase */
    char *type; /* full Content-Type value */
    bool compressible;
    size_t order; /* position of appearance: the first mention of an extension wins */
} entry_t;

static entry_t *table;
static size_t ntable;

static const char *const builtin[][2] = {
    {"html", "text/html"},
    {"htm", "text/html"},
    {"css", "text/css"},
    {"js", "text/javascript"},
    {"mjs", "text/javascript"},
    {"json", "application/json"},
    {"txt", "text/plain"},
    {"text", "text/plain"},
    {"md", "text/markdown"},
    {"csv", "text/csv"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
};

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

/* Textual: text/..., JavaScript, JSON, XML and their +json/+xml structured suffixes (RFC 6839). */
static bool textual(const char *type)
{
    size_t n = strlen(type);
    return strncasecmp(type, "text/", 5) == 0 || strcasecmp(type, "application/javascript") == 0 ||
           strcasecmp(type, "application/ecmascript") == 0 || strcasecmp(type, "application/json") == 0 ||
           strcasecmp(type, "application/xml") == 0 || ends_with(type, n, "+json") || ends_with(type, n, "+xml");
}

static void add(hs_buf_t *store, const char *ext, size_t elen, const char *type, size_t tlen)
{
    if (elen == 0 || elen > 32 || tlen == 0 || tlen > 200)
        return;
    entry_t e;
    e.ext = hs_malloc(elen + 1);
    for (size_t i = 0; i < elen; i++)
        e.ext[i] = (char)tolower((unsigned char)ext[i]);
    e.ext[elen] = '\0';
    char t[256];
    snprintf(t, sizeof(t), "%.*s", (int)tlen, type);
    bool text = textual(t);
    char full[300];
    snprintf(full, sizeof(full), "%s%s", t, text ? "; charset=utf-8" : "");
    e.type = hs_strdup(full);
    /* .svgz is already gzip-compressed: coding it again only wastes time */
    e.compressible = text && strcmp(e.ext, "svgz") != 0;
    e.order = store->len / sizeof(entry_t);
    hs_buf_append(store, &e, sizeof(e));
}

static int cmp(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->ext, ((const entry_t *)b)->ext);
}

static int cmp_order(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    int c = strcmp(x->ext, y->ext);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

int hs__static_mime_init(void)
{
    hs__static_mime_free();
    hs_buf_t store = {0};
    FILE *f = fopen("/etc/mime.types", "r");
    if (f) {
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
            char *p = line;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '#' || *p == '\n' || *p == '\0')
                continue;
            char *type = p;
            while (*p && !isspace((unsigned char)*p))
                p++;
            size_t tlen = (size_t)(p - type);
            for (;;) {
                while (*p && isspace((unsigned char)*p))
                    p++;
                if (!*p || *p == '#')
                    break;
                char *ext = p;
                while (*p && !isspace((unsigned char)*p))
                    p++;
                add(&store, ext, (size_t)(p - ext), type, tlen);
            }
        }
        fclose(f);
    } else {
        hs_log_info("no /etc/mime.types (Debian package media-types): using a built-in table of types");
    }
    /* the built-in entries fill gaps (after the file's, so the file wins on duplicates) */
    for (size_t i = 0; i < HS_ARRAY_SIZE(builtin); i++)
        add(&store, builtin[i][0], strlen(builtin[i][0]), builtin[i][1], strlen(builtin[i][1]));
    table = (entry_t *)store.base;
    ntable = store.len / sizeof(entry_t);
    qsort(table, ntable, sizeof(entry_t), cmp_order);
    size_t k = 0;
    for (size_t i = 0; i < ntable; i++) {
        if (k > 0 && strcmp(table[k - 1].ext, table[i].ext) == 0) {
            free(table[i].ext);
            free(table[i].type);
            continue;
        }
        table[k++] = table[i];
    }
    ntable = k;
    return HS_OK;
}

void hs__static_mime_free(void)
{
    for (size_t i = 0; i < ntable; i++) {
        free(table[i].ext);
        free(table[i].type);
    }
    free(table);
    table = NULL;
    ntable = 0;
}

hs__static_type_t hs__static_mime_lookup(const char *name)
{
    hs__static_type_t r = {"application/octet-stream", false};
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base || !dot[1] || strlen(dot + 1) > 32)
        return r; /* no extension (a leading dot marks a hidden file, not an extension) */
    char ext[33];
    size_t n = 0;
    for (const char *c = dot + 1; *c; c++)
        ext[n++] = (char)tolower((unsigned char)*c);
    ext[n] = '\0';
    entry_t key = {.ext = ext};
    const entry_t *e = bsearch(&key, table, ntable, sizeof(entry_t), cmp);
    if (e) {
        r.content_type = e->type;
        r.compressible = e->compressible;
    }
    return r;
}

/* Once per process, from configuration checks (before threads): cached files and the WebDAV
 * module's getcontenttype keep pointers into the table, so it is never read again. */
int hs_static_mime_prepare(void)
{
    static bool ready;
    if (ready)
        return HS_OK;
    if (hs__static_mime_init() != HS_OK)
        return HS_ERROR;
    ready = true;
    return HS_OK;
}

const char *hs_static_content_type(const char *name)
{
    return hs__static_mime_lookup(name).content_type;
}

bool hs__static_mime_ext(const char *ext, size_t n, hs__static_type_t *out)
{
    if (n == 0 || n > 32)
        return false;
    char low[33];
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)ext[i]);
    low[n] = '\0';
    entry_t key = {.ext = low};
    const entry_t *e = bsearch(&key, table, ntable, sizeof(entry_t), cmp);
    if (!e)
        return false;
    out->content_type = e->type;
    out->compressible = e->compressible;
    return true;
}
