/* statusd — WebDAV request bodies as the methods mean them (see xml.h): PROPFIND, PROPPATCH,
 * LOCK, BIND/REBIND/UNBIND.
 *
 * The reader has already refused what is not XML (400); here a well-formed body that is not the
 * body the method defines is a 422 (RFC 4918 §11.2: "well-formed ... but semantically
 * erroneous"). Elements the method does not define are ignored wherever RFC 4918 §17 asks for
 * it ("ignore any unknown XML element and all its children"), so a later extension of a body
 * never turns into an error. */
#include "xml.h"

static bool is_dav_el(const hs__dav_xnode_t *n, const char *name)
{
    return !n->is_text && hs__dav_is_dav(&n->q, name);
}

/* The property names inside a DAV:prop or DAV:include, duplicates left out. */
static void collect_names(hs_arena_t *a, const hs__dav_xnode_t *parent, hs__dav_qname_t **out, size_t *n)
{
    size_t cap = 0;
    for (const hs__dav_xnode_t *c = parent->first; c; c = c->next)
        cap += !c->is_text;
    *out = cap ? hs_arena_alloc(a, cap * sizeof(**out)) : NULL;
    *n = 0;
    for (const hs__dav_xnode_t *c = parent->first; c; c = c->next) {
        if (c->is_text)
            continue;
        bool dup = false;
        for (size_t i = 0; i < *n && !dup; i++)
            dup = hs__dav_qname_eq(&(*out)[i], &c->q);
        if (!dup)
            (*out)[(*n)++] = c->q; /* the tree lives in the arena: shared, not copied */
    }
}

int hs__dav_read_propfind(hs_arena_t *a, const hs__dav_xnode_t *root, hs__dav_propfind_t *out, const char **detail)
{
    *out = (hs__dav_propfind_t){.kind = HS__DAV_PF_ALLPROP};
    if (!root) /* RFC 4918 §9.1: an empty body MUST be treated as an allprop request */
        return 0;
    if (!hs__dav_is_dav(&root->q, "propfind")) {
        *detail = "the PROPFIND body's root element is not DAV:propfind (RFC 4918 §14.20)";
        return 422;
    }
    const hs__dav_xnode_t *prop = NULL, *allprop = NULL, *propname = NULL, *include = NULL;
    for (const hs__dav_xnode_t *c = root->first; c; c = c->next) {
        const hs__dav_xnode_t **slot = NULL;
        if (is_dav_el(c, "prop"))
            slot = &prop;
        else if (is_dav_el(c, "allprop"))
            slot = &allprop;
        else if (is_dav_el(c, "propname"))
            slot = &propname;
        else if (is_dav_el(c, "include"))
            slot = &include;
        else
            continue; /* §17: unknown elements are ignored (litmus propextended) */
        if (*slot) {
            *detail = "the PROPFIND body repeats an element that may appear once (RFC 4918 §14.20)";
            return 422;
        }
        *slot = c;
    }
    int kinds = !!prop + !!allprop + !!propname;
    if (kinds != 1) {
        *detail = kinds ? "the PROPFIND body asks for more than one of prop, allprop and propname (RFC 4918 §14.20)"
                        : "the PROPFIND body has none of prop, allprop and propname (RFC 4918 §14.20)";
        return 422;
    }
    if (include && !allprop) {
        *detail = "DAV:include is only allowed beside DAV:allprop (RFC 4918 §14.8)";
        return 422;
    }
    if (propname) {
        out->kind = HS__DAV_PF_PROPNAME;
    } else if (allprop) {
        out->kind = HS__DAV_PF_ALLPROP;
        if (include)
            collect_names(a, include, &out->names, &out->n);
    } else {
        out->kind = HS__DAV_PF_PROP;
        collect_names(a, prop, &out->names, &out->n);
    }
    return 0;
}

/* The fragment of an element's content, in the arena. */
static hs_iovec_t fragment(hs_arena_t *a, const hs__dav_xnode_t *e)
{
    hs_buf_t b = {0};
    hs__dav_xml_fragment(&b, e);
    hs_iovec_t v = hs_iov(hs_arena_strndup(a, b.base ? b.base : "", b.len), b.len);
    hs_buf_free(&b);
    return v;
}

int hs__dav_read_proppatch(hs_arena_t *a, const hs__dav_xnode_t *root, hs__dav_proppatch_t *out, const char **detail)
{
    *out = (hs__dav_proppatch_t){0};
    if (!root) {
        *detail = "PROPPATCH needs a DAV:propertyupdate body (RFC 4918 §9.2)";
        return 400;
    }
    if (!hs__dav_is_dav(&root->q, "propertyupdate")) {
        *detail = "the PROPPATCH body's root element is not DAV:propertyupdate (RFC 4918 §14.19)";
        return 422;
    }
    size_t cap = 0;
    for (const hs__dav_xnode_t *c = root->first; c; c = c->next) {
        if (!is_dav_el(c, "set") && !is_dav_el(c, "remove"))
            continue;
        const hs__dav_xnode_t *prop = hs__dav_xml_child(c, HS__DAV_NS, "prop");
        if (!prop) {
            *detail = "a DAV:set or DAV:remove instruction has no DAV:prop (RFC 4918 §14.23, §14.26)";
            return 422;
        }
        size_t k = 0;
        for (const hs__dav_xnode_t *p = prop->first; p; p = p->next)
            k += !p->is_text;
        if (k == 0) {
            *detail = "a DAV:set or DAV:remove instruction names no property (RFC 4918 §14.19)";
            return 422;
        }
        cap += k;
    }
    if (cap == 0) {
        *detail = "the DAV:propertyupdate body has no set or remove instruction (RFC 4918 §14.19)";
        return 422;
    }
    out->ops = hs_arena_alloc(a, cap * sizeof(*out->ops));
    /* §9.2: instructions are processed in document order — one flat list keeps that order */
    for (const hs__dav_xnode_t *c = root->first; c; c = c->next) {
        bool remove = is_dav_el(c, "remove");
        if (!remove && !is_dav_el(c, "set"))
            continue;
        const hs__dav_xnode_t *prop = hs__dav_xml_child(c, HS__DAV_NS, "prop");
        for (const hs__dav_xnode_t *p = prop->first; p; p = p->next) {
            if (p->is_text)
                continue;
            hs__dav_propop_t *op = &out->ops[out->n++];
            *op = (hs__dav_propop_t){.remove = remove, .name = p->q, .lang = p->lang};
            op->value = remove ? HS_IOV_NULL : fragment(a, p);
        }
    }
    return 0;
}

int hs__dav_read_lockinfo(hs_arena_t *a, const hs__dav_xnode_t *root, hs__dav_lockinfo_t *out, const char **detail)
{
    *out = (hs__dav_lockinfo_t){.owner = HS_IOV_NULL};
    if (!root) {
        *detail = "a LOCK that is not a refresh needs a DAV:lockinfo body (RFC 4918 §9.10)";
        return 400;
    }
    if (!hs__dav_is_dav(&root->q, "lockinfo")) {
        *detail = "the LOCK body's root element is not DAV:lockinfo (RFC 4918 §14.11)";
        return 422;
    }
    const hs__dav_xnode_t *scope = hs__dav_xml_child(root, HS__DAV_NS, "lockscope");
    const hs__dav_xnode_t *type = hs__dav_xml_child(root, HS__DAV_NS, "locktype");
    const hs__dav_xnode_t *owner = hs__dav_xml_child(root, HS__DAV_NS, "owner");
    if (!scope || !type) {
        *detail = "DAV:lockinfo needs DAV:lockscope and DAV:locktype (RFC 4918 §14.11)";
        return 422;
    }
    bool excl = hs__dav_xml_child(scope, HS__DAV_NS, "exclusive") != NULL;
    bool shared = hs__dav_xml_child(scope, HS__DAV_NS, "shared") != NULL;
    if (excl == shared) {
        *detail = "DAV:lockscope must hold exactly one of DAV:exclusive and DAV:shared (RFC 4918 §14.13)";
        return 422;
    }
    if (!hs__dav_xml_child(type, HS__DAV_NS, "write")) {
        *detail = "the only lock type is DAV:write (RFC 4918 §14.15)";
        return 422;
    }
    out->exclusive = excl;
    if (owner)
        out->owner = fragment(a, owner);
    return 0;
}

int hs__dav_read_bind(hs_arena_t *a, const hs__dav_xnode_t *root, int kind, hs__dav_bind_t *out, const char **detail)
{
    static const char *const names[] = {"bind", "rebind", "unbind"};
    *out = (hs__dav_bind_t){.href = HS_IOV_NULL};
    if (!root) {
        *detail = "BIND, REBIND and UNBIND need an XML body (RFC 5842 §4, §5, §6)";
        return 400;
    }
    if (!hs__dav_is_dav(&root->q, names[kind])) {
        *detail = kind == HS__DAV_BIND     ? "the BIND body's root element is not DAV:bind (RFC 5842 §4.1)"
                  : kind == HS__DAV_REBIND ? "the REBIND body's root element is not DAV:rebind (RFC 5842 §6.1)"
                                           : "the UNBIND body's root element is not DAV:unbind (RFC 5842 §5.1)";
        return 422;
    }
    const hs__dav_xnode_t *seg = hs__dav_xml_child(root, HS__DAV_NS, "segment");
    if (!seg) {
        *detail = "the body has no DAV:segment (RFC 5842 §4.1)";
        return 422;
    }
    /* the segment is text only; a name with a slash or a dot segment names no single binding */
    for (const hs__dav_xnode_t *c = seg->first; c; c = c->next)
        if (!c->is_text) {
            *detail = "DAV:segment holds text only (RFC 5842 §4.1)";
            return 422;
        }
    out->segment = hs__dav_xml_text(a, seg);
    hs_iovec_t s = out->segment;
    if (s.len == 0 || memchr(s.base, '/', s.len) || HS_IOV_EQ(s, ".") || HS_IOV_EQ(s, "..")) {
        *detail = "DAV:segment must be one path segment: not empty, no '/', not '.' or '..' (RFC 5842 §4.1)";
        return 422;
    }
    if (kind != HS__DAV_UNBIND) {
        const hs__dav_xnode_t *href = hs__dav_xml_child(root, HS__DAV_NS, "href");
        if (!href) {
            *detail = "the body has no DAV:href (RFC 5842 §4.1, §6.1)";
            return 422;
        }
        out->href = hs__dav_xml_text(a, href);
        if (out->href.len == 0) {
            *detail = "DAV:href is empty";
            return 422;
        }
    }
    return 0;
}
