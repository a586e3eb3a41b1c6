"""Reading and checking uploaded grid data before anything is written.

Two formats: grid outlines as a GeoJSON FeatureCollection, and basic-data tables (residents and
households, buildings, organisations) as CSV or Excel (.xlsx). Everything here only reads; the
writes are in grid.services, which refuses a whole file when any row is bad unless told to skip.

Row numbers are the spreadsheet's own (the header is row 1), so a clerk can find the row in Excel.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from yiwang.core import idnumber
from yiwang.core.errors import ValidationFailed
from yiwang.core.text import CONTROL_CHARACTERS, refusal
from yiwang.grid.models import Building, BuildingKind, OrganisationKind, Relation
from yiwang.org.models import Level
from yiwang.org.selectors import RegionInfo, Viewer, hierarchy

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?)$")
YES = {"是", "有", "y", "yes", "true", "1", "√", "✓"}
NO = {"", "否", "无", "n", "no", "false", "0", "×"}
KINDS = ("residents", "buildings", "organisations")


@dataclass(frozen=True)
class RowError:
    row: int  # 1 is the header; 0 is the file as a whole
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        where = _("第 %(row)s 行") % {"row": self.row} if self.row else _("文件")
        return f"{where} · {self.column}：{self.message}" if self.column else f"{where}：{self.message}"


# --- tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    field: str
    label: str  # the header the template uses, and the name errors give the column
    aliases: tuple[str, ...] = ()
    required: bool = False  # the column must be in the file (its cells may still be optional)


def _c(field_name: str, label: str, *aliases: str, required: bool = False) -> Column:
    return Column(field_name, label, (label, field_name, *aliases), required)


GRID_COLUMN = _c("grid", "网格编码", "网格代码", "网格", "grid_code")
COLUMNS: dict[str, tuple[Column, ...]] = {
    "residents": (
        GRID_COLUMN,
        _c("household", "户号", "门牌号", "household_number"),
        _c("address", "地址", "住址", "家庭住址", "户号/地址"),
        _c("building", "楼栋", "楼栋名称"),
        _c("name", "姓名", required=True),
        _c("id_number", "身份证号", "身份证号码", "公民身份号码", required=True),
        _c("phone", "手机号", "手机号码", "联系电话", "电话"),
        _c("relation", "与户主关系", "关系"),
        _c("elderly_alone", "独居老人"),
        _c("low_income", "低保", "低保户"),
        _c("poverty", "贫困户"),
    ),
    "buildings": (
        GRID_COLUMN,
        _c("name", "名称", "楼栋名称", "楼栋", required=True),
        _c("address", "地址"),
        _c("kind", "类型"),
        _c("floors", "层数"),
        _c("lat", "纬度", "latitude"),
        _c("lng", "经度", "longitude", "lon"),
    ),
    "organisations": (
        GRID_COLUMN,
        _c("name", "名称", "单位名称", "组织名称", required=True),
        _c("kind", "类型"),
        _c("contact", "联系人", "负责人"),
        _c("phone", "电话", "联系电话", "手机号"),
        _c("address", "地址"),
    ),
}


@dataclass
class Table:
    labels: dict[str, str]  # field → the header as written in the file
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row number, field → cell text)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel keeps phone numbers typed as numbers as floats
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def _raw_rows(filename: str, data: bytes) -> Iterable[list[object]]:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ValidationFailed(_("不支持旧版 Excel(.xls)文件，请另存为 .xlsx 或 CSV。"), field="file")
    if data.startswith(b"PK\x03\x04") or filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
            return [list(row) for row in sheet.iter_rows(values_only=True)]
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise ValidationFailed(_("无法读取该 Excel 文件：%(reason)s") % {"reason": exc}, field="file") from None
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV in GBK unless told otherwise
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationFailed(_("无法识别文件的文字编码，请保存为 UTF-8 的 CSV。"), field="file")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def read_table(*, kind: str, filename: str, data: bytes) -> Table:
    """The header mapped to known columns, and every non-empty row; refuse a file that cannot be read."""
    if kind not in COLUMNS:
        raise ValidationFailed(_("导入类型只能是 %(kinds)s 之一。") % {"kinds": ", ".join(KINDS)}, field="kind")
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed(_("文件超过 10 MB，请分批导入。"), field="file")
    raw = iter(_raw_rows(filename, data))
    header = [_cell_text(v) for v in next(raw, [])]
    by_alias = {alias.lower(): col for col in COLUMNS[kind] for alias in col.aliases}
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    for i, text in enumerate(header):
        col = by_alias.get(text.lower())
        if col is not None and col.field not in positions:
            positions[col.field] = i
            labels[col.field] = text
    missing = [col.label for col in COLUMNS[kind] if col.required and col.field not in positions]
    if missing:
        raise ValidationFailed(
            _("第 1 行(表头)缺少必需的列：%(cols)s。") % {"cols": "、".join(missing)},
            errors={"file": [_("缺少列：%(col)s") % {"col": c} for c in missing]},
        )
    rows = []
    for number, values in enumerate(raw, start=2):
        cells = {f: _cell_text(values[i]) if i < len(values) else "" for f, i in positions.items()}
        if not any(cells.values()):
            continue
        if len(rows) >= MAX_ROWS:
            raise ValidationFailed(_("一次最多导入 %(n)s 行，请分批导入。") % {"n": MAX_ROWS}, field="file")
        rows.append((number, cells))
    if not rows:
        raise ValidationFailed(_("文件中没有数据行。"), field="file")
    return Table(labels=labels, rows=rows)


# --- rows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResidentRow:
    row: int
    grid_id: int
    household_number: str
    address: str
    building_id: int | None
    name: str
    id_number: str
    phone: str
    relation: str
    flags: dict[str, bool]  # only the flag columns the file has


@dataclass(frozen=True)
class BuildingRow:
    row: int
    grid_id: int
    name: str
    address: str
    kind: str
    floors: int | None
    lat: float | None
    lng: float | None


@dataclass(frozen=True)
class OrganisationRow:
    row: int
    grid_id: int
    name: str
    kind: str
    contact: str
    phone: str
    address: str


@dataclass
class Parsed:
    kind: str
    rows: list = field(default_factory=list)  # the good rows, ready to write
    errors: list[RowError] = field(default_factory=list)
    total: int = 0

    @property
    def refused_rows(self) -> int:
        return len({e.row for e in self.errors})


class _Row:
    """One row being checked: collects its errors under the file's own column headers."""

    def __init__(self, number: int, cells: dict[str, str], labels: dict[str, str], errors: list[RowError]):
        self.number, self.cells, self.labels, self._errors = number, cells, labels, errors
        self.ok = True
        for field_name, value in cells.items():
            found = CONTROL_CHARACTERS.search(value)
            if found:
                self.error(field_name, refusal(None, found.group()))

    def error(self, field_name: str, message: str) -> None:
        self.ok = False
        # A message may quote a cell (an unknown grid code): a misplaced ID number there stays masked.
        message = idnumber.mask_text(message, phones=False)
        self._errors.append(RowError(self.number, self.labels.get(field_name, field_name), message))

    def text(self, field_name: str, *, required: bool = False, max_length: int = 200) -> str:
        value = self.cells.get(field_name, "")
        if required and not value:
            self.error(field_name, _("不能为空。"))
        elif len(value) > max_length:
            self.error(field_name, _("不能超过 %(n)s 个字。") % {"n": max_length})
        return value

    def phone(self, field_name: str) -> str:
        value = self.cells.get(field_name, "").replace(" ", "")
        if value and not PHONE_RE.match(value):
            self.error(field_name, _("电话号码格式不正确：应为 11 位手机号或带区号的固定电话。"))
        return value

    def flag(self, field_name: str) -> bool:
        value = self.cells.get(field_name, "").lower()
        if value in YES:
            return True
        if value not in NO:
            self.error(field_name, _("请填写“是”或“否”。"))
        return False

    def choice(self, field_name: str, choices: type, default: str) -> str:
        value = self.cells.get(field_name, "")
        if not value:
            return default
        for code, label in choices.choices:
            if value in (code, str(label)):
                return code
        self.error(field_name, _("只能是 %(labels)s 之一。") % {"labels": "、".join(str(lb) for _, lb in choices.choices)})
        return default

    def numeric(self, field_name: str, *, low: float, high: float, integer: bool = False) -> float | None:
        value = self.cells.get(field_name, "")
        if not value:
            return None
        try:
            number = int(value) if integer else float(value)
        except ValueError:
            self.error(field_name, _("须为整数。") if integer else _("须为数字。"))
            return None
        if not low <= number <= high:
            self.error(field_name, _("须在 %(low)s 到 %(high)s 之间。") % {"low": low, "high": high})
            return None
        return number


def grid_resolver(viewer: Viewer) -> Callable[[str], RegionInfo | None]:
    """Grid code → the grid, when it exists and the viewer may keep its data; else None.

    An out-of-scope grid reads exactly like an unknown one: the error must not reveal what exists
    in someone else's region.
    """
    h = hierarchy()

    def resolve(code: str) -> RegionInfo | None:
        region_id = h.region_by_code.get(code)
        info = h.regions.get(region_id) if region_id is not None else None
        if info is None or info.level != Level.GRID or not viewer.can_see_path(info.path):
            return None
        return info

    return resolve


def _grid(row: _Row, resolve: Callable[[str], RegionInfo | None]) -> RegionInfo | None:
    code = row.text("grid", required=True, max_length=32)
    if not code:
        return None
    grid = resolve(code)
    if grid is None:
        row.error("grid", _("没有网格编码为 %(code)s 的网格，或您无权维护该网格。") % {"code": code})
    return grid


def _residents(table: Table, resolve, out: Parsed) -> None:
    flag_fields = [f for f in ("elderly_alone", "low_income", "poverty") if f in table.labels]
    seen: dict[str, int] = {}
    buildings: dict[tuple[int, str], int | None] = {}
    for number, cells in table.rows:
        row = _Row(number, cells, table.labels, out.errors)
        grid = _grid(row, resolve)
        household_number = row.text("household", max_length=40)
        address = row.text("address", max_length=200)
        if not household_number and not address:
            row.error("address" if "address" in table.labels else "household", _("户号和地址至少填写一项。"))
        name = row.text("name", required=True, max_length=50)
        id_number = row.cells.get("id_number", "").upper()
        if not id_number:
            row.error("id_number", _("不能为空。"))
        elif not idnumber.is_valid(id_number):
            # The number itself is never echoed back: error reports get passed around.
            row.error("id_number", _("身份证号码不正确(应为 18 位且校验位正确)；Excel 中请把该列设为文本格式。"))
        elif id_number in seen:
            row.error("id_number", _("与第 %(row)s 行的身份证号重复。") % {"row": seen[id_number]})
        else:
            seen[id_number] = number
        phone = row.phone("phone")
        relation = row.choice("relation", Relation, Relation.OTHER)
        flags = {f: row.flag(f) for f in flag_fields}
        building_id = None
        building_name = row.text("building", max_length=100)
        if building_name and grid is not None:
            key = (grid.id, building_name)
            if key not in buildings:
                buildings[key] = Building.objects.filter(grid_id=grid.id, name=building_name).values_list(
                    "id", flat=True).first()
            building_id = buildings[key]
            if building_id is None:
                row.error("building", _("该网格中没有名为 %(name)s 的楼栋，请先导入楼栋。") % {"name": building_name})
        if row.ok and grid is not None:
            out.rows.append(ResidentRow(number, grid.id, household_number, address, building_id, name, id_number,
                                        phone, relation, flags))


def _buildings(table: Table, resolve, out: Parsed) -> None:
    seen: dict[tuple[int, str], int] = {}
    for number, cells in table.rows:
        row = _Row(number, cells, table.labels, out.errors)
        grid = _grid(row, resolve)
        name = row.text("name", required=True, max_length=100)
        if grid is not None and name:
            if (grid.id, name) in seen:
                row.error("name", _("与第 %(row)s 行的楼栋重名。") % {"row": seen[(grid.id, name)]})
            seen.setdefault((grid.id, name), number)
        address = row.text("address", max_length=200)
        kind = row.choice("kind", BuildingKind, BuildingKind.RESIDENTIAL)
        floors = row.numeric("floors", low=1, high=200, integer=True)
        lat = row.numeric("lat", low=-90, high=90)
        lng = row.numeric("lng", low=-180, high=180)
        if (lat is None) != (lng is None) and row.ok:
            row.error("lat" if lat is None else "lng", _("纬度和经度须同时填写。"))
        if row.ok and grid is not None:
            out.rows.append(BuildingRow(number, grid.id, name, address, kind,
                                        int(floors) if floors is not None else None, lat, lng))


def _organisations(table: Table, resolve, out: Parsed) -> None:
    seen: dict[tuple[int, str], int] = {}
    for number, cells in table.rows:
        row = _Row(number, cells, table.labels, out.errors)
        grid = _grid(row, resolve)
        name = row.text("name", required=True, max_length=100)
        if grid is not None and name:
            if (grid.id, name) in seen:
                row.error("name", _("与第 %(row)s 行的组织重名。") % {"row": seen[(grid.id, name)]})
            seen.setdefault((grid.id, name), number)
        kind = row.choice("kind", OrganisationKind, OrganisationKind.OTHER)
        contact = row.text("contact", max_length=50)
        phone = row.phone("phone")
        address = row.text("address", max_length=200)
        if row.ok and grid is not None:
            out.rows.append(OrganisationRow(number, grid.id, name, kind, contact, phone, address))


def registered_out_of_reach(viewer: Viewer, id_numbers: Iterable[str]) -> set[str]:
    """The ID numbers among ``id_numbers`` of people already registered whom ``viewer`` may not see:
    neither their 户籍 region nor the household they live in lies in the viewer's regions.

    An import finds people by ID number across the whole district; without this, a community clerk
    could rename, re-flag (低保/贫困户 feed 免申即享) and re-house anyone whose number they knew.
    """
    from yiwang.grid.models import HouseholdMember
    from yiwang.org.models import Resident

    numbers = set(id_numbers)
    if viewer.is_superuser or not numbers:
        return set()
    households = dict(HouseholdMember.objects.filter(resident__id_number__in=numbers)
                      .values_list("resident_id", "household__region_path"))
    out = set()
    for resident_id, number, path in Resident.objects.filter(id_number__in=numbers).values_list(
            "id", "id_number", "region_path"):
        lives = households.get(resident_id)
        if not (viewer.can_see_path(path) or (lives and viewer.can_see_path(lives))):
            out.add(number)
    return out


def _refuse_out_of_reach(viewer: Viewer, table: Table, out: Parsed) -> None:
    hidden = registered_out_of_reach(viewer, (row.id_number for row in out.rows))
    if not hidden:
        return
    kept = []
    for parsed in out.rows:
        if parsed.id_number in hidden:
            # Says that the number is taken, never by whom or where: the clerk of the person's own
            # region is the one who may change them.
            _Row(parsed.row, {}, table.labels, out.errors).error(
                "id_number", _("该身份证号的居民登记在您管辖的区域之外，不能在此导入或修改；"
                               "请联系其户籍或居住地的工作人员。"))
        else:
            kept.append(parsed)
    out.rows = kept


def parse_table(*, viewer: Viewer, kind: str, filename: str, data: bytes) -> Parsed:
    """Check every row of an upload; the good rows come back typed, the bad ones as RowErrors."""
    table = read_table(kind=kind, filename=filename, data=data)
    out = Parsed(kind=kind, total=len(table.rows))
    {"residents": _residents, "buildings": _buildings, "organisations": _organisations}[kind](
        table, grid_resolver(viewer), out)
    if kind == "residents":
        _refuse_out_of_reach(viewer, table, out)
    return out


# --- grid outlines (GeoJSON) -------------------------------------------------------------------


@dataclass(frozen=True)
class GridFeature:
    index: int  # position in "features", as a JSON path names it: features[3]
    code: str
    name: str
    parent_code: str
    geometry: dict


def feature_key(index: int, name: str) -> str:
    return f"features[{index}].{name}"


def parse_feature_collection(collection: object) -> tuple[list[GridFeature], dict[str, list[str]]]:
    """The features of a grid FeatureCollection, and errors keyed by their JSON path."""
    errors: dict[str, list[str]] = {}
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        return [], {"type": [_("文件须为 GeoJSON FeatureCollection。")]}
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        return [], {"features": [_("features 须为非空数组。")]}
    out: list[GridFeature] = []
    seen: dict[str, int] = {}
    for i, feature in enumerate(features):
        def bad(name: str, message: str, i: int = i) -> None:
            errors.setdefault(feature_key(i, name), []).append(message)

        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            bad("type", _("须为 GeoJSON Feature。"))
            continue
        props = feature.get("properties")
        if not isinstance(props, dict):
            bad("properties", _("缺少 properties(须含 code、name、parent)。"))
            continue
        values = {}
        for key, limit in (("code", 32), ("name", 100), ("parent", 32)):
            value = props.get(key)
            if not isinstance(value, str) or not value.strip():
                bad(f"properties.{key}", _("须为非空字符串。"))
            elif found := CONTROL_CHARACTERS.search(value):
                bad(f"properties.{key}", refusal(None, found.group()))
            elif len(value.strip()) > limit:
                bad(f"properties.{key}", _("不能超过 %(n)s 个字符。") % {"n": limit})
            else:
                values[key] = value.strip()
        code = values.get("code")
        if code:
            if code in seen:
                bad("properties.code", _("网格编码 %(code)s 与 features[%(other)s] 重复。")
                    % {"code": code, "other": seen[code]})
            seen.setdefault(code, i)
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
            bad("geometry", _("须为 GeoJSON Polygon。"))
        elif len(values) == 3 and feature_key(i, "properties.code") not in errors:
            out.append(GridFeature(i, values["code"], values["name"], values["parent"], geometry))
    return out, errors
