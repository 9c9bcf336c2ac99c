"""The embedding cache: vectors keyed by model and text, in shard files written once.

A text's cache key is ``blake2b(model identity + "\\0" + text)``. The cache of a model lives
under ``<cache_dir>/embeddings/<model key>/`` as shard files ``shard-<uuid>.npz`` holding ``keys``
(n, 16) uint8 and ``vectors`` (n, d) float32; each shard is written once, atomically, and never
changed, so concurrent writers cannot corrupt each other.

Scale limit: a lookup reads the ``keys`` of every shard of the model (16 bytes a text, about 80 MB
for 5M texts) and the vectors of only the shards that hold a hit. Shards are never merged, so many
small reruns leave many small files; compaction is not built yet.
"""

from __future__ import annotations

import hashlib
import os
import uuid
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

KEY_BYTES = 16
#: A shard is written every this many new vectors: an interrupted multi-hour run keeps its progress,
#: and a shard with a hit is loaded whole, so its size bounds the memory of a lookup (~25 MB at 384-d).
SHARD_ROWS = 16_384


def model_key(identity: str) -> str:
    return hashlib.blake2b(identity.encode(), digest_size=KEY_BYTES).hexdigest()


def shard_dir(root: Path, identity: str) -> Path:
    """Where the shards of the model with this identity live under the cache root ``root``."""
    return root / "embeddings" / model_key(identity)


def text_keys(texts: list[str], identity: str) -> np.ndarray:
    seed = hashlib.blake2b(identity.encode() + b"\0", digest_size=KEY_BYTES)
    keys = np.empty((len(texts), KEY_BYTES), dtype=np.uint8)
    for i, text in enumerate(texts):
        h = seed.copy()
        # surrogatepass: text decoded with errors="surrogateescape" still gets a stable key.
        h.update(text.encode("utf-8", "surrogatepass"))
        keys[i] = np.frombuffer(h.digest(), dtype=np.uint8)
    return keys


def update_with_texts(digest: Any, texts: list[str]) -> None:
    """Feed ``texts`` in order into ``digest`` (a hashlib object), each ended by a NUL byte.

    surrogatepass, as in :func:`text_keys`: text decoded with errors="surrogateescape" hashes too.

    >>> h = hashlib.sha256(); update_with_texts(h, ["a", "b"]); h.hexdigest() == hashlib.sha256(b"a\\0b\\0").hexdigest()
    True
    """
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")


def _prefix(keys: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each key as uint64: a sortable stand-in, checked against the full key."""
    return np.ascontiguousarray(keys[:, :8]).view("<u8").ravel()


def read_cache(shard_dir: Path, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` rows whose key is in a shard; return which rows were found."""
    found = np.zeros(len(keys), dtype=bool)
    if not len(keys) or not shard_dir.is_dir():
        return found
    query = _prefix(keys)
    order = np.argsort(query, kind="stable")
    sorted_query = query[order]
    for shard in sorted(shard_dir.glob("shard-*.npz")):
        try:
            with np.load(shard, allow_pickle=False) as data:
                shard_keys = data["keys"]
                if shard_keys.ndim != 2 or shard_keys.shape[1] != KEY_BYTES:
                    raise ValueError(f"keys of shape {shard_keys.shape}")
                pos = np.searchsorted(sorted_query, _prefix(shard_keys))
                pos[pos == len(sorted_query)] = 0
                target = order[pos]
                hit = (keys[target] == shard_keys).all(axis=1) & ~found[target]
                if not hit.any():
                    continue
                vectors = data["vectors"]
                if vectors.shape != (len(shard_keys), out.shape[1]):
                    raise ValueError(f"vectors of shape {vectors.shape}")
                out[target[hit]] = vectors[hit]
                found[target[hit]] = True
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            # A cache must never fail a run: an unreadable shard only costs re-encoding its texts.
            warnings.warn(f"ignoring unreadable embedding cache shard {shard}: {exc}", stacklevel=2)
    return found


def write_shard(shard_dir: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
    tmp: Path | None = None
    try:
        shard_dir.mkdir(parents=True, exist_ok=True)
        name = f"shard-{uuid.uuid4().hex}.npz"
        # The temp name does not match "shard-*.npz", so readers never see a half-written shard.
        tmp = shard_dir / f".tmp-{name}"
        with tmp.open("wb") as fh:
            np.savez(
                fh,
                keys=np.ascontiguousarray(keys, dtype=np.uint8),
                vectors=np.ascontiguousarray(vectors, dtype=np.float32),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, shard_dir / name)
    except OSError as exc:
        # The vectors are already computed; losing the cache only costs time on the next run.
        warnings.warn(f"could not write embedding cache shard in {shard_dir}: {exc}", stacklevel=3)
        if tmp is not None:
            tmp.unlink(missing_ok=True)
