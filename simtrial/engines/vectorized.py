"""The vectorized engine: patients as NumPy arrays (trials × patients), block by block.

Each block of at most :data:`TRIALS_PER_BLOCK` trials is simulated with its own generator
(:func:`~simtrial.engines.base.stream`), so memory is bounded by one block and results do not
depend on how blocks are grouped or ordered.

The patient journey (DESIGN §2) is simulated on a timeline that is the same for every patient:
planned induction times ``s_k + onset``, assessment visits ``j·A`` (with re-dosing), and the
induction times of extra infusions ``j·A + delay + onset``. At each time one vectorized step
updates all patients of all trials in the block:

- induction: a potential responder who is not responding (``loss ≤ t``) starts responding with
  probability q; the response ends at ``t + Exponential(λ)``;
- assessment (re-dosing): a patient still in the study whose response ended since the last
  re-dose decision, with no extra infusion pending and fewer than ``max`` extra infusions, gets
  an extra infusion ``delay_weeks`` later. Each loss episode triggers at most one extra
  infusion: a patient who does not respond to it is not re-dosed again until a new response
  is lost (the JIA pilot's rule: re-infusion after response and subsequent loss).

Events at the same week run inductions first, then visits; an induction at exactly the endpoint
week counts. Infusions after dropout or after the end of follow-up are not given. Infusion AEs
are Binomial(infusions in the trial, per_infusion) and SAEs Poisson(rate/52 × patient-weeks in
the study), summed per trial — exact, since sums of independent Bernoulli (Poisson) counts with a
common parameter are Binomial (Poisson).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from simtrial.analysis.decision import reject
from simtrial.engines.base import (
    ASSURANCE,
    POWER,
    TYPE1,
    ArmTotals,
    Progress,
    drawn_values,
    expected_duration,
    has_uncertainty,
    mean_values,
    null_values,
    proportion_se,
    refuse,
    stream,
)
from simtrial.model import ArmValues
from simtrial.results import PointResult
from simtrial.scenario import Endpoint, Scenario

TRIALS_PER_BLOCK = 1000
"""Trials per random-stream block. Part of the algorithm: changing it changes the numbers."""

Int = NDArray[np.int64]
Task = tuple[int, int, int]
TaskOutput = tuple[Task, tuple[int, int], dict[str, ArmTotals]]


@dataclass(frozen=True)
class ArmOutcome:
    """Per-trial counts of one arm in one block (arrays of shape ``(trials,)``)."""

    successes: Int
    observed: Int
    infusions: Int
    adverse_events: Int
    serious_adverse_events: Int
    dropouts: Int
    n: int

    def totals(self) -> ArmTotals:
        t = len(self.successes)
        return ArmTotals(
            successes=float(self.successes.sum()),
            observed=float(self.observed.sum()),
            randomised=float(self.n * t),
            infusions=float(self.infusions.sum()),
            adverse_events=float(self.adverse_events.sum()),
            serious_adverse_events=float(self.serious_adverse_events.sum()),
            dropouts=float(self.dropouts.sum()),
        )


def _col(value: object, trials: int) -> NDArray[np.float64] | float:
    """A scalar stays a scalar; a per-trial array becomes a column for broadcasting."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return float(arr)
    return arr.reshape(trials, 1)


def _timeline(values: ArmValues, end: float, extra_checkpoints: tuple[float, ...]) -> list:
    """Sorted (time, order, kind) events common to all patients of an arm."""
    assert values.schedule is not None
    onset = values.onset_weeks
    events: list[tuple[float, int, str]] = []
    for s in values.schedule.infusion_weeks:
        if s + onset <= end:
            events.append((s + onset, 0, "planned"))
    redose = values.schedule.redose_on_loss
    if redose is not None:
        j = 1
        while j * redose.assess_every_weeks <= end:
            a = j * redose.assess_every_weeks
            events.append((a, 2, "visit"))
            if a + redose.delay_weeks + onset <= end:
                events.append((a + redose.delay_weeks + onset, 1, "extra"))
            j += 1
    for t in extra_checkpoints:
        events.append((t, 3, "snapshot"))
    events.sort()
    return events


def simulate_arm(
    rng: np.random.Generator,
    trials: int,
    n: int,
    values: ArmValues,
    endpoint: Endpoint,
) -> ArmOutcome:
    """Simulate ``n`` patients in each of ``trials`` trials of one arm."""
    end = endpoint.end_week
    delta = values.dropout_hazard
    zeros = np.zeros(trials, dtype=np.int64)
    if values.schedule is None:
        # An arm given by its endpoint probability: per-trial binomials are exact.
        observed_p = float(np.exp(-delta * end))
        m = rng.binomial(n, observed_p, size=trials) if delta > 0 else np.full(trials, n)
        p = np.broadcast_to(np.asarray(values.endpoint_probability, dtype=float), (trials,))
        x = rng.binomial(m, p)
        analysed = np.full(trials, n) if endpoint.missing == "non_responder" else m
        return ArmOutcome(x, analysed.astype(np.int64), zeros, zeros, zeros, n - m, n)

    shape = (trials, n)
    q = _col(values.induction, trials)
    lam = _col(values.loss_per_week, trials)
    c = _col(values.ceiling, trials)
    inv_lam = np.divide(
        1.0, lam, out=np.full_like(np.asarray(lam), np.inf), where=np.asarray(lam) > 0
    )

    dropout = rng.exponential(1.0 / delta, size=shape) if delta > 0 else np.full(shape, np.inf)
    potential = rng.random(shape) < c if np.any(np.asarray(c) < 1) else None
    loss = np.full(shape, -np.inf)  # responding at t  <=>  loss > t

    def induce(t: float, who: NDArray[np.bool_] | None) -> None:
        eligible = loss <= t
        if who is not None:
            eligible &= who
        if potential is not None:
            eligible &= potential
        start = eligible & (rng.random(shape) < q)
        duration = rng.standard_exponential(shape) * inv_lam
        np.copyto(loss, t + duration, where=start)

    snapshot_time = endpoint.from_week if endpoint.kind == "durable_responder" else None
    checkpoints = (snapshot_time,) if snapshot_time is not None else ()
    infusions = np.zeros(trials, dtype=np.int64)
    for s in values.schedule.infusion_weeks:
        if s <= end:
            infusions += (dropout > s).sum(axis=1)

    redose = values.schedule.redose_on_loss
    if redose is not None:
        extras = np.zeros(shape, dtype=np.int16)
        pending = np.full(shape, np.inf)
        handled = np.full(shape, -np.inf)
    snapshot = None
    for t, _, kind in _timeline(values, end, checkpoints):
        if kind == "planned":
            induce(t, None)
        elif kind == "extra":
            due = pending == t
            induce(t, due)
            pending[due] = np.inf
        elif kind == "visit":
            assert redose is not None
            lost = (
                (loss <= t)
                & (loss > handled)
                & (dropout > t)
                & (extras < redose.max)
                & (pending == np.inf)
            )
            handled = np.where(lost, loss, handled)
            extras += lost
            when = t + redose.delay_weeks
            given = lost & (dropout > when) if when <= end else np.zeros(shape, dtype=bool)
            infusions += given.sum(axis=1)
            if when + values.onset_weeks <= end:
                pending[given] = when + values.onset_weeks
        elif kind == "snapshot":
            snapshot = np.where(loss > t, loss, -np.inf)

    in_study = dropout > end
    if endpoint.kind == "responder":
        success = in_study & (loss > end)
    elif endpoint.kind == "durable_responder":
        assert snapshot is not None and endpoint.to_week is not None
        success = in_study & (snapshot > endpoint.to_week)
    else:  # pragma: no cover - refused before simulation
        raise AssertionError(endpoint.kind)
    successes = success.sum(axis=1)
    observed = in_study.sum(axis=1)
    if endpoint.missing == "non_responder":
        observed = np.full(trials, n, dtype=np.int64)

    per_infusion = np.broadcast_to(np.asarray(values.per_infusion, dtype=float), (trials,))
    aes = rng.binomial(infusions, per_infusion)
    rate = np.broadcast_to(np.asarray(values.serious_rate_per_year, dtype=float), (trials,))
    weeks_in_study = np.minimum(dropout, end).sum(axis=1)
    saes = rng.poisson(rate / 52.0 * weeks_in_study)
    return ArmOutcome(
        successes.astype(np.int64),
        observed.astype(np.int64),
        infusions,
        aes.astype(np.int64),
        saes.astype(np.int64),
        n - in_study.sum(axis=1),
        n,
    )


class VectorizedEngine:
    """Monte Carlo engine on NumPy arrays; the default engine (DESIGN §2)."""

    name: ClassVar[str] = "vectorized"

    def __init__(self, trials_per_block: int = TRIALS_PER_BLOCK) -> None:
        self.trials_per_block = trials_per_block

    def check(self, scenario: Scenario) -> None:
        refuse(scenario, self.name)

    def blocks(self, simulations: int) -> list[tuple[int, int]]:
        """(block index, trials in block) covering ``simulations`` trials."""
        size = self.trials_per_block
        return [(b, min(size, simulations - b * size)) for b in range(-(-simulations // size))]

    def run_block(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        purpose: int,
        block: int,
        trials: int,
        seed: int,
    ) -> tuple[NDArray[np.int8], dict[str, ArmTotals]]:
        """Simulate one block.

        Returns the per-trial decision (0: H0 not rejected, 1: rejected with the treatment
        doing worse, 2: rejected with the treatment doing better) and per-arm totals.
        """
        rng = stream(seed, variant, n_total, purpose, block)
        if purpose == ASSURANCE:
            values = drawn_values(scenario, trials, rng)
        else:
            values = mean_values(scenario)
            if purpose == TYPE1:
                values = null_values(values, scenario)
        n_per_arm = scenario.n_per_arm(n_total)
        outcomes = {
            arm: simulate_arm(rng, trials, n_per_arm[arm], values[arm], scenario.endpoint)
            for arm in scenario.arms
        }
        t = scenario.analysis.treatments[0]
        c = scenario.analysis.control
        ot, oc = outcomes[t], outcomes[c]
        rejected = reject(scenario.analysis, ot.successes, ot.observed, oc.successes, oc.observed)
        better = ot.successes * oc.observed > oc.successes * ot.observed
        decision = rejected.astype(np.int8) * (1 + better.astype(np.int8))
        return decision, {arm: o.totals() for arm, o in outcomes.items()}

    def tasks(self, scenario: Scenario, simulations: int) -> list[Task]:
        """Independent units of work ``(purpose, block, trials)`` for one point.

        Each unit has its own random stream, so the units may run in any order, in any
        grouping (chunks), on any worker: :func:`combine` of their outputs is the same.
        """
        purposes = [POWER, TYPE1] + ([ASSURANCE] if has_uncertainty(scenario) else [])
        return [(p, b, t) for p in purposes for b, t in self.blocks(simulations)]

    def run_task(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        task: Task,
        seed: int,
    ) -> TaskOutput:
        """Run one unit of work; returns it with its rejection counts and per-arm totals."""
        purpose, block, trials = task
        decision, totals = self.run_block(scenario, variant, n_total, purpose, block, trials, seed)
        return task, (int((decision > 0).sum()), int((decision == 2).sum())), totals

    def evaluate(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        simulations: int,
        seed: int,
        progress: Progress | None = None,
    ) -> PointResult:
        self.check(scenario)
        outputs = []
        for task in self.tasks(scenario, simulations):
            outputs.append(self.run_task(scenario, variant, n_total, task, seed))
            if progress is not None:
                progress(task[2])
        return combine(scenario, n_total, simulations, outputs)


def combine(
    scenario: Scenario,
    n_total: int,
    simulations: int,
    outputs: list[TaskOutput],
) -> PointResult:
    """Aggregate the outputs of :meth:`VectorizedEngine.run_task`, in a canonical order.

    Outputs are sorted by task before summing, so floating-point sums do not depend on the
    order in which workers finished.
    """
    rejections: dict[int, int] = {}
    favourable: dict[int, int] = {}
    totals = {arm: ArmTotals() for arm in scenario.arms}
    for (purpose, _, _), (count, good), arm_totals in sorted(outputs, key=lambda o: o[0]):
        rejections[purpose] = rejections.get(purpose, 0) + count
        favourable[purpose] = favourable.get(purpose, 0) + good
        if purpose == POWER:
            for arm, tot in arm_totals.items():
                totals[arm] = totals[arm] + tot
    return point_result(scenario, n_total, simulations, rejections, favourable, totals)


def point_result(
    scenario: Scenario,
    n_total: int,
    simulations: int,
    rejections: dict[int, int],
    favourable: dict[int, int],
    totals: dict[str, ArmTotals],
) -> PointResult:
    """Assemble a :class:`PointResult` from counts of rejections and per-arm totals."""
    power = rejections[POWER] / simulations
    type1 = rejections[TYPE1] / simulations
    if ASSURANCE in rejections:
        assurance = rejections[ASSURANCE] / simulations
    else:
        assurance = power  # no parameter has a distribution: the prior is a point mass
    scheduled = [a for a, spec in scenario.arms.items() if spec.schedule is not None]
    return PointResult(
        n_total=n_total,
        n_per_arm=scenario.n_per_arm(n_total),
        power=power,
        power_se=proportion_se(power, simulations),
        type1_error=type1,
        type1_error_se=proportion_se(type1, simulations),
        assurance=assurance,
        assurance_se=proportion_se(assurance, simulations),
        endpoint_probability={
            a: t.successes / t.observed if t.observed else float("nan") for a, t in totals.items()
        },
        infusions_per_patient={a: totals[a].infusions / totals[a].randomised for a in scheduled},
        adverse_events_per_patient={
            a: totals[a].adverse_events / totals[a].randomised for a in scheduled
        },
        serious_adverse_events_per_patient={
            a: totals[a].serious_adverse_events / totals[a].randomised for a in scheduled
        },
        dropout_fraction={a: t.dropouts / t.randomised for a, t in totals.items()},
        stopped_early={"efficacy": 0.0, "futility": 0.0, "safety": 0.0},
        expected_n=float(n_total),
        expected_duration_weeks=expected_duration(scenario, n_total),
        simulations=simulations,
        extra={
            "power_favourable": favourable[POWER] / simulations,
            "power_favourable_se": proportion_se(favourable[POWER] / simulations, simulations),
        },
    )
