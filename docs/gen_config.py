#!/usr/bin/python3
"""Write docs/configuration.md from `statusd --help`, which is made from the one directive
tables (the engine's in src/config/config.c, each module's in its own file), so the reference can
never drift from the code.
Usage: docs/gen_config.py BINARY  (prints the markdown; `make docs` writes the file)."""
import re
import subprocess
import sys

HEAD = """# statusd configuration reference

Generated from `statusd --help` by `make docs` (docs/gen_config.py); the integration tests
fail when this file and the binary disagree. Every directive comes from its owner's table (the
engine's in `src/config/config.c`, each module's in its own file) and can be given three ways at
the top of a configuration:

- in a YAML file passed with `--config FILE` (`max_body: 10m`; `error_page` also takes a
  mapping, `error_page: {404: /srv/404.html}`; a `listen` item may be a mapping,
  `listen: [{address: "tls://:443", tls: {cert: FILE, key: FILE}}]`, the same as the text
  `tls://:443 cert=FILE key=FILE`);
- as an environment variable (`STATUSD_MAX_BODY=10m`);
- as an option (`--max-body 10m`; booleans as `--compress` / `--no-compress`).

Options win over the environment, which wins over the file, which wins over the embedded
defaults below. Sizes take `k`, `m` and `g` suffixes; durations `ms`, `s`, `m`, `h` and `d`.
`statusd -t` checks a configuration (the same flags, file and environment) and exits non-zero
with `FILE:LINE: message` on the first error.

**Hosts and paths.** A YAML file may describe several hosts, each with paths; the *scope*
column says where a directive may be written: `top` (the top of the file, a flag, a variable),
`host` (`hosts: NAME: …`), `path` (`hosts: NAME: paths: /PREFIX: …`). Settings flow down: a host
starts from the top, a path from the nearest enclosing path (or its host). Each path names its
handler — `root: DIR` (static files), `api: true` (the client-testing API), `codes: true` (the
status-code pages) — or takes the handler of the path it lies under. The longest matching path
wins; a Host naming no host goes to the first one (`421` with `strict_hosts: true`). Without
`hosts:`, the top directives describe one default host: `root` serves `/`, the API is at `/`
(or at `api_prefix` when a root is served), and every host has `/codes`.

**Policies.** The rules on hosts and paths are written as mappings whose keys are directives
with dots (`limit: {rate: 10r/s, burst: 20}` is `limit.rate` and `limit.burst`, the flags
`--limit-rate` and `--limit-burst`); `NAME: off` drops a rule a scope inherits, and a list given in
a scope replaces the inherited one. They run before any content handler, in this order — rewrite
phase: `legal_block` (451), `gone` (410), `parental_block` (450), `payment_required` (402),
`maintenance` (503), `return`, `redirect`; access phase: the client's address (`trusted_proxies`),
`allow`/`deny` (403, or 444), `captive_portal` (511), `limit` by address or field (429), `auth`
(401/407, 403), `limit` by user (429), `bandwidth` (509), `require_conditional` (428),
`early_hints` (103). README.md ("Policies") has an example of each.

```yaml
strict_hosts: true
max_body: 1m
hosts:
  example.com:
    paths:
      /:      {root: /srv/www, cache_control: "public, max-age=60"}
      /api:   {api: true, max_body: 10m}
      /files: {root: /srv/files, autoindex: true}
  other.example:
    paths:
      /: {root: /srv/other}
```

| option | YAML key | environment | scope | default | meaning |
|---|---|---|---|---|---|
"""

TAIL = """
Signals: `SIGTERM`/`SIGINT` stop accepting, close idle connections and let responses in
flight finish within `drain_timeout`; `SIGUSR1` reopens the access log files (after `logrotate`
moved them; each log's directory must let `user` create the new file); `SIGHUP` reloads the
configuration (a bad one is refused and logged, requests in flight finish on the old one: see
the README, Operations) — and with it every TLS certificate, key, OCSP response and CA file
(readable by `user`: new connections get them, open ones keep theirs) — and reads the password
files (`auth.htpasswd`) and the captive portal's admission files again.
"""


def directives(help_text):
    lines = help_text.splitlines()
    out = []
    for i, line in enumerate(lines):
        # "--name METAVAR" or "--name / --no-name", then at least one space (one only when the
        # option fills its column)
        m = re.match(r"^  (--\S+ / --\S+|--\S+ \S+)\s+(.+)$", line)
        if not m or i + 1 >= len(lines):
            continue
        d = re.match(r"^\s+default: (.*); YAML: (\S+); env: (\S+); scope: (.+)$", lines[i + 1])
        if not d:
            continue
        out.append((m.group(1).strip(), m.group(2).strip(), d.group(2), d.group(3), d.group(1), d.group(4)))
    return out


def cell(s):
    return s.replace("|", "\\|")


def main():
    text = subprocess.run([sys.argv[1], "--help"], capture_output=True, text=True, check=True).stdout
    rows = directives(text)
    expected = text.count("; YAML: ")
    if not rows or len(rows) != expected:
        sys.exit("found %d directives in --help, expected %d" % (len(rows), expected))
    body = "".join("| `%s` | `%s` | `%s` | %s | %s | %s |\n" %
                   (cell(o), y, e, sc, cell(d if d != "(none)" else "none"), cell(m)) for o, m, y, e, d, sc in rows)
    sys.stdout.write(HEAD + body + TAIL)


if __name__ == "__main__":
    main()
