"""The console with sign-in on (AppTest, a signed-in user faked through ``AppTest.user``): the gate,
the pages each role gets, and the Team page an admin grants roles on (checked by the library)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import dq.client
import dq.errors
from dq.team import Users
from dq.team.auth import SIGN_IN_ENV
from tests.tiny_runs import log_tiny_run

APP_SCRIPT = Path(__file__).resolve().parent.parent / "dq_console" / "streamlit_app.py"


@pytest.fixture
def home(dq_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log_tiny_run(dq_home)
    dq.client._current = None
    users = Users(dq_home / "users.db")
    users.add("ana@example.com", "admin", project="tiny")
    users.add("bob@example.com", "viewer", project="tiny")
    monkeypatch.setenv(SIGN_IN_ENV, "1")
    return dq_home


def _app(email: str | None) -> AppTest:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    at.user = {"is_logged_in": False} if email is None else {"is_logged_in": True, "email": email}
    at.run()
    assert not at.exception, at.exception
    return at


def test_anonymous_and_ungranted_visitors_see_no_run(home: Path) -> None:
    at = _app(None)
    assert [b.label for b in at.button] == ["Sign in"] and not at.dataframe
    at = _app("carol@example.com")
    assert at.title[0].value == "No access yet" and not at.dataframe
    assert "dq users add carol@example.com --role viewer --project PROJECT" in at.code[0].value


def test_a_viewer_reads_an_admin_gets_upload_and_team(home: Path) -> None:
    bob = _app("bob@example.com")
    assert bob.title[0].value == "Dataset" and bob.dataframe
    assert any("You are a viewer of tiny" in i.value for i in bob.info)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        bob.switch_page("pages/upload.py")  # building runs is an editor's
    ana = _app("ana@example.com")
    assert not any("You are a viewer" in i.value for i in ana.info)
    ana.switch_page("pages/upload.py").run()
    assert not ana.exception and ana.title[0].value == "Upload a dataset"


def test_the_team_page_grants_through_the_library(home: Path) -> None:
    at = _app("ana@example.com")
    at.switch_page("pages/team.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Team"
    at.text_input[0].input("Dee@Example.com")
    at.selectbox[0].select("editor")
    at.button[0].click().run()  # the form's Grant
    assert not at.exception, at.exception
    assert Users(home / "users.db").role("dee@example.com", "tiny") == "editor"
    assert at.session_state["notices"][-1][0] == "dee@example.com is now editor in tiny."
    # bob may not: the page is not his, and the library refuses him anyway
    bob = _app("bob@example.com")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        bob.switch_page("pages/team.py")  # not among his pages
    with pytest.raises(dq.errors.AccessDenied, match="granting roles in it needs admin"):
        Users(home / "users.db").add("eve@example.com", "admin", project="tiny", by="bob@example.com")
