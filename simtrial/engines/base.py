"""What every engine shares: the interface, random streams and parameter values.

Random streams
--------------
Every random number comes from a generator built by :func:`stream` from the scenario seed and a
key ``(variant, n_total, purpose, block)`` — never from the worker, chunk or order in which the
blocks run, so the same scenario and seed give identical results however the work is split.
The variant is keyed by a hash of its *name* and the point by its ``n_total``: adding a variant
or a point does not change the others.

Vocabulary
----------
Each word means one thing in the engines (:mod:`simtrial.engines`) and the analysis code
(:mod:`simtrial.analysis`), for one arm:

- ``randomised``: the number of patients allocated to the arm (a count); a patient's calendar
  week of randomisation is ``randomised_week``.
- ``in_study``: in the study at the endpoint week (not dropped out before it); per patient a
  flag, per arm the probability of it (:class:`simtrial.model.EndpointLaw`).
- ``analysed``: the patients whose endpoint enters the analysis, the denominator of the test —
  every randomised patient under non-responder imputation (``missing: non_responder``), the
  patients ``in_study`` under ``missing: exclude``.
- ``success`` (per patient) / ``successes`` (a count: the responders): meeting the endpoint as
  analysed (responding and in the study at the endpoint week).
- ``dropouts``: randomised patients not ``in_study`` (``randomised − in_study``).
- ``sae`` (per patient) / ``serious_adverse_events`` (a count): serious adverse events while in
  the study; ``adverse_events``: infusion AEs; ``infusions``: infusions given.
- ``exposure_weeks``: a patient's weeks in the study, up to the endpoint week.

Per-arm totals over simulated trials are one type, :class:`ArmTotals`, for every Monte Carlo
engine. (Log-rank's ``observed_t``/``observed_c`` in :mod:`simtrial.analysis.survival` are the
O of O − E, losses of response observed — the usual name of that statistic, not a patient count.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from simtrial.engines.results import PointResult
from simtrial.errors import EngineError
from simtrial.model.response import ARM_PARAMETERS, ArmValues, arm_values
from simtrial.scenario.parameters import Parameter, draw_parameters, is_random, point_value
from simtrial.scenario.schema import Scenario

# Purposes of a random stream.
POWER, TYPE1, ASSURANCE, SAFE, UNSAFE = 0, 1, 2, 3, 4

Progress = Callable[[int], None]
"""Called with the number of simulated trials just finished."""


def name_key(name: str) -> int:
    """A stable 32-bit integer for a name (for SeedSequence spawn keys)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def stream(seed: int, variant: str, n_total: int, purpose: int, block: int) -> np.random.Generator:
    """The generator of one block of trials; see the module docstring."""
    seq = np.random.SeedSequence(seed, spawn_key=(name_key(variant), n_total, purpose, block))
    return np.random.Generator(np.random.PCG64(seq))


def arm_parameters(scenario: Scenario, arm: str) -> list[tuple[tuple[str, ...], Parameter]]:
    """The parameters of one arm, keyed by location relative to the arm."""
    out: list[tuple[tuple[str, ...], Parameter]] = []
    spec = scenario.arms[arm]
    for loc in ARM_PARAMETERS:
        obj: Any = spec
        for part in loc:
            obj = getattr(obj, part, None) if obj is not None else None
        if obj is not None:
            out.append((loc, obj))
    return out


def point_summaries(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Each random arm parameter's point value and why (summary.json ``point_values``), keyed
    by field path, e.g. ``arms.msc.response.loss_per_week``."""
    rule = scenario.evaluate.point_values
    return {
        ".".join(("arms", arm, *loc)): point_value(p, rule).to_dict()
        for arm in scenario.arms
        for loc, p in arm_parameters(scenario, arm)
        if is_random(p)
    }


def point_values(scenario: Scenario) -> dict[str, ArmValues]:
    """Every arm with its parameters at their point values (used for power and type I error):
    means, or medians where a mean is not a usable summary (:func:`point_value`)."""
    rule = scenario.evaluate.point_values
    return {
        arm: arm_values(
            scenario.arms[arm],
            {loc: point_value(p, rule).value for loc, p in arm_parameters(scenario, arm)},
        )
        for arm in scenario.arms
    }


def drawn_values(scenario: Scenario, n: int, rng: np.random.Generator) -> dict[str, ArmValues]:
    """Every arm with ``n`` joint draws of its parameters (arrays of shape ``(n,)``).

    All parameters of the scenario are drawn together, so two parameters from the same fit
    share the posterior draw index (DESIGN §3, "assurance draws jointly").
    """
    locs: list[tuple[str, tuple[str, ...]]] = []
    params: list[Parameter] = []
    for arm in scenario.arms:
        for loc, p in arm_parameters(scenario, arm):
            locs.append((arm, loc))
            params.append(p)
    draws = draw_parameters(params, n, rng)
    per_arm: dict[str, dict[tuple[str, ...], np.ndarray]] = {a: {} for a in scenario.arms}
    for j, (arm, loc) in enumerate(locs):
        per_arm[arm][loc] = draws[:, j]
    return {arm: arm_values(scenario.arms[arm], per_arm[arm]) for arm in scenario.arms}


def has_uncertainty(scenario: Scenario) -> bool:
    """True when some arm parameter has a distribution (assurance differs from power)."""
    return any(is_random(p) for arm in scenario.arms for _, p in arm_parameters(scenario, arm))


def null_values(values: dict[str, ArmValues], scenario: Scenario) -> dict[str, ArmValues]:
    """Values under the null hypothesis: each treatment arm behaves like the control arm.

    DESIGN §4: type I error is power with the treatment's endpoint probability set to the
    control's. The treatment arm takes the control arm's whole outcome model (response and
    dropout), so the two arms have identical endpoint laws, including under ``exclude``.
    """
    out = dict(values)
    for t in scenario.analysis.treatments:
        out[t] = values[scenario.analysis.control]
    return out


def proportion_se(p: float, n: int) -> float:
    """Monte Carlo SE of a proportion estimated from ``n`` independent trials."""
    return float(np.sqrt(max(p * (1 - p), 0.0) / n)) if n > 0 else float("nan")


def expected_duration(scenario: Scenario, n_total: int) -> float | None:
    """Expected weeks from first randomisation to the last endpoint visit (fixed design).

    With Poisson accrual at rate r the n-th arrival after the first is at Gamma(n − 1, r), mean
    (n − 1)/r; the last patient is then followed to the end of follow-up. ``None`` without an
    ``enrolment`` block.
    """
    if scenario.enrolment is None:
        return None
    return (n_total - 1) / scenario.enrolment.rate_per_week + scenario.endpoint.end_week


class Engine(Protocol):
    """The interface every engine implements."""

    name: ClassVar[str]
    common_random_numbers: bool

    def check(self, scenario: Scenario) -> None:
        """Raise :class:`EngineError` when the engine cannot run the scenario."""

    def evaluate(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        simulations: int,
        seed: int,
        progress: Progress | None = None,
    ) -> PointResult:
        """Operating characteristics of one design point."""
        ...

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
        """``(estimate, SE)`` of one point's ``power`` or ``assurance`` alone (a sample-size
        search's candidate): equal to ``evaluate``'s, without the other simulations."""
        ...


# Design features each engine can simulate.
FEATURES = {
    "vectorized": {
        "interims",
        "bayes_posterior",
        "logrank",
        "multi_arm",
        "safety",
        "sample_size",
    },
    "exact": {"bayes_posterior", "sample_size"},
    # the DES decides on the vectorized engine's path (simtrial.engines.decide)
    "des": {"interims", "bayes_posterior", "logrank", "multi_arm", "safety", "sample_size"},
}


def target_purposes(scenario: Scenario, target: str) -> list[int]:
    """The one purpose a sample-size search simulates per candidate ``n_total``: power at the
    point values, or assurance over the parameters' distribution (``target: assurance``; power's
    simulations when no parameter has a distribution, as
    :func:`~simtrial.engines.decide.point_result` reports it)."""
    if target == "assurance" and has_uncertainty(scenario):
        return [ASSURANCE]
    return [POWER]


def target_estimate(
    scenario: Scenario, simulations: int, outputs: list[Any], target: str
) -> tuple[float, float]:
    """``(estimate, Monte Carlo SE)`` of a search's target from the outputs of the tasks of
    :func:`target_purposes`: the share of trials with a success (a rejection in the
    treatment's favour, or a selection design's success criterion), counted as
    :func:`~simtrial.engines.decide.point_result` counts ``power`` and ``assurance``, so the
    two agree to the bit."""
    (purpose,) = target_purposes(scenario, target)
    value = sum(o[1].favourable for o in outputs if o[0][0] == purpose) / simulations
    return value, proportion_se(value, simulations)


class StreamKeyed:
    """Engines key their random streams by the point's ``n_total`` — or, with
    ``common_random_numbers`` (used by the sample-size search), by 0 for every point, so that
    points of a search share their streams: the per-trial parameter draws of assurance are then
    identical across n (patient-level draws are not nested across n)."""

    common_random_numbers: bool = False

    def point_key(self, n_total: int) -> int:
        return 0 if self.common_random_numbers else n_total


class BlockEngine(StreamKeyed):
    """Shared machinery of the Monte Carlo engines: a point is a list of independent tasks
    ``(purpose, block, trials)``, each with its own random stream, run in any order or place
    and aggregated by ``combine`` (subclasses give ``tasks``, ``run_task`` and ``combine``)."""

    name: ClassVar[str]

    def __init__(self, trials_per_block: int) -> None:
        self.trials_per_block = trials_per_block

    def blocks(self, simulations: int) -> list[tuple[int, int]]:
        """(block index, trials in block) covering ``simulations`` trials."""
        size = self.trials_per_block
        return [(b, min(size, simulations - b * size)) for b in range(-(-simulations // size))]

    def check(self, scenario: Scenario) -> None:
        refuse(scenario, self.name)

    def tasks(self, scenario: Scenario, simulations: int) -> list[tuple[int, int, int]]:
        raise NotImplementedError

    def run_task(self, scenario: Scenario, variant: str, n_total: int, task: Any, seed: int) -> Any:
        raise NotImplementedError

    def combine(
        self, scenario: Scenario, n_total: int, simulations: int, outputs: list[Any]
    ) -> PointResult:
        raise NotImplementedError

    def evaluate(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        simulations: int,
        seed: int,
        progress: Progress | None = None,
    ) -> PointResult:
        """Run every task of the point in this process and combine them."""
        outputs = self._run(scenario, variant, n_total, simulations, seed, progress)
        return self.combine(scenario, n_total, simulations, outputs)

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
        """Run only the tasks of the target's purpose (the same tasks, streams and counts as in
        :meth:`evaluate`, so the same estimate)."""
        wanted = set(target_purposes(scenario, target))
        outputs = self._run(scenario, variant, n_total, simulations, seed, progress, wanted)
        return target_estimate(scenario, simulations, outputs, target)

    def _run(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        simulations: int,
        seed: int,
        progress: Progress | None,
        purposes: set[int] | None = None,
    ) -> list[Any]:
        """The outputs of the point's tasks (only those of ``purposes`` when given), in order."""
        self.check(scenario)
        outputs = []
        for task in self.tasks(scenario, simulations):
            if purposes is None or task[0] in purposes:
                outputs.append(self.run_task(scenario, variant, n_total, task, seed))
                if progress is not None:
                    progress(task[2])
        return outputs


def unsupported(scenario: Scenario, engine: str) -> list[str]:
    """Features of a scenario that ``engine`` cannot simulate (common refusal list)."""
    can = FEATURES.get(engine, set())
    problems = []
    a = scenario.analysis
    if len(a.treatments) > 1 and "multi_arm" not in can:
        problems.append("several treatment arms (analysis.treatment as a list)")
    if a.interims is not None and "interims" not in can:
        problems.append("group-sequential designs (analysis.interims)")
    if a.test in ("bayes_posterior", "logrank") and a.test not in can:
        problems.append(f"test {a.test!r}")
    if scenario.safety is not None and "safety" not in can:
        problems.append("safety stopping (safety)")
    if scenario.evaluate.sample_size is not None and "sample_size" not in can:
        problems.append("sample-size search (evaluate.sample_size)")
    if scenario.operations is not None and engine != "des":
        problems.append(
            "operations (infusion slots, cell-dose supply and sites live in calendar time: "
            "only the des engine simulates them; run with --engine des)"
        )
    if a.selection is not None and engine != "vectorized":
        problems.append("treatment selection (analysis.selection; use --engine vectorized)")
    if len(a.treatments) > 1 and (
        (a.interims is not None and a.selection is None) or a.test in ("bayes_posterior", "logrank")
    ):
        problems.append("several treatment arms with interims, a Bayesian rule or log-rank")
    if a.test == "logrank" and (a.interims is not None or scenario.safety is not None):
        problems.append("log-rank with interim or safety looks (fixed designs only)")
    return problems


def refuse(scenario: Scenario, engine: str, extra: list[str] | None = None) -> None:
    """Raise one EngineError listing every unsupported feature."""
    problems = unsupported(scenario, engine) + (extra or [])
    if problems:
        raise EngineError(
            f"the {engine} engine cannot run scenario {scenario.name!r}: "
            + "; ".join(problems)
            + " (see README, 'Engines')"
        )


STOP_REASONS = ("efficacy", "futility", "safety", "harm")
"""Reasons a trial stops at an interim look, in the order of :attr:`BlockStats.stopped`."""


@dataclass(frozen=True)
class BlockStats:
    """Trial-level counts of one block (summed over its trials).

    ``rejections`` counts trials with at least one rejection in either direction;
    ``favourable`` those with at least one rejection in the treatment's favour (a success).
    """

    trials: int
    rejections: int  # at least one comparison rejected (either direction)
    favourable: int  # ... with the treatment doing better: a success
    per_comparison: tuple[int, ...] = ()  # favourable rejections per comparison
    stopped: tuple[int, ...] = (0, 0, 0, 0)  # early stops per reason, STOP_REASONS order
    n_randomised: float = 0.0
    duration: float | None = None
    # early stops per look: ((information fraction, *stops in STOP_REASONS order), ...)
    by_look: tuple[tuple[float, ...], ...] = ()
    per_comparison_any: tuple[int, ...] = ()  # rejections per comparison, either direction
    selection: tuple[float, ...] = ()  # selection designs: see decide.selection_sums

    def __add__(self, other: BlockStats) -> BlockStats:
        dur = (
            None
            if self.duration is None or other.duration is None
            else (self.duration + other.duration)
        )

        def add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(x + y for x, y in zip(a, b, strict=True))

        return BlockStats(
            self.trials + other.trials,
            self.rejections + other.rejections,
            self.favourable + other.favourable,
            add(self.per_comparison, other.per_comparison),
            add(self.stopped, other.stopped),
            self.n_randomised + other.n_randomised,
            dur,
            _add_looks(self.by_look, other.by_look),
            add(self.per_comparison_any, other.per_comparison_any),
            tuple(x + y for x, y in zip(self.selection, other.selection, strict=True)),
        )


def _add_looks(
    a: tuple[tuple[float, ...], ...], b: tuple[tuple[float, ...], ...]
) -> tuple[tuple[float, ...], ...]:
    counts: dict[float, list[float]] = {}
    for fraction, *stops in (*a, *b):
        row = counts.setdefault(fraction, [0] * len(stops))
        for i, k in enumerate(stops):
            row[i] += k
    return tuple((f, *counts[f]) for f in sorted(counts))


@dataclass(frozen=True)
class ArmTotals:
    """Per-arm totals accumulated over simulated trials (one trial, a block or a point), in the
    words of the module docstring; the one per-arm count type of the Monte Carlo engines (the
    vectorized engine sums its per-trial arrays into it, the DES its patients). Summed with
    ``+``."""

    successes: float = 0.0
    analysed: float = 0.0
    randomised: float = 0.0
    infusions: float = 0.0
    adverse_events: float = 0.0
    serious_adverse_events: float = 0.0
    dropouts: float = 0.0

    def __add__(self, other: ArmTotals) -> ArmTotals:
        return ArmTotals(*(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__))
