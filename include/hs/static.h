/* statusd — the static origin's file serving, for other modules that keep files of their own
 * (WebDAV answers GET and HEAD exactly as the static origin does: the same representation
 * selection, conditionals, ranges, compression and open-file cache). Implemented in
 * src/modules/static/ (static.c, mime.c).
 *
 * Ownership: the root passed to hs_static_serve is borrowed and must outlive the workers (the
 * open-file cache keys its entries on it); what the functions return is static or lives in the
 * request's arena. */
#ifndef HS_STATIC_H
#define HS_STATIC_H

#include "hs/http.h"
#include "hs/fsroot.h"

/* Read the MIME table (/etc/mime.types, else a built-in table) once per process; later calls do
 * nothing. Call it from a configuration check hook (before any worker starts). HS_OK or
 * HS_ERROR. */
int hs_static_mime_prepare(void);

/* The Content-Type a GET of the file `name` (a path or a file name) is answered with, such as
 * "text/plain; charset=utf-8" or "application/octet-stream": static data of the process. */
const char *hs_static_content_type(const char *name);

/* Answer the request for its path below its mount point (hs_req_path_below_mount) from the files
 * below `root`, as the static origin answers a request for its own root: GET and HEAD of a file
 * (304/412, 206/416, 226, 406, 200), of a directory (301 to the address with a slash, its index
 * file, a listing or 403), OPTIONS (204) and 405 for other methods; 400/403/404/503 for paths
 * that cannot be served. The static settings of the request's path apply (index, autoindex,
 * cache_control, compress, compress_max). Returns as a content handler does: HS_OK when
 * answered, HS_AGAIN when the file is being coded off the loop (answered later). */
int hs_static_serve(hs_req_t *req, const hs_fsroot_t *root);

/* Would hs_static_serve answer a GET of `rel` (a path below root, decoded, no leading slash) from
 * its variants — the request's path negotiates (negotiate: true), no file has that name, and
 * sibling variants or a type map exist? For a module that answers a missing name itself (WebDAV's
 * 410 for a name deleted lately must not hide the variants still there). Reads the directory's
 * listing (cached per worker); call it only on that rare path. */
bool hs_static_negotiable(hs_req_t *req, const hs_fsroot_t *root, const char *rel);

/* For a module that serves a root of its own through hs_static_serve (WebDAV's dav.root), from
 * its configuration check once the root is open: when `path` negotiates (negotiate: true), walk
 * the root for type maps as `statusd -t` and the start do for the static origin's roots. HS_OK,
 * or HS_ERROR with *bad = "negotiate" and err naming the map's FILE:LINE (a broken map, or one
 * whose variant is itself negotiable: a request choosing it would get 506, RFC 9110 §15.6.7). */
int hs_static_check_negotiation(const hs_pathconf_t *path, const hs_fsroot_t *root, const char **bad, char *err,
                                size_t errlen);

#endif
