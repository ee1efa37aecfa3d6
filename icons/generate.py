"""Draws the app icon and one tray icon per state as PNGs (run: python3 icons/generate.py).

Plain zlib and struct, so no imaging library is needed: a filled circle of the state's
colour with a darker ring, on a transparent background. `app-icon.png` (1024 px) is the
source of the bundles' icons: Tauri's own `tauri icon` makes the hicolor sizes, `icon.ico`
and `icon.icns` from it (`make icons`).
"""

import pathlib
import struct
import zlib

COLOURS = {
    "tray-connected": (46, 158, 68),
    "tray-degraded": (217, 164, 0),
    "tray-connecting": (59, 125, 216),
    "tray-disconnected": (208, 52, 44),
    "tray-paused": (136, 136, 136),
    "tray-expected": (128, 90, 200),
    "icon": (46, 158, 68),
}


def png(size, rgb):
    rows = []
    centre = (size - 1) / 2
    radius = size * 0.42
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            d = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
            if d <= radius - size * 0.08:
                row += bytes(rgb) + b"\xff"
            elif d <= radius:
                row += bytes(c * 2 // 3 for c in rgb) + b"\xff"
            else:
                row += b"\x00\x00\x00\x00"
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")


here = pathlib.Path(__file__).parent
for name, rgb in COLOURS.items():
    if name == "icon":
        (here / "app-icon.png").write_bytes(png(1024, rgb))
    else:
        (here / f"{name}.png").write_bytes(png(32, rgb))
