"""Matter search that finds 老年证 from "老年证", "老年證", "lnz" or "laonianzheng".

Residents type Simplified or Traditional characters, full pinyin or pinyin initials. Each
matter is indexed once per catalogue version (in-process, like the catalogue cache): its name
and keywords in Simplified Chinese, their full pinyin and their initials. A query is folded to
Simplified (OpenCC t2s), lower-case, without spaces, and matched by substring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import opencc

from yiwang.catalog.models import Matter, MatterFAQ
from yiwang.core.confcache import ConfigCache

_HAN = re.compile(r"[\u4e00-\u9fff]+")
_t2s = opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Simplified, lower-case, no spaces or punctuation that people leave out."""
    return re.sub(r"[\s()（）/·、,，]+", "", _t2s.convert(text or "")).lower()


def _pinyin(text: str, initials: bool = False) -> str:
    # Imported on first use: pypinyin's dictionaries cost ~57 MiB per worker, which a worker
    # that never searches (most API traffic) should not pay.
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(text, style=Style.FIRST_LETTER) if initials else lazy_pinyin(text))


@lru_cache(maxsize=4096)
def pinyin_forms(text: str) -> tuple[str, str]:
    """(full pinyin, initials) of the Han characters in ``text``."""
    han = "".join(_HAN.findall(text))
    return _pinyin(han), _pinyin(han, initials=True)


@dataclass(frozen=True)
class Entry:
    code: str
    name: str
    text: str  # folded name + keywords
    pinyin: str
    initials: str
    name_folded: str


def _load_index() -> list[Entry]:
    entries = []
    questions: dict[str, list[str]] = {}
    for code, question in MatterFAQ.objects.filter(matter__active=True).values_list("matter__code", "question"):
        questions.setdefault(code, []).append(question)
    for code, name, keywords in Matter.objects.filter(active=True).values_list("code", "name", "keywords"):
        words = [name, *keywords.split(), *questions.get(code, [])]
        full = [pinyin_forms(w) for w in words]
        entries.append(Entry(
            code=code, name=name, text=" ".join(fold(w) for w in words),
            pinyin=" ".join(f for f, _ in full), initials=" ".join(i for _, i in full), name_folded=fold(name),
        ))
    return entries


index_cache: ConfigCache[list[Entry]] = ConfigCache("catalog.matters", _load_index)


def search(query: str, *, limit: int = 20) -> list[str]:
    """Matter codes best first: name matches, then keyword matches, then pinyin and initials."""
    q = fold(query)
    if not q:
        return []
    q_pinyin = _pinyin(q) if _HAN.search(q) else q
    ranked = []
    for e in index_cache.get():
        if e.name_folded.startswith(q):
            rank = 0
        elif q in e.name_folded:
            rank = 1
        elif q in e.text:
            rank = 2
        elif q_pinyin.isascii() and (q_pinyin in e.pinyin or q_pinyin in e.initials):
            rank = 3 if q_pinyin in e.pinyin else 4
        else:
            continue
        ranked.append((rank, len(e.name), e.code))
    return [code for _, _, code in sorted(ranked)[:limit]]
