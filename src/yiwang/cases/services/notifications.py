"""Who is told of a case's step: the staff notifications an action declares (workflows.Action.notify)
and the applicant's message (Action.tells, by SMS and in-app through yiwang.messages' outbox), all
written in the transaction of the event that causes them."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from yiwang.cases.models import Case, Notification
from yiwang.cases.services.timeline import stored
from yiwang.cases.workflows import FROM_UNIT, HOLDER, SUPERVISOR_UNIT, THE_APPLICANT, Action, workflow
from yiwang.core import clock, idnumber
from yiwang.messages import selectors as message_selectors
from yiwang.messages import services as messages
from yiwang.messages import texts
from yiwang.messages.models import ChannelPreference, Message
from yiwang.org.models import Resident, Role, Staff
from yiwang.org.selectors import Viewer, hierarchy

User = get_user_model()


def _due(case: Case) -> str:
    return timezone.localtime(case.due_at).strftime("%Y-%m-%d %H:%M") if case.due_at else ""


def _step(case: Case, kind: str, payload: dict, *, label: object = None) -> str:
    # Staff read staff's words: the internal note, or the older single box.
    comment = payload.get("note") or payload.get("comment") or ""
    return _("%(action)s：%(number)s %(title)s%(comment)s") % {
        "action": label or Notification.Kind(kind).label, "number": case.number, "title": case.title[:60],
        "comment": _("（%(c)s）") % {"c": comment[:100]} if comment else "",
    }


# The message of each kind, in the site's language (stored() around the call), from the case after
# the step and the step's payload.
MESSAGES: dict[str, Callable[[Case, str, dict], str]] = {
    Notification.Kind.DISPATCHED: _step,
    Notification.Kind.REWORK: _step,
    Notification.Kind.SUPERVISE: _step,
    Notification.Kind.WARN: lambda case, kind, payload: _("即将到期：%(number)s %(title)s，期限 %(due)s") % {
        "number": case.number, "title": case.title[:60], "due": _due(case)},
    Notification.Kind.OVERDUE: lambda case, kind, payload: _("已超期：%(number)s %(title)s，期限 %(due)s") % {
        "number": case.number, "title": case.title[:60], "due": _due(case)},
    Notification.Kind.ESCALATED: lambda case, kind, payload: _("超期未办结，已按规则“%(rule)s”上报：%(number)s %(title)s") % {
        "rule": payload.get("rule_name", ""), "number": case.number, "title": case.title[:60]},
    Notification.Kind.MERGED: lambda case, kind, payload: _(
        "您反映的问题（%(number)s）已并入案件 %(parent)s 一并处理，可在办件页查看进度。") % {
        "number": case.number, "parent": payload.get("parent", "")},
}


def _transferred(case: Case, kind: str, payload: dict) -> str:
    return _step(case, kind, payload, label=_("转入"))


# A transfer brings a case to a unit as a dispatch does (the same kind, so the same preference and
# the same place in the workbench's list), but its text says how the case came.
BY_ACTION: dict[str, Callable[[Case, str, dict], str]] = {"transfer": _transferred}


def notify_step(case: Case, act: Action, *, from_unit_id: int | None, payload: dict) -> None:
    """Write the notifications ``act`` declares about ``case``'s latest event, and queue the SMS and
    e-mails its staff chose for that kind (tell_staff); call inside its transaction."""
    if act.notify is None:
        return
    kind, audiences = act.notify
    message = stored(BY_ACTION.get(act.name, MESSAGES[kind]), case, kind, payload)
    units = {HOLDER: case.holder_unit_id, SUPERVISOR_UNIT: case.supervisor_unit_id, FROM_UNIT: from_unit_id}
    unit_ids = {units[a] for a in audiences if a in units}
    # The person holding the case hears of it too, wherever they look (their own queue).
    notify(case, kind=kind, message=message, unit_ids=unit_ids,
           user_id=case.assignee_id if HOLDER in audiences else None)
    tell_staff(case, kind=kind, message=message,
               units={a: units[a] for a in audiences if a in units and units[a] is not None})
    if THE_APPLICANT in audiences and case.applicant_id:
        tell_resident(case, kind=kind, message=message)


def notify(case: Case, *, kind: str, message: str, unit_ids: set[int | None], user_id: int | None = None) -> None:
    """Write one notification per unit about ``case``'s latest event; call inside its transaction."""
    now = clock.now()
    Notification.objects.bulk_create([
        Notification(unit_id=u, user_id=user_id, case=case, event_seq=case.event_count, kind=kind,
                     message=message[:300], created_at=now, region_path=case.region_path)
        for u in sorted(u for u in unit_ids if u is not None)
    ])


# --- staff messages by SMS and e-mail (docs/messages.md "Staff messages") -------------------------

# The kinds a staff member may also hear of by SMS or e-mail, with the channels they get until they
# choose (/work/preferences/). 超期 (and the automatic escalation it leads to) and 督办 are someone
# telling the unit to act now, so they come by SMS; the rest wait in the workbench's list.
STAFF_DEFAULTS: dict[str, tuple[str, ...]] = {
    Notification.Kind.DISPATCHED: (),  # also a transfer in (BY_ACTION)
    Notification.Kind.SUPERVISE: ("sms",),
    Notification.Kind.WARN: (),
    Notification.Kind.OVERDUE: ("sms",),
    Notification.Kind.ESCALATED: ("sms",),
    Notification.Kind.REWORK: (),
}
# An SMS of these kinds is sent even in the quiet hours: the deadline has already passed, and every
# hour until the morning adds to it. Everything else (督办 included: it asks for work, which nobody
# does at midnight) waits in the outbox until they end.
URGENT_KINDS = frozenset({Notification.Kind.OVERDUE, Notification.Kind.ESCALATED})
# Who of a unit is picked first when more than settings.YIWANG_STAFF_MESSAGE_CAP may act.
ROLE_RANK = {Role.LEADER: 0, Role.OPERATOR: 1, Role.HANDLER: 2, Role.SECRETARY: 3, Role.CLERK: 4}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def staff_channels(kind: str, preference: ChannelPreference | None) -> tuple[str, ...]:
    """The channels besides in-app on which a person hears of ``kind``: their choice, else the default."""
    if preference is not None and kind in preference.channels:
        return tuple(preference.channels[kind])
    return STAFF_DEFAULTS.get(kind, ())


def _acting_roles(case: Case, *, supervising: bool) -> frozenset[str]:
    # The roles that may take one of the case's next steps from its unit: the holder's own steps, or
    # for the supervising unit the steps it takes from above (督办, 验收).
    return frozenset(role for a in workflow(case.kind).actions.values()
                     if case.state in a.sources and a.by_supervisor == supervising for role in a.actors)


def staff_recipients(case: Case, units: dict[str, int]) -> dict[str, list[int]]:
    """The users who may be told by SMS or e-mail of ``case``'s step, per audience (audience → its
    unit): the assignee when the holding unit has one working on it; otherwise the unit's staff whose
    role may act on the case now, leaders first, then the longest-standing accounts. tell_staff
    takes the first settings.YIWANG_STAFF_MESSAGE_CAP of each who have an address on a chosen channel."""
    picked: dict[str, list[int]] = {}
    for audience, unit_id in units.items():
        if audience == HOLDER and case.assignee_id:
            picked[audience] = [case.assignee_id]
            continue
        roles = _acting_roles(case, supervising=audience == SUPERVISOR_UNIT)
        rows = (Staff.objects.filter(unit_id=unit_id, role__in=sorted(roles), user__is_active=True)
                .values_list("user_id", "role"))
        rank: dict[int, int] = {}
        for user_id, role in rows:
            rank[user_id] = min(rank.get(user_id, len(ROLE_RANK)), ROLE_RANK.get(role, len(ROLE_RANK)))
        picked[audience] = sorted(rank, key=lambda u: (rank[u], u))
    return picked


def tell_staff(case: Case, *, kind: str, message: str, units: dict[str, int]) -> None:
    """Queue the SMS and e-mails of ``case``'s latest event to the staff who chose those channels for
    ``kind`` (in-app is the unit's notification, always written); in the event's transaction, once
    per event, person and channel whatever retries the request."""
    if kind not in STAFF_DEFAULTS or not units:
        return
    picked = staff_recipients(case, units)
    everyone = {u for users in picked.values() for u in users}
    preferences = message_selectors.preferences_of(everyone)
    emails = dict(User.objects.filter(pk__in=sorted(everyone)).values_list("pk", "email"))
    # A resident's text in a title leaves yiwang here: ID and phone numbers masked, no control characters.
    text = _CONTROL.sub(" ", idnumber.mask_text(message))
    subject = stored(lambda: _("【%(kind)s】%(number)s") % {"kind": Notification.Kind(kind).label,
                                                          "number": case.number})
    link = f"{settings.YIWANG_SITE_URL}/work/cases/{case.number}/"
    done: set[int] = set()
    for users in picked.values():
        told = 0
        for user_id in users:
            if told >= settings.YIWANG_STAFF_MESSAGE_CAP:
                break
            if user_id in done:  # a person in two of the units is told once
                told += 1
                continue
            preference = preferences.get(user_id)
            addresses = {"sms": preference.phone if preference else "",
                         "email": (preference.email if preference else "") or emails.get(user_id, "")}
            chosen = [c for c in staff_channels(kind, preference) if addresses.get(c)]
            for channel in chosen:
                messages.enqueue(channel=channel, to=addresses[channel], subject=subject,
                                 text=text if channel == "sms" else f"{text}\n\n{link}",
                                 dedupe_key=f"case:{case.pk}:{case.event_count}:staff:{user_id}:{channel}",
                                 urgent=kind in URGENT_KINDS)
            if chosen:
                done.add(user_id)
                told += 1


def tell_resident(case: Case, *, kind: str, message: str) -> None:
    """The applicant's in-app message about ``case``'s latest event; call inside its transaction."""
    Notification.objects.create(resident_id=case.applicant_id, case=case, event_seq=case.event_count, kind=kind,
                                message=message[:300], created_at=clock.now(), region_path=case.region_path)


def notifications_mark_read(*, viewer: Viewer, ids: list[int] | None = None) -> int:
    """Mark the given notifications of the viewer's units (or all of them) read; returns how many."""
    qs = Notification.objects.filter(unit_id__in=sorted(viewer.unit_ids), read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=clock.now())


def copy_sms_to_inbox(case: Case, *, resident_id: int) -> int:
    """The applicant's messages about ``case`` sent by SMS before it had a resident (a report without
    an account), added to that resident's in-app messages, oldest first, under the dedupe keys
    tell_applicant would have used: a case attached twice does not copy them twice. Returns how many."""
    copied = 0
    sent = Message.objects.filter(channel="sms", to=case.applicant_phone,
                                  dedupe_key__startswith=f"case:{case.pk}:", dedupe_key__endswith=":applicant:sms")
    for row in sent.order_by("created_at", "pk"):
        key = row.dedupe_key.removesuffix(":sms") + ":inapp"
        if messages.enqueue(channel="inapp", resident=Resident(pk=resident_id), text=row.text, subject=case.number,
                            dedupe_key=key) is not None:
            copied += 1
    return copied


# --- the applicant's messages --------------------------------------------------------------------

DECISIONS = {"approved": gettext_noop("准予"), "denied": gettext_noop("不予")}


def _facts(case: Case, payload: dict) -> dict:
    unit = hierarchy().units.get(case.holder_unit_id)
    return {
        "number": case.number, "matter": case.title[:40], "unit": unit.name if unit else "",
        "due": timezone.localtime(case.due_at).strftime("%Y-%m-%d") if case.due_at else "",
        # Only the reply reaches the resident; "comment" where an older caller's box was public.
        "reason": (payload.get("reply") or payload.get("comment") or "")[:200],
        "reply": (payload.get("reply") or "")[:200],
        "missing": "、".join(m.get("name") or m.get("code", "") for m in payload.get("missing") or [])[:200],
        "delivery": _delivery_sentence(payload.get("delivery")),
        "decision_reason": _decision_reason(case),
        "result": (payload.get("result") or case.result or "")[:200],
        "decision": _(DECISIONS[case.decision]) if case.decision in DECISIONS else "",
        "link": f"{settings.YIWANG_SITE_URL}/cases/{case.number}/",
        # The result as a sentence of its own, whatever punctuation the clerk ended it with.
        "result_sentence": (result.rstrip("。.！!") + "。") if (result := (payload.get("result") or case.result or "")[:200])
        else "",
        "slot": timezone.localtime(dt.datetime.fromisoformat(payload["slot"])).strftime("%m-%d %H:%M")
        if payload.get("slot") else "",
    }


def _delivery_sentence(delivery: dict | None) -> str:
    """How the applicant gets the result, as one sentence of a message (workflows.DELIVERY)."""
    method = (delivery or {}).get("method")
    if method == "pickup":
        return _("请于%(hours)s到%(hall)s（%(address)s）领取。") % {
            "hours": delivery.get("hours") or _("办公时间"), "hall": delivery.get("hall", ""),
            "address": delivery.get("address") or "—"}
    if method == "post":
        return _("结果已邮寄，运单号%(tracking)s。") % {"tracking": delivery.get("tracking", "")}
    if method == "electronic":
        return _("已发放电子证照，编号%(reference)s。") % {"reference": delivery.get("reference", "")}
    return ""


def _decision_reason(case: Case) -> str:
    """The reason given with the decision (作出决定's reply), for the 办结 message."""
    if not case.decision:
        return ""
    from yiwang.cases.models import CaseEvent

    payload = (CaseEvent.objects.filter(case_id=case.pk, action="decide").order_by("-seq")
               .values_list("payload", flat=True).first()) or {}
    return (payload.get("reply") or payload.get("result") or "")[:200]


# Each message says what happened, what it means for the resident and what to do next; a staff
# member's remark goes out only where the action declares it public (the reason of a refusal, the
# list of what is missing, the result).
APPLICANT_MESSAGES: dict[str, Callable[[dict], str]] = {
    "accepted": lambda f: _("您的“%(matter)s”已受理，编号%(number)s，由%(unit)s办理，承诺%(due)s前办结。") % f,
    "rejected": lambda f: _("您的“%(matter)s”（%(number)s）不予受理：%(reason)s") % f,
    "supplement": lambda f: _("您的“%(matter)s”（%(number)s）需要补正：%(reason)s。请在“我的办件”中补正后提交，期间办理时限暂停。") % f,
    "visit": lambda f: _("您的“%(matter)s”（%(number)s）已安排上门服务，时间 %(slot)s。") % f,
    "closed": lambda f: _("您的“%(matter)s”（%(number)s）已办结，决定：%(decision)s。%(result_sentence)s欢迎评价：%(link)s") % f,
    "answered": lambda f: _("您的咨询（%(number)s）已答复：%(result)s") % f,
    "dismissed": lambda f: _("您反映的问题（%(number)s）不予立案：%(reason)s") % f,
    "dispatched": lambda f: _("您反映的问题（%(number)s）已派%(unit)s处置。") % f,
    "handled": lambda f: _("您反映的问题（%(number)s）已处置：%(result)s") % f,
    "closed_report": lambda f: _("您反映的问题（%(number)s）已结案，欢迎评价处理结果：%(link)s") % f,
    "follow_up_result": lambda f: _("您的差评（%(number)s）已回访整改，结果：%(result)s") % f,
    "confirm_request": lambda f: _("您反映的问题（%(number)s）已处置完毕，已解决吗？请在3个工作日内答复：%(answer_link)s") % f,
    "closed_unconfirmed": lambda f: _("您反映的问题（%(number)s）3个工作日未收到答复，已结案。如仍未解决，7天内可申请重办：%(answer_link)s") % f,
}


def _answer_link(case: Case) -> str:
    """The reporter's page for "已解决吗？" that needs no sign-in (cases.services.confirmation)."""
    from yiwang.cases.services.confirmation import confirmation_token

    return f"{settings.YIWANG_SITE_URL}/cases/{case.number}/answer/{confirmation_token(case)}/"


def tell_applicant(case: Case, act: Action, *, payload: dict) -> None:
    """The applicant's message about ``case``'s latest event, as ``act.tells`` names it: an SMS to the
    case's phone and an in-app message to the resident, queued in the event's transaction (once per
    event, person and channel, whatever retries the request)."""
    if not act.tells or not (case.applicant_phone or case.applicant_id):
        return
    facts = _facts(case, payload)
    if act.tells in ("confirm_request", "closed_unconfirmed"):
        facts["answer_link"] = _answer_link(case)
    key = f"case:{case.pk}:{case.event_count}:applicant"
    if case.applicant_phone:
        # Not urgent: a step taken at night (a sweep's) reaches the phone when the quiet hours end.
        messages.enqueue(channel="sms", to=case.applicant_phone, dedupe_key=f"{key}:sms", urgent=False,
                         text=applicant_text(case, act.tells, payload, facts=facts, channel="sms"))
    if case.applicant_id:
        messages.enqueue(channel="inapp", resident=Resident(pk=case.applicant_id), subject=case.number,
                         text=applicant_text(case, act.tells, payload, facts=facts, channel="inapp"),
                         dedupe_key=f"{key}:inapp")



# --- the applicant's messages from templates (yiwang.messages.texts, docs/messages.md "Templates") -

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")
_SENTENCE_END = "。.！!；;，, "


def applicant_text(case: Case, event: str, payload: dict, *, facts: dict | None = None, channel: str) -> str:
    """The text the applicant of ``case`` is sent on ``channel`` at ``event``: the admin's template for
    the event (the matter's own first) or the built-in one, in the site's language."""
    def render() -> str:
        values = applicant_variables(case, payload, facts=facts)
        if event not in texts.DEFAULTS:  # an event without a template yet: its text is composed here
            return APPLICANT_MESSAGES[event](facts if facts is not None else _facts(case, payload))
        return texts.render(event, values, channel=channel, matter_id=case.matter_id)

    return stored(render)


def applicant_variables(case: Case, payload: dict, *, facts: dict | None = None) -> dict[str, str]:
    """The values of texts.VARIABLES for ``case``'s latest event: only what the resident may read
    (the public replies, the decision, the result), ID numbers masked, no control characters."""
    f = facts if facts is not None else _facts(case, payload)
    names = _material_names(case)
    reason = _plain(str(f.get("reason") or ""), names)
    missing = _missing(payload, f, names, reason)
    decision = str(f.get("decision") or "")
    decision_reason = _plain(str(f.get("decision_reason") or ""), names).rstrip(_SENTENCE_END)
    if decision and decision_reason:
        decision = _("%(decision)s（理由：%(reason)s）") % {"decision": decision, "reason": decision_reason}
    values = {
        "case_number": f.get("number", case.number), "matter": f.get("matter", ""), "unit": f.get("unit", ""),
        "due_date": f.get("due", ""), "slot": f.get("slot", ""), "reason": reason, "missing": missing,
        "decision": decision, "result": f.get("result", ""), "result_sentence": f.get("result_sentence", ""),
        "how_to_get": _how_to_get(case, f), "link": f.get("link", ""), "answer_link": f.get("answer_link", ""),
        **_receipt(case),
    }
    # What staff or a reporter typed leaves yiwang here: ID and mobile numbers masked, no control characters.
    typed = ("matter", "reason", "missing", "decision", "result", "result_sentence", "how_to_get")
    return {k: _CONTROL_CHARS.sub(" ", idnumber.mask_text(str(v or ""))) if k in typed else str(v or "")
            for k, v in values.items()}


# A receipt's hashes in a message: 16 hex digits (64 bits) fit an SMS, and /receipts/check/ takes them.
RECEIPT_SHORT = 16


def _receipt(case: Case) -> dict[str, str]:
    """The resident's receipt as variables (docs/checkpoints.md "Receipts"): the hash at submission and
    at the latest closing, by records.selectors.receipt_for's rule, which cases may not import."""
    from yiwang.cases.models import CaseEvent

    closed_states = workflow(case.kind).closed
    first = closing = ""
    for seq, hash_, from_state, to_state in (CaseEvent.objects.filter(case_id=case.pk).order_by("seq")
                                             .values_list("seq", "hash", "from_state", "to_state")):
        if seq == 1:
            first = hash_[:RECEIPT_SHORT]
        if to_state in closed_states and from_state not in closed_states:
            closing = hash_[:RECEIPT_SHORT]
        elif to_state not in closed_states:
            closing = ""  # reopened: the receipt waits for the next closing
    if not first:
        return {"receipt": "", "receipt_submitted": "", "receipt_closed": "", "receipt_link": ""}
    link = f"{settings.YIWANG_SITE_URL}/receipts/check/?number={case.number}&hash={closing or first}"
    sentence = (_("存证回执：受理哈希 %(submitted)s，办结哈希 %(closed)s，可在 %(link)s 核验。")
                % {"submitted": first, "closed": closing, "link": link} if closing else
                _("存证回执：受理哈希 %(submitted)s，可在 %(link)s 核验。") % {"submitted": first, "link": link})
    return {"receipt": sentence, "receipt_submitted": first, "receipt_closed": closing, "receipt_link": link}


def _material_names(case: Case) -> dict[str, str]:
    """The case's matter's materials as it was applied under, code → the name residents read."""
    snapshot = case.matter_version.snapshot if case.matter_version_id else {}
    return {str(m.get("code")): str(m.get("name") or m.get("code")) for m in snapshot.get("materials") or []
            if isinstance(m, dict) and m.get("code")}


def _plain(text: str, names: dict[str, str]) -> str:
    """``text`` with the matter's material codes (id_card) written as the materials' names (身份证)."""
    for code, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(code)}(?![A-Za-z0-9_])", name, text)
    return text


def _missing(payload: dict, facts: dict, names: dict[str, str], reason: str) -> str:
    """补正: what is missing, each material once by its name, in the matter's order, and the clerk's
    explanation after it where it says more than the names; the explanation alone where the request
    names no material of the matter."""
    asked: list[str] = []
    for item in payload.get("missing") or []:
        code = item.get("code") if isinstance(item, dict) else item
        name = item.get("name") if isinstance(item, dict) else None
        asked.append(names.get(str(code)) or str(name or ""))
    # Named in the explanation, by code (already replaced) or by the full name.
    asked += [name for name in names.values() if name in reason]
    order = list(names.values())
    listed = sorted({n for n in asked if n}, key=lambda n: (order.index(n) if n in order else len(order), n))
    if not listed:
        return reason.rstrip(_SENTENCE_END) or str(facts.get("missing") or "")
    rest = reason
    for name in listed:
        rest = rest.replace(name, "")
    text = "、".join(listed)
    if re.sub(r"[\s,，、;；.。:：]", "", rest):
        text += _("（%(reason)s）") % {"reason": reason.rstrip(_SENTENCE_END)}
    return text[:300]


def _how_to_get(case: Case, facts: dict) -> str:
    """How the applicant gets the result, one sentence: as the 办结 step recorded it, else, for a
    granted application, where the matter says it is handled; empty when neither is known."""
    delivery = str(facts.get("delivery") or "")
    if delivery:
        return delivery
    if case.decision != "approved" or not case.matter_version_id:
        return ""
    where = str(case.matter_version.snapshot.get("where") or "").strip()
    return _("可到%(where)s领取结果。") % {"where": where} if where else ""


# --- one reminder to rate ------------------------------------------------------------------------

# The closings that invite the applicant to rate (the 办结 and 结案 messages carry the link).
RATING_INVITED = {"application", "incident"}
# A reminder is a nudge, not news: it goes in the daytime (local hours), never at night.
REMINDER_HOURS = range(9, 20)
# Cases closed longer ago than the reminder's day plus this are left alone: a worker that was down
# for weeks, or the day this was deployed, must not remind residents of old cases. Two days cover
# the night (a case that became due at 20:00 is reminded at 09:00) and keep the sweep's look small.
REMINDER_WINDOW = dt.timedelta(days=2)


def remind_to_rate(now: dt.datetime | None = None, *, chunk: int = 500) -> int:
    """Remind the applicant once, settings.YIWANG_RATING_REMINDER_DAYS after a closing that invited a
    rating, if the case is still not rated: an SMS and an in-app message, each queued under a key of
    its own, so a second sweep (or two at once) queues nothing. How many cases were reminded.

    Run every minute by the deadline sweep: it reads the candidates, then their outbox rows by exact
    dedupe key (the unique index), a few queries per chunk of cases whatever their number."""
    now = now or clock.now()
    if timezone.localtime(now).hour not in REMINDER_HOURS:
        return 0
    until = now - dt.timedelta(days=settings.YIWANG_RATING_REMINDER_DAYS)
    # The evaluation is the feedback app's (above this one): named by its relation, not imported.
    due = (Case.objects.filter(kind__in=sorted(RATING_INVITED), state="closed", closed_at__lte=until,
                               closed_at__gt=until - REMINDER_WINDOW, evaluation__isnull=True)
           .exclude(applicant_phone="", applicant__isnull=True)
           .order_by("closed_at", "pk").values_list("pk", "event_count"))
    rows = list(due)
    reminded = 0
    for start in range(0, len(rows), chunk):
        part = dict(rows[start:start + chunk])
        reminder = {pk: f"case:{pk}:rating_reminder:applicant" for pk in part}
        done = _existing([f"{key}:{ch}" for key in reminder.values() for ch in ("sms", "inapp")])
        todo = [pk for pk in part if not ({f"{reminder[pk]}:sms", f"{reminder[pk]}:inapp"} & done)]
        # Told of its closing? The closing message carries the event's number, the case's last.
        closing = {pk: f"case:{pk}:{part[pk]}:applicant" for pk in todo}
        told = _existing([f"{key}:{ch}" for key in closing.values() for ch in ("sms", "inapp")])
        invited = [pk for pk in todo if {f"{closing[pk]}:sms", f"{closing[pk]}:inapp"} & told]
        invited += _told_of_an_earlier_closing([pk for pk in todo if pk not in invited])
        for case in Case.objects.filter(pk__in=invited).select_related("matter_version").order_by("closed_at", "pk"):
            key = reminder[case.pk]
            with transaction.atomic():
                if case.applicant_phone:
                    messages.enqueue(channel="sms", to=case.applicant_phone, dedupe_key=f"{key}:sms", urgent=False,
                                     text=applicant_text(case, "rating_reminder", {}, channel="sms"))
                if case.applicant_id:
                    messages.enqueue(channel="inapp", resident=Resident(pk=case.applicant_id),
                                     subject=case.number, dedupe_key=f"{key}:inapp",
                                     text=applicant_text(case, "rating_reminder", {}, channel="inapp"))
            reminded += 1
    return reminded


def _existing(keys: list[str]) -> set[str]:
    return set(Message.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)) if keys else set()


def _told_of_an_earlier_closing(case_ids: list[int]) -> list[int]:
    """Of cases whose last event is not their closing (a step that tells nobody came after it), or
    that were closed quietly (history, the demo's past), those whose applicant was told of the
    closing: its event's message looked up by the event's number."""
    if not case_ids:
        return []
    from yiwang.cases.models import CaseEvent

    last: dict[int, int] = {}
    for case_id, seq in CaseEvent.objects.filter(case_id__in=case_ids, to_state="closed").values_list("case_id", "seq"):
        last[case_id] = max(seq, last.get(case_id, 0))
    keys = {case_id: f"case:{case_id}:{seq}:applicant" for case_id, seq in last.items()}
    told = _existing([f"{key}:{ch}" for key in keys.values() for ch in ("sms", "inapp")])
    return [case_id for case_id, key in keys.items() if {f"{key}:sms", f"{key}:inapp"} & told]
