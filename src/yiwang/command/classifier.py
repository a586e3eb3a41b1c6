"""智能派单's classifier: from the words of a report, the incident category and the unit to handle it.

Text is folded to Simplified Chinese (OpenCC t2s) and cut into words by jieba, with the catalogue's
category keywords added as words of their own; each report becomes its words and adjacent word pairs.
Two linear models (scikit-learn's multinomial logistic regression over TF-IDF weights) score them.

The category model learns the category from the words. The unit model learns the unit's *role*
relative to the report's place — "the enforcement team of the report's town", "the police of its
city" — from the words and the place, and the role is then resolved to the unit holding it there.
A district has dozens of units but a handful of roles, so each role is learnt from every town's
cases rather than each unit from its own few; a unit no role reaches (one outside the place's chain)
is learnt as itself.

Nothing here touches the database: the service passes rows in and stores the bytes this module
makes, so the tests and bench/dispatch.py drive the same code as `yiwang train-dispatch`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import pickle
import re
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Bumped when the pickled layout changes: a stored model of another format is ignored, not loaded.
FORMAT = 1
TOP = 3

_lock = threading.Lock()
_tokenizer = None
_t2s = None
_words_added: set[str] = set()
_WORDLIKE = re.compile(r"[\u4e00-\u9fffa-z]")  # a token must hold a Han character or a letter


def _tools():
    """jieba's tokenizer and the t2s converter, made once per process (loading jieba's dictionary
    takes about a second, so no process pays it before it first classifies something)."""
    global _tokenizer, _t2s
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba
                import opencc

                jieba.setLogLevel(logging.WARNING)  # it prints its dictionary loading to stderr otherwise
                tokenizer = jieba.Tokenizer()  # our own instance: words we add do not leak into other users
                tokenizer.initialize()
                _t2s = opencc.OpenCC("t2s")
                _tokenizer = tokenizer
    return _tokenizer, _t2s


def add_words(words: Iterable[str]) -> None:
    """Teach the tokenizer words it must keep whole (the categories' keywords: 井盖, 牛皮癣)."""
    tokenizer, t2s = _tools()
    with _lock:
        for word in words:
            word = t2s.convert(word.strip()).lower()
            if word and word not in _words_added:
                tokenizer.add_word(word)
                _words_added.add(word)


def tokens(text: str) -> list[str]:
    tokenizer, t2s = _tools()
    words = [w for w in tokenizer.lcut(t2s.convert(text or "").lower()) if _WORDLIKE.search(w)]
    return words + [f"{a}_{b}" for a, b in itertools.pairwise(words)]


def place_tokens(region_path: str) -> list[str]:
    """"/XX/KG/KG-DZ/" → the place and each region above it, as tokens no text can contain."""
    codes = [c for c in (region_path or "").split("/") if c]
    return [f"@{c}" for c in codes]


def _as_is(doc: list[str]) -> list[str]:
    # The vectorizer's analyzer: documents arrive already tokenized. Module level, so it pickles by name.
    return doc


@dataclass(frozen=True)
class Example:
    """One closed case to learn from: what was reported, where, and what it turned out to be."""

    text: str
    region_path: str
    category: str
    unit: str


@dataclass(frozen=True)
class UnitRef:
    """A unit the model may name: where it sits and what kind it is (from org's hierarchy)."""

    code: str
    kind: str
    region_path: str


def _codes(path: str) -> list[str]:
    return [c for c in (path or "").split("/") if c]


def _role(unit: UnitRef | None, code: str, region_path: str, index: dict[tuple[str, str], str]) -> str:
    """"kind@depth" when the unit sits on the place's chain (depth: how many levels from the top) and
    is the unit of its kind there, else "=code": the unit itself."""
    if (unit is not None and region_path.startswith(unit.region_path)
            and index.get((unit.region_path, unit.kind)) == unit.code):
        return f"{unit.kind}@{len(_codes(unit.region_path))}"
    return f"={code}"


@dataclass(frozen=True)
class Scored:
    code: str
    probability: float


@dataclass(frozen=True)
class Prediction:
    categories: list[Scored]  # best first, at most TOP
    units: list[Scored]


class TooLittleData(ValueError):
    pass


def _pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    # C=10: the reports are short and their words sparse; a weaker penalty than the default keeps
    # rare but decisive words (偷, 井盖) from being flattened. lbfgs fits the multinomial model.
    return make_pipeline(TfidfVectorizer(analyzer=_as_is, sublinear_tf=True),
                         LogisticRegression(C=10.0, max_iter=2000))


def _ranked(classes, probabilities, top: int) -> list[Scored]:
    order = probabilities.argsort()[::-1][:top]
    return [Scored(str(classes[i]), float(probabilities[i])) for i in order]


@dataclass
class Classifier:
    category_model: object
    unit_model: object  # scores roles ("enforcement@3", "=XX-CC"), not units
    words: tuple[str, ...]  # the user words the tokenizer had when this was trained
    unit_index: dict[tuple[str, str], str]  # (region path, kind) → unit code, at training time
    meta: dict = field(default_factory=dict)
    format: int = FORMAT

    def prepare(self) -> None:
        """Give this process's tokenizer the words the model was trained with."""
        add_words(self.words)

    def predict(self, text: str, region_path: str = "", *, top: int = TOP) -> Prediction:
        return self.predict_many([(text, region_path)], top=top)[0]

    def predict_many(self, items: Sequence[tuple[str, str]], *, top: int = TOP) -> list[Prediction]:
        """predict() for many (text, region path) pairs at once: one matrix product per model, so a
        board of 200 reports costs little more than one."""
        if not items:
            return []
        words = [tokens(text) for text, _path in items]
        categories = self.category_model.predict_proba(words)
        roles = self.unit_model.predict_proba([w + place_tokens(path) for w, (_t, path) in zip(words, items, strict=True)])
        return [Prediction(categories=_ranked(self.category_model.classes_, c, top),
                           units=self._units(r, path, top))
                for c, r, (_t, path) in zip(categories, roles, items, strict=True)]

    def _units(self, probabilities, region_path: str, top: int) -> list[Scored]:
        # Roles that name no unit at this place (no police station in the town) drop out.
        codes = _codes(region_path)
        found: dict[str, float] = {}
        for i in probabilities.argsort()[::-1]:
            role = str(self.unit_model.classes_[i])
            if role.startswith("="):
                unit = role[1:]
            else:
                kind, _at, depth = role.rpartition("@")
                unit = self.unit_index.get(("/" + "".join(c + "/" for c in codes[: int(depth)]), kind)) \
                    if len(codes) >= int(depth) else None
            if unit is not None:
                found[unit] = found.get(unit, 0.0) + float(probabilities[i])
        ranked = sorted(found.items(), key=lambda item: -item[1])[:top]
        return [Scored(code, p) for code, p in ranked]

    @property
    def categories(self) -> list[str]:
        return [str(c) for c in self.category_model.classes_]

    @property
    def units(self) -> list[str]:
        """The roles the unit model tells apart (what its labels are)."""
        return [str(c) for c in self.unit_model.classes_]


def fit(examples: Sequence[Example], *, units: Iterable[UnitRef], words: Iterable[str] = ()) -> Classifier:
    """Train both models on ``examples``; ``units`` are the district's units, to resolve roles with.
    Each model needs at least two different labels to tell apart."""
    words = tuple(sorted({w for w in words if w}))
    add_words(words)
    by_code = {u.code: u for u in units}
    index: dict[tuple[str, str], str] = {}
    for u in sorted(by_code.values(), key=lambda u: u.code):
        index.setdefault((u.region_path, u.kind), u.code)
    roles = [_role(by_code.get(e.unit), e.unit, e.region_path, index) for e in examples]
    if len({e.category for e in examples}) < 2 or len(set(roles)) < 2:
        raise TooLittleData("at least two categories and two kinds of unit are needed")
    texts = [tokens(e.text) for e in examples]
    with warnings.catch_warnings():
        # A young district has many units and few cases each; scikit-learn then wonders whether the
        # labels are numbers to regress. They are not, and the data is what it is.
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")
        category_model = _pipeline().fit(texts, [e.category for e in examples])
        unit_model = _pipeline().fit([t + place_tokens(e.region_path) for t, e in zip(texts, examples, strict=True)],
                                     roles)
    return Classifier(category_model, unit_model, words, index, meta={"examples": len(examples)})


def split_by_time(examples: Sequence[Example], test_share: float = 0.2) -> tuple[list[Example], list[Example]]:
    """Older cases to learn from, the newest to test on (``examples`` must be in time order): a model
    is judged on reports that came after everything it learnt from, as it will be in use."""
    cut = len(examples) - max(1, round(len(examples) * test_share))
    return list(examples[:cut]), list(examples[cut:])


def evaluate(classifier: Classifier, examples: Sequence[Example]) -> dict:
    """Top-1 and top-3 accuracy for category and unit over ``examples``."""
    hits: Counter = Counter()
    for e in examples:
        p = classifier.predict(e.text, e.region_path)
        cats, units = [s.code for s in p.categories], [s.code for s in p.units]
        hits["category_top1"] += cats[:1] == [e.category]
        hits["category_top3"] += e.category in cats
        hits["unit_top1"] += units[:1] == [e.unit]
        hits["unit_top3"] += e.unit in units
    n = len(examples)
    keys = ("category_top1", "category_top3", "unit_top1", "unit_top3")
    return {"tested_on": n, **{k: round(hits[k] / n, 4) if n else None for k in keys}}


# --- storage: the model travels as bytes in the database, signed, so every server loads the same one


class UntrustedModel(ValueError):
    pass


def _signature(blob: bytes, secret: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    key = hashlib.sha256(b"yiwang.command.dispatch-model" + key).digest()
    return hmac.new(key, blob, hashlib.sha256).hexdigest()


def dumps(classifier: Classifier, *, secret: str | bytes) -> tuple[bytes, str]:
    """The model's bytes and their signature (HMAC-SHA256 under a key derived from ``secret``)."""
    blob = pickle.dumps(classifier, protocol=pickle.HIGHEST_PROTOCOL)
    return blob, _signature(blob, secret)


def loads(blob: bytes, signature: str, *, secret: str | bytes) -> Classifier:
    """Unpickle a model only if we signed it: unpickling runs code, so bytes anybody else could have
    written into the row (an edited database, a restored dump from elsewhere) are refused unread."""
    if not hmac.compare_digest(_signature(bytes(blob), secret), signature or ""):
        raise UntrustedModel("the stored model's signature does not match: retrain with `yiwang train-dispatch`")
    classifier = pickle.loads(bytes(blob))  # signed by this installation's secret: checked above
    if not isinstance(classifier, Classifier) or getattr(classifier, "format", None) != FORMAT:
        raise UntrustedModel("the stored model has another format: retrain with `yiwang train-dispatch`")
    return classifier


def library_versions() -> dict:
    import importlib.metadata

    return {name: importlib.metadata.version(name) for name in ("scikit-learn", "jieba", "numpy")}
