"""Auto-rules (免申即享 / 秒批): when a resident's data alone settles a matter, the case is opened and
closed without an application. A rule is data an administrator edits, never code:

    {"conditions": [{"field": "age", "op": ">=", "value": 60},
                    {"field": "region", "op": "within", "value": "XX"}],
     "note": "年满60周岁的新区户籍居民"}

Every condition must hold. Fields are facts about the resident (FIELDS); operators depend on the
field's type (OPS). This module only validates and evaluates; cases.services issues the case.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from yiwang.core import idnumber

# field → (type, label). "region" is the resident's registered region (户籍), tested by subtree.
FIELDS: dict[str, tuple[str, str]] = {
    "age": ("number", "周岁"),
    "region": ("region", "户籍所在区域"),
    "elderly_alone": ("bool", "独居老人"),
    "low_income": ("bool", "低保"),
    "poverty": ("bool", "贫困户"),
    "has_id_number": ("bool", "已登记身份证号"),
}
OPS: dict[str, tuple[str, ...]] = {
    "number": (">=", ">", "<=", "<", "=="),
    "region": ("within", "not_within"),
    "bool": ("is",),
}
MAX_CONDITIONS = 10


def validate_rule(rule: object) -> list[str]:
    """Every problem with ``rule`` as a sentence; [] when it is usable ({} means no rule)."""
    if rule in (None, {}):
        return []
    if not isinstance(rule, dict) or not isinstance(rule.get("conditions"), list) or not rule["conditions"]:
        return [_("自动办理规则须为含非空 conditions 列表的对象。")]
    unknown = set(rule) - {"conditions", "note"}
    errors = [_("未知的规则键：%(k)s。") % {"k": ", ".join(sorted(unknown))}] if unknown else []
    if len(rule["conditions"]) > MAX_CONDITIONS:
        errors.append(_("条件不能超过 %(n)s 条。") % {"n": MAX_CONDITIONS})
    for i, cond in enumerate(rule["conditions"], start=1):
        if not isinstance(cond, dict) or set(cond) != {"field", "op", "value"}:
            errors.append(_("第 %(i)s 条条件须恰有 field、op、value 三项。") % {"i": i})
            continue
        kind = FIELDS.get(cond["field"], (None,))[0]
        if kind is None:
            errors.append(_("第 %(i)s 条条件的字段 %(f)s 未知，可用：%(all)s。")
                          % {"i": i, "f": cond["field"], "all": ", ".join(FIELDS)})
            continue
        if cond["op"] not in OPS[kind]:
            errors.append(_("第 %(i)s 条条件：字段 %(f)s 只能用 %(ops)s。")
                          % {"i": i, "f": cond["field"], "ops": ", ".join(OPS[kind])})
        value = cond["value"]
        ok = {
            "number": isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 150,
            "region": isinstance(value, str) and bool(value) and "/" not in value,
            "bool": isinstance(value, bool),
        }[kind]
        if not ok:
            errors.append(_("第 %(i)s 条条件的取值 %(v)r 不适用于字段 %(f)s。") % {"i": i, "v": value, "f": cond["field"]})
    return errors


def age_on(birth: dt.date, day: dt.date) -> int:
    """Full years (周岁) on ``day``. Someone born on 29 February turns a year older on 1 March in a
    common year: the day before that they have not yet had that year's birthday."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Facts:
    """What a rule may know about a resident, on one day."""

    age: int | None
    region_path: str
    elderly_alone: bool
    low_income: bool
    poverty: bool
    has_id_number: bool


def facts_for(resident, day: dt.date) -> Facts:
    # A record without a birth date still has one in its ID number (digits 7–14).
    birth = resident.birth_date or idnumber.birth_date(resident.id_number or "")
    return Facts(
        age=age_on(birth, day) if birth else None,
        region_path=resident.region_path, elderly_alone=resident.elderly_alone, low_income=resident.low_income,
        poverty=resident.poverty, has_id_number=bool(resident.id_number),
    )


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...]  # one line per condition, as it was judged: recorded on the timeline


def evaluate(rule: dict, facts: Facts, region_paths: dict[str, str]) -> Verdict:
    """Judge ``facts`` by ``rule``. ``region_paths`` maps region codes to their materialized paths."""
    reasons = []
    passed = True
    for cond in rule.get("conditions", []):
        field, op, value = cond["field"], cond["op"], cond["value"]
        label = FIELDS[field][1]
        if field == "age":
            actual = facts.age
            held = actual is not None and {
                ">=": actual >= value, ">": actual > value, "<=": actual <= value, "<": actual < value,
                "==": actual == value}[op]
        elif field == "region":
            path = region_paths.get(value)
            actual = facts.region_path
            inside = path is not None and facts.region_path.startswith(path)
            held = inside if op == "within" else (path is not None and not inside)
        else:
            actual = getattr(facts, field)
            held = actual is value
        passed = passed and held
        reasons.append(f"{label} {op} {value}: {'✓' if held else '✗'} ({actual})")
    return Verdict(passed=passed and bool(reasons), reasons=tuple(reasons))
