"""dq.integrations.torch: a plain PyTorch loop over a tiny BERT, logged through forward hooks."""

from __future__ import annotations

from pathlib import Path

import integrations_common as common  # before transformers: it sets the offline environment
import numpy as np
import pytest
import torch
import transformers

import dq
from dq.errors import RunStateError, ValidationError
from dq.integrations.torch import watch

BATCH = 16


def test_plain_loop_logs_every_epoch_and_split(dq_home: Path, tmp_path: Path) -> None:
    classes, train, valid = common.banking77_subset()
    tok = common.tokenizer()
    torch.manual_seed(common.SEED)
    model = transformers.BertForSequenceClassification(common.tiny_bert_config(tok.vocab_size, classes))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = {}
    dq.init(project="torch", run="tiny-bert", labels=classes)
    for split, frame in (("training", train), ("validation", valid)):
        ids = [f"{split[0]}{i}" for i in range(len(frame))]  # str ids, passed through as they are
        dq.log_data_samples(texts=frame["text"], labels=[classes[i] for i in frame["label"]], ids=ids, split=split)
        enc = tok(
            frame["text"].tolist(), truncation=True, max_length=common.MAX_TOKENS, padding=True, return_tensors="pt"
        )
        data[split] = (ids, enc, torch.tensor(frame["label"].to_numpy()))

    watcher = watch(model, layer="bert.pooler")  # its output is what the classifier reads
    for epoch in range(common.EPOCHS):
        model.train()
        _, enc, y = data["training"]
        for start in range(0, len(y), BATCH):
            part = slice(start, start + BATCH)
            loss = model(**{k: v[part] for k, v in enc.items()}, labels=y[part]).loss  # not logged: no log_batch
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for split, (ids, enc, _) in data.items():
                for start in range(0, len(ids), BATCH):
                    part = slice(start, start + BATCH)
                    with watcher.log_batch(ids=ids[part], split=split, epoch=epoch):
                        model(**{k: v[part] for k, v in enc.items()})
    watcher.remove()
    path = dq.finish()

    run = common.check_run(path, sizes={"training": 100, "validation": 40}, tmp_path=tmp_path, labels=classes)
    assert run.samples("validation")["id"].tolist()[:2] == ["v0", "v1"]
    with torch.no_grad():
        enc = data["training"][1]
        final = model(**{k: v[:4] for k, v in enc.items()}, output_hidden_states=False)
        pooled = model.bert(**{k: v[:4] for k, v in enc.items()}).pooler_output
    last = run.outputs("training", common.EPOCHS - 1)
    np.testing.assert_allclose(last.embs[:4], pooled.numpy(), atol=1e-5)
    np.testing.assert_allclose(last.probs[:4], torch.softmax(final.logits, dim=1).numpy(), atol=1e-5)


def test_watch_with_a_plain_module_tensor_ids_and_probs(dq_home: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2), torch.nn.Softmax(dim=1))
    dq.init(project="torch", run="plain", labels=["a", "b"])
    dq.log_data_samples(texts=["x", "y", "z"], labels=["a", "b", "a"], split="training")
    watcher = watch(model, layer=model[1], outputs="probs")
    with torch.no_grad(), watcher.log_batch(ids=torch.arange(3), split="training", epoch=0):
        model(torch.randn(3, 4))
    model(torch.randn(3, 4))  # outside log_batch: nothing is logged
    run = dq.store.Run(dq.finish())
    assert run.meta["embedding_dim"] == 3 and run.meta["outputs_logged_as"] == "probs"


def test_watch_errors_name_the_parameter(dq_home: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    with pytest.raises(ValidationError, match="The 'layer' parameter of watch must be a submodule of 'model'"):
        watch(model, layer=torch.nn.Linear(4, 3))
    with pytest.raises(ValidationError, match="The 'layer' parameter of watch .* Got 'nope' instead"):
        watch(model, layer="nope")
    with pytest.raises(ValidationError, match="The 'model' parameter of watch must be a torch.nn.Module"):
        watch("model", layer="0")
    with pytest.raises(ValidationError, match="The 'outputs' parameter of watch must be one of"):
        watch(model, layer="0", outputs="scores")
    watcher = watch(model, layer="0")
    with pytest.raises(RunStateError, match="No forward pass of the watched model ran inside log_batch"):
        with watcher.log_batch(ids=[0], split="training", epoch=0):
            pass
