"""The ledger's pages: each renders for the staff it is for, refuses residents, and a refused form
comes back with its input and the message beside the field."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from yiwang.cases.models import CaseEvent
from yiwang.core import clock
from yiwang.ledger.models import Batch, RectificationItem, ResearchTopic, ResearchVisit
from yiwang.ledger.tests.conftest import accept_item, act, make_batch, make_item, make_list

pytestmark = pytest.mark.django_db


def login(client, world, username):
    client.force_login(world.users[username])
    return client


def test_every_page_renders_for_a_leader(client, world):
    batch = make_batch(world)
    item = make_item(world, make_list(world, batch))
    login(client, world, "leader_kg")
    for url in ["/ledger/", "/ledger/topics/", "/ledger/topics/new/", "/ledger/topics/counts/",
                "/ledger/batches/new/", f"/ledger/batches/{batch.pk}/", f"/ledger/items/{item.pk}/"]:
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/ledger/batches/{batch.pk}/").content.decode()
    assert item.case.number in page and f"/work/cases/{item.case.number}/" in page and "整改中" in page


def test_residents_are_refused(client, world):
    batch = make_batch(world)
    login(client, world, "resident_wang")
    for url in ("/ledger/", "/ledger/topics/", f"/ledger/batches/{batch.pk}/"):
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 403 and "仅限工作人员。" in body, url
        assert batch.title not in body, url
    refused = client.post("/ledger/topics/new/", {"title": "停车难", "field": "urban", "unit_code": "KG-OF",
                                                  "problem": "乱停车", "crux": "职能空白", "plan": "建立体系"})
    assert refused.status_code == 403 and "仅限工作人员。" in refused.content.decode()
    assert not ResearchTopic.objects.exists()


def test_another_citys_batch_is_not_found(client, world):
    batch = make_batch(world)
    login(client, world, "clerk_spd")
    page = client.get(f"/ledger/batches/{batch.pk}/")
    assert page.status_code == 404 and batch.title not in page.content.decode()
    export = client.get(f"/ledger/batches/{batch.pk}/ledger.xlsx")
    assert export.status_code == 404 and "Content-Disposition" not in export
    assert batch.title not in client.get("/ledger/").content.decode()
    added = client.post(f"/ledger/batches/{batch.pk}/lists/", {"title": "程家村党支部", "region_code": "KG-DZ-CJC"})
    assert added.status_code == 404 and not batch.lists.exists()


def test_a_leader_registers_a_topic_and_logs_a_visit(client, world):
    login(client, world, "leader_kg")
    response = client.post("/ledger/topics/new/", {"title": "停车难", "field": "urban", "unit_code": "KG-OF",
                                                   "problem": "乱停车", "crux": "职能空白", "plan": "建立体系"})
    topic = ResearchTopic.objects.get()
    assert response.status_code == 303 and response["Location"] == f"/ledger/topics/{topic.pk}/"
    refused = client.post(f"/ledger/topics/{topic.pk}/", {"visited_on": "2999-01-01", "place": "幸福里小学",
                                                          "findings": "拥堵"})
    assert refused.status_code == 422
    html = refused.content.decode()
    assert "调研日期不能晚于今天" in html and 'value="幸福里小学"' in html
    ok = client.post(f"/ledger/topics/{topic.pk}/", {"visited_on": clock.today().isoformat(), "place": "幸福里小学",
                                                     "people_met": "校长", "findings": "校门口拥堵"})
    assert ok.status_code == 303
    visit = ResearchVisit.objects.get()
    opened = client.post(f"/ledger/visits/{visit.pk}/items/", {
        "problem": "校门口拥堵", "measures": "施划泊位", "unit_code": "KG-DZ-EN",
        "due_on": (clock.today() + dt.timedelta(days=10)).isoformat(), "immediate": "1"})
    assert opened.status_code == 303
    item = RectificationItem.objects.get()
    assert item.visit == visit and item.immediate
    assert item.case.number in client.get(f"/ledger/topics/{topic.pk}/").content.decode()
    counts = client.get("/ledger/topics/counts/").content.decode()
    assert 'data-figure="topics"><b>1</b>' in counts and 'data-figure="visits"><b>1</b>' in counts


def test_a_refused_item_keeps_its_input(client, world):
    batch = make_batch(world)
    plist = make_list(world, batch)
    login(client, world, "leader_kg")
    response = client.post(f"/ledger/lists/{plist.pk}/items/", {
        "problem": "台账缺失", "measures": "", "unit_code": "KG-DZ-CJC-DZB", "due_on": "2030-01-01"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "请填写整改措施" in html and "台账缺失" in html


def test_batch_pages_create_lists_items_and_accept(client, world):
    login(client, world, "leader_kg")
    client.post("/ledger/batches/new/", {"title": "第二批", "region_code": "KG", "supervisor_unit_code": "KG-OF",
                                         "matter_code": "RECT_GRASSROOTS"})
    batch = Batch.objects.get()
    client.post(f"/ledger/batches/{batch.pk}/lists/", {"title": "程家村党支部", "region_code": "KG-DZ-CJC"})
    plist = batch.lists.get()
    client.post(f"/ledger/lists/{plist.pk}/items/", {
        "problem": "台账缺失", "measures": "补建", "unit_code": "KG-DZ-CJC-DZB", "assignee": "secretary_cjc",
        "due_on": (clock.today() + dt.timedelta(days=40)).isoformat(), "immediate": "0"})
    item = RectificationItem.objects.get()
    early = client.post(f"/ledger/batches/{batch.pk}/accept/", {"note": "合格"})
    assert early.status_code == 422 and "未通过验收" in early.content.decode()
    accept_item(world, item)
    done = client.post(f"/ledger/batches/{batch.pk}/accept/", {"note": "合格"})
    assert done.status_code == 303
    batch.refresh_from_db()
    assert batch.accepted_at is not None
    assert "已通过验收" in client.get("/ledger/").content.decode()
    xlsx = client.get(f"/ledger/batches/{batch.pk}/ledger.xlsx")
    assert xlsx.status_code == 200 and xlsx["Content-Disposition"].endswith('.xlsx"')
    assert client.get(f"/ledger/batches/{batch.pk}/ledger.pdf").content.startswith(b"%PDF-")


def test_the_holder_reports_progress_with_a_photo(client, world, media):
    item = make_item(world, make_list(world, make_batch(world)))
    act(world, "secretary_cjc", item, "start")
    item.case.refresh_from_db()
    login(client, world, "secretary_cjc")
    photo = SimpleUploadedFile("meeting.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 100, content_type="image/jpeg")
    response = client.post(f"/ledger/items/{item.pk}/report/", {
        "action": "report_progress", "version": item.case.version, "text": "已召开支委会", "evidence": [photo]})
    assert response.status_code == 303
    event = CaseEvent.objects.get(case=item.case, action="report_progress")
    assert event.payload["evidence"][0]["filename"] == "meeting.jpg"
    assert "meeting.jpg" in client.get(f"/ledger/items/{item.pk}/").content.decode()
    stale = client.post(f"/ledger/items/{item.pk}/report/", {
        "action": "report_progress", "version": item.case.version, "text": "again"})
    assert stale.status_code == 422 and "已被他人更新" in stale.content.decode()
