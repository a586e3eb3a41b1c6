"""A matter's form schema as GeoReport v2 attributes, and attribute values back into a form.

The catalogue's form subset (catalog.formschema) is flat: string (enum, format=date, maxLength),
integer, number, boolean. Each maps onto one Open311 datatype; nothing here is multi-valued.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from yiwang.catalog.formschema import ordered_fields
from yiwang.core.errors import ValidationFailed

# A string this long or longer is offered as ``text`` (a multi-line box) rather than ``string``.
TEXT_FROM = 200
TRUE_WORDS = {"true", "1", "yes", "y", "on", "是"}
FALSE_WORDS = {"false", "0", "no", "n", "off", "否"}
ATTRIBUTE_RE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def datatype(spec: dict) -> str:
    kind = spec.get("type")
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean" or "enum" in spec:
        return "singlevaluelist"
    if spec.get("format") == "date":
        return "datetime"
    if spec.get("maxLength", 0) >= TEXT_FROM:
        return "text"
    return "string"


def _datatype_description(spec: dict) -> str:
    kind = spec.get("type")
    if kind == "integer":
        bounds = [str(spec[k]) for k in ("minimum", "maximum") if k in spec]
        return _("整数") + (f"（{'～'.join(bounds)}）" if len(bounds) == 2 else "")
    if kind == "number":
        return _("数字")
    if spec.get("format") == "date":
        return _("日期，如 2019-10-18")
    if "maxLength" in spec:
        return _("不超过 %(n)s 个字") % {"n": spec["maxLength"]}
    return ""


def _values(spec: dict) -> list[dict]:
    if spec.get("type") == "boolean":
        return [{"key": "true", "name": _("是")}, {"key": "false", "name": _("否")}]
    return [{"key": str(v), "name": str(v)} for v in spec.get("enum", [])]


def attributes_of(schema: dict) -> list[dict]:
    """The GeoReport v2 ``attributes`` of a service definition, in the form's field order."""
    required = set((schema or {}).get("required", []))
    out = []
    for order, (code, spec) in enumerate(ordered_fields(schema), start=1):
        attribute = {
            "variable": True, "code": code, "datatype": datatype(spec), "required": code in required,
            "datatype_description": _datatype_description(spec), "order": order,
            "description": spec.get("title") or spec.get("description") or code,
        }
        values = _values(spec)
        if values:
            attribute["values"] = values
        out.append(attribute)
    return out


def form_from_attributes(schema: dict, raw: dict[str, list[str]]) -> dict:
    """Typed form values from ``attribute[CODE]`` fields (code → the strings sent for it).

    Unknown codes are passed through as text, so the case engine's form check names them.
    """
    props = (schema or {}).get("properties", {})
    form: dict = {}
    errors: dict[str, list[str]] = {}
    for code, values in raw.items():
        values = [v for v in values if v != ""]
        if not values:
            continue
        if len(values) > 1:
            errors.setdefault(code, []).append(_("只能有一个值。"))
            continue
        spec = props.get(code)
        if spec is None:
            form[code] = values[0]
            continue
        try:
            form[code] = _typed(spec, values[0].strip())
        except ValueError as exc:
            errors.setdefault(code, []).append(str(exc))
    if errors:
        raise ValidationFailed(_("附加信息有误，请按提示修改。"),
                               errors={f"form.{code}": messages for code, messages in errors.items()})
    return form


def _typed(spec: dict, value: str) -> object:
    kind = spec.get("type")
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            raise ValueError(_("须为整数。")) from None
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            raise ValueError(_("须为数字。")) from None
        if not math.isfinite(number):
            raise ValueError(_("须为数字。"))
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        word = value.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(_("须为 true 或 false。"))
    if spec.get("format") == "date":
        # A W3C datetime is accepted too (clients send a datetime for the ``datetime`` datatype).
        try:
            return dt.date.fromisoformat(value[:10]).isoformat() if len(value) == 10 else _date_of(value)
        except ValueError:
            raise ValueError(_("须为日期，如 2019-10-18。")) from None
    return value


def _date_of(value: str) -> str:
    moment = parse_datetime(value)
    if moment is None:
        raise ValueError(value)
    return moment.date().isoformat()
