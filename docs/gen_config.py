#!/usr/bin/python3
"""Write docs/configuration.md from `statusd --help`, which is made from the one directive
table in src/config/config.c, so the reference can never drift from the code.
Usage: docs/gen_config.py BINARY  (prints the markdown; `make docs` writes the file)."""
import re
import subprocess
import sys

HEAD = """# statusd configuration reference

Generated from `statusd --help` by `make docs` (docs/gen_config.py); the integration tests
fail when this file and the binary disagree. Every directive comes from one table in
`src/config/config.c` and can be given three ways:

- in a YAML file passed with `--config FILE` (`max_body: 10m`; `error_page` also takes a
  mapping, `error_page: {404: /srv/404.html}`);
- as an environment variable (`STATUSD_MAX_BODY=10m`);
- as an option (`--max-body 10m`; booleans as `--compress` / `--no-compress`).

Options win over the environment, which wins over the file, which wins over the embedded
defaults below. Sizes take `k`, `m` and `g` suffixes; durations `ms`, `s`, `m` and `h`.
`statusd -t` checks a configuration (the same flags, file and environment) and exits non-zero
with `FILE:LINE: message` on the first error.

| option | YAML key | environment | default | meaning |
|---|---|---|---|---|
"""

TAIL = """
Signals: `SIGTERM`/`SIGINT` stop accepting, close idle connections and let responses in
flight finish within `drain_timeout`; `SIGUSR1` reopens the access log file (after `logrotate`
moved it; the log's directory must let `user` create the new file); `SIGHUP` is ignored.
"""


def directives(help_text):
    lines = help_text.splitlines()
    out = []
    for i, line in enumerate(lines):
        m = re.match(r"^  (--.+?)\s{2,}(.+)$", line) or re.match(r"^  (--\S+ / --\S+) (.+)$", line)
        if not m or i + 1 >= len(lines):
            continue
        d = re.match(r"^\s+default: (.*); YAML: (\S+); env: (\S+)$", lines[i + 1])
        if not d:
            continue
        out.append((m.group(1).strip(), m.group(2).strip(), d.group(2), d.group(3), d.group(1)))
    return out


def cell(s):
    return s.replace("|", "\\|")


def main():
    text = subprocess.run([sys.argv[1], "--help"], capture_output=True, text=True, check=True).stdout
    rows = directives(text)
    expected = text.count("; YAML: ")
    if not rows or len(rows) != expected:
        sys.exit("found %d directives in --help, expected %d" % (len(rows), expected))
    body = "".join("| `%s` | `%s` | `%s` | %s | %s |\n" % (cell(o), y, e, cell(d if d != "(none)" else "none"), cell(m))
                   for o, m, y, e, d in rows)
    sys.stdout.write(HEAD + body + TAIL)


if __name__ == "__main__":
    main()
