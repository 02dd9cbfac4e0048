"""v1 vs v2 comparison: ELPD, predictive checks and the prior-sensitivity weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

az = pytest.importorskip("arviz")

from simtrial.planning.prior_compare import (  # noqa: E402
    elpd,
    posterior_checks,
    sensitivity,
    sensitivity_markdown,
    sensitivity_weights,
    to_markdown,
)
from simtrial.priors.evidence import load_all  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FITTED = ROOT / "priors" / "fitted"

pytestmark = [
    # PSIS-LOO warns about large Pareto k (one observation per indication): reported, expected
    pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto:UserWarning"),
]


@pytest.fixture(scope="module")
def idatas():
    return {f: az.from_netcdf(FITTED / f"{f}.nc") for f in ("msc_v1", "msc")}


@pytest.fixture(scope="module")
def evidence():
    return load_all()


def test_elpd_scores_both_models_on_the_same_observations(idatas, evidence):
    out = elpd(idatas, evidence)
    names = out["observations"]
    assert any(n.endswith("redosing_year1") for n in names)
    v1, v2 = out["models"]["msc_v1"], out["models"]["msc"]
    # v1 did not use the JIA re-dosing data: scored out of sample, without PSIS
    redose = next(n for n in names if n.endswith("redosing_year1"))
    assert v1["points"][redose]["method"].startswith("lpd")
    assert v2["points"][redose]["method"] == "psis-loo"
    total = sum(p["elpd"] for p in v2["points"].values())
    assert v2["elpd"] == pytest.approx(total)
    d = np.array([v2["points"][n]["elpd"] - v1["points"][n]["elpd"] for n in names])
    assert out["difference"]["elpd_diff"] == pytest.approx(d.sum())
    assert out["difference"]["se"] == pytest.approx(np.sqrt(len(d) * d.var(ddof=1)))
    # an observation in v2's likelihood scores the lpd upper bound: LOO <= in-sample lpd
    from scipy import special

    from simtrial.priors.likelihood import pilot_terms, pointwise_loglik
    from simtrial.priors.models import msc_params

    post = idatas["msc"].posterior
    terms = pilot_terms(evidence, "v2")
    ll = pointwise_loglik(terms, msc_params(post), post["onset_weeks"].values.reshape(-1))
    lpd = special.logsumexp(ll, axis=0) - np.log(ll.shape[0])
    for i, t in enumerate(terms):
        assert v2["points"][t.name]["elpd"] <= lpd[i] + 1e-9, t.name


def test_posterior_checks_cover_the_pilots(idatas, evidence):
    out = posterior_checks(idatas, evidence)
    v2 = out["msc"]["checks"]
    assert out["msc"]["coverage_95"] == f"{len(v2)}/{len(v2)}"
    redosed = next(r for k, r in v2.items() if k.endswith("redosing_year1/redosed"))
    assert redosed["observed"] == 3 and redosed["in_likelihood"]
    # v1 never saw the re-dosing: it predicts fewer re-doses than v2 (review: 1.1 of 6)
    v1_redosed = next(
        r for k, r in out["msc_v1"]["checks"].items() if k.endswith("redosing_year1/redosed")
    )
    assert v1_redosed["mean"] < redosed["mean"] and not v1_redosed["in_likelihood"]
    md = to_markdown(
        {"summaries": {}, "elpd": elpd(idatas, evidence), "checks": out,
         "sensitivity": {"settings": {}, "rows": []}}
    )  # fmt: skip
    assert "Posterior predictive checks per pilot" in md


def test_sensitivity_weights(idatas):
    w = sensitivity_weights(idatas["msc"])
    for label, s in w.items():
        assert s["weights"].sum() == pytest.approx(1.0), label
        assert (s["weights"] >= 0).all()
    base = w["base (v2 as fitted)"]["weights"]
    np.testing.assert_allclose(base, 1 / base.size)
    onset_p = [w[f"onset = {d} weeks"]["posterior_probability"] for d in (1, 2, 3, 4)]
    assert sum(onset_p) == pytest.approx(1.0)
    # a tighter pooling prior moves the weighted sigma_loss down, a wider one up
    sigma = idatas["msc"].posterior["sigma_loss"].values.reshape(-1)
    m = {k: float(np.sum(v["weights"] * sigma)) for k, v in w.items()}
    assert m["sigma_loss ~ HalfNormal(0.5)"] < m["base (v2 as fitted)"]
    assert m["sigma_loss ~ HalfNormal(2)"] > m["base (v2 as fitted)"]


def test_sensitivity_base_row_is_what_the_engine_uses(idatas):
    """Base setting, uniform weights: the plug-in P(endpoint) is the exact engine's, computed
    from the fit's JSON means (an independent path)."""
    from simtrial.engines.base import point_values
    from simtrial.model.response import endpoint_law
    from simtrial.scenario.load import load_scenario

    path = ROOT / "scenarios" / "ra-phase2.yaml"
    out = sensitivity(idatas["msc"], [path])
    ss = load_scenario(path)
    for variant, sc in ss.variants.items():
        row = next(
            r
            for r in out["rows"]
            if r["variant"] == variant and r["setting"] == "base (v2 as fitted)"
        )
        want = float(endpoint_law(point_values(sc)["msc"], sc.endpoint).nri())
        assert row["endpoint_at_means"] == pytest.approx(want, rel=1e-9)
        assert 0 <= row["power"] <= 1 and 0 <= row["assurance"] <= 1


def test_several_msc_arms_are_named_in_the_sensitivity_table(idatas):
    """as-mams has three MSC schedules in one variant: each row must say which arm it is."""
    path = ROOT / "scenarios" / "as-mams.yaml"
    out = sensitivity(idatas["msc"], [path])
    arms = {r["arm"] for r in out["rows"]}
    assert len(arms) == 3
    text = "\n".join(sensitivity_markdown(out))
    for arm in arms:
        assert f"| as-mams / base / {arm} | base (v2 as fitted) |" in text
