"""A granian worker loads the segmenter, the dispatch models, the search's pinyin and the grid index
when it imports yiwang.wsgi, before its first request (yiwang/warmup.py)."""

import pytest

from yiwang import warmup
from yiwang.catalog import search
from yiwang.command import classifier

pytestmark = pytest.mark.django_db


def test_every_step_runs_and_leaves_its_tables_loaded(world):
    took = warmup.warm_up(close_connections=False)
    assert set(took) == {name for name, _step in warmup.STEPS}
    assert classifier._tokenizer is not None
    idx = search.index()
    assert idx._pinyin is not None and idx._by_syllables is not None  # nothing left for a first query


def test_it_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("YIWANG_WARMUP", "0")
    assert warmup.warm_up(close_connections=False) == {}


def test_a_failing_step_is_skipped_and_the_worker_still_starts(world, monkeypatch, caplog):
    def broken():
        raise RuntimeError("no database yet")

    monkeypatch.setattr(warmup, "STEPS", (("broken", broken), *warmup.STEPS[:1]))
    assert list(warmup.warm_up(close_connections=False)) == ["segmenter"]
    assert "warm-up: broken not loaded" in caplog.text
