"""Multi-arm multi-stage selection designs (simtrial.analysis.mams).

References:

- an exact enumeration, written here from the rules (two arms, Bonferroni, best arm, two
  stages), against which :func:`closed_test` applied to every outcome must agree to 1e−12;
- rpact 3.3.4 ``getSimulationMultiArmRates`` (Debian r-cran-rpact), run once on 2026-12-04 with
  the R code in :data:`R_CODE`; its printed output is pasted in :data:`RPACT`. Both are Monte
  Carlo estimates, compared within 4 combined standard errors (about 120 comparisons: at 4 SE
  the chance that any one fails by chance is below 1 %);
- the family-wise error rate under the global and partial nulls: at most α + 3 SE.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from simtrial.analysis.group_sequential import boundaries
from simtrial.analysis.mams import (
    INTERSECTION_TESTS,
    MamsDesign,
    Reestimation,
    Selection,
    closed_test,
    dunnett_p,
    simulate_rates,
    stage_z,
    subsets,
    summarise,
)

R_CODE = r"""
library(rpact)   # 3.3.4
show <- function(label, x) {
  cat("##", label, "\n")
  cat("criticalValues:", sprintf("%.6f", x$.design$criticalValues), "\n")
  cols <- dim(x$rejectedArmsPerStage)[2]
  for (i in 1:cols) {
    cat("row", i, "\n")
    cat(" rejectAtLeastOne:", sprintf("%.4f", x$rejectAtLeastOne[i]), "\n")
    cat(" powerPerArm:", sprintf("%.4f", colSums(matrix(x$rejectedArmsPerStage[, i, ],
        nrow = dim(x$rejectedArmsPerStage)[1]))), "\n")
    cat(" selectedLastStage:", sprintf("%.4f", x$selectedArms[dim(x$selectedArms)[1], i, ]), "\n")
    cat(" successPerStage:", sprintf("%.4f", x$successPerStage[, i]), "\n")
    cat(" futilityPerStage:", sprintf("%.4f", x$futilityPerStage[, i]), "\n")
    cat(" expectedNumberOfSubjects:", sprintf("%.3f", x$expectedNumberOfSubjects[i]), "\n")
  }
}
iters <- 10000
dA <- getDesignInverseNormal(kMax = 2, alpha = 0.025, typeOfDesign = "asOF",
  informationRates = c(0.5, 1))
xA <- getSimulationMultiArmRates(dA, activeArms = 3, typeOfShape = "userDefined",
  effectMatrix = matrix(c(0.2, 0.2, 0.2, 0.3, 0.4, 0.5), nrow = 2, byrow = TRUE),
  piControl = 0.2, intersectionTest = "Dunnett", typeOfSelection = "best",
  effectMeasure = "effectEstimate", successCriterion = "atLeastOne", plannedSubjects = c(20, 40),
  maxNumberOfIterations = iters, seed = 4711)
show("A", xA)
dB <- getDesignInverseNormal(kMax = 2, alpha = 0.025, typeOfDesign = "asP",
  informationRates = c(0.4, 1))
xB <- getSimulationMultiArmRates(dB, activeArms = 3, typeOfShape = "userDefined",
  effectMatrix = matrix(c(0.3, 0.3, 0.3, 0.3, 0.45, 0.5), nrow = 2, byrow = TRUE),
  piControl = 0.3, intersectionTest = "Simes", typeOfSelection = "epsilon", epsilonValue = 0.05,
  effectMeasure = "testStatistic", successCriterion = "all", plannedSubjects = c(24, 60),
  maxNumberOfIterations = iters, seed = 4712)
show("B", xB)
dC <- getDesignInverseNormal(kMax = 3, alpha = 0.025, typeOfDesign = "asOF",
  informationRates = c(1/3, 2/3, 1))
xC <- getSimulationMultiArmRates(dC, activeArms = 3, typeOfShape = "userDefined",
  effectMatrix = matrix(c(0.25, 0.25, 0.25, 0.25, 0.35, 0.5), nrow = 2, byrow = TRUE),
  piControl = 0.25, intersectionTest = "Sidak", typeOfSelection = "all", threshold = 0,
  adaptations = c(TRUE, FALSE), effectMeasure = "effectEstimate",
  successCriterion = "atLeastOne", plannedSubjects = c(15, 30, 45),
  maxNumberOfIterations = iters, seed = 4713)
show("C", xC)
xD <- getSimulationMultiArmRates(dA, activeArms = 4, typeOfShape = "userDefined",
  effectMatrix = matrix(c(0.2, 0.2, 0.2, 0.2, 0.45, 0.35, 0.2, 0.3), nrow = 2, byrow = TRUE),
  piControl = 0.2, intersectionTest = "Hierarchical", typeOfSelection = "rBest", rValue = 2,
  effectMeasure = "effectEstimate", successCriterion = "atLeastOne", plannedSubjects = c(20, 40),
  maxNumberOfIterations = iters, seed = 4714)
show("D", xD)
xE <- getSimulationMultiArmRates(dA, activeArms = 2, typeOfShape = "userDefined",
  effectMatrix = matrix(c(0.2, 0.2, 0.35, 0.5), nrow = 2, byrow = TRUE), piControl = 0.2,
  intersectionTest = "Bonferroni", typeOfSelection = "best", effectMeasure = "effectEstimate",
  successCriterion = "atLeastOne", plannedSubjects = c(10, 20),
  maxNumberOfIterations = iters, seed = 4715)
show("E", xE)
"""

# printed by R_CODE (rpact 3.3.4, Rscript, 2026-12-04; trailing spaces removed)
RPACT_OUTPUT = """
## A
criticalValues: 2.962588 1.968596
row 1
 rejectAtLeastOne: 0.0227
 powerPerArm: 0.0075 0.0078 0.0074
 selectedLastStage: 0.3312 0.3314 0.3371 0.9997
 successPerStage: 0.0003 0.0224
 futilityPerStage: 0.0000
 expectedNumberOfSubjects: 119.988
row 2
 rejectAtLeastOne: 0.7108
 powerPerArm: 0.0182 0.1493 0.5591
 selectedLastStage: 0.0518 0.2301 0.6187 0.9006
 successPerStage: 0.0994 0.6114
 futilityPerStage: 0.0000
 expectedNumberOfSubjects: 116.024
## B
criticalValues: 2.223875 2.165130
row 1
 rejectAtLeastOne: 0.0212
 powerPerArm: 0.0088 0.0082 0.0069
 selectedLastStage: 0.3975 0.3996 0.3944 0.9997
 successPerStage: 0.0003 0.0190
 futilityPerStage: 0.0000
 expectedNumberOfSubjects: 174.883
row 2
 rejectAtLeastOne: 0.4372
 powerPerArm: 0.0098 0.1564 0.3294
 selectedLastStage: 0.0467 0.4045 0.6655 0.9942
 successPerStage: 0.0058 0.4081
 futilityPerStage: 0.0000
 expectedNumberOfSubjects: 171.992
## C
criticalValues: 3.710303 2.511427 1.993047
row 1
 rejectAtLeastOne: 0.0134
 powerPerArm: 0.0062 0.0050 0.0061
 selectedLastStage: 0.4932 0.4930 0.4969 0.7537
 successPerStage: 0.0000 0.0024 0.0110
 futilityPerStage: 0.2439 0.0000
 expectedNumberOfSubjects: 127.239
row 2
 rejectAtLeastOne: 0.4275
 powerPerArm: 0.0093 0.0616 0.4172
 selectedLastStage: 0.4037 0.5925 0.7773 0.8094
 successPerStage: 0.0033 0.1412 0.2830
 futilityPerStage: 0.0461 0.0000
 expectedNumberOfSubjects: 144.960
## D
criticalValues: 2.962588 1.968596
row 1
 rejectAtLeastOne: 0.0229
 powerPerArm: 0.0229 0.0030 0.0000 0.0000
 selectedLastStage: 0.5043 0.5001 0.5002 0.4938 0.9992
 successPerStage: 0.0008 0.0221
 futilityPerStage: 0.0000
 expectedNumberOfSubjects: 159.952
row 2
 rejectAtLeastOne: 0.6447
 powerPerArm: 0.6447 0.1669 0.0000 0.0000
 selectedLastStage: 0.8073 0.5703 0.0809 0.3719 0.9152
 successPerStage: 0.0848 0.5599
 futilityPerStage: 0.0000
 expectedNumberOfSubjects: 154.912
## E
criticalValues: 2.962588 1.968596
row 1
 rejectAtLeastOne: 0.0183
 powerPerArm: 0.0090 0.0093
 selectedLastStage: 0.2728 0.2793 0.5521
 successPerStage: 0.0004 0.0179
 futilityPerStage: 0.4475
 expectedNumberOfSubjects: 41.042
row 2
 rejectAtLeastOne: 0.4287
 powerPerArm: 0.0555 0.3735
 selectedLastStage: 0.2222 0.6870 0.9092
 successPerStage: 0.0250 0.4037
 futilityPerStage: 0.0658
 expectedNumberOfSubjects: 48.184
"""

# per configuration: information rates, spending, intersection test, selection, success
# criterion, patients per stage in every arm, control rate, treatment rates of rows 1 and 2
CONFIGS = {
    "A": ((0.5, 1.0), "obrien_fleming", "dunnett", Selection("best"), "at_least_one", (20, 20),
          0.2, ((0.2, 0.2, 0.2), (0.3, 0.4, 0.5))),
    "B": ((0.4, 1.0), "pocock", "simes",
          Selection("epsilon", epsilon=0.05, effect_measure="test_statistic"), "all", (24, 36),
          0.3, ((0.3, 0.3, 0.3), (0.3, 0.45, 0.5))),
    "C": ((1 / 3, 2 / 3, 1.0), "obrien_fleming", "sidak", Selection("all", threshold=0.0),
          "at_least_one", (15, 15, 15), 0.25, ((0.25, 0.25, 0.25), (0.25, 0.35, 0.5))),
    "D": ((0.5, 1.0), "obrien_fleming", "hierarchical", Selection("r_best", r=2),
          "at_least_one", (20, 20), 0.2, ((0.2, 0.2, 0.2, 0.2), (0.45, 0.35, 0.2, 0.3))),
    "E": ((0.5, 1.0), "obrien_fleming", "bonferroni", Selection("best"), "at_least_one",
          (10, 10), 0.2, ((0.2, 0.2), (0.35, 0.5))),
}  # fmt: skip
RPACT_ITERATIONS = 10_000
TRIALS = 20_000


def rpact_output(text: str = RPACT_OUTPUT) -> dict[str, dict]:
    """R output as {config: {"critical": [...], "rows": [{key: [values]}]}}."""
    out: dict[str, dict] = {}
    for block in text.split("## ")[1:]:
        lines = block.strip().splitlines()
        label = lines[0].strip()
        entry: dict = {"rows": []}
        for line in lines[1:]:
            key, _, values = line.strip().partition(":")
            if key.startswith("row"):
                entry["rows"].append({})
            elif key == "criticalValues":
                entry["critical"] = [float(v) for v in values.split()]
            else:
                entry["rows"][-1][key] = [float(v) for v in values.split()]
        out[label] = entry
    return out


def design_of(label: str) -> tuple[MamsDesign, np.ndarray, float, tuple]:
    info, spending, test, selection, success, sizes, control, rows = CONFIGS[label]
    b = boundaries(list(info), 0.025, "one", spending)
    arms = len(rows[0])
    design = MamsDesign(tuple(info), tuple(b.efficacy_z), (1.0,) * arms, test, selection, success)
    planned = np.array([[s] * (arms + 1) for s in sizes])
    return design, planned, control, rows


def _z(xt, xc, n):
    """Pooled z of a stage with n patients per arm (0 for equal counts)."""
    xt, xc = np.asarray(xt, float), np.asarray(xc, float)
    pooled = (xt + xc) / (2 * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (xt - xc) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    return np.where(xt == xc, 0.0, z)


def exact_two_arms(rates, control, n, c1, c2) -> dict:
    """Exact operating characteristics of the two-arm, two-stage design with Bonferroni
    intersection tests, the best arm (larger stage-1 rate; ties half each) continuing, and
    ``n`` patients per arm and stage, written from the rules by enumeration.

    Stage 1: H_12 is rejected when Φ⁻¹(1 − min(1, 2 min(p_1, p_2))) ≥ c1, H_i when
    Φ⁻¹(1 − p_i) ≥ c1; arm i is rejected when both are, and then the trial stops. Stage 2 (the
    selected arm s and the control): the global p-value is p_s2 (one arm left), each combined
    with stage 1 by (q_1 + q_2)/√2 ≥ c2; as in rpact, H_s can only be newly rejected at the
    last stage when the global hypothesis is rejected there. The trial also stops after stage 1
    when an intersection's combined z is at most −6 (rpact's default futility bound; here when
    the Bonferroni p-value is capped at 1)."""
    k = np.arange(n + 1)
    pmf = [stats.binom.pmf(k, n, p) for p in (*rates, control)]
    q1 = stats.norm.isf(stats.norm.sf(_z(k[:, None], k[None, :], n)))  # [x_i, x_0]
    p1 = stats.norm.sf(_z(k[:, None], k[None, :], n))
    q2 = stats.norm.isf(stats.norm.sf(_z(k[:, None], k[None, :], n)))  # stage 2 [y_s, y_0]
    out = {"reject": np.zeros(2), "any": 0.0, "stop1": 0.0, "futility1": 0.0, "n": 0.0}
    out["selected"] = np.zeros(2)
    for x1, x2, x0 in itertools.product(k, k, k):
        w = pmf[0][x1] * pmf[1][x2] * pmf[2][x0]
        q_each = (q1[x1, x0], q1[x2, x0])
        q_global = stats.norm.isf(min(1.0, 2 * min(p1[x1, x0], p1[x2, x0])))
        g1 = q_global >= c1
        rej1 = [bool(g1 and q >= c1) for q in q_each]
        if any(rej1):
            out["reject"] += w * np.array(rej1)
            out["any"] += w
            out["stop1"] += w
            out["n"] += w * 3 * n
            continue
        # rpact's futility bound −6 on the combined z: an intersection with p-value 1 (here
        # Bonferroni's cap, 2·min p ≥ 1) makes every arm in it futile, and the trial stops
        if q_global <= -6 or all(q <= -6 for q in q_each):
            out["futility1"] += w
            out["n"] += w * 3 * n
            continue
        out["n"] += w * 5 * n
        picks = [(0, 1.0)] if x1 > x2 else [(1, 1.0)] if x2 > x1 else [(0, 0.5), (1, 0.5)]
        for s, share in picks:
            ws = w * share * np.outer(pmf[s], pmf[2])
            out["selected"][s] += w * share
            g2 = (q_global + q2) / math.sqrt(2) >= c2
            hs = (q_each[s] >= c1) | (g2 & ((q_each[s] + q2) / math.sqrt(2) >= c2))
            p_rej = float((ws * ((g1 | g2) & hs)).sum())
            out["reject"][s] += p_rej
            out["any"] += p_rej
    return out


def test_subsets_full_set_first():
    sets = subsets(3)
    assert sets.shape == (7, 3) and sets[0].all()
    assert len({tuple(r) for r in sets}) == 7 and not (~sets).all(axis=1).any()


def test_stage_z_is_the_pooled_statistic():
    # 12/20 vs 6/20: pooled 0.45, z = 0.3 / sqrt(0.45 * 0.55 * 0.1)
    assert stage_z(12, 20, 6, 20) == pytest.approx(0.3 / math.sqrt(0.45 * 0.55 * 0.1))
    assert stage_z(5, 20, 5, 20) == 0.0 and stage_z(0, 10, 0, 10) == 0.0


def test_dunnett_p_against_scipy_multivariate_normal():
    """Equicorrelated ρ = 1/2 (equal allocation): 1 − P(max Z ≤ z) by scipy's Genz integration."""
    for m, z in ((2, 1.5), (3, 2.2), (4, 2.5)):
        cov = np.full((m, m), 0.5) + 0.5 * np.eye(m)
        ref = 1 - stats.multivariate_normal(np.zeros(m), cov).cdf(np.full(m, z))
        got = dunnett_p(np.array([z]), np.ones((1, m), dtype=bool), np.full(m, 0.5))[0]
        assert got == pytest.approx(ref, abs=2e-5)
    # one arm: the plain normal tail
    assert dunnett_p(np.array([1.96]), np.ones((1, 1), bool), np.array([0.5]))[0] == (
        pytest.approx(stats.norm.sf(1.96), abs=1e-6)
    )


def test_closed_test_equals_the_exact_enumeration():
    """Every outcome of a small two-arm trial (6 patients per arm and stage) through
    :func:`closed_test`, weighted by its probability, reproduces the enumeration (tie copies
    with jitter favouring either arm, weight 1/2 each)."""
    n, rates, control = 6, (0.35, 0.5), 0.2
    c1, c2 = boundaries([0.5, 1.0], 0.025, "one", "obrien_fleming").efficacy_z
    ref = exact_two_arms(rates, control, n, c1, c2)
    grid = np.array(list(itertools.product(range(n + 1), repeat=6)))  # x1 x2 x0 y1 y2 y0
    probs = np.ones(len(grid))
    for col, p in enumerate((*rates, control, *rates, control)):
        probs *= stats.binom.pmf(grid[:, col], n, p)
    x = np.concatenate([grid, grid]).reshape(-1, 2, 3)
    w = np.concatenate([probs, probs]) / 2
    jitter = np.repeat([[1e-6, 0.0], [0.0, 1e-6]], len(grid), axis=0)
    design = MamsDesign((0.5, 1.0), (c1, c2), (1.0, 1.0), "bonferroni", Selection("best"))
    out = closed_test(design, x, np.full(x.shape, n), np.full((2, 3), n), jitter)
    assert w @ out.rejected == pytest.approx(ref["reject"], abs=1e-12)
    assert w @ out.rejected.any(axis=1) == pytest.approx(ref["any"], abs=1e-12)
    assert w @ out.success_stop == pytest.approx(ref["stop1"], abs=1e-12)
    assert w @ out.futility_stop == pytest.approx(ref["futility1"], abs=1e-12)
    assert ref["futility1"] > 0.01  # the futility rule is exercised
    assert w @ out.active[:, 1] == pytest.approx(ref["selected"], abs=1e-12)
    assert w @ out.n.sum(axis=1) == pytest.approx(ref["n"], abs=1e-9)


def test_rpact_critical_values():
    for label, entry in rpact_output().items():
        design, *_ = design_of(label)
        assert design.critical == pytest.approx(entry["critical"], abs=2e-6)


def _close(ours: float, theirs: float, se: float, what: str) -> None:
    assert abs(ours - theirs) <= 4 * se + 1e-12, f"{what}: {ours:.4f} vs rpact {theirs:.4f}"


def _se(p: float, q: float) -> float:
    """Combined SE of two simulated proportions (TRIALS and RPACT_ITERATIONS trials)."""
    pbar = (p * TRIALS + q * RPACT_ITERATIONS) / (TRIALS + RPACT_ITERATIONS)
    return math.sqrt(max(pbar * (1 - pbar), 1e-12) * (1 / TRIALS + 1 / RPACT_ITERATIONS))


@pytest.mark.parametrize("label", sorted(CONFIGS))
def test_against_rpact(label):
    design, planned, control, rows = design_of(label)
    reference = rpact_output()[label]["rows"]
    rng = np.random.default_rng(20261204)
    for row, (rates, r) in enumerate(zip(rows, reference, strict=True)):
        out = simulate_rates(design, rates, control, planned, TRIALS, rng)
        s = summarise(out)
        what = f"{label} row {row + 1}"
        _close(
            s["reject_at_least_one"],
            r["rejectAtLeastOne"][0],
            _se(s["reject_at_least_one"], r["rejectAtLeastOne"][0]),
            f"{what} rejectAtLeastOne",
        )
        for j, (p, q) in enumerate(zip(s["power_per_arm"], r["powerPerArm"], strict=True)):
            _close(p, q, _se(p, q), f"{what} power arm {j + 1}")
        last = s["selected"][-1]
        for j, q in enumerate(r["selectedLastStage"][:-1]):
            _close(last[j], q, _se(last[j], q), f"{what} selected arm {j + 1}")
        for k, (p, q) in enumerate(zip(s["stop_success"], r["successPerStage"], strict=False)):
            _close(p, q, _se(p, q), f"{what} success stop at stage {k + 1}")
        for k, (p, q) in enumerate(zip(s["stop_futility"], r["futilityPerStage"], strict=True)):
            _close(p, q, _se(p, q), f"{what} futility stop at stage {k + 1}")
        n = out.n.sum(axis=1)
        se_n = n.std() * math.sqrt(1 / TRIALS + 1 / RPACT_ITERATIONS)
        _close(float(n.mean()), r["expectedNumberOfSubjects"][0], max(se_n, 1e-3), f"{what} E[n]")


def test_two_arm_case_exactly_against_rpact():
    """rpact's simulation of configuration E against the exact enumeration (rpact's SE only)."""
    c1, c2 = boundaries([0.5, 1.0], 0.025, "one", "obrien_fleming").efficacy_z
    reference = rpact_output()["E"]["rows"]
    for rates, r in zip(((0.2, 0.2), (0.35, 0.5)), reference, strict=True):
        ex = exact_two_arms(rates, 0.2, 10, c1, c2)

        def se(p: float) -> float:
            return math.sqrt(p * (1 - p) / RPACT_ITERATIONS)

        assert abs(ex["any"] - r["rejectAtLeastOne"][0]) <= 4 * se(ex["any"])
        for j in range(2):
            assert abs(ex["reject"][j] - r["powerPerArm"][j]) <= 4 * se(ex["reject"][j])
            assert abs(ex["selected"][j] - r["selectedLastStage"][j]) <= 4 * se(ex["selected"][j])
        fut = ex["futility1"]
        assert abs(fut - r["futilityPerStage"][0]) <= 4 * se(fut)
        assert abs(ex["stop1"] - r["successPerStage"][0]) <= 4 * se(ex["stop1"]) + 1e-4


@pytest.mark.parametrize("test", INTERSECTION_TESTS)
def test_fwer_global_and_partial_null(test):
    """FWER ≤ α + 3 SE: all arms like the control (global null), and arm 1 like the control
    with the others better (partial null: only H_1 true) under a rule that keeps arm 1."""
    b = boundaries([0.5, 1.0], 0.025, "one", "obrien_fleming")
    planned = np.full((2, 4), 30)
    rng = np.random.default_rng(7)
    cases = [
        (Selection("best"), (0.3, 0.3, 0.3)),
        (Selection("all"), (0.3, 0.3, 0.3)),
        (Selection("all"), (0.3, 0.5, 0.55)),
        (Selection("r_best", r=2), (0.3, 0.45, 0.3)),
    ]
    for rule, rates in cases:
        design = MamsDesign((0.5, 1.0), tuple(b.efficacy_z), (1.0,) * 3, test, rule)
        out = simulate_rates(design, rates, 0.3, planned, TRIALS, rng)
        true_null = np.isclose(rates, 0.3)
        fwer = float(out.rejected[:, true_null].any(axis=1).mean())
        assert fwer <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / TRIALS), (test, rule, rates, fwer)


def test_fwer_check_detects_a_design_without_multiplicity_control():
    """The FWER check can fail: testing each arm on its own combination test (no closed
    testing) under the global null, three arms kept, exceeds α + 3 SE."""
    b = boundaries([0.5, 1.0], 0.025, "one", "obrien_fleming")
    rng = np.random.default_rng(8)
    x = rng.binomial(30, 0.3, size=(TRIALS, 2, 4))
    z = stage_z(x[:, :, :3], 30, x[:, :, 3:], 30)
    stage1 = z[:, 0] >= b.efficacy_z[0]
    final = (z[:, 0] + z[:, 1]) / math.sqrt(2) >= b.efficacy_z[1]
    fwer = float((stage1 | final).any(axis=1).mean())
    assert fwer > 0.025 + 3 * math.sqrt(0.025 * 0.975 / TRIALS)


R_CODE_REESTIMATION = r"""
library(rpact)   # 3.3.4
show <- function(label, x) {
  cat("##", label, "\n")
  cols <- dim(x$rejectedArmsPerStage)[2]
  for (i in 1:cols) {
    cat("row", i, "\n")
    cat(" rejectAtLeastOne:", sprintf("%.4f", x$rejectAtLeastOne[i]), "\n")
    cat(" powerPerArm:", sprintf("%.4f", colSums(matrix(x$rejectedArmsPerStage[, i, ],
        nrow = dim(x$rejectedArmsPerStage)[1]))), "\n")
    cat(" selectedLastStage:", sprintf("%.4f", x$selectedArms[dim(x$selectedArms)[1], i, ]), "\n")
    cat(" successPerStage:", sprintf("%.4f", x$successPerStage[, i]), "\n")
    cat(" futilityPerStage:", sprintf("%.4f", x$futilityPerStage[, i]), "\n")
    cat(" expectedNumberOfSubjects:", sprintf("%.3f", x$expectedNumberOfSubjects[i]), "\n")
    cat(" sampleSizesStage2:", sprintf("%.3f", x$sampleSizes[2, i, ]), "\n")
  }
}
dA <- getDesignInverseNormal(kMax = 2, alpha = 0.025, typeOfDesign = "asOF",
  informationRates = c(0.5, 1))
xF <- getSimulationMultiArmRates(dA, activeArms = 3, typeOfShape = "userDefined",
  effectMatrix = matrix(c(0.2, 0.2, 0.2, 0.3, 0.4, 0.5), nrow = 2, byrow = TRUE), piControl = 0.2,
  intersectionTest = "Dunnett", typeOfSelection = "best", effectMeasure = "effectEstimate",
  successCriterion = "atLeastOne", plannedSubjects = c(20, 40),
  conditionalPower = 0.8, minNumberOfSubjectsPerStage = c(20, 10),
  maxNumberOfSubjectsPerStage = c(20, 80),
  maxNumberOfIterations = 10000, seed = 4716)
show("F", xF)
dC <- getDesignInverseNormal(kMax = 3, alpha = 0.025, typeOfDesign = "asP",
  informationRates = c(0.3, 0.6, 1))
xG <- getSimulationMultiArmRates(dC, activeArms = 2, typeOfShape = "userDefined",
  effectMatrix = matrix(c(0.3, 0.3, 0.4, 0.5), nrow = 2, byrow = TRUE), piControl = 0.3,
  intersectionTest = "Simes", typeOfSelection = "best", effectMeasure = "effectEstimate",
  adaptations = c(TRUE, FALSE),
  successCriterion = "atLeastOne", plannedSubjects = c(18, 36, 60),
  conditionalPower = 0.9, minNumberOfSubjectsPerStage = c(18, 10, 10),
  maxNumberOfSubjectsPerStage = c(18, 60, 60),
  maxNumberOfIterations = 10000, seed = 4717)
show("G", xG)
"""

# printed by R_CODE_REESTIMATION (rpact 3.3.4, Rscript, 2026-12-04; trailing spaces removed)
RPACT_REESTIMATION_OUTPUT = """
## F
row 1
 rejectAtLeastOne: 0.0240
 powerPerArm: 0.0080 0.0083 0.0077
 selectedLastStage: 0.3428 0.3346 0.3223 0.9997
 successPerStage: 0.0003 0.0237
 futilityPerStage: 0.0000
 expectedNumberOfSubjects: 225.890
 sampleSizesStage2: 25.006 24.424 23.537 72.967
row 2
 rejectAtLeastOne: 0.8018
 powerPerArm: 0.0221 0.1786 0.6176
 selectedLastStage: 0.0566 0.2307 0.6172 0.9045
 successPerStage: 0.0955 0.7063
 futilityPerStage: 0.0000
 expectedNumberOfSubjects: 141.134
 sampleSizesStage2: 2.812 9.515 21.467 33.794
## G
row 1
 rejectAtLeastOne: 0.0214
 powerPerArm: 0.0114 0.0119
 selectedLastStage: 0.4992 0.4862 0.9854
 successPerStage: 0.0078 0.0068 0.0068
 futilityPerStage: 0.0000 0.0000
 expectedNumberOfSubjects: 284.925
 sampleSizesStage2: 29.582 28.759 58.340
row 2
 rejectAtLeastOne: 0.6769
 powerPerArm: 0.1141 0.5853
 selectedLastStage: 0.2236 0.3854 0.6090
 successPerStage: 0.1025 0.2885 0.2859
 futilityPerStage: 0.0000 0.0000
 expectedNumberOfSubjects: 214.104
 sampleSizesStage2: 15.442 36.962 52.404
"""

REESTIMATION_CONFIGS = {
    "F": ((0.5, 1.0), "obrien_fleming", "dunnett", Selection("best"), "at_least_one", (20, 20),
          0.2, ((0.2, 0.2, 0.2), (0.3, 0.4, 0.5)), Reestimation(0.8, 10, 80)),
    "G": ((0.3, 0.6, 1.0), "pocock", "simes", Selection("best"), "at_least_one", (18, 18, 24),
          0.3, ((0.3, 0.3), (0.4, 0.5)), Reestimation(0.9, 10, 60)),
}  # fmt: skip


@pytest.mark.parametrize("label", sorted(REESTIMATION_CONFIGS))
def test_reestimation_against_rpact(label):
    """Sample-size re-estimation by conditional power at the selection look (rpact's
    conditionalPower with min/max subjects per stage): power, selection, stopping and the
    expected number of patients within 4 combined SE of rpact."""
    info, spending, test, selection, success, sizes, control, rows, re = REESTIMATION_CONFIGS[label]
    b = boundaries(list(info), 0.025, "one", spending)
    arms = len(rows[0])
    design = MamsDesign(
        tuple(info), tuple(b.efficacy_z), (1.0,) * arms, test, selection, success, reestimation=re
    )
    planned = np.array([[s] * (arms + 1) for s in sizes])
    reference = rpact_output(RPACT_REESTIMATION_OUTPUT)[label]["rows"]
    rng = np.random.default_rng(20261205)
    for row, (rates, r) in enumerate(zip(rows, reference, strict=True)):
        out = simulate_rates(design, rates, control, planned, TRIALS, rng)
        s = summarise(out)
        what = f"{label} row {row + 1}"
        p, q = s["reject_at_least_one"], r["rejectAtLeastOne"][0]
        _close(p, q, _se(p, q), f"{what} rejectAtLeastOne")
        for j, (p, q) in enumerate(zip(s["power_per_arm"], r["powerPerArm"], strict=True)):
            _close(p, q, _se(p, q), f"{what} power arm {j + 1}")
        for k, (p, q) in enumerate(zip(s["stop_success"], r["successPerStage"], strict=False)):
            _close(p, q, _se(p, q), f"{what} success stop at stage {k + 1}")
        n = out.n.sum(axis=1)
        se_n = n.std() * math.sqrt(1 / TRIALS + 1 / RPACT_ITERATIONS)
        _close(float(n.mean()), r["expectedNumberOfSubjects"][0], se_n, f"{what} E[n]")
    # the re-estimated stage sizes really vary between the bounds
    assert np.unique(out.n[:, 0]).size > 5
