"""Check an uploaded logo by what it contains, never by its name or declared type.

A PNG is decoded completely with Pillow (which WeasyPrint depends on anyway), its
dimensions bounded, and re-encoded, so that only pixels are kept: no trailing data,
no metadata chunks. Anything else must be an SVG document, which
:mod:`core.tenancy.svg` cleans. What is stored and served is always the result of
this check, with the content type it established.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from core.i18n import N_
from core.tenancy.svg import SvgRejected, sanitise_svg

PNG = "image/png"
SVG = "image/svg+xml"
MAX_BYTES = 512 * 1024
MAX_SIDE = 2000  # pixels, each way
MIN_SIDE = 16
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

TOO_LARGE = N_("The file is larger than %(max)s KB. Use a smaller logo.")
EMPTY = N_("Choose a PNG or SVG file to upload.")
WRONG_TYPE = N_("This file is neither a PNG image nor an SVG document. Upload a PNG or SVG logo.")
BROKEN_PNG = N_("This PNG image is damaged and cannot be read.")
PNG_SIZE = N_(
    "The image is %(width)s by %(height)s pixels; a logo must be between %(min)s and "
    "%(max)s pixels wide and high."
)
BROKEN_SVG = N_(
    "This SVG document cannot be used: it is not well-formed, declares a DTD or entities, "
    "or is too complex."
)


class LogoRejected(ValueError):
    """Why the upload cannot be a logo: a msgid with its values, for the page."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message)
        self.message = message
        self.values = values


@dataclass(frozen=True)
class CheckedLogo:
    content_type: str  # PNG or SVG
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def check_logo(data: bytes) -> CheckedLogo:
    """The logo to store, or :class:`LogoRejected`."""
    if not data:
        raise LogoRejected(EMPTY)
    if len(data) > MAX_BYTES:
        raise LogoRejected(TOO_LARGE, max=MAX_BYTES // 1024)
    if data.startswith(PNG_SIGNATURE):
        return CheckedLogo(PNG, _clean_png(data))
    if not _looks_like_xml(data):
        raise LogoRejected(WRONG_TYPE)
    try:
        return CheckedLogo(SVG, sanitise_svg(data))
    except SvgRejected as exc:
        if "root element" in str(exc):
            raise LogoRejected(WRONG_TYPE) from exc
        raise LogoRejected(BROKEN_SVG) from exc


def _clean_png(data: bytes) -> bytes:
    # The dimensions from the IHDR chunk, before Pillow decodes anything: a header
    # that claims a huge image is refused without allocating it.
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise LogoRejected(BROKEN_PNG)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise LogoRejected(PNG_SIZE, width=width, height=height, min=MIN_SIDE, max=MAX_SIDE)
    try:
        with warnings.catch_warnings():
            # Bounded above, so Pillow's own bomb check should never fire; if it does,
            # it is an error here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG"]) as probe:
                probe.verify()  # checksums of every chunk
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                image.load()
                out = io.BytesIO()
                image.save(out, format="PNG", optimize=True)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Warning) as exc:
        raise LogoRejected(BROKEN_PNG) from exc
    return out.getvalue()


def _looks_like_xml(data: bytes) -> bool:
    """Text that starts like an XML document (an SVG must; binary files do not)."""
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")
