"""Pure statistical core of loadercheck: numpy/scipy only, no torch, no printing, no module state.

Every categorical order statistic is a weighted match count on a pair graph whose edge weights
depend only on batch membership, so it is a function of the batch x class count matrix and exactly
invariant to the order of samples inside a batch. Null: the feed is a uniformly random order of
the observed labels (exact for any exchangeable stream). See STATS.md for the formulas.
"""

from ._validate import NotEnoughData
from .autocorr import autocorrelation_test
from .balance import class_balance, missing_classes_pvalue, single_class_prefix_pvalue
from .batch import batch_homogeneity_test, expected_batch_classes, expected_batch_entropy
from .continuous import decile_codes, median_runs_test, trend_test
from .drift import window_drift_test
from .multiple import holm
from .runs import runs_test

__all__ = [
    "NotEnoughData",
    "autocorrelation_test",
    "batch_homogeneity_test",
    "class_balance",
    "decile_codes",
    "expected_batch_classes",
    "expected_batch_entropy",
    "holm",
    "median_runs_test",
    "missing_classes_pvalue",
    "runs_test",
    "single_class_prefix_pvalue",
    "trend_test",
    "window_drift_test",
]
