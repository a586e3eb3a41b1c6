"""Photos for tests of every path that stores one (reports, steps, parking, patrol): real images that
decode, and a phone's photo carrying EXIF with a GPS position, to show it does not survive."""

from __future__ import annotations

import io

from django.core.files.storage import default_storage
from PIL import Image


def jpeg(color: str = "gray", size: tuple[int, int] = (64, 48), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", **save)
    return out.getvalue()


def gps_jpeg() -> bytes:
    """A phone's photo: its maker, serial number and GPS position in EXIF, a comment after."""
    exif = Image.Exif()
    exif[0x010F] = "SpyPhone"
    exif[0xA431] = "SERIAL-123456"
    exif[0x8825] = {1: "N", 2: (34.0, 24.0, 18.0), 3: "E", 4: (108.0, 42.0, 19.0)}
    return jpeg("green", (800, 600), exif=exif, comment=b"=1+1 hidden")


def stored_metadata(path: str) -> dict:
    """What a stored photo carries beyond its pixels: its EXIF tags and info keys (both empty when clean)."""
    with default_storage.open(path, "rb") as f:
        data = f.read()
    with Image.open(io.BytesIO(data)) as image:
        return {"exif": dict(image.getexif()), "info": sorted(k for k in image.info if k not in ("jfif", "jfif_version",
                                                                                                "jfif_unit",
                                                                                                "jfif_density",
                                                                                                "progressive",
                                                                                                "progression",
                                                                                                "dpi")),
                "raw": data}
