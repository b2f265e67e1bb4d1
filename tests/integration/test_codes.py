"""The /codes reference (src/modules/reference): the registry served by statusd itself.

/codes and /codes/{code} in HTML, JSON and text chosen by Accept (RFC 9110 §12.5.1), 406 when
nothing fits, Vary: Accept, 404 with suggestions, GET/HEAD only, and mounted at /codes whatever
--root and --api say. The JSON is compared with `statusd list --json` / `statusd explain --json`
byte for byte: the command line and the server share one writer.
"""
import html.parser
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import BIN, Server, one_response

H_JSON = "application/json"
H_HTML = "text/html"
H_TEXT = "text/plain"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
VOID = {"meta", "link", "br", "hr", "img", "input", "wbr", "area", "base", "col", "embed", "source", "track"}


def cli(*args):
    env = dict(os.environ)
    env.pop("STATUSD_BIN", None)
    p = subprocess.run([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=20)
    assert p.returncode == 0, p.stderr
    return p.stdout


REGISTRY = json.loads(cli("list", "--json"))
CODES = [o["code"] for o in REGISTRY]


def request(method, path, headers=(), version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, path, version), "Host: t"]
    lines += ["%s: %s" % kv for kv in headers]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def ask(server, path, accept=None, method="GET", headers=(), version="HTTP/1.1"):
    hs = list(headers)
    if accept is not None:
        hs.append(("Accept", accept))
    data = server.raw(request(method, path, hs, version))
    return one_response(data, head=(method == "HEAD"))


def ctype(r):
    return (r.header("content-type") or "").split(";")[0].strip()


def vary_has_accept(r):
    return any("accept" in [t.strip().lower() for t in v.split(",")] for v in r.header_all("vary"))


class TagChecker(html.parser.HTMLParser):
    """Collects the text and checks that every non-void element is closed in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.text, self.tags = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("unexpected </%s> with open %r" % (tag, self.stack[-3:]))
        else:
            self.stack.pop()

    def handle_data(self, data):
        if not self.stack or self.stack[-1] != "style":
            self.text.append(data)


def check_html(body):
    p = TagChecker()
    p.feed(body.decode("utf-8"))
    p.close()
    assert not p.errors and not p.stack, (p.errors, p.stack)
    assert b"<script" not in body.lower()
    return p, " ".join("".join(p.text).split())


@pytest.fixture(scope="module")
def srv():
    s = Server()
    yield s
    s.stop()
    assert "response rule violated" not in s.stderr() and "Sanitizer" not in s.stderr(), s.stderr()


# ---------------------------------------------------------------------------------- formats
def test_index_in_three_formats(srv):
    r = ask(srv, "/codes", BROWSER_ACCEPT)
    assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8"
    p, text = check_html(r.body)
    assert "HTTP status codes" in text
    hrefs = {a.get("href") for t, a in p.tags if t == "a"}
    assert all("/codes/%d" % c in hrefs for c in CODES)
    # grouped by class, in order
    sections = [a.get("id") for t, a in p.tags if t == "section"]
    assert sections == ["1xx", "2xx", "3xx", "4xx", "5xx"]

    r = ask(srv, "/codes", H_JSON)
    assert r.status == 200 and r.header("content-type") == "application/json"
    assert r.body == cli("list", "--json")  # the very same bytes as the command line

    r = ask(srv, "/codes", H_TEXT)
    assert r.status == 200 and r.header("content-type") == "text/plain; charset=utf-8"
    text = r.body.decode("utf-8")
    assert text.startswith("HTTP status codes known to statusd (%d)\n" % len(CODES))
    for o in REGISTRY:
        assert re.search(r"^  %d  %s" % (o["code"], re.escape(o["reason"])), text, re.M), o["code"]
    assert [m for m in re.findall(r"^([1-5]xx) ", text, re.M)] == ["1xx", "2xx", "3xx", "4xx", "5xx"]


def test_unofficial_codes_marked_with_origin(srv):
    text = ask(srv, "/codes", H_TEXT).body.decode()
    page = ask(srv, "/codes", H_HTML).body.decode()
    for o in REGISTRY:
        row = re.search(r'<tr id="c%d">(.*?)</tr>' % o["code"], page).group(1)
        line = re.search(r"^  %d  .*$" % o["code"], text, re.M).group(0)
        if "unofficial" in o["flags"]:
            assert 'class="tag"' in row and o["origin"] in row, o["code"]
            assert line.endswith("[%s]" % o["origin"]), line
        else:
            assert "[" not in line, line
    assert "nginx" in re.search(r'<tr id="c444">(.*?)</tr>', page).group(1)
    assert "HTCPCP" in re.search(r'<tr id="c418">(.*?)</tr>', page).group(1)


def test_code_page_in_three_formats(srv):
    r = ask(srv, "/codes/451", H_JSON)
    assert r.status == 200 and r.header("content-type") == "application/json"
    assert r.body == cli("explain", "--json", "451")
    doc = json.loads(r.body)
    assert doc["recommended_headers"] == ["Link"] and doc["reference"] == "RFC 7725 §3"

    r = ask(srv, "/codes/451", H_TEXT)
    text = r.body.decode("utf-8")
    assert text.startswith(cli("explain", "451").decode("utf-8"))
    assert "Previous:     450 " in text and "Next:         494 " in text and "/codes\n" in text

    r = ask(srv, "/codes/451", BROWSER_ACCEPT)
    assert r.header("content-type") == "text/html; charset=utf-8"
    p, text = check_html(r.body)
    h1 = re.search(rb"<h1>(.*?)</h1>", r.body).group(1)
    assert re.sub(rb"<[^>]+>", b"", h1) == b"451 Unavailable For Legal Reasons"
    for field in ("Class", "4xx (client error)", "Origin", "IANA", "Reference", "RFC 7725 §3", "Flags", "none",
                  "Required headers", "Recommended headers", "Link", doc["summary"]):
        assert field in text, field
    assert " ".join(doc["explanation"].split()) in text
    rels = {a.get("rel"): a.get("href") for t, a in p.tags if t == "a" and a.get("rel")}
    assert rels == {"prev": "/codes/450", "next": "/codes/494"}
    hrefs = [a.get("href") for t, a in p.tags if t == "a"]
    assert "/codes" in hrefs and "/codes?class=4xx" in hrefs
    assert "https://www.rfc-editor.org/rfc/rfc7725.html#section-3" in hrefs


def test_html_is_escaped(srv):
    body = ask(srv, "/codes/418", H_HTML).body
    assert b"I&#39;m a teapot" in body and b"I'm a teapot" not in body
    body = ask(srv, "/codes/451", H_HTML).body
    assert b"&quot;blocked-by&quot;" in body and b'"blocked-by"' not in body
    check_html(body)


def test_flags_and_headers_in_words(srv):
    _, text = check_html(ask(srv, "/codes/408", H_HTML).body)
    assert "closes the connection" in text and "Connection: close" in text
    _, text = check_html(ask(srv, "/codes/100", H_HTML).body)
    assert "interim (never the final response)" in text and "never has content" in text
    _, text = check_html(ask(srv, "/codes/444", H_HTML).body)
    assert "log only (never sent on the wire)" in text and "unofficial" in text and "nginx" in text
    body = ask(srv, "/codes/405", H_HTML).body
    check_html(body)
    assert b"<dt>Required headers</dt><dd><code>Allow</code></dd>" in body


def test_first_and_last_codes_have_one_neighbour(srv):
    p, _ = check_html(ask(srv, "/codes/%d" % CODES[0], H_HTML).body)
    rels = {a.get("rel") for t, a in p.tags if t == "a" and a.get("rel")}
    assert rels == {"next"}
    p, _ = check_html(ask(srv, "/codes/%d" % CODES[-1], H_HTML).body)
    rels = {a.get("rel") for t, a in p.tags if t == "a" and a.get("rel")}
    assert rels == {"prev"}
    text = ask(srv, "/codes/%d" % CODES[-1], H_TEXT).body.decode()
    assert "Previous:" in text and "Next:" not in text


# ---------------------------------------------------------------------------------- negotiation
@pytest.mark.parametrize("accept,want", [
    (None, H_TEXT),                                   # no Accept: anything goes, text first
    ("*/*", H_TEXT),                                  # curl: a tie, text first
    ("", H_TEXT),                                     # empty Accept is treated as absent
    (BROWSER_ACCEPT, H_HTML),
    ("application/json", H_JSON),
    ("text/html;q=0.5, application/json", H_JSON),
    ("application/json;q=0.2, text/plain;q=0.9", H_TEXT),
    ("text/plain;q=0.4, text/html;q=0.6, application/json;q=0.5", H_HTML),
    ("application/*", H_JSON),                        # wildcard subtype
    ("text/*", H_TEXT),                               # two text types tie: text/plain first
    ("text/*;q=0.3, text/html", H_HTML),              # the most specific range decides
    ("text/plain;q=0, */*", H_HTML),                  # q=0 rules text out; next in order
    ("text/plain;q=0, text/html;q=0, */*;q=0.1", H_JSON),
    ("*/*;q=0.1, application/json;q=0", H_TEXT),
    ("TEXT/HTML", H_HTML),                            # media types are case-insensitive
    ("text/html;level=1;q=0.7, text/plain;q=0.6", H_HTML),
    ("image/png, text/html;q=0.001", H_HTML),
])
def test_negotiation(srv, accept, want):
    for path in ("/codes", "/codes/404"):
        r = ask(srv, path, accept)
        assert r.status == 200 and ctype(r) == want, (path, accept, r.headers)
        assert vary_has_accept(r)


@pytest.mark.parametrize("accept", [
    "image/png",
    "image/*, application/xml",
    "text/plain;q=0, text/html;q=0, application/json;q=0",
    "*/*;q=0",
    "text/*;q=0, application/json;q=0.0",
])
def test_406_lists_the_available_types(srv, accept):
    for path in ("/codes", "/codes/418", "/codes?class=2xx"):
        r = ask(srv, path, accept)
        assert r.status == 406 and r.reason == "Not Acceptable", (path, accept)
        assert vary_has_accept(r)
        assert ctype(r) == H_TEXT
        body = r.body.decode()
        assert body.startswith("406 Not Acceptable\n")
        for t in (H_TEXT, H_HTML, H_JSON):
            assert t in body, (t, body)
        h = ask(srv, path, accept, method="HEAD")
        assert h.status == 406 and h.body == b"" and h.header("content-length") == str(len(r.body))


def test_vary_on_every_negotiated_answer(srv):
    for path in ("/codes", "/codes/200", "/codes?class=5xx", "/codes/999", "/codes/teapot"):
        for accept in (None, H_HTML, H_JSON, H_TEXT, "image/png"):
            r = ask(srv, path, accept)
            assert vary_has_accept(r), (path, accept, r.headers)
            assert len(r.header_all("vary")) == 1, r.headers


def test_head_matches_get(srv):
    for accept in (H_HTML, H_JSON, H_TEXT):
        for path in ("/codes", "/codes/503", "/codes/777"):
            g = ask(srv, path, accept)
            h = ask(srv, path, accept, method="HEAD")
            assert h.status == g.status and h.body == b""
            assert h.header("content-length") == g.header("content-length") == str(len(g.body))
            assert h.header("content-type") == g.header("content-type")


def test_http_1_0_client(srv):
    r = ask(srv, "/codes/200", H_TEXT, version="HTTP/1.0")
    # answered as HTTP/1.1 (RFC 9110 §6.2: our own version), closed after since 1.0 did not ask to keep it
    assert r.status == 200 and r.header("connection") == "close" and r.body.startswith(b"200 OK\n")


# ---------------------------------------------------------------------------------- every code
def test_every_registered_code_has_a_page(srv):
    """Loop over `statusd list --json`: each code has its page in each format."""
    assert len(CODES) >= 80 and CODES == sorted(CODES)
    for i, o in enumerate(REGISTRY):
        code = o["code"]
        r = ask(srv, "/codes/%d" % code, H_JSON)
        assert r.status == 200 and json.loads(r.body) == o, code
        r = ask(srv, "/codes/%d" % code, H_TEXT)
        assert r.status == 200 and r.body.decode().startswith("%d %s\n" % (code, o["reason"])), code
        r = ask(srv, "/codes/%d" % code, H_HTML)
        assert r.status == 200, code
        p, text = check_html(r.body)
        assert text.count("%d %s" % (code, o["reason"])) >= 1, code
        assert o["summary"] in text and " ".join(o["explanation"].split()) in text, code
        assert o["origin"] in text and o["reference"] in text, code
        rels = {a.get("rel"): a.get("href") for t, a in p.tags if t == "a" and a.get("rel")}
        if i > 0:
            assert rels["prev"] == "/codes/%d" % CODES[i - 1]
        if i + 1 < len(CODES):
            assert rels["next"] == "/codes/%d" % CODES[i + 1]


# ---------------------------------------------------------------------------------- class filter
def test_class_filter(srv):
    for cls in ("1xx", "2xx", "3xx", "4xx", "5xx"):
        r = ask(srv, "/codes?class=" + cls, H_JSON)
        assert r.status == 200 and r.body == cli("list", "--class", cls, "--json"), cls
        p, _ = check_html(ask(srv, "/codes?class=" + cls, H_HTML).body)
        assert [a.get("id") for t, a in p.tags if t == "section"] == [cls]
        text = ask(srv, "/codes?class=" + cls, H_TEXT).body.decode()
        assert {int(c) // 100 for c in re.findall(r"^  (\d{3})  ", text, re.M)} == {int(cls[0])}
    assert ask(srv, "/codes?class=4XX", H_JSON).body == cli("list", "--class", "4xx", "--json")
    assert ask(srv, "/codes?x=1&class=5", H_JSON).body == cli("list", "--class", "5xx", "--json")
    for bad in ("9xx", "4x", "client", ""):
        r = ask(srv, "/codes?class=" + bad, H_JSON)
        assert r.status == 400 and "class" in json.loads(r.body)["detail"], bad


# ---------------------------------------------------------------------------------- 404
def suggestions(srv, path):
    r = ask(srv, path, H_JSON)
    assert r.status == 404 and r.header("content-type") == "application/json", path
    doc = json.loads(r.body)
    assert doc["status"] == 404 and doc["reason"] == "Not Found" and doc["detail"]
    return doc


def test_404_suggests_nearest_codes(srv):
    doc = suggestions(srv, "/codes/999")
    assert "999" in doc["detail"]
    got = [s["code"] for s in doc["suggestions"]]
    want = sorted(CODES, key=lambda c: (abs(c - 999), c))[:len(got)]
    assert got == want and got[0] == 599
    for s in doc["suggestions"]:
        assert s["href"] == "/codes/%d" % s["code"]
        assert s["reason"] == next(o["reason"] for o in REGISTRY if o["code"] == s["code"])


def test_404_suggests_same_class(srv):
    doc = suggestions(srv, "/codes/419")
    got = [s["code"] for s in doc["suggestions"]]
    assert got[0] == 418 and all(400 <= c < 500 for c in got)
    assert got == sorted([c for c in CODES if c // 100 == 4], key=lambda c: (abs(c - 419), c))[:len(got)]
    doc = suggestions(srv, "/codes/150")
    assert all(100 <= s["code"] < 200 for s in doc["suggestions"])


def test_404_for_words_and_oddities(srv):
    doc = suggestions(srv, "/codes/abc")
    assert "abc" in doc["detail"]
    assert [s.get("class") for s in doc["suggestions"]] == ["1xx", "2xx", "3xx", "4xx", "5xx"]
    assert doc["suggestions"][3]["href"] == "/codes?class=4xx"
    assert [s["code"] for s in suggestions(srv, "/codes/teapot")["suggestions"]] == [418]
    assert 404 in [s["code"] for s in suggestions(srv, "/codes/not-found")["suggestions"]]
    assert 429 in [s["code"] for s in suggestions(srv, "/codes/TOO_MANY")["suggestions"]]
    doc = suggestions(srv, "/codes/404.html")
    assert doc["suggestions"][0]["code"] == 404 and "/codes/404" in doc["detail"]
    doc = suggestions(srv, "/codes/4xx")
    assert doc["suggestions"] == [{"class": "4xx", "href": "/codes?class=4xx"}]
    doc = suggestions(srv, "/codes/4040")
    assert "three digits" in doc["detail"] and doc["suggestions"][0]["class"] == "4xx"
    doc = suggestions(srv, "/codes/%3Cb%3E")
    assert doc["detail"].startswith("'%3Cb%3E'")


def test_404_in_html_and_text(srv):
    r = ask(srv, "/codes/999", BROWSER_ACCEPT)
    assert r.status == 404 and ctype(r) == H_HTML and vary_has_accept(r)
    p, text = check_html(r.body)
    assert "404 Not Found" in text and "999" in text
    hrefs = [a.get("href") for t, a in p.tags if t == "a"]
    assert "/codes/599" in hrefs and "/codes" in hrefs
    r = ask(srv, "/codes/999")
    assert r.status == 404 and ctype(r) == H_TEXT
    lines = r.body.decode().splitlines()
    assert lines[0] == "404 Not Found" and "999" in lines[1]
    assert any(l.strip().startswith("599 ") and l.endswith("/codes/599") for l in lines)
    # nothing acceptable: still a 404, explained in text
    r = ask(srv, "/codes/999", "image/png")
    assert r.status == 404 and ctype(r) == H_TEXT


def test_404_escapes_what_was_asked(srv):
    r = ask(srv, "/codes/a'b\"c", H_HTML)
    assert r.status == 404
    check_html(r.body)
    assert b"a&#39;b&quot;c" in r.body and b"a'b\"c" not in r.body
    # shown back in printable ASCII, at most 40 bytes and "..."
    doc = suggestions(srv, "/codes/" + "z" * 100)
    assert "z" * 40 + "..." in doc["detail"] and "z" * 41 not in doc["detail"]


# ---------------------------------------------------------------------------------- methods
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"])
def test_other_methods_are_405(srv, method):
    for path in ("/codes", "/codes/404"):
        r = ask(srv, path, H_JSON, method=method, headers=[("Content-Length", "0")] if method in ("POST", "PUT") else [])
        assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS", (method, path)
        assert json.loads(r.body)["status"] == 405


def test_options_is_204_with_allow(srv):
    for path in ("/codes", "/codes/", "/codes/301"):
        r = ask(srv, path, method="OPTIONS")
        assert r.status == 204 and r.header("allow") == "GET, HEAD, OPTIONS" and r.body == b""
        assert not r.has("content-length") and not r.has("content-type")


def test_trailing_slash_is_the_index(srv):
    r = ask(srv, "/codes/", H_JSON)
    assert r.status == 200 and r.body == cli("list", "--json")


# ---------------------------------------------------------------------------------- mounting
@pytest.fixture(scope="module")
def docroot():
    d = tempfile.mkdtemp(prefix="statusd-codes-")
    os.chmod(d, 0o755)
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write("<p>home</p>\n")
    os.chmod(os.path.join(d, "index.html"), 0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("args", [["--root", "{root}"], ["--root", "{root}", "--no-api"], ["--no-api"],
                                  ["--root", "{root}", "--api-prefix", "/x"]])
def test_mounted_whatever_root_and_api_say(make_server, docroot, args):
    s = make_server(*[a.format(root=docroot) for a in args])
    r = ask(s, "/codes/418", H_JSON)
    assert r.status == 200 and json.loads(r.body)["code"] == 418
    r = ask(s, "/codes", H_HTML)
    assert r.status == 200 and b"<h1>HTTP status codes</h1>" in r.body
    if "--root" in args:
        assert ask(s, "/").body == b"<p>home</p>\n"  # everything else still reaches the other modules


def test_other_paths_are_declined(srv):
    # /codesX and /code are not ours: they fall through to the API (404 from the engine here)
    for path in ("/codesx", "/code", "/Codes"):
        r = ask(srv, path, H_JSON)
        assert r.status == 404 and "suggestions" not in json.loads(r.body), path
