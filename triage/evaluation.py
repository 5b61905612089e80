"""Presenting an evaluation report: as text for the terminal and as an HTML page
with the confusion matrix and a reliability diagram (inline SVG, no scripts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape


def format_text(r: dict[str, Any]) -> str:
    lines = [f"examples: {r['examples']}  folds: {r.get('folds', '?')}",
             f"macro-F1: {r['macro_f1']:.3f}  accuracy: {r['accuracy']:.3f}  "
             f"calibration error (ECE): {r['ece']:.3f}", "",
             f"{'category':<24} {'precision':>9} {'recall':>7} {'F1':>6} {'n':>5}"]
    for cat, m in r["per_class"].items():
        lines.append(f"{cat:<24} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} "
                     f"{m['support']:>5}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)"]
    labels = r["confusion"]["labels"]
    short = [c[:6] for c in labels]
    lines.append(" " * 24 + " ".join(f"{s:>6}" for s in short))
    for name, row in zip(labels, r["confusion"]["matrix"], strict=True):
        lines.append(f"{name:<24}" + " ".join(f"{n:>6}" for n in row))
    lines.append("")
    for target, c in r["coverage"].items():
        lines.append(f"at {float(target):.0%} precision: {c['coverage']:.1%} of messages filed "
                     f"automatically (confidence ≥ {c['threshold']:.2f})")
    if "suggested_threshold" in r:
        lines.append(f"suggested threshold: {r['suggested_threshold']}  per category: "
                     f"{r['suggested_thresholds'] or 'none'}")
    return "\n".join(lines)


def render_html(r: dict[str, Any], templates_dir: Path) -> str:
    env = Environment(loader=FileSystemLoader(str(templates_dir)),
                      autoescape=select_autoescape(["html", "j2"]))
    matrix = r["confusion"]["matrix"]
    peak = max((max(row) for row in matrix), default=1) or 1
    return env.get_template("reports/evaluation.html.j2").render(r=r, peak=peak,
                                                                  points=_reliability_points(r))


def _reliability_points(r: dict[str, Any]) -> list[dict[str, float]]:
    """Reliability bins mapped onto a 300×300 SVG (y grows downwards)."""
    return [{"x": 300 * b["confidence"], "y": 300 - 300 * b["accuracy"],
             "r": 3 + min(9.0, b["count"] ** 0.5), **b} for b in r["reliability"]]
