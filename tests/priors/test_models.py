"""PyMC models: the PyTensor π(W) against a plain NumPy recursion, and the model graphs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pymc")

import pymc as pm  # noqa: E402

from simtrial.errors import PriorError  # noqa: E402
from simtrial.priors.evidence import INDICATIONS, load_all  # noqa: E402
from simtrial.priors.likelihood import NUMPY  # noqa: E402
from simtrial.priors.models import (  # noqa: E402
    ONSET_WEEKS,
    as_placebo_model,
    induction_times,
    msc_model,
    msc_v1_model,
    response_probability,
    uc_control_model,
)

pytestmark = [
    # PyTensor compiles C code; without a BLAS library on the machine it says so once. Harmless
    # here (the graphs are scalar arithmetic).
    pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS installation:UserWarning"),
]


def pi_numpy(q, lam, weeks, week, onset=ONSET_WEEKS, ceiling=1.0):
    """DESIGN §2 by direct recursion over a fine event list (independent of the model code).

    π(0) = 0; at e_k = s_k + onset (e_k <= W): π ← π + (1 − π) q; in between π decays with
    exp(−λ Δt).
    """
    q, lam = np.broadcast_arrays(np.asarray(q, float), np.asarray(lam, float))
    pi = np.zeros(q.shape)
    t = 0.0
    for s in sorted(weeks):
        e = s + onset
        if e > week:
            break
        pi = pi * np.exp(-lam * (e - t)) + 0.0
        pi = pi + (1 - pi) * q
        t = e
    return ceiling * pi * np.exp(-lam * (week - t))


def pi_by_simulation(q, lam, weeks, week, rng, n=400_000, onset=ONSET_WEEKS):
    """Patient-level simulation of the same process (for a statistical cross-check)."""
    responding = np.zeros(n, bool)
    lost_at = np.full(n, np.inf)
    for s in weeks:
        e = s + onset
        if e > week:
            break
        responding &= lost_at > e
        new = ~responding & (rng.random(n) < q)
        responding |= new
        lost_at[new] = e + rng.exponential(1 / lam, new.sum())
    return np.mean(responding & (lost_at > week))


SCHEDULES = [
    ([0.0], 8.0),
    ([0.0, 4.0, 8.0], 12.0),
    ([0.0, 4.0, 8.0], 16.0),
    ([0.0, 1.0, 2.0, 3.0], 4.0),
    ([0.0, 1.0, 2.0, 3.0], 20.0),
    ([0.0, 6.0], 1.0),  # before the first onset: π = 0
    ([0.0, 4.35, 8.7], 24.0),
]


@pytest.mark.parametrize(("weeks", "week"), SCHEDULES)
def test_pytensor_pi_equals_numpy_recursion(weeks, week):
    rng = np.random.default_rng(11)
    q = rng.uniform(0.01, 0.99, size=50)
    lam = rng.lognormal(-3, 1.5, size=50)
    got = response_probability(q, lam, weeks, week).eval()
    np.testing.assert_allclose(got, pi_numpy(q, lam, weeks, week), rtol=1e-12, atol=1e-15)
    got_c = response_probability(q, lam, weeks, week, ceiling=0.7).eval()
    np.testing.assert_allclose(got_c, 0.7 * pi_numpy(q, lam, weeks, week), rtol=1e-12)


def test_pi_special_cases():
    # π(W) before the first induction is 0; with λ = 0 it is 1 - (1-q)^k
    assert response_probability(0.5, 0.1, [0, 4], 1.9).eval() == 0.0
    got = response_probability(0.3, 0.0, [0, 1, 2, 3], 5.0).eval()
    assert got == pytest.approx(1 - 0.7**4, rel=1e-12)
    assert induction_times([0, 1, 2, 3], 4.0) == [2.0, 3.0, 4.0]  # e_k <= W counts
    # one infusion: π(W) = q exp(-λ (W - onset))
    assert response_probability(0.6, 0.05, [0], 8.0).eval() == pytest.approx(
        0.6 * np.exp(-0.05 * 6.0), rel=1e-12
    )


def test_pi_against_patient_simulation():
    """The closed form is the process of DESIGN §2 (4 Monte Carlo SE)."""
    rng = np.random.default_rng(2024)
    q, lam, weeks, week = 0.45, 0.12, [0.0, 1.0, 2.0, 3.0], 9.0
    n = 400_000
    sim = pi_by_simulation(q, lam, weeks, week, rng, n=n)
    exact = float(response_probability(q, lam, weeks, week).eval())
    assert abs(sim - exact) < 4 * np.sqrt(exact * (1 - exact) / n)


def test_wrong_recursion_is_detected():
    """A recursion that forgets the decay between inductions differs (the test has power)."""
    q, lam, weeks, week = 0.45, 0.12, [0.0, 4.0, 8.0], 12.0
    no_decay_between = 1 - (1 - q) ** 3
    wrong = no_decay_between * np.exp(-lam * (week - 10.0))
    assert abs(float(response_probability(q, lam, weeks, week).eval()) - wrong) > 0.02


@pytest.fixture(scope="module")
def evidence():
    return load_all()


def test_msc_v1_model_graph(evidence):
    model = msc_v1_model(evidence)
    assert list(model.coords["indication"]) == list(INDICATIONS)
    assert list(model.coords["pilot"]) == [
        "ulcerative_colitis:msc_response_week12",
        "juvenile_idiopathic_arthritis:fewer_active_joints_week8",
        "ankylosing_spondylitis:asas20_week4",
        "rheumatoid_arthritis:acr20_week16",
    ]
    observed = {rv.name for rv in model.observed_RVs}
    assert observed == {
        "responders",
        "ever_responders",
        "relapses",
        "mean_duration",
        "infusion_reactions",
        "serious_events",
    }
    names = set(model.named_vars)
    for var in ("induction", "loss_per_week", "induction_new", "loss_per_week_new"):
        assert var in names
    assert {"ae_per_infusion", "sae_per_year"} <= {rv.name for rv in model.free_RVs}
    data = {rv.name: model.rvs_to_values[rv].data for rv in model.observed_RVs}  # type: ignore
    np.testing.assert_array_equal(data["responders"], [10, 4, 24, 4])
    np.testing.assert_array_equal(data["ever_responders"], [37])
    np.testing.assert_array_equal(data["relapses"], [9])
    np.testing.assert_allclose(data["mean_duration"], [7.1])
    np.testing.assert_array_equal(data["infusion_reactions"], [0, 0])
    np.testing.assert_array_equal(data["serious_events"], [1, 0, 0])
    logp = model.compile_logp()(model.initial_point())
    assert np.isfinite(logp)


def test_msc_v1_likelihood_uses_the_closed_form(evidence):
    """At a fixed point, the responders' log-likelihood equals Binomial(n, π) by hand."""
    from scipy import stats

    model = msc_v1_model(evidence)
    point = model.initial_point()
    point["z_induction"] = np.array([0.3, -0.2, 0.1, 0.5, -0.4])
    point["z_loss"] = np.array([-1.0, 0.2, -2.0, 1.0, 0.0])
    point["mu_induction"] = np.array(0.2)
    point["mu_loss"] = np.array(-3.0)
    point["sigma_induction_log__"] = np.log(np.array(0.5))
    point["sigma_loss_log__"] = np.log(np.array(1.5))
    logp_terms = model.compile_fn(
        model.logp(vars=[model["responders"]], sum=False),
        inputs=model.value_vars,
        on_unused_input="ignore",
    )
    got = np.asarray(logp_terms(point)).reshape(-1)
    q = 1 / (1 + np.exp(-(0.2 + 0.5 * point["z_induction"])))
    lam = np.exp(-3.0 + 1.5 * point["z_loss"])
    cases = [(0, [0, 4, 8], 12, 12, 10), (1, [0], 8, 6, 4), (3, [0, 1, 2, 3], 4, 31, 24),
             (4, [0, 4, 8], 16, 6, 4)]  # fmt: skip
    want = [
        stats.binom.logpmf(r, n, pi_numpy(q[j], lam[j], weeks, week))
        for j, weeks, week, n, r in cases
    ]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_msc_v2_potential_is_the_onset_mixture_by_hand(evidence):
    """v2: the model's log density minus its priors is log Σ_d ¼ Π_i p_i(y_i | θ, d) (onset
    marginalised) times the onset-free terms; the responders' terms by hand from
    Binomial(n, c·π(W; d)) with the independent NumPy recursion of this file."""
    from scipy import special, stats

    from simtrial.priors.likelihood import ONSET_GRID, pilot_terms

    model = msc_model(evidence)
    assert {"ceiling", "mu_loss", "sigma_loss"} <= {rv.name for rv in model.free_RVs}
    assert list(model.coords["endpoint_type"]) == ["response", "remission"]
    point = model.initial_point()
    point["z_induction"] = np.array([0.3, -0.2, 0.1, 0.5, -0.4])
    point["z_loss"] = np.array([-1.0, 0.2, -2.0, 1.0, 0.0])
    point["mu_loss"] = np.array([-3.0, -6.0])
    point["ceiling_logodds__"] = np.array(np.log(0.9 / 0.1))
    outputs = model.replace_rvs_by_values(
        [model["pilots_onset"], model["pilots_fixed"], model["induction"], model["loss_per_week"]]
    )
    f = model.compile_fn(
        outputs,
        inputs=model.value_vars,
        on_unused_input="ignore",
    )
    onset_part, fixed_part, q, lam = (np.asarray(x) for x in f(point))
    # SLE is alone in its endpoint type: its loss rate is the type mean
    assert lam[2] == pytest.approx(np.exp(-6.0))
    params = {
        "induction": q,
        "loss": lam,
        "ceiling": np.array(0.9),
        "ae": np.array(0.5),
        "sae": np.array(1.0),
    }
    terms = pilot_terms(evidence, "v2")
    by_d = [sum(t.loglik(params, d, NUMPY) for t in terms if t.uses_onset) for d in ONSET_GRID]
    assert float(onset_part) == pytest.approx(float(special.logsumexp(by_d) - np.log(4)), rel=1e-9)
    fixed = sum(t.loglik(params, 0.0, NUMPY) for t in terms if not t.uses_onset)
    assert float(fixed_part) == pytest.approx(float(fixed), rel=1e-9)
    cases = [(0, [0, 4, 8], 12, 12, 10), (1, [0], 8, 6, 4), (3, [0, 1, 2, 3], 4, 31, 24),
             (4, [0, 4, 8], 16, 6, 4)]  # fmt: skip
    resp = [t for t in terms if t.kind == "responders"]
    for d in ONSET_GRID:
        for term, (j, weeks, week, n, r) in zip(resp, cases, strict=True):
            want = stats.binom.logpmf(
                r, n, pi_numpy(q[j], lam[j], weeks, week, onset=d, ceiling=0.9)
            )
            assert float(term.loglik(params, d, NUMPY)) == pytest.approx(float(want), rel=1e-9)


def test_as_placebo_and_uc_control_models(evidence):
    model = as_placebo_model(evidence)
    assert list(model.coords["study"]) == [f"study_{i}" for i in range(1, 9)]
    assert {"theta", "theta_new", "tau", "mu"} <= set(model.named_vars)
    assert np.isfinite(model.compile_logp()(model.initial_point()))
    uc = uc_control_model(evidence)
    assert [rv.name for rv in uc.free_RVs] == ["response"]
    assert uc.rvs_to_values[uc["responders"]].data.tolist() == [4]  # type: ignore[attr-defined]


def test_models_need_their_data(evidence):
    with pytest.raises(PriorError, match="as_placebo"):
        as_placebo_model({})
    with pytest.raises(PriorError, match="uc_control"):
        uc_control_model({})
    with pytest.raises(PriorError, match="responder counts"):
        msc_model({})
    assert isinstance(uc_control_model(evidence), pm.Model)
