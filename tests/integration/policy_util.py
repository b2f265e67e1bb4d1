"""Helpers for the policy tests: a configuration in a temporary directory, a server started from
it, and raw requests with a chosen Host and headers."""
import os
import shutil
import tempfile

from conftest import Server, one_response, parse_responses


class Site:
    """A temporary directory (readable by the user the server drops to) with a small document
    root, the files a test adds, and statusd.yaml."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="statusd-policy-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self.root = self.path("root")
        os.makedirs(self.root)
        os.chmod(self.root, 0o755)
        self.write("root/small.txt", "hello world\n")
        self.write("root/sixty.txt", "x" * 59 + "\n")
        os.makedirs(self.path("root/docs"))
        os.chmod(self.path("root/docs"), 0o755)
        self.write("root/docs/page.txt", "a page\n")

    def path(self, rel):
        return os.path.join(self.base, rel)

    def write(self, rel, text, mode=0o644):
        p = self.path(rel)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def config(self, text):
        return self.write("statusd.yaml", text.replace("{base}", self.base).replace("{root}", self.root))

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


def start(make_server, site, yaml, *args, **kw):
    cfg = site.config(yaml)
    return make_server("--config", cfg, "--user", "root", *args, **kw)


def request(target, host="a.test", method="GET", headers=(), body=b"", version="1.1", close=True):
    lines = ["%s %s HTTP/%s" % (method, target, version)]
    if host is not None:
        lines.append("Host: %s" % host)
    if close:
        lines.append("Connection: close")
    lines += ["%s: %s" % h for h in headers]
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def ask(server, target, host="a.test", method="GET", headers=(), body=b"", version="1.1"):
    data = server.raw(request(target, host, method, headers, body, version))
    return one_response(data, head=method == "HEAD")


def ask_all(server, target, **kw):
    """Every response (interim ones too) to one request."""
    data = server.raw(request(target, **kw))
    rs, _ = parse_responses(data)
    return rs


def via(addr):
    """Headers of a request relayed by a trusted proxy on 127.0.0.1 for client `addr`."""
    return (("X-Forwarded-For", addr),)
