"""`statusd explain --causes` for the gateway: every upstream cause (src/http/upstream.def) is in the
cause registry as upstream_<id>, with its status in each proxy.errors mode and the directive that
chooses among them, in the words the access log and /metrics use."""
import json

from test_cli_explain import run

UPSTREAM = {  # id: (standard, detailed, timeouts); None: the status stays (after the head)
    "dns_error": (502, 530, 502), "dns_timeout": (504, 530, 504), "connect_refused": (502, 521, 502),
    "connect_timeout": (504, 522, 599), "no_route": (502, 523, 502), "connect_error": (502, 521, 502),
    "tls_handshake": (502, 525, 502), "tls_certificate": (502, 526, 502),
    "tls_alert": (502, 525, 502), "send_timeout": (504, 524, 598),
    "head_timeout": (504, 524, 598), "closed_before_head": (502, 520, 502), "malformed_head": (502, 520, 502),
    "no_healthy_upstream": (503, 503, 503), "connection_limit": (503, 503, 503),
    "proxy_loop_detected": (502, 502, 502), "truncated_body": None, "body_timeout": None,
}


def test_every_upstream_cause_with_its_modes():
    rc, out, err = run("explain", "--causes", "--json")
    assert rc == 0, err
    by = {c["id"]: c for c in json.loads(out)}
    for cause, modes in UPSTREAM.items():
        c = by["upstream_" + cause]
        if modes is None:
            assert c["status"] == 0, c
            continue
        statuses = [c["status"]] + c["also"]
        assert statuses[0] == modes[0] and set(statuses) == set(modes), (cause, c)
        assert c["directive"] == "proxy.errors", c


def test_by_code():
    rc, out, _ = run("explain", "--causes", "521")
    assert rc == 0
    assert "upstream_connect_refused" in out and "upstream_connect_error" in out and "upstream_dns_error" not in out
    assert "proxy.errors" in out
    rc, out, _ = run("explain", "--causes", "598", "--json")
    ids = {c["id"] for c in json.loads(out)}
    assert {"upstream_send_timeout", "upstream_head_timeout"} <= ids
