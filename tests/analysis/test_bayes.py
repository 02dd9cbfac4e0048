"""Tests of simtrial.analysis.bayes: posterior probabilities, decision tables, predictive PoS.

References, all independent of the module under test:

- adaptive quadrature (``scipy.integrate.quad``) of the posterior probability, after the
  probability-integral transform ``u = F_t(p)`` so that the integrand is bounded;
- the exact finite sum for P(B > A) of two Beta variables with an integer shape (Cook 2005,
  "Exact calculation of beta inequalities", MD Anderson Biostatistics Tech. Rep. UTMDABTR-005-05;
  popularised by E. Miller, "Formulas for Bayesian A/B testing", 2015);
- operating characteristics printed in RBesT's vignette "Getting started with RBesT (binary)"
  (``articles/introduction.md`` of the Novartis/RBesT repository, RBesT 1.11-0, rendered at
  https://opensource.nibr.com/RBesT/articles/introduction.html), quoted with their R code;
- brute-force enumeration of future outcomes with ``scipy.stats.betabinom`` for the
  predictive probability.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from scipy import integrate, optimize, special, stats

from simtrial.analysis import bayes
from simtrial.analysis.bayes import (
    decision_table,
    posterior_probability_table,
    predictive_probability,
    predictive_probability_table,
)
from simtrial.priors.mixture import BetaMixture, robustify

FLAT = BetaMixture([1.0], [1.0], [1.0])
JEFFREYS = BetaMixture([1.0], [0.5], [0.5])
# Shapes below 1 at both ends: densities unbounded at 0 and at 1.
SPIKY = BetaMixture([0.3, 0.7], [0.3, 8.0], [2.0, 0.6])

# RBesT vignette "Getting started" (articles/introduction.md): the MAP prior for the placebo
# ASAS20 response in ankylosing spondylitis (8 historical trials, Baeten et al., Lancet 2013),
#   set.seed(34563)
#   map_mcmc <- gMAP(cbind(r, n - r) ~ 1 | study, data = AS, tau.dist = "HalfNormal",
#                    tau.prior = 1, beta.prior = 2, family = binomial)
#   map <- automixfit(map_mcmc); print(map)
#   ##   comp1       comp2       comp3       comp4
#   ## w   0.4612914   0.1917812   0.1893896   0.1575378
#   ## a  33.9513487  19.4400089  12.2692310   2.2521243
#   ## b 103.0146367  41.5205219  55.9202833   5.4812202
#   map_robust <- robustify(map, weight = 0.2, mean = 1 / 2)
#   treat_prior <- mixbeta(c(1, 0.5, 1))   # prior for treatment used in trial
#   summary(map)   ##       mean ... 0.25545885 ...
AS_MAP = BetaMixture(
    [0.4612914, 0.1917812, 0.1893896, 0.1575378],
    [33.9513487, 19.4400089, 12.2692310, 2.2521243],
    [103.0146367, 41.5205219, 55.9202833, 5.4812202],
)
AS_MAP_ROBUST = robustify(AS_MAP, weight=0.2, mean=0.5)
AS_TREAT = BetaMixture([1.0], [0.5], [1.0])
AS_MAP_MEAN = 0.25545885


# --------------------------------------------------------------------------- references


_EPS = 1e-13


def _quad_probability(post_t: BetaMixture, post_c: BetaMixture, margin: float) -> float:
    """P(p_t - p_c > margin) by adaptive quadrature, independently of the module.

    For each treatment component k, ``P_k = int_0^1 F_c(F_k^{-1}(u) - margin) du``: the
    integrand is bounded and monotone whatever the shapes (no density is evaluated). The
    interval is split where the control CDF moves (its quantiles mapped through ``F_k``).
    """

    def f_c(q: float) -> float:
        if q <= 0.0:
            return 0.0
        if q >= 1.0:
            return 1.0
        return float(np.sum(post_c.weights * special.betainc(post_c.a, post_c.b, q)))

    levels = np.array([1e-12, 1e-8, 1e-5, 1e-3, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98, 1 - 1e-3])
    levels = np.concatenate([levels, [1 - 1e-5, 1 - 1e-8]])
    total = 0.0
    for w, a, b in zip(post_t.weights, post_t.a, post_t.b, strict=True):
        breaks = set(levels.tolist())
        for ac, bc in zip(post_c.a, post_c.b, strict=True):
            shifted = np.clip(special.betaincinv(ac, bc, levels) + margin, 0.0, 1.0)
            breaks.update(special.betainc(a, b, shifted).tolist())
        # u within 1e-13 of 0 or 1 is below the resolution of betaincinv: integrate over
        # [eps, 1 - eps] and add eps for the top end (the integrand lies in [0, 1], so the
        # error is below 2e-13).
        edges = [_EPS]
        for u in sorted(breaks):  # no slivers between near-equal breaks
            if u - edges[-1] > 1e-10 and 1.0 - _EPS - u > 1e-10:
                edges.append(u)
        edges.append(1.0 - _EPS)
        part = 0.0
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            if hi > lo:
                part += integrate.quad(
                    lambda u, a=a, b=b: f_c(float(special.betaincinv(a, b, u)) - margin),
                    lo,
                    hi,
                    epsabs=1e-14,
                    epsrel=1e-12,
                    limit=200,
                )[0]
        total += w * (part + _EPS)
    return total


def _cook_probability(a_b: int, b_b: float, a_a: float, b_a: float) -> float:
    """P(B > A), B ~ Beta(a_b, b_b) with integer a_b, A ~ Beta(a_a, b_a) (Cook 2005):

    sum_{i=0}^{a_b - 1} B(a_a + i, b_a + b_b) / ((b_b + i) B(1 + i, b_b) B(a_a, b_a)).
    """
    i = np.arange(a_b, dtype=float)
    log_terms = (
        special.betaln(a_a + i, b_a + b_b)
        - np.log(b_b + i)
        - special.betaln(1.0 + i, b_b)
        - special.betaln(a_a, b_a)
    )
    return float(np.exp(special.logsumexp(log_terms)))


def _success_probability(table: np.ndarray, theta_t: float, theta_c: float) -> float:
    """Exact P(success) = sum D[x_t, x_c] Bin(x_t; n_t, theta_t) Bin(x_c; n_c, theta_c)."""
    n_t, n_c = table.shape[0] - 1, table.shape[1] - 1
    pmf_t = stats.binom.pmf(np.arange(n_t + 1), n_t, theta_t)
    pmf_c = stats.binom.pmf(np.arange(n_c + 1), n_c, theta_c)
    return float(pmf_t @ table.astype(float) @ pmf_c)


# --------------------------------------------------------------------------- 1. accuracy

# (n_t, n_c, treatment prior, control prior, margin, cells): flat and peaked (n = 400)
# posteriors, the extreme outcomes x = 0 and x = n, shapes below 1 in both arms at the same
# end (the hardest case: both distributions pile up at 0), margins of both signs.
ACCURACY_CASES = [
    (20, 20, FLAT, FLAT, 0.0, [(0, 0), (20, 20), (10, 6), (5, 10)]),
    (20, 20, FLAT, FLAT, 0.15, [(1, 0), (10, 6), (20, 0), (20, 20)]),
    (20, 20, FLAT, FLAT, -0.1, [(19, 20), (5, 10), (0, 20)]),
    (400, 400, FLAT, FLAT, 0.0, [(0, 0), (400, 400), (0, 400), (400, 0), (100, 133)]),
    (400, 400, FLAT, FLAT, 0.15, [(200, 133), (200, 0), (399, 400)]),
    (400, 400, SPIKY, SPIKY, 0.0, [(0, 0), (0, 1), (1, 0), (200, 200), (400, 400)]),
    (400, 400, SPIKY, SPIKY, -0.1, [(0, 1), (100, 133), (400, 400)]),
    (24, 6, AS_TREAT, AS_MAP_ROBUST, 0.4, [(12, 0), (24, 0), (12, 2)]),
    (24, 6, AS_TREAT, AS_MAP_ROBUST, -0.7, [(0, 6), (6, 5)]),
    (50, 30, JEFFREYS, AS_MAP, 0.0, [(0, 0), (50, 30), (12, 10)]),
]
#: Agreement with quadrature; both are accurate to ~1e-13, the rule's own error is far below.
QUAD_TOL = 1e-11


@pytest.mark.parametrize(
    ("n_t", "n_c", "prior_t", "prior_c", "margin", "cells"),
    ACCURACY_CASES,
    ids=[f"{c[0]}x{c[1]}-margin{c[4]}-{i}" for i, c in enumerate(ACCURACY_CASES)],
)
def test_posterior_probability_matches_quadrature(n_t, n_c, prior_t, prior_c, margin, cells):
    table = bayes._posterior_probability_table_uncached(n_t, n_c, prior_t, prior_c, margin)
    for x_t, x_c in cells:
        ref = _quad_probability(prior_t.posterior(x_t, n_t), prior_c.posterior(x_c, n_c), margin)
        assert table[x_t, x_c] == pytest.approx(ref, abs=QUAD_TOL), (x_t, x_c)


def test_quadrature_has_converged():
    """Halving the tanh-sinh step changes no entry by more than 1e-12, doubling it does
    (7e-11 here): geometric convergence, and a step not wastefully small."""
    args = (200, 150, SPIKY, AS_MAP_ROBUST, 0.1)
    h, _ = bayes._quadrature(*args)
    base = bayes._posterior_probability_table_uncached(*args)
    finer = bayes._posterior_probability_table_uncached(*args, step=h / 2)
    coarser = bayes._posterior_probability_table_uncached(*args, step=2 * h)
    assert np.max(np.abs(base - finer)) < 1e-12
    assert np.max(np.abs(coarser - finer)) > 1e-12


# --------------------------------------------------------------------------- 2. closed form


@pytest.mark.parametrize(("n_t", "n_c"), [(0, 0), (1, 3), (12, 16), (30, 25)])
def test_uniform_priors_match_cooks_closed_form_on_every_cell(n_t, n_c):
    table = posterior_probability_table(n_t, n_c, FLAT, FLAT)
    ref = np.array(
        [
            [
                _cook_probability(1 + x_t, 1 + n_t - x_t, 1 + x_c, 1 + n_c - x_c)
                for x_c in range(n_c + 1)
            ]
            for x_t in range(n_t + 1)
        ]
    )
    np.testing.assert_allclose(table, ref, rtol=0, atol=1e-12)


def test_uniform_priors_match_cooks_closed_form_for_200_per_arm():
    table = posterior_probability_table(200, 200, FLAT, FLAT)
    for x_t, x_c in [(0, 0), (200, 200), (0, 200), (200, 0), (57, 31), (120, 101), (99, 100)]:
        ref = _cook_probability(1 + x_t, 201 - x_t, 1 + x_c, 201 - x_c)
        assert table[x_t, x_c] == pytest.approx(ref, abs=1e-12), (x_t, x_c)


def test_seed_000_posterior_probability():
    """Seed 000 (10/12 on MSC vs 4/16 on infliximab) with uniform priors, by Cook's sum."""
    ref = _cook_probability(11, 3, 5, 13)
    assert posterior_probability_table(12, 16, FLAT, FLAT)[10, 4] == pytest.approx(ref, abs=1e-13)


# --------------------------------------------------------------------------- 3. published OC


def test_rbest_vignette_posterior_probability_of_the_analysed_trial():
    """R (RBesT vignette "Getting started", section "Trial Analysis")::

        post_placebo <- postmix(map_robust, r = 1, n = 6)
        post_treat <- postmix(treat_prior, r = 14, n = 24)
        pmixdiff(post_treat, post_placebo, 0, lower.tail = FALSE)
        ## [1] 0.9917197

    Printed to 7 decimals (the tolerance is half a unit there); the MAP mixture is printed to
    7 significant digits too, which moves the probability by less than 1e-8.
    """
    table = posterior_probability_table(24, 6, AS_TREAT, AS_MAP_ROBUST)
    assert table[14, 1] == pytest.approx(0.9917197, abs=5e-8)


def test_rbest_vignette_data_scenarios():
    """R (RBesT vignette "Getting started", section "Data Scenarios")::

        decision <- decision2S(0.95, 0, lower.tail = FALSE)
        ## just positive
        decision(postmix(treat_prior, n = 24, r = 15), postmix(map, n = 6, r = 3))   ## [1] 1
        ## negative
        decision(postmix(treat_prior, n = 24, r = 14), postmix(map, n = 6, r = 4))   ## [1] 0

    and the text: "the decision will always be negative if there are less than 10 events in
    the treatment group" (robust, non-robust and uniform priors, 24 vs 6 patients); "under a
    non-robust prior and assuming 15 events in the treatment group, three (or less) placebo
    events would be needed for success".
    """
    nonrobust = decision_table(24, 6, AS_TREAT, AS_MAP, 0.95)
    assert nonrobust[15, 3] and not nonrobust[14, 4]
    assert nonrobust[15].tolist() == [True] * 4 + [False] * 3
    for prior_t, prior_c in [(AS_TREAT, AS_MAP), (AS_TREAT, AS_MAP_ROBUST), (FLAT, FLAT)]:
        table = decision_table(24, 6, prior_t, prior_c, 0.95)
        assert not table[:10].any() and table[10].any()


def test_rbest_vignette_effect_for_80_percent_power():
    """Exact power by enumeration reproduces RBesT's ``oc2S`` (which is exact for Beta
    mixtures). R (RBesT vignette "Getting started", section "Power")::

        uniform_prior <- mixbeta(c(1, 1, 1))
        decision <- decision2S(0.95, 0, lower.tail = FALSE)
        design_uniform <- oc2S(uniform_prior, uniform_prior, 24, 6, decision)
        design_classic <- oc2S(uniform_prior, uniform_prior, 24, 24, decision)
        design_nonrobust <- oc2S(treat_prior, map, 24, 6, decision)
        design_robust <- oc2S(treat_prior, map_robust, 24, 6, decision)
        mean_control <- summary(map)["mean"]
        find_delta <- function(design, theta_control, target_power) {
          uniroot(function(delta) design(theta_control + delta, theta_control) - target_power,
                  interval = c(0, 1 - theta_control))$root
        }
        ## | delta | prior         |
        ## | 0.302 | non-robust    |
        ## | 0.341 | uniform 24:24 |
        ## | 0.368 | robust        |
        ## | 0.529 | uniform       |

    uniroot's default tolerance is .Machine$double.eps^0.25 = 1.22e-4, so the published root is
    within 5e-4 (rounding) + 1.22e-4 of the exact one.
    """
    assert AS_MAP.mean() == pytest.approx(AS_MAP_MEAN, abs=5e-9)  # the printed mixture is the map
    published = {
        "non-robust": (AS_TREAT, AS_MAP, 24, 6, 0.302),
        "uniform 24:24": (FLAT, FLAT, 24, 24, 0.341),
        "robust": (AS_TREAT, AS_MAP_ROBUST, 24, 6, 0.368),
        "uniform": (FLAT, FLAT, 24, 6, 0.529),
    }
    found = {}
    for name, (prior_t, prior_c, n_t, n_c, delta) in published.items():
        table = decision_table(n_t, n_c, prior_t, prior_c, 0.95)

        def excess_power(d, table=table):
            return _success_probability(table, AS_MAP_MEAN + d, AS_MAP_MEAN) - 0.8

        found[name] = optimize.brentq(excess_power, 0.0, 1.0 - AS_MAP_MEAN, xtol=1e-10)
        assert found[name] == pytest.approx(delta, abs=5e-4 + 1.22e-4), name
    # A wrong design fails the same check: ignoring the robust component moves the effect
    # from 0.368 to 0.302.
    assert found["non-robust"] != pytest.approx(published["robust"][-1], abs=5e-4 + 1.22e-4)


def test_type_one_error_of_the_uniform_design_is_close_to_nominal():
    """With uniform priors on both arms, P(p_t > p_c | x) > 0.975 behaves like a one-sided test
    at 2.5%, slightly anti-conservative near p = 0.5 like the uncorrected z test: the exact
    size over common rates 0.05..0.95 peaks at 0.0283 for 40 per arm (at p = 0.5) and at
    0.0255 for 200 per arm, and stays far below 0.025 near 0 and 1."""
    for n, peak in [(40, 0.0283), (200, 0.0255)]:
        table = decision_table(n, n, FLAT, FLAT, 0.975)
        sizes = np.array([_success_probability(table, p, p) for p in np.linspace(0.05, 0.95, 19)])
        assert sizes.max() == pytest.approx(peak, abs=1e-4)
        assert sizes.argmax() == 9  # p = 0.5
    assert sizes[0] < 0.025


# --------------------------------------------------------------------------- 4. monotonicity

_shape = hst.floats(min_value=0.2, max_value=60.0)


@hst.composite
def _mixtures(draw: hst.DrawFn) -> BetaMixture:
    k = draw(hst.integers(min_value=1, max_value=3))
    raw = draw(hst.lists(hst.floats(0.05, 1.0), min_size=k, max_size=k))
    a = draw(hst.lists(_shape, min_size=k, max_size=k))
    b = draw(hst.lists(_shape, min_size=k, max_size=k))
    return BetaMixture(np.array(raw) / sum(raw), a, b)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    n_t=hst.integers(0, 40),
    n_c=hst.integers(0, 40),
    prior_t=_mixtures(),
    prior_c=_mixtures(),
    threshold=hst.floats(0.5, 0.999),
    margin=hst.floats(-0.3, 0.3),
)
def test_decision_is_monotone(n_t, n_c, prior_t, prior_c, threshold, margin):
    """More treatment responders never turn success into failure, more control responders never
    turn failure into success (the binomial likelihood has a monotone likelihood ratio, so the
    posterior is stochastically increasing in x for any prior)."""
    prob = bayes._posterior_probability_table_uncached(n_t, n_c, prior_t, prior_c, margin)
    # tolerance: the quadrature's accuracy for extreme priors (a shape < 1 against a shape of
    # 20 or more, e.g. Beta(21, 0.25) with one patient, is about 1e-9, not 1e-13)
    assert np.all(np.diff(prob, axis=0) >= -1e-8)
    assert np.all(np.diff(prob, axis=1) <= 1e-8)
    table = prob > threshold
    assert np.all(table[1:] >= table[:-1])
    assert np.all(table[:, 1:] <= table[:, :-1])


# --------------------------------------------------------------------------- 5. predictive


def _predictive_brute_force(x_t, m_t, x_c, m_c, n_t, n_c, prior_t, prior_c, final) -> float:
    """Sum over every future outcome of P(y_t | x_t) P(y_c | x_c) D[x_t + y_t, x_c + y_c], the
    predictive laws being beta-binomial mixtures from BetaMixture.posterior and scipy."""

    def predictive(prior, x, m, n):
        post = prior.posterior(x, m)
        y = np.arange(n - m + 1)
        return sum(
            w * stats.betabinom.pmf(y, n - m, a, b)
            for w, a, b in zip(post.weights, post.a, post.b, strict=True)
        )

    pred_t, pred_c = predictive(prior_t, x_t, m_t, n_t), predictive(prior_c, x_c, m_c, n_c)
    total = 0.0
    for y_t, pt in enumerate(pred_t):
        for y_c, pc in enumerate(pred_c):
            total += pt * pc * final[x_t + y_t, x_c + y_c]
    return total


def _predictive_plug_in(x_t, m_t, x_c, m_c, n_t, n_c, prior_t, prior_c, final) -> float:
    """A WRONG predictive probability: future responders binomial at the posterior means
    (conditional power at the estimate), ignoring the uncertainty in the rates."""
    pred_t = stats.binom.pmf(
        np.arange(n_t - m_t + 1), n_t - m_t, prior_t.posterior(x_t, m_t).mean()
    )
    pred_c = stats.binom.pmf(
        np.arange(n_c - m_c + 1), n_c - m_c, prior_c.posterior(x_c, m_c).mean()
    )
    return float(pred_t @ final[x_t : x_t + n_t - m_t + 1, x_c : x_c + n_c - m_c + 1] @ pred_c)


PP_DESIGN = (14, 10, AS_TREAT, AS_MAP_ROBUST, 0.9, 0.05)  # n_t, n_c, priors, threshold, margin


def test_predictive_probability_at_the_final_analysis_is_the_decision():
    n_t, n_c, prior_t, prior_c, threshold, margin = PP_DESIGN
    final = decision_table(n_t, n_c, prior_t, prior_c, threshold, margin)
    x_t, x_c = np.meshgrid(np.arange(n_t + 1), np.arange(n_c + 1), indexing="ij")
    pp = predictive_probability(x_t, n_t, x_c, n_c, n_t, n_c, prior_t, prior_c, threshold, margin)
    np.testing.assert_array_equal(pp, final.astype(float))


@pytest.mark.parametrize(("m_t", "m_c"), [(0, 0), (7, 5), (13, 2), (14, 0)])
def test_predictive_probability_matches_brute_force(m_t, m_c):
    n_t, n_c, prior_t, prior_c, threshold, margin = PP_DESIGN
    final = decision_table(n_t, n_c, prior_t, prior_c, threshold, margin).astype(float)
    x_t, x_c = np.meshgrid(np.arange(m_t + 1), np.arange(m_c + 1), indexing="ij")
    pp = predictive_probability(x_t, m_t, x_c, m_c, n_t, n_c, prior_t, prior_c, threshold, margin)
    ref = np.vectorize(
        lambda a, b: _predictive_brute_force(a, m_t, b, m_c, n_t, n_c, prior_t, prior_c, final)
    )(x_t, x_c)
    np.testing.assert_allclose(pp, ref, rtol=0, atol=1e-12)
    # A wrong (plug-in binomial) predictive law fails the same check.
    wrong = np.vectorize(
        lambda a, b: _predictive_plug_in(a, m_t, b, m_c, n_t, n_c, prior_t, prior_c, final)
    )(x_t, x_c)
    assert np.max(np.abs(wrong - ref)) > 0.01


def test_predictive_probability_is_a_martingale():
    """Tower property: the predictive probability before the interim is the predictive-weighted
    average of the predictive probabilities at the interim (7 of 14, 5 of 10 per arm)."""
    n_t, n_c, prior_t, prior_c, threshold, margin = PP_DESIGN
    before = predictive_probability(0, 0, 0, 0, n_t, n_c, prior_t, prior_c, threshold, margin)
    interim = predictive_probability_table(7, 5, n_t, n_c, prior_t, prior_c, threshold, margin)
    w_t = sum(
        w * stats.betabinom.pmf(np.arange(8), 7, a, b)
        for w, a, b in zip(prior_t.weights, prior_t.a, prior_t.b, strict=True)
    )
    w_c = sum(
        w * stats.betabinom.pmf(np.arange(6), 5, a, b)
        for w, a, b in zip(prior_c.weights, prior_c.a, prior_c.b, strict=True)
    )
    assert float(w_t @ interim @ w_c) == pytest.approx(float(before), abs=1e-12)


def test_predictive_probability_broadcasts_and_orders():
    pp = predictive_probability([2, 6, 9], 10, 4, 10, 20, 20, FLAT, FLAT, 0.975)
    assert pp.shape == (3,)
    assert pp[0] < pp[1] < pp[2]
    grid = predictive_probability([[2], [6]], 10, [1, 4, 7], 10, 20, 20, FLAT, FLAT, 0.975)
    assert grid.shape == (2, 3)
    assert np.all(np.diff(grid, axis=0) >= 0) and np.all(np.diff(grid, axis=1) <= 0)


# --------------------------------------------------------------------------- API behaviour


def test_tables_are_cached_and_read_only():
    first = decision_table(30, 30, FLAT, AS_MAP_ROBUST, 0.975)
    assert decision_table(30, 30, FLAT, robustify(AS_MAP, 0.2, 0.5), 0.975) is first
    assert first.dtype == bool and first.shape == (31, 31)
    with pytest.raises(ValueError):
        first[0, 0] = True
    prob = posterior_probability_table(30, 30, FLAT, AS_MAP_ROBUST)
    with pytest.raises(ValueError):
        prob[0, 0] = 0.5
    np.testing.assert_array_equal(first, prob > 0.975)


def test_margin_and_degenerate_arms():
    # No patients: the prior probability, P(B(1,1) - B(1,1) > d) = (1 - d)^2 / 2 for d >= 0.
    assert posterior_probability_table(0, 0, FLAT, FLAT, 0.2)[0, 0] == pytest.approx(0.32)
    assert posterior_probability_table(0, 0, FLAT, FLAT, -0.2)[0, 0] == pytest.approx(0.68)
    # A larger margin is harder to meet.
    p0 = posterior_probability_table(20, 20, FLAT, FLAT, 0.0)
    p1 = posterior_probability_table(20, 20, FLAT, FLAT, 0.1)
    assert np.all(p1 <= p0 + 1e-13)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_t": -1}, ValueError, '"n_t" must be an integer'),
        ({"n_c": 2.5}, ValueError, '"n_c" must be an integer'),
        ({"margin": 1.0}, ValueError, '"margin" must be in'),
        ({"threshold": 1.0}, ValueError, '"threshold" must be in'),
        ({"control_prior": "beta(1, 1)"}, TypeError, '"control_prior" must be a BetaMixture'),
    ],
)
def test_invalid_arguments_are_rejected(kwargs, error, match):
    args = {"n_t": 10, "n_c": 10, "treatment_prior": FLAT, "control_prior": FLAT}
    args |= {"threshold": 0.9, "margin": 0.0} | kwargs
    with pytest.raises(error, match=match):
        decision_table(**args)


def test_invalid_interim_counts_are_rejected():
    with pytest.raises(ValueError, match='"x_t" must lie in'):
        predictive_probability(11, 10, 0, 10, 20, 20, FLAT, FLAT, 0.9)
    with pytest.raises(ValueError, match="must not exceed"):
        predictive_probability(1, 30, 0, 10, 20, 20, FLAT, FLAT, 0.9)
