"""A Keras 3 model on BANKING77 (torch backend: no TensorFlow needed), logged by dq's DQCallback.

    python examples/keras_callback.py      # well under a minute

``DQCallback`` gets the model inputs of each split with their texts, labels and (optional) ids;
at the end of every epoch it logs the input of the last layer (the embedding the classifier reads)
and the softmax probabilities, and it finishes the run when ``fit`` returns.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before the first `import keras`

import keras  # noqa: E402
import numpy as np  # noqa: E402
import transformers  # noqa: E402
from _data import banking77, minilm_path, report  # noqa: E402

from dq.integrations.keras import DQCallback, SplitData  # noqa: E402

EPOCHS, DIM, MAX_TOKENS = 5, 64, 48


def main() -> None:
    keras.utils.set_random_seed(0)
    classes, train, valid = banking77()
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_path())  # only its vocabulary is used

    def token_ids(texts):
        enc = tokenizer(list(texts), truncation=True, max_length=MAX_TOKENS, padding="max_length")
        return np.asarray(enc["input_ids"], dtype="int32")

    x_train, x_valid = token_ids(train["text"]), token_ids(valid["text"])
    inputs = keras.Input(shape=(MAX_TOKENS,), dtype="int32")
    hidden = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(tokenizer.vocab_size, DIM)(inputs))
    hidden = keras.layers.Dense(DIM, activation="tanh")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(len(classes), activation="softmax")(hidden))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    callback = DQCallback(
        {
            "training": SplitData(x_train, texts=train["text"].tolist(), labels=train["label"].to_numpy()),
            "validation": SplitData(x_valid, texts=valid["text"].tolist(), labels=valid["label"].to_numpy()),
        },
        labels=classes,
        project="examples",
        run="keras-callback",
        overwrite=True,
    )
    model.fit(
        x_train,
        train["label"].to_numpy(),
        validation_data=(x_valid, valid["label"].to_numpy()),
        epochs=EPOCHS,
        batch_size=32,
        callbacks=[callback],
        verbose=2,
    )
    report(callback.path)


if __name__ == "__main__":
    main()
