"""Negotiated images in a real browser: headless Chromium loads a page whose <img> elements ask for
/photo (AVIF, WebP and JPEG variants) and /pic (WebP and JPEG only). Chromium's image Accept names
image/avif and image/webp, so it must receive the AVIF for /photo and the WebP for /pic. The page's
script prints, once each image has loaded, its decoded width (each variant has its own size) and
the Content-Type and body size the browser recorded for it (Resource Timing); --dump-dom gives that
text, and the access log the bytes sent."""
import os
import re
import shutil

import pytest

from test_codes_browser import CHROMIUM, chromium
from test_negotiation import _images, _write

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian package 'chromium'; `make deps` installs it)")

PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>negotiated images</title></head><body>
<p id="state">loading</p>
<script>
function report(name, img) {
  const e = performance.getEntriesByType('resource').find(r => r.name.endsWith('/' + name));
  const p = document.createElement('p');
  p.id = name;
  p.textContent = name + ' width=' + img.naturalWidth + ' type=' + (e ? e.contentType : '?') +
                  ' bytes=' + (e ? e.encodedBodySize : '?');
  document.body.appendChild(p);
}
let left = 2;
for (const name of ['photo', 'pic']) {
  const img = new Image();
  img.onload = img.onerror = () => { report(name, img); if (--left === 0) document.getElementById('state').textContent = 'done'; };
  img.src = '/' + name;
}
</script>
</body></html>
"""


def test_chromium_gets_the_variant_it_advertises(make_server, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    os.chmod(str(tmp_path), 0o755)
    os.chmod(str(root), 0o755)
    avif, webp, jpeg = _images()
    for name, data in (("photo.avif", avif), ("photo.webp", webp), ("photo.jpg", jpeg), ("pic.webp", webp),
                       ("pic.jpg", jpeg), ("index.html", PAGE)):
        _write(str(root / name), data)
    s = make_server("--root", str(root), "--negotiate")
    profile = tmp_path / "chromium"
    profile.mkdir()
    p = chromium(profile, "--virtual-time-budget=10000", "--dump-dom", s.url + "/")
    dom = p.stdout.decode("utf-8")
    assert '<p id="state">done</p>' in dom, dom[-2000:]
    assert '<p id="photo">photo width=40 type=image/avif bytes=%d</p>' % len(avif) in dom, dom[-2000:]
    assert '<p id="pic">pic width=24 type=image/webp bytes=%d</p>' % len(webp) in dom, dom[-2000:]
    log = "".join(s.access_log(wait_for='"GET /pic '))
    assert re.search(r'"GET /photo HTTP/1\.1" 200 %d ' % len(avif), log), log
    assert re.search(r'"GET /pic HTTP/1\.1" 200 %d ' % len(webp), log), log
    shutil.rmtree(str(profile), ignore_errors=True)
