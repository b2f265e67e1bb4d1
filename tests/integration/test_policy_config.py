"""`statusd -t` refuses each policy misconfiguration with the FILE:LINE of the directive at fault:
an unknown status in return, a redirect loop, a bad CIDR, an unreadable password file, a return
code whose required header cannot be made, and the rules that are incomplete."""
import os
import subprocess

import pytest

from conftest import BIN
from policy_util import Site


@pytest.fixture
def site():
    s = Site()
    yield s
    s.cleanup()


def check(site, yaml, *args):
    cfg = site.config(yaml)
    out = subprocess.run([BIN, "-t", "--config", cfg, *args], capture_output=True, text=True, timeout=10)
    return out.returncode, out.stderr.replace(cfg, "CFG")


HEAD = """hosts:
  a.test:
    paths:
      /: {root: {root}}
"""


@pytest.mark.parametrize("line,message", [
    ("      /x: {return: 299}", "CFG:5: 'return': 299 is not a status code statusd knows (see 'statusd list')"),
    ("      /x: {return: {status: 1000}}", "CFG:5: 'return.status' expects a status code such as 404 or 503"),
    ("      /x: {return: 103}", "CFG:5: 'return': 103 is an interim (1xx) response, never a final answer"),
    ("      /x: {return: 499}", "CFG:5: 'return': 499 is only ever logged, never sent"),
    ("      /x: {deny: [10.0.0.1/8]}", "CFG:5: deny: '10.0.0.1/8' is not an address, a CIDR block or 'all'"),
    ("      /x: {allow: [10.0.0.0/33]}", "CFG:5: allow: '10.0.0.0/33' is not an address, a CIDR block or 'all'"),
    ("      /x: {deny: {from: [10.0.0.0/8], action: drop}}", "CFG:5: deny: action is 403 (answer Forbidden) or close"),
    ("      /x: {limit: {rate: 10r/x}}", "CFG:5: 'limit.rate': expected a rate such as 10r/s"),
    ("      /x: {limit: {rate: 1r/s, key: cookie}}", "CFG:5: 'limit.key' is addr, user or header:NAME, got 'cookie'"),
    ("      /x: {redirect: {to: \"/a b\"}}", "CFG:5: 'redirect.to': "),
    ("      /x: {redirect: {to: /y, status: 304}}", "CFG:5: 'redirect.status' is 301, 302, 303, 307 or 308"),
    ("      /x: {bandwidth: {bytes: lots, per: 1d}}", "CFG:5: 'bandwidth.bytes' expects a size"),
    ("      /x: {maintenance: {until: tomorrow}}", "CFG:5: 'maintenance.until' expects a time"),
    ("      /x: {early_hints: [style.css]}", "CFG:5: 'early_hints': 'style.css' is not a Link value"),
    ("      /x: {trusted_proxies: [proxy.example]}", "CFG:5: trusted_proxies: 'proxy.example' is not an address"),
])
def test_values_refused_where_written(site, line, message):
    rc, err = check(site, HEAD + line + "\n")
    assert rc == 1
    assert message in err, err


@pytest.mark.parametrize("paths,message", [
    # a redirect that comes back to itself
    ("      /old:\n        redirect: {to: \"/old/x$rest\"}\n",
     "CFG:6: redirect loop: a request for http://a.test/old is sent to /old/x, which this rule redirects again"),
    ("      /a: {redirect: {to: \"http://a.test$path\", status: 301}}\n", "CFG:5: redirect loop: a request for "),
    # codes whose required header cannot be made
    ("      /r: {return: 416}\n", "CFG:5: return 416 cannot be made: a 416 response must carry Content-Range"),
    ("      /r: {return: 302}\n", "CFG:5: return 302 needs return.location: a 302 response must carry Location"),
    ("      /r: {return: 429}\n", "CFG:5: return 429 cannot be made: it needs Retry-After and the RateLimit fields"),
    ("      /r: {return: 401}\n", "CFG:5: return 401 needs return.realm"),
    ("      /r: {return: 451}\n", "CFG:5: return 451 needs return.link"),
    ("      /r: {return: 226}\n", "CFG:5: return 226 cannot be made: a 226 response must carry IM"),
    ("      /r: {return: 426}\n", "CFG:5: return 426 cannot be made: a 426 response must carry Upgrade"),
    ("      /r:\n        return: {status: 204, body: x}\n", "CFG:6: return 204: a 204 response has no content"),
    # files
    ("      /p: {auth: {htpasswd: /nonexistent/users}}\n", "CFG:5: /nonexistent/users: cannot open: No such file"),
    ("      /p:\n        captive_portal:\n          login: /login\n          admitted: [/nonexistent/admitted]\n",
     "CFG:8: /nonexistent/admitted: cannot open"),
    # incomplete rules
    ("      /p: {auth: {realm: x}}\n", "CFG:5: auth needs htpasswd"),
    ("      /p: {limit: {burst: 5}}\n", "CFG:5: limit needs rate"),
    ("      /p: {bandwidth: {bytes: 10g}}\n", "bandwidth needs bytes and per"),
    ("      /p: {legal_block: {paths: [/p/x]}}\n", "CFG:5: legal_block needs blocked_by"),
    ("      /p: {captive_portal: {admitted: [10.0.0.0/8]}}\n", "captive_portal needs login"),
    ("      /p: {limit: {rate: 1r/s, key: user}}\n", "CFG:5: limit.key user needs auth on the same host or path"),
])
def test_tree_checks_name_the_line(site, paths, message):
    rc, err = check(site, HEAD + paths)
    assert rc == 1
    assert message in err, err


def test_inherited_value_is_located_where_written(site):
    """A path that inherits a broken value is reported at the line of the value."""
    rc, err = check(site, HEAD.replace("{root: {root}}", "{root: {root}, auth: {htpasswd: /nonexistent/u}}") +
                    "      /team: {auth: {users: [bob]}}\n")
    assert rc == 1
    assert "CFG:4: /nonexistent/u: cannot open" in err, err


def test_flags_are_checked_too(site):
    out = subprocess.run([BIN, "-t", "--allow", "10.0.0.0/8,bad"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert "--allow: allow: 'bad' is not an address" in out.stderr
    out = subprocess.run([BIN, "-t", "--limit-rate", "5r/s", "--limit-burst", "10", "--allow", "127.0.0.1",
                          "--deny", "all"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr


def test_a_good_configuration_passes(site):
    users = site.path("users")
    subprocess.run(["htpasswd", "-bcB", "-C", "4", users, "u", "p"], check=True, capture_output=True)
    rc, err = check(site, HEAD + """      /all:
        allow: [10.0.0.0/8]
        deny: {from: [all], action: close}
        auth: {htpasswd: %s, users: [u]}
        limit: {rate: 5r/s, burst: 10, key: user}
        bandwidth: {bytes: 10g, per: 30d}
        require_conditional: true
        early_hints: ["</a.css>; rel=preload; as=style"]
      /r: {redirect: {to: "https://b.test$path"}}
""" % users)
    assert rc == 0, err
