"""The catalogue as residents see it: only matters residents may apply for are offered or accepted, on
every entry point; a consultation's answer reaches the FAQ only as staff edit and publish it, once; a
guide says where, when, whom to call, how often to come, how the result arrives, and offers its forms."""

import io
import re
import threading
import zipfile

import pytest
from django.db import connection

from yiwang.cases.models import Case
from yiwang.cases.services import case_act, case_create
from yiwang.catalog.models import Matter, MatterFAQ
from yiwang.catalog.selectors import matter_info
from yiwang.catalog.services import document_store, faq_draft, faq_publish, matter_create, matter_publish
from yiwang.core.errors import DomainError, PermissionDenied, ValidationFailed
from yiwang.org.models import UnitKind
from yiwang.testing import SENIOR_OK

INTERNAL = ("RECT_GRASSROOTS", "ASSIST_POVERTY")
ID_NUMBER = "61040219500101123X"


def _login(client, username):
    password = "pw-" + username.removeprefix("resident_")
    assert client.login(username=username, password=password), username
    return client


@pytest.fixture
def resident(client, world):
    return _login(client, "resident_wang")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


# --- 1. only what residents may apply for ----------------------------------------------------


def test_internal_kinds_are_kept_from_residents_and_the_rest_face_them(world):
    facing = dict(Matter.objects.values_list("code", "resident_can_apply"))
    assert [code for code in INTERNAL if facing[code]] == []
    assert facing["SENIOR_CARD"] and facing["ASK_MEDICAL"] and facing["INC_PARKING"]
    assert not matter_info("RECT_GRASSROOTS").resident_can_apply


def test_an_internal_kind_cannot_be_published_as_resident_facing(world):
    matter = Matter.objects.get(code="RECT_GRASSROOTS")
    matter.resident_can_apply = True
    with pytest.raises(ValidationFailed) as err:
        matter_publish(matter=matter)
    assert err.value.field == "resident_can_apply"


@pytest.mark.parametrize("code", INTERNAL)
def test_case_intake_refuses_a_resident_an_internal_matter_whatever_the_caller(world, code):
    with pytest.raises(PermissionDenied) as err:
        case_create(viewer=world.viewer("resident_wang"), matter_code=code, description="我要整改")
    assert err.value.field == "matter_code"
    assert Case.objects.count() == 0


def test_staff_still_open_an_internal_matter_for_a_unit(world):
    case = case_create(viewer=world.viewer("leader_kg"), matter_code="RECT_GRASSROOTS", title="台账整改",
                       region_code="KG", unit_code="KG-OF").case
    assert case.kind == "rectification"


def test_an_application_an_administrator_keeps_for_staff_is_refused_to_residents(world, resident):
    matter = Matter.objects.get(code="HOUSING_FUND_WITHDRAW")
    matter.resident_can_apply = False
    matter_publish(matter=matter)
    with pytest.raises(PermissionDenied):
        case_create(viewer=world.viewer("resident_wang"), matter_code="HOUSING_FUND_WITHDRAW",
                    materials=[{"code": "id_card", "original_seen": True}])
    assert "住房公积金提取" not in resident.get("/").content.decode()
    assert resident.get("/matters/HOUSING_FUND_WITHDRAW/").status_code == 404


def test_the_home_page_lists_no_internal_matter(client, world):
    body = client.get("/").content.decode()
    assert "老年证办理" in body
    for name in ("基层党组织整改", "一对一帮扶"):
        assert name not in body


@pytest.mark.parametrize("query", ["整改", "帮扶", "基层党组织", "RECT_GRASSROOTS"])
def test_searching_the_portal_or_the_api_never_finds_an_internal_matter(client, api, world, query):
    body = client.get("/", {"q": query}).content.decode()
    assert "基层党组织整改" not in body and "一对一帮扶" not in body
    codes = {m["code"] for m in api("get", f"/matters?q={query}").json()}
    assert not codes & set(INTERNAL)


@pytest.mark.parametrize("code", INTERNAL)
def test_the_portal_has_no_guide_or_application_page_for_an_internal_matter(resident, world, code):
    assert resident.get(f"/matters/{code}/").status_code == 404
    assert resident.get(f"/matters/{code}/apply/").status_code == 404
    response = resident.post(f"/matters/{code}/apply/", {"description": "要帮扶", "idempotency_key": "k1"})
    assert response.status_code == 404
    assert Case.objects.count() == 0


def test_a_clerk_on_the_portal_cannot_apply_for_an_internal_matter_either(client, world):
    _login(client, "clerk_xfl")
    assert client.get("/matters/ASSIST_POVERTY/apply/").status_code == 404


def test_a_resident_reporting_a_problem_under_an_internal_category_is_refused(resident, world):
    response = resident.post("/report/", {"category": "RECT_GRASSROOTS", "description": "楼道灯坏了",
                                          "region_code": "KG-DZ-XFL", "address": "", "idempotency_key": "r1"})
    assert response.status_code == 422
    assert "由工作人员立项" in response.content.decode()
    assert Case.objects.count() == 0


@pytest.mark.parametrize("code", INTERNAL)
def test_the_api_refuses_a_resident_token_an_internal_matter(api, world, code):
    response = api("post", "/cases", "resident_wang", {"matter_code": code, "description": "帮扶"})
    assert response.status_code == 403, response.content
    assert "由工作人员立项" in response.json()["errors"]["matter_code"][0]
    assert Case.objects.count() == 0


def test_the_api_catalogue_lists_and_shows_no_internal_matter(api, world):
    codes = {m["code"] for m in api("get", "/matters").json()}
    assert "SENIOR_CARD" in codes and not codes & set(INTERNAL)
    assert api("get", "/matters/RECT_GRASSROOTS").status_code == 404
    detail = api("get", "/matters/SENIOR_CARD").json()
    assert {"visits", "delivery", "consult_phone", "complaint_phone"} <= set(detail)


@pytest.fixture
def resident_key(world):
    from yiwang.open311.services import api_key_create

    return api_key_create(name="resident-app", username="resident_wang")[1]


def _open311_post(client, key, code):
    return client.post(f"/open311/v2/requests.json?api_key={key}&jurisdiction_id=KG",
                       {"service_code": code, "lat": "34.405", "long": "108.705", "description": "x"})


@pytest.mark.parametrize("code", INTERNAL)
def test_open311_offers_and_accepts_no_internal_matter(client, world, resident_key, code):
    services = {s["service_code"] for s in client.get("/open311/v2/services.json").json()}
    assert "INC_PARKING" in services and code not in services
    response = _open311_post(client, resident_key, code)
    assert response.status_code == 404, response.content
    assert Case.objects.count() == 0


def test_open311_keeps_an_incident_category_staff_keep_for_themselves(client, world, resident_key):
    matter = Matter.objects.get(code="INC_THEFT")
    matter.resident_can_apply = False
    matter_publish(matter=matter)
    assert "INC_THEFT" not in {s["service_code"] for s in client.get("/open311/v2/services.json").json()}
    assert _open311_post(client, resident_key, "INC_THEFT").status_code == 404
    assert _open311_post(client, resident_key, "INC_PARKING").status_code == 201
    assert Case.objects.count() == 1


# --- 2. the FAQ: a draft staff edit, published once --------------------------------------------


def _answered(world, question=f"我身份证号{ID_NUMBER}，电话13800000001，合疗怎么报销？"):
    clerk = world.viewer("clerk_xfl")
    case = case_create(viewer=world.viewer("resident_wang"), matter_code="ASK_MEDICAL", description=question).case
    case = case_act(viewer=clerk, case_id=case.pk, action="answer", version=case.version,
                    result="持社保卡到定点医院出院直接结算；未联网的到村(社区)便民服务站报销。")
    return case


def _drafted(world):
    case = _answered(world)
    case = case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="publish_faq", version=case.version)
    return case, MatterFAQ.objects.get(source_case_id=case.pk)


def test_publishing_a_consultation_makes_a_masked_draft_residents_do_not_see(client, world):
    _case, faq = _drafted(world)
    assert faq.published_at is None
    assert ID_NUMBER not in faq.question and "13800000001" not in faq.question
    body = client.get("/matters/ASK_MEDICAL/").content.decode()
    assert "合疗怎么报销" not in body


def test_a_consultation_gives_one_faq_entry_and_a_second_click_is_refused(world):
    case, _faq = _drafted(world)
    with pytest.raises(DomainError):
        case_act(viewer=world.viewer("handler_xfl"), case_id=case.pk, action="publish_faq", version=case.version)
    with pytest.raises(ValidationFailed) as err:
        faq_draft(matter_id=case.matter_id, question="再来一次", answer="答复", source_case_id=case.pk)
    assert "不能重复发布" in err.value.message
    assert MatterFAQ.objects.filter(source_case_id=case.pk).count() == 1
    assert "publish_faq" not in [a.name for a in _allowed(world, case)]


def _allowed(world, case):
    from yiwang.cases.selectors import allowed_actions

    return allowed_actions(world.viewer("clerk_xfl"), Case.objects.get(pk=case.pk))


def test_the_edit_page_flags_personal_details_and_refuses_to_publish_them(client, world):
    _case, faq = _drafted(world)
    _login(client, "clerk_xfl")
    page = client.get(f"/work/faq/{faq.pk}/").content.decode()
    assert "含个人信息" in page and "6104************3X" in page and "138****0001" in page
    assert ID_NUMBER not in page
    response = client.post(f"/work/faq/{faq.pk}/", {"question": faq.question, "answer": faq.answer,
                                                    "do": "publish"})
    assert response.status_code == 422
    assert "仍含个人信息" in response.content.decode()
    faq.refresh_from_db()
    assert faq.published_at is None


def test_staff_edit_and_publish_once_and_the_guide_shows_it_escaped(client, world):
    _case, faq = _drafted(world)
    _login(client, "clerk_xfl")
    edited = {"question": "合疗住院费用怎么报销？", "answer": "<script>alert(1)</script> =1+1 出院时直接结算。",
              "do": "publish"}
    response = client.post(f"/work/faq/{faq.pk}/", edited)
    assert response.status_code == 303, response.content.decode()
    again = client.post(f"/work/faq/{faq.pk}/", edited)
    assert again.status_code == 422 and "不能重复发布" in again.content.decode()
    faq.refresh_from_db()
    assert faq.published_by == "clerk_xfl" and faq.question == "合疗住院费用怎么报销？"
    guide = client.get("/matters/ASK_MEDICAL/").content.decode()
    assert "合疗住院费用怎么报销？" in guide
    assert "&lt;script&gt;alert(1)&lt;/script&gt; =1+1" in guide and "<script>alert(1)" not in guide


def test_only_a_published_entry_makes_its_matter_findable_by_its_words(world):
    from yiwang.catalog.search import search

    case = _answered(world, question="我家门口那棵歪脖子槐树下的王二麻子问合疗")
    case_act(viewer=world.viewer("clerk_xfl"), case_id=case.pk, action="publish_faq", version=case.version)
    faq = MatterFAQ.objects.get(source_case_id=case.pk)
    assert "ASK_MEDICAL" not in search("歪脖子槐树")
    faq_publish(faq_id=faq.pk, question="歪脖子槐树下能报销合疗吗？", answer="能。", published_by="clerk_xfl")
    assert search("歪脖子槐树")[:1] == ["ASK_MEDICAL"]


def test_a_control_character_in_an_edit_is_refused_beside_the_field(client, world):
    _case, faq = _drafted(world)
    _login(client, "clerk_xfl")
    response = client.post(f"/work/faq/{faq.pk}/", {"question": "问\x07题", "answer": "答复", "do": "save"})
    assert response.status_code == 422
    faq.refresh_from_db()
    assert "\x07" not in faq.question


@pytest.mark.parametrize("username, status", [("clerk_spd", 404), ("resident_wang", 403), ("operator_kg", 403)])
def test_nobody_outside_the_consultation_reaches_its_draft(client, world, username, status):
    _case, faq = _drafted(world)
    _login(client, username)
    assert client.get(f"/work/faq/{faq.pk}/").status_code == status
    response = client.post(f"/work/faq/{faq.pk}/", {"question": "改", "answer": "改", "do": "publish"})
    assert response.status_code == status
    faq.refresh_from_db()
    assert faq.published_at is None
    if status == 404:
        assert faq.question not in client.get("/work/faq/").content.decode()


def test_a_draft_is_listed_for_the_clerk_and_can_be_discarded(client, world):
    _case, faq = _drafted(world)
    _login(client, "clerk_xfl")
    assert f"/work/faq/{faq.pk}/" in client.get("/work/faq/").content.decode()
    response = client.post(f"/work/faq/{faq.pk}/", {"question": "q", "answer": "a", "do": "discard"})
    assert response.status_code == 303
    assert not MatterFAQ.objects.filter(pk=faq.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_two_clerks_publishing_the_same_draft_at_once_publish_it_once(world):
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent transactions: PostgreSQL")
    _case, faq = _drafted(world)
    outcomes, barrier = [], threading.Barrier(2)

    def publish(name):
        from django.db import connection as conn

        try:
            barrier.wait()
            faq_publish(faq_id=faq.pk, question="合疗怎么报销？", answer="出院直接结算。", published_by=name)
            outcomes.append("published")
        except ValidationFailed as exc:
            outcomes.append(exc.message)
        finally:
            conn.close()

    threads = [threading.Thread(target=publish, args=(n,)) for n in ("clerk_xfl", "handler_xfl")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 2 and outcomes.count("published") == 1
    assert any("不能重复发布" in o for o in outcomes)


@pytest.mark.django_db(transaction=True)
def test_two_clicks_drafting_the_same_consultation_at_once_make_one_entry(world):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions: PostgreSQL")
    case = _answered(world)
    outcomes, barrier = [], threading.Barrier(2)

    def draft():
        from django.db import connection as conn

        try:
            barrier.wait()
            faq_draft(matter_id=case.matter_id, question="问", answer="答", source_case_id=case.pk)
            outcomes.append("drafted")
        except ValidationFailed as exc:
            outcomes.append(exc.message)
        finally:
            conn.close()

    threads = [threading.Thread(target=draft) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("drafted") == 1
    assert MatterFAQ.objects.filter(source_case_id=case.pk).count() == 1


# --- 3. a complete 办事指南 ----------------------------------------------------------------------


def _docx() -> bytes:
    from yiwang.demo.guides import form_docx

    return form_docx("老年证申请表", ("出生日期",), sample=False)


@pytest.fixture
def guide(world, media):
    matter = Matter.objects.get(code="SENIOR_CARD")
    matter.visits, matter.delivery = 0, ["pickup", "post"]
    matter.consult_phone, matter.complaint_phone = "029-33185012", "12345"
    matter_publish(matter=matter)
    from yiwang.org.models import Unit

    Unit.objects.filter(code="KG-DZ-SH").update(address="底张街道底张大道18号", hours="周一至周五 9:00-17:30",
                                               phone="029-33180001")
    Unit.objects.filter(code="KG-DZ-XFL-SH").update(address="幸福里社区服务中心一楼", hours="周一至周五 9:00-12:00")
    return document_store(matter=matter, title="老年证申请表", data=_docx(), filename="form.docx")


def test_the_guide_says_visits_delivery_phones_and_where_and_when(client, world, guide):
    body = client.get("/matters/SENIOR_CARD/").content.decode()
    for text in ("最多跑零次", "窗口自取", "免费邮寄", "029-33185012", "12345", "底张街道便民服务中心",
                 "底张街道底张大道18号", "周一至周五 9:00-17:30", "老年证申请表"):
        assert text in body, text


def test_a_resident_sees_the_halls_over_their_own_community_nearest_first(resident, world, guide):
    body = resident.get("/matters/SENIOR_CARD/").content.decode()
    assert "按您登记的住址" in body
    assert body.index("幸福里社区便民服务站") < body.index("底张街道便民服务中心")
    assert "渭城街道便民服务中心" not in body


def test_a_blank_form_downloads_as_an_attachment_of_its_type(client, world, guide):
    response = client.get(f"/matters/SENIOR_CARD/forms/{guide.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''%E8%80%81%E5%B9%B4%E8%AF%81" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode().count("老年证申请表") >= 1


def test_a_form_is_not_found_under_another_matter_or_a_guessed_id(client, world, guide):
    assert client.get(f"/matters/HOUSING_FUND_WITHDRAW/forms/{guide.pk}/").status_code == 404
    assert client.get(f"/matters/SENIOR_CARD/forms/{guide.pk + 1}/").status_code == 404


def test_an_internal_matters_form_is_not_served(client, world, media):
    doc = document_store(matter=Matter.objects.get(code="RECT_GRASSROOTS"), title="整改台账模板", data=_docx(),
                         filename="t.docx")
    assert client.get(f"/matters/RECT_GRASSROOTS/forms/{doc.pk}/").status_code == 404


@pytest.mark.parametrize("data, filename", [
    (b"<html><script>alert(1)</script></html>", "form.pdf"),
    (b"MZ\x90\x00", "form.docx"),
    (b"", "form.pdf"),
])
def test_a_file_that_is_not_a_form_is_refused(world, media, data, filename):
    with pytest.raises(ValidationFailed) as err:
        document_store(matter=Matter.objects.get(code="SENIOR_CARD"), title="申请表", data=data, filename=filename)
    assert err.value.field == "file"


def test_a_hostile_title_is_refused_or_kept_out_of_the_file_name(world, media):
    matter = Matter.objects.get(code="SENIOR_CARD")
    with pytest.raises(ValidationFailed):
        document_store(matter=matter, title="表\x00格", data=_docx(), filename="a.docx")
    doc = document_store(matter=matter, title='../=1+1 "表"', data=_docx(), filename="a.docx")
    assert "/" not in doc.filename and '"' not in doc.filename and doc.filename.endswith(".docx")


def test_the_same_form_uploaded_twice_is_stored_once(world, media):
    matter = Matter.objects.get(code="SENIOR_CARD")
    first = document_store(matter=matter, title="老年证申请表", data=_docx(), filename="a.docx")
    second = document_store(matter=matter, title="老年证申请表(新)", data=_docx(), filename="b.docx")
    assert first.file.name == second.file.name
    assert len(list((media / "catalog" / "documents").iterdir())) == 1


def _admin_post(client, matter, upload):
    form = client.get(f"/admin/catalog/matter/{matter.pk}/change/").context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()  # as the page shows it (a JSON field's text)
        if value is None or value is False:
            continue
        data[name] = "on" if value is True else value
    data.update({"documents-TOTAL_FORMS": "1", "documents-INITIAL_FORMS": "0", "documents-MIN_NUM_FORMS": "0",
                 "documents-MAX_NUM_FORMS": "1000", "documents-0-kind": "blank", "documents-0-title": "老年证申请表",
                 "documents-0-position": "0", "documents-0-matter": str(matter.pk), "documents-0-file": upload})
    return client.post(f"/admin/catalog/matter/{matter.pk}/change/", data)


def test_staff_upload_a_form_in_the_admin_and_a_disguised_page_is_refused(client, world, media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from yiwang.catalog.models import MatterDocument

    _login(client, "admin")
    matter = Matter.objects.get(code="SENIOR_CARD")
    html = SimpleUploadedFile("form.pdf", b"<html><script>alert(1)</script></html>", content_type="application/pdf")
    response = _admin_post(client, matter, html)
    assert response.status_code == 200 and "表格须为 PDF" in response.content.decode()
    assert not MatterDocument.objects.exists()
    docx = SimpleUploadedFile("whatever.bin", _docx(), content_type="application/octet-stream")
    response = _admin_post(client, matter, docx)
    assert response.status_code == 302, [m for m in re.findall(r"errorlist[^>]*>(.*?)</ul>", response.content.decode(), re.S)]
    doc = MatterDocument.objects.get()
    assert doc.filename == "老年证申请表.docx" and doc.content_type.endswith("wordprocessingml.document")
    assert client.get(f"/matters/SENIOR_CARD/forms/{doc.pk}/").status_code == 200
    # Renaming it with a control character is refused (by the site's check of every posted text, before
    # the form's own); the stored entry stays as it was.
    form = client.get(f"/admin/catalog/matter/{matter.pk}/change/").context["adminform"].form
    data = {n: ("on" if v is True else v) for n in form.fields if (v := form[n].value()) not in (None, False)}
    data.update({"documents-TOTAL_FORMS": "1", "documents-INITIAL_FORMS": "1", "documents-MIN_NUM_FORMS": "0",
                 "documents-MAX_NUM_FORMS": "1000", "documents-0-id": str(doc.pk), "documents-0-kind": "blank",
                 "documents-0-title": "申请\x07表", "documents-0-position": "0", "documents-0-matter": str(matter.pk)})
    response = client.post(f"/admin/catalog/matter/{matter.pk}/change/", data)
    assert response.status_code == 422
    doc.refresh_from_db()
    assert doc.title == "老年证申请表"
    data["documents-0-title"] = "老年证申请表(2026版)"
    assert client.post(f"/admin/catalog/matter/{matter.pk}/change/", data).status_code == 302
    doc.refresh_from_db()
    assert doc.title == "老年证申请表(2026版)" and MatterDocument.objects.count() == 1
    assert doc.filename == "老年证申请表(2026版).docx"


def test_an_administrator_cannot_put_personal_details_into_an_entry_or_publish_one(client, world):
    _case, faq = _drafted(world)
    _login(client, "admin")
    response = client.post(f"/admin/catalog/matterfaq/{faq.pk}/change/", {
        "matter": faq.matter_id, "question": "13800000001 的问题", "answer": "答复",
        "published_at_0": "2026-01-01", "published_at_1": "10:00:00"})
    assert response.status_code == 200 and "138****0001" in response.content.decode()
    faq.refresh_from_db()
    assert faq.published_at is None and "13800000001" not in faq.question
    response = client.post(f"/admin/catalog/matterfaq/{faq.pk}/change/", {
        "matter": faq.matter_id, "question": "合疗怎么报销？", "answer": "出院直接结算。"})
    assert response.status_code == 302
    faq.refresh_from_db()
    assert faq.question == "合疗怎么报销？" and faq.published_at is None


def test_a_bad_delivery_or_visit_count_is_refused_naming_the_field(world):
    matter = Matter.objects.get(code="SENIOR_CARD")
    matter.delivery = ["drone"]
    with pytest.raises(ValidationFailed) as err:
        matter_publish(matter=matter)
    assert err.value.field == "delivery"


def test_the_demo_catalogue_is_complete_for_residents():
    from yiwang.demo import data

    for m in data.APPLICATIONS + data.CONSULTATIONS:
        assert m["resident_can_apply"] and m["consult_phone"] and m["complaint_phone"], m["code"]
    assert {code for code, *_ in data.DOCUMENTS} <= {m["code"] for m in data.APPLICATIONS}


def test_a_matter_created_without_saying_faces_residents_by_its_kind(world):
    made = matter_create(code="ASSIST_ELDERLY", name="结对关爱", kind="assistance", handling_levels=["community"],
                         responsible_unit_kind=UnitKind.PARTY_BRANCH, time_limit=0)
    assert made.resident_can_apply is False
    case = case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                       **SENIOR_OK).case
    assert case.kind == "application"
