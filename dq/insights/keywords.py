"""Cluster keywords: c-TF-IDF over the texts of each cluster.

Words are counted once per text with scikit-learn's ``CountVectorizer`` (the vocabulary capped at
:data:`KEYWORD_MAX_FEATURES` terms), the counts summed per cluster, and each cluster's terms
weighted by class-based TF-IDF (c-TF-IDF): frequent in the cluster, rare across clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from dq._util.validate import as_texts, check_same_length, examples, is_int
from dq.errors import ValidationError

#: Keywords: a term must occur in at least this many texts, and only this many of the most
#: frequent terms are kept, which bounds the vocabulary (and memory) at 1M texts.
KEYWORD_MIN_DF = 2
KEYWORD_MAX_FEATURES = 50_000
#: Tokens are runs of at least two letters (no digits, no underscores).
KEYWORD_TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"
#: Dropped besides scikit-learn's English stop words: what the token pattern leaves of contractions
#: ("hasn't" -> "hasn", "don't" -> "don") and their apostrophe-less spellings, auxiliaries the list
#: lacks, and chat filler. None of them says what a cluster is about.
EXTRA_STOP_WORDS = frozenset(
    "aren couldn didn doesn don hadn hasn haven isn mustn needn shan shouldn wasn weren won wouldn ain ll ve re "
    "dont doesnt didnt cant wont isnt arent wasnt werent havent hasnt hadnt shouldnt couldnt wouldnt im ive id "
    "youre theyre thats whats does did doing having just really ok okay hi hello hey thanks thank pls plz "
    "ya yes yeah".split()
)


def cluster_keywords(texts: Sequence[str], clusters: Any, *, top_n: int, bigrams: bool = False) -> dict[int, list[str]]:
    """The words that set each cluster apart, by class-based TF-IDF (c-TF-IDF).

    For term ``t`` and cluster ``c``: ``tf(t, c) / words(c) * log(1 + A / f(t))``, where
    ``words(c)`` is the number of counted words in the cluster, ``A`` the mean of ``words(c)`` over
    clusters and ``f(t)`` the count of ``t`` over all clusters. English stop words are removed
    (scikit-learn's, plus :data:`EXTRA_STOP_WORDS`: contraction fragments and filler);
    tokens are runs of two or more letters, lower-cased; a term must occur in at least
    :data:`KEYWORD_MIN_DF` texts (when there are that many).

    Parameters
    ----------
    texts : sequence of str
        One text per sample.
    clusters : (n,) int array
        Cluster id of each text (non-negative).
    top_n : int
        Keywords per cluster, best first; fewer when a cluster has fewer distinct terms.
    bigrams : bool
        Also score two-word phrases.

    Returns
    -------
    dict of int -> list of str
        Every cluster id present in ``clusters``, ascending, with its keywords.

    Examples
    --------
    >>> texts = ["cheap flight tickets", "flight delayed again", "pizza delivery late", "cold pizza"]
    >>> cluster_keywords(texts, [0, 0, 1, 1], top_n=1)
    {0: ['flight'], 1: ['pizza']}
    """
    texts = as_texts(texts)
    clusters = as_cluster_ids(clusters)
    check_same_length("clusters", clusters, len(texts), other="texts")
    if not is_int(top_n) or top_n < 1:
        raise ValidationError(f"The 'top_n' parameter must be a positive integer. Got {top_n!r} instead.")
    return _compute_keywords(texts, clusters, int(top_n), bool(bigrams))


def as_cluster_ids(clusters: Any, *, param: str = "clusters") -> np.ndarray:
    arr = np.asarray(clusters)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValidationError(
            f"The '{param}' parameter must be a 1-D array of integer cluster ids. "
            f"Got {arr.dtype} with shape {arr.shape} instead."
        )
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValidationError(
            f"The '{param}' parameter must hold non-negative cluster ids. "
            f"Got {examples(np.unique(arr[arr < 0]).tolist())} instead."
        )
    return arr


def _compute_keywords(texts: list[str], clusters: np.ndarray, top_n: int, bigrams: bool) -> dict[int, list[str]]:
    present = np.unique(clusters)
    result: dict[int, list[str]] = {int(c): [] for c in present}
    # Imported here: scikit-learn costs about a second to import, and the console reads cached
    # insights without it.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    vectorizer = CountVectorizer(
        lowercase=True, stop_words=sorted(ENGLISH_STOP_WORDS | EXTRA_STOP_WORDS), token_pattern=KEYWORD_TOKEN_PATTERN,
        ngram_range=(1, 2 if bigrams else 1), min_df=min(KEYWORD_MIN_DF, max(len(texts), 1)),
        max_features=KEYWORD_MAX_FEATURES, dtype=np.int64,
    )  # fmt: skip
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:  # scikit-learn's "empty vocabulary": nothing left to count
        return result
    vocab = vectorizer.get_feature_names_out()
    # Cluster-by-term counts: one sparse product with the (cluster x text) indicator matrix.
    n = len(texts)
    rows, cols = np.searchsorted(present, clusters), np.arange(n)
    indicator = sp.csr_matrix((np.ones(n, dtype=np.int64), (rows, cols)), shape=(present.size, n))
    tf = np.asarray((indicator @ counts).todense(), dtype=np.float64)
    scores = _ctfidf(tf)
    for row, cluster in enumerate(present):
        best = np.argsort(-scores[row], kind="stable")[:top_n]
        result[int(cluster)] = [str(vocab[j]) for j in best if scores[row, j] > 0]
    return result


def _ctfidf(tf: np.ndarray) -> np.ndarray:
    """c-TF-IDF of a (clusters, terms) count matrix; 0 where a cluster lacks the term."""
    words = tf.sum(axis=1, keepdims=True)
    term_total = tf.sum(axis=0, keepdims=True)
    mean_words = words.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        freq = np.where(words > 0, tf / words, 0.0)
        idf = np.where(term_total > 0, np.log1p(mean_words / term_total), 0.0)
    return freq * idf
