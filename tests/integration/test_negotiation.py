"""Content negotiation over variants (negotiate: true; issue 16): variants from sibling files and
from type maps (NAME.var), chosen by Accept, Accept-Language and Accept-Encoding times qs (RFC 9110
§12); 300 Multiple Choices on request and on a tie, 406 listing the variants, 506 Variant Also
Negotiates from a type map naming a negotiable resource, also found by `statusd -t`. Every
negotiated answer carries Vary naming each field that took part, and a chosen variant
Content-Location and its own validators — on 200, 206, 304, 412, 416 and HEAD.

Real binary, real sockets, raw requests (so that no client adds or drops a header). The tree
lives under /tmp (0755): when the tests run as root the server drops to `nobody`.
"""
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import BIN, one_response

PAST = 1577880000
HELLO_EN, HELLO_FR, HELLO_CA = b"<p>hello</p>\n", b"<p>bonjour</p>\n", b"<p>allo</p>\n"
BIG_EN = bytes(range(256)) * 4  # 1024 bytes
BIG_FR = bytes(reversed(range(256))) * 4
MENU_EN, MENU_DE, MENU_TXT = b"<p>menu</p>\n", b"<p>Speisekarte</p>\n" * 20, b"menu\n"
VARY_HTML_LANG = "Accept, Accept-Language, Accept-Encoding, Negotiate"  # html: a coding is chosen too


def _write(path, data, mtime=PAST):
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)
    os.utime(path, (mtime, mtime))


def _etag(path, suffix=None):
    st = os.stat(path)
    return '"%x-%x-%x%s"' % (st.st_ino, st.st_size, st.st_mtime_ns, "-" + suffix if suffix else "")


FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def _images():
    """A real AVIF (40x8, made once with avifenc: tests/integration/fixtures), a WebP (24x8) and a
    JPEG (16x16) from the project's own encoders (src/modules/testapi/gen_images.py)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "gen_images", os.path.join(os.path.dirname(__file__), "..", "..", "src", "modules", "testapi",
                                   "gen_images.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.W, gen.H = 24, 8
    webp = gen.webp([[False] * 24 for _ in range(8)])
    gen.W, gen.H = 16, 16
    jpeg = gen.jpeg([[False] * 16 for _ in range(16)])
    with open(os.path.join(FIXTURES, "negotiate-40x8.avif"), "rb") as f:
        avif = f.read()
    return avif, webp, jpeg


MENU_VAR = b"""# the menu in three variants
URI: menu

URI: menu.en.html
Content-Type: text/html; charset=utf-8; qs=0.9
Content-Language: en

URI: menu.de.html.gz
Content-Type: text/html; charset=utf-8
Content-Language: de
Content-Encoding: gzip
Description: Deutsch, komprimiert

URI: menu.txt
Content-Type: text/plain; qs=0.4
Content-Language: en
"""


def make_tree(base):
    root = os.path.join(base, "root")
    os.makedirs(root, mode=0o755)
    os.chmod(base, 0o755)
    _write(os.path.join(root, "page.en.html"), HELLO_EN)
    _write(os.path.join(root, "page.fr.html"), HELLO_FR)
    _write(os.path.join(root, "page.fr-CA.html"), HELLO_CA)
    _write(os.path.join(root, "page.en.html.bak"), b"not a variant\n")  # .bak is a type: not en
    _write(os.path.join(root, "report.html"), b"<p>report</p>\n")
    _write(os.path.join(root, "report.json"), b'{"report": true}\n')
    _write(os.path.join(root, "report.txt"), b"report\n")
    _write(os.path.join(root, "doc.html.en"), b"<p>doc</p>\n")  # Apache's order: type, then language
    _write(os.path.join(root, "doc.html.de"), b"<p>Dokument</p>\n")
    _write(os.path.join(root, "big.en.txt"), BIG_EN)
    _write(os.path.join(root, "big.fr.txt"), BIG_FR)
    _write(os.path.join(root, "article.en.html"), HELLO_EN * 50)
    _write(os.path.join(root, "article.en.html.gz"), gzip.compress(HELLO_EN * 50, mtime=1), mtime=PAST + 10)
    _write(os.path.join(root, "article.fr.html"), HELLO_FR * 50)
    _write(os.path.join(root, "plain.txt"), b"plain\n")
    _write(os.path.join(root, "menu.var"), MENU_VAR)
    _write(os.path.join(root, "menu.en.html"), MENU_EN)
    _write(os.path.join(root, "menu.de.html.gz"), gzip.compress(MENU_DE, mtime=1))
    _write(os.path.join(root, "menu.txt"), MENU_TXT)
    _write(os.path.join(root, "sub", "index.html.en"), b"<p>index</p>\n")
    _write(os.path.join(root, "sub", "index.html.fr"), b"<p>accueil</p>\n")
    avif, webp, jpeg = _images()
    _write(os.path.join(root, "photo.avif"), avif)
    _write(os.path.join(root, "photo.webp"), webp)
    _write(os.path.join(root, "photo.jpg"), jpeg)
    _write(os.path.join(root, "pic.webp"), webp)
    _write(os.path.join(root, "pic.jpg"), jpeg)
    return root


@pytest.fixture(scope="module")
def tree():
    base = tempfile.mkdtemp(prefix="statusd-neg-", dir="/tmp")
    root = make_tree(base)
    yield root
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def neg(tree):
    """One server for the tests that only read the tree."""
    from conftest import Server, stop_and_check
    s = Server("--root", tree, "--negotiate", "--negotiate-list-query", "variants")
    yield s
    stop_and_check(s)


def ask(server, path, headers=(), method="GET"):
    headers = list(headers.items() if isinstance(headers, dict) else headers)
    lines = ["%s %s HTTP/1.1" % (method, path)] + ([] if any(k == "Host" for k, _ in headers) else ["Host: t"])
    lines += ["%s: %s" % kv for kv in headers]
    lines.append("Connection: close")
    data = server.raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return one_response(data, head=(method == "HEAD"))


def wait_stderr(server, text, timeout=3.0):
    return text in server.stderr(wait_for=text, timeout=timeout)


def chosen(r, location, language, vary=VARY_HTML_LANG):
    """A chosen variant's fields, exactly."""
    assert r.header("content-location") == location, r
    assert r.header("content-language") == language, r
    assert r.header_all("vary") == [vary], r


# ------------------------------------------------------------------------------ dimensions
def test_language_dimension(neg, tree):
    r = ask(neg, "/page", {"Accept-Language": "fr"})
    assert r.status == 200 and r.body == HELLO_FR
    chosen(r, "/page.fr.html", "fr")
    assert r.header("etag") == _etag(os.path.join(tree, "page.fr.html"))
    assert r.header("content-type") == "text/html; charset=utf-8"
    assert r.header("last-modified") == "Wed, 01 Jan 2020 12:00:00 GMT"

    r = ask(neg, "/page", {"Accept-Language": "fr-ca, fr;q=0.9"})  # tags are case-insensitive
    assert r.status == 200 and r.body == HELLO_CA
    chosen(r, "/page.fr-CA.html", "fr-CA")
    assert r.header("etag") == _etag(os.path.join(tree, "page.fr-CA.html"))

    r = ask(neg, "/page", {"Accept-Language": "en-GB, en;q=0.8, fr;q=0.5"})  # en-GB matches nothing
    assert r.status == 200 and r.body == HELLO_EN
    chosen(r, "/page.en.html", "en")

    # a language nobody asked for is a fallback (0.001), not a refusal: the first by name
    r = ask(neg, "/page", {"Accept-Language": "de"})
    assert r.status == 200 and r.body == HELLO_EN
    chosen(r, "/page.en.html", "en")


def test_language_after_type_apache_order(neg):
    r = ask(neg, "/doc.html", {"Accept-Language": "de, en;q=0.5"})
    assert r.status == 200 and r.body == b"<p>Dokument</p>\n"
    chosen(r, "/doc.html.de", "de")
    assert r.header("content-type") == "text/html; charset=utf-8"  # from the base's extension


def test_type_dimension(neg, tree):
    r = ask(neg, "/report", {"Accept": "application/json"})
    assert r.status == 200 and r.body == b'{"report": true}\n'
    assert r.header("content-type") == "application/json; charset=utf-8"
    chosen(r, "/report.json", None, "Accept, Accept-Encoding, Negotiate")  # no language took part
    assert r.header("etag") == _etag(os.path.join(tree, "report.json"))
    r = ask(neg, "/report", {"Accept": "text/plain, text/html;q=0.5"})
    assert r.status == 200 and r.body == b"report\n"
    chosen(r, "/report.txt", None, "Accept, Accept-Encoding, Negotiate")
    # text/* reaches html and plain alike: the name order decides
    r = ask(neg, "/report", {"Accept": "text/*, application/json;q=0.9"})
    assert r.status == 200 and r.header("content-location") == "/report.html"


def test_image_types(neg):
    chromium = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
    r = ask(neg, "/photo", {"Accept": chromium})
    assert r.status == 200 and r.header("content-type") == "image/avif"
    chosen(r, "/photo.avif", None, "Accept, Negotiate")  # images: no coding either
    r = ask(neg, "/photo", {"Accept": "image/webp,*/*"})
    assert r.status == 200 and r.header("content-type") == "image/webp"
    chosen(r, "/photo.webp", None, "Accept, Negotiate")
    r = ask(neg, "/photo", {"Accept": "image/jpeg, image/*;q=0.5"})
    assert r.header("content-type") == "image/jpeg" and r.header("content-location") == "/photo.jpg"


def test_encoding_dimension_precompressed_sibling(neg, tree):
    r = ask(neg, "/article", {"Accept-Language": "en", "Accept-Encoding": "gzip"})
    assert r.status == 200
    assert r.header("content-encoding") == "gzip" and gzip.decompress(r.body) == HELLO_EN * 50
    chosen(r, "/article.en.html", "en")
    assert r.header("etag") == _etag(os.path.join(tree, "article.en.html.gz"), "gz")
    r = ask(neg, "/article", {"Accept-Language": "en"})
    assert r.status == 200 and r.body == HELLO_EN * 50 and not r.has("content-encoding")
    assert r.header("etag") == _etag(os.path.join(tree, "article.en.html"))
    chosen(r, "/article.en.html", "en")


def test_type_map(neg, tree):
    # German, compressed: only for a client that takes gzip
    r = ask(neg, "/menu", {"Accept-Language": "de", "Accept-Encoding": "gzip"})
    assert r.status == 200 and gzip.decompress(r.body) == MENU_DE
    assert r.header("content-encoding") == "gzip"
    assert r.header("content-type") == "text/html; charset=utf-8"
    chosen(r, "/menu.de.html.gz", "de")
    assert r.header("etag") == _etag(os.path.join(tree, "menu.de.html.gz"))
    # without gzip the German variant is out: English html (qs 0.9) before text (qs 0.4)
    r = ask(neg, "/menu", {"Accept-Language": "de", "Accept-Encoding": "identity"})
    assert r.status == 200 and r.body == MENU_EN and not r.has("content-encoding")
    chosen(r, "/menu.en.html", "en")
    # qs against q: text/plain asked at 1, html at 0.3 → 0.4×1 > 0.9×0.3
    r = ask(neg, "/menu", {"Accept": "text/plain, text/html;q=0.3", "Accept-Language": "en"})
    assert r.status == 200 and r.body == MENU_TXT
    assert r.header("content-type") == "text/plain"  # as the map says: no charset added
    chosen(r, "/menu.txt", "en")
    # the map itself is negotiated, never sent as it is (Apache's type-map handler)
    r = ask(neg, "/menu.var", {"Accept-Language": "en"})
    assert r.status == 200 and r.body == MENU_EN
    chosen(r, "/menu.en.html", "en")


def test_directory_index_variants(neg):
    r = ask(neg, "/sub/", {"Accept-Language": "fr"})
    assert r.status == 200 and r.body == b"<p>accueil</p>\n"
    chosen(r, "/sub/index.html.fr", "fr")


def test_not_negotiated(neg, make_server, tree):
    # an existing file is itself, whatever its siblings
    r = ask(neg, "/page.en.html", {"Accept-Language": "fr"})
    assert r.status == 200 and r.body == HELLO_EN
    assert not r.has("content-location") and r.header_all("vary") == ["Accept-Encoding"]  # the coding only
    r = ask(neg, "/plain.txt")
    assert r.status == 200 and r.header_all("vary") == ["Accept-Encoding"] and not r.has("content-location")
    r = ask(neg, "/photo.webp", {"Accept": "image/avif"})
    assert r.status == 200 and not r.has("vary") and not r.has("content-location")
    r = ask(neg, "/nothing")
    assert r.status == 404 and not r.has("content-location")
    # negotiation off (the default): /page is simply missing
    plain = make_server("--root", tree)
    r = ask(plain, "/page", {"Accept-Language": "fr"})
    assert r.status == 404 and not r.has("content-location")


def test_head_options_and_other_methods(neg):
    g = ask(neg, "/page", {"Accept-Language": "fr"})
    h = ask(neg, "/page", {"Accept-Language": "fr"}, method="HEAD")
    assert h.status == 200 and h.body == b""
    for name in ("content-location", "content-language", "vary", "etag", "content-type", "content-length"):
        assert h.header(name) == g.header(name), name
    r = ask(neg, "/page", method="OPTIONS")
    assert r.status == 204 and r.header("allow") == "GET, HEAD, OPTIONS"
    r = ask(neg, "/page", {"Content-Length": "0"}, method="PUT")
    assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS"


# ------------------------------------------------------------------------------ conditionals, ranges
def test_conditional_requests(neg, tree):
    fr = _etag(os.path.join(tree, "page.fr.html"))
    r = ask(neg, "/page", {"Accept-Language": "fr", "If-None-Match": fr})
    assert r.status == 304 and r.body == b""
    chosen(r, "/page.fr.html", "fr")
    assert r.header("etag") == fr
    # the French tag does not match the English variant: 200 with the English one
    r = ask(neg, "/page", {"Accept-Language": "en", "If-None-Match": fr})
    assert r.status == 200 and r.body == HELLO_EN
    chosen(r, "/page.en.html", "en")
    # If-Modified-Since on the variant's Last-Modified
    r = ask(neg, "/page", {"Accept-Language": "fr", "If-Modified-Since": "Wed, 01 Jan 2020 12:00:00 GMT"})
    assert r.status == 304 and r.header("content-location") == "/page.fr.html"
    # If-Match against another variant's tag: 412, still with Vary
    r = ask(neg, "/page", {"Accept-Language": "en", "If-Match": fr})
    assert r.status == 412 and r.header_all("vary") == [VARY_HTML_LANG]
    r = ask(neg, "/page", {"Accept-Language": "fr", "If-Match": fr})
    assert r.status == 200 and r.body == HELLO_FR


def test_range_requests(neg, tree):
    en, fr = _etag(os.path.join(tree, "big.en.txt")), _etag(os.path.join(tree, "big.fr.txt"))
    vary = "Accept, Accept-Language, Accept-Encoding, Negotiate"
    r = ask(neg, "/big", {"Accept-Language": "fr", "Range": "bytes=10-19"})
    assert r.status == 206 and r.body == BIG_FR[10:20]
    assert r.header("content-range") == "bytes 10-19/1024"
    chosen(r, "/big.fr.txt", "fr", vary)
    assert r.header("etag") == fr
    # If-Range with this variant's tag: the range; with the other's: the whole variant
    r = ask(neg, "/big", {"Accept-Language": "fr", "Range": "bytes=0-3", "If-Range": fr})
    assert r.status == 206 and r.body == BIG_FR[:4]
    r = ask(neg, "/big", {"Accept-Language": "fr", "Range": "bytes=0-3", "If-Range": en})
    assert r.status == 200 and r.body == BIG_FR
    chosen(r, "/big.fr.txt", "fr", vary)
    r = ask(neg, "/big", {"Accept-Language": "en", "Range": "bytes=5000-"})
    assert r.status == 416 and r.header("content-range") == "bytes */1024"
    assert r.header_all("vary") == [vary]
    r = ask(neg, "/big", {"Accept-Language": "en", "Range": "bytes=-4"})
    assert r.status == 206 and r.body == BIG_EN[-4:]
    chosen(r, "/big.en.txt", "en", vary)
    r = ask(neg, "/big", {"Accept-Language": "en", "Range": "bytes=0-1,10-11"})
    assert r.status == 206 and r.header("content-type").startswith("multipart/byteranges; boundary=")
    chosen(r, "/big.en.txt", "en", vary)


# ------------------------------------------------------------------------------ 406
def test_406_lists_variants_in_the_error_format(neg):
    r = ask(neg, "/photo", {"Accept": "text/html"})
    assert r.status == 406
    assert r.header_all("vary") == ["Accept, Negotiate"]
    assert not r.has("content-location")
    assert r.header("content-type") == "text/html; charset=utf-8"
    body = r.body.decode()
    for href, t in (("/photo.avif", "image/avif"), ("/photo.jpg", "image/jpeg"), ("/photo.webp", "image/webp")):
        assert '<li><a href="%s" type="%s">%s</a> %s</li>' % (href, t, href, t) in body

    r = ask(neg, "/photo", {"Accept": "application/json"})
    assert r.status == 406 and r.header("content-type") == "application/json"
    doc = json.loads(r.body)
    assert doc["status"] == 406 and doc["reason"] == "Not Acceptable"
    assert doc["variants"] == [
        {"href": "/photo.avif", "type": "image/avif", "language": None, "description": None},
        {"href": "/photo.jpg", "type": "image/jpeg", "language": None, "description": None},
        {"href": "/photo.webp", "type": "image/webp", "language": None, "description": None},
    ]

    # q=0 excludes: every language refused (fr;q=0 also covers fr-CA by prefix)
    r = ask(neg, "/page", {"Accept-Language": "en;q=0, fr;q=0", "Accept": "text/plain, text/html"})
    assert r.status == 406 and r.header("content-type") == "text/plain; charset=utf-8"
    assert r.header_all("vary") == ["Accept, Accept-Language, Negotiate"]
    text = r.body.decode()
    assert text.startswith("406 Not Acceptable\n")
    assert "Variants:\n  /page.en.html  text/html  en\n  /page.fr-CA.html  text/html  fr-CA\n" \
           "  /page.fr.html  text/html  fr\n" in text


# ------------------------------------------------------------------------------ 300
def test_300_when_the_client_asks(neg):
    for how in ({"Negotiate": "vlist"}, {"Negotiate": "trans, list"}):
        r = ask(neg, "/page", dict(how, **{"Accept-Language": "fr", "Accept": "text/plain, text/html;q=0.5"}))
        assert r.status == 300, how
        assert r.header("location") == "/page.fr.html"  # what the client would have got
        assert r.header_all("link") == [
            '</page.en.html>; rel="alternate"; type="text/html"; hreflang=en',
            '</page.fr-CA.html>; rel="alternate"; type="text/html"; hreflang=fr-CA',
            '</page.fr.html>; rel="alternate"; type="text/html"; hreflang=fr',
        ]
        assert r.header_all("vary") == ["Accept, Accept-Language, Negotiate"]
        assert not r.has("content-location")
        assert r.body.decode().startswith("300 Multiple Choices\n")
        assert "  /page.fr.html  text/html  fr\n" in r.body.decode()
    # the configured query parameter; a type map's descriptions become titles
    r = ask(neg, "/menu?variants",
            {"Accept-Language": "de", "Accept-Encoding": "gzip", "Accept": "application/json, text/*;q=0.5"})
    assert r.status == 300 and r.header("location") == "/menu.de.html.gz"
    assert r.header_all("link") == [
        '</menu.en.html>; rel="alternate"; type="text/html"; hreflang=en',
        '</menu.de.html.gz>; rel="alternate"; type="text/html"; hreflang=de; title="Deutsch, komprimiert"',
        '</menu.txt>; rel="alternate"; type="text/plain"; hreflang=en',
    ]
    assert r.header_all("vary") == ["Accept, Accept-Language, Accept-Encoding, Negotiate"]
    doc = json.loads(r.body)
    assert [v["href"] for v in doc["variants"]] == ["/menu.en.html", "/menu.de.html.gz", "/menu.txt"]
    assert doc["variants"][1]["description"] == "Deutsch, komprimiert"
    # nothing acceptable and the list asked for: 300 without Location
    r = ask(neg, "/photo?a=1&variants=yes", {"Accept": "text/html"})
    assert r.status == 300 and not r.has("location") and len(r.header_all("link")) == 3
    # HEAD: the same head, no body
    r = ask(neg, "/page?variants", method="HEAD")
    assert r.status == 300 and r.body == b"" and r.header("location") == "/page.en.html"


def test_300_on_a_tie(make_server, tree):
    s = make_server("--root", tree, "--negotiate", "--negotiate-on-tie", "list")
    r = ask(s, "/page")  # no preference at all: three languages tie
    assert r.status == 300 and not r.has("location")  # RFC 9110 §15.4.1: the server does not choose
    assert len(r.header_all("link")) == 3
    assert r.header_all("vary") == ["Accept, Accept-Language, Negotiate"]
    r = ask(s, "/page", {"Accept-Language": "en, fr"})  # equal q, different languages
    assert r.status == 300 and not r.has("location")
    r = ask(s, "/page", {"Accept-Language": "en, fr;q=0.5"})
    assert r.status == 200 and r.body == HELLO_EN
    chosen(r, "/page.en.html", "en")
    r = ask(s, "/page", {"Accept-Language": "fr"})  # fr exactly before fr-CA by prefix: no tie
    assert r.status == 200 and r.body == HELLO_FR
    r = ask(s, "/photo", {"Accept": "image/avif, image/webp"})
    assert r.status == 300
    r = ask(s, "/photo", {"Accept": "image/avif, image/webp;q=0.9"})
    assert r.status == 200 and r.header("content-location") == "/photo.avif"


# ------------------------------------------------------------------------------ 506, broken maps
def test_506_from_a_type_map_naming_a_type_map(make_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(root, 0o755)
    _write(str(root / "a.html"), b"<p>a</p>\n")
    s = make_server("--root", str(root), "--negotiate")
    # made after the start (statusd -t and the start refuse such a map: see below)
    _write(str(root / "loop.var"), b"URI: loop\n\nURI: other.var\nContent-Type: text/html\n")
    _write(str(root / "other.var"), b"URI: a.html\nContent-Type: text/html\n")
    r = ask(s, "/loop", {"Accept": "application/json, text/html;q=0.1"})
    assert r.status == 506
    assert r.header_all("vary") == ["Accept, Negotiate"]
    detail = json.loads(r.body)["detail"]
    assert detail == ("the type map /loop.var (line 3) chose /other.var, which is itself a type map: negotiating "
                      "again could loop, so no representation can be selected; the type map must name files")
    # a map naming a name that negotiates by its siblings
    _write(str(root / "ghost.en.html"), b"<p>ghost</p>\n")
    _write(str(root / "call.var"), b"URI: ghost\nContent-Type: text/html\n")
    r = ask(s, "/call")
    assert r.status == 506 and r.header("content-type") == "text/plain; charset=utf-8"
    assert r.body.decode().startswith("506 Variant Also Negotiates\nthe type map /call.var (line 1) chose /ghost, "
                                      "which is itself negotiated (it has variants of its own)")
    assert wait_stderr(s, "negotiate: 506 for /call: the type map /call.var (line 1) chose /ghost")


def test_broken_type_map_is_500_with_its_line(make_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(root, 0o755)
    s = make_server("--root", str(root), "--negotiate")
    _write(str(root / "bad.var"), b"URI: x.html\nContent-Type: text/html; qs=2\n")
    r = ask(s, "/bad", {"Accept": "application/json"})
    assert r.status == 500
    assert json.loads(r.body)["detail"] == \
        "the type map /bad.var is broken (line 2): qs must be a qvalue between 0 and 1 (0.5, 1)"
    _write(str(root / "big.var"), b"URI: x.html\n" + b"#" * (64 * 1024))
    r = ask(s, "/big")
    assert r.status == 500 and b"larger than 64 KiB" in r.body


def _check(root, *extra):
    env = dict(os.environ)
    env.pop("STATUSD_BIN", None)
    return subprocess.run([BIN, "-t", "--root", root, "--negotiate", *extra], capture_output=True, text=True,
                          timeout=30, env=env)


def test_statusd_t_finds_loops_and_broken_maps(tmp_path):
    root = tmp_path / "root"
    (root / "deep" / "er").mkdir(parents=True)
    _write(str(root / "a.html"), b"a\n")
    p = _check(str(root))
    assert p.returncode == 0 and "is valid" in p.stdout
    real = os.path.realpath(str(root))
    _write(str(root / "deep" / "er" / "m.var"), b"# a comment\nURI: m\n\nURI: n.var\nContent-Type: text/html\n")
    p = _check(str(root))
    assert p.returncode != 0
    assert ("negotiate: %s/deep/er/m.var:4: the variant deep/er/n.var is itself a type map: a request choosing it "
            "would get 506 Variant Also Negotiates" % real) in p.stderr
    os.unlink(str(root / "deep" / "er" / "m.var"))
    _write(str(root / "g.en.html"), b"g\n")
    _write(str(root / "h.var"), b"URI: g\n")
    p = _check(str(root))
    assert p.returncode != 0 and "%s/h.var:1: the variant g is itself negotiated" % real in p.stderr
    os.unlink(str(root / "h.var"))
    _write(str(root / "s.var"), b"URI: a.html\nContent-Typo: text/html\n")
    p = _check(str(root))
    assert p.returncode != 0 and "%s/s.var:2: unknown field" % real in p.stderr
    # without negotiate nothing is looked at
    env = dict(os.environ)
    env.pop("STATUSD_BIN", None)
    p = subprocess.run([BIN, "-t", "--root", str(root)], capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode == 0
    # the start refuses too: what -t accepts starts, and what it refuses does not
    p = subprocess.run([BIN, "--root", str(root), "--negotiate", "--listen", "127.0.0.1:0"], capture_output=True,
                       text=True, timeout=30, env=env)
    assert p.returncode != 0 and "s.var:2" in p.stderr


def test_yaml_paths_and_settings(make_server, tree, tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("""hosts:
  a.example:
    paths:
      /docs: {root: %s, negotiate: true, negotiate.list_query: alts}
      /plain: {root: %s}
      /tie: {root: %s, negotiate: true, negotiate.on_tie: list}
""" % (tree, tree, tree))
    s = make_server("--config", str(conf))
    r = ask(s, "/docs/page", {"Accept-Language": "fr", "Host": "a.example"})
    assert r.status == 200 and r.body == HELLO_FR
    chosen(r, "/docs/page.fr.html", "fr")  # the mount point is part of the address
    r = ask(s, "/docs/page?alts")
    assert r.status == 300 and r.header("location") == "/docs/page.en.html"
    assert r.header_all("link")[0] == '</docs/page.en.html>; rel="alternate"; type="text/html"; hreflang=en'
    assert ask(s, "/plain/page").status == 404
    assert ask(s, "/tie/page").status == 300
    bad = tmp_path / "bad.yaml"
    bad.write_text("root: %s\nnegotiate: true\nnegotiate.on_tie: maybe\n" % tree)
    env = dict(os.environ)
    env.pop("STATUSD_BIN", None)
    p = subprocess.run([BIN, "-t", "--config", str(bad)], capture_output=True, text=True, timeout=30, env=env)
    assert p.returncode != 0
    assert "bad.yaml:3" in p.stderr and "negotiate.on_tie must be 'choose' or 'list', got 'maybe'" in p.stderr


# ------------------------------------------------------------------------------ freshness, limits
def test_changes_are_seen(make_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(root, 0o755)
    _write(str(root / "x.en.html"), b"en\n")
    s = make_server("--root", str(root), "--negotiate")
    assert ask(s, "/x", {"Accept-Language": "de"}).body == b"en\n"
    _write(str(root / "x.de.html"), b"de\n")  # a new variant
    r = ask(s, "/x", {"Accept-Language": "de"})
    assert r.body == b"de\n" and r.header("content-location") == "/x.de.html"
    os.unlink(str(root / "x.de.html"))
    assert ask(s, "/x", {"Accept-Language": "de"}).body == b"en\n"
    _write(str(root / "x"), b"itself\n")  # the name becomes a file: no more negotiation
    r = ask(s, "/x", {"Accept-Language": "de"})
    assert r.body == b"itself\n" and not r.has("content-location")
    # a type map's contents change without its directory changing
    _write(str(root / "m.var"), b"URI: x.en.html\nContent-Type: text/html\n")
    assert ask(s, "/m").header("content-location") == "/x.en.html"
    with open(str(root / "m.var"), "ab") as f:
        f.write(b"\nURI: x\nContent-Type: text/html\nContent-Language: de\n")
    r = ask(s, "/m", {"Accept-Language": "de"})
    assert r.status == 200 and r.header("content-location") == "/x" and r.body == b"itself\n"
    # a variant that vanished is skipped for the next one
    _write(str(root / "v.var"), b"URI: gone.html\nContent-Type: text/html\n\nURI: x.en.html\nContent-Type: text/html"
                               b"; qs=0.5\n")
    r = ask(s, "/v")
    assert r.status == 200 and r.header("content-location") == "/x.en.html"
    assert wait_stderr(s, "the variant gone.html of v does not exist as a file; trying the next")


def test_limits(make_server, tmp_path):
    root = tmp_path / "root"
    (root / "many").mkdir(parents=True)
    (root / "huge").mkdir()
    os.chmod(tmp_path, 0o755)
    for d in (root, root / "many", root / "huge"):
        os.chmod(str(d), 0o755)
    _write(str(root / "p.en.html"), b"en\n")
    _write(str(root / "p.fr.html"), b"fr\n")
    langs = ["%s%s" % (a, b) for a in "abcdefghij" for b in "abcdefgh"][:65]
    for l in langs:  # 65 variants: one over the limit
        _write(str(root / "many" / ("n.%s.txt" % l)), b"x\n")
    for i in range(10001):  # a directory over the scan limit
        open(str(root / "huge" / ("f%05d" % i)), "wb").close()
    _write(str(root / "huge" / "q.en.html"), b"en\n")
    s = make_server("--root", str(root), "--negotiate")
    r = ask(s, "/many/n", {"Accept": "application/json"})
    assert r.status == 500
    assert json.loads(r.body)["detail"] == ("/many/n: more than 64 variants: a name may have at most 64 (list the "
                                            "ones to offer in a type map)")
    r = ask(s, "/huge/q")
    assert r.status == 404  # not negotiated in a directory of more than 10000 names
    assert wait_stderr(s, "the directory /huge has more than 10000 entries: names in it are not negotiated")
    # fields far beyond any real client (8 KiB each, thousands of elements): the right answer, quickly
    al = ", ".join("x%d;q=0.5" % i for i in range(1200))[:7000] + ", fr"
    acc = ", ".join("x/y%d;q=0.5" % i for i in range(1000))[:7000] + ", text/html"
    t0 = time.time()
    r = ask(s, "/p", {"Accept-Language": al, "Accept": acc})
    assert r.status == 200 and r.body == b"fr\n"
    assert time.time() - t0 < 2


def test_causes_in_the_json_log(tree, make_server, tmp_path):
    """Each answer negotiation makes itself carries its cause (statusd explain --causes)."""
    s = make_server("--root", tree, "--negotiate", "--negotiate-list-query", "variants", "--log-format", "json")
    assert ask(s, "/photo", {"Accept": "text/html"}).status == 406
    assert ask(s, "/page", {"Negotiate": "vlist"}).status == 300
    lines = [json.loads(l) for l in s.access_log(wait_for='"status":300', count=1)]
    got = {(d["target"], d["status"], d["cause"]) for d in lines}
    assert ("/photo", 406, "negotiate:none_acceptable") in got, got
    assert ("/page", 300, "negotiate:list") in got, got
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(root, 0o755)
    _write(str(root / "a.html"), b"<p>a</p>\n")
    s = make_server("--root", str(root), "--negotiate", "--log-format", "json")
    _write(str(root / "loop.var"), b"URI: loop\n\nURI: other.var\nContent-Type: text/html\n")
    _write(str(root / "other.var"), b"URI: a.html\nContent-Type: text/html\n")
    _write(str(root / "bad.var"), b"URI: a.html\nColour: blue\n")
    assert ask(s, "/loop").status == 506
    assert ask(s, "/bad").status == 500
    lines = [json.loads(l) for l in s.access_log(wait_for='"target":"/bad"')]
    got = {(d["target"], d["status"], d["cause"]) for d in lines}
    assert ("/loop", 506, "negotiate:variant_negotiates") in got, got
    assert ("/bad", 500, "negotiate:bad_type_map") in got, got
