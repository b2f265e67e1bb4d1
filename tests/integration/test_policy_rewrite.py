"""Policy rules of the rewrite phase through the real binary: redirects (301, 302, 303, 307, 308)
with $path/$rest/$query, fixed answers (return) with the headers their code needs, and the named
answers gone (410), legal_block (451 + Link rel="blocked-by"), parental_block (450),
payment_required (402 + Link rel="payment") and maintenance (503 + Retry-After)."""
import calendar
import time

import pytest

from policy_util import Site, ask, request, start


@pytest.fixture
def site():
    s = Site()
    yield s
    s.cleanup()


REWRITE = """
hosts:
  a.test:
    paths:
      /: {root: {root}}
      /old: {redirect: {to: "/new$rest?from=old&$query", status: 301}}
      /tmp: {redirect: {to: "https://b.test$path"}}
      /see: {redirect: {to: "/other", status: 303}}
      /keep: {redirect: {to: "/kept$rest", status: 307}}
      /moved: {redirect: {to: "http://$host/docs$rest", status: 308}}
      /new: {return: 204}
      /text: {return: {status: 200, body: "fixed text\\n"}}
      /json: {return: {status: 418, body: "{\\"tea\\": true}", content_type: application/json}}
      /busy: {return: {status: 503, retry_after: 2m}}
      /methods: {return: {status: 405, allow: "GET, HEAD"}}
      /nothing: {return: 405}
      /login: {return: {status: 401, realm: members}}
      /created: {return: {status: 201, location: "/things/1"}}
      /hang-up: {return: 444}
      /api-gone: {gone: [/api-gone/v1, /api-gone/beta]}
      /legal:
        legal_block: {paths: [/legal/in-de], blocked_by: "https://authority.example/orders/17"}
      /kids: {parental_block: [/kids/adult]}
      /paid: {payment_required: {pay_at: "https://shop.example/subscribe"}}
      /down: {maintenance: {until: "2099-06-01T12:00:00Z"}}
      /was-down: {maintenance: {until: "Sat, 01 Jan 2000 00:00:00 GMT"}}
      /brief: {maintenance: {retry_after: 90s}}
"""


@pytest.fixture
def srv(make_server, site):
    return start(make_server, site, REWRITE)


@pytest.mark.parametrize("target,status,location", [
    ("/old/a/b?x=1", 301, "/new/a/b?from=old&x=1"),
    ("/old", 301, "/new?from=old"),
    ("/tmp/x%20y", 302, "https://b.test/tmp/x%20y"),
    ("/see?a=b", 303, "/other"),
    ("/keep/f", 307, "/kept/f"),
    ("/moved/z", 308, "http://a.test/docs/z"),
])
def test_redirects(srv, target, status, location):
    r = ask(srv, target, method="POST" if status in (303, 307) else "GET")
    assert r.status == status
    assert r.header("Location") == location
    assert r.body == ("%d %s: %s\n" % (status, r.reason, location)).encode()


def test_redirect_head_and_log(srv):
    data = srv.raw(request("/old/a", method="HEAD"))
    assert data.startswith(b"HTTP/1.1 301 Moved Permanently\r\n")
    assert b"Location: /new/a?from=old\r\n" in data and data.endswith(b"\r\n\r\n")
    assert srv.access_log(wait_for="rule=redirect:301")


def test_return_answers(srv):
    assert ask(srv, "/new/x").status == 204
    r = ask(srv, "/text")
    assert (r.status, r.body, r.header("Content-Type")) == (200, b"fixed text\n", "text/plain; charset=utf-8")
    r = ask(srv, "/json")
    assert (r.status, r.body, r.header("Content-Type")) == (418, b'{"tea": true}', "application/json")
    r = ask(srv, "/busy")
    assert (r.status, r.header("Retry-After")) == (503, "120")
    assert r.body.startswith(b"503 Service Unavailable\n")
    r = ask(srv, "/methods", method="DELETE")
    assert (r.status, r.header("Allow")) == (405, "GET, HEAD")
    r = ask(srv, "/nothing")
    assert r.status == 405 and r.header("Allow") == ""  # RFC 9110 §10.2.1: no method at all
    r = ask(srv, "/login")
    assert (r.status, r.header("WWW-Authenticate")) == (401, 'Basic realm="members", charset="UTF-8"')
    r = ask(srv, "/created")
    assert (r.status, r.header("Location")) == (201, "/things/1")
    assert srv.raw(request("/hang-up")) == b""
    lines = srv.access_log(wait_for="rule=return:444")
    assert any('"GET /hang-up HTTP/1.1" 444 0 ' in l for l in lines)


def test_gone_legal_parental_payment(srv):
    r = ask(srv, "/api-gone/v1/users")
    assert r.status == 410 and r.body.startswith(b"410 Gone\nthis resource was removed on purpose")
    assert ask(srv, "/api-gone/v2").status == 404  # not listed: served (and absent)
    r = ask(srv, "/legal/in-de/story")
    assert r.status == 451
    assert r.header("Link") == '<https://authority.example/orders/17>; rel="blocked-by"'
    assert b"https://authority.example/orders/17" in r.body
    assert ask(srv, "/legal/elsewhere").status == 404
    r = ask(srv, "/kids/adult/x")
    assert r.status == 450 and r.reason == "Blocked by Parental Controls"
    assert ask(srv, "/kids/cartoons").status == 404
    r = ask(srv, "/paid/article")
    assert r.status == 402
    assert r.header("Link") == '<https://shop.example/subscribe>; rel="payment"'
    assert b"pay at https://shop.example/subscribe" in r.body
    lines = srv.access_log(wait_for="rule=payment_required")
    for rule in ("gone", "legal_block", "parental_block", "payment_required"):
        assert any("rule=" + rule in l for l in lines), rule


def test_maintenance(srv):
    until = calendar.timegm((2099, 6, 1, 12, 0, 0))
    before = int(time.time())
    r = ask(srv, "/down/x")
    after = int(time.time())
    assert r.status == 503
    assert until - after <= int(r.header("Retry-After")) <= until - before
    assert b"down for maintenance until Mon, 01 Jun 2099 12:00:00 GMT" in r.body
    assert ask(srv, "/was-down/x").status == 404  # over: served again
    r = ask(srv, "/brief")
    assert (r.status, r.header("Retry-After")) == (503, "90")


def test_flags_for_the_default_path(make_server, site):
    s = make_server("--root", site.root, "--user", "root", "--gone", "/old", "--maintenance-until",
                    "2000-01-01T00:00:00Z", "--redirect-to", "https://example.com$path", "--redirect-status", "308")
    assert ask(s, "/old/x").status == 410
    r = ask(s, "/anything")
    assert (r.status, r.header("Location")) == (308, "https://example.com/anything")
