"""The bundled demo: BANKING77 (CC BY 4.0, Casanueva et al. 2020), training, validation and test splits.

The demo ships the embeddings of its 13,083 texts (``data/banking77/embeddings.npz``, computed by
the bundled all-MiniLM-L6-v2 with :func:`write_demo_embeddings`), so building it takes seconds, not
minutes. Before they are used they are checked against what they came from: the model's identity
and the texts' hash must match, and a few texts are encoded afresh and compared
(:func:`dq.auto.embed.add_to_cache`). When anything differs the demo says why and embeds the texts itself.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from dq.auto.embed_cache import update_with_texts
from dq.auto.lexical import LEXICAL_CACHE_DIR
from dq.auto.pipeline import AutoResult, AutoSettings, auto
from dq.config import DEMO_PROJECT, DEMO_RUN, cache_root
from dq.errors import ValidationError

DATA_DIR = Path(__file__).parent / "data" / "banking77"
EMBEDDINGS_FILE = DATA_DIR / "embeddings.npz"
#: The shipped lexical view of the demo: ``lexical-<content key>.npz`` (see :func:`seed_demo_lexical`).
LEXICAL_PREFIX = "lexical-"


#: Every this-many-th training text of each class (the 10th, 20th, ...) is the demo's validation split,
#: so the cross-split alerts (classes the model overfits or underfits) have something to compare.
VALIDATION_EVERY = 10


def demo_frame() -> pd.DataFrame:
    """The bundled BANKING77 files as one frame with columns text, category, split (training,
    validation: every 10th training text of each class, test), in the files' row order."""
    train = pd.read_csv(DATA_DIR / "train.csv", dtype=str, keep_default_na=False)
    nth = train.groupby("category", sort=False).cumcount() % VALIDATION_EVERY == VALIDATION_EVERY - 1
    train["split"] = np.where(nth, "validation", "training")
    test = pd.read_csv(DATA_DIR / "test.csv", dtype=str, keep_default_na=False).assign(split="test")
    return pd.concat([train, test], ignore_index=True)


def build_demo(
    *, home: Path | None = None, progress: bool = True, log: Callable[[str], None] | None = None
) -> AutoResult:
    """Build the demo run once (``<home>/runs/demo/banking77``); later calls reuse it.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as home:  # the run and its embedding cache: about 130 MB
    ...     build_demo(home=Path(home), progress=False, log=lambda msg: None).path.relative_to(home)
    PosixPath('runs/demo/banking77')
    """
    frame = demo_frame()
    say = log or (lambda msg: print(msg, file=sys.stderr))
    reason = seed_demo_embeddings(frame["text"].tolist(), home=home)
    if reason is not None:
        say(f"the shipped demo embeddings were not used ({reason}); embedding the texts")
    seed_demo_lexical(home=home)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "banking77.csv"
        frame.to_csv(data, index=False)
        settings = AutoSettings(text="text", label="category", split="split")
        return auto(data, settings, project=DEMO_PROJECT, run=DEMO_RUN, home=home, progress=progress, log=log)


def texts_sha256(texts: list[str]) -> str:
    """A hash of the texts in order (what the shipped embeddings are rows of)."""
    digest = hashlib.sha256()
    update_with_texts(digest, texts)
    return digest.hexdigest()


def seed_demo_embeddings(texts: list[str], *, home: Path | None = None, path: Path = EMBEDDINGS_FILE) -> str | None:
    """Put the shipped vectors of ``texts`` into the embedding cache; ``None``, or why they were not used."""
    from dq.auto.embed import add_to_cache, model_identity

    try:
        with np.load(path, allow_pickle=False) as data:
            identity, digest, vectors = str(data["identity"]), str(data["texts_sha256"]), data["vectors"]
    except FileNotFoundError:
        return f"{path.name} is missing"
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        return f"{path.name} is unreadable: {exc}"
    if identity != model_identity():
        return f"they come from {identity}, not the installed {model_identity()}"
    if digest != texts_sha256(texts):
        return "they were computed for other texts"
    try:
        add_to_cache(texts, vectors, cache_dir=cache_root(home))
    except ValidationError as exc:
        return str(exc)
    return None


def seed_demo_lexical(*, home: Path | None = None, data_dir: Path = DATA_DIR) -> int:
    """Put the shipped lexical outputs (``lexical-<key>.npz``) into the lexical cache; how many.

    The file's name is its content key (texts, labels, splits, settings, model, scikit-learn
    version: ``dq.auto.lexical.lexical_key``), so dq auto uses it only when it would compute
    exactly that; otherwise it fits the model as usual. A damaged file is refused when read.
    """
    target = cache_root(home) / LEXICAL_CACHE_DIR
    copied = 0
    for shipped in sorted(data_dir.glob(f"{LEXICAL_PREFIX}*.npz")):
        dest = target / shipped.name.removeprefix(LEXICAL_PREFIX)
        if not dest.exists():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shipped, dest)
            copied += 1
    return copied


def write_demo_lexical(data_dir: Path = DATA_DIR) -> Path:
    """Fit the demo's lexical view afresh (a demo build into an empty home) and ship its cache file.

    Run it with :func:`write_demo_embeddings` when the demo's data, the lexical model or
    scikit-learn change (about a minute):

    >>> write_demo_lexical()  # doctest: +SKIP
    PosixPath('.../dq/auto/data/banking77/lexical-3f2a....npz')
    """
    for old in data_dir.glob(f"{LEXICAL_PREFIX}*.npz"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        build_demo(home=Path(tmp), progress=False, log=lambda _msg: None)
        (fitted,) = (Path(tmp) / "cache" / LEXICAL_CACHE_DIR).glob("*.npz")
        path = data_dir / f"{LEXICAL_PREFIX}{fitted.name}"
        shutil.copyfile(fitted, path)
    return path


def write_demo_embeddings(path: Path = EMBEDDINGS_FILE) -> Path:
    """Embed the demo's texts afresh with the bundled model and write the file the demo ships.

    Run it when the bundled model or the demo's texts change (it embeds all 13,083 texts, about a
    minute on a laptop, so the example is not run by the doctests):

    >>> write_demo_embeddings()  # doctest: +SKIP
    PosixPath('.../dq/auto/data/banking77/embeddings.npz')
    """
    from dq.auto.embed import embed_texts, model_identity

    texts = demo_frame()["text"].tolist()
    with tempfile.TemporaryDirectory() as tmp:  # a fresh encoding, never vectors from a cache
        vectors = embed_texts(texts, cache_dir=tmp)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as fh:
        np.savez_compressed(
            fh, vectors=vectors, identity=np.array(model_identity()), texts_sha256=np.array(texts_sha256(texts))
        )
    Path(fh.name).chmod(0o644)  # a temporary file is private; the shipped one is data like the CSVs
    Path(fh.name).replace(path)
    return path
