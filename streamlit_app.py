"""dq studio's console: ``streamlit run streamlit_app.py``. Each screen is a file in ``pages/``."""

import streamlit as st

from app.state import init_state

init_state()
page = st.navigation([
    st.Page("pages/dataset.py", title="Dataset", icon=":material/table_rows:", default=True),
    st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
    st.Page("pages/clusters.py", title="Clusters", icon=":material/bubble_chart:"),
    st.Page("pages/edits_cart.py", title="Edits cart", icon=":material/shopping_cart:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
])
st.set_page_config(page_title=f"{page.title} · dq studio", page_icon=":material/fact_check:", layout="wide")
page.run()
