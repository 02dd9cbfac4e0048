"""A scenario's selection design (``analysis.selection``) applied to simulated arms.

The glue between :class:`~simtrial.scenario.Scenario` and the NumPy-only
:mod:`simtrial.analysis.mams`: the treatment arms in the order of ``analysis.treatment`` (the
hierarchical order), the control last; stage k holds the patients between looks k − 1 and k
(the first ``round(t_k·n_arm)`` of each arm, as for the other designs of
:mod:`~simtrial.analysis.design`); boundaries from ``interims.efficacy_spending`` at one-sided
``alpha`` (:mod:`~simtrial.analysis.group_sequential`, as rpact ``getDesignInverseNormal``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from simtrial.analysis.group_sequential import boundaries
from simtrial.analysis.mams import MamsDesign, MamsOutcome, Selection, closed_test

if TYPE_CHECKING:
    from simtrial.analysis.design import ArmData
    from simtrial.scenario import Scenario


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
    )


def stage_data(
    scenario: Scenario, data: dict[str, ArmData]
) -> tuple[Any, Any, np.ndarray[Any, Any]]:
    """Stage-wise responders and patients analysed (trials, K, G + 1) and the planned patients
    per stage (K, G + 1), control last."""
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
        prev_x: Any = 0
        prev_m: Any = 0
        prev = 0
        for k, t in enumerate(info):
            cum = d.n if t >= 1.0 else max(1, round(t * d.n))
            xk, mk = d.counts(cum, scenario.endpoint.missing)
            x[:, k, j], m[:, k, j] = xk - prev_x, mk - prev_m
            planned[k, j] = cum - prev
            prev_x, prev_m, prev = xk, mk, cum
    return x, m, planned


def decide(scenario: Scenario, data: dict[str, ArmData], rng: np.random.Generator) -> MamsOutcome:
    """Apply the selection design to one block of simulated trials."""
    design = mams_design(scenario)
    x, m, planned = stage_data(scenario, data)
    jitter = rng.uniform(-1e-5, 1e-5, size=(x.shape[0], design.arms))
    return closed_test(design, x, m, planned, jitter)
