"""dq.integrations.transformers: a tiny BERT trained by the Hugging Face Trainer, watched and not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import integrations_common as common  # before transformers: it sets the offline environment
import pytest
import torch
import transformers

from dq.errors import ValidationError
from dq.integrations.transformers import watch


def _trainer(tmp_path: Path, *, with_ids: bool = True) -> transformers.Trainer:
    """A Trainer over a freshly seeded tiny BERT; training has an int ``id`` column, validation none."""
    classes, train, valid = common.banking77_subset()
    tok = common.tokenizer()
    if with_ids:
        train = train.assign(id=range(1000, 1000 + len(train)))

    def encode(frame: Any) -> datasets.Dataset:
        ds = datasets.Dataset.from_pandas(frame, preserve_index=False)
        return ds.map(lambda b: tok(b["text"], truncation=True, max_length=common.MAX_TOKENS), batched=True)

    transformers.set_seed(common.SEED)
    model = transformers.BertForSequenceClassification(common.tiny_bert_config(tok.vocab_size, classes))
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=common.EPOCHS,
        per_device_train_batch_size=16,
        per_device_eval_batch_size=32,
        learning_rate=1e-3,
        seed=common.SEED,
        report_to=[],
        save_strategy="no",
        eval_strategy="epoch",
        logging_strategy="no",
        disable_tqdm=True,
        use_cpu=True,
    )
    return transformers.Trainer(
        model=model, args=args, train_dataset=encode(train), eval_dataset=encode(valid), processing_class=tok
    )


def test_watch_logs_every_epoch_and_leaves_training_unchanged(dq_home: Path, tmp_path: Path) -> None:
    plain = _trainer(tmp_path / "plain")
    plain.train()
    plain_loss = plain.evaluate()["eval_loss"]

    watched = _trainer(tmp_path / "watched")
    callback = watch(watched, project="hf", run="tiny-bert")
    watched.train()

    assert watched.evaluate()["eval_loss"] == plain_loss
    plain_weights, watched_weights = plain.model.state_dict(), watched.model.state_dict()
    assert all(torch.equal(plain_weights[k], watched_weights[k]) for k in plain_weights)

    assert callback.path == dq_home / "runs" / "hf" / "tiny-bert"
    classes = list(watched.model.config.id2label.values())
    run = common.check_run(callback.path, sizes={"training": 100, "validation": 40}, tmp_path=tmp_path, labels=classes)
    assert run.samples("training")["id"].tolist() == list(range(1000, 1100))
    assert run.training_outputs == "in_sample"  # the outputs of the model being trained on them
    assert run.samples("validation")["id"].tolist() == list(range(40))
    # The embedding is the classifier's input, BERT's pooled [CLS] vector (last epoch = final weights).
    rows = watched.train_dataset.select(range(3)).select_columns(["input_ids", "attention_mask", "token_type_ids"])
    batch = watched.data_collator(list(rows))
    watched.model.eval()
    with torch.no_grad():
        pooled = watched.model.bert(**batch).pooler_output
    assert torch.allclose(torch.from_numpy(run.outputs("training", common.EPOCHS - 1).embs[:3]), pooled, atol=1e-5)


def test_watch_decodes_texts_when_the_dataset_has_no_text_column(dq_home: Path, tmp_path: Path) -> None:
    trainer = _trainer(tmp_path)
    raw_texts = trainer.train_dataset["text"]
    trainer.train_dataset = trainer.train_dataset.remove_columns("text")
    callback = watch(trainer)
    decoded = callback.run.samples["training"].texts[:5]
    # The tokenizer is uncased: the decoding is the text lower-cased, spaced around punctuation.
    assert [t.replace(" ", "") for t in decoded] == [t.lower().replace(" ", "") for t in raw_texts[:5]]


def test_watch_refuses_what_it_cannot_log(dq_home: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="'trainer' parameter of watch must be a transformers.Trainer"):
        watch(object())
    trainer = _trainer(tmp_path)
    trainer.train_dataset = trainer.train_dataset.remove_columns("label")
    with pytest.raises(ValidationError, match="must have the label column 'label'"):
        watch(trainer)
    with pytest.raises(ValidationError, match="'batch_size' parameter of watch must be an integer >= 1. Got 0"):
        watch(_trainer(tmp_path), batch_size=0)
