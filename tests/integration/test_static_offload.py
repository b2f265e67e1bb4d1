"""Large files coded on the fly (gzip, br, zstd) are coded on a helper thread, not on the event
loop: the answers are the same as for small files, other clients are served meanwhile, and a
client leaving (or the server stopping) while its file is being coded loses nothing else."""
import gzip
import os
import random
import select
import shutil
import signal
import tempfile
import time

import brotli
import pytest
import zstandard

from conftest import one_response, parse_responses, read_all, stop_and_check, Server

BIG = 4 * 1024 * 1024  # takes brotli a few hundred milliseconds


def text(size, seed):
    rnd = random.Random(seed)
    words = ["".join(rnd.choices("abcdefghijklmnopqrstuvwxyz", k=rnd.randint(2, 9))) for _ in range(4000)]
    out, n = [], 0
    while n < size:
        line = (" ".join(rnd.choices(words, k=12)) + "\n").encode()
        out.append(line)
        n += len(line)
    return b"".join(out)[:size]


@pytest.fixture(scope="module")
def tree():
    base = tempfile.mkdtemp(dir="/tmp")
    os.chmod(base, 0o755)
    files = {"big.txt": text(BIG, 1), "mid.txt": text(300 * 1024, 2), "small.txt": b"small and quick\n"}
    for name, data in files.items():
        with open(os.path.join(base, name), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(base, name), 0o644)
    yield base, files
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def srv(tree):
    s = Server("--root", tree[0], access_log="off")
    yield s
    stop_and_check(s)


def request(path, headers=(), method="GET"):
    h = "".join("%s: %s\r\n" % kv for kv in headers)
    return ("%s %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n" % (method, path, h)).encode()


def ask(s, path, headers=(), method="GET"):
    return one_response(s.raw(request(path, headers, method), timeout=20), head=(method == "HEAD"))


def race(s, slow_request, head_start):
    """Send slow_request, then (head_start seconds later, on another connection) a request for
    /small.txt. Returns which answer began first ("slow" or "small") and the slow response."""
    slow = s.connect(timeout=30)
    small = s.connect(timeout=30)
    try:
        slow.sendall(slow_request)
        time.sleep(head_start)  # the slow request is in the worker's hands
        small.sendall(request("/small.txt"))
        first = None
        got = {slow: b"", small: b""}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not got[small].endswith(b"small and quick\n"):
            ready, _, _ = select.select([slow, small], [], [], 1)
            for sock in ready:
                chunk = sock.recv(65536)
                if chunk and first is None:
                    first = sock
                got[sock] += chunk
        assert one_response(got[small]).body == b"small and quick\n"
        return ("small" if first is small else "slow"), one_response(got[slow] + read_all(slow, timeout=30))
    finally:
        slow.close()
        small.close()


DECODE = {"gzip": gzip.decompress, "br": brotli.decompress, "zstd": lambda b: zstandard.ZstdDecompressor().decompress(b)}
TAG = {"gzip": "gz", "br": "br", "zstd": "zst"}


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize("name", ["mid.txt", "big.txt"])
def test_coded_off_the_loop_like_small_files(srv, tree, name, coding):
    data = tree[1][name]
    r = ask(srv, "/" + name, [("Accept-Encoding", coding)])
    assert r.status == 200
    assert r.header("content-encoding") == coding
    assert r.header("vary") == "Accept-Encoding"
    assert r.header("etag").endswith('-%s"' % TAG[coding])
    assert int(r.header("content-length")) == len(r.body) < len(data)
    assert DECODE[coding](r.body) == data
    again = ask(srv, "/" + name, [("Accept-Encoding", coding)])  # now from the worker's cache
    assert again.body == r.body and again.header("etag") == r.header("etag")
    head = ask(srv, "/" + name, [("Accept-Encoding", coding)], method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.header("content-length") == r.header("content-length")


def test_range_304_and_226_on_a_large_coded_file(make_server, tree):
    s = make_server("--root", tree[0])  # a fresh server: nothing cached yet
    data = tree[1]["big.txt"]
    r = ask(s, "/big.txt", [("Accept-Encoding", "gzip"), ("Range", "bytes=0-99")])
    assert r.status == 206 and len(r.body) == 100
    total = int(r.header("content-range").split("/")[1])
    full = ask(s, "/big.txt", [("Accept-Encoding", "gzip")])
    assert len(full.body) == total and full.body[:100] == r.body
    assert gzip.decompress(full.body) == data
    nm = ask(s, "/big.txt", [("Accept-Encoding", "gzip"), ("If-None-Match", full.header("etag"))])
    assert nm.status == 304 and nm.header("etag") == full.header("etag")
    im = ask(make_server("--root", tree[0]), "/big.txt", [("A-IM", "gzip")])
    assert im.status == 226 and im.header("im") == "gzip" and gzip.decompress(im.body) == data


def test_other_clients_are_served_while_a_file_is_coded(make_server, tree):
    """One worker: while it has a 4 MiB file coded with brotli (hundreds of milliseconds), a
    request for a small file on another connection is answered first."""
    s = make_server("--root", tree[0], workers=1)
    first, big_response = race(s, request("/big.txt", [("Accept-Encoding", "br")]), 0.02)
    assert first == "small", "the small file waited for the big one's coding"
    assert big_response.status == 200 and brotli.decompress(big_response.body) == tree[1]["big.txt"]


def test_client_leaving_while_its_file_is_coded(make_server, tree):
    s = make_server("--root", tree[0], workers=1)
    for coding in ("br", "gzip", "zstd"):
        c = s.connect()
        c.sendall(request("/big.txt", [("Accept-Encoding", coding)]))
        time.sleep(0.01)
        c.close()  # gone before the coding is done
    r = ask(s, "/small.txt")
    assert r.status == 200 and r.body == b"small and quick\n"
    time.sleep(1.5)  # the abandoned jobs finish and are released on the worker
    r = ask(s, "/big.txt", [("Accept-Encoding", "zstd")])
    assert zstandard.ZstdDecompressor().decompress(r.body) == tree[1]["big.txt"]
    assert sum(" 499 " in l for l in s.access_log(wait_for=" 499 ", count=3)) == 3  # logged as the client's abort


def test_stop_while_a_file_is_coded_finishes_the_answer(tree):
    """SIGTERM drains: the response being coded is still sent, then the server exits cleanly."""
    s = Server("--root", tree[0], workers=1)
    c = s.connect(timeout=20)
    try:
        c.sendall(request("/big.txt", [("Accept-Encoding", "br")]))
        time.sleep(0.05)
        s.proc.send_signal(signal.SIGTERM)
        r = one_response(read_all(c, timeout=20))
        assert r.status == 200 and brotli.decompress(r.body) == tree[1]["big.txt"]
    finally:
        c.close()
        stop_and_check(s)


def test_many_clients_many_codings_at_once(make_server, tree):
    s = make_server("--root", tree[0], workers=2)
    socks = []
    for i in range(12):
        coding = ("gzip", "br", "zstd")[i % 3]
        name = ("big.txt", "mid.txt")[i % 2]
        c = s.connect(timeout=30)
        c.sendall(request("/" + name, [("Accept-Encoding", coding)]))
        socks.append((c, coding, name))
    for c, coding, name in socks:
        r = one_response(read_all(c, timeout=30))
        c.close()
        assert r.status == 200 and r.header("content-encoding") == coding
        assert DECODE[coding](r.body) == tree[1][name]


@pytest.fixture(scope="module")
def big_dir():
    base = tempfile.mkdtemp(dir="/tmp")
    os.chmod(base, 0o755)
    d = os.path.join(base, "many")
    os.mkdir(d)
    os.chmod(d, 0o755)
    first = os.path.join(d, "f000000")
    with open(first, "wb") as f:
        f.write(b"x")
    os.chmod(first, 0o644)
    for i in range(1, 60000):
        os.link(first, os.path.join(d, "f%06d" % i))
    with open(os.path.join(base, "small.txt"), "wb") as f:
        f.write(b"small and quick\n")
    os.chmod(os.path.join(base, "small.txt"), 0o644)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_large_listing_built_off_the_loop(make_server, big_dir):
    """A 60,000-entry listing is complete and sorted, and a small file asked for meanwhile on
    another connection of the same worker is answered before it."""
    s = make_server("--root", big_dir, "--autoindex", workers=1)
    first, r = race(s, request("/many/"), 0.005)
    assert first == "small", "the small file waited for the listing"
    assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8"
    names = [m.decode() for m in __import__("re").findall(rb'<a href="(f\d{6})">', r.body)]
    assert len(names) == 60000 and names == sorted(names)


def test_a_crowd_asking_for_one_file_shares_one_coding(make_server, tree):
    """20 clients ask at once for the same large file, coded the same way, before any copy is
    cached: the file is coded once, and every one of them still there gets it (the first asker,
    whose request started the job, and two others leave before it is done)."""
    s = make_server("--root", tree[0], "--log-level", "debug", workers=1)
    socks = []
    for _ in range(20):
        c = s.connect(timeout=30)
        c.sendall(request("/big.txt", [("Accept-Encoding", "br")]))
        socks.append(c)
    time.sleep(0.05)
    for i in (0, 7, 13):
        socks[i].close()
    socks = [c for i, c in enumerate(socks) if i not in (0, 7, 13)]
    bodies = []
    for c in socks:
        r = one_response(read_all(c, timeout=30))
        c.close()
        assert r.status == 200 and r.header("content-encoding") == "br"
        bodies.append(r.body)
    assert all(b == bodies[0] for b in bodies) and brotli.decompress(bodies[0]) == tree[1]["big.txt"]
    codings = [l for l in s.stderr().splitlines() if "coded inode" in l and " as br " in l]
    assert len(codings) == 1, codings
