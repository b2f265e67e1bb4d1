"""WebDAV against real clients (Debian packages): litmus, the conformance suite, must pass basic,
copymove, props, locks and http without a single warning; rclone's WebDAV backend copies a tree in
and back out with every checksum intact; cadaver takes and releases a lock."""
import hashlib
import os
import random
import re
import shutil
import subprocess

import pytest

from conftest import stop_and_check
from dav_helpers import Tree, start

SUITES = ("basic", "copymove", "props", "locks", "http")


@pytest.fixture
def served():
    t = Tree()
    s = start(t, {"fsync": "none"})
    s.tree = t
    yield s
    stop_and_check(s)
    t.cleanup()


def need(tool):
    if not shutil.which(tool):
        pytest.fail("%s is missing: make test installs it (Debian package %s)" % (tool, tool))


def test_litmus_passes_every_suite_without_warnings(served):
    need("litmus")
    env = dict(os.environ, TESTS=" ".join(SUITES))
    # litmus writes debug.log and child.log where it runs: the scratch directory
    r = subprocess.run(["litmus", "-k", "http://127.0.0.1:%d/dav/" % served.port], capture_output=True, text=True,
                       env=env, timeout=300, cwd=served.tree.base)
    out = r.stdout + r.stderr
    for suite in SUITES:
        m = re.search(r"<- summary for `%s': of (\d+) tests run: (\d+) passed, (\d+) failed" % suite, out)
        assert m, "no summary for %s:\n%s" % (suite, out[-3000:])
        assert m.group(3) == "0" and m.group(1) == m.group(2), "%s failed:\n%s" % (suite, out[-3000:])
    assert "WARNING" not in out and not re.search(r"warnings? (was|were) issued", out), out[-3000:]
    assert r.returncode == 0, out[-2000:]


def tree_digests(top):
    out = {}
    for d, _, files in os.walk(top):
        for n in files:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, top)] = hashlib.sha256(f.read()).hexdigest()
    return out


FILES = 320  # a few hundred, nested, 0 B to ~200 KB, some names not ASCII


def test_rclone_round_trip_keeps_every_checksum(served):
    need("rclone")
    base = served.tree.base
    src, back = os.path.join(base, "src"), os.path.join(base, "back")
    rnd = random.Random(14)
    sizes = [0, 1, 17, 511, 4096, 4097, 65536, 200003]
    for i in range(FILES):
        d = os.path.join(src, "dir%d" % (i % 6), "sub%d" % (i % 4)) if i % 5 else src
        os.makedirs(d, exist_ok=True)
        name = "f%03d%s.dat" % (i, " é" if i % 9 == 0 else "")
        with open(os.path.join(d, name), "wb") as f:
            f.write(rnd.randbytes(sizes[i % len(sizes)] + rnd.randint(0, 50)))
    env = dict(os.environ, RCLONE_CONFIG_DAV_TYPE="webdav", RCLONE_CONFIG_DAV_VENDOR="other",
               RCLONE_CONFIG_DAV_URL="http://127.0.0.1:%d/dav/" % served.port, RCLONE_CONFIG="/dev/null")
    run = lambda *a: subprocess.run(["rclone", *a, "--transfers", "8", "--checkers", "8", "--retries", "1", "-q"], env=env,
                                    capture_output=True, text=True, timeout=300)
    r = run("copy", src, "dav:round")
    assert r.returncode == 0, r.stderr[-2000:]
    want = tree_digests(src)
    assert len(want) == FILES
    assert tree_digests(os.path.join(served.tree.root, "round")) == want, "what the server stored"
    r = run("copy", "dav:round", back)
    assert r.returncode == 0, r.stderr[-2000:]
    assert tree_digests(back) == want, "what came back out"


def test_cadaver_lock_and_unlock(served):
    need("cadaver")
    served.tree.write("notes.txt", b"notes")
    served.tree.give()
    script = "lock notes.txt\ndiscover notes.txt\nunlock notes.txt\ndiscover notes.txt\nquit\n"
    r = subprocess.run(["cadaver", "http://127.0.0.1:%d/dav/" % served.port], input=script, capture_output=True,
                       text=True, timeout=60, cwd=served.tree.base, env=dict(os.environ, HOME=served.tree.base))
    out = r.stdout
    assert "Locking `notes.txt': succeeded" in out, out
    assert re.search(r"Lock token <urn:uuid:[0-9a-f-]{36}>", out), out
    assert "Unlocking `notes.txt': succeeded" in out, out
    assert out.rstrip().count("no locks found") == 1, out
    log = "".join(served.access_log(wait_for='"UNLOCK /dav/notes.txt'))
    assert '"LOCK /dav/notes.txt HTTP/1.1" 200' in log and '"UNLOCK /dav/notes.txt HTTP/1.1" 204' in log


def test_curl_lock_unlock_script(served):
    need("curl")
    base = "http://127.0.0.1:%d/dav" % served.port
    curl = lambda *a: subprocess.run(["curl", "-s", "-i", *a], capture_output=True, text=True, timeout=30).stdout
    assert curl("-X", "PUT", "--data-binary", "first", base + "/script.txt").startswith("HTTP/1.1 201")
    lock = curl("-X", "LOCK", "-H", "Content-Type: application/xml", "-H", "Timeout: Second-30", "--data-binary",
                '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
                '<D:locktype><D:write/></D:locktype></D:lockinfo>', base + "/script.txt")
    assert lock.startswith("HTTP/1.1 20"), lock
    tok = re.search(r"Lock-Token: <([^>]+)>", lock).group(1)
    assert curl("-T", "/etc/hostname", base + "/script.txt").startswith("HTTP/1.1 423"), "locked"
    out = curl("-T", "/etc/hostname", "-H", "If: (<%s>)" % tok, base + "/script.txt")
    assert "HTTP/1.1 204 No Content" in out and "HTTP/1.1 4" not in out, out
    assert curl("-X", "UNLOCK", "-H", "Lock-Token: <%s>" % tok, base + "/script.txt").startswith("HTTP/1.1 204")
    assert curl("-X", "UNLOCK", "-H", "Lock-Token: <%s>" % tok, base + "/script.txt").startswith("HTTP/1.1 409")
