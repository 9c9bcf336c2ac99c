"""User-typed regular expressions cannot hang the library or the console (RE2, linear time).

Before the fix, pandas ran the Dataset page's regex filter with Python's backtracking ``re``:
``(a+)+$`` over 2,000 texts of 28 "a"s and a "!" did not answer in minutes, and a look-around made
even pandas' Arrow path fall back to it. Each case runs in a subprocess with a deadline, so a hang
fails the test instead of stalling the suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import dq.client
from dq.errors import ValidationError
from dq.insights.filters import apply_filter
from tests.browser_steps import FIRST_VISIT_MS

#: Seconds a case may take in its subprocess (imports included); a backtracking matcher takes minutes.
DEADLINE_S = 60
EVIL = "a" * 28 + "!"


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=DEADLINE_S
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_a_catastrophic_pattern_filters_2000_texts_without_hanging() -> None:
    out = _run(
        f"""
        import pandas as pd
        from dq.insights.filters import apply_filter
        frame = pd.DataFrame({{"text": ["{EVIL}"] * 2000 + ["aaa"]}})
        mask = apply_filter(frame, {{"text": {{"regex": "(a+)+$"}}}})
        print(int(mask.sum()))
        """
    )
    assert out == "1"  # only "aaa" ends in a's


def test_find_and_replace_with_a_catastrophic_pattern_answers() -> None:
    out = _run(
        f"""
        import pandas as pd
        from dq.edits.actions import find_replace
        current = pd.DataFrame({{"id": range(2001), "text": ["{EVIL}"] * 2000 + ["aaa"], "label": "x"}})
        print(len(find_replace(current, current["id"], "(a+)+$", "b", regex=True)))
        """
    )
    assert out == "1"


@pytest.mark.parametrize("pattern", ["(a+)+$(?!x)", r"(\w)\1", "(?<=a)b", "(?=a)"])
def test_what_rE2_cannot_run_in_linear_time_is_refused_in_one_line(pattern: str) -> None:
    import pandas as pd

    frame = pd.DataFrame({"text": [EVIL, "ab"]})
    with pytest.raises(ValidationError) as info:
        apply_filter(frame, {"text": {"regex": pattern}})
    message = str(info.value)
    assert "\n" not in message and repr(pattern) in message and "look-arounds and back-references" in message


@pytest.mark.browser
def test_in_chromium_a_hostile_regex_answers_and_another_session_keeps_answering(
    dq_home,
    streamlit_server,
    new_context,
    wait_idle,  # noqa: ANN001
) -> None:
    import numpy as np
    from playwright.sync_api import expect

    n = 2_000
    rng = np.random.default_rng(0)
    dq.init(project="evil", run="r1", labels=["a", "b"], home=dq_home)
    texts = [EVIL] * (n - 2) + ["plain words", "more plain words"]
    dq.log_data_samples(texts=texts, labels=["a", "b"] * (n // 2), ids=range(n), split="training")
    probs = rng.dirichlet([1, 1], size=n)
    dq.log_model_outputs(ids=range(n), embs=rng.normal(size=(n, 8)), probs=probs, split="training", epoch=0)
    dq.finish()
    dq.client._current = None
    url = streamlit_server(dq_home)
    first = new_context().new_page()
    first.goto(url + "/")
    wait_idle(first, timeout_ms=FIRST_VISIT_MS)  # the run's insights are computed once, here

    attacker, other = new_context().new_page(), new_context().new_page()
    attacker.goto(url + "/?q=(a%2B)%2B%24&regex=1")  # (a+)+$ : catastrophic for a backtracking matcher
    other.goto(url + "/")
    wait_idle(attacker, timeout_ms=30_000)
    wait_idle(other, timeout_ms=30_000)
    expect(attacker.get_by_text("Showing 0 of 0 samples")).to_be_visible()
    expect(other.get_by_text(f"of {n:,} samples")).to_be_visible()

    attacker.goto(url + "/?q=(a%2B)%2B%24(%3F!x)&regex=1")  # (a+)+$(?!x): a look-around, refused
    wait_idle(attacker, timeout_ms=30_000)
    expect(attacker.get_by_text("These filters cannot be applied")).to_be_visible()
    expect(attacker.get_by_text("look-arounds and back-references are not supported")).to_be_visible()
