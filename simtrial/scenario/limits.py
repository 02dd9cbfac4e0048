"""Upper bounds on scenario values, and the memory and work estimate of a run.

Every value ``simtrial validate`` accepts must run. Pydantic checks types and signs; this module
adds what a type cannot say: upper bounds that keep every engine inside 64-bit integers and
floats and inside the memory of one machine (:func:`check_scenario`, called by the scenario
validator with the same ``file:line: field: message`` errors), whether a fitted variable is the
right kind for the parameter it feeds (:func:`check_prior_kind`: a rate fit such as
``msc/loss_per_week_new`` is not a probability), warnings for values that are legal but
probably not meant (:func:`scenario_warnings`), and the constants of the up-front estimate of a
run's peak memory and work (:func:`simtrial.planning.estimate.estimate_run`) that
``simtrial run`` checks before simulating (:func:`~simtrial.planning.estimate.check_run`;
``--force`` overrides it).

The bounds (also in the README):

===============================================  =============================================
field                                            allowed
===============================================  =============================================
``simulations``                                  1 to 10 000 000
``seed``                                         0 to 2**63 − 1
``evaluate.n_total[i]``, ``sample_size.max_total``  at most 100 000; at most 100 points
every week (endpoint, infusions, onset, delays)  at most 1040 (20 years)
``schedule.infusion_weeks``                      at most 100 infusions
``redose_on_loss``                               ``max`` ≤ 100; at most 1000 assessment visits
``enrolment.rate_per_week``                      0.001 to 10 000
rates (``loss_per_week``, SAE per year)          mean at most 1000
``{beta: [a, b]}``, ``{gamma: [shape, rate]}``   each number in [1e-6, 1e6]
``{lognormal: [mu, sigma]}``                     sigma ≤ 5 (and the mean within the rate bound)
``interims.information``                         at most 20 looks
``operations``                                   ``sites`` ≤ 1000; capacities ≤ 1 000 000 a week
===============================================  =============================================

The run estimate (:mod:`simtrial.planning.estimate`) is deliberately simple and errs on the
large side: every engine decides through the test's table over (x_t, x_c), about 128 bytes a cell
(Fisher's
p-value table: measured peak 1.6 GiB at n_total 8000, 4001 × 4001 cells, estimated 1.9 GiB;
one of its arrays alone is 18.6 GiB at 50 000 a side); the vectorized engine also holds one
block of ``min(simulations, 1000)`` trials × ``n_total`` patients at 128 bytes a patient (an
upper bound: 436 MiB measured at 1000 × 4000, Fisher table included); the exact engine
``simulations`` × (n + 1) binomial weights for assurance; the DES one trial at a time. Work
counts patient journeys (the DES's cost about 100 vectorized ones each; a simulated type I
error curve adds two purposes per control rate and ``n_total``; a sample-size search's points
simulate only its target's purpose, :func:`search_evaluations` of them). A run over
:data:`MAX_MEMORY_BYTES` or :data:`MAX_WORK` is refused with exit status 2 unless ``--force``
is given.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

from simtrial.errors import ScenarioWarning

if TYPE_CHECKING:  # pragma: no cover
    from simtrial.scenario.parameters import Parameter
    from simtrial.scenario.schema import Scenario

Loc = tuple[str | int, ...]

MAX_SIMULATIONS = 10_000_000
MAX_SEED = 2**63 - 1
MAX_N_TOTAL = 100_000
MAX_POINTS = 100
MAX_WEEKS = 1040.0
MAX_INFUSIONS = 100
MAX_REDOSES = 100
MAX_VISITS = 1000
MIN_ACCRUAL, MAX_ACCRUAL = 1e-3, 1e4
MAX_RATE = 1000.0
MIN_SHAPE, MAX_SHAPE = 1e-6, 1e6
MAX_LOGNORMAL_SIGMA = 5.0
MAX_LOOKS = 20
MAX_SITES = 1000
MAX_CAPACITY = 1e6

MAX_MEMORY_BYTES = 2 * 1024**3
"""Largest estimated peak memory of a run without ``--force`` (2 GiB)."""
MAX_WORK = 2e10
"""Largest estimated work of a run without ``--force``, in patient journeys (about an hour of
the vectorized engine on one core)."""

BYTES_PER_PATIENT = 128
"""Vectorized engine: peak bytes per simulated patient in a block (measured, rounded up)."""
DES_COST = 100
"""Cost of one DES patient journey in vectorized journeys (the benchmark: 439× per trial)."""
TABLE_BYTES_PER_CELL = 128
"""Peak bytes per cell of a test's table over (x_t, x_c) (Fisher: 1.6 GiB measured at 4001²)."""

_PROBABILITY_FIELDS = {"endpoint_probability", "induction", "ceiling", "per_infusion"}
_PROBABILITY_FIELDS |= {"treatment_prior", "control_prior"}
_RATE_FIELDS = {"loss_per_week": "per week", "serious_rate_per_year": "per patient-year"}
_RATE_FIELDS |= {"prior": "per patient-year"}


def parameter_kind(loc: Loc) -> str:
    """``"probability"`` or ``"rate"``: what the parameter at ``loc`` must be."""
    return "probability" if loc[-1] in _PROBABILITY_FIELDS else "rate"


def _weeks(value: float | None, loc: Loc, out: list[tuple[Loc, str]]) -> None:
    if value is not None and value > MAX_WEEKS:
        out.append((loc, f"at most {MAX_WEEKS:g} weeks (20 years), got {value:g}"))


def _parameter(loc: Loc, param: Parameter, out: list[tuple[Loc, str]]) -> None:
    from simtrial.scenario.parameters import BetaParam, Fixed, GammaParam, LogNormalParam

    def shape_bounds(name: str, values: tuple[float, ...]) -> bool:
        for v in values:
            if not MIN_SHAPE <= v <= MAX_SHAPE:
                out.append(
                    (
                        loc,
                        f"{name} parameters must be in [{MIN_SHAPE:g}, {MAX_SHAPE:g}], "
                        f"got {list(values)}",
                    )
                )
                return False
        return True

    if isinstance(param, BetaParam):
        shape_bounds("beta", (param.a, param.b))
        return
    if isinstance(param, GammaParam) and not shape_bounds("gamma", (param.shape, param.rate)):
        return
    if isinstance(param, LogNormalParam):
        if param.sigma > MAX_LOGNORMAL_SIGMA:
            out.append(
                (
                    loc,
                    f"lognormal sigma must be at most {MAX_LOGNORMAL_SIGMA:g}, got {param.sigma:g}",
                )
            )
            return
        log_mean = param.mu + param.sigma**2 / 2
        if log_mean > math.log(MAX_RATE):
            mean = math.exp(min(log_mean, 700))
            out.append(
                (
                    loc,
                    f"a rate's mean must be at most {MAX_RATE:g}, got {param} "
                    f"(mean exp(mu + sigma²/2) = {mean:.3g})",
                )
            )
            return
    if parameter_kind(loc) == "rate" and isinstance(param, Fixed | GammaParam):
        mean = param.mean()
        if not mean <= MAX_RATE:
            unit = _RATE_FIELDS.get(str(loc[-1]), "")
            out.append((loc, f"a rate must be at most {MAX_RATE:g} {unit}, got {param}"))


def check_scenario(scenario: Scenario) -> list[tuple[Loc, str]]:
    """Values beyond the documented bounds, as ``(location, message)``; empty when none."""
    out: list[tuple[Loc, str]] = []
    if scenario.simulations > MAX_SIMULATIONS:
        out.append((("simulations",), f"at most {MAX_SIMULATIONS:,}, got {scenario.simulations:,}"))
    if scenario.seed > MAX_SEED:
        out.append((("seed",), f"at most 2**63 - 1, got {scenario.seed}"))
    if scenario.enrolment is not None:
        rate = scenario.enrolment.rate_per_week
        if not MIN_ACCRUAL <= rate <= MAX_ACCRUAL:
            out.append(
                (
                    ("enrolment", "rate_per_week"),
                    f"must be in [{MIN_ACCRUAL:g}, {MAX_ACCRUAL:g}] patients a week, got {rate:g}",
                )
            )
    end = scenario.endpoint
    for name in ("week", "from_week", "to_week", "follow_up_weeks"):
        _weeks(getattr(end, name), ("endpoint", name), out)
    ev = scenario.evaluate
    for key in ("n_total", "sweep_n_total"):
        sizes = getattr(ev, key) or []
        if len(sizes) > MAX_POINTS:
            out.append((("evaluate", key), f"at most {MAX_POINTS} points, got {len(sizes)}"))
        for i, n in enumerate(sizes):
            if n > MAX_N_TOTAL:
                out.append((("evaluate", key, i), f"at most {MAX_N_TOTAL:,} patients, got {n:,}"))
    if ev.sample_size is not None and ev.sample_size.max_total > MAX_N_TOTAL:
        out.append(
            (
                ("evaluate", "sample_size", "max_total"),
                f"at most {MAX_N_TOTAL:,} patients, got {ev.sample_size.max_total:,}",
            )
        )
    for arm_name, arm in scenario.arms.items():
        base: Loc = ("arms", arm_name)
        if arm.schedule is not None:
            weeks = arm.schedule.infusion_weeks
            if len(weeks) > MAX_INFUSIONS:
                out.append(
                    (
                        base + ("schedule", "infusion_weeks"),
                        f"at most {MAX_INFUSIONS} infusions, got {len(weeks)}",
                    )
                )
            for i, w in enumerate(weeks):
                _weeks(w, base + ("schedule", "infusion_weeks", i), out)
            redose = arm.schedule.redose_on_loss
            if redose is not None:
                rloc = base + ("schedule", "redose_on_loss")
                if redose.max > MAX_REDOSES:
                    out.append((rloc + ("max",), f"at most {MAX_REDOSES}, got {redose.max}"))
                _weeks(redose.delay_weeks, rloc + ("delay_weeks",), out)
                visits = end.end_week / redose.assess_every_weeks
                if visits > MAX_VISITS:
                    out.append(
                        (
                            rloc + ("assess_every_weeks",),
                            f"at most {MAX_VISITS} assessment visits over the {end.end_week:g} "
                            f"weeks of follow-up: use at least "
                            f"{end.end_week / MAX_VISITS:g}, got {redose.assess_every_weeks:g}",
                        )
                    )
        if arm.response is not None:
            _weeks(arm.response.onset_weeks, base + ("response", "onset_weeks"), out)
    for loc, param in scenario.parameters():
        _parameter(loc, param, out)
    if scenario.safety is not None:
        sa = scenario.safety
        if sa.max_serious_rate_per_year > MAX_RATE:
            out.append(
                (
                    ("safety", "max_serious_rate_per_year"),
                    f"at most {MAX_RATE:g} per patient-year, got {sa.max_serious_rate_per_year:g}",
                )
            )
        if sa.every_patients is not None and sa.every_patients > MAX_N_TOTAL:
            out.append(
                (
                    ("safety", "every_patients"),
                    f"at most {MAX_N_TOTAL:,}, got {sa.every_patients:,}",
                )
            )
    interims = scenario.analysis.interims
    if interims is not None and len(interims.information) > MAX_LOOKS:
        out.append(
            (
                ("analysis", "interims", "information"),
                f"at most {MAX_LOOKS} looks, got {len(interims.information)}",
            )
        )
    ops = scenario.operations
    if ops is not None:
        if ops.sites > MAX_SITES:
            out.append((("operations", "sites"), f"at most {MAX_SITES}, got {ops.sites}"))
        for name in ("infusion_slots_per_week", "doses_per_week"):
            value = getattr(ops, name)
            if value is not None and not 1e-3 <= value <= MAX_CAPACITY:
                out.append(
                    (
                        ("operations", name),
                        f"must be in [0.001, {MAX_CAPACITY:g}] a week, got {value:g}",
                    )
                )
        _weeks(ops.visit_window_weeks, ("operations", "visit_window_weeks"), out)
    return out


def scenario_warnings(scenario: Scenario) -> list[tuple[Loc, str]]:
    """Legal values that are probably not meant: infusions after the end of follow-up."""
    out: list[tuple[Loc, str]] = []
    end = scenario.endpoint.end_week
    for arm_name, arm in scenario.arms.items():
        if arm.schedule is None:
            continue
        for i, week in enumerate(arm.schedule.infusion_weeks):
            if week > end:
                out.append(
                    (
                        ("arms", arm_name, "schedule", "infusion_weeks", i),
                        f"infusion at week {week:g} is after the end of follow-up (week {end:g}) "
                        "and is never given",
                    )
                )
    return out


def check_prior_kind(fit: str, var: str, index: str | None, kind: str) -> str | None:
    """Why ``fit/var[index]`` cannot feed a parameter of ``kind``, or ``None`` when it can.

    The fit summary's ``kind`` of the variable decides (``probability``: a Beta-mixture
    variable in [0, 1]; ``rate``: non-negative); a variable of another kind (a logit or log
    scale hyper-parameter) is checked on its draws.
    """
    from simtrial.priors import store

    declared = store.variable_kind(fit, var)
    draws = store.posterior_draws(fit, var, index)  # the run needs them: read them now
    if declared == kind or (declared == "probability" and kind == "rate"):
        return None
    if declared in ("probability", "rate"):
        return (
            f"{fit}/{var} is a {declared} (its fit summary says so), but this parameter needs "
            f"a {kind}; use a {kind} variable of the fit"
        )
    low, high = float(draws.min()), float(draws.max())
    if kind == "probability" and (low < 0 or high > 1):
        return (
            f"{fit}/{var} is not a probability (its draws range from {low:.3g} to {high:.3g}); "
            "use a probability variable of the fit"
        )
    if kind == "rate" and low < 0:
        return f"{fit}/{var} is not a rate (it has negative draws, down to {low:.3g})"
    return None


def warn(message: str) -> None:
    """Issue a :class:`~simtrial.errors.ScenarioWarning` (the CLI prints it as one line)."""
    warnings.warn(ScenarioWarning(message), stacklevel=3)


__all__ = [
    "MAX_MEMORY_BYTES",
    "MAX_N_TOTAL",
    "MAX_WEEKS",
    "MAX_WORK",
    "check_prior_kind",
    "check_scenario",
    "parameter_kind",
    "scenario_warnings",
]
