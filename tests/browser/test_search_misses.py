"""A staff member who keeps the search synonyms opens 无结果搜索 from the workbench menu, on a desktop
and on a 390 px phone: the queries residents found nothing for, with their counts; a synonym added in
one step takes the query off the list, and a refusal stays beside its field."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from yiwang.catalog.models import SearchMiss, SearchSynonym
from yiwang.catalog.search import search
from yiwang.catalog.services import search_miss_record

HOSTILE = "=1+1<img src=x onerror=alert(1)>"


def keeper(world):
    user = world.users["handler_kg"]
    user.user_permissions.add(Permission.objects.get(codename="add_searchsynonym", content_type__app_label="catalog"))
    for query in ("老人卡", "老人卡", "老人卡", HOSTILE):
        search_miss_record(query)
    return user.username


def no_sideways_scroll(page) -> None:
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width}"


def test_a_synonym_is_added_from_the_search_misses_page_on_a_desktop(new_page, world, login, shot):
    username = keeper(world)
    page = new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, username, "/work/")
    page.get_by_role("link", name="无结果搜索").click()
    expect(page.get_by_role("heading", name="无结果搜索")).to_be_visible()
    row = page.locator("li", has=page.get_by_text("老人卡", exact=True))
    expect(row).to_contain_text("3 次")
    stored = SearchMiss.objects.exclude(query="老人卡").get().query
    assert "<img" in stored
    expect(page.get_by_text(stored, exact=True)).to_be_visible()  # shown as text, as it was logged
    shot("the-list", page)
    row.get_by_label("对应目录用语（空格分隔）").fill("老年证")
    row.get_by_label("直接指向事项（可不选）").select_option(label="老年证办理")
    row.get_by_role("button", name="添加同义词并标记已处理").click()
    expect(page.get_by_text("已添加同义词“老人卡”")).to_be_visible()
    expect(page.get_by_text("老人卡", exact=True)).to_have_count(0)
    shot("added", page)
    assert SearchSynonym.objects.get(phrase="老人卡").matter.code == "SENIOR_CARD"
    assert search("老人卡")[0] == "SENIOR_CARD"
    assert SearchMiss.objects.get(query="老人卡").handled_at is not None
    assert dialogs == []


def test_the_page_on_a_phone_keeps_a_refusal_beside_its_field(new_page, world, login, shot):
    username = keeper(world)
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    login(page, username, "/work/search-misses/")
    expect(page.get_by_role("heading", name="无结果搜索")).to_be_visible()
    no_sideways_scroll(page)
    row = page.locator("li", has=page.get_by_text("老人卡", exact=True))
    row.get_by_role("button", name="添加同义词并标记已处理").click()  # neither words nor a matter
    row = page.locator("li", has=page.get_by_text("老人卡", exact=True))
    expect(row.locator(".field-error")).to_contain_text("请填写对应目录用语或选择事项")
    expect(row.get_by_label("对应目录用语（空格分隔）")).to_have_attribute("aria-invalid", "true")
    no_sideways_scroll(page)
    shot("refused-on-a-phone", page)
    assert not SearchSynonym.objects.exists()
    button = row.get_by_role("button", name="仅标记已处理")
    box = button.bounding_box()
    # Staff pages' buttons are site.css's (about 40 px high); the 44 px rule is the portal's.
    assert box and box["height"] >= 36 and box["x"] + box["width"] <= 390, box
    button.click()
    expect(page.get_by_text("已标记为已处理。")).to_be_visible()
    expect(page.get_by_text("老人卡", exact=True)).to_have_count(0)
    no_sideways_scroll(page)
