"""Stored text written into files people open elsewhere: Excel workbooks (.xlsx) and PDFs.

Every export survives whatever is stored, whenever and however it was stored (before core.text's
rule, by a restore, by hand in the database): a file is never refused for one bad row.

- Characters XML cannot carry (C0 controls other than tab, line feed and carriage return) would
  make openpyxl refuse the whole workbook; they are written as U+FFFD, so the reader sees that
  something was there. PDFs get the same treatment, for the same reader. A carriage return (a
  textarea's CRLF) is written as a line feed, Excel's line break: XML reads CR LF as LF anyway.
- Text is never a formula (CWE-1236, "CSV/formula injection"): openpyxl writes a str starting
  with "=" as a formula, so every text cell is stored as a string cell, and one that starts like a
  formula ("=", "+", "-", "@", a tab or a line break) also gets Excel's quote prefix (the leading
  apostrophe a person types), so that editing the cell in Excel keeps it text as well.

yiwang has no CSV export; one would prefix such a value with "'" instead, CSV having no cell types.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape

from django.utils import timezone
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

REPLACEMENT = "\ufffd"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def cell_text(value: str) -> str:
    """``value`` with every character XML (and so .xlsx) cannot carry replaced by U+FFFD, line breaks as LF."""
    value = ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT, value)
    return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value


def sheet_row(sheet, values: Iterable) -> list:
    """``values`` ready for ``sheet.append`` (a write-only sheet or a normal one): text cleaned and never
    a formula, datetimes in local time (Excel has no time zones); numbers and dates as they are."""
    out = []
    for value in values:
        if isinstance(value, str):
            value = cell_text(value)
            if value.startswith(FORMULA_TRIGGERS):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                cell.quotePrefix = True
                value = cell
        elif isinstance(value, dt.datetime) and timezone.is_aware(value):
            value = timezone.localtime(value).replace(tzinfo=None)
        out.append(value)
    return out


def pdf_text(value: object) -> str:
    """``value`` as the markup of a reportlab Paragraph: XML-escaped (a "<" in a title must not be read as
    a tag), line breaks kept, characters XML cannot carry as U+FFFD."""
    return escape(cell_text(str(value)), quote=False).replace("\n", "<br/>")
