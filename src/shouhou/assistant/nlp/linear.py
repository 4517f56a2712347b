"""Hashed text features and a linear model stored in a safe format (no pickle).

Every model of the assistant is the same thing: the text's character 1–3-grams, jieba
words and word bigrams (each model's JSON says which of them it reads), hashed into
2**n_bits buckets (CRC-32 of the UTF-8 bytes: in the standard library, stable across
processes and machines, and serving needs no scikit-learn import, which costs over a
second), sublinear term frequencies scaled to unit length, and a linear model over them
whose outputs are probabilities (logistic regression, or a linear SVM with a fitted
softmax temperature).

On disk a model is two files side by side:
- `<name>.npz` — `indices` (int32, sorted hashed buckets that carry a weight), `weights`
  (float16, one row per bucket, one column per class, or one column for a binary model),
  `intercept` (float32). Read with `allow_pickle=False`: loading it can never run code.
- `<name>.json` — classes, the featurizer's settings, how and on what it was trained, and
  the measured figures.

Only buckets with a weight worth keeping are stored (the training code prunes tiny ones
and measures the accuracy after pruning), so the files stay a few megabytes.
"""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .text import char_ngrams, normalize, words

FORMAT = "shouhou-linear/1"


@dataclass(frozen=True)
class Featurizer:
    """Text → hashed bucket values. The settings travel in the model's JSON, so a model is
    always served with the features it was trained on."""

    n_bits: int = 21
    char_sizes: tuple[int, ...] = (1, 2, 3)
    use_words: bool = True
    word_bigrams: bool = True

    @property
    def n_features(self) -> int:
        return 1 << self.n_bits

    def tokens(self, text: str) -> list[str]:
        """Tokens of already-normalised text; the prefix keeps a one-character word apart
        from the same character as a character unigram."""
        out = ["c" + g for g in char_ngrams(text, self.char_sizes)]
        if self.use_words or self.word_bigrams:
            ws = words(text)
            if self.use_words:
                out += ["w" + w for w in ws]
            if self.word_bigrams:
                out += ["b" + a + " " + b for a, b in zip(ws, ws[1:], strict=False)]
        return out

    def vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(sorted unique buckets int32, values float32) of one normalised text: 1 + log(tf),
        scaled to unit length. Empty text → two empty arrays."""
        toks = self.tokens(text)
        if not toks:
            return np.empty(0, np.int32), np.empty(0, np.float32)
        mask = self.n_features - 1
        hashed = np.fromiter(
            (zlib.crc32(t.encode("utf-8")) & mask for t in toks), np.int64, len(toks)
        )
        idx, counts = np.unique(hashed, return_counts=True)
        vals = 1.0 + np.log(counts.astype(np.float32))
        vals /= np.sqrt(np.dot(vals, vals))
        return idx.astype(np.int32), vals.astype(np.float32)

    def matrix(self, texts: list[str]):
        """scipy CSR matrix (len(texts) × n_features) of normalised texts (training)."""
        from scipy import sparse

        indptr = [0]
        all_idx: list[np.ndarray] = []
        all_val: list[np.ndarray] = []
        for t in texts:
            i, v = self.vector(t)
            all_idx.append(i)
            all_val.append(v)
            indptr.append(indptr[-1] + len(i))
        idx = np.concatenate(all_idx) if all_idx else np.empty(0, np.int32)
        val = np.concatenate(all_val) if all_val else np.empty(0, np.float32)
        return sparse.csr_matrix(
            (val, idx, np.asarray(indptr, np.int64)), shape=(len(texts), self.n_features)
        )

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["char_sizes"] = list(self.char_sizes)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Featurizer:
        return cls(
            n_bits=int(d["n_bits"]),
            char_sizes=tuple(int(n) for n in d["char_sizes"]),
            use_words=bool(d["use_words"]),
            word_bigrams=bool(d["word_bigrams"]),
        )


@dataclass
class LinearModel:
    """Weights over hashed buckets. Binary models have one weight column (the score of
    classes[1]); multi-class models one column per class, turned into probabilities by
    a softmax."""

    classes: tuple[str, ...]
    featurizer: Featurizer
    indices: np.ndarray  # (k,) int32, sorted
    weights: np.ndarray  # (k, 1) for binary, (k, n_classes) otherwise
    intercept: np.ndarray  # (1,) or (n_classes,)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        return self.weights.shape[1] == 1

    # -- scoring ---------------------------------------------------------------------------
    def _decision_of(self, idx: np.ndarray, vals: np.ndarray, doc: np.ndarray, n: int):
        """Decision values of n documents whose (bucket, value) pairs are given with the
        document number of each pair."""
        out = np.tile(self.intercept.astype(np.float64), (n, 1))
        if len(idx) and len(self.indices):
            pos = np.searchsorted(self.indices, idx)
            pos[pos >= len(self.indices)] = 0
            hit = self.indices[pos] == idx
            rows, vals, doc = self.weights[pos[hit]], vals[hit], doc[hit]
            if n == 1:
                out[0] += vals @ rows
            else:
                # One weighted bincount per class column: faster than np.add.at.
                for c in range(rows.shape[1]):
                    out[:, c] += np.bincount(doc, weights=vals * rows[:, c], minlength=n)
        return out

    def decision(self, texts: list[str]) -> np.ndarray:
        """Decision values for normalised texts: (n, 1) binary or (n, n_classes)."""
        idx_parts, val_parts, doc_parts = [], [], []
        for d, t in enumerate(texts):
            i, v = self.featurizer.vector(t)
            idx_parts.append(i)
            val_parts.append(v)
            doc_parts.append(np.full(len(i), d, np.int64))
        if not texts:
            return np.zeros((0, self.weights.shape[1]))
        return self._decision_of(
            np.concatenate(idx_parts),
            np.concatenate(val_parts),
            np.concatenate(doc_parts),
            len(texts),
        )

    def decision_matrix(self, X) -> np.ndarray:
        """Decision values of a CSR matrix made by `featurizer.matrix` (evaluation)."""
        return np.asarray(X[:, self.indices] @ self.weights, np.float64) + self.intercept

    @staticmethod
    def _to_proba(z: np.ndarray, binary: bool) -> np.ndarray:
        if binary:
            p1 = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -50, 50)))
            return np.column_stack([1.0 - p1, p1])
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def proba_matrix(self, X) -> np.ndarray:
        return self._to_proba(self.decision_matrix(X), self.binary)

    def proba(self, texts: list[str]) -> np.ndarray:
        """(n, n_classes) probabilities of normalised texts, columns in `classes` order."""
        return self._to_proba(self.decision(texts), self.binary)

    def predict(self, texts: list[str]) -> list[str]:
        p = self.proba(texts)
        return [self.classes[j] for j in p.argmax(axis=1)]

    # -- storage ---------------------------------------------------------------------------
    def save(self, directory: Path, name: str) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        npz = directory / f"{name}.npz"
        meta_path = directory / f"{name}.json"
        # Write beside the target and rename: a running process never reads half a model.
        tmp_npz = directory / f".{name}.tmp.npz"
        np.savez_compressed(
            tmp_npz,
            indices=self.indices.astype(np.int32),
            weights=self.weights.astype(np.float16),
            intercept=self.intercept.astype(np.float32),
        )
        meta = {
            **self.meta,
            "format": FORMAT,
            "name": name,
            "classes": list(self.classes),
            "featurizer": self.featurizer.to_json(),
            "n_weights": int(self.indices.shape[0]),
        }
        tmp_meta = directory / f".{name}.tmp.json"
        tmp_meta.write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=_json_default))
        tmp_npz.replace(npz)
        tmp_meta.replace(meta_path)
        return npz, meta_path

    @classmethod
    def load(cls, directory: Path, name: str) -> LinearModel:
        meta = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{directory / name}: not a {FORMAT} model")
        with np.load(directory / f"{name}.npz", allow_pickle=False) as z:
            indices = z["indices"].astype(np.int32)
            # float16 on disk to keep the package small; float32 in memory for the sums.
            weights = z["weights"].astype(np.float32)
            intercept = z["intercept"].astype(np.float32)
        if weights.ndim != 2 or weights.shape[0] != indices.shape[0]:
            raise ValueError(f"{directory / name}: weights do not match indices")
        return cls(
            classes=tuple(meta["classes"]),
            featurizer=Featurizer.from_json(meta["featurizer"]),
            indices=indices,
            weights=weights,
            intercept=intercept,
            meta=meta,
        )


def npz_has_pickle(path: Path) -> bool:
    """True if any array in the .npz is an object array (the only way pickle gets in)."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                header = (
                    np.lib.format.read_array_header_1_0(f)
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0(f)
                )
                if header[2].hasobject:
                    return True
    return False


def from_sklearn(
    classes: tuple[str, ...],
    featurizer: Featurizer,
    used: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    *,
    prune: float = 0.0,
    meta: dict[str, Any] | None = None,
) -> LinearModel:
    """A LinearModel from coefficients over the `used` buckets (columns of a reduced
    matrix), dropping buckets whose largest |weight| is at most `prune`."""
    coef = np.asarray(coef, np.float32)
    w = coef.T  # (n_used, n_cols)
    keep = np.abs(w).max(axis=1) > prune
    order = np.argsort(used[keep])
    return LinearModel(
        classes=tuple(classes),
        featurizer=featurizer,
        indices=used[keep][order].astype(np.int32),
        weights=w[keep][order],
        intercept=np.asarray(intercept, np.float32).reshape(-1),
        meta=dict(meta or {}),
    )


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if math.isnan(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))


__all__ = ["FORMAT", "Featurizer", "LinearModel", "from_sklearn", "normalize", "npz_has_pickle"]
