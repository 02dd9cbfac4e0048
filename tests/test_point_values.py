"""Point values for power (issue 9, item 2): the mean unless it is not a typical value, then the
median; the endpoint probability over the prior next to the one at the point values.

References: closed-form log-normal and Beta moments and quantiles, the committed posterior draws
read independently with ArviZ, and exact power recomputed with the parameter fixed.
"""

from __future__ import annotations

import math
from pathlib import Path

import arviz as az
import numpy as np
import pytest
from scipy import stats

from simtrial.engines.exact import ExactEngine
from simtrial.engines.vectorized import VectorizedEngine
from simtrial.errors import ScenarioError
from simtrial.planning.power import run
from simtrial.priors import store
from simtrial.scenario.load import load_scenario
from simtrial.scenario.parameters import (
    BetaParam,
    LogNormalParam,
    PriorParam,
    UnusableMean,
    point_value,
)
from tests.helpers import scenario

Z95 = stats.norm.ppf(0.95)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2 * Z95 - 0.01, 2 * Z95 + 0.01, 4.0])
def test_lognormal_uses_the_mean_only_inside_the_central_90_percent(sigma):
    mu = -3.0
    pv = point_value(LogNormalParam(mu, sigma))
    mean = math.exp(mu + sigma**2 / 2)
    q95 = math.exp(mu + Z95 * sigma)
    # mean > q95 exactly when sigma^2 / 2 > z95 * sigma, i.e. sigma > 2 z95 = 3.29
    assert (pv.summary == "mean") == (mean <= q95)
    assert pv.value == pytest.approx(mean if mean <= q95 else math.exp(mu), rel=1e-12)
    assert pv.mean == pytest.approx(mean, rel=1e-12)
    assert pv.median == pytest.approx(math.exp(mu), rel=1e-12)


def test_rules_mean_and_median():
    skewed = LogNormalParam(0.0, 4.0)
    with pytest.raises(UnusableMean, match="outside its central 90% interval"):
        point_value(skewed, "mean")
    beta = BetaParam(2, 8)
    assert point_value(beta, "mean").value == pytest.approx(0.2)
    assert point_value(beta, "median").value == pytest.approx(stats.beta.median(2, 8))


def test_fitted_variables_follow_the_rule_on_their_draws():
    """Each fitted variable's point value, checked against its draws read with ArviZ."""
    checked = 0
    for fit in ("msc", "as_placebo"):
        idata = az.from_netcdf(store.fitted_dir() / f"{fit}.nc")
        post = idata.posterior
        for var in post.data_vars:
            da = post[var]
            dims = [d for d in da.dims if d not in ("chain", "draw")]
            labels = [None] if not dims else [str(v) for v in da[dims[0]].values]
            for label in labels:
                sel = da if label is None else da.sel({dims[0]: label})
                draws = np.asarray(sel).reshape(-1)
                if not np.issubdtype(draws.dtype, np.floating):
                    continue
                try:
                    pv = point_value(PriorParam(fit, var, label))
                except Exception:  # a variable the store does not expose (e.g. deterministic)
                    continue
                q05, q50, q95 = np.quantile(draws, [0.05, 0.5, 0.95])
                # the fit's tail flag (checked against ArviZ's k̂ in the next test)
                heavy = store.point_summary(fit, var, label)[0] == "median"
                usable = q05 <= pv.mean <= q95 and not heavy
                expected = pv.mean if usable else q50
                assert pv.value == pytest.approx(expected, rel=1e-9), (fit, var, label)
                assert pv.median == pytest.approx(q50, rel=1e-9)
                checked += 1
    assert checked >= 10


@pytest.mark.parametrize("fit", ["msc", "msc_v1"])
def test_heavy_tailed_prediction_uses_the_median_if_its_mean_is_atypical(fit):
    draws = store.posterior_draws(fit, "loss_per_week_new")
    pv = point_value(PriorParam(fit, "loss_per_week_new"))
    atypical = not np.quantile(draws, 0.05) <= np.mean(draws) <= np.quantile(draws, 0.95)
    # heavy right tail: PSIS Pareto k̂ of the draws as importance ratios at or above
    # min(1 - 1/log10(S), 0.7) (Vehtari et al. 2024, JMLR 25(72), sec. 3.2.4), with ArviZ
    khat = float(az.psislw(np.log(draws))[1])
    heavy = khat >= min(1 - 1 / math.log10(draws.size), 0.7)
    # the first review found mean 216/week, median 0.013 (fit msc v1); v2: mean 0.103 inside
    # the central 90% interval, median 0.037, but k̂ 0.82
    assert (pv.summary == "median") == (atypical or heavy)
    assert pv.value == pytest.approx(np.median(draws) if pv.summary == "median" else np.mean(draws))
    if not atypical and heavy:
        with pytest.raises(UnusableMean, match="heavy-tailed"):
            point_value(PriorParam(fit, "loss_per_week_new"), "mean")


SKEWED = {
    "arms": {"msc": {"response": {"loss_per_week": {"lognormal": [-3.0, 4.0]}}}},
    "evaluate": {"n_total": [60]},
}


def test_power_uses_the_median_and_summary_says_so():
    result = run(scenario(SKEWED), engine="exact", simulations=200)
    variant = result.variants["base"]
    entry = variant.point_values["arms.msc.response.loss_per_week"]
    assert entry["summary"] == "median"
    assert entry["value"] == pytest.approx(math.exp(-3.0))
    # reference: the same design with the loss rate fixed at the median
    fixed = scenario(
        {
            "arms": {"msc": {"response": {"loss_per_week": math.exp(-3.0)}}},
            "evaluate": {"n_total": [60]},
        }
    ).base
    ref = ExactEngine().evaluate(fixed, "base", 60, 1, fixed.seed)
    assert variant.points[0].power == pytest.approx(ref.power, abs=1e-12)
    assert result.to_dict()["variants"]["base"]["point_values"]["arms.msc.response.loss_per_week"][
        "summary"
    ] == ("median")


def test_point_values_mean_refuses_an_atypical_mean_with_file_and_line(tmp_path: Path):
    text = Path("scenarios/ra-phase2.yaml").read_text()
    assert 'loss_per_week: {prior: "msc/loss_per_week[rheumatoid_arthritis]"}' in text
    text = text.replace(
        'loss_per_week: {prior: "msc/loss_per_week[rheumatoid_arthritis]"}',
        "loss_per_week: {lognormal: [-3.0, 4.0]}",
        1,
    )
    text = text.replace("evaluate:\n", "evaluate:\n  point_values: mean\n", 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "lognormal: [-3.0, 4.0]" in s)
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    message = str(info.value)
    assert f"bad.yaml:{line}:" in message
    assert "arms.msc.response.loss_per_week" in message
    assert "not a usable" in message or "describe no plausible value" in message


BETA_CONTROL = {
    "arms": {"control": {"endpoint_probability": {"beta": [3, 7]}, "dropout": None}},
    "evaluate": {"n_total": [80]},
}


def test_endpoint_probability_over_the_prior_exact():
    s = scenario(BETA_CONTROL).base
    n = 4000
    r = ExactEngine().evaluate(s, "base", 80, n, s.seed)
    a, b = 3, 7
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert r.endpoint_probability["control"] == pytest.approx(0.3, abs=1e-12)  # the mean
    got = r.extra["endpoint_probability_prior"]["control"]
    assert abs(got - 0.3) < 4 * sd / math.sqrt(n)
    # the treatment arm has fixed parameters: both figures are its closed form
    t = r.extra["endpoint_probability_prior"]["msc"]
    assert t == pytest.approx(r.endpoint_probability["msc"], abs=1e-12)


def test_endpoint_probability_over_the_prior_simulated():
    s = scenario(BETA_CONTROL).base
    sims = 4000
    r = VectorizedEngine().evaluate(s, "base", 80, sims, s.seed)
    a, b, m = 3, 7, 40
    var_p = a * b / ((a + b) ** 2 * (a + b + 1))
    e_pq = 0.3 - (var_p + 0.09)  # E[p(1 - p)] = E p − E p²
    se = math.sqrt(var_p / sims + e_pq / (m * sims))
    assert abs(r.extra["endpoint_probability_prior"]["control"] - 0.3) < 4 * se
