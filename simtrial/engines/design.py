"""A trial design applied to simulated patients: looks, decision rules, stopping.

:class:`Design` is built once per scenario and decides, for a block of simulated trials, when
each trial stops and what it concludes. Engines hand it per-arm :class:`ArmData` (counts, and
per-patient arrays when there are interim or safety looks) and, with ``enrolment``, the
randomisation times.

Rules (DESIGN §4; choices where it is silent are marked *choice*):

- **Looks** happen when a fraction ``t_k`` of the patients have reached their endpoint visit
  (``analysis.interims.information``). Every patient is followed for the same number of weeks,
  so the patients with an endpoint at look k are the first ``round(t_k·n)`` randomised. An
  engine that knows each patient's randomisation week (``ArmData.randomised_week``: the DES) gives
  each arm its actual share of them; otherwise (*choice*: randomisation in balanced blocks)
  each arm contributes ``round(t_k·n_arm)``. At least one patient per arm
  (:mod:`simtrial.engines.decide` states the whole contract).
- **Efficacy**: a frequentist test rejects at look k when its p-value is at most the look's
  nominal level from the Lan–DeMets boundaries (:mod:`~simtrial.analysis.group_sequential`),
  so any test (Fisher, χ², z) can be used group-sequentially; a fixed design has one look at
  level α. Two-sided designs reject in either direction, but only a rejection with the
  treatment doing better is a *success*: ``power`` and assurance count successes,
  ``power_any_direction`` every rejection, and the type I error every rejection (that is
  what a two-sided α bounds). An interim rejection in the control's favour stops the trial for
  **harm**, not efficacy. One-sided tests and Bayesian rules only reject in the treatment's
  favour (the Bayesian rule's direction is its criterion). A Bayesian rule succeeds when
  P(p_t − p_c > margin | data) > threshold (:mod:`~simtrial.analysis.bayes`); *choice*: at
  interims it is applied only when ``efficacy_spending`` is not ``none``, with the same
  threshold.
- **Futility** (non-binding: boundaries ignore it): conditional power under the current trend
  below ``conditional_power_below`` (J&T §10.2, with the pooled z statistic and the final
  boundary), or the Bayesian predictive probability of success below
  ``predictive_probability_below``.
- **Safety**: the treatment arm's SAE rate has a Gamma prior (``safety.prior``; default
  Gamma(0.5, 1) per patient-year, *choice*) updated with the SAEs and patient-years in the
  study of the patients in the look (dropouts included, up to their dropout); the trial stops
  when P(rate > max | data) > ``posterior_probability``. Checked at every interim look and,
  with ``every_patients: K``, every K treatment patients. At one look, safety is checked first,
  then efficacy, then futility.
- **Several treatment arms** (fixed designs): each compared with the control, with Bonferroni
  (each at α/k) or Holm's step-down procedure; ``power`` is then the probability of at least
  one rejection. With ``analysis.selection`` several arms run group-sequentially with
  selection at an interim and closed testing (:mod:`~simtrial.engines.selection`).
- **Sample size and duration**: with ``enrolment``, look k happens when the patient number
  ``round(t_k·N)`` reaches the endpoint week (randomisation time + endpoint week); everybody
  randomised by then counts in ``expected_n``; the duration runs from the first randomisation
  to that time. Without ``enrolment``, ``expected_n`` counts the patients in the stopping look
  (those randomised whose endpoint week has passed, dropouts included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simtrial.analysis.decision import lookup
from simtrial.analysis.frequentist import p_value_table, rejection_table
from simtrial.analysis.group_sequential import Boundaries, boundaries, conditional_power
from simtrial.scenario.schema import Scenario

CONTINUE, EFFICACY, FUTILITY, SAFETY, HARM = 0, 1, 2, 3, 4
REASONS = {EFFICACY: "efficacy", FUTILITY: "futility", SAFETY: "safety", HARM: "harm"}

Bool = NDArray[np.bool_]
Int = NDArray[np.int64]


@dataclass
class ArmData:
    """One arm's simulated outcomes for a block of trials (words as in
    :mod:`simtrial.engines.base`, "Vocabulary").

    ``successes``/``analysed`` are the final counts (shape ``(trials,)``): responders and the
    denominator (``n`` under non-responder imputation, else the patients ``in_study``). The
    per-patient arrays (shape ``(trials, n)``, in randomisation order) are needed only for
    interim or safety looks: ``success`` (endpoint met), ``in_study`` (in the study at the
    endpoint week: not dropped out), ``sae`` (SAE count while in the study) and
    ``exposure_weeks`` (weeks in the study).
    """

    n: int
    successes: Int
    analysed: Int
    success: Bool | None = None
    in_study: Bool | None = None
    sae: Int | None = None
    exposure_weeks: NDArray[np.float64] | None = None
    loss_time: NDArray[np.float64] | None = None  # time_to_loss: NaN for non-responders
    loss_event: Bool | None = None
    randomised_week: NDArray[np.float64] | None = None  # calendar week of randomisation (DES)

    def look_size(self, fraction: float, cutoff: NDArray[np.float64] | None) -> int | Int:
        """Patients of the arm in a look at information ``fraction``: with randomisation weeks
        and the look's ``cutoff`` (the last randomisation week whose endpoint is known), those
        randomised by then, per trial; otherwise the first ``round(fraction·n)``. At least 1."""
        if fraction >= 1.0:
            return self.n
        if self.randomised_week is None or cutoff is None:
            return max(1, round(fraction * self.n))
        known = (self.randomised_week <= cutoff[:, None]).sum(axis=1)
        return np.maximum(known, 1).astype(np.int64)

    def _first(self, values: NDArray[Any], m: int | Int) -> NDArray[Any]:
        """Per-trial sums of ``values`` over the first ``m`` patients (``m`` per trial)."""
        if isinstance(m, int | np.integer):
            return values[:, :m].sum(axis=1)
        mask = np.arange(self.n)[None, :] < np.asarray(m)[:, None]
        return np.where(mask, values, 0).sum(axis=1)

    def counts(self, m: int | Int, missing: str) -> tuple[Int, Int]:
        """Responders and patients analysed among the first ``m`` patients (``m`` a number or
        one number per trial)."""
        if isinstance(m, int | np.integer) and m >= self.n:
            return self.successes, self.analysed
        assert self.success is not None and self.in_study is not None
        x = self._first(self.success, m)
        if missing == "non_responder":
            return x, np.broadcast_to(np.asarray(m, dtype=np.int64), x.shape).copy()
        return x, self._first(self.in_study, m)

    def safety_data(self, m: int | Int) -> tuple[Int, NDArray[np.float64]]:
        """SAEs and weeks in the study of the first ``m`` patients, per trial."""
        assert self.sae is not None and self.exposure_weeks is not None
        return self._first(self.sae, m), self._first(self.exposure_weeks, m)


@dataclass
class Decisions:
    """What each simulated trial concluded (arrays over trials)."""

    rejected: Bool  # (trials, comparisons)
    favourable: Bool  # (trials, comparisons): rejected with the treatment doing better
    reason: NDArray[np.int8]  # CONTINUE (ran to the end), EFFICACY, FUTILITY, SAFETY or HARM
    stop_fraction: NDArray[np.float64]  # information fraction of the look that ended it
    n_randomised: NDArray[np.float64]
    duration: NDArray[np.float64] | None
    selection: Any = None  # a mams.MamsOutcome for designs with analysis.selection


def pooled_z(x_t: Any, m_t: Any, x_c: Any, m_c: Any) -> NDArray[np.float64]:
    """Pooled two-proportion z statistic, positive when the treatment does better (0 if
    degenerate)."""
    x_t, m_t, x_c, m_c = (np.asarray(v, dtype=float) for v in (x_t, m_t, x_c, m_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x_t + x_c) / (m_t + m_c)
        se = np.sqrt(pooled * (1 - pooled) * (1 / m_t + 1 / m_c))
        z = (x_t / m_t - x_c / m_c) / se
    return np.where(np.isfinite(z), z, 0.0)


class Design:
    """Looks, rules and stopping of a scenario (see the module docstring)."""

    def __init__(self, scenario: Scenario) -> None:
        a = scenario.analysis
        self.scenario = scenario
        self.treatments = a.treatments
        self.control = a.control
        self.missing = scenario.endpoint.missing
        self.bayesian = a.test == "bayes_posterior"
        interims = a.interims
        self.information = list(interims.information) if interims else [1.0]
        spending = interims.efficacy_spending if interims else "none"
        self.boundaries: Boundaries | None = None
        if not self.bayesian and a.test != "logrank":
            self.boundaries = boundaries(self.information, a.alpha, a.sided, spending)
        self.efficacy_at_interims = spending != "none"
        self.futility = interims.futility if interims else None
        self.safety = scenario.safety
        # rejections can go either way only with a two-sided frequentist test
        self.two_way = a.sided == "two" and not self.bayesian
        if self.bayesian:
            self._bayes = _bayes_rule(scenario)

    @property
    def needs_patients(self) -> bool:
        """Whether per-patient arrays are needed (interim or safety looks)."""
        return len(self.information) > 1 or self.safety is not None

    def to_dict(self) -> dict[str, Any] | None:
        """The ``boundaries`` entry of summary.json (None for a fixed design)."""
        if len(self.information) == 1:
            return None
        if self.boundaries is not None:
            return self.boundaries.to_dict()
        return {"information": self.information, "efficacy_z": None}

    # -- the decision -----------------------------------------------------------------------

    def looks(self, n_treatment: int) -> list[tuple[float, bool]]:
        """Sorted (information fraction, is an analysis look) including safety-only looks."""
        out = {t: True for t in self.information}
        if self.safety is not None and self.safety.every_patients:
            k = self.safety.every_patients
            for m in range(k, n_treatment, k):
                out.setdefault(m / n_treatment, False)
        return sorted(out.items())

    def final_table(self, m_t: int, m_c: int) -> Bool:
        """Success region of a fixed design's (single) analysis over (x_t, x_c)."""
        if self.bayesian:
            return self._bayes.table(m_t, m_c)
        a = self.scenario.analysis
        return rejection_table(a.test, m_t, m_c, a.alpha, a.sided)

    def _efficacy(self, k: int, x_t: Int, m_t: Int, x_c: Int, m_c: Int, sided: str) -> Bool:
        a = self.scenario.analysis
        if self.bayesian:
            return lookup(self._bayes.table, x_t, m_t, x_c, m_c)
        assert self.boundaries is not None
        level = self.boundaries.nominal_alpha[k]
        if level <= 0:
            return np.zeros(np.shape(x_t), dtype=bool)

        def table(mt: int, mc: int) -> Bool:
            return rejection_table(a.test, mt, mc, level, sided)

        return lookup(table, x_t, m_t, x_c, m_c)

    def _multi_arm(self, data: dict[str, ArmData]) -> Bool:
        """Final decisions for several treatment arms with Bonferroni or Holm."""
        a = self.scenario.analysis
        k = len(self.treatments)
        xc, mc = data[self.control].successes, data[self.control].analysed
        p = np.empty((len(xc), k))
        for j, t in enumerate(self.treatments):
            xt, mt = data[t].successes, data[t].analysed
            p[:, j] = lookup(lambda m1, m2: p_value_table(a.test, m1, m2, a.sided), xt, mt, xc, mc)
        if a.multiplicity == "bonferroni":
            return p <= a.alpha / k
        # Holm: sort p-values; reject while p_(r) <= alpha / (k − r + 1)
        order = np.argsort(p, axis=1)
        sorted_p = np.take_along_axis(p, order, axis=1)
        thresholds = a.alpha / (k - np.arange(k))
        passed = np.cumprod(sorted_p <= thresholds, axis=1).astype(bool)
        rejected = np.zeros_like(passed)
        np.put_along_axis(rejected, order, passed, axis=1)
        return rejected

    def decide(
        self,
        data: dict[str, ArmData],
        arrivals: NDArray[np.float64] | None,
        end_week: float,
        rng: np.random.Generator | None = None,
        planned_n: dict[str, int] | None = None,
    ) -> Decisions:
        """Apply the design to a block of simulated trials (``rng`` breaks selection ties;
        ``planned_n``: planned patients per arm of a selection design)."""
        a = self.scenario.analysis
        if a.selection is not None:
            assert rng is not None
            return _selection_decisions(self.scenario, data, rng, planned_n)
        trials = len(data[self.control].successes)
        k_arms = len(self.treatments)
        rejected = np.zeros((trials, k_arms), dtype=bool)
        favourable = np.zeros((trials, k_arms), dtype=bool)
        reason = np.zeros(trials, dtype=np.int8)
        stop_fraction = np.ones(trials)
        active = np.ones(trials, dtype=bool)

        if k_arms > 1:
            rejected[:] = self._multi_arm(data)
            for j, t in enumerate(self.treatments):
                better: Any = _better(
                    data[t].successes,
                    data[t].analysed,
                    data[self.control].successes,
                    data[self.control].analysed,
                )
                favourable[:, j] = rejected[:, j] & (better if self.two_way else True)
            return self._finish(
                rejected, favourable, reason, stop_fraction, data, arrivals, end_week
            )

        t = self.treatments[0]
        dt, dc = data[t], data[self.control]
        if a.test == "logrank":  # fixed design: the log-rank test at the end of follow-up
            from simtrial.analysis.survival import logrank

            assert dt.loss_time is not None and dc.loss_time is not None
            assert dt.loss_event is not None and dc.loss_event is not None
            result = logrank(dt.loss_time, dt.loss_event, dc.loss_time, dc.loss_event, a.sided)
            rejected[:, 0] = result.p_value <= a.alpha
            # the statistic is O − E in the treatment arm: fewer losses than expected is better
            lr_better: Any = result.statistic < 0 if self.two_way else True
            favourable[:, 0] = rejected[:, 0] & lr_better
            return self._finish(
                rejected, favourable, reason, stop_fraction, data, arrivals, end_week
            )
        analysis_index = {f: i for i, f in enumerate(self.information)}
        for fraction, is_analysis in self.looks(dt.n):
            final = fraction >= 1.0
            cutoff = _cutoff(arrivals, fraction) if dt.randomised_week is not None else None
            m_t = dt.look_size(fraction, cutoff)
            m_c = dc.look_size(fraction, cutoff)
            if self.safety is not None and not final:
                treated = [data[x] for x in self.treatments]
                unsafe = active & self._unsafe(treated, fraction, cutoff)
                reason[unsafe] = SAFETY
                stop_fraction[unsafe] = fraction
                active &= ~unsafe
            if not is_analysis:
                continue
            k = analysis_index[fraction]
            x_t, n_t = dt.counts(m_t, self.missing)
            x_c, n_c = dc.counts(m_c, self.missing)
            if final or self.efficacy_at_interims:
                win = active & self._efficacy(k, x_t, n_t, x_c, n_c, a.sided)
                better = _better(x_t, n_t, x_c, n_c) if self.two_way else np.True_
                rejected[:, 0] |= win
                favourable[:, 0] |= win & better
                if not final:
                    reason[win & better] = EFFICACY
                    reason[win & ~better] = HARM
                    stop_fraction[win] = fraction
                active &= ~win
            if not final and self.futility is not None:
                futile = active & self._futile(fraction, x_t, n_t, x_c, n_c, dt.n, dc.n)
                reason[futile] = FUTILITY
                stop_fraction[futile] = fraction
                active &= ~futile
        return self._finish(rejected, favourable, reason, stop_fraction, data, arrivals, end_week)

    def _futile(
        self, fraction: float, x_t: Int, m_t: Int, x_c: Int, m_c: Int, n_t: int, n_c: int
    ) -> Bool:
        assert self.futility is not None
        if self.futility.conditional_power_below is not None:
            assert self.boundaries is not None
            c_final = self.boundaries.efficacy_z[-1]
            cp = conditional_power(pooled_z(x_t, m_t, x_c, m_c), fraction, c_final)
            return np.asarray(cp < self.futility.conditional_power_below)
        threshold = self.futility.predictive_probability_below
        assert threshold is not None and self.bayesian
        return self._bayes.futile(x_t, m_t, x_c, m_c, n_t, n_c, threshold)

    def _unsafe(
        self, arms: list[ArmData], fraction: float, cutoff: NDArray[np.float64] | None
    ) -> Bool:
        assert self.safety is not None
        events: Any = 0
        years: Any = 0.0
        for arm in arms:
            sae, weeks = arm.safety_data(arm.look_size(fraction, cutoff))
            events = events + sae
            years = years + weeks / 52.0
        shape, rate = safety_prior(self.scenario)
        limit = self.safety.max_serious_rate_per_year
        from scipy import stats  # deferred: only safety looks need it (1 s of import)

        p_exceed = stats.gamma.sf(limit, shape + np.asarray(events), scale=1.0 / (rate + years))
        return np.asarray(p_exceed > self.safety.posterior_probability)

    def _finish(
        self,
        rejected: Bool,
        favourable: Bool,
        reason: NDArray[np.int8],
        stop_fraction: NDArray[np.float64],
        data: dict[str, ArmData],
        arrivals: NDArray[np.float64] | None,
        end_week: float,
    ) -> Decisions:
        n_total = sum(d.n for d in data.values())
        if arrivals is None:
            n_randomised = np.zeros(len(stop_fraction))
            for d in data.values():
                at_stop = np.maximum(1, np.round(stop_fraction * d.n))
                n_randomised += np.where(stop_fraction < 1, at_stop, d.n)
            return Decisions(rejected, favourable, reason, stop_fraction, n_randomised, None)
        index = np.clip(np.round(stop_fraction * n_total).astype(np.int64), 1, n_total) - 1
        rows = np.arange(len(stop_fraction))
        when = arrivals[rows, index] + end_week
        n_randomised = (arrivals <= when[:, None]).sum(axis=1).astype(float)
        duration = when - arrivals[:, 0]
        return Decisions(rejected, favourable, reason, stop_fraction, n_randomised, duration)


def _selection_decisions(
    scenario: Scenario,
    data: dict[str, ArmData],
    rng: np.random.Generator,
    planned_n: dict[str, int] | None,
) -> Decisions:
    """Multi-arm multi-stage selection designs (:mod:`simtrial.engines.selection`): one-sided,
    so every rejection favours the treatment; stops are for success (efficacy) or because no
    arm was selected (futility); no duration (arms stop recruiting at different times)."""
    from simtrial.engines import selection

    out = selection.decide(scenario, data, rng, planned_n)
    assert scenario.analysis.interims is not None
    info = np.asarray(scenario.analysis.interims.information)
    reason = np.zeros(len(out.success), dtype=np.int8)
    reason[out.success_stop] = EFFICACY
    reason[out.futility_stop] = FUTILITY
    return Decisions(
        out.rejected,
        out.rejected,
        reason,
        info[out.last_stage],
        out.n.sum(axis=1),
        None,
        selection=out,
    )


def _cutoff(arrivals: NDArray[np.float64] | None, fraction: float) -> NDArray[np.float64] | None:
    """The randomisation week of patient ``round(fraction·N)`` (at least the first), per trial:
    the look happens when that patient reaches the endpoint week, and everybody randomised by
    then has an endpoint known (same follow-up for all)."""
    if arrivals is None:
        return None
    n_total = arrivals.shape[1]
    index = min(max(round(fraction * n_total), 1), n_total) - 1
    return arrivals[:, index]


def _better(x_t: Any, m_t: Any, x_c: Any, m_c: Any) -> Bool:
    return np.asarray(np.asarray(x_t) * np.asarray(m_c) > np.asarray(x_c) * np.asarray(m_t))


def safety_prior(scenario: Scenario) -> tuple[float, float]:
    """Gamma (shape, rate per patient-year) prior of the SAE rate; default Gamma(0.5, 1)."""
    from simtrial.scenario.parameters import GammaParam

    assert scenario.safety is not None
    prior = scenario.safety.prior
    if prior is None:
        return 0.5, 1.0
    if isinstance(prior, GammaParam):
        return prior.shape, prior.rate
    raise ValueError("safety.prior must be {gamma: [shape, rate]}")


class _bayes_rule:  # noqa: N801 - a small private adapter
    """The Bayesian rule with its priors as Beta mixtures (lazy import of the priors layer)."""

    def __init__(self, scenario: Scenario) -> None:
        from simtrial.analysis import bayes
        from simtrial.priors.mixture import BetaMixture

        b = scenario.analysis.bayes
        assert b is not None
        self.bayes = bayes
        self.threshold = b.threshold
        self.margin = b.margin
        self.treatment_prior: BetaMixture = as_beta_mixture(b.treatment_prior)
        self.control_prior: BetaMixture = as_beta_mixture(b.control_prior)
        if b.robust_weight > 0:
            from simtrial.priors.mixture import robustify

            robust = robustify(self.control_prior, b.robust_weight, mean=0.5)
            assert isinstance(robust, BetaMixture)
            self.control_prior = robust

    def table(self, m_t: int, m_c: int) -> Bool:
        return self.bayes.decision_table(
            m_t, m_c, self.treatment_prior, self.control_prior, self.threshold, self.margin
        )

    def futile(
        self, x_t: Int, m_t: Int, x_c: Int, m_c: Int, n_t: int, n_c: int, below: float
    ) -> Bool:
        """Predictive probability of final success below ``below`` (non-binding).

        *Choice*: under ``exclude`` the final numbers analysed are taken as the numbers
        randomised (the predictive ignores future dropout)."""

        def table(mt: int, mc: int) -> NDArray[np.float64]:
            return self.bayes.predictive_probability_table(
                mt,
                mc,
                n_t,
                n_c,
                self.treatment_prior,
                self.control_prior,
                self.threshold,
                self.margin,
            )

        return np.asarray(lookup(table, x_t, m_t, x_c, m_c) < below)


def as_beta_mixture(param: Any) -> Any:
    """A prior parameter as a BetaMixture: ``{beta: [a, b]}`` or a fitted prior's mixture."""
    from simtrial.priors.mixture import BetaMixture
    from simtrial.scenario.parameters import BetaParam, PriorParam

    if isinstance(param, BetaParam):
        return BetaMixture(np.array([1.0]), np.array([param.a]), np.array([param.b]))
    if isinstance(param, PriorParam):
        return fitted_mixture(param)
    raise ValueError(f"a Bayesian prior must be {{beta: [a, b]}} or {{prior: ...}}, got {param}")


def fitted_mixture(param: Any) -> Any:
    """The Beta-mixture approximation of a fitted prior variable, from ``<fit>.json``."""
    from simtrial.errors import PriorError
    from simtrial.priors import store
    from simtrial.priors.mixture import BetaMixture

    pos = store.resolve_index(param.fit, param.var, param.index)
    info = store.summary(param.fit)["variables"][param.var]
    entry = info["summary"]
    if pos is not None:
        entry = entry[info["coords"][info["dims"][0]][pos]]
    if entry.get("mixture_family") != "beta" or not entry.get("mixture"):
        raise PriorError(f"{param} has no Beta-mixture approximation in {param.fit}.json")
    comps = entry["mixture"]
    return BetaMixture(
        np.array([c["weight"] for c in comps]),
        np.array([c["a"] for c in comps]),
        np.array([c["b"] for c in comps]),
    )
