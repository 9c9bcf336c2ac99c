"""The bundled demo: BANKING77 (CC BY 4.0, Casanueva et al. 2020), training and test splits."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from dq.auto import AutoResult, AutoSettings, auto
from dq.config import DEMO_PROJECT, DEMO_RUN

DATA_DIR = Path(__file__).parent / "data" / "banking77"


def demo_frame() -> pd.DataFrame:
    """The bundled BANKING77 files as one frame with columns text, category, split."""
    parts = []
    for name, split in (("train.csv", "training"), ("test.csv", "test")):
        part = pd.read_csv(DATA_DIR / name, dtype=str, keep_default_na=False)
        parts.append(part.assign(split=split))
    return pd.concat(parts, ignore_index=True)


def build_demo(*, home: Path | None = None, progress: bool = True,
               log: Callable[[str], None] | None = None) -> AutoResult:
    """Build the demo run once (``<home>/runs/demo/banking77``); later calls reuse it.

    >>> build_demo().path  # doctest: +SKIP
    PosixPath('/home/me/.dq/runs/demo/banking77')
    """
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "banking77.csv"
        demo_frame().to_csv(data, index=False)
        settings = AutoSettings(text="text", label="category", split="split")
        return auto(data, settings, project=DEMO_PROJECT, run=DEMO_RUN, home=home,
                    progress=progress, log=log)
