"""Writes to the hierarchy. Each bumps the hierarchy cache so routing sees the change."""

from __future__ import annotations

import hashlib
import secrets

import shapely
from django.contrib.auth import get_user_model
from django.db import transaction
from django.dispatch import Signal
from django.utils.translation import gettext as _
from shapely.geometry import shape

from yiwang.core import clock, confcache, idnumber
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.org.models import LEVEL_RANK, ApiToken, Level, Region, Resident, Role, Staff, Unit, UnitKind

HIERARCHY = "org.hierarchy"


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
