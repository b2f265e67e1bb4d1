"""Request smuggling through the gateway: every malformed request of test_smuggling.py, sent to a
statusd proxying to an upstream that records the bytes it receives.

For each case the client sees what the engine decides (the same statuses and closes as without a
proxy), and what reaches the upstream is checked byte for byte: every request it received has
exactly one framing (one Content-Length of digits, or Transfer-Encoding: chunked and nothing
else, or neither for a request without a body), carries no hop-by-hop field (Connection,
Keep-Alive, Proxy-Connection, TE, Upgrade, also spelled with underscores), its body is exactly
what that framing says, and no request line ever names the hidden SMUGGLED target."""
import re
import socket
import threading

import pytest

from conftest import BAD_STDERR, Server, parse_responses
from test_smuggling import CASES, IDS, SECOND_API, exchange

HOP = {"connection", "keep-alive", "proxy-connection", "te", "upgrade", "transfer-encoding", "content-length",
       "trailer"}


class Recorder:
    """An upstream that reads requests strictly (Content-Length or chunked) and answers 200 to each,
    keeping every request's bytes as received."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.requests = []  # (head bytes, body bytes as framed, complete)
        self.stopping = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def record(self, head, body, complete):
        with self.lock:
            self.requests.append((head, body, complete))

    def serve(self, c):
        c.settimeout(10)
        buf = b""

        def more():
            nonlocal buf
            d = c.recv(65536)
            if not d:
                raise EOFError
            buf += d

        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    more()
                i = buf.index(b"\r\n\r\n") + 4
                head, buf = buf[:i], buf[i:]
                fields = [l.split(b":", 1) for l in head.split(b"\r\n")[1:-2]]
                te = [v.strip().lower() for k, v in fields if k.strip().lower() == b"transfer-encoding"]
                cl = [v.strip() for k, v in fields if k.strip().lower() == b"content-length"]
                body = b""
                try:
                    if te:
                        while True:
                            while b"\r\n" not in buf:
                                more()
                            line, _, rest = buf.partition(b"\r\n")
                            size = int(line.split(b";")[0], 16)
                            if size == 0:  # the last chunk, then trailer fields and a CRLF
                                buf = rest
                                while not (buf.startswith(b"\r\n") or b"\r\n\r\n" in buf):
                                    more()
                                end = 2 if buf.startswith(b"\r\n") else buf.index(b"\r\n\r\n") + 4
                                body += line + b"\r\n" + buf[:end]
                                buf = buf[end:]
                                break
                            while len(rest) < size + 2:
                                more()
                                line, _, rest = buf.partition(b"\r\n")
                            assert rest[size:size + 2] == b"\r\n"
                            body += line + b"\r\n" + rest[:size + 2]
                            buf = rest[size + 2:]
                    elif cl:
                        n = int(cl[0])
                        while len(buf) < n:
                            more()
                        body, buf = buf[:n], buf[n:]
                except (EOFError, socket.timeout, ValueError, AssertionError):
                    self.record(head, body + buf, False)
                    return
                self.record(head, body, True)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except (EOFError, OSError):
            pass
        finally:
            c.close()

    def take(self):
        with self.lock:
            out, self.requests = self.requests, []
        return out

    def close(self):
        self.stopping = True
        self.sock.close()


@pytest.fixture(scope="module")
def setup():
    rec = Recorder()
    srv = Server("--proxy", "http://127.0.0.1:%d" % rec.port, "--proxy-retries", "0")
    yield srv, rec
    rc = srv.stop()
    rec.close()
    err = srv.stderr()
    assert not BAD_STDERR.search(err), err[-3000:]
    assert rc == 0, (rc, err[-2000:])
    assert "SMUGGLED" not in "".join(srv.stdout_lines)


def check_upstream_request(name, head, body, complete):
    lines = head.split(b"\r\n")
    assert re.match(rb"^[A-Z]+ \S+ HTTP/1\.1$", lines[0]), (name, lines[0])
    assert b"SMUGGLED" not in lines[0], (name, lines[0])
    fields = []
    for l in lines[1:]:
        if not l:
            continue
        k, sep, v = l.partition(b":")
        assert sep and k == k.strip() and not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", l), (name, l)
        fields.append((k.decode("latin-1").lower(), v.strip()))
    keys = [k for k, _ in fields]
    normal = [k.replace("_", "-") for k in keys]
    for hop in ("connection", "keep-alive", "proxy-connection", "te", "upgrade"):
        assert hop not in normal, (name, keys)
    te = [v for k, v in fields if k == "transfer-encoding"]
    cl = [v for k, v in fields if k == "content-length"]
    assert not (te and cl), (name, keys)
    assert len(te) <= 1 and len(cl) <= 1, (name, keys)
    assert "transfer-encoding" not in [n for n, k in zip(normal, keys) if n != k], (name, keys)
    assert "content-length" not in [n for n, k in zip(normal, keys) if n != k], (name, keys)
    if te:
        assert te[0] == b"chunked", (name, te)
    if cl:
        assert re.fullmatch(rb"\d+", cl[0]), (name, cl)
        if complete:
            assert len(body) == int(cl[0]), (name, cl, len(body))
    assert keys.count("host") == 1, (name, keys)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_smuggling_through_the_proxy(setup, case):
    srv, rec = setup
    rec.take()
    first, second = case.request(b"POST", b"/anything"), SECOND_API
    statuses, close, answered = case.api
    data, closed = exchange(srv.port, first + second)
    assert srv.proc.poll() is None, srv.stderr()[-2000:]
    rs, rest = parse_responses(data)
    got = [r.status for r in rs if r.status >= 200]
    want = statuses + ([200] if answered else [])
    assert got == want, (case.name, got, want, data[:600])
    assert rest == b"", (case.name, rest[:200])
    if close:
        assert closed, case.name
    for r in rs:
        if r.status >= 400:
            assert r.header("connection") == "close", (case.name, r)
    # what reached the upstream
    import time
    time.sleep(0.05)
    reqs = rec.take()
    for head, body, complete in reqs:
        check_upstream_request(case.name, head, body, complete)
    # a request the engine refused before its body never reached the upstream with one, and one
    # it accepted arrived once (the second, when answered, too)
    targets = [h.split(b"\r\n", 1)[0] for h, _, _ in reqs]
    assert not any(b"SMUGGLED" in t for t in targets), (case.name, targets)
    if answered:
        assert targets[-1] == b"GET /anything/second HTTP/1.1", (case.name, targets)
        assert sum(1 for t in targets if t.startswith(b"POST /anything ")) == 1, (case.name, targets)
