import pytest

from yiwang.core import confcache


@pytest.fixture
def world(db):
    from yiwang.testing import build_world

    return build_world()


@pytest.fixture(autouse=True)
def _fresh_caches():
    # Each test's database is new; caches from an earlier test must not leak into it.
    confcache.clear_all()
    from yiwang.api import clear_token_cache

    clear_token_cache()
    yield
    confcache.clear_all()
