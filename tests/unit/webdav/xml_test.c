/* Unit tests: WebDAV XML (src/modules/webdav/xml.c, xmlreq.c, xmlout.c) — the safe reader and its
 * limits, the method bodies of RFC 4918 / RFC 5842 with their 400/413/422 verdicts, fragments
 * that keep namespaces (null namespace, attributes, non-ASCII), multistatus and error bodies
 * that read back the same. */
#include "../../../src/modules/webdav/xml.h"
#include "tap.h"

#include <stdlib.h>

#define DECL "<?xml version=\"1.0\" encoding=\"utf-8\"?>"

static hs_arena_t A;

static int parse_lim(const char *doc, const hs__dav_xml_limits_t *lim, const hs__dav_xnode_t **root)
{
    const char *detail = NULL;
    int st = hs__dav_xml_parse(&A, doc, strlen(doc), lim, root, &detail);
    if (st && (!detail || !detail[0]))
        printf("# status %d without a detail\n", st);
    return st;
}
static int parse(const char *doc, const hs__dav_xnode_t **root)
{
    return parse_lim(doc, NULL, root);
}
static int status_of(const char *doc)
{
    const hs__dav_xnode_t *r;
    return parse(doc, &r);
}

/* Feed a document one byte at a time: the same verdict as in one piece. */
static int bytewise(const char *doc, const hs__dav_xnode_t **root)
{
    hs__dav_xml_t *x = hs__dav_xml_new(&A, NULL);
    const char *detail = NULL;
    for (size_t i = 0; doc[i]; i++)
        if (hs__dav_xml_feed(x, doc + i, 1, &detail))
            break;
    return hs__dav_xml_finish(x, root, &detail);
}

static int propfind(const char *doc, hs__dav_propfind_t *pf)
{
    const hs__dav_xnode_t *r;
    const char *detail = NULL;
    int st = parse(doc, &r);
    if (st)
        return st;
    return hs__dav_read_propfind(&A, r, pf, &detail);
}

static int proppatch(const char *doc, hs__dav_proppatch_t *pp)
{
    const hs__dav_xnode_t *r;
    const char *detail = NULL;
    int st = parse(doc, &r);
    if (st)
        return st;
    return hs__dav_read_proppatch(&A, r, pp, &detail);
}

static bool qis(const hs__dav_qname_t *q, const char *ns, const char *name)
{
    return hs_iov_eq(q->ns, ns, strlen(ns)) && hs_iov_eq(q->name, name, strlen(name));
}

static void test_reader(void)
{
    const hs__dav_xnode_t *r = NULL;
    is_int(parse(DECL "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>", &r), 0, "a plain document");
    ok(r && qis(&r->q, "DAV:", "propfind") && r->first && qis(&r->first->q, "DAV:", "allprop"), "root and child");
    is_int(parse("", &r), 0, "an empty body is no error");
    ok(r == NULL, "an empty body has no root");
    is_int(status_of(" "), 400, "whitespace only is not a document");
    is_int(status_of("<foo>"), 400, "litmus propfind_invalid: not well-formed");
    is_int(status_of("<a></b>"), 400, "mismatched tags");
    is_int(status_of("<a/><b/>"), 400, "two roots");
    is_int(status_of("<a>&x;</a>"), 400, "an undeclared entity");
    is_int(status_of("<a x='1' x='2'/>"), 400, "a repeated attribute");
    is_int(status_of("<D:propfind xmlns:D=\"DAV:\"><D:prop><bar:foo xmlns:bar=\"\"/></D:prop></D:propfind>"), 400,
           "litmus propfind_invalid2: a prefix bound to the empty name");
    is_int(status_of("<a><b:c/></a>"), 400, "an undeclared prefix");
    is_int(status_of("<?xml version=\"1.0\" encoding=\"no-such-charset\"?><a/>"), 400, "an unknown encoding");
    is_int(status_of("<a>\x01</a>"), 400, "a control character");
    is_int(status_of("<a>\xff\xfe</a>"), 400, "bytes that are not UTF-8");
    is_int(status_of("\xef\xbb\xbf<a/>"), 0, "a UTF-8 byte order mark");
    is_int(bytewise("<a><![CDATA[\xc1\xbb]]></a>", &r), 400,
           "an overlong form inside CDATA, pushed (libxml2 lets it by)");
    is_int(status_of("<a><![CDATA[\xc1\xbb]]></a>"), 400, "an overlong form inside CDATA");
    is_int(status_of("<a b='\xc0\xbc'/>"), 400, "an overlong form in an attribute");
    /* UTF-16 with a BOM is XML too */
    const char u16[] = "\xff\xfe<\0a\0/\0>\0";
    is_int(hs__dav_xml_parse(&A, u16, sizeof(u16) - 1, NULL, &r, &(const char *){NULL}), 0, "UTF-16LE");
    ok(r && qis(&r->q, "", "a"), "UTF-16 read as UTF-8 names");

    /* entities and document types: refused before anything is declared */
    is_int(status_of("<!DOCTYPE a><a/>"), 400, "a bare DOCTYPE");
    is_int(status_of("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"), 400, "an internal entity");
    is_int(status_of("<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>"), 400, "an external subset");
    is_int(status_of("<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>"), 400, "XXE");
    {
        hs_buf_t b = {0};
        HS_BUF_LIT(&b, "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
        for (int i = 1; i < 10; i++)
            hs_buf_printf(&b,
                          "<!ENTITY lol%d \"&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;\">",
                          i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        HS_BUF_LIT(&b, "]><lolz>&lol9;</lolz>");
        hs_buf_append(&b, "", 1);
        is_int(status_of(b.base), 400, "billion laughs: 400, no memory");
        hs_buf_free(&b);
    }
    /* predefined entities and character references */
    is_int(parse("<a t='1&amp;2&#38;3&lt;&quot;'>x&amp;y&#65536;<![CDATA[<z>]]></a>", &r), 0, "references");
    ok(r && r->nattrs == 1 && HS_IOV_EQ(r->attrs[0].value, "1&2&3<\""), "attribute references replaced (%.*s)",
       r ? (int)r->attrs[0].value.len : 0, r ? r->attrs[0].value.base : "");
    hs_iovec_t t = r ? hs__dav_xml_text(&A, r) : HS_IOV_NULL;
    ok(HS_IOV_EQ(t, "x&y\xf0\x90\x80\x80<z>"), "text with references and CDATA (%.*s)", (int)t.len, t.base);
    ok(r && r->first && r->first->is_text && !r->first->next, "one text run for adjacent character data");

    /* limits */
    hs__dav_xml_limits_t lim = {.max_bytes = 64};
    char big[200];
    memset(big, 'x', sizeof(big));
    memcpy(big, "<a>", 3);
    memcpy(big + sizeof(big) - 5, "</a>", 5);
    is_int(parse_lim(big, &lim, &r), 413, "over max_bytes: 413");
    lim = (hs__dav_xml_limits_t){.max_depth = 3};
    is_int(parse_lim("<a><b><c/></b></a>", &lim, &r), 0, "depth 3 within 3");
    is_int(parse_lim("<a><b><c><d/></c></b></a>", &lim, &r), 400, "depth 4 over 3: 400");
    lim = (hs__dav_xml_limits_t){.max_nodes = 5};
    is_int(parse_lim("<a><b/><b/><b/><b/></a>", &lim, &r), 0, "5 nodes within 5");
    is_int(parse_lim("<a><b/><b/><b/><b/><b/></a>", &lim, &r), 413, "6 nodes over 5: 413");
    is_int(parse_lim("<a x='1' y='2' z='3' w='4'/>", &lim, &r), 0, "attributes count (5)");
    is_int(parse_lim("<a x='1' y='2' z='3' w='4' v='5'/>", &lim, &r), 413, "attributes count (6)");
    {
        /* 10,000 levels: refused at the limit, not by running out of stack */
        hs_buf_t b = {0};
        for (int i = 0; i < 10000; i++)
            HS_BUF_LIT(&b, "<a>");
        hs_buf_append(&b, "", 1);
        is_int(status_of(b.base), 400, "10,000 open elements: 400");
        hs_buf_free(&b);
    }
    /* one byte at a time */
    is_int(bytewise(DECL "<D:propfind xmlns:D=\"DAV:\"><D:prop><x:a xmlns:x=\"u\"/></D:prop></D:propfind>", &r), 0,
           "fed byte by byte");
    ok(r && r->first && qis(&r->first->q, "DAV:", "prop") && qis(&r->first->first->q, "u", "a"), "same tree");
    is_int(bytewise("<!DOCTYPE a [<!ENTITY x \"y\">]><a/>", &r), 400, "DOCTYPE byte by byte");
    is_int(bytewise("<a>", &r), 400, "unfinished byte by byte");
    /* a reader dropped unfinished releases everything (LeakSanitizer watches) */
    hs__dav_xml_t *x = hs__dav_xml_new(&A, NULL);
    const char *detail;
    is_int(hs__dav_xml_feed(x, "<a><b>", 6, &detail), 0, "half a document");
    hs__dav_xml_free(x);
    /* after a verdict nothing more is parsed */
    x = hs__dav_xml_new(&A, &(hs__dav_xml_limits_t){.max_bytes = 4});
    is_int(hs__dav_xml_feed(x, "<a/>", 4, &detail), 0, "4 bytes of 4");
    is_int(hs__dav_xml_feed(x, " ", 1, &detail), 413, "the fifth byte: 413");
    is_int(hs__dav_xml_feed(x, "", 0, &detail), 413, "sticky");
    is_int(hs__dav_xml_finish(x, &r, &detail), 413, "finish says it again");
    /* xml:lang is inherited */
    is_int(parse("<a xml:lang='en'><b/><c xml:lang='fr'/></a>", &r), 0, "xml:lang");
    ok(HS_IOV_EQ(r->lang, "en") && HS_IOV_EQ(r->first->lang, "en") && HS_IOV_EQ(r->first->next->lang, "fr"),
       "xml:lang in scope");
}

static void test_propfind(void)
{
    hs__dav_propfind_t pf;
    const hs__dav_xnode_t *r = NULL;
    const char *detail;
    is_int(hs__dav_read_propfind(&A, NULL, &pf, &detail), 0, "empty body");
    is_int(pf.kind, HS__DAV_PF_ALLPROP, "empty body is allprop (RFC 4918 §9.1)");
    is_int(propfind(DECL "<propfind xmlns='DAV:'><allprop/></propfind>", &pf), 0, "allprop");
    ok(pf.kind == HS__DAV_PF_ALLPROP && pf.n == 0, "allprop without include");
    is_int(propfind("<propfind xmlns='DAV:'><propname/></propfind>", &pf), 0, "propname");
    is_int(pf.kind, HS__DAV_PF_PROPNAME, "propname kind");
    is_int(propfind("<D:propfind xmlns:D='DAV:'><D:prop><D:getetag/><x:a xmlns:x='http://x/'/><b xmlns=''/>"
                    "<D:getetag/><c/></D:prop></D:propfind>",
                    &pf),
           0, "prop");
    ok(pf.kind == HS__DAV_PF_PROP && pf.n == 4, "four names, the duplicate dropped (%zu)", pf.n);
    ok(pf.n == 4 && qis(&pf.names[0], "DAV:", "getetag") && qis(&pf.names[1], "http://x/", "a") &&
           qis(&pf.names[2], "", "b") && qis(&pf.names[3], "", "c"),
       "names in order, null namespace kept");
    is_int(propfind("<propfind xmlns='DAV:'><allprop/><include><x xmlns='u'/><getetag/></include></propfind>", &pf), 0,
           "allprop with include");
    ok(pf.kind == HS__DAV_PF_ALLPROP && pf.n == 2 && qis(&pf.names[0], "u", "x"), "include names");
    is_int(propfind("<propfind xmlns='DAV:'><foobar/><allprop/></propfind>", &pf), 0,
           "litmus propextended: an unknown element is ignored");
    is_int(propfind("<propfind xmlns='DAV:'><allprop/><x:prop xmlns:x='other'/></propfind>", &pf), 0,
           "prop in another namespace is unknown");
    is_int(propfind("<propfind xmlns='DAV:'><prop><a xmlns='u'><nested/></a></prop></propfind>", &pf), 0,
           "content of a property name is ignored");
    is_int(propfind("<propfind xmlns='DAV:'/>", &pf), 422, "no instruction: 422");
    is_int(propfind("<propfind xmlns='DAV:'><allprop/><propname/></propfind>", &pf), 422, "two instructions: 422");
    is_int(propfind("<propfind xmlns='DAV:'><prop/><prop/></propfind>", &pf), 422, "prop twice: 422");
    is_int(propfind("<propfind xmlns='DAV:'><prop/><include/></propfind>", &pf), 422, "include without allprop");
    is_int(propfind("<propfind><allprop/></propfind>", &pf), 422, "propfind in the null namespace: 422");
    is_int(propfind("<D:propertyupdate xmlns:D='DAV:'/>", &pf), 422, "another root: 422");
    is_int(propfind("<propfind xmlns='DAV:'><prop/></propfind>", &pf), 0, "an empty prop asks for nothing");
    ok(pf.n == 0, "no names");
    (void)r;
}

/* The value of op i, checked against text. */
static bool val_is(const hs__dav_proppatch_t *pp, size_t i, const char *v)
{
    if (i >= pp->n || pp->ops[i].remove)
        return false;
    bool same = hs_iov_eq(pp->ops[i].value, v, strlen(v));
    if (!same)
        printf("#   value %zu is '%.*s', want '%s'\n", i, (int)pp->ops[i].value.len, pp->ops[i].value.base, v);
    return same;
}

static void test_proppatch(void)
{
    hs__dav_proppatch_t pp;
    const char *detail;
    is_int(hs__dav_read_proppatch(&A, NULL, &pp, &detail), 400, "no body: 400");
    is_int(proppatch(DECL "<propertyupdate xmlns='DAV:'><set><prop><nonamespace xmlns=''>randomvalue</nonamespace>"
                          "</prop></set></propertyupdate>",
                     &pp),
           0, "litmus propnullns");
    ok(pp.n == 1 && !pp.ops[0].remove && qis(&pp.ops[0].name, "", "nonamespace") && val_is(&pp, 0, "randomvalue"),
       "null namespace property");
    is_int(proppatch(DECL
                     "<propertyupdate xmlns='DAV:'><set><prop><high-unicode xmlns='http://example.com/neon/litmus/'>"
                     "&#65536;</high-unicode></prop></set></propertyupdate>",
                     &pp),
           0, "litmus prophighunicode");
    ok(val_is(&pp, 0, "\xf0\x90\x80\x80"), "a character above U+FFFF as UTF-8");
    is_int(proppatch(DECL "<propertyupdate xmlns='DAV:'>"
                          "<remove><prop><removeset xmlns='u'/></prop></remove>"
                          "<set><prop><removeset xmlns='u'>x</removeset></prop></set>"
                          "<set><prop><removeset xmlns='u'>y</removeset></prop></set></propertyupdate>",
                     &pp),
           0, "litmus propremoveset");
    ok(pp.n == 3 && pp.ops[0].remove && val_is(&pp, 1, "x") && val_is(&pp, 2, "y"), "document order");
    is_int(proppatch(DECL "<propertyupdate xmlns='DAV:'><set><prop><t:valnspace xmlns:t='u'><foo xmlns='http://bar'/>"
                          "</t:valnspace></prop></set></propertyupdate>",
                     &pp),
           0, "litmus propvalnspace");
    ok(val_is(&pp, 0, "<foo xmlns=\"http://bar\"/>"), "the value declares its namespace");
    is_int(proppatch("<D:propertyupdate xmlns:D='DAV:' xmlns:Z='http://z/'><D:set><D:prop>"
                     "<Z:a>text <Z:b Z:k='1' q='&lt;2&quot;'>in</Z:b> <c xmlns=''>none</c> &amp; more</Z:a>"
                     "</D:prop></D:set></D:propertyupdate>",
                     &pp),
           0, "mixed content with namespaces declared outside the value");
    ok(val_is(&pp, 0,
              "text <b xmlns=\"http://z/\" xmlns:a0=\"http://z/\" a0:k=\"1\" q=\"&lt;2&quot;\">in</b> "
              "<c>none</c> &amp; more"),
       "prefixes from outside become declarations inside");
    is_int(proppatch("<D:propertyupdate xmlns:D='DAV:'><D:set><D:prop><x:a xmlns:x='u' xml:lang='de'>"
                     "<x:b xml:lang='fr'/>Grüße</x:a></D:prop></D:set></D:propertyupdate>",
                     &pp),
           0, "xml:lang");
    ok(pp.n == 1 && HS_IOV_EQ(pp.ops[0].lang, "de") && val_is(&pp, 0, "<b xmlns=\"u\" xml:lang=\"fr\"/>Grüße"),
       "the property's language apart, an inner one kept as an attribute");
    is_int(proppatch("<D:propertyupdate xmlns:D='DAV:' xml:lang='en'><D:set><D:prop><x:a xmlns:x='u'/></D:prop>"
                     "</D:set></D:propertyupdate>",
                     &pp),
           0, "xml:lang inherited");
    ok(HS_IOV_EQ(pp.ops[0].lang, "en") && val_is(&pp, 0, ""), "inherited language, empty value");
    is_int(proppatch("<propertyupdate xmlns='DAV:'><set><prop><\xc3\xa9t\xc3\xa9 xmlns='urn:\xc3\xa9'>\xe2\x82\xac"
                     "</\xc3\xa9t\xc3\xa9></prop></set></propertyupdate>",
                     &pp),
           0, "non-ASCII names");
    ok(qis(&pp.ops[0].name, "urn:\xc3\xa9", "\xc3\xa9t\xc3\xa9") && val_is(&pp, 0, "\xe2\x82\xac"), "kept as UTF-8");
    is_int(proppatch("<propertyupdate xmlns='DAV:'><set><prop><a xmlns='u'>1</a><b xmlns='u'>2</b></prop></set>"
                     "<remove><prop><c xmlns='u'/></prop></remove><unknown/></propertyupdate>",
                     &pp),
           0, "several properties in one prop; an unknown instruction ignored");
    ok(pp.n == 3 && val_is(&pp, 0, "1") && val_is(&pp, 1, "2") && pp.ops[2].remove, "three operations");
    is_int(proppatch("<propertyupdate xmlns='DAV:'/>", &pp), 422, "no instruction: 422");
    is_int(proppatch("<propertyupdate xmlns='DAV:'><set/></propertyupdate>", &pp), 422, "set without prop: 422");
    is_int(proppatch("<propertyupdate xmlns='DAV:'><set><prop/></set></propertyupdate>", &pp), 422,
           "set with an empty prop: 422");
    is_int(proppatch("<propfind xmlns='DAV:'><allprop/></propfind>", &pp), 422, "another root: 422");
    is_int(proppatch("<propertyupdate xmlns='DAV:'><set><prop><a xmlns='u'>", &pp), 400, "unfinished: 400");
    is_int(proppatch("<propertyupdate xmlns='DAV:'><set><prop><a xmlns='u'>\r\n\t<![CDATA[]]>]]&gt;</a></prop></set>"
                     "</propertyupdate>",
                     &pp),
           0, "line ends and a literal ]]>");
    ok(val_is(&pp, 0, "\n\t]]&gt;"), "end-of-line normalised by XML, ']]>' escaped");
}

static void test_lock_bind(void)
{
    const hs__dav_xnode_t *r;
    const char *detail;
    hs__dav_lockinfo_t li;
    is_int(hs__dav_read_lockinfo(&A, NULL, &li, &detail), 400, "LOCK without a body is the caller's refresh");
    is_int(parse(DECL "<D:lockinfo xmlns:D='DAV:'><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/>"
                      "</D:locktype><D:owner><D:href>http://example.org/~ejw/contact.html</D:href></D:owner>"
                      "</D:lockinfo>",
                 &r),
           0, "lockinfo parses");
    is_int(hs__dav_read_lockinfo(&A, r, &li, &detail), 0, "exclusive write lock");
    ok(li.exclusive && HS_IOV_EQ(li.owner, "<href xmlns=\"DAV:\">http://example.org/~ejw/contact.html</href>"),
       "owner kept as a fragment (%.*s)", (int)li.owner.len, li.owner.base);
    parse("<lockinfo xmlns='DAV:'><lockscope><shared/></lockscope><locktype><write/></locktype></lockinfo>", &r);
    is_int(hs__dav_read_lockinfo(&A, r, &li, &detail), 0, "shared, no owner");
    ok(!li.exclusive && li.owner.base == NULL, "shared without owner");
    parse("<lockinfo xmlns='DAV:'><lockscope><shared/></lockscope><locktype><write/></locktype><owner>me</owner>"
          "</lockinfo>",
          &r);
    is_int(hs__dav_read_lockinfo(&A, r, &li, &detail), 0, "text owner");
    ok(HS_IOV_EQ(li.owner, "me"), "owner text");
    parse("<lockinfo xmlns='DAV:'><lockscope><shared/><exclusive/></lockscope><locktype><write/></locktype></lockinfo>",
          &r);
    is_int(hs__dav_read_lockinfo(&A, r, &li, &detail), 422, "both scopes: 422");
    parse("<lockinfo xmlns='DAV:'><lockscope><exclusive/></lockscope><locktype><read/></locktype></lockinfo>", &r);
    is_int(hs__dav_read_lockinfo(&A, r, &li, &detail), 422, "a read lock: 422");
    parse("<lockinfo xmlns='DAV:'><locktype><write/></locktype></lockinfo>", &r);
    is_int(hs__dav_read_lockinfo(&A, r, &li, &detail), 422, "no scope: 422");
    parse("<lock xmlns='DAV:'/>", &r);
    is_int(hs__dav_read_lockinfo(&A, r, &li, &detail), 422, "another root: 422");

    hs__dav_bind_t bd;
    parse("<D:bind xmlns:D='DAV:'><D:segment>CollY</D:segment><D:href>http://www.example.com/CollX/bar.html</D:href>"
          "</D:bind>",
          &r);
    is_int(hs__dav_read_bind(&A, r, HS__DAV_BIND, &bd, &detail), 0, "RFC 5842 §4.1 example");
    ok(HS_IOV_EQ(bd.segment, "CollY") && HS_IOV_EQ(bd.href, "http://www.example.com/CollX/bar.html"), "segment, href");
    is_int(hs__dav_read_bind(&A, r, HS__DAV_REBIND, &bd, &detail), 422, "a bind body for REBIND: 422");
    parse("<D:unbind xmlns:D='DAV:'><D:segment> foo.html </D:segment></D:unbind>", &r);
    is_int(hs__dav_read_bind(&A, r, HS__DAV_UNBIND, &bd, &detail), 0, "unbind");
    ok(HS_IOV_EQ(bd.segment, "foo.html") && bd.href.base == NULL, "segment trimmed, no href");
    parse("<D:rebind xmlns:D='DAV:'><D:segment>a/b</D:segment><D:href>/x</D:href></D:rebind>", &r);
    is_int(hs__dav_read_bind(&A, r, HS__DAV_REBIND, &bd, &detail), 422, "a slash in a segment: 422");
    parse("<D:rebind xmlns:D='DAV:'><D:segment>..</D:segment><D:href>/x</D:href></D:rebind>", &r);
    is_int(hs__dav_read_bind(&A, r, HS__DAV_REBIND, &bd, &detail), 422, "a dot segment: 422");
    parse("<D:bind xmlns:D='DAV:'><D:segment>x</D:segment></D:bind>", &r);
    is_int(hs__dav_read_bind(&A, r, HS__DAV_BIND, &bd, &detail), 422, "bind without href: 422");
    parse("<D:bind xmlns:D='DAV:'><D:segment><D:x/></D:segment><D:href>/a</D:href></D:bind>", &r);
    is_int(hs__dav_read_bind(&A, r, HS__DAV_BIND, &bd, &detail), 422, "markup in a segment: 422");
    is_int(hs__dav_read_bind(&A, NULL, HS__DAV_UNBIND, &bd, &detail), 400, "no body: 400");
}

/* Write a multistatus with the given property values, read it back with the reader, and find the
 * property element of each. */
static void test_writer(void)
{
    hs_buf_t b = {0};
    hs__dav_ms_t m;
    hs__dav_ms_begin(&m, &b);
    hs__dav_ms_status(&m, HS_IOV("/a b/ü?#"), 404, NULL, "gone <now>");
    hs__dav_ms_response_begin(&m, HS_IOV("/coll/"));
    hs__dav_ms_propstat_begin(&m);
    hs__dav_qname_t q1 = {HS_IOV("DAV:"), HS_IOV("getetag")}, q2 = {HS_IOV(""), HS_IOV("plain")},
                    q3 = {HS_IOV("http://x/?a&b=<c>"), HS_IOV("v")}, q4 = {HS_IOV("urn:\xc3\xa9"), HS_IOV("\xc3\xa9")};
    hs__dav_ms_prop(&m, &q1, HS_IOV_NULL, HS_IOV("\"x&amp;y\""));
    hs__dav_ms_prop(&m, &q2, HS_IOV("en"), HS_IOV("<foo xmlns=\"http://bar\"/>"));
    hs__dav_ms_prop(&m, &q3, HS_IOV_NULL, HS_IOV("<inner>t</inner>"));
    hs__dav_ms_prop(&m, &q4, HS_IOV_NULL, HS_IOV_NULL);
    hs__dav_ms_propstat_end(&m, 200, NULL, NULL);
    hs__dav_ms_propstat_begin(&m);
    hs__dav_ms_prop(&m, &q2, HS_IOV_NULL, HS_IOV_NULL);
    hs__dav_ms_propstat_end(&m, 403, "cannot-modify-protected-property", NULL);
    hs__dav_ms_response_end(&m, NULL);
    hs__dav_ms_status(&m, HS_IOV("/coll/again/"), 208, NULL, NULL);
    hs__dav_ms_end(&m);
    hs_buf_append(&b, "", 1);
    const hs__dav_xnode_t *r;
    is_int(parse(b.base, &r), 0, "the multistatus is well-formed");
    ok(r && qis(&r->q, "DAV:", "multistatus"), "root DAV:multistatus");
    ok(strstr(b.base, "<D:href>/a%20b/%C3%BC%3F%23</D:href>") != NULL, "href percent-encoded");
    ok(strstr(b.base, "<D:status>HTTP/1.1 404 Not Found</D:status>") != NULL, "status line");
    ok(strstr(b.base, "<D:responsedescription>gone &lt;now&gt;</D:responsedescription>") != NULL, "description");
    ok(strstr(b.base, "HTTP/1.1 208 Already Reported") != NULL, "208");
    ok(strstr(b.base, "<D:error><D:cannot-modify-protected-property/></D:error>") != NULL, "propstat error");
    /* the second response's first propstat's props */
    const hs__dav_xnode_t *resp = r->first;
    while (resp && resp->is_text)
        resp = resp->next;
    resp = resp ? resp->next : NULL;
    while (resp && resp->is_text)
        resp = resp->next;
    const hs__dav_xnode_t *ps = resp ? hs__dav_xml_child(resp, "DAV:", "propstat") : NULL;
    const hs__dav_xnode_t *prop = ps ? hs__dav_xml_child(ps, "DAV:", "prop") : NULL;
    ok(prop != NULL, "propstat/prop found");
    if (prop) {
        const hs__dav_xnode_t *p = prop->first;
        ok(p && qis(&p->q, "DAV:", "getetag") && HS_IOV_EQ(hs__dav_xml_text(&A, p), "\"x&y\""), "DAV: property");
        p = p ? p->next : NULL;
        ok(p && qis(&p->q, "", "plain") && HS_IOV_EQ(p->lang, "en") && p->first &&
               qis(&p->first->q, "http://bar", "foo"),
           "null-namespace property with a namespaced value and xml:lang");
        p = p ? p->next : NULL;
        ok(p && qis(&p->q, "http://x/?a&b=<c>", "v") && p->first && qis(&p->first->q, "", "inner"),
           "a namespace that needs escaping; the value's element stays in no namespace");
        p = p ? p->next : NULL;
        ok(p && qis(&p->q, "urn:\xc3\xa9", "\xc3\xa9") && !p->first, "non-ASCII name, empty");
    }
    hs_buf_free(&b);

    /* fragments round-trip: parse a value, write it, parse it inside another document, write again */
    const char *vals[] = {
        "<x:a xmlns:x='u1'><x:b/><c xmlns=''><x:d xmlns:x='u2' x:at='v' at='w' xml:lang='q'/></c></x:a>",
        "<a xmlns='u'>one<b>two</b>three</a>",
        "<a xmlns='u'>&lt;&amp;&gt;\"'</a>",
        "<a xmlns='u' xmlns:p='u3' xmlns:q='u3' p:x='1' q:y='2'/>",
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(vals); i++) {
        const hs__dav_xnode_t *v;
        hs_buf_t in = {0};
        hs_buf_printf(&in, "<w>%s</w>", vals[i]);
        parse(in.base, &v);
        hs_buf_free(&in);
        hs_buf_t f1 = {0}, doc = {0}, f2 = {0};
        hs__dav_xml_fragment(&f1, v);
        HS_BUF_LIT(&doc, "<D:multistatus xmlns:D='DAV:'><ns0:p xmlns:ns0='outer'>");
        hs_buf_append(&doc, f1.base, f1.len);
        HS_BUF_LIT(&doc, "</ns0:p></D:multistatus>");
        hs_buf_append(&doc, "", 1);
        const hs__dav_xnode_t *d;
        int st = parse(doc.base, &d);
        if (st == 0)
            hs__dav_xml_fragment(&f2, d->first);
        ok(st == 0 && f1.len > 0 && f1.len == f2.len && memcmp(f1.base, f2.base, f1.len) == 0,
           "fragment %zu round-trips: %.*s", i, (int)f1.len, f1.base);
        hs_buf_free(&f1);
        hs_buf_free(&doc);
        hs_buf_free(&f2);
    }

    /* escaping */
    hs_buf_t e = {0};
    hs__dav_xml_escape(&e, "a<b>&\"\r\n\t\x01z", 11, true);
    ok(e.len == strlen("a&lt;b&gt;&amp;&quot;&#13;&#10;&#9;\xef\xbf\xbdz") &&
           memcmp(e.base, "a&lt;b&gt;&amp;&quot;&#13;&#10;&#9;\xef\xbf\xbdz", e.len) == 0,
       "attribute escaping");
    e.len = 0;
    hs__dav_xml_escape(&e, "\"\n\t", 3, false);
    ok(e.len == 3 && memcmp(e.base, "\"\n\t", 3) == 0, "text keeps quotes, LF and TAB");
    hs_buf_free(&e);

    /* error bodies */
    hs_buf_t eb = {0};
    hs_iovec_t hrefs[] = {HS_IOV("/locked/"), HS_IOV("/other doc")};
    hs__dav_xml_error(&eb, "lock-token-submitted", hrefs, 2);
    hs_buf_append(&eb, "", 1);
    is_int(parse(eb.base, &r), 0, "error body is well-formed");
    const hs__dav_xnode_t *c = hs__dav_xml_child(r, "DAV:", "lock-token-submitted");
    ok(qis(&r->q, "DAV:", "error") && c && c->first && HS_IOV_EQ(hs__dav_xml_text(&A, c->first), "/locked/") &&
           HS_IOV_EQ(hs__dav_xml_text(&A, c->first->next), "/other%20doc"),
       "lock-token-submitted with hrefs");
    eb.len = 0;
    hs__dav_xml_error(&eb, "propfind-finite-depth", NULL, 0);
    hs_buf_append(&eb, "", 1);
    ok(strstr(eb.base, "<D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/></D:error>") != NULL, "finite depth");
    hs_buf_free(&eb);
}

int main(void)
{
    hs_arena_init(&A);
    test_reader();
    test_propfind();
    test_proppatch();
    test_lock_bind();
    test_writer();
    hs_arena_reset(&A);
    return tap_done();
}
