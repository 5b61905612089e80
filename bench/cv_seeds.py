"""How much the cross-validated macro-F1 depends on which examples land in
which fold: grouped, stratified 5-fold CV on training_data/ (as `triage
evaluate`, whose folds use seed 13) repeated with other fold assignments.

    .venv/bin/python bench/cv_seeds.py [--seeds 13 1 2 3 4 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.classifier import LIMITS  # noqa: E402
from triage import training  # noqa: E402
from triage.publications import PublicationIndex, read_csv  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[13, 1, 2, 3, 4, 5])
    args = p.parse_args()
    pubs = PublicationIndex(read_csv(ROOT / "data" / "publications.csv"))
    ds = training.load_directory(ROOT / "training_data", LIMITS)
    ds.featurise(pubs)
    scores = []
    for seed in args.seeds:
        started = time.perf_counter()
        probs, classes = training.cross_val_probabilities(ds, pubs, seed=seed)
        score = training.report(ds.labels, probs, classes)["macro_f1"]
        scores.append(score)
        print(f"seed {seed:3d}: macro-F1 {score:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"{len(ds)} examples, {len(scores)} fold assignments: mean {statistics.mean(scores):.4f}, "
          f"min {min(scores):.4f}, max {max(scores):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
