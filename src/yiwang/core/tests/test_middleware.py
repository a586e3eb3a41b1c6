"""Messages cost nothing on a request that never uses them, and work as before on one that does."""

import pytest
from django.contrib import messages
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import empty

from yiwang.core.middleware import LazyMessageMiddleware


def _through(view, cookies: dict | None = None):
    request = RequestFactory().get("/")
    request.COOKIES.update(cookies or {})
    response = SessionMiddleware(LazyMessageMiddleware(view))(request)
    return request, response


def test_a_request_that_never_uses_messages_builds_no_storage_and_sets_no_cookie():
    request, response = _through(lambda request: HttpResponse("ok"))
    assert request._messages._wrapped is empty  # never built
    assert not response.cookies


@pytest.mark.django_db
def test_a_message_added_by_a_view_is_shown_on_the_next_request():
    def add(request):
        messages.success(request, "已入场。")
        return HttpResponse("ok")

    _request, response = _through(add)
    assert "messages" in response.cookies

    shown = []

    def show(request):
        shown.extend(str(m) for m in messages.get_messages(request))
        return HttpResponse("ok")

    _through(show, cookies={"messages": response.cookies["messages"].value})
    assert shown == ["已入场。"]
