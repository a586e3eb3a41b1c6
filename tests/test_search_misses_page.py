"""/work/search-misses/: the queries residents searched for and did not find, newest first with their
counts, paginated; a synonym added in one step (through catalog.services, so search finds the matter
at once) marks the query handled. Only staff who may keep the synonyms (catalog.add_searchsynonym, as
in the admin) reach it, and only they see its link."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from yiwang.catalog.models import SearchMiss, SearchSynonym
from yiwang.catalog.search import search
from yiwang.catalog.services import search_miss_record
from yiwang.core import clock

pytestmark = pytest.mark.django_db
URL = "/work/search-misses/"
HOSTILE = "=cmd|' /c calc'!a0<script>alert(1)</script>"


@pytest.fixture
def keeper(world):
    """handler_kg, given the catalogue's permission to add synonyms."""
    user = world.users["handler_kg"]
    user.user_permissions.add(Permission.objects.get(codename="add_searchsynonym", content_type__app_label="catalog"))
    return user


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def missed(query: str, times: int = 1, *, at: dt.datetime | None = None) -> SearchMiss:
    with clock.frozen_at(at or clock.now()):
        for _ in range(times):
            miss = search_miss_record(query)
    return miss


def test_only_staff_with_the_catalogue_permission_reach_the_page_and_see_its_link(world, keeper):
    missed("老人卡")
    assert signed_in(keeper).get(URL).status_code == 200
    assert signed_in(world.users["admin"]).get(URL).status_code == 200
    assert 'href="/work/search-misses/"' in signed_in(keeper).get("/work/").content.decode()
    for username in ("handler_xfl", "clerk_spd", "operator_kg", "leader_kg", "resident_wang"):
        client = signed_in(world.users[username])
        assert client.get(URL).status_code == 403, username
        miss = SearchMiss.objects.get()
        assert client.post(URL, {"miss": miss.pk, "do": "handled"}).status_code == 403
        assert SearchMiss.objects.get().handled_at is None
    assert 'href="/work/search-misses/"' not in signed_in(world.users["handler_xfl"]).get("/work/").content.decode()
    assert Client().get(URL).status_code == 302  # to the login page


def test_the_misses_are_listed_newest_first_with_counts_and_hostile_text_inert(world, keeper):
    start = clock.now()
    missed("老人卡", 3, at=start - dt.timedelta(hours=2))
    missed(HOSTILE, 1, at=start - dt.timedelta(hours=1))
    missed("身份证 61040219500101123X 丢了")  # personal data: never logged
    missed("办证\x07")  # a control character: never logged
    body = signed_in(keeper).get(URL).content.decode()
    queries = re.findall(r'<b class="query">(.*?)</b>', body)
    assert len(queries) == 2 and queries[1] == "老人卡" and "script" in queries[0]
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    assert "3 次" in body and "61040219500101123X" not in body


def test_a_synonym_added_in_one_step_makes_search_find_the_matter(world, keeper):
    miss = missed("老人卡", 2)
    assert search("老人卡") == []
    client = signed_in(keeper)
    response = client.post(URL, {"miss": miss.pk, "do": "synonym", "phrase": "老人卡", "means": "老年证",
                                 "matter": "SENIOR_CARD"})
    assert response.status_code == 303
    synonym = SearchSynonym.objects.get(phrase="老人卡")
    assert synonym.means == "老年证" and synonym.matter.code == "SENIOR_CARD"
    assert search("老人卡")[0] == "SENIOR_CARD"
    assert SearchMiss.objects.get().handled_at is not None
    body = client.get(URL).content.decode()
    assert 'id="miss-' not in body  # handled: off the open list
    assert f'id="miss-{miss.pk}"' in client.get(URL + "?handled=1").content.decode()
    # Searched again and still missing (the synonym was switched off): open again.
    SearchSynonym.objects.update(active=False)
    missed("老人卡", at=clock.now() + dt.timedelta(minutes=1))
    assert f'id="miss-{miss.pk}"' in client.get(URL).content.decode()


def test_refusals_stay_beside_their_field_on_their_row(world, keeper):
    miss, other = missed("老人卡"), missed("办证")
    client = signed_in(keeper)
    # A control character is refused before any view (core.security), naming the field.
    response = client.post(URL, {"miss": miss.pk, "do": "synonym", "phrase": "老人卡", "means": "老年\x1b证"})
    assert response.status_code == 422 and "means" in response.content.decode()
    cases = [({"means": "", "matter": ""}, "means"),
             ({"means": "老年证", "matter": "NOPE"}, "matter"), ({"phrase": "", "means": "老年证"}, "phrase")]
    for fields, field in cases:
        response = client.post(URL, {"miss": miss.pk, "do": "synonym", "phrase": "老人卡", **fields})
        body = response.content.decode()
        assert response.status_code == 422, (fields, body[:300])
        row = body.split(f'id="miss-{miss.pk}"')[1].split("</li>")[0]
        assert 'class="field-error"' in row and f'{field}-{miss.pk}' in row
        assert 'class="field-error"' not in body.split(f'id="miss-{other.pk}"')[1].split("</li>")[0]
    SearchSynonym.objects.create(phrase="办证", means="办理")
    response = client.post(URL, {"miss": other.pk, "do": "synonym", "phrase": "办证", "means": "证件"})
    assert response.status_code == 422 and "已有同义词" in response.content.decode()
    assert client.post(URL, {"miss": 999999, "do": "handled"}).status_code == 404
    assert client.post(URL, {"miss": "x", "do": "handled"}).status_code == 422
    assert not SearchMiss.objects.filter(handled_at__isnull=False).exists()
    assert SearchSynonym.objects.count() == 1


def test_mark_handled_without_a_synonym_and_the_pages(world, keeper):
    start = clock.now() - dt.timedelta(days=1)
    for i in range(55):
        missed(f"查询词{i:02d}", at=start + dt.timedelta(minutes=i))
    client = signed_in(keeper)
    first = client.get(URL).content.decode()
    assert first.count('class="query"') == 50 and "查询词54" in first and "查询词04" not in first
    next_url = re.search(r'<a href="(/work/search-misses/\?cursor=[^"]+)">下一页', first).group(1)
    second = client.get(next_url).content.decode()
    assert second.count('class="query"') == 5 and "查询词04" in second and "查询词00" in second
    assert client.get(URL + "?cursor=%%%").status_code == 200  # a bad cursor: the first page
    miss = SearchMiss.objects.get(query="查询词54")
    assert client.post(URL, {"miss": miss.pk, "do": "handled"}).status_code == 303
    assert "查询词54" not in client.get(URL).content.decode()
    assert not SearchSynonym.objects.exists()
