"""The permutation safety net shared by every test (STATS.md sections 2-3).

A test supplies a *statistic factory*: given the labels and batch sizes of a prefix it returns a
function mapping an (R, n) matrix of permuted labels to R statistics (larger = more order), or
None when the prefix cannot carry the statistic. :func:`safety_net` then

1. keeps the fast tail p-value when it is above ``mc_below`` (no permutations);
2. keeps it too when it is far beyond the threshold (below ``NET_BAND * mc_below``) *and* the
   permutations would be costly (labels x permutations above ``CHEAP_NET_COST``): the net guards the
   band near the threshold, where a tail approximation off by the factor 2-4 that STATS.md
   measures at 1e-3 could flip a decision, and well beyond it: fast tails of clean streams have
   reached 1e-7 (label-autocorrelation, 95/5 classes, 16,384 labels: a false ``warn`` if
   trusted) and 3e-10 (window-drift, 95/5 classes, 1,024 labels). Ten thousand times below
   ``mc_below`` no clean long-prefix stream has been seen (``benchmarks/calibration.py``); on
   short prefixes, where the gross tail failures occur and permutations are cheap, the net runs
   at any fast p;
3. otherwise returns Cantelli's bound when it is at most ``c`` (a share of the level fixed in
   advance: no permutations needed), else ``p_mc + c``, where p_mc is the *anytime-valid* sequential
   Monte Carlo p-value of :func:`sequential_pvalue` on the first ``mc_max_labels`` labels (whole
   batches; a test on a prefix is still exact).

The sequential p-value (:func:`anytime_pvalue`): after l permutations with G exceedances (permuted
statistic >= observed), ``p_l = Q_gamma(Beta(G + 1, l - G + 1)) / gamma``, the gamma-quantile of
the uniform-prior posterior of the exact permutation p-value, over gamma (0.5). Under the null the
exceedance sequence is a mixture of i.i.d. Bernoulli(p*) draws over a super-uniform p*, so for a
fixed level u, ``Post_l(p* <= gamma u) / (gamma u)`` is (dominated by) a likelihood-ratio
martingale and Ville's inequality gives P(some l has p_l <= u) <= u. The running minimum of p_l is
therefore a valid p-value *whatever rule stops the permutations* -- which lets the net stop as
soon as the decision is settled (:func:`sequential_pvalue`): once p_l is at or below the level it
must reach (``reject_at``), or once a lower confidence bound (1 - ``risk``) of the exact p-value puts
it beyond gamma x ``accept_above`` (a clear non-rejection), or when its cost budget is spent (then the decision is
*unsettled* and the details say so, with an interval for p*). With no exceedance p_l =
-ln(1 - gamma) / (gamma (l + 1)) = 1.39 / (l + 1): certifying a level t costs about 1.39 / t
permutations, and a clean stream (p* large) stops after a few dozen.

Within the band, and on short prefixes at any fast p-value, the returned p-value is
super-uniform whatever the fast tail does; below the band on long prefixes the fast tail is
trusted, so the family-wise rate is at most alpha plus the chance that a fast tail lands there
by error on a clean stream (``benchmarks/calibration.py`` reports the smallest fast p-value seen
on clean streams and how many fell below the band's floor, 4.5e-8 at the default alpha for an
order check of Holm weight 1; the floor scales with the weight).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .counts import segment_ids

ELEMENTS_PER_CHUNK = 4_000_000
NET_BAND = 1e-4
"""On long prefixes the net runs for fast p-values in (NET_BAND * mc_below, mc_below]; below, the fast tail stands."""
CHEAP_NET_COST = 2048 * 9541
"""Up to this many label-permutations (2,048 labels x the 9,541 permutations of a net at the default
alpha and four checks) the net runs at any fast p <= mc_below, however small: beyond it a fast p-value
far beyond the threshold stands (the same 2,048 labels as before the sequential net)."""
EXCEEDANCES = 20
"""Besag-Clifford's stopping count, kept for the forensics nets that still use it."""
GAMMA = 0.5
"""The posterior quantile of the anytime-valid p-value (:func:`anytime_pvalue`)."""
RISK = 1e-3
"""A net stops for a non-rejection once the exact p-value is above gamma x its level with confidence 1 - RISK."""
CANTELLI_SHARE = 1.0 / 64.0
"""Share of the net's trigger level (``mc_below``) spent on Cantelli's bound: p = C when C <= c, else p_mc + c."""
NET_BUDGET = 27 * 2**20
"""Label-permutations (labels permuted x permutations) a net's certification may cost: the labels it
permutes are sized so that certifying its level with no exceedance fits (4,096 labels at the
default alpha and four checks)."""
STREAM_BUDGET = 10 * 2**21
"""Label-permutations all the label nets of one stream may spend together, each permutation counted as
its labels plus ``PERM_OVERHEAD``, times what a row of its check's statistic costs per label (each
check's ``net_row_cost``: 1 is about 30 ns a label on one core of the 2-core reference machine;
drawing a row costs ``DRAW_COST``, label-runs 0.6-1.6 with it, batch-entropy 0.5-1.8, window-drift
0.4-3.7, the autocorrelation 0.6-3.2), less the drawing for rows an earlier net drew: 0.6-0.8 s of
checking where a stream spends it all, 1 s on a loaded host (15 x 2^21 before the shared rows were
priced and batch-entropy modelled, which took about a second quiet). A net that reaches it stops
unsettled, with a larger valid p-value."""
DRAW_COST = 0.45
"""What drawing one label of a permuted row costs, in the unit of ``STREAM_BUDGET`` (13.3-13.8 ns a
label measured, numpy's Fisher-Yates shuffle on compact codes): the part of a row's cost that a row
an earlier net drew (:class:`SharedPermutations`) does not cost again."""
MAX_DRAW_SHARE = 0.75
"""A shared row is charged at least a quarter of a fresh one, whatever a check's cost model says."""
PERM_OVERHEAD = 128
"""The fixed cost of one permutation (statistic set-up per row), in labels: what bounds the short
prefixes of a guard's early looks, where a level of 1e-6 asks for a million permutations of 64 labels."""
NEAR_BUDGET = 2**24
"""Label-permutations (each counted as its labels plus ``PERM_OVERHEAD``) a label net on few labels may
spend resolving a p-value near its level (:func:`resolving_perms`): more than its nominal size where
its labels are fewer than NEAR_BUDGET / nominal - PERM_OVERHEAD (1,630 at the default alpha with the
four label checks, nominal 9,541)."""
NEAR_FACTOR = 5
"""At most this many times its nominal permutations, however short the net's labels."""
MIN_NET_LABELS = 1024
"""The shortest prefix a label net permutes, whatever the level."""
MAX_NET_LABELS = 16384
"""The longest prefix a label net permutes."""

RowStatistic = Callable[[np.ndarray], np.ndarray]
StatisticFactory = Callable[[np.ndarray, np.ndarray], "RowStatistic | None"]


HASHED_ELEMENTS = 1 << 16
"""At most this many elements of each array seed a net (:func:`data_rng`): beyond, a stride."""


def data_rng(*arrays: np.ndarray, salt: str) -> np.random.Generator:
    """The random generator of a net, seeded by the data the net tests (and ``salt``, its check id).

    A Monte Carlo p-value near a decision threshold moves with its seed; seeded by the data, the
    same stream gets the same permutations, so a verdict is a function of the stream alone and no
    re-run or ``seed`` can flip it. The permutations stay, for any test statistic, unrelated to the
    data's order (a cryptographic hash of the bytes), which is what the net's validity needs.
    """
    digest = hashlib.blake2b(salt.encode(), digest_size=16)
    for array in arrays:
        a = np.asarray(array)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        flat = a.reshape(-1)
        step = -(-flat.size // HASHED_ELEMENTS)  # a large array is read at a stride: a seed needs no more
        digest.update(np.ascontiguousarray(flat[::step]).tobytes())
    return np.random.default_rng(int.from_bytes(digest.digest(), "little"))


def permuted_rows(rng: "np.random.Generator | _RowReader", base: np.ndarray, count: int) -> np.ndarray:
    """``count`` uniformly permuted copies of ``base``, one per row, in row-major order.

    The rows ``rng.permuted(np.broadcast_to(base, (count, n)), axis=1)`` draws (the same ones, from
    the same generator state), which numpy returns in column-major order: there every per-row
    statistic reads its row at a stride (a ``take``, a ``ravel`` or a row sum ran 2-10x slower). A
    :class:`_RowReader` hands out its shared rows, already row-major.
    """
    if isinstance(rng, _RowReader):
        return rng.rows(base, count)
    rows = np.tile(base, (count, 1))
    rng.permuted(rows, axis=1, out=rows)
    return rows


SHARED_ROWS_BYTES = 64 * 2**20
"""Permuted rows :class:`SharedPermutations` keeps for later nets; beyond, rows are drawn and not kept."""


class SharedPermutations:
    """Permuted rows of a net's labels, drawn once and read by every net of one stream.

    The order checks' nets permute the same labels (the same whole batches, sorted inside each
    batch), so the rows one net drew serve the next: each net reads them from the start through its
    own :meth:`reader`, as if from its own generator. Each net's Monte Carlo p-value stays valid
    (its rows are uniform permutations drawn independently of the data's order); the nets' errors
    become dependent, which Holm's procedure allows.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._rows: dict[tuple[str, bytes], np.ndarray] = {}  # per set of labels, read-only
        self._kept = 0

    def reader(self, draw_share: float = 0.0) -> "_RowReader":
        """A view reading the shared rows from the first; a net passes it where it would pass its
        generator, and :func:`permuted_rows` reads from it. ``draw_share``: the share of the net's
        cost per row that is drawing it, which a row an earlier net drew does not cost again (see
        :meth:`_RowReader.affordable`)."""
        return _RowReader(self, draw_share)

    def drawn(self, key: tuple[str, bytes]) -> int:
        """Rows kept so far for ``key``."""
        kept = self._rows.get(key)
        return 0 if kept is None else kept.shape[0]

    def rows(self, key: tuple[str, bytes], base: np.ndarray, start: int, count: int) -> np.ndarray:
        """Rows ``start .. start + count`` of the shared permutations of ``base`` (``key`` names it)."""
        kept = self._rows.get(key)
        have = 0 if kept is None else kept.shape[0]
        if have < start + count:
            more = max(start + count - have, 16)
            if self._kept + more * base.nbytes > SHARED_ROWS_BYTES:  # drawn for this reader alone
                return permuted_rows(self._rng, base, count)
            new = permuted_rows(self._rng, base, more)
            kept = new if kept is None else np.concatenate([kept, new])
            kept.flags.writeable = False  # read by several nets: a statistic must not write into it
            self._rows[key] = kept
            self._kept += new.nbytes
        return kept[start:start + count]


class _RowReader:
    def __init__(self, shared: SharedPermutations, draw_share: float = 0.0) -> None:
        self._shared = shared
        self._cursor: dict[tuple[str, bytes], int] = {}
        self.draw_share = min(max(float(draw_share), 0.0), MAX_DRAW_SHARE)
        self._earlier: dict[tuple[str, bytes], int] = {}  # rows drawn before this reader first asked

    def _key(self, base: np.ndarray) -> tuple[str, bytes]:
        key = (base.dtype.str, base.tobytes())
        self._earlier.setdefault(key, self._shared.drawn(key))
        return key

    @property
    def reused(self) -> int:
        """Rows read that an earlier net had drawn (each cost ``1 - draw_share`` of a row)."""
        return sum(min(self._cursor.get(key, 0), earlier) for key, earlier in self._earlier.items())

    def rows(self, base: np.ndarray, count: int) -> np.ndarray:
        """The next ``count`` shared permuted rows of ``base`` (read-only, row-major)."""
        base = np.asarray(base)
        key = self._key(base)
        start = self._cursor.get(key, 0)
        self._cursor[key] = start + count
        return self._shared.rows(key, base, start, count)

    def affordable(self, base: np.ndarray, perms: int) -> int:
        """Rows of ``base`` this reader can read for the cost of ``perms`` rows drawn afresh: the rows an
        earlier net drew, not yet read, cost ``1 - draw_share`` of a row each."""
        key = self._key(np.asarray(base))
        pooled = max(0, self._earlier[key] - self._cursor.get(key, 0))
        cheap = 1.0 - self.draw_share
        if pooled * cheap >= perms:
            return int(perms / cheap)
        return int(pooled + (perms - pooled * cheap))

    def spent(self, perms: int) -> float:
        """What ``perms`` rows read so far cost, in rows drawn afresh."""
        return perms - self.draw_share * min(self.reused, perms)


def net_perms(level: float) -> int:
    """Permutations a forensics net may use: enough to certify p-values down to its level / 4
    (capped at 200,000)."""
    return int(min(4.0 / level, 200_000))


def perms_to_certify(level: float, offset: float = 0.0) -> int:
    """Permutations the anytime-valid p-value needs, with no exceedance, to reach ``level`` (plus ``offset``)."""
    room = level - offset
    if room <= 0:
        return 10**9
    return int(np.ceil(-np.log1p(-GAMMA) / (GAMMA * room)))


def net_size(level: float, *, max_labels: int = MAX_NET_LABELS, budget: int = NET_BUDGET) -> tuple[int, int]:
    """(permutations, labels) of a label net that must be able to certify ``level``.

    Permutations: 1.5 x what certifying ``level`` needs with no exceedance (the rest buys
    precision near the threshold). Labels: the longest whole prefix (between ``MIN_NET_LABELS`` and
    ``max_labels``) whose certification fits ``budget`` label-permutations. Both depend on the level
    only (alpha and the number of checks), never on the data's order, so the prefix tested is fixed
    in advance.
    """
    need = perms_to_certify(level, CANTELLI_SHARE * 2.0 * level)
    labels = int(np.clip(budget // max(need, 1), MIN_NET_LABELS, max_labels))
    return int(1.5 * need), labels


def resolving_perms(perms: int, labels: int) -> int:
    """Permutations a label net of nominal size ``perms`` on ``labels`` labels may draw.

    A net stops as soon as its decision is settled, so the permutations beyond those that certify
    its level (the nominal 1.5x) are drawn only for p-values near the level. There the
    anytime-valid p-value needs them: with 1.5x, a net rejects only when its first 1.39 / level
    permutations hold no exceedance (a stream whose exact p-value is half its level is rejected
    half the time). On few labels they are cheap, so a net on n labels may draw up to
    ``NEAR_BUDGET / (n + PERM_OVERHEAD)`` (at most ``NEAR_FACTOR`` x ``perms``). A function of the
    net's size only: the p-value stays valid whatever the permutations it may draw.
    """
    return int(max(perms, min(NEAR_FACTOR * perms, NEAR_BUDGET // (max(labels, 1) + PERM_OVERHEAD))))


FORENSICS_NET_COST = 2**25
"""The same threshold for the forensics and rank nets (units x permutations), as it has always been."""


def trusts_fast_tail(fast_p: float, mc_below: float, labels_used: int, perms: int,
                     cheap: float = FORENSICS_NET_COST) -> bool:
    """True when the net leaves a fast p-value at or below ``mc_below`` standing: far beyond the
    threshold (below ``NET_BAND * mc_below``) where ``perms`` permutations of ``labels_used``
    labels would be costly (more than ``cheap``; the label nets pass ``CHEAP_NET_COST``)."""
    return fast_p <= NET_BAND * mc_below and labels_used * perms > cheap


def net_pvalue(cantelli_p: float, p_mc: float | None, perms: int) -> float:
    """One valid p-value from Cantelli's bound and a Monte Carlo p-value of ``perms`` permutations.

    With c0 = 1 / (1 + perms): Cantelli's bound itself when it is at most c0 (then ``p_mc`` is not
    needed and may be None), else ``min(1, p_mc + c0)``. See :func:`combine_cantelli`.
    """
    return combine_cantelli(cantelli_p, p_mc, 1.0 / (1.0 + perms))


def combine_cantelli(cantelli_p: float, p_mc: float | None, share: float) -> float:
    """Cantelli's bound C when C <= ``share``, else ``min(1, p_mc + share)``.

    Valid when both parts are and ``share`` is fixed in advance: P(p <= t) <= P(C <= share) +
    P(p_mc <= t - share) <= t for t >= share, and P(p <= t) = P(C <= t) <= t below.
    """
    if cantelli_p <= share:
        return float(cantelli_p)
    if p_mc is None:
        raise ValueError("a Monte Carlo p-value is needed when Cantelli's bound exceeds its share")
    return float(min(1.0, p_mc + share))


def anytime_pvalue(exceedances: np.ndarray | float, perms: np.ndarray | float) -> np.ndarray:
    """The anytime-valid Monte Carlo p-value after ``perms`` permutations with ``exceedances``:
    ``Q_gamma(Beta(G + 1, l - G + 1)) / gamma`` (capped at 1); vectorised."""
    from scipy import special

    g = np.asarray(exceedances, dtype=np.float64)
    l = np.asarray(perms, dtype=np.float64)
    q = special.betaincinv(g + 1.0, l - g + 1.0, GAMMA)
    return np.minimum(1.0, q / GAMMA)


def p_interval(exceedances: int, perms: int, level: float = 0.99) -> tuple[float, float]:
    """Clopper-Pearson interval for the exact permutation p-value p* from the permutations drawn."""
    from scipy import special

    if perms <= 0:
        return 0.0, 1.0
    a = (1.0 - level) / 2.0
    lo = 0.0 if exceedances == 0 else float(special.betaincinv(exceedances, perms - exceedances + 1, a))
    hi = 1.0 if exceedances >= perms else float(special.betaincinv(exceedances + 1, perms - exceedances, 1 - a))
    return lo, hi


@dataclass(frozen=True)
class SequentialOutcome:
    """What a sequential Monte Carlo run found."""

    pvalue: float
    """The anytime-valid p-value (running minimum over the permutations drawn)."""
    perms: int
    exceedances: int
    stop: str
    """``reject`` (reached ``reject_at``), ``accept`` (cannot plausibly reach ``accept_above``), ``budget``."""

    @property
    def settled(self) -> bool:
        return self.stop != "budget"

    def details(self) -> dict:
        lo, hi = p_interval(self.exceedances, self.perms)
        return {"mc_perms": float(self.perms), "mc_pvalue": float(self.pvalue),
                "mc_exceedances": float(self.exceedances), "mc_p_low": lo, "mc_p_high": hi,
                "mc_settled": 1.0 if self.settled else 0.0}


def sequential_pvalue(
    exceed: Callable[[int], np.ndarray],
    *,
    max_perms: int,
    reject_at: float,
    accept_above: float,
    chunk: int = 16,
    chunk_cap: int = 1024,
    risk: float = RISK,
    resolve_from: int | None = None,
) -> SequentialOutcome:
    """Draw permutations in growing chunks until the decision is settled or ``max_perms`` are spent.

    Past ``resolve_from`` permutations (None: never) the run goes on only while ``reject_at`` can still
    be reached within ``max_perms`` (the permutations beyond are there to resolve a p-value near that
    level); when it cannot, it stops as at its budget.

    ``exceed(rows)`` draws ``rows`` fresh permutations and returns, for each, whether its statistic
    reached the observed one. Stops when the anytime-valid p-value is <= ``reject_at``, or when the
    lower confidence bound (1 - ``risk``) of the exact p-value exceeds ``GAMMA * accept_above`` (the
    p-value tends to p* / gamma, so it would not reach ``accept_above``). The returned p-value is valid for any
    stopping rule (see the module docstring).
    """
    from scipy import special

    used = total = 0
    best = 1.0
    chunk = max(1, min(chunk, chunk_cap))
    while used < max_perms:
        rows = min(chunk, max_perms - used)
        hits = np.asarray(exceed(rows), dtype=bool)
        cum = total + np.cumsum(hits)
        # the running minimum of p_l is reached just before an exceedance, or at the end
        at = np.flatnonzero(hits)
        g = np.r_[cum[at] - 1, cum[-1]]
        l = np.r_[used + at, used + rows]
        p = anytime_pvalue(g, np.maximum(l, 0))
        p = np.where(l > 0, p, 1.0)
        best = min(best, float(p.min()))
        total = int(cum[-1])
        used += rows
        if best <= reject_at:
            return SequentialOutcome(best, used, total, "reject")
        # a clear non-rejection: even the lower confidence bound (1 - risk) of the exact p-value is
        # above gamma * accept_above, where the p-value settles (it tends to p* / gamma)
        if total > 0 and float(special.betaincinv(total, used - total + 1.0, risk)) > GAMMA * accept_above:
            return SequentialOutcome(best, used, total, "accept")
        if resolve_from is not None and used >= resolve_from and float(anytime_pvalue(total, max_perms)) > reject_at:
            return SequentialOutcome(best, used, total, "budget")  # no exceedance left to come could reach it
        # grow the chunks, but not far past where the level would be reached if no exceedance came
        # (a cost choice only: the p-value is valid whatever the chunks)
        short = perms_to_certify(reject_at) * (total + 1) - used if reject_at > 0 else chunk_cap
        chunk = int(min(2 * chunk, chunk_cap, max(16, short)))
    return SequentialOutcome(best, used, total, "budget")


def _compact(x: np.ndarray) -> np.ndarray:
    """Codes in the smallest unsigned dtype (permuting bytes is cheaper than permuting int64)."""
    top = int(x.max()) if x.size else 0
    for dt in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dt).max:
            return x.astype(dt)
    return x


def net_batches(batch_sizes: np.ndarray, max_labels: int, min_batches: int = 1) -> np.ndarray:
    """The batches a label net permutes: all of them when they hold at most ``max_labels`` labels,
    else every j-th batch (the smallest stride j that fits, kept to at least ``min_batches``).

    A sub-stream of batches at positions fixed in advance is, under the null, itself a uniformly
    random order of its labels, so its permutation p-value is exact; spreading the batches over the
    whole stream (rather than a prefix) keeps what a drift or a partial sort does over its length.
    """
    nb = int(batch_sizes.size)
    total = int(batch_sizes.sum())
    if total <= max_labels or nb <= min_batches:
        return np.arange(nb)
    stride = int(np.ceil(total / max(max_labels, 1)))
    stride = max(1, min(stride, nb // max(min_batches, 1)))
    return np.arange(0, nb, stride)


@dataclass(frozen=True)
class NetOutcome:
    pvalue: float
    method: str
    details: dict


def monte_carlo_pvalue(
    factory: StatisticFactory,
    labels: np.ndarray,
    batch_sizes: np.ndarray,
    *,
    rng: np.random.Generator,
    max_perms: int,
    max_labels: int,
    min_batches: int = 1,
    cells_per_label: float = 1.0,
    reject_at: float = 0.0,
    accept_above: float = 1.0,
    risk: float = RISK,
) -> tuple[float, int, int] | None:
    """Anytime-valid sequential Monte Carlo p-value of the statistic on a whole-batch prefix.

    Returns ``(p, permutations used, labels used)`` or None when the prefix cannot carry the statistic
    (:func:`monte_carlo_outcome` also returns the stopping reason and the exceedances).
    """
    out = monte_carlo_outcome(factory, labels, batch_sizes, rng=rng, max_perms=max_perms, max_labels=max_labels,
                              min_batches=min_batches, cells_per_label=cells_per_label, reject_at=reject_at,
                              accept_above=accept_above, risk=risk)
    if out is None:
        return None
    seq, n = out
    return seq.pvalue, seq.perms, n


def monte_carlo_outcome(
    factory: StatisticFactory,
    labels: np.ndarray,
    batch_sizes: np.ndarray,
    *,
    rng: np.random.Generator,
    max_perms: int,
    max_labels: int,
    min_batches: int = 1,
    cells_per_label: float = 1.0,
    reject_at: float = 0.0,
    accept_above: float = 1.0,
    risk: float = RISK,
    spread: bool = True,
    resolve_from: int | None = None,
    budget: int | None = None,
) -> tuple[SequentialOutcome, int] | None:
    """:func:`sequential_pvalue` of a label statistic on at most ``max_labels`` labels (whole batches,
    spread over the stream by :func:`net_batches`, or the first ones when ``spread`` is False);
    returns ``(outcome, labels used)`` or None when they cannot carry the statistic. ``budget`` caps
    the permutations further, counted as rows drawn afresh (rows a shared reader hands out that an
    earlier net drew cost less: :meth:`_RowReader.affordable`)."""
    if spread:
        keep = net_batches(batch_sizes, max_labels, min_batches)
    else:
        cum = np.cumsum(batch_sizes)
        keep = np.arange(min(batch_sizes.size, max(int(np.searchsorted(cum, max_labels, side="right")), min_batches)))
    sizes = batch_sizes[keep]
    n = int(sizes.sum())
    picked = labels[:n] if keep.size == batch_sizes.size else labels[np.isin(segment_ids(batch_sizes), keep)]
    # canonical order (sorted inside each batch): the statistics ignore the order inside a batch,
    # so this changes nothing but makes the Monte Carlo draws themselves invariant to it
    x = picked[np.lexsort((picked, segment_ids(sizes)))]
    stat = factory(x, sizes)
    if stat is None:
        return None
    observed = float(stat(x[None, :])[0])
    tol = 1e-9 * max(1.0, abs(observed))
    small = _compact(x)
    if budget is not None:
        max_perms = min(max_perms, rng.affordable(small, budget) if isinstance(rng, _RowReader) else budget)
    cap = max(1, int(ELEMENTS_PER_CHUNK / (max(n, 1) * max(cells_per_label, 1.0))))

    def exceed(rows: int) -> np.ndarray:
        out = np.empty(rows, dtype=bool)
        for start in range(0, rows, cap):
            r = min(cap, rows - start)
            perm = permuted_rows(rng, small, r)
            out[start:start + r] = stat(perm) >= observed - tol
        return out

    seq = sequential_pvalue(exceed, max_perms=max_perms, reject_at=reject_at, accept_above=accept_above,
                            chunk=16, chunk_cap=max(cap, 16), risk=risk, resolve_from=resolve_from)
    return seq, n


def safety_net(
    fast_p: float,
    fast_method: str,
    cantelli_p: float,
    factory: StatisticFactory,
    labels: np.ndarray,
    batch_sizes: np.ndarray,
    *,
    rng: np.random.Generator | None,
    mc_below: float,
    mc_max_perms: int,
    mc_max_labels: int,
    min_batches: int = 1,
    cells_per_label: float = 1.0,
    force: bool = False,
    reject_at: float | None = None,
    accept_above: float | None = None,
    spread: bool = True,
    mc_budget: int | None = None,
) -> NetOutcome:
    """Fast p-value, or the permutation-backed p-value when the fast one is <= ``mc_below``.

    ``force`` runs the net whenever it is enabled (``mc_below > 0``), e.g. for small samples.
    ``reject_at`` (default ``mc_below / 2``, the level the net guards) and ``accept_above`` (default
    ``mc_below``) tell the sequential permutations when the decision is settled; they change the
    cost, never the validity (the Monte Carlo p-value is anytime-valid). The net may draw
    :func:`resolving_perms` permutations (``mc_max_perms``, its nominal size, which alone decides
    whether a fast p-value far beyond the threshold stands; more on few labels, for p-values near
    the level), or 1.5x what certifies ``reject_at`` where that is more (at most ``NEAR_FACTOR`` x
    the nominal size); ``mc_budget`` caps them (what is left of a stream's budget); at 0, a p-value that
    needs permutations is Cantelli's bound, unsettled.
    """
    if mc_below <= 0 or (fast_p > mc_below and not force):
        return NetOutcome(float(fast_p), fast_method, {})
    if rng is None:
        raise ValueError("the permutation safety net needs rng=np.random.default_rng(seed) when mc_below > 0")
    share = CANTELLI_SHARE * mc_below
    if cantelli_p <= share:
        return NetOutcome(float(cantelli_p), "Cantelli bound (permutation net not needed)", {"mc_perms": 0.0})
    if trusts_fast_tail(fast_p, mc_below, labels.size, mc_max_perms, CHEAP_NET_COST) and not force:
        return NetOutcome(float(fast_p), f"{fast_method} (far beyond the threshold: net not needed)", {"mc_perms": 0.0})
    if mc_budget == 0:  # no permutations left: Cantelli's bound, valid on its own, unsettled
        none = SequentialOutcome(1.0, 0, 0, "budget")
        return NetOutcome(float(cantelli_p), "Cantelli bound (no permutations drawn: unsettled)",
                          {**none.details(), "mc_labels": 0.0})
    reject_at = mc_below / 2.0 if reject_at is None else reject_at
    accept_above = mc_below if accept_above is None else accept_above
    # the nominal size, or 1.5x what certifies the level asked for where that is more (a check of small
    # weight in Holm's procedure; at most NEAR_FACTOR x nominal); more on few labels (resolving_perms),
    # drawn only while they can still bring the p-value to the level
    sized = mc_max_perms if reject_at <= share else max(
        mc_max_perms, min(int(1.5 * perms_to_certify(reject_at, share)), NEAR_FACTOR * mc_max_perms))
    max_perms = max(sized, resolving_perms(mc_max_perms, min(labels.size, mc_max_labels)))
    mc = monte_carlo_outcome(
        factory,
        labels,
        batch_sizes,
        rng=rng,
        max_perms=max_perms,
        budget=mc_budget,
        max_labels=mc_max_labels,
        min_batches=min_batches,
        cells_per_label=cells_per_label,
        reject_at=reject_at - share,
        accept_above=max(accept_above - share, share),
        spread=spread,
        resolve_from=sized if max_perms > sized else None,
    )
    if mc is None:
        return NetOutcome(float(cantelli_p), "Cantelli bound (prefix too short for permutations)", {"mc_perms": 0.0})
    seq, n_used = mc
    p = combine_cantelli(cantelli_p, seq.pvalue, share)
    settled = "" if seq.settled else ", unsettled at its budget"
    method = f"sequential permutation (B={seq.perms}, {n_used} labels{settled}) + Cantelli share {share:.2g}"
    return NetOutcome(p, method, {**seq.details(), "mc_labels": float(n_used)})
