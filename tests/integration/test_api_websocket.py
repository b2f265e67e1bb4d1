"""Client-testing API: /websocket/echo (RFC 6455) with python3-websockets as the peer, and raw
frames for the protocol errors a library client would never send."""
import asyncio
import base64
import hashlib
import os
import struct

import pytest
import websockets

from test_api_helpers import fetch

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"



def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


# ---------------------------------------------------------------- with a real client
def test_echo_text_binary_fragments_ping(api):
    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/websocket/echo" % api.port) as ws:
            await ws.send("héllo ✓")
            assert await ws.recv() == "héllo ✓"
            await ws.send(b"\x00\xff\x10")
            assert await ws.recv() == b"\x00\xff\x10"
            await ws.send(["frag", "men", "ted"])  # a fragmented text message
            assert await ws.recv() == "fragmented"
            await ws.send([b"\x01", b"\x02"])
            assert await ws.recv() == b"\x01\x02"
            big = os.urandom(70000)  # 64-bit length encoding both ways
            await ws.send(big)
            assert await ws.recv() == big
            mid = "x" * 300  # 16-bit length
            await ws.send(mid)
            assert await ws.recv() == mid
            pong = await ws.ping(b"ping-data")
            await asyncio.wait_for(pong, 3)
            await ws.close(code=4001, reason="done")
            return ws.close_code
    assert run(go()) == 4001


def test_message_over_the_limit_is_1009(api):
    async def go():
        async with websockets.connect("ws://127.0.0.1:%d/websocket/echo?max_message=1000" % api.port) as ws:
            await ws.send("a" * 1000)
            assert len(await ws.recv()) == 1000
            await ws.send("a" * 1001)
            try:
                await ws.recv()
            except websockets.ConnectionClosed as e:
                return e.rcvd.code if e.rcvd else None
    assert run(go()) == 1009


# ---------------------------------------------------------------- handshake
def handshake(api, path="/websocket/echo", key=b"dGhlIHNhbXBsZSBub25jZQ==", extra=b""):
    s = api.connect()
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n" + extra + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, head
        head += chunk
    return s, head


def test_handshake_accept_value(api):
    s, head = handshake(api)
    s.close()
    assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    # RFC 6455 §1.3's own example
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
    assert b"\r\nUpgrade: websocket\r\n" in head and b"\r\nConnection: Upgrade\r\n" in head
    key = base64.b64encode(os.urandom(16))
    s, head = handshake(api, key=key)
    s.close()
    assert base64.b64encode(hashlib.sha1(key + GUID).digest()) in head


def test_426_without_upgrade_and_bad_handshakes(api):
    r, _ = fetch(api, "GET", "/websocket/echo")
    assert r.status == 426 and r.header("upgrade") == "websocket" and "Upgrade" in r.header_all("connection")
    r, _ = fetch(api, "GET", "/websocket/echo", [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                 ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                                 ("Sec-WebSocket-Version", "8")])
    assert r.status == 426 and r.header("sec-websocket-version") == "13"
    r, _ = fetch(api, "GET", "/websocket/echo", [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                 ("Sec-WebSocket-Key", "short"), ("Sec-WebSocket-Version", "13")])
    assert r.status == 400
    r, _ = fetch(api, "POST", "/websocket/echo", body=b"x")
    assert r.status == 405


# ---------------------------------------------------------------- raw frames
def frame(op, payload=b"", fin=True, mask=True, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    n = len(payload)
    if n < 126:
        h = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        h = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return h + payload
    key = os.urandom(4)
    return h + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def read_frame(s):
    def exact(n):
        data = b""
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data
    b0, b1 = exact(2)
    n = b1 & 127
    if n == 126:
        n = struct.unpack("!H", exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exact(8))[0]
    assert not b1 & 0x80, "server frames are never masked"
    return b0 & 15, exact(n)


def close_code_after(api, *frames):
    s, _ = handshake(api)
    s.settimeout(3)
    for f in frames:
        s.sendall(f)
    while True:
        op, payload = read_frame(s)
        if op == 8:
            code = struct.unpack("!H", payload[:2])[0] if payload else None
            assert s.recv(10) == b""  # the server closes the TCP connection after its close
            s.close()
            return code


def test_ping_pong_and_close_echo_raw(api):
    s, _ = handshake(api)
    s.settimeout(3)
    s.sendall(frame(9, b"hi") + frame(1, b"txt"))
    assert read_frame(s) == (10, b"hi")
    assert read_frame(s) == (1, b"txt")
    s.sendall(frame(8, struct.pack("!H", 1000) + b"bye"))
    op, payload = read_frame(s)
    assert op == 8 and struct.unpack("!H", payload[:2])[0] == 1000
    s.close()
    # a close without a code gets a close without a code
    s, _ = handshake(api)
    s.sendall(frame(8))
    assert read_frame(s) == (8, b"")
    s.close()


def test_fragmentation_with_interleaved_ping(api):
    s, _ = handshake(api)
    s.settimeout(3)
    s.sendall(frame(1, b"ab", fin=False) + frame(9, b"p") + frame(0, b"cd", fin=False) + frame(0, b"ef"))
    assert read_frame(s) == (10, b"p")
    assert read_frame(s) == (1, b"abcdef")
    s.sendall(frame(2, b"", fin=False) + frame(0, b"", fin=False) + frame(0, b"z") + frame(1, b""))
    assert read_frame(s) == (2, b"z")
    assert read_frame(s) == (1, b"")
    s.close()


@pytest.mark.parametrize("name,frames,code", [
    ("unmasked", [frame(1, b"x", mask=False)], 1002),
    ("rsv-bit", [frame(1, b"x", rsv=4)], 1002),
    ("reserved-opcode", [frame(3, b"x")], 1002),
    ("continuation-first", [frame(0, b"x")], 1002),
    ("new-message-mid-fragment", [frame(1, b"a", fin=False), frame(1, b"b")], 1002),
    ("fragmented-ping", [frame(9, b"p", fin=False)], 1002),
    ("long-ping", [frame(9, b"p" * 126)], 1002),
    ("close-1-byte", [frame(8, b"\x03")], 1002),
    ("close-code-1005", [frame(8, struct.pack("!H", 1005))], 1002),
    ("close-code-999", [frame(8, struct.pack("!H", 999))], 1002),
    ("invalid-utf8-text", [frame(1, b"\xff\xfe")], 1007),
    ("invalid-utf8-fragmented", [frame(1, b"\xe2\x82", fin=False), frame(0, b"\x28")], 1007),
    ("invalid-utf8-close-reason", [frame(8, struct.pack("!H", 1000) + b"\xc0\xaf")], 1007),
    ("valid-close-3000", [frame(8, struct.pack("!H", 3000))], 3000),
])
def test_protocol_errors(api, name, frames, code):
    assert close_code_after(api, *frames) == code, name


def test_too_big_raw_frame_fails_before_the_payload(api):
    # a frame announcing 2 MiB is refused at its header (1009), without waiting for the bytes
    s, _ = handshake(api)
    s.settimeout(3)
    s.sendall(struct.pack("!BBQ", 0x82, 0x80 | 127, 2 * 1024 * 1024) + os.urandom(4))
    op, payload = read_frame(s)
    s.close()
    assert op == 8 and struct.unpack("!H", payload[:2])[0] == 1009
