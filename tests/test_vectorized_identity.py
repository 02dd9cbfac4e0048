"""Every shipped scenario's summary.json is pinned byte for byte (tests/fixtures/vectorized/).

The fixtures were written *before* the decision and aggregation code moved to
:mod:`simtrial.engines.decide` (issue "One pipeline, layered"), so this test proves that the
move changed no number: three shipped scenarios (``ra-phase2-bayes``: interims, a Bayesian rule
and safety looks; ``ra-phase2``: a fixed two-sided Fisher design with variants; ``as-mams``:
selection) through ``simtrial run`` at 400 trials, and test designs (two-sided group-sequential
with harm stops and conditional-power futility; one-sided with safety every 10 patients; Holm)
through :meth:`VectorizedEngine.evaluate`.

A deliberate change of the numbers regenerates them with
``python -m tests.test_vectorized_identity`` (and says why in the commit message).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from simtrial.cli.main import main
from simtrial.engines.vectorized import VectorizedEngine
from tests.helpers import scenario

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "vectorized"
SHIPPED = ["ra-phase2-bayes", "ra-phase2", "as-mams"]
# Every other shipped scenario, pinned before the layers moved into packages (issue 12): the
# engine each names (ra-capacity is calendar-time, the des engine) at few trials to stay fast.
SHIPPED_OWN_ENGINE = {
    "as-schedules": 400,
    "jia-redosing": 400,
    "uc-followup": 400,
    "ra-capacity": 40,
}
SIMULATIONS = 400

DESIGNS = {
    "two_sided_gs_harm_futility": {
        "analysis": {
            "test": "z_pooled",
            "sided": "two",
            "interims": {
                "information": [0.4, 0.7, 1.0],
                "efficacy_spending": "pocock",
                "futility": {"conditional_power_below": 0.1},
            },
        },
        "evaluate": {"n_total": [60]},
    },
    "one_sided_safety_every_10": {
        "analysis": {
            "test": "fisher_exact",
            "sided": "one",
            "alpha": 0.025,
            "interims": {"information": [0.5, 1.0], "efficacy_spending": "obrien_fleming"},
        },
        "safety": {
            "max_serious_rate_per_year": 0.4,
            "posterior_probability": 0.8,
            "every_patients": 10,
        },
        "endpoint": {"missing": "exclude"},
        "evaluate": {"n_total": [80]},
    },
    "holm_two_arms": {
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
    },
}


def shipped_summary(name: str, out: Path) -> str:
    own = name in SHIPPED_OWN_ENGINE
    engine = [] if own else ["--engine", "vectorized"]
    simulations = SHIPPED_OWN_ENGINE[name] if own else SIMULATIONS
    code = main(
        [
            "run",
            str(ROOT / "scenarios" / f"{name}.yaml"),
            *engine,
            "--simulations",
            str(simulations),
            "--out",
            str(out),
            "-q",
            "--no-report",
        ]
    )
    assert code == 0
    return (out / "summary.json").read_text()


def design_result(name: str) -> str:
    s = scenario(DESIGNS[name]).base
    n_total = s.evaluate.n_total[0]
    r = VectorizedEngine().evaluate(s, "base", n_total, SIMULATIONS, s.seed)
    return json.dumps(r.to_dict(), indent=1, sort_keys=True) + "\n"


@pytest.mark.parametrize("name", SHIPPED + sorted(SHIPPED_OWN_ENGINE))
def test_shipped_summary_is_unchanged(tmp_path, name):
    expected = (FIXTURES / f"{name}.summary.json").read_text()
    assert shipped_summary(name, tmp_path / name) == expected


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_design_result_is_unchanged(name):
    expected = (FIXTURES / f"{name}.point.json").read_text()
    assert design_result(name) == expected


if __name__ == "__main__":  # regenerate the fixtures
    import tempfile

    FIXTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in SHIPPED + sorted(SHIPPED_OWN_ENGINE):
            text = shipped_summary(name, Path(tmp) / name)
            (FIXTURES / f"{name}.summary.json").write_text(text)
    for name in DESIGNS:
        (FIXTURES / f"{name}.point.json").write_text(design_result(name))
    print(
        f"wrote {len(SHIPPED) + len(SHIPPED_OWN_ENGINE) + len(DESIGNS)} fixtures to {FIXTURES}",
        file=sys.stderr,
    )
