"""Policy rules of the access phase, through the real binary over sockets: allow/deny (403, and
444 as a close without a byte), the client behind trusted proxies, the captive portal (511),
rate limits (429 with exact Retry-After and RateLimit fields), byte budgets (509),
require_conditional (428), early hints (103), and how they compose with strict hosts (421) and
the /codes pages."""
import os
import socket
import time

import pytest

from conftest import read_all
from policy_util import Site, ask, ask_all, request, start, via


@pytest.fixture
def site():
    s = Site()
    yield s
    s.cleanup()


ACL = """
trusted_proxies: [127.0.0.1]
hosts:
  a.test:
    paths:
      /:
        root: {root}
        allow: [10.1.0.0/16, "2001:db8::/32"]
        deny: [10.0.0.0/8]
      /open: {deny: ""}
      /quiet:
        deny: {from: [10.0.0.0/8, 192.0.2.0/24], action: close}
"""


def test_allow_and_deny_first_match_wins(make_server, site):
    s = start(make_server, site, ACL)
    r = ask(s, "/small.txt", headers=via("10.1.2.3"))  # allow 10.1.0.0/16 comes first
    assert r.status == 200 and r.body == b"hello world\n"
    r = ask(s, "/small.txt", headers=via("10.2.0.1"))  # deny 10.0.0.0/8
    assert r.status == 403
    assert r.body.startswith(b"403 Forbidden\nyour address may not use this resource\n")
    r = ask(s, "/small.txt", headers=via("2001:db8::7"))
    assert r.status == 200
    # an allow list names who may come: an address no rule matches is refused
    r = ask(s, "/small.txt", headers=via("198.51.100.9"))
    assert r.status == 403
    lines = s.access_log(wait_for="rule=deny:not-allowed")
    assert any('"GET /small.txt HTTP/1.1" 403' in l and "rule=deny:10.0.0.0/8" in l and "client=10.2.0.1" in l
               for l in lines), lines
    assert any("rule=deny:not-allowed" in l and "client=198.51.100.9" in l for l in lines), lines
    # a path that drops the rules it inherited
    r = ask(s, "/open/small.txt", headers=via("10.2.0.1"))
    assert r.status == 404  # served (the file is not there): no rule refused it


def test_deny_with_close_sends_nothing_and_logs_444(make_server, site):
    s = start(make_server, site, ACL)
    data = s.raw(request("/quiet/small.txt", headers=via("192.0.2.44")))
    assert data == b""
    lines = s.access_log(wait_for="rule=deny:192.0.2.0/24")
    line = [l for l in lines if "rule=deny:192.0.2.0/24" in l][0]
    assert '"GET /quiet/small.txt HTTP/1.1" 444 0 ' in line, line
    # an address the close rule does not name is served by the path's handler
    assert ask(s, "/quiet/small.txt", headers=via("203.0.113.5")).status == 404


def test_peer_address_without_trusted_proxies(make_server, site):
    """Without trusted_proxies the fields a client writes are never believed."""
    s = start(make_server, site, """
hosts:
  a.test:
    paths:
      /: {root: {root}, deny: [127.0.0.0/8]}
      /in: {allow: [127.0.0.1]}
""")
    assert ask(s, "/small.txt", headers=via("10.1.2.3")).status == 403
    assert ask(s, "/in/small.txt").status == 404  # allowed (nothing there)
    lines = s.access_log(wait_for="rule=deny:127.0.0.0/8")
    assert not any("client=" in l for l in lines)


def test_untrusted_hops_and_forwarded_field(make_server, site):
    s = start(make_server, site, """
trusted_proxies: [127.0.0.1, 10.255.0.0/16]
forwarded_header: forwarded
hosts:
  a.test:
    paths:
      /: {root: {root}, allow: [10.1.0.0/16]}
""")
    # two trusted hops, then the client
    r = ask(s, "/small.txt", headers=(("Forwarded", 'for=10.1.0.5, for="10.255.3.3"'),))
    assert r.status == 200
    # what the client wrote left of an untrusted hop is not believed
    r = ask(s, "/small.txt", headers=(("Forwarded", "for=10.1.0.5, for=198.51.100.1"),))
    assert r.status == 403
    # only the configured field is read
    assert ask(s, "/small.txt", headers=via("10.1.0.5")).status == 403
    # "unknown" from a trusted proxy: no address, and the allow list refuses it
    r = ask(s, "/small.txt", headers=(("Forwarded", "for=unknown"),))
    assert r.status == 403
    assert b"could not tell your address" in r.body


def test_rules_apply_to_codes_and_the_api(make_server, site):
    s = start(make_server, site, """
hosts:
  a.test:
    deny: [all]
    paths:
      /: {api: true}
""")
    for path in ("/codes", "/codes/418", "/get", "/status/200"):
        r = ask(s, path)
        assert r.status == 403, path


def test_strict_hosts_421_comes_before_any_rule(make_server, site):
    s = start(make_server, site, """
strict_hosts: true
deny: {from: [all], action: close}
hosts:
  a.test:
    paths:
      /: {root: {root}}
""")
    r = ask(s, "/small.txt", host="other.test")
    assert r.status == 421
    assert s.raw(request("/small.txt")) == b""  # the host's rule for a known host
    lines = s.access_log(wait_for=" 444 ")
    line421 = [l for l in lines if " 421 " in l][0]
    assert "rule=" not in line421


LIMIT = """
hosts:
  a.test:
    paths:
      /:
        root: {root}
        limit: {rate: 1r/m, burst: 4, name: api}
      /fast:
        limit: {rate: 2r/s, burst: 0, name: fast}
      /keyed:
        limit: {rate: 1r/h, burst: 0, key: "header:X-Api-Key", name: keyed}
"""


def test_rate_limit_burst_retry_after_and_ratelimit_fields(make_server, site):
    s = start(make_server, site, LIMIT)
    got = [ask(s, "/small.txt") for _ in range(8)]
    assert [r.status for r in got] == [200] * 5 + [429] * 3
    # far from the limit: no RateLimit field; the last quarter of the capacity: r and t
    assert [r.header("RateLimit") for r in got[:5]] == [None, None, None, '"api";r=1;t=60', '"api";r=0;t=60']
    assert got[3].header("RateLimit-Policy") == '"api";q=1;w=60'
    for r in got[5:]:
        assert r.header("Retry-After") == "60"
        assert r.header("RateLimit-Policy") == '"api";q=1;w=60'
        assert r.header("RateLimit") == '"api";r=0;t=60'
        assert r.body.startswith(b"429 Too Many Requests\nover the rate limit 'api' (1 requests per 60 s, bursts of 5):"
                                 b" retry in 60 s\n")
    lines = s.access_log(wait_for="rule=limit:api", count=3)
    assert sum(" 429 " in l and "rule=limit:api" in l for l in lines) == 3


def test_rate_limit_refills_at_the_rate(make_server, site):
    s = start(make_server, site, LIMIT)
    first = ask(s, "/fast/small.txt")
    second = ask(s, "/fast/small.txt")
    assert (first.status, second.status) == (404, 429)  # /fast serves the root's /fast/… (absent)
    assert second.header("Retry-After") == "1"  # 0.5 s, in whole seconds rounded up
    assert second.header("RateLimit") == '"fast";r=0;t=1'
    time.sleep(0.6)
    assert ask(s, "/fast/small.txt").status == 404


def test_rate_limit_by_header_keys_apart(make_server, site):
    s = start(make_server, site, LIMIT)
    a = [ask(s, "/keyed/x", headers=(("X-Api-Key", "alpha"),)).status for _ in range(2)]
    b = [ask(s, "/keyed/x", headers=(("X-Api-Key", "beta"),)).status for _ in range(2)]
    assert a == [404, 429] and b == [404, 429]


def test_bandwidth_budget_509_at_the_period_end(make_server, site):
    s = start(make_server, site, """
hosts:
  a.test:
    paths:
      /: {root: {root}, bandwidth: {bytes: 100, per: 1d, name: daily}}
""")
    assert ask(s, "/sixty.txt").status == 200  # 60 content bytes counted
    assert ask(s, "/sixty.txt").status == 200  # 120 ≥ 100 once sent
    before = time.time()
    r = ask(s, "/sixty.txt")
    after = time.time()
    assert r.status == 509
    end = (int(before) // 86400 + 1) * 86400  # budgets are aligned on the epoch (UTC days)
    wait = int(r.header("Retry-After"))
    assert end - int(after) - 1 <= wait <= end - int(before), (wait, end - before)
    assert r.header("RateLimit-Policy") == '"daily";q=100;qu="content-bytes";w=86400'
    assert r.header("RateLimit") == '"daily";r=0;t=%d' % wait
    assert b"the byte budget 'daily' (100 bytes per 86400 s) is spent until" in r.body
    assert s.access_log(wait_for="rule=bandwidth:daily")


def test_require_conditional_428(make_server, site):
    s = start(make_server, site, """
hosts:
  a.test:
    paths:
      /: {api: true, require_conditional: true}
""")
    r = ask(s, "/anything", method="PUT", body=b"new text")
    assert r.status == 428
    assert b"If-Match" in r.body and r.body.startswith(b"428 Precondition Required\n")
    r = ask(s, "/anything", method="DELETE")
    assert r.status == 428
    r = ask(s, "/anything", method="PUT", body=b"new text", headers=(("If-Match", '"v1"'),))
    assert r.status == 200
    r = ask(s, "/anything", method="PATCH", body=b"x", headers=(("If-Unmodified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"),))
    assert r.status == 200
    r = ask(s, "/anything", method="PUT", body=b"create", headers=(("If-None-Match", "*"),))
    assert r.status == 200  # create-only: conditional too
    assert ask(s, "/anything").status == 200  # reads need nothing


def test_early_hints_103_before_the_response(make_server, site):
    s = start(make_server, site, """
hosts:
  a.test:
    paths:
      /: {root: {root}}
      /docs:
        early_hints: ["</style.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script"]
""")
    rs = ask_all(s, "/docs/page.txt")
    assert [r.status for r in rs] == [103, 200]
    assert rs[0].header_all("Link") == ["</style.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script"]
    assert rs[0].body == b"" and rs[1].body == b"a page\n"
    assert not rs[1].has("Link")
    # never to an HTTP/1.0 client (RFC 9110 §15.2)
    rs = ask_all(s, "/docs/page.txt", version="1.0")
    assert [r.status for r in rs] == [200]
    assert [r.status for r in ask_all(s, "/small.txt")] == [200]


def test_captive_portal_511_until_admitted(make_server, site):
    admitted = site.write("admitted.txt", "# admitted by the portal\n10.9.1.1\n")
    s = start(make_server, site, """
trusted_proxies: [127.0.0.1]
hosts:
  a.test:
    paths:
      /:
        root: {root}
        captive_portal:
          login: "https://portal.example/login?x=1&y=2"
          admitted: [10.8.0.0/16, %s]
""" % admitted)
    r = ask(s, "/small.txt", headers=via("10.7.0.1"))
    assert r.status == 511
    assert r.header("Cache-Control") == "no-store"
    assert not r.has("WWW-Authenticate")
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert b'<a href="https://portal.example/login?x=1&amp;y=2">Log in to the network</a>' in r.body
    assert ask(s, "/small.txt", headers=via("10.8.3.4")).status == 200
    assert ask(s, "/small.txt", headers=via("10.9.1.1")).status == 200
    # the portal admits a client by adding it to the file: seen without a restart
    with open(admitted, "a") as f:
        f.write("10.7.0.1\n")
    deadline = time.time() + 5
    while time.time() < deadline and ask(s, "/small.txt", headers=via("10.7.0.1")).status != 200:
        time.sleep(0.2)
    assert ask(s, "/small.txt", headers=via("10.7.0.1")).status == 200
    assert s.access_log(wait_for="rule=captive_portal")


def test_ipv6_peer_denied(make_server, site):
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    cfg = site.config("""
hosts:
  a.test:
    paths:
      /: {root: {root}, deny: ["::1"]}
""")
    s = make_server("--config", cfg, "--user", "root", listen="[::1]:0")
    c = socket.create_connection(("::1", s.port), timeout=5)
    c.sendall(request("/small.txt"))
    data = read_all(c)
    c.close()
    assert data.startswith(b"HTTP/1.1 403 Forbidden\r\n")


def test_causes_in_the_json_log(make_server, site):
    """Each rule that answers names itself as the cause (access log, /metrics, explain --causes)."""
    s = start(make_server, site, """
trusted_proxies: [127.0.0.1]
hosts:
  a.test:
    paths:
      /:
        root: {root}
        deny: [10.0.0.0/8]
      /quiet: {deny: {from: [192.0.2.0/24], action: close}}
      /limited: {limit: {rate: 1r/h, burst: 0, name: hourly}}
      /old: {gone: [/old]}
      /moved: {redirect: {to: "/new$rest", status: 301}}
      /writes: {require_conditional: true}
""", "--log-format", "json")
    assert ask(s, "/small.txt", headers=via("10.9.9.9")).status == 403
    assert s.raw(request("/quiet/x", headers=via("192.0.2.7"))) == b""
    assert [ask(s, "/limited/x").status for _ in range(2)] == [404, 429]
    assert ask(s, "/old").status == 410
    assert ask(s, "/moved/a").status == 301
    assert ask(s, "/writes/x", method="DELETE").status == 428
    import json
    lines = [json.loads(l) for l in s.access_log(wait_for='"status":428')]
    got = {(d["target"], d["status"], d["cause"]) for d in lines}
    for want in (("/small.txt", 403, "rule:deny"), ("/quiet/x", 444, "rule:deny_close"),
                 ("/limited/x", 429, "rule:limit"), ("/old", 410, "rule:gone"), ("/moved/a", 301, "rule:redirect"),
                 ("/writes/x", 428, "rule:require_conditional")):
        assert want in got, (want, got)
