"""benchmarks/limit.py: the information limit of a partial sort read through batch counts."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import limit  # noqa: E402


def test_a_batch_inside_one_stretch_keeps_all_the_information():
    """Inside one class's stretch the likelihood ratio depends on that class's count only, so the
    batch's counts carry b times the per-label KL of STATS.md section 6."""
    rng = np.random.default_rng(0)
    kl = limit.batch_kl((32,), 0.2, 10, 32, 4000, rng)
    assert kl == pytest.approx(32 * limit.sample_rate(0.2, 10), rel=0.05)


def test_a_batch_across_two_stretches_loses_information():
    rng = np.random.default_rng(1)
    assert limit.batch_kl((16, 16), 0.2, 10, 32, 4000, rng) < 0.8 * 32 * limit.sample_rate(0.2, 10)


def test_the_positions_limit_matches_stats_md():
    """STATS.md section 6: n* = 46 for psort 0.2 and 588 for psort 0.05 (10 classes)."""
    assert round(limit.TARGET / limit.sample_rate(0.2, 10)) == 46
    assert round(limit.TARGET / limit.sample_rate(0.05, 10)) == 588
