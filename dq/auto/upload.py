"""A dataset file uploaded in the console: checked, kept under the dq home, built into a run.

``save_upload`` refuses a file ``dq auto`` could not read (the same one-line errors as the CLI,
naming the uploaded file, not a server path) before anything is written, and writes the file
atomically to ``<home>/uploads/<sha256 prefix>-<name>``: nothing half-written is ever left.
``build_upload`` is ``dq auto`` on it, refused unless the author may edit the project (in a team's
home). Pure library: no streamlit.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from dq._util.fileio import atomic_path
from dq._util.validate import as_name
from dq.auto.fileformats import SUPPORTED_SUFFIXES, parse
from dq.auto.pipeline import AutoResult, AutoSettings, ProgressFn, auto
from dq.config import dq_home
from dq.errors import InputFileError
from dq.team import EDIT, require_role

#: The folder of uploaded files under the dq home.
UPLOAD_DIR = "uploads"
#: The largest upload taken by default (bytes); the console's limit is ``dq serve --max-upload-mb``.
DEFAULT_MAX_BYTES = 200 * 1024**2
#: Hex digits of the content hash that start a kept file's name (the same bytes: the same file).
_HASH_CHARS = 12
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(filename: str) -> str:
    """The last part of an uploaded file's name, with only letters, digits, ``.``, ``_`` and ``-``.

    >>> safe_name("../../etc/My Reviews (2).csv")
    'My_Reviews_2_.csv'
    """
    name = _UNSAFE.sub("_", Path(str(filename).replace("\\", "/")).name).strip("._") or "upload"
    return name[-120:]


def save_upload(
    data: bytes, filename: str, *, home: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[Path, list[str]]:
    """Check the bytes of an uploaded file and keep them; return the kept file and its columns.

    Raises ``InputFileError`` (one line, naming ``filename``) for a file of another format, too
    large, empty, undecodable or malformed; nothing is written then.
    """
    name = safe_name(filename)
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        found = f"extension {Path(name).suffix!r}" if suffix else "no extension"
        raise InputFileError(f"{name} has {found}; supported extensions are: {', '.join(SUPPORTED_SUFFIXES)}")
    if len(data) > max_bytes:
        raise InputFileError(
            f"{name} is {len(data) / 1024**2:.1f} MB; this console takes files up to {max_bytes / 1024**2:.0f} MB"
        )
    if not data:
        raise InputFileError(f"{name} is empty (0 bytes); expected a header and rows")
    frame = parse(data, Path(name))  # the CLI's reader and errors, before anything is written
    target = (home if home is not None else dq_home()) / UPLOAD_DIR
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{hashlib.sha256(data).hexdigest()[:_HASH_CHARS]}-{name}"
    if not path.exists():
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return path, [str(c) for c in frame.columns]


def preview(path: Path, rows: int = 5) -> pd.DataFrame:
    """The first ``rows`` rows of a kept upload (for choosing its columns)."""
    return parse(path.read_bytes(), path).head(rows)


def build_upload(
    path: Path,
    settings: AutoSettings,
    *,
    project: str,
    run: str,
    author: str,
    home: Path | None = None,
    progress: bool | ProgressFn = False,
    log: Callable[[str], None] | None = None,
) -> AutoResult:
    """``dq auto`` on a kept upload into ``<home>/runs/<project>/<run>``; in a team's home only for
    an author who may edit ``project`` (``AccessDenied`` otherwise, before any work)."""
    as_name(project, param="project")
    as_name(run, param="run")
    require_role(home if home is not None else dq_home(), author, project, EDIT)
    return auto(path, settings, project=project, run=run, home=home, progress=progress, log=log)
