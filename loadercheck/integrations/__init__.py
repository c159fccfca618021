"""Training-framework adapters: each is a thin callback over :class:`loadercheck.watch.Watch`.

- :mod:`loadercheck.integrations.lightning`: ``LoaderCheck``, a Lightning ``Callback``
  (needs ``pip install "loadercheck[lightning]"``).
- :mod:`loadercheck.integrations.hf`: ``LoaderCheckCallback``, a Hugging Face ``TrainerCallback``
  (needs ``pip install "loadercheck[hf]"``).

Importing this package imports neither framework; import the submodule you use.
"""
