"""A resident on a phone types the way people ask (合疗怎么报销) on the home page and finds the matter."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_question_typed_on_a_phone_finds_the_matter(new_page, world, shot):
    from yiwang.catalog.services import search_synonyms_load

    search_synonyms_load()  # as `yiwang search-synonyms load` and the demo do (合疗 → 城乡居民医保)
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto("/")
    box = page.get_by_role("searchbox", name="搜索事项")
    box.fill("合疗怎么报销")
    with page.expect_navigation():
        box.press("Enter")
    result = page.get_by_role("link", name="城乡居民医保(合疗)报销")
    expect(result).to_be_visible()
    # The matter itself is first, above the consultation about it; nothing scrolls sideways.
    links = page.locator("main a[href^='/matters/']")
    expect(links.first).to_have_attribute("href", re.compile(r"/matters/MEDICAL_REIMBURSE/$"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot("results-390px", page)
    result.click()
    expect(page).to_have_url(re.compile(r"/matters/MEDICAL_REIMBURSE/$"))
