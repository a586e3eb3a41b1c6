"""View decorators for pages, on the same scoping as the selectors."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from yiwang.core.errors import PermissionDenied
from yiwang.org.selectors import Viewer, request_viewer


def staff_required(view: Callable | None = None, *, allow: Callable[[Viewer], object] | None = None,
                   refusal: str | Promise | None = None) -> Callable:
    """Logged-in staff only: residents are refused (403), anonymous visitors sent to log in.

    ``@staff_required(allow=..., refusal=...)`` narrows it to the staff ``allow(viewer)`` is true for
    (a role, a unit of some kind), refusing the others with ``refusal`` — the one guard a page needs,
    checked before the view reads anything (it used to be pasted at the top of each view).
    """

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            viewer = request_viewer(request)
            # Raised, not returned: core.middleware answers it with the site's 403 page and the reason.
            if not viewer.is_staff_member:
                raise PermissionDenied(_("仅限工作人员。"))
            if allow is not None and not allow(viewer):
                raise PermissionDenied(refusal or _("仅限工作人员。"))
            return view(request, *args, **kwargs)

        return login_required(wrapped, login_url="web:login")

    return decorate(view) if view is not None else decorate
