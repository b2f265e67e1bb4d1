"""Shared fixtures: start the real statusd binary on 127.0.0.1:0 and talk to it over sockets.

Every server started here is stopped by PID at the end of its test, and its stderr is checked
for response-rule violations and sanitizer reports.
"""
import os
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("STATUSD_BIN", os.path.join(REPO, "build", "check", "statusd"))

SANITIZED = "/asan/" in BIN  # the ASan build: huge virtual mappings, its own allocator

def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes minutes (testssl.sh); PYTEST_ARGS=\"-m 'not slow'\" skips it")


BAD_STDERR = re.compile(r"response rule violated|AddressSanitizer|LeakSanitizer|runtime error:|BUG:")


class Server:
    def __init__(self, *args, env=None, workers=1, listen="127.0.0.1:0", access_log="-", start_timeout=10, wrap=None,
                 ports=None):
        # wrap: a command that runs the server (["prlimit", "--as=…"]): it keeps the server's PID
        # listen=None: the listen addresses come from the configuration file (`ports` of them)
        cmd = [*(wrap or []), BIN, *(["--listen", listen] if listen else []), "--workers", str(workers),
               "--access-log", access_log, *args]
        full_env = dict(os.environ)
        full_env.pop("STATUSD_BIN", None)
        if env:
            full_env.update(env)
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env)
        self.stdout_lines = []
        self.stderr_lines = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self.port = None
        self.ports = []
        self.tls_ports = []  # the ports announced as tls://
        self._t_out = threading.Thread(target=self._drain, args=(self.proc.stdout, self.stdout_lines), daemon=True)
        self._t_err = threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_lines, True), daemon=True)
        self._t_out.start()
        self._t_err.start()
        want = cmd.count("--listen") if ports is None else ports
        deadline = time.time() + start_timeout
        while len(self.ports) < want and time.time() < deadline and self.proc.poll() is None:
            self._listening.wait(0.05)
            time.sleep(0.01) if self._listening.is_set() else None
        if len(self.ports) < want:
            self.stop()
            raise RuntimeError("statusd did not start: %r\nstderr: %s" % (cmd, "".join(self.stderr_lines)))
        self.returncode = None

    def _drain(self, pipe, sink, watch=False):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self._lock:
                sink.append(line)
            if watch:
                m = re.match(r"listening on (tls://)?(?:\[[^\]]*\]|[\d.]+):(\d+)", line)
                if m:
                    port = int(m.group(2))
                    if m.group(1):
                        self.tls_ports.append(port)
                    self.ports.append(port)
                    if self.port is None:
                        self.port = port
                    self._listening.set()
        pipe.close()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def tls_port(self):
        return self.tls_ports[0]

    def connect(self, timeout=5.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def raw(self, data, timeout=3.0, shut=False):
        """Send bytes, read until the server closes (or timeout). Returns all bytes received."""
        s = self.connect(timeout)
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
            return read_all(s, timeout)
        finally:
            s.close()

    def access_log(self, wait_for=None, timeout=3.0, count=1):
        """The access log's lines so far; with wait_for, once `count` lines contain it (a line is
        written when its request ends, which may be after the client has the response)."""
        deadline = time.time() + timeout
        while True:
            with self._lock:
                lines = list(self.stdout_lines)
            if wait_for is None or sum(wait_for in l for l in lines) >= count or time.time() > deadline:
                return lines
            time.sleep(0.05)

    def stderr(self, wait_for=None, timeout=3.0):
        """What the server wrote to stderr so far; with wait_for, once it contains that text (a
        reader thread collects it: a line the server has written may not be here yet)."""
        deadline = time.time() + timeout
        while True:
            with self._lock:
                text = "".join(self.stderr_lines)
            if wait_for is None or wait_for in text or time.time() > deadline:
                return text
            time.sleep(0.02)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._t_err.join(5)
        self._t_out.join(5)
        self.returncode = self.proc.returncode
        return self.returncode


def read_all(s, timeout=3.0):
    """Read until EOF or until no byte arrives for `timeout` seconds."""
    s.settimeout(timeout)
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


class Response:
    def __init__(self, status, reason, headers, body, version, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self.version = version
        self.raw_head = raw_head

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def has(self, name):
        return self.header(name) is not None

    def __repr__(self):
        return "<Response %d %s %r>" % (self.status, self.reason, self.headers)


def parse_responses(data, head_requests=()):
    """Split a byte stream into responses using HTTP/1.1 framing. `head_requests` lists the
    indices of responses that answer HEAD (no body). Interim 1xx responses are returned too.
    Returns (responses, leftover_bytes)."""
    out = []
    i = 0
    final_index = 0
    while i < len(data):
        end = data.find(b"\r\n\r\n", i)
        if end < 0:
            break
        head = data[i:end].decode("latin-1")
        lines = head.split("\r\n")
        m = re.match(r"HTTP/(\d\.\d) (\d{3}) ?(.*)$", lines[0])
        assert m, "bad status line %r" % lines[0]
        status = int(m.group(2))
        headers = []
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers.append((k, v.strip()))
        body_start = end + 4
        r = Response(status, m.group(3), headers, b"", m.group(1), data[i:body_start])
        if status < 200 or status in (204, 304) or final_index in head_requests:
            i = body_start
        elif r.header("transfer-encoding", "").lower().endswith("chunked"):
            j = body_start
            body = b""
            while True:
                le = data.find(b"\r\n", j)
                if le < 0:
                    raise AssertionError("truncated chunked body")
                size = int(data[j:le].split(b";")[0], 16)
                j = le + 2
                if size == 0:
                    te = data.find(b"\r\n\r\n", j - 2)
                    j = te + 4
                    break
                body += data[j:j + size]
                j += size + 2
            r.body = body
            i = j
        elif r.has("content-length"):
            n = int(r.header("content-length"))
            r.body = data[body_start:body_start + n]
            i = body_start + n
        else:
            r.body = data[body_start:]
            i = len(data)
        out.append(r)
        if status >= 200:
            final_index += 1
    return out, data[i:]


def one_response(data, head=False):
    rs, rest = parse_responses(data, head_requests=(0,) if head else ())
    assert rs, "no response in %r" % data[:200]
    return rs[0]


def stop_and_check(s):
    """Stop a server and assert it exited cleanly with no rule violation or sanitizer report."""
    rc = s.stop()
    err = s.stderr()
    assert not BAD_STDERR.search(err), err[-4000:]
    assert rc in (0, -signal.SIGKILL), (rc, err[-2000:])


@pytest.fixture(scope="module")
def api():
    """One statusd serving the API at / for all the tests of a module (override it in a module
    that needs other options)."""
    s = Server()
    yield s
    stop_and_check(s)


@pytest.fixture
def make_server():
    servers = []

    def factory(*args, **kw):
        s = Server(*args, **kw)
        servers.append(s)
        return s

    yield factory
    problems = []
    for s in servers:
        rc = s.stop()
        err = s.stderr()
        if BAD_STDERR.search(err):
            problems.append("server %r reported:\n%s" % (s.cmd, err[-4000:]))
        elif rc not in (0, None) and rc != -signal.SIGKILL and not getattr(s, "expect_failure", False):
            problems.append("server %r exited with %r:\n%s" % (s.cmd, rc, err[-2000:]))
    assert not problems, "\n".join(problems)


@pytest.fixture
def server(make_server):
    return make_server()
