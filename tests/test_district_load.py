"""Any district: `yiwang district load DIR` sets up a made-up second district (tests/data/district_demo,
青川新区) in an empty database, and nothing a resident, a clerk, a leader or a client program reads
names Xixian; bad files are refused whole, each problem with its file and line, nothing written."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from yiwang.cases.services import case_create
from yiwang.catalog.models import Matter
from yiwang.messages import texts
from yiwang.messages.models import ChannelPreference
from yiwang.org.district import identity, map_centre
from yiwang.org.models import District, Region, Staff, Unit
from yiwang.org.selectors import viewer_for

DATA = Path(__file__).resolve().parent / "data" / "district_demo"
XIXIAN = re.compile(r"西咸|西鹹|xixian|xi'an xianyang", re.IGNORECASE)
ID_NUMBER = "61040219500101123X"


def load(directory: Path = DATA, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("district", "load", str(directory), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(directory: Path) -> list[str]:
    """The problems a load of ``directory`` reports, having checked that it wrote nothing."""
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was written"):
        call_command("district", "load", str(directory), stdout=io.StringIO(), stderr=err)
    assert (Region.objects.count(), Unit.objects.count(), District.objects.count(), Matter.objects.count(),
            get_user_model().objects.count()) == (0, 0, 0, 0, 0)
    return err.getvalue().splitlines()


def copy(tmp_path: Path) -> Path:
    target = tmp_path / "district"
    shutil.copytree(DATA, target)
    return target


def content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def xlsx_text(response) -> str:
    with zipfile.ZipFile(io.BytesIO(content(response))) as book:
        return "".join(book.read(name).decode("utf-8") for name in book.namelist() if name.endswith(".xml"))


@pytest.mark.django_db
def test_a_second_district_loads_and_no_page_export_or_api_names_xixian(client, settings):
    settings.YIWANG_SMS_SIGNATURE = ""  # the neutral default: the district's row signs
    out, _err = load()
    assert "regions: 8 created" in out and "units: 8 created" in out and "matters: 3 created" in out
    district = identity()
    assert (district.name, district.short_name, district.sms_signature) == ("青川新区", "青川", "【青川新区政务服务】")
    assert map_centre() == [30.6, 104.9] and district.logo.startswith("data:image/svg+xml;base64,")
    assert texts.signature() == "【青川新区政务服务】"
    grid = Region.objects.get(code="519901101001001")
    assert grid.boundary["type"] == "Polygon" and grid.parent.name == "桂花社区"
    assert Staff.objects.filter(user__username="qc_leader").count() == 2
    assert ChannelPreference.objects.get(user__username="qc_clerk").phone == "13900000011"

    clerk = get_user_model().objects.get(username="qc_clerk")
    case = case_create(viewer=viewer_for(clerk), matter_code="QC_SENIOR_CARD", region_code="519901101001",
                       applicant_name="王大爷", applicant_phone="13800000001", channel="hall",
                       form={"birth_date": "1940-01-01"}, materials=[{"code": "id_card"}]).case
    assert case.holder_unit.code == "QC-GH-SH"  # routed to the community's service station

    public = ["/", "/matters/QC_SENIOR_CARD/", "/open/", "/report/", "/halls/",
              "/open311/v2/discovery.json", "/open311/v2/services.json", "/open311/v2/services.xml"]
    staff = {"qc_clerk": ["/work/", f"/work/cases/{case.number}/"],
             "qc_leader": ["/dashboard/", "/dashboard/export.xlsx", "/dashboard/cases/", "/dashboard/cases/export.xlsx"]}
    for language in ("zh-hans", "zh-hant", "en"):
        client.logout()
        client.cookies["django_language"] = language
        pages = [(None, url) for url in public] + [(who, url) for who, urls in staff.items() for url in urls]
        for who, url in pages:
            if who:
                client.force_login(get_user_model().objects.get(username=who))
            response = client.get(url)
            assert response.status_code == 200, (language, url, response.status_code)
            body = xlsx_text(response) if url.endswith(".xlsx") else content(response).decode()
            assert not XIXIAN.search(body), (language, url, XIXIAN.search(body))
        client.logout()
        home = client.get("/").content.decode()
        assert re.search(r"<title>[^<]*青川新[区區]</title>", home), language
        assert 'src="data:image/svg+xml;base64,' in home
    discovery = client.get("/open311/v2/discovery.json").json()
    assert discovery["contact"] == "青川新区“一网”平台管理员 12345"


@pytest.mark.django_db
def test_without_a_district_pages_name_no_place(client, settings):
    settings.YIWANG_DISTRICT_NAME = ""
    home = client.get("/").content.decode()
    assert re.search(r"<title>\s*一网通办\s*</title>", home)
    assert not XIXIAN.search(home)
    assert '<script id="map-bounds" type="application/json">null</script>' in home  # maps pan freely
    assert client.get("/open311/v2/discovery.json").json()["contact"] == "“一网”平台管理员"


@pytest.mark.django_db
def test_the_district_costs_no_query_per_page_once_cached(client):
    load()
    client.get("/")
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    assert not [q["sql"] for q in queries if "org_district" in q["sql"] or "core_configversion" in q["sql"]]


@pytest.mark.django_db
def test_loading_again_updates_by_code_and_leaves_the_rest(tmp_path):
    load()
    changed = copy(tmp_path)
    units = (changed / "units.yaml").read_text(encoding="utf-8")
    (changed / "units.yaml").write_text(units.replace("青溪街道综合执法队", "青溪街道综合行政执法队"), encoding="utf-8")
    matters = (changed / "matters.yaml").read_text(encoding="utf-8")
    (changed / "matters.yaml").write_text(matters.replace("time_limit: 3", "time_limit: 2"), encoding="utf-8")
    out, _err = load(changed)
    assert "regions: 8 unchanged" in out
    assert "units: 1 updated, 7 unchanged" in out
    assert "matters: 1 updated, 2 unchanged" in out
    assert Unit.objects.get(code="QC-QX-EN").name == "青溪街道综合行政执法队"
    ask = Matter.objects.get(code="QC_ASK")
    assert (ask.time_limit, ask.current_version.number) == (2, 2)
    assert Matter.objects.get(code="QC_PARKING").current_version.number == 1  # unchanged: not republished
    out, _err = load(changed, "--check")
    assert "nothing was written" in out


@pytest.mark.django_db
def test_bad_region_rows_are_each_named_with_their_line_and_nothing_is_written(tmp_path):
    bad = copy(tmp_path)
    (bad / "regions.geojson").unlink()
    (bad / "regions.csv").write_text(
        "code,name,level,parent,wkt\n"
        "519901000000,青川新区,area,,POINT(104.9 30.6)\n"
        "519901100000,青川新城,city,519901000000,\n"
        "519901101000,青溪街道,town,519901100000,\n"
        "5199011010,桂花社区,community,519901101000,\n"              # line 5: not 12 digits
        "519901101002,竹林社区,community,519901109000,\n"            # line 6: unknown parent
        "519901101002,竹林社区,community,519901101000,\n"            # line 7: duplicate
        "519901102201,石门村,community,519901100000,\n"              # line 8: a community under a city
        "519901101003,金桥社区,village,519901101000,\n"              # line 9: unknown level
        "519901101004,金\x07桥,community,519901101000,\n"            # line 10: a control character
        '519901101005,银桥社区,community,519901101000,"LINESTRING(1 2, 3 4)"\n',  # line 11: not a place
        encoding="utf-8")
    problems = refused(bad)
    assert problems[0].startswith("regions.csv:5: ") and "5199011010" in problems[0] and "12" in problems[0]
    assert problems[1].startswith("regions.csv:6: ") and "519901109000" in problems[1]
    assert problems[2].startswith("regions.csv:7: ") and "regions.csv:6" in problems[2]
    assert problems[3].startswith("regions.csv:8: ")
    assert problems[4].startswith("regions.csv:9: ") and "village" in problems[4]
    assert problems[5].startswith("regions.csv:10: ")
    assert problems[6].startswith("regions.csv:11: ") and "LineString" in problems[6]
    # The units in the regions the file lacks are named too, each with its own line.
    assert problems[7:] == ["units.yaml:9: 所在区域 519901102000 不在文件中，也不在数据库中。",
                            "units.yaml:10: 所在区域 519901101001 不在文件中，也不在数据库中。"]


@pytest.mark.django_db
def test_bad_yaml_unknown_references_and_duplicates_in_units_staff_and_matters(tmp_path):
    bad = copy(tmp_path)
    (bad / "units.yaml").write_text(
        "- {code: QC-OF, name: 青川新区管委会办公室, kind: office, region: \"519901000000\"}\n"
        "- {code: QC-OF, name: 重复, kind: office, region: \"519901000000\"}\n"
        "- {code: QC-X, name: 未知类型, kind: bakery, region: \"519901000000\"}\n"
        "- {code: QC-Y, name: 未知区域, kind: office, region: \"519999000000\"}\n", encoding="utf-8")
    (bad / "staff.csv").write_text(
        "username,name,unit,roles,phone\n"
        "qc_leader,陈立,QC-OF,leader,13900000013\n"
        "qc_leader,陈立,QC-OF,handler,13900000013\n"
        "qc_nobody,无名,QC-NONE,clerk,\n"
        "qc_king,国王,QC-OF,king,\n"
        "qc_phone,电话,QC-OF,clerk,12345\n", encoding="utf-8")
    (bad / "matters.yaml").write_text("- code: QC_X\n  name: [unclosed\n", encoding="utf-8")
    problems = refused(bad)
    assert problems[0].startswith("matters.yaml:3: ") and "YAML" in problems[0]
    assert [p.split(": ")[0] for p in problems[1:]] == [
        "staff.csv:3", "staff.csv:4", "staff.csv:5", "staff.csv:6", "units.yaml:2", "units.yaml:3", "units.yaml:4"]
    assert "QC-NONE" in problems[2] and "king" in problems[3] and "bakery" in problems[6] and "519999000000" in problems[7]


@pytest.mark.django_db
def test_a_matter_the_catalogue_refuses_rolls_back_the_whole_load(tmp_path):
    bad = copy(tmp_path)
    matters = (bad / "matters.yaml").read_text(encoding="utf-8")
    # Only catalog.services knows this one: an internal kind may not face residents.
    (bad / "matters.yaml").write_text(matters + "- {code: QC_FIX, name: 整改, kind: rectification, handling_levels: [town],"
                                      " responsible_unit_kind: office, resident_can_apply: true}\n", encoding="utf-8")
    problems = refused(bad)
    line = len(matters.splitlines()) + 1
    assert len(problems) == 1 and problems[0].startswith(f"matters.yaml:{line}: resident_can_apply: ")


@pytest.mark.django_db
def test_a_missing_identity_a_bad_centre_and_a_logo_outside_the_directory(tmp_path):
    bad = copy(tmp_path)
    (bad / "district.yaml").write_text("name: 青川新区\ncentre: [130.6, 104.9]\nlogo: ../../etc/passwd\nnmae: x\n",
                                       encoding="utf-8")
    problems = refused(bad)
    assert any("passwd" in p for p in problems) and any("nmae" in p for p in problems)
    assert any(p.startswith("district.yaml:1: centre: ") for p in problems)
    (bad / "district.yaml").unlink()
    assert refused(bad)[0].startswith("district.yaml: ")


@pytest.mark.django_db
def test_hostile_text_is_stored_as_text_and_rendered_harmless(client, tmp_path):
    hostile = copy(tmp_path)
    units = (hostile / "units.yaml").read_text(encoding="utf-8")
    (hostile / "units.yaml").write_text(units.replace(
        "name: 桂花社区便民服务站", f"name: \"=HYPERLINK(\\\"http://x\\\") <b>{ID_NUMBER}</b>\""), encoding="utf-8")
    identity_file = (hostile / "district.yaml").read_text(encoding="utf-8")
    (hostile / "district.yaml").write_text(identity_file.replace("name: 青川新区", "name: <i>青川</i>新区"), encoding="utf-8")
    load(hostile)
    home = client.get("/").content.decode()
    assert "<i>青川" not in home and "&lt;i&gt;青川&lt;/i&gt;新区" in home
    unit = Unit.objects.get(code="QC-GH-SH")
    assert unit.name.startswith("=HYPERLINK(")
    halls = client.get("/halls/").content.decode()
    assert "<b>" + ID_NUMBER not in halls and "&lt;b&gt;" in halls
    client.force_login(get_user_model().objects.get(username="qc_leader"))
    export = client.get("/dashboard/cases/export.xlsx")
    assert export.status_code == 200 and "<f>" not in xlsx_text(export)  # no cell became a formula


@pytest.mark.django_db
def test_an_id_number_is_refused_in_the_published_identity(client, tmp_path):
    """The name, signature and Open311 contact are published (every page, every SMS, Open311's
    discovery): a person's ID number typed into one is refused beside the field, masked in the message."""
    from yiwang.core.errors import ValidationFailed
    from yiwang.org.district import district_set

    for field in ("name", "short_name", "sms_signature", "open311_contact"):
        with pytest.raises(ValidationFailed) as refused:
            district_set(**{field: f"联系人 {ID_NUMBER}"})
        assert refused.value.field == field and ID_NUMBER not in refused.value.message
    district_set(open311_contact="热线 029-12345678，13800000000")  # a hotline and a phone are what a contact is
    assert "029-12345678" in client.get("/open311/v2/discovery.json").content.decode()
    leaky = copy(tmp_path)
    identity_file = (leaky / "district.yaml").read_text(encoding="utf-8")
    (leaky / "district.yaml").write_text(identity_file.replace("name: 青川新区", f"name: 青川新区{ID_NUMBER}"),
                                         encoding="utf-8")
    with pytest.raises(CommandError):
        load(leaky)
    assert ID_NUMBER not in client.get("/open311/v2/discovery.json").content.decode()


@pytest.mark.django_db
def test_only_a_superuser_edits_the_district_in_the_admin_and_every_page_follows(client):
    load()
    leader = get_user_model().objects.get(username="qc_leader")
    client.force_login(leader)
    assert client.get("/admin/org/district/").status_code == 302  # to the admin's login: staff are not admins
    admin = get_user_model().objects.create_superuser("root", password="pw-root-1234")
    client.force_login(admin)
    row = District.objects.get()
    response = client.post(f"/admin/org/district/{row.pk}/change/", {
        "name": "青川示范区", "short_name": "青川", "centre_lat": "30.6", "centre_lng": "104.9",
        "bounds": "[[30.5, 104.8], [30.7, 105.0]]", "sms_signature": "【青川示范区】", "open311_contact": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    client.logout()
    page = client.get("/").content.decode()
    assert "青川示范区" in page
    # Every map is kept within the district's bounds (web/map.js reads them from the base template).
    assert '<script id="map-bounds" type="application/json">[[30.5, 104.8], [30.7, 105.0]]</script>' in page
    assert client.get("/open311/v2/discovery.json").json()["contact"] == "青川示范区“一网”平台管理员"
    client.force_login(admin)
    response = client.post(f"/admin/org/district/{row.pk}/change/", {"name": "青川\x07"})
    assert response.status_code == 422  # core.security refuses a control character in any form
    response = client.post(f"/admin/org/district/{row.pk}/change/", {
        "name": "别处", "centre_lat": "95", "centre_lng": "104.9", "bounds": "", "sms_signature": ""})
    assert response.status_code == 200 and "纬度须在 -90 到 90 之间" in response.content.decode()
    assert District.objects.get().name == "青川示范区"


@pytest.mark.django_db
def test_show_prints_the_identity_in_force():
    out = io.StringIO()
    call_command("district", "show", stdout=out)
    assert "(none: pages read 一网通办)" in out.getvalue()
    load()
    call_command("district", "show", stdout=out)
    assert "青川新区" in out.getvalue() and "【青川新区政务服务】" in out.getvalue() and "[30.6, 104.9]" in out.getvalue()


@pytest.mark.django_db
def test_codes_written_as_yaml_numbers_are_read_as_text(tmp_path):
    numbers = copy(tmp_path)
    units = (numbers / "units.yaml").read_text(encoding="utf-8")
    (numbers / "units.yaml").write_text(units + "- {code: 1001, name: 青川新区档案馆, kind: office, region: 519901000000}\n",
                                        encoding="utf-8")
    load(numbers)
    assert Unit.objects.get(code="1001").region.code == "519901000000"
    out, _err = load(numbers)
    assert "units: 9 unchanged" in out
