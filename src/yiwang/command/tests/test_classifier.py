"""智能派单's classifier on generated reports: it learns, ranks, survives any input, and refuses
stored bytes it did not sign."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yiwang.command import classifier
from yiwang.command.tests import synthetic


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


def test_only_bytes_we_signed_are_unpickled(trained):
    model, _test = trained
    blob, signature = classifier.dumps(model, secret="secret-a")
    again = classifier.loads(blob, signature, secret="secret-a")
    assert again.predict("路口乱停车") == model.predict("路口乱停车")
    with pytest.raises(classifier.UntrustedModel):
        classifier.loads(blob, signature, secret="secret-b")  # another installation's key
    with pytest.raises(classifier.UntrustedModel):
        classifier.loads(blob[:-1] + b"\x00", signature, secret="secret-a")  # edited bytes
    import pickle

    evil = pickle.dumps({"not": "a model"})
    with pytest.raises(classifier.UntrustedModel):
        classifier.loads(evil, "", secret="secret-a")
