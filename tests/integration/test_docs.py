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


def test_manual_page_matches_the_binary_and_renders_without_warnings():
    out = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "docs", "gen_man.py"), BIN],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    page = os.path.join(REPO, "docs", "statusd.8")
    with open(page) as f:
        assert f.read() == out.stdout, "docs/statusd.8 is stale: run `make docs`"
    r = subprocess.run(["man", "--warnings", "-l", "-P", "cat", page], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, MANWIDTH="80", LANG="C.UTF-8"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "statusd - an HTTP/1.1 server that answers with the right status code" in r.stdout
    assert "--metrics-path PATH" in r.stdout and "--log-format FORMAT" in r.stdout


def test_make_install_lays_out_the_files(tmp_path):
    variant = {"check": "check", "asan": "asan"}.get(os.path.basename(os.path.dirname(BIN)), "release")
    out = subprocess.run(["make", "-s", "-C", REPO, "install", "VARIANT=" + variant, "DESTDIR=" + str(tmp_path),
                          "PREFIX=/usr/local"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["usr/local/bin/statusd", "usr/local/lib/systemd/system/statusd.service",
                     "usr/local/lib/systemd/system/statusd.socket", "usr/local/share/man/man8/statusd.8"]
    binary = tmp_path / "usr/local/bin/statusd"
    assert os.access(str(binary), os.X_OK)
    assert subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.startswith("statusd ")
    unit = (tmp_path / "usr/local/lib/systemd/system/statusd.service").read_text()
    assert "ExecStart=/usr/local/bin/statusd --config /etc/statusd/statusd.yaml" in unit and "@BINDIR@" not in unit
    r = subprocess.run(["man", "--warnings", "-l", "-P", "cat", str(tmp_path / "usr/local/share/man/man8/statusd.8")],
                       capture_output=True, text=True, timeout=30, env=dict(os.environ, MANWIDTH="80"))
    assert r.returncode == 0 and r.stderr == ""
