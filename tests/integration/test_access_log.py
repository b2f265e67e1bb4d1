"""The access log is gathered per worker and written once per loop iteration: every line still
arrives whole (never interleaved with another worker's, never cut), promptly, in a file or a
pipe, and the time in it is the request's."""
import os
import re
import socket
import threading
import time

import pytest

from conftest import parse_responses, stop_and_check, Server

LINE = re.compile(r'^127\.0\.0\.1 - - \[(\d{2})/(\w{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) \+0000\] '
                  r'"GET /anything/(\d+)/(\d+) HTTP/1\.1" 200 \d+ "-" "(x+)" \d+\.\d{3}$')
CLIENTS, PER_CLIENT = 8, 150


def hammer(port, ua_len):
    errors = []

    def client(ci):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            buf = b""
            for i in range(PER_CLIENT):
                s.sendall(b"GET /anything/%d/%d HTTP/1.1\r\nHost: t\r\nUser-Agent: %s\r\n\r\n" % (ci, i, b"x" * ua_len))
                while True:
                    rs, rest = parse_responses(buf)
                    if rs and rs[0].has("content-length") and len(rs[0].body) == int(rs[0].header("content-length")):
                        buf = rest
                        break
                    chunk = s.recv(65536)
                    assert chunk
                    buf += chunk
            s.close()
        except Exception as e:  # reported below
            errors.append(e)

    ts = [threading.Thread(target=client, args=(ci,)) for ci in range(CLIENTS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors[:3]


def check_lines(lines, ua_len):
    seen = set()
    for l in lines:
        m = LINE.match(l.rstrip("\n"))
        assert m, "malformed or interleaved line: %r" % l[:300]
        assert len(m.group(9)) == ua_len
        seen.add((int(m.group(7)), int(m.group(8))))
    assert seen == {(c, i) for c in range(CLIENTS) for i in range(PER_CLIENT)}
    assert len(lines) == CLIENTS * PER_CLIENT


@pytest.mark.parametrize("ua_len", [10, 480])  # the log keeps at most ~500 bytes of it
def test_pipe_lines_whole_with_two_workers(ua_len):
    """stdout is a pipe here: writes stay within PIPE_BUF and hold whole lines."""
    s = Server(workers=2, access_log="-")
    try:
        for port in s.ports:
            hammer(port, ua_len)
        s.access_log(wait_for="/anything/%d/%d " % (CLIENTS - 1, PER_CLIENT - 1))
    finally:
        stop_and_check(s)
    check_lines([l for l in s.stdout_lines if "/anything/" in l], ua_len)


def test_file_lines_whole_with_two_workers(tmp_path):
    path = str(tmp_path / "access.log")
    s = Server(workers=2, access_log=path)
    try:
        hammer(s.port, 450)
    finally:
        stop_and_check(s)  # lines still gathered are written before the workers stop
    with open(path) as f:
        check_lines(f.readlines(), 450)


def test_line_is_written_promptly_and_timed(server):
    before = time.time()
    s = server.connect()
    s.sendall(b"GET /anything/0/0 HTTP/1.1\r\nHost: t\r\nUser-Agent: xxx\r\n\r\n")
    s.recv(65536)
    deadline = time.time() + 2
    line = None
    while time.time() < deadline and not line:
        line = next((l for l in server.access_log() if "/anything/0/0 " in l), None)
        time.sleep(0.01)
    s.close()
    assert line, "no access log line within 2 s of the response"
    m = LINE.match(line.rstrip("\n"))
    assert m
    logged = time.strptime("%s/%s/%s %s:%s:%s" % m.groups()[:6], "%d/%b/%Y %H:%M:%S")
    assert abs(time.mktime(logged) - time.mktime(time.gmtime(before))) <= 2


def test_sigusr1_reopens_the_log_after_rotation():
    """logrotate's way: move the file, signal, and the server writes to a new file at the same
    path (created by the server's own user), while lines before the move stay in the old one."""
    import shutil
    import signal
    import tempfile
    import requests

    d = tempfile.mkdtemp(dir="/tmp")
    os.chmod(d, 0o777)  # the server runs as --user (nobody under CI's root) when it reopens
    path = os.path.join(d, "access.log")
    s = Server(workers=2, access_log=path)
    try:
        for i in range(20):
            assert requests.get(s.url + "/anything/before/%d" % i).status_code == 200
        time.sleep(0.2)
        os.rename(path, path + ".1")
        s.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 5
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.02)
        assert os.path.exists(path), s.stderr()
        for i in range(20):
            assert requests.get(s.url + "/anything/after/%d" % i).status_code == 200
        s.proc.send_signal(signal.SIGUSR1)  # a second signal with nothing moved: same file
    finally:
        stop_and_check(s)
    old = open(path + ".1").read()
    new = open(path).read()
    assert old.count("/anything/before/") == 20 and "/anything/after/" not in old
    assert new.count("/anything/after/") == 20 and "/anything/before/" not in new
    assert "access log %s reopened" % path in s.stderr()
    shutil.rmtree(d, ignore_errors=True)


def ws_upgrade(path):
    return (b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" % path)


def test_every_request_is_logged_exactly_once_with_how_it_ended():
    """Engine v2: one end for every request. Each way a request can end — answered, answered
    by a fault, closed without a byte, the client leaving before the answer or in the middle of
    its body, a head cut off or too slow, an upgraded connection, pipelining — leaves exactly one
    line, with the status that decided it and the body bytes actually sent."""
    import struct
    s = Server("--header-timeout", "300ms", access_log="-")
    try:
        def fresh(data, wait=0.0, shut=False):
            c = s.connect()
            c.sendall(data)
            if shut:
                c.shutdown(socket.SHUT_WR)
            if wait:
                time.sleep(wait)
            got = b""
            try:
                c.settimeout(2)
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    got += b
            except OSError:
                pass
            c.close()
            return got

        fresh(b"GET /status/200?m=ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        fresh(b"HEAD /bytes/100?m=head HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        fresh(b"GET /fault/abort-before-headers?m=444 HTTP/1.1\r\nHost: t\r\n\r\n")
        short = fresh(b"GET /fault/short-body?m=short HTTP/1.1\r\nHost: t\r\n\r\n")
        mid = fresh(b"GET /fault/abort-mid-body?m=mid&delay=50ms HTTP/1.1\r\nHost: t\r\n\r\n")
        # the client leaves while the answer is still being made
        c = s.connect()
        c.sendall(b"GET /delay/2?m=left HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.1)
        c.close()
        # the client leaves in the middle of its body
        c = s.connect()
        c.sendall(b"POST /post?m=body HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf")
        time.sleep(0.1)
        c.close()
        # a head cut off, and one too slow
        c = s.connect()
        c.sendall(b"GET /get?m=cut HTTP/1.1\r\nHo")
        time.sleep(0.1)
        c.close()
        fresh(b"GET /get?m=slow HTTP/1.1\r\nHost: t\r\n", wait=0.6)
        # a WebSocket session: one message echoed, then closed by the client
        c = s.connect()
        c.sendall(ws_upgrade(b"/websocket/echo?m=ws"))
        head = b""
        while b"\r\n\r\n" not in head:
            head += c.recv(4096)
        mask = b"\x01\x02\x03\x04"
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"hi"))
        c.sendall(b"\x81\x82" + mask + payload)
        time.sleep(0.1)
        c.close()
        # three pipelined requests on one connection
        fresh(b"".join(b"GET /get?m=pipe%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(3)), shut=True)
        time.sleep(0.3)
        lines = s.access_log(wait_for="m=pipe2")
    finally:
        stop_and_check(s)

    def only(marker):
        found = [l for l in lines if marker in l]
        assert len(found) == 1, (marker, found)
        m = re.search(r'" (\d{3}) (\d+) "', found[0])
        assert m, found[0]
        return int(m.group(1)), int(m.group(2))

    assert only("m=ok ")[0] == 200
    assert only("m=head ") == (200, 0)  # HEAD: no body bytes
    assert only("m=444 ") == (444, 0)
    # a fault's bytes are raw (statusd made no head of its own): every byte written counts
    assert only("m=short ") == (200, len(short)) and short.endswith(b"\r\n\r\n" + (b"abcdefghijklmnopqrstuvwxyz" * 2)[:50])
    assert only("m=mid&") == (200, len(mid)) and len(mid) > 512
    assert only("m=left ") == (499, 0)
    assert only("m=body ") == (499, 0)
    assert only("GET /get?m=cut") == (400, 0)
    assert only("m=slow ")[0] == 408
    status, sent = only("m=ws ")
    assert status == 101 and sent == 4  # the echoed frame: 2 bytes of header, 2 of payload
    for i in range(3):
        assert only("m=pipe%d " % i)[0] == 200
