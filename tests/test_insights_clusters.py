"""Topic clusters, c-TF-IDF keywords, the cluster table and the 2-D map, on planted synthetic data."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, f1_score
from sklearn.neighbors import KNeighborsClassifier

from dq.errors import ValidationError
from dq.insights import map_place, projection
from dq.insights.clusters import (
    TABLE_COLUMNS,
    ClusterModel,
    assign_clusters,
    auto_n_clusters,
    cluster_table,
    fit_clusters,
)
from dq.insights.keywords import _ctfidf, cluster_keywords
from dq.insights.projection import map_epochs, project_2d

VOCABULARIES = {
    0: ["refund", "money", "returned"],
    1: ["card", "pin", "blocked"],
    2: ["flight", "airport", "delayed"],
}
FILLER = ["please", "help", "today", "need", "thanks"]
STOP_WORDS = ["the", "my", "is", "and", "it", "was"]


def blobs(sizes: list[int], *, dim: int = 32, spread: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors scattered around one random direction per blob, and the blob of each."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    embs = centres[truth] + rng.normal(scale=spread / math.sqrt(dim), size=(truth.size, dim))
    embs /= np.linalg.norm(embs, axis=1, keepdims=True)
    return embs.astype(np.float32), truth


def planted_texts(per_cluster: int, *, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Texts of two planted words of their cluster among shared filler and stop words."""
    rng = np.random.default_rng(seed)
    texts, clusters = [], []
    for cluster, vocab in VOCABULARIES.items():
        for _ in range(per_cluster):
            words = [*rng.choice(vocab, 2), *rng.choice(FILLER, 3), *rng.choice(STOP_WORDS, 3)]
            texts.append(" ".join(rng.permutation(words)).capitalize() + ".")
            clusters.append(cluster)
    return texts, np.asarray(clusters)


# --- fit_clusters / assign_clusters --------------------------------------------------------------


def test_fit_clusters_recovers_planted_blobs() -> None:
    sizes = [40, 160, 70, 100]
    embs, truth = blobs(sizes)
    model = fit_clusters(embs, n_clusters=4, seed=0)
    assert isinstance(model, ClusterModel)
    assert model.labels.dtype == np.int64 and model.labels.shape == (embs.shape[0],)
    assert model.centroids.dtype == np.float32 and model.centroids.shape == (4, 32)
    np.testing.assert_allclose(np.linalg.norm(model.centroids, axis=1), 1.0, atol=1e-5)
    assert adjusted_rand_score(truth, model.labels) >= 0.9
    # Each planted blob is one cluster, whole.
    assert sorted(np.bincount(model.labels).tolist()) == sorted(sizes)
    for planted in range(len(sizes)):
        assert len(np.unique(model.labels[truth == planted])) == 1


def test_fit_clusters_on_a_training_sample_when_large() -> None:
    # 3 clusters x 256 training rows per cluster < 3,000 rows: k-means sees a seeded sample only.
    embs, truth = blobs([1500, 1000, 500], dim=16, seed=1)
    model = fit_clusters(embs, n_clusters=3, seed=0)
    assert adjusted_rand_score(truth, model.labels) >= 0.9
    assert sorted(np.bincount(model.labels).tolist()) == [500, 1000, 1500]


def test_cluster_numbers_survive_a_few_rows_more_or_less() -> None:
    # A retrain on fixed data removes or adds a few samples: the clusters and their numbers must
    # stay (they were renumbered wholesale when k-means started from a draw over positions).
    embs, _ = blobs([120, 90, 150, 60, 100, 80], spread=1.2, seed=4)
    before = fit_clusters(embs, n_clusters=6, seed=0).labels
    keep = np.ones(len(embs), dtype=bool)
    keep[[3, 200, 401]] = False
    after = fit_clusters(embs[keep], n_clusters=6, seed=0).labels
    assert (before[keep] == after).mean() >= 0.95


def test_fit_clusters_is_deterministic_for_a_seed() -> None:
    embs, _ = blobs([30] * 8, spread=0.8, seed=2)
    first = fit_clusters(embs, n_clusters=8, seed=7)
    again = fit_clusters(embs, n_clusters=8, seed=7)
    np.testing.assert_array_equal(first.labels, again.labels)
    np.testing.assert_array_equal(first.centroids, again.centroids)


def test_assign_clusters_agrees_with_fit_and_places_new_rows() -> None:
    embs, truth = blobs([80, 60, 40], seed=3)
    model = fit_clusters(embs, n_clusters=3, seed=0)
    assigned = assign_clusters(embs, model)
    assert assigned.dtype == np.int64
    np.testing.assert_array_equal(assigned, model.labels)
    # Fresh rows of the same blobs (same seed: same centres) land in their blob's cluster.
    fresh, fresh_truth = blobs([80, 60, 40], seed=3)
    fresh = fresh + np.random.default_rng(9).normal(scale=0.01, size=fresh.shape).astype(np.float32)
    cluster_of_blob = {t: np.bincount(model.labels[truth == t]).argmax() for t in range(3)}
    expected = np.array([cluster_of_blob[t] for t in fresh_truth])
    assert np.mean(assign_clusters(fresh, model) == expected) >= 0.99


def test_auto_cluster_count_rule() -> None:
    assert [auto_n_clusters(n) for n in (1, 2, 8, 200, 1_000, 5_000, 1_000_000)] == [1, 2, 2, 10, 22, 50, 50]
    embs, _ = blobs([50, 50, 50, 50], seed=4)
    model = fit_clusters(embs, seed=0)  # n = 200 -> 10 clusters, none of them empty
    assert model.n_clusters == 10 and set(model.labels.tolist()) == set(range(10))


def test_fit_clusters_refuses_bad_arguments() -> None:
    embs, _ = blobs([5, 5], dim=4)
    with pytest.raises(ValidationError, match="'n_clusters'.*Got 11"):
        fit_clusters(embs, n_clusters=11)
    with pytest.raises(ValidationError, match="'embs'"):
        fit_clusters(np.full((3, 4), np.nan, dtype=np.float32))
    with pytest.raises(ValidationError, match="'embs'"):
        fit_clusters(np.zeros((0, 4), dtype=np.float32))
    with pytest.raises(ValidationError, match="'embs'"):
        assign_clusters(np.ones((2, 5), dtype=np.float32), fit_clusters(embs, n_clusters=2))
    with pytest.raises(ValidationError, match="'model'"):
        assign_clusters(embs, "not a model")


# --- cluster_keywords ----------------------------------------------------------------------------


def test_keywords_are_the_planted_words_of_each_cluster() -> None:
    texts, clusters = planted_texts(40)
    keywords = cluster_keywords(texts, clusters, top_n=3)
    assert sorted(keywords) == [0, 1, 2]
    for cluster, vocab in VOCABULARIES.items():
        assert sorted(keywords[cluster]) == sorted(vocab)
    # Shared filler scores below every planted word; stop words are never counted.
    longer = cluster_keywords(texts, clusters, top_n=10)
    for cluster, vocab in VOCABULARIES.items():
        assert sorted(longer[cluster][:3]) == sorted(vocab)
        assert set(longer[cluster][3:]) <= set(FILLER)
        assert not set(longer[cluster]) & set(STOP_WORDS)


def test_ctfidf_matches_a_hand_computation() -> None:
    # c0: apple x3, banana x1 (cherry occurs in one text only: below min_df); c1: banana x4.
    texts = ["apple apple banana", "apple cherry", "banana banana banana", "banana date"]
    assert cluster_keywords(texts, [0, 0, 1, 1], top_n=5) == {0: ["apple", "banana"], 1: ["banana"]}
    # Words per cluster 4 and 4 (A = 4); term totals apple 3, banana 5.
    scores = _ctfidf(np.array([[3.0, 1.0], [0.0, 4.0]]))
    expected = [[3 / 4 * math.log(1 + 4 / 3), 1 / 4 * math.log(1 + 4 / 5)], [0.0, 4 / 4 * math.log(1 + 4 / 5)]]
    np.testing.assert_allclose(scores, expected)


def test_keywords_tokens_bigrams_and_empty_vocabulary() -> None:
    texts = ["credit card x 42 declined", "credit card b2 declined", "the weather was", "it was the"]
    unigrams = cluster_keywords(texts, [3, 3, 5, 5], top_n=5)
    assert unigrams == {3: ["card", "credit", "declined"], 5: []}  # no digits or one-letter tokens
    with_bigrams = cluster_keywords(texts, [3, 3, 5, 5], top_n=10, bigrams=True)
    assert "credit card" in with_bigrams[3]
    assert cluster_keywords(["the and", "it is"], [0, 1], top_n=2) == {0: [], 1: []}


def test_keywords_leave_out_contraction_fragments_and_filler() -> None:
    texts = ["why hasn't my transfer arrived", "my transfer didn't arrive, does it take long"] * 3
    texts += ["I don't know my card pin", "card pin doesn't work, hello"] * 3
    keywords = cluster_keywords(texts, [0, 0] * 3 + [1, 1] * 3, top_n=6)
    found = set(keywords[0]) | set(keywords[1])
    assert not found & {"hasn", "didn", "don", "doesn", "does", "hello"}
    assert {"transfer", "card", "pin"} <= found


def test_keywords_refuse_mismatched_inputs() -> None:
    with pytest.raises(ValidationError, match="'clusters'"):
        cluster_keywords(["a b", "c d"], [0], top_n=2)
    with pytest.raises(ValidationError, match="'clusters'"):
        cluster_keywords(["a b"], [-1], top_n=2)
    with pytest.raises(ValidationError, match="'top_n'"):
        cluster_keywords(["a b"], [0], top_n=0)


# --- cluster_table -------------------------------------------------------------------------------


def test_cluster_table_matches_a_hand_computation() -> None:
    clusters = np.array([2, 0, 0, 0, 2, 0, 5])
    dep = np.array([0.9, 0.1, 0.2, 0.3, 0.5, 0.4, 0.0])
    labels = np.array([1, 0, 0, 1, 1, 2, -1])  # the last sample is unlabeled
    preds = np.array([0, 0, 1, 1, 1, 2, 0])
    table = cluster_table(clusters, {0: ["refund"], 2: ["card", "pin"]}, dep=dep, labels=labels, preds=preds)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert table["cluster"].tolist() == [0, 2, 5]
    assert table["size"].tolist() == [4, 2, 1]
    np.testing.assert_allclose(table["share"], [4 / 7, 2 / 7, 1 / 7])
    assert table["top_words"].tolist() == [["refund"], ["card", "pin"], []]
    np.testing.assert_allclose(table["avg_dep"], [0.25, 0.7, 0.0])
    # Cluster 0: labels 0 0 1 2, preds 0 1 1 2 -> 3 of 4 right; F1 per class 2/3, 2/3, 1.
    # Cluster 2: labels 1 1, preds 0 1 -> F1 class 0 = 0, class 1 = 2/3. Cluster 5: no labels.
    np.testing.assert_allclose(table["accuracy"][:2], [0.75, 0.5])
    np.testing.assert_allclose(table["macro_f1"][:2], [(2 / 3 + 2 / 3 + 1) / 3, (0 + 2 / 3) / 2])
    for row, cluster in enumerate([0, 2]):
        mask = (clusters == cluster) & (labels >= 0)
        assert table["macro_f1"][row] == pytest.approx(f1_score(labels[mask], preds[mask], average="macro"))
    assert math.isnan(table["accuracy"][2]) and math.isnan(table["macro_f1"][2])
    assert table["top_label"].tolist() == [0, 1, -1]
    np.testing.assert_allclose(table["top_label_share"][:2], [0.5, 1.0])


def test_cluster_table_optional_columns_and_is_correct() -> None:
    bare = cluster_table([1, 0, 1], {})
    assert list(bare.columns) == ["cluster", "size", "share", "top_words"]
    assert bare["top_words"].tolist() == [[], []]
    table = cluster_table([1, 0, 1], {}, is_correct=[True, False, False], labels=[0, 1, 0], preds=[0, 0, 0])
    # is_correct, when given, is what accuracy averages (here it disagrees with labels == preds).
    assert table["accuracy"].tolist() == [0.0, 0.5]
    with pytest.raises(ValidationError, match="'labels'"):
        cluster_table([0, 1], {}, labels=[0, 5], preds=[0, 1], n_classes=3)
    with pytest.raises(ValidationError, match="'dep'"):
        cluster_table([0, 1], {}, dep=[0.5])
    with pytest.raises(ValidationError, match="'preds'"):
        cluster_table([0, 1], {}, preds=[0, 1])


# --- project_2d ----------------------------------------------------------------------------------


def test_project_2d_keeps_blobs_apart_and_is_deterministic() -> None:
    # The one UMAP test: the first call in a fresh environment compiles UMAP's kernels (cached after).
    embs, truth = blobs([150, 100, 50], dim=384, spread=1.0, seed=5)
    coords = project_2d(embs, seed=0)
    assert coords.shape == (300, 2) and coords.dtype == np.float32 and np.isfinite(coords).all()
    # Leave-one-out 5-NN in 2-D recovers each point's blob.
    knn = KNeighborsClassifier(n_neighbors=6).fit(coords, truth)
    neighbors = knn.kneighbors(coords, return_distance=False)[:, 1:]
    votes = np.array([np.bincount(truth[row], minlength=3).argmax() for row in neighbors])
    assert np.mean(votes == truth) >= 0.9
    np.testing.assert_array_equal(project_2d(embs, seed=0), coords)


def test_project_2d_tiny_inputs_fall_back_to_pca() -> None:
    embs, _ = blobs([8, 8], dim=16, seed=6)  # 16 rows < n_neighbors + 2
    coords = project_2d(embs, seed=0)
    assert coords.shape == (16, 2) and coords.dtype == np.float32
    np.testing.assert_array_equal(coords, project_2d(embs, seed=0))
    assert np.ptp(coords[:, 0]) > 0  # the first component separates the two blobs
    assert np.sign(coords[:8, 0]).tolist() != np.sign(coords[8:, 0]).tolist()
    assert project_2d(embs[:2]).shape == (2, 2)
    np.testing.assert_array_equal(project_2d(embs[:1]), np.zeros((1, 2), dtype=np.float32))
    assert project_2d(np.zeros((0, 16), dtype=np.float32)).shape == (0, 2)
    same = np.tile(embs[:1], (40, 1))  # identical rows: nothing to lay out
    np.testing.assert_array_equal(project_2d(same), np.zeros((40, 2), dtype=np.float32))


def test_map_neighbors_from_ivf_match_exact_search(monkeypatch: pytest.MonkeyPatch) -> None:
    embs, _ = blobs([400] * 5, dim=16, spread=1.0, seed=7)
    exact_idx, exact_dists = projection._knn(embs, 10, 0)
    monkeypatch.setattr(projection, "_DEFAULTS", dataclasses.replace(projection._DEFAULTS, exact_knn_max=100))
    idx, dists = projection._knn(embs, 10, 0)
    assert idx.dtype == np.int64 and dists.dtype == np.float32 and (idx >= 0).all()
    assert np.array_equal(idx[:, 0], np.arange(len(embs))) and np.all(dists[:, 0] == 0)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx, exact_idx)])
    assert recall >= 0.9
    brute = np.sort(np.linalg.norm(embs[:50, None] - embs[None], axis=2), axis=1)[:, :10]
    np.testing.assert_allclose(exact_dists[:50], brute, atol=1e-3)


def test_map_epochs_rule_and_validation() -> None:
    assert [map_epochs(n) for n in (100, 20_000, 100_000, 10_000_000)] == [500, 500, 100, 50]
    embs, _ = blobs([10, 10], dim=8)
    with pytest.raises(ValidationError, match="'n_neighbors'"):
        project_2d(embs, n_neighbors=1)
    with pytest.raises(ValidationError, match="'min_dist'"):
        project_2d(embs, min_dist=2.0)
    with pytest.raises(ValidationError, match="'seed'"):
        project_2d(embs, seed=-1)
    with pytest.raises(ValidationError, match="'embs'"):
        project_2d(np.ones(5, dtype=np.float32))


def test_a_large_split_is_laid_out_on_a_sample_and_the_rest_placed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Above MAP_FIT_MAX rows UMAP lays out a seeded sample; every other row lands among its blob.
    monkeypatch.setattr(map_place, "MAP_FIT_MAX", 400)
    embs, truth = blobs([800, 600, 400], dim=384, spread=1.0, seed=5)
    coords = project_2d(embs, seed=0)
    assert coords.shape == (1800, 2) and np.isfinite(coords).all()
    np.testing.assert_array_equal(coords, project_2d(embs, seed=0))  # deterministic
    sample = np.sort(np.random.default_rng(0).choice(1800, 400, replace=False))
    placed = np.setdiff1d(np.arange(1800), sample)
    # Each placed row's nearest laid-out rows on the map are of its own blob.
    knn = KNeighborsClassifier(n_neighbors=5).fit(coords[sample], truth[sample])
    assert np.mean(knn.predict(coords[placed]) == truth[placed]) >= 0.95
    # ...and it lies inside its blob's extent, not in a heap between blobs.
    for blob in range(3):
        lo, hi = np.percentile(coords[sample][truth[sample] == blob], [1, 99], axis=0)
        mine = coords[placed][truth[placed] == blob]
        inside = np.all((mine >= lo) & (mine <= hi), axis=1)
        assert inside.mean() >= 0.95, blob


def test_placement_probes_every_list_for_rows_whose_probed_lists_are_short(monkeypatch: pytest.MonkeyPatch) -> None:
    # ~70 lists of ~3 sampled rows and one probed: 10 neighbours need the exhaustive second search,
    # which must give what probing every list from the start gives.
    monkeypatch.setattr(map_place, "PLACE_LISTS_PER_SQRT_N", 5)
    rng = np.random.default_rng(0)
    sample, coords = rng.normal(size=(200, 8)).astype(np.float32), rng.normal(size=(200, 2)).astype(np.float32)
    basis = map_place.Basis(np.eye(8, dtype=np.float32), np.zeros(8, dtype=np.float32))
    queries = rng.normal(size=(50, 8)).astype(np.float32)
    placed = {}
    for nprobe in (1, 10_000):
        monkeypatch.setattr(map_place, "PLACE_NPROBE", nprobe)
        index = map_place._sample_index(sample, 0)
        placed[nprobe] = map_place.place_block(queries, basis=basis, index=index, coords=coords)
    assert np.isfinite(placed[1]).all()
    np.testing.assert_allclose(placed[1], placed[10_000], rtol=1e-5)
