"""`shouhou assistant`: the assistant's models from the command line.

shouhou assistant classify --task sentiment < reviews.txt     # one text per line → label<TAB>score
shouhou assistant classify --task intent < messages.txt
shouhou assistant classify --task reason < descriptions.txt
shouhou assistant eval [--reviews CSV] [--json FILE] [--no-baseline]
shouhou assistant train [--reviews CSV] [--only sentiment|intent|reason|faq] [--out DIR] [--package]

`classify` loads the model once and reads stdin in batches, so 10,000 lines cost one load
and a few seconds; every input line gives exactly one output line, in order (an empty line
gives the empty-text answer: other 0.0, positive 0.5). Lines are split on "\\n" only, so a
text may hold any other Unicode line separator.

`train` writes to SHOUHOU_DATA_DIR/assistant-models/ (which the running product prefers
over the shipped models), or with --package into the package (how the shipped models are
refreshed), or into --out DIR.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shouhou.assistant import nlp
from shouhou.assistant.nlp import training

BATCH = 512
TASKS = {"sentiment": nlp.sentiments, "intent": nlp.intents, "reason": nlp.reasons}
MODEL_OF_TASK = {"sentiment": "sentiment", "intent": "intent", "reason": "reason"}


class Command(BaseCommand):
    help = "智能客服模型：分类、评估、训练 · the assistant's models: classify, eval, train"
    # Classifying stdin needs no database and no system checks; skipping them keeps a
    # pipeline's start-up short.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
        c = sub.add_parser("classify", help="stdin 每行一条 → 标签\t分数 · one text per line")
        c.add_argument("--task", required=True, choices=sorted(TASKS))
        e = sub.add_parser("eval", help="打印评估表 · print the evaluation tables")
        e.add_argument("--reviews", type=Path, help="cat,label,review CSV (default: shared data)")
        e.add_argument("--json", type=Path, help="also write every figure to this JSON file")
        e.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
        e.add_argument(
            "--no-baseline", action="store_true", help="skip SnowNLP (quick runs; not a headline)"
        )
        t = sub.add_parser("train", help="训练并保存模型 · train and save the models")
        t.add_argument("--reviews", type=Path, help="cat,label,review CSV (default: shared data)")
        t.add_argument("--only", choices=training.TASKS)
        where = t.add_mutually_exclusive_group()
        where.add_argument("--out", type=Path, help="write the models into this directory")
        where.add_argument(
            "--package", action="store_true", help="write into the package (the shipped models)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        if action == "classify":
            self.classify(opts["task"])
        elif action == "eval":
            self.evaluate(opts)
        else:
            self.train(opts)

    def _console(self, **kw: Any) -> Console:
        # Tables and messages go where the command's stdout goes (call_command(stdout=…)).
        return Console(file=getattr(self.stdout, "_out", sys.stdout), **kw)

    # --- classify -------------------------------------------------------------------------
    def classify(self, task: str) -> None:
        if nlp.model(MODEL_OF_TASK[task]) is None:
            raise CommandError(
                f"没有 {task} 模型，请先运行 shouhou assistant train --only {task} / "
                f"no {task} model installed: run `shouhou assistant train --only {task}`"
            )
        fn = TASKS[task]
        out = sys.stdout
        batch: list[str] = []
        for raw in sys.stdin.buffer:
            line = raw[:-1] if raw.endswith(b"\n") else raw
            if line.endswith(b"\r"):
                line = line[:-1]
            batch.append(line.decode("utf-8", errors="replace"))
            if len(batch) >= BATCH:
                self._emit(out, fn(batch))
                batch = []
        if batch:
            self._emit(out, fn(batch))
        out.flush()

    @staticmethod
    def _emit(out, labels: list[nlp.Label]) -> None:
        out.write("".join(f"{lab.label}\t{lab.score:.4f}\n" for lab in labels))

    # --- eval -----------------------------------------------------------------------------
    def evaluate(self, opts: dict[str, Any]) -> None:
        from shouhou.assistant.nlp import evaluation

        console = self._console(width=max(120, Console().width))
        result: dict[str, Any] = {}
        folds = opts["folds"]
        if folds < 2:
            raise CommandError("--folds 至少 2 / at least 2")

        console.print(f"[bold]意图 Intent[/] — {folds}-fold stratified cross-validation …")
        cv = evaluation.intent_cv(folds, training.db_corrections("intent"))
        result["intent"] = cv
        self._cv_tables(console, "意图 intent", cv)

        anger = evaluation.anger_rates()
        result["anger"] = anger
        console.print("[bold]情绪激动 is_angry[/] on the seed chat messages, per intent")
        at = Table()
        for col in ("intent", "n", "flagged", "by escalation words"):
            at.add_column(col, justify="left" if col == "intent" else "right")
        for code, row in anger.items():
            at.add_row(
                code, str(row["n"]), f"{row['angry_rate']:.1%}", f"{row['by_words_rate']:.1%}"
            )
        console.print(at)

        if training.REASONS_CSV.is_file():
            console.print(f"[bold]原因与类型 Reason / case type[/] — {folds}-fold CV …")
            rcv = evaluation.reason_cv(folds)
            result["reason"] = rcv
            self._cv_tables(console, "原因 reason", rcv["reason"], confusion=False)
            self._cv_tables(console, "类型 case type", rcv["case_type"], confusion=False)
        else:
            console.print(f"reason: {training.REASONS_CSV} is not there yet; skipped")

        path = opts["reviews"] or training.default_reviews_path()
        try:
            rows = training.read_reviews(path)
        except training.TrainingDataError as exc:
            raise CommandError(str(exc)) from None
        _, held = training.split_reviews(rows)
        baseline = not opts["no_baseline"]
        if baseline and not evaluation.snownlp_available():
            console.print(
                "[yellow]SnowNLP is not installed (pip install -e '.[test]'): no baseline"
            )
        console.print(
            f"[bold]情感 Sentiment[/] — held-out fifth of {path.name}: {len(held):,} reviews"
            + (" (SnowNLP on every one of them; it is slow)" if baseline else "")
        )
        with Progress(
            TextColumn("SnowNLP"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not baseline,
        ) as bar:
            task = bar.add_task("snownlp", total=len(held))
            try:
                sent = evaluation.sentiment_heldout(
                    held, baseline=baseline, progress=lambda i, n: bar.update(task, completed=i)
                )
            except LookupError as exc:
                raise CommandError(str(exc)) from None
        sent["reviews_file"] = str(path)
        result["sentiment"] = sent
        self._sentiment_table(console, sent)

        faq = evaluation.faq_report()
        if faq is not None:
            result["faq"] = faq
            self._faq_table(console, faq)
        else:
            console.print("faq: shouhou.assistant.retrieval_eval is not installed; skipped")

        if opts["json"]:
            opts["json"].parent.mkdir(parents=True, exist_ok=True)
            opts["json"].write_text(
                json.dumps(result, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
            )
            console.print(f"figures written to {escape(str(opts['json']))}")

    @staticmethod
    def _cv_tables(console: Console, title: str, cv: dict[str, Any], confusion: bool = True):
        # Headlines on their own line: a table title wraps to the table's width.
        console.print(
            f"[bold]{title}[/]: {cv['folds']}-fold CV macro-F1 {cv['macro_f1']:.3f}, "
            f"accuracy {cv['accuracy']:.3f}, n={cv['n']:,}, "
            f"calibration error (ECE) {cv['calibration']['ece']:.3f}"
            + (f", {cv['n_corrections']} agent corrections" if "n_corrections" in cv else "")
            + f"\n  macro-F1 per fold: {', '.join(f'{x:.3f}' for x in cv['macro_f1_per_fold'])}"
        )
        table = Table()
        for col in ("label", "precision", "recall", "F1", "n"):
            table.add_column(col, justify="left" if col == "label" else "right")
        for label, row in cv["per_label"].items():
            table.add_row(
                label,
                f"{row['precision']:.3f}",
                f"{row['recall']:.3f}",
                f"{row['f1']:.3f}",
                str(row["n"]),
            )
        console.print(table)
        if not confusion:
            return
        labels = cv["labels"]
        short = [lab[:8] for lab in labels]
        console.print(f"[bold]{title}[/]: confusion (rows true, columns predicted)")
        ct = Table()
        ct.add_column("true \\ predicted")
        for s in short:
            ct.add_column(s, justify="right")
        for label, row in zip(labels, cv["confusion"], strict=True):
            ct.add_row(label, *[str(v) if v else "·" for v in row])
        console.print(ct)

    @staticmethod
    def _sentiment_table(console: Console, sent: dict[str, Any]) -> None:
        snow = sent["baseline"] != "skipped"
        console.print(
            f"[bold]情感 sentiment[/]: held-out reviews (n={sent['n_heldout']:,}), ours"
            + (" vs SnowNLP" if snow else "")
            + f" · ours {sent['seconds']['ours']:.1f} s"
            + (f" · SnowNLP {sent['seconds']['snownlp']:.1f} s" if snow else "")
            + f"\n  model trained {sent['model'].get('trained_at')}"
            f" on {sent['model'].get('n_train')} reviews"
        )
        table = Table()
        cols = ["category", "n", "ours acc", "ours macro-F1"]
        if snow:
            cols += ["SnowNLP acc", "SnowNLP macro-F1"]
        for col in cols:
            table.add_column(col, justify="left" if col == "category" else "right")

        def row(name: str, r: dict[str, Any]) -> list[str]:
            cells = [
                name,
                f"{r['n']:,}",
                f"{r['ours']['accuracy']:.4f}",
                f"{r['ours']['macro_f1']:.4f}",
            ]
            if snow:
                cells += [f"{r['snownlp']['accuracy']:.4f}", f"{r['snownlp']['macro_f1']:.4f}"]
            return cells

        for cat, r in sent["per_category"].items():
            table.add_row(*row(cat, r))
        table.add_section()
        table.add_row(*row("overall 全部", sent["overall"]))
        console.print(table)

    @staticmethod
    def _faq_table(console: Console, faq: dict[str, Any]) -> None:
        console.print(
            f"[bold]FAQ retrieval[/] ({faq.get('split', '')}): {faq.get('n_queries')} queries, "
            f"{faq.get('n_out_of_scope')} out of scope, {faq.get('n_entries')} entries"
        )
        table = Table()
        table.add_column("figure")
        table.add_column("value", justify="right")
        for key in (
            "top1_accuracy",
            "top3_accuracy",
            "threshold",
            "answered_rate",
            "answered_precision",
            "out_of_scope_answered_rate",
        ):
            value = faq.get(key)
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
        console.print(table)
        tradeoff = faq.get("tradeoff") or []
        if tradeoff:
            console.print("[bold]FAQ answer / hand-over trade-off[/]")
            tt = Table()
            keys = list(tradeoff[0].keys())
            for k in keys:
                tt.add_column(k, justify="right")
            for r in tradeoff:
                tt.add_row(*[f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys])
            console.print(tt)

    # --- train ----------------------------------------------------------------------------
    def train(self, opts: dict[str, Any]) -> None:
        if opts["package"]:
            out = training.PACKAGED_MODELS
            faq_to = training.DATA_DIR / "faq_calibration.json"
            # The shipped models learn from the shipped data only, never from whatever
            # corrections sit in the developer's database.
            from_db = False
        else:
            out = opts["out"] or nlp.data_models_dir()
            faq_to = None
            from_db = True
        console = self._console()
        console.print(f"训练 training → {escape(str(out))}")
        try:
            report = training.train(
                out,
                only=opts["only"],
                reviews_path=opts["reviews"],
                faq_to=faq_to,
                from_db=from_db,
                log=lambda msg: console.print(escape(msg)),
            )
        except training.TrainingDataError as exc:
            raise CommandError(str(exc)) from None
        nlp.reload()
        sent = report.get("sentiment")
        if sent:
            o = sent["heldout"]["overall"]
            console.print(
                f"sentiment: held-out accuracy {o['accuracy']:.4f}, macro-F1 {o['macro_f1']:.4f} "
                f"(n={o['n']:,}), {sent['n_weights']:,} weights kept"
            )
        if "intent" in report:
            r = report["intent"]
            console.print(
                f"intent: trained on {r['n_train']:,} messages including "
                f"{r['n_corrections']} agent corrections"
            )
        console.print("done 完成")
