"""The gateway beyond the cause table: header hygiene both ways, interim responses and
Expect: 100-continue end to end, the keep-alive race, a WebSocket through the proxy, streaming
with back-pressure, retries under RFC 9110 §9.2.2, load balancing, active health checks, names
looked up again, the flag form and its neighbours, and `statusd -t`.

Upstreams: fixtures/upstream.py (one behaviour per path), statusd itself (the API's
/websocket/echo, /anything), and the fake DNS server of proxy_helpers."""
import asyncio
import json
import os
import socket
import subprocess
import threading
import time

import pytest
import websockets

from conftest import BIN, Server, parse_responses, read_all
from proxy_helpers import FakeDNS, dead_port, exchange, get, log_fields, log_line, start_upstream, write_yaml


@pytest.fixture(scope="module")
def up():
    p, port = start_upstream()
    yield port
    p.stop()


@pytest.fixture(scope="module")
def up2():
    p, port = start_upstream()
    yield port
    p.stop()


def head_fields(raw_head):
    """The request head an echoing upstream received: (request line, [(name, value)])."""
    lines = raw_head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    return lines[0], [(l.split(":", 1)[0], l.split(":", 1)[1].strip()) for l in lines[1:] if l]


def names(fields):
    return [k.lower() for k, _ in fields]


def value(fields, name):
    vals = [v for k, v in fields if k.lower() == name]
    assert len(vals) <= 1, (name, vals)
    return vals[0] if vals else None


# ---------------------------------------------------------------- header hygiene
def test_request_fields(make_server, up):
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up, "--proxy-via", "gw1")
    r, _, raw = get(srv.port, "/echo?a=1", headers=(
        b"Connection: keep-alive, X-Hop\r\nX-Hop: drop me\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
        b"Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nUpgrade: h2c\r\n"
        b"Via: 1.0 earlier\r\nX-Forwarded-For: 10.9.9.9\r\nForwarded: for=10.9.9.9\r\nX-Keep: 1\r\n"
        b"Max-Forwards: 5\r\n"))
    assert r.status == 200, raw[:300]
    line, f = head_fields(r.body)
    assert line == "GET /echo?a=1 HTTP/1.1", line
    n = names(f)
    for gone in ("x-hop", "keep-alive", "te", "proxy-connection", "proxy-authorization", "upgrade", "connection",
                 "transfer-encoding", "content-length"):
        assert gone not in n, (gone, f)
    assert value(f, "x-keep") == "1"
    assert value(f, "host") == "proxy.test"
    assert value(f, "via") == "1.0 earlier, 1.1 gw1"
    # not a trusted proxy: what the client claims is replaced, not extended
    assert value(f, "x-forwarded-for") == "127.0.0.1"
    assert value(f, "forwarded") == "for=127.0.0.1;host=proxy.test;proto=http"
    assert value(f, "x-forwarded-proto") == "http" and value(f, "x-forwarded-host") == "proxy.test"
    assert value(f, "max-forwards") == "4"


def test_trusted_proxies_and_host_modes(make_server, up):
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up, "--proxy-trusted-proxies", "10.0.0.0/8, 127.0.0.0/8",
                      "--proxy-host", "upstream", "--proxy-via", "off", "--proxy-forwarded")
    r, _, _ = get(srv.port, "/echo", headers=b"X-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: https\r\n"
                                           b"Forwarded: for=10.9.9.9;proto=https\r\nVia: 1.1 lb\r\n")
    _, f = head_fields(r.body)
    assert value(f, "x-forwarded-for") == "10.9.9.9, 127.0.0.1"
    assert value(f, "x-forwarded-proto") == "https"
    assert value(f, "forwarded") == "for=10.9.9.9;proto=https, for=127.0.0.1;host=proxy.test;proto=http"
    assert value(f, "host") == "127.0.0.1:%d" % up
    assert value(f, "via") == "1.1 lb"  # proxy.via off: passed on, nothing added


def test_forwarded_host_with_port_is_quoted(make_server, up):
    """RFC 7239 §4: a Host with a port is not a token, so Forwarded's host= is a quoted-string;
    X-Forwarded-Host carries it as it came."""
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up, "--proxy-forwarded")
    req = (b"GET /echo HTTP/1.1\r\nHost: proxy.test:8080\r\nConnection: close\r\n\r\n")
    rs, _ = parse_responses(exchange(srv.port, req, 5.0))
    assert rs and rs[-1].status == 200, rs
    _, f = head_fields(rs[-1].body)
    assert value(f, "forwarded") == 'for=127.0.0.1;host="proxy.test:8080";proto=http', f
    assert value(f, "x-forwarded-host") == "proxy.test:8080", f


def test_http10_client_gets_host_and_via_10(make_server, up):
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up, "--proxy-via", "gw1")
    raw = exchange(srv.port, b"GET /echo HTTP/1.0\r\n\r\n")
    r = parse_responses(raw)[0][0]
    _, f = head_fields(r.body)
    assert value(f, "host") == "127.0.0.1:%d" % up and value(f, "via") == "1.0 gw1", f


def test_path_prefix_replaced(tmp_path, make_server, up):
    conf = write_yaml("""
hosts:
  "*":
    paths:
      /app: {proxy: {upstreams: ["http://127.0.0.1:%d/"]}}
      /keep: {proxy: {upstreams: ["http://127.0.0.1:%d"]}}
      /files: {root: %s}
""" % (up, up, tmp_path))
    srv = make_server("--config", conf)
    r, _, _ = get(srv.port, "/app/echo?x=%2F")
    assert head_fields(r.body)[0] == "GET /echo?x=%2F HTTP/1.1"
    r, _, _ = get(srv.port, "/keep/../keep/echo")  # without a path in the URL: sent as received
    assert r.status == 404 and r.header("proxy-status") == "statusd; received-status=404"
    os.unlink(conf)


def test_response_fields(make_server, up):
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up)
    r, _, raw = get(srv.port, "/hop")
    assert r.status == 200 and r.body == b"ok", raw
    n = [k.lower() for k, _ in r.headers]
    for gone in ("x-private", "keep-alive", "proxy-connection"):
        assert gone not in n, raw
    assert r.header("x-kept") == "yes"
    assert r.header_all("server") == ["statusd"] and len(r.header_all("date")) == 1
    assert "1970" not in r.header("date")
    assert r.header("connection") == "close"  # the client asked for it; the upstream's options stay there


def test_head_keeps_length_and_options_trace(make_server, up):
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up)
    r, _, raw = get(srv.port, "/head-len", method=b"HEAD")
    assert r.status == 200 and r.header("content-length") == "1000" and r.body == b"", raw
    r, _, raw = get(srv.port, "/x", method=b"OPTIONS", headers=b"Max-Forwards: 0\r\n")
    assert r.status == 204 and r.header("allow") and r.header("proxy-status") is None, raw
    r, _, raw = get(srv.port, "/x", method=b"TRACE")
    assert r.status == 405 and r.header("allow"), raw


def test_compress_and_203(make_server, up):
    """proxy.compress gzips a text 200 for a client that accepts it; with mark_transformed the
    answer is 203 (RFC 9110 §15.3.4). The upstream's no-transform, or a client without gzip, gets
    the bytes untouched, as a 200."""
    import gzip
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up, "--proxy-compress", "--proxy-mark-transformed")
    plain, _, _ = get(srv.port, "/text")
    assert plain.status == 200 and len(plain.body) == 5988 and plain.header("content-encoding") is None
    r, _, raw = get(srv.port, "/text", headers=b"Accept-Encoding: br;q=1, gzip;q=0.5\r\n")
    assert r.status == 203, raw[:400]
    assert r.header("content-encoding") == "gzip" and r.header("transfer-encoding") == "chunked"
    assert gzip.decompress(r.body) == plain.body and len(r.body) < 600
    assert r.header("etag") == 'W/"t1"' and r.header("vary") == "Origin, Accept-Encoding"
    assert r.header("proxy-status") == "statusd; received-status=200"
    f = log_fields(log_line(srv, '"GET /text HTTP/1.1" 203 '))
    assert f["upstream_status"] == "200" and f["body_sent"] == "5988", f
    r, _, _ = get(srv.port, "/text-no-transform", headers=b"Accept-Encoding: gzip\r\n")
    assert r.status == 200 and r.header("content-encoding") is None and len(r.body) == 5988
    r, _, _ = get(srv.port, "/text", headers=b"Accept-Encoding: gzip;q=0, identity\r\n")
    assert r.status == 200 and r.header("content-encoding") is None
    r, _, _ = get(srv.port, "/text", method=b"HEAD", headers=b"Accept-Encoding: gzip\r\n")
    assert r.status == 200 and r.header("content-length") == "5988"
    srv2 = make_server("--proxy", "http://127.0.0.1:%d" % up, "--proxy-compress")
    r, _, _ = get(srv2.port, "/text", headers=b"Accept-Encoding: gzip\r\n")
    assert r.status == 200 and gzip.decompress(r.body) == plain.body


# ---------------------------------------------------------------- 1xx, Expect, upgrade
def test_interim_forwarded_to_http11_only(make_server, up):
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up)
    _, rs, raw = get(srv.port, "/interim")
    assert [r.status for r in rs] == [100, 103, 200], raw
    assert rs[1].header("link") == "</style.css>; rel=preload"
    assert rs[2].body == b"done"
    _, rs, raw = get(srv.port, "/interim", version=b"HTTP/1.0")
    assert [r.status for r in rs] == [200], raw  # RFC 9110 §15.2: never to HTTP/1.0


def test_expect_100_continue_end_to_end(make_server, up):
    """The client's 100 is the upstream's: the body is not read before the upstream asked for it,
    and an upstream that refuses (417 here) gets no body at all."""
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"POST /continue HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
              b"Connection: close\r\n\r\n")
    s.settimeout(5)
    first = s.recv(100)
    assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), first
    s.sendall(b"hello")
    raw = first + read_all(s, 5)
    s.close()
    rs, _ = parse_responses(raw)
    assert [r.status for r in rs] == [100, 200] and rs[1].body == b"5", raw
    # the fixture answers 417 when the request did not carry the expectation: a plain POST
    r, _, raw = get(srv.port, "/continue", method=b"POST", body=b"hello")
    assert r.status == 417 and r.header("proxy-status") == "statusd; received-status=417", raw


def test_websocket_through_the_proxy(make_server):
    origin = make_server()  # statusd's API: /websocket/echo
    gw = make_server("--proxy", "http://127.0.0.1:%d" % origin.port, "--no-api")

    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/websocket/echo" % gw.port) as ws:
            await ws.send("héllo ✓")
            assert await ws.recv() == "héllo ✓"
            big = os.urandom(300000)
            await ws.send(big)
            assert await ws.recv() == big
            await ws.ping(b"x")
            for i in range(20):
                await ws.send("m%d" % i)
            for i in range(20):
                assert await ws.recv() == "m%d" % i

    asyncio.run(asyncio.wait_for(go(), 20))
    f = log_fields(log_line(gw, '"GET /websocket/echo HTTP/1.1" 101 '))
    assert f["upstream_status"] == "101", f


def test_upgrade_tunnel_bytes_both_ways(make_server, up):
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
    s.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    h, _, rest = head.partition(b"\r\n\r\n")
    assert h.startswith(b"HTTP/1.1 101 ") and b"\r\nUpgrade: echo" in h and b"Connection: upgrade" in h, h
    payload = os.urandom(200000)
    got = bytearray(rest)

    def reader():
        while len(got) < len(payload):
            b = s.recv(65536)
            if not b:
                break
            got.extend(b)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(payload)
    t.join(10)
    assert bytes(got) == payload
    s.shutdown(socket.SHUT_WR)
    s.close()


# ---------------------------------------------------------------- the keep-alive race
def test_keepalive_race(make_server, up):
    """The upstream closes an idle connection after 1 s without announcing it. Requests sent
    around that moment, GET and POST, never see a 502 and never a silent close: a GET that meets
    the closing connection is sent again on a fresh one; a POST is never sent on a connection idle
    longer than reuse_idle_max."""
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up, "--proxy-reuse-idle-max", "500ms")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.settimeout(5)
    buf = b""

    def ask(req):
        nonlocal buf
        s.sendall(req)
        while True:
            rs, rest = parse_responses(buf)
            if rs:
                buf = rest
                return rs[0]
            b = s.recv(65536)
            assert b, "the connection closed without an answer"
            buf += b

    get_req = b"GET /keepalive-quiet HTTP/1.1\r\nHost: t\r\n\r\n"
    post_req = b"POST /keepalive-quiet HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
    statuses = []
    for delay in (0.95, 0.99, 1.0, 1.01, 1.03, 1.1, 0.98, 1.0, 1.02):
        statuses.append(ask(get_req).status)
        time.sleep(delay)
        statuses.append(ask(get_req).status)
        time.sleep(delay)
        statuses.append(ask(post_req).status)
    s.close()
    assert statuses == [200] * len(statuses), statuses
    assert not any("upstream_cause=closed" in l for l in srv.access_log()), srv.access_log()


# ---------------------------------------------------------------- streaming, back-pressure
def test_streaming_large_bodies_with_a_slow_client(make_server, up):
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up)
    for path, n in (("/big", 4 << 20), ("/chunked-big", 4 << 20)):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
        time.sleep(0.3)  # not reading: the socket buffers fill and the proxy must hold the upstream back
        data = bytearray()
        s.settimeout(10)
        reads = 0
        while True:
            b = s.recv(65536)
            if not b:
                break
            data.extend(b)
            reads += 1
            if reads < 20:
                time.sleep(0.005)
        s.close()
        r = parse_responses(bytes(data))[0][0]
        assert len(r.body) == n and set(r.body) <= {ord("x"), ord("y")}, (path, len(r.body))
        f = log_fields(log_line(srv, '"GET %s HTTP/1.1" 200 ' % path))
        assert f["body_sent"] == str(n), f


def test_request_body_streams_up(make_server, up):
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up)
    body = os.urandom(1 << 20)
    r, _, raw = get(srv.port, "/echo", method=b"POST", body=body, timeout=10)
    assert r.status == 200 and r.body.endswith(body), raw[:300]
    assert b"Content-Length: %d\r\n" % len(body) in r.body
    # chunked in, chunked out
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 70000]), body[i:i + 70000]) for i in range(0, len(body), 70000))
    raw = exchange(srv.port, b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                   + chunks + b"0\r\n\r\n", timeout=10)
    r = parse_responses(raw)[0][0]
    assert r.status == 200 and b"Transfer-Encoding: chunked\r\n" in r.body and b"Content-Length" not in r.body


# ---------------------------------------------------------------- retries (RFC 9110 §9.2.2)
def test_retries(tmp_path, make_server, up, up2):
    dead = dead_port()
    conf = write_yaml("""
hosts:
  "*":
    proxy: {fail_max: 0}
    paths:
      /a: {proxy: {upstreams: ["http://127.0.0.1:%(dead)d/", "http://127.0.0.1:%(up)d/"]}}
      /b: {proxy: {upstreams: ["http://127.0.0.1:%(up)d/", "http://127.0.0.1:%(up2)d/"]}}
      /c: {proxy: {upstreams: ["http://127.0.0.1:%(up)d/", "http://127.0.0.1:%(up2)d/"], retries: 0}}
      /d: {proxy: {upstreams: ["http://127.0.0.1:%(up)d/", "http://127.0.0.1:%(up2)d/"], retry_idempotency_key: true}}
""" % {"dead": dead, "up": up, "up2": up2})
    srv = make_server("--config", conf)
    # not sent (refused): any method goes to the next upstream, body and all
    r, _, raw = get(srv.port, "/a/echo", method=b"POST", body=b"payload")
    assert r.status == 200 and r.body.endswith(b"payload"), raw[:300]
    f = log_fields(log_line(srv, '"POST /a/echo HTTP/1.1" 200 '))
    assert f["upstream_status"] == "502,200" and f["upstream_cause"] == "connect_refused,-", f
    # sent, then closed: an idempotent GET is tried on the other upstream, a POST is not
    r, _, _ = get(srv.port, "/b/close-before-head")
    f = log_fields(log_line(srv, '"GET /b/close-before-head HTTP/1.1" 502 '))
    assert f["upstream_cause"] == "closed_before_head,closed_before_head", f
    r, _, _ = get(srv.port, "/b/close-before-head", method=b"POST", body=b"x")
    f = log_fields(log_line(srv, '"POST /b/close-before-head HTTP/1.1" 502 '))
    assert f["upstream_cause"] == "closed_before_head", f
    r, _, _ = get(srv.port, "/c/close-before-head")
    f = log_fields(log_line(srv, '"GET /c/close-before-head HTTP/1.1" 502 '))
    assert f["upstream_cause"] == "closed_before_head", f
    # Idempotency-Key makes a POST retryable when enabled
    r, _, _ = get(srv.port, "/d/close-before-head", method=b"POST", body=b"x", headers=b"Idempotency-Key: k1\r\n")
    f = log_fields(log_line(srv, '"POST /d/close-before-head HTTP/1.1" 502 '))
    assert f["upstream_cause"] == "closed_before_head,closed_before_head", f
    os.unlink(conf)


# ---------------------------------------------------------------- balancing and health
def whoami(port, path, headers=b""):
    r, _, raw = get(port, path, headers=headers)
    assert r.status == 200, raw[:300]
    return int(r.body)


def test_balancing(make_server, up, up2):
    conf = write_yaml("""
hosts:
  "*":
    paths:
      /rr: {proxy: {upstreams: ["http://127.0.0.1:%(a)d/", "http://127.0.0.1:%(b)d/"]}}
      /lc: {proxy: {upstreams: ["http://127.0.0.1:%(a)d/", "http://127.0.0.1:%(b)d/"], balance: least_conn}}
      /h: {proxy: {upstreams: ["http://127.0.0.1:%(a)d/", "http://127.0.0.1:%(b)d/"], balance: hash, hash_key: "header:X-User"}}
""" % {"a": up, "b": up2})
    srv = make_server("--config", conf)
    seq = [whoami(srv.port, "/rr/whoami") for _ in range(6)]
    assert sorted(set(seq)) == sorted({up, up2}) and all(seq[i] != seq[i + 1] for i in range(5)), seq
    # least connections: while one upstream holds a request, the other takes the next ones
    hold = threading.Thread(target=get, args=(srv.port, "/lc/slow-body"), daemon=True)
    hold.start()
    time.sleep(0.3)
    busy = {up, up2} - {whoami(srv.port, "/lc/whoami")}
    assert all(whoami(srv.port, "/lc/whoami") not in busy for _ in range(3))
    hold.join(10)
    # consistent hash: one key, one upstream; different keys spread
    for user in (b"alice", b"bob", b"carol"):
        got = {whoami(srv.port, "/h/whoami", b"X-User: " + user + b"\r\n") for _ in range(4)}
        assert len(got) == 1, (user, got)
    spread = {whoami(srv.port, "/h/whoami", b"X-User: u%d\r\n" % i) for i in range(40)}
    assert spread == {up, up2}
    os.unlink(conf)


def test_active_health_check(make_server):
    """A single upstream that fails its health check is out (503 no_healthy_upstream with
    Retry-After); once it answers its check it is back."""
    port = dead_port()
    srv = make_server("--proxy", "http://127.0.0.1:%d" % port, "--proxy-health-check", "/ok",
                      "--proxy-health-interval", "200ms")
    time.sleep(0.5)
    r, _, raw = get(srv.port, "/ok")
    assert r.status == 503 and "no_healthy_upstream" in r.header("proxy-status") and r.header("retry-after"), raw
    p = subprocess.Popen(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "fixtures", "upstream.py"),
                          "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert p.stdout.readline().startswith(b"port ")
        deadline = time.time() + 10
        while time.time() < deadline:
            r, _, raw = get(srv.port, "/ok")
            if r.status == 200:
                break
            time.sleep(0.1)
        assert r.status == 200 and r.body == b"hello", raw
    finally:
        p.terminate()
        p.wait(5)


# ---------------------------------------------------------------- names
def test_names_resolved_at_start_and_again(make_server, up):
    dns = FakeDNS.make()
    if not dns:
        pytest.skip("fake DNS: %s" % FakeDNS.why)
    try:
        srv = make_server("--proxy", "http://up.statusd.test:%d" % up, "--proxy-dns-refresh", "1s", wrap=dns.wrap)
        at_start = dns.queries("up.statusd.test")
        assert at_start >= 1  # looked up before serving
        assert whoami(srv.port, "/whoami") == up
        time.sleep(1.2)
        assert whoami(srv.port, "/whoami") == up  # served with what is known while it is looked up again
        deadline = time.time() + 5
        while dns.queries("up.statusd.test") <= at_start and time.time() < deadline:
            time.sleep(0.05)
        assert dns.queries("up.statusd.test") > at_start
        assert whoami(srv.port, "/whoami") == up
    finally:
        dns.close()


# ---------------------------------------------------------------- configuration
def test_flat_proxy_moves_the_api(make_server, up):
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up)
    r, _, _ = get(srv.port, "/_api/get")
    assert r.status == 200 and json.loads(r.body)["url"].endswith("/_api/get")
    r, _, _ = get(srv.port, "/codes/502")
    assert r.status == 200 and r.header("proxy-status") is None
    r, _, _ = get(srv.port, "/ok")
    assert r.status == 200 and r.body == b"hello"


def check_t(*args, env=None):
    return subprocess.run([BIN, "-t", *args], capture_output=True, text=True, timeout=20, env=env)


def test_config_check(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  a.test:\n    paths:\n      /: {root: /tmp}\n      /app:\n        proxy:\n"
                   "          upstreams: [\"http://ok.test\", \"ftp://nope\"]\n")
    r = check_t("--config", str(bad))
    assert r.returncode != 0 and "bad.yaml:7:" in r.stderr and "not an upstream URL" in r.stderr, r.stderr
    bad.write_text("hosts:\n  a.test:\n    paths:\n      /app:\n        proxy:\n          upstreams: [\"http://127.0.0.1:1\"]\n"
                   "          errors: loud\n")
    r = check_t("--config", str(bad))
    assert r.returncode != 0 and "bad.yaml:7:" in r.stderr and "standard, detailed or timeouts" in r.stderr, r.stderr
    # every check of a proxy setting names FILE:LINE, the file once
    for setting, words in (("balance: fastest", "proxy.balance must be round_robin, least_conn or hash, got 'fastest'"),
                           ("trusted_proxies: 10.0.0.0/99", "'10.0.0.0/99': the prefix length after '/' must be 0 to 32"),
                           ("hash_key: cookie", "proxy.hash_key must be ip, uri, host or header:NAME, got 'cookie'"),
                           ("health_check: nopath", "proxy.health_check must be a path starting with '/', got 'nopath'"),
                           ("via: \"a b\"", "proxy.via must be a token such as gw-1 (or off), got 'a b'"),
                           ("connect_timeout: soon", "'proxy.connect_timeout' expects a duration"),
                           ("retries: 100", "'proxy.retries' must be between 0 and 16, got 100")):
        bad.write_text("hosts:\n  a.test:\n    paths:\n      /app:\n        proxy:\n"
                       "          upstreams: [\"http://127.0.0.1:1\"]\n          %s\n" % setting)
        r = check_t("--config", str(bad))
        assert r.returncode != 0 and r.stderr.startswith("statusd: %s:7: %s" % (bad, words)), (setting, r.stderr)
    r = check_t("--proxy", "http://127.0.0.1:1", "--root", str(tmp_path))
    assert r.returncode != 0 and "would both serve /" in r.stderr, r.stderr
    r = check_t("--proxy", "http://[::1:80")
    assert r.returncode != 0 and "closing ']'" in r.stderr, r.stderr
    good = tmp_path / "good.yaml"
    good.write_text("hosts:\n  a.test:\n    paths:\n      /app: {proxy: {upstreams: [\"http://[::1]:8080/x\", "
                    "\"http://127.0.0.1\"], balance: hash, hash_key: uri}}\n")
    r = check_t("--config", str(good))
    assert r.returncode == 0, r.stderr
    hosts_and_flag = tmp_path / "h.yaml"
    hosts_and_flag.write_text("hosts:\n  a.test:\n    paths:\n      /: {root: /tmp}\n")
    r = check_t("--config", str(hosts_and_flag), "--proxy", "http://127.0.0.1:1")
    assert r.returncode != 0 and "with hosts, give a path its upstreams" in r.stderr, r.stderr


def test_reload_follows_the_new_upstreams(make_server, up, up2):
    """SIGHUP with another upstream list: a request in flight finishes with the configuration it
    started with, the next ones go to the new upstreams (their indexes, health and names are the
    new configuration's)."""
    import signal
    import tempfile
    d = tempfile.mkdtemp(dir="/tmp")
    os.chmod(d, 0o755)
    path = os.path.join(d, "c.yaml")

    def write(upstream):
        with open(path + ".tmp", "w") as f:
            f.write("hosts:\n  \"*\":\n    paths:\n      /app: {proxy: {upstreams: [\"http://127.0.0.1:%d/\"], "
                    "health_check: /ok, health_interval: 200ms}}\n" % upstream)
        os.chmod(path + ".tmp", 0o644)
        os.rename(path + ".tmp", path)

    write(up)
    srv = make_server("--config", path)
    assert whoami(srv.port, "/app/whoami") == up
    slow = {}
    t = threading.Thread(target=lambda: slow.update(r=get(srv.port, "/app/interim")[0]), daemon=True)
    t.start()
    time.sleep(0.02)
    write(up2)
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline and "configuration reloaded" not in srv.stderr():
        time.sleep(0.02)
    assert "configuration reloaded" in srv.stderr(), srv.stderr()
    t.join(5)
    assert slow["r"].status == 200 and slow["r"].body == b"done"
    assert all(whoami(srv.port, "/app/whoami") == up2 for _ in range(3))
    time.sleep(0.5)  # health checks of the new configuration ran
    assert whoami(srv.port, "/app/whoami") == up2
    import shutil
    shutil.rmtree(d, ignore_errors=True)


def wakeups(pid):
    """How often the server's threads went to sleep and woke up so far: the voluntary context
    switches of each (/proc/PID/task/TID/status). An idle event loop that no timer wakes blocks in
    epoll_wait and adds none; one with a timer adds one or two each time it fires."""
    n = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                n += sum(int(l.split()[1]) for l in f if l.startswith("voluntary_ctxt_switches:"))
        except OSError:
            pass  # a thread that ended meanwhile
    return n


def idle_wakeups(pid, seconds):
    before = wakeups(pid)
    time.sleep(seconds)
    return wakeups(pid) - before


def test_health_timer_only_with_checks(make_server):
    """Worker 0's health-check timer exists only while the current generation has paths with
    proxy.health_check, and follows reloads: an idle server without checks (a proxy path without
    them included) does not wake at all; a reload that adds checks starts them at once (a dead
    upstream is out of rotation: 503 no_healthy_upstream); one that removes them stops the timer."""
    import shutil
    import signal
    import tempfile
    dead = dead_port()
    d = tempfile.mkdtemp(dir="/tmp")  # readable by the user the server runs as
    os.chmod(d, 0o755)
    path = os.path.join(d, "c.yaml")

    def write(checks):
        with open(path + ".tmp", "w") as f:
            f.write("hosts:\n  \"*\":\n    paths:\n      /app: {proxy: {upstreams: [\"http://127.0.0.1:%d/\"]%s}}\n"
                    % (dead, ", health_check: /ok, health_interval: 100ms" if checks else ""))
        os.chmod(path + ".tmp", 0o644)
        os.rename(path + ".tmp", path)

    def reload(n):
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and srv.stderr().count("configuration reloaded") < n:
            time.sleep(0.02)
        assert srv.stderr().count("configuration reloaded") == n, srv.stderr()

    write(False)
    srv = make_server("--config", path)
    r = get(srv.port, "/app/x")[0]
    assert r.status == 502 and "connection_refused" in r.header("proxy-status"), r  # a proxy path, no checks
    time.sleep(0.3)
    quiet = idle_wakeups(srv.proc.pid, 2.5)
    assert quiet <= 1, "an idle server without health checks woke %d times in 2.5 s" % quiet

    write(True)
    reload(1)
    deadline = time.time() + 5
    while time.time() < deadline:
        r = get(srv.port, "/app/x")[0]
        if r.status == 503:
            break
        time.sleep(0.05)
    assert r.status == 503 and "no_healthy_upstream" in r.header("proxy-status"), r
    busy = idle_wakeups(srv.proc.pid, 1.0)
    assert busy >= 5, "health checks every 100 ms, yet only %d wake-ups in 1 s" % busy

    write(False)
    reload(2)
    time.sleep(0.3)
    quiet = idle_wakeups(srv.proc.pid, 2.5)
    assert quiet <= 1, "the checks were removed, yet the server woke %d times in 2.5 s" % quiet
    shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- /metrics
def test_metrics_upstream_series(make_server, up, up2):
    """statusd_upstream_attempts_total{upstream,outcome} counts every attempt by how it ended,
    summed over the workers; statusd_upstream_up says which upstreams passive health has out (a
    path with that upstream alone still sends to it). Read with the Prometheus client's parser."""
    from prometheus_client.parser import text_string_to_metric_families
    dead, dead2 = dead_port(), dead_port()
    path = write_yaml("hosts:\n  \"*\":\n    paths:\n"
                      "      /app: {proxy: {upstreams: [\"http://127.0.0.1:%d/\"]}}\n"
                      "      /b: {proxy: {upstreams: [\"http://127.0.0.1:%d/\"]}}\n"
                      "      /pair: {proxy: {upstreams: [\"http://127.0.0.1:%d/\", \"http://127.0.0.1:%d/\"]}}\n"
                      "      /_m: {metrics: true}\n" % (up, up2, dead, dead2))
    srv = make_server("--config", path, workers=2)
    os.unlink(path)
    for _ in range(3):
        assert get(srv.port, "/app/ok")[0].status == 200
    assert get(srv.port, "/b/close-before-head")[0].status == 502  # up2 fails once: out (until a success)
    assert get(srv.port, "/pair/ok")[0].status == 502  # both refuse: two attempts, both out
    r = get(srv.port, "/pair/ok")[0]
    assert r.status == 503 and r.header("proxy-status") == \
        'statusd; error=destination_unavailable; details="no_healthy_upstream"'
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"GET /app/never HTTP/1.1\r\nHost: t\r\n\r\n")
    log_line(srv, "GET /app/ok HTTP/1.1")  # the upstream is being asked (some request reached it)
    time.sleep(0.3)
    s.close()  # the client leaves while the upstream thinks: the attempt is cancelled
    log_line(srv, '"GET /app/never HTTP/1.1" 499 ')

    r = get(srv.port, "/_m")[0]
    assert r.status == 200, r
    attempts, upness = {}, {}
    for fam in text_string_to_metric_families(r.body.decode()):
        for smp in fam.samples:
            if smp.name == "statusd_upstream_attempts_total":
                attempts[(smp.labels["upstream"], smp.labels["outcome"])] = smp.value
            elif smp.name == "statusd_upstream_up":
                upness[smp.labels["upstream"]] = smp.value
    a, b, d, d2 = ("127.0.0.1:%d" % p for p in (up, up2, dead, dead2))
    assert attempts == {
        (a, "response"): 3, (a, "cancelled"): 1, (b, "closed_before_head"): 1,
        (d, "connect_refused"): 1, (d2, "connect_refused"): 1,
        ("-", "no_healthy_upstream"): 1,
    }, attempts
    assert upness == {a: 1, b: 0, d: 0, d2: 0}, upness


# ---------------------------------------------------------------- error pages
def test_error_pages_by_accept_and_expose_upstream(make_server):
    """The gateway's answers are the registry's error pages (text, JSON or HTML by Accept) naming
    the cause and the request id (the access log's), never the upstream's address — unless
    expose_upstream: true, which adds it to the page and next-hop to Proxy-Status."""
    dead = dead_port()
    srv = make_server("--proxy", "http://127.0.0.1:%d" % dead, "--log-format", "json")
    pages = {}
    for accept, ctype in (("text/plain", "text/plain; charset=utf-8"), ("application/json", "application/json"),
                          ("text/html", "text/html; charset=utf-8")):
        r, _, raw = get(srv.port, "/x?%s" % accept.split("/")[1], headers=b"Accept: %s\r\n" % accept.encode())
        assert r.status == 502 and r.header("content-type") == ctype, raw[:400]
        assert r.header("proxy-status") == 'statusd; error=connection_refused; details="connect_refused"'
        assert b"127.0.0.1" not in r.body and str(dead).encode() not in r.body, r.body
        line = json.loads(log_line(srv, '"/x?%s"' % accept.split("/")[1]))
        assert line["cause"] == "upstream_connect_refused" and line["status"] == 502, line
        want = "(cause connect_refused; request %d)" % line["request_id"]
        pages[accept] = r.body.decode()
        assert want in pages[accept], (want, pages[accept])
    doc = json.loads(pages["application/json"])
    assert doc["status"] == 502 and doc["reason"] == "Bad Gateway" and "cause connect_refused" in doc["detail"]
    assert "<h1>502 Bad Gateway</h1>" in pages["text/html"]

    exposed = make_server("--proxy", "http://127.0.0.1:%d" % dead, "--proxy-expose-upstream")
    r, _, raw = get(exposed.port, "/x", headers=b"Accept: text/plain\r\n")
    assert r.status == 502, raw[:400]
    assert r.header("proxy-status") == \
        'statusd; error=connection_refused; next-hop="127.0.0.1:%d"; details="connect_refused"' % dead, r
    assert ("(cause connect_refused; upstream 127.0.0.1:%d; request " % dead).encode() in r.body, r.body


def test_metrics_count_without_an_access_log(make_server, up):
    """Counting does not depend on the access log: a client that leaves is counted as cancelled
    with the log off too."""
    from prometheus_client.parser import text_string_to_metric_families
    srv = make_server("--proxy", "http://127.0.0.1:%d" % up, "--metrics-path", "/metrics", access_log="off")
    assert get(srv.port, "/ok")[0].status == 200
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"GET /never HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.3)
    s.close()
    a = "127.0.0.1:%d" % up
    deadline = time.time() + 5
    while True:
        r = get(srv.port, "/metrics")[0]
        got = {smp.labels["outcome"]: smp.value for fam in text_string_to_metric_families(r.body.decode())
               for smp in fam.samples if smp.name == "statusd_upstream_attempts_total" and smp.labels["upstream"] == a}
        if got == {"response": 1, "cancelled": 1} or time.time() > deadline:
            break
        time.sleep(0.05)
    assert got == {"response": 1, "cancelled": 1}, got
