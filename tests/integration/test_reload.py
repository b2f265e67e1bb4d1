"""Graceful reload on SIGHUP: clients running through a reload that changes a path and the
listeners see no error and see the new configuration afterwards; a broken configuration is
refused and logged and the service goes on unchanged; systemd hears RELOADING=1 then READY=1."""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import Server, parse_responses, read_all, stop_and_check


@pytest.fixture
def tmp_path():
    """A directory the server can still read after it dropped root for --user (nobody when the
    tests run as root): a reload reads the configuration as that user."""
    d = tempfile.mkdtemp(dir="/tmp")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.rename(tmp, path)  # the server never reads half a file


def config(root, listen, files=False, metrics=True, extra_path=""):
    paths = "      /: {api: true}\n"
    if files:
        paths += "      /files: {root: %s}\n" % root
    if extra_path:
        paths += extra_path
    if metrics:
        paths += "      /metrics: {metrics: true}\n"
    return "listen: [%s]\nhosts:\n  t:\n    paths:\n%s" % (", ".join('"%s"' % l for l in listen), paths)


def reloaded(server, n, timeout=10):
    """Wait for the n-th 'configuration reloaded' line."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.stderr().count("configuration reloaded") >= n:
            return
        time.sleep(0.02)
    raise AssertionError("no reload %d: %s" % (n, server.stderr()))


def get(port, path, keep=None, addr="127.0.0.1"):
    """One GET: on the connection `keep` (a list holding a socket, reused and renewed) or a new one."""
    req = b"GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path, b"" if keep is not None else b"Connection: close\r\n")
    if keep is not None and keep:
        s = keep[0]
    else:
        s = socket.create_connection((addr, port), timeout=5)
        if keep is not None:
            keep.append(s)
    s.sendall(req)
    buf = b""
    while True:
        rs, rest = parse_responses(buf)
        if rs and (not rs[0].has("content-length") or len(rs[0].body) == int(rs[0].header("content-length"))):
            break
        b = s.recv(65536)
        if not b:
            raise ConnectionError("closed after %r" % buf[:100])
        buf += b
    r = rs[0]
    if keep is None or r.header("connection", "").lower() == "close":
        s.close()
        if keep:
            keep.clear()
    return r


def test_reload_under_load_changes_paths_and_listeners(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "f.txt").write_text("hello world\n")
    cfg = str(tmp_path / "statusd.yaml")
    write(cfg, config(root, ["127.0.0.1:0"]))
    s = Server("--config", cfg, listen=None, ports=1, workers=2, access_log="off")
    port = s.port
    stop = threading.Event()
    errors, seen = [], []

    def client(i):
        keep = [] if i % 2 == 0 else None  # half keep their connection, half open one per request
        n = 0
        try:
            while not stop.is_set() and n < 20000:
                n += 1
                r = get(port, b"/get", keep)
                if r.status != 200:
                    errors.append(("/get", r.status))
                r = get(port, b"/files/f.txt", keep)
                seen.append((i, time.time(), r.status))
        except Exception as e:  # any refused or reset connection is a failure
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.3)
        # 1: a new path, and a second listener
        write(cfg, config(root, ["127.0.0.1:0", "127.0.0.2:0"], files=True))
        s.proc.send_signal(signal.SIGHUP)
        reloaded(s, 1)
        t1 = time.time()
        time.sleep(0.3)
        new_port = int(s.stderr().split("listening on 127.0.0.2:")[1].split()[0])
        assert get(new_port, b"/files/f.txt", addr="127.0.0.2").body == b"hello world\n"
        # 2: the path gone, the second listener closed
        write(cfg, config(root, ["127.0.0.1:0"]))
        s.proc.send_signal(signal.SIGHUP)
        reloaded(s, 2)
        t2 = time.time()
        time.sleep(0.3)
        try:
            socket.create_connection(("127.0.0.2", new_port), timeout=2).close()
            raise AssertionError("the removed listener still accepts")
        except ConnectionRefusedError:
            pass
        # a broken configuration: refused, logged, nothing changes
        # (an item of an unclosed list: listen values are checked as they are read, so a bad item
        # would be reported before the syntax error)
        write(cfg, "listen: ['127.0.0.1:0'\n")
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while "reload refused" not in s.stderr() and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(30)
        m = get(port, b"/metrics").body.decode()
    finally:
        stop.set()
        stop_and_check(s)
    assert not errors, errors[:5]
    assert "reload refused, still serving generation 3: " in s.stderr()
    assert "YAML syntax error" in s.stderr()
    # before the first reload /files/ is the API's (an unknown route: 404); after it, the file;
    # after the second, the API's again — for every client, keep-alive or not
    for i in range(4):
        mine = [(t, st) for c, t, st in seen if c == i]
        assert [st for t, st in mine if t > t1 + 0.05 and t < t2 - 0.05] and \
            all(st == 200 for t, st in mine if t1 + 0.05 < t < t2 - 0.05), (i, mine[-5:])
        assert all(st == 404 for t, st in mine if t > t2 + 0.05)
        assert all(st == 404 for t, st in mine if t < t1 - 1.0)
    assert 'statusd_config_generation 3' in m
    assert 'statusd_config_reloads_total{result="ok"} 2' in m
    assert 'statusd_config_reloads_total{result="error"} 1' in m


def test_in_flight_request_finishes_on_the_old_configuration(tmp_path):
    cfg = str(tmp_path / "statusd.yaml")
    write(cfg, "listen: ['127.0.0.1:0']\nlog_format: json\nhosts:\n  t:\n    paths:\n      /: {api: true}\n")
    s = Server("--config", cfg, listen=None, ports=1)
    try:
        slow = s.connect()
        slow.sendall(b"GET /delay/1 HTTP/1.1\r\nHost: t\r\n\r\n")  # in flight during the reload
        time.sleep(0.2)
        write(cfg, "listen: ['127.0.0.1:0']\nlog_format: json\nhosts:\n  u:\n    paths:\n      /: {api: true}\n")
        s.proc.send_signal(signal.SIGHUP)
        reloaded(s, 1)
        # the same connection's next request takes the new configuration: host t is gone
        slow.settimeout(5)
        buf = b""
        while b"\r\n\r\n" not in buf or len(parse_responses(buf)[0]) < 1:
            buf += slow.recv(65536)
        first = parse_responses(buf)[0][0]
        slow.sendall(b"GET /get HTTP/1.1\r\nHost: t\r\n\r\n")
        buf = parse_responses(buf)[1]
        while not parse_responses(buf)[0]:
            buf += slow.recv(65536)
        second = parse_responses(buf)[0][0]
        slow.close()
        time.sleep(0.2)
    finally:
        stop_and_check(s)
    assert first.status == 200 and second.status == 200
    recs = [json.loads(l) for l in s.access_log() if l.startswith("{")]
    # the delayed request was served by host t (the old generation); the next by the new
    # configuration's only host, u, which takes any Host (no strict_hosts)
    assert [(r["target"], r["vhost"]) for r in recs] == [("/delay/1", "t"), ("/get", "u")]


def test_reload_tells_systemd(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    cfg = str(tmp_path / "statusd.yaml")
    write(cfg, "listen: ['127.0.0.1:0']\n")
    s = Server("--config", cfg, listen=None, ports=1, env={"NOTIFY_SOCKET": path})
    try:
        assert sock.recv(4096) == b"READY=1\nSTATUS=serving"
        s.proc.send_signal(signal.SIGHUP)
        msg = sock.recv(4096).decode()
        assert msg.startswith("RELOADING=1\nMONOTONIC_USEC=")
        usec = int(msg.split("MONOTONIC_USEC=")[1])
        assert abs(usec / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)) < 5
        assert sock.recv(4096) == b"READY=1\nSTATUS=serving (configuration reloaded)"
        write(cfg, "listen: ['127.0.0.1:0']\nmax_body: lots\n")
        s.proc.send_signal(signal.SIGHUP)
        assert sock.recv(4096).startswith(b"RELOADING=1\n")
        assert sock.recv(4096) == b"READY=1\nSTATUS=serving (reload refused)"
        want = "expects a size such as 512, 8k or 10m, got 'lots'"
        assert want in s.stderr(wait_for=want)
    finally:
        stop_and_check(s)
        sock.close()


def test_sighup_right_after_listening_is_a_reload(tmp_path):
    """A script that reloads as soon as it reads "listening on" must get a reload, not the
    default action of SIGHUP (the end of the process): the signals are blocked before the line
    is written. Ten starts, each signalled the moment the line arrives."""
    from conftest import BIN
    cfg = str(tmp_path / "statusd.yaml")
    write(cfg, "listen: ['127.0.0.1:0']\nhosts:\n  t:\n    paths:\n      /: {api: true}\n")
    for attempt in range(10):
        p = subprocess.Popen([BIN, "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            port = None
            deadline = time.time() + 10
            while port is None and time.time() < deadline:
                line = p.stderr.readline()
                if not line:
                    break
                if line.startswith("listening on "):
                    p.send_signal(signal.SIGHUP)  # at once: no sleep between the line and the signal
                    port = int(line.rsplit(":", 1)[1])
            assert port, "no listening line"
            time.sleep(0.3)
            assert p.poll() is None, "attempt %d: SIGHUP right after the listening line ended the server (rc %s)" % (
                attempt, p.returncode)
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(b"GET /status/200 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = read_all(c, 5)
            c.close()
            assert data.startswith(b"HTTP/1.1 200 "), data[:200]
        finally:
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            p.stderr.close()
