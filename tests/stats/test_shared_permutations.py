"""The permuted rows the order checks' nets share: each net reads the same rows from the first, every
row is a permutation of the labels, and nothing a net does can change what the next one reads."""

from __future__ import annotations

import numpy as np
import pytest

from loadercheck.stats import permutation as P


def test_every_reader_reads_the_same_rows_from_the_first():
    shared = P.SharedPermutations(np.random.default_rng(0))
    base = np.repeat(np.arange(4, dtype=np.int8), 8)
    first, second = shared.reader(), shared.reader()
    a = np.concatenate([first.rows(base, r) for r in (16, 5, 40)])
    b = second.rows(base, 61)
    np.testing.assert_array_equal(a, b)
    assert all(np.array_equal(np.sort(row), base) for row in a)  # each row a permutation of the labels
    assert len({row.tobytes() for row in a}) > 55  # and not one row repeated


def test_other_labels_get_their_own_rows():
    shared = P.SharedPermutations(np.random.default_rng(0))
    reader = shared.reader()
    one = reader.rows(np.arange(8, dtype=np.int8), 4)
    other = reader.rows(np.arange(8, dtype=np.int8)[::-1].copy(), 4)
    assert sorted(one[0].tolist()) == sorted(other[0].tolist()) and not np.array_equal(one, other)


def test_the_rows_are_read_only():
    reader = P.SharedPermutations(np.random.default_rng(0)).reader()
    rows = reader.rows(np.arange(8, dtype=np.int8), 4)
    with pytest.raises(ValueError):
        rows[0, 0] = 7


def test_beyond_the_memory_cap_rows_are_drawn_and_not_kept(monkeypatch):
    monkeypatch.setattr(P, "SHARED_ROWS_BYTES", 1024)
    shared = P.SharedPermutations(np.random.default_rng(0))
    base = np.arange(64, dtype=np.int8)
    first, second = shared.reader(), shared.reader()
    a = first.rows(base, 100)  # 6,400 bytes: over the cap
    b = second.rows(base, 100)
    assert a.shape == b.shape == (100, 64) and not np.array_equal(a, b)
    assert all(np.array_equal(np.sort(row), base) for row in np.concatenate([a, b]))


def test_rows_come_row_major_and_are_the_generators_own_permutations():
    # Generator.permuted returns broadcast rows column-major, where every per-row statistic read its row
    # at a stride (2-10x slower); permuted_rows draws the very same rows, row-major
    base = np.repeat(np.arange(5, dtype=np.int8), 40)
    rows = P.permuted_rows(np.random.default_rng(5), base, 64)
    expected = np.random.default_rng(5).permuted(np.broadcast_to(base, (64, base.size)), axis=1)
    np.testing.assert_array_equal(rows, expected)
    assert rows.flags.c_contiguous and rows.dtype == base.dtype
    reader = P.SharedPermutations(np.random.default_rng(5)).reader()
    for count in (16, 40):  # the shared rows too, as first drawn and once grown
        assert P.permuted_rows(reader, base, count).flags.c_contiguous


def test_rows_an_earlier_net_drew_cost_a_reader_only_what_is_not_drawing():
    """A reader prices the rows an earlier net drew, not yet read, at 1 - draw_share of a fresh row:
    a budget of 100 fresh rows buys the 60 pooled rows for 24 and 76 fresh ones after them."""
    shared = P.SharedPermutations(np.random.default_rng(0))
    base = np.repeat(np.arange(4, dtype=np.int8), 8)
    shared.reader().rows(base, 60)  # an earlier net draws 60 rows
    later = shared.reader(draw_share=0.6)
    assert later.affordable(base, 100) == 60 + (100 - 24)
    assert later.affordable(base, 12) == 30  # all of them pooled: 12 / 0.4
    assert shared.reader().affordable(base, 100) == 100  # no draw share: every row at full price
    assert later.affordable(np.arange(32, dtype=np.int8), 100) == 100  # other labels: nothing pooled
    later.rows(base, 50)
    assert later.reused == 50 and later.affordable(base, 10) == 10 + (10 - 4)  # 10 pooled left, for 4
    later.rows(base, 30)  # 10 pooled, 20 drawn afresh
    assert later.reused == 60
    assert later.spent(80) == pytest.approx(80 - 0.6 * 60)


def test_a_reader_never_prices_a_row_below_a_quarter():
    shared = P.SharedPermutations(np.random.default_rng(0))
    base = np.arange(16, dtype=np.int8)
    shared.reader().rows(base, 40)
    assert shared.reader(draw_share=5.0).affordable(base, 10) == 40


def test_rows_a_reader_had_drawn_for_itself_are_not_counted_as_reused():
    """The pool draws at least 16 rows at a time: the rows a reader's own first read drew are fresh
    when it reads them next, and only rows drawn before its first read are priced as reused."""
    shared = P.SharedPermutations(np.random.default_rng(0))
    base = np.arange(16, dtype=np.int8)
    shared.reader().rows(base, 20)  # an earlier net: 20 rows
    reader = shared.reader(draw_share=0.5)
    reader.rows(base, 25)  # 20 reused; the pool draws 16 more (rows 20-35)
    reader.rows(base, 10)  # rows 25-34: drawn for this reader
    assert reader.reused == 20
    assert reader.spent(35) == pytest.approx(35 - 0.5 * 20)
