"""Error pages: every 4xx/5xx statusd generates through hs_res_error carries a small body built
from the registry — HTML for browsers, JSON {"status","reason","detail"} for clients that prefer
it, text otherwise — and operators can replace a page per code with `error_page` (read at
startup, checked by `statusd -t`)."""
import html.parser
import json
import os
import re
import subprocess

import pytest

from conftest import BIN, one_response

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def ask(server, raw_or_path, accept=None, method="GET", extra=b""):
    if isinstance(raw_or_path, bytes):
        data = raw_or_path
    else:
        data = ("%s %s HTTP/1.1\r\nHost: t\r\n" % (method, raw_or_path)).encode()
        if accept is not None:
            data += b"Accept: " + accept.encode() + b"\r\n"
        data += extra + b"Connection: close\r\n\r\n"
    return one_response(server.raw(data), head=(method == "HEAD"))


def ctype(r):
    return (r.header("content-type") or "").split(";")[0]


def summary_of(code):
    return json.loads(run_cli("explain", "--json", str(code)).stdout)["summary"]


def run_cli(*args, env_extra=None):
    env = dict(os.environ)
    env.pop("STATUSD_BIN", None)
    env.pop("STATUSD_CONFIG", None)
    env.update(env_extra or {})
    return subprocess.run([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=20)


class Balanced(html.parser.HTMLParser):
    VOID = {"meta", "link", "br", "hr", "img", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.bad = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.bad.append(tag)


def check_html(body):
    p = Balanced()
    p.feed(body.decode("utf-8"))
    assert not p.bad and not p.stack, (p.bad, p.stack)
    assert b"<script" not in body


# Real errors, one per cause: (name, how to cause it, status)
LONG_URI = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
CASES = {
    "404 nothing here": ("/no/such/thing", "GET", b"", 404, "nothing is served at this path"),
    "405 wrong method": ("/get", "DELETE", b"", 405, "the method DELETE is not allowed here"),
    "400 two hosts": ("/get", "GET", b"Host: u\r\n", 400, "Host"),
    "400 bad argument": ("/bytes/many", "GET", b"", 400, "many"),
}


# ---------------------------------------------------------------------------------- by preference
@pytest.mark.parametrize("name", sorted(CASES))
def test_json_when_preferred(server, name):
    path, method, extra, status, words = CASES[name]
    for accept in ("application/json", "text/plain;q=0.5, application/json", "application/*"):
        r = ask(server, path, accept, method, extra)
        assert r.status == status and r.header("content-type") == "application/json", (name, accept)
        doc = json.loads(r.body)
        assert set(doc) == {"status", "reason", "detail"}  # the shape clients rely on
        assert doc["status"] == status and doc["reason"] == r.reason and words in doc["detail"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_html_for_browsers(server, name):
    path, method, extra, status, words = CASES[name]
    r = ask(server, path, BROWSER, method, extra)
    assert r.status == status and r.header("content-type") == "text/html; charset=utf-8", name
    check_html(r.body)
    body = r.body.decode()
    assert "<h1>%d %s</h1>" % (status, r.reason) in body
    assert "<title>%d %s</title>" % (status, r.reason) in body
    assert words in body
    assert summary_of(status).replace("'", "&#39;") in body
    assert '<a href="/codes/%d">' % status in body


@pytest.mark.parametrize("name", sorted(CASES))
def test_text_otherwise(server, name):
    path, method, extra, status, words = CASES[name]
    for accept in (None, "*/*", "text/plain", "image/png", "text/html;q=0, application/json;q=0"):
        r = ask(server, path, accept, method, extra)
        assert r.status == status and r.header("content-type") == "text/plain; charset=utf-8", (name, accept)
        lines = r.body.decode().split("\n")
        assert lines[0] == "%d %s" % (status, r.reason)  # the first line, exactly
        assert words in lines[1]
        assert summary_of(status) in lines and "More: /codes/%d" % status in lines


def test_405_keeps_allow(server):
    for accept in (BROWSER, "application/json", None):
        r = ask(server, "/get", accept, "DELETE")
        assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS"


def test_414_is_explained_in_text(make_server):
    # the request line is refused before any header is read: no Accept to honour, so text
    s = make_server("--max-uri", "1k")
    r = one_response(s.raw(LONG_URI))
    assert r.status == 414 and r.header("connection") == "close"
    lines = r.body.decode().split("\n")
    assert lines[0] == "414 URI Too Long" and lines[1] and "More: /codes/414" in lines


def test_400_syntax_error_bodies(server):
    r = ask(server, b"GET /get HTTP/1.1\r\nHost: t\r\nBad Header: x\r\nAccept: application/json\r\n\r\n")
    assert r.status == 400 and r.header("connection") == "close"
    # whether Accept was read before the error decides the format; either way the shape holds
    if ctype(r) == "application/json":
        assert json.loads(r.body)["status"] == 400
    else:
        assert r.body.startswith(b"400 Bad Request\n")


def test_detail_is_escaped_in_html(server):
    r = ask(server, "/bytes/a'b<i>", BROWSER)
    assert r.status == 400
    check_html(r.body)
    assert b"a&#39;b&lt;i&gt;" in r.body and b"<i>" not in r.body


def test_vary_accept_on_generated_pages(server):
    for accept in (BROWSER, "application/json", None):
        r = ask(server, "/nothing", accept)
        assert r.status == 404 and "Accept" in r.header_all("vary")
    # a handler that already varies on Accept is not told twice (/image: 406 when nothing fits)
    r = ask(server, "/image", "text/csv")
    assert r.status == 406 and [v for v in r.header_all("vary") if "accept" in v.lower()] == ["Accept"]


def test_head_error_has_no_body(server):
    g = ask(server, "/nothing", BROWSER)
    h = ask(server, "/nothing", BROWSER, "HEAD")
    assert h.status == 404 and h.body == b"" and h.header("content-length") == str(len(g.body))


def test_summary_said_once(server):
    r = ask(server, "/nothing", None)
    assert r.body.decode().count(summary_of(404)) == 1


# ---------------------------------------------------------------------------------- error_page
@pytest.fixture
def pages(tmp_path):
    os.chmod(tmp_path, 0o755)
    files = {
        "404.html": b"<!DOCTYPE html><title>Lost</title><h1>Our own 404 page</h1>\n",
        "405.txt": b"no such method here\n",
        "400.json": b'{"oops": true}\n',
        "502.xml": b"<error>upstream</error>\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path, files


def test_error_page_replaces_the_generated_body(make_server, pages):
    d, files = pages
    s = make_server("--error-page", "404=%s" % (d / "404.html"),
                    "--error-page", "405=%s, 400=%s" % (d / "405.txt", d / "400.json"))
    for accept in (BROWSER, "application/json", None):
        r = ask(s, "/nothing", accept)
        assert r.status == 404 and r.body == files["404.html"]
        assert r.header("content-type") == "text/html; charset=utf-8"
        assert "Accept" not in r.header_all("vary")  # the same bytes for everyone
    r = ask(s, "/get", "application/json", "DELETE")
    assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS"
    assert r.body == files["405.txt"] and r.header("content-type") == "text/plain; charset=utf-8"
    r = ask(s, "/get", None, "GET", b"Host: again\r\n")
    assert r.status == 400 and r.header("connection") == "close"
    assert r.body == files["400.json"] and r.header("content-type") == "application/json"
    h = ask(s, "/nothing", None, "HEAD")
    assert h.status == 404 and h.body == b"" and h.header("content-length") == str(len(files["404.html"]))
    # codes without a page keep the generated one
    r = ask(s, "/bytes/x", "application/json")
    assert r.status == 400 and r.body == files["400.json"]
    r = ask(s, "/status/418")
    assert r.status == 418  # not an error statusd generated through hs_res_error: the API's own body
    # /codes keeps its own 404 with suggestions
    r = ask(s, "/codes/999", "application/json")
    assert r.status == 404 and "suggestions" in json.loads(r.body)


def test_error_page_from_env_and_yaml(make_server, pages, tmp_path):
    d, files = pages
    s = make_server(env={"STATUSD_ERROR_PAGE": "404=%s" % (d / "404.html")})
    assert ask(s, "/nothing").body == files["404.html"]
    # a YAML mapping, and a flag that overrides the file for one code
    conf = tmp_path / "mapping.yaml"
    conf.write_text("error_page:\n  404: %s\n  405: %s\n" % (d / "404.html", d / "405.txt"))
    s = make_server("--config", str(conf), "--error-page", "404=%s" % (d / "405.txt"))
    assert ask(s, "/nothing").body == files["405.txt"]
    assert ask(s, "/get", None, "DELETE").body == files["405.txt"]
    # a YAML list
    conf = tmp_path / "list.yaml"
    conf.write_text("error_page:\n  - 404=%s\n  - 400=%s\n" % (d / "404.html", d / "400.json"))
    s = make_server("--config", str(conf))
    assert ask(s, "/nothing").body == files["404.html"]
    assert ask(s, "/bytes/x").body == files["400.json"]


def test_dash_t_accepts_good_pages(pages, tmp_path):
    d, _ = pages
    out = run_cli("-t", "--error-page", "404=%s,502=%s" % (d / "404.html", d / "502.xml"))
    assert out.returncode == 0, out.stderr
    conf = tmp_path / "ok.yaml"
    conf.write_text("error_page:\n  404: %s\n" % (d / "404.html"))
    out = run_cli("-t", "--config", str(conf))
    assert out.returncode == 0 and b"is valid" in out.stdout, out.stderr


def test_dash_t_and_startup_refuse_bad_pages(pages, tmp_path):
    d, _ = pages
    big = tmp_path / "big.html"
    big.write_bytes(b"x" * (64 * 1024 + 1))
    exact = tmp_path / "exact.html"
    exact.write_bytes(b"x" * (64 * 1024))
    (tmp_path / "dir.html").mkdir()
    bad = [
        ("404=%s" % (tmp_path / "missing.html"), ["error_page 404", "missing.html", "No such file"]),
        ("404=%s" % big, ["error_page 404", "big.html", "at most 65536"]),
        ("404=%s" % (tmp_path / "dir.html"), ["error_page 404", "not a regular file"]),
        ("404", ["CODE=FILE"]),
        ("abc=%s" % (d / "404.html"), ["CODE=FILE"]),
        ("200=%s" % (d / "404.html"), ["200", "not a 4xx or 5xx"]),
        ("419=%s" % (d / "404.html"), ["419", "not a 4xx or 5xx code of the registry"]),
        ("499=%s" % (d / "404.html"), ["499", "never sent"]),
        ("404=", ["which file"]),
        ("404=%s" % (tmp_path / "page.png"), ["404", "page.png", ".html"]),
    ]
    for value, words in bad:
        out = run_cli("-t", "--error-page", value)
        err = out.stderr.decode()
        assert out.returncode != 0, value
        assert all(w in err for w in words), (value, err)
        assert err.startswith("statusd: ") and err.count("\n") == 1, err
    assert run_cli("-t", "--error-page", "404=%s" % exact).returncode == 0
    # serving refuses to start the same way, before listening
    out = run_cli("--listen", "127.0.0.1:0", "--error-page", "500=%s" % (tmp_path / "gone.html"))
    assert out.returncode != 0 and b"error_page 500" in out.stderr and b"listening" not in out.stderr
    # from the environment and a YAML file, with the file named in the message
    out = run_cli("-t", env_extra={"STATUSD_ERROR_PAGE": "404=%s" % (tmp_path / "missing.html")})
    assert out.returncode != 0 and b"missing.html" in out.stderr
    conf = tmp_path / "bad.yaml"
    conf.write_text("workers: 1\nerror_page:\n  404: %s\n  200: %s\n" % (d / "404.html", d / "404.html"))
    out = run_cli("-t", "--config", str(conf))
    assert out.returncode != 0 and re.search(rb"bad\.yaml:4: .*200", out.stderr), out.stderr
