"""WebDAV GETs negotiate (issue 16): a WebDAV tree on a path with `negotiate: true` answers a GET
of a name with no file from the variants clients PUT beside it (page.en.html, page.fr.html), with
the same selection, Vary, Content-Location, 300 and 406 as the static origin; a file PUT under
the name itself wins; deleting it brings the variants back instead of the tombstone's 410, which
comes only once no variant is left.

Real binary, raw sockets (dav_helpers.call), a scratch tree under /tmp."""
import os
import subprocess

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


def _check(conf):
    from conftest import BIN
    env = dict(os.environ)
    env.pop("STATUSD_BIN", None)
    return subprocess.run([BIN, "-t", "--config", conf], capture_output=True, text=True, timeout=30, env=env)


def test_statusd_t_walks_the_dav_root_for_type_maps():
    """`statusd -t` (and the start) walk a negotiating WebDAV tree for type maps as they walk the
    static origin's roots: a broken map, or one whose variant negotiates again (a request choosing
    it would get 506, RFC 9110 §15.6.7), is refused with the configuration's FILE:LINE and the
    map's own; without negotiate the tree is not looked at. Once repaired, the server starts and
    answers the map's name over a socket."""
    tree = Tree()
    try:
        conf = os.path.join(tree.base, "neg.yaml")
        with open(conf, "w") as f:
            f.write('hosts:\n  "*":\n    paths:\n      /dav: {dav: {root: %s, store: %s}, negotiate: true}\n' %
                    (tree.root, tree.db))
        real = os.path.realpath(tree.root)
        tree.write("menu.en.html", b"<p>menu</p>\n")
        tree.write("sub/m.var", b"URI: menu.en.html\nContent-Typo: text/html\n")
        p = _check(conf)
        assert p.returncode != 0
        assert "neg.yaml:4: negotiate: %s/sub/m.var:2: unknown field" % real in p.stderr, p.stderr
        tree.write("sub/m.var", b"URI: m\n\nURI: ../menu\nContent-Type: text/html\n")
        p = _check(conf)
        assert p.returncode != 0
        assert ("neg.yaml:4: negotiate: %s/sub/m.var:3: the variant menu is itself negotiated (it has variants of "
                "its own): a request choosing it would get 506 Variant Also Negotiates" % real) in p.stderr, p.stderr
        # the start refuses what -t refuses
        env = dict(os.environ)
        env.pop("STATUSD_BIN", None)
        from conftest import BIN
        p = subprocess.run([BIN, "--config", conf, "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                           timeout=30, env=env)
        assert p.returncode != 0 and "sub/m.var:3" in p.stderr, p.stderr
        # without negotiate the tree's maps are files like any other
        plain = os.path.join(tree.base, "plain.yaml")
        with open(plain, "w") as f:
            f.write('hosts:\n  "*":\n    paths:\n      /dav: {dav: {root: %s, store: %s}}\n' % (tree.root, tree.db))
        p = _check(plain)
        assert p.returncode == 0 and "is valid" in p.stdout, p.stderr
        # repaired: valid, and the map answers over a real socket
        tree.write("sub/m.var", b"URI: m\n\nURI: ../menu.en.html\nContent-Type: text/html\n")
        p = _check(conf)
        assert p.returncode == 0 and "is valid" in p.stdout, p.stderr
        tree.give()
        s = Server("--config", conf, "--log-format", "json")
        try:
            r = call(s, "GET", "/dav/sub/m")
            assert r.status == 200 and r.body == b"<p>menu</p>\n"
            assert r.header("content-location") == "/dav/menu.en.html"
            assert r.header_all("vary") == ["Accept, Accept-Encoding, Negotiate"]  # html: a coding is chosen too
            line = [l for l in s.access_log(wait_for='"/dav/sub/m"') if '"/dav/sub/m"' in l]
            assert len(line) == 1 and '"status":200' in line[0], line
        finally:
            assert s.stop() == 0
    finally:
        tree.cleanup()
