"""Few-shot SetFit on BANKING77 (MiniLM body), logged per epoch of the body's fine-tuning with dq.

    python examples/setfit_model.py        # a few minutes on a laptop CPU

At the end of every body epoch, ``watch(trainer)`` logs the sentence embeddings and the
probabilities of a copy of the scikit-learn head fitted on that epoch's training embeddings
(the model's own head is fitted by SetFit after the body, as usual).
"""

from __future__ import annotations

import datasets
import setfit
from _data import banking77, minilm_path, report

from dq.integrations.setfit import watch

EPOCHS = 2
SHOTS = 8  # training samples per class: SetFit is made for few labels
PAIRS_PER_SAMPLE = 2  # SetFit's num_iterations: contrastive pairs drawn per sample and epoch
MAX_TOKENS = 48


def main() -> None:
    classes, train, valid = banking77()
    train = train.groupby("label").head(SHOTS).reset_index(drop=True)
    model = setfit.SetFitModel.from_pretrained(minilm_path(), labels=classes, device="cpu")
    model.model_body.max_seq_length = MAX_TOKENS
    args = setfit.TrainingArguments(
        output_dir="/tmp/dq-example-setfit",
        batch_size=32,
        num_epochs=EPOCHS,
        num_iterations=PAIRS_PER_SAMPLE,
        seed=0,
        report_to="none",
        save_strategy="no",
    )
    trainer = setfit.Trainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_pandas(train),
        eval_dataset=datasets.Dataset.from_pandas(valid),
    )
    callback = watch(trainer, project="examples", run="setfit-model", overwrite=True)
    trainer.train()
    report(callback.path)


if __name__ == "__main__":
    main()
