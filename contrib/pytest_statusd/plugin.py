"""The fixtures (see __init__.py). Loaded by pytest through the ``pytest11``-style name given
to ``-p``: pytest imports ``pytest_statusd`` and finds the fixtures below through this module,
which __init__ re-exports by import."""
import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from urllib.parse import urljoin

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))


def _binary():
    env = os.environ.get("STATUSD_BIN")
    if env:
        return env
    found = shutil.which("statusd")
    if found:
        return found
    return os.path.join(_HERE, "..", "..", "build", "statusd")


class Server:
    """What pytest-httpbin's fixtures give a test: url, host, port, join(), and ``+`` to append a
    path (``httpbin + "/get"``); str() is the URL."""

    def __init__(self, scheme, host, port, ca=None):
        self.scheme, self.host, self.port, self.ca = scheme, host, port, ca
        self.url = "%s://%s:%d" % (scheme, host, port)

    def join(self, url):
        return urljoin(self.url, url)

    def __add__(self, other):
        return self.url + other

    def __str__(self):
        return self.url

    def __repr__(self):
        return "<statusd %s>" % self.url


class _Certificates:
    """A certificate authority and a server certificate for 127.0.0.1 and localhost, made with
    openssl for this session; the bundle is the authority's certificate."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pytest-statusd-ca-")
        d = self.dir
        run = lambda *a: subprocess.run(a, check=True, capture_output=True, cwd=d)
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=pytest-statusd test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
        with open(os.path.join(d, "ext.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
        os.chmod(d, 0o755)  # statusd may drop privileges before it reads them: readable by all
        for name in os.listdir(d):
            os.chmod(os.path.join(d, name), 0o644)
        self.bundle = os.path.join(d, "ca.pem")
        self.cert = os.path.join(d, "server.pem")
        self.key = os.path.join(d, "server.key")

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class _Statusd:
    """One statusd with an HTTP listener and, when it can serve HTTPS, a TLS one."""

    def __init__(self):
        self.http = self.https = None
        self.certs = None
        self.proc = None
        self.lines = []

    def start(self, secure):
        binary = _binary()
        http_port = int(os.environ.get("HTTPBIN_HTTP_PORT", "0"))
        args = [binary, "--listen", "127.0.0.1:%d" % http_port, "--workers", "1", "--access-log", "off"]
        if secure:
            self.certs = _Certificates()
            https_port = int(os.environ.get("HTTPBIN_HTTPS_PORT", "0"))
            args += ["--listen", "tls://127.0.0.1:%d" % https_port, "--tls-cert", self.certs.cert,
                     "--tls-key", self.certs.key]
        if os.geteuid() == 0:
            args += ["--user", "root"]  # the test's files stay readable; nothing to protect here
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        want = 2 if secure else 1
        found = {}
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line)
                m = re.match(r"listening on (tls://)?([\d.]+):(\d+)", line)
                if m:
                    found["https" if m.group(1) else "http"] = int(m.group(3))
                    if len(found) == want:
                        ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(10):
            self.stop()
            raise RuntimeError("statusd did not start (%s):\n%s" % (" ".join(args), "".join(self.lines)))
        self.http = Server("http", "127.0.0.1", found["http"])
        if secure:
            self.https = Server("https", "127.0.0.1", found["https"], ca=self.certs.bundle)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.certs:
            self.certs.remove()


_servers = {}


def _has_tls():
    out = subprocess.run([_binary(), "--help"], capture_output=True, text=True, timeout=10).stdout
    return "--tls-cert" in out


def _server(secure):
    """The session's statusd: started on first use (with HTTPS as soon as one is wanted)."""
    if secure and not _has_tls():
        pytest.skip("this statusd serves no HTTPS (built without TLS listeners)")
    key = "secure" if secure else "plain"
    if key not in _servers:
        s = _Statusd()
        s.start(secure)
        _servers[key] = s
        atexit.register(s.stop)
    return _servers[key]


@pytest.fixture(scope="session")
def httpbin():
    s = _server(False)
    yield s.http
    s.stop()


@pytest.fixture(scope="session")
def httpbin_secure():
    s = _server(True)
    yield s.https
    s.stop()


@pytest.fixture(scope="session", params=["http", "https"])
def httpbin_both(request, httpbin, httpbin_secure):
    return httpbin if request.param == "http" else httpbin_secure


@pytest.fixture(scope="class")
def class_based_httpbin(request, httpbin):
    request.cls.httpbin = httpbin


@pytest.fixture(scope="class")
def class_based_httpbin_secure(request, httpbin_secure):
    request.cls.httpbin_secure = httpbin_secure


@pytest.fixture(scope="function")
def httpbin_ca_bundle(monkeypatch, httpbin_secure):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", httpbin_secure.ca)


use_class_based_httpbin = pytest.mark.usefixtures("class_based_httpbin")
use_class_based_httpbin_secure = pytest.mark.usefixtures("class_based_httpbin_secure")
