/* statusd — transforming relayed responses: gzip on the fly (proxy.compress), and the status that
 * says so (proxy.mark_transformed: 203 Non-Authoritative Information, RFC 9110 §15.3.4).
 *
 * A relayed 200 is compressed when every one of these holds: the client accepts gzip (RFC 9110
 * §12.5.3: gzip or x-gzip or "*" with a weight above 0), the upstream did not code it already
 * (no Content-Encoding) and did not forbid transforming it (RFC 9111 §5.2.2.6: Cache-Control:
 * no-transform), its type is text-like, it has a body (not HEAD, not empty) and it is not a
 * range. The response then goes out chunked with Content-Encoding: gzip, Vary naming
 * Accept-Encoding, and a weak ETag (RFC 9110 §8.8.1: the bytes are not the origin's). The work
 * happens on the worker as bytes arrive (level 4, a proxy's compromise between bytes and CPU);
 * zlib's state lives until the response ends. */
#define _GNU_SOURCE
#include "proxy.h"

#include <stdlib.h>
#include <zlib.h>

#define GZIP_LEVEL 4
#define GZIP_MIN 256 /* a smaller Content-Length is not worth a gzip header and a state */

static bool text_like(hs_iovec_t ct)
{
    size_t end = 0;
    while (end < ct.len && ct.base[end] != ';' && ct.base[end] != ' ')
        end++;
    hs_iovec_t t = hs_iov(ct.base, end);
    if (t.len >= 5 && hs_iov_ieq(hs_iov(t.base, 5), "text/", 5))
        return true;
    static const char *const types[] = {"application/json",      "application/javascript", "application/xml",
                                        "application/xhtml+xml", "image/svg+xml",          "application/ld+json"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(types); i++)
        if (hs_iov_ieq(t, types[i], strlen(types[i])))
            return true;
    return t.len > 5 && (hs_iov_ieq(hs_iov(t.base + t.len - 5, 5), "+json", 5) ||
                         hs_iov_ieq(hs_iov(t.base + t.len - 4, 4), "+xml", 4));
}

static bool accepts_gzip(const hs_req_t *req)
{
    hs_iovec_t ae = hs_req_header(req, HS_HDR_ACCEPT_ENCODING), el;
    size_t pos = 0;
    int gzip = -1, star = -1;
    while ((el = hs_list_next(ae, &pos)).base) {
        hs_iovec_t v;
        int w = hs_element_weight(el, &v);
        if (w < 0)
            w = 0;
        if (HS_IOV_IEQ(v, "gzip") || HS_IOV_IEQ(v, "x-gzip"))
            gzip = w;
        else if (HS_IOV_EQ(v, "*"))
            star = w;
    }
    return gzip > 0 || (gzip < 0 && star > 0);
}

static hs_iovec_t field(const hs_parsed_res_t *res, const char *lower, size_t n)
{
    for (size_t i = 0; i < res->num_headers; i++)
        if (hs_iov_ieq(res->headers[i].name, lower, n))
            return res->headers[i].value;
    return HS_IOV_NULL;
}

bool hs__proxy_gzip_wanted(const hs_req_t *req, const proxy_conf_t *pc, const hs_parsed_res_t *res,
                           const hs_res_meta_t *meta)
{
    if (!pc->compress || res->status != 200 || req->no_body || meta->framing == HS_FRAMING_NONE ||
        meta->framing == HS_FRAMING_TUNNEL)
        return false;
    if (meta->framing == HS_FRAMING_LENGTH && meta->content_length < GZIP_MIN)
        return false;
    if (field(res, "content-encoding", 16).base || field(res, "content-range", 13).base)
        return false;
    hs_iovec_t cc = field(res, "cache-control", 13), el;
    size_t pos = 0;
    while ((el = hs_list_next(cc, &pos)).base)
        if (HS_IOV_IEQ(el, "no-transform"))
            return false;
    hs_iovec_t ct = field(res, "content-type", 12);
    return ct.base && text_like(ct) && accepts_gzip(req);
}

int hs__proxy_gzip_start(proxy_gzip_t *g, hs_req_t *req)
{
    memset(&g->z, 0, sizeof(g->z));
    if (deflateInit2(&g->z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return HS_ERROR;
    g->on = true;
    /* the representation changes: coded, chunked, varying with Accept-Encoding, weakly tagged */
    HS_RES_HEADER(req, "Content-Encoding", "gzip");
    hs_res_header_t *vary = hs_res_find_header(req, "vary");
    if (!vary)
        HS_RES_HEADER(req, "Vary", "Accept-Encoding");
    else if (!HS_IOV_EQ(vary->value, "*"))
        vary->value = hs_arena_printf(&req->arena, "%.*s, Accept-Encoding", (int)vary->value.len, vary->value.base);
    hs_res_header_t *etag = hs_res_find_header(req, "etag");
    if (etag && !(etag->value.len >= 2 && etag->value.base[0] == 'W' && etag->value.base[1] == '/'))
        etag->value = hs_arena_printf(&req->arena, "W/%.*s", (int)etag->value.len, etag->value.base);
    req->content_length = -1;
    return HS_OK;
}

int hs__proxy_gzip_write(proxy_gzip_t *g, const char *p, size_t n, bool finish, hs_buf_t *out)
{
    g->z.next_in = (unsigned char *)(uintptr_t)p;
    g->z.avail_in = (uInt)n;
    for (;;) {
        hs_buf_reserve(out, 16384, SIZE_MAX);
        g->z.next_out = (unsigned char *)out->base + out->len;
        g->z.avail_out = (uInt)(out->cap - out->len);
        uInt room = g->z.avail_out;
        int r = deflate(&g->z, finish ? Z_FINISH : Z_NO_FLUSH);
        if (r == Z_STREAM_ERROR)
            return HS_ERROR;
        out->len += room - g->z.avail_out;
        if (finish ? r == Z_STREAM_END : (g->z.avail_in == 0 && g->z.avail_out != 0))
            return HS_OK;
    }
}

void hs__proxy_gzip_end(proxy_gzip_t *g)
{
    if (g->on)
        deflateEnd(&g->z);
    g->on = false;
}
