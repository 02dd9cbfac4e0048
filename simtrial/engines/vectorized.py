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

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from simtrial.analysis.design import (
    EFFICACY,
    FUTILITY,
    HARM,
    SAFETY,
    ArmData,
    Decisions,
    Design,
)
from simtrial.engines.base import (
    ASSURANCE,
    POWER,
    SAFE,
    STOP_REASONS,
    TYPE1,
    UNSAFE,
    ArmTotals,
    BlockEngine,
    BlockStats,
    drawn_values,
    expected_duration,
    has_uncertainty,
    null_values,
    point_values,
    proportion_se,
    stream,
)
from simtrial.model import ArmValues
from simtrial.results import PointResult
from simtrial.scenario import Endpoint, Scenario

TRIALS_PER_BLOCK = 1000
"""Trials per random-stream block. Part of the algorithm: changing it changes the numbers."""

Int = NDArray[np.int64]
Task = tuple[int, int, int]
TaskOutput = tuple[Task, BlockStats, dict[str, ArmTotals]]


@dataclass(frozen=True)
class ArmOutcome:
    """Per-trial counts of one arm in one block (arrays of shape ``(trials,)``), and, when
    asked for, per-patient arrays (shape ``(trials, n)``) for interim and safety looks."""

    successes: Int
    observed: Int
    infusions: Int
    adverse_events: Int
    serious_adverse_events: Int
    dropouts: Int
    n: int
    success: NDArray[np.bool_] | None = None
    in_study: NDArray[np.bool_] | None = None
    sae: Int | None = None
    exposure_weeks: NDArray[np.float64] | None = None
    loss_time: NDArray[np.float64] | None = None
    loss_event: NDArray[np.bool_] | None = None

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

    def data(self) -> ArmData:
        """The arm as the design sees it."""
        return ArmData(
            n=self.n,
            successes=self.successes,
            analysed=self.observed,
            success=self.success,
            observed=self.in_study,
            sae=self.sae,
            exposure_weeks=self.exposure_weeks,
            loss_time=self.loss_time,
            loss_event=self.loss_event,
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
            success.sum(axis=1),
            analysed.astype(np.int64),
            zeros,
            zeros,
            zeros,
            n - m,
            n,
            success=success,
            in_study=in_study,
            sae=np.zeros(shape, dtype=np.int64),
            exposure_weeks=np.minimum(dropout, end),
        )
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
    observed = in_study.sum(axis=1)
    if endpoint.missing == "non_responder" or timing:
        observed = np.full(trials, n, dtype=np.int64)

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
        successes.astype(np.int64),
        observed.astype(np.int64),
        infusions,
        aes.astype(np.int64),
        saes.astype(np.int64),
        n - in_study.sum(axis=1),
        n,
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
            from simtrial.analysis.selection import simulated_sizes

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
        decisions = design.decide(
            {arm: o.data() for arm, o in outcomes.items()},
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
        reasons = (EFFICACY, FUTILITY, SAFETY, HARM)
        stats = BlockStats(
            trials=trials,
            rejections=int(d.rejected.any(axis=1).sum()),
            favourable=int(d.favourable.any(axis=1).sum()),
            per_comparison=tuple(int(v) for v in d.favourable.sum(axis=0)),
            stopped=tuple(int((d.reason == r).sum()) for r in reasons),
            n_randomised=float(d.n_randomised.sum()),
            duration=None if d.duration is None else float(d.duration.sum()),
            by_look=tuple(
                (float(f), *(int(((d.reason == r) & at).sum()) for r in reasons))
                for f in _interim_looks(scenario, n_total)
                for at in [d.stop_fraction == f]
            ),
            per_comparison_any=tuple(int(v) for v in d.rejected.sum(axis=0)),
            selection=selection_sums(scenario, d),
        )
        if d.selection is not None:  # the headline power is the success criterion
            stats = replace(stats, favourable=int(d.selection.success.sum()))
        return task, stats, totals

    def combine(
        self, scenario: Scenario, n_total: int, simulations: int, outputs: list[Any]
    ) -> PointResult:
        """Aggregate :meth:`run_task` outputs (see :func:`combine`)."""
        return combine(scenario, n_total, simulations, outputs)


def selection_sums(scenario: Scenario, d: Decisions) -> tuple[float, ...]:
    """Per-block sums for selection designs: trials where each treatment arm is still recruiting
    after the selection look, then patients randomised per arm (treatments, control last)."""
    if d.selection is None:
        return ()
    assert scenario.analysis.selection is not None
    look = scenario.analysis.selection.at_look
    chosen = d.selection.active[:, look].sum(axis=0)
    return tuple(float(v) for v in (*chosen, *d.selection.n.sum(axis=0)))


def _interim_looks(scenario: Scenario, n_total: int) -> list[float]:
    """Information fractions of the looks before the final one (analysis and safety looks)."""
    n_t = scenario.n_per_arm(n_total)[scenario.analysis.treatments[0]]
    return [f for f, _ in Design(scenario).looks(n_t) if f < 1.0]


def purposes(scenario: Scenario) -> list[int]:
    """Which simulations a point needs: power and type I error always; assurance when a
    parameter has a distribution; a safe and an unsafe SAE rate with a safety rule."""
    out = [POWER, TYPE1]
    if has_uncertainty(scenario):
        out.append(ASSURANCE)
    if scenario.safety is not None:
        out += [SAFE, UNSAFE]
    if scenario.analysis.selection is not None:
        out += [PARTIAL_NULL + j for j in range(len(scenario.analysis.treatments))]
    return out


PARTIAL_NULL = 10
"""Purposes ``PARTIAL_NULL + j`` (selection designs): treatment arm j behaves like the control,
the other arms keep their values — the partial null under which only H_j is true."""


def purpose_values(
    scenario: Scenario, purpose: int, trials: int, rng: np.random.Generator
) -> dict[str, ArmValues]:
    """Parameter values for one purpose (means, null, joint draws, or a safe/unsafe SAE rate).

    The safe and unsafe rates are half and twice ``safety.max_serious_rate_per_year`` in every
    treatment arm (*choice*: a rate the rule should rarely stop and one it should usually stop).
    """
    if purpose == ASSURANCE:
        return drawn_values(scenario, trials, rng)
    values = point_values(scenario)
    if purpose == TYPE1:
        return null_values(values, scenario)
    if purpose >= PARTIAL_NULL:
        arm = scenario.analysis.treatments[purpose - PARTIAL_NULL]
        return {**values, arm: values[scenario.analysis.control]}
    if purpose in (SAFE, UNSAFE):
        assert scenario.safety is not None
        rate = scenario.safety.max_serious_rate_per_year * (0.5 if purpose == SAFE else 2.0)
        values = dict(values)
        for t in scenario.analysis.treatments:
            values[t] = replace(values[t], serious_rate_per_year=rate)
    return values


def combine(
    scenario: Scenario,
    n_total: int,
    simulations: int,
    outputs: list[Any],
) -> PointResult:
    """Aggregate the outputs of :meth:`VectorizedEngine.run_task`, in a canonical order.

    Outputs are sorted by task before summing, so sums do not depend on the order in which
    workers finished. The trial-level counts are a :class:`BlockStats` or, from engines that
    only decide fixed single-comparison designs, a pair (rejections, favourable rejections).
    """
    stats: dict[int, BlockStats] = {}
    totals = {
        purpose: {arm: ArmTotals() for arm in scenario.arms} for purpose in (POWER, ASSURANCE)
    }
    for output in sorted(outputs, key=lambda o: o[0]):
        (purpose, _, trials), counts, arm_totals = output[0], output[1], output[2]
        if not isinstance(counts, BlockStats):
            counts = BlockStats(
                trials, counts[0], counts[1], (counts[1],), per_comparison_any=(counts[0],)
            )
        stats[purpose] = stats[purpose] + counts if purpose in stats else counts
        if purpose in totals:
            for arm, tot in arm_totals.items():
                totals[purpose][arm] = totals[purpose][arm] + tot
    prior = totals[ASSURANCE] if ASSURANCE in stats else None
    return point_result(scenario, n_total, simulations, stats, totals[POWER], prior)


def _shares(totals: dict[str, ArmTotals]) -> dict[str, float]:
    """Share of analysed patients meeting the endpoint, per arm."""
    return {a: t.successes / t.observed if t.observed else float("nan") for a, t in totals.items()}


def point_result(
    scenario: Scenario,
    n_total: int,
    simulations: int,
    stats: dict[int, BlockStats],
    totals: dict[str, ArmTotals],
    prior_totals: dict[str, ArmTotals] | None = None,
) -> PointResult:
    """Assemble a :class:`PointResult` from per-purpose trial counts and per-arm totals (of the
    power trials, at the point values, and of the assurance trials, over the prior)."""

    def rate(purpose: int, count: str = "favourable") -> float:
        return getattr(stats[purpose], count) / simulations

    # success = a rejection in the treatment's favour; the type I error counts every rejection
    power = rate(POWER)
    type1 = rate(TYPE1, "rejections")
    assurance = rate(ASSURANCE) if ASSURANCE in stats else power
    run = stats[POWER]
    scheduled = [a for a, spec in scenario.arms.items() if spec.schedule is not None]
    any_direction = rate(POWER, "rejections")
    extra: dict[str, Any] = {
        "power_any_direction": any_direction,
        "power_any_direction_se": proportion_se(any_direction, simulations),
        "endpoint_probability_prior": _shares(prior_totals if prior_totals else totals),
    }
    treatments = scenario.analysis.treatments
    if len(treatments) > 1:
        extra["power_per_arm"] = {
            t: run.per_comparison[j] / simulations for j, t in enumerate(treatments)
        }
    if scenario.analysis.selection is not None:
        extra["selection"] = selection_summary(scenario, stats, simulations)
    if scenario.safety is not None:
        extra["safety_stop_probability"] = {
            "scenario": run.stopped[2] / simulations,
            "safe_rate": stats[SAFE].stopped[2] / simulations,
            "unsafe_rate": stats[UNSAFE].stopped[2] / simulations,
            "safe_rate_per_year": scenario.safety.max_serious_rate_per_year * 0.5,
            "unsafe_rate_per_year": scenario.safety.max_serious_rate_per_year * 2.0,
        }
    interim = scenario.analysis.interims is not None or scenario.safety is not None
    if interim:
        extra["stopped_by_look"] = [
            {"information": round(f, 6)}
            | {r: k / simulations for r, k in zip(STOP_REASONS, stops, strict=True)}
            for f, *stops in run.by_look
        ]
        expected_n = run.n_randomised / simulations
        duration = None if run.duration is None else run.duration / simulations
    else:
        expected_n = float(n_total)
        duration = expected_duration(scenario, n_total)
    return PointResult(
        n_total=n_total,
        n_per_arm=scenario.n_per_arm(n_total),
        power=power,
        power_se=proportion_se(power, simulations),
        type1_error=type1,
        type1_error_se=proportion_se(type1, simulations),
        assurance=assurance,
        assurance_se=proportion_se(assurance, simulations),
        endpoint_probability=_shares(totals),
        infusions_per_patient={a: totals[a].infusions / totals[a].randomised for a in scheduled},
        adverse_events_per_patient={
            a: totals[a].adverse_events / totals[a].randomised for a in scheduled
        },
        serious_adverse_events_per_patient={
            a: totals[a].serious_adverse_events / totals[a].randomised for a in scheduled
        },
        dropout_fraction={a: t.dropouts / t.randomised for a, t in totals.items()},
        stopped_early={r: k / simulations for r, k in zip(STOP_REASONS, run.stopped, strict=True)},
        expected_n=expected_n,
        expected_duration_weeks=duration,
        simulations=simulations,
        extra=extra,
    )


def selection_summary(
    scenario: Scenario, stats: dict[int, BlockStats], simulations: int
) -> dict[str, Any]:
    """The ``selection`` entry of a point in summary.json (selection designs; README keys).

    Probabilities are over all simulated trials at the point values: ``selected`` that the arm
    still recruits after the selection look (rpact ``selectedArms`` at the next stage),
    ``power_per_arm`` that its hypothesis is rejected while it recruits, ``reject_at_least_one``
    that some arm's is; ``fwer_global_null`` every arm like the control (the type I error) and
    ``fwer_partial_null`` per arm that arm like the control, the others at their values
    (P(reject that arm's hypothesis), the only true one)."""
    a = scenario.analysis
    assert a.selection is not None
    arms = a.treatments
    run = stats[POWER]
    g = len(arms)
    chosen, n = run.selection[:g], run.selection[g:]
    return {
        "rule": a.selection.rule,
        "at_look": a.selection.at_look,
        "effect_measure": a.selection.effect_measure,
        "intersection_test": a.intersection_test or "dunnett",
        "success": a.success or "at_least_one",
        "reestimation": None
        if a.selection.reestimation is None
        else a.selection.reestimation.model_dump(),
        "selected": {t: chosen[j] / simulations for j, t in enumerate(arms)},
        "power_per_arm": {t: run.per_comparison[j] / simulations for j, t in enumerate(arms)},
        "reject_at_least_one": run.rejections / simulations,
        "expected_n_per_arm": {arm: n[j] / simulations for j, arm in enumerate([*arms, a.control])},
        "fwer_global_null": stats[TYPE1].rejections / simulations,
        "fwer_partial_null": {
            t: stats[PARTIAL_NULL + j].per_comparison_any[j] / simulations
            for j, t in enumerate(arms)
        },
    }
