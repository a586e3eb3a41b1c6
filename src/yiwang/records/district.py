"""`yiwang district load DIR`: set up a district from files (docs/operations.md "Setting up a district").

DIR holds district.yaml (the identity: org.district) and any of regions.geojson or regions.csv, units.yaml,
staff.csv and matters.yaml. The files are read and checked whole first: every problem is reported with
its file and line (or GeoJSON feature) and nothing is written. Then everything is written in one
transaction through the services that own each row (org.services, org.district, catalog.services,
messages.services), so their own checks apply too; a refusal there is reported the same way and rolls
the whole load back. Loading again updates by code (regions, units, matters) and username (staff):
a row that did not change is left alone, and a matter that did is published as its next version.
Nothing is removed: a region, unit, role or matter missing from the files stays.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import mapping, shape

from yiwang.catalog.formschema import with_field_order
from yiwang.catalog.models import Matter
from yiwang.catalog.services import SNAPSHOT_FIELDS, matter_create, matter_publish
from yiwang.core.errors import DomainError
from yiwang.core.text import control_character_in
from yiwang.messages.models import ChannelPreference
from yiwang.messages.services import preference_save
from yiwang.org.district import check_bounds, check_point, check_row, district_set, logo_data_uri
from yiwang.org.models import LEVEL_RANK, District, Level, Region, Role, Staff, Unit, UnitKind
from yiwang.org.services import (
    mobile_number,
    region_create,
    region_update,
    staff_grant,
    unit_create,
    unit_update,
    user_create,
)

IDENTITY_KEYS = ("name", "short_name", "centre", "bounds", "logo", "sms_signature", "open311_contact")
UNIT_KEYS = ("code", "name", "kind", "region", "address", "phone", "hours", "lat", "lng")
MATTER_KEYS = (*(f for f in SNAPSHOT_FIELDS if f not in {"code", "name"}), "code", "name", "keywords", "active")
MATTER_REQUIRED = ("code", "name", "kind", "handling_levels", "responsible_unit_kind")
STAFF_COLUMNS = ("username", "name", "unit", "roles")  # and optionally phone
REGION_COLUMNS = ("code", "name", "level", "parent")  # and optionally wkt
STATISTICAL_CODE = re.compile(r"\d{12}")
GRID_CODE = re.compile(r"\d{13,18}")
USERNAME = re.compile(r"[\w.@+-]{1,150}")


@dataclass
class Problem:
    where: str  # "regions.csv:7", "regions.geojson feature 3"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class DistrictFilesInvalid(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Row:
    where: str
    values: dict


@dataclass
class Files:
    identity: Row | None = None
    regions: list[Row] = field(default_factory=list)
    units: list[Row] = field(default_factory=list)
    staff: list[Row] = field(default_factory=list)
    matters: list[Row] = field(default_factory=list)


@dataclass
class Loaded:
    """What a load did, per kind of row: created, updated, unchanged."""

    counts: dict[str, Counter] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        self.counts.setdefault(kind, Counter())[outcome] += 1

    def lines(self) -> list[str]:
        order = ("set", "created", "updated", "unchanged")
        return [f"{kind}: " + ", ".join(f"{c[outcome]} {outcome}" for outcome in order if c[outcome])
                for kind, c in self.counts.items()]


def district_load(directory: Path, *, dry_run: bool = False) -> Loaded:
    """Read, check and write the district in ``directory``; DistrictFilesInvalid lists every problem
    and means nothing was written. ``dry_run`` does everything and rolls it back."""
    files, problems = read(directory)
    problems += check(files, unreadable={p.where.split(":")[0].split(" ")[0] for p in problems})
    if problems:
        raise DistrictFilesInvalid(sorted(problems, key=_order))
    loaded = Loaded()
    with transaction.atomic():
        problems = _write(files, loaded)
        if problems:
            raise DistrictFilesInvalid(problems)
        if dry_run:
            transaction.set_rollback(True)
    return loaded


def _order(problem: Problem) -> tuple[str, int]:
    # By file, then line (or feature) number, as a person goes through them.
    file, _sep, rest = problem.where.replace(" feature ", ":").partition(":")
    return file, int(rest) if rest.isdigit() else 0


# --- reading --------------------------------------------------------------------------------------


def read(directory: Path) -> tuple[Files, list[Problem]]:
    """The rows of every file in ``directory``, with where each came from, and what could not be read."""
    files, problems = Files(), []
    if not directory.is_dir():
        return files, [Problem(str(directory), _("不是一个目录。"))]
    identity = directory / "district.yaml"
    if not identity.exists():
        problems.append(Problem("district.yaml", _("缺少这个文件：它写明地区的名称、地图中心和范围。")))
    else:
        rows = _yaml_rows(identity, problems, mapping_at_top=True)
        if rows:
            files.identity = rows[0]
            logo = rows[0].values.get("logo")
            if isinstance(logo, str) and logo:
                path = directory / logo
                if not path.is_file() or directory.resolve() not in path.resolve().parents:
                    problems.append(Problem(rows[0].where, _("找不到标志文件 %(f)s（须在同一目录中）。") % {"f": logo}))
                    rows[0].values["logo"] = ""  # reported once, not again as "not an image"
                else:
                    try:
                        rows[0].values["logo"] = logo_data_uri(path.read_bytes(), path.name)
                    except DomainError as exc:
                        problems.append(Problem(rows[0].where, exc.message))
    geojson, table = directory / "regions.geojson", directory / "regions.csv"
    if geojson.exists() and table.exists():
        problems.append(Problem("regions.csv", _("regions.geojson 和 regions.csv 只能有一个。")))
    elif geojson.exists():
        files.regions = _geojson_rows(geojson, problems)
    elif table.exists():
        files.regions = _csv_rows(table, REGION_COLUMNS, problems)
    if (directory / "units.yaml").exists():
        files.units = _yaml_rows(directory / "units.yaml", problems)
    if (directory / "staff.csv").exists():
        files.staff = _csv_rows(directory / "staff.csv", STAFF_COLUMNS, problems)
    if (directory / "matters.yaml").exists():
        files.matters = _yaml_rows(directory / "matters.yaml", problems)
    return files, problems


def _text(path: Path, problems: list[Problem]) -> str | None:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(path.name, _("不是 UTF-8 编码的文本（第 %(n)s 个字节）。") % {"n": exc.start + 1}))
        return None


def _yaml_rows(path: Path, problems: list[Problem], *, mapping_at_top: bool = False) -> list[Row]:
    """A YAML list of mappings (or one mapping), each with the line it starts on."""
    text = _text(path, problems)
    if text is None:
        return []
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return []
        items = [root] if mapping_at_top else root.value if isinstance(root, yaml.SequenceNode) else None
        if items is None:
            problems.append(Problem(f"{path.name}:{root.start_mark.line + 1}", _("须是一个列表，每项一条记录。")))
            return []
        rows = []
        for node in items:
            where = f"{path.name}:{node.start_mark.line + 1}"
            if not isinstance(node, yaml.MappingNode):
                problems.append(Problem(where, _("须是“键: 值”的一条记录。")))
                continue
            rows.append(Row(where, loader.construct_document(node)))
        return rows
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}" if mark else path.name
        problems.append(Problem(where, _("不是有效的 YAML：%(why)s") % {"why": getattr(exc, "problem", None) or exc}))
        return []
    finally:
        loader.dispose()


def _csv_rows(path: Path, required: tuple[str, ...], problems: list[Problem]) -> list[Row]:
    text = _text(path, problems)
    if text is None:
        return []
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(Problem(f"{path.name}:1", _("表头缺少列：%(cols)s（须有 %(all)s）。")
                                % {"cols": ", ".join(missing), "all": ",".join(required)}))
        return []
    reader.fieldnames = header
    rows = []
    try:
        for record in reader:
            if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
                continue  # a blank line
            if None in record:
                problems.append(Problem(f"{path.name}:{reader.line_num}", _("这一行的列比表头多。")))
                continue
            rows.append(Row(f"{path.name}:{reader.line_num}", {k: (v or "").strip() for k, v in record.items()}))
    except csv.Error as exc:
        problems.append(Problem(f"{path.name}:{reader.line_num}", _("不是有效的 CSV：%(why)s") % {"why": exc}))
    return rows


def _geojson_rows(path: Path, problems: list[Problem]) -> list[Row]:
    text = _text(path, problems)
    if text is None:
        return []
    try:
        collection = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(Problem(f"{path.name}:{exc.lineno}", _("不是有效的 JSON：%(why)s") % {"why": exc.msg}))
        return []
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list) or collection.get("type") != "FeatureCollection":
        problems.append(Problem(path.name, _("须是 GeoJSON FeatureCollection。")))
        return []
    rows = []
    for index, feature in enumerate(features, 1):
        where = f"{path.name} feature {index}"
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            problems.append(Problem(where, _("缺少 properties（code、name、level、parent）。")))
            continue
        values = {k: ("" if properties.get(k) is None else str(properties.get(k)).strip()) for k in REGION_COLUMNS}
        values["geometry"] = feature.get("geometry")
        rows.append(Row(where, values))
    return rows


# --- checking -------------------------------------------------------------------------------------


def check(files: Files, *, unreadable: set[str] = frozenset()) -> list[Problem]:
    """Every problem the rows have by themselves and against each other and the database. The rows
    that name what an ``unreadable`` file holds are not checked: each would only repeat its problem."""
    problems: list[Problem] = []
    if files.identity:
        _check_identity(files.identity, problems)
    regions = _check_regions(files.regions, problems)
    if not unreadable & {"regions.csv", "regions.geojson"}:
        units = _check_units(files.units, regions, problems)
        if "units.yaml" not in unreadable:
            _check_staff(files.staff, units, problems)
    _check_matters(files.matters, problems)
    return problems


def _unknown_keys(row: Row, known: tuple[str, ...], problems: list[Problem]) -> None:
    unknown = sorted(set(row.values) - set(known))
    if unknown:
        problems.append(Problem(row.where, _("未知的键 %(keys)s（可用：%(known)s）。")
                                % {"keys": ", ".join(unknown), "known": ", ".join(known)}))


def _text_problem(row: Row, key: str, problems: list[Problem], *, limit: int, required: bool = True) -> str:
    """The row's text ``key``, stripped; a problem if missing, too long or with a control character."""
    value = row.values.get(key)
    value = "" if value is None else str(value).strip()
    if required and not value:
        problems.append(Problem(row.where, _("缺少 %(key)s。") % {"key": key}))
    elif len(value) > limit:
        problems.append(Problem(row.where, _("%(key)s 不能超过 %(n)s 个字。") % {"key": key, "n": limit}))
    elif control_character_in(value, key):
        problems.append(Problem(row.where, _("%(key)s 含有不可见的控制字符。") % {"key": key}))
    if key in row.values:
        row.values[key] = value  # as it is written: a YAML number (code: 1001) becomes its text
    return value


def _check_identity(row: Row, problems: list[Problem]) -> None:
    _unknown_keys(row, IDENTITY_KEYS, problems)
    values = row.values
    if not str(values.get("name") or "").strip():
        problems.append(Problem(row.where, _("缺少 %(key)s。") % {"key": "name"}))
    for key in ("name", "short_name", "sms_signature", "open311_contact"):
        if values.get(key) is not None:
            values[key] = str(values[key]).strip()
    candidate = District(**{k: str(values.get(k) or "").strip() for k in
                            ("name", "short_name", "sms_signature", "open311_contact", "logo")})
    try:
        if values.get("centre") is not None:
            candidate.centre_lat, candidate.centre_lng = check_point(values["centre"], field="centre")
        if values.get("bounds") is not None:
            candidate.bounds = [list(c) for c in check_bounds(values["bounds"])]
        check_row(candidate)
    except DomainError as exc:
        problems.append(Problem(row.where, f"{exc.field}: {exc.message}" if exc.field else exc.message))


@dataclass
class RegionPlan:
    code: str
    level: str
    parent: str


def _check_regions(rows: list[Row], problems: list[Problem]) -> dict[str, str]:
    """{code: level} of every region the units may name: the file's and the database's."""
    known = dict(Region.objects.values_list("code", "level"))
    parents = dict(Region.objects.filter(parent__isnull=False).values_list("code", "parent__code"))
    areas = [code for code, level in known.items() if level == Level.AREA]
    seen: dict[str, str] = {}
    planned: dict[str, RegionPlan] = {}
    for row in rows:
        code = _text_problem(row, "code", problems, limit=32)
        name = _text_problem(row, "name", problems, limit=100)
        level = row.values.get("level", "")
        parent = row.values.get("parent", "")
        if not code or not name:
            continue
        if level not in Level.values:
            problems.append(Problem(row.where, _("未知的层级 %(level)s（可用：%(known)s）。")
                                    % {"level": level, "known": ", ".join(Level.values)}))
            continue
        pattern = GRID_CODE if level == Level.GRID else STATISTICAL_CODE
        if not pattern.fullmatch(code):
            problems.append(Problem(row.where, _("区划代码 %(code)s 不是 12 位数字（统计用区划代码）。") % {"code": code}
                                    if level != Level.GRID else
                                    _("网格代码 %(code)s 须是所在社区的 12 位代码加 1–6 位数字。") % {"code": code}))
            continue
        if code in seen:
            problems.append(Problem(row.where, _("区划代码 %(code)s 重复（%(first)s 已有）。") % {"code": code, "first": seen[code]}))
            continue
        seen[code] = row.where
        if level == Level.AREA:
            if parent:
                problems.append(Problem(row.where, _("新区一级没有上级区域，parent 须为空。")))
                continue
            others = [a for a in areas if a != code]
            if others:
                problems.append(Problem(row.where, _("数据库中已有新区 %(code)s：一个系统只服务一个地区。") % {"code": others[0]}))
                continue
        elif not parent:
            problems.append(Problem(row.where, _("缺少上级区域 parent。")))
            continue
        if code in known and (known[code] != level or parents.get(code, "") != parent):
            problems.append(Problem(row.where, _("区域 %(code)s 已存在，层级或上级不同：区域不能改层级或移动。") % {"code": code}))
            continue
        geometry_problem = _geometry_problem(row)
        if geometry_problem:
            problems.append(Problem(row.where, geometry_problem))
            continue
        planned[code] = RegionPlan(code, level, parent)
    levels = {**known, **{code: plan.level for code, plan in planned.items()}}
    for code, plan in planned.items():
        if not plan.parent:
            continue
        where = seen[code]
        parent_level = levels.get(plan.parent)
        if parent_level is None:
            problems.append(Problem(where, _("上级区域 %(parent)s 不在文件中，也不在数据库中。") % {"parent": plan.parent}))
        elif LEVEL_RANK[plan.level] != LEVEL_RANK[parent_level] + 1:
            problems.append(Problem(where, _("%(child)s 不能直接隶属于 %(parent)s（%(code)s）。")
                                    % {"child": Level(plan.level).label, "parent": Level(parent_level).label,
                                       "code": plan.parent}))
        elif plan.level == Level.COMMUNITY and not (code[:9] == plan.parent[:9] and not code.endswith("000")):
            # 统计用区划代码: a village's code is its township's first nine digits and three of its own.
            problems.append(Problem(where, _("村/社区代码 %(code)s 须以所属街镇代码的前 9 位 %(prefix)s 开头，末 3 位不为 000。")
                                    % {"code": code, "prefix": plan.parent[:9]}))
        elif plan.level == Level.TOWN and not code.endswith("000"):
            problems.append(Problem(where, _("街镇代码 %(code)s 的末 3 位须为 000。") % {"code": code}))
        elif plan.level == Level.GRID and not code.startswith(plan.parent):
            problems.append(Problem(where, _("网格代码 %(code)s 须以所在社区代码 %(parent)s 开头。")
                                    % {"code": code, "parent": plan.parent}))
    return levels


def _geometry_problem(row: Row) -> str | None:
    """Reads the row's place (GeoJSON geometry or WKT) into lat, lng and boundary; why not, if it cannot."""
    values = row.values
    try:
        if values.get("geometry") is not None:
            geometry = shape(values["geometry"])
        elif values.get("wkt"):
            geometry = wkt.loads(values["wkt"])
        else:
            values["place"] = {}
            return None
    except (ShapelyError, ValueError, TypeError, AttributeError, KeyError):
        return _("位置无法读取：须为 GeoJSON 或 WKT 的 Point 或 Polygon。")
    if geometry.geom_type == "Point":
        values["place"] = {"lat": round(geometry.y, 6), "lng": round(geometry.x, 6)}
    elif geometry.geom_type == "Polygon":
        inside = geometry.representative_point()
        values["place"] = {"lat": round(inside.y, 6), "lng": round(inside.x, 6), "boundary": _polygon(geometry)}
    else:
        return _("位置须为 Point 或 Polygon，不能是 %(type)s。") % {"type": geometry.geom_type}
    return None


def _polygon(geometry) -> dict:
    as_json = json.loads(json.dumps(mapping(geometry)))  # tuples → lists, as GeoJSON is stored
    return {"type": "Polygon", "coordinates": as_json["coordinates"]}


def _check_units(rows: list[Row], regions: dict[str, str], problems: list[Problem]) -> set[str]:
    """The unit codes staff may name: the file's and the database's."""
    existing = dict(Unit.objects.values_list("code", "region__code"))
    seen: dict[str, str] = {}
    for row in rows:
        _unknown_keys(row, UNIT_KEYS, problems)
        code = _text_problem(row, "code", problems, limit=40)
        _text_problem(row, "name", problems, limit=100)
        for key in ("address", "phone", "hours"):
            _text_problem(row, key, problems, limit=200 if key == "address" else 100 if key == "hours" else 40,
                          required=False)
        kind, region = row.values.get("kind"), str(row.values.get("region") or "").strip()
        row.values["region"] = region  # unquoted in YAML, a code is a number
        if kind not in UnitKind.values:
            problems.append(Problem(row.where, _("未知的单位类型 %(kind)s（可用：%(known)s）。")
                                    % {"kind": kind, "known": ", ".join(UnitKind.values)}))
        if region not in regions:
            problems.append(Problem(row.where, _("所在区域 %(region)s 不在文件中，也不在数据库中。") % {"region": region}))
        for key in ("lat", "lng"):
            if row.values.get(key) is not None and not isinstance(row.values[key], int | float):
                problems.append(Problem(row.where, _("%(key)s 须为数字。") % {"key": key}))
        if not code:
            continue
        if code in seen:
            problems.append(Problem(row.where, _("单位编码 %(code)s 重复（%(first)s 已有）。") % {"code": code, "first": seen[code]}))
        elif code in existing and existing[code] != region:
            problems.append(Problem(row.where, _("单位 %(code)s 已在区域 %(old)s：单位不能移到别的区域。")
                                    % {"code": code, "old": existing[code]}))
        seen[code] = row.where
    return set(existing) | set(seen)


def _check_staff(rows: list[Row], units: set[str], problems: list[Problem]) -> None:
    seen: dict[tuple[str, str], str] = {}
    people: dict[str, tuple[str, str, str]] = {}
    for row in rows:
        username = row.values["username"]
        name = _text_problem(row, "name", problems, limit=150)
        if not USERNAME.fullmatch(username):
            problems.append(Problem(row.where, _("用户名 %(name)s 只能由字母、数字和 @.+-_ 组成，至多 150 个字符。")
                                    % {"name": username[:40]}))
            continue
        unit = row.values["unit"]
        if unit not in units:
            problems.append(Problem(row.where, _("单位 %(unit)s 不在 units.yaml 中，也不在数据库中。") % {"unit": unit}))
        roles = [r for r in re.split(r"[;|\s]+", row.values["roles"]) if r]
        bad = [r for r in roles if r not in Role.values]
        if not roles or bad:
            problems.append(Problem(row.where, _("未知的角色 %(roles)s（可用：%(known)s，多个用 ; 分隔）。")
                                    % {"roles": ", ".join(bad) or "-", "known": ", ".join(Role.values)}))
        phone = row.values.get("phone", "")
        if phone:
            try:
                row.values["phone"] = phone = mobile_number(phone)
            except DomainError as exc:
                problems.append(Problem(row.where, exc.message))
        row.values["roles"] = roles
        if (username, unit) in seen:
            problems.append(Problem(row.where, _("%(name)s 在单位 %(unit)s 已有一行（%(first)s）：多个角色写在同一行。")
                                    % {"name": username, "unit": unit, "first": seen[(username, unit)]}))
        seen[(username, unit)] = row.where
        if username in people and people[username][:2] != (name, phone):
            problems.append(Problem(row.where, _("%(name)s 的姓名或手机号与 %(first)s 不同。")
                                    % {"name": username, "first": people[username][2]}))
        people.setdefault(username, (name, phone, row.where))


def _check_matters(rows: list[Row], problems: list[Problem]) -> None:
    seen: dict[str, str] = {}
    for row in rows:
        _unknown_keys(row, MATTER_KEYS, problems)
        missing = [k for k in MATTER_REQUIRED if row.values.get(k) in (None, "", [])]
        if missing:
            problems.append(Problem(row.where, _("缺少 %(key)s。") % {"key": ", ".join(missing)}))
            continue
        code = row.values["code"] = str(row.values["code"]).strip()
        row.values["name"] = str(row.values["name"]).strip()
        if code in seen:
            problems.append(Problem(row.where, _("事项编码 %(code)s 重复（%(first)s 已有）。") % {"code": code, "first": seen[code]}))
            continue
        seen[code] = row.where
        fields = {k: v for k, v in row.values.items() if k in MATTER_KEYS}
        found = control_character_in(fields)
        if found:
            problems.append(Problem(row.where, _("%(key)s 含有不可见的控制字符。") % {"key": found[0]}))
        try:
            # The field types and lengths, as the model declares them; catalog.services checks the rest.
            Matter(**fields).clean_fields(exclude=["current_version"])
        except DjangoValidationError as exc:
            for key, messages in exc.message_dict.items():
                problems.append(Problem(row.where, f"{key}: {' '.join(messages)}"))
        except (TypeError, ValueError) as exc:
            problems.append(Problem(row.where, str(exc)))


# --- writing --------------------------------------------------------------------------------------


def _write(files: Files, loaded: Loaded) -> list[Problem]:
    """Write every row through its service, inside the caller's transaction; the problems the services found."""
    problems: list[Problem] = []

    def attempt(row: Row, write) -> None:
        try:
            with transaction.atomic():
                write()
        except DomainError as exc:
            message = f"{exc.field}: {exc.message}" if exc.field else exc.message
            problems.append(Problem(row.where, message))
        except IntegrityError as exc:
            problems.append(Problem(row.where, _("与数据库中已有的记录冲突：%(why)s") % {"why": exc}))

    if files.identity:
        values = {k: v for k, v in files.identity.values.items() if k in IDENTITY_KEYS}
        attempt(files.identity, lambda: (district_set(**values), loaded.count("district", "set")))
    for row in sorted(files.regions, key=lambda r: LEVEL_RANK[r.values["level"]]):
        attempt(row, lambda row=row: _write_region(row, loaded))
    for row in files.units:
        attempt(row, lambda row=row: _write_unit(row, loaded))
    for row in files.staff:
        attempt(row, lambda row=row: _write_staff(row, loaded))
    for row in files.matters:
        attempt(row, lambda row=row: _write_matter(row, loaded))
    return problems


def _write_region(row: Row, loaded: Loaded) -> None:
    values, place = row.values, row.values.get("place", {})
    region = Region.objects.filter(code=values["code"]).first()
    if region is None:
        parent = Region.objects.get(code=values["parent"]) if values["parent"] else None
        region_create(code=values["code"], name=values["name"], level=values["level"], parent=parent, **place)
        loaded.count("regions", "created")
        return
    changes = {k: v for k, v in {"name": values["name"], **place}.items() if getattr(region, k) != v}
    if changes:
        region_update(region=region, **changes)
    loaded.count("regions", "updated" if changes else "unchanged")


def _write_unit(row: Row, loaded: Loaded) -> None:
    values = {k: v for k, v in row.values.items() if k in UNIT_KEYS}
    unit = Unit.objects.filter(code=values["code"]).first()
    details = {k: values[k] for k in ("address", "phone", "hours") if values.get(k) is not None}
    place = {k: values[k] for k in ("lat", "lng") if values.get(k) is not None}
    if unit is None:
        region = Region.objects.get(code=values["region"])
        unit_create(code=values["code"], name=values["name"], kind=values["kind"], region=region, **details, **place)
        loaded.count("units", "created")
        return
    changes = {k: v for k, v in {"name": values["name"], "kind": values["kind"], **details, **place}.items()
               if getattr(unit, k) != v}
    if changes:
        unit_update(unit=unit, **changes)
    loaded.count("units", "updated" if changes else "unchanged")


def _write_staff(row: Row, loaded: Loaded) -> None:
    values = row.values
    User = get_user_model()
    user = User.objects.filter(username=values["username"]).first()
    outcome = "unchanged"
    if user is None:
        # No password: the person signs in through 统一身份认证 or is given one (docs/operations.md).
        user = user_create(username=values["username"], full_name=values["name"])
        outcome = "created"
    elif user.first_name != values["name"]:
        user.first_name = values["name"]
        user.save(update_fields=["first_name"])
        outcome = "updated"
    unit = Unit.objects.get(code=values["unit"])
    held = set(Staff.objects.filter(user=user, unit=unit).values_list("role", flat=True))
    for role in values["roles"]:
        staff_grant(user=user, unit=unit, role=role)
    if set(values["roles"]) - held and outcome == "unchanged":
        outcome = "updated"
    phone = values.get("phone", "")
    preference = ChannelPreference.objects.filter(user=user).first()
    if phone and (preference is None or preference.phone != phone):
        preference_save(user_id=user.pk, phone=phone, email=preference.email if preference else "",
                        channels=preference.channels if preference else {})
        outcome = "updated" if outcome == "unchanged" else outcome
    loaded.count("staff", outcome)


def _write_matter(row: Row, loaded: Loaded) -> None:
    fields = {k: v for k, v in row.values.items() if k in MATTER_KEYS}
    if isinstance(fields.get("form_schema"), dict):
        fields["form_schema"] = with_field_order(fields["form_schema"])  # as publishing stores it
    matter = Matter.objects.filter(code=fields["code"]).first()
    if matter is None:
        matter_create(**fields)
        loaded.count("matters", "created")
        return
    changed = [k for k, v in fields.items() if getattr(matter, k) != v]
    if changed:
        for key in changed:
            setattr(matter, key, fields[key])
        matter_publish(matter=matter)
    loaded.count("matters", "updated" if changed else "unchanged")
