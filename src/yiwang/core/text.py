"""What free text may hold: one rule for every entry point (API, pages, Open311, admin, imports, CLI).

Refused: the C0 control characters U+0000–U+001F except tab (U+0009), line feed (U+000A) and
carriage return (U+000D), and DEL (U+007F). They are invisible, no resident means to type them
(they come from pasting out of Word, a PDF or a terminal), PostgreSQL cannot store NUL at all, and
XML — so every .xlsx file, and Open311's XML — cannot carry most of them. Carriage return passes
because browsers send a textarea's line breaks as CRLF (HTML's form encoding), and text is stored
as it was typed.

Allowed: the line and paragraph separators U+2028 and U+2029. They are ordinary Unicode text
(categories Zl and Zp, not control characters), legal in XML 1.0, .xlsx, JSON and PDF, and, since
ES2019, in JavaScript string literals; office software puts them in text it copies. Nothing that
shows or exports text breaks on them, so refusing them would only refuse residents' text.

Entry points ask ``holds_control_character`` (one compiled regex search per string), find the
field with ``control_character_in`` and refuse with ``refusal``; exports never rely on this — what was stored before the rule still exports
(core.exports).
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from yiwang.core.errors import ValidationFailed

CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def holds_control_character(value: object) -> bool:
    """Whether ``value`` (a str, or dicts, lists and tuples of them, keys included) holds a refused
    character: the cheap question, asked of every API request body; ``control_character_in`` says where.

    ``repr()`` writes every refused character as an escape (``\\x0b``; tab, LF and CR as ``\\t``,
    ``\\n``, ``\\r``), so one look at it answers for every string inside, at C speed: a loop in
    Python over a body's strings cost several times more. Text in which someone typed a backslash
    before "x0b" passes the look too; the walk then finds nothing.
    """
    if isinstance(value, str):
        return not value.isprintable() and CONTROL_CHARACTERS.search(value) is not None
    try:
        text = repr(value)
        if "\\x" not in text or not _ESCAPED_CONTROL.search(text):
            return False
    except RecursionError:  # nested deeper than repr() goes: walk it
        pass
    return control_character_in(value) is not None


_ESCAPED_CONTROL = re.compile(r"\\x(?:[01][0-9a-f]|7f)")


def control_character_in(value: object, path: str = "") -> tuple[str, str] | None:
    """Where a refused character sits in ``value`` (as ``holds_control_character`` reads it), as
    (dotted path, the character); None when the value is clean. ``path`` names ``value`` itself.

    ``{"form": {"reason": "垃圾\\x0b堆放"}}`` → ``("form.reason", "\\x0b")``.
    """
    pending = [(path, value)]
    while pending:
        where, item = pending.pop()
        if isinstance(item, str):
            found = CONTROL_CHARACTERS.search(item)
            if found:
                return where, found.group()
        elif isinstance(item, dict):
            for key, child in item.items():
                inner = f"{where}.{key}" if where else str(key)
                pending += [(inner, child), (inner, key)]
        elif isinstance(item, list | tuple):
            pending += [(f"{where}.{index}" if where else str(index), child) for index, child in enumerate(item)]
    return None


def field_label(field: str) -> str:
    """A field name fit to print: a control character in the name itself shows as U+FFFD."""
    return CONTROL_CHARACTERS.sub("\ufffd", field)


def refusal(field: str | None, char: str) -> str:
    """The message for ``char`` found in ``field``: what it is, and what to do about it."""
    code = f"U+{ord(char):04X}"
    if field:
        return _("%(field)s 含有不可见的控制字符(%(code)s)，请删除后重新提交。") % {
            "field": field_label(field), "code": code}
    return _("含有不可见的控制字符(%(code)s)，请删除后重新提交。") % {"code": code}


def check_text(value: object, *, field: str) -> None:
    """Raise ValidationFailed naming the field (``form.reason``) when ``value`` holds a refused character."""
    found = control_character_in(value, field)
    if found:
        where, char = found
        raise ValidationFailed(refusal(where, char), field=field_label(where))
