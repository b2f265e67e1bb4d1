/* statusd — static origin: HTML directory listings (--autoindex).
 *
 * Entries are sorted by name (bytewise), directories marked with a trailing '/'. A name is
 * HTML-escaped where it is shown and percent-encoded where it is a link (RFC 3986 §2.1), so a
 * file called `<script>` or `a"b` or `x:y` is shown as text and links to itself — never markup,
 * never another scheme.
 *
 * A listing reads, stats and sorts up to 100,000 entries: it is built on a helper thread
 * (hs_req_offload) so that a large directory never holds up the worker's other connections.
 */
#define _GNU_SOURCE
#include "static.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENTRIES 100000

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The listing of directory fd (consumed) into *out. Touches no request and no per-worker state
 * (runs on a helper thread); `a` holds the names. False when the directory cannot be read. */
static bool build(const hs_fsroot_t *root, int fd, const char *rel, const char *shown, hs_buf_t *out, hs_arena_t *a)
{
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    hs_buf_t names = {0}; /* char * array */
    size_t n = 0;
    bool truncated = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == MAX_ENTRIES) {
            truncated = true;
            break;
        }
        char *name = hs_arena_strndup(a, de->d_name, strlen(de->d_name));
        hs_buf_append(&names, &name, sizeof(name));
        n++;
    }
    char **list = (char **)names.base;
    if (n)
        qsort(list, n, sizeof(char *), cmp_name);

    hs_buf_t *b = out;
    size_t shown_len = strlen(shown);
    HS_BUF_LIT(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Index of ");
    hs_html_escape(b, shown, shown_len);
    HS_BUF_LIT(b, "</title></head>\n<body>\n<h1>Index of ");
    hs_html_escape(b, shown, shown_len);
    HS_BUF_LIT(b, "</h1>\n<table>\n<tr><th>Name</th><th>Last modified</th><th>Size</th></tr>\n");
    if (rel[0])
        HS_BUF_LIT(b, "<tr><td><a href=\"../\">../</a></td><td></td><td>-</td></tr>\n");
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        bool ok = fstatat(dirfd(d), list[i], &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (ok && S_ISLNK(st.st_mode)) {
            /* describe a link by its target only when that target may be served: a link out of
             * the root shows neither size nor date of what lies outside */
            const char *target = rel[0] ? hs_arena_printf(a, "%s/%s", rel, list[i]).base : list[i];
            const char *ignored;
            int lfd = hs_fsroot_open(root, target, &st, &ignored);
            ok = lfd >= 0;
            if (lfd >= 0)
                close(lfd);
        }
        bool dir = ok && S_ISDIR(st.st_mode);
        size_t len = strlen(list[i]);
        hs_iovec_t href = hs_pct_encode_arena(a, list[i], len, 0);
        HS_BUF_LIT(b, "<tr><td><a href=\"");
        hs_buf_append(b, href.base, href.len);
        if (dir)
            HS_BUF_LIT(b, "/");
        HS_BUF_LIT(b, "\">");
        hs_html_escape(b, list[i], len);
        if (dir)
            HS_BUF_LIT(b, "/");
        HS_BUF_LIT(b, "</a></td><td>");
        if (ok) {
            char date[32];
            struct tm tm;
            gmtime_r(&st.st_mtime, &tm);
            strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
            hs_buf_append(b, date, strlen(date));
        }
        HS_BUF_LIT(b, "</td><td>");
        if (ok && !dir)
            hs_buf_printf(b, "%" PRIu64, (uint64_t)st.st_size);
        else
            HS_BUF_LIT(b, "-");
        HS_BUF_LIT(b, "</td></tr>\n");
    }
    HS_BUF_LIT(b, "</table>\n");
    if (truncated)
        hs_buf_printf(b, "<p>Only the first %d entries are listed.</p>\n", MAX_ENTRIES);
    HS_BUF_LIT(b, "</body></html>\n");
    closedir(d);
    hs_buf_free(&names);
    return true;
}

static int answer(hs_req_t *req, bool ok, const hs_buf_t *listing, const char *cache_control)
{
    if (!ok) {
        hs_req_set_cause_id(req, "file:no_index");
        return hs_res_error(req, 403, "the server is not permitted to list this directory");
    }
    char *body = hs_arena_alloc(&req->arena, listing->len);
    memcpy(body, listing->base, listing->len);
    hs_res_body(req, body, listing->len);
    req->content_type = "text/html; charset=utf-8";
    if (cache_control)
        HS_RES_HEADER(req, "Cache-Control", cache_control);
    return hs_res_send(req, 200);
}

typedef struct {
    const hs_fsroot_t *root;
    int fd; /* the job's own duplicate of the directory */
    char *rel, *shown;
    const char *cache_control; /* the path's settings: they outlive the request */
    bool ok;
    hs_buf_t body;
    hs_arena_t arena;
} listing_job_t;

static void listing_work(void *arg) /* on a helper thread */
{
    listing_job_t *j = arg;
    j->ok = build(j->root, j->fd, j->rel, j->shown, &j->body, &j->arena);
    j->fd = -1; /* consumed by build */
}

static void listing_free(listing_job_t *j)
{
    if (j->fd >= 0)
        close(j->fd);
    hs_buf_free(&j->body);
    hs_arena_reset(&j->arena);
    free(j->rel);
    free(j->shown);
    free(j);
}

static void listing_done(hs_req_t *req, void *arg) /* on the worker */
{
    listing_job_t *j = arg;
    if (req)
        answer(req, j->ok, &j->body, j->cache_control);
    listing_free(j);
}

int hs__static_autoindex(hs_req_t *req, const hs_fsroot_t *root, int dir_fd, const char *rel, const char *shown,
                         const char *cache_control)
{
    listing_job_t *j = hs_calloc(1, sizeof(*j));
    j->root = root;
    j->cache_control = cache_control;
    j->fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    j->rel = hs_strdup(rel);
    j->shown = hs_strdup(shown);
    hs_arena_init(&j->arena);
    if (j->fd >= 0 && hs_req_offload(req, listing_work, listing_done, j) == HS_OK)
        return HS_AGAIN; /* answered by listing_done */
    /* no helper: list in place */
    listing_work(j);
    int r = answer(req, j->ok, &j->body, j->cache_control);
    listing_free(j);
    return r;
}
