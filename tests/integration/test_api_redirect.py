"""Client-testing API: /redirect/{n}, /relative-redirect/{n}, /absolute-redirect/{n},
/redirect-to (restricted to this server unless --allow-redirect-host)."""
import subprocess

import requests

from test_api_helpers import fetch, running



def test_redirect_n_chain(api):
    r, _ = fetch(api, "GET", "/redirect/3")
    assert r.status == 302 and r.header("location") == "/relative-redirect/2"
    r = requests.get(api.url + "/redirect/3")
    assert r.status_code == 200 and [h.status_code for h in r.history] == [302, 302, 302]
    assert r.url == api.url + "/get"
    r, _ = fetch(api, "GET", "/redirect/1")
    assert r.header("location") == "/get"


def test_redirect_absolute_param(api):
    r, _ = fetch(api, "GET", "/redirect/2?absolute=true", host=b"example.test:81")
    assert r.header("location") == "http://example.test:81/absolute-redirect/1"


def test_relative_and_absolute_redirect(api):
    r, _ = fetch(api, "GET", "/relative-redirect/2")
    assert r.status == 302 and r.header("location") == "/relative-redirect/1"
    r, _ = fetch(api, "GET", "/absolute-redirect/2", host=b"h.test")
    assert r.status == 302 and r.header("location") == "http://h.test/absolute-redirect/1"
    r, _ = fetch(api, "GET", "/absolute-redirect/1", host=b"h.test")
    assert r.header("location") == "http://h.test/get"
    out = subprocess.run(["curl", "-sS", "-L", "-o", "/dev/null", "-w", "%{http_code} %{num_redirects}",
                          api.url + "/absolute-redirect/3"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and out.stdout == "200 3"


def test_redirect_bad_counts(api):
    for path in ("/redirect/0", "/redirect/x", "/relative-redirect/", "/absolute-redirect/-1", "/redirect/100000"):
        r, _ = fetch(api, "GET", path)
        assert r.status == 400, path


def test_redirect_to_every_status(api):
    for code in (300, 301, 302, 303, 305, 307, 308):
        r, _ = fetch(api, "GET", "/redirect-to?url=/get%%3Fx%%3D1&status_code=%d" % code)
        assert r.status == code and r.header("location") == "/get?x=1", code
    r, _ = fetch(api, "POST", "/redirect-to?url=/anything", body=b"x")
    assert r.status == 302
    # 307 keeps the method and body (requests follows it)
    r = requests.post(api.url + "/redirect-to?url=/anything&status_code=307", data=b"payload")
    assert r.status_code == 200 and r.json()["method"] == "POST" and r.json()["data"] == "payload"
    # 303 turns it into a GET
    r = requests.post(api.url + "/redirect-to?url=/anything&status_code=303", data=b"payload")
    assert r.json()["method"] == "GET"


def test_redirect_to_restrictions(api):
    host = "127.0.0.1:%d" % api.port
    ok = ["/get", "get", "?a=1", "http://%s/get" % host, "//%s/ip" % host]
    for url in ok:
        r, _ = fetch(api, "GET", "/redirect-to?url=" + requests.utils.quote(url, safe=""), host=host.encode())
        assert r.status == 302 and r.header("location") == url, url
    bad = ["javascript:alert(1)", "http://user@%s/" % host, "ftp://%s/" % host, "/a%0D%0ASet-Cookie:%20x=1", ""]
    for url in bad:  # not a URL that can be redirected to
        r, _ = fetch(api, "GET", "/redirect-to?url=" + requests.utils.quote(url, safe="%"), host=host.encode())
        assert r.status == 400, url
    for url in ["http://evil.example/", "//evil.example/x", "https://evil.example"]:  # another host: refused
        r, _ = fetch(api, "GET", "/redirect-to?url=" + requests.utils.quote(url, safe="%"), host=host.encode())
        assert r.status == 403, url
    r, _ = fetch(api, "GET", "/redirect-to?url=http://evil.example/", host=host.encode())
    assert b"--allow-redirect-host evil.example" in r.body
    for code in ("304", "306", "200", "abc"):
        r, _ = fetch(api, "GET", "/redirect-to?url=/get&status_code=" + code)
        assert r.status == 400, code
    r, _ = fetch(api, "GET", "/redirect-to")
    assert r.status == 400


def test_allow_redirect_host():
    with running("--allow-redirect-host", "example.org, other.test:8443") as s:
        r, _ = fetch(s, "GET", "/redirect-to?url=https://example.org/path")
        assert r.status == 302 and r.header("location") == "https://example.org/path"
        r, _ = fetch(s, "GET", "/redirect-to?url=http://other.test:8443/")
        assert r.status == 302
        r, _ = fetch(s, "GET", "/redirect-to?url=http://other.test/")
        assert r.status == 403
        r, _ = fetch(s, "GET", "/redirect-to?url=http://evil.example/")
        assert r.status == 403


def test_redirect_to_every_name_of_this_server(api):
    """The request's Host, the listener's address and, for a loopback listener, localhost,
    127.0.0.1 and [::1] with its port are this server; the same names on another port are not."""
    port = api.port
    for url in ("http://localhost:%d/get" % port, "http://127.0.0.1:%d/get" % port, "http://[::1]:%d/get" % port,
                "http://my.name.test/get"):
        r, _ = fetch(api, "GET", "/redirect-to?url=" + requests.utils.quote(url, safe=""), host=b"my.name.test")
        assert r.status == 302 and r.header("location") == url, url
    for url in ("http://localhost/get", "http://localhost:%d/get" % (port + 1 if port < 65535 else 1)):
        r, _ = fetch(api, "GET", "/redirect-to?url=" + requests.utils.quote(url, safe=""), host=b"my.name.test")
        assert r.status == 403, url


def test_allow_redirect_host_patterns():
    with running("--allow-redirect-host", "*.example.org") as s:
        r, _ = fetch(s, "GET", "/redirect-to?url=https://a.b.example.org/x")
        assert r.status == 302
        r, _ = fetch(s, "GET", "/redirect-to?url=https://example.org/x")  # the domain itself is not below it
        assert r.status == 403
    with running("--allow-redirect-host", "*") as s:
        r, _ = fetch(s, "GET", "/redirect-to?url=https://anywhere.test:9/x")
        assert r.status == 302 and r.header("location") == "https://anywhere.test:9/x"
