"""Load at worker start what a first request would otherwise load while someone waits.

`yiwang serve` runs granian, whose workers each import ``yiwang.wsgi``; that import calls ``warm_up()``
before the worker takes a request. Without it, the first report in a fresh worker took over 2 s
(jieba's dictionary for the dispatch model, the matter search's own segmenter, pypinyin's tables,
the grid outlines' index), and a search's first pinyin query another 0.35-1.5 s.

What is loaded costs memory in every worker, searching or not (pypinyin's tables alone ~57 MiB):
``YIWANG_WARMUP=0`` turns it off for a small machine that rather lets the first request pay.
Top-level like ``yiwang.api``: it reaches into apps at every level and no app imports it.
"""

from __future__ import annotations

import gc
import logging
import os
import time

from django.db import connections

logger = logging.getLogger(__name__)


def _segmenter() -> None:
    from yiwang.command import classifier

    classifier.tokens("井盖缺失")  # jieba's dictionary and the t2s converter


def _dispatch_models() -> None:
    from yiwang.command import selectors

    selectors.models_cache.get()  # each active model unpickled, its keywords taught to the segmenter


def _search() -> None:
    from yiwang.catalog import search

    idx = search.index()  # the matters' index and its own segmenter
    idx.pinyin  # noqa: B018 - built on first access: pypinyin's tables and every matter's pinyin
    idx.by_syllables  # noqa: B018


def _places() -> None:
    from yiwang.catalog.selectors import matter_cache
    from yiwang.org import geo
    from yiwang.org.selectors import hierarchy

    hierarchy()
    matter_cache.get()
    geo.grid_index()  # the grid outlines' STRtree


STEPS = (("segmenter", _segmenter), ("dispatch models", _dispatch_models), ("search", _search),
         ("places", _places))


def warm_up(*, close_connections: bool = True) -> dict[str, float]:
    """Run every step; seconds each took. A step that fails (no database yet, say) is logged and
    skipped: the worker then loads it on first use, as before, and still starts. The importing
    thread serves no request, so its database connection is closed after (unless told not to).
    Then the heap is frozen (gc.freeze): what is loaded by now is never garbage collected."""
    if os.environ.get("YIWANG_WARMUP", "1").strip().lower() in ("0", "false", "no", "off"):
        return {}
    took: dict[str, float] = {}
    for name, step in STEPS:
        t = time.perf_counter()
        try:
            step()
        except Exception:
            logger.warning("warm-up: %s not loaded; the first request that needs it will load it", name,
                           exc_info=True)
            continue
        took[name] = round(time.perf_counter() - t, 3)
    if close_connections:
        connections.close_all()
    # Everything loaded so far lives as long as the worker: frozen, the collector stops walking it. A full
    # collection walked it all, ~135 ms each, ~4 % of an intake's CPU (bench/intake_profile.py with the
    # warm-up, 3,000 requests: 2 full collections, 271 ms; frozen: 1 of 40 ms).
    gc.collect()
    gc.freeze()
    logger.info("warm-up done: %s", ", ".join(f"{k} {v:.2f} s" for k, v in took.items()))
    return took
