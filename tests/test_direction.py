"""Direction of success (issue 9, item 1): a rejection in the control's favour is never a success.

References are written here: an exact enumeration over (x_t, x_c) with scipy's Fisher test, and
the stage-wise probabilities of a two-look design enumerated over the first-stage counts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simtrial.analysis.group_sequential import boundaries
from simtrial.engines.exact import ExactEngine
from simtrial.engines.vectorized import VectorizedEngine
from simtrial.planning.power import run
from tests.helpers import scenario

# the example: a treatment worse than its control, 0.15 vs 0.40, Fisher two-sided
HARMFUL = {
    "arms": {
        "control": {"endpoint_probability": 0.40, "dropout": None},
        "msc": {
            "schedule": None,
            "response": None,
            "adverse_events": None,
            "dropout": None,
            "endpoint_probability": 0.15,
        },
    },
    "analysis": {"test": "fisher_exact", "sided": "two", "alpha": 0.05},
    "evaluate": {"n_total": [40, 112], "sample_size": {"goal": 0.8, "max_total": 200}},
}


def fisher_power(n: int, p_t: float, p_c: float, alpha: float, favourable: bool) -> float:
    """Σ 1{Fisher two-sided p ≤ α [and x_t > x_c]} b(x_t; n, p_t) b(x_c; n, p_c)."""
    total = 0.0
    for xt in range(n + 1):
        for xc in range(n + 1):
            if favourable and xt <= xc:
                continue
            p = stats.fisher_exact([[xt, n - xt], [xc, n - xc]]).pvalue
            if p <= alpha:
                total += stats.binom.pmf(xt, n, p_t) * stats.binom.pmf(xc, n, p_c)
    return total


def test_harmful_treatment_has_no_power_and_no_sample_size():
    s = scenario(HARMFUL)
    result = run(s, engine="exact")
    base = result.variants["base"]
    at_112 = next(p for p in base.points if p.n_total == 112)
    # reference: the favourable region has negligible mass, the two-sided one almost all
    assert at_112.power == pytest.approx(fisher_power(56, 0.15, 0.40, 0.05, True), abs=1e-12)
    assert at_112.power < 1e-4
    either = fisher_power(56, 0.15, 0.40, 0.05, False)
    assert at_112.extra["power_any_direction"] == pytest.approx(either, abs=1e-12)
    assert either > 0.8  # what "power" used to say
    assert at_112.assurance == at_112.power
    assert base.sample_size is not None and base.sample_size["n_total"] is None
    assert base.sample_size["achieved"] < 1e-3


def test_simulated_power_counts_only_favourable_rejections():
    s = scenario(HARMFUL).base
    sims = 4000
    r = VectorizedEngine().evaluate(s, "base", 112, sims, s.seed)
    either = fisher_power(56, 0.15, 0.40, 0.05, False)
    assert r.power <= 3 / sims  # reference < 1e-4: at most a few trials by chance
    se = math.sqrt(either * (1 - either) / sims)
    assert abs(r.extra["power_any_direction"] - either) < 4 * se


def harm_reference(n: int, p_t: float, p_c: float, c1: float) -> tuple[float, float]:
    """P(stop at the interim of a two-look design with pooled z, two-sided) split by direction:
    (efficacy: z₁ ≥ c1, harm: z₁ ≤ −c1), enumerated over the first-stage counts (n per arm)."""
    x = np.arange(n + 1)
    xt, xc = x[:, None], x[None, :]
    pooled = (xt + xc) / (2 * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (xt - xc) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    z = np.where(np.isfinite(z), z, 0.0)
    w = stats.binom.pmf(xt, n, p_t) * stats.binom.pmf(xc, n, p_c)
    return float(w[z >= c1].sum()), float(w[z <= -c1].sum())


def test_interim_stops_in_the_controls_favour_are_harm_not_efficacy():
    design = {
        "arms": HARMFUL["arms"],
        "analysis": {
            "test": "z_pooled",
            "sided": "two",
            "alpha": 0.05,
            "interims": {"information": [0.5, 1.0], "efficacy_spending": "pocock"},
        },
        "evaluate": {"n_total": [120]},
    }
    s = scenario(design).base
    sims = 4000
    r = VectorizedEngine().evaluate(s, "base", 120, sims, s.seed)
    c1 = boundaries([0.5, 1.0], 0.05, "two", "pocock").efficacy_z[0]
    eff, harm = harm_reference(30, 0.15, 0.40, c1)
    assert harm > 0.3 and eff < 1e-4
    se = math.sqrt(harm * (1 - harm) / sims)
    assert abs(r.stopped_early["harm"] - harm) < 4 * se
    assert r.stopped_early["efficacy"] <= 3 / sims
    look = r.extra["stopped_by_look"][0]
    assert look["harm"] == pytest.approx(r.stopped_early["harm"], abs=1e-12)
    # a harm stop is a rejection (it counts in the type I error and power_any_direction)...
    assert r.extra["power_any_direction"] >= r.stopped_early["harm"]
    # ... but never a success
    assert r.power <= 3 / sims


def test_one_sided_and_bayesian_rules_count_every_success():
    """One-sided tests and Bayesian rules reject only in the treatment's favour: power equals
    power_any_direction (a non-inferiority margin may succeed with p̂_t below p̂_c)."""
    s = scenario(
        {
            "analysis": {
                "test": "bayes_posterior",
                "bayes": {
                    "threshold": 0.9,
                    "margin": -0.2,
                    "treatment_prior": {"beta": [1, 1]},
                    "control_prior": {"beta": [1, 1]},
                },
            },
            "arms": {"control": {"endpoint_probability": 0.45}},
        }
    ).base
    r = ExactEngine().evaluate(s, "base", 40, 1, s.seed)
    assert r.power == pytest.approx(r.extra["power_any_direction"], abs=1e-15)
    assert r.power > 0.1
