#!/usr/bin/python3
"""Instructions per request of statusd serving a 12-byte file over keep-alive, with and
without metrics counting, measured with callgrind (valgrind --tool=callgrind).

Usage: bench/callgrind_metrics.py [BINARY]   (default build/statusd; run as root: --user root)

For each variant the server runs under callgrind twice, for N1 and N2 requests on one
keep-alive connection; (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost of one request with startup,
shutdown and the first-request warm-up cancelled out."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/statusd"
N1, N2 = 2000, 6000


def run(extra, n):
    root = tempfile.mkdtemp()
    with open(os.path.join(root, "f.txt"), "w") as f:
        f.write("hello world\n")  # 12 bytes
    out = tempfile.mktemp(suffix=".cg")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, BIN, "--listen", "127.0.0.1:0",
           "--workers", "1", "--user", "root", "--root", root, "--access-log", "off", *extra]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    port = None
    deadline = time.time() + 60
    while port is None and time.time() < deadline:
        line = p.stderr.readline().decode()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
    s = socket.create_connection(("127.0.0.1", port))
    req = b"GET /f.txt HTTP/1.1\r\nHost: b\r\n\r\n"
    for _ in range(n):
        s.sendall(req)
        got = b""
        while not got.endswith(b"hello world\n"):
            got += s.recv(4096)
    s.close()
    p.terminate()
    p.wait(120)
    total = 0
    with open(out) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    os.unlink(out)
    return total


def per_request(extra):
    a, b = run(extra, N1), run(extra, N2)
    return (b - a) / (N2 - N1)


off = per_request([])
on = per_request(["--metrics-path", "/metrics"])
print("| variant | instructions per request |")
print("|---|---|")
print("| metrics off | %.0f |" % off)
print("| metrics on (--metrics-path /metrics) | %.0f |" % on)
print("| cost of counting | %+.0f (%+.2f %%) |" % (on - off, 100.0 * (on - off) / off))
