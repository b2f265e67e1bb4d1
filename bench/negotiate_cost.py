#!/usr/bin/python3
"""What negotiation costs per request, in instructions (callgrind), negotiated vs plain 12 B file.

statusd (build/statusd, one worker, --user root, a temporary root) runs under
`valgrind --tool=callgrind`; for each case one keep-alive connection makes WARMUP requests, the
counters are zeroed (callgrind_control -z), it makes N more, and the counters are dumped
(callgrind_control -d): instructions / N is the cost of one request, everything included (parse,
find-config, the handler, the head, the write). Cases run in one server, in turn, with the same
request headers for the plain file and the negotiated name, so only the content handler differs.

Usage: bench/negotiate_cost.py [--requests 5000] [--binary build/statusd]
Prints a markdown table. Needs valgrind (Debian package valgrind).
"""
import argparse
import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

HEADERS = {
    "Host only (wrk)": {},
    "browser page": {
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": "fr-CA,fr;q=0.9,en;q=0.8",
        "Accept-Encoding": "identity",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124 Safari/537.36",
    },
    "browser image": {"Accept": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"},
}
# (title, path, header set, negotiate on): each header set's first case, the plain 12 B file on a
# server without negotiation, is what the others are compared with
CASES = [
    ("plain 12 B file", "/plain.txt", "Host only (wrk)", False),
    ("plain 12 B file, negotiate on", "/plain.txt", "Host only (wrk)", True),
    ("negotiated 12 B, 2 language variants", "/small", "Host only (wrk)", True),
    ("plain 12 B file", "/plain.txt", "browser page", False),
    ("plain 12 B file, negotiate on", "/plain.txt", "browser page", True),
    ("negotiated 12 B, 2 language variants", "/small", "browser page", True),
    ("negotiated 12 B, type map of 3 variants", "/mapped", "browser page", True),
    ("plain 12 B image", "/plain.webp", "browser image", False),
    ("negotiated 12 B image, avif/webp/jpg", "/photo", "browser image", True),
]


def request(path, headers):
    lines = ["GET %s HTTP/1.1" % path, "Host: bench"] + ["%s: %s" % kv for kv in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        rest += s.recv(65536)
    return status, head, rest[n:]


def run(s, path, headers, n):
    data = request(path, headers)
    buf = b""
    for _ in range(n):
        s.sendall(data)
        status, head, buf = read_response(s, buf)
        if status != 200:
            raise RuntimeError("%s: %d %r" % (path, status, head))
    return head


def total_ir(out_file):
    with open(out_file) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no totals in %s" % out_file)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--binary", default=os.path.join(REPO, "build", "statusd"))
    ap.add_argument("--only", default="", help="only the cases whose \"title, header set\" contains this")
    ap.add_argument("--keep", help="copy the last case's callgrind dump here (for callgrind_annotate)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="statusd-negcost-", dir="/tmp")
    os.chmod(tmp, 0o755)
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    for name in ("plain.txt", "small.en.txt", "small.fr.txt", "m.en.txt", "m.fr.txt", "m.txt", "plain.webp"):
        with open(os.path.join(root, name), "wb") as f:
            f.write(b"hello world\n")  # 12 bytes
    with open(os.path.join(root, "mapped.var"), "w") as f:
        f.write("URI: m.en.txt\nContent-Type: text/plain\nContent-Language: en\n\n"
                "URI: m.fr.txt\nContent-Type: text/plain\nContent-Language: fr\n\n"
                "URI: m.txt\nContent-Type: text/plain; qs=0.5\n")
    for ext in ("avif", "webp", "jpg"):
        with open(os.path.join(root, "photo." + ext), "wb") as f:
            f.write(b"x" * 12)
    results = {}
    try:
        for negotiate in (False, True):
            cases = [c for c in CASES if c[3] == negotiate and args.only in "%s, %s" % (c[0], c[2])]
            if cases:
                measure(args, root, tmp, negotiate, cases, results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("| request headers | case | path | served | instructions/request | vs plain, same headers |")
    print("|---|---|---|---|---:|---:|")
    base = {}
    for title, path, hdrs, negotiate in CASES:
        if (title, hdrs) not in results:
            continue
        per, loc = results[(title, hdrs)]
        base.setdefault(hdrs, per)
        ratio = "%.3f×" % (per / base[hdrs]) if base[hdrs] is not per else "1"
        print("| %s | %s | %s | %s | %.0f | %s |" % (hdrs, title, path, loc, per, ratio))


def measure(args, root, tmp, negotiate, cases, results):
    out = os.path.join(tmp, "callgrind%d.out" % negotiate)
    err_file = os.path.join(tmp, "stderr%d" % negotiate)
    err = open(err_file, "wb")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out + ".%p", args.binary, "--listen",
           "127.0.0.1:0", "--workers", "1", "--root", root, "--access-log", "off", "--user", "root", "--log-level",
           "error"] + (["--negotiate"] if negotiate else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    try:
        port = None
        deadline = time.time() + 60
        while port is None and time.time() < deadline:
            time.sleep(0.2)
            m = re.search(rb"listening on [\d.]+:(\d+)", open(err_file, "rb").read())
            port = int(m.group(1)) if m else None
        if port is None:
            raise RuntimeError(open(err_file, "rb").read().decode(errors="replace"))
        for title, path, hdrs, _ in cases:
            headers = HEADERS[hdrs]
            s = socket.create_connection(("127.0.0.1", port))
            run(s, path, headers, args.warmup)
            subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            head = run(s, path, headers, args.requests)
            for old in glob.glob(out + ".%d.*" % proc.pid):
                os.unlink(old)  # earlier dumps
            subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            dumps = sorted(glob.glob(out + ".%d.*" % proc.pid), key=os.path.getmtime)
            ir = total_ir(dumps[-1])
            if args.keep:
                shutil.copy(dumps[-1], args.keep)
            s.close()
            loc = re.search(rb"\r\ncontent-location: *([^\r]+)", head, re.I)
            results[(title, hdrs)] = (ir / args.requests, loc.group(1).decode() if loc else "-")
    finally:
        proc.terminate()
        proc.wait(60)
        err.close()


if __name__ == "__main__":
    main()
