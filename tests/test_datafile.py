"""Tests of dq.auto.datafile: reading users' dataset files and refusing bad ones with one-line errors."""

from __future__ import annotations

import csv
import hashlib
import json
import random
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dq.auto.datafile import EMPTY_TEXT, MISSING_LABEL, load_samples
from dq.auto.demo import DATA_DIR as DEMO_DATA
from dq.auto.fileformats import read_table
from dq.errors import InputFileError, ValidationError

BANKING77_TRAIN = DEMO_DATA / "train.csv"


def _write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def _write_rows(path: Path, rows: list[list[str]], *, delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def _tricky_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sentence": ['He said "hi", then left', "  padded  ", "naïve 🙂 café", "NA"],
            "target": ["01", "1", "None", "01"],
            "source": ["web", "mail", "web", "web"],
        }
    )


def _error(call, *args, **kwargs) -> str:
    with pytest.raises(InputFileError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".ndjson", ".parquet"])
def test_each_format_round_trips_texts_labels_and_metadata(tmp_path: Path, suffix: str) -> None:
    frame = _tricky_frame()
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)

    table = load_samples(path, text="sentence", label="target")

    assert list(table.frame.columns) == ["id", "text", "label", "split", "source"]
    assert table.frame["text"].tolist() == frame["sentence"].tolist()
    assert table.frame["label"].tolist() == frame["target"].tolist()
    assert table.frame["source"].tolist() == frame["source"].tolist()
    assert table.frame["id"].tolist() == [0, 1, 2, 3]
    assert table.frame["id"].dtype == "int64"
    assert set(table.frame["split"]) == {"training"}
    assert table.skipped == {}
    assert table.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_labels_and_na_like_cells_stay_exact_strings(tmp_path: Path) -> None:
    path = _write(tmp_path, "data.csv", "t,l,m\na,01,NA\nb,1,None\nc,1.0,null\nd,007,\n")
    frame = read_table(path)
    assert frame["l"].tolist() == ["01", "1", "1.0", "007"]
    assert frame["m"].tolist()[:3] == ["NA", "None", "null"]
    assert pd.isna(frame["m"].iloc[3])
    assert load_samples(path, text="t", label="l").frame["label"].tolist() == frame["l"].tolist()


def test_parquet_integer_labels_and_ids_become_strings(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pd.DataFrame(
        {
            "text": ["a", "b", "c"],
            "label": pd.array([3, 10, None], dtype="Int64"),
            "uid": [7, 8, 9],
            "part": ["train", "train", "inference"],
        }
    ).to_parquet(path)
    frame = load_samples(path, text="text", label="label", id="uid", split="part").frame
    assert frame["label"].tolist() == ["3", "10", None]
    assert frame["id"].tolist() == ["7", "8", "9"]


def test_json_lines_values_become_json_spelled_strings(tmp_path: Path) -> None:
    lines = [
        {"text": "a", "label": 3, "flag": True, "extra": {"k": [1, 2]}},
        {"text": "b", "label": "x", "flag": None},
    ]
    body = "\n\n".join(json.dumps(line) for line in lines) + "\n"
    frame = load_samples(_write(tmp_path, "d.jsonl", body), text="text", label="label").frame
    assert frame["label"].tolist() == ["3", "x"]
    assert frame["flag"].iloc[0] == "true" and pd.isna(frame["flag"].iloc[1])
    assert json.loads(frame["extra"].iloc[0]) == {"k": [1, 2]}


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, "bom.csv", b"\xef\xbb\xbftext,label\nhello,a\nworld,b\n")
    table = load_samples(path, text="text", label="label")
    assert table.frame["text"].tolist() == ["hello", "world"]
    jsonl = _write(tmp_path, "bom.jsonl", b'\xef\xbb\xbf{"text": "x", "label": "a"}\n')
    assert read_table(jsonl)["text"].tolist() == ["x"]


def test_real_banking77_rows_load_exactly(tmp_path: Path) -> None:
    with BANKING77_TRAIN.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    sample = random.Random(0).sample(rows, 300)
    path = _write_rows(tmp_path / "banking.csv", [header, *sample])

    table = load_samples(path, text="text", label="category")

    assert table.frame["text"].tolist() == [row[0] for row in sample]
    assert table.frame["label"].tolist() == [row[1] for row in sample]
    assert table.frame["label"].nunique() > 50
    assert table.skipped == {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.text(min_size=1).filter(str.strip),
            st.text(min_size=1, max_size=4).filter(str.strip),
        ),
        min_size=2,
        max_size=20,
    )
)
def test_any_non_empty_texts_and_labels_round_trip_through_csv(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, str]]
) -> None:
    assume(len({label for _, label in rows}) >= 2)
    path = _write_rows(tmp_path_factory.mktemp("prop") / "data.csv", [["text", "label"], *rows])
    frame = load_samples(path, text="text", label="label").frame
    assert frame["text"].tolist() == [text for text, _ in rows]
    assert frame["label"].tolist() == [label for _, label in rows]
    assert frame["id"].tolist() == list(range(len(rows)))


# ---------------------------------------------------------------------------- skipping and splits


def test_empty_texts_and_missing_labels_are_skipped_and_counted(tmp_path: Path) -> None:
    body = "text,label\n  keep me  ,a\n,a\n   ,b\nno label,\nblank label,  \nok,b\n"
    table = load_samples(_write(tmp_path, "d.csv", body), text="text", label="label")
    assert table.skipped == {EMPTY_TEXT: 2, MISSING_LABEL: 2}
    assert table.frame["text"].tolist() == ["  keep me  ", "ok"]
    assert table.frame["id"].tolist() == [0, 5]


def test_no_usable_rows_names_the_counts(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", "text,label\n,a\nx,\n")
    message = _error(load_samples, path, text="text", label="label")
    assert "no usable rows" in message and "1 with empty text" in message
    assert "1 with missing label" in message


def test_split_spellings_are_mapped_and_inference_needs_no_label(tmp_path: Path) -> None:
    body = "text,label,part\na,x,train\nb,y, Train \nc,x,dev\nd,y,VALID\ne,x,Test\nf,,inference\n"
    table = load_samples(_write(tmp_path, "d.csv", body), text="text", label="label", split="part")
    assert table.frame["split"].tolist() == ["training", "training", "validation", "validation", "test", "inference"]
    assert table.frame["label"].iloc[-1] is None
    assert table.skipped == {}


def test_unknown_split_values_are_listed_with_accepted_spellings(tmp_path: Path) -> None:
    body = "text,label,part\na,x,train\nb,y,holdout\nc,y,\n,y,ignored-no-text\n"
    path = _write(tmp_path, "d.csv", body)
    message = _error(load_samples, path, text="text", label="label", split="part")
    assert "'holdout'" in message and "''" in message and "ignored-no-text" not in message
    assert "'part'" in message and "train" in message and "dev" in message


def test_without_split_column_every_row_is_training(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", "text,label\na,x\nb,y\n")
    table = load_samples(path, text="text", label="label")
    assert table.frame["split"].tolist() == ["training", "training"]


def test_no_training_rows_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", "text,label,part\na,x,test\nb,y,dev\n")
    message = _error(load_samples, path, text="text", label="label", split="part")
    assert "no training rows" in message and "test (1)" in message


def test_single_training_class_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", "text,label,part\na,only,train\nb,only,train\nc,other,test\n")
    message = _error(load_samples, path, text="text", label="label", split="part")
    assert "needs at least 2 classes, found only 'only'" in message


# ---------------------------------------------------------------------------- ids and columns


def test_id_column_is_kept_as_strings(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", "uid,text,label\n007,a,x\n8,b,y\n")
    frame = load_samples(path, text="text", label="label", id="uid").frame
    assert frame["id"].tolist() == ["007", "8"]


def test_duplicate_ids_are_listed_with_their_count(tmp_path: Path) -> None:
    ids = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e", "f", "f", "g"]
    rows = [["uid", "text", "label"], *[[uid, f"t{n}", "xy"[n % 2]] for n, uid in enumerate(ids)]]
    path = _write_rows(tmp_path / "d.csv", rows)
    message = _error(load_samples, path, text="text", label="label", id="uid")
    assert "6 duplicated id(s) (12 rows)" in message
    assert "'a', 'b', 'c', 'd', 'e', ..." in message and "'f'" not in message


def test_an_id_may_repeat_across_splits_but_not_within_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", "uid,text,label,part\n1,a,x,train\n2,b,y,train\n1,c,x,test\n2,d,y,test\n")
    frame = load_samples(path, text="text", label="label", id="uid", split="part").frame
    assert frame["id"].tolist() == ["1", "2", "1", "2"]
    path = _write(tmp_path, "e.csv", "uid,text,label,part\n1,a,x,train\n2,b,y,train\n1,c,x,test\n1,d,y,test\n")
    message = _error(load_samples, path, text="text", label="label", id="uid", split="part")
    assert "1 duplicated id(s) within split 'test' (2 rows): '1'" in message


def test_missing_ids_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", "uid,text,label\n1,a,x\n,b,y\n")
    message = _error(load_samples, path, text="text", label="label", id="uid")
    assert "id column 'uid'" in message and "empty on 1 row" in message


def test_file_columns_named_like_sample_columns_are_kept_renamed(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", "id,sentence,label,fine\n10,a,x,x1\n11,b,y,y1\n")
    frame = load_samples(path, text="sentence", label="fine").frame
    assert list(frame.columns) == ["id", "text", "label", "split", "meta_id", "meta_label"]
    assert frame["meta_id"].tolist() == ["10", "11"] and frame["label"].tolist() == ["x1", "y1"]


def test_unknown_column_names_role_and_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "data.csv", "a,b,Text\nx,y,z\n")
    message = _error(load_samples, path, text="text", label="b")
    assert message.startswith("text column 'text' not found in ")
    assert "data.csv; columns are: 'a', 'b', 'Text'" in message and "did you mean 'Text'" in message
    assert "label column 'lbl'" in _error(load_samples, path, text="a", label="lbl")


def test_roles_must_name_distinct_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", "a,b\nx,y\n")
    with pytest.raises(ValidationError, match="'text' and 'label'.*'a'"):
        load_samples(path, text="a", label="a")
    with pytest.raises(ValidationError, match="'label' and 'split'"):
        load_samples(path, text="a", label="b", split="b")


def test_parquet_text_column_must_hold_strings(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pd.DataFrame({"n": [1, 2], "label": ["x", "y"]}).to_parquet(path)
    assert "text column 'n'" in _error(load_samples, path, text="n", label="label")


# ---------------------------------------------------------------------------- unreadable files


def test_missing_file_directory_and_extension_are_refused(tmp_path: Path) -> None:
    assert _error(read_table, tmp_path / "nope.csv").endswith("nope.csv does not exist")
    assert "is a directory" in _error(read_table, tmp_path)
    message = _error(read_table, _write(tmp_path, "d.xlsx", "x"))
    assert "'.xlsx'" in message and ".csv, .tsv, .jsonl, .ndjson, .parquet" in message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("zero.csv", b"", "is empty (0 bytes)"),
        ("blank.csv", b"\n\n", "is empty"),
        ("header.csv", b"text,label\n", "has a header but no rows"),
        ("header.tsv", b"\xef\xbb\xbftext\tlabel\n", "has a header but no rows"),
        ("blank.jsonl", b"\n \n", "has no rows"),
    ],
)
def test_empty_files_are_refused(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    message = _error(read_table, _write(tmp_path, name, content))
    assert name in message and expected in message


def test_empty_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pd.DataFrame({"text": pd.Series([], dtype=str)}).to_parquet(path)
    assert "d.parquet has no rows" in _error(read_table, path)


def test_non_utf8_bytes_name_the_byte_and_offset(tmp_path: Path) -> None:
    content = "text,label\ncafé,a\n".encode() + b"caf\xe9,b\n"
    message = _error(read_table, _write(tmp_path, "latin.csv", content))
    offset = content.index(b"\xe9")
    assert f"latin.csv is not valid UTF-8 text: byte 0xe9 at offset {offset}" in message
    assert "save it as UTF-8" in message


def test_malformed_csv_names_the_physical_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.csv", 'text,label\n"two\nlines",a\nok,b\ntoo,many,fields\n')
    message = _error(read_table, path)
    assert "bad.csv is not valid CSV: line 5 has 3 fields, the header has 2" in message


def test_unclosed_quote_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.csv", 'text,label\nok,a\n"never closed,b\nmore,c\n')
    assert "quoted field starting on line 3 is never closed" in _error(read_table, path)


def test_repeated_header_names_are_refused(tmp_path: Path) -> None:
    message = _error(read_table, _write(tmp_path, "d.csv", "text,text,label\na,b,c\n"))
    assert "repeated column names: 'text'" in message


def test_malformed_json_lines_name_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.jsonl", '{"text": "a"}\n\n{"text": "b",}\n')
    assert "bad.jsonl line 3 is not valid JSON" in _error(read_table, path)
    path = _write(tmp_path, "list.jsonl", '{"text": "a"}\n["b"]\n')
    assert "list.jsonl line 2 holds a JSON array; expected an object" in _error(read_table, path)


def test_corrupt_parquet_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.parquet", "nope")
    assert "d.parquet is not a valid Parquet file" in _error(read_table, path)


def test_source_hash_follows_the_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.csv", "text,label\na,x\nb,y\n")
    first = load_samples(path, text="text", label="label")
    path.write_text("text,label\na,x\nb,z\n", encoding="utf-8")
    second = load_samples(path, text="text", label="label")
    assert first.source_sha256 != second.source_sha256
    assert len(first.source_sha256) == 64
