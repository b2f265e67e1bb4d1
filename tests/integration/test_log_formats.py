"""Access log formats (--log-format combined|json|TEMPLATE), per-host log files, and the cause
of every error status the engine sends, read back from json lines with json.loads."""
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import BIN, Server, stop_and_check

H = b"Host: t\r\n"


def lines_of(server):
    return [l for l in server.access_log() if l.startswith("{")]


def next_line(server, before, timeout=3.0):
    """The one log line written after `before` lines (waits for it)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ls = lines_of(server)
        if len(ls) > before:
            assert len(ls) == before + 1, ls[before:]
            return json.loads(ls[before])
        time.sleep(0.01)
    raise AssertionError("no log line after %d lines" % before)


def exchange(server, data, wait=0.0, close_after=None):
    """Send data on a fresh connection; read until the server closes (or close ourselves after
    `close_after` seconds, as a client that gives up)."""
    c = server.connect()
    c.sendall(data)
    if close_after is not None:
        time.sleep(close_after)
        c.close()
        return b""
    if wait:
        time.sleep(wait)
    c.settimeout(3)
    got = b""
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            got += b
    except OSError:
        pass
    c.close()
    return got


def req(line, *fields, body=b""):
    return line + b"\r\n" + b"".join(f + b"\r\n" for f in fields) + b"Connection: close\r\n\r\n" + body


CHUNKED = (b"Transfer-Encoding: chunked",)

# (request bytes, status, cause): every cause of the engine a request can produce, one case each
ENGINE_CASES = [
    (b"GET / HTTP/1.1\rHost: t\r\n\r\n", 400, "bare_cr"),
    (b"GET / HTTP/1.1\nHost: t\r\n\r\n", 400, "bare_lf"),
    (req(b"G" * 40 + b" / HTTP/1.1", H[:-2]), 501, "method_too_long"),
    (req(b" / HTTP/1.1", H[:-2]), 400, "no_method"),
    (req(b"GET\t/ HTTP/1.1", H[:-2]), 400, "method_space"),
    (req(b"GET /" + b"a" * 9000 + b" HTTP/1.1", H[:-2]), 414, "target_too_long"),
    (req(b"GET  / HTTP/1.1", H[:-2]), 400, "empty_target"),
    (req(b"GET /\xff HTTP/1.1", H[:-2]), 400, "target_non_ascii"),
    (req(b"GET /\x01 HTTP/1.1", H[:-2]), 400, "target_ctl"),
    (req(b"GET / FTP/1.1", H[:-2]), 400, "no_version"),
    (req(b"GET / HTTP/1.x", H[:-2]), 400, "bad_version"),
    (req(b"GET / HTTP/2.0", H[:-2]), 505, "http_major_version"),
    (req(b"GET * HTTP/1.1", H[:-2]), 400, "asterisk_not_options"),
    (req(b"GET ftp://x/ HTTP/1.1", H[:-2]), 400, "bad_target_form"),
    (req(b"GET http:///x HTTP/1.1", H[:-2]), 400, "empty_authority"),
    (req(b"GET http://u@h/ HTTP/1.1", H[:-2]), 400, "target_userinfo"),
    (req(b"GET /#f HTTP/1.1", H[:-2]), 400, "target_fragment"),
    (b"GET / HTTP/1.1\r\n Host: t\r\n\r\n", 400, "ws_before_field"),
    (req(b"GET / HTTP/1.1", H[:-2], b" folded"), 400, "obs_fold"),
    (req(b"GET / HTTP/1.1", b"Host : t"), 400, "ws_before_colon"),
    (req(b"GET / HTTP/1.1", b"Ho(st: t"), 400, "bad_field_name"),
    (req(b"GET / HTTP/1.1", H[:-2], b": x"), 400, "empty_field_name"),
    (req(b"GET / HTTP/1.1", H[:-2], b"X: a\x01b"), 400, "field_value_ctl"),
    (req(b"GET / HTTP/1.1", H[:-2], b"X: " + b"a" * 9000), 431, "field_too_large"),
    (req(b"GET / HTTP/1.1", H[:-2], *[b"X%d: y" % i for i in range(101)]), 431, "too_many_fields"),
    (req(b"GET / HTTP/1.1", H[:-2], *[b"X%d: " % i + b"a" * 7000 for i in range(5)]), 431, "head_too_large"),
    (req(b"POST /post HTTP/1.1", H[:-2], b"Content-Length: 1x"), 400, "bad_content_length"),
    (req(b"POST /post HTTP/1.1", H[:-2], b"Content-Length: 1", b"Content-Length: 1", body=b"a"), 400,
     "duplicate_content_length"),
    (req(b"POST /post HTTP/1.1", H[:-2], *CHUNKED, *CHUNKED), 400, "duplicate_transfer_encoding"),
    (req(b"GET / HTTP/1.1", H[:-2], H[:-2]), 400, "duplicate_host"),
    (req(b"GET / HTTP/1.1"), 400, "missing_host"),
    (req(b"GET / HTTP/1.1", b"Host: a b"), 400, "bad_host"),
    (req(b"GET / HTTP/1.1", b"Host: "), 400, "empty_host"),
    (req(b"GET http://[zz/ HTTP/1.1", H[:-2]), 400, "bad_authority"),
    (req(b"POST /post HTTP/1.0", *CHUNKED), 400, "te_in_http10"),
    (req(b"POST /post HTTP/1.1", H[:-2], b"Content-Length: 1", *CHUNKED), 400, "cl_te_conflict"),
    (req(b"POST /post HTTP/1.1", H[:-2], b"Transfer-Encoding: "), 400, "empty_transfer_encoding"),
    (req(b"POST /post HTTP/1.1", H[:-2], b"Transfer-Encoding: chunked, gzip"), 400, "chunked_not_final"),
    (req(b"POST /post HTTP/1.1", H[:-2], b"Transfer-Encoding: chunked, chunked"), 400, "chunked_twice"),
    (req(b"POST /post HTTP/1.1", H[:-2], b"Transfer-Encoding: gzip, chunked"), 501, "unknown_transfer_coding"),
    (req(b"GET / HTTP/1.1", H[:-2], b"Expect: teapot"), 417, "unsupported_expect"),
    (req(b"POST /post HTTP/1.1", H[:-2], *CHUNKED, body=b"zz\r\n"), 400, "bad_chunk_size"),
    (req(b"POST /post HTTP/1.1", H[:-2], *CHUNKED, body=b"1000000000000000\r\n"), 400, "chunk_size_overflow"),
    (req(b"POST /post HTTP/1.1", H[:-2], *CHUNKED, body=b"1;" + b"a" * 1100), 400, "chunk_line_too_long"),
    (req(b"POST /post HTTP/1.1", H[:-2], *CHUNKED, body=b"1;=x\r\n"), 400, "bad_chunk_ext"),
    (req(b"POST /post HTTP/1.1", H[:-2], *CHUNKED, body=b"1\r\nab\r\n"), 400, "bad_chunk_framing"),
    (req(b"POST /post HTTP/1.1", H[:-2], *CHUNKED, body=b"0\r\nX : y\r\n\r\n"), 400, "bad_trailer"),
    (req(b"POST /post HTTP/1.1", H[:-2], *CHUNKED, body=b"0\r\nX: " + b"y" * 9000 + b"\r\n\r\n"), 431,
     "trailer_too_large"),
    (req(b"POST /post HTTP/1.1", H[:-2], b"Content-Length: 2000"), 413, "declared_body_too_large"),
    (req(b"POST /post HTTP/1.1", H[:-2], *CHUNKED, body=b"800\r\n" + b"a" * 2048 + b"\r\n0\r\n\r\n"), 413,
     "body_too_large"),
    (req(b"PUT /put HTTP/1.1", H[:-2]), 411, "body_length_missing"),
    (req(b"FOO / HTTP/1.1", H[:-2]), 501, "unknown_method"),
    (req(b"M-POST / HTTP/1.1", H[:-2]), 510, "mandatory_extension"),
    (req(b"POST /post HTTP/1.1", H[:-2], b"Early-Data: 1", b"Content-Length: 0"), 425, "early_data_unsafe"),
    (req(b"CONNECT a:80 HTTP/1.1", H[:-2]), 405, "connect_method"),
    (req(b"GET /%zz HTTP/1.1", H[:-2]), 400, "bad_path"),
    (req(b"GET /no-such-route HTTP/1.1", H[:-2]), 404, "handler_declined"),
    # the API's own causes, and a status's default when nothing more precise is known
    (req(b"GET /status/418 HTTP/1.1", H[:-2]), 418, "api:status"),
    (req(b"GET /fault/abort-before-headers HTTP/1.1", H[:-2]), 444, "api:fault"),
    (req(b"GET /delay/100000 HTTP/1.1", H[:-2]), 400, "api:cap"),
    (req(b"DELETE /get HTTP/1.1", H[:-2]), 405, "method_not_allowed"),
    (req(b"GET /get HTTP/1.1", H[:-2]), 200, "ok"),
]


@pytest.fixture(scope="module")
def json_server():
    s = Server("--log-format", "json", "--max-body", "1k", "--header-timeout", "300ms", "--body-timeout", "300ms",
               "--drain-timeout", "300ms")
    yield s
    stop_and_check(s)


@pytest.mark.parametrize("data,status,cause", ENGINE_CASES, ids=[c[2] for c in ENGINE_CASES])
def test_json_line_carries_the_cause(json_server, data, status, cause):
    before = len(lines_of(json_server))
    exchange(json_server, data)
    rec = next_line(json_server, before)
    assert (rec["status"], rec["cause"]) == (status, cause), rec


def test_timeouts_and_clients_leaving(json_server):
    s = json_server
    cases = [
        # (bytes, how long to wait before reading (the server answers) or closing (the client leaves))
        (b"GET /get HTTP/1.1\r\nHost: t\r\n", dict(wait=0.5), 408, "header_timeout"),
        (b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab", dict(wait=0.5), 408, "body_timeout"),
        (b"GET /get HTTP/1.1\r\nHo", dict(close_after=0.1), 400, "head_incomplete"),
        (b"GET /delay/2 HTTP/1.1\r\nHost: t\r\n\r\n", dict(close_after=0.1), 499, "client_closed"),
        (b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf", dict(close_after=0.1), 499,
         "client_closed_in_body"),
    ]
    for data, how, status, cause in cases:
        before = len(lines_of(s))
        exchange(s, data, **how)
        rec = next_line(s, before)
        assert (rec["status"], rec["cause"]) == (status, cause), rec


def test_drain_timeout_is_444():
    s = Server("--log-format", "json", "--drain-timeout", "200ms")
    try:
        c = s.connect()
        c.sendall(b"GET /delay/3 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.1)
        s.proc.send_signal(signal.SIGTERM)
        s.proc.wait(5)
        c.close()
    finally:
        stop_and_check(s)
    recs = [json.loads(l) for l in lines_of(s)]
    assert [(r["status"], r["cause"], r["target"]) for r in recs] == [(444, "drain_timeout", "/delay/3")]


def test_overload_503_is_logged_with_its_cause():
    s = Server("--log-format", "json", "--max-connections", "1")
    try:
        held = s.connect()
        held.sendall(b"GET /get HTTP/1.1\r\nHost: t\r\n\r\n")
        held.recv(65536)  # the one allowed connection is open (and idle)
        got = exchange(s, b"GET /get HTTP/1.1\r\nHost: t\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 503 ")
        rec = next_line(s, 1)
        held.close()
    finally:
        stop_and_check(s)
    assert (rec["status"], rec["cause"], rec["request"], rec["method"]) == (503, "overload", "-", None)


def test_host_causes(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("strict_hosts: true\nlog_format: json\nhosts:\n  a.test:\n    paths:\n      /api: {api: true}\n")
    s = Server("--config", str(cfg))
    try:
        for data, status, cause, vhost in [
                (b"GET /get HTTP/1.1\r\nHost: other\r\n\r\n", 421, "unknown_host", None),
                (b"GET /else HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 404, "no_handler", "a.test"),
                (b"GET /api/get HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 200, "ok", "a.test")]:
            before = len(lines_of(s))
            exchange(s, data)
            rec = next_line(s, before)
            assert (rec["status"], rec["cause"], rec["vhost"]) == (status, cause, vhost), rec
    finally:
        stop_and_check(s)


def test_static_causes(tmp_path):
    root = tmp_path / "www"
    (root / "dir").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "f.txt").write_text("hello world\n")
    os.symlink("/etc/passwd", str(root / "out"))
    os.mkfifo(str(root / "fifo"))
    s = Server("--root", str(root), "--log-format", "json")
    try:
        mtime = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(os.stat(str(root / "f.txt")).st_mtime))
        for data, status, cause in [
                (req(b"GET /nope HTTP/1.1", H[:-2]), 404, "file:not_found"),
                (req(b"GET /out HTTP/1.1", H[:-2]), 403, "file:forbidden"),
                (req(b"GET /fifo HTTP/1.1", H[:-2]), 403, "file:not_regular"),
                (req(b"GET /f.txt/ HTTP/1.1", H[:-2]), 404, "file:trailing_slash"),
                (req(b"GET /empty/ HTTP/1.1", H[:-2]), 403, "file:no_index"),
                (req(b"GET /dir HTTP/1.1", H[:-2]), 301, "file:directory"),
                (req(b"GET /f.txt HTTP/1.1", H[:-2], b'If-Match: "nope"'), 412, "file:precondition"),
                (req(b"GET /f.txt HTTP/1.1", H[:-2], b"If-Modified-Since: " + mtime.encode()), 304,
                 "file:not_modified"),
                (req(b"GET /f.txt HTTP/1.1", H[:-2], b"Range: bytes=100-"), 416, "file:range"),
                (req(b"GET /f.txt HTTP/1.1", H[:-2], b"Accept-Encoding: identity;q=0, foo"), 406, "file:coding"),
                (req(b"GET /f.txt HTTP/1.1", H[:-2]), 200, "ok")]:
            before = len(lines_of(s))
            exchange(s, data)
            rec = next_line(s, before)
            assert (rec["status"], rec["cause"]) == (status, cause), rec
    finally:
        stop_and_check(s)


def test_json_escapes_hostile_bytes(json_server):
    """Whatever a client sends, a line is one JSON object that json.loads reads back to the same
    text: quotes, backslashes and controls escaped, valid UTF-8 kept, other bytes as Latin-1."""
    ua = b'q"uo\\te \xc3\xa9 \xff\xfe\tend'
    before = len(lines_of(json_server))
    exchange(json_server, req(b'GET /get?a="b"&c=\\ HTTP/1.1', H[:-2], b"User-Agent: " + ua,
                              b"Referer: \xe2\x82\xac\xed\xa0\x80"))
    rec = next_line(json_server, before)
    assert rec["target"] == '/get?a="b"&c=\\'
    assert rec["user_agent"] == 'q"uo\\te é \xff\xfe\tend'
    assert rec["referer"] == "€\xed\xa0\x80"  # a surrogate's bytes are not UTF-8: each byte as Latin-1
    # an unparsable head is logged as received: control bytes and all
    before = len(lines_of(json_server))
    exchange(json_server, b'GET /\x01"\x7f\x1b[31m HTTP/1.1\r\n\r\n')
    rec = next_line(json_server, before)
    assert rec["request"] == 'GET /\x01"\x7f\x1b[31m HTTP/1.1' and rec["method"] is None
    assert (rec["status"], rec["cause"]) == (400, "target_ctl")
    raw = [l for l in json_server.access_log() if l.startswith("{")][-1]
    assert "\x1b" not in raw and "\x01" not in raw and raw.count("\n") == 1


def test_template_format():
    fmt = '$remote_addr [$status $cause] "$method $target" ua=$http_user_agent x=${http_x_custom} $$ $bytes'
    s = Server("--log-format", fmt)
    try:
        exchange(s, req(b"GET /status/418 HTTP/1.1", H[:-2], b'User-Agent: a "b" \xff', b"X-Custom: 1"))
        exchange(s, req(b"GET /get HTTP/1.1", H[:-2]))
        time.sleep(0.3)
    finally:
        stop_and_check(s)
    lines = [l.rstrip("\n") for l in s.access_log() if l.startswith("127.")]
    assert lines == ['127.0.0.1 [418 api:status] "GET /status/418" ua=a \\x22b\\x22 \\xff x=1 $ 16',
                     '127.0.0.1 [200 ok] "GET /get" ua=- x=- $ %s' % lines[1].rsplit(" ", 1)[1]]
    assert int(lines[1].rsplit(" ", 1)[1]) > 100


def test_combined_is_the_default_and_unchanged():
    s = Server()
    t = Server("--log-format", "combined")
    try:
        for srv in (s, t):
            exchange(srv, req(b"GET /status/418 HTTP/1.1", H[:-2], b"User-Agent: ua", b"Referer: r"))
        time.sleep(0.3)
    finally:
        stop_and_check(s)
        stop_and_check(t)
    a = [l for l in s.access_log() if l.startswith("127.")]
    b = [l for l in t.access_log() if l.startswith("127.")]
    # the duration is the last field, in seconds with milliseconds (the request ends once its
    # bytes have left: a millisecond may have ticked since it began)
    for line in (a[0], b[0]):
        rest, duration = line[line.index("]"):].rsplit(" ", 1)
        assert rest == '] "GET /status/418 HTTP/1.1" 418 16 "r" "ua"'
        assert re.fullmatch(r"0\.00\d\n", duration), duration
    assert len(a) == 1 and len(b) == 1


@pytest.mark.parametrize("fmt,message", [
    ("$nope", "unknown variable '$nope' at offset 0"),
    ("a ${status", "'${' at offset 2 is not closed"),
    ("x $ y", "'$' at offset 2 names no variable"),
])
def test_bad_template_is_refused_by_t(fmt, message):
    out = subprocess.run([BIN, "-t", "--log-format", fmt], capture_output=True, text=True, timeout=10)
    assert out.returncode == 1 and message in out.stderr, out.stderr


def test_per_host_log_files_and_reopen(tmp_path):
    import pathlib
    import shutil
    import tempfile
    d = pathlib.Path(tempfile.mkdtemp(dir="/tmp"))
    os.chmod(str(d), 0o777)  # reopened as --user (nobody under CI's root) after the privilege drop
    a, b = d / "a.log", d / "b.log"
    cfg = tmp_path / "c.yaml"
    cfg.write_text("hosts:\n"
                   "  a.test:\n    access_log: %s\n    log_format: json\n    paths:\n      /: {api: true}\n"
                   "      /quiet: {api: true, access_log: 'off'}\n"
                   "  b.test:\n    access_log: %s\n    log_format: '$vhost $status $target'\n"
                   "    paths:\n      /: {api: true}\n"
                   "  c.test:\n    paths:\n      /: {api: true}\n" % (a, b))
    s = Server("--config", str(cfg), access_log="-")
    try:
        def get(host, path):
            exchange(s, req(b"GET %s HTTP/1.1" % path, b"Host: " + host))
        get(b"a.test", b"/get?1")
        get(b"b.test", b"/get?2")
        get(b"c.test", b"/get?3")
        get(b"a.test", b"/quiet/get")
        time.sleep(0.3)
        os.rename(str(a), str(a) + ".1")
        os.rename(str(b), str(b) + ".1")
        s.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 5
        while not (a.exists() and b.exists()) and time.time() < deadline:
            time.sleep(0.02)
        get(b"a.test", b"/get?4")
        get(b"b.test", b"/get?5")
    finally:
        stop_and_check(s)
    old_a = [json.loads(l) for l in open(str(a) + ".1")]
    assert [(r["vhost"], r["target"]) for r in old_a] == [("a.test", "/get?1")]
    assert open(str(b) + ".1").read() == "b.test 200 /get?2\n"
    assert [json.loads(l)["target"] for l in open(str(a))] == ["/get?4"]
    assert open(str(b)).read() == "b.test 200 /get?5\n"
    top = [l for l in s.access_log() if l.startswith("127.")]
    assert len(top) == 1 and '"GET /get?3 HTTP/1.1" 200' in top[0]
    assert "access log %s reopened" % a in s.stderr() and "access log %s reopened" % b in s.stderr()
    shutil.rmtree(str(d), ignore_errors=True)


def test_out_of_fds_503_is_logged_with_its_cause():
    """RLIMIT_NOFILE small: once accept(2) fails with EMFILE, the reserve descriptor makes room to
    answer the next client 503 with Retry-After (RFC 9110 §15.6.4), logged as out_of_fds; once
    descriptors are free again requests are served."""
    s = Server("--log-format", "json", wrap=["prlimit", "--nofile=64"])
    held, got = [], b""
    try:
        for _ in range(80):  # bounded: the limit is 64 descriptors in all
            c = s.connect()
            c.settimeout(5)
            c.sendall(b"GET /get HTTP/1.1\r\nHost: t\r\n\r\n")
            got = c.recv(65536)
            held.append(c)
            if got.startswith(b"HTTP/1.1 503 "):
                break
            assert got.startswith(b"HTTP/1.1 200 "), got[:100]
        assert got.startswith(b"HTTP/1.1 503 "), "no 503 after %d connections" % len(held)
        head, _, body = got.partition(b"\r\n\r\n")
        fields = head.decode().lower().split("\r\n")
        assert "retry-after: 5" in fields and "connection: close" in fields, fields
        assert body == b"503 Service Unavailable\nthe server has run out of file descriptors; retry later\n"
        deadline, refused = time.time() + 3, []
        while not refused and time.time() < deadline:  # the line goes through the log pipe
            refused = [r for r in map(json.loads, lines_of(s)) if r["status"] != 200]
            time.sleep(0.01)
        assert [(r["status"], r["cause"], r["request"]) for r in refused] == [(503, "out_of_fds", "-")]
        for c in held[:-1]:
            c.close()
        held = held[-1:]
        time.sleep(0.2)
        assert exchange(s, b"GET /get HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200 ")
    finally:
        for c in held:
            c.close()
        stop_and_check(s)
