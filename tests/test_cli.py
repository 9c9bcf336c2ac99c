"""The dq command line: help, dq auto on real BANKING77 text, dq info, and bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dq.auto.demo import DATA_DIR as DEMO_DATA
from dq.cli import build_parser, main
from dq.store import Run, list_runs

BANKING = DEMO_DATA


def _banking_sample(path: Path, n_per_class: int = 4, n_classes: int = 60, seed: int = 0) -> Path:
    """A few hundred real BANKING77 rows with a split column, written as CSV."""
    train = pd.read_csv(BANKING / "train.csv", dtype=str)
    classes = sorted(train["category"].unique())[:n_classes]
    rows = (
        train[train["category"].isin(classes)]
        .groupby("category")
        .sample(n_per_class + 1, random_state=seed)
        .sort_values("category", kind="stable")
        .reset_index(drop=True)
    )
    rows["split"] = np.where(np.arange(len(rows)) % (n_per_class + 1) == 0, "test", "train")
    rows.to_csv(path, index=False)
    return path


def _run_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DQ_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "dq", *args], capture_output=True, text=True, env=env)


def test_every_command_has_help_and_an_example():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= {"auto", "demo", "info", "runs"}
    for name, command in sub.choices.items():
        text = command.format_help()
        assert "example:" in text and f"dq {name}" in text.split("example:")[1], name
        assert command.description or command.format_usage()


@pytest.mark.model
def test_auto_on_real_text_builds_a_run_with_every_epoch(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DQ_HOME", str(tmp_path / "home"))
    data = _banking_sample(tmp_path / "bank.csv")
    assert (
        main(
            [
                "auto",
                str(data),
                "--text-col",
                "text",
                "--label-col",
                "category",
                "--split-col",
                "split",
                "--epochs",
                "3",
                "--folds",
                "4",
                "--quiet",
            ]
        )
        == 0
    )
    path = Path(capsys.readouterr().out.strip())
    assert path == tmp_path / "home" / "runs" / "auto" / "bank"
    run = Run(path)
    source = pd.read_csv(data, dtype=str)
    assert run.labels == sorted(source["category"].unique(), key=lambda s: (s.casefold(), s))
    assert run.splits == ["training", "test"]
    assert run.training_outputs == run.meta["training_outputs"] == "cross_fitted"  # K-fold heads
    assert run.n_samples("training") == (source["split"] == "train").sum() == 240
    assert run.epochs("training") == run.epochs("test") == [0, 1, 2]
    train = run.samples("training")
    assert set(train.columns) >= {"id", "text", "label"}
    assert train["text"].tolist() == source.loc[source["split"] == "train", "text"].tolist()
    # Training outputs are out-of-fold, yet on real intents the model must beat chance by far,
    # and the dynamics must move: later epochs are more accurate than the first.
    y = np.array([run.labels.index(v) for v in train["label"]])
    acc = [(run.outputs("training", e).probs.argmax(1) == y).mean() for e in (0, 2)]
    assert acc[1] > 0.5 > 1 / len(run.labels) and acc[1] >= acc[0]
    test_y = np.array([run.labels.index(v) for v in run.samples("test")["label"]])
    assert (run.outputs("test").probs.argmax(1) == test_y).mean() > 0.5
    assert run.outputs("training").embs.shape == (240, 384)

    # Same file and settings again: reused, nothing embedded; same seed elsewhere: identical run.
    assert (
        main(
            [
                "auto",
                str(data),
                "--text-col",
                "text",
                "--label-col",
                "category",
                "--split-col",
                "split",
                "--epochs",
                "3",
                "--folds",
                "4",
            ]
        )
        == 0
    )
    assert "reusing it" in capsys.readouterr().err
    out = tmp_path / "exact" / "place"
    assert (
        main(
            [
                "auto",
                str(data),
                "--text-col",
                "text",
                "--label-col",
                "category",
                "--split-col",
                "split",
                "--epochs",
                "3",
                "--folds",
                "4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "embedded 0 texts, 300 from cache" in capsys.readouterr().err
    twin = Run(out)
    for e in run.epochs("training"):
        np.testing.assert_array_equal(twin.outputs("training", e).probs, run.outputs("training", e).probs)

    # --out that holds a different run (another seed) is refused, and left as it was.
    before = sorted(p.name for p in out.rglob("*"))
    assert (
        main(
            [
                "auto",
                str(data),
                "--text-col",
                "text",
                "--label-col",
                "category",
                "--split-col",
                "split",
                "--seed",
                "7",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "already holds a different run" in err and err.count("\n") == 1
    assert sorted(p.name for p in out.rglob("*")) == before


def test_info_prints_labels_and_splits(tmp_path, capsys):
    import dq

    dq.init(project="p", run="r", labels=["b", "a"], home=tmp_path)
    dq.log_data_samples(texts=["x", "y"], labels=["a", "b"], split="training")
    for epoch in (0, 1):
        dq.log_model_outputs(ids=[0, 1], embs=np.eye(2), probs=[[0.5, 0.5]] * 2, split="training", epoch=epoch)
    path = dq.finish()
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["labels"] == ["b", "a"] and info["splits"]["training"]["epochs"] == [0, 1]
    assert info["path"] == str(path)
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "training" in text and "2 samples" in text and "epochs 0-1" in text and "b, a" in text


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


BAD_INPUTS = [
    ("missing file", None, ["--text-col", "text", "--label-col", "label"], "does not exist"),
    ("unknown column", b"text,label\na,x\nb,y\n", ["--text-col", "body", "--label-col", "label"], "'body' not found"),
    ("empty file", b"", ["--text-col", "text", "--label-col", "label"], "empty"),
    ("header only", b"text,label\n", ["--text-col", "text", "--label-col", "label"], "no rows"),
    ("single class", b"text,label\na,x\nb,x\n", ["--text-col", "text", "--label-col", "label"], "2 classes"),
    ("undecodable", b"text,label\n\xff\xfe,x\nb,y\n", ["--text-col", "text", "--label-col", "label"], "UTF-8"),
    (
        "duplicate ids",
        b"id,text,label\n1,a,x\n1,b,y\n",
        ["--text-col", "text", "--label-col", "label", "--id-col", "id"],
        "duplicate",
    ),
    ("only empty texts", b"text,label\n ,x\n,y\n", ["--text-col", "text", "--label-col", "label"], "empty text"),
    (
        "unknown split",
        b"text,label,s\na,x,train\nb,y,holdout\n",
        ["--text-col", "text", "--label-col", "label", "--split-col", "s"],
        "holdout",
    ),
    ("bad extension", b"text,label\n", ["--text-col", "text", "--label-col", "label"], ".xlsx"),
    ("missing flag", b"text,label\na,x\n", ["--text-col", "text"], "--label-col"),
    ("bad epochs", b"text,label\na,x\n", ["--text-col", "text", "--label-col", "label", "--epochs", "0"], "--epochs"),
]


@pytest.mark.parametrize(("case", "content", "flags", "needle"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, case, content, flags, needle):
    home = tmp_path / "home"
    name = "data.xlsx" if case == "bad extension" else "data.csv"
    data = tmp_path / name if content is None else _write(tmp_path / name, content)
    proc = _run_cli("auto", str(data), *flags, home=home)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr and needle.lower() in proc.stderr.lower(), proc.stderr
    assert proc.stdout == ""
    assert not list_runs(home) and not (home / "runs").exists()


def test_skipped_rows_are_reported(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sentence_transformers")
    monkeypatch.setenv("DQ_HOME", str(tmp_path / "home"))
    texts = [f"how do I {verb} my card" for verb in ("activate", "cancel", "top up", "freeze", "order", "lock")]
    rows = [(t, "card" if i % 2 else "other") for i, t in enumerate(texts * 2)] + [("", "card"), ("hello", "")]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp_path / "d.csv", index=False)
    assert (
        main(
            [
                "auto",
                str(tmp_path / "d.csv"),
                "--text-col",
                "text",
                "--label-col",
                "label",
                "--folds",
                "2",
                "--epochs",
                "1",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "skipped 1 rows with empty text" in err and "skipped 1 rows with missing label" in err
    assert Run(tmp_path / "home" / "runs" / "auto" / "d").meta["source"]["skipped"] == {
        "empty text": 1,
        "missing label": 1,
    }


def test_info_on_unfinished_and_missing_runs(tmp_path):
    import dq

    dq.init(project="p", run="half", labels=["a", "b"], home=tmp_path)
    dq.log_data_samples(texts=["x"], labels=["a"], split="training")
    target = tmp_path / "runs" / "p" / "half"
    proc = _run_cli("info", str(target), home=tmp_path)
    assert proc.returncode == 2 and "unfinished" in proc.stderr and proc.stderr.count("\n") == 1
    proc = _run_cli("info", str(tmp_path / "nope"), home=tmp_path)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = _run_cli("runs", "--json", home=tmp_path)
    assert json.loads(proc.stdout) == [
        {"project": "p", "run": "half", "path": str(next(target.parent.iterdir())), "finished": False, "created": None}
    ]
    dq.client._current = None


def test_interrupted_auto_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C while training: the partial run directory is removed, no run appears."""
    pytest.importorskip("sentence_transformers")
    import dq.auto.pipeline as auto_mod

    monkeypatch.setenv("DQ_HOME", str(tmp_path / "home"))

    def interrupted(*args, **kwargs):
        yield from ()
        raise KeyboardInterrupt

    monkeypatch.setattr(auto_mod, "cross_fit", interrupted)
    rows = [(f"text number {i}", "a" if i % 2 else "b") for i in range(12)]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(tmp_path / "d.csv", index=False)
    assert main(["auto", str(tmp_path / "d.csv"), "--text-col", "text", "--label-col", "label", "--quiet"]) == 130
    project_dir = tmp_path / "home" / "runs" / "auto"
    assert not project_dir.exists() or not any(project_dir.iterdir())
    shutil.rmtree(tmp_path / "home", ignore_errors=True)


@pytest.mark.model
def test_auto_quiet_prints_only_the_run_path(tmp_path):
    data = _banking_sample(tmp_path / "bank.csv", n_per_class=2, n_classes=10)
    result = _run_cli(
        "auto",
        str(data),
        "--text-col",
        "text",
        "--label-col",
        "category",
        "--folds",
        "2",
        "--epochs",
        "2",
        "--quiet",
        home=tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    # Not even the model library's "Loading weights" bar: stderr is for errors only.
    assert result.stderr == ""
    assert result.stdout == f"{tmp_path / 'home' / 'runs' / 'auto' / 'bank'}\n"


def test_console_refuses_a_bad_port_in_one_line(tmp_path):
    result = _run_cli("console", "--port", "70000", home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dq console: error: argument --port: expected a port number in [1, 65535], got 70000 (see dq console --help)"
    ]
