"""WebDAV GETs negotiate (issue 16): a WebDAV tree on a path with `negotiate: true` answers a GET
of a name with no file from the variants clients PUT beside it (page.en.html, page.fr.html), with
the same selection, Vary, Content-Location, 300 and 406 as the static origin; a file PUT under
the name itself wins; deleting it brings the variants back instead of the tombstone's 410, which
comes only once no variant is left.

Real binary, raw sockets (dav_helpers.call), a scratch tree under /tmp."""
import os

import pytest

from dav_helpers import Tree, call, statuses, propfind_body
from conftest import Server

VARY = "Accept, Accept-Language, Accept-Encoding, Negotiate"


@pytest.fixture
def dav():
    tree = Tree()
    conf = os.path.join(tree.base, "neg.yaml")
    with open(conf, "w") as f:
        f.write('hosts:\n  "*":\n    paths:\n      /dav: {dav: {root: %s, store: %s}, negotiate: true}\n' %
                (tree.root, tree.db))
    tree.give()
    s = Server("--config", conf)
    try:
        yield s
    finally:
        s.stop()
        tree.cleanup()


def put(s, path, body):
    r = call(s, "PUT", path, body, {"Content-Type": "text/html"})
    assert r.status == 201, (path, r.status, r.body)


def test_put_variants_then_get_negotiates(dav):
    put(dav, "/dav/page.en.html", b"<p>hello</p>\n")
    put(dav, "/dav/page.fr.html", b"<p>bonjour</p>\n")

    r = call(dav, "GET", "/dav/page", headers={"Accept-Language": "fr"})
    assert r.status == 200 and r.body == b"<p>bonjour</p>\n"
    assert r.header("content-location") == "/dav/page.fr.html"
    assert r.header("content-language") == "fr"
    assert r.header_all("vary") == [VARY]
    assert r.header("content-type") == "text/html; charset=utf-8"
    # the variant's own validator: a conditional GET on the name is answered 304 with the same fields
    tag = call(dav, "GET", "/dav/page.fr.html").header("etag")
    assert r.header("etag") == tag
    r = call(dav, "GET", "/dav/page", headers={"Accept-Language": "fr", "If-None-Match": tag})
    assert r.status == 304 and r.body == b""
    assert r.header("content-location") == "/dav/page.fr.html" and r.header_all("vary") == [VARY]

    r = call(dav, "HEAD", "/dav/page", headers={"Accept-Language": "en"})
    assert r.status == 200 and r.body == b""
    assert r.header("content-location") == "/dav/page.en.html"
    assert r.header("content-length") == str(len(b"<p>hello</p>\n"))

    # the collection lists the variants as they are; the negotiated name is no member (RFC 4918 §9.1)
    r = call(dav, "PROPFIND", "/dav/", propfind_body("D:getetag"), {"Depth": "1"})
    assert r.status == 207
    assert set(statuses(r)) == {"/dav/", "/dav/page.en.html", "/dav/page.fr.html"}


def test_406_and_300_list_the_trees_variants(dav):
    put(dav, "/dav/page.en.html", b"<p>hello</p>\n")
    put(dav, "/dav/page.fr.html", b"<p>bonjour</p>\n")

    r = call(dav, "GET", "/dav/page", headers={"Accept": "image/png"})
    assert r.status == 406
    assert r.header_all("vary") == ["Accept, Accept-Language, Negotiate"]
    assert not r.has("content-location")
    body = r.body.decode()
    assert "/dav/page.en.html  text/html  en" in body and "/dav/page.fr.html  text/html  fr" in body

    r = call(dav, "GET", "/dav/page", headers={"Negotiate": "list"})
    assert r.status == 300
    assert r.header_all("link") == ['</dav/page.en.html>; rel="alternate"; type="text/html"; hreflang=en',
                                    '</dav/page.fr.html>; rel="alternate"; type="text/html"; hreflang=fr']
    assert r.header("location") == "/dav/page.en.html"


def test_a_file_of_the_name_wins_and_its_delete_does_not_hide_the_variants(dav):
    put(dav, "/dav/page.en.html", b"<p>hello</p>\n")
    put(dav, "/dav/page.fr.html", b"<p>bonjour</p>\n")
    assert call(dav, "GET", "/dav/page", headers={"Accept-Language": "fr"}).body == b"<p>bonjour</p>\n"

    put(dav, "/dav/page", b"plain\n")  # a resource of its own now: served as it is
    r = call(dav, "GET", "/dav/page", headers={"Accept-Language": "fr"})
    assert r.status == 200 and r.body == b"plain\n" and not r.has("content-location")

    assert call(dav, "DELETE", "/dav/page").status == 204
    # deleted lately, but the resource is still available through its variants: not 410
    r = call(dav, "GET", "/dav/page", headers={"Accept-Language": "fr"})
    assert r.status == 200 and r.body == b"<p>bonjour</p>\n"
    assert r.header("content-location") == "/dav/page.fr.html"

    assert call(dav, "DELETE", "/dav/page.fr.html").status == 204
    r = call(dav, "GET", "/dav/page", headers={"Accept-Language": "fr"})
    assert r.status == 200 and r.body == b"<p>hello</p>\n"
    assert r.header("content-location") == "/dav/page.en.html"

    assert call(dav, "DELETE", "/dav/page.en.html").status == 204
    # nothing left under the name: the tombstone answers (RFC 9110 §15.5.11)
    assert call(dav, "GET", "/dav/page").status == 410
    assert call(dav, "GET", "/dav/page.en.html").status == 410
