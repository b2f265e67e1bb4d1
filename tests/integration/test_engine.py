"""Engine: the HTTP/1.1 connection over real sockets — one case per status cause (RFC 9112/9110)."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest
import requests

from conftest import BIN, one_response, parse_responses, read_all

H = b"Host: t\r\n"


def get(path=b"/get", extra=b"", method=b"GET", version=b"HTTP/1.1"):
    return method + b" " + path + b" " + version + b"\r\n" + H + extra + b"\r\n"


# ---------------------------------------------------------------- happy paths with real clients
def test_curl_get(server):
    out = subprocess.run(["curl", "-sS", "-i", server.url + "/get"], capture_output=True, timeout=10)
    assert out.returncode == 0, out.stderr
    r = one_response(out.stdout)
    assert r.status == 200
    assert r.has("date") and r.header("server") == "statusd"
    assert int(r.header("content-length")) == len(r.body)
    assert json.loads(r.body)["url"].endswith("/get")


def test_requests_post_json_and_keepalive(server):
    with requests.Session() as s:
        r1 = s.post(server.url + "/post", json={"a": 1})
        r2 = s.get(server.url + "/get", params={"x": "y z"})
    assert r1.status_code == 200 and json.loads(r1.json()["data"]) == {"a": 1}
    assert r2.status_code == 200 and r2.json()["args"] == {"x": "y z"}


def test_http_client_reuses_connection(server):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    for _ in range(3):
        c.request("GET", "/headers")
        r = c.getresponse()
        assert r.status == 200
        r.read()
    assert c.sock is not None  # still open: keep-alive worked
    c.close()


def test_head_has_get_headers_and_no_body(server):
    g = one_response(server.raw(get(b"/ip", b"Connection: close\r\n")))
    data = server.raw(get(b"/ip", b"Connection: close\r\n", method=b"HEAD"))
    h = one_response(data, head=True)
    assert h.status == 200
    assert h.header("content-length") == g.header("content-length")
    assert data.endswith(b"\r\n\r\n")  # nothing after the head


def test_pipelined_requests_answered_in_order(server):
    data = get(b"/status/201") + get(b"/status/202") + get(b"/get", b"Connection: close\r\n")
    rs, rest = parse_responses(server.raw(data))
    assert [r.status for r in rs] == [201, 202, 200]
    assert rest == b""


def uring_rings(pid):
    """The io_uring rings the process holds: {fd: SqHead} (how many reads were submitted)."""
    rings = {}
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if "io_uring" not in os.readlink("/proc/%d/fd/%s" % (pid, fd)):
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                rings[fd] = int(re.search(r"^SqHead:\s*(\d+)", f.read(), re.M).group(1))
        except (FileNotFoundError, AttributeError):
            pass
    return rings


def uring_allowed():
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return f.read().strip() == "0"
    except FileNotFoundError:
        return True  # kernels before 6.6 have no switch


def pipelined_burst(server, conns=30):
    """conns keep-alive connections answer one request each; then, with the server stopped
    (SIGSTOP), each sends three pipelined requests, the last one closing, so that its first
    wake-up after SIGCONT finds all of them readable at once (the reads that are batched): every
    answer in order."""
    socks = [server.connect() for _ in range(conns)]
    for s in socks:
        s.sendall(get(b"/status/204"))
    for s in socks:
        assert s.recv(4096).startswith(b"HTTP/1.1 204 ")
    data = get(b"/status/201") + get(b"/status/202") + get(b"/bytes/3000?seed=1", b"Connection: close\r\n")
    server.proc.send_signal(signal.SIGSTOP)
    try:
        for s in socks:
            s.sendall(data)
    finally:
        server.proc.send_signal(signal.SIGCONT)
    for s in socks:
        rs, rest = parse_responses(read_all(s, 5))
        s.close()
        assert [r.status for r in rs] == [201, 202, 200] and rest == b""
        assert len(rs[2].body) == 3000


@pytest.mark.skipif(not uring_allowed(), reason="io_uring is disabled on this machine (kernel.io_uring_disabled)")
def test_reads_batched_with_io_uring(make_server):
    s = make_server("--workers", "1")
    pipelined_burst(s)
    rings = uring_rings(s.proc.pid)
    assert len(rings) == 1, rings  # one worker, one ring
    assert list(rings.values())[0] > 0  # the loop read and wrote through it
    assert "io_uring: not available" not in s.stderr()


def test_reads_without_io_uring(make_server):
    s = make_server("--workers", "1", "--no-io-uring")
    pipelined_burst(s)
    assert uring_rings(s.proc.pid) == {}


SWITCH = "/proc/sys/kernel/io_uring_disabled"


@pytest.mark.skipif(not (os.geteuid() == 0 and os.access(SWITCH, os.W_OK)),
                    reason="needs root and kernel.io_uring_disabled (Linux 6.6+) to refuse io_uring")
def test_io_uring_refused_by_the_kernel_falls_back(make_server):
    """Where the kernel refuses io_uring (here kernel.io_uring_disabled=2 for the moment the
    server starts), statusd says so once and serves with a plain call each."""
    with open(SWITCH) as f:
        before = f.read().strip()
    try:
        with open(SWITCH, "w") as f:
            f.write("2")
        s = make_server("--workers", "2")
    finally:
        with open(SWITCH, "w") as f:
            f.write(before)
    pipelined_burst(s)
    assert uring_rings(s.proc.pid) == {}
    warnings = [line for line in s.stderr().splitlines() if "io_uring: not available" in line]
    assert len(warnings) == 1, warnings
    assert "every read and write is a system call of its own" in warnings[0]


def test_http10_closes_unless_keepalive(server):
    data = server.raw(b"GET /get HTTP/1.0\r\n\r\n")
    r = one_response(data)
    assert r.status == 200 and r.header("connection") == "close"
    s = server.connect()
    s.sendall(b"GET /get HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    time.sleep(0.2)
    s.sendall(b"GET /ip HTTP/1.0\r\n\r\n")
    rs, _ = parse_responses(read_all(s, 2))
    s.close()
    assert [r.status for r in rs] == [200, 200]
    assert rs[0].header("connection") == "keep-alive"
    assert rs[1].header("connection") == "close"


def test_options_asterisk(server):
    r = one_response(server.raw(b"OPTIONS * HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
    assert r.status == 204 and "GET" in r.header("allow")
    assert not r.has("content-length") and r.body == b""


def test_absolute_form_target(server):
    r = one_response(server.raw(b"GET http://example.test/get HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n"))
    assert r.status == 200
    assert json.loads(r.body)["url"] == "http://example.test/get"


def test_absolute_form_ignores_an_empty_host(server):
    # RFC 9112 §3.2.2: the target's authority is used and Host, here empty, is ignored
    r = one_response(server.raw(b"GET http://example.test/get HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n"))
    assert r.status == 200
    assert json.loads(r.body)["url"] == "http://example.test/get"


def test_leading_empty_line_ignored(server):
    r = one_response(server.raw(b"\r\n" + get(b"/get", b"Connection: close\r\n")))
    assert r.status == 200


def test_request_body_content_length_and_chunked(server):
    body = b"x" * 100000
    r = one_response(server.raw(b"POST /post HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body))
    assert r.status == 200 and json.loads(r.body)["data"] == body.decode()
    chunked = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-A: 1\r\n\r\n"
    r = one_response(server.raw(b"POST /post HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked))
    assert r.status == 200 and json.loads(r.body)["data"] == "hello world"


def test_unread_body_is_skipped_for_keepalive(server):
    # /get does not read bodies; a small Content-Length body already received is skipped
    data = b"GET /get HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" + get(b"/ip", b"Connection: close\r\n")
    rs, rest = parse_responses(server.raw(data))
    assert [r.status for r in rs] == [200, 200] and rest == b""


# ---------------------------------------------------------------- 400: every syntax rule
BAD_400 = {
    "bare-cr-request-line": b"GET /get HTTP/1.1\rHost: t\r\n\r\n",
    "bare-lf-request-line": b"GET /get HTTP/1.1\nHost: t\r\n\r\n",
    "bare-lf-header": b"GET /get HTTP/1.1\r\nHost: t\n\r\n",
    "bare-cr-in-value": b"GET /get HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n",
    "double-space-request-line": b"GET  /get HTTP/1.1\r\nHost: t\r\n\r\n",
    "tab-in-request-line": b"GET\t/get HTTP/1.1\r\nHost: t\r\n\r\n",
    "lowercase-version": b"GET /get http/1.1\r\nHost: t\r\n\r\n",
    "version-garbage": b"GET /get HTTP/1.1x\r\nHost: t\r\n\r\n",
    "missing-version": b"GET /get\r\nHost: t\r\n\r\n",
    "target-not-slash": b"GET get HTTP/1.1\r\nHost: t\r\n\r\n",
    "non-ascii-target": b"GET /g\xc3\xa9t HTTP/1.1\r\nHost: t\r\n\r\n",
    "fragment": b"GET /get#x HTTP/1.1\r\nHost: t\r\n\r\n",
    "missing-host-11": b"GET /get HTTP/1.1\r\n\r\n",
    "duplicate-host": b"GET /get HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    # RFC 9112 §3.2/§3.3, RFC 9110 §4.2.1: origin-form takes its host from Host, never empty
    "empty-host": b"GET /get HTTP/1.1\r\nHost:\r\n\r\n",
    "empty-host-ows": b"GET /get HTTP/1.1\r\nHost: \r\n\r\n",
    "empty-host-http10": b"GET /get HTTP/1.0\r\nHost: \r\n\r\n",
    "host-port-without-host": b"GET /get HTTP/1.1\r\nHost: :80\r\n\r\n",
    "absolute-form-empty-host": b"GET http://:80/get HTTP/1.1\r\nHost: t\r\n\r\n",
    "bad-host": b"GET /get HTTP/1.1\r\nHost: a b/c\r\n\r\n",
    "space-before-colon": b"GET /get HTTP/1.1\r\nHost : t\r\n\r\n",
    "tab-before-colon": b"GET /get HTTP/1.1\r\nHost\t: t\r\n\r\n",
    "obs-fold": b"GET /get HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n 2\r\n\r\n",
    "space-before-first-header": b"GET /get HTTP/1.1\r\n Host: t\r\n\r\n",
    "nul-in-value": b"GET /get HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
    "ctl-in-value": b"GET /get HTTP/1.1\r\nHost: t\r\nX: a\x0bb\r\n\r\n",
    "del-in-value": b"GET /get HTTP/1.1\r\nHost: t\r\nX: a\x7fb\r\n\r\n",
    "bad-name-char": b"GET /get HTTP/1.1\r\nHost: t\r\nX(y): 1\r\n\r\n",
    "empty-name": b"GET /get HTTP/1.1\r\nHost: t\r\n: 1\r\n\r\n",
    "cl-and-te": b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "cl-plus": b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
    "cl-hex": b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 0x5\r\n\r\nhello",
    "cl-two-numbers": b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 5 5\r\n\r\nhello",
    "cl-list": b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello",
    "cl-empty": b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length:\r\n\r\n",
    "cl-differing": b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "cl-duplicate": b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "cl-negative": b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    "cl-overflow": b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    "te-not-final": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "te-xchunked": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n",
    "te-twice": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-chunked-chunked": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    "te-in-http10": b"POST /post HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "chunk-size-hex-prefix": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    "chunk-size-negative": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    "chunk-size-leading-space": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
    "chunk-size-overflow": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "chunk-data-too-long": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
    "chunk-bare-lf": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
    # RFC 9112 §7.1.1: chunk-ext-name is a token (never empty); BWS only around ';' and '='
    "chunk-ext-no-name": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n",
    "chunk-ext-bws-no-name": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5; \r\nhello\r\n0\r\n\r\n",
    "chunk-ext-value-no-name": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n",
    "chunk-ext-last-no-name": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0;\r\n\r\n",
    "chunk-ext-no-value": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\nhello\r\n0\r\n\r\n",
    "chunk-ext-unclosed-quote": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\r\nhello\r\n0\r\n\r\n",
    "chunk-ext-bws-before-crlf": b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b \r\nhello\r\n0\r\n\r\n",
    "asterisk-with-get": b"GET * HTTP/1.1\r\nHost: t\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(BAD_400))
def test_400_syntax_closes_and_ignores_pipelined(server, name):
    # a valid request pipelined after the bad one must never be answered
    data = server.raw(BAD_400[name] + get(b"/status/299x"), timeout=3)
    rs, rest = parse_responses(data)
    assert len(rs) == 1, (name, data)
    r = rs[0]
    assert r.status == 400, (name, r, r.body)
    assert r.header("connection") == "close"
    assert r.body.startswith(b"400 Bad Request")


def test_400_body_explains_in_json_when_asked(server):
    r = one_response(server.raw(b"GET /get HTTP/1.1\r\nHost: a\r\nHost: b\r\nAccept: application/json\r\n\r\n"))
    assert r.status == 400 and r.header("content-type") == "application/json"
    doc = json.loads(r.body)
    assert doc["status"] == 400 and doc["reason"] == "Bad Request" and "Host" in doc["detail"]


# ---------------------------------------------------------------- other 4xx/5xx causes
def test_414_uri_too_long(make_server):
    s = make_server("--max-uri", "1k")
    r = one_response(s.raw(b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"))
    assert r.status == 414 and r.header("connection") == "close"
    # detected before the request line is complete: no CRLF ever sent
    r = one_response(s.raw(b"GET /" + b"a" * 2000, timeout=3))
    assert r.status == 414


def test_431_single_field_and_whole_head(make_server):
    s = make_server("--max-field", "1k", "--max-head", "4k", "--max-headers", "20")
    r = one_response(s.raw(b"GET /get HTTP/1.1\r\nHost: t\r\nX-Big: " + b"v" * 2000 + b"\r\n\r\n"))
    assert r.status == 431 and b"header field" in r.body
    many = b"".join(b"X-%d: %s\r\n" % (i, b"v" * 500) for i in range(9))
    r = one_response(s.raw(b"GET /get HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n"))
    assert r.status == 431 and b"head" in r.body
    count = b"".join(b"X-%d: 1\r\n" % i for i in range(30))
    r = one_response(s.raw(b"GET /get HTTP/1.1\r\nHost: t\r\n" + count + b"\r\n"))
    assert r.status == 431 and b"more header fields" in r.body


def test_505_version(server):
    for v in (b"HTTP/2.0", b"HTTP/0.9", b"HTTP/3.1"):
        r = one_response(server.raw(b"GET /get " + v + b"\r\nHost: t\r\n\r\n"))
        assert r.status == 505, v
        assert b"HTTP/1.1" in r.body


def test_501_unknown_method_and_coding(server):
    r = one_response(server.raw(get(b"/get", method=b"FROBNICATE")))
    assert r.status == 501
    r = one_response(server.raw(b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"))
    assert r.status == 501 and r.header("connection") == "close"


def test_405_with_allow_and_trace_refused(server):
    r = one_response(server.raw(get(b"/get", b"Connection: close\r\n", method=b"DELETE")))
    assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS"
    r = one_response(server.raw(get(b"/anything", b"Connection: close\r\n", method=b"TRACE")))
    assert r.status == 405 and "TRACE" not in r.header("allow")
    r = one_response(server.raw(b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\nConnection: close\r\n\r\n"))
    assert r.status == 405 and r.has("allow")


def test_405_keeps_connection(server):
    rs, _ = parse_responses(server.raw(get(b"/get", method=b"DELETE") + get(b"/get", b"Connection: close\r\n")))
    assert [r.status for r in rs] == [405, 200]


def test_411_length_required(server):
    r = one_response(server.raw(b"PUT /put HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"))
    assert r.status == 411
    r = one_response(server.raw(b"PUT /put HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"))
    assert r.status == 200


def test_413_from_content_length_before_reading(make_server):
    s = make_server("--max-body", "1k")
    c = s.connect()
    c.sendall(b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")  # no body sent at all
    r = one_response(read_all(c, 3))
    c.close()
    assert r.status == 413 and r.header("connection") == "close"


def test_413_while_reading_chunked(make_server):
    s = make_server("--max-body", "1k")
    body = b"".join(b"100\r\n" + b"x" * 256 + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
    r = one_response(s.raw(b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body))
    assert r.status == 413 and r.header("connection") == "close"


def test_417_unknown_expectation(server):
    r = one_response(server.raw(get(b"/get", b"Expect: teapot\r\n")))
    assert r.status == 417


def test_100_continue_only_when_body_is_read(server):
    c = server.connect()
    c.sendall(b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    c.settimeout(3)
    interim = c.recv(4096)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    c.sendall(b"hello")
    data = b""
    while b"\r\n\r\n" not in data or len(data) < 50:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
        rs, _ = parse_responses(data)
        if rs:
            break
    c.close()
    r = one_response(data)
    assert r.status == 200 and json.loads(r.body)["data"] == "hello"


def test_no_100_continue_when_final_status_known(server):
    # 404: the handler never reads the body, so no 100 Continue; the final status comes directly
    data = server.raw(b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    assert not data.startswith(b"HTTP/1.1 100")
    r = one_response(data)
    assert r.status == 404 and r.header("connection") == "close"  # unread body: cannot continue


def test_no_100_continue_to_http10(server):
    c = server.connect()
    c.sendall(b"POST /post HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    c.settimeout(0.5)
    try:
        early = c.recv(4096)
    except socket.timeout:
        early = b""
    assert early == b""
    c.sendall(b"hello")
    r = one_response(read_all(c, 3))
    c.close()
    assert r.status == 200


def test_510_mandatory_extension(server):
    r = one_response(server.raw(get(b"/post", method=b"M-POST")))
    assert r.status == 510


def test_425_early_data(server):
    r = one_response(server.raw(b"POST /post HTTP/1.1\r\nHost: t\r\nEarly-Data: 1\r\nContent-Length: 0\r\n\r\n"))
    assert r.status == 425
    r = one_response(server.raw(get(b"/get", b"Early-Data: 1\r\nConnection: close\r\n")))
    assert r.status == 200  # safe methods are fine


def test_404_not_found(server):
    r = one_response(server.raw(get(b"/no/such/thing", b"Connection: close\r\n")))
    assert r.status == 404 and b"404 Not Found" in r.body


# ---------------------------------------------------------------- timeouts
def test_408_header_timeout(make_server):
    s = make_server("--header-timeout", "300ms")
    c = s.connect()
    c.sendall(b"GET /get HTTP/1.1\r\nHost: t\r\n")  # never finished
    t0 = time.time()
    data = read_all(c, 5)
    c.close()
    r = one_response(data)
    assert r.status == 408 and r.header("connection") == "close"
    assert 0.2 < time.time() - t0 < 3
    assert any('" 408 ' in l for l in s.access_log(wait_for='" 408 '))


def test_408_body_timeout(make_server):
    s = make_server("--body-timeout", "300ms")
    c = s.connect()
    c.sendall(b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
    r = one_response(read_all(c, 5))
    c.close()
    assert r.status == 408 and r.header("connection") == "close"


def test_idle_keepalive_closes_silently(make_server):
    s = make_server("--keepalive-timeout", "300ms")
    c = s.connect()
    c.sendall(get(b"/get"))
    data = read_all(c, 3)
    c.close()
    rs, rest = parse_responses(data)
    assert [r.status for r in rs] == [200] and rest == b""  # nothing after the 200: no 408


def test_fresh_connection_without_bytes_closes_silently(make_server):
    s = make_server("--header-timeout", "300ms")
    c = s.connect()
    assert read_all(c, 3) == b""
    c.close()


# ---------------------------------------------------------------- limits, logging, lifecycle
def test_503_over_connection_limit(make_server):
    s = make_server("--max-connections", "1")
    hold = s.connect()
    hold.sendall(get(b"/get"))
    one_response(hold.recv(65536))
    r = one_response(s.raw(get(b"/get")))
    assert r.status == 503 and r.header("retry-after") == "5" and r.header("connection") == "close"
    hold.close()
    time.sleep(0.2)
    assert one_response(s.raw(get(b"/get", b"Connection: close\r\n"))).status == 200


def test_499_logged_when_client_leaves_mid_body(server):
    c = server.connect()
    c.sendall(b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
    time.sleep(0.2)
    c.close()
    lines = server.access_log(wait_for='" 499 ')
    assert any('"POST /post HTTP/1.1" 499 ' in l for l in lines), lines


def test_access_log_combined_format(server):
    requests.get(server.url + "/get?a=1", headers={"User-Agent": 'ua "quoted"', "Referer": "http://r/"})
    lines = server.access_log(wait_for="/get?a=1")
    line = [l for l in lines if "/get?a=1" in l][-1]
    import re
    assert re.match(r'^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET /get\?a=1 HTTP/1\.1" 200 \d+ "http://r/" "ua \\x22quoted\\x22" \d+\.\d{3}$', line.strip()), line


def test_sigterm_exits_cleanly(server):
    assert server.stop() == 0


def test_multiple_workers_and_listeners(make_server):
    s = make_server("--listen", "127.0.0.1:0", workers=2)
    assert len(s.ports) == 2
    for p in s.ports:
        r = requests.get("http://127.0.0.1:%d/get" % p)
        assert r.status_code == 200


# ---------------------------------------------------------------- configuration and CLI
def test_help_lists_directives():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for flag in ("--listen", "--workers", "--max-connections", "--header-timeout", "--max-body", "--access-log"):
        assert flag in out.stdout
    assert "STATUSD_MAX_BODY" in out.stdout


def test_config_check_reports_line(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("listen:\n  - 127.0.0.1:0\nmax_body: 1m\nheader_timeout: 5s\n")
    out = subprocess.run([BIN, "-t", "--config", str(good)], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("workers: 2\nmax_body: lots\n")
    out = subprocess.run([BIN, "-t", "--config", str(bad)], capture_output=True, text=True, timeout=10)
    assert out.returncode != 0
    assert "bad.yaml:2:" in out.stderr and "max_body" in out.stderr
    bad.write_text("workers: 2\n\nno_such_thing: 1\n")
    out = subprocess.run([BIN, "-t", "--config", str(bad)], capture_output=True, text=True, timeout=10)
    assert out.returncode != 0 and "bad.yaml:3:" in out.stderr and "no_such_thing" in out.stderr
    bad.write_text("workers: [1\n")
    out = subprocess.run([BIN, "-t", "--config", str(bad)], capture_output=True, text=True, timeout=10)
    assert out.returncode != 0 and "bad.yaml:" in out.stderr


def test_unknown_flag_fails():
    out = subprocess.run([BIN, "--no-such-flag"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "unknown option" in out.stderr


def test_env_and_file_configure_the_server(make_server, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("max_uri: 100\n")
    s = make_server("--config", str(cfg), env={"STATUSD_MAX_HEADERS": "5"})
    assert one_response(s.raw(get(b"/" + b"a" * 200))).status == 414
    many = b"".join(b"X-%d: 1\r\n" % i for i in range(6))
    assert one_response(s.raw(get(b"/get", many))).status == 431
