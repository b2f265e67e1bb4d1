"""Several statusd instances as one service (issue 19): WebDAV locks shared through a real
redis-server, the failure policies when Redis dies and comes back, and a rolling restart behind
a real haproxy (the recipe contrib/haproxy.cfg) with zero failed requests.

Each instance serves the same tree over WebDAV at / with its own SQLite database (dead
properties and tombstones stay per instance), its locks in Redis, a health path and a drain
delay. The rate-limit half is in test_scaleout_ratelimit.py (it needs the policy rules)."""
import os
import re
import signal
import socket
import threading
import time

import pytest

from conftest import Server, stop_and_check
from dav_helpers import Tree, call, lockinfo, propfind_body, shim_env, statuses
from scaleout_helpers import HAProxy, Redis, free_port, wait_for

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/redis-server") or not os.path.exists("/usr/sbin/haproxy"),
                                reason="redis-server and haproxy (Debian) are needed: make deps")


@pytest.fixture
def redis():
    r = Redis()
    yield r
    r.stop()


@pytest.fixture
def tree():
    t = Tree()
    t.write("doc.txt", b"version 1\n")
    os.mkdir(t.path("coll"))
    t.give()
    yield t
    t.cleanup()


class Cluster:
    """Instances A, B, C serving one tree, sharing locks through Redis."""

    def __init__(self, tree, redis, on_failure="closed", names="abc", ports=None, drain_delay="1s"):
        self.tree, self.redis, self.on_failure, self.drain_delay = tree, redis, on_failure, drain_delay
        self.ports = ports or {}
        self.nodes = {}
        for n in names:
            self.start(n)

    def start(self, name):
        listen = "127.0.0.1:%d" % self.ports[name] if name in self.ports else "127.0.0.1:0"
        db = os.path.join(self.tree.state, "%s.sqlite" % name)
        s = Server("--root", self.tree.root, "--dav", "--dav-store", db, "--store-redis", self.redis.url,
                   "--store-on-failure", self.on_failure, "--store-timeout", "100ms", "--health-path", "/healthz",
                   "--drain-delay", self.drain_delay, "--retry-after", "3", listen=listen, access_log="off")
        self.nodes[name] = s
        return s

    def __getitem__(self, name):
        return self.nodes[name]

    def stop(self):
        # SIGTERM to all first: their drain delays run side by side
        for s in self.nodes.values():
            if s.proc.poll() is None:
                s.proc.send_signal(signal.SIGTERM)
        for s in self.nodes.values():
            stop_and_check(s)


def lock(node, path, exclusive=True, depth=None):
    h = {"Content-Type": "application/xml", "Timeout": "Second-600"}
    if depth is not None:
        h["Depth"] = depth
    return call(node, "LOCK", path, lockinfo(exclusive), h)


def token_of(r):
    v = r.header("lock-token")
    assert v and v.startswith("<urn:uuid:") and v.endswith(">"), r
    return v[1:-1]


def test_lock_through_a_put_through_b_unlock_through_c(tree, redis):
    c = Cluster(tree, redis)
    try:
        r = lock(c["a"], "/doc.txt")
        assert r.status == 200, r
        tok = token_of(r)
        assert redis.keys("statusd:dav:*"), "the lock lives in Redis"
        # B sees it: 423 with the precondition naming the lock root (RFC 4918 §9.10.6, §12)
        r = call(c["b"], "PUT", "/doc.txt", b"from b\n")
        assert r.status == 423 and b"lock-token-submitted" in r.body and b"/doc.txt" in r.body, r
        assert r.header("content-type") == "application/xml; charset=utf-8"
        # lockdiscovery through B lists it, with its token
        r = call(c["b"], "PROPFIND", "/doc.txt", propfind_body("D:lockdiscovery"), {"Depth": "0"})
        assert r.status == 207 and tok.encode() in r.body and b"exclusive" in r.body, r.body
        # C cannot take a conflicting lock: 423 no-conflicting-lock
        r = lock(c["c"], "/doc.txt", exclusive=False)
        assert r.status == 423 and b"no-conflicting-lock" in r.body, r
        # the If header through B submits the token: allowed
        r = call(c["b"], "PUT", "/doc.txt", b"from b with the token\n", {"If": "(<%s>)" % tok})
        assert r.status == 204, r
        assert tree.read("doc.txt") == b"from b with the token\n"
        # DELETE through C without the token: 423
        assert call(c["c"], "DELETE", "/doc.txt").status == 423
        # UNLOCK through C frees it; then a PUT through B succeeds
        r = call(c["c"], "UNLOCK", "/doc.txt", headers={"Lock-Token": "<%s>" % tok})
        assert r.status == 204, r
        r = call(c["b"], "PUT", "/doc.txt", b"from b, unlocked\n")
        assert r.status == 204, r
        assert tree.read("doc.txt") == b"from b, unlocked\n"
        assert call(c["a"], "UNLOCK", "/doc.txt", headers={"Lock-Token": "<%s>" % tok}).status == 409

        # a depth-infinity lock on a collection through A covers a new member created through C
        r = lock(c["a"], "/coll/", depth="infinity")
        assert r.status == 200, r
        ctok = token_of(r)
        r = call(c["c"], "PUT", "/coll/new.txt", b"x\n")
        assert r.status == 423 and b"/coll/" in r.body, r
        # and a lock on a member through B conflicts with it
        assert lock(c["b"], "/coll/m.txt").status == 423
        assert call(c["b"], "UNLOCK", "/coll/", headers={"Lock-Token": "<%s>" % ctok}).status == 204
        assert call(c["c"], "PUT", "/coll/new.txt", b"x\n").status == 201
        # a lock below, then a depth-infinity lock above it through another instance: conflict
        r = lock(c["c"], "/coll/new.txt")
        assert r.status == 200
        assert lock(c["a"], "/coll/", depth="infinity").status == 423
        assert call(c["a"], "UNLOCK", "/coll/new.txt", headers={"Lock-Token": "<%s>" % token_of(r)}).status == 204
        assert not redis.keys("statusd:dav:*"), "every lock gone, the index too"
    finally:
        c.stop()


def test_redis_down_closed_503_then_back(tree, redis):
    c = Cluster(tree, redis, on_failure="closed")
    try:
        r = lock(c["a"], "/doc.txt")
        tok = token_of(r)
        redis.kill()
        # lock changes and the lock check of a write: 503 with Retry-After (RFC 9110 §15.6.4)
        r = lock(c["a"], "/coll/x.txt")
        assert r.status == 503 and r.header("retry-after") == "3", r
        r = call(c["b"], "PUT", "/doc.txt", b"while redis is down\n")
        assert r.status == 503 and r.header("retry-after") == "3", r
        r = call(c["c"], "UNLOCK", "/doc.txt", headers={"Lock-Token": "<%s>" % tok})
        assert r.status == 503 and r.header("retry-after") == "3", r
        assert tree.read("doc.txt") == b"version 1\n", "nothing written"
        # reads do not need the locks
        r = call(c["c"], "GET", "/doc.txt")
        assert r.status == 200 and r.body == b"version 1\n"
        # Redis back (empty: the lock died with it): service resumes within the back-off
        redis.start()
        r = wait_for(lambda: (lambda x: x if x.status == 200 else None)(lock(c["a"], "/doc.txt")), 6, step=0.1,
                     what="a LOCK through A to succeed again")
        tok2 = token_of(r)
        assert call(c["b"], "PUT", "/doc.txt", b"x\n").status == 423, "shared again"
        assert call(c["c"], "UNLOCK", "/doc.txt", headers={"Lock-Token": "<%s>" % tok2}).status == 204
        for n in "abc":
            err = c[n].stderr()
            assert err.count("WebDAV locks: Redis at %s is unreachable" % redis.url) == 1, err
    finally:
        c.stop()


def test_redis_down_open_falls_back_then_back(tree, redis):
    c = Cluster(tree, redis, on_failure="open")
    try:
        redis.kill()
        # open: each instance decides alone — A's lock lives in A's SQLite database
        r = lock(c["a"], "/doc.txt")
        assert r.status == 200, r
        tok = token_of(r)
        for _ in range(3):
            assert call(c["a"], "PUT", "/doc.txt", b"a without the token\n").status == 423
        # B has its own database and no Redis: it does not see A's lock
        r = call(c["b"], "PUT", "/doc.txt", b"b while redis is down\n")
        assert r.status == 204, r
        err = c["a"].stderr()
        assert err.count("WebDAV locks: Redis at %s is unreachable" % redis.url) == 1, err
        assert "SQLite locks are used meanwhile" in err
        assert call(c["a"], "UNLOCK", "/doc.txt", headers={"Lock-Token": "<%s>" % tok}).status == 204
        # Redis back: once A's next lock check reaches it (after its back-off), locks are shared again
        redis.start()
        back = "WebDAV locks: Redis at %s is reachable again" % redis.url
        wait_for(lambda: call(c["a"], "PROPFIND", "/coll/", propfind_body("D:lockdiscovery"), {"Depth": "0"}).status
                 == 207 and back in c["a"].stderr(), 6, step=0.1, what="A's lock check to reach Redis again")
        r = lock(c["a"], "/coll/")
        assert r.status == 200 and redis.keys("statusd:dav:*"), r
        assert call(c["b"], "PUT", "/coll/y.txt", b"y\n").status == 423
        assert call(c["c"], "UNLOCK", "/coll/", headers={"Lock-Token": "<%s>" % token_of(r)}).status == 204
    finally:
        c.stop()


def test_delete_while_redis_hangs_takes_its_redis_locks_once_back(tree, redis):
    """on_failure open: a DELETE while Redis does not answer checks SQLite's locks and deletes the
    file; the resource's lock, still in Redis, is removed as soon as Redis answers again, before any
    lock check reads it. Before, it stayed: a PUT at the path got 423 from a lock on a resource that
    was gone, until the lock expired."""
    c = Cluster(tree, redis, on_failure="open", names="ab")
    try:
        r = lock(c["a"], "/doc.txt")
        assert r.status == 200, r
        records = redis.keys("statusd:dav:*:l:*")
        assert len(records) == 1, records
        time.sleep(1.1)  # lock times are whole seconds: the deletion comes a second later
        redis.proc.send_signal(signal.SIGSTOP)  # hangs: every call times out (--store-timeout 100ms)
        try:
            r = call(c["a"], "DELETE", "/doc.txt")
            assert r.status == 204, r
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        assert not os.path.exists(tree.path("doc.txt"))
        err = c["a"].stderr()
        assert "the locks of 'doc.txt', deleted or moved away, could not be removed from Redis" in err, err
        assert redis.keys("statusd:dav:*:l:*") == records  # still there: A has not reached Redis since
        # A's first operation that reaches Redis again applies the removal before its own script
        back = "WebDAV locks: Redis at %s is reachable again" % redis.url
        wait_for(lambda: call(c["a"], "PROPFIND", "/coll/", propfind_body("D:lockdiscovery"), {"Depth": "0"}).status
                 == 207 and back in c["a"].stderr(), 6, step=0.1, what="A's lock check to reach Redis again")
        assert "WebDAV locks: 1 deferred lock removal applied in Redis" in c["a"].stderr()
        assert redis.keys("statusd:dav:*") == []
        # so neither instance refuses a new resource at that path
        assert call(c["b"], "PUT", "/doc.txt", b"version 2\n").status == 201
        assert call(c["a"], "PUT", "/doc.txt", b"version 3\n").status == 204
    finally:
        c.stop()


def test_deferred_lock_removal_spares_a_lock_granted_after_the_deletion(tree, redis):
    """The same with shared locks: while A's removal waits, B is granted a shared lock at the path
    (compatible with the stale one). A's removal then takes the stale lock and leaves B's."""
    c = Cluster(tree, redis, on_failure="open", names="ab")
    try:
        r = lock(c["a"], "/doc.txt", exclusive=False)
        assert r.status == 200, r
        tok_a = token_of(r)
        stale = redis.keys("statusd:dav:*:l:*")
        time.sleep(1.1)
        redis.proc.send_signal(signal.SIGSTOP)
        try:
            assert call(c["a"], "DELETE", "/doc.txt").status == 204
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        # B reaches Redis at once (it never failed) and sees the stale lock: creating the resource
        # anew takes its token; the shared lock it is then granted is compatible with it
        r = call(c["b"], "LOCK", "/doc.txt", lockinfo(False),
                 {"Content-Type": "application/xml", "Timeout": "Second-600", "If": "(<%s>)" % tok_a})
        assert r.status == 201, r  # a new, empty resource (RFC 4918 §9.10.4)
        tok_b = token_of(r)
        assert len(redis.keys("statusd:dav:*:l:*")) == 2
        back = "WebDAV locks: Redis at %s is reachable again" % redis.url
        wait_for(lambda: call(c["a"], "PROPFIND", "/coll/", propfind_body("D:lockdiscovery"), {"Depth": "0"}).status
                 == 207 and back in c["a"].stderr(), 6, step=0.1, what="A's lock check to reach Redis again")
        left = redis.keys("statusd:dav:*:l:*")
        assert len(left) == 1 and left != stale and left[0].endswith(tok_b), (left, stale, tok_b)
        # B's lock still holds, through either instance
        assert call(c["a"], "PUT", "/doc.txt", b"without the token\n").status == 423
        assert call(c["a"], "PUT", "/doc.txt", b"with it\n", {"If": "(<%s>)" % tok_b}).status == 204
    finally:
        c.stop()


def test_health_path_200_then_503_on_sigterm(tree, redis):
    c = Cluster(tree, redis, names="a", drain_delay="2s")
    try:
        a = c["a"]
        r = call(a, "GET", "/healthz")
        assert r.status == 200 and r.body == b"ok\n" and r.header("cache-control") == "no-store"
        assert call(a, "HEAD", "/healthz").status == 200
        assert call(a, "POST", "/healthz").status == 405
        assert call(a, "GET", "/healthz/x").status == 404
        a.proc.send_signal(signal.SIGTERM)
        r = wait_for(lambda: (lambda x: x if x.status == 503 else None)(call(a, "GET", "/healthz")), 2,
                     what="the health path to say 503")
        assert r.header("retry-after") == "3" and r.header("connection") == "close", r
        # everything else is still served during drain_delay
        assert call(a, "GET", "/doc.txt").status == 200
        assert a.proc.wait(10) == 0
    finally:
        c.stop()


def test_rolling_restart_behind_haproxy_loses_no_request(tree, redis):
    ports = {n: free_port() for n in "abc"}
    c = Cluster(tree, redis, ports=ports, drain_delay="1s")
    ha = None
    stop = threading.Event()
    results = {"ok": 0, "failed": []}

    def client():
        # keep-alive to HAProxy, a new connection every 20 requests; bounded in count and time
        end = time.monotonic() + 25
        sent = 0
        while not stop.is_set() and time.monotonic() < end and sent < 20000:
            try:
                with socket.create_connection(("127.0.0.1", ha.port), timeout=5) as s:
                    f = s.makefile("rb")
                    for _ in range(20):
                        if stop.is_set():
                            break
                        s.sendall(b"GET /doc.txt HTTP/1.1\r\nHost: svc\r\n\r\n")
                        sent += 1
                        status = f.readline()
                        length = 0
                        while True:
                            line = f.readline()
                            if line in (b"\r\n", b""):
                                break
                            if line.lower().startswith(b"content-length:"):
                                length = int(line.split(b":")[1])
                        body = f.read(length)
                        if status.startswith(b"HTTP/1.1 200 ") and body == b"version 1\n":
                            results["ok"] += 1
                        else:
                            results["failed"].append((status, body[:80]))
                        time.sleep(0.002)
            except OSError as e:
                results["failed"].append(("exception", repr(e)))

    try:
        ha = HAProxy([("s%s" % n, ports[n]) for n in "abc"], inter_ms=100, fall=2, rise=1)
        wait_for(lambda: ha.status() == {"sa": "UP", "sb": "UP", "sc": "UP"}, 5, what="every instance UP")
        t = threading.Thread(target=client, daemon=True)
        t0 = time.monotonic()
        t.start()
        time.sleep(0.3)
        for n in "abc":
            old = c[n]
            old.proc.send_signal(signal.SIGTERM)
            # SIGTERM → health 503 → HAProxy marks it down while it still serves → it exits
            wait_for(lambda: call(old, "GET", "/healthz").status == 503, 2, what="s%s's health 503" % n)
            wait_for(lambda: ha.status().get("s" + n, "").startswith("DOWN"), 3, what="s%s DOWN" % n)
            assert old.proc.poll() is None, "taken out before the listeners closed"
            assert old.proc.wait(10) == 0
            stop_and_check(old)
            # start again on the same port → health 200 → UP
            c.start(n)
            wait_for(lambda: ha.status().get("s" + n) == "UP", 3, what="s%s UP again" % n)
            time.sleep(0.2)
        stop.set()
        t.join(10)
        took = time.monotonic() - t0
        assert results["failed"] == [], results["failed"][:5]
        assert results["ok"] > 200, results
        assert took < 20, "the rolling restart took %.1fs" % took
    finally:
        stop.set()
        if ha:
            ha.stop()
        c.stop()


def metrics_of(node):
    """The /metrics text of a node serving it."""
    r = call(node, "GET", "/metrics")
    assert r.status == 200, r
    return r.body.decode()


def metric(text, series):
    m = re.search(r"^%s (\S+)$" % re.escape(series), text, re.M)
    assert m, "no %s in /metrics:\n%s" % (series, text)
    return float(m.group(1))


@pytest.mark.parametrize("on_failure", ["closed", "open"])
def test_dav_write_while_redis_is_down_cause_and_metrics(tree, redis, on_failure):
    """WebDAV writes with Redis killed. closed: PUT and LOCK answer 503 with Retry-After (the
    configured retry_after: RFC 9110 §15.6.4 with §10.2.3's delay-seconds), the json access log
    names the cause store:unavailable and /metrics counts it; open: the same writes succeed on the
    instance's own SQLite locks, and nothing is logged with that cause."""
    import json
    node = Server("--root", tree.root, "--dav", "--dav-store", os.path.join(tree.state, "a.sqlite"), "--store-redis",
                  redis.url, "--store-on-failure", on_failure, "--store-timeout", "100ms", "--retry-after", "7",
                  "--metrics-path", "/metrics", "--log-format", "json")
    try:
        r = call(node, "PUT", "/doc.txt", b"before\n")
        assert r.status == 204, r
        redis.kill()
        r = call(node, "PUT", "/doc.txt", b"while redis is down\n")
        r2 = lock(node, "/coll/new.txt")
        if on_failure == "closed":
            for x in (r, r2):
                assert x.status == 503 and x.header("retry-after") == "7", x
                assert b"the shared lock store (Redis) does not answer" in x.body, x.body
            assert tree.read("doc.txt") == b"before\n", "nothing written"
            assert not os.path.exists(tree.path("coll/new.txt")), "no lock-null resource created"
            lines = node.access_log(wait_for='"status":503', count=2)
            entries = [json.loads(l) for l in lines if '"status":503' in l]
            assert [(e["method"], e["cause"]) for e in entries] == [("PUT", "store:unavailable"),
                                                                   ("LOCK", "store:unavailable")], entries
            text = metrics_of(node)
            assert metric(text, 'statusd_http_request_errors_total{cause="store:unavailable"}') == 2
            assert metric(text, 'statusd_store_refused_total{store="locks"}') >= 2
            assert metric(text, 'statusd_store_up{store="locks"}') == 0
        else:
            assert r.status == 204, r
            assert tree.read("doc.txt") == b"while redis is down\n"
            assert r2.status == 201, r2  # a new lock-null resource, locked in SQLite
            tok = token_of(r2)
            r = call(node, "PUT", "/coll/new.txt", b"without the token\n")
            assert r.status == 423, r  # the SQLite lock is enforced
            r = call(node, "PUT", "/coll/new.txt", b"with the token\n", {"If": "(<%s>)" % tok})
            assert r.status == 204, r
            assert tree.read("coll/new.txt") == b"with the token\n"
            lines = node.access_log(wait_for='"status":204', count=3)
            assert not [l for l in lines if "store:unavailable" in l], lines
            text = metrics_of(node)
            assert 'cause="store:unavailable"} 0' in text or 'cause="store:unavailable"' not in text, text
            assert metric(text, 'statusd_store_fallbacks_total{store="locks"}') >= 3
            assert metric(text, 'statusd_store_refused_total{store="locks"}') == 0
    finally:
        stop_and_check(node)


def test_dav_store_cause_travels_with_a_helper_threads_job(redis):
    """The lock store's refusal is noted per thread; work done on a helper thread (a COPY is a job,
    hs_req_offload) carries its own back with its result. Here a COPY passes its lock checks
    (Redis up), then its copy runs slowly on a helper thread and fails for a reason of its own
    (EMFILE from the LD_PRELOAD shim: 503, out of file descriptors); meanwhile Redis dies and a
    PROPFIND on the same worker has the lock store refuse its DAV:lockdiscovery (207 naming each
    member's 503, RFC 4918 §9.1: work on a helper thread too, Depth: 1). The COPY's 503 is its own
    (Retry-After, RFC 9110 §15.6.4), not store:unavailable left behind by another request; the
    one request the lock store refused outright, a DELETE, is logged with that cause."""
    import json
    tree = Tree()
    try:
        tree.write("doc.txt", b"version 1\n")
        os.mkdir(tree.path("coll"))
        tree.write("coll/a.txt", b"a\n")
        tree.give()
        mark = os.path.join(tree.state, "copying")  # a place the server (nobody, under root) may write
        env = shim_env(tree, DAVSHIM_SLOW_MS=1500, DAVSHIM_COPY_ERRNO=24, DAVSHIM_MARK=mark)  # EMFILE
        node = Server("--root", tree.root, "--dav", "--dav-store", os.path.join(tree.state, "a.sqlite"),
                      "--store-redis", redis.url, "--store-on-failure", "closed", "--store-timeout", "100ms",
                      "--retry-after", "7", "--dav-processing", "10s", "--metrics-path", "/metrics",
                      "--log-format", "json", env=env)
        try:
            got = {}
            t = threading.Thread(target=lambda: got.update(
                copy=call(node, "COPY", "/doc.txt", headers={"Destination": "/copy.txt"}, timeout=20)))
            t.start()
            # the COPY's lock checks are done: its copy sleeps on a helper thread
            wait_for(lambda: os.path.exists(mark), 10, what="the COPY's job")
            assert not node.access_log(), "the COPY is still under way"
            redis.kill()
            # on the loop thread while the COPY's job runs (the helper is busy with it)
            one = call(node, "PROPFIND", "/doc.txt", propfind_body("D:lockdiscovery"), {"Depth": "0"})
            assert one.status == 207 and statuses(one) == {"/doc.txt": 503}, one.body
            t.join(20)
            assert not t.is_alive()
            r = got["copy"]
            assert r.status == 503 and r.header("retry-after") == "7", r
            assert b"the server is out of file descriptors" in r.body, r.body
            assert not os.path.exists(tree.path("copy.txt")), "nothing copied"
            # on a helper thread: the same answer as on the loop
            deep = call(node, "PROPFIND", "/coll/", propfind_body("D:lockdiscovery"), {"Depth": "1"})
            assert deep.status == 207 and statuses(deep) == {"/coll/": 503, "/coll/a.txt": 503}, deep.body
            r = call(node, "DELETE", "/coll/")
            assert r.status == 503 and r.header("retry-after") == "7", r
            assert b"the shared lock store (Redis) does not answer" in r.body, r.body
            lines = node.access_log(wait_for='"method":"DELETE"')
            entries = [json.loads(l) for l in lines if l.startswith("{")]
            assert [(e["method"], e["status"]) for e in entries] == [
                ("PROPFIND", 207), ("COPY", 503), ("PROPFIND", 207), ("DELETE", 503)], entries
            assert entries[1]["cause"] == "service_unavailable", entries[1]
            assert entries[3]["cause"] == "store:unavailable", entries[3]
            text = metrics_of(node)
            assert metric(text, 'statusd_http_request_errors_total{cause="store:unavailable"}') == 1
        finally:
            stop_and_check(node)
    finally:
        tree.cleanup()

