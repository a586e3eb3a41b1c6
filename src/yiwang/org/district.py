"""Which district this installation serves: its name, short name, map centre and bounds, logo, SMS
signature and Open311 contact (docs/operations.md "Setting up a district").

Each comes from the one ``District`` row when set there (the admin's 本地区 page, `yiwang district load`,
`yiwang demo`), else from its setting (YIWANG_DISTRICT_NAME, YIWANG_DISTRICT_SHORT_NAME, YIWANG_MAP_CENTRE,
YIWANG_MAP_BOUNDS, YIWANG_DISTRICT_LOGO, YIWANG_SMS_SIGNATURE, YIWANG_OPEN311_CONTACT). Both, because
the settings let an installation run from its environment alone, while a district set up from files or
corrected by its administrator must not wait for a redeploy. The defaults are neutral: without a name
the pages read "一网通办" and name no place.

Every page shows the name and every SMS the signature, so the identity is a configuration cache
(core.confcache): no query per request, and an edit in one process reaches the others within
YIWANG_CONFIG_RECHECK_SECONDS.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import transaction
from django.db.models import Avg
from django.dispatch import receiver
from django.utils.translation import gettext as _

from yiwang.core import clock, confcache, idnumber
from yiwang.core.confcache import ConfigCache
from yiwang.core.errors import ValidationFailed
from yiwang.core.text import check_text
from yiwang.org.models import District, Region
from yiwang.org.services import HIERARCHY

DISTRICT = "org.district"
# Where a map opens when nothing says where the district is (no centre, bounds or places): the middle of China.
NOWHERE = (35.86, 104.2)
LOGO_MAX_BYTES = 64 * 1024
LOGO_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
_DATA_URI = re.compile(r"data:(?P<type>[\w.+/-]+);base64,(?P<data>[A-Za-z0-9+/=\s]*)")

Point = tuple[float, float]
Box = tuple[Point, Point]


@dataclass(frozen=True)
class Identity:
    name: str = ""
    short_name: str = ""
    centre: Point | None = None
    bounds: Box | None = None  # ((south, west), (north, east))
    logo: str = ""  # a data: URI or a URL
    sms_signature: str = ""
    contact: str = ""  # Open311's contact, as configured; see open311_contact()

    def open311_contact(self) -> str:
        """Whom a GeoReport client should ask: as configured, else the district's platform administrator."""
        if self.contact:
            return self.contact
        if self.name:
            return _("%(name)s“一网”平台管理员") % {"name": self.name}
        return _("“一网”平台管理员")


def identity() -> Identity:
    """The district as every page, SMS and API answer names it (cached; see the module's docstring)."""
    return _identity.get()


def map_centre() -> list[float]:
    """Where a map with nothing of its own to show opens, [lat, lng]: the configured centre, else the
    middle of the configured bounds, else the middle of the places the hierarchy knows."""
    district = identity()
    if district.centre:
        return list(district.centre)
    if district.bounds:
        (south, west), (north, east) = district.bounds
        return [round((south + north) / 2, 6), round((west + east) / 2, 6)]
    return list(_middle_of_places.get() or NOWHERE)


@transaction.atomic
def district_set(
    *, name: str | None = None, short_name: str | None = None, centre: Point | None = None,
    bounds: Box | None = None, logo: str | None = None, sms_signature: str | None = None,
    open311_contact: str | None = None,
) -> District:
    """Set the district's identity; None leaves a field as it is. Refused whole on any bad field."""
    row = District.objects.select_for_update().order_by("pk").first() or District()
    for field, value in (("name", name), ("short_name", short_name), ("sms_signature", sms_signature),
                         ("open311_contact", open311_contact)):
        if value is not None:
            setattr(row, field, value.strip())
    if centre is not None:
        row.centre_lat, row.centre_lng = check_point(centre, field="centre")
    if bounds is not None:
        row.bounds = [list(corner) for corner in check_bounds(bounds)]
    if logo is not None:
        row.logo = logo
    check_row(row)
    row.updated_at = clock.now()
    row.save()
    confcache.bump(DISTRICT)
    return row


def check_row(row: District) -> None:
    """Every field of ``row`` as district_set and the admin accept it, or ValidationFailed naming the field."""
    for field in ("name", "short_name", "sms_signature", "open311_contact"):
        value = getattr(row, field)
        check_text(value, field=field)
        # Shown to everyone (every page's title, Open311's discovery, every SMS): a person's ID number
        # typed here would be published. A phone is fine: a hotline is what a contact is for.
        if found := idnumber.find_in_text(value):
            raise ValidationFailed(_("这里的内容会公开显示，不能含有身份证号(%(n)s)。") % {"n": idnumber.mask(found[0])},
                                   field=field)
        limit = District._meta.get_field(field).max_length
        if len(value) > limit:
            raise ValidationFailed(_("不能超过 %(n)s 个字。") % {"n": limit}, field=field)
    if (row.centre_lat is None) != (row.centre_lng is None):
        raise ValidationFailed(_("地图中心须同时有纬度和经度。"), field="centre")
    centre = None
    if row.centre_lat is not None:
        centre = check_point((row.centre_lat, row.centre_lng), field="centre")
    if row.bounds is not None:
        (south, west), (north, east) = check_bounds(row.bounds)
        if centre and not (south <= centre[0] <= north and west <= centre[1] <= east):
            raise ValidationFailed(_("地图中心不在地图范围之内。"), field="centre")
    if row.logo:
        check_logo(row.logo)


def check_point(value: object, *, field: str) -> Point:
    """[lat, lng] on the globe; "lat,lng" text too."""
    if isinstance(value, str):
        value = value.split(",")
    try:
        lat, lng = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValidationFailed(_("须为 [纬度, 经度]，如 [34.38, 108.76]。"), field=field) from None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise ValidationFailed(_("纬度须在 -90 到 90 之间，经度须在 -180 到 180 之间。"), field=field)
    return lat, lng


def check_bounds(value: object) -> Box:
    """[[south, west], [north, east]], south below north and west of east."""
    try:
        south_west, north_east = value  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValidationFailed(_("地图范围须为 [[南纬度, 西经度], [北纬度, 东经度]]。"), field="bounds") from None
    (south, west), (north, east) = check_point(south_west, field="bounds"), check_point(north_east, field="bounds")
    if not (south < north and west < east):
        raise ValidationFailed(_("地图范围须先写西南角，再写东北角。"), field="bounds")
    return (south, west), (north, east)


def check_logo(logo: str) -> None:
    found = _DATA_URI.fullmatch(logo)
    if not found or found["type"] not in LOGO_TYPES:
        raise ValidationFailed(_("标志须为 PNG、JPEG 或 SVG 图片。"), field="logo")
    try:
        size = len(base64.b64decode(found["data"], validate=False))
    except binascii.Error:
        raise ValidationFailed(_("标志须为 PNG、JPEG 或 SVG 图片。"), field="logo") from None
    if size > LOGO_MAX_BYTES:
        raise ValidationFailed(_("标志图片不能超过 %(n)s KB。") % {"n": LOGO_MAX_BYTES // 1024}, field="logo")


def logo_data_uri(content: bytes, filename: str) -> str:
    """A logo file as the data: URI the District row keeps, checked like any other logo."""
    kinds = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
    kind = next((v for k, v in kinds.items() if filename.lower().endswith(k)), "")
    uri = f"data:{kind};base64,{base64.b64encode(content).decode()}"
    check_logo(uri)
    return uri


def _setting_point(name: str) -> Point | None:
    text = str(getattr(settings, name, "") or "").strip()
    if not text:
        return None
    try:
        return check_point(text, field=name)
    except ValidationFailed:
        raise ImproperlyConfigured(f"{name} must be 'lat,lng', e.g. 34.38,108.76 (got {text!r})") from None


def _setting_bounds() -> Box | None:
    text = str(getattr(settings, "YIWANG_MAP_BOUNDS", "") or "").strip()
    if not text:
        return None
    try:
        south, west, north, east = (float(v) for v in text.split(","))
        return check_bounds(((south, west), (north, east)))
    except (ValueError, ValidationFailed):
        raise ImproperlyConfigured(
            f"YIWANG_MAP_BOUNDS must be 'south,west,north,east', e.g. 34.2,108.6,34.5,108.9 (got {text!r})") from None


def _load() -> Identity:
    row = District.objects.order_by("pk").first()

    def pick(field: str, setting: str) -> str:
        return (getattr(row, field) if row else "") or str(getattr(settings, setting, "") or "")

    centre = (row.centre_lat, row.centre_lng) if row and row.centre_lat is not None else None
    bounds = row.bounds if row and row.bounds else None
    return Identity(
        name=pick("name", "YIWANG_DISTRICT_NAME"),
        short_name=pick("short_name", "YIWANG_DISTRICT_SHORT_NAME"),
        centre=centre or _setting_point("YIWANG_MAP_CENTRE"),
        bounds=(tuple(tuple(corner) for corner in bounds) if bounds else _setting_bounds()),  # type: ignore[arg-type]
        logo=pick("logo", "YIWANG_DISTRICT_LOGO"),
        sms_signature=pick("sms_signature", "YIWANG_SMS_SIGNATURE"),
        contact=pick("open311_contact", "YIWANG_OPEN311_CONTACT"),
    )


def _places() -> Point | tuple[()]:
    # Reloaded with the hierarchy (an empty tuple, not None, so that "no places" is cached too).
    middle = Region.objects.filter(lat__isnull=False, lng__isnull=False).aggregate(lat=Avg("lat"), lng=Avg("lng"))
    return (round(middle["lat"], 6), round(middle["lng"], 6)) if middle["lat"] is not None else ()


_identity: ConfigCache[Identity] = ConfigCache(DISTRICT, _load)
_middle_of_places: ConfigCache[Point | tuple[()]] = ConfigCache(HIERARCHY, _places)
SETTINGS = frozenset({"YIWANG_DISTRICT_NAME", "YIWANG_DISTRICT_SHORT_NAME", "YIWANG_MAP_CENTRE", "YIWANG_MAP_BOUNDS",
                      "YIWANG_DISTRICT_LOGO", "YIWANG_SMS_SIGNATURE", "YIWANG_OPEN311_CONTACT"})


@receiver(setting_changed)
def _setting_changed(*, setting: str, **kwargs) -> None:
    # A test (or override_settings) that changes a setting must not read the value cached before it.
    if setting in SETTINGS:
        _identity.clear()
