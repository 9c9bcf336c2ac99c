"""dq studio's console: ``streamlit run streamlit_app.py``. Each screen is a file in ``pages/``."""

import streamlit as st

from app.state import init_state

st.set_page_config(page_title="dq studio", layout="wide")
init_state()
st.navigation([st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:", default=True)]).run()
