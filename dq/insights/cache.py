"""The on-disk cache of insights, beside the run and keyed by its content and the settings.

``<run>/_cache/insights/<content hash>-<settings key>-v<INSIGHTS_VERSION>/``:
``<split>.parquet`` (the per-sample frame, written by ``dq.insights.frame_file``),
``<split>.neighbors.npy`` (each sample's nearest neighbours in its split, for the console's sample
panel; entries written before it was kept lack it) and ``<split>.json`` (summary, tables, the
files' digests), the JSON written last so a half-written entry is never read. When the run
directory is not writable (a shared, read-only run), the same layout goes under
``$DQ_HOME/cache/insights/``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from dq._util.fileio import atomic_path
from dq._util.text import one_line
from dq.config import cache_root
from dq.insights.compute import ComputedSplit, SplitInsights, SplitTables
from dq.insights.frame_file import insert_probs, probs_matrix
from dq.insights.neighbors import Neighbors
from dq.store import layout
from dq.store.integrity import file_digest
from dq.store.reader import Run

#: Bumped whenever the insights computation changes, so old cache entries are not reused.
# 2: n_unlabeled; 3: ties never split across DEP buckets; 4: in-sample DEP pools every epoch; 5: views;
# 6: "hard" from a sliding window, keywords without contraction fragments; 7: entries carry digests;
# 8: confusion stored sparse, overlap top pairs only; 9: float16 embeddings for large splits.
INSIGHTS_VERSION = 9
_LOG = logging.getLogger("dq.insights")
DIGEST, FRAME_DIGEST, NEIGHBORS_DIGEST = "blake2b", "frame_blake2b", "neighbors_blake2b"
#: Columns every split's frame has (some, such as is_out_of_coverage, only some splits).
_CORE_COLUMNS = ("id", "text", "label", "pred", "probs", "dep", "is_mislabeled")
_TABLES = ("class_report", "overlap", "misclassified_pairs", "clusters")


def cache_dir(run: Run, settings_key: str, *, kind: str = "insights") -> Path:
    """The cache directory of this run's ``kind`` results under the settings with this key."""
    key = f"{run.content_hash.split(':')[-1][:16]}-{settings_key}-v{INSIGHTS_VERSION}"
    beside = run.path / layout.CACHE_DIR / kind / key
    if _writable(run.path):
        return beside
    return cache_root() / kind / key


def _writable(path: Path) -> bool:
    target = path / layout.CACHE_DIR
    return os.access(target if target.exists() else path, os.W_OK)


def frame_file(directory: Path, split: str) -> Path:
    """Where an entry keeps one split's per-sample frame (written by ``dq.insights.frame_file``)."""
    return directory / f"{split}.parquet"


def staging_frame_file(directory: Path, split: str) -> Path:
    """A name of this process's own, beside the entry, for a split's frame while it is computed:
    :func:`save` moves it into place just before the JSON (an entry is mismatched for milliseconds,
    not for the rest of the computation, and two processes computing one run never share a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f".{split}.{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"


def neighbors_file(directory: Path, split: str) -> Path:
    """Where an entry keeps each sample's nearest neighbours in its own split (:func:`save`)."""
    return directory / f"{split}.neighbors.npy"


def save(directory: Path, result: ComputedSplit, *, neighbors: Neighbors | None = None) -> None:
    """Move one split's frame (written by the computation to :func:`staging_frame_file`) into place,
    write ``neighbors`` (each sample's nearest neighbours in its split: what the console's sample
    panel shows) beside it, then the summary, the tables and both files' digests (its JSON, last:
    a half-written entry is never read).

    Alerts are not stored: they are cheap to derive from what is, so changing a rule never
    needs a recompute.
    """
    if result.frame_path.parent != directory:
        raise ValueError(f"the frame of {result.split} was written outside the cache entry {directory}")
    payload = {
        "split": result.split,
        "summary": result.summary,
        "confusion": _cells(result.confusion),
        **{name: getattr(result, name).to_dict(orient="records") for name in _TABLES},
        FRAME_DIGEST: result.frame_digest,
    }
    if neighbors is not None:
        payload[NEIGHBORS_DIGEST] = _write_neighbors(neighbors_file(directory, result.split), neighbors)
    payload = json.loads(json.dumps(payload, default=_json_default))  # plain JSON types: what a reader sees
    text = json.dumps({**payload, DIGEST: payload_digest(payload)}, ensure_ascii=False)
    if result.frame_path != frame_file(directory, result.split):
        os.replace(result.frame_path, frame_file(directory, result.split))
    with atomic_path(directory / f"{result.split}.json") as tmp:
        tmp.write_text(text, encoding="utf-8")


_DIGESTS: dict[tuple[str, int, int], str] = {}
_DIGEST_LOCKS: dict[str, threading.Lock] = {}
_DIGESTS_LOCK = threading.Lock()


#: A neighbours file's record: the neighbours' rows (int32) and similarities (float32), one row a sample.
def neighbors_dtype(k: int) -> np.dtype:
    return np.dtype([("row", "<i4", (k,)), ("sim", "<f4", (k,))])


def _write_neighbors(path: Path, neighbors: Neighbors) -> str:
    records = np.empty(len(neighbors.idx), dtype=neighbors_dtype(neighbors.idx.shape[1]))
    records["row"], records["sim"] = neighbors.idx, neighbors.sims
    with atomic_path(path) as tmp, tmp.open("wb") as out:
        np.save(out, records)
    return file_digest(path)


def verified_neighbors(directory: Path, split: str, *, n_samples: int) -> np.ndarray | None:
    """The neighbours an entry keeps for ``split`` (a read-only memory map of records: ``row`` and
    ``sim``, one a sample) when its file matches the digest the entry's JSON records, or None: an
    entry written before they were kept, or a damaged file (never read then)."""
    path = neighbors_file(directory, split)
    try:
        expected = _payload(directory / f"{split}.json").get(NEIGHBORS_DIGEST)
        if expected is None or frame_digest(path) != expected:
            return None
        records = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    fits = records.dtype.names == ("row", "sim") and records.shape == (n_samples,)
    return records if fits else None


def frame_digest(path: Path) -> str:
    """The digest of a cached frame's file, computed once per process and version of the file
    (path, size, modification time): at a console's open, the reader and the page read straight
    from disk (``dq.insights.pages``) check the same 600 MB file, and the second waits for the first."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _DIGESTS_LOCK:
        lock = _DIGEST_LOCKS.setdefault(key[0], threading.Lock())
    with lock:
        if key not in _DIGESTS:
            _DIGESTS[key] = file_digest(path)
        return _DIGESTS[key]


def payload_digest(payload: dict[str, Any]) -> str:
    """The digest an entry's JSON carries (of everything in it but the digest itself)."""
    # A damaged byte in the cache must not become a wrong number on a page: every entry carries
    # the digest of its JSON (and, in it, of its frame's file), checked at every read.
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def is_complete(directory: Path, split: str) -> bool:
    """Whether ``directory`` holds one split's entry in full (its JSON is written last)."""
    return (directory / f"{split}.json").exists() and frame_file(directory, split).exists()


def verified_frame(directory: Path, split: str) -> Path | None:
    """The Parquet file of one split's entry when the entry is whole and the file matches the
    digest its JSON records (None otherwise), for readers that page it on disk instead of loading
    it (``dq.insights.pages``): a damaged file is never read."""
    if not is_complete(directory, split):
        return None
    try:
        payload = _payload(directory / f"{split}.json")
        frame_path = frame_file(directory, split)
        return frame_path if frame_digest(frame_path) == payload[FRAME_DIGEST] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _payload(meta_path: Path) -> dict[str, Any]:
    """An entry's JSON, checked against the digest it carries (``ValueError`` when it does not match)."""
    payload = json.loads(meta_path.read_text(encoding="utf-8"))
    if payload.pop(DIGEST, None) != payload_digest(payload):
        raise ValueError(f"{meta_path.name} does not match its digest")
    return dict(payload)


def load(directory: Path, split: str, *, n_samples: int | None = None) -> SplitInsights | None:
    """Read one split's cached insights, or None when the entry is absent, incomplete or damaged
    (then it is computed again and rewritten: a damaged cache heals instead of failing every read).
    ``n_samples``: the split's size; an entry of another size is damaged too."""
    if not is_complete(directory, split):
        return None
    try:
        result = _read(directory, split)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, pa.ArrowException) as exc:
        _LOG.warning("the insights cache %s could not be read (%s); computing it again", directory, one_line(exc))
        return None
    missing = set(_CORE_COLUMNS) - set(result.frame.columns)
    if missing or (n_samples is not None and len(result.frame) != n_samples):
        _LOG.warning("the insights cache %s does not fit the run; computing it again", directory)
        return None
    return result


def _read(directory: Path, split: str) -> SplitInsights:
    meta_path, frame_path = directory / f"{split}.json", frame_file(directory, split)
    payload = _payload(meta_path)
    # The frame's digest is checked on a thread while the file is read (both let go of the GIL):
    # at millions of rows each takes about a second.
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(frame_digest, frame_path)
        table = pq.read_table(frame_path)
        if digest.result() != payload[FRAME_DIGEST]:
            raise ValueError(f"{frame_path.name} does not match its digest")
    matrix = probs_matrix(table.column("probs"))
    frame = table.drop(["probs"]).to_pandas()
    insert_probs(frame, matrix)
    tables = _tables(split, payload)
    return SplitInsights(**vars(tables), frame=frame, probs=matrix)


def load_tables(directory: Path, split: str, *, n_samples: int) -> tuple[SplitTables, Path] | None:
    """One split's cached tables and its verified per-sample file of ``n_samples`` rows, without
    reading the file (its digest is checked): for readers that query it where it lies
    (``dq.insights.split_rows``). None when the entry is absent, incomplete, damaged or of
    another size, as for :func:`load`."""
    path = verified_frame(directory, split)
    if path is None:
        return None
    try:
        payload = _payload(directory / f"{split}.json")
        with pq.ParquetFile(path) as reader:
            names, n_rows = set(reader.schema_arrow.names), reader.metadata.num_rows
        if set(_CORE_COLUMNS) - names or n_rows != n_samples:
            raise ValueError("it does not fit the run")
        return _tables(split, payload), path
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, pa.ArrowException) as exc:
        _LOG.warning("the insights cache %s could not be read (%s); computing it again", directory, one_line(exc))
        return None


def _tables(split: str, payload: dict[str, Any]) -> SplitTables:
    return SplitTables(
        split=split,
        summary=dict(payload["summary"]),
        confusion=_matrix(payload["confusion"]),
        **{name: pd.DataFrame.from_records(payload[name]) for name in _TABLES},
    )


def _cells(matrix: sp.csr_array) -> dict[str, Any]:
    # The non-zero cells only: a dense 10,000-class matrix would be 100 million numbers of JSON.
    cells = matrix.tocoo()
    return {"shape": list(matrix.shape), "rows": cells.row.tolist(), "cols": cells.col.tolist(),
            "counts": cells.data.tolist()}  # fmt: skip


def _matrix(cells: dict[str, Any]) -> sp.csr_array:
    counts = np.asarray(cells["counts"], dtype=np.int64)
    return sp.coo_array((counts, (cells["rows"], cells["cols"])), shape=tuple(cells["shape"])).tocsr()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"cannot store {type(value).__name__} in the insights cache")
