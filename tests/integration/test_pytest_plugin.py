"""contrib/pytest_statusd: a suite written for pytest-httpbin runs against statusd by loading the
plugin by name (-p no:httpbin -p pytest_statusd), as a third-party suite would."""
import os
import re
import subprocess

from conftest import BIN, REPO


def test_a_suite_runs_through_the_plugin():
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "contrib"), STATUSD_BIN=BIN)
    out = subprocess.run(["/usr/bin/python3", "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p",
                          "no:httpbin", "-p", "pytest_statusd", "--rootdir", os.path.join(REPO, "tests/plugin_suite"),
                          os.path.join(REPO, "tests/plugin_suite")],
                         capture_output=True, text=True, timeout=120, env=env, cwd="/")
    assert out.returncode == 0, out.stdout + out.stderr
    # HTTP and HTTPS (httpbin_secure, httpbin_both, class_based_httpbin_secure, httpbin_ca_bundle)
    assert "skipped" not in out.stdout and re.search(r"\b7 passed\b", out.stdout), out.stdout
