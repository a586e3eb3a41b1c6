"""core.exports: any stored text goes into a workbook or a PDF, and no spreadsheet cell is a formula."""

import datetime as dt
import io

import pytest
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from yiwang.core.exports import pdf_text, sheet_row


def written(values, *, write_only):
    workbook = Workbook(write_only=write_only)
    sheet = workbook.create_sheet("x") if write_only else workbook.active
    sheet.append(sheet_row(sheet, values))
    out = io.BytesIO()
    workbook.save(out)
    return next(load_workbook(io.BytesIO(out.getvalue())).worksheets[0].iter_rows())


@pytest.mark.parametrize("write_only", [True, False])
def test_text_that_starts_like_a_formula_is_a_quoted_string_cell(write_only):
    values = ["=1+1", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\n=1", "=HYPERLINK(\"http://evil.example\")"]
    for cell, value in zip(written([*values, "\r=1"], write_only=write_only), [*values, "\n=1"], strict=True):
        assert (cell.value, cell.data_type, cell.quotePrefix) == (value, "s", True)


@pytest.mark.parametrize("write_only", [True, False])
def test_characters_xml_cannot_carry_are_written_as_the_replacement_character(write_only):
    cells = written(["垃圾\x0b堆放", "a\x00b\x1fc", "第一行\r\n第二行\t完\r", "DEL\x7f"], write_only=write_only)
    assert [c.value for c in cells] == ["垃圾\ufffd堆放", "a\ufffdb\ufffdc", "第一行\n第二行\t完\n", "DEL\x7f"]
    assert [c.quotePrefix for c in cells] == [False] * 4


def test_numbers_dates_and_aware_datetimes_keep_their_type():
    moment = timezone.make_aware(dt.datetime(2024, 3, 1, 9, 30))
    number, day, when = written([5, dt.date(2024, 3, 1), moment], write_only=True)
    assert (number.value, day.value.date(), when.value) == (5, dt.date(2024, 3, 1), dt.datetime(2024, 3, 1, 9, 30))


def test_pdf_text_is_markup_safe():
    assert pdf_text("<b>标题</b> & 垃圾\x0b堆放\r\n下一行") == "&lt;b&gt;标题&lt;/b&gt; &amp; 垃圾\ufffd堆放<br/>下一行"
