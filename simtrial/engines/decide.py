"""One decision and aggregation path for every Monte Carlo engine.

The vectorized and the discrete-event engines simulate patients differently (NumPy arrays of
trials × patients; SimPy processes in calendar time) but decide and summarise them with the same
code: this module and :class:`~simtrial.analysis.design.Design`. Group-sequential looks,
futility, Bayesian rules, safety looks, harm stops, the direction of a rejection, the counts of
summary.json: all are here, once.

The contract: what an engine hands over
---------------------------------------
For one *purpose* (:func:`purposes`: power, type I error, assurance, a safe and an unsafe SAE
rate, selection's partial nulls) and one block of trials with the parameter values of
:func:`purpose_values`, an engine produces

- per arm, an :class:`~simtrial.analysis.design.ArmData`:

  - ``n``, the patients randomised to the arm (the same in every trial of the block);
  - per trial (shape ``(trials,)``): ``successes`` (patients meeting the endpoint) and
    ``analysed`` (the denominator: ``n`` under non-responder imputation, else the patients
    still in the study at the endpoint week);
  - per patient (shape ``(trials, n)``, in the arm's randomisation order), needed only when the
    design has looks (:attr:`Design.needs_patients`): ``success`` (endpoint met), ``observed``
    (still in the study at the endpoint week: not dropped out), ``sae`` (serious adverse events
    while in the study) and ``exposure_weeks`` (weeks in the study, up to the endpoint week);
    for ``time_to_loss``, ``loss_time`` and ``loss_event``;
  - optionally ``randomised`` (shape ``(trials, n)``): each patient's calendar week of
    randomisation, from an engine that knows which arm each arrival went to (the DES);

- ``arrivals`` (shape ``(trials, N)``, sorted): the calendar week at which each of the ``N``
  patients of a trial was randomised, or ``None`` without an ``enrolment`` block;
- per arm, :class:`~simtrial.engines.base.ArmTotals` over the block (infusions, AEs, SAEs,
  dropouts: the per-patient figures of summary.json).

When an endpoint is known, and who is in a look
-----------------------------------------------
Every patient's endpoint is known at randomisation + the endpoint week (``end_week``): the
endpoint visit is scheduled, and it does not move (a dropout's scheduled visit counts too, as a
non-responder under NRI or as missing under ``exclude``). A look at information fraction ``f``
happens at calendar week ``T_f = arrivals[round(f·N)] + end_week`` (the ``round(f·N)``-th patient
reaches the endpoint week) and analyses the patients whose endpoint is known by then:

- with ``randomised`` times, those randomised by ``arrivals[round(f·N)]`` in each arm — the
  actual numbers, which vary from trial to trial under complete randomisation;
- without them (the vectorized engine simulates each arm apart from the arrival order), the
  first ``round(f·n_arm)`` patients of each arm (*choice*: randomisation in balanced blocks).

The DES randomises in permuted blocks of the allocation ratio, so the two rules give the same
looks up to the last, incomplete block; under complete randomisation they would not, and a
rule as discrete as a predictive-probability futility threshold notices: at 30 of 60 patients
its stopping probability is 0.106 with 15:15 and 0.134-0.151 with 13:17 to 18:12 (tested
agreement: ``tests/engines/test_des_sequential.py``).

Either way at least one patient per arm. ``expected_n`` counts everybody randomised by the
stopping look's ``T_f`` and ``expected_duration_weeks`` runs from the first randomisation to
it; a fixed design ends at ``T_1``, the last patient's endpoint week.

What is decided, and how it is counted
--------------------------------------
:meth:`Design.decide` turns the arms into :class:`~simtrial.analysis.design.Decisions` (per
trial: rejected, rejected in the treatment's favour, stop reason and look);
:func:`block_stats` counts them into a :class:`~simtrial.engines.base.BlockStats`;
:func:`combine` sums the blocks of a point in a canonical order and :func:`point_result` makes
the :class:`~simtrial.results.PointResult`: ``power`` and assurance count rejections in the
treatment's favour, ``power_any_direction`` and the type I error every rejection.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from simtrial.analysis.design import EFFICACY, FUTILITY, HARM, SAFETY, Decisions, Design
from simtrial.engines.base import (
    ASSURANCE,
    POWER,
    SAFE,
    STOP_REASONS,
    TYPE1,
    UNSAFE,
    ArmTotals,
    BlockStats,
    drawn_values,
    expected_duration,
    has_uncertainty,
    null_values,
    point_values,
    proportion_se,
)
from simtrial.model import ArmValues
from simtrial.results import PointResult
from simtrial.scenario import Scenario


def block_stats(scenario: Scenario, n_total: int, trials: int, d: Decisions) -> BlockStats:
    """Trial-level counts of one block's decisions (summed over its trials)."""
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
            for f in interim_looks(scenario, n_total)
            for at in [d.stop_fraction == f]
        ),
        per_comparison_any=tuple(int(v) for v in d.rejected.sum(axis=0)),
        selection=selection_sums(scenario, d),
    )
    if d.selection is not None:  # the headline power is the success criterion
        stats = replace(stats, favourable=int(d.selection.success.sum()))
    return stats


def selection_sums(scenario: Scenario, d: Decisions) -> tuple[float, ...]:
    """Per-block sums for selection designs: trials where each treatment arm is still recruiting
    after the selection look, then patients randomised per arm (treatments, control last)."""
    if d.selection is None:
        return ()
    assert scenario.analysis.selection is not None
    look = scenario.analysis.selection.at_look
    chosen = d.selection.active[:, look].sum(axis=0)
    return tuple(float(v) for v in (*chosen, *d.selection.n.sum(axis=0)))


def interim_looks(scenario: Scenario, n_total: int) -> list[float]:
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


def target_purposes(scenario: Scenario, target: str) -> list[int]:
    """The one purpose a sample-size search simulates per candidate ``n_total``: power at the
    point values, or assurance over the parameters' distribution (``target: assurance``; power's
    simulations when no parameter has a distribution, as :func:`point_result` reports it)."""
    if target == "assurance" and has_uncertainty(scenario):
        return [ASSURANCE]
    return [POWER]


def target_estimate(
    scenario: Scenario, simulations: int, outputs: list[Any], target: str
) -> tuple[float, float]:
    """``(estimate, Monte Carlo SE)`` of a search's target from the outputs of the tasks of
    :func:`target_purposes`: the share of trials with a success (a rejection in the
    treatment's favour, or a selection design's success criterion), counted as
    :func:`point_result` counts ``power`` and ``assurance``, so the two agree to the bit."""
    (purpose,) = target_purposes(scenario, target)
    value = sum(o[1].favourable for o in outputs if o[0][0] == purpose) / simulations
    return value, proportion_se(value, simulations)


def purpose_values(
    scenario: Scenario, purpose: int, trials: int, rng: np.random.Generator | None
) -> dict[str, ArmValues]:
    """Parameter values for one purpose (means, null, joint draws, or a safe/unsafe SAE rate).

    The safe and unsafe rates are half and twice ``safety.max_serious_rate_per_year`` in every
    treatment arm (*choice*: a rate the rule should rarely stop and one it should usually stop).
    """
    if purpose == ASSURANCE:
        assert rng is not None
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
    """Aggregate the outputs ``(task, BlockStats, {arm: ArmTotals}, ...)`` of an engine's
    ``run_task``, in a canonical order.

    Outputs are sorted by task ``(purpose, block, trials)`` before summing, so sums do not
    depend on the order in which workers finished; items after the third (an engine's own
    totals) are ignored here.
    """
    stats: dict[int, BlockStats] = {}
    totals = {
        purpose: {arm: ArmTotals() for arm in scenario.arms} for purpose in (POWER, ASSURANCE)
    }
    for output in sorted(outputs, key=lambda o: o[0]):
        (purpose, _, _), counts, arm_totals = output[0], output[1], output[2]
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
