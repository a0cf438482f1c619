"""A baton `exec` worker: for {"value": n}, writes images/img-<n>.png, a
128x96 gradient made with the standard library only, and answers with
{"path": ...}, echoing the request's id, `_request` (docs/EXEC-PROTOCOL.md)."""
import json
import os
import struct
import sys
import zlib

W, H = 128, 96


def png(width, height, pixel):
    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height)
    )

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


os.makedirs("images", exist_ok=True)
for line in sys.stdin:
    request = json.loads(line)
    n = request["value"]
    path = f"images/img-{n:03}.png"
    with open(path, "wb") as f:
        f.write(png(W, H, lambda x, y: ((x * 2 + n * 10) % 256, (y * 2) % 256, (n * 37) % 256)))
    print(json.dumps({"_request": request["_request"], "path": path}), flush=True)
