"""GPT summaries in the console: the opt-in switch, where requests go, and a card's summary.

Nothing leaves the machine unless the user turns the switch on (``openai_enabled``, off by
default) and then clicks Summarize on a card. Where requests go and with which key is the
operator's choice alone, never a visitor's: the key comes from the environment (``OPENAI_API_KEY``)
or Streamlit's secrets (``OPENAI_API_KEY`` at the top level or ``api_key`` under ``[openai]``), the
server from ``OPENAI_BASE_URL`` or the same secrets (``base_url``). A visitor may pick the model
among those the operator allowed (``DQ_OPENAI_MODELS``, comma-separated, or ``models`` under
``[openai]``; by default only ``DQ_OPENAI_MODEL``). Whatever a model wrote is shown as plain text;
errors reach the page with any secret redacted.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import numpy as np
import streamlit as st

from dq.errors import DQError
from dq.insights.cluster_titles import (
    DEFAULT_MODEL,
    SUMMARY_MAX_TEXT_CHARS,
    SUMMARY_MAX_TEXTS,
    SummarySettings,
    cached_summary,
    default_cache_path,
    summarize_cluster,
)
from dq.insights.split_rows import SplitRows
from dq_console.filter_bar import escape_markdown

#: The operator's list of models a visitor may pick (comma-separated).
ENV_MODELS = "DQ_OPENAI_MODELS"
#: Pixel width of the model picker.
MODEL_BOX_PX = 320
#: Texts per cluster handed to the summary (lowest DEP first: the most typical samples of the topic).
TEXTS_PER_CLUSTER = 50


def _secret_value(*path: str) -> Any:
    """A value from st.secrets as written there (text, list, ...), or None (no secrets file is not an error)."""
    try:
        value: Any = st.secrets
        for name in path:
            value = value[name]
    except (FileNotFoundError, KeyError):
        return None
    return value or None


def _secret(*path: str) -> str | None:
    """A value from st.secrets as text, or None."""
    value = _secret_value(*path)
    return None if value is None else str(value)


def allowed_models(default: str) -> list[str]:
    """The models a visitor may pick: the operator's list (secrets, else ``DQ_OPENAI_MODELS``), else ``default``."""
    listed = _secret_value("openai", "models") or _secret_value(ENV_MODELS) or os.environ.get(ENV_MODELS, "")
    items = listed.split(",") if isinstance(listed, str) else list(listed)  # "a, b" or a TOML list
    names = [str(m).strip() for m in items if str(m).strip()]
    return names or [default]


def gpt_settings() -> SummarySettings:
    """Key, server and model from the operator (st.secrets, else the environment, else the defaults);
    the model may be one the visitor picked among :func:`allowed_models`."""
    env = SummarySettings.from_env()
    default = _secret("openai", "model") or _secret("DQ_OPENAI_MODEL") or env.model
    base_url = _secret("openai", "base_url") or _secret("OPENAI_BASE_URL") or env.base_url
    api_key = _secret("openai", "api_key") or _secret("OPENAI_API_KEY") or env.api_key
    models = allowed_models(default)
    picked = st.session_state.get("openai_model")
    return replace(env, api_key=api_key, model=picked if picked in models else models[0], base_url=base_url)


def gpt_controls() -> SummarySettings | None:
    """The opt-in switch and, once on, the model and server inputs; the settings to use, or None when off."""
    with st.container(border=True):
        st.toggle("GPT summaries", key="openai_enabled",
                  help="Off: nothing is sent anywhere. On: a Summarize button on each card sends that cluster's "
                       "keywords and a sample of its texts to the model below.")  # fmt: skip
        if not st.session_state["openai_enabled"]:
            st.caption("Off: every card shows its keyword summary, and nothing is sent anywhere.")
            return None
        settings = gpt_settings()
        models = allowed_models(settings.model or DEFAULT_MODEL)
        st.session_state["openai_model"] = settings.model
        st.selectbox(
            "Model",
            models,
            key="openai_model",
            help=f"The models the operator allowed ({ENV_MODELS} or secrets); requests go to the server the "
            "operator set, never one typed here.",
            width=MODEL_BOX_PX,
        )
        st.caption(
            f"Summarize sends a cluster's keywords and up to {SUMMARY_MAX_TEXTS} of its texts "
            f"({SUMMARY_MAX_TEXT_CHARS} characters at most each) to {escape_markdown(settings.server)}, "
            "the server the operator set. Answers are cached on this machine."
        )
        if not settings.api_key:
            st.info(
                "No API key found, so no summary can be asked for. Set `OPENAI_API_KEY` in the environment "
                "or in `.streamlit/secrets.toml` (any non-empty value for a local server that needs none), "
                "then reload. Until then each card shows its keyword summary.",
                icon=":material/key_off:",
            )
        return settings


def cluster_texts(samples: SplitRows) -> dict[int, list[str]]:
    """Each cluster's texts, lowest DEP first (ties, and missing DEPs last, in row order), at most
    :data:`TEXTS_PER_CLUSTER` of them: found over the DEP and cluster columns, and only their texts read."""
    clusters, dep = samples.column("cluster"), samples.column("dep")
    order = np.lexsort((np.arange(len(dep)), np.where(np.isnan(dep), np.inf, dep), clusters))
    grouped = clusters[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    typical = samples.take(order[rank < TEXTS_PER_CLUSTER], ["cluster", "text"])
    return {int(c): group.tolist() for c, group in typical.groupby("cluster", sort=False)["text"]}


def keyword_summary(words: list[str]) -> str:
    """The summary a card shows without GPT.

    >>> keyword_summary(["card", "arrive"])
    'Keywords: card, arrive'
    """
    return "Keywords: " + (", ".join(words) if words else "(none)")


def show_summary(cluster: int, texts: list[str], words: list[str], settings: SummarySettings | None) -> None:
    """A card's summary: the keywords, then the GPT title and paragraph (cached, or on request)."""
    st.text(keyword_summary(words))
    if settings is None or not settings.api_key:
        return
    cache_path = default_cache_path()
    try:
        summary = cached_summary(texts, words, client_settings=settings, cache_path=cache_path)
        slot = st.empty()
        if summary is None and slot.button("Summarize", key=f"summarize_{cluster}", icon=":material/auto_awesome:"):
            slot.empty()  # the answer takes the button's place
            with st.spinner(f"Asking {settings.model}..."):
                summary = summarize_cluster(texts, words, client_settings=settings, cache_path=cache_path)
    except DQError as exc:  # SummaryError, or nothing to summarize
        st.warning("No summary this time:", icon=":material/error:")
        st.text(str(exc))
        return
    if summary is not None:
        with st.container(border=True):
            st.text(summary.title)
            st.text(summary.paragraph)
            st.caption(f"GPT summary by `{summary.model}`" + (", from the cache" if summary.cached else ""))
