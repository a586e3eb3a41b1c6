"""Translations: the API answers in the reader's language, and the committed catalogues are complete.

Simplified Chinese is the source language (the msgids). zh_Hant is filled by scripts/i18n with
OpenCC 's2t'; en is written by hand. Both .po files and their compiled .mo files are committed.
"""

import gettext
import importlib.machinery
import importlib.util
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.translation import to_locale

from yiwang.cases.models import Case
from yiwang.testing import SENIOR_OK

ROOT = Path(__file__).resolve().parent.parent
LOCALE = Path(settings.LOCALE_PATHS[0])
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
CATALOGUES = [LOCALE / to_locale(code) / "LC_MESSAGES" / "django.po" for code in TRANSLATED]

# printf-style (%(name)s, %s, %d; %% is a literal) and str.format ({name}, {0}) placeholders.
PLACEHOLDER = re.compile(
    r"%(?:\([^)]*\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]"
    r"|\{[A-Za-z0-9_.\[\]!:]*\}"
)


# --- the API -------------------------------------------------------------------------------------




def language(accept: str | None) -> dict:
    return {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}


SUBMISSION_ERRORS = {
    # Accept-Language → (detail, the missing form field's message, the missing material's message)
    None: ("提交的内容有误，请按提示修改。", "此项为必填项。", "缺少必需的材料：一寸照片。"),
    "zh-hans": ("提交的内容有误，请按提示修改。", "此项为必填项。", "缺少必需的材料：一寸照片。"),
    "zh-CN,zh;q=0.9": ("提交的内容有误，请按提示修改。", "此项为必填项。", "缺少必需的材料：一寸照片。"),
    "zh-hant": ("提交的內容有誤，請按提示修改。", "此項爲必填項。", "缺少必需的材料：一寸照片。"),
    "zh-TW,zh;q=0.9": ("提交的內容有誤，請按提示修改。", "此項爲必填項。", "缺少必需的材料：一寸照片。"),
    "en": ("Some of the information submitted is not valid. Please correct it as shown.",
           "This field is required.", "A required material is missing: 一寸照片."),
    "en-GB,en;q=0.8": ("Some of the information submitted is not valid. Please correct it as shown.",
                       "This field is required.", "A required material is missing: 一寸照片."),
}


@pytest.mark.parametrize("accept", list(SUBMISSION_ERRORS))
def test_a_refused_submission_is_explained_in_the_readers_language(api, accept):
    body = {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL", "applicant_name": "王大爷",
            "applicant_phone": "13800000001", "channel": "hall", "form": {}, "materials": [{"code": "id_card"}]}
    response = api("post", "/cases", "clerk_xfl", body, **language(accept))
    assert response.status_code == 422, response.content
    detail, required, material = SUBMISSION_ERRORS[accept]
    answer = response.json()
    assert answer["code"] == "validation_failed"  # machine-readable codes are never translated
    assert answer["detail"] == detail
    assert answer["errors"]["form.birth_date"] == [required]
    assert answer["errors"]["materials"] == [material]
    assert Case.objects.count() == 0


BAD_NUMBER = {
    None: ("zh-hans", "案件编号 NOPE 格式不正确。"),
    "zh-hant": ("zh-hant", "案件編號 NOPE 格式不正確。"),
    "en": ("en", "The case number NOPE is not in the right format."),
    "fr-FR,fr;q=0.9": ("zh-hans", "案件编号 NOPE 格式不正确。"),  # unsupported: the default language
}


@pytest.mark.parametrize("accept", list(BAD_NUMBER))
def test_a_bad_case_number_is_a_404_in_the_readers_language(api, accept):
    response = api("get", "/cases/NOPE", "clerk_xfl", **language(accept))
    assert response.status_code == 404, response.content
    content_language, detail = BAD_NUMBER[accept]
    assert response.json()["detail"] == detail
    assert response.json()["errors"] == {"number": [detail]}
    assert response["Content-Language"] == content_language


def test_a_wrong_state_action_names_the_state_and_action_in_the_readers_language(api):
    # Lazily translated workflow labels are interpolated in the request's language too.
    case = api("post", "/cases", "clerk_xfl", {"matter_code": "SENIOR_CARD", "region_code": "KG-DZ-XFL",
                                               "applicant_name": "王大爷", "applicant_phone": "13800000001",
                                               "channel": "hall", **SENIOR_OK})
    number = case.json()["number"]
    answers = {
        accept: api("post", f"/cases/{number}/actions/close", "handler_xfl", {"version": 1}, **language(accept))
        for accept in ("zh-hans", "zh-hant", "en")
    }
    assert {r.status_code for r in answers.values()} == {409}
    assert answers["zh-hans"].json()["detail"] == "案件当前状态为“已提交”，不能执行“办结”。"
    assert answers["zh-hant"].json()["detail"] == "案件當前狀態爲“已提交”，不能執行“辦結”。"
    assert answers["en"].json()["detail"] == "The case is now “Submitted”, so “Close” cannot be done."


# --- the catalogues ------------------------------------------------------------------------------


@dataclass
class Entry:
    line: int
    flags: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def msgstrs(self) -> dict[str, str]:
        return {k: v for k, v in self.fields.items() if k.startswith("msgstr")}

    def where(self, po: Path) -> str:
        return f"{po.relative_to(ROOT)}:{self.line} {self.fields.get('msgid', '')!r}"


KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+"(.*)"\s*$')
ESCAPE = re.compile(r'\\(["\\abfnrtv]|[0-7]{1,3}|x[0-9a-fA-F]+)')
SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                  "v": "\v"}


def unescape(s: str) -> str:
    def one(m):
        e = m.group(1)
        if e in SIMPLE_ESCAPES:
            return SIMPLE_ESCAPES[e]
        return chr(int(e[1:], 16)) if e[0] == "x" else chr(int(e, 8))

    return ESCAPE.sub(one, s)


def parse_po(po: Path) -> list[Entry]:
    """Every live entry of a .po file (obsolete #~ entries are left out), header included."""
    entries: list[Entry] = []
    current: Entry | None = None
    key = None
    for n, raw in enumerate(po.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        starts = line.startswith(("#", "msgctxt", "msgid ")) and not line.startswith(("#~", "#|"))
        if current is not None and starts and any(k.startswith("msgstr") for k in current.fields):
            current = None  # a new entry begins after the previous one's msgstr
        if not line or line.startswith(("#~", "#|")):
            if not line:
                current = None
            continue
        if current is None:
            current = Entry(line=n)
            entries.append(current)
        if line.startswith("#,"):
            current.flags += [f.strip() for f in line[2:].split(",") if f.strip()]
        elif line.startswith("#"):
            continue
        elif m := KEYWORD.match(line):
            key = m.group(1)
            current.fields[key] = unescape(m.group(2))
            if key == "msgid":
                current.line = n
        elif line.startswith('"') and line.endswith('"') and key:
            current.fields[key] += unescape(line[1:-1])
        else:
            raise AssertionError(f"{po}:{n}: cannot read {raw!r}")
    return entries


def messages(po: Path) -> list[Entry]:
    return [e for e in parse_po(po) if e.fields.get("msgid") or "msgctxt" in e.fields]


def placeholders(text: str) -> list[str]:
    return sorted(m.group() for m in PLACEHOLDER.finditer(text) if m.group() != "%%")


def test_every_language_but_the_source_has_a_catalogue():
    assert sorted(to_locale(code) for code in TRANSLATED) == ["en", "zh_Hant"]
    for po in CATALOGUES:
        assert po.is_file(), f"{po} is missing: run scripts/i18n"
        assert po.with_suffix(".mo").is_file(), f"{po.with_suffix('.mo')} is missing: run scripts/i18n"


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_a_catalogue_has_no_empty_or_fuzzy_entry(po):
    entries = messages(po)
    assert len(entries) > 200  # sanity: the parser found the catalogue's messages
    empty = [e.where(po) for e in entries if not e.msgstrs or not all(e.msgstrs.values())]
    fuzzy = [e.where(po) for e in parse_po(po) if "fuzzy" in e.flags]
    assert not empty, "untranslated — run scripts/i18n (zh_Hant) or translate by hand (en):\n" + "\n".join(empty)
    assert not fuzzy, "fuzzy — check the translation and remove the flag:\n" + "\n".join(fuzzy)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_a_catalogue_keeps_every_placeholder(po):
    wrong = []
    for e in messages(po):
        for key, text in e.msgstrs.items():
            source = e.fields["msgid"] if key in ("msgstr", "msgstr[0]") else e.fields["msgid_plural"]
            if "msgid_plural" in e.fields and len(e.msgstrs) == 1:
                source = e.fields["msgid_plural"]  # one plural form (Chinese): the general, counted one
            if placeholders(text) != placeholders(source):
                wrong.append(f"{e.where(po)} {key}: {placeholders(source)} → {placeholders(text)}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_the_committed_mo_file_is_compiled_from_the_po_file(po):
    with po.with_suffix(".mo").open("rb") as fp:
        compiled = gettext.GNUTranslations(fp)
    stale = []
    for e in messages(po):
        msgid = e.fields["msgid"]
        if "msgctxt" in e.fields:
            msgid = f"{e.fields['msgctxt']}\x04{msgid}"
        if "msgid_plural" in e.fields:
            got = compiled._catalog.get((msgid, 0))
        else:
            got = compiled._catalog.get(msgid)
        want = e.msgstrs.get("msgstr", e.msgstrs.get("msgstr[0]"))
        if got != want:
            stale.append(f"{e.where(po)}: .mo has {got!r}, .po has {want!r}")
    assert not stale, "the .mo file is stale — run scripts/i18n:\n" + "\n".join(stale[:20])


def test_the_traditional_catalogue_is_traditional():
    po = LOCALE / "zh_Hant" / "LC_MESSAGES" / "django.po"
    by_id = {e.fields["msgid"]: e.fields.get("msgstr") for e in messages(po)}
    assert by_id["没有找到该案件，或您无权查看。"] == "沒有找到該案件，或您無權查看。"
    # The district's name is data now (org.District), no longer a message: the place-name rule for 西咸
    # is the script's, tested below.


# --- scripts/i18n's filling of zh_Hant ---------------------------------------------------------


def load_script():
    loader = importlib.machinery.SourceFileLoader("scripts_i18n", str(ROOT / "scripts" / "i18n"))
    spec = importlib.util.spec_from_loader("scripts_i18n", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


SAMPLE = r'''# SOME DESCRIPTIVE TITLE.
#, fuzzy
msgid ""
msgstr ""
"Project-Id-Version: PACKAGE VERSION\n"
"PO-Revision-Date: YEAR-MO-DA HO:MI+ZONE\n"
"Language: \n"
"MIME-Version: 1.0\n"
"Content-Type: text/plain; charset=UTF-8\n"
"Content-Transfer-Encoding: 8bit\n"
"Plural-Forms: nplurals=1; plural=0;\n"
#: a.py:1
#, python-format
msgid "已有 %(n)s 个案件"
msgid_plural "已有 %(n)s 个案件"
msgstr[0] ""

#: a.py:2
#, fuzzy, python-format
#| msgid "旧的说明 %(x)s"
msgid "新的说明 %(x)s"
msgstr "舊的說明 %(x)s"

#: a.py:3
msgid ""
"第一行：请检查\n"
"第二行“引号”与\\反斜杠"
msgstr ""

#: a.py:4
msgid "管理后台"
msgstr "管理後台"

#: a.py:5
#, python-format
msgid "%(where)s：日期 %(d)s 重复，%%"
msgstr ""

#: a.py:6
msgid "西咸新区 一网通办"
msgstr ""

#~ msgid "过时的"
#~ msgstr "過時的"
'''


def require_gettext() -> None:
    """scripts/i18n lays a catalogue out with GNU gettext's msgcat (scripts/run-tests installs it)."""
    if shutil.which("msgcat") is None:
        message = "GNU gettext (msgcat) is not installed: run scripts/ensure-gettext"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_the_script_fills_traditional_chinese_and_keeps_what_is_there(tmp_path):
    require_gettext()
    script = load_script()
    po = tmp_path / "django.po"
    po.write_text(SAMPLE, encoding="utf-8")
    assert script.fill_hant(po) == 5
    entries = {e.fields.get("msgid"): e for e in parse_po(po)}
    assert entries["已有 %(n)s 个案件"].msgstrs == {"msgstr[0]": "已有 %(n)s 個案件"}
    assert entries["新的说明 %(x)s"].msgstrs == {"msgstr": "新的說明 %(x)s"}  # fuzzy: refilled
    assert "fuzzy" not in entries["新的说明 %(x)s"].flags
    assert "python-format" in entries["新的说明 %(x)s"].flags
    assert entries["第一行：请检查\n第二行“引号”与\\反斜杠"].msgstrs == {"msgstr": "第一行：請檢查\n第二行“引號”與\\反斜槓"}
    assert entries["管理后台"].msgstrs == {"msgstr": "管理後台"}  # a hand correction stays
    assert entries["%(where)s：日期 %(d)s 重复，%%"].msgstrs == {"msgstr": "%(where)s：日期 %(d)s 重複，%%"}
    assert entries["西咸新区 一网通办"].msgstrs == {"msgstr": "西咸新區 一網通辦"}  # 咸 of 咸陽 in a place name, not 鹹
    assert not [e for e in parse_po(po) if "fuzzy" in e.flags]  # the header too
    assert "Language: zh_Hant" in entries[""].fields["msgstr"]
    text = po.read_text(encoding="utf-8")
    assert '#~ msgid "过时的"' in text  # obsolete entries are left alone
    assert script.fill_hant(po) == 0
    assert po.read_text(encoding="utf-8") == text
