"""The design summary (:func:`simtrial.planning.design_summary`) as lines, a terminal grid and
an HTML definition list."""

from __future__ import annotations

import json
from typing import Any

from simtrial.planning.design_summary import SECTIONS, design_summary
from simtrial.scenario.glossary import SPENDING
from simtrial.scenario.schema import ScenarioSet


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
    from simtrial.report.narrative import esc

    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in summary_lines(summary))
    return f"<dl class='defs design'>{items}</dl>"


def design_section(result: Any, scenarios: ScenarioSet) -> str:
    """The report's design section: the run's summary (or the scenario's, when not stored)."""
    summary = result.design if result.design is not None else design_summary(scenarios)
    return (
        "<p>What the trial is and how it decides, as simulated (also under <code>design</code> "
        "in summary.json, with the full decision boundaries).</p>" + html_summary(summary)
    )
