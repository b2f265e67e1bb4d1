"""Request smuggling: framing attacks over raw sockets, written from RFC 9112 §2.2 (line endings),
§5 (field syntax), §6 (message body length), §7 (chunked) and the known attack classes (CL.TE,
TE.CL, TE.TE obfuscation, Content-Length obfuscation, chunk-size tricks, control bytes, bare CR).

Every case sends an attack request whose body hides a complete request for the marker target
/anything/SMUGGLED, followed by a legitimate pipelined request. For each case we assert

  * the status of the first response and whether the connection closes (a framing error always
    gets 400/501 with Connection: close, RFC 9112 §6.3);
  * whether the legitimate second request is answered (only when the first one was framed
    unambiguously and the connection stayed usable);
  * crucially, that no response is ever produced from bytes that belonged to the first request:
    the number of responses is exactly the expected one, no echo answers the SMUGGLED target, and
    the access log never shows SMUGGLED as a request target.

Each case runs against the body-consuming endpoint /anything (client-testing API) and against a
static file (GET /index.html with --root), whose handler never reads request bodies.
"""
import json
import os
import shutil
import socket
import tempfile
import time

import pytest

from conftest import BAD_STDERR, Server, parse_responses

SMUGGLED = b"GET /anything/SMUGGLED HTTP/1.1\r\nHost: t\r\n\r\n"
CLOSE_WAIT = 2.5  # seconds to wait for the server to answer and close


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


# A chunked body that contains the smuggled request as data: harmless when decoded as chunked,
# a second request if a server wrongly used Content-Length or ignored Transfer-Encoding.
CHUNKED_WITH_SMUGGLED = chunk(SMUGGLED) + b"0\r\n\r\n"
# A body that is "0\r\n\r\n" + the smuggled request: a chunked parser stops after "0", a
# Content-Length parser may take everything.
ZERO_THEN_SMUGGLED = b"0\r\n\r\n" + SMUGGLED


class Case:
    """One attack. For each endpoint an expectation (statuses, close, second):
    `statuses` the final statuses the attack request produces (normally one), `close` whether the
    connection must close after them, `second` whether the pipelined legitimate request is
    answered. `static` overrides the expectation for the static endpoint, whose handler never
    reads a request body (so a chunked body it did not read forces a close)."""

    def __init__(self, name, head, body=b"", status=400, close=True, second=False, static=None,
                 version=b"HTTP/1.1", host=True, statuses=None):
        self.name = name
        self.head = head
        self.body = body
        self.api = (statuses or [status], close, second)
        if static is None:
            self.static = self.api
        else:
            st, cl, sec = static
            self.static = ([st] if isinstance(st, int) else st, cl, sec)
        self.version = version
        self.host = host

    def request(self, method, target):
        h = b"Host: t\r\n" if self.host else b""
        return method + b" " + target + b" " + self.version + b"\r\n" + h + self.head + b"\r\n" + self.body


def ok_cl(name, value, body):
    """A Content-Length that is valid: the body is read (api) or skipped (static)."""
    return Case(name, b"Content-Length: " + value + b"\r\n", body, status=200, close=False, second=True)


def ok_te(name, head, body=CHUNKED_WITH_SMUGGLED):
    """A valid chunked framing: read by /anything; unread by the static handler → close."""
    return Case(name, head, body, status=200, close=False, second=True, static=(200, True, False))


def bad(name, head, body=ZERO_THEN_SMUGGLED, status=400, **kw):
    return Case(name, head, body, status=status, close=True, second=False, **kw)


CASES = [
    # ---- CL.TE and TE.CL (RFC 9112 §6.3 (3): both present → we refuse instead of choosing)
    bad("cl-te", b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(ZERO_THEN_SMUGGLED)),
    bad("te-cl", b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", CHUNKED_WITH_SMUGGLED),
    bad("cl-te-zero-cl", b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n"),
    bad("te-cl-obfuscated-te", b"Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n"),
    # ---- TE.TE obfuscation (RFC 9112 §6.1, §6.3 (4), §7)
    bad("te-xchunked", b"Transfer-Encoding: xchunked\r\n"),
    bad("te-chunked-x", b"Transfer-Encoding: chunkedx\r\n"),
    bad("te-quoted", b"Transfer-Encoding: \"chunked\"\r\n"),
    bad("te-chunked-identity", b"Transfer-Encoding: chunked, identity\r\n"),
    bad("te-identity-chunked", b"Transfer-Encoding: identity, chunked\r\n", status=501),
    bad("te-gzip-chunked", b"Transfer-Encoding: gzip, chunked\r\n", status=501),
    bad("te-chunked-twice-list", b"Transfer-Encoding: chunked, chunked\r\n"),
    bad("te-duplicate-fields", b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
    bad("te-duplicate-identity", b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"),
    bad("te-empty", b"Transfer-Encoding: \r\n"),
    bad("te-space-before-colon", b"Transfer-Encoding : chunked\r\n"),
    bad("te-tab-before-colon", b"Transfer-Encoding\t: chunked\r\n"),
    bad("te-obs-fold", b"Transfer-Encoding: identity\r\n chunked\r\n"),
    bad("te-obs-fold-tab", b"X-A: 1\r\n\tTransfer-Encoding: chunked\r\n"),
    bad("te-leading-space-name", b" Transfer-Encoding: chunked\r\n"),
    bad("te-vtab-value", b"Transfer-Encoding:\x0bchunked\r\n"),
    bad("te-formfeed-value", b"Transfer-Encoding: chunked\x0c\r\n"),
    bad("te-vtab-name", b"\x0bTransfer-Encoding: chunked\r\n"),
    bad("te-formfeed-name", b"Transfer-Encoding\x0c: chunked\r\n"),
    bad("te-nul-value", b"Transfer-Encoding: chunked\x00\r\n"),
    bad("te-cr-value", b"Transfer-Encoding: chunked\rX: y\r\n"),
    bad("te-obs-text-name", b"Transfer-Encoding\xff: chunked\r\n"),
    bad("te-http10", b"Transfer-Encoding: chunked\r\n", version=b"HTTP/1.0", host=False),
    # valid after OWS trimming / case folding / empty list elements (RFC 9110 §5.5, §5.6.1; §7)
    ok_te("te-leading-space-value", b"Transfer-Encoding:  chunked\r\n"),
    ok_te("te-tabs-around-value", b"Transfer-Encoding:\tchunked\t\r\n"),
    ok_te("te-uppercase", b"Transfer-Encoding: CHUNKED\r\n"),
    ok_te("te-empty-list-elements", b"Transfer-Encoding: , chunked,\r\n"),
    ok_te("te-plain", b"Transfer-Encoding: chunked\r\n"),
    # an unknown field name is ignored: the request has no body, and the body bytes "0\r\n\r\n…"
    # are the next request, which is malformed (a method token followed by CRLF) → 400
    Case("te-underscore-name-ignored", b"Transfer_Encoding: chunked\r\n", ZERO_THEN_SMUGGLED,
         statuses=[200, 400], close=True, second=False),
    # ---- Content-Length obfuscation (RFC 9110 §8.6: 1*DIGIT; RFC 9112 §6.3 (5))
    bad("cl-plus", b"Content-Length: +5\r\n", b"hello" + SMUGGLED),
    bad("cl-hex", b"Content-Length: 0x5\r\n", b"hello" + SMUGGLED),
    bad("cl-two-values", b"Content-Length: 5 5\r\n", b"hello" + SMUGGLED),
    bad("cl-list", b"Content-Length: 5, 5\r\n", b"hello" + SMUGGLED),
    bad("cl-empty", b"Content-Length: \r\n", SMUGGLED),
    bad("cl-negative", b"Content-Length: -5\r\n", b"hello" + SMUGGLED),
    bad("cl-decimal", b"Content-Length: 5.0\r\n", b"hello" + SMUGGLED),
    bad("cl-exponent", b"Content-Length: 5e0\r\n", b"hello" + SMUGGLED),
    bad("cl-overflow", b"Content-Length: 18446744073709551621\r\n", b"hello" + SMUGGLED),
    bad("cl-duplicate-same", b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello" + SMUGGLED),
    bad("cl-duplicate-differ", b"Content-Length: 5\r\nContent-Length: %d\r\n" % (5 + len(SMUGGLED)),
        b"hello" + SMUGGLED),
    bad("cl-vtab", b"Content-Length:\x0b5\r\n", b"hello" + SMUGGLED),
    bad("cl-space-before-colon", b"Content-Length : 5\r\n", b"hello" + SMUGGLED),
    bad("cl-obs-fold", b"Content-Length: 5\r\n 0\r\n", b"hello" + SMUGGLED),
    ok_cl("cl-leading-zeros", b"005", b"hello"),
    ok_cl("cl-ows", b" \t5\t ", b"hello"),
    ok_cl("cl-covers-smuggled", b"%d" % len(SMUGGLED), SMUGGLED),
    # ---- chunk-size tricks (RFC 9112 §7.1: chunk-size = 1*HEXDIG)
    bad("chunk-0x", b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-underscore", b"Transfer-Encoding: chunked\r\n", b"1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-minus", b"Transfer-Encoding: chunked\r\n", b"-5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-plus", b"Transfer-Encoding: chunked\r\n", b"+5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-leading-space", b"Transfer-Encoding: chunked\r\n", b" 5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-bare-lf", b"Transfer-Encoding: chunked\r\n", b"5\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-bare-cr", b"Transfer-Encoding: chunked\r\n", b"5\rhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-data-bare-lf", b"Transfer-Encoding: chunked\r\n", b"5\r\nhello\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-too-long", b"Transfer-Encoding: chunked\r\n", b"3\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-too-short", b"Transfer-Encoding: chunked\r\n",
        b"%x\r\nhello\r\n0\r\n\r\n" % (5 + 7) + SMUGGLED, static=(200, True, False)),
    bad("chunk-overflow", b"Transfer-Encoding: chunked\r\n",
        b"10000000000000005\r\nhello\r\n0\r\n\r\n" + SMUGGLED, static=(200, True, False)),
    bad("chunk-16-f", b"Transfer-Encoding: chunked\r\n", b"ffffffffffffffff\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-huge", b"Transfer-Encoding: chunked\r\n", b"fffffffffff\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        status=413, static=(200, True, False)),
    bad("chunk-ext-oversized", b"Transfer-Encoding: chunked\r\n",
        b"5;" + b"e" * 5000 + b"\r\nhello\r\n0\r\n\r\n" + SMUGGLED, static=(200, True, False)),
    bad("chunk-ext-ctl", b"Transfer-Encoding: chunked\r\n", b"5;a=\x01\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-ext-bare-lf", b"Transfer-Encoding: chunked\r\n", b"5;a=b\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-ext-no-name", b"Transfer-Encoding: chunked\r\n", b"5;\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-ext-unclosed-quote", b"Transfer-Encoding: chunked\r\n",
        b"5;a=\"b\r\nhello\r\n0\r\n\r\n" + SMUGGLED, static=(200, True, False)),
    bad("chunk-empty-size", b"Transfer-Encoding: chunked\r\n", b"\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-last-without-crlf", b"Transfer-Encoding: chunked\r\n", b"0\r\n" + SMUGGLED,
        static=(200, True, False)),
    bad("chunk-trailer-bare-lf", b"Transfer-Encoding: chunked\r\n", b"0\r\nX: y\n\r\n" + SMUGGLED,
        static=(200, True, False)),
    ok_te("chunk-leading-zeros", b"Transfer-Encoding: chunked\r\n",
          b"000%x\r\n%s\r\n000\r\n\r\n" % (len(SMUGGLED), SMUGGLED)),
    ok_te("chunk-extensions", b"Transfer-Encoding: chunked\r\n",
          b"%x;a=b;c=\"d;e\"\r\n%s\r\n0;last\r\n\r\n" % (len(SMUGGLED), SMUGGLED)),
    ok_te("chunk-trailers", b"Transfer-Encoding: chunked\r\n",
          chunk(SMUGGLED) + b"0\r\nContent-Length: 0\r\nTransfer-Encoding: identity\r\n\r\n"),
    ok_te("chunk-split-smuggled", b"Transfer-Encoding: chunked\r\n",
          chunk(SMUGGLED[:10]) + chunk(SMUGGLED[10:]) + b"0\r\n\r\n"),
    # ---- field name/value bytes (RFC 9110 §5.1, §5.5; RFC 9112 §5)
    bad("name-nul", b"X-A\x00: 1\r\n"),
    bad("name-obs-text", b"X-\xe9: 1\r\n"),
    bad("name-del", b"X-\x7f: 1\r\n"),
    bad("name-space", b"X A: 1\r\n"),
    bad("name-empty", b": 1\r\n"),
    bad("value-nul", b"X-A: a\x00b\r\n"),
    bad("value-soh", b"X-A: a\x01b\r\n"),
    bad("value-esc", b"X-A: a\x1bb\r\n"),
    bad("value-del", b"X-A: a\x7fb\r\n"),
    Case("value-obs-text", b"X-A: caf\xc3\xa9 \x80\xff\r\nContent-Length: 0\r\n", b"", status=200, close=False,
         second=True),
    # ---- line endings (RFC 9112 §2.2: a bare CR is invalid; we also refuse a bare LF)
    bad("bare-cr-header-end", b"X-A: 1\rContent-Length: 0\r\n"),
    bad("bare-cr-request-line", b"", host=False, version=b"HTTP/1.1\rHost: t"),
    bad("bare-lf-header-end", b"X-A: 1\nContent-Length: 0\r\n"),
    bad("bare-lf-head-end", b"Content-Length: 0\r\n\n"),
    bad("cr-cr-lf", b"X-A: 1\r\r\n"),
]

IDS = [c.name for c in CASES]
SECOND_API = b"GET /anything/second HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
SECOND_STATIC = b"GET /second.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def exchange(port, data, timeout=CLOSE_WAIT):
    """Send data; read until the server closes or `timeout` passes. Returns (bytes, closed)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = []
    closed = False
    deadline = time.monotonic() + timeout
    try:
        s.sendall(data)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not b:
                closed = True
                break
            out.append(b)
    except (BrokenPipeError, ConnectionResetError):
        closed = True  # the server closed while we were still sending: that is a close too
    finally:
        s.close()
    return b"".join(out), closed


def smuggled_in(resp):
    """True when a response answers the SMUGGLED target (an echo of it, or a page naming it)."""
    if resp.header("content-type", "").startswith("application/json"):
        try:
            doc = json.loads(resp.body)
        except ValueError:
            return False
        return "SMUGGLED" in str(doc.get("url", ""))
    return False


class Endpoint:
    def __init__(self, kind):
        self.kind = kind
        self.root = None
        if kind == "static":
            self.root = tempfile.mkdtemp(prefix="statusd-smuggle-", dir="/tmp")
            with open(os.path.join(self.root, "index.html"), "wb") as f:
                f.write(b"<!DOCTYPE html><title>index</title>\n")
            with open(os.path.join(self.root, "second.txt"), "wb") as f:
                f.write(b"second\n")
            args = ["--root", self.root, "--user", "root"] if _has_user_flag() else ["--root", self.root]
            self.server = Server(*args)
        else:
            self.server = Server()

    def close(self):
        rc = self.server.stop()
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
        return rc


_user_flag = None


def _has_user_flag():
    global _user_flag
    if _user_flag is None:
        import subprocess
        from conftest import BIN
        out = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10)
        _user_flag = "--user " in out.stdout
    return _user_flag


@pytest.fixture(scope="module", params=["api", "static"])
def endpoint(request):
    ep = Endpoint(request.param)
    yield ep
    rc = ep.close()
    err = ep.server.stderr()
    log = "".join(ep.server.stdout_lines)
    assert not BAD_STDERR.search(err), err[-4000:]
    assert rc == 0, (rc, err[-2000:])
    # no line of the access log may show the marker as a request target
    assert "SMUGGLED" not in log, [l for l in ep.server.stdout_lines if "SMUGGLED" in l]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_smuggling(endpoint, case):
    srv = endpoint.server
    if endpoint.kind == "api":
        first, second = case.request(b"POST", b"/anything"), SECOND_API
        statuses, close, answered = case.api
    else:
        first, second = case.request(b"GET", b"/index.html"), SECOND_STATIC
        statuses, close, answered = case.static
    data, closed = exchange(srv.port, first + second)
    assert srv.proc.poll() is None, "the server died: %s" % srv.stderr()[-2000:]
    rs, rest = parse_responses(data)
    finals = [r for r in rs if r.status >= 200]
    got = [r.status for r in finals]
    want = statuses + ([200] if answered else [])
    # exactly the expected responses: in particular none to the hidden request
    assert got == want, (case.name, got, want, data[:600])
    assert rest == b"", (case.name, rest[:200])
    for x in finals:
        assert not smuggled_in(x), (case.name, x.body[:300])
    last = finals[len(statuses) - 1]
    for x in finals[:len(statuses)]:
        if x.status >= 400:
            assert x.header("connection") == "close", (case.name, x)
    if close:
        assert closed, "the connection stayed open after %s" % case.name
        assert last.header("connection") == "close", (case.name, last)
    if answered:
        r2 = finals[-1]
        if endpoint.kind == "api":
            assert json.loads(r2.body)["url"].endswith("/anything/second"), case.name
            first_resp = finals[0]
            if case.body and first_resp.status == 200:
                # the body was consumed as this request's body: the hidden request is data
                echoed = json.loads(first_resp.body)["data"].encode("latin-1")
                assert b"SMUGGLED" not in echoed or SMUGGLED in echoed, case.name
        else:
            assert r2.body == b"second\n", case.name
        assert closed, "the second request said Connection: close (%s)" % case.name
    # the access log never names the hidden target
    assert not any("SMUGGLED" in l for l in srv.access_log()), case.name


# ---------------------------------------------------------------- timing-dependent variants
@pytest.mark.parametrize("kind", ["api", "static"])
def test_unread_body_arriving_late_is_never_a_request(make_server, kind):
    """A handler that answers without reading a Content-Length body that has not arrived yet
    must close the connection: the late body bytes are never parsed as a request."""
    if kind == "static":
        root = tempfile.mkdtemp(prefix="statusd-smuggle-", dir="/tmp")
        try:
            with open(os.path.join(root, "index.html"), "wb") as f:
                f.write(b"hi\n")
            s = make_server("--root", root, *(["--user", "root"] if _has_user_flag() else []))
            _late_body(s, b"GET /index.html")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    else:
        s = make_server()
        _late_body(s, b"GET /status/200")


def _late_body(s, reqline):
    c = s.connect()
    try:
        c.sendall(reqline + b" HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(SMUGGLED))
        c.settimeout(CLOSE_WAIT)
        head = b""
        while b"\r\n\r\n" not in head:
            b = c.recv(65536)
            if not b:
                break
            head += b
        time.sleep(0.1)
        try:
            c.sendall(SMUGGLED)
        except (BrokenPipeError, ConnectionResetError):
            pass
        rest = b""
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                rest += b
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        c.close()
    rs, _ = parse_responses(head + rest)
    assert [r.status for r in rs] == [200], rs
    assert rs[0].header("connection") == "close"
    assert not any("SMUGGLED" in l for l in s.access_log())


def test_413_body_is_never_parsed(make_server):
    """413 from Content-Length before reading: the refused body is drained, never parsed."""
    s = make_server("--max-body", "16")
    data, closed = exchange(s.port, b"POST /anything HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                            % len(SMUGGLED * 4) + SMUGGLED * 4)
    rs, rest = parse_responses(data)
    assert [r.status for r in rs] == [413] and closed and rest == b""
    assert not any("SMUGGLED" in l for l in s.access_log())


def test_split_writes_do_not_change_framing(server):
    """The same CL.TE attack delivered one byte per write: same 400, nothing smuggled."""
    c = server.connect()
    msg = (b"POST /anything HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n"
           % len(ZERO_THEN_SMUGGLED) + ZERO_THEN_SMUGGLED)
    try:
        for i in range(0, len(msg), 7):
            try:
                c.sendall(msg[i:i + 7])
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.002)
        c.settimeout(CLOSE_WAIT)
        data = b""
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                data += b
        except (socket.timeout, ConnectionResetError):
            pass
    finally:
        c.close()
    rs, _ = parse_responses(data)
    assert [r.status for r in rs] == [400]
    assert not any("SMUGGLED" in l for l in server.access_log())
