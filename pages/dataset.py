"""Dataset: work in progress."""

import streamlit as st

from app.picker import pick_run
from app.state import sync_url

run, split, insights = pick_run()
st.title("Dataset")
st.write(f"{len(insights.frame):,} samples in {split}.")
sync_url()
