"""A scenario's selection design (``analysis.selection``) applied to simulated arms.

The glue between :class:`~simtrial.scenario.schema.Scenario` and the NumPy-only
:mod:`simtrial.analysis.mams`: the treatment arms in the order of ``analysis.treatment`` (the
hierarchical order), the control last; stage k holds the patients between looks k − 1 and k
(the first ``round(t_k·n_arm)`` of each arm, as for the other designs of
:mod:`~simtrial.engines.design`); boundaries from ``interims.efficacy_spending`` at one-sided
``alpha`` (:mod:`~simtrial.analysis.group_sequential`, as rpact ``getDesignInverseNormal``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simtrial.analysis.group_sequential import boundaries
from simtrial.analysis.mams import (
    MamsDesign,
    MamsOutcome,
    Reestimation,
    Selection,
    closed_test,
    run_design,
)

if TYPE_CHECKING:
    from simtrial.engines.design import ArmData
    from simtrial.scenario.schema import Scenario


def mams_design(scenario: Scenario) -> MamsDesign:
    """The :class:`MamsDesign` of a scenario with ``analysis.selection``."""
    a = scenario.analysis
    s = a.selection
    assert s is not None and a.interims is not None
    info = list(a.interims.information)
    b = boundaries(info, a.alpha, "one", a.interims.efficacy_spending)
    control = scenario.arms[a.control].allocation
    rule = Selection(
        rule=s.rule,
        at_look=s.at_look,
        r=s.r or 1,
        epsilon=s.epsilon or 0.0,
        threshold=-np.inf if s.threshold is None else s.threshold,
        effect_measure=s.effect_measure,
    )
    return MamsDesign(
        information=tuple(info),
        critical=tuple(b.efficacy_z),
        allocation=tuple(scenario.arms[t].allocation / control for t in a.treatments),
        intersection_test=a.intersection_test or "dunnett",
        selection=rule,
        success=a.success or "at_least_one",
        reestimation=None
        if s.reestimation is None
        else Reestimation(
            s.reestimation.conditional_power,
            s.reestimation.min_per_stage,
            s.reestimation.max_per_stage,
        ),
    )


def _cumulative(n: int, info: list[float]) -> list[int]:
    return [n if t >= 1.0 else max(1, round(t * n)) for t in info]


def simulated_sizes(scenario: Scenario, planned: dict[str, int]) -> dict[str, int]:
    """Patients to simulate per arm: the planned ones, or with re-estimation enough for the
    largest re-estimated stages (``max_per_stage`` per later stage, plus rounding)."""
    a = scenario.analysis
    s = a.selection
    if s is None or s.reestimation is None:
        return planned
    assert a.interims is not None
    info = list(a.interims.information)
    later = len(info) - s.at_look
    extra = later * s.reestimation.max_per_stage + 1
    r = scenario.arms[a.treatments[0]].allocation / scenario.arms[a.control].allocation
    out = dict(planned)
    for t in a.treatments:
        out[t] = _cumulative(planned[t], info)[s.at_look - 1] + extra
    at = _cumulative(planned[a.control], info)[s.at_look - 1]
    out[a.control] = at + int(np.ceil(extra / r)) + later
    return out


def stage_data(
    scenario: Scenario, data: dict[str, ArmData], planned_n: dict[str, int] | None = None
) -> tuple[Any, Any, np.ndarray[Any, Any]]:
    """Stage-wise responders and patients analysed (trials, K, G + 1) and the planned patients
    per stage (K, G + 1), control last (``planned_n``: patients planned per arm, default the
    simulated ones)."""
    a = scenario.analysis
    assert a.interims is not None
    info = a.interims.information
    arms = [*a.treatments, a.control]
    trials = len(data[a.control].successes)
    x = np.zeros((trials, len(info), len(arms)), dtype=np.int64)
    m = np.zeros_like(x)
    planned = np.zeros((len(info), len(arms)), dtype=np.int64)
    for j, arm in enumerate(arms):
        d = data[arm]
        n = planned_n[arm] if planned_n else d.n
        prev_x: Any = 0
        prev_m: Any = 0
        prev = 0
        for k, t in enumerate(info):
            cum = n if t >= 1.0 else max(1, round(t * n))
            xk, mk = d.counts(cum, scenario.endpoint.missing)
            x[:, k, j], m[:, k, j] = xk - prev_x, mk - prev_m
            planned[k, j] = cum - prev
            prev_x, prev_m, prev = xk, mk, cum
    return x, m, planned


def decide(
    scenario: Scenario,
    data: dict[str, ArmData],
    rng: np.random.Generator,
    planned_n: dict[str, int] | None = None,
) -> MamsOutcome:
    """Apply the selection design to one block of simulated trials.

    ``planned_n`` are the planned patients per arm (the simulated arms are longer with
    re-estimation, :func:`simulated_sizes`): stage sizes come from them, and the patients of
    a re-estimated stage are the next ones of the arm in randomisation order."""
    design = mams_design(scenario)
    x, m, planned = stage_data(scenario, data, planned_n)
    jitter = rng.uniform(-1e-5, 1e-5, size=(x.shape[0], design.arms))
    if design.reestimation is None:
        return closed_test(design, x, m, planned, jitter)
    a = scenario.analysis
    trials = x.shape[0]
    rows = np.arange(trials)
    cum_x, cum_m = [], []
    for arm in [*a.treatments, a.control]:
        d = data[arm]
        assert d.success is not None and d.in_study is not None
        analysed = d.in_study  # per patient: enters the analysis
        if scenario.endpoint.missing == "non_responder":
            analysed = np.ones_like(d.success)
        zero = np.zeros((trials, 1), dtype=np.int64)
        cum_x.append(np.hstack([zero, np.cumsum(d.success, axis=1)]))
        cum_m.append(np.hstack([zero, np.cumsum(analysed, axis=1)]))
    position = np.zeros((trials, len(cum_x)), dtype=np.int64)

    def stage(k: int, sizes: Any) -> tuple[Any, Any]:
        nonlocal position
        end = position + sizes
        xs = np.column_stack(
            [c[rows, end[:, j]] - c[rows, position[:, j]] for j, c in enumerate(cum_x)]
        )
        ms = np.column_stack(
            [c[rows, end[:, j]] - c[rows, position[:, j]] for j, c in enumerate(cum_m)]
        )
        position = end
        return xs, ms

    return run_design(design, stage, planned, jitter)
