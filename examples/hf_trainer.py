"""Fine-tune MiniLM on BANKING77 with the Hugging Face Trainer and log every epoch with dq.

    python examples/hf_trainer.py          # about a minute on a laptop CPU

``watch(trainer)`` adds a callback: at the end of each epoch it runs the model over the training
and evaluation datasets and logs the classifier's input (the pooled [CLS] vector) and the logits;
the run is finished when training ends. Training itself is unchanged.
"""

from __future__ import annotations

import datasets
import transformers
from _data import banking77, minilm_path, report

from dq.integrations.transformers import watch

EPOCHS = 2
MAX_TOKENS = 48


def main() -> None:
    classes, train, valid = banking77()
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_path())
    # The MiniLM body is pretrained; the classification head on top starts from random weights.
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        minilm_path(),
        num_labels=len(classes),
        id2label=dict(enumerate(classes)),
        label2id={c: i for i, c in enumerate(classes)},
    )

    def encode(frame):  # keeps the text and label columns: dq reads them, the Trainer ignores them
        dataset = datasets.Dataset.from_pandas(frame, preserve_index=False)
        return dataset.map(lambda b: tokenizer(b["text"], truncation=True, max_length=MAX_TOKENS), batched=True)

    args = transformers.TrainingArguments(
        output_dir="/tmp/dq-example-hf",
        num_train_epochs=EPOCHS,
        per_device_train_batch_size=32,
        learning_rate=1e-4,
        seed=0,
        eval_strategy="epoch",
        save_strategy="no",
        report_to=[],
        use_cpu=True,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=encode(train), eval_dataset=encode(valid), processing_class=tokenizer
    )
    callback = watch(trainer, project="examples", run="hf-trainer", overwrite=True)
    trainer.train()
    report(callback.path)


if __name__ == "__main__":
    main()
