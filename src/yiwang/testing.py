"""A small Xixian for tests, built through the services: one area, two cities, two towns,
three communities, the units and staff to run every workflow, two residents and a few matters."""

from __future__ import annotations

from dataclasses import dataclass, field

from yiwang.catalog.services import matter_create
from yiwang.core import confcache
from yiwang.org.models import Level, Role, UnitKind
from yiwang.org.selectors import viewer_for
from yiwang.org.services import region_create, resident_create, staff_grant, unit_create, user_create

SENIOR_CARD_FORM = {
    "type": "object",
    "properties": {
        "birth_date": {"type": "string", "format": "date", "title": "出生日期"},
        "reason": {"type": "string", "maxLength": 100, "title": "申请原因"},
    },
    "required": ["birth_date"],
}


@dataclass
class World:
    regions: dict = field(default_factory=dict)
    units: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)
    residents: dict = field(default_factory=dict)
    matters: dict = field(default_factory=dict)

    def viewer(self, username: str):
        return viewer_for(self.users[username])


def square(west: float, south: float, side: float) -> dict:
    """A GeoJSON Polygon: the square with that south-west corner and side (degrees)."""
    ring = [[west, south], [west + side, south], [west + side, south + side], [west, south + side], [west, south]]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


def build_world() -> World:
    confcache.clear_all()
    w = World()
    r = w.regions
    r["area"] = region_create(code="XX", name="西咸新区", level=Level.AREA)
    r["kg"] = region_create(code="KG", name="空港新城", level=Level.CITY, parent=r["area"])
    r["qh"] = region_create(code="QH", name="秦汉新城", level=Level.CITY, parent=r["area"])
    r["dz"] = region_create(code="KG-DZ", name="底张街道", level=Level.TOWN, parent=r["kg"])
    r["wc"] = region_create(code="QH-WC", name="渭城街道", level=Level.TOWN, parent=r["qh"])
    r["xfl"] = region_create(code="KG-DZ-XFL", name="幸福里社区", level=Level.COMMUNITY, parent=r["dz"])
    r["cjc"] = region_create(code="KG-DZ-CJC", name="程家村", level=Level.COMMUNITY, parent=r["dz"])
    r["spd"] = region_create(code="QH-WC-SPD", name="玻璃厂三普东社区", level=Level.COMMUNITY, parent=r["wc"],
                             lat=34.33, lng=108.70)
    # Grids (网格): two side by side in 幸福里 sharing the border lng 108.71, one in 程家村.
    for key, code, name, parent, west in [
        ("xfl_g1", "KG-DZ-XFL-G1", "幸福里第一网格", "xfl", 108.70),
        ("xfl_g2", "KG-DZ-XFL-G2", "幸福里第二网格", "xfl", 108.71),
        ("cjc_g1", "KG-DZ-CJC-G1", "程家村第一网格", "cjc", 108.74),
    ]:
        r[key] = region_create(code=code, name=name, level=Level.GRID, parent=r[parent], lat=34.405,
                               lng=west + 0.005, boundary=square(west, 34.40, 0.01))

    u = w.units
    spec = [
        ("area_cc", "XX-CC", "西咸新区综合执法指挥中心", UnitKind.COMMAND_CENTRE, "area"),
        ("area_hf", "XX-HF", "西咸新区住房公积金管理中心", UnitKind.HOUSING_FUND, "area"),
        ("kg_sh", "KG-SH", "空港新城政务服务中心", UnitKind.SERVICE_HALL, "kg"),
        ("kg_cc", "KG-CC", "空港新城综合执法指挥中心", UnitKind.COMMAND_CENTRE, "kg"),
        ("kg_en", "KG-EN", "空港新城综合执法局", UnitKind.ENFORCEMENT, "kg"),
        ("kg_office", "KG-OF", "空港新城管委会", UnitKind.OFFICE, "kg"),
        ("qh_sh", "QH-SH", "秦汉新城政务服务中心", UnitKind.SERVICE_HALL, "qh"),
        ("qh_cc", "QH-CC", "秦汉新城综合执法指挥中心", UnitKind.COMMAND_CENTRE, "qh"),
        ("dz_sh", "KG-DZ-SH", "底张街道便民服务中心", UnitKind.SERVICE_HALL, "dz"),
        ("dz_en", "KG-DZ-EN", "底张街道综合执法队", UnitKind.ENFORCEMENT, "dz"),
        ("wc_sh", "QH-WC-SH", "渭城街道便民服务中心", UnitKind.SERVICE_HALL, "wc"),
        ("xfl_sh", "KG-DZ-XFL-SH", "幸福里社区便民服务站", UnitKind.SERVICE_HALL, "xfl"),
        ("spd_sh", "QH-WC-SPD-SH", "玻璃厂三普东社区便民服务站", UnitKind.SERVICE_HALL, "spd"),
        ("cjc_branch", "KG-DZ-CJC-DZB", "程家村党支部", UnitKind.PARTY_BRANCH, "cjc"),
    ]
    for key, code, name, kind, region in spec:
        u[key] = unit_create(code=code, name=name, kind=kind, region=r[region])

    staff = [
        ("clerk_xfl", "xfl_sh", Role.CLERK), ("clerk_spd", "spd_sh", Role.CLERK),
        ("handler_xfl", "xfl_sh", Role.HANDLER), ("handler_dz", "dz_sh", Role.HANDLER),
        ("clerk_dz", "dz_sh", Role.CLERK), ("handler_kg", "kg_sh", Role.HANDLER),
        ("operator_kg", "kg_cc", Role.OPERATOR), ("handler_en", "dz_en", Role.HANDLER),
        ("handler_kg_en", "kg_en", Role.HANDLER), ("leader_kg", "kg_office", Role.LEADER),
        ("operator_area", "area_cc", Role.OPERATOR), ("handler_hf", "area_hf", Role.HANDLER),
        ("gridder_xfl", "xfl_sh", Role.GRID_WORKER), ("secretary_cjc", "cjc_branch", Role.SECRETARY),
    ]
    for username, unit, role in staff:
        if username not in w.users:
            w.users[username] = user_create(username=username, password="pw-" + username)
        staff_grant(user=w.users[username], unit=u[unit], role=role)
    staff_grant(user=w.users["handler_xfl"], unit=u["xfl_sh"], role=Role.CLERK)
    w.users["admin"] = user_create(username="admin", password="pw-admin", is_superuser=True)

    for key, name, phone, region, idn in [
        ("wang", "王大爷", "13800000001", "xfl", "61040219500101123X"),
        ("li", "李阿姨", "13800000002", "spd", ""),
    ]:
        user = user_create(username="resident_" + key, password="pw-" + key)
        w.users["resident_" + key] = user
        w.residents[key] = resident_create(name=name, phone=phone, region=r[region], id_number=idn, user=user)

    m = w.matters
    m["senior"] = matter_create(
        code="SENIOR_CARD", name="老年证办理", kind="application", handling_levels=["community", "town"],
        responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=5, time_unit="workdays",
        materials=[{"code": "id_card", "name": "身份证"}, {"code": "photo", "name": "一寸照片"},
                   {"code": "hukou", "name": "户口本", "required": False}],
        form_schema=SENIOR_CARD_FORM, keywords="老年证 老年优待证",
    )
    m["fund"] = matter_create(
        code="HOUSING_FUND_WITHDRAW", name="住房公积金提取", kind="application", handling_levels=["city", "area"],
        responsible_unit_kind=UnitKind.HOUSING_FUND, time_limit=3, time_unit="workdays",
        materials=[{"code": "id_card", "name": "身份证"}],
    )
    m["medical"] = matter_create(
        code="MEDICAL_REIMBURSE", name="城乡居民医保(合疗)报销", kind="application",
        handling_levels=["community", "town"], responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=10,
    )
    m["parking"] = matter_create(
        code="INC_PARKING", name="乱停车", kind="incident", handling_levels=["town", "city"],
        responsible_unit_kind=UnitKind.COMMAND_CENTRE, dispatch_unit_kind=UnitKind.ENFORCEMENT,
        time_limit=2, time_unit="workdays",
    )
    m["theft"] = matter_create(
        code="INC_THEFT", name="治安/盗窃", kind="incident", handling_levels=["town", "city"],
        responsible_unit_kind=UnitKind.COMMAND_CENTRE, dispatch_unit_kind=UnitKind.PUBLIC_SECURITY,
        time_limit=24, time_unit="hours",
    )
    m["rectify"] = matter_create(
        code="RECT_GRASSROOTS", name="基层党组织整改", kind="rectification",
        handling_levels=["community", "town", "city"], responsible_unit_kind=UnitKind.OFFICE, time_limit=30,
    )
    m["assist"] = matter_create(
        code="ASSIST_POVERTY", name="一对一帮扶", kind="assistance", handling_levels=["community"],
        responsible_unit_kind=UnitKind.PARTY_BRANCH, time_limit=0,
    )
    m["ask"] = matter_create(
        code="ASK_MEDICAL", name="合疗报销咨询", kind="consultation", handling_levels=["community", "town"],
        responsible_unit_kind=UnitKind.SERVICE_HALL, time_limit=3,
    )
    return w


SENIOR_OK = {"form": {"birth_date": "1950-01-01"}, "materials": [{"code": "id_card"}, {"code": "photo"}]}
