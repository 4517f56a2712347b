"""`shouhou assistant classify|eval|train` as an operator runs them.

classify runs in a real subprocess (stdin → stdout, 10,000 lines in one call); train and
eval run in-process through call_command, into temporary directories: the shipped models
and the developer's data dir are never touched.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from shouhou.assistant import nlp
from shouhou.assistant.models import AssistantCorrection, CorrectionKind
from shouhou.assistant.nlp import training
from shouhou.assistant.nlp.linear import LinearModel, npz_has_pickle
from shouhou.cases.lifecycle import Reason
from shouhou.cli import usage

ROOT = Path(__file__).resolve().parents[2]
LABELS = {
    "sentiment": {"positive", "negative"},
    "intent": set(nlp.INTENTS),
    "reason": {r.value for r in Reason},
}
BAD_LINES = [
    "",
    "   \t ",
    "😡😡😡",
    "<script>alert('x')</script>什么时候发货",
    "Where is my parcel?",
    "這個質量太差了，我要退貨",
    "退款" * 50_000,  # 200 KB of UTF-8 on one line
    "一行\u2028里的分隔符\u0085不算换行",
]


def reviews_or_skip() -> list[training.Review]:
    path = training.default_reviews_path()
    if not path.is_file():
        pytest.skip(f"the shared reviews CSV is not at {path} (set {training.REVIEWS_ENV})")
    return training.read_reviews(path)


def run_classify(task: str, lines: list[str], data_dir: Path, *, crlf: bool = False):
    sep = "\r\n" if crlf else "\n"
    env = {
        **os.environ,
        # An empty data dir: the packaged models are the ones served.
        "SHOUHOU_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT / "src"),
    }
    return subprocess.run(
        [sys.executable, "-m", "shouhou.cli", "assistant", "classify", "--task", task],
        input=(sep.join(lines) + sep).encode("utf-8"),
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )


def parse(stdout: bytes) -> list[tuple[str, float]]:
    out = []
    for line in stdout.decode("utf-8").split("\n")[:-1]:
        label, score = line.split("\t")
        out.append((label, float(score)))
    return out


# --- classify -----------------------------------------------------------------------------
def test_classify_sentiment_ten_thousand_lines_in_one_call(tmp_path):
    _, held = training.split_reviews(reviews_or_skip())
    rng = random.Random(4)
    # Bad lines scattered through the input, each at a known position; reviews between.
    bad_at = {
        pos: BAD_LINES[n % len(BAD_LINES)]
        for n, pos in enumerate(sorted(rng.sample(range(10_000), len(BAD_LINES) * 12)))
    }
    one_line = [r for r in held if "\n" not in r.text and "\r" not in r.text]
    reviews = iter(rng.sample(one_line, 10_000 - len(bad_at)))
    picked: dict[int, training.Review] = {}
    merged = []
    for i in range(10_000):
        if i in bad_at:
            merged.append(bad_at[i])
        else:
            picked[i] = next(reviews)
            merged.append(picked[i].text)

    proc = run_classify("sentiment", merged, tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = parse(proc.stdout)
    assert len(out) == 10_000
    assert all(label in LABELS["sentiment"] and 0.0 <= score <= 1.0 for label, score in out)
    for pos, text in bad_at.items():
        if not text.strip():
            assert out[pos] == ("positive", 0.5)
    # The reviews, in order: the held-out ones are mostly right, the sure ones nearly all.
    graded = [(out[i], training.SENTIMENT_CODES[r.label]) for i, r in picked.items()]
    accuracy = sum(label == want for (label, _), want in graded) / len(graded)
    assert accuracy >= 0.9, accuracy
    sure = [(label, want) for (label, score), want in graded if score >= 0.95]
    assert len(sure) > 3_000
    assert sum(a == b for a, b in sure) / len(sure) >= 0.97


@pytest.mark.parametrize("task", ["intent", "reason"])
def test_classify_intent_and_reason_with_bad_lines_and_crlf(task, tmp_path):
    lines = ["亲 在吗", "快递到哪了", *BAD_LINES, "收到的杯子碎了", ""]
    proc = run_classify(task, lines, tmp_path, crlf=True)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    out = parse(proc.stdout)
    assert len(out) == len(lines)
    assert all(label in LABELS[task] and 0.0 <= score <= 1.0 for label, score in out)
    assert out[2] == ("other", 0.0) and out[3] == ("other", 0.0) and out[-1] == ("other", 0.0)
    if task == "intent":
        assert out[0][0] == "greeting" and out[1][0] == "logistics_tracking"
    else:
        assert out[-2][0] == "damaged"


def test_classify_rejects_an_unknown_task(tmp_path):
    proc = run_classify("weather", ["hi"], tmp_path)
    assert proc.returncode != 0
    assert b"invalid choice" in proc.stderr


def test_the_command_is_listed_in_the_help():
    assert "assistant" in usage()


# --- train --------------------------------------------------------------------------------
def sample_reviews_csv(path: Path, n: int = 2_000) -> Path:
    """~n reviews drawn from the shared CSV (stratified by category and label), written at
    test time: the repository carries no copy of the data."""
    rows = reviews_or_skip()
    rng = random.Random(7)
    by_group: dict[tuple[str, int], list[training.Review]] = {}
    for r in rows:
        by_group.setdefault((r.cat, r.label), []).append(r)
    picked = []
    for group in by_group.values():
        k = max(2, round(n * len(group) / len(rows)))
        picked += rng.sample(group, min(k, len(group)))
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cat", "label", "review"])
        w.writerows([r.cat, r.label, r.text] for r in picked)
    return path


def test_train_on_a_small_sample_makes_loadable_models_that_beat_chance(tmp_path):
    sample = sample_reviews_csv(tmp_path / "sample.csv")
    out_dir = tmp_path / "models"
    stdout = io.StringIO()
    call_command(
        "assistant", "train", "--reviews", str(sample), "--only", "sentiment",
        "--out", str(out_dir), stdout=stdout,
    )  # fmt: skip
    assert not npz_has_pickle(out_dir / "sentiment.npz")
    m = LinearModel.load(out_dir, "sentiment")
    meta = json.loads((out_dir / "sentiment.json").read_text("utf-8"))
    assert 1_500 < meta["n_train"] < 1_800
    # Judged on held-out reviews of the whole file, which the sample's training part
    # cannot contain (the split is by the review's own text).
    _, held = training.split_reviews(reviews_or_skip())
    test = held[::5]
    pred = m.predict([nlp.normalize(r.text) for r in test])
    acc = sum(p == training.SENTIMENT_CODES[r.label] for p, r in zip(pred, test, strict=True))
    assert acc / len(test) >= 0.75


def test_train_intent_and_reason_into_a_directory(tmp_path):
    call_command(
        "assistant", "train", "--only", "reason", "--out", str(tmp_path), stdout=io.StringIO()
    )
    for name in ("reason", "case_type"):
        assert not npz_has_pickle(tmp_path / f"{name}.npz")
    m = LinearModel.load(tmp_path, "reason")
    assert m.predict([nlp.normalize("收到的时候屏幕就是碎的")]) == ["damaged"]


def test_train_with_a_broken_csv_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n", "utf-8")
    with pytest.raises(CommandError, match="missing columns"):
        call_command("assistant", "train", "--reviews", str(bad), "--only", "sentiment",
                     "--out", str(tmp_path / "m"))  # fmt: skip


@pytest.mark.django_db
def test_agent_corrections_change_what_train_learns(shop, tmp_path):
    text = "这款能放进洗碗机里洗吗"
    before = nlp.intent(text).label
    corrected = "quality_complaint" if before != "quality_complaint" else "order_change"
    AssistantCorrection.objects.create(
        shop=shop,
        kind=CorrectionKind.INTENT,
        text=text,
        predicted=before,
        corrected=corrected,
        created_at=datetime.now(UTC),
    )
    out = io.StringIO()
    call_command("assistant", "train", "--only", "intent", "--out", str(tmp_path), stdout=out)
    assert "1 agent corrections" in out.getvalue()
    learned = LinearModel.load(tmp_path, "intent")
    assert learned.predict([nlp.normalize(text)]) == [corrected]
    assert learned.meta["n_corrections"] == 1


@pytest.mark.django_db
def test_train_writes_to_the_data_dir_and_the_facade_prefers_it(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    try:
        assert nlp.model_path("reason") == training.PACKAGED_MODELS
        call_command("assistant", "train", "--only", "reason", stdout=io.StringIO())
        target = tmp_path / nlp.MODELS_SUBDIR
        assert (target / "reason.npz").is_file()
        assert nlp.model_path("reason") == target
        nlp.reload()
        assert (
            nlp.model("reason").meta["trained_at"]
            == json.loads((target / "reason.json").read_text("utf-8"))["trained_at"]
        )
    finally:
        nlp.reload()


# --- eval ---------------------------------------------------------------------------------
@pytest.mark.django_db  # eval reads the agents' corrections, as train does
def test_eval_prints_the_tables_and_writes_json(tmp_path):
    sample = sample_reviews_csv(tmp_path / "sample.csv", n=1_500)
    out_json = tmp_path / "eval.json"
    stdout = io.StringIO()
    call_command(
        "assistant", "eval", "--reviews", str(sample), "--folds", "2", "--no-baseline",
        "--json", str(out_json), stdout=stdout,
    )  # fmt: skip
    printed = stdout.getvalue()
    assert "confusion" in printed and "overall 全部" in printed and "FAQ" in printed
    figures = json.loads(out_json.read_text("utf-8"))
    assert set(figures) >= {"intent", "reason", "sentiment"}
    assert figures["intent"]["folds"] == 2
    assert len(figures["intent"]["confusion"]) == len(nlp.INTENTS)
    sent = figures["sentiment"]
    assert sent["n_heldout"] == sum(sent["per_category"][c]["n"] for c in sent["per_category"])
    assert sent["overall"]["ours"]["accuracy"] > 0.85
    assert "snownlp" not in sent["overall"]


def test_a_damaged_retrained_model_falls_back_to_the_packaged_one(settings, tmp_path, caplog):
    settings.DATA_DIR = tmp_path
    target = tmp_path / nlp.MODELS_SUBDIR
    target.mkdir()
    (target / "intent.npz").write_bytes(b"not a zip file")
    (target / "intent.json").write_text('{"format": "shouhou-linear/1"}', "utf-8")
    try:
        nlp.reload()
        assert nlp.intent("快递到哪了").label == "logistics_tracking"
        assert "does not load" in caplog.text
    finally:
        nlp.reload()
