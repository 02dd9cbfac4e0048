"""Designs in the vectorized engine against independent references.

- group-sequential looks: a plain simulation of the stage-wise binomial counts with the
  boundaries and the conditional-power rule written out here;
- expected sample size under Poisson accrual: a closed form;
- safety stopping: an exact computation over Poisson SAE counts;
- several arms: an exact enumeration conditioning on the shared control.
All Monte Carlo comparisons use 4 combined standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simtrial.analysis.frequentist import p_value_table
from simtrial.analysis.group_sequential import boundaries
from simtrial.engines.base import point_values
from simtrial.engines.vectorized import VectorizedEngine
from simtrial.model.response import endpoint_law
from tests.helpers import scenario

GS = {
    "analysis": {
        "test": "z_pooled",
        "sided": "one",
        "alpha": 0.025,
        "interims": {
            "information": [0.5, 1.0],
            "efficacy_spending": "obrien_fleming",
            "futility": {"conditional_power_below": 0.2},
        },
    },
    "evaluate": {"n_total": [120]},
}


def close(a: float, b: float, n_a: int, n_b: int) -> bool:
    p = (a * n_a + b * n_b) / (n_a + n_b)
    se = math.sqrt(max(p * (1 - p), 1e-12) * (1 / n_a + 1 / n_b))
    return abs(a - b) <= 4 * se


def reference_group_sequential(p_t, p_c, n, m1, rng, trials):
    """Independent: stage-wise binomial counts, z at each look against the rpact-checked
    boundaries, conditional power 1 − Φ((c₂ − z₁/√t)/√(1 − t)) for futility."""
    b = boundaries([0.5, 1.0], 0.025, "one", "obrien_fleming")
    c1, c2 = b.efficacy_z
    xt1 = rng.binomial(m1, p_t, trials)
    xc1 = rng.binomial(m1, p_c, trials)
    xt = xt1 + rng.binomial(n - m1, p_t, trials)
    xc = xc1 + rng.binomial(n - m1, p_c, trials)

    def z(xt, xc, m):
        pooled = (xt + xc) / (2 * m)
        se = np.sqrt(pooled * (1 - pooled) * 2 / m)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (xt - xc) / m / se
        return np.where(np.isfinite(out), out, 0.0)

    z1 = z(xt1, xc1, m1)
    eff1 = z1 >= c1
    cp = stats.norm.sf((c2 - z1 / math.sqrt(0.5)) / math.sqrt(0.5))
    fut1 = ~eff1 & (cp < 0.2)
    eff2 = ~eff1 & ~fut1 & (z(xt, xc, n) >= c2)
    return eff1.mean(), fut1.mean(), (eff1 | eff2).mean()


def test_group_sequential_matches_independent_simulation():
    s = scenario(GS).base
    sims = 6000
    r = VectorizedEngine().evaluate(s, "base", 120, sims, s.seed)
    values = point_values(s)
    p_t = float(endpoint_law(values["msc"], s.endpoint).nri())
    p_c = float(endpoint_law(values["control"], s.endpoint).nri())
    ref_n = 200_000
    eff1, fut1, power = reference_group_sequential(
        p_t, p_c, 60, 30, np.random.default_rng(11), ref_n
    )
    assert close(r.stopped_early["efficacy"], eff1, sims, ref_n)
    assert close(r.stopped_early["futility"], fut1, sims, ref_n)
    assert close(r.power, power, sims, ref_n)
    assert r.stopped_early["efficacy"] > 0.05 and r.stopped_early["futility"] > 0.02


def test_wrong_boundary_is_detected():
    """The reference tells a design with a Pocock boundary from the O'Brien–Fleming one."""
    s = scenario(
        GS
        | {
            "analysis": GS["analysis"]
            | {"interims": GS["analysis"]["interims"] | {"efficacy_spending": "pocock"}}
        }
    ).base
    r = VectorizedEngine().evaluate(s, "base", 120, 6000, s.seed)
    values = point_values(s)
    p_t = float(endpoint_law(values["msc"], s.endpoint).nri())
    p_c = float(endpoint_law(values["control"], s.endpoint).nri())
    eff1, _, _ = reference_group_sequential(p_t, p_c, 60, 30, np.random.default_rng(11), 200_000)
    assert not close(r.stopped_early["efficacy"], eff1, 6000, 200_000)


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_group_sequential_fisher_type1_error(spending):
    """Fisher's test at the nominal levels keeps the size below alpha (+ 3 SE)."""
    s = scenario(
        {
            "analysis": {
                "sided": "two",
                "interims": {"information": [0.4, 0.7, 1.0], "efficacy_spending": spending},
            },
            "evaluate": {"n_total": [100]},
        }
    ).base
    sims = 8000
    r = VectorizedEngine().evaluate(s, "base", 100, sims, s.seed)
    assert r.type1_error <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / sims)


def test_expected_n_under_poisson_accrual():
    """E[N] = P(stop at look 1)·E[min(N, n₁ + Poisson(r·W))] + (1 − P(stop at 1))·N.

    Accrual is independent of the outcomes; when patient n₁ reaches the endpoint week W, the
    number randomised is n₁ plus the Poisson(r·W) arrivals in those W weeks, capped at N.
    """
    s = scenario(GS).base
    sims = 6000
    r = VectorizedEngine().evaluate(s, "base", 120, sims, s.seed)
    stop1 = r.stopped_early["efficacy"] + r.stopped_early["futility"]
    rate, week = 2.0, 12.0
    k = np.arange(0, 200)
    at_look = (np.minimum(120, 60 + k) * stats.poisson.pmf(k, rate * week)).sum()
    expected = stop1 * at_look + (1 - stop1) * 120
    # SE: N at stop lies in [60, 120]
    assert abs(r.expected_n - expected) < 4 * 30 / math.sqrt(sims) + 0.5
    # duration: look time minus the first randomisation, E = (n₁ − 1)/r + W or (N − 1)/r + W
    dur = stop1 * (59 / rate + week) + (1 - stop1) * (119 / rate + week)
    assert r.expected_duration_weeks == pytest.approx(dur, abs=4 * 8 / math.sqrt(sims) + 0.3)


def test_safety_stopping_matches_exact_poisson_computation():
    """No dropout: each patient's SAE count over W weeks is Poisson(rate·W/52), so the
    cumulative count at a safety look after m patients is Poisson(m·rate·W/52) and the rule
    'P(rate > max | data) > 0.8' is a threshold on that count. The probability of a safety
    stop is computed exactly by propagating the count distribution look by look."""
    s = scenario(
        {
            "arms": {
                "msc": {
                    "dropout": None,
                    "adverse_events": {"serious_rate_per_year": 0.8},
                }
            },
            "safety": {
                "max_serious_rate_per_year": 1.0,
                "posterior_probability": 0.8,
                "every_patients": 10,
            },
            "evaluate": {"n_total": [80]},
        }
    ).base
    sims = 6000
    r = VectorizedEngine().evaluate(s, "base", 80, sims, s.seed)
    week, a0, b0 = 12.0, 0.5, 1.0
    probabilities = {}
    for label, rate in [
        ("scenario", 0.8),
        ("safe_rate", 0.5),
        ("unsafe_rate", 2.0),
    ]:
        lam_per_patient = rate * week / 52
        alive = np.zeros(400)
        alive[0] = 1.0  # distribution of the cumulative count among trials still running
        stopped = 0.0
        for m in (10, 20, 30):  # safety-only looks before the final analysis (m < 40)
            inc = stats.poisson.pmf(np.arange(400), 10 * lam_per_patient)
            alive = np.convolve(alive, inc)[:400]
            years = m * week / 52
            counts = np.arange(400)
            unsafe = stats.gamma.sf(1.0, a0 + counts, scale=1 / (b0 + years)) > 0.8
            stopped += alive[unsafe].sum()
            alive[unsafe] = 0.0
        probabilities[label] = stopped
    got = r.extra["safety_stop_probability"]
    for label, exact in probabilities.items():
        se = math.sqrt(max(exact * (1 - exact), 1e-6) / sims)
        assert abs(got[label] - exact) < 4 * se + 1e-9, (label, got[label], exact)
    assert got["safe_rate"] < got["scenario"] < got["unsafe_rate"]
    assert r.stopped_early["safety"] == got["scenario"]


@pytest.mark.parametrize("multiplicity", ["bonferroni", "holm"])
def test_several_arms_match_exact_enumeration(multiplicity):
    """Two treatment arms vs a shared control, conditioning on the control's count."""
    s = scenario(
        {
            "arms": {
                "control": {"dropout": None},
                "msc": {"dropout": None},
                "msc_high": {
                    "allocation": 1,
                    "endpoint_probability": 0.55,
                },
            },
            "analysis": {
                "treatment": ["msc", "msc_high"],
                "multiplicity": multiplicity,
                "test": "chi2",
            },
            "evaluate": {"n_total": [90]},
        }
    ).base
    sims = 6000
    r = VectorizedEngine().evaluate(s, "base", 90, sims, s.seed)
    values = point_values(s)
    n = 30
    p = {arm: float(endpoint_law(values[arm], s.endpoint).nri()) for arm in values}
    pmf = {arm: stats.binom.pmf(np.arange(n + 1), n, p[arm]) for arm in p}
    table = p_value_table("chi2", n, n, "two")

    def reject_prob(arm, level):  # P(p ≤ level | x_c) for every x_c
        return pmf[arm] @ (table <= level)

    a1, a2 = reject_prob("msc", 0.025), reject_prob("msc_high", 0.025)
    any_arm = float(pmf["control"] @ (1 - (1 - a1) * (1 - a2)))
    if multiplicity == "bonferroni":
        arm1 = float(pmf["control"] @ a1)
    else:  # Holm, k = 2: p₁ ≤ α/2, or α/2 < p₁ ≤ α and p₂ ≤ α/2
        b1 = reject_prob("msc", 0.05)
        arm1 = float(pmf["control"] @ (a1 + (b1 - a1) * a2))
    assert r.power == pytest.approx(any_arm, abs=4 * math.sqrt(any_arm * (1 - any_arm) / sims))
    got = r.extra["power_per_arm"]["msc"]
    assert got == pytest.approx(arm1, abs=4 * math.sqrt(arm1 * (1 - arm1) / sims))


def test_stops_per_look_add_up():
    """Early stops per look sum to the per-reason totals; a safety rule adds its own looks."""
    s = scenario(
        GS
        | {
            "analysis": GS["analysis"]
            | {"interims": GS["analysis"]["interims"] | {"information": [0.3, 0.6, 1.0]}},
            "safety": {
                "max_serious_rate_per_year": 0.4,
                "posterior_probability": 0.8,
                "every_patients": 25,
            },
        }
    ).base
    r = VectorizedEngine().evaluate(s, "base", 120, 3000, s.seed)
    looks = r.extra["stopped_by_look"]
    safety_only = {round(25 / 60, 6), round(50 / 60, 6)}  # every 25 of the 60 MSC patients
    assert {x["information"] for x in looks} == {0.3, 0.6} | safety_only
    for reason in ("efficacy", "futility", "safety"):
        assert sum(x[reason] for x in looks) == pytest.approx(r.stopped_early[reason], abs=1e-12)
    for x in looks:  # safety-only looks stop for safety only
        if x["information"] in safety_only:
            assert x["efficacy"] == 0 and x["futility"] == 0
