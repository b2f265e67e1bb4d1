"""A third-party suite's view of pytest_statusd: written for pytest-httpbin's fixtures only
(run by tests/integration/test_pytest_plugin.py with -p no:httpbin -p pytest_statusd)."""
import unittest

import pytest
import requests

import pytest_statusd


def test_get(httpbin):
    r = requests.get(httpbin.url + "/get", params={"a": "1"})
    assert r.status_code == 200 and r.json()["args"] == {"a": "1"}
    assert r.json()["url"] == httpbin.url + "/get?a=1"


def test_object_api(httpbin):
    assert httpbin.host == "127.0.0.1" and isinstance(httpbin.port, int)
    assert httpbin + "/ip" == httpbin.url + "/ip" and str(httpbin) == httpbin.url
    assert httpbin.join("/status/418") == httpbin.url + "/status/418"
    assert requests.get(httpbin.join("/status/418")).status_code == 418


def test_post_redirect_cookies(httpbin):
    s = requests.Session()
    assert s.post(httpbin + "/post", data={"k": "v"}).json()["form"] == {"k": "v"}
    r = s.get(httpbin + "/redirect/2")
    assert r.status_code == 200 and len(r.history) == 2
    assert s.get(httpbin + "/cookies/set?x=1").json() == {"cookies": {"x": "1"}}


def test_secure(httpbin_secure, httpbin_ca_bundle):
    r = requests.get(httpbin_secure + "/get")  # verified against the session's CA (REQUESTS_CA_BUNDLE)
    assert r.status_code == 200 and r.json()["url"] == httpbin_secure.url + "/get"
    assert httpbin_secure.url.startswith("https://127.0.0.1:")


def test_both(httpbin_both):
    assert requests.get(httpbin_both + "/status/204", verify=httpbin_both.ca or True).status_code == 204


@pytest_statusd.use_class_based_httpbin
class TestClassBased(unittest.TestCase):
    def test_http(self):
        assert requests.get(self.httpbin.url + "/headers").status_code == 200
