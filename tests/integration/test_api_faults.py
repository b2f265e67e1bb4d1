"""Client-testing API: /fault/{kind}. For each fault: the exact bytes on the wire (raw socket),
what curl reports (exit code and message) and what Python's http.client / requests raise."""
import http.client
import subprocess
import time

import pytest
import requests

from conftest import read_all
from test_api_helpers import request, running


@pytest.fixture(scope="module")
def api():
    with running("--api-max-duration", "1s") as s:
        yield s


def raw(api, kind, timeout=3):
    return api.raw(request("GET", "/fault/" + kind, close=False), timeout=timeout)


def curl_rc(api, kind, *args):
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", *args, api.url + "/fault/" + kind],
                         capture_output=True, text=True, timeout=15)
    return out.returncode, out.stderr


def http_client_error(api, kind):
    c = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    try:
        c.request("GET", "/fault/" + kind)
        r = c.getresponse()
        return r.status, r.read()
    except Exception as e:  # the point: which exception
        return type(e).__name__, None
    finally:
        c.close()


def test_abort_before_headers(api):
    assert raw(api, "abort-before-headers") == b""
    assert curl_rc(api, "abort-before-headers") == (52, "curl: (52) Empty reply from server\n")
    assert http_client_error(api, "abort-before-headers")[0] == "RemoteDisconnected"


def test_abort_after_headers(api):
    data = raw(api, "abort-after-headers")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n") and data.endswith(b"Content-Length: 1024\r\n\r\n")
    rc, err = curl_rc(api, "abort-after-headers")
    assert rc == 18 and "1024 bytes remaining" in err
    assert http_client_error(api, "abort-after-headers")[0] == "IncompleteRead"
    # urllib3 1.x (Debian's) does not enforce Content-Length: requests returns the short body
    # quietly, which is exactly what this fault is here to reveal
    r = requests.get(api.url + "/fault/abort-after-headers")
    assert r.headers["content-length"] == "1024" and len(r.content) < 1024


def test_abort_mid_body(api):
    t0 = time.time()
    data = raw(api, "abort-mid-body?delay=0.2")
    assert time.time() - t0 >= 0.19
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 1024" in head and len(body) == 512
    rc, err = curl_rc(api, "abort-mid-body?delay=0.05")
    assert rc == 18 and "512 bytes remaining" in err


def test_reset(api):
    s = api.connect()
    s.sendall(request("GET", "/fault/reset", close=False))
    s.settimeout(3)
    with pytest.raises(ConnectionResetError):
        s.recv(100)
    s.close()
    rc, err = curl_rc(api, "reset")
    assert rc == 56 and "reset" in err.lower()
    # the request is sent whole before the server resets, so the RST (never a FIN: SO_LINGER 0)
    # meets http.client's read of the status line
    assert http_client_error(api, "reset")[0] == "ConnectionResetError"


def test_short_body(api):
    head, _, body = raw(api, "short-body").partition(b"\r\n\r\n")
    assert b"Content-Length: 100" in head and len(body) == 50
    rc, err = curl_rc(api, "short-body")
    assert rc == 18 and "50 bytes remaining" in err
    assert http_client_error(api, "short-body")[0] == "IncompleteRead"


def test_long_body(api):
    head, _, body = raw(api, "long-body").partition(b"\r\n\r\n")
    assert head.endswith(b"\r\nContent-Length: 10") and body == b"0123456789EXTRABYTES"
    out = subprocess.run(["curl", "-sS", "-v", api.url + "/fault/long-body"], capture_output=True, timeout=10)
    assert out.returncode == 0 and out.stdout == b"0123456789" and b"Excess found" in out.stderr
    assert http_client_error(api, "long-body") == (200, b"0123456789")


def test_bad_chunk(api):
    data = raw(api, "bad-chunk")
    assert b"Transfer-Encoding: chunked" in data and data.endswith(b"5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n")
    rc, err = curl_rc(api, "bad-chunk")
    assert rc == 56 and "chunk" in err
    assert http_client_error(api, "bad-chunk")[0] == "IncompleteRead"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(api.url + "/fault/bad-chunk")


def test_no_final_chunk(api):
    data = raw(api, "no-final-chunk")
    assert data.endswith(b"\r\n\r\n5\r\nhello\r\n6\r\n world\r\n") and b"0\r\n\r\n" not in data
    rc, err = curl_rc(api, "no-final-chunk")
    assert rc == 18 and "outstanding read data" in err
    assert http_client_error(api, "no-final-chunk")[0] == "IncompleteRead"


def test_slow_headers(api):
    s = api.connect()
    s.sendall(request("GET", "/fault/slow-headers?delay=0.1", close=False))
    s.settimeout(3)
    t0 = time.time()
    pieces = []
    while True:
        b = s.recv(4096)
        if not b:
            break
        pieces.append((round(time.time() - t0, 2), b))
    s.close()
    assert pieces[0][1] == b"HTTP/1.1 200 OK\r\n" and len(pieces) >= 5
    assert pieces[-1][0] >= 0.45
    assert b"".join(p for _, p in pieces).endswith(b"\r\n\r\nslow headers\n")
    rc, _ = curl_rc(api, "slow-headers?delay=0.02")
    assert rc == 0
    rc, err = curl_rc(api, "slow-headers?delay=0.15", "--max-time", "0.4")
    assert rc == 28
    r = requests.get(api.url + "/fault/slow-headers?delay=0.02")
    assert r.status_code == 200 and r.text == "slow headers\n"


def test_hang(api):
    t0 = time.time()
    assert raw(api, "hang?duration=0.3") == b""
    assert 0.28 <= time.time() - t0 < 1.5
    rc, err = curl_rc(api, "hang", "--max-time", "0.3")
    assert rc == 28 and "timed out" in err.lower()
    t0 = time.time()
    rc, _ = curl_rc(api, "hang")  # no client limit: the server gives up at --api-max-duration (1s)
    assert rc == 52 and 0.9 <= time.time() - t0 < 3
    s = api.connect()
    s.sendall(request("GET", "/fault/hang?duration=5s"))
    assert b"--api-max-duration (1s)" in read_all(s)
    s.close()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(api.url + "/fault/hang?duration=0.5", timeout=0.2)


def test_garbage_status_line(api):
    data = raw(api, "garbage-status-line")
    assert data.startswith(b"HTTP/1.1 200 \x00\x01\x7f garbage\r\n")
    rc, err = curl_rc(api, "garbage-status-line")
    assert rc == 8 and "Nul byte" in err


def test_not_http(api):
    assert raw(api, "not-http").startswith(b"\x16\x03\x01")
    rc, err = curl_rc(api, "not-http")
    assert rc == 1 and "HTTP/0.9" in err
    assert http_client_error(api, "not-http")[0] == "BadStatusLine"


def test_duplicate_content_length(api):
    head, _, body = raw(api, "duplicate-content-length").partition(b"\r\n\r\n")
    assert b"Content-Length: 5\r\nContent-Length: 7" in head and body == b"hello"
    rc, err = curl_rc(api, "duplicate-content-length")
    assert rc == 18
    with pytest.raises(requests.exceptions.InvalidHeader):
        requests.get(api.url + "/fault/duplicate-content-length")


def test_unknown_fault_lists_kinds(api):
    r = requests.get(api.url + "/fault/nope")
    assert r.status_code == 404 and "abort-before-headers" in r.text and "duplicate-content-length" in r.text


def test_faults_are_logged_and_server_survives(api):
    lines = api.access_log(wait_for="/fault/reset")
    assert any('"GET /fault/reset HTTP/1.1" 444 ' in l for l in lines)
    assert any('"GET /fault/abort-before-headers HTTP/1.1" 444 ' in l for l in lines)
    assert requests.get(api.url + "/get").status_code == 200
