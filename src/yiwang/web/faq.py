"""The workbench's FAQ page (常见问题): a consultation's answer arrives as a draft, and staff edit out
what is personal before publishing it on the matter's guide."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from yiwang.cases.models import Case
from yiwang.cases.selectors import case_queryset
from yiwang.catalog import services as catalog_services
from yiwang.catalog.models import MatterFAQ
from yiwang.core import pages
from yiwang.core.errors import DomainError, NotFound
from yiwang.org.decorators import staff_required
from yiwang.org.selectors import Viewer, request_viewer

# Who takes the consultation's 发布到常见问题 (cases/workflows.py) is who edits and publishes the draft.
FAQ_ROLES = frozenset({"clerk", "handler"})


def _may_edit_faq(viewer: Viewer) -> bool:
    return viewer.is_superuser or bool(FAQ_ROLES & viewer.roles)


faq_staff = staff_required(allow=_may_edit_faq, refusal=gettext_lazy("仅限窗口人员和承办人编辑常见问题。"))


class FAQForm(forms.Form):
    question = pages.TextField()
    answer = pages.TextField()
    do = forms.ChoiceField(choices=[("save", "save"), ("publish", "publish"), ("discard", "discard")])


def _visible(viewer: Viewer):
    """The FAQ entries the viewer may edit: those drafted from a consultation they can see."""
    qs = MatterFAQ.objects.select_related("matter")
    if viewer.is_superuser:
        return qs
    return qs.filter(source_case_id__in=case_queryset(viewer).values("pk"))


def _faq_for(viewer: Viewer, faq_id: int) -> MatterFAQ:
    faq = _visible(viewer).filter(pk=faq_id).first()
    if faq is None:
        raise NotFound(_("没有这条常见问题，或您无权编辑。"), field="faq")
    return faq


def faq_of_case(viewer: Viewer, case: Case) -> MatterFAQ | None:
    """The FAQ entry drafted from ``case`` (a consultation), if the viewer may edit it."""
    if case.kind != "consultation" or not _may_edit_faq(viewer):
        return None
    return _visible(viewer).filter(source_case_id=case.pk).first()


@faq_staff
@require_safe
def faq_list(request):
    viewer = request_viewer(request)
    visible = _visible(viewer)
    drafts = list(visible.filter(published_at__isnull=True).order_by("-created_at", "-id")[:100])
    published = list(visible.filter(published_at__isnull=False).order_by("-published_at")[:20])
    return render(request, "web/work/faq_list.html", {"drafts": drafts, "published": published})


@faq_staff
@require_http_methods(["GET", "POST"])
def faq_edit(request, faq_id: int):
    viewer = request_viewer(request)
    faq = _faq_for(viewer, faq_id)
    question, answer = faq.question, faq.answer
    errors: dict = {}
    status = 200
    if request.method == "POST":
        question, answer = request.POST.get("question", ""), request.POST.get("answer", "")
        try:
            posted = pages.cleaned(FAQForm(request.POST))
            question, answer = posted["question"], posted["answer"]
            if posted["do"] == "discard":
                catalog_services.faq_discard(faq_id=faq.pk)
                messages.success(request, _("草稿已删除。"))
                return HttpResponseRedirect(reverse("web:faq_list"), status=303)
            if posted["do"] == "publish":
                catalog_services.faq_publish(faq_id=faq.pk, question=question, answer=answer,
                                             published_by=viewer.username)
                messages.success(request, _("已发布到“%(matter)s”的办事指南。") % {"matter": faq.matter.name})
                return HttpResponseRedirect(reverse("web:faq_list"), status=303)
            catalog_services.faq_save_draft(faq_id=faq.pk, question=question, answer=answer)
            messages.success(request, _("草稿已保存。"))
            return HttpResponseRedirect(reverse("web:faq_edit", args=[faq.pk]), status=303)
        except DomainError as exc:
            errors = pages.refused(request, exc)
            status = exc.status
            faq.refresh_from_db()
    source = Case.objects.filter(pk=faq.source_case_id).only("created_at", "id").first() if faq.source_case_id else None
    return render(request, "web/work/faq_edit.html", {
        "faq": faq, "question": question, "answer": answer, "errors": errors, "source": source,
        "flags": {"question": catalog_services.faq_personal_details(question),
                  "answer": catalog_services.faq_personal_details(answer)},
    }, status=status)
