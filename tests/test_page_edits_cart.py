"""Fixing data in the console under AppTest, over a tiny logged run and a real SQLite cart: the
Dataset page's actions (on the filtered rows and on the opened sample) and the Edits cart page
(counts, the edit list, undo, retrain and compare)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import dq.client
from dq.edits import EditsCart, run_key
from dq.store import Run
from dq_console.cart import edit_marks
from dq_console.cart_view import AUTO_FIX, fixed_bytes
from dq_console.jobs import get_job
from dq_console.retrain_view import retrain_job_key
from tests.tiny_runs import LABELS, log_tiny_run

APP_SCRIPT = Path(__file__).resolve().parent.parent / "dq_console" / "streamlit_app.py"
RUN_TIMEOUT_S = 60
RETRAIN_TIMEOUT_S = 240


@pytest.fixture
def run(dq_home: Path) -> Run:
    log_tiny_run(dq_home)
    dq.client._current = None
    return Run(dq_home / "runs" / "tiny" / "r1")


def _dataset(**query: str) -> AppTest:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _cart_page() -> AppTest:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S)
    at.run()
    at.switch_page("pages/edits_cart.py").run()
    assert not at.exception, at.exception
    return at


def _table(at: AppTest):  # noqa: ANN202
    return at.dataframe[0].value


def test_remove_every_filtered_sample_marks_them_and_fills_the_cart(run: Run) -> None:
    at = _dataset(label="billing")
    n = len(_table(at))
    at.session_state["act_target"] = "filtered"
    at.session_state["act_action"] = "Remove"
    at.run()
    button = at.button(key="act_remove")
    assert button.label == f"Remove {n} samples"
    button.click().run()
    assert not at.exception, at.exception
    assert EditsCart().counts(run_key(run), "training")["remove"] == n
    assert set(_table(at)["edit"]) == {"removed"}


def test_relabel_filtered_to_a_chosen_label_then_undo_from_the_cart_page(run: Run) -> None:
    at = _dataset(label="billing")
    ids = set(_table(at)["id"])
    at.session_state["act_target"] = "filtered"
    at.session_state["act_action"] = "Change label"
    at.session_state["act_relabel_to"] = "login"
    at.run()
    at.button(key="act_relabel").click().run()
    active = EditsCart().active(run_key(run), "training")
    assert set(active["sample_id"]) == ids and set(active["new_value"]) == {"login"}
    assert set(_table(at)["edit"]) == {"→ login"}

    page = _cart_page()
    assert [m.value for m in page.metric] == [str(len(ids)), "0", "0", "0"]
    page.button(key="undo_all").click().run()
    assert not page.exception, page.exception
    assert EditsCart().counts(run_key(run), "training")["relabel"] == 0
    assert [m.value for m in page.metric] == ["0", "0", "0", "0"]
    assert len(EditsCart().history(run_key(run), "training")) == len(ids)  # the history keeps them


def test_find_and_replace_previews_then_applies(run: Run) -> None:
    at = _dataset(label="delivery")
    n = int(_table(at)["text"].str.contains("courier ").sum())  # flipped labels hold other topics' texts
    assert 0 < n < len(_table(at))
    at.session_state["act_target"] = "filtered"
    at.session_state["act_action"] = "Find & replace"
    at.session_state["act_find"] = r"courier (\w+)"
    at.session_state["act_replace"] = r"carrier \1"
    at.session_state["act_find_regex"] = True
    at.run()
    preview = at.dataframe[1].value
    assert len(preview) == min(n, 20)
    assert all("carrier arrive" in t and "courier" not in t for t in preview["new"])
    at.button(key="act_replace_go").click().run()
    assert EditsCart().counts(run_key(run), "training")["edit_text"] == n
    fixed = fixed_bytes(run, "training", None, "csv").decode()
    total = int(run.samples("training")["text"].str.contains("courier arrive").sum())
    assert fixed.count("carrier arrive") == n and fixed.count("courier arrive") == total - n


def test_a_bad_regex_says_so_in_one_line_and_stores_nothing(run: Run) -> None:
    at = _dataset()
    at.session_state["act_target"] = "filtered"
    at.session_state["act_action"] = "Find & replace"
    at.session_state["act_find"] = "(unclosed"
    at.session_state["act_find_regex"] = True
    at.run()
    assert not at.exception
    assert "regular expression RE2 can run" in at.error[0].value
    assert EditsCart().counts(run_key(run), "training") == {
        "relabel": 0,
        "remove": 0,
        "edit_text": 0,
        "send_to_labelers": 0,
    }


def test_the_opened_sample_can_be_relabeled_removed_and_edited(run: Run) -> None:
    at = _dataset()
    at.session_state["sample_id"] = 7  # a planted error: a delivery text labeled login
    at.run()
    at.selectbox(key="sample_relabel_to_7").set_value("billing")
    at.button(key="sample_relabel").click().run()
    at.text_area(key="sample_text_7").set_value("invoice charged twice")
    at.button(key="sample_text_save").click().run()
    assert not at.exception, at.exception
    active = EditsCart().active(run_key(run), "training")
    assert sorted(active["action"]) == ["edit_text", "relabel"]
    assert edit_marks(active) == {"7": "→ billing · text edited"}
    at.button(key="sample_remove").click().run()
    assert "removed" in edit_marks(EditsCart().active(run_key(run), "training"))["7"]


def test_undo_last_action_undoes_only_this_sessions_last_batch(run: Run) -> None:
    at = _dataset(label="login")
    at.session_state["act_target"] = "filtered"
    at.session_state["act_action"] = "Send to labelers"
    at.run()
    at.button(key="act_send").click().run()
    at.session_state["act_action"] = "Remove"
    at.run()
    at.button(key="act_remove").click().run()
    at.switch_page("pages/edits_cart.py").run()
    counts = EditsCart().counts(run_key(run), "training")
    assert counts["remove"] == counts["send_to_labelers"] > 0
    at.button(key="undo_last").click().run()
    counts = EditsCart().counts(run_key(run), "training")
    assert counts["remove"] == 0 and counts["send_to_labelers"] > 0


def test_retrain_and_compare_runs_in_the_background(run: Run) -> None:
    at = _dataset()
    at.session_state["sample_id"] = 14
    at.run()
    at.button(key="sample_remove").click().run()
    page = _cart_page()
    page.button(key="retrain_start").click().run()
    job = get_job(retrain_job_key(run, "training"))
    assert job is not None
    deadline = time.monotonic() + RETRAIN_TIMEOUT_S
    while job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job.state == "done", job.error
    assert job.fraction == 1.0
    page.run()
    assert not page.exception, page.exception
    after = Run(job.result.path)
    assert after.n_samples("training") == run.n_samples("training") - 1
    assert "14" not in set(after.samples("training")["id"].astype(str))
    compare = page.dataframe[-1].value
    assert list(compare.columns)[:5] == ["split", "metric", "before", "after", "change"]
    assert {"change_low", "change_high", "beyond_noise"} <= set(compare.columns)
    assert set(compare["split"]) == {"test"}
    assert set(LABELS) == set(after.labels)
    assert not [w for w in page.warning if "changed since this retrain" in w.value]
    # The cart moves on: the result on the page is marked as stale.
    at.session_state["sample_id"] = 15
    at.run()
    at.button(key="sample_remove").click().run()
    page.run()
    assert [w for w in page.warning if "changed since this retrain" in w.value]


def _auto_fix_choice_app(run_path: str) -> None:
    """A page holding only the cart's auto-fix choice; it keeps what the choice returns."""
    import streamlit as st

    from dq.store import Run
    from dq_console.cart_view import auto_fix_choice

    st.session_state["choice"] = auto_fix_choice(Run(run_path), "training", key="fix", label="Auto-fix")


def test_auto_fix_at_another_strictness_fixes_the_samples_flagged_at_it(run: Run) -> None:
    from dq.edits import fix
    from dq.insights import InsightSettings, split_insights

    remove = next(label for label, mode in AUTO_FIX.items() if mode == "remove")
    page = _cart_page()
    page.radio(key="cart_autofix").set_value(remove).run()
    page.select_slider(key="cart_autofix_strictness").set_value(0.0).run()
    assert not page.exception, page.exception

    at = AppTest.from_function(_auto_fix_choice_app, args=(str(run.path),), default_timeout=RUN_TIMEOUT_S)
    at.run()
    assert at.session_state["choice"] == (None, None)  # only the cart's edits
    at.radio(key="fix").set_value(remove).run()
    assert at.session_state["choice"] == ("remove", None)  # the default strictness: the split's own insights
    at.select_slider(key="fix_strictness").set_value(0.0).run()
    assert not at.exception, at.exception
    mode, flagged_at_0 = at.session_state["choice"]
    assert mode == "remove"
    expected = split_insights(run, "training", settings=InsightSettings(mislabel_strictness=0.0)).frame
    default = split_insights(run, "training").frame
    n_flagged = int(expected["is_mislabeled"].sum())
    assert flagged_at_0["is_mislabeled"].sum() == n_flagged >= default["is_mislabeled"].sum()
    assert n_flagged > 0
    kept = fix(run, "training", auto_fix="remove", insights=flagged_at_0).frame
    assert len(kept) == run.n_samples("training") - n_flagged
    assert fixed_bytes(run, "training", "remove", "csv", flagged_at_0).decode().count("\n") == len(kept) + 1
