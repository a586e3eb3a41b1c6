"""What residents are told: the texts of their messages, from admin-editable templates (docs/messages.md).

A template is plain text that names variables in braces, ``{case_number}``, from one fixed set
(VARIABLES). That is Python's str.format syntax restricted to bare names: no attribute or index
access (``{x.y}``, ``{x[0]}``), no conversion (``{x!r}``) and no format spec (``{x:>9999}``). Django
template syntax was the other choice; it was not taken because a template editor could reach
filters, tags and attributes of whatever the context holds, and an unknown name renders as nothing
instead of being refused. Here every name is checked when the template is saved, and rendering a
checked template with the fixed set cannot fail. Literal braces are written ``{{`` and ``}}``.

The messages app knows nothing of cases: the caller (cases.services.notifications) computes the
variables' values; this module only picks the template and fills it in.
"""

from __future__ import annotations

import math
import re
import string

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

# Every variable a template may name, with what it holds. All of them are given at every event (empty
# where they mean nothing, e.g. {missing} outside 补正), so a template never fails on a missing value.
VARIABLES: dict[str, str] = {
    "case_number": _("办件编号"),
    "matter": _("事项名称（报事类为问题标题）"),
    "unit": _("办理单位"),
    "due_date": _("承诺办结日期，如 2026-03-09"),
    "slot": _("上门服务时间，如 03-05 09:30"),
    "reason": _("工作人员公开填写的说明：不予受理、补正、不予立案的理由"),
    "missing": _("需要补正的材料，按事项材料的名称一次列全（不是材料代码）"),
    "decision": _("决定：“准予”，或“不予”及其理由"),
    "result": _("办理结果（工作人员公开填写）"),
    "result_sentence": _("办理结果作为一句话（以句号结尾），没有结果时为空"),
    "how_to_get": _("如何取得办理结果（领取地点、邮寄或电子证照），一句话，未知时为空"),
    "link": _("办件页面链接，可在此查看进度和评价"),
    "answer_link": _("报事人答复“已解决吗？”的链接（免登录），只在结案确认的消息中有值"),
    "receipt": _("办件回执一句话：受理时和办结时的存证哈希（前16位）及核验链接；未办结时只有受理哈希"),
    "receipt_submitted": _("受理时的存证哈希（前16位）"),
    "receipt_closed": _("办结时的存证哈希（前16位），未办结时为空"),
    "receipt_link": _("核验回执的链接（/receipts/check/，已填好办件编号和哈希）"),
}

# The built-in text of each event, used when the admin has no active template for it; their
# translations are the lead's (.po files), the Chinese source is what a zh-Hans site sends.
DEFAULTS: dict[str, tuple[str, str]] = {
    # event: (label in the admin, default text)
    "accepted": (_("受理"), _("您的“{matter}”已受理，编号{case_number}，由{unit}办理，承诺{due_date}前办结。")),
    "rejected": (_("不予受理"), _("您的“{matter}”（{case_number}）不予受理：{reason}")),
    "supplement": (_("补正"), _("您的“{matter}”（{case_number}）需要补正：{missing}。请在“我的办件”中补正后提交，"
                                "期间办理时限暂停。")),
    "visit": (_("上门服务"), _("您的“{matter}”（{case_number}）已安排上门服务，时间 {slot}。")),
    "closed": (_("办结"), _("您的“{matter}”（{case_number}）已办结，决定：{decision}。{result_sentence}{how_to_get}"
                            "欢迎评价：{link} {receipt}")),
    "answered": (_("咨询已答复"), _("您的咨询（{case_number}）已答复：{result}")),
    "dismissed": (_("不予立案"), _("您反映的问题（{case_number}）不予立案：{reason}")),
    "dispatched": (_("已派遣"), _("您反映的问题（{case_number}）已派{unit}处置。")),
    "handled": (_("已处置"), _("您反映的问题（{case_number}）已处置：{result}")),
    "closed_report": (_("已结案"), _("您反映的问题（{case_number}）已结案，欢迎评价处理结果：{link} {receipt}")),
    "follow_up_result": (_("差评回访结果"), _("您的差评（{case_number}）已回访整改，结果：{result}")),
    "confirm_request": (_("结案前请群众确认"), _("您反映的问题（{case_number}）已处置完毕，已解决吗？请在3个工作日内答复："
                                              "{answer_link}")),
    "closed_unconfirmed": (_("逾期未确认结案"), _("您反映的问题（{case_number}）3个工作日未收到答复，已结案。"
                                             "如仍未解决，7天内可申请重办：{answer_link}")),
    "rating_reminder": (_("评价提醒"), _("您的办件（{case_number}）“{matter}”已办结，还没有评价。欢迎评价：{link}")),
}

# Values of a typical case, for the admin's preview and its SMS count.
SAMPLE: dict[str, str] = {
    "case_number": "SQ20260302000123", "matter": "老年证办理", "unit": "幸福里社区便民服务站",
    "due_date": "2026-03-09", "slot": "03-05 09:30", "reason": "身份证复印件不清晰",
    "missing": "身份证、一寸照片", "decision": "准予", "result": "老年证已制好",
    "result_sentence": "老年证已制好。", "how_to_get": "请到幸福里社区便民服务站领取。",
    "link": "https://example.gov.cn/cases/SQ20260302000123/",
    "answer_link": "https://example.gov.cn/cases/SQ20260302000123/answer/3f9a1c/",
    "receipt": "存证回执：受理哈希 3a9f0c2d7e1b4a58，办结哈希 c1d2e3f4a5b6c7d8，可在 "
               "https://example.gov.cn/receipts/check/?number=SQ20260302000123&hash=c1d2e3f4a5b6c7d8 核验。",
    "receipt_submitted": "3a9f0c2d7e1b4a58", "receipt_closed": "c1d2e3f4a5b6c7d8",
    "receipt_link": "https://example.gov.cn/receipts/check/?number=SQ20260302000123&hash=c1d2e3f4a5b6c7d8",
}

_FORMATTER = string.Formatter()
# Line breaks are allowed (an in-app message may have paragraphs); nothing else invisible.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x0c\x0e-\x1f\x7f]")


def event_choices() -> list[tuple[str, str]]:
    return [(key, f"{label}（{key}）") for key, (label, _text) in DEFAULTS.items()]


def check(text: str) -> None:
    """Refuse a template that would not render or that names anything but a known variable, with a
    message naming the offending variable (ValidationError on the field "text")."""
    try:
        fields = list(_FORMATTER.parse(text))
    except ValueError as exc:  # a lone "{" or "}"
        raise ValidationError({"text": _("模板格式有误：%(error)s。花括号只用于变量，如 {case_number}；"
                                         "要写花括号本身请写成 {{ 或 }}。") % {"error": exc}}) from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name == "" or not name.isidentifier():
            raise ValidationError({"text": _("模板中的变量 {%(name)s} 不是可用的变量名；可用的变量：%(known)s。")
                                   % {"name": name, "known": ", ".join(VARIABLES)}})
        if name not in VARIABLES:
            raise ValidationError({"text": _("模板中有未知的变量 {%(name)s}；可用的变量：%(known)s。")
                                   % {"name": name, "known": ", ".join(VARIABLES)}})
        if spec or conversion:
            raise ValidationError({"text": _("变量 {%(name)s} 后面不能带格式或转换（“:”或“!”）。") % {"name": name}})
    if not text.strip():
        raise ValidationError({"text": _("模板内容不能为空。")})
    if _CONTROL.search(text):
        raise ValidationError({"text": _("模板中有不可见的控制字符（常见于从其他软件粘贴的文字），请删除后再保存。")})


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with its variables replaced; a checked template with every variable given never fails."""
    return text.format_map({name: values.get(name, "") for name in VARIABLES})


def render(event: str, values: dict[str, str], *, channel: str, matter_id: int | None = None,
           language: str | None = None) -> str:
    """The text of ``event`` for one channel: the matter's own active template if there is one, else
    the general one, each for this channel before the one for every channel, in the language given
    (the site's by default), else the site's language; else the built-in default."""
    from yiwang.messages.models import MessageTemplate

    language = (language or translation.get_language() or settings.LANGUAGE_CODE).lower()
    languages = list(dict.fromkeys([language, settings.LANGUAGE_CODE.lower()]))
    rows = MessageTemplate.objects.filter(event=event, active=True, language__in=languages,
                                          channel__in=[channel, ""])
    rows = rows.filter(Q(matter__isnull=True) | Q(matter_id=matter_id)) if matter_id else rows.filter(matter__isnull=True)
    candidates = sorted(rows.only("text", "matter_id", "language", "channel"),
                        key=lambda r: (r.matter_id is None, languages.index(r.language), r.channel == ""))
    for row in candidates:
        try:
            return fill(row.text, values)
        except (KeyError, ValueError, IndexError):
            # Saved before a check existed, or written to the table by hand: the next one applies.
            continue
    _label, default = DEFAULTS[event]
    try:
        return fill(str(default), values)
    except (KeyError, ValueError, IndexError):
        # A translation that broke the variables: the Chinese source always renders.
        with translation.override(None):
            return fill(str(default), values)


# --- SMS length ----------------------------------------------------------------------------------

# One SMS holds 70 UCS-2 characters (any Chinese text), or 160 of the GSM alphabet; a long SMS is sent
# in parts that each lose room to the header that joins them again: 67 and 153.
UCS2_SINGLE, UCS2_PART = 70, 67
GSM_SINGLE, GSM_PART = 160, 153
_GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
           "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")


def signature() -> str:
    """The sender signature shown before every SMS, e.g. 【某某新区政务服务】: the district's (org.district)."""
    from yiwang.org.district import identity

    return identity().sms_signature


def _length(text: str) -> tuple[int, bool]:
    ucs2 = any(c not in _GSM for c in text)
    # Characters outside the basic plane (emoji) take two UCS-2 units.
    return (len(text.encode("utf-16-le")) // 2 if ucs2 else len(text)), ucs2


def segments(text: str, sign: str | None = None) -> int:
    """How many SMS ``text`` is sent and billed as, with the signature (which the handset shows and
    the provider counts)."""
    n, ucs2 = _length((signature() if sign is None else sign) + text)
    single, part = (UCS2_SINGLE, UCS2_PART) if ucs2 else (GSM_SINGLE, GSM_PART)
    return 1 if n <= single else math.ceil(n / part)


def split(text: str, sign: str | None = None) -> list[str]:
    """``text`` as numbered parts, "(1/3)…", that each fit one SMS with the signature: for a gateway
    that cannot send a long SMS. One part, unnumbered, when it fits as it is."""
    sign = signature() if sign is None else sign
    if segments(text, sign) == 1:
        return [text]
    single = UCS2_SINGLE  # the numbering is ASCII, the signature Chinese: count as UCS-2
    total = 2
    while True:
        room = single - len(sign) - len(f"({total}/{total})")
        if room < 1:
            raise ValueError("the SMS signature leaves no room for the text")
        parts, current, used = [], "", 0
        for c in text:
            w = len(c.encode("utf-16-le")) // 2
            if used + w > room:
                parts.append(current)
                current, used = "", 0
            current += c
            used += w
        parts.append(current)
        if len(parts) <= total:
            return [f"({i}/{len(parts)}){p}" for i, p in enumerate(parts, 1)]
        total = len(parts)
