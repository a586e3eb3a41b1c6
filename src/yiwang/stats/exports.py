"""Excel (.xlsx) exports of the dashboard's tables: the cases behind a figure, and the region table.

Workbooks are built with openpyxl's write-only mode into a temporary file, so memory stays flat
however many rows there are, and the file is then streamed to the client in blocks. Every row goes
through core.exports.sheet_row: whatever text is stored, the file opens and no cell is a formula.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from typing import NamedTuple

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from yiwang.cases.deadlines import missed_deadline
from yiwang.cases.models import Case
from yiwang.core import clock
from yiwang.core.exports import sheet_row
from yiwang.core.idnumber import mask_phone, mask_text
from yiwang.feedback.selectors import rating_label, tag_labels
from yiwang.org.models import Level
from yiwang.stats.selectors import state_labels

MAX_ROWS = 100_000
CHUNK = 2000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

CASE_COLUMNS = [
    ("办件编号", 22), ("标题", 36), ("事项", 24), ("状态", 10), ("当前办理单位", 28), ("所属区域", 16),
    ("提交时间", 19), ("办理期限", 19), ("办结时间", 19), ("是否超期", 9), ("申请人", 10), ("联系电话", 14),
    ("评价等级", 10), ("评价内容", 24), ("评价意见", 36),
]
REGION_COLUMNS = [
    ("区域", 20), ("区划代码", 18), ("层级", 8), ("案件数", 9), ("在办", 9), ("超期", 9), ("已办结", 9),
    ("按时办结率(%)", 14), ("评价数", 9), ("差评数", 9), ("满意率(%)", 12), ("村(社区)办结占比(%)", 18),
]


def _sheet(workbook: Workbook, title: str, columns: list[tuple[str, int]]):
    sheet = workbook.create_sheet(title)
    for index, (_header, width) in enumerate(columns):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    sheet.freeze_panes = "A2"
    header = []
    for name, _width in columns:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    return sheet


def _saved(workbook: Workbook):
    out = tempfile.TemporaryFile()  # noqa: SIM115 -- the response streams it, then closes it
    try:
        workbook.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def cases_workbook(queryset: QuerySet[Case]):
    """One row per case, at most MAX_ROWS, then a note row saying the list was cut and how to narrow it."""
    labels = state_labels()
    now = clock.now()
    workbook = Workbook(write_only=True)
    sheet = _sheet(workbook, _("办件清单"), CASE_COLUMNS)
    rows = queryset.order_by("-created_at", "-id").values_list(
        "id", "created_at", "title", "matter__name", "kind", "state", "holder_unit__name", "region__name",
        "due_at", "closed_at", "suspended_at", "applicant_name", "applicant_phone",
        "evaluation__rating", "evaluation__tags", "evaluation__comment",
    )[: MAX_ROWS + 1]
    for written, row in enumerate(rows.iterator(chunk_size=CHUNK)):
        if written == MAX_ROWS:
            sheet.append(sheet_row(sheet, [_("仅导出前 %(n)s 条，请缩小筛选范围后再导出其余的。") % {"n": MAX_ROWS}]))
            break
        sheet.append(sheet_row(sheet, _case_line(row, labels, now)))
    return _saved(workbook)


class _Clock(NamedTuple):
    closed_at: dt.datetime | None
    suspended_at: dt.datetime | None
    due_at: dt.datetime | None


def _case_line(row: tuple, labels: dict, now: dt.datetime) -> list:
    (pk, created_at, title, matter, kind, state, holder, region, due_at, closed_at, suspended_at,
     name, phone, rating, tags, comment) = row
    # 是否超期: overdue while open, closed late once closed (the case list's badge, cases.deadlines).
    overdue = missed_deadline(_Clock(closed_at, suspended_at, due_at), now)
    return [
        Case.format_number(created_at, pk), mask_text(title), matter, labels.get((kind, state), state), holder, region,
        created_at, due_at, closed_at, _("是") if overdue else _("否"), mask_text(name, phones=False),
        mask_phone(phone), rating_label(rating), "、".join(tag_labels(tags or [])), mask_text(comment or ""),
    ]


def region_workbook(breakdown: dict):
    """The drill-down table as shown: one row per child region, then the total."""
    workbook = Workbook(write_only=True)
    sheet = _sheet(workbook, _("分区域指标"), REGION_COLUMNS)

    def line(name: str, code: str, level: str, row: dict) -> list:
        return [name, code, level, row["cases"], row["open"], row["overdue"], row["closed"],
                _rate(row["on_time_rate"]), row["ratings"], row["bad_reviews"], _rate(row["satisfaction_rate"]),
                _rate(row["community_share"])]

    for row in breakdown["rows"]:
        region = row["region"]
        if region is None:
            sheet.append(sheet_row(sheet, line(_("本单位在辖区外承办"), "", "", row)))
        elif row["key"] == "":
            sheet.append(sheet_row(sheet, line(_("%(name)s(本级)") % {"name": region.name}, region.code, "", row)))
        else:
            sheet.append(sheet_row(sheet, line(region.name, region.code, str(Level(region.level).label), row)))
    place = breakdown["place"]
    sheet.append(sheet_row(sheet, line(_("合计"), place.region.code if place.region else "", "", breakdown["total"])))
    return _saved(workbook)


def _rate(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None
