"""Neighbors, near duplicates, outliers and out-of-coverage samples on synthetic embeddings.

The data are clusters like sentence embeddings: each blob is a random unit centre plus a
low-rank Gaussian spread (8 directions) and some isotropic noise, normalized. Nearest
neighbors then have cosine ~0.6 and no two points reach 0.9 (no natural duplicates).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dq.errors import ValidationError
from dq.insights import duplicates
from dq.insights.duplicates import find_near_duplicates
from dq.insights.neighbors import (
    SOFTMAX_TEMPERATURE,
    Neighbors,
    build_index,
    knn,
    knn_label_distribution,
)
from dq.insights.outliers import OUTLIER_MIN_SCORE, find_out_of_coverage, find_outliers
from dq.insights.settings import InsightSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from synthetic import embeddings  # noqa: E402

DIM = 384
# Small enough that a few thousand points go through the IVF path in a test.
IVF = InsightSettings(exact_knn_max=1_000)
#: Isotropic noise per coordinate of the synthetic points (about 0.6 in norm).
NOISE = 0.03


def clustered(n: int, *, seed: int, n_blobs: int = 20, rank: int = 8, spread: float = 0.5):
    """``n`` normalized float32 points in ``n_blobs`` blobs, and the blob of each."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_blobs, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    bases = rng.standard_normal((n_blobs, rank, DIM)) / np.sqrt(DIM)
    blob = rng.integers(0, n_blobs, n)
    x = centres[blob] + spread * np.einsum("nr,nrd->nd", rng.standard_normal((n, rank)), bases[blob])
    x += NOISE * rng.standard_normal((n, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), blob


def brute_force(embs: np.ndarray, k: int, queries: np.ndarray | None = None) -> np.ndarray:
    """Exact top-k similarities by a full matrix product (self excluded without queries)."""
    sims = (embs if queries is None else queries) @ embs.T
    if queries is None:
        np.fill_diagonal(sims, -np.inf)
    return -np.sort(-sims, axis=1)[:, :k]


# --- knn ------------------------------------------------------------------------------------------


def test_ivf_recall_matches_exact_search_on_clustered_data():
    embs, _ = clustered(6_000, seed=0)
    exact = knn(embs, k=10)
    index = build_index(embs, settings=IVF)
    approx = knn(embs, k=10, settings=IVF, index=index)
    assert not index.exact
    recall = np.mean([np.intersect1d(a, b).size / 10 for a, b in zip(exact.idx, approx.idx)])
    assert recall >= 0.9
    # An approximate i-th neighbor is never closer than the true i-th one.
    assert (approx.sims <= exact.sims + 1e-5).all()
    np.testing.assert_allclose(exact.sims, brute_force(embs, 10), atol=1e-5)
    again = knn(embs, k=10, settings=IVF)  # a fresh index from the same seed
    np.testing.assert_array_equal(again.idx, approx.idx)


@pytest.mark.parametrize("settings", [InsightSettings(), InsightSettings(exact_knn_max=100)])
def test_self_is_excluded_by_index_even_among_exact_duplicates(settings):
    embs, _ = clustered(400, seed=1)
    embs[10:25] = embs[10]  # 15 identical points: more copies than k + 1
    nbrs = knn(embs, k=5, settings=settings)
    assert nbrs.idx.shape == (400, 5)
    assert not (nbrs.idx == np.arange(400)[:, None]).any()
    copies = nbrs.idx[10:25]
    assert np.isin(copies, np.arange(10, 25)).all()
    np.testing.assert_allclose(nbrs.sims[10:25], 1.0, atol=1e-6)
    assert (np.diff(nbrs.sims, axis=1) <= 1e-6).all()


def test_ivf_falls_back_to_exact_search_when_the_probed_lists_are_too_small():
    embs, _ = clustered(200, seed=11)
    tiny_lists = InsightSettings(exact_knn_max=10, ivf_nprobe=1)  # ~57 lists of ~4 rows
    nbrs = knn(embs, k=30, settings=tiny_lists)
    assert (nbrs.idx >= 0).all()
    np.testing.assert_allclose(nbrs.sims, brute_force(embs, 30), atol=1e-5)


def test_without_the_fallback_short_queries_keep_empty_slots_and_the_rest_is_the_same():
    # What a shard of the lists returns before its candidates are merged with other shards'.
    from dq.insights import ivf

    embs, _ = clustered(200, seed=11)
    index = build_index(embs, settings=InsightSettings(exact_knn_max=10, ivf_nprobe=1))
    assert index.ivf is not None
    whole_d, whole_i = ivf.ivf_search(index.ivf, embs, 30, 1, self_rows=None)
    part_d, part_i = ivf.ivf_search(index.ivf, embs, 30, 1, self_rows=None, fill_short=False)
    short = (part_i < 0).any(axis=1)
    assert short.any() and (whole_i >= 0).all()
    np.testing.assert_array_equal(part_i[~short], whole_i[~short])
    assert np.isneginf(part_d[part_i < 0]).all()


def test_k_is_clipped_to_the_number_of_other_rows():
    embs, _ = clustered(4, seed=2)
    assert knn(embs, k=10).idx.shape == (4, 3)
    assert knn(embs, k=10, queries=embs[:2]).idx.shape == (2, 4)
    single = knn(embs[:1], k=3)
    assert single.sims.shape == (1, 0) and single.idx.dtype == np.int64


def test_queries_find_themselves_and_inputs_are_normalized_without_being_changed():
    embs, _ = clustered(300, seed=3)
    scaled = embs * 3.0
    nbrs = knn(scaled, k=4, queries=scaled[:50] * 0.5)
    np.testing.assert_array_equal(nbrs.idx[:, 0], np.arange(50))
    np.testing.assert_allclose(nbrs.sims[:, 0], 1.0, atol=1e-5)
    np.testing.assert_allclose(scaled, embs * 3.0)  # the caller's array is untouched
    np.testing.assert_allclose(nbrs.sims, brute_force(embs, 4, embs[:50]), atol=1e-5)


@hsettings(max_examples=25, deadline=None)
@given(n=st.integers(2, 40), k=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_exact_knn_matches_a_full_matrix_product(n, k, seed):
    embs = np.random.default_rng(seed).standard_normal((n, 16)).astype(np.float32)
    embs /= np.linalg.norm(embs, axis=1, keepdims=True)
    nbrs = knn(embs, k=k)
    np.testing.assert_allclose(nbrs.sims, brute_force(embs, min(k, n - 1)), atol=1e-5)


@pytest.mark.parametrize(
    ("embs", "kwargs", "param"),
    [
        ([[np.nan, 1.0]], {"k": 1}, "'embs'"),
        (np.ones(3), {"k": 1}, "'embs'"),
        (np.eye(3), {"k": 0}, "'k'"),
        (np.eye(3), {"k": 1, "queries": np.eye(2)}, "'queries'"),
        (np.eye(3), {"k": 1, "index": "an index"}, "'index'"),
        (np.eye(3), {"k": 1, "settings": InsightSettings(ivf_nprobe=0)}, "ivf_nprobe"),
    ],
)
def test_knn_refuses_bad_arguments_naming_them(embs, kwargs, param):
    with pytest.raises(ValidationError, match=param):
        knn(embs, **kwargs)


def test_an_index_of_other_embeddings_is_refused_and_huge_values_are_not():
    with pytest.raises(ValidationError, match="'index'"):
        knn(np.eye(3), k=1, index=build_index(np.eye(4)))
    huge = np.array([[3e20, 0.0], [0.0, 1e20], [1e20, 1e20]], dtype=np.float32)  # squares overflow
    nbrs = knn(huge, k=1)
    np.testing.assert_allclose(nbrs.sims.ravel(), [np.sqrt(0.5)] * 3, atol=1e-6)


# --- label distribution ---------------------------------------------------------------------------


@hsettings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 30),
    k=st.integers(0, 6),
    n_classes=st.integers(1, 5),
    weights=st.sampled_from(["similarity", "uniform", "softmax"]),
    seed=st.integers(0, 2**16),
)
def test_label_distribution_rows_sum_to_one_and_match_a_loop(m, k, n_classes, weights, seed):
    rng = np.random.default_rng(seed)
    n = 20
    labels = rng.integers(-1, n_classes, n)  # -1: unlabeled
    sims = -np.sort(-rng.uniform(-0.5, 1.0, (m, k)).astype(np.float32), axis=1)
    nbrs = Neighbors(sims=sims, idx=rng.integers(0, n, (m, k)))
    dist = knn_label_distribution(nbrs, labels, n_classes, weights=weights)
    expected = np.zeros((m, n_classes))
    for i in range(m):
        for s, j in zip(sims[i], nbrs.idx[i]):
            if labels[j] >= 0:
                expected[i, labels[j]] += {
                    "similarity": max(float(s), 0.0),
                    "uniform": 1.0,
                    "softmax": np.exp(float(s) / SOFTMAX_TEMPERATURE),
                }[weights]
        total = expected[i].sum()
        expected[i] = expected[i] / total if total > 0 else 1.0 / n_classes
    assert dist.dtype == np.float32 and dist.shape == (m, n_classes)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(dist, expected, atol=1e-5)


def test_label_distribution_follows_the_blobs():
    embs, blob = clustered(2_000, seed=4, n_blobs=5)
    dist = knn_label_distribution(knn(embs, k=10), blob, 5)
    assert (dist.argmax(axis=1) == blob).mean() > 0.99
    with pytest.raises(ValidationError, match="'labels'"):
        knn_label_distribution(knn(embs, k=10), blob[:100], 5)


# --- near duplicates ------------------------------------------------------------------------------


def test_clean_data_has_no_duplicates():
    embs, blob = clustered(1_000, seed=5)
    texts = [f"text number {i}" for i in range(1_000)]
    nbrs = knn(embs, k=10)
    assert nbrs.sims.max() < InsightSettings().duplicate_similarity
    result = find_near_duplicates(texts, blob, nbrs)
    assert result.name == "near_duplicate"
    assert not result.is_issue.any()
    assert (result.columns["dup_group"] == -1).all()
    assert result.summary["n_groups"] == 0 and result.summary["n_conflicting_samples"] == 0


def test_planted_paraphrases_and_exact_text_duplicates_are_grouped():
    rng = np.random.default_rng(6)
    embs, blob = clustered(1_000, seed=6)
    labels: list[object] = [f"class {b}" for b in blob]
    texts = [f"text number {i}" for i in range(1_000)]
    # Paraphrases: 100 ~ 900 (same label), 200 ~ 901 ~ 902 (902 labels differently).
    for original, copy in [(100, 900), (200, 901), (200, 902)]:
        embs[copy] = embs[original] + 0.002 * rng.standard_normal(DIM)
        labels[copy] = labels[original]
    labels[902] = "another class"
    # Exact text duplicates with unrelated embeddings, so only the text hash can link them.
    texts[950], texts[50] = "Where is my CARD?", "  where is\tmy card? "
    labels[950], labels[50] = "card_arrival", "lost_card"
    texts[960], texts[60] = "refund please", "Refund  please"
    labels[960], labels[60] = None, "refund"  # an unlabeled copy makes no conflict

    result = find_near_duplicates(texts, labels, knn(embs, k=10))
    group = result.columns["dup_group"]
    conflicting = result.columns["is_conflicting_duplicate"]
    assert set(np.flatnonzero(result.is_issue)) == {50, 60, 100, 200, 900, 901, 902, 950, 960}
    # Group ids follow the first member: {50, 950}, {60, 960}, {100, 900}, {200, 901, 902}.
    assert group[[50, 950, 60, 960, 100, 900, 200, 901, 902]].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 3]
    assert set(np.flatnonzero(conflicting)) == {50, 950, 200, 901, 902}
    assert result.score[[50, 950]].tolist() == [1.0, 1.0]
    assert result.score[900] > 0.99
    assert result.summary == {
        "n_groups": 4,
        "n_samples_in_groups": 9,
        "n_conflicting_groups": 2,
        "n_conflicting_samples": 5,
        "threshold": 0.95,
    }


def test_exact_duplicates_are_confirmed_by_their_texts_not_by_a_shared_hash(monkeypatch):
    # Every text hashed to the same key (the worst collision): only equal normalized texts are linked,
    # and blocks hashed apart (as on an engine) find duplicates across blocks.
    texts = ["refund please", "where is my card", "Refund  please", "top up", "WHERE is my card", "x"]
    expected = [0, 1, 0, 3, 1, 5]
    assert duplicates._exact_duplicate_partner(texts).tolist() == expected
    monkeypatch.setattr(duplicates, "TEXT_KEY_BATCH", 2)
    monkeypatch.setattr(duplicates, "text_keys_block", lambda block: np.zeros(len(block), dtype=np.uint64))
    assert duplicates._exact_duplicate_partner(texts).tolist() == expected


def test_ivf_blocks_on_local_threads_find_the_same_neighbours_and_leave_blas_as_it_was(monkeypatch):
    # Several IVF query blocks: on one thread per core (the local executor's threads) or in turn, the
    # same neighbours in the same order; BLAS's thread count is back to what it was afterwards.
    from threadpoolctl import threadpool_info

    from dq.insights import neighbors
    from dq.scale import executors

    embs, _ = clustered(3_000, seed=11)
    settings = InsightSettings(exact_knn_max=500)
    monkeypatch.setattr(neighbors, "IVF_SEARCH_BATCH", 400)
    blas_before = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    found = {}
    for threads in (1, 2):
        monkeypatch.setattr(executors, "LOCAL_THREADS", threads)
        found[threads] = knn(embs, k=10, settings=settings)
    np.testing.assert_array_equal(found[2].idx, found[1].idx)
    np.testing.assert_array_equal(found[2].sims, found[1].sims)
    assert [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"] == blas_before
    with executors.open_executor("local") as ex:
        assert ex.map(lambda x, *, k: x * k, list(range(50)), shared={"k": 3}, threads=True) == [
            3 * x for x in range(50)
        ]


def test_ivf_splits_the_lists_of_tight_clusters(monkeypatch):
    # Five tight blobs: k-means hands each blob to one centroid, so five lists would hold every row
    # and every query would scan a fifth of the data. Above the cap those lists are cut into parts of
    # about IVF_PART_MIN rows; the neighbours stay in the query's own blob, as exact search finds them.
    from dq.insights import ivf

    embs, blob = embeddings(6_000)  # bench/synthetic.py's blobs, on which the lists collapse
    settings = InsightSettings(exact_knn_max=500)
    whole = np.diff(ivf.build(embs, settings).ivf.list_starts)
    assert whole.max() > 10 * whole.mean() and np.median(whole) <= 1  # the problem: a blob's list
    monkeypatch.setattr(ivf, "IVF_LIST_CAP_MIN", 40)
    monkeypatch.setattr(ivf, "IVF_PART_MIN", 20)
    index = ivf.build(embs, settings)
    sizes = np.diff(index.ivf.list_starts)
    assert sizes.sum() == 6_000 and sizes.max() <= 0.5 * whole.max() and np.median(sizes) >= 5
    nbrs = knn(embs, k=10, settings=settings, index=index)
    exact = knn(embs, k=10, settings=replace(settings, exact_knn_max=10_000))
    own_blob = [(blob[found.idx] == blob[:, None]).mean() for found in (nbrs, exact)]
    assert own_blob[0] >= own_blob[1] - 0.01, own_blob
    assert np.abs(nbrs.sims.mean(axis=1) - exact.sims.mean(axis=1)).max() < 0.02  # as similar, if not the same rows
    np.testing.assert_array_equal(ivf.build(embs, settings).ivf.list_rows, index.ivf.list_rows)  # deterministic


def test_duplicates_refuse_mismatched_inputs():
    embs, blob = clustered(50, seed=7)
    nbrs = knn(embs, k=3)
    with pytest.raises(ValidationError, match="'labels'"):
        find_near_duplicates(["a"] * 50, blob[:10], nbrs)
    with pytest.raises(ValidationError, match="'nbrs'"):
        find_near_duplicates(["a"] * 40, blob[:40], nbrs)
    with pytest.raises(ValidationError, match="duplicate_similarity"):
        find_near_duplicates(["a"] * 50, blob, nbrs, settings=InsightSettings(duplicate_similarity=2.0))


# --- outliers and coverage ------------------------------------------------------------------------


def test_planted_far_points_are_the_top_outliers():
    embs, _ = clustered(1_000, seed=8)
    far = np.random.default_rng(108).standard_normal((5, DIM)).astype(np.float32)  # not seed 8: the centres
    embs = np.vstack([embs, far / np.linalg.norm(far, axis=1, keepdims=True)])
    result = find_outliers(knn(embs, k=10), settings=InsightSettings(outlier_share=0.01))
    planted = np.arange(1_000, 1_005)
    assert set(np.argsort(-result.score)[:5]) == set(planted)
    assert result.is_issue[planted].all()
    assert result.summary["n_outliers"] == result.is_issue.sum() <= 11
    assert result.summary["threshold"] >= OUTLIER_MIN_SCORE


def test_a_tight_blob_flags_nothing():
    rng = np.random.default_rng(9)
    embs = np.ones((500, DIM)) + 0.05 * rng.standard_normal((500, DIM))
    result = find_outliers(knn(embs, k=10), settings=InsightSettings(outlier_share=0.05))
    assert result.score.max() < OUTLIER_MIN_SCORE
    assert result.summary["quantile"] < OUTLIER_MIN_SCORE
    assert not result.is_issue.any() and result.summary["n_outliers"] == 0


def test_out_of_coverage_flags_the_blob_missing_from_training():
    embs, blob = clustered(3_000, seed=10, n_blobs=10)
    train, test = embs[:2_500][blob[:2_500] != 9], embs[2_500:]
    settings = replace(InsightSettings(), outlier_share=0.01)
    index = build_index(train, settings=settings)
    training = find_outliers(knn(train, k=10, index=index), settings=settings)
    result = find_out_of_coverage(knn(train, k=10, queries=test, index=index), training.score)
    absent = blob[2_500:] == 9
    assert result.name == "out_of_coverage"
    assert result.is_issue[absent].all()
    assert result.is_issue[~absent].mean() < 0.02
    assert result.summary["n_flagged"] == result.is_issue.sum()
    assert result.summary["share"] == pytest.approx(result.is_issue.mean())
    with pytest.raises(ValidationError, match="training_outlier_scores"):
        find_out_of_coverage(knn(train, k=10, queries=test), [np.nan])


def test_knn_of_row_on_float16_rows_finds_the_float32_neighbours(monkeypatch: pytest.MonkeyPatch) -> None:
    from dq._util.embs import as_embs
    from dq.insights import neighbors

    rng = np.random.default_rng(5)
    embs = as_embs(rng.normal(size=(3_000, 24)), param="embs")
    half = as_embs(embs.astype(np.float16), param="embs")
    monkeypatch.setattr(neighbors, "_ROW_BLOCK", 700)  # several blocks, the last one short
    for row in (0, 1_234, 2_999):
        exact, approx = neighbors.knn_of_row(embs, row, k=10), neighbors.knn_of_row(half, row, k=10)
        assert len(set(exact.idx[0]) & set(approx.idx[0])) >= 9 and row not in approx.idx[0]
        np.testing.assert_allclose(approx.sims[0], exact.sims[0], atol=5e-3)
