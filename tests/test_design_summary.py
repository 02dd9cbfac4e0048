"""The design summary (issue 9, item 7) against independent references.

- boundaries: rpact's published critical values (quoted in tests/analysis/test_group_sequential.py
  with the R code) and the nominal p-value 2·(1 − Φ(z)) computed here with scipy;
- critical counts: an enumeration with ``scipy.stats.fisher_exact`` written here (the critical
  x_t succeeds in the treatment's favour, x_t − 1 does not), and for a Bayesian rule with
  Beta(1, 1) priors a quadrature of P(p_t > p_c | data) with ``scipy.integrate.quad``;
- ESS: a + b for ``{beta: [a, b]}``; the value stored in ``priors/fitted/<fit>.json`` (read
  here with ``json``) for a fitted prior.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import integrate, stats

from simtrial import design_summary, load_scenario
from simtrial.planning.power import run
from simtrial.report.design import summary_lines
from tests.helpers import scenario

ROOT = Path(__file__).resolve().parents[1]

FIXED_ARMS = {
    "control": {"endpoint_probability": 0.30, "dropout": {"per_year": 0.1}},
    "msc": {
        "schedule": None,
        "response": None,
        "adverse_events": None,
        "endpoint_probability": 0.55,
        "dropout": {"per_year": 0.1},
    },
}


def only(summary: dict) -> dict:
    (variant,) = summary["variants"].values()
    return variant


def test_boundaries_equal_rpact_and_nominal_p_is_two_sided_normal_tail():
    s = scenario(
        {
            "analysis": {
                "alpha": 0.05,
                "sided": "two",
                "interims": {"information": [0.5, 1.0], "efficacy_spending": "obrien_fleming"},
            }
        }
    )
    looks = only(design_summary(s))["looks"]
    # rpact: getDesignGroupSequential(kMax = 2, alpha = 0.05, sided = 2, typeOfDesign = "asOF",
    #        informationRates = c(0.5, 1))$criticalValues  ->  2.962588 1.968596
    assert looks["information"] == [0.5, 1.0]
    assert looks["efficacy_z"] == pytest.approx([2.962588, 1.968596], abs=2e-6)
    for z, p in zip(looks["efficacy_z"], looks["nominal_p"], strict=True):
        assert p == pytest.approx(2 * (1 - stats.norm.cdf(z)), rel=1e-5)
    assert looks["spending"] == "obrien_fleming"
    text = dict(summary_lines(design_summary(s)))["looks"]
    assert "|z| ≥ 2.9626" in text and "|z| ≥ 1.9686" in text


def test_nominal_p_of_three_looks_equal_rpact_stage_levels():
    s = scenario(
        {"analysis": {"interims": {"information": [0.4, 0.7, 1.0]}}, "evaluate": {"n_total": [60]}}
    )
    looks = only(design_summary(s))["looks"]
    # rpact stageLevels (one-sided) of the asOF design at (0.4, 0.7, 1), alpha 0.05 two-sided;
    # the R code is in tests/analysis/test_group_sequential.py
    one_sided = [0.0003941517567, 0.0072518039681, 0.0227210426230]
    assert looks["nominal_p"] == pytest.approx([2 * a for a in one_sided], rel=1e-5)


def fisher_succeeds(x_t: int, m_t: int, x_c: int, m_c: int, alpha: float, sided: str) -> bool:
    """Independent reference: scipy's Fisher test, and the treatment doing better."""
    alternative = "two-sided" if sided == "two" else "greater"
    _, p = stats.fisher_exact([[x_t, m_t - x_t], [x_c, m_c - x_c]], alternative=alternative)
    return p <= alpha and x_t * m_c > x_c * m_t


@pytest.mark.parametrize("sided,alpha", [("two", 0.05), ("one", 0.025), ("two", 0.10)])
def test_critical_counts_against_scipy_fisher(sided, alpha):
    s = scenario(
        {
            "arms": FIXED_ARMS,
            "analysis": {"sided": sided, "alpha": alpha},
            "evaluate": {"n_total": [24, 40]},
        }
    )
    counts = only(design_summary(s))["critical_counts"]
    # the control's endpoint probability after dropout (NRI), written here: 0.30·(1 − 0.1)^(12/52)
    p_c = 0.30 * math.exp(math.log(0.9) * 12 / 52)
    assert counts["control_probability"] == pytest.approx(p_c, rel=1e-6)
    for point in counts["points"]:
        (look,) = point["looks"]
        m_t, m_c = look["m_treatment"], look["m_control"]
        assert (m_t, m_c) == (point["n_total"] // 2, point["n_total"] // 2)
        assert look["x_control"] == round(p_c * m_c)
        assert look["x_treatment_critical"] == look["boundary"][look["x_control"]]
        assert len(look["boundary"]) == m_c + 1
        for x_c, crit in enumerate(look["boundary"]):
            if crit is None:
                assert not any(
                    fisher_succeeds(x, m_t, x_c, m_c, alpha, sided) for x in range(m_t + 1)
                )
                continue
            assert fisher_succeeds(crit, m_t, x_c, m_c, alpha, sided)
            assert crit == 0 or not fisher_succeeds(crit - 1, m_t, x_c, m_c, alpha, sided)


def posterior_prob_better(x_t: int, m_t: int, x_c: int, m_c: int) -> float:
    """P(p_t > p_c | data) under Beta(1, 1) priors: ∫ f_c(p) (1 − F_t(p)) dp."""
    post_t = stats.beta(1 + x_t, 1 + m_t - x_t)
    post_c = stats.beta(1 + x_c, 1 + m_c - x_c)
    value, _ = integrate.quad(lambda p: post_c.pdf(p) * post_t.sf(p), 0, 1, epsabs=1e-12)
    return value


def test_bayesian_critical_counts_against_quadrature():
    s = scenario(
        {
            "arms": FIXED_ARMS,
            "analysis": {
                "test": "bayes_posterior",
                "bayes": {"threshold": 0.975, "treatment_prior": {"beta": [1, 1]}},
            },
            "evaluate": {"n_total": [30]},
        }
    )
    (point,) = only(design_summary(s))["critical_counts"]["points"]
    (look,) = point["looks"]
    m_t, m_c = look["m_treatment"], look["m_control"]
    for x_c in range(0, m_c + 1, 3):
        crit = look["boundary"][x_c]
        if crit is None:
            assert posterior_prob_better(m_t, m_t, x_c, m_c) <= 0.975
            continue
        assert posterior_prob_better(crit, m_t, x_c, m_c) > 0.975
        assert crit == 0 or posterior_prob_better(crit - 1, m_t, x_c, m_c) <= 0.975


def test_ess_of_beta_prior_is_a_plus_b_and_fitted_prior_equals_json():
    s = scenario(
        {
            "arms": {"control": {"endpoint_probability": {"prior": "as_placebo/theta_new"}}},
            "analysis": {
                "test": "bayes_posterior",
                "bayes": {
                    "treatment_prior": {"beta": [2.5, 4]},
                    "control_prior": {"prior": "as_placebo/theta_new"},
                    "robust_weight": 0.2,
                },
            },
        }
    )
    priors = {p["where"]: p for p in only(design_summary(s))["priors"]}
    assert priors["analysis.bayes.treatment_prior"]["ess"] == {"a+b": 6.5}
    stored = json.loads((ROOT / "priors" / "fitted" / "as_placebo.json").read_text())
    entry = stored["variables"]["theta_new"]["summary"]
    # the design prior of the control arm: the fitted MAP prior's ESS as stored
    assert priors["arms.control.endpoint_probability"]["ess"] == entry["ess"]
    # the analysis prior is robustified with weight 0.2 and mean 0.5: the stored robust ESS
    assert entry["robust"]["weight"] == 0.2
    assert priors["analysis.bayes.control_prior"]["ess"] == entry["robust"]["ess"]
    assert priors["analysis.bayes.control_prior"]["mean"] == pytest.approx(entry["mean"], abs=1e-6)


def test_fitted_prior_with_index_reads_the_indexed_entry():
    s = load_scenario(ROOT / "scenarios" / "ra-phase2.yaml")
    priors = {p["where"]: p for p in design_summary(s)["variants"]["monthly_x3"]["priors"]}
    stored = json.loads((ROOT / "priors" / "fitted" / "msc.json").read_text())
    entry = stored["variables"]["induction"]["summary"]["rheumatoid_arthritis"]
    induction = priors["arms.msc.response.induction"]
    assert induction["ess"] == entry["ess"]
    assert induction["written"] == "{prior: msc/induction[rheumatoid_arthritis]}"
    # the placebo rate is a fixed number: not a prior
    assert "arms.placebo.endpoint_probability" not in priors


def test_safety_rule_and_its_rates():
    s = scenario(
        {
            "arms": FIXED_ARMS | {"msc": FIXED_ARMS["msc"] | {}},
            "safety": {
                "max_serious_rate_per_year": 0.4,
                "posterior_probability": 0.8,
                "every_patients": 5,
            },
        }
    )
    safety = only(design_summary(s))["safety"]
    assert safety["max_serious_rate_per_year"] == 0.4
    assert safety["posterior_probability"] == 0.8
    assert safety["safe_rate_per_year"] == 0.2 and safety["unsafe_rate_per_year"] == 0.8
    assert safety["prior"] == {"shape": 0.5, "rate": 1.0}
    assert safety["checked"][0] == "every 5 treatment patients with follow-up"
    text = dict(summary_lines(design_summary(s)))["safety"]
    assert "0.2/yr (half the max)" in text and "0.8/yr (twice)" in text


def test_summary_json_and_python_api_carry_the_design(tmp_path):
    from simtrial.cli.main import main

    out = tmp_path / "out"
    file = ROOT / "scenarios" / "ra-phase2.yaml"
    args = [
        "run",
        str(file),
        "--out",
        str(out),
        "-q",
        "--engine",
        "exact",
        "--simulations",
        "50",
        "--no-report",
    ]
    assert main(args) == 0
    written = json.loads((out / "summary.json").read_text())
    expected = json.loads(json.dumps(design_summary(load_scenario(file))))
    assert written["design"] == expected
    result = run(load_scenario(file), engine="exact", simulations=10)
    assert result.design_summary() == design_summary(load_scenario(file))


def test_variants_that_differ_are_labelled():
    s = load_scenario(ROOT / "scenarios" / "ra-capacity.yaml")
    labels = [label for label, _ in summary_lines(design_summary(s))]
    assert "operations [slots_1_per_site]" in labels
    assert labels.count("endpoint") == 1  # the same in every variant: printed once


def test_report_has_the_design_section(tmp_path):
    from simtrial.report.html import report_html

    s = load_scenario(ROOT / "scenarios" / "ra-phase2.yaml")
    result = run(s, engine="exact", simulations=10)
    page = report_html(result, s, images={})
    assert "<section id='design'>" in page
    assert page.index("id='design'") < page.index("id='scenario'")
    assert "msc/induction[rheumatoid_arthritis]" in page
    assert "two-sided p ≤ 0.0500 (for a z statistic: |z| ≥ 1.9600)" in page


def test_ess_of_gamma_prior_is_its_rate_in_patient_years():
    s = scenario(
        {
            "safety": {
                "max_serious_rate_per_year": 0.4,
                "posterior_probability": 0.8,
                "prior": {"gamma": [1.5, 4]},
            }
        }
    )
    variant = only(design_summary(s))
    priors = {p["where"]: p for p in variant["priors"]}
    assert priors["safety.prior"]["ess"] == {"rate": 4.0}
    assert priors["safety.prior"]["ess_unit"] == "patient-years"
    assert priors["safety.prior"]["mean"] == pytest.approx(1.5 / 4)
    assert variant["safety"]["prior"] == {"shape": 1.5, "rate": 4.0}


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            None,
            None,
            "at look 1 (information 0.5), the best arm (by estimated difference) continues",
        ),
        ("rule: best", "rule: r_best, r: 2", "the 2 best arms (by estimated difference) continue,"),
        ("intersection_test: dunnett", "intersection_test: simes", "with the Simes test"),
        ("success: at_least_one", "success: all", "success: every selected arm shown better"),
    ],
)
def test_selection_line_reads_as_a_sentence(tmp_path, old, new, words):
    text = (ROOT / "scenarios" / "as-mams.yaml").read_text()
    if old is not None:
        assert old in text
        text = text.replace(old, new, 1)
    file = tmp_path / "as-mams.yaml"
    file.write_text(text)
    lines = dict(summary_lines(design_summary(load_scenario(file))))
    assert words in lines["selection"]
    assert "with the Dunnett test" in lines["selection"] or old == "intersection_test: dunnett"


def test_priors_shared_by_several_arms_are_one_line_naming_the_arms():
    """as-mams gives its three schedules the same four priors: one line per parameter naming
    the arms, not twelve identical lines (the placebo's fixed rate has none)."""
    lines = summary_lines(design_summary(load_scenario(ROOT / "scenarios" / "as-mams.yaml")))
    priors = [text for label, text in lines if label == "prior"]
    assert len(priors) == 4
    assert priors[0].startswith(
        "arms weekly_x4, monthly_x3, monthly_x6: each response.induction = "
        "{prior: msc/induction[ankylosing_spondylitis]}: mean 0.7064"
    )
    assert sum("per_infusion" in text for text in priors) == 1
    # one arm: the full path, as before
    one = summary_lines(design_summary(load_scenario(ROOT / "scenarios" / "as-schedules.yaml")))
    assert any(t.startswith("arms.msc.response.induction = ") for label, t in one)


def test_dropout_reads_as_a_probability_and_equal_arms_are_grouped():
    """'0.1/yr' read like a rate per patient-year; per_year is P(drop out within 52 weeks)."""
    lines = dict(summary_lines(design_summary(load_scenario(ROOT / "scenarios" / "as-mams.yaml"))))
    assert lines["dropout"] == (
        "every arm 0.1: probability of dropping out within 52 weeks (a risk, not a rate)"
    )
    s = scenario(
        {"arms": {**FIXED_ARMS, "msc": {**FIXED_ARMS["msc"], "dropout": {"per_year": 0.2}}}}
    )
    text = dict(summary_lines(design_summary(s)))["dropout"]
    assert text.startswith("control 0.1, msc 0.2: probability of dropping out within 52 weeks")
    assert "/yr" not in text


def test_single_look_is_read_as_the_tests_p_value_not_a_z_boundary():
    """Fisher's exact test has no z statistic: the line leads with its p-value."""
    lines = dict(
        summary_lines(design_summary(load_scenario(ROOT / "scenarios" / "as-schedules.yaml")))
    )
    assert lines["looks"] == (
        "one final analysis: success needs the test's two-sided p ≤ 0.0500 "
        "(for a z statistic: |z| ≥ 1.9600)"
    )


def test_critical_counts_of_a_calibrated_rule_say_they_are_at_the_written_threshold():
    """ra-phase2-bayes: the counts (14/30 at n_total 60) are those of the written 0.975; the
    run uses 0.9931, which needs 15/30. The line must not read as the design that runs."""
    s = load_scenario(ROOT / "scenarios" / "ra-phase2-bayes.yaml")
    lines = dict(summary_lines(design_summary(s)))
    assert lines["critical counts"].startswith(
        "with the threshold or alpha as written, not the calibrated one the results use"
    )
    plain = dict(
        summary_lines(design_summary(load_scenario(ROOT / "scenarios" / "as-schedules.yaml")))
    )
    assert plain["critical counts"].startswith("boundary[x_c]")


def test_a_runs_critical_counts_are_those_of_the_calibrated_rule():
    """In `simtrial run`, a calibrating design's counts are the calibrated rule's: the same as
    the written rule's boundary with the reported calibrated threshold written in."""
    s = load_scenario(ROOT / "scenarios" / "ra-phase2-bayes.yaml")
    base = s.variants["base"]
    result = run(s, simulations=50)
    counts = result.design["variants"]["base"]["critical_counts"]
    lines = dict(summary_lines(result.design))
    assert lines["critical counts"].startswith("boundary[x_c]")  # no "as written" warning
    differs = False
    for point, res in zip(counts["points"], result.variants["base"].points, strict=True):
        assert point["rule"] == "calibrated"
        threshold = res.extra["calibration"]["calibrated"]
        bayes = base.analysis.bayes.model_copy(update={"threshold": threshold})
        analysis = base.analysis.model_copy(update={"bayes": bayes, "calibrate": None})
        fixed = base.model_copy(update={"analysis": analysis})
        want = only(design_summary(fixed))["critical_counts"]["points"]
        want = next(p for p in want if p["n_total"] == point["n_total"])
        assert [lk["boundary"] for lk in point["looks"]] == [lk["boundary"] for lk in want["looks"]]
        written = next(
            p
            for p in only(design_summary(base))["critical_counts"]["points"]
            if p["n_total"] == point["n_total"]
        )
        differs |= point["looks"] != written["looks"]
    assert differs  # 15/30 calibrated vs 14/30 written at n_total 60
