r"""Operating characteristics over a grid of true control rates, and threshold calibration.

The NumPy/SciPy core of the type I error curve (RBesT ``oc2S`` style) and of the calibration of
a decision threshold (adaptr ``calibrate_trial`` idea). Everything here works on **decision
tables**: for a trial with ``m_t`` and ``m_c`` patients analysed, a table over all outcomes
``(x_t, x_c)`` (success region, p-values or posterior probabilities).

Exact rejection probability
---------------------------
With responders :math:`x_t \sim \mathrm{Bin}(m_t, p_t)` and :math:`x_c \sim \mathrm{Bin}(m_c,
p_c)` independent, the probability that a region :math:`R` rejects is

.. math:: P(R \mid p_t, p_c) = \sum_{x_t, x_c} R(x_t, x_c)\, b(x_t; m_t, p_t)\, b(x_c; m_c, p_c),

computed for a whole grid of rates at once as :math:`B_t R B_c^\top` (rows of :math:`B` are
binomial pmfs). When the numbers analysed are random (``missing: exclude``: :math:`m \sim
\mathrm{Bin}(n, o)` with ``o`` the probability of being in the study at the endpoint week),
the sum also runs over :math:`(m_t, m_c)` with weights :math:`b(m_t; n_t, o_t)\, b(m_c; n_c,
o_c)`; pairs of weight below :data:`TAIL` are dropped (as in :mod:`simtrial.engines.exact`)
and the dropped mass is returned in :attr:`Layout.truncated`.

Worst case over a range
-----------------------
:func:`worst_case` evaluates a curve on :data:`GRID` equally spaced rates over the range (both
ends included) and refines the largest value by a bounded scalar search (Brent) between the
grid neighbours of the grid maximum, to ``xatol`` 1e-7 in the rate.

Calibration
-----------
A family of regions indexed by a threshold is **nested**: a larger posterior-probability
threshold :math:`\eta` (success when :math:`P(p_t - p_c > \delta \mid x) > \eta`) or a smaller
level :math:`\alpha` (reject when :math:`p \le \alpha`) gives a smaller region, so every point
of the type I error curve, and hence its maximum over a range, is monotone in the threshold.
:func:`calibrate` therefore searches the finite set of distinct table values (scores) by
bisection: region :math:`k` holds the cells whose score is among the :math:`k` largest
distinct values, and the answer is the largest :math:`k` whose worst-case type I error is at
most the target. Every threshold in an interval gives that same region; the reported threshold
is the decimal with the fewest digits in it (:func:`short_decimal`). Scores that differ by
less than :data:`TIE` (rounding of mathematically equal values, e.g. by symmetry) are treated
as one value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Calibration",
    "Layout",
    "calibrate",
    "layout",
    "rejection_probability",
    "short_decimal",
    "worst_case",
]

FloatArray = NDArray[np.float64]
Table = Callable[[int, int], NDArray[np.floating] | NDArray[np.bool_]]

#: Pairs (m_t, m_c) of numbers analysed with probability below this are dropped.
TAIL = 1e-12
#: Grid points of the worst-case search over a range of control rates.
GRID = 201
#: Scores closer than this are one value in the calibration search.
TIE = 1e-10


@dataclass(frozen=True)
class Layout:
    """Numbers analysed ``(m_t, m_c)`` and their probabilities (one pair with weight 1 under
    non-responder imputation); ``truncated`` is the probability mass of the dropped pairs."""

    pairs: tuple[tuple[int, int, float], ...]
    truncated: float = 0.0


def layout(n_t: int, n_c: int, in_study_t: float = 1.0, in_study_c: float = 1.0) -> Layout:
    """Pairs of numbers analysed, ``m ~ Binomial(n, in_study)`` per arm (independent), with
    ``in_study`` the probability of being in the study at the endpoint week.

    With both ``in_study`` equal to 1 (non-responder imputation: everybody randomised is
    analysed) the layout is the single pair ``(n_t, n_c)``.
    """
    if in_study_t >= 1.0 and in_study_c >= 1.0:
        return Layout(((n_t, n_c, 1.0),))
    from scipy import stats  # deferred (as in _pmf, worst_case): a run without curves skips it

    wt = stats.binom.pmf(np.arange(n_t + 1), n_t, in_study_t)
    wc = stats.binom.pmf(np.arange(n_c + 1), n_c, in_study_c)
    pairs = []
    kept = 0.0
    for mt in np.flatnonzero(wt > TAIL):
        for mc in np.flatnonzero(wc > TAIL):
            w = float(wt[mt] * wc[mc])
            if w >= TAIL:
                pairs.append((int(mt), int(mc), w))
                kept += w
    return Layout(tuple(pairs), max(0.0, 1.0 - kept))


def _pmf(n: int, p: FloatArray) -> FloatArray:
    from scipy import stats

    return np.asarray(stats.binom.pmf(np.arange(n + 1), n, np.asarray(p, dtype=float)[:, None]))


def rejection_probability(
    region: Table, lay: Layout, p_t: Sequence[float] | FloatArray, p_c: Sequence[float] | FloatArray
) -> FloatArray:
    """Exact probability that ``region(m_t, m_c)`` (bool or 0/1 table) holds, for each pair
    of rates ``(p_t[i], p_c[i])`` (see the module docstring)."""
    pt = np.atleast_1d(np.asarray(p_t, dtype=float))
    pc = np.atleast_1d(np.asarray(p_c, dtype=float))
    out = np.zeros(np.broadcast(pt, pc).shape)
    pt, pc = np.broadcast_to(pt, out.shape), np.broadcast_to(pc, out.shape)
    for mt, mc, w in lay.pairs:
        table = np.asarray(region(mt, mc), dtype=float)
        out += w * np.einsum("gi,ij,gj->g", _pmf(mt, pt), table, _pmf(mc, pc))
    return out


def worst_case(
    curve: Callable[[FloatArray], FloatArray], over: tuple[float, float]
) -> tuple[float, float]:
    """Largest value of ``curve`` (vectorised over rates) on the closed range ``over``, and the
    rate where it is reached (grid of :data:`GRID` points, then Brent refinement)."""
    lo, hi = over
    grid = np.linspace(lo, hi, GRID)
    values = curve(grid)
    i = int(np.argmax(values))
    best, at = float(values[i]), float(grid[i])
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, GRID - 1)]
    if b > a:
        from scipy import optimize

        res = optimize.minimize_scalar(
            lambda p: -float(curve(np.array([p]))[0]),
            bounds=(a, b),
            method="bounded",
            options={"xatol": 1e-7},
        )
        if -res.fun > best:
            best, at = float(-res.fun), float(res.x)
    return best, at


def short_decimal(lo: float, hi: float) -> float:
    """The number with the fewest decimals in ``[lo, hi)`` (``lo`` itself if none shorter).

    >>> short_decimal(0.97312, 0.97391)
    0.9732
    """
    if hi <= lo:
        return lo
    for digits in range(1, 17):
        scale = 10.0**digits
        c = math.ceil(lo * scale) / scale
        if c < lo:
            c = (math.ceil(lo * scale) + 1) / scale
        if lo <= c < hi:
            return c
    return lo


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`.

    ``threshold`` is the calibrated threshold (posterior probability η, or level α);
    ``interval`` every threshold giving the same decision region (``[lo, hi)``);
    ``worst_type1_error`` the worst-case type I error over ``over`` at that threshold, reached
    at control rate ``at``; ``looser`` the worst case with the next larger region (the
    smallest change of threshold that admits one more outcome), for the record.
    """

    threshold: float
    interval: tuple[float, float]
    worst_type1_error: float
    at: float
    looser_worst_type1_error: float | None
    evaluations: int


def _groups(values: FloatArray) -> FloatArray:
    """Distinct values, descending, with values closer than :data:`TIE` merged: returns the
    (max, min) of each cluster as an array of shape (k, 2)."""
    v = np.unique(values[np.isfinite(values)])[::-1]
    if v.size == 0:
        return np.zeros((0, 2))
    breaks = np.flatnonzero(v[:-1] - v[1:] > TIE) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [v.size]]) - 1
    return np.column_stack([v[starts], v[ends]])


def calibrate(
    score: Table,
    null_layout: Layout,
    over: tuple[float, float],
    target: float,
    kind: str,
) -> Calibration:
    """Calibrate a threshold so that the worst-case type I error over ``over`` is ≤ ``target``.

    Parameters
    ----------
    score : callable
        ``score(m_t, m_c)``: the posterior-probability table (``kind="bayes"``: success when
        ``score > threshold``) or the p-value table (``kind="alpha"``: reject when
        ``p <= alpha``).
    null_layout : Layout
        Numbers analysed under the null (both arms with the control's probability of being
        in the study at the endpoint week).
    over : (float, float)
        Range of the common true rate of both arms.
    target : float
        Largest worst-case type I error allowed.
    kind : {"bayes", "alpha"}

    Returns
    -------
    Calibration
    """
    if kind not in ("bayes", "alpha"):
        raise ValueError(f'"kind" must be "bayes" or "alpha", got {kind!r}')
    sign = 1.0 if kind == "bayes" else -1.0
    tables = {
        (mt, mc): sign * np.asarray(score(mt, mc), dtype=float) for mt, mc, _ in null_layout.pairs
    }
    groups = _groups(np.concatenate([t.ravel() for t in tables.values()]))
    k_max = len(groups)
    cache: dict[int, tuple[float, float]] = {}

    def worst(k: int) -> tuple[float, float]:
        if k not in cache:
            if k == 0:
                cache[k] = (0.0, over[0])
            else:
                cut = groups[k - 1, 1]

                def region(mt: int, mc: int) -> NDArray[np.bool_]:
                    return tables[(mt, mc)] >= cut

                cache[k] = worst_case(
                    lambda p: rejection_probability(region, null_layout, p, p), over
                )
        return cache[k]

    lo, hi = 0, k_max  # invariant: worst(lo) <= target; find the largest such k
    if worst(hi)[0] <= target:
        lo = hi
    else:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if worst(mid)[0] <= target:
                lo = mid
            else:
                hi = mid
    k = lo
    looser = worst(k + 1)[0] if k < k_max else None
    # thresholds giving region k: in score units, cuts in (next group's max, group k's min]
    upper = groups[k - 1, 1] if k > 0 else math.inf  # region needs cut <= this
    lower = groups[k, 0] if k < k_max else -math.inf  # ... and cut > this
    if kind == "bayes":  # success when P > eta: eta in [lower, upper)
        interval = (max(lower, 0.0), min(upper, 1.0))
    else:  # reject when p <= alpha, p = -score: alpha in [-upper, -lower)
        interval = (max(-upper, 0.0), min(-lower, 1.0))
    threshold = short_decimal(*interval)
    if kind == "alpha" and threshold <= 0.0:  # no outcome rejects: any alpha below the smallest p
        threshold = interval[1] / 2
    w, at = worst(k)
    return Calibration(threshold, interval, w, at, looser, len(cache))
