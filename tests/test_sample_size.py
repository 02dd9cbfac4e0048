"""Sample-size search against rpact and the Fleiss continuity-corrected formula.

References
----------
rpact 3.3.4 (Debian r-cran-rpact)::

    library(rpact)
    getSampleSizeRates(pi1 = 0.6, pi2 = 0.3, alpha = 0.05, sided = 2, beta = 0.2)$nFixed
    [1] 83.94051

Fleiss, Levin & Paik (2003), *Statistical Methods for Rates and Proportions*, eq. 4.14: the
continuity-corrected size per arm n' = n/4 · (1 + sqrt(1 + 4/(n·|p1 − p2|)))², from the
uncorrected n = 41.97 per arm above: n' = 48.41 per arm (96.82 in all).

Both are normal approximations; the exact engine finds the smallest n whose *exact* power
reaches 80%, so agreement is expected within a few patients (binomial power is saw-toothed in n).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simtrial.engines.exact import ExactEngine
from simtrial.engines.vectorized import VectorizedEngine
from simtrial.planning.power import _isotonic, search_sample_size
from tests.helpers import scenario


def two_rates(test: str, max_total: int = 400):
    return scenario(
        {
            "arms": {
                "control": {"endpoint_probability": 0.3, "dropout": None},
                "msc": {
                    "endpoint_probability": 0.6,
                    "schedule": None,
                    "response": None,
                    "adverse_events": None,
                    "dropout": None,
                },
            },
            "analysis": {"test": test},
            "evaluate": {
                "n_total": [40],
                "sample_size": {"target": "power", "goal": 0.8, "max_total": max_total},
            },
        }
    ).base


def fleiss(n: float, delta: float) -> float:
    return n / 4 * (1 + math.sqrt(1 + 4 / (n * delta))) ** 2


@pytest.mark.parametrize(
    "test,reference", [("z_pooled", 83.94051), ("chi2_yates", 2 * fleiss(83.94051 / 2, 0.3))]
)
def test_exact_search_matches_published_approximations(test, reference):
    result = search_sample_size(ExactEngine(), two_rates(test), "base", 1, 1)
    assert abs(result["n_total"] - reference) <= 4  # within 2 patients per arm
    assert result["achieved"] >= 0.8
    curve = {c["n_total"]: c["achieved"] for c in result["curve"]}
    below = [n for n in curve if n < result["n_total"]]
    assert below and curve[max(below)] < 0.8


def test_fleiss_reference_value():
    assert 2 * fleiss(83.94051 / 2, 0.3) == pytest.approx(96.82, abs=0.01)


def test_vectorized_search_agrees_with_exact():
    s = two_rates("z_pooled")
    result = search_sample_size(VectorizedEngine(), s, "base", 4000, 5)
    assert abs(result["n_total"] - 82) <= 8
    assert result["se"] > 0
    # achieved is the answer's own point (fresh streams), not the search's estimate
    point = VectorizedEngine().evaluate(s, "base", result["n_total"], 4000, 5)
    assert result["achieved"] == point.power and result["se"] == point.power_se


def test_goal_not_reached():
    result = search_sample_size(ExactEngine(), two_rates("z_pooled", max_total=20), "base", 1, 1)
    assert result["n_total"] is None and "not reached" in result["note"]


def test_isotonic():
    assert _isotonic([0.1, 0.3, 0.2, 0.5]) == pytest.approx([0.1, 0.25, 0.25, 0.5])


def test_search_uses_common_random_numbers(monkeypatch):
    """With CRN every point draws the same per-trial parameters (assurance); without, not."""
    import simtrial.engines.decide as vec  # the shared path draws the assurance parameters

    s = scenario(
        {
            "arms": {"msc": {"response": {"induction": {"beta": [4, 6]}}}},
            "evaluate": {"sample_size": {"target": "assurance", "goal": 0.5, "max_total": 200}},
        }
    ).base
    seen: list = []
    original = vec.drawn_values

    def record(scenario, n, rng):
        values = original(scenario, n, rng)
        seen.append(np.asarray(values["msc"].induction).copy())
        return values

    monkeypatch.setattr(vec, "drawn_values", record)
    engine = VectorizedEngine()
    result = search_sample_size(engine, s, "base", 1000, 3)
    assert engine.common_random_numbers is False  # the caller's engine is left alone
    # one block per point of the search, then one fresh re-estimate at the answer
    assert len(result["curve"]) >= 3 and len(seen) == len(result["curve"]) + 1
    assert all((d == seen[0]).all() for d in seen[:-1])  # the search: same draws
    assert not (seen[-1] == seen[0]).all()  # the re-estimate: fresh streams
    seen.clear()
    engine.evaluate(s, "base", 40, 1000, 3)
    engine.evaluate(s, "base", 80, 1000, 3)
    assert not (seen[0] == seen[1]).all()  # ordinary points: streams keyed by n_total


def z_power(m: int, pt: float, pc: float, alpha: float) -> float:
    """Independent: exact power (treatment better) of the two-sided pooled z test with m per
    arm, by enumeration of every (x_t, x_c) with scipy's binomial pmf."""
    from scipy import stats

    x = np.arange(m + 1)
    xt, xc = x[:, None], x[None, :]
    pooled = (xt + xc) / (2 * m)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (xt - xc) / m / np.sqrt(pooled * (1 - pooled) * 2 / m)
    z = np.where(np.isfinite(z), z, 0.0)
    w = stats.binom.pmf(xt, m, pt) * stats.binom.pmf(xc, m, pc)
    return float(w[z >= stats.norm.ppf(1 - alpha / 2)].sum())


def test_exact_search_keeps_the_goal_past_the_saw_tooth():
    """0.65 vs 0.35: exact power first reaches 80% at 41 per arm, dips below it at 42 or 43,
    and stays above from 44 per arm on (the reference curve is enumerated here)."""
    s = scenario(
        {
            "arms": {
                "control": {"endpoint_probability": 0.35, "dropout": None},
                "msc": {
                    "endpoint_probability": 0.65,
                    "schedule": None,
                    "response": None,
                    "adverse_events": None,
                    "dropout": None,
                },
            },
            "analysis": {"test": "z_pooled", "sided": "two", "alpha": 0.05},
            "evaluate": {"n_total": [40], "sample_size": {"goal": 0.8, "max_total": 300}},
        }
    ).base
    k = s.evaluate.sample_size.stable_steps
    curve = {m: z_power(m, 0.65, 0.35, 0.05) for m in range(1, 120)}
    first = min(m for m in curve if curve[m] >= 0.8)
    stable = min(m for m in range(1, 100) if all(curve[j] >= 0.8 for j in range(m, m + k + 1)))
    assert (first, stable) == (41, 44)  # the saw-tooth this test is about
    result = search_sample_size(ExactEngine(), s, "base", 1, 1)
    assert result["n_total"] == 2 * stable
    assert result["n_total_first"] == 2 * first
    assert result["achieved"] == pytest.approx(curve[stable], abs=1e-12)
    assert "next 10 sizes" in result["rule"]


def test_des_search_matches_exact_power():
    """The DES searches too (it decides on the shared path): every point of its search, and
    the answer's fresh-stream estimate, agree with the exact engine's power at that n_total
    within 4 Monte Carlo SE; the answer's exact power is within 4 SE of the goal or above."""
    from simtrial.engines.des import DESEngine

    s = two_rates("z_pooled", max_total=200)
    result = search_sample_size(DESEngine(), s, "base", 300, 7)
    exact = ExactEngine()
    for point in result["curve"]:
        truth = exact.evaluate(s, "base", point["n_total"], 1, 7).power
        assert abs(point["achieved"] - truth) <= 4 * max(point["se"], 0.005), point
    truth = exact.evaluate(s, "base", result["n_total"], 1, 7).power
    assert abs(result["achieved"] - truth) <= 4 * result["se"]
    assert truth >= 0.8 - 4 * result["se"]


def five_purposes(target: str):
    """Assurance (a Beta induction) and a safety rule: a full point runs 5 purposes (power,
    type I error, assurance, a safe and an unsafe SAE rate)."""
    return scenario(
        {
            "arms": {"msc": {"response": {"induction": {"beta": [8, 6]}}}},
            "safety": {"max_serious_rate_per_year": 0.3, "posterior_probability": 0.9},
            "evaluate": {
                "n_total": [40],
                "sample_size": {"target": target, "goal": 0.5, "max_total": 120},
            },
        }
    ).base


def full(point, target: str) -> tuple[float, float]:
    return getattr(point, target), getattr(point, f"{target}_se")


@pytest.mark.parametrize("target", ["power", "assurance"])
def test_search_simulates_only_its_target(monkeypatch, target):
    """Each candidate n (and the re-estimate at the answer) runs the target's purpose only, and
    reports what a full evaluation of that point reports for the target, to the bit."""
    from simtrial.engines.base import ASSURANCE, POWER
    from simtrial.engines.decide import purposes

    s = five_purposes(target)
    assert len(purposes(s)) == 5
    ran: list[tuple[int, int, bool]] = []  # (n_total, purpose, common random numbers)
    original = VectorizedEngine.run_task

    def record(self, scenario, variant, n_total, task, seed):
        ran.append((n_total, task[0], self.common_random_numbers))
        return original(self, scenario, variant, n_total, task, seed)

    monkeypatch.setattr(VectorizedEngine, "run_task", record)
    result = search_sample_size(VectorizedEngine(), s, "base", 400, 9)
    wanted = ASSURANCE if target == "assurance" else POWER
    assert {purpose for _, purpose, _ in ran} == {wanted}
    searched = sorted({n for n, _, crn in ran if crn})
    assert searched == [c["n_total"] for c in result["curve"]] and len(searched) >= 3
    assert [n for n, _, crn in ran if not crn] == [result["n_total"]]  # the re-estimate
    monkeypatch.setattr(VectorizedEngine, "run_task", original)
    crn = VectorizedEngine()
    crn.common_random_numbers = True
    for row in result["curve"]:  # reference: the full evaluation of the same point
        point = crn.evaluate(s, "base", row["n_total"], 400, 9)
        assert (row["achieved"], row["se"]) == full(point, target)
    fresh = VectorizedEngine().evaluate(s, "base", result["n_total"], 400, 9)
    assert (result["achieved"], result["se"]) == full(fresh, target)


@pytest.mark.parametrize("target", ["power", "assurance"])
def test_exact_target_alone_equals_the_full_evaluation(target):
    s = scenario(
        {
            "arms": {
                "control": {"endpoint_probability": 0.3, "dropout": None},
                "msc": {
                    "endpoint_probability": {"beta": [12, 8]},
                    "schedule": None,
                    "response": None,
                    "adverse_events": None,
                    "dropout": None,
                },
            },
        }
    ).base
    engine = ExactEngine()
    for n in (20, 62):
        alone = engine.evaluate_target(s, "base", n, 500, 4, target)
        assert alone == full(engine.evaluate(s, "base", n, 500, 4), target)
    assert alone[1] > 0 if target == "assurance" else alone[1] == 0


class InProcess:
    """An executor that runs every submission here, in order (the parallel path, no pool)."""

    workers = 2

    def run(self, fn, items):
        for i, args in enumerate(items):
            yield i, fn(*args)


def test_distributed_search_is_the_search_in_one_process():
    from simtrial.planning.parallel import DistributedEngine

    s = five_purposes("assurance")
    done: list[int] = []
    split = search_sample_size(
        DistributedEngine(VectorizedEngine(), InProcess()), s, "b", 300, 2, done.append
    )
    assert split == search_sample_size(VectorizedEngine(), s, "b", 300, 2)
    assert sum(done) == 300 * (len(split["curve"]) + 1)  # one purpose per point
