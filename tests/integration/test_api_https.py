"""The client-testing API over tls:// listeners (issue 18): the same routes, the URLs it writes
name https (/get's url, absolute redirects), and X-Forwarded-Proto sets that scheme only from a
front proxy listed in api_trusted_proxies (anyone else's is ignored)."""
import json
import socket
import subprocess

import pytest

from conftest import BIN, one_response, read_all
from tlsutil import Pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


def exchange(port, request, pki=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = pki.context().wrap_socket(raw, server_hostname="localhost") if pki else raw
    try:
        s.sendall(request)
        return one_response(read_all(s, 10))
    finally:
        s.close()


def get(port, path, pki=None, extra=b""):
    return exchange(port, b"GET %s HTTP/1.1\r\nHost: localhost:%d\r\nConnection: close\r\n%s\r\n"
                    % (path.encode(), port, extra), pki)


def both(make_server, pki, *args):
    chain, key = pki.server("localhost")
    s = make_server("--listen", "tls://127.0.0.1:0", "--tls-cert", chain, "--tls-key", key, *args)
    return s, s.ports[0], s.tls_port


def test_the_api_over_tls_names_https(make_server, pki):
    s, plain, tls = both(make_server, pki)
    r = get(tls, "/get?a=1", pki)
    assert r.status == 200 and r.header("content-type") == "application/json"
    body = json.loads(r.body)
    assert body["url"] == "https://localhost:%d/get?a=1" % tls and body["args"] == {"a": "1"}, body
    r = get(plain, "/get?a=1")
    assert json.loads(r.body)["url"] == "http://localhost:%d/get?a=1" % plain
    r = get(tls, "/absolute-redirect/1", pki)
    assert r.status == 302 and r.header("location") == "https://localhost:%d/get" % tls, r
    r = get(tls, "/anything/x", pki)
    assert r.status == 200 and json.loads(r.body)["url"] == "https://localhost:%d/anything/x" % tls


def test_x_forwarded_proto_only_from_trusted_proxies(make_server, pki):
    xfp = b"X-Forwarded-Proto: https\r\n"
    # nobody trusted (the default): the field is ignored
    s, plain, tls = both(make_server, pki)
    assert json.loads(get(plain, "/get", extra=xfp).body)["url"] == "http://localhost:%d/get" % plain
    # trusted: the peer 127.0.0.1 is in the list
    s, plain, tls = both(make_server, pki, "--api-trusted-proxies", "10.0.0.0/8, 127.0.0.0/8")
    assert json.loads(get(plain, "/get", extra=xfp).body)["url"] == "https://localhost:%d/get" % plain
    r = get(plain, "/absolute-redirect/1", extra=xfp)
    assert r.status == 302 and r.header("location") == "https://localhost:%d/get" % plain
    # the first element is the client's; a proxy may also say plain http over its TLS hop
    r = get(tls, "/get", pki, extra=b"X-Forwarded-Proto: http, https\r\n")
    assert json.loads(r.body)["url"] == "http://localhost:%d/get" % tls
    # something else than http or https: the connection's own scheme
    r = get(plain, "/get", extra=b"X-Forwarded-Proto: gopher\r\n")
    assert json.loads(r.body)["url"] == "http://localhost:%d/get" % plain
    # a list that does not name the peer: ignored
    s, plain, tls = both(make_server, pki, "--api-trusted-proxies", "10.0.0.0/8,::1")
    assert json.loads(get(plain, "/get", extra=xfp).body)["url"] == "http://localhost:%d/get" % plain


def test_a_bad_trusted_proxy_list_is_refused(tmp_path):
    r = subprocess.run([BIN, "-t", "--api-trusted-proxies", "127.0.0.1,10.0.0.1/8"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode != 0 and "api_trusted_proxies: '10.0.0.1/8': " in r.stderr, r.stderr
