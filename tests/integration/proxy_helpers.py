"""Helpers for the gateway's tests: the fault-injecting upstream, a fake DNS server with statusd in a
mount namespace that sees it, addresses that refuse or never answer, raw exchanges, log fields."""
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from conftest import parse_responses, read_all

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM = os.path.join(HERE, "fixtures", "upstream.py")
DNS = os.path.join(HERE, "fixtures", "dns.py")
PY = "/usr/bin/python3"


class Proc:
    """A helper process started with a pipe on stdout; stopped by PID."""

    def __init__(self, cmd, ready, timeout=10):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.first = ""
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            if line.startswith(ready):
                self.first = line.strip()
                return
        self.stop()
        raise RuntimeError("%r did not start" % (cmd,))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_upstream():
    """The fault-injecting upstream (fixtures/upstream.py): (Proc, port)."""
    p = Proc([PY, UPSTREAM, "--port", "0"], "port ")
    return p, int(p.first.split()[1])


def dead_port():
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class FullListener:
    """A listener whose accept queue is full: a connection attempt is neither made nor refused (the
    kernel drops the SYN), so a client's connect times out."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            f = socket.socket()
            f.setblocking(False)
            try:
                f.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(f)
        time.sleep(0.2)

    def close(self):
        for f in self.fillers:
            f.close()
        self.sock.close()


class FakeDNS:
    """fixtures/dns.py on a random 127.x address, and a resolv.conf naming it. `wrap` runs statusd
    in a mount namespace where that file is /etc/resolv.conf. None when it cannot be done (not
    root, no unshare): DNS tests are then skipped with the reason in `why`."""

    why = None

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="statusd-dns-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.addr = "127.%d.%d.%d" % (random.randint(64, 250), random.randint(1, 250), random.randint(2, 250))
        self.conf = os.path.join(self.dir, "resolv.conf")
        with open(self.conf, "w") as f:
            f.write("nameserver %s\noptions timeout:3 attempts:1\n" % self.addr)
        os.chmod(self.conf, 0o644)
        self.proc = Proc([PY, DNS, "--addr", self.addr], "ready")
        self.lines = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.wrap = ["unshare", "-m", "sh", "-c", 'mount --bind %s /etc/resolv.conf && exec "$0" "$@"' % self.conf]

    def _drain(self):
        for raw in iter(self.proc.proc.stdout.readline, b""):
            self.lines.append(raw.decode().strip())

    def queries(self, name):
        """How many questions about `name` arrived so far."""
        return sum(1 for l in list(self.lines) if l.startswith("query %s " % name))

    def close(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def make():
        if os.geteuid() != 0:
            FakeDNS.why = "needs root (a DNS server on port 53 and a mount namespace)"
            return None
        if not shutil.which("unshare"):
            FakeDNS.why = "unshare(1) is missing"
            return None
        r = subprocess.run(["unshare", "-m", "true"], capture_output=True)
        if r.returncode != 0:
            FakeDNS.why = "cannot make a mount namespace: %s" % r.stderr.decode().strip()
            return None
        try:
            return FakeDNS()
        except (OSError, RuntimeError) as e:
            FakeDNS.why = "the fake DNS server did not start: %s" % e
            return None


def exchange(port, data, timeout=5.0, shut=False):
    """Send raw bytes, read until the server closes (or `timeout` of silence). (responses, bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        raw = read_all(s, timeout)
    finally:
        s.close()
    return raw


def get(port, target, headers=b"", method=b"GET", body=b"", version=b"HTTP/1.1", timeout=5.0):
    """One request with Connection: close; (final response, all responses, raw bytes)."""
    req = method + b" " + target.encode() + b" " + version + b"\r\nHost: proxy.test\r\nConnection: close\r\n" + \
        headers + (b"Content-Length: %d\r\n" % len(body) if body else b"") + b"\r\n" + body
    raw = exchange(port, req, timeout)
    rs, rest = parse_responses(raw, head_requests=(0,) if method == b"HEAD" else ())
    finals = [r for r in rs if r.status >= 200]
    return (finals[-1] if finals else None), rs, raw


def stacks(pid):
    """Every thread's stack of a process (gdb), for the message of a test that saw it stop
    answering; empty when gdb is missing."""
    if not shutil.which("gdb"):
        return ""
    r = subprocess.run(["gdb", "-batch", "-p", str(pid), "-ex", "thread apply all bt 12"], capture_output=True,
                       text=True, timeout=60)
    return r.stdout[-6000:]


FIELD = re.compile(r' (\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def log_fields(line):
    """The key=value fields after the duration of an access log line."""
    out = {}
    for k, v in FIELD.findall(line):
        out[k] = v[1:-1] if v.startswith('"') else v
    return out


def log_line(srv, needle, timeout=5.0):
    """The access log line containing `needle` (waits for it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for l in srv.access_log():
            if needle in l:
                return l
        time.sleep(0.05)
    raise AssertionError("no log line with %r in %r" % (needle, srv.access_log()[-5:]))


def write_yaml(text):
    fd, path = tempfile.mkstemp(prefix="statusd-proxy-", suffix=".yaml", dir="/tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path
