"""The workbench's 无结果搜索 page: what residents searched for and did not find, with the synonym it
lacked added in one step. For staff who may keep the search synonyms (the catalogue's permission, as
in the admin); everyone else is refused."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from yiwang.catalog import selectors as catalog_selectors
from yiwang.catalog import services as catalog_services
from yiwang.catalog.models import Matter
from yiwang.core import pages
from yiwang.core.errors import DomainError, PermissionDenied
from yiwang.org.decorators import staff_required

# Who may add a synonym in the admin (/admin/catalog/searchsynonym/) may add one here.
SYNONYM_PERMISSION = "catalog.add_searchsynonym"
PAGE_SIZE = 50


def synonym_keepers(view: Callable) -> Callable:
    """Staff holding SYNONYM_PERMISSION (superusers hold every permission); others get 403."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(SYNONYM_PERMISSION):
            raise PermissionDenied(_("仅限可维护搜索同义词的工作人员。"))
        return view(request, *args, **kwargs)

    return staff_required(wrapped)


class MissForm(forms.Form):
    miss = pages.WholeNumberField("miss")
    do = forms.ChoiceField(choices=[("synonym", "synonym"), ("handled", "handled")])
    phrase = pages.TextField()
    means = pages.TextField()
    matter = pages.TextField()


@synonym_keepers
@require_http_methods(["GET", "HEAD", "POST"])
def search_misses(request):
    handled = request.GET.get("handled") == "1"
    cursor = request.GET.get("cursor") or None
    errors: dict = {}
    posted: dict = {}
    status = 200
    if request.method == "POST":
        posted = {k: request.POST.get(k, "") for k in ("miss", "phrase", "means", "matter")}
        try:
            data = pages.cleaned(MissForm(request.POST))
            if data["do"] == "synonym":
                synonym = catalog_services.search_miss_add_synonym(
                    miss_id=data["miss"], phrase=data["phrase"], means=data["means"], matter_code=data["matter"])
                messages.success(request, _("已添加同义词“%(phrase)s”，该搜索词已标记为已处理。")
                                 % {"phrase": synonym.phrase})
            else:
                catalog_services.search_miss_handle(miss_id=data["miss"])
                messages.success(request, _("已标记为已处理。"))
        except DomainError as exc:
            errors = pages.refused(request, exc)
            status = exc.status
        else:
            return HttpResponseRedirect(request.get_full_path(), status=303)
    try:
        page = catalog_selectors.search_misses(cursor=cursor, limit=PAGE_SIZE, handled=handled)
    except DomainError as exc:  # a malformed cursor: the first page, and why
        messages.error(request, exc.message)
        page = catalog_selectors.search_misses(limit=PAGE_SIZE, handled=handled)
    # Each row's form: the posted values and their refusals on the row they came from, the query as
    # the phrase on the others.
    rows = []
    for miss in page.items:
        mine = posted.get("miss", "").strip() == str(miss.pk)
        rows.append({"miss": miss, "values": posted if mine else {"phrase": miss.query},
                     "errors": errors if mine else {}})
    general = {k: v for k, v in errors.items() if k in ("general", "miss", "do")}
    return render(request, "web/work/search_misses.html", {
        "page": page, "rows": rows, "handled": handled, "errors": general,
        "matters": Matter.objects.filter(active=True).order_by("code").only("code", "name"),
        "next_url": reverse("web:search_misses") + "?" + "&".join(
            [*(["handled=1"] if handled else []), f"cursor={page.next_cursor}"]) if page.next_cursor else "",
    }, status=status)
