"""The gateway to https:// upstreams: issue 13's TLS rows (525 tls_handshake and tls_alert, 526
tls_certificate) through the real binary in all three modes, and the happy paths.

Certificates are made at test time (tlsutil.Pki: a test CA the gateway trusts through
proxy.tls.ca, and a second Pki whose CA it does not know). Upstreams, each on its own
127.0.0.1 port: statusd with a tls:// listener (the happy path, keep-alive reuse counted by its
own statusd_tls_handshakes_total, a client certificate required), statusd with a certificate
from the unknown CA, fixtures/tls_upstream.py serving an expired certificate, one for another
name, one that reports the SNI it got, one that sends garbage instead of TLS, three that answer
the ClientHello with a fatal alert (handshake_failure, unrecognized_name, a number the registry
does not name), a plain-HTTP statusd, and a listener that never speaks (the handshake runs out of
the connect timeout). Every failure asserts the status of its mode, Proxy-Status (RFC 9209
§2.3.13 tls_protocol_error, §2.3.14 tls_certificate_error, §2.3.15 tls_alert_received with
alert-id and alert-message), the reason in the error page, and the json access log's cause and
upstream fields (upstream_tls_error: the reason; upstream_tls_alert); /metrics counts the cause.
"""
import json
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import BIN, BAD_STDERR, Server
from proxy_helpers import PY, Proc, get, write_yaml
from tlsutil import Pki

HERE = os.path.dirname(os.path.abspath(__file__))
TLS_UPSTREAM = os.path.join(HERE, "fixtures", "tls_upstream.py")
MODES = ("standard", "detailed", "timeouts")
# cause -> (standard, detailed, timeouts) and the Proxy-Status error type (src/http/upstream.def)
TABLE = {
    "tls_handshake": ((502, 525, 502), "tls_protocol_error"),  # RFC 9209 §2.3.13
    "tls_certificate": ((502, 526, 502), "tls_certificate_error"),  # RFC 9209 §2.3.14
    "tls_alert": ((502, 525, 502), "tls_alert_received"),  # RFC 9209 §2.3.15
    "connect_timeout": ((504, 522, 599), "connection_timeout"),  # RFC 9209 §2.3.9
}


def tls_upstream(mode, cert=None, key=None, alert=None):
    args = [PY, TLS_UPSTREAM, "--mode", mode]
    if cert:
        args += ["--cert", cert, "--key", key]
    if alert is not None:
        args += ["--alert", str(alert)]
    p = Proc(args, "port ")
    return p, int(p.first.split()[1])


class Upstreams:
    def __init__(self, tmp):
        self.pki = Pki(os.path.join(tmp, "pki"))
        self.stranger = Pki(os.path.join(tmp, "other"))  # a CA the gateway does not trust
        self.procs, self.servers = [], []
        chain, key = self.pki.server("good")
        self.good = self._statusd("--tls-cert", chain, "--tls-key", key, "--metrics-path", "/metrics",
                                  listen="tls://127.0.0.1:0")
        self.mtls = self._statusd("--tls-cert", chain, "--tls-key", key, "--tls-client-certs-ca", self.pki.ca,
                                  "--tls-client-certs-verify", "required", listen="tls://127.0.0.1:0")
        _, skey = self.stranger.server("stranger")
        self.unknown_ca = self._statusd("--tls-cert", self.stranger.path("stranger.leaf.pem"), "--tls-key", skey,
                                        listen="tls://127.0.0.1:0")
        self.plain = self._statusd()
        self.expired = self._proc("ok", *self.pki.expired_server("expired"))
        self.wrong_name = self._proc("ok", *self.pki.server("wrong", names=("other.test",), ips=()))
        self.sni = self._proc("ok", *self.pki.server("sni"))
        self.garbage = self._proc("garbage")
        self.alert = self._proc("alert")  # 40 handshake_failure
        self.alert_name = self._proc("alert", alert=112)  # unrecognized_name
        self.alert_unnamed = self._proc("alert", alert=199)  # no name in the registry
        self.require_cert = self._proc("require-cert", *self.pki.server("reqcert"))  # TLS 1.3, mTLS
        # TCP connections complete in the kernel's backlog; nothing ever answers the ClientHello
        self.silent = socket.socket()
        self.silent.bind(("127.0.0.1", 0))
        self.silent.listen(16)
        self.client_cert = self.pki.client("gateway")

    def _statusd(self, *args, listen="127.0.0.1:0"):
        s = Server(*args, listen=listen)
        self.servers.append(s)
        return s.port

    def _proc(self, mode, cert=None, key=None, alert=None):
        p, port = tls_upstream(mode, cert, key, alert)
        self.procs.append(p)
        return port

    def close(self):
        problems = []
        for s in self.servers:
            rc = s.stop()
            if BAD_STDERR.search(s.stderr()) or rc not in (0, None):
                problems.append((rc, s.stderr()[-2000:]))
        for p in self.procs:
            p.stop()
        self.silent.close()
        assert not problems, problems


@pytest.fixture(scope="module")
def ups(tmp_path_factory):
    u = Upstreams(str(tmp_path_factory.mktemp("uptls")))
    yield u
    u.close()


def gateway_conf(u, mode):
    ca = u.pki.ca
    cert, key = u.client_cert
    return """
hosts:
  "*":
    proxy:
      errors: %(mode)s
      connect_timeout: 400ms
      read_timeout: 3s
      tls: {ca: %(ca)s}
    paths:
      /ok: {proxy: {upstreams: ["https://127.0.0.1:%(good)d/"]}}
      /by-name: {proxy: {upstreams: ["https://localhost:%(sni)d/"]}}
      /by-ip: {proxy: {upstreams: ["https://127.0.0.1:%(sni)d/"]}}
      /unknown-ca: {proxy: {upstreams: ["https://127.0.0.1:%(unknown_ca)d/"]}}
      /expired: {proxy: {upstreams: ["https://127.0.0.1:%(expired)d/"]}}
      /wrong-name: {proxy: {upstreams: ["https://localhost:%(wrong_name)d/"]}}
      /plain: {proxy: {upstreams: ["https://127.0.0.1:%(plain)d/"]}}
      /garbage: {proxy: {upstreams: ["https://127.0.0.1:%(garbage)d/"]}}
      /alert: {proxy: {upstreams: ["https://127.0.0.1:%(alert)d/"]}}
      /alert-112: {proxy: {upstreams: ["https://127.0.0.1:%(alert_name)d/"]}}
      /alert-199: {proxy: {upstreams: ["https://127.0.0.1:%(alert_unnamed)d/"]}}
      /require-cert: {proxy: {upstreams: ["https://127.0.0.1:%(require_cert)d/"]}}
      /silent: {proxy: {upstreams: ["https://127.0.0.1:%(silent)d/"]}}
      /insecure-unknown-ca: {proxy: {upstreams: ["https://127.0.0.1:%(unknown_ca)d/"], tls: {insecure: true}}}
      /insecure-expired: {proxy: {upstreams: ["https://127.0.0.1:%(expired)d/"], tls: {insecure: true}}}
      /insecure-wrong-name: {proxy: {upstreams: ["https://localhost:%(wrong_name)d/"], tls: {insecure: true}}}
      /mtls: {proxy: {upstreams: ["https://127.0.0.1:%(mtls)d/"], tls: {cert: %(cert)s, key: %(key)s}}}
      /mtls-none: {proxy: {upstreams: ["https://127.0.0.1:%(mtls)d/"]}}
      /_m: {metrics: true}
""" % dict(mode=mode, ca=ca, cert=cert, key=key, good=u.good, sni=u.sni, unknown_ca=u.unknown_ca,
           expired=u.expired, wrong_name=u.wrong_name, plain=u.plain, garbage=u.garbage, alert=u.alert,
           alert_name=u.alert_name, alert_unnamed=u.alert_unnamed, require_cert=u.require_cert,
           silent=u.silent.getsockname()[1], mtls=u.mtls)


@pytest.fixture(scope="module")
def gws(ups):
    servers, files = {}, []

    def gw(mode):
        if mode not in servers:
            path = write_yaml(gateway_conf(ups, mode))
            files.append(path)
            servers[mode] = Server("--config", path, "--log-format", "json")
        return servers[mode]

    yield gw
    problems = []
    for s in servers.values():
        rc = s.stop()
        if BAD_STDERR.search(s.stderr()) or rc not in (0, None):
            problems.append((rc, s.stderr()[-2000:]))
    for f in files:
        os.unlink(f)
    assert not problems, problems


def record(srv, target, timeout=5.0):
    """The json access log record of the one request for `target` (waits for it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        rs = [json.loads(l) for l in srv.access_log() if l.startswith("{")]
        rs = [r for r in rs if r["target"] == target]
        if rs:
            assert len(rs) == 1, rs
            return rs[0]
        time.sleep(0.05)
    raise AssertionError("no log record for %s" % target)


def check_failure(srv, mode, target, cause, why, phase="tls", params=""):
    r, _, raw = get(srv.port, target, timeout=10)
    assert r is not None, raw[:300]
    statuses, etype = TABLE[cause]
    want = statuses[MODES.index(mode)]
    assert r.status == want, (mode, target, r.status, raw[:600])
    assert r.header("proxy-status") == 'statusd; error=%s%s; details="%s"' % (etype, params, cause), r
    assert r.header("retry-after") is None
    # the page says why (OpenSSL's words), names the cause and the request, not the address
    rec = record(srv, target)
    assert ("%s (cause %s; request %d)" % (why, cause, rec["request_id"])).encode() in r.body, r.body
    assert b"127.0.0.1:" not in r.body and b"localhost:" not in r.body, r.body
    assert rec["status"] == want and rec["cause"] == "upstream_" + cause, rec
    assert rec["upstream_cause"] == cause and rec["upstream_status"] == str(want), rec
    assert rec["upstream_phase"] in (phase if isinstance(phase, tuple) else (phase,)), rec
    # the reason is the log's too (a TLS cause), bounded and escaped by the log's renderer
    if cause.startswith("tls_"):
        assert rec["upstream_tls_error"] == why, rec
    else:
        assert "upstream_tls_error" not in rec, rec
    if cause != "tls_alert":
        assert "upstream_tls_alert" not in rec, rec
    return r, rec


# ---- 526: the upstream's certificate ---------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path,why", [
    ("/unknown-ca", "unable to get local issuer certificate"),
    ("/expired", "certificate has expired"),
    ("/wrong-name", "hostname mismatch"),
])
def test_certificate_invalid(ups, gws, mode, path, why):
    check_failure(gws(mode), mode, path + "/get", "tls_certificate", why)


# ---- 525: the handshake ----------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path,why", [
    ("/plain", "wrong version number"),  # a plain HTTP server: its 400 is no TLS record
    ("/garbage", "wrong version number"),  # bytes that are not TLS, before the ClientHello's answer
])
def test_handshake_failed(ups, gws, mode, path, why):
    check_failure(gws(mode), mode, path + "/get", "tls_handshake", why)


# ---- 525: an alert from the upstream (RFC 9209 §2.3.15) -------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path,alert,name,why", [
    ("/alert", 40, "handshake_failure", "sslv3 alert handshake failure"),
    ("/alert-112", 112, "unrecognized_name", "tlsv1 unrecognized name"),
    ("/alert-199", 199, None, "TLS error"),  # OpenSSL has no words for it, nor the registry a name
])
def test_alert_received(ups, gws, mode, path, alert, name, why):
    """A fatal alert in answer to the ClientHello is the upstream's refusal: tls_alert, with the
    alert's number (alert-id, an sf-integer) and its registry name (alert-message, a string)."""
    params = "; alert-id=%d" % alert + ('; alert-message="%s"' % name if name else "")
    _, rec = check_failure(gws(mode), mode, path + "/get", "tls_alert", why, params=params)
    assert rec["upstream_tls_alert"] == str(alert), rec


@pytest.mark.parametrize("mode", MODES)
def test_alert_after_the_handshake(ups, gws, mode):
    """TLS 1.3: a server that wants a client certificate refuses one missing after the client's
    Finished (RFC 8446 §4.4.2.4): the certificate_required alert is the first thing the gateway
    reads, while it sends the request or waits for the response. Still the upstream's alert, not
    a closed connection."""
    params = '; alert-id=116; alert-message="certificate_required"'
    _, rec = check_failure(gws(mode), mode, "/require-cert/get", "tls_alert", "tlsv13 alert certificate required",
                           phase=("send", "wait"), params=params)  # it may come before the request is out
    assert rec["upstream_tls_alert"] == "116", rec


@pytest.mark.parametrize("mode", MODES)
def test_handshake_timeout_is_a_connect_timeout(ups, gws, mode):
    """The handshake counts against proxy.connect_timeout (400 ms here): a server that takes the
    TCP connection and never answers the ClientHello is the connect timeout's row, phase tls."""
    t0 = time.monotonic()
    check_failure(gws(mode), mode, "/silent/get", "connect_timeout",
                  "the TLS handshake with the upstream did not end in time")
    assert time.monotonic() - t0 >= 0.35


def test_combined_log_names_the_reason(ups):
    """The text (combined) access log carries the same fields: the reason quoted (it has spaces),
    the alert's number bare, and nothing of the kind for a failure that is not TLS's; a template
    has them as $field_upstream_tls_error and $field_upstream_tls_alert."""
    path = write_yaml(gateway_conf(ups, "detailed"))
    srv = Server("--config", path)
    try:
        assert get(srv.port, "/expired/c")[0].status == 526
        assert get(srv.port, "/alert/c")[0].status == 525
        assert get(srv.port, "/silent/c", timeout=10)[0].status == 522
        lines = {}
        for target in ("/expired/c", "/alert/c", "/silent/c"):
            got = [l for l in srv.access_log(wait_for='"GET %s ' % target) if '"GET %s ' % target in l]
            assert len(got) == 1, got
            lines[target] = got[0]
        assert ' upstream_phase=tls upstream_tls_error="certificate has expired" upstream_timing=' \
            in lines["/expired/c"], lines
        assert ' upstream_tls_error="sslv3 alert handshake failure" upstream_tls_alert=40 upstream_timing=' \
            in lines["/alert/c"], lines
        assert "upstream_cause=connect_timeout" in lines["/silent/c"] and "upstream_tls_" not in lines["/silent/c"]
    finally:
        rc = srv.stop()
    assert rc in (0, None) and not BAD_STDERR.search(srv.stderr()), srv.stderr()[-2000:]
    # a template names them as $field_NAME ("-" when absent)
    srv = Server("--config", path, "--log-format", "T $target|$field_upstream_tls_error|$field_upstream_tls_alert")
    try:
        assert get(srv.port, "/alert/t")[0].status == 525
        assert get(srv.port, "/expired/t")[0].status == 526
        got = [l.strip() for l in srv.access_log(wait_for="T /", count=2)]
        assert "T /alert/t|sslv3 alert handshake failure|40" in got, got
        assert "T /expired/t|certificate has expired|-" in got, got
    finally:
        rc = srv.stop()
        os.unlink(path)
    assert rc in (0, None) and not BAD_STDERR.search(srv.stderr()), srv.stderr()[-2000:]


# ---- 200 -------------------------------------------------------------------------------------
def handshakes(srv, target):
    """The good upstream's statusd_tls_handshakes_total (summed), read through the gateway."""
    r = get(srv.port, target)[0]
    assert r.status == 200, r
    return sum(int(v) for v in re.findall(r"^statusd_tls_handshakes_total\{[^}]*\} (\d+)$", r.body.decode(), re.M))


@pytest.mark.parametrize("mode", MODES)
def test_happy_path_and_keepalive_reuse(ups, gws, mode):
    """A statusd tls:// listener verified against the test CA: 200 with the body relayed, and
    the pooled connection keeps its TLS session: no handshake for the requests after the first."""
    srv = gws(mode)
    before = handshakes(srv, "/ok/metrics")
    for i in range(3):
        r, _, raw = get(srv.port, "/ok/status/200?n=%d" % i)
        assert r.status == 200 and r.header("proxy-status") == "statusd; received-status=200", raw[:400]
        rec = record(srv, "/ok/status/200?n=%d" % i)
        assert rec["upstream_status"] == "200" and rec["upstream_cause"] == "-", rec
    r, _, raw = get(srv.port, "/ok/get?x=1")
    body = json.loads(r.body)
    assert r.status == 200 and body["args"] == {"x": "1"} and body["headers"]["Host"] == "proxy.test", body
    assert handshakes(srv, "/ok/metrics") == before  # every request above went on the same session


def test_sni_is_the_upstream_host(ups, gws):
    """SNI carries the upstream's host name (RFC 6066 §3), and nothing for an IP address."""
    srv = gws("standard")
    r = get(srv.port, "/by-name/x")[0]
    assert r.status == 200 and r.body == b"sni=localhost", r
    r = get(srv.port, "/by-ip/x")[0]
    assert r.status == 200 and r.body == b"sni=-", r


@pytest.mark.parametrize("path", ["/insecure-unknown-ca", "/insecure-expired", "/insecure-wrong-name"])
def test_insecure_accepts_any_certificate(ups, gws, path):
    """proxy.tls.insecure: true turns each 526 into the upstream's answer."""
    srv = gws("detailed")
    r = get(srv.port, path + "/get")[0]
    assert r.status == 200 and r.header("proxy-status") == "statusd; received-status=200", r


def test_client_certificate(ups, gws):
    """proxy.tls.cert/key: the gateway presents a client certificate; without one, the upstream's
    own 496 (nginx's "SSL Certificate Required") is relayed as any upstream status."""
    srv = gws("standard")
    r = get(srv.port, "/mtls/get")[0]
    assert r.status == 200, r
    r = get(srv.port, "/mtls-none/get")[0]
    assert r.status == 496 and r.header("proxy-status") == "statusd; received-status=496", r


def test_metrics_count_the_tls_causes(ups, gws):
    """statusd_upstream_attempts_total{outcome} counts the TLS causes like every other."""
    srv = gws("timeouts")

    def attempts(addr):
        r = get(srv.port, "/_m")[0]
        got = {}
        for m in re.finditer(r'^statusd_upstream_attempts_total\{upstream="%s",outcome="(\w+)"\} (\d+)$'
                             % re.escape(addr), r.body.decode(), re.M):
            got[m.group(1)] = int(m.group(2))
        return got

    exp, alert, garbage = ("127.0.0.1:%d" % p for p in (ups.expired, ups.alert, ups.garbage))
    b_exp, b_alert = attempts(exp).get("tls_certificate", 0), attempts(alert).get("tls_alert", 0)
    b_garbage = attempts(garbage).get("tls_handshake", 0)
    assert get(srv.port, "/expired/m")[0].status == 502
    assert get(srv.port, "/alert/m")[0].status == 502
    assert get(srv.port, "/garbage/m")[0].status == 502
    assert attempts(exp).get("tls_certificate", 0) == b_exp + 1
    assert attempts(alert).get("tls_alert", 0) == b_alert + 1
    assert attempts(garbage).get("tls_handshake", 0) == b_garbage + 1
    body = get(srv.port, "/_m")[0].body.decode()
    for cause in ("upstream_tls_certificate", "upstream_tls_handshake", "upstream_tls_alert"):
        assert re.search(r'^statusd_http_request_errors_total\{[^}]*cause="%s"[^}]*\} [1-9]\d*$' % cause, body, re.M), \
            cause


# ---- statusd -t ------------------------------------------------------------------------------
def test_check_names_the_tls_files(tmp_path, ups):
    """`statusd -t` reads the proxy.tls.* files like startup does and names the one at fault with
    its FILE:LINE; https:// URLs are accepted (port 443 by default)."""
    good = write_yaml('hosts:\n  "*":\n    paths:\n      /a: {proxy: {upstreams: ["https://backend.test"], '
                      'tls: {ca: %s}}}\n' % ups.pki.ca)
    bad_ca = write_yaml('hosts:\n  "*":\n    paths:\n      /a:\n        proxy:\n'
                        '          upstreams: ["https://backend.test:8443"]\n'
                        '          tls:\n            ca: /nonexistent/ca.pem\n')
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    bad_pem = write_yaml('hosts:\n  "*":\n    paths:\n      /a:\n        proxy:\n'
                         '          upstreams: ["https://backend.test"]\n          tls: {ca: %s}\n' % not_pem)
    try:
        r = subprocess.run([BIN, "-t", "--config", good], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([BIN, "-t", "--config", bad_ca], capture_output=True, text=True, timeout=10)
        assert r.returncode != 0 and "%s:8:" % bad_ca in r.stderr, r.stderr
        assert "proxy.tls.ca: cannot read /nonexistent/ca.pem: No such file or directory" in r.stderr, r.stderr
        r = subprocess.run([BIN, "-t", "--config", bad_pem], capture_output=True, text=True, timeout=10)
        assert r.returncode != 0 and "%s:7:" % bad_pem in r.stderr, r.stderr
        assert "proxy.tls.ca: cannot load trusted certificates from %s" % not_pem in r.stderr, r.stderr
        r = subprocess.run([BIN, "-t", "--proxy", "https://127.0.0.1:1", "--proxy-tls-cert", str(not_pem)],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode != 0 and "proxy.tls.cert: cannot use the client certificate %s" % not_pem in r.stderr, \
            r.stderr
    finally:
        for f in (good, bad_ca, bad_pem):
            os.unlink(f)
