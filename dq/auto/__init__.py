"""``dq auto``: a dataset file to a run — read the file (datafile), embed the texts (embed), train
cross-fitted heads (train), log every epoch (pipeline); the bundled demo (demo, data/).

>>> from dq.auto import AutoSettings, auto
>>> auto("reviews.csv", AutoSettings(text="review", label="sentiment")).path  # doctest: +SKIP
PosixPath('/home/me/.dq/runs/auto/reviews')
"""

from dq.auto.pipeline import AutoResult, AutoSettings, ProgressFn, auto, fingerprint

__all__ = ["AutoResult", "AutoSettings", "ProgressFn", "auto", "fingerprint"]
