"""Django's request middleware, made cheaper where a request does not use it.

``LazyMessageMiddleware`` is ``django.contrib.messages``' middleware with the message storage built
when a view or template first touches it, not on every request. Building it (a FallbackStorage: a
cookie signer and a session storage) cost ~0.18 M instructions, 3-4 % of an API case intake
(bench/intake_profile.py), and the API and most pages never show a message.
"""

from __future__ import annotations

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty


class LazyMessageMiddleware(MessageMiddleware):
    """MessageMiddleware whose ``request._messages`` is built on first use.

    A storage that was never used has nothing to store, so the response is left as it is, exactly
    as ``BaseStorage.update()`` leaves it when nothing was read or added.
    """

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
