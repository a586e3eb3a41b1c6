"""Writes of the Open311 endpoint: issuing and revoking keys, and receiving a report.

A report becomes a case through the case engine (cases.services.case_create, channel open311), in
one transaction with the Submission row that remembers the client's token, device and account.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from yiwang.cases.attachments import photos_store
from yiwang.cases.models import Case, Channel, Kind
from yiwang.cases.services import case_create
from yiwang.catalog.models import Matter
from yiwang.core import clock
from yiwang.core.confcache import ConfigCache
from yiwang.core.errors import NotFound, PermissionDenied, ValidationFailed
from yiwang.core.idnumber import mask_text
from yiwang.core.text import check_text
from yiwang.open311 import selectors
from yiwang.open311.attributes import ATTRIBUTE_RE, form_from_attributes
from yiwang.open311.models import ApiKey, PublicText, PublicTextLog, Submission
from yiwang.org import geo
from yiwang.org.models import Resident, Role, Staff, Unit, UnitKind
from yiwang.org.selectors import RegionInfo, Viewer, hierarchy, scope_q, viewer_for
from yiwang.org.services import staff_grant, user_create

MAX_DESCRIPTION = 4000  # GeoReport v2: description "may not exceed 4,000 characters"
MAX_MEDIA_URL = 500
KEY_PREFIX = "o311_"


# --- keys --------------------------------------------------------------------------------------

@transaction.atomic
def api_key_create(*, name: str, username: str | None = None, unit_code: str | None = None) -> tuple[ApiKey, str]:
    """Issue a key and return it with the plain key, which is shown this once and never stored.

    With ``username`` the key reports as that existing staff member or resident. Without it an
    account is made for the key with the grid-worker role (网格员: reports problems, takes no
    workflow action) at ``unit_code`` or else the top-level command centre, so its reports are
    filed like a grid worker's.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed(_("密钥名称不能为空，且不超过 100 个字。"), field="name")
    if ApiKey.objects.filter(name=name, revoked_at__isnull=True).exists():
        raise ValidationFailed(_("已有名为 %(name)s 的有效密钥；先吊销它，或换一个名称。") % {"name": name}, field="name")
    user = _existing_reporter(username) if username else _key_account(name, unit_code)
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    api_key = ApiKey.objects.create(name=name, prefix=key[:10], key_hash=selectors.key_hash(key), user=user,
                                    created_at=clock.now())
    return api_key, key


def _existing_reporter(username: str):
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound(_("没有名为 %(name)s 的有效用户。") % {"name": username}, field="username")
    if not (user.is_superuser or Staff.objects.filter(user=user).exists() or Resident.objects.filter(user=user).exists()):
        raise ValidationFailed(_("%(name)s 既不是工作人员也不是居民，不能以其名义上报。") % {"name": username},
                               field="username")
    return user


def _key_account(name: str, unit_code: str | None):
    h = hierarchy()
    if unit_code:
        unit = h.unit(unit_code)
    else:
        roots = sorted((r for r in h.regions.values() if r.parent_id is None), key=lambda r: r.code)
        centres = [u for r in roots for u in h.units_at.get((r.id, UnitKind.COMMAND_CENTRE), [])]
        if not centres:
            raise ValidationFailed(_("顶级区域没有综合执法指挥中心，请用 --unit 指定密钥账号所属单位。"), field="unit_code")
        unit = h.units[centres[0]]
    username = "open311-" + (slugify(name)[:40] or secrets.token_hex(4))
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        user = user_create(username=username, full_name=name[:150])  # no password: it never logs in
    elif not ApiKey.objects.filter(user=user).exists():
        raise ValidationFailed(_("用户名 %(u)s 已被占用；请用 --user 指定账号，或换一个名称。") % {"u": username},
                               field="name")
    staff_grant(user=user, unit=Unit.objects.get(pk=unit.id), role=Role.GRID_WORKER)
    return user


@transaction.atomic
def api_key_revoke(*, name: str) -> int:
    """Revoke the live key of that name (or whose prefix that is); returns how many were revoked.
    This process forgets every key at once; other processes within KEY_CACHE_SECONDS."""
    live = ApiKey.objects.filter(revoked_at__isnull=True)
    by_name = live.filter(name=name)
    keys = by_name if by_name.exists() else live.filter(prefix=name)
    _reporters.clear()
    return keys.update(revoked_at=clock.now())


# A client posts report after report with one key: its key and its account's roles are read once
# per KEY_CACHE_SECONDS, as the REST API's bearer tokens are (yiwang/api.py, TokenAuth). Three
# queries of every report otherwise (bench/incident_profile.py).
KEY_CACHE_SECONDS = 5.0
_reporters: dict[str, tuple[ApiKey, Viewer, float]] = {}


def reporter_for(key: str) -> tuple[ApiKey, Viewer] | None:
    """The live key behind an ``api_key`` argument and the viewer its account reports as; None when
    the key is missing, wrong or revoked (a revocation elsewhere counts within KEY_CACHE_SECONDS)."""
    now = time.monotonic()
    hit = _reporters.get(key)
    if hit is not None and now - hit[2] < KEY_CACHE_SECONDS:
        return hit[0], hit[1]
    api_key = selectors.api_key_for(key)
    if api_key is None:
        _reporters.pop(key, None)
        return None
    if len(_reporters) > 10_000:
        _reporters.clear()
    viewer = viewer_for(api_key.user)
    _reporters[key] = (api_key, viewer, now)
    return api_key, viewer


# --- reports -----------------------------------------------------------------------------------

@dataclass
class Report:
    """The arguments of a GeoReport v2 POST requests, as sent (strings)."""

    service_code: str = ""
    jurisdiction_id: str = ""
    lat: str = ""
    long: str = ""
    address_string: str = ""
    address_id: str = ""
    description: str = ""
    media_url: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    device_id: str = ""
    account_id: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_form(cls, data) -> Report:
        """From a QueryDict (form-encoded body and query string merged by the view)."""
        fields = {name: (data.get(name) or "").strip() for name in cls.__dataclass_fields__ if name != "attributes"}
        attributes: dict[str, list[str]] = {}
        for key in data:
            m = ATTRIBUTE_RE.match(key)
            if m:
                attributes.setdefault(m.group(1), []).extend(data.getlist(key))
        return cls(**fields, attributes=attributes)


@dataclass
class Received:
    submission: Submission
    replayed: bool  # an earlier POST with the same device and content made it


def request_submit(*, api_key: ApiKey, report: Report, media=None, viewer: Viewer | None = None) -> Received:
    """File a report as a case on behalf of ``api_key``'s account; one transaction (case_create's,
    which writes the Submission with the case)."""
    regions = selectors.jurisdiction(report.jurisdiction_id or None)
    if not report.service_code:
        raise ValidationFailed(_("缺少 service_code。"), field="service_code")
    matter = _exposed(report.service_code)
    lat, lng, region_code = _place(report, regions)
    if len(report.description) > MAX_DESCRIPTION:
        raise ValidationFailed(_("description 不能超过 %(n)s 个字。") % {"n": MAX_DESCRIPTION}, field="description")
    form = form_from_attributes(matter.form_schema, report.attributes)
    contact = _contact(report)
    attachments = _attachments(report, media)
    key = _idempotency_key(api_key, report) if report.device_id else None
    trail = {k: v for k, v in (("key", api_key.name), ("device_id", report.device_id[:100]),
                                 ("account_id", report.account_id[:100])) if v}
    made: list[Submission] = []

    def remember(case: Case) -> None:
        # In the case's own transaction (case_create's ``then``): no report without its submission.
        made.append(Submission.objects.create(
            case=case, api_key=api_key, token=secrets.token_urlsafe(16), device_id=report.device_id[:100],
            account_id=report.account_id[:100], email=contact["email"], created_at=case.created_at,
            region_path=case.region_path,
        ))

    created = case_create(
        viewer=viewer or viewer_for(api_key.user), matter_code=matter.code, region_code=region_code,
        title=_title(report.description), description=report.description, form=form, applicant_name=contact["name"],
        applicant_phone=contact["phone"], channel=Channel.OPEN311, lat=lat, lng=lng,
        address=report.address_string[:200], idempotency_key=key, attachments=attachments,
        extra={"open311": trail}, then=remember,
    )
    if created.replayed:
        existing = Submission.objects.filter(case=created.case).first()
        if existing is not None:
            return Received(existing, replayed=True)
        remember(created.case)  # one write, atomic alone: a case this key made without its submission
    return Received(made[0], replayed=created.replayed)


def _load_exposed() -> dict[str, Matter]:
    return {m.code: m for m in selectors.exposed_matters()}


# The services, read once per catalogue change (the catalogue's own version, "catalog.matters"),
# not once per report.
_services: ConfigCache[dict[str, Matter]] = ConfigCache("catalog.matters", _load_exposed)


def _exposed(code: str) -> Matter:
    matter = _services.get().get(code)
    if matter is None:
        return selectors.exposed_matter(code)  # its refusal, worded once, in selectors
    return matter


def _title(description: str) -> str:
    """GeoReport has no title: the description's first line names the case in queues (else the category)."""
    first = description.strip().splitlines()[0].strip() if description.strip() else ""
    return first[:60]


def _place(report: Report, regions: list[RegionInfo]) -> tuple[float | None, float | None, str | None]:
    """(lat, lng, region code) of a report; GeoReport v2 wants lat+long, address_string or address_id."""
    lat = lng = None
    region_code = None
    if report.lat or report.long:
        if not (report.lat and report.long):
            raise ValidationFailed(_("lat 与 long 须同时提供。"), field="long" if report.lat else "lat")
        try:
            lat, lng = geo.check_point(report.lat, report.long)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, field="long" if exc.field == "lng" else "lat") from None
        located = geo.locate(lat, lng)
        if located is not None and not selectors.within(regions, located.region.path):
            raise ValidationFailed(_("该位置不在所指辖区内。"), field="lat")
        if located is None:
            region_code = _fallback_region(report, regions)
    elif report.address_id or report.address_string:
        region_code = _fallback_region(report, regions)
    else:
        raise ValidationFailed(_("请提供位置：lat 和 long，或 address_string，或 address_id。"), field="lat")
    if report.address_id:
        region_code = _address_region(report.address_id, regions).code
    return lat, lng, region_code


def _address_region(address_id: str, regions: list[RegionInfo]) -> RegionInfo:
    """address_id names a region (网格、社区、街镇…) by its code."""
    h = hierarchy()
    if address_id not in h.region_by_code:
        raise ValidationFailed(_("address_id 须为区域代码，没有 %(c)s。") % {"c": address_id}, field="address_id")
    region = h.region(address_id)
    if not selectors.within(regions, region.path):
        raise ValidationFailed(_("address_id %(c)s 不在所指辖区内。") % {"c": address_id}, field="address_id")
    return region


def _fallback_region(report: Report, regions: list[RegionInfo]) -> str:
    """The region an address names (the most specific region whose name it contains), else the jurisdiction."""
    if report.address_id:
        return _address_region(report.address_id, regions).code
    h = hierarchy()
    named = [r for r in h.regions.values()
             if r.name and r.name in report.address_string and selectors.within(regions, r.path)]
    if named:
        return max(named, key=lambda r: (r.rank, len(r.name))).code
    if len(regions) == 1:
        return regions[0].code
    raise ValidationFailed(_("无法从地址确定所在区域：请提供 jurisdiction_id、address_id 或 lat/long。"),
                           field="address_string")


def _contact(report: Report) -> dict:
    email = report.email[:254]
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationFailed(_("email 格式不正确。"), field="email") from None
    phone = report.phone.replace(" ", "").replace("-", "")
    if len(phone) > 20:
        raise ValidationFailed(_("phone 不能超过 20 位。"), field="phone")
    # Chinese order: family name (last_name) first.
    return {"email": email, "phone": phone, "name": (report.last_name + report.first_name)[:50]}


def _attachments(report: Report, media) -> list[dict]:
    out = []
    if report.media_url:
        try:
            URLValidator(schemes=["http", "https"])(report.media_url)
        except ValidationError:
            raise ValidationFailed(_("media_url 须为 http(s) 网址。"), field="media_url") from None
        if len(report.media_url) > MAX_MEDIA_URL:
            raise ValidationFailed(_("media_url 不能超过 %(n)s 个字符。") % {"n": MAX_MEDIA_URL}, field="media_url")
        out.append({"code": "media_url", "name": _("照片链接"), "url": report.media_url})
    if media is not None:
        # Re-encoded from its pixels, as every photo a case keeps: the phone's EXIF (GPS, serial) is gone.
        out += photos_store([media], field="media", name=_("现场照片"))
    return out


def _idempotency_key(api_key: ApiKey, report: Report) -> str:
    """A retried POST from the same device with the same content is the same report, not a new one."""
    content = {k: v for k, v in report.__dict__.items() if k not in ("email", "first_name", "last_name", "phone")}
    digest = hashlib.sha256(json.dumps([api_key.pk, content], sort_keys=True, ensure_ascii=False).encode())
    return "o311:" + digest.hexdigest()[:56]


# --- the public map's moderation (docs/public-figures.md) -----------------------------------------

MODERATOR_ROLES = frozenset({Role.OPERATOR, Role.LEADER, Role.HANDLER})
PUBLIC_TEXT_MAX = 200


def can_moderate(viewer: Viewer) -> bool:
    """Command-centre operators, leaders and handlers; whose reports is ``moderated_case``'s to say."""
    return viewer.is_superuser or bool(viewer.roles & MODERATOR_ROLES)


def moderated_case(*, viewer: Viewer, number: str) -> Case:
    """The incident ``number`` if ``viewer`` may moderate it: staff with a moderating role who see it by
    region or holding unit (never as its reporter). NotFound otherwise, as for an unknown number."""
    if not can_moderate(viewer):
        raise PermissionDenied(_("只有指挥员、承办人或领导可以审核公开地图上的内容。"))
    parsed = Case.parse_number(number)
    case = None
    if parsed is not None:
        case = (Case.objects.filter(scope_q(viewer, resident_field=None), pk=parsed[1], kind=Kind.INCIDENT)
                .select_related("matter").first())
    if case is None or case.number != number.strip().upper():
        raise NotFound(_("没有找到该事件，或您无权审核。"), field="number")
    return case


def public_text_clean(text: str) -> str:
    """The text as it would be published, or ValidationFailed (field ``text``) saying why not."""
    text = (text or "").strip()
    check_text(text, field="text")
    if len(text) > PUBLIC_TEXT_MAX:
        raise ValidationFailed(_("公开说明最多 %(n)s 个字。") % {"n": PUBLIC_TEXT_MAX}, field="text")
    if mask_text(text) != text:
        raise ValidationFailed(_("公开说明不能含有身份证号或手机号。"), field="text")
    return text


@transaction.atomic
def public_text_set(*, viewer: Viewer, number: str, hidden: bool, text: str) -> PublicText:
    """Hide a report from the public map or set the words it shows there, logging before and after.

    An ID number or a mobile number in the text is refused rather than masked: the moderator approves
    exactly what is published.
    """
    case = moderated_case(viewer=viewer, number=number)
    text = public_text_clean(text)
    current = PublicText.objects.select_for_update().filter(case=case).first()
    before_hidden, before_text = (current.hidden, current.text) if current else (False, "")
    now = clock.now()
    if current is None:
        current = PublicText(case=case)
    current.hidden, current.text, current.updated_at, current.updated_by_id = hidden, text, now, viewer.user_id
    current.save()
    if (before_hidden, before_text) != (hidden, text):
        PublicTextLog.objects.create(case=case, actor_id=viewer.user_id, at=now, hidden_before=before_hidden,
                                     hidden_after=hidden, text_before=before_text, text_after=text)
    return current
