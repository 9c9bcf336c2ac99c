"""Galileo's SetFit notebook through ``import dq.galileo as dq``: the same dataquality calls in the
same order with the same arguments, on BANKING77 samples (SST-2's column names) with a SetFit model
over a tiny BERT body, and its inference cell, which writes a run of inference data only."""

from __future__ import annotations

from pathlib import Path

import datasets
import integrations_common as common  # before sentence-transformers: it sets the offline environment
import pytest
import setfit
from test_integrations_setfit import _setfit_model

import dq.galileo as dq
from dq.galileo.integrations.setfit import watch
from dq.insights import run_insights
from dq.store import Run

pytestmark = pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true")


def _sst2_like() -> tuple[list[str], datasets.DatasetDict]:
    classes, train, valid = common.banking77_subset()
    features = datasets.Features(
        {
            "idx": datasets.Value("int64"),
            "sentence": datasets.Value("string"),
            "label": datasets.ClassLabel(names=classes),
        }
    )

    def as_ds(frame) -> datasets.Dataset:  # noqa: ANN001
        frame = frame.reset_index(drop=True).rename(columns={"text": "sentence"})
        return datasets.Dataset.from_pandas(frame.assign(idx=frame.index), features=features, preserve_index=False)

    return classes, datasets.DatasetDict(
        {"train": as_ds(train), "validation": as_ds(valid.iloc[:20]), "test": as_ds(valid.iloc[20:])}
    )


def _accuracy(y_pred, y_test) -> dict[str, float]:  # noqa: ANN001
    return {"accuracy": sum(int(a == b) for a, b in zip(y_pred, y_test)) / len(y_test)}


def test_setfit_notebook(dq_home: Path, tmp_path: Path) -> None:
    _, dataset = _sst2_like()
    labels = dataset["train"].features["label"].names
    column_mapping = {"sentence": "text", "label": "label", "idx": "id"}
    model = _setfit_model(tmp_path, labels)
    args = setfit.TrainingArguments(
        output_dir=str(tmp_path / "out"), batch_size=16, num_epochs=1, num_iterations=1, seed=common.SEED,
        report_to="none", save_strategy="no", logging_strategy="no", show_progress_bar=False,
    )  # fmt: skip
    trainer = setfit.Trainer(
        model=model, args=args, train_dataset=dataset["train"], eval_dataset=dataset["validation"],
        column_mapping=column_mapping, metric=_accuracy,  # the notebook's default metric loads from the hub
    )  # fmt: skip

    project_name, run_name = "text_classification_with_setfit", "set_fit_sst2"
    watch(trainer, labels=labels, project_name=project_name, run_name=run_name, batch_size=512, finish=False)
    trainer.train()
    model.save_pretrained(str(tmp_path / "trained_model"))
    trainer.evaluate()
    dq_evaluate = watch(model, batch_size=512)
    predicted = dq_evaluate(dataset["test"], split="test", column_mapping=column_mapping)
    path = dq.finish()

    run = Run(path)
    assert run.splits == ["training", "validation", "test"] and run.labels == labels
    assert [run.n_samples(s) for s in run.splits] == [100, 20, 20]
    assert run.samples("test")["id"].tolist() == dataset["test"]["idx"]
    assert run.samples("training")["label"].tolist() == [labels[i] for i in dataset["train"]["label"]]
    assert run.meta["outputs_logged_as"] == "probs" and run.meta["embedding_dim"] == 32
    assert predicted == [labels[j] for j in run.probs("test").argmax(axis=1)]
    assert run_insights(run)["training"].frame["dep"].notna().all()

    # The inference cell: a new run of inference data only, whose insights need no labels.
    trained = setfit.SetFitModel.from_pretrained(str(tmp_path / "trained_model"))
    dq.init(task_type="text_classification", project_name=project_name, run_name=run_name + "_inference")
    dq.set_labels_for_run(labels)
    dq_evaluate = watch(trained, batch_size=512)
    dq_evaluate(dataset["test"], split="inference", inference_name="inference_test_1", column_mapping=column_mapping)
    only = Run(dq.finish())
    assert only.splits == ["inference=inference_test_1"]
    frame = run_insights(only)["inference=inference_test_1"].frame
    assert len(frame) == 20 and frame["pred"].isin(labels).all() and frame["cluster"].notna().all()
    assert "is_out_of_coverage" not in frame.columns  # no training data to compare with
