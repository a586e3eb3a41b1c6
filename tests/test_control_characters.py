"""Control characters in free text (yiwang.core.text): refused at every entry point — the API, pages,
the admin, Open311, imports and the command line — and survived by every export, whatever is stored.

A title "垃圾\\u000b堆放" once made /dashboard/cases/export.xlsx answer 500 for its community, its city and
the whole area until the row was fixed by hand: openpyxl refuses the whole workbook for one such cell.
"""

from __future__ import annotations

import io
import re
import sys
import xml.etree.ElementTree as ET

import pypdfium2 as pdfium
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from openpyxl import load_workbook

from yiwang.cases.models import Case
from yiwang.cases.services import case_create
from yiwang.core import confcache
from yiwang.core.exports import FORMULA_TRIGGERS
from yiwang.core.text import control_character_in
from yiwang.grid.services import ImportRefused, data_import
from yiwang.testing import SENIOR_OK

HOSTILE = "垃圾\u000b堆放"
SHOWN = "垃圾\ufffd堆放"  # how an export writes what XML cannot carry


def submit(api, **overrides):
    body = {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "applicant_name": "王大爷",
            "applicant_phone": "13800000001", "channel": "hall", **SENIOR_OK, **overrides}
    return api("post", "/cases", "clerk_xfl", body)


def no_case_holds_a_control_character() -> bool:
    texts = Case.objects.values_list("title", "description", "applicant_name", "address", "form_data")
    return all(control_character_in(list(row)) is None for row in texts)


# --- entry points ------------------------------------------------------------------------------------


def test_the_api_refuses_a_control_character_with_a_422_naming_the_field(api):
    response = submit(api, title=HOSTILE)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["errors"] == {"title": ["title 含有不可见的控制字符(U+000B)，请删除后重新提交。"]}
    assert Case.objects.count() == 0


@pytest.mark.parametrize(("overrides", "field"), [
    ({"form": {"birth_date": "1950-01-01", "reason": "腿脚\x1b不便"}}, "form.reason"),
    ({"materials": [{"code": "id_card", "name": "身份证\x7f"}, {"code": "photo"}]}, "materials.0.name"),
    ({"description": "第一行\r\n第二行\x0c"}, "description"),
])
def test_the_api_names_the_field_however_deep_it_sits(api, overrides, field):
    response = submit(api, **overrides)
    assert response.status_code == 422
    assert list(response.json()["errors"]) == [field]
    assert Case.objects.count() == 0


def test_tab_line_breaks_and_line_separators_are_text(api):
    """A textarea's CRLF, a tab, and U+2028/2029 (office software's line and paragraph breaks) are kept."""
    description = "第一行\r\n第二行\t缩进\u2028第三行\u2029第四段"
    response = submit(api, title="门前\t积水", description=description)
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert (case.title, case.description) == ("门前\t积水", description)


def test_a_query_parameter_with_a_control_character_is_refused_in_the_apis_format(api):
    response = api("get", "/cases?matter=SENIOR%0BCARD", "clerk_xfl")
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["matter"]


def test_a_page_form_post_is_refused_naming_the_field(world):
    resident = Client()
    resident.force_login(world.users["resident_wang"])
    response = resident.post("/report/", {"category": "INC_PARKING", "region_code": "KG-DZ-XFL",
                                          "description": HOSTILE, "lat": "34.405", "lng": "108.705"})
    assert response.status_code == 422
    assert "description 含有不可见的控制字符(U+000B)" in response.content.decode()
    assert Case.objects.count() == 0


def test_the_admin_refuses_a_control_character(world):
    admin = Client()
    admin.force_login(world.users["admin"])
    unit = world.units["xfl_sh"]
    response = admin.post(f"/admin/org/unit/{unit.pk}/change/", {"name": "幸福里\x08服务站", "code": unit.code})
    assert response.status_code == 422 and "name 含有不可见的控制字符(U+0008)" in response.content.decode()
    unit.refresh_from_db()
    assert unit.name == "幸福里社区便民服务站"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_refuses_a_control_character_in_its_own_error_format(world, client, fmt):
    from yiwang.open311.services import api_key_create

    key = api_key_create(name="test-app")[1]
    response = client.post(f"/open311/v2/requests.{fmt}", {
        "api_key": key, "service_code": "INC_PARKING", "lat": "34.405", "long": "108.705", "description": HOSTILE})
    assert response.status_code == 400  # GeoReport v2: a bad argument
    if fmt == "json":
        assert response.json() == [{"code": 400, "description": "description 含有不可见的控制字符(U+000B)，请删除后重新提交。"}]
    else:
        error = ET.fromstring(response.content).find("error")
        assert error.findtext("code") == "400" and error.findtext("description").startswith("description 含有")
    assert Case.objects.count() == 0


def test_a_grid_import_cell_with_a_control_character_is_a_row_error_naming_the_column(world):
    from yiwang.grid.tests.conftest import RESIDENT_HEADER, csv_bytes, id_number

    rows = [RESIDENT_HEADER, ["KG-DZ-XFL-G1", "101", "幸福里1号楼101", "张\x0b三", id_number(1), "", "户主", "", "", ""]]
    with pytest.raises(ImportRefused) as refused:
        data_import(viewer=world.viewer("gridder_xfl"), kind="residents", filename="r.csv", data=csv_bytes(rows),
                    skip_bad=False)
    [error] = refused.value.rows
    assert (error.row, error.column) == (2, "姓名") and "控制字符(U+000B)" in error.message


def test_a_grid_outline_with_a_control_character_in_its_name_is_refused(world):
    from yiwang.core.errors import ValidationFailed
    from yiwang.grid.services import grid_outlines_import
    from yiwang.testing import square

    feature = {"type": "Feature", "geometry": square(108.72, 34.40, 0.01),
               "properties": {"code": "KG-DZ-XFL-G3", "name": "第三\x00网格", "parent": "KG-DZ-XFL"}}
    with pytest.raises(ValidationFailed) as refused:
        grid_outlines_import(collection={"type": "FeatureCollection", "features": [feature]})
    assert "features[0].properties.name" in refused.value.errors


def test_the_command_line_refuses_a_control_character_with_a_message_and_a_non_zero_exit(world, monkeypatch):
    from yiwang.cli import main

    monkeypatch.setattr(sys, "argv", ["yiwang", "case", "create", "--as", "clerk_xfl", "--matter", "SENIOR_CARD",
                                      "--title", HOSTILE])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == "yiwang: --title holds an invisible control character (U+000B): " \
                                "remove it and run the command again."  # a str: exit status 1
    assert Case.objects.count() == 0


def test_a_control_character_escaped_in_the_commands_json_is_refused(world):
    with pytest.raises(CommandError, match=r"form\.reason 含有不可见的控制字符\(U\+000B\)"):
        call_command("case", "create", "--as", "clerk_xfl", "--matter", "SENIOR_CARD", "--materials", "id_card,photo",
                     "--form", '{"birth_date": "1950-01-01", "reason": "腿脚\\u000b不便"}', stdout=io.StringIO())
    assert Case.objects.count() == 0


def test_a_calendar_file_with_a_control_character_is_refused(tmp_path):
    from yiwang.cases.workdays import parse_calendar_file
    from yiwang.core.errors import ValidationFailed

    path = tmp_path / "2027.csv"
    path.write_text("date,type,name\n2027-01-01,holiday,元\x0b旦\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="第 2 行 name 含有不可见的控制字符"):
        parse_calendar_file(path)


@pytest.mark.parametrize("path", ["/matters/%00/", "/grid/%00/", "/matters/SENIOR%0BCARD/", "/cases/%1F/"])
def test_a_page_whose_path_holds_a_control_character_is_not_found(world, path):
    """A page's path names a record; PostgreSQL refused even to look a NUL up (a 500 before)."""
    staff = Client()
    staff.force_login(world.users["admin"])
    response = staff.get(path)
    assert response.status_code == 404
    page = response.content.decode()
    assert "页面不存在" in page and "您要找的页面或记录不存在" in page


def test_nul_is_never_stored(world, api, client):
    """PostgreSQL cannot store NUL and SQLite would keep it: every entry point refuses it before a write."""
    assert submit(api, description="a\x00b").status_code == 422
    assert submit(api, form={"birth_date": "1950-01-01", "reason": "\x00"}).status_code == 422
    resident = Client()
    resident.force_login(world.users["resident_wang"])
    assert resident.post("/report/", {"category": "INC_PARKING", "region_code": "KG-DZ-XFL", "description": "a\x00b",
                                      "lat": "34.405", "lng": "108.705"}).status_code == 422
    from yiwang.open311.services import api_key_create

    key = api_key_create(name="nul-app")[1]
    assert client.post("/open311/v2/requests.json", {"api_key": key, "service_code": "INC_PARKING", "lat": "34.405",
                                                     "long": "108.705", "address_string": "\x00"}).status_code == 400
    assert Case.objects.count() == 0


# --- exports -----------------------------------------------------------------------------------------


EXPORT_SUFFIX = re.compile(r"\.(xlsx|pdf|csv)\b")
CASE_TEXTS = [f"{SHOWN} =1+1", '=HYPERLINK("http://evil.example","点我")', "=1+1\ufffd", "@SUM(1+1)",
              "+幸福里\ufffd社区"]
BATCH_TEXTS = ["<b>第一批</b> & \ufffd整改台账", "-1+1\ufffd清单", f"=1+1{SHOWN}", "\t=cmd|' /C calc'!A0", "@张三\ufffd"]
LIST_TEXTS = ["-1+1\ufffd清单整改台账", f"=1+1{SHOWN}", "\t=cmd|' /C calc'!A0"]
# Every export, fetched by someone allowed to see it, with text each must show (a spreadsheet: as cell
# values; a PDF: in its text). test_every_export_route_is_listed fails when an export is added and not here.
EXPORTS = [
    ("admin", "/dashboard/cases/export.xlsx", CASE_TEXTS),
    ("admin", "/dashboard/cases/export.xlsx?region=XX", CASE_TEXTS),
    ("leader_kg", "/dashboard/cases/export.xlsx?region=KG", CASE_TEXTS),
    ("leader_kg", "/dashboard/cases/export.xlsx?region=KG-DZ-XFL", CASE_TEXTS),
    ("admin", "/dashboard/export.xlsx?region=XX", ["空港新城"]),
    ("leader_kg", "/dashboard/export.xlsx?region=KG-DZ", ["+幸福里\ufffd社区"]),
    ("leader_kg", "/ledger/batches/{batch}/ledger.xlsx", BATCH_TEXTS),
    ("leader_kg", "/ledger/batches/{batch}/ledger.pdf", ["<b>第一批</b>&", "清单", "堆放"]),
    ("leader_kg", "/ledger/lists/{plist}/ledger.xlsx", LIST_TEXTS),
    ("leader_kg", "/ledger/lists/{plist}/ledger.pdf", ["清单整改台账", "堆放"]),
    ("leader_kg", "/api/v1/ledger/batches/{batch}/ledger.xlsx", BATCH_TEXTS),
    ("leader_kg", "/api/v1/ledger/batches/{batch}/ledger.pdf", ["<b>第一批</b>&", "清单", "堆放"]),
]


def _routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    out = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            out += _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            out.append(route)
    return out


def _shape(route: str) -> str:
    """``ledger/batches/<int:batch_id>/ledger.xlsx``, ``/api/v1/ledger/batches/{batch_id}/ledger.xlsx`` and
    ``/ledger/batches/{batch}/ledger.xlsx?x=1`` alike: ``…/batches/{}/ledger.xlsx``, no leading slash."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", route.split("?")[0]).lstrip("/")


def test_every_export_route_is_listed():
    from yiwang.urls import api

    pages = {_shape(r) for r in _routes(get_resolver()) if EXPORT_SUFFIX.search(r) and not r.startswith("api/")}
    operations = {_shape(p) for p in api.get_openapi_schema()["paths"] if EXPORT_SUFFIX.search(p)}
    assert pages and operations
    assert pages | operations == {_shape(url) for _user, url, _texts in EXPORTS}


@pytest.fixture
def hostile(world):
    """Cases and a rectification ledger holding, as stored before any rule (written with the ORM, past every
    entry point), control characters XML cannot carry and text that reads as a spreadsheet formula."""
    from yiwang.cases.services import case_act
    from yiwang.ledger.models import Batch, ProblemList, RectificationItem
    from yiwang.ledger.tests.conftest import make_batch, make_item, make_list
    from yiwang.org.models import Region

    case = case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       **SENIOR_OK).case
    case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="accept", version=case.version)
    # NUL only where it could have been stored: SQLite keeps it, PostgreSQL never could.
    nul = "\x00" if connection.vendor == "sqlite" else "\x01"
    Case.objects.filter(pk=case.pk).update(title=f"{HOSTILE} =1+1", applicant_name=f"=1+1{nul}")
    formula = case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                          **SENIOR_OK).case
    Case.objects.filter(pk=formula.pk).update(title='=HYPERLINK("http://evil.example","点我")',
                                              applicant_name="@SUM(1+1)")
    Region.objects.filter(code="KG-DZ-XFL").update(name="+幸福里\x1f社区")
    batch = make_batch(world)
    plist = make_list(world, batch)
    item = make_item(world, plist)
    Batch.objects.filter(pk=batch.pk).update(title="<b>第一批</b> & \x0c")
    ProblemList.objects.filter(pk=plist.pk).update(title="-1+1\x0b清单")
    RectificationItem.objects.filter(pk=item.pk).update(problem=f"=1+1{HOSTILE}", measures="\t=cmd|' /C calc'!A0",
                                                        responsible_person="@张三\x01")
    confcache.clear_all()  # the region's name is cached with the hierarchy
    return {"batch": batch.pk, "plist": plist.pk}


def _fetch(client: Client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize(("username", "url", "texts"), EXPORTS)
def test_every_export_survives_control_characters_and_formulas(world, hostile, username, url, texts):
    client = Client()
    client.force_login(world.users[username])
    content = _fetch(client, url.format(**hostile))
    if ".pdf" in url:
        pdf = pdfium.PdfDocument(content)
        text = "".join("".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf)))
        for value in texts:  # "<b>" escaped: a "<" in a title is text, not markup that breaks the PDF
            assert value in text, (value, text)
        return
    cells = [cell for sheet in load_workbook(io.BytesIO(content)).worksheets for row in sheet.iter_rows()
             for cell in row if cell.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # nothing is a formula
    for cell in cells:
        if isinstance(cell.value, str) and cell.value.startswith(FORMULA_TRIGGERS):
            assert cell.data_type == "s" and cell.quotePrefix, (cell.coordinate, cell.value)
    values = [c.value for c in cells if isinstance(c.value, str)]
    assert control_character_in(values) is None
    for value in texts:
        assert value in values, (value, values)
