"""An incident's photos as evidence: the report's (before) and each handling or verification step's
(after), read from the case's materials and its timeline. Reads only; the files are stored by
cases.attachments.photos_store and served by the pages only to those who may see the case.

A photo is addressed by the timeline step that brought it (seq 1: the report; its index among the
case's materials) and its index in that step's photos: both fixed once written, as the timeline is
append-only. Residents see the report's photos and the steps whose action declares its photos
public (the handling's after photos); staff see every step's.
"""

from __future__ import annotations

from dataclasses import dataclass

from yiwang.cases.attachments import is_photo
from yiwang.cases.models import Case
from yiwang.cases.workflows import action_label, find_action
from yiwang.core.errors import NotFound

REPORT_SEQ = 1


@dataclass(frozen=True)
class Photo:
    seq: int
    index: int
    entry: dict


@dataclass(frozen=True)
class Step:
    seq: int
    action: str
    label: object
    at: object
    photos: tuple[Photo, ...]


def _shown(action: str, *, staff: bool) -> bool:
    if staff:
        return True
    act = find_action("incident", action)
    return act is not None and "photos" in act.public


def evidence(case: Case, *, staff: bool) -> list[Step]:
    """The photos of a case by step, oldest first: the report's, then each step that carried some."""
    steps = []
    report = tuple(Photo(REPORT_SEQ, i, m) for i, m in enumerate(case.materials or []) if is_photo(m))
    if report:
        steps.append(Step(REPORT_SEQ, "submit", action_label("submit"), case.created_at, report))
    events = case.events.filter(seq__gt=REPORT_SEQ).order_by("seq").only("seq", "action", "at", "payload")
    for event in events:
        photos = (event.payload or {}).get("photos")
        if photos and _shown(event.action, staff=staff):
            steps.append(Step(event.seq, event.action, action_label(event.action), event.at,
                              tuple(Photo(event.seq, i, p) for i, p in enumerate(photos) if is_photo(p))))
    return steps


def photo_path(case: Case, seq: int, index: int, *, staff: bool, thumbnail: bool) -> tuple[str, str]:
    """(storage path, content type) of one photo of ``case`` the caller may see, or NotFound."""
    entry = None
    if case.kind != "incident":
        raise NotFound("photo")  # an application's materials (an ID card's scan) are no evidence to show
    if seq == REPORT_SEQ:
        materials = case.materials or []
        entry = materials[index] if 0 <= index < len(materials) else None
    else:
        event = case.events.filter(seq=seq).only("action", "payload").first()
        if event is not None and _shown(event.action, staff=staff):
            photos = (event.payload or {}).get("photos") or []
            entry = photos[index] if 0 <= index < len(photos) else None
    if not isinstance(entry, dict) or not is_photo(entry):
        raise NotFound("photo")
    path = entry.get("thumbnail") if thumbnail else entry["reference"]
    if not path or not path.startswith("materials/"):
        path = entry["reference"]  # a photo stored before thumbnails were made
    return path, entry.get("content_type") or "image/jpeg"
