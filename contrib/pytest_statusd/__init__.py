"""pytest_statusd — pytest-httpbin's fixtures, served by statusd's client-testing API.

A suite written for pytest-httpbin switches with ``-p no:httpbin -p pytest_statusd`` (this
directory on PYTHONPATH) and nothing else:

    httpbin, httpbin_secure, httpbin_both, class_based_httpbin, class_based_httpbin_secure,
    httpbin_ca_bundle, and the decorators use_class_based_httpbin(_secure)

One statusd is started per test session on 127.0.0.1 (ephemeral ports, or HTTPBIN_HTTP_PORT /
HTTPBIN_HTTPS_PORT) and stopped at its end. HTTPS uses a certificate authority made for the
session with openssl; ``httpbin_ca_bundle`` points REQUESTS_CA_BUNDLE at it.

The binary: $STATUSD_BIN, else ``statusd`` on PATH, else build/statusd of the checkout this
file belongs to.
"""
from .plugin import (  # noqa: F401  (pytest finds the fixtures on this module; users import the rest)
    Server,
    class_based_httpbin,
    class_based_httpbin_secure,
    httpbin,
    httpbin_both,
    httpbin_ca_bundle,
    httpbin_secure,
    use_class_based_httpbin,
    use_class_based_httpbin_secure,
)
