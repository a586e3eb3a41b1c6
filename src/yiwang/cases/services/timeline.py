"""The two writes every case change is made of: a new case with its first event, and one more event
with the fields it changes. Nothing else writes Case or CaseEvent rows."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import NOT_PROVIDED, F, Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.dispatch import Signal
from django.utils import translation
from django.utils.translation import gettext as _

from yiwang.cases import rollups, routing, search
from yiwang.cases.chain import GENESIS, event_hash, seal
from yiwang.cases.models import Case, CaseEvent, Upload
from yiwang.cases.workflows import SYSTEM, Rules
from yiwang.catalog.selectors import MatterInfo, info_from_snapshot
from yiwang.core.errors import Conflict, ValidationFailed
from yiwang.core.inserts import compile_insert
from yiwang.org.selectors import Viewer, hierarchy

# Sent with (case, event) right after an event row is written, inside its transaction (unlike
# case_opened, which waits for the commit): a receiver queues rows that must exist exactly when the
# event does (yiwang.integrations' webhook deliveries). It must not do I/O or call the engine.
event_written = Signal()


def stored(fn, *args):
    """Text written into a record is in the site's language, whoever's request wrote it."""
    with translation.override(settings.LANGUAGE_CODE):
        return fn(*args)


@functools.cache
def _blueprint(model: type[Model]) -> tuple[dict, tuple, frozenset[str], frozenset[str]]:
    """A model's column defaults, split into constants and factories (a dict default is a new dict
    each time), and the names new_row takes: every column's attname, and the relations' names."""
    constants, factories = {}, []
    for field in model._meta.concrete_fields:
        if field.has_default() and callable(field.default):
            factories.append((field.attname, field.default))
        elif not field.has_default() and field.db_default is not NOT_PROVIDED:
            factories.append((field.attname, field.get_default))  # an expression: one per row, as Django makes it
        else:
            constants[field.attname] = field.get_default()
    relations = frozenset(f.name for f in model._meta.concrete_fields if f.is_relation)
    return constants, tuple(factories), frozenset(constants) | {a for a, _f in factories}, relations


def new_row(model: type[Model], **values) -> Model:
    """``model(**values)`` for a row about to be inserted, built without Model.__init__'s generic walk
    (each field's descriptor, its default, pre_init and post_init): with 41 columns that walk was
    ~5 % of an intake's CPU (bench/intake_profile.py). The same instance: columns set by attname,
    a related object (``case=``) through its descriptor, as Model.__init__ sets it; a name that is
    neither is refused. With a pre_init or post_init receiver for the model, Model.__init__ itself."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model(**values)
    constants, factories, attnames, relations = _blueprint(model)
    row = model.__new__(model)
    row._state = ModelState()
    columns = row.__dict__
    columns.update(constants)
    for attname, factory in factories:
        columns[attname] = factory()
    for name, value in values.items():
        if name in relations:
            setattr(row, name, value)
        elif name in attnames:
            columns[name] = value
        else:
            raise TypeError(f"{model.__name__}() got an unexpected keyword argument '{name}'")
    return row


def event_row(case: Case, *, seq: int, prev: str, at: dt.datetime, actor_id: int | None, actor_name: str,
           action: str, from_state: str, to_state: str, from_unit_id: int | None, to_unit_id: int | None,
           payload: dict) -> CaseEvent:
    payload = seal(payload)  # a resident's words are hashed by a salted digest (docs/retention.md)
    h = event_hash(prev=prev, seq=seq, at=at, actor_id=actor_id, action=action, from_state=from_state,
                   to_state=to_state, from_unit_id=from_unit_id, to_unit_id=to_unit_id, payload=payload)
    return new_row(CaseEvent, case=case, seq=seq, at=at, actor_id=actor_id, actor_name=actor_name, action=action,
                     from_state=from_state, to_state=to_state, from_unit_id=from_unit_id, to_unit_id=to_unit_id,
                     payload=payload, hash=h, region_path=case.region_path)



def insert_opened(case: Case, *, actor_id: int | None, actor_name: str, payload: dict, at: dt.datetime,
                   uploads: list[int] = (), then: Callable[[Case], None] | None = None) -> None:
    """Insert a new case, its first ("submit") event and its tally in one short transaction.

    Both INSERTs are compiled before the transaction, so the write lock is held only for the executes.
    ``then(case)`` runs last inside it: a row that must exist exactly when the case does (a queued job).
    """
    first = event_row(case, seq=1, prev=GENESIS, at=at, actor_id=actor_id, actor_name=actor_name, action="submit",
                   from_state="", to_state=case.state, from_unit_id=None, to_unit_id=case.holder_unit_id,
                   payload=payload)
    case.last_hash = first.hash
    case.event_count = 1
    if not case.search_text:
        case.search_text = search.index_text(case.title, case.description, case.address)
    case_insert = compile_insert(case)
    first.case_id = 0  # set to the new case's id between the two executes
    event_insert = compile_insert(first)
    tally = rollups.changes(None, rollups.contributions(case))  # needs no id: worked out before the lock too
    with transaction.atomic():
        case.id = case_insert.execute()
        event_insert.set("case_id", case.id)
        first.id = event_insert.execute()
        rollups.execute(tally)
        event_written.send(CaseEvent, case=case, event=first)
        if uploads and Upload.objects.filter(pk__in=uploads, case__isnull=True).update(case_id=case.id) != len(uploads):
            # Cited by another case in the meantime (two submissions racing with one upload).
            raise Conflict(_("上传的文件已被其他办件引用，请重新上传。"), field="materials")
        if then is not None:
            then(case)
    case._state.adding = first._state.adding = False
    first.case = case


def snapshot_info(case: Case) -> MatterInfo:
    return info_from_snapshot(case.matter_id, case.matter_version_id, case.matter_version.snapshot)


def append(case: Case, *, viewer: Viewer | None, action: str, to_state: str, to_unit_id: int | None,
           payload: dict, changes: dict, at: dt.datetime) -> Case:
    """Append one event and apply ``changes`` with a version check; must run inside a transaction."""
    event = event_row(
        case, seq=case.event_count + 1, prev=case.last_hash, at=at,
        actor_id=viewer.user_id if viewer else None, actor_name=viewer.username if viewer else SYSTEM,
        action=action, from_state=case.state, to_state=to_state, from_unit_id=case.holder_unit_id,
        to_unit_id=to_unit_id, payload=payload,
    )
    updated = Case.objects.filter(pk=case.pk, version=case.version).update(
        **changes, version=F("version") + 1, event_count=F("event_count") + 1, last_hash=event.hash
    )
    if updated != 1:
        raise Conflict(_("该案件刚刚被他人更新，请刷新后重试。"), field="version")
    event.save(force_insert=True)
    event_written.send(CaseEvent, case=case, event=event)
    before = rollups.contributions(case)
    for name, value in changes.items():
        setattr(case, name, value)
    rollups.track(before, rollups.contributions(case))
    case.version += 1
    case.event_count += 1
    case.last_hash = event.hash
    return case



def staff_of(unit_id: int, username: str | None) -> tuple[int, str]:
    """(user id, username) of an active staff member of the unit, or a field error on ``assignee``."""
    from yiwang.org.models import Staff

    row = Staff.objects.filter(unit_id=unit_id, user__username=username or "", user__is_active=True).values_list(
        "user_id", "user__username").first()
    if row is None:
        raise ValidationFailed(_("请选择本单位的一名工作人员。"), field="assignee")
    return row


def rules_for(case: Case) -> Rules:
    """What a transition of ``case`` may look up: its matter version's time limit, the hierarchy."""
    h = hierarchy()

    def up(unit_id: int) -> int | None:
        try:
            return routing.escalation_target(h.units[unit_id], h).id
        except ValidationFailed:
            return None

    def limits() -> tuple[int, str]:
        info = snapshot_info(case)
        return info.time_limit, info.time_unit

    return Rules(limits=limits, up=up, unit_name=lambda u: h.units[u].name if u in h.units else "")
