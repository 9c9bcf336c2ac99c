"""GPT summaries of topic clusters: a title and one paragraph from any OpenAI-compatible server.

Only a bounded sample of a cluster's texts (and its keywords) leaves the machine: at most
:data:`SUMMARY_MAX_TEXTS` texts of at most :data:`SUMMARY_MAX_TEXT_CHARS` characters each. Answers
are cached in SQLite, keyed by the model, the server and the exact prompt, so asking again costs
nothing. Any failure (no key, HTTP error, timeout, an answer that holds nothing) is a
:class:`SummaryError` with a one-line message; the console then falls back to the keywords.

The ``openai`` package is optional (``pip install 'dq-studio[openai]'``) and imported on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from dq._util.sqlite import open_database
from dq._util.text import one_line, redact
from dq._util.validate import as_texts
from dq.config import cache_root
from dq.errors import DQError, ValidationError

#: Model used when neither the caller nor ``DQ_OPENAI_MODEL`` names one.
DEFAULT_MODEL = "gpt-4o-mini"
#: Environment variables read by :meth:`SummarySettings.from_env`.
ENV_API_KEY, ENV_MODEL, ENV_BASE_URL = "OPENAI_API_KEY", "DQ_OPENAI_MODEL", "OPENAI_BASE_URL"
#: What is sent: the first this many distinct texts, each cut to this many characters, and keywords.
SUMMARY_MAX_TEXTS = 20
SUMMARY_MAX_TEXT_CHARS = 300
SUMMARY_MAX_KEYWORDS = 15
#: What is kept of an answer (a model that rambles is cut, not refused).
SUMMARY_MAX_TITLE_CHARS = 100
SUMMARY_MAX_PARAGRAPH_CHARS = 1_500
#: Seconds one request may take, and retries of a failed one (the client backs off between them).
SUMMARY_TIMEOUT_S = 60.0
SUMMARY_MAX_RETRIES = 1
#: Characters of a server's error message kept in a :class:`SummaryError`.
ERROR_DETAIL_CHARS = 200
#: The SQLite cache: file name under ``$DQ_HOME/cache``, schema version, lock wait.
CACHE_FILE = "summaries.sqlite"
CACHE_BUSY_TIMEOUT_MS = 5_000


def _create_summaries(db: Database) -> None:
    db.execute(
        """CREATE TABLE summaries (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            base_url TEXT,
            title TEXT NOT NULL,
            summary TEXT NOT NULL,
            created TEXT NOT NULL
        )"""
    )


# Migrations in order; PRAGMA user_version counts those applied.
_MIGRATIONS = (_create_summaries,)
CACHE_SCHEMA_VERSION = len(_MIGRATIONS)

SYSTEM_PROMPT = (
    "You name topic clusters found in the training data of a text classifier. "
    "Reply with one JSON object and nothing else: "
    '{"title": "<a topic title of at most 8 words>", '
    '"summary": "<one paragraph of 2 to 4 sentences: what the texts have in common, '
    'and any mix of topics or odd texts among them>"}.'
)


class SummaryError(DQError):
    """A cluster summary could not be produced (no API key, server error, timeout, empty answer)."""


@dataclass(frozen=True)
class SummarySettings:
    """Where summaries come from: the API key, the model and an OpenAI-compatible server.

    ``base_url`` None means OpenAI itself; a local server looks like ``http://127.0.0.1:8000/v1``
    (such servers usually accept any non-empty key).
    """

    api_key: str | None = field(default=None, repr=False)
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    timeout_s: float = SUMMARY_TIMEOUT_S
    max_retries: int = SUMMARY_MAX_RETRIES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SummarySettings:
        """Settings from ``OPENAI_API_KEY``, ``DQ_OPENAI_MODEL`` and ``OPENAI_BASE_URL`` (empty = unset).

        >>> SummarySettings.from_env({"DQ_OPENAI_MODEL": "llama3"}).model
        'llama3'
        """
        env = os.environ if environ is None else environ
        return cls(
            api_key=env.get(ENV_API_KEY) or None,
            model=env.get(ENV_MODEL) or DEFAULT_MODEL,
            base_url=env.get(ENV_BASE_URL) or None,
        )

    @property
    def server(self) -> str:
        """The server in words, for messages."""
        return redact(self.base_url) if self.base_url else "OpenAI"


@dataclass(frozen=True)
class Summary:
    """A cluster's title and paragraph, the model that wrote them, and whether they came from the cache."""

    title: str
    paragraph: str
    model: str
    cached: bool


def default_cache_path(home: Path | None = None) -> Path:
    """``$DQ_HOME/cache/summaries.sqlite``."""
    return cache_root(home) / CACHE_FILE


def summarize_cluster(
    texts: list[str], keywords: list[str], *, client_settings: SummarySettings, cache_path: Path
) -> Summary:
    """A title and one paragraph describing a cluster, from the cache or from the model.

    Parameters
    ----------
    texts : list of str
        The cluster's texts, most representative first: the first :data:`SUMMARY_MAX_TEXTS`
        distinct ones are sent, each cut to :data:`SUMMARY_MAX_TEXT_CHARS` characters.
    keywords : list of str
        The cluster's top words (the first :data:`SUMMARY_MAX_KEYWORDS` are sent).
    client_settings : SummarySettings
        API key, model and server.
    cache_path : Path
        SQLite file of cached answers (created if missing), e.g. :func:`default_cache_path`.

    Returns
    -------
    Summary
        ``cached`` is True when no request was made.

    Raises
    ------
    SummaryError
        No API key, an unreachable or failing server, a timeout, or an answer with no text.

    Examples
    --------
    >>> settings = SummarySettings(api_key="sk-...", base_url="http://127.0.0.1:8000/v1")
    >>> s = summarize_cluster(["where is my card?"], ["card"], client_settings=settings,
    ...                       cache_path=default_cache_path())  # doctest: +SKIP
    >>> s.title  # doctest: +SKIP
    'Card delivery questions'
    """
    texts = as_texts(texts, param="texts")
    keywords = as_texts(keywords, param="keywords")
    if not any(t.strip() for t in texts) and not any(k.strip() for k in keywords):
        raise ValidationError(
            "The 'texts' and 'keywords' parameters must hold some text between them. Got none instead."
        )
    if not isinstance(client_settings, SummarySettings):
        raise ValidationError(
            f"The 'client_settings' parameter must be a SummarySettings. Got {type(client_settings).__name__} instead."
        )
    return _compute_summary(texts, keywords, client_settings, Path(cache_path))


def cached_summary(
    texts: list[str], keywords: list[str], *, client_settings: SummarySettings, cache_path: Path
) -> Summary | None:
    """The cached summary :func:`summarize_cluster` would return, or None; never sends anything."""
    messages = build_messages(as_texts(texts, param="texts"), as_texts(keywords, param="keywords"))
    return _cache_get(Path(cache_path), _cache_key(client_settings, messages))


def build_messages(texts: list[str], keywords: list[str]) -> list[dict[str, str]]:
    """The chat messages sent for a cluster: instructions, keywords and a bounded sample of texts.

    >>> build_messages(["Where is  my\\ncard?"], ["card"])[1]["content"]
    'Keywords: card\\n\\nSample texts (1 of 1):\\n1. Where is my card?'
    """
    sample = _sample_texts(texts)
    words = ", ".join(one_line(k) for k in keywords[:SUMMARY_MAX_KEYWORDS] if k.strip()) or "(none)"
    lines = [f"Keywords: {words}", "", f"Sample texts ({len(sample)} of {len(texts)}):"]
    lines += [f"{i}. {t}" for i, t in enumerate(sample, start=1)]
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}]


def parse_answer(content: str) -> tuple[str, str]:
    """(title, paragraph) from a model's answer: a JSON object, fenced or not, or else plain lines.

    >>> parse_answer('```json\\n{"title": "Card delivery", "summary": "Where cards are."}\\n```')
    ('Card delivery', 'Where cards are.')
    >>> parse_answer("Card delivery\\nQuestions about when a card arrives.")
    ('Card delivery', 'Questions about when a card arrives.')
    """
    text = re.sub(r"<think>.*?</think>", "", content or "", flags=re.S).strip()
    title, paragraph = "", ""
    found = re.search(r"\{.*\}", text, flags=re.S)
    parsed: Any = None
    if found:
        try:
            parsed = json.loads(found.group(0))
        except json.JSONDecodeError:
            parsed = None
    if isinstance(parsed, dict):
        fields = {str(k).lower(): v for k, v in parsed.items()}
        title = _first_str(fields, ("title", "name", "topic"))
        paragraph = _first_str(fields, ("summary", "paragraph", "description"))
    else:
        lines = [ln.strip() for ln in text.replace("```", "").splitlines() if ln.strip()]
        if lines:
            title = lines[0].strip("#*\"' ").removeprefix("Title:").strip()
            paragraph = " ".join(lines[1:]).removeprefix("Summary:").strip()
    return one_line(title)[:SUMMARY_MAX_TITLE_CHARS], one_line(paragraph)[:SUMMARY_MAX_PARAGRAPH_CHARS]


# --- the request ---------------------------------------------------------------------------------


def _compute_summary(texts: list[str], keywords: list[str], settings: SummarySettings, cache_path: Path) -> Summary:
    messages = build_messages(texts, keywords)
    key = _cache_key(settings, messages)
    hit = _cache_get(cache_path, key)
    if hit is not None:
        return hit
    if not settings.api_key:
        raise SummaryError(
            f"No API key for {settings.server}: set {ENV_API_KEY} in the environment or in Streamlit's "
            "secrets (any non-empty value for a local server that needs none). Nothing was sent."
        )
    content = _request(settings, messages)
    title, paragraph = parse_answer(content)
    if not title and not paragraph:
        raise SummaryError(
            f"The answer of {settings.model} at {settings.server} holds no title or summary: "
            f"{one_line(content)[:ERROR_DETAIL_CHARS]!r}."
        )
    summary = Summary(title=title or "(untitled)", paragraph=paragraph, model=settings.model, cached=False)
    _cache_put(cache_path, key, settings, summary)
    return summary


def _request(settings: SummarySettings, messages: list[dict[str, str]]) -> str:
    try:
        import openai
    except ImportError as exc:
        raise SummaryError("GPT summaries need the openai package: pip install 'dq-studio[openai]'.") from exc
    client = openai.OpenAI(
        api_key=settings.api_key,
        base_url=settings.base_url,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
    )
    where = f"{settings.model} at {settings.server}"
    try:
        response = client.chat.completions.create(model=settings.model, messages=messages)  # type: ignore[arg-type]
    except openai.APITimeoutError:
        raise SummaryError(f"The summary request to {where} timed out after {settings.timeout_s:g} s.") from None
    except openai.APIStatusError as exc:
        # Servers echo what they were sent ("Incorrect API key provided: sk-..."): redacted before it is shown.
        detail = redact(one_line(str(exc.message)), [settings.api_key])[:ERROR_DETAIL_CHARS]
        raise SummaryError(f"The summary request to {where} failed with HTTP {exc.status_code}: {detail}") from None
    except openai.APIConnectionError as exc:
        detail = redact(one_line(str(exc)), [settings.api_key])
        raise SummaryError(f"The summary request to {where} could not connect: {detail}") from None
    except openai.OpenAIError as exc:  # an answer the client cannot read, among others
        detail = redact(one_line(str(exc)), [settings.api_key])[:ERROR_DETAIL_CHARS]
        raise SummaryError(f"The summary request to {where} failed: {detail}") from None
    finally:
        client.close()
    choices = getattr(response, "choices", None) or []
    content = choices[0].message.content if choices and choices[0].message else None
    if not content:
        raise SummaryError(f"The answer of {where} holds no message content.")
    return str(content)


def _sample_texts(texts: list[str]) -> list[str]:
    sample: list[str] = []
    seen: set[str] = set()
    for text in texts:
        line = one_line(text)
        if not line or line in seen:
            continue
        seen.add(line)
        sample.append(line if len(line) <= SUMMARY_MAX_TEXT_CHARS else line[: SUMMARY_MAX_TEXT_CHARS - 1] + "…")
        if len(sample) == SUMMARY_MAX_TEXTS:
            break
    return sample


def _first_str(fields: dict[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = fields.get(name)
        if isinstance(value, str) and value.strip():
            return value
    return ""


# --- the cache -----------------------------------------------------------------------------------


def _cache_key(settings: SummarySettings, messages: list[dict[str, str]]) -> str:
    base_url = settings.base_url.rstrip("/") if settings.base_url else None
    payload = json.dumps(
        {"model": settings.model, "base_url": base_url, "messages": messages}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _open_cache(path: Path) -> AbstractContextManager[Database]:
    """One connection per operation (never shared across threads), migrated to the current schema."""
    return open_database(
        path,
        migrations=_MIGRATIONS,
        busy_timeout_s=CACHE_BUSY_TIMEOUT_MS / 1000,
        what="a summary cache",
        error=SummaryError,
    )


def _cache_get(path: Path, key: str) -> Summary | None:
    if not path.exists():
        return None
    try:
        with _open_cache(path) as db:
            row = db.execute("SELECT model, title, summary FROM summaries WHERE key = ?", [key]).fetchone()
    except sqlite3.Error as exc:
        raise SummaryError(f"The summary cache {path} cannot be read: {exc}.") from exc
    return None if row is None else Summary(title=row[1], paragraph=row[2], model=row[0], cached=True)


def _cache_put(path: Path, key: str, settings: SummarySettings, summary: Summary) -> None:
    record = {
        "key": key, "model": settings.model, "base_url": settings.base_url, "title": summary.title,
        "summary": summary.paragraph, "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    try:
        with _open_cache(path) as db:
            db.table("summaries").insert(record, pk="key", replace=True)
    except sqlite3.Error as exc:
        raise SummaryError(f"The summary cache {path} cannot be written: {exc}.") from exc
