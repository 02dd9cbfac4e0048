"""The design summary (rpact ``summary()`` style): what the trial is and how it decides.

:func:`design_summary` builds it as plain data (a dict, written to ``summary.json`` under
``design``); :func:`summary_lines` turns it into labelled lines of plain text, which
:func:`terminal_summary` (rich, printed by ``simtrial run`` above the results) and
:func:`html_summary` (the report's first section) lay out. Per variant it gives:

- **endpoint**: kind, week(s), and what happens to patients who drop out (missing-data rule);
- **analysis**: test, sidedness, α, and what counts as *success* — a rejection in the
  treatment's favour (a two-sided test also rejects when the control does better; that is not a
  success, and at an interim look it stops the trial for harm);
- **looks**: information fractions, efficacy boundaries on the z scale with their nominal
  p-values (``2·(1 − Φ(z))`` two-sided, ``1 − Φ(z)`` one-sided; Lan–DeMets spending, see
  :mod:`simtrial.analysis.group_sequential`), the cumulative α spent, and the futility rule;
- **critical counts** (*choice*, documented here and in the README): for each evaluated
  ``n_total`` and each look that can declare efficacy, the decision boundary in the form of
  RBesT's ``decision2S_boundary``: for every number of control responders ``x_c`` (0 … m_c),
  the smallest number of treatment responders ``x_t`` that succeeds (``None`` when none does).
  The printed line gives it at the expected control count, ``round(m_c·p_c)`` with ``p_c`` the
  control arm's endpoint probability at the point values (under non-responder imputation: after
  dropout). The numbers analysed are those randomised (all of them under non-responder
  imputation; under ``missing: exclude`` the summary shows the complete-follow-up case). Fixed
  designs and group-sequential looks of a single treatment–control comparison with a binary
  endpoint; not for several treatment arms (Holm/Bonferroni) or the log-rank test;
- **priors**: every parameter with a distribution — its role (design prior, averaged over by
  assurance; analysis prior of the Bayesian rule; SAE-rate prior of the safety rule), the mean
  used for power and its effective sample size (ESS). ``{beta: [a, b]}``: a + b (patients);
  ``{gamma: [shape, rate]}``: rate (units of exposure: patient-years for the SAE rate, weeks
  for a per-week rate; RBesT's ESS of a Gamma prior with a Poisson likelihood; likewise for
  fitted Gamma mixtures); fitted priors
  ``{prior: FIT/VAR[INDEX]}``: the ELIR, moment and Morita ESS of the Beta/Gamma-mixture
  approximation stored in ``priors/fitted/<fit>.json`` (:mod:`simtrial.priors.ess`); a
  robustified control prior (``bayes.robust_weight``) gets the ESS of the robust mixture;
  ``{lognormal: ...}`` has none;
- **safety**: the stopping rule (max SAE rate, posterior probability, Gamma prior, when it is
  checked) and the rates at which its stopping probability is reported: half and twice the
  max rate (:func:`simtrial.engines.decide.purpose_values`);
- **enrolment** and **dropout** per arm.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from simtrial._modules import make_callable
from simtrial.parameters import (
    BetaParam,
    Fixed,
    GammaParam,
    Parameter,
    PriorParam,
    point_value,
)
from simtrial.scenario import Scenario, ScenarioSet
from simtrial.words import SPENDING, TESTS, describe_endpoint

__all__ = [
    "decision_boundary",
    "design_section",
    "design_summary",
    "html_summary",
    "summary_lines",
    "terminal_summary",
]

SECTIONS = (
    "endpoint",
    "analysis",
    "looks",
    "critical_counts",
    "priors",
    "safety",
    "enrolment",
    "dropout",
    "operations",
)


def design_summary(
    scenarios: ScenarioSet | Scenario,
    calibrated: Mapping[str, Mapping[int, Scenario]] | None = None,
) -> dict[str, Any]:
    """The design summary of every variant, as plain data.

    Parameters
    ----------
    scenarios : ScenarioSet or Scenario
        From :func:`simtrial.load_scenario` (or one scenario, reported as ``base``).
    calibrated : mapping, optional
        Per variant, the calibrated scenario of each ``n_total`` (``analysis.calibrate``; what
        :func:`simtrial.run` evaluated): the critical counts are then those of the calibrated
        rule. Without it a calibrating design's counts are those of the rule as written.

    Returns
    -------
    dict
        ``{"variants": {name: {section: ...}}}`` with the sections of the module docstring
        (``None`` where a section does not apply).

    Examples
    --------
    >>> s = simtrial.load_scenario("scenarios/ra-phase2.yaml")  # doctest: +SKIP
    >>> d = simtrial.design_summary(s)  # doctest: +SKIP
    >>> d["variants"]["monthly_x3"]["looks"]["efficacy_z"]  # doctest: +SKIP
    [1.959964]
    """
    variants = scenarios.variants if isinstance(scenarios, ScenarioSet) else {"base": scenarios}
    return {
        "variants": {
            name: _variant(sc, (calibrated or {}).get(name, {})) for name, sc in variants.items()
        }
    }


def _variant(scenario: Scenario, calibrated: Mapping[int, Scenario]) -> dict[str, Any]:
    from simtrial.analysis.design import Design

    design = Design(scenario)
    return {
        "endpoint": _endpoint(scenario),
        "analysis": _analysis(scenario),
        "looks": _looks(scenario, design),
        "critical_counts": _critical_counts(scenario, design, calibrated),
        "priors": _priors(scenario),
        "safety": _safety(scenario),
        "enrolment": (
            {"rate_per_week": scenario.enrolment.rate_per_week} if scenario.enrolment else None
        ),
        "dropout": {
            arm: {
                "per_year": spec.dropout.per_year if spec.dropout else 0.0,
                "hazard_per_week": round(spec.dropout_hazard, 8),
            }
            for arm, spec in scenario.arms.items()
        },
        "operations": (
            scenario.operations.model_dump() if scenario.operations is not None else None
        ),
    }


# -- sections -------------------------------------------------------------------------------


def _endpoint(scenario: Scenario) -> dict[str, Any]:
    e = scenario.endpoint
    out: dict[str, Any] = {"kind": e.kind}
    for name in ("week", "from_week", "to_week", "follow_up_weeks"):
        if getattr(e, name) is not None:
            out[name] = getattr(e, name)
    out["missing"] = e.missing
    out["text"] = describe_endpoint(e)
    return out


def _analysis(scenario: Scenario) -> dict[str, Any]:
    a = scenario.analysis
    treatments = " or ".join(a.treatments)
    out: dict[str, Any] = {
        "test": a.test,
        "test_name": TESTS[a.test],
        "treatment": a.treatments,
        "control": a.control,
    }
    if a.test == "bayes_posterior":
        b = a.bayes
        assert b is not None
        out["threshold"] = b.threshold
        out["margin"] = b.margin
        out["success"] = (
            f"P(p_{treatments} − p_{a.control} > {b.margin:g} | data) > {b.threshold:g} "
            "(the rule only ever favours the treatment)"
        )
        _calibration(a, out, "threshold")
        return out
    out["alpha"] = a.alpha
    out["sided"] = a.sided
    if a.multiplicity:
        out["multiplicity"] = a.multiplicity
    if a.sided == "two":
        out["success"] = (
            f"a two-sided rejection at α = {a.alpha:g} with {treatments} doing better than "
            f"{a.control}; a rejection with {a.control} doing better is not a success (it "
            "counts in the type I error and 'either direction'; at an interim it stops for harm)"
        )
    else:
        out["success"] = (
            f"a one-sided rejection at α = {a.alpha:g} (the alternative: {treatments} better "
            f"than {a.control})"
        )
    _calibration(a, out, "alpha")
    if a.selection is not None:
        out["selection"] = _selection(a)
    return out


def _selection(a: Any) -> str:
    """A multi-arm multi-stage design in words (:mod:`simtrial.analysis.mams`)."""
    sel = a.selection
    if sel.rule == "r_best":
        rule = f"the {sel.r} best arms"
    elif sel.rule == "epsilon":
        rule = f"every arm within {sel.epsilon:g} of the best"
    elif sel.rule == "threshold":
        rule = f"every arm above {sel.threshold:g}"
    else:
        rule = {"best": "the best arm", "all": "every arm"}[sel.rule]
    measure = "estimated difference" if sel.effect_measure == "estimate" else "z statistic"
    verb = "continues" if sel.rule == "best" else "continue"
    test = a.intersection_test or "dunnett"
    test = test if test == "hierarchical" else test.capitalize()
    success = "every" if a.success == "all" else "at least one"
    information = a.interims.information if a.interims is not None else None
    look = f"at look {sel.at_look}"
    if information is not None and sel.at_look <= len(information):
        look += f" (information {information[sel.at_look - 1]:g})"
    text = (
        f"{look}, {rule} (by {measure}) {verb}, the others stop recruiting; "
        f"closed testing of every intersection with the {test} test, stages combined by the "
        f"inverse-normal method; success: {success} selected arm shown better than the control"
    )
    if sel.reestimation is not None:
        r = sel.reestimation
        text += (
            f"; later stages re-sized for conditional power {r.conditional_power:g} "
            f"({r.min_per_stage}–{r.max_per_stage} per arm and stage)"
        )
    return text


def _calibration(a: Any, out: dict[str, Any], what: str) -> None:
    """With ``analysis.calibrate`` the nominal threshold/alpha is not the one that runs."""
    cal = getattr(a, "calibrate", None)
    if cal is None:
        return
    low, high = cal.over
    out["calibrated"] = (
        f"the {what} above is nominal: the run replaces it, at each n_total, by the one that "
        f"keeps the worst-case exact type I error at or below {cal.type1_error:g} for true "
        f"control rates in [{low:g}, {high:g}] (see the type I error curve)"
    )


def _looks(scenario: Scenario, design: Any) -> dict[str, Any] | None:
    from simtrial.analysis.group_sequential import boundaries

    a = scenario.analysis
    interims = a.interims
    out: dict[str, Any] = {"information": list(design.information)}
    b = design.boundaries
    if a.test == "logrank":  # one final analysis at level alpha
        b = boundaries([1.0], a.alpha, a.sided, "none")
    if b is not None:
        out["efficacy_z"] = [round(c, 6) if math.isfinite(c) else None for c in b.efficacy_z]
        out["nominal_p"] = [round(p, 8) for p in b.nominal_alpha]
        out["cumulative_alpha"] = [round(x, 8) for x in b.cumulative_alpha]
        out["spending"] = b.spending
        out["sided"] = b.sided
        if a.multiplicity:
            out["multiplicity"] = a.multiplicity
    else:
        out["efficacy_z"] = None
        out["spending"] = interims.efficacy_spending if interims else "none"
    futility = interims.futility if interims else None
    if futility is None:
        out["futility"] = None
    elif futility.conditional_power_below is not None:
        out["futility"] = (
            f"non-binding: stop at an interim when the conditional power under the current "
            f"trend < {futility.conditional_power_below:g}"
        )
    else:
        out["futility"] = (
            "non-binding: stop at an interim when the predictive probability of success "
            f"< {futility.predictive_probability_below:g}"
        )
    return out


def _control_probability(scenario: Scenario) -> float | None:
    """P(control meets the endpoint) at the point values (after dropout under NRI)."""
    from simtrial.engines.base import point_values
    from simtrial.model import endpoint_law

    try:
        values = point_values(scenario)[scenario.analysis.control]
        law = endpoint_law(values, scenario.endpoint)
    except ValueError:  # re-dosing on loss: no closed form
        return None
    p = law.nri() if scenario.endpoint.missing == "non_responder" else law.success
    return float(p)


def success_table(design: Any, look: int, m_t: int, m_c: int) -> np.ndarray:
    """Where the design succeeds at analysis ``look`` with ``m_t``/``m_c`` patients analysed:
    the efficacy region in the treatment's favour, over ``(x_t, x_c)``."""
    from simtrial.analysis.frequentist import rejection_table

    a = design.scenario.analysis
    if design.bayesian:
        table = np.asarray(design._bayes.table(m_t, m_c), dtype=bool)
    else:
        level = design.boundaries.nominal_alpha[look]
        table = np.asarray(rejection_table(a.test, m_t, m_c, level, a.sided), dtype=bool)
    if design.two_way:
        xt, xc = np.arange(m_t + 1)[:, None], np.arange(m_c + 1)[None, :]
        table = table & (xt * m_c > xc * m_t)
    return table


def decision_boundary(table: np.ndarray) -> list[int | None]:
    """For each x_c (column), the smallest x_t (row) in the success region, else None."""
    region = np.asarray(table, dtype=bool)
    hit = [bool(h) for h in np.atleast_1d(region.any(axis=0))]
    first = [int(f) for f in region.argmax(axis=0)]
    return [f if h else None for f, h in zip(first, hit, strict=True)]


def _critical_counts(
    scenario: Scenario, written: Any, calibrated: Mapping[int, Scenario]
) -> dict[str, Any] | None:
    from simtrial.analysis.design import Design

    a = scenario.analysis
    if a.test == "logrank" or len(a.treatments) > 1:
        return None
    t, c = a.treatments[0], a.control
    p_c = _control_probability(scenario)
    points = []
    for n_total in scenario.evaluate.n_total:
        n = scenario.n_per_arm(n_total)
        design: Any = Design(calibrated[n_total]) if n_total in calibrated else written
        looks = []
        for k, fraction in enumerate(design.information):
            final = fraction >= 1.0
            if not final and not design.efficacy_at_interims:
                continue
            if not design.bayesian and design.boundaries.nominal_alpha[k] <= 0:
                continue
            m_t = n[t] if final else max(1, round(fraction * n[t]))
            m_c = n[c] if final else max(1, round(fraction * n[c]))
            boundary = decision_boundary(success_table(design, k, m_t, m_c))
            x_c = None if p_c is None else int(round(p_c * m_c))
            looks.append(
                {
                    "information": fraction,
                    "m_treatment": m_t,
                    "m_control": m_c,
                    "expected_control_responders": None if p_c is None else round(p_c * m_c, 4),
                    "x_control": x_c,
                    "x_treatment_critical": None if x_c is None else boundary[x_c],
                    "boundary": boundary,
                }
            )
        point: dict[str, Any] = {"n_total": n_total, "n_per_arm": {t: n[t], c: n[c]}}
        if n_total in calibrated:
            point["rule"] = "calibrated"
        elif a.calibrate is not None:
            point["rule"] = "as written"
        points.append({**point, "looks": looks})
    return {
        "treatment": t,
        "control": c,
        "control_probability": None if p_c is None else round(p_c, 6),
        "rule": (
            f"boundary[x_c] = the smallest number of {t} responders x_t that succeeds given "
            f"x_c {c} responders (RBesT decision2S_boundary); x_t − 1 does not"
        ),
        "points": points,
    }


def _ess_of(param: Parameter, unit: str, robust_weight: float = 0.0) -> dict[str, Any]:
    if isinstance(param, BetaParam):
        return {"ess": {"a+b": param.a + param.b}, "ess_unit": "patients"}
    if isinstance(param, GammaParam):
        return {"ess": {"rate": param.rate}, "ess_unit": unit}
    if isinstance(param, PriorParam):
        from simtrial.errors import PriorError
        from simtrial.priors import store

        pos = store.resolve_index(param.fit, param.var, param.index)
        try:
            info = store.summary(param.fit)["variables"][param.var]
        except (PriorError, KeyError):  # a fit without its JSON summary: no stored ESS
            return {"ess": None, "ess_unit": None}
        entry = info["summary"]
        if pos is not None:
            entry = entry[info["coords"][info["dims"][0]][pos]]
        family = entry.get("mixture_family")
        out: dict[str, Any] = {
            "family": family,
            "ess_unit": "patients" if family == "beta" else unit,
        }
        if robust_weight > 0:
            robust = entry.get("robust") or {}
            if robust.get("weight") == robust_weight and robust.get("mean") == 0.5:
                out["ess"] = dict(robust["ess"])
            else:
                out["ess"] = _robust_ess(entry, robust_weight)
            out["robust_weight"] = robust_weight
        else:
            out["ess"] = dict(entry.get("ess") or {})
        return out
    return {"ess": None, "ess_unit": None}


def _robust_ess(entry: dict[str, Any], weight: float) -> dict[str, float | None]:
    """ESS of a fitted Beta mixture robustified with another weight than the stored one."""
    from simtrial.priors.ess import ess
    from simtrial.priors.mixture import BetaMixture, robustify

    comps = entry["mixture"]
    mix = BetaMixture(
        np.array([x["weight"] for x in comps]),
        np.array([x["a"] for x in comps]),
        np.array([x["b"] for x in comps]),
    )
    robust = robustify(mix, weight, mean=0.5)
    out: dict[str, float | None] = {}
    for method in ("elir", "moment", "morita"):
        try:
            out[method] = float(ess(robust, method))
        except Exception:  # noqa: BLE001 - an undefined ESS is reported as missing
            out[method] = None
    return out


def _exposure(where: str) -> str:
    """The exposure unit of a rate's ESS (a Gamma prior's rate, Poisson likelihood)."""
    if where.endswith("per_week"):
        return "weeks of exposure"
    if where.endswith("per_year") or where.startswith("safety"):
        return "patient-years"
    return "patients"


def _written(param: Parameter) -> str:
    if isinstance(param, PriorParam):
        return f"{{prior: {param}}}"
    return str(param)


def _priors(scenario: Scenario) -> list[dict[str, Any]]:
    out = []
    bayes = scenario.analysis.bayes
    for loc, param in scenario.parameters():
        if isinstance(param, Fixed):
            continue
        where = ".".join(str(p) for p in loc)
        if loc[0] == "analysis":
            role = "analysis prior of the Bayesian rule"
        elif loc[0] == "safety":
            role = "prior of the SAE rate in the safety rule"
        else:
            pv = point_value(param, scenario.evaluate.point_values)
            role = (
                f"design prior: power uses its {pv.summary} ({pv.value:.4g}), assurance "
                "averages over it"
            )
        robust = 0.0
        if loc == ("analysis", "bayes", "control_prior") and bayes is not None:
            robust = bayes.robust_weight
        entry: dict[str, Any] = {"where": where, "role": role, "written": _written(param)}
        entry["mean"] = round(float(param.mean()), 6)
        entry.update(_ess_of(param, _exposure(where), robust))
        out.append(entry)
    safety = scenario.safety
    if safety is not None and safety.prior is None:
        out.append(
            {
                "where": "safety.prior",
                "role": "prior of the SAE rate in the safety rule (default)",
                "written": "Gamma(0.5, rate=1)",
                "mean": 0.5,
                "ess": {"rate": 1.0},
                "ess_unit": "patient-years",
            }
        )
    return out


def _safety(scenario: Scenario) -> dict[str, Any] | None:
    from simtrial.analysis.design import safety_prior

    s = scenario.safety
    if s is None:
        return None
    shape, rate = safety_prior(scenario)
    checks = ["at every interim analysis"] if scenario.analysis.interims else []
    if s.every_patients:
        checks.insert(0, f"every {s.every_patients} treatment patients with follow-up")
    assumed = {}
    for t in scenario.analysis.treatments:
        ae = scenario.arms[t].adverse_events
        assumed[t] = round(float(ae.serious_rate_per_year.mean()), 6) if ae else 0.0
    return {
        "max_serious_rate_per_year": s.max_serious_rate_per_year,
        "posterior_probability": s.posterior_probability,
        "prior": {"shape": shape, "rate": rate},
        "checked": checks or ["never before the final analysis (no interim look)"],
        "assumed_rate_per_year": assumed,
        "safe_rate_per_year": s.max_serious_rate_per_year * 0.5,
        "unsafe_rate_per_year": s.max_serious_rate_per_year * 2.0,
    }


# -- renderers ------------------------------------------------------------------------------


def _p(value: float) -> str:
    return f"{value:.4f}" if value >= 1e-4 else f"{value:.2e}"


def _section_lines(key: str, s: Any) -> list[tuple[str, str]]:
    """Labelled plain-text lines of one section (empty when it does not apply)."""
    if s is None:
        if key == "safety":
            return [("safety", "no safety stopping rule")]
        if key == "enrolment":
            return [("enrolment", "not modelled (no duration is computed)")]
        return []
    if key == "endpoint":
        return [("endpoint", f"{s['kind']}: {s['text']}")]
    if key == "analysis":
        a = s
        lines = []
        if a["test"] == "bayes_posterior":
            lines.append(("test", f"{a['test_name']} ({a['test']})"))
        else:
            test = f"{a['test_name']} ({a['test']}), {a['sided']}-sided, α = {a['alpha']:g}"
            if a.get("multiplicity"):
                test += f", {a['multiplicity']} for several arms"
            lines.append(("test", test))
        lines.append(("success", a["success"]))
        if a.get("calibrated"):
            lines.append(("calibrated", a["calibrated"]))
        if a.get("selection"):
            lines.append(("selection", a["selection"]))
        return lines
    if key == "looks":
        lines = []
        info = s["information"]
        if s.get("efficacy_z") is not None and len(info) > 1:
            cells = []
            stat = "|z|" if s["sided"] == "two" else "z"
            for t, z, p in zip(info, s["efficacy_z"], s["nominal_p"], strict=True):
                if z is None:
                    cells.append(f"t={t:g}: none")
                else:
                    cells.append(f"t={t:g}: {stat} ≥ {z:.4f} (p ≤ {_p(p)})")
            lines.append(("looks", f"{SPENDING[s['spending']]} (Lan–DeMets); " + "; ".join(cells)))
        elif s.get("efficacy_z") is not None:
            z, p = s["efficacy_z"][0], s["nominal_p"][0]
            stat = "|z|" if s["sided"] == "two" else "z"
            text = (
                f"one final analysis: success needs the test's {s['sided']}-sided p ≤ {_p(p)} "
                f"(for a z statistic: {stat} ≥ {z:.4f})"
            )
            if s.get("multiplicity"):
                text += f" overall; each comparison's level adjusted by {s['multiplicity']}"
            lines.append(("looks", text))
        elif len(info) > 1:
            looks = ", ".join(f"{t:g}" for t in info)
            lines.append(("looks", f"at information {looks}; efficacy: {SPENDING[s['spending']]}"))
        if s.get("futility"):
            lines.append(("futility", s["futility"]))
        return lines
    if key == "critical_counts":
        lines = []
        t, c = s["treatment"], s["control"]
        pc = s["control_probability"]
        for point in s["points"]:
            for look in point["looks"]:
                m_t, m_c = look["m_treatment"], look["m_control"]
                where = "" if look["information"] >= 1 else f" at t={look['information']:g}"
                rule = f" ({point['rule']})" if point.get("rule") else ""
                head = f"n_total {point['n_total']}{where}{rule}"
                if look["x_control"] is None:
                    text = f"{m_t} vs {m_c} analysed (control probability unknown)"
                else:
                    crit = look["x_treatment_critical"]
                    need = (
                        f"success needs ≥ {crit}/{m_t} {t} responders"
                        if crit is not None
                        else f"no number of {t} responders succeeds"
                    )
                    text = (
                        f"{need} when {look['x_control']}/{m_c} {c} respond (expected "
                        f"{pc * m_c:.1f})"
                    )
                lines.append((head, text))
        if lines:
            lines.insert(0, ("critical counts", s["rule"] + "; full boundary in summary.json"))
        return lines
    if key == "priors":
        lines = []
        for pr, arms in _group_priors(s):
            ess = pr.get("ess")
            if not ess:
                ess_text = "ESS: none"
            else:
                parts = [f"{k} {v:.1f}" for k, v in ess.items() if isinstance(v, int | float)]
                ess_text = f"ESS ({pr['ess_unit']}): " + ", ".join(parts)
            robust = (
                f", robustified (weight {pr['robust_weight']:g} on Beta(1, 1))"
                if pr.get("robust_weight")
                else ""
            )
            where = pr["where"]
            if len(arms) > 1:
                where = f"arms {', '.join(arms)}: each {where.split('.', 2)[2]}"
            lines.append(
                (
                    "prior",
                    f"{where} = {pr['written']}{robust}: mean {pr['mean']:.4g}; "
                    f"{ess_text} — {pr['role']}",
                )
            )
        return lines
    if key == "safety":
        assumed = ", ".join(f"{a} {r:g}" for a, r in s["assumed_rate_per_year"].items())
        return [
            (
                "safety",
                f"stop when P(SAE rate > {s['max_serious_rate_per_year']:g}/patient-year | "
                f"data) > {s['posterior_probability']:g}, Gamma({s['prior']['shape']:g}, "
                f"rate={s['prior']['rate']:g}) prior; checked {', '.join(s['checked'])}; "
                f"P(safety stop) reported at {s['safe_rate_per_year']:g}/yr (half the max) and "
                f"{s['unsafe_rate_per_year']:g}/yr (twice); assumed SAE rate: {assumed}/yr",
            )
        ]
    if key == "operations":
        o = s
        parts = [f"{o['sites']} site{'s' * (o['sites'] > 1)}"]
        if o.get("infusion_slots_per_week") is not None:
            k = o["infusion_slots_per_week"]
            parts.append(f"{k:g} infusion slot{'s' * (k != 1)} per site and week")
        if o.get("doses_per_week") is not None:
            d = o["doses_per_week"]
            parts.append(f"{d:g} cell dose{'s' * (d != 1)} released per week")
        if o.get("visit_window_weeks"):
            parts.append(f"visit window ± {o['visit_window_weeks']:g} weeks")
        return [("operations", ", ".join(parts) + " (des engine)")]
    if key == "enrolment":
        return [("enrolment", f"Poisson, {s['rate_per_week']:g} patients per week")]
    if key == "dropout":
        rates = {d["per_year"] for d in s.values()}
        if len(rates) == 1 and len(s) > 1:
            text = f"every arm {rates.pop():g}"
        else:
            text = ", ".join(f"{arm} {d['per_year']:g}" for arm, d in s.items())
        return [
            ("dropout", f"{text}: probability of dropping out within 52 weeks (a risk, not a rate)")
        ]
    raise KeyError(key)


def _group_priors(priors: list[dict[str, Any]]) -> list[tuple[dict[str, Any], list[str]]]:
    """Priors with the arms that share them: the entries ``arms.<arm>.<rest>`` that differ only
    in the arm (same parameter, prior, mean, ESS and role) become one entry, in the order of
    their first arm, so three schedules of one treatment give one line per parameter."""
    groups: dict[Any, tuple[dict[str, Any], list[str]]] = {}
    for pr in priors:
        parts = pr["where"].split(".", 2)
        if parts[0] != "arms" or len(parts) < 3:
            groups[id(pr)] = (pr, [])
            continue
        key = json.dumps({**pr, "where": parts[2]}, sort_keys=True, default=str)
        if key in groups:
            groups[key][1].append(parts[1])
        else:
            groups[key] = (pr, [parts[1]])
    return list(groups.values())


def summary_lines(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary as (label, text) lines; sections that differ between variants are given
    per variant (label ``label [variant]``)."""
    variants = summary["variants"]
    names = list(variants)
    lines: list[tuple[str, str]] = []
    for key in SECTIONS:
        values = [variants[n][key] for n in names]
        if all(v == values[0] for v in values[1:]):
            lines += _section_lines(key, values[0])
        else:
            for name, value in zip(names, values, strict=True):
                lines += [(f"{label} [{name}]", text) for label, text in _section_lines(key, value)]
    if any(
        point.get("rule") == "as written"
        for n in names
        for point in (variants[n]["critical_counts"] or {}).get("points", [])
    ):
        # the counts come from the rule as written; the results use the calibrated one
        lines = [
            (label, CALIBRATED_COUNTS + text)
            if label.startswith("critical counts")
            else (label, text)
            for label, text in lines
        ]
    return lines


CALIBRATED_COUNTS = (
    "with the threshold or alpha as written, not the calibrated one the results use (whose "
    "counts can differ; see the type I error curve): "
)


def terminal_summary(summary: dict[str, Any]) -> Any:
    """A rich renderable: a title and two columns (label, wrapped text; nothing truncated)."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1))
    grid.title = "Design"
    grid.title_justify = "left"
    grid.add_column(style="bold", no_wrap=False, overflow="fold")
    grid.add_column(overflow="fold")
    for label, text in summary_lines(summary):
        grid.add_row(Text(label), Text(text))  # Text: no markup ([index] stays as written)
    return grid


def html_summary(summary: dict[str, Any]) -> str:
    """The summary as an HTML definition list (every text escaped)."""
    from simtrial.narrative import esc

    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in summary_lines(summary))
    return f"<dl class='defs design'>{items}</dl>"


def design_section(result: Any, scenarios: ScenarioSet) -> str:
    """The report's design section: the run's summary (or the scenario's, when not stored)."""
    summary = result.design if result.design is not None else design_summary(scenarios)
    return (
        "<p>What the trial is and how it decides, as simulated (also under <code>design</code> "
        "in summary.json, with the full decision boundaries).</p>" + html_summary(summary)
    )


make_callable(__name__)  # ``from simtrial import design_summary; design_summary(s)``
