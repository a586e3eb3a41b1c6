"""Every write of the grid app: outlines, basic data, grid reports, cameras and their alerts.

Each public function is one transaction. Cases are opened only through cases.services.case_create,
so a grid worker's report and a camera's alert get the same routing, deadline and timeline as any
other incident (GB/T 30428 信息采集 by 网格员 and by 视频监控).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from shapely.geometry import shape

from yiwang.cases.attachments import photos_store
from yiwang.cases.models import Channel, Kind
from yiwang.cases.services import Created, case_create
from yiwang.catalog.selectors import matter_info
from yiwang.core import clock, idnumber
from yiwang.core.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from yiwang.core.models import AccessLog
from yiwang.grid import imports
from yiwang.grid.imports import BuildingRow, OrganisationRow, ResidentRow, RowError
from yiwang.grid.models import (
    Building,
    Camera,
    GridAssignment,
    Household,
    HouseholdMember,
    Organisation,
    Relation,
)
from yiwang.org import geo
from yiwang.org.models import Level, Region, Resident, Role, Unit
from yiwang.org.selectors import RegionInfo, Viewer, scope_q
from yiwang.org.services import region_create, region_update, resident_create, resident_update

# --- grid outlines -------------------------------------------------------------------------------


@dataclass
class OutlineReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _centre(geometry: dict) -> tuple[float | None, float | None]:
    try:
        point = shape(geometry).representative_point()
    except Exception:  # a broken outline: region_create/region_update will say what is wrong with it
        return None, None
    return round(point.y, 6), round(point.x, 6)


@transaction.atomic
def grid_outlines_import(*, collection: object) -> OutlineReport:
    """Create or redraw grids from a GeoJSON FeatureCollection; all of it, or nothing.

    A grid keeps its community: moving a grid would change the path of every case already in it.
    """
    features, errors = imports.parse_feature_collection(collection)
    report = OutlineReport()
    for feature in features:
        def bad(name: str, message: str, index: int = feature.index) -> None:
            errors.setdefault(imports.feature_key(index, name), []).append(message)

        parent = Region.objects.filter(code=feature.parent_code).first()
        if parent is None or parent.level != Level.COMMUNITY:
            bad("properties.parent", _("没有代码为 %(code)s 的村/社区。") % {"code": feature.parent_code})
            continue
        existing = Region.objects.filter(code=feature.code).first()
        if existing is not None and (existing.level != Level.GRID or existing.parent_id != parent.id):
            bad("properties.code", _("代码 %(code)s 已被 %(name)s 使用，不是 %(parent)s 的网格。")
                % {"code": feature.code, "name": existing.name, "parent": parent.name})
            continue
        lat, lng = _centre(feature.geometry)
        try:
            # A savepoint each: a refused outline must not spoil the transaction the others share.
            with transaction.atomic():
                if existing is None:
                    region_create(code=feature.code, name=feature.name, level=Level.GRID, parent=parent,
                                  lat=lat, lng=lng, boundary=feature.geometry)
                    report.created.append(feature.code)
                elif existing.boundary == feature.geometry and existing.name == feature.name:
                    report.unchanged.append(feature.code)
                else:
                    region_update(region=existing, name=feature.name, lat=lat, lng=lng, boundary=feature.geometry)
                    report.updated.append(feature.code)
        except DomainError as exc:
            field_name = "geometry" if exc.field == "boundary" else f"properties.{exc.field or 'code'}"
            bad(field_name, exc.message)
    if errors:
        raise ValidationFailed(_("网格边界文件有误，未导入任何网格。"), errors=errors)
    return report


# --- basic data ----------------------------------------------------------------------------------


class ImportRefused(ValidationFailed):
    """A data file with bad rows: the per-row report travels with the error."""

    def __init__(self, message: str, *, rows: list[RowError]):
        super().__init__(message, errors={f"rows.{e.row}.{e.column}": [e.message] for e in rows})
        self.rows = rows

    def as_dict(self) -> dict:
        return {**super().as_dict(), "rows": [e.as_dict() for e in self.rows]}


@dataclass
class ImportReport:
    kind: str
    total: int
    created: int = 0
    updated: int = 0
    households_created: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return len({e.row for e in self.errors})

    def as_dict(self) -> dict:
        return {"kind": self.kind, "total": self.total, "created": self.created, "updated": self.updated,
                "households_created": self.households_created, "refused": self.refused,
                "errors": [e.as_dict() for e in self.errors]}


@transaction.atomic
def data_import(*, viewer: Viewer, kind: str, filename: str, data: bytes, skip_bad: bool = False) -> ImportReport:
    """Import residents/households, buildings or organisations from CSV or .xlsx.

    Any bad row refuses the whole file (ImportRefused, nothing written) unless ``skip_bad``: then
    the good rows are written and the bad ones reported.
    """
    if not viewer.is_staff_member:
        raise PermissionDenied(_("只有网格所在单位的工作人员可以导入基础数据。"))
    parsed = imports.parse_table(viewer=viewer, kind=kind, filename=filename, data=data)
    if parsed.errors and not skip_bad:
        raise ImportRefused(
            _("%(n)s 行有误，未导入任何数据。请按提示修改后重新导入。") % {"n": parsed.refused_rows},
            rows=parsed.errors,
        )
    report = ImportReport(kind=kind, total=parsed.total, errors=parsed.errors)
    grids = {r.id: r for r in Region.objects.filter(pk__in={row.grid_id for row in parsed.rows})}
    writer = {"residents": _write_resident, "buildings": _write_building, "organisations": _write_organisation}[kind]
    households: dict[tuple, Household] = {}
    for row in parsed.rows:
        writer(row, grids[row.grid_id], report, households, viewer)
    return report


def _write_building(row: BuildingRow, grid: Region, report: ImportReport, _cache: dict, _viewer: Viewer) -> None:
    _building, created = _building_upsert(grid=grid, name=row.name, address=row.address, kind=row.kind,
                                          floors=row.floors, lat=row.lat, lng=row.lng)
    report.created += created
    report.updated += not created


def _write_organisation(row: OrganisationRow, grid: Region, report: ImportReport, _cache: dict,
                        _viewer: Viewer) -> None:
    _org, created = _organisation_upsert(grid=grid, name=row.name, kind=row.kind, contact=row.contact,
                                         phone=row.phone, address=row.address)
    report.created += created
    report.updated += not created


def _write_resident(row: ResidentRow, grid: Region, report: ImportReport, households: dict, viewer: Viewer) -> None:
    key = (grid.id, "number", row.household_number) if row.household_number else (grid.id, "address", row.address)
    household = households.get(key)
    if household is None:
        lookup = {"number": row.household_number} if row.household_number else {"address": row.address}
        household = Household.objects.filter(grid=grid, **lookup).order_by("id").first()
        if household is None:
            household = Household.objects.create(grid=grid, region_path=grid.path, number=row.household_number,
                                                 address=row.address, building_id=row.building_id)
            report.households_created += 1
        households[key] = household
    changed = []
    if row.address and household.address != row.address:
        household.address = row.address
        changed.append("address")
    if row.building_id and household.building_id != row.building_id:
        household.building_id = row.building_id
        changed.append("building")
    if row.relation == Relation.HEAD:
        household.head_name = row.name
        household.phone = row.phone or household.phone
        changed += ["head_name", "phone"]
    if changed:
        household.save(update_fields=changed)

    resident = Resident.objects.filter(id_number=row.id_number).order_by("id").first()
    if resident is not None and imports.registered_out_of_reach(viewer, [row.id_number]):
        # parse_table refused this row already; a write path that skipped it must not reach them either.
        raise PermissionDenied(_("该身份证号的居民登记在您管辖的区域之外。"), field="id_number")
    if resident is None:
        # 户籍 defaults to the grid's community: the grid is where they live, not a 户籍 level.
        community = Region.objects.get(pk=grid.parent_id)
        resident = resident_create(name=row.name, phone=row.phone, region=community, id_number=row.id_number,
                                   birth_date=idnumber.birth_date(row.id_number), address=row.address)
        report.created += 1
    else:
        report.updated += 1
    resident_update(resident=resident, name=row.name, phone=row.phone or None, address=row.address or None,
                    **row.flags)
    HouseholdMember.objects.update_or_create(resident=resident,
                                             defaults={"household": household, "relation": row.relation})


def _building_upsert(*, grid: Region, name: str, address: str = "", kind: str = "residential",
                     floors: int | None = None, lat: float | None = None, lng: float | None = None):
    return Building.objects.update_or_create(
        grid=grid, name=name,
        defaults={"region_path": grid.path, "address": address, "kind": kind, "floors": floors, "lat": lat,
                  "lng": lng},
    )


def _organisation_upsert(*, grid: Region, name: str, kind: str = "other", contact: str = "", phone: str = "",
                         address: str = ""):
    return Organisation.objects.update_or_create(
        grid=grid, name=name,
        defaults={"region_path": grid.path, "kind": kind, "contact": contact, "phone": phone, "address": address},
    )


def _check_grid(grid: Region) -> None:
    if grid.level != Level.GRID:
        raise ValidationFailed(_("%(name)s 不是网格。") % {"name": grid.name}, field="grid")


@transaction.atomic
def building_save(*, grid: Region, name: str, address: str = "", kind: str = "residential",
                  floors: int | None = None, lat: float | None = None, lng: float | None = None) -> Building:
    """Add a building to a grid, or update the one of that name."""
    _check_grid(grid)
    return _building_upsert(grid=grid, name=name, address=address, kind=kind, floors=floors, lat=lat, lng=lng)[0]


@transaction.atomic
def organisation_save(*, grid: Region, name: str, kind: str = "other", contact: str = "", phone: str = "",
                      address: str = "") -> Organisation:
    _check_grid(grid)
    return _organisation_upsert(grid=grid, name=name, kind=kind, contact=contact, phone=phone, address=address)[0]


@transaction.atomic
def household_create(*, grid: Region, address: str, number: str = "", building: Building | None = None,
                     head_name: str = "", phone: str = "") -> Household:
    _check_grid(grid)
    return Household.objects.create(grid=grid, region_path=grid.path, address=address, number=number,
                                    building=building, head_name=head_name, phone=phone)


@transaction.atomic
def household_member_set(*, household: Household, resident: Resident, relation: str = Relation.OTHER) -> HouseholdMember:
    """Put a resident in a household (moving them out of any other one)."""
    if relation not in Relation.values:
        raise ValidationFailed(_("未知的与户主关系 %(r)s。") % {"r": relation}, field="relation")
    member, _created = HouseholdMember.objects.update_or_create(
        resident=resident, defaults={"household": household, "relation": relation})
    if relation == Relation.HEAD:
        Household.objects.filter(pk=household.pk).update(head_name=resident.name, phone=resident.phone)
    return member


@transaction.atomic
def resident_flags_set(*, resident: Resident, elderly_alone: bool | None = None, low_income: bool | None = None,
                       poverty: bool | None = None) -> Resident:
    """Mark or clear a resident as 独居老人 / 低保 / 贫困户 (None leaves a flag as it is)."""
    return resident_update(resident=resident, elderly_alone=elderly_alone, low_income=low_income, poverty=poverty)


@transaction.atomic
def grid_assign(*, user, grid: Region) -> GridAssignment:
    """Give a grid worker a grid of their own; they then see their assigned grids only."""
    _check_grid(grid)
    assignment, _created = GridAssignment.objects.get_or_create(user=user, grid=grid)
    return assignment


# --- reports: a grid worker's, a camera's --------------------------------------------------------


def _incident_matter(code: str, field_name: str) -> None:
    try:
        matter = matter_info(code)
    except NotFound:
        matter = None
    if matter is None or matter.kind != Kind.INCIDENT:
        raise ValidationFailed(_("没有编码为 %(code)s 的事件类别。") % {"code": code}, field=field_name)




def is_grid_worker(viewer: Viewer) -> bool:
    return any(m.role == Role.GRID_WORKER for m in viewer.memberships)


def may_report(viewer: Viewer) -> bool:
    """Grid workers report from the grid page; other staff see it read-only."""
    return is_grid_worker(viewer) or viewer.is_superuser


def grid_report(
    *, viewer: Viewer, grid: Region | RegionInfo, matter_code: str, description: str, lat: object = None,
    lng: object = None, address: str = "", photo=None, idempotency_key: str | None = None, photos: list | None = None,
) -> Created:
    """A grid worker reports an incident (channel "grid"), placed by its point, else in the grid,
    with up to attachments.MAX_PHOTOS photos (``photos``, or one ``photo``), re-encoded.

    One transaction, case_create's, as camera_alert: none around the checks and the photos'
    re-encoding, which on SQLite would hold the one write lock through them."""
    if not may_report(viewer):
        raise PermissionDenied(_("只有网格员可以在这里上报事件。"))
    _incident_matter(matter_code, "category")
    if not description.strip():
        raise ValidationFailed(_("请描述看到的问题。"), field="description")
    located = None
    if lat not in (None, "") or lng not in (None, ""):
        located = geo.check_point(lat, lng)
    uploads = [p for p in (*(photos or []), photo) if p is not None]
    # The stored name is translated under translation.override: a report without photos skips it.
    attachments = photos_store(uploads, field="photos", name=_stored(_("现场照片"))) if uploads else []
    return case_create(
        viewer=viewer, matter_code=matter_code, description=description[:5000], channel=Channel.GRID,
        # Without a point the report stays in the grid it was made from.
        region_code=None if located else grid.code, lat=located[0] if located else None,
        lng=located[1] if located else None, address=address[:200], attachments=attachments,
        idempotency_key=idempotency_key,
    )


def _stored(text) -> str:
    """Text kept in a record is in the site's language, whoever's request wrote it."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)


@transaction.atomic
def camera_save(*, camera: Camera) -> Camera:
    """Save a camera, placing it in the grid its point lies in (org.geo.locate)."""
    camera.lat, camera.lng = geo.check_point(camera.lat, camera.lng)
    if not camera.code or not camera.name:
        raise ValidationFailed(_("摄像头须有编码和名称。"), field="code" if not camera.code else "name")
    where = geo.locate(camera.lat, camera.lng)
    if where is None:
        raise ValidationFailed(_("尚未划定任何网格或社区，无法确定摄像头位置。"), field="lat")
    camera.grid_id = where.grid.id if where.grid else None
    camera.region_path = where.region.path
    camera.save()
    return camera


def camera_create(*, code: str, name: str, lat: float, lng: float, owner_unit: Unit, active: bool = True) -> Camera:
    if Camera.objects.filter(code=code).exists():
        raise ValidationFailed(_("摄像头编码 %(code)s 已存在。") % {"code": code}, field="code")
    return camera_save(camera=Camera(code=code, name=name, lat=lat, lng=lng, owner_unit=owner_unit, active=active))


def _snapshot(snapshot: str | None, snapshot_url: str | None) -> list[dict]:
    out = []
    if snapshot:
        payload = snapshot.split(",", 1)[1] if snapshot.startswith("data:") else snapshot
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed(_("抓拍图片须为 base64 编码的 JPEG 或 PNG。"), field="snapshot") from None
        # Re-encoded from its pixels like every photo a case keeps: the camera's EXIF (its GPS, its
        # serial) never reaches a reader, and the original bytes are never stored.
        out += photos_store([ContentFile(data, name="snapshot")], field="snapshot", name=_stored(_("抓拍图片")))
    if snapshot_url:
        parts = urlsplit(snapshot_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationFailed(_("抓拍图片地址须为 http(s) 网址。"), field="snapshot_url")
        # Kept as a link, never fetched: the server must not be made to call arbitrary addresses.
        out.append({"code": "snapshot", "name": _stored(_("抓拍图片")), "url": snapshot_url})
    return out


def camera_alert(
    *, viewer: Viewer, camera_code: str, alert_id: str, category: str, occurred_at: dt.datetime,
    description: str = "", snapshot: str | None = None, snapshot_url: str | None = None,
) -> Created:
    """A camera's alert opens an incident at the camera's point (channel "camera").

    The integrator's alert id is the idempotency key, so a resent alert returns the first case.
    One transaction, case_create's: none around the checks and the snapshot's re-encoding, which on
    SQLite would hold the one write lock through them.
    """
    camera = Camera.objects.filter(code=camera_code).first()
    if camera is None:
        raise NotFound(_("没有编码为 %(code)s 的摄像头。") % {"code": camera_code}, field="code")
    if not viewer.can_see_path(camera.region_path):
        raise PermissionDenied(_("该令牌的用户不属于管辖该摄像头所在区域的单位。"))
    if not camera.active:
        raise ValidationFailed(_("摄像头 %(code)s 已停用。") % {"code": camera.code}, field="code")
    _incident_matter(category, "category")
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    attachments = _snapshot(snapshot, snapshot_url)
    with translation.override(settings.LANGUAGE_CODE):
        text = _("摄像头 %(code)s(%(name)s)于 %(at)s 告警。") % {
            "code": camera.code, "name": camera.name, "at": timezone.localtime(occurred_at).strftime("%Y-%m-%d %H:%M:%S")}
    attachments.append({"code": "camera_alert", "name": text, "camera": camera.code, "alert_id": alert_id,
                        "occurred_at": occurred_at.isoformat()})
    # Hashed: the key column is short, and alert ids are whatever the integrator's system makes.
    key = "camera:" + hashlib.sha256(f"{camera.code}\n{alert_id}".encode()).hexdigest()[:40]
    return case_create(
        viewer=viewer, matter_code=category, channel=Channel.CAMERA, lat=camera.lat, lng=camera.lng,
        address=camera.name, description=(text + "\n" + description).strip()[:5000], attachments=attachments,
        idempotency_key=key,
    )


@transaction.atomic
def resident_reveal_id(*, viewer: Viewer, resident_id: int, reason: str) -> str:
    """A grid resident's ID number in full, for the grid workers who keep the household's data (and
    administrators); who asked, when and why is written to core.AccessLog first, in the same
    transaction — there is no case whose timeline could carry it (个人信息保护法 Art. 28, 29)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("请填写查看完整证件号的理由。"), field="reason")
    if len(reason) > 500:
        raise ValidationFailed(_("理由不能超过 %(n)s 个字。") % {"n": 500}, field="reason")
    if not may_report(viewer):
        raise PermissionDenied(_("只有网格员可以查看居民的完整证件号。"))
    member = (HouseholdMember.objects.filter(scope_q(viewer, path_field="household__region_path", holder_field=None,
                                                     resident_field=None), resident_id=resident_id)
              .select_related("resident", "household").first())
    if member is None or not member.resident.id_number:
        raise NotFound(_("没有找到该居民的证件号，或您无权查看。"), field="resident")
    AccessLog.objects.create(at=clock.now(), actor_id=viewer.user_id, actor_name=viewer.username,
                             subject="org.resident", subject_id=resident_id, field="id_number",
                             reason=idnumber.mask_text(reason, phones=False), region_path=member.household.region_path)
    return member.resident.id_number
