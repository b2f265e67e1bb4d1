#!/usr/bin/python3
"""statusd benchmark: statusd vs nginx, lighttpd and h2o on this machine, in one run; and statusd's
reverse proxy vs nginx (proxy_pass, upstream keep-alive) and HAProxy.

Every server gets one worker, access log off, keep-alive on and the same document root. For each
round (3 by default) the scenarios run interleaved across servers, so drift on a noisy machine
hits everyone alike. Reported per server and scenario: requests/s, p50/p99 latency (wrk --latency)
and server CPU microseconds per request (utime+stime of the server's processes, /proc/PID/stat,
before/after, divided by requests). Also memory per idle keep-alive connection: RSS growth while
holding N connections that each made one request. Medians of the rounds; never a single run.

The baseline: a previous statusd, built from a git revision of this repository into the run's
temporary directory (`git archive REV | tar -x`, then `make VARIANT=release all` there; nothing is
left behind) and measured in the same run, interleaved, as one more server named `baseline`,
started with exactly the options of the current statusd, in every scenario statusd runs and for
idle memory. The table then gains "statusd CPU ratio vs baseline" and "statusd req/s ratio vs
baseline", and the bars the Engine v2 ones (CPU/request against the baseline and the floor).

HTTPS rows: statusd, nginx and h2o also listen with TLS on a second port, with the same throw-away
ECDSA P-256 certificate and equivalent settings (TLS 1.2 and 1.3, Mozilla's intermediate suites,
session tickets; wrk negotiates TLS 1.3 with TLS_AES_256_GCM_SHA384 with each); the rows are
measured over keep-alive connections like the plain ones, and the idle-memory measure is repeated
with TLS connections (each made its handshake and one request, then waits).
The default revision is BASELINE in bench/bench.mk (its one place); `--baseline none` skips it.

The proxy rows ("proxy: …"): statusd --proxy, nginx (proxy_pass to an upstream block with
keepalive) and HAProxy (http-reuse always), one worker/thread each, all in front of the same
upstream — one more statusd serving the 12 B file, started for the run and never measured itself.
CPU/request is the proxy's own; the bars: statusd's proxy CPU/request ≤ 0.8× nginx's, and its p99
at 1,000 connections no worse than the best of nginx and HAProxy. These rows have --proxy-rounds
rounds (7), the rounds beyond --rounds running them alone: nearly all of a proxied request's CPU
time is the kernel's, which on a small virtual machine moves by a third from one round to the
next.
The https-upstream rows ("proxy https-upstream: …") are the same with TLS on the upstream leg
(clients still speak plain HTTP to the proxy): statusd-proxy-tls (`--proxy https://…` with
`--proxy-tls-ca`), nginx-proxy-tls (proxy_pass https:// to an upstream block with keepalive,
proxy_ssl_verify against the same CA, proxy_ssl_session_reuse) and haproxy-tls (`ssl verify
required ca-file …`, http-reuse always), all to the upstream statusd's tls:// listener (the run's
throw-away certificate, which is also the CA each proxy verifies against). Every proxy keeps its
upstream connections, so the handshakes happen once per pooled connection; the rows measure the
record layer both ways. No bar is set on them.
A revision that cannot be built (unknown in a shallow clone, say) is reported and the run goes
on without a baseline; its bars then read "not measured", never a number.

Usage: bench/run.py [--rounds 3] [--proxy-rounds 7] [--duration 5] [--idle 5000] [--baseline REV|none]
                    [--servers statusd,baseline,nginx,lighttpd,h2o,floor,statusd-proxy,nginx-proxy,haproxy,
                               statusd-proxy-tls,nginx-proxy-tls,haproxy-tls]
                    [--only TEXT]
                    [--out bench/results/latest.md]
       make bench [BASELINE=REV|none] [BENCH_ARGS="--rounds 1 --proxy-rounds 1 --duration 2 --idle 500"]
"""
import argparse
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def proc_tree(root_pid):
    """root_pid and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rfind(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def rss_bytes(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/statm" % p) as f:
                total += int(f.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


class Srv:
    def __init__(self, name, cmd, port, cwd=None, env=None):
        self.name, self.cmd, self.port = name, cmd, port
        self.tls_port = None  # set for the servers of the HTTPS rows
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env=env,
                                     start_new_session=True)
        if not wait_port(port):
            err = self.proc.stderr.read1(4000) if self.proc.poll() is not None else b""
            self.stop()
            raise RuntimeError("%s did not start: %s" % (name, err.decode(errors="replace")))
        time.sleep(0.3)

    def pids(self):
        return proc_tree(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def statusd_cmd(exe, port, root, tls=None):
    """The one command line for statusd and its baseline: both start with exactly these options
    (the current statusd also with tls = (port, cert, key): a TLS listener for the HTTPS rows)."""
    cmd = [exe, "--listen", "127.0.0.1:%d" % port, "--workers", "1", "--root", root, "--access-log", "off",
           "--max-connections", "60000", "--user", "root"]
    if tls:
        cmd += ["--listen", "tls://127.0.0.1:%d" % tls[0], "--tls-cert", tls[1], "--tls-key", tls[2]]
    return cmd


# Mozilla's intermediate TLS 1.2 suites (statusd's defaults), given to nginx and h2o as well
MOZILLA_TLS12 = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                 "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                 "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305")


def make_cert(tmp):
    """A throw-away ECDSA P-256 certificate for 127.0.0.1 (the same for every server)."""
    crt, key = os.path.join(tmp, "bench-cert.pem"), os.path.join(tmp, "bench-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    return crt, key


def default_baseline():
    """BASELINE ?= REV from bench/bench.mk, the one place the default revision is written."""
    try:
        with open(os.path.join(REPO, "bench", "bench.mk")) as f:
            m = re.search(r"^BASELINE\s*\?=\s*(\S+)", f.read(), re.M)
    except OSError:
        m = None
    return m.group(1) if m else "none"


def build_baseline(rev, tmp):
    """Build statusd at git revision `rev` into tmp/baseline. Returns (path of the binary, a
    description of the revision) or (None, why not)."""
    git = ["git", "-C", REPO]
    r = subprocess.run(git + ["rev-parse", "--verify", "--quiet", rev + "^{commit}"], capture_output=True, text=True)
    if r.returncode != 0:
        shallow = subprocess.run(git + ["rev-parse", "--is-shallow-repository"], capture_output=True,
                                 text=True).stdout.strip() == "true"
        return None, "revision '%s' is not known to %s%s" % (
            rev, REPO, " (a shallow clone: `git fetch --unshallow` brings the history)" if shallow else "")
    commit = r.stdout.strip()
    desc = subprocess.run(git + ["log", "-1", "--format=%h %s", commit], capture_output=True, text=True).stdout.strip()
    src = os.path.join(tmp, "baseline")
    os.makedirs(src)
    log = os.path.join(tmp, "baseline-build.log")
    print("baseline: building %s in %s ..." % (desc[:100], src), flush=True)
    t0 = time.time()
    with open(log, "wb") as out:
        archive = subprocess.Popen(git + ["archive", "--format=tar", commit], stdout=subprocess.PIPE, stderr=out)
        untar = subprocess.run(["tar", "-x", "-C", src], stdin=archive.stdout, stdout=out, stderr=out)
        archive.stdout.close()
        ok = archive.wait() == 0 and untar.returncode == 0
        if ok:
            # the environment's MAKEFLAGS (from `make bench`) passes the same command-line
            # variables (CC, CFLAGS …) to this build as to the current statusd's
            ok = subprocess.run(["make", "-C", src, "-j%d" % (os.cpu_count() or 1), "VARIANT=release",
                                 "VERSION=baseline-" + commit[:7], "all"], stdout=out, stderr=out).returncode == 0
    exe = os.path.join(src, "build", "statusd")
    if not ok or not os.access(exe, os.X_OK):
        with open(log, errors="replace") as f:
            tail = "".join(f.readlines()[-15:])
        return None, "building %s failed:\n%s" % (desc, tail)
    print("baseline: built in %.0f s" % (time.time() - t0), flush=True)
    return exe, desc


def missing_options(exe):
    """The options of statusd_cmd() that `exe --help` does not list (an old baseline may lack one)."""
    helptext = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10).stdout
    opts = [a for a in statusd_cmd(exe, 0, "/") if a.startswith("--")]
    return [o for o in opts if not re.search(r"(^|\s)%s\b" % re.escape(o), helptext)]


def nginx_proxy_conf(ptmp, nofile, upstream, port, pass_directives):
    """nginx as the reverse proxy of the proxy rows: one worker, upstream keep-alive (1024 idle, a
    million requests each), `pass_directives` (proxy_pass and, for a TLS leg, its proxy_ssl_*)
    in the one location. Writes ptmp/nginx.conf and returns its path."""
    os.makedirs(ptmp)
    conf = os.path.join(ptmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; master_process on; worker_processes 1; worker_rlimit_nofile %s;
pid %s/nginx.pid; error_log %s/nginx-error.log crit; user root;
events { worker_connections 60000; multi_accept on; }
http { access_log off; tcp_nodelay on; keepalive_timeout 120s; keepalive_requests 1000000;
  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;
  upstream up { server %s; keepalive 1024; keepalive_requests 1000000; }
  server { listen 127.0.0.1:%d;
    location / { %s proxy_http_version 1.1; proxy_set_header Connection ""; } } }
""" % (nofile, ptmp, ptmp, ptmp, ptmp, ptmp, ptmp, ptmp, upstream, port, pass_directives))
    return conf


def haproxy_cfg(port, upstream, maxconn, server_opts=""):
    """HAProxy as the reverse proxy of the proxy rows (and bench/callgrind_proxy.py): one thread,
    upstream connections reused; server_opts is added to the server line (TLS to the upstream)."""
    return """global
  nbthread 1
  maxconn %d
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  http-reuse always
frontend f
  bind 127.0.0.1:%d
  default_backend b
backend b
  server s1 %s%s
""" % (maxconn, port, upstream, " " + server_opts if server_opts else "")


def start_servers(root, tmp, which, baseline_exe=None):
    servers = {}
    nofile = str(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    crt, key = make_cert(tmp)
    if "statusd" in which:
        port, tport = free_port(), free_port()
        servers["statusd"] = Srv("statusd", statusd_cmd(os.path.join(REPO, "build", "statusd"), port, root,
                                                        (tport, crt, key)), port)
        servers["statusd"].tls_port = tport
    if "policy" in which:
        # statusd again with an allow rule and a limit rule on the same path (issue 12's bar: at most
        # 5 % more CPU per request); the rate is never reached, so every request is admitted
        port = free_port()
        servers["policy"] = Srv("policy", statusd_cmd(os.path.join(REPO, "build", "statusd"), port, root) + [
            "--allow", "127.0.0.1", "--limit-rate", "1000000000r/s", "--limit-burst", "1000000"], port)
    if "metrics" in which:
        # statusd again with /metrics served, so every request is counted (issue 17's bar: at most
        # 2 % more CPU per request on the 12 B file); the scrape itself is not part of the run
        port = free_port()
        servers["metrics"] = Srv("metrics", statusd_cmd(os.path.join(REPO, "build", "statusd"), port, root) + [
            "--metrics-path", "/metrics"], port)
    if "redis" in which and shutil.which("redis-server"):
        # the policy server again, its limit stepped in Redis (store.redis, issue 19's bar: at most
        # 1.5x the CPU per request of the in-process store); redis-server on a unix socket, its own
        # CPU reported beside statusd's (side_cpu_us) but not part of the bar
        sock = os.path.join(tmp, "redis.sock")
        rport = free_port()
        side = Srv("redis-server", ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--unixsocket", sock,
                                    "--save", "", "--appendonly", "no", "--dir", tmp], rport)
        port = free_port()
        srv = Srv("redis", statusd_cmd(os.path.join(REPO, "build", "statusd"), port, root) + [
            "--allow", "127.0.0.1", "--limit-rate", "1000000000r/s", "--limit-burst", "1000000",
            "--store-redis", "unix:" + sock, "--store-timeout", "1000ms"], port)
        srv.side = side
        servers["redis"] = srv
    if "negotiate" in which:
        # the same statusd with negotiation on, for the negotiated 12 B scenario only
        port = free_port()
        servers["negotiate"] = Srv("negotiate", statusd_cmd(os.path.join(REPO, "build", "statusd"), port, root) +
                                   ["--negotiate"], port)
    if baseline_exe:
        # right after statusd, so that in every round the two run back to back
        port = free_port()
        servers["baseline"] = Srv("baseline", statusd_cmd(baseline_exe, port, root), port)
    if "nginx" in which and shutil.which("nginx"):
        port, tport = free_port(), free_port()
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write("""daemon off; master_process on; worker_processes 1; worker_rlimit_nofile %s;
pid %s/nginx.pid; error_log %s/nginx-error.log crit; user root;
events { worker_connections 60000; multi_accept on; }
http { access_log off; sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_timeout 120s; keepalive_requests 1000000;
  default_type application/octet-stream; client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;
  server { listen 127.0.0.1:%d; root %s; }
  server { listen 127.0.0.1:%d ssl; root %s; ssl_certificate %s; ssl_certificate_key %s;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers %s; ssl_prefer_server_ciphers off;
    ssl_session_cache shared:MozSSL:10m; ssl_session_timeout 1d; ssl_session_tickets on; } }
""" % (nofile, tmp, tmp, tmp, tmp, tmp, tmp, tmp, port, root, tport, root, crt, key, MOZILLA_TLS12))
        servers["nginx"] = Srv("nginx", ["nginx", "-c", conf, "-p", tmp], port)
        servers["nginx"].tls_port = tport
    if "lighttpd" in which and shutil.which("lighttpd"):
        port = free_port()
        conf = os.path.join(tmp, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write("""server.document-root = "%s"
server.port = %d
server.bind = "127.0.0.1"
server.max-fds = 16384
server.max-connections = 30000
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 120
server.errorlog = "%s/lighttpd-error.log"
server.modules = ()
""" % (root, port, tmp))
        servers["lighttpd"] = Srv("lighttpd", ["lighttpd", "-D", "-f", conf], port)
    if "h2o" in which and shutil.which("h2o"):
        port, tport = free_port(), free_port()
        conf = os.path.join(tmp, "h2o.conf")
        with open(conf, "w") as f:
            f.write("""listen:
  host: 127.0.0.1
  port: %d
num-threads: 1
max-connections: 60000
http1-request-timeout: 120
hosts:
  default:
    listen:
      host: 127.0.0.1
      port: %d
      ssl:
        certificate-file: %s
        key-file: %s
        minimum-version: TLSv1.2
        cipher-suite: "%s"
        cipher-preference: client
    paths:
      /:
        file.dir: %s
""" % (port, tport, crt, key, MOZILLA_TLS12, root))
        servers["h2o"] = Srv("h2o", ["h2o", "-c", conf], port)
        servers["h2o"].tls_port = tport
    if any(n in which for n in ALL_PROXIES):
        # the one upstream of every proxy: a statusd serving the same root (never measured itself),
        # with a tls:// listener too for the https-upstream rows
        port, tport = free_port(), free_port()
        up = Srv("upstream", statusd_cmd(os.path.join(REPO, "build", "statusd"), port, root, (tport, crt, key)), port)
        servers["upstream"] = up
        upstream, upstream_tls = "127.0.0.1:%d" % port, "127.0.0.1:%d" % tport
        if "statusd-proxy" in which:
            port = free_port()
            servers["statusd-proxy"] = Srv("statusd-proxy", [
                os.path.join(REPO, "build", "statusd"), "--listen", "127.0.0.1:%d" % port, "--workers", "1",
                "--proxy", "http://" + upstream, "--proxy-keepalive", "1024", "--access-log", "off",
                "--max-connections", "60000", "--user", "root"], port)
        if "nginx-proxy" in which and shutil.which("nginx"):
            port = free_port()
            ptmp = os.path.join(tmp, "nginx-proxy")
            conf = nginx_proxy_conf(ptmp, nofile, upstream, port, "proxy_pass http://up;")
            servers["nginx-proxy"] = Srv("nginx-proxy", ["nginx", "-c", conf, "-p", ptmp], port)
        if "haproxy" in which and shutil.which("haproxy"):
            port = free_port()
            conf = os.path.join(tmp, "haproxy.cfg")
            with open(conf, "w") as f:
                f.write(haproxy_cfg(port, upstream, max(1000, int(nofile) // 2 - 200)))  # two descriptors a connection
            servers["haproxy"] = Srv("haproxy", ["haproxy", "-db", "-f", conf], port)
        # the same three with TLS to the upstream, verified against the run's certificate
        if "statusd-proxy-tls" in which:
            port = free_port()
            servers["statusd-proxy-tls"] = Srv("statusd-proxy-tls", [
                os.path.join(REPO, "build", "statusd"), "--listen", "127.0.0.1:%d" % port, "--workers", "1",
                "--proxy", "https://" + upstream_tls, "--proxy-tls-ca", crt, "--proxy-keepalive", "1024",
                "--access-log", "off", "--max-connections", "60000", "--user", "root"], port)
        if "nginx-proxy-tls" in which and shutil.which("nginx"):
            port = free_port()
            ptmp = os.path.join(tmp, "nginx-proxy-tls")
            conf = nginx_proxy_conf(ptmp, nofile, upstream_tls, port, (
                "proxy_pass https://up;\n      proxy_ssl_verify on; proxy_ssl_trusted_certificate %s; "
                "proxy_ssl_name localhost;\n      proxy_ssl_protocols TLSv1.2 TLSv1.3; proxy_ssl_session_reuse on;"
            ) % crt)
            servers["nginx-proxy-tls"] = Srv("nginx-proxy-tls", ["nginx", "-c", conf, "-p", ptmp], port)
        if "haproxy-tls" in which and shutil.which("haproxy"):
            port = free_port()
            conf = os.path.join(tmp, "haproxy-tls.cfg")
            with open(conf, "w") as f:
                f.write(haproxy_cfg(port, upstream_tls, max(1000, int(nofile) // 2 - 200),
                                    "ssl verify required ca-file %s verifyhost localhost" % crt))
            servers["haproxy-tls"] = Srv("haproxy-tls", ["haproxy", "-db", "-f", conf], port)
    if "floor" in which:
        # the floor: a server that parses nothing (bench/floor.c), built here with the system cc
        exe = os.path.join(tmp, "floor")
        subprocess.run(["cc", "-O2", "-o", exe, os.path.join(REPO, "bench", "floor.c")], check=True)
        port = free_port()
        servers["floor"] = Srv("floor", [exe, str(port)], port)
    return servers


WRK_RE = {
    "rps": re.compile(r"Requests/sec:\s+([\d.]+)"),
    "reqs": re.compile(r"(\d+) requests in"),
    "non2xx": re.compile(r"Non-2xx or 3xx responses: (\d+)"),
    "errors": re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"),
}


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n, u = float(m.group(1)), m.group(2)
    return n / 1000 if u == "us" else n if u == "ms" else n * 1000


PROXIES = ("statusd-proxy", "nginx-proxy", "haproxy")
PROXIES_TLS = ("statusd-proxy-tls", "nginx-proxy-tls", "haproxy-tls")  # TLS to the upstream
ALL_PROXIES = PROXIES + PROXIES_TLS


def run_wrk(url, conns, duration, srv):
    pids = srv.pids()
    side = getattr(srv, "side", None)
    side_before = cpu_ticks(side.pids()) if side else 0
    before = cpu_ticks(pids)
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency", "--timeout", "5s", url],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    after = cpu_ticks(pids)
    side_after = cpu_ticks(side.pids()) if side else 0
    reqs = int(WRK_RE["reqs"].search(out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    err = WRK_RE["errors"].search(out)
    non2xx = WRK_RE["non2xx"].search(out)
    return {
        "rps": float(WRK_RE["rps"].search(out).group(1)),
        "p50": to_ms(lat["50"]) if "50" in lat else float("nan"),
        "p99": to_ms(lat["99"]) if "99" in lat else float("nan"),
        "cpu_us": (after - before) * 1e6 / CLK_TCK / max(reqs, 1),
        "side_cpu_us": (side_after - side_before) * 1e6 / CLK_TCK / max(reqs, 1),
        "errors": sum(int(x) for x in err.groups()) if err else 0,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def idle_memory(srv, n):
    """RSS growth per connection while holding n keep-alive connections that each made one request."""
    pids = srv.pids()
    socks = []
    time.sleep(0.2)
    base = rss_bytes(pids)
    req = b"GET /small.txt HTTP/1.1\r\nHost: b\r\n\r\n"
    try:
        for i in range(n):
            s = socket.socket()
            s.setblocking(True)
            s.settimeout(5)
            s.connect(("127.0.0.1", srv.port))
            s.sendall(req)
            socks.append(s)
            if len(socks) % 500 == 0:
                for t in socks[-500:]:
                    t.recv(4096)
        for t in socks[len(socks) - len(socks) % 500:]:
            t.recv(4096)
        time.sleep(0.5)
        held = rss_bytes(pids)
    finally:
        for s in socks:
            s.close()
    return (held - base) / n


def idle_memory_tls(srv, n):
    """The same over TLS: RSS growth per connection while holding n TLS keep-alive connections that
    each made its handshake (a full one, no resumption) and one request."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    pids = srv.pids()
    socks = []
    time.sleep(0.2)
    base = rss_bytes(pids)
    req = b"GET /small.txt HTTP/1.1\r\nHost: b\r\n\r\n"
    try:
        for i in range(n):
            raw = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10)
            s = ctx.wrap_socket(raw)
            s.sendall(req)
            buf = b""
            while not buf.endswith(b"hello world\n"):
                buf += s.recv(4096)
            socks.append(s)
        time.sleep(0.5)
        held = rss_bytes(pids)
    finally:
        for s in socks:
            s.close()
    return (held - base) / n


def median(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


# Engine v2 (issue 11): rows where statusd must be no worse than the baseline, and the noise
# tolerance on their CPU/request ratio. CPU time comes from /proc in clock ticks (10 ms at 100 Hz:
# under 0.5 % of a 5 s run at half a core), and medians of interleaved rounds of one binary
# against itself still wander by about 1-2 % on a quiet 2-core machine; so "no worse" is read as
# a ratio of at most 1.02 and the table says so.
NO_WORSE = ("100 KiB file, 50 conns", "12 B file, 1000 conns", "100 KiB file, 1000 conns")
NOISE = 1.02


def bars(results, mem, baseline_why=None):
    """The performance bars, judged from this run's medians. `baseline_why` says why there is no
    baseline when none was measured; its bars then read "not measured" and count as not met."""
    def med(title, name, key):
        runs = results.get((title, name))
        return median([r[key] for r in runs]) if runs else None

    def spread(title, name):
        xs = [r["cpu_us"] for r in results.get((title, name), [])]
        return (max(xs) - min(xs)) / median(xs) * 100 if len(xs) > 1 and median(xs) else 0.0

    def paired(title, a, b):
        """a's CPU/request over b's round by round (each round runs them back to back): on a
        machine whose speed drifts between rounds, the median of these pairs says more than the
        ratio of the two columns' medians. Shown beside a bar; the bar is judged as it always was."""
        xs, ys = results.get((title, a), []), results.get((title, b), [])
        if len(xs) != len(ys) or len(xs) < 2:
            return ""
        rs = sorted(x["cpu_us"] / y["cpu_us"] for x, y in zip(xs, ys) if y["cpu_us"])
        return "; round by round: median %.2f×, %.2f–%.2f×" % (median(rs), rs[0], rs[-1]) if rs else ""

    out = ["", "| bar | measured | met |", "|---|---|---|"]

    def row(text, measured, ok):
        out.append("| %s | %s | %s |" % (text, measured, "n/a" if ok is None else "yes" if ok else "**no**"))

    t = "12 B file, 50 conns"
    s_cpu, h_cpu, f_cpu = med(t, "statusd", "cpu_us"), med(t, "h2o", "cpu_us"), med(t, "floor", "cpu_us")
    if s_cpu and h_cpu:
        extra = " (floor: %.2f× h2o; statusd %.2f× floor)" % (f_cpu / h_cpu, s_cpu / f_cpu) if f_cpu else ""
        row("12 B file: CPU/request ≤ 0.7× h2o", "%.2f×%s" % (s_cpu / h_cpu, extra), s_cpu <= 0.7 * h_cpu)
    t = "100 KiB file, 50 conns"
    s_rps, l_rps = med(t, "statusd", "rps"), med(t, "lighttpd", "rps")
    if s_rps and l_rps:
        row("100 KiB file: req/s ≥ 1.1× lighttpd", "%.2f×" % (s_rps / l_rps), s_rps >= 1.1 * l_rps)
    if mem.get("statusd"):
        extra = " (baseline %.0f bytes)" % mem["baseline"] if mem.get("baseline") else ""
        row("idle keep-alive connection ≤ 256 bytes", "%.0f bytes%s" % (mem["statusd"], extra), mem["statusd"] <= 256)
    a_cpu, a_rps = med("API /status/200, 50 conns", "statusd", "cpu_us"), med("API /status/200, 50 conns", "statusd", "rps")
    f12_cpu, f12_rps = med("12 B file, 50 conns", "statusd", "cpu_us"), med("12 B file, 50 conns", "statusd", "rps")
    if a_cpu and f12_cpu:
        row("/status/200 within 1.1× of the 12 B file", "CPU/request %.2f×, req/s %.2f×" % (a_cpu / f12_cpu, a_rps / f12_rps),
            a_cpu <= 1.1 * f12_cpu and a_rps >= f12_rps / 1.1)
    for t in ("12 B file, 1000 conns", "100 KiB file, 1000 conns"):
        s_p99 = med(t, "statusd", "p99")
        anchors = [(med(t, n, "p99"), n) for n in ("nginx", "lighttpd", "h2o") if med(t, n, "p99")]
        if s_p99 and anchors:
            best = min(anchors)
            row("%s: p99 no worse than the best anchor" % t, "%.2f ms (best: %s %.2f ms)" % (s_p99, best[1], best[0]),
                s_p99 <= best[0])

    # TLS (issue 15): CPU per request no worse than the best of nginx and h2o
    for t in ("HTTPS 12 B file, 50 conns", "HTTPS 100 KiB file, 50 conns"):
        s_c = med(t, "statusd", "cpu_us")
        anchors = [(med(t, n, "cpu_us"), n) for n in ("nginx", "h2o") if med(t, n, "cpu_us")]
        if s_c and anchors:
            best = min(anchors)
            row("%s: CPU/request no worse than the best of nginx and h2o" % t,
                "%.2f µs (best: %s %.2f µs; %.2f×)" % (s_c, best[1], best[0], s_c / best[0]), s_c <= NOISE * best[0])

    # issue 12: a path with an allow rule and a limit rule against the same path without
    for t in ("12 B file, 50 conns", "12 B file, 1000 conns"):
        s_c, p_c = med(t, "statusd", "cpu_us"), med(t, "policy", "cpu_us")
        if s_c and p_c:
            row("Policies: %s, allow + limit CPU/request ≤ 1.05× without" % t, "%.3f× (statusd rounds ±%.1f %%)" % (
                p_c / s_c, spread(t, "statusd") / 2), p_c <= 1.05 * s_c)

    # issue 17: counting every request for /metrics against not counting
    for t in ("12 B file, 50 conns", "12 B file, 1000 conns"):
        s_c, m_c = med(t, "statusd", "cpu_us"), med(t, "metrics", "cpu_us")
        if s_c and m_c:
            row("Metrics: %s, /metrics on CPU/request ≤ 1.02× off" % t, "%.3f× (statusd rounds ±%.1f %%)" % (
                m_c / s_c, spread(t, "statusd") / 2), m_c <= 1.02 * s_c)

    # issue 19: the same rules with the limit stepped in Redis (store.redis) against the in-process store
    for t in ("12 B file, 50 conns", "12 B file, 1000 conns"):
        p_c, r_c, r_side = med(t, "policy", "cpu_us"), med(t, "redis", "cpu_us"), med(t, "redis", "side_cpu_us")
        if p_c and r_c:
            row("Scale-out: %s, limit in Redis CPU/request ≤ 1.5× in-process (statusd's side)" % t,
                "%.3f× (%.2f vs %.2f µs; redis-server itself %.2f µs/request more)" % (r_c / p_c, r_c, p_c, r_side or 0),
                r_c <= 1.5 * p_c)

    n_cpu = med("12 B negotiated (2 languages), 50 conns", "negotiate", "cpu_us")
    if n_cpu and f12_cpu:
        row("negotiated 12 B: CPU/request ≤ 1.3× the 12 B file", "%.2f×" % (n_cpu / f12_cpu), n_cpu <= 1.3 * f12_cpu)

    # the gateway (issue 13): statusd's proxy against nginx's and HAProxy, in front of one upstream
    t = "proxy: 12 B file, 50 conns"
    p_cpu, n_cpu = med(t, "statusd-proxy", "cpu_us"), med(t, "nginx-proxy", "cpu_us")
    if p_cpu and n_cpu:
        h_cpu = med(t, "haproxy", "cpu_us")
        extra = " (HAProxy: %.2f×)" % (p_cpu / h_cpu) if h_cpu else ""
        row("proxy: CPU/request ≤ 0.8× nginx",
            "%.2f×%s%s" % (p_cpu / n_cpu, extra, paired(t, "statusd-proxy", "nginx-proxy")), p_cpu <= 0.8 * n_cpu)
    t = "proxy: 12 B file, 1000 conns"
    p_p99 = med(t, "statusd-proxy", "p99")
    anchors = [(med(t, n, "p99"), n) for n in ("nginx-proxy", "haproxy") if med(t, n, "p99")]
    if p_p99 and anchors:
        best = min(anchors)
        row("proxy, 1000 conns: p99 no worse than the best anchor", "%.2f ms (best: %s %.2f ms)" % (
            p_p99, best[1], best[0]), p_p99 <= best[0])

    # Engine v2: against the baseline and the floor
    t = "12 B file, 50 conns"
    if s_cpu and f_cpu:
        row("Engine v2: 12 B file CPU/request ≤ 1.10× floor", "%.3f×" % (s_cpu / f_cpu), s_cpu <= 1.10 * f_cpu)
    checks = [("12 B file, 50 conns", "Engine v2: 12 B file CPU/request ≤ 1.03× baseline", 1.03)]
    checks += [(t, "Engine v2: %s CPU/request no worse than baseline (≤ %.2f×, noise)" % (t, NOISE), NOISE)
               for t in NO_WORSE]
    for t, text, limit in checks:
        s_c, b_c = med(t, "statusd", "cpu_us"), med(t, "baseline", "cpu_us")
        if s_c and b_c:
            row(text, "%.3f× (req/s %.2f×; baseline rounds ±%.1f %%)" % (
                s_c / b_c, med(t, "statusd", "rps") / med(t, "baseline", "rps"), spread(t, "baseline") / 2),
                s_c <= limit * b_c)
        elif med(t, "statusd", "cpu_us"):
            row(text, "not measured: %s" % (baseline_why or "no baseline run for this row"), None)
    if len(out) > 3:
        out += ["", "Tolerance of the \"no worse than baseline\" bars: CPU/request ratio ≤ %.2f, not 1.00: CPU time is "
                "read from /proc in clock ticks and medians of interleaved rounds of one binary against itself "
                "still differ by about 1-2 %% on a quiet machine. \"baseline rounds ±\" is half the spread "
                "(max−min)/median of the baseline's own rounds in this run: a bar missed by less than it is noise." % NOISE]
        return out
    return []


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--proxy-rounds", type=int, default=7,
                    help="rounds of the plain proxy rows ('proxy: …', whose bars are judged on them): at least "
                         "--rounds; the extra rounds run those rows alone (default %(default)s: a proxied request's CPU "
                         "is nearly all kernel time, which moves by a third between rounds on a small virtual "
                         "machine, and a median of three is not a measurement there)")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--idle", type=int, default=5000)
    ap.add_argument("--servers", default="statusd,policy,metrics,redis,negotiate,baseline,nginx,lighttpd,h2o,floor," +
                    ",".join(ALL_PROXIES),
                    help="comma-separated; 'floor' is bench/floor.c, a server that parses nothing (12 B scenarios "
                         "only); 'baseline' is statusd at --baseline REV; 'policy' is statusd with an allow rule "
                         "and a limit rule on the path (12 B scenarios only); 'metrics' is statusd with /metrics served "
                         "(every request counted; 12 B scenarios only); 'redis' is the same with the limit in a "
                         "local redis-server (store.redis); 'negotiate' is statusd with "
                         "--negotiate (the negotiated 12 B scenario only); statusd-proxy, nginx-proxy and haproxy "
                         "are reverse proxies in front of one more statusd (the proxy rows only); the same with "
                         "-tls speak TLS to it (the https-upstream rows only)")
    ap.add_argument("--baseline", default=default_baseline(), metavar="REV|none",
                    help="git revision of the statusd measured as 'baseline' (default: BASELINE in bench/bench.mk, "
                         "%(default)s); 'none' skips it")
    ap.add_argument("--only", default="", help="run only scenarios whose title contains this text")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "latest.md"))
    args = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # servers inherit it
    which = args.servers.split(",")
    # the API right after the 12 B file it is compared with, so that drift hits both alike
    tls_servers = ("statusd", "nginx", "h2o")
    scenarios = [
        ("12 B file, 50 conns", "/small.txt", 50, None),
        ("12 B negotiated (2 languages), 50 conns", "/hello", 50, ("negotiate",)),
        ("API /status/200, 50 conns", "/_api/status/200", 50, ("statusd", "baseline")),
        ("API /bytes/1024, 50 conns", "/_api/bytes/1024", 50, ("statusd", "baseline")),
        ("100 KiB file, 50 conns", "/big.bin", 50, None),
        ("12 B file, 1000 conns", "/small.txt", 1000, None),
        ("100 KiB file, 1000 conns", "/big.bin", 1000, None),
        ("HTTPS 12 B file, 50 conns", "/small.txt", 50, tls_servers),
        ("HTTPS 100 KiB file, 50 conns", "/big.bin", 50, tls_servers),
        ("proxy: 12 B file, 50 conns", "/small.txt", 50, PROXIES),
        ("proxy: 12 B file, 1000 conns", "/small.txt", 1000, PROXIES),
        ("proxy https-upstream: 12 B file, 50 conns", "/small.txt", 50, PROXIES_TLS),
        ("proxy https-upstream: 12 B file, 1000 conns", "/small.txt", 1000, PROXIES_TLS),
    ]
    scenarios = [sc for sc in scenarios if args.only in sc[0]]
    results = {}  # (scenario, server) -> list of runs
    mem, mem_tls = {}, {}
    servers = {}
    baseline_desc, baseline_why = None, None
    tmp = tempfile.mkdtemp(prefix="statusd-bench-", dir="/tmp")
    try:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        os.chmod(tmp, 0o755)
        with open(os.path.join(root, "small.txt"), "wb") as f:
            f.write(b"hello world\n")  # 12 bytes
        for lang in ("en", "fr"):  # /hello, negotiated between two 12-byte variants
            with open(os.path.join(root, "hello.%s.txt" % lang), "wb") as f:
                f.write(b"hello world\n")
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(100 * 1024))
        baseline_exe = None
        if args.baseline == "none":
            baseline_why = "--baseline none"
        elif "baseline" not in which:
            baseline_why = "'baseline' is not in --servers"
        else:
            baseline_exe, baseline_desc = build_baseline(args.baseline, tmp)
            if baseline_exe:
                lacking = missing_options(baseline_exe)
                if lacking:
                    baseline_exe, baseline_desc = None, "statusd at %s lacks %s, so it cannot be started like the " \
                        "current statusd" % (baseline_desc, " ".join(lacking))
            if not baseline_exe:
                baseline_why, baseline_desc = baseline_desc, None
                print("baseline: NOT MEASURED: %s\nbaseline: continuing without it" % baseline_why, flush=True)
        servers = start_servers(root, tmp, which, baseline_exe)
        for rnd in range(max(args.rounds, args.proxy_rounds)):
            for title, path, conns, only in scenarios:
                if rnd >= args.rounds and not title.startswith("proxy: "):
                    continue  # the proxy rows' extra rounds
                for name, srv in servers.items():
                    if name == "upstream" or (only and name not in only) or (not only and name in ALL_PROXIES):
                        continue
                    if name in ("floor", "policy", "metrics", "redis") and path != "/small.txt":
                        continue  # the floor answers every request with the same 12 bytes
                    if name == "negotiate" and not only:
                        continue  # negotiation on: only its own scenario
                    if title.startswith("HTTPS"):
                        url = "https://127.0.0.1:%d%s" % (srv.tls_port, path)
                    else:
                        url = "http://127.0.0.1:%d%s" % (srv.port, path)
                    r = run_wrk(url, conns, args.duration, srv)
                    results.setdefault((title, name), []).append(r)
                    print("round %d  %-26s %-9s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  cpu %6.2f us/req%s" % (
                        rnd + 1, title, name, r["rps"], r["p50"], r["p99"], r["cpu_us"],
                        "  errors %d non2xx %d" % (r["errors"], r["non2xx"]) if r["errors"] or r["non2xx"] else ""),
                        flush=True)
        if args.idle > 0:
            for name, srv in servers.items():
                if name in ("floor", "policy", "metrics", "negotiate", "redis", "upstream") or name in ALL_PROXIES:
                    continue
                vals = [idle_memory(srv, args.idle) for _ in range(1)]
                mem[name] = median(vals)
                print("idle keep-alive memory %-9s %8.0f bytes/conn" % (name, mem[name]), flush=True)
                if srv.tls_port:
                    mem_tls[name] = idle_memory_tls(srv, args.idle)
                    print("idle TLS keep-alive memory %-9s %8.0f bytes/conn" % (name, mem_tls[name]), flush=True)
    finally:
        for srv in servers.values():
            srv.stop()
            if getattr(srv, "side", None):
                srv.side.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    with_baseline = "baseline" in servers
    lines = ["# statusd benchmark", "",
             "Same machine, same run; %d rounds of %d s each, interleaved; medians. `wrk -t1`. "
             "CPU µs/request is the servers' utime+stime divided by requests served." % (args.rounds, args.duration) +
             (" The plain proxy rows ('proxy: …') have %d rounds: the extra ones ran them alone, interleaved across "
              "the proxies." % args.proxy_rounds if args.proxy_rounds > args.rounds and
              any(t.startswith("proxy: ") for t, _, _, _ in scenarios) else ""), "",
             ("Baseline: statusd at %s (`--baseline %s`), built from git for this run and started with the same "
              "options as statusd." % (baseline_desc, args.baseline)) if with_baseline else
             "Baseline: **not measured** (%s)." % baseline_why, ""]
    head = "| scenario | server | req/s | p50 ms | p99 ms | CPU µs/req | statusd CPU ratio | statusd req/s ratio |"
    rule = "|---|---|---:|---:|---:|---:|---:|---:|"
    if with_baseline:
        head += " statusd CPU ratio vs baseline | statusd req/s ratio vs baseline |"
        rule += "---:|---:|"
    lines += [head, rule]
    for title, path, conns, only in scenarios:
        # the proxy rows compare the proxies
        ref = "statusd-proxy" if only == PROXIES else "statusd-proxy-tls" if only == PROXIES_TLS else "statusd"
        s_runs = results.get((title, ref))
        b_runs = results.get((title, "baseline"))
        for name in servers:
            runs = results.get((title, name))
            if not runs:
                continue
            rps, p50, p99, cpu = (median([r[k] for r in runs]) for k in ("rps", "p50", "p99", "cpu_us"))
            ratio_cpu = ratio_rps = ""
            if name != ref and s_runs:
                ratio_cpu = "%.2f×" % (median([r["cpu_us"] for r in s_runs]) / cpu) if cpu else ""
                ratio_rps = "%.2f×" % (median([r["rps"] for r in s_runs]) / rps) if rps else ""
            line = "| %s | %s | %.0f | %.2f | %.2f | %.2f | %s | %s |" % (title, name, rps, p50, p99, cpu, ratio_cpu,
                                                                        ratio_rps)
            if with_baseline:
                vs_cpu = vs_rps = ""
                if name == "statusd" and b_runs:
                    b_cpu, b_rps = median([r["cpu_us"] for r in b_runs]), median([r["rps"] for r in b_runs])
                    vs_cpu = "%.3f×" % (cpu / b_cpu) if b_cpu else ""
                    vs_rps = "%.3f×" % (rps / b_rps) if b_rps else ""
                line += " %s | %s |" % (vs_cpu, vs_rps)
            lines.append(line)
    if mem:
        lines += ["", "| idle keep-alive connection | bytes each |", "|---|---:|"]
        for name, v in mem.items():
            lines.append("| %s | %.0f |" % (name, v))
    if mem_tls:
        lines += ["", "| idle keep-alive TLS connection | bytes each |", "|---|---:|"]
        for name, v in mem_tls.items():
            lines.append("| %s | %.0f |" % (name, v))
    lines += bars(results, mem, baseline_why)
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print()
    print(text)
    if not with_baseline and args.baseline != "none":
        print("NOTE: no baseline in this run: %s" % baseline_why)
    print("written to %s" % args.out)


if __name__ == "__main__":
    sys.exit(main())
