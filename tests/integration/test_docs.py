"""docs/configuration.md is the directive table as `statusd --help` prints it: regenerate it with
`make docs` when a directive changes."""
import os
import subprocess

from conftest import BIN, REPO


def test_configuration_reference_matches_the_binary():
    out = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "docs", "gen_config.py"), BIN],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    with open(os.path.join(REPO, "docs", "configuration.md")) as f:
        committed = f.read()
    assert committed == out.stdout, "docs/configuration.md is stale: run `make docs`"
    help_text = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10).stdout
    for line in help_text.splitlines():
        if "; YAML: " in line:
            key = line.split("; YAML: ")[1].split(";")[0]
            assert "`%s`" % key in committed, key
