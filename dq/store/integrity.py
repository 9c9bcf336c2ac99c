"""A finished run's manifest, and the checks that refuse a damaged run instead of reading it.

At finish the writer records every data file of the run in ``run.json`` (``files``: size, row
count for Parquet, blake2b digest) and makes ``content_hash`` a hash of the whole of ``run.json``
with that manifest in it: labels, splits, schema and every byte of every file. Opening a run then
costs little and refuses what is damaged, in one line naming the file:

* ``run.json`` itself: its hash is recomputed from what it says (swapped class names, a split
  removed or renumbered: refused);
* every file: present, no stray part beside them, the recorded size, the recorded row count;
* the bytes of any file that changed since the run was last verified (its size or modification
  time differs from ``_cache/verified.json``): hashed again and compared with the manifest.

:func:`verify_run` (``dq verify RUN``) hashes every byte whatever the timestamps say. Runs written
before the manifest existed are read as before; ``dq verify`` checks them with the old hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dq._util.fileio import atomic_path
from dq._util.text import one_line
from dq.errors import RunFormatError
from dq.store import layout
from dq.store.hashing import content_hash, update_with_file

#: The record of the last full check of each file: ``{path: [size, mtime_ns]}``.
VERIFIED_FILE = "verified.json"
MANIFEST_KEY = "files"
HASH_KEY = "content_hash"


def _data_files(run_dir: Path, exclude: tuple[str, ...] = ()) -> list[str]:
    """Relative paths of the run's data files (not run.json, not the cache), sorted."""
    out = []
    for path in run_dir.rglob("*"):
        rel = path.relative_to(run_dir).as_posix()
        derived = rel == layout.RUN_JSON or rel.split("/", 1)[0] == layout.CACHE_DIR
        if path.is_file() and not derived and rel not in exclude:
            out.append(rel)
    return sorted(out)


def file_digest(path: Path) -> str:
    """blake2b (16 bytes) of a file's bytes, read in blocks."""
    digest = hashlib.blake2b(digest_size=16)
    update_with_file(digest, path)
    return digest.hexdigest()


@contextmanager
def refuse_damaged(path: Path) -> Iterator[None]:
    """Turn what Arrow says of an unreadable Parquet file into a one-line refusal naming it."""
    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        raise RunFormatError(f"{path} is damaged ({one_line(exc)}); the run cannot be read.") from None


def parquet_rows(path: Path) -> int:
    """Rows of a Parquet file from its footer; a file that is not readable Parquet is refused."""
    with refuse_damaged(path), pq.ParquetFile(path) as reader:
        return int(reader.metadata.num_rows)


def build_manifest(run_dir: Path, *, exclude: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Size, digest and (for Parquet) row count of every data file below ``run_dir``."""
    manifest: dict[str, dict[str, Any]] = {}
    for rel in _data_files(run_dir, exclude):
        path = run_dir / rel
        entry: dict[str, Any] = {"size": path.stat().st_size, "blake2b": file_digest(path)}
        if rel.endswith(".parquet"):
            entry["rows"] = parquet_rows(path)
        manifest[rel] = entry
    return manifest


def meta_hash(meta: dict[str, Any]) -> str:
    """The content hash of a run: blake2b of ``run.json`` (manifest included, the hash itself left out).

    >>> meta_hash({"labels": ["a", "b"], "files": {}}) == meta_hash({"files": {}, "labels": ["a", "b"]})
    True
    >>> meta_hash({"labels": ["a", "b"]}) == meta_hash({"labels": ["b", "a"]})
    False
    """
    body = {k: v for k, v in meta.items() if k != HASH_KEY}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "blake2b:" + hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def seal(run_dir: Path, meta: dict[str, Any], *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """``meta`` with the manifest of ``run_dir`` and the content hash over both; records the files as
    verified (the writer calls this on the staging directory at finish)."""
    sealed = {**meta, MANIFEST_KEY: build_manifest(run_dir, exclude=exclude)}
    sealed[HASH_KEY] = meta_hash(sealed)
    _record_verified(run_dir, list(sealed[MANIFEST_KEY]))
    return sealed


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _read_verified(run_dir: Path) -> dict[str, list[int]]:
    try:
        data = json.loads((run_dir / layout.CACHE_DIR / VERIFIED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # never recorded, unreadable or damaged: every file counts as changed
    return data if isinstance(data, dict) else {}


def _record_verified(run_dir: Path, files: list[str]) -> None:
    record = {rel: _stamp(run_dir / rel) for rel in files}
    target = run_dir / layout.CACHE_DIR / VERIFIED_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(record), encoding="utf-8")
    except OSError:
        pass  # a read-only run: it is checked in full again at its next open


def check_run(run_dir: Path, meta: dict[str, Any], *, full: bool = False) -> int:
    """Refuse a damaged run (``RunFormatError`` naming the file); returns how many files were hashed.

    Cheap checks always; a file's bytes are hashed when ``full`` or when it changed since it was
    last verified. Runs without a manifest (written before it existed) pass unchecked.
    """
    manifest = meta.get(MANIFEST_KEY)
    if manifest is None:
        return 0
    run_json = run_dir / layout.RUN_JSON
    if not isinstance(manifest, dict) or meta_hash(meta) != meta.get(HASH_KEY):
        raise RunFormatError(
            f"{run_json} was changed after the run finished (labels, splits or files differ from what was "
            "recorded); the run cannot be trusted."
        )
    present = _data_files(run_dir)
    missing = sorted(set(manifest) - set(present))
    if missing:
        raise RunFormatError(f"{run_dir / missing[0]} is missing; the run is damaged.")
    stray = sorted(set(present) - set(manifest))
    if stray:
        raise RunFormatError(f"{run_dir / stray[0]} is not part of the run as it finished; the run is damaged.")
    verified = {} if full else _read_verified(run_dir)
    hashed = []
    for rel, entry in manifest.items():
        path = run_dir / rel
        stamp = _stamp(path)
        if stamp[0] != entry.get("size"):
            written = entry.get("size")
            raise RunFormatError(f"{path} has {stamp[0]:,} bytes, not the {written} written; the run is damaged.")
        if "rows" in entry and parquet_rows(path) != entry["rows"]:
            raise RunFormatError(f"{path} does not hold the {entry['rows']:,} rows written; the run is damaged.")
        if verified.get(rel) != stamp:
            if file_digest(path) != entry.get("blake2b"):
                raise RunFormatError(f"{path} was changed after the run finished; the run is damaged.")
            hashed.append(rel)
    if hashed:
        _record_verified(run_dir, list(manifest))
    return len(hashed)


def verify_run(run_dir: Path, meta: dict[str, Any]) -> int:
    """Hash every byte of the run and compare it with what was recorded; returns the files checked.

    Raises ``RunFormatError`` naming the first damaged file (``dq verify RUN``).
    """
    if MANIFEST_KEY in meta:
        check_run(run_dir, meta, full=True)
        return len(meta[MANIFEST_KEY])
    if content_hash(run_dir, exclude=(layout.RUN_JSON,)) != meta.get(HASH_KEY):  # a run from before the manifest
        raise RunFormatError(
            f"{run_dir}: its files no longer match the content hash in {layout.RUN_JSON} (a run written before "
            "dq recorded each file, so the damaged file cannot be named); the run is damaged."
        )
    return len(_data_files(run_dir))
