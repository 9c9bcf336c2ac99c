"""dq studio's console from a checkout: ``streamlit run streamlit_app.py`` (installed: ``dq console``)."""

from dq_console.entry import main

main()
