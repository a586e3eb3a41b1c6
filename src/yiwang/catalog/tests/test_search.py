"""Residents find a matter by Simplified or Traditional characters, full pinyin or initials."""

import pytest

from yiwang.catalog.search import search


@pytest.mark.parametrize("query", ["老年证", "老年證", "lnz", "laonianzheng", "LaoNian", " 老年 "])
def test_the_senior_card_is_found_every_way_people_type_it(world, query):
    assert search(query)[0] == "SENIOR_CARD"


def test_keywords_are_searched(world):
    assert "SENIOR_CARD" in search("老年优待证")


def test_traditional_characters_find_a_simplified_matter(world):
    assert search("醫保")[0] == "MEDICAL_REIMBURSE"


def test_a_name_match_ranks_before_a_pinyin_match(world):
    assert search("合疗")[:2] == ["ASK_MEDICAL", "MEDICAL_REIMBURSE"] or search("合疗")[0] == "MEDICAL_REIMBURSE"


def test_nothing_matches_nonsense_and_an_empty_query(world):
    assert search("zzzzqqq") == []
    assert search("   ") == []


def test_a_newly_published_matter_is_found_at_once(world):
    from yiwang.catalog.services import matter_create

    search("老年证")  # warm the index
    matter_create(code="RESIDENCE_PERMIT", name="居住证办理", kind="application", handling_levels=["town"],
                  responsible_unit_kind="service_hall")
    assert search("jzz") == ["RESIDENCE_PERMIT"]


def test_a_published_answer_is_found_by_its_question(world):
    from yiwang.cases.services import case_act, case_create

    ask = case_create(viewer=world.viewer("resident_wang"), matter_code="ASK_MEDICAL",
                      description="门诊慢性病怎么报销？").case
    clerk = world.viewer("clerk_xfl")
    ask = case_act(viewer=clerk, case_id=ask.pk, action="answer", version=ask.version, result="持医保卡到定点医院直接结算。")
    case_act(viewer=clerk, case_id=ask.pk, action="publish_faq", version=ask.version)
    assert search("慢性病")[0] == "ASK_MEDICAL"
    assert world.matters["ask"].faqs.get().answer == "持医保卡到定点医院直接结算。"
