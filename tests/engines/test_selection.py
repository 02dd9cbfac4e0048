"""Selection designs (analysis.selection) through scenarios and the vectorized engine."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from simtrial.analysis.group_sequential import boundaries
from simtrial.analysis.mams import MamsDesign, Reestimation, Selection, simulate_rates, summarise
from simtrial.cli.main import main
from simtrial.errors import EngineError, ScenarioError
from simtrial.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[2]

MAMS = """\
# test scenario: three arms given by their endpoint probabilities, select the best
name: mams-test
seed: 99
simulations: 4000
endpoint: {kind: responder, week: 12, missing: non_responder}
arms:
  placebo: {allocation: 1, endpoint_probability: 0.2}
  low: {allocation: 1, endpoint_probability: 0.3}
  mid: {allocation: 1, endpoint_probability: 0.4}
  high: {allocation: 1, endpoint_probability: 0.5}
analysis:
  test: z_pooled
  treatment: [low, mid, high]
  control: placebo
  alpha: 0.025
  sided: one
  interims: {information: [0.5, 1.0], efficacy_spending: obrien_fleming}
  selection: {at_look: 1, rule: best}
  intersection_test: dunnett
  success: at_least_one
evaluate:
  n_total: [160]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mams-test.yaml"
    path.write_text(text)
    return path


def run(tmp_path: Path, name: str, *args: str, text: str = MAMS) -> dict:
    out = tmp_path / name
    assert main(["run", str(write(tmp_path, text)), "--out", str(out), "-q", *args]) == 0
    return json.loads((out / "summary.json").read_text())


def test_engine_matches_the_module_and_workers_do_not_matter(tmp_path):
    """The engine's answer equals a direct simulation of the same design (binomial stages,
    rpact's model) within Monte Carlo error, and is identical with two workers."""
    one = run(tmp_path, "one")
    assert one == run(tmp_path, "two", "--workers", "2", "--no-report")
    point = one["variants"]["base"]["points"][0]
    sel = point["selection"]
    b = boundaries([0.5, 1.0], 0.025, "one", "obrien_fleming")
    design = MamsDesign((0.5, 1.0), tuple(b.efficacy_z), (1.0,) * 3, "dunnett", Selection())
    ref = summarise(
        simulate_rates(
            design, (0.3, 0.4, 0.5), 0.2, np.full((2, 4), 20), 20_000, np.random.default_rng(3)
        )
    )

    def close(ours: float, theirs: float) -> None:
        p = (ours + theirs) / 2
        se = math.sqrt(max(p * (1 - p), 1e-9) * (1 / 4000 + 1 / 20_000))
        assert abs(ours - theirs) <= 4 * se, (ours, theirs)

    close(point["power"], ref["success"])
    for j, arm in enumerate(["low", "mid", "high"]):
        close(sel["power_per_arm"][arm], ref["power_per_arm"][j])
        close(sel["selected"][arm], ref["selected"][1][j])
    assert point["expected_n"] == pytest.approx(ref["expected_n"], abs=1.5)
    assert sum(sel["expected_n_per_arm"].values()) == pytest.approx(point["expected_n"])
    assert sel["fwer_global_null"] == point["type1_error"]
    for arm in ("low", "mid", "high"):
        assert sel["fwer_partial_null"][arm] <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / 4000)
    assert (tmp_path / "one" / "selection.png").stat().st_size > 0
    header = (tmp_path / "one" / "points.csv").read_text().splitlines()[0].split(",")
    assert "selection.selected.high" in header and "selection.fwer_partial_null.low" in header
    report = (tmp_path / "one" / "report.html").read_text()
    assert "Selection inside one trial" in report and "Dunnett" in report
    assert "at look 1 only the best arm continues" in report  # the trial in plain words
    looks = point["stopped_by_look"]
    assert [look["information"] for look in looks] == [0.5]
    assert looks[0]["efficacy"] == pytest.approx(point["stopped_early"]["efficacy"])


@pytest.mark.parametrize(
    ("old", "new", "path", "fragment"),
    [
        ("sided: one", "sided: two", "analysis.sided", "one-sided"),
        ("test: z_pooled", "test: chi2", "analysis.test", "z_pooled"),
        ("at_look: 1", "at_look: 2", "analysis.selection.at_look", "interim look"),
        ("rule: best", "rule: r_best", "analysis.selection.rule", "needs r"),
        ("rule: best", "rule: best, r: 2", "analysis.selection.r", "only used with"),
        ("intersection_test: dunnett", "intersection_test: holm", None, "dunnett"),
    ],
)
def test_bad_selection_input_names_the_field(tmp_path, old, new, path, fragment):
    assert old in MAMS
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, MAMS.replace(old, new, 1)))
    assert fragment in info.value.message
    if path is not None:
        assert info.value.path == path
    assert info.value.line is not None


def test_intersection_test_without_selection_is_refused(tmp_path, capsys):
    text = MAMS.replace("  selection: {at_look: 1, rule: best}\n", "")
    assert main(["validate", str(write(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert "only used with selection" in err and "Traceback" not in err


@pytest.mark.parametrize("engine", ["exact", "des"])
def test_other_engines_refuse_selection(engine):
    from simtrial.engines import get_engine

    scenario = load_scenario(ROOT / "scenarios" / "as-mams.yaml").base
    with pytest.raises(EngineError, match="analysis.selection"):
        get_engine(engine).check(scenario)


SHIPPED_R = r"""
library(rpact)   # 3.3.4, run 2026-12-04
d <- getDesignInverseNormal(kMax = 2, alpha = 0.025, typeOfDesign = "asOF",
  informationRates = c(0.5, 1))
pc <- 0.076203  # placebo; treatments: P(endpoint) at the point values (exact engine's closed form)
for (n in c(30, 50, 70)) {
  x <- getSimulationMultiArmRates(d, activeArms = 3, typeOfShape = "userDefined",
    effectMatrix = matrix(c(pc, pc, pc, 0.094838, 0.149903, 0.235151), nrow = 2, byrow = TRUE),
    piControl = pc, intersectionTest = "Dunnett", typeOfSelection = "best",
    effectMeasure = "effectEstimate", successCriterion = "atLeastOne",
    plannedSubjects = c(n, 2 * n), maxNumberOfIterations = 10000, seed = 20261204)
  cat("n_total", 8 * n, "\n")
  cat(" FWER (global null):", sprintf("%.4f", x$rejectAtLeastOne[1]), "\n")
  cat(" rejectAtLeastOne:", sprintf("%.4f", x$rejectAtLeastOne[2]), "\n")
  cat(" powerPerArm:", sprintf("%.4f", colSums(x$rejectedArmsPerStage[, 2, ])), "\n")
  cat(" selectedStage2:", sprintf("%.4f", x$selectedArms[2, 2, ]), "\n")
  cat(" successPerStage:", sprintf("%.4f", x$successPerStage[, 2]), "\n")
  cat(" expectedNumberOfSubjects:", sprintf("%.2f", x$expectedNumberOfSubjects[2]), "\n")
}
# printed (selectedStage2: the three arms, then the control):
# n_total 240: FWER 0.0178, rejectAtLeastOne 0.5447, powerPerArm 0.0033 0.0557 0.4864,
#   selectedStage2 0.0370 0.1903 0.7473 0.9746, successPerStage 0.0254 0.5193,
#   expectedNumberOfSubjects 178.48
# n_total 400: FWER 0.0204, rejectAtLeastOne 0.7919, powerPerArm 0.0027 0.0705 0.7246,
#   selectedStage2 0.0151 0.1336 0.7435 0.8922, successPerStage 0.1078 0.6841,
#   expectedNumberOfSubjects 289.22
# n_total 560: FWER 0.0226, rejectAtLeastOne 0.9116, powerPerArm 0.0038 0.0808 0.8503,
#   selectedStage2 0.0058 0.0935 0.6656 0.7649, successPerStage 0.2351 0.6765,
#   expectedNumberOfSubjects 387.09
"""
SHIPPED = {  # n_total: (FWER, power, power per arm, selected per arm, stop at the interim, E[n])
    240: (0.0178, 0.5447, (0.0033, 0.0557, 0.4864), (0.0370, 0.1903, 0.7473), 0.0254, 178.48),
    400: (0.0204, 0.7919, (0.0027, 0.0705, 0.7246), (0.0151, 0.1336, 0.7435), 0.1078, 289.22),
    560: (0.0226, 0.9116, (0.0038, 0.0808, 0.8503), (0.0058, 0.0935, 0.6656), 0.2351, 387.09),
}


def test_shipped_rpact_inputs_are_the_scenarios_endpoint_probabilities():
    """SHIPPED_R's rates are P(endpoint) of scenarios/as-mams.yaml at its point values (the
    closed form): a refit prior or an edited scenario makes the pasted rpact output stale."""
    from simtrial.engines.base import point_values
    from simtrial.engines.exact import _endpoint_probability

    scenario = load_scenario(ROOT / "scenarios" / "as-mams.yaml").base
    p = _endpoint_probability(scenario, point_values(scenario))
    rates = [p[arm] for arm in ("placebo", "weekly_x4", "monthly_x3", "monthly_x6")]
    assert rates == pytest.approx([0.076203, 0.094838, 0.149903, 0.235151], abs=5e-7)
    assert scenario.evaluate.n_total == [240, 400, 560]  # 8 x rpact's n in c(30, 50, 70)


@pytest.mark.slow
def test_shipped_scenario_against_rpact(tmp_path):
    """scenarios/as-mams.yaml (10 000 trials per point, as shipped) against rpact's simulation
    of the same design at the scenario's endpoint probabilities (SHIPPED_R), within 4 combined
    SE of the two simulations: power, FWER, stopping at the interim, per-arm power and
    selection, expected n."""
    out = tmp_path / "ship"
    assert main(["run", str(ROOT / "scenarios" / "as-mams.yaml"), "--out", str(out), "-q"]) == 0
    points = json.loads((out / "summary.json").read_text())["variants"]["base"]["points"]

    def close(ours: float, theirs: float) -> None:
        p = (ours + theirs) / 2
        se = math.sqrt(max(p * (1 - p), 1e-6) * 2 / 10_000)
        assert abs(ours - theirs) <= 4 * se, (ours, theirs)

    for point in points:
        fwer, power, per_arm, selected, stop, expected_n = SHIPPED[point["n_total"]]
        close(point["type1_error"], fwer)
        close(point["power"], power)
        close(point["stopped_early"]["efficacy"], stop)
        sel = point["selection"]
        for ours, theirs in zip(sel["power_per_arm"].values(), per_arm, strict=True):
            close(ours, theirs)
        for ours, theirs in zip(sel["selected"].values(), selected, strict=True):
            close(ours, theirs)
        # n is n_total / 2 after a stop at the interim, 3/4 n_total otherwise (one arm selected)
        sd = point["n_total"] / 4 * math.sqrt(stop * (1 - stop))
        assert abs(point["expected_n"] - expected_n) <= 4 * sd * math.sqrt(2 / 10_000)


REESTIMATION = MAMS.replace(
    "  selection: {at_look: 1, rule: best}\n",
    "  selection:\n    at_look: 1\n    rule: best\n"
    "    reestimation: {conditional_power: 0.8, min_per_stage: 10, max_per_stage: 80}\n",
)


def test_reestimation_in_the_engine_against_rpact(tmp_path):
    """The engine with re-estimation against rpact's configuration F (tests/analysis/
    test_mams.py: same design, rates 0.3/0.4/0.5 vs 0.2, 20 per arm and stage planned, CP 0.8,
    10-80 per arm in stage 2): rejectAtLeastOne 0.8018 (global null 0.0240), expected number
    of subjects 141.134, within 4 combined SE (the SD of n from a module simulation)."""
    point = run(tmp_path, "ssr", text=REESTIMATION)["variants"]["base"]["points"][0]

    def se(p: float) -> float:
        return math.sqrt(p * (1 - p) * (1 / 4000 + 1 / 10_000))

    assert abs(point["power"] - 0.8018) <= 4 * se(0.8018)
    assert abs(point["type1_error"] - 0.0240) <= 4 * se(0.0240)
    b = boundaries([0.5, 1.0], 0.025, "one", "obrien_fleming")
    design = MamsDesign(
        (0.5, 1.0), tuple(b.efficacy_z), (1.0,) * 3, reestimation=Reestimation(0.8, 10, 80)
    )
    out = simulate_rates(
        design, (0.3, 0.4, 0.5), 0.2, np.full((2, 4), 20), 20_000, np.random.default_rng(4)
    )
    sd = out.n.sum(axis=1).std()
    assert abs(point["expected_n"] - 141.134) <= 4 * sd * math.sqrt(1 / 4000 + 1 / 10_000)
    assert point["expected_n"] != pytest.approx(160 * 0.75, abs=5)  # not the planned sizes


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("max_per_stage: 80", "max_per_stage: 5", "below min_per_stage"),
        ("low: {allocation: 1,", "low: {allocation: 2,", "same allocation"),
    ],
)
def test_bad_reestimation_input(tmp_path, old, new, fragment):
    text = REESTIMATION.replace(old, new, 1).replace("n_total: [160]", "n_total: [200]")
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, text))
    assert fragment in info.value.message and info.value.line is not None
