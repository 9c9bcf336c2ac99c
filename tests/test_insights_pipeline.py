"""dq.insights end to end: planted errors found on synthetic runs and on real BANKING77 text; the cache.

The synthetic run is logged with the public client: Gaussian blobs as embeddings, a nearest-centroid
"model" whose probabilities sharpen epoch by epoch, flipped labels, conflicting exact duplicates, far
outliers, and a validation blob the training data never covers.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

import dq
from dq.auto.demo import DATA_DIR as DEMO_DATA
from dq.insights import InsightSettings, SplitInsights, cache, compute, has_insights, run_insights, split_insights
from dq.splits import TRAINING, VALIDATION
from dq.store import Run
from dq.store.layout import CACHE_DIR

BANKING = DEMO_DATA
FRAME_COLUMNS = {
    "id",
    "text",
    "label",
    "pred",
    "probs",
    "confidence",
    "margin",
    "dep",
    "dep_bucket",
    "is_misclassified",
    "is_mislabeled",
    "suggested_label",
    "is_on_boundary",
    "dup_group",
    "is_near_duplicate",
    "is_outlier",
    "cluster",
}


# --- a synthetic run with planted problems --------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    """A logged run and the truth about it (row positions are logging order)."""

    path: Path
    labels: list[str]
    true: np.ndarray  # true class of every training row
    given: np.ndarray  # logged class of every training row
    flipped: np.ndarray  # rows whose label was flipped
    duplicates: np.ndarray  # (3, 2): a clean row and its exact copy logged with another label
    outliers: np.ndarray  # rows far from every class
    uncovered: np.ndarray  # validation rows of a blob absent from training

    @property
    def wrong(self) -> np.ndarray:
        return self.given != self.true


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _orthogonal(rng: np.random.Generator, basis: np.ndarray, n: int) -> np.ndarray:
    """``n`` random unit vectors orthogonal to the rows of ``basis`` (orthonormal)."""
    x = rng.standard_normal((n, basis.shape[1]))
    return _unit(x - (x @ basis.T) @ basis)


def _centroid_probs(embs: np.ndarray, centres: np.ndarray, sharpness: float) -> np.ndarray:
    logits = sharpness * _unit(embs) @ _unit(centres).T
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def write_planted_run(
    home: Path,
    *,
    name: str = "planted",
    n_per_class: int = 150,
    dim: int = 32,
    noise: float = 0.2,
    flip_share: float = 0.08,
    seed: int = 0,
) -> Planted:
    """Log a 4-class run: blobs, 3 epochs, flipped labels, 3 conflicting duplicates, 3 far outliers."""
    labels = ["billing", "delivery", "refund", "security"]
    words = {0: "invoice charged twice", 1: "parcel courier late", 2: "money back return", 3: "password login locked"}
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((dim, len(labels) + 1)))[0].T  # orthonormal rows
    centres, novel_centre = basis[: len(labels)], basis[len(labels)]

    true = np.repeat(np.arange(len(labels)), n_per_class)
    embs = centres[true] + noise * rng.standard_normal((len(true), dim))
    texts = [f"{words[c]} question {i}" for i, c in enumerate(true)]
    given = true.copy()
    flipped = np.sort(rng.choice(len(true), int(round(flip_share * len(true))), replace=False))
    given[flipped] = (true[flipped] + rng.integers(1, len(labels), len(flipped))) % len(labels)
    # Three exact copies (same text, same embedding) of clean rows, logged with another label.
    sources = rng.choice(np.setdiff1d(np.arange(len(true)), flipped), 3, replace=False)
    copies = np.arange(len(true), len(true) + 3)
    embs = np.vstack([embs, embs[sources]])
    texts += [texts[i] for i in sources]
    true = np.concatenate([true, true[sources]])
    given = np.concatenate([given, (true[sources] + 1) % len(labels)])
    # Three points far from everything (orthogonal to every class centre and to each other's region).
    outliers = np.arange(len(true), len(true) + 3)
    embs = np.vstack([embs, _orthogonal(rng, basis, 3)])
    texts += [f"zq unrelated gibberish {k}" for k in range(3)]
    true = np.concatenate([true, [0, 1, 2]])
    given = np.concatenate([given, [0, 1, 2]])

    val_true = np.repeat(np.arange(len(labels)), 25)
    val_embs = centres[val_true] + noise * rng.standard_normal((len(val_true), dim))
    uncovered = np.arange(len(val_true), len(val_true) + 10)
    val_embs = np.vstack([val_embs, novel_centre + noise * rng.standard_normal((10, dim))])
    val_true = np.concatenate([val_true, np.zeros(10, dtype=np.int64)])
    val_texts = [f"{words[c]} validation {i}" for i, c in enumerate(val_true)]

    # The "model": nearest centroid of the logged (noisy) labels, sharper every epoch.
    fitted = np.stack([embs[given == c].mean(axis=0) for c in range(len(labels))])
    names = np.array(labels, dtype=object)
    dq.init(project="synthetic", run=name, labels=labels, home=home)
    dq.log_data_samples(texts=texts, labels=names[given].tolist(), ids=np.arange(len(texts)), split=TRAINING)
    dq.log_data_samples(
        texts=val_texts, labels=names[val_true].tolist(), ids=np.arange(len(val_texts)), split=VALIDATION
    )
    for epoch, sharpness in enumerate((3.0, 6.0, 12.0)):
        dq.log_model_outputs(
            ids=np.arange(len(texts)),
            embs=embs.astype(np.float32),
            probs=_centroid_probs(embs, fitted, sharpness),
            split=TRAINING,
            epoch=epoch,
        )
        dq.log_model_outputs(
            ids=np.arange(len(val_texts)),
            embs=val_embs.astype(np.float32),
            probs=_centroid_probs(val_embs, fitted, sharpness),
            split=VALIDATION,
            epoch=epoch,
        )
    path = dq.finish()
    return Planted(path, labels, true, given, flipped, np.column_stack([sources, copies]), outliers, uncovered)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    return write_planted_run(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def planted_insights(planted: Planted) -> dict[str, SplitInsights]:
    return run_insights(planted.path)


# --- planted errors are found ---------------------------------------------------------------------


def test_wrong_labels_have_the_highest_dep(planted, planted_insights):
    frame = planted_insights[TRAINING].frame
    np.testing.assert_array_equal(frame["id"].to_numpy(), np.arange(len(planted.true)))
    ap = average_precision_score(planted.wrong, frame["dep"])
    assert ap >= 0.9, f"AP {ap:.3f}"  # observed 1.000
    assert frame["dep"].to_numpy()[planted.flipped].mean() > 3 * frame["dep"].to_numpy()[~planted.wrong].mean()


def test_likely_mislabeled_flags_are_precise_and_suggest_the_true_label(planted, planted_insights):
    frame = planted_insights[TRAINING].frame
    flagged = frame["is_mislabeled"].to_numpy()
    hits = flagged & planted.wrong
    precision, recall = hits.sum() / max(flagged.sum(), 1), hits.sum() / planted.wrong.sum()
    assert precision >= 0.8, f"precision {precision:.2f}"  # observed 1.00
    assert recall >= 0.5, f"recall {recall:.2f}"  # observed 0.75
    suggested = frame["suggested_label"].to_numpy()[hits]
    truth = np.array(planted.labels, dtype=object)[planted.true[hits]]
    assert (suggested == truth).mean() >= 0.85
    assert set(frame["suggested_label"].dropna()) <= set(planted.labels)
    assert not (frame["suggested_label"] == frame["label"]).any()
    assert planted_insights[TRAINING].summary["analyses"]["mislabeled"]["n_mislabeled"] == flagged.sum()


def test_conflicting_duplicates_are_grouped_and_flagged(planted, planted_insights):
    frame = planted_insights[TRAINING].frame
    conflicting = frame["is_conflicting_duplicate"].to_numpy()
    groups = frame["dup_group"].to_numpy()
    for source, copy in planted.duplicates:
        assert conflicting[source] and conflicting[copy]
        assert groups[source] == groups[copy] >= 0
    assert frame["is_near_duplicate"].to_numpy()[planted.duplicates.ravel()].all()
    assert conflicting.sum() == planted.duplicates.size  # nothing else conflicts
    assert (groups[~frame["is_near_duplicate"].to_numpy()] == -1).all()
    kinds = {a.kind: a for a in planted_insights[TRAINING].alerts}
    assert kinds["conflicting_duplicates"].count == planted.duplicates.size


def test_far_points_are_outliers(planted, planted_insights):
    frame = planted_insights[TRAINING].frame
    assert frame["is_outlier"].to_numpy()[planted.outliers].all()
    assert frame["is_outlier"].sum() <= 0.02 * len(frame)  # outlier_share 1%, plus ties
    top = np.argsort(-frame["outlier_score"].to_numpy())[: len(planted.outliers)]
    assert set(top) == set(planted.outliers)


def test_a_validation_blob_absent_from_training_is_out_of_coverage(planted, planted_insights):
    validation = planted_insights[VALIDATION].frame
    assert "is_out_of_coverage" in validation.columns
    uncovered = validation["is_out_of_coverage"].to_numpy()
    assert uncovered[planted.uncovered].all()
    covered = np.setdiff1d(np.arange(len(validation)), planted.uncovered)
    assert uncovered[covered].sum() <= 2
    alert = next(a for a in planted_insights[VALIDATION].alerts if a.kind == "out_of_coverage")
    assert alert.count == uncovered.sum()


@pytest.mark.parametrize("split", [TRAINING, VALIDATION])
def test_frame_shape_and_value_ranges(planted, planted_insights, split):
    result = planted_insights[split]
    frame = result.frame
    assert FRAME_COLUMNS <= set(frame.columns), FRAME_COLUMNS - set(frame.columns)
    # The library's own list (the console tells metadata apart by it) is the frame's columns in order.
    own = [c for c in compute.FRAME_COLUMNS if split != TRAINING or c != "is_out_of_coverage"]
    assert list(frame.columns[: len(own)]) == own
    assert not set(frame.columns[len(own) :]) & set(compute.FRAME_COLUMNS)  # the rest is metadata
    assert frame["id"].is_unique
    dep = frame["dep"].to_numpy()
    assert np.isfinite(dep).all() and (dep >= 0).all() and (dep <= 1).all()
    assert set(frame["dep_bucket"]) <= {"easy", "ambiguous", "hard"}
    buckets = frame.groupby("dep_bucket")["dep"]
    if {"easy", "hard"} <= set(frame["dep_bucket"]):
        assert buckets.max()["easy"] < buckets.min()["hard"]  # buckets are DEP ranges
    probs = np.stack(frame["probs"].to_numpy())
    assert probs.shape == (len(frame), len(planted.labels))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert (np.array(planted.labels, dtype=object)[probs.argmax(axis=1)] == frame["pred"].to_numpy()).all()
    np.testing.assert_allclose(frame["confidence"], probs.max(axis=1), atol=1e-6)
    assert (frame["is_misclassified"] == (frame["pred"] != frame["label"])).all()
    assert set(frame["cluster"]) <= set(result.clusters["cluster"])
    assert result.summary["n_samples"] == len(frame) == Run(planted.path).n_samples(split)
    assert result.confusion.sum() == len(frame)


def test_split_insights_is_one_split_of_run_insights(planted, planted_insights):
    result = split_insights(planted.path, VALIDATION)
    pd.testing.assert_frame_equal(
        result.frame.drop(columns="probs"), planted_insights[VALIDATION].frame.drop(columns="probs")
    )


# --- real text ------------------------------------------------------------------------------------


@pytest.mark.model
def test_flipped_banking77_labels_rank_high(tmp_path, dq_home):
    from dq.auto.pipeline import AutoSettings, auto

    rng = np.random.default_rng(0)
    train = pd.read_csv(BANKING / "train.csv", dtype=str)
    classes = sorted(train["category"].unique())[:10]
    rows = train[train["category"].isin(classes)].groupby("category").sample(30, random_state=0).reset_index(drop=True)
    flipped = np.sort(rng.choice(len(rows), int(round(0.08 * len(rows))), replace=False))
    for i in flipped:
        rows.loc[i, "category"] = rng.choice([c for c in classes if c != rows.loc[i, "category"]])
    rows.to_csv(tmp_path / "bank.csv", index=False)

    result = auto(
        tmp_path / "bank.csv",
        AutoSettings(text="text", label="category", epochs=3, folds=3),
        progress=False,
        log=lambda message: None,
    )
    frame = run_insights(result.path)[TRAINING].frame
    wrong = np.isin(frame["id"].astype(int).to_numpy(), flipped)
    assert wrong.sum() == len(flipped) == 24
    ap = average_precision_score(wrong, frame["dep"])
    assert ap >= 0.8, f"AP {ap:.3f}"  # observed 0.988 (seeds 1, 2: 0.997, 1.000)
    flagged = frame["is_mislabeled"].to_numpy()
    assert (flagged & wrong).sum() >= 0.8 * flagged.sum() and flagged.sum() >= 0.4 * wrong.sum()  # observed 16 of 16


# --- the cache ------------------------------------------------------------------------------------


def _small_run(home: Path, *, seed: int = 0, name: str = "small") -> Planted:
    return write_planted_run(home, name=name, n_per_class=60, seed=seed)


def _entries(run_path: Path) -> list[Path]:
    return sorted(p for p in (run_path / CACHE_DIR / "insights").iterdir() if p.is_dir())


def _files(entry: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in entry.iterdir()}


def _assert_same(a: dict[str, SplitInsights], b: dict[str, SplitInsights]) -> None:
    assert list(a) == list(b)
    for split in a:
        pd.testing.assert_frame_equal(a[split].frame.drop(columns="probs"), b[split].frame.drop(columns="probs"))
        np.testing.assert_array_equal(np.stack(a[split].frame["probs"]), np.stack(b[split].frame["probs"]))
        for result in (a[split], b[split]):  # the matrix is the column, row for row (computed or read)
            assert result.probs.dtype == np.float32
            np.testing.assert_array_equal(result.probs, np.stack(result.frame["probs"]))
        assert a[split].summary == b[split].summary
        np.testing.assert_array_equal(a[split].confusion.toarray(), b[split].confusion.toarray())
        for table in ("class_report", "overlap", "misclassified_pairs"):
            pd.testing.assert_frame_equal(getattr(a[split], table), getattr(b[split], table), check_dtype=False)
        assert a[split].alerts == b[split].alerts


def _tamper_summary(entry: Path, split: str) -> None:
    """Mark a cached entry so that reading it (rather than recomputing) is visible: a whole entry
    (its digest made anew) that says something the computation never would."""
    path = entry / f"{split}.json"
    payload = json.loads(path.read_text())
    payload.pop(cache.DIGEST)
    payload["summary"]["n_samples"] = -1
    path.write_text(json.dumps({**payload, cache.DIGEST: cache.payload_digest(payload)}))


def test_second_call_reads_the_cache_without_writing(tmp_path):
    planted = _small_run(tmp_path)
    assert not has_insights(planted.path)
    first = run_insights(planted.path)
    assert has_insights(planted.path)
    [entry] = _entries(planted.path)
    expected = {f"{s}.{ext}" for s in (TRAINING, VALIDATION) for ext in ("parquet", "json", "neighbors.npy")}
    assert set(_files(entry)) == expected
    before = _files(entry)
    second = run_insights(planted.path)
    assert _files(entry) == before
    _assert_same(first, second)
    for split in (TRAINING, VALIDATION):
        loaded = cache.load(entry, split)
        assert loaded is not None and loaded.split == split
        assert loaded.summary == first[split].summary
    _tamper_summary(entry, VALIDATION)
    assert run_insights(planted.path)[VALIDATION].summary["n_samples"] == -1  # read, not recomputed


def test_refresh_recomputes_and_rewrites(tmp_path):
    planted = _small_run(tmp_path)
    first = run_insights(planted.path)
    [entry] = _entries(planted.path)
    _tamper_summary(entry, TRAINING)
    refreshed = run_insights(planted.path, refresh=True)
    assert refreshed[TRAINING].summary["n_samples"] == len(planted.true)
    assert json.loads((entry / f"{TRAINING}.json").read_text())["summary"]["n_samples"] == len(planted.true)
    _assert_same(first, refreshed)


def test_a_half_written_entry_is_recomputed(tmp_path):
    planted = _small_run(tmp_path)
    first = run_insights(planted.path)
    [entry] = _entries(planted.path)
    (entry / f"{TRAINING}.json").unlink()  # the JSON is written last: without it the entry is incomplete
    _tamper_summary(entry, VALIDATION)
    assert cache.load(entry, TRAINING) is None
    again = run_insights(planted.path)
    assert (entry / f"{TRAINING}.json").exists()
    assert again[VALIDATION].summary["n_samples"] == first[VALIDATION].summary["n_samples"]  # every split recomputed
    _assert_same(first, again)


def test_other_settings_use_another_entry_and_can_flag_differently(tmp_path):
    planted = _small_run(tmp_path)
    default = run_insights(planted.path)
    strict = run_insights(planted.path, settings=replace(InsightSettings(), mislabel_strictness=1.0))
    entries = _entries(planted.path)
    assert len(entries) == 2
    n_default = int(default[TRAINING].frame["is_mislabeled"].sum())
    n_strict = int(strict[TRAINING].frame["is_mislabeled"].sum())
    assert 0 < n_strict < n_default
    assert run_insights(planted.path)[TRAINING].frame["is_mislabeled"].sum() == n_default  # each entry kept
    assert len(_entries(planted.path)) == 2


def test_another_run_never_reuses_this_runs_cache(tmp_path):
    a = _small_run(tmp_path, seed=0, name="a")
    b = _small_run(tmp_path, seed=1, name="b")
    run_insights(a.path)
    [entry_a] = _entries(a.path)
    # Even a copy of a's cache inside b (a copied run directory, a sync tool) is not b's entry.
    shutil.copytree(a.path / CACHE_DIR / "insights", b.path / CACHE_DIR / "insights")
    _tamper_summary(entry_a, TRAINING)
    _tamper_summary(b.path / CACHE_DIR / "insights" / entry_a.name, TRAINING)
    result_b = run_insights(b.path)
    assert result_b[TRAINING].summary["n_samples"] == len(b.true)
    np.testing.assert_array_equal(
        result_b[TRAINING].frame["label"].to_numpy(), np.array(b.labels, dtype=object)[b.given]
    )
    assert len(_entries(b.path)) == 2 and entry_a.name in {e.name for e in _entries(b.path)}
    assert run_insights(a.path)[TRAINING].summary["n_samples"] == -1  # a still reads its own entry


def test_caching_keeps_the_run_verifiable(tmp_path):
    planted = _small_run(tmp_path)
    run = Run(planted.path)
    assert run.verify()
    run_insights(run)
    assert _entries(planted.path)
    assert Run(planted.path).verify()


def test_dep_buckets_never_split_a_tie() -> None:
    from dq.insights.compute import dep_thresholds

    # 95 samples share one low DEP and 10 of them are misclassified; by position alone the first
    # bins of the tie looked "hard" and every tied sample became hard (seen on a tiny run).
    dep = np.r_[np.full(95, 0.03), np.full(5, 0.9)]
    wrong = np.r_[np.arange(95) < 10, np.ones(5, dtype=bool)]
    easy, hard = dep_thresholds(dep, wrong)
    assert hard == 0.9 and int((dep >= hard).sum()) == 5
    # All tied: no bin of the tie is wrong half the time, and the fallback quantile does not
    # make the whole tie hard either.
    easy, hard = dep_thresholds(np.full(100, 0.03), np.arange(100) < 10)
    assert hard == float("inf") and easy == 0.03
    # Without ties: the bottom is easy, the top hard, and "hard" starts where a sliding window of
    # a bin's width is first wrong half the time, at one sample's score (not on the bin grid).
    rng = np.random.default_rng(0)
    scores = rng.random(2_000)
    wrong = rng.random(2_000) < scores**3
    easy, hard = dep_thresholds(scores, wrong)
    assert 0 < easy < hard < 1 and hard in set(scores.tolist())
    ranked_wrong = wrong[np.argsort(scores)]
    start = int(np.searchsorted(np.sort(scores), hard))
    assert ranked_wrong[start : start + 100].mean() >= 0.5  # the window from there is wrong half the time
    assert all(ranked_wrong[i : i + 100].mean() < 0.5 for i in range(start))  # ... and none before it
    assert (scores >= hard).sum() % 100 != 0  # the share is the data's, not a multiple of the bin width
