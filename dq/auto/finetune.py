"""``dq auto --fine-tune``: fine-tune the encoder end to end, logging every epoch's outputs in sample.

The default dq auto trains a classifier head over frozen sentence embeddings, cross-fitted. A
fine-tuned encoder is a stronger model and finds more real label errors (Chong et al., EMNLP
2022), at a cost: every epoch is a forward and backward pass through the transformer for every
training text. Cross-fitting K encoders would multiply that by K, so the run is **in sample**
(run.json ``training_outputs``): one model trained on every training sample, its probabilities
logged after each epoch, and DEP reads the training dynamics across the epochs (a wrong label is
learned late, if at all: dq.insights.dep). On a GPU when one is present, else on the CPU.

The run's embeddings stay the frozen sentence embeddings (as in the default mode), so neighbors,
clusters and the 2-D map do not lean towards the labels the model is being fitted to.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dq.auto.train import EpochOutputs
from dq.config import CONFIG

#: Texts scored at a time after each epoch (no gradients: larger batches than training).
_SCORE_BATCH = 64
#: Training steps timed before the run's duration is estimated.
_ESTIMATE_AFTER_STEPS = 10
#: A scoring pass costs about this share of a training pass over the same texts (forward only).
_SCORE_COST = 0.35


@dataclass(frozen=True)
class FineTuneSettings:
    """Optimisation settings of end-to-end fine-tuning."""

    epochs: int = CONFIG.fine_tune_epochs
    seed: int = CONFIG.auto_seed
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_tokens: int = 128
    #: Stop after this many epochs without a lower validation log loss (None: train every epoch).
    patience: int | None = None


def device_name() -> str:
    """``"cuda"`` when a GPU is usable, else ``"cpu"``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def fine_tune(
    train_texts: list[str],
    train_y: np.ndarray,
    n_classes: int,
    *,
    model_path: str,
    other_texts: dict[str, list[str]] | None = None,
    settings: FineTuneSettings = FineTuneSettings(),
    progress: bool = True,
    say: Callable[[str], None] = lambda _msg: None,
    stop_on: tuple[str, np.ndarray] | None = None,
    save_to: str | None = None,
) -> Iterator[EpochOutputs]:
    """Fine-tune the transformer at ``model_path`` with a new classification head; yield each epoch's outputs.

    Every split is scored after every epoch by the model being trained (training outputs are
    in sample). ``say`` hears the device and, after a few steps, an estimate of the time left.
    ``stop_on`` (a split of ``other_texts`` and its class indices) with ``settings.patience`` stops
    early when that split's log loss has not fallen for ``patience`` epochs; ``save_to`` is a
    directory to save the model of the best such epoch (else the last) and its tokenizer in.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup
    from transformers.utils import logging as hf_logging

    torch.manual_seed(settings.seed)
    device = device_name()
    hf_logging.set_verbosity_error()  # "some weights were newly initialised": the head, as intended
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=n_classes).to(device)
    y = torch.from_numpy(np.asarray(train_y, dtype=np.int64))
    steps_per_epoch = -(-len(train_texts) // settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimiser, int(0.06 * total_steps), total_steps)
    shuffler = torch.Generator().manual_seed(settings.seed)
    n_scored = len(train_texts) + sum(len(t) for t in (other_texts or {}).values())

    def encode(texts: list[str]) -> dict[str, torch.Tensor]:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=settings.max_tokens, return_tensors="pt")
        return {k: v.to(device) for k, v in batch.items()}

    say(f"fine-tuning {model_path} on {device}: {settings.epochs} epochs of {steps_per_epoch} steps")
    bar = tqdm(total=total_steps, desc="fine-tuning", unit="step", disable=not progress, leave=False)
    started, step = time.perf_counter(), 0
    best_loss, best_state, stale = float("inf"), None, 0
    for epoch in range(settings.epochs):
        model.train()
        order = torch.randperm(len(train_texts), generator=shuffler)
        for start in range(0, len(order), settings.batch_size):
            idx = order[start : start + settings.batch_size]
            out = model(**encode([train_texts[i] for i in idx.tolist()]), labels=y[idx].to(device))
            optimiser.zero_grad()
            out.loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            bar.update(1)
            if step == _ESTIMATE_AFTER_STEPS:
                per_step = (time.perf_counter() - started) / step
                per_text = per_step / settings.batch_size
                left = per_step * (total_steps - step) + _SCORE_COST * per_text * n_scored * settings.epochs
                say(f"fine-tuning will take about {_duration(left)} more on {device}")
        out = EpochOutputs(
            epoch=epoch,
            train_probs=_score(model, train_texts, encode),
            other_probs={s: _score(model, t, encode) for s, t in (other_texts or {}).items()},
        )
        yield out
        if stop_on is not None and settings.patience is not None:
            probs, y_stop = out.other_probs[stop_on[0]], stop_on[1]
            loss = float(-np.log(np.clip(probs[np.arange(len(y_stop)), y_stop], 1e-12, 1.0)).mean())
            if loss < best_loss:
                best_loss, stale = loss, 0
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            else:
                stale += 1
                if stale >= settings.patience:
                    say(f"stopped early after epoch {epoch}: {stop_on[0]} loss rose for {stale} epochs")
                    break
    bar.close()
    if save_to is not None:
        if best_state is not None:
            model.load_state_dict(best_state)
        model.save_pretrained(save_to)
        tokenizer.save_pretrained(save_to)


def _score(model: Any, texts: list[str], encode: Callable[[list[str]], Any]) -> np.ndarray:
    """Softmax probabilities of ``texts``, scored in batches of similar length (less padding)."""
    import torch

    model.eval()
    order = np.argsort([len(t) for t in texts], kind="stable")
    probs = np.empty((len(texts), model.config.num_labels), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(texts), _SCORE_BATCH):
            rows = order[start : start + _SCORE_BATCH]
            logits = model(**encode([texts[i] for i in rows])).logits
            probs[rows] = torch.softmax(logits.float(), dim=1).cpu().numpy()
    return probs


def _duration(seconds: float) -> str:
    """``"40 s"``, ``"12 min"`` or ``"1.5 h"``.

    >>> _duration(40), _duration(725), _duration(5400)
    ('40 s', '12 min', '1.5 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
