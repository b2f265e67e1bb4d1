"""testssl.sh (Debian's package) against statusd's default TLS profile: no vulnerability and no
"NOT ok" finding. The certificate is made at test time by the test CA, which testssl is told to
trust (--add-ca), with an OCSP responder named in it and a stapled response, and a validity well
under 398 days: what a real deployment would have.

Slow (a few minutes on a quiet machine): marked `slow`, bounded by a timeout, and left out of the
sanitizer run (`make sanitize` repeats the suite under ASan, where it would take several times as
long for nothing a sanitizer could add). `PYTEST_ARGS="-m 'not slow'"` leaves it out elsewhere."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import SANITIZED
from tlsutil import Pki

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not TESTSSL, reason="testssl.sh is not installed (Debian package testssl.sh)"),
    pytest.mark.skipif(SANITIZED, reason="slow under ASan and adds nothing a sanitizer could find"),
]


def run_testssl(port, ca, timeout=900):
    """testssl.sh's protocol, cipher, forward secrecy, preference, server-defaults and
    vulnerability checks against 127.0.0.1:port; returns its text output."""
    cmd = [TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--add-ca", ca, "--openssl-timeout", "10",
           "--ip", "127.0.0.1", "-p", "-s", "-f", "-P", "-S", "-U", "localhost:%d" % port]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, TERM="dumb"))
    return r.stdout + r.stderr


def test_testssl_finds_nothing_wrong_with_the_default_profile(make_server, tmp_path):
    pki = Pki(tmp_path / "pki")
    chain, key = pki.server("localhost")
    ocsp = pki.ocsp_response(chain, "localhost")
    s = make_server("--tls-cert", chain, "--tls-key", key, "--tls-ocsp-response", ocsp, listen="tls://127.0.0.1:0")
    out = run_testssl(s.tls_port, pki.ca)
    (tmp_path / "testssl.txt").write_text(out)
    assert "Testing protocols" in out, out[-3000:]
    bad = [l.strip() for l in out.splitlines() if "NOT ok" in l or re.search(r"\bVULNERABLE\b", l)]
    assert not bad, "\n".join(bad)
    # what the profile promises, as testssl sees it
    assert re.search(r"TLS 1\.3\s+offered \(OK\)", out), out
    assert re.search(r"TLS 1\.2\s+offered \(OK\)", out), out
    assert re.search(r"TLS 1\.1\s+not offered", out) and re.search(r"TLS 1\s+not offered", out), out
    assert re.search(r"OCSP stapling\s+offered", out), out
    assert re.search(r"Chain of trust\s+Ok", out), out
