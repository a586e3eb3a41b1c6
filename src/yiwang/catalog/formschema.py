"""A small, strict subset of JSON Schema for matter forms, checked when a matter is published.

Why not a full JSON Schema library: forms here are flat lists of typed fields a window clerk can
read, and intake validates thousands of forms a second; a compiled checker of this subset costs
microseconds. Supported: object with properties of type string (maxLength, minLength, pattern,
enum, format=date or format=id-number: a 公民身份号码 with its GB 11643 checksum), integer/number
(minimum, maximum), boolean; ``required``; ``title``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from django.utils.translation import gettext as _

from yiwang.core import idnumber
from yiwang.core.errors import ValidationFailed

_FIELD_KEYS = {"type", "title", "description", "maxLength", "minLength", "pattern", "enum", "format",
               "minimum", "maximum", "default"}
_TYPES = {"string", "integer", "number", "boolean"}
_FORMATS = {"date", "id-number"}

Checker = Callable[[object], dict[str, list[str]]]


def validate_schema(schema: dict) -> None:
    """Refuse a schema outside the subset, naming the offending part."""
    if not schema:
        return
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise ValidationFailed(_("表单定义必须是 type 为 object 的对象。"), field="form_schema")
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        raise ValidationFailed(_("properties 必须是对象。"), field="form_schema")
    for name, spec in props.items():
        if not isinstance(spec, dict) or spec.get("type") not in _TYPES:
            raise ValidationFailed(
                _("字段 %(name)s 的类型须为 string、integer、number 或 boolean。") % {"name": name},
                field="form_schema",
            )
        unknown = set(spec) - _FIELD_KEYS
        if unknown:
            raise ValidationFailed(
                _("字段 %(name)s 含有不支持的关键字：%(keys)s。") % {"name": name, "keys": ", ".join(sorted(unknown))},
                field="form_schema",
            )
        if "format" in spec and (not isinstance(spec["format"], str) or spec["format"] not in _FORMATS):
            # An unknown format would check nothing, silently: a misspelt id-number must not pass.
            raise ValidationFailed(
                _("字段 %(name)s 的 format 只能是 %(formats)s。") % {"name": name, "formats": "、".join(sorted(_FORMATS))},
                field="form_schema",
            )
        if "pattern" in spec:
            try:
                re.compile(spec["pattern"])
            except re.error as exc:
                raise ValidationFailed(
                    _("字段 %(name)s 的 pattern 不是有效的正则表达式。") % {"name": name}, field="form_schema"
                ) from exc
    for name in schema.get("required", []):
        if name not in props:
            raise ValidationFailed(_("必填字段 %(name)s 未在 properties 中定义。") % {"name": name}, field="form_schema")
    order = schema.get("x-order")
    if order is not None and (not isinstance(order, list) or sorted(order) != sorted(props)):
        raise ValidationFailed(_("x-order 须恰好列出 properties 中的每个字段。"), field="form_schema")


def with_field_order(schema: dict) -> dict:
    """The schema with its fields' order written out ("x-order"): PostgreSQL's jsonb keeps object
    keys in its own order, so the order an author wrote the properties in must be stored as a list."""
    if not schema or "x-order" in schema:
        return schema
    return {**schema, "x-order": list(schema.get("properties", {}))}


def ordered_fields(schema: dict | None) -> list[tuple[str, dict]]:
    """(name, spec) of every field, in the author's order."""
    props = (schema or {}).get("properties", {})
    order = (schema or {}).get("x-order") or list(props)
    return [(name, props[name]) for name in order if name in props]


def compile_checker(schema: dict) -> Checker:
    """Return a function form → {field: [messages]} (empty when the form is valid)."""
    props: dict = schema.get("properties", {}) if schema else {}
    required = set(schema.get("required", [])) if schema else set()
    patterns = {n: re.compile(s["pattern"]) for n, s in props.items() if "pattern" in s}

    def check(form: object) -> dict[str, list[str]]:
        if not isinstance(form, dict):
            return {"form": [_("表单必须是对象。")]}
        errors: dict[str, list[str]] = {}
        for name in required:
            if form.get(name) in (None, ""):
                errors.setdefault(f"form.{name}", []).append(_("此项为必填项。"))
        for name, value in form.items():
            spec = props.get(name)
            if spec is None:
                errors.setdefault(f"form.{name}", []).append(_("表单中没有这一项。"))
                continue
            if value is None:
                continue
            msg = _check_value(spec, value, patterns.get(name))
            if msg:
                errors.setdefault(f"form.{name}", []).append(msg)
        return errors

    return check


def _check_value(spec: dict, value: object, pattern: re.Pattern | None) -> str | None:
    kind = spec["type"]
    if kind == "string":
        if not isinstance(value, str):
            return _("须为文本。")
        if "maxLength" in spec and len(value) > spec["maxLength"]:
            return _("不能超过 %(n)s 个字。") % {"n": spec["maxLength"]}
        if "minLength" in spec and len(value) < spec["minLength"]:
            return _("至少 %(n)s 个字。") % {"n": spec["minLength"]}
        if "enum" in spec and value not in spec["enum"]:
            return _("须为以下之一：%(v)s。") % {"v": "、".join(map(str, spec["enum"]))}
        if pattern is not None and not pattern.fullmatch(value):
            return _("格式不正确。")
        if spec.get("format") == "date":
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                return _("须为日期，如 2019-10-18。")
        if spec.get("format") == "id-number" and not idnumber.is_valid(value):
            # The number itself is not echoed: error messages travel further than the form.
            return _("身份证号码不正确（应为 18 位且校验位正确）。")
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else _("须为是或否。")
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind == "integer" and not isinstance(value, int)):
        return _("须为整数。") if kind == "integer" else _("须为数字。")
    if "minimum" in spec and value < spec["minimum"]:
        return _("不能小于 %(n)s。") % {"n": spec["minimum"]}
    if "maximum" in spec and value > spec["maximum"]:
        return _("不能大于 %(n)s。") % {"n": spec["maximum"]}
    return None
