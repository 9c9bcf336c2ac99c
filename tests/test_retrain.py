"""Retrain on fixed data, the background job, the progress of dq auto, and compare (issue 6, item 5).

Real dq auto runs on a few hundred BANKING77 rows (4 classes, 2 folds, 2 epochs); no mocks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dq
from dq.auto.demo import DATA_DIR as DEMO_DATA
from dq.auto.jobs import DONE, FAILED
from dq.auto.pipeline import AutoSettings, auto
from dq.edits.compare import compare
from dq.edits.retrain import RetrainJob, retrain
from dq.errors import ValidationError
from dq.splits import TEST, TRAINING, VALIDATION
from dq.store import Run
from dq_console.jobs import get_job, start_job

BANKING = DEMO_DATA
CLASSES = ["card_arrival", "exchange_rate", "lost_or_stolen_card", "pin_blocked"]
PER_CLASS = {"train": 36, "dev": 6, "test": 8}
# The original file's column names: retrain must keep them (and the split column's role).
SETTINGS = AutoSettings(text="utterance", label="intent", split="part", epochs=2, folds=2, seed=3)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dq_home")


@pytest.fixture(scope="module")
def base(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A dq auto run on 200 BANKING77 rows with train/dev/test parts and a metadata column."""
    train = pd.read_csv(BANKING / "train.csv", dtype=str)
    test = pd.read_csv(BANKING / "test.csv", dtype=str)
    train, test = train[train["category"].isin(CLASSES)], test[test["category"].isin(CLASSES)]
    parts = []
    for part, source, skip in (("train", train, 0), ("dev", train, PER_CLASS["train"]), ("test", test, 0)):
        rows = source.groupby("category").nth(list(range(skip, skip + PER_CLASS[part])))
        parts.append(
            pd.DataFrame(
                {"utterance": rows["text"], "intent": rows["category"], "part": part, "length": rows["text"].str.len()}
            )
        )
    data = tmp_path_factory.mktemp("data") / "bank.csv"
    pd.concat(parts, ignore_index=True).to_csv(data, index=False)
    result = auto(data, SETTINGS, project="bank", run="base", home=home, progress=False, log=lambda _: None)
    return Run(result.path)


def _fixed(run: Run) -> pd.DataFrame:
    """The training split under the original file's column names, as the edits code returns it."""
    return run.samples(TRAINING).rename(columns={"text": "utterance", "label": "intent"})


def _quiet(**kw):
    return {"log": lambda _: None, **kw}


@pytest.mark.model
def test_retrain_trains_on_the_fixed_rows_and_copies_the_other_splits(base: Run, home: Path):
    fixed = _fixed(base)
    removed = fixed["id"].iloc[[0, 5, 50]].tolist()
    relabeled = fixed["id"].iloc[[1, 60]].tolist()
    fixed = fixed[~fixed["id"].isin(removed)].copy()
    fixed.loc[fixed["id"].isin(relabeled), "intent"] = "pin_blocked"

    result = retrain(base, fixed, home=home, **_quiet())
    new = Run(result.path)

    assert not result.reused and (result.path / "run.json").exists()
    assert new.project == "bank" and new.name.startswith("base-fixed-") and len(new.name) == len("base-fixed-") + 8
    assert new.path.parent == base.path.parent
    assert new.meta["source"]["parent"] == "bank/base"  # the Runs page shows what it retrains
    settings = new.meta["source"]["settings"]
    assert (settings["epochs"], settings["folds"], settings["seed"]) == (2, 2, 3)
    assert (settings["text"], settings["label"], settings["split"]) == ("utterance", "intent", "part")
    assert new.splits == [TRAINING, VALIDATION, TEST] and new.labels == base.labels

    got = new.samples(TRAINING)
    assert got["id"].tolist() == fixed["id"].astype(str).tolist()  # ids kept (as text), removed rows gone
    assert not set(map(str, removed)) & set(got["id"])
    assert got["label"].tolist() == fixed["intent"].tolist()
    assert (got.set_index("id").loc[list(map(str, relabeled)), "label"] == "pin_blocked").all()
    assert got["length"].tolist() == fixed["length"].tolist()
    for split in (VALIDATION, TEST):
        before, after = base.samples(split), new.samples(split)
        assert after["id"].tolist() == before["id"].astype(str).tolist()
        pd.testing.assert_frame_equal(after.drop(columns="id"), before.drop(columns="id"))
        assert new.epochs(split) == [0, 1]


@pytest.mark.model
def test_retrain_takes_the_fixed_dataset_of_the_edits_cart(base: Run, home: Path, tmp_path: Path):
    from dq.edits import EditsCart, actions, current_samples, fix, run_key

    cart = EditsCart(tmp_path / "edits.db")
    now = current_samples(base, TRAINING, cart.active(run_key(base), TRAINING))
    ids = now["id"].tolist()
    cart.add(
        base, TRAINING, actions.relabel(now, ids[:2], to="pin_blocked") + actions.remove(now, ids[2:4]), author="test"
    )
    fixed = fix(base, TRAINING, cart=cart).frame
    new = Run(retrain(base, fixed, home=home, **_quiet()).path)
    got = new.samples(TRAINING).set_index("id")
    assert len(got) == len(now) - 2 and not {str(i) for i in ids[2:4]} & set(got.index)
    assert (got.loc[[str(i) for i in ids[:2]], "label"] == "pin_blocked").all()
    assert new.meta["source"]["settings"]["split"] == "part"


@pytest.mark.model
def test_retraining_the_same_fixed_data_reuses_the_run(base: Run, home: Path):
    fixed = _fixed(base).iloc[3:]
    first = retrain(base, fixed, home=home, **_quiet())
    seen: list[float] = []
    second = retrain(base, fixed.copy(), home=home, progress=lambda f, _m: seen.append(f), **_quiet())
    assert second.reused and second.path == first.path and seen == [1.0]
    other = retrain(base, fixed.iloc[1:], home=home, **_quiet())
    assert other.path != first.path


@pytest.mark.model
def test_a_class_that_disappears_from_training_still_trains_and_compares(base: Run, home: Path):
    fixed = _fixed(base)
    fixed.loc[fixed["intent"] == "exchange_rate", "intent"] = "card_arrival"
    new = Run(retrain(base, fixed, home=home, **_quiet()).path)
    # The class is still a label (validation and test hold it); the model just never predicts it.
    assert "exchange_rate" in new.labels and "exchange_rate" not in set(new.samples(TRAINING)["label"])
    table = compare(base, new)
    test_acc = table[(table["split"] == TEST) & (table["metric"] == "accuracy")].iloc[0]
    assert test_acc["after"] < test_acc["before"]  # a quarter of the test set is now always wrong
    assert test_acc["after"] <= 0.75 + 1e-9


@pytest.mark.model
def test_job_runs_in_the_background_and_reports_increasing_progress(base: Run, home: Path):
    fixed = _fixed(base).iloc[7:]
    seen: list[tuple[float, str]] = []
    job = RetrainJob.start(base, fixed, home=home, progress=lambda f, m: seen.append((f, m)), **_quiet())
    assert job.wait(timeout=120) == DONE
    assert job.fraction == 1.0 and job.error is None and job.result is not None
    assert Run(job.result.path).n_samples(TRAINING) == len(fixed)
    fractions = [f for f, _ in seen]
    assert fractions[-1] == 1.0 and len(fractions) >= 4
    assert fractions == sorted(fractions) and fractions[0] < 1.0
    assert any("epoch" in m for _, m in seen) and any("embed" in m for _, m in seen)


@pytest.mark.model
def test_a_failing_job_says_why_in_one_line(base: Run, home: Path):
    one_class = _fixed(base).query("intent == 'pin_blocked'")  # dq auto needs two training classes
    job = RetrainJob.start(base, one_class, home=home, **_quiet())
    assert job.wait(timeout=60) == FAILED
    assert job.result is None and "at least 2" in job.error and "\n" not in job.error
    bad = RetrainJob.start(base, pd.DataFrame({"words": ["a"]}), home=home)
    assert bad.wait(timeout=10) == FAILED and "text column" in bad.error
    no_ids = _fixed(base).assign(id=None)
    with pytest.raises(ValidationError, match="an id on every row"):
        retrain(base, no_ids, home=home)
    with pytest.raises(ValidationError, match="'split' parameter of retrain"):
        retrain(base, _fixed(base), split="inference", home=home)


@pytest.mark.model
def test_job_registry_keeps_one_running_job_per_key(base: Run, home: Path):
    fixed = _fixed(base).iloc[11:]
    job = start_job("bank/base:test", retrain, base, fixed, home=home, **_quiet())
    again = start_job("bank/base:test", retrain, base, fixed, home=home, **_quiet())
    # The same job while it runs; a new one (reusing the finished run) once it is over.
    assert again is job or job.state == DONE
    assert get_job("bank/base:test") is again
    assert again.wait(timeout=120) == DONE and again.result.path == job.result.path
    assert get_job("nobody") is None


# --- compare on hand-made runs --------------------------------------------------------------------


def _log(home: Path, name: str, labels: list[str], preds: dict[str, list[str]], test: list[str] | None = None) -> Run:
    """A logged run whose last-epoch predictions on each split are exactly ``preds`` (``test``: its labels)."""
    truth = {"training": ["a", "b", "c", "a"], "test": test or ["a", "a", "b", "b", "c", "c"], "validation": ["a", "b"]}
    dq.init(project="cmp", run=name, labels=labels, home=home)
    for split, y in truth.items():
        ids = list(range(len(y)))
        dq.log_data_samples(texts=[f"{split} {i}" for i in ids], labels=y, ids=ids, split=split)
        predicted = preds.get(split, y)
        probs = np.full((len(y), len(labels)), 0.1 / (len(labels) - 1))
        probs[np.arange(len(y)), [labels.index(p) for p in predicted]] = 0.9
        # Epoch 0 predicts the first class everywhere: compare must use the last epoch only.
        first = np.full((len(y), len(labels)), 0.2 / (len(labels) - 1))
        first[:, 0] = 0.8
        for epoch, epoch_probs in ((0, first), (1, probs)):
            dq.log_model_outputs(ids=ids, embs=np.eye(len(y), 4), probs=epoch_probs, split=split, epoch=epoch)
    return Run(dq.finish())


def test_compare_scores_the_last_epoch_with_classes_matched_by_name(tmp_path: Path):
    # test truth a a b b c c
    before = _log(tmp_path, "before", ["a", "b", "c"], {"test": ["a", "b", "b", "b", "c", "a"]})
    # Other class order and an extra class: columns must be matched by name, not position.
    after = _log(tmp_path, "after", ["c", "d", "a", "b"], {"test": ["a", "a", "b", "b", "c", "d"]})
    table = compare(before, after)
    assert list(table.columns) == [
        "split", "metric", "before", "after", "change", "change_low", "change_high", "beyond_noise"
    ]  # fmt: skip
    assert table["split"].tolist() == [VALIDATION] * 4 + [TEST] * 4
    assert table["metric"].tolist() == ["accuracy", "macro_f1", "macro_precision", "macro_recall"] * 2
    got = table[table["split"] == TEST].set_index("metric")
    # before: a P 1/2 R 1/2, b P 2/3 R 1, c P 1 R 1/2 -> F1 1/2, 4/5, 2/3
    assert got.loc["accuracy", "before"] == pytest.approx(4 / 6)
    assert got.loc["macro_precision", "before"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert got.loc["macro_recall", "before"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert got.loc["macro_f1", "before"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    # after: a, b perfect; c P 1 R 1/2 (F1 2/3); d predicted once, never true: P R F1 0
    assert got.loc["accuracy", "after"] == pytest.approx(5 / 6)
    assert got.loc["macro_precision", "after"] == pytest.approx((1 + 1 + 1 + 0) / 4)
    assert got.loc["macro_recall", "after"] == pytest.approx((1 + 1 + 1 / 2 + 0) / 4)
    assert got.loc["macro_f1", "after"] == pytest.approx((1 + 1 + 2 / 3 + 0) / 4)
    assert (got["change"] == got["after"] - got["before"]).all()
    val = table[table["split"] == VALIDATION]
    assert (val["before"] == 1.0).all() and (val["after"] == 1.0).all() and (val["change"] == 0).all()
    assert compare(before, after, splits=[TEST])["split"].unique().tolist() == [TEST]
    # six test rows, one more right and none worse: resamples without that row change nothing, so
    # the paired interval starts at 0 and the gain is not beyond the noise
    assert (got["change_low"] <= got["change"]).all() and (got["change"] <= got["change_high"]).all()
    assert got.loc["accuracy", "change_low"] == 0 < got.loc["accuracy", "change_high"]
    assert not got.loc["accuracy", "beyond_noise"]


def test_compare_tells_a_real_gain_from_noise(tmp_path: Path):
    truth = ["a", "b"] * 100
    before_preds = ["a"] * 200  # right on half
    after_preds = truth[:180] + ["a"] * 20  # right on 190
    before = _log(tmp_path, "before", ["a", "b", "c"], {"test": before_preds}, test=truth)
    after = _log(tmp_path, "after", ["a", "b", "c"], {"test": after_preds}, test=truth)
    row = compare(before, after, splits=[TEST]).set_index("metric").loc["accuracy"]
    assert row["change"] == pytest.approx(0.45)
    assert 0.3 < row["change_low"] < 0.45 < row["change_high"] < 0.6 and row["beyond_noise"]


def test_compare_refuses_splits_it_cannot_score(tmp_path: Path):
    before = _log(tmp_path, "before", ["a", "b", "c"], {})
    after = _log(tmp_path, "after", ["a", "b", "c"], {})
    with pytest.raises(ValidationError, match="'splits' parameter of compare"):
        compare(before, after, splits=[TRAINING])
    with pytest.raises(ValidationError, match="'after' parameter"):
        compare(before, "elsewhere")  # type: ignore[arg-type]
