"""Classifier figures: grouped cross-validation on training_data/, the hold-out set,
training time on 10,000 examples and classification speed.

    .venv/bin/python bench/classifier.py [--train-size 10000] [--skip-cv]

Cross-validation is stratified, 5-fold, with near-duplicates kept on one side
(as `triage evaluate`). The hold-out figures use a model trained on all of
training_data/ through the full classifier (header rules, sender rule,
thresholds), exactly as `triage classify` does.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.metrics import f1_score  # noqa: E402

from triage import training  # noqa: E402
from triage.classifier import Classifier  # noqa: E402
from triage.config import LimitsConfig  # noqa: E402
from triage.publications import PublicationIndex, read_csv  # noqa: E402

LIMITS = LimitsConfig(40 * 1024 * 1024, 500, 200_000)


def resampled(ds: training.Dataset, size: int, seed: int = 3) -> training.Dataset:
    """``size`` examples drawn (with repeats) from ``ds``: a training set of any size."""
    out = training.Dataset([], [], [])
    rnd = random.Random(seed)
    while len(out) < size:
        i = rnd.randrange(len(ds))
        out.emails.append(ds.emails[i])
        out.labels.append(ds.labels[i])
        out.sources.append(ds.sources[i])
    return out


def training_seconds(ds: training.Dataset, pubs: PublicationIndex) -> float:
    """Wall time of a full `triage train` run on ``ds`` (into a throwaway folder)."""
    with tempfile.TemporaryDirectory() as models:
        started = time.perf_counter()
        training.train(ds, pubs, Path(models))
        return time.perf_counter() - started


def classification_ms(clf: Classifier, emails: list) -> tuple[float, float]:
    """Milliseconds per message: classified in one batch, and one at a time."""
    started = time.perf_counter()
    clf.classify_many(emails)
    batch = (time.perf_counter() - started) * 1000 / len(emails)
    started = time.perf_counter()
    for e in emails:
        clf.classify(e)
    return batch, (time.perf_counter() - started) * 1000 / len(emails)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train-size", type=int, default=10_000)
    p.add_argument("--skip-cv", action="store_true")
    args = p.parse_args()
    pubs = PublicationIndex(read_csv(ROOT / "data" / "publications.csv"))
    ds = training.load_directory(ROOT / "training_data", LIMITS)
    if not args.skip_cv:
        report = training.evaluate(ds, pubs)
        print(f"grouped 5-fold CV on training_data/ ({report['examples']} examples): macro-F1 "
              f"{report['macro_f1']:.3f}, accuracy {report['accuracy']:.3f}, ECE {report['ece']:.3f}")
    with tempfile.TemporaryDirectory() as models:
        training.train(ds, pubs, Path(models))
        clf = Classifier.load(Path(models), pubs)
        hold = training.load_directory(ROOT / "eval_data", LIMITS)
        verdicts = clf.classify_many(hold.emails)
    predicted = [v.category for v in verdicts]
    auto = [(v.category, y) for v, y in zip(verdicts, hold.labels, strict=True) if not v.needs_review]
    print(f"hold-out eval_data/ ({len(hold)} messages): macro-F1 "
          f"{f1_score(hold.labels, predicted, average='macro'):.3f}, accuracy "
          f"{sum(a == b for a, b in zip(predicted, hold.labels, strict=True)) / len(hold):.3f}; "
          f"filed automatically {len(auto) / len(hold):.0%} at precision "
          f"{sum(a == b for a, b in auto) / max(1, len(auto)):.3f}")
    big = resampled(ds, args.train_size)
    print(f"training on {len(big)} examples: {training_seconds(big, pubs):.0f} s")
    batch, single = classification_ms(clf, hold.emails)
    print(f"classification: {batch:.2f} ms/message in a batch, {single:.2f} ms one at a time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
