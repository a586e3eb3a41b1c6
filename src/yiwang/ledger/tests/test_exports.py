"""The ledger exports to .xlsx and prints to .pdf in the 台账 layout; both are opened again here, and
the PDF's first page is rendered to a PNG for a person to look at (path printed in the output)."""

import datetime as dt
import io
import os
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook

from yiwang.core import clock
from yiwang.ledger import exports
from yiwang.ledger.tests.conftest import accept_item, make_batch, make_item, make_list

pytestmark = pytest.mark.django_db
RESULTS = Path(__file__).resolve().parents[4] / "test-results" / "ledger"


@pytest.fixture
def ledger(world):
    batch = make_batch(world)
    plist = make_list(world, batch)
    items = [make_item(world, plist, problem=f"问题{n}：组织生活不规范" + "，情况说明" * (n % 4),
                       measures=f"措施{n}：建立台账", immediate=n % 3 == 0,
                       due_at=clock.today() + dt.timedelta(days=5 + n % 20))
             for n in range(1, 41)]
    accept_item(world, items[0])
    items[1].case.refresh_from_db()
    return batch, items


def document(world, batch):
    return exports.batch_document(world.viewer("leader_kg"), batch)


def test_the_workbook_reads_back_with_numbered_rows(world, ledger):
    batch, items = ledger
    book = load_workbook(io.BytesIO(exports.ledger_xlsx(document(world, batch))))
    sheet = book.active
    assert sheet["A1"].value == "软弱涣散基层党组织整顿（第一批）整改台账"
    header = [c.value for c in sheet[3]]
    assert header[:4] == ["序号", "问题清单", "存在问题", "整改措施"] and "验收日期" in header
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    assert [r[0] for r in rows] == list(range(1, 41))
    first = dict(zip(header, rows[0], strict=True))
    assert first["存在问题"] == items[0].problem and first["责任单位"] == "程家村党支部"
    assert first["整改状态"] == "已验收" and first["验收日期"].date() == clock.today()
    assert first["案件编号"] == items[0].case.number
    assert dict(zip(header, rows[2], strict=True))["整改类型"] == "立行立改"
    assert dict(zip(header, rows[1], strict=True))["整改状态"] == "待整改"


def test_a_typed_formula_stays_text(world):
    batch = make_batch(world)
    make_item(world, make_list(world, batch), problem="=HYPERLINK(\"http://x\")")
    sheet = load_workbook(io.BytesIO(exports.ledger_xlsx(document(world, batch)))).active
    assert sheet["C4"].data_type == "s"


def test_the_pdf_has_every_row_over_its_pages_and_renders(world, ledger):
    batch, items = ledger
    data = exports.ledger_pdf(document(world, batch))
    pdf = pdfium.PdfDocument(data)
    assert len(pdf) >= 2  # forty rows do not fit one landscape page
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    compact = "".join(text.split())
    assert "软弱涣散基层党组织整顿（第一批）整改台账" in compact
    for item in items:
        assert item.case.number in compact
    assert "序号" in "".join(pdf[1].get_textpage().get_text_range().split())  # the header repeats
    assert "已验收" in compact and "第2页" in compact
    RESULTS.mkdir(parents=True, exist_ok=True)
    png = RESULTS / "ledger-page-1.png"
    pdf[0].render(scale=1.5).to_pil().save(png)
    (RESULTS / "ledger.pdf").write_bytes(data)
    assert png.stat().st_size > 10_000
    print(f"\nledger PDF rendered for review: {png}")
    if os.environ.get("CI") is None:
        assert png.exists()
