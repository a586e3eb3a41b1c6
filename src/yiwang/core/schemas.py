"""What API clients send: the base of every request body and query filter (:class:`Input`), with the
one check every str a client sends must pass (core.text's control-character rule). It lives in core
so that each app's api.py builds on it without importing the top-level API (yiwang.api)."""

from __future__ import annotations

import datetime as dt
import operator
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

from django.http import HttpResponse
from ninja.renderers import JSONRenderer
from pydantic import BaseModel, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_core import ValidationError as PydanticValidationError

from yiwang.core.text import (
    CONTROL_CHARACTERS,
    control_character_in,
    field_label,
    holds_control_character,
    refusal,
)

# A str field that carries a file as base64 (a photo), marked so in the OpenAPI document (JSON Schema's
# contentEncoding) and left out of the text check: Field(None, json_schema_extra=BASE64).
BASE64 = {"contentEncoding": "base64"}


class Input(BaseModel):
    """The base of what clients send: request bodies and query filters.

    ninja's ``Schema`` wraps each object it validates in a ``DjangoGetter`` so that an output schema
    can read a model instance's attributes; a request body is a dict, and that wrapping cost 8 % of
    an intake request's instructions (bench/README.md, intake). Output schemas stay ``Schema``.

    Every str a client sends is checked here against core.text's rule, once. Which fields hold text
    is worked out once per class: the str fields' values are joined into one string, searched only
    when it is not all printable; the fields that may hold text inside (a dict such as ``form``, a
    list of str) are looked at through their repr (core.text.holds_control_character); nested Inputs
    check their own fields. ~20k instructions for an intake body of three models, 0.6 % of the
    request, where a Python loop over the fields cost ~55k. A file sent as base64
    (``Field(json_schema_extra=BASE64)``) is not text: its decoder refuses anything but base64, and
    searching 7 MB of it would cost more than the rest of the request.
    """

    _text_of: ClassVar[Callable[[dict], tuple]] = staticmethod(lambda fields: ())
    _nested_of: ClassVar[Callable[[dict], tuple] | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs):
        super().__pydantic_init_subclass__(**kwargs)
        kinds = {name: _field_kind(field) for name, field in cls.model_fields.items()}
        cls._text_of = staticmethod(_values_of([name for name, kind in kinds.items() if kind == "text"]))
        nested = [name for name, kind in kinds.items() if kind == "nested"]
        cls._nested_of = staticmethod(_values_of(nested)) if nested else None

    @model_validator(mode="after")
    def _no_control_characters(self):
        fields = self.__dict__
        # The str fields' values (None and "" dropped) in one string: printable means clean, and only
        # text with a line break, a tab or the like is searched.
        text = "".join(filter(None, self._text_of(fields)))
        if (not text.isprintable() and CONTROL_CHARACTERS.search(text)) or (
                self._nested_of is not None and holds_control_character(self._nested_of(fields))):
            _refuse_control_character(fields)
        return self


def _field_kind(field: FieldInfo) -> str:
    """"text" for ``str``, ``str | None`` and a Literal of strings; "none" for what cannot hold text
    (numbers, dates, booleans, Inputs and lists of them, which check themselves; base64 files);
    "nested" for anything else (dict, list[str], Any)."""
    if field.json_schema_extra == BASE64:
        return "none"
    annotation = field.annotation
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = [a for a in typing.get_args(annotation) if a is not type(None)] if union else [annotation]
    if all(_is_text(member) for member in members):
        return "text"
    return "none" if all(_holds_no_text(member) for member in members) else "nested"


def _is_text(annotation) -> bool:
    return annotation is str or (typing.get_origin(annotation) is typing.Literal
                                 and all(isinstance(value, str) for value in typing.get_args(annotation)))


def _holds_no_text(annotation) -> bool:
    if annotation in (int, float, bool, dt.date, dt.datetime, dt.time, Decimal, type(None)):
        return True
    if isinstance(annotation, type) and issubclass(annotation, Input):
        return True
    if typing.get_origin(annotation) in (list, tuple, set, frozenset):
        return all(_holds_no_text(arg) for arg in typing.get_args(annotation) if arg is not Ellipsis)
    return False


def _values_of(names: list[str]) -> Callable[[dict], tuple]:
    """fields → the values of ``names`` as a tuple, picked in C (operator.itemgetter)."""
    if not names:
        return lambda fields: ()
    pick = operator.itemgetter(*names)
    return pick if len(names) > 1 else lambda fields: (pick(fields),)


def _refuse_control_character(fields: dict):
    """A validation error at the field ("title", "form.reason") below the model, as pydantic reports its
    own: ninja prefixes where the model sits and the API's handler answers 422 naming the field."""
    for name, value in fields.items():
        found = control_character_in(value, name)
        if found:
            path, char = found
            error = PydanticCustomError("control_character", "{message}", {"message": refusal(path, char)})
            raise PydanticValidationError.from_exception_data(
                "Input", [{"type": error, "loc": tuple(field_label(path).split(".")), "input": value}])



def json_response(request, data, *, status: int):
    """An answer already in its output schema's shape, rendered as the API renders every answer
    (ninja's JSON renderer) without validating it again."""
    return HttpResponse(_RENDERER.render(request, data, response_status=status), status=status,
                        content_type=_CONTENT_TYPE)


_RENDERER = JSONRenderer()
_CONTENT_TYPE = f"{_RENDERER.media_type}; charset={_RENDERER.charset}"
