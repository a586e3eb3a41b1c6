"""Reads of the Open311 GeoReport v2 endpoint: services, service requests, tokens, keys.

GeoReport v2 reads are public. They still go through the one scoping filter (org.selectors.scope_q)
with a public viewer of the asked jurisdiction, so a jurisdiction_id narrows exactly as a staff
member's region would; and a request shows public fields only — never a reporter's name, phone,
ID number or e-mail, and phone and ID numbers typed into free text are masked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from yiwang.cases import workdays
from yiwang.cases.models import Case, CaseEvent, Kind
from yiwang.cases.workflows import APPLICANT, workflow
from yiwang.catalog.models import Matter, MatterKind, MatterVersion
from yiwang.core import clock
from yiwang.core.db import stale_ok
from yiwang.core.errors import NotFound, ValidationFailed
from yiwang.core.idnumber import mask_text
from yiwang.open311.attributes import attributes_of
from yiwang.open311.models import ApiKey, PublicText, PublicTextLog, Submission
from yiwang.org.selectors import Membership, RegionInfo, Viewer, hierarchy, scope_q

# GeoReport v2: without dates the search covers the last 90 days, and no search spans more.
WINDOW = dt.timedelta(days=90)
# The most requests one search answers, newest first (as FixMyStreet's endpoint does).
MAX_RESULTS = 1000
STATUSES = ("open", "closed")

# A "+08:00" offset sent without URL-encoding arrives as " 08:00".
_UNENCODED_PLUS = re.compile(r"(T[\d:.]+) (\d{2}:?\d{2})$")


def w3c(moment: dt.datetime | None) -> str | None:
    """A W3C datetime in the district's time zone, e.g. 2019-10-18T09:30:00+08:00."""
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


# --- jurisdictions --------------------------------------------------------------------------------

def jurisdiction(code: str | None) -> list[RegionInfo]:
    """The regions a call covers: the named region, or every top-level region when none is named."""
    h = hierarchy()
    if code:
        if code not in h.region_by_code:
            raise NotFound(_("没有代码为 %(code)s 的辖区(jurisdiction_id)。") % {"code": code}, field="jurisdiction_id")
        return [h.region(code)]
    return sorted((r for r in h.regions.values() if r.parent_id is None), key=lambda r: r.code)


def public_viewer(regions: list[RegionInfo]) -> Viewer:
    """Anyone reading the GeoReport endpoint: sees the jurisdiction's subtree, through scope_q."""
    return Viewer(user_id=None, username="open311",
                  memberships=tuple(Membership(unit_id=0, role="public", region_path=r.path) for r in regions))


def within(regions: list[RegionInfo], path: str) -> bool:
    return any(path.startswith(r.path) for r in regions)


# --- services ----------------------------------------------------------------------------------

def exposed_matters() -> QuerySet[Matter]:
    """The services: incident categories (事件类别) that are in use.

    Not applications or consultations: GeoReport's requests are public, and an application's text
    is personal (a reimbursement, a subsistence claim); its materials cannot travel in a report.
    """
    # An Open311 key may report as a staff account, so the catalogue's own flag is checked here too:
    # a category kept for staff (a camera's, a patrol's) is not a public service.
    return Matter.objects.filter(active=True, kind=MatterKind.INCIDENT, resident_can_apply=True,
                                 current_version__isnull=False)


def _service(matter: Matter) -> dict:
    return {
        "service_code": matter.code, "service_name": matter.name,
        "description": (matter.guide.strip().splitlines() or [matter.name])[0][:500],
        "metadata": bool((matter.form_schema or {}).get("properties")), "type": "realtime",
        "keywords": ",".join(matter.keywords.split()), "group": matter.life_event or str(MatterKind.INCIDENT.label),
    }


def service_list() -> list[dict]:
    return [_service(m) for m in exposed_matters().order_by("code")]


def exposed_matter(code: str) -> Matter:
    matter = exposed_matters().filter(code=code).first()
    if matter is None:
        raise NotFound(_("没有代码为 %(code)s 的服务(service_code)。") % {"code": code}, field="service_code")
    return matter


def service_definition(code: str) -> dict:
    matter = exposed_matter(code)
    return {"service_code": matter.code, "attributes": attributes_of(matter.form_schema)}


def services_changed_at() -> dt.datetime | None:
    """When a service last changed: the newest published version of an exposed matter."""
    return (MatterVersion.objects.filter(matter__in=exposed_matters()).order_by("-published_at")
            .values_list("published_at", flat=True).first())


# --- service requests ----------------------------------------------------------------------------

# The incident actions whose comment was a staff member's public words before replies existed; the
# reporter's own (已解决, 未解决, 重办) are theirs, not the unit's answer.
STAFF_PUBLIC_COMMENTS = sorted(a.name for a in workflow(Kind.INCIDENT).actions.values()
                               if "comment" in a.public and APPLICANT not in a.actors)


@dataclass
class RequestFilters:
    numbers: list[str] = field(default_factory=list)  # service_request_id: overrides the rest
    service_codes: list[str] = field(default_factory=list)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, params) -> RequestFilters:
        """GeoReport v2 search arguments, checked; bad ones raise ValidationFailed naming the argument."""
        numbers = _comma_list(params.get("service_request_id"))
        if numbers:
            return cls(numbers=numbers)
        statuses = [s.lower() for s in _comma_list(params.get("status"))]
        for status in statuses:
            if status not in STATUSES:
                raise ValidationFailed(_("status 只能是 open 或 closed，收到 %(s)s。") % {"s": status}, field="status")
        start, end = _moment(params, "start_date"), _moment(params, "end_date")
        if start is None and end is None:
            end = clock.now()
            start = end - WINDOW
        elif start is None:
            start = end - WINDOW
        elif end is None:
            end = start + WINDOW
        if end < start:
            raise ValidationFailed(_("end_date 不能早于 start_date。"), field="end_date")
        if end - start > WINDOW:
            raise ValidationFailed(_("start_date 与 end_date 相隔不能超过 90 天。"), field="end_date")
        return cls(service_codes=_comma_list(params.get("service_code")), start=start, end=end, statuses=statuses)


def _comma_list(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def _moment(params, name: str) -> dt.datetime | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        moment = parse_datetime(_UNENCODED_PLUS.sub(r"\1+\2", raw))
        if moment is None:
            day = parse_date(raw)
            moment = dt.datetime.combine(day, dt.time.min) if day else None
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationFailed(_("%(name)s 须为 W3C 日期时间，如 2019-10-18T00:00:00+08:00。") % {"name": name},
                               field=name)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _requests(regions: list[RegionInfo], using: str = "default") -> QuerySet[Case]:
    last_event = CaseEvent.objects.filter(case=OuterRef("pk"), seq=OuterRef("event_count")).values("at")[:1]
    # The latest reply staff wrote to the resident: the only staff words a public request carries.
    # Events written before replies existed kept a staff member's public words as "comment" (不予立案's
    # reason); they are read by that rule, as the timeline is.
    last_reply = (CaseEvent.objects.filter(Q(payload__has_key="reply")
                                           | Q(action__in=STAFF_PUBLIC_COMMENTS, payload__has_key="comment"),
                                           case=OuterRef("pk"))
                  .order_by("-seq").annotate(words=Coalesce(KT("payload__reply"), KT("payload__comment")))
                  .values("words")[:1])
    return (Case.objects.using(using)
            .filter(scope_q(public_viewer(regions), holder_field=None, resident_field=None), kind=Kind.INCIDENT)
            .select_related("matter", "holder_unit", "handling_unit", "parent", "region")
            .annotate(updated_at=Subquery(last_event), last_reply=Subquery(last_reply)))


def _status_notes(case: Case) -> str:
    label = str(workflow(case.kind).states.get(case.state, case.state))
    if case.state == "merged" and case.parent_id:
        return _("已合并到 %(number)s，请查看该编号的进展。") % {"number": case.parent.number}
    # Staff's words reach a public request only as a reply; internal notes never do.
    words = [mask_text(str(text)) for text in (case.result, getattr(case, "last_reply", None) or "") if text]
    return f"{label}：{'；'.join(words)}" if words else label


def _service_notice(case: Case) -> str:
    limit, unit = case.matter.time_limit, case.matter.time_unit
    if not limit:
        return ""
    if unit == "hours":
        return _("承诺 %(n)s 小时内处置。") % {"n": limit}
    return _("承诺 %(n)s 个工作日内处置。") % {"n": limit}


def _expected(case: Case) -> dt.datetime | None:
    """The deadline; before registration starts the clock, the one the time limit promises from submission."""
    if case.due_at or case.closed_at or not case.matter.time_limit:
        return case.due_at
    return workdays.due_after(case.created_at, case.matter.time_limit, case.matter.time_unit)


def _media_url(case: Case) -> str | None:
    return next((m["url"] for m in case.materials if isinstance(m, dict) and m.get("url")), None)


def public_request(case: Case) -> dict:
    """One case as a GeoReport v2 request: public fields only (no reporter name, phone or ID)."""
    agency = case.handling_unit if case.handling_unit_id else case.holder_unit
    return {
        "service_request_id": case.number,
        "status": "closed" if case.closed_at else "open",
        "status_notes": _status_notes(case),
        "service_name": case.matter.name,
        "service_code": case.matter.code,
        "description": mask_text(case.description),
        "agency_responsible": agency.name,
        "service_notice": _service_notice(case),
        "requested_datetime": w3c(case.created_at),
        "updated_datetime": w3c(getattr(case, "updated_at", None) or case.created_at),
        "expected_datetime": w3c(_expected(case)),
        "address": mask_text(case.address),
        "address_id": case.region.code,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lng,
        "media_url": _media_url(case),
    }


def request_search(*, regions: list[RegionInfo], filters: RequestFilters) -> list[dict]:
    if filters.numbers:
        # Asked by number, as a reporter does right after submitting (so are request_get and
        # token_get): the primary answers. A search by period may lag by seconds: a replica answers.
        qs = _requests(regions)
        ids = []
        for number in filters.numbers[:MAX_RESULTS]:
            parsed = Case.parse_number(number)
            if parsed:
                ids.append(parsed[1])
        wanted = {n.strip().upper() for n in filters.numbers}
        return [public_request(c) for c in qs.filter(pk__in=ids).order_by("-created_at", "-id") if c.number in wanted]
    qs = _requests(regions, using=stale_ok()).filter(created_at__gte=filters.start, created_at__lte=filters.end)
    if filters.service_codes:
        qs = qs.filter(matter__code__in=filters.service_codes)
    if set(filters.statuses) == {"open"}:
        qs = qs.filter(closed_at__isnull=True)
    elif set(filters.statuses) == {"closed"}:
        qs = qs.filter(closed_at__isnull=False)
    return [public_request(c) for c in qs.order_by("-created_at", "-id")[:MAX_RESULTS]]


def request_get(*, regions: list[RegionInfo], number: str) -> dict:
    parsed = Case.parse_number(number)
    case = _requests(regions).filter(pk=parsed[1]).first() if parsed else None
    if case is None or case.number != number.strip().upper():
        raise NotFound(_("没有编号为 %(n)s 的上报(service_request_id)。") % {"n": number}, field="service_request_id")
    return public_request(case)


def token_get(*, regions: list[RegionInfo], token: str) -> dict:
    submission = (Submission.objects.filter(scope_q(public_viewer(regions), holder_field=None, resident_field=None),
                                            token=token).select_related("case").first())
    if submission is None:
        raise NotFound(_("没有这个令牌(token)：%(t)s。") % {"t": token}, field="token")
    return {"service_request_id": submission.case.number, "token": submission.token}


# --- keys --------------------------------------------------------------------------------------

def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_for(key: str) -> ApiKey | None:
    """The live key behind an ``api_key`` argument, with an active owner; None otherwise."""
    if not key:
        return None
    return (ApiKey.objects.select_related("user")
            .filter(key_hash=key_hash(key), revoked_at__isnull=True, user__is_active=True).first())


def api_key_list() -> list[ApiKey]:
    return list(ApiKey.objects.select_related("user").order_by("name", "-created_at"))


# --- the public map (docs/public-figures.md) -------------------------------------------------------

# Locations are published as the centre of a cell of this many degrees (about 111 m north-south and
# 92 m east-west at Xixian's 34° N), never as reported: every report in a cell shows at the same
# point, so a pin names a block, not a door.
MAP_CELL_DEGREES = 0.001
MAP_LIMIT = 2000
# Not published: a duplicate folded into another report, and one dismissed as not a problem.
MAP_HIDDEN_STATES = ("merged", "dismissed")


def cell_centre(value: float, cell: float = MAP_CELL_DEGREES) -> float:
    """The centre of the cell ``value`` falls in (cells are aligned on multiples of ``cell``)."""
    index = int((Decimal(str(value)) / Decimal(str(cell))).to_integral_value(rounding=ROUND_FLOOR))
    return float((Decimal(index) + Decimal("0.5")) * Decimal(str(cell)))


def public_map_incidents(*, closed_days: int | None = None, limit: int = MAP_LIMIT) -> dict:
    """Open and recently closed reports as a GeoJSON FeatureCollection: category, state, day, the
    cell's centre and, only if staff approved one, a public text. Never a name, phone, address,
    description or case number."""
    days = closed_days if closed_days is not None else settings.YIWANG_PUBLIC_MAP_CLOSED_DAYS
    since = clock.now() - dt.timedelta(days=days)
    rows = (Case.objects.using(stale_ok())
            .filter(kind=Kind.INCIDENT, matter__in=exposed_matters(), lat__isnull=False, lng__isnull=False)
            .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=since))
            .exclude(state__in=MAP_HIDDEN_STATES).exclude(public_text__hidden=True)
            .order_by("-created_at", "-id")
            .values_list("kind", "state", "closed_at", "created_at", "lat", "lng", "matter__code", "matter__name",
                         "public_text__text")[:limit])
    features = []
    for kind, state, closed_at, created_at, lat, lng, code, name, text in rows:
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(cell_centre(lng), 4), round(cell_centre(lat), 4)]},
            "properties": {
                "category": code, "category_name": name, "state": state,
                "state_label": str(workflow(kind).states.get(state, state)),
                "status": "closed" if closed_at else "open",
                "reported_on": timezone.localdate(created_at).isoformat(),
                # Approved by staff, and still masked: an approval is a person's, and people miss things.
                "text": mask_text(text) if text else None,
            },
        })
    return {"type": "FeatureCollection", "cell_degrees": MAP_CELL_DEGREES, "closed_days": days,
            "features": features}


def public_text_of(case: Case) -> PublicText | None:
    return PublicText.objects.filter(case=case).first()


def public_text_log(case: Case, limit: int = 20) -> list[PublicTextLog]:
    return list(PublicTextLog.objects.filter(case=case).select_related("actor").order_by("-at", "-id")[:limit])
