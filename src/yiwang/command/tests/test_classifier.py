"""智能派单's classifier on generated reports: it learns, ranks, survives any input, and refuses
stored bytes it did not sign or cannot read as numbers — it never unpickles them."""

import io
import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yiwang.command import classifier
from yiwang.command.tests import synthetic
from yiwang.command.tests.conftest import UNPICKLED, Payload


@pytest.fixture(scope="module")
def trained():
    examples = synthetic.reports(400)
    train, test = classifier.split_by_time(examples)
    return classifier.fit(train, units=synthetic.UNITS, words=synthetic.keywords()), test


def test_training_on_generated_reports_reaches_a_sane_accuracy(trained):
    model, test = trained
    scores = classifier.evaluate(model, test)
    assert scores["tested_on"] == 80
    assert scores["category_top1"] >= 0.95 and scores["unit_top1"] >= 0.95
    assert scores["category_top3"] == scores["unit_top3"] == 1.0  # three labels each: top-3 holds all


def test_a_new_wording_is_classified_by_its_words(trained):
    model, _test = trained
    p = model.predict("晚上有人偷走了我家的电瓶", "/XX/KG/KG-DZ/KG-DZ-CJC/")
    assert p.categories[0].code == "INC_THEFT" and p.units[0].code == "KG-EN"
    p = model.predict("小区门口垃圾没人清运，臭得很")
    assert p.categories[0].code == "INC_SANITATION"


def test_traditional_characters_read_as_simplified(trained):
    model, _test = trained
    assert model.predict("學校門口車輛亂停車").categories[0].code == "INC_PARKING"


def test_the_top_three_come_ordered_with_probabilities_summing_to_at_most_one(trained):
    model, _test = trained
    p = model.predict("学校门口车辆乱停车，请尽快处理", "/XX/KG/KG-DZ/KG-DZ-XFL/")
    for ranked in (p.categories, p.units):
        probabilities = [s.probability for s in ranked]
        assert len(ranked) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-9
    assert p.categories[0].code == "INC_PARKING" and p.categories[0].probability > 0.5


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=300), path=st.sampled_from(["", "/XX/", "/XX/QH/QH-WC/", "/nowhere/"]))
def test_any_text_gets_a_ranked_answer(trained, text, path):
    model, _test = trained
    p = model.predict(text, path)
    assert [s.probability for s in p.units] == sorted((s.probability for s in p.units), reverse=True)
    assert all(0 <= s.probability <= 1 for s in p.categories + p.units)
    assert sum(s.probability for s in p.categories) <= 1 + 1e-9


def test_a_role_learnt_in_one_town_names_the_unit_of_another():
    examples = synthetic.reports(300)
    units = (*synthetic.UNITS, classifier.UnitRef("QH-WC-EN", "enforcement", "/XX/QH/QH-WC/"))
    model = classifier.fit(examples, units=units, words=synthetic.keywords())
    assert "enforcement@3" in model.units  # 底张's team, learnt as "the enforcement team of the town"
    parked = model.predict("学校门口车辆乱停", "/XX/QH/QH-WC/QH-WC-SPD/")  # 渭城: no case from there in training
    assert parked.units[0].code == "QH-WC-EN"
    stolen = model.predict("夜里有人偷电瓶", "/XX/QH/QH-WC/QH-WC-SPD/")
    assert "KG-EN" not in {s.code for s in stolen.units}  # 秦汉 has no city enforcement bureau: that role drops
    assert sum(s.probability for s in stolen.units) <= 1


def test_without_a_place_only_units_learnt_as_themselves_are_named(trained):
    model, _test = trained
    assert model.predict("学校门口车辆乱停").units == []


def test_many_at_once_agree_with_one_at_a_time(trained):
    model, test = trained
    items = [(e.text, e.region_path) for e in test[:10]]
    assert model.predict_many(items) == [model.predict(t, r) for t, r in items]
    assert model.predict_many([]) == []


def test_keywords_stay_whole_words():
    classifier.add_words(["牛皮癣"])
    assert "牛皮癣" in classifier.tokens("电线杆上贴满了牛皮癣")
    assert "@KG-DZ" in classifier.place_tokens("/XX/KG/KG-DZ/") and classifier.place_tokens("") == []


def test_the_split_keeps_time_order():
    examples = synthetic.reports(10)
    train, test = classifier.split_by_time(examples)
    assert train == examples[:8] and test == examples[8:]


def test_one_category_is_too_little_to_learn_from():
    same = [e for e in synthetic.reports(60) if e.category == "INC_PARKING"]
    with pytest.raises(classifier.TooLittleData):
        classifier.fit(same, units=synthetic.UNITS)


def _docs(n: int, offset: int = 0):
    examples = synthetic.reports(n + offset)[offset:]
    return [classifier.tokens(e.text) + classifier.place_tokens(e.region_path) for e in examples], examples


@pytest.mark.parametrize("labels", ["categories", "two categories"])
def test_the_kept_numbers_predict_as_scikit_learn_does(labels):
    docs, examples = _docs(300)
    if labels == "two categories":  # scikit-learn's logistic function instead of the softmax
        kept = [i for i, e in enumerate(examples) if e.category in {"INC_PARKING", "INC_THEFT"}]
        docs, examples = [docs[i] for i in kept], [examples[i] for i in kept]
    fitted = classifier.pipeline().fit(docs, [e.category for e in examples])
    numbers = classifier.LinearModel.from_pipeline(fitted)
    unseen, _examples = _docs(60, offset=300)
    unseen += [[], ["没见过的词"], ["停车", "停车", "@KG"]]
    assert np.abs(numbers.predict_proba(unseen) - fitted.predict_proba(unseen)).max() < 1e-9
    assert list(numbers.classes) == [str(c) for c in fitted.classes_]


def test_a_stored_model_answers_as_it_did_before_it_was_stored(trained):
    model, test = trained
    blob, signature = classifier.dumps(model, secret="secret-a")
    again = classifier.loads(blob, signature, secret="secret-a")
    items = [(e.text, e.region_path) for e in test] + [("", ""), ("學校門口車輛亂停車", "/XX/QH/QH-WC/")]
    for before, after in zip(model.predict_many(items), again.predict_many(items), strict=True):
        for ranked_before, ranked_after in ((before.categories, after.categories), (before.units, after.units)):
            assert [s.code for s in ranked_after] == [s.code for s in ranked_before]
            assert np.allclose([s.probability for s in ranked_after], [s.probability for s in ranked_before],
                               rtol=0, atol=1e-9)
    assert (again.words, again.unit_index, again.meta) == (model.words, model.unit_index, model.meta)


def test_only_bytes_we_signed_are_loaded(trained):
    model, _test = trained
    blob, signature = classifier.dumps(model, secret="secret-a")
    with pytest.raises(classifier.UntrustedModel, match="signature does not match"):
        classifier.loads(blob, signature, secret="secret-b")  # another installation's key
    with pytest.raises(classifier.UntrustedModel, match="signature does not match"):
        classifier.loads(blob[:100] + bytes([blob[100] ^ 1]) + blob[101:], signature, secret="secret-a")  # edited


def test_a_stored_model_is_never_unpickled(trained, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was asked to load something")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    model, _test = trained
    good = classifier.dumps(model, secret="secret-a")
    assert classifier.loads(*good, secret="secret-a").categories == model.categories

    old = pickle.dumps(Payload())  # format 1 was a pickle: even one signed with our key is not loaded
    with pytest.raises(classifier.UntrustedModel, match=r"is a pickle .* never loaded: retrain with `yiwang train-dispatch`"):
        classifier.loads(old, classifier._signature(old, "secret-a"), secret="secret-a")
    inside = _npz({"format": 2}, category_idf=np.array([Payload()], dtype=object))  # an object array is a pickle
    with pytest.raises(classifier.UntrustedModel, match="cannot be read"):
        classifier.loads(inside, classifier._signature(inside, "secret-a"), secret="secret-a")
    assert UNPICKLED == []


def _npz(header: dict, **arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    return out.getvalue()


def _spoiled(model, change):
    blob, _signature = classifier.dumps(model, secret="secret-a")
    with np.load(io.BytesIO(blob)) as stored:
        arrays = {name: stored[name] for name in stored.files}
    header = json.loads(arrays.pop("header").tobytes())
    change(header, arrays)
    return _npz(header, **arrays)


@pytest.mark.parametrize("change", [
    lambda header, arrays: header.update(format=1),
    lambda header, arrays: header["category"]["classes"].pop(),
    lambda header, arrays: arrays.update(unit_coef=arrays["unit_coef"][:, :-1]),
    lambda header, arrays: arrays.update(category_idf=arrays["category_idf"].astype(np.float32)),
    lambda header, arrays: arrays.update(category_intercept=np.full_like(arrays["category_intercept"], np.nan)),
    lambda header, arrays: arrays.pop("unit_idf"),
    lambda header, arrays: header.update(words="井盖"),
    lambda header, arrays: header.update(unit_index=[[1, 2, 3]]),
], ids=["format", "classes", "shape", "dtype", "nan", "missing", "words", "index"])
def test_signed_bytes_that_are_not_a_model_of_this_format_are_refused(trained, change):
    model, _test = trained
    blob = _spoiled(model, change)
    with pytest.raises(classifier.UntrustedModel, match="retrain with `yiwang train-dispatch`"):
        classifier.loads(blob, classifier._signature(blob, "secret-a"), secret="secret-a")
