"""Generated scans for the attachment tests: a page image with EXIF orientation, a PDF."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw


def scan_jpeg(width: int = 1200, height: int = 1700, seed: int = 1, orientation: int = 0, noise: int = 0) -> bytes:
    """A page-like JPEG (text lines, optional noise to make it big); ``orientation`` as EXIF 274."""
    rnd = random.Random(seed)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for y in range(80, height - 80, 40):
        draw.line((80, y, 80 + rnd.randint(width // 3, width - 160), y), fill=(20, 20, 20), width=6)
    if noise:
        pixels = image.load()
        for _ in range(noise):
            pixels[rnd.randrange(width), rnd.randrange(height)] = (rnd.randrange(256),) * 3
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[274] = orientation
    image.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def random_bytes_pdf(size: int, seed: int = 1) -> bytes:
    """A 'PDF' of ``size`` bytes that passes the content check (incompressible, like a scan)."""
    body = random.Random(seed).randbytes(max(0, size - 16))
    return b"%PDF-1.4\n" + body + b"\n%%EOF\n"
