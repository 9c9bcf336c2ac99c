"""A plain PyTorch training loop on BANKING77, logged with dq through a forward hook.

    python examples/torch_loop.py          # well under a minute

The recipe: log the samples once with the client, ``watch(model, layer=...)`` the module whose
output is the embedding, and at the end of each epoch run every sample through the model inside
``watcher.log_batch(ids=..., split=..., epoch=...)``. Training steps outside that block are not logged.
"""

from __future__ import annotations

import torch
import transformers
from _data import banking77, minilm_path, report

import dq
from dq.integrations.torch import watch

EPOCHS, BATCH, DIM, MAX_TOKENS = 5, 32, 64, 48


class BagOfTokens(torch.nn.Module):
    """Mean of token embeddings → a small encoder (the embedding dq logs) → a linear classifier."""

    def __init__(self, vocab_size: int, n_classes: int) -> None:
        super().__init__()
        self.tokens = torch.nn.EmbeddingBag(vocab_size, DIM, mode="mean", padding_idx=0)
        self.encoder = torch.nn.Sequential(torch.nn.Linear(DIM, DIM), torch.nn.Tanh())
        self.classifier = torch.nn.Linear(DIM, n_classes)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.encoder(self.tokens(input_ids)))


def main() -> None:
    torch.manual_seed(0)
    classes, train, valid = banking77()
    tokenizer = transformers.AutoTokenizer.from_pretrained(minilm_path())  # only its vocabulary is used
    model = BagOfTokens(tokenizer.vocab_size, len(classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    dq.init(project="examples", run="torch-loop", labels=classes, overwrite=True)
    splits = {}
    for split, frame in (("training", train), ("validation", valid)):
        ids = list(range(len(frame)))  # any unique ints or strings; they tie outputs to samples
        dq.log_data_samples(texts=frame["text"], labels=[classes[i] for i in frame["label"]], ids=ids, split=split)
        x = tokenizer(
            frame["text"].tolist(), truncation=True, max_length=MAX_TOKENS, padding=True, return_tensors="pt"
        )["input_ids"]
        splits[split] = (torch.tensor(ids), x, torch.tensor(frame["label"].to_numpy()))

    watcher = watch(model, layer=model.encoder)
    ids, x, y = splits["training"]
    for epoch in range(EPOCHS):
        model.train()
        for batch in torch.randperm(len(y)).split(BATCH):
            loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():  # every sample of every split, once per epoch
            for split, (split_ids, split_x, _) in splits.items():
                for batch in torch.arange(len(split_ids)).split(BATCH):
                    with watcher.log_batch(ids=split_ids[batch], split=split, epoch=epoch):
                        model(split_x[batch])
    watcher.remove()
    report(dq.finish())


if __name__ == "__main__":
    main()
