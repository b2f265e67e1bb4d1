"""The /codes pages in a real browser: headless Chromium (Debian package `chromium`, installed by
`make test` through the Makefile's DEB_TEST line) renders /codes and /codes/451 without
JavaScript; --dump-dom gives the DOM it built and --screenshot a PNG of /codes/451, kept in the
test's temporary folder."""
import html.parser
import json
import os
import shutil
import struct
import subprocess

import pytest

from conftest import BIN

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian package 'chromium'; `make deps` installs it)")


def chromium(tmp_path, *args):
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=%s" % profile, *args]
    env = dict(os.environ, HOME=str(tmp_path))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90, env=env,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-2000:]
    return p


BLOCKS = {"p", "div", "dt", "dd", "li", "td", "th", "tr", "h1", "h2", "nav", "section", "article", "footer",
          "main", "table", "dl", "ul"}


class DomText(html.parser.HTMLParser):
    """The visible text of a DOM (block elements separated by a space), its links and headings."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skip, self.text, self.links, self.h1 = 0, [], [], []
        self._in_a = self._in_h1 = None

    def handle_starttag(self, tag, attrs):
        if tag in BLOCKS:
            self.text.append(" ")
        if tag in ("style", "script", "head"):
            self.skip += 1
        if tag == "a":
            self._in_a = [dict(attrs).get("href"), ""]
        if tag == "h1":
            self._in_h1 = ""

    def handle_endtag(self, tag):
        if tag in BLOCKS:
            self.text.append(" ")
        if tag in ("style", "script", "head"):
            self.skip -= 1
        if tag == "a" and self._in_a:
            self.links.append((self._in_a[0], " ".join(self._in_a[1].split())))
            self._in_a = None
        if tag == "h1" and self._in_h1 is not None:
            self.h1.append(" ".join(self._in_h1.split()))
            self._in_h1 = None

    def handle_data(self, data):
        if self.skip:
            return
        self.text.append(data)
        if self._in_a:
            self._in_a[1] += data
        if self._in_h1 is not None:
            self._in_h1 += data

    def visible(self):
        return " ".join("".join(self.text).split())


def dump(tmp_path, url):
    p = chromium(tmp_path, "--dump-dom", url)
    d = DomText()
    d.feed(p.stdout.decode("utf-8"))
    return d


def registry():
    env = dict(os.environ)
    env.pop("STATUSD_BIN", None)
    out = subprocess.run([BIN, "list", "--json"], stdout=subprocess.PIPE, env=env, timeout=20, check=True)
    return json.loads(out.stdout)


def test_index_renders(server, tmp_path):
    d = dump(tmp_path, server.url + "/codes")
    text = d.visible()
    assert d.h1 == ["HTTP status codes"]
    for heading in ("1xx informational", "2xx successful", "3xx redirection", "4xx client error",
                    "5xx server error"):
        assert heading in text
    links = dict((href, label) for href, label in d.links)
    for o in registry():
        assert links.get("/codes/%d" % o["code"]) in (str(o["code"]), o["reason"]), o["code"]
        assert o["summary"] in text
    assert "I'm a teapot HTCPCP" in text  # the unofficial teapot, marked with its origin
    assert "No Response nginx log only" in text


def test_code_451_renders_and_screenshot(server, tmp_path):
    url = server.url + "/codes/451"
    d = dump(tmp_path, url)
    text = d.visible()
    assert d.h1 == ["451 Unavailable For Legal Reasons"]
    for words in ("Access is refused because of a legal demand.", "Class 4xx (client error)",
                  "Reference RFC 7725 §3", "Recommended headers Link", 'relation "blocked-by"'):
        assert words in text, words
    hrefs = [h for h, _ in d.links]
    assert "/codes/450" in hrefs and "/codes/494" in hrefs and "/codes" in hrefs

    shot = tmp_path / "codes451.png"
    chromium(tmp_path, "--screenshot=%s" % shot, "--window-size=1024,900", "--hide-scrollbars", url)
    assert shot.exists()
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1024, 900)
    assert len(png) > 20000  # a page of text, not a blank canvas
    print("screenshot: %s" % shot)
