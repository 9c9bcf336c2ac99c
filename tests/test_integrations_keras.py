"""dq.integrations.keras: a tiny Keras 3 model on the torch backend (no TensorFlow), logged by DQCallback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Keras reads its backend once, at its first import: before anything imports keras.
os.environ["KERAS_BACKEND"] = "torch"

import integrations_common as common  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from dq.errors import ValidationError  # noqa: E402
from dq.integrations.keras import DQCallback, SplitData  # noqa: E402

EMB_DIM = 16

# Keras' torch backend converts tensors with np.array(x, copy=False) internally (its warning, not ours).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def _bag_of_tokens(vocab_size: int, n_classes: int, *, activation: str | None = "softmax") -> keras.Model:
    keras.utils.set_random_seed(common.SEED)
    inputs = keras.Input(shape=(common.MAX_TOKENS,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, EMB_DIM)(inputs)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = keras.layers.Dense(n_classes, activation=activation)(x)
    model = keras.Model(inputs, outputs)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=activation is None)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    return model


def _token_ids(texts: list[str]) -> np.ndarray:
    enc = common.tokenizer()(texts, truncation=True, max_length=common.MAX_TOKENS, padding="max_length")
    return np.asarray(enc["input_ids"], dtype="int32")


def test_callback_logs_every_epoch_and_split(dq_home: Path, tmp_path: Path) -> None:
    assert keras.backend.backend() == "torch"
    classes, train, valid = common.banking77_subset()
    x_train, x_valid = _token_ids(train["text"].tolist()), _token_ids(valid["text"].tolist())
    y_train, y_valid = train["label"].to_numpy(), valid["label"].to_numpy()
    model = _bag_of_tokens(common.tokenizer().vocab_size, len(classes))
    callback = DQCallback(
        {
            "training": SplitData(x_train, texts=train["text"].tolist(), labels=y_train, ids=train.index + 500),
            "validation": SplitData(x_valid, texts=valid["text"].tolist(), labels=[classes[i] for i in y_valid]),
        },
        labels=classes,
        project="keras",
        run="bag-of-tokens",
    )
    model.fit(
        x_train,
        y_train,
        validation_data=(x_valid, y_valid),
        epochs=common.EPOCHS,
        batch_size=16,
        verbose=0,
        callbacks=[callback],
    )

    assert callback.path == dq_home / "runs" / "keras" / "bag-of-tokens"
    run = common.check_run(callback.path, sizes={"training": 100, "validation": 40}, tmp_path=tmp_path, labels=classes)
    assert run.meta["outputs_logged_as"] == "probs" and run.meta["embedding_dim"] == EMB_DIM
    assert run.samples("training")["id"].tolist()[:2] == [500, 501]
    last = run.outputs("validation", common.EPOCHS - 1)
    np.testing.assert_allclose(last.probs, model.predict(x_valid, verbose=0), atol=1e-5)
    pooled = keras.Model(model.inputs, model.get_layer("pool").output).predict(x_valid, verbose=0)
    np.testing.assert_allclose(last.embs, pooled, atol=1e-5)


def test_callback_with_logits_and_a_named_layer(dq_home: Path) -> None:
    x = np.arange(6 * common.MAX_TOKENS, dtype="int32").reshape(6, common.MAX_TOKENS) % 50
    y = np.array([0, 1, 0, 1, 0, 1])
    model = _bag_of_tokens(50, 2, activation=None)
    callback = DQCallback(
        {"training": SplitData(x, texts=list("abcdef"), labels=y)}, labels=["no", "yes"], layer="pool", run="logits"
    )
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    from dq.store import Run

    run = Run(callback.path)
    assert run.meta["outputs_logged_as"] == "logits" and run.epochs("training") == [0]


def test_callback_errors_name_the_parameter(dq_home: Path) -> None:
    x = np.zeros((2, common.MAX_TOKENS), dtype="int32")
    with pytest.raises(ValidationError, match="as many texts as input rows for 'training'. Got 1 texts for 2 rows"):
        DQCallback({"training": SplitData(x, texts=["a"], labels=[0])}, labels=["a", "b"])
    with pytest.raises(ValidationError, match="The 'splits' parameter of DQCallback must map split names to SplitData"):
        DQCallback({"training": (x, ["a", "b"], [0, 1])}, labels=["a", "b"])
    with pytest.raises(ValidationError, match="class indices in \\[0, 2\\) or class names. Got 1 out-of-range"):
        DQCallback({"training": SplitData(x, texts=["a", "b"], labels=[0, 7])}, labels=["a", "b"])
    with pytest.raises(ValidationError, match="The 'outputs' parameter of DQCallback must be one of"):
        DQCallback({"training": SplitData(x, texts=["a", "b"], labels=[0, 1])}, labels=["a", "b"], outputs="x")
    with pytest.raises(ValidationError, match="The 'batch_size' parameter of DQCallback must be an integer >= 1"):
        DQCallback({"training": SplitData(x, texts=["a", "b"], labels=[0, 1])}, labels=["a", "b"], batch_size=0)
    model = _bag_of_tokens(50, 2)
    callback = DQCallback(
        {"training": SplitData(x, texts=["a", "b"], labels=[0, 1])}, labels=["a", "b"], layer="missing"
    )
    with pytest.raises(ValidationError, match="The 'layer' parameter of DQCallback must be a layer of the model"):
        model.fit(x, np.array([0, 1]), epochs=1, verbose=0, callbacks=[callback])
