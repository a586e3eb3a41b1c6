"""The 办结 message carries the resident's receipt (issue 19 item 3, docs/checkpoints.md "Receipts"):
the hash at submission and at closing, short, and a link to /receipts/check/ that checks it. Read from
the outbox, as sent."""

from __future__ import annotations

import re

import pytest

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_create
from yiwang.core import clock
from yiwang.messages import texts
from yiwang.messages.models import Message, MessageTemplate
from yiwang.messages.tests.test_templates import MONDAY, act, told
from yiwang.records.selectors import receipt_for
from yiwang.records.services import checkpoint_create
from yiwang.testing import SENIOR_OK

LINK = re.compile(r"https?://\S+/receipts/check/\?number=(\w+)&hash=([0-9a-f]+)")


def closed_application(world, result: str = "老年证已制好") -> Case:
    with clock.frozen_at(MONDAY):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD", **SENIOR_OK).case
        case = act(world, "clerk_xfl", case, "accept")
        case = act(world, "handler_xfl", case, "decide", decision="approved")
        return act(world, "clerk_xfl", case, "close", result=result,
                   delivery={"method": "post", "tracking": "SF1234567890"})


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    settings.YIWANG_SIGNING_KEY_FILE = str(tmp_path / "signing.pem")


def test_the_closing_sms_and_inapp_message_carry_the_receipt(world):
    case = closed_application(world)
    receipt = receipt_for(case)
    for channel in ("sms", "inapp"):
        text = told(case, channel)[-1]
        assert receipt.submitted_hash[:16] in text and receipt.closed_hash[:16] in text, text
        number, short = LINK.search(text).groups()
        assert number == case.number and short == receipt.closed_hash[:16]
    # The earlier messages (受理) carry no closing hash: there was none yet.
    assert receipt.closed_hash[:16] not in told(case)[0]


def test_the_link_in_the_message_checks_the_receipt_until_the_record_is_rewritten(world, client):
    case = closed_application(world)
    checkpoint_create()
    url = LINK.search(told(case)[-1]).group(0)
    page = client.get(url[url.index("/receipts/"):])
    assert page.status_code == 200
    assert 'class="success" id="receipt-result"' in page.content.decode()
    assert "第 1 号检查点" in page.content.decode()
    # A short hash that is no event of the case, or a prefix shorter than 16 digits, is no receipt.
    wrong = client.get("/receipts/check/", {"number": case.number, "hash": "0123456789abcdef"})
    assert 'class="error" id="receipt-result"' in wrong.content.decode()
    short = client.get("/receipts/check/", {"number": case.number, "hash": case.last_hash[:15]})
    assert short.status_code == 422 and 'id="hash-error"' in short.content.decode()


def test_a_template_names_the_receipt_variables_and_a_report_closing_carries_them(world):
    MessageTemplate.objects.create(event="closed", channel="sms",
                                   text="{case_number} 办结 {receipt_closed} 受理 {receipt_submitted} {receipt_link}")
    case = closed_application(world)
    receipt = receipt_for(case)
    sms = told(case)[-1]
    assert sms.startswith(f"{case.number} 办结 {receipt.closed_hash[:16]} 受理 {receipt.submitted_hash[:16]} http")
    assert set(texts.SAMPLE) == set(texts.VARIABLES)  # the admin's preview fills every variable


@pytest.mark.tampers
def test_a_reopened_case_has_no_closing_hash_until_it_closes_again(world):
    from yiwang.cases.services.notifications import applicant_variables

    case = closed_application(world)
    # As receipt_for reads it: a later event that leaves the closed states clears the closing hash.
    last = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    CaseEvent.objects.filter(pk=last.pk).update(to_state="accepted")
    values = applicant_variables(Case.objects.get(pk=case.pk), {})
    assert values["receipt_closed"] == "" and values["receipt_submitted"]
    assert receipt_for(case).closed_hash is None
    assert Message.objects.filter(dedupe_key__startswith=f"case:{case.pk}:").exists()


def test_hostile_text_in_the_result_does_not_disturb_the_receipt(world):
    case = closed_application(world, result="=1+1 {receipt} 61040219500101123X")
    sms = told(case)[-1]
    assert "61040219500101123X" not in sms and "{receipt}" in sms
    assert receipt_for(case).closed_hash[:16] in sms


def test_a_reported_problem_closed_carries_the_receipt_in_its_closing_message(world):
    from yiwang.cases.services.confirmation import incident_answer
    from yiwang.command.services import register_and_dispatch

    case = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", lat=34.405, lng=108.705,
                       title="楼下乱停车 =1+1", channel="online", region_code="KG-DZ-XFL").case
    case = register_and_dispatch(viewer=world.viewer("operator_kg"), case_id=case.pk, version=case.version)
    act(world, "handler_en", case, "acknowledge")
    act(world, "handler_en", case, "handle", result="已劝离车辆", reply="已劝离车辆")
    act(world, "operator_kg", case, "verify")
    act(world, "operator_kg", case, "ask_confirmation")
    # The reporter answers 已解决 (issue 18): that closes it and sends the 结案 message.
    case = incident_answer(case_id=case.pk, answer="yes", viewer=world.viewer("resident_wang"))
    receipt = receipt_for(case)
    assert receipt.closed_hash is not None
    closing = [t for t in told(case) if receipt.closed_hash[:16] in t]
    assert len(closing) == 1 and "已结案" in closing[0] and receipt.submitted_hash[:16] in closing[0]
