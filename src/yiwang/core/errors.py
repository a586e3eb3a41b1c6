"""Domain errors. Services raise them; the API, pages and CLI turn them into 4xx answers or exit codes
(503 for a database that cannot answer: core.db.unavailable).

Every error carries a message a person can act on and, where one input is at fault, the field.
"""

from django.utils.functional import Promise


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str | Promise, *, field: str | None = None, errors: dict | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
        self.errors = errors or ({field: [str(message)]} if field else {})

    def as_dict(self) -> dict:
        body: dict = {"code": self.code, "detail": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class IllegalTransition(DomainError):
    status = 409
    code = "illegal_transition"


class Conflict(DomainError):
    """Someone else changed the record since the caller read it (optimistic locking)."""

    status = 409
    code = "conflict"


class BadParameter(DomainError):
    """A query parameter, form field or header that cannot be read as what it must be (a number, a
    key): the request itself is malformed, whatever the data (400)."""

    status = 400
    code = "bad_request"


class InternalError(DomainError):
    """A bug: what an API or Open311 client gets instead of Django's HTML 500 page (the traceback is in
    the log, never in the answer)."""

    status = 500
    code = "internal_error"


class Unavailable(DomainError):
    """The database cannot answer now: a lost connection, a failover, a write lock held past the busy
    timeout. The transaction was rolled back (unless the connection was lost during COMMIT itself);
    the same request may be sent again after ``retry_after`` seconds, safely with an Idempotency-Key."""

    status = 503
    code = "unavailable"
    retry_after = 10
