"""systemd: the unit file passes `systemd-analyze verify`; READY=1 / STOPPING=1 arrive on a real
NOTIFY_SOCKET; socket activation serves on a listening socket passed as fd 3 with LISTEN_FDS and
LISTEN_PID, the way systemd passes it."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import BIN, REPO, Server, stop_and_check


def test_unit_files_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is missing (Debian package systemd, in DEB_TEST): cannot verify the unit")
    for name in ("statusd.service", "statusd.socket"):
        text = open(os.path.join(REPO, "contrib", name)).read()
        (tmp_path / name).write_text(text.replace("@BINDIR@", os.path.dirname(os.path.abspath(BIN))))
    # --man=no: the man page is checked by test_install (it is not installed on this machine)
    out = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / "statusd.service"),
                          str(tmp_path / "statusd.socket")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr  # an unknown key is only a warning: none allowed
    unit = (tmp_path / "statusd.service").read_text()
    for line in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes", "ProtectSystem=strict"):
        assert line in unit.splitlines()


def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    return s, path


def test_notify_ready_then_stopping(tmp_path):
    sock, path = notify_socket(tmp_path)
    s = Server(env={"NOTIFY_SOCKET": path})
    try:
        assert sock.recv(4096) == b"READY=1\nSTATUS=serving"
        assert s.raw(b"GET /get HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200 ")
        s.proc.send_signal(signal.SIGTERM)
        assert sock.recv(4096) == b"STOPPING=1\nSTATUS=draining connections"
    finally:
        stop_and_check(s)
        sock.close()


def test_notify_abstract_socket():
    name = "@statusd-test-%d" % os.getpid()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:])
    sock.settimeout(10)
    s = Server(env={"NOTIFY_SOCKET": name})
    try:
        assert sock.recv(4096) == b"READY=1\nSTATUS=serving"
    finally:
        stop_and_check(s)
        sock.close()


# Runs in the child between fork and exec: LISTEN_PID must be the pid statusd will have, which
# is this process's after exec; the listening socket goes to fd 3.
WRAPPER = "import os, sys; os.environ['LISTEN_PID'] = str(os.getpid()); os.environ['LISTEN_FDS'] = '1'; " \
          "os.execv(sys.argv[1], sys.argv[1:])"


def activated(listener, *args):
    def to_fd3():
        os.dup2(listener.fileno(), 3)
        os.set_inheritable(3, True)
    return subprocess.Popen([sys.executable, "-c", WRAPPER, BIN, "--workers", "2", "--access-log", "off", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=to_fd3, close_fds=False)


def test_socket_activation_serves_on_the_inherited_socket():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    # The port stays bound by this test: statusd could not bind it again (no SO_REUSEPORT on it),
    # so an answer proves it serves on the socket it was given.
    p = activated(listener, "--listen", "127.0.0.1:%d" % port)
    try:
        line = p.stderr.readline().decode()
        assert line == "listening on 127.0.0.1:%d\n" % port, line
        for _ in range(10):  # both workers take connections from the one socket
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(b"GET /status/418 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            got = b""
            while True:
                b = c.recv(65536)
                if not b:
                    break
                got += b
            c.close()
            assert got.startswith(b"HTTP/1.1 418 ")
        fds = os.listdir("/proc/%d/fd" % p.pid)
        assert "3" in fds
    finally:
        p.send_signal(signal.SIGTERM)
        rc = p.wait(15)
        listener.close()
    err = p.stderr.read().decode()
    assert rc == 0 and "runtime error" not in err and "Sanitizer" not in err, err


def test_socket_activation_refuses_a_socket_no_listen_names():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    p = activated(listener, "--listen", "127.0.0.2:0")
    try:
        rc = p.wait(15)
        err = p.stderr.read().decode()
    finally:
        listener.close()
    assert rc == 1
    assert re.search(r"socket activation: inherited socket 3 \(127\.0\.0\.1:\d+\) matches no listen address", err), err
