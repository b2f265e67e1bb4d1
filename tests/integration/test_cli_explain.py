"""`statusd explain` and `statusd list`: the status-code registry on the command line.

The binary is $STATUSD_BIN, or build/statusd in the repository.
"""
import json
import os
import re
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("STATUSD_BIN", os.path.join(REPO, "build", "statusd"))

# Every code of /work/shared/status-codes.md.
ALL_CODES = (
    [100, 101, 102, 103]
    + [200, 201, 202, 203, 204, 205, 206, 207, 208, 226]
    + list(range(300, 309))
    + list(range(400, 419)) + [421, 422, 423, 424, 425, 426, 428, 429, 431]
    + [440, 444, 449, 450, 451, 494, 495, 496, 497, 499]
    + list(range(500, 512)) + list(range(520, 528)) + [530, 598, 599]
)
UNOFFICIAL = {418, 440, 444, 449, 450, 494, 495, 496, 497, 499, 509,
              520, 521, 522, 523, 524, 525, 526, 527, 530, 598, 599}
KEYS = {"code", "reason", "class", "origin", "reference", "flags", "required_headers",
        "recommended_headers", "summary", "explanation"}


def run(*args):
    env = dict(os.environ)
    env.pop("STATUSD_BIN", None)
    p = subprocess.run([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=20)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def run_json(*args):
    rc, out, err = run(*args)
    assert rc == 0, err
    assert err == ""
    return json.loads(out)


def test_binary_exists():
    assert os.access(BIN, os.X_OK), "statusd binary not found at %s (set STATUSD_BIN)" % BIN


# ---- explain, text ----

def test_explain_418_text():
    rc, out, err = run("explain", "418")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "418 I'm a teapot"
    assert "HTCPCP" in out and "RFC 2324" in out
    assert re.search(r"^Flags:\s+.*unofficial", out, re.M)
    assert re.search(r"^Required:\s+none", out, re.M)
    assert re.search(r"^Recommended:\s+none", out, re.M)
    obj = run_json("explain", "--json", "418")
    assert obj["summary"] in out
    # the explanation is all there, wrapped at 78 columns
    assert " ".join(out.split()).find(" ".join(obj["explanation"].split())) >= 0
    assert max(len(line) for line in lines) <= 78


def test_explain_headers_in_words():
    rc, out, _ = run("explain", "405")
    assert rc == 0
    assert re.search(r"^Required:\s+Allow$", out, re.M)
    rc, out, _ = run("explain", "408")
    assert re.search(r"^Required:\s+Connection: close$", out, re.M)
    rc, out, _ = run("explain", "429")
    assert re.search(r"^Recommended:\s+Retry-After, RateLimit$", out, re.M)
    rc, out, _ = run("explain", "204")
    assert re.search(r"^Flags:\s+.*never has content", out, re.M)


def test_explain_class_4xx():
    rc, out, err = run("explain", "4xx")
    assert rc == 0 and err == ""
    heads = [int(m.group(1)) for m in re.finditer(r"^(\d{3}) \S", out, re.M)]
    assert heads == [c for c in ALL_CODES if 400 <= c < 500]
    assert "404 Not Found" in out and "451 Unavailable For Legal Reasons" in out
    assert max(len(line) for line in out.splitlines()) <= 78
    # the class may be written in capitals too
    assert run("explain", "4XX")[1] == out


def test_explain_several_codes_in_order():
    rc, out, err = run("explain", "500", "404")
    assert rc == 0 and err == ""
    heads = re.findall(r"^(\d{3}) \S", out, re.M)
    assert heads == ["500", "404"]


# ---- explain, JSON ----

def test_explain_json_451():
    obj = run_json("explain", "--json", "451")
    assert isinstance(obj, dict)
    assert KEYS <= set(obj)
    assert obj["code"] == 451
    assert obj["reason"] == "Unavailable For Legal Reasons"
    assert obj["class"] == "4xx"
    assert obj["origin"] == "IANA"
    assert obj["reference"] == "RFC 7725 §3"  # UTF-8 passes through
    assert obj["flags"] == []
    assert obj["required_headers"] == []
    assert obj["recommended_headers"] == ["Link"]
    assert obj["summary"] and obj["explanation"]
    assert '"blocked-by"' in obj["explanation"]  # quotes escaped and restored


def test_explain_json_option_after_code():
    assert run_json("explain", "451", "--json")["code"] == 451


def test_explain_json_flags_and_headers():
    teapot = run_json("explain", "--json", "418")
    assert teapot["origin"] == "HTCPCP" and "unofficial" in teapot["flags"]
    cont = run_json("explain", "--json", "100")
    assert set(cont["flags"]) == {"interim", "nobody"}
    moved = run_json("explain", "--json", "301")
    assert moved["required_headers"] == ["Location"] and "cacheable" in moved["flags"]
    assert run_json("explain", "--json", "444")["flags"] == ["unofficial", "log_only"]
    assert "historic" in run_json("explain", "--json", "527")["flags"]
    assert run_json("explain", "--json", "226")["required_headers"] == ["IM"]
    assert run_json("explain", "--json", "226")["recommended_headers"] == ["ETag"]


def test_explain_json_arrays():
    two = run_json("explain", "--json", "404", "500")
    assert [o["code"] for o in two] == [404, 500]
    cls = run_json("explain", "--json", "5xx")
    assert isinstance(cls, list)
    assert [o["code"] for o in cls] == [c for c in ALL_CODES if c >= 500]
    assert all(KEYS <= set(o) and o["class"] == "5xx" for o in cls)
    # a class with one member code is still an array
    assert isinstance(run_json("explain", "--json", "1xx"), list)


# ---- list ----

LIST_LINE = re.compile(r"^(\d{3})  (\S.*?\S) +— (\S.*)$")


def test_list_all():
    rc, out, err = run("list")
    assert rc == 0 and err == ""
    lines = out.splitlines()
    codes = []
    for line in lines:
        m = LIST_LINE.match(line)
        assert m, line
        codes.append(int(m.group(1)))
    assert codes == ALL_CODES
    assert len({line.index("—") for line in lines}) == 1, "summaries are aligned"
    assert "404  Not Found" in out
    assert any(line.startswith("418  I'm a teapot ") for line in lines)


def test_list_json_matches_text():
    arr = run_json("list", "--json")
    assert [o["code"] for o in arr] == ALL_CODES
    assert all(KEYS <= set(o) for o in arr)
    unofficial = {o["code"] for o in arr if "unofficial" in o["flags"]}
    assert unofficial == UNOFFICIAL
    assert {o["code"] for o in arr if o["origin"] != "IANA"} == UNOFFICIAL


def test_list_class_filter():
    rc, out, _ = run("list", "--class", "5xx")
    assert rc == 0
    codes = [int(line[:3]) for line in out.splitlines()]
    assert codes == [c for c in ALL_CODES if c >= 500]
    rc2, out2, _ = run("list", "--class=5xx")
    assert rc2 == 0 and out2 == out


def test_list_unofficial_filter():
    rc, out, _ = run("list", "--unofficial")
    assert rc == 0
    codes = {int(line[:3]) for line in out.splitlines()}
    assert codes == UNOFFICIAL
    both = run_json("list", "--class", "4xx", "--unofficial", "--json")
    assert {o["code"] for o in both} == {c for c in UNOFFICIAL if c < 500}
    assert run_json("list", "--class", "1xx", "--unofficial", "--json") == []


# ---- errors and help ----

@pytest.mark.parametrize("arg", ["999", "299", "abc", "7xx", "4040", "40"])
def test_explain_unknown_code(arg):
    rc, out, err = run("explain", arg)
    assert rc == 2
    assert out == ""
    assert "statusd: unknown status code '%s' (see 'statusd list')" % arg in err


def test_explain_unknown_among_known_prints_nothing():
    rc, out, err = run("explain", "404", "999", "--json")
    assert rc == 2 and out == ""
    assert "'999'" in err and "'404'" not in err


def test_explain_without_code():
    rc, out, err = run("explain")
    assert rc == 2 and out == "" and "usage" in err


@pytest.mark.parametrize("cmd", ["explain", "list"])
def test_help(cmd):
    rc, out, err = run(cmd, "--help")
    assert rc == 0 and err == ""
    assert "usage: statusd explain" in out and "statusd list" in out


@pytest.mark.parametrize("args", [("explain", "--bogus", "404"), ("list", "--bogus"), ("list", "404"),
                                  ("list", "--class")])
def test_bad_usage(args):
    rc, out, err = run(*args)
    assert rc == 2 and out == ""
    assert "usage: statusd" in err


def test_list_unknown_class():
    rc, out, err = run("list", "--class", "7xx")
    assert rc == 2 and out == ""
    assert "unknown status class '7xx'" in err


def test_explain_causes_of_a_status():
    """`explain --causes 413`: every cause statusd has for a 413, with the directive that
    changes it, precise causes first and the status's default last."""
    rc, out, err = run("explain", "--causes", "413")
    assert rc == 0 and err == ""
    rows = [(l[:9].strip(), l[9:].split()[0]) for l in out.splitlines()]
    assert rows == [("413", "declared_body_too_large"), ("413", "body_too_large"), ("413", "body_no_memory"),
                    ("413", "content_too_large")]
    assert out.splitlines()[0].endswith("Changed by: max_body")
    assert "(default)" in out.splitlines()[3]


def test_explain_causes_json_by_class_and_module_causes():
    rc, out, err = run("explain", "--causes", "--json", "431", "416")
    assert rc == 0 and err == ""
    causes = json.loads(out)
    assert [c["id"] for c in causes] == ["file:range", "range_not_satisfiable", "field_too_large", "too_many_fields",
                                         "head_too_large", "trailer_too_large", "request_header_fields_too_large"]
    by_id = {c["id"]: c for c in causes}
    assert by_id["head_too_large"] == {"id": "head_too_large", "status": 431, "also": [], "directive": "max_head",
                                       "default": False,
                                       "summary": "The request head is larger than max_head."}
    assert by_id["range_not_satisfiable"]["default"] is True and by_id["range_not_satisfiable"]["directive"] is None
    rc, out, err = run("explain", "--causes", "--json", "5xx")
    ids = {c["id"]: c for c in json.loads(out)}
    assert ids["upstream_connect_timeout"]["status"] == 504 and ids["upstream_connect_timeout"]["also"] == [522, 599]
    assert ids["overload"]["directive"] == "max_connections"
