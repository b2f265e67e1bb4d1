"""Client-testing API: /status/{code} for every code of the registry, with each code's semantics,
random and weighted choices, and the httpstat.us extensions (sleep, response headers)."""
import collections
import time

import requests

from conftest import parse_responses, read_all
from test_api_helpers import fetch, jbody, registry, request



def test_every_registry_code(api):
    seen = 0
    for code, reason, logonly in registry():
        if code == 444:
            continue  # below: nothing on the wire
        r, rs = fetch(api, "GET", "/status/%d" % code)
        seen += 1
        if code == 101:
            assert r.status == 400 and b"upgrade" in r.body, r.body
            continue
        if logonly:
            assert r.status == 400 and b"log-only" in r.body, (code, r.body)
            continue
        if code < 200:
            assert [x.status for x in rs] == [code, 200], code
            continue
        assert r.status == code, (code, r)
        assert r.reason == reason, (code, r.reason, reason)
        if code in (204, 304):
            # RFC 9110 §8.6, RFC 9112 §6.1: neither Content-Length (no 200 representation exists
            # for a 304 here) nor Transfer-Encoding, and not one byte after the head
            wire = api.raw(request("GET", "/status/%d" % code))
            assert wire.startswith(b"HTTP/1.1 %d " % code) and wire.find(b"\r\n\r\n") == len(wire) - 4, (code, wire)
            assert not r.has("content-length") and not r.has("transfer-encoding"), (code, r.headers)
        elif code == 206:
            assert r.header("content-range") == "bytes 0-9/100" and r.body == b"0123456789"
        elif code == 226:
            assert r.header("im") == "gzip" and r.has("etag")
        elif code == 205:
            assert r.body == b"" and r.header("content-length") == "0"  # RFC 9110 §15.3.6
        else:
            assert r.body == ("%d %s" % (code, reason)).encode(), (code, r.body)
        if 300 <= code < 400 and code != 304:
            assert r.header("location") == "/get", code
        if code in (201, 202):
            assert r.header("location") == "/get", code
        expect = {401: "www-authenticate", 405: "allow", 407: "proxy-authenticate", 416: "content-range",
                  429: "retry-after", 503: "retry-after", 426: "upgrade"}
        if code in expect:
            assert r.has(expect[code]), (code, r.headers)
        if code == 416:
            assert r.header("content-range").startswith("bytes */")
        if code == 451:
            assert 'rel="blocked-by"' in r.header("link")
    assert seen > 50


def test_444_closes_without_a_byte(api):
    assert api.raw(request("GET", "/status/444")) == b""
    lines = api.access_log(wait_for='/status/444 HTTP/1.1" 444')
    assert any('"GET /status/444 HTTP/1.1" 444 ' in l for l in lines)


def test_499_and_101_explained(api):
    r, _ = fetch(api, "GET", "/status/499", [("Accept", "application/json")])
    d = jbody(r)
    assert r.status == 400 and "log-only" in d["detail"] and "never send" in d["detail"]
    r, _ = fetch(api, "GET", "/status/101")
    assert r.status == 400 and b"/websocket/echo" in r.body


def test_103_early_hints_then_200(api):
    data = api.raw(request("GET", "/status/103"))
    rs, rest = parse_responses(data)
    assert [r.status for r in rs] == [103, 200] and rest == b""
    assert "rel=preload" in rs[0].header("link") and rs[0].raw_head.startswith(b"HTTP/1.1 103 Early Hints\r\n")
    assert rs[1].header("link") == rs[0].header("link")
    for code in (100, 102):
        rs, _ = parse_responses(api.raw(request("GET", "/status/%d" % code)))
        assert [r.status for r in rs] == [code, 200]
    # never an interim response to HTTP/1.0 (RFC 9110 §15.2)
    rs, _ = parse_responses(api.raw(b"GET /status/103 HTTP/1.0\r\n\r\n"))
    assert [r.status for r in rs] == [200]


def test_102_then_sleep_then_200(api):
    c = api.connect()
    c.sendall(request("GET", "/status/102?sleep=200"))
    c.settimeout(3)
    t0 = time.time()
    first = c.recv(4096)
    assert first.startswith(b"HTTP/1.1 102 Processing\r\n") and time.time() - t0 < 0.15
    rest = read_all(c)
    c.close()
    assert time.time() - t0 >= 0.18 and b"HTTP/1.1 200 OK" in first + rest


def test_json_body_when_preferred(api):
    r, _ = fetch(api, "GET", "/status/418", [("Accept", "application/json")])
    assert r.status == 418 and jbody(r) == {"code": 418, "description": "I'm a teapot"}
    r, _ = fetch(api, "GET", "/status/418", [("Accept", "text/plain;q=0.5, application/json;q=0.9")])
    assert r.header("content-type") == "application/json"
    r, _ = fetch(api, "HEAD", "/status/500")
    assert r.status == 500 and r.body == b"" and r.header("content-length") == str(len("500 Internal Server Error"))


def test_any_method(api):
    for m in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"):
        r, _ = fetch(api, m, "/status/409", body=b"x" if m in ("POST", "PUT") else b"")
        assert r.status == 409, m


def test_random_and_weighted_choice(api):
    s = requests.Session()
    counts = collections.Counter(s.get(api.url + "/status/200,201,202").status_code for _ in range(60))
    assert set(counts) <= {200, 201, 202} and len(counts) >= 2
    counts = collections.Counter(s.get(api.url + "/status/200:0.9,500:0.1").status_code for _ in range(100))
    assert set(counts) <= {200, 500} and counts[200] > counts[500]
    assert {s.get(api.url + "/status/418:1,500:0").status_code for _ in range(20)} == {418}


def test_bad_codes(api):
    for path in ("/status/", "/status/abc", "/status/1000", "/status/299", "/status/200,", "/status/200:x", "/status/200:0,500:0"):
        r, _ = fetch(api, "GET", path)
        assert r.status == 400, path


def test_sleep_is_a_timer_not_a_block(api):
    # three slow requests in parallel on one worker finish together: the worker never sleeps.
    # Judged by when each answer arrives, not by a wall-clock budget (a loaded machine slows
    # everything alike): a worker that slept would answer them 300 ms apart.
    import selectors
    t0 = time.time()
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(3):
        c = api.connect()
        c.sendall(request("GET", "/status/201?sleep=300"))
        c.setblocking(False)
        sel.register(c, selectors.EVENT_READ)
        socks.append(c)
    got = {c: b"" for c in socks}
    done = {}
    while len(done) < 3 and time.time() - t0 < 10:
        for key, _ in sel.select(timeout=1):
            c = key.fileobj
            got[c] += c.recv(65536)
            rs, _ = parse_responses(got[c])
            if rs and c not in done:
                assert rs[0].status == 201
                done[c] = time.time()
                sel.unregister(c)
    for c in socks:
        c.close()
    assert len(done) == 3
    times = sorted(t - t0 for t in done.values())
    assert times[0] >= 0.28  # each waited its 300 ms
    assert times[-1] - times[0] < 0.2, times  # and all at once
    t0 = time.time()
    r, _ = fetch(api, "GET", "/status/200", [("X-HttpStatus-Sleep", "200")])
    assert r.status == 200 and time.time() - t0 >= 0.19


def test_sleep_over_the_cap_is_400(api):
    r, _ = fetch(api, "GET", "/status/200?sleep=60000")
    assert r.status == 400 and b"--api-max-duration" in r.body and b"10s" in r.body
    r, _ = fetch(api, "GET", "/status/200", [("X-HttpStatus-Sleep", "abc")])
    assert r.status == 400


def test_httpstatus_response_headers(api):
    r, _ = fetch(api, "GET", "/status/200", [("X-HttpStatus-Response-Foo", "bar"), ("X-HttpStatus-Response-X-Trace", "1")])
    assert r.header("foo") == "bar" and r.header("x-trace") == "1"
    r, _ = fetch(api, "GET", "/status/200", [("X-HttpStatus-Response-Content-Length", "5")])
    assert r.status == 400


def test_redirect_codes_have_location_and_keep_connection(api):
    c = api.connect()
    for code in (301, 302, 303, 307, 308):
        c.sendall(request("GET", "/status/%d" % code, close=False))
    c.sendall(request("GET", "/get"))
    rs, _ = parse_responses(read_all(c))
    c.close()
    assert [r.status for r in rs] == [301, 302, 303, 307, 308, 200]
    assert all(r.header("location") == "/get" for r in rs[:5])
    r = requests.get(api.url + "/status/307")
    assert r.status_code == 200 and r.history[0].status_code == 307 and r.url == api.url + "/get"
