"""Client-testing API: cookies (httpbin) and sessions with a server-side expiry (440)."""
import time

import requests

from test_api_helpers import fetch, jbody



def test_cookies_echo(api):
    r, _ = fetch(api, "GET", "/cookies", [("Cookie", "a=1; b=two"), ("Cookie", 'c="q"')])
    assert jbody(r) == {"cookies": {"a": "1", "b": "two", "c": "q"}}
    r, _ = fetch(api, "GET", "/cookies")
    assert jbody(r) == {"cookies": {}}


def test_cookies_set_and_delete_with_a_session(api):
    s = requests.Session()
    r = s.get(api.url + "/cookies/set?k1=v1&k2=v2", allow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/cookies"
    assert r.raw.headers.getlist("Set-Cookie") == ["k1=v1; Path=/", "k2=v2; Path=/"]
    r = s.get(api.url + "/cookies/set?k1=v1&k2=v2")
    assert r.json() == {"cookies": {"k1": "v1", "k2": "v2"}}
    r = s.get(api.url + "/cookies/set/k3/v3")
    assert r.json()["cookies"]["k3"] == "v3"
    r = s.get(api.url + "/cookies/delete?k1&k3", allow_redirects=False)
    assert r.status_code == 302
    assert all("Max-Age=0" in c and "Expires=Thu, 01 Jan 1970" in c for c in r.raw.headers.getlist("Set-Cookie"))
    r = s.get(api.url + "/cookies")
    assert r.json() == {"cookies": {"k2": "v2"}}


def test_cookies_invalid(api):
    for path in ("/cookies/set?a%3Bb=1", "/cookies/set?a=x%3B%20Domain=evil", "/cookies/set/a/b%20c", "/cookies/set/nope"):
        r, _ = fetch(api, "GET", path)
        assert r.status == 400, path


def test_session_valid_then_440(api):
    s = requests.Session()
    r = s.get(api.url + "/session")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Cookie")
    r = s.post(api.url + "/session/login?ttl=0.3")
    assert r.status_code == 200 and r.json()["expires_in"] == 0.3
    assert "HttpOnly" in r.headers["set-cookie"] and "Max-Age" not in r.headers["set-cookie"]
    r = s.get(api.url + "/session")
    assert r.status_code == 200 and r.json()["session"] == "valid"
    time.sleep(0.35)
    r = s.get(api.url + "/session")
    assert r.status_code == 440 and r.reason == "Login Time-out" and "expired" in r.text
    s.post(api.url + "/session/login?ttl=5")
    assert s.get(api.url + "/session").status_code == 200
    r = s.post(api.url + "/session/logout")
    assert r.status_code == 204
    assert s.get(api.url + "/session").status_code == 401


def test_session_forged_and_methods(api):
    r, _ = fetch(api, "GET", "/session", [("Cookie", "statusd_session=ffffffffffffffff.%s" % ("0" * 32))])
    assert r.status == 401 and b"not issued" in r.body
    r, _ = fetch(api, "GET", "/session/login")
    assert r.status == 405 and r.header("allow") == "POST, OPTIONS"
    r, _ = fetch(api, "POST", "/session/login?ttl=forever")
    assert r.status == 400


def test_cookie_value_in_double_quotes_is_set_as_given(api):
    """RFC 6265 §4.1.1: cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE ); ':' is a
    cookie-octet. Set as given, quotes included."""
    s = requests.Session()
    r = s.get(api.url + '/cookies/set?foo="bar:baz"', allow_redirects=False)
    assert r.status_code == 302
    assert r.raw.headers.getlist("Set-Cookie") == ['foo="bar:baz"; Path=/']
    r = s.get(api.url + "/cookies/set/q/%22v%22", allow_redirects=False)
    assert r.status_code == 302 and r.raw.headers.getlist("Set-Cookie") == ['q="v"; Path=/']
    # a quote inside the value, or an unbalanced one, is still refused
    for bad in ('foo="a"b"', 'foo="ab', "foo=a b"):
        r = s.get(api.url + "/cookies/set?" + requests.utils.quote(bad, safe="="), allow_redirects=False)
        assert r.status_code == 400, bad
