"""Where the files of a run directory live, and how a run is marked finished.

A run is the directory ``<DQ_HOME>/runs/<project>/<run>/`` (see docs/run-format.md). While it is
being logged it lives in a hidden sibling staging directory ``.<run>.partial-<token>/`` holding an
``IN_PROGRESS`` marker; :meth:`RunWriter.finish` writes ``run.json`` last and renames the staging
directory into place, so a directory named like a run with a ``run.json`` is always complete.
"""

from __future__ import annotations

from pathlib import Path

RUN_JSON = "run.json"
IN_PROGRESS = "IN_PROGRESS"
SAMPLES_DIR = "samples"
OUTPUTS_DIR = "outputs"
VIEWS_DIR = "views"
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
