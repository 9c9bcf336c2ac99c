"""``dq auto``: from a dataset file to a finished run (embed, cross-fit, log every epoch).

Steps: read and check the file; embed every text with sentence-transformers (cached by
content); train K cross-fitted softmax heads over the embeddings for E epochs; log the samples
and, for every epoch and split, the probabilities and embeddings; cross-fit a lexical model
(TF-IDF n-grams + logistic regression, dq.auto.lexical) on the same folds and store its
probabilities as the run's ``lexical`` view; finish the run atomically.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dq._util.validate import as_non_negative_int, as_positive_int
from dq.auto.datafile import SampleTable, load_samples
from dq.auto.embed import EmbedStats, embed_texts_with_stats, model_location
from dq.auto.finetune import FineTuneSettings, fine_tune
from dq.auto.lexical import LEXICAL_MODEL, LEXICAL_VIEW, cached_cross_fit_lexical
from dq.auto.train import EpochOutputs, HeadSettings, check_folds, cross_fit
from dq.config import AUTO_TOOL, CONFIG, CROSS_FITTED, IN_SAMPLE, cache_root, runs_root
from dq.errors import RunExistsError, RunFormatError, UnfinishedRunError, ValidationError
from dq.splits import TRAINING, VALIDATION, ordered_splits
from dq.store.reader import read_run_json
from dq.store.writer import RunWriter

#: Default project of ``dq auto`` when none is given; the run defaults to the file's stem.
AUTO_PROJECT = "auto"

#: ``progress(fraction, message)``: how far a build is (0..1) and what it is doing.
ProgressFn = Callable[[float, str], None]
# Shares of the 0..1 progress scale: embedding (slowest on a cold cache) and training; writing
# the run takes what is left. A callback sees the embedding in about this many steps.
_EMBED_SHARE = 0.6
_TRAIN_SHARE = 0.25
_LEXICAL_SHARE = 0.1
_EMBED_STEPS = 20
# Fewer texts than this per embedding call would only add calls and small cache shards.
_MIN_EMBED_CHUNK = 2048


@dataclass(frozen=True)
class AutoSettings:
    """Everything that decides the content of an auto run (part of its fingerprint)."""

    text: str
    label: str
    id: str | None = None
    split: str | None = None
    epochs: int = CONFIG.auto_epochs
    folds: int = CONFIG.auto_folds
    seed: int = CONFIG.auto_seed
    model: str | None = None
    lexical: bool = True  # also cross-fit the lexical model (a second view for DEP)
    fine_tune: bool = False  # fine-tune the encoder end to end (in sample) instead of heads on frozen embeddings
    early_stopping: bool = False  # fine-tuning stops when the validation loss stops falling (patience 1)
    labels: tuple[str, ...] | None = None  # the run's classes in this order (default: the data's, sorted)

    def __post_init__(self) -> None:
        # Checked when the settings are made: before a file is read or a text embedded.
        as_positive_int(self.epochs, param="epochs")
        as_non_negative_int(self.seed, param="seed")
        if as_positive_int(self.folds, param="folds") < 2:
            raise ValidationError(f"The 'folds' parameter must be at least 2. Got {self.folds} instead.")


@dataclass(frozen=True)
class AutoResult:
    """Where the run is, and what happened on the way."""

    path: Path
    reused: bool  # True when the target already held this exact run
    skipped: dict[str, int]
    n_embedded: int
    n_from_cache: int


def fingerprint(source_sha256: str, settings: AutoSettings) -> str:
    """Identity of an auto run: the file's bytes plus every setting that changes the result."""
    fields = asdict(settings)
    for added_later in ("early_stopping", "labels"):  # at their defaults, runs built before keep their fingerprint
        if not fields[added_later]:
            del fields[added_later]
    payload = json.dumps({"source": source_sha256, **fields}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def auto(
    data: str | Path,
    settings: AutoSettings,
    *,
    project: str | None = None,
    run: str | None = None,
    out: str | Path | None = None,
    home: Path | None = None,
    progress: bool | ProgressFn = True,
    log: Callable[[str], None] | None = None,
    parent: str | None = None,
    overwrite: bool = False,
    save_model: Path | None = None,
) -> AutoResult:
    """Build a run from a dataset file; return where it is.

    ``parent`` ("project/run") names the run this one retrains on fixed data (recorded in run.json's
    ``source.parent``; the console's Runs page shows it). ``overwrite`` rebuilds and replaces a run
    already at the target; ``save_model`` (with ``fine_tune``) is a directory the fine-tuned model
    and its tokenizer are saved in.

    The run goes to ``out`` when given, else ``<home>/runs/<project>/<run>``. A target that already
    holds the run of the same file and settings is reused; one holding a different run is refused.
    ``progress`` is True for progress bars on stderr, False for none, or a callable
    ``progress(fraction, message)`` called with a fraction in 0..1 that never decreases, ending at
    1.0 (no bars then).

    Examples
    --------
    >>> import tempfile; from pathlib import Path
    >>> home = Path(tempfile.mkdtemp()); data = home / "reviews.csv"
    >>> rows = [f"great phone {i},pos" for i in range(20)] + [f"awful phone {i},neg" for i in range(20)]
    >>> _ = data.write_text("\\n".join(["text,label", *rows]) + "\\n")
    >>> settings = AutoSettings(text="text", label="label")
    >>> res = auto(data, settings, home=home, progress=False, log=lambda msg: None)
    >>> res.path.relative_to(home), res.reused
    (PosixPath('runs/auto/reviews'), False)
    >>> auto(data, settings, home=home, progress=False, log=lambda msg: None).reused  # same file, same settings
    True
    """
    say = log or (lambda msg: print(msg, file=sys.stderr))
    data = Path(data)
    project = project or AUTO_PROJECT
    run_name = run or data.stem
    target = Path(out).expanduser() if out is not None else runs_root(home) / project / run_name
    table = load_samples(data, text=settings.text, label=settings.label, id=settings.id, split=settings.split)
    check_folds(settings.folds, int((table.frame["split"] == TRAINING).sum()))  # before any text is embedded
    for reason, count in table.skipped.items():
        if count:
            say(f"skipped {count} rows with {reason}")
    fp = fingerprint(table.source_sha256, settings)
    if not overwrite and _holds_run(target, fp):
        say(f"{target} already holds this run (same file and settings); reusing it")
        if callable(progress):
            progress(1.0, "reused the existing run")
        return AutoResult(target, True, table.skipped, 0, 0)
    return _build(
        table, settings, fp, data, project=project, run_name=run_name, target=target, home=home,
        progress=progress, say=say, parent=parent, overwrite=overwrite, save_model=save_model,
    )  # fmt: skip


def _embed(
    texts: list[str], settings: AutoSettings, home: Path | None, progress: bool | ProgressFn
) -> tuple[np.ndarray, EmbedStats]:
    """Embed ``texts``; with a progress callable, in chunks so that it hears between them."""
    cache_dir = cache_root(home)
    if not callable(progress):
        return embed_texts_with_stats(texts, model=settings.model, cache_dir=cache_dir, progress=progress)
    step = max(_MIN_EMBED_CHUNK, -(-len(texts) // _EMBED_STEPS))
    out: np.ndarray | None = None
    n_cached = n_encoded = 0
    progress(0.0, f"embedding {len(texts)} texts")
    for start in range(0, len(texts), step):
        embs, stats = embed_texts_with_stats(
            texts[start : start + step], model=settings.model, cache_dir=cache_dir, progress=False
        )
        if out is None:  # filled in place: no second copy of all the vectors at the end
            out = np.empty((len(texts), embs.shape[1]), dtype=embs.dtype)
        out[start : start + len(embs)] = embs
        n_cached, n_encoded = n_cached + stats.n_cached, n_encoded + stats.n_encoded
        done = start + len(embs)
        progress(_EMBED_SHARE * done / len(texts), f"embedded {done} of {len(texts)} texts")
    assert out is not None  # load_samples refuses a file without usable rows
    return out, EmbedStats(len(texts), n_cached, n_encoded)


def _holds_run(target: Path, fp: str) -> bool:
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        return False
    try:
        meta = read_run_json(target)
    except (RunFormatError, UnfinishedRunError):
        raise RunExistsError(
            f"--out {target} already exists and does not hold a finished dq run; choose another directory."
        ) from None
    if meta.get("source", {}).get("fingerprint") == fp:
        return True
    raise RunExistsError(
        f"{target} already holds a different run (other data or settings); choose another --out/--run or delete it."
    )


def _build(
    table: SampleTable,
    settings: AutoSettings,
    fp: str,
    data: Path,
    *,
    project: str,
    run_name: str,
    target: Path,
    home: Path | None,
    progress: bool | ProgressFn,
    say: Callable[[str], None],
    parent: str | None = None,
    overwrite: bool = False,
    save_model: Path | None = None,
) -> AutoResult:
    frame = table.frame
    labeled = frame["label"].notna()
    labels = sorted(frame.loc[labeled, "label"].unique().tolist(), key=lambda s: (s.casefold(), s))
    if settings.labels is not None:
        unknown = sorted(set(labels) - set(settings.labels))
        if unknown:
            raise ValidationError(
                f"The 'labels' setting must name every label of the data. Got data labels it lacks: {unknown[:5]}."
            )
        labels = list(settings.labels)
    label_index = {name: i for i, name in enumerate(labels)}
    texts = frame["text"].tolist()
    say(f"embedding {len(texts)} texts")
    embs, stats = _embed(texts, settings, home, progress)
    say(f"embedded {stats.n_encoded} texts, {stats.n_cached} from cache")
    split_rows = {s: np.flatnonzero((frame["split"] == s).to_numpy()) for s in ordered_splits(frame["split"].unique())}
    split_rows = {s: rows for s, rows in split_rows.items() if len(rows)}
    train_rows = split_rows[TRAINING]
    train_y = np.array([label_index[v] for v in frame["label"].iloc[train_rows]], dtype=np.int64)
    head = HeadSettings(epochs=settings.epochs, folds=settings.folds, seed=settings.seed)
    source = {
        "data": str(data.resolve()),
        "fingerprint": fp,
        "settings": asdict(settings),
        "skipped": table.skipped,
        "split_values": table.split_values,
        "tool": AUTO_TOOL,
        **({"parent": parent} if parent else {}),
    }
    writer = RunWriter(
        target,
        project=project,
        run=run_name,
        labels=labels,
        extra=source,
        training_outputs=IN_SAMPLE if settings.fine_tune else CROSS_FITTED,
        overwrite=overwrite,
    )
    try:
        meta_cols = [c for c in frame.columns if c not in ("id", "text", "label", "split")]
        for split, rows in split_rows.items():
            part = frame.iloc[rows]
            writer.add_samples(
                texts=part["text"].tolist(),
                labels=part["label"].tolist() if part["label"].notna().all() else None,
                ids=part["id"].tolist(),
                split=split,
                meta={c: part[c].tolist() for c in meta_cols} or None,
            )
            # The frozen sentence embeddings are the same at every epoch: stored once, not per epoch.
            writer.add_embeddings(ids=part["id"].tolist(), embs=embs[rows], split=split)
        texts_by_split = {s: frame["text"].iloc[rows].tolist() for s, rows in split_rows.items()}
        stop_on = None
        if settings.early_stopping and VALIDATION in split_rows:
            val_labels = frame["label"].iloc[split_rows[VALIDATION]]
            stop_on = (VALIDATION, np.array([label_index[v] for v in val_labels], dtype=np.int64))
        for out in _train(
            texts_by_split, embs, split_rows, train_y, len(labels), settings, head, progress=progress, say=say,
            stop_on=stop_on, save_model=save_model,
        ):  # fmt: skip
            for split, rows in split_rows.items():
                probs = out.train_probs if split == TRAINING else out.other_probs[split]
                writer.add_outputs(ids=frame["id"].iloc[rows].tolist(), probs=probs, split=split, epoch=out.epoch)
            if callable(progress):
                done = (out.epoch + 1) / head.epochs
                progress(_EMBED_SHARE + _TRAIN_SHARE * done, f"trained epoch {out.epoch + 1} of {head.epochs}")
        if settings.lexical:
            say("training the lexical model (TF-IDF n-grams + logistic regression, cross-fitted)")
            ids = {s: frame["id"].iloc[rows].tolist() for s, rows in split_rows.items()}
            _add_lexical_view(writer, texts_by_split, ids, train_y, len(labels), head, cache_root(home))
            if callable(progress):
                progress(_EMBED_SHARE + _TRAIN_SHARE + _LEXICAL_SHARE, "trained the lexical model")
        path = writer.finish()
    except BaseException:
        # Ctrl-C or any failure: leave nothing half-written behind.
        writer.abort()
        raise
    if callable(progress):
        progress(1.0, f"finished run {project}/{run_name}")
    return AutoResult(path, False, table.skipped, stats.n_encoded, stats.n_cached)


def _train(
    texts: dict[str, list[str]],
    embs: np.ndarray,
    split_rows: dict[str, np.ndarray],
    train_y: np.ndarray,
    n_classes: int,
    settings: AutoSettings,
    head: HeadSettings,
    *,
    progress: bool | ProgressFn,
    say: Callable[[str], None],
    stop_on: tuple[str, np.ndarray] | None = None,
    save_model: Path | None = None,
) -> Iterator[EpochOutputs]:
    """Every epoch's outputs: of the cross-fitted heads, or (``fine_tune``) of the fine-tuned encoder."""
    bars = bool(progress) and not callable(progress)
    train_rows = split_rows[TRAINING]
    if settings.fine_tune:
        return fine_tune(
            texts[TRAINING],
            train_y,
            n_classes,
            model_path=model_location(settings.model),
            other_texts={s: t for s, t in texts.items() if s != TRAINING},
            settings=FineTuneSettings(
                epochs=settings.epochs, seed=settings.seed, patience=1 if settings.early_stopping else None
            ),
            progress=bars,
            say=say,
            stop_on=stop_on,
            save_to=str(save_model) if save_model is not None else None,
        )
    say(f"training {head.folds} cross-fitted heads for {head.epochs} epochs")
    others = {s: embs[rows] for s, rows in split_rows.items() if s != TRAINING}
    return cross_fit(embs[train_rows], train_y, n_classes, other_embs=others, settings=head, progress=bars)


def _add_lexical_view(
    writer: RunWriter,
    texts: dict[str, list[str]],
    ids: dict[str, list[object]],
    train_y: np.ndarray,
    n_classes: int,
    head: HeadSettings,
    cache_dir: Path,
) -> None:
    """Cross-fit the lexical model on the head's folds (or reuse it from the cache) and store it as a view."""
    lexical = cached_cross_fit_lexical(
        texts[TRAINING],
        train_y,
        n_classes,
        other_texts={s: t for s, t in texts.items() if s != TRAINING},
        folds=head.folds,
        seed=head.seed,
        cache_dir=cache_dir,
    )
    for split, split_ids in ids.items():
        probs = lexical.train_probs if split == TRAINING else lexical.other_probs[split]
        writer.add_view(LEXICAL_VIEW, ids=split_ids, probs=probs, split=split, model=LEXICAL_MODEL)
