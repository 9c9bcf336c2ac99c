"""dq.insights.split_sql: a sample filter as SQL over a split's Parquet file means what apply_filter
means over the frame (property-tested), refuses what it refuses, and the split's alerts come from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
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
    if column == "text":
        return draw(
            st.one_of(
                st.sampled_from(WORDS),
                st.lists(st.sampled_from(WORDS), max_size=3),
                st.builds(lambda s: {"contains": s}, st.sampled_from(["ref", "REF", "é", "", "set"])),
                st.builds(lambda s: {"regex": s}, st.sampled_from([r"^r", r"\bme\b", "[0-9]", "e$", "P.N"])),
                st.builds(lambda lo: {"min": lo}, st.sampled_from(["a", "p"])),
            )
        )
    if column == "dep":
        bound = st.one_of(st.none(), st.floats(-1, 2, allow_nan=False))
        return draw(
            st.one_of(
                st.builds(lambda lo, hi: {"min": lo, "max": hi}, bound, bound),
                st.lists(st.sampled_from([0.5, float("nan")]), max_size=2),
            )
        )
    if column == "n_words":
        return draw(st.one_of(st.integers(0, 5), st.lists(st.integers(0, 5), max_size=3), st.just({"max": 2})))
    return draw(st.booleans())


@st.composite
def frames_and_filters(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, object]]:
    frame = _frame(draw)
    columns = draw(st.lists(st.sampled_from(list(frame.columns)), unique=True, max_size=3))
    return frame, {column: _condition(draw, column) for column in columns}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames_and_filters())
def test_a_filter_counts_the_same_rows_in_sql_as_in_the_frame(case: tuple[pd.DataFrame, dict[str, object]]) -> None:
    frame, sample_filter = case
    with SplitSQL(frame) as samples:
        assert samples.count(sample_filter) == int(apply_filter(frame, sample_filter).sum()), sample_filter
        selected = frame.loc[apply_filter(frame, sample_filter), "dep"]
        expected = selected[~np.isnan(selected)].astype(float).mean() if (~np.isnan(selected)).any() else None
        mean = samples.mean("dep", sample_filter)
        assert (mean is None) == (expected is None)
        if mean is not None:
            assert mean == pytest.approx(expected, rel=1e-6)


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
