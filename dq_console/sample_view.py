"""The sample opened from the Dataset table, in a panel at the right of the window (a dialog): its
full text, the actions that fix it, why it was flagged, its probabilities and its nearest neighbors
with their text, labels and DEP (the evidence), all visible without scrolling sideways.

The panel stays open while the user works in it (fixing the sample, opening a neighbor) and closes
when the user closes it or when the filters change so that the sample leaves the rows shown.

Everything that comes from the data (text, labels, ids) reaches the page as plain text: in
``st.code`` or in table cells, never through markdown.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dq._util.embs import as_embs
from dq.edits.model import EDIT_TEXT
from dq.insights import StoredSplit
from dq.insights.alerts import AlertThresholds
from dq.insights.compute import read_embs
from dq.insights.neighbors import knn_of_row
from dq.insights.settings import InsightSettings
from dq.insights.split_rows import SplitRows
from dq.store import Run
from dq_console.actions import sample_actions
from dq_console.cart import edit_marks, others_changes
from dq_console.filter_bar import escape_markdown
from dq_console.state import close_sample
from dq_console.table import FLAGS, flags_text
from dq_console.team import author, may_edit

#: Neighbors listed for the opened sample.
N_NEIGHBORS = 10
#: Classes listed in the probability table.
TOP_CLASSES = 5
#: Pixel width of the side panel: wide enough for the neighbors' text and labels, narrow enough
#: that the table's DEP and text stay visible beside it in a 1400-pixel window.
PANEL_PX = 900
_THRESHOLDS = AlertThresholds()

PROBS_CONFIG = {
    "class": st.column_config.TextColumn("Class", width=150),
    "probability": st.column_config.ProgressColumn(
        "Probability", min_value=0.0, max_value=1.0, format="%.3f", width=85
    ),
    "role": st.column_config.TextColumn("Is", width=135),
}
NEIGHBORS_CONFIG = {
    "dep": st.column_config.ProgressColumn("DEP", min_value=0.0, max_value=1.0, format="%.2f", width=64),
    "text": st.column_config.TextColumn("Text", width=330),
    "label": st.column_config.TextColumn("Ground truth", width=135),
    "pred": st.column_config.TextColumn("Prediction", width=135),
    "similarity": st.column_config.NumberColumn(
        "Similarity", format="%.3f", width=75, help="Cosine similarity of the embeddings"
    ),
    "flags": st.column_config.TextColumn("Flags", width=160),
}


@st.cache_resource(show_spinner="Loading embeddings (once per run and split)...", max_entries=4)
def load_embs(path: str, content_hash: str, split: str) -> np.ndarray:
    """(n, d) unit-length embeddings of ``split`` in row order: float32, or float16 for a split as
    large as the insights read in float16 (``read_embs``: 3.6 GiB instead of 7.2 at 5M x 384)."""
    return as_embs(read_embs(Run(path), split, InsightSettings()), param="embs")


def nearest(run: Run, split: str, samples: SplitRows, row: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows and similarities of the :data:`N_NEIGHBORS` samples of the split nearest to ``row``:
    those the insights found and keep (read for this row only), or, for insights cached before they
    were kept, an exact search over the split's embeddings."""
    stored = samples.neighbors()
    if stored is not None:
        record = stored[row]
        keep = record["row"] >= 0
        return np.asarray(record["row"][keep][:N_NEIGHBORS], dtype=np.int64), np.asarray(
            record["sim"][keep][:N_NEIGHBORS]
        )
    nbrs = knn_of_row(load_embs(str(run.path), run.content_hash, split), row, k=N_NEIGHBORS)
    return nbrs.idx[0], nbrs.sims[0]


def top_classes(probs: np.ndarray, labels: list[str], sample: pd.Series, k: int = TOP_CLASSES) -> pd.DataFrame:
    """The ``k`` likeliest classes of a sample, with which is its ground truth / prediction / suggestion;
    the ground truth is always listed, even when unlikely."""
    order = list(np.argsort(-probs, kind="stable")[:k])
    if sample["label"] in labels and labels.index(sample["label"]) not in order:
        order.append(labels.index(sample["label"]))
    roles = {"label": "ground truth", "pred": "predicted", "suggested_label": "suggested"}
    return pd.DataFrame(
        {
            "class": [labels[i] for i in order],
            "probability": [float(probs[i]) for i in order],
            "role": [", ".join(r for col, r in roles.items() if sample.get(col) == labels[i]) for i in order],
        }
    )


def reasons(sample: pd.Series, samples: SplitRows, dep_thresholds: dict[str, float]) -> list[tuple[str, str]]:
    """Why the sample was flagged: (signal, explanation) for each raised signal, DEP first (always there)."""
    hard = dep_thresholds.get("hard", 1.0)
    hard_from = f"hard from {hard:.2f}" if math.isfinite(hard) else "no sample of this split is hard"
    rows = [
        (
            "DEP",
            f"{sample['dep']:.2f}, in the {sample['dep_bucket']} bucket ({hard_from}); "
            f"P(label wrong) {sample['p_wrong']:.2f}",
        )
    ]
    if sample["is_mislabeled"]:
        suggested = sample["suggested_label"]
        rows.append(
            (
                "likely mislabeled",
                "among the likeliest label errors of the split; suggested label: "
                + (str(suggested) if isinstance(suggested, str) else "none with confidence"),
            )
        )
    if sample["is_misclassified"]:
        rows.append(
            (
                "misclassified",
                f"the model predicts {sample['pred']!r} ({sample['confidence']:.2f}), not {sample['label']!r}",
            )
        )
    if sample["is_near_duplicate"]:
        group = samples.select({"dup_group": [int(sample["dup_group"])]}).frame(["label"])["label"]
        kind = "conflicting duplicate" if sample["is_conflicting_duplicate"] else "near duplicate"
        rows.append(
            (
                kind,
                f"{len(group) - 1} other near-duplicate sample(s), labeled "
                + ", ".join(sorted(map(str, group.dropna().unique()))),
            )
        )
    if sample.get("is_out_of_coverage", False):
        rows.append(("out of coverage", "farther from the training data than the training outliers are"))
    if sample["is_outlier"]:
        rows.append(("outlier", f"few similar samples around it (outlier score {sample['outlier_score']:.2f})"))
    if sample["is_on_boundary"]:
        rows.append(("on boundary", f"top two classes nearly tied (confidence {sample['confidence']:.2f})"))
    words = int(sample["n_words"])
    if words <= _THRESHOLDS.short_words:
        rows.append(("short text", f"{words} word(s)"))
    elif words >= _THRESHOLDS.long_words:
        rows.append(("long text", f"{words} words: the embedding model truncates it"))
    return rows


def neighbors_table(near: pd.DataFrame, sims: np.ndarray) -> pd.DataFrame:
    """The neighbors' DEP, text, labels, similarity and flags (``near``: their rows, nearest first)."""
    return pd.DataFrame(
        {
            "dep": near["dep"].astype(float).to_numpy(),
            "text": near["text"].to_numpy(),
            "label": near["label"].to_numpy(),
            "pred": near["pred"].to_numpy(),
            "similarity": sims.astype(float),
            "flags": flags_text(near).to_numpy(),
        }
    )


def close_if_left(view: str, shown_ids: np.ndarray) -> None:
    """Close the panel when the filters changed since the sample was opened and no longer show it."""
    sample_id = st.session_state["sample_id"]
    if sample_id is None or st.session_state.get("sample_view") == view:
        return
    if not (shown_ids == sample_id).any():
        close_sample()
    else:
        st.session_state["sample_view"] = view


def _open_neighbor(key: str, ids: list[Any]) -> None:
    chosen = st.session_state[key].selection.rows
    if chosen:
        st.session_state["sample_id"] = ids[chosen[0]]


def _acted() -> None:
    st.session_state["sample_acted"] = True


def sample_panel(run: Run, split: str, insights: StoredSplit, *, active: pd.DataFrame | None = None) -> None:
    """Open the panel of the sample in session key ``sample_id`` (nothing when none is open or it is
    not one of the split's), with what the edits cart does to it (``active``: the split's active
    edits) and the actions to fix it."""
    sample_id = st.session_state["sample_id"]
    if sample_id is None:
        return
    if insights.samples.position_of(sample_id) is None:
        close_sample()
        return
    title = f"Sample {escape_markdown(str(sample_id))}"
    panel = st.dialog(title, width=PANEL_PX, position="right", on_dismiss=close_sample)(_sample_body)
    panel(run, split, insights, sample_id, active)


def _sample_body(run: Run, split: str, insights: StoredSplit, opened: Any, active: pd.DataFrame | None) -> None:
    # The panel reruns alone (a dialog is a fragment): after a fix or another opened sample, the whole
    # page reruns, so that the table shows the cart's change and the panel's title the new sample.
    if st.session_state.pop("sample_acted", False) or st.session_state["sample_id"] != opened:
        st.rerun()
    sample_view(run, split, insights, opened, active=active)


def sample_view(
    run: Run, split: str, insights: StoredSplit, sample_id: Any, *, active: pd.DataFrame | None = None
) -> None:
    """Show the sample ``sample_id`` of ``split``, with what the edits cart does to it (``active``:
    the split's active edits) and the actions to fix it."""
    samples = insights.samples
    row = samples.position_of(sample_id)
    if row is None:  # not one of the split's samples (sample_panel checked; a rebuilt run meanwhile)
        return
    sample = samples.take([row]).iloc[0]
    with st.container():
        st.code(sample["text"], language=None, wrap_lines=True)
        mine = active[active["sample_id"] == str(sample_id)] if active is not None else None
        if mine is not None and len(mine):
            edited = mine.loc[mine["action"] == EDIT_TEXT, "new_value"]
            text_now = str(edited.iloc[-1]) if len(edited) else str(sample["text"])
            if len(edited):
                st.caption("Text in the edits cart:")
                st.code(text_now, language=None, wrap_lines=True)
            mark = edit_marks(mine).get(str(sample_id))
            for line in others_changes(mine, author()):
                st.caption(line)  # a caption draws markdown: the e-mail and label are escaped in the line
        else:
            text_now, mark = str(sample["text"]), None
        if may_edit(run.project):
            sample_actions(run, split, sample, mark, text_now, on_done=_acted)
        elif mark:
            st.caption(f"In the edits cart: {escape_markdown(mark)}")
        why_col, probs_col = st.columns([4, 5], gap="medium")
        with why_col:
            st.markdown("**Why it was flagged**")
            found_reasons = reasons(sample, samples, insights.summary.get("dep_thresholds", {}))
            # Labels quoted in the reasons come from the data: escaped, so they show literally.
            st.markdown("\n".join(f"- **{signal}**: {escape_markdown(detail)}" for signal, detail in found_reasons))
        with probs_col:
            st.markdown("**Probabilities**")
            st.dataframe(
                top_classes(np.asarray(sample["probs"]), run.labels, sample),
                hide_index=True,
                column_config=PROBS_CONFIG,
            )
        st.markdown("**Nearest neighbors** (the most similar samples of the split: their labels are the evidence)")
        rows, sims = nearest(run, split, samples, row)
        key = f"neighbors_{split}_{sample_id}"
        near = samples.take(rows, ["id", "text", "label", "pred", "dep", *(column for column, _ in FLAGS)])
        st.dataframe(
            neighbors_table(near, sims),
            hide_index=True,
            column_config=NEIGHBORS_CONFIG,
            key=key,
            on_select=partial(_open_neighbor, key, near["id"].tolist()),
            selection_mode="single-row",
        )
        head, close = st.columns([4, 1], vertical_alignment="center")
        head.caption("Select a neighbor to open it.")
        close.button("Close", icon=":material/close:", on_click=close_sample, key="close_sample", width="stretch")
