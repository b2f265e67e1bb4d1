"""`statusd explain --causes`: the gateway's cause table (src/http/upstream.def) on the command line,
in the words the access log and Proxy-Status use."""
import json

from test_cli_explain import run


def test_every_cause_as_json():
    rc, out, err = run("explain", "--causes", "--json")
    assert rc == 0 and err == "", err
    causes = json.loads(out)
    ids = [c["id"] for c in causes]
    assert len(ids) == len(set(ids)) >= 25
    by = {c["id"]: c for c in causes}
    assert by["connect_timeout"]["status"] == {"standard": 504, "detailed": 522, "timeouts": 599}
    assert by["dns_error"]["status"] == {"standard": 502, "detailed": 530, "timeouts": 502}
    assert by["no_healthy_upstream"]["retry_after"] is True
    assert by["truncated_body"]["status"] is None and by["truncated_body"]["after_head"] is True
    assert by["connect_refused"]["error_type"] == "connection_refused" and by["connect_refused"]["not_sent"]


def test_by_code_and_by_id():
    rc, out, _ = run("explain", "--causes", "521")
    assert rc == 0
    assert out.startswith("connect_refused\n") and "connect_error\n" in out and "dns_error" not in out
    assert "521 Web Server Is Down (detailed)" in out and "Proxy-Status:  error=connection_refused" in out
    rc, out, _ = run("explain", "--causes", "598", "--json")
    assert {c["id"] for c in json.loads(out)} == {"send_timeout", "head_timeout"}
    rc, out, _ = run("explain", "--causes", "body_timeout")
    assert rc == 0 and "unchanged" in out and "retried:       never" in out
    rc, out, err = run("explain", "--causes", "404")
    assert rc == 2 and "no gateway cause" in err
    rc, out, err = run("explain", "--causes", "nonsense")
    assert rc == 2
