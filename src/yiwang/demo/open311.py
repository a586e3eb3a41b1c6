"""Demo data for the Open311 endpoint: a 随手拍 mini-program's key and the reports it sent.

Everything goes through the services an integrator's client would reach: a key issued with
api_key_create, each report filed with request_submit (so through case_create, channel open311),
and the command centre's closed loop taken with case_act by the staff who hold each case.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from django.db.models import Q
from shapely.geometry import shape

from yiwang.cases import routing
from yiwang.cases.models import Case
from yiwang.cases.services import case_act
from yiwang.catalog.models import Matter
from yiwang.catalog.services import matter_create
from yiwang.core import clock
from yiwang.core.errors import DomainError
from yiwang.demo.incidents import close_incident
from yiwang.open311.models import ApiKey
from yiwang.open311.services import Report, api_key_create, request_submit
from yiwang.org.models import Region, Role, Staff, UnitKind
from yiwang.org.selectors import viewer_for

KEY_NAME = "xixian-suishoupai"
DAYS = 60

# A category whose form GeoReport clients fill as attributes (services/INC_STREETLIGHT.json).
STREETLIGHT = dict(
    code="INC_STREETLIGHT", name="路灯故障", kind="incident", life_event="城市治理", handling_levels=["city"],
    responsible_unit_kind=UnitKind.COMMAND_CENTRE, dispatch_unit_kind=UnitKind.ENFORCEMENT, time_limit=2,
    time_unit="workdays", guide="拍照定位上报路灯不亮、闪烁或灯杆倾斜，写明灯杆编号，指挥中心派遣执法队处置。",
    where="随手拍、Open311 接口", keywords="路灯 不亮 灯杆",
    form_schema={
        "type": "object",
        "properties": {
            "pole_number": {"type": "string", "maxLength": 20, "title": "灯杆编号"},
            "fault": {"type": "string", "enum": ["不亮", "闪烁", "白天常亮", "灯杆倾斜"], "title": "故障现象"},
            "lamps_out": {"type": "integer", "minimum": 1, "maximum": 50, "title": "不亮的盏数"},
            "danger": {"type": "boolean", "title": "是否有安全隐患"},
        },
        "required": ["fault"],
    },
)

REPORTS = [
    ("INC_STREETLIGHT", "路口两盏路灯整夜不亮，行人看不清路", {"fault": "不亮", "lamps_out": "2", "danger": "true"}),
    ("INC_STREETLIGHT", "小区门口路灯一直闪烁", {"fault": "闪烁", "pole_number": "LD-0231"}),
    ("INC_STREETLIGHT", "路灯白天也亮着，浪费电", {"fault": "白天常亮"}),
    ("INC_PARKING", "学校门口早晚高峰车辆乱停，堵住校门", {}),
    ("INC_PARKING", "小区出入口被私家车堵住，救护车进不来", {}),
    ("INC_SANITATION", "垃圾桶满溢两天没人清运，气味很大", {}),
    ("INC_SANITATION", "路边堆放建筑垃圾", {}),
    ("INC_MANHOLE", "人行道井盖缺失，晚上很危险", {}),
    ("INC_ROAD_DAMAGE", "路面出现大坑槽，电动车容易摔倒", {}),
    ("INC_ADVERT", "电线杆上乱贴办证小广告，联系电话 13912345678", {}),
    ("INC_STREET_VENDOR", "早市摊贩占用机动车道", {}),
    ("INC_NOISE", "工地夜间施工到凌晨，噪音扰民", {}),
]
FAMILY_NAMES = "王李张刘陈杨赵黄周吴"
GIVEN_NAMES = ["秀英", "建国", "海燕", "志强", "丽娟", "伟", "芳", "军"]


def seed(rng: random.Random, log: Callable[[str], None]) -> dict:
    """Add the Open311 demo to a loaded demo database; returns what was made (and the key, once)."""
    made = {"matters": 0, "reports": 0, "closed": 0, "api_key": ""}
    if not Matter.objects.filter(code=STREETLIGHT["code"]).exists():
        matter_create(**STREETLIGHT)
        made["matters"] += 1
    grids = [g for g in Region.objects.filter(level="grid", boundary__isnull=False).order_by("path")]
    if not grids:
        log("    open311: no grids with outlines, nothing to report")
        return made
    if ApiKey.objects.filter(name=KEY_NAME, revoked_at__isnull=True).exists():
        return made  # seeded already
    api_key, key = api_key_create(name=KEY_NAME)
    made["api_key"] = key
    codes = set(Matter.objects.filter(active=True, kind="incident").values_list("code", flat=True))
    now = clock.now()
    moments = sorted(now - dt.timedelta(days=rng.uniform(0.2, DAYS)) for _ in range(len(REPORTS) * 3))
    for i, moment in enumerate(moments):
        code, description, attributes = REPORTS[i % len(REPORTS)]
        if code not in codes:
            continue
        grid = rng.choice(grids)
        point = shape(grid.boundary).representative_point()
        report = Report(
            service_code=code, lat=f"{point.y + rng.uniform(-0.0005, 0.0005):.6f}",
            long=f"{point.x + rng.uniform(-0.0005, 0.0005):.6f}", description=description,
            address_string=f"{grid.name}附近", device_id=f"demo-device-{rng.randint(1, 9)}",
            account_id=f"wx-{rng.randint(10_000, 99_999)}", first_name=rng.choice(GIVEN_NAMES),
            last_name=rng.choice(FAMILY_NAMES), phone=f"139{rng.randint(10_000_000, 99_999_999)}",
            media_url=f"https://img.example.cn/suishoupai/{i:04d}.jpg" if i % 3 == 0 else "",
            attributes={k: [v] for k, v in attributes.items()},
        )
        with clock.frozen_at(moment):
            case = request_submit(api_key=api_key, report=report).submission.case
        made["reports"] += 1
        # Older reports have gone further round the command centre's loop (GB/T 30428).
        age_days = (now - moment).days
        steps = 6 if age_days > 10 else rng.randint(0, 5)
        if _work(case, steps, moment, rng):
            made["closed"] += 1
    log(f"    open311: key {KEY_NAME} ({api_key.prefix}…), {made['reports']} reports, {made['closed']} closed")
    return made


def _staff(unit_id: int, roles: tuple[str, ...]):
    staff = (Staff.objects.filter(unit_id=unit_id, role__in=roles, user__is_active=True)
             .exclude(Q(user__username__startswith="open311-")).select_related("user").order_by("user_id").first())
    return viewer_for(staff.user) if staff else None


def _work(case: Case, steps: int, start: dt.datetime, rng: random.Random) -> bool:
    """Take up to ``steps`` of register → dispatch → acknowledge → handle → verify → close; True once closed."""
    moment = start
    for step in ("register", "dispatch", "acknowledge", "handle", "verify", "close")[:steps]:
        moment += dt.timedelta(hours=rng.uniform(0.5, 6))
        if moment >= clock.now():
            return False
        case = Case.objects.get(pk=case.pk)
        roles = (Role.HANDLER, Role.OPERATOR) if step in ("acknowledge", "handle") else (Role.OPERATOR,)
        viewer = _staff(case.holder_unit_id, roles)
        if viewer is None:
            return False
        kwargs: dict = {}
        if step == "dispatch":
            suggestion = routing.case_dispatch_suggestion(case)
            if suggestion is None:
                return False
            kwargs["unit_code"] = suggestion.unit.code
        if step == "handle":
            kwargs["result"] = "已到场处置完毕，现场已恢复正常。"
        try:
            with clock.frozen_at(moment):
                if step == "close":  # asking the reporter first when there is one (demo.incidents)
                    close_incident(viewer=viewer, case_id=case.pk)
                else:
                    case_act(viewer=viewer, case_id=case.pk, action=step, version=case.version, **kwargs)
        except DomainError:
            return False
    return steps >= 6
