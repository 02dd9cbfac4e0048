"""The DES on the shared decision path (:mod:`simtrial.engines.decide`): group-sequential looks,
futility, Bayesian rules and safety looks in calendar time agree with the vectorized engine.

With ample capacity (an ``operations`` block that never makes an infusion wait) the DES
simulates the vectorized engine's model; the two differ only in who is in an interim look: the
DES analyses, per arm, the patients actually randomised by the look's cutoff (complete
randomisation from a shuffled list), the vectorized engine ``round(t·n_arm)`` per arm (balanced
blocks). That changes the looks' per-arm sizes by a patient or two, and no operating
characteristic by more than Monte Carlo error: every figure below agrees within Z combined
standard errors, ``sqrt(se_des² + se_vectorized²)``, at fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simtrial.engines.des import DESEngine
from simtrial.engines.design import ArmData, Design
from simtrial.engines.vectorized import VectorizedEngine
from tests.helpers import scenario

Z = 4.0
AMPLE = {"operations": {"sites": 3, "infusion_slots_per_week": 100, "doses_per_week": 1000}}

SEQUENTIAL = {
    # two looks, two-sided z, O'Brien-Fleming efficacy, conditional-power futility
    "two_look_obf_futility": {
        "analysis": {
            "test": "z_pooled",
            "sided": "two",
            "interims": {
                "information": [0.5, 1.0],
                "efficacy_spending": "obrien_fleming",
                "futility": {"conditional_power_below": 0.15},
            },
        },
        "evaluate": {"n_total": [60]},
    },
    # two looks, a Bayesian rule with a predictive-probability futility look, SAE monitoring
    "two_look_bayes_safety": {
        "analysis": {
            "test": "bayes_posterior",
            "bayes": {"threshold": 0.95},
            "interims": {
                "information": [0.5, 1.0],
                "efficacy_spending": "none",
                "futility": {"predictive_probability_below": 0.1},
            },
        },
        "safety": {
            "max_serious_rate_per_year": 1.0,
            "posterior_probability": 0.8,
            "every_patients": 10,
        },
        "evaluate": {"n_total": [60]},
    },
}

SIMULATIONS = {"des": 2000, "vectorized": 20000}


def proportions(r) -> dict[str, float]:
    out = {
        "power": r.power,
        "power (either direction)": r.extra["power_any_direction"],
        "type I error": r.type1_error,
    }
    out |= {f"stopped for {k}": v for k, v in r.stopped_early.items()}
    for key, v in r.extra.get("safety_stop_probability", {}).items():
        if not key.endswith("per_year"):
            out[f"P(safety stop) {key}"] = v
    return out


@pytest.mark.parametrize("name", sorted(SEQUENTIAL))
def test_des_agrees_with_vectorized_on_sequential_designs(name):
    s = scenario(SEQUENTIAL[name] | AMPLE).base
    plain = scenario(SEQUENTIAL[name]).base  # the vectorized engine refuses operations
    n_total = s.evaluate.n_total[0]
    des = DESEngine().evaluate(s, "base", n_total, SIMULATIONS["des"], s.seed)
    vec = VectorizedEngine().evaluate(plain, "base", n_total, SIMULATIONS["vectorized"], s.seed)
    assert des.extra["mean_infusion_delay_weeks"]["msc"] == 0.0  # ample: nothing waits
    failures = []
    d, v = proportions(des), proportions(vec)
    assert d.keys() == v.keys()
    for what in d:
        p = (d[what] * SIMULATIONS["des"] + v[what] * SIMULATIONS["vectorized"]) / sum(
            SIMULATIONS.values()
        )
        se = max(math.sqrt(p * (1 - p) * sum(1 / n for n in SIMULATIONS.values())), 1e-9)
        if abs(d[what] - v[what]) > Z * se:
            failures.append(f"{what}: des {d[what]:.4f}, vectorized {v[what]:.4f}, SE {se:.4f}")
    # expected n lies in [0, n_total]: per-trial SD at most n_total / 2 (a conservative SE)
    se_n = n_total / 2 * math.sqrt(sum(1 / n for n in SIMULATIONS.values()))
    if abs(des.expected_n - vec.expected_n) > Z * se_n:
        failures.append(f"expected n: des {des.expected_n:.2f}, vectorized {vec.expected_n:.2f}")
    assert not failures, "\n".join(failures)
    assert des.stopped_early["futility"] > 0.05  # the interim look does act
    assert des.expected_n < n_total


def test_wrong_look_in_des_fails_the_agreement():
    """A DES whose interim look analyses every randomised patient (ignoring when endpoints are
    known) stops far more often at the interim: the agreement check catches it."""
    s = scenario(SEQUENTIAL["two_look_obf_futility"] | AMPLE).base
    plain = scenario(SEQUENTIAL["two_look_obf_futility"]).base

    original = ArmData.look_size

    def everybody(self, fraction, cutoff):
        return self.n

    ArmData.look_size = everybody  # type: ignore[method-assign]
    try:
        des = DESEngine().evaluate(s, "base", 60, 1000, s.seed)
    finally:
        ArmData.look_size = original  # type: ignore[method-assign]
    vec = VectorizedEngine().evaluate(plain, "base", 60, 20000, s.seed)
    se = math.sqrt(des.power_se**2 + vec.power_se**2)
    gap = abs(des.stopped_early["efficacy"] - vec.stopped_early["efficacy"])
    assert gap > Z * se or abs(des.power - vec.power) > Z * se


def test_look_uses_the_patients_randomised_by_the_cutoff():
    """Calendar looks: the patients in a look are those randomised by the randomisation week
    of patient round(t·N) (their endpoint is known when that patient's is), per arm."""
    # 1 trial, 6 patients: arms t t c t c c in arrival order at weeks 0..5
    order = np.array(["t", "t", "c", "t", "c", "c"])
    weeks = np.arange(6.0)
    s = scenario(
        {
            "analysis": {"interims": {"information": [0.5, 1.0]}},
            "evaluate": {"n_total": [6]},
        }
    ).base

    def arm(label: str) -> ArmData:
        r = weeks[order == label][None, :]
        one = np.ones((1, 3), dtype=bool)
        return ArmData(
            n=3,
            successes=np.array([3]),
            analysed=np.array([3]),
            success=one,
            in_study=one,
            sae=np.zeros((1, 3), dtype=np.int64),
            exposure_weeks=np.full((1, 3), 12.0),
            randomised_week=r,
        )

    t, c = arm("t"), arm("c")
    from simtrial.engines.design import _cutoff

    cutoff = _cutoff(weeks[None, :], 0.5)  # patient 3 of 6: randomised at week 2
    assert cutoff is not None and cutoff[0] == 2.0
    assert t.look_size(0.5, cutoff)[0] == 2  # weeks 0 and 1
    assert c.look_size(0.5, cutoff)[0] == 1  # week 2
    assert Design(s).needs_patients


def test_des_agrees_with_vectorized_with_holm_over_two_arms():
    """Several treatment arms (fixed design, Holm) are decided on the shared path too."""
    changes = {
        "arms": {
            "msc2": {
                "allocation": 1,
                "schedule": {"infusion_weeks": [0, 1, 2, 3]},
                "response": {"induction": 0.3, "loss_per_week": 0.1, "onset_weeks": 1},
                "dropout": {"per_year": 0.1},
            }
        },
        "analysis": {"treatment": ["msc", "msc2"], "multiplicity": "holm"},
        "evaluate": {"n_total": [90]},
    }
    s = scenario(changes).base
    des = DESEngine().evaluate(s, "base", 90, SIMULATIONS["des"], s.seed)
    vec = VectorizedEngine().evaluate(s, "base", 90, SIMULATIONS["vectorized"], s.seed)
    pairs = [("power", des.power, vec.power), ("type I error", des.type1_error, vec.type1_error)]
    pairs += [
        (f"power {arm}", des.extra["power_per_arm"][arm], vec.extra["power_per_arm"][arm])
        for arm in ("msc", "msc2")
    ]
    for what, a, b in pairs:
        p = (a * SIMULATIONS["des"] + b * SIMULATIONS["vectorized"]) / sum(SIMULATIONS.values())
        se = max(math.sqrt(p * (1 - p) * sum(1 / n for n in SIMULATIONS.values())), 1e-9)
        assert abs(a - b) <= Z * se, f"{what}: des {a:.4f}, vectorized {b:.4f}, SE {se:.4f}"


def test_run_a_group_sequential_bayesian_design_with_operations(tmp_path):
    """`simtrial run` end to end on the des engine: ra-capacity with two looks, a Bayesian rule
    with predictive-probability futility and SAE monitoring (the type I error curve runs on
    endpoint-probability arms, without the operations)."""
    import json
    from pathlib import Path

    import yaml

    from simtrial.cli.main import main

    root = Path(__file__).resolve().parents[2]
    data = yaml.safe_load((root / "scenarios" / "ra-capacity.yaml").read_text())
    data["analysis"] |= {
        "test": "bayes_posterior",
        "sided": "one",
        "bayes": {"threshold": 0.975},
        "interims": {
            "information": [0.5, 1.0],
            "efficacy_spending": "obrien_fleming",
            "futility": {"predictive_probability_below": 0.1},
        },
    }
    data["safety"] = {"max_serious_rate_per_year": 0.3, "posterior_probability": 0.9}
    data["evaluate"]["n_total"] = [40]
    data["variants"] = {"slots_1_per_site": {"operations": {"infusion_slots_per_week": 1}}}
    path = tmp_path / "gs.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    argv = ["run", str(path), "--simulations", "40", "--out", str(out), "-q", "--no-report"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["engine"] == "des"
    point = summary["variants"]["slots_1_per_site"]["points"][0]
    assert [look["information"] for look in point["stopped_by_look"]] == [0.5]
    assert set(point["safety_stop_probability"]) >= {"scenario", "safe_rate", "unsafe_rate"}
    assert point["mean_infusion_delay_weeks"]["msc"] > 0
    assert point["expected_n"] <= 40
