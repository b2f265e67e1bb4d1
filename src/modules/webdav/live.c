/* statusd — WebDAV live properties (see fs.h): values computed from the file system and the
 * store, never stored.
 *
 * getetag is exactly the ETag the static origin sends for the same file (hs_etag_from_stat with
 * no suffix: inode, size, modification time in nanoseconds), so a client may use what PROPFIND
 * told it in an If-Match or If header on GET or PUT. getcontenttype comes from the static
 * origin's MIME table (through fs->content_type, so that this file needs no other module's
 * header) for the same reason: what GET would say. getlastmodified is an HTTP-date
 * (RFC 4918 §15.7), creationdate an RFC 3339 date-time (§15.1) from the file's birth time where
 * the file system records one (statx), else the earlier of its change and modification times.
 *
 * allprop (RFC 4918 §9.1) returns the properties RFC 4918 defines; those of RFC 4331 (quota) and
 * RFC 5842 (resource-id, parent-set) only when asked for by name or in DAV:include, which is
 * what those documents ask of servers. */
#define _GNU_SOURCE
#include "fs.h"

#include "hs/codec.h"
#include "hs/conditional.h"
#include "hs/date.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const hs__dav_live_t table[] = {
    {"creationdate", true, false},           {"displayname", true, true},
    {"getcontentlanguage", true, true},      {"getcontentlength", true, false},
    {"getcontenttype", true, false},         {"getetag", true, false},
    {"getlastmodified", true, false},        {"lockdiscovery", true, false},
    {"resourcetype", true, false},           {"supportedlock", true, false},
    {"quota-available-bytes", false, false}, {"quota-used-bytes", false, false},
    {"resource-id", false, false},           {"parent-set", false, false},
};

const hs__dav_live_t *hs__dav_live_table(size_t *n)
{
    *n = HS_ARRAY_SIZE(table);
    return table;
}

const hs__dav_live_t *hs__dav_live_find(const hs__dav_qname_t *q)
{
    if (!HS_IOV_EQ(q->ns, HS__DAV_NS))
        return NULL;
    for (size_t i = 0; i < HS_ARRAY_SIZE(table); i++)
        if (hs_iov_eq(q->name, table[i].name, strlen(table[i].name)))
            return &table[i];
    return NULL;
}

bool hs__dav_live_protected(const hs__dav_qname_t *q)
{
    const hs__dav_live_t *l = hs__dav_live_find(q);
    return l && !l->settable;
}

hs_iovec_t hs__dav_href(hs_arena_t *a, const hs__dav_fs_t *fs, const char *rel, bool collection)
{
    const char *m = fs->mount;
    size_t ml = strlen(m);
    while (ml > 0 && m[ml - 1] == '/')
        ml--;
    if (!rel[0])
        return hs_arena_printf(a, "%.*s/", (int)ml, m);
    return hs_arena_printf(a, "%.*s/%s%s", (int)ml, m, rel, collection ? "/" : "");
}

static void put_href_raw(hs_buf_t *b, hs_iovec_t uri)
{
    HS_BUF_LIT(b, "<D:href>");
    hs__dav_xml_escape(b, uri.base, uri.len, false);
    HS_BUF_LIT(b, "</D:href>");
}

static void put_href_path(hs_buf_t *b, hs_iovec_t path)
{
    HS_BUF_LIT(b, "<D:href>");
    hs__dav_xml_href(b, path);
    HS_BUF_LIT(b, "</D:href>");
}

void hs__dav_xml_activelock(hs_buf_t *b, const hs__dav_fs_t *fs, const hs__dav_lock_t *l, int64_t now)
{
    hs_arena_t a;
    hs_arena_init(&a);
    HS_BUF_LIT(b, "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope>");
    if (l->exclusive)
        HS_BUF_LIT(b, "<D:exclusive/>");
    else
        HS_BUF_LIT(b, "<D:shared/>");
    HS_BUF_LIT(b, "</D:lockscope><D:depth>");
    if (l->depth == HS__DAV_LOCK_INFINITY)
        HS_BUF_LIT(b, "infinity");
    else
        HS_BUF_LIT(b, "0");
    HS_BUF_LIT(b, "</D:depth>");
    if (l->owner.base) {
        HS_BUF_LIT(b, "<D:owner>");
        hs_buf_append(b, l->owner.base, l->owner.len);
        HS_BUF_LIT(b, "</D:owner>");
    }
    int64_t left = l->expires > now ? l->expires - now : 0;
    hs_buf_printf(b, "<D:timeout>Second-%lld</D:timeout><D:locktoken>", (long long)left);
    put_href_raw(b, l->token);
    HS_BUF_LIT(b, "</D:locktoken><D:lockroot>");
    char *root = hs_arena_strndup(&a, l->root.base, l->root.len);
    struct stat st;
    const char *detail;
    bool coll = hs__dav_stat(fs, root, &st, &detail) == 0 && S_ISDIR(st.st_mode);
    put_href_path(b, hs__dav_href(&a, fs, root, coll));
    HS_BUF_LIT(b, "</D:lockroot></D:activelock>");
    hs_arena_reset(&a);
}

void hs__dav_xml_lock_body(hs_buf_t *b, const hs__dav_fs_t *fs, const hs__dav_lock_t *l, int64_t now)
{
    HS_BUF_LIT(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>");
    hs__dav_xml_activelock(b, fs, l, now);
    HS_BUF_LIT(b, "</D:lockdiscovery></D:prop>\n");
}

/* The earliest time the file is known to have existed. */
static time_t birth_time(const hs__dav_fs_t *fs, const char *rel, const struct stat *st)
{
    time_t t = HS_MIN(st->st_mtime, st->st_ctime);
    struct stat tmp;
    const char *detail;
    int fd = hs_fsroot_open(fs->root, rel, &tmp, &detail);
    if (fd >= 0) {
        struct statx sx;
        if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx) == 0 && (sx.stx_mask & STATX_BTIME))
            t = (time_t)sx.stx_btime.tv_sec;
        close(fd);
    }
    return t;
}

/* RFC 5842 §3.1: an identifier of the resource itself, the same through every binding and for
 * as long as the file lives — its device and inode, hashed into a UUID-shaped URN (version 8,
 * RFC 9562 §5.8: a vendor-specific layout). */
static void resource_id(hs_buf_t *b, const struct stat *st)
{
    uint64_t h1 = 0xcbf29ce484222325ull ^ (uint64_t)st->st_dev, h2 = 0x84222325cbf29ce4ull ^ (uint64_t)st->st_ino;
    for (int i = 0; i < 4; i++) {
        h1 = (h1 ^ (h2 >> 17)) * 0x100000001b3ull;
        h2 = (h2 ^ (h1 >> 23)) * 0x9e3779b97f4a7c15ull;
    }
    unsigned char u[16];
    memcpy(u, &h1, 8);
    memcpy(u + 8, &h2, 8);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x80);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    hs_buf_printf(b, "<D:href>urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x</D:href>",
                  u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

int hs__dav_live_get(hs__dav_fs_t *fs, hs_arena_t *a, const char *rel, const struct stat *st, const hs__dav_qname_t *q,
                     int64_t now, hs_buf_t *out)
{
    if (!HS_IOV_EQ(q->ns, HS__DAV_NS))
        return 404;
    bool coll = S_ISDIR(st->st_mode);
    hs_iovec_t n = q->name;
    if (HS_IOV_EQ(n, "getetag")) {
        char tag[HS_ETAG_STAT_MAX + 1];
        hs_buf_append(out, tag, hs_etag_from_stat(tag, st, NULL));
    } else if (HS_IOV_EQ(n, "displayname")) {
        /* RFC 4918 §15.2: a name suitable for presentation — the last segment of the URL, as
         * the file system spells it (the tree's root: the mount's), when it is UTF-8 text */
        const char *name = rel[0] ? rel : fs->mount;
        size_t len = strlen(name);
        while (len > 0 && name[len - 1] == '/')
            len--;
        const char *slash = memrchr(name, '/', len);
        const char *seg = slash ? slash + 1 : name;
        len -= (size_t)(seg - name);
        if (len == 0 || !hs_utf8_valid(seg, len))
            return 404;
        hs__dav_xml_escape(out, seg, len, false);
    } else if (HS_IOV_EQ(n, "getcontentlanguage")) {
        return 404; /* RFC 4918 §15.3: only what a client set (the store's value) */
    } else if (HS_IOV_EQ(n, "getlastmodified")) {
        char date[30];
        hs_http_date(st->st_mtime, date);
        hs_buf_append(out, date, strlen(date));
    } else if (HS_IOV_EQ(n, "creationdate")) {
        time_t t = birth_time(fs, rel, st);
        struct tm tm;
        char buf[32];
        gmtime_r(&t, &tm);
        hs_buf_append(out, buf, strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm));
    } else if (HS_IOV_EQ(n, "resourcetype")) {
        if (coll)
            HS_BUF_LIT(out, "<D:collection/>");
    } else if (HS_IOV_EQ(n, "getcontentlength")) {
        if (coll)
            return 404; /* a collection has no representation of its own here */
        hs_buf_printf(out, "%lld", (long long)st->st_size);
    } else if (HS_IOV_EQ(n, "getcontenttype")) {
        if (coll)
            return 404;
        const char *type = fs->content_type ? fs->content_type(rel) : "application/octet-stream";
        hs__dav_xml_escape(out, type, strlen(type), false);
    } else if (HS_IOV_EQ(n, "supportedlock")) {
        HS_BUF_LIT(out, "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
                        "</D:lockentry><D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/>"
                        "</D:locktype></D:lockentry>");
    } else if (HS_IOV_EQ(n, "lockdiscovery")) {
        if (fs->store) {
            hs__dav_lock_t *locks;
            size_t nl;
            int r = hs__dav_lock_list(fs->store, a, rel, 0, now, &locks, &nl);
            if (r != HS_OK)
                return r == -EBUSY ? 503 : 500;
            for (size_t i = 0; i < nl; i++)
                hs__dav_xml_activelock(out, fs, &locks[i], now);
        }
    } else if (HS_IOV_EQ(n, "quota-available-bytes") || HS_IOV_EQ(n, "quota-used-bytes")) {
        if (!coll)
            return 404; /* RFC 4331 §3: defined on collections */
        uint64_t used, avail;
        if (hs__dav_quota(fs, &used, &avail) != HS_OK)
            return 500;
        hs_buf_printf(out, "%llu", (unsigned long long)(HS_IOV_EQ(n, "quota-used-bytes") ? used : avail));
    } else if (HS_IOV_EQ(n, "resource-id")) {
        resource_id(out, st);
    } else if (HS_IOV_EQ(n, "parent-set")) {
        if (rel[0]) { /* the binding this path names: RFC 5842 §3.2 */
            const char *slash = strrchr(rel, '/');
            char *parent = hs_arena_strndup(a, rel, slash ? (size_t)(slash - rel) : 0);
            const char *seg = slash ? slash + 1 : rel;
            HS_BUF_LIT(out, "<D:parent>");
            put_href_path(out, hs__dav_href(a, fs, parent, true));
            HS_BUF_LIT(out, "<D:segment>");
            hs__dav_xml_escape(out, seg, strlen(seg), false);
            HS_BUF_LIT(out, "</D:segment></D:parent>");
        }
    } else {
        return 404;
    }
    return 200;
}
