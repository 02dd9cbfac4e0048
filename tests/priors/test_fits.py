"""The committed fits: contents, diagnostics, agreement with the published RBesT analysis,
predictive checks, the JSON summaries, the diagnostics gate and the CLI. The refit test is slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

az = pytest.importorskip("arviz")

from typer.testing import CliRunner  # noqa: E402

from simtrial.cli.priors import app  # noqa: E402
from simtrial.errors import PriorError  # noqa: E402
from simtrial.priors import store  # noqa: E402
from simtrial.priors.fitting import (  # noqa: E402
    ESS_BULK_MIN,
    FITS,
    RHAT_MAX,
    check_diagnostics,
)

FITTED = Path(__file__).resolve().parents[2] / "priors" / "fitted"
FIT_NAMES = ("msc", "msc_v1", "as_placebo", "uc_control")

pytestmark = [
    # PyTensor compiles C code for the slow refit; without a BLAS library it says so once.
    pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS installation:UserWarning"),
]


@pytest.fixture(scope="module")
def fits():
    return {name: az.from_netcdf(FITTED / f"{name}.nc") for name in FIT_NAMES}


@pytest.fixture(scope="module")
def summaries():
    return {name: json.loads((FITTED / f"{name}.json").read_text()) for name in FIT_NAMES}


def entries(summary):
    for var, info in summary["variables"].items():
        if info["dims"]:
            for i, (label, stats_) in enumerate(info["summary"].items()):
                yield var, info["dims"][0], i, label, stats_
        else:
            yield var, None, None, None, info["summary"]


def draws_of(idata, var, dim, i):
    da = idata.posterior[var]
    return (da.isel({dim: i}) if dim else da).values


@pytest.mark.parametrize("name", FIT_NAMES)
def test_files_hold_every_group_and_stay_small(fits, name):
    idata = fits[name]
    for group in ("posterior", "prior", "posterior_predictive", "observed_data", "sample_stats"):
        assert group in idata.groups(), f"{name}.nc lacks {group}"
    assert idata.posterior.sizes["chain"] == FITS[name].chains == 4
    assert idata.posterior.sizes["draw"] == FITS[name].draws == 1000
    assert (FITTED / f"{name}.nc").stat().st_size < 2_000_000


@pytest.mark.parametrize("name", FIT_NAMES)
def test_diagnostics_pass_the_gate(fits, summaries, name):
    diag = check_diagnostics(fits[name], name)  # recomputed from the draws
    assert diag["max_rhat"] <= RHAT_MAX and diag["min_ess_bulk"] >= ESS_BULK_MIN
    assert diag["divergences"] == 0
    for var, _, _, label, s in entries(summaries[name]):
        where = f"{name}/{var}[{label}]"
        assert s["rhat"] <= RHAT_MAX and s["ess_bulk"] >= ESS_BULK_MIN, where
        assert s["divergences"] == 0, where


@pytest.mark.parametrize("name", FIT_NAMES)
def test_json_summary_agrees_with_the_netcdf(fits, summaries, name):
    idata, summary = fits[name], summaries[name]
    assert summary["fit"] == name and summary["seed"] == FITS[name].seed
    assert set(summary["variables"]) == set(idata.posterior.data_vars)
    for var, dim, i, label, s in entries(summary):
        x = draws_of(idata, var, dim, i)
        flat = x.reshape(-1)
        if dim:
            assert str(idata.posterior[dim].values[i]) == label
        np.testing.assert_allclose(
            [s["mean"], s["sd"], s["q025"], s["q50"], s["q975"]],
            [flat.mean(), flat.std(ddof=1), *np.quantile(flat, [0.025, 0.5, 0.975])],
            rtol=1e-12,
        )
        assert s["rhat"] == pytest.approx(float(az.rhat(x)), rel=1e-9)
        assert s["ess_bulk"] == pytest.approx(float(az.ess(x, method="bulk")), rel=1e-9)
        assert s["ess_tail"] == pytest.approx(float(az.ess(x, method="tail")), rel=1e-9)
        kind = summary["variables"][var]["kind"]
        if kind in ("probability", "rate"):
            assert s["mixture_family"] == {"probability": "beta", "rate": "gamma"}[kind]
            assert 1 <= len(s["mixture"]) <= 4
            assert sum(c["weight"] for c in s["mixture"]) == pytest.approx(1.0)
            assert {"elir", "moment", "morita"} <= set(s["ess"])
            assert (
                s["robust"]["weight"] == 0.2
                and len(s["robust"]["mixture"]) == len(s["mixture"]) + 1
            )


def test_contract_variables(summaries):
    kinds = {v: i["kind"] for v, i in summaries["msc"]["variables"].items()}
    contract = {
        "induction",
        "loss_per_week",
        "induction_new",
        "loss_per_week_new",
        "ae_per_infusion",
        "sae_per_year",
    }
    assert {v for v, k in kinds.items() if k != "other"} == contract | {
        "ceiling",
        "loss_per_week_new_remission",
    }
    assert {"onset_weeks", "onset_probability", "sigma_loss", "mu_loss"} <= set(kinds)
    v1 = {v for v, i in summaries["msc_v1"]["variables"].items() if i["kind"] != "other"}
    assert v1 == contract
    assert summaries["msc_v1"]["model"]["simtrial_onset_weeks"] == 2.0
    assert summaries["msc"]["model"]["simtrial_onset_grid"] == "1, 2, 3, 4"
    assert {"theta", "tau", "theta_new"} <= set(summaries["as_placebo"]["variables"])
    assert "response" in summaries["uc_control"]["variables"]


def test_point_summary_flags_heavy_tails(summaries):
    """mean_usable / point_summary: v1's loss rate for a new indication has no usable mean
    (one draw made most of the sum); bounded probabilities always have one."""
    from simtrial.priors.fitting import mean_usable_threshold, tail_khat

    v1 = summaries["msc_v1"]["variables"]["loss_per_week_new"]["summary"]
    assert v1["mean_usable"] is False and v1["point_summary"] == "median"
    assert v1["tail_khat"] >= 0.7
    for name in FIT_NAMES:
        for var, _, _, label, s in entries(summaries[name]):
            kind = summaries[name]["variables"][var]["kind"]
            if kind == "probability":
                assert s["mean_usable"] is True and s["point_summary"] == "mean", (var, label)
            if kind == "rate":
                # the median of an even number of draws interpolates: equal up to that
                assert s["log_q50"] == pytest.approx(np.log(s["q50"]), rel=1e-3)
                assert s["mean_usable"] == (s["tail_khat"] < 0.7)
    assert mean_usable_threshold(4000) == 0.7
    rng = np.random.default_rng(3)
    assert tail_khat(rng.lognormal(0, 0.5, 4000)) < 0.5  # light tail
    assert tail_khat(rng.pareto(0.8, 4000) + 1) > 0.9  # no mean: k = 1/0.8
    assert store.point_summary("msc_v1", "loss_per_week_new") == ("median", v1["q50"])


# -- the MAP prior against RBesT ---------------------------------------------------------------

RBEST = {
    "theta_new": {"mean": 0.2550, "sd": 0.0864, "q025": 0.1060, "q50": 0.2470, "q975": 0.4610},
    "tau": {"mean": 0.3870, "sd": 0.2150, "q025": 0.0399, "q50": 0.3590, "q975": 0.8970},
}
RBEST_ROUNDING = {"mean": 5e-4, "sd": 5e-4, "q025": 5e-4, "q50": 5e-4, "q975": 5e-4}


def _mcse(x, stat):
    if stat == "mean":
        return float(np.asarray(az.mcse(x, method="mean")).reshape(-1)[0])
    if stat == "sd":
        # delta method on the variance (az.mcse(method="sd") fails with NumPy 2.4 in ArviZ 0.23)
        y = (x - x.mean()) ** 2
        var_of_var = y.var(ddof=1) / float(az.ess(y, method="mean"))
        return float(np.sqrt(var_of_var) / (2 * x.std(ddof=1)))
    prob = {"q025": 0.025, "q50": 0.5, "q975": 0.975}[stat]
    return float(az.mcse(x, method="quantile", prob=prob))


@pytest.mark.parametrize("var", ["theta_new", "tau"])
def test_map_prior_matches_rbest(fits, summaries, var):
    """MAP prior for the AS placebo data = RBesT's published gMAP analysis.

    Source: RBesT vignette "Getting started with RBesT (binary)" (S. Weber; RBesT 1.8,
    https://opensource.nibr.com/RBesT/articles/introduction.html), R code::

        set.seed(34563)
        map_mcmc <- gMAP(cbind(r, n - r) ~ 1 | study, data = AS, tau.dist = "HalfNormal",
                         tau.prior = 1, beta.prior = 2, family = binomial)
        print(map_mcmc)
        ## Between-trial heterogeneity of tau prediction stratum
        ##   mean     sd   2.5%    50%  97.5%
        ## 0.3870 0.2150 0.0399 0.3590 0.8970
        ## MAP Prior MCMC sample
        ##   mean     sd   2.5%    50%  97.5%
        ## 0.2550 0.0864 0.1060 0.2470 0.4610

    RBesT's defaults keep 4 chains x (6000 - 2000) / 4 = 4000 draws, as many as ours, so its
    Monte Carlo SE is taken equal to ours; with the print rounding (half a unit of the last
    digit) the tolerance is 4 * sqrt(2 MCSE^2 + rounding^2).
    """
    x = fits["as_placebo"].posterior[var].values
    s = summaries["as_placebo"]["variables"][var]["summary"]
    for stat, published in RBEST[var].items():
        mcse = _mcse(x, stat)
        tol = 4 * np.sqrt(2 * mcse**2 + RBEST_ROUNDING[stat] ** 2)
        assert abs(s[stat] - published) <= tol, (var, stat, s[stat], published, tol)


def test_map_prior_mixture_ess_near_rbest(summaries):
    """ESS of the MAP prior's mixture approximation against the same vignette::

        map <- automixfit(map_mcmc)          # 4 Beta components
        round(ess(map, method = "elir"))     ## 38
        round(ess(map, method = "moment"))   ## 24
        round(ess(map, method = "morita"))   ## 95
        round(ess(robustify(map, weight = 0.2, mean = 1/2)))  ## 27 (elir)

    The moment ESS, m(1-m)/v - 1, follows from the mean and sd: tolerance from their MCSE by
    the delta method (about 1 patient) plus rounding. ELIR depends on the mixture chosen (RBesT
    picks 4 components with AIC penalty 6; ours may have fewer) and is only checked to 15%.
    Morita is not compared: it is known to depend strongly on the number of components.
    """
    s = summaries["as_placebo"]["variables"]["theta_new"]["summary"]
    assert abs(s["ess"]["moment"] - 24) <= 4.0
    assert abs(s["ess"]["elir"] - 38) <= 0.15 * 38
    assert abs(s["robust"]["ess"]["elir"] - 27) <= 0.15 * 27


# -- uc_control: the exact conjugate posterior Beta(5, 13) -------------------------------------


def test_uc_control_is_beta_5_13(fits):
    x = fits["uc_control"].posterior["response"].values
    exact = stats.beta(5, 13)
    for stat, value in (("mean", exact.mean()), ("sd", exact.std())):
        got = x.mean() if stat == "mean" else x.std(ddof=1)
        assert abs(got - value) < 4 * _mcse(x, stat)
    ess = float(az.ess(x, method="bulk"))
    # KS on a thinned sample of about ESS draws, so that draws are close to independent
    step = int(np.ceil(x.size / ess))
    assert stats.kstest(x.reshape(-1)[::step], exact.cdf).pvalue > 0.001
    # a wrong posterior (prior Beta(0.5, 0.5), i.e. Beta(4.5, 12.5)) is rejected on its mean
    wrong = stats.beta(4.5, 12.5).mean()
    assert abs(x.mean() - wrong) > 4 * _mcse(x, "mean") or abs(wrong - exact.mean()) < 0.01


# -- posterior predictive checks ---------------------------------------------------------------


@pytest.mark.parametrize("name", FIT_NAMES)
def test_posterior_predictive_intervals_cover_the_observed(fits, name):
    idata = fits[name]
    for var, obs in idata.observed_data.data_vars.items():
        pred = idata.posterior_predictive[var]
        dims = list(obs.dims)
        for i in range(obs.size):
            draws = (pred.isel({dims[0]: i}) if dims else pred).values.reshape(-1)
            lo, hi = np.quantile(draws, [0.025, 0.975])
            value = float(obs.values.reshape(-1)[i])
            assert lo <= value <= hi, (name, var, i, value, lo, hi)


def test_sle_remission_at_five_years_is_predicted(fits):
    """28/68 in remission at 5 years is not in either likelihood (it is 37 - 9): both models
    must predict it. v1: π(260) = q·exp(-λ(260 - 2)); v2: c·q·(1 - P(relapse)), remission
    reached uniformly in the first year."""
    from simtrial.priors.likelihood import relapse_probability

    sle = "systemic_lupus_erythematosus"
    rng = np.random.default_rng(0)
    for name in ("msc_v1", "msc"):
        post = fits[name].posterior
        q = post["induction"].sel(indication=sle).values.reshape(-1)
        lam = post["loss_per_week"].sel(indication=sle).values.reshape(-1)
        if name == "msc_v1":
            p = q * np.exp(-lam * (260 - 2.0))
        else:
            c = post["ceiling"].values.reshape(-1)
            p = c * q * (1 - relapse_probability(lam, 260.0, 52.0))
        lo, hi = np.quantile(rng.binomial(68, p), [0.025, 0.975])
        assert lo <= 28 <= hi, name


def test_posterior_means_are_plausible(summaries):
    """Sanity against closed forms of the data alone.

    v1: AS loss rate near 1/7.1 per week (uncensored), SLE near -ln(1 - 9/37)/208.
    v2: AS near the censored fixed point λ = 24(1 - e^{-16λ})/(24·7.1) = 0.120 (shrunk towards
    the response-type mean, so within 25%), below v1's; SLE near the λ solving
    P(relapse; 260, 52) = 9/37.
    """
    from scipy import optimize

    from simtrial.priors.likelihood import relapse_probability

    loss = summaries["msc_v1"]["variables"]["loss_per_week"]["summary"]
    assert loss["ankylosing_spondylitis"]["mean"] == pytest.approx(1 / 7.1, rel=0.15)
    assert loss["systemic_lupus_erythematosus"]["mean"] == pytest.approx(
        -np.log(1 - 9 / 37) / 208, rel=0.15
    )
    v2 = summaries["msc"]["variables"]["loss_per_week"]["summary"]
    fixed = 0.1
    for _ in range(200):
        fixed = 24 * (1 - np.exp(-16 * fixed)) / (24 * 7.1)
    assert v2["ankylosing_spondylitis"]["q50"] == pytest.approx(fixed, rel=0.25)
    assert v2["ankylosing_spondylitis"]["q50"] < loss["ankylosing_spondylitis"]["q50"]
    sle = optimize.brentq(lambda x: relapse_probability(x, 260.0, 52.0) - 9 / 37, 1e-5, 0.1)
    assert v2["systemic_lupus_erythematosus"]["q50"] == pytest.approx(sle, rel=0.25)


# -- the diagnostics gate ----------------------------------------------------------------------


def _idata(x, diverging=None):
    chains, draws = x.shape
    div = np.zeros((chains, draws), bool) if diverging is None else diverging
    return az.from_dict(posterior={"theta": x}, sample_stats={"diverging": div})


def test_gate_passes_good_chains():
    x = np.random.default_rng(0).normal(size=(4, 1000))
    assert check_diagnostics(_idata(x))["divergences"] == 0


def test_gate_names_the_variable_with_bad_rhat():
    x = np.random.default_rng(0).normal(size=(4, 1000))
    x[0] += 1.0  # one chain elsewhere
    with pytest.raises(PriorError, match=r"theta: R-hat 1\.\d+ > 1\.01 \(the chains disagree"):
        check_diagnostics(_idata(x), "toy")


def test_gate_names_the_variable_with_low_ess():
    x = np.cumsum(np.random.default_rng(0).normal(size=(4, 1000)), axis=1) * 0.01
    with pytest.raises(PriorError, match=r"theta: bulk ESS \d+ < 400 \(too few effective draws"):
        check_diagnostics(_idata(x), "toy")


def test_gate_fails_on_divergences():
    x = np.random.default_rng(0).normal(size=(4, 1000))
    div = np.zeros((4, 1000), bool)
    div[2, 10] = True
    with pytest.raises(PriorError, match=r"1 divergent transitions.*raise target_accept"):
        check_diagnostics(_idata(x, div), "toy")


# -- command line ------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_show_table_and_json():
    result = runner.invoke(app, ["show", "msc"])
    assert result.exit_code == 0, result.output
    assert "induction[rheumatoid_arthritis]" in result.output and "divergences 0" in result.output
    result = runner.invoke(app, ["show", "msc/induction[rheumatoid_arthritis]", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.output)
    for key in ("mean", "sd", "q025", "q50", "q975", "rhat", "ess_bulk", "ess_tail", "mixture"):
        assert key in payload
    assert {"elir", "moment", "morita"} <= set(payload["ess"])
    assert payload["mean"] == store.posterior_mean("msc", "induction", "rheumatoid_arthritis")
    result = runner.invoke(app, ["show", "msc/loss_per_week", "--json"])
    assert set(json.loads(result.output)) == set(
        store.describe("msc")["loss_per_week"]["coords"]["indication"]
    )
    result = runner.invoke(app, ["show", "as_placebo/theta_new"])
    assert result.exit_code == 0 and "mixture" in result.output and "ESS: elir" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "nope"], "no fitted prior 'nope'"),
        (["show", "msc/induction[gout]"], "no indication 'gout'"),
        (["show", "msc/induction_x"], "has no variable 'induction_x'"),
        (["show", "msc/"], "write FIT, FIT/VAR or FIT/VAR[INDEX]"),
        (["fit", "nope"], "unknown fit(s) nope"),
    ],
)
def test_cli_errors_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_cli_plot(tmp_path):
    result = runner.invoke(app, ["plot", "uc_control", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["forest.png", "posterior.png", "ppc.png", "trace.png"]


def test_cli_report_is_self_contained(tmp_path):
    result = CliRunner().invoke(app, ["report", "msc", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4
    assert "src='http" not in page and "<script" not in page
    for text in (
        "seed_003_ankylosing_spondylitis",
        "redosing_year1",
        "ESS elir",
        "ra-phase2.yaml",
        "Posterior predictive checks per pilot",
    ):
        assert text in page, text


# -- refit (slow) ------------------------------------------------------------------------------


@pytest.mark.slow
# The mixture EM (simtrial.priors.em) may divide by zero in a rejected trial step.
@pytest.mark.filterwarnings("ignore::RuntimeWarning:simtrial.priors.em")
@pytest.mark.parametrize("name", FIT_NAMES)
def test_refit_reproduces_the_committed_draws(fits, name, tmp_path):
    """``simtrial priors fit`` on the same evidence and seed gives the committed draws, on the
    same machine with the versions of ``constraints.txt`` (across machines it need not)."""
    from simtrial.priors.fitting import fit_prior

    if name == "msc_v1":
        pytest.skip(
            "msc_v1 keeps the files of the reviewed fit, sampled on another machine: a refit "
            "here differs (draws are only reproducible on the same machine and versions); its "
            "model is still checked by the three-seed gate"
        )
    fit_prior(name, out_dir=tmp_path, progressbar=False)
    new = az.from_netcdf(tmp_path / f"{name}.nc")
    old = fits[name]
    for group in ("posterior", "posterior_predictive", "prior"):
        for var in getattr(old, group).data_vars:
            np.testing.assert_array_equal(
                getattr(new, group)[var].values, getattr(old, group)[var].values, err_msg=var
            )


GATE_SEEDS = (1, 2, 3)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning:simtrial.priors.em")
@pytest.mark.parametrize("seed", GATE_SEEDS)
@pytest.mark.parametrize("name", FIT_NAMES)
def test_every_fit_passes_the_gate_on_three_seeds(name, seed):
    """Each fit passes its diagnostics gate (R-hat <= 1.01, bulk ESS >= 400, no divergences)
    with three other sampler seeds: the gate does not hinge on a lucky seed."""
    from simtrial.priors.fitting import sample_prior

    idata = sample_prior(name, seed=seed, progressbar=False, cores=2)  # raises if it fails
    diag = check_diagnostics(idata, name)
    assert diag["divergences"] == 0 and diag["max_rhat"] <= RHAT_MAX
