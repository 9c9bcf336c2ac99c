"""The logging client: every validation case, the run round trip, and atomic finish."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dq
from dq.errors import RunExistsError, RunStateError, UnfinishedRunError, ValidationError
from dq.store import Run, RunWriter, list_runs

LABELS = ["neg", "pos", "neutral"]


def _probs(n: int, k: int = 3, seed: int = 0) -> np.ndarray:
    p = np.random.default_rng(seed).random((n, k)) + 0.05
    return p / p.sum(axis=1, keepdims=True)


def _embs(n: int, d: int = 8, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


@pytest.fixture
def run(tmp_path):
    """An open run with 4 training samples logged (ids 0..3)."""
    dq.init(project="p", run="r", labels=LABELS, home=tmp_path)
    dq.log_data_samples(
        texts=["a", "b", "c", "d"], labels=["neg", "pos", "neutral", "pos"], ids=[0, 1, 2, 3], split="training"
    )
    yield tmp_path
    dq.client._current = None


def _log_epoch(split: str = "training", epoch: int = 0, ids=(0, 1, 2, 3)) -> None:
    dq.log_model_outputs(ids=list(ids), embs=_embs(len(ids)), probs=_probs(len(ids)), split=split, epoch=epoch)


# ---------------------------------------------------------------- validation at log time
def test_unknown_label_is_named(run):
    with pytest.raises(ValidationError, match=r"'labels'.*unknown labels \('positive'\)"):
        dq.log_data_samples(texts=["x"], labels=["positive"], ids=[9], split="training")


def test_duplicate_id_within_call_and_across_calls(run):
    with pytest.raises(ValidationError, match=r"'ids'.*repeated within this call \(7\)"):
        dq.log_data_samples(texts=["x", "y"], labels=["neg", "neg"], ids=[7, 7], split="training")
    with pytest.raises(ValidationError, match=r"already logged \(2\)"):
        dq.log_data_samples(texts=["x"], labels=["neg"], ids=[2], split="training")


def test_same_id_allowed_in_another_split(run):
    dq.log_data_samples(texts=["x"], labels=["pos"], ids=[0], split="test")
    _log_epoch()
    _log_epoch(split="test", ids=(0,))
    logged = Run(dq.finish())
    training, test = logged.samples("training"), logged.samples("test")
    assert training.loc[training["id"] == 0, ["text", "label"]].values.tolist() == [["a", "neg"]]
    assert test[["id", "text", "label"]].values.tolist() == [[0, "x", "pos"]]


def test_outputs_for_ids_never_logged(run):
    with pytest.raises(ValidationError, match=r"'ids'.*never logged \(42\)"):
        dq.log_model_outputs(ids=[0, 42], embs=_embs(2), probs=_probs(2), split="training", epoch=0)


def test_outputs_before_any_sample_of_the_split(run):
    with pytest.raises(RunStateError, match="log_data_samples\\(split='test'\\)"):
        dq.log_model_outputs(ids=[0], embs=_embs(1), probs=_probs(1), split="test", epoch=0)


def test_samples_with_no_outputs_at_finish(run):
    with pytest.raises(ValidationError, match="Split 'training' has 4 samples with no outputs"):
        dq.finish()


def test_epoch_with_missing_samples_at_finish(run):
    _log_epoch(epoch=0)
    _log_epoch(epoch=1, ids=(0, 1))
    with pytest.raises(
        ValidationError, match=r"Epoch 1 of split 'training' is missing outputs for 2 of 4 samples \(2, 3\)"
    ):
        dq.finish()
    _log_epoch(epoch=1, ids=(2, 3))  # the run stays open: completing the epoch lets it finish
    assert Run(dq.finish()).epochs("training") == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"embs": np.ones((3, 8))}, r"'embs'.*one row per id \(4 rows\). Got 3 rows"),
        ({"embs": np.ones(4)}, r"'embs'.*2-D array.*shape \(4,\)"),
        ({"probs": np.full((4, 2), 0.5)}, r"'probs'.*3 columns \(one per label.*Got 2 columns"),
        ({"probs": None, "logits": np.ones((4, 4))}, r"'logits'.*3 columns.*Got 4 columns"),
        ({"embs": np.where(np.eye(4, 8) > 0, np.nan, 0.0)}, r"'embs'.*finite.*NaN or inf in 4 rows"),
        ({"probs": None, "logits": np.array([[np.inf, 0, 0]] * 4)}, r"'logits'.*finite"),
        ({"probs": np.ones((4, 3))}, r"'probs'.*probabilities.*pass raw scores as logits="),
        ({"probs": None}, r"Exactly one of the 'logits' and 'probs'.*neither"),
        ({"logits": np.ones((4, 3))}, r"Exactly one of the 'logits' and 'probs'.*both"),
        ({"split": "train"}, r"'split' parameter must be one of \['training'"),
        ({"epoch": -1}, r"'epoch'.*integer >= 0. Got -1"),
    ],
)
def test_output_argument_errors_name_the_argument(run, kwargs, pattern):
    args = {"ids": [0, 1, 2, 3], "embs": _embs(4), "probs": _probs(4), "split": "training", "epoch": 0}
    args.update(kwargs)
    with pytest.raises(ValidationError, match=pattern):
        dq.log_model_outputs(**args)


def test_embedding_width_must_stay_the_same(run):
    _log_epoch(epoch=0)
    with pytest.raises(ValidationError, match=r"'embs'.*8 columns.*Got 5 columns"):
        dq.log_model_outputs(ids=[0], embs=np.ones((1, 5)), probs=_probs(1), split="training", epoch=1)


def test_outputs_logged_twice_for_one_epoch(run):
    _log_epoch(epoch=0, ids=(0, 1))
    with pytest.raises(ValidationError, match=r"without outputs yet at epoch 0.*\(1\)"):
        _log_epoch(epoch=0, ids=(1, 2))


def test_unknown_split_for_samples(run):
    with pytest.raises(ValidationError, match=r"'split'.*Got 'dev'"):
        dq.log_data_samples(texts=["x"], labels=["neg"], split="dev")


def test_labels_list_must_match_output_width(tmp_path):
    dq.init(project="p", run="w", labels=["a", "b"], home=tmp_path)
    dq.log_data_samples(texts=["x", "y"], labels=["a", "b"], split="training")
    with pytest.raises(ValidationError, match=r"'logits'.*2 columns \(one per label of the run: 'a', 'b'\). Got 5"):
        dq.log_model_outputs(ids=[0, 1], embs=_embs(2), logits=np.zeros((2, 5)), split="training", epoch=0)


@pytest.mark.parametrize(
    ("labels", "pattern"),
    [(["only"], "at least 2 classes"), (["a", "a", "b"], "duplicates 'a'"), ("ab", "must be a sequence")],
)
def test_bad_labels_list_at_init(tmp_path, labels, pattern):
    with pytest.raises(ValidationError, match=pattern):
        dq.init(project="p", run="r", labels=labels, home=tmp_path)


def test_labels_and_texts_lengths_and_types(run):
    with pytest.raises(ValidationError, match=r"'labels'.*one value per entry of 'texts' \(2\). Got 1"):
        dq.log_data_samples(texts=["x", "y"], labels=["neg"], split="training")
    with pytest.raises(ValidationError, match=r"'texts'.*only strings. Got NoneType at positions 1"):
        dq.log_data_samples(texts=["x", None], labels=["neg", "neg"], split="training")
    with pytest.raises(ValidationError, match=r"'labels' parameter must be given for split 'training'"):
        dq.log_data_samples(texts=["x"], split="training")
    with pytest.raises(ValidationError, match=r"'ids'.*only integers or only strings"):
        dq.log_data_samples(texts=["x", "y"], labels=["neg", "neg"], ids=[1, "b"], split="training")


def test_calls_without_init_or_after_finish(tmp_path):
    dq.client._current = None
    with pytest.raises(RunStateError, match="call dq.init"):
        dq.log_data_samples(texts=["x"], labels=["a"], split="training")


# ---------------------------------------------------------------- round trip
def test_round_trip_keeps_everything(tmp_path):
    n = 7
    texts = [f'text {i} ,"quoted"\nline' for i in range(n)]
    labels = [LABELS[i % 3] for i in range(n)]
    ids = [f"s{i}" for i in range(n)]
    dq.init(project="proj", run="run1", labels=LABELS, home=tmp_path)
    dq.log_data_samples(
        texts=texts[:4],
        labels=labels[:4],
        ids=ids[:4],
        split="training",
        meta={"source": ["web"] * 4, "n_words": [1, 2, 3, 4]},
    )
    dq.log_data_samples(
        texts=texts[4:],
        labels=labels[4:],
        ids=ids[4:],
        split="training",
        meta={"source": ["app"] * 3, "n_words": [5, 6, 7]},
    )
    dq.log_data_samples(texts=["t0", "t1"], labels=["pos", "neg"], ids=["x", "y"], split="test")
    dq.log_data_samples(texts=["u0"], ids=["z"], split="inference")
    probs = {e: _probs(n, seed=e) for e in range(3)}
    embs = _embs(n)
    for e in range(3):
        order = np.random.default_rng(e).permutation(n)  # outputs may come in any order
        dq.log_model_outputs(
            ids=[ids[i] for i in order], embs=embs[order], probs=probs[e][order], split="training", epoch=e
        )
        dq.log_model_outputs(ids=["y", "x"], embs=_embs(2), logits=[[0, 1, 2], [2, 1, 0]], split="test", epoch=e)
    dq.log_model_outputs(ids=["z"], embs=_embs(1), logits=[[1, 1, 1]], split="inference", epoch=0)
    path = dq.finish()

    assert path == tmp_path / "runs" / "proj" / "run1"
    run = Run(path)
    assert run.labels == LABELS
    assert run.splits == ["training", "test", "inference"]
    assert run.epochs("training") == [0, 1, 2] and run.epochs("inference") == [0]
    frame = run.samples("training")
    assert frame["id"].tolist() == ids and frame["text"].tolist() == texts
    assert frame["label"].tolist() == labels
    assert frame["source"].tolist() == ["web"] * 4 + ["app"] * 3
    assert frame["n_words"].tolist() == list(range(1, 8))
    for e in range(3):
        out = run.outputs("training", e)
        np.testing.assert_allclose(out.probs, probs[e], atol=1e-6)
        np.testing.assert_allclose(out.embs, embs, atol=1e-6)
    test_probs = run.outputs("test").probs
    assert test_probs[0].argmax() == 0 and test_probs[1].argmax() == 2  # logits of "x" then "y"
    assert run.samples("inference")["label"].isna().all()
    assert run.meta["outputs_logged_as"] == "probs"
    assert run.meta["splits"]["training"]["n_samples"] == n
    assert run.meta["splits"]["training"]["meta_columns"] == ["source", "n_words"]
    assert run.verify()


def test_log_dataset_from_pandas(tmp_path):
    df = pd.DataFrame(
        {"text": ["a", "b", "c"], "label": ["neg", "pos", "neg"], "uid": [10, 11, 12], "lang": ["en", "fr", "en"]}
    )
    dq.init(project="p", run="df", labels=LABELS, home=tmp_path)
    dq.log_dataset(df, id="uid", split="training")
    dq.log_model_outputs(ids=[12, 10, 11], embs=_embs(3), probs=_probs(3), split="training", epoch=0)
    run = Run(dq.finish())
    assert run.samples("training")[["id", "lang"]].values.tolist() == [[10, "en"], [11, "fr"], [12, "en"]]


def test_log_dataset_names_missing_column(tmp_path):
    dq.init(project="p", run="df", labels=LABELS, home=tmp_path)
    with pytest.raises(ValidationError, match=r"column\(s\) \['sentence'\]"):
        dq.log_dataset(pd.DataFrame({"text": ["a"], "label": ["neg"]}), text="sentence", split="training")
    dq.client._current = None


def test_chunked_writing_produces_several_parts(tmp_path):
    writer = RunWriter(tmp_path / "r", project="p", run="r", labels=LABELS, chunk_rows=10)
    for start in range(0, 35, 5):
        ids = list(range(start, start + 5))
        writer.add_samples(texts=[str(i) for i in ids], labels=["neg"] * 5, ids=ids, split="training")
    for start in range(0, 35, 7):
        ids = list(range(start, start + 7))
        writer.add_outputs(ids=ids, embs=_embs(7), probs=_probs(7), split="training", epoch=0)
    # Parts are flushed while logging, before finish: memory holds at most one chunk per buffer.
    assert len(list((writer.staging / "samples" / "training").glob("part-*.parquet"))) == 3
    run = Run(writer.finish())
    assert run.samples("training")["id"].tolist() == list(range(35))
    assert run.outputs("training").probs.shape == (35, 3)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=40), st.sampled_from(LABELS)), min_size=1, max_size=30))
def test_any_texts_round_trip(tmp_path_factory, rows):
    home = tmp_path_factory.mktemp("h")
    writer = RunWriter(home / "r", project="p", run="r", labels=LABELS)
    writer.add_samples(texts=[t for t, _ in rows], labels=[lab for _, lab in rows], split="training")
    writer.add_outputs(
        ids=list(range(len(rows))), embs=_embs(len(rows)), probs=_probs(len(rows)), split="training", epoch=0
    )
    frame = Run(writer.finish()).samples("training")
    assert frame["text"].tolist() == [t for t, _ in rows]
    assert frame["label"].tolist() == [lab for _, lab in rows]


# ---------------------------------------------------------------- atomic finish
def test_nothing_looks_finished_before_finish(run):
    target = run / "runs" / "p" / "r"
    _log_epoch()
    assert not target.exists()
    entries = list_runs(run)
    assert [(e.run, e.finished) for e in entries] == [("r", False)]
    with pytest.raises(UnfinishedRunError, match="unfinished"):
        Run(target)
    dq.finish()
    assert [(e.run, e.finished) for e in list_runs(run)] == [("r", True)]


def test_existing_run_is_refused_unless_overwrite(tmp_path):
    for attempt in range(2):
        dq.init(project="p", run="same", labels=LABELS, home=tmp_path, overwrite=attempt == 1)
        dq.log_data_samples(texts=["x"], labels=["neg"], split="training")
        dq.log_model_outputs(ids=[0], embs=_embs(1), probs=_probs(1), split="training", epoch=attempt)
        dq.finish()
    assert Run(tmp_path / "runs" / "p" / "same").epochs("training") == [1]
    with pytest.raises(RunExistsError, match="already exists"):
        dq.init(project="p", run="same", labels=LABELS, home=tmp_path)


def test_killed_logger_leaves_an_unfinished_run(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, numpy as np, dq
        dq.init(project="p", run="crash", labels=["a", "b"], home={str(tmp_path)!r})
        dq.log_data_samples(texts=["x", "y"], labels=["a", "b"], split="training")
        dq.log_model_outputs(ids=[0, 1], embs=np.eye(2), probs=[[1, 0], [0, 1]], split="training", epoch=0)
        os.kill(os.getpid(), signal.SIGKILL)  # dies before finish, like a crash
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=os.environ.copy())
    assert proc.returncode == -signal.SIGKILL
    target = tmp_path / "runs" / "p" / "crash"
    assert not target.exists()
    with pytest.raises(UnfinishedRunError, match=r"unfinished: logging started at .* by process \d+"):
        Run(target)
    (entry,) = list_runs(tmp_path)
    assert (entry.run, entry.finished) == ("crash", False)


def test_run_json_lists_what_the_format_promises(tmp_path):
    dq.init(project="p", run="meta", labels=LABELS, home=tmp_path)
    dq.log_data_samples(texts=["x"], labels=["neg"], split="training")
    dq.log_model_outputs(ids=[0], embs=_embs(1), probs=_probs(1), split="training", epoch=0)
    meta = json.loads((dq.finish() / "run.json").read_text())
    for key in (
        "schema_version",
        "task",
        "labels",
        "splits",
        "epochs",
        "n_samples",
        "created",
        "dq_version",
        "content_hash",
    ):
        assert key in meta, key
    assert meta["content_hash"].startswith("blake2b:")


def test_log_dataset_from_a_hugging_face_dataset_maps_class_labels(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["neg", "pos", "neutral"]),
            "source": datasets.Value("string"),
        }
    )
    hf = datasets.Dataset.from_dict(
        {"text": ["a", "b", "c"], "label": [2, 0, 1], "source": ["x", "y", "z"]}, features=features
    )
    dq.init(project="p", run="hf", labels=LABELS, home=tmp_path)
    dq.log_dataset(hf, split="training")
    dq.log_model_outputs(ids=[0, 1, 2], embs=_embs(3), probs=_probs(3), split="training", epoch=0)
    frame = Run(dq.finish()).samples("training")
    assert frame["label"].tolist() == ["neutral", "neg", "pos"]
    assert frame["source"].tolist() == ["x", "y", "z"]


def _finished(tmp_path, **init_options) -> Run:
    dq.init(project="p", run="prov", labels=LABELS, home=tmp_path, overwrite=True, **init_options)
    dq.log_data_samples(texts=["a", "b"], labels=["neg", "pos"], ids=[0, 1], split="training")
    dq.log_model_outputs(ids=[0, 1], embs=_embs(2), probs=_probs(2), split="training", epoch=0)
    return Run(dq.finish())


def test_a_run_records_how_its_training_outputs_were_produced(tmp_path):
    run = _finished(tmp_path)
    assert run.meta["training_outputs"] == run.training_outputs == "in_sample"  # a training loop's own outputs
    run = _finished(tmp_path, training_outputs="cross_fitted")
    assert run.meta["training_outputs"] == run.training_outputs == "cross_fitted"
    with pytest.raises(
        ValidationError, match=r"'training_outputs' parameter must be one of \['cross_fitted', 'in_sample'\]"
    ):
        dq.init(project="p", run="x", labels=LABELS, home=tmp_path, training_outputs="oof")


def test_runs_written_before_the_field_existed_are_read_by_their_tool(tmp_path):
    run = _finished(tmp_path)
    meta = dict(run.meta)
    del meta["training_outputs"]
    run.meta = meta
    assert run.training_outputs == "in_sample"
    run.meta = {**meta, "source": {"tool": "dq auto"}}
    assert run.training_outputs == "cross_fitted"
