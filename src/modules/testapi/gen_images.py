#!/usr/bin/python3
"""Generate the tiny images served by /image (src/modules/testapi/images.c).

Run at development time: `/usr/bin/python3 src/modules/testapi/gen_images.py` rewrites
images_data.inc next to this file. Every encoder here is written from the format specifications
(PNG: RFC 2083 / ISO 15948; JPEG: ITU-T T.81 baseline with the Annex K tables; WebP: the VP8L
lossless bitstream, RFC 9649; SVG 1.1) so no third-party image or library is involved. The picture
is the same in every format: "200" in white on a blue square, 32x32 pixels.
"""
import math
import os
import struct
import zlib

W = H = 32
BG = (0x1F, 0x6F, 0xBF)
FG = (0xFF, 0xFF, 0xFF)

FONT = {  # 3x5 digits
    "2": ["111", "001", "111", "100", "111"],
    "0": ["111", "101", "101", "101", "111"],
}


def bitmap():
    on = [[False] * W for _ in range(H)]
    scale, text = 2, "200"
    gw = len(text) * 3 * scale + (len(text) - 1) * 2
    x0, y0 = (W - gw) // 2, (H - 5 * scale) // 2
    for k, ch in enumerate(text):
        for r, row in enumerate(FONT[ch]):
            for c, bit in enumerate(row):
                if bit == "1":
                    for dy in range(scale):
                        for dx in range(scale):
                            on[y0 + r * scale + dy][x0 + k * (3 * scale + 2) + c * scale + dx] = True
    return on


def png(on):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"".join(bytes(FG if p else BG) for p in row) for row in on)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# ---- JPEG (baseline, YCbCr 4:4:4, Annex K tables) ----
ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14,
          21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53,
          60, 61, 54, 47, 55, 62, 63]
QL = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29,
      51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121,
      120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
QC = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99,
      99, 99, 99, 99] + [99] * 32
DC_L_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
DC_L_VALS = list(range(12))
DC_C_BITS = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
DC_C_VALS = list(range(12))
AC_L_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D]
AC_L_VALS = bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738"
    "393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5"
    "a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa")
AC_C_BITS = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77]
AC_C_VALS = bytes.fromhex(
    "000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a353637"
    "38393a434445464748494a535455565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3"
    "a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa")


def huff_table(bits, vals):
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


def scaled(q, quality=90):
    s = 5000 / quality if quality < 50 else 200 - 2 * quality
    return [max(1, min(255, (v * s + 50) // 100)) for v in q]


class BitWriter:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, code, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((code >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)  # byte stuffing
                self.acc, self.n = 0, 0

    def flush(self):
        while self.n:
            self.put(1, 1)  # pad with ones
        return bytes(self.out)


def category(v):
    v = abs(v)
    n = 0
    while v:
        n += 1
        v >>= 1
    return n


def bits_of(v, n):
    return v if v >= 0 else v + (1 << n) - 1


def jpeg(on):
    ql, qc = scaled(QL), scaled(QC)
    planes = []
    for comp in range(3):
        plane = []
        for y in range(H):
            row = []
            for x in range(W):
                r, g, b = FG if on[y][x] else BG
                if comp == 0:
                    v = 0.299 * r + 0.587 * g + 0.114 * b
                elif comp == 1:
                    v = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
                else:
                    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
                row.append(v - 128)
            plane.append(row)
        planes.append(plane)
    tables = [(huff_table(DC_L_BITS, DC_L_VALS), huff_table(AC_L_BITS, AC_L_VALS), ql),
              (huff_table(DC_C_BITS, DC_C_VALS), huff_table(AC_C_BITS, AC_C_VALS), qc),
              (huff_table(DC_C_BITS, DC_C_VALS), huff_table(AC_C_BITS, AC_C_VALS), qc)]
    cos = [[math.cos((2 * x + 1) * u * math.pi / 16) for x in range(8)] for u in range(8)]
    bw = BitWriter()
    pred = [0, 0, 0]
    for by in range(0, H, 8):
        for bx in range(0, W, 8):
            for comp in range(3):  # 4:4:4, interleaved: one block per component per MCU
                dc_t, ac_t, q = tables[comp]
                blk = [planes[comp][by + y][bx + x] for y in range(8) for x in range(8)]
                coef = [0] * 64
                for v in range(8):
                    for u in range(8):
                        s = sum(blk[y * 8 + x] * cos[u][x] * cos[v][y] for y in range(8) for x in range(8))
                        cu = 1 / math.sqrt(2) if u == 0 else 1
                        cv = 1 / math.sqrt(2) if v == 0 else 1
                        coef[v * 8 + u] = int(round(0.25 * cu * cv * s / q[v * 8 + u]))
                zz = [coef[ZIGZAG[i]] for i in range(64)]
                diff = zz[0] - pred[comp]
                pred[comp] = zz[0]
                c = category(diff)
                bw.put(*dc_t[c])
                if c:
                    bw.put(bits_of(diff, c), c)
                run = 0
                for i in range(1, 64):
                    if zz[i] == 0:
                        run += 1
                        continue
                    while run > 15:
                        bw.put(*ac_t[0xF0])
                        run -= 16
                    c = category(zz[i])
                    bw.put(*ac_t[(run << 4) | c])
                    bw.put(bits_of(zz[i], c), c)
                    run = 0
                if run:
                    bw.put(*ac_t[0x00])  # EOB
    scan = bw.flush()

    def seg(marker, data):
        return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data

    out = b"\xff\xd8"
    out += seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += seg(0xDB, b"\x00" + bytes(ql[ZIGZAG[i]] for i in range(64)) + b"\x01" + bytes(qc[ZIGZAG[i]] for i in range(64)))
    out += seg(0xC0, struct.pack(">BHHB", 8, H, W, 3) + b"\x01\x11\x00" + b"\x02\x11\x01" + b"\x03\x11\x01")
    out += seg(0xC4, b"\x00" + bytes(DC_L_BITS) + bytes(DC_L_VALS) + b"\x10" + bytes(AC_L_BITS) + AC_L_VALS +
               b"\x01" + bytes(DC_C_BITS) + bytes(DC_C_VALS) + b"\x11" + bytes(AC_C_BITS) + AC_C_VALS)
    out += seg(0xDA, b"\x03" + b"\x01\x00" + b"\x02\x11" + b"\x03\x11" + b"\x00\x3f\x00")
    return out + scan + b"\xff\xd9"


# ---- WebP lossless (VP8L) with "simple" prefix codes: two colours need at most two symbols ----
class LsbWriter:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value, nbits):
        for i in range(nbits):
            self.acc |= ((value >> i) & 1) << self.n
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                self.acc, self.n = 0, 0

    def flush(self):
        if self.n:
            self.out.append(self.acc)
        return bytes(self.out)


def webp(on):
    bw = LsbWriter()
    bw.put(0x2F, 8)  # VP8L signature
    bw.put(W - 1, 14)
    bw.put(H - 1, 14)
    bw.put(0, 1)  # alpha not used
    bw.put(0, 3)  # version
    bw.put(0, 1)  # no transform
    bw.put(0, 1)  # no colour cache
    bw.put(0, 1)  # no meta prefix codes: one group of five codes
    # ARGB channels of the two colours; VP8L codes green, red, blue, alpha, distance in that order
    colours = [BG + (0xFF,), FG + (0xFF,)]
    per_channel = []
    for ch in (1, 0, 2, 3):  # green, red, blue, alpha (index into RGBA)
        syms = sorted(set(c[ch] for c in colours))
        per_channel.append(syms)
        bw.put(1, 1)  # simple code
        bw.put(len(syms) - 1, 1)
        first = syms[0]
        bw.put(1 if first > 1 else 0, 1)  # is_first_8bits
        bw.put(first, 8 if first > 1 else 1)
        if len(syms) == 2:
            bw.put(syms[1], 8)
    bw.put(1, 1)  # distance code: simple, one symbol, 1-bit symbol 0
    bw.put(0, 1)
    bw.put(0, 1)
    bw.put(0, 1)
    for y in range(H):
        for x in range(W):
            c = colours[1] if on[y][x] else colours[0]
            for k, ch in enumerate((1, 0, 2, 3)):
                syms = per_channel[k]
                if len(syms) == 2:  # canonical code: the smaller symbol is 0
                    bw.put(syms.index(c[ch]), 1)
    data = bw.flush()
    chunk = b"VP8L" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def svg(on):
    spans = {}  # (x, width) -> list of [y, height]: horizontal runs merged down the rows
    for y in range(H):
        x = 0
        while x < W:
            if on[y][x]:
                s = x
                while x < W and on[y][x]:
                    x += 1
                runs = spans.setdefault((s, x - s), [])
                if runs and runs[-1][0] + runs[-1][1] == y:
                    runs[-1][1] += 1
                else:
                    runs.append([y, 1])
            x += 1
    rects = ['<rect x="%d" y="%d" width="%d" height="%d"/>' % (s, y, w, h)
             for (s, w), runs in sorted(spans.items()) for y, h in runs]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">\n'
            '<title>200</title>\n<rect width="32" height="32" fill="#1f6fbf"/>\n<g fill="#ffffff">\n' +
            "\n".join(rects) + "\n</g>\n</svg>\n").encode()


def c_array(name, data):
    lines = ["static const unsigned char %s[%d] = {" % (name, len(data))]
    for i in range(0, len(data), 16):
        lines.append("    " + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",")
    lines.append("};")
    return "\n".join(lines)


def main():
    on = bitmap()
    images = [("image_png", png(on)), ("image_jpeg", jpeg(on)), ("image_webp", webp(on)), ("image_svg", svg(on))]
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "images_data.inc"), "w") as f:
        f.write("/* Generated by gen_images.py: do not edit. The same 32x32 picture in four formats. */\n")
        for name, data in images:
            f.write(c_array(name, data) + "\n")
    if os.environ.get("GEN_IMAGES_DUMP"):
        for name, data in images:
            with open(os.path.join(os.environ["GEN_IMAGES_DUMP"], name.replace("image_", "img.")), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
