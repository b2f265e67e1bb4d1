"""The static origin's open-file cache never serves a file as it was before a change the
client could have seen complete: every change below is made and then, with no pause, asked for
on the same keep-alive connection (so no new connection and no timer helps the server notice).
Each case repeats, so a change noticed only by luck would fail one of the rounds."""
import mmap
import os
import shutil
import tempfile

import pytest

from conftest import parse_responses

ROUNDS = 25


@pytest.fixture
def tree():
    base = tempfile.mkdtemp(dir="/tmp")
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


class Conn:
    """One persistent connection; get() sends a GET and reads exactly one response."""

    def __init__(self, server):
        self.s = server.connect()
        self.buf = b""

    def get(self, path):
        self.s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        while True:
            rs, rest = parse_responses(self.buf)
            if rs:
                r = rs[0]
                if not r.has("content-length") or len(r.body) == int(r.header("content-length")):
                    self.buf = self.buf[len(r.raw_head) + len(r.body):]
                    return r
            chunk = self.s.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk

    def close(self):
        self.s.close()


def write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def replace(path, data):
    """Atomic replacement: a new inode renamed over the old name."""
    tmp = path + ".tmp"
    write(tmp, data)
    os.rename(tmp, path)


@pytest.fixture(params=["watch", "stat"])
def conn(request, make_server, tree):
    """Both ways of keeping the cache fresh: notifications, and --no-file-watch (a stat per
    event-loop wake-up)."""
    s = make_server("--root", tree, *(["--no-file-watch"] if request.param == "stat" else []))
    c = Conn(s)
    yield c
    c.close()


def test_rewritten_in_place(conn, tree):
    p = os.path.join(tree, "f.txt")
    write(p, b"round 000\n")
    for i in range(ROUNDS):
        assert conn.get("/f.txt").body == (b"round %03d\n" % i)
        with open(p, "r+b") as f:  # same size, same inode, new bytes
            f.write(b"round %03d\n" % (i + 1))


def test_replaced_by_rename(conn, tree):
    p = os.path.join(tree, "f.txt")
    write(p, b"v0")
    for i in range(ROUNDS):
        r = conn.get("/f.txt")
        assert r.status == 200 and r.body == b"v%d" % i
        replace(p, b"v%d" % (i + 1))


def test_new_connection_after_change(make_server, tree):
    """A change, then a new connection at once: the server may accept it in the very wake-up
    that served the previous one, before it has looked at the change's notification."""
    p = os.path.join(tree, "f.txt")
    write(p, b"c0")
    for watch in ([], ["--no-file-watch"]):
        s = make_server("--root", tree, *watch)
        for i in range(50):
            r = parse_responses(s.raw(b"GET /f.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))[0][0]
            assert r.body == b"c%d" % i, watch
            os.utime(p, ns=(10**18 + i, 10**18 + i))  # attributes only, then new bytes
            replace(p, b"c%d" % (i + 1))
        write(p, b"c0")


def test_truncated_and_grown(conn, tree):
    p = os.path.join(tree, "f.bin")
    for i in range(ROUNDS):
        data = b"x" * (i * 37 % 500 + 1)
        with open(p, "r+b" if os.path.exists(p) else "wb") as f:
            f.truncate(0)
            f.write(data)
        os.chmod(p, 0o644)
        r = conn.get("/f.bin")
        assert r.body == data and r.header("content-length") == str(len(data))


def test_deleted_and_recreated(conn, tree):
    p = os.path.join(tree, "f.txt")
    for i in range(ROUNDS):
        write(p, b"here %d" % i)
        assert conn.get("/f.txt").body == b"here %d" % i
        os.unlink(p)
        assert conn.get("/f.txt").status == 404


@pytest.mark.skipif(os.geteuid() != 0, reason="needs the server to run as another user than the file owner")
def test_permission_removed(conn, tree):
    """The server runs as nobody: a file made unreadable is 403 at once, readable again 200."""
    p = os.path.join(tree, "f.txt")
    write(p, b"secret")
    for _ in range(10):
        assert conn.get("/f.txt").status == 200
        os.chmod(p, 0o600)
        assert conn.get("/f.txt").status == 403
        os.chmod(p, 0o644)


def test_parent_directory_swapped(conn, tree):
    """a/b/f.txt keeps its name while the directory a is replaced by another one."""
    for i in range(ROUNDS):
        d = os.path.join(tree, "a.new")
        os.makedirs(os.path.join(d, "b"))
        for q in (d, os.path.join(d, "b")):
            os.chmod(q, 0o755)
        write(os.path.join(d, "b", "f.txt"), b"tree %d" % i)
        old = os.path.join(tree, "a")
        if os.path.exists(old):
            os.rename(old, os.path.join(tree, "a.old"))
        os.rename(d, old)
        shutil.rmtree(os.path.join(tree, "a.old"), ignore_errors=True)
        assert conn.get("/a/b/f.txt").body == b"tree %d" % i


def test_symlink_retargeted(conn, tree):
    for name in ("one", "two"):
        write(os.path.join(tree, name), name.encode())
    link = os.path.join(tree, "cur")
    for i in range(ROUNDS):
        target = ("one", "two")[i % 2]
        tmp = link + ".tmp"
        os.symlink(target, tmp)
        os.rename(tmp, link)
        assert conn.get("/cur").body == target.encode()


def test_written_through_another_hard_link(conn, tree):
    """A write through a name outside the served tree changes the served file too."""
    outside = tempfile.mkdtemp(dir="/tmp")
    try:
        other = os.path.join(outside, "alias")
        write(other, b"A" * 16)
        os.link(other, os.path.join(tree, "f.txt"))
        for i in range(ROUNDS):
            with open(other, "r+b") as f:
                f.write(b"%016d" % i)
            assert conn.get("/f.txt").body == b"%016d" % i
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def test_written_through_mmap(conn, tree):
    """A write through a shared mapping raises no file event; the cache still notices it, by
    the file's changed mtime, within a bounded time (a stat at least once a second). The
    file's mtime is set back first so that the change of mtime is certain to be visible."""
    import time

    p = os.path.join(tree, "f.bin")
    write(p, b"0" * 4096)
    os.utime(p, (1_000_000_000, 1_000_000_000))
    assert conn.get("/f.bin").body == b"0" * 4096
    with open(p, "r+b") as f:  # kept open while polling: its close would be an event
        m = mmap.mmap(f.fileno(), 4096)
        m[:4] = b"MMAP"
        m.flush()
        deadline = time.monotonic() + 5
        while True:
            body = conn.get("/f.bin").body
            if body.startswith(b"MMAP") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        m.close()
    assert body.startswith(b"MMAP")


def test_many_files_and_directories(conn, tree):
    """More files than the cache holds, in many directories: each answer is its own file's."""
    for d in range(40):
        dp = os.path.join(tree, "d%02d" % d)
        os.mkdir(dp)
        os.chmod(dp, 0o755)
        for f in range(20):
            write(os.path.join(dp, "f%02d" % f), b"%02d/%02d" % (d, f))
    for rnd in range(2):
        for d in range(40):
            for f in range(0, 20, 3):
                assert conn.get("/d%02d/f%02d" % (d, f)).body == b"%02d/%02d" % (d, f)
        # change them all, then read them all again
        for d in range(40):
            for f in range(20):
                replace(os.path.join(tree, "d%02d" % d, "f%02d" % f), b"%02d/%02d" % (f, d))
        for d in range(40):
            for f in range(20):
                assert conn.get("/d%02d/f%02d" % (d, f)).body == b"%02d/%02d" % (f, d)
        for d in range(40):
            for f in range(20):
                replace(os.path.join(tree, "d%02d" % d, "f%02d" % f), b"%02d/%02d" % (d, f))
