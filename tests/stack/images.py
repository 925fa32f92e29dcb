"""images.py - test images without an imaging library: a valid PNG made
with zlib and struct, a PNG that sniffs as one but does not decode, and the
size of a JPEG read from its SOF marker (test_media.py checks thumbnails
with it).  Python 3 standard library only.
"""

import secrets
import struct
import zlib


def png(w, h):
    """A valid RGB PNG of w x h: stripes, so it compresses to little."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    row = b"\x00" + b"".join(b"\xff\x20\x20" if (x // 8) % 2 else b"\x20\x20\xff" for x in range(w))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(row * h, 9)) + chunk(b"IEND", b""))


def corrupt_png():
    """A PNG signature and a sound IHDR (so it sniffs as image/png), then garbage."""
    good = png(64, 64)
    return good[:33] + secrets.token_bytes(2000)


def jpeg_size(data):
    """(width, height) from the first SOF marker of a JPEG."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    i = 2
    while i + 4 <= len(data):
        assert data[i] == 0xFF, "lost in the JPEG at %d" % i
        m = data[i + 1]
        if m == 0xFF:
            i += 1
            continue
        if m == 0x01 or 0xD0 <= m <= 0xD7:
            i += 2
            continue
        if m in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    raise AssertionError("no SOF marker")
