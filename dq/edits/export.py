"""Files made from the cart: the fixed dataset, and the samples handed to human labelers.

Every writer is atomic (nothing is left behind when it fails) and has a ``*_bytes`` twin with
the same serialisation, for the console's download buttons.
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dq._util.fileio import TABLE_FORMATS, check_out_path, table_bytes, write_bytes_atomic, write_table
from dq.errors import ValidationError

#: ``model_version`` of every prediction dq hands to Label Studio.
MODEL_VERSION = "dq"
#: Names of the Choices control and of the Text object in the Label Studio labeling config.
FROM_NAME = "label"
TO_NAME = "text"
#: Columns of the labelers' CSV, in order.
LABELERS_COLUMNS: tuple[str, ...] = ("id", "text", "label", "suggested_label", "dep")
#: Extensions ``write_labelers`` accepts: Label Studio JSON, or the CSV.
LABELERS_FORMATS: tuple[str, ...] = (".json", ".csv")

#: ``dq export --split all``: every split of the run in one file.
ALL_SPLITS = "all"


def write_dataset(frame: pd.DataFrame, out: str | os.PathLike[str]) -> Path:
    """Write a dataset atomically as .csv, .parquet or .jsonl (by the extension of ``out``), UTF-8.

    CSV quotes every text, so ``dq auto`` reads texts holding commas, quotes or line breaks back unchanged.
    """
    return write_table(frame, out, formats=TABLE_FORMATS)


def dataset_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """The bytes ``write_dataset`` would write for format ``fmt`` ("csv", "parquet" or "jsonl").

    >>> dataset_bytes(pd.DataFrame({"text": ["a,b"], "label": ["x"]}), "csv")
    b'"text","label"\\n"a,b","x"\\n'
    """
    return table_bytes(frame, fmt)


def label_studio_tasks(frame: pd.DataFrame, *, class_names: list[str]) -> list[dict[str, Any]]:
    """Label Studio import tasks, one per row of ``frame`` (id, text, label, dep), pre-annotated
    with the sample's current label as a prediction of model version "dq" scored by its DEP
    (higher = more likely a data error).

    The tasks fit the labeling config of :func:`label_studio_config`.

    >>> frame = pd.DataFrame({"id": [3], "text": ["lost card"], "label": ["card"], "dep": [0.91]})
    >>> task = label_studio_tasks(frame, class_names=["card", "refund"])[0]
    >>> task["data"], task["predictions"][0]["result"][0]["value"]
    ({'id': 3, 'text': 'lost card'}, {'choices': ['card']})
    """
    unknown = sorted({str(v) for v in frame["label"] if v not in class_names})
    if unknown:
        raise ValidationError(
            f"The 'label' column must hold labels of {class_names}. Got {', '.join(map(repr, unknown))} instead."
        )
    return [
        {
            "data": {"id": _json_scalar(sample_id), "text": text},
            "predictions": [
                {
                    "model_version": MODEL_VERSION,
                    "score": float(dep),
                    "result": [
                        {
                            "id": f"dq-{row}",
                            "from_name": FROM_NAME,
                            "to_name": TO_NAME,
                            "type": "choices",
                            "value": {"choices": [label]},
                        }
                    ],
                }
            ],
        }
        for row, (sample_id, text, label, dep) in enumerate(
            zip(frame["id"], frame["text"], frame["label"], frame["dep"])
        )
    ]


def label_studio_config(class_names: list[str]) -> str:
    """The Label Studio labeling config the tasks of :func:`label_studio_tasks` are made for.

    >>> print(label_studio_config(["a&b"]))
    <View>
      <Text name="text" value="$text"/>
      <Choices name="label" toName="text" choice="single">
        <Choice value="a&amp;b"/>
      </Choices>
    </View>
    """
    choices = "".join(f'    <Choice value="{escape(label, quote=True)}"/>\n' for label in class_names)
    return (
        f'<View>\n  <Text name="{TO_NAME}" value="$text"/>\n'
        f'  <Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single">\n{choices}  </Choices>\n</View>'
    )


def label_studio_bytes(frame: pd.DataFrame, *, class_names: list[str]) -> bytes:
    """The Label Studio import file (a JSON array of tasks, UTF-8) for ``frame``."""
    tasks = label_studio_tasks(frame, class_names=class_names)
    return json.dumps(tasks, ensure_ascii=False, indent=1).encode("utf-8")


def labelers_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The labelers' CSV: id, text, label, suggested_label, dep (empty where there is no suggestion)."""
    missing = [c for c in LABELERS_COLUMNS if c not in frame.columns]
    if missing:
        raise ValidationError(f"The 'frame' parameter must have columns {list(LABELERS_COLUMNS)}. Missing {missing}.")
    return table_bytes(frame[list(LABELERS_COLUMNS)], "csv")


def write_labelers(frame: pd.DataFrame, out: str | os.PathLike[str], *, class_names: list[str]) -> Path:
    """Write the samples for labelers atomically: Label Studio tasks (.json) or the CSV (.csv)."""
    path = check_out_path(out, formats=LABELERS_FORMATS)
    if path.suffix.lower() == ".json":
        return write_bytes_atomic(label_studio_bytes(frame, class_names=class_names), path)
    return write_bytes_atomic(labelers_csv_bytes(frame), path)


def _json_scalar(value: object) -> object:
    """A numpy scalar (an int64 id) as the Python value ``json`` can write."""
    return value.item() if isinstance(value, np.generic) else value
