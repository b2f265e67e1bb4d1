"""/metrics: the Prometheus text exposition, read with the Prometheus client's own parser
(python3-prometheus-client) after a mixed load, every counter equal to what the test sent."""
import socket
import time

from prometheus_client.parser import text_string_to_metric_families

from conftest import Server, parse_responses, stop_and_check


class Load:
    """Each request on its own connection, every byte counted both ways."""

    def __init__(self, server):
        self.s = server
        self.sent = self.received = self.connections = 0

    def one(self, data, leave_after=None):
        c = self.s.connect()
        self.connections += 1
        c.sendall(data)
        self.sent += len(data)
        if leave_after is not None:  # a client that gives up before the answer
            time.sleep(leave_after)
            c.close()
            return b""
        got = b""
        c.settimeout(5)
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                got += b
        except OSError:
            pass
        c.close()
        self.received += len(got)
        return got

    def get(self, path, host=b"t"):
        return self.one(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host))

    def scrape(self, path=b"/metrics", host=b"t"):
        raw = self.get(path, host)
        rs, _ = parse_responses(raw)
        assert rs[0].status == 200, raw[:300]
        assert rs[0].header("content-type") == "text/plain; version=0.0.4; charset=utf-8"
        samples = {}
        for fam in text_string_to_metric_families(rs[0].body.decode()):
            for smp in fam.samples:
                samples[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
        return samples


def of(samples, name, **labels):
    return {k[1]: v for k, v in samples.items() if k[0] == name and all(dict(k[1]).get(a) == b
                                                                         for a, b in labels.items())}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def test_counters_equal_what_was_sent():
    s = Server("--metrics-path", "/metrics", workers=2, access_log="off")
    try:
        load = Load(s)
        for _ in range(20):
            assert load.get(b"/get").startswith(b"HTTP/1.1 200 ")
        for _ in range(7):
            assert load.get(b"/status/418").startswith(b"HTTP/1.1 418 ")
        for _ in range(3):
            assert load.get(b"/no-such-route").startswith(b"HTTP/1.1 404 ")
        for _ in range(4):
            assert load.get(b"/status/444") == b""  # closed without a byte
        for _ in range(2):
            assert load.get(b"/fault/abort-before-headers") == b""
        for _ in range(2):
            assert load.one(b"GET /get HTTP/1.1\nHost: t\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        assert load.one(b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X: y\r\n" * 101 + b"\r\n").startswith(b"HTTP/1.1 431 ")
        for _ in range(3):
            load.one(b"GET /delay/2 HTTP/1.1\r\nHost: t\r\n\r\n", leave_after=0.3)
        # the clients that left are noticed by the server (their 499s counted): wait for it
        scrapes = 0
        deadline = time.time() + 5
        while True:
            m = load.scrape()
            scrapes += 1
            if value(m, "statusd_http_requests_in_flight") == 1 or time.time() > deadline:
                break  # only the scrape itself is in flight
            time.sleep(0.05)
        last_scrape_bytes_out = load.received
        m = load.scrape()
        scrapes += 1
    finally:
        stop_and_check(s)

    codes = {dict(k)["code"]: v for k, v in of(m, "statusd_http_responses_total", host="*").items()}
    # the scrapes before the last one ended before it was written: they are counted as 200s
    assert codes == {"200": 20 + scrapes - 1, "418": 7, "404": 3, "444": 6, "499": 3}, codes
    # a parse error happens before any host is known: its host is _other
    other = {dict(k)["code"]: v for k, v in of(m, "statusd_http_responses_total", host="_other").items()}
    assert other == {"400": 2, "431": 1}
    causes = {dict(k)["cause"]: v for k, v in of(m, "statusd_http_request_errors_total").items()}
    assert causes == {"api:status": 7 + 4, "handler_declined": 3, "api:fault": 2, "bare_lf": 2, "too_many_fields": 1,
                      "client_closed": 3}, causes
    classes = {(dict(k)["host"], dict(k)["code_class"]): v
               for k, v in of(m, "statusd_http_request_duration_seconds_count").items()}
    assert classes == {("*", "2xx"): 20 + scrapes - 1, ("*", "4xx"): 7 + 3 + 6 + 3, ("_other", "4xx"): 3}
    assert value(m, "statusd_http_request_duration_seconds_bucket", host="*", code_class="4xx", le="+Inf") == 19
    # the three 499s waited 300 ms each before the client left; everything else took less than 250
    assert value(m, "statusd_http_request_duration_seconds_bucket", host="*", code_class="4xx", le="0.25") == 16
    assert value(m, "statusd_http_connections_accepted_total") == load.connections
    assert value(m, "statusd_http_received_bytes_total") == load.sent
    assert value(m, "statusd_http_sent_bytes_total") == last_scrape_bytes_out
    assert value(m, "statusd_http_connections", state="active") == 1
    assert value(m, "statusd_http_connections", state="idle") == 0
    assert value(m, "statusd_config_generation") == 1
    assert value(m, "statusd_offload_queue_depth") == 0


def test_metrics_on_a_path_with_host_labels(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "f.txt").write_text("hello world\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("hosts:\n"
                   "  a.test:\n    paths:\n      /: {root: %s}\n      /_/metrics: {metrics: true}\n"
                   "  '*.b.test':\n    paths:\n      /: {api: true}\n" % root)
    s = Server("--config", str(cfg), access_log="off")
    try:
        load = Load(s)
        for _ in range(3):
            assert load.get(b"/f.txt", b"a.test").startswith(b"HTTP/1.1 200 ")
        assert load.get(b"/nope", b"a.test").startswith(b"HTTP/1.1 404 ")
        assert load.get(b"/status/503", b"x.b.test").startswith(b"HTTP/1.1 503 ")
        assert load.get(b"/status/201", b"unknown.example").startswith(b"HTTP/1.1 404 ")  # the first host serves it
        assert load.get(b"/metrics", b"x.b.test").startswith(b"HTTP/1.1 404 ")  # only where a path says so
        assert load.one(b"POST /_/metrics HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n"
                        b"Connection: close\r\n\r\n").startswith(b"HTTP/1.1 405 ")
        assert load.get(b"/_/metrics/x", b"a.test").startswith(b"HTTP/1.1 404 ")
        m = load.scrape(b"/_/metrics", b"a.test")
    finally:
        stop_and_check(s)
    resp = {(dict(k)["host"], dict(k)["code"]): v for k, v in of(m, "statusd_http_responses_total").items()}
    assert resp == {("a.test", "200"): 3, ("a.test", "404"): 2, ("a.test", "405"): 1, ("*.b.test", "503"): 1,
                    ("*.b.test", "404"): 1, ("_other", "404"): 1}, resp
    causes = {dict(k)["cause"]: v for k, v in of(m, "statusd_http_request_errors_total").items()}
    # /metrics on x.b.test and /_/metrics/x: their handlers (the API, the metrics) have nothing there
    assert causes == {"file:not_found": 2, "api:status": 1, "handler_declined": 2, "method_not_allowed": 1}, causes
    assert value(m, "statusd_static_file_cache_hits_total") + value(m, "statusd_static_file_cache_misses_total") == 5


def test_no_metrics_path_means_no_counting_and_404():
    s = Server(access_log="off")
    try:
        load = Load(s)
        assert load.get(b"/metrics").startswith(b"HTTP/1.1 404 ")
    finally:
        stop_and_check(s)
