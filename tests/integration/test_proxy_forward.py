"""Forward-proxy mode (issue 13: `proxy: {forward: true}`): absolute-form requests and CONNECT
tunnels through the real binary, with real clients.

curl -x sends absolute-form requests (GET http://127.0.0.1:UP/x) to the fault-injecting upstream
(fixtures/upstream.py); curl -p / --proxytunnel opens CONNECT tunnels to a plain statusd and to a
statusd TLS listener; raw sockets drive a TCP echo server through CONNECT (both directions, a
half-close, a large transfer) and the malformed cases; curl --proxy-user with a file made by
Debian's htpasswd drives the policy module's proxy-scoped auth (407 + Proxy-Authenticate).
Names resolve through the fake DNS server (fixtures/dns.py) when the test can run statusd in a
mount namespace; those tests are skipped with the reason otherwise.

Each cause asserts exactly one status:
  forward:origin_form 421, forward:bad_target 400, forward:port_denied 403,
  forward:destination_denied 403, forward:host_denied 403, rule:proxy_auth 407, connect_method 405 (no forward proxy),
  and the gateway's table for the connection itself (connect_refused 502/521, connect_timeout 504,
  dns_error 502, dns_timeout 504, proxy_loop_detected 502), each with Proxy-Status (RFC 9209).
"""
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BIN, BAD_STDERR, Server, parse_responses, read_all
from proxy_helpers import FakeDNS, FullListener, dead_port, exchange, log_fields, log_line, start_upstream, write_yaml
from tlsutil import Pki

TIMEOUT = 10


class Echo:
    """A TCP server on 127.0.0.1 for tunnels: `echo` sends back what it reads until the client's
    FIN, then closes; `bye` sends b"bye\\n" and closes at once (the upstream closes first);
    `http` answers one request ending in "body" with 200 and the bytes it got."""

    def __init__(self, mode="echo", addr="127.0.0.1"):
        self.sock = socket.socket()
        self.sock.bind((addr, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.mode = mode
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        c.settimeout(TIMEOUT)
        try:
            if self.mode == "bye":
                c.sendall(b"bye\n")
                return
            if self.mode == "http":  # one request, answered with what its head and body were
                got = b""
                while b"\r\n\r\n" not in got or not got.endswith(b"body"):
                    b = c.recv(65536)
                    if not b:
                        break
                    got += b
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(got), got))
                return
            while True:
                b = c.recv(65536)
                if not b:
                    return
                c.sendall(b)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopped = True
        self.sock.close()


class Env:
    """The upstreams and the statusd instances of the module (each stopped by PID)."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="statusd-fwd-", dir="/tmp")
        os.chmod(self.tmp, 0o755)
        self.up, self.up_port = start_upstream()
        self.echo = Echo()
        self.bye = Echo("bye")
        self.dead = dead_port()
        self.full = FullListener()
        self.dns = FakeDNS.make()
        self.files, self.servers = [], {}
        self.pki = Pki(os.path.join(self.tmp, "pki"))
        chain, key = self.pki.server("dest")
        self.tls = self._start("tls", "--tls-cert", chain, "--tls-key", key, listen="tls://127.0.0.1:0", dns=False)
        self.users = os.path.join(self.tmp, "users")
        subprocess.run(["htpasswd", "-bcB", "-C", "4", self.users, "alice", "wonder"], check=True, capture_output=True)
        os.chmod(self.users, 0o644)

    def _start(self, name, *args, listen="127.0.0.1:0", dns=True):
        s = Server(*args, listen=listen, wrap=self.dns.wrap if (dns and self.dns) else None, start_timeout=20)
        self.servers[name] = s
        return s

    def proxy(self, name, paths, top=""):
        """A statusd whose default host has these paths (YAML flow mappings by path)."""
        if name in self.servers:
            return self.servers[name]
        conf = "proxy:\n  dns_timeout: 1s\n%s" % top + 'hosts:\n  "*":\n    paths:\n' + \
            "".join("      %s: %s\n" % (p, v) for p, v in paths.items())
        path = write_yaml(conf)
        os.chmod(path, 0o644)
        self.files.append(path)
        return self._start(name, "--config", path)

    # the instances
    OPEN = "forward: true, forward_deny: none, forward_ports: '*', connect_ports: '443, 1024-65535', " \
           "connect_timeout: 300ms, via: fwtest"

    @property
    def fw(self):
        return self.proxy("fw", {"/": "{proxy: {%s}}" % self.OPEN})

    @property
    def detailed(self):
        return self.proxy("detailed", {"/": "{proxy: {%s, errors: detailed}}" % self.OPEN})

    @property
    def strict(self):  # the defaults: CONNECT to 443 only, no loopback or link-local
        return self.proxy("strict", {"/": "{proxy: {forward: true, connect_timeout: 300ms}}"})

    @property
    def hosts(self):  # egress lists by name: forward_hosts and forward_hosts_deny
        return self.proxy("hosts", {"/": "{proxy: {%s, forward_hosts: '*.statusd.test, .example.test, 127.0.0.1', "
                                         "forward_hosts_deny: 'nx.statusd.test, deny.example.test, 127.0.0.3'}}"
                                         % self.OPEN})

    @property
    def auth(self):
        return self.proxy("auth", {"/": "{proxy: {%s}, auth: {htpasswd: %s, scope: proxy, realm: Proxy}}"
                                        % (self.OPEN, self.users)})

    @property
    def both(self):  # forward mode beside upstreams: origin-form requests go to the upstreams
        return self.proxy("both", {"/": "{proxy: {%s, upstreams: ['http://127.0.0.1:%d']}}" % (self.OPEN, self.up_port)})

    def close(self):
        problems = []
        for s in self.servers.values():
            rc = s.stop()
            err = s.stderr()
            if BAD_STDERR.search(err) or rc not in (0, None):
                problems.append(("exit status %r" % rc, err[-3000:], s.cmd))
        self.up.stop()
        self.echo.close()
        self.bye.close()
        self.full.close()
        if self.dns:
            self.dns.close()
        for f in self.files:
            os.unlink(f)
        subprocess.run(["rm", "-rf", self.tmp])
        assert not problems, problems


@pytest.fixture(scope="module")
def env():
    e = Env()
    yield e
    e.close()


def needs_dns(env):
    if not env.dns:
        pytest.skip("fake DNS: %s" % FakeDNS.why)


# ---- clients ----
def curl(*args):
    r = subprocess.run(["curl", "-sS", "-i", "--max-time", str(TIMEOUT), *args], capture_output=True, timeout=30)
    return r.returncode, r.stdout, r.stderr.decode()


def heads(out):
    """curl -i output: the responses in order (Response objects). A 2xx to CONNECT (curl -p) has
    no framing: its head is taken alone, then what came through the tunnel."""
    if out.startswith(b"HTTP/1.1 2") and b"\r\n\r\n" in out:
        first, _, rest = out.partition(b"\r\n\r\n")
        rs, _ = parse_responses(first + b"\r\nContent-Length: 0\r\n\r\n")
        if rest.startswith(b"HTTP/"):
            more, _ = parse_responses(rest)
            return rs + more
    rs, _ = parse_responses(out)
    return rs


raw = exchange  # proxy_helpers: send raw bytes, read until the server closes


def one(port, data, timeout=5.0):
    rs, _ = parse_responses(raw(port, data, timeout))
    assert rs, data
    return rs[0]


def read_head(s):
    """Read a response head from a socket (bytes up to the blank line), and what came after it."""
    buf = b""
    deadline = time.time() + TIMEOUT
    while b"\r\n\r\n" not in buf and time.time() < deadline:
        b = s.recv(4096)
        if not b:
            break
        buf += b
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def field_names(head):
    return [l.split(":", 1)[0].strip().lower() for l in head.split("\r\n")[1:] if ":" in l]


def check_refusal(srv, r, status, cause, ps_type, line_needle):
    """A forward proxy's own refusal: exactly this status, Proxy-Status naming the cause, an error
    page naming it, and the access log line."""
    assert r.status == status, (r.status, r.body[:300])
    assert r.header("proxy-status") == 'statusd; error=%s; details="%s"' % (ps_type, cause), r.header("proxy-status")
    assert ("cause %s" % cause).encode() in r.body, r.body
    if line_needle.startswith('"CONNECT'):
        assert r.header("connection") == "close", r
    line = log_line(srv, line_needle)
    assert (" %d " % status) in line and "forward=%s" % cause.split(":")[1] in line, line
    return line


def check_gateway(srv, r, status, cause, ps_type, line_needle, phase):
    """A failure of the connection itself: the gateway's table (src/http/upstream.def). A refused
    CONNECT closes the connection (bytes behind it were meant for the tunnel)."""
    assert r.status == status, (r.status, r.body[:300])
    if line_needle.startswith('"CONNECT'):
        assert r.header("connection") == "close", r
    assert r.header("proxy-status") == 'statusd; error=%s; details="%s"' % (ps_type, cause), r.header("proxy-status")
    assert ("cause %s" % cause).encode() in r.body, r.body
    f = log_fields(log_line(srv, line_needle))
    assert f["upstream_cause"] == cause and f["upstream_status"] == str(status) and f["upstream_phase"] == phase, f


# ---- absolute-form ----
def test_absolute_form_is_forwarded(env):
    srv = env.fw
    rc, out, err = curl("-x", "http://127.0.0.1:%d" % srv.port, "http://127.0.0.1:%d/ok" % env.up_port)
    r = heads(out)[-1]
    assert rc == 0 and r.status == 200 and r.body == b"hello", (rc, out[:300], err)
    assert r.header("proxy-status") == "statusd; received-status=200"
    f = log_fields(log_line(srv, '"GET http://127.0.0.1:%d/ok HTTP/1.1" 200 ' % env.up_port))
    assert f["upstream"] == "127.0.0.1:%d" % env.up_port and f["upstream_status"] == "200", f


def test_absolute_form_header_hygiene(env):
    """What reaches the destination: origin-form (RFC 9112 §3.2.1), Host from the target, not the
    client's (§3.2.2), Via added, hop-by-hop fields, Proxy-Authorization and what Connection
    names removed; the body with exactly one framing."""
    srv = env.fw
    body = b"a=1"
    req = (b"POST http://127.0.0.1:%d/echo?q=1 HTTP/1.1\r\nHost: elsewhere.example\r\n"
           b"Proxy-Authorization: Basic YWxpY2U6d29uZGVy\r\nProxy-Connection: keep-alive\r\n"
           b"Connection: close, X-Secret\r\nX-Secret: 1\r\nX-Kept: 2\r\nContent-Length: 3\r\n\r\n" % env.up_port) + body
    r = one(srv.port, req)
    assert r.status == 200, r
    got = r.body.decode("latin-1")
    head = got.split("\r\n\r\n")[0]
    lines = head.split("\r\n")
    assert lines[0] == "POST /echo?q=1 HTTP/1.1", lines[0]
    names = field_names(head)
    assert names.count("host") == 1 and "Host: 127.0.0.1:%d" % env.up_port in lines, lines
    assert "Via: 1.1 fwtest" in lines, lines
    for gone in ("proxy-authorization", "proxy-connection", "x-secret", "transfer-encoding"):
        assert gone not in names, (gone, lines)
    assert "x-kept" in names and names.count("content-length") == 1 and got.endswith("a=1"), got


def test_absolute_form_by_name(env):
    """A name is looked up per request (fixtures/dns.py answers 127.0.0.1); Host is the target's."""
    needs_dns(env)
    srv = env.fw
    r = one(srv.port, b"GET http://ok.statusd.test:%d/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            % env.up_port)
    assert r.status == 200 and b"Host: ok.statusd.test:%d\r\n" % env.up_port in r.body, r.body


def test_next_address_after_a_refusal(env):
    """A name with two addresses (fixtures/dns.py: two.… is 127.0.0.2, then 127.0.0.1) where only
    the second listens: the refused first is followed by the second (nothing was sent), within
    proxy.retries; a POST's body goes with the second attempt."""
    needs_dns(env)
    srv = env.fw
    only2 = Echo("http", addr="127.0.0.2")  # nothing on 127.0.0.1 at its port: refused there
    try:
        target = "http://two.statusd.test:%d/x" % only2.port
        r = one(srv.port, b"POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbody"
                % target.encode())
        assert r.status == 200 and r.body.startswith(b"POST /x HTTP/1.1\r\n") and r.body.endswith(b"body"), r
        f = log_fields(log_line(srv, '"POST %s HTTP/1.1" 200 ' % target))
        # getaddrinfo sorts 127.0.0.1 first (RFC 6724 rule 9 from a 127.0.0.1 source)
        assert f["upstream"] == "127.0.0.1:%d,127.0.0.2:%d" % (only2.port, only2.port), f
        assert f["upstream_status"] == "502,200" and f["upstream_cause"] == "connect_refused,-", f
    finally:
        only2.close()


def test_loop_is_refused(env):
    srv = env.fw
    r = one(srv.port, b"GET http://127.0.0.1:%d/ok HTTP/1.1\r\nHost: x\r\nVia: 1.1 fwtest\r\nConnection: close\r\n\r\n"
            % env.up_port)
    check_gateway(srv, r, 502, "proxy_loop_detected", "proxy_loop_detected", '"GET http://127.0.0.1:%d/ok HTTP/1.1" 502'
                  % env.up_port, "-")


def test_origin_form_on_a_forward_path_is_421(env):
    srv = env.fw
    rc, out, _ = curl("http://127.0.0.1:%d/some/page" % srv.port)
    r = heads(out)[-1]
    check_refusal(srv, r, 421, "forward:origin_form", "http_request_error", '"GET /some/page HTTP/1.1" 421')


def test_origin_form_goes_to_upstreams_beside_forward_mode(env):
    srv = env.both
    rc, out, _ = curl("http://127.0.0.1:%d/ok" % srv.port)
    r = heads(out)[-1]
    assert r.status == 200 and r.body == b"hello" and r.header("proxy-status") == "statusd; received-status=200"
    rc, out, _ = curl("-x", "http://127.0.0.1:%d" % srv.port, "http://127.0.0.1:%d/whoami" % env.up_port)
    assert heads(out)[-1].status == 200


def test_bad_targets_are_400(env):
    srv = env.fw
    cases = [
        (b"CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", '"CONNECT 127.0.0.1 HTTP/1.1" 400'),
        (b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" % env.echo.port,
         '"CONNECT 127.0.0.1:%d HTTP/1.1" 400' % env.echo.port),
        (b"GET http://exa$mple.test/ HTTP/1.1\r\nHost: x\r\n\r\n", '"GET http://exa$mple.test/ HTTP/1.1" 400'),
        (b"CONNECT [::1 HTTP/1.1\r\nHost: x\r\n\r\n", None),  # the engine refuses it first (a bad authority)
    ]
    for req, needle in cases:
        r = one(srv.port, req)
        assert r.status == 400, (req, r)
        if needle:
            check_refusal(srv, r, 400, "forward:bad_target", "http_request_error", needle)


def test_forward_ports(env):
    srv = env.strict
    r = one(srv.port, b"GET http://127.0.0.1:25/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check_refusal(srv, r, 403, "forward:port_denied", "http_request_denied", '"GET http://127.0.0.1:25/ HTTP/1.1" 403')


def test_destination_denied_by_default(env):
    """Loopback and link-local are refused by default, on the address after the lookup: a name
    that resolves to 127.0.0.1 gains nothing."""
    srv = env.strict
    for target in ("http://127.0.0.1:%d/ok" % env.up_port, "http://localhost:%d/ok" % env.up_port,
                   "http://169.254.169.254/latest/meta-data/", "http://[::1]:%d/ok" % env.up_port):
        r = one(srv.port, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())
        check_refusal(srv, r, 403, "forward:destination_denied", "destination_ip_prohibited",
                      '"GET %s HTTP/1.1" 403' % target)
    r = one(srv.port, b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n")
    check_refusal(srv, r, 403, "forward:destination_denied", "destination_ip_prohibited",
                  '"CONNECT 127.0.0.1:443 HTTP/1.1" 403')


def test_destination_denied_after_dns(env):
    needs_dns(env)
    srv = env.strict
    r = one(srv.port, b"GET http://rebind.statusd.test:%d/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            % env.up_port)
    check_refusal(srv, r, 403, "forward:destination_denied", "destination_ip_prohibited",
                  '"GET http://rebind.statusd.test:%d/ok HTTP/1.1" 403' % env.up_port)


# ---- host lists (proxy.forward_hosts, proxy.forward_hosts_deny) ----
def get_through(srv, target):
    return one(srv.port, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())


def test_host_lists_by_address(env):
    """forward_hosts lists 127.0.0.1: a target written as that address goes through; another
    address ([::1], 127.0.0.2) is refused, and so is a name outside the list, CONNECT included."""
    srv = env.hosts
    # an address is an address however it is written (the resolver reads 127.1 as 127.0.0.1)
    for target in ("http://127.0.0.1:%d/ok", "http://127.1:%d/ok"):
        r = get_through(srv, target % env.up_port)
        assert r.status == 200 and r.body == b"hello", (target, r.status, r.body[:200])
    target = "http://0x7f.0.0.3:%d/ok" % env.up_port
    r = get_through(srv, target)
    check_refusal(srv, r, 403, "forward:host_denied", "http_request_denied", '"GET %s HTTP/1.1" 403' % target)
    assert b"(proxy.forward_hosts_deny)" in r.body, r.body
    for target in ("http://[::1]:%d/ok" % env.up_port, "http://127.0.0.2:%d/ok" % env.up_port,
                   "http://elsewhere.test:%d/ok" % env.up_port):
        check_refusal(srv, get_through(srv, target), 403, "forward:host_denied", "http_request_denied",
                      '"GET %s HTTP/1.1" 403' % target)
    r = one(srv.port, b"CONNECT elsewhere.test:443 HTTP/1.1\r\nHost: elsewhere.test:443\r\n\r\n")
    check_refusal(srv, r, 403, "forward:host_denied", "http_request_denied", '"CONNECT elsewhere.test:443 HTTP/1.1" 403')


def test_host_lists_by_name(env):
    """*.statusd.test: its subdomains, whatever their case or final dot, not the name itself nor a
    name that merely ends the same; .example.test: the name and its subdomains; the deny list wins
    over both, and a refused name is never looked up."""
    needs_dns(env)
    srv = env.hosts
    for target in ("http://ok.statusd.test:%d/ok", "http://OK.Statusd.TEST.:%d/ok", "http://example.test:%d/ok",
                   "http://a.b.example.test:%d/ok"):
        r = get_through(srv, target % env.up_port)
        assert r.status == 200 and r.body == b"hello", (target, r.status, r.body[:200])
    for name in ("statusd.test", "xstatusd.test", "nx.statusd.test", "deny.example.test"):
        target = "http://%s:%d/ok" % (name, env.up_port)
        check_refusal(srv, get_through(srv, target), 403, "forward:host_denied", "http_request_denied",
                      '"GET %s HTTP/1.1" 403' % target)
        assert env.dns.queries(name) == 0, name


# ---- the connection's causes (the gateway's table) ----
@pytest.mark.parametrize("which,status", [("fw", 502), ("detailed", 521)])
def test_connect_refused(env, which, status):
    srv = getattr(env, which)
    r = one(srv.port, b"GET http://127.0.0.1:%d/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % env.dead)
    check_gateway(srv, r, status, "connect_refused", "connection_refused",
                  '"GET http://127.0.0.1:%d/ok HTTP/1.1" %d' % (env.dead, status), "connect")
    r = one(srv.port, b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % env.dead)
    check_gateway(srv, r, status, "connect_refused", "connection_refused",
                  '"CONNECT 127.0.0.1:%d HTTP/1.1" %d' % (env.dead, status), "connect")


def test_connect_timeout(env):
    srv = env.fw
    t0 = time.monotonic()
    r = one(srv.port, b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % env.full.port)
    check_gateway(srv, r, 504, "connect_timeout", "connection_timeout",
                  '"CONNECT 127.0.0.1:%d HTTP/1.1" 504' % env.full.port, "connect")
    assert time.monotonic() - t0 >= 0.25


def test_dns_error_and_timeout(env):
    needs_dns(env)
    srv = env.fw
    r = one(srv.port, b"GET http://nx.statusd.test/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check_gateway(srv, r, 502, "dns_error", "dns_error", '"GET http://nx.statusd.test/ HTTP/1.1" 502', "resolve")
    r = one(srv.port, b"CONNECT slow.statusd.test:443 HTTP/1.1\r\nHost: x\r\n\r\n", timeout=8)
    check_gateway(srv, r, 504, "dns_timeout", "dns_timeout", '"CONNECT slow.statusd.test:443 HTTP/1.1" 504', "resolve")


# ---- CONNECT ----
def test_connect_tunnel_echo(env):
    """200 without Content-Length or Transfer-Encoding (RFC 9110 §9.3.6), bytes both ways, the
    client's half-close passed on (its data first), the tunnel logged with its bytes."""
    srv = env.fw
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    try:
        s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (env.echo.port, env.echo.port))
        head, rest = read_head(s)
        assert head.startswith("HTTP/1.1 200 "), head
        names = field_names(head)
        assert "content-length" not in names and "transfer-encoding" not in names and "connection" not in names, head
        assert rest == b""
        s.sendall(b"hello, tunnel")
        s.shutdown(socket.SHUT_WR)
        got = read_all(s, TIMEOUT)
    finally:
        s.close()
    assert got == b"hello, tunnel", got
    f = log_fields(log_line(srv, '"CONNECT 127.0.0.1:%d HTTP/1.1" 200 ' % env.echo.port))
    assert f["tunnel"] == "up:13,down:13" and f["upstream"] == "127.0.0.1:%d" % env.echo.port, f


def test_connect_upstream_closes_first(env):
    srv = env.fw
    got = raw(srv.port, b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % env.bye.port, timeout=TIMEOUT)
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and body == b"bye\n", got
    f = log_fields(log_line(srv, '"CONNECT 127.0.0.1:%d HTTP/1.1" 200 ' % env.bye.port))
    assert f["tunnel"] == "up:0,down:4", f


def test_connect_large_transfer_with_back_pressure(env):
    """4 MiB up and back through one tunnel while the client reads slowly at first: nothing lost,
    the proxy holds the sides back instead of buffering all of it."""
    srv = env.fw
    size = 4 << 20
    data = bytes(range(256)) * (size // 256)
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
    got = bytearray()
    try:
        s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % env.echo.port)
        head, rest = read_head(s)
        assert head.startswith("HTTP/1.1 200 "), head
        got += rest

        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        time.sleep(0.5)  # nobody reads yet: back-pressure all the way to the sender
        deadline = time.time() + 30
        while len(got) < size and time.time() < deadline:
            b = s.recv(1 << 16)
            if not b:
                break
            got += b
        t.join(10)
    finally:
        s.close()
    assert len(got) == size and bytes(got) == data


def test_connect_tls_with_curl(env):
    """curl --proxytunnel to a statusd TLS listener: the TLS session runs through the tunnel."""
    srv = env.fw
    rc, out, err = curl("-p", "-x", "http://127.0.0.1:%d" % srv.port, "--cacert", env.pki.ca,
                        "https://127.0.0.1:%d/status/200" % env.tls.tls_port)
    rs = heads(out)
    assert rc == 0 and len(rs) == 2 and rs[0].status == 200 and rs[1].status == 200, (rc, out[:500], err)
    connect_head = out.split(b"\r\n\r\n")[0].lower()
    assert b"content-length" not in connect_head and b"transfer-encoding" not in connect_head, connect_head
    assert rs[1].body == b"200 OK", rs[1]
    log_line(srv, '"CONNECT 127.0.0.1:%d HTTP/1.1" 200 ' % env.tls.tls_port)


def test_refused_connect_does_not_read_what_follows(env):
    """Optimistic tunnel bytes right behind a refused CONNECT are never taken for a request."""
    srv = env.strict
    got = raw(srv.port, b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: x\r\n\r\nGET /codes/200 HTTP/1.1\r\nHost: x\r\n\r\n")
    rs, rest = parse_responses(got)
    assert [r.status for r in rs] == [403] and rest == b"", got


def test_absolute_form_https(env):
    """GET https://… to the proxy (RFC 9112 §3.2.2 allows it; curl uses CONNECT): TLS from the
    proxy to the origin, its certificate verified against proxy.tls.ca."""
    srv = env.proxy("tlsfwd", {"/": "{proxy: {%s, tls: {ca: %s}}}" % (env.OPEN, env.pki.ca)})
    target = "https://127.0.0.1:%d/status/202" % env.tls.tls_port
    r = one(srv.port, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())
    assert r.status == 202 and r.header("proxy-status") == "statusd; received-status=202", r
    r = one(env.fw.port, b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode())
    check_gateway(env.fw, r, 502, "tls_certificate", "tls_certificate_error", '"GET %s HTTP/1.1" 502' % target, "tls")


def test_connect_port_denied(env):
    srv = env.strict
    rc, out, err = curl("-p", "-x", "http://127.0.0.1:%d" % srv.port, "http://127.0.0.1:%d/ok" % env.up_port)
    assert rc != 0 and "403" in err and heads(out)[0].status == 403, err  # curl does not show the body
    r = one(srv.port, b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % env.echo.port)
    check_refusal(srv, r, 403, "forward:port_denied", "http_request_denied",
                  '"CONNECT 127.0.0.1:%d HTTP/1.1" 403' % env.echo.port)


def test_connect_without_forward_mode_is_405(make_server):
    srv = make_server()
    r = one(srv.port, b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n")
    assert r.status == 405 and r.header("allow") and r.header("proxy-status") is None, r


def test_connect_to_a_host_without_forward_mode_is_405(env):
    """Forward mode on one host's / only: CONNECT naming another configured host is 405 there."""
    # two hosts: the default one forwards, site.test serves files
    conf = ('hosts:\n  "*":\n    paths:\n      /: {proxy: {%s}}\n  site.test:\n    paths:\n      /: {root: /tmp}\n'
            % env.OPEN)
    path = write_yaml(conf)
    os.chmod(path, 0o644)
    env.files.append(path)
    two = env._start("two", "--config", path, dns=False)
    r = one(two.port, b"CONNECT site.test:443 HTTP/1.1\r\nHost: site.test:443\r\n\r\n")
    assert r.status == 405 and r.header("allow"), r
    r = one(two.port, b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % env.dead)
    assert r.status == 502, r


# ---- 407: the policy module's proxy-scoped auth ----
def test_proxy_auth_absolute_form(env):
    srv = env.auth
    proxy = "http://127.0.0.1:%d" % srv.port
    url = "http://127.0.0.1:%d/echo" % env.up_port
    rc, out, _ = curl("-x", proxy, url)
    r = heads(out)[-1]
    assert r.status == 407 and r.header("proxy-authenticate", "").startswith('Basic realm="Proxy"'), r
    line = log_line(srv, '"GET %s HTTP/1.1" 407' % url)
    assert "rule=auth:missing" in line, line
    rc, out, _ = curl("-x", proxy, "--proxy-user", "alice:nope", url)
    assert heads(out)[-1].status == 407
    rc, out, _ = curl("-x", proxy, "--proxy-user", "alice:wonder", url)
    r = heads(out)[-1]
    assert r.status == 200 and b"Proxy-Authorization" not in r.body and b"proxy-authorization" not in r.body.lower()
    # origin-form is not a proxy request: no credentials asked, the path's own answer
    r = one(srv.port, b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert r.status == 421 and r.header("proxy-authenticate") is None, r


def test_proxy_auth_connect(env):
    srv = env.auth
    r = one(srv.port, b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % env.echo.port)
    assert r.status == 407 and r.header("proxy-authenticate", "").startswith("Basic "), r
    assert "rule=auth:missing" in log_line(srv, '"CONNECT 127.0.0.1:%d HTTP/1.1" 407 ' % env.echo.port)
    rc, out, err = curl("-p", "-x", "http://127.0.0.1:%d" % srv.port, "--proxy-user", "alice:wonder", "--cacert",
                        env.pki.ca, "https://127.0.0.1:%d/status/204" % env.tls.tls_port)
    rs = heads(out)
    # curl shows the 407 it met first only when it had no credentials; here: the tunnel, then 204
    assert rc == 0 and rs[-1].status == 204 and any(x.status == 200 for x in rs), (rc, out[:400], err)
    rc, out, err = curl("-p", "-x", "http://127.0.0.1:%d" % srv.port, "--proxy-user", "alice:bad",
                        "http://127.0.0.1:%d/ok" % env.up_port)
    assert rc != 0 and heads(out)[0].status == 407, (out[:300], err)
    # --proxy-anyauth: a CONNECT without credentials first, its 407 keeps the connection, the
    # second CONNECT on it carries them (the challenge's scheme)
    rc, out, err = curl("-v", "-p", "--proxy-anyauth", "-x", "http://127.0.0.1:%d" % srv.port, "--proxy-user",
                        "alice:wonder", "http://127.0.0.1:%d/ok" % env.up_port)
    statuses = [int(m) for m in re.findall(rb"^HTTP/1\.1 (\d{3}) ", out, re.M)]
    assert rc == 0 and statuses == [407, 200, 200] and out.endswith(b"hello"), (out[:600], err)
    assert "Re-using existing connection" in err or err.count("Connected to") == 1, err


# ---- configuration ----
def check_t(*args):
    return subprocess.run([BIN, "-t", *args], capture_output=True, text=True, timeout=20)


def test_config_mistakes_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    for setting, words in (("connect_ports: '443-80'", "proxy.connect_ports: '443-80' is not a port"),
                           ("forward_ports: http", "proxy.forward_ports: 'http' is not a port"),
                           ("forward_deny: 10.0.0.1/8", "proxy.forward_deny: '10.0.0.1/8'"),
                           ("forward_allow: nowhere", "proxy.forward_allow: 'nowhere'"),
                           ("forward_hosts: 'a..b.test'", "proxy.forward_hosts: 'a..b.test' is not a host name"),
                           ("forward_hosts_deny: '*.'", "proxy.forward_hosts_deny: '*.' is not a host name"),
                           ("forward_hosts: '[::1'", "proxy.forward_hosts: '[::1' is not a host name")):
        bad.write_text('hosts:\n  "*":\n    paths:\n      /:\n        proxy:\n          forward: true\n'
                       "          %s\n" % setting)
        r = check_t("--config", str(bad))
        assert r.returncode != 0 and r.stderr.startswith("statusd: %s:7: %s" % (bad, words)), (setting, r.stderr)
    good = tmp_path / "good.yaml"
    good.write_text('hosts:\n  "*":\n    paths:\n      /: {proxy: {forward: true, connect_ports: "443, 8443-8444", '
                    'forward_allow: "10.0.0.0/8", forward_deny: none, forward_hosts: "*.debian.org, .github.com, '
                    '[2001:db8::1], 192.0.2.1", forward_hosts_deny: "evil.github.com"}}\n')
    assert check_t("--config", str(good)).returncode == 0
    r = check_t("--proxy-forward", "--root", str(tmp_path))
    assert r.returncode != 0 and "--proxy-forward and --root would both serve /" in r.stderr, r.stderr
    r = check_t("--config", str(good), "--proxy-forward")
    assert r.returncode != 0 and "proxy.forward" in r.stderr, r.stderr


def test_flag_form(make_server, env):
    srv = make_server("--proxy-forward", "--proxy-forward-deny", "none", "--proxy-connect-ports", "1024-65535",
                      "--metrics-path", "/_m")
    rc, out, _ = curl("-x", "http://127.0.0.1:%d" % srv.port, "http://127.0.0.1:%d/ok" % env.up_port)
    assert heads(out)[-1].status == 200 and heads(out)[-1].body == b"hello"
    got = raw(srv.port, b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % env.bye.port, timeout=TIMEOUT)
    assert got.startswith(b"HTTP/1.1 200 ") and got.endswith(b"\r\n\r\nbye\n"), got
    # statusd's own pages stay (the API moves under /_api, as with --proxy)
    rc, out, _ = curl("http://127.0.0.1:%d/codes/407" % srv.port)
    assert heads(out)[-1].status == 200
    rc, out, _ = curl("http://127.0.0.1:%d/x" % srv.port)
    assert heads(out)[-1].status == 421
    assert one(srv.port, b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n").status == 403
    # /metrics: forward attempts under one label; refusals by cause
    log_line(srv, '"CONNECT 127.0.0.1:%d HTTP/1.1" 200 ' % env.bye.port)
    from prometheus_client.parser import text_string_to_metric_families
    rc, out, _ = curl("http://127.0.0.1:%d/_m" % srv.port)
    attempts, errors = {}, {}
    for fam in text_string_to_metric_families(heads(out)[-1].body.decode()):
        for smp in fam.samples:
            if smp.name == "statusd_upstream_attempts_total":
                attempts[(smp.labels["upstream"], smp.labels["outcome"])] = smp.value
            elif smp.name == "statusd_http_request_errors_total":
                errors[smp.labels["cause"]] = smp.value
    assert attempts == {("_forward", "response"): 2}, attempts
    assert errors.get("forward:port_denied") == 1 and errors.get("forward:origin_form") == 1, errors


def test_explain_lists_the_causes():
    out = subprocess.run([BIN, "explain", "--causes", "4xx"], capture_output=True, text=True, timeout=20).stdout
    for cause, status in (("forward:bad_target", 400), ("forward:port_denied", 403),
                          ("forward:destination_denied", 403), ("forward:origin_form", 421),
                          ("forward:host_denied", 403)):
        assert any(l.split()[:2] == [str(status), cause] for l in out.splitlines()), (cause, out)
