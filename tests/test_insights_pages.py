"""The first page of a split read from its cached insights on disk (DuckDB) equals the table's page of
the loaded frame, refuses a damaged cache, and the console shows it while a run is read."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import dq.client
import dq_console.data
from dq.insights import run_insights, stored_insights
from dq.insights.pages import cached_frame, first_rows, top_rows
from dq.store import Run
from dq_console.table import page_of
from tests.tiny_runs import log_tiny_run

APP_SCRIPT = Path(__file__).resolve().parent.parent / "dq_console" / "streamlit_app.py"


@pytest.fixture
def run(dq_home: Path) -> Run:
    log_tiny_run(dq_home)
    dq.client._current = None
    return Run(dq_home / "runs" / "tiny" / "r1")


@pytest.mark.parametrize("split", ["training", "test"])
def test_pages_from_disk_equal_the_tables_pages(run: Run, split: str) -> None:
    frame = run_insights(run)[split].frame
    path = cached_frame(run, split)
    assert path is not None
    # The table's order: DEP descending, ties and missing DEPs (last) in row order.
    order = np.lexsort((np.arange(len(frame)), np.where(np.isnan(frame["dep"]), np.inf, -frame["dep"])))
    for offset, limit in ((0, 7), (7, 7), (0, len(frame)), (len(frame) - 3, 10)):
        page = top_rows(path, limit=limit, offset=offset)
        expected = frame.iloc[order[offset : offset + limit]]
        assert page["row"].tolist() == order[offset : offset + limit].tolist()
        assert page["id"].tolist() == expected["id"].tolist()
        assert page["text"].tolist() == expected["text"].tolist()
        np.testing.assert_allclose(page["dep"], expected["dep"], rtol=1e-6)
    first = top_rows(path, limit=50)
    assert first["id"].tolist() == page_of(stored_insights(run)[split].samples.everything(), 1)["id"].tolist()
    checked = first_rows(run, split, limit=50)  # the same rows, the file's digest checked meanwhile
    assert checked is not None and checked.equals(first)


def test_a_damaged_cache_is_not_paged(run: Run) -> None:
    run_insights(run)
    path = cached_frame(run, "training")
    assert path is not None
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert cached_frame(run, "training") is None
    assert first_rows(run, "training", limit=5) is None  # read, perhaps, but never shown
    assert cached_frame(run, "validation") is None  # a split the run does not have


def test_the_dataset_page_shows_the_first_page_while_the_run_is_read(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    run_insights(run)  # cached on disk, not yet read by this "server"
    release = threading.Event()
    real = dq_console.data.load_insights

    def slow(path: str, content_hash: str):  # noqa: ANN202 - a read that takes as long as the test wants
        release.wait(timeout=60)
        return real(path, content_hash)

    monkeypatch.setattr(dq_console.data, "load_insights", slow)
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Dataset"
    assert "likeliest data errors of 90 samples" in at.caption[0].value
    shown = at.dataframe[0].value
    samples = real(str(run.path), run.content_hash)["training"].samples
    assert shown["id"].tolist() == page_of(samples.everything(), 1)["id"].astype(str).tolist()
    assert not at.toggle  # no filters until the run is in
    release.set()
    for _ in range(50):
        if all(f.done() for f in dq_console.data._READS.values()):
            break
        threading.Event().wait(0.1)
    at.run()
    assert not at.exception, at.exception
    assert any("highest DEP first" in c.value for c in at.caption) and at.toggle  # the whole page
