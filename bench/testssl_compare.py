#!/usr/bin/python3
"""testssl.sh against statusd's default TLS profile and against nginx with Mozilla's
"intermediate" configuration (ssl-config.mozilla.org, nginx, intermediate: TLS 1.2 and 1.3, its
TLS 1.2 suites, X25519/P-256/P-384, ssl_prefer_server_ciphers off, a shared session cache, no
tickets, OCSP stapling from a file, the RFC 7919 ffdhe2048 group), both with the same ECDSA
certificate from a throw-away CA (tests/integration/tlsutil.Pki) that names an OCSP responder,
and a stapled response. Writes the summary (every finding that is not plainly OK, the counts of
"NOT ok" and "VULNERABLE", and the lines of the checks that differ) as markdown.

    /usr/bin/python3 bench/testssl_compare.py [--bin build/statusd] [--out bench/results/testssl.md]
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from run import free_port, wait_port  # bench/run.py: the one copy

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from tlsutil import Pki  # noqa: E402

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")
MOZ_TLS12 = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
             "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
             "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305")
FFDHE2048 = """-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""


def run_testssl(port, ca):
    cmd = [TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--add-ca", ca, "--openssl-timeout", "10",
           "--ip", "127.0.0.1", "-p", "-s", "-f", "-P", "-S", "-U", "localhost:%d" % port]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=dict(os.environ, TERM="dumb"))
    return r.stdout + r.stderr


def findings(out):
    """(check, result) for each line of testssl's checks, whitespace squeezed."""
    res = {}
    for line in out.splitlines():
        m = re.match(r"^ (\S.{2,40}?)\s{2,}(\S.*)$", line)
        if m:
            res[m.group(1).strip()] = re.sub(r"\s+", " ", m.group(2).strip())
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "statusd"))
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "testssl.md"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="testssl-")
    pki = Pki(tmp + "/pki")
    chain, key = pki.server("localhost")
    ocsp = pki.ocsp_response(chain, "localhost")
    procs = []
    outs = {}
    try:
        sp = free_port()
        procs.append(subprocess.Popen([a.bin, "--listen", "tls://127.0.0.1:%d" % sp, "--tls-cert", chain, "--tls-key",
                                       key, "--tls-ocsp-response", ocsp, "--access-log", "off", "--workers", "1"],
                                      stderr=subprocess.DEVNULL))
        np_ = free_port()
        with open(tmp + "/ffdhe2048.pem", "w") as f:
            f.write(FFDHE2048)
        conf = tmp + "/nginx.conf"
        with open(conf, "w") as f:
            f.write("""daemon off; worker_processes 1; pid %(t)s/nginx.pid; error_log %(t)s/nginx-error.log crit;
user root; events {}
http { access_log off;
  server { listen 127.0.0.1:%(p)d ssl; root %(t)s; ssl_certificate %(c)s; ssl_certificate_key %(k)s;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_ecdh_curve X25519:prime256v1:secp384r1; ssl_ciphers %(ci)s;
    ssl_prefer_server_ciphers off; ssl_dhparam %(t)s/ffdhe2048.pem;
    ssl_session_timeout 1d; ssl_session_cache shared:MozSSL:10m; ssl_session_tickets off;
    ssl_stapling on; ssl_stapling_file %(o)s;
    add_header Strict-Transport-Security "max-age=63072000" always; } }
""" % {"t": tmp, "p": np_, "c": chain, "k": key, "ci": MOZ_TLS12, "o": ocsp})
        procs.append(subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stderr=subprocess.DEVNULL))
        if not wait_port(sp, 10):
            raise SystemExit("nothing listens on %d" % sp)
        if not wait_port(np_, 10):
            raise SystemExit("nothing listens on %d" % np_)
        outs["statusd"] = run_testssl(sp, pki.ca)
        outs["nginx (Mozilla intermediate)"] = run_testssl(np_, pki.ca)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
    names = list(outs)
    fs = {n: findings(outs[n]) for n in names}
    lines = ["# testssl.sh: statusd's default profile beside nginx with Mozilla's intermediate config", "",
             "Made by `bench/testssl_compare.py` (testssl.sh %s, checks -p -s -f -P -S -U, the same ECDSA "
             "certificate with a stapled OCSP response for both)." % (
                 re.search(r"testssl\S*\s+(\S+)", subprocess.run([TESTSSL, "--version"], capture_output=True,
                                                                 text=True).stdout + " ?").group(1)), "",
             "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, pat in (("NOT ok", r"NOT ok"), ("VULNERABLE", r"\bVULNERABLE\b")):
        lines.append("| lines with %s | %s |" % (label, " | ".join(
            str(sum(bool(re.search(pat, l)) for l in outs[n].splitlines())) for n in names)))
    keys = [k for k in fs[names[0]] if k in fs[names[1]]]
    for k in keys:
        vals = [fs[n][k].replace("|", "/") for n in names]
        if len(set(vals)) > 1:
            lines.append("| %s | %s |" % (k, " | ".join(v[:110] for v in vals)))
    lines += ["", "Checks with the same result on both are left out; the full outputs follow.", ""]
    for n in names:
        lines += ["<details><summary>%s</summary>" % n, "", "```", outs[n].strip(), "```", "</details>", ""]
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[:60]))


if __name__ == "__main__":
    main()
