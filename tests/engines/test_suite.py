"""The statistical suite every engine runs (emcee style).

Each engine is compared with the closed forms of DESIGN §2 (through the exact engine, itself
checked against an independent enumeration in ``test_exact.py``): per-arm endpoint
probabilities, power, type I error, infusions and adverse events per patient, all within
4 Monte Carlo standard errors. A deliberately wrong engine must fail the same check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from simtrial.engines.base import unsupported
from simtrial.engines.des import DESEngine
from simtrial.engines.exact import ExactEngine
from simtrial.engines.results import PointResult
from simtrial.engines.vectorized import VectorizedEngine, simulate_arm
from simtrial.errors import EngineError
from simtrial.scenario.schema import Scenario
from tests.helpers import scenario

Z = 4.0  # tolerance in Monte Carlo SEs (DESIGN §6)

REFERENCE = {
    "responder_nri": {},
    "responder_exclude": {"endpoint": {"missing": "exclude"}},
    "durable_nri": {
        "endpoint": {"kind": "durable_responder", "week": None, "from_week": 10, "to_week": 20}
    },
    "durable_exclude_weekly": {
        "endpoint": {
            "kind": "durable_responder",
            "week": None,
            "from_week": 6,
            "to_week": 14,
            "missing": "exclude",
        },
        "arms": {"msc": {"schedule": {"infusion_weeks": [0, 1, 2, 3]}}},
    },
    "chi2_one_sided_unequal": {
        "analysis": {"test": "chi2", "sided": "one"},
        "arms": {"msc": {"allocation": 2}},
        "evaluate": {"n_total": [45]},
    },
    "bayes_robust_map_prior": {
        "analysis": {
            "test": "bayes_posterior",
            "bayes": {
                "threshold": 0.975,
                "control_prior": {"prior": "as_placebo/theta_new"},
                "robust_weight": 0.2,
            },
        },
        "evaluate": {"n_total": [60]},
    },
    "placebo_with_sham_infusions": {
        "arms": {
            "control": {
                "endpoint_probability": None,
                "schedule": {"infusion_weeks": [0, 4, 8]},
                "response": {"induction": 0.1, "loss_per_week": 0.1, "onset_weeks": 1},
            }
        },
        "analysis": {"test": "z_pooled"},
    },
}


@dataclass
class Failure:
    what: str
    simulated: float
    reference: float
    se: float

    def __str__(self) -> str:
        return (
            f"{self.what}: simulated {self.simulated:.4f}, reference {self.reference:.4f}, "
            f"|diff| = {abs(self.simulated - self.reference) / self.se:.1f} SE"
        )


def compare_with_closed_form(engine, s: Scenario, simulations: int) -> list[Failure]:
    """Every disagreement larger than Z Monte Carlo SEs between ``engine`` and the closed form."""
    n_total = s.evaluate.n_total[0]
    sim: PointResult = engine.evaluate(s, "base", n_total, simulations, s.seed)
    ref: PointResult = ExactEngine().evaluate(s, "base", n_total, simulations, s.seed)
    failures: list[Failure] = []

    def check(what: str, x: float, r: float, se: float) -> None:
        se = max(se, 1e-9)
        if abs(x - r) > Z * se:
            failures.append(Failure(what, x, r, se))

    check("power", sim.power, ref.power, math.sqrt(ref.power * (1 - ref.power) / simulations))
    good, ref_good = sim.extra["power_any_direction"], ref.extra["power_any_direction"]
    check(
        "power (either direction)",
        good,
        ref_good,
        math.sqrt(ref_good * (1 - ref_good) / simulations),
    )
    check(
        "type I error",
        sim.type1_error,
        ref.type1_error,
        math.sqrt(ref.type1_error * (1 - ref.type1_error) / simulations),
    )
    for arm, n in s.n_per_arm(n_total).items():
        p = ref.endpoint_probability[arm]
        patients = simulations * n
        if s.endpoint.missing == "exclude":
            patients = patients * (1 - ref.dropout_fraction[arm])
        check(
            f"P(endpoint) {arm}",
            sim.endpoint_probability[arm],
            p,
            math.sqrt(p * (1 - p) / patients),
        )
        d = ref.dropout_fraction[arm]
        check(
            f"dropout {arm}",
            sim.dropout_fraction[arm],
            d,
            math.sqrt(d * (1 - d) / (simulations * n)),
        )
        spec = s.arms[arm]
        if spec.schedule is None:
            continue
        k = len(spec.schedule.infusion_weeks)
        # per-patient counts lie in [0, k]: variance <= k²/4 (a conservative SE)
        bound = math.sqrt(k * k / 4 / (simulations * n))
        check(
            f"infusions {arm}",
            sim.infusions_per_patient[arm],
            ref.infusions_per_patient[arm],
            bound,
        )
        check(
            f"AEs {arm}",
            sim.adverse_events_per_patient[arm],
            ref.adverse_events_per_patient[arm],
            bound,
        )
        sae = ref.serious_adverse_events_per_patient[arm]
        check(
            f"SAEs {arm}",
            sim.serious_adverse_events_per_patient[arm],
            sae,
            math.sqrt((sae + sae**2) / (simulations * n)),
        )
    return failures


# (engine, simulated trials per purpose): the DES costs about 1.3 ms per 40-patient trial, so
# it runs fewer trials; the tolerance stays at Z Monte Carlo SEs of its own trial count.
SUITE_ENGINES = {"vectorized": (VectorizedEngine, 4000), "des": (DESEngine, 1000)}


@pytest.mark.parametrize("engine", sorted(SUITE_ENGINES))
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_engine_agrees_with_closed_form(engine, name):
    s = scenario(REFERENCE[name]).base
    factory, simulations = SUITE_ENGINES[engine]
    if unsupported(s, engine):  # the engine must refuse, clearly, what it cannot simulate
        with pytest.raises(EngineError, match="cannot run"):
            factory().evaluate(s, "base", s.evaluate.n_total[0], 10, s.seed)
        return
    failures = compare_with_closed_form(factory(), s, simulations=simulations)
    assert not failures, "\n".join(map(str, failures))


class NoOnsetEngine(VectorizedEngine):
    """A wrong model: ignores the onset delay (inductions at the infusion times)."""

    def run_block(self, s, variant, n_total, purpose, block, trials, seed):
        arms = {}
        for name, arm in s.arms.items():
            if arm.response is not None:
                response = arm.response.model_copy(update={"onset_weeks": 0.0})
                arm = arm.model_copy(update={"response": response})
            arms[name] = arm
        return super().run_block(
            s.model_copy(update={"arms": arms}), variant, n_total, purpose, block, trials, seed
        )


class SlowLossEngine(VectorizedEngine):
    """A wrong model: loss of response at half the hazard."""

    def run_block(self, s, variant, n_total, purpose, block, trials, seed):
        import simtrial.engines.vectorized as v

        original = v.simulate_arm

        def halved(rng, trials, n, values, endpoint, *args):
            from dataclasses import replace

            return original(
                rng,
                trials,
                n,
                replace(values, loss_per_week=np.asarray(values.loss_per_week) / 2),
                endpoint,
                *args,
            )

        v.simulate_arm = halved
        try:
            return super().run_block(s, variant, n_total, purpose, block, trials, seed)
        finally:
            v.simulate_arm = original


@pytest.mark.parametrize("wrong", [NoOnsetEngine, SlowLossEngine])
def test_wrong_model_fails_the_check(wrong):
    s = scenario(REFERENCE["durable_nri"]).base
    failures = compare_with_closed_form(wrong(), s, simulations=4000)
    assert any(f.what.startswith("P(endpoint) msc") for f in failures)


def test_fisher_type1_error_at_most_alpha_vectorized():
    """Fisher's test is conservative: simulated size <= alpha + 3 SE (DESIGN §6)."""
    s = scenario({"arms": {"control": {"endpoint_probability": 0.45}}}).base
    n = 20000
    r = VectorizedEngine().evaluate(s, "base", 40, n, s.seed)
    se = math.sqrt(0.05 * 0.95 / n)
    assert r.type1_error <= 0.05 + 3 * se


def test_simulate_arm_counts_are_consistent():
    s = scenario({"endpoint": {"missing": "exclude"}}).base
    from simtrial.engines.base import point_values

    rng = np.random.default_rng(1)
    out = simulate_arm(rng, 50, 30, point_values(s)["msc"], s.endpoint)
    assert np.all(out.successes <= out.analysed)
    assert np.all(out.analysed + out.dropouts == 30)
    assert np.all(out.infusions <= 3 * 30)
    assert np.all(out.adverse_events <= out.infusions)
