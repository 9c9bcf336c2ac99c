"""Galileo's Keras and TensorFlow notebooks through ``import dq.galileo as dq``, on Keras 3 with the torch
backend (and TensorFlow's, from test_galileo_keras_backends.py): the same dataquality calls in the
same order with the same arguments, on BANKING77 samples with a small Keras model of our own, and the
runs they leave."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Read once, at keras' first import: torch here; test_galileo_keras_backends.py runs this module again
# on TensorFlow's backend in a fresh process.
os.environ.setdefault("KERAS_BACKEND", "torch")

import integrations_common as common  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import dq.galileo as dq  # noqa: E402
from dq.errors import RunStateError, ValidationError  # noqa: E402
from dq.galileo.integrations.legacy.keras import (  # noqa: E402
    DataQualityCallback,
    DataQualityLoggingLayer,
    add_sample_ids,
)
from dq.insights import run_insights  # noqa: E402
from dq.store import Run  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")
MAX_LENGTH = common.MAX_TOKENS


def load_pandas_df() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The notebooks' helper: string labels, ``id = df.index``."""
    classes, train, valid = common.banking77_subset()
    as_named = {"label": lambda f: [classes[i] for i in f["label"]], "id": lambda f: f.index}
    return train.assign(**as_named), valid.reset_index(drop=True).assign(**as_named)


def _inputs(df: pd.DataFrame) -> np.ndarray:
    tok = common.tokenizer()
    return tok(df["text"].tolist(), padding="max_length", max_length=MAX_LENGTH, truncation=True, return_tensors="np")[
        "input_ids"
    ]


def build_model(vocab_size: int, n_labels: int) -> keras.Model:
    input_ids = keras.Input(shape=(MAX_LENGTH + 1,), name="input_ids")
    x = DataQualityLoggingLayer("ids")(input_ids)
    x = keras.layers.Embedding(vocab_size, 16)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    x = DataQualityLoggingLayer("embs")(x)
    x = keras.layers.Dense(n_labels, activation="softmax")(x)
    out = DataQualityLoggingLayer("probs")(x)
    return keras.Model(inputs=input_ids, outputs=out)


def test_keras_notebook(dq_home: Path, tmp_path: Path) -> None:
    keras.utils.set_random_seed(common.SEED)
    train_df, test_df = load_pandas_df()
    labels = train_df.label.unique().tolist()

    dq.init(task_type="text_classification", project_name="text_classification_keras", run_name="example_run")
    dq.set_labels_for_run(labels)
    dq.log_dataset(train_df, split="training")
    dq.log_dataset(test_df, split="test")
    x_train = add_sample_ids(_inputs(train_df), train_df.id.values)
    x_test = add_sample_ids(_inputs(test_df), test_df.id.values)
    y_train = keras.utils.to_categorical([labels.index(v) for v in train_df.label], len(labels))
    y_test = keras.utils.to_categorical([labels.index(v) for v in test_df.label], len(labels))
    model = build_model(common.tokenizer().vocab_size, len(labels))
    model.compile(
        loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"], run_eagerly=True
    )
    model.fit(
        x_train, y_train, batch_size=16, epochs=common.EPOCHS, validation_data=(x_test, y_test),
        callbacks=[DataQualityCallback()], verbose=0,
    )  # fmt: skip
    path = dq.finish()

    run = Run(path)
    assert run.splits == ["training", "test"] and run.labels == labels
    assert run.epochs("training") == run.epochs("test") == [0, 1]
    assert run.samples("training")["id"].tolist() == train_df.id.tolist()
    assert run.meta["outputs_logged_as"] == "probs" and run.meta["embedding_dim"] == 16
    # The test batches were logged under their own ids: the last epoch's probabilities are the model's.
    np.testing.assert_allclose(run.probs("test", 1), model.predict(x_test, verbose=0), atol=1e-5)
    assert run_insights(run)["training"].frame["dep"].notna().all()


def test_tensorflow_notebook_flow_on_keras(dq_home: Path) -> None:
    """The TensorFlow notebook: a custom training loop whose model's call logs its own outputs with the
    session's split and epoch (``dq.log_model_outputs(embs=..., logits=..., ids=...)``)."""
    keras.utils.set_random_seed(common.SEED)
    train_df, test_df = load_pandas_df()
    labels = train_df.label.unique().tolist()

    class TextClassificationModel(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.embed = keras.layers.Embedding(common.tokenizer().vocab_size, 16)
            self.pool = keras.layers.GlobalAveragePooling1D()
            self.classifier = keras.layers.Dense(len(labels))

        def call(self, x, ids):  # noqa: ANN001, ANN201
            embeddings = self.pool(self.embed(x))
            logits = self.classifier(embeddings)
            dq.log_model_outputs(embs=embeddings, logits=logits, ids=ids)
            return logits

    dq.init(task_type="text_classification", project_name="text_classification_tensorflow", run_name="example_run")
    dq.set_labels_for_run(labels)
    dq.log_dataset(train_df, split="training")
    dq.log_dataset(test_df, split="test")
    model = TextClassificationModel()
    data = {"training": (_inputs(train_df), train_df.id.values), "test": (_inputs(test_df), test_df.id.values)}
    for epoch in range(common.EPOCHS):
        dq.set_epoch(epoch)
        for split in ("training", "test"):
            dq.set_split(split)
            x, ids = data[split]
            for start in range(0, len(x), 4):
                model(keras.ops.convert_to_tensor(x[start : start + 4]), ids=ids[start : start + 4])
    run = Run(dq.finish())
    assert run.splits == ["training", "test"] and run.epochs("test") == [0, 1]
    assert run.n_samples("training") == 100 and run.meta["embedding_dim"] == 16


def test_keras_layer_errors(dq_home: Path) -> None:
    with pytest.raises(ValidationError, match="what_to_log"):
        DataQualityLoggingLayer("logits")
    with pytest.raises(ValidationError, match="integers"):
        add_sample_ids(np.zeros((2, 3)), [0.5, 1.5])
    dq.init(task_type="text_classification", project_name="p", run_name="r")
    callback = DataQualityCallback()
    callback.on_train_batch_begin(0)  # a batch in which no logging layer saw values
    with pytest.raises(RunStateError, match="run_eagerly"):
        callback.on_train_batch_end(0)
