"""Hosts and paths (Engine v2): a YAML configuration with several hosts, each with paths that
name their handlers and override settings; the longest path wins, a path without a handler
serves with the one of the path it lies under, unknown hosts get the first host or 421 with
strict_hosts; and `statusd -t` reports a mistake anywhere in the tree with its FILE:LINE."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BIN, Server, one_response, stop_and_check


def tree():
    """Three document roots, readable by the user the server drops to when run as root."""
    base = tempfile.mkdtemp(prefix="statusd-hosts-", dir="/tmp")
    os.chmod(base, 0o755)
    files = {
        "a/index.html": "alpha home\n",
        "a/hello.txt": "hello from alpha\n",
        "a/apix": "a file called apix\n",
        "f/list-me.txt": "a file\n",
        "f/private/secret.txt": "private file\n",
        "b/index.html": "beta home\n",
    }
    for rel, text in files.items():
        p = os.path.join(base, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    for d, _, fs in os.walk(base):
        os.chmod(d, 0o755)
        for f in fs:
            os.chmod(os.path.join(d, f), 0o644)
    return base


CONFIG = """\
strict_hosts: true
max_body: 1m
hosts:
  alpha.test:
    paths:
      /:
        root: {base}/a
        cache_control: "public, max-age=60"
      /api:
        api: true
        max_body: 10k
      /files:
        root: {base}/f
        autoindex: true
      /files/private:
        cache_control: no-store
  beta.test:
    paths:
      /:
        root: {base}/b
        max_body: 2k
  "*.wild.test":
    paths:
      /: {{api: true}}
"""


@pytest.fixture(scope="module")
def hosts():
    base = tree()
    cfg = os.path.join(base, "statusd.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(base=base))
    s = Server("--config", cfg)
    yield s
    stop_and_check(s)
    shutil.rmtree(base)


def ask(server, host, target, method="GET", headers=b"", body=b""):
    req = b"%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s" % (method.encode(), target.encode(), host.encode(),
                                                                     headers)
    if body:
        req += b"Content-Length: %d\r\n" % len(body)
    return one_response(server.raw(req + b"\r\n" + body, timeout=5))


def test_each_host_serves_its_own_root(hosts):
    r = ask(hosts, "alpha.test", "/")
    assert r.status == 200 and r.body == b"alpha home\n"
    assert r.header("cache-control") == "public, max-age=60"
    r = ask(hosts, "beta.test", "/")
    assert r.status == 200 and r.body == b"beta home\n"
    assert not r.has("cache-control")  # a setting of alpha's path, not beta's


def test_host_names_ignore_case_port_and_trailing_dot(hosts):
    for host in ("ALPHA.Test", "alpha.test:8080", "alpha.test."):
        r = ask(hosts, host, "/hello.txt")
        assert r.status == 200 and r.body == b"hello from alpha\n", host


def test_the_api_under_a_path(hosts):
    r = ask(hosts, "alpha.test", "/api/get")
    assert r.status == 200 and r.header("content-type") == "application/json"
    assert b'"url": "http://alpha.test/api/get"' in r.body
    r = ask(hosts, "alpha.test", "/api/redirect/1")
    assert r.status == 302 and r.header("location") == "/api/get"  # links carry the mount point
    # a prefix matches whole segments: /apix is the root's file, not the API
    r = ask(hosts, "alpha.test", "/apix")
    assert r.status == 200 and r.body == b"a file called apix\n"
    # the path's normal form decides, however it is spelled
    for spelling in ("/%61pi/get", "//api/get", "/x/../api/get", "/api/./get"):
        r = ask(hosts, "alpha.test", spelling)
        assert r.status == 200 and r.header("content-type") == "application/json", spelling


def test_longest_prefix_and_inherited_handler(hosts):
    r = ask(hosts, "alpha.test", "/files/")
    assert r.status == 200 and b"list-me.txt" in r.body  # autoindex on this path only
    r = ask(hosts, "alpha.test", "/")
    assert r.status == 200 and b"alpha home" in r.body
    # /files/private names no handler: it serves /files's root, with its own Cache-Control
    r = ask(hosts, "alpha.test", "/files/private/secret.txt")
    assert r.status == 200 and r.body == b"private file\n"
    assert r.header("cache-control") == "no-store"
    # settings flow down from the enclosing path ("/" encloses every path of the host)
    r = ask(hosts, "alpha.test", "/files/list-me.txt")
    assert r.status == 200 and r.header("cache-control") == "public, max-age=60"
    # a directory below a mount point is redirected with the mount point in Location
    r = ask(hosts, "alpha.test", "/files/private")
    assert r.status == 301 and r.header("location") == "/files/private/"


def test_codes_on_every_host(hosts):
    for host in ("alpha.test", "beta.test", "x.wild.test"):
        r = ask(hosts, host, "/codes/421", headers=b"Accept: application/json\r\n")
        assert r.status == 200 and b'"code": 421' in r.body, host


def test_max_body_per_path(hosts):
    body = b"x" * 3000
    # beta's / allows 2k: refused from Content-Length, before the handler
    r = ask(hosts, "beta.test", "/", method="POST", body=body)
    assert r.status == 413 and r.header("connection") == "close"
    # alpha's / allows 1m (the top's): the static handler answers 405 for POST
    r = ask(hosts, "alpha.test", "/", method="POST", body=body)
    assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS"
    # alpha's /api allows 10k: 3k is echoed, 20k is not
    r = ask(hosts, "alpha.test", "/api/post", method="POST", body=body,
            headers=b"Content-Type: application/octet-stream\r\n")
    assert r.status == 200
    r = ask(hosts, "alpha.test", "/api/post", method="POST", body=b"y" * 20000)
    assert r.status == 413
    # and while reading a chunked body (the limit is the path's)
    chunked = b"".join(b"%x\r\n%s\r\n" % (1000, b"z" * 1000) for _ in range(15)) + b"0\r\n\r\n"
    r = one_response(hosts.raw(b"POST /api/post HTTP/1.1\r\nHost: alpha.test\r\nTransfer-Encoding: chunked\r\n\r\n" +
                               chunked, timeout=5))
    assert r.status == 413


def test_wildcard_host(hosts):
    r = ask(hosts, "deep.x.wild.test", "/get")
    assert r.status == 200 and r.header("content-type") == "application/json"
    r = ask(hosts, "wild.test", "/get")  # the name itself is not below it
    assert r.status == 421


def test_strict_hosts_421(hosts):
    r = ask(hosts, "unknown.test", "/")
    assert r.status == 421 and r.header("connection") == "close"
    assert r.body.startswith(b"421 Misdirected Request\n")
    # an absolute-form target names the authority the request is for (RFC 9112 §3.2.2)
    r = one_response(hosts.raw(b"GET http://unknown.test/ HTTP/1.1\r\nHost: alpha.test\r\n\r\n", timeout=5))
    assert r.status == 421
    r = one_response(hosts.raw(b"GET http://beta.test/ HTTP/1.1\r\nHost: unknown.test\r\nConnection: close\r\n\r\n",
                               timeout=5))
    assert r.status == 200 and r.body == b"beta home\n"


def test_without_strict_hosts_the_first_host_serves(tmp_path):
    base = tree()
    cfg = os.path.join(base, "c.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(base=base).replace("strict_hosts: true\n", ""))
    s = Server("--config", cfg)
    try:
        r = ask(s, "unknown.test", "/")
        assert r.status == 200 and r.body == b"alpha home\n"
    finally:
        stop_and_check(s)
        shutil.rmtree(base)


def check(tmp_path, text):
    p = tmp_path / "t.yaml"
    p.write_text(text)
    return subprocess.run([BIN, "-t", "--config", str(p)], capture_output=True, text=True, timeout=10)


@pytest.mark.parametrize("text,line,words", [
    # a bad value deep in a path
    ("hosts:\n  a.test:\n    paths:\n      /:\n        root: /tmp\n      /x:\n        api: true\n"
     "        max_body: lots\n", 8, "max_body"),
    # a server-wide directive on a path
    ("hosts:\n  a.test:\n    paths:\n      /:\n        root: /tmp\n        workers: 2\n", 6, "whole server"),
    # a path without a handler
    ("hosts:\n  a.test:\n    paths:\n      /x:\n        max_body: 1k\n", 4, "names no handler"),
    # ... and the error lists every handler a path can name
    ("hosts:\n  a.test:\n    paths:\n      /x:\n        max_body: 1k\n", 4,
     "one of health, codes, api, root, dav.root, metrics, proxy.upstreams, proxy.forward,"),
    # a root that does not exist, reported where it was written
    ("hosts:\n  a.test:\n    paths:\n      /:\n        api: true\n      /s:\n        root: /nonexistent/dir\n",
     7, "/nonexistent/dir"),
    # two handlers on one path
    ("hosts:\n  a.test:\n    paths:\n      /:\n        root: /tmp\n        api: true\n", 6, "two handlers"),
    # ... named by the setting as written: a forward proxy is proxy.forward, not proxy.upstreams
    ("hosts:\n  a.test:\n    paths:\n      /x:\n        proxy: {forward: true}\n        root: /tmp\n", 6,
     "two handlers (proxy.forward and root)"),
    # the same path twice, and a path that is not one
    ("hosts:\n  a.test:\n    paths:\n      /x: {api: true}\n      /x/: {api: true}\n", 5, "given twice"),
    ("hosts:\n  a.test:\n    paths:\n      x: {api: true}\n", 4, "not a path prefix"),
    ("hosts:\n  'bad host!':\n    paths: {/: {api: true}}\n", 2, "not a host name"),
    # a handler at the top does nothing once there are hosts
    ("root: /tmp\nhosts:\n  a.test:\n    paths: {/: {api: true}}\n", 1, "top level"),
    ("hosts:\n  a.test: {}\n", 2, "no paths"),
])
def test_config_check_reports_mistakes_in_the_tree(tmp_path, text, line, words):
    out = check(tmp_path, text)
    assert out.returncode != 0, out.stdout
    assert "t.yaml:%d:" % line in out.stderr and words in out.stderr, out.stderr


def test_config_check_accepts_the_tree(tmp_path):
    base = tree()
    try:
        out = check(tmp_path, CONFIG.format(base=base))
        assert out.returncode == 0, out.stderr
        assert "is valid" in out.stdout
    finally:
        shutil.rmtree(base)


def test_flags_configure_the_default_host_and_conflict_with_hosts(tmp_path):
    p = tmp_path / "h.yaml"
    p.write_text("hosts:\n  a.test:\n    paths: {/: {api: true}}\n")
    out = subprocess.run([BIN, "-t", "--config", str(p), "--root", "/tmp"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode != 0 and "command line" in out.stderr and "root" in out.stderr


def test_help_shows_scopes():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10).stdout
    assert "YAML: max_body; env: STATUSD_MAX_BODY; scope: top, host, path" in out
    assert "YAML: workers; env: STATUSD_WORKERS; scope: top" in out
    assert "YAML: root; env: STATUSD_ROOT; scope: top, path" in out
