"""The exact engine against an independent enumeration with scipy's own tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simtrial.engines.base import point_values
from simtrial.engines.exact import ExactEngine
from simtrial.errors import EngineError
from simtrial.model.response import endpoint_law
from tests.helpers import scenario


def scipy_p(test: str, xt: int, nt: int, xc: int, nc: int, sided: str) -> float:
    table = [[xt, nt - xt], [xc, nc - xc]]
    if test == "fisher_exact":
        alt = "two-sided" if sided == "two" else "greater"
        return stats.fisher_exact(table, alternative=alt).pvalue
    if xt + xc in (0, nt + nc):
        return 1.0
    chi2 = stats.chi2_contingency(table, correction=test == "chi2_yates")[0]
    if sided == "two":
        return stats.chi2.sf(chi2, 1)
    sign = np.sign(xt / nt - xc / nc)
    return stats.norm.sf(sign * np.sqrt(chi2))


def enumerate_power(test, nt, nc, pt, pc, alpha, sided, favourable=False):
    """Σ over all tables of 1{p <= alpha}·b(xt)·b(xc), one scipy test per table; with
    ``favourable`` only tables where the treatment's observed rate is the higher."""
    total = 0.0
    for xt in range(nt + 1):
        for xc in range(nc + 1):
            if favourable and not xt * nc > xc * nt:
                continue
            if scipy_p(test, xt, nt, xc, nc, sided) <= alpha:
                total += stats.binom.pmf(xt, nt, pt) * stats.binom.pmf(xc, nc, pc)
    return total


@pytest.mark.parametrize(
    "test,sided,alloc",
    [
        ("fisher_exact", "two", 1),
        ("fisher_exact", "one", 2),
        ("chi2", "two", 1),
        ("chi2_yates", "two", 2),
        ("z_pooled", "one", 1),
    ],
)
def test_exact_power_equals_enumeration(test, sided, alloc):
    s = scenario(
        {
            "analysis": {"test": test, "sided": sided},
            "arms": {"msc": {"allocation": alloc}},
            "evaluate": {"n_total": [12 * (1 + alloc)]},
        }
    ).base
    n_total = s.evaluate.n_total[0]
    r = ExactEngine().evaluate(s, "base", n_total, 1, s.seed)
    values = point_values(s)
    pt = float(endpoint_law(values["msc"], s.endpoint).nri())
    pc = float(endpoint_law(values["control"], s.endpoint).nri())
    n = s.n_per_arm(n_total)
    assert r.power == pytest.approx(
        enumerate_power(test, n["msc"], n["control"], pt, pc, 0.05, sided, favourable=True),
        abs=1e-12,
    )
    assert r.extra["power_any_direction"] == pytest.approx(
        enumerate_power(test, n["msc"], n["control"], pt, pc, 0.05, sided), abs=1e-12
    )
    assert r.type1_error == pytest.approx(
        enumerate_power(test, n["msc"], n["control"], pc, pc, 0.05, sided), abs=1e-12
    )
    assert r.power_se == 0 and r.type1_error_se == 0
    if sided == "one":  # a one-sided test only rejects when the treatment does better
        assert r.extra["power_any_direction"] == pytest.approx(r.power, abs=1e-12)
    else:
        assert r.extra["power_any_direction"] > r.power


def test_exact_exclude_sums_over_numbers_analysed():
    """Under exclude, power = Σ_m P(m_t) P(m_c) · power(m_t, m_c), enumerated here directly."""
    s = scenario(
        {
            "endpoint": {"missing": "exclude"},
            "evaluate": {"n_total": [16]},
            "arms": {"msc": {"dropout": {"per_year": 0.6}}},
        }
    ).base
    r = ExactEngine().evaluate(s, "base", 16, 1, s.seed)
    values = point_values(s)
    lt = endpoint_law(values["msc"], s.endpoint)
    lc = endpoint_law(values["control"], s.endpoint)
    total = 0.0
    for mt in range(9):
        for mc in range(9):
            w = stats.binom.pmf(mt, 8, lt.in_study) * stats.binom.pmf(mc, 8, lc.in_study)
            total += w * enumerate_power(
                "fisher_exact",
                mt,
                mc,
                float(lt.success),
                float(lc.success),
                0.05,
                "two",
                favourable=True,
            )
    assert r.power == pytest.approx(total, abs=1e-10)


@pytest.mark.parametrize("n_per_arm", [10, 25, 60])
@pytest.mark.parametrize("sided", ["two", "one"])
def test_fisher_size_never_exceeds_alpha(n_per_arm, sided):
    """Fisher's test is conservative: its exact size is <= alpha at every null p."""
    for p in np.linspace(0.05, 0.95, 19):
        s = scenario(
            {
                "analysis": {"sided": sided},
                "arms": {"control": {"endpoint_probability": float(p), "dropout": None}},
                "evaluate": {"n_total": [2 * n_per_arm]},
            }
        ).base
        r = ExactEngine().evaluate(s, "base", 2 * n_per_arm, 1, s.seed)
        assert r.type1_error <= 0.05 + 1e-12


def test_exact_refuses_redosing():
    s = scenario(
        {"arms": {"msc": {"schedule": {"redose_on_loss": {"max": 1, "assess_every_weeks": 4}}}}}
    ).base
    with pytest.raises(EngineError, match="redose_on_loss"):
        ExactEngine().evaluate(s, "base", 40, 10, s.seed)
