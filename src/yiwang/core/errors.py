"""Domain errors. Services raise them; the API, pages and CLI turn them into 4xx answers or exit codes.

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
