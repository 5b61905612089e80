"""Probabilities from a fitted triage pipeline, without scikit-learn's per-call
overhead.

For one message, ``Pipeline.predict_proba`` spends most of its time in input
validation, dataframe detection and joblib dispatch across the feature columns
and the stacked models, not in arithmetic. Every part of the model up to the
final softmax is linear: each column's n-grams, weighted as TF-IDF and
L2-normalised, times the column's weight; each stacked SVM's scores over its
slice of those features; and the combining logistic regression's logits over
all the scores. A composition of linear maps is one linear map, so the scorer
multiplies the stacked SVMs' coefficients into the combiner's once, when the
model is loaded, and scores a message with one sparse product and a softmax.
All the hashed text columns go through one ``FeatureHasher`` call: their widths
are powers of two, so a column's hashed index is the widest column's index
modulo its own width, exactly.

Only the shape ``triage.training.build_pipeline`` produces is accepted
(``FastScorer.from_pipeline`` returns None for anything else, and the caller
keeps using ``predict_proba``). Tests check the two agree to 1e-9 on real mail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.special import softmax
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import StackingClassifier
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC


@dataclass
class _Block:
    """One fitted feature column: where it reads, how wide it is, its weight."""

    column: int                          # input column of the row
    width: int
    weight: float
    analyzer: Callable[[str], list[str]]
    idf: np.ndarray | None = None        # hashed TF-IDF columns
    vocabulary: dict[str, int] | None = None  # the counted column (signal tokens)


class FastScorer:
    """``predict_proba`` of a fitted triage pipeline (see module doc)."""

    def __init__(self, blocks: list[_Block], weights: list[np.ndarray], bias: np.ndarray) -> None:
        self.hashed = [(b, w) for b, w in zip(blocks, weights, strict=True) if b.vocabulary is None]
        self.counted = [(b, w) for b, w in zip(blocks, weights, strict=True) if b.vocabulary is not None]
        self.bias = bias
        widths = np.array([b.width for b, _ in self.hashed], dtype=np.int64)
        self.widths = widths
        self.offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        self.hasher = FeatureHasher(n_features=int(widths.max()), input_type="string",
                                    alternate_sign=False)
        self.weight = np.vstack([w for _, w in self.hashed])      # (hashed width, classes)
        self.idf = np.concatenate([b.idf for b, _ in self.hashed])

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> FastScorer | None:
        """A scorer for ``pipeline``, or None when it is not the expected shape."""
        try:
            return cls._build(pipeline)
        except (AttributeError, KeyError, TypeError, ValueError, IndexError):
            return None

    @classmethod
    def _build(cls, pipeline: Any) -> FastScorer | None:
        if not isinstance(pipeline, Pipeline) or [n for n, _ in pipeline.steps] != ["features", "model"]:
            return None
        ct, stack = pipeline.named_steps["features"], pipeline.named_steps["model"]
        if not isinstance(ct, ColumnTransformer) or not isinstance(stack, StackingClassifier):
            return None
        blocks = _feature_blocks(ct)
        if blocks is None or not any(b.vocabulary is None for b in blocks):
            return None
        if any(b.vocabulary is None and b.width & (b.width - 1) for b in blocks):
            return None     # hashed widths must be powers of two (see module doc)
        starts = np.cumsum([0] + [b.width for b in blocks])
        width = int(starts[-1])
        final = stack.final_estimator_
        n_classes = len(stack.classes_)
        if stack.passthrough or not isinstance(final, LogisticRegression) or n_classes < 3 \
                or any(m != "decision_function" for m in stack.stack_method_) \
                or final.coef_.shape != (n_classes, n_classes * len(stack.estimators_)):
            return None
        # logits = sum over SVMs s of (X[:, slice_s] @ coef_s.T + intercept_s) @ F_s.T + f,
        # where F_s is the combiner's block of coefficients for SVM s's scores.
        combined = np.zeros((width, n_classes))
        bias = np.asarray(final.intercept_, dtype=float).copy()
        for s, estimator in enumerate(stack.estimators_):
            picked = _view_columns(estimator, width)
            svm = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else None
            if picked is None or not isinstance(svm, LinearSVC) or svm.coef_.shape[0] != n_classes:
                return None
            start, stop, step = picked.indices(width)
            if step != 1 or svm.coef_.shape[1] != stop - start:
                return None
            f_s = np.asarray(final.coef_[:, s * n_classes:(s + 1) * n_classes], dtype=float)
            combined[start:stop] += np.asarray(svm.coef_, dtype=float).T @ f_s.T
            bias += np.asarray(svm.intercept_, dtype=float) @ f_s.T
        weights = [combined[starts[i]:starts[i + 1]] * b.weight for i, b in enumerate(blocks)]
        return cls(blocks, weights, bias)

    def predict_proba(self, rows: Sequence[Sequence[str]]) -> np.ndarray:
        n, per = len(rows), len(self.hashed)
        # Every hashed column of every row is one "document" of one FeatureHasher
        # call: document i * per + j is row i's column j.
        docs = (block.analyzer(r[block.column]) for r in rows for block, _ in self.hashed)
        x = self.hasher.transform(docs)
        doc = np.repeat(np.arange(n * per), np.diff(x.indptr))
        part = doc % per
        x = csr_matrix((x.data, x.indices % self.widths[part] + self.offsets[part], x.indptr),
                       shape=(n * per, self.weight.shape[0]))
        x.sum_duplicates()          # n-grams that meet only in a narrower column
        doc = np.repeat(np.arange(n * per), np.diff(x.indptr))
        data = np.log(x.data) + 1.0  # sublinear TF
        data *= self.idf[x.indices]
        lengths = np.sqrt(np.bincount(doc, weights=data ** 2, minlength=n * per))
        lengths[lengths == 0.0] = 1.0
        x.data = data / lengths[doc]
        logits = (x @ self.weight).reshape(n, per, -1).sum(axis=1) + self.bias
        for block, weight in self.counted:
            for i, r in enumerate(rows):
                seen = {block.vocabulary[t] for t in block.analyzer(r[block.column]) if t in block.vocabulary}
                if seen:
                    logits[i] += weight[sorted(seen)].sum(axis=0)
        return softmax(logits, axis=1)


def _feature_blocks(ct: ColumnTransformer) -> list[_Block] | None:
    """The fitted feature columns of ``ct`` in output order, or None."""
    weights = ct.transformer_weights or {}
    blocks: list[_Block] = []
    for name, trans, col in ct.transformers_:
        if name == "remainder":
            if trans != "drop":
                return None
            continue
        if not isinstance(col, int):
            return None
        weight = float(weights.get(name, 1.0))
        if isinstance(trans, Pipeline) and [n for n, _ in trans.steps] == ["hash", "tfidf"] \
                and isinstance(trans.steps[0][1], HashingVectorizer) \
                and isinstance(trans.steps[1][1], TfidfTransformer):
            hv, tfidf = trans.steps[0][1], trans.steps[1][1]
            if hv.binary or hv.norm is not None or hv.alternate_sign or hv.dtype is not np.float64 \
                    or not tfidf.use_idf or not tfidf.sublinear_tf or tfidf.norm != "l2":
                return None
            blocks.append(_Block(col, hv.n_features, weight, hv.build_analyzer(),
                                 idf=np.asarray(tfidf.idf_, dtype=float)))
        elif type(trans) is CountVectorizer and trans.binary:
            blocks.append(_Block(col, len(trans.vocabulary_), weight, trans.build_analyzer(),
                                 vocabulary=dict(trans.vocabulary_)))
        else:
            return None
    return blocks


def _identity(transformer: Any) -> bool:
    """"passthrough", or what a fitted ColumnTransformer turns it into."""
    return transformer == "passthrough" or (
        type(transformer) is FunctionTransformer and transformer.func is None)


def _view_columns(estimator: Any, width: int) -> slice | None:
    """Which feature columns a stacked estimator reads: all of them (a bare SVM),
    or the one passthrough slice its ``select`` step keeps; None otherwise."""
    if not isinstance(estimator, Pipeline):
        return None
    if len(estimator.steps) == 1:
        return slice(0, width)
    select = estimator.named_steps.get("select")
    if len(estimator.steps) != 2 or not isinstance(select, ColumnTransformer):
        return None
    kept = [(t, c) for n, t, c in select.transformers_ if n != "remainder"]
    remainder = [t for n, t, _ in select.transformers_ if n == "remainder"]
    if len(kept) != 1 or not _identity(kept[0][0]) or any(t != "drop" for t in remainder):
        return None
    return kept[0][1] if isinstance(kept[0][1], slice) else None
