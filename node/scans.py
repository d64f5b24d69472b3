"""What a desk uploads becomes one stored file: content checks, normalising, one PDF per paper.

* The content decides, never the name or the browser's type: an upload is a PDF if its bytes
  start like one and end like one, an image if Pillow can decode all of it (JPEG or PNG only),
  anything else is refused with a message that says so.
* Images are normalised: EXIF orientation applied (a phone photo taken sideways stands up),
  optionally made grayscale, downscaled so the long side is at most :data:`MAX_LONG_SIDE` pixels
  (an A4 page at ~200 dpi, readable and a fraction of a 12-megapixel photo), re-encoded as JPEG,
  then the pages of one paper are assembled by img2pdf into a single PDF (lossless: the JPEGs
  are embedded as they are).
* A thumbnail (JPEG, long side :data:`THUMB_SIDE`) of the first page is made from the image; a
  PDF uploaded as such gets none (no renderer is bundled) and the page shows a PDF icon.
* The stored size is checked against the cap *after* normalising, and the message gives both
  sizes, so a clerk knows whether a rescan at a lower resolution would fit.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import img2pdf
from PIL import Image, ImageOps, UnidentifiedImageError

from node.domain.errors import DomainError

MAX_LONG_SIDE = 2339  # A4 at 200 dpi (297 mm)
THUMB_SIDE = 240
JPEG_QUALITY = 80
MAX_PAGES = 50
MAX_PIXELS = 80_000_000  # a decompression bomb is refused before it is decoded
_IMAGE_FORMATS = {"JPEG", "PNG"}


@dataclass(frozen=True)
class Normalised:
    data: bytes
    media_type: str
    original_size: int
    pages: int
    thumb: bytes | None


def is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]


def _open_image(data: bytes) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in _IMAGE_FORMATS:
                raise DomainError(f"images in {probe.format} are not accepted (JPEG, PNG or PDF only)", "file")
            probe.verify()  # structure and checksums, without decoding
        image = Image.open(io.BytesIO(data))
        image.load()  # a truncated or corrupt body fails here, by its content
    except DomainError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DomainError("the file is not a readable JPEG, PNG or PDF (corrupt or another kind)", "file") from e
    return image


def _normalise_image(data: bytes, grayscale: bool) -> Image.Image:
    image = ImageOps.exif_transpose(_open_image(data))
    image = image.convert("L" if grayscale else "RGB")
    if max(image.size) > MAX_LONG_SIDE:
        image.thumbnail((MAX_LONG_SIDE, MAX_LONG_SIDE), Image.Resampling.LANCZOS)
    return image


def _jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def thumbnail(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return _jpeg(small, 70)


def normalise(uploads: list[bytes], *, grayscale: bool = False, max_bytes: int) -> Normalised:
    """One stored file from the uploaded pages of one paper (see the module docstring)."""
    uploads = [u for u in uploads if u]
    if not uploads:
        raise DomainError("no file was chosen", "file")
    if len(uploads) > MAX_PAGES:
        raise DomainError(f"at most {MAX_PAGES} pages at a time", "file")
    original = sum(len(u) for u in uploads)
    if len(uploads) == 1 and is_pdf(uploads[0]):
        result = Normalised(uploads[0], "application/pdf", original, 0, None)
    elif any(is_pdf(u) for u in uploads):
        raise DomainError("a PDF is attached on its own, not with images", "file")
    else:
        pages = [_normalise_image(u, grayscale) for u in uploads]
        jpegs = [_jpeg(p) for p in pages]
        a4 = (img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297))
        layout = img2pdf.get_layout_fun(a4, fit=img2pdf.FitMode.into)
        pdf = img2pdf.convert(jpegs, layout_fun=layout)
        result = Normalised(pdf, "application/pdf", original, len(pages), thumbnail(pages[0]))
    if len(result.data) > max_bytes:
        raise DomainError(
            f"file too large: {mib(len(result.data))} after processing ({mib(original)} uploaded), "
            f"at most {mib(max_bytes)} a file", "file")
    return result


def mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 100 * 1024 else f"{size / 1024:.0f} KB"
