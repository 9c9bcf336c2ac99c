"""``dq.auto`` of dataquality: fine-tune a transformer on a dataset and log the run, in one call.

Galileo's ``auto`` fine-tunes a Hugging Face model with its ``Trainer`` and returns the trainer.
Here the data (DataFrames, Hugging Face datasets or files) is gathered into one Parquet file under
``$DQ_HOME/galileo_auto/`` and built into a run by ``dq auto --fine-tune`` (the bundled MiniLM unless
``hf_model`` names a model on this machine), which logs every epoch in sample; the fine-tuned model
is saved beside the runs, and a ``transformers.Trainer`` holding it is returned, so that
``trainer.save_model(...)`` and ``trainer.predict(...)`` work as after Galileo's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from dq.auto.fileformats import read_table
from dq.config import dq_home
from dq.errors import ValidationError
from dq.galileo.core import notice
from dq.splits import TEST, TRAINING, VALIDATION, inference_split

#: Galileo's default model; not on this machine, so dq's bundled sentence model is fine-tuned instead.
GALILEO_DEFAULT_MODEL = "distilbert-base-uncased"
AUTO_PROJECT = "auto_tc"


def _frame(data: Any, *, what: str) -> tuple[pd.DataFrame, list[str] | None]:
    """A DataFrame of ``data`` (a DataFrame, a Hugging Face Dataset or a file path) and its
    ClassLabel names when it has them."""
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True), None
    if isinstance(data, (str, Path)):
        path = Path(data).expanduser()
        if not path.exists():
            raise ValidationError(
                f"The '{what}' parameter must be a DataFrame, a Hugging Face Dataset or a file on this machine "
                f"(dq downloads nothing). Got {str(data)!r}, which does not exist."
            )
        return read_table(path).reset_index(drop=True), None
    if hasattr(data, "features") and hasattr(data, "to_pandas"):
        feature = data.features.get("label")
        names = list(feature.names) if feature is not None and hasattr(feature, "names") else None
        return data.to_pandas().reset_index(drop=True), names
    raise ValidationError(
        f"The '{what}' parameter must be a pandas DataFrame, a Hugging Face Dataset or a file path. "
        f"Got {type(data).__name__} instead."
    )


def gather(
    *,
    hf_data: Any = None,
    hf_inference_names: list[str] | None = None,
    train_data: Any = None,
    val_data: Any = None,
    test_data: Any = None,
    inference_data: dict[str, Any] | None = None,
    labels: list[str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """One frame (``text``, ``label``, ``split``) of every split given, and the run's labels."""
    sources: dict[str, Any] = {}
    if hf_data is not None:
        if isinstance(hf_data, (str, Path)):
            from datasets import load_from_disk

            if not Path(hf_data).expanduser().exists():
                raise ValidationError(
                    f"The 'hf_data' parameter must be a DatasetDict or a dataset saved on this machine (dq downloads "
                    f"nothing). Got {str(hf_data)!r}, which does not exist."
                )
            hf_data = load_from_disk(str(Path(hf_data).expanduser()))
        keys = {"train": TRAINING, "training": TRAINING, "validation": VALIDATION, "test": TEST}
        for key, ds in hf_data.items():
            if key in keys:
                sources[keys[key]] = ds
            elif key in (hf_inference_names or []):
                sources[inference_split(key)] = ds
    for split, data in ((TRAINING, train_data), (VALIDATION, val_data), (TEST, test_data)):
        if data is not None:
            sources[split] = data
    for name, data in (inference_data or {}).items():
        sources[inference_split(name)] = data
    if TRAINING not in sources:
        raise ValidationError("dq.auto needs training data: pass train_data=... (or hf_data with a 'train' split).")
    frames: dict[str, pd.DataFrame] = {}
    class_names = list(labels) if labels is not None else None
    for split, data in sources.items():
        frame, names = _frame(data, what=split)
        class_names = class_names or names
        if "text" not in frame.columns or (not split.startswith("inference") and "label" not in frame.columns):
            raise ValidationError(
                f"The {split} data must have a 'text' column and (except inference) a 'label' column. "
                f"Got columns {list(frame.columns)} instead."
            )
        frames[split] = frame
    if class_names is None:
        values = pd.concat([f["label"] for s, f in frames.items() if "label" in f.columns])
        class_names = sorted({str(v) for v in values.dropna()})
    class_names = [str(c) for c in class_names]
    if VALIDATION not in frames:
        if TEST in frames:
            notice("no validation data: the test data is used as validation data (as in dataquality)")
            frames[VALIDATION] = frames.pop(TEST)
        else:
            notice("no validation or test data: 20% of the training data is held out as validation data")
            train = frames[TRAINING].sample(frac=1.0, random_state=42)
            cut = int(round(len(train) * 0.8))
            frames[TRAINING], frames[VALIDATION] = train.iloc[:cut], train.iloc[cut:]
    parts = []
    for split, frame in frames.items():
        part = pd.DataFrame({"text": frame["text"].astype(str), "split": split})
        if "label" in frame.columns and not split.startswith("inference"):
            part["label"] = [_name(v, class_names) for v in frame["label"]]
        else:
            part["label"] = None
        parts.append(part)
    return pd.concat(parts, ignore_index=True), class_names


def _name(value: Any, class_names: list[str]) -> str:
    if isinstance(value, str):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(class_names):
        return class_names[value]
    return str(value)


def auto(
    hf_data: Any = None,
    hf_inference_names: list[str] | None = None,
    train_data: Any = None,
    val_data: Any = None,
    test_data: Any = None,
    inference_data: dict[str, Any] | None = None,
    max_padding_length: int = 200,
    hf_model: str = GALILEO_DEFAULT_MODEL,
    num_train_epochs: int = 15,
    labels: list[str] | None = None,
    project_name: str | None = None,
    run_name: str | None = None,
    wait: bool = True,
    create_data_embs: bool | None = None,
    early_stopping: bool = True,
    *,
    home: str | Path | None = None,
) -> Any:
    """Fine-tune on the data, log the run ``<project_name>/<run_name>`` and return a ``transformers.Trainer``.

    Splits: ``train_data`` (required), ``val_data``, ``test_data`` and named ``inference_data``
    sets, or ``hf_data`` (a ``DatasetDict`` with ``train``/``validation``/``test`` and the
    ``hf_inference_names``). Integer labels are names through ``labels`` or the data's ClassLabel.
    Without validation data the test data stands in for it, or 20% of the training data. Training
    stops early (``early_stopping``) when the validation loss stops falling. ``max_padding_length``,
    ``wait`` and ``create_data_embs`` are Galileo's and ignored (texts are cut at 128 tokens).
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer

    from dq.auto.pipeline import AutoSettings
    from dq.auto.pipeline import auto as build
    from dq.galileo.session import check_name, default_run

    root = Path(home).expanduser() if home is not None else dq_home()
    project = check_name(project_name, param="project_name") if project_name else AUTO_PROJECT
    run = check_name(run_name, param="run_name") if run_name else default_run(root / "runs" / project)
    frame, class_names = gather(
        hf_data=hf_data, hf_inference_names=hf_inference_names, train_data=train_data, val_data=val_data,
        test_data=test_data, inference_data=inference_data, labels=labels,
    )  # fmt: skip
    data_file = root / "galileo_auto" / project / f"{run}.parquet"
    data_file.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(data_file, index=False)
    model = None if hf_model == GALILEO_DEFAULT_MODEL else hf_model
    if model is None:
        notice(f"{GALILEO_DEFAULT_MODEL} is not on this machine: fine-tuning dq's bundled sentence model instead")
    settings = AutoSettings(
        text="text", label="label", split="split", epochs=num_train_epochs, model=model, fine_tune=True,
        early_stopping=early_stopping, labels=tuple(class_names),
    )  # fmt: skip
    model_dir = root / "models" / project / run
    result = build(
        data_file, settings, project=project, run=run, home=root if home is not None else None, progress=False,
        log=notice, overwrite=True, save_model=model_dir,
    )  # fmt: skip
    notice(f"run written to {result.path}; the fine-tuned model is in {model_dir}")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    fitted = AutoModelForSequenceClassification.from_pretrained(model_dir)
    fitted.config.id2label = dict(enumerate(class_names))  # the run's labels: the model's output order
    fitted.config.label2id = {name: i for i, name in enumerate(class_names)}
    return Trainer(model=fitted, processing_class=tokenizer)
