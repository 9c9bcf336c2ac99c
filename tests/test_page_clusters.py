"""AppTest of the Clusters page over a tiny synthetic run: cards, sorting, Show in Dataset, GPT opt-in.

The GPT path runs the real openai client against a local OpenAI-compatible server started here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from tiny_runs import LABELS, WORDS, log_tiny_run  # noqa: F401

import dq  # noqa: F401 - the run is logged through the public client
from dq_console.gpt import keyword_summary

APP_SCRIPT = Path(__file__).resolve().parent.parent / "dq_console" / "streamlit_app.py"
RUN_TIMEOUT_S = 120
ANSWER = {"title": "Parcels <b>late</b>", "summary": "People ask where their **parcel** is."}


@pytest.fixture
def tiny_run(dq_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "DQ_OPENAI_MODEL", "DQ_OPENAI_MODELS"):
        monkeypatch.delenv(name, raising=False)
    log_tiny_run(dq_home)
    return dq_home


@pytest.fixture
def chat_server() -> Iterator[dict[str, Any]]:
    """A local OpenAI-compatible /v1/chat/completions endpoint; ``requests`` collects what it received."""
    state: dict[str, Any] = {"requests": [], "keys": [], "reject": False}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            state["requests"].append(body)
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            state["keys"].append(key)
            if state["reject"]:  # what OpenAI answers a wrong key: the key, echoed back
                data = json.dumps({"error": {"message": f"Incorrect API key provided: {key}.", "type": "auth"}})
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.encode())
                return
            data = json.dumps({
                "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": json.dumps(ANSWER)}}],
            }).encode()  # fmt: skip
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["base_url"] = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def open_clusters(view: str = "Cards", **secrets: str) -> AppTest:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S)
    for name, value in secrets.items():
        at.secrets[name] = value
    at.run()
    at.session_state["cluster_view"] = view
    at.switch_page("pages/clusters.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def card_order(at: AppTest) -> list[int]:
    """Cluster ids of the cards, in page order (the card headers read "**Cluster N** · size samples")."""
    heads = [m.value for m in at.markdown if m.value.startswith("**Cluster ")]
    return [int(h.split("**")[1].split()[1]) for h in heads]


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def cluster_table(home: Path) -> Any:
    from dq.insights import run_insights

    (run_dir,) = (home / "runs" / "tiny").iterdir()
    return run_insights(run_dir)["training"].clusters


def test_cards_show_size_dep_f1_and_words(tiny_run: Path) -> None:
    at = open_clusters()
    table = cluster_table(tiny_run)

    assert at.title[0].value == "Clusters"
    assert sorted(card_order(at)) == table["cluster"].tolist()
    metrics = {m.label: [] for m in at.metric}
    for m in at.metric:
        metrics[m.label].append(m.value)
    assert sorted(metrics["Avg DEP"]) == sorted(f"{v:.2f}" for v in table["avg_dep"])
    assert sorted(metrics["F1"]) == sorted(f"{v:.2f}" for v in table["macro_f1"])
    heads = [m.value for m in at.markdown if m.value.startswith("**Cluster ")]
    for row in table.itertuples():
        assert f"**Cluster {row.cluster}** · {row.size:,} samples" in heads
        assert keyword_summary(list(row.top_words)) in texts(at)
    assert len([b for b in at.button if b.label == "Show in Dataset"]) == len(table)


def test_sorting_changes_the_order(tiny_run: Path) -> None:
    at = open_clusters()
    table = cluster_table(tiny_run)

    by_size = table.sort_values(["size", "cluster"], ascending=[False, True])["cluster"].tolist()
    by_dep = table.sort_values(["avg_dep", "cluster"], ascending=[False, True])["cluster"].tolist()
    by_f1 = table.sort_values(["macro_f1", "cluster"], ascending=[True, True])["cluster"].tolist()
    assert by_dep != by_size and by_f1 != by_size  # the data tells the orders apart

    assert at.radio(key="cluster_sort").value == "Average DEP"  # the likeliest errors first by default
    assert card_order(at) == by_dep
    at.radio(key="cluster_sort").set_value("Size").run()
    assert card_order(at) == by_size
    at.radio(key="cluster_sort").set_value("F1").run()
    assert card_order(at) == by_f1
    assert not at.exception


def test_the_compact_table_lists_every_cluster_by_average_dep(tiny_run: Path) -> None:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S)
    at.run()
    at.switch_page("pages/clusters.py").run()
    table = cluster_table(tiny_run)
    assert at.session_state["cluster_view"] == "Table" and not card_order(at)  # the default view
    shown = at.dataframe[0].value
    by_dep = table.sort_values(["avg_dep", "cluster"], ascending=[False, True])["cluster"].tolist()
    assert shown["cluster"].tolist() == by_dep
    assert {"size", "avg_dep", "macro_f1", "top_words"} <= set(shown.columns)


def test_show_in_dataset_sets_the_cluster_filter(tiny_run: Path) -> None:
    at = open_clusters()
    at.session_state["label"] = ["billing"]  # other filters stay
    at.run()
    target = card_order(at)[-1]

    at.button(key=f"show_cluster_{target}").click().run()

    assert at.session_state["cluster"] == [target]
    assert at.session_state["label"] == ["billing"]
    assert at.query_params["cluster"] == str(target)


def test_gpt_is_off_by_default_and_without_a_key_says_so(tiny_run: Path) -> None:
    at = open_clusters()

    assert at.toggle(key="openai_enabled").value is False
    assert not [b for b in at.button if b.label == "Summarize"]
    at.toggle(key="openai_enabled").set_value(True).run()

    assert not at.exception
    (note,) = at.info
    assert "No API key" in note.value and "OPENAI_API_KEY" in note.value
    assert not [b for b in at.button if b.label == "Summarize"]
    assert any(t.startswith("Keywords: ") for t in texts(at))


def test_gpt_summary_through_a_local_server(
    tiny_run: Path, chat_server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server["base_url"])
    monkeypatch.setenv("DQ_OPENAI_MODEL", "local-model")
    at = open_clusters(OPENAI_API_KEY="sk-from-secrets")
    at.toggle(key="openai_enabled").set_value(True).run()
    assert chat_server["requests"] == []  # turning it on sends nothing
    first = card_order(at)[0]

    at.button(key=f"summarize_{first}").click().run()

    assert not at.exception, [e.value for e in at.exception]
    assert len(chat_server["requests"]) == 1
    assert chat_server["requests"][0]["model"] == "local-model"
    assert ANSWER["title"] in texts(at) and ANSWER["summary"] in texts(at)  # plain text, never markdown
    assert all(ANSWER["title"] not in m.value for m in at.markdown)
    at.run()
    assert len(chat_server["requests"]) == 1  # cached in SQLite
    assert any("from the cache" in c.value for c in at.caption)
    assert (tiny_run / "cache" / "summaries.sqlite").exists()


def test_a_visitor_cannot_send_the_key_elsewhere_and_never_sees_it(
    tiny_run: Path, chat_server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-SECRET123"
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server["base_url"])
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("DQ_OPENAI_MODELS", "local-small, local-large")
    at = open_clusters()
    at.toggle(key="openai_enabled").set_value(True).run()

    # No server input on the page; the model is one of the operator's.
    assert not [t for t in at.text_input if "URL" in t.label or "Server" in t.label]
    picker = at.selectbox(key="openai_model")
    assert picker.options == ["local-small", "local-large"]
    picker.set_value("local-large").run()
    at.session_state["openai_base_url"] = "http://attacker.invalid/v1"  # what the old page read
    at.run()
    chat_server["reject"] = True
    at.button(key=f"summarize_{card_order(at)[0]}").click().run()

    assert chat_server["keys"] == [secret]  # the request went to the operator's server only
    assert chat_server["requests"][0]["model"] == "local-large"  # the visitor's pick among the allowed
    shown = " ".join(
        [e.value for kind in ("text", "markdown", "caption", "warning", "error", "info") for e in getattr(at, kind)]
    )
    assert "HTTP 401" in shown and "Incorrect API key provided" in shown
    assert "SECRET123" not in shown and "[redacted]" in shown


def test_the_allowed_models_may_be_a_list_in_the_secrets(tiny_run: Path) -> None:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S)
    at.secrets["OPENAI_API_KEY"] = "sk-from-secrets"
    at.secrets["openai"] = {"models": ["small-one", "large-one"]}
    at.run()
    at.switch_page("pages/clusters.py").run()
    at.toggle(key="openai_enabled").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="openai_model").options == ["small-one", "large-one"]
