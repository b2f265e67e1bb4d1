"""Static origin (--root): mapping and containment, methods, metadata, conditional requests in
RFC 9110 §13.2.2 order, ranges (§14), content codings (§8.4, §12.5.3), 226 IM Used (RFC 3229),
directories and listings, privilege drop. Real binary, real sockets, raw bytes where clients
would normalise what we want to send.

The document root lives under /tmp (made 0755): when the tests run as root the server drops to
`nobody`, which must be able to read it.
"""
import email.utils
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import time
import zlib

import pytest
import requests

from conftest import BIN, one_response, parse_responses

try:
    import brotli
except ImportError:  # Debian: python3-brotli
    brotli = None
try:
    import zstandard
except ImportError:  # Debian: python3-zstandard
    zstandard = None

IS_ROOT = os.geteuid() == 0
SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT-7f3a9c"
PAST = 1577880000  # 2020-01-01T12:00:00Z: Last-Modified well before Date (a strong validator)
DATA = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable enough
TEXT = b"".join(b"line %05d: the quick brown fox jumps over the lazy dog\n" % i for i in range(400))
CSS = b"body { color: #333; margin: 0 auto; }\n" * 200
FORMAT_PRE_GZ_MTIME = 1  # our precompressed .gz carries mtime=1; on-the-fly gzip has mtime 0


# ------------------------------------------------------------------------------ the tree
def _write(path, data, mode=0o644, mtime=PAST):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.utime(path, (mtime, mtime))


def _etag(path, suffix=None):
    st = os.stat(path)
    tag = "%x-%x-%x" % (st.st_ino, st.st_size, st.st_mtime_ns)
    return '"%s%s"' % (tag, "-" + suffix if suffix else "")


def _make_tree():
    base = tempfile.mkdtemp(prefix="statusd-static-", dir="/tmp")
    os.chmod(base, 0o755)
    root = os.path.join(base, "root")
    outside = os.path.join(base, "outside")
    os.mkdir(root, 0o755)
    os.mkdir(outside, 0o755)
    os.chmod(root, 0o755)
    os.chmod(outside, 0o755)
    _write(os.path.join(outside, "secret.txt"), SECRET + b"\n")
    _write(os.path.join(root, "hello.txt"), b"hello, world\n")
    _write(os.path.join(root, "data.bin"), DATA)
    _write(os.path.join(root, "big.txt"), TEXT)
    _write(os.path.join(root, "empty.txt"), b"")
    _write(os.path.join(root, "page.html"), b"<!DOCTYPE html><title>p</title>\n")
    _write(os.path.join(root, "app.js"), b"console.log('hi');\n" * 20)
    _write(os.path.join(root, "data.json"), b'{"a": 1}\n')
    _write(os.path.join(root, "pic.svg"), b"<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    _write(os.path.join(root, "pic.png"), b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    _write(os.path.join(root, "noextension"), b"raw\n")
    _write(os.path.join(root, "a b.txt"), b"space\n")
    _write(os.path.join(root, "%41.txt"), b"literal percent\n")
    # precompressed: fresh siblings (not older than the file) are served as they are
    _write(os.path.join(root, "pre.css"), CSS)
    _write(os.path.join(root, "pre.css.gz"), gzip.compress(CSS, 9, mtime=FORMAT_PRE_GZ_MTIME), mtime=PAST + 10)
    if brotli:
        _write(os.path.join(root, "pre.css.br"), brotli.compress(CSS, quality=11), mtime=PAST + 10)
    if zstandard:
        _write(os.path.join(root, "pre.css.zst"), zstandard.ZstdCompressor(level=19).compress(CSS), mtime=PAST + 10)
    # a stale sibling: older than the file, so it must not be used
    _write(os.path.join(root, "stale.css"), CSS + b"/* changed */\n", mtime=PAST + 100)
    _write(os.path.join(root, "stale.css.gz"), gzip.compress(CSS, 9, mtime=FORMAT_PRE_GZ_MTIME), mtime=PAST)
    # directories
    os.mkdir(os.path.join(root, "dir"), 0o755)
    _write(os.path.join(root, "dir", "index.html"), b"<p>dir index</p>\n")
    os.mkdir(os.path.join(root, "a dir"), 0o755)
    _write(os.path.join(root, "a dir", "index.html"), b"<p>spaced</p>\n")
    os.mkdir(os.path.join(root, "noindex"), 0o755)
    _write(os.path.join(root, "noindex", "f.txt"), b"f\n")
    lst = os.path.join(root, "list")
    os.mkdir(lst, 0o755)
    for name in ["b.txt", "a.txt", "<img src=x onerror=alert(1)>.txt", 'q"uote.txt', "amp&er.txt", "x:y.txt",
                 "sp ace.txt", "\u00fcml.txt", "#hash?.txt"]:
        _write(os.path.join(lst, name), b"x\n")
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(lst, "link_out"))
    os.symlink("../hello.txt", os.path.join(lst, "link_in"))
    os.mkdir(os.path.join(lst, "zsub"), 0o755)
    os.mkdir(os.path.join(lst, "Asub"), 0o755)
    # symbolic links
    os.symlink("hello.txt", os.path.join(root, "link_in"))
    os.symlink(os.path.join(root, "hello.txt"), os.path.join(root, "link_abs_in"))
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "link_out"))
    os.symlink("../outside/secret.txt", os.path.join(root, "link_rel_out"))
    os.symlink(outside, os.path.join(root, "dirlink_out"))
    os.symlink("loop2", os.path.join(root, "loop1"))
    os.symlink("loop1", os.path.join(root, "loop2"))
    # not readable by anyone but root (the server runs as nobody when the tests run as root)
    _write(os.path.join(root, "private.txt"), SECRET + b" private\n", mode=0o000)
    os.mkdir(os.path.join(root, "closed"), 0o700)
    _write(os.path.join(root, "closed", "inside.txt"), SECRET + b" closed\n")
    os.mkfifo(os.path.join(root, "fifo"))
    return base, root, outside


@pytest.fixture(scope="module")
def tree():
    base, root, outside = _make_tree()
    yield root, outside
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def srv(make_server, tree):
    return make_server("--root", tree[0])


# ------------------------------------------------------------------------------ helpers
def raw_request(method, path, headers=(), version=b"HTTP/1.1"):
    if isinstance(method, str):
        method = method.encode()
    if isinstance(path, str):
        path = path.encode()
    lines = [method + b" " + path + b" " + version, b"Host: t"]
    for k, v in headers:
        lines.append(("%s: %s" % (k, v)).encode("latin-1"))
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def ask(server, path, headers=(), method="GET"):
    if isinstance(headers, dict):
        headers = list(headers.items())
    data = server.raw(raw_request(method, path, headers))
    r = one_response(data, head=(method == "HEAD"))
    r.wire = data
    return r


def headers_without_date(r):
    return [(k.lower(), v) for k, v in r.headers if k.lower() != "date"]


def parse_multipart(body, boundary):
    """multipart/byteranges (RFC 9110 §14.6, RFC 2046 §5.1.1) → [(headers dict, data)]"""
    delim = b"--" + boundary.encode()
    assert body.startswith(delim + b"\r\n"), body[:80]
    assert body.endswith(b"\r\n" + delim + b"--\r\n"), body[-80:]
    inner = body[len(delim):-len(b"\r\n" + delim + b"--\r\n")]
    parts = []
    for chunk in inner.split(b"\r\n" + delim):
        assert chunk.startswith(b"\r\n")
        head, sep, data = chunk[2:].partition(b"\r\n\r\n")
        assert sep
        hdrs = {}
        for line in head.split(b"\r\n"):
            k, _, v = line.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        parts.append((hdrs, data))
    return parts


def boundary_of(r):
    ct = r.header("content-type")
    m = re.match(r"multipart/byteranges;\s*boundary=(\S+)$", ct)
    assert m, ct
    return m.group(1).strip('"')


LM_TEXT = email.utils.formatdate(PAST, usegmt=True)
BEFORE = email.utils.formatdate(PAST - 3600, usegmt=True)
AFTER = email.utils.formatdate(PAST + 3600, usegmt=True)


# ------------------------------------------------------------------------------ happy paths
def test_requests_happy_path(srv, tree):
    r = requests.get(srv.url + "/hello.txt", timeout=5, headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.content == b"hello, world\n"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Last-Modified"] == LM_TEXT
    assert r.headers["ETag"] == _etag(os.path.join(tree[0], "hello.txt"))
    with requests.Session() as s:  # keep-alive across several files
        for name in ("data.bin", "big.txt", "dir/", "hello.txt"):
            assert s.get(srv.url + "/" + name, timeout=5, headers={"Accept-Encoding": "identity"}).status_code == 200
    r = requests.get(srv.url + "/data.bin", timeout=5)
    assert r.content == DATA and r.headers["Content-Type"] == "application/octet-stream"


def test_large_file_by_sendfile(make_server):
    base = tempfile.mkdtemp(dir="/tmp")
    try:
        os.chmod(base, 0o755)
        blob = os.urandom(1 << 20) * 6  # 6 MiB
        _write(os.path.join(base, "big.bin"), blob)
        s = make_server("--root", base)
        r = requests.get(s.url + "/big.bin", timeout=20)
        assert r.status_code == 200 and len(r.content) == len(blob) and r.content == blob
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_curl_range_download(srv):
    out = subprocess.run(["curl", "-sS", "-r", "0-99", "-o", "-", "-D", "/dev/stderr", srv.url + "/data.bin"],
                         capture_output=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout == DATA[:100]
    assert b"206" in out.stderr.split(b"\r\n")[0]
    assert b"Content-Range: bytes 0-99/10240" in out.stderr


# ------------------------------------------------------------------------------ mapping and containment
# Each attempt with the one status statusd gives it: ".." above the root is dropped (RFC 3986
# §5.2.4), so most land on a name that does not exist inside the root (404); an encoded '/' is
# data inside a segment (404); %00 is 400; a way out through a symbolic link or into a file the
# server may not read is 403; "/.." is the root itself (403: no index, no listing).
NOT_FOUND = b"no file or directory exists at this path"
ENCODED_SLASH = b"the path contains an encoded '/' (%2F); no file has such a name"
NUL = b"the path contains a NUL byte (%00)"
LINK_OUT = b"the path leads through a symbolic link to outside the document root"
NOT_PERMITTED = b"the server is not permitted to read this path"
NO_INDEX = b"this directory has no index file and directory listings are off"
TRAVERSALS = [
    ("/../outside/secret.txt", 404, NOT_FOUND),
    ("/../../../../../../etc/passwd", 404, NOT_FOUND),
    ("/%2e%2e/outside/secret.txt", 404, NOT_FOUND),
    ("/%2E%2E/outside/secret.txt", 404, NOT_FOUND),
    ("/.%2e/outside/secret.txt", 404, NOT_FOUND),
    ("/%2e./outside/secret.txt", 404, NOT_FOUND),
    ("/..%2foutside%2fsecret.txt", 404, ENCODED_SLASH),
    ("/%2e%2e%2foutside%2fsecret.txt", 404, ENCODED_SLASH),
    ("/..%2Foutside/secret.txt", 404, ENCODED_SLASH),
    ("/..%5coutside%5csecret.txt", 404, NOT_FOUND),
    ("/%5c..%5coutside%5csecret.txt", 404, NOT_FOUND),
    ("/%252e%252e/outside/secret.txt", 404, NOT_FOUND),
    ("/%252e%252e%252foutside%252fsecret.txt", 404, NOT_FOUND),
    ("/..%00/outside/secret.txt", 400, NUL),
    ("/link_out%00.txt", 400, NUL),
    ("/%00../outside/secret.txt", 400, NUL),
    ("/%c0%ae%c0%ae/outside/secret.txt", 404, NOT_FOUND),
    ("/dir/../../outside/secret.txt", 404, NOT_FOUND),
    ("/dir/%2e%2e/%2e%2e/outside/secret.txt", 404, NOT_FOUND),
    ("//../outside/secret.txt", 404, NOT_FOUND),
    ("/./../outside/secret.txt", 404, NOT_FOUND),
    ("/dir/./.././../outside/secret.txt", 404, NOT_FOUND),
    ("/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 404, NOT_FOUND),
    ("/dirlink_out/secret.txt", 403, LINK_OUT),
    ("/link_out", 403, LINK_OUT),
    ("/link_rel_out", 403, LINK_OUT),
    # mode 000 / a 0700 directory: statusd drops to `nobody` when the tests run as root
    ("/private.txt", 403, NOT_PERMITTED),
    ("/closed/inside.txt", 403, NOT_PERMITTED),
    ("/..", 403, NO_INDEX),
    ("/%2e%2e", 403, NO_INDEX),
]


@pytest.mark.parametrize("path,status,detail", TRAVERSALS, ids=[t[0] for t in TRAVERSALS])
def test_traversal_never_leaks(srv, path, status, detail):
    r = ask(srv, path)
    assert r.status == status, (path, r)
    assert r.body.split(b"\n")[1] == detail, (path, r.body)
    assert SECRET not in r.wire
    assert b"root:x:0:0" not in r.wire


def test_traversal_in_absolute_form_and_raw_backslash(srv):
    for target in (b"http://t/../outside/secret.txt", b"http://t/%2e%2e/outside/secret.txt", b"/..\\outside\\secret.txt"):
        data = srv.raw(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        r = one_response(data)
        # dot segments are removed below the root, and a raw backslash is a name byte: 404
        assert r.status == 404 and r.body.split(b"\n")[1] == NOT_FOUND, (target, r)
        assert SECRET not in data


def test_dot_segments_are_clamped_at_the_root(srv):
    # RFC 3986 §5.2.4: ".." above the root is dropped, so these name files inside the root
    for path in ("/../hello.txt", "/%2e%2e/hello.txt", "/dir/../hello.txt", "/./hello.txt", "//hello.txt"):
        r = ask(srv, path)
        assert r.status == 200 and r.body == b"hello, world\n", path


def test_nul_and_bad_escapes_are_400(srv):
    for path in ("/hello.txt%00", "/hello.txt%00.png", "/%zz", "/hello%2", "/hello%"):
        r = ask(srv, path)
        assert r.status == 400, (path, r)


def test_encoded_slash_is_404(srv):
    # %2F is a byte inside one segment, never a separator: not dir/index.html, and the 404 says
    # why (the detail line of the error body, not merely some '/' of its /codes/404 link)
    r = ask(srv, "/dir%2findex.html")
    assert r.status == 404
    assert r.body.split(b"\n")[:2] == [b"404 Not Found", ENCODED_SLASH], r.body
    assert b"dir index" not in r.body


def test_percent_decoding_is_done_once(srv):
    assert ask(srv, "/a%20b.txt").body == b"space\n"
    # %2541 decodes to the literal name "%41.txt", never further to "A.txt"
    r = ask(srv, "/%2541.txt")
    assert r.status == 200 and r.body == b"literal percent\n"


def test_symlinks_inside_are_followed_outside_refused(srv):
    assert ask(srv, "/link_in").body == b"hello, world\n"
    assert ask(srv, "/link_abs_in").body == b"hello, world\n"  # absolute, but lands inside the root
    for path in ("/link_out", "/link_rel_out", "/dirlink_out/secret.txt"):
        r = ask(srv, path)
        assert r.status == 403, (path, r)
        assert SECRET not in r.wire
    r = ask(srv, "/loop1")  # ELOOP: a loop of symbolic links is refused, not "not found"
    assert r.status == 403 and r.body.split(b"\n")[1] == b"the path runs into a loop of symbolic links", r.body


def test_follow_symlinks_allows_links_out(make_server, tree):
    s = make_server("--root", tree[0], "--follow-symlinks")
    for path in ("/link_out", "/link_rel_out", "/dirlink_out/secret.txt"):
        r = ask(s, path)
        assert r.status == 200 and r.body == SECRET + b"\n", path
    # dot segments still cannot climb out
    assert SECRET not in ask(s, "/%2e%2e/outside/secret.txt").wire


def test_fifo_and_specials_are_403_without_blocking(srv):
    t = time.time()
    r = ask(srv, "/fifo")
    assert r.status == 403 and time.time() - t < 2


def test_missing_is_404_with_explanation(srv):
    r = ask(srv, "/no/such/file.txt", [("Accept", "text/plain")])
    assert r.status == 404
    assert b"404 Not Found" in r.body and len(r.body) > 20


def test_file_with_trailing_slash_is_404(srv):
    assert ask(srv, "/hello.txt/").status == 404


# ------------------------------------------------------------------------------ privileges
@pytest.mark.skipif(not IS_ROOT, reason="privilege drop needs root")
def test_privilege_drop_makes_permissions_count(make_server, tree):
    s = make_server("--root", tree[0], "--user", "nobody")
    assert ask(s, "/hello.txt").status == 200  # workers start only after the drop
    with open("/proc/%d/status" % s.proc.pid) as f:
        status = f.read()
    uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
    gids = re.search(r"^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", status, re.M).groups()
    groups = re.search(r"^Groups:\s*(.*)$", status, re.M).group(1).split()
    import pwd
    nobody = pwd.getpwnam("nobody")
    assert set(uids) == {str(nobody.pw_uid)}
    assert set(gids) == {str(nobody.pw_gid)}
    assert groups in ([], [str(nobody.pw_gid)])
    r = ask(s, "/private.txt")  # mode 000
    assert r.status == 403 and SECRET not in r.wire
    r = ask(s, "/closed/inside.txt")  # directory 0700 root
    assert r.status == 403 and SECRET not in r.wire
    assert ask(s, "/hello.txt").status == 200


@pytest.mark.skipif(not IS_ROOT, reason="privilege drop needs root")
def test_user_root_keeps_root_and_reads_everything(make_server, tree):
    s = make_server("--root", tree[0], "--user", "root")
    r = ask(s, "/private.txt")
    assert r.status == 200 and r.body.startswith(SECRET)


@pytest.mark.skipif(not IS_ROOT, reason="privilege drop needs root")
def test_unknown_user_fails_loudly(tree):
    out = subprocess.run([BIN, "--listen", "127.0.0.1:0", "--workers", "1", "--root", tree[0], "--user",
                          "no-such-user-statusd"], capture_output=True, timeout=10)
    assert out.returncode != 0
    assert b"cannot drop privileges" in out.stderr and b"no-such-user-statusd" in out.stderr


# ------------------------------------------------------------------------------ methods
def test_options_is_204_with_allow(srv):
    for path in ("/hello.txt", "/dir/", "/"):
        r = ask(srv, path, method="OPTIONS")
        assert r.status == 204, path
        assert r.header("allow") == "GET, HEAD, OPTIONS"
        assert not r.has("content-length") and r.body == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "MKCOL"])
def test_other_methods_are_405_with_allow(srv, method):
    r = ask(srv, "/hello.txt", [("Content-Length", "0")], method=method)
    assert r.status == 405
    assert r.header("allow") == "GET, HEAD, OPTIONS"
    assert b"hello, world" not in r.body


def test_head_has_byte_identical_headers(srv):
    cases = [
        ("/hello.txt", []),
        ("/big.txt", [("Accept-Encoding", "gzip")]),
        ("/big.txt", [("Accept-Encoding", "br")]),
        ("/pre.css", [("Accept-Encoding", "gzip")]),
        ("/data.bin", [("A-IM", "gzip")]),
        ("/dir/", []),
        ("/hello.txt", [("If-None-Match", _etag_of(srv, "/hello.txt"))]),
        ("/missing", []),
        ("/dir", []),
    ]
    for path, hdrs in cases:
        g = ask(srv, path, hdrs)
        h = ask(srv, path, hdrs, method="HEAD")
        assert h.status == g.status, path
        assert headers_without_date(h) == headers_without_date(g), (path, hdrs)
        assert h.wire.endswith(b"\r\n\r\n") and h.body == b""


def _etag_of(server, path, hdrs=()):
    return ask(server, path, hdrs).header("etag")


def test_head_ignores_range(srv):
    r = ask(srv, "/data.bin", [("Range", "bytes=0-9")], method="HEAD")
    assert r.status == 200 and r.header("content-length") == str(len(DATA))


# ------------------------------------------------------------------------------ metadata
@pytest.mark.parametrize("path,ctype", [
    ("/page.html", "text/html; charset=utf-8"),
    ("/hello.txt", "text/plain; charset=utf-8"),
    ("/pre.css", "text/css; charset=utf-8"),
    ("/app.js", "text/javascript; charset=utf-8"),
    ("/data.json", "application/json; charset=utf-8"),
    ("/pic.svg", "image/svg+xml; charset=utf-8"),
    ("/pic.png", "image/png"),
    ("/noextension", "application/octet-stream"),
    ("/data.bin", "application/octet-stream"),
])
def test_content_type(srv, path, ctype):
    r = ask(srv, path)
    assert r.status == 200 and r.header("content-type") == ctype


def test_validators_and_vary(srv, tree):
    r = ask(srv, "/big.txt")
    assert r.header("etag") == _etag(os.path.join(tree[0], "big.txt"))
    assert not r.header("etag").startswith("W/")  # strong
    assert r.header("last-modified") == LM_TEXT
    assert r.header("vary") == "Accept-Encoding"  # compressible, even without Accept-Encoding
    assert r.header("accept-ranges") == "bytes"
    assert not r.has("cache-control")
    p = ask(srv, "/pic.png", [("Accept-Encoding", "gzip")])
    assert not p.has("vary") and not p.has("content-encoding")


def test_etag_changes_with_the_file(make_server):
    base = tempfile.mkdtemp(dir="/tmp")
    try:
        os.chmod(base, 0o755)
        path = os.path.join(base, "f.txt")
        _write(path, b"one\n")
        s = make_server("--root", base)
        e1 = ask(s, "/f.txt").header("etag")
        os.utime(path, ns=(PAST * 10**9 + 1, PAST * 10**9 + 1))  # same second, 1 ns later
        e2 = ask(s, "/f.txt").header("etag")
        assert e1 != e2
        assert ask(s, "/f.txt", [("If-None-Match", e1)]).status == 200
        assert ask(s, "/f.txt", [("If-None-Match", e2)]).status == 304
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_last_modified_never_after_date(make_server):
    base = tempfile.mkdtemp(dir="/tmp")
    try:
        os.chmod(base, 0o755)
        _write(os.path.join(base, "future.txt"), b"x", mtime=time.time() + 86400 * 365)
        s = make_server("--root", base)
        r = ask(s, "/future.txt")
        lm = email.utils.parsedate_to_datetime(r.header("last-modified"))
        date = email.utils.parsedate_to_datetime(r.header("date"))
        assert lm <= date  # RFC 9110 §8.8.2.1
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_cache_control_directive(make_server, tree):
    s = make_server("--root", tree[0], "--cache-control", "public, max-age=60")
    etag = ask(s, "/hello.txt").header("etag")
    for hdrs, status in (([], 200), ([("Range", "bytes=0-1")], 206), ([("If-None-Match", etag)], 304)):
        r = ask(s, "/hello.txt", hdrs)
        assert r.status == status and r.header("cache-control") == "public, max-age=60"


# ------------------------------------------------------------------------------ preconditions, RFC 9110 §13.2.2
E = "ETAG"  # placeholder: the current strong ETag of /big.txt (identity)
CONDITIONS = [
    # (name, headers, method, expected)
    ("none", [], "GET", 200),
    ("if-match-exact", [("If-Match", E)], "GET", 200),
    ("if-match-star", [("If-Match", "*")], "GET", 200),
    ("if-match-list", [("If-Match", '"nope", ' + E)], "GET", 200),
    ("if-match-two-fields", [("If-Match", '"nope"'), ("If-Match", E)], "GET", 200),
    ("if-match-other", [("If-Match", '"nope"')], "GET", 412),
    ("if-match-weak-is-never-strong", [("If-Match", "W/" + E)], "GET", 412),
    ("if-match-fails-even-when-inm-would-304", [("If-Match", '"nope"'), ("If-None-Match", E)], "GET", 412),
    ("if-match-fails-before-ims", [("If-Match", '"nope"'), ("If-Modified-Since", AFTER)], "GET", 412),
    ("if-match-malformed", [("If-Match", "no-quotes")], "GET", 412),
    ("ius-before-lm", [("If-Unmodified-Since", BEFORE)], "GET", 412),
    ("ius-equal-lm", [("If-Unmodified-Since", LM_TEXT)], "GET", 200),
    ("ius-after-lm", [("If-Unmodified-Since", AFTER)], "GET", 200),
    ("ius-invalid-ignored", [("If-Unmodified-Since", "yesterday")], "GET", 200),
    ("ius-ignored-when-if-match", [("If-Match", E), ("If-Unmodified-Since", BEFORE)], "GET", 200),
    ("ius-fails-before-inm", [("If-Unmodified-Since", BEFORE), ("If-None-Match", E)], "GET", 412),
    ("inm-exact", [("If-None-Match", E)], "GET", 304),
    ("inm-weak-compare", [("If-None-Match", "W/" + E)], "GET", 304),
    ("inm-star", [("If-None-Match", "*")], "GET", 304),
    ("inm-list", [("If-None-Match", '"a", "b,c", ' + E)], "GET", 304),
    ("inm-two-fields", [("If-None-Match", '"a"'), ("If-None-Match", E)], "GET", 304),
    ("inm-other", [("If-None-Match", '"nope"')], "GET", 200),
    ("inm-malformed-matches-nothing", [("If-None-Match", "nope")], "GET", 200),
    ("inm-head", [("If-None-Match", E)], "HEAD", 304),
    ("inm-over-ims-no-match", [("If-None-Match", '"nope"'), ("If-Modified-Since", AFTER)], "GET", 200),
    ("inm-over-ims-match", [("If-None-Match", E), ("If-Modified-Since", BEFORE)], "GET", 304),
    ("if-match-and-inm-both-match", [("If-Match", E), ("If-None-Match", E)], "GET", 304),
    ("ims-equal-lm", [("If-Modified-Since", LM_TEXT)], "GET", 304),
    ("ims-after-lm", [("If-Modified-Since", AFTER)], "GET", 304),
    ("ims-before-lm", [("If-Modified-Since", BEFORE)], "GET", 200),
    ("ims-invalid-ignored", [("If-Modified-Since", "Sat, 99 Foo 2020 99:99:99 GMT")], "GET", 200),
    ("ims-two-fields-ignored", [("If-Modified-Since", AFTER), ("If-Modified-Since", AFTER)], "GET", 200),
    ("ims-rfc850", [("If-Modified-Since", "Wednesday, 01-Jan-20 13:00:00 GMT")], "GET", 304),
    ("ims-asctime", [("If-Modified-Since", "Wed Jan  1 13:00:00 2020")], "GET", 304),
    ("ims-head", [("If-Modified-Since", LM_TEXT)], "HEAD", 304),
    ("ius-ok-ims-304", [("If-Unmodified-Since", AFTER), ("If-Modified-Since", AFTER)], "GET", 304),
]


@pytest.mark.parametrize("name,hdrs,method,expected", CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_preconditions_in_rfc9110_order(srv, tree, name, hdrs, method, expected):
    etag = _etag(os.path.join(tree[0], "big.txt"))
    hdrs = [(k, v.replace(E, etag)) for k, v in hdrs]
    r = ask(srv, "/big.txt", hdrs, method=method)
    assert r.status == expected, (name, r)
    if expected == 304:
        # RFC 9110 §15.4.5: the fields a 200 would carry — ETag, Vary, Cache-Control — and no content
        assert r.header("etag") == etag
        assert r.header("last-modified") == LM_TEXT
        assert r.header("vary") == "Accept-Encoding"
        assert r.body == b"" and not r.has("content-length") and not r.has("content-type")
        assert r.wire.endswith(b"\r\n\r\n")
    elif expected == 412:
        assert TEXT[:50] not in r.body
    elif method == "GET":
        assert r.body == TEXT


def test_preconditions_use_the_selected_coding_etag(srv):
    gz = ask(srv, "/big.txt", [("Accept-Encoding", "gzip")])
    ident = ask(srv, "/big.txt")
    assert gz.header("etag") != ident.header("etag") and gz.header("etag").endswith('-gz"')
    assert ask(srv, "/big.txt", [("Accept-Encoding", "gzip"), ("If-None-Match", gz.header("etag"))]).status == 304
    assert ask(srv, "/big.txt", [("If-None-Match", gz.header("etag"))]).status == 200
    assert ask(srv, "/big.txt", [("Accept-Encoding", "gzip"), ("If-Match", ident.header("etag"))]).status == 412


# ------------------------------------------------------------------------------ ranges, RFC 9110 §14
@pytest.mark.parametrize("spec,first,last", [
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, len(DATA) - 1),
    ("bytes=-100", len(DATA) - 100, len(DATA) - 1),
    ("bytes=-999999", 0, len(DATA) - 1),
    ("bytes=9000-999999", 9000, len(DATA) - 1),
    ("bytes=0-0", 0, 0),
    ("BYTES=5-9", 5, 9),
    ("bytes=0-9,5-19", 0, 19),           # overlapping: coalesced
    ("bytes=0-9,10-19", 0, 19),          # adjacent: coalesced
    ("bytes=10-19, 0-9", 0, 19),
    ("bytes=20000-, 0-4", 0, 4),         # the unsatisfiable one is dropped
    ("bytes=0-4,,", 0, 4),               # empty list elements are allowed
])
def test_single_range(srv, spec, first, last):
    r = ask(srv, "/data.bin", [("Range", spec)])
    assert r.status == 206, (spec, r)
    assert r.header("content-range") == "bytes %d-%d/%d" % (first, last, len(DATA))
    assert r.header("content-type") == "application/octet-stream"
    assert r.header("content-length") == str(last - first + 1)
    assert r.body == DATA[first:last + 1]
    assert r.has("etag") and r.has("last-modified")


def test_multipart_byteranges(srv):
    r = ask(srv, "/data.bin", [("Range", "bytes=500-509, 0-9, -10")])
    assert r.status == 206 and not r.has("content-range")
    assert int(r.header("content-length")) == len(r.body)
    parts = parse_multipart(r.body, boundary_of(r))
    want = [(0, 9), (500, 509), (len(DATA) - 10, len(DATA) - 1)]  # sorted by position
    assert len(parts) == len(want)
    for (h, data), (a, b) in zip(parts, want):
        assert h["content-type"] == "application/octet-stream"
        assert h["content-range"] == "bytes %d-%d/%d" % (a, b, len(DATA))
        assert data == DATA[a:b + 1]
    # the boundary is random per response
    r2 = ask(srv, "/data.bin", [("Range", "bytes=500-509, 0-9, -10")])
    assert boundary_of(r2) != boundary_of(r)


def test_multipart_sixteen_parts_on_text(srv):
    spec = "bytes=" + ",".join("%d-%d" % (i * 600, i * 600 + 9) for i in range(16))
    r = ask(srv, "/big.txt", [("Range", spec), ("Accept-Encoding", "identity")])
    assert r.status == 206
    parts = parse_multipart(r.body, boundary_of(r))
    assert len(parts) == 16
    for i, (h, data) in enumerate(parts):
        assert h["content-type"] == "text/plain; charset=utf-8"
        assert data == TEXT[i * 600:i * 600 + 10]


@pytest.mark.parametrize("spec", [
    "bytes=" + ",".join("%d-%d" % (i * 10, i * 10) for i in range(17)),  # more than 16 ranges
    "bytes=0-,0-",                       # asks for more bytes than the file has: amplification
    "bytes=0-9999,1-10239",
    "bytes=abc",
    "bytes=5-1",                         # last < first: invalid
    "bytes=",
    "bytes=-",
    "bytes=1-2-3",
    "bytes 0-9",
    "items=0-9",
    "bytes=0x10-20",
    "bytes=0-9;x",
])
def test_ignored_ranges_give_full_200(srv, spec):
    r = ask(srv, "/data.bin", [("Range", spec)])
    assert r.status == 200, (spec, r)
    assert r.body == DATA and not r.has("content-range")


def test_two_range_fields_are_ignored(srv):
    r = ask(srv, "/data.bin", [("Range", "bytes=0-1"), ("Range", "bytes=2-3")])
    assert r.status == 200 and r.body == DATA


@pytest.mark.parametrize("spec", ["bytes=10240-", "bytes=20000-30000", "bytes=-0", "bytes=10240-10240, 99999-"])
def test_unsatisfiable_is_416(srv, spec):
    r = ask(srv, "/data.bin", [("Range", spec)])
    assert r.status == 416, (spec, r)
    assert r.header("content-range") == "bytes */%d" % len(DATA)
    assert DATA[:64] not in r.body


def test_ranges_on_empty_file(srv):
    r = ask(srv, "/empty.txt", [("Range", "bytes=0-0")])
    assert r.status == 416 and r.header("content-range") == "bytes */0"
    r = ask(srv, "/empty.txt", [("Range", "bytes=-5")])
    assert r.status == 200 and r.body == b"" and r.header("content-length") == "0"


def test_preconditions_come_before_range(srv, tree):
    etag = _etag(os.path.join(tree[0], "data.bin"))
    r = ask(srv, "/data.bin", [("Range", "bytes=0-9"), ("If-None-Match", etag)])
    assert r.status == 304
    r = ask(srv, "/data.bin", [("Range", "bytes=0-9"), ("If-Match", '"nope"')])
    assert r.status == 412


@pytest.mark.parametrize("validator,expected", [
    ("ETAG", 206),
    ('"nope"', 200),
    ("W/ETAG", 200),                     # weak tags never match in If-Range
    (LM_TEXT, 206),                       # exact Last-Modified
    (AFTER, 200),                         # a date, but not the exact one
    (BEFORE, 200),
    ("not a date", 200),
])
def test_if_range(srv, tree, validator, expected):
    etag = _etag(os.path.join(tree[0], "data.bin"))
    r = ask(srv, "/data.bin", [("Range", "bytes=0-99"), ("If-Range", validator.replace("ETAG", etag))])
    assert r.status == expected, (validator, r)
    if expected == 206:
        assert r.body == DATA[:100] and r.header("content-range") == "bytes 0-99/%d" % len(DATA)
    else:
        assert r.body == DATA and not r.has("content-range")


def test_if_range_without_range_is_ignored(srv):
    r = ask(srv, "/data.bin", [("If-Range", '"nope"')])
    assert r.status == 200 and r.body == DATA


def test_ranges_apply_to_the_encoded_representation(srv):
    full = ask(srv, "/big.txt", [("Accept-Encoding", "gzip")])
    assert full.header("content-encoding") == "gzip"
    enc = full.body
    r = ask(srv, "/big.txt", [("Accept-Encoding", "gzip"), ("Range", "bytes=10-49")])
    assert r.status == 206 and r.header("content-encoding") == "gzip"
    assert r.header("content-range") == "bytes 10-49/%d" % len(enc)
    assert r.body == enc[10:50]
    assert r.header("etag") == full.header("etag")
    # If-Range with the encoded variant's tag applies; the identity tag does not
    ok = ask(srv, "/big.txt", [("Accept-Encoding", "gzip"), ("Range", "bytes=0-9"), ("If-Range", full.header("etag"))])
    assert ok.status == 206
    ident = ask(srv, "/big.txt").header("etag")
    no = ask(srv, "/big.txt", [("Accept-Encoding", "gzip"), ("Range", "bytes=0-9"), ("If-Range", ident)])
    assert no.status == 200 and gzip.decompress(no.body) == TEXT


def test_multipart_over_keepalive(srv):
    s = srv.connect()
    try:
        req = (b"GET /data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,100-101\r\n\r\n"
               b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\nConnection: close\r\n\r\n")
        s.sendall(req)
        from conftest import read_all
        rs, rest = parse_responses(read_all(s, 3))
    finally:
        s.close()
    assert [r.status for r in rs] == [206, 206] and rest == b""
    assert [d for _, d in parse_multipart(rs[0].body, boundary_of(rs[0]))] == [DATA[0:2], DATA[100:102]]
    assert rs[1].body == b"hello"


# ------------------------------------------------------------------------------ content codings
def _decode(coding, body):
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "br":
        return brotli.decompress(body)
    if coding == "zstd":
        return zstandard.ZstdDecompressor().decompress(body, max_output_size=10 << 20)
    raise AssertionError(coding)


@pytest.mark.parametrize("accept,coding", [
    ("gzip", "gzip"),
    ("x-gzip", "gzip"),
    ("br", "br"),
    ("zstd", "zstd"),
    ("gzip, deflate, br, zstd", "br"),            # equal q: server preference br > zstd > gzip
    ("gzip;q=1.0, br;q=0.5", "gzip"),
    ("br;q=0, gzip", "gzip"),
    ("zstd;q=0.9, gzip;q=0.8", "zstd"),
    ("*", "br"),
    ("*;q=0.5, gzip;q=0.1", "br"),
    ("gzip;q=0.5, identity;q=1", None),
    ("identity", None),
    ("gzip;q=0", None),
    ("", None),
    ("compress, deflate", None),
    ("GZIP", "gzip"),
    ("gzip;q=bogus", None),
])
def test_accept_encoding_negotiation(srv, accept, coding):
    if coding == "br" and brotli is None:
        pytest.skip("python3-brotli not installed")
    if coding == "zstd" and zstandard is None:
        pytest.skip("python3-zstandard not installed")
    r = ask(srv, "/big.txt", [("Accept-Encoding", accept)])
    assert r.status == 200
    assert r.header("vary") == "Accept-Encoding"
    assert r.header("content-encoding") == coding, (accept, r)
    assert int(r.header("content-length")) == len(r.body)
    if coding:
        assert _decode(coding, r.body) == TEXT
        assert len(r.body) < len(TEXT) // 3
        assert r.header("etag").endswith({"gzip": '-gz"', "br": '-br"', "zstd": '-zst"'}[coding])
    else:
        assert r.body == TEXT


def test_identity_excluded_and_nothing_acceptable_is_406(srv):
    for accept in ("identity;q=0", "*;q=0", "compress, identity;q=0"):
        r = ask(srv, "/big.txt", [("Accept-Encoding", accept)])
        assert r.status == 406, (accept, r)
        assert r.header("vary") == "Accept-Encoding"


def test_compression_uses_requests_and_is_cached_consistently(srv):
    bodies = set()
    for _ in range(3):
        r = ask(srv, "/big.txt", [("Accept-Encoding", "gzip")])
        bodies.add(r.body)
    assert len(bodies) == 1  # deterministic bytes: the strong ETag holds
    r = requests.get(srv.url + "/app.js", timeout=5)  # requests decodes gzip transparently
    assert r.headers["Content-Encoding"] in ("gzip", "deflate", "br")
    assert r.content == b"console.log('hi');\n" * 20


def test_precompressed_file_preferred(srv, tree):
    root = tree[0]
    r = ask(srv, "/pre.css", [("Accept-Encoding", "gzip")])
    assert r.header("content-encoding") == "gzip"
    with open(os.path.join(root, "pre.css.gz"), "rb") as f:
        assert r.body == f.read()  # the file itself (it carries mtime=1; ours would not)
    assert r.header("etag") == _etag(os.path.join(root, "pre.css.gz"), "gz")
    assert r.header("content-type") == "text/css; charset=utf-8"
    assert r.header("last-modified") == LM_TEXT
    if brotli:
        r = ask(srv, "/pre.css", [("Accept-Encoding", "br")])
        with open(os.path.join(root, "pre.css.br"), "rb") as f:
            assert r.header("content-encoding") == "br" and r.body == f.read()
        assert r.header("etag") == _etag(os.path.join(root, "pre.css.br"), "br")
    if zstandard:
        r = ask(srv, "/pre.css", [("Accept-Encoding", "zstd")])
        with open(os.path.join(root, "pre.css.zst"), "rb") as f:
            assert r.header("content-encoding") == "zstd" and r.body == f.read()
    # a range of the precompressed representation
    r = ask(srv, "/pre.css", [("Accept-Encoding", "gzip"), ("Range", "bytes=0-9")])
    with open(os.path.join(root, "pre.css.gz"), "rb") as f:
        gz = f.read()
    assert r.status == 206 and r.body == gz[:10] and r.header("content-range") == "bytes 0-9/%d" % len(gz)


def test_precompressed_wins_a_tie_over_on_the_fly(make_server):
    base = tempfile.mkdtemp(dir="/tmp")
    try:
        os.chmod(base, 0o755)
        _write(os.path.join(base, "s.css"), CSS)
        _write(os.path.join(base, "s.css.gz"), gzip.compress(CSS, 9, mtime=FORMAT_PRE_GZ_MTIME), mtime=PAST + 1)
        s = make_server("--root", base)
        r = ask(s, "/s.css", [("Accept-Encoding", "gzip, br, zstd")])
        assert r.header("content-encoding") == "gzip"
        assert gzip.decompress(r.body) == CSS and r.body[4:8] == b"\x01\x00\x00\x00"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_stale_precompressed_file_is_not_used(srv):
    r = ask(srv, "/stale.css", [("Accept-Encoding", "gzip")])
    assert r.header("content-encoding") == "gzip"
    assert gzip.decompress(r.body) == CSS + b"/* changed */\n"


def test_compression_limits_and_switch(make_server, tree):
    s = make_server("--root", tree[0], "--compress-max", "1k")
    r = ask(s, "/big.txt", [("Accept-Encoding", "gzip")])
    assert r.header("content-encoding") is None and r.body == TEXT
    assert r.header("vary") == "Accept-Encoding"
    s2 = make_server("--root", tree[0], "--no-compress")
    assert ask(s2, "/big.txt", [("Accept-Encoding", "gzip")]).header("content-encoding") is None
    # precompressed files are still served without on-the-fly compression
    assert ask(s2, "/pre.css", [("Accept-Encoding", "gzip")]).header("content-encoding") == "gzip"


def test_requesting_the_gz_file_itself(srv):
    r = ask(srv, "/pre.css.gz", [("Accept-Encoding", "gzip")])
    assert r.status == 200 and r.header("content-type") == "application/gzip"
    assert r.header("content-encoding") is None


# ------------------------------------------------------------------------------ 226 IM Used (RFC 3229)
@pytest.mark.parametrize("aim,im,decode", [
    ("gzip", "gzip", gzip.decompress),
    ("deflate", "deflate", zlib.decompress),
    ("vcdiff, gzip;q=0.5", "gzip", gzip.decompress),
    ("deflate;q=0.4, gzip;q=0.9", "gzip", gzip.decompress),
])
def test_226_im_used(srv, tree, aim, im, decode):
    r = ask(srv, "/data.bin", [("A-IM", aim)])
    assert r.status == 226
    assert r.header("im") == im
    assert r.header("etag") == _etag(os.path.join(tree[0], "data.bin"))  # the instance's tag
    assert int(r.header("content-length")) == len(r.body)
    assert decode(r.body) == DATA
    assert r.header("content-encoding") is None


def test_a_im_other_manipulations_are_ignored(srv):
    for aim in ("vcdiff", "gzip;q=0", "diffe"):
        r = ask(srv, "/data.bin", [("A-IM", aim)])
        assert r.status == 200 and r.body == DATA, aim


def test_226_respects_preconditions_and_wins_over_range(srv, tree):
    etag = _etag(os.path.join(tree[0], "data.bin"))
    assert ask(srv, "/data.bin", [("A-IM", "gzip"), ("If-None-Match", etag)]).status == 304
    r = ask(srv, "/data.bin", [("A-IM", "gzip"), ("Range", "bytes=0-9")])
    assert r.status == 226 and gzip.decompress(r.body) == DATA


# ------------------------------------------------------------------------------ directories
def test_directory_without_slash_is_301(srv):
    r = ask(srv, "/dir")
    assert r.status == 301 and r.header("location") == "/dir/"
    r = ask(srv, "/dir?x=1&y=%20")
    assert r.status == 301 and r.header("location") == "/dir/?x=1&y=%20"
    r = ask(srv, "/a%20dir")
    assert r.status == 301 and r.header("location") == "/a%20dir/"
    r = ask(srv, "/dir/../noindex")
    assert r.status == 301 and r.header("location") == "/noindex/"
    r = requests.get(srv.url + "/a%20dir", timeout=5)  # followed by a real client
    assert r.status_code == 200 and r.content == b"<p>spaced</p>\n"


def test_directory_index(srv):
    for path in ("/dir/", "/dir/.", "/dir//", "/noindex/../dir/"):
        r = ask(srv, path)
        assert r.status == 200 and r.body == b"<p>dir index</p>\n", path
        assert r.header("content-type") == "text/html; charset=utf-8"


def test_directory_without_index_is_403_without_autoindex(srv):
    r = ask(srv, "/noindex/")
    assert r.status == 403 and b"f.txt" not in r.body
    assert ask(srv, "/list/").status == 403


def test_index_directive(make_server, tree):
    s = make_server("--root", tree[0], "--index", "missing.html, f.txt")
    r = ask(s, "/noindex/")
    assert r.status == 200 and r.body == b"f\n" and r.header("content-type") == "text/plain; charset=utf-8"


def test_autoindex_listing(make_server, tree):
    s = make_server("--root", tree[0], "--autoindex")
    r = ask(s, "/list/")
    assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8"
    html = r.body.decode("utf-8")
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in html
    assert 'href="%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt"' in html
    assert "q&quot;uote.txt" in html and 'href="q%22uote.txt"' in html
    assert "amp&amp;er.txt" in html and 'href="amp%26er.txt"' in html
    assert 'href="x%3Ay.txt"' in html  # never read as a scheme
    assert 'href="sp%20ace.txt"' in html
    assert 'href="%C3%BCml.txt"' in html
    assert 'href="%23hash%3F.txt"' in html
    assert 'href="zsub/"' in html and 'href="Asub/"' in html
    assert 'href="../"' in html
    hrefs = re.findall(r'<a href="([^"]+)">', html)
    names = [h for h in hrefs if h != "../"]
    assert names == sorted(names, key=lambda h: requests.utils.unquote(h).encode())
    # each link works
    for h in names:
        if not h.endswith("/"):
            assert ask(s, "/list/" + h).status == (403 if h == "link_out" else 200), h
    # a link is described by its target only when the target may be served
    assert re.search(r'<a href="link_in">link_in</a></td><td>2020-01-01 12:00:00</td><td>13</td>', html)
    assert re.search(r'<a href="link_out">link_out</a></td><td></td><td>-</td>', html)
    root_listing = ask(s, "/noindex/")
    assert b'href="f.txt"' in root_listing.body
    # HEAD: same headers
    h = ask(s, "/list/", method="HEAD")
    assert headers_without_date(h) == headers_without_date(r)


# ------------------------------------------------------------------------------ several workers at once
def test_concurrent_workers_share_nothing(make_server, tree):
    import threading
    s = make_server("--root", tree[0], workers=4)
    errors = []
    encs = ["gzip", "identity"] + (["br"] if brotli else []) + (["zstd"] if zstandard else [])

    def client(k):
        try:
            with requests.Session() as sess:
                for i in range(15):
                    enc = encs[(i + k) % len(encs)]
                    r = sess.get(s.url + "/big.txt", headers={"Accept-Encoding": enc}, timeout=10)
                    body = r.content  # urllib3 decodes gzip and br, not zstd
                    if r.headers.get("Content-Encoding") == "zstd" and zstandard:
                        body = _decode("zstd", body)
                    if r.status_code != 200 or body != TEXT:
                        errors.append((enc, r.status_code))
                    r = sess.get(s.url + "/data.bin", headers={"Range": "bytes=%d-%d" % (i, i + 99)}, timeout=10)
                    if r.status_code != 206 or r.content != DATA[i:i + 100]:
                        errors.append(("range", r.status_code))
        except Exception as e:  # noqa: BLE001 — reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
