"""Material files: stored under MEDIA_ROOT/materials/ by content hash, referenced from the case."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from yiwang.core.errors import ValidationFailed

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Sniffed by content, never by the file name or the sender's claim: (magic prefix, type, extension).
PDF = (b"%PDF-", "application/pdf", "pdf")
JPEG = (b"\xff\xd8\xff", "image/jpeg", "jpg")
PNG = (b"\x89PNG\r\n\x1a\n", "image/png", "png")
DOCUMENTS = (PDF, JPEG, PNG)  # application materials
PHOTOS = (JPEG, PNG)  # photos of a reported problem


def sniff_upload(upload, *, allowed: tuple = DOCUMENTS, field: str = "materials") -> tuple[str, str]:
    """(content type, extension) of an uploaded file judged by its first bytes and size, or refuse it.

    Every upload (pages, the API's base64 photos, Open311 media) passes here before it is stored. A
    multipart file beyond settings.YIWANG_MAX_FILE_BYTES arrives truncated (core.security) but still
    larger than MAX_UPLOAD_BYTES, so it is refused here like any other file that is too big.
    """
    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationFailed(_("文件 %(name)s 超过 5 MB。") % {"name": upload.name}, field=field)
    head = upload.read(16)
    upload.seek(0)
    for magic, content_type, ext in allowed:
        if head.startswith(magic):
            return content_type, ext
    names = [ext.upper().replace("JPG", "JPEG") for _m, _t, ext in allowed]
    types = (_("%(list)s 或 %(last)s") % {"list": _("、").join(names[:-1]), "last": names[-1]}
             if len(names) > 1 else names[0])
    raise ValidationFailed(_("文件 %(name)s 不是 %(types)s。") % {"name": upload.name, "types": types}, field=field)


def attachment_store(*, upload, content_type: str, ext: str) -> dict:
    """Store an uploaded file (already sniffed) and return the reference kept on the case."""
    data = upload.read()
    digest = hashlib.sha256(data).hexdigest()
    path = f"materials/{digest[:2]}/{digest}.{ext}"
    if not default_storage.exists(path):
        path = default_storage.save(path, ContentFile(data))
    return {"reference": path, "sha256": digest, "size": len(data), "content_type": content_type,
            "filename": upload.name[:200]}
