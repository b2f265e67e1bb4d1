"""The health path (health: true on a path, --health-path on every host) and the shared store's
configuration check (store.*): what a load balancer and `statusd -t` see."""
import os
import signal
import subprocess
import tempfile
import time

from conftest import BIN, one_response


def get(s, path, method="GET", host="example.test"):
    data = s.raw(("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (method, path, host)).encode())
    return one_response(data, head=method == "HEAD")


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


def test_health_true_on_a_path(make_server):
    with tempfile.TemporaryDirectory() as d:
        cfg = write(d, "h.yaml", 'hosts:\n  "*":\n    paths:\n      /: {codes: true}\n      /lb/check: {health: true}\n')
        s = make_server("--config", cfg)
        r = get(s, "/lb/check")
        assert (r.status, r.body, r.header("content-type"), r.header("cache-control")) == (
            200, b"ok\n", "text/plain; charset=utf-8", "no-store")
        r = get(s, "/lb/check", "HEAD")
        assert r.status == 200 and r.header("content-length") == "3" and r.body == b""
        r = get(s, "/lb/check", "OPTIONS")
        assert r.status == 204 and r.header("allow") == "GET, HEAD, OPTIONS"
        r = get(s, "/lb/check", "DELETE")
        assert r.status == 405 and r.header("allow") == "GET, HEAD, OPTIONS"
        assert get(s, "/lb/check/deeper").status == 404
        assert get(s, "/healthz").status == 404, "only where it is configured"


def test_health_path_on_every_host_and_sigterm_without_delay(make_server):
    with tempfile.TemporaryDirectory() as d:
        cfg = write(d, "h.yaml", 'health_path: /healthz\nhosts:\n  a.test: {paths: {/: {codes: true}}}\n'
                    '  b.test: {paths: {/: {codes: true}}}\n')
        s = make_server("--config", cfg, "--drain-delay", "0s")
        assert get(s, "/healthz", host="a.test").status == 200
        assert get(s, "/healthz", host="b.test").status == 200
        # without drain_delay SIGTERM starts the drain at once: the listeners close
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(10) == 0


def test_health_503_during_drain_delay_and_second_signal(make_server):
    s = make_server("--health-path", "/healthz", "--drain-delay", "30s", "--retry-after", "7")
    assert get(s, "/healthz").status == 200
    s.proc.send_signal(signal.SIGTERM)
    end = time.monotonic() + 3
    r = get(s, "/healthz")
    while r.status == 200 and time.monotonic() < end:
        time.sleep(0.02)
        r = get(s, "/healthz")
    assert (r.status, r.header("retry-after"), r.header("connection"), r.header("cache-control")) == (
        503, "7", "close", "no-store")
    assert b"shutting down" in r.body
    assert get(s, "/codes/418").status == 200, "everything else is served during the delay"
    # a second signal ends the delay at once
    t = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(10) == 0 and time.monotonic() - t < 5
    assert "health checks answer 503 for 30000ms before the drain" in s.stderr()


def check(d, text):
    cfg = write(d, "c.yaml", text)
    out = subprocess.run([BIN, "-t", "--config", cfg], capture_output=True, text=True, timeout=30)
    return out.returncode, out.stderr.strip()


def test_config_check_of_store_and_health():
    with tempfile.TemporaryDirectory() as d:
        rc, err = check(d, 'store: {redis: "tcp://127.0.0.1:6379", prefix: "svc:", timeout: 20ms, on_failure: closed}\n')
        assert rc == 0, err
        rc, err = check(d, 'store: {redis: "unix:/run/redis/redis.sock"}\n')
        assert rc == 0, err
        rc, err = check(d, 'max_body: 1m\nstore:\n  redis: "http://127.0.0.1:6379"\n')
        assert rc == 1 and err.endswith("%s/c.yaml:3: store.redis: a Redis URL is unix:/PATH or tcp://HOST:PORT, "
                                        "got 'http://127.0.0.1:6379'" % d), err
        rc, err = check(d, 'store: {redis: "tcp://user:pw@127.0.0.1:6379"}\n')
        assert rc == 1 and "no user or password, database or options in it" in err, err
        rc, err = check(d, 'store: {redis: "tcp://127.0.0.1:99999"}\n')
        assert rc == 1 and "a Redis port is 1 to 65535" in err, err
        rc, err = check(d, 'store: {redis: "unix:relative.sock"}\n')
        assert rc == 1 and "absolute path" in err, err
        rc, err = check(d, 'store: {redis: "tcp://127.0.0.1", on_failure: sometimes}\n')
        assert rc == 1 and err.endswith("c.yaml:1: store.on_failure is open or closed, got 'sometimes'"), err
        rc, err = check(d, 'store: {timeout: 0ms}\n')
        assert rc == 1 and "c.yaml:1" in err, err
        rc, err = check(d, 'health_path: healthz\n')
        assert rc == 1 and err.endswith("c.yaml:1: health_path is a path of its own in normal form, such as "
                                        "/healthz, got 'healthz'"), err
        rc, err = check(d, 'health_path: /a/../b\n')
        assert rc == 1 and "normal form" in err, err
        rc, err = check(d, 'drain_delay: 2h\n')
        assert rc == 1 and "drain_delay" in err, err
