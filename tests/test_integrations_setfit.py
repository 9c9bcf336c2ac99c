"""dq.integrations.setfit: a SetFit model over a tiny BERT body (random weights), logged per body epoch."""

from __future__ import annotations

from pathlib import Path

import datasets
import integrations_common as common  # before sentence-transformers: it sets the offline environment
import numpy as np
import pytest
import setfit
import transformers
from sentence_transformers import SentenceTransformer
from sklearn.linear_model import LogisticRegression

from dq.errors import ValidationError
from dq.integrations.setfit import watch

try:
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
except ImportError:  # sentence-transformers < 6
    from sentence_transformers.models import Pooling, Transformer

# The sentence-transformers trainer asks for pinned memory, which a CPU-only machine cannot give.
pytestmark = pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true")


def _setfit_model(tmp_path: Path, classes: list[str], *, head: object | None = None) -> setfit.SetFitModel:
    """A SetFit model over a freshly seeded tiny BERT saved to ``tmp_path`` with the MiniLM tokenizer."""
    tok = common.tokenizer()
    transformers.set_seed(common.SEED)
    body_dir = tmp_path / "tiny-bert"
    transformers.BertModel(common.tiny_bert_config(tok.vocab_size, classes)).save_pretrained(body_dir)
    tok.save_pretrained(body_dir)
    word = Transformer(str(body_dir), max_seq_length=common.MAX_TOKENS)
    dim = (
        word.get_embedding_dimension()
        if hasattr(word, "get_embedding_dimension")
        else word.get_word_embedding_dimension()
    )
    body = SentenceTransformer(modules=[word, Pooling(dim)], device="cpu")
    return setfit.SetFitModel(model_body=body, model_head=head or LogisticRegression(), labels=classes)


def _trainer(tmp_path: Path, model: setfit.SetFitModel) -> setfit.Trainer:
    _, train, valid = common.banking77_subset()
    args = setfit.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        batch_size=16,
        num_epochs=common.EPOCHS,
        num_iterations=1,
        seed=common.SEED,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        show_progress_bar=False,
    )
    return setfit.Trainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_pandas(train.assign(id=[f"t{i}" for i in train.index])),
        eval_dataset=datasets.Dataset.from_pandas(valid.assign(id=[f"v{i}" for i in valid.index])),
    )


def test_watch_logs_every_body_epoch(dq_home: Path, tmp_path: Path) -> None:
    classes, _, valid = common.banking77_subset()
    trainer = _trainer(tmp_path, _setfit_model(tmp_path, classes))
    callback = watch(trainer, project="setfit", run="tiny-bert")
    trainer.train()

    assert callback.path == dq_home / "runs" / "setfit" / "tiny-bert"
    run = common.check_run(callback.path, sizes={"training": 100, "validation": 40}, tmp_path=tmp_path, labels=classes)
    assert run.samples("training")["id"].tolist()[:2] == ["t0", "t1"]
    assert run.meta["outputs_logged_as"] == "probs" and run.meta["embedding_dim"] == 32
    # The last epoch's probe head is fitted by the very call SetFit fits the model's own head with
    # (same embeddings, same solver), so it is that head: agreement to float rounding, not to a
    # solver tolerance (a probe fitted on embeddings of another batch size drifted by 7e-4).
    last = run.outputs("validation", common.EPOCHS - 1)
    model = trainer.model
    np.testing.assert_allclose(last.embs, model.encode(valid["text"].tolist()), rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        last.probs, model.predict_proba(valid["text"].tolist(), as_numpy=True), rtol=0, atol=1e-6
    )


def test_watch_refuses_a_differentiable_head_and_other_trainers(dq_home: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="'trainer' parameter of watch must be a setfit.Trainer"):
        watch(object())
    classes, _, _ = common.banking77_subset()
    model = _setfit_model(tmp_path, classes)
    differentiable = setfit.SetFitModel(
        model_body=model.model_body,
        labels=classes,
        model_head=setfit.SetFitHead(in_features=32, out_features=len(classes)),
    )
    with pytest.raises(ValidationError, match="must hold a SetFit model with a scikit-learn head .* SetFitHead"):
        watch(_trainer(tmp_path, differentiable))
