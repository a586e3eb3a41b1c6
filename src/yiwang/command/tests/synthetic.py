"""Generated incident reports for training tests: a few sentence templates per category, filled with
its keywords, places and filler, so that a model has to learn words rather than whole sentences."""

from __future__ import annotations

import random

from yiwang.command.classifier import Example, UnitRef

# category → (keywords, templates, the unit that handles it)
CATEGORIES = {
    "INC_PARKING": ("乱停车 违停", (
        "{place}{spot}车辆{kw}，{tail}", "{spot}有私家车{kw}，堵住了{place}出入口", "{place}{spot}经常有车辆双排停放",
        "{place}机动车占用人行道停放，{tail}", "{spot}附近{kw}严重，行人没法走"), "KG-DZ-EN"),
    "INC_THEFT": ("盗窃 偷", (
        "{place}夜里有人{kw}电动车电瓶，{tail}", "{place}{spot}发生{kw}案件", "{spot}有可疑人员徘徊，怀疑要{kw}东西",
        "{place}村民家的狗被{kw}了", "{place}门墩石被{kw}，{tail}"), "KG-EN"),
    "INC_SANITATION": ("垃圾 卫生 清运", (
        "{place}{spot}{kw}桶满溢没人{kw2}，{tail}", "{spot}路边堆放建筑{kw}", "{place}公厕{kw}很差，臭味很大",
        "{place}{spot}{kw}堆积发臭", "{spot}的{kw}好几天没有{kw2}"), "KG-OF"),
}
PLACES = (("/XX/KG/KG-DZ/KG-DZ-XFL/KG-DZ-XFL-G1/", "幸福里"), ("/XX/KG/KG-DZ/KG-DZ-CJC/", "程家村"),
          ("/XX/KG/KG-DZ/KG-DZ-XFL/KG-DZ-XFL-G2/", "幸福里社区"))
SPOTS = ("学校门口", "商场周边", "小区门口", "医院门口", "村口", "菜市场旁边", "公交站")
TAILS = ("请尽快处理", "影响出行", "麻烦管一下", "群众反映强烈", "希望有关部门处理", "已经好几天了")


def report(rng: random.Random, category: str) -> Example:
    keywords, templates, unit = CATEGORIES[category]
    words = keywords.split()
    text = rng.choice(templates).format(place=rng.choice(PLACES)[1], spot=rng.choice(SPOTS), kw=words[0],
                                        kw2=words[-1], tail=rng.choice(TAILS))
    return Example(text, rng.choice(PLACES)[0], category, unit)


def reports(n: int, *, seed: int = 1) -> list[Example]:
    rng = random.Random(seed)
    return [report(rng, rng.choice(sorted(CATEGORIES))) for _ in range(n)]


def keywords() -> list[str]:
    return [w for kws, _t, _u in CATEGORIES.values() for w in kws.split()]


UNITS = (UnitRef("KG-DZ-EN", "enforcement", "/XX/KG/KG-DZ/"), UnitRef("KG-EN", "enforcement", "/XX/KG/"),
         UnitRef("KG-OF", "office", "/XX/KG/"), UnitRef("QH-WC-SH", "service_hall", "/XX/QH/QH-WC/"))
