"""Training-framework adapters: each is a thin callback over :class:`loadercheck.watch.Watch`.

- :mod:`loadercheck.integrations.lightning`: ``LoaderCheck``, a Lightning ``Callback``
  (needs Lightning: ``pip install -e ".[lightning]"`` in a clone).
- :mod:`loadercheck.integrations.hf`: ``LoaderCheckCallback``, a Hugging Face ``TrainerCallback``
  (needs transformers: ``pip install -e ".[hf]"`` in a clone).

Importing this package imports neither framework: a submodule (and its framework) loads on first
use, so ``loadercheck.integrations.lightning.LoaderCheck()`` works as written.
"""

from __future__ import annotations

from typing import Any

_SUBMODULES = ("lightning", "hf")


def __getattr__(name: str) -> Any:
    if name not in _SUBMODULES:
        raise AttributeError(f"module 'loadercheck.integrations' has no attribute {name!r}")
    from importlib import import_module

    module = import_module(f".{name}", __name__)
    globals()[name] = module
    return module


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})
