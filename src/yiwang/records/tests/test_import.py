"""`yiwang import`: historical cases in bulk, replayed as the engine would have written them.

Runs on SQLite by default and on PostgreSQL (COPY) with YIWANG_DATABASE_URL=postgres://….
"""

import datetime as dt
import gzip
import io
import json
import sys
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from yiwang.cases.models import Case, CaseEvent
from yiwang.cases.services import case_act, case_create
from yiwang.core import clock
from yiwang.feedback.models import Evaluation
from yiwang.org.selectors import hierarchy
from yiwang.records import imports as bulk
from yiwang.records import rollups
from yiwang.testing import SENIOR_OK

LOCAL = ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 3, 2, 9, 0, tzinfo=LOCAL)  # an ordinary working week


def at(minutes: float) -> str:
    return (MONDAY + dt.timedelta(minutes=minutes)).isoformat()


def senior(ref: str = "L-1", **over) -> dict:
    """A closed, rated 老年证 application of the test world."""
    record = {
        "ref": ref, "matter": "SENIOR_CARD", "title": "老年证办理", "channel": "hall", "region": "KG-DZ-XFL",
        "address": "幸福里3号楼", "applicant": {"name": "张三", "phone": "13900000000"},
        "events": [
            {"action": "submit", "at": at(0), "actor": "clerk_xfl", "to_unit": "KG-DZ-XFL-SH"},
            {"action": "accept", "at": at(10), "actor": "clerk_xfl"},
            {"action": "decide", "at": at(60 * 24), "actor": "handler_xfl",
             "payload": {"decision": "approved", "result": "准予办理"}},
            {"action": "close", "at": at(60 * 24 + 5), "actor": "clerk_xfl"},
        ],
        "rating": {"score": 5, "channel": "pad", "tags": ["attitude"], "at": at(60 * 24 + 30)},
    }
    record.update(over)
    return record


def jsonl(*records) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def run_import(tmp_path, *records, args=(), raw: bytes | None = None):
    path = tmp_path / "cases.jsonl"
    path.write_bytes(jsonl(*records) if raw is None else raw)
    out, err = StringIO(), StringIO()
    call_command("import", str(path), "-q", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(tmp_path, *records, args=()) -> str:
    err = StringIO()
    path = tmp_path / "cases.jsonl"
    path.write_bytes(jsonl(*records))
    with pytest.raises(CommandError) as exc:
        call_command("import", str(path), "-q", *args, stdout=StringIO(), stderr=err)
    return err.getvalue() + str(exc.value)


def verify_passes() -> None:
    out = StringIO()
    call_command("verify", stdout=out, stderr=StringIO())
    assert "all hash chains intact" in out.getvalue()


# --- a round trip ---------------------------------------------------------------------------------


def test_it_imports_a_case_with_its_timeline_and_rating(world, tmp_path):
    out, _err = run_import(tmp_path, senior())

    case = Case.objects.get()
    assert "imported 1 cases, 4 events and 1 ratings" in out
    assert (case.state, case.event_count, case.version) == ("closed", 4, 4)
    assert case.holder_unit_id == case.handling_unit_id == world.units["xfl_sh"].pk
    assert case.created_at == MONDAY and case.accepted_at == MONDAY + dt.timedelta(minutes=10)
    assert case.closed_at == MONDAY + dt.timedelta(minutes=60 * 24 + 5)
    assert case.due_at == dt.datetime(2026, 3, 9, 23, 59, 59, tzinfo=LOCAL)  # 5 working days after accepting
    assert (case.decision, case.result, case.idempotency_key) == ("approved", "准予办理", "import:L-1")
    assert case.search_text and "老年" in case.search_text.split()
    assert [e.action for e in case.events.order_by("seq")] == ["submit", "accept", "decide", "close"]
    evaluation = Evaluation.objects.get()
    assert (evaluation.case_id, evaluation.rating, evaluation.handling_unit_id) == (case.pk, 5, world.units["xfl_sh"].pk)
    verify_passes()


def test_it_rebuilds_the_indicator_rollups(world, tmp_path):
    run_import(tmp_path, senior("A"), senior("B"))

    assert rollups.differences() == []


def test_it_reads_gzip_files(world, tmp_path):
    path = tmp_path / "cases.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(senior("A"), senior("B"))))

    call_command("import", str(path), "-q", stdout=StringIO(), stderr=StringIO())

    assert Case.objects.count() == 2


def test_it_reads_standard_input(world, monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO(jsonl(senior("A"), senior("B"), senior("C"))))
    monkeypatch.setattr(sys, "stdin", stdin)

    call_command("import", "-", "-q", stdout=StringIO(), stderr=StringIO())

    assert Case.objects.count() == 3
    verify_passes()


def test_it_links_a_known_id_number_and_masks_an_unknown_one(world, tmp_path):
    known = senior("A", applicant={"id_number": "61040219500101123X"})
    unknown = senior("B", applicant={"name": "赵六", "id_number": "110101199003074477"})

    run_import(tmp_path, known, unknown)

    linked = Case.objects.get(idempotency_key="import:A")
    assert (linked.applicant_id, linked.applicant_name) == (world.residents["wang"].pk, "王大爷")
    masked = Case.objects.get(idempotency_key="import:B")
    assert masked.applicant_id is None
    assert masked.events.get(seq=1).payload["applicant_id_number"] == "1101************77"
    verify_passes()


def test_an_open_case_keeps_its_clock_suspended_while_waiting_for_a_supplement(world, tmp_path):
    waiting = senior("A", rating=None, events=[
        {"action": "submit", "at": at(0), "actor": "clerk_xfl", "to_unit": "KG-DZ-XFL-SH"},
        {"action": "claim", "at": at(5), "actor": "clerk_xfl"},
        {"action": "accept", "at": at(10), "actor": "clerk_xfl"},
        {"action": "request_supplement", "at": at(20), "actor": "clerk_xfl", "payload": {"comment": "缺照片"}},
    ])

    run_import(tmp_path, waiting)

    case = Case.objects.get()
    assert case.state == "supplement" and case.closed_at is None
    assert case.suspended_at == MONDAY + dt.timedelta(minutes=20)
    assert case.assignee_id == world.users["clerk_xfl"].pk
    verify_passes()


def test_a_given_deadline_is_recorded_where_the_clock_started(world, tmp_path):
    due = dt.datetime(2026, 3, 20, 18, 0, tzinfo=LOCAL)

    run_import(tmp_path, senior(due_at=due.isoformat()))

    case = Case.objects.get()
    assert case.due_at == due
    assert case.events.get(action="accept").payload["due_at"] == due.isoformat()
    verify_passes()


# --- the same columns as the live engine ---------------------------------------------------------


def _act(world, case, minutes, actor, action, **inputs):
    with clock.frozen_at(MONDAY + dt.timedelta(minutes=minutes)):
        return case_act(viewer=world.viewer(actor), case_id=case.pk, action=action, version=case.version, **inputs)


def _export(case: Case) -> dict:
    """The record a legacy export would hold for ``case``: no deadlines, so the import computes them."""
    h = hierarchy()

    def code(unit_id):
        return h.units[unit_id].code if unit_id else None

    events = []
    for e in case.events.order_by("seq"):
        ev = {"action": e.action, "at": e.at.isoformat(), "from_state": e.from_state, "to_state": e.to_state,
              "from_unit": code(e.from_unit_id), "to_unit": code(e.to_unit_id),
              "payload": {k: v for k, v in e.payload.items() if k != "due_at"}}
        ev["actor" if e.actor_id else "actor_name"] = e.actor_name
        events.append(ev)
    return {"ref": f"live-{case.pk}", "matter": case.matter.code, "kind": case.kind, "title": case.title,
            "channel": case.channel, "region": h.regions[case.region_id].code,
            "applicant": {"name": case.applicant_name, "phone": case.applicant_phone}, "events": events}


DERIVED = ("kind", "matter_id", "matter_version_id", "region_path", "state", "holder_unit_id", "handling_unit_id",
           "supervisor_unit_id", "assignee_id", "created_by_id", "created_at", "accepted_at", "due_at",
           "suspended_at", "closed_at", "warning_level", "decision", "result", "version", "event_count")


def _live_cases(world) -> list[Case]:
    with clock.frozen_at(MONDAY):
        app = case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                          channel="hall", applicant_name="王五", **SENIOR_OK).case
        incident = case_create(viewer=world.viewer("operator_kg"), matter_code="INC_PARKING", region_code="KG-DZ-XFL",
                               channel="phone", title="小区门口乱停车").case
        question = case_create(viewer=world.viewer("clerk_xfl"), matter_code="ASK_MEDICAL", region_code="KG-DZ-XFL",
                               channel="phone", description="报销比例是多少？").case
        moved = case_create(viewer=world.viewer("clerk_xfl"), matter_code="SENIOR_CARD", region_code="KG-DZ-XFL",
                            channel="hall", applicant_name="孙七", **SENIOR_OK).case
    app = _act(world, app, 5, "clerk_xfl", "claim")
    app = _act(world, app, 10, "clerk_xfl", "accept")
    app = _act(world, app, 60, "clerk_xfl", "request_supplement", comment="缺照片")
    app = _act(world, app, 60 * 24 * 3, "resident_wang" if app.applicant_id else "clerk_xfl", "resubmit")
    app = _act(world, app, 60 * 24 * 4, "handler_xfl", "decide", decision="approved", result="准予办理")
    app = _act(world, app, 60 * 24 * 4 + 3, "clerk_xfl", "close", delivery={"method": "post", "tracking": "SF1234567890"})
    incident = _act(world, incident, 3, "operator_kg", "register")
    incident = _act(world, incident, 6, "operator_kg", "dispatch", unit_code="KG-DZ-EN")
    incident = _act(world, incident, 30, "handler_en", "acknowledge")
    incident = _act(world, incident, 90, "handler_en", "handle", result="已劝离")
    incident = _act(world, incident, 120, "operator_kg", "rework", comment="车辆仍在")
    incident = _act(world, incident, 150, "handler_en", "acknowledge")
    incident = _act(world, incident, 200, "handler_en", "handle", result="已拖离")
    incident = _act(world, incident, 230, "operator_kg", "verify")
    question = _act(world, question, 30, "clerk_xfl", "answer", result="按规定报销")
    moved = _act(world, moved, 20, "clerk_xfl", "transfer", unit_code="KG-DZ-SH", comment="需街道办理")
    moved = _act(world, moved, 40, "handler_dz", "escalate", comment="需新城办理")
    return [app, incident, question, moved]


def test_imported_cases_get_the_columns_the_live_engine_wrote(world, tmp_path):
    live = [Case.objects.get(pk=c.pk) for c in _live_cases(world)]

    run_import(tmp_path, *[_export(c) for c in live])

    for original in live:
        imported = Case.objects.get(idempotency_key=f"import:live-{original.pk}")
        assert {f: getattr(imported, f) for f in DERIVED} == {f: getattr(original, f) for f in DERIVED}
        assert [(e.action, e.from_state, e.to_state, e.from_unit_id, e.to_unit_id, e.actor_id)
                for e in imported.events.order_by("seq")] == \
               [(e.action, e.from_state, e.to_state, e.from_unit_id, e.to_unit_id, e.actor_id)
                for e in original.events.order_by("seq")]
    verify_passes()


# --- refusals --------------------------------------------------------------------------------------


def test_bad_lines_are_reported_with_their_line_numbers_and_nothing_is_written(world, tmp_path):
    late = senior("D")
    late["events"][2]["at"] = at(1)  # before the acceptance at minute 10
    skipping = senior("E")
    skipping["events"].insert(1, {"action": "close", "at": at(5), "actor": "clerk_xfl"})

    message = refused(tmp_path, senior("A"), senior("B", matter="NO_SUCH"), senior("C", region="NOWHERE"),
                      late, skipping, senior("F", applicant={"id_number": "610402195001011231"}),
                      senior("G", events=[{"action": "submit", "at": at(0), "to_unit": "XX-NOPE"}]))

    assert "line 2: 没有编码为 NO_SUCH 的在办事项。" in message
    assert "line 3: 没有代码为 NOWHERE 的区域。" in message
    assert "line 4: 第 3 个事件(decide)的时间早于上一个事件" in message
    assert "line 5: 第 2 个事件：状态为 submitted 时不能执行 close。" in message
    assert "line 6: 申请人身份证号 6104************31 无效" in message
    assert "line 7: 第 1 个事件：没有编码为 XX-NOPE 的单位。" in message
    assert "6 bad lines: import refused; nothing was written" in message
    assert not Case.objects.exists() and not CaseEvent.objects.exists() and not Evaluation.objects.exists()


def test_it_refuses_a_line_that_is_not_json(world, tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_bytes(jsonl(senior("A")) + b"{not json\n")
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import", str(path), "-q", stdout=StringIO(), stderr=err)

    assert "line 2: 不是有效的 JSON" in err.getvalue()
    assert not Case.objects.exists()


def test_it_refuses_values_of_the_wrong_type(world, tmp_path):
    message = refused(tmp_path, senior("A", channel=["hall"]), senior("B", matter={"code": "SENIOR_CARD"}))

    assert "line 1: 有字段的类型不对" in message
    assert "line 2: 没有编码为 {'code': 'SENIOR_CARD'} 的在办事项。" in message


def test_it_refuses_a_line_with_a_control_character_naming_where(world, tmp_path):
    """NUL never reaches the database (PostgreSQL refuses it, SQLite would keep it), nor any other control
    character (yiwang.core.text), wherever in the record it sits."""
    commented = senior("B")
    commented["events"][2]["payload"]["result"] = "准予\x0b办理"
    message = refused(tmp_path, senior("A", description="a\u0000b"), commented,
                      senior("C", applicant={"name": "张\x7f三"}), senior("D", title="门前\\b积水"))

    assert "line 1: description 含有不可见的控制字符(U+0000)，请删除后重新提交。" in message
    assert "line 2: events.2.payload.result 含有不可见的控制字符(U+000B)" in message
    assert "line 3: applicant.name 含有不可见的控制字符(U+007F)" in message
    assert "line 4" not in message  # an escaped backslash before "b" is text
    assert "3 bad lines" in message


def test_it_stops_reading_after_max_errors_bad_lines(world, tmp_path):
    message = refused(tmp_path, *[senior(f"R{i}", matter="NO_SUCH") for i in range(5)], senior("OK"),
                      args=["--max-errors", "2"])

    assert "line 2: " in message and "line 3: " not in message
    assert "reading stopped at --max-errors" in message
    assert not Case.objects.exists()


def test_it_refuses_a_rating_of_an_open_case(world, tmp_path):
    open_case = senior("A")
    open_case["events"] = open_case["events"][:2]

    message = refused(tmp_path, open_case)

    assert "line 1: rating：案件办结后才能评价，而时间线结束于 accepted。" in message


def test_it_refuses_a_case_imported_before(world, tmp_path):
    run_import(tmp_path, senior("A"))

    message = refused(tmp_path, senior("B"), senior("A"))

    assert "line 2: 编号 A 的案件已经导入过。" in message
    assert Case.objects.count() == 1


def test_skip_bad_imports_the_good_lines_and_reports_the_bad(world, tmp_path):
    out, err = run_import(tmp_path, senior("A"), senior("B", matter="NO_SUCH"), senior("C"), args=["--skip-bad"])

    assert "line 2: 没有编码为 NO_SUCH 的在办事项。" in err
    assert "1 bad lines skipped" in err
    assert "imported 2 cases" in out
    assert sorted(Case.objects.values_list("idempotency_key", flat=True)) == ["import:A", "import:C"]
    verify_passes()


# --- never half-written --------------------------------------------------------------------------


def _crash_on_second_events_write(monkeypatch):
    writer_class = type(bulk.writer_for_connection())
    original = writer_class.write
    calls = {"events": 0}

    def write(self, table, rows):
        if table.name == CaseEvent._meta.db_table:
            calls["events"] += 1
            if calls["events"] == 2:
                raise RuntimeError("the machine went down")
        return original(self, table, rows)

    monkeypatch.setattr(writer_class, "write", write)


def test_a_crash_mid_import_leaves_nothing_written(world, monkeypatch):
    _crash_on_second_events_write(monkeypatch)
    stream = io.BytesIO(jsonl(*[senior(f"R{i}") for i in range(6)]))

    with pytest.raises(RuntimeError):
        bulk.import_cases(stream, chunk=2)

    assert not Case.objects.exists() and not CaseEvent.objects.exists() and not Evaluation.objects.exists()


def test_a_crash_with_commit_every_keeps_whole_committed_batches_only(world, monkeypatch):
    _crash_on_second_events_write(monkeypatch)
    stream = io.BytesIO(jsonl(*[senior(f"R{i}") for i in range(6)]))

    with pytest.raises(RuntimeError):
        bulk.import_cases(stream, chunk=2, commit_every=2)

    assert sorted(Case.objects.values_list("idempotency_key", flat=True)) == ["import:R0", "import:R1"]
    assert all(c.events.count() == c.event_count == 4 for c in Case.objects.all())
    assert rollups.differences() == []
    verify_passes()



def test_on_postgresql_it_also_imports_with_the_row_by_row_key_checks(world, tmp_path, monkeypatch):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: the foreign-key triggers run when the tables have triggers of their own")
    monkeypatch.setattr(bulk.PostgresWriter, "own_triggers", True)

    run_import(tmp_path, senior("A"), senior("B"))

    assert Case.objects.count() == 2 and CaseEvent.objects.count() == 8
    verify_passes()


# --- --rebuild-indexes ------------------------------------------------------------------------------


def _indexes() -> list[str]:
    return sorted(sql for _name, sql in bulk.writer_for_connection().index_definitions())


def test_rebuild_indexes_writes_the_same_and_leaves_every_index_as_it_was(world, tmp_path):
    before = _indexes()
    assert any("case_search_idx" in sql or "case_created_idx" in sql for sql in before)

    out, _err = run_import(tmp_path, senior("A"), senior("B"), args=("--rebuild-indexes",))

    assert "imported 2 cases, 8 events and 2 ratings" in out
    assert _indexes() == before
    assert Case.objects.count() == 2 and Evaluation.objects.count() == 2
    assert rollups.differences() == []
    verify_passes()


def test_rebuild_indexes_refused_or_crashed_leaves_the_indexes(world, tmp_path, monkeypatch):
    before = _indexes()

    message = refused(tmp_path, senior("A"), senior("B", matter="NO_SUCH"), args=("--rebuild-indexes",))
    assert "line 2:" in message and "nothing was written" in message
    assert _indexes() == before

    _crash_on_second_events_write(monkeypatch)
    with pytest.raises(RuntimeError):
        bulk.import_cases(io.BytesIO(jsonl(*[senior(f"R{i}") for i in range(6)])), chunk=2, rebuild_indexes=True)
    assert _indexes() == before
    assert not Case.objects.exists() and not CaseEvent.objects.exists()


def test_rebuild_indexes_needs_one_transaction(world, tmp_path):
    message = refused(tmp_path, senior("A"), args=("--rebuild-indexes", "--commit-every", "10"))

    assert "--rebuild-indexes needs the whole import in one transaction" in message
    assert not Case.objects.exists()
    with pytest.raises(ValueError):
        bulk.import_cases(io.BytesIO(jsonl(senior("A"))), commit_every=10, rebuild_indexes=True)


def test_a_ref_repeated_in_a_later_chunk_is_refused_whether_or_not_its_chunk_is_written_yet(world):
    # Chunks of two: line 3 repeats a ref of the chunk still being written while its own chunk is
    # replayed (PostgreSQL), line 5 one written by then.
    stream = io.BytesIO(jsonl(senior("A"), senior("B"), senior("A"), senior("C"), senior("B")))

    report = bulk.import_cases(stream, chunk=2, skip_bad=True)

    assert [(line, "已经导入过" in message) for line, message in report.errors] == [(3, True), (5, True)]
    assert sorted(Case.objects.values_list("idempotency_key", flat=True)) == ["import:A", "import:B", "import:C"]
    assert report.progress.cases == 3
    verify_passes()
