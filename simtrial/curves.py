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
analysed are summed over (Binomial in each arm's probability of being observed at its point
values; under the null, both arms take the control's, as for the type I error of a point).
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
from simtrial.analysis.design import Design
from simtrial.engines.base import Progress, point_values
from simtrial.model import endpoint_law
from simtrial.results import PointResult, RunResult, variant_title
from simtrial.scenario import Scenario

__all__ = [
    "DEFINITION",
    "calibrated_engine",
    "calibrate_point",
    "exact_applies",
    "terminal_lines",
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
    """Per arm (endpoint probability as analysed, probability of being observed) at the point
    values (mean, or median where the mean is atypical). An arm that re-doses on loss (no
    closed form) gets its endpoint probability from 20 000 simulated patients (fixed stream)."""
    from simtrial.engines.base import stream
    from simtrial.engines.vectorized import simulate_arm

    values = point_values(scenario)
    nri = scenario.endpoint.missing == "non_responder"
    out = {}
    for arm, v in values.items():
        observed = float(np.exp(-v.dropout_hazard * scenario.endpoint.end_week))
        if v.redosing:
            rng = stream(0, f"{arm}:point_rate", 0, 0, 0)
            o = simulate_arm(rng, 1, 20_000, v, scenario.endpoint)
            success = float(o.successes[0] / o.observed[0])
        else:
            law = endpoint_law(v, scenario.endpoint)
            success = float(law.nri() if nri else law.success)
        out[arm] = (success, 1.0 if nri else observed)
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
    from simtrial.parameters import Fixed
    from simtrial.scenario import Arm

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


def terminal_lines(result: RunResult) -> list[str]:
    """One line per variant: the worst-case type I error over the curve's grid and where."""
    lines = []
    for name, variant in result.variants.items():
        curve = variant.type1_curve
        if not curve:
            continue
        worst = max(curve["points"], key=lambda p: p["worst_type1_error"])
        lo, hi = curve["control_rate"][0], curve["control_rate"][-1]
        cal = curve.get("calibration")
        infos = [p.extra["calibration"] for p in variant.points if "calibration" in p.extra]
        rule = f", calibrated {cal['parameter']}" if cal and infos else ""
        text = (
            f"type I error across true control rates ({name}, {curve['method']}{rule}; both "
            f"arms at the same rate, every rejection counted): worst "
            f"{worst['worst_type1_error']:.4f} at a control rate of "
            f"{worst['worst_at_control_rate']:.2f} (n_total {worst['n_total']}; rates "
            f"{lo:.2f}-{hi:.2f} checked)"
        )
        if cal and infos:
            thresholds = ", ".join(
                f"{p.n_total}: {p.extra['calibration']['calibrated']:g}"
                for p in variant.points
                if "calibration" in p.extra
            )
            after = max(i["worst_type1_error"] for i in infos)
            before = max(i["written_worst_type1_error"] for i in infos)
            over = f"{cal['over'][0]:g}-{cal['over'][1]:g}"
            text += (
                f". The {cal['parameter']} as written, {infos[0]['written']:g}, would allow "
                f"{before:.4f} at worst over control rates {over}; the calibrated threshold per "
                f"n_total ({thresholds}) keeps it at {after:.4f} <= {cal['type1_error']:g}, and "
                "every result above uses it"
            )
        lines.append(text)
    return lines


# -- plot -----------------------------------------------------------------------------------


def control_prior_density(scenario: Scenario, rates: NDArray[np.float64]) -> Any:
    """Density of the control arm's endpoint probability *as analysed* at ``rates`` (None when
    the control's endpoint probability is a fixed number or given by a response model).

    The arm's ``endpoint_probability`` θ (Beta, or a fitted prior through its Beta-mixture
    approximation) is analysed as p = θ·o under non-responder imputation (o = probability of
    staying in the study to the endpoint), so the density of p is f(p/o)/o.
    """
    from simtrial.analysis.design import as_beta_mixture
    from simtrial.parameters import BetaParam, PriorParam

    c = scenario.analysis.control
    spec = scenario.arms[c]
    param = spec.endpoint_probability
    if not isinstance(param, BetaParam | PriorParam):
        return None
    try:
        mixture = as_beta_mixture(param)
    except Exception:  # a fitted variable without a Beta mixture: no density drawn
        return None
    o = 1.0
    if scenario.endpoint.missing == "non_responder":
        o = float(np.exp(-spec.dropout_hazard * scenario.endpoint.end_week))
    theta = np.asarray(rates) / o
    inside = (theta > 0) & (theta < 1)
    dens = np.zeros_like(theta)
    dens[inside] = mixture.pdf(theta[inside]) / o
    return dens, str(param)


def plot_type1_curve(result: RunResult, scenarios: Any) -> Any:
    """``type1_curve.png``: type I error (top) and power (bottom) against the true control
    rate, one line per ``n_total``, one column per variant; the α (or calibration target)
    line, the calibration range shaded, and the control rate's prior density (grey, right
    axis) when the control response is uncertain. None when no variant has a curve."""
    from simtrial.plots import _color, _figure

    names = [n for n, v in result.variants.items() if v.type1_curve]
    if not names:
        return None
    fig = _figure(max(7.0, min(4.2 * len(names), 12.0) + 1.0), 6.4)
    axes = fig.subplots(2, len(names), squeeze=False, sharex=True)
    for j, name in enumerate(names):
        curve = result.variants[name].type1_curve
        assert curve is not None
        scenario = scenarios.variants[name]
        x = np.asarray(curve["control_rate"])
        top, bottom = axes[0, j], axes[1, j]
        cal = curve.get("calibration")
        for i, p in enumerate(curve["points"]):
            color = _color(i)
            y = np.asarray(p["type1_error"])
            label = f"n_total {p['n_total']}"
            if cal:
                label += f" ({cal['parameter']} {p['calibrated_threshold']:g})"
            top.plot(x, y, color=color, lw=1.5, label=label, gid=f"type1:{name}:{p['n_total']}")
            if "type1_error_written" in p:
                written = cal["parameter"] if cal else "threshold"
                top.plot(
                    x,
                    p["type1_error_written"],
                    color=color,
                    lw=0.9,
                    ls=":",
                    label=f"written {written} (dotted)" if i == 0 else None,
                )
            pw = np.asarray(p["power"])
            bottom.plot(x, pw, color=color, lw=1.5, gid=f"power:{name}:{p['n_total']}")
            if "type1_error_se" in p:
                se = np.asarray(p["type1_error_se"])
                top.fill_between(x, y - 2 * se, y + 2 * se, color=color, alpha=0.15, lw=0)
                se = np.asarray(p["power_se"])
                bottom.fill_between(x, pw - 2 * se, pw + 2 * se, color=color, alpha=0.15, lw=0)
        level = cal["type1_error"] if cal else curve.get("alpha")
        if level is not None:
            what = "calibration target" if cal else "alpha"
            top.axhline(level, color="black", ls="--", lw=1, label=f"{what} {level:g}")
        if cal:
            lo, hi = cal["over"]
            for ax in (top, bottom):
                span = f"calibration range {lo:g}–{hi:g}" if ax is top else None
                ax.axvspan(lo, hi, color="#f2d16b", alpha=0.25, lw=0, label=span)
        point = curve["point_control_rate"]
        for ax in (top, bottom):
            assumed = f"assumed control rate {point:.3g}" if ax is top else None
            ax.axvline(point, color="#555555", lw=0.8, ls="-.", label=assumed)
            ax.grid(alpha=0.3)
        handles, labels = top.get_legend_handles_labels()
        density = control_prior_density(scenario, x)
        if density is not None:
            twin = top.twinx()
            twin.fill_between(
                x, density[0], color="#999999", alpha=0.25, lw=0, label="control-rate prior"
            )
            twin.set_yticks([])
            twin.set_ylim(0, float(np.max(density[0])) * 3.0 if np.max(density[0]) > 0 else 1)
            more = twin.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        method = "exact" if curve["method"] == "exact" else "simulated"
        title = variant_title(result, name)
        top.set_title(f"{title}: {method}" if title else method, fontsize=10)
        top.set_ylim(bottom=0)
        bottom.set_ylim(0, 1)
        bottom.set_xlabel("true control endpoint probability p")
        if j == 0:
            top.set_ylabel("type I error\n(both arms at p)")
            bottom.set_ylabel(f"power\n(treatment at p {curve['delta']:+.2f})")
        (twin if density is not None else top).legend(
            handles, labels, fontsize=7, loc="upper right"
        )
    fig.suptitle("Type I error and power against the true control rate", fontsize=10)
    return fig


CAPTION = (
    "Type I error (top: both arms with the same true endpoint probability p, on the x axis) "
    "and power (bottom: the control at p, the treatment at p plus the difference assumed at "
    "the scenario's point values) for each total sample size. The dash-dot line marks the "
    "control rate the scenario assumes; grey shading, the prior distribution of the control "
    "rate (when it is uncertain); the dashed line the level (alpha, or the calibration "
    "target). With calibration, solid lines use the threshold calibrated at each size (in the "
    "legend), dotted lines the threshold as written, and the yellow band is the range of "
    "control rates the calibration protects. Exact curves have no Monte Carlo error; "
    "simulated ones have ±2 SE bands."
)


def _f(x: Any, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def report_section(result: RunResult) -> str | None:
    """The report's section on the type I error curve and calibration (None without one)."""
    from html import escape as esc

    names = [n for n, v in result.variants.items() if v.type1_curve]
    if not names:
        return None
    first = result.variants[names[0]].type1_curve
    assert first is not None
    lo, hi = first["control_rate"][0], first["control_rate"][-1]
    parts = [
        "<p>How often the design declares success when the treatment does nothing, for every "
        "true control response rate, not only the assumed one. A Bayesian rule that borrows "
        "the control rate from earlier trials keeps its type I error low where the truth "
        "agrees with the prior and lets it rise where it does not (RBesT <code>oc2S</code>). "
        f"Definition: {esc(DEFINITION)}</p>",
        f"<p>Grid: {len(first['control_rate'])} control rates from {lo:g} to {hi:g}; method "
        f"<b>{esc(first['method'])}</b>"
        + (
            " (enumeration of all outcomes with the final decision rule; the non-binding "
            "futility look and safety stops are ignored, so these curves are upper bounds for "
            "the design as run)."
            if first["method"] == "exact"
            else f" ({first.get('simulations')} simulated trials per rate)."
        )
        + "</p>",
    ]
    rows = []
    for name in names:
        v = result.variants[name]
        curve = v.type1_curve
        assert curve is not None
        by_n = {p.n_total: p for p in v.points}
        for entry in curve["points"]:
            point = by_n.get(entry["n_total"])
            cal = point.extra.get("calibration") if point is not None else None
            cells = [
                esc(name),
                str(entry["n_total"]),
                f"{_f(entry['worst_type1_error'])} at {entry['worst_at_control_rate']:.2f}",
            ]
            if cal:
                cells += [
                    f"{cal['written']:g}: {_f(cal['written_worst_type1_error'])} at "
                    f"{cal['written_worst_at_control_rate']:.3f}",
                    f"{cal['calibrated']:g}",
                    f"{_f(cal['worst_type1_error'])} at {cal['worst_at_control_rate']:.3f}",
                    _f(cal["looser_worst_type1_error"]),
                ]
            else:
                cells += ["—"] * 4
            if point is not None:
                cells += [
                    f"{point.power:.3f} ± {point.power_se:.3f}",
                    f"{point.assurance:.3f} ± {point.assurance_se:.3f}",
                ]
            else:
                cells += ["—", "—"]
            rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    cal_spec = first.get("calibration")
    if cal_spec:
        parts.append(
            f"<p><b>Calibration.</b> The {esc(cal_spec['parameter'])} is chosen at each total "
            f"sample size so that the worst-case type I error over true control rates "
            f"{cal_spec['over'][0]:g}–{cal_spec['over'][1]:g} is at most "
            f"{cal_spec['type1_error']:g} (exact search over the finite set of decision "
            "regions: the largest region that keeps the target; the threshold shown is the "
            "shortest decimal giving that region). <b>Every other result of this report — "
            "power, assurance, type I error at the assumed rates, stopping and the sample-size "
            "search — uses the calibrated value.</b> “One step looser” is the worst case "
            "when the next outcome is admitted to the success region: above the target, so "
            "the calibrated threshold is the tightest that keeps it.</p>"
        )
    parts.append(
        "<table><tr><th>variant</th><th>n_total</th><th>worst type I error on the grid "
        "(at control rate)</th><th>written threshold: worst in the calibration range (at)"
        "</th><th>calibrated</th><th>worst in the calibration range (at)</th>"
        "<th>one step looser</th><th>power</th><th>assurance</th>"
        "</tr>" + "".join(rows) + "</table>"
    )
    return "".join(parts)
