"""Runs on object storage: S3, Google Cloud Storage, HDFS, or any filesystem pyarrow opens by URI.

``push_run`` copies a finished run (its insights cache included) to a URI; ``pull_run`` copies one
back into a dq home, where every dq command, the console and a cluster's driver read it from
local disk. A pushed run's ``run.json`` is written last, so a run whose push has not finished is
never pulled; a pulled run is checked against the digests its ``run.json`` records before it
appears in the home (written to a hidden staging directory, then renamed), so a damaged or
half-copied run is refused, not read. The filesystems are pyarrow's (``pyarrow.fs``): options go
in the URI (``s3://bucket/runs/r1?region=eu-west-1``, ``endpoint_override=host:port&scheme=http``
for an S3-compatible store), credentials come from the environment (``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``, ``GOOGLE_APPLICATION_CREDENTIALS``, ...), never from dq.

>>> import dq, numpy as np, tempfile
>>> from dq.store.remote import pull_run, push_run
>>> _ = dq.init(project="p", run="r", labels=["a", "b"], home=tempfile.mkdtemp())
>>> dq.log_data_samples(texts=["x", "y"], labels=["a", "b"], split="training")
>>> dq.log_model_outputs(ids=[0, 1], embs=np.eye(2), logits=np.eye(2), split="training", epoch=0)
>>> bucket = tempfile.mkdtemp()
>>> push_run(dq.finish(), f"file://{bucket}/runs/r")  # doctest: +ELLIPSIS
'file://.../runs/r'
>>> pull_run(f"file://{bucket}/runs/r", home=Path(tempfile.mkdtemp())).parts[-3:]
('runs', 'p', 'r')
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dq._util.text import one_line
from dq._util.validate import as_name
from dq.config import runs_root
from dq.errors import RunFormatError, ValidationError
from dq.store import layout
from dq.store.integrity import verify_run
from dq.store.reader import Run, read_run_json


def shown_uri(uri: str) -> str:
    """``uri`` as messages show it: without the user and password a URI may carry, and without its
    query (``s3://key:secret@bucket/r?x=1`` -> ``s3://bucket/r``).

    >>> shown_uri("s3://AKIA:s3cr3t@bucket/runs/r1?endpoint_override=h:9000")
    's3://bucket/runs/r1'
    """
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        netloc = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "(a URI that cannot be read)"


def open_uri(uri: str) -> tuple[Any, str]:
    """pyarrow's filesystem for ``uri`` and the path in it; a one-line error naming what is wrong."""
    from pyarrow import fs

    if not isinstance(uri, str) or "://" not in uri:
        raise ValidationError(
            f"The location must be a URI such as s3://bucket/runs/r1 or file:///data/r1. Got {uri!r} instead."
        )
    try:
        filesystem, path = fs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:  # an unknown scheme, a bad option, unreachable credentials
        raise ValidationError(f"{shown_uri(uri)} cannot be opened: {_reason(exc, uri)}") from None
    return filesystem, path.rstrip("/")


def push_run(run: Run | str | Path, uri: str) -> str:
    """Copy the finished run ``run`` (checked first: a damaged run is not pushed) to ``uri``, which
    must not hold files yet; ``run.json`` goes last. Returns the URI as messages show it."""
    run = run if isinstance(run, Run) else Run(run)
    verify_run(run.path, run.meta)
    filesystem, root = open_uri(uri)
    if _listing(filesystem, root, uri):
        raise ValidationError(f"{shown_uri(uri)} already holds files; push to a new location (runs are never merged).")
    files = [p for p in sorted(run.path.rglob("*")) if p.is_file() and not _transient(p.relative_to(run.path))]
    files.sort(key=lambda p: p.name == layout.RUN_JSON)  # run.json last: until it is there, it is no run
    folders = {p.parent.relative_to(run.path).as_posix() for p in files}
    for folder in sorted(root if f == "." else f"{root}/{f}" for f in folders):
        _remote_dir(filesystem, folder, uri)  # once each, not once a file
    for path in files:
        rel = path.relative_to(run.path).as_posix()
        _copy(path, filesystem, f"{root}/{rel}", uri, upload=True)
    return shown_uri(uri)


def pull_run(uri: str, *, home: Path | None = None, out: Path | None = None) -> Path:
    """Copy the run at ``uri`` into ``<home>/runs/<project>/<run>`` (or exactly to ``out``) and
    return its directory. It appears there only once every file matches the digests its run.json
    records; a run already there is never replaced."""
    filesystem, root = open_uri(uri)
    listing = _listing(filesystem, root, uri)
    if f"{root}/{layout.RUN_JSON}" not in listing:
        raise RunFormatError(
            f"{shown_uri(uri)} holds no {layout.RUN_JSON}: not a finished dq run (or its push has not finished)."
        )
    meta = _remote_meta(filesystem, f"{root}/{layout.RUN_JSON}", uri)
    target = Path(out) if out is not None else runs_root(home) / as_name(meta["project"], param="project")
    if out is None:
        target = target / as_name(meta["run"], param="run")
    if target.exists():
        raise ValidationError(f"{target} already exists; remove it first or pull to --out DIR.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = layout.staging_dir(target, "pull-" + uuid.uuid4().hex[:8])
    try:
        for source in sorted(listing):
            rel = source[len(root) + 1 :]
            if not rel or ".." in Path(rel).parts or _transient(Path(rel)):
                continue
            destination = staging / rel
            destination.parent.mkdir(parents=True, exist_ok=True)
            _copy(destination, filesystem, source, uri, upload=False)
        verify_run(staging, read_run_json(staging, staging=True))
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _transient(rel: Path) -> bool:
    """Files that belong to no finished run: a cache entry's frame still being written (hidden names)."""
    return any(part.startswith(".") for part in rel.parts)


def _listing(filesystem: Any, root: str, uri: str) -> set[str]:
    """Paths of every file below ``root`` (empty when nothing is there)."""
    from pyarrow import fs

    try:
        infos = filesystem.get_file_info(fs.FileSelector(root, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise ValidationError(f"{shown_uri(uri)} cannot be listed: {_reason(exc, uri)}") from None
    return {info.path for info in infos if info.type == fs.FileType.File}


def _remote_meta(filesystem: Any, path: str, uri: str) -> dict[str, Any]:
    try:
        with filesystem.open_input_stream(path) as stream:
            meta = json.loads(stream.read().decode("utf-8"))
    except OSError as exc:
        raise ValidationError(f"{shown_uri(uri)}/{layout.RUN_JSON} cannot be read: {_reason(exc, uri)}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunFormatError(f"{shown_uri(uri)}/{layout.RUN_JSON} is not valid JSON; the run is damaged.") from None
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), str) for k in ("project", "run")):
        raise RunFormatError(f"{shown_uri(uri)}/{layout.RUN_JSON} names no project and run; the run is damaged.")
    return meta


def _copy(local: Path, filesystem: Any, remote: str, uri: str, *, upload: bool) -> None:
    """Copy one file between the local disk and ``filesystem`` in blocks."""
    try:
        if upload:
            with local.open("rb") as source, filesystem.open_output_stream(remote) as sink:
                shutil.copyfileobj(source, sink, _BLOCK)
        else:
            with filesystem.open_input_stream(remote) as source, local.open("wb") as sink:
                shutil.copyfileobj(source, sink, _BLOCK)
    except OSError as exc:
        what = "written to" if upload else "read from"
        raise ValidationError(f"a file could not be {what} {shown_uri(uri)}: {_reason(exc, uri)}") from None


def _remote_dir(filesystem: Any, path: str, uri: str) -> None:
    try:
        filesystem.create_dir(path, recursive=True)
    except OSError as exc:
        raise ValidationError(f"a folder could not be made in {shown_uri(uri)}: {_reason(exc, uri)}") from None


#: Bytes per read and write while copying a file.
_BLOCK = 8 << 20


def _reason(exc: BaseException, uri: str) -> str:
    """The first line of ``exc``, with anything of ``uri`` that is not shown (credentials, options) removed."""
    reason = one_line(exc)
    for secret in (uri, urlsplit(uri).password or "", urlsplit(uri).username or "", urlsplit(uri).query):
        if secret:
            reason = reason.replace(secret, "…")
    return reason
