"""AppTest smoke tests of the console's entry and its Runs page, over runs logged with the public client."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from tiny_runs import LABELS, log_tiny_run

from dq.store import Run

APP_SCRIPT = Path(__file__).resolve().parent.parent / "dq_console" / "streamlit_app.py"
#: Seconds an AppTest run may take; the first run in a process imports pandas and friends.
RUN_TIMEOUT_S = 60


def run_app() -> AppTest:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S)
    at.run()
    at.switch_page("pages/runs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_text(at: AppTest) -> str:
    """Every piece of prose and code the page shows, joined (tables are checked separately)."""
    kinds = ("title", "subheader", "caption", "markdown", "info", "code", "text")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_no_runs_shows_how_to_build_the_demo(dq_home: Path) -> None:
    at = run_app()

    assert "dq demo" in shown_text(at)
    assert any("dq demo" in e.value for e in at.info)
    assert len(at.dataframe) == 0


def test_finished_and_unfinished_runs_are_listed_apart(dq_home: Path) -> None:
    baseline = log_tiny_run(dq_home, project="sentiment", run="baseline", n_train=120, n_test=30)
    (dq_home / "runs" / "sentiment" / "crashed").mkdir()
    (dq_home / "runs" / "sentiment" / ".retry.partial-ab12").mkdir()

    at = run_app()

    subheaders = [s.value for s in at.subheader]
    assert subheaders == ["Finished runs", "Unfinished"]
    finished, unfinished = (df.value for df in at.dataframe)
    assert finished["run"].tolist() == ["baseline"]
    assert finished["project"].tolist() == ["sentiment"]
    assert finished["samples"].tolist() == [150]
    assert finished["splits"].tolist() == ["training 120 (2 epochs) · test 30 (2 epochs)"]
    assert finished["labels"].tolist() == [len(LABELS)]
    assert finished["parent"].tolist() == [""] and finished["on"].tolist() == ["test"]
    run = Run(baseline)
    labels = run.samples("test")["label"].map(run.labels.index).to_numpy()
    assert finished["accuracy"].tolist() == [pytest.approx(float((run.probs("test").argmax(1) == labels).mean()))]
    # run.json's ISO timestamp, shown to the minute
    created = datetime.fromisoformat(Run(baseline).meta["created"])
    assert finished["created"].tolist() == [created.strftime("%Y-%m-%d %H:%M")]
    assert sorted(unfinished["directory"]) == [".retry.partial-ab12", "crashed"]
    assert "crashed" not in finished["run"].tolist()


def test_only_unfinished_runs_still_name_the_demo_command(dq_home: Path) -> None:
    (dq_home / "runs" / "sentiment" / "crashed").mkdir(parents=True)

    at = run_app()

    assert any("dq demo" in e.value for e in at.info)
    (unfinished,) = (df.value for df in at.dataframe)
    assert unfinished["directory"].tolist() == ["crashed"]


def test_damaged_run_json_is_listed_as_unfinished_not_raised(dq_home: Path) -> None:
    log_tiny_run(dq_home, project="p", run="good")
    damaged = dq_home / "runs" / "p" / "damaged"
    damaged.mkdir(parents=True)
    (damaged / "run.json").write_text("{not json", encoding="utf-8")

    at = run_app()

    finished, unfinished = (df.value for df in at.dataframe)
    assert finished["run"].tolist() == ["good"]
    assert unfinished["directory"].tolist() == ["damaged"]
    assert "unreadable" in unfinished["reason"].iloc[0]


# A directory name cannot hold '/', so no closing tag: an opening tag is enough to be rendered as HTML.
@pytest.mark.parametrize("name", ["<b>bold", "<img src=x onerror=alert(1)>", "**stars** :red[red] $x$"])
def test_names_from_data_are_shown_as_literal_text(dq_home: Path, name: str) -> None:
    log_tiny_run(dq_home, project=name, run=name)

    at = run_app()

    (finished,) = (df.value for df in at.dataframe)
    assert finished["project"].tolist() == [name]
    assert finished["run"].tolist() == [name]
    # Nothing markdown-rendered carries the name: it only reaches the page inside the table.
    rendered = ("markdown", "info", "caption", "subheader", "title")
    assert all(name not in str(e.value) for kind in rendered for e in getattr(at, kind))


def test_run_json_of_another_format_is_listed_as_unfinished(dq_home: Path) -> None:
    old = log_tiny_run(dq_home, project="p", run="old")
    meta = json.loads((old / "run.json").read_text(encoding="utf-8"))
    (old / "run.json").write_text(json.dumps({**meta, "schema_version": 0}), encoding="utf-8")

    at = run_app()

    (unfinished,) = (df.value for df in at.dataframe)
    assert unfinished["directory"].tolist() == ["old"]
    assert "format version 0" in unfinished["reason"].iloc[0]
