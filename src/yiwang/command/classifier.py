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
makes, so the tests and bench/dispatch.py drive the same code as `yiwang train-dispatch`. scikit-learn
fits the models; what is kept of them is their numbers (a LinearModel), which predict on their own,
and which are stored as numbers — never a pickle, whose loading would run whatever code it names.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import logging
import re
import threading
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

# Bumped when the stored layout changes: a stored model of another format is ignored, not loaded.
# Format 1 was a pickle (yiwang 0.1); format 2 is numpy's .npz of plain arrays and a JSON header.
FORMAT = 2
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
    # The vectorizer's analyzer: documents arrive already tokenized.
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


def pipeline():
    """The scikit-learn pipeline a model is fitted with; what is kept of it is a LinearModel."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    # C=10: the reports are short and their words sparse; a weaker penalty than the default keeps
    # rare but decisive words (偷, 井盖) from being flattened. lbfgs fits the multinomial model.
    return make_pipeline(TfidfVectorizer(analyzer=_as_is, sublinear_tf=True),
                         LogisticRegression(C=10.0, max_iter=2000))


@dataclass(frozen=True, eq=False)
class LinearModel:
    """A fitted pipeline() as its numbers: TF-IDF weights and the logistic regression's coefficients.

    predict_proba() is scikit-learn's, spelled out (TfidfVectorizer with sublinear_tf and l2 rows, then
    LogisticRegression: softmax over the classes, or the logistic function when there are two), so a
    model loads from plain arrays, whatever version of scikit-learn is installed or none.
    """

    classes: tuple[str, ...]
    terms: tuple[str, ...]  # the vocabulary, in column order
    idf: np.ndarray  # (terms,)
    coef: np.ndarray  # (classes, terms); one row when there are two classes
    intercept: np.ndarray  # (rows of coef,)

    def __post_init__(self) -> None:
        rows = 1 if len(self.classes) == 2 else len(self.classes)
        shapes = (self.idf.shape, self.coef.shape, self.intercept.shape)
        if (len(self.classes) < 2 or len(set(self.classes)) != len(self.classes)
                or len(set(self.terms)) != len(self.terms)
                or shapes != ((len(self.terms),), (rows, len(self.terms)), (rows,))
                or any(a.dtype != np.float64 or not np.isfinite(a).all() for a in (self.idf, self.coef, self.intercept))):
            raise ValueError(f"a model of {len(self.classes)} classes and {len(self.terms)} terms has arrays of "
                             f"shapes {shapes}")
        object.__setattr__(self, "_columns", {term: i for i, term in enumerate(self.terms)})

    @classmethod
    def from_pipeline(cls, fitted) -> LinearModel:
        vectorizer, regression = fitted[0], fitted[-1]
        return cls(classes=tuple(str(c) for c in regression.classes_),
                   terms=tuple(str(t) for t in vectorizer.get_feature_names_out()),
                   idf=np.array(vectorizer.idf_, dtype=np.float64),
                   coef=np.array(regression.coef_, dtype=np.float64),
                   intercept=np.array(regression.intercept_, dtype=np.float64))

    def weights(self, docs: Sequence[list[str]]):
        """Each document's TF-IDF row: 1 + log(count) of each known term, times its idf, at unit length."""
        from scipy.sparse import csr_matrix

        columns, indices, values, indptr = self._columns, [], [], [0]
        for doc in docs:
            counts = Counter(columns[t] for t in doc if t in columns)
            for column in sorted(counts):
                indices.append(column)
                values.append(counts[column])
            indptr.append(len(indices))
        weights = np.log(np.array(values, dtype=np.float64)) + 1.0
        weights *= self.idf[np.array(indices, dtype=np.intp)]
        for start, end in itertools.pairwise(indptr):
            row = weights[start:end]  # a view: divided in place
            if len(row):
                row /= np.sqrt(row @ row)
        return csr_matrix((weights, indices, indptr), shape=(len(docs), len(self.terms)))

    def predict_proba(self, docs: Sequence[list[str]]) -> np.ndarray:
        """(documents, classes): each document's probability of each class, in the order of ``classes``."""
        from scipy.special import expit

        scores = np.asarray(self.weights(docs) @ self.coef.T) + self.intercept
        if len(self.classes) == 2:
            positive = expit(scores[:, 0])
            return np.column_stack([1.0 - positive, positive])
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores


def _fit_linear(docs: list[list[str]], labels: list[str]) -> LinearModel:
    return LinearModel.from_pipeline(pipeline().fit(docs, labels))


def _ranked(classes, probabilities, top: int) -> list[Scored]:
    order = probabilities.argsort()[::-1][:top]
    return [Scored(str(classes[i]), float(probabilities[i])) for i in order]


@dataclass
class Classifier:
    category_model: LinearModel
    unit_model: LinearModel  # scores roles ("enforcement@3", "=XX-CC"), not units
    words: tuple[str, ...]  # the user words the tokenizer had when this was trained
    unit_index: dict[tuple[str, str], str]  # (region path, kind) → unit code, at training time
    meta: dict = field(default_factory=dict)

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
        return [Prediction(categories=_ranked(self.category_model.classes, c, top),
                           units=self._units(r, path, top))
                for c, r, (_t, path) in zip(categories, roles, items, strict=True)]

    def _units(self, probabilities, region_path: str, top: int) -> list[Scored]:
        # Roles that name no unit at this place (no police station in the town) drop out.
        codes = _codes(region_path)
        found: dict[str, float] = {}
        for i in probabilities.argsort()[::-1]:
            role = self.unit_model.classes[i]
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
        return list(self.category_model.classes)

    @property
    def units(self) -> list[str]:
        """The roles the unit model tells apart (what its labels are)."""
        return list(self.unit_model.classes)


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
        category_model = _fit_linear(texts, [e.category for e in examples])
        unit_model = _fit_linear([t + place_tokens(e.region_path) for t, e in zip(texts, examples, strict=True)],
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


# --- storage: the model travels as bytes in the database, signed, so every server loads the same one.
# The bytes are numpy's .npz: float arrays and a JSON header, read with allow_pickle=False, so loading
# them runs no code whoever wrote them; the signature is a second guard, against a model that was not
# trained here (an edited row, a database restored from elsewhere).

NPZ = b"PK\x03\x04"  # an .npz is a zip archive
PICKLE = b"\x80"  # format 1: pickle's PROTO opcode
RETRAIN = "retrain with `yiwang train-dispatch`"
_MODELS = ("category", "unit")


class UntrustedModel(ValueError):
    pass


def _signature(blob: bytes, secret: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    key = hashlib.sha256(b"yiwang.command.dispatch-model" + key).digest()
    return hmac.new(key, blob, hashlib.sha256).hexdigest()


def dumps(classifier: Classifier, *, secret: str | bytes) -> tuple[bytes, str]:
    """The model's bytes and their signature (HMAC-SHA256 under a key derived from ``secret``)."""
    header = {"format": FORMAT, "words": list(classifier.words), "meta": classifier.meta,
              "unit_index": sorted([path, kind, code] for (path, kind), code in classifier.unit_index.items())}
    arrays = {}
    for name in _MODELS:
        model: LinearModel = getattr(classifier, f"{name}_model")
        header[name] = {"classes": list(model.classes), "terms": list(model.terms)}
        arrays.update({f"{name}_idf": model.idf, f"{name}_coef": model.coef, f"{name}_intercept": model.intercept})
    out = io.BytesIO()
    np.savez_compressed(out, header=np.frombuffer(json.dumps(header, ensure_ascii=False).encode(), dtype=np.uint8),
                        **arrays)
    blob = out.getvalue()
    return blob, _signature(blob, secret)


def loads(blob: bytes, signature: str, *, secret: str | bytes) -> Classifier:
    """A stored model, if it is of this format and we signed it; UntrustedModel, saying why, if not."""
    blob = bytes(blob)
    if blob.startswith(PICKLE):
        raise UntrustedModel(f"the stored model is a pickle (the format of yiwang 0.1), which is never loaded: {RETRAIN}")
    if not blob.startswith(NPZ):
        raise UntrustedModel(f"the stored model is not in a format this yiwang reads: {RETRAIN}")
    if not hmac.compare_digest(_signature(blob, secret), signature or ""):
        raise UntrustedModel("the stored model's signature does not match this installation's secret key (it was "
                             f"trained elsewhere or under another key, or edited): {RETRAIN}")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
            header = json.loads(stored["header"].tobytes())
            if header.get("format") != FORMAT:
                raise UntrustedModel(f"the stored model has format {header.get('format')!r}, this yiwang reads "
                                     f"{FORMAT}: {RETRAIN}")
            models = {name: LinearModel(classes=_strings(header[name]["classes"]),
                                        terms=_strings(header[name]["terms"]), idf=stored[f"{name}_idf"],
                                        coef=stored[f"{name}_coef"], intercept=stored[f"{name}_intercept"])
                      for name in _MODELS}
            index = {(path, kind): code for path, kind, code in (_strings(row) for row in header["unit_index"])}
            meta = header["meta"]
            if not isinstance(meta, dict):
                raise ValueError("meta is not an object")
            return Classifier(models["category"], models["unit"], _strings(header["words"]), index, meta=meta)
    except (ValueError, TypeError, KeyError, AttributeError, OSError, zipfile.BadZipFile) as exc:
        if isinstance(exc, UntrustedModel):
            raise
        raise UntrustedModel(f"the stored model cannot be read ({exc}): {RETRAIN}") from exc


def _strings(values) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("a list of strings was expected")
    return tuple(values)


def library_versions() -> dict:
    import importlib.metadata

    return {name: importlib.metadata.version(name) for name in ("scikit-learn", "jieba", "numpy")}
