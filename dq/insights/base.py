"""The contract every analysis of ``dq.insights`` returns: per-sample arrays plus a summary.

Arrays are positional: element ``i`` belongs to row ``i`` of ``Run.samples(split)``. The
assembly step (``dq.insights.compute.compute_split``) writes the columns beside the samples' ids
and texts to the split's Parquet file, batch by batch (``dq.insights.frame_file``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AnalysisResult:
    """What one analysis found.

    Attributes
    ----------
    name : str
        The analysis, e.g. ``"near_duplicate"``; the frame gets ``is_<name>`` from ``is_issue``.
    score : (n,) float array
        The analysis's per-sample score; its docstring says which way it runs (DEP-style scores
        are higher = more likely a problem, ``*_score`` names higher = better).
    is_issue : (n,) bool array
        Which samples the analysis flags.
    columns : dict of name -> (n,) array
        Extra per-sample columns (a duplicate group, a suggested label, ...).
    summary : dict
        JSON-serialisable facts about the whole split (counts, thresholds used, ...).
    """

    name: str
    score: np.ndarray
    is_issue: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
