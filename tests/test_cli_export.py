"""`dq export` and `dq labelers`, run in-process on a tiny run with a cart in tmp_path."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from edits_fixtures import run  # noqa: F401 - pytest fixture
from tiny_runs import LABELS

from dq.cli import main
from dq.edits import Change, EditsCart, fix
from dq.edits.store import SCHEMA_VERSION
from dq.store import Run


@pytest.fixture
def db(run: Run, tmp_path: Path) -> Path:
    """A cart holding a relabel, a removal, a text edit and two samples sent to labelers."""
    path = tmp_path / "cart" / "edits.db"
    EditsCart(path).add(
        run,
        "training",
        [
            Change(0, "relabel", "billing", "login"),
            Change(1, "remove"),
            Change(2, "edit_text", None, 'new, "text"'),
            Change(7, "send_to_labelers"),
            Change(14, "send_to_labelers"),
        ],
        author="ana",
    )
    return path


def _ok(capsys: pytest.CaptureFixture[str], out: Path) -> str:
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{out}: "), captured.err
    return lines[0]


def _exit_code(argv: list[str]) -> int:
    """``main``'s status; argparse refuses an unknown choice by exiting (status 2, one line too)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def _one_line_error(capsys: pytest.CaptureFixture[str], command: str) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dq {command}: error: "), captured.err
    assert captured.out == ""
    return lines[0]


# --- dq export ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_export_writes_the_fixed_dataset(run, db, tmp_path, capsys, suffix):
    out = tmp_path / f"fixed{suffix}"
    assert main(["export", str(run.path), "--out", str(out), "--db", str(db)]) == 0
    assert _ok(capsys, out).endswith("89 rows kept, 1 removed, 1 relabeled, 1 text edits")
    expected = fix(run, "training", cart=EditsCart(db)).frame
    if suffix == ".csv":
        back = pd.read_csv(out)
    elif suffix == ".parquet":
        back = pd.read_parquet(out)
    else:
        back = pd.read_json(out, lines=True)
    assert back["id"].tolist() == expected["id"].tolist() and 1 not in back["id"].tolist()
    assert back["text"].tolist() == expected["text"].tolist() and back["text"].iloc[1] == 'new, "text"'
    assert back["label"].tolist() == expected["label"].tolist() and back["label"].iloc[0] == "login"


@pytest.mark.parametrize("mode", ["relabel", "remove"])
def test_export_with_auto_fix(run, db, tmp_path, capsys, mode):
    out = tmp_path / "fixed.csv"
    assert (
        main(["export", str(run.path), "--split", "training", "--out", str(out), "--db", str(db), "--auto-fix", mode])
        == 0
    )
    summary = _ok(capsys, out)
    assert "by auto-fix" in summary
    expected = fix(run, "training", cart=EditsCart(db), auto_fix=mode).frame
    assert pd.read_csv(out)["label"].tolist() == expected["label"].tolist()


def test_export_auto_fix_follows_the_strictness(run, db, tmp_path, capsys):
    from dq.insights import InsightSettings, split_insights

    counts = {}
    for strictness in (0.0, 1.0):
        out = tmp_path / f"fixed-{strictness}.csv"
        assert (
            main(
                [
                    "export",
                    str(run.path),
                    "--out",
                    str(out),
                    "--db",
                    str(db),
                    "--auto-fix",
                    "remove",
                    "--strictness",
                    str(strictness),
                ]
            )
            == 0
        )
        _ok(capsys, out)
        flagged = split_insights(run, "training", settings=InsightSettings(mislabel_strictness=strictness)).frame
        expected = fix(run, "training", cart=EditsCart(db), auto_fix="remove", insights=flagged).frame
        assert pd.read_csv(out)["id"].tolist() == expected["id"].tolist()
        counts[strictness] = len(expected)
    assert counts[0.0] <= counts[1.0]  # strictness 0 flags (so removes) at least as many


def test_export_uses_the_cart_under_dq_home_by_default(run, dq_home, tmp_path, capsys):
    EditsCart().add(run, "test", [Change(0, "remove")], author="ana")
    out = tmp_path / "test.jsonl"
    assert main(["export", str(run.path), "--split", "test", "--out", str(out)]) == 0
    assert "29 rows kept, 1 removed" in _ok(capsys, out)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--out", "{dir}/x.txt"], ["'--out'", ".csv"]),
        (["--out", "{dir}/missing/x.csv"], ["does not exist"]),
        (["--split", "validation", "--out", "{dir}/x.csv"], ["'split'", "'validation'", "training"]),
        (["--auto-fix", "fix", "--out", "{dir}/x.csv"], ["--auto-fix", "'fix'", "relabel"]),
        (["--out", "{dir}/x.csv", "--db", "{dir}/newer.db"], ["schema version", "Upgrade dq"]),
    ],
)
def test_export_errors_are_one_line_and_write_nothing(run, tmp_path, capsys, args, words):
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    argv = ["export", str(run.path), *[a.format(dir=tmp_path) for a in args]]
    assert _exit_code(argv) == 2
    line = _one_line_error(capsys, "export")
    assert all(w in line for w in words), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["newer.db"]


def test_export_of_a_missing_run_directory(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "does not exist" in _one_line_error(capsys, "export")
    assert list(tmp_path.iterdir()) == []


# --- dq labelers ----------------------------------------------------------------------------------


def test_labelers_writes_label_studio_tasks_for_the_marked_samples(run, db, tmp_path, capsys):
    out = tmp_path / "review.json"
    assert main(["labelers", str(run.path), "--out", str(out), "--db", str(db)]) == 0
    assert _ok(capsys, out).endswith("2 samples marked for labelers in the cart")
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(t["data"]["id"] for t in tasks) == [7, 14]
    for task in tasks:
        result = task["predictions"][0]["result"][0]
        assert task["predictions"][0]["model_version"] == "dq" and 0 <= task["predictions"][0]["score"] <= 1
        assert result["type"] == "choices" and result["value"]["choices"][0] in LABELS


def test_labelers_all_writes_every_flagged_sample_as_csv(run, db, tmp_path, capsys):
    out = tmp_path / "review.csv"
    assert main(["labelers", str(run.path), "--out", str(out), "--db", str(db), "--all"]) == 0
    assert "or likely mislabeled" in _ok(capsys, out)
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["id", "text", "label", "suggested_label", "dep"]
    assert {7, 14} <= set(frame["id"]) and frame["dep"].is_monotonic_decreasing


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--out", "{dir}/x.parquet"], ["'--out'", ".json", ".csv"]),
        (["--out", "{dir}/x.json", "--split", "nope"], ["'split'", "'nope'"]),
        (["--out", "{dir}/x.json", "--db", "{dir}/empty.db"], ["No sample", "--all"]),
    ],
)
def test_labelers_errors_are_one_line_and_write_nothing(run, tmp_path, capsys, args, words):
    assert main(["labelers", str(run.path), *[a.format(dir=tmp_path) for a in args]]) == 2
    line = _one_line_error(capsys, "labelers")
    assert all(w in line for w in words), line
    assert list(tmp_path.iterdir()) == []


# --- dq export --split all: a drop-in replacement for the input file ------------------------------


def test_export_all_splits_gives_back_the_input_file_with_its_split_values(tmp_path, capsys):
    from dq.auto.pipeline import AutoSettings, auto

    parts = ["train"] * 3 + ["dev", "test"]
    rows = [(f"refund my money {i}", "refund", parts[i % 5]) for i in range(20)]
    rows += [(f"my card arrived {i}", "card", parts[i % 5]) for i in range(20)]
    source = pd.DataFrame(rows, columns=["utterance", "intent", "part"]).assign(row_id=[f"u{i}" for i in range(40)])
    data = tmp_path / "intents.csv"
    source.to_csv(data, index=False)
    settings = AutoSettings(text="utterance", label="intent", id="row_id", split="part", epochs=2, folds=2)
    run = Run(auto(data, settings, home=tmp_path, progress=False, log=lambda _m: None).path)
    capsys.readouterr()  # the model's loading bar
    db = tmp_path / "edits.db"
    EditsCart(db).add(run, "validation", [Change("u3", "relabel", "refund", "card")], author="ana")
    out = tmp_path / "fixed.csv"
    assert main(["export", str(run.path), "--split", "all", "--out", str(out), "--db", str(db)]) == 0
    assert _ok(capsys, out).endswith("40 rows kept, 0 removed, 1 relabeled, 0 text edits")
    fixed = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(fixed.columns) == ["row_id", "utterance", "intent", "part"]
    assert sorted(fixed["part"].unique()) == ["dev", "test", "train"]  # the file's values, not training/test
    merged = source.merge(fixed, on="row_id", suffixes=("", "_fixed"))
    assert len(merged) == 40 and (merged["part"] == merged["part_fixed"]).all()
    changed = merged[merged["intent"] != merged["intent_fixed"]]
    assert changed["row_id"].tolist() == ["u3"] and changed["intent_fixed"].tolist() == ["card"]
    one = tmp_path / "train.csv"
    assert main(["export", str(run.path), "--split", "training", "--out", str(one), "--db", str(db)]) == 0
    assert set(pd.read_csv(one, dtype=str)["part"]) == {"train"}
