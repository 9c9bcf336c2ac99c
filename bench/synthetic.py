"""Large synthetic runs with planted label errors, logged through the public client.

The data imitates a banking-intents classifier trained on noisy labels:

* 20 classes (by default), each a mixture of 2-3 gaussian blobs on the unit sphere; a few class
  pairs share a blob region, and samples of those blobs lie anywhere between the two classes.
* Short texts (5-20 words) from class-specific and shared vocabularies, ~1% exact duplicates
  (same text, same embedding, labels flipped independently, so some duplicates disagree).
* ``noise`` of the labels flipped (half to a confusable class, half to any other class); the text
  and embedding keep the true class.
* Per-epoch logits: similarity to the class blobs times a temperature that grows with the epoch,
  plus a growing "fit the given label" term scaled by a per-sample memorisation propensity, plus
  noise. Clean easy samples grow confident; flipped samples put most mass on their true class
  while some memorise the wrong label by the last epoch; overlap samples stay uncertain.

Everything is generated in blocks of ``BLOCK`` rows seeded by ``(seed, block)``, so the data does
not depend on the logging batch size, a smaller run is a prefix of a larger one with the same
seed, and embeddings are regenerated per epoch instead of kept: memory stays at a few batches.

    .venv/bin/python bench/synthetic.py --n 100000 --home /tmp/dq-bench-home
    .venv/bin/python bench/synthetic.py --n 1000000 --home /tmp/dq-bench-home --read-back
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dq  # noqa: E402
import dq.client  # noqa: E402
from dq.config import runs_root  # noqa: E402
from dq.store import Run  # noqa: E402

#: Version of the generator; part of the default run name so a changed generator never reuses old runs.
GENERATOR = "v1"
#: Rows per generation block: the unit of seeding (independent of the logging batch size).
BLOCK = 10_000
SPLIT = "training"

INTENTS: dict[str, tuple[str, ...]] = {
    "card_payment": ("card", "payment", "charged", "merchant", "shop", "purchase", "pending"),
    "declined_payment": ("declined", "payment", "card", "rejected", "merchant", "failed", "shop"),
    "refund": ("refund", "return", "money", "back", "seller", "item", "waiting"),
    "transfer": ("transfer", "sent", "recipient", "arrived", "iban", "beneficiary", "wire"),
    "direct_debit": ("direct", "debit", "mandate", "recurring", "collected", "company", "bill"),
    "atm": ("atm", "machine", "cash", "swallowed", "street", "screen", "withdraw"),
    "cash_withdrawal": ("cash", "withdraw", "withdrawal", "atm", "limit", "notes", "amount"),
    "lost_card": ("lost", "card", "stolen", "missing", "found", "replace", "wallet"),
    "account_blocked": ("blocked", "account", "locked", "frozen", "access", "suspended", "unlock"),
    "exchange_rate": ("exchange", "rate", "currency", "euro", "dollar", "conversion", "abroad"),
    "top_up": ("top", "up", "topup", "add", "funds", "balance", "deposit"),
    "pin": ("pin", "code", "forgot", "reset", "digits", "change", "wrong"),
    "fees": ("fee", "fees", "charge", "extra", "commission", "cost", "free"),
    "verify_identity": ("verify", "identity", "passport", "selfie", "document", "id", "check"),
    "change_address": ("address", "change", "moved", "new", "house", "update", "postcode"),
    "virtual_card": ("virtual", "card", "online", "disposable", "create", "generate", "digital"),
    "contactless": ("contactless", "tap", "nfc", "terminal", "limit", "pay", "wave"),
    "apple_pay": ("apple", "pay", "google", "phone", "wallet", "watch", "add"),
    "statement": ("statement", "pdf", "monthly", "download", "history", "transactions", "export"),
    "close_account": ("close", "account", "delete", "leave", "cancel", "terminate", "goodbye"),
}
SHARED_WORDS = (
    "i my the a to is was it please help why how can you do not still yet today yesterday "
    "week app bank account money need what did been has this when again urgent thanks hi "
    "hello just got for on in with me there any way know tell where long should would"
).split()
#: Class pairs whose embeddings share a blob region (and half their vocabulary).
OVERLAP_PAIRS = (
    ("card_payment", "declined_payment"),
    ("atm", "cash_withdrawal"),
    ("lost_card", "account_blocked"),
    ("transfer", "direct_debit"),
)
CHANNELS = np.array(["app", "web", "phone", "email"], dtype=object)


@dataclass(frozen=True)
class SynthConfig:
    """Shape of the synthetic data and of its training dynamics."""

    blob_spread: float = 0.8  # distance of a class's blobs from the class centre
    overlap_cos: float = 0.75  # how close the shared blob of an overlapping pair sits to its partner
    overlap_reach: float = 0.7  # samples of a shared blob go up to this fraction of the way to the partner
    sample_noise_log_mean: float = 0.0  # per-sample noise scale is lognormal(mean, sigma)
    sample_noise_log_sigma: float = 0.45
    min_words: int = 5
    max_words: int = 20
    class_word_share: float = 0.45  # chance a word comes from the class vocabulary
    duplicate_share: float = 0.01
    flip_to_confusable: float = 0.5  # share of flips that go to the class's confusable class
    temperature_first: float = 4.5  # logit scale on blob similarity, first and last epoch
    temperature_last: float = 9.0
    fit_last: float = 8.0  # weight of the given label at the last epoch (grows quadratically)
    logit_noise: float = 1.0


CFG = SynthConfig()


@dataclass(frozen=True)
class _World:
    """The fixed structure shared by every block: classes, blobs, vocabulary."""

    labels: list[str]
    prior: np.ndarray  # (C,) class frequencies
    blob_centers: np.ndarray  # (B, dim) float32, blobs of a class contiguous
    blob_class: np.ndarray  # (B,) class of each blob
    blob_starts: np.ndarray  # (C,) first blob of each class
    blob_counts: np.ndarray  # (C,)
    blob_partner: np.ndarray  # (B,) blob this blob overlaps with, or -1
    confusable: np.ndarray  # (C,) where a "confusable" flip goes
    vocab: np.ndarray  # object array of words: shared words first, then class words
    class_word_start: np.ndarray  # (C,)
    class_word_count: np.ndarray  # (C,)


@dataclass
class _Block:
    """One block's samples (structure only, no embeddings)."""

    true: np.ndarray
    given: np.ndarray
    flipped: np.ndarray
    blob: np.ndarray
    scale: np.ndarray  # per-sample embedding noise scale
    reach: np.ndarray  # 0 unless the blob is shared: how far towards the partner blob
    memo: np.ndarray  # propensity to memorise the given label, in (0, 1)
    dup_of: np.ndarray  # (k, 2): rows that copy another row of the block (target, source)
    channel: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _world(n_classes: int, dim: int, seed: int) -> _World:
    rng = np.random.default_rng([seed, 0])
    names = list(INTENTS)
    labels = names[:n_classes] + [f"intent_{i}" for i in range(len(names), n_classes)]
    index = {name: i for i, name in enumerate(labels)}
    prior = rng.uniform(1.0, 3.0, n_classes)
    prior /= prior.sum()
    counts = rng.integers(2, 4, n_classes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    centres = _unit(rng.standard_normal((n_classes, dim)))
    blob_class = np.repeat(np.arange(n_classes), counts)
    blobs = _unit(centres[blob_class] + CFG.blob_spread * rng.standard_normal((len(blob_class), dim)) / np.sqrt(dim))
    partner = np.full(len(blob_class), -1)
    confusable = (np.arange(n_classes) + rng.integers(1, n_classes, n_classes)) % n_classes
    for a, b in OVERLAP_PAIRS:
        if a in index and b in index:
            ba, bb = starts[index[a]], starts[index[b]]
            # Put b's first blob at cosine ~overlap_cos from a's first blob.
            ortho = _unit(blobs[bb] - (blobs[bb] @ blobs[ba]) * blobs[ba])
            blobs[bb] = CFG.overlap_cos * blobs[ba] + np.sqrt(1 - CFG.overlap_cos**2) * ortho
            partner[ba], partner[bb] = bb, ba
            confusable[index[a]], confusable[index[b]] = index[b], index[a]
    words = list(SHARED_WORDS)
    word_start, word_count = [], []
    partner_of = {x: y for a, b in OVERLAP_PAIRS for x, y in ((a, b), (b, a))}
    for name in labels:
        own = list(INTENTS.get(name, tuple(f"{name}_w{j}" for j in range(7))))
        shared = list(INTENTS.get(partner_of.get(name, ""), ()))[:3]
        word_start.append(len(words))
        word_count.append(len(own) + len(shared))
        words += own + shared
    return _World(
        labels,
        prior,
        blobs.astype(np.float32),
        blob_class,
        starts,
        counts,
        partner,
        confusable,
        np.array(words, dtype=object),
        np.array(word_start),
        np.array(word_count),
    )


def _block(world: _World, seed: int, k: int, noise: float) -> _Block:
    rng = np.random.default_rng([seed, 1, k])
    c = len(world.labels)
    true = rng.choice(c, size=BLOCK, p=world.prior)
    blob = world.blob_starts[true] + (rng.random(BLOCK) * world.blob_counts[true]).astype(np.int64)
    scale = rng.lognormal(CFG.sample_noise_log_mean, CFG.sample_noise_log_sigma, BLOCK)
    reach = np.where(world.blob_partner[blob] >= 0, CFG.overlap_reach * rng.beta(1.5, 2.0, BLOCK), 0.0)
    memo = rng.beta(2.0, 3.0, BLOCK)
    channel = CHANNELS[rng.integers(0, len(CHANNELS), BLOCK)]
    order = rng.permutation(BLOCK)
    n_dup = int(round(CFG.duplicate_share * BLOCK))
    dup_of = np.stack([order[:n_dup], order[n_dup : 2 * n_dup]], axis=1)
    for arr in (true, blob, scale, reach):
        arr[dup_of[:, 0]] = arr[dup_of[:, 1]]
    flipped = np.zeros(BLOCK, dtype=bool)
    flipped[rng.choice(BLOCK, size=int(round(noise * BLOCK)), replace=False)] = True
    anywhere = (true + rng.integers(1, c, BLOCK)) % c
    to_confusable = rng.random(BLOCK) < CFG.flip_to_confusable
    given = np.where(flipped, np.where(to_confusable, world.confusable[true], anywhere), true)
    return _Block(true, given, flipped, blob, scale, reach, memo, dup_of, channel)


def _texts(world: _World, blk: _Block, seed: int, k: int) -> list[str]:
    rng = np.random.default_rng([seed, 2, k])
    width = CFG.max_words
    lengths = rng.integers(CFG.min_words, CFG.max_words + 1, BLOCK)
    own = world.class_word_start[blk.true][:, None] + (
        rng.random((BLOCK, width)) * world.class_word_count[blk.true][:, None]
    ).astype(np.int64)
    shared = rng.integers(0, len(SHARED_WORDS), (BLOCK, width))
    idx = np.where(rng.random((BLOCK, width)) < CFG.class_word_share, own, shared)
    idx[blk.dup_of[:, 0]] = idx[blk.dup_of[:, 1]]
    lengths[blk.dup_of[:, 0]] = lengths[blk.dup_of[:, 1]]
    words = world.vocab[idx]
    return [" ".join(row[:n]) for row, n in zip(words.tolist(), lengths.tolist())]


def _embs(world: _World, blk: _Block, seed: int, k: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 3, k])
    dim = world.blob_centers.shape[1]
    g = rng.standard_normal((BLOCK, dim), dtype=np.float32)
    g[blk.dup_of[:, 0]] = g[blk.dup_of[:, 1]]
    g *= (blk.scale / np.sqrt(dim)).astype(np.float32)[:, None]
    g += world.blob_centers[blk.blob]
    shared = np.flatnonzero(blk.reach > 0)
    toward = world.blob_centers[world.blob_partner[blk.blob[shared]]] - world.blob_centers[blk.blob[shared]]
    g[shared] += blk.reach[shared, None].astype(np.float32) * toward
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    return g


def _logits(world: _World, blk: _Block, embs: np.ndarray, seed: int, k: int, epoch: int, epochs: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 4, k, epoch])
    progress = (epoch + 1) / epochs
    temperature = CFG.temperature_first + (CFG.temperature_last - CFG.temperature_first) * (epoch / max(epochs - 1, 1))
    sims = np.maximum.reduceat(embs @ world.blob_centers.T, world.blob_starts, axis=1)
    logits = temperature * sims + CFG.logit_noise * rng.standard_normal(sims.shape, dtype=np.float32)
    logits[np.arange(len(blk.given)), blk.given] += CFG.fit_last * progress**2 * blk.memo
    return logits


def _batches(n: int, batch: int) -> list[tuple[int, int]]:
    """Logging batches as ranges of blocks; each batch is a whole number of blocks."""
    per = max(1, -(-batch // BLOCK))
    n_blocks = -(-n // BLOCK)
    return [(b, min(b + per, n_blocks)) for b in range(0, n_blocks, per)]


def _rows(n: int, k: int) -> int:
    return min(BLOCK, n - k * BLOCK)


def default_run_name(
    n: int, *, n_classes: int = 20, dim: int = 384, epochs: int = 3, noise: float = 0.1, seed: int = 0
) -> str:
    """The run name ``make_run`` uses unless told otherwise: every generation setting is in it."""
    return f"synth-{GENERATOR}-n{n}-c{n_classes}-d{dim}-e{epochs}-noise{noise:g}-s{seed}"


def planted_errors(n: int, *, n_classes: int = 20, dim: int = 384, noise: float = 0.1, seed: int = 0) -> np.ndarray:
    """The boolean mask of flipped labels of a synthetic run, regenerated without its embeddings."""
    world = _world(n_classes, dim, seed)
    mask = np.concatenate([_block(world, seed, k, noise).flipped for k in range(-(-n // BLOCK))])
    return mask[:n]


def embeddings(n: int, *, n_classes: int = 20, dim: int = 384, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` embeddings of a synthetic run (float32 unit rows, as make_run logs them) and the
    blob each was drawn from; for tests of the neighbour search on this data's tight blobs."""
    world = _world(n_classes, dim, seed)
    blocks = [_block(world, seed, k, 0.1) for k in range(-(-n // BLOCK))]
    embs = np.concatenate([_embs(world, blk, seed, k) for k, blk in enumerate(blocks)])[:n]
    return np.ascontiguousarray(embs, dtype=np.float32), np.concatenate([blk.blob for blk in blocks])[:n]


def make_run(
    n: int,
    *,
    home: str | Path,
    n_classes: int = 20,
    dim: int = 384,
    epochs: int = 3,
    noise: float = 0.1,
    seed: int = 0,
    batch: int = 50_000,
    project: str = "synthetic",
    run: str | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[Path, np.ndarray]:
    """Log a synthetic run of ``n`` training samples through ``dq``; return its directory and planted errors.

    The mask is True where the logged label was flipped away from the true class (about
    ``noise`` of the samples). ``batch`` rows go into each ``log_data_samples`` /
    ``log_model_outputs`` call (rounded up to whole blocks of ``BLOCK`` rows); it does not
    change the data. Refuses to overwrite an existing run (``dq.errors.RunExistsError``).
    ``timings``, when given, receives the seconds spent in each ``dq`` call (``log_data_samples``,
    ``log_model_outputs``, ``finish``) and in generating the data (``generate``).

    Examples
    --------
    >>> import tempfile
    >>> path, flipped = make_run(20_000, home=tempfile.mkdtemp(), dim=32, epochs=2)
    >>> Run(path).n_samples("training"), int(flipped.sum())
    (20000, 2000)
    """
    if n < 1 or n_classes < 2 or dim < 2 or epochs < 1 or not 0 <= noise < 1:
        raise ValueError(
            f"make_run needs n >= 1, n_classes >= 2, dim >= 2, epochs >= 1 and "
            f"0 <= noise < 1. Got n={n}, n_classes={n_classes}, dim={dim}, "
            f"epochs={epochs}, noise={noise} instead."
        )
    world = _world(n_classes, dim, seed)
    run = run or default_run_name(n, n_classes=n_classes, dim=dim, epochs=epochs, noise=noise, seed=seed)
    clock = {"generate": 0.0, "log_data_samples": 0.0, "log_model_outputs": 0.0, "finish": 0.0}
    tick = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        clock[name] += now - tick
        tick = now

    dq.init(project=project, run=run, labels=world.labels, home=home)
    mask = np.empty(n, dtype=bool)
    labels = np.array(world.labels, dtype=object)
    try:
        for first, last in _batches(n, batch):
            texts, given, channel = [], [], []
            for k in range(first, last):
                blk, rows = _block(world, seed, k, noise), _rows(n, k)
                texts += _texts(world, blk, seed, k)[:rows]
                given.append(labels[blk.given[:rows]])
                channel.append(blk.channel[:rows])
                mask[k * BLOCK : k * BLOCK + rows] = blk.flipped[:rows]
            ids = np.arange(first * BLOCK, first * BLOCK + len(texts), dtype=np.int64)
            given_b, channel_b = np.concatenate(given), np.concatenate(channel)
            lap("generate")
            dq.log_data_samples(texts=texts, labels=given_b, ids=ids, split=SPLIT, meta={"channel": channel_b})
            lap("log_data_samples")
        for epoch in range(epochs):
            for first, last in _batches(n, batch):
                embs, logits = [], []
                for k in range(first, last):
                    blk, rows = _block(world, seed, k, noise), _rows(n, k)
                    e = _embs(world, blk, seed, k)
                    logits.append(_logits(world, blk, e, seed, k, epoch, epochs)[:rows])
                    embs.append(e[:rows])
                embs_b, logits_b = np.concatenate(embs), np.concatenate(logits)
                del embs, logits
                ids = np.arange(first * BLOCK, first * BLOCK + len(embs_b), dtype=np.int64)
                lap("generate")
                dq.log_model_outputs(ids=ids, embs=embs_b, logits=logits_b, split=SPLIT, epoch=epoch)
                lap("log_model_outputs")
                del embs_b, logits_b
        path = dq.finish()
        lap("finish")
    except BaseException:
        # The client has no public abort; drop this process's staging directory like dq auto does.
        if dq.client._current is not None:
            dq.client._current.abort()
            dq.client._current = None
        raise
    if timings is not None:
        timings.update(clock)
    return path, mask


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024**2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n")[-1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=100_000, help="training samples (default 100000)")
    parser.add_argument("--home", type=Path, required=True, help="dq home to put the run under")
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.1, help="share of labels flipped")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=50_000, help="rows per logging call")
    parser.add_argument("--project", default="synthetic")
    parser.add_argument("--run", default=None, help="run name (default: from the settings)")
    parser.add_argument(
        "--read-back",
        action="store_true",
        help="time Run.outputs of the last epoch (and its peak RSS) after building or reusing",
    )
    args = parser.parse_args(argv)
    name = args.run or default_run_name(
        args.n, n_classes=args.classes, dim=args.dim, epochs=args.epochs, noise=args.noise, seed=args.seed
    )
    path = runs_root(args.home.expanduser()) / args.project / name
    if (path / "run.json").exists():
        print(f"reusing finished run ({_disk_mb(path):.0f} MB on disk)", file=sys.stderr)
    else:
        start, clock = time.perf_counter(), {}
        path, mask = make_run(
            args.n,
            home=args.home,
            n_classes=args.classes,
            dim=args.dim,
            epochs=args.epochs,
            noise=args.noise,
            seed=args.seed,
            batch=args.batch,
            project=args.project,
            run=name,
            timings=clock,
        )
        print(
            f"logged {args.n} samples x {args.epochs} epochs x {args.dim}-d in {time.perf_counter() - start:.1f} s "
            f"({', '.join(f'{k} {v:.1f} s' for k, v in clock.items())}), peak RSS {_peak_rss_mb():.0f} MB, "
            f"{_disk_mb(path):.0f} MB on disk, {int(mask.sum())} planted errors",
            file=sys.stderr,
        )
    if args.read_back:
        before = _peak_rss_mb()
        start = time.perf_counter()
        out = Run(path).outputs(SPLIT)
        print(
            f"Run.outputs (last epoch): {time.perf_counter() - start:.1f} s, peak RSS {_peak_rss_mb():.0f} MB "
            f"(before {before:.0f} MB; arrays {(out.probs.nbytes + out.embs.nbytes) / 1024**2:.0f} MB)",
            file=sys.stderr,
        )
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
