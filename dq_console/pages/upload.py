"""Upload: a dataset file (CSV, TSV, JSONL, Parquet) and its columns → ``dq auto`` in the background,
with progress → a new run in the chosen project. The file is checked with the CLI's reader (the
same one-line errors) before anything is kept; the run appears only once it is whole. In a team's
console only editors see this page, and the library refuses anyone else anyway."""

from pathlib import Path

import pandas as pd
import streamlit as st

from dq.auto.fileformats import SUPPORTED_SUFFIXES
from dq.auto.pipeline import AutoSettings
from dq.auto.upload import build_upload, preview, save_upload
from dq.errors import DQError
from dq.store import list_runs
from dq_console.entry import page_path
from dq_console.jobs import get_job, job_progress, start_job
from dq_console.picker import choose_run
from dq_console.state import require_entry_script
from dq_console.team import author, require_visitor, upload_projects

NEW_PROJECT = "New project..."
NONE = "(none)"


@st.cache_resource(show_spinner="Checking the file...", max_entries=4)
def _kept(file_id: str, name: str, max_bytes: int, _data: bytes) -> tuple[Path, list[str]]:
    """The upload checked and kept once per uploaded file (every click reruns the page)."""
    return save_upload(_data, name, max_bytes=max_bytes)


@st.cache_data(show_spinner=False, max_entries=4)
def _first_rows(path: str) -> pd.DataFrame:
    return preview(Path(path))


require_entry_script()
require_visitor()
st.title("Upload a dataset")
max_mb = int(st.get_option("server.maxUploadSize"))
st.caption(
    f"A CSV, TSV, JSON Lines or Parquet file of up to {max_mb} MB with a text column and a label column. dq auto "
    "embeds the texts, trains cross-fitted models and logs a run you can then review like any other."
)
projects, may_start = upload_projects([e.project for e in list_runs()])
if not projects and not may_start:
    st.info("Building runs needs the editor role in a project; ask an admin for one.", icon=":material/block:")
    st.stop()

file = st.file_uploader("Dataset file", type=[s.lstrip(".") for s in SUPPORTED_SUFFIXES], key="upload_file")
if file is None:
    st.stop()
try:
    path, columns = _kept(file.file_id, file.name, max_mb * 1024**2, file.getvalue())
except DQError as exc:  # the same one line as dq auto on the command line
    st.error(str(exc), icon=":material/error:")
    st.stop()
st.caption(f"The first rows of {file.name} ({len(columns)} columns):")
st.dataframe(_first_rows(str(path)), hide_index=True)


def _guess(*names: str) -> int:
    lowered = [c.lower() for c in columns]
    return next((lowered.index(n) for n in names if n in lowered), 0)


text_col, label_col, id_col, split_col = st.columns(4)
text = text_col.selectbox("Text column", columns, index=_guess("text", "sentence", "review", "utterance"))
label = label_col.selectbox("Label column", columns, index=_guess("label", "labels", "category", "intent"))
optional = [NONE, *columns]
id_choice = id_col.selectbox("Id column (optional)", optional, index=optional.index("id") if "id" in optional else 0)
split_choice = split_col.selectbox(
    "Split column (optional)", optional, index=optional.index("split") if "split" in optional else 0
)
project_col, new_col, run_col = st.columns(3)
project = project_col.selectbox("Project", [*projects, *([NEW_PROJECT] if may_start else [])], key="upload_project")
if project == NEW_PROJECT:
    project = new_col.text_input("New project name", key="upload_new_project").strip()
run = run_col.text_input("Run name", value=Path(file.name).stem, key="upload_run").strip()

key = f"upload:{path.name}:{project}/{run}"
job = get_job(key)
running = job is not None and job.state == "running"
if st.button("Build the run", type="primary", icon=":material/upload:", disabled=running or not project or not run):
    try:
        settings = AutoSettings(
            text=text,
            label=label,
            id=None if id_choice == NONE else id_choice,
            split=None if split_choice == NONE else split_choice,
        )
    except DQError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    start_job(key, build_upload, path, settings, project=project, run=run, author=author())
    st.rerun()
if job is None:
    st.stop()
if job.state == "running":
    job_progress(key, "Building the run")
elif job.state == "failed":
    st.error(f"The run was not built: {job.error}", icon=":material/error:")
elif job.result is not None:
    st.success(
        f"Built {project}/{run}"
        + (" (the same file and settings were built before: reused)" if job.result.reused else "."),
        icon=":material/check_circle:",
    )
    if st.button("Open it", icon=":material/open_in_new:"):
        choose_run(project, run)
        st.switch_page(page_path("dataset"))
