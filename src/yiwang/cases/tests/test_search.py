"""Case text search: bigram tokens, Traditional/Simplified folding, scoping, the API and the queue."""

import pytest

from yiwang.cases.search import index_text, query_tokens, tokens
from yiwang.cases.selectors import CaseFilters, case_list
from yiwang.cases.services import case_create
from yiwang.core.errors import ValidationFailed


def test_tokens_are_han_bigrams_and_latin_words():
    assert tokens("路燈不亮 LED-3号") == ["路灯", "灯不", "不亮", "led", "3", "号"]
    assert index_text("路灯不亮", "路灯坏了", "幸福路") == "路灯 灯不 不亮 灯坏 坏了 幸福 福路"
    assert query_tokens("，。！") == []


@pytest.fixture
def reported(world):
    made = {}
    for title, description, address in [("路灯不亮", "晚上路灯一直不亮", "幸福路12号"),
                                         ("井盖丢失", "人行道井盖不见了", "建设路"),
                                         ("占道经营", "早市摊贩占道", "幸福路菜市场")]:
        made[title] = case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", title=title, description=description, address=address).case
    return made


def _found(world, username, text):
    page = case_list(viewer=world.viewer(username), filters=CaseFilters(text=text))
    return sorted(c.title for c in page.items)


@pytest.mark.django_db
def test_search_matches_substrings_in_title_description_and_address(world, reported):
    assert _found(world, "resident_wang", "路灯") == ["路灯不亮"]
    assert _found(world, "resident_wang", "路燈") == ["路灯不亮"]  # Traditional folds to Simplified
    assert _found(world, "resident_wang", "幸福路") == ["占道经营", "路灯不亮"]
    assert _found(world, "resident_wang", "人行道井盖") == ["井盖丢失"]
    assert _found(world, "resident_wang", "井") == ["井盖丢失"]  # one character: prefix of its pairs
    assert _found(world, "resident_wang", "路灯丢失") == []  # every pair must occur


@pytest.mark.django_db
def test_search_is_scoped_and_rejects_empty_queries(world, reported):
    assert _found(world, "resident_li", "路灯") == []
    with pytest.raises(ValidationFailed) as err:
        _found(world, "resident_wang", "！！")
    assert err.value.field == "q"


@pytest.mark.django_db
def test_api_q_parameter(world, reported, api):
    got = api("get", "/cases?q=%E4%BA%95%E7%9B%96", "resident_wang")  # 井盖
    assert got.status_code == 200
    assert [c["title"] for c in got.json()["items"]] == ["井盖丢失"]
    assert api("get", "/cases?q=" + "x" * 101, "resident_wang").status_code == 422
    assert api("get", "/cases?q=%21%21", "resident_wang").status_code == 422


@pytest.mark.django_db
def test_queue_search_box(world, reported, client):
    client.force_login(world.users["admin"])
    page = client.get("/work/", {"q": "幸福路"}).content.decode()
    assert "路灯不亮" in page and "占道经营" in page and "井盖丢失" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("walk", [3, 5000])
def test_search_pages_newest_first_across_the_recent_walk_and_the_index(world, monkeypatch, walk):
    """An area-wide search reads the newest cases first, then asks the index for older ones
    (cases.search.recent_matches; PostgreSQL): the pages are the same as a plain ordered query."""
    import datetime as dt

    from yiwang.cases import search
    from yiwang.core import clock

    monkeypatch.setattr(search, "RECENT_WALK", walk)
    start = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    titles = []
    for i in range(11):
        with clock.frozen_at(start + dt.timedelta(minutes=i)):
            title = f"井盖缺失{i}号" if i % 3 else f"路灯不亮{i}号"
            case_create(viewer=world.viewer("resident_wang"), matter_code="INC_PARKING", title=title, address="建设路")
            titles.append(title)
    expected = [t for t in reversed(titles) if t.startswith("井盖")]
    for username in ("admin", "resident_wang"):
        seen, cursor = [], None
        while True:
            page = case_list(viewer=world.viewer(username), filters=CaseFilters(text="井盖缺失"), limit=2, cursor=cursor)
            seen += [c.title for c in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == expected, username
    # Filters take part in both steps; an unknown matter finds nothing.
    assert len(case_list(viewer=world.viewer("admin"), filters=CaseFilters(text="井盖", matter_code="INC_PARKING")).items) == 7
    assert case_list(viewer=world.viewer("admin"), filters=CaseFilters(text="井盖", matter_code="NO_SUCH")).items == []
