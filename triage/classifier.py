"""Loading a model artifact and classifying messages with calibrated confidence.

A model lives in ``models/<version>/`` as ``model.skops`` (a format that cannot
run code when loaded) and ``card.json`` (what it was trained on, how it scored,
the file's SHA-256, the thresholds chosen from its evaluation).
``models/registry.json`` names the active version. A model whose file does not
match its card, that holds types outside the allow-list, or that was saved by
another scikit-learn version or feature version is refused with ModelError.

Order of decisions for one message: header rules (certain) → the learned
model → deterministic restrictions (a member publication's own address does
not file complaints or ask for reviews) → confidence thresholds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sklearn

from triage import features
from triage.automated import automated_reason
from triage.config import CATEGORIES
from triage.errors import ModelError
from triage.message import Email
from triage.publications import PublicationIndex
from triage.scoring import FastScorer

log = logging.getLogger(__name__)

# Everything a triage model file may contain beyond what skops trusts already.
TRUSTED_TYPES = [
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.CountVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.HashingVectorizer",
    "sklearn.pipeline.Pipeline",
    "sklearn.ensemble._stacking.StackingClassifier",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.utils._bunch.Bunch",
]
# A sender at a member publication writes as the publication: these are the
# only categories its own address can produce (a publication may also ask for
# a decision to be reconsidered). What the model saw as a complaint, a follow-up
# or out of remit is, from them, a publication's response.
PUBLICATION_SENDER_CATEGORIES = ("automated", "unacceptable_behaviour", "review_request",
                                 "publication_response")


@dataclass(frozen=True)
class Verdict:
    category: str
    confidence: float
    needs_review: bool
    by: str
    reason: str = ""
    probabilities: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelCard:
    version: str
    data: Mapping[str, Any]

    @property
    def thresholds(self) -> Mapping[str, float]:
        return dict(self.data.get("thresholds", {}))


def read_registry(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "registry.json"
    if not path.exists():
        return {"active": None, "history": []}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable model registry: {exc}") from None
    return dict(data)


def write_registry(model_dir: Path, data: Mapping[str, Any]) -> None:
    path = model_dir / "registry.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_card(model_dir: Path, version: str) -> ModelCard:
    path = model_dir / version / "card.json"
    try:
        return ModelCard(version, json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model {version}: card {path} unreadable: {exc}") from None


_LOADED: dict[tuple[str, str], Any] = {}


def load_pipeline(model_dir: Path, version: str) -> tuple[Any, ModelCard]:
    """The fitted pipeline of ``version`` and its card, after every safety check.

    A file already loaded in this process is reused, but only after its SHA-256
    has been checked against the card again."""

    card = load_card(model_dir, version)
    path = model_dir / version / "model.skops"
    if not path.exists():
        raise ModelError(f"model {version}: {path} is missing")
    digest = file_sha256(path)
    if digest != card.data.get("sha256"):
        raise ModelError(f"model {version}: {path} does not match the SHA-256 in its card "
                         "(modified or corrupted); refusing to load it")
    saved = card.data.get("sklearn_version")
    if saved != sklearn.__version__:
        raise ModelError(f"model {version} was saved with scikit-learn {saved}, this is "
                         f"{sklearn.__version__}: retrain with 'triage train'")
    if card.data.get("feature_version") != features.FEATURE_VERSION:
        raise ModelError(f"model {version} uses feature version {card.data.get('feature_version')}, "
                         f"this triage needs {features.FEATURE_VERSION}: retrain with 'triage train'")
    key = (str(path.resolve()), digest)
    if key not in _LOADED:
        _LOADED[key] = _load_safely(path, version)
    return _LOADED[key], card


def _load_safely(path: Path, version: str) -> Any:
    import skops.io as sio

    try:
        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
        if untrusted:
            raise ModelError(f"model {version}: contains types that are not allowed: {untrusted[:3]}")
        return sio.load(path, trusted=TRUSTED_TYPES)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"model {version}: cannot load {path}: {exc}") from None


def sender_rule(email: Email, pubs: PublicationIndex) -> tuple[tuple[str, ...], str] | None:
    """The categories a member publication's own address can produce, and why,
    or None when the sender is not a publication."""
    pub = pubs.describe_sender(email.from_addr)
    if pub is None:
        return None
    return PUBLICATION_SENDER_CATEGORIES, f"sender is {pub}, a member publication"


def fold(probs: Mapping[str, float], allowed: Sequence[str]) -> dict[str, float]:
    """Probabilities with the mass of categories not ``allowed`` moved to the
    last allowed one (the party's ordinary correspondence: a publication's
    response, a complainant's follow-up)."""
    into = allowed[-1]
    out = {c: (probs.get(c, 0.0) if c in allowed else 0.0) for c in probs}
    out[into] = out.get(into, 0.0) + sum(v for c, v in probs.items() if c not in allowed)
    return out


class Classifier:
    """The active model plus the rules around it."""

    def __init__(self, pipeline: Any, card: ModelCard, pubs: PublicationIndex,
                 threshold: float | None = None, thresholds: Mapping[str, float] | None = None) -> None:
        self.pipeline = pipeline
        self.card = card
        self.pubs = pubs
        self.classes = [str(c) for c in pipeline.classes_]
        # The same probabilities as pipeline.predict_proba, several times faster
        # for a lone message (None for a pipeline of another shape).
        self.scorer = FastScorer.from_pipeline(pipeline)
        # Configuration overrides the thresholds chosen from the model's evaluation.
        self.thresholds = {**card.thresholds, **(thresholds or {})}
        self.default_threshold = threshold if threshold is not None else float(
            card.data.get("threshold", 0.6))

    @classmethod
    def load(cls, model_dir: Path, pubs: PublicationIndex, threshold: float | None = None,
             thresholds: Mapping[str, float] | None = None, version: str | None = None) -> Classifier:
        version = version or read_registry(model_dir).get("active")
        if not version:
            raise ModelError(f"no active model in {model_dir}: run 'triage train'")
        pipeline, card = load_pipeline(model_dir, version)
        return cls(pipeline, card, pubs, threshold, thresholds)

    @property
    def version(self) -> str:
        return self.card.version

    def threshold_for(self, category: str) -> float:
        return float(self.thresholds.get(category, self.default_threshold))

    def classify(self, email: Email) -> Verdict:
        return self.classify_many([email])[0]

    def classify_many(self, emails: Sequence[Email]) -> list[Verdict]:
        out: list[Verdict | None] = []
        todo: list[int] = []
        for i, email in enumerate(emails):
            reason = automated_reason(email)
            if reason:
                out.append(Verdict("automated", 1.0, False, "rule", reason))
            else:
                out.append(None)
                todo.append(i)
        if todo:
            rows = [features.row(emails[i], self.pubs) for i in todo]
            probs = (self.scorer.predict_proba(rows) if self.scorer is not None
                     else self.pipeline.predict_proba(features.matrix(rows)))
            for i, p in zip(todo, probs, strict=True):
                out[i] = self._decide(emails[i], p)
        return [v for v in out if v is not None]

    def _decide(self, email: Email, p: np.ndarray) -> Verdict:
        probs = {c: float(x) for c, x in zip(self.classes, p, strict=True)}
        rule = sender_rule(email, self.pubs)
        if rule is not None:
            return self._verdict(email, fold(probs, rule[0]), rule[1] + "; ")
        return self._verdict(email, probs, "")

    def restrict(self, email: Email, verdict: Verdict, allowed: Sequence[str], why: str) -> Verdict:
        """``verdict`` reconsidered when facts outside the text (e.g. the case the
        message belongs to) rule some categories out; rule verdicts stand."""
        if verdict.by == "rule" or not verdict.probabilities or (verdict.category in allowed and \
                not verdict.needs_review):
            return verdict
        return self._verdict(email, fold(verdict.probabilities, allowed), why + "; ")

    def _verdict(self, email: Email, probs: dict[str, float], reason: str) -> Verdict:
        category = max(probs, key=lambda c: (probs[c], -CATEGORIES.index(c)))
        confidence = probs[category]
        threshold = self.threshold_for(category)
        needs_review = confidence < threshold
        if needs_review:
            runner = sorted(probs, key=probs.__getitem__, reverse=True)[1]
            reason += (f"confidence {confidence:.2f} below the {category} threshold {threshold:.2f} "
                       f"(next: {runner} {probs[runner]:.2f})")
        if email.parse_error:
            needs_review = True
            reason += ("; " if reason else "") + f"parse problem: {email.parse_error}"
        return Verdict(category, confidence, needs_review, f"model {self.version}",
                       reason.strip("; "), probs)
