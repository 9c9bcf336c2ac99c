"""The demo ships its embeddings: used when they match the model and texts, refused (and recomputed) otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dq.auto.demo import DATA_DIR, EMBEDDINGS_FILE, build_demo, demo_frame, seed_demo_embeddings, texts_sha256
from dq.auto.embed import embed_texts_with_stats, model_identity
from dq.config import DEMO_PROJECT, DEMO_RUN
from dq.store import Run

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def shipped() -> dict[str, np.ndarray]:
    with np.load(EMBEDDINGS_FILE, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _write(path: Path, shipped: dict[str, np.ndarray], **changes: np.ndarray) -> Path:
    np.savez(path, **{**shipped, **changes})
    return path


def test_the_shipped_file_matches_the_bundled_model_and_the_demo_texts(shipped: dict[str, np.ndarray]) -> None:
    texts = demo_frame()["text"].tolist()
    assert str(shipped["identity"]) == model_identity()
    assert str(shipped["texts_sha256"]) == texts_sha256(texts)
    assert shipped["vectors"].shape == (len(texts), 384) and shipped["vectors"].dtype == np.float32


def test_matching_vectors_fill_the_cache(tmp_path: Path) -> None:
    texts = demo_frame()["text"].tolist()
    assert seed_demo_embeddings(texts, home=tmp_path) is None
    sample = texts[::500]
    embs, stats = embed_texts_with_stats(sample, cache_dir=tmp_path / "cache", progress=False)
    assert stats.n_encoded == 0 and stats.n_cached == len(sample)
    fresh, _ = embed_texts_with_stats(sample, cache_dir=tmp_path / "elsewhere", progress=False)
    np.testing.assert_allclose(embs, fresh, rtol=0, atol=1e-4)
    assert seed_demo_embeddings(texts, home=tmp_path) is None  # a second time adds nothing
    assert len(list((tmp_path / "cache" / "embeddings").rglob("shard-*.npz"))) == 1


def test_vectors_that_do_not_match_are_refused_with_the_reason(tmp_path: Path, shipped: dict[str, np.ndarray]) -> None:
    texts = demo_frame()["text"].tolist()
    home = tmp_path / "home"

    def reason(path: Path) -> str | None:
        return seed_demo_embeddings(texts, home=home, path=path)

    assert reason(tmp_path / "absent.npz") == "absent.npz is missing"
    other = shipped["vectors"].copy()
    other[0] = np.roll(other[0], 1)  # the first text is always among those encoded afresh
    assert "up to" in reason(_write(tmp_path / "moved.npz", shipped, vectors=other))
    assert "away from a fresh encoding" in reason(_write(tmp_path / "moved.npz", shipped, vectors=other))
    assert reason(_write(tmp_path / "texts.npz", shipped, texts_sha256=np.array("0" * 64))) == (
        "they were computed for other texts"
    )
    assert reason(_write(tmp_path / "model.npz", shipped, identity=np.array("other-model|dim=384"))).startswith(
        "they come from other-model|dim=384, not the installed sentence-transformers/all-MiniLM-L6-v2"
    )
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(EMBEDDINGS_FILE.read_bytes()[: 1 << 20])
    assert reason(damaged).startswith("damaged.npz is unreadable")
    assert not (home / "cache").exists()  # nothing was added by any of them


def test_the_demo_builds_from_the_shipped_vectors(tmp_path: Path) -> None:
    lines: list[str] = []
    result = build_demo(home=tmp_path, progress=False, log=lines.append)
    assert "embedded 0 texts, 13083 from cache" in lines
    assert not any("not used" in line for line in lines)
    run = Run(result.path)
    assert (run.project, run.name) == (DEMO_PROJECT, DEMO_RUN)
    assert run.splits == ["training", "validation", "test"]
    # The lexical view came from the shipped file (its name is its content key), not from a fit.
    (shipped,) = DATA_DIR.glob("lexical-*.npz")
    with np.load(shipped) as data:
        np.testing.assert_array_equal(run.view_probs("lexical", "test"), data["test"])
    assert (run.n_samples("training"), run.n_samples("validation"), run.n_samples("test")) == (9_038, 965, 3_080)
