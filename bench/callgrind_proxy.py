#!/usr/bin/python3
"""Instructions per proxied request: statusd --proxy, nginx (proxy_pass, upstream keep-alive) and
HAProxy (http-reuse always), each one worker under callgrind, in front of the same upstream (a
statusd serving a 12-byte file, not measured), over one keep-alive client connection.

Instruction counts do not depend on what else the machine runs, so this is the measurement for a
busy machine where make bench's CPU time per request would be noise. Each proxy runs twice, for
N1 and N2 requests; (Ir(N2) - Ir(N1)) / (N2 - N1) is the cost of one request with startup,
shutdown and warm-up cancelled out. Instructions are not CPU time (cache misses and syscalls
differ), so this complements make bench's proxy rows rather than replacing them.

Usage: bench/callgrind_proxy.py [BINARY] [--servers statusd,nginx,haproxy]   (default build/statusd)"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from run import free_port, haproxy_cfg, wait_port  # bench/run.py: the one copy

N1, N2 = 2000, 6000
BODY = b"hello world\n"


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def proxy_cmd(name, binary, port, upstream, tmp):
    if name == "statusd":
        return [binary, "--listen", "127.0.0.1:%d" % port, "--workers", "1", "--user", "root", "--access-log", "off",
                "--proxy", "http://" + upstream, "--proxy-keepalive", "16"]
    if name == "nginx":
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""daemon off; master_process off; worker_processes 1;
pid %s/nginx.pid; error_log %s/nginx-error.log crit; user root;
events { worker_connections 1024; }
http { access_log off; tcp_nodelay on; keepalive_requests 1000000;
  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;
  upstream up { server %s; keepalive 16; keepalive_requests 1000000; }
  server { listen 127.0.0.1:%d;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
""" % (tmp, tmp, tmp, tmp, tmp, tmp, tmp, upstream, port))
        return ["nginx", "-c", conf, "-p", tmp]
    conf = os.path.join(tmp, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write(haproxy_cfg(port, upstream, 1000))
    return ["haproxy", "-db", "-f", conf]


def run(name, binary, upstream, n):
    tmp = tempfile.mkdtemp(prefix="cg-proxy-")
    out = os.path.join(tmp, "out.cg")
    port = free_port()
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, "--trace-children=no",
           *proxy_cmd(name, binary, port, upstream, tmp)]
    p = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        if not wait_port(port, 60):
            raise RuntimeError("nothing listens on %d" % port)
        s = socket.create_connection(("127.0.0.1", port))
        req = b"GET /f.txt HTTP/1.1\r\nHost: b\r\n\r\n"
        for _ in range(n):
            s.sendall(req)
            got = b""
            while not got.endswith(BODY):
                b = s.recv(4096)
                if not b:
                    raise RuntimeError("%s closed the connection: %r" % (name, got[:200]))
                got += b
            if not got.startswith(b"HTTP/1.1 200 "):
                raise RuntimeError("%s answered %r" % (name, got[:200]))
        s.close()
    finally:
        stop(p)
    total = 0
    for fn in os.listdir(tmp):  # callgrind may write one file per thread
        if fn.startswith("out.cg"):
            with open(os.path.join(tmp, fn)) as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        total += int(line.split()[1])
                        break
    shutil.rmtree(tmp, ignore_errors=True)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary", nargs="?", default="build/statusd")
    ap.add_argument("--servers", default="statusd,nginx,haproxy")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    root = tempfile.mkdtemp(prefix="cg-root-")
    with open(os.path.join(root, "f.txt"), "wb") as f:
        f.write(BODY)
    uport = free_port()
    up = subprocess.Popen([binary, "--listen", "127.0.0.1:%d" % uport, "--workers", "1", "--user", "root", "--root",
                           root, "--access-log", "off"], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    results = {}
    try:
        if not wait_port(uport, 60):
            raise RuntimeError("nothing listens on %d" % uport)
        for name in a.servers.split(","):
            if name != "statusd" and not shutil.which(name):
                print("%s: not installed, skipped" % name)
                continue
            x, y = run(name, binary, "127.0.0.1:%d" % uport, N1), run(name, binary, "127.0.0.1:%d" % uport, N2)
            results[name] = (y - x) / (N2 - N1)
    finally:
        stop(up)
        shutil.rmtree(root, ignore_errors=True)
    print("| proxy (one worker, callgrind) | instructions per request | vs nginx |")
    print("|---|---:|---:|")
    for name, ir in results.items():
        rel = "%.2f×" % (ir / results["nginx"]) if "nginx" in results else ""
        print("| %s | %.0f | %s |" % (name, ir, rel))


if __name__ == "__main__":
    main()
