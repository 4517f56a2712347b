"""The assistant's models: sentiment accuracy and latency beside SnowNLP, intent latency.

Data: the held-out fifth of the shopping-review CSV (../shared/data/reviews/…, or
$SHOUHOU_REVIEWS_CSV), the reviews whose text hashes into the fifth the shipped model was
never trained on (shouhou.assistant.nlp.training.is_heldout) — about 10,000 reviews.

- Accuracy and macro-F1, overall and per category: our shipped sentiment model and
  SnowNLP's built-in sentiment (`SnowNLP(text).sentiments >= 0.5` → positive) on the same
  reviews. The full run scores SnowNLP on every held-out review (minutes: it is slow);
  --quick scores both on every fifth of them and says so in the table.
- Latency per message: one `nlp.sentiment(text)` call per review (normalisation,
  n-grams, hashing, the dot product — everything a caller pays), median and p95, beside
  one `SnowNLP(text).sentiments` per review; batch throughput of `nlp.sentiments` (1,000
  per call). The same for `nlp.intent` (which also reads jieba's words) on the buyer
  messages of the intent seed set, which are chat-length, and the sentiment of those.
- Cold start in a fresh process: import, jieba's dictionary, model load, first answer.

The packaged models are measured (the data dir is pointed at an empty directory), so a
locally retrained model does not change the figures.

    .venv/bin/python -m bench.assistant [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench import common as c

NAME = "assistant"
WARMUP = 50


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _latency(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "median_ms": statistics.median(ms),
        "p95_ms": _percentile(ms, 0.95),
        "mean_ms": statistics.fmean(ms),
        "n": len(ms),
    }


def _single_calls(fn, texts: list[str]) -> list[float]:
    for t in texts[:WARMUP]:
        fn(t)
    out = []
    for t in texts:
        t0 = time.perf_counter()
        fn(t)
        out.append(time.perf_counter() - t0)
    return out


def _throughput(fn_batch, texts: list[str], batch: int = 1000) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        fn_batch(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - t0)


def _cold_start() -> float:
    """Seconds from a fresh interpreter to the first sentiment answer."""
    code = (
        "import time; t=time.perf_counter(); from shouhou.assistant import nlp; "
        "nlp.sentiment('物流很快，质量不错'); nlp.intent('在吗'); "
        "print(time.perf_counter()-t)"
    )
    env = {**os.environ, "PYTHONPATH": f"{c.ROOT / 'src'}:{c.ROOT}"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    # The packaged models: an empty data dir has no retrained ones to prefer.
    os.environ["SHOUHOU_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-assistant-")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from shouhou.assistant import nlp
    from shouhou.assistant.nlp import evaluation, training

    info = c.machine()
    load_before = c.load_average()
    path = training.default_reviews_path()
    reviews = training.read_reviews(path)
    _, held = training.split_reviews(reviews)
    scored = held[::5] if quick else held
    truth = [training.SENTIMENT_CODES[r.label] for r in scored]
    texts = [r.text for r in scored]

    # Accuracy: ours in batches, SnowNLP one review at a time (timed per call).
    ours = [lab.label for lab in nlp.sentiments(texts)]
    snow: list[str] = []
    snow_times: list[float] = []
    have_snow = evaluation.snownlp_available()
    if have_snow:
        from snownlp import SnowNLP

        _ = SnowNLP("预热").sentiments  # its first call loads its model
        with Progress(
            TextColumn("SnowNLP"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("snownlp", total=len(texts))
            for i, text in enumerate(texts):
                t0 = time.perf_counter()
                score = SnowNLP(text).sentiments
                snow_times.append(time.perf_counter() - t0)
                snow.append("positive" if score >= 0.5 else "negative")
                if i % 100 == 0:
                    bar.update(task, completed=i)
    else:
        print("SnowNLP is not installed (pip install -e '.[test]'): no baseline", file=sys.stderr)

    def figures(ix: list[int]) -> dict:
        out = {
            "n": len(ix),
            "ours": training.accuracy_and_f1([truth[i] for i in ix], [ours[i] for i in ix]),
        }
        if have_snow:
            out["snownlp"] = training.accuracy_and_f1([truth[i] for i in ix], [snow[i] for i in ix])
        return out

    accuracy = {
        "overall": figures(list(range(len(scored)))),
        "per_category": {
            cat: figures([i for i, r in enumerate(scored) if r.cat == cat])
            for cat in sorted({r.cat for r in scored})
        },
    }

    # Latency: one call per message, as the chat and the case pages call it.
    lat_texts = texts if not quick else texts[:1000]
    sentiment_single = _latency(_single_calls(nlp.sentiment, lat_texts))
    sentiment_batch = _throughput(nlp.sentiments, lat_texts)
    chat, _, _, _ = training.intent_examples([])
    intent_single = _latency(_single_calls(nlp.intent, chat))
    intent_batch = _throughput(nlp.intents, chat)
    chat_sentiment = _latency(_single_calls(nlp.sentiment, chat))
    snow_latency = _latency(snow_times) if snow_times else None
    cold = _cold_start()
    sizes = {
        p.name: p.stat().st_size for p in sorted(training.PACKAGED_MODELS.iterdir()) if p.is_file()
    }
    load_after = c.load_average()

    scope = f"{len(scored):,} held-out reviews" + (" (quick: every fifth)" if quick else "")

    def cells(name: str, r: dict) -> list:
        snow_cells = (
            [f"{r['snownlp']['accuracy']:.4f}", f"{r['snownlp']['macro_f1']:.4f}"]
            if have_snow
            else [None, None]
        )
        return [name, r["n"], f"{r['ours']['accuracy']:.4f}", f"{r['ours']['macro_f1']:.4f}",
                *snow_cells]  # fmt: skip

    rows = [cells(f"sentiment · {cat}", r) for cat, r in accuracy["per_category"].items()]
    rows.append(cells("sentiment · overall 全部", accuracy["overall"]))
    c.print_table(
        f"Assistant sentiment 情感 — accuracy and macro-F1, ours vs SnowNLP, {scope}",
        ["category", "n", "ours acc", "ours macro-F1", "SnowNLP acc", "SnowNLP macro-F1"],
        rows,
        caption=f"data: {path}: {len(held):,} of {len(reviews):,} reviews held out by a hash "
        "of the text; the shipped model never trained on them",
    )
    lat_rows = [
        ["sentiment, reviews", sentiment_single["n"], sentiment_single["median_ms"],
         sentiment_single["p95_ms"], f"{sentiment_batch:,.0f}/s",
         snow_latency["median_ms"] if snow_latency else None,
         snow_latency["p95_ms"] if snow_latency else None],
        ["sentiment, chat messages", chat_sentiment["n"], chat_sentiment["median_ms"],
         chat_sentiment["p95_ms"], "—", None, None],
        ["intent, chat messages", intent_single["n"], intent_single["median_ms"],
         intent_single["p95_ms"], f"{intent_batch:,.0f}/s", None, None],
    ]  # fmt: skip
    c.print_table(
        "Assistant latency 延迟 — one call per message (ms), and batches of 1,000",
        ["what", "messages", "median ms", "p95 ms", "batch", "SnowNLP median ms", "SnowNLP p95 ms"],
        lat_rows,
        caption=c.machine_line(info)
        + f"\nload average before/after: {load_before} / {load_after}"
        + f"\ncold start (fresh process: import, jieba dictionary, models, first answer): "
        f"{cold:.2f} s · packaged model files: "
        + ", ".join(f"{k} {v / 1024:,.0f} KB" for k, v in sizes.items())
        + "\nbaseline: SnowNLP(text).sentiments ≥ 0.5 → positive, same reviews, same run",
    )
    payload = {
        "benchmark": NAME,
        "machine": info,
        "load_average": {"before": load_before, "after": load_after},
        "quick": quick,
        "data": {
            "file": str(path),
            "n_reviews": len(reviews),
            "n_heldout": len(held),
            "n_scored": len(scored),
            "n_chat_messages": len(chat),
        },  # fmt: skip
        "baseline": "SnowNLP(text).sentiments >= 0.5 → positive" if have_snow else "absent",
        "accuracy": accuracy,
        "latency": {
            "sentiment_reviews": sentiment_single,
            "sentiment_reviews_batch_per_s": sentiment_batch,
            "sentiment_chat": chat_sentiment,
            "intent_chat": intent_single,
            "intent_chat_batch_per_s": intent_batch,
            "snownlp_reviews": snow_latency,
            "cold_start_s": cold,
        },
        "model_files_bytes": sizes,
    }
    c.save(NAME, payload)
    return payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every fifth held-out review")
    a = parser.parse_args()
    run(quick=a.quick)


if __name__ == "__main__":
    main()
