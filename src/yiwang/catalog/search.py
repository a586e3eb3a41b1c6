"""Matter search that understands residents: 合疗怎么报销, 身份证丢了, 老年正, 老年證, lnz.

A query is folded (Simplified via OpenCC t2s, lower-case, no spaces or punctuation), typos are
mended, it is cut into words by jieba, question words and particles are dropped, and the staff's
synonyms (SearchSynonym) add the catalogue's own words for what a resident said. Each word scores
the matters it occurs in, more in the name than in the keywords, guide and materials, and least in
a published FAQ question; a word found in few matters counts more than one found in many, and a word
a synonym added counts less than one the resident typed. Letters alone (lnz, laonianzheng) are
matched against the names' and keywords' pinyin and initials.

jieba runs on a dictionary of a few hundred words made from the catalogue (keywords, the parts of
the names, synonyms, question words), not on its 350,000-word default, whose load costs ~0.4 s
even from jieba's cache and over 2 s without (issue 20): building ours takes a millisecond, so
the index is rebuilt whenever the catalogue or a synonym changes, in every process, without a file.
What the small dictionary lacks, jieba's HMM cuts, and words are matched by substring anyway.
"""

from __future__ import annotations

import io
import logging
import math
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import opencc

from yiwang.catalog.models import Matter, MatterFAQ, SearchSynonym
from yiwang.core.confcache import ConfigCache

_HAN = re.compile(r"[\u4e00-\u9fff]+")
_PARTS = re.compile(r"[()（）/、,，;；:：·\s]+")
_t2s = opencc.OpenCC("t2s")

SYNONYMS = "catalog.search"  # the ConfigCache bumped when staff change a synonym

# Words that say how or where or whether, not what: a resident's question around the matter's name.
_QUESTION_WORDS = """
怎么 怎样 怎么样 如何 咋 咋办 怎么办 怎办 怎么弄 办 办理 去办 要办 想办 能办 可以办 办个 办张 办一下 在哪 在哪里 在哪儿 哪里 哪儿
去哪 去哪里 到哪 到哪里 哪个 哪些 什么 啥 多少 多久 几天 吗 呢 啊 吧 呀 嘛 么 了 的 地 得 着 过 我 我想 我要 想 要 需要
能 能不能 可不可以 可以 可否 是否 是不是 有没有 请问 问 问一下 一下 您好 你好 麻烦 谢谢 申请 申办 手续 流程 步骤 条件 材料 资料
要求 需要什么 规定 有 是 在 去 到 给 把 和 与 及 或 还 都 也 就 又 再 该 应该 得到 网上 线上 现在 今年 时候
"""
QUESTION_WORDS = frozenset(_QUESTION_WORDS.split())
MAX_QUERY = 50  # characters of the folded query that are searched
_MIN_TYPO_LEN = 3  # edit distance 1 only for words this long: 2-character words differ by one too often
_SYNONYM_WEIGHT = 0.6
_SYNONYM_MATTER_BONUS = 6.0
# Where a word is found: the name counts most, then the keywords, the guide and materials, a FAQ question.
_FIELD_WEIGHTS = (4.0, 3.0, 1.0, 0.7)


def fold(text: str) -> str:
    """Simplified, lower-case, no spaces or punctuation that people leave out."""
    return re.sub(r"[\s()（）/·、,，.。?？!！:：;；\"'“”‘’]+", "", _t2s.convert(text or "")).lower()


def _folded(query: str) -> str:
    # A resident's question is short; a page of text would only cost time (mending is quadratic).
    return fold((query or "")[:4 * MAX_QUERY])[:MAX_QUERY]


def _pinyin(text: str, initials: bool = False) -> str:
    # Imported on first use: pypinyin's dictionaries cost ~57 MiB per worker, which a worker
    # that never searches (most API traffic) should not pay.
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(text, style=Style.FIRST_LETTER) if initials else lazy_pinyin(text))


@lru_cache(maxsize=8192)
def _syllables(text: str) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin

    return tuple(lazy_pinyin(text))


@lru_cache(maxsize=4096)
def pinyin_forms(text: str) -> tuple[str, str]:
    """(full pinyin, initials) of the Han characters in ``text``."""
    han = "".join(_HAN.findall(text))
    return _pinyin(han), _pinyin(han, initials=True)


@dataclass(frozen=True)
class Entry:
    code: str
    name: str
    fields: tuple[str, str, str, str]  # folded: name, keywords, guide and materials, FAQ questions
    words: tuple[str, ...]  # name and keywords as written, for their pinyin


@dataclass(frozen=True)
class Synonym:
    parts: tuple[str, ...]  # all must occur in the folded query
    means: tuple[str, ...]
    matter_code: str


@dataclass
class Index:
    entries: list[Entry]
    synonyms: list[Synonym]
    vocabulary: frozenset[str] = frozenset()
    corpus: str = ""
    one_off: dict[str, str] = field(default_factory=dict)  # a word with one character masked or dropped → it
    tokenizer: object = None
    _df: dict[str, int] = field(default_factory=dict)
    _by_syllables: dict[tuple[str, ...], str] | None = None
    _pinyin: list[tuple[str, str, str]] | None = None

    # pypinyin takes ~0.35 s to import: only a query that needs pinyin (a typo, letters) pays it.
    @property
    def by_syllables(self) -> dict[tuple[str, ...], str]:
        if self._by_syllables is None:
            self._by_syllables = {}
            for w in sorted(self.vocabulary):
                if _HAN.fullmatch(w):
                    self._by_syllables.setdefault(_syllables(w), w)
        return self._by_syllables

    @property
    def pinyin(self) -> list[tuple[str, str, str]]:
        """(code, full pinyin, initials) of each matter's name and keywords."""
        if self._pinyin is None:
            rows = []
            for e in self.entries:
                full = [pinyin_forms(w) for w in e.words]
                rows.append((e.code, " ".join(f for f, _ in full), " ".join(i for _, i in full)))
            self._pinyin = rows
        return self._pinyin

    def df(self, word: str) -> int:
        """In how many matters ``word`` occurs anywhere (memoised: the index is rebuilt on change)."""
        n = self._df.get(word)
        if n is None:
            n = self._df[word] = sum(1 for e in self.entries if any(word in f for f in e.fields))
        return n


def _load_matters() -> list[Entry]:
    questions: dict[str, list[str]] = defaultdict(list)
    # Published entries only: a draft still holds the resident's own words until staff edit it (web/faq.py).
    published = MatterFAQ.objects.filter(matter__active=True, published_at__isnull=False)
    for code, question in published.values_list("matter__code", "question"):
        questions[code].append(question)
    entries = []
    rows = Matter.objects.filter(active=True).values_list("code", "name", "keywords", "guide", "materials")
    for code, name, keywords, guide, materials in rows:
        material_names = " ".join(m.get("name", "") for m in materials or [] if isinstance(m, dict))
        entries.append(Entry(
            code=code, name=name,
            fields=(fold(name), " ".join(fold(k) for k in keywords.split()), fold(guide + " " + material_names),
                    " ".join(fold(q) for q in questions.get(code, []))),
            words=(name, *keywords.split()),
        ))
    return entries


def _load_synonyms() -> list[Synonym]:
    rows = SearchSynonym.objects.filter(active=True).values_list("phrase", "means", "matter__code")
    synonyms = []
    for phrase, means, matter_code in rows:
        parts = tuple(p for p in (fold(w) for w in phrase.split()) if p)
        if parts:
            synonyms.append(Synonym(parts, tuple(p for p in (fold(w) for w in means.split()) if p), matter_code or ""))
    return synonyms


matters_cache: ConfigCache[list[Entry]] = ConfigCache("catalog.matters", _load_matters)
synonyms_cache: ConfigCache[list[Synonym]] = ConfigCache(SYNONYMS, _load_synonyms)
# The lists the index was built from, kept (not their ids: a freed list's id can be reused by the next).
_built: tuple[list[Entry], list[Synonym], Index] | None = None
_lock = threading.Lock()


def _tokenizer(words: set[str]):
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    # gen_pfdict reads "word freq" lines; setting FREQ ourselves skips jieba's own dictionary.
    lines = "\n".join(f"{w} {200 * len(w)}" for w in sorted(words) if w and not any(c.isspace() for c in w))
    tokenizer.FREQ, tokenizer.total = tokenizer.gen_pfdict(io.BytesIO(lines.encode()))
    tokenizer.initialized = True
    return tokenizer


def _build(entries: list[Entry], synonyms: list[Synonym]) -> Index:
    words: set[str] = set()
    for e in entries:
        words.update(_PARTS.split(e.fields[1]))
    for s in synonyms:
        words.update(s.parts)
        words.update(s.means)
    # The names' own words, cut by what the keywords and synonyms already know (老年证|办理).
    cutter = _tokenizer(words | QUESTION_WORDS)
    for e in entries:
        for part in _PARTS.split(_t2s.convert(e.name).lower()):
            words.add(part)
            words.update(cutter.lcut(part, HMM=True))
    words = {w for w in words if len(w) >= 2 and w not in QUESTION_WORDS}
    vocabulary = frozenset(words)
    one_off: dict[str, str] = {}
    for w in sorted(vocabulary, reverse=True):  # the first word in order wins a shared key
        if _HAN.fullmatch(w) and len(w) >= _MIN_TYPO_LEN:
            for i in range(len(w)):
                one_off[w[:i] + "?" + w[i + 1:]] = w  # one character replaced
                one_off[w[:i] + w[i + 1:]] = w  # one character left out
    corpus = "\n".join(f for e in entries for f in e.fields)
    return Index(entries=entries, synonyms=synonyms, vocabulary=vocabulary, corpus=corpus,
                 one_off=one_off,
                 tokenizer=_tokenizer(words | QUESTION_WORDS))


def index() -> Index:
    global _built
    entries, synonyms = matters_cache.get(), synonyms_cache.get()
    built = _built
    if built is None or built[0] is not entries or built[1] is not synonyms:
        with _lock:
            built = _built
            if built is None or built[0] is not entries or built[1] is not synonyms:
                built = _built = (entries, synonyms, _build(entries, synonyms))
    return built[2]


def _one_edit_from(span: str, idx: Index) -> str | None:
    """The catalogue word (3+ characters) one substitution, insertion or deletion away from ``span``."""
    found = idx.one_off.get(span)  # span lacks a character of the word
    for i in range(len(span)):
        if found:
            break
        found = idx.one_off.get(span[:i] + "?" + span[i + 1:])  # one character differs
        shorter = span[:i] + span[i + 1:]
        if not found and len(shorter) >= _MIN_TYPO_LEN and shorter in idx.vocabulary:
            found = shorter  # span has one character too many
    return found


def _holds_known(span: str, idx: Index) -> bool:
    # A span around a word the catalogue or the question list knows is that word and more, not a typo.
    return any(span[i:j] in idx.vocabulary or span[i:j] in QUESTION_WORDS
               for i in range(len(span)) for j in range(i + 2, len(span) + 1))


def mend(q: str, idx: Index) -> str:
    """``q`` with a span the catalogue does not contain replaced by the catalogue word it sounds like
    (老年正 → 老年证) or is one edit from (城乡居民医报 → 城乡居民医保), longest spans first."""
    if all(w in idx.corpus or w in QUESTION_WORDS or not _HAN.search(w) for w in idx.tokenizer.lcut(q)):
        return q  # every word is one the catalogue or the question list knows: nothing to mend
    out = q
    i = 0
    while i < len(out):
        replaced = False
        for length in range(min(8, len(out) - i), 1, -1):
            span = out[i:i + length]
            if not _HAN.fullmatch(span) or span in idx.corpus or _holds_known(span, idx):
                continue
            word = idx.by_syllables.get(_syllables(span))
            if word is None and length >= _MIN_TYPO_LEN:
                word = _one_edit_from(span, idx)
            if word and word != span:
                out = out[:i] + word + out[i + length:]
                i += len(word)
                replaced = True
                break
        if not replaced:
            i += 1
    return out


def terms(query: str) -> list[tuple[str, float]]:
    """The words of ``query`` that say what is wanted, each with its weight, synonyms' words added."""
    idx = index()
    return _terms(mend(_folded(query), idx), idx)


def _terms(q: str, idx: Index) -> list[tuple[str, float]]:
    if not q:
        return []
    weights: dict[str, float] = {}
    for word in idx.tokenizer.lcut(q, HMM=True):
        # A word must hold a Han character or be two letters or digits: not "=", "1" or "b".
        if word in QUESTION_WORDS or not (_HAN.search(word) or (len(word) >= 2 and word.isalnum())):
            continue
        weights[word] = max(weights.get(word, 0.0), 1.0)
    for s in idx.synonyms:
        if all(p in q for p in s.parts):
            for word in s.means:
                weights.setdefault(word, _SYNONYM_WEIGHT)
    return list(weights.items())


def _scores(query: str) -> dict[str, float]:
    idx = index()
    q = mend(_folded(query), idx)
    n = max(len(idx.entries), 1)
    scores: dict[str, float] = defaultdict(float)
    for word, weight in _terms(q, idx):
        df = idx.df(word)
        if df == 0:
            continue
        # A lone character (报, 证) is weak evidence unless it is rare in the catalogue.
        idf = math.log(1 + n / df) * (0.5 if len(word) == 1 else 1.0)
        for e in idx.entries:
            hit = next((fw for f, fw in zip(e.fields, _FIELD_WEIGHTS, strict=True) if word in f), 0.0)
            if hit:
                scores[e.code] += weight * idf * hit
    for s in idx.synonyms:
        if s.matter_code and all(p in q for p in s.parts):
            scores[s.matter_code] += _SYNONYM_MATTER_BONUS
    # The resident typed (most of) a matter's name: that matter first.
    for e in idx.entries:
        if len(q) >= 2 and q in e.fields[0]:
            scores[e.code] += 5.0
    return scores


def _pinyin_search(q: str) -> list[tuple[float, str]]:
    found = []
    for code, pinyin, initials in index().pinyin:
        if q in pinyin:
            found.append((2.0 if pinyin.startswith(q) else 1.5, code))
        elif q in initials:
            found.append((1.0, code))
    return found


def search(query: str, *, limit: int = 20) -> list[str]:
    """Matter codes, best first; [] when nothing matches. Reads only (no log: see ``resident_search``)."""
    q = _folded(query)
    if not q:
        return []
    idx = index()
    names = {e.code: e.name for e in idx.entries}
    if q.isascii() and q.isalpha():
        ranked = _pinyin_search(q)
    else:
        ranked = [(score, code) for code, score in _scores(query).items() if code in names]
    ranked.sort(key=lambda sc: (-sc[0], len(names[sc[1]]), sc[1]))
    return [code for _, code in ranked[:limit]]


def resident_search(query: str, *, limit: int = 20) -> list[str]:
    """``search`` as the portal and the API run it: a query that finds nothing is logged for staff."""
    found = search(query, limit=limit)
    if not found:
        from yiwang.catalog.services import search_miss_record

        search_miss_record(query)
    return found
