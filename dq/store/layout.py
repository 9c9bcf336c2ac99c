"""Where the files of a run directory live, and how a run is marked finished.

A run is the directory ``<DQ_HOME>/runs/<project>/<run>/`` (see docs/run-format.md). While it is
being logged it lives in a hidden sibling staging directory ``.<run>.partial-<token>/`` holding an
``IN_PROGRESS`` marker; :meth:`RunWriter.finish` writes ``run.json`` last and renames the staging
directory into place, so a directory named like a run with a ``run.json`` is always complete.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from dq.errors import RunExistsError

RUN_JSON = "run.json"
IN_PROGRESS = "IN_PROGRESS"
SAMPLES_DIR = "samples"
OUTPUTS_DIR = "outputs"
VIEWS_DIR = "views"
EMBEDDINGS_DIR = "embeddings"
PARTIAL_INFIX = ".partial-"
TASK = "text_classification"
#: Derived data (insights, 2-D maps) cached inside a run; not part of its content hash.
CACHE_DIR = "_cache"


def samples_dir(run_dir: Path, split: str) -> Path:
    """Directory of the Parquet parts holding a split's samples."""
    return run_dir / SAMPLES_DIR / split


def outputs_dir(run_dir: Path, split: str, epoch: int) -> Path:
    """Directory of the Parquet parts holding a split's model outputs at one epoch."""
    return run_dir / OUTPUTS_DIR / split / f"epoch={epoch}"


def embeddings_dir(run_dir: Path, split: str) -> Path:
    """Directory of the Parquet parts holding a split's embeddings when they are stored once for every
    epoch (run.json: the split's ``"embeddings": "shared"``) instead of in each epoch's outputs."""
    return run_dir / EMBEDDINGS_DIR / split


def view_dir(run_dir: Path, view: str, split: str) -> Path:
    """Directory of the Parquet part holding a second model's probabilities for a split (a view)."""
    return run_dir / VIEWS_DIR / view / split


def part_name(index: int) -> str:
    """File name of the ``index``-th Parquet part of a directory (sorts in write order)."""
    return f"part-{index:05d}.parquet"


def staging_dir(target: Path, token: str) -> Path:
    """The hidden sibling where a run destined for ``target`` is written before it is finished."""
    return target.parent / f".{target.name}{PARTIAL_INFIX}{token}"


def is_staging_name(name: str) -> bool:
    """Whether a directory name is that of an unfinished run's staging directory."""
    return name.startswith(".") and PARTIAL_INFIX in name


def target_name_of_staging(name: str) -> str:
    """The run name a staging directory was meant to become."""
    return name[1:].split(PARTIAL_INFIX, 1)[0]


def refuse_existing(target: Path) -> None:
    """Raise ``RunExistsError`` when ``target`` exists and is not empty."""
    if target.exists() and any(target.iterdir()):
        raise RunExistsError(f"{target} already exists; choose another run name, pass overwrite=True, or delete it.")


def move_into_place(staging: Path, target: Path, *, overwrite: bool) -> None:
    """Rename the finished staging directory to ``target``; a run already there is replaced only with
    ``overwrite`` (renamed aside first, removed after: never a moment without a finished run)."""
    if target.exists():
        if not overwrite:
            refuse_existing(target)
        trash = staging_dir(target, "replaced-" + uuid.uuid4().hex[:8])
        os.rename(target, trash)
        os.rename(staging, target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(staging, target)
