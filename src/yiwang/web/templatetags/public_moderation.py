"""The public map's moderation box on the workbench case page (web/work/_public_moderation.html)."""

from __future__ import annotations

from django import template

from yiwang.core.errors import DomainError
from yiwang.open311 import services as open311_services
from yiwang.org.selectors import request_viewer

register = template.Library()


@register.inclusion_tag("web/work/_public_moderation.html", takes_context=True)
def public_moderation(context, case) -> dict:
    """Shown to staff who may moderate this incident; nothing for anyone else or another kind of case."""
    request = context.get("request")
    if request is None or case.kind != "incident":
        return {"case": None}
    try:
        open311_services.moderated_case(viewer=request_viewer(request), number=case.number)
    except DomainError:
        return {"case": None}
    from yiwang.web.public import moderation_context

    return {**moderation_context(case), "csrf_token": context.get("csrf_token")}
