"""Client-testing API: formats (/gzip /deflate /brotli /zstd /encoding/utf8 /html /json /xml
/robots.txt /deny /image /base64 /uuid /links /forms/post) and the routes that exist to cause a
status: /forms/reset (205), /coffee (418), /retry-with (449), /jobs (202 → 303)."""
import gzip
import json
import re
import struct
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
import zlib

import requests

from test_api_helpers import fetch, jbody, running



def test_compressed_bodies(api):
    r, _ = fetch(api, "GET", "/gzip")
    assert r.header("content-encoding") == "gzip"
    d = json.loads(gzip.decompress(r.body))
    assert d["gzipped"] is True and d["method"] == "GET"
    r, _ = fetch(api, "GET", "/deflate")
    assert r.header("content-encoding") == "deflate" and json.loads(zlib.decompress(r.body))["deflated"] is True
    # curl decodes every coding it was built with
    for path, key in (("/brotli", "brotli"), ("/zstd", "zstd"), ("/gzip", "gzipped")):
        out = subprocess.run(["curl", "-sS", "--compressed", api.url + path], capture_output=True, timeout=10)
        assert out.returncode == 0 and json.loads(out.stdout)[key] is True, (path, out.stderr)
    assert requests.get(api.url + "/gzip").json()["gzipped"] is True


def test_documents(api):
    r, _ = fetch(api, "GET", "/encoding/utf8")
    assert r.header("content-type") == "text/html; charset=utf-8"
    text = r.body.decode("utf-8")
    assert "Καλημέρα" in text and "😀" in text and "<html" in text
    r, _ = fetch(api, "GET", "/html")
    assert r.header("content-type").startswith("text/html") and b"<h1>" in r.body
    r, _ = fetch(api, "GET", "/json")
    assert jbody(r)["slideshow"]["slides"]
    r, _ = fetch(api, "GET", "/xml")
    assert r.header("content-type") == "application/xml" and ET.fromstring(r.body).tag == "slideshow"
    r, _ = fetch(api, "GET", "/robots.txt")
    assert r.body == b"User-agent: *\nDisallow: /deny\n"
    r, _ = fetch(api, "GET", "/deny")
    assert r.status == 200 and b"shouldn't be here" in r.body


def test_image_negotiation(api):
    magic = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/webp": b"RIFF",
             "image/svg+xml": b"<?xml"}
    for accept, want in (("image/png", "image/png"), ("image/jpeg", "image/jpeg"), ("image/webp", "image/webp"),
                         ("image/svg+xml", "image/svg+xml"), ("image/*", "image/png"), ("*/*", "image/png"),
                         ("image/webp,image/png;q=0.5", "image/webp"), (None, "image/png")):
        r, _ = fetch(api, "GET", "/image", [("Accept", accept)] if accept else [])
        assert r.status == 200 and r.header("content-type") == want, accept
        assert r.body.startswith(magic[want]) and r.header("vary") == "Accept"
    r, _ = fetch(api, "GET", "/image", [("Accept", "text/html")])
    assert r.status == 406 and b"image/png" in r.body and b"image/webp" in r.body
    for name, ctype in (("png", "image/png"), ("jpeg", "image/jpeg"), ("webp", "image/webp"), ("svg", "image/svg+xml")):
        r, _ = fetch(api, "GET", "/image/" + name)
        assert r.status == 200 and r.header("content-type") == ctype and r.body.startswith(magic[ctype])
    r, _ = fetch(api, "GET", "/image/gif")
    assert r.status == 404


def test_images_are_well_formed(api):
    png = fetch(api, "GET", "/image/png")[0].body
    w, h = struct.unpack(">II", png[16:24])
    assert (w, h) == (32, 32)
    pos, raw = 8, b""
    while pos < len(png):  # walk the chunks, checking every CRC
        n, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", png[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + data)
        raw += data if kind == b"IDAT" else b""
        pos += 12 + n
    assert len(zlib.decompress(raw)) == 32 * (1 + 32 * 3)
    jpeg = fetch(api, "GET", "/image/jpeg")[0].body
    assert jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9") and b"\xff\xc0" in jpeg
    webp = fetch(api, "GET", "/image/webp")[0].body
    assert webp[8:16] == b"WEBPVP8L" and struct.unpack("<I", webp[4:8])[0] == len(webp) - 8
    svg = fetch(api, "GET", "/image/svg")[0].body
    assert ET.fromstring(svg).attrib["width"] == "32"


def test_base64(api):
    r, _ = fetch(api, "GET", "/base64/SGVsbG8sIHdvcmxkIQ")
    assert r.status == 200 and r.body == b"Hello, world!"
    r, _ = fetch(api, "GET", "/base64/_-8=")
    assert r.body == b"\xff\xef" and r.header("content-type") == "application/octet-stream"
    for bad in ("a", "@@@@", "SGVsbG8=x", ""):
        r, _ = fetch(api, "GET", "/base64/" + bad)
        assert r.status == 400, bad


def test_uuid(api):
    a, b = jbody(fetch(api, "GET", "/uuid")[0])["uuid"], jbody(fetch(api, "GET", "/uuid")[0])["uuid"]
    u = uuid.UUID(a)
    assert u.version == 4 and u.variant == uuid.RFC_4122 and a != b


def test_links(api):
    r, _ = fetch(api, "GET", "/links/5/2")
    links = re.findall(rb'href="([^"]+)"', r.body)
    assert links == [b"/links/5/0", b"/links/5/1", b"/links/5/3", b"/links/5/4"]
    r, _ = fetch(api, "GET", "/links/3")
    assert r.status == 302 and r.header("location") == "/links/3/0"
    r, _ = fetch(api, "GET", "/links/100000/0")
    assert r.status == 400


def test_forms(api):
    r, _ = fetch(api, "GET", "/forms/post")
    assert b'<form method="post" action="/post">' in r.body
    r, _ = fetch(api, "POST", "/forms/reset", [("Content-Type", "application/x-www-form-urlencoded")], b"text=x")
    assert r.status == 205 and r.reason == "Reset Content" and r.body == b""
    r, _ = fetch(api, "GET", "/forms/reset")
    assert r.status == 200 and b"/forms/reset" in r.body


def test_coffee_teapot(api):
    r, _ = fetch(api, "BREW", "/coffee", [("Content-Type", "message/coffeepot")], b"start")
    assert r.status == 418 and r.reason == "I'm a teapot" and b"teapot" in r.body
    r, _ = fetch(api, "POST", "/coffee", body=b"start")
    assert r.status == 418
    r, _ = fetch(api, "GET", "/coffee")
    assert r.status == 200 and jbody(r)["pot"] == "teapot"
    r, _ = fetch(api, "PUT", "/coffee", body=b"x")
    assert r.status == 405 and "BREW" in r.header("allow")


def test_retry_with(api):
    r, _ = fetch(api, "GET", "/retry-with?require=token")
    assert r.status == 449 and r.reason == "Retry With" and b"token" in r.body and r.header("x-retry-with") == "token"
    r, _ = fetch(api, "GET", "/retry-with?require=token,lang&token=abc")
    assert r.status == 449 and r.header("x-retry-with") == "lang"
    r, _ = fetch(api, "GET", "/retry-with?require=token&token=abc")
    assert r.status == 200 and jbody(r)["args"]["token"] == "abc"


def test_jobs_202_progress_303(api):
    r, _ = fetch(api, "POST", "/jobs?seconds=0.3")
    assert r.status == 202
    loc = r.header("location")
    assert loc.startswith("/jobs/") and jbody(r)["monitor"] == loc
    r, _ = fetch(api, "GET", loc)
    assert r.status == 200 and jbody(r)["status"] == "running" and 0 <= jbody(r)["progress"] < 1 and r.has("retry-after")
    r, _ = fetch(api, "GET", loc + "/result")
    assert r.status == 404
    time.sleep(0.32)
    r, _ = fetch(api, "GET", loc)
    assert r.status == 303 and r.header("location") == loc + "/result"
    r = requests.get(api.url + loc)  # follows the 303
    assert r.status_code == 200 and r.json()["status"] == "done" and r.history[0].status_code == 303
    r, _ = fetch(api, "GET", "/jobs/0000000000000000-00000001-000000000000000000000000")
    assert r.status == 404
    r, _ = fetch(api, "GET", "/jobs")
    assert r.status == 405
    r, _ = fetch(api, "POST", "/jobs?seconds=99")
    assert r.status == 400 and b"--api-max-duration" in r.body


def test_jobs_work_across_workers():
    with running(workers=2) as s:
        ids = set()
        for _ in range(8):  # connections spread over both workers (SO_REUSEPORT)
            r, _ = fetch(s, "POST", "/jobs?seconds=0")
            ids.add(r.header("location"))
        for loc in ids:
            r, _ = fetch(s, "GET", loc)
            assert r.status == 303
