"""The default search synonyms: what residents say for the catalogue's words.

Loaded by ``yiwang search-synonyms load`` (and by the demo); staff edit them, and add their own,
in the admin (搜索同义词), typically from the log of queries that found nothing (无结果搜索).
A phrase of several words matches a query holding all of them, in any order. ``matter`` names a
matter code the phrase points at directly; it is skipped where the catalogue has no such matter.
"""

from __future__ import annotations

# (phrase, means, matter code or "")
DEFAULT_SYNONYMS: tuple[tuple[str, str, str], ...] = (
    ("合疗", "城乡居民医保 医保", ""),
    ("新农合", "合疗 城乡居民医保", ""),
    ("看病", "就医 医疗", ""),
    ("住院", "医保 报销", ""),
    ("身份证 丢", "补领 补办", "ID_CARD_RENEW"),
    ("身份证 到期", "换领", "ID_CARD_RENEW"),
    ("身份证 换", "换领", "ID_CARD_RENEW"),
    ("公积金 取", "提取", ""),
    ("公积金 提", "提取", ""),
    ("慢病", "慢特病 慢性病", ""),
    ("退休金", "养老金 待遇领取", ""),
    ("缴费", "参保", ""),
    ("90岁", "高龄", ""),
    ("补助", "补贴 救助", ""),
    ("生孩子", "生育", ""),
    ("被偷", "盗窃", ""),
    ("垃圾 满", "清运 卫生", ""),
)
