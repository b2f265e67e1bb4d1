"""The gateway's status by cause (issue 13's table), through the real binary, in all three modes.

One statusd per mode (`proxy.errors: standard|detailed|timeouts`), with a path per kind of
upstream: the fault-injecting upstream (fixtures/upstream.py, one behaviour per path), a port
where nothing listens, a listener whose accept queue is full (the connect times out), names a
fake DNS server answers NXDOMAIN for or never answers (statusd runs in a mount namespace whose
resolv.conf names it), two dead upstreams (passive health then takes both out), and a path with
a one-connection limit. Every row asserts the status, Proxy-Status (RFC 9209: error type and the
cause in details), Retry-After where due, and the access log line (upstream_status,
upstream_cause, upstream_phase). "No route" needs a network namespace: test_no_route.
The TLS rows (525 tls_handshake and tls_alert, 526 tls_certificate) are driven by test_proxy_tls.py.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import BIN, BAD_STDERR, Server, parse_responses, read_all, stop_and_check
from proxy_helpers import FakeDNS, FullListener, dead_port, exchange, get, log_fields, log_line, stacks, \
    start_upstream, write_yaml

MODES = ("standard", "detailed", "timeouts")

# cause id -> (standard, detailed, timeouts), from src/http/upstream.def
TABLE = {
    "dns_error": (502, 530, 502),
    "dns_timeout": (504, 530, 504),
    "connect_refused": (502, 521, 502),
    "connect_timeout": (504, 522, 599),
    "no_route": (502, 523, 502),
    "send_timeout": (504, 524, 598),
    "head_timeout": (504, 524, 598),
    "closed_before_head": (502, 520, 502),
    "closed_in_head": (502, 520, 502),
    "malformed_head": (502, 520, 502),
    "bad_status": (502, 520, 502),
    "bad_framing": (502, 520, 502),
    "head_too_large": (502, 520, 502),
    "field_too_large": (502, 520, 502),
    "too_many_interim": (502, 520, 502),
    "unexpected_upgrade": (502, 520, 502),
    "proxy_loop_detected": (502, 502, 502),
    "no_healthy_upstream": (503, 503, 503),
    "connection_limit": (503, 503, 503),
}
TYPES = {
    "dns_error": "dns_error", "dns_timeout": "dns_timeout", "connect_refused": "connection_refused",
    "connect_timeout": "connection_timeout", "no_route": "destination_ip_unroutable",
    "send_timeout": "connection_write_timeout", "head_timeout": "http_response_timeout",
    "closed_before_head": "connection_terminated", "closed_in_head": "http_response_incomplete",
    "malformed_head": "http_protocol_error", "bad_status": "http_protocol_error", "bad_framing": "http_protocol_error",
    "head_too_large": "http_response_header_section_size", "field_too_large": "http_response_header_size",
    "too_many_interim": "http_protocol_error", "unexpected_upgrade": "http_protocol_error",
    "proxy_loop_detected": "proxy_loop_detected", "no_healthy_upstream": "destination_unavailable",
    "connection_limit": "connection_limit_reached",
}


class Gateway:
    """The upstreams and one statusd per mode."""

    def __init__(self):
        self.up, self.up_port = start_upstream()
        self.dead = dead_port()
        self.dead2 = dead_port()
        self.full = FullListener()
        self.dns = FakeDNS.make()
        self.servers = {}
        self.files = []

    def server(self, mode):
        if mode in self.servers:
            return self.servers[mode]
        u = "http://127.0.0.1:%d" % self.up_port
        conf = """
proxy:
  dns_timeout: 1s
hosts:
  "*":
    proxy:
      errors: %(mode)s
      read_timeout: 2s
      idle_timeout: 1500ms
      send_timeout: 1s
      connect_timeout: 300ms
    paths:
      /: {proxy: {upstreams: ["%(u)s"]}}
      /refused: {proxy: {upstreams: ["http://127.0.0.1:%(dead)d/"]}}
      /ctimeout: {proxy: {upstreams: ["http://127.0.0.1:%(full)d/"]}}
      /limit: {proxy: {upstreams: ["%(u)s/"], max_conns: 1, queue: 0, read_timeout: 3s}}
      /queue: {proxy: {upstreams: ["%(u)s/"], max_conns: 1, queue: 4, queue_timeout: 300ms, read_timeout: 3s}}
      /queue2: {proxy: {upstreams: ["%(u)s/"], max_conns: 1, queue: 4, queue_timeout: 5s}}
      /down: {proxy: {upstreams: ["http://127.0.0.1:%(dead)d/", "http://127.0.0.1:%(dead2)d/"]}}
      /nx: {proxy: {upstreams: ["http://nx.statusd.test:%(port)d/"]}}
      /slowdns: {proxy: {upstreams: ["http://slow.statusd.test:%(port)d/"]}}
""" % {"mode": mode, "u": u, "dead": self.dead, "dead2": self.dead2, "full": self.full.port, "port": self.up_port}
        path = write_yaml(conf)
        self.files.append(path)
        s = Server("--config", path, wrap=self.dns.wrap if self.dns else None, start_timeout=20)
        self.servers[mode] = s
        return s

    def close(self):
        problems = []
        for s in self.servers.values():
            rc = s.stop()
            err = s.stderr()
            if BAD_STDERR.search(err) or rc not in (0, None):
                problems.append(("exit status %r" % rc, err[-3000:], s.cmd))
        self.up.stop()
        self.full.close()
        if self.dns:
            self.dns.close()
        for f in self.files:
            os.unlink(f)
        assert not problems, problems


@pytest.fixture(scope="module")
def gw():
    g = Gateway()
    yield g
    g.close()


def check_error(srv, mode, target, cause, phase=None, timeout=5.0, method=b"GET", body=b""):
    r, _, raw = get(srv.port, target, method=method, body=body, timeout=timeout)
    assert r is not None, (target, raw[:300], stacks(srv.proc.pid))
    return check_answer(srv, mode, r, raw, target, cause, phase, method)


def check_answer(srv, mode, r, raw, target, cause, phase=None, method=b"GET"):
    """The status, Proxy-Status, Retry-After, error page and log line of one answer."""
    want = TABLE[cause][MODES.index(mode)]
    assert r.status == want, (mode, target, cause, r.status, raw[:600])
    ps = r.header("proxy-status")
    assert ps == 'statusd; error=%s; details="%s"' % (TYPES[cause], cause), (target, ps)
    if want == 503:
        assert r.header("retry-after", "").isdigit() and int(r.header("retry-after")) >= 1, r
    else:
        assert r.header("retry-after") is None, r
    # the error page names the cause and the request id, never the upstream's address
    assert ("cause %s" % cause).encode() in r.body and b"request " in r.body, r.body
    assert b"127.0.0.1:" not in r.body
    line = log_line(srv, '"%s %s HTTP/1.1" %d ' % (method.decode(), target, want))
    f = log_fields(line)
    assert f["upstream_cause"].split(",")[-1] == cause, line
    assert f["upstream_status"].split(",")[-1] == str(want), line
    if phase:
        assert f["upstream_phase"] == phase, line
    return r, f


@pytest.mark.parametrize("mode", MODES)
def test_connect_refused(gw, mode):
    check_error(gw.server(mode), mode, "/refused/ok", "connect_refused", "connect")


@pytest.mark.parametrize("mode", MODES)
def test_connect_timeout(gw, mode):
    t0 = time.monotonic()
    check_error(gw.server(mode), mode, "/ctimeout/ok", "connect_timeout", "connect")
    assert time.monotonic() - t0 >= 0.25  # the connect timeout (300 ms) ran out; no upper bound asserted


@pytest.mark.parametrize("mode", MODES)
def test_dns_error(gw, mode):
    if not gw.dns:
        pytest.skip("fake DNS: %s" % FakeDNS.why)
    check_error(gw.server(mode), mode, "/nx/ok", "dns_error", "resolve")


@pytest.mark.parametrize("mode", MODES)
def test_dns_timeout(gw, mode):
    if not gw.dns:
        pytest.skip("fake DNS: %s" % FakeDNS.why)
    check_error(gw.server(mode), mode, "/slowdns/ok", "dns_timeout", "resolve")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path,cause,phase", [
    ("/never", "head_timeout", "wait"),
    ("/slow-head", "head_timeout", "headers"),
    ("/close-before-head", "closed_before_head", "wait"),
    ("/reset-before-head", "closed_before_head", "wait"),
    ("/close-in-head", "closed_in_head", "headers"),
    ("/garbage", "malformed_head", "headers"),
    ("/bad-status", "bad_status", "headers"),
    ("/cl-abc", "bad_framing", "headers"),
    ("/two-cl", "bad_framing", "headers"),
    ("/cl-te", "bad_framing", "headers"),
    ("/big-head", "head_too_large", "headers"),
    ("/big-field", "field_too_large", "headers"),
    ("/many-interim", "too_many_interim", "headers"),
    ("/unexpected-upgrade", "unexpected_upgrade", "headers"),
])
def test_upstream_fault(gw, mode, path, cause, phase):
    check_error(gw.server(mode), mode, path, cause, phase)


@pytest.mark.parametrize("mode", MODES)
def test_send_timeout(gw, mode):
    """The upstream reads the head and never the body: once the socket buffers are full nothing
    moves for send_timeout (1 s)."""
    srv = gw.server(mode)
    body = b"x" * (8 << 20)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    head = b"POST /no-read HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)

    def send():
        try:
            s.sendall(head + body)
        except OSError:
            pass

    t = threading.Thread(target=send, daemon=True)
    t.start()
    raw = read_all(s, 8)
    s.close()
    t.join(10)
    rs, _ = parse_responses(raw)
    want = TABLE["send_timeout"][MODES.index(mode)]
    assert rs and rs[-1].status == want, raw[:400]
    assert rs[-1].header("proxy-status") == 'statusd; error=connection_write_timeout; details="send_timeout"'
    f = log_fields(log_line(srv, '"POST /no-read HTTP/1.1" %d ' % want))
    assert f["upstream_cause"] == "send_timeout" and f["upstream_phase"] == "send", f


def while_held(srv, holder, probe):
    """Start `holder` (a request that keeps the path's one connection for 3 s) and ask `probe`
    until it is refused: a 200 only means the holder had not reached the upstream yet (a loaded
    machine), so it is asked again; at most a few seconds."""
    first = threading.Thread(target=get, args=(srv.port, holder), daemon=True)
    first.start()
    time.sleep(0.3)
    deadline = time.monotonic() + 2.5
    while True:
        t0 = time.monotonic()
        r, _, raw = get(srv.port, probe)
        if r is not None and r.status == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
            continue
        return r, raw, time.monotonic() - t0, first


@pytest.mark.parametrize("mode", MODES)
def test_connection_limit(gw, mode):
    """max_conns 1, no queue: a second request while one is in flight gets 503 at once."""
    srv = gw.server(mode)
    r, raw, _, first = while_held(srv, "/limit/never", "/limit/ok")
    assert r is not None, raw[:300]
    check_answer(srv, mode, r, raw, "/limit/ok", "connection_limit", "connect")
    first.join(5)


@pytest.mark.parametrize("mode", MODES)
def test_queue_timeout(gw, mode):
    """max_conns 1 with a queue: a request that waits longer than queue_timeout gets 503."""
    srv = gw.server(mode)
    r, raw, took, first = while_held(srv, "/queue/never", "/queue/ok")
    assert r is not None and took >= 0.25, (took, raw[:300])
    check_answer(srv, mode, r, raw, "/queue/ok", "connection_limit", "connect")
    first.join(5)


def test_queue_then_served(gw):
    """A queued request is sent when the one before it ends (slow-body: cut after idle_timeout,
    1.5 s, within the queue's 5 s)."""
    srv = gw.server("standard")
    first = threading.Thread(target=get, args=(srv.port, "/queue2/slow-body"), daemon=True)
    first.start()
    time.sleep(0.2)
    r, _, raw = get(srv.port, "/queue2/ok")
    first.join(5)
    assert r.status == 200 and r.body == b"hello", raw[:300]


@pytest.mark.parametrize("mode", MODES)
def test_no_healthy_upstream(gw, mode):
    """Two upstreams that refuse: the first request tries both (a retry: nothing was sent), then
    passive health takes them out and the next request gets 503 with Retry-After."""
    srv = gw.server(mode)
    r, f = check_error(srv, mode, "/down/ok", "connect_refused", "connect")
    assert f["upstream_status"] == "%d,%d" % ((TABLE["connect_refused"][MODES.index(mode)],) * 2), f
    assert f["upstream_cause"] == "connect_refused,connect_refused", f
    r, f = check_error(srv, mode, "/down/ok", "no_healthy_upstream")
    assert 1 <= int(r.header("retry-after")) <= 10, r


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path,cause,framing", [
    ("/close-mid-body", "truncated_body", "length"),
    ("/close-after-head", "truncated_body", "length"),
    ("/chunked-cut", "truncated_body", "chunked"),
    ("/slow-body", "body_timeout", "length"),
    ("/bad-chunk", "bad_chunk", "chunked"),
    ("/big-trailers", "trailers_too_large", "chunked"),
])
def test_failure_after_head(gw, mode, path, cause, framing):
    """The status stays as the upstream sent it; the body ends abortively: the connection closes
    before the declared length or without the final chunk, never padded; logged as truncated."""
    srv = gw.server(mode)
    req = b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode()
    raw = exchange(srv.port, req, timeout=5)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), raw[:300]
    assert b"Proxy-Status: statusd; received-status=200" in head
    if framing == "length":
        cl = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
        assert len(body) < cl, (len(body), cl)
    else:
        assert b"transfer-encoding: chunked" in head.lower()
        assert not body.endswith(b"0\r\n\r\n"), body[-40:]
    f = log_fields(log_line(srv, '"GET %s HTTP/1.1" 200 ' % path))
    assert f["upstream_cause"] == cause and f["truncated"] == "1", f
    assert f["upstream_status"] == "200" and f["upstream_phase"] == "body", f
    assert int(f["body_sent"]) == len(body) or framing == "chunked", (f, len(body))
    if framing == "length":
        assert f["body_expected"] == str(cl), f


@pytest.mark.parametrize("mode", MODES)
def test_client_left_first(gw, mode):
    """The client closes while the upstream thinks: 499 in the log, the upstream exchange dropped."""
    srv = gw.server(mode)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"GET /never?left HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.2)
    s.close()
    f = log_fields(log_line(srv, '"GET /never?left HTTP/1.1" 499 '))
    assert f["upstream_phase"] == "wait" and f["upstream_status"] == "-", f


@pytest.mark.parametrize("mode", MODES)
def test_relayed_codes_keep_their_meaning(gw, mode):
    """The seed's "device" codes — and codes the registry does not know — pass through untouched,
    with Proxy-Status: statusd; received-status=N; a 503's Retry-After is the upstream's."""
    srv = gw.server(mode)
    for code in (404, 500, 503, 299, 477, 599):
        r, _, raw = get(srv.port, "/code/%d" % code)
        assert r.status == code, raw[:300]
        assert r.header("proxy-status") == "statusd; received-status=%d" % code, r
        assert r.body == b"code %d" % code
        if code == 503:
            assert r.header("retry-after") == "7"
        f = log_fields(log_line(srv, '"GET /code/%d HTTP/1.1" %d ' % (code, code)))
        assert f["upstream_status"] == str(code) and f["upstream_cause"] == "-", f


def test_loop_detected(make_server):
    """A gateway that sends a request to itself sees its own Via pseudonym come back: 502."""
    port = dead_port()
    srv = make_server("--proxy", "http://127.0.0.1:%d" % port, "--proxy-via", "gw-self", listen="127.0.0.1:%d" % port)
    r, _, raw = get(srv.port, "/x", headers=b"Via: 1.1 elsewhere, 1.0 GW-SELF (statusd)\r\n")
    assert r.status == 502 and r.header("proxy-status") == \
        'statusd; error=proxy_loop_detected; details="proxy_loop_detected"', raw[:400]
    # and for real: the request goes out once, comes back carrying our Via, and is refused there
    r, _, raw = get(srv.port, "/y")
    assert r.status == 502, raw[:400]
    line = log_line(srv, '"GET /y HTTP/1.1" 502 ')  # the inner request, refused (written first)
    assert "upstream_cause=proxy_loop_detected" in line or "upstream_status=502" in line, line
    deadline = time.time() + 5
    while time.time() < deadline and sum('"GET /y HTTP/1.1"' in l for l in srv.access_log()) < 2:
        time.sleep(0.05)
    lines = [l for l in srv.access_log() if '"GET /y HTTP/1.1"' in l]
    assert any("upstream_cause=proxy_loop_detected" in l for l in lines), lines


def test_no_route():
    """No route to the upstream's network: in a network namespace of our own (only a loopback,
    no default route) connect() fails at once with ENETUNREACH."""
    import shutil
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root, unshare(1) and ip(8) to make a network namespace without routes")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a network namespace here")
    helper = os.path.join(os.path.dirname(__file__), "fixtures", "noroute.py")
    r = subprocess.run(["unshare", "-n", sys.executable, helper, BIN], capture_output=True, timeout=60)
    assert r.returncode == 0, (r.stdout.decode()[-3000:], r.stderr.decode()[-3000:])
    got = json.loads(r.stdout.decode().strip().splitlines()[-1])
    for mode in MODES:
        status, ps, line = got[mode]
        assert status == TABLE["no_route"][MODES.index(mode)], got
        assert ps == 'statusd; error=destination_ip_unroutable; details="no_route"', ps
        assert "upstream_cause=no_route" in line and "upstream_phase=connect" in line, line
