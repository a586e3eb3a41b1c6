"""Every case workflow, declared here and nowhere else.

A workflow is a set of named actions. Each action says from which states it may be taken, which
state it leads to (None: the state stays, e.g. a transfer moves the case, not its stage), who may
take it, and which inputs it needs. Services look actions up here; pages and the API list the
actions a viewer may take now from here. A comment on a rule says why it exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

# Who may act. Staff roles come from yiwang.org.models.Role; these two are not staff roles.
APPLICANT = "applicant"  # the resident who applied or reported
SYSTEM = "system"  # sweeps and automatic rules

CLERK, HANDLER, OPERATOR, LEADER, SECRETARY = "clerk", "handler", "operator", "leader", "secretary"


@dataclass(frozen=True)
class Action:
    name: str
    label: object
    sources: frozenset[str]
    target: str | None
    actors: frozenset[str]
    needs: tuple[str, ...] = ()  # inputs the action must be given: unit, comment, result, decision
    starts_clock: bool = False  # acceptance/registration: the time limit runs from here
    stops_clock: bool = False  # waiting on the applicant: the time limit is suspended
    resumes_clock: bool = False
    only_if: str = ""  # a boolean field of the case that must be true, e.g. home_visit
    # 督办 comes from above, not from the holder: the supervising unit's staff, or a leader whose
    # region contains the case, may take it.
    by_supervisor: bool = False
    # The texts of its event that residents may read (the case page, /lookup/, the API as the
    # applicant, Open311): what the applicant must be told. Everything else a staff member writes —
    # a transfer's or an escalation's reason, a 督办 remark, a rework order — stays with staff.
    public: tuple[str, ...] = ()


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

    def open_states(self) -> frozenset[str]:
        return frozenset(self.states) - self.closed


def _wf(kind, label, initial, states, closed, actions, *, clock_from_submission: bool = False,
        deadline_given: bool = False) -> Workflow:
    return Workflow(kind, label, initial, states, frozenset(closed), {a.name: a for a in actions},
                    clock_from_submission=clock_from_submission, deadline_given=deadline_given)


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
        Action("claim", _("认领"), _APP_OPEN, None, _s(CLERK, HANDLER)),
        Action("accept", _("受理"), _s("submitted"), "accepted", _s(CLERK, HANDLER), starts_clock=True),
        Action("reject", _("不予受理"), _s("submitted"), "rejected", _s(CLERK, HANDLER), needs=("comment",),
               public=("comment",)),
        # 一次性告知: the applicant is told everything missing at once; the clock stops meanwhile
        # (the waiting time is the applicant's, not the unit's).
        Action("request_supplement", _("要求补正"), _s("accepted"), "supplement", _s(CLERK, HANDLER),
               needs=("comment",), stops_clock=True, public=("comment",)),
        Action("resubmit", _("补正提交"), _s("supplement"), "accepted", _s(APPLICANT, CLERK), resumes_clock=True,
               public=("comment",)),
        Action("decide", _("作出决定"), _s("accepted"), "decided", _s(HANDLER), needs=("decision",),
               public=("decision",)),
        Action("close", _("办结"), _s("decided"), "closed", _s(CLERK, HANDLER)),
        Action("withdraw", _("撤回申请"), _s("submitted", "accepted", "supplement"), "withdrawn", _s(APPLICANT),
               public=("comment",)),
        Action("transfer", _("转办"), _APP_OPEN, None, _s(CLERK, HANDLER, OPERATOR), needs=("unit", "comment")),
        Action("escalate", _("上报"), _APP_OPEN, None, _s(CLERK, HANDLER), needs=("comment",)),
        # 上门服务: for residents who cannot travel, the hall sends a clerk at an agreed time.
        Action("schedule_visit", _("安排上门服务"), _s("submitted", "accepted", "supplement"), None,
               _s(CLERK, HANDLER), needs=("assignee", "slot"), only_if="home_visit", public=("slot",)),
        Action("record_visit", _("记录上门结果"), _s("submitted", "accepted", "supplement", "decided"), None,
               _s(CLERK, HANDLER), needs=("result",), only_if="home_visit", public=("result",)),
        Action("supervise", _("督办"), _APP_OPEN, None, _s(LEADER), needs=("comment",), by_supervisor=True),
    ],
)

# 咨询: a question about a matter, routed like an application and answered within its time limit.
CONSULTATION = _wf(
    "consultation", _("咨询"), "submitted",
    {"submitted": _("待答复"), "answered": _("已答复"), "closed": _("已关闭")},
    ["answered", "closed"],
    [
        Action("claim", _("认领"), _s("submitted"), None, _s(CLERK, HANDLER)),
        Action("answer", _("答复"), _s("submitted"), "answered", _s(CLERK, HANDLER), needs=("result",),
               public=("result",)),
        # A good answer helps the next resident: the unit publishes it to the matter's FAQ.
        Action("publish_faq", _("发布到常见问题"), _s("answered"), None, _s(CLERK, HANDLER)),
        Action("close", _("关闭"), _s("submitted"), "closed", _s(CLERK, HANDLER, APPLICANT), needs=("comment",),
               public=("comment",)),
        Action("transfer", _("转办"), _s("submitted"), None, _s(CLERK, HANDLER), needs=("unit", "comment")),
        Action("escalate", _("上报"), _s("submitted"), None, _s(CLERK, HANDLER), needs=("comment",)),
    ],
    clock_from_submission=True,
)

# 事件: GB/T 30428's closed loop — 信息采集 → 案卷建立(register) → 任务派遣(dispatch) →
# 任务处理(acknowledge, handle) → 处理反馈 → 核查结案(verify, close). Rework sends a badly handled
# case back to the unit that handled it, which must acknowledge it again.
_INC_OPEN = _s("reported", "registered", "dispatched", "acknowledged", "handled", "verified")
INCIDENT = _wf(
    "incident", _("事件"), "reported",
    {
        "reported": _("已上报"), "registered": _("已立案"), "dispatched": _("已派遣"),
        "acknowledged": _("已签收"), "handled": _("已处置"), "verified": _("已核查"),
        "closed": _("已结案"), "dismissed": _("不予立案"), "merged": _("已合并"),
    },
    ["closed", "dismissed", "merged"],
    [
        Action("claim", _("认领"), _INC_OPEN, None, _s(OPERATOR, HANDLER)),
        Action("register", _("立案"), _s("reported"), "registered", _s(OPERATOR), starts_clock=True),
        Action("dismiss", _("不予立案"), _s("reported"), "dismissed", _s(OPERATOR), needs=("comment",),
               public=("comment",)),
        Action("dispatch", _("派遣"), _s("registered"), "dispatched", _s(OPERATOR), needs=("unit",)),
        Action("acknowledge", _("签收"), _s("dispatched"), "acknowledged", _s(HANDLER, OPERATOR)),
        Action("handle", _("处置完成"), _s("acknowledged"), "handled", _s(HANDLER, OPERATOR), needs=("result",),
               public=("result",)),
        Action("verify", _("核查通过"), _s("handled"), "verified", _s(OPERATOR)),
        Action("rework", _("返工"), _s("handled"), "dispatched", _s(OPERATOR), needs=("comment",)),
        Action("close", _("结案"), _s("verified"), "closed", _s(OPERATOR)),
        Action("transfer", _("转办"), _s("reported", "registered"), None, _s(OPERATOR), needs=("unit", "comment")),
        Action("escalate", _("上报"), _s("reported", "registered", "dispatched", "acknowledged"), None,
               _s(OPERATOR, HANDLER), needs=("comment",)),
        # A duplicate report of a problem already on file is closed into that case (its parent);
        # its reporter follows the parent's progress from then on.
        Action("merge", _("合并到主案件"), _s("reported", "registered"), "merged", _s(OPERATOR), needs=("parent",),
               public=("parent",)),
        Action("supervise", _("督办"), _s("registered", "dispatched", "acknowledged", "handled"), None,
               _s(OPERATOR, LEADER), needs=("comment",), by_supervisor=True),
    ],
)

# 差评整改/回访: the national 好差评 rule — the unit calls the rater back, verifies and rectifies,
# and reports the outcome to the rater within 15 working days.
FOLLOW_UP = _wf(
    "follow_up", _("差评整改"), "open",
    {"open": _("待回访"), "called_back": _("已回访"), "closed": _("已反馈")},
    ["closed"],
    [
        Action("claim", _("认领"), _s("open", "called_back"), None, _s(CLERK, HANDLER, LEADER)),
        Action("call_back", _("回访"), _s("open"), "called_back", _s(CLERK, HANDLER, LEADER), needs=("comment",)),
        # The outcome is reported to the rater (GB/T 39735); the call-back's notes are the unit's own.
        Action("report_back", _("反馈整改结果"), _s("called_back"), "closed", _s(CLERK, HANDLER, LEADER),
               needs=("result",), public=("result",)),
        Action("transfer", _("转办"), _s("open", "called_back"), None, _s(CLERK, HANDLER, LEADER),
               needs=("unit", "comment")),
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
        Action("claim", _("认领"), _RECT_OPEN, None, _s(HANDLER, LEADER, SECRETARY)),
        Action("start", _("开始整改"), _s("open"), "in_progress", _s(HANDLER, LEADER, SECRETARY)),
        Action("report_progress", _("报告整改进展"), _s("in_progress"), None, _s(HANDLER, LEADER, SECRETARY),
               needs=("comment",)),
        Action("submit_acceptance", _("提交验收"), _s("in_progress"), "submitted", _s(HANDLER, LEADER, SECRETARY),
               needs=("result",)),
        Action("approve", _("验收通过"), _s("submitted"), "accepted", _s(LEADER, OPERATOR), by_supervisor=True),
        Action("send_back", _("退回整改"), _s("submitted"), "in_progress", _s(LEADER, OPERATOR), needs=("comment",),
               by_supervisor=True),
        Action("cancel", _("撤销"), _s("open", "in_progress"), "cancelled", _s(LEADER, OPERATOR), needs=("comment",),
               by_supervisor=True),
        Action("transfer", _("转办"), _s("open", "in_progress"), None, _s(HANDLER, LEADER, SECRETARY),
               needs=("unit", "comment")),
        Action("supervise", _("督办"), _s("open", "in_progress"), None, _s(LEADER, OPERATOR), needs=("comment",),
               by_supervisor=True),
    ],
    deadline_given=True,
)

# 一对一帮扶: a party member paired with a poor household. The branch keeps the pair's ledger of
# visits, measures and income; 脱贫 starts a monitoring period, which ends the pair or, on a relapse
# (返贫), reopens the assistance.
ASSISTANCE = _wf(
    "assistance", _("一对一帮扶"), "active",
    {"active": _("帮扶中"), "monitoring": _("脱贫监测"), "closed": _("帮扶结束")},
    ["closed"],
    [
        Action("claim", _("认领"), _s("active", "monitoring"), None, _s(SECRETARY, HANDLER)),
        Action("log_visit", _("走访记录"), _s("active", "monitoring"), None, _s(SECRETARY, HANDLER), needs=("comment",)),
        Action("add_measure", _("落实帮扶措施"), _s("active"), None, _s(SECRETARY, HANDLER), needs=("comment",)),
        Action("record_income", _("记录收入"), _s("active", "monitoring"), None, _s(SECRETARY, HANDLER),
               needs=("comment",)),
        Action("declare_exit", _("宣布脱贫"), _s("active"), "monitoring", _s(SECRETARY), needs=("comment",)),
        Action("relapse", _("返贫，恢复帮扶"), _s("monitoring"), "active", _s(SECRETARY, HANDLER), needs=("comment",)),
        Action("end_monitoring", _("结束监测"), _s("monitoring"), "closed", _s(SECRETARY), needs=("result",)),
        Action("transfer", _("转交"), _s("active", "monitoring"), None, _s(SECRETARY), needs=("unit", "comment")),
    ],
    deadline_given=True,
)

WORKFLOWS: dict[str, Workflow] = {
    w.kind: w for w in (APPLICATION, CONSULTATION, INCIDENT, FOLLOW_UP, RECTIFICATION, ASSISTANCE)
}

# Sweeps add these to the timeline without changing the state; they are not user actions.
SYSTEM_ACTIONS = {
    "warn": _("临期预警"), "mark_overdue": _("已超期"), "recompute_due": _("重新计算期限"),
    "auto_escalate": _("超期自动上报"), "absorb_duplicate": _("并入重复上报"), "flag_duplicate": _("疑似重复上报"),
    # Not a sweep: a staff member saw an ID number in full (cases.services.case_reveal_id).
    "reveal_id": _("查看完整证件号"),
}


def workflow(kind: str) -> Workflow:
    return WORKFLOWS[kind]


# The opening event's routing note says where the case went and why, in the engine's words.
SUBMIT_PUBLIC = ("note",)


def public_payload(kind: str, action: str, payload: dict) -> dict:
    """The part of an event's payload that residents may read: the action's declared public texts.
    System actions (sweeps, reveal_id) have none."""
    if action == "submit":
        keys: tuple[str, ...] = SUBMIT_PUBLIC
    else:
        declared = WORKFLOWS[kind].actions.get(action) if kind in WORKFLOWS else None
        keys = declared.public if declared else ()
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
    return SYSTEM_ACTIONS.get(name, name)
