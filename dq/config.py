"""Named constants of dq in one frozen config (no magic numbers inside functions)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: The class index of a sample without a label (inference, or a label outside the run's classes).
UNLABELED = -1

#: Likely mislabeled: the precision/recall knob in [0, 1]. 0 flags as many samples as the estimated
#: number of label errors (recall), 1 half as many (precision); the default leans to precision.
#: ``InsightSettings.mislabel_strictness``, ``compute_dep`` and the CLI's help all read this one.
DEFAULT_STRICTNESS = 0.3


def _installed_version() -> str:
    # pyproject.toml is the one place the version is written; an installed dq reads it back from
    # the distribution's metadata (a bare checkout that was never installed has none).
    try:
        return version("dq-studio")
    except PackageNotFoundError:
        return "0+unknown"


#: dq's version (``dq.__version__``), recorded in every run.json.
VERSION = _installed_version()

#: How a run's training outputs were produced (run.json ``training_outputs``): ``cross_fitted`` by a
#: model that never saw the sample (dq auto's K-fold heads), ``in_sample`` by the model being trained
#: on it (the integrations, and the client unless told otherwise), whose late epochs have memorised
#: the labels, wrong ones included.
CROSS_FITTED = "cross_fitted"
IN_SAMPLE = "in_sample"
TRAINING_OUTPUTS: tuple[str, ...] = (CROSS_FITTED, IN_SAMPLE)
#: run.json ``source.tool`` of the runs ``dq auto`` builds (their ``source`` also holds its settings).
AUTO_TOOL = "dq auto"

#: Where the console listens unless told otherwise (``dq console``, ``python -m dq_console.serve``):
#: this machine only.
CONSOLE_HOST = "127.0.0.1"
CONSOLE_PORT = 8501

#: The fewest classes a run (and the training split of a dq auto file) must have.
MIN_CLASSES = 2

#: Version of the run directory format written by this package (``run.json`` ``schema_version``).
RUN_SCHEMA_VERSION = 2
#: Versions this package reads: 2 added embeddings stored once per split (dq.store.shared_embs).
READABLE_SCHEMA_VERSIONS: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Config:
    """Tunable defaults. Change them with ``dataclasses.replace``, never by mutation."""

    #: Rows buffered per split (samples) or per split and epoch (outputs) before a Parquet part is written.
    chunk_rows: int = 65_536
    #: Tolerance on the row sums of ``probs`` before they are refused as not being probabilities.
    probs_sum_atol: float = 1e-3
    #: dq auto: epochs of the classifier head, folds of cross-fitting, seed, batch size, learning rate.
    auto_epochs: int = 5
    auto_folds: int = 5
    auto_seed: int = 0
    auto_batch_size: int = 256
    auto_learning_rate: float = 0.05
    auto_weight_decay: float = 1e-4
    #: dq auto --fine-tune: epochs of end-to-end fine-tuning (each a pass through the transformer).
    fine_tune_epochs: int = 3
    #: Texts embedded per batch by the sentence-transformers model.
    embed_batch_size: int = 64
    #: Texts encoded afresh to check vectors imported into the embedding cache (the demo's shipped ones).
    embed_import_checks: int = 16
    #: How far an imported vector may be from a fresh encoding: float rounding across batch paddings
    #: and CPU kernels is ~1e-6; a different model or text is ~1e-1.
    embed_import_atol: float = 1e-4
    #: How many offending values an error message lists before "...".
    error_examples: int = 5


CONFIG = Config()

#: Project and run names of the bundled demo.
DEMO_PROJECT = "demo"
DEMO_RUN = "banking77"


def dq_home() -> Path:
    """The root of dq's files: ``$DQ_HOME`` or ``~/.dq``."""
    return Path(os.environ.get("DQ_HOME") or Path.home() / ".dq").expanduser()


def runs_root(home: Path | None = None) -> Path:
    """Where runs live: ``<home>/runs/<project>/<run>/``."""
    return (home or dq_home()) / "runs"


def cache_root(home: Path | None = None) -> Path:
    """Where content-keyed caches (embeddings) live."""
    return (home or dq_home()) / "cache"
