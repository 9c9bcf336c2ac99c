"""Edits cart: the relabels, removals and text edits queued for this run (filled by the edits-cart work)."""

import streamlit as st

from app.picker import pick_run

run, split, insights = pick_run()
st.title("Edits cart")
st.info(
    "The edits cart is not built yet: relabelling, removing and editing samples, undo, and "
    "downloading the fixed dataset come with the edits-cart feature. Until then, export the "
    "insights with `dq insights RUN_DIR --split SPLIT --out insights.csv` and fix the data there."
)
