"""Shared by the WebDAV tests: a scratch tree with its state directory, a statusd serving it at
/dav, requests over raw sockets (so that interim 102 responses are seen), and the LD_PRELOAD shim
that makes the tree's disk slow or full.

Scratch directories live under /tmp/statusd-dav-* (mode 0755, so that the user statusd drops to
can reach the database by its path) and are removed by cleanup()."""
import os
import pwd
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

from conftest import REPO, SANITIZED, Server, parse_responses

DROP_USER = "nobody"  # statusd's default --user: a server started as root runs as it
NS = {"D": "DAV:"}


class Tree:
    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="statusd-dav-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self.root = os.path.join(self.base, "tree")
        self.state = os.path.join(self.base, "state")
        os.mkdir(self.root)
        os.mkdir(self.state)
        self.db = os.path.join(self.state, "dav.sqlite")

    def path(self, rel=""):
        return os.path.join(self.root, rel)

    def write(self, rel, data):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)

    def read(self, rel):
        with open(self.path(rel), "rb") as f:
            return f.read()

    def give(self):
        """The tree and the state directory to the user a root-started statusd runs as."""
        if os.geteuid() != 0:
            return
        pw = pwd.getpwnam(DROP_USER)
        for top in (self.root, self.state):
            os.chown(top, pw.pw_uid, pw.pw_gid)
            for d, dirs, files in os.walk(top):
                for n in dirs + files:
                    os.lchown(os.path.join(d, n), pw.pw_uid, pw.pw_gid)

    def config(self, settings=None, name="dav.yaml", root=None):
        dav = {"root": root or self.root, "store": self.db}
        dav.update(settings or {})
        inner = ", ".join("%s: %s" % (k, v) for k, v in dav.items())
        path = os.path.join(self.base, name)
        with open(path, "w") as f:
            f.write('hosts:\n  "*":\n    paths:\n      /dav: {dav: {%s}}\n' % inner)
        return path

    def cleanup(self):
        subprocess.run(["umount", "-l", self.root], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        shutil.rmtree(self.base, ignore_errors=True)


def start(tree, settings=None, env=None, args=(), **kw):
    tree.give()
    return Server("--config", tree.config(settings), *args, env=env, **kw)


def request(s, method, path, body=b"", headers=None, timeout=10, chunked=None):
    """One request on a connection of its own: (final response, [interim responses]).
    chunked: a list of byte pieces sent as a chunked body instead of `body`."""
    h = {"Host": "127.0.0.1:%d" % s.port, "Connection": "close"}
    h.update(headers or {})
    if chunked is not None:
        h["Transfer-Encoding"] = "chunked"
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunked if c) + b"0\r\n\r\n"
    elif body or method in ("PUT", "POST", "PROPPATCH"):
        h["Content-Length"] = str(len(body))
    head = "%s %s HTTP/1.1\r\n" % (method, path) + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    data = s.raw(head.encode("utf-8") + body, timeout=timeout)
    rs, _ = parse_responses(data, head_requests=(0,) if method == "HEAD" else ())
    finals = [r for r in rs if r.status >= 200]
    assert finals, "no final response to %s %s: %r" % (method, path, data[:300])
    return finals[0], [r for r in rs if r.status < 200]


def call(s, method, path, body=b"", headers=None, **kw):
    """The final response only."""
    return request(s, method, path, body, headers, **kw)[0]


def xml(r):
    return ET.fromstring(r.body)


def statuses(r):
    """{href: status code} of a multistatus, each response's first status (its own, or its first
    propstat's)."""
    out = {}
    for resp in xml(r).findall("D:response", NS):
        href = resp.find("D:href", NS).text
        st = resp.find("D:status", NS)
        if st is None:
            st = resp.find("D:propstat/D:status", NS)
        out[href] = int(st.text.split()[1])
    return out


def propfind_body(*names):
    props = "".join("<%s/>" % n for n in names)
    return ('<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:x="urn:x"><D:prop>%s</D:prop></D:propfind>' %
            props).encode()


def lockinfo(exclusive=True, owner="tests"):
    scope = "exclusive" if exclusive else "shared"
    return ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:%s/></D:lockscope>'
            '<D:locktype><D:write/></D:locktype><D:owner>%s</D:owner></D:lockinfo>' % (scope, owner)).encode()


def build_shim(tree):
    """The LD_PRELOAD shim (tests/integration/fixtures/davshim.c), built into the scratch dir."""
    out = os.path.join(tree.base, "davshim.so")
    src = os.path.join(REPO, "tests", "integration", "fixtures", "davshim.c")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", out, src, "-ldl"], check=True)
    return out


def shim_env(tree, **settings):
    env = {"LD_PRELOAD": build_shim(tree), "DAVSHIM_TREE": os.path.realpath(tree.root)}
    env.update({k: str(v) for k, v in settings.items()})
    if SANITIZED:  # the shim is preloaded before ASan's runtime: allowed for this test
        env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    return env
