"""Log runs from training loops: Hugging Face Trainer, plain PyTorch, Keras 3 and SetFit.

Each framework lives in its own module and is an optional extra, imported only when its module
is (``import dq.integrations`` imports none of them):

====================================  ==================================  ==========================
module                                entry point                         extra
====================================  ==================================  ==========================
``dq.integrations.transformers``      ``watch(trainer)``                  ``pip install 'dq-studio[hf]'``
``dq.integrations.torch``             ``watch(model, layer=...)``         ``pip install 'dq-studio[torch]'``
``dq.integrations.keras``             ``DQCallback(...)``                 ``pip install 'dq-studio[keras]'``
``dq.integrations.setfit``            ``watch(trainer)``                  ``pip install 'dq-studio[setfit]'``
====================================  ==================================  ==========================

A missing framework raises :class:`dq.errors.MissingExtraError` naming the extra to install.
Usage and the plain-loop recipe: ``docs/integrations.md``.

Usage::

    from dq.integrations.transformers import watch
    watch(trainer, project="banking77", run="bert")
"""
