"""Embeddings stored once per split (run format 2): written by RunWriter.add_embeddings and dq auto,
read for every epoch, covered by the manifest; runs of format 1 still read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dq.auto.pipeline import AutoSettings, auto
from dq.errors import RunFormatError, RunStateError, ValidationError
from dq.store import Run, layout
from dq.store.writer import RunWriter


def _writer(tmp_path: Path) -> RunWriter:
    w = RunWriter(tmp_path / "r", project="p", run="r", labels=["a", "b"], chunk_rows=2)
    w.add_samples(texts=["w", "x", "y"], labels=["a", "b", "a"], ids=[10, 11, 12], split="training")
    return w


def test_embeddings_stored_once_are_read_at_every_epoch(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    embs = np.arange(6, dtype=np.float32).reshape(3, 2)
    w.add_embeddings(ids=[12, 10, 11], embs=embs[[2, 0, 1]], split="training")  # any order: placed by id
    for epoch in range(3):
        w.add_outputs(ids=[10, 11, 12], probs=[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], split="training", epoch=epoch)
    run = Run(w.finish())

    assert run.meta["schema_version"] == 2 and run.meta["splits"]["training"]["embeddings"] == "shared"
    for epoch in range(3):
        np.testing.assert_array_equal(run.embs("training", epoch), embs)
        np.testing.assert_array_equal(run.outputs("training", epoch).embs, embs)
    assert run.outputs("training", 1).probs[1].tolist() == pytest.approx([0.2, 0.8])
    parts = sorted((run.path / layout.EMBEDDINGS_DIR / "training").glob("*.parquet"))
    assert len(parts) == 2  # chunk_rows=2: parts of at most 2 rows
    output_part = next((run.path / layout.OUTPUTS_DIR / "training" / "epoch=0").glob("*.parquet"))
    assert "emb" not in pq.read_schema(output_part).names  # the vectors are on disk once
    assert run.verify()


def test_shared_embeddings_are_refused_out_of_order(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    with pytest.raises(ValidationError, match="'embs' parameter must be given"):
        w.add_outputs(ids=[10, 11, 12], probs=[[1, 0]] * 3, split="training", epoch=0)
    with pytest.raises(ValidationError, match="every sample of split 'training' once"):
        w.add_embeddings(ids=[10, 11], embs=np.eye(2), split="training")
    with pytest.raises(RunStateError, match="before any of its samples"):
        w.add_embeddings(ids=[0], embs=np.eye(1, 2), split="test")
    w.add_embeddings(ids=[10, 11, 12], embs=np.eye(3, 2), split="training")
    with pytest.raises(RunStateError, match="already has embeddings"):
        w.add_embeddings(ids=[10, 11, 12], embs=np.eye(3, 2), split="training")
    with pytest.raises(RunStateError, match="log all its samples before them"):
        w.add_samples(texts=["z"], labels=["a"], ids=[13], split="training")
    with pytest.raises(ValidationError, match="'embs' parameter must be left out"):
        w.add_outputs(ids=[10, 11, 12], embs=np.eye(3, 2), probs=[[1, 0]] * 3, split="training", epoch=0)
    w.abort()


def test_damaged_shared_embeddings_are_refused(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.add_embeddings(ids=[10, 11, 12], embs=np.eye(3, 2), split="training")
    w.add_outputs(ids=[10, 11, 12], probs=[[1, 0]] * 3, split="training", epoch=0)
    path = w.finish()
    part = next((path / layout.EMBEDDINGS_DIR / "training").glob("*.parquet"))
    part.write_bytes(part.read_bytes()[:-20])
    with pytest.raises(RunFormatError, match="embeddings"):
        Run(path)


def test_dq_auto_stores_its_embeddings_once(tmp_path: Path) -> None:
    data = tmp_path / "reviews.csv"
    rows = [f"great phone {i},pos" for i in range(20)] + [f"awful phone {i},neg" for i in range(20)]
    data.write_text("\n".join(["text,label", *rows]) + "\n")
    res = auto(data, AutoSettings(text="text", label="label", epochs=3), home=tmp_path, progress=False, log=print)
    run = Run(res.path)
    assert run.meta["splits"]["training"]["embeddings"] == "shared" and run.epochs("training") == [0, 1, 2]
    np.testing.assert_array_equal(run.embs("training", 0), run.embs("training", 2))
    sizes = {
        d: sum(f.stat().st_size for f in (run.path / d).rglob("*") if f.is_file()) for d in ("embeddings", "outputs")
    }
    assert sizes["embeddings"] > sizes["outputs"]  # 384-d vectors once, 2-class probabilities three times


def test_a_run_of_format_1_still_reads(tmp_path: Path) -> None:
    w = _writer(tmp_path)
    w.add_outputs(ids=[10, 11, 12], embs=np.eye(3, 2), probs=[[1, 0]] * 3, split="training", epoch=0)
    path = w.finish()
    meta = json.loads((path / "run.json").read_text())
    assert "embeddings" not in meta["splits"]["training"]
    meta["schema_version"] = 1  # what dq wrote before embeddings could be shared (the rest is the same)
    (path / "run.json").write_text(json.dumps(meta))
    # run.json is in the content hash: reseal as the old writer would have, then read it.
    from dq.store.integrity import seal

    resealed = seal(path, {k: v for k, v in meta.items() if k not in ("files", "content_hash")}, exclude=("run.json",))
    (path / "run.json").write_text(json.dumps(resealed))
    assert Run(path).embs("training").shape == (3, 2)
    meta["schema_version"] = 3
    (path / "run.json").write_text(json.dumps(meta))
    with pytest.raises(RunFormatError, match="reads versions"):
        Run(path)
