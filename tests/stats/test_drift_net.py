"""window-drift's permutation net: its window counts give the same statistic whichever way they are counted."""

import numpy as np
import pytest

import loadercheck.stats.counts as counts
import loadercheck.stats.drift as drift


@pytest.mark.parametrize("batch,classes", [(1, 10), (2, 10), (4, 30), (1, 3)])
def test_windows_counted_densely_or_by_sorting_agree(batch, classes, monkeypatch):
    rng = np.random.default_rng([batch, classes])
    x = rng.integers(0, classes, 2048)
    x[:classes] = np.arange(classes)
    sizes = np.full(x.size // batch, batch)
    rows = np.stack([x, np.sort(x)] + [rng.permutation(x) for _ in range(6)])
    default = drift._factory(classes)(x, sizes)(rows)
    monkeypatch.setattr(counts, "DENSE_CELLS_PER_LABEL", 0)  # every scale sorts its windows' labels
    sorting = drift._factory(classes)(x, sizes)(rows)
    np.testing.assert_allclose(default, sorting, rtol=1e-10)
    assert np.ptp(default) > 1.0  # the rows differ, so the comparison can see a wrong window
