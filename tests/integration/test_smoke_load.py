"""Smoke load: wrk (Debian package wrk) against /status/200 with 50 connections for 10 seconds.
No socket errors, no non-2xx responses, and the server's memory does not grow with the number of
requests served (a leak of even a few bytes per request would show over ~10^5 requests)."""
import re
import shutil
import subprocess
import time

import pytest

WRK = shutil.which("wrk")
DURATION = 10
CONNECTIONS = 50
# RSS growth allowed across the measured run, after a warm-up run with the same connection count
# has created every per-worker buffer and arena block. 2 MiB is far below what a per-request leak
# would cost at this request count (≥ 10^5 requests → ≥ 2 MiB at 20 bytes each) and far above
# allocator noise.
MAX_GROWTH_KIB = 2048


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def run_wrk(url, seconds):
    out = subprocess.run([WRK, "-t", "2", "-c", str(CONNECTIONS), "-d", "%ds" % seconds, "--timeout", "5s", url],
                         capture_output=True, text=True, timeout=seconds + 30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def parse_wrk(text):
    m = re.search(r"(\d+) requests in ([\d.]+)s", text)
    assert m, text
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "requests": int(m.group(1)),
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


@pytest.mark.skipif(WRK is None, reason="wrk is not installed (Debian package wrk; `make deps` installs it)")
def test_wrk_smoke_status_200(make_server):
    s = make_server(workers=2, access_log="off")
    url = s.url + "/status/200"
    warm = parse_wrk(run_wrk(url, 2))
    assert warm["socket_errors"] == 0 and warm["non2xx"] == 0, warm
    time.sleep(0.2)
    before = rss_kib(s.proc.pid)
    text = run_wrk(url, DURATION)
    res = parse_wrk(text)
    time.sleep(0.2)
    after = rss_kib(s.proc.pid)
    print("wrk: %d requests in %ds; RSS %d KiB -> %d KiB" % (res["requests"], DURATION, before, after))
    assert res["socket_errors"] == 0, text
    assert res["non2xx"] == 0, text
    assert res["requests"] > 10000, text
    assert after - before < MAX_GROWTH_KIB, "RSS grew from %d KiB to %d KiB over %d requests" % (
        before, after, res["requests"])
    assert s.proc.poll() is None
