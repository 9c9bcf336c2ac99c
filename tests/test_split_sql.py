"""dq.insights.split_sql: a sample filter as SQL over a split's Parquet file means what apply_filter
means over the frame (property-tested), refuses what it refuses, and the split's alerts come from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dq.errors import ValidationError
from dq.insights.filters import apply_filter
from dq.insights.metrics import class_report, metrics_of_confusion, sparse_confusion, summary_metrics
from dq.insights.split_sql import SplitSQL

WORDS = ["refund", "Refund me", "parcel", "", "café", "PIN reset", None]


def _frame(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 30))
    floats = st.one_of(st.floats(-1, 2, width=32, allow_nan=False), st.just(float("nan")))
    return pd.DataFrame(
        {
            "text": pd.array([draw(st.sampled_from(WORDS)) for _ in range(n)], dtype="str"),
            "dep": np.array([draw(floats) for _ in range(n)], dtype=np.float32),
            "n_words": np.array([draw(st.integers(0, 5)) for _ in range(n)], dtype=np.int64),
            "is_mislabeled": np.array([draw(st.booleans()) for _ in range(n)], dtype=bool),
        }
    )


def _condition(draw: st.DrawFn, column: str) -> object:
    other_kinds = st.sampled_from(["1", "true", 1, True, 0.5, None])  # values of another kind than the column's
    if column == "text":
        return draw(
            st.one_of(
                st.sampled_from(WORDS),
                st.lists(st.one_of(st.sampled_from(WORDS), other_kinds), max_size=3),
                st.builds(lambda s: {"contains": s}, st.sampled_from(["ref", "REF", "é", "", "set"])),
                st.builds(lambda s: {"regex": s}, st.sampled_from([r"^r", r"\bme\b", "[0-9]", "e$", "P.N", "^$"])),
                st.builds(lambda lo: {"min": lo}, st.sampled_from(["a", "p"])),
                other_kinds,
            )
        )
    if column == "dep":
        bound = st.one_of(st.none(), st.floats(-1, 2, allow_nan=False), st.sampled_from([0.1, -3e-99, 1e300]))
        return draw(
            st.one_of(
                st.builds(lambda lo, hi: {"min": lo, "max": hi}, bound, bound),
                st.lists(st.sampled_from([0.5, 0.1, 0.0, float("nan"), None, "0.5"]), max_size=3),
                st.sampled_from([0.0, 0.1, float("nan"), None]),
                other_kinds,
            )
        )
    if column == "n_words":
        return draw(
            st.one_of(
                st.integers(0, 5),
                st.lists(st.one_of(st.integers(0, 5), other_kinds), max_size=3),
                st.just({"max": 2}),
                st.just({"min": 1.5}),
                other_kinds,
            )
        )
    return draw(
        st.one_of(
            st.booleans(),
            st.lists(st.one_of(st.booleans(), other_kinds), max_size=2),
            other_kinds,
            st.just({"min": 0.5}),
        )
    )


@st.composite
def frames_and_filters(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, object]]:
    frame = _frame(draw)
    columns = draw(st.lists(st.sampled_from(list(frame.columns)), unique=True, max_size=3))
    return frame, {column: _condition(draw, column) for column in columns}


def _counted(frame: pd.DataFrame, sample_filter: dict[str, object]) -> int | None:
    try:
        return int(apply_filter(frame, sample_filter).sum())
    except (TypeError, ValidationError):  # pandas cannot compare a number column with text
        return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames_and_filters())
def test_a_filter_counts_the_same_rows_in_sql_over_the_file_as_in_the_frame(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[pd.DataFrame, dict[str, object]]
) -> None:
    """Over the split's Parquet file (what the pipeline queries: NaN stays NaN there), a filter
    selects what it selects in the frame; where the frame cannot apply it, SQL refuses it."""
    frame, sample_filter = case
    path = tmp_path_factory.mktemp("split") / "training.parquet"
    table = pa.Table.from_pandas(frame, preserve_index=False)  # NaN becomes null here ...
    nan_kept = pa.array(frame["dep"].to_numpy())  # ... and stays NaN as dq's frame file keeps it
    pq.write_table(table.set_column(table.schema.get_field_index("dep"), "dep", nan_kept), path)
    expected = _counted(frame, sample_filter)
    with SplitSQL(path) as samples:
        if expected is None:
            with pytest.raises(ValidationError):
                samples.count(sample_filter)
            return
        assert samples.count(sample_filter) == expected, sample_filter
        selected = frame.loc[apply_filter(frame, sample_filter), "dep"]
        expected_mean = selected[~np.isnan(selected)].astype(float).mean() if (~np.isnan(selected)).any() else None
        mean = samples.mean("dep", sample_filter)
        assert (mean is None) == (expected_mean is None)
        if mean is not None:
            assert mean == pytest.approx(expected_mean, rel=1e-6)


def test_over_a_parquet_file_only_the_named_columns_are_read(tmp_path: Path) -> None:
    frame = pd.DataFrame({"dep": [0.9, 0.1, np.nan], "dep_bucket": ["hard", "easy", "easy"], "text": ["a", "b", "c"]})
    path = tmp_path / "training.parquet"
    frame.to_parquet(path)
    with SplitSQL(path) as samples:
        assert samples.n_rows == 3 and samples.columns == ["dep", "dep_bucket", "text"]
        assert samples.count({"dep_bucket": "hard"}) == 1
        assert samples.count({"dep": {"min": 0.0}}) == 2  # NaN matches no range
        assert samples.mean("dep") == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("sample_filter", "message"),
    [
        ({"nope": 1}, "The filter names column 'nope', which the samples do not have (columns: text, dep)."),
        ({"dep": {"above": 1}}, "The filter on 'dep' must be a value, a list"),
        ({"text": {"regex": "(a+)+$(?!x)"}}, "The regex filter on 'text' must be a regular expression RE2 can run"),
    ],
)
def test_a_bad_filter_is_refused_in_one_line_as_the_frame_refuses_it(sample_filter: dict, message: str) -> None:
    frame = pd.DataFrame({"text": ["a"], "dep": [0.5]})
    with SplitSQL(frame) as samples, pytest.raises(ValidationError) as in_sql:
        samples.count(sample_filter)
    with pytest.raises(ValidationError) as in_frame:
        apply_filter(frame, sample_filter)
    assert str(in_sql.value) == str(in_frame.value) and str(in_sql.value).startswith(message)
    assert "\n" not in str(in_sql.value)


def test_a_column_name_cannot_break_out_of_its_quotes(tmp_path: Path) -> None:
    frame = pd.DataFrame({'x" OR 1=1 --': [True, False]})
    with SplitSQL(frame) as samples:
        assert samples.count({'x" OR 1=1 --': True}) == 1


def test_the_confusion_counted_in_sql_is_the_one_counted_in_numpy() -> None:
    rng = np.random.default_rng(0)
    names = ["billing", "delivery", "login", "refund"]
    labels, preds = rng.integers(-1, 4, 500), rng.integers(0, 4, 500)  # -1: no label (inference)
    frame = pd.DataFrame({"label": [names[i] if i >= 0 else None for i in labels], "pred": [names[i] for i in preds]})
    with SplitSQL(frame) as samples:
        cm, n_unlabeled = samples.confusion(names)
    assert (cm != sparse_confusion(labels, preds, len(names))).nnz == 0
    assert n_unlabeled == int((labels < 0).sum())
    report, summary = metrics_of_confusion(cm, names, n_unlabeled=n_unlabeled)
    pd.testing.assert_frame_equal(report, class_report(labels, preds, names))
    assert summary == summary_metrics(labels, preds, names)
    with SplitSQL(frame.assign(pred="parcel")) as samples, pytest.raises(ValueError, match="outside the run's classes"):
        samples.confusion(names)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.characters(codec="utf-8"), max_size=12)), max_size=20))
def test_words_are_counted_in_arrow_as_python_splits_them(texts: list[str | None]) -> None:
    from dq.insights.alerts import word_counts

    expected = [0 if t is None else len(t.split()) for t in texts]
    assert word_counts(pd.Series(texts, dtype=object)).tolist() == expected
    assert word_counts(pa.chunked_array([pa.array(texts, pa.large_string())])).tolist() == expected
