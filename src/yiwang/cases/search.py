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

import functools
import operator
import re

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, Func, Q, Value, When
from django.db.models import Case as CaseWhen
from django.db.models.expressions import RawSQL

from yiwang.cases.models import Case
from yiwang.catalog.search import fold
from yiwang.core.pagination import seek
from yiwang.org.selectors import Viewer, hierarchy

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


class _PostgresRecheck(_PostgresMatch):
    """The same test as _PostgresMatch, as a function call: PostgreSQL neither uses an index for it
    nor multiplies its bigrams' frequencies into a guess of one row."""

    def as_sql(self, compiler, connection, **extra):
        table = compiler.query.get_initial_alias()
        return (f"ts_match_vq({connection.ops.quote_name(table)}.search_vector, "
                f"to_tsquery('simple'::regconfig, %s))", [self.extra["query"]])


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


RECENT_WALK = 5_000  # candidates read newest first, one by one, before the GIN index is asked
MAX_STREAMS = 64  # ordered index scans merged into one walk; a wider scope walks the district's newest
# A scope of at most this many streams (a community, its grids and its hall) is narrow enough for its
# indexes' bitmaps to cut the GIN step's heap reads; a town's (16 at 2M cases: 58.7 against 16.0 ms of
# PostgreSQL CPU for 井盖缺失夜间) or a new city's cost more than they save.
NARROW_STREAMS = 8


def scope_streams(viewer: Viewer, *, region_path: str | None = None,
                  holder_unit_id: int | None = None) -> list[Q] | None:
    """Slices of the case table, each readable newest first from one index, whose union holds every
    case that ``viewer`` may find under these filters; None when the district's own newest are the
    better walk (a superuser without a region or unit filter, or a scope of too many regions).

    A region prefix is read as one slice per region under it (``region_path = …``, index
    case_region_walk_idx): a prefix covers several paths, and only an equality keeps the index in
    ``created_at`` order. Every case's path is its region's (Region.path never changes), so the
    regions of the hierarchy are all the paths there are. Slices may overlap (a case in the
    viewer's region held by the viewer's unit): the walk drops the second copy.
    """
    if holder_unit_id is not None:
        return [Q(holder_unit_id=holder_unit_id)]
    if region_path is not None:
        prefixes: tuple[str, ...] = (region_path,)
    elif viewer.is_superuser:
        return None
    else:
        prefixes = viewer.region_paths
    paths = sorted(r.path for r in hierarchy().regions.values() if r.path.startswith(prefixes))
    streams = [Q(region_path=p) for p in paths]
    if region_path is None:  # the scope's other two ways in (org.selectors.scope_q)
        streams += [Q(holder_unit_id=u) for u in sorted(viewer.unit_ids)]
        if viewer.resident_id is not None:
            streams.append(Q(applicant_id=viewer.resident_id))
    return streams if len(streams) <= MAX_STREAMS else None


_SENTINELS = {"region_path": "\x00walk", "holder_unit_id": -7_000_000_001, "applicant_id": -7_000_000_001}


def _walk_parts(streams: list[Q], wanted, cursor: str | None) -> tuple[list[str], list]:
    """Each stream's ordered, limited scan as SQL. Streams on the same field differ only in one
    parameter, so each field's query is compiled once (Django's compiler took ~0.7 ms per stream,
    28 ms for a new city's 38) and its value swapped in."""
    def compiled(stream: Q) -> tuple[str, list]:
        walk = (seek(Case.objects.filter(stream), order="-created_at", cursor=cursor)
                .annotate(sv=RawSQL('"cases_case"."search_vector"', ()), wanted=wanted)
                .values("id", "created_at", "sv", "wanted")[:RECENT_WALK])
        sql, params = walk.query.sql_with_params()
        return sql, list(params)

    parts: list[str] = []
    params: list = []
    templates: dict[str, tuple[str, list, int] | None] = {}
    for stream in streams:
        field, value = stream.children[0] if len(stream.children) == 1 and not stream.negated else (None, None)
        try:
            if field in _SENTINELS and field not in templates:
                sql, p = compiled(Q(**{field: _SENTINELS[field]}))
                at = [i for i, v in enumerate(p) if v == _SENTINELS[field]]
                templates[field] = (sql, p, at[0]) if len(at) == 1 else None
            template = templates.get(field)
            if template is None:
                sql, p = compiled(stream)
            else:
                sql, p, at = template
                p = [*p[:at], value, *p[at + 1:]]
        except EmptyResultSet:
            continue
        parts.append(f"({sql})")
        params += p
    return parts, params


def newest_matching(conditions: Q, q: str, *, cursor: str | None, n: int,
                    streams: list[Q] | None = None) -> list[int]:
    """Ids of the newest ``n`` cases that meet ``conditions`` (the viewer's scope and filters) and
    whose text matches ``q``, from after ``cursor`` (created_at descending, then id).

    The GIN index cannot give the newest matches first: it finds every match in the history, and
    PostgreSQL then visits each one, so a common word costs more every year (井盖缺失: 4,500 matches
    at 1M cases, 45,000 at 10M). And PostgreSQL misjudges phrases (it multiplies the frequencies
    of their bigrams as if they were independent, so it expects one match), so it sometimes walks
    the date index backwards hoping to meet matches soon and reads the whole table for a small
    community (664 ms at 1M). So, in two steps:

    1. a walk: the newest RECENT_WALK candidates, each tested for ``conditions`` and the text.
       Without ``streams`` the candidates are the district's newest cases; with them (a clerk's
       regions and units, see scope_streams) each stream is one ordered index scan and PostgreSQL
       merges them (Merge Append), stopping at RECENT_WALK rows, so a community's own newest
       5,000 are read, not the district's, whatever the history's size. The same query gives the
       oldest candidate read (where step 2 starts) and whether the walk ran dry;
    2. only if that page is not full and older candidates remain: the matches older than the walk,
       all of them through the indexes, then the newest; OFFSET 0 fences them off from the
       ORDER BY … LIMIT, so no backward walk. For a narrow scope (NARROW_STREAMS) the GIN bitmap
       is ANDed with the streams' own, so only the scope's cases are read from the table.

    PostgreSQL only: on SQLite the FTS5 table answers (cases.selectors.case_list).
    """
    tsquery = _tsquery(query_tokens(q))
    # CASE, not the bare condition: Django renders a condition that can match nothing (an unknown
    # matter) as the integer 0 in a SELECT list. No condition at all (a superuser): every case.
    wanted = (CaseWhen(When(conditions, then=Value(True)), default=Value(False), output_field=BooleanField())
              if conditions else Value(True))
    parts, params = _walk_parts(streams if streams is not None else [Q()], wanted, cursor)
    if not parts:
        return []
    merged = parts[0] if len(parts) == 1 else (
        f"SELECT * FROM ({' UNION ALL '.join(parts)}) u ORDER BY u.created_at DESC, u.id DESC LIMIT %s")
    if len(parts) > 1:
        params.append(RECENT_WALK)
    # Read lazily, in the walk's order, only the matches and the walk's last candidate: a common word
    # stops the walk after its first few hundred rows. A case in two streams (its region and its
    # holder) comes out twice in a row, as the merge orders by (created_at, id): lag() drops the copy,
    # so n + 1 rows hold n distinct matches or the last candidate.
    with connection.cursor() as db:
        db.execute(
            f"SELECT r.id, r.created_at, r.hit, r.rn = %s FROM (SELECT m.id, m.created_at, "
            f"m.wanted AND m.sv @@ to_tsquery('simple'::regconfig, %s) AS hit, row_number() OVER () AS rn, "
            f"lag(m.id) OVER () AS previous FROM ({merged}) m) r "
            f"WHERE (r.hit AND r.previous IS DISTINCT FROM r.id) OR r.rn = %s LIMIT %s",
            [RECENT_WALK, tsquery, *params, RECENT_WALK, n + 1])
        rows = db.fetchall()
    found = sorted({(at, pk) for pk, at, hit, _last in rows if hit}, reverse=True)
    ids = [pk for _at, pk in found[:n]]
    oldest = [(at, pk) for pk, at, _hit, last in rows if last]
    if len(ids) >= n or not oldest:
        return ids  # a full page, or the walk read every candidate there is
    at, pk = oldest[0]
    older = Case.objects.filter(conditions, Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    if streams and len(streams) <= NARROW_STREAMS:
        # The index is asked for the first token only, the whole phrase tested on what remains: PostgreSQL
        # then expects thousands of matches, not one, and ANDs the GIN bitmap with the streams' own
        # indexes, visiting only the scope's matches (201 heap blocks instead of 4,476 for 井盖缺失 in a
        # community at 1M cases), not every match in the district's history.
        words = query_tokens(q)
        older = older.filter(functools.reduce(operator.or_, streams), _PostgresMatch(_tsquery(words[:1])),
                             _PostgresRecheck(tsquery))
    else:
        older = older.filter(_PostgresMatch(tsquery))
    older = older.order_by().values("id", "created_at")
    try:
        sql, params = older.query.sql_with_params()
    except EmptyResultSet:  # conditions that match nothing (an unknown matter)
        return ids
    with connection.cursor() as db:
        db.execute(f"SELECT s.id FROM ({sql} OFFSET 0) s ORDER BY s.created_at DESC, s.id DESC LIMIT %s",
                   [*params, n - len(ids)])
        return ids + [row[0] for row in db.fetchall()]
