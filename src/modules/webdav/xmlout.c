/* statusd — WebDAV response bodies (see xml.h): escaping, property-value fragments, hrefs,
 * multistatus written response by response, DAV:error bodies.
 *
 * Namespaces: the writer never declares a default namespace. DAV: elements use the prefix D
 * (declared once, on the root element); a property in any other namespace declares its own
 * prefix on itself, and one in the null namespace is written unprefixed — correct because no
 * default namespace is in scope anywhere (litmus propnullns). A stored property value is a
 * fragment that relies on exactly that: no default namespace where it is placed.
 *
 * Nothing is accumulated beyond what the caller's buffer holds: a caller streaming a large
 * multistatus sends and empties the buffer between responses. */
#include "xml.h"

#include "hs/codec.h"
#include "hs/status.h"

void hs__dav_xml_escape(hs_buf_t *b, const char *s, size_t n, bool attr)
{
    size_t run = 0; /* bytes copied as they are, flushed in one append */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break; /* never "]]>" in text */
        case '"': rep = attr ? "&quot;" : NULL; break;
        case '\r': rep = "&#13;"; break;              /* survives end-of-line normalisation (XML 1.0 §2.11) */
        case '\t': rep = attr ? "&#9;" : NULL; break; /* survives attribute value normalisation */
        case '\n': rep = attr ? "&#10;" : NULL; break;
        default:
            if (c < 0x20)
                rep = "\xef\xbf\xbd"; /* XML 1.0 cannot carry this byte even as a reference */
        }
        if (!rep) {
            run++;
            continue;
        }
        if (run)
            hs_buf_append(b, s + i - run, run);
        run = 0;
        hs_buf_append(b, rep, strlen(rep));
    }
    if (run)
        hs_buf_append(b, s + n - run, run);
}

static void put_iov(hs_buf_t *b, hs_iovec_t v)
{
    if (v.len)
        hs_buf_append(b, v.base, v.len);
}

static void frag_node(hs_buf_t *b, const hs__dav_xnode_t *n, hs_iovec_t dflt)
{
    if (n->is_text) {
        hs__dav_xml_escape(b, n->text.base, n->text.len, false);
        return;
    }
    HS_BUF_LIT(b, "<");
    put_iov(b, n->q.name);
    if (!(n->q.ns.len == dflt.len && memcmp(n->q.ns.base, dflt.base, dflt.len) == 0)) {
        HS_BUF_LIT(b, " xmlns=\"");
        hs__dav_xml_escape(b, n->q.ns.base, n->q.ns.len, true);
        HS_BUF_LIT(b, "\"");
        dflt = n->q.ns;
    }
    /* namespaced attributes: a prefix each, declared here (a0, a1 … distinct per namespace) */
    for (size_t i = 0; i < n->nattrs; i++) {
        const hs__dav_xattr_t *t = &n->attrs[i];
        HS_BUF_LIT(b, " ");
        if (HS_IOV_EQ(t->q.ns, HS__DAV_XML_NS)) {
            HS_BUF_LIT(b, "xml:");
        } else if (t->q.ns.len) {
            size_t k = i;
            for (size_t j = 0; j < i; j++)
                if (hs_iov_eq(n->attrs[j].q.ns, t->q.ns.base, t->q.ns.len)) {
                    k = j;
                    break;
                }
            if (k == i) {
                hs_buf_printf(b, "xmlns:a%zu=\"", k);
                hs__dav_xml_escape(b, t->q.ns.base, t->q.ns.len, true);
                HS_BUF_LIT(b, "\" ");
            }
            hs_buf_printf(b, "a%zu:", k);
        }
        put_iov(b, t->q.name);
        HS_BUF_LIT(b, "=\"");
        hs__dav_xml_escape(b, t->value.base, t->value.len, true);
        HS_BUF_LIT(b, "\"");
    }
    if (!n->first) {
        HS_BUF_LIT(b, "/>");
        return;
    }
    HS_BUF_LIT(b, ">");
    for (const hs__dav_xnode_t *c = n->first; c; c = c->next)
        frag_node(b, c, dflt);
    HS_BUF_LIT(b, "</");
    put_iov(b, n->q.name);
    HS_BUF_LIT(b, ">");
}

void hs__dav_xml_fragment(hs_buf_t *b, const hs__dav_xnode_t *e)
{
    for (const hs__dav_xnode_t *c = e->first; c; c = c->next)
        frag_node(b, c, hs_iov("", 0));
}

void hs__dav_xml_href(hs_buf_t *b, hs_iovec_t path)
{
    if (hs_buf_reserve(b, 3 * path.len + 1, SIZE_MAX / 2) != HS_OK)
        hs__oom(3 * path.len + 1);
    b->len += hs_pct_encode(b->base + b->len, path.base, path.len, HS_PCT_KEEP_SLASH);
}

void hs__dav_xml_status_line(hs_buf_t *b, int status)
{
    hs_buf_printf(b, "HTTP/1.1 %d %s", status, hs_status_reason(status));
}

/* ---- multistatus ---- */

static void put_href(hs_buf_t *b, hs_iovec_t href)
{
    HS_BUF_LIT(b, "<D:href>");
    hs__dav_xml_href(b, href);
    HS_BUF_LIT(b, "</D:href>");
}

static void put_status(hs_buf_t *b, int status, const char *error, const char *desc)
{
    HS_BUF_LIT(b, "<D:status>");
    hs__dav_xml_status_line(b, status);
    HS_BUF_LIT(b, "</D:status>");
    if (error)
        hs_buf_printf(b, "<D:error><D:%s/></D:error>", error);
    if (desc) {
        HS_BUF_LIT(b, "<D:responsedescription>");
        hs__dav_xml_escape(b, desc, strlen(desc), false);
        HS_BUF_LIT(b, "</D:responsedescription>");
    }
}

void hs__dav_ms_begin(hs__dav_ms_t *m, hs_buf_t *b)
{
    *m = (hs__dav_ms_t){.b = b};
    HS_BUF_LIT(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\">\n");
}

void hs__dav_ms_status(hs__dav_ms_t *m, hs_iovec_t href, int status, const char *error, const char *desc)
{
    HS_BUF_LIT(m->b, "<D:response>");
    put_href(m->b, href);
    put_status(m->b, status, error, desc);
    HS_BUF_LIT(m->b, "</D:response>\n");
}

void hs__dav_ms_response_begin(hs__dav_ms_t *m, hs_iovec_t href)
{
    HS_BUF_LIT(m->b, "<D:response>");
    put_href(m->b, href);
    m->state = 1;
}

void hs__dav_ms_propstat_begin(hs__dav_ms_t *m)
{
    HS_BUF_LIT(m->b, "<D:propstat><D:prop>");
    m->state = 2;
}

void hs__dav_ms_prop(hs__dav_ms_t *m, const hs__dav_qname_t *q, hs_iovec_t lang, hs_iovec_t value)
{
    hs_buf_t *b = m->b;
    bool dav = HS_IOV_EQ(q->ns, HS__DAV_NS), nons = q->ns.len == 0;
    HS_BUF_LIT(b, "<");
    if (dav)
        HS_BUF_LIT(b, "D:");
    else if (!nons)
        HS_BUF_LIT(b, "ns0:");
    put_iov(b, q->name);
    if (!dav && !nons) {
        HS_BUF_LIT(b, " xmlns:ns0=\"");
        hs__dav_xml_escape(b, q->ns.base, q->ns.len, true);
        HS_BUF_LIT(b, "\"");
    }
    if (lang.base) {
        HS_BUF_LIT(b, " xml:lang=\"");
        hs__dav_xml_escape(b, lang.base, lang.len, true);
        HS_BUF_LIT(b, "\"");
    }
    if (!value.base || !value.len) {
        HS_BUF_LIT(b, "/>");
        return;
    }
    HS_BUF_LIT(b, ">");
    put_iov(b, value);
    HS_BUF_LIT(b, "</");
    if (dav)
        HS_BUF_LIT(b, "D:");
    else if (!nons)
        HS_BUF_LIT(b, "ns0:");
    put_iov(b, q->name);
    HS_BUF_LIT(b, ">");
}

void hs__dav_ms_propstat_end(hs__dav_ms_t *m, int status, const char *error, const char *desc)
{
    HS_BUF_LIT(m->b, "</D:prop>");
    put_status(m->b, status, error, desc);
    HS_BUF_LIT(m->b, "</D:propstat>");
    m->state = 1;
}

void hs__dav_ms_response_end(hs__dav_ms_t *m, const char *desc)
{
    if (desc) {
        HS_BUF_LIT(m->b, "<D:responsedescription>");
        hs__dav_xml_escape(m->b, desc, strlen(desc), false);
        HS_BUF_LIT(m->b, "</D:responsedescription>");
    }
    HS_BUF_LIT(m->b, "</D:response>\n");
    m->state = 0;
}

void hs__dav_ms_end(hs__dav_ms_t *m)
{
    HS_BUF_LIT(m->b, "</D:multistatus>\n");
}

void hs__dav_xml_error(hs_buf_t *b, const char *condition, const hs_iovec_t *hrefs, size_t n)
{
    HS_BUF_LIT(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error xmlns:D=\"DAV:\">");
    if (n == 0) {
        hs_buf_printf(b, "<D:%s/>", condition);
    } else {
        hs_buf_printf(b, "<D:%s>", condition);
        for (size_t i = 0; i < n; i++)
            put_href(b, hrefs[i]);
        hs_buf_printf(b, "</D:%s>", condition);
    }
    HS_BUF_LIT(b, "</D:error>\n");
}
