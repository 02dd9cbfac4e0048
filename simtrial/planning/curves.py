r"""Type I error curve over true control rates, and threshold calibration, for a scenario.

**Definitions** (written into ``summary.json`` as ``type1_curve.definition``). At a true control
endpoint probability :math:`p` -- the probability that a randomised control patient meets the
endpoint *as analysed* (under ``non_responder`` imputation: responding and not dropped out;
under ``exclude``: responding among the patients analysed):

- type I error(p) = P(reject | both arms' endpoint probability = p), counting every rejection
  (as the type I error of a point does);
- power(p) = P(success in the treatment's favour | control p, treatment p + Δ), with Δ the
  treatment − control difference of the endpoint probabilities at the scenario's point values
  (the mean, or the median where the mean is atypical), p + Δ clipped to [0, 1].

Why: a Bayesian rule that borrows the control response from history (``control_prior``) has a
type I error that depends on the true control rate -- low where the truth agrees with the
prior, high where it does not (RBesT ``oc2S``; Schmidli et al., *Biometrics* 70:1023, 2014).
The curve is computed automatically for ``test: bayes_posterior`` and on request
(``evaluate.type1_curve: {control: [low, high], points: K}``, default 0.01..0.99 in 99 points)
for any binary-endpoint, one-treatment design.

**Method.** *Exact* (:mod:`simtrial.analysis.operating`) when the final analysis is the only
efficacy look: fixed designs, and group-sequential designs whose interims only stop for
futility (non-binding) or safety. The regulatory convention ignores non-binding futility for the
type I error (the trial may continue), and safety stops are ignored too -- both can only lower
the rejection probability, so the exact curve is conservative (an upper bound) for such
designs; power(p) is likewise computed as if the design ran to the end. The region is the
design's final decision table (:meth:`Design.final_table`); under ``exclude`` the numbers
analysed are summed over (Binomial in each arm's probability of being in the study at the
endpoint week, at its point values; under the null, both arms take the control's, as for the
type I error of a point).
*Simulated* otherwise (efficacy looks at interims): the vectorized engine with both arms
replaced by arms with the given endpoint probabilities (their dropout kept under ``exclude``;
no SAEs, so safety never stops), ``simulations`` trials per rate, with Monte Carlo SEs. The
random streams are keyed by the variant name + ``":type1_curve"``, ``n_total``, purpose and block
-- the same for every rate (common random numbers: a smooth curve), reproducible.

**Calibration** (``analysis.calibrate: {type1_error: T, over: [low, high]}``): per evaluated
``n_total`` -- and at every ``n_total`` the sample-size search evaluates -- the posterior-
probability threshold (Bayesian rule) or alpha (frequentist test) is chosen so that the worst-
case exact type I error over control rates in ``[low, high]`` is at most T
(:func:`simtrial.analysis.operating.calibrate`: an exact search over the distinct table values,
the largest success region that keeps the target). The run's point results -- power,
assurance, type I error, stopping, and the sample-size search -- then use the calibrated
threshold (adaptr ``calibrate_trial``: the design that is run is the calibrated one); the
interim futility rule uses it too. Only designs whose final analysis is the only efficacy
look can be calibrated (the scenario refuses the others).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simtrial.analysis import operating
from simtrial.engines.base import Progress, point_values
from simtrial.engines.design import Design
from simtrial.engines.results import PointResult
from simtrial.model.response import endpoint_law
from simtrial.scenario.schema import Scenario

__all__ = [
    "DEFINITION",
    "calibrated_engine",
    "calibrate_point",
    "exact_applies",
    "type1_curve",
    "wants_curve",
]

DEFINITION = (
    "At a true control endpoint probability p (the probability that a randomised control "
    "patient meets the endpoint as analysed): type1_error(p) = P(reject | both arms' endpoint "
    "probability = p), counting every rejection; power(p) = P(success in the treatment's favour "
    "| control p, treatment p + delta), delta = treatment - control endpoint probability at the "
    "scenario's point values, clipped to [0, 1]. Exact: enumeration over (x_t, x_c) with the "
    "final decision table; non-binding futility and safety stops ignored (conservative). "
    "Simulated: vectorized engine with endpoint-probability arms, Monte Carlo SE."
)

DEFAULT_CONTROL = (0.01, 0.99)
DEFAULT_POINTS = 99
DEFAULT_POINTS_SIMULATED = 21
"""Default grid: exact curves in steps of 0.01; simulated ones in 21 points (cost)."""


def wants_curve(scenario: Scenario) -> bool:
    """A curve is computed for Bayesian rules and when ``evaluate.type1_curve`` asks for one
    (binary endpoints, one treatment arm)."""
    if scenario.analysis.test == "logrank" or len(scenario.analysis.treatments) > 1:
        return False
    return scenario.evaluate.type1_curve is not None or scenario.analysis.test == "bayes_posterior"


def exact_applies(scenario: Scenario) -> bool:
    """The final analysis is the only efficacy look (fixed design, or interims for futility
    and safety only)."""
    interims = scenario.analysis.interims
    return interims is None or interims.efficacy_spending == "none"


def point_rates(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """Per arm (endpoint probability as analysed, probability of being in the study at the
    endpoint week) at the point values (mean, or median where the mean is atypical). An arm that
    re-doses on loss (no closed form) gets its endpoint probability from 20 000 simulated
    patients (fixed stream)."""
    from simtrial.engines.base import stream
    from simtrial.engines.vectorized import simulate_arm

    values = point_values(scenario)
    nri = scenario.endpoint.missing == "non_responder"
    out = {}
    for arm, v in values.items():
        in_study = float(np.exp(-v.dropout_hazard * scenario.endpoint.end_week))
        if v.redosing:
            rng = stream(0, f"{arm}:point_rate", 0, 0, 0)
            o = simulate_arm(rng, 1, 20_000, v, scenario.endpoint)
            success = float(o.successes[0] / o.analysed[0])
        else:
            law = endpoint_law(v, scenario.endpoint)
            success = float(law.nri() if nri else law.success)
        out[arm] = (success, 1.0 if nri else in_study)
    return out


def with_threshold(scenario: Scenario, value: float) -> Scenario:
    """The scenario with its Bayesian threshold (or alpha) replaced."""
    a = scenario.analysis
    if a.bayes is not None:
        new = a.model_copy(update={"bayes": a.bayes.model_copy(update={"threshold": value})})
    else:
        new = a.model_copy(update={"alpha": value})
    return scenario.model_copy(update={"analysis": new})


def _favourable(design: Design) -> Any:
    def region(mt: int, mc: int) -> NDArray[np.bool_]:
        table = design.final_table(mt, mc)
        if design.two_way:
            xt, xc = np.arange(mt + 1)[:, None], np.arange(mc + 1)[None, :]
            return np.asarray(table & (xt * mc > xc * mt))
        return np.asarray(table)

    return region


def calibrate_point(scenario: Scenario, n_total: int) -> tuple[Scenario, dict[str, Any]]:
    """The scenario with its threshold calibrated at ``n_total``, and the record of it."""
    spec = scenario.analysis.calibrate
    assert spec is not None
    a = scenario.analysis
    t, c = a.treatments[0], a.control
    n = scenario.n_per_arm(n_total)
    rates = point_rates(scenario)
    o_c = rates[c][1]
    null_layout = operating.layout(n[t], n[c], o_c, o_c)
    design = Design(scenario)
    if design.bayesian:
        from simtrial.analysis import bayes

        rule = design._bayes
        written = rule.threshold

        def score(mt: int, mc: int) -> Any:
            return bayes.posterior_probability_table(
                mt, mc, rule.treatment_prior, rule.control_prior, rule.margin
            )

        kind, name = "bayes", "threshold"
    else:
        from simtrial.analysis.frequentist import p_value_table

        written = a.alpha

        def score(mt: int, mc: int) -> Any:
            return p_value_table(a.test, mt, mc, a.sided)

        kind, name = "alpha", "alpha"
    over = (spec.over[0], spec.over[1])
    cal = operating.calibrate(score, null_layout, over, spec.type1_error, kind)
    region = design.final_table
    before, before_at = operating.worst_case(
        lambda p: operating.rejection_probability(region, null_layout, p, p), over
    )
    info = {
        "parameter": name,
        "written": written,
        "written_worst_type1_error": before,
        "written_worst_at_control_rate": before_at,
        "calibrated": cal.threshold,
        "equivalent_interval": list(cal.interval),
        "target_type1_error": spec.type1_error,
        "over": list(over),
        "worst_type1_error": cal.worst_type1_error,
        "worst_at_control_rate": cal.at,
        "looser_worst_type1_error": cal.looser_worst_type1_error,
    }
    return with_threshold(scenario, cal.threshold), info


class CalibratedEngine:
    """An engine that evaluates each point with the threshold calibrated at its ``n_total``
    and records the calibration in the point's ``calibration`` entry."""

    def __init__(self, inner: Any, cache: dict[int, tuple[Scenario, dict[str, Any]]]) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache = cache

    @property
    def common_random_numbers(self) -> bool:
        return bool(self.inner.common_random_numbers)

    @common_random_numbers.setter
    def common_random_numbers(self, value: bool) -> None:
        self.inner.common_random_numbers = value

    def __copy__(self) -> CalibratedEngine:
        return CalibratedEngine(copy.copy(self.inner), self.cache)

    def check(self, scenario: Scenario) -> None:
        self.inner.check(scenario)

    def calibrated(self, scenario: Scenario, n_total: int) -> tuple[Scenario, dict[str, Any]]:
        if n_total not in self.cache:
            self.cache[n_total] = calibrate_point(scenario, n_total)
        return self.cache[n_total]

    def evaluate(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        simulations: int,
        seed: int,
        progress: Progress | None = None,
    ) -> PointResult:
        calibrated, info = self.calibrated(scenario, n_total)
        point = self.inner.evaluate(calibrated, variant, n_total, simulations, seed, progress)
        return replace(point, extra={**point.extra, "calibration": info})

    def evaluate_target(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        simulations: int,
        seed: int,
        target: str,
        progress: Progress | None = None,
    ) -> tuple[float, float]:
        calibrated, _ = self.calibrated(scenario, n_total)
        return self.inner.evaluate_target(  # type: ignore[no-any-return]
            calibrated, variant, n_total, simulations, seed, target, progress
        )


def calibrated_engine(engine: Any, scenario: Scenario) -> Any:
    """``engine`` itself, or a :class:`CalibratedEngine` when the scenario calibrates."""
    if scenario.analysis.calibrate is None:
        return engine
    return CalibratedEngine(engine, {})


def _probability_scenario(scenario: Scenario, p_c: float, p_t: float) -> Scenario:
    """Both arms replaced by endpoint-probability arms (dropout kept under ``exclude``), no
    safety rule, no sample-size search."""
    from simtrial.scenario.parameters import Fixed
    from simtrial.scenario.schema import Arm

    a = scenario.analysis
    nri = scenario.endpoint.missing == "non_responder"
    arms = {}
    for name, spec in scenario.arms.items():
        arms[name] = Arm.model_construct(
            allocation=spec.allocation,
            endpoint_probability=Fixed(p_t if name == a.treatments[0] else p_c),
            schedule=None,
            response=None,
            adverse_events=None,
            dropout=None if nri else spec.dropout,
        )
    evaluate = scenario.evaluate.model_copy(update={"sample_size": None})
    # arms given by their endpoint probability take no infusions: operations change nothing,
    # and the curve runs on the vectorized engine also for a des scenario with operations
    update = {"arms": arms, "safety": None, "evaluate": evaluate, "operations": None}
    return scenario.model_copy(update=update)


def type1_curve(
    scenario: Scenario,
    variant: str,
    simulations: int,
    seed: int,
    calibrations: dict[int, tuple[Scenario, dict[str, Any]]] | None = None,
    method: str | None = None,
) -> dict[str, Any] | None:
    """The ``type1_curve`` entry of a variant in summary.json (None when not wanted).

    ``calibrations`` maps ``n_total`` to the calibrated scenario (from
    :class:`CalibratedEngine`); the curve is then that of the calibrated design, with the
    written threshold's type I error alongside. ``method`` forces ``"exact"`` or
    ``"simulated"`` (tests); by default exact when :func:`exact_applies`.
    """
    if not wants_curve(scenario):
        return None
    how = method or ("exact" if exact_applies(scenario) else "simulated")
    spec = scenario.evaluate.type1_curve
    lo, hi = (spec.control[0], spec.control[1]) if spec is not None else DEFAULT_CONTROL
    if spec is not None and "points" in spec.model_fields_set:
        k = spec.points
    else:
        k = DEFAULT_POINTS if how == "exact" else DEFAULT_POINTS_SIMULATED
    grid = np.linspace(lo, hi, k)
    a = scenario.analysis
    t, c = a.treatments[0], a.control
    rates = point_rates(scenario)
    delta = rates[t][0] - rates[c][0]
    grid_t = np.clip(grid + delta, 0.0, 1.0)
    points = []
    for n_total in scenario.evaluate.n_total:
        run = calibrations[n_total][0] if calibrations and n_total in calibrations else scenario
        n = scenario.n_per_arm(n_total)
        entry: dict[str, Any] = {"n_total": n_total}
        if how == "exact":
            o_t, o_c = rates[t][1], rates[c][1]
            null_layout = operating.layout(n[t], n[c], o_c, o_c)
            alt_layout = operating.layout(n[t], n[c], o_t, o_c)
            design = Design(run)
            t1 = operating.rejection_probability(design.final_table, null_layout, grid, grid)
            pw = operating.rejection_probability(_favourable(design), alt_layout, grid_t, grid)
            entry["type1_error"] = t1.tolist()
            entry["power"] = pw.tolist()
            if run is not scenario:
                written = Design(scenario)
                entry["type1_error_written"] = operating.rejection_probability(
                    written.final_table, null_layout, grid, grid
                ).tolist()
            if null_layout.truncated:
                entry["truncated_mass"] = null_layout.truncated
        else:
            from simtrial.engines.vectorized import VectorizedEngine

            engine = VectorizedEngine()
            t1s, t1se, pws, pwse = [], [], [], []
            for pc, pt in zip(grid, grid_t, strict=True):
                sc = _probability_scenario(run, float(pc), float(pt))
                r = engine.evaluate(sc, f"{variant}:type1_curve", n_total, simulations, seed)
                t1s.append(r.type1_error)
                t1se.append(r.type1_error_se)
                pws.append(r.power)
                pwse.append(r.power_se)
            entry.update(type1_error=t1s, type1_error_se=t1se, power=pws, power_se=pwse)
        i = int(np.argmax(entry["type1_error"]))
        entry["worst_type1_error"] = entry["type1_error"][i]
        entry["worst_at_control_rate"] = float(grid[i])
        if calibrations and n_total in calibrations:
            entry["calibrated_threshold"] = calibrations[n_total][1]["calibrated"]
        points.append(entry)
    out: dict[str, Any] = {
        "method": how,
        "definition": DEFINITION,
        "control_rate": grid.tolist(),
        "delta": delta,
        "point_control_rate": rates[c][0],
        "alpha": a.alpha if a.test != "bayes_posterior" else None,
        "points": points,
    }
    if how == "simulated":
        out["simulations"] = simulations
    if a.calibrate is not None:
        out["calibration"] = {
            "type1_error": a.calibrate.type1_error,
            "over": list(a.calibrate.over),
            "parameter": "threshold" if a.test == "bayes_posterior" else "alpha",
            "note": "point results (power, assurance, type I error, sample size) use the "
            "threshold calibrated at each n_total",
        }
    return out
