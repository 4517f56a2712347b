"""The assistant's models through the facade (shouhou.assistant.nlp): contract, bad input,
the shipped model files, and measured quality.

Quality checks measure and can fail: the shipped sentiment model on held-out reviews it
was never trained on, and a cross-validated intent macro-F1 as a regression guard.
"""

from __future__ import annotations

import csv
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from shouhou.assistant import nlp
from shouhou.assistant.nlp import evaluation, training
from shouhou.assistant.nlp.linear import Featurizer, LinearModel, npz_has_pickle
from shouhou.cases.lifecycle import DEFAULT_REASON_TYPES, CaseType, Reason

PACKAGED = training.PACKAGED_MODELS
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

BAD_INPUTS = {
    "empty": "",
    "spaces": "   \n\t  \u3000 ",
    "long_100kb": "质量太差了，要求退款！" * 10_000,
    "emoji_only": "😡😡😡🙏🙏",
    "english": "Hi, where is my parcel? I paid three days ago and nothing has shipped.",
    "traditional": "這件衣服質量太差了，洗一次就掉色，我要退貨退款",
    "html_script": '<script>alert("x")</script><b>什么时候发货</b><img src=x onerror=alert(1)>',
    "control_chars": "退\x00款\x07\ufeff吗",
    "only_punct": "？？？！！！。。。",
}
BLANK = {"empty", "spaces"}


def reviews_or_skip() -> list[training.Review]:
    path = training.default_reviews_path()
    if not path.is_file():
        pytest.skip(f"the shared reviews CSV is not at {path} (set {training.REVIEWS_ENV})")
    return training.read_reviews(path)


# --- contract ---------------------------------------------------------------------------------
def test_contract_constants():
    assert nlp.INTENTS == (
        "greeting",
        "product_inquiry",
        "promotion_price",
        "shipping_time",
        "logistics_tracking",
        "order_change",
        "return_refund",
        "quality_complaint",
        "other",
    )
    assert set(nlp.INTENT_LABELS) == set(nlp.INTENTS)
    assert nlp.INTENT_LABELS["shipping_time"] == "发货咨询/催发货"
    assert nlp.normalize("  <b>這個</b>ＡＢＣ  ") == "这个 abc"  # a tag is a word break


def test_common_messages_get_their_intent():
    # Messages written for this test, not copied from the seed set.
    cases = {
        "亲，在不在呀": "greeting",
        "怎么还不发货啊，都三天了": "shipping_time",
        "快递到哪了，单号发我一下": "logistics_tracking",
        "地址写错了能帮我改一下吗": "order_change",
        "收到的东西坏了，我要退款": "return_refund",
        "有优惠券吗，能便宜点不": "promotion_price",
    }
    got = {text: nlp.intent(text).label for text in cases}
    right = sum(got[t] == want for t, want in cases.items())
    assert right >= 5, got


def test_batch_equals_single_calls():
    # Same labels; scores equal up to float rounding (a batched matrix product may sum in
    # another order than a single row's, so the 6th decimal can differ by one).
    texts = ["亲 在吗", "", "退kuan", "什么时候发货", "😡", "质量太差了"]
    for batch, single in (
        (nlp.intents(texts), [nlp.intent(t) for t in texts]),
        (nlp.sentiments(texts), [nlp.sentiment(t) for t in texts]),
        (nlp.reasons(texts), [nlp.reason(t) for t in texts]),
    ):
        assert [x.label for x in batch] == [x.label for x in single]
        assert [x.score for x in batch] == pytest.approx([x.score for x in single], abs=2e-6)


# --- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gives_sane_labels(name):
    text = BAD_INPUTS[name]
    i, s, r, t = nlp.intent(text), nlp.sentiment(text), nlp.reason(text), nlp.triage(text)
    angry = nlp.is_angry(text)
    assert i.label in nlp.INTENTS and 0.0 <= i.score <= 1.0
    assert s.label in ("positive", "negative") and 0.0 <= s.score <= 1.0
    assert r.label in {x.value for x in Reason} and 0.0 <= r.score <= 1.0
    assert CaseType(t.case_type) in DEFAULT_REASON_TYPES[Reason(t.reason)]
    assert 0.0 <= t.reason_score <= 1.0 and 0.0 <= t.type_score <= 1.0
    assert isinstance(angry, bool)
    if name in BLANK:
        assert i == nlp.Label("other", 0.0)
        assert s == nlp.Label("positive", 0.5)
        assert r == nlp.Label("other", 0.0)
        assert not angry


def test_markup_and_traditional_read_as_plain_simplified_text():
    assert nlp.intent("<p>什么时候<b>发货</b></p>") == nlp.intent("什么时候 发货")
    assert nlp.intent("這件衣服質量太差了") == nlp.intent("这件衣服质量太差了")
    assert nlp.sentiment("這家店的服務很好") == nlp.sentiment("这家店的服务很好")


def test_a_100kb_message_costs_what_its_first_2000_characters_cost():
    long = "快递到哪了" + "啊" * 100_000
    assert nlp.intent(long) == nlp.intent(("快递到哪了" + "啊" * 100_000)[:2000])


# --- anger ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "再不处理我就打12315投诉你们",
        "骗子商家，差评！",
        "你们这是黑店吧",
        "我要找律师起诉你们",
        "什么破质量，气死了！！",
        "发货慢死了，太差劲了",
    ],
)
def test_escalation_words_are_angry(text):
    assert nlp.is_angry(text)


@pytest.mark.parametrize(
    "text",
    [
        "能用工商银行的卡付款吗",
        "垃圾袋有加厚的吗",
        "我的订单号是 2024123150001",
        "滚筒洗衣机什么时候到货",
        "谢谢亲，收到了很喜欢",
        "请问什么时候发货呀",
        "这是给我妈的生日礼物，能快点发吗",
        # Review-trained sentiment reads 退货 as negative; a calm question is not anger.
        "退货寄到哪里",
        "无理由退货吗",
        "水果烂了一半，能补发吗",
    ],
)
def test_ordinary_messages_are_not_angry(text):
    assert not nlp.is_angry(text)


# --- triage -----------------------------------------------------------------------------------
def test_triage_suggests_an_allowed_type_and_the_obvious_reasons():
    for text in [
        "收到的杯子碎了一地",
        "衣服小了一码，想换大一号",
        "还没发货，不想要了，退款吧",
        "刚买完就降价了，补个差价",
        "快递显示签收了但我根本没收到",
    ]:
        t = nlp.triage(text)
        assert CaseType(t.case_type) in DEFAULT_REASON_TYPES[Reason(t.reason)], (text, t)
    assert nlp.triage("收到的杯子碎了一地").reason == "damaged"
    assert nlp.triage("刚买完就降价了，补个差价").reason == "price_change"
    assert nlp.triage("刚买完就降价了，补个差价").case_type == "price_protect"
    assert nlp.triage("还没发货，不想要了，退款吧").case_type == "refund_only"


def test_triage_never_suggests_what_the_policy_forbids():
    texts, _, _ = training.reason_examples()
    for text in texts[::7]:
        t = nlp.triage(text)
        assert CaseType(t.case_type) in DEFAULT_REASON_TYPES[Reason(t.reason)], (text, t)


# --- the shipped files ------------------------------------------------------------------------
@pytest.mark.parametrize("name", nlp.MODEL_NAMES)
def test_shipped_model_is_safe_and_loads(name):
    npz, meta_path = PACKAGED / f"{name}.npz", PACKAGED / f"{name}.json"
    assert npz.is_file() and meta_path.is_file()
    assert not npz_has_pickle(npz)
    with np.load(npz, allow_pickle=False) as z:
        assert sorted(z.files) == ["indices", "intercept", "weights"]
        assert z["indices"].dtype == np.int32 and z["weights"].dtype == np.float16
        assert np.all(np.diff(z["indices"]) > 0)  # sorted, unique: searchsorted relies on it
    with zipfile.ZipFile(npz) as zf:
        assert all(n.endswith(".npy") for n in zf.namelist())
    meta = json.loads(meta_path.read_text("utf-8"))
    m = LinearModel.load(PACKAGED, name)
    assert m.weights.shape == (len(m.indices), 1 if name == "sentiment" else len(m.classes))
    assert meta["classes"] == list(m.classes)
    if name == "intent":
        assert set(m.classes) == set(nlp.INTENTS)


@pytest.mark.parametrize(
    ("name", "data"),
    [("intent", training.INTENTS_CSV), ("reason", training.REASONS_CSV),
     ("case_type", training.REASONS_CSV)],
)  # fmt: skip
def test_shipped_classifiers_were_trained_on_the_shipped_seed_data(name, data):
    # Editing a seed CSV means retraining: `shouhou assistant train --package --only intent`
    # (or reason). Otherwise the product serves a model of data that is no longer there.
    meta = json.loads((PACKAGED / f"{name}.json").read_text("utf-8"))
    assert meta["data"] == training.file_info(data), (
        f"{name} model is stale: run `shouhou assistant train --package --only "
        f"{'intent' if name == 'intent' else 'reason'}`"
    )


def test_shipped_models_are_small():
    total = sum(p.stat().st_size for p in PACKAGED.iterdir() if p.is_file())
    assert total < 15 * 1024 * 1024


def test_an_object_array_is_detected_as_pickle(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, indices=np.array([1], np.int32), weights=np.array([object()], dtype=object))
    assert npz_has_pickle(path)
    with pytest.raises(ValueError), np.load(path, allow_pickle=False) as z:
        z["weights"]


def test_save_and_load_round_trip(tmp_path):
    texts = ["好用 推荐", "很好 满意", "太差了 退货", "垃圾 失望", "不错 喜欢", "质量差 后悔"]
    labels = ["p", "p", "n", "n", "p", "n"]
    m = training.fit_classifier(texts, labels, classes=("n", "p"), prune=0.0)
    m.save(tmp_path, "toy")
    back = LinearModel.load(tmp_path, "toy")
    assert back.classes == ("n", "p")
    # float16 on disk: probabilities agree to about three digits.
    assert np.allclose(back.proba(texts), m.proba(texts), atol=5e-3)
    assert back.predict(["很好 推荐"]) == ["p"]


def test_features_are_unit_length_and_stable():
    f = Featurizer(n_bits=20)
    idx, vals = f.vector("快递到哪了 快递")
    assert idx.dtype == np.int32 and np.all(np.diff(idx) > 0)
    assert abs(float(np.dot(vals, vals)) - 1.0) < 1e-5
    again = f.vector("快递到哪了 快递")
    assert np.array_equal(idx, again[0]) and np.array_equal(vals, again[1])
    assert f.vector("")[0].size == 0


# --- measured quality -------------------------------------------------------------------------
def test_heldout_split_is_a_stable_fifth_the_shipped_model_never_saw():
    rows = reviews_or_skip()
    train, held = training.split_reviews(rows)
    assert 0.18 < len(held) / len(rows) < 0.22
    assert training.split_reviews(rows)[1] == held
    meta = json.loads((PACKAGED / "sentiment.json").read_text("utf-8"))
    assert meta["n_train"] == len(train)
    assert meta["data"]["n_heldout"] == len(held)


def test_shipped_sentiment_accuracy_on_heldout_reviews():
    rows = reviews_or_skip()
    _, held = training.split_reviews(rows)
    sample = held[:: max(1, len(held) // 4000)][:4000]
    m = LinearModel.load(PACKAGED, "sentiment")
    pred = m.predict([nlp.normalize(r.text) for r in sample])
    truth = [training.SENTIMENT_CODES[r.label] for r in sample]
    figures = training.accuracy_and_f1(truth, pred)
    assert figures["accuracy"] >= 0.92, figures
    assert figures["macro_f1"] >= 0.92, figures


def test_intent_cross_validated_macro_f1_guard():
    cv = evaluation.intent_cv(folds=3)
    assert cv["macro_f1"] >= 0.85, cv["per_label"]
    assert cv["calibration"]["ece"] < 0.1
    assert len(cv["confusion"]) == len(nlp.INTENTS)


def test_a_correction_outweighs_the_seed_messages():
    texts, labels, weights, used = training.intent_examples(
        [training.Correction("这个能放洗碗机里洗吗", "quality_complaint")]
    )
    assert used == 1 and weights[-1] == training.CORRECTION_WEIGHT
    m = training.fit_classifier(texts, labels, classes=nlp.INTENTS, sample_weight=weights)
    assert m.predict([nlp.normalize("这个能放洗碗机里洗吗")]) == ["quality_complaint"]


def test_reading_a_csv_with_wrong_columns_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    with bad.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text", "label"], ["好", "1"]])
    with pytest.raises(training.TrainingDataError, match="missing columns"):
        training.read_reviews(bad)
    with pytest.raises(training.TrainingDataError, match="not found"):
        training.read_reviews(tmp_path / "nope.csv")


def test_default_reviews_path_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(training.REVIEWS_ENV, str(tmp_path / "x.csv"))
    assert training.default_reviews_path() == Path(tmp_path / "x.csv")


def test_warm_loads_every_model_before_the_first_message():
    # The server warms each worker at boot (shouhou/wsgi.py); afterwards no model is loaded
    # lazily on a buyer's first message.
    nlp.reload()
    assert nlp._registry._models == {}
    nlp.warm()
    assert set(nlp._registry._models) == {"intent", "sentiment", "reason", "case_type"}
    assert all(entry[0] is not None for entry in nlp._registry._models.values())
