"""Residents, households, buildings and organisations from CSV or Excel: a bad row refuses the file."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from yiwang.grid.models import Building, Household, HouseholdMember, Organisation
from yiwang.grid.services import ImportRefused, data_import
from yiwang.grid.tests.conftest import RESIDENT_HEADER, bad_id_number, csv_bytes, id_number
from yiwang.org.models import Resident
from yiwang.org.services import token_create

G1 = "KG-DZ-XFL-G1"


def residents_csv(*rows):
    return csv_bytes([RESIDENT_HEADER, *rows])


def good_rows():
    return [
        [G1, "101", "幸福里1号楼101", "张三", id_number(1), "13900000001", "户主", "否", "是", ""],
        [G1, "101", "幸福里1号楼101", "张小三", id_number(2, "20100101"), "", "子女", "", "", ""],
        [G1, "102", "幸福里1号楼102", "孤老汉", id_number(3, "19400101"), "13900000003", "户主", "是", "", "是"],
    ]


def run_import(world, data, kind="residents", username="gridder_xfl", skip_bad=False, filename="r.csv"):
    return data_import(viewer=world.viewer(username), kind=kind, filename=filename, data=data, skip_bad=skip_bad)


def test_residents_and_households_are_imported(world):
    report = run_import(world, residents_csv(*good_rows()))
    assert (report.created, report.updated, report.households_created, report.errors) == (3, 0, 2, [])
    head = Resident.objects.get(id_number=id_number(1))
    assert head.low_income and not head.elderly_alone and head.region.code == "KG-DZ-XFL"
    household = Household.objects.get(number="101")
    assert household.grid.code == G1 and household.head_name == "张三" and household.members.count() == 2
    assert Resident.objects.get(id_number=id_number(3, "19400101")).elderly_alone


def test_a_bad_checksum_or_unknown_grid_imports_nothing_and_names_row_and_column(world):
    rows = good_rows()
    rows[1][4] = bad_id_number(2)
    rows[2][0] = "NO-SUCH-GRID"
    with pytest.raises(ImportRefused) as caught:
        run_import(world, residents_csv(*rows))
    errors = {(e.row, e.column) for e in caught.value.rows}
    assert errors == {(3, "身份证号"), (4, "网格编码")}
    assert bad_id_number(2) not in str(caught.value.as_dict())  # never echoes the number back
    assert Resident.objects.filter(name="张三").count() == 0 and Household.objects.count() == 0


def test_with_skip_bad_the_good_rows_are_imported_and_the_bad_reported(world):
    rows = good_rows()
    rows[1][4] = bad_id_number(2)
    rows.append([G1, "", "", "无址", id_number(4), "12345", "外星人", "也许", "", ""])
    report = run_import(world, residents_csv(*rows), skip_bad=True)
    assert report.created == 2 and report.refused == 2
    assert {(e.row, e.column) for e in report.errors} == {
        (3, "身份证号"), (5, "地址"), (5, "手机号"), (5, "与户主关系"), (5, "独居老人")}
    assert set(Resident.objects.values_list("name", flat=True)) >= {"张三", "孤老汉"}
    assert not Resident.objects.filter(name="无址").exists()


def test_a_resident_is_matched_by_id_number_on_reimport(world):
    run_import(world, residents_csv(*good_rows()))
    moved = [G1, "201", "幸福里2号楼201", "张三", id_number(1).lower().upper(), "13900000009", "户主", "是", "否", ""]
    report = run_import(world, residents_csv(moved))
    assert (report.created, report.updated) == (0, 1)
    assert Resident.objects.filter(id_number=id_number(1)).count() == 1
    zhang = Resident.objects.get(id_number=id_number(1))
    assert zhang.phone == "13900000009" and zhang.elderly_alone and not zhang.low_income
    assert HouseholdMember.objects.get(resident=zhang).household.number == "201"


def test_an_existing_resident_is_matched_not_duplicated(world):
    wang = world.residents["wang"]
    report = run_import(world, residents_csv([G1, "9", "幸福里9号", "王大爷", wang.id_number, "", "户主", "是", "", ""]))
    assert report.updated == 1 and Resident.objects.filter(id_number=wang.id_number).count() == 1
    wang.refresh_from_db()
    assert wang.elderly_alone and wang.phone == "13800000001"  # a blank phone keeps the one on record


def test_a_duplicate_id_number_in_the_file_is_refused(world):
    rows = good_rows()
    rows[2][4] = rows[0][4]
    with pytest.raises(ImportRefused) as caught:
        run_import(world, residents_csv(*rows))
    assert caught.value.rows[0].row == 4 and "第 2 行" in caught.value.rows[0].message


def test_a_missing_column_refuses_the_file(world):
    with pytest.raises(Exception, match="身份证号"):
        run_import(world, csv_bytes([["网格编码", "姓名"], [G1, "张三"]]))


def test_a_staff_member_of_another_region_cannot_import_into_the_grid(world):
    with pytest.raises(ImportRefused) as caught:
        run_import(world, residents_csv(*good_rows()), username="clerk_spd")
    assert {e.column for e in caught.value.rows} == {"网格编码"}
    assert "无权" in caught.value.rows[0].message


def test_an_excel_file_is_read_like_a_csv(world):
    book = Workbook()
    sheet = book.active
    sheet.append(RESIDENT_HEADER)
    sheet.append([G1, 101, "幸福里1号楼101", "张三", id_number(1), 13900000001, "户主", True, None, None])
    out = io.BytesIO()
    book.save(out)
    report = run_import(world, out.getvalue(), filename="r.xlsx")
    assert report.created == 1
    zhang = Resident.objects.get(id_number=id_number(1))
    assert zhang.phone == "13900000001" and zhang.elderly_alone


def test_buildings_and_organisations_are_imported_and_updated_by_name(world):
    buildings = csv_bytes([["网格编码", "名称", "地址", "类型", "层数", "纬度", "经度"],
                           [G1, "1号楼", "幸福里1号楼", "住宅", "18", "34.405", "108.705"],
                           [G1, "商业楼", "", "商业", "", "", ""]])
    assert run_import(world, buildings, kind="buildings").created == 2
    again = csv_bytes([["网格编码", "名称", "层数"], [G1, "1号楼", "20"]])
    assert run_import(world, again, kind="buildings").updated == 1
    assert Building.objects.get(name="1号楼").floors == 20
    orgs = csv_bytes([["网格编码", "名称", "类型", "联系人", "电话"],
                      [G1, "幸福里超市", "个体商户", "李老板", "029-33123456"],
                      [G1, "", "学校", "", "电话坏了"]])
    with pytest.raises(ImportRefused) as caught:
        run_import(world, orgs, kind="organisations")
    assert {(e.row, e.column) for e in caught.value.rows} == {(3, "名称"), (3, "电话")}
    assert run_import(world, orgs, kind="organisations", skip_bad=True).created == 1
    assert Organisation.objects.get().kind == "shop"


def test_bad_building_values_are_named(world):
    data = csv_bytes([["网格编码", "名称", "类型", "层数", "纬度", "经度"], [G1, "X", "城堡", "-3", "91", ""]])
    with pytest.raises(ImportRefused) as caught:
        run_import(world, data, kind="buildings")
    assert {e.column for e in caught.value.rows} == {"类型", "层数", "纬度"}


# --- the CLI -----------------------------------------------------------------------------------


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("grid", "import-data", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_cli_imports_a_good_file(world, tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(residents_csv(*good_rows()))
    out, _err = cli("--kind", "residents", str(path))
    assert "created 3" in out


def test_the_cli_exits_non_zero_on_a_bad_file_and_reports_each_row(world, tmp_path):
    rows = good_rows()
    rows[0][4] = bad_id_number(1)
    path = tmp_path / "r.csv"
    path.write_bytes(residents_csv(*rows))
    err = io.StringIO()
    with pytest.raises(CommandError, match="未导入任何数据"):
        call_command("grid", "import-data", "--kind", "residents", str(path), stdout=io.StringIO(), stderr=err)
    assert "第 2 行 · 身份证号" in err.getvalue()
    assert Resident.objects.filter(name="张三").count() == 0
    # with --skip-bad the good rows go in, and the exit is still non-zero because a row was refused
    with pytest.raises(CommandError, match="1 row"):
        call_command("grid", "import-data", "--kind", "residents", str(path), "--skip-bad", stdout=io.StringIO(),
                     stderr=io.StringIO())
    assert Resident.objects.filter(name="孤老汉").exists()


def test_the_cli_acts_within_a_named_users_scope(world, tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(residents_csv(*good_rows()))
    with pytest.raises(CommandError):
        cli("--kind", "residents", str(path), "--as", "clerk_spd")
    with pytest.raises(CommandError, match="no active user"):
        cli("--kind", "residents", str(path), "--as", "nobody")


# --- the API -----------------------------------------------------------------------------------


def upload(client, username, data, kind="residents", **extra):
    token = token_create(username=username)
    return client.post("/api/v1/grids/imports",
                       {"kind": kind, "file": SimpleUploadedFile("r.csv", data), **extra},
                       HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_api_imports_an_upload(client, world):
    response = upload(client, "gridder_xfl", residents_csv(*good_rows()))
    assert response.status_code == 200, response.content
    assert response.json()["created"] == 3 and response.json()["errors"] == []


def test_the_api_refuses_a_bad_upload_with_422_and_per_row_errors(client, world):
    rows = good_rows()
    rows[1][4] = bad_id_number(2)
    response = upload(client, "gridder_xfl", residents_csv(*rows))
    assert response.status_code == 422
    body = response.json()
    assert body["rows"] == [{"row": 3, "column": "身份证号", "message": body["rows"][0]["message"]}]
    assert "rows.3.身份证号" in body["errors"]
    assert Resident.objects.filter(name="张三").count() == 0
    skipped = upload(client, "gridder_xfl", residents_csv(*rows), skip_bad="true")
    assert skipped.status_code == 200 and skipped.json()["refused"] == 1 and skipped.json()["created"] == 2


def test_the_api_refuses_residents_and_unknown_kinds(client, world):
    assert upload(client, "resident_wang", residents_csv(*good_rows())).status_code == 403
    response = upload(client, "gridder_xfl", residents_csv(*good_rows()), kind="aliens")
    assert response.status_code == 422 and "kind" in response.json()["errors"]
    response = client.post("/api/v1/grids/imports", {"kind": "residents"},
                           HTTP_AUTHORIZATION=f"Bearer {token_create(username='gridder_xfl')}")
    assert response.status_code == 422 and "file" in response.json()["errors"]
    empty = upload(client, "gridder_xfl", b"")
    assert empty.status_code == 422


# --- people outside the importer's regions -------------------------------------------------------


def _someone_elsewhere(world, serial=7):
    """A 秦汉新城 resident (户籍 in 三普东) with her ID number on file, flags clear."""
    from yiwang.org.services import resident_create

    return resident_create(name="赵秀英", phone="13700000007", region=world.regions["spd"], id_number=id_number(serial),
                           address="三普东小区3号楼")


def test_an_import_cannot_rewrite_a_resident_registered_outside_the_importers_regions(world):
    victim = _someone_elsewhere(world)
    before = Resident.objects.filter(pk=victim.pk).values().get()
    row = [G1, "101", "幸福里1号楼101", "改名", victim.id_number, "13900000099", "户主", "是", "是", "是"]
    for username in ("clerk_xfl", "gridder_xfl", "handler_en"):
        with pytest.raises(ImportRefused) as caught:
            run_import(world, residents_csv(row), username=username)
        [error] = caught.value.rows
        assert (error.row, error.column) == (2, "身份证号")
        # Says the number is taken, never where or by whom.
        assert "赵秀英" not in str(caught.value.as_dict()) and "三普东" not in str(caught.value.as_dict())
        assert "秦汉" not in str(caught.value.as_dict())
    assert Resident.objects.filter(pk=victim.pk).values().get() == before
    assert not HouseholdMember.objects.filter(resident=victim).exists() and Household.objects.count() == 0


def test_skipping_bad_rows_still_never_reaches_a_resident_out_of_reach(world):
    victim = _someone_elsewhere(world)
    rows = [[G1, "101", "幸福里1号楼101", "改名", victim.id_number, "", "户主", "", "是", ""], good_rows()[0]]
    report = run_import(world, residents_csv(*rows), username="clerk_xfl", skip_bad=True)
    assert (report.created, report.updated, report.refused) == (1, 0, 1)
    victim.refresh_from_db()
    assert victim.name == "赵秀英" and not victim.low_income


def test_a_resident_living_in_the_importers_grid_may_be_updated_though_registered_elsewhere(world):
    victim = _someone_elsewhere(world)
    run_import(world, residents_csv([G1, "101", "幸福里1号楼101", "赵秀英", victim.id_number, "", "户主", "", "", ""]),
               username="admin")
    report = run_import(world, residents_csv([G1, "101", "幸福里1号楼101", "赵秀英", victim.id_number, "13700000008",
                                              "户主", "是", "", ""]), username="gridder_xfl")
    assert report.updated == 1
    victim.refresh_from_db()
    assert victim.elderly_alone and victim.phone == "13700000008"


def test_a_sibling_community_cannot_import_a_resident_of_the_next_community(world):
    from yiwang.org.services import resident_create

    neighbour = resident_create(name="程大哥", phone="13700000011", region=world.regions["cjc"],
                                id_number=id_number(11))
    with pytest.raises(ImportRefused):
        run_import(world, residents_csv([G1, "101", "幸福里1号楼101", "程大哥", neighbour.id_number, "", "户主", "", "",
                                         ""]), username="clerk_xfl")
    # The town's own staff reach both communities.
    assert run_import(world, residents_csv([G1, "101", "幸福里1号楼101", "程大哥", neighbour.id_number, "", "户主",
                                            "", "", ""]), username="handler_dz").updated == 1


def test_the_api_refuses_a_row_for_a_resident_out_of_reach_with_422(client, world):
    victim = _someone_elsewhere(world)
    response = upload(client, "clerk_xfl", residents_csv(
        [G1, "101", "幸福里1号楼101", "改名", victim.id_number, "", "户主", "", "", ""]))
    assert response.status_code == 422
    assert [(r["row"], r["column"]) for r in response.json()["rows"]] == [(2, "身份证号")]
    assert victim.id_number not in response.content.decode()
    victim.refresh_from_db()
    assert victim.name == "赵秀英"
