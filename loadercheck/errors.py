"""Errors loadercheck raises on bad input.

Every error carries a one-paragraph message naming what was wrong and what to do.
The CLI maps :class:`LoaderCheckError` and its subclasses to exit code 2.
"""

from __future__ import annotations


class LoaderCheckError(Exception):
    """Base class: the input cannot be checked as given (CLI exit code 2)."""


class TargetError(LoaderCheckError):
    """The CLI target could not be imported, found, called or iterated."""


class LoaderError(LoaderCheckError):
    """The loader raised, hung, was empty, or yielded a batch we cannot read."""


class LabelError(LoaderCheckError):
    """No labels could be found in a batch, or the labels are unusable (NaN, mixed types, ragged)."""
