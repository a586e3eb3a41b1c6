"""Text search for a scoped viewer: the walk over the viewer's own regions and units (cases.search
scope_streams, newest_matching) gives exactly the pages of a plain ordered query, with no case of a
neighbouring community, across the walk and the GIN step (PostgreSQL), and the FTS5 path (SQLite)."""

import datetime as dt

import pytest

from yiwang.cases import search
from yiwang.cases.models import Case
from yiwang.cases.selectors import CaseFilters, case_list
from yiwang.cases.services import case_create
from yiwang.core import clock
from yiwang.org.selectors import scope_q
from yiwang.testing import SENIOR_OK

PHRASE = "井盖缺失"


@pytest.fixture
def spread(world):
    """Incidents with the phrase and without it, a minute apart, in both communities of 底张 and in
    秦汉's; 幸福里 residents' applications held by 幸福里's own hall (in the clerk's region and unit)."""
    start = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    places = ["KG-DZ-XFL", "KG-DZ-CJC", "KG-DZ-XFL-G1", "QH-WC-SPD", "KG-DZ-CJC-G1", "KG-DZ"]
    made = []
    for i in range(24):
        region = places[i % len(places)]
        title = f"{PHRASE}{i}号" if i % 4 != 3 else f"路灯不亮{i}号"
        with clock.frozen_at(start + dt.timedelta(minutes=i)):
            if i % 5 == 4:
                case = case_create(viewer=world.viewer("resident_wang"), matter_code="SENIOR_CARD",
                                   description=f"{PHRASE}想办老年证{i}", **SENIOR_OK).case
            else:
                case = case_create(viewer=world.viewer("admin"), matter_code="INC_PARKING", region_code=region,
                                   title=title, address="建设路").case
        made.append(case)
    # Two cases of the same second: the id breaks the tie, in the walk and in the cursor.
    with clock.frozen_at(start + dt.timedelta(minutes=30)):
        for region in ("KG-DZ-XFL", "KG-DZ-CJC"):
            made.append(case_create(viewer=world.viewer("admin"), matter_code="INC_PARKING", region_code=region,
                                    title=f"{PHRASE}同时", address="建设路").case)
    return made


def _expected(world, username, text=PHRASE, **where):
    qs = Case.objects.filter(scope_q(world.viewer(username)), search.text_filter(text), **where)
    return list(qs.order_by("-created_at", "-id").values_list("id", flat=True))


def _pages(world, username, limit, text=PHRASE, **filters):
    seen, cursor = [], None
    while True:
        page = case_list(viewer=world.viewer(username), filters=CaseFilters(text=text, **filters), limit=limit,
                         cursor=cursor)
        seen += [c.id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return seen


@pytest.mark.django_db
@pytest.mark.parametrize("walk", [2, 5, 5000])
def test_scoped_search_pages_equal_a_plain_ordered_query(world, spread, monkeypatch, walk):
    monkeypatch.setattr(search, "RECENT_WALK", walk)
    for username in ("clerk_xfl", "secretary_cjc", "clerk_dz", "clerk_spd", "leader_kg", "resident_wang", "admin",
                     "handler_xfl"):
        expected = _expected(world, username)
        for limit in (1, 3, 50):
            assert _pages(world, username, limit) == expected, (username, limit)
    # Only the applications say 老年证, and each is in two of the clerk's streams (幸福里 and its hall):
    # every match comes twice out of the merge, and a page still holds as many distinct cases.
    expected = _expected(world, "clerk_xfl", "老年证")
    assert len(expected) == 4
    for limit in (1, 3, 50):
        assert _pages(world, "clerk_xfl", limit, "老年证") == expected, limit
    # Filters narrow the walk to one region's subtree or one unit, for a superuser too.
    region = world.regions["xfl"]
    assert _pages(world, "admin", 2, region_code="KG-DZ-XFL") == _expected(
        world, "admin", region_path__startswith=region.path)
    assert _pages(world, "clerk_dz", 2, region_code="KG-DZ-CJC") == _expected(
        world, "clerk_dz", region_path__startswith=world.regions["cjc"].path)
    unit = world.units["xfl_sh"]
    assert _pages(world, "admin", 2, holder_unit_code="KG-DZ-XFL-SH") == _expected(world, "admin", holder_unit_id=unit.id)


@pytest.mark.django_db
@pytest.mark.parametrize("walk", [2, 5000])
def test_a_community_clerk_never_sees_the_neighbouring_community(world, spread, monkeypatch, walk):
    """幸福里's clerk and 程家村's party secretary share a town and the phrase: each finds only their own
    community's cases (and, for the clerk, what his hall holds), in the walk and in the index step."""
    monkeypatch.setattr(search, "RECENT_WALK", walk)
    xfl, cjc = world.regions["xfl"].path, world.regions["cjc"].path
    hall = world.units["xfl_sh"].id
    clerk = Case.objects.filter(pk__in=_pages(world, "clerk_xfl", 2))
    assert clerk.exists()
    assert all(c.region_path.startswith(xfl) or c.holder_unit_id == hall for c in clerk)
    assert not any(c.region_path.startswith(cjc) for c in clerk)
    secretary = Case.objects.filter(pk__in=_pages(world, "secretary_cjc", 2))
    assert secretary.exists()
    assert all(c.region_path.startswith(cjc) for c in secretary)
    # Asking for the other community by filter finds nothing of it, not a refusal.
    assert _pages(world, "clerk_xfl", 2, region_code="KG-DZ-CJC") == []


@pytest.mark.django_db
def test_scope_streams(world, monkeypatch):
    r, u = world.regions, world.units
    streams = search.scope_streams(world.viewer("clerk_xfl"))
    paths = sorted(r[k].path for k in ("xfl", "xfl_g1", "xfl_g2"))
    assert [dict(s.children) for s in streams] == (
        [{"region_path": p} for p in paths] + [{"holder_unit_id": u["xfl_sh"].id}])
    assert search.scope_streams(world.viewer("admin")) is None  # the district's newest
    assert len(search.scope_streams(world.viewer("admin"), region_path=r["dz"].path)) == 6  # 底张, 2 communities, 3 grids
    assert search.scope_streams(world.viewer("clerk_xfl"), holder_unit_id=u["xfl_sh"].id) == [
        search.Q(holder_unit_id=u["xfl_sh"].id)]
    resident = search.scope_streams(world.viewer("resident_wang"))
    assert [dict(s.children) for s in resident] == [{"applicant_id": world.residents["wang"].id}]
    monkeypatch.setattr(search, "MAX_STREAMS", 3)
    assert search.scope_streams(world.viewer("clerk_xfl")) is None  # 4 slices: the district's newest instead
