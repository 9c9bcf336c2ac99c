"""The same pipeline on the three executors (dq.scale): local, a local Ray started by the test (2 CPUs)
and a Dask LocalCluster of 2 workers × 1 thread. On a 30k-sample synthetic run the insights agree
(ids, labels, flags and clusters equal, DEP within 1e-5) and the neighbours have recall@10 ≥ 0.95
against exact search; dq auto embeds a file on each to the same vectors. Engines are started and
stopped by the code under test (their context managers), never left running."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from synthetic import make_run  # noqa: E402

from dq.cli import main as dq_main  # noqa: E402
from dq.errors import MissingExtraError, ValidationError  # noqa: E402
from dq.insights import InsightSettings, map_place, projection, run_insights  # noqa: E402
from dq.insights.neighbors import knn  # noqa: E402
from dq.scale import open_executor, use  # noqa: E402
from dq.store import Run  # noqa: E402
from dq.store.extend import SplitAdder  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
N = 30_000
INFERENCE_SET = "inference=week_1"
SAME = ["id", "label", "pred", "is_mislabeled", "suggested_label", "is_near_duplicate", "is_outlier", "cluster"]


@pytest.fixture(autouse=True)
def clean_main(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask's local workers are spawned processes, which re-run ``__main__``'s file; the console's
    AppTest tests leave the console script there in this process. A main module without a file is
    what ``python -m pytest`` or a notebook gives them."""
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))


@pytest.fixture(scope="module")
def run_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = make_run(N, home=tmp_path_factory.mktemp("home"), dim=384, epochs=3)
    # A named inference set beside the training data: its neighbours are looked up among the training
    # embeddings and its clusters assigned to the training centroids, on the engines too.
    run, rng = Run(path), np.random.default_rng(0)
    embs = run.embs("training")[:3_000] + rng.normal(scale=0.05, size=(3_000, 384)).astype(np.float32)
    adder = SplitAdder(path)
    adder.add_samples(texts=run.samples("training", columns=["text"])["text"][:3_000], split=INFERENCE_SET)
    adder.add_outputs(
        ids=list(range(3_000)), embs=embs, probs=run.probs("training")[:3_000], split=INFERENCE_SET, epoch=0
    )
    return adder.finish()


def test_insights_agree_on_local_ray_and_dask(run_path: Path) -> None:
    results = {ex: run_insights(run_path, executor=ex, refresh=True) for ex in ("local", "ray", "dask")}
    assert list(results["local"]) == ["training", INFERENCE_SET]
    for split in results["local"]:
        local = results["local"][split].frame
        for name in ("ray", "dask"):
            frame = results[name][split].frame
            for column in [*SAME, *(["is_out_of_coverage"] if split == INFERENCE_SET else [])]:
                assert frame[column].tolist() == local[column].tolist(), (name, split, column)
            np.testing.assert_allclose(frame["dep"].to_numpy(), local["dep"].to_numpy(), atol=1e-5)


@pytest.mark.parametrize("executor", ["ray", "dask"])
def test_neighbours_on_an_engine_match_exact_search(run_path: Path, executor: str) -> None:
    embs = Run(run_path).embs("training")
    queries = embs[:2_000]
    exact = np.argsort(-(queries @ embs.T), axis=1, kind="stable")[:, :10]
    with open_executor(executor) as ex, use(ex):
        assert ex.workers == 2
        found = knn(embs, k=10, queries=queries).idx
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)])
    assert recall >= 0.95


def test_large_splits_are_held_as_float16_with_the_same_findings(run_path: Path) -> None:
    """Above settings.float32_embs_max_bytes (here: always) the embeddings are read and indexed as
    float16: half the memory, the neighbours and every finding within float16 rounding."""
    run = Run(run_path)
    half = run.embs("training", dtype=np.float16)
    assert half.dtype == np.float16 and half.nbytes == run.embs("training").nbytes // 2
    np.testing.assert_allclose(half, run.embs("training"), atol=1e-3)
    full = run_insights(run_path, refresh=True)
    small = run_insights(run_path, settings=InsightSettings(float32_embs_max_bytes=0), refresh=True)
    for split in full:
        a, b = full[split].frame, small[split].frame
        assert a["id"].tolist() == b["id"].tolist() and a["label"].tolist() == b["label"].tolist()
        for column in ["is_mislabeled", "suggested_label", "is_near_duplicate", "is_outlier"]:
            agree = (a[column].fillna("-") == b[column].fillna("-")).mean()
            assert agree >= 0.99, (split, column, agree)
        # k-means starts from other rows (their content order moves with the rounding), and so may
        # settle in another optimum: as tight a partition, not the same one.
        vectors = run.embs(split)
        tightness = [_tightness(vectors, frame["cluster"].to_numpy()) for frame in (a, b)]
        assert abs(tightness[0] - tightness[1]) < 0.01 * tightness[0], (split, tightness)
        assert np.abs(a["dep"].to_numpy() - b["dep"].to_numpy()).max() < 0.05, split
        assert np.corrcoef(a["dep"], b["dep"])[0, 1] > 0.999, split
    embs = run.embs("training")
    queries = embs[:2_000]
    exact = np.argsort(-(queries @ embs.T), axis=1, kind="stable")[:, :10]
    found = knn(half, k=10, queries=half[:2_000]).idx
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)]) >= 0.95
    with pytest.raises(ValidationError, match="'dtype' parameter must be float32 or float16"):
        run.embs("training", dtype=np.float64)


def test_map_placement_agrees_on_local_ray_and_dask(run_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large split's map: a sample laid out (here its first two principal components, standing in
    for UMAP, which runs in the driver), the other rows placed on it block by block on the engine."""
    monkeypatch.setattr(map_place, "MAP_FIT_MAX", 5_000)
    embs = Run(run_path).embs("training", dtype=np.float16)
    basis = projection._pca_basis(embs, projection.MAP_PCA_DIMS, seed=0)
    coords = {}
    for name in ("local", "ray", "dask"):
        with open_executor(name) as ex, use(ex):
            coords[name] = map_place.sampled_map(embs, 0, basis, lambda reduced: reduced[:, :2])
    assert coords["local"].shape == (N, 2) and np.isfinite(coords["local"]).all()
    np.testing.assert_array_equal(coords["ray"], coords["local"])
    np.testing.assert_array_equal(coords["dask"], coords["local"])
    # A placed row sits near its own first two components (where the laid-out rows like it are).
    reduced = basis.project(embs)[:, :2]
    spread = np.linalg.norm(reduced - reduced.mean(axis=0), axis=1).mean()
    assert np.median(np.linalg.norm(coords["local"] - reduced, axis=1)) < 0.25 * spread


def _tightness(embs: np.ndarray, clusters: np.ndarray) -> float:
    """The mean cosine similarity of the rows to their cluster's normalized mean: k-means' objective."""
    sums = np.zeros((clusters.max() + 1, embs.shape[1]))
    np.add.at(sums, clusters, embs)
    centroids = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    return float(np.einsum("ij,ij->i", embs, centroids[clusters]).mean())


def test_dq_auto_embeds_the_same_vectors_on_each_executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "reviews.csv"
    rows = [f"the phone number {i} was {'great' if i % 2 else 'awful'}" for i in range(300)]
    data.write_text("text,label\n" + "\n".join(f"{t},{'pos' if i % 2 else 'neg'}" for i, t in enumerate(rows)) + "\n")
    embs = {}
    for executor in ("local", "dask", "ray"):
        home = tmp_path / executor  # its own embedding cache: every text is encoded where the executor runs
        monkeypatch.setenv("DQ_HOME", str(home))
        args = ["auto", str(data), "--text-col", "text", "--label-col", "label", "--quiet", "--no-lexical"]
        assert dq_main([*args, "--out", str(home / "run"), "--executor", executor]) == 0
        assert list((home / "cache").rglob("shard-*.npz"))  # encoded here, not read from another cache
        embs[executor] = Run(home / "run").embs("training")
    np.testing.assert_allclose(embs["dask"], embs["local"], atol=1e-6)
    np.testing.assert_allclose(embs["ray"], embs["local"], atol=1e-6)


def test_executor_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="'executor' parameter must be one of"):
        with open_executor("spark"):
            pass
    with pytest.raises(ValidationError, match="needs --executor ray or dask"):
        with open_executor("local", address="tcp://x:1"):
            pass
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the [dask] extra were not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'dq-studio\[dask\]'"):
        with open_executor("dask"):
            pass
