"""Logs and error reports never carry a full ID number or mobile number.

A log line travels further than the database it describes (log shippers, support tickets, e-mail),
so every handler in settings.LOGGING has PersonalDataFilter: it masks the record's message, its
arguments, its traceback and its stack with idnumber.mask_text before any handler formats it. The
error e-mail to ADMINS (Django's AdminEmailHandler) renders a whole request — POST data, local
variables, the exception — so it is written by MaskingExceptionReporter, masked the same way.
"""

from __future__ import annotations

import logging

from django.views.debug import ExceptionReporter

from yiwang.core.idnumber import mask_text

_PLAIN_TYPES = (int, float, bool, type(None))
_formatter = logging.Formatter()


def _masked_arg(value: object) -> object:
    if isinstance(value, _PLAIN_TYPES):
        return value
    text = value if isinstance(value, str) else str(value)
    masked = mask_text(text)
    # An object whose text holds nothing to mask is kept as it is, so "%r" and "%d" still work.
    return masked if masked != text or isinstance(value, str) else value


class PersonalDataFilter(logging.Filter):
    """Mask ID numbers and mobile numbers in every record; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_text(record.msg)
        elif record.msg is not None:
            record.msg = _masked_arg(record.msg)
        if isinstance(record.args, dict):
            record.args = {k: _masked_arg(v) for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(_masked_arg(a) for a in record.args)
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the masked traceback is the one written.
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


class MaskingExceptionReporter(ExceptionReporter):
    """Django's error report (the 500 e-mail) with ID and mobile numbers masked throughout."""

    def get_traceback_text(self) -> str:
        return mask_text(super().get_traceback_text())

    def get_traceback_html(self) -> str:
        return mask_text(super().get_traceback_html())
