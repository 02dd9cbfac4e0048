"""Tests of simtrial.analysis.frequentist against scipy, published values and properties.

The references are independent computations: ``scipy.stats.fisher_exact`` (Boost
hypergeometric pmf, its own tie handling), ``scipy.stats.chi2_contingency`` (cell-by-cell
power divergence), ``scipy.stats.contingency.relative_risk`` / ``odds_ratio``, and values
printed in papers, quoted with their source.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy.stats.contingency import odds_ratio, relative_risk

from simtrial.analysis import frequentist as fq
from simtrial.analysis.frequentist import (
    TESTS,
    compare_proportions,
    p_values,
    rejection_table,
)

# Arm sizes whose every table is compared with scipy. (3, 14), (6, 11), (4, 11): coincidental
# exact ties, e.g. C(3,0)C(14,6) == C(3,2)C(14,4); (4, 39), (2, 50): two equal modes that the
# log-gamma pmf misses by more than scipy's 1e-14 tolerance unless ties are resolved exactly;
# (8, 8), (13, 13): symmetric arms (mirror ties); (12, 16): seed 000; odd and even N; n = 0.
GRIDS = [
    (0, 3),
    (1, 1),
    (2, 7),
    (3, 14),
    (4, 11),
    (4, 39),
    (2, 50),
    (5, 5),
    (6, 11),
    (8, 8),
    (12, 16),
    (13, 13),
    (17, 10),
]
RTOL = 1e-9  # p-values are computed along different routes; both are accurate to ~1e-13


# --------------------------------------------------------------------------- references


def _table(x_t: int, n_t: int, x_c: int, n_c: int) -> list[list[int]]:
    return [[x_t, n_t - x_t], [x_c, n_c - x_c]]


def _degenerate(x_t: int, n_t: int, x_c: int, n_c: int) -> bool:
    m = x_t + x_c
    return n_t == 0 or n_c == 0 or m == 0 or m == n_t + n_c


def scipy_p(test: str, x_t: int, n_t: int, x_c: int, n_c: int, sided: str) -> float:
    """Reference p-value of one table from scipy (p = 1 for a degenerate table)."""
    table = _table(x_t, n_t, x_c, n_c)
    if test == "fisher_exact":
        alternative = "two-sided" if sided == "two" else "greater"
        return float(st.fisher_exact(table, alternative=alternative).pvalue)
    if _degenerate(x_t, n_t, x_c, n_c):
        return 1.0  # chi2_contingency raises on a zero expected frequency
    res = st.chi2_contingency(table, correction=(test == "chi2_yates"))
    if sided == "two":
        return float(res.pvalue)  # z_pooled two-sided: z^2 = X^2 (tested below)
    z = math.copysign(math.sqrt(res.statistic), x_t / n_t - x_c / n_c)
    if x_t / n_t == x_c / n_c:
        z = 0.0
    return float(st.norm.sf(z))


def reference_table(test: str, n_t: int, n_c: int, sided: str) -> np.ndarray:
    return np.array(
        [[scipy_p(test, a, n_t, b, n_c, sided) for b in range(n_c + 1)] for a in range(n_t + 1)]
    )


def mismatches(table: np.ndarray, reference: np.ndarray) -> list[tuple[int, int]]:
    """Tables (x_t, x_c) where two p-value tables disagree beyond rounding."""
    bad = ~np.isclose(table, reference, rtol=RTOL, atol=0.0)
    return [(int(a), int(b)) for a, b in np.argwhere(bad)]


def full_table(test: str, n_t: int, n_c: int, sided: str) -> np.ndarray:
    x_t = np.arange(n_t + 1)[:, None]
    x_c = np.arange(n_c + 1)[None, :]
    return p_values(test, x_t, n_t, x_c, n_c, sided)


# --------------------------------------------------------------------------- 1. vs scipy


@pytest.mark.parametrize("sided", ["two", "one"])
@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize(("n_t", "n_c"), GRIDS)
def test_p_values_match_scipy_on_every_table(test: str, n_t: int, n_c: int, sided: str) -> None:
    ours = full_table(test, n_t, n_c, sided)
    assert ours.shape == (n_t + 1, n_c + 1)
    assert mismatches(ours, reference_table(test, n_t, n_c, sided)) == []


@pytest.mark.parametrize("sided", ["two", "one"])
@pytest.mark.parametrize(("n_t", "n_c"), [(200, 200), (150, 300), (97, 203), (201, 199)])
def test_fisher_matches_scipy_for_large_arms(n_t: int, n_c: int, sided: str) -> None:
    """A sample of tables, dense near the diagonal (where ties and p near alpha live)."""
    rng = np.random.default_rng(20240611)
    x_t = rng.integers(0, n_t + 1, size=120)
    x_c = np.clip(np.rint(x_t * n_c / n_t).astype(int) + rng.integers(-6, 7, size=120), 0, n_c)
    ours = p_values("fisher_exact", x_t, n_t, x_c, n_c, sided)
    ref = np.array(
        [scipy_p("fisher_exact", a, n_t, b, n_c, sided) for a, b in zip(x_t, x_c, strict=True)]
    )
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=0.0)


def test_fisher_tie_examples_are_exact() -> None:
    """Tables whose two-sided p hinges on an exact tie in the hypergeometric pmf.

    (2, 50): x_t + x_c = 17 has two equal modes (x_t = 0 and 1); scipy gives p = 1 at both.
    (3, 14): C(3,0)C(14,6) = 3003 = C(3,2)C(14,4), so x_t = 0 and 2 tie when m = 6.
    """
    assert math.comb(3, 0) * math.comb(14, 6) == math.comb(3, 2) * math.comb(14, 4)
    assert float(p_values("fisher_exact", 0, 2, 17, 50, "two")) == 1.0
    assert st.fisher_exact(_table(0, 2, 17, 50)).pvalue == 1.0
    for x_t in (0, 2):
        ours = float(p_values("fisher_exact", x_t, 3, 6 - x_t, 14, "two"))
        assert ours == pytest.approx(scipy_p("fisher_exact", x_t, 3, 6 - x_t, 14, "two"), RTOL)


def test_z_pooled_squared_is_pearson_chi2() -> None:
    """z^2 = X^2 (no continuity correction), so the two-sided tests coincide."""
    n_t, n_c = 9, 14
    x_t = np.arange(n_t + 1)[:, None]
    x_c = np.arange(n_c + 1)[None, :]
    z, degenerate = fq._z_pooled(x_t, n_t, x_c, n_c)
    for a in range(n_t + 1):
        for b in range(n_c + 1):
            if not degenerate[a, b]:
                ref = st.chi2_contingency(_table(a, n_t, b, n_c), correction=False).statistic
                assert z[a, b] ** 2 == pytest.approx(ref, rel=1e-12)
    for sided in ("two", "one"):
        np.testing.assert_allclose(
            full_table("z_pooled", n_t, n_c, sided), full_table("chi2", n_t, n_c, sided), rtol=1e-12
        )


@pytest.mark.parametrize("sided", ["two", "one"])
@pytest.mark.parametrize("test", TESTS)
def test_degenerate_tables_give_p_one(test: str, sided: str) -> None:
    """No responders, only responders, or an empty arm: p = 1, no nan, no warning."""
    assert p_values(test, [0, 5], 5, [0, 7], 7, sided).tolist() == [1.0, 1.0]
    assert p_values(test, [0, 1, 2], 2, 0, 0, sided).tolist() == [1.0, 1.0, 1.0]
    assert p_values(test, 0, 0, [0, 3], 3, sided).tolist() == [1.0, 1.0]
    assert p_values(test, 0, 0, 0, 0, sided).tolist() == 1.0


def test_p_values_broadcast_and_validate() -> None:
    p = p_values("chi2", np.arange(4)[:, None], 3, np.arange(5)[None, :], 4, "two")
    assert p.shape == (4, 5)
    assert p.dtype == np.float64
    with pytest.raises(ValueError, match='"test"'):
        p_values("t_test", 1, 3, 1, 3, "two")
    with pytest.raises(ValueError, match='"sided"'):
        p_values("chi2", 1, 3, 1, 3, "greater")
    with pytest.raises(ValueError, match='"x_t"'):
        p_values("chi2", 4, 3, 1, 3, "two")
    with pytest.raises(ValueError, match='"x_c"'):
        p_values("chi2", 1, 3, 1.5, 3, "two")
    with pytest.raises(ValueError, match='"n_c"'):
        p_values("chi2", 1, 3, 0, -1, "two")


# --------------------------------------------------------------------------- 2. rejection


@pytest.mark.parametrize("sided", ["two", "one"])
@pytest.mark.parametrize("test", TESTS)
def test_rejection_table_is_p_le_alpha(test: str, sided: str) -> None:
    for n_t, n_c in [(12, 16), (20, 20), (7, 30)]:
        for alpha in (0.01, 0.05, 0.1):
            table = rejection_table(test, n_t, n_c, alpha, sided)
            assert table.dtype == np.bool_
            assert table.shape == (n_t + 1, n_c + 1)
            np.testing.assert_array_equal(table, full_table(test, n_t, n_c, sided) <= alpha)


def test_rejection_table_is_cached_and_read_only() -> None:
    first = rejection_table("fisher_exact", 30, 31, 0.05, "two")
    assert rejection_table("fisher_exact", 30, 31, 0.05, "two") is first
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0] = True
    with pytest.raises(ValueError, match='"alpha"'):
        rejection_table("chi2", 3, 3, 1.5, "two")


_small_designs = hst.tuples(
    hst.sampled_from(TESTS),
    hst.integers(0, 40),
    hst.integers(0, 40),
    hst.floats(0.001, 0.49),
)


@settings(max_examples=150, deadline=None)
@given(_small_designs)
def test_one_sided_rejection_is_monotone(design: tuple[str, int, int, float]) -> None:
    """If (x_t, x_c) rejects 'treatment better', so do (x_t + 1, x_c) and (x_t, x_c - 1).

    (For alpha < 1/2: the degenerate corners have p = 1 by convention.)
    """
    test, n_t, n_c, alpha = design
    r = rejection_table(test, n_t, n_c, alpha, "one")
    assert not np.any(r[:-1, :] & ~r[1:, :])
    assert not np.any(r[:, 1:] & ~r[:, :-1])


@settings(max_examples=100, deadline=None)
@given(_small_designs)
def test_two_sided_p_is_symmetric(design: tuple[str, int, int, float]) -> None:
    """Swapping responders and non-responders, and (equal arms) the arms, keeps a two-sided p."""
    test, n_t, n_c, _ = design
    p = full_table(test, n_t, n_c, "two")
    np.testing.assert_allclose(p, p[::-1, ::-1], rtol=1e-12)
    if n_t == n_c:
        np.testing.assert_allclose(p, p.T, rtol=1e-12)


def test_one_sided_is_half_two_sided_for_z_when_treatment_ahead() -> None:
    p2 = full_table("z_pooled", 10, 13, "two")
    p1 = full_table("z_pooled", 10, 13, "one")
    ahead = (np.arange(11)[:, None] / 10) > (np.arange(14)[None, :] / 13)
    np.testing.assert_allclose(p1[ahead], p2[ahead] / 2, rtol=1e-12)


# --------------------------------------------------------------------------- 3. seed 000


class TestSeed000:
    """Knyazev et al., ECCO abstract P005 (``shared/seeds/000_381d565a9db9377b.txt``).

    "In 10 (83.3%) of 12 patients of group 1 [MSC] ... In 4 (25.0%) patients with UC from
    group 2 [16 patients, optimised infliximab] ... 12 patients from group 2 were transferred to
    therapy with other anti-TNF-alpha drugs ... (HR-0.222, 95% CI 0.061-0.812; x2 - 7.146;
    p=0.00334)."

    Reproduced from the counts: Yates chi2 = 7.146 and "HR" 0.222 (0.061-0.812), which is
    the ratio of NON-response risks (2/12)/(12/16) with a log-scale CI. Not reproduced:
    p = 0.00334. Computed from the counts:

    - Yates chi2 p (the p of the reported 7.146)      0.007514
    - Pearson chi2 (9.333) p                         0.002250
    - Fisher exact, two-sided                        0.006330
    - Fisher exact, one-sided (MSC better)           0.003165

    none of which rounds to 0.00334. It matches the two-sided Fisher mid-p (Lancaster 1961,
    JASA 56:223-234), P(X > 10) + P(X < 2) + 1/2 [P(X = 10) + P(X = 2)] = 0.0033353, which
    rounds to 0.00334 -- so the abstract pairs the Yates statistic with a mid-p value.
    """

    X_T, N_T, X_C, N_C = 10, 12, 4, 16
    REPORTED_P = 0.00334
    HALF_LAST_DIGIT = 0.000005  # rounding half-width of a value printed as 0.00334

    def test_reported_chi2_and_ratio_follow_from_counts(self) -> None:
        r = compare_proportions(self.X_T, self.N_T, self.X_C, self.N_C, event="failure")
        assert round(r.chi2_yates, 3) == 7.146
        assert round(r.risk_ratio, 3) == 0.222
        assert tuple(round(v, 3) for v in r.risk_ratio_ci) == (0.061, 0.812)
        assert r.risk_ratio == pytest.approx((2 / 12) / (12 / 16), rel=1e-12)
        assert not r.zero_cell_correction
        yates = st.chi2_contingency(_table(self.X_T, self.N_T, self.X_C, self.N_C))
        assert r.chi2_yates == pytest.approx(yates.statistic, rel=1e-12)

    def test_reported_p_does_not_follow_from_counts(self) -> None:
        p: dict[str, float] = {
            "chi2_yates": float(p_values("chi2_yates", 10, 12, 4, 16, "two")),
            "chi2": float(p_values("chi2", 10, 12, 4, 16, "two")),
            "fisher_two": float(p_values("fisher_exact", 10, 12, 4, 16, "two")),
            "fisher_one": float(p_values("fisher_exact", 10, 12, 4, 16, "one")),
        }
        table = _table(10, 12, 4, 16)
        ref = {
            "chi2_yates": st.chi2.sf(7.145833333333333, 1),  # 7.146 as reported
            "chi2": st.chi2_contingency(table, correction=False).pvalue,
            "fisher_two": st.fisher_exact(table).pvalue,
            "fisher_one": st.fisher_exact(table, alternative="greater").pvalue,
        }
        printed = {"chi2_yates": 0.007514, "chi2": 0.002250, "fisher_two": 0.006330}
        printed["fisher_one"] = 0.003165
        for key, value in p.items():
            assert value == pytest.approx(ref[key], rel=1e-9)
            assert round(value, 6) == printed[key]
            assert abs(value - self.REPORTED_P) > self.HALF_LAST_DIGIT, key

    def test_reported_p_is_the_fisher_mid_p(self) -> None:
        hyper = st.hypergeom(28, 12, 14)  # X_t | 14 responders among 28, 12 on MSC
        pmf = hyper.pmf(np.arange(13))
        observed = pmf[10]
        less = pmf[pmf < observed * (1 - 1e-9)].sum()
        equal = pmf[np.isclose(pmf, observed, rtol=1e-9)].sum()
        mid_p = less + 0.5 * equal
        assert abs(mid_p - self.REPORTED_P) <= self.HALF_LAST_DIGIT
        assert round(mid_p, 5) == self.REPORTED_P


# --------------------------------------------------------------------------- 4. checker bites


def _naive_fisher_two_sided(n_t: int, n_c: int) -> np.ndarray:
    """WRONG on purpose: log-gamma pmf and 'p(x) <= p(observed)' with no tie handling."""
    out = np.empty((n_t + 1, n_c + 1))
    lg = math.lgamma
    for a in range(n_t + 1):
        for b in range(n_c + 1):
            m = a + b
            xs = range(max(0, m - n_c), min(n_t, m) + 1)
            pmf = {
                x: math.exp(
                    lg(n_t + 1) - lg(x + 1) - lg(n_t - x + 1)
                    + lg(n_c + 1) - lg(m - x + 1) - lg(n_c - m + x + 1)
                    - lg(n_t + n_c + 1) + lg(m + 1) + lg(n_t + n_c - m + 1)
                )
                for x in xs
            }  # fmt: skip
            out[a, b] = min(1.0, sum(v for v in pmf.values() if v <= pmf[a]))
    return out


def _yates_without_correction(n_t: int, n_c: int) -> np.ndarray:
    """WRONG on purpose: 'chi2_yates' that forgets the continuity correction."""
    return full_table("chi2", n_t, n_c, "two")


@pytest.mark.parametrize(
    ("wrong", "test", "n_t", "n_c"),
    [
        (_naive_fisher_two_sided, "fisher_exact", 3, 14),
        (_naive_fisher_two_sided, "fisher_exact", 4, 39),
        (_yates_without_correction, "chi2_yates", 12, 16),
    ],
)
def test_comparison_detects_a_wrong_implementation(
    wrong: Callable[[int, int], np.ndarray], test: str, n_t: int, n_c: int
) -> None:
    reference = reference_table(test, n_t, n_c, "two")
    assert mismatches(wrong(n_t, n_c), reference) != []
    assert mismatches(full_table(test, n_t, n_c, "two"), reference) == []


def test_comparison_detects_missing_exact_tie_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our own Fisher with the exact-integer tie check switched off fails on (4, 39)."""
    monkeypatch.setattr(fq, "_TIE_CANDIDATE_RTOL", -1.0)
    broken = fq._fisher_p_table(4, 39, "two")
    bad = mismatches(broken, reference_table("fisher_exact", 4, 39, "two"))
    assert (0, 8) in bad  # m = 8 has equal modes at x_t = 0 and 1: scipy says p = 1


# --------------------------------------------------------------------------- TwoByTwo


def test_ratio_intervals_match_scipy() -> None:
    """Katz RR interval = scipy relative_risk; Woolf OR interval = scipy odds_ratio('sample')."""
    for x_t, n_t, x_c, n_c in [(10, 12, 4, 16), (7, 20, 3, 25), (33, 50, 21, 48)]:
        for level in (0.9, 0.95):
            r = compare_proportions(x_t, n_t, x_c, n_c, level=level)
            rr = relative_risk(x_t, n_t, x_c, n_c)
            assert r.risk_ratio == pytest.approx(rr.relative_risk, rel=1e-12)
            ci = rr.confidence_interval(confidence_level=level)
            assert r.risk_ratio_ci == pytest.approx((ci.low, ci.high), rel=1e-10)
            o = odds_ratio(_table(x_t, n_t, x_c, n_c), kind="sample")
            assert r.odds_ratio == pytest.approx(o.statistic, rel=1e-12)
            ci = o.confidence_interval(confidence_level=level)
            assert r.odds_ratio_ci == pytest.approx((ci.low, ci.high), rel=1e-10)
            assert r.chi2_p == pytest.approx(scipy_p("chi2", x_t, n_t, x_c, n_c, "two"), RTOL)
            assert r.fisher_p == pytest.approx(st.fisher_exact(_table(x_t, n_t, x_c, n_c))[1])


def test_wald_risk_difference_matches_newcombe() -> None:
    """Newcombe (1998), Stat. Med. 17:873-890, Table II, method 1 (Wald).

    Example (a) 56/70 vs 48/80: 0.0575 to 0.3425; example (b) 9/10 vs 3/10: 0.2605 to 0.9395.
    """
    a = compare_proportions(56, 70, 48, 80)
    assert a.risk_difference == pytest.approx(0.2)
    assert tuple(round(v, 4) for v in a.risk_difference_ci) == (0.0575, 0.3425)
    b = compare_proportions(9, 10, 3, 10)
    assert tuple(round(v, 4) for v in b.risk_difference_ci) == (0.2605, 0.9395)


def test_failure_event_inverts_the_risks() -> None:
    resp = compare_proportions(10, 12, 4, 16)
    fail = compare_proportions(10, 12, 4, 16, event="failure")
    assert fail.risk_difference == pytest.approx(-resp.risk_difference)
    assert fail.odds_ratio == pytest.approx(1 / resp.odds_ratio)
    assert fail.odds_ratio_ci == pytest.approx(tuple(1 / v for v in resp.odds_ratio_ci[::-1]))
    assert resp.risk_ratio == pytest.approx((10 / 12) / (4 / 16))
    assert (fail.chi2, fail.fisher_p) == (resp.chi2, resp.fisher_p)


@pytest.mark.parametrize(
    ("x_t", "n_t", "x_c", "n_c"), [(0, 10, 5, 10), (10, 10, 3, 8), (0, 6, 0, 9), (4, 4, 7, 7)]
)
def test_zero_cells_use_haldane_correction(x_t: int, n_t: int, x_c: int, n_c: int) -> None:
    """A zero cell: 0.5 is added to every cell for RR and OR; everything stays finite."""
    r = compare_proportions(x_t, n_t, x_c, n_c)
    assert r.zero_cell_correction
    a, b, c, d = x_t + 0.5, n_t - x_t + 0.5, x_c + 0.5, n_c - x_c + 0.5
    rr = (a / (a + b)) / (c / (c + d))
    se = math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    assert r.risk_ratio == pytest.approx(rr)
    assert r.risk_ratio_ci == pytest.approx(
        (rr * math.exp(-1.959964 * se), rr * math.exp(1.959964 * se))
    )
    assert r.odds_ratio == pytest.approx(a * d / (b * c))
    values = [r.risk_difference, r.risk_ratio, r.odds_ratio, r.chi2, r.fisher_p]
    values += [*r.risk_difference_ci, *r.risk_ratio_ci, *r.odds_ratio_ci, r.chi2_p]
    assert all(math.isfinite(v) for v in values)
    assert r.risk_ratio_ci[0] < r.risk_ratio < r.risk_ratio_ci[1]
    assert r.odds_ratio_ci[0] < r.odds_ratio < r.odds_ratio_ci[1]


def test_no_zero_cell_means_no_correction() -> None:
    r = compare_proportions(1, 10, 9, 10)
    assert not r.zero_cell_correction
    assert r.risk_ratio == pytest.approx(1 / 9)


def test_two_by_two_dict_and_str() -> None:
    r = compare_proportions(10, 12, 4, 16, event="failure")
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["risk_ratio_ci"] == list(r.risk_ratio_ci)
    assert d["event"] == "failure"
    text = str(r)
    for needle in ("risk ratio", "0.222", "(0.061, 0.812)", "7.146", "failure"):
        assert needle in text


def test_compare_proportions_validates() -> None:
    with pytest.raises(ValueError, match='"n_t"'):
        compare_proportions(0, 0, 1, 5)
    with pytest.raises(ValueError, match='"event"'):
        compare_proportions(1, 5, 1, 5, event="death")
    with pytest.raises(ValueError, match='"level"'):
        compare_proportions(1, 5, 1, 5, level=95)
    with pytest.raises(ValueError, match='"x_c"'):
        compare_proportions(1, 5, 6, 5)
