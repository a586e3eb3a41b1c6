"""View decorators for pages, on the same scoping as the selectors."""

import functools

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.utils.translation import gettext as _

from yiwang.org.selectors import request_viewer


def staff_required(view):
    """Logged-in staff only: residents are refused (403), anonymous visitors sent to log in."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request_viewer(request).is_staff_member:
            return HttpResponseForbidden(_("仅限工作人员。"))
        return view(request, *args, **kwargs)

    return login_required(wrapped, login_url="web:login")
