"""Material files: stored under MEDIA_ROOT/materials/ by content hash, referenced from the case.

A caller never names a stored file. Files arrive through ``upload_create`` (the page's form, or
POST /api/v1/uploads), which answers a random handle bound to the uploader; a material cites that
handle, ``materials_from_caller`` checks it is the caller's own and not cited by another case, and
the case keeps the file's path. Only a window clerk, at a service hall, taking an application at the
window, may instead attest that the original was seen (窗口核验原件).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from yiwang.core import clock
from yiwang.core.errors import PermissionDenied, ValidationFailed

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


# Photos of a report and of each handling or verification step (事件 处置/核查 evidence).
MAX_PHOTOS = 9
# Pixels a photo may hold: a phone's 50-megapixel shot passes; beyond it Pillow would spend the
# memory of a decompression bomb. Stored photos are scaled down to PHOTO_EDGE on their long side.
MAX_PHOTO_PIXELS = 60_000_000
PHOTO_EDGE = 2560
THUMBNAIL_EDGE = 320


def photos_store(uploads: list, *, field: str = "photos", name: str = "") -> list[dict]:
    """Re-encode up to MAX_PHOTOS uploaded photos and store each with a thumbnail; the entries a case
    or a step keeps (the shape of ``attachment_store``, plus ``thumbnail``, ``width``, ``height``).

    Only pixels survive: each photo is decoded and written anew as a JPEG, so EXIF (the phone's GPS
    position, its serial number, the time), comments, colour profiles and anything hidden after the
    image data are gone. The place of a report is the case's lat/lng, never the file's. A 10th photo,
    a file that is not a JPEG or PNG, one that does not decode and one with too many pixels are
    refused by name, beside ``field``.
    """
    uploads = [u for u in uploads if u is not None]
    _check_photo_count(len(uploads), field=field)
    return [_photo_store(upload, field=field, name=name) for upload in uploads]


def _check_photo_count(given: int, *, field: str) -> None:
    if given > MAX_PHOTOS:
        raise ValidationFailed(_("最多上传 %(n)s 张照片，您选择了 %(given)s 张。") % {"n": MAX_PHOTOS, "given": given},
                               field=field)


def photo_uploads_read(*, viewer, handles: list[str], field: str = "photos") -> list:
    """The caller's own uploads named by ``handles`` (POST /api/v1/uploads) that no case cites yet, as
    files for ``photos_store`` to re-encode: the API's way to bring a report's or a step's photos.

    Read before the case's transaction, so the re-encoding holds no lock (on SQLite, the writer's);
    ``photo_uploads_cite`` then claims them inside it, checking again. The stored upload is the file
    as sent; what the case keeps is photos_store's re-encoded copy.
    """
    from django.core.files.base import ContentFile

    from yiwang.cases.models import Upload

    _check_photo_count(len(handles), field=field)
    if not handles:
        return []
    for i, handle in enumerate(handles):
        if handle in handles[:i]:
            raise ValidationFailed(_("同一个上传文件只能引用一次。"), field=f"{field}.{i}")
    found = {u.token: u for u in Upload.objects.filter(token__in=handles, user_id=viewer.user_id, case__isnull=True)}
    files = []
    for i, handle in enumerate(handles):
        upload = found.get(handle)
        if upload is None:
            raise ValidationFailed(_upload_gone(), field=f"{field}.{i}")
        with default_storage.open(upload.path, "rb") as f:
            files.append(ContentFile(f.read(), name=upload.filename or "photo"))
    return files


def photo_uploads_cite(*, viewer, handles: list[str], case_id: int, field: str = "photos") -> None:
    """Mark the uploads ``photo_uploads_read`` gave as cited by the case, inside the transaction that
    writes it: an upload another request cited meanwhile refuses the whole step, which rolls back."""
    from yiwang.cases.models import Upload

    if not handles:
        return
    claimed = Upload.objects.filter(token__in=handles, user_id=viewer.user_id, case__isnull=True).update(case_id=case_id)
    if claimed != len(handles):
        # Another person's handle, one already cited, or none at all: the same answer for each.
        raise ValidationFailed(_upload_gone(), field=field)


def _upload_gone() -> str:  # read when refusing: in the reader's language
    return _("没有找到该上传文件，或它已被其他办件引用。请重新上传。")


def _photo_store(upload, *, field: str, name: str) -> dict:
    import io
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    sniff_upload(upload, allowed=PHOTOS, field=field)
    try:
        with warnings.catch_warnings():
            # Pillow warns at MAX_IMAGE_PIXELS and raises at twice that; both are refusals here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as image:
                if image.width * image.height > MAX_PHOTO_PIXELS:
                    raise Image.DecompressionBombError
                image.draft("RGB", (PHOTO_EDGE, PHOTO_EDGE))  # a JPEG decodes at the size it is kept at
                image = ImageOps.exif_transpose(image)  # upright as taken, before the orientation tag goes
                image.thumbnail((PHOTO_EDGE, PHOTO_EDGE))
                pixels = _flatten(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationFailed(_("照片 %(name)s 像素过多，请缩小后再上传。") % {"name": upload.name}, field=field) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ValidationFailed(_("照片 %(name)s 已损坏或不是有效的图片。") % {"name": upload.name}, field=field) from None
    finally:
        upload.seek(0)
    # A new image from the decoded pixels alone: nothing of the file's info dictionary can follow it.
    clean = Image.frombytes("RGB", pixels.size, pixels.tobytes())
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=85, optimize=True)
    data = out.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    path = _save(f"materials/{digest[:2]}/{digest}.jpg", data)
    clean.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    small = io.BytesIO()
    clean.save(small, "JPEG", quality=80)
    thumbnail = _save(f"materials/{digest[:2]}/{digest}.thumb.jpg", small.getvalue())
    return {"code": "photo", "name": name, "reference": path, "sha256": digest, "size": len(data),
            "content_type": "image/jpeg", "filename": (upload.name or "photo")[:200], "thumbnail": thumbnail,
            "width": pixels.width, "height": pixels.height}


def _flatten(image):
    """RGB pixels; a transparent PNG is laid on white (a JPEG has no transparency)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        base = Image.new("RGB", image.size, "white")
        base.paste(image, mask=image.getchannel("A"))
        return base
    return image.convert("RGB")


def _save(path: str, data: bytes) -> str:
    if not default_storage.exists(path):
        path = default_storage.save(path, ContentFile(data))
    return path


def is_photo(entry: dict) -> bool:
    """A material entry that is a stored photo (a report's, a step's), as opposed to a document."""
    return bool(entry.get("reference", "").startswith("materials/")
                and entry.get("content_type", "").startswith("image/"))


def attachment_store(*, upload, content_type: str, ext: str) -> dict:
    """Store an uploaded file (already sniffed) and return the reference kept on the case."""
    data = upload.read()
    digest = hashlib.sha256(data).hexdigest()
    path = f"materials/{digest[:2]}/{digest}.{ext}"
    if not default_storage.exists(path):
        path = default_storage.save(path, ContentFile(data))
    return {"reference": path, "sha256": digest, "size": len(data), "content_type": content_type,
            "filename": upload.name[:200]}


# The keys a caller may give for one material; anything else (a "reference", a "url") is refused by name.
MATERIAL_KEYS = frozenset({"code", "name", "upload", "original_seen"})
# A window clerk's attestation, as the case keeps it (the workbench shows it as 窗口核验原件).
WINDOW = "window"
# Unclaimed uploads one person may hold per day: a document set is a handful; this bounds a script.
MAX_UPLOADS_PER_DAY = 200


def upload_create(*, viewer, upload, allowed: tuple = DOCUMENTS, field: str = "file"):
    """Sniff and store an uploaded file for ``viewer``, who alone may then cite it; the Upload row."""
    from yiwang.cases.models import Upload

    if viewer.user_id is None:
        raise PermissionDenied(_("请先登录。"))
    if not viewer.is_staff_member and viewer.resident_id is None:
        raise PermissionDenied(_("只有居民本人或工作人员可以提交。"))
    since = clock.now() - dt.timedelta(days=1)
    if Upload.objects.filter(user_id=viewer.user_id, created_at__gte=since).count() >= MAX_UPLOADS_PER_DAY:
        raise ValidationFailed(_("24 小时内上传的文件过多，请明天再试。"), field=field)
    content_type, ext = sniff_upload(upload, allowed=allowed, field=field)
    stored = attachment_store(upload=upload, content_type=content_type, ext=ext)
    return Upload.objects.create(token=secrets.token_hex(16), user_id=viewer.user_id, path=stored["reference"],
                                 sha256=stored["sha256"], size=stored["size"], content_type=content_type,
                                 filename=stored["filename"], created_at=clock.now())


def may_attest_originals(viewer, channel: str) -> bool:
    """A window clerk of a service hall, taking the application at the window (channel "hall")."""
    from yiwang.cases.models import Channel
    from yiwang.org.models import Role, UnitKind
    from yiwang.org.selectors import hierarchy

    if channel != Channel.HALL:
        return False
    units = hierarchy().units
    return any(m.role == Role.CLERK and getattr(units.get(m.unit_id), "kind", None) == UnitKind.SERVICE_HALL
               for m in viewer.memberships)


def materials_from_caller(*, viewer, matter, materials: list[dict], channel: str) -> tuple[list[dict], list[int]]:
    """The material entries a case keeps, built from what the caller gave, and the Upload ids it claims.

    Names come from the catalogue, files from the caller's own unclaimed uploads, the window badge from
    a window clerk only; nothing else the caller sends is kept.
    """
    from yiwang.cases.models import Upload

    out: list[dict] = []
    cited: list[tuple[str, str, dict]] = []  # (where, handle, entry) of the materials that cite an upload
    for i, given in enumerate(materials):
        where = f"materials.{i}"
        unknown = sorted(set(given) - MATERIAL_KEYS)
        if unknown:
            raise ValidationFailed(_("材料不能带 %(key)s：文件请先上传，再以 upload 引用。") % {"key": unknown[0]},
                                   field=f"{where}.{unknown[0]}")
        entry = {"code": given["code"], "name": matter.material_name(given["code"])}
        token = given.get("upload")
        if token:
            if any(token == other for _w, other, _e in cited):
                raise ValidationFailed(_("同一个上传文件只能引用一次。"), field=f"{where}.upload")
            cited.append((where, str(token), entry))
        elif given.get("original_seen"):
            if not may_attest_originals(viewer, channel):
                raise PermissionDenied(_("只有便民服务窗口的工作人员在窗口受理时才能核验原件。"),
                                       field=f"{where}.original_seen")
            entry["reference"] = WINDOW
        out.append(entry)
    if not cited:
        return out, []
    found = {u.token: u for u in Upload.objects.filter(token__in=[t for _w, t, _e in cited], user_id=viewer.user_id,
                                                       case__isnull=True)}
    claimed = []
    for where, token, entry in cited:
        upload = found.get(token)
        if upload is None:
            # Another person's handle, one already cited, or none at all: the same answer for each.
            raise ValidationFailed(_("没有找到该上传文件，或它已被其他办件引用。请重新上传。"),
                                   field=f"{where}.upload")
        entry.update(upload.as_material())
        claimed.append(upload.pk)
    return out, claimed
