"""The rectification ledger (整改台账) as an Excel workbook and as a printable PDF, in the usual layout:
numbered rows — problem, measures, responsible unit and person, deadline, status, acceptance date.

The PDF uses reportlab's built-in CID font STSong-Light (Adobe's Song typeface for simplified
Chinese): every PDF reader carries it, so no font file ships with yiwang or is embedded.

Every cell and paragraph goes through core.exports (sheet_row, pdf_text): whatever text is stored,
both files are made, and no cell of the workbook is a formula.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side

from yiwang.core import clock
from yiwang.core.exports import pdf_text, sheet_row
from yiwang.core.idnumber import mask_text
from yiwang.ledger import selectors
from yiwang.ledger.selectors import LedgerRow

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
FONT = "STSong-Light"


@dataclass(frozen=True)
class LedgerDoc:
    title: str  # e.g. 软弱涣散基层党组织整顿（第一批）整改台账
    subtitle: str  # the region, the accepting unit, the batch's stage
    rows: list[LedgerRow]


def columns() -> list[tuple[str, int]]:
    """(header, Excel width): the order of the ledger's columns in both formats."""
    return [
        (_("序号"), 6), (_("问题清单"), 18), (_("存在问题"), 40), (_("整改措施"), 40), (_("责任单位"), 20),
        (_("责任人"), 10), (_("整改类型"), 10), (_("整改时限"), 12), (_("整改状态"), 10), (_("验收日期"), 12),
        (_("案件编号"), 22),
    ]


def _line(row: LedgerRow) -> list:
    item, case = row.item, row.case
    due = timezone.localdate(case.due_at) if case.due_at else None
    state = row.state_label + (_("（超期）") if row.overdue else "")
    # Typed text is written masked: a ledger is printed and passed around (core.idnumber.mask_text).
    return [row.seq, mask_text(item.problem_list.title), mask_text(item.problem), mask_text(item.measures),
            case.holder_unit.name, mask_text(item.responsible_person),
            _("立行立改") if item.immediate else _("长期整改"), due, state, row.accepted_on, case.number]


def ledger_xlsx(doc: LedgerDoc) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("整改台账")
    cols = columns()
    sheet.append(sheet_row(sheet, [doc.title]))
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(cols))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(sheet_row(sheet, [doc.subtitle]))
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(cols))
    sheet.append(sheet_row(sheet, [name for name, _width in cols]))
    thin = Side(style="thin")
    for index, (_name, width) in enumerate(cols, start=1):
        letter = sheet.cell(row=3, column=index).column_letter
        sheet.column_dimensions[letter].width = width
        sheet.cell(row=3, column=index).font = Font(bold=True)
    for row in doc.rows:
        sheet.append(sheet_row(sheet, _line(row)))
    wrap = Alignment(wrap_text=True, vertical="top")
    for cells in sheet.iter_rows(min_row=3, max_row=sheet.max_row):
        for cell in cells:
            cell.alignment = wrap
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            if isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A4"
    sheet.print_title_rows = "3:3"
    sheet.page_setup.orientation = "landscape"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def ledger_pdf(doc: LedgerDoc) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    title_style = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=22, alignment=1)
    sub_style = ParagraphStyle("sub", fontName=FONT, fontSize=9, leading=13, alignment=1)
    cell = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=11, wordWrap="CJK")
    head = ParagraphStyle("head", parent=cell, fontSize=8.5, alignment=1)

    def para(value, style=cell) -> Paragraph:
        if value is None or value == "":
            value = "—"
        elif isinstance(value, dt.date):
            value = value.strftime("%Y-%m-%d")
        return Paragraph(pdf_text(value), style)

    cols = columns()
    # Widths in mm over the 277 mm of a landscape A4 less margins (≈ 267 mm).
    widths = [11, 26, 50, 49, 28, 14, 17, 18, 16, 18, 20]
    data = [[para(name, head) for name, _w in cols]]
    data += [[para(v) for v in _line(row)] for row in doc.rows]
    if not doc.rows:
        data.append([para(_("暂无整改事项。"))] + [para("") for _c in cols[1:]])
    table = LongTable(data, colWidths=[w * mm for w in widths], repeatRows=1)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    for index, row in enumerate(doc.rows, start=1):
        if row.overdue:
            style.append(("BACKGROUND", (7, index), (8, index), colors.HexColor("#ffebe9")))
    table.setStyle(TableStyle(style))
    printed = timezone.localtime(clock.now()).strftime("%Y-%m-%d %H:%M")

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawString(15 * mm, 8 * mm, _("打印时间：%(t)s") % {"t": printed})
        canvas.drawRightString(282 * mm, 8 * mm, _("第 %(n)s 页") % {"n": document.page})
        canvas.restoreState()

    out = io.BytesIO()
    pdf = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm, title=doc.title, author="yiwang")
    pdf.build([Paragraph(pdf_text(doc.title), title_style), Paragraph(pdf_text(doc.subtitle), sub_style),
               Spacer(1, 4 * mm), table],
              onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def batch_document(viewer, batch) -> LedgerDoc:
    """The ledger of a batch, as far as the viewer may see it."""
    items = selectors.items_of(viewer, batch=batch)
    progress = selectors.progress_of(items, accepted_at=batch.accepted_at)
    subtitle = _("%(region)s · 验收单位：%(unit)s · %(stage)s · 共 %(n)s 项，已验收 %(a)s 项") % {
        "region": batch.region.name, "unit": batch.supervisor_unit.name, "stage": progress.stage_label,
        "n": progress.total, "a": progress.accepted}
    return LedgerDoc(_("%(t)s整改台账") % {"t": mask_text(batch.title)}, subtitle, selectors.ledger_rows(items))


def list_document(viewer, plist) -> LedgerDoc:
    items = selectors.items_of(viewer, problem_list=plist)
    return LedgerDoc(_("%(t)s整改台账") % {"t": mask_text(plist.title)}, plist.region.name,
                     selectors.ledger_rows(items))


def download(doc: LedgerDoc, fmt: str, stem: str):
    """The ledger as an attachment: ``fmt`` is "xlsx" or "pdf"."""
    from django.http import HttpResponse

    body, content_type = (ledger_xlsx(doc), XLSX) if fmt == "xlsx" else (ledger_pdf(doc), PDF)
    response = HttpResponse(body, content_type=content_type)
    day = timezone.localdate(clock.now()).strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="ledger-{stem}-{day}.{fmt}"'
    return response
