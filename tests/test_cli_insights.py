"""`dq insights` and `dq alerts`, run in-process on a small synthetic run logged with the client."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dq
from dq.cli import main
from dq.insights import run_insights
from dq.insights.alert_types import FIRST_KINDS, SEVERITIES
from dq.insights.filters import apply_filter, describe_filter
from dq.splits import TRAINING, VALIDATION
from dq.store import Run

EXPORT_COLUMNS = {
    "id",
    "text",
    "label",
    "pred",
    "probs",
    "dep",
    "is_mislabeled",
    "suggested_label",
    "cluster",
    "is_near_duplicate",
    "is_outlier",
}
ALERT_KEYS = {"kind", "severity", "message", "rule", "filter", "count"}


@pytest.fixture(scope="module")
def run_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 classes x 40 training samples (5 labels flipped, one conflicting duplicate) + 30 validation, 2 epochs.

    Labels are logged in non-alphabetical order so a column-order mix-up would show.
    """
    labels = ["tech", "sports", "arts"]
    rng = np.random.default_rng(7)
    centres = np.linalg.qr(rng.standard_normal((16, 3)))[0].T

    def blobs(n_per_class: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.repeat(np.arange(3), n_per_class)
        return y, (centres[y] + 0.25 * rng.standard_normal((len(y), 16))).astype(np.float32)

    y, embs = blobs(40)
    texts = [f"{labels[c]} story number {i}" for i, c in enumerate(y)]
    given = y.copy()
    flipped = rng.choice(len(y), 5, replace=False)
    given[flipped] = (y[flipped] + 1) % 3
    texts[1], embs[1], given[1] = texts[0], embs[0], (y[0] + 2) % 3  # a conflicting exact duplicate
    vy, vembs = blobs(10)

    def probs(e: np.ndarray, sharpness: float) -> np.ndarray:
        z = sharpness * (e / np.linalg.norm(e, axis=1, keepdims=True)) @ centres.T
        p = np.exp(z - z.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    names = np.array(labels, dtype=object)
    dq.init(project="cli", run="insights", labels=labels, home=tmp_path_factory.mktemp("home"))
    dq.log_data_samples(texts=texts, labels=names[given].tolist(), ids=[f"t{i}" for i in range(len(y))], split=TRAINING)
    dq.log_data_samples(
        texts=[f"{labels[c]} check {i}" for i, c in enumerate(vy)],
        labels=names[vy].tolist(),
        ids=[f"v{i}" for i in range(len(vy))],
        split=VALIDATION,
    )
    for epoch, sharpness in enumerate((4.0, 10.0)):
        dq.log_model_outputs(
            ids=[f"t{i}" for i in range(len(y))], embs=embs, probs=probs(embs, sharpness), split=TRAINING, epoch=epoch
        )
        dq.log_model_outputs(
            ids=[f"v{i}" for i in range(len(vy))],
            embs=vembs,
            probs=probs(vembs, sharpness),
            split=VALIDATION,
            epoch=epoch,
        )
    return dq.finish()


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        frame = pd.read_csv(path)
        frame["probs"] = [json.loads(p) for p in frame["probs"]]
        return frame
    return pd.read_json(path, lines=True, dtype={"id": str})


def _one_line_error(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"dq {command}: error: ")
    return lines[0]


# --- dq insights ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_insights_writes_the_per_sample_table(run_path, tmp_path, capsys, suffix):
    out = tmp_path / f"x{suffix}"
    assert main(["insights", str(run_path), "--split", "training", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "120 samples" in captured.err and "likely mislabeled" in captured.err

    run = Run(run_path)
    frame = _read(out)
    assert EXPORT_COLUMNS <= set(frame.columns), EXPORT_COLUMNS - set(frame.columns)
    assert frame["id"].astype(str).tolist() == run.samples(TRAINING)["id"].tolist()
    probs = np.array([np.asarray(p, dtype=np.float64) for p in frame["probs"]])
    assert probs.shape == (120, len(run.labels))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(probs, run.probs(TRAINING), atol=1e-5)  # the last epoch, in run.labels order
    assert (np.array(run.labels, dtype=object)[probs.argmax(axis=1)] == frame["pred"].to_numpy()).all()
    assert frame["dep"].between(0, 1).all()
    assert frame["is_mislabeled"].astype(bool).sum() > 0
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left behind


def test_insights_exports_an_evaluation_split(run_path, tmp_path, capsys):
    out = tmp_path / "validation.parquet"
    assert main(["insights", str(run_path), "--split", "validation", "--out", str(out)]) == 0
    frame = pd.read_parquet(out)
    assert len(frame) == 30 and "is_out_of_coverage" in frame.columns
    assert capsys.readouterr().out.strip() == str(out)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--out", "{dir}/x.txt"], ["'--out'", ".parquet"]),
        (["--out", "{dir}/x"], ["'--out'"]),
        (["--split", "nope", "--out", "{dir}/x.csv"], ["'split'", "'nope'", "training"]),
        (["--split", "test", "--out", "{dir}/x.csv"], ["'test'"]),
        (["--out", "{dir}/missing/x.csv"], ["does not exist"]),
    ],
)
def test_insights_refuses_bad_arguments_in_one_line_and_writes_nothing(run_path, tmp_path, capsys, args, words):
    argv = ["insights", str(run_path), *[a.format(dir=tmp_path) for a in args]]
    assert main(argv) == 2
    captured = capsys.readouterr()
    line = _one_line_error(captured.err, "insights")
    for word in words:
        assert word in line
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_insights_verbose_prints_each_step_with_its_seconds_and_peak_memory(run_path, tmp_path, capsys):
    out = tmp_path / "steps.parquet"
    assert main(["insights", str(run_path), "--out", str(out), "--refresh", "-v"]) == 0
    steps = re.findall(r"^dq: step=(.+) seconds=([0-9.]+) peak_gb=([0-9.]+)$", capsys.readouterr().err, re.M)
    names = [name for name, _, _ in steps]
    assert {
        "reference training/index",
        "training/dep",
        "validation/near duplicates",
        "validation/frame written",
    } <= set(names)
    assert "training/written to --out" in names
    peaks = [float(peak) for _, _, peak in steps]
    assert peaks == sorted(peaks) and peaks[-1] > 0  # the peak so far never falls
    # The printing ends with the command: a later call in the same process prints no steps.
    assert main(["insights", str(run_path), "--out", str(out), "--refresh"]) == 0
    assert "step=" not in capsys.readouterr().err


def test_insights_on_a_directory_that_is_not_a_run(tmp_path, capsys):
    assert main(["insights", str(tmp_path), "--out", str(tmp_path / "x.csv")]) == 2
    assert "not a dq run" in _one_line_error(capsys.readouterr().err, "insights")
    assert list(tmp_path.iterdir()) == []


# --- dq alerts ------------------------------------------------------------------------------------


def test_alerts_json_lists_each_splits_alerts(run_path, capsys):
    assert main(["alerts", str(run_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == [TRAINING, VALIDATION]
    results = run_insights(run_path)
    for split, listed in data.items():
        assert isinstance(listed, list)
        for alert in listed:
            assert set(alert) == ALERT_KEYS
            assert alert["severity"] in SEVERITIES and isinstance(alert["count"], int) and alert["count"] > 0
            assert alert["message"] and "\n" not in alert["message"]
            assert isinstance(alert["filter"], dict) and alert["filter"]
            apply_filter(results[split].frame, alert["filter"])  # every filter applies to the frame
        # weak model, likely mislabeled, conflicting duplicates first; the rest by severity
        first = [a["kind"] for a in listed if a["kind"] in FIRST_KINDS]
        assert [a["kind"] for a in listed[: len(first)]] == sorted(first, key=FIRST_KINDS.index)
        ranks = [SEVERITIES.index(a["severity"]) for a in listed[len(first) :]]
        assert ranks == sorted(ranks)
        assert listed == [a.to_dict() for a in results[split].alerts]
    kinds = {a["kind"]: a for a in data[TRAINING]}
    assert kinds["conflicting_duplicates"]["count"] == 2
    assert kinds["conflicting_duplicates"]["severity"] == "high"
    assert kinds["likely_mislabeled"]["filter"] == {"is_mislabeled": True}


def test_alerts_json_for_one_split(run_path, capsys):
    assert main(["alerts", str(run_path), "--split", "validation", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == [VALIDATION]


def test_alerts_text_output(run_path, capsys):
    assert main(["alerts", str(run_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    results = run_insights(run_path)
    expected = []
    for split, result in results.items():
        expected.append(f"{split}: {len(result.alerts)} alerts")
        expected += [
            f"  [{a.severity:<6}] {a.kind:<24} {a.message}  ({describe_filter(a.filter)})" for a in result.alerts
        ]
    assert lines == expected
    assert any(
        "[high  ] conflicting_duplicates" in line and "is_conflicting_duplicate = True" in line for line in lines
    )


def test_alerts_refuses_an_unknown_split(run_path, capsys):
    assert main(["alerts", str(run_path), "--split", "inference"]) == 2
    captured = capsys.readouterr()
    assert "'inference'" in _one_line_error(captured.err, "alerts")
    assert captured.out == ""


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_the_file_is_written_batch_by_batch_as_the_frame_would_be(run_path, tmp_path, monkeypatch, fmt):
    """`dq insights --out` copies the cached file in batches (never the split as one frame): with
    batches of 7 rows, what it writes is what writing the whole frame writes, map columns included."""
    from dq.insights import export, insights_file, split_insights

    monkeypatch.setattr(export, "BATCH_ROWS", 7)
    frame = split_insights(run_path, "training").frame
    xy = np.arange(2 * len(frame), dtype=np.float32).reshape(-1, 2)
    whole = export.write_frame(frame.assign(x=xy[:, 0], y=xy[:, 1]), tmp_path / f"whole.{fmt}")
    batched, n_rows, n_flagged = export.export_frame_file(
        insights_file(run_path, "training"), tmp_path / f"batched.{fmt}", extra={"x": xy[:, 0], "y": xy[:, 1]}
    )
    assert (n_rows, n_flagged) == (len(frame), int(frame["is_mislabeled"].sum())) and n_rows > 7
    if fmt == "parquet":
        a, b = pd.read_parquet(whole), pd.read_parquet(batched)
        pd.testing.assert_frame_equal(a.drop(columns="probs"), b.drop(columns="probs"))
        assert all(np.array_equal(p, q) for p, q in zip(a["probs"], b["probs"]))
    else:
        assert batched.read_bytes() == whole.read_bytes()


def test_metadata_named_like_insight_columns_and_integers_with_gaps_export_as_the_frame(tmp_path, monkeypatch):
    """Metadata called probs, pred, meta_pred or x keeps its values under a name of its own, and an
    integer column with a missing value is written in every batch as the whole frame writes it."""
    from dq.insights import export, insights_file, split_insights

    rng = np.random.default_rng(3)
    n, names = 60, ["a", "b"]
    topic = np.arange(n) % 2
    dq.init(project="p", run="clash", labels=names, home=tmp_path)
    meta = {
        "probs": ["p"] * n, "pred": [f"q{i}" for i in range(n)], "meta_pred": list(range(n)), "x": [7.0] * n,
        "age": [None if i == 40 else i for i in range(n)],
    }  # fmt: skip
    dq.log_data_samples(texts=[f"t{i}" for i in range(n)], labels=[names[t] for t in topic], ids=list(range(n)),
                        split="training", meta=meta)  # fmt: skip
    dq.log_model_outputs(ids=list(range(n)), embs=np.eye(4)[topic] + rng.normal(scale=0.2, size=(n, 4)),
                         logits=3 * np.eye(2)[topic], split="training", epoch=0)  # fmt: skip
    run = dq.finish()
    frame = split_insights(run, "training").frame
    # meta_pred is free when the metadata come (sorted), so pred's becomes meta_meta_pred
    assert frame["meta_probs"].eq("p").all() and frame["meta_pred"].tolist() == list(range(n))
    assert frame["meta_meta_pred"].tolist() == meta["pred"] and len(set(frame.columns)) == len(frame.columns)
    monkeypatch.setattr(export, "BATCH_ROWS", 16)
    xy = np.ones((n, 2), dtype=np.float32)
    for fmt in ("csv", "jsonl"):
        whole = export.write_frame(frame.assign(x=xy[:, 0], y=xy[:, 1]), tmp_path / f"whole.{fmt}")
        batched, _, _ = export.export_frame_file(
            insights_file(run, "training"), tmp_path / f"batched.{fmt}", extra={"x": xy[:, 0], "y": xy[:, 1]}
        )
        assert batched.read_bytes() == whole.read_bytes(), fmt
