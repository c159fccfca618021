"""label-autocorrelation's permutation net: its fast paths give the numbers of the plain definitions."""

import numpy as np
import pytest
from scipy import special

from loadercheck.stats.autocorr import _LagModel, choose_lags
from loadercheck.stats.counts import hash_groups


def _model(x: np.ndarray, sizes: np.ndarray) -> _LagModel:
    groups, n_groups = hash_groups(x, int(x.max()) + 1)
    return _LagModel(groups, n_groups, sizes, choose_lags(sizes))


def _circular_matches(x: np.ndarray, sizes: np.ndarray, lags: int, weights: np.ndarray) -> np.ndarray:
    """M_q = sum_g sum_c w_c N_gc N_{(g+q) mod B, c}, straight from the batch x class table."""
    nb = sizes.size
    table = np.zeros((nb, weights.size))
    np.add.at(table, (np.repeat(np.arange(nb), sizes), x), 1.0)
    return np.array([np.sum(weights * table * np.roll(table, -q, axis=0)) for q in range(1, lags + 1)])


@pytest.mark.parametrize("batch", [1, 3, 16])
@pytest.mark.parametrize("classes", [2, 7])
def test_spectra_count_the_circular_lag_matches(batch, classes):
    rng = np.random.default_rng([batch, classes])
    x = rng.integers(0, classes, 96 * batch)
    x[:classes] = np.arange(classes)
    sizes = np.full(96, batch)
    model = _model(x, sizes)
    rows = np.stack([x, rng.permutation(x), np.sort(x)])
    got = model.spectra(rows)
    for row, counts in zip(rows, got):
        np.testing.assert_array_equal(counts, _circular_matches(row, sizes, model.lags, model.weights))


def test_the_tail_grid_gives_the_direct_tails_on_and_off_the_grid():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 10, 2048)
    model = _model(x, np.ones(2048, dtype=np.int64))
    m = model.spectra(np.stack([rng.permutation(x) for _ in range(40)]))
    m[0, :5] = model.total[:5]  # every pair matches: far above the grid
    m[1, 5:9] = 0.0  # no pair matches: below it
    model.evaluated = model.grid_span[1] * model.lags  # as if the net had evaluated a grid's worth already
    p, z = model.lag_scores(m)
    assert "tail_grid" in model.__dict__  # the grid path ran (and gave the same numbers)
    direct = model.lag_pvalues(m)
    np.testing.assert_array_equal(p, direct)
    np.testing.assert_array_equal(z, -special.ndtri(direct))


def test_the_grid_is_built_only_once_it_would_pay():
    from loadercheck.stats.autocorr import GRID_RENT

    rng = np.random.default_rng(6)
    x = rng.integers(0, 10, 2048)
    model = _model(x, np.ones(2048, dtype=np.int64))
    cells = model.grid_span[1] * model.lags
    rows = max(1, cells // (3 * GRID_RENT * model.lags))
    for _ in range(2):  # two thirds of the rent's worth of rows: evaluated directly
        model.lag_scores(model.spectra(np.stack([rng.permutation(x) for _ in range(rows)])))
    assert "tail_grid" not in model.__dict__
    for _ in range(2):
        model.lag_scores(model.spectra(np.stack([rng.permutation(x) for _ in range(rows)])))
    assert "tail_grid" in model.__dict__


def test_the_comb_sums_every_multiple_of_each_period():
    rng = np.random.default_rng(8)
    x = rng.integers(0, 4, 400)
    model = _model(x, np.ones(400, dtype=np.int64))
    z = rng.normal(size=(6, model.lags))
    p = special.ndtr(-z)
    p_max, p_comb, period = model.summarise(p, z)
    q = model.lags
    comb = np.array([[row[P - 1 :: P].sum() / np.sqrt(q // P) for P in range(1, q + 1)] for row in z])
    np.testing.assert_allclose(p_comb, np.minimum(1.0, q * special.ndtr(-comb.max(axis=1))), rtol=1e-12)
    np.testing.assert_array_equal(period, comb.argmax(axis=1) + 1)
    np.testing.assert_allclose(p_max, np.minimum(1.0, q * p.min(axis=1)))
