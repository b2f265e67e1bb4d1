"""Basic authentication rules (401, 403, 407) through the real binary, against password files made
by Debian's `htpasswd` (apache2-utils) in every format it writes; hash checks run on helper threads
(other requests are not held up), verdicts are cached, and the file is read again when it changes
and on SIGHUP."""
import base64
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import BIN
from policy_util import Site, ask, request, start


@pytest.fixture
def site():
    s = Site()
    yield s
    s.cleanup()


def htpasswd(path, user, password, *flags, create=False):
    args = ["htpasswd", "-b" + ("c" if create else "")] + list(flags) + [path, user, password]
    subprocess.run(args, check=True, capture_output=True)
    os.chmod(path, 0o644)


def basic(user, password, header="Authorization"):
    return ((header, "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()),)


# every format Debian's htpasswd writes: (flags, user, password)
FORMATS = [
    (["-B", "-C", "4"], "bcrypt", "b-secret"),
    (["-B", "-C", "5"], "bcrypt5", "b5-secret"),
    (["-m"], "apr1", "m-secret"),
    (["-s"], "sha1", "s-secret"),
    (["-d"], "des", "d-secre"),  # crypt: 8 characters at most
    (["-2"], "sha256", "2-secret"),
    (["-2", "-r", "1000"], "sha256r", "2r-secret"),
    (["-5"], "sha512", "5-secret"),
    (["-p"], "plain", "p-secret"),
]

AUTH = """
hosts:
  a.test:
    paths:
      /:
        root: {root}
        auth: {htpasswd: {base}/users, realm: "Staff \\"only\\" area", allow_plain: true}
      /team:
        auth: {users: [bcrypt, sha1]}
      /public: {auth: "off"}
      /proxy:
        auth: {scope: proxy, realm: proxy}
"""


@pytest.fixture
def users(site):
    path = site.path("users")
    for i, (flags, user, password) in enumerate(FORMATS):
        htpasswd(path, user, password, *flags, create=i == 0)
    return path


def test_every_htpasswd_format_verifies(make_server, site, users):
    text = open(users).read()
    for prefix in ("$2y$04$", "$2y$05$", "$apr1$", "{SHA}", "$5$", "$5$rounds=1000$", "$6$", "plain:p-secret"):
        assert prefix in text, prefix
    s = start(make_server, site, AUTH)
    for flags, user, password in FORMATS:
        r = ask(s, "/small.txt", headers=basic(user, password))
        assert (r.status, r.body) == (200, b"hello world\n"), (flags, r)
        r = ask(s, "/small.txt", headers=basic(user, password + "x"))
        assert r.status == 401, flags
        # RFC 7617: the realm as a quoted-string, and the charset parameter
        assert r.header("WWW-Authenticate") == 'Basic realm="Staff \\"only\\" area", charset="UTF-8"'
        assert r.body.startswith(b"401 Unauthorized\nthe user name or the password is wrong\n")


def test_missing_malformed_other_scheme_and_unknown_user_are_401(make_server, site, users):
    s = start(make_server, site, AUTH)
    cases = [
        ((), "missing"),
        ((("Authorization", "Basic"),), "malformed"),
        ((("Authorization", "Basic !!!not-base64"),), "malformed"),
        ((("Authorization", "Basic " + base64.b64encode(b"no-colon").decode()),), "malformed"),
        ((("Authorization", "Bearer abc.def"),), "other-scheme"),
        (basic("nobody-here", "x"), "unknown-user"),
    ]
    for headers, why in cases:
        r = ask(s, "/small.txt", headers=headers)
        assert r.status == 401, headers
        assert r.header("WWW-Authenticate") == 'Basic realm="Staff \\"only\\" area", charset="UTF-8"'
    lines = s.access_log(wait_for="rule=auth:unknown-user")
    for _, why in cases:
        assert any(" 401 " in l and "rule=auth:" + why in l for l in lines), why
    # HEAD: the same status and challenge, no body
    data = s.raw(request("/small.txt", method="HEAD"))
    assert data.startswith(b"HTTP/1.1 401 Unauthorized\r\n") and b"WWW-Authenticate: Basic" in data
    assert data.endswith(b"\r\n\r\n")


def test_users_list_403_and_off(make_server, site, users):
    s = start(make_server, site, AUTH)
    assert ask(s, "/team/x", headers=basic("bcrypt", "b-secret")).status == 404  # in, nothing there
    r = ask(s, "/team/x", headers=basic("apr1", "m-secret"))
    assert r.status == 403
    assert b"this user may not use this resource" in r.body
    assert ask(s, "/team/x", headers=basic("apr1", "wrong")).status == 401
    assert ask(s, "/public/x").status == 404  # no authentication asked
    assert s.access_log(wait_for="rule=auth:user-not-allowed")


def test_proxy_scope_407(make_server, site, users):
    s = start(make_server, site, AUTH)
    port = s.port
    target = "http://a.test:%d/proxy/x" % port
    r = ask(s, target)
    assert r.status == 407
    assert r.header("Proxy-Authenticate") == 'Basic realm="proxy", charset="UTF-8"'
    assert not r.has("WWW-Authenticate")
    assert r.body.startswith(b"407 Proxy Authentication Required\n")
    # Authorization is for the origin, not the proxy
    assert ask(s, target, headers=basic("bcrypt", "b-secret")).status == 407
    assert ask(s, target, headers=basic("bcrypt", "b-secret", "Proxy-Authorization")).status == 404
    # an origin-form request is no proxy request: not asked
    assert ask(s, "/proxy/x").status == 404


def test_plaintext_needs_allow_plain(site, users):
    cfg = site.config(AUTH.replace(", allow_plain: true", ""))
    out = subprocess.run([BIN, "-t", "--config", cfg],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 1
    assert "%s:7: %s:9: user 'plain'" % (cfg, users) in out.stderr, out.stderr


def test_file_read_again_when_it_changes_and_on_sighup(make_server, site):
    path = site.path("users")
    htpasswd(path, "alice", "one", "-B", "-C", "4", create=True)
    s = start(make_server, site, AUTH.replace(", allow_plain: true", ""))
    assert ask(s, "/small.txt", headers=basic("alice", "one")).status == 200
    # a change is noticed within the check interval (a second)
    htpasswd(path, "bob", "two", "-B", "-C", "4")
    deadline = time.time() + 5
    while time.time() < deadline and ask(s, "/small.txt", headers=basic("bob", "two")).status != 200:
        time.sleep(0.2)
    assert ask(s, "/small.txt", headers=basic("bob", "two")).status == 200
    # SIGHUP reads it again at once
    htpasswd(path, "carol", "three", "-B", "-C", "4")
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while time.time() < deadline and "SIGHUP: %s read again" % path not in s.stderr():
        time.sleep(0.05)
    assert "SIGHUP: %s read again" % path in s.stderr()
    assert ask(s, "/small.txt", headers=basic("carol", "three")).status == 200
    # a broken version is refused and the users loaded before stay in force
    with open(path, "a") as f:
        f.write("no colon on this line\n")
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while time.time() < deadline and "expected user:hash" not in s.stderr():
        time.sleep(0.05)
    assert "%s:4: expected user:hash" % path in s.stderr()
    assert ask(s, "/small.txt", headers=basic("carol", "three")).status == 200


def test_bcrypt_logins_do_not_hold_up_other_requests(make_server, site):
    """A cost-12 bcrypt check takes a good fraction of a second; it runs on a helper thread while
    the worker (one) goes on answering everyone else."""
    path = site.path("users")
    htpasswd(path, "slow", "pw", "-B", "-C", "12", create=True)
    s = start(make_server, site, """
hosts:
  a.test:
    paths:
      /: {root: {root}}
      /private: {auth: {htpasswd: %s}}
""" % path, workers=1)
    t0 = time.time()
    assert ask(s, "/private/x", headers=basic("slow", "wrong-0")).status == 401
    hash_time = time.time() - t0
    assert hash_time > 0.05, hash_time  # it really is slow
    ends = {}

    def login(i):
        ends[i] = (ask(s, "/private/x", headers=basic("slow", "wrong-%d" % i)).status, time.time())

    threads = [threading.Thread(target=login, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    time.sleep(0.02)
    c = s.connect()
    latencies = []
    for _ in range(20):
        t = time.time()
        c.sendall(request("/small.txt", close=False))
        buf = b""
        while not buf.endswith(b"hello world\n"):
            buf += c.recv(4096)
        latencies.append(time.time() - t)
    c.close()
    gets_done = time.time()
    for t in threads:
        t.join()
    assert [ends[i][0] for i in (1, 2)] == [401, 401]
    # the logins were being checked all along (two hashes on the one helper thread) ...
    assert max(ends[i][1] for i in (1, 2)) > gets_done, (ends, gets_done)
    # ... while each GET was answered well within a fraction of one hash
    assert max(latencies) < hash_time / 3, (latencies, hash_time)
    assert sum(latencies) < hash_time, (sum(latencies), hash_time)
    # a verdict is cached: the same credentials again cost no hash (a hash takes hash_time)
    t = time.time()
    assert ask(s, "/private/x", headers=basic("slow", "wrong-1")).status == 401
    assert time.time() - t < hash_time * 0.75


def test_per_user_limit_and_hints_after_the_hash(make_server, site):
    """The steps after authentication (a limit by user, early hints) also run when the hash was
    checked on a helper thread."""
    path = site.path("users")
    htpasswd(path, "alice", "a", "-B", "-C", "4", create=True)
    htpasswd(path, "bob", "b", "-B", "-C", "4")
    s = start(make_server, site, """
hosts:
  a.test:
    paths:
      /:
        root: {root}
        auth: {htpasswd: %s}
        limit: {rate: 1r/m, burst: 0, key: user, name: per-user}
        early_hints: ["</a.css>; rel=preload; as=style"]
""" % path)
    from policy_util import ask_all
    rs = ask_all(s, "/small.txt", headers=basic("alice", "a"))  # not cached yet: hashed off the loop
    assert [r.status for r in rs] == [103, 200]
    assert rs[1].header("RateLimit") == '"per-user";r=0;t=60'
    r = ask(s, "/small.txt", headers=basic("alice", "a"))
    assert (r.status, r.header("Retry-After"), r.header("RateLimit")) == (429, "60", '"per-user";r=0;t=60')
    rs = ask_all(s, "/small.txt", headers=basic("bob", "b"))  # another user, another count
    assert [r.status for r in rs] == [103, 200]
    assert ask(s, "/small.txt", headers=basic("alice", "wrong")).status == 401  # before the limit
