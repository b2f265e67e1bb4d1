"""TLS in operations: each status only TLS causes (421, 425, 426, 495, 496, 497, and the 308s of
redirect_to_https / plain_http: redirect) and each failed handshake carries its cause id in the
json access log beside the TLS fields (tls, cipher, tls_error); /metrics counts them
(statusd_http_request_errors_total by cause, statusd_tls_handshakes_total by version and cipher,
statusd_tls_handshake_failures_total by cause and reason); `statusd explain --causes` lists them.
Every exchange is over a real socket with the client that causes it."""
import json
import re
import socket
import subprocess
import time

import pytest

from conftest import BIN, one_response, read_all
from tlsutil import Pki, s_client, status_of


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


def write_yaml(tmp_path, text):
    p = tmp_path / "statusd.yaml"
    p.write_text(text)
    return str(p)


def records(s):
    return [json.loads(l) for l in s.access_log() if l.startswith("{")]


def record_of(s, cause, timeout=5.0):
    """The one json line with this cause (waits for it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        rs = [r for r in records(s) if r["cause"] == cause]
        if rs:
            assert len(rs) == 1, rs
            return rs[0]
        time.sleep(0.05)
    raise AssertionError("no log line with cause %s in %r" % (cause, records(s)))


def raw(port, data):
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        c.sendall(data)
        return one_response(read_all(c, 5))
    finally:
        c.close()


def curl(port, host, *args, path="/get"):
    r = subprocess.run(["curl", "-sS", "-i", "--resolve", "%s:%d:127.0.0.1" % (host, port), *args,
                        "https://%s:%d%s" % (host, port, path)], capture_output=True, timeout=20)
    return r.stdout.decode("latin-1")


def scrape(port):
    r = raw(port, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert r.status == 200 and r.header("content-type").startswith("text/plain; version=0.0.4"), r
    return r.body.decode()


def sample(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in labels.items())
    m = re.search(r"^%s\{%s\} (\d+)$" % (re.escape(name), re.escape(want)), text, re.M)
    return int(m.group(1)) if m else 0


def test_tls_causes_in_the_json_log_and_metrics(make_server, pki, tmp_path):
    d, a, b = pki.server("d", ("localhost",)), pki.server("a.test", ("a.test",)), pki.server("b.test", ("b.test",))
    stranger = pki.client("mallory", trusted=False)
    conf = write_yaml(tmp_path, """
listen: ["127.0.0.1:0", "tls://127.0.0.1:0"]
log_format: json
metrics_path: /metrics
handshake_timeout: 300ms
tls: {cert: %s, key: %s}
hosts:
  localhost:
    paths:
      /: {api: true}
      /status: {require_tls: true}
      /anything: {redirect_to_https: true}
  a.test:
    tls: {cert: %s, key: %s, client_certs: {ca: %s, verify: required}}
    paths: {/: {api: true}}
  b.test: {tls: {cert: %s, key: %s}, paths: {/: {api: true}}}
""" % (d[0], d[1], a[0], a[1], pki.ca, b[0], b[1]))
    s = make_server("--config", conf, listen=None, ports=2)
    plain, tp = s.ports[0], s.tls_port

    # 426 and 308 on the plain listener (RFC 9110 §15.5.22, RFC 2817 §4)
    r = raw(plain, b"GET /status/200 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert r.status == 426 and r.header("upgrade") == "TLS/1.3, HTTP/1.1", r
    assert r.body.startswith(b"426 Upgrade Required\nthis resource needs TLS: use https://localhost:%d/status/200\n"
                             % tp), r.body
    rec = record_of(s, "tls_required")
    assert rec["status"] == 426 and "tls" not in rec and "cipher" not in rec, rec
    r = raw(plain, b"GET /anything/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert r.status == 308 and r.header("location") == "https://localhost:%d/anything/x" % tp
    assert record_of(s, "https_redirect")["status"] == 308

    # 497: plain HTTP on the TLS port, answered in plain text, then closed
    r = raw(tp, b"GET /get HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert r.status == 497 and r.reason == "HTTP Request Sent to HTTPS Port" and r.header("connection") == "close"
    assert r.body.startswith(b"497 HTTP Request Sent to HTTPS Port\nthis port speaks HTTPS, not plain HTTP: use "
                             b"https://localhost:%d/get\n" % tp), r.body
    rec = record_of(s, "plain_http_on_tls")
    assert rec["status"] == 497 and rec["tls_error"] == "plain HTTP on a TLS port" and "tls" not in rec, rec

    # 421: SNI chose b.test, Host names localhost
    rc, out = s_client(tp, "-servername", "b.test", "-CAfile", pki.ca,
                       data=b"GET /get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 421 and "set up (SNI) for b.test, another host" in out, out[-1500:]
    rec = record_of(s, "sni_host_mismatch")
    assert rec["status"] == 421 and rec["tls"] == "TLSv1.3" and rec["cipher"].startswith("TLS_"), rec

    # 496 and 495 on a.test, over the established session
    out = curl(tp, "a.test", "--cacert", pki.ca)
    assert out.startswith("HTTP/1.1 496 SSL Certificate Required\r\n"), out
    assert "\r\n\r\n496 SSL Certificate Required\nthis server requires a client certificate and the TLS " \
           "handshake brought none\n" in out, out
    rec = record_of(s, "client_cert_missing")
    assert rec["status"] == 496 and rec["tls"] == "TLSv1.3" and rec["host"] == "a.test:%d" % tp, rec
    out = curl(tp, "a.test", "--cacert", pki.ca, "--cert", stranger[0], "--key", stranger[1])
    assert out.startswith("HTTP/1.1 495 SSL Certificate Error\r\n") and "failed verification: unable to" in out, out
    assert record_of(s, "client_cert_invalid")["status"] == 495

    # failed handshakes: no shared cipher (statusd's side), an alert (the client's), a timeout
    s_client(tp, "-tls1_2", "-cipher", "AES256-SHA")
    rec = record_of(s, "tls_handshake_failed")
    assert rec["status"] == 444 and rec["tls_error"] == "no shared cipher" and rec["request"] == "-", rec
    s_client(tp, "-servername", "localhost", "-verify_return_error", "-verify", "1")
    rec = record_of(s, "tls_handshake_aborted")
    assert rec["status"] == 499 and "alert" in rec["tls_error"] and rec["tls"] == "TLSv1.3", rec
    c = socket.create_connection(("127.0.0.1", tp), timeout=5)
    c.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    assert read_all(c, 5) == b""
    c.close()
    rec = record_of(s, "tls_handshake_timeout")
    assert rec["status"] == 444 and "within handshake_timeout" in rec["tls_error"], rec

    # a served request over TLS: its version and cipher
    rc, out = s_client(tp, "-servername", "localhost", "-CAfile", pki.ca,
                       data=b"GET /status/200 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 200
    # the line is written when the request ends, which may be just after s_client has read the
    # response and gone: wait for it (bounded) rather than read the log once
    deadline = time.time() + 5
    ok = []
    while not ok and time.time() < deadline:
        ok = [r for r in records(s) if r["status"] == 200 and r.get("tls")]
        if not ok:
            time.sleep(0.05)
    assert len(ok) == 1 and ok[0]["cipher"].startswith("TLS_") and "tls_error" not in ok[0], ok

    m = scrape(plain)
    E = "statusd_http_request_errors_total"
    for cause in ("tls_required", "plain_http_on_tls", "sni_host_mismatch", "client_cert_missing",
                  "client_cert_invalid", "tls_handshake_failed", "tls_handshake_aborted", "tls_handshake_timeout"):
        assert sample(m, E, cause=cause) == 1, (cause, m)
    F = "statusd_tls_handshake_failures_total"
    assert sample(m, F, cause="tls_handshake_failed", reason="no shared cipher") == 1, m
    assert sample(m, F, cause="tls_handshake_timeout",
                  reason="the TLS handshake did not complete within handshake_timeout") == 1, m
    assert re.search(r'^%s\{cause="tls_handshake_aborted",reason="[^"]*alert[^"]*"\} 1$' % F, m, re.M), m
    hs = re.findall(r'^statusd_tls_handshakes_total\{version="(TLSv1\.[23])",cipher="([^"]+)"\} (\d+)$', m, re.M)
    # 421, 496, 495 and the 200 (the aborted one never completed: the client's alert replaced its Finished)
    assert sum(int(n) for _, _, n in hs) == 4 and {v for v, _, _ in hs} == {"TLSv1.3"}, hs


def test_425_cause_in_the_json_log(make_server, pki, tmp_path):
    chain, key = pki.server("localhost")
    s = make_server("--tls-cert", chain, "--tls-key", key, "--tls-early-data", "--log-format", "json",
                    "--metrics-path", "/metrics", listen="tls://127.0.0.1:0")
    p = s.tls_port
    sess = str(tmp_path / "sess.pem")
    rc, out = s_client(p, "-CAfile", pki.ca, "-sess_out", sess,
                       data=b"GET /get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 200, out[-1500:]
    ed = tmp_path / "early.txt"
    ed.write_bytes(b"DELETE /anything HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    rc, out = s_client(p, "-CAfile", pki.ca, "-sess_in", sess, "-early_data", str(ed))
    assert "Early data was accepted" in out and status_of(out) == 425, out[-1500:]
    assert "425 Too Early\r\n" in out and "Content-Type: text/plain; charset=utf-8" in out
    rec = record_of(s, "early_data_unsafe")
    assert rec["status"] == 425 and rec["method"] == "DELETE" and rec["tls"] == "TLSv1.3", rec


def test_explain_lists_the_tls_causes():
    out = subprocess.run([BIN, "explain", "--causes"], capture_output=True, text=True, timeout=10).stdout
    for code, cause in ((421, "sni_host_mismatch"), (425, "early_data_unsafe"), (426, "tls_required"),
                        (495, "client_cert_invalid"), (496, "client_cert_missing"), (497, "plain_http_on_tls"),
                        (308, "plain_http_redirect"), (308, "https_redirect"), (444, "tls_handshake_failed"),
                        (499, "tls_handshake_aborted"), (444, "tls_handshake_timeout")):
        assert re.search(r"^%d\s+%s\s+\S" % (code, cause), out, re.M), (code, cause, out)
