"""Damaged runs and caches are refused (one line naming the file) or healed, never read silently;
bad input is refused in one line before any expensive work.

Before the fix: swapping two class names in run.json, or changing one label inside a samples part,
gave wrong insights and exit 0; a truncated part, run.json without its splits, ``dq auto --seed
-5``, ``--db`` naming a directory, ``dq info data.csv`` and a label column of lists ended in
tracebacks, wrong messages or a run of stringified lists; a garbled insights cache made every
later ``dq insights`` fail.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tiny_runs import fresh_tiny_run

from dq.errors import RunFormatError
from dq.insights import run_insights
from dq.insights.cache import verified_neighbors
from dq.store import Run


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny finished run, never modified (tests copy it)."""
    return fresh_tiny_run(tmp_path_factory.mktemp("home")).path


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "runs" / "tiny" / run_dir.name
    shutil.copytree(run_dir, target, copy_function=shutil.copy2)
    return target


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DQ_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "dq", *args], capture_output=True, text=True, env=env, timeout=300)


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert all(w in lines[0] for w in words), lines[0]


def _rewrite_json(path: Path, change) -> None:  # noqa: ANN001
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def test_a_finished_run_records_every_file_and_opens_clean(sealed: Path) -> None:
    run = Run(sealed)
    files = run.meta["files"]
    assert files and all({"size", "blake2b"} <= set(e) for e in files.values())
    assert all("rows" in e for rel, e in files.items() if rel.endswith(".parquet"))
    assert run.verify()


def test_swapped_class_names_in_run_json_are_refused(sealed: Path, tmp_path: Path) -> None:
    run_dir = _copy(sealed, tmp_path)
    _rewrite_json(run_dir / "run.json", lambda m: m["labels"].reverse())
    with pytest.raises(RunFormatError, match="run.json was changed after the run finished"):
        Run(run_dir)
    _one_line_error(_cli("insights", str(run_dir), "--out", str(tmp_path / "o.csv"), home=tmp_path), "run.json")


def test_one_label_changed_inside_a_samples_part_is_refused(sealed: Path, tmp_path: Path) -> None:
    run_dir = _copy(sealed, tmp_path)
    part = run_dir / "samples" / "training" / "part-00000.parquet"
    table = pq.read_table(part)
    labels = table.column("label").to_pylist()
    labels[3] = "login" if labels[3] != "login" else "billing"
    pq.write_table(table.set_column(table.schema.get_field_index("label"), "label", pa.array(labels)), part)
    with pytest.raises(RunFormatError, match="part-00000.parquet"):
        Run(run_dir)
    _one_line_error(_cli("verify", str(run_dir), home=tmp_path), "part-00000.parquet")


def test_a_byte_changed_behind_the_timestamps_is_found_by_verify(sealed: Path, tmp_path: Path) -> None:
    run_dir = _copy(sealed, tmp_path)
    part = sorted((run_dir / "outputs").rglob("part-*.parquet"))[0]
    before = part.stat()
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    os.utime(part, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size, same time: a disk's bit flip
    Run(run_dir)  # the cheap open trusts what it verified before
    assert not Run(run_dir).verify()
    _one_line_error(_cli("verify", str(run_dir), home=tmp_path), part.name, "changed after the run finished")
    ok = _cli("verify", str(sealed), home=tmp_path)
    assert ok.returncode == 0 and "ok (" in ok.stdout


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("truncate", ["part-00000.parquet", "bytes"]),
        ("stray", ["part-00001.parquet", "not part of the run"]),
        ("missing", ["part-00000.parquet", "is missing"]),
        ("no splits", ["run.json", "'splits' is missing"]),
    ],
)
def test_a_damaged_run_is_refused_in_one_line_naming_the_file(
    sealed: Path, tmp_path: Path, damage: str, words: list[str]
) -> None:
    run_dir = _copy(sealed, tmp_path)
    part = run_dir / "samples" / "training" / "part-00000.parquet"
    if damage == "truncate":
        os.truncate(part, 300)
    elif damage == "stray":
        shutil.copy(part, part.with_name("part-00001.parquet"))
    elif damage == "missing":
        part.unlink()
    else:
        _rewrite_json(run_dir / "run.json", lambda m: m.pop("splits"))
    _one_line_error(_cli("info", str(run_dir), home=tmp_path), *words)


def test_a_whole_insights_cache_is_read_not_computed_again(
    sealed: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_dir = _copy(sealed, tmp_path)
    first = run_insights(Run(run_dir))
    with caplog.at_level(logging.WARNING, logger="dq.insights"):
        again = run_insights(Run(run_dir))
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    for split, result in first.items():
        pd.testing.assert_frame_equal(again[split].frame.drop(columns="probs"), result.frame.drop(columns="probs"))


def test_a_garbled_insights_cache_is_computed_again(sealed: Path, tmp_path: Path) -> None:
    run_dir = _copy(sealed, tmp_path)
    first = run_insights(Run(run_dir))["training"]
    cache_files = sorted((run_dir / "_cache" / "insights").rglob("*.*"))
    assert {p.suffix for p in cache_files} == {".json", ".npy", ".parquet"}
    for path in cache_files:  # garbage of the same length in every file
        path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))
    neighbors = next(p for p in cache_files if p.name == "training.neighbors.npy")
    assert verified_neighbors(neighbors.parent, "training", n_samples=Run(run_dir).n_samples("training")) is None
    again = run_insights(Run(run_dir))["training"]
    pd.testing.assert_frame_equal(again.frame.drop(columns="probs"), first.frame.drop(columns="probs"))
    third = run_insights(Run(run_dir))["training"]  # rewritten: read from the cache again
    assert third.summary == again.summary


def test_a_cache_of_another_size_is_not_believed(sealed: Path, tmp_path: Path) -> None:
    run_dir = _copy(sealed, tmp_path)
    run = Run(run_dir)
    run_insights(run)
    (frame_path,) = (run_dir / "_cache" / "insights").rglob("training.parquet")
    table = pq.read_table(frame_path)
    pq.write_table(table.slice(0, 10), frame_path)  # a readable, wrong entry
    assert len(run_insights(run)["training"].frame) == run.n_samples("training")


def test_bad_input_is_refused_in_one_line_before_any_work(sealed: Path, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    pd.DataFrame({"text": [f"text number {i}" for i in range(40)], "label": ["a", "b"] * 20}).to_csv(data, index=False)
    _one_line_error(
        _cli("auto", str(data), "--text-col", "text", "--label-col", "label", "--seed", "-5", home=tmp_path),
        "'seed'",
        "-5",
    )
    small = tmp_path / "small.csv"
    pd.DataFrame({"text": ["one text", "another text"], "label": ["a", "b"]}).to_csv(small, index=False)
    _one_line_error(
        _cli("auto", str(small), "--text-col", "text", "--label-col", "label", home=tmp_path), "'folds'", "(2)"
    )
    assert not (tmp_path / "cache").exists()  # refused before a text was embedded
    (tmp_path / "dbdir").mkdir()
    _one_line_error(
        _cli("export", str(sealed), "--split", "training", "--out", str(tmp_path / "x.csv"), "--db",
             str(tmp_path / "dbdir"), home=tmp_path),
        "dbdir", "is a directory",
    )  # fmt: skip
    _one_line_error(_cli("info", str(data), home=tmp_path), "is a file, not a run directory", "dq auto")
    multi = tmp_path / "multi.parquet"
    pd.DataFrame({"text": ["a b", "c d", "e f", "g h"], "label": [["x"], ["y"], ["x", "y"], ["y"]]}).to_parquet(multi)
    _one_line_error(
        _cli("auto", str(multi), "--text-col", "text", "--label-col", "label", home=tmp_path),
        "multi-label data is not supported",
    )
