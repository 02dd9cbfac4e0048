r"""The log-rank test for the ``time_to_loss`` endpoint, vectorized over simulated trials.

``time_to_loss`` is the time from first response to loss of response, censored at dropout or at
the end of follow-up (DESIGN §2). Two arms are compared with the log-rank test (Mantel 1966,
*Cancer Chemother. Rep.* 50:163-170; Peto & Peto 1972, *J. R. Stat. Soc. A* 135:185-207), the
test R's ``survival::survdiff(Surv(time, status) ~ arm)`` computes with its default ``rho = 0``.

Notation, at each distinct time :math:`t_j` at which at least one loss of response is observed
(pooled over the arms):

- :math:`n_j`, :math:`n_{tj}`: patients at risk overall and on treatment -- those whose time is
  :math:`\ge t_j`. A patient censored *at* :math:`t_j` is still at risk at :math:`t_j` (events
  are taken to precede censorings at a tied time), as in ``survdiff``;
- :math:`d_j`: losses observed at :math:`t_j` (both arms).

Then, with :math:`p_j = n_{tj}/n_j`,

.. math::

    O_t = \sum_j d_{tj}, \qquad
    E_t = \sum_j d_j\, p_j, \qquad
    V = \sum_j d_j\, p_j (1 - p_j)\, \frac{n_j - d_j}{n_j - 1},

the last being the hypergeometric variance of :math:`d_{tj}` given the margins, which is what
handles tied event times (Mantel 1966; Klein & Moeschberger 2003, *Survival Analysis*, 2nd ed.,
Sec. 7.3; R ``survival`` manual, ``survdiff``). The control arm's
:math:`O_c` and :math:`E_c` are the same sums for the control arm, and
:math:`O_t + O_c = E_t + E_c`.

Sign convention. The statistic is the signed score

.. math::

    Z = \frac{O_t - E_t}{\sqrt V}, \qquad \chi^2 = Z^2 .

The event is *loss of response*, which is bad, so :math:`Z < 0` (fewer losses on treatment than
expected under H0) favours the treatment. With ``sided="two"`` the p-value is
:math:`P(\chi^2_1 \ge Z^2) = 2\Phi(-|Z|)`, the p-value ``survdiff`` prints; with ``sided="one"``
the alternative is "treatment better" (lower hazard of loss) and the p-value is :math:`\Phi(Z)`.
This matches :mod:`simtrial.analysis.frequentist`, where one-sided means treatment better.

Non-responders have no time to loss: their ``time`` is NaN and they do not enter the analysis
(``survdiff`` drops rows with a missing time in the same way). NaN is also how arms of unequal
size across trials are padded. A trial with :math:`V = 0` (no losses, or every loss at a time
when only one arm is at risk) carries no evidence: :math:`Z = 0`, :math:`\chi^2 = 0` and p = 1
(``survdiff`` would report a chi-squared of 0 or NaN there).

Small samples. The normal approximation is good for balanced arms: with 60 per arm (about 90
losses) the simulated size is within Monte Carlo error of alpha, with or without ties
(``tests/analysis/test_survival.py::TestNull``). With unequal allocation the hypergeometric
increments are skewed (:math:`p_j \ne 1/2`) and so is Z: with the treatment arm twice the
control arm, Z is skewed to the left, and the one-sided test (treatment better) at nominal
0.025 rejects H0 at 0.0296 with about 90 losses, 0.0281 with 175 and 0.0270 with 350 (exponential
times, 200 000 / 100 000 / 50 000 simulated trials); the two-sided test at 0.05 stays close
(0.0519, 0.0513, 0.0505). With the treatment arm the smaller one, the one-sided test is
conservative (0.0226 with about 90 losses). Simulated type I errors of 2:1 designs show this.

:func:`exponential_logrank_power` gives Schoenfeld's (1981) approximate power, a reference for
simulations under exponential loss of response.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

__all__ = [
    "SIDED",
    "LogrankResult",
    "exponential_logrank_power",
    "logrank",
    "reject_logrank",
]

SIDED: tuple[str, ...] = ("two", "one")

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


# --------------------------------------------------------------------------- validation


def _check_sided(sided: str) -> None:
    if sided not in SIDED:
        raise ValueError(f'"sided" must be one of {SIDED}, got {sided!r}')


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f'"alpha" must lie in (0, 1), got {alpha!r}')


def _arm(
    time: ArrayLike, event: ArrayLike, time_name: str, event_name: str
) -> tuple[FloatArray, BoolArray]:
    """One arm as 2-D ``(trials, n_arm)`` float times and bool events; 1-D means one trial."""
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(event)
    if t.ndim not in (1, 2):
        raise ValueError(f'"{time_name}" must be 1-D (one trial) or 2-D (trials, n), got {t.shape}')
    if e.shape != t.shape:
        raise ValueError(
            f'"{event_name}" must have the shape of "{time_name}", {t.shape}, got {e.shape}'
        )
    if e.dtype != np.bool_:
        if e.dtype.kind not in "iuf" or not np.all((e == 0) | (e == 1)):
            raise ValueError(f'"{event_name}" must be boolean (True = loss observed) or 0/1')
        e = e.astype(np.bool_)
    finite_or_nan = np.isfinite(t) | np.isnan(t)
    if not finite_or_nan.all() or np.any(t < 0):  # NaN < 0 is False
        raise ValueError(
            f'"{time_name}" must hold times >= 0 (NaN for patients not analysed), '
            f"got {t[~finite_or_nan | (t < 0)][:3]!r}"
        )
    if t.ndim == 1:
        return t[None, :], e[None, :]
    return t, e


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class LogrankResult:
    """Log-rank tests of many trials (see :func:`logrank`); every field is one value per trial.

    Attributes
    ----------
    statistic : ndarray
        Signed :math:`Z = (O_t - E_t)/\\sqrt V`; negative favours the treatment.
    chi2 : ndarray
        :math:`Z^2`, the chi-squared of ``survdiff``.
    p_value : ndarray
        Two-sided :math:`P(\\chi^2_1 \\ge Z^2)` or one-sided :math:`\\Phi(Z)` (see ``sided``).
    observed_t, expected_t, observed_c, expected_c : ndarray
        Observed and expected (under H0) losses of response per arm.
    variance : ndarray
        :math:`V`, the variance of :math:`O_t - E_t` under H0 (the statistical information).
    sided : str
        ``"two"`` or ``"one"`` (alternative: treatment better).
    """

    statistic: FloatArray
    chi2: FloatArray
    p_value: FloatArray
    observed_t: FloatArray
    expected_t: FloatArray
    observed_c: FloatArray
    expected_c: FloatArray
    variance: FloatArray
    sided: str = "two"

    @property
    def n_trials(self) -> int:
        """Number of trials (1 for a 0-d result)."""
        return int(np.size(self.statistic))

    def to_dict(self, trial: int | None = None) -> dict[str, object]:
        """Plain-Python dict of one trial, ready for JSON.

        Parameters
        ----------
        trial : int, optional
            Which trial; may be omitted when the result holds a single trial.
        """
        if trial is None:
            if self.n_trials != 1:
                raise ValueError(f'"trial" must be given: the result holds {self.n_trials} trials')
            index: tuple[int, ...] | int = (0,) * np.ndim(self.statistic)
        else:
            if not -self.n_trials <= trial < self.n_trials or np.ndim(self.statistic) != 1:
                raise ValueError(f'"trial" must index one of {self.n_trials} trials, got {trial}')
            index = trial
        out: dict[str, object] = {
            name: float(getattr(self, name)[index])
            for name in (
                "statistic",
                "chi2",
                "p_value",
                "observed_t",
                "expected_t",
                "observed_c",
                "expected_c",
                "variance",
            )
        }
        out["sided"] = self.sided
        return out

    def __str__(self) -> str:
        side = "two-sided" if self.sided == "two" else "one-sided, treatment better"
        if self.n_trials == 1:
            d = self.to_dict()
            return "\n".join(
                [
                    f"Log-rank test ({side})",
                    f"{'':<12}{'observed':>10}{'expected':>10}",
                    f"{'treatment':<12}{d['observed_t']:>10.0f}{d['expected_t']:>10.3f}",
                    f"{'control':<12}{d['observed_c']:>10.0f}{d['expected_c']:>10.3f}",
                    f"Z = {d['statistic']:.3f} (negative favours treatment), "
                    f"chi2 = {d['chi2']:.3f}, p = {d['p_value']:.3g}",
                ]
            )
        return (
            f"Log-rank tests of {self.n_trials} trials ({side}): "
            f"mean Z = {float(np.mean(self.statistic)):.3f}, "
            f"P(p <= 0.05) = {float(np.mean(self.p_value <= 0.05)):.3f}, "
            f"mean losses treatment {float(np.mean(self.observed_t)):.2f}, "
            f"control {float(np.mean(self.observed_c)):.2f}"
        )


# --------------------------------------------------------------------------- the test


def _p_value(z: FloatArray, sided: str) -> FloatArray:
    if sided == "two":
        return np.asarray(special.erfc(np.abs(z) / math.sqrt(2.0)))  # P(chi2_1 >= z^2)
    return np.asarray(special.ndtr(z))  # small when Z << 0: fewer losses on treatment


def logrank(
    time_t: ArrayLike,
    event_t: ArrayLike,
    time_c: ArrayLike,
    event_c: ArrayLike,
    sided: str = "two",
) -> LogrankResult:
    r"""Log-rank test of treatment versus control, one test per simulated trial.

    The formulas and sign conventions are in the module docstring: :math:`O, E, V` as in
    Mantel (1966) with the hypergeometric variance for ties, exactly as R's
    ``survival::survdiff`` (``rho = 0``); :math:`Z = (O_t - E_t)/\sqrt V`.

    Parameters
    ----------
    time_t, time_c : array_like of float, shape (trials, n_t) and (trials, n_c)
        Time from first response to loss of response or censoring, per patient. NaN: the patient
        is not analysed (a non-responder, or padding). A 1-D array is a single trial.
    event_t, event_c : array_like of bool, same shapes as the times
        True: loss of response observed at ``time``; False: censored at ``time`` (dropout or end
        of follow-up). Ignored where the time is NaN.
    sided : {"two", "one"}
        ``"two"``: :math:`p = P(\chi^2_1 \ge Z^2)`; ``"one"``: the alternative is that the
        treatment arm loses response at a lower hazard, :math:`p = \Phi(Z)`.

    Returns
    -------
    LogrankResult
        Arrays of shape ``(trials,)``, or 0-d arrays when the inputs are 1-D.

    Notes
    -----
    Per trial row the pooled times are sorted once (``argsort`` along axis 1, NaN mapped to
    :math:`+\infty` so the excluded patients sort last). In sorted order, position ``k`` has
    ``k`` patients before it; the first position of each run of tied times gives the risk set
    at that time, :math:`n_j = n - k_j` and :math:`n_{tj} = n_t - (\text{treatment patients
    before } k_j)`, from a cumulative sum. :math:`E_t` adds :math:`p_j` once per observed
    loss; :math:`V` adds one term per run, with :math:`d_j` from the cumulative sum of events
    over the run. The cost is one sort and a few passes over a ``(trials, n)`` array.

    Examples
    --------
    The ``aml`` data of R's ``survival`` package (maintained chemotherapy = treatment);
    ``survdiff`` prints ``Chisq= 3.4 on 1 degrees of freedom, p= 0.07``:

    >>> import numpy as np
    >>> from simtrial.analysis.survival import logrank
    >>> res = logrank([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161],
    ...               [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0],
    ...               [5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45],
    ...               [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])
    >>> round(float(res.chi2), 4), round(float(res.statistic), 4), round(float(res.p_value), 4)
    (3.3964, -1.8429, 0.0653)
    """
    _check_sided(sided)
    tt, et = _arm(time_t, event_t, "time_t", "event_t")
    tc, ec = _arm(time_c, event_c, "time_c", "event_c")
    single = np.ndim(time_t) == 1 and np.ndim(time_c) == 1
    if tt.shape[0] != tc.shape[0]:
        raise ValueError(
            f'"time_t" and "time_c" must hold the same number of trials (rows), '
            f"got {tt.shape[0]} and {tc.shape[0]}"
        )
    n_trials, n_t = tt.shape
    time = np.concatenate([tt, tc], axis=1)
    missing = np.isnan(time)
    event = np.concatenate([et, ec], axis=1) & ~missing
    time[missing] = np.inf  # concatenate copied: the caller's arrays are untouched

    observed_t = np.count_nonzero(event[:, :n_t], axis=1).astype(np.float64)
    observed_c = np.count_nonzero(event[:, n_t:], axis=1).astype(np.float64)
    n_all = time.shape[1] - np.count_nonzero(missing, axis=1)  # analysed patients per trial
    n_all_t = n_t - np.count_nonzero(missing[:, :n_t], axis=1)

    if time.shape[1] == 0:
        expected_t = np.zeros(n_trials)
        variance = np.zeros(n_trials)
    else:
        order = np.argsort(time, axis=1)
        s = np.take_along_axis(time, order, axis=1)
        ev = np.take_along_axis(event, order, axis=1)
        width = s.shape[1]
        pos = np.arange(width)
        # Runs of tied times: first and last position of each run.
        first = np.ones_like(ev)
        first[:, 1:] = s[:, 1:] != s[:, :-1]
        last = np.ones_like(ev)
        last[:, :-1] = first[:, 1:]
        run_start = np.maximum.accumulate(np.where(first, pos, 0), axis=1)
        # Risk sets at the run's time: everyone from the run's first position on.
        before_t = np.cumsum(order < n_t, axis=1) - (order < n_t)  # treatment patients before
        at_risk = (n_all[:, None] - run_start).astype(np.float64)
        at_risk_t = (n_all_t[:, None] - np.take_along_axis(before_t, run_start, axis=1)).astype(
            np.float64
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            share_t = at_risk_t / at_risk  # p_j; only used at observed losses, where n_j >= 1
        expected_t = np.where(ev, share_t, 0.0).sum(axis=1)
        # Losses per run, read at the run's last position.
        cum_ev = np.cumsum(ev, axis=1)
        d = cum_ev - np.take_along_axis(cum_ev - ev, run_start, axis=1)
        use = last & (d > 0)
        d_f = d.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            term = d_f * share_t * (1.0 - share_t) * (at_risk - d_f) / np.maximum(at_risk - 1, 1)
        variance = np.where(use, term, 0.0).sum(axis=1)

    expected_c = (observed_t + observed_c) - expected_t
    informative = variance > 0
    z = np.where(
        informative, (observed_t - expected_t) / np.sqrt(np.where(informative, variance, 1.0)), 0.0
    )
    p = np.where(informative, _p_value(z, sided), 1.0)

    def out(x: FloatArray) -> FloatArray:
        return np.asarray(x[0]) if single else x  # 1-D inputs: 0-d results

    return LogrankResult(
        statistic=out(z),
        chi2=out(z * z),
        p_value=out(p),
        observed_t=out(observed_t),
        expected_t=out(expected_t),
        observed_c=out(observed_c),
        expected_c=out(expected_c),
        variance=out(variance),
        sided=sided,
    )


def reject_logrank(
    time_t: ArrayLike,
    event_t: ArrayLike,
    time_c: ArrayLike,
    event_c: ArrayLike,
    alpha: float,
    sided: str,
) -> BoolArray:
    """Whether the log-rank test rejects H0 at level ``alpha``, per trial: ``p <= alpha``.

    Arguments as in :func:`logrank`. With ``sided="one"`` only a treatment arm losing response
    at a lower hazard than control (:math:`Z < 0`) can reject.

    Returns
    -------
    ndarray of bool
        Shape ``(trials,)`` (0-d for 1-D inputs).
    """
    _check_alpha(alpha)
    return np.asarray(logrank(time_t, event_t, time_c, event_c, sided).p_value <= alpha)


# --------------------------------------------------------------------------- approximate power


def exponential_logrank_power(
    hazard_t: float,
    hazard_c: float,
    events: float,
    alpha: float,
    sided: str,
    allocation_ratio: float = 1.0,
) -> float:
    r"""Approximate power of the log-rank test under proportional hazards (Schoenfeld 1981).

    Under proportional hazards with hazard ratio :math:`\mathrm{HR} = h_t/h_c` and :math:`d`
    observed events, :math:`Z` is approximately normal with mean
    :math:`\mu = \log(\mathrm{HR})\sqrt{d\,r}/(1 + r)` and variance 1, where
    :math:`r = n_t/n_c` is the allocation ratio (Schoenfeld 1981, *Biometrika* 68:316-319;
    Collett 2015, *Modelling Survival Data in Medical Research*, 3rd ed., Sec. 10.2). Hence

    .. math::

        \text{two-sided:}\quad 1 - \beta = \Phi(|\mu| - z_{1-\alpha/2})
            + \Phi(-|\mu| - z_{1-\alpha/2}), \qquad
        \text{one-sided:}\quad 1 - \beta = \Phi(-\mu - z_{1-\alpha}).

    The second two-sided term (rejection in the other direction) is usually dropped in the
    textbook form :math:`\Phi(|\log \mathrm{HR}|\sqrt{d r}/(1 + r) - z_{1-\alpha/2})`; it is
    kept here so that the power at :math:`\mathrm{HR} = 1` is exactly :math:`\alpha`. It is
    below :math:`\Phi(-z_{1-\alpha/2}) = \alpha/2` and negligible once the power is
    appreciable. One-sided means treatment better (:math:`h_t < h_c`), as in :func:`logrank`.

    The approximation is for local alternatives (HR near 1) and large :math:`d`; with
    exponential times it is usually within a few percentage points of the simulated power
    for HR between 0.4 and 2.5 and a few dozen events.

    Parameters
    ----------
    hazard_t, hazard_c : float
        Hazards of loss of response (per week), > 0; only their ratio matters.
    events : float
        Expected number of losses of response observed over both arms, >= 0.
    alpha : float
        Significance level in (0, 1).
    sided : {"two", "one"}
        As in :func:`logrank`.
    allocation_ratio : float
        :math:`r = n_t / n_c` (> 0).

    Returns
    -------
    float

    Examples
    --------
    Hazard ratio 0.5 with 66 events, two-sided 5%: :math:`\mu = -0.693 \sqrt{66}/2 = -2.815`,
    power :math:`\Phi(2.815 - 1.960) = 0.804`:

    >>> from simtrial.analysis.survival import exponential_logrank_power
    >>> round(exponential_logrank_power(0.05, 0.1, 66, 0.05, "two"), 3)
    0.804
    """
    _check_sided(sided)
    _check_alpha(alpha)
    for name, value in (("hazard_t", hazard_t), ("hazard_c", hazard_c)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f'"{name}" must be > 0, got {value!r}')
    if not (math.isfinite(events) and events >= 0):
        raise ValueError(f'"events" must be >= 0, got {events!r}')
    if not (math.isfinite(allocation_ratio) and allocation_ratio > 0):
        raise ValueError(f'"allocation_ratio" must be > 0, got {allocation_ratio!r}')
    r = allocation_ratio
    mu = math.log(hazard_t / hazard_c) * math.sqrt(events * r) / (1.0 + r)
    if sided == "two":
        z = float(special.ndtri(1.0 - alpha / 2.0))
        return float(special.ndtr(abs(mu) - z) + special.ndtr(-abs(mu) - z))
    z = float(special.ndtri(1.0 - alpha))
    return float(special.ndtr(-mu - z))
