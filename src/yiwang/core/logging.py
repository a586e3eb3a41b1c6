"""Logs and error reports never carry a full ID number or mobile number.

A log line travels further than the database it describes (log shippers, support tickets, e-mail),
so every handler in settings.LOGGING has PersonalDataFilter: it masks the record's message, its
arguments, its traceback and its stack with idnumber.mask_text before any handler formats it. The
error e-mail to ADMINS (Django's AdminEmailHandler) renders a whole request — POST data, local
variables, the exception — so it is written by MaskingExceptionReporter, masked the same way.

JsonFormatter writes one JSON object per line for a log shipper, with the request's id, route, status,
duration and user id (core/observe.py sets them in a context variable for every line of the request),
or the worker's job id. YIWANG_LOG_FORMAT=plain keeps the readable lines for development.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
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


# What every line of the current request (or worker job) carries; a dict set once per request, so a
# thread the request starts sees the same one.
log_context: contextvars.ContextVar[dict | None] = contextvars.ContextVar("yiwang_log_context", default=None)

_RECORD_FIELDS = ("route", "status", "duration_ms", "method")
# json.dumps with any option builds a new encoder per call; one line per request made that a share of the
# access line's cost.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and, where known, the request's or job's
    fields. The message and the traceback are masked again here, so a handler without the filter
    cannot write an ID number either."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        entry.update(log_context.get() or {})
        for name in _RECORD_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = mask_text(record.exc_text)
        if record.stack_info:
            entry["stack"] = mask_text(record.stack_info)
        return _ENCODER.encode(entry)


def bind_job_ids() -> None:
    """Give every log line of a django-tasks job the job's id (the worker calls this at start)."""
    from django_tasks_db.compat import task_finished, task_started

    def started(sender, task_result, **kwargs) -> None:
        log_context.set({"job_id": str(task_result.id), "task": getattr(task_result.task, "name", "")})

    def finished(sender, task_result, **kwargs) -> None:
        log_context.set(None)

    task_started.connect(started, weak=False, dispatch_uid="yiwang.log_context.started")
    task_finished.connect(finished, weak=False, dispatch_uid="yiwang.log_context.finished")
