/* statusd — WebDAV XML: request bodies read safely (xml.c, xmlreq.c) and response bodies written
 * as they go (xmlout.c), for RFC 4918 (PROPFIND, PROPPATCH, LOCK, multistatus, error bodies) and
 * RFC 5842 (BIND, UNBIND, REBIND).
 *
 * Reading goes in two steps. The reader turns bytes — fed piece by piece as a streamed body
 * arrives — into a small tree of elements and text in an arena, refusing what a WebDAV body never
 * needs and an attacker would send: any document type declaration (so no entity can be declared,
 * let alone expanded: a "billion laughs" stops at its first line), external resources, nesting
 * deeper than a limit, more nodes or bytes than a limit. Then one interpreter per method checks
 * the tree against RFC 4918 §14 and gives plain C structures.
 *
 * The statuses the reader and interpreters return are the ones the caller should send:
 *   400  not well-formed XML, namespace errors (a prefix bound to ""), a DOCTYPE, nesting over
 *        max_depth, a body the method needs but did not get
 *   413  over max_bytes (checked before the bytes are parsed) or over max_nodes
 *   422  well-formed, but not what the method's body must be (RFC 4918 §11.2): another root
 *        element, a missing or conflicting instruction, a lock type other than write
 * Ownership: everything produced lives in the arena passed in and stays valid as long as it; the
 * reader object itself is released by hs__dav_xml_free (or hs__dav_xml_finish). Strings are
 * UTF-8, NUL-terminated, and carry their length. */
#ifndef HS_DAV_XML_H
#define HS_DAV_XML_H

#include "hs/core.h"

#define HS__DAV_NS "DAV:"
#define HS__DAV_XML_NS "http://www.w3.org/XML/1998/namespace"

/* An expanded name: {ns}name. The null namespace has ns.len == 0 (ns.base is "" then). */
typedef struct hs__dav_qname_s {
    hs_iovec_t ns;
    hs_iovec_t name;
} hs__dav_qname_t;
bool hs__dav_qname_eq(const hs__dav_qname_t *a, const hs__dav_qname_t *b);
/* Is q {DAV:}name? */
bool hs__dav_is_dav(const hs__dav_qname_t *q, const char *name);

/* ---- The tree ---- */
typedef struct hs__dav_xattr_s {
    hs__dav_qname_t q; /* an unprefixed attribute has the null namespace */
    hs_iovec_t value;  /* as the application sees it: references replaced, whitespace normalised */
} hs__dav_xattr_t;

typedef struct hs__dav_xnode_s hs__dav_xnode_t;
struct hs__dav_xnode_s {
    hs__dav_xnode_t *parent, *first, *next; /* children in document order */
    hs__dav_xnode_t *last;                  /* the last child (the reader appends there) */
    bool is_text;                           /* a run of character data (CDATA included) */
    hs__dav_qname_t q;                      /* elements only */
    hs_iovec_t text;                        /* text nodes only */
    hs__dav_xattr_t *attrs;                 /* elements only */
    size_t nattrs;
    hs_iovec_t lang; /* the xml:lang in scope (the element's own or inherited); NULL base: none */
};
/* The first child element {ns}name of e, or NULL. */
const hs__dav_xnode_t *hs__dav_xml_child(const hs__dav_xnode_t *e, const char *ns, const char *name);
/* The concatenated text of e's text children, trimmed of XML whitespace, in the arena. */
hs_iovec_t hs__dav_xml_text(hs_arena_t *a, const hs__dav_xnode_t *e);
/* Does e have an element child (true) or non-whitespace text? */
bool hs__dav_xml_has_content(const hs__dav_xnode_t *e);

/* ---- Reading ---- */
typedef struct hs__dav_xml_limits_s {
    size_t max_bytes;   /* body bytes; 0: HS__DAV_XML_MAX_BYTES */
    unsigned max_depth; /* element nesting; 0: HS__DAV_XML_MAX_DEPTH */
    size_t max_nodes;   /* elements, attributes and text runs; 0: HS__DAV_XML_MAX_NODES */
} hs__dav_xml_limits_t;
#define HS__DAV_XML_MAX_BYTES (1u << 20)
#define HS__DAV_XML_MAX_DEPTH 64
#define HS__DAV_XML_MAX_NODES 50000

typedef struct hs__dav_xml_s hs__dav_xml_t;
/* A reader whose tree goes into `a` (limits copied; NULL for the defaults). Never NULL (small
 * allocations abort). */
hs__dav_xml_t *hs__dav_xml_new(hs_arena_t *a, const hs__dav_xml_limits_t *limits);
/* Parse the next piece of the body. 0 to go on, or a status (400/413) with *detail set; after a
 * status every later call returns it again and nothing more is parsed. */
int hs__dav_xml_feed(hs__dav_xml_t *x, const char *data, size_t len, const char **detail);
/* The body is complete: 0 with *root the document element (NULL when the body was empty: zero
 * bytes), or 400/413 with *detail. Releases the reader in every case (x is gone after). */
int hs__dav_xml_finish(hs__dav_xml_t *x, const hs__dav_xnode_t **root, const char **detail);
/* Release a reader that will not be finished (the request ended). NULL is fine. */
void hs__dav_xml_free(hs__dav_xml_t *x);
/* new + feed + finish for a body held in memory. */
int hs__dav_xml_parse(hs_arena_t *a, const char *p, size_t n, const hs__dav_xml_limits_t *limits,
                      const hs__dav_xnode_t **root, const char **detail);

/* ---- Method bodies (xmlreq.c): 0, or 400/422 with *detail; root NULL is an empty body ---- */

/* PROPFIND (RFC 4918 §9.1, §14.20): an empty body is allprop. Unknown elements are ignored
 * (§17); exactly one of propname, allprop, prop; include only beside allprop. */
enum { HS__DAV_PF_ALLPROP, HS__DAV_PF_PROPNAME, HS__DAV_PF_PROP };
typedef struct hs__dav_propfind_s {
    int kind;
    hs__dav_qname_t *names; /* PROP: the properties asked for; ALLPROP: those of DAV:include */
    size_t n;               /* duplicates removed, document order kept */
} hs__dav_propfind_t;
int hs__dav_read_propfind(hs_arena_t *a, const hs__dav_xnode_t *root, hs__dav_propfind_t *out, const char **detail);

/* PROPPATCH (RFC 4918 §9.2, §14.19): the instructions in document order, to be applied in that
 * order, all or none. A value is the property element's content as a self-contained XML
 * fragment (hs__dav_xml_fragment): namespaces, the null namespace, attributes and mixed
 * content kept (§4.3, §4.4), to be written back verbatim inside the property element. */
typedef struct hs__dav_propop_s {
    bool remove;
    hs__dav_qname_t name;
    hs_iovec_t lang;  /* xml:lang in scope on the property element (§4.3); NULL base: none */
    hs_iovec_t value; /* set only: the fragment ("" for an empty property) */
} hs__dav_propop_t;
typedef struct hs__dav_proppatch_s {
    hs__dav_propop_t *ops;
    size_t n;
} hs__dav_proppatch_t;
int hs__dav_read_proppatch(hs_arena_t *a, const hs__dav_xnode_t *root, hs__dav_proppatch_t *out, const char **detail);

/* LOCK (RFC 4918 §9.10, §14.11): a lockinfo with lockscope (exclusive or shared), locktype
 * (write, the only one) and an optional owner, kept as a fragment. An empty body (root NULL) is
 * a refresh: the caller decides before calling this. */
typedef struct hs__dav_lockinfo_s {
    bool exclusive;
    hs_iovec_t owner; /* the owner element's content as a fragment; NULL base: no owner */
} hs__dav_lockinfo_t;
int hs__dav_read_lockinfo(hs_arena_t *a, const hs__dav_xnode_t *root, hs__dav_lockinfo_t *out, const char **detail);

/* BIND, REBIND, UNBIND (RFC 5842 §4.1, §5.1, §6.1): a segment (one path segment: not empty,
 * no '/', not "." or "..") and, except for UNBIND, an href (as written: resolve it like a
 * Destination with hs__dav_destination). */
enum { HS__DAV_BIND, HS__DAV_REBIND, HS__DAV_UNBIND };
typedef struct hs__dav_bind_s {
    hs_iovec_t segment;
    hs_iovec_t href; /* NULL base for UNBIND */
} hs__dav_bind_t;
int hs__dav_read_bind(hs_arena_t *a, const hs__dav_xnode_t *root, int kind, hs__dav_bind_t *out, const char **detail);

/* ---- Writing (xmlout.c): appends to the caller's buffer; small appends abort on OOM ---- */

/* s[0..n) as XML character data (attr: also fit for a double-quoted attribute value). Bytes
 * that XML 1.0 cannot carry at all (C0 controls other than TAB, LF, CR) are written as U+FFFD. */
void hs__dav_xml_escape(hs_buf_t *b, const char *s, size_t n, bool attr);
/* The content of element e as a fragment that reads the same wherever it is placed in a
 * document whose default namespace there is none: each element names its namespace with a
 * default namespace declaration where it changes, each namespaced attribute with a prefix
 * declared on its element. */
void hs__dav_xml_fragment(hs_buf_t *b, const hs__dav_xnode_t *e);
/* An href's text: the path (decoded bytes) percent-encoded but for unreserved bytes and '/'. */
void hs__dav_xml_href(hs_buf_t *b, hs_iovec_t path);

/* A multistatus body (RFC 4918 §13, §14.16), written response by response. The caller may send
 * and empty the buffer between any two calls (hs_res_stream_write then b->len = 0): nothing is
 * held back, so a Depth: 1 PROPFIND of any size needs one response's worth of memory. Element
 * names use the prefix D for DAV:; other namespaces are declared where used. */
typedef struct hs__dav_ms_s {
    hs_buf_t *b;
    int state; /* 0 outside a response, 1 in one, 2 in a propstat's prop */
} hs__dav_ms_t;
void hs__dav_ms_begin(hs__dav_ms_t *m, hs_buf_t *b);
/* A response that is a status for hrefs (RFC 4918 §14.24), optionally with an error condition
 * (a {DAV:} element name such as "lock-token-submitted", NULL for none) and a description. */
void hs__dav_ms_status(hs__dav_ms_t *m, hs_iovec_t href, int status, const char *error, const char *desc);
/* A response with propstats: begin, then for each status a propstat_begin, props, propstat_end,
 * then response_end. */
void hs__dav_ms_response_begin(hs__dav_ms_t *m, hs_iovec_t href);
void hs__dav_ms_propstat_begin(hs__dav_ms_t *m);
/* One property: its element, xml:lang when lang has a base, the fragment `value` inside (NULL
 * base: an empty element, as in propname answers and for failed properties). */
void hs__dav_ms_prop(hs__dav_ms_t *m, const hs__dav_qname_t *q, hs_iovec_t lang, hs_iovec_t value);
void hs__dav_ms_propstat_end(hs__dav_ms_t *m, int status, const char *error, const char *desc);
void hs__dav_ms_response_end(hs__dav_ms_t *m, const char *desc);
void hs__dav_ms_end(hs__dav_ms_t *m);

/* A DAV:error body (RFC 4918 §16): <D:error><D:condition>hrefs…</D:condition></D:error>, such
 * as lock-token-submitted (with the locked resources' hrefs), no-conflicting-lock (with the
 * conflicting lock's root), propfind-finite-depth, cannot-modify-protected-property. */
void hs__dav_xml_error(hs_buf_t *b, const char *condition, const hs_iovec_t *hrefs, size_t n);
/* The status line text of a status inside a body: "HTTP/1.1 424 Failed Dependency". */
void hs__dav_xml_status_line(hs_buf_t *b, int status);

#endif
