"""Galileo's TensorFlow notebook through ``import dq.galileo as dq``, with real TensorFlow (CPU build).

The notebook's flow — the same dataquality calls in the same order with the same arguments — with a
custom training loop (``tf.GradientTape``) whose model logs its own outputs, TensorFlow tensors, in
its call. Our model is a small TensorFlow module (embedding bag and a dense classifier), not the
notebook's DistilBERT; the data is BANKING77 samples.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import integrations_common as common  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402

import dq.galileo as dq  # noqa: E402
from dq.insights import run_insights  # noqa: E402
from dq.store import Run  # noqa: E402


class TextClassificationModel(tf.Module):
    """Mean of token embeddings (the sample's embedding), then a dense layer (the logits)."""

    def __init__(self, vocab_size: int, num_labels: int) -> None:
        super().__init__()
        rng = tf.random.Generator.from_seed(common.SEED)
        self.embeddings = tf.Variable(rng.normal((vocab_size, 16), stddev=0.1))
        self.weights = tf.Variable(rng.normal((16, num_labels), stddev=0.1))
        self.bias = tf.Variable(tf.zeros((num_labels,)))

    def outputs(self, input_ids: tf.Tensor, attention_mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        mask = tf.cast(attention_mask, tf.float32)[:, :, None]
        tokens = tf.nn.embedding_lookup(self.embeddings, input_ids)
        embeddings = tf.reduce_sum(tokens * mask, axis=1) / tf.reduce_sum(mask, axis=1)
        return embeddings, embeddings @ self.weights + self.bias

    def __call__(self, input_ids: tf.Tensor, attention_mask: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
        embeddings, logits = self.outputs(input_ids, attention_mask)
        dq.log_model_outputs(embs=embeddings, logits=logits, ids=ids)  # TensorFlow tensors, as they are
        return logits


def test_tensorflow_notebook(dq_home: Path) -> None:
    classes, train, valid = common.banking77_subset()
    train_df = train.assign(label=[classes[i] for i in train["label"]], id=train.index)
    test_df = valid.reset_index(drop=True).assign(label=[classes[i] for i in valid["label"]], id=lambda f: f.index)
    labels = train_df.label.unique().tolist()

    dq.init(task_type="text_classification", project_name="text_classification_tensorflow", run_name="example_run")
    dq.set_labels_for_run(labels)
    dq.log_dataset(train_df, split="training")
    dq.log_dataset(test_df, split="test")

    tok = common.tokenizer()

    def dataset(df: pd.DataFrame) -> tf.data.Dataset:
        inputs = dict(tok(df["text"].tolist(), truncation=True, padding=True, max_length=common.MAX_TOKENS))
        inputs = {k: inputs[k] for k in ("input_ids", "attention_mask")}
        inputs["label"] = [labels.index(v) for v in df["label"]]
        inputs["uuid"] = df["id"].tolist()
        return tf.data.Dataset.from_tensor_slices(inputs).batch(4)

    train_ds, test_ds = dataset(train_df), dataset(test_df)
    model = TextClassificationModel(tok.vocab_size, len(labels))
    # Plain TensorFlow (no tf.keras: in a process where Keras runs on another backend it is not TensorFlow's).
    for epoch in range(common.EPOCHS):
        dq.set_epoch(epoch)
        dq.set_split("training")
        for batch in train_ds:
            with tf.GradientTape() as tape:
                logits = model(batch["input_ids"], batch["attention_mask"], ids=batch["uuid"])
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=batch["label"], logits=logits)
                )
            variables = [model.embeddings, model.weights, model.bias]
            for variable, gradient in zip(variables, tape.gradient(loss, variables)):
                variable.assign_sub(0.5 * tf.convert_to_tensor(gradient))
        dq.set_split("test")
        for batch in test_ds:
            model(batch["input_ids"], batch["attention_mask"], ids=batch["uuid"])
    path = dq.finish()

    run = Run(path)
    assert run.splits == ["training", "test"] and run.labels == labels
    assert run.epochs("training") == run.epochs("test") == [0, 1]
    assert run.samples("test")["id"].tolist() == test_df["id"].tolist()
    assert run.meta["embedding_dim"] == 16
    # Every test sample's logged probabilities are the trained model's (the batches kept their ids).
    last = next(iter(test_ds.unbatch().batch(len(test_df))))
    expected = tf.nn.softmax(model.outputs(last["input_ids"], last["attention_mask"])[1]).numpy()
    np.testing.assert_allclose(run.probs("test", 1), expected, atol=1e-5)
    assert run_insights(run)["training"].frame["dep"].notna().all()
