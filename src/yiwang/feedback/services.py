"""Rating a finished case. A bad review opens a follow-up case in the same transaction."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from yiwang.cases.models import Case, Kind
from yiwang.cases.services import case_for_action, case_open_follow_up
from yiwang.cases.workflows import workflow
from yiwang.core import clock
from yiwang.core.errors import Conflict, IllegalTransition, PermissionDenied, ValidationFailed
from yiwang.feedback import rollups
from yiwang.feedback.models import BAD_REVIEW_MAX, OFFLINE_CHANNELS, TAGS, Evaluation, RatingChannel
from yiwang.org.selectors import Viewer

# A follow-up (差评整改) is rated once by the rater of the bad review when it closes: the 追评. Both
# ratings count in the figures; a bad 追评 opens no further follow-up (one 追评, GB/T 39735).
RATABLE_KINDS = {Kind.APPLICATION, Kind.INCIDENT, Kind.CONSULTATION, Kind.FOLLOW_UP}


def may_rate_online(viewer: Viewer, case: Case) -> bool:
    """Whether the rating form is offered: the applicant, on their finished case of a ratable kind."""
    return (case.kind in RATABLE_KINDS and case.closed_at is not None and viewer.resident_id is not None
            and viewer.resident_id == case.applicant_id)


# The channels a rater uses on their own device: the website/app, the QR code shown at the window, a
# reply to the rating SMS. Pads, kiosks and the hotline are staff-operated (OFFLINE_CHANNELS).
RATER_CHANNELS = frozenset({RatingChannel.ONLINE, RatingChannel.QR, RatingChannel.SMS})


def evaluation_create(
    *, viewer: Viewer, case_id: int, rating: int, channel: str = RatingChannel.ONLINE, comment: str = "",
    tags: list[str] | None = None,
) -> Evaluation:
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationFailed(_("评价等级须为 1 到 5。"), field="rating")
    if channel not in RatingChannel.values:
        raise ValidationFailed(_("未知的评价渠道。"), field="channel")
    tags = tags or []
    allowed = TAGS["offline" if channel in OFFLINE_CHANNELS else "online"]
    unknown = [t for t in tags if t not in allowed]
    if unknown:
        raise ValidationFailed(
            _("该渠道不能选择这些评价内容：%(t)s。") % {"t": ", ".join(map(str, unknown))}, field="tags"
        )
    if len(comment) > 1000:
        raise ValidationFailed(_("评价意见不能超过 1000 字。"), field="comment")
    try:
        with transaction.atomic():
            case = case_for_action(viewer, case_id)
            if case.kind not in RATABLE_KINDS:
                raise IllegalTransition(_("这类案件不接受评价。"), field="case")
            if case.state not in workflow(case.kind).closed or case.closed_at is None:
                raise IllegalTransition(_("案件办结后才能评价。"), field="case")
            is_rater = bool(viewer.resident_id) and viewer.resident_id == case.applicant_id
            # Window pads and the hotline are staff-operated channels acting for the rater.
            staff_channel = channel in OFFLINE_CHANNELS and viewer.roles_in(case.handling_unit_id or case.holder_unit_id)
            if not is_rater and not staff_channel:
                raise PermissionDenied(_("只有申请人本人可以评价。"))
            if not staff_channel and channel not in RATER_CHANNELS:
                # A pad, kiosk or hotline rating is taken by staff for the rater; a rater's own device
                # must not pass its rating off as one (the figures count channels apart, GB/T 39735).
                raise PermissionDenied(_("窗口评价器、自助终端和热线的评价由工作人员代为录入，本人不能选择这些渠道。"),
                                       field="channel")
            evaluation = Evaluation(
                case=case, rating=rating, channel=channel, tags=tags, comment=comment, rater_id=viewer.user_id,
                handling_unit_id=case.handling_unit_id or case.holder_unit_id, region_path=case.region_path,
                created_at=clock.now(),
            )
            evaluation.save(force_insert=True)
            rollups.record(evaluation)
            if rating <= BAD_REVIEW_MAX and case.kind != Kind.FOLLOW_UP:
                follow_up = case_open_follow_up(
                    case=case, evaluation_id=evaluation.pk, rating=rating, comment=comment,
                    workdays_limit=settings.YIWANG_BAD_REVIEW_FOLLOW_UP_WORKDAYS,
                )
                Evaluation.objects.filter(pk=evaluation.pk).update(follow_up_case=follow_up)
                evaluation.follow_up_case = follow_up
            return evaluation
    except IntegrityError:
        if Evaluation.objects.filter(case_id=case_id).exists():
            raise Conflict(_("该案件已经评价过，评价不能修改。"), field="case") from None
        raise
