"""Client-testing API: time and size routes (/delay /drip /bytes /stream /stream-bytes /range
/sse /trailers) and their caps (--api-max-duration, --api-max-bytes)."""
import json
import subprocess
import time

import pytest
import requests

from conftest import BIN, parse_responses, read_all
from test_api_helpers import fetch, jbody, request, running


@pytest.fixture(scope="module")
def api():
    with running("--api-max-duration", "2s", "--api-max-bytes", "1m") as s:
        yield s


def test_delay(api):
    t0 = time.time()
    r = requests.post(api.url + "/delay/0.2?x=1", data={"a": "b"})
    assert 0.19 <= time.time() - t0 < 1.5
    d = r.json()
    assert d["args"] == {"x": "1"} and d["form"] == {"a": "b"}
    r, _ = fetch(api, "GET", "/delay/250ms")
    assert r.status == 200


def test_delay_never_blocks_the_worker(api):
    c = api.connect()
    c.sendall(request("GET", "/delay/0.5"))
    t0 = time.time()
    r, _ = fetch(api, "GET", "/get")  # same single worker, answered at once
    assert r.status == 200 and time.time() - t0 < 0.3
    rs, _ = parse_responses(read_all(c))
    c.close()
    assert rs[0].status == 200


def test_caps_are_named_in_a_400(api):
    cases = {
        "/delay/3": b"--api-max-duration (2s)",
        "/drip?duration=1.5&delay=1": b"--api-max-duration (2s)",
        "/bytes/2000000": b"--api-max-bytes (1m)",
        "/stream-bytes/1048577": b"--api-max-bytes (1m)",
        "/range/5000000": b"--api-max-bytes (1m)",
        "/drip?numbytes=2000000&duration=0": b"--api-max-bytes (1m)",
        "/sse?count=30&delay=0.1": b"--api-max-duration (2s)",
        "/stream/100000": b"--api-max-bytes (1m)",
        "/status/200?sleep=2500": b"--api-max-duration (2s)",
    }
    for path, cap in cases.items():
        r, _ = fetch(api, "GET", path)
        assert r.status == 400 and cap in r.body, (path, r.status, r.body)
    for path in ("/delay/abc", "/drip?numbytes=-1", "/bytes/1x", "/drip?code=777", "/drip?code=101"):
        r, _ = fetch(api, "GET", path)
        assert r.status == 400, path


def test_drip(api):
    c = api.connect()
    c.sendall(request("GET", "/drip?duration=0.4&numbytes=4&delay=0.1"))
    c.settimeout(3)
    t0 = time.time()
    arrivals = []
    data = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
        arrivals.append((time.time() - t0, b))
    c.close()
    rs, _ = parse_responses(data)
    assert rs[0].status == 200 and rs[0].body == b"****" and rs[0].header("content-length") == "4"
    assert arrivals[0][0] >= 0.09  # the initial delay
    assert arrivals[-1][0] >= 0.35 and len(arrivals) >= 3  # bytes spread over the duration
    r, _ = fetch(api, "GET", "/drip?duration=0&numbytes=3&code=503")
    assert r.status == 503 and r.body == b"***" and r.has("retry-after")
    r, _ = fetch(api, "GET", "/drip?duration=0&numbytes=5&code=204")
    assert r.status == 204 and r.body == b""


def test_bytes_seeded(api):
    a = requests.get(api.url + "/bytes/100?seed=7").content
    b = requests.get(api.url + "/bytes/100?seed=7").content
    c = requests.get(api.url + "/bytes/100").content
    assert len(a) == 100 and a == b and a != c
    r, _ = fetch(api, "GET", "/bytes/0")
    assert r.status == 200 and r.body == b"" and r.header("content-type") == "application/octet-stream"


def test_stream_lines(api):
    r, _ = fetch(api, "GET", "/stream/5")
    assert r.header("transfer-encoding") == "chunked"
    lines = r.body.decode().splitlines()
    assert [json.loads(l)["id"] for l in lines] == [0, 1, 2, 3, 4]
    r, _ = fetch(api, "GET", "/stream/0")
    assert r.status == 200 and r.body == b""
    r, _ = fetch(api, "HEAD", "/stream/3")
    assert r.status == 200 and r.body == b""


def test_stream_bytes(api):
    r = requests.get(api.url + "/stream-bytes/300000?chunk_size=1000&seed=3", stream=True)
    assert r.headers["transfer-encoding"] == "chunked"
    body = r.raw.read()
    assert len(body) == 300000
    assert requests.get(api.url + "/stream-bytes/300000?chunk_size=65536&seed=3").content == body
    out = subprocess.run(["curl", "-sS", "--raw", api.url + "/stream-bytes/10?chunk_size=4&seed=1"],
                         capture_output=True, timeout=10)
    assert out.stdout.startswith(b"4\r\n") and out.stdout.endswith(b"0\r\n\r\n")
    r, _ = fetch(api, "GET", "/stream-bytes/10?chunk_size=0")
    assert r.status == 400


def test_stream_bytes_http10_close_delimited(api):
    data = api.raw(b"GET /stream-bytes/1000?seed=1 HTTP/1.0\r\n\r\n")
    r = parse_responses(data)[0][0]
    assert not r.has("transfer-encoding") and r.header("connection") == "close" and len(r.body) == 1000


def test_range_single_multi_and_416(api):
    full = bytes((ord("a") + i % 26) for i in range(100))
    r, _ = fetch(api, "GET", "/range/100")
    assert r.status == 200 and r.body == full and r.header("etag") == '"range100"' and r.header("accept-ranges") == "bytes"
    r, _ = fetch(api, "GET", "/range/100", [("Range", "bytes=10-19")])
    assert r.status == 206 and r.body == full[10:20] and r.header("content-range") == "bytes 10-19/100"
    r, _ = fetch(api, "GET", "/range/100", [("Range", "bytes=-5")])
    assert r.status == 206 and r.body == full[95:] and r.header("content-range") == "bytes 95-99/100"
    r, _ = fetch(api, "GET", "/range/100", [("Range", "bytes=90-")])
    assert r.body == full[90:]
    r, _ = fetch(api, "GET", "/range/100", [("Range", "bytes=0-1, 50-52, 98-200")])
    assert r.status == 206
    ctype = r.header("content-type")
    assert ctype.startswith("multipart/byteranges; boundary=")
    boundary = ctype.split("boundary=")[1].encode()
    parts = r.body.split(b"--" + boundary)
    assert parts[-1] == b"--\r\n" and len(parts) == 5
    got = []
    for p in parts[1:4]:
        head, _, data = p.partition(b"\r\n\r\n")
        assert b"Content-Range: bytes " in head
        got.append(data[:-2])
    assert got == [full[0:2], full[50:53], full[98:100]]
    r, _ = fetch(api, "GET", "/range/100", [("Range", "bytes=200-300")])
    assert r.status == 416 and r.header("content-range") == "bytes */100"
    r, _ = fetch(api, "GET", "/range/100", [("Range", "lines=1-2")])
    assert r.status == 200 and r.body == full  # not a bytes range: ignored (RFC 9110 §14.2)


def test_range_if_range(api):
    r, _ = fetch(api, "GET", "/range/50", [("Range", "bytes=0-9"), ("If-Range", '"range50"')])
    assert r.status == 206 and len(r.body) == 10
    r, _ = fetch(api, "GET", "/range/50", [("Range", "bytes=0-9"), ("If-Range", '"other"')])
    assert r.status == 200 and len(r.body) == 50
    r, _ = fetch(api, "GET", "/range/50", [("Range", "bytes=0-9"), ("If-Range", "Sat, 01 Jan 2000 00:00:00 GMT")])
    assert r.status == 200
    out = subprocess.run(["curl", "-sS", "-r", "5-9", api.url + "/range/26"], capture_output=True, timeout=10)
    assert out.returncode == 0 and out.stdout == b"fghij"


def test_sse(api):
    c = api.connect()
    c.sendall(request("GET", "/sse?count=3&delay=0.1"))
    t0 = time.time()
    data = read_all(c)
    c.close()
    elapsed = time.time() - t0
    r = parse_responses(data)[0][0]
    assert r.header("content-type").startswith("text/event-stream") and r.header("cache-control") == "no-cache"
    events = [e for e in r.body.decode().split("\n\n") if e]
    assert len(events) == 3 and events[0].startswith("id: 0\nevent: ping\ndata: {")
    assert json.loads(events[2].split("data: ")[1])["id"] == 2
    assert 0.18 <= elapsed < 1.5


def test_trailers(api):
    r, _ = fetch(api, "GET", "/trailers?X-Checksum=abc&Server-Timing=db;dur=5")
    assert r.header("trailer") == "X-Checksum, Server-Timing" and r.header("transfer-encoding") == "chunked"
    assert jbody(r) == {"trailers": {"X-Checksum": "abc", "Server-Timing": "db;dur=5"}}
    raw = api.raw(request("GET", "/trailers?X-Checksum=abc"))
    assert raw.endswith(b"\r\n0\r\nX-Checksum: abc\r\n\r\n")
    out = subprocess.run(["curl", "-sS", "--raw", api.url + "/trailers?A=1"], capture_output=True, timeout=10)
    assert out.returncode == 0 and out.stdout.endswith(b"0\r\nA: 1\r\n\r\n")
    for bad in ("Content-Length=1", "Content-Type=x", "Authorization=x", "X=a%0Ab"):
        r, _ = fetch(api, "GET", "/trailers?" + bad)
        assert r.status == 400, bad


def test_caps_are_directives():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10)
    for flag in ("--api-max-duration", "--api-max-bytes", "--allow-redirect-host", "STATUSD_API_MAX_BYTES"):
        assert flag in out.stdout, flag
    with running(env={"STATUSD_API_MAX_BYTES": "100", "STATUSD_API_MAX_DURATION": "300ms"}) as s:
        r, _ = fetch(s, "GET", "/bytes/101")
        assert r.status == 400 and b"--api-max-bytes (100 bytes)" in r.body
        r, _ = fetch(s, "GET", "/bytes/100")
        assert r.status == 200 and len(r.body) == 100
        r, _ = fetch(s, "GET", "/delay/0.4")
        assert r.status == 400 and b"--api-max-duration (300ms)" in r.body
    out = subprocess.run([BIN, "-t", "--api-max-bytes", "lots"], capture_output=True, text=True, timeout=10)
    assert out.returncode != 0 and "api_max_bytes" in out.stderr


def test_bytes_has_a_length_and_the_seeded_stream(api):
    """/bytes is made as the socket drains yet declares its length; its bytes are those of the
    same seed's /stream-bytes, whatever the chunking."""
    r, _ = fetch(api, "GET", "/bytes/300001?seed=5")
    assert r.status == 200 and r.header("content-length") == "300001" and not r.has("transfer-encoding")
    assert r.body == requests.get(api.url + "/stream-bytes/300001?chunk_size=4096&seed=5").content
    h, _ = fetch(api, "HEAD", "/bytes/300001?seed=5")
    assert h.status == 200 and h.header("content-length") == "300001" and h.body == b""


def test_empty_bytes_and_range(api):
    """Zero-length bodies (found by fuzz_conn: /range/0 did pointer arithmetic on NULL)."""
    for path in ("/range/0", "/range/00", "/bytes/0"):
        r, _ = fetch(api, "GET", path)
        assert r.status == 200 and r.body == b"" and r.header("content-length") == "0", path
    r, _ = fetch(api, "GET", "/range/0", [("Range", "bytes=0-0")])
    assert r.status == 416 and r.header("content-range") == "bytes */0"


def test_range_overlaps_answered_with_the_whole_once(api):
    full = bytes((ord("a") + i % 26) for i in range(1000))
    r, _ = fetch(api, "GET", "/range/1000", [("Range", "bytes=0-, 0-, 0-999, 10-20")])
    assert r.status == 200 and r.body == full and not r.has("content-range")
    r, _ = fetch(api, "GET", "/range/1000", [("Range", "bytes=0-499, 500-999")])  # adjacent: not more than all
    assert r.status == 206 and r.header("content-type").startswith("multipart/byteranges")
    r, _ = fetch(api, "HEAD", "/range/1000", [("Range", "bytes=10-19")])
    assert r.status == 206 and r.header("content-length") == "10" and r.body == b""


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))


@pytest.mark.parametrize("path,headers,status", [
    ("/bytes/10485760", b"", 200),
    # ranges that overlap to more than the whole: the whole, once (RFC 9110 §14.2)
    ("/range/10485760", b"Range: bytes=" + b",".join([b"0-"] * 31) + b"\r\n", 200),
    ("/range/10485760", b"Range: bytes=0-9,20-5242879,6000000-\r\n", 206),
])
def test_slow_readers_do_not_make_the_server_hold_the_body(path, headers, status):
    """16 clients ask for 10 MB each and read nothing: the server keeps what the sockets take
    plus a small high-water mark each, not 16 bodies (nor 31 copies of one)."""
    import socket
    with running("--api-max-bytes", "10m", "--send-timeout", "30s") as s:
        base = vm_rss(s.proc.pid)
        socks = []
        for _ in range(16):
            c = socket.create_connection(("127.0.0.1", s.port))
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n")
            socks.append(c)
        time.sleep(0.5)
        grown = vm_rss(s.proc.pid) - base
        c = socks[0]
        got = b""
        c.settimeout(10)
        while b"\r\n\r\n" not in got:
            got += c.recv(65536)
        for c in socks:
            c.close()
        assert got.startswith(b"HTTP/1.1 %d " % status), got[:100]
        assert grown < 40 * 1024 * 1024, "server RSS grew by %d MB" % (grown >> 20)
