"""Probabilities from a fitted triage pipeline, without scikit-learn's per-call
overhead.

For one message, ``Pipeline.predict_proba`` spends most of its time in input
validation, dataframe detection and joblib dispatch across the feature columns
and the stacked models, not in arithmetic. Every part of the model is linear,
so the same numbers come from the fitted parts directly: each column's hashed
or counted n-grams, weighted as TF-IDF and L2-normalised, times its transformer
weight; each stacked SVM's scores over its slice of those features; and the
combining logistic regression's softmax over all the scores.

Only the shape ``triage.training.build_pipeline`` produces is accepted
(``FastScorer.from_pipeline`` returns None for anything else, and the caller
keeps using ``predict_proba``). Tests check the two agree to 1e-9 on real mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import StackingClassifier
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC


class _Hashed:
    """A Pipeline(HashingVectorizer, TfidfTransformer) column."""

    def __init__(self, hasher: HashingVectorizer, tfidf: TfidfTransformer) -> None:
        self.hasher = hasher
        self.idf = tfidf.idf_ if tfidf.use_idf else None
        self.sublinear = tfidf.sublinear_tf
        self.norm = tfidf.norm
        self.width = hasher.n_features

    def transform(self, texts: Sequence[str]) -> Any:
        x = self.hasher.transform(texts).tocsr()
        if self.sublinear:
            np.log(x.data, out=x.data)
            x.data += 1.0
        if self.idf is not None:
            x.data *= self.idf[x.indices]
        _normalise_rows(x, self.norm)
        return x


class _Counted:
    """A CountVectorizer column (the signal tokens)."""

    def __init__(self, vectorizer: CountVectorizer) -> None:
        self.vectorizer = vectorizer
        self.width = len(vectorizer.vocabulary_)

    def transform(self, texts: Sequence[str]) -> Any:
        return self.vectorizer.transform(texts).tocsr()


def _normalise_rows(x: Any, norm: str | None) -> None:
    if norm is None:
        return
    if norm != "l2":
        raise ValueError(norm)
    counts = np.diff(x.indptr)
    row_of = np.repeat(np.arange(x.shape[0]), counts)
    lengths = np.sqrt(np.bincount(row_of, weights=x.data ** 2, minlength=x.shape[0]))
    lengths[lengths == 0.0] = 1.0
    x.data /= lengths[row_of]


class FastScorer:
    """``predict_proba`` of a fitted triage pipeline (see module doc)."""

    def __init__(self, columns: list[tuple[Any, int, float]],
                 scorers: list[tuple[list[tuple[int, np.ndarray]], np.ndarray]],
                 final: LogisticRegression) -> None:
        self.columns = columns        # (feature block, input column, weight), in output order
        self.scorers = scorers        # per SVM: [(feature block, its coefficients)], intercept
        self.final_coef = np.asarray(final.coef_, dtype=float)
        self.final_intercept = np.asarray(final.intercept_, dtype=float)

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
        columns = _feature_blocks(ct)
        if columns is None:
            return None
        starts = np.cumsum([0] + [part.width for part, _, _ in columns])
        width = int(starts[-1])
        final = stack.final_estimator_
        n_classes = len(stack.classes_)
        if stack.passthrough or not isinstance(final, LogisticRegression) or n_classes < 3 \
                or any(m != "decision_function" for m in stack.stack_method_):
            return None
        scorers: list[tuple[list[tuple[int, np.ndarray]], np.ndarray]] = []
        for estimator in stack.estimators_:
            picked = _view_columns(estimator, width)
            svm = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else None
            if picked is None or not isinstance(svm, LinearSVC) or svm.coef_.shape[0] != n_classes:
                return None
            start, stop, step = picked.indices(width)
            # Each SVM reads whole feature blocks: its coefficients are cut per block.
            inside = [b for b in range(len(columns)) if start <= starts[b] and starts[b + 1] <= stop]
            if step != 1 or not inside or starts[inside[0]] != start or starts[inside[-1] + 1] != stop \
                    or svm.coef_.shape[1] != stop - start:
                return None
            coef = np.asarray(svm.coef_, dtype=float)
            parts = [(b, np.ascontiguousarray(coef[:, starts[b] - start:starts[b + 1] - start].T))
                     for b in inside]
            scorers.append((parts, np.asarray(svm.intercept_, dtype=float)))
        if final.coef_.shape != (n_classes, n_classes * len(scorers)):
            return None
        return cls(columns, scorers, final)

    def predict_proba(self, rows: Sequence[Sequence[str]]) -> np.ndarray:
        blocks = [weight * part.transform([r[col] for r in rows]) for part, col, weight in self.columns]
        scores = [sum(blocks[b] @ coef for b, coef in parts) + intercept for parts, intercept in self.scorers]
        logits = np.hstack(scores) @ self.final_coef.T + self.final_intercept
        return softmax(logits, axis=1)


def _feature_blocks(ct: ColumnTransformer) -> list[tuple[Any, int, float]] | None:
    """The fitted feature columns of ``ct`` in output order, or None."""
    weights = ct.transformer_weights or {}
    columns: list[tuple[Any, int, float]] = []
    for name, trans, col in ct.transformers_:
        if name == "remainder":
            if trans != "drop":
                return None
            continue
        if not isinstance(col, int):
            return None
        if isinstance(trans, Pipeline) and [n for n, _ in trans.steps] == ["hash", "tfidf"] \
                and isinstance(trans.steps[0][1], HashingVectorizer) \
                and isinstance(trans.steps[1][1], TfidfTransformer):
            hv = trans.steps[0][1]
            if hv.binary or hv.norm is not None or hv.alternate_sign:
                return None
            part: Any = _Hashed(hv, trans.steps[1][1])
        elif type(trans) is CountVectorizer:
            part = _Counted(trans)
        else:
            return None
        columns.append((part, col, float(weights.get(name, 1.0))))
    return columns


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
