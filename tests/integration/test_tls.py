"""HTTPS: TLS listeners with certificates made at test time (tlsutil.Pki: a test CA, openssl req /
x509 / ca / ocsp), the happy paths with curl and Python's ssl, and each code only TLS can cause
with the client that causes it: 421 (openssl s_client -servername), 425 (s_client -sess_out /
-sess_in -early_data), 426 and 308 (a plain client on a require_tls path), 495 and 496 (curl with
and without --cert), 497 (a plain socket on the TLS port). Also the Mozilla intermediate profile,
ALPN, session resumption, OCSP stapling, the access log's TLS fields, handshake failures and
timeouts, certificate reload on SIGHUP under load, and `statusd -t` on TLS mistakes."""
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import BIN, Server, one_response, parse_responses, read_all, stop_and_check
from tlsutil import Pki, s_client, status_of


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def cert(pki):
    return pki.server("localhost")


def tls_server(make_server, cert, *args, **kw):
    chain, key = cert
    return make_server("--tls-cert", chain, "--tls-key", key, *args, listen="tls://127.0.0.1:0", **kw)


def https_get(pki, port, path="/get", host="localhost", server_hostname="localhost", ctx=None, session=None,
              extra=b""):
    """One request over a fresh TLS connection; returns (Response, SSLSocket info dict)."""
    ctx = ctx or pki.context()
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname=server_hostname, session=session)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s\r\n" % (path.encode(), host.encode(), extra))
        data = read_all(s, 10)
        info = {"version": s.version(), "cipher": s.cipher()[0], "alpn": s.selected_alpn_protocol(),
                "session": s.session, "reused": s.session_reused}
        return one_response(data), info
    finally:
        s.close()


def write_yaml(tmp_path, text, name="statusd.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


# ---- happy paths ---------------------------------------------------------------------------

def test_curl_gets_the_api_over_https_with_alpn_http11(make_server, pki, cert):
    s = tls_server(make_server, cert)
    r = subprocess.run(["curl", "-sS", "-v", "--cacert", pki.ca, "https://localhost:%d/status/418" % s.tls_port],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert "< HTTP/1.1 418" in r.stderr
    assert "ALPN: server accepted http/1.1" in r.stderr
    assert "TLSv1.3" in r.stderr
    line = [l for l in s.access_log(wait_for="/status/418") if "/status/418" in l][0]
    assert re.search(r'" 418 \d+ "-" "curl/[^"]+" \d+\.\d{3} tls=TLSv1\.3 cipher=TLS_\w+$', line.rstrip("\n")), line


def test_python_ssl_resumes_with_a_ticket_and_tls12_gets_an_intermediate_suite(make_server, pki, cert):
    s = tls_server(make_server, cert)
    r, info = https_get(pki, s.tls_port)
    assert r.status == 200 and info["version"] == "TLSv1.3" and info["alpn"] is None
    assert b'"url"' in r.body
    # TLS 1.2 with ECDHE and an AEAD suite of the profile
    ctx = pki.context(maximum_version=ssl.TLSVersion.TLSv1_2)
    r, info = https_get(pki, s.tls_port, ctx=ctx)
    assert r.status == 200 and info["version"] == "TLSv1.2"
    assert info["cipher"].startswith("ECDHE-ECDSA-") and ("GCM" in info["cipher"] or "CHACHA20" in info["cipher"])
    # the ticket of the first connection resumes the second (TLS 1.2: the session is known at once)
    r2, info2 = https_get(pki, s.tls_port, ctx=ctx, session=info["session"])
    assert r2.status == 200 and info2["reused"], info2


def test_keep_alive_many_requests_and_a_large_body_over_tls(make_server, pki, cert, tmp_path):
    big = os.urandom(300 * 1024 + 7)
    (tmp_path / "big.bin").write_bytes(big)
    (tmp_path / "small.txt").write_bytes(b"hello world\n")
    s = tls_server(make_server, cert, "--root", str(tmp_path), "--user", "root")
    raw = socket.create_connection(("127.0.0.1", s.tls_port), timeout=10)
    c = pki.context().wrap_socket(raw, server_hostname="localhost")
    try:
        for i in range(20):
            path = b"/big.bin" if i % 5 == 4 else b"/small.txt"
            c.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
            buf = b""
            while True:
                rs, _ = parse_responses(buf) if b"\r\n\r\n" in buf else ([], b"")
                if rs and len(rs[0].body) == int(rs[0].header("content-length")):
                    break
                chunk = c.recv(65536)
                assert chunk, "closed early"
                buf += chunk
            r = rs[0]
            assert r.status == 200
            assert r.body == (big if path == b"/big.bin" else b"hello world\n")
        # pipelined requests in one TLS record are answered in order
        c.sendall(b"GET /small.txt HTTP/1.1\r\nHost: l\r\n\r\nHEAD /small.txt HTTP/1.1\r\nHost: l\r\n\r\n"
                  b"GET /small.txt HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
        rs, rest = parse_responses(read_all(c, 10), head_requests=(1,))
        assert [r.status for r in rs] == [200, 200, 200] and rs[2].body == b"hello world\n" and rest == b""
    finally:
        c.close()


def test_mozilla_intermediate_profile(make_server, pki, cert):
    s = tls_server(make_server, cert)
    p = s.tls_port
    # TLS 1.0 and 1.1 are refused; so is a TLS 1.2 suite without forward secrecy or with CBC
    for args in (["-tls1_1"], ["-tls1"], ["-tls1_2", "-cipher", "AES128-GCM-SHA256"],
                 ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"]):
        rc, out = s_client(p, *args, "-CAfile", pki.ca)
        assert "Cipher is (NONE)" in out or rc != 0, (args, out[-600:])
    # the server's order, with ChaCha20 for a client that puts it first
    rc, out = s_client(p, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256",
                       "-CAfile", pki.ca)
    assert "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" in out, out[-800:]
    rc, out = s_client(p, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256",
                       "-CAfile", pki.ca)
    assert "Cipher is ECDHE-ECDSA-CHACHA20-POLY1305" in out, out[-800:]
    # ALPN: http/1.1 chosen from a list; a client offering only h2 gets no_application_protocol
    rc, out = s_client(p, "-alpn", "h2,http/1.1", "-CAfile", pki.ca)
    assert "ALPN protocol: http/1.1" in out, out[-800:]
    rc, out = s_client(p, "-alpn", "h2", "-CAfile", pki.ca)
    assert "no application protocol" in out, out[-800:]
    log = "".join(s.access_log(wait_for="no application protocol"))
    assert re.search(r'"-" 444 0 "-" "-" \d+\.\d{3} tls_error="no application protocol"', log), log


# ---- 497: plain HTTP on a TLS port --------------------------------------------------------

def test_497_plain_http_on_the_tls_port_in_plain_text(make_server, cert):
    s = tls_server(make_server, cert)
    data = s_raw(s.tls_port, b"GET /x?y=1 HTTP/1.1\r\nHost: example.test:%d\r\nAccept: text/plain\r\n\r\n" % s.tls_port)
    r = one_response(data)
    assert r.status == 497 and r.reason == "HTTP Request Sent to HTTPS Port"
    assert r.header("connection") == "close"
    assert b"https://example.test:%d/x?y=1" % s.tls_port in r.body
    line = [l for l in s.access_log(wait_for=" 497 ") if " 497 " in l][0]
    assert line.rstrip("\n").endswith(' tls_error="plain HTTP on a TLS port"'), line


def test_497_even_when_the_first_line_arrives_byte_by_byte(make_server, cert):
    s = tls_server(make_server, cert)
    c = socket.create_connection(("127.0.0.1", s.tls_port), timeout=5)
    try:
        for b in b"GET / HTTP/1.1\r\n":
            c.send(bytes([b]))
            time.sleep(0.005)
        c.sendall(b"Host: h\r\n\r\n")
        assert one_response(read_all(c, 5)).status == 497
    finally:
        c.close()


def test_plain_http_gets_308_on_a_listener_that_says_so(make_server, cert, tmp_path):
    chain, key = cert
    conf = write_yaml(tmp_path, """
listen:
  - {address: "tls://127.0.0.1:0", tls: {cert: %s, key: %s, plain_http: redirect}}
  - address: tls://127.0.0.1:0
    tls: {cert: %s, key: %s}
""" % (chain, key, chain, key))
    s = make_server("--config", conf, listen=None, ports=2)
    assert len(s.tls_ports) == 2
    r = one_response(s_raw(s.tls_ports[0], b"POST /a/b?c HTTP/1.1\r\nHost: h.test\r\nContent-Length: 0\r\n\r\n"))
    assert r.status == 308 and r.header("location") == "https://h.test:%d/a/b?c" % s.tls_ports[0]
    assert one_response(s_raw(s.tls_ports[1], b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")).status == 497


def s_raw(port, data, timeout=5):
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        c.sendall(data)
        return read_all(c, timeout)
    finally:
        c.close()


# ---- 426 / 308 for require_tls paths ---------------------------------------------------------

def test_426_and_308_for_paths_that_need_tls(make_server, pki, cert, tmp_path):
    chain, key = cert
    conf = write_yaml(tmp_path, """
listen: [127.0.0.1:0, "tls://127.0.0.1:0"]
tls: {cert: %s, key: %s}
hosts:
  localhost:
    paths:
      /: {api: true}
      /status: {require_tls: true}
      /anything: {redirect_to_https: true}
""" % (chain, key))
    s = make_server("--config", conf, listen=None, ports=2)
    plain, tls = s.ports[0], s.tls_port
    r = one_response(s_raw(plain, b"GET /status/200 HTTP/1.1\r\nHost: localhost\r\n\r\n"))
    assert r.status == 426 and r.reason == "Upgrade Required"
    assert r.header("upgrade") == "TLS/1.3, HTTP/1.1" and r.header("connection").lower() == "upgrade"
    assert b"https://localhost:%d/status/200" % tls in r.body
    r = one_response(s_raw(plain, b"GET /anything/x?q=1 HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % plain))
    assert r.status == 308 and r.header("location") == "https://localhost:%d/anything/x?q=1" % tls
    assert one_response(s_raw(plain, b"GET /get HTTP/1.1\r\nHost: localhost\r\n\r\n")).status == 200
    r, _ = https_get(pki, tls, "/status/200")
    assert r.status == 200
    r, _ = https_get(pki, tls, "/anything/x")
    assert r.status == 200


# ---- 421: SNI and Host name different hosts ----------------------------------------------------

def test_421_when_host_is_not_the_host_sni_selected(make_server, pki, tmp_path):
    a, b, d = pki.server("a.test", ("a.test",)), pki.server("b.test", ("b.test",)), pki.server("d", ("localhost",))
    conf = write_yaml(tmp_path, """
listen: ["tls://127.0.0.1:0"]
tls: {cert: %s, key: %s}
hosts:
  a.test: {tls: {cert: %s, key: %s}, paths: {/: {api: true}}}
  b.test: {tls: {cert: %s, key: %s}, paths: {/: {api: true}}}
  "*.wild.test": {paths: {/: {api: true}}}
""" % (d + a + b))
    s = make_server("--config", conf, listen=None, ports=1)
    p = s.tls_port
    # SNI picks the host's certificate
    for name in ("a.test", "b.test"):
        rc, out = s_client(p, "-servername", name, "-CAfile", pki.ca, "-verify_hostname", name,
                           data=b"GET /status/200 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name.encode())
        assert "subject=CN = %s" % name in out and "Verify return code: 0 (ok)" in out, out[-1500:]
        assert status_of(out) == 200, out[-1500:]
    rc, out = s_client(p, "-servername", "a.test", "-CAfile", pki.ca,
                       data=b"GET /get HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 421, out[-1500:]
    assert "421 Misdirected Request" in out and "another host" in out
    # the same host by another spelling, a port, a wildcard host's other names: not misdirected
    for sni, host in (("a.test", "A.TEST:%d" % p), ("x.wild.test", "y.wild.test")):
        rc, out = s_client(p, "-servername", sni, "-CAfile", pki.ca,
                           data=b"GET /get HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
        assert status_of(out) == 200, (sni, host, out[-1500:])
    # no SNI (a client connecting by address): the listener's certificate, any Host
    rc, out = s_client(p, "-noservername", "-CAfile", pki.ca,
                       data=b"GET /get HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n")
    assert "subject=CN = localhost" in out and status_of(out) == 200, out[-1500:]


# ---- 495 / 496: client certificates ---------------------------------------------------------

def curl(port, *args, path="/get"):
    r = subprocess.run(["curl", "-sS", "-i", *args, "https://localhost:%d%s" % (port, path)], capture_output=True,
                       timeout=20)
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode("latin-1")


def test_495_496_client_certificates_required(make_server, pki, cert):
    good = pki.client("alice")
    stranger = pki.client("mallory", trusted=False)
    expired = pki.expired_client("bob")
    s = tls_server(make_server, cert, "--tls-client-certs-ca", pki.ca, "--tls-client-certs-verify", "required")
    p = s.tls_port
    rc, out, err = curl(p, "--cacert", pki.ca)
    assert rc == 0, err
    assert out.startswith("HTTP/1.1 496 SSL Certificate Required") and "requires a client certificate" in out, out
    rc, out, err = curl(p, "--cacert", pki.ca, "--cert", good[0], "--key", good[1])
    assert out.startswith("HTTP/1.1 200 "), out + err
    rc, out, err = curl(p, "--cacert", pki.ca, "--cert", stranger[0], "--key", stranger[1])
    assert out.startswith("HTTP/1.1 495 SSL Certificate Error"), out + err
    # the chain does not lead to the CA: OpenSSL's words for it
    assert re.search(r"failed verification: unable to (get local issuer certificate|verify the first certificate)",
                     out), out
    rc, out, err = curl(p, "--cacert", pki.ca, "--cert", expired[0], "--key", expired[1])
    assert out.startswith("HTTP/1.1 495 ") and "certificate has expired" in out, out + err
    log = "".join(s.access_log(wait_for=" 495 "))
    assert re.search(r'"GET /get HTTP/1.1" 496 \d+ .* tls=TLSv1\.3 cipher=\S+\n', log), log


def test_optional_client_certificates(make_server, pki, cert):
    good = pki.client("carol")
    stranger = pki.client("eve", trusted=False)
    s = tls_server(make_server, cert, "--tls-client-certs-ca", pki.ca, "--tls-client-certs-verify", "optional")
    assert curl(s.tls_port, "--cacert", pki.ca)[1].startswith("HTTP/1.1 200 ")
    assert curl(s.tls_port, "--cacert", pki.ca, "--cert", good[0], "--key", good[1])[1].startswith("HTTP/1.1 200 ")
    assert curl(s.tls_port, "--cacert", pki.ca, "--cert", stranger[0], "--key", stranger[1])[1].startswith(
        "HTTP/1.1 495 ")


# ---- 425: TLS 1.3 early data --------------------------------------------------------------------

def test_425_unsafe_method_in_early_data_and_single_use_tickets(make_server, pki, cert, tmp_path):
    s = tls_server(make_server, cert, "--tls-early-data")
    p = s.tls_port
    sess = str(tmp_path / "sess.pem")
    rc, out = s_client(p, "-CAfile", pki.ca, "-sess_out", sess,
                       data=b"GET /get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 200 and "Max Early Data: 16384" in out, out[-1500:]

    def early(request, session):
        ed = tmp_path / "early.txt"
        ed.write_bytes(request)
        return s_client(p, "-CAfile", pki.ca, "-sess_in", session, "-early_data", str(ed))

    # a ticket is good for one 0-RTT flight: take a fresh one for each case
    def fresh_session(name):
        path = str(tmp_path / name)
        rc, out = s_client(p, "-CAfile", pki.ca, "-sess_out", path,
                           data=b"GET /get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert status_of(out) == 200
        return path

    s1 = fresh_session("s1.pem")
    rc, out = early(b"POST /anything HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi", s1)
    assert "Early data was accepted" in out, out[-1500:]
    assert status_of(out) == 425 and "425 Too Early" in out, out[-1500:]
    s2 = fresh_session("s2.pem")
    rc, out = early(b"GET /status/200 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", s2)
    assert "Early data was accepted" in out and status_of(out) == 200, out[-1500:]
    # the same ticket again (a replayed 0-RTT flight): refused, a full handshake, nothing served
    rc, out = early(b"GET /status/200 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", s2)
    assert "Early data was rejected" in out and "Reused" not in out.split("New,")[0], out[-1500:]
    assert status_of(out) is None, out[-1500:]
    log = "".join(s.access_log(wait_for=" 425 "))
    assert '"POST /anything HTTP/1.1" 425 ' in log


def test_early_data_off_by_default(make_server, pki, cert, tmp_path):
    s = tls_server(make_server, cert)
    sess = str(tmp_path / "sess.pem")
    rc, out = s_client(s.tls_port, "-CAfile", pki.ca, "-sess_out", sess,
                       data=b"GET /get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 200 and "Max Early Data: 0" in out, out[-1500:]


# ---- OCSP stapling --------------------------------------------------------------------------

def test_ocsp_stapled_when_a_response_is_given(make_server, pki):
    chain, key = pki.server("stapled")
    resp = pki.ocsp_response(chain, "stapled")
    s = make_server("--tls-cert", chain, "--tls-key", key, "--tls-ocsp-response", resp,
                    listen="tls://127.0.0.1:0")
    rc, out = s_client(s.tls_port, "-status", "-CAfile", pki.ca)
    assert "OCSP Response Status: successful" in out and "Cert Status: good" in out, out[-2000:]
    s2 = make_server("--tls-cert", chain, "--tls-key", key, listen="tls://127.0.0.1:0")
    rc, out = s_client(s2.tls_port, "-status", "-CAfile", pki.ca)
    assert "OCSP response: no response sent" in out, out[-2000:]


# ---- handshake failures and timeouts in the log ---------------------------------------------

def test_handshake_failures_and_timeouts_are_logged(make_server, pki, cert):
    s = tls_server(make_server, cert, "--handshake-timeout", "300ms")
    p = s.tls_port
    rc, out = s_client(p, "-tls1_2", "-cipher", "AES256-SHA")
    log = "".join(s.access_log(wait_for="no shared cipher"))
    assert re.search(r'"-" 444 0 "-" "-" \d+\.\d{3} tls_error="no shared cipher"', log), log
    # a client that does not trust the certificate ends the handshake with an alert: its doing
    rc, out = s_client(p, "-verify_return_error", "-verify", "1")
    log = "".join(s.access_log(wait_for="alert"))
    assert re.search(r'"-" 499 0 .* tls=TLSv1\.3 cipher=\S+ tls_error="[^"]*alert[^"]*"', log), log
    # a ClientHello that never completes: closed after handshake_timeout
    c = socket.create_connection(("127.0.0.1", p), timeout=5)
    t0 = time.time()
    c.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    assert read_all(c, 5) == b""
    assert time.time() - t0 < 4
    c.close()
    log = "".join(s.access_log(wait_for="within handshake_timeout"))
    assert "did not complete within handshake_timeout" in log
    # a connection that sends nothing is closed silently, as on a plain listener
    c = socket.create_connection(("127.0.0.1", p), timeout=5)
    assert read_all(c, 5) == b""
    c.close()


# ---- reload on SIGHUP under load ------------------------------------------------------------

def test_sighup_reloads_certificates_without_a_failed_handshake(make_server, pki, tmp_path):
    first = pki.server("gen1")
    second = pki.server("gen2")
    chain, key = str(tmp_path / "live.pem"), str(tmp_path / "live.key")

    def install(c):
        for src, dst in zip(c, (chain, key)):
            with open(src, "rb") as f:
                data = f.read()
            with open(dst + ".tmp", "wb") as f:
                f.write(data)
            os.replace(dst + ".tmp", dst)  # as certbot's symlink swap: a file is never half-written

    install(first)
    # --user root: the test's files are private to root (a real setup makes them readable by --user)
    s = make_server("--tls-cert", chain, "--tls-key", key, "--user", "root", listen="tls://127.0.0.1:0", workers=2)
    ctx = pki.context()
    serials = {}
    for name, (c, _) in (("gen1", first), ("gen2", second)):
        leaf = pki.path(name + ".leaf.pem")
        serials[name] = subprocess.run(["openssl", "x509", "-in", leaf, "-noout", "-serial"], capture_output=True,
                                       text=True).stdout.strip().split("=")[1].lower().lstrip("0")
    stop = threading.Event()
    errors, done, seen = [], [0], set()

    def client():
        while not stop.is_set():
            try:
                raw = socket.create_connection(("127.0.0.1", s.tls_port), timeout=10)
                c = ctx.wrap_socket(raw, server_hostname="localhost")
                seen.add("%x" % int(c.getpeercert()["serialNumber"], 16))
                c.sendall(b"GET /status/204 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                r = one_response(read_all(c, 10))
                c.close()
                if r.status != 204:
                    errors.append("status %d" % r.status)
                done[0] += 1
            except Exception as e:  # noqa: BLE001 — every failure counts
                errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            time.sleep(0.3)
            install(second if i % 2 == 0 else first)
            s.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        install(second)
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "configuration reloaded (generation 8)" not in s.stderr() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors[:5]
    assert done[0] > 20, done[0]
    assert serials["gen1"] in seen and serials["gen2"] in seen, (serials, seen)
    assert s.stderr().count("configuration reloaded") == 7  # each read the files again
    # after the last reload, new connections get the second certificate
    raw = socket.create_connection(("127.0.0.1", s.tls_port), timeout=10)
    c = ctx.wrap_socket(raw, server_hostname="localhost")
    assert "%x" % int(c.getpeercert()["serialNumber"], 16) == serials["gen2"]
    c.close()


def test_a_reload_that_fails_keeps_the_certificates_in_use(make_server, pki, tmp_path):
    chain, key = pki.server("keep")
    live = tmp_path / "live.pem"
    live.write_bytes(open(chain, "rb").read())
    s = make_server("--tls-cert", str(live), "--tls-key", key, "--user", "root", listen="tls://127.0.0.1:0")
    # a keep-alive connection open through the refused reload
    kept = pki.context().wrap_socket(socket.create_connection(("127.0.0.1", s.tls_port), timeout=10),
                                     server_hostname="localhost")
    req = b"GET /status/200 HTTP/1.1\r\nHost: localhost\r\n\r\n"
    kept.sendall(req)
    assert kept.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
    live.write_text("not a certificate\n")
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "reload refused" not in s.stderr() and time.time() < deadline:
        time.sleep(0.05)
    assert "still serving generation 1" in s.stderr() and "cannot load the certificate chain %s" % live in s.stderr()
    kept.sendall(req)
    assert kept.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n"), "the open connection is served on"
    kept.close()
    r, info = https_get(pki, s.tls_port)
    assert r.status == 200 and b'"url": "https://localhost/get"' in r.body, r.body
    assert s.proc.poll() is None


# ---- statusd -t ------------------------------------------------------------------------------

def check(*args, env=None):
    return subprocess.run([BIN, "-t", *args], capture_output=True, text=True, timeout=20, env=env)


def test_t_checks_certificates_keys_and_ca_files_with_their_line(pki, cert, tmp_path):
    chain, key = cert
    other_key = pki.client("stray")[1]
    cases = [
        ("listen: [\"tls://127.0.0.1:0\"]\n", 1, "a TLS listener needs a certificate"),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls:\n  cert: /nonexistent.pem\n", 3,
         "cannot read /nonexistent.pem: No such file or directory"),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls:\n  cert: %s\n  key: %s\n" % (chain, other_key), 4,
         "cannot load the private key %s: key values mismatch" % other_key),
        ("listen:\n  - {address: \"tls://127.0.0.1:0\", tls: {cert: %s, key: %s, colour: red}}\n" % (chain, key), 2,
         "unknown option 'tls.colour'"),
        ("listen:\n  - 127.0.0.1:0\n  - {address: \"tls://127.0.0.1:0\", tls: {cert: %s, key: /nope.key}}\n" % chain, 3,
         "tls.key: cannot read /nope.key: No such file"),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls:\n  cert: %s\n  key: %s\n  client_certs: {ca: /nope.pem}\n" % (chain, key),
         5, "tls.client_certs.ca: cannot read /nope.pem: No such file"),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls:\n  cert: %s\n  key: %s\n  client_certs: {ca: %s}\n" % (chain, key, key),
         5, "tls.client_certs.ca: cannot load certificates from %s" % key),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls: {cert: %s, key: %s, client_certs: {verify: maybe}}\n" % (chain, key), 2,
         "off, optional or required"),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls: {cert: %s, key: %s, early_data: true, client_certs: {ca: %s}}\n" % (
            chain, key, pki.ca), 2, "cannot be combined"),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls: {cert: %s, key: %s}\nhosts:\n  a.test:\n    tls: {cert: /x.pem}\n"
         "    paths: {/: {api: true}}\n" % (chain, key), 5, "tls.cert: cannot read /x.pem"),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls: {cert: %s, key: %s}\n" % (key, key), 2,
         "cannot load the certificate chain %s" % key),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls: {cert: %s, key: %s, ocsp_response: %s}\n" % (
            pki.server("noocsp", ocsp=False)[0], pki.path("noocsp.key"), pki.ca), 2, "names no OCSP responder"),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls: {cert: %s, key: %s, ocsp_response: %s}\n" % (chain, key, pki.ca), 2,
         "not a successful OCSP response"),
        ("listen: [\"127.0.0.1:0 cert=%s\"]\n" % chain, 1, "TLS options on a plain listener"),
        ("listen: [\"tls://127.0.0.1:0\"]\ntls: {cert: %s, key: %s, plain_http: 301}\n" % (chain, key), 2,
         "497 or redirect"),
    ]
    for i, (text, line, want) in enumerate(cases):
        conf = tmp_path / ("bad%d.yaml" % i)
        conf.write_text(text)
        r = check("--config", str(conf))
        assert r.returncode != 0, (text, r.stdout)
        assert "%s:%d:" % (conf, line) in r.stderr and want in r.stderr, (text, r.stderr)
    good = tmp_path / "good.yaml"
    good.write_text("listen:\n  - 127.0.0.1:0\n  - {address: \"tls://127.0.0.1:0\", tls: {cert: %s, key: %s}}\n" % (
        chain, key))
    r = check("--config", str(good))
    assert r.returncode == 0, r.stderr
    # flags: the origin is the command line
    r = check("--listen", "tls://127.0.0.1:0")
    assert r.returncode != 0 and "command line: listen 'tls://127.0.0.1:0'" in r.stderr, r.stderr



def test_client_certificates_per_host_chosen_by_sni(make_server, pki, tmp_path):
    a, b = pki.server("ca.test", ("a.test",)), pki.server("cb.test", ("b.test",))
    d = pki.server("cd", ("localhost",))
    good = pki.client("dave")
    conf = write_yaml(tmp_path, """
listen: ["tls://127.0.0.1:0"]
tls: {cert: %s, key: %s}
hosts:
  a.test:
    tls: {cert: %s, key: %s, client_certs: {ca: %s, verify: required}}
    paths: {/: {api: true}}
  b.test: {tls: {cert: %s, key: %s}, paths: {/: {api: true}}}
""" % (d[0], d[1], a[0], a[1], pki.ca, b[0], b[1]))
    s = make_server("--config", conf, listen=None, ports=1)
    req = b"GET /status/200 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
    rc, out = s_client(s.tls_port, "-servername", "a.test", "-CAfile", pki.ca, data=req % b"a.test")
    assert status_of(out) == 496, out[-1500:]
    rc, out = s_client(s.tls_port, "-servername", "a.test", "-CAfile", pki.ca, "-cert", good[0], "-key", good[1],
                       data=req % b"a.test")
    assert status_of(out) == 200, out[-1500:]
    rc, out = s_client(s.tls_port, "-servername", "b.test", "-CAfile", pki.ca, data=req % b"b.test")
    assert status_of(out) == 200 and "subject=CN = b.test" in out, out[-1500:]


def test_ticket_keys_rotate(make_server, pki, cert):
    """A ticket resumes at once; once its key has encrypted for a period and decrypted for
    another (and its session's lifetime, one period, is over), it no longer does."""
    s = tls_server(make_server, cert, "--tls-ticket-key-rotation", "1s")
    ctx = pki.context(maximum_version=ssl.TLSVersion.TLSv1_2)
    _, info = https_get(pki, s.tls_port, ctx=ctx)
    _, again = https_get(pki, s.tls_port, ctx=ctx, session=info["session"])
    assert again["reused"]
    time.sleep(2.5)
    _, late = https_get(pki, s.tls_port, ctx=ctx, session=info["session"])
    assert not late["reused"]
    _, fresh = https_get(pki, s.tls_port, ctx=ctx, session=late["session"])
    assert fresh["reused"], "a ticket under the new key resumes"


def test_a_reload_changes_the_ticket_key_period(make_server, pki, cert, tmp_path):
    """The ticket keys outlive generations (tickets resume across a reload), and a reload's
    tls.ticket_key_rotation is their period from then on."""
    chain, key = cert
    conf = tmp_path / "statusd.yaml"
    text = 'listen: ["tls://127.0.0.1:0"]\ntls: {cert: %s, key: %s, ticket_key_rotation: %s}\n'
    conf.write_text(text % (chain, key, "1h"))
    # --user root: the reload reads the file as the user it runs as (pytest's tmp is root's)
    s = make_server("--config", str(conf), "--user", "root", listen=None, ports=1)
    ctx = pki.context(maximum_version=ssl.TLSVersion.TLSv1_2)
    _, before = https_get(pki, s.tls_port, ctx=ctx)
    conf.write_text(text % (chain, key, "1s"))
    s.proc.send_signal(signal.SIGHUP)
    assert "configuration reloaded (generation 2)" in s.stderr(wait_for="configuration reloaded", timeout=10)
    _, info = https_get(pki, s.tls_port, ctx=ctx, session=before["session"])
    assert info["reused"], "a ticket from before the reload resumes"
    _, info = https_get(pki, s.tls_port, ctx=ctx)
    time.sleep(2.5)
    _, late = https_get(pki, s.tls_port, ctx=ctx, session=info["session"])
    assert not late["reused"], "the new period applies"
