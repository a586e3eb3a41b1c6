"""Writes to the hierarchy. Each bumps the hierarchy cache so routing sees the change."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import TypeVar

import shapely
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from shapely.geometry import shape

from yiwang.core import clock, confcache, idnumber, throttle
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.org.models import (
    LEVEL_RANK,
    ApiToken,
    CodePurpose,
    Level,
    PhoneCode,
    Region,
    Resident,
    Role,
    Staff,
    Unit,
    UnitKind,
)

HIERARCHY = "org.hierarchy"
T = TypeVar("T")


@transaction.atomic
def region_create(
    *, code: str, name: str, level: str, parent: Region | None = None,
    lat: float | None = None, lng: float | None = None, boundary: dict | None = None,
) -> Region:
    if boundary is not None:
        _check_polygon(boundary)
    if level not in Level.values:
        raise ValidationFailed(_("未知的区域层级 %(level)s。") % {"level": level}, field="level")
    if parent is None and level != Level.AREA:
        raise ValidationFailed(_("只有新区一级可以没有上级区域。"), field="parent")
    if parent is not None and LEVEL_RANK[level] != LEVEL_RANK[parent.level] + 1:
        raise ValidationFailed(
            _("%(child)s 不能直接隶属于 %(parent)s。")
            % {"child": Level(level).label, "parent": Level(parent.level).label},
            field="parent",
        )
    if "/" in code or not code:
        raise ValidationFailed(_("区划代码不能为空，也不能含有“/”。"), field="code")
    path = (parent.path if parent else "/") + code + "/"
    region = Region.objects.create(code=code, name=name, level=level, parent=parent, path=path, lat=lat, lng=lng,
                                   boundary=boundary)
    confcache.bump(HIERARCHY)
    return region


@transaction.atomic
def region_update(
    *, region: Region, name: str | None = None, lat: float | None = None, lng: float | None = None,
    boundary: dict | None = None,
) -> Region:
    """Rename a region or redraw its outline; the grid lookup everywhere follows the new outline."""
    fields = []
    if boundary is not None:
        _check_polygon(boundary)
        region.boundary = boundary
        fields.append("boundary")
    for attr, value in (("name", name), ("lat", lat), ("lng", lng)):
        if value is not None:
            setattr(region, attr, value)
            fields.append(attr)
    if fields:
        region.save(update_fields=fields)
        confcache.bump(HIERARCHY)
    return region


def _check_polygon(geometry: dict) -> None:
    """A GeoJSON Polygon: closed rings of at least four [lng, lat] positions on the globe."""
    message = _("边界须为 GeoJSON Polygon：闭合的 [经度, 纬度] 环，每环至少 4 个点。")
    rings = geometry.get("coordinates") if isinstance(geometry, dict) and geometry.get("type") == "Polygon" else None
    if not isinstance(rings, list) or not rings:
        raise ValidationFailed(message, field="boundary")
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
            raise ValidationFailed(message, field="boundary")
        for point in ring:
            if (not isinstance(point, list) or len(point) != 2
                    or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
                    or not (-180 <= point[0] <= 180 and -90 <= point[1] <= 90)):
                raise ValidationFailed(message, field="boundary")
    polygon = shape(geometry)
    if not shapely.is_valid(polygon):
        # A self-crossing outline would make "which grid is this point in" ambiguous.
        raise ValidationFailed(_("边界无效：%(reason)s。") % {"reason": shapely.is_valid_reason(polygon)},
                               field="boundary")


@transaction.atomic
def unit_create(
    *, code: str, name: str, kind: str, region: Region, address: str = "", phone: str = "",
    hours: str = "", lat: float | None = None, lng: float | None = None,
) -> Unit:
    if kind not in UnitKind.values:
        raise ValidationFailed(_("未知的单位类型 %(kind)s。") % {"kind": kind}, field="kind")
    unit = Unit.objects.create(
        code=code, name=name, kind=kind, region=region, region_path=region.path,
        address=address, phone=phone, hours=hours, lat=lat, lng=lng,
    )
    confcache.bump(HIERARCHY)
    return unit


UNIT_FIELDS = ("name", "kind", "address", "phone", "hours", "lat", "lng", "active")


@transaction.atomic
def unit_update(*, unit: Unit, **changes) -> Unit:
    """Change a unit's name, kind, contact details or place on the map (None leaves a field as it is). A
    unit never moves to another region: its cases' scoping paths were written with its region's."""
    unknown = set(changes) - set(UNIT_FIELDS)
    if unknown:
        raise ValidationFailed(_("不能修改这些字段：%(f)s。") % {"f": ", ".join(sorted(unknown))}, field=sorted(unknown)[0])
    if changes.get("kind") is not None and changes["kind"] not in UnitKind.values:
        raise ValidationFailed(_("未知的单位类型 %(kind)s。") % {"kind": changes["kind"]}, field="kind")
    fields = [name for name, value in changes.items() if value is not None and getattr(unit, name) != value]
    for name in fields:
        setattr(unit, name, changes[name])
    if fields:
        unit.save(update_fields=fields)
        confcache.bump(HIERARCHY)
    return unit


@transaction.atomic
def staff_grant(*, user, unit: Unit, role: str) -> Staff:
    if role not in Role.values:
        raise ValidationFailed(_("未知的角色 %(role)s。") % {"role": role}, field="role")
    staff, _created = Staff.objects.get_or_create(user=user, unit=unit, role=role)
    return staff


@transaction.atomic
def user_create(*, username: str, password: str | None = None, full_name: str = "", is_superuser: bool = False):
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(_("用户名 %(name)s 已被使用。") % {"name": username}, field="username")
    user = User(username=username, first_name=full_name, is_superuser=is_superuser, is_staff=is_superuser)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def resident_create(
    *, name: str, phone: str, region: Region, id_number: str = "", birth_date=None,
    address: str = "", user=None,
) -> Resident:
    if id_number and not idnumber.is_valid(id_number):
        raise ValidationFailed(_("身份证号码校验位不正确。"), field="id_number")
    resident = Resident.objects.create(
        name=name, phone=phone, region=region, region_path=region.path, id_number=id_number.upper(),
        birth_date=birth_date, address=address, user=user,
    )
    _announce(resident.pk)
    return resident


RESIDENT_FIELDS = ("name", "phone", "address", "birth_date", "region", "elderly_alone", "low_income", "poverty")

# Sent once a resident's record is committed, new or changed, with resident_id: rules that act on
# resident data (免申即享, cases.auto) re-evaluate that one resident.
resident_changed = Signal()


def _announce(resident_id: int) -> None:
    transaction.on_commit(lambda: resident_changed.send(sender=Resident, resident_id=resident_id))


@transaction.atomic
def resident_update(*, resident: Resident, **changes) -> Resident:
    """Change a resident's record (None leaves a field as it is): the one place resident data
    changes, so what must follow a change (免申即享 rules) has one place to hook in."""
    unknown = set(changes) - set(RESIDENT_FIELDS)
    if unknown:
        raise ValidationFailed(_("不能修改这些字段：%(f)s。") % {"f": ", ".join(sorted(unknown))}, field=sorted(unknown)[0])
    fields = [name for name, value in changes.items() if value is not None and getattr(resident, name) != value]
    for name in fields:
        setattr(resident, name, changes[name])
    if "region" in fields:
        resident.region_path = resident.region.path  # moving house moves the scoping path with it
        fields.append("region_path")
    if fields:
        resident.save(update_fields=fields)
        _announce(resident.pk)
    return resident


@transaction.atomic
def token_create(*, username: str, name: str = "") -> str:
    """Create an API token for ``username`` and return the key; only its hash is kept."""
    User = get_user_model()
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound(_("没有名为 %(name)s 的有效用户。") % {"name": username}, field="username")
    key = "yw_" + secrets.token_urlsafe(30)
    ApiToken.objects.create(
        user=user, name=name, prefix=key[:8], key_hash=hashlib.sha256(key.encode()).hexdigest(),
        created_at=clock.now(),
    )
    return key


@transaction.atomic
def token_revoke(*, prefix: str) -> int:
    return ApiToken.objects.filter(prefix=prefix, revoked_at__isnull=True).update(revoked_at=clock.now())


# --- residents by mobile number: one-time SMS codes ----------------------------------------------

# A mainland mobile number: 11 digits, 13x–19x (the same shape org/oidc.py and core/idnumber.py know).
MOBILE = re.compile(r"1[3-9]\d{9}")
CODE_DIGITS = 6
CODE_LIFETIME = dt.timedelta(minutes=5)
CODE_TRIES = 5
CODE_RESEND_SECONDS = 60
# Sends per YIWANG_LOGIN_WINDOW_SECONDS (core.throttle's window). Counted per number *and address*,
# per number and per address: the first stops one sender from flooding a phone, the number's own
# ceiling is higher so that a stranger requesting codes for someone else's number from one place
# cannot keep its owner from getting one; the address's ceiling stops one place spraying numbers.
CODES_PER_PHONE_AND_ADDRESS = 5
CODES_PER_PHONE = 10
CODES_PER_ADDRESS = 20


def mobile_number(raw: str, *, field: str = "phone") -> str:
    """``raw`` as a mainland mobile number (spaces, dashes and +86 allowed around it), or refused."""
    number = re.sub(r"[\s\-]", "", raw or "").removeprefix("+86")
    if not MOBILE.fullmatch(number):
        raise ValidationFailed(_("请填写有效的中国大陆手机号码（11 位数字，以 1 开头）。"), field=field)
    return number


def _code_hash(phone: str, purpose: str, code: str) -> str:
    return salted_hmac("yiwang.org.phonecode", f"{phone}:{purpose}:{code}").hexdigest()


def code_send(*, phone: str, purpose: str, address: str,
              deliver: Callable[[str, str, str], object]) -> PhoneCode:
    """Send a new one-time code to ``phone`` for ``purpose``: ``deliver(phone, text, dedupe_key)`` is
    called inside the transaction that stores it (the caller queues an SMS in the outbox; org sits
    below the messages app and does not import it). ``address`` is core.throttle.address_key of the
    caller. Refused within 60 s of the last code to that number, and past the throttle's limits
    (TooManyAttempts, 429).

    Runs the throttle's reserve outside a transaction (it counts committed rows; see core.throttle).
    """
    phone = mobile_number(phone)
    if purpose not in CodePurpose.values:
        raise ValidationFailed(_("未知的验证码用途。"), field="purpose")
    now = clock.now()
    last = PhoneCode.objects.filter(phone=phone).order_by("-created_at").values_list("created_at", flat=True).first()
    if last is not None and (now - last).total_seconds() < CODE_RESEND_SECONDS:
        wait = CODE_RESEND_SECONDS - int((now - last).total_seconds())
        raise ValidationFailed(_("验证码已发送，请 %(n)s 秒后再获取。") % {"n": wait}, field="phone")
    # Every send stays counted (nothing is released): an SMS costs, succeed or not.
    throttle.reserve({f"sms:{phone}:{address}": CODES_PER_PHONE_AND_ADDRESS, f"sms:{phone}": CODES_PER_PHONE,
                      f"sms:{address}": CODES_PER_ADDRESS},
                     now=now, what=f"sms code phone={idnumber.mask_text(phone)} {address}",
                     message=_("获取验证码过于频繁，请 %(n)s 分钟后再试。"))
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    with transaction.atomic():
        # A new code replaces the older ones for the same use: only the latest is ever accepted.
        PhoneCode.objects.filter(phone=phone, purpose=purpose, used_at__isnull=True).update(used_at=now)
        row = PhoneCode.objects.create(phone=phone, purpose=purpose, code_hash=_code_hash(phone, purpose, code),
                                       created_at=now, expires_at=now + CODE_LIFETIME)
        deliver(phone, _("验证码 %(code)s，%(minutes)s分钟内有效。请勿告诉他人。")
                % {"code": code, "minutes": int(CODE_LIFETIME.total_seconds() // 60)}, f"code:{row.pk}:sms")
    return row


def code_check(*, phone: str, purpose: str, code: str, then: Callable[[], T] | None = None) -> T | None:
    """Accept ``code`` for ``phone`` once, or refuse it (ValidationFailed on field "code").

    The latest code for the number and use counts; it is dead once used, after 5 minutes, or after
    5 tries. A wrong try is committed on its own, so call this outside any transaction that a
    refusal would roll back.

    ``then()``, when given, is what the code is spent on (a problem reported without an account): it
    runs in the transaction that marks the code used, and its answer is returned. If it refuses, the
    code stays unused (that try, with the right code, uncounted), so the visitor corrects the field
    named and submits again with the same code."""
    phone = mobile_number(phone)
    typed = (code or "").strip()
    now = clock.now()
    row = PhoneCode.objects.filter(phone=phone, purpose=purpose).order_by("-created_at", "-pk").first()
    invalid = _("验证码无效，请重新获取。")
    # Every try is counted by one conditional UPDATE: racing guesses cannot all read the same count and
    # write it back (a lost update would let more than 5 through), on SQLite as on PostgreSQL. Only a
    # try counted while fewer than 5 were can succeed, whichever way it compared.
    countable = PhoneCode.objects.filter(pk=row.pk, used_at__isnull=True, attempts__lt=CODE_TRIES) if row else None
    if row is None or row.used_at is not None or row.attempts >= CODE_TRIES:
        error = invalid
    elif now >= row.expires_at:
        error = _("验证码已过期，请重新获取。")
    elif constant_time_compare(row.code_hash, _code_hash(phone, purpose, typed)):
        # The right code: its try counted and the code spent by one UPDATE, in then()'s transaction (one
        # write transaction per report, not two). Single use even when two tries with it race: one marks it.
        with transaction.atomic():
            if countable.update(attempts=F("attempts") + 1, used_at=now):
                return then() if then is not None else None
        error = invalid
    # A wrong code: the try committed on its own, whatever the caller does next.
    elif not countable.update(attempts=F("attempts") + 1):
        error = invalid
    else:
        left = CODE_TRIES - PhoneCode.objects.values_list("attempts", flat=True).get(pk=row.pk)
        error = (_("验证码不正确，还可以再试 %(n)s 次。") % {"n": left} if left > 0
                 else _("验证码不正确，已失效，请重新获取。"))
    raise ValidationFailed(error, field="code")


def account_for_phone(phone: str):
    """The active resident account whose number is ``phone``, or None; refused when several are."""
    users = [r.user for r in Resident.objects.filter(phone=phone, user__isnull=False, user__is_active=True)
             .select_related("user")[:2]]
    if len(users) > 1:
        raise ValidationFailed(_("该手机号码对应多个账号，请用用户名和密码登录。"), field="phone")
    return users[0] if users else None


def signup_check(*, phone: str, name: str, id_number: str, region_code: str = "") -> tuple[str, str, str, Region | None]:
    """The sign-up's fields, cleaned, or the refusal; checked before the code is spent on them. The
    region is the community a new resident lives in (None for a resident already on record, whose
    record says where): applications are routed from it to the nearest service hall."""
    phone = mobile_number(phone)
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise ValidationFailed(_("请填写与身份证一致的姓名（至多 50 字）。"), field="name")
    id_number = (id_number or "").strip().upper()
    if not idnumber.is_valid(id_number):
        raise ValidationFailed(_("身份证号码无效，请核对后重新填写。"), field="id_number")
    residents = list(Resident.objects.filter(id_number__in={id_number, id_number.lower()}))
    if any(r.user_id for r in residents):
        raise ValidationFailed(_("该身份证号码已注册账号，请直接登录。"), field="id_number")
    if len(residents) > 1:
        raise ValidationFailed(_("该身份证号码有多条居民记录，请到政务服务大厅办理账号。"), field="id_number")
    if residents and residents[0].name.strip() != name:
        raise ValidationFailed(_("姓名与身份证号码不一致。"), field="name")
    # A name and an ID number are no secret (a neighbour, a relative may know both): a record that
    # already has a mobile number is bound only to that number, which the code proves.
    if residents and residents[0].phone and mobile_number(residents[0].phone) != phone:
        raise ValidationFailed(_("该身份证号码登记的手机号码不是此号码，请用登记的号码注册，或到便民服务站办理。"),
                               field="phone")
    if account_for_phone(phone) is not None:
        raise ValidationFailed(_("该手机号码已注册账号，请用验证码登录。"), field="phone")
    region = None
    if not residents:
        region = Region.objects.filter(code=(region_code or "").strip(), level=Level.COMMUNITY).first()
        if region is None:
            raise ValidationFailed(_("请选择您居住的村（社区）。"), field="region_code")
    return phone, name, id_number, region


# What follows once a code proved that a resident holds a number, in the same transaction: the case
# engine attaches the problems reported from that number without an account (the caller passes
# cases.services.cases_attach_by_phone; org sits below cases and does not import it).
OnProven = Callable[[Resident, str], object]


def resident_signup(*, phone: str, code: str, name: str, id_number: str, password: str = "", region_code: str = "",
                    on_proven: OnProven | None = None):
    """A resident's own account, proven by a code sent to ``phone``, bound to their real name and ID
    number: a resident already on record with that number (a grid import, a window) gets the account;
    else a new resident in the community they chose. One account per ID number. The new user, whose
    username is random (a username shows on pages and in logs: not the phone or the ID number).
    ``on_proven(resident, phone)`` runs inside the sign-up's transaction."""
    phone, name, id_number, region = signup_check(phone=phone, name=name, id_number=id_number,
                                                  region_code=region_code)
    code_check(phone=phone, purpose=CodePurpose.SIGNUP, code=code)  # commits a wrong try
    with transaction.atomic():
        # Checked again under the write: two sign-ups with one ID number racing past the first check.
        existing = list(Resident.objects.select_for_update().filter(id_number__in={id_number, id_number.lower()}))
        if any(r.user_id for r in existing):
            raise ValidationFailed(_("该身份证号码已注册账号，请直接登录。"), field="id_number")
        user = user_create(username="r_" + secrets.token_hex(6), password=password or None, full_name=name)
        if existing:
            resident = existing[0]
            resident.user = user
            resident.save(update_fields=["user"])
            resident_update(resident=resident, phone=phone)
        else:
            resident = resident_create(name=name, phone=phone, region=region, id_number=id_number, user=user)
        if on_proven is not None:
            on_proven(resident, phone)
    return user


def code_login(*, phone: str, code: str, on_proven: OnProven | None = None):
    """The resident account ``phone`` belongs to, once the code sent to it for login is accepted;
    ``on_proven(resident, phone)`` runs in one transaction after the code is accepted."""
    phone = mobile_number(phone)
    code_check(phone=phone, purpose=CodePurpose.LOGIN, code=code)
    user = account_for_phone(phone)
    if user is None:
        raise ValidationFailed(_("该手机号码尚未注册，请先注册。"), field="phone")
    if on_proven is not None:
        with transaction.atomic():
            on_proven(Resident.objects.get(user=user, phone=phone), phone)
    return user
