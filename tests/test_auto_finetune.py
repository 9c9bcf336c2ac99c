"""dq auto --fine-tune: the encoder fine-tuned end to end, every epoch logged in sample.

A one-layer BERT with random weights and the bundled MiniLM tokenizer stands in for the encoder
(the real MiniLM takes minutes on a CPU; bench/bench_finetune.py measures it)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dq.auto.pipeline import AutoSettings, auto
from dq.cli import main
from dq.config import IN_SAMPLE
from dq.insights import run_insights
from dq.store.reader import Run
from tests.integrations_common import minilm_path, tiny_bert_config


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    from transformers import AutoTokenizer, BertModel

    path = tmp_path_factory.mktemp("tiny-encoder")
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(0)  # the same random encoder every time: its first steps move the outputs by ~4e-5
    BertModel(tiny_bert_config(tokenizer.vocab_size, ["a", "b"])).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def data(tmp_path):
    rows = [f"please refund my money now {i},refund,{'test' if i % 4 == 0 else 'train'}" for i in range(24)]
    rows += [f"my card arrived today {i},card,{'test' if i % 4 == 0 else 'train'}" for i in range(24)]
    path = tmp_path / "intents.csv"
    path.write_text("\n".join(["text,label,split", *rows]) + "\n")
    return path


def test_fine_tune_writes_an_in_sample_run_with_every_epoch(tmp_path, data, tiny_encoder):
    said: list[str] = []
    model = str(tiny_encoder)
    settings = AutoSettings(text="text", label="label", split="split", epochs=2, model=model, fine_tune=True)
    run = Run(auto(data, settings, home=tmp_path, progress=False, log=said.append).path)
    assert run.training_outputs == IN_SAMPLE
    assert run.epochs("training") == [0, 1] and run.epochs("test") == [0, 1]
    first, last = run.probs("training", 0), run.probs("training", 1)
    assert first.shape == (36, 2) and np.abs(first - last).max() > 1e-6  # the model moved between epochs
    np.testing.assert_allclose(last.sum(axis=1), 1.0, atol=1e-5)
    assert run.views == {"lexical": ["training", "test"]}  # the lexical view is trained as by default
    assert any("fine-tuning" in line and "cpu" in line for line in said)
    assert run.meta["source"]["settings"]["fine_tune"] is True
    insights = run_insights(run)
    assert insights["training"].summary["analyses"]["mislabeled"]["epochs_pooled"] == "all"  # dynamics, in sample


def test_fine_tune_from_the_cli_defaults_to_three_epochs(tmp_path, data, tiny_encoder, capsys, monkeypatch):
    monkeypatch.setenv("DQ_HOME", str(tmp_path))
    code = main(
        ["auto", str(data), "--text-col", "text", "--label-col", "label", "--split-col", "split",
         "--model", str(tiny_encoder), "--fine-tune", "--no-lexical", "--quiet"]
    )  # fmt: skip
    assert code == 0
    run = Run(capsys.readouterr().out.strip())
    assert run.epochs("training") == [0, 1, 2] and run.views == {}
