"""A split's insights read where they lie (``dq.insights.split_rows``) give what the loaded frame
gives: the same rows for every filter, the same pages, the same tables and alerts; ids written
as text find their rows; a damaged file is never read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dq
import dq.client
import dq.insights.split_rows as split_rows
from dq._util.embs import as_embs
from dq.insights import cache, run_insights, stored_insights
from dq.insights.filters import SampleFilter, apply_filter
from dq.insights.pages import cached_frame
from dq.insights.split_rows import top_by_dep
from dq.store import Run
from dq_console.gpt import TEXTS_PER_CLUSTER, cluster_texts

LABELS = ["billing", "delivery", "login"]


def _log(home: Path, *, text_ids: bool) -> Run:
    """Three topics over 120 training and 45 inference samples, labels flipped, metadata of every
    kind with gaps (text, int, float with NaN, flag), ids as ints or as text."""
    rng = np.random.default_rng(3)
    dq.init(project="rows", run="text-ids" if text_ids else "int-ids", labels=LABELS, home=home)
    for split, n in (("training", 120), ("inference", 45)):
        topic = np.arange(n) % 3
        ids = [f"s-{split[0]}{i}" for i in range(n)] if text_ids else list(range(n))
        texts = [
            f"{['invoice', 'parcel', 'password'][t]} question {i} {'Ünïcode' if i % 5 == 0 else ''}"
            for i, t in enumerate(topic)
        ]
        labels = [LABELS[t] for t in topic]
        for i in range(0, n, 9):
            labels[i] = LABELS[(topic[i] + 1) % 3]
        meta = {
            "source": [None if i % 11 == 0 else ("web" if i % 3 else "app") for i in range(n)],
            "rank": [i % 4 for i in range(n)],
            "score": [float("nan") if i % 7 == 0 else i / n for i in range(n)],
            "vip": [i % 2 == 0 for i in range(n)],
        }
        dq.log_data_samples(
            texts=texts, labels=None if split == "inference" else labels, ids=ids, split=split, meta=meta
        )
        embs = np.eye(16)[topic] * 3 + rng.normal(scale=0.7, size=(n, 16))
        for epoch in (0, 1):
            logits = 2.0 * (epoch + 1) * np.eye(3)[topic] + rng.normal(scale=0.8, size=(n, 3))
            dq.log_model_outputs(ids=ids, embs=embs, logits=logits, split=split, epoch=epoch)
    path = dq.finish()
    dq.client._current = None
    return Run(path)


@pytest.fixture(scope="module", params=[False, True], ids=["int-ids", "text-ids"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _log(tmp_path_factory.mktemp("rows"), text_ids=request.param)


FILTERS: list[SampleFilter] = [
    {},
    {"label": ["billing", "login"]},
    {"pred": ["delivery"], "is_misclassified": True},
    {"dep": {"min": 0.3, "max": 0.9}},
    {"dep": {"max": 0.5}},
    {"is_mislabeled": True},
    {"text": {"contains": "üNÏcode"}},
    {"text": {"regex": r"question \d1\b"}},
    {"source": "app"},
    {"source": ["web", None]},
    {"rank": 2},
    {"rank": [1, 3], "label": ["delivery"]},
    {"score": {"min": 0.25}},
    {"score": [float("nan")]},
    {"vip": True},
    {"cluster": [0, 2]},
    {"suggested_label": ["billing", None]},
]


@pytest.mark.parametrize("split", ["training", "inference"])
def test_every_filter_keeps_the_rows_the_frame_keeps(run: Run, split: str) -> None:
    frame = run_insights(run)[split].frame
    samples = stored_insights(run)[split].samples
    for sample_filter in FILTERS:
        if split == "inference" and set(sample_filter) & {"label", "suggested_label", "is_misclassified"}:
            continue
        expected = np.flatnonzero(np.asarray(apply_filter(frame, sample_filter), dtype=bool))
        rows = samples.select(sample_filter)
        assert rows.positions.tolist() == expected.tolist(), sample_filter
        assert rows.ids.tolist() == frame["id"].iloc[expected].tolist()
        np.testing.assert_array_equal(rows.dep, frame["dep"].iloc[expected].to_numpy(dtype=np.float64))


@pytest.mark.parametrize("split", ["training", "inference"])
def test_the_rows_read_back_are_the_frame(run: Run, split: str, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = run_insights(run)[split].frame
    samples = stored_insights(run)[split].samples
    assert samples.n_rows == len(frame) and [c for c in frame.columns if c not in samples.columns] == []
    everything = samples.everything().frame()
    pd.testing.assert_frame_equal(everything, frame)
    order = [7, 0, 31, 5]
    pd.testing.assert_frame_equal(samples.take(order), frame.iloc[order])
    pd.testing.assert_frame_equal(samples.take(order, ["text", "id"]), frame.iloc[order][["text", "id"]])
    assert samples.take([]).empty and list(samples.take([]).columns) == list(frame.columns)
    monkeypatch.setattr(split_rows, "_LISTED_ROWS", 3)  # more rows than listed: through a table of them
    pd.testing.assert_frame_equal(samples.take(order[::-1]), frame.iloc[order[::-1]])
    np.testing.assert_array_equal(samples.column("probs"), np.stack(frame["probs"].to_list()))


def test_pages_are_the_frames_rows_by_dep(run: Run) -> None:
    for split in ("training", "inference"):
        frame = run_insights(run)[split].frame
        samples = stored_insights(run)[split].samples
        for sample_filter in ({}, {"label": ["login"]} if split == "training" else {"vip": True}):
            kept = frame[np.asarray(apply_filter(frame, sample_filter), dtype=bool)]
            ranked = kept.iloc[np.argsort(np.where(kept["dep"].isna(), np.inf, -kept["dep"]), kind="stable")]
            rows = samples.select(sample_filter)
            for number in (1, 2, 3, 99):
                page = rows.page(number, size=16)
                last = max(1, -(-len(kept) // 16))
                first = (min(number, last) - 1) * 16
                pd.testing.assert_frame_equal(page, ranked.iloc[first : first + 16])


def test_ids_are_found_as_values_and_as_text(run: Run) -> None:
    frame = run_insights(run)["training"].frame
    samples = stored_insights(run)["training"].samples
    ids = frame["id"].iloc[[40, 3, 17]].tolist()
    assert samples.positions_of(ids).tolist() == [3, 17, 40]
    assert samples.positions_of([str(i) for i in ids] + ["nope", "-", "03"], as_text=True).tolist() == [3, 17, 40]
    assert samples.position_of(ids[0]) == 40 and samples.position_of("not an id") is None
    assert samples.select({"dep": {"min": 0.0}}, ids=ids).positions.tolist() == [3, 17, 40]


def test_distinct_values_leave_missing_ones_out(run: Run) -> None:
    samples = stored_insights(run)["training"].samples
    assert samples.distinct("source", limit=10) == ["app", "web"]
    assert samples.distinct("rank", limit=3) == [0, 1, 2]
    scores = samples.distinct("score", limit=500)
    assert not any(np.isnan(scores)) and len(scores) == 120 - len(range(0, 120, 7))


def test_tables_and_alerts_are_the_loaded_ones(run: Run) -> None:
    loaded, stored = run_insights(run), stored_insights(run)
    for split in run.splits:
        assert stored[split].summary == loaded[split].summary
        pd.testing.assert_frame_equal(stored[split].class_report, loaded[split].class_report)
        pd.testing.assert_frame_equal(stored[split].clusters, loaded[split].clusters)
        assert (stored[split].confusion != loaded[split].confusion).nnz == 0
        assert [a.message for a in stored[split].alerts] == [a.message for a in loaded[split].alerts]


def test_cluster_texts_are_the_lowest_dep_texts_of_each_cluster(run: Run) -> None:
    frame = run_insights(run)["training"].frame
    typical = frame.sort_values("dep", kind="stable").groupby("cluster", sort=False).head(TEXTS_PER_CLUSTER)
    expected = {int(c): group.tolist() for c, group in typical.groupby("cluster")["text"]}
    assert cluster_texts(stored_insights(run)["training"].samples) == expected


def test_a_damaged_file_is_computed_again_not_read(run: Run) -> None:
    frame = run_insights(run)["training"].frame
    path = cached_frame(run, "training")
    assert path is not None
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    healed = stored_insights(run)["training"].samples
    pd.testing.assert_frame_equal(healed.everything().frame(), frame)
    assert cached_frame(run, "training") is not None


def test_top_by_dep_on_ties_and_missing() -> None:
    dep = np.array([0.5, np.nan, 0.5, 0.9, 0.1, 0.5])
    assert top_by_dep(dep, 4).tolist() == [3, 0, 2, 5]
    assert top_by_dep(dep, 99).tolist() == [3, 0, 2, 5, 4, 1]
    assert top_by_dep(dep, 0).tolist() == []


def test_the_neighbours_kept_are_the_splits_own_and_a_damaged_file_is_not_read(run: Run) -> None:
    from dq.insights.neighbors import knn_of_row
    from dq.insights.settings import InsightSettings
    from dq_console.sample_view import N_NEIGHBORS

    for split in run.splits:
        samples = stored_insights(run)[split].samples
        kept = samples.neighbors()
        assert kept is not None and kept.shape == (samples.n_rows,)
        embs = as_embs(run.embs(split), param="embs")
        for row in (0, 7, samples.n_rows - 1):
            exact = knn_of_row(embs, row, k=N_NEIGHBORS)  # small splits are searched exactly
            assert kept[row]["row"].tolist() == exact.idx[0].tolist()
            np.testing.assert_allclose(kept[row]["sim"], exact.sims[0], atol=1e-5)
    directory = cache.cache_dir(run, InsightSettings().key())
    path = cache.neighbors_file(directory, "training")
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    assert stored_insights(run)["training"].samples.neighbors() is None  # the panel searches the embeddings then
