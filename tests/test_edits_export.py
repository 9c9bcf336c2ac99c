"""The fixed dataset (cart + auto-fix, original columns) and the files made from it: CSV, Parquet,
JSON Lines round trips through dq's own reader, atomic writes, Label Studio tasks, the labelers' CSV."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from edits_fixtures import insights, run  # noqa: F401 - pytest fixtures
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tiny_runs import LABELS

from dq.auto.datafile import load_samples
from dq.edits import Change, EditsCart, fix
from dq.edits.export import (
    dataset_bytes,
    label_studio_config,
    label_studio_tasks,
    labelers_csv_bytes,
    write_dataset,
    write_labelers,
)
from dq.errors import ValidationError
from dq.store import Run
from dq.store.writer import RunWriter

FORMATS = (".csv", ".parquet", ".jsonl")
#: Texts a CSV writer gets wrong when it does not quote, or an HTML page when it does not escape.
NASTY = [
    "a, b",
    'say "hi"',
    "two\nlines",
    "crlf\r\nline",
    "lone\rreturn",
    "tab\there",
    "日本語 é ñ 😀",
    "<script>alert(1)</script>",
    "  padded  ",
    "NA",
    "null",
    "=SUM(A1)",
    "trailing \\",
]
#: What ``dq auto`` recorded for the auto-style run: the file's column names.
AUTO_SETTINGS = {
    "text": "review",
    "label": "sentiment",
    "id": "review_id",
    "split": "fold",
    "epochs": 2,
    "folds": 2,
    "seed": 0,
    "model": None,
}


def _auto_style_run(target: Path, *, settings_: dict) -> Run:
    """A run laid out as ``dq auto`` writes one (its source facts included), with nasty texts and a
    file column that was named ``text`` (kept as ``meta_text``)."""
    n = len(NASTY) * 2
    labels = ["neg", "pos"]
    ids = [f"r{i:03d}" for i in range(n)] if settings_.get("id") else list(range(n))
    writer = RunWriter(
        target,
        project="auto",
        run=target.name,
        labels=labels,
        extra={
            "tool": "dq auto",
            "settings": settings_,
            "data": "/data/reviews.csv",
            "fingerprint": "x",
            "skipped": {},
        },
    )
    writer.add_samples(
        texts=NASTY * 2,
        labels=[labels[i % 2] for i in range(n)],
        ids=ids,
        split="training",
        meta={"meta_text": [f"raw {i}" for i in range(n)], "stars": list(range(n))},
    )
    probs = np.tile([[0.8, 0.2], [0.3, 0.7]], (n // 2, 1))
    writer.add_outputs(ids=ids, embs=np.eye(n, 4), probs=probs, split="training", epoch=0)
    return Run(writer.finish())


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _auto_style_run(tmp_path_factory.mktemp("auto") / "reviews", settings_=AUTO_SETTINGS)


@pytest.fixture
def cart(tmp_path: Path) -> EditsCart:
    return EditsCart(tmp_path / "edits.db")


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.read_json(path, lines=True, dtype=False)


# --- the fixed dataset ----------------------------------------------------------------------------


def test_fixed_dataset_applies_the_cart_in_the_original_order(run, cart):
    cart.add(
        run,
        "training",
        [
            Change(0, "relabel", "billing", "login"),
            Change(1, "remove"),
            Change(2, "edit_text", None, "new text"),
            Change(3, "send_to_labelers"),
        ],
        author="a",
    )
    cart.add(run, "training", [Change(5, "remove")], author="a")
    cart.undo_batch(cart.history("tiny/r1", action="remove")["batch"].iloc[0])  # undo the removal of 5
    result = fix(run, "training", cart=cart)
    frame, original = result.frame, run.samples("training")
    assert list(frame.columns) == ["id", "text", "label"]
    assert frame["id"].tolist() == [i for i in original["id"] if i != 1]
    assert frame.loc[0, "label"] == "login" and frame.loc[1, "text"] == "new text"
    assert frame.iloc[2:].reset_index(drop=True).equals(original.iloc[3:].reset_index(drop=True))
    assert (result.n_kept, result.n_removed, result.n_relabeled, result.n_text_edits) == (89, 1, 1, 1)
    assert result.describe() == "89 rows kept, 1 removed, 1 relabeled, 1 text edits"
    assert fix(run, "test", cart=cart).frame.equals(run.samples("test"))  # other splits untouched


@pytest.mark.parametrize("mode", ["relabel", "remove"])
def test_auto_fix_comes_after_the_cart_and_never_overrides_it(run, cart, insights, mode):
    flagged = insights[insights["is_mislabeled"]]
    chosen = flagged.iloc[0]  # the user keeps this one as labeled, and edits its text only
    cart.add(run, "training", [Change(chosen["id"], "edit_text", None, "checked by hand")], author="a")
    result = fix(run, "training", cart=cart, auto_fix=mode, insights=insights)
    frame = result.frame.set_index("id")
    rest = flagged.iloc[1:]
    assert frame.loc[chosen["id"], "label"] == chosen["label"]
    if mode == "remove":
        assert not set(rest["id"]) & set(frame.index) and result.n_removed == len(rest)
    else:
        suggested = rest[rest["suggested_label"].notna()]
        assert frame.loc[suggested["id"], "label"].tolist() == suggested["suggested_label"].tolist()
        unsure = rest[rest["suggested_label"].isna()]  # no confident suggestion: left as labeled
        assert frame.loc[unsure["id"], "label"].tolist() == unsure["label"].tolist()
        assert result.n_relabeled == result.n_auto_fixed == len(suggested)
    # without insights passed in, they are computed (from the cache) the same way
    assert fix(run, "training", cart=cart, auto_fix=mode).frame.equals(result.frame)


def test_fix_refuses_bad_arguments(run, cart):
    with pytest.raises(ValidationError, match="'auto_fix'.*'fix'"):
        fix(run, "training", cart=cart, auto_fix="fix")
    with pytest.raises(ValidationError, match="'split'.*'validation'"):
        fix(run, "validation", cart=cart)


def test_a_dq_auto_run_gets_its_file_columns_back(auto_run, cart):
    cart.add(auto_run, "training", [Change("r001", "relabel", "pos", "neg"), Change("r000", "remove")], author="a")
    frame = fix(auto_run, "training", cart=cart).frame
    assert list(frame.columns) == ["review_id", "review", "sentiment", "fold", "text", "stars"]
    assert frame["review_id"].tolist()[:2] == ["r001", "r002"] and frame["sentiment"].iloc[0] == "neg"
    assert set(frame["fold"]) == {"training"} and frame["text"].iloc[0] == "raw 1"


def test_a_dq_auto_run_without_an_id_column_keeps_the_row_number(tmp_path, cart):
    plain = {**AUTO_SETTINGS, "id": None, "split": None, "text": "text"}
    frame = fix(_auto_style_run(tmp_path / "noid", settings_=plain), "training", cart=cart).frame
    # the file's text column *is* "text" here, so its other column keeps the name it was stored under
    assert list(frame.columns) == ["id", "text", "sentiment", "meta_text", "stars"]
    assert frame["id"].tolist() == list(range(len(NASTY) * 2))


@pytest.mark.parametrize("suffix", FORMATS)
def test_the_fixed_dataset_reads_back_into_dq_auto_unchanged(auto_run, cart, tmp_path, suffix):
    frame = fix(auto_run, "training", cart=cart).frame
    path = write_dataset(frame, tmp_path / f"fixed{suffix}")
    table = load_samples(path, text="review", label="sentiment", id="review_id", split="fold")
    assert table.skipped == {}
    assert table.frame["text"].tolist() == frame["review"].tolist() == NASTY * 2
    assert table.frame["label"].tolist() == frame["sentiment"].tolist()
    assert table.frame["id"].tolist() == frame["review_id"].tolist()
    assert set(table.frame["split"]) == {"training"}
    assert [p.name for p in tmp_path.iterdir() if p.name != "edits.db"] == [path.name]  # no temp file left


# --- files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", FORMATS)
def test_write_dataset_round_trips_and_matches_the_download_bytes(tmp_path, suffix):
    frame = pd.DataFrame(
        {"id": [f"s{i}" for i in range(len(NASTY))], "text": NASTY, "label": "x", "n": range(len(NASTY))}
    )
    path = write_dataset(frame, tmp_path / f"d{suffix}")
    back = _read(path)
    assert back["text"].tolist() == NASTY and back["id"].tolist() == frame["id"].tolist()
    assert path.read_bytes() == dataset_bytes(frame, suffix.lstrip("."))
    if suffix != ".parquet":
        path.read_bytes().decode("utf-8")  # UTF-8, no escapes needed to read it
        assert "日本語" in path.read_text(encoding="utf-8")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(
        st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1).filter(str.strip),
        min_size=2,
        max_size=5,
    ),
    fmt=st.sampled_from(FORMATS),
)
@example(texts=["ends in a return\r", "\r\nx", "x"], fmt=".csv")
def test_any_text_survives_a_round_trip_through_dq_auto_s_reader(tmp_path_factory, texts, fmt):
    frame = pd.DataFrame(
        {
            "id": [f"i{k}" for k in range(len(texts))],
            "text": texts,
            "label": [("x", "y")[k % 2] for k in range(len(texts))],
        }
    )
    path = write_dataset(frame, tmp_path_factory.mktemp("rt") / f"d{fmt}")
    assert load_samples(path, text="text", label="label", id="id").frame["text"].tolist() == texts


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "d.parquet"
    write_dataset(pd.DataFrame({"a": [1]}), path)
    before = path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017, PT011 - pyarrow's own error: a column of mixed objects
        write_dataset(pd.DataFrame({"a": [1, object()]}), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["d.parquet"]


@pytest.mark.parametrize(("out", "words"), [("d.txt", ["'--out'", ".csv"]), ("missing/d.csv", ["does not exist"])])
def test_write_dataset_refuses_a_bad_path(tmp_path, out, words):
    with pytest.raises(ValidationError) as info:
        write_dataset(pd.DataFrame({"a": [1]}), tmp_path / out)
    assert all(w in str(info.value) for w in words)
    with pytest.raises(ValidationError, match="'fmt'"):
        dataset_bytes(pd.DataFrame({"a": [1]}), "xlsx")


# --- labelers -------------------------------------------------------------------------------------


def _review_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.array([7, 35]),
            "text": ["parcel <b>late</b>", 'pass, "word"\n'],
            "label": ["login", "billing"],
            "suggested_label": ["delivery", None],
            "dep": np.array([0.98, 0.5], dtype=np.float32),
        }
    )


def test_label_studio_tasks_follow_the_import_format():
    tasks = label_studio_tasks(_review_frame(), class_names=LABELS)
    assert tasks[0] == {
        "data": {"id": 7, "text": "parcel <b>late</b>"},
        "predictions": [
            {
                "model_version": "dq",
                "score": pytest.approx(0.98),
                "result": [
                    {
                        "id": "dq-0",
                        "from_name": "label",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": ["login"]},
                    }
                ],
            }
        ],
    }
    assert [t["predictions"][0]["result"][0]["id"] for t in tasks] == ["dq-0", "dq-1"]  # unique per result
    assert json.loads(json.dumps(tasks)) == tasks  # plain JSON types (the int64 id became an int)
    config = label_studio_config(LABELS)
    assert '<Choices name="label" toName="text"' in config and '<Text name="text" value="$text"/>' in config
    assert all(f'<Choice value="{label}"/>' in config for label in LABELS)
    with pytest.raises(ValidationError, match="'refunds'"):
        label_studio_tasks(_review_frame().assign(label=["login", "refunds"]), class_names=LABELS)


def test_write_labelers_as_label_studio_json_or_csv(tmp_path):
    frame = _review_frame()
    tasks = json.loads(write_labelers(frame, tmp_path / "r.json", class_names=LABELS).read_text(encoding="utf-8"))
    assert tasks == json.loads(json.dumps(label_studio_tasks(frame, class_names=LABELS)))
    path = write_labelers(frame.assign(extra=1), tmp_path / "r.csv", class_names=LABELS)
    assert path.read_bytes() == labelers_csv_bytes(frame)
    back = pd.read_csv(io.BytesIO(path.read_bytes()), dtype=str, keep_default_na=False)
    assert list(back.columns) == ["id", "text", "label", "suggested_label", "dep"]
    assert back["text"].tolist() == frame["text"].tolist() and back["suggested_label"].tolist() == ["delivery", ""]
    with pytest.raises(ValidationError, match=".json"):
        write_labelers(frame, tmp_path / "r.parquet", class_names=LABELS)
