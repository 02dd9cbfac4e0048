"""Group-sequential boundaries against published constants and rpact.

References
----------
- Jennison, C. & Turnbull, B. W. (2000). Group Sequential Methods with Applications to Clinical
  Trials. Table 2.1 (Pocock constants C_P(K, α)) and Table 2.3 (O'Brien–Fleming constants
  C_B(K, α)), two-sided α = 0.05, equally spaced looks.
- rpact (R package), ``getDesignGroupSequential``; values pasted in the tests with the R code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simtrial.analysis.group_sequential import (
    boundaries,
    classical_constant,
    conditional_power,
    crossing_probabilities,
    spent,
)

# Jennison & Turnbull (2000), Table 2.1 and Table 2.3, α = 0.05 two-sided, to 3 decimals.
POCOCK = {2: 2.178, 3: 2.289, 4: 2.361, 5: 2.413}
OBRIEN_FLEMING = {2: 1.977, 3: 2.004, 4: 2.024, 5: 2.040}


@pytest.mark.parametrize("looks", [2, 3, 4, 5])
def test_classical_constants_match_jennison_turnbull(looks):
    assert classical_constant("pocock", looks, 0.05) == pytest.approx(POCOCK[looks], abs=6e-4)
    assert classical_constant("obrien_fleming", looks, 0.05) == pytest.approx(
        OBRIEN_FLEMING[looks], abs=6e-4
    )


def test_wrong_constant_is_detected():
    """The crossing-probability check rejects a boundary that is not the published one."""
    assert abs(classical_constant("pocock", 3, 0.05) - 2.289) < 6e-4
    assert abs(classical_constant("pocock", 3, 0.10) - 2.289) > 0.05


def test_design_example_boundaries():
    """DESIGN §5 example: information [0.5, 1], efficacy_z [2.963, 1.969]."""
    b = boundaries([0.5, 1.0], alpha=0.025, sided="one", spending="obrien_fleming")
    assert [round(c, 3) for c in b.efficacy_z] == [2.963, 1.969]


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
@pytest.mark.parametrize("sided,alpha", [("one", 0.025), ("two", 0.05)])
def test_alpha_spent_is_exact(spending, sided, alpha):
    info = [0.3, 0.55, 0.8, 1.0]
    b = boundaries(info, alpha=alpha, sided=sided, spending=spending)
    up, down = crossing_probabilities(b, 0.0)
    cumulative = np.cumsum(np.add(up, down))
    assert cumulative == pytest.approx(b.cumulative_alpha, abs=2e-7)
    assert cumulative[-1] == pytest.approx(alpha, abs=2e-7)


def test_single_look_is_the_fixed_design():
    b = boundaries([1.0], alpha=0.025, sided="one")
    assert b.efficacy_z[0] == pytest.approx(stats.norm.isf(0.025))


def test_no_spending_before_the_end():
    b = boundaries([0.5, 1.0], alpha=0.025, sided="one", spending="none")
    assert math.isinf(b.efficacy_z[0])
    assert b.efficacy_z[1] == pytest.approx(stats.norm.isf(0.025))


def test_power_of_two_look_design_against_monte_carlo():
    """Crossing probabilities under a drift vs simulating the canonical distribution."""
    b = boundaries([0.5, 1.0], alpha=0.025, sided="one")
    drift = 2.8
    up, _ = crossing_probabilities(b, drift)
    rng = np.random.default_rng(5)
    n = 400_000
    z1 = rng.standard_normal(n) + drift * math.sqrt(0.5)
    z2 = (z1 * math.sqrt(0.5) + rng.standard_normal(n) * math.sqrt(0.5) + drift * 0.5) / 1.0
    stop1 = z1 >= b.efficacy_z[0]
    stop2 = ~stop1 & (z2 >= b.efficacy_z[1])
    for exact, sim in ((up[0], stop1.mean()), (up[1], stop2.mean())):
        se = math.sqrt(exact * (1 - exact) / n)
        assert abs(sim - exact) < 4 * se


def test_spending_functions():
    assert float(spent("obrien_fleming", 1.0, 0.025)) == pytest.approx(0.025)
    assert float(spent("pocock", 1.0, 0.025)) == pytest.approx(0.025)
    assert float(spent("pocock", 0.5, 0.025)) == pytest.approx(
        0.025 * math.log(1 + (math.e - 1) / 2)
    )


def test_conditional_power():
    # at t = 0.5 with z on the final boundary's drift: CP = 1 − Φ((c − z/√t)/√(1 − t))
    cp = conditional_power(1.5, 0.5, 1.96)
    assert float(cp) == pytest.approx(stats.norm.sf((1.96 - 1.5 / math.sqrt(0.5)) / math.sqrt(0.5)))
    assert float(conditional_power(-3.0, 0.5, 1.96)) < 0.01


# rpact 3.3.4 (Debian r-cran-rpact), pasted output:
#
#   library(rpact)
#   getDesignGroupSequential(kMax = 2, alpha = 0.05, sided = 2, typeOfDesign = "asOF",
#                            informationRates = c(0.5, 1))$criticalValues
#   [1] 2.962588 1.968596
#   getDesignGroupSequential(kMax = 4, alpha = 0.025, sided = 1,
#                            typeOfDesign = "asOF")$criticalValues
#   [1] 4.332634 2.963132 2.359044 2.014090
#   getDesignGroupSequential(kMax = 3, alpha = 0.025, sided = 1, typeOfDesign = "asP",
#                            informationRates = c(0.3, 0.6, 1))$criticalValues
#   [1] 2.311835 2.320967 2.268914
#   getDesignGroupSequential(kMax = 3, alpha = 0.05, sided = 2, typeOfDesign = "asP",
#                            informationRates = c(0.3, 0.6, 1))$criticalValues
#   [1] 2.311835 2.320967 2.268912
#   d <- getDesignGroupSequential(kMax = 3, alpha = 0.05, sided = 2, typeOfDesign = "asOF",
#                                 informationRates = c(0.4, 0.7, 1))
#   print(d$criticalValues, digits = 10); print(d$stageLevels, digits = 10)
#   [1] 3.356869356 2.444542281 2.000539072
#   [1] 0.0003941517567 0.0072518039681 0.0227210426230     (one-sided nominal levels)
RPACT = [
    ([0.5, 1.0], 0.05, "two", "obrien_fleming", [2.962588, 1.968596]),
    (
        [0.25, 0.5, 0.75, 1.0],
        0.025,
        "one",
        "obrien_fleming",
        [4.332634, 2.963132, 2.359044, 2.014090],
    ),
    ([0.3, 0.6, 1.0], 0.025, "one", "pocock", [2.311835, 2.320967, 2.268914]),
    ([0.3, 0.6, 1.0], 0.05, "two", "pocock", [2.311835, 2.320967, 2.268912]),
    ([0.4, 0.7, 1.0], 0.05, "two", "obrien_fleming", [3.356869356, 2.444542281, 2.000539072]),
]


@pytest.mark.parametrize("info,alpha,sided,spending,expected", RPACT)
def test_lan_demets_boundaries_match_rpact(info, alpha, sided, spending, expected):
    b = boundaries(info, alpha=alpha, sided=sided, spending=spending)
    printed = max(len(str(x).split(".")[1]) for x in expected)  # decimals rpact printed
    assert b.efficacy_z == pytest.approx(expected, abs=2 * 10.0 ** -min(printed, 8))


def test_nominal_levels_match_rpact_stage_levels():
    b = boundaries([0.4, 0.7, 1.0], alpha=0.05, sided="two", spending="obrien_fleming")
    one_sided = [a / 2 for a in b.nominal_alpha]
    assert one_sided == pytest.approx([0.0003941517567, 0.0072518039681, 0.0227210426230], rel=1e-6)
