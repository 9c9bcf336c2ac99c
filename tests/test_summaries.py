"""GPT cluster summaries through the real openai client, against a local OpenAI-compatible server."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dq.errors import DQError, ValidationError
from dq.insights.cluster_titles import (
    CACHE_SCHEMA_VERSION,
    SUMMARY_MAX_TEXT_CHARS,
    SUMMARY_MAX_TEXTS,
    SummaryError,
    SummarySettings,
    cached_summary,
    default_cache_path,
    parse_answer,
    summarize_cluster,
)

pytest.importorskip("openai")

TEXTS = ["When will my new card arrive?", "My card still has not been delivered", "Card delivery time to Spain?"]
KEYWORDS = ["card", "delivery", "arrive"]
ANSWER = {"title": "Card delivery", "summary": "Customers ask when their new card will arrive."}


@dataclass
class FakeServer:
    """What the local server answers, and every request it received."""

    base_url: str = ""
    status: int = 200
    content: str = json.dumps(ANSWER)
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return len(self.requests)


def _handler(state: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append({"path": self.path, "headers": headers, "body": body})
            time.sleep(state.delay_s)
            if self.path != "/v1/chat/completions":
                self._reply(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            elif state.status != 200:
                self._reply(
                    state.status, {"error": {"message": "model overloaded,\nplease retry", "type": "server_error"}}
                )
            else:
                self._reply(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": state.content}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                })  # fmt: skip

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest's output clean
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """An OpenAI-compatible chat completions endpoint on a free port of 127.0.0.1."""
    state = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "summaries.sqlite"


def _settings(server: FakeServer, **kwargs: Any) -> SummarySettings:
    return SummarySettings(
        **{"api_key": "sk-dummy", "model": "local-model", "base_url": server.base_url, "max_retries": 0, **kwargs}
    )


def test_summary_round_trip_with_the_real_client(server: FakeServer, cache_path: Path) -> None:
    summary = summarize_cluster(TEXTS, KEYWORDS, client_settings=_settings(server), cache_path=cache_path)

    assert (summary.title, summary.paragraph) == (ANSWER["title"], ANSWER["summary"])
    assert summary.model == "local-model" and summary.cached is False
    assert server.hits == 1
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-dummy"
    assert request["body"]["model"] == "local-model"
    sent = "\n".join(m["content"] for m in request["body"]["messages"])
    assert all(word in sent for word in KEYWORDS)
    assert all(text in sent for text in TEXTS)
    assert '"title"' in sent and '"summary"' in sent  # the JSON shape asked for


def test_second_call_is_served_from_the_sqlite_cache(server: FakeServer, cache_path: Path) -> None:
    settings = _settings(server)
    first = summarize_cluster(TEXTS, KEYWORDS, client_settings=settings, cache_path=cache_path)
    assert cached_summary(TEXTS, KEYWORDS, client_settings=settings, cache_path=cache_path) == first.__class__(
        first.title, first.paragraph, first.model, cached=True
    )

    again = summarize_cluster(TEXTS, KEYWORDS, client_settings=settings, cache_path=cache_path)

    assert server.hits == 1
    assert again.cached is True and (again.title, again.paragraph) == (first.title, first.paragraph)
    # Another model (or server) is another cache entry.
    summarize_cluster(TEXTS, KEYWORDS, client_settings=_settings(server, model="other"), cache_path=cache_path)
    assert server.hits == 2
    with sqlite3.connect(cache_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == CACHE_SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM summaries").fetchone()[0] == 2


def test_cached_summary_never_sends(server: FakeServer, cache_path: Path) -> None:
    assert cached_summary(TEXTS, KEYWORDS, client_settings=_settings(server), cache_path=cache_path) is None
    assert server.hits == 0


def test_only_a_bounded_sample_is_sent(server: FakeServer, cache_path: Path) -> None:
    texts = [f"text number {i} " + "x" * 1_000 for i in range(100)]

    summarize_cluster(texts, KEYWORDS, client_settings=_settings(server), cache_path=cache_path)

    user = server.requests[0]["body"]["messages"][-1]["content"]
    sent = [line for line in user.splitlines() if line[:1].isdigit()]
    assert len(sent) == SUMMARY_MAX_TEXTS
    assert f"({SUMMARY_MAX_TEXTS} of 100)" in user
    assert max(len(line.split(". ", 1)[1]) for line in sent) <= SUMMARY_MAX_TEXT_CHARS
    assert "text number 20 " not in user


def test_server_error_becomes_a_one_line_summary_error(server: FakeServer, cache_path: Path) -> None:
    server.status = 500

    with pytest.raises(SummaryError) as info:
        summarize_cluster(TEXTS, KEYWORDS, client_settings=_settings(server), cache_path=cache_path)

    message = str(info.value)
    assert "HTTP 500" in message and "local-model" in message and server.base_url in message
    assert "\n" not in message
    assert isinstance(info.value, DQError)
    assert server.hits == 1  # max_retries=0
    assert cached_summary(TEXTS, KEYWORDS, client_settings=_settings(server), cache_path=cache_path) is None


def test_timeout_becomes_a_summary_error(server: FakeServer, cache_path: Path) -> None:
    server.delay_s = 2.0

    with pytest.raises(SummaryError, match="timed out after 0.3 s"):
        summarize_cluster(TEXTS, KEYWORDS, client_settings=_settings(server, timeout_s=0.3), cache_path=cache_path)


def test_unreachable_server_becomes_a_summary_error(server: FakeServer, cache_path: Path) -> None:
    dead = SummarySettings(api_key="sk-dummy", base_url="http://127.0.0.1:9/v1", max_retries=0)

    with pytest.raises(SummaryError, match="could not connect"):
        summarize_cluster(TEXTS, KEYWORDS, client_settings=dead, cache_path=cache_path)


def test_no_key_is_a_summary_error_without_any_request(server: FakeServer, cache_path: Path) -> None:
    with pytest.raises(SummaryError, match="No API key") as info:
        summarize_cluster(TEXTS, KEYWORDS, client_settings=_settings(server, api_key=None), cache_path=cache_path)

    assert server.hits == 0
    assert "\n" not in str(info.value)


def test_an_empty_answer_is_a_summary_error(server: FakeServer, cache_path: Path) -> None:
    server.content = "   "

    with pytest.raises(SummaryError, match="no message content|no title"):
        summarize_cluster(TEXTS, KEYWORDS, client_settings=_settings(server), cache_path=cache_path)


def test_a_plain_text_answer_is_still_read(server: FakeServer, cache_path: Path) -> None:
    server.content = "Title: Card delivery\nPeople ask where their card is."

    summary = summarize_cluster(TEXTS, KEYWORDS, client_settings=_settings(server), cache_path=cache_path)

    assert (summary.title, summary.paragraph) == ("Card delivery", "People ask where their card is.")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"title": "A", "summary": "B."}', ("A", "B.")),
        ('```json\n{"Title": "A",\n "Summary": "B\\nC."}\n```', ("A", "B C.")),
        ('<think>{"title": "no"}</think>Sure! {"title": "A", "paragraph": "B."} Hope it helps.', ("A", "B.")),
        ("**Card delivery**\nQuestions about\ncards.", ("Card delivery", "Questions about cards.")),
        ('{"title": 3, "summary": "only a summary"}', ("", "only a summary")),
        ("", ("", "")),
    ],
)
def test_parse_answer(content: str, expected: tuple[str, str]) -> None:
    assert parse_answer(content) == expected


def test_settings_from_the_environment(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": "sk-x", "DQ_OPENAI_MODEL": "llama3", "OPENAI_BASE_URL": "http://h:1/v1"}
    settings = SummarySettings.from_env(env)
    assert (settings.api_key, settings.model, settings.base_url) == ("sk-x", "llama3", "http://h:1/v1")
    assert SummarySettings.from_env({}) == SummarySettings()
    assert SummarySettings.from_env({}).model == "gpt-4o-mini"
    assert "sk-x" not in repr(settings)
    assert default_cache_path(tmp_path) == tmp_path / "cache" / "summaries.sqlite"


def test_nothing_to_summarize_is_refused(cache_path: Path) -> None:
    with pytest.raises(ValidationError, match="'texts' and 'keywords'"):
        summarize_cluster(["  "], [], client_settings=SummarySettings(api_key="k"), cache_path=cache_path)
    with pytest.raises(ValidationError, match="'texts'"):
        summarize_cluster([1], [], client_settings=SummarySettings(api_key="k"), cache_path=cache_path)  # type: ignore[list-item]
