"""Near-duplicate samples: groups of texts that say the same thing, and the groups whose labels disagree.

Two samples are linked when one is among the other's neighbors with cosine similarity at or
above ``settings.duplicate_similarity``, or when their texts are equal after normalization
(casefold, whitespace collapsed, stripped). Exact text duplicates are found by hashing, so they
are caught even where an approximate neighbor search missed them. Groups are the connected
components of those links (so a chain a~b~c is one group even if a and c are further apart).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from dq._util.validate import as_texts, check_same_length, is_int
from dq.config import UNLABELED
from dq.errors import ValidationError
from dq.insights.base import AnalysisResult
from dq.insights.neighbors import Neighbors, check_neighbors
from dq.insights.settings import InsightSettings
from dq.scale import active as active_executor

#: Texts normalized and hashed per block (one batch of the executor).
TEXT_KEY_BATCH = 100_000
#: ``dup_group`` of a sample that has no duplicate.
NO_GROUP = -1
#: Score of a sample whose normalized text occurs more than once: the same text, the same meaning.
EXACT_DUPLICATE_SCORE = 1.0
_NAME = "near_duplicate"


def find_near_duplicates(
    texts: Any,
    labels: Any,
    nbrs: Neighbors,
    *,
    settings: InsightSettings = InsightSettings(),
) -> AnalysisResult:
    """Group near-duplicate samples and flag the groups whose labels disagree.

    Parameters
    ----------
    texts : sequence of str
        The split's texts, in sample order.
    labels : sequence
        Each sample's label (name or class index); ``None``, NaN or ``-1`` mean unlabeled and
        never make a group conflicting.
    nbrs : Neighbors
        The split's neighbors among itself (``knn(embs, k=...)``, self excluded).
    settings : InsightSettings
        ``duplicate_similarity`` is the cosine threshold.

    Returns
    -------
    AnalysisResult
        ``name="near_duplicate"``; ``score`` = highest cosine similarity to any neighbor, 1.0
        for an exact text duplicate (higher = more duplicated); ``is_issue`` = in a group;
        columns ``dup_group`` (int64, ``-1`` outside groups, ids 0.. in order of first member)
        and ``is_conflicting_duplicate`` (bool: the group holds two or more distinct labels);
        summary ``n_groups``, ``n_samples_in_groups``, ``n_conflicting_groups``,
        ``n_conflicting_samples``, ``threshold``.

    Examples
    --------
    >>> from dq.insights.neighbors import knn
    >>> embs = np.array([[1, 0], [0.999, 0.045], [0, 1], [0.6, 0.8]], dtype=np.float32)
    >>> texts = ["Card lost", "my card is lost", "top up", "TOP  up "]
    >>> result = find_near_duplicates(texts, ["lost", "lost", "topup", "card"], knn(embs, k=1))
    >>> result.columns["dup_group"].tolist(), result.columns["is_conflicting_duplicate"].tolist()
    ([0, 0, 1, 1], [False, False, True, True])
    """
    texts = as_texts(texts)
    labels = _as_label_list(labels)
    check_same_length("labels", labels, len(texts), other="texts")
    check_neighbors(nbrs, param="nbrs", n_rows=len(texts))
    if nbrs.idx.size and int(nbrs.idx.max()) >= len(texts):
        raise ValidationError(
            f"The 'nbrs' parameter must be the neighbors of these {len(texts)} samples among "
            f"themselves. Got a neighbor index {int(nbrs.idx.max())} instead."
        )
    threshold = settings.duplicate_similarity if isinstance(settings, InsightSettings) else None
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold <= 1:
        raise ValidationError(
            f"The 'settings.duplicate_similarity' parameter must be a cosine similarity in (0, 1]. "
            f"Got {threshold!r} instead."
        )
    return _compute_near_duplicates(texts, labels, nbrs, float(threshold))


def normalize_text(text: str) -> str:
    """The form under which two texts count as exact duplicates.

    >>> normalize_text("  Where is\\tMY card? ")
    'where is my card?'
    """
    return " ".join(text.casefold().split())


def _as_label_list(labels: Any) -> list[Any]:
    if labels is None or isinstance(labels, (str, bytes, dict)) or not hasattr(labels, "__len__"):
        raise ValidationError(
            f"The 'labels' parameter must be a sequence with one label per sample. Got {type(labels).__name__} instead."
        )
    return labels.tolist() if hasattr(labels, "tolist") else list(labels)


def _compute_near_duplicates(texts: list[str], labels: list[Any], nbrs: Neighbors, threshold: float) -> AnalysisResult:
    n = len(texts)
    exact_partner = _exact_duplicate_partner(texts)
    rows, cols = np.nonzero(nbrs.sims >= threshold)
    exact_rows = np.flatnonzero(exact_partner != np.arange(n))
    heads = np.concatenate([rows, exact_rows])
    tails = np.concatenate([nbrs.idx[rows, cols], exact_partner[exact_rows]])
    dup_group = _groups(heads, tails, n)
    n_groups = int(dup_group.max()) + 1 if n else 0
    conflicting_group = _conflicting_groups(dup_group, _label_codes(labels), n_groups)
    is_conflicting = np.zeros(n, dtype=bool)
    in_group = dup_group != NO_GROUP
    is_conflicting[in_group] = conflicting_group[dup_group[in_group]]

    score = nbrs.sims.max(axis=1) if nbrs.k else np.zeros(n, dtype=np.float32)
    score = score.astype(np.float32)
    score[exact_rows] = EXACT_DUPLICATE_SCORE
    score[exact_partner[exact_rows]] = EXACT_DUPLICATE_SCORE
    return AnalysisResult(
        name=_NAME,
        score=score,
        is_issue=in_group,
        columns={"dup_group": dup_group, "is_conflicting_duplicate": is_conflicting},
        summary={
            "n_groups": n_groups,
            "n_samples_in_groups": int(in_group.sum()),
            "n_conflicting_groups": int(conflicting_group.sum()),
            "n_conflicting_samples": int(is_conflicting.sum()),
            "threshold": threshold,
        },
    )


def _exact_duplicate_partner(texts: list[str]) -> np.ndarray:
    """For each sample, the first sample with the same normalized text (itself when unique).

    The texts are normalized and hashed block by block on the active executor (dq.scale); only the
    rows whose 64-bit key is shared are compared by their normalized texts, so a hash collision
    never makes a duplicate.
    """
    n = len(texts)
    partner = np.arange(n, dtype=np.int64)
    if n == 0:
        return partner
    blocks = [texts[start : start + TEXT_KEY_BATCH] for start in range(0, n, TEXT_KEY_BATCH)]
    keys = np.concatenate(active_executor().map(text_keys_block, blocks))
    _, key_codes, key_counts = np.unique(keys, return_inverse=True, return_counts=True)
    shared = np.flatnonzero(key_counts[key_codes] >= 2)
    if shared.size:
        codes, _ = pd.factorize(pd.Series([normalize_text(texts[i]) for i in shared], dtype=object))
        _, first = np.unique(codes, return_index=True)
        partner[shared] = shared[first[codes]]
    return partner


def text_keys_block(texts: list[str]) -> np.ndarray:
    """64-bit keys of the normalized texts of one block: the batch function every executor runs."""
    return np.asarray(pd.util.hash_array(np.array([normalize_text(t) for t in texts], dtype=object)))


def _groups(heads: np.ndarray, tails: np.ndarray, n: int) -> np.ndarray:
    """Connected components of the links with two or more members, numbered by first member."""
    dup_group = np.full(n, NO_GROUP, dtype=np.int64)
    if heads.size == 0:
        return dup_group
    graph = sp.coo_matrix((np.ones(heads.size, dtype=np.int8), (heads, tails)), shape=(n, n)).tocsr()
    n_components, component = connected_components(graph, directed=False)
    sizes = np.bincount(component, minlength=n_components)
    _, first_member = np.unique(component, return_index=True)
    grouped = np.flatnonzero(sizes >= 2)
    group_of_component = np.full(n_components, NO_GROUP, dtype=np.int64)
    group_of_component[grouped[np.argsort(first_member[grouped], kind="stable")]] = np.arange(grouped.size)
    return group_of_component[component]


def _label_codes(labels: list[Any]) -> np.ndarray:
    """Labels as codes ``0..``, with ``-1`` for None, NaN and the integer ``UNLABELED``."""
    codes, uniques = pd.factorize(pd.Series(labels, dtype=object))
    unlabeled = np.array(
        [is_int(u) and u == UNLABELED for u in uniques] + [True],  # code -1 (None, NaN) indexes this last entry
        dtype=bool,
    )
    return np.where(unlabeled[codes], -1, codes).astype(np.int64)


def _conflicting_groups(dup_group: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, whether its labeled members carry two or more distinct labels."""
    members = (dup_group != NO_GROUP) & (codes >= 0)
    n_codes = max(1, int(codes.max()) + 1) if codes.size else 1
    pairs = np.unique(dup_group[members] * n_codes + codes[members])
    distinct = np.bincount(pairs // n_codes, minlength=n_groups)
    return distinct >= 2
