"""Every case workflow, declared here and nowhere else.

A workflow is a set of named actions. Each action declares its whole effect, so that a reader finds
what an action does here alone:

- from which states it may be taken and which state it leads to (None: the state stays; a transfer
  moves the case, not its stage), who may take it and which inputs it needs;
- where the holder moves (``moves_to``) and which other unit fields change (``handling``,
  ``supervisor``, ``assignee``);
- what it does to the clock (starts, stops, resumes) — and so to warnings: a new or moved deadline
  starts unwarned, stopping the clock or closing clears the warning;
- whom it tells: staff (``notify``: a notification kind and the audiences that get it) and the
  applicant (``tells``: which message they get by SMS and in-app);
- which of its texts residents may read (``public``);
- an explicit side effect outside the case row, by name (``side_effect``), run by the action service.

:func:`transition` is the one pure function that turns (case, action, inputs) into the case's new
fields and the event's derived payload. Every write path uses it: staff actions, system actions,
免申即享, the sweeps and the importer's replay of history. Services look actions up here; pages and
the API list the actions a viewer may take now from here. A comment on a rule says why it exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from yiwang.cases import workdays

# Who may act. Staff roles come from yiwang.org.models.Role; these two are not staff roles.
APPLICANT = "applicant"  # the resident who applied or reported
SYSTEM = "system"  # sweeps and automatic rules

CLERK, HANDLER, OPERATOR, LEADER, SECRETARY = "clerk", "handler", "operator", "leader", "secretary"

# Where an action moves the holder (Action.moves_to). A replayed record may name the unit instead.
STAYS = ""
TO_UNIT = "unit"  # the unit given as input (transfer, dispatch)
UP = "up"  # one level up (routing.escalation_target); at the top a staff escalation is refused
TO_SUPERVISOR = "supervisor"  # back to the supervising unit (a handled incident goes for 核查)
TO_HANDLER = "handler"  # back to the unit that handled it (rework)

# Audiences of a notification (Action.notify's second part).
HOLDER, SUPERVISOR_UNIT, FROM_UNIT, THE_APPLICANT = "holder", "supervisor", "from", "applicant"


@dataclass(frozen=True)
class Action:
    name: str
    label: object
    sources: frozenset[str]
    target: str | None
    actors: frozenset[str]
    # Inputs the action must be given: unit, result, decision, how the result is delivered ("delivery"),
    # and the staff member's text — a reply to the resident ("reply") where the action must explain
    # itself to them, an internal note ("note") where it must explain itself to colleagues. "comment"
    # is the applicant's own words (a reporter's "still not solved"): residents write no replies.
    needs: tuple[str, ...] = ()
    # Inputs the action offers without requiring them: the materials a supplement asks for ("missing"),
    # the materials a resubmission brings ("materials").
    asks: tuple[str, ...] = ()
    starts_clock: bool = False  # acceptance/registration: the time limit runs from here
    stops_clock: bool = False  # waiting on the applicant: the time limit is suspended
    resumes_clock: bool = False
    only_if: str = ""  # a boolean field of the case that must be true, e.g. home_visit
    unless: str = ""  # a boolean field of the case that must be false (the other branch of an only_if)
    # It takes up to attachments.MAX_PHOTOS photos as evidence (事件 处置/核查: before and after).
    evidence: bool = False
    # 督办 comes from above, not from the holder: the supervising unit's staff, or a leader whose
    # region contains the case, may take it.
    by_supervisor: bool = False
    # The texts of its event that residents may read (the case page, /lookup/, the API as the
    # applicant, Open311): what the applicant must be told. A staff member's reply ("reply") is public
    # on every action and their note ("note") on none (public_payload); "comment" is public only where
    # named here, as it was when the event was written — the timeline is hash-chained, so old events
    # are read by the rule they were written under. Everything else stays with staff.
    public: tuple[str, ...] = ()
    moves_to: str = STAYS
    # The unit recorded as handling the case: "holder" (the unit that holds it when acting),
    # "destination" (where it is sent: a dispatch names who handles it).
    handling: str = ""
    # The supervising unit (who checks the work): "holder" (registration makes the registering
    # centre the supervisor), "holder_if_unset" (a dispatch keeps an existing supervisor).
    supervisor: str = ""
    # Who becomes the case's assignee: "actor" (认领) or "input" (the person named, e.g. 上门服务).
    # Any move of the holder clears the assignee: a person belongs to one unit.
    assignee: str = ""
    # The warning level this action sets (sweeps): never lowered by it.
    warning: int = 0
    # (Notification kind, audiences): who is told once the action is taken.
    notify: tuple[str, tuple[str, ...]] | None = None
    # What the applicant (the resident who applied or reported) is told, by SMS and in-app: the key
    # of the message in cases.services.notifications.APPLICANT_MESSAGES. Staff remarks never go out.
    tells: str = ""
    side_effect: str = ""  # "publish_faq", "absorb_into_parent": see cases.services.actions
    system: bool = False  # taken by the engine alone (sweeps, duplicate flags), never offered to people


@dataclass(frozen=True)
class Workflow:
    kind: str
    label: object
    initial: str
    states: dict[str, object]
    closed: frozenset[str]
    actions: dict[str, Action] = field(default_factory=dict)
    clock_from_submission: bool = False  # no acceptance step: the time limit runs from submission
    # The deadline is set when the case is opened (a ledger's 整改时限), not derived from the matter.
    deadline_given: bool = False
    # A resident reads its cases (an applicant, a reporter, a rater). An internal kind (整改事项, 帮扶)
    # has none: every text of it is staff's, so no reply is taken and nothing of it is public.
    residents_read: bool = True

    def open_states(self) -> frozenset[str]:
        return frozenset(self.states) - self.closed


def _wf(kind, label, initial, states, closed, actions, *, clock_from_submission: bool = False,
        deadline_given: bool = False, residents_read: bool = True) -> Workflow:
    return Workflow(kind, label, initial, states, frozenset(closed), {a.name: a for a in actions},
                    clock_from_submission=clock_from_submission, deadline_given=deadline_given,
                    residents_read=residents_read)


def _s(*names: str) -> frozenset[str]:
    return frozenset(names)


# 政务服务办件. Transfer and escalate are allowed in every open state because a wrongly routed
# application must be able to move at whatever stage the mistake is noticed.
_APP_OPEN = _s("submitted", "accepted", "supplement", "decided")
APPLICATION = _wf(
    "application", _("政务服务办件"), "submitted",
    {
        "submitted": _("已提交"), "accepted": _("已受理"), "supplement": _("待补正"),
        "decided": _("已决定"), "closed": _("已办结"), "rejected": _("不予受理"), "withdrawn": _("已撤回"),
    },
    ["closed", "rejected", "withdrawn"],
    [
        # 认领: a staff member of the holding unit takes the case as theirs; it shows in their queue.
        Action("claim", _("认领"), _APP_OPEN, None, _s(CLERK, HANDLER), assignee="actor"),
        Action("accept", _("受理"), _s("submitted"), "accepted", _s(CLERK, HANDLER), starts_clock=True,
               handling="holder", tells="accepted"),
        Action("reject", _("不予受理"), _s("submitted"), "rejected", _s(CLERK, HANDLER), needs=("reply",),
               public=("comment",), tells="rejected"),
        # 一次性告知: the applicant is told everything missing at once — which of the matter's materials
        # ("missing", kept on the event) and why; the clock stops meanwhile (the waiting time is the
        # applicant's, not the unit's).
        Action("request_supplement", _("要求补正"), _s("accepted"), "supplement", _s(CLERK, HANDLER),
               needs=("reply",), asks=("missing",), stops_clock=True, public=("comment", "missing"),
               tells="supplement"),
        # The applicant brings exactly what was asked for: each a new version of its material entry,
        # the old one kept for staff.
        Action("resubmit", _("补正提交"), _s("supplement"), "accepted", _s(APPLICANT, CLERK), resumes_clock=True,
               asks=("materials",), public=("comment", "resubmitted")),
        # 不予 must say why (the reply, or the decision's result, which the case page shows anyway); 准予 may.
        Action("decide", _("作出决定"), _s("accepted"), "decided", _s(HANDLER), needs=("decision",),
               public=("decision", "result"), handling="holder"),
        # 办结 says how the result reaches the applicant: 自取 at a hall, 邮寄 with a tracking number, or
        # 电子证照 with its reference (DELIVERY). Required of every caller; the importer replays history
        # through transition itself, where a legacy 办结 may lack it.
        Action("close", _("办结"), _s("decided"), "closed", _s(CLERK, HANDLER), needs=("delivery",),
               public=("delivery",), tells="closed"),
        Action("withdraw", _("撤回申请"), _s("submitted", "accepted", "supplement"), "withdrawn", _s(APPLICANT),
               public=("comment",)),
        Action("transfer", _("转办"), _APP_OPEN, None, _s(CLERK, HANDLER, OPERATOR), needs=("unit", "note"),
               moves_to=TO_UNIT, notify=("dispatched", (HOLDER,))),
        Action("escalate", _("上报"), _APP_OPEN, None, _s(CLERK, HANDLER), needs=("note",), moves_to=UP),
        # 上门服务: for residents who cannot travel, the hall sends a clerk at an agreed time.
        Action("schedule_visit", _("安排上门服务"), _s("submitted", "accepted", "supplement"), None,
               _s(CLERK, HANDLER), needs=("assignee", "slot"), only_if="home_visit", public=("slot",),
               assignee="input", tells="visit"),
        Action("record_visit", _("记录上门结果"), _s("submitted", "accepted", "supplement", "decided"), None,
               _s(CLERK, HANDLER), needs=("result",), only_if="home_visit", public=("result",)),
        Action("supervise", _("督办"), _APP_OPEN, None, _s(LEADER), needs=("note",), by_supervisor=True,
               notify=("supervise", (HOLDER,))),
    ],
)

# 咨询: a question about a matter, routed like an application and answered within its time limit.
CONSULTATION = _wf(
    "consultation", _("咨询"), "submitted",
    {"submitted": _("待答复"), "answered": _("已答复"), "closed": _("已关闭")},
    ["answered", "closed"],
    [
        Action("claim", _("认领"), _s("submitted"), None, _s(CLERK, HANDLER), assignee="actor"),
        Action("answer", _("答复"), _s("submitted"), "answered", _s(CLERK, HANDLER), needs=("result",),
               public=("result",), handling="holder", tells="answered"),
        # A good answer helps the next resident: it becomes a draft for the matter's FAQ, which staff edit
        # (personal details out) and publish on /work/faq/. Once per consultation.
        Action("publish_faq", _("转为常见问题"), _s("answered"), None, _s(CLERK, HANDLER),
               side_effect="publish_faq", only_if="faq_draftable"),
        Action("close", _("关闭"), _s("submitted"), "closed", _s(CLERK, HANDLER, APPLICANT), needs=("reply",),
               public=("comment",)),
        Action("transfer", _("转办"), _s("submitted"), None, _s(CLERK, HANDLER), needs=("unit", "note"),
               moves_to=TO_UNIT, notify=("dispatched", (HOLDER,))),
        Action("escalate", _("上报"), _s("submitted"), None, _s(CLERK, HANDLER), needs=("note",), moves_to=UP),
    ],
    clock_from_submission=True,
)

# 事件: GB/T 30428's closed loop — 信息采集 → 案卷建立(register) → 任务派遣(dispatch) →
# 任务处理(acknowledge, handle) → 处理反馈 → 核查结案(verify, close). Rework sends a badly handled
# case back to the unit that handled it, which must acknowledge it again.
_INC_OPEN = _s("reported", "registered", "dispatched", "acknowledged", "handled", "verified", "confirming")
INCIDENT = _wf(
    "incident", _("事件"), "reported",
    {
        "reported": _("已上报"), "registered": _("已立案"), "dispatched": _("已派遣"),
        "acknowledged": _("已签收"), "handled": _("已处置"), "verified": _("已核查"),
        "confirming": _("待群众确认"), "closed": _("已结案"), "dismissed": _("不予立案"), "merged": _("已合并"),
    },
    ["closed", "dismissed", "merged"],
    [
        Action("claim", _("认领"), _INC_OPEN, None, _s(OPERATOR, HANDLER), assignee="actor"),
        # The centre that registers a report supervises it to the end (核查, 结案).
        Action("register", _("立案"), _s("reported"), "registered", _s(OPERATOR), starts_clock=True,
               supervisor="holder"),
        # The reporter is owed the reason (a reply); older events kept it as a public comment.
        Action("dismiss", _("不予立案"), _s("reported"), "dismissed", _s(OPERATOR), needs=("reply",),
               public=("comment",), tells="dismissed"),
        Action("dispatch", _("派遣"), _s("registered"), "dispatched", _s(OPERATOR), needs=("unit",),
               moves_to=TO_UNIT, handling="destination", supervisor="holder_if_unset",
               notify=("dispatched", (HOLDER,)), tells="dispatched"),
        Action("acknowledge", _("签收"), _s("dispatched"), "acknowledged", _s(HANDLER, OPERATOR)),
        # The handled case goes back to the supervising centre for 核查.
        # The handling unit's after photos are public: the reporter judges "已解决吗？" by them.
        Action("handle", _("处置完成"), _s("acknowledged"), "handled", _s(HANDLER, OPERATOR), needs=("result",),
               public=("result", "photos"), handling="holder", moves_to=TO_SUPERVISOR, tells="handled",
               evidence=True),
        Action("verify", _("核查通过"), _s("handled"), "verified", _s(OPERATOR), evidence=True),
        # The centre's judgment of the unit's work, for the unit: the reporter sees the state go back.
        Action("rework", _("返工"), _s("handled"), "dispatched", _s(OPERATOR), needs=("note",),
               moves_to=TO_HANDLER, notify=("rework", (HOLDER,)), evidence=True),
        # 结案 asks the reporter first, when there is one to ask (a resident account or a phone given);
        # a report nobody can answer for (a grid worker's, a camera's) is closed by the centre at once.
        Action("close", _("结案"), _s("verified"), "closed", _s(OPERATOR), unless="reporter_reachable",
               tells="closed_report"),
        # The wait for the answer is the reporter's, not the units': the clock stops until they answer.
        Action("ask_confirmation", _("结案前请群众确认"), _s("verified"), "confirming", _s(OPERATOR),
               only_if="reporter_reachable", stops_clock=True, tells="confirm_request"),
        Action("confirm", _("已解决，同意结案"), _s("confirming"), "closed", _s(APPLICANT), resumes_clock=True,
               public=("comment",), tells="closed_report"),
        # "Not solved" is rework ordered by the reporter: back to the unit that handled it.
        Action("not_resolved", _("未解决，退回重办"), _s("confirming"), "dispatched", _s(APPLICANT),
               resumes_clock=True, moves_to=TO_HANDLER, public=("comment",),
               notify=("rework", (HOLDER, SUPERVISOR_UNIT))),
        # No answer within CONFIRMATION_WORKING_DAYS: closed, marked unconfirmed (never counted as
        # satisfied); taken by the worker's sweep alone.
        Action("close_unconfirmed", _("逾期未确认，自动结案"), _s("confirming"), "closed", _s(SYSTEM),
               resumes_clock=True, tells="closed_unconfirmed", system=True),
        # Within REOPEN_DAYS of closing the reporter may say it came back; the handling unit gets it
        # again with a new time limit, and it counts as rework (stats' rework rate).
        Action("reopen", _("问题未解决，申请重办"), _s("closed"), "dispatched", _s(APPLICANT), needs=("comment",),
               only_if="reporter_may_reopen", starts_clock=True, moves_to=TO_HANDLER, public=("comment",),
               notify=("rework", (HOLDER, SUPERVISOR_UNIT))),
        Action("transfer", _("转办"), _s("reported", "registered"), None, _s(OPERATOR), needs=("unit", "note"),
               moves_to=TO_UNIT, notify=("dispatched", (HOLDER,))),
        Action("escalate", _("上报"), _s("reported", "registered", "dispatched", "acknowledged"), None,
               _s(OPERATOR, HANDLER), needs=("note",), moves_to=UP),
        # A duplicate report of a problem already on file is closed into that case (its parent);
        # its reporter follows the parent's progress from then on.
        Action("merge", _("合并到主案件"), _s("reported", "registered"), "merged", _s(OPERATOR), needs=("parent",),
               public=("parent",), side_effect="absorb_into_parent", notify=("merged", (THE_APPLICANT,))),
        Action("supervise", _("督办"), _s("registered", "dispatched", "acknowledged", "handled"), None,
               _s(OPERATOR, LEADER), needs=("note",), by_supervisor=True, notify=("supervise", (HOLDER,))),
    ],
)

# The reporter's answer to "已解决吗？" is awaited this many working days (the sweep then closes the
# incident unconfirmed); a closed incident may be reopened by its reporter this many days after closing.
CONFIRMATION_WORKING_DAYS = 3
REOPEN_DAYS = 7

# 差评整改/回访: the national 好差评 rule — the unit calls the rater back, verifies and rectifies,
# and reports the outcome to the rater within 15 working days.
FOLLOW_UP = _wf(
    "follow_up", _("差评整改"), "open",
    {"open": _("待回访"), "called_back": _("已回访"), "closed": _("已反馈")},
    ["closed"],
    [
        Action("claim", _("认领"), _s("open", "called_back"), None, _s(CLERK, HANDLER, LEADER), assignee="actor"),
        Action("call_back", _("回访"), _s("open"), "called_back", _s(CLERK, HANDLER, LEADER), needs=("note",)),
        # The outcome is reported to the rater (GB/T 39735); the call-back's notes are the unit's own.
        Action("report_back", _("反馈整改结果"), _s("called_back"), "closed", _s(CLERK, HANDLER, LEADER),
               needs=("result",), public=("result",), handling="holder", tells="follow_up_result"),
        Action("transfer", _("转办"), _s("open", "called_back"), None, _s(CLERK, HANDLER, LEADER),
               needs=("unit", "note"), moves_to=TO_UNIT, notify=("dispatched", (HOLDER,))),
    ],
)

# 整改事项: an item of a problem list (问题清单) with its measures, a responsible unit and person and
# a deadline fixed when it is entered in the ledger (台账). The unit reports progress with evidence
# and submits it for acceptance (验收); the supervising unit accepts it or sends it back.
_RECT_OPEN = _s("open", "in_progress", "submitted")
RECTIFICATION = _wf(
    "rectification", _("整改事项"), "open",
    {"open": _("待整改"), "in_progress": _("整改中"), "submitted": _("待验收"), "accepted": _("已验收"),
     "cancelled": _("已撤销")},
    ["accepted", "cancelled"],
    [
        Action("claim", _("认领"), _RECT_OPEN, None, _s(HANDLER, LEADER, SECRETARY), assignee="actor"),
        Action("start", _("开始整改"), _s("open"), "in_progress", _s(HANDLER, LEADER, SECRETARY)),
        Action("report_progress", _("报告整改进展"), _s("in_progress"), None, _s(HANDLER, LEADER, SECRETARY),
               needs=("note",)),
        Action("submit_acceptance", _("提交验收"), _s("in_progress"), "submitted", _s(HANDLER, LEADER, SECRETARY),
               needs=("result",)),
        Action("approve", _("验收通过"), _s("submitted"), "accepted", _s(LEADER, OPERATOR), by_supervisor=True),
        Action("send_back", _("退回整改"), _s("submitted"), "in_progress", _s(LEADER, OPERATOR), needs=("note",),
               by_supervisor=True),
        Action("cancel", _("撤销"), _s("open", "in_progress"), "cancelled", _s(LEADER, OPERATOR), needs=("note",),
               by_supervisor=True),
        Action("transfer", _("转办"), _s("open", "in_progress"), None, _s(HANDLER, LEADER, SECRETARY),
               needs=("unit", "note"), moves_to=TO_UNIT, notify=("dispatched", (HOLDER,))),
        Action("supervise", _("督办"), _s("open", "in_progress"), None, _s(LEADER, OPERATOR), needs=("note",),
               by_supervisor=True, notify=("supervise", (HOLDER,))),
    ],
    deadline_given=True, residents_read=False,
)

# 一对一帮扶: a party member paired with a poor household. The branch keeps the pair's ledger of
# visits, measures and income; 脱贫 starts a monitoring period, which ends the pair or, on a relapse
# (返贫), reopens the assistance.
ASSISTANCE = _wf(
    "assistance", _("一对一帮扶"), "active",
    {"active": _("帮扶中"), "monitoring": _("脱贫监测"), "closed": _("帮扶结束")},
    ["closed"],
    [
        Action("claim", _("认领"), _s("active", "monitoring"), None, _s(SECRETARY, HANDLER), assignee="actor"),
        Action("log_visit", _("走访记录"), _s("active", "monitoring"), None, _s(SECRETARY, HANDLER), needs=("note",)),
        Action("add_measure", _("落实帮扶措施"), _s("active"), None, _s(SECRETARY, HANDLER), needs=("note",)),
        Action("record_income", _("记录收入"), _s("active", "monitoring"), None, _s(SECRETARY, HANDLER),
               needs=("note",)),
        Action("declare_exit", _("宣布脱贫"), _s("active"), "monitoring", _s(SECRETARY), needs=("note",)),
        Action("relapse", _("返贫，恢复帮扶"), _s("monitoring"), "active", _s(SECRETARY, HANDLER), needs=("note",)),
        Action("end_monitoring", _("结束监测"), _s("monitoring"), "closed", _s(SECRETARY), needs=("result",)),
        Action("transfer", _("转交"), _s("active", "monitoring"), None, _s(SECRETARY), needs=("unit", "note"),
               moves_to=TO_UNIT, notify=("dispatched", (HOLDER,))),
    ],
    deadline_given=True, residents_read=False,
)

WORKFLOWS: dict[str, Workflow] = {
    w.kind: w for w in (APPLICATION, CONSULTATION, INCIDENT, FOLLOW_UP, RECTIFICATION, ASSISTANCE)
}

# Actions the engine takes by itself: sweeps and automatic rules add these to a timeline without
# changing the state. Any open state is a source: the sweeps check their own conditions.
ANY_STATE: frozenset[str] = frozenset()


def _system(name: str, label, **effects) -> Action:
    return Action(name, label, ANY_STATE, None, _s(SYSTEM), system=True, **effects)


SYSTEM_ACTIONS: dict[str, Action] = {a.name: a for a in (
    _system("warn", _("临期预警"), warning=1, notify=("warn", (HOLDER, SUPERVISOR_UNIT))),
    # The holder must act; the supervising unit (指挥中心) must see it slipping.
    _system("mark_overdue", _("已超期"), warning=2, notify=("overdue", (HOLDER, SUPERVISOR_UNIT))),
    # Overdue beyond an escalation rule's grace: one level up (at the top it stays, still marked).
    _system("auto_escalate", _("超期自动上报"), warning=3, moves_to=UP,
            notify=("escalated", (FROM_UNIT, HOLDER, SUPERVISOR_UNIT))),
    # A calendar change: the deadline as the new calendar computes it from the timeline.
    _system("recompute_due", _("重新计算期限"), needs=("due_at",)),
    _system("absorb_duplicate", _("并入重复上报")),
    _system("flag_duplicate", _("疑似重复上报"), needs=("parent",)),
    # Not a sweep: a staff member saw an ID number in full (cases.services.case_reveal_id).
    _system("reveal_id", _("查看完整证件号")),
    # A problem reported without an account becomes the resident's once they prove, by a code sent
    # to it, that they hold the number it was reported from (cases.services.cases_attach_by_phone).
    _system("attach_applicant", _("归入居民账号"), needs=("applicant",)),
    # Retention (PIPL): personal data past its retention period erased, the case and its figures kept
    # (cases.retention; docs/retention.md). Its payload names the kinds erased and attests old hashes.
    _system("anonymise", _("个人信息已匿名化")),
    # Open311 forwarding (yiwang.integrations.forwarding): another platform took the case, and what it
    # later says of it. Its status notes are the other platform's public words, kept with staff here.
    _system("forward_open311", _("已转至外部平台")),
    _system("remote_status", _("外部平台进展")),
    # The other platform closed it: an incident is closed here too, its notes as the result, and the
    # reporter is told as at any 结案. Other kinds only record remote_status, for staff to close.
    Action("remote_close", _("外部平台已办结"), ANY_STATE, "closed", _s(SYSTEM), system=True, tells="closed_report"),
)}


def find_action(kind: str, name: str) -> Action | None:
    """The action ``name`` of a kind's workflow, or the system action of that name."""
    wf = WORKFLOWS.get(kind)
    found = wf.actions.get(name) if wf else None
    return found or SYSTEM_ACTIONS.get(name)


# --- the one transition ---------------------------------------------------------------------


def applies(act: Action, case) -> bool:
    """Whether the case's own facts admit ``act`` (its ``only_if`` and ``unless``), whatever its state."""
    return ((not act.only_if or bool(getattr(case, act.only_if)))
            and (not act.unless or not getattr(case, act.unless)))


@dataclass(frozen=True)
class Inputs:
    """What the actor gave, already checked and resolved to ids by the caller (a service, the importer)."""

    comment: str = ""
    unit_id: int | None = None  # the target of a transfer or dispatch; in a replay, where the record says it went
    result: str = ""
    decision: str = ""
    assignee: tuple[int, str] | None = None  # (user id, username)
    slot: dt.datetime | None = None
    parent: tuple[int, str] | None = None  # (case id, number): merge's parent, flag_duplicate's original
    applicant: tuple[int, str] | None = None  # (resident id, name): attach_applicant's resident
    due_at: dt.datetime | None = None  # recompute_due's new deadline
    reply: str = ""  # to the resident: public wherever the event is shown
    note: str = ""  # to colleagues: never shown to residents
    missing: tuple[tuple[str, str], ...] = ()  # (code, name) of the materials a supplement asks for
    materials: tuple[dict, ...] = ()  # resubmitted material entries, checked and resolved (cases.attachments)
    delivery: dict | None = None  # how the result is delivered, checked and resolved (DELIVERY)


@dataclass(frozen=True)
class Rules:
    """What a transition may look up: the case's time limit and the hierarchy's answers."""

    # (time limit, its unit) of the case's matter version; a callable because most actions need
    # no deadline and reading the matter's snapshot is not free.
    limits: Callable[[], tuple[int, str]]
    # The unit one level up, None at the top (routing.escalation_target).
    up: Callable[[int], int | None]
    unit_name: Callable[[int], str]
    # The working-day calendar (cached in each process): a deadline from a start, and one moved by a pause.
    due_after: Callable[[dt.datetime, int, str], dt.datetime] = workdays.due_after
    due_after_suspension: Callable[[dt.datetime, dt.datetime, dt.datetime, str], dt.datetime] = \
        workdays.due_after_suspension


class AtTheTop(Exception):
    """A staff escalation from a unit with nothing above it."""


@dataclass(frozen=True)
class Step:
    to_state: str
    to_unit_id: int | None
    changes: dict  # the case's fields that change (without version, event_count, last_hash)
    derived: dict  # what the event's payload records of the change: deadlines, assignee, target's name


def transition(case, act: Action, inputs: Inputs, *, actor: tuple[int | None, str], at: dt.datetime,
               rules: Rules) -> Step:
    """The whole effect of taking ``act`` on ``case`` at ``at``, as declared on the action.

    Pure: reads ``case`` (a Case or anything with its fields: state, holder_unit_id, handling_unit_id,
    supervisor_unit_id, assignee_id, due_at, suspended_at, warning_level) and writes nothing. The
    caller has checked the action's source state, the actor's right and the inputs.
    """
    changes: dict = {}
    derived: dict = {}
    holder = case.holder_unit_id
    to_unit = holder
    if act.moves_to == TO_UNIT:
        to_unit = inputs.unit_id
    elif act.moves_to == UP:
        to_unit = inputs.unit_id or rules.up(holder)
        if to_unit is None:
            if not act.system:
                raise AtTheTop
            to_unit = holder  # a sweep at the top leaves it where it is
    elif act.moves_to == TO_SUPERVISOR:
        to_unit = inputs.unit_id or case.supervisor_unit_id or holder
    elif act.moves_to == TO_HANDLER:
        to_unit = inputs.unit_id or case.handling_unit_id or holder

    if act.handling == "holder":
        changes["handling_unit_id"] = holder
    elif act.handling == "destination":
        changes["handling_unit_id"] = to_unit
    if act.supervisor == "holder":
        changes["supervisor_unit_id"] = holder
    elif act.supervisor == "holder_if_unset":
        changes["supervisor_unit_id"] = case.supervisor_unit_id or holder
    if act.assignee == "actor":
        changes["assignee_id"] = actor[0]
        derived["assignee"] = actor[1]
    elif act.assignee == "input" and inputs.assignee is not None:
        changes["assignee_id"], derived["assignee"] = inputs.assignee
    if inputs.slot is not None and "slot" in act.needs:
        derived["slot"] = inputs.slot.isoformat()
    if inputs.parent is not None:
        if act.name == "merge":
            changes["parent_id"] = inputs.parent[0]
            derived["parent"] = inputs.parent[1]
        elif act.name == "flag_duplicate":
            changes["likely_duplicate_of_id"] = inputs.parent[0]
    # Only `decide` records a decision; another action given one (say a close) must not overwrite
    # the decision taken, nor store a value `decide` would have refused.
    if inputs.decision and "decision" in act.needs:
        changes["decision"] = derived["decision"] = inputs.decision
    if inputs.missing and "missing" in act.asks:
        derived["missing"] = [{"code": code, "name": name} for code, name in inputs.missing]
    if inputs.materials and "materials" in act.asks:
        changes["materials"] = resubmitted_materials(case.materials, inputs.materials, at)
        derived["resubmitted"] = [{"code": m["code"], "name": m.get("name", "")} for m in inputs.materials]
    if inputs.delivery and "delivery" in act.needs:
        derived["delivery"] = dict(inputs.delivery)
    # Any step may report a result (a close with its outcome); the case shows the latest.
    if inputs.result:
        changes["result"] = derived["result"] = inputs.result
    if act.warning > case.warning_level:
        changes["warning_level"] = act.warning

    if act.starts_clock:
        changes["accepted_at"] = at
        changes["due_at"] = rules.due_after(at, *rules.limits())
    if act.stops_clock:
        # Waiting on the applicant is not the unit's delay: a yellow or red mark goes with the clock.
        changes["suspended_at"] = at
        changes["warning_level"] = 0
    if act.resumes_clock and case.suspended_at and case.due_at:
        changes["due_at"] = rules.due_after_suspension(case.due_at, case.suspended_at, at, rules.limits()[1])
        changes["suspended_at"] = None
    if "applicant" in act.needs and inputs.applicant is not None:
        # The case keeps the phone it was reported from; the account's name fills a blank one.
        changes["applicant_id"] = inputs.applicant[0]
        if not getattr(case, "applicant_name", ""):
            changes["applicant_name"] = inputs.applicant[1][:50]
    if "due_at" in act.needs and inputs.due_at is not None:
        changes["due_at"] = inputs.due_at
    if "due_at" in changes:
        derived["due_at"] = changes["due_at"].isoformat()
        if changes["due_at"] > at:
            changes["warning_level"] = 0  # a new or moved deadline starts unwarned

    to_state = act.target or case.state
    wf = WORKFLOWS.get(getattr(case, "kind", ""))
    if wf is not None and to_state in wf.closed and case.state not in wf.closed:
        changes["closed_at"] = at
        changes["warning_level"] = 0
    elif wf is not None and case.state in wf.closed and to_state not in wf.closed:
        changes["closed_at"] = None  # reopened: open again until it closes anew
    if to_unit != holder:
        changes["holder_unit_id"] = to_unit
        changes["assignee_id"] = None
        derived["to_unit_name"] = rules.unit_name(to_unit)
    if to_state != case.state:
        changes["state"] = to_state
    return Step(to_state, to_unit, changes, derived)


def resubmitted_materials(current: list, new: tuple[dict, ...], at: dt.datetime) -> list[dict]:
    """A case's material entries after a resubmission: each new entry a next version of its code, the
    entries it replaces kept (staff still see them) and marked superseded. Indexes of kept entries do
    not move: the workbench links each file by its position."""
    codes = {m["code"] for m in new}
    out = [dict(m, superseded=True) if isinstance(m, dict) and m.get("code") in codes and not m.get("superseded")
           else m for m in current]
    for entry in new:
        version = 1 + sum(1 for m in out if isinstance(m, dict) and m.get("code") == entry["code"])
        out.append({**entry, "version": version, "resubmitted_at": at.isoformat()})
    return out


# How a decided application's result reaches the applicant (结果送达方式), with what each must name.
PICKUP, POST, ELECTRONIC = "pickup", "post", "electronic"
DELIVERY: dict[str, object] = {PICKUP: _("窗口自取"), POST: _("邮寄"), ELECTRONIC: _("电子证照")}


def workflow(kind: str) -> Workflow:
    return WORKFLOWS[kind]


# The opening event's routing note says where the case went and why, in the engine's words.
SUBMIT_PUBLIC = ("note",)


def public_payload(kind: str, action: str, payload: dict) -> dict:
    """The part of an event's payload that residents may read: the action's declared public texts.
    System actions (sweeps, reveal_id) have none, nor has any event of an internal kind."""
    if kind in WORKFLOWS and not WORKFLOWS[kind].residents_read:
        return {}
    if action == "submit":
        keys: tuple[str, ...] = SUBMIT_PUBLIC
    else:
        declared = WORKFLOWS[kind].actions.get(action) if kind in WORKFLOWS else None
        # A staff member's reply is for the resident on every action they take; system actions write none.
        keys = (*declared.public, "reply") if declared else ()
    return {k: payload[k] for k in keys if k in payload}


def all_states() -> dict[str, object]:
    out: dict[str, object] = {}
    for wf in WORKFLOWS.values():
        out.update(wf.states)
    return out



def action_label(name: str) -> object:
    if name == "submit":
        return _("提交")
    for wf in WORKFLOWS.values():
        if name in wf.actions:
            return wf.actions[name].label
    act = SYSTEM_ACTIONS.get(name)
    return act.label if act else name
