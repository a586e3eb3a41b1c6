"""Material files: stored under MEDIA_ROOT/materials/ by content hash, referenced from the case."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def attachment_store(*, upload, content_type: str, ext: str) -> dict:
    """Store an uploaded file (already sniffed) and return the reference kept on the case."""
    data = upload.read()
    digest = hashlib.sha256(data).hexdigest()
    path = f"materials/{digest[:2]}/{digest}.{ext}"
    if not default_storage.exists(path):
        path = default_storage.save(path, ContentFile(data))
    return {"reference": path, "sha256": digest, "size": len(data), "content_type": content_type,
            "filename": upload.name[:200]}
