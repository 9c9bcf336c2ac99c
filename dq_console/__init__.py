"""UI pieces shared by the console's pages: session state, loaders, widgets. May import streamlit; dq never does."""
