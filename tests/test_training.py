"""Train → evaluate → promote → rollback, and refusing tampered model files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sklearn

from tests.conftest import CORPUS
from triage import training
from triage.classifier import Classifier, read_registry
from triage.cli import main
from triage.config import CATEGORIES, LimitsConfig
from triage.errors import ModelError
from triage.publications import PublicationIndex, read_csv

ROOT = Path(__file__).resolve().parents[1]
LIMITS = LimitsConfig(5_000_000, 200, 100_000)
PUBS = PublicationIndex(read_csv(ROOT / "data" / "publications.csv"))


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    """15 examples of each category (every 11th file, for variety)."""
    out = tmp_path_factory.mktemp("data")
    for cat in CATEGORIES:
        (out / cat).mkdir()
        for path in sorted((ROOT / "training_data" / cat).glob("*.eml"))[::11][:15]:
            shutil.copy(path, out / cat / path.name)
    return out


def test_near_duplicates_share_a_group():
    a = "the article about my mother was wrong about the date of the funeral and the cause of death " * 3
    groups = training.near_duplicate_groups([a, a.replace("mother", "father"), "something else entirely here"])
    assert groups[0] == groups[1] != groups[2]


def test_round_trip_train_evaluate_promote_rollback(small_data, tmp_path):
    models = tmp_path / "models"
    ds = training.load_directory(small_data, LIMITS)
    assert ds.counts() == {c: 15 for c in sorted(CATEGORIES)}
    first = training.train(ds, PUBS, models)
    assert first.promoted and first.version == "v0001" and first.current_f1 is None
    card = json.loads((models / "v0001" / "card.json").read_text())
    assert card["training_examples"]["new_complaint"] == 15
    assert {"python", "sklearn", "skops", "numpy"} <= set(card["environment"])
    assert 0 <= card["evaluation"]["held_out"]["macro_f1"] <= 1 and "ece" in card["evaluation"]["held_out"]

    # v0001 was trained on every example, so the same data gives it nothing unseen to be
    # compared on: scoring it on its own training mail would make any candidate look worse.
    assert len(training.trained_on(models, "v0001")) == len(ds)
    second = training.train(training.load_directory(small_data, LIMITS), PUBS, models)
    assert second.version == "v0002" and not second.promoted and second.current_f1 is None
    assert "nothing it has not seen" in second.message
    # New examples (here: more files from training_data/) are what the two are compared on.
    more = training.load_directory(small_data, LIMITS)
    extra = [p for cat in CATEGORIES for p in sorted((ROOT / "training_data" / cat).glob("*.eml"))[5::11][:6]]
    training.add_examples(more, [(p.read_bytes(), p.parent.name, str(p)) for p in extra], LIMITS)
    third = training.train(more, PUBS, models)
    assert third.version == "v0003" and third.current_f1 is not None
    assert "held-out examples v0001 was not trained on" in third.message
    assert third.promoted == (third.candidate_f1 >= third.current_f1)
    training.promote(models, "v0002")
    assert read_registry(models)["active"] == "v0002"
    history = read_registry(models)["history"]
    assert history == (["v0001", "v0003", "v0002"] if third.promoted else ["v0001", "v0002"])
    for previous in reversed(history[:-1]):
        assert training.rollback(models) == previous
        assert Classifier.load(models, PUBS).version == previous
    with pytest.raises(ModelError, match="no earlier model"):
        training.rollback(models)

    report = training.evaluate(training.load_directory(small_data, LIMITS), PUBS, folds=3)
    assert set(report["per_class"]) == set(CATEGORIES)
    assert sum(map(sum, report["confusion"]["matrix"])) == len(ds)
    assert set(report["coverage"]) == {"0.95", "0.99"}


def test_worse_candidate_is_kept_out_unless_forced(small_data, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)  # the shipped model, trained on all the data
    result = training.train(training.load_directory(small_data, LIMITS), PUBS, models)
    active = read_registry(models)["active"]
    if result.promoted:  # only when the small model really scored at least as well
        assert result.candidate_f1 >= result.current_f1 and active == result.version
    else:
        assert "kept the current model" in result.message and active != result.version
    forced = training.train(training.load_directory(small_data, LIMITS), PUBS, models, force=True)
    assert forced.promoted and read_registry(models)["active"] == forced.version


def test_tampered_or_foreign_model_is_refused(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    version = read_registry(models)["active"]
    path = models / version / "model.skops"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the SHA-256"):
        Classifier.load(models, PUBS)
    card_path = models / version / "card.json"
    card = json.loads(card_path.read_text())
    card["sklearn_version"] = "0.1"
    card["sha256"] = training.file_sha256(path)
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"saved with scikit-learn 0\.1"):
        Classifier.load(models, PUBS)


def test_model_with_code_is_refused(tmp_path):
    """A model file that would need an untrusted type (here: a function) never loads."""
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    models = tmp_path / "models"
    (models / "v0001").mkdir(parents=True)
    path = models / "v0001" / "model.skops"
    sio.dump(FunctionTransformer(func=shutil.rmtree), path)
    import sklearn

    from triage import features

    (models / "v0001" / "card.json").write_text(json.dumps({
        "sha256": training.file_sha256(path), "sklearn_version": sklearn.__version__,
        "feature_version": features.FEATURE_VERSION}))
    (models / "registry.json").write_text(json.dumps({"active": "v0001", "history": ["v0001"]}))
    with pytest.raises(ModelError, match="not allowed"):
        Classifier.load(models, PUBS)


def test_cli_models_and_classify(tmp_path, capsys):
    sample = sorted((ROOT / "training_data" / "automated").glob("*.eml"))[0]
    complaint = sorted((ROOT / "training_data" / "new_complaint").glob("*.eml"))[0]
    assert main(["--config", str(tmp_path / "none.toml"), "classify", "--json", str(sample), str(complaint)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [set(x) >= {"file", "category", "confidence", "needs_review"} for x in lines] == [True, True]
    assert all(x["category"] in CATEGORIES and 0 <= x["confidence"] <= 1 for x in lines)
    assert main(["--config", str(ROOT / "config.toml"), "models"]) == 0
    # The active version is starred, every other listed without.
    out = capsys.readouterr().out
    active = read_registry(ROOT / "models")["active"]
    assert f"* {active}" in out and out.count("* ") == 1


def test_fast_scorer_gives_the_pipelines_probabilities():
    """The classifier's own arithmetic (triage.scoring) matches scikit-learn's
    predict_proba on the shipped model, for training mail and hostile corpus mail,
    one at a time and in a batch."""
    from triage import features
    from triage.message import parse
    from triage.scoring import FastScorer

    clf = Classifier.load(ROOT / "models", PUBS)
    assert clf.scorer is not None
    raws = [p.read_bytes() for p in sorted((ROOT / "training_data").rglob("*.eml"))[::25]]
    corpus = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    assert corpus, f"corpus missing: {CORPUS}"
    raws += [p.read_bytes() for p in corpus[::2]]
    raws += [b"", b"Subject: \r\n\r\n", b"From: x@y\r\n\r\n" + b"\xff\xfe" * 500]
    rows = [features.row(parse(raw, LIMITS), PUBS) for raw in raws]
    expected = clf.pipeline.predict_proba(features.matrix(rows))
    assert abs(clf.scorer.predict_proba(rows) - expected).max() < 1e-9
    assert abs(clf.scorer.predict_proba(rows[:1]) - expected[:1]).max() < 1e-9
    # Anything but the shape build_pipeline makes is left to scikit-learn.
    assert FastScorer.from_pipeline(clf.pipeline.named_steps["model"]) is None
    assert FastScorer.from_pipeline(object()) is None


def test_saved_model_is_small_and_predicts_as_before_saving(small_data, tmp_path):
    """Each view's selector keeps exactly its slice of the features after its
    index lists are stored as arrays, and a saved and reloaded model gives the
    same probabilities as the one in memory, from a file of a few megabytes."""
    from triage import features
    from triage.classifier import load_pipeline

    ds = training.load_directory(small_data, LIMITS)
    ds.featurise(PUBS)
    model = training.fit(ds.rows, ds.labels)
    x = features.matrix(ds.rows)
    matrix = model.named_steps["features"].transform(x).tocsr()
    for name, estimator in zip(model.named_steps["model"].named_estimators_, model.named_steps["model"].estimators_,
                               strict=True):
        if "select" in estimator.named_steps:
            span = estimator.named_steps["select"].transformers_[0][2]
            assert abs(estimator.named_steps["select"].transform(matrix) - matrix[:, span]).sum() == 0, name
    before = model.predict_proba(x)
    version = training.save_model(tmp_path, model, {"feature_version": features.FEATURE_VERSION,
                                                    "sklearn_version": sklearn.__version__})
    assert (tmp_path / version / "model.skops").stat().st_size < 30 * 2**20
    loaded, _card = load_pipeline(tmp_path, version)
    assert abs(loaded.predict_proba(x) - before).max() < 1e-12
