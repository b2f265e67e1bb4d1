"""Client-testing API: mounting, landing page, methods, and the httpbin echo routes
(/get /post /put /patch /delete /anything /headers /ip /user-agent /dump/request
/response-headers), including the httpbin JSON shapes."""
import http.client
import json
import os
import shutil
import tempfile

import pytest
import requests

from conftest import one_response, read_all
from test_api_helpers import fetch, jbody, running



# ---------------------------------------------------------------- httpbin shapes
HTTPBIN_FIELDS = {
    ("GET", "/get"): {"args", "headers", "origin", "url"},
    ("POST", "/post"): {"args", "data", "files", "form", "headers", "json", "origin", "url"},
    ("PUT", "/put"): {"args", "data", "files", "form", "headers", "json", "origin", "url"},
    ("PATCH", "/patch"): {"args", "data", "files", "form", "headers", "json", "origin", "url"},
    ("DELETE", "/delete"): {"args", "data", "files", "form", "headers", "json", "origin", "url"},
    ("GET", "/anything"): {"args", "data", "files", "form", "headers", "json", "method", "origin", "url"},
    ("POST", "/anything/x/y"): {"args", "data", "files", "form", "headers", "json", "method", "origin", "url"},
    ("GET", "/headers"): {"headers"},
    ("GET", "/ip"): {"origin"},
    ("GET", "/user-agent"): {"user-agent"},
    ("GET", "/uuid"): {"uuid"},
    ("GET", "/cookies"): {"cookies"},
    ("GET", "/gzip"): {"gzipped", "headers", "method", "origin"},
    ("GET", "/deflate"): {"deflated", "headers", "method", "origin"},
    ("GET", "/brotli"): {"brotli", "headers", "method", "origin"},
    ("GET", "/delay/0"): {"args", "data", "files", "form", "headers", "origin", "url"},
    ("GET", "/cache"): {"args", "headers", "origin", "url"},
    ("GET", "/cache/60"): {"args", "headers", "origin", "url"},
    ("GET", "/etag/x"): {"args", "headers", "origin", "url"},
    ("GET", "/basic-auth/u/p"): {"authenticated", "user"},
    ("GET", "/bearer"): {"authenticated", "token"},
    ("GET", "/json"): {"slideshow"},
}


def test_json_shapes_match_httpbin(api):
    s = requests.Session()
    for (method, path), fields in HTTPBIN_FIELDS.items():
        r = s.request(method, api.url + path, auth=("u", "p") if "basic" in path else None,
                      headers={"Authorization": "Bearer tok"} if path == "/bearer" else {}, data=b"x" if method != "GET" else None)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert set(r.json()) == fields, (path, sorted(r.json()))
    lines = s.get(api.url + "/stream/2").text.splitlines()
    assert [set(json.loads(l)) for l in lines] == [{"args", "headers", "id", "origin", "url"}] * 2
    assert set(s.get(api.url + "/json").json()["slideshow"]) >= {"author", "date", "slides", "title"}


# ---------------------------------------------------------------- echo
def test_get_args_headers_origin_url(api):
    r = requests.get(api.url + "/get?a=1&a=2&b=x+y&c=%26", headers={"X-Test": "v", "x-dup": "1"})
    d = r.json()
    assert d["args"] == {"a": ["1", "2"], "b": "x y", "c": "&"}
    assert d["headers"]["X-Test"] == "v" and d["headers"]["X-Dup"] == "1"  # Title-Case like httpbin
    assert d["origin"] == "127.0.0.1"
    assert d["url"] == api.url + "/get?a=1&a=2&b=x+y&c=%26"


def test_repeated_headers_joined_and_forwarded_origin(api):
    r, _ = fetch(api, "GET", "/headers", [("X-A", "1"), ("x-a", "2"), ("X-Empty", "")])
    assert jbody(r)["headers"]["X-A"] == "1,2" and jbody(r)["headers"]["X-Empty"] == ""
    r, _ = fetch(api, "GET", "/ip", [("X-Forwarded-For", "203.0.113.9")])
    assert jbody(r) == {"origin": "203.0.113.9"}


def test_post_form_urlencoded(api):
    d = requests.post(api.url + "/post", data={"name": "Zoë", "x": ["1", "2"]}).json()
    assert d["form"] == {"name": "Zoë", "x": ["1", "2"]}
    assert d["data"] == "" and d["json"] is None and d["files"] == {}


def test_post_multipart_form_and_files(api):
    d = requests.post(api.url + "/post", data={"field": "value"},
                      files={"up": ("a.txt", b"file text", "text/plain"), "bin": ("b.bin", b"\xff\x00\x01", "application/x-bin")}).json()
    assert d["form"] == {"field": "value"}
    assert d["files"]["up"] == "file text"
    assert d["files"]["bin"] == "data:application/x-bin;base64,/wAB"
    assert d["data"] == ""


def test_malformed_multipart_is_400(api):
    r, _ = fetch(api, "POST", "/post", [("Content-Type", "multipart/form-data; boundary=zz")], b"garbage")
    assert r.status == 400 and b"multipart" in r.body


def test_put_patch_delete_json(api):
    for m in ("put", "patch", "delete"):
        d = requests.request(m, api.url + "/" + m, json={"k": [1, 2, {"z": None}]}).json()
        assert d["json"] == {"k": [1, 2, {"z": None}]}, m
        assert json.loads(d["data"]) == {"k": [1, 2, {"z": None}]}
    d = requests.post(api.url + "/post", data=b"{not json").json()
    assert d["json"] is None and d["data"] == "{not json"
    d = requests.post(api.url + "/post", data=b"\xff\xfe").json()
    assert d["data"] == "data:application/octet-stream;base64,//4="


def test_chunked_upload_and_100_continue(api):
    body = b"4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n"
    r, _ = fetch(api, "PUT", "/put", [("Transfer-Encoding", "chunked")], body)
    assert jbody(r)["data"] == "wikipedia"
    c = api.connect()
    c.sendall(b"POST /anything HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
    c.settimeout(3)
    assert c.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    c.sendall(b"ok")
    r = one_response(read_all(c))
    c.close()
    assert jbody(r)["data"] == "ok" and jbody(r)["method"] == "POST"


def test_anything_any_method_and_path(api):
    for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "PROPFIND", "BREW"):
        r, _ = fetch(api, m, "/anything/a/b?q=1", body=b"zz" if m != "GET" else b"")
        d = jbody(r)
        assert d["method"] == m and d["args"] == {"q": "1"} and d["url"].endswith("/anything/a/b?q=1")
    r, _ = fetch(api, "TRACE", "/anything")
    assert r.status == 405 and "TRACE" not in r.header("allow")


def test_method_rules_options_and_head(api):
    r, _ = fetch(api, "POST", "/get")
    assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS"
    r, _ = fetch(api, "GET", "/post")
    assert r.status == 405 and r.header("allow") == "POST, OPTIONS"
    r, _ = fetch(api, "OPTIONS", "/put")
    assert r.status == 204 and r.header("allow") == "PUT, OPTIONS" and r.body == b""
    g, _ = fetch(api, "GET", "/user-agent", [("User-Agent", "ua/1")])
    h, _ = fetch(api, "HEAD", "/user-agent", [("User-Agent", "ua/1")])
    assert h.status == 200 and h.body == b"" and h.header("content-length") == g.header("content-length")
    assert jbody(g) == {"user-agent": "ua/1"}


def test_cors_preflight(api):
    r, _ = fetch(api, "OPTIONS", "/post", [("Origin", "http://a.example"), ("Access-Control-Request-Method", "POST"),
                                           ("Access-Control-Request-Headers", "x-foo")])
    assert r.status == 204
    assert r.header("access-control-allow-origin") == "http://a.example"
    assert "POST" in r.header("access-control-allow-methods") and r.header("access-control-allow-headers") == "x-foo"


def test_dump_request_reconstructs_head_and_body(api):
    raw = b"POST /dump/request?x=1 HTTP/1.1\r\nHost: t\r\nX-Odd-Case: A b\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    r = one_response(api.raw(raw))
    assert r.status == 200 and r.body == raw


def test_response_headers(api):
    r, _ = fetch(api, "GET", "/response-headers?X-Foo=bar&X-Foo=baz&Content-Type=text/x-test")
    assert r.header_all("x-foo") == ["bar", "baz"] and r.header("content-type") == "text/x-test"
    d = jbody(r)
    assert d["X-Foo"] == ["bar", "baz"] and d["Content-Length"] == str(len(r.body))
    for bad in ("Content-Length=5", "Transfer-Encoding=chunked", "X%0D%0AInjected=1", "X=a%0D%0Ab"):
        r, _ = fetch(api, "GET", "/response-headers?" + bad)
        assert r.status == 400, bad


# ---------------------------------------------------------------- mounting and landing page
def test_landing_page_text_and_html(api):
    r, _ = fetch(api, "GET", "/")
    assert r.status == 200 and r.header("content-type").startswith("text/plain")
    for route in (b"/status/{code}", b"/anything", b"/websocket/echo", b"/jobs", b"/codes", b"abort-before-headers",
                  b"duplicate-content-length", b"curl exits 52"):
        assert route in r.body, route
    r, _ = fetch(api, "GET", "/", [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")])
    assert r.header("content-type").startswith("text/html") and b"<table>" in r.body and b'href="/codes"' in r.body


@pytest.fixture
def readable_root():
    """A document root with index.html that `nobody` can read: statusd drops to it when the tests
    run as root, and pytest's tmp_path lies below a 0700 directory (every answer would be 403)."""
    root = tempfile.mkdtemp(prefix="statusd-prefix-", dir="/tmp")
    os.chmod(root, 0o755)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("static\n")
    os.chmod(os.path.join(root, "index.html"), 0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_prefix_when_root_is_served(readable_root):
    root = readable_root
    with running("--root", root) as s:
        r, _ = fetch(s, "GET", "/_api/get")
        assert r.status == 200 and jbody(r)["url"].endswith("/_api/get")
        r, _ = fetch(s, "GET", "/_api/status/302")
        assert r.status == 302 and r.header("location") == "/_api/get"
        r, _ = fetch(s, "GET", "/_api/redirect/2")
        assert r.header("location") == "/_api/relative-redirect/1"
        r, _ = fetch(s, "GET", "/get")  # the static origin's answer, not the API's
        assert r.status == 404 and r.body.startswith(b"404 Not Found\nno file or directory exists at this path\n")
        r, _ = fetch(s, "GET", "/")
        assert r.status == 200 and r.body == b"static\n"  # / belongs to the static origin now
    with running("--root", root, "--api-prefix", "/t") as s:
        r, _ = fetch(s, "GET", "/t/status/418")
        assert r.status == 418
        r, _ = fetch(s, "GET", "/t")
        assert r.status == 200 and b"(under /t)" in r.body


def test_no_api(tmp_path):
    with running("--no-api") as s:
        r, _ = fetch(s, "GET", "/get")  # no API and no root: nothing is served, by no one
        assert r.status == 404 and r.body.startswith(b"404 Not Found\nnothing is served at this path\n")


def test_keepalive_across_api_routes(api):
    c = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    for path in ("/get", "/status/204", "/status/304", "/redirect/1", "/bytes/10", "/stream/3", "/status/418"):
        c.request("GET", path)
        r = c.getresponse()
        r.read()
    assert r.status == 418 and c.sock is not None
    c.close()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_coded_form_body_is_echoed_raw_with_what_it_decodes_to(api, coding):
    """A form sent with Content-Encoding is not parsed (httpbin): its bytes are in "data", and
    statusd adds what the body is once decoded."""
    import base64
    import gzip
    import zlib
    import brotli
    import zstandard
    form = b"a=1&b=" + b"x" * 300
    coded = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress,
             "zstd": lambda d: zstandard.ZstdCompressor().compress(d)}[coding](form)
    r = requests.post(api.url + "/post", data=coded, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": coding})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["form"] == {} and j["files"] == {}
    assert j["data"].startswith("data:application/x-www-form-urlencoded;base64,")
    assert base64.b64decode(j["data"].split(",", 1)[1]) == coded
    assert j["decoded"] == {"codings": [coding], "length": len(form), "type": "application/x-www-form-urlencoded"}


def test_two_codings_and_broken_data(api):
    import gzip
    import brotli
    body = brotli.compress(gzip.compress(b"hello"))  # gzip applied first, then br
    r = requests.post(api.url + "/anything", data=body, headers={"Content-Encoding": "gzip, br"})
    assert r.status_code == 200 and r.json()["decoded"]["length"] == 5
    r = requests.post(api.url + "/post", data=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["decoded"] == {"codings": ["gzip"], "error": "not valid data of that coding"}


def test_unknown_content_coding_is_415_with_accept_encoding(api):
    """RFC 9110 §15.5.16: an unsupported content coding; Accept-Encoding names those that work."""
    r = requests.post(api.url + "/post", data=b"x", headers={"Content-Encoding": "compress"})
    assert r.status_code == 415
    assert r.headers["Accept-Encoding"] == "gzip, deflate, br, zstd"
    assert "compress" in r.text
