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
    tls = "--tls-cert" in subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
    passed = int(re.search(r"(\d+) passed", out.stdout).group(1))
    if tls:
        assert "skipped" not in out.stdout and passed == 7, out.stdout
    else:  # until statusd serves HTTPS: the secure fixtures skip, saying why
        assert passed == 4 and "serves no HTTPS" in out.stdout, out.stdout
