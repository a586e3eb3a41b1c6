"""core.text: which characters free text may not hold, where a refused one sits, and what the user is told."""

import pytest

from yiwang.core.errors import ValidationFailed
from yiwang.core.text import check_text, control_character_in, holds_control_character, refusal


@pytest.mark.parametrize("char", [chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)])
def test_c0_controls_and_del_are_refused(char):
    assert control_character_in(f"垃圾{char}堆放") == ("", char)


@pytest.mark.parametrize("text", ["第一行\r\n第二行", "缩进\t文字", "行\u2028分隔", "段\u2029分隔", "\u0085", "普通文字"])
def test_tab_line_breaks_and_unicode_separators_pass(text):
    assert control_character_in(text) is None


def test_the_path_names_the_place_in_nested_values_and_keys():
    value = {"title": "ok", "form": {"reason": ["a", "b\x0b"]}, "materials": [{"name\x1f": ""}]}
    assert control_character_in({"form": value["form"]}) == ("form.reason.1", "\x0b")
    assert control_character_in(value["materials"], "materials") == ("materials.0.name\x1f", "\x1f")
    assert control_character_in({"n": 1, "b": True, "x": None}) is None


def test_a_value_nested_deeper_than_the_stack_is_walked():
    deep = "x\x00"
    for _ in range(5000):
        deep = [deep]
    assert control_character_in(deep)[1] == "\x00"
    assert holds_control_character(deep)


@pytest.mark.parametrize(("value", "holds"), [
    ({"reason": "腿脚\x0b不便"}, True), (["ok", {"k\x7f": 1}], True), (("a", None, 3, "\x00"), True), ("\x1f", True),
    ({"reason": "第一行\r\n第二行\t\u2028"}, False), ([1, None, True, 2.5, "正常"], False), ("\u0085", False),
    # Typed by someone, not control characters: a backslash before "x0b", and the C1 control U+0085.
    ("C:\\x0b\\dir", False), ({"a": "\\x7f"}, False),
])
def test_holds_control_character_answers_as_the_walk_does(value, holds):
    assert holds_control_character(value) is holds
    assert (control_character_in(value) is not None) is holds


def test_the_refusal_names_the_field_and_the_character():
    assert refusal("form.reason", "\x0b") == "form.reason 含有不可见的控制字符(U+000B)，请删除后重新提交。"
    assert refusal(None, "\x00") == "含有不可见的控制字符(U+0000)，请删除后重新提交。"
    with pytest.raises(ValidationFailed) as refused:
        check_text({"reason": "a\x1bb"}, field="form")
    assert refused.value.errors == {"form.reason": ["form.reason 含有不可见的控制字符(U+001B)，请删除后重新提交。"]}
    check_text("第一行\r\n第二行", field="description")  # nothing to refuse
