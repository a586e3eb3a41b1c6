"""Retention of personal data (个人信息保护法 Art. 19, 47): once a closed case has been closed longer than
the retention period set for a kind of personal data, that data is erased, and the case, its figures and
its hash chain stay. docs/retention.md explains how a hash stays provable without the data.

Kinds (settings.YIWANG_RETENTION, days counted from the case's closing):

- ``reporter_contact``: the reporter's name and phone on the case, and the resident's words in its events;
- ``id_number``: ID numbers in the case's form data, description and title;
- ``documents``: the uploaded materials and photos, on disk and as entries of the case;
- kinds registered by the apps above (``register``): ``grid_household``, a closed account's place in
  the grid's basic data (grid.retention).

Each erasure is one ``anonymise`` event on the case's timeline, written through the engine's one
writer (``timeline.append``) in one transaction per case; each pass is one RetentionRun row.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _

from yiwang.cases import search
from yiwang.cases.chain import ATTESTED, SALT, SEALED, SEALED_KEYS, hashed_payload
from yiwang.cases.models import Case, CaseEvent, RetentionRun, Upload
from yiwang.cases.services.timeline import append, rules_for
from yiwang.cases.workflows import SYSTEM, SYSTEM_ACTIONS, Inputs, transition
from yiwang.core import clock, idnumber
from yiwang.core.errors import PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

KINDS = ("reporter_contact", "id_number", "documents")
# What an erased text becomes: readable as "there was something here", nothing of it left.
ERASED = "〔已匿名〕"
# Staff texts on events: not sealed (they are the record of what staff did), so erased only where they
# quote the reporter, and then under the old rule (attested hash).
STAFF_TEXTS = ("reply", "note", "result", "reason")
DEFAULT_DAYS = {"reporter_contact": 3 * 365, "id_number": 3 * 365, "documents": 3 * 365}


# Personal data held above cases (the grid's basic data on households): the app that holds it
# registers a sweep for its kind in its AppConfig.ready(), since cases may not import it. A sweep is
# called as sweep(now=, days=, batch=) and returns (how many it erased, its errors); it runs each
# erasure in a transaction of its own.
Sweep = Callable[..., tuple[int, list[str]]]
HOLDERS: dict[str, tuple[Sweep, int]] = {}


def register(kind: str, sweep: Sweep, *, default_days: int) -> None:
    """Make ``kind`` a YIWANG_RETENTION kind, erased by ``sweep`` in every retention pass."""
    HOLDERS[kind] = (sweep, default_days)


def retention_days() -> dict[str, int | None]:
    """Days each kind is kept after closing; None keeps it for ever. Unknown kinds are refused at start
    rather than silently ignored."""
    configured = getattr(settings, "YIWANG_RETENTION", None) or {}
    known = {**DEFAULT_DAYS, **{kind: days for kind, (_sweep, days) in HOLDERS.items()}}
    unknown = set(configured) - set(known)
    if unknown:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"YIWANG_RETENTION: unknown kind(s) {sorted(unknown)}; known: {list(known)}")
    return {k: configured.get(k, days) for k, days in known.items()}


def done_kinds(case_id: int) -> set[str]:
    return {k for payload in CaseEvent.objects.filter(case_id=case_id, action="anonymise").values_list(
        "payload", flat=True) for k in (payload or {}).get("kinds", [])}


def _scrub(text: str, secrets_: list[str]) -> str:
    """``text`` without the known personal strings and with every ID number and mobile number erased."""
    if not isinstance(text, str) or not text:
        return text
    for s in secrets_:
        if s:
            text = text.replace(s, ERASED)
    return idnumber.mask_text(text)


def _scrub_data(value, secrets_: list[str]):
    if isinstance(value, str):
        return _scrub(value, secrets_)
    if isinstance(value, dict):
        return {k: _scrub_data(v, secrets_) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_data(v, secrets_) for v in value]
    return value


def _personal_strings(case: Case) -> list[str]:
    out = [case.applicant_name, case.applicant_phone]
    out += idnumber.find_in_text(" ".join(str(v) for v in (case.form_data or {}).values()))
    out += idnumber.find_in_text(case.description) + idnumber.find_in_text(case.title)
    if case.applicant_id:
        from yiwang.org.models import Resident

        r = Resident.objects.filter(pk=case.applicant_id).values_list("name", "phone", "id_number").first()
        if r:
            out += list(r)
    # Longest first, so a name inside a longer string does not leave the rest of it behind.
    return sorted({s for s in out if s and len(s) >= 2}, key=len, reverse=True)


def _erase_event(event: CaseEvent, secrets_: list[str]) -> tuple[dict, str | None]:
    """(the event's new payload, or the same one when nothing changes; its hash if attested)."""
    payload = dict(event.payload or {})
    if SALT in payload:
        # Sealed: the hash covers digests; keep them, drop the values and the salt.
        sealed = hashed_payload(payload)[SEALED]
        for k in SEALED_KEYS:
            payload.pop(k, None)
        payload.pop(SALT)
        payload[SEALED] = sealed
    changed_staff = {k: _scrub(payload[k], secrets_) for k in STAFF_TEXTS
                     if isinstance(payload.get(k), str) and _scrub(payload[k], secrets_) != payload[k]}
    # Old rule: a resident's words written before sealing existed, or a staff text quoting them.
    old_words = {k: payload[k] for k in SEALED_KEYS if k in payload and SEALED not in payload and payload[k]}
    if not changed_staff and not old_words:
        return payload, None
    if ATTESTED in payload:
        return payload, None
    payload.update(changed_staff)
    for k in old_words:
        payload[k] = ERASED
    payload[ATTESTED] = event.hash
    return payload, event.hash


def _delete_file(path: str, case_id: int) -> bool:
    """Delete a stored file unless another case still cites it (paths are content hashes: two people
    may have uploaded the same file)."""
    if not path or Upload.objects.filter(path=path).exclude(case_id=case_id).exists():
        return False
    if default_storage.exists(path):
        default_storage.delete(path)
        return True
    return False


def case_anonymise(*, case_id: int, kinds: list[str], at: dt.datetime | None = None) -> dict[str, int]:
    """Erase ``kinds`` of personal data from one closed case, with an ``anonymise`` event; one transaction.
    Returns {kind: 1 if erased, "files": deleted}. A kind already erased is skipped."""
    at = at or clock.now()
    result = {"files": 0}
    to_delete: list[str] = []
    with transaction.atomic():
        case = Case.objects.select_for_update().select_related("matter_version").get(pk=case_id)
        kinds = [k for k in kinds if k not in done_kinds(case.pk)]
        if not kinds:
            return result
        secrets_ = _personal_strings(case)
        changes: dict = {}
        if "reporter_contact" in kinds:
            changes.update(applicant_name="", applicant_phone="")
        if "id_number" in kinds or "reporter_contact" in kinds:
            changes.update(title=_scrub(case.title, secrets_) or ERASED,
                           description=_scrub(case.description, secrets_),
                           address=_scrub(case.address, secrets_),
                           result=_scrub(case.result, secrets_),
                           form_data=_scrub_data(case.form_data or {}, secrets_))
        materials = case.materials or []
        if "documents" in kinds:
            to_delete = [m.get("reference", "") for m in materials if isinstance(m, dict) and m.get("reference")]
            to_delete += list(Upload.objects.filter(case_id=case.pk).values_list("path", flat=True))
            materials = [{k: v for k, v in m.items() if k in ("code", "name", "original_seen")} | {"erased": True}
                         if isinstance(m, dict) else m for m in materials]
            changes["materials"] = materials
            Upload.objects.filter(case_id=case.pk).delete()
        if "title" in changes or "description" in changes or "address" in changes:
            changes["search_text"] = search.index_text(changes.get("title", case.title),
                                                       changes.get("description", case.description),
                                                       changes.get("address", case.address))
        # Events: redacted in place (the one update the append-only rule allows, for this law's sake).
        attested: dict[str, str] = {}
        erase_events = "reporter_contact" in kinds or "id_number" in kinds
        for event in CaseEvent.objects.filter(case_id=case.pk).order_by("seq") if erase_events else ():
            payload, old_hash = _erase_event(event, secrets_)
            if payload != event.payload:
                CaseEvent.objects.filter(pk=event.pk).update(payload=payload)
            if old_hash:
                attested[str(event.seq)] = old_hash
        act = SYSTEM_ACTIONS["anonymise"]
        step = transition(case, act, Inputs(), actor=(None, SYSTEM), at=at, rules=rules_for(case))
        payload = {"capacity": SYSTEM, "kinds": sorted(kinds), **step.derived}
        if attested:
            payload["attested"] = attested
        append(case, viewer=None, action=act.name, to_state=step.to_state, to_unit_id=step.to_unit_id,
               payload=payload, changes={**step.changes, **changes}, at=at)
        if erase_events:
            _erase_messages(case.pk, secrets_)
        for k in kinds:
            result[k] = 1
    for path in dict.fromkeys(to_delete):  # after the commit: a rollback must not lose a file
        try:
            result["files"] += _delete_file(path, case.pk)
        except OSError as exc:  # one unreadable file must not stop the run
            logger.warning("retention: could not delete %s: %s", path, exc)
    return result


def _erase_messages(case_id: int, secrets_: list[str]) -> None:
    """The outbox rows the case caused: address and text erased, the row kept as a count. Staff and
    residents' notifications about the case lose the personal strings they quote (a title, a name)."""
    from yiwang.cases.models import Notification
    from yiwang.messages.models import Message

    for n in Notification.objects.filter(case_id=case_id).only("pk", "message"):
        scrubbed = _scrub(n.message, secrets_)
        if scrubbed != n.message:
            Notification.objects.filter(pk=n.pk).update(message=scrubbed)

    for m in Message.objects.filter(dedupe_key__startswith=f"case:{case_id}:"):
        Message.objects.filter(pk=m.pk).update(to=ERASED if m.channel == "sms" else _scrub(m.to, secrets_),
                                               text=_scrub(m.text, secrets_),
                                               subject=_scrub(m.subject, secrets_))


def due_cases(kind: str, days: int, now: dt.datetime, limit: int) -> list[int]:
    """Closed cases past ``days`` for ``kind`` that have not had it erased, oldest first."""
    cutoff = now - dt.timedelta(days=days)
    ids = list(Case.objects.filter(closed_at__isnull=False, closed_at__lte=cutoff).order_by("closed_at", "id")
               .values_list("id", flat=True)[: limit * 4])
    done = {cid for cid, payload in CaseEvent.objects.filter(case_id__in=ids, action="anonymise")
            .values_list("case_id", "payload") if kind in (payload or {}).get("kinds", [])}
    return [i for i in ids if i not in done][:limit]


def retention_sweep(*, batch: int = 500, now: dt.datetime | None = None) -> RetentionRun:
    """One pass of the retention sweep: up to ``batch`` cases per kind, logged as a RetentionRun."""
    now = now or clock.now()
    run = RetentionRun.objects.create(started_at=now)
    counts = {k: 0 for k in KINDS}
    errors: list[str] = []
    touched: set[int] = set()
    files = 0
    # One anonymise event per case, naming every kind due on it at this pass.
    due: dict[int, list[str]] = {}
    days_of = retention_days()
    for kind in KINDS:
        days = days_of[kind]
        if days is not None:
            for case_id in due_cases(kind, days, now, batch):
                due.setdefault(case_id, []).append(kind)
    for case_id, kinds in due.items():
        try:
            got = case_anonymise(case_id=case_id, kinds=kinds, at=now)
        except Exception as exc:  # logged on the run; the next case goes on
            errors.append(f"case {case_id} {','.join(kinds)}: {type(exc).__name__}: {exc}"[:300])
            continue
        for kind in kinds:
            counts[kind] += got.get(kind, 0)
        files += got["files"]
        if any(got.get(k) for k in kinds):
            touched.add(case_id)
    counts["account"] = 0
    for rid in closed_residents_due(now, days_of["id_number"], batch):
        try:
            with transaction.atomic():
                _erase_resident(rid)
            counts["account"] += 1
        except Exception as exc:  # logged on the run; the next one goes on
            errors.append(f"resident {rid}: {type(exc).__name__}: {exc}"[:300])
    for kind, (sweep, _default) in HOLDERS.items():
        counts[kind] = 0
        if days_of[kind] is None:
            continue
        try:
            counts[kind], held_errors = sweep(now=now, days=days_of[kind], batch=batch)
            errors += held_errors
        except Exception as exc:  # one holder's failure must not lose the run's log
            errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])
    run.counts, run.errors, run.files_deleted = counts, errors[:100], files
    run.cases, run.finished_at = len(touched), clock.now()
    run.save()
    return run


# --- closing a resident's account (注销) --------------------------------------------------------------

# Open applications a resident may still withdraw are withdrawn when they close their account: nobody is
# left to bring a supplement or collect the result. Other open cases (a reported problem, an application
# already decided) stay with staff: the problem is real whoever reported it, and the figures count them.
WITHDRAWN_ON_CLOSING = "withdraw"


def resident_close_account(*, user, password: str = "", code: str = "") -> None:
    """Close the signed-in resident's own account, confirmed by their password or, for an account
    without one, a login code sent to their number. The login is disabled at once; open applications
    that may be withdrawn are; the resident's record is erased now when no case refers to it, else by
    the retention sweep once their cases' retention has run (docs/retention.md)."""
    from yiwang.org.models import CodePurpose, Resident, Staff
    from yiwang.org.services import code_check

    resident = Resident.objects.filter(user_id=getattr(user, "pk", None), closed_at__isnull=True).first()
    if resident is None or not user.is_active:
        raise PermissionDenied(_("只有居民本人可以注销自己的账号。"))
    if user.is_staff or user.is_superuser or Staff.objects.filter(user_id=user.pk).exists():
        # A staff account is closed by an administrator, never from the residents' page.
        raise PermissionDenied(_("工作人员账号不能在此注销，请联系管理员。"))
    if user.has_usable_password():
        if not password or not user.check_password(password):
            raise ValidationFailed(_("密码不正确。"), field="password")
        with transaction.atomic():
            _close(user, resident)
    else:
        if not code:
            raise ValidationFailed(_("请填写短信验证码。"), field="code")
        code_check(phone=resident.phone, purpose=CodePurpose.LOGIN, code=code,
                   then=lambda: _close(user, resident))


def open_cases_on_closing(resident) -> dict[str, int]:
    """What closing the account would do to the resident's open cases: {"withdrawn": n, "kept": n}."""
    open_ = Case.objects.filter(applicant=resident, closed_at__isnull=True)
    withdrawn = open_.filter(kind="application", state__in=("submitted", "accepted", "supplement")).count()
    return {"withdrawn": withdrawn, "kept": open_.count() - withdrawn}


def _close(user, resident) -> None:
    from yiwang.cases.services import case_act
    from yiwang.org.selectors import viewer_for

    viewer = viewer_for(user)
    for case in Case.objects.filter(applicant=resident, closed_at__isnull=True, kind="application",
                                    state__in=("submitted", "accepted", "supplement")).order_by("pk"):
        case_act(viewer=viewer, case_id=case.pk, action=WITHDRAWN_ON_CLOSING, version=case.version,
                 comment=_("申请人已注销账号。"))
    now = clock.now()
    type(resident).objects.filter(pk=resident.pk).update(closed_at=now)
    # Unusable as well as inactive: reactivating the row by mistake still would not let anyone in.
    get_user_model().objects.filter(pk=user.pk).update(is_active=False, password="!closed")
    if not Case.objects.filter(applicant=resident).exists():
        _erase_resident(resident.pk)


def _erase_resident(resident_id: int) -> None:
    """The closed account's record without its person: name, number, ID number, address, birth date and
    the login name (often the phone) erased; the row stays so the cases that cite it keep their link."""
    from yiwang.org.models import Resident

    r = Resident.objects.select_related("user").get(pk=resident_id)
    Resident.objects.filter(pk=r.pk).update(name=ERASED, phone="", id_number="", address="", birth_date=None)
    if r.user_id:
        get_user_model().objects.filter(pk=r.user_id).update(
            username=f"closed-{r.user_id}", first_name="", last_name="", email="", is_active=False)


def closed_residents_due(now: dt.datetime, days: int | None, limit: int) -> list[int]:
    """Closed accounts whose record may be erased: closed longer than the ID-number retention ago, no
    case of theirs open, and every case of theirs already anonymised."""
    from yiwang.org.models import Resident

    if days is None:
        return []
    ids = list(Resident.objects.filter(closed_at__lte=now - dt.timedelta(days=days)).exclude(name=ERASED)
               .order_by("closed_at").values_list("pk", flat=True)[:limit])
    out = []
    for rid in ids:
        cases = list(Case.objects.filter(applicant_id=rid).values_list("pk", "closed_at"))
        if all(closed for _pk, closed in cases) and all(
                {"reporter_contact", "id_number"} <= done_kinds(pk) for pk, _closed in cases):
            out.append(rid)
    return out


def retention_report(limit: int = 5) -> list[RetentionRun]:
    """The latest runs, newest first (`yiwang stats`)."""
    return list(RetentionRun.objects.all()[:limit])
