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

from django.db import connection
from django.db.models import BooleanField, Func, Q, QuerySet
from django.db.models.expressions import RawSQL

from yiwang.catalog.search import fold

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



RECENT_WALK = 5000  # cases read newest first before the index is asked (see recent_matches)


def recent_matches(ordered: QuerySet, q: str, n: int) -> tuple[list[int], tuple | None]:
    """Ids of the newest ``n`` cases among the newest RECENT_WALK of ``ordered`` whose text matches ``q``,
    and where that walk stopped: (created_at, id) of the last case read, or None when nothing older is
    needed (``n`` found, or every case of ``ordered`` read).

    ``ordered`` is newest first (pagination.seek by -created_at, the cursor applied). The index
    cannot give the newest matches first: it finds every match in the history, then they are
    sorted, so a common word costs more every year (4,500 matches at 1M cases, 45,000 at 10M).
    Reading the newest cases one by one costs the same at any size and fills a page of a word
    that is in one case of 250 (人行道井盖缺失); the caller asks the index only for what is still
    missing, among the older cases. PostgreSQL only: SQLite's FTS5 table answers from its own index.
    """
    inner = ordered.annotate(sv=RawSQL('"cases_case"."search_vector"', ())).values("id", "created_at", "sv")
    sql, params = inner[:RECENT_WALK].query.sql_with_params()
    with connection.cursor() as cursor:
        # The LIMIT inside keeps PostgreSQL from reaching for the GIN index, whose estimate for a
        # phrase (its bigrams' frequencies multiplied as if independent) is always "one row".
        cursor.execute(f"SELECT r.id FROM ({sql}) r WHERE r.sv @@ to_tsquery('simple'::regconfig, %s) "
                       f"ORDER BY r.created_at DESC, r.id DESC LIMIT %s", [*params, _tsquery(query_tokens(q)), n])
        ids = [row[0] for row in cursor.fetchall()]
    if len(ids) >= n:
        return ids, None
    last = list(ordered.values_list("created_at", "id")[RECENT_WALK - 1:RECENT_WALK])
    return ids, (last[0] if last else None)
