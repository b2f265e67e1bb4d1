"""Shared by the scale-out tests: a real redis-server and a real haproxy (Debian's) on 127.0.0.1,
started and stopped by PID, and statusd instances that share state through that Redis.

Redis listens on a TCP port picked by binding a socket to port 0 (redis-server cannot take port
0 itself) and restarts on the same port. HAProxy runs in the foreground (-db) with the recipe
contrib/haproxy.cfg, whose addresses, stats socket and check timing are rewritten for the test
(each rewrite must apply exactly once: a recipe that changes shape fails the test, not silently
passes it)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from conftest import REPO

RECIPE = os.path.join(REPO, "contrib", "haproxy.cfg")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout, step=0.02, what="condition"):
    """Poll cond() until it is true (returns its value) or raise after timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(step)


class Redis:
    """redis-server on 127.0.0.1:PORT, no persistence."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="statusd-redis-")
        self.port = free_port()
        self.proc = None
        self.start()

    @property
    def url(self):
        return "tcp://127.0.0.1:%d" % self.port

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.ping(), 5, what="redis-server to answer PING")

    def command(self, *args):
        """One command over RESP; returns the raw reply bytes (enough for the tests' checks)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        try:
            msg = b"*%d\r\n" % len(args) + b"".join(
                b"$%d\r\n%s\r\n" % (len(a), a) for a in (x if isinstance(x, bytes) else x.encode() for x in args))
            s.sendall(msg)
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data
        finally:
            s.close()

    def ping(self):
        if self.proc.poll() is not None:
            raise AssertionError("redis-server exited: %s" % self.proc.returncode)
        try:
            return self.command("PING") == b"+PONG\r\n"
        except OSError:
            return False

    def keys(self, pattern):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "--scan", "--pattern", pattern],
                             capture_output=True, text=True, timeout=5)
        return [k for k in out.stdout.splitlines() if k]

    def kill(self):
        """Gone at once, as a crash would make it."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)

    def restart(self):
        self.kill()
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def haproxy_config(servers, bind_port, sock, inter_ms=100, fall=2, rise=1):
    """contrib/haproxy.cfg for the test: its frontend on bind_port, its backend's servers the given
    (name, port) pairs, its stats socket at sock, checks every inter_ms."""
    text = open(RECIPE).read()
    n_bind = n_sock = n_timing = 0

    def sub(pattern, repl, s, flags=re.M):
        return re.subn(pattern, repl, s, flags=flags)

    text, n_sock = sub(r"^(\s*stats socket\s+)\S+", r"\g<1>" + sock, text)
    text, n_bind = sub(r"^(\s*bind\s+)\S+", r"\g<1>127.0.0.1:%d" % bind_port, text)
    text, n_timing = sub(r"^(\s*default-server\s.*?)inter \S+ fall \d+ rise \d+",
                         r"\g<1>inter %dms fall %d rise %d" % (inter_ms, fall, rise), text)
    lines = text.split("\n")
    idx = [i for i, l in enumerate(lines) if re.match(r"^\s*server\s", l)]
    assert (n_sock, n_bind, n_timing) == (1, 1, 1) and idx, "contrib/haproxy.cfg changed shape"
    indent = re.match(r"^(\s*)", lines[idx[0]]).group(1)
    check = re.search(r"\scheck\b.*$", lines[idx[0]]).group(0)
    new = ["%sserver %s 127.0.0.1:%d%s" % (indent, name, port, check) for name, port in servers]
    lines[idx[0]:idx[-1] + 1] = new
    return "\n".join(lines)


class HAProxy:
    def __init__(self, servers, inter_ms=100, fall=2, rise=1):
        self.dir = tempfile.mkdtemp(prefix="statusd-haproxy-")
        self.port = free_port()
        self.sock = os.path.join(self.dir, "admin.sock")
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(haproxy_config(servers, self.port, self.sock, inter_ms, fall, rise))
        check = subprocess.run(["haproxy", "-c", "-q", "-f", self.cfg], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.cfg], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.sock) and self.status(), 5, what="haproxy's stats socket")

    def admin(self, command):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(self.sock)
            s.sendall(command.encode() + b"\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
            return data.decode()
        finally:
            s.close()

    def status(self):
        """{server name: status} of the backend ("UP", "DOWN", "UP 1/2" …)."""
        try:
            out = self.admin("show stat")
        except OSError:
            return {}
        lines = out.splitlines()
        if not lines or not lines[0].startswith("# "):
            return {}
        head = lines[0][2:].split(",")
        col_px, col_sv, col_st = head.index("pxname"), head.index("svname"), head.index("status")
        res = {}
        for l in lines[1:]:
            f = l.split(",")
            if len(f) > col_st and f[col_px] == "statusd" and f[col_sv] not in ("BACKEND", "FRONTEND"):
                res[f[col_sv]] = f[col_st]
        return res

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
        shutil.rmtree(self.dir, ignore_errors=True)
        return out
