"""The scenario in plain words, and the evidence behind its priors, for the HTML report.

Used by :mod:`simtrial.html`: sentences for a scenario's endpoint, arms, analysis and variants;
the comment block at the top of a scenario file and the question in it; and, for every
parameter, what it means, its value as written, the point value used for power and its evidence --
for ``{prior: FIT/VAR[INDEX]}`` the fit, variable, index, posterior summary and the pilot
observations behind it (from ``priors/fitted/<fit>.json`` and the evidence files
``priors/evidence/*.yaml``). :func:`prior_evidence` and the evidence cell of
:func:`assumption_rows` are HTML, with every text from the evidence escaped by :func:`esc`; the
other functions return plain text, which the report escapes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

from simtrial.parameters import (
    BetaParam,
    Fixed,
    GammaParam,
    LogNormalParam,
    Parameter,
    PointRule,
    PriorParam,
    point_value,
)
from simtrial.scenario import RedoseOnLoss, Scenario, ScenarioSet
from simtrial.words import SPENDING as SPENDING
from simtrial.words import TESTS as TESTS
from simtrial.words import describe_endpoint as describe_endpoint

__all__ = [
    "assumption_rows",
    "describe_analysis",
    "describe_arm",
    "describe_endpoint",
    "describe_variant",
    "esc",
    "header_comment",
    "prior_evidence",
]


def esc(value: Any) -> str:
    """HTML-escape any value (quotes too)."""
    return html.escape(str(value), quote=True)


def _weeks(weeks: list[float]) -> str:
    return ", ".join(f"{w:g}" for w in weeks)


# -- plain words ----------------------------------------------------------------------------


def selection_words(scenario: Scenario) -> str:
    """The selection design in words (``analysis.selection``)."""
    a = scenario.analysis
    s = a.selection
    assert s is not None
    if s.rule == "best":
        who = "only the best arm continues"
    elif s.rule == "r_best":
        who = f"the {s.r} best arms continue"
    elif s.rule == "epsilon":
        who = f"the arms within {s.epsilon} of the best continue"
    elif s.rule == "all":
        who = "every arm continues"
    else:
        who = f"the arms above {s.threshold} continue"
    if s.threshold is not None and s.rule != "threshold":
        who += f" (if above {s.threshold:g})"
    measure = "rate difference" if s.effect_measure == "estimate" else "z statistic"
    test = (a.intersection_test or "dunnett").capitalize()
    goal = "at least one arm" if (a.success or "at_least_one") == "at_least_one" else "every arm"
    re = s.reestimation
    if re is not None:
        who += (
            f", with {re.min_per_stage}-{re.max_per_stage} patients per arm in each later stage "
            f"for a conditional power of {re.conditional_power:g}"
        )
    return (
        f"; at look {s.at_look} {who}, by the observed {measure}, and the others stop "
        f"recruiting; closed testing with {test} intersection tests and the inverse-normal "
        f"combination of the stages; success (and an early stop) when {goal} still recruiting "
        "is shown better"
    )


def describe_analysis(scenario: Scenario) -> str:
    a = scenario.analysis
    treatments = " and ".join(a.treatments)
    sided = (
        "two-sided" if a.sided == "two" else "one-sided (only the treatment being better counts)"
    )
    text = f"{treatments} against {a.control} by {TESTS[a.test]}"
    if a.test != "bayes_posterior":
        text += f", {sided}, at significance level α = {a.alpha:g}"
    if a.multiplicity:
        text += f", {a.multiplicity} correction for the several comparisons"
    if a.bayes is not None:
        b = a.bayes
        text += f": success when P(p_treatment − p_control > {b.margin:g} | data) > {b.threshold:g}"
    if a.calibrate is not None:
        what = "threshold" if a.bayes is not None else "α"
        text += (
            f" as written; the results use the {what} calibrated at each sample size so that "
            f"the worst-case type I error over true control rates {a.calibrate.over[0]:g}–"
            f"{a.calibrate.over[1]:g} is at most {a.calibrate.type1_error:g} (section “Type I "
            "error across control rates”)"
        )
    if a.interims is not None:
        looks = ", ".join(f"{f:.0%}" for f in a.interims.information)
        text += (
            f"; analyses when {looks} of the patients have their endpoint "
            f"(efficacy boundaries: {SPENDING[a.interims.efficacy_spending]})"
        )
        if a.selection is not None:
            text += selection_words(scenario)
        fut = a.interims.futility
        if fut is not None:
            if fut.conditional_power_below is not None:
                text += (
                    f"; stop for futility when conditional power < {fut.conditional_power_below:g}"
                )
            else:
                text += (
                    "; stop for futility when the predictive probability of success < "
                    f"{fut.predictive_probability_below:g}"
                )
    if scenario.safety is not None:
        s = scenario.safety
        text += (
            f"; stop for safety when P(SAE rate > {s.max_serious_rate_per_year:g} per "
            f"patient-year | data) > {s.posterior_probability:g}"
        )
    return text


def describe_arm(name: str, scenario: Scenario) -> str:
    arm = scenario.arms[name]
    if arm.schedule is None:
        written, used, _ = _cells(arm.endpoint_probability)
        value = written if written == used else f"{written}, point value {used}"
        return (
            f"{name}: probability of meeting the endpoint given directly, {value} (for "
            "patients still in the study then)"
        )
    text = f"{name}: infusions at weeks {_weeks(arm.schedule.infusion_weeks)}"
    r = arm.schedule.redose_on_loss
    if r is not None:
        text += (
            f", plus up to {r.max} extra infusion{'s' * (r.max > 1)} when a loss of response is "
            f"seen at a visit (visits every {r.assess_every_weeks:g} weeks, infusion "
            f"{r.delay_weeks:g} weeks later)"
        )
    return text


def _flatten(change: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if not isinstance(change, Mapping) or not change:
        return [(prefix, change)] if prefix else []
    out: list[tuple[str, Any]] = []
    for key, value in change.items():
        out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def describe_variant(name: str, scenarios: ScenarioSet) -> str:
    """What a variant is, in plain words: its arms that differ between the variants (by their
    schedules), then any other field it changes (``path = value``)."""
    sc = scenarios.variants[name]
    phrases = [
        describe_arm(arm, sc)
        for arm in sc.arms
        if len({describe_arm(arm, o) for o in scenarios.variants.values() if arm in o.arms}) > 1
    ]
    changes = (scenarios.raw.get("variants") or {}).get(name)
    phrases += [f"{p} = {v}" for p, v in _flatten(changes) if ".schedule" not in p]
    return "; ".join(phrases) or "as the base scenario"


def header_comment(text: str) -> str:
    """The comment block at the top of a YAML file, without the ``#`` marks."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        lines.append(stripped[1:].removeprefix(" "))
    return "\n".join(lines).strip()


def _question(notes: str) -> str | None:
    for para in notes.split("\n\n"):
        if para.lstrip().lower().startswith("question:"):
            text = " ".join(para.split())[len("question:") :].strip()
            return text[:1].upper() + text[1:]
    return None


# -- assumptions and evidence ---------------------------------------------------------------

MEANINGS = {
    "endpoint_probability": "probability that a patient meets the endpoint (given directly)",
    "schedule.infusion_weeks": "weeks of the planned infusions (a design choice)",
    "schedule.redose_on_loss": "extra infusions when a loss of response is seen",
    "response.induction": "chance that an infusion starts a response in a patient not responding",
    "response.loss_per_week": "weekly hazard of losing a response",
    "response.ceiling": "share of patients who can respond at all",
    "response.onset_weeks": "weeks from an infusion to the start of its response",
    "adverse_events.per_infusion": "chance that an infusion causes an infusion-related AE",
    "adverse_events.serious_rate_per_year": "serious adverse events per patient-year",
    "dropout.per_year": "chance of dropping out within a year",
}
SCENARIO_MEANINGS = {
    "enrolment.rate_per_week": "patients randomised per week (Poisson accrual)",
    "analysis.bayes.treatment_prior": "prior for the treatment's response rate in the analysis",
    "analysis.bayes.control_prior": "prior for the control's response rate in the analysis",
    "safety.prior": "prior for the SAE rate in the safety rule",
}

FIXED = "fixed in the scenario file (reasons, if given: the notes above)"
VAR_KINDS = {
    "induction": {"responders", "ever_responded"},
    "loss_per_week": {"responders", "ever_responded", "relapses", "mean_duration"},
    "ae_per_infusion": {"infusion_reactions"},
    "sae_per_year": {"serious_events"},
}


def _interval(param: Parameter) -> tuple[float, float] | None:
    from scipy import stats

    if isinstance(param, BetaParam):
        d: Any = stats.beta(param.a, param.b)
    elif isinstance(param, GammaParam):
        d = stats.gamma(param.shape, scale=1.0 / param.rate)
    elif isinstance(param, LogNormalParam):
        d = stats.lognorm(param.sigma, scale=math.exp(param.mu))
    else:
        return None
    return float(d.ppf(0.025)), float(d.ppf(0.975))


def _observation_text(obs: Any) -> str:
    kind = obs.kind
    if kind == "responders":
        return f"{obs.responders}/{obs.n} responders ({obs.endpoint}) at week {obs.week:g}"
    if kind == "ever_responded":
        return (
            f"{obs.responders}/{obs.n} responded ({obs.endpoint}) within {obs.within_weeks:g} weeks"
        )
    if kind == "relapses":
        return (
            f"{obs.relapses} of {obs.responders} responders relapsed within "
            f"{obs.follow_up_weeks:g} weeks"
        )
    if kind == "mean_duration":
        return f"mean response duration {obs.mean_weeks:g} weeks ({obs.responders} responders)"
    if kind == "infusion_reactions":
        return f"{obs.events} infusion reactions in {obs.infusions} infusions"
    if kind == "serious_events":
        return (
            f"{obs.events} serious adverse events in {obs.patients} patients over "
            f"{obs.follow_up_weeks:g} weeks"
        )
    return str(kind)


def prior_evidence(param: PriorParam) -> str:
    """HTML: the fit behind a ``{prior: ...}`` parameter, its summary and its source pilots."""
    from simtrial.errors import SimtrialError
    from simtrial.priors import store

    try:
        summary = store.summary(param.fit)
        pos = store.resolve_index(param.fit, param.var, param.index)
    except SimtrialError as exc:
        return f"<p>fit {esc(param.fit)}: {esc(exc)}</p>"
    info = summary["variables"][param.var]
    label = info["coords"][info["dims"][0]][pos] if pos is not None else None
    stats = info["summary"][label] if label is not None else info["summary"]
    diag = summary.get("diagnostics", {})
    parts = [
        f"<p>Fit <code>{esc(param.fit)}</code> ({esc(summary.get('description', ''))}), "
        f"variable <code>{esc(param.var)}</code>"
        + (f", index <code>{esc(label)}</code>" if label is not None else "")
        + f": posterior mean {stats['mean']:.3g}, sd {stats['sd']:.3g}, 95% interval "
        f"{stats['q025']:.3g}–{stats['q975']:.3g}. Sampling: {summary.get('chains', '?')} chains × "
        f"{summary.get('draws', '?')} draws, max R-hat {diag.get('max_rhat', float('nan')):.3f}, "
        f"min bulk ESS {diag.get('min_ess_bulk', float('nan')):.0f}, "
        f"{diag.get('divergences', '?')} divergences.</p>"
    ]
    try:
        from simtrial.priors.evidence import load_all, observations_for

        pairs = observations_for(load_all(), param.fit)
    except (SimtrialError, OSError) as exc:
        return "".join(parts) + f"<p>Evidence files not available: {esc(exc)}</p>"
    base = param.var.removesuffix("_new")
    kinds = VAR_KINDS.get(base)
    if kinds is not None:
        pairs = [(ev, obs) for ev, obs in pairs if obs.kind in kinds]
    direct = pairs
    note = "From every observation of this kind in the fit ("
    if label is not None and any(ev.indication == label for ev, _ in pairs):
        direct = [(ev, obs) for ev, obs in pairs if ev.indication == label]
        note = (
            f"Directly from the {esc(label.replace('_', ' '))} pilot(s) below; partially pooled "
            "with the other indications by the hierarchical model ("
        )
    elif label is not None and any(obs.id == label for _, obs in pairs):
        direct = [(ev, obs) for ev, obs in pairs if obs.id == label]
        note = "From this observation ("
    elif param.var.endswith("_new"):
        note = "Predicted for an indication or study not in the data, from all of ("
    parts.append(f"<p>{note}{len(direct)} observation{'s' * (len(direct) != 1)}):</p>")
    items = []
    for study in dict.fromkeys(ev.study for ev, _ in direct):
        obs_list = [(ev, obs) for ev, obs in direct if ev.study == study]
        ev = obs_list[0][0]
        facts = "; ".join(_observation_text(obs) for _, obs in obs_list)
        quotes = "".join(
            f"<blockquote>“{esc(q)}”</blockquote>"
            for q in dict.fromkeys(o.quote for _, o in obs_list)
        )
        items.append(
            f"<li><b>{esc(study)}</b> — {esc(facts)}. "
            f"<span class='muted'>{esc(ev.citation)}</span>{quotes}</li>"
        )
    parts.append(f"<ul class='src'>{''.join(items)}</ul>")
    return "".join(parts)


def _param_cells(param: Parameter, rule: PointRule = "auto") -> tuple[str, str, str]:
    """(as written, point value used for power [95% interval], evidence HTML) of a parameter."""
    if isinstance(param, Fixed):
        return f"{param.value:g}", f"{param.value:.4g}", FIXED
    pv = point_value(param, rule)
    used = f"{pv.value:.4g} ({pv.summary})"
    if pv.summary == "median" and not pv.mean_usable:
        if pv.heavy_tail and pv.q05 <= pv.mean <= pv.q95:
            used += f"; its mean {pv.mean:.4g} is unstable (heavy right tail, Pareto k̂ ≥ 0.7)"
        else:
            used += f"; its mean {pv.mean:.4g} is not a typical value"
    if isinstance(param, PriorParam):
        return f"{{prior: {param}}}", used, prior_evidence(param)
    lo_hi = _interval(param)
    spread = f" (95%: {lo_hi[0]:.3g}–{lo_hi[1]:.3g})" if lo_hi else ""
    return str(param), f"{used}{spread}", "distribution written in the scenario file"


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, None) if obj is not None else None
    return obj


def _cells(value: Any, rule: PointRule = "auto") -> tuple[str, str, str]:
    if isinstance(value, Fixed | BetaParam | GammaParam | LogNormalParam | PriorParam):
        return _param_cells(value, rule)
    if isinstance(value, list):
        return f"[{_weeks(value)}]", "—", "design"
    if isinstance(value, RedoseOnLoss):
        return (
            f"up to {value.max}; visits every {value.assess_every_weeks:g} weeks; infusion "
            f"{value.delay_weeks:g} weeks later",
            "—",
            "design",
        )
    return f"{value:g}", f"{value:g}", FIXED


def assumption_rows(scenario: Scenario) -> list[tuple[str, str, str, str, str]]:
    """(where, meaning, as written, mean, evidence HTML) for every assumption of a scenario."""
    rows: list[tuple[str, str, str, str, str]] = []
    fields: list[tuple[str, Any, str]] = [
        (path, scenario, path) for path in SCENARIO_MEANINGS if path.startswith("enrolment")
    ]
    for name, arm in scenario.arms.items():
        fields += [(f"arms.{name}.{path}", arm, path) for path in MEANINGS]
    fields += [(p, scenario, p) for p in SCENARIO_MEANINGS if not p.startswith("enrolment")]
    for where, obj, path in fields:
        value = _get(obj, path)
        if value is None:
            continue
        meaning = MEANINGS.get(path) or SCENARIO_MEANINGS[path]
        if path == "response.loss_per_week" and value.mean() > 0:
            meaning += f" (a response lasts 1/λ = {1 / value.mean():.3g} weeks on average)"
        rows.append((where, meaning, *_cells(value, scenario.evaluate.point_values)))
    return rows


# -- the report's comparison table: row labels and their definitions ---------------------

MEASURES = (
    (
        "Power",
        "chance the trial succeeds — a significant result in the treatment's favour — with "
        "every parameter at its point value (see Assumptions)",
        "power",
    ),
    (
        "… in either direction",
        "chance of a significant result in either direction (a two-sided test also rejects "
        "when the control does better; such a result is not a success)",
        "power_any_direction",
    ),
    (
        "Type I error",
        "chance of a significant result when the treatment's endpoint probability equals the "
        "control's at its point value (the control's P(endpoint) row; for other control rates "
        "see the type I error curve); a two-sided test counts rejections in either direction "
        "(should not exceed α)",
        "type1_error",
    ),
    (
        "Assurance",
        "power averaged over the uncertainty in the assumptions (equals power when every "
        "assumption is a fixed number)",
        "assurance",
    ),
)
PER_ARM = (
    (
        "P(endpoint)",
        "share of randomised patients meeting the endpoint, with the parameters at their point "
        "values (the values power uses)",
        "endpoint_probability",
    ),
    (
        "P(endpoint) over the prior",
        "the same share averaged over the parameters' distributions (the trials assurance "
        "averages over)",
        "endpoint_probability_prior",
    ),
    ("Infusions per patient", "infusions given per patient", "infusions_per_patient"),
    (
        "AEs per patient",
        "infusion-related adverse events per patient",
        "adverse_events_per_patient",
    ),
    (
        "SAEs per patient",
        "serious adverse events per patient",
        "serious_adverse_events_per_patient",
    ),
    ("Dropout", "share who drop out before the end of follow-up", "dropout_fraction"),
)


STOP_WORDS = {"safety": "safety, at the assumed SAE rate", "harm": "harm (control better)"}


OPERATIONS = (
    (
        "Mean infusion delay (weeks)",
        "weeks from an infusion's due date to when it was given, over given infusions (des "
        "engine: infusion slots and cell-dose supply)",
        "mean_infusion_delay_weeks",
    ),
    (
        "Infusions delayed",
        "share of given infusions that were given late",
        "infusions_delayed_fraction",
    ),
    (
        "Infusions missed",
        "infusions per randomised patient not given before the endpoint (the patient left "
        "the study while waiting)",
        "infusions_missed_before_endpoint",
    ),
)


def extra_rows(points: list[Any]) -> list[tuple[str, str, str]]:
    """(label, tooltip, summary.json key) of the report's comparison-table rows for the
    operations metrics (des engine, per arm) and the safety-stop probabilities (with the SAE
    rates they were computed at)."""
    rows: list[tuple[str, str, str]] = []
    for label, tip, key in OPERATIONS:
        arms: list[str] = []
        for p in points:
            arms += [a for a in p.extra.get(key, {}) if a not in arms]
        rows += [(f"{label}, {a}", tip, f"{key}.{a}") for a in arms]
    safety = [
        p.extra["safety_stop_probability"] for p in points if "safety_stop_probability" in p.extra
    ]
    for which, words in (("safe_rate", "half"), ("unsafe_rate", "twice")):
        rates = sorted({s[f"{which}_per_year"] for s in safety})
        if not rates:
            continue
        at = " or ".join(f"{r:g}" for r in rates)
        rows.append(
            (
                f"P(safety stop) at {at} SAEs per patient-year",
                f"chance the safety rule stops the trial when the true SAE rate on the treatment "
                f"is {at} per patient-year ({words} the rule's maximum)",
                f"safety_stop_probability.{which}",
            )
        )
    return rows
