"""Likelihood terms of the msc fits against independent references: SciPy's distributions,
closed forms, patient-level simulations (fixed seeds, tolerances of 4 Monte Carlo SE), and a
wrong model that must fail the same check."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, stats

from simtrial.errors import PriorError
from simtrial.priors.evidence import load_all
from simtrial.priors.likelihood import (
    NUMPY,
    ONSET_GRID,
    censored_mean_logpdf,
    onset_log_weights,
    pilot_terms,
    pointwise_loglik,
    redosing_logpmf,
    redosing_probabilities,
    relapse_probability,
    response_probability,
)


@pytest.fixture(scope="module")
def evidence():
    return load_all()


# -- AS: mean of 24 exponential durations censored at 16 weeks --------------------------------


def test_censored_mean_without_censoring_is_the_gamma_density():
    """C → ∞: the mean of m Exp(λ) is Gamma(shape m, rate mλ) (the v1 likelihood)."""
    lam = np.array([0.05, 0.12, 0.3])
    got = censored_mean_logpdf(lam, 24, 7.1, 1e5)
    ref = stats.gamma(24, scale=1 / (24 * lam)).logpdf(7.1)
    np.testing.assert_allclose(got, ref, rtol=1e-10)


def _mean_of_censored(lam, m, cut, n, rng):
    return np.minimum(rng.exponential(1 / lam, size=(n, m)), cut).mean(axis=1)


@pytest.mark.parametrize("lam", [0.08, 0.14])
def test_censored_mean_density_against_simulation(lam):
    """P(7.0 < mean < 7.2) by simulating 24 censored durations vs the integral of the density;
    the uncensored Gamma density (the wrong model for censored data) must fail the check."""
    rng = np.random.default_rng(20261204)
    n = 400_000
    sim = _mean_of_censored(lam, 24, 16.0, n, rng)
    p_sim = np.mean((sim > 7.0) & (sim < 7.2))
    se = math.sqrt(p_sim * (1 - p_sim) / n)

    def dens(x):
        return float(np.exp(censored_mean_logpdf(np.array([lam]), 24, x, 16.0))[0])

    p = integrate.quad(dens, 7.0, 7.2)[0]
    assert abs(p - p_sim) <= 4 * se, (p, p_sim, se)
    wrong = stats.gamma(24, scale=1 / (24 * lam))
    p_wrong = wrong.cdf(7.2) - wrong.cdf(7.0)
    assert abs(p_wrong - p_sim) > 4 * se


def test_censored_mean_density_integrates_to_the_uncensored_mass():
    """The density covers means below the cut-off; the atom at the cut-off (all 24 censored)
    has probability exp(-24 λ C)."""
    lam = 0.1
    total = integrate.quad(
        lambda x: float(np.exp(censored_mean_logpdf(np.array([lam]), 24, x, 16.0))[0]),
        0.05,
        15.999,
        limit=200,
        points=[1, 2, 4, 8],
    )[0]
    assert total == pytest.approx(1 - math.exp(-24 * lam * 16), abs=2e-4)


def test_censored_mle_near_the_expected_losses_fixed_point():
    """With D losses seen, the censored-exponential MLE is D / S (S = total observed time).
    D is not reported; the fixed point λ = E[D] / S = 24 (1 - e^{-16 λ}) / (24 · 7.1) is the
    closed-form approximation the review used (mean duration ≈ 8.3 weeks). The exact marginal
    likelihood's maximum lies within 3% of it, and well below the uncensored 1/7.1."""
    fixed = 0.1
    for _ in range(200):
        fixed = 24 * (1 - math.exp(-16 * fixed)) / (24 * 7.1)
    grid = np.linspace(0.05, 0.25, 4001)
    mle = grid[np.argmax(censored_mean_logpdf(grid, 24, 7.1, 16.0))]
    assert mle == pytest.approx(fixed, rel=0.03)
    assert mle < 0.9 / 7.1


def test_censored_mean_refuses_impossible_data():
    with pytest.raises(PriorError, match="cannot exceed"):
        censored_mean_logpdf(np.array([0.1]), 24, 17.0, 16.0)


# -- SLE: relapse with the remission time unknown ---------------------------------------------


@pytest.mark.parametrize("lam", [0.0015, 0.004])
def test_relapse_probability_against_simulation(lam):
    rng = np.random.default_rng(7)
    n = 400_000
    tau = rng.uniform(0, 52, n)
    relapsed = rng.exponential(1 / lam, n) < 260 - tau
    p_sim, se = relapsed.mean(), relapsed.std() / math.sqrt(n)
    assert abs(relapse_probability(lam, 260.0, 52.0) - p_sim) <= 4 * se
    # fixed 208 weeks (v1) is a different model: its value differs by more than 4 SE
    assert abs(relapse_probability(lam, 208.0, 0.0) - p_sim) > 4 * se
    assert relapse_probability(lam, 208.0, 0.0) == pytest.approx(1 - math.exp(-208 * lam))


# -- JIA: re-dosing on loss within a year -----------------------------------------------------


def _simulate_redosing(c, q, lam, onset, horizon, n, rng):
    """Patient-level simulation: (number of infusions, responding at the horizon)."""
    infusions = np.ones(n, int)
    responding = np.zeros(n, bool)
    for i in range(n):
        if rng.random() >= c:
            continue
        t = 0.0  # time of the current infusion
        while True:
            start = t + onset
            if start > horizon or rng.random() >= q:
                break  # not (re-)induced by the horizon
            lost = start + rng.exponential(1 / lam)
            if lost > horizon:
                responding[i] = True
                break
            if infusions[i] == 3:
                break  # at most two re-doses
            infusions[i] += 1
            t = lost
    return infusions, responding


@pytest.mark.parametrize(("c", "q", "lam", "onset"), [(0.9, 0.7, 0.03, 2.0), (1.0, 0.5, 0.08, 4.0)])
def test_redosing_probabilities_against_simulation(c, q, lam, onset):
    rng = np.random.default_rng(11)
    n = 60_000
    inf, resp = _simulate_redosing(c, q, lam, onset, 52.0, n, rng)
    p = redosing_probabilities(q, lam, c, 52.0, onset)
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-12)
    cells = {
        "one_responding": (inf == 1) & resp,
        "one_not": (inf == 1) & ~resp,
        "two_responding": (inf == 2) & resp,
        "two_not": (inf == 2) & ~resp,
        "three": inf == 3,
    }
    for key, hit in cells.items():
        p_sim = hit.mean()
        se = math.sqrt(max(p_sim * (1 - p_sim), 1e-6) / n)
        assert abs(p[key] - p_sim) <= 4 * se, (key, p[key], p_sim, se)


def test_redosing_margins_sum_over_tables_by_brute_force():
    """log P(margins) = log Σ multinomial pmf over every full table with those margins."""
    p = redosing_probabilities(0.7, 0.03, 0.9, 52.0, 2.0)
    keys = ("one_responding", "one_not", "two_responding", "two_not", "three")
    probs = [p[k] for k in keys]
    total = 0.0
    for counts in itertools.product(range(7), repeat=5):
        if sum(counts) != 6:
            continue
        n1, n2, n3 = counts[0] + counts[1], counts[2] + counts[3], counts[4]
        if (n1, n2, n3) == (3, 3, 0) and counts[0] + counts[2] == 3:
            total += stats.multinomial.pmf(counts, 6, probs)
    assert redosing_logpmf(p, 6, [3, 3, 0], 3) == pytest.approx(math.log(total), rel=1e-10)
    with pytest.raises(PriorError, match="three infusions"):
        redosing_logpmf(p, 6, [3, 2, 1], 3)


# -- the terms: NumPy and PyTensor agree; v1 terms = the msc_v1 model ---------------------------


def _params(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "induction": rng.uniform(0.3, 0.9, (n, 5)),
        "loss": rng.uniform(0.002, 0.2, (n, 5)),
        "ceiling": rng.uniform(0.6, 1.0, n),
        "ae": rng.uniform(0.001, 0.05, n),
        "sae": rng.uniform(0.01, 0.5, n),
    }


def test_terms_are_the_same_in_numpy_and_pytensor(evidence):
    pytest.importorskip("pytensor")
    import pytensor.tensor as pt

    from simtrial.priors.likelihood import pytensor_ops

    ops = pytensor_ops()
    params = _params(1)
    one = {k: v[0] for k, v in params.items()}
    tparams = {k: pt.as_tensor_variable(v) for k, v in one.items()}
    for term in pilot_terms(evidence, "v2"):
        for d in ONSET_GRID:
            np.testing.assert_allclose(
                float(term.loglik(tparams, d, ops).eval()),
                float(term.loglik(one, d, NUMPY)),
                rtol=1e-9,
                err_msg=term.name,
            )


def test_v2_terms_cover_every_pilot_and_the_new_data(evidence):
    names = {t.name.split(":")[1] for t in pilot_terms(evidence, "v2")}
    assert {"redosing_year1", "asas20_duration", "relapses", "ever_in_remission"} <= names
    assert "redosing_year1" not in {t.name.split(":")[1] for t in pilot_terms(evidence, "v1")}
    with pytest.raises(PriorError, match="version"):
        pilot_terms(evidence, "v3")


def test_pointwise_and_onset_weights(evidence):
    terms = pilot_terms(evidence, "v2")
    params = _params(4)
    onset = np.array([1.0, 2.0, 3.0, 4.0])
    ll = pointwise_loglik(terms, params, onset)
    assert ll.shape == (4, len(terms)) and np.isfinite(ll).all()
    # draw i at onset d_i equals the single-draw evaluation
    one = {k: v[2:3] for k, v in params.items()}
    assert ll[2, 0] == pytest.approx(float(terms[0].loglik(one, 3.0, NUMPY)[0]))
    w = np.exp(onset_log_weights(terms, params))
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    # the AS week-4 count depends on the onset: with onset 4 only one induction by week 4
    as_term = next(t for t in terms if t.name.endswith("asas20_week4"))
    assert as_term.uses_onset
    p4 = response_probability(0.5, 0.1, 1.0, [0, 1, 2, 3], 4.0, 4.0)
    assert p4 == pytest.approx(0.5)
