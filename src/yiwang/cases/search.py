"""Full-text search over cases (title, description, address) that scales to tens of millions of rows.

Chinese has no spaces, and PostgreSQL ships no Chinese parser. Each case therefore stores its text
as overlapping character pairs (CJK bigrams, the scheme of Lucene's CJKAnalyzer) plus lower-case
Latin/digit words, folded to Simplified Chinese: "路燈不亮" → "路灯 灯不 不亮". A query is cut the
same way and all its tokens must match, so "灯不亮" finds "路灯不亮" but not "灯亮了不". No
dictionary is involved (jieba would cost ~1 s to load and miss new place names), and every
substring of two or more characters is found.

The token string lives in ``Case.search_text``; PostgreSQL keeps its tsvector in a stored generated
column with a GIN index (migration 0014), SQLite an FTS5 table kept in step by triggers (0012). ``text_filter()`` is the one way to match it.
"""

from __future__ import annotations

import re

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, Func, Q, Value, When
from django.db.models import Case as CaseWhen
from django.db.models.expressions import RawSQL

from yiwang.cases.models import Case
from yiwang.catalog.search import fold
from yiwang.core.pagination import seek

_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")
MAX_QUERY_TOKENS = 12


def tokens(text: str) -> list[str]:
    """Bigrams of each run of Han characters (a lone character stays itself) and Latin/digit words."""
    out: list[str] = []
    for run in _RUN.findall(fold(text)):
        if run[0].isascii() or len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


def index_text(title: str, description: str = "", address: str = "") -> str:
    """The ``search_text`` of a case: its distinct tokens, space-separated, in first-seen order."""
    seen = dict.fromkeys(tokens(title) + tokens(description) + tokens(address))
    return " ".join(seen)


def query_tokens(q: str) -> list[str]:
    found = list(dict.fromkeys(tokens(q)))
    return found[:MAX_QUERY_TOKENS]


class _PostgresMatch(Func):
    output_field = BooleanField()

    def __init__(self, query: str):
        super().__init__(query=query)

    def as_sql(self, compiler, connection, **extra):
        # search_vector: the stored generated column of migration 0014, unknown to the model.
        table = compiler.query.get_initial_alias()
        return (f"{connection.ops.quote_name(table)}.search_vector @@ to_tsquery('simple'::regconfig, %s)",
                [self.extra["query"]])


def _tsquery(words: list[str]) -> str:
    # A lone Han character matches every pair that starts with it (prefix), so one-character
    # queries still work; tokens contain only letters and digits, so no escaping is needed.
    return " & ".join(f"{w}:*" if len(w) == 1 and not w.isascii() else w for w in words)


def _fts5_query(words: list[str]) -> str:
    return " AND ".join(f'"{w}"*' if len(w) == 1 and not w.isascii() else f'"{w}"' for w in words)


def text_filter(q: str) -> Q | None:
    """A filter for cases whose text contains ``q``; None when ``q`` has nothing searchable."""
    words = query_tokens(q)
    if not words:
        return None
    if connection.vendor == "postgresql":
        return Q(_PostgresMatch(_tsquery(words)))
    return Q(pk__in=RawSQL("SELECT rowid FROM cases_case_fts WHERE cases_case_fts MATCH %s", [_fts5_query(words)]))


RECENT_WALK = 5_000  # the district's newest cases read one by one before the index is asked


def newest_matching(conditions: Q, q: str, *, cursor: str | None, n: int) -> list[int]:
    """Ids of the newest ``n`` cases that meet ``conditions`` (the viewer's scope and filters) and
    whose text matches ``q``, from after ``cursor`` (created_at descending, then id).

    The GIN index cannot give the newest matches first: it finds every match in the history, and
    PostgreSQL then visits each one, so a common word costs more every year (井盖缺失: 4,500 matches
    at 1M cases, 45,000 at 10M). And PostgreSQL misjudges phrases (it multiplies the frequencies
    of their bigrams as if they were independent, so it expects one match), so it sometimes walks
    the date index backwards hoping to meet matches soon and reads the whole table for a small
    community (664 ms at 1M). So, in two steps:

    1. the district's newest RECENT_WALK cases, read newest first, each tested for ``conditions`` and
       the text: a word in one case of 250 fills a page there, at a cost that does not grow with the
       history; the LIMIT inside the subquery keeps the index out of it;
    2. only if that page is not full: the matches older than the walk, all of them through the
       indexes (GIN and, where PostgreSQL sees it pays, the region index), then the newest;
       OFFSET 0 fences them off from the ORDER BY … LIMIT, so no backward walk.

    PostgreSQL only: on SQLite the FTS5 table answers (cases.selectors.case_list).
    """
    tsquery = _tsquery(query_tokens(q))
    district = seek(Case.objects.all(), order="-created_at", cursor=cursor)
    # CASE, not the bare condition: Django renders a condition that can match nothing (an unknown
    # matter) as the integer 0 in a SELECT list. No condition at all (a superuser): every case.
    wanted = (CaseWhen(When(conditions, then=Value(True)), default=Value(False), output_field=BooleanField())
              if conditions else Value(True))
    walk = district.annotate(sv=RawSQL('"cases_case"."search_vector"', ()), wanted=wanted)
    sql, params = walk.values("id", "created_at", "sv", "wanted")[:RECENT_WALK].query.sql_with_params()
    with connection.cursor() as db:
        db.execute(f"SELECT r.id FROM ({sql}) r WHERE r.wanted AND r.sv @@ to_tsquery('simple'::regconfig, %s) "
                   f"ORDER BY r.created_at DESC, r.id DESC LIMIT %s", [*params, tsquery, n])
        ids = [row[0] for row in db.fetchall()]
    if len(ids) >= n:
        return ids
    last = list(district.values_list("created_at", "id")[RECENT_WALK - 1:RECENT_WALK])
    if not last:
        return ids  # the walk read every case there is
    at, pk = last[0]
    older = (Case.objects.filter(conditions, Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
             .filter(Q(_PostgresMatch(tsquery))).order_by().values("id", "created_at"))
    try:
        sql, params = older.query.sql_with_params()
    except EmptyResultSet:  # conditions that match nothing (an unknown matter)
        return ids
    with connection.cursor() as db:
        db.execute(f"SELECT s.id FROM ({sql} OFFSET 0) s ORDER BY s.created_at DESC, s.id DESC LIMIT %s",
                   [*params, n - len(ids)])
        return ids + [row[0] for row in db.fetchall()]
