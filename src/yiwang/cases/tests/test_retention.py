"""Retention (PIPL): past its period, a closed case's personal data is erased by `yiwang worker` with an
anonymise event; the case, its figures and its hash chain stay, and no trace of the data is left in the
case, its events, its outbox rows or on disk."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from yiwang.cases import retention
from yiwang.cases.attachments import upload_create
from yiwang.cases.chain import SEALED, verify_events
from yiwang.cases.models import Case, CaseEvent, Notification, RetentionRun
from yiwang.cases.services import case_act, case_create
from yiwang.core import clock
from yiwang.messages.models import Message
from yiwang.org.selectors import Viewer
from yiwang.stats.selectors import indicators
from yiwang.testing import SENIOR_OK

MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PNG = b"\x89PNG\r\n\x1a\n" + b"1" * 64
NAME, PHONE, ID_NUMBER = "王大爷", "13800000001", "61040219500101123X"
OTHER_ID = "110101195001011237"  # typed by the applicant into the description
PLANTED = [NAME, PHONE, ID_NUMBER, OTHER_ID]
LATER = MONDAY + dt.timedelta(days=4 * 365)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.YIWANG_RETENTION = {"reporter_contact": 365, "id_number": 365, "documents": 365}


def act(world, who: str, case: Case, action: str, **inputs) -> Case:
    case = Case.objects.get(pk=case.pk)
    return case_act(viewer=world.viewer(who), case_id=case.pk, action=action, version=case.version, **inputs)


def closed_case(world) -> Case:
    """An application whose every surface holds the applicant's name, phone and ID numbers."""
    with clock.frozen_at(MONDAY):
        case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD",
                           description=f"本人{NAME} 身份证 {OTHER_ID} 电话 {PHONE} =1+1", **SENIOR_OK).case
        case = act(world, "clerk_xfl", case, "accept")
        case = act(world, "clerk_xfl", case, "request_supplement", reply="请补交照片", missing=["photo"])
        token = upload_create(viewer=world.viewer("resident_wang"), upload=SimpleUploadedFile("王大爷.png", PNG)).token
        case = act(world, "resident_wang", case, "resubmit", comment=f"我是{NAME}，电话{PHONE} =1+1",
                   materials=[{"code": "photo", "upload": token}])
        case = act(world, "handler_xfl", case, "decide", decision="approved", reply=f"已核实 {PHONE} 本人")
        return act(world, "clerk_xfl", case, "close", delivery={"method": "pickup", "hall": "KG-DZ-XFL-SH"})


def traces(case: Case) -> list[str]:
    """Every planted value still found in the case row, its events or its outbox rows."""
    row = Case.objects.filter(pk=case.pk).values().get()
    texts = [str(row)] + [str(p) for p in CaseEvent.objects.filter(case=case).values_list("payload", flat=True)]
    texts += [f"{m.to} {m.subject} {m.text}" for m in Message.objects.filter(dedupe_key__startswith=f"case:{case.pk}:")]
    texts += list(Notification.objects.filter(case=case).values_list("message", flat=True))
    return [v for v in PLANTED for t in texts if v in t]


def figures() -> dict:
    """The leaders' dashboard figures and the published ones for the month the case was opened."""
    from yiwang.stats.public import public_figures

    return {"dashboard": indicators(viewer=Viewer(user_id=None, is_superuser=True, username="cli")),
            "public": public_figures(month=f"{MONDAY:%Y-%m}")}


def chain_ok(case: Case) -> str | None:
    fresh = Case.objects.get(pk=case.pk)
    return verify_events(list(CaseEvent.objects.filter(case=fresh).order_by("seq")), fresh.last_hash)


def test_anonymisation_erases_every_trace_and_keeps_chain_and_figures(world):
    case = closed_case(world)
    files = [m["reference"] for m in case.materials if m.get("reference")]
    assert files and all(default_storage.exists(f) for f in files)
    assert traces(case) and Message.objects.filter(dedupe_key__startswith=f"case:{case.pk}:").exists()
    assert any(SEALED not in e.payload and "_salt" in e.payload for e in case.events.all())
    before = figures()

    run = retention.retention_sweep(now=LATER)

    assert traces(case) == []
    assert not any(default_storage.exists(f) for f in files)
    assert chain_ok(case) is None
    assert figures() == before
    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.state, fresh.closed_at) == (case.state, case.closed_at)
    last = fresh.events.order_by("-seq").first()
    assert last.action == "anonymise" and set(last.payload["kinds"]) == {"reporter_contact", "id_number", "documents"}
    assert run.cases == 1 and run.counts == {"reporter_contact": 1, "id_number": 1, "documents": 1, "account": 0,
                                             "grid_household": 0}
    assert run.files_deleted == len(set(files)) and run.errors == []
    out = io.StringIO()
    call_command("verify", stdout=out)
    # A second run finds nothing left to do.
    assert retention.retention_sweep(now=LATER).cases == 0


def test_nothing_is_erased_before_the_retention_period(world):
    case = closed_case(world)
    run = retention.retention_sweep(now=case.closed_at + dt.timedelta(days=300))
    assert run.cases == 0 and traces(case)
    assert not CaseEvent.objects.filter(case=case, action="anonymise").exists()


def test_an_event_hashed_before_sealing_keeps_its_hash_by_attestation(world, monkeypatch):
    from yiwang.cases.services import timeline

    monkeypatch.setattr(timeline, "seal", lambda payload: payload)  # the old rule, as events were written
    case = closed_case(world)
    monkeypatch.undo()
    assert all("_salt" not in e.payload for e in case.events.all())
    retention.retention_sweep(now=LATER)
    assert traces(case) == [] and chain_ok(case) is None
    attested = CaseEvent.objects.get(case=case, action="anonymise").payload["attested"]
    assert attested  # the resubmission's words and the staff reply quoting the phone


def test_tampering_after_anonymisation_is_still_caught(world, monkeypatch):
    from yiwang.cases.services import timeline

    case = closed_case(world)
    retention.retention_sweep(now=LATER)
    sealed = CaseEvent.objects.filter(case=case, payload__has_key=SEALED).first()
    payload = dict(sealed.payload, **{SEALED: {**sealed.payload[SEALED], "comment": "0" * 64}})
    CaseEvent.objects.filter(pk=sealed.pk).update(payload=payload)
    assert "does not match its hash" in chain_ok(case)

    monkeypatch.setattr(timeline, "seal", lambda payload: payload)
    other = closed_case(world)
    first = CaseEvent.objects.get(case=other, seq=1)
    # Marking an event erased without an anonymise event that attests its hash: refused.
    CaseEvent.objects.filter(pk=first.pk).update(payload={"_attested": first.hash, "note": "rewritten"})
    assert "no anonymise event attests" in chain_ok(other)


def test_a_failing_case_is_logged_on_the_run_and_the_rest_go_on(world, monkeypatch):
    broken, case = closed_case(world), closed_case(world)
    real = retention.case_anonymise

    def flaky(*, case_id, kinds, at):
        if case_id == broken.pk:
            raise OSError("disk gone")
        return real(case_id=case_id, kinds=kinds, at=at)

    monkeypatch.setattr(retention, "case_anonymise", flaky)
    run = retention.retention_sweep(now=LATER)
    assert run.cases == 1 and run.counts["documents"] == 1 and traces(case) == [] and traces(broken)
    assert run.errors and "disk gone" in run.errors[0] and f"case {broken.pk}" in run.errors[0]
    assert chain_ok(case) is None and chain_ok(broken) is None
    out = io.StringIO()
    call_command("stats", stdout=out)
    assert "retention 个人信息保留期清理" in out.getvalue() and "disk gone" in out.getvalue()
    assert RetentionRun.objects.count() == 1


def test_a_checkpoint_signed_before_anonymisation_still_verifies(world, settings, tmp_path, monkeypatch):
    """The signed checkpoints (records.checkpoints) recompute the covered events through
    chain.event_hash: sealed and attested events give the hash they were signed with."""
    pytest.importorskip("yiwang.records.checkpoints")
    from yiwang.cases.services import timeline

    settings.YIWANG_SIGNING_KEY_FILE = str(tmp_path / "keys" / "signing.pem")
    case = closed_case(world)
    monkeypatch.setattr(timeline, "seal", lambda payload: payload)
    old_rule = closed_case(world)
    monkeypatch.undo()
    path = tmp_path / "cp.json"
    call_command("checkpoint", "--out", str(path), stdout=io.StringIO())
    retention.retention_sweep(now=LATER)
    assert traces(case) == [] and traces(old_rule) == []
    out = io.StringIO()
    call_command("verify", "--checkpoint", str(path), stdout=out, stderr=io.StringIO())
    assert "every event the checkpoint covers is as it was signed" in out.getvalue()


def test_the_worker_runs_the_sweep_and_says_what_it_did(world, settings, tmp_path):
    settings.YIWANG_SIGNING_KEY_FILE = str(tmp_path / "keys" / "signing.pem")
    case = closed_case(world)
    out = io.StringIO()
    with clock.frozen_at(LATER):
        call_command("worker", "--once", stdout=out)
    assert ("retention: 1 cases anonymised (reporter_contact 1, id_number 1, documents 1, account 0, "
            "grid_household 0)") in out.getvalue()
    assert traces(case) == [] and chain_ok(case) is None
    assert RetentionRun.objects.get().cases == 1
