"""The Edits cart page's "Retrain and compare": retrain on the fixed data, compare before and after.

The retrain runs in a background thread of the server process (``dq_console.jobs.start_job``); a
fragment polls it once a second, so the rest of the page stays usable meanwhile.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dq.edits import EditsCart, run_key
from dq.edits.compare import compare
from dq.edits.retrain import retrain
from dq.store import Run
from dq_console.cart_view import auto_fix_choice, fixed_frame
from dq_console.jobs import get_job, job_progress, start_job
from dq_console.team import author

COMPARE_CONFIG = {
    "before": st.column_config.NumberColumn("Before", format="%.4f"),
    "after": st.column_config.NumberColumn("After (fixed data)", format="%.4f"),
    "change": st.column_config.NumberColumn("Change", format="%+.4f"),
    "change_low": st.column_config.NumberColumn(
        "95% interval from", format="%+.4f", help="Paired bootstrap over the split's rows: the change could be this low"
    ),
    "change_high": st.column_config.NumberColumn("to", format="%+.4f", help="... or this high"),
    "beyond_noise": st.column_config.CheckboxColumn(
        "Beyond noise", help="The 95% interval excludes 0: the change is unlikely to be chance"
    ),
}


def retrain_job_key(run: Run, split: str) -> str:
    """The key of the retrain of ``run``'s ``split`` in :mod:`dq_console.jobs` (one job per run and split)."""
    return f"{run.path}:{split}"


def _start_retrain(run: Run, split: str, mode: str | None, insights: pd.DataFrame | None) -> None:
    fixed = fixed_frame(run, split, mode, insights)
    key = retrain_job_key(run, split)
    start_job(key, retrain, run, fixed, split=split)
    # What the cart held when this retrain started: a result is stale once the cart moves on.
    st.session_state["retrain_cart"] = {**st.session_state["retrain_cart"], key: _cart_state(run, split, mode)}


def _cart_state(run: Run, split: str, mode: str | None) -> tuple[Any, ...]:
    return (*EditsCart().version(run_key(run), split), mode)


def retrain_section(run: Run, split: str) -> None:
    """Retrain on the fixed data in the background and compare the evaluation splits before/after."""
    st.subheader("Retrain and compare")
    evaluation = [s for s in run.splits if s in ("validation", "test")]
    if not evaluation:
        st.info("This run has no validation or test split to compare on; log one to see before/after metrics.")
    mode, flagged_at = auto_fix_choice(run, split, key="retrain_autofix", label="Train on")
    st.caption(
        "Retraining runs the `dq auto` pipeline (sentence embeddings, cross-fitted heads) on the fixed "
        f"{split} split and the run's other splits unchanged, into a new run of the same project."
    )
    job = get_job(retrain_job_key(run, split))
    running = job is not None and job.state == "running"
    st.button(
        "Retrain on the fixed data",
        icon=":material/model_training:",
        type="primary",
        disabled=running,
        on_click=_start_retrain,
        args=(run, split, mode, flagged_at),
        key="retrain_start",
        help=f"as {author()}",
    )
    if job is None:
        return
    if job.state == "running":
        job_progress(retrain_job_key(run, split), "Retraining")
    elif job.state == "failed":
        st.error(f"Retraining failed: {job.error}", icon=":material/error:")
    else:
        started = st.session_state["retrain_cart"].get(retrain_job_key(run, split))
        _job_result(run, job.result, stale=started is not None and started != _cart_state(run, split, mode))


@st.cache_data(show_spinner="Comparing the runs...", max_entries=16)
def _compare(before: str, before_hash: str, after: str, after_hash: str) -> pd.DataFrame:
    return compare(Run(before), Run(after))


def _job_result(run: Run, result: Any, *, stale: bool) -> None:
    after = Run(result.path)
    if stale:
        st.warning(
            "The cart (or the auto-fix choice) changed since this retrain: the result below is for the data as "
            "it was then. Retrain to see the effect of the current edits.",
            icon=":material/history:",
        )
    st.success(
        f"Retrained into run {after.project}/{after.name}"
        + (" (this fixed data was trained before: reused)" if result.reused else "")
        + ". It is listed in the run picker.",
        icon=":material/check_circle:",
    )
    table = _compare(str(run.path), run.content_hash, str(after.path), after.content_hash)
    if table.empty:
        st.caption("No validation or test split in both runs to compare on.")
        return
    st.caption(
        "The evaluation splits are not edited: both models are scored against the same labels. A change whose "
        "95% interval (paired bootstrap over the split's rows) holds 0 is within the noise of this split's size."
    )
    st.dataframe(table, hide_index=True, column_config=COMPARE_CONFIG)
