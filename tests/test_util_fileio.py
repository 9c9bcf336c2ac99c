"""dq._util.fileio: atomic replacement (a failure leaves the old file and no leftovers) and the one
serialisation of tables to CSV, Parquet and JSON Lines, shared by files and download buttons."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dq._util.fileio import (
    TABLE_FORMATS,
    atomic_path,
    check_out_path,
    table_bytes,
    table_format,
    write_bytes_atomic,
    write_table,
    write_table_to,
)
from dq.errors import ValidationError

READERS = {
    ".csv": lambda src: pd.read_csv(src, keep_default_na=False, dtype={"text": str}),
    ".jsonl": lambda src: pd.read_json(src, lines=True, dtype={"text": str}),
    ".parquet": pd.read_parquet,
}


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "text": ['a, "quoted" text', "line\nbreak and a lone\rreturn", "café ☕"],
            "dep": [0.25, 0.5, 0.75],
        }
    )


def _entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ---------------------------------------------------------------- check_out_path
def test_out_path_accepts_known_extensions_in_any_case(tmp_path: Path) -> None:
    assert check_out_path(tmp_path / "fixed.CSV") == tmp_path / "fixed.CSV"
    assert check_out_path(str(tmp_path / "a.parquet")) == tmp_path / "a.parquet"
    assert check_out_path(tmp_path / "a.json", formats=(".json",), param="out") == tmp_path / "a.json"


def test_out_path_expands_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert check_out_path("~/x.jsonl") == tmp_path / "x.jsonl"


def test_out_path_refusals_name_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(
        ValidationError, match=r"The '--out' file must end in one of \.parquet, \.csv, \.jsonl\. Got 'x\.txt' instead"
    ):
        check_out_path(tmp_path / "x.txt")
    with pytest.raises(ValidationError, match=r"The 'out' file must end in one of \.json\. Got 'x\.csv' instead"):
        check_out_path(tmp_path / "x.csv", formats=(".json",), param="out")
    missing = tmp_path / "missing"
    with pytest.raises(ValidationError, match=rf"The '--out' directory {missing} does not exist"):
        check_out_path(missing / "x.csv")
    assert not missing.exists()


# ---------------------------------------------------------------- atomic_path
def test_atomic_path_writes_beside_the_target_then_replaces_it(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        # A hidden temporary file in the same directory (so os.replace is a rename); the target is untouched.
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.txt.") and tmp.name.endswith(".tmp")
        tmp.write_text("new")
        assert target.read_text() == "old"
    assert target.read_text() == "new"
    assert _entries(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(type(error)), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise error
    assert target.read_text() == "old"
    assert _entries(tmp_path) == ["out.txt"]


def test_a_failed_first_write_leaves_no_file_at_all(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), atomic_path(tmp_path / "new.txt") as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert _entries(tmp_path) == []


def test_write_bytes_atomic_returns_the_path(tmp_path: Path) -> None:
    target = tmp_path / "b.bin"
    assert write_bytes_atomic(b"\x00\x01", target) == target
    assert target.read_bytes() == b"\x00\x01"
    assert write_bytes_atomic(b"", target).read_bytes() == b""
    assert _entries(tmp_path) == ["b.bin"]


# ---------------------------------------------------------------- table formats
@pytest.mark.parametrize(("given_fmt", "canonical"), [("csv", ".csv"), (".CSV", ".csv"), ("JSONL", ".jsonl")])
def test_table_format_names(given_fmt: str, canonical: str) -> None:
    assert table_format(given_fmt) == canonical
    assert canonical in TABLE_FORMATS


@pytest.mark.parametrize("fmt", ["xlsx", ".json", ""])
def test_table_format_refusal(fmt: str) -> None:
    with pytest.raises(ValidationError, match=rf"The 'fmt' parameter must be one of parquet, csv, jsonl\. Got '{fmt}'"):
        table_format(fmt)


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_every_format_reads_back_unchanged(tmp_path: Path, fmt: str) -> None:
    frame = _frame()
    path = write_table(frame, tmp_path / f"t{fmt}")
    pd.testing.assert_frame_equal(READERS[fmt](path), frame)
    pd.testing.assert_frame_equal(READERS[fmt](io.BytesIO(table_bytes(frame, fmt))), frame)


@pytest.mark.parametrize("fmt", [".csv", ".jsonl"])
def test_the_download_is_the_file_byte_for_byte(tmp_path: Path, fmt: str) -> None:
    frame = _frame()
    assert table_bytes(frame, fmt) == write_table(frame, tmp_path / f"t{fmt}").read_bytes()


def test_csv_quotes_every_text_and_jsonl_keeps_characters_and_iso_dates() -> None:
    frame = pd.DataFrame({"n": [1], "text": ["lone\rreturn"], "when": [pd.Timestamp("2025-01-02 03:04:05")]})
    csv = table_bytes(frame, "csv").decode("utf-8")
    assert csv.splitlines()[0] == '"n","text","when"'
    assert '1,"lone\rreturn",' in csv
    jsonl = table_bytes(pd.DataFrame({"text": ["café"], "when": frame["when"]}), "jsonl").decode("utf-8")
    assert '"café"' in jsonl and "2025-01-02T03:04:05" in jsonl


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(st.characters(blacklist_categories=("Cs",))), min_size=1, max_size=8))
def test_any_text_survives_csv_and_jsonl(texts: list[str]) -> None:
    frame = pd.DataFrame({"id": range(len(texts)), "text": texts})
    for fmt in (".csv", ".jsonl"):
        back = READERS[fmt](io.BytesIO(table_bytes(frame, fmt)))
        assert back["text"].tolist() == texts, fmt


def test_write_table_refuses_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"'--out' file must end in one of"):
        write_table(_frame(), tmp_path / "t.xlsx")
    with pytest.raises(ValidationError, match=r"'--out' file must end in one of \.csv\. Got 't\.jsonl'"):
        write_table(_frame(), tmp_path / "t.jsonl", formats=(".csv",))
    assert _entries(tmp_path) == []


def test_a_table_that_fails_to_serialise_leaves_the_old_file(tmp_path: Path) -> None:
    target = write_table(_frame(), tmp_path / "t.parquet")
    before = target.read_bytes()
    mixed = pd.DataFrame({"value": [1, "one"]})  # Parquet needs one type per column
    with pytest.raises(ValueError, match="Conversion failed for column value"):  # pyarrow's ArrowInvalid
        write_table(mixed, target)
    assert target.read_bytes() == before
    assert _entries(tmp_path) == ["t.parquet"]


def test_write_table_to_a_buffer(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    write_table_to(_frame(), "parquet", buffer)
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(buffer.getvalue())), _frame())
