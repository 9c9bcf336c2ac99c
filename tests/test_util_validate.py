"""dq._util.validate: each input check, what it accepts (and returns) and each refusal's message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dq._util.embs import NORM_TOLERANCE, as_embs
from dq._util.validate import (
    as_bools,
    as_class_indices,
    as_floats,
    as_ids,
    as_labels_list,
    as_matrix,
    as_non_negative_int,
    as_optional_positive_int,
    as_positive_int,
    as_texts,
    check_probs,
    check_same_length,
    duplicated,
    examples,
    is_int,
    softmax,
)
from dq.config import CONFIG, UNLABELED
from dq.errors import ValidationError

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
#: Embedding entries: zero, or large enough that a row's float32 squared norm cannot underflow to 0.
entries = st.one_of(st.just(0.0), st.floats(1e-3, 1e6), st.floats(-1e6, -1e-3))


# ---------------------------------------------------------------- messages
def test_examples_quote_strings_and_stop_at_the_limit() -> None:
    assert examples(["a", 1, 2.5]) == "'a', 1, 2.5"
    assert examples(range(10), limit=3) == "0, 1, 2, ..."
    assert examples(range(CONFIG.error_examples)) == ", ".join(map(str, range(CONFIG.error_examples)))
    assert examples([]) == ""


def test_duplicated_lists_each_repeated_value_once_in_first_seen_order() -> None:
    assert duplicated(np.array([3, 1, 3, 2, 1, 3])) == [3, 1]
    assert duplicated(np.array(["b", "a", "b"], dtype=object)) == ["b"]
    assert duplicated(np.array([1, 2, 3])) == []


# ---------------------------------------------------------------- texts, ids, labels
def test_texts_from_any_sequence() -> None:
    assert as_texts(("a", "b")) == ["a", "b"]
    assert as_texts(np.array(["a", "b"])) == ["a", "b"]
    assert as_texts(pd.Series(["x", ""])) == ["x", ""]
    assert as_texts(t for t in "ab") == ["a", "b"]


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        (None, r"'texts' parameter must be a sequence \(list, array, Series\)\. Got NoneType instead"),
        ("one text", r"'texts'.*sequence.*Got str instead"),
        (b"bytes", r"'texts'.*sequence.*Got bytes instead"),
        ({"a": 1}, r"'texts'.*sequence.*Got dict instead"),
        (5, r"'texts'.*sequence.*Got int instead"),
        (["a", 1, "b", None], r"'texts' parameter must hold only strings\. Got int at positions 1, 3 instead"),
    ],
)
def test_texts_refusals(value: object, pattern: str) -> None:
    with pytest.raises(ValidationError, match=pattern):
        as_texts(value)


def test_ids_are_int64_or_str_and_say_which() -> None:
    arr, kind = as_ids([3, np.int32(1), 2])
    assert kind == "int" and arr.dtype == np.int64 and arr.tolist() == [3, 1, 2]
    arr, kind = as_ids(["b", "a"], id_type="str")
    assert kind == "str" and arr.dtype == object and arr.tolist() == ["b", "a"]
    assert as_ids([], id_type="str")[0].size == 0  # nothing logged yet: no type to disagree with


@pytest.mark.parametrize(
    ("value", "id_type", "pattern"),
    [
        ([1, "b"], None, r"'ids' parameter must hold only integers or only strings\. Got 1, 'b' instead"),
        ([1, 2.5], None, r"'ids'.*only integers or only strings\. Got 2\.5 instead"),
        ([True, 1], None, r"'ids'.*Got True instead"),
        (["a"], "int", r"'ids' parameter must hold int ids like the rest of this run\. Got str ids instead"),
        ([7], "str", r"'ids'.*must hold str ids.*Got int ids instead"),
        ("abc", None, r"'ids'.*sequence.*Got str instead"),
    ],
)
def test_ids_refusals(value: object, id_type: str | None, pattern: str) -> None:
    with pytest.raises(ValidationError, match=pattern):
        as_ids(value, id_type=id_type)


@settings(max_examples=50, deadline=None)
@given(st.one_of(st.lists(st.integers(-(2**62), 2**62)), st.lists(st.text())))
def test_ids_round_trip(values: list) -> None:
    arr, kind = as_ids(values)
    assert arr.tolist() == values
    assert kind == ("str" if values and isinstance(values[0], str) else "int")


def test_labels_list_turns_names_into_strings() -> None:
    assert as_labels_list(["neg", "pos"]) == ["neg", "pos"]
    assert as_labels_list(np.array([0, 1, 2])) == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        (["only"], r"'labels' parameter must list at least 2 classes in model output order\. Got 1 instead"),
        ([], r"at least 2 classes.*Got 0 instead"),
        (["a", "b", "a", 1, "1"], r"'labels' parameter must list each class once\. Got duplicates 'a', '1' instead"),
        ("ab", r"'labels'.*sequence.*Got str instead"),
    ],
)
def test_labels_list_refusals(value: object, pattern: str) -> None:
    with pytest.raises(ValidationError, match=pattern):
        as_labels_list(value)


def test_same_length_names_both_arguments() -> None:
    check_same_length("labels", [1, 2], 2, other="texts")
    with pytest.raises(
        ValidationError, match=r"'labels' parameter must have one value per entry of 'texts' \(3\)\. Got 2"
    ):
        check_same_length("labels", [1, 2], 3, other="texts")


# ---------------------------------------------------------------- integers
@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, True), (0, True), (-2, True), (np.int64(3), True), (np.uint8(3), True)]
    + [(True, False), (np.bool_(True), False), (3.0, False), ("3", False), (None, False)],
)
def test_is_int(value: object, expected: bool) -> None:
    assert is_int(value) is expected


def test_integer_checks_return_plain_ints() -> None:
    assert as_positive_int(np.int64(3), param="top") == 3 and type(as_positive_int(np.int64(3), param="top")) is int
    assert as_optional_positive_int(None, param="top") is None
    assert as_optional_positive_int(2, param="top") == 2
    assert as_non_negative_int(0, param="epoch") == 0
    assert type(as_non_negative_int(np.int32(4), param="epoch")) is int


@pytest.mark.parametrize("value", [0, -1, True, 1.0, "3", None])
def test_positive_int_refusals(value: object) -> None:
    with pytest.raises(ValidationError, match=rf"The 'top' parameter must be an integer >= 1\. Got {value!r} instead"):
        as_positive_int(value, param="top")


def test_positive_int_names_its_owner() -> None:
    with pytest.raises(
        ValidationError, match=r"The 'n' parameter of dq\.thing must be an integer >= 1\. Got 0 instead"
    ):
        as_positive_int(0, param="n", owner="dq.thing")


@pytest.mark.parametrize("value", [0, -3, False, 2.5])
def test_optional_positive_int_refusals(value: object) -> None:
    with pytest.raises(ValidationError, match=rf"'top' parameter must be None or an integer >= 1\. Got {value!r}"):
        as_optional_positive_int(value, param="top")


@pytest.mark.parametrize("value", [-1, True, 2.0, "0"])
def test_non_negative_int_refusals(value: object) -> None:
    with pytest.raises(ValidationError, match=rf"'epoch' parameter must be an integer >= 0\. Got {value!r} instead"):
        as_non_negative_int(value, param="epoch")


# ---------------------------------------------------------------- matrices and probabilities
def test_matrix_keeps_float32_and_reads_the_rest_as_float64() -> None:
    f32 = np.ones((2, 3), dtype=np.float32)
    assert as_matrix(f32, param="embs").dtype == np.float32
    assert as_matrix([[1, 2], [3, 4]], param="probs", n_rows=2, n_cols=2).dtype == np.float64
    # Finite values whose float64 total overflows are still finite values.
    with np.errstate(over="ignore"):
        assert as_matrix([[1e308, 1e308]], param="x").shape == (1, 2)


@pytest.mark.parametrize(
    ("value", "kw", "pattern"),
    [
        ([["a", "b"]], {}, r"'m' parameter must be a 2-D array of numbers\. Got list that cannot be read as numbers"),
        ([1.0, 2.0], {}, r"'m' parameter must be a 2-D array of shape \(n_rows, n\)\. Got an array with shape \(2,\)"),
        ([1.0, 2.0], {"n_rows": 2, "n_cols": 3}, r"shape \(2, 3\)\. Got an array with shape \(2,\)"),
        (
            [[1.0]],
            {"n_rows": 2, "rows_of": "sample"},
            r"'m' parameter must have one row per sample \(2 rows\)\. Got 1 rows",
        ),
        (
            [[1.0]],
            {"n_cols": 3, "cols_hint": " (one per label)"},
            r"'m' parameter must have 3 columns \(one per label\)\. Got 1",
        ),
        (
            [[np.nan, 0.0], [1.0, 1.0], [0.0, np.inf]],
            {},
            r"'m' parameter must hold only finite numbers\. Got NaN or inf in 2 rows \(positions 0, 2\) instead",
        ),
    ],
)
def test_matrix_refusals(value: object, kw: dict, pattern: str) -> None:
    with pytest.raises(ValidationError, match=pattern):
        as_matrix(value, param="m", **kw)


def test_probability_rows_are_accepted_within_the_tolerance() -> None:
    check_probs(np.array([[0.5, 0.5], [1.0, 0.0]]))
    check_probs(np.array([[0.5, 0.5 + CONFIG.probs_sum_atol / 2]]))
    check_probs(np.zeros((0, 3)))


@pytest.mark.parametrize(
    ("rows", "positions", "first_sum"),
    [
        ([[0.5, 0.5], [0.2, 0.2]], "1", "0.4"),  # does not sum to 1
        ([[0.5, 0.5], [1.5, -0.5], [0.1, 0.1]], "1, 2", "1"),  # sums to 1, entries outside [0, 1]
        ([[0.9, 0.3], [0.5, 0.5]], "0", "1.2"),
    ],
)
def test_probability_refusal_points_at_the_rows(rows: list, positions: str, first_sum: str) -> None:
    with pytest.raises(
        ValidationError,
        match=rf"'probs' parameter must hold probabilities \(each row in \[0, 1\], summing to 1\)\. "
        rf"Got rows at positions {positions} \(first sums to {first_sum}\) instead; pass raw scores as logits=",
    ):
        check_probs(np.array(rows))


def test_probability_tolerance_is_a_parameter() -> None:
    check_probs(np.array([[0.5, 0.52]]), atol=0.05)
    with pytest.raises(ValidationError, match="'p' parameter"):
        check_probs(np.array([[0.5, 0.52]]), param="p", atol=0.01)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(finite, min_size=3, max_size=3), min_size=1, max_size=10), finite)
def test_softmax_gives_probabilities_whatever_the_shift(rows: list, shift: float) -> None:
    logits = np.array(rows)
    probs = softmax(logits)
    check_probs(probs, atol=1e-9)
    np.testing.assert_allclose(softmax(logits + shift), probs, atol=1e-9)
    # The most probable class has the largest logit (up to ties too close for the exponential to see).
    np.testing.assert_allclose(logits[np.arange(len(logits)), probs.argmax(axis=1)], logits.max(axis=1), atol=1e-9)


# ---------------------------------------------------------------- class indices
def test_class_indices_accept_whole_floats_and_unlabeled_when_allowed() -> None:
    got = as_class_indices(np.array([0.0, 2.0, -1.0]), param="labels", n_classes=3, allow_unlabeled=True)
    assert got.dtype == np.int64 and got.tolist() == [0, 2, -1]
    assert as_class_indices([], param="labels", n_classes=3, allow_unlabeled=False).dtype == np.int64


@pytest.mark.parametrize(
    ("value", "allow_unlabeled", "pattern"),
    [
        (
            [[0, 1]],
            False,
            r"'labels' parameter must be a 1-D sequence of class indices\. Got an array with shape \(1, 2\)",
        ),
        ([0, 1.5, np.nan], False, r"'labels' parameter must hold whole-number class indices\. Got 1\.5, nan instead"),
        (
            ["a", "b"],
            False,
            r"'labels' parameter must hold integer class indices \(0 \.\. n_classes - 1\)\. Got values of type <U1",
        ),
        ([[0], [1, 2]], False, r"integer class indices.*Got values of type object"),
        ([0, 3, 5, 3], False, r"'labels' parameter must hold class indices 0 \.\. 2\. Got 3, 5 instead"),
        ([0, UNLABELED], False, r"must hold class indices 0 \.\. 2\. Got -1 instead"),
        (
            [0, -2, 4],
            True,
            r"'labels' parameter must hold -1 \(unlabeled\) or class indices 0 \.\. 2\. Got -2, 4 instead",
        ),
    ],
)
def test_class_indices_refusals(value: object, allow_unlabeled: bool, pattern: str) -> None:
    with pytest.raises(ValidationError, match=pattern):
        as_class_indices(value, param="labels", n_classes=3, allow_unlabeled=allow_unlabeled)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10).flatmap(lambda c: st.tuples(st.just(c), st.lists(st.integers(UNLABELED, c - 1)))))
def test_class_indices_round_trip(case: tuple[int, list[int]]) -> None:
    n_classes, values = case
    assert as_class_indices(values, param="labels", n_classes=n_classes, allow_unlabeled=True).tolist() == values
    as_floats_too = np.array(values, dtype=np.float64)
    assert as_class_indices(as_floats_too, param="labels", n_classes=n_classes, allow_unlabeled=True).tolist() == values


# ---------------------------------------------------------------- embeddings
@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(entries, min_size=4, max_size=4), min_size=1, max_size=12))
def test_embeddings_come_back_unit_length_or_zero_and_normalizing_twice_changes_nothing(rows: list) -> None:
    given_rows = np.array(rows)
    before = given_rows.copy()
    embs = as_embs(given_rows, param="embs")
    assert embs.dtype == np.float32 and embs.flags.c_contiguous and embs.shape == given_rows.shape
    norms = np.linalg.norm(embs.astype(np.float64), axis=1)
    zero = ~np.any(given_rows.astype(np.float32), axis=1)
    np.testing.assert_allclose(norms[~zero], 1, atol=NORM_TOLERANCE)
    assert np.all(norms[zero] == 0)
    np.testing.assert_allclose(as_embs(embs, param="embs"), embs, atol=1e-6)
    np.testing.assert_array_equal(given_rows, before)


def test_embeddings_copy_only_when_needed_and_never_change_the_callers_array() -> None:
    unit = np.ascontiguousarray(np.eye(3, dtype=np.float32))
    assert as_embs(unit, param="embs") is unit  # nothing to convert or normalize
    scaled = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    out = as_embs(scaled, param="embs")
    assert not np.shares_memory(out, scaled)
    assert scaled.tolist() == [[3.0, 4.0], [0.0, 0.0]]
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_embeddings_whose_float32_squares_overflow_are_still_normalized() -> None:
    out = as_embs(np.array([[1e20, 1e20]], dtype=np.float32), param="embs")
    np.testing.assert_allclose(out, [[2**-0.5, 2**-0.5]], rtol=1e-6)


@pytest.mark.parametrize(
    ("value", "dim", "pattern"),
    [
        (
            [1.0, 2.0],
            None,
            r"'embs' parameter must be a 2-D numeric array of shape \(n, d\)\. Got float64 with shape \(2,\)",
        ),
        ([["a", "b"]], None, r"'embs'.*2-D numeric array.*Got <U1 with shape \(1, 2\)"),
        (np.ones((2, 3)), 4, r"'embs'.*shape \(n, 4\)\. Got float64 with shape \(2, 3\)"),
        (
            [[0.0, np.nan], [1.0, 0.0], [np.inf, 0.0]],
            None,
            r"'embs' parameter must hold only finite numbers\. Got NaN or inf in 2 rows \(positions 0, 2\)",
        ),
        ([[1e300, 0.0]], None, r"'embs'.*only finite numbers.*1 rows \(positions 0\)"),  # beyond float32
    ],
)
def test_embedding_refusals(value: object, dim: int | None, pattern: str) -> None:
    with pytest.raises(ValidationError, match=pattern), np.errstate(over="ignore"):  # 1e300 to float32
        as_embs(value, param="embs", dim=dim)


# ---------------------------------------------------------------- per-sample floats and booleans
def test_floats_and_bools_per_sample() -> None:
    assert as_floats([1, 2.5, True], param="dep", n=3, other="texts").dtype == np.float64
    assert as_bools([1, 0, 1], param="flag", n=3, other="texts").tolist() == [True, False, True]
    assert as_bools(np.array([True, False]), param="flag", n=2, other="texts").dtype == bool


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ([0.1, np.nan], r"'dep' parameter must be a 1-D array of finite numbers\. Got float64 with shape \(2,\)"),
        ([[0.1, 0.2]], r"'dep'.*1-D array of finite numbers.*shape \(1, 2\)"),
        (["a", "b"], r"'dep'.*Got <U1 with shape \(2,\)"),
        ([0.1, 0.2, 0.3], r"'dep' parameter must have one value per entry of 'texts' \(2\)\. Got 3 instead"),
    ],
)
def test_floats_refusals(value: object, pattern: str) -> None:
    with pytest.raises(ValidationError, match=pattern):
        as_floats(value, param="dep", n=2, other="texts")


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ([0, 2], r"'flag' parameter must be a 1-D array of booleans\. Got int64 with shape \(2,\)"),
        ([0.0, 1.0], r"'flag'.*booleans\. Got float64"),
        ([[True, False]], r"'flag'.*booleans.*shape \(1, 2\)"),
        ([True], r"'flag' parameter must have one value per entry of 'texts' \(2\)\. Got 1 instead"),
    ],
)
def test_bools_refusals(value: object, pattern: str) -> None:
    with pytest.raises(ValidationError, match=pattern):
        as_bools(value, param="flag", n=2, other="texts")
