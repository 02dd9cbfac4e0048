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
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from simtrial.engines.base import ArmTotals, BlockEngine, BlockStats, stream
from simtrial.engines.decide import (
    PARTIAL_NULL,
    block_stats,
    combine,
    point_result,
    purpose_values,
    purposes,
)
from simtrial.engines.design import ArmData, Decisions, Design
from simtrial.engines.results import PointResult
from simtrial.model.response import ArmValues
from simtrial.scenario.schema import Endpoint, Scenario

TRIALS_PER_BLOCK = 1000
"""Trials per random-stream block. Part of the algorithm: changing it changes the numbers."""

Int = NDArray[np.int64]
Task = tuple[int, int, int]
TaskOutput = tuple[Task, BlockStats, dict[str, ArmTotals]]


@dataclass(kw_only=True)
class ArmOutcome(ArmData):
    """One arm of one block as simulated: the design's :class:`ArmData` (per-trial
    ``successes`` and ``analysed``; per-patient arrays when asked for, for interim and safety
    looks) plus the per-trial burden counts (arrays of shape ``(trials,)``) that :meth:`totals`
    sums into the shared :class:`~simtrial.engines.base.ArmTotals`."""

    infusions: Int
    adverse_events: Int
    serious_adverse_events: Int
    dropouts: Int

    def totals(self) -> ArmTotals:
        t = len(self.successes)
        return ArmTotals(
            successes=float(self.successes.sum()),
            analysed=float(self.analysed.sum()),
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
    per_patient: bool = False,
) -> ArmOutcome:
    """Simulate ``n`` patients in each of ``trials`` trials of one arm.

    With ``per_patient`` the outcome also carries per-patient arrays (endpoint met, still in
    the study, SAE counts, weeks in the study) for interim and safety looks.
    """
    end = endpoint.end_week
    delta = values.dropout_hazard
    zeros = np.zeros(trials, dtype=np.int64)
    if values.schedule is None and per_patient:
        shape = (trials, n)
        dropout = rng.exponential(1.0 / delta, size=shape) if delta > 0 else np.full(shape, np.inf)
        in_study = dropout > end
        p_col = _col(values.endpoint_probability, trials)
        success = in_study & (rng.random(shape) < p_col)
        m = in_study.sum(axis=1)
        analysed = np.full(trials, n) if endpoint.missing == "non_responder" else m
        return ArmOutcome(
            n=n,
            successes=success.sum(axis=1),
            analysed=analysed.astype(np.int64),
            infusions=zeros,
            adverse_events=zeros,
            serious_adverse_events=zeros,
            dropouts=n - m,
            success=success,
            in_study=in_study,
            sae=np.zeros(shape, dtype=np.int64),
            exposure_weeks=np.minimum(dropout, end),
        )
    if values.schedule is None:
        # An arm given by its endpoint probability: per-trial binomials are exact.
        p_in_study = float(np.exp(-delta * end))
        m = rng.binomial(n, p_in_study, size=trials) if delta > 0 else np.full(trials, n)
        p = np.broadcast_to(np.asarray(values.endpoint_probability, dtype=float), (trials,))
        x = rng.binomial(m, p)
        analysed = np.full(trials, n) if endpoint.missing == "non_responder" else m
        return ArmOutcome(
            n=n,
            successes=x,
            analysed=analysed.astype(np.int64),
            infusions=zeros,
            adverse_events=zeros,
            serious_adverse_events=zeros,
            dropouts=n - m,
        )

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
    timing = endpoint.kind == "time_to_loss"
    first_start = np.full(shape, np.inf) if timing else None  # start of the first response
    first_loss = np.full(shape, np.inf) if timing else None  # ... and its end

    def induce(t: float, who: NDArray[np.bool_] | None) -> None:
        eligible = loss <= t
        if who is not None:
            eligible &= who
        if potential is not None:
            eligible &= potential
        start = eligible & (rng.random(shape) < q)
        duration = rng.standard_exponential(shape) * inv_lam
        np.copyto(loss, t + duration, where=start)
        if first_start is not None and first_loss is not None:
            first = start & (first_start == np.inf)
            np.copyto(first_start, t, where=first)
            np.copyto(first_loss, t + duration, where=first)

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
            if when + values.onset_weeks == t:
                induce(t, given)  # no delay and no onset: the extra infusion acts at the visit
            elif when + values.onset_weeks <= end:
                pending[given] = when + values.onset_weeks
        elif kind == "snapshot":
            snapshot = np.where(loss > t, loss, -np.inf)

    in_study = dropout > end
    loss_time = loss_event = None
    if endpoint.kind == "time_to_loss":
        # time from the first response to its loss, censored at dropout or end of follow-up;
        # patients whose first response is not seen (never, or after dropout) get NaN
        assert first_start is not None and first_loss is not None
        censor = np.minimum(dropout, end)
        seen = first_start < censor
        loss_event = seen & (first_loss <= censor)
        loss_time = np.where(seen, np.minimum(first_loss, censor) - first_start, np.nan)
        success = seen
    elif endpoint.kind == "responder":
        success = in_study & (loss > end)
    elif endpoint.kind == "durable_responder":
        assert snapshot is not None and endpoint.to_week is not None
        success = in_study & (snapshot > endpoint.to_week)
    else:  # pragma: no cover - refused before simulation
        raise AssertionError(endpoint.kind)
    successes = success.sum(axis=1)
    analysed = in_study.sum(axis=1)
    if endpoint.missing == "non_responder" or timing:
        analysed = np.full(trials, n, dtype=np.int64)

    per_infusion = np.broadcast_to(np.asarray(values.per_infusion, dtype=float), (trials,))
    aes = rng.binomial(infusions, per_infusion)
    rate = _col(values.serious_rate_per_year, trials)
    exposure = np.minimum(dropout, end)
    if per_patient:
        sae = rng.poisson(np.asarray(rate) / 52.0 * exposure)
        saes = sae.sum(axis=1)
    else:
        sae = None
        rate_trial = np.broadcast_to(np.asarray(rate, dtype=float).reshape(-1), (trials,))
        saes = rng.poisson(rate_trial / 52.0 * exposure.sum(axis=1))
    return ArmOutcome(
        n=n,
        successes=successes.astype(np.int64),
        analysed=analysed.astype(np.int64),
        infusions=infusions,
        adverse_events=aes.astype(np.int64),
        serious_adverse_events=saes.astype(np.int64),
        dropouts=n - in_study.sum(axis=1),
        success=success if per_patient else None,
        in_study=in_study if per_patient else None,
        sae=sae,
        exposure_weeks=exposure if per_patient else None,
        loss_time=loss_time,
        loss_event=loss_event,
    )


class VectorizedEngine(BlockEngine):
    """Monte Carlo engine on NumPy arrays; the default engine (DESIGN §2)."""

    name: ClassVar[str] = "vectorized"

    def __init__(self, trials_per_block: int = TRIALS_PER_BLOCK) -> None:
        super().__init__(trials_per_block)

    def run_block(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        purpose: int,
        block: int,
        trials: int,
        seed: int,
    ) -> tuple[Decisions, dict[str, ArmTotals]]:
        """Simulate one block of trials and apply the design; returns decisions and totals."""
        rng = stream(seed, variant, self.point_key(n_total), purpose, block)
        design = Design(scenario)
        values = purpose_values(scenario, purpose, trials, rng)
        planned = scenario.n_per_arm(n_total)
        n_per_arm = planned
        if scenario.analysis.selection is not None:
            from simtrial.engines.selection import simulated_sizes

            n_per_arm = simulated_sizes(scenario, planned)
        per_patient = design.needs_patients
        outcomes = {
            arm: simulate_arm(
                rng, trials, n_per_arm[arm], values[arm], scenario.endpoint, per_patient
            )
            for arm in scenario.arms
        }
        arrivals = None
        if per_patient and scenario.enrolment is not None:
            gaps = rng.exponential(1.0 / scenario.enrolment.rate_per_week, size=(trials, n_total))
            gaps[:, 0] = 0.0
            arrivals = np.cumsum(gaps, axis=1)
        data: dict[str, ArmData] = dict(outcomes)  # an ArmOutcome is the design's ArmData
        decisions = design.decide(
            data,
            arrivals,
            scenario.endpoint.end_week,
            rng,
            planned,
        )
        return decisions, {arm: o.totals() for arm, o in outcomes.items()}

    def tasks(self, scenario: Scenario, simulations: int) -> list[Task]:
        """Independent units of work ``(purpose, block, trials)`` for one point.

        Each unit has its own random stream, so the units may run in any order, in any
        grouping (chunks), on any worker: :func:`combine` of their outputs is the same.
        """
        return [(p, b, t) for p in purposes(scenario) for b, t in self.blocks(simulations)]

    def run_task(
        self,
        scenario: Scenario,
        variant: str,
        n_total: int,
        task: Task,
        seed: int,
    ) -> TaskOutput:
        """Run one unit of work; returns it with its trial-level counts and per-arm totals."""
        purpose, block, trials = task
        d, totals = self.run_block(scenario, variant, n_total, purpose, block, trials, seed)
        return task, block_stats(scenario, n_total, trials, d), totals

    def combine(
        self, scenario: Scenario, n_total: int, simulations: int, outputs: list[Any]
    ) -> PointResult:
        """Aggregate :meth:`run_task` outputs (:func:`simtrial.engines.decide.combine`)."""
        return combine(scenario, n_total, simulations, outputs)


__all__ = [
    "PARTIAL_NULL",
    "ArmOutcome",
    "VectorizedEngine",
    "combine",
    "point_result",
    "purpose_values",
    "purposes",
    "simulate_arm",
]
