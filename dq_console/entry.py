"""The console's entry: the menu of screens; ``streamlit_app.py`` (installed and in a checkout) calls :func:`main`."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dq_console.state import init_state, show_notices
from dq_console.team import gate, is_admin_somewhere, may_build_runs

#: Less empty room above each screen than Streamlit's default (6rem): the table starts higher.
PAGE_STYLE = "<style>[data-testid='stMainBlockContainer'] { padding-top: 2.5rem; }</style>"
#: The screens, one file each; absolute, so any entry script (installed or a checkout's) finds them.
PAGES = Path(__file__).resolve().parent / "pages"


def page_path(name: str) -> Path:
    """The file of the screen ``name`` (``"dataset"``), for ``st.switch_page`` and ``st.page_link``."""
    return PAGES / f"{name}.py"


def main() -> None:
    """Draw the menu and run the chosen screen (Streamlit reruns this on every interaction)."""
    init_state()
    gate()  # with sign-in on: the sign-in or no-access page, and nothing else, unless granted
    page = st.navigation(
        [
            st.Page(page_path("dataset"), title="Dataset", icon=":material/table_rows:", default=True),
            st.Page(page_path("embeddings"), title="Embeddings", icon=":material/scatter_plot:"),
            st.Page(page_path("clusters"), title="Clusters", icon=":material/bubble_chart:"),
            st.Page(page_path("edits_cart"), title="Edits cart", icon=":material/shopping_cart:"),
            st.Page(page_path("runs"), title="Runs", icon=":material/folder_open:"),
            *([st.Page(page_path("upload"), title="Upload", icon=":material/upload:")] if may_build_runs() else []),
            *([st.Page(page_path("team"), title="Team", icon=":material/group:")] if is_admin_somewhere() else []),
        ]
    )
    st.set_page_config(page_title=f"{page.title} · dq studio", page_icon=":material/fact_check:", layout="wide")
    st.html(PAGE_STYLE)  # a style only: Streamlit adds no room for it
    show_notices()
    page.run()
