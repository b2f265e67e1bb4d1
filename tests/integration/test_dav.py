"""WebDAV (src/modules/webdav) through the real binary: one test per status code the module
produces from its real causes (RFC 4918, RFC 5842, RFC 4331), the clients' quirks, the
configuration, and what must survive a restart or a kill -9."""
import hashlib
import os
import pwd
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN, Server, stop_and_check
from dav_helpers import (NS, Tree, call, lockinfo, propfind_body, request, shim_env, start, statuses, xml)


@pytest.fixture(scope="module")
def dav():
    """One server for the tests that need nothing special: a tree at /dav, tombstones for 2 s."""
    t = Tree()
    s = start(t, {"gone": "2s"})
    s.tree = t
    yield s
    stop_and_check(s)
    t.cleanup()


@pytest.fixture
def tree():
    t = Tree()
    yield t
    t.cleanup()


def token_of(r):
    return r.header("Lock-Token").strip("<>")


# ---- OPTIONS, GET through the static origin ----

def test_options_advertises_classes_and_allow(dav):
    r = call(dav, "OPTIONS", "/dav/")
    assert r.status == 200
    assert r.header("DAV") == "1, 2, 3, bind"
    assert r.header("MS-Author-Via") == "DAV"
    allow = [m.strip() for m in r.header("Allow").split(",")]
    for m in ("PROPFIND", "PROPPATCH", "COPY", "MOVE", "LOCK", "UNLOCK", "DELETE", "BIND", "UNBIND", "REBIND"):
        assert m in allow
    assert "PUT" not in allow and "MKCOL" not in allow  # a collection exists here
    r = call(dav, "OPTIONS", "/dav/nothing-here")
    assert r.header("Allow") == "OPTIONS, PUT, MKCOL, LOCK"


def test_201_put_new_then_204_replace_with_get_as_static(dav):
    r = call(dav, "PUT", "/dav/hello.txt", b"hello, world\n")
    assert r.status == 201
    assert r.header("Location") == "/dav/hello.txt"
    etag = r.header("ETag")
    g = call(dav, "GET", "/dav/hello.txt")
    assert g.status == 200 and g.body == b"hello, world\n"
    assert g.header("ETag") == etag, "PUT's ETag is GET's"
    assert g.header("Content-Type") == "text/plain; charset=utf-8"
    rg = call(dav, "GET", "/dav/hello.txt", headers={"Range": "bytes=0-4"})
    assert rg.status == 206 and rg.body == b"hello"
    nm = call(dav, "GET", "/dav/hello.txt", headers={"If-None-Match": etag})
    assert nm.status == 304
    r = call(dav, "PUT", "/dav/hello.txt", b"bye\n")
    assert r.status == 204 and r.header("ETag") != etag
    assert call(dav, "GET", "/dav/hello.txt").body == b"bye\n"
    pf = call(dav, "PROPFIND", "/dav/hello.txt", propfind_body("D:getetag"), {"Depth": "0"})
    assert xml(pf).find(".//D:getetag", NS).text == r.header("ETag"), "getetag is GET's ETag"


def test_400_put_with_content_range(dav):
    r = call(dav, "PUT", "/dav/partial.txt", b"abc", {"Content-Range": "bytes 0-2/10"})
    assert r.status == 400
    assert b"Content-Range" in r.body
    assert call(dav, "GET", "/dav/partial.txt").status == 404


def test_chunked_put_with_expected_entity_length_stores_every_byte(dav):
    # macOS Finder: chunked, no Content-Length, the size in X-Expected-Entity-Length
    pieces = [os.urandom(n) for n in (1, 4096, 7, 65536, 3, 100000)]
    data = b"".join(pieces)
    r = call(dav, "PUT", "/dav/finder.bin", headers={"X-Expected-Entity-Length": str(len(data))}, chunked=pieces)
    assert r.status == 201
    assert call(dav, "GET", "/dav/finder.bin").body == data
    assert dav.tree.read("finder.bin") == data


def test_409_put_and_mkcol_without_parent(dav):
    assert call(dav, "PUT", "/dav/no/such/dir/f", b"x").status == 409
    assert call(dav, "MKCOL", "/dav/no/such/").status == 409


def test_mkcol_201_then_405_and_415_with_body(dav):
    r = call(dav, "MKCOL", "/dav/made/")
    assert r.status == 201 and r.header("Location") == "/dav/made/"
    r = call(dav, "MKCOL", "/dav/made/")
    assert r.status == 405, "RFC 4918 §9.3.1: MKCOL on an existing URL"
    assert "PROPFIND" in r.header("Allow") and "MKCOL" not in r.header("Allow")
    r = call(dav, "MKCOL", "/dav/withbody/", b"<x/>", {"Content-Type": "application/xml"})
    assert r.status == 415
    assert call(dav, "PROPFIND", "/dav/withbody/", headers={"Depth": "0"}).status == 404


# ---- DELETE: 204, 207, 410 then 404 ----

def test_delete_204_then_410_gone_then_404(dav):
    assert call(dav, "PUT", "/dav/doomed.txt", b"x").status == 201
    r = call(dav, "DELETE", "/dav/doomed.txt")
    assert r.status == 204
    r = call(dav, "GET", "/dav/doomed.txt")
    assert r.status == 410, "a tombstone: deleted here lately"
    assert call(dav, "HEAD", "/dav/doomed.txt").status == 410
    assert call(dav, "GET", "/dav/never-was.txt").status == 404
    assert call(dav, "DELETE", "/dav/doomed.txt").status == 404
    deadline = time.time() + 10
    while call(dav, "GET", "/dav/doomed.txt").status == 410 and time.time() < deadline:
        time.sleep(0.5)
    assert call(dav, "GET", "/dav/doomed.txt").status == 404, "dav.gone: 2s later, 404"
    assert call(dav, "PUT", "/dav/doomed.txt", b"back").status == 201
    assert call(dav, "GET", "/dav/doomed.txt").body == b"back"


def test_delete_207_lists_the_member_that_could_not_go(dav):
    t = dav.tree
    call(dav, "MKCOL", "/dav/part/")
    call(dav, "MKCOL", "/dav/part/keep/")
    call(dav, "PUT", "/dav/part/keep/stuck.txt", b"s")
    call(dav, "PUT", "/dav/part/free.txt", b"f")
    os.chmod(t.path("part/keep"), 0o555)  # its members cannot be unlinked by the server
    try:
        r = call(dav, "DELETE", "/dav/part/")
        assert r.status == 207
        st = statuses(r)
        assert st == {"/dav/part/keep/stuck.txt": 403}, st
        assert not os.path.exists(t.path("part/free.txt"))
        assert os.path.exists(t.path("part/keep/stuck.txt"))
    finally:
        os.chmod(t.path("part/keep"), 0o755)


# ---- COPY and MOVE: 201, 204, 412, 409, 502, collections without their slash ----

def test_copy_move_statuses(dav):
    host = "127.0.0.1:%d" % dav.port
    call(dav, "PUT", "/dav/src.txt", b"source")
    r = call(dav, "COPY", "/dav/src.txt", headers={"Destination": "http://%s/dav/dst.txt" % host})
    assert r.status == 201 and r.header("Location") == "/dav/dst.txt"
    r = call(dav, "COPY", "/dav/src.txt", headers={"Destination": "/dav/dst.txt", "Overwrite": "F"})
    assert r.status == 412, "Overwrite: F onto an existing resource"
    r = call(dav, "COPY", "/dav/src.txt", headers={"Destination": "/dav/dst.txt"})
    assert r.status == 204, "Overwrite defaults to T"
    r = call(dav, "COPY", "/dav/src.txt", headers={"Destination": "/dav/nodir/dst.txt"})
    assert r.status == 409, "RFC 4918 §9.8.5: no destination parent"
    r = call(dav, "COPY", "/dav/src.txt", headers={"Destination": "http://elsewhere.example/dav/x"})
    assert r.status == 502, "RFC 4918 §9.8.5: another server"
    r = call(dav, "MOVE", "/dav/src.txt", headers={"Destination": "/outside/x"})
    assert r.status == 502, "outside this tree's URL namespace"
    r = call(dav, "COPY", "/dav/src.txt", headers={"Destination": "/dav/src.txt"})
    assert r.status == 403
    r = call(dav, "MOVE", "/dav/src.txt", headers={"Destination": "/dav/moved.txt"})
    assert r.status == 201
    assert call(dav, "GET", "/dav/src.txt").status in (404, 410)
    assert call(dav, "GET", "/dav/moved.txt").body == b"source"
    r = call(dav, "COPY", "/dav/src.txt", headers={"Destination": "/dav/x.txt"})
    assert r.status == 404


def test_collection_destination_without_trailing_slash(dav):
    call(dav, "MKCOL", "/dav/c1/")
    call(dav, "PUT", "/dav/c1/inner.txt", b"in")
    r = call(dav, "COPY", "/dav/c1/", headers={"Destination": "/dav/c2"})
    assert r.status == 201 and r.header("Location") == "/dav/c2/"
    assert call(dav, "GET", "/dav/c2/inner.txt").body == b"in"
    r = call(dav, "MOVE", "/dav/c2/", headers={"Destination": "http://127.0.0.1:%d/dav/c3" % dav.port})
    assert r.status == 201
    assert call(dav, "GET", "/dav/c3/inner.txt").body == b"in"
    r = call(dav, "COPY", "/dav/c1", headers={"Destination": "/dav/c3/", "Depth": "0"})
    assert r.status == 204, "a Depth 0 copy over an existing collection"
    assert call(dav, "PROPFIND", "/dav/c3/inner.txt", headers={"Depth": "0"}).status == 404


# ---- properties: 207, 403 + 424, 400, 415, 422, 413 ----

def test_proppatch_and_propfind_dead_properties(dav):
    call(dav, "PUT", "/dav/props.txt", b"p")
    body = ('<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x">'
            '<D:set><D:prop><x:colour xml:lang="fr">bleu ciel ☁</x:colour><D:displayname>Props</D:displayname>'
            '</D:prop></D:set></D:propertyupdate>').encode()
    r = call(dav, "PROPPATCH", "/dav/props.txt", body, {"Content-Type": "application/xml"})
    assert r.status == 207
    assert statuses(r) == {"/dav/props.txt": 200}
    r = call(dav, "PROPFIND", "/dav/props.txt", propfind_body("x:colour", "D:displayname", "x:missing"),
             {"Depth": "0", "Content-Type": "text/xml; charset=utf-8"})
    assert r.status == 207
    doc = xml(r)
    assert doc.find(".//{urn:x}colour").text == "bleu ciel ☁"
    assert doc.find(".//{urn:x}colour").get("{http://www.w3.org/XML/1998/namespace}lang") == "fr"
    missing = [ps for ps in doc.findall(".//D:propstat", NS) if "404" in ps.find("D:status", NS).text]
    assert missing and missing[0].find(".//{urn:x}missing") is not None
    # a Depth: 1 listing of the collection names its members
    r = call(dav, "PROPFIND", "/dav/", propfind_body("D:resourcetype"), {"Depth": "1"})
    assert r.status == 207
    st = statuses(r)
    assert st["/dav/"] == 200 and st["/dav/props.txt"] == 200


def test_displayname_and_getcontentlanguage_live_and_settable(dav):
    """RFC 4918 §15.2, §15.3: displayname is the resource's own name until a client sets another
    (PROPPATCH may, they are not protected), and comes back when the client removes its value;
    getcontentlanguage is there once set. allprop lists each once."""
    path = "/dav/R%C3%A9sum%C3%A9%202026.txt"
    assert call(dav, "PUT", path, b"cv").status == 201
    hdr = {"Depth": "0", "Content-Type": "application/xml"}

    def props():
        r = call(dav, "PROPFIND", path, b"", {"Depth": "0"})
        assert r.status == 207
        found = [ps for ps in xml(r).findall(".//D:propstat", NS) if " 200 " in ps.find("D:status", NS).text]
        assert len(found) == 1
        names = [p.tag for p in found[0].find("D:prop", NS)]
        assert len(names) == len(set(names)), names
        return {p.tag: p.text for p in found[0].find("D:prop", NS)}

    got = props()
    assert got["{DAV:}displayname"] == "Résumé 2026.txt"
    assert "{DAV:}getcontentlanguage" not in got
    body = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
            '<D:displayname>My CV</D:displayname><D:getcontentlanguage>en-GB</D:getcontentlanguage>'
            '</D:prop></D:set></D:propertyupdate>').encode()
    r = call(dav, "PROPPATCH", path, body, {"Content-Type": "application/xml"})
    assert r.status == 207 and statuses(r) == {path: 200}
    got = props()
    assert got["{DAV:}displayname"] == "My CV" and got["{DAV:}getcontentlanguage"] == "en-GB"
    body = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><D:displayname/>'
            '</D:prop></D:remove></D:propertyupdate>').encode()
    assert call(dav, "PROPPATCH", path, body, {"Content-Type": "application/xml"}).status == 207
    assert props()["{DAV:}displayname"] == "Résumé 2026.txt"
    # the collection's and the tree root's names
    call(dav, "MKCOL", "/dav/albums/")
    r = call(dav, "PROPFIND", "/dav/albums/", propfind_body("D:displayname"), hdr)
    assert xml(r).find(".//D:displayname", NS).text == "albums"
    r = call(dav, "PROPFIND", "/dav/", propfind_body("D:displayname"), hdr)
    assert xml(r).find(".//D:displayname", NS).text == "dav"


def test_proppatch_protected_property_403_and_424(dav):
    call(dav, "PUT", "/dav/prot.txt", b"p")
    body = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop>'
            '<x:a>1</x:a><D:getetag>"forged"</D:getetag><x:b>2</x:b></D:prop></D:set></D:propertyupdate>').encode()
    r = call(dav, "PROPPATCH", "/dav/prot.txt", body)
    assert r.status == 207
    doc = xml(r)
    by = {}
    for ps in doc.findall(".//D:propstat", NS):
        code = int(ps.find("D:status", NS).text.split()[1])
        by[code] = [p.tag for p in ps.find("D:prop", NS)]
    assert by[403] == ["{DAV:}getetag"]
    assert sorted(by[424]) == ["{urn:x}a", "{urn:x}b"], "RFC 4918 §9.2: the others failed with it"
    assert doc.find(".//D:cannot-modify-protected-property", NS) is not None
    r = call(dav, "PROPFIND", "/dav/prot.txt", propfind_body("x:a"), {"Depth": "0"})
    assert statuses(r)["/dav/prot.txt"] == 404, "nothing was applied"


def test_400_422_415_413_bodies(dav):
    call(dav, "PUT", "/dav/bodies.txt", b"b")
    r = call(dav, "PROPFIND", "/dav/bodies.txt", b"<D:propfind xmlns:D='DAV:'><D:prop>", {"Depth": "0"})
    assert r.status == 400, "malformed XML"
    r = call(dav, "PROPFIND", "/dav/bodies.txt", b"<?xml version='1.0'?><D:lockinfo xmlns:D='DAV:'/>",
             {"Depth": "0"})
    assert r.status == 422, "well-formed, but not a propfind"
    r = call(dav, "PROPFIND", "/dav/bodies.txt", b"allprop please", {"Depth": "0", "Content-Type": "text/plain"})
    assert r.status == 415 and "xml" in r.header("Accept")
    laughs = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>' \
             b'<D:propfind xmlns:D="DAV:"><D:prop>&b;</D:prop></D:propfind>'
    assert call(dav, "PROPFIND", "/dav/bodies.txt", laughs, {"Depth": "0"}).status == 400, "no DTD, no entities"
    big = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>' + b"<D:x/>" * 200000 + \
        b"</D:prop></D:propfind>"
    assert call(dav, "PROPFIND", "/dav/bodies.txt", big, {"Depth": "0"}).status == 413
    r = call(dav, "PROPFIND", "/dav/bodies.txt", headers={"Depth": "2"})
    assert r.status == 400
    r = call(dav, "LOCK", "/dav/bodies.txt", b"<?xml version='1.0'?><D:lockinfo xmlns:D='DAV:'><D:lockscope>"
             b"<D:exclusive/></D:lockscope><D:locktype><D:read/></D:locktype></D:lockinfo>")
    assert r.status == 422, "the only lock type is write"


# ---- locks: 423, 412, 409, lock-null 201 ----

def test_locks_423_412_409_and_unlock(dav):
    call(dav, "PUT", "/dav/locked.txt", b"v1")
    r = call(dav, "LOCK", "/dav/locked.txt", lockinfo(), {"Timeout": "Second-120"})
    assert r.status == 200
    tok = token_of(r)
    assert tok.startswith("urn:uuid:")
    assert xml(r).find(".//D:timeout", NS).text == "Second-120"
    r = call(dav, "PUT", "/dav/locked.txt", b"v2")
    assert r.status == 423
    assert xml(r).find("D:lock-token-submitted/D:href", NS).text == "/dav/locked.txt"
    assert call(dav, "DELETE", "/dav/locked.txt").status == 423
    r = call(dav, "LOCK", "/dav/locked.txt", lockinfo(exclusive=False))
    assert r.status == 423
    assert xml(r).find("D:no-conflicting-lock/D:href", NS).text == "/dav/locked.txt"
    r = call(dav, "PUT", "/dav/locked.txt", b"v2", {"If": "(<urn:uuid:00000000-0000-4000-8000-000000000000>)"})
    assert r.status == 412, "an If list that does not hold"
    r = call(dav, "PUT", "/dav/locked.txt", b"v2", {"If": "(<%s>)" % tok})
    assert r.status == 204
    assert call(dav, "GET", "/dav/locked.txt", headers={"If": "(<%s>)" % tok}).body == b"v2"
    r = call(dav, "GET", "/dav/locked.txt", headers={"If": "(Not <%s>)" % tok})
    assert r.status == 412, "RFC 4918 §10.4: If is a precondition of GET too"
    r = call(dav, "LOCK", "/dav/locked.txt", headers={"If": "(<%s>)" % tok, "Timeout": "Second-60"})
    assert r.status == 200, "refresh"
    assert xml(r).find(".//D:timeout", NS).text == "Second-60"
    r = call(dav, "UNLOCK", "/dav/locked.txt", headers={"Lock-Token": "<urn:uuid:00000000-0000-4000-8000-0000000000ff>"})
    assert r.status == 409
    assert xml(r).find("D:lock-token-matches-request-uri", NS) is not None
    assert call(dav, "UNLOCK", "/dav/locked.txt", headers={"Lock-Token": "<%s>" % tok}).status == 204
    assert call(dav, "PUT", "/dav/locked.txt", b"v3").status == 204


def test_lock_on_unmapped_url_creates_201(dav):
    r = call(dav, "LOCK", "/dav/lock-null.txt", lockinfo(), {"Depth": "0"})
    assert r.status == 201
    assert r.header("Location") == "/dav/lock-null.txt"
    assert dav.tree.read("lock-null.txt") == b""
    tok = token_of(r)
    r = call(dav, "PROPFIND", "/dav/lock-null.txt", propfind_body("D:lockdiscovery"), {"Depth": "0"})
    assert xml(r).find(".//D:locktoken/D:href", NS).text == tok
    assert call(dav, "UNLOCK", "/dav/lock-null.txt", headers={"Lock-Token": "<%s>" % tok}).status == 204


def test_delete_with_untagged_if_list_windows(dav):
    # Windows sends the tokens of the locks below the collection it deletes, untagged
    call(dav, "MKCOL", "/dav/win/")
    call(dav, "PUT", "/dav/win/doc.txt", b"d")
    tok = token_of(call(dav, "LOCK", "/dav/win/doc.txt", lockinfo(), {"Depth": "0"}))
    assert call(dav, "DELETE", "/dav/win/").status == 423
    r = call(dav, "DELETE", "/dav/win/doc.txt", headers={"If": "(<%s>)" % tok})
    assert r.status == 204, "untagged, on the locked resource itself"
    call(dav, "PUT", "/dav/win/doc.txt", b"d")
    tok = token_of(call(dav, "LOCK", "/dav/win/doc.txt", lockinfo(), {"Depth": "0"}))
    r = call(dav, "DELETE", "/dav/win/", headers={"If": "(<%s>)" % tok})
    assert r.status == 204, "untagged, for a member of the deleted collection"
    assert not os.path.exists(dav.tree.path("win"))


def test_two_processes_share_locks_and_properties(tree):
    """One database per tree: a second statusd serving the same tree sees the first one's locks."""
    tree.write("shared.txt", b"s")
    a = start(tree)
    b = start(tree)
    try:
        tok = token_of(call(a, "LOCK", "/dav/shared.txt", lockinfo()))
        assert call(b, "PUT", "/dav/shared.txt", b"from b").status == 423
        assert call(b, "PUT", "/dav/shared.txt", b"from b", {"If": "(<%s>)" % tok}).status == 204
        assert call(b, "UNLOCK", "/dav/shared.txt", headers={"Lock-Token": "<%s>" % tok}).status == 204
        assert call(a, "PUT", "/dav/shared.txt", b"from a").status == 204
    finally:
        stop_and_check(a)
        stop_and_check(b)


# ---- bindings and loops: 208, 508 ----

def test_208_and_508_with_a_symlink_loop(dav):
    t = dav.tree
    os.makedirs(t.path("loopy/sub"))
    t.write("loopy/sub/f.txt", b"f")
    os.symlink("..", t.path("loopy/sub/back"))  # a second binding of loopy, inside itself
    t.give()
    r = call(dav, "PROPFIND", "/dav/loopy/", propfind_body("D:resourcetype"), {"Depth": "infinity"})
    assert r.status == 508, "RFC 5842 §7.2: a cycle, and the client does not speak bindings"
    r = call(dav, "PROPFIND", "/dav/loopy/", propfind_body("D:resourcetype"),
             {"Depth": "infinity", "DAV": "1, 2, bind"})
    assert r.status == 207
    st = statuses(r)
    assert st["/dav/loopy/sub/back/"] == 208, st
    assert st["/dav/loopy/sub/f.txt"] == 200
    r = call(dav, "PROPFIND", "/dav/loopy/", propfind_body("D:resourcetype"), {"Depth": "1"})
    assert r.status == 207, "Depth 1 enters nothing"


def test_bind_then_208_already_reported(dav):
    call(dav, "MKCOL", "/dav/bb/")
    call(dav, "MKCOL", "/dav/bb/a/")
    call(dav, "PUT", "/dav/bb/a/x.txt", b"x")
    bind = ('<?xml version="1.0"?><D:bind xmlns:D="DAV:"><D:segment>b</D:segment>'
            '<D:href>http://127.0.0.1:%d/dav/bb/a/</D:href></D:bind>' % dav.port).encode()
    r = call(dav, "BIND", "/dav/bb/", bind)
    assert r.status == 201 and r.header("Location") == "/dav/bb/b/"
    assert call(dav, "GET", "/dav/bb/b/x.txt").body == b"x"
    r = call(dav, "PROPFIND", "/dav/bb/", propfind_body("D:resource-id"), {"Depth": "infinity", "DAV": "bind"})
    st = statuses(r)
    assert st["/dav/bb/b/"] == 208, st
    assert "/dav/bb/b/x.txt" not in st, "members of a collection already reported are not repeated"
    r = call(dav, "PROPFIND", "/dav/bb/", propfind_body("D:resource-id"), {"Depth": "infinity"})
    st = statuses(r)
    assert r.status == 207 and st["/dav/bb/b/"] == 200, "no bindings spoken: listed, no 208"
    assert st["/dav/bb/b/x.txt"] == 200, "…with its members under that binding too"
    ids = {resp.find("D:href", NS).text: resp.find(".//D:resource-id/D:href", NS).text
           for resp in xml(r).findall("D:response", NS)}
    assert ids["/dav/bb/b/x.txt"] == ids["/dav/bb/a/x.txt"], "one resource, two bindings (RFC 5842 §3.1)"
    r = call(dav, "BIND", "/dav/bb/", bind.replace(b"<D:segment>b<", b"<D:segment>c<").replace(
        b"127.0.0.1:%d" % dav.port, b"elsewhere.example"))
    assert r.status == 403 and xml(r).find("D:cross-server-binding", NS) is not None
    rebind = b'<?xml version="1.0"?><D:rebind xmlns:D="DAV:"><D:segment>moved</D:segment>' \
             b'<D:href>/dav/bb/b/</D:href></D:rebind>'
    assert call(dav, "REBIND", "/dav/bb/", rebind).status == 201
    unbind = b'<?xml version="1.0"?><D:unbind xmlns:D="DAV:"><D:segment>moved</D:segment></D:unbind>'
    assert call(dav, "UNBIND", "/dav/bb/", unbind).status == 200
    assert call(dav, "GET", "/dav/bb/a/x.txt").body == b"x", "the other binding stays"
    assert call(dav, "UNBIND", "/dav/bb/", unbind).status == 404


# ---- configured limits: 403 propfind-finite-depth, 507 quota ----

def test_403_propfind_finite_depth(tree):
    for i in range(12):
        tree.write("d%d/f%d.txt" % (i % 3, i), b"x")
    s = start(tree, {"max_nodes": 8})
    try:
        r = call(s, "PROPFIND", "/dav/", headers={"Depth": "infinity"})
        assert r.status == 403
        assert xml(r).find("D:propfind-finite-depth", NS) is not None
        r = call(s, "PROPFIND", "/dav/", headers={"Depth": "1"})
        assert r.status == 207 and len(statuses(r)) == 4
    finally:
        stop_and_check(s)


def test_507_quota_leaves_old_content(tree):
    tree.write("old.bin", b"o" * 1000)
    s = start(tree, {"quota": "64k"})
    try:
        r = call(s, "PUT", "/dav/old.bin", os.urandom(100 * 1024))
        assert r.status == 507, "declared length over the quota"
        assert call(s, "GET", "/dav/old.bin").body == b"o" * 1000
        r = call(s, "PUT", "/dav/old.bin", chunked=[os.urandom(16 * 1024) for _ in range(8)])
        assert r.status == 507, "a chunked body passing the quota while it arrives"
        assert call(s, "GET", "/dav/old.bin").body == b"o" * 1000
        assert sorted(os.listdir(tree.root)) == ["old.bin"], "no temporary file left"
        r = call(s, "PROPFIND", "/dav/", propfind_body("D:quota-available-bytes", "D:quota-used-bytes"),
                 {"Depth": "0"})
        assert int(xml(r).find(".//D:quota-used-bytes", NS).text) == 1000
        assert int(xml(r).find(".//D:quota-available-bytes", NS).text) == 64 * 1024 - 1000
        assert call(s, "PUT", "/dav/small.bin", b"s" * 1000).status == 201
    finally:
        stop_and_check(s)


def can_mount_tmpfs(path):
    if os.geteuid() != 0:
        return False
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def test_507_full_filesystem_tmpfs(tree):
    if not can_mount_tmpfs(tree.root):
        pytest.skip("no tmpfs can be mounted here (not root, or no CAP_SYS_ADMIN): the shim test covers ENOSPC")
    try:
        tree.write("keep.txt", b"k" * 100)
        tree.write("big.bin", b"b" * 150 * 1024)
        s = start(tree, {"fsync": "data"})
        try:
            r = call(s, "PUT", "/dav/keep.txt", os.urandom(300 * 1024))
            assert r.status == 507, "ENOSPC from the disk"
            assert call(s, "GET", "/dav/keep.txt").body == b"k" * 100
            r = call(s, "COPY", "/dav/big.bin", headers={"Destination": "/dav/big2.bin"})
            assert r.status == 507
            assert sorted(os.listdir(tree.root)) == ["big.bin", "keep.txt"]
        finally:
            stop_and_check(s)
    finally:
        subprocess.run(["umount", tree.root])


def test_507_enospc_shim(tree):
    tree.write("keep.txt", b"keep")
    s = start(tree, env=shim_env(tree, DAVSHIM_FULL_AFTER=50000))
    try:
        r = call(s, "PUT", "/dav/keep.txt", os.urandom(120000))
        assert r.status == 507
        assert b"disk is full" in r.body
        assert call(s, "GET", "/dav/keep.txt").body == b"keep"
        assert sorted(os.listdir(tree.root)) == ["keep.txt"]
    finally:
        stop_and_check(s)


# ---- 102 Processing while a slow COPY works on a helper thread ----

def test_102_processing_during_a_slow_copy(tree):
    for i in range(4):
        tree.write("slow/f%d.bin" % i, os.urandom(1000))
    s = start(tree, {"processing": "100ms"}, env=shim_env(tree, DAVSHIM_SLOW_MS=300))
    try:
        final, interim = request(s, "COPY", "/dav/slow/", headers={"Destination": "/dav/copy/"}, timeout=20)
        assert final.status == 201
        assert len(interim) >= 2 and all(r.status == 102 for r in interim), interim
        assert all(not r.body for r in interim)
        assert sorted(os.listdir(tree.path("copy"))) == ["f0.bin", "f1.bin", "f2.bin", "f3.bin"]
        # the worker stayed free meanwhile: other requests were answered (in order, bounded)
        assert call(s, "OPTIONS", "/dav/").status == 200
    finally:
        stop_and_check(s)


# ---- what survives ----

def test_kill_9_during_put_leaves_old_file_and_no_temporary(tree):
    tree.write("precious.txt", b"old content")
    s = start(tree)
    try:
        c = s.connect()
        c.sendall(b"PUT /dav/precious.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"n" * 300000)
        deadline = time.time() + 5
        while time.time() < deadline:  # the server has the body's start (its reads are in its stats)
            time.sleep(0.05)
            with open("/proc/%d/io" % s.proc.pid) as f:
                rchar = int(re.search(r"rchar: (\d+)", f.read()).group(1))
            if rchar > 200000:
                break
        s.proc.kill()
        s.stop()
        c.close()
    finally:
        s.stop()
    assert tree.read("precious.txt") == b"old content"
    assert os.listdir(tree.root) == ["precious.txt"], "no temporary file visible"


def test_properties_and_locks_survive_a_restart(tree):
    tree.write("kept.txt", b"k")
    s = start(tree)
    body = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><z:k xmlns:z="urn:z">v</z:k>'
            '</D:prop></D:set></D:propertyupdate>').encode()
    try:
        assert call(s, "PROPPATCH", "/dav/kept.txt", body).status == 207
        tok = token_of(call(s, "LOCK", "/dav/kept.txt", lockinfo()))
    finally:
        stop_and_check(s)
    s = start(tree)
    try:
        r = call(s, "PROPFIND", "/dav/kept.txt", propfind_body("D:lockdiscovery"), {"Depth": "0"})
        assert xml(r).find(".//D:locktoken/D:href", NS).text == tok
        r = call(s, "PROPFIND", "/dav/kept.txt", b'<D:propfind xmlns:D="DAV:"><D:prop><z:k xmlns:z="urn:z"/>'
                 b'</D:prop></D:propfind>', {"Depth": "0"})
        assert xml(r).find(".//{urn:z}k").text == "v"
        assert call(s, "PUT", "/dav/kept.txt", b"x").status == 423
        if os.geteuid() == 0:
            owner = pwd.getpwuid(os.stat(tree.db).st_uid).pw_name
            assert owner == "nobody", "the database belongs to --user"
    finally:
        stop_and_check(s)


# ---- configuration ----

def check(*args):
    return subprocess.run([BIN, "-t", *args], capture_output=True, text=True)


def test_config_check_names_file_and_line(tree):
    bad = os.path.join(tree.base, "bad.yaml")
    with open(bad, "w") as f:
        f.write('hosts:\n  "*":\n    paths:\n      /dav:\n        dav: {root: %s, fsync: sometimes}\n' % tree.root)
    r = check("--config", bad)
    assert r.returncode != 0 and re.search(r"bad\.yaml:5: .*dav\.fsync", r.stderr), r.stderr
    with open(bad, "w") as f:
        f.write('hosts:\n  "*":\n    paths:\n      /dav:\n        dav:\n          root: /nonexistent/dav\n')
    r = check("--config", bad)
    assert r.returncode != 0 and "bad.yaml:6:" in r.stderr, r.stderr
    with open(bad, "w") as f:
        f.write('hosts:\n  "*":\n    paths:\n      /dav: {dav: {root: %s, store: %s/inside.sqlite}}\n' %
                (tree.root, tree.root))
    r = check("--config", bad)
    assert r.returncode != 0 and "bad.yaml:4:" in r.stderr and "inside the tree" in r.stderr, r.stderr
    assert not os.path.exists(tree.path("inside.sqlite"))
    with open(bad, "w") as f:
        f.write('dav: true\nhosts:\n  "*":\n    paths:\n      /: {root: %s}\n' % tree.root)
    r = check("--config", bad)
    assert r.returncode != 0 and "bad.yaml:1:" in r.stderr, r.stderr
    r = check("--dav")
    assert r.returncode != 0 and "--root" in r.stderr
    r = check("--dav-root", tree.root)
    assert r.returncode != 0 and "--root DIR --dav" in r.stderr, "a path's directive is not silently dropped"
    ok = tree.config()
    r = check("--config", ok)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(tree.db), "-t initialises what serving would: the database can be opened"


def test_flat_dav_flag_makes_root_writable(tree):
    tree.write("index.html", b"<p>hi</p>")
    tree.give()
    s = Server("--root", tree.root, "--dav", "--dav-store", tree.db)
    try:
        assert call(s, "GET", "/").body == b"<p>hi</p>", "GET is the static origin's"
        assert call(s, "PUT", "/new.txt", b"n").status == 201
        assert tree.read("new.txt") == b"n"
        r = call(s, "PROPFIND", "/", headers={"Depth": "1"})
        assert r.status == 207 and "/new.txt" in statuses(r)
        assert call(s, "GET", "/_api/get").status == 200, "the API moved to --api-prefix"
        assert call(s, "GET", "/codes/507").status == 200
    finally:
        stop_and_check(s)
