"""Streaming request bodies (hs_req_body_stream), driven through the API's /sink: the body is
taken as it arrives and never held, reading pauses for back-pressure, a body that breaks its
framing or its limit is answered as soon as that is known; and the buffered reader answers 413
instead of aborting when memory for a body cannot be found."""
import hashlib
import json
import os
import socket
import time

import pytest
import requests

from conftest import SANITIZED, Server, one_response, read_all, stop_and_check


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))


def pieces(total, size=65536, byte=b"s"):
    block = byte * size
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield block[:n]
        sent += n


@pytest.fixture(scope="module")
def srv():
    s = Server("--max-body", "300m", "--body-timeout", "400ms")
    yield s
    stop_and_check(s)


def test_chunked_body_counted_and_hashed_without_being_held(srv):
    total = 100 * 1024 * 1024
    base = vm_rss(srv.proc.pid)
    r = requests.post(srv.url + "/sink", data=pieces(total), timeout=60)  # a generator: chunked
    grown = vm_rss(srv.proc.pid) - base
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["bytes"] == total
    assert j["sha256"] == hashlib.sha256(b"s" * total).hexdigest()
    assert j["pieces"] > 100  # handed over as it arrived, not at the end
    assert grown < 16 * 1024 * 1024, "server RSS grew by %d MB for a 100 MB body" % (grown >> 20)


def test_content_length_body(srv):
    body = os.urandom(3 * 1024 * 1024 + 17)
    r = requests.put(srv.url + "/sink", data=body, timeout=30)
    assert r.status_code == 200
    assert r.json()["bytes"] == len(body) and r.json()["sha256"] == hashlib.sha256(body).hexdigest()


def test_empty_body(srv):
    r = requests.post(srv.url + "/sink", data=b"", timeout=10)
    assert r.status_code == 200 and r.json()["bytes"] == 0 and r.json()["pieces"] == 0
    assert r.json()["sha256"] == hashlib.sha256(b"").hexdigest()


def test_rate_pauses_reading_and_a_pause_is_not_a_timeout(srv):
    """1.5 MB at 1 MB/s takes over a second; --body-timeout is 400 ms, yet no 408: the server
    is the one not reading."""
    total = 1536 * 1024
    t0 = time.time()
    r = requests.post(srv.url + "/sink?rate=1m", data=pieces(total), timeout=30)
    took = time.time() - t0
    assert r.status_code == 200, r.text
    assert r.json()["bytes"] == total
    assert took >= 1.2, "read faster than the rate: %.2fs" % took


def send_until_answered(server, head, chunks, size=65536):
    """Send a chunked body of up to `chunks` chunks, stopping as soon as the server answers;
    return (the response, the number of chunks sent)."""
    c = server.connect(timeout=60)
    c.sendall(head)
    chunk = b"%x\r\n%s\r\n" % (size, b"m" * size)
    got, sent = b"", 0
    try:
        for sent in range(1, chunks + 1):
            c.sendall(chunk)
            c.setblocking(False)
            try:
                got += c.recv(65536)
            except (BlockingIOError, ConnectionResetError):
                pass
            c.setblocking(True)
            if got:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    got += read_all(c, 10)
    c.close()
    return one_response(got), sent


def test_max_answers_413_before_the_rest_is_read(srv):
    head = b"POST /sink?max=100k HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    r, sent = send_until_answered(srv, head, 200)  # 12 MB offered; the answer comes after ~100 KB
    assert sent < 200
    assert r.status == 413 and r.header("connection") == "close"
    assert b"max=102400" in r.body


def test_max_from_content_length_at_once(srv):
    got = srv.raw(b"POST /sink?max=10 HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n", timeout=3)
    r = one_response(got)
    assert r.status == 413 and b"declared body of 11 bytes" in r.body


def test_bad_chunk_mid_stream_is_400(srv):
    got = srv.raw(b"POST /sink HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n", timeout=3)
    r = one_response(got)
    assert r.status == 400 and r.header("connection") == "close"


def test_body_stalled_is_408(srv):
    c = srv.connect()
    c.sendall(b"POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
    r = one_response(read_all(c, 3))
    c.close()
    assert r.status == 408 and r.header("connection") == "close"


def test_client_leaving_mid_body_is_logged_499(srv):
    c = srv.connect()
    c.sendall(b"POST /sink?m=gone HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 5000)
    time.sleep(0.1)
    c.close()
    lines = srv.access_log(wait_for="m=gone")
    line = next(l for l in lines if "m=gone" in l)
    assert '" 499 0 "' in line


def test_rate_and_max_are_validated(srv):
    r = requests.post(srv.url + "/sink?rate=fast", data=b"x", timeout=5)
    assert r.status_code == 400 and "rate expects" in r.text
    r = requests.post(srv.url + "/sink?rate=1", data=b"x" * 100000, timeout=5)  # 100000 s at 1 B/s
    assert r.status_code == 400 and "api-max-duration" in r.text
    r = requests.get(srv.url + "/sink", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"].startswith("POST")


@pytest.mark.skipif(SANITIZED, reason="ASan reserves terabytes of address space: an address-space limit "
                                      "cannot be set under it")
def test_buffered_body_without_memory_is_413_not_an_abort():
    """/post keeps its body in memory. With --max-body 1g but the address space limited to
    512 MB, a 600 MB body cannot be held: 413, and the server lives on."""
    s = Server("--max-body", "1g", "--log-format", "json", wrap=["prlimit", "--as=%d" % (512 * 1024 * 1024)])
    try:
        head = b"POST /post HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        r, sent = send_until_answered(s, head, 600, size=1 << 20)  # up to 600 MB
        assert r.status == 413, r.body[:300]
        assert b"cannot hold" in r.body and sent < 600
        assert requests.get(s.url + "/get", timeout=5).status_code == 200  # still serving
        recs = [json.loads(l) for l in s.access_log(wait_for='"status":200')]
        assert [(x["status"], x["cause"]) for x in recs] == [(413, "body_no_memory"), (200, "ok")]
    finally:
        stop_and_check(s)
