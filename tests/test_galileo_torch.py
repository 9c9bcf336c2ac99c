"""Galileo's PyTorch notebooks ("PyTorch Simple" and "PyTorch") through ``import dq.galileo as dq``.

Each test follows its notebook's flow — the same dataquality calls in the same order with the same
arguments — on 100 BANKING77 training and 40 validation samples with a tiny BERT built from a config
(the bundled MiniLM tokenizer), and checks the run it leaves. Our code, not the notebooks'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import integrations_common as common  # before transformers: it sets the offline environment
import numpy as np
import pandas as pd
import pytest
import torch
import transformers

import dq.galileo as dq
from dq.errors import RunStateError, ValidationError
from dq.galileo.integrations.torch import unwatch, watch


class TextClassificationModel(torch.nn.Module):
    """The notebooks' model: a transformer encoder and a linear ``classifier`` on the first token."""

    def __init__(self, classes: list[str], vocab_size: int) -> None:
        super().__init__()
        self.feature_extractor = transformers.BertModel(common.tiny_bert_config(vocab_size, classes))
        self.classifier = torch.nn.Linear(32, len(classes))

    def forward(self, input_ids: Any, attention_mask: Any) -> Any:
        hidden = self.feature_extractor(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.classifier(hidden[:, 0])


def test_pytorch_simple_notebook(dq_home: Path, tmp_path: Path) -> None:
    classes, _, _ = common.banking77_subset()
    data = common.class_label_data(classes)
    tok = common.tokenizer()
    torch.manual_seed(common.SEED)

    def preprocess(batch: dict[str, Any]) -> Any:
        return tok(batch["text"], padding="max_length", truncation=True, max_length=common.MAX_TOKENS)

    encoded = data.map(preprocess, batched=True)
    train_ds = encoded["train"].with_format("torch", ["input_ids", "attention_mask", "label"])
    test_ds = encoded["test"].with_format("torch", ["input_ids", "attention_mask", "label"])
    train_dataloader = torch.utils.data.DataLoader(train_ds, batch_size=32, shuffle=True)
    test_dataloader = torch.utils.data.DataLoader(test_ds, batch_size=32, shuffle=True)
    model = TextClassificationModel(classes, tok.vocab_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    # The notebook's calls, in its order.
    dq.init("text_classification", "text-classification-demo", "run_banking77")
    train_ds_with_ids = data["train"].map(lambda x, idx: {"id": idx}, with_indices=True)
    test_ds_with_ids = data["test"].map(lambda x, idx: {"id": idx}, with_indices=True)
    dq.log_dataset(train_ds_with_ids, split="train")
    dq.log_dataset(test_ds_with_ids, split="validation")
    dq.set_labels_for_run(data["train"].features["label"].names)
    watch(model, [train_dataloader, test_dataloader])
    for epoch in range(common.EPOCHS):
        dq.set_epoch(epoch)
        dq.set_split("training")
        model.train()
        for batch in train_dataloader:
            logits = model(batch["input_ids"], batch["attention_mask"])
            loss = torch.nn.functional.cross_entropy(logits, batch["label"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        dq.set_split("validation")
        model.eval()
        with torch.no_grad():
            for batch in test_dataloader:
                model(batch["input_ids"], batch["attention_mask"])
    path = dq.finish()
    frame = dq.metrics.get_dataframe("text-classification-demo", "run_banking77", "train")

    assert isinstance(path, str) and path == str(dq_home / "runs" / "text-classification-demo" / "run_banking77")
    run = common.check_run(Path(path), sizes={"training": 100, "validation": 40}, tmp_path=tmp_path, labels=classes)
    # The shuffled batches were logged under the right ids: the last validation pass (eval mode, the
    # trained model) gave each sample the probabilities the model gives it now.
    assert run.samples("validation")["text"].tolist() == data["test"]["text"]
    model.eval()
    with torch.no_grad():
        now = model(test_ds[:]["input_ids"], test_ds[:]["attention_mask"])
    np.testing.assert_allclose(run.probs("validation", 1), torch.softmax(now, 1).numpy(), atol=1e-5)
    assert len(frame) == 100 and {"gold", "pred", "data_error_potential", "dep"} <= set(frame.columns)
    assert frame["gold"].tolist() == [classes[i] for i in data["train"]["label"]]
    unwatch(model)  # finish() already took the hooks off: a second unwatch does nothing


def test_pytorch_notebook_logs_outputs_from_forward(dq_home: Path, tmp_path: Path) -> None:
    """The "PyTorch" notebook: pandas data with string labels and ``id = index``, logged by the Dataset
    class; the model's forward calls dq.log_model_outputs with tensors that require grad."""
    classes, train, valid = common.banking77_subset()
    tok = common.tokenizer()
    torch.manual_seed(common.SEED)
    train_df = train.assign(label=[classes[i] for i in train["label"]], id=train.index)
    test_df = valid.assign(label=[classes[i] for i in valid["label"]], id=valid.index)

    class TextDataset(torch.utils.data.Dataset):
        def __init__(self, dataset: pd.DataFrame, split: str, list_of_labels: list[str] | None = None) -> None:
            self.dataset = dataset
            dq.log_dataset(self.dataset, split=split)
            enc = tok(dataset["text"].tolist(), truncation=True, padding=True, max_length=common.MAX_TOKENS)
            self.x, self.mask = enc["input_ids"], enc["attention_mask"]
            self.y = [list_of_labels.index(v) for v in dataset["label"]] if list_of_labels else None

        def __len__(self) -> int:
            return len(self.dataset)

        def __getitem__(self, idx: int) -> Any:
            sample_idx = int(self.dataset.id.iloc[idx])
            return sample_idx, torch.tensor(self.x[idx]), torch.tensor(self.mask[idx]), self.y[idx]

    class Model(TextClassificationModel):
        def forward(self, x: Any, attention_mask: Any, ids: Any) -> Any:  # type: ignore[override]
            embs = self.feature_extractor(input_ids=x, attention_mask=attention_mask).last_hidden_state[:, 0]
            logits = self.classifier(embs)
            dq.log_model_outputs(embs=embs, logits=logits, ids=ids)  # tensors that require grad
            return logits

    dq.login()
    dq.init(task_type="text_classification", project_name="text_classification_pytorch", run_name="example_run")
    list_of_labels = train_df["label"].unique().tolist()
    dq.set_labels_for_run(list_of_labels)
    train_dataset = TextDataset(train_df, split="training", list_of_labels=list_of_labels)
    test_dataset = TextDataset(test_df, split="validation", list_of_labels=list_of_labels)
    model = Model(list_of_labels, tok.vocab_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=32, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_dataset, batch_size=32)
    for epoch in range(common.EPOCHS):
        dq.set_epoch(epoch)
        dq.set_split("training")
        for ids, x, mask, y in train_loader:
            loss = torch.nn.functional.cross_entropy(model(x, mask, ids), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            dq.set_split("validation")
            for ids, x, mask, _ in test_loader:
                model(x, mask, ids)
    path = dq.finish()

    run = common.check_run(
        Path(path), sizes={"training": 100, "validation": 40}, tmp_path=tmp_path, labels=list_of_labels
    )
    assert run.samples("training")["id"].tolist() == train_df["id"].tolist()


def test_client_errors_galileo_users_hit(dq_home: Path) -> None:
    """The three client bugs: a refused batch leaves no empty split; an unknown column is named as
    such; outputs that require grad are taken (above); and the calls' one-line errors."""
    with pytest.raises(ValidationError, match="text classification only"):
        dq.init(task_type="text_ner", project_name="p", run_name="r")
    dq.init(task_type="text_classification", project_name="p", run_name="r")
    dq.set_labels_for_run(["a", "b"])
    with pytest.raises(ValidationError, match="unknown labels"):  # a refused first batch of a split...
        dq.log_data_samples(texts=["x"], ids=[0], labels=["zzz"], split="validation")
    dq.log_data_samples(texts=["x", "y"], ids=[0, 1], labels=["a", 1], split="training")
    with pytest.raises(ValidationError, match="split"):
        dq.set_split("dev")
    with pytest.raises(RunStateError, match="epoch"):
        dq.log_model_outputs(ids=[0, 1], embs=np.eye(2), logits=np.eye(2), split="training")
    dq.set_epoch_and_split(0, "train")
    dq.log_model_outputs(ids=torch.tensor([0, 1]), embs=torch.eye(2, requires_grad=True) * 2, logits=torch.eye(2))
    assert dq.get_current_run_labels() == ["a", "b"]
    with pytest.raises(ValidationError, match="same order"):  # set once per run
        dq.set_labels_for_run(["b", "a"])
    path = Path(dq.finish())
    from dq.store import Run

    assert Run(path).splits == ["training"] and Run(path).samples("training")["label"].tolist() == ["a", "b"]


def test_native_log_dataset_takes_an_id_column_and_names_bad_columns(dq_home: Path) -> None:
    import dq as native

    native.init(project="p", run="ids", labels=["a", "b"])
    native.log_dataset(pd.DataFrame({"text": ["x", "y"], "label": ["a", "b"], "id": [10, 11]}), split="training")
    with pytest.raises(ValidationError, match="'split'") as err:
        native.log_dataset(pd.DataFrame({"text": ["z"], "label": ["a"], "split": ["test"]}), split="test")
    assert "'meta' parameter" not in str(err.value)  # a column the user has, not a parameter they never passed
    native.log_model_outputs(ids=[10, 11], embs=np.eye(2), logits=np.eye(2), split="training", epoch=0)
    from dq.store import Run

    assert Run(native.finish()).samples("training")["id"].tolist() == [10, 11]


def test_torch_watch_takes_a_named_layer_and_its_tensors(dq_home: Path) -> None:
    """A head not named classifier/fc, named by ``layer=``; a dataset of plain tensors (no ids in it)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential()
    model.add_module("encoder", torch.nn.Linear(6, 4))
    model.add_module("head", torch.nn.Linear(4, 2))
    x, y = torch.randn(10, 6), torch.tensor([0, 1] * 5)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4, shuffle=True)
    dq.init(task_type="text_classification", project_name="p", run_name="named-layer")
    dq.log_data_samples(texts=[f"t{i}" for i in range(10)], ids=list(range(100, 110)), labels=y, split="train")
    dq.set_labels_for_run(["neg", "pos"])
    watch(model, [loader], layer="head")
    dq.set_epoch_and_split(0, "training")
    for xb, _ in loader:
        model(xb)  # with gradients: the watch detaches what it logs
    from dq.store import Run

    run = Run(dq.finish())
    np.testing.assert_allclose(run.embs("training"), model.encoder(x).detach().numpy(), atol=1e-6)
    assert run.samples("training")["id"].tolist() == list(range(100, 110))


def test_one_label_named_is_the_binary_task(dq_home: Path) -> None:
    dq.init(task_type="text_classification", project_name="p", run_name="binary")
    dq.set_labels_for_run(["spam"])
    assert dq.get_current_run_labels() == ["NOT_spam", "spam"]
