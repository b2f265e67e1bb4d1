#!/usr/bin/python3
"""Instructions per request, counted by callgrind: a measure of the hot path that does not move
with the load of a shared machine (make bench's CPU times do).

statusd runs under `valgrind --tool=callgrind` with one worker, serving a 12-byte file; a client
makes N requests one after the other on one keep-alive connection (as each of wrk's connections
does), once with a small N and once with a large one. The difference of the two totals divided by
the difference of N is the cost of one request, start-up and shutdown cancelled out.

Usage: bench/callgrind.py [--bin build/statusd] [--path /small.txt] [--requests 2000,12000]
                          [--tls]   (the same over one TLS connection: tls://, a throw-away
                                     self-signed certificate)
"""
import argparse
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def make_cert(tmp):
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return crt, key


def run_once(exe, root, path, n, tls, tmp):
    out = os.path.join(tmp, "cg.%d.out" % n)
    args = ["--listen", ("tls://" if tls else "") + "127.0.0.1:0", "--workers", "1", "--root", root,
            "--access-log", "off", "--user", "root", "--max-keepalive-requests", "100000000"]
    if tls:
        crt, key = make_cert(tmp)
        args += ["--tls-cert", crt, "--tls-key", key]
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, exe, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.time() + 60
    while port is None and time.time() < deadline:
        line = proc.stderr.readline()
        m = re.search(r"listening on (?:tls://)?127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
    if port is None:
        proc.kill()
        raise RuntimeError("statusd did not start under valgrind")
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    req = b"GET %s HTTP/1.1\r\nHost: b\r\n\r\n" % path.encode()
    for _ in range(n):
        s.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        head, _, body = buf.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        while len(body) < length:
            body += s.recv(4096)
    s.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait(120)
    with open(out) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no totals in " + out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "statusd"))
    ap.add_argument("--path", default="/small.txt")
    ap.add_argument("--requests", default="2000,12000")
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is needed: apt-get install valgrind")
    n1, n2 = (int(x) for x in args.requests.split(","))
    tmp = tempfile.mkdtemp(prefix="statusd-cg-")
    try:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        with open(os.path.join(root, "small.txt"), "wb") as f:
            f.write(b"hello world\n")
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(100 * 1024))
        i1 = run_once(args.bin, root, args.path, n1, args.tls, tmp)
        i2 = run_once(args.bin, root, args.path, n2, args.tls, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%s %s%s: %.0f instructions per request (%d requests: %d, %d requests: %d)" % (
        args.bin, "https " if args.tls else "", args.path, (i2 - i1) / (n2 - n1), n1, i1, n2, i2))


if __name__ == "__main__":
    main()
