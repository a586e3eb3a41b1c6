"""The ledger's REST API: topics, visits, counts, batches, lists, items, acceptance and exports."""

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from yiwang.core import clock
from yiwang.ledger.tests.conftest import accept_item

pytestmark = pytest.mark.django_db


def due(days=30):
    return (clock.today() + dt.timedelta(days=days)).isoformat()


def test_topics_and_visits_through_the_api(api, world):
    body = {"title": "停车管理职能空白", "field": "urban", "unit_code": "KG-OF", "problem": "乱停车",
            "crux": "职能空白", "plan": "建立管理体系"}
    created = api("post", "/ledger/topics", "leader_kg", body)
    assert created.status_code == 201, created.content
    topic = created.json()
    visit = api("post", f"/ledger/topics/{topic['id']}/visits", "leader_kg",
                {"visited_on": clock.today().isoformat(), "place": "幸福里小学", "findings": "校门口拥堵"})
    assert visit.status_code == 201
    item = api("post", f"/ledger/visits/{visit.json()['id']}/items", "leader_kg",
               {"problem": "校门口拥堵", "measures": "施划泊位", "unit_code": "KG-DZ-EN", "due_on": due(10),
                "immediate": True})
    assert item.status_code == 201, item.content
    assert item.json()["state"] == "open" and item.json()["immediate"] is True
    listed = api("get", "/ledger/topics?field=urban", "leader_kg").json()
    assert [(t["id"], t["visits"]) for t in listed] == [(topic["id"], 1)]
    counts = api("get", "/ledger/topics/counts", "leader_kg").json()
    assert (counts["topics"], counts["visits"]) == (1, 1) and counts["by_level"][0]["key"] == "city"
    assert api("get", f"/ledger/topics/{topic['id']}", "clerk_spd").status_code == 404


def test_bad_input_is_a_422_with_the_field(api, world):
    bad = api("post", "/ledger/topics", "leader_kg", {"title": "t", "field": "sports", "unit_code": "KG-OF",
                                                      "problem": "p", "crux": "c", "plan": "p"})
    assert bad.status_code == 422 and "field" in bad.json()["errors"]
    missing = api("post", "/ledger/batches", "leader_kg", {"title": "x"})
    assert missing.status_code == 422 and "region_code" in missing.json()["errors"]
    assert api("get", "/ledger/topics?level=planet", "leader_kg").status_code == 422


def test_a_batch_from_opening_to_acceptance(api, world):
    batch = api("post", "/ledger/batches", "leader_kg", {"title": "第一批", "region_code": "KG",
                                                          "supervisor_unit_code": "KG-OF",
                                                          "matter_code": "RECT_GRASSROOTS"})
    assert batch.status_code == 201, batch.content
    batch_id = batch.json()["id"]
    plist = api("post", f"/ledger/batches/{batch_id}/lists", "leader_kg", {"title": "程家村", "region_code": "KG-DZ-CJC"})
    assert plist.status_code == 201
    item = api("post", f"/ledger/lists/{plist.json()['id']}/items", "leader_kg",
               {"problem": "组织生活不规范", "measures": "建立台账", "unit_code": "KG-DZ-CJC-DZB", "due_on": due(),
                "assignee": "secretary_cjc"})
    assert item.status_code == 201, item.content
    early = api("post", f"/ledger/batches/{batch_id}/accept", "leader_kg", {"note": "合格"})
    assert early.status_code == 422 and "batch" in early.json()["errors"]
    from yiwang.ledger.models import RectificationItem

    accept_item(world, RectificationItem.objects.get(pk=item.json()["id"]))
    assert api("get", f"/ledger/items?batch={batch_id}", "secretary_cjc").json()[0]["state"] == "accepted"
    done = api("post", f"/ledger/batches/{batch_id}/accept", "leader_kg", {"note": "合格"})
    assert done.status_code == 200 and done.json()["progress"]["stage"] == "passed"
    assert api("post", f"/ledger/batches/{batch_id}/accept", "leader_kg", {"note": "again"}).status_code == 409
    sheet = load_workbook(io.BytesIO(api("get", f"/ledger/batches/{batch_id}/ledger.xlsx", "leader_kg").content)).active
    assert sheet["C4"].value == "组织生活不规范"
    pdf = api("get", f"/ledger/batches/{batch_id}/ledger.pdf", "leader_kg")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert api("get", f"/ledger/batches/{batch_id}/ledger.pdf", "clerk_spd").status_code == 404


def test_residents_and_strangers_are_refused(api, world):
    assert api("get", "/ledger/batches").status_code == 401
    assert api("post", "/ledger/batches", "resident_wang", {"title": "x", "region_code": "KG",
                                                             "supervisor_unit_code": "KG-OF",
                                                             "matter_code": "RECT_GRASSROOTS"}).status_code == 403
    assert api("get", "/ledger/batches", "resident_wang").json() == []
