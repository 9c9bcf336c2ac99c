"""Galileo's Hugging Face Trainer notebook and its dq.auto notebook through ``import dq.galileo as dq``.

Each test follows its notebook's flow — the same dataquality calls in the same order with the same
arguments — on BANKING77 samples (offline, the bundled MiniLM), and checks the run it leaves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import integrations_common as common  # before transformers: it sets the offline environment
import numpy as np
import pandas as pd
import transformers

import dq.galileo as dq
from dq.galileo.integrations.transformers_trainer import watch
from dq.insights import run_insights
from dq.store import Run


def test_huggingface_trainer_notebook(dq_home: Path, tmp_path: Path) -> None:
    classes, _, _ = common.banking77_subset()
    ds = common.class_label_data(classes).map(lambda x, idx: {"id": idx}, with_indices=True)
    train_dataset, test_dataset = ds["train"], ds["test"]
    labels = train_dataset.features["label"].names
    tokenizer = common.tokenizer()

    dq.init(task_type="text_classification", project_name="text_classification_huggingface", run_name="example_run")
    dq.set_labels_for_run(labels)
    dq.log_dataset(train_dataset, split="train")
    dq.log_dataset(test_dataset, split="validation")

    def tokenize(batch: dict[str, Any]) -> Any:
        return tokenizer(batch["text"], padding="max_length", max_length=common.MAX_TOKENS, truncation=True)

    encoded_train = train_dataset.map(tokenize, batched=True)
    encoded_test = test_dataset.map(tokenize, batched=True)
    transformers.set_seed(common.SEED)
    model = transformers.BertForSequenceClassification(common.tiny_bert_config(tokenizer.vocab_size, classes))

    def compute_metrics(pred: Any) -> dict[str, float]:
        return {"accuracy": float((pred.predictions.argmax(-1) == pred.label_ids).mean())}

    args = transformers.TrainingArguments(
        str(tmp_path / "finetuned"), eval_strategy="epoch", save_strategy="epoch", learning_rate=3e-4,
        per_device_train_batch_size=64, per_device_eval_batch_size=64, num_train_epochs=common.EPOCHS,
        weight_decay=0.01, load_best_model_at_end=True, metric_for_best_model="accuracy", push_to_hub=False,
        report_to="none", seed=42, data_seed=42, use_cpu=True,
    )  # fmt: skip
    trainer = transformers.Trainer(
        model, args, train_dataset=encoded_train, eval_dataset=encoded_test, processing_class=tokenizer,
        compute_metrics=compute_metrics,
    )  # fmt: skip
    watch(trainer)
    trainer.train()
    # Beyond the notebook: after training the split is test (dataquality's on_train_end), so predicting
    # on logged test data logs it.
    dq.log_dataset(test_dataset, split="test")
    trainer.predict(encoded_test)
    path = dq.finish()

    run = Run(path)
    assert run.splits == ["training", "validation", "test"] and run.labels == classes
    assert run.epochs("training") == run.epochs("validation") == [0, 1]
    assert run.n_samples("training") == 100 and run.n_samples("test") == 40
    assert run.samples("training")["label"].tolist() == [classes[i] for i in train_dataset["label"]]
    assert run_insights(run)["training"].frame["dep"].notna().all()


def test_dq_auto_notebook_then_inference_into_the_same_run(dq_home: Path, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    classes, train, valid = common.banking77_subset()
    # text, label (class index), as the notebook's newsgroups; a quarter of it held out, then split again
    df = pd.concat([train.groupby("label").head(10), valid], ignore_index=True)
    df_train, df_test = df.iloc[:50], df.iloc[50:]
    df_val, df_inf = df_test.iloc[:20], df_test.iloc[20:]

    t = dq.auto(
        train_data=df_train, test_data=df_test, val_data=df_val, inference_data={"inference_test": df_inf},
        labels=classes, project_name="newsgroups_work", run_name="run_1_raw_data",
    )  # fmt: skip
    t.save_model("finetuned_hf_model")

    run = Run(dq_home / "runs" / "newsgroups_work" / "run_1_raw_data")
    assert run.splits == ["training", "validation", "test", "inference=inference_test"]
    assert run.labels == classes and run.training_outputs == "in_sample"
    assert 1 <= len(run.epochs("training")) <= 15  # early stopping on the validation loss

    # Part 2 of the notebook: the saved model scores new data, logged into the same run.
    model = transformers.AutoModelForSequenceClassification.from_pretrained("finetuned_hf_model")
    tokenizer = transformers.AutoTokenizer.from_pretrained("finetuned_hf_model")
    sample = df.sample(20, random_state=0)
    ds = datasets.Dataset.from_pandas(sample, preserve_index=False).map(lambda x, idx: {"id": idx}, with_indices=True)
    dq.init(task_type="text_classification", project_name="newsgroups_work", run_name="run_1_raw_data")
    dq.log_dataset(ds, split="inference", inference_name="inference_foo_bar")
    ds = ds.map(lambda batch: tokenizer(batch["text"], padding="max_length", truncation=True), batched=True)
    dq.set_labels_for_run(labels=classes)
    trainer = transformers.Trainer(model, args=transformers.TrainingArguments(str(tmp_path / "out"), report_to="none"))
    watch(trainer)
    dq.set_split("inference", inference_name="inference_foo_bar")
    predictions = trainer.predict(test_dataset=ds)
    path = dq.finish()

    extended = Run(path)
    assert extended.splits == [
        "training",
        "validation",
        "test",
        "inference=inference_foo_bar",
        "inference=inference_test",
    ]
    assert extended.verify()
    np.testing.assert_allclose(
        extended.probs("inference=inference_foo_bar"),
        np.exp(predictions.predictions) / np.exp(predictions.predictions).sum(1, keepdims=True),
        atol=1e-4,
    )
    assert extended.samples("inference=inference_foo_bar")["label"].isna().all()  # no ground truth kept
    results = run_insights(extended)
    inference = results["inference=inference_foo_bar"].frame
    assert len(inference) == 20 and inference["pred"].isin(classes).all()
    assert not inference["is_mislabeled"].any() and inference["suggested_label"].isna().all()  # no labels
    # The new set sits in the run's embedding space (its texts' sentence embeddings): the samples that
    # come from the training data are found there, in coverage.
    from_training = inference["text"].isin(df_train["text"]).to_numpy()
    assert from_training.any() and not inference["is_out_of_coverage"].to_numpy()[from_training].any()
