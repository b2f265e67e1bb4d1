/* statusd — WebDAV request bodies: bytes to a small element tree, safely (see xml.h).
 *
 * libxml2's push parser reads the body piece by piece as it arrives, so a body is never held
 * whole before parsing starts and every limit is checked as it is reached. Our own SAX2
 * callbacks build the tree in the request's arena; libxml2 builds no document of its own.
 *
 * What makes it safe to parse a stranger's XML (RFC 4918 §20.6, "Implications of XML Entities"):
 *   - No document type declaration is accepted. The internalSubset callback stops the parser as
 *     soon as "<!DOCTYPE name" has been read, before any markup declaration inside it: no entity
 *     can be declared, so none can be expanded (billion laughs, quadratic blow-up) and no
 *     external subset or entity is ever fetched (XXE). WebDAV bodies never need one.
 *   - XML_PARSE_NOENT (substitution) and XML_PARSE_DTDLOAD stay off; XML_PARSE_NONET is on; the
 *     references left are the five predefined entities and character references.
 *   - XML_PARSE_HUGE stays off, so libxml2's own caps on names and text hold as well.
 *   - Bytes are counted before they are handed to libxml2 (413 above max_bytes); elements,
 *     attributes and text runs are counted as they are made (413 above max_nodes), nesting as
 *     elements open (400 above max_depth). The tree cannot outgrow the body by more than a
 *     node's size per counted node, and text is never longer than the bytes it came from.
 *   - Errors go to a structured-error callback of this parser only: nothing is printed, and no
 *     global handler is touched (other threads parse at the same time).
 * Namespace errors (a prefix bound to "", an undeclared prefix) leave libxml2's wellFormed flag
 * set but clear nsWellFormed; such a body is not namespace-well-formed, so it is a 400 as well
 * (litmus propfind_invalid2). */
#include "xml.h"

#include "hs/codec.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <pthread.h>

struct hs__dav_xml_s {
    xmlParserCtxtPtr ctxt;
    hs_arena_t *a;
    hs__dav_xml_limits_t lim;
    size_t bytes, nodes;
    unsigned depth;
    int status; /* 0, or the status the body has earned (sticky) */
    const char *detail;
    const char *xml_error; /* libxml2's first error message, in the arena */
    bool ns_error;         /* a namespace error that makes the body not namespace-well-formed */
    hs__dav_xnode_t *root, *cur;
    hs_buf_t text; /* character data not yet made a text node */
};

bool hs__dav_qname_eq(const hs__dav_qname_t *a, const hs__dav_qname_t *b)
{
    return a->name.len == b->name.len && a->ns.len == b->ns.len &&
           memcmp(a->name.base, b->name.base, a->name.len) == 0 &&
           (a->ns.len == 0 || memcmp(a->ns.base, b->ns.base, a->ns.len) == 0);
}

bool hs__dav_is_dav(const hs__dav_qname_t *q, const char *name)
{
    size_t n = strlen(name);
    return HS_IOV_EQ(q->ns, HS__DAV_NS) && q->name.len == n && memcmp(q->name.base, name, n) == 0;
}

const hs__dav_xnode_t *hs__dav_xml_child(const hs__dav_xnode_t *e, const char *ns, const char *name)
{
    size_t nl = strlen(ns), ml = strlen(name);
    for (const hs__dav_xnode_t *c = e ? e->first : NULL; c; c = c->next)
        if (!c->is_text && hs_iov_eq(c->q.ns, ns, nl) && hs_iov_eq(c->q.name, name, ml))
            return c;
    return NULL;
}

static bool xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

hs_iovec_t hs__dav_xml_text(hs_arena_t *a, const hs__dav_xnode_t *e)
{
    size_t n = 0;
    for (const hs__dav_xnode_t *c = e->first; c; c = c->next)
        if (c->is_text)
            n += c->text.len;
    char *out = hs_arena_alloc(a, n + 1), *p = out;
    for (const hs__dav_xnode_t *c = e->first; c; c = c->next)
        if (c->is_text) {
            memcpy(p, c->text.base, c->text.len);
            p += c->text.len;
        }
    char *s = out;
    while (s < p && xml_space(*s))
        s++;
    while (p > s && xml_space(p[-1]))
        p--;
    *p = '\0';
    return hs_iov(s, (size_t)(p - s));
}

bool hs__dav_xml_has_content(const hs__dav_xnode_t *e)
{
    for (const hs__dav_xnode_t *c = e->first; c; c = c->next) {
        if (!c->is_text)
            return true;
        for (size_t i = 0; i < c->text.len; i++)
            if (!xml_space(c->text.base[i]))
                return true;
    }
    return false;
}

/* ---- SAX2 callbacks ---- */

static void fail(hs__dav_xml_t *x, int status, const char *detail)
{
    if (!x->status) {
        x->status = status;
        x->detail = detail;
    }
    xmlStopParser(x->ctxt);
}

static bool count_nodes(hs__dav_xml_t *x, size_t n)
{
    x->nodes += n;
    if (x->nodes > x->lim.max_nodes) {
        fail(x, 413, "the XML body has more elements, attributes and text runs than the server accepts");
        return false;
    }
    return true;
}

/* libxml2 2.9's push parser lets some malformed UTF-8 through inside CDATA sections (an
 * overlong "\xc1\xbb" passes its check as '{'), so every string that reaches the tree is checked
 * again: nothing the writer later copies into a response can be anything but UTF-8. */
static void bad_utf8(hs__dav_xml_t *x)
{
    fail(x, 400, "the XML body is not well-formed UTF-8");
}

static void append_child(hs__dav_xnode_t *parent, hs__dav_xnode_t *n)
{
    n->parent = parent;
    if (parent->last)
        parent->last->next = n;
    else
        parent->first = n;
    parent->last = n;
}

/* The character data gathered since the last tag becomes one text node of the open element. */
static void flush_text(hs__dav_xml_t *x)
{
    if (!x->text.len)
        return;
    if (!hs_utf8_valid(x->text.base, x->text.len)) {
        bad_utf8(x);
        x->text.len = 0;
        return;
    }
    if (x->cur && count_nodes(x, 1)) {
        hs__dav_xnode_t *t = hs_arena_alloc(x->a, sizeof(*t));
        *t = (hs__dav_xnode_t){.is_text = true};
        t->text = hs_iov(hs_arena_strndup(x->a, x->text.base, x->text.len), x->text.len);
        append_child(x->cur, t);
    }
    x->text.len = 0;
}

/* An attribute value (namespace names included) as the SAX2 callbacks pass it while entities
 * are not substituted: every '&' — from "&amp;" or "&#38;" — arrives as the five bytes "&#38;"
 * (libxml2 keeps it escaped for its own tree builder); all other references are already
 * replaced. */
static hs_iovec_t attr_value(hs_arena_t *a, const xmlChar *v, const xmlChar *end)
{
    size_t n = (size_t)(end - v);
    char *out = hs_arena_alloc(a, n + 1), *o = out;
    for (size_t i = 0; i < n;) {
        if (v[i] == '&' && i + 5 <= n && memcmp(v + i, "&#38;", 5) == 0) {
            *o++ = '&';
            i += 5;
        } else {
            *o++ = (char)v[i++];
        }
    }
    *o = '\0';
    return hs_iov(out, (size_t)(o - out));
}

static hs_iovec_t dup_str(hs_arena_t *a, const xmlChar *s)
{
    return s ? attr_value(a, s, s + strlen((const char *)s)) : hs_iov("", 0);
}

static hs_iovec_t dup_name(hs_arena_t *a, const xmlChar *s)
{
    size_t n = strlen((const char *)s);
    return hs_iov(hs_arena_strndup(a, (const char *)s, n), n);
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri, int nb_ns,
                     const xmlChar **namespaces, int nb_attrs, int nb_defaulted, const xmlChar **attrs)
{
    hs__dav_xml_t *x = ((xmlParserCtxtPtr)ctx)->_private;
    if (x->status)
        return;
    flush_text(x);
    if (++x->depth > x->lim.max_depth) {
        fail(x, 400, "the XML body nests elements deeper than the server accepts");
        return;
    }
    if (!count_nodes(x, 1 + (size_t)nb_attrs))
        return;
    hs__dav_xnode_t *e = hs_arena_alloc(x->a, sizeof(*e));
    *e = (hs__dav_xnode_t){0};
    e->q.name = dup_name(x->a, localname);
    e->q.ns = dup_str(x->a, uri);
    e->lang = x->cur ? x->cur->lang : HS_IOV_NULL;
    if (!hs_utf8_valid(e->q.name.base, e->q.name.len) || !hs_utf8_valid(e->q.ns.base, e->q.ns.len)) {
        bad_utf8(x);
        return;
    }
    if (nb_attrs > 0) {
        e->attrs = hs_arena_alloc(x->a, sizeof(*e->attrs) * (size_t)nb_attrs);
        for (int i = 0; i < nb_attrs; i++) {
            const xmlChar **at = attrs + 5 * i; /* localname, prefix, URI, value, end */
            hs__dav_xattr_t *t = &e->attrs[e->nattrs++];
            t->q.name = dup_name(x->a, at[0]);
            t->q.ns = dup_str(x->a, at[2]);
            t->value = attr_value(x->a, at[3], at[4]);
            if (!hs_utf8_valid(t->value.base, t->value.len) || !hs_utf8_valid(t->q.ns.base, t->q.ns.len)) {
                bad_utf8(x);
                return;
            }
            if (HS_IOV_EQ(t->q.ns, HS__DAV_XML_NS) && HS_IOV_EQ(t->q.name, "lang"))
                e->lang = t->value; /* RFC 4918 §4.3: xml:lang in scope is part of the value */
        }
    }
    if (x->cur)
        append_child(x->cur, e);
    else
        x->root = e;
    x->cur = e;
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    hs__dav_xml_t *x = ((xmlParserCtxtPtr)ctx)->_private;
    if (x->status)
        return;
    flush_text(x);
    if (x->cur)
        x->cur = x->cur->parent;
    x->depth--;
}

static void on_chars(void *ctx, const xmlChar *ch, int len)
{
    hs__dav_xml_t *x = ((xmlParserCtxtPtr)ctx)->_private;
    if (x->status || len <= 0 || !x->cur)
        return;
    /* text never outgrows the body it came from (no entity is ever expanded) */
    if (hs_buf_reserve(&x->text, (size_t)len, x->lim.max_bytes + 1) != HS_OK) {
        fail(x, 413, "the XML body is larger than the server accepts");
        return;
    }
    memcpy(x->text.base + x->text.len, ch, (size_t)len);
    x->text.len += (size_t)len;
}

static void on_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
    hs__dav_xml_t *x = ((xmlParserCtxtPtr)ctx)->_private;
    fail(x, 400, "the XML body has a document type declaration, which WebDAV bodies never need (RFC 4918 §20.6)");
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id, const xmlChar *system_id,
                           xmlChar *content)
{
    /* unreachable while on_doctype stops the parser first; a second line of defence */
    hs__dav_xml_t *x = ((xmlParserCtxtPtr)ctx)->_private;
    fail(x, 400, "the XML body declares an entity (RFC 4918 §20.6)");
}

static void on_error(void *user, xmlErrorPtr e)
{
    hs__dav_xml_t *x = ((xmlParserCtxtPtr)user)->_private;
    if (!x || !e || e->level < XML_ERR_ERROR || e->code == XML_ERR_USER_STOP)
        return;
    if (e->domain == XML_FROM_NAMESPACE) {
        /* A namespace name that is not an absolute URI ("urn:é", "foo") is reported as an
         * error but breaks no constraint a reader can rely on: IRIs are namespace names in
         * Namespaces 1.1, and clients store properties in such namespaces. Everything else of
         * this domain (a prefix bound to "", an undeclared prefix) does. */
        if (e->code == XML_WAR_NS_URI || e->code == XML_WAR_NS_URI_RELATIVE)
            return;
        x->ns_error = true;
    }
    if (x->xml_error)
        return;
    const char *msg = e->message ? e->message : "error";
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    x->xml_error = hs_arena_printf(x->a, "the body is not well-formed XML (line %d: %.*s)", e->line, (int)n, msg).base;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void init_libxml(void)
{
    xmlInitParser(); /* its global tables, once, before any thread parses */
}

static xmlSAXHandler sax_handler = {
    .initialized = XML_SAX2_MAGIC,
    .startElementNs = on_start,
    .endElementNs = on_end,
    .characters = on_chars,
    .cdataBlock = on_chars,
    .internalSubset = on_doctype,
    .externalSubset = on_doctype,
    .entityDecl = on_entity_decl,
    .serror = on_error,
};

/* libxml2 reports some errors (input conversion, I/O) through its generic handler, which prints
 * to stderr; a stranger's body must not write to the server's log that way. The handler is
 * per-thread in libxml2, so each thread that parses sets it (nothing else here uses libxml2). */
static void silent(void *ctx, const char *msg, ...) {}

hs__dav_xml_t *hs__dav_xml_new(hs_arena_t *a, const hs__dav_xml_limits_t *limits)
{
    pthread_once(&init_once, init_libxml);
    xmlSetGenericErrorFunc(NULL, silent);
    hs__dav_xml_t *x = hs_calloc(1, sizeof(*x));
    x->a = a;
    if (limits)
        x->lim = *limits;
    if (!x->lim.max_bytes)
        x->lim.max_bytes = HS__DAV_XML_MAX_BYTES;
    if (!x->lim.max_depth)
        x->lim.max_depth = HS__DAV_XML_MAX_DEPTH;
    if (!x->lim.max_nodes)
        x->lim.max_nodes = HS__DAV_XML_MAX_NODES;
    /* user data is the context itself (the SAX2 convention), ours hangs off _private; the
     * structured error callback receives the context too */
    x->ctxt = xmlCreatePushParserCtxt(&sax_handler, NULL, NULL, 0, NULL);
    if (!x->ctxt)
        hs__oom(sizeof(xmlParserCtxt));
    x->ctxt->_private = x;
    x->ctxt->userData = x->ctxt;
    xmlCtxtUseOptions(x->ctxt, XML_PARSE_NONET | XML_PARSE_NOCDATA);
    x->ctxt->replaceEntities = 0;
    x->ctxt->loadsubset = 0;
    x->ctxt->validate = 0;
    return x;
}

void hs__dav_xml_free(hs__dav_xml_t *x)
{
    if (!x)
        return;
    if (x->ctxt)
        xmlFreeParserCtxt(x->ctxt);
    hs_buf_free(&x->text);
    free(x);
}

/* After a chunk: our own verdict first, then libxml2's. */
static int verdict(hs__dav_xml_t *x, int rc, const char **detail)
{
    if (!x->status && (rc != 0 || !x->ctxt->wellFormed)) {
        x->status = 400;
        x->detail = x->xml_error ? x->xml_error : "the body is not well-formed XML";
    }
    if (!x->status && x->ns_error) {
        x->status = 400;
        x->detail = x->xml_error ? x->xml_error : "the XML body breaks the rules of XML namespaces";
    }
    if (x->status)
        *detail = x->detail;
    return x->status;
}

int hs__dav_xml_feed(hs__dav_xml_t *x, const char *data, size_t len, const char **detail)
{
    if (x->status) {
        *detail = x->detail;
        return x->status;
    }
    if (len == 0)
        return 0;
    if (len > x->lim.max_bytes - x->bytes) { /* checked before a byte of it is parsed */
        x->status = 413;
        x->detail = "the XML body is larger than the server accepts";
        *detail = x->detail;
        return x->status;
    }
    x->bytes += len;
    int rc = xmlParseChunk(x->ctxt, data, (int)len, 0);
    return verdict(x, rc, detail);
}

int hs__dav_xml_finish(hs__dav_xml_t *x, const hs__dav_xnode_t **root, const char **detail)
{
    *root = NULL;
    int st = x->status;
    if (!st && x->bytes > 0) {
        int rc = xmlParseChunk(x->ctxt, NULL, 0, 1);
        st = verdict(x, rc, detail);
        if (!st && !x->root) {
            st = 400;
            *detail = "the body is not well-formed XML (no element)";
        }
    } else if (st) {
        *detail = x->detail;
    }
    if (!st)
        *root = x->root;
    hs__dav_xml_free(x);
    return st;
}

int hs__dav_xml_parse(hs_arena_t *a, const char *p, size_t n, const hs__dav_xml_limits_t *limits,
                      const hs__dav_xnode_t **root, const char **detail)
{
    hs__dav_xml_t *x = hs__dav_xml_new(a, limits);
    /* in pieces of at most 64 KiB, as a streamed body would come (and within int) */
    for (size_t off = 0; off < n;) {
        size_t k = HS_MIN(n - off, (size_t)65536);
        if (hs__dav_xml_feed(x, p + off, k, detail))
            break;
        off += k;
    }
    return hs__dav_xml_finish(x, root, detail);
}
