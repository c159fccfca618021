"""label-autocorrelation's permutation net: its fast paths give the numbers of the plain definitions."""

import numpy as np
import pytest
from scipy import special

from loadercheck.stats.autocorr import _LagModel, choose_lags
from loadercheck.stats.counts import hash_groups
from loadercheck.stats.tails import rare_side_sf


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


@pytest.mark.parametrize("classes", [2, 7])
def test_spectra_taken_a_few_rows_at_a_time_count_every_row(monkeypatch, classes):
    """Rows are transformed in steps of SERIES_PER_STEP values; a step of two rows, with a partial
    last step, gives each row its own counts (unequal batch sizes too)."""
    from loadercheck.stats import autocorr

    rng = np.random.default_rng([11, classes])
    sizes = rng.integers(1, 6, 64)
    x = rng.integers(0, classes, int(sizes.sum()))
    x[:classes] = np.arange(classes)
    model = _model(x, sizes)
    counted = int(np.count_nonzero(model.weights))
    monkeypatch.setattr(autocorr, "SERIES_PER_STEP", 2 * counted * sizes.size)
    rows = np.stack([rng.permutation(x) for _ in range(7)])
    got = model.spectra(rows)
    assert got.shape == (7, model.lags)
    for row, counts in zip(rows, got):
        np.testing.assert_array_equal(counts, _circular_matches(row, sizes, model.lags, model.weights))


@pytest.mark.parametrize("irregular", [False, True])
def test_the_tail_grid_gives_the_direct_tails_on_and_off_the_grid(irregular):
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 4, 1024) if irregular else np.ones(2048, dtype=np.int64)
    x = rng.integers(0, 10, int(sizes.sum()))
    model = _model(x, sizes)
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
    sizes = rng.integers(1, 4, 1024)  # irregular batches: each lag has a tail law of its own
    x = rng.integers(0, 10, int(sizes.sum()))
    model = _model(x, sizes)
    laws = model.tail_laws[0].size
    assert laws > model.lags // 2
    cells = model.grid_span[1] * laws
    rows = max(1, cells // (3 * GRID_RENT * model.lags))
    for _ in range(2):  # two thirds of the rent's worth of rows: evaluated directly
        model.lag_scores(model.spectra(np.stack([rng.permutation(x) for _ in range(rows)])))
    assert "tail_grid" not in model.__dict__
    for _ in range(2):
        model.lag_scores(model.spectra(np.stack([rng.permutation(x) for _ in range(rows)])))
    assert "tail_grid" in model.__dict__


def test_equal_batches_give_every_lag_one_tail_law_and_the_grid_its_tails():
    """Equal batch sizes make every circular lag's count follow one law: the grid is evaluated once
    for it and gives each lag the tails evaluated lag by lag."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 10, 4096)
    model = _model(x, np.full(2048, 2, dtype=np.int64))
    first, law = model.tail_laws
    assert first.size == 1 and law.shape == (model.lags,) and not law.any()
    lo, p_grid, z_grid = model.tail_grid
    values = lo[:, None] + np.arange(p_grid.shape[1])
    direct = rare_side_sf(values, model.mean[:, None], model.var[:, None], model.total[:, None])
    np.testing.assert_array_equal(p_grid, direct)
    np.testing.assert_array_equal(z_grid, -special.ndtri(direct))


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
