"""Client-testing API: caching (/cache, /cache/{n}, /etag/{etag}) and authentication
(/basic-auth, /hidden-basic-auth, /digest-auth with RFC 7616 algorithms and qop, /bearer)."""
import hashlib
import re
import subprocess

import pytest
import requests
from requests.auth import HTTPDigestAuth

from test_api_helpers import fetch, jbody



# ---------------------------------------------------------------- caching
def test_cache_conditional(api):
    r, _ = fetch(api, "GET", "/cache")
    assert r.status == 200 and r.has("last-modified") and r.header("etag").startswith('"')
    for h in (("If-Modified-Since", r.header("last-modified")), ("If-None-Match", r.header("etag")), ("If-None-Match", '"x"')):
        r2, _ = fetch(api, "GET", "/cache", [h])
        assert r2.status == 304 and r2.body == b"" and not r2.has("content-length"), h


def test_cache_n(api):
    r, _ = fetch(api, "GET", "/cache/60")
    assert r.status == 200 and r.header("cache-control") == "public, max-age=60"
    r, _ = fetch(api, "GET", "/cache/abc")
    assert r.status == 400


def test_etag(api):
    r, _ = fetch(api, "GET", "/etag/v1")
    assert r.status == 200 and r.header("etag") == '"v1"'
    r, _ = fetch(api, "GET", "/etag/v1", [("If-None-Match", '"v0", W/"v1"')])
    assert r.status == 304 and r.header("etag") == '"v1"' and r.body == b""
    r, _ = fetch(api, "GET", "/etag/v1", [("If-None-Match", "*")])
    assert r.status == 304
    r, _ = fetch(api, "GET", "/etag/v1", [("If-None-Match", '"v2"')])
    assert r.status == 200
    r, _ = fetch(api, "GET", "/etag/v1", [("If-Match", '"v2"')])
    assert r.status == 412
    r, _ = fetch(api, "GET", "/etag/v1", [("If-Match", 'W/"v1"')])
    assert r.status == 412  # If-Match uses the strong comparison
    r, _ = fetch(api, "GET", "/etag/v1", [("If-Match", '"v1"')])
    assert r.status == 200
    # RFC 9110 §13.2.2: If-Match is evaluated first
    r, _ = fetch(api, "GET", "/etag/v1", [("If-Match", '"nope"'), ("If-None-Match", '"v1"')])
    assert r.status == 412


# ---------------------------------------------------------------- basic and bearer
def test_basic_auth(api):
    r = requests.get(api.url + "/basic-auth/alice/s3cret")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic realm=")
    r = requests.get(api.url + "/basic-auth/alice/s3cret", auth=("alice", "wrong"))
    assert r.status_code == 401
    r = requests.get(api.url + "/basic-auth/alice/s3cret", auth=("alice", "s3cret"))
    assert r.status_code == 200 and r.json() == {"authenticated": True, "user": "alice"}
    out = subprocess.run(["curl", "-sS", "-f", "-u", "alice:s3cret", api.url + "/basic-auth/alice/s3cret"],
                         capture_output=True, timeout=10)
    assert out.returncode == 0 and b'"authenticated": true' in out.stdout
    r, _ = fetch(api, "GET", "/basic-auth/alice/s3cret", [("Authorization", "Basic !!!")])
    assert r.status == 401


def test_hidden_basic_auth(api):
    r = requests.get(api.url + "/hidden-basic-auth/u/p")
    assert r.status_code == 404 and "www-authenticate" not in r.headers
    r = requests.get(api.url + "/hidden-basic-auth/u/p", auth=("u", "p"))
    assert r.status_code == 200 and r.json()["user"] == "u"


def test_bearer(api):
    r, _ = fetch(api, "GET", "/bearer")
    assert r.status == 401 and r.header("www-authenticate").startswith("Bearer")
    r, _ = fetch(api, "GET", "/bearer", [("Authorization", "Basic dTpw")])
    assert r.status == 401 and "invalid_request" in r.header("www-authenticate")
    r, _ = fetch(api, "GET", "/bearer", [("Authorization", "Bearer abc.def")])
    assert r.status == 200 and jbody(r) == {"authenticated": True, "token": "abc.def"}


# ---------------------------------------------------------------- digest (RFC 7616)
HASH = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256, "SHA-512-256": lambda b: hashlib.new("sha512_256", b)}


def challenge(r):
    h = r.header("www-authenticate") if hasattr(r, "header") else r.headers["WWW-Authenticate"]
    assert h.startswith("Digest ")
    return {k: a or b for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', h)}


def digest_header(method, uri, user, pwd, ch, alg, qop, body=b"", nc="00000001", cnonce="0a4f113b", response=None):
    H = lambda s: HASH[alg](s if isinstance(s, bytes) else s.encode()).hexdigest()
    ha1 = H("%s:%s:%s" % (user, ch["realm"], pwd))
    ha2 = H("%s:%s:%s" % (method, uri, H(body))) if qop == "auth-int" else H("%s:%s" % (method, uri))
    resp = response or H("%s:%s:%s:%s:%s:%s" % (ha1, ch["nonce"], nc, cnonce, qop, ha2))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s, qop=%s, nc=%s, cnonce="%s", '
            'response="%s", opaque="%s"' % (user, ch["realm"], ch["nonce"], uri, alg, qop, nc, cnonce, resp, ch["opaque"]))


@pytest.mark.parametrize("alg", ["MD5", "SHA-256", "SHA-512-256"])
@pytest.mark.parametrize("qop", ["auth", "auth-int"])
def test_digest_auth_by_hand(api, alg, qop):
    path = "/digest-auth/%s/bob/pw%%20d/%s" % (qop, alg)
    r, _ = fetch(api, "POST", path, body=b"payload")
    assert r.status == 401
    ch = challenge(r)
    assert ch["algorithm"] == alg and ch["qop"] == qop and ch["nonce"] and ch["opaque"]
    ok = digest_header("POST", path, "bob", "pw d", ch, alg, qop, body=b"payload")
    r, _ = fetch(api, "POST", path, [("Authorization", ok)], body=b"payload")
    assert r.status == 200 and jbody(r) == {"authenticated": True, "user": "bob"}, r.body
    bad = digest_header("POST", path, "bob", "wrong", ch, alg, qop, body=b"payload")
    r, _ = fetch(api, "POST", path, [("Authorization", bad)], body=b"payload")
    assert r.status == 401
    if qop == "auth-int":  # the body is part of the hash: another body fails
        r, _ = fetch(api, "POST", path, [("Authorization", ok)], body=b"tampered")
        assert r.status == 401
    forged = dict(ch, nonce="0" * 48)
    r, _ = fetch(api, "POST", path, [("Authorization", digest_header("POST", path, "bob", "pw d", forged, alg, qop,
                                                                     body=b"payload"))], body=b"payload")
    assert r.status == 401


def test_digest_with_requests_and_curl(api):
    r = requests.get(api.url + "/digest-auth/auth/user/passwd", auth=HTTPDigestAuth("user", "passwd"))
    assert r.status_code == 200 and r.json()["user"] == "user"
    r = requests.get(api.url + "/digest-auth/auth/user/passwd/SHA-256", auth=HTTPDigestAuth("user", "passwd"))
    assert r.status_code == 200
    r = requests.get(api.url + "/digest-auth/auth/user/passwd", auth=HTTPDigestAuth("user", "nope"))
    assert r.status_code == 401
    for alg in ("MD5", "SHA-256"):
        out = subprocess.run(["curl", "-sS", "-f", "--digest", "-u", "user:passwd",
                              api.url + "/digest-auth/auth/user/passwd/" + alg], capture_output=True, timeout=10)
        assert out.returncode == 0 and b'"authenticated": true' in out.stdout, (alg, out.stderr)
    # curl before 8.8.0 hashes "SHA-512-256" with plain SHA-256 (fixed in curl 8.8.0): this server
    # computes the real SHA-512/256 (FIPS 180-4), as RFC 7616 asks, so such a curl is refused
    version = tuple(int(x) for x in re.search(rb"curl (\d+)\.(\d+)", subprocess.run(
        ["curl", "--version"], capture_output=True).stdout).groups())
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--digest", "-u", "user:passwd",
                          api.url + "/digest-auth/auth/user/passwd/SHA-512-256"], capture_output=True, timeout=10)
    assert out.stdout == (b"200" if version >= (8, 8) else b"401"), (version, out.stdout)


def test_digest_bad_routes(api):
    for path in ("/digest-auth/auth/u", "/digest-auth/nope/u/p", "/digest-auth/auth/u/p/SHA-1"):
        r, _ = fetch(api, "GET", path)
        assert r.status == 400, path


def test_digest_stale_after_and_challenge_cookies(api):
    """httpbin's /digest-auth/{qop}/{user}/{passwd}/{algorithm}/{stale_after}: the challenge sets
    stale_after, fake (and last_nonce after a failure); each success counts stale_after down; at 0,
    or with the nonce used last time, the answer is a challenge with stale=true."""
    path = "/digest-auth/auth/u/p/MD5/2"
    s = requests.Session()
    r = s.get(api.url + path)
    assert r.status_code == 401
    assert "stale_after=2; Path=/" in r.raw.headers.getlist("Set-Cookie")
    assert "fake=fake_value; Path=/" in r.raw.headers.getlist("Set-Cookie")
    ch = challenge(r)

    def answer(ch, nc):
        return s.get(api.url + path, headers={"Authorization": digest_header("GET", path, "u", "p", ch, "MD5", "auth",
                                                                              nc=nc)})
    r = answer(ch, "00000001")
    assert r.status_code == 200 and s.cookies.get("stale_after") == "1"
    r = answer(ch, "00000002")
    assert r.status_code == 200 and s.cookies.get("stale_after") == "0"
    r = answer(ch, "00000003")  # stale_after reached 0: a new challenge, stale
    assert r.status_code == 401 and "stale=true" in r.headers["WWW-Authenticate"]
    assert s.cookies.get("last_nonce") == ch["nonce"]
    r = s.get(api.url + "/digest-auth/auth/u/p/MD5/never")
    assert r.status_code == 401 and "stale_after=never; Path=/" in r.raw.headers.getlist("Set-Cookie")
    r, _ = fetch(api, "GET", "/digest-auth/auth/u/p/MD5/soon")
    assert r.status == 400


def test_digest_require_cookie(api):
    path = "/digest-auth/auth/u/p/MD5?require-cookie=true"
    r, _ = fetch(api, "GET", path)
    assert r.status == 401
    ch = challenge(r)
    auth = digest_header("GET", path, "u", "p", ch, "MD5", "auth")
    r, _ = fetch(api, "GET", path, [("Authorization", auth)])  # without the cookie: challenged
    assert r.status == 401 and b"require-cookie" in r.body
    r, _ = fetch(api, "GET", path, [("Authorization", auth), ("Cookie", "fake=fake_value")])
    assert r.status == 200 and jbody(r) == {"authenticated": True, "user": "u"}
    # a real client: requests keeps the cookies and answers the challenge
    r = requests.get(api.url + path, auth=HTTPDigestAuth("u", "p"))
    assert r.status_code == 200
