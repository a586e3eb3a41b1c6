"""The SQLite backend's cursor keeps each SQL text's placeholder conversion (core/backends/sqlite)."""

import pytest
from django.db import connection

from yiwang.core.backends.sqlite import base

pytestmark = [pytest.mark.skipif("connection.vendor != 'sqlite'"), pytest.mark.django_db]


def test_format_placeholders_and_literal_percents_convert_the_same_from_the_cache():
    sql = "SELECT %s, '100%%', %s || '%%s'"
    with connection.cursor() as cursor:
        for _ in range(2):  # the first converts, the second reads the kept text
            cursor.execute(sql, [1, "a"])
            assert cursor.fetchone() == (1, "100%", "a%s")
    assert base._converted[sql] == "SELECT ?, '100%', ? || '%s'"


def test_named_placeholders_are_not_kept():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %(a)s + %(b)s", {"a": 1, "b": 2})
        assert cursor.fetchone() == (3,)
    assert "SELECT %(a)s + %(b)s" not in base._converted


def test_the_cache_starts_afresh_when_full(monkeypatch):
    monkeypatch.setattr(base, "CONVERTED_MAX", 3)
    base._converted.clear()
    with connection.cursor() as cursor:
        for n in range(7):
            cursor.execute(f"SELECT %s + {n}", [1])
            assert cursor.fetchone() == (1 + n,)
            assert len(base._converted) <= 3
