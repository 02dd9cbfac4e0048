"""Tests of simtrial.priors.mixture: Beta/Gamma mixtures, conjugate updates, robustify, EM.

Reference values from R are quoted with the R code that printed them (RBesT's rendered
documentation, https://opensource.nibr.com/RBesT/, files ``reference/*.md`` and
``articles/introduction.md`` of the Novartis/RBesT repository). Statistical checks use fixed
seeds and tolerances of 4 Monte Carlo / asymptotic standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from simtrial.errors import PriorError
from simtrial.priors.em import fit_beta_mixture, fit_gamma_mixture
from simtrial.priors.mixture import BetaMixture, GammaMixture, robustify

# RBesT "Getting started" vignette (articles/introduction.md), MAP prior for the AS placebo
# response, printed by ``map <- automixfit(map_mcmc); print(map)``.
AS_MAP = BetaMixture(
    [0.4612914, 0.1917812, 0.1893896, 0.1575378],
    [33.9513487, 19.4400089, 12.2692310, 2.2521243],
    [103.0146367, 41.5205219, 55.9202833, 5.4812202],
)
# RBesT ?mixgamma / ?ess example: ``gmix <- mixgamma(rob = c(0.3, 20, 4), inf = c(0.7, 50, 10))``
GMIX = GammaMixture([0.3, 0.7], [20.0, 50.0], [4.0, 10.0])
# RBesT qmix solves with uniroot's default tol = .Machine$double.eps^0.25 = 1.22e-4 (R/mix.R),
# so its printed quantiles are only that accurate.
RBEST_QUANTILE_TOL = 1.3e-4


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


# -- construction and validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weights", "a", "b", "match"),
    [
        ([0.5, 0.6], [1, 1], [1, 1], "sum to 1"),
        ([-0.5, 1.5], [1, 1], [1, 1], ">= 0"),
        ([1.0], [0.0], [1.0], '"a" must be > 0'),
        ([1.0], [1.0], [-2.0], '"b" must be > 0'),
        ([0.5, 0.5], [1, 1], [1], "same length"),
        ([1.0], [np.nan], [1.0], "finite"),
    ],
)
def test_invalid_parameters_are_rejected(weights, a, b, match):
    with pytest.raises(PriorError, match=match):
        BetaMixture(weights, a, b)


def test_mixture_is_immutable_and_comparable():
    mix = BetaMixture([0.2, 0.8], [1, 10], [1, 2])
    with pytest.raises(ValueError):
        mix.weights[0] = 0.5
    assert mix == BetaMixture([0.2, 0.8], [1.0, 10.0], [1.0, 2.0])
    assert mix != GammaMixture([0.2, 0.8], [1.0, 10.0], [1.0, 2.0])
    assert hash(mix) == hash(BetaMixture([0.2, 0.8], [1.0, 10.0], [1.0, 2.0]))


def test_to_dict_round_trip_and_str():
    mix = BetaMixture([0.2, 0.8], [1.0, 10.0], [1.0, 2.0])
    d = mix.to_dict()
    assert d == [{"weight": 0.2, "a": 1.0, "b": 1.0}, {"weight": 0.8, "a": 10.0, "b": 2.0}]
    assert BetaMixture.from_dict(d) == mix
    assert GammaMixture.from_dict(GMIX.to_dict()) == GMIX
    text = str(mix)
    assert "BetaMixture with 2 component(s)" in text and "comp2" in text and "mean" in text
    with pytest.raises(PriorError, match='"weight", "a", "b"'):
        BetaMixture.from_dict([{"w": 1.0, "a": 1.0, "b": 1.0}])


# -- closed forms ---------------------------------------------------------------------------------


def test_single_beta_matches_scipy():
    a, b = 3.5, 11.0
    mix = BetaMixture([1.0], [a], [b])
    x = np.linspace(0.001, 0.999, 201)
    np.testing.assert_allclose(mix.pdf(x), stats.beta.pdf(x, a, b), rtol=1e-12)
    np.testing.assert_allclose(mix.logpdf(x), stats.beta.logpdf(x, a, b), rtol=1e-12)
    np.testing.assert_allclose(mix.cdf(x), stats.beta.cdf(x, a, b), rtol=1e-12)
    q = np.array([1e-6, 0.025, 0.5, 0.975, 1 - 1e-6])
    np.testing.assert_allclose(mix.ppf(q), stats.beta.ppf(q, a, b), rtol=1e-10)
    assert mix.mean() == pytest.approx(stats.beta.mean(a, b), rel=1e-14)
    assert mix.var() == pytest.approx(stats.beta.var(a, b), rel=1e-12)
    assert mix.ppf(0.0) == 0.0 and mix.ppf(1.0) == 1.0 and np.isnan(mix.ppf(1.5))


def test_single_gamma_matches_scipy():
    a, b = 4.0, 2.5  # shape, rate
    mix = GammaMixture([1.0], [a], [b])
    x = np.linspace(0.01, 8, 201)
    np.testing.assert_allclose(mix.pdf(x), stats.gamma.pdf(x, a, scale=1 / b), rtol=1e-12)
    np.testing.assert_allclose(mix.cdf(x), stats.gamma.cdf(x, a, scale=1 / b), rtol=1e-12)
    q = np.array([0.001, 0.5, 0.999])
    np.testing.assert_allclose(mix.ppf(q), stats.gamma.ppf(q, a, scale=1 / b), rtol=1e-10)
    assert mix.mean() == pytest.approx(a / b) and mix.var() == pytest.approx(a / b**2)


def test_two_component_cdf_equals_integrated_pdf():
    mix = BetaMixture([0.3, 0.7], [2.0, 30.0], [8.0, 10.0])
    for x in (0.05, 0.2, 0.5, 0.74, 0.9):
        ref, err = integrate.quad(lambda t: float(mix.pdf(t)), 0.0, x, epsabs=1e-13, limit=200)
        assert mix.cdf(x) == pytest.approx(ref, abs=1e-10)
    q = np.linspace(0.001, 0.999, 37)
    np.testing.assert_allclose(mix.cdf(mix.ppf(q)), q, atol=1e-12)
    np.testing.assert_allclose(GMIX.cdf(GMIX.ppf(q)), q, atol=1e-12)


def test_summaries_match_rbest_documentation():
    """R (RBesT vignette "Getting started", articles/introduction.md)::

        summary(map)
        ##       mean         sd       2.5%      50.0%      97.5%
        ## 0.25545885 0.08662045 0.10730400 0.24758768 0.46276759

    and ``?mixgamma``::

        summary(gmix)
        #>      mean        sd      2.5%     50.0%     97.5%
        #> 5.0000000 0.8514693 3.4362134 4.9560695 6.8210139

    Means and sds are closed forms (agreement to the printed 8 digits); the quantiles to
    RBesT's root-finding tolerance.
    """
    assert AS_MAP.mean() == pytest.approx(0.25545885, abs=1e-8)
    assert AS_MAP.sd() == pytest.approx(0.08662045, abs=1e-8)
    np.testing.assert_allclose(
        AS_MAP.ppf([0.025, 0.5, 0.975]),
        [0.10730400, 0.24758768, 0.46276759],
        atol=RBEST_QUANTILE_TOL,
    )
    assert GMIX.mean() == pytest.approx(5.0, abs=1e-12)
    assert GMIX.sd() == pytest.approx(0.8514693, abs=1e-7)
    np.testing.assert_allclose(
        GMIX.ppf([0.025, 0.5, 0.975]), [3.4362134, 4.9560695, 6.8210139], atol=RBEST_QUANTILE_TOL
    )


@pytest.mark.parametrize("mix", [AS_MAP, GMIX], ids=["beta", "gamma"])
def test_sample_moments_within_4_monte_carlo_se(mix, rng):
    """Sample mean and variance of 100 000 draws vs mean()/var(); SE of the mean sd/sqrt(n), of
    the variance sqrt((mu4 - sigma^4)/n) with mu4 the exact fourth central moment (quadrature)."""
    n = 100_000
    x = mix.sample(n, rng)
    mu, var = mix.mean(), mix.var()
    hi = float(mix.ppf(1 - 1e-13))
    mu4 = integrate.quad(lambda t: (t - mu) ** 4 * float(mix.pdf(t)), 0, hi, limit=200)[0]
    assert abs(x.mean() - mu) < 4 * np.sqrt(var / n)
    assert abs(x.var() - var) < 4 * np.sqrt((mu4 - var**2) / n)


def test_sample_is_reproducible_and_needs_a_generator():
    a = AS_MAP.sample(50, np.random.default_rng(1))
    b = AS_MAP.sample(50, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="Generator"):
        AS_MAP.sample(5, 1)  # type: ignore[arg-type]


# -- conjugate posterior --------------------------------------------------------------------------


def test_beta_posterior_matches_rbest_postmix_example():
    """RBesT ``?postmix`` example (reference/postmix.md), printed to 9 decimals.

    R::

        prior.rob <- mixbeta(c(0.5, 4, 10), c(0.5, 1, 1))
        posterior.rob <- postmix(prior.rob, n = 20, r = 18)
        #>   comp1        comp2
        #> w  0.002672948  0.997327052
        #> a 22.000000000 19.000000000
        #> b 12.000000000  3.000000000
    """
    post = BetaMixture([0.5, 0.5], [4.0, 1.0], [10.0, 1.0]).posterior(r=18, n=20)
    np.testing.assert_allclose(post.weights, [0.002672948, 0.997327052], atol=1e-9)
    np.testing.assert_array_equal(post.a, [22.0, 19.0])
    np.testing.assert_array_equal(post.b, [12.0, 3.0])


def test_beta_posterior_equals_grid_normalised_prior_times_likelihood():
    prior = BetaMixture([0.3, 0.5, 0.2], [2.0, 20.0, 1.0], [6.0, 12.0, 1.0])
    r, n = 7, 25
    grid = np.linspace(0.0, 1.0, 200_001)[1:-1]
    unnorm = prior.pdf(grid) * grid**r * (1 - grid) ** (n - r)
    brute = unnorm / integrate.trapezoid(unnorm, grid)
    post = prior.posterior(r, n)
    np.testing.assert_allclose(post.pdf(grid), brute, atol=1e-6 * brute.max())


def test_gamma_posterior_equals_grid_normalised_prior_times_likelihood():
    events, exposure = 30.0, 4.0
    grid = np.linspace(0.0, 40.0, 200_001)[1:]
    unnorm = GMIX.pdf(grid) * grid**events * np.exp(-grid * exposure)
    brute = unnorm / integrate.trapezoid(unnorm, grid)
    post = GMIX.posterior(events, exposure)
    np.testing.assert_allclose(post.a, GMIX.a + events)
    np.testing.assert_allclose(post.b, GMIX.b + exposure)
    np.testing.assert_allclose(post.pdf(grid), brute, atol=1e-6 * brute.max())


def test_posterior_rejects_impossible_data():
    with pytest.raises(PriorError, match='"r" <= "n"'):
        AS_MAP.posterior(r=5, n=3)
    with pytest.raises(PriorError, match="exposure"):
        GMIX.posterior(events=2, exposure=-1)


# -- robustify ------------------------------------------------------------------------------------


def test_robustify_matches_rbest_examples():
    """R (RBesT ``?robustify``, reference/robustify.md)::

        bmix <- mixbeta(inf1 = c(0.2, 8, 3), inf2 = c(0.8, 10, 2))
        robustify(bmix, weight = 0.1, mean = 0.5)
        #>   inf1  inf2  robust
        #> w  0.18  0.72  0.10
        #> a  8.00 10.00  1.00
        #> b  3.00  2.00  1.00
        gmnMix <- mixgamma(inf1 = c(0.2, 2, 3), inf2 = c(0.8, 2, 5), param = "mn")
        robustify(gmnMix, weight = 0.1, mean = 2)
        #> w  0.18  0.72  0.10
        #> a  6.00 10.00  2.00
        #> b  3.00  5.00  1.00

    and the vignette's ``robustify(map, weight = 0.2, mean = 1/2)`` weights
    ``0.3690331 0.1534249 0.1515117 0.1260303 0.2000000``.
    """
    rob = robustify(BetaMixture([0.2, 0.8], [8.0, 10.0], [3.0, 2.0]), weight=0.1, mean=0.5)
    np.testing.assert_allclose(rob.weights, [0.18, 0.72, 0.10], atol=1e-15)
    np.testing.assert_array_equal(rob.a, [8.0, 10.0, 1.0])
    np.testing.assert_array_equal(rob.b, [3.0, 2.0, 1.0])
    assert robustify(BetaMixture([1.0], [8.0], [3.0]), 0.1) == BetaMixture(
        [0.9, 0.1], [8.0, 1.0], [3.0, 1.0]
    )  # default mean 1/2 and n = 1: the uniform Beta(1, 1)

    gmn = GammaMixture([0.2, 0.8], [2.0 * 3, 2.0 * 5], [3.0, 5.0])  # mean 2, n = 3 and 5
    rg = robustify(gmn, weight=0.1, mean=2.0)
    np.testing.assert_allclose(rg.weights, [0.18, 0.72, 0.10], atol=1e-15)
    np.testing.assert_array_equal(rg.a, [6.0, 10.0, 2.0])
    np.testing.assert_array_equal(rg.b, [3.0, 5.0, 1.0])

    np.testing.assert_allclose(
        robustify(AS_MAP, 0.2, 0.5).weights,
        [0.3690331, 0.1534249, 0.1515117, 0.1260303, 0.2],
        atol=1e-7,
    )


def test_robustify_rejects_bad_arguments():
    with pytest.raises(PriorError, match='"weight"'):
        robustify(AS_MAP, 1.5)
    with pytest.raises(PriorError, match='"mean"'):
        robustify(AS_MAP, 0.2, mean=1.0)


# -- EM fitting -----------------------------------------------------------------------------------


def _observed_information_se(x, logpdf, theta_hat, functionals):
    """Asymptotic SEs of ``functionals(theta)`` at the MLE: delta method with the observed
    information -H of sum(logpdf(x, theta)) (central finite differences, step 1e-4)."""
    k, h = theta_hat.size, 1e-4

    def ll(t):
        return float(np.sum(logpdf(x, t)))

    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            hess[i, j] = (
                ll(theta_hat + ei + ej)
                - ll(theta_hat + ei - ej)
                - ll(theta_hat - ei + ej)
                + ll(theta_hat - ei - ej)
            ) / (4 * h * h)
    cov = np.linalg.inv(-hess)
    f0 = functionals(theta_hat)
    jac = np.array([(functionals(theta_hat + np.eye(k)[i] * h) - f0) / h for i in range(k)]).T
    return np.sqrt(np.diag(jac @ cov @ jac.T))


def _two_comp_check(fit, truth, draws, family):
    """Fitted weights and component means within 4 asymptotic SEs of the truth."""
    order = np.argsort(fit.a / (fit.a + fit.b) if family == "beta" else fit.a / fit.b)
    w, a, b = fit.weights[order], fit.a[order], fit.b[order]
    theta = np.array([special.logit(w[0]), *np.log(a), *np.log(b)])

    def unpack(t):
        w1 = special.expit(t[0])
        return np.array([w1, 1 - w1]), np.exp(t[1:3]), np.exp(t[3:5])

    def logpdf(x, t):
        ww, aa, bb = unpack(t)
        cls = BetaMixture if family == "beta" else GammaMixture
        return cls(ww, aa, bb).logpdf(x)

    def functionals(t):
        ww, aa, bb = unpack(t)
        means = aa / (aa + bb) if family == "beta" else aa / bb
        return np.array([ww[0], *means])

    se = _observed_information_se(draws, logpdf, theta, functionals)
    t_order = np.argsort(truth.mean_components)
    truth_f = np.array([truth.weights[t_order][0], *truth.mean_components[t_order]])
    assert np.all(np.abs(functionals(theta) - truth_f) < 4 * se), (functionals(theta), truth_f, se)


class _Truth:
    def __init__(self, mix):
        self.weights = mix.weights
        self.mean_components = (
            mix.a / (mix.a + mix.b) if isinstance(mix, BetaMixture) else mix.a / mix.b
        )


def test_em_recovers_two_component_beta_mixture():
    """The RBesT ``?automixfit`` example mixture, ``mixbeta(beta1 = c(0.4, 20, 90),
    beta2 = c(0.6, 35, 65))``, from 20 000 draws: two components are selected and the weight and
    component means are within 4 asymptotic SEs (observed information) of the truth; the fitted
    cdf is within the DKW band of the true cdf (sup distance < sqrt(log(2/1e-4) / (2n)))."""
    truth = BetaMixture([0.4, 0.6], [20.0, 35.0], [90.0, 65.0])
    draws = truth.sample(20_000, np.random.default_rng(7))
    fit = fit_beta_mixture(draws, rng=np.random.default_rng(8))
    assert fit.n_components == 2
    _two_comp_check(fit, _Truth(truth), draws, "beta")
    grid = np.linspace(0.01, 0.7, 500)
    dkw = np.sqrt(np.log(2 / 1e-4) / (2 * draws.size))
    assert np.max(np.abs(fit.cdf(grid) - truth.cdf(grid))) < dkw
    # the check has power: a single Beta fitted to the same draws is rejected
    single = fit_beta_mixture(draws, max_components=1)
    assert np.max(np.abs(single.cdf(grid) - truth.cdf(grid))) > dkw


def test_em_recovers_two_component_gamma_mixture():
    truth = GammaMixture([0.3, 0.7], [5.0, 40.0], [10.0, 20.0])  # means 0.5 and 2
    draws = truth.sample(20_000, np.random.default_rng(9))
    fit = fit_gamma_mixture(draws, rng=np.random.default_rng(10))
    assert fit.n_components == 2
    _two_comp_check(fit, _Truth(truth), draws, "gamma")


def test_aic_picks_one_component_for_single_beta_draws():
    """5000 draws from Beta(5, 15): one component is selected and (a, b) lie within 4 SEs of
    the truth, the SEs from the Beta Fisher information I = [[psi1(a) - psi1(a+b), -psi1(a+b)],
    [-psi1(a+b), psi1(b) - psi1(a+b)]] / n."""
    a, b, n = 5.0, 15.0, 5000
    draws = BetaMixture([1.0], [a], [b]).sample(n, np.random.default_rng(11))
    fit = fit_beta_mixture(draws, rng=np.random.default_rng(12))
    assert fit.n_components == 1
    t1 = special.polygamma(1, a + b)
    info = np.array([[special.polygamma(1, a) - t1, -t1], [-t1, special.polygamma(1, b) - t1]])
    se = np.sqrt(np.diag(np.linalg.inv(info) / n))
    assert abs(fit.a[0] - a) < 4 * se[0] and abs(fit.b[0] - b) < 4 * se[1]


def test_em_is_deterministic_given_the_seed():
    draws = AS_MAP.sample(2000, np.random.default_rng(13))
    f1 = fit_beta_mixture(draws, max_components=3, rng=np.random.default_rng(14))
    f2 = fit_beta_mixture(draws, max_components=3, rng=np.random.default_rng(14))
    assert f1 == f2
    assert fit_beta_mixture(draws, max_components=2) == fit_beta_mixture(draws, max_components=2)
    assert np.all(np.diff(f1.weights) <= 0)  # ordered by decreasing weight, as RBesT


def test_constrain_gt1_keeps_shapes_at_least_one():
    """U-shaped draws from Beta(0.5, 0.5): the ML fit has a, b < 1, the constrained one (RBesT's
    default ``constrain_gt1 = TRUE``) sits on the bound a = b = 1."""
    draws = BetaMixture([1.0], [0.5], [0.5]).sample(3000, np.random.default_rng(15))
    free = fit_beta_mixture(draws, max_components=1, constrain_gt1=False)
    bound = fit_beta_mixture(draws, max_components=1)
    assert free.a[0] < 0.6 and free.b[0] < 0.6
    np.testing.assert_allclose([bound.a[0], bound.b[0]], [1.0, 1.0])


def test_fit_rejects_bad_draws():
    with pytest.raises(PriorError, match=r"lie in \[0.0, 1.0\]"):
        fit_beta_mixture([0.2, 0.5, 1.2, 0.3])
    with pytest.raises(PriorError, match="finite"):
        fit_gamma_mixture([1.0, np.nan, 2.0])
    with pytest.raises(PriorError, match="all equal"):
        fit_beta_mixture([0.3] * 10)
