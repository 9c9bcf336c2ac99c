"""The insights pipeline: from a run's arrays to one per-sample frame and its summaries.

The training split is the reference for everything that compares a sample with "the data the
model learnt from": neighbor labels (DEP), out-of-coverage, clusters. Its neighbor index and
cluster model are built once and reused for validation/test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from dq._util.steps import Laps
from dq.config import IN_SAMPLE
from dq.insights import alerts as alerts_mod
from dq.insights.alert_types import HARD_ERROR_RATE
from dq.insights.clusters import ClusterModel, assign_clusters, cluster_table, fit_clusters
from dq.insights.dep import compute_dep, margins
from dq.insights.duplicates import find_near_duplicates
from dq.insights.frame_file import write_frame_file
from dq.insights.keywords import cluster_keywords
from dq.insights.metrics import metrics_of_confusion
from dq.insights.neighbors import NeighborIndex, Neighbors, build_index, knn, knn_label_distribution
from dq.insights.outliers import find_out_of_coverage, find_outliers
from dq.insights.overlap import class_overlap, misclassified_pairs_of_confusion, on_boundary
from dq.insights.posterior import pool_epochs
from dq.insights.settings import InsightSettings
from dq.insights.split_sql import SplitSQL
from dq.splits import TRAINING
from dq.store.reader import Run

if TYPE_CHECKING:
    from dq.insights.split_rows import StoredSplit

#: Class pairs kept in a split's overlap table, most overlapping first (all of them would be
#: C(C-1)/2: 50 million at 10,000 classes); the alerts and the console read the first ones.
OVERLAP_PAIRS_KEPT = 1000
#: Quantile bins used to find where the model starts failing as DEP grows.
_DEP_BINS = 20
#: Misclassification rate below which a DEP bin is "easy" ("hard": alert_types.HARD_ERROR_RATE).
_EASY_ERROR_RATE = 0.05
#: Fallback quantiles when the error rates never cross those rates.
_FALLBACK_EASY_Q, _FALLBACK_HARD_Q = 0.5, 0.9


@dataclass
class Reference:
    """What the reference split (training; in a run of inference data only, its first split)
    contributes to every split's insights."""

    split: str
    labels: np.ndarray  # class indices
    # The split's embeddings (its own copy: the read ones are let go); None once every split's
    # neighbours are found (SplitNeighbors).
    index: NeighborIndex | None
    self_nbrs: Neighbors
    outlier_scores: np.ndarray
    clusters: ClusterModel


@dataclass
class SplitTables:
    """A split's insights besides its per-sample frame: the summary and the tables."""

    split: str
    summary: dict[str, Any]
    class_report: pd.DataFrame
    overlap: pd.DataFrame
    misclassified_pairs: pd.DataFrame
    confusion: sp.csr_array  # (classes, classes), sparse: rows ground truth, columns prediction
    clusters: pd.DataFrame


@dataclass
class ComputedSplit(SplitTables):
    """What computing a split leaves in the driver: its tables, and its per-sample insights written to
    ``frame_path`` (``dq.insights.frame_file``) with that file's digest."""

    frame_path: Path
    frame_digest: str


@dataclass
class SplitInsights(SplitTables):
    """The insights of one split."""

    frame: pd.DataFrame
    #: (n, classes) float32: the frame's ``probs`` column as one matrix, in frame order (its rows
    #: are the column's cells), for whatever aggregates every row.
    probs: np.ndarray
    alerts: list[alerts_mod.Alert] = field(default_factory=list)


#: The columns the insights give every sample of a split, in order (``is_out_of_coverage`` for
#: validation and test only); every other column of a split's frame is the run's metadata.
FRAME_COLUMNS: tuple[str, ...] = (
    "id", "text", "label", "pred", "probs", "confidence", "margin", "dep", "dep_bucket", "is_misclassified",
    "is_mislabeled", "suggested_label", "p_wrong", "is_on_boundary", "dup_group", "is_near_duplicate",
    "is_conflicting_duplicate", "outlier_score", "is_outlier", "cluster", "n_words", "n_chars", "is_out_of_coverage",
)  # fmt: skip


def label_indices(labels: pd.Series | pa.ChunkedArray, class_names: list[str]) -> np.ndarray:
    """Class index of each sample's label (a name of ``class_names``); -1 for missing (inference)."""
    # One hash lookup in Arrow (strings stay Arrow strings under pandas 3: no Python loop over
    # millions of cells); a value that is not one of the names (None, NaN) gets -1, and a column
    # that is not all text (ints, mixed) goes through a Categorical, which matches only strings.
    try:
        # pandas 3 string columns convert without a copy
        values = labels if isinstance(labels, pa.ChunkedArray) else pa.chunked_array(pa.array(labels))
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            found = pc.index_in(values, value_set=pa.array(class_names, type=values.type))
            return found.fill_null(-1).to_numpy().astype(np.int64)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    if isinstance(labels, pa.ChunkedArray):
        labels = labels.to_pandas()
    is_text = np.fromiter((isinstance(v, str) for v in labels), dtype=bool, count=len(labels))
    return np.where(is_text, pd.Categorical(labels, categories=class_names).codes, -1).astype(np.int64)


def build_reference(run: Run, settings: InsightSettings) -> Reference:
    """Index, neighbors, outlier scores and clusters of the training split (of the first split in a
    run of inference data only: its samples are then their own reference, and out-of-coverage, which
    compares a sample with the training data, is not computed)."""
    split = TRAINING if TRAINING in run.splits else run.splits[0]
    lap = Laps(f"reference {split}")
    embs = read_embs(run, split, settings)
    labels = label_indices(run.samples(split, columns=["label"])["label"], run.labels)
    lap("read")
    index = build_index(embs, settings=settings)
    lap("index")
    self_nbrs = knn(embs, k=settings.n_neighbors, settings=settings, index=index)
    lap("neighbors")
    outliers = find_outliers(self_nbrs, settings=settings)
    clusters = fit_clusters(embs, n_clusters=settings.n_clusters, seed=settings.seed)
    lap("clusters")
    return Reference(split, labels, index, self_nbrs, outliers.score, clusters)


def read_embs(run: Run, split: str, settings: InsightSettings) -> np.ndarray:
    """The embeddings of ``split``: float32, or float16 above ``settings.float32_embs_max_bytes``."""
    large = run.n_samples(split) * int(run.meta.get("embedding_dim") or 0) * 4 > settings.float32_embs_max_bytes
    return run.embs(split, dtype=np.float16 if large else np.float32)


def dep_thresholds(dep: np.ndarray, is_misclassified: np.ndarray) -> tuple[float, float]:
    """(easy, hard) DEP thresholds derived from the data: "hard" is ``dep >= hard``, "easy" ``dep < easy``.

    Samples are cut into DEP quantile bins; "easy" ends at the last bin (counting up from the
    bottom) where the model is wrong less than 5% of the time. "Hard" starts at the lowest DEP
    from which a window of a bin's width is wrong at least half the time; the window slides one
    sample at a time, so the hard share follows the data rather than the bin grid. Quantiles 0.5 /
    0.9 stand in when a rate is never crossed. Samples with the same DEP always share a bucket: a
    window's or bin's error rate counts every sample whose DEP lies in its range (a tie is never
    split by position), and a threshold that would put a tie straddling it into "hard" moves
    above the tie.

    >>> dep_thresholds(np.full(100, 0.03), np.arange(100) < 10)  # all tied: nothing is hard
    (0.03, inf)
    """
    if len(dep) == 0:
        return 0.0, 1.0
    order = np.argsort(dep, kind="stable")
    ranked = dep[order]
    bins = np.array_split(np.arange(len(dep)), min(_DEP_BINS, len(dep)))
    lows, highs = ranked[[b[0] for b in bins]], ranked[[b[-1] for b in bins]]
    # Each range widened to whole ties: from the first sample at its low to the last at its high.
    wrong_before = np.concatenate([[0], np.cumsum(is_misclassified[order])])

    def tie_widened_rates(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        start, stop = np.searchsorted(ranked, lo, side="left"), np.searchsorted(ranked, hi, side="right")
        return (wrong_before[stop] - wrong_before[start]) / (stop - start)

    rates = tie_widened_rates(lows, highs)
    width = len(bins[0])
    window_rates = tie_widened_rates(ranked[: len(ranked) - width + 1], ranked[width - 1 :])
    hard_starts = np.flatnonzero(window_rates >= HARD_ERROR_RATE)
    hard = float(ranked[hard_starts[0]]) if len(hard_starts) else float(np.quantile(dep, _FALLBACK_HARD_Q))
    if not len(hard_starts) and (dep >= hard).mean() > 2 * (1 - _FALLBACK_HARD_Q):
        # The fallback quantile sits inside a tie that holds far more than its share: the tie is not hard.
        above = dep[dep > hard]
        hard = float(above.min()) if above.size else float("inf")
    easy_run = np.cumprod(rates < _EASY_ERROR_RATE).sum()
    easy = float(highs[easy_run - 1]) if easy_run else float(np.quantile(dep, _FALLBACK_EASY_Q))
    return min(easy, hard), hard


@dataclass
class SplitNeighbors:
    """What one split takes from the embeddings: its neighbours among the reference split and among
    itself, and its clusters. Found for every split before any frame is assembled, so the
    reference's index (the embeddings: 3.6 GiB at 5M x 384) is let go first."""

    to_reference: Neighbors
    own: Neighbors
    clusters: np.ndarray


def split_neighbors(run: Run, split: str, reference: Reference, settings: InsightSettings) -> SplitNeighbors:
    """The neighbours and clusters of ``split`` (the reference split's come with the reference)."""
    if split == reference.split:
        return SplitNeighbors(reference.self_nbrs, reference.self_nbrs, reference.clusters.labels)
    if reference.index is None:
        raise RuntimeError("the reference's index was released before every split's neighbours were found")
    lap = Laps(split)
    embs = read_embs(run, split, settings)
    to_reference = knn(None, k=settings.n_neighbors, queries=embs, settings=settings, index=reference.index)
    lap("neighbors in the reference")
    own = knn(embs, k=settings.n_neighbors, settings=settings)
    lap("neighbors")
    clusters = assign_clusters(embs, reference.clusters)
    lap("clusters")
    return SplitNeighbors(to_reference, own, clusters)


def compute_split(
    run: Run, split: str, reference: Reference, neighbors: SplitNeighbors, settings: InsightSettings, frame_path: Path
) -> ComputedSplit:
    """Every per-sample analysis of one split, written to ``frame_path`` (``dq.insights.frame_file``:
    batch by batch, never one frame), plus the summaries."""
    lap = Laps(split)
    samples = run.samples_table(split)
    labels = label_indices(samples.column("label"), run.labels)
    epochs = run.epochs(split)
    is_training = split == reference.split  # the reference split: its own neighbors and clusters
    in_sample = split == TRAINING and run.training_outputs == IN_SAMPLE  # held-out splits never are
    # The epochs are pooled as they are read: never every epoch in memory at once.
    pools = pool_epochs(lambda i: run.probs(split, epochs[i]), len(epochs), in_sample=in_sample)
    lap("read and pool epochs")
    to_training, self_nbrs, cluster_ids = neighbors.to_reference, neighbors.own, neighbors.clusters
    nbr_probs = knn_label_distribution(to_training, reference.labels, len(run.labels), weights="softmax")
    dep = compute_dep(
        pools,
        labels,
        neighbor_probs=nbr_probs,
        strictness=settings.mislabel_strictness,
        in_sample=in_sample,
        views={view: run.view_probs(view, split) for view, splits in run.views.items() if split in splits},
    )
    # The pools and the neighbors' labels are DEP's alone; the frame keeps the last epoch (read
    # again for in-sample outputs, which DEP pools without keeping it).
    last = pools.last if pools.last is not None else run.probs(split, epochs[-1])
    del pools, nbr_probs
    lap("dep")
    text = samples.column("text").to_pandas()  # one column, Arrow-backed
    texts = text.tolist()
    dups = find_near_duplicates(texts, labels, self_nbrs, settings=settings)
    lap("near duplicates")
    outliers = find_outliers(self_nbrs, settings=settings)
    coverage = (
        None
        if is_training or reference.split != TRAINING
        else find_out_of_coverage(to_training, reference.outlier_scores, settings=settings)
    )
    boundary = on_boundary(last)
    lap("outliers, boundary")

    preds = last.argmax(axis=1)
    names = np.array(run.labels, dtype=object)
    labeled = labels >= 0
    suggested = dep.columns["suggested_label"]
    is_misclassified = labeled & (preds != labels)
    easy, hard = dep_thresholds(dep.score[labeled], is_misclassified[labeled])
    computed = {
        "pred": names[preds],
        "confidence": last.max(axis=1),
        "margin": np.where(labeled, margins(last, np.maximum(labels, 0)), np.nan),
        "dep": dep.score,
        "dep_bucket": np.where(dep.score >= hard, "hard", np.where(dep.score < easy, "easy", "ambiguous")),
        "is_misclassified": is_misclassified,
        "is_mislabeled": dep.is_issue,
        "suggested_label": np.where(suggested >= 0, names[np.maximum(suggested, 0)], None),
        "p_wrong": dep.columns["p_wrong"],
        "is_on_boundary": boundary.is_issue,
        "dup_group": dups.columns["dup_group"],
        "is_near_duplicate": dups.is_issue,
        "is_conflicting_duplicate": dups.columns["is_conflicting_duplicate"],
        "outlier_score": outliers.score,
        "is_outlier": outliers.is_issue,
        "cluster": cluster_ids,
        "n_words": alerts_mod.word_counts(samples.column("text")),
        "n_chars": text.str.len().to_numpy(dtype=np.int64),
    }
    if coverage is not None:
        computed["is_out_of_coverage"] = coverage.is_issue
    digest = write_frame_file(frame_path, samples, computed, last)
    del computed, samples, text
    lap("frame written")
    keywords = cluster_keywords(texts, cluster_ids, top_n=settings.cluster_top_words)
    del texts
    lap("cluster keywords")
    clusters = cluster_table(
        cluster_ids, keywords, dep=dep.score, labels=labels, preds=preds, n_classes=len(run.labels)
    )
    if "top_label" in clusters:
        clusters["top_label"] = [names[i] if i >= 0 else None for i in clusters["top_label"]]
    with SplitSQL(frame_path) as written:  # metrics and confusion: SQL over the file just written
        confusion, n_unlabeled = written.confusion(run.labels)
    report, metrics = metrics_of_confusion(confusion, run.labels, n_unlabeled=n_unlabeled, dep=dep.score[labeled])
    summary = {
        "split": split,
        "n_samples": len(labels),
        "epochs": epochs,
        "dep_thresholds": {"easy": easy, "hard": hard},
        "metrics": metrics,
        "analyses": {r.name: r.summary for r in (dep, dups, outliers, boundary, *([coverage] if coverage else []))},
        "settings": settings.key(),
    }
    result = ComputedSplit(
        split=split,
        summary=summary,
        class_report=report,
        overlap=class_overlap(last, labels, run.labels, top=OVERLAP_PAIRS_KEPT),
        misclassified_pairs=misclassified_pairs_of_confusion(confusion, run.labels, top=None),
        confusion=confusion,
        clusters=clusters,
        frame_path=frame_path,
        frame_digest=digest,
    )
    lap("metrics and tables")
    return result


def attach_alerts(results: Mapping[str, SplitInsights | StoredSplit], frames: Mapping[str, Path]) -> None:
    """Fill each split's alerts (rules comparing splits see the other splits' class reports); their
    counts are SQL over each split's per-sample file in ``frames`` (``dq.insights.split_sql``)."""
    reports = {split: r.class_report for split, r in results.items()}
    for split, r in results.items():
        with SplitSQL(frames[split]) as samples:
            ctx = alerts_mod.AlertContext(
                split=split,
                samples=samples,
                class_report=r.class_report,
                overlap=r.overlap,
                clusters=r.clusters,
                macro_f1=r.summary["metrics"].get("macro_f1"),
                other_reports={s: rep for s, rep in reports.items() if s != split},
                estimated_errors=_estimated_errors(r.summary),
            )
            r.alerts = alerts_mod.find_alerts(ctx)


def _estimated_errors(summary: dict[str, Any]) -> tuple[int, int, int] | None:
    """The DEP analysis's (estimate, low, high) count of wrong labels, when the split has one."""
    dep = summary.get("analyses", {}).get("mislabeled", {})
    if "estimated_errors_range" not in dep:
        return None
    low, high = dep["estimated_errors_range"]
    return int(dep["estimated_errors"]), int(low), int(high)
