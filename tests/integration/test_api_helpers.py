"""Helpers shared by the client-testing API tests (test_api_*.py). No tests here.

Each API test module starts one statusd for all its tests (module fixture) and checks at the
end that it exited cleanly and reported no response-rule violation or sanitizer finding.
"""
import contextlib
import json
import re
import subprocess

from conftest import REPO, Server, parse_responses, stop_and_check


@contextlib.contextmanager
def running(*args, **kw):
    s = Server(*args, **kw)
    try:
        yield s
    finally:
        stop_and_check(s)


def request(method, path, headers=(), body=b"", version=b"HTTP/1.1", host=b"t", close=True):
    if isinstance(method, str):
        method = method.encode()
    if isinstance(path, str):
        path = path.encode()
    lines = [method + b" " + path + b" " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    for k, v in headers:
        lines.append((k.encode() if isinstance(k, str) else k) + b": " + (v.encode() if isinstance(v, str) else v))
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        lines.append(b"Content-Length: %d" % len(body))
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def fetch(server, method, path, headers=(), body=b"", head=None, timeout=3.0, **kw):
    """One request on its own connection; returns (final response, all responses incl. 1xx)."""
    data = server.raw(request(method, path, headers, body, **kw), timeout=timeout)
    is_head = (method if isinstance(method, str) else method.decode()) == "HEAD" if head is None else head
    rs, _ = parse_responses(data, head_requests=(0,) if is_head else ())
    finals = [r for r in rs if r.status >= 200]
    assert finals, "no final response in %r" % data[:300]
    return finals[0], rs


def jbody(r):
    return json.loads(r.body)


def registry():
    """[(code, reason, logonly)] parsed from src/http/status.def (the registry's single source)."""
    text = open(REPO + "/src/http/status.def", encoding="utf-8").read()
    out = []
    for chunk in re.split(r"(?m)^\s*HS_STATUS\(", text)[1:]:
        m = re.match(r'\s*(\d{3})\s*,\s*\w+\s*,\s*"((?:[^"\\]|\\.)*)"', chunk)
        if not m:
            continue
        flags_part = chunk.split('"', 2)[2][:400]  # after the reason: origin, ref, flags, …
        out.append((int(m.group(1)), m.group(2).replace('\\"', '"'), "HS_SF_LOGONLY" in flags_part))
    assert len(out) > 50, "could not parse status.def"
    return out


def curl(url, *args, timeout=10):
    return subprocess.run(["curl", "-sS", *args, url], capture_output=True, timeout=timeout)
