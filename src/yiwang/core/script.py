"""Simplified → Traditional for readers of 繁體 pages (zh-hant).

The interface text comes from the zh_Hant catalogue; what the database holds — the catalogue's matter
names and guides, units, regions, the timeline's labels — is written in Simplified Chinese once, and
is converted here on its way out, so a 繁體 page reads in one script. OpenCC's ``s2t`` converts by
phrase where it knows one and by character elsewhere; a few proper nouns are kept as written.
"""

from __future__ import annotations

import re
from functools import cache

# 西咸 (Xi'an + Xianyang, 咸陽) is a place name: its 咸 is not 鹹 "salty" (also kept by scripts/i18n).
KEEP = re.compile(r"西咸")


@cache
def _converter():
    import opencc

    return opencc.OpenCC("s2t")


def to_traditional(text: str) -> str:
    convert = _converter().convert
    pieces, last = [], 0
    for m in KEEP.finditer(text):
        pieces += [convert(text[last:m.start()]), m.group()]
        last = m.end()
    pieces.append(convert(text[last:]))
    return "".join(pieces)


# What a reader typed and may send back: a textarea's content and any value attribute stay as they
# are, so a form shown again after an error submits the reader's own words.
_KEEP_HTML = re.compile(r"<textarea\b[^>]*>.*?</textarea>|\bvalue=\"[^\"]*\"|\bvalue='[^']*'", re.S | re.I)


def html_to_traditional(html: str) -> str:
    pieces, last = [], 0
    for m in _KEEP_HTML.finditer(html):
        pieces += [to_traditional(html[last:m.start()]), m.group()]
        last = m.end()
    pieces.append(to_traditional(html[last:]))
    return "".join(pieces)
