"""The HTML report of a run: ``results/<name>/report.html`` (issue 6, item 4).

One self-contained file — images embedded as base64 PNG data URIs, inline CSS, no script and
no external asset — that a reader who never saw the scenario YAML can follow:

1. **overview**: title, description, the question (from the file's header comment), the
   result in two or three sentences, and the design in plain words;
2. **scenario**: the YAML file as written;
3. **assumptions**: every parameter with its value or distribution, the value used for power,
   and its evidence — for ``{prior: FIT/VAR[INDEX]}`` the fit, variable, index, posterior
   summary and the pilot observations behind it (from ``priors/fitted/<fit>.json`` and the
   evidence files ``priors/evidence/*.yaml``);
4. **comparison**: variants side by side at each ``n_total``;
5. **plots** (:mod:`simtrial.report.plots`);
6. **sample size** (when the scenario asks for a search);
7. **provenance**: versions, seed, engine, simulations, time (UTC), command, file hashes.

Every text taken from the scenario, the result or the evidence is HTML-escaped. Each number
of the comparison table carries its ``summary.json`` value in ``data-value`` (with
``data-variant``, ``data-n`` and ``data-key``), so the table can be checked against the JSON.
"""

from __future__ import annotations

import base64
import hashlib
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simtrial.engines.results import RunResult, VariantResult, variant_title

# ``X as X``: re-exported, for imports from before the plain words moved to narrative.py
from simtrial.report import selection as selection_report
from simtrial.report.curves import CAPTION, report_section
from simtrial.report.design import design_section
from simtrial.report.narrative import FIXED as FIXED
from simtrial.report.narrative import MEANINGS as MEANINGS
from simtrial.report.narrative import (
    MEASURES,
    PER_ARM,
    STOP_WORDS,
    _question,
    assumption_rows,
    describe_analysis,
    describe_arm,
    describe_endpoint,
    describe_variant,
    esc,
    extra_rows,
    header_comment,
)
from simtrial.report.narrative import SCENARIO_MEANINGS as SCENARIO_MEANINGS
from simtrial.report.narrative import SPENDING as SPENDING
from simtrial.report.narrative import TESTS as TESTS
from simtrial.report.narrative import VAR_KINDS as VAR_KINDS
from simtrial.report.narrative import prior_evidence as prior_evidence
from simtrial.report.sweep import sensitivity_html
from simtrial.report.table import one_directional
from simtrial.scenario.parameters import PriorParam
from simtrial.scenario.schema import ScenarioSet

__all__ = ["report_html", "write_report"]

SECTIONS = (
    ("overview", "Overview"),
    ("design", "Design summary"),
    ("scenario", "The scenario as written"),
    ("assumptions", "Assumptions and their evidence"),
    ("comparison", "Comparison of the variants"),
    ("plots", "Plots"),
    ("sample-size", "Sample size"),
    ("type1-curve", "Type I error across control rates"),
    ("sensitivity", "Sensitivity"),
    ("provenance", "Provenance"),
)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1d2330;
 max-width:1100px;margin:0 auto;padding:1.5rem 2rem 4rem;line-height:1.45;background:#fff}
h1{font-size:1.7rem;margin:.2rem 0 .3rem}h2{font-size:1.3rem;margin:2.2rem 0 .6rem;
 padding-top:.8rem;border-top:2px solid #e3e6eb}h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
.lead{font-size:1.08rem;color:#3a4252}.muted,.hint{color:#5d6675}.hint{font-size:.82rem}
nav{font-size:.9rem;margin:.6rem 0 1rem}nav a{margin-right:1rem;color:#1f5fa8}
.box{background:#f4f7fb;border-left:4px solid #1f77b4;padding:.7rem 1rem;margin:1rem 0}
.warn{background:#fff6e5;border-left-color:#e69500}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d8dce3;padding:.3rem .55rem;vertical-align:top}
th{background:#f1f3f6;text-align:left}td.num{text-align:right;white-space:nowrap;
 font-variant-numeric:tabular-nums}tr.group th{background:#e4eaf3;font-size:.95rem}
td.best{font-weight:700;background:#eef7ee}td.warn{background:#fff1e0}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:.8rem;overflow:auto;font-size:.8rem;
 line-height:1.35;max-height:30rem}@media print{pre{max-height:none}}
table.assume{width:100%;table-layout:fixed}table.assume td{overflow-wrap:anywhere}
figure{margin:1.2rem 0 1.8rem}figure img{max-width:min(100%,980px);height:auto;
 border:1px solid #e3e6eb}
figcaption{font-size:.88rem;color:#3a4252;max-width:60rem}
dl.defs{display:grid;grid-template-columns:minmax(9rem,13rem) 1fr;gap:.3rem 1rem}
dl.defs dt{font-weight:600}dl.defs dd{margin:0}
blockquote{margin:.2rem 0 .4rem .6rem;padding-left:.6rem;border-left:3px solid #ccd;
 color:#444;font-style:italic}
ul.src{margin:.2rem 0;padding-left:1.1rem}.notes{white-space:pre-wrap}
code{font-size:.88em;background:#f1f3f6;padding:0 .2em}
"""


def _num(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


# -- the assumptions table (its rows: simtrial.report.narrative) -----------------------------------


def _by_variant(
    distinct: list[tuple[tuple[str, str, str, str], list[str]]], i: int, raw: bool = False
) -> str:
    """One line per group of variants sharing a value: "<b>variants</b>: value"."""
    if len({c[i] for c, _ in distinct}) == 1:
        return distinct[0][0][i] if raw else esc(distinct[0][0][i])
    return "<br>".join(
        f"<b>{esc(', '.join(vs))}</b>: " + (c[i] if raw else esc(c[i])) for c, vs in distinct
    )


def _assumptions_table(scenarios: ScenarioSet) -> str:
    order: list[str] = []
    per: dict[str, list[tuple[str, tuple[str, str, str, str]]]] = {}
    for vname, sc in scenarios.variants.items():
        for where, meaning, written, mean, evidence in assumption_rows(sc):
            if where not in per:
                order.append(where)
                per[where] = []
            per[where].append((vname, (meaning, written, mean, evidence)))
    several = len(scenarios.variants) > 1
    body = []
    for where in order:
        entries = per[where]
        distinct: list[tuple[tuple[str, str, str, str], list[str]]] = []
        for vname, cells in entries:
            for d in distinct:
                if d[0][1:] == cells[1:]:
                    d[1].append(vname)
                    break
            else:
                distinct.append((cells, [vname]))
        meaning = entries[0][1][0]
        if len(distinct) == 1 and len(distinct[0][1]) == len(scenarios.variants):
            (_, written, mean, evidence), _v = distinct[0]
            w_html, m_html, e_html = esc(written), esc(mean), evidence
        else:
            w_html, m_html = _by_variant(distinct, 1), _by_variant(distinct, 2)
            evid = {c[3] for c, _ in distinct}
            e_html = distinct[0][0][3] if len(evid) == 1 else _by_variant(distinct, 3, raw=True)
        if several and len(entries) < len(scenarios.variants):
            meaning += f" (only in {', '.join(v for v, _ in entries)})"
        body.append(
            f"<tr><td><code>{esc(where).replace('.', '.<wbr>')}</code></td><td>{esc(meaning)}</td>"
            f"<td>{w_html}</td><td class='num'>{m_html}</td><td>{e_html}</td></tr>"
        )
    return (
        "<table class='assume'><colgroup><col style='width:17%'><col style='width:20%'>"
        "<col style='width:17%'><col style='width:9%'><col style='width:37%'></colgroup>"
        "<tr><th>parameter</th><th>what it means</th><th>as written</th>"
        "<th>value used for power</th><th>evidence</th></tr>" + "".join(body) + "</table>"
    )


# -- the comparison table -------------------------------------------------------------------


def _measures(result: RunResult) -> list[tuple[str, str, str, int, str | None]]:
    """(row label, tooltip, summary key, decimals, SE key) for the comparison table."""
    points = [p for v in result.variants.values() for p in v.points]
    rows = [m for m in MEASURES if m[2] != "power_any_direction" or not one_directional(result)]
    se = {key for _, _, key in MEASURES}
    for t in points[0].extra.get("power_per_arm", {}) if points else ():
        rows.append((f"Shown better, {t}", f"chance that {t} is shown better than the control",
                     f"power_per_arm.{t}"))  # fmt: skip
    for label, tip, key in PER_ARM:
        arms: list[str] = []
        for p in points:
            arms += [a for a in getattr(p, key, None) or p.extra.get(key, {}) if a not in arms]
        rows += [(f"{label}, {a}", tip, f"{key}.{a}") for a in arms]
    rows.append(("Expected n", "patients randomised on average (fewer when trials stop early)",
                 "expected_n"))  # fmt: skip
    if any(p.expected_duration_weeks is not None for p in points):
        rows.append(("Expected duration (weeks)", "from the first randomisation to the last "
                     "endpoint visit, on average", "expected_duration_weeks"))  # fmt: skip
    if any(_stops(v) for v in result.variants.values()):
        rows += [(f"Stopped early: {STOP_WORDS.get(r, r)}", f"chance the trial stops early for "
                  f"{r}, at the assumed effects and SAE rate", f"stopped_early.{r}")
                 for r in ("efficacy", "futility", "safety", "harm")]  # fmt: skip
    rows += extra_rows(points)
    digits = {"infusions_per_patient": 2, "expected_n": 1, "expected_duration_weeks": 1,
              "mean_infusion_delay_weeks": 2}  # fmt: skip
    return [
        (label, tip, key, digits.get(key.split(".")[0], 3), f"{key}_se" if key in se else None)
        for label, tip, key in rows
    ]


def _stops(variant: VariantResult) -> bool:
    return variant.boundaries is not None or any(
        any(v > 0 for v in p.stopped_early.values()) for p in variant.points
    )


def _lookup(flat: Mapping[str, Any], key: str) -> Any:
    if key in flat:
        return flat[key]
    head, _, tail = key.partition(".")
    value = flat.get(head)
    return value.get(tail) if isinstance(value, Mapping) and tail else None


def _best(dicts: Mapping[str, Mapping[int, Any]], names: list[str], n: int) -> str | None:
    """The variant with the highest power in the treatment's favour at ``n`` (None if tied)."""
    scores = {k: dicts[k][n]["power"] for k in names if n in dicts[k]}
    if len(names) < 2 or len(set(scores.values())) < 2:
        return None
    return max(scores, key=lambda k: scores[k])


def _mostly_for_control(point: Mapping[str, Any]) -> bool:
    """Whether most significant results at this point would favour the control."""
    either = point.get("power_any_direction", point["power"])
    return bool(either > 0.02 and point["power"] < 0.5 * either)


def _comparison_table(result: RunResult) -> str:
    names = list(result.variants)
    dicts = {n: {p.n_total: p.to_dict() for p in v.points} for n, v in result.variants.items()}
    ns = sorted({n for d in dicts.values() for n in d})
    measures = _measures(result)
    head = "".join(f"<th>{esc(variant_title(result, n) or 'result')}</th>" for n in names)
    rows = [f"<tr><th>measure</th>{head}</tr>"]
    for n in ns:
        splits = {str(d[n]["n_per_arm"]) for d in dicts.values() if n in d}
        first = next(d[n] for d in dicts.values() if n in d)
        per_arm = (
            ", ".join(f"{a} {k}" for a, k in first["n_per_arm"].items())
            if len(splits) == 1
            else "per arm: depends on the variant"
        )
        rows.append(
            f"<tr class='group'><th colspan='{len(names) + 1}'>n_total = {n} "
            f"<span class='muted'>({esc(per_arm)})</span></th></tr>"
        )
        for label, tip, key, digits, se_key in measures:
            values = {
                name: _lookup(dicts[name][n], key) if n in dicts[name] else None for name in names
            }
            best = _best(dicts, names, n) if key == "power" else None
            cells = []
            for name in names:
                value = values[name]
                if value is None:
                    cells.append("<td class='num'>—</td>")
                    continue
                text = _num(float(value), digits)
                se = _lookup(dicts[name][n], se_key) if se_key else None
                if se:
                    text += f" ± {_num(float(se), 3 if se >= 0.001 else 4)}"
                cls = "num best" if name == best else "num"
                if key == "power_any_direction" and _mostly_for_control(dicts[name][n]):
                    cls += " warn"
                cells.append(
                    f"<td class='{cls}' data-variant='{esc(name)}' data-n='{n}' "
                    f"data-key='{esc(key)}' data-value='{esc(repr(value))}'>{esc(text)}</td>"
                )
            rows.append(f"<tr><td title='{esc(tip)}'>{esc(label)}</td>{''.join(cells)}</tr>")
    defs = "".join(
        f"<dt>{esc(label)}</dt><dd>{esc(tip)}</dd>"
        for label, tip, key, _, _ in measures
        if "." not in key
    )
    return (
        "<p>How to read it: columns are the variants, row groups the total sample sizes. "
        "“± x” is the Monte Carlo standard error (the simulation's own imprecision). "
        "In bold, at each size: the variant most likely to show the treatment better. "
        "Shaded orange: most significant results would favour the control.</p>"
        f"<dl class='defs'>{defs}"
        "<dt>P(endpoint), infusions, AEs, dropout</dt><dd>per randomised patient, per arm, in "
        "the simulated trials at the assumed effects</dd></dl>"
        f"<table class='comparison'>{''.join(rows)}</table>"
    )


# -- overview -------------------------------------------------------------------------------


def _bottom_line(result: RunResult, scenarios: ScenarioSet) -> str:
    base = scenarios.base
    common = set.intersection(*({p.n_total for p in v.points} for v in result.variants.values()))
    n = (
        max(common)
        if common
        else max(p.n_total for v in result.variants.values() for p in v.points)
    )
    at = {name: p for name, v in result.variants.items() for p in v.points if p.n_total == n}
    several = len(at) > 1
    order = sorted(at, key=lambda k: -at[k].power)
    per_arm = ", ".join(f"{k} {a}" for a, k in next(iter(at.values())).n_per_arm.items())
    a = base.analysis
    treatments = [a.treatment] if isinstance(a.treatment, str) else list(a.treatment)
    favour = f"{treatments[0]}'s" if len(treatments) == 1 else "some treatment arm's"
    powers = [f"{at[k].power:.2f}" + (f" for {esc(k)}" if several else "") for k in order]
    listed = ", ".join(powers[:-1]) + " and " + powers[-1] if several else powers[0]
    out = [
        f"With {n} patients ({esc(per_arm)}), the power — the chance of a significant result "
        f"in {esc(favour)} favour, with every parameter at its point value (see "
        f"Assumptions) — is {listed}."
    ]
    by_arm = next(iter(at.values())).extra.get("power_per_arm") if not several else None
    if by_arm and len(by_arm) > 1:  # several arms: which one is shown better
        out.append(
            "Shown better: " + ", ".join(f"{esc(t)} {v:.3f}" for t, v in by_arm.items()) + "."
        )
    shares = []
    for arm in next(iter(at.values())).endpoint_probability:
        values = {k: at[k].endpoint_probability.get(arm) for k in at}
        text = {k: f"{v:.3f}" for k, v in values.items() if v is not None}
        if len(set(text.values())) == 1 or not several:
            shares.append(f"{esc(arm)} {next(iter(text.values()))}")
        else:
            shares.append(f"{esc(arm)} " + ", ".join(f"{text[k]} with {esc(k)}" for k in text))
    out.append(
        f"Share of patients meeting the endpoint, at the same point values: {'; '.join(shares)}."
    )
    caution = [k for k in order if _mostly_for_control(at[k].to_dict())]
    if caution:
        out.append(
            "<b>Caution:</b> for " + ", ".join(esc(k) for k in caution) + ", most significant "
            "results favour the control arm (the treatment is assumed to do worse on this "
            "endpoint): they are not successes; see “… in either direction” in the table."
        )
    if any(at[k].assurance != at[k].power for k in at):
        out.append(
            "Averaged over the uncertainty in the assumptions (assurance): "
            + "; ".join(f"{esc(k) + ' ' if several else ''}{at[k].assurance:.2f}" for k in order)
            + "."
        )
    stops = {k: sum(at[k].stopped_early.values()) for k in order}
    if any(stops.values()):
        out.append(
            "The trial stops early (interim or safety look) with probability "
            + ", ".join(
                f"{stops[k]:.2f}{' for ' + esc(k) if several else ''} "
                f"(expected n {at[k].expected_n:.0f})"
                for k in order
            )
            + "."
        )
    worst = max(
        (p.type1_error, p.type1_error_se) for v in result.variants.values() for p in v.points
    )
    null = treatments[0] if len(treatments) == 1 else "every treatment arm"
    bayes = a.test == "bayes_posterior"
    counted = "either direction" if not bayes and a.sided == "two" else f"{esc(favour)} favour"
    out.append(
        f"The type I error — {'success' if bayes else 'a significant result'} in {counted} "
        f"when {esc(null)} has {esc(a.control)}'s endpoint probability at its point value — is "
        f"at most {worst[0]:.3f} ± {worst[1]:.3f}"
        + ("" if bayes else f" for α = {a.alpha:g}")
        + (" over the variants and sizes" if len(result.variants) > 1 else " over the sizes")
        + (
            "; at other true control rates see “Type I error across control rates”."
            if bayes
            else "."
        )  # fmt: skip
    )
    for name, v in result.variants.items():
        size = v.sample_size
        if size:
            label = f"{esc(name)}: " if several else ""
            if size.get("n_total") is None:
                out.append(
                    f"{label}{esc(size['target'])} {size['goal']:g} is not reached "
                    f"({esc(size.get('note', ''))})."
                )
            else:
                out.append(
                    f"{label}{esc(size['target'])} {size['goal']:g} needs "
                    f"n_total = {size['n_total']} (achieved {size['achieved']:.3f})."
                )
    return " ".join(out)


def _arm_text(arm: str, scenarios: ScenarioSet) -> str:
    texts = {describe_arm(arm, sc) for sc in scenarios.variants.values() if arm in sc.arms}
    allocation = f" (allocation {scenarios.base.arms[arm].allocation})"
    if len(texts) == 1:
        return texts.pop() + allocation
    return f"{arm}: infusions on the schedule of the variant (see Variants){allocation}"


def _overview(result: RunResult, scenarios: ScenarioSet, notes: str) -> str:
    base = scenarios.base
    question = _question(notes)
    parts = [f"<h1>{esc(scenarios.name)}</h1>"]
    if base.description:
        parts.append(f"<p class='lead'>{esc(base.description)}</p>")
    nav = "".join(f"<a href='#{sid}'>{esc(title)}</a>" for sid, title in SECTIONS[1:])
    parts.append(f"<nav>{nav}</nav>")
    if question:
        parts.append(f"<p><b>Question.</b> {esc(question)}</p>")
    parts.append(f"<div class='box'><b>Result.</b> {_bottom_line(result, scenarios)}</div>")
    design = [
        ("Endpoint", describe_endpoint(base.endpoint)),
        (
            "Arms",
            "; ".join(_arm_text(a, scenarios) for a in base.arms),
        ),
        ("Analysis", describe_analysis(base)),
        (
            "Sizes evaluated",
            "n_total = " + ", ".join(str(n) for n in base.evaluate.n_total) + " patients in total",
        ),
        (
            "Simulations",
            f"{result.simulations} simulated trials per size and variant ({result.engine} engine)",
        ),
    ]
    if base.enrolment is not None:
        design.append(("Enrolment", f"{base.enrolment.rate_per_week:g} patients per week"))
    if len(scenarios.variants) > 1:
        design.append(
            (
                "Variants",
                "; ".join(
                    f"<b>{esc(v)}</b>: " + esc(describe_variant(v, scenarios))
                    for v in scenarios.variants
                ),
            )
        )
    items = "".join(
        f"<dt>{esc(k)}</dt><dd>{v if k == 'Variants' else esc(v)}</dd>" for k, v in design
    )
    parts.append(f"<h3>The trial in plain words</h3><dl class='defs'>{items}</dl>")
    return f"<section id='overview'>{''.join(parts)}</section>"


# -- the page -------------------------------------------------------------------------------

CAPTIONS = {
    "power.png": "Power (solid) — the chance that the trial gives a significant result in the "
    "treatment's favour — for each total sample size, with every parameter at its point value "
    "(as in the table); dashed: assurance, the same averaged over "
    "the uncertainty in the assumptions (drawn only when it differs). Bands: ±2 Monte Carlo "
    "standard errors. With a sample-size search, the dotted lines mark the goal and the "
    "chosen size, open circles the sizes the search evaluated.",
    "response.png": "Share of patients responding, week by week, among patients who stay in the "
    "study, with every parameter at its point value (the mean, or the median when the mean is "
    "no typical value; see Assumptions): lines are the model's closed form c·π(t); circles are "
    "simulated patients (a check of the closed form; for arms that re-dose on loss, which have "
    "no closed form, the simulated points are the curve). Triangles mark planned infusions; "
    "the shaded band is when the endpoint is assessed. An arm whose endpoint probability is "
    "given directly appears only there.",
    "burden.png": "What each schedule costs a patient: infusions, infusion-related adverse "
    "events and serious adverse events per randomised patient (simulated, at the largest size "
    "evaluated, with every parameter at its point value and SAEs at the rate the scenario "
    "assumes; counts per patient over the time in the study, not rates per patient-year).",
    "type1_curve.png": CAPTION,
    "stopping.png": "Chance that a trial stops at an interim look, by reason, at each sample "
    "size, at the assumed effects (every parameter at its point value; stacked; the number on "
    "top is the total). Harm: a two-sided test rejecting at an interim with the control better.",
    "selection.png": selection_report.CAPTION,
}


def _img(name: str, data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f"<figure><img alt='{esc(name)}' src='data:image/png;base64,{encoded}'>"
        f"<figcaption>{esc(CAPTIONS.get(name, name))}</figcaption></figure>"
    )


def _sample_size(result: RunResult) -> str:
    rows = []
    for name, v in result.variants.items():
        s = v.sample_size
        if not s:
            continue
        n = s.get("n_total")
        chosen = "not reached" if n is None else str(n)
        per_arm = ", ".join(f"{a} {k}" for a, k in (s.get("n_per_arm") or {}).items())
        curve = ", ".join(f"{c['n_total']}: {c['achieved']:.3f}" for c in s.get("curve", []))
        rows.append(
            f"<tr><td>{esc(name)}</td><td>{esc(s['target'])} ≥ {s['goal']:g}</td>"
            f"<td class='num' data-variant='{esc(name)}' data-key='sample_size.n_total' "
            f"data-value='{esc(repr(n))}'>{esc(chosen)}</td><td>{esc(per_arm or '—')}</td>"
            f"<td class='num'>{s['achieved']:.3f} ± {s['se']:.3f}</td>"
            f"<td class='hint'>{esc(s.get('rule', ''))}</td>"
            f"<td class='hint'>{esc(curve)}{esc(' — ' + s['note'] if s.get('note') else '')}"
            f"</td></tr>"
        )
    if not rows:
        return (
            "<p>This scenario does not ask for a sample-size search (add "
            "<code>evaluate: {sample_size: {target: power, goal: 0.8}}</code> to the file); "
            "the power curve above shows the sizes it evaluates.</p>"
        )
    return (
        "<p>The smallest total sample size whose power (or assurance) — success in the "
        "treatment's favour — reaches the goal, found by bisection on whole allocation multiples "
        "and read from a non-decreasing fit through every size evaluated (the “search curve”, "
        "size: value). Exact power is saw-toothed in n: the exact engine answers with the "
        "smallest size that keeps the goal at the next sizes too (the rule column). A simulated "
        "search re-estimates “achieved” at the answer with fresh random numbers. The curve is "
        "in the power plot above.</p><table><tr><th>variant</th><th>goal</th><th>n_total</th>"
        "<th>per arm</th><th>achieved</th><th>rule</th><th>search curve</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _provenance(
    result: RunResult, scenarios: ScenarioSet, command: str | None, created: datetime
) -> str:
    import matplotlib
    import numpy
    import scipy

    items: list[tuple[str, str]] = [
        ("simtrial version", result.version or "unknown"),
        ("run finished", created.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("command", command or "(not recorded: the report was written from Python)"),
        ("scenario file", str(scenarios.path) if scenarios.path else "(built in Python)"),
    ]
    if scenarios.path is not None and scenarios.path.is_file():
        items.append(("scenario sha256", _sha256(scenarios.path)))
    items += [
        ("seed", str(result.seed)),
        ("engine", result.engine),
        ("simulations", f"{result.simulations} simulated trials per point and purpose"),
        (
            "random streams",
            "numpy SeedSequence keyed by (seed, variant, n_total, purpose, "
            "block): the same seed gives the same numbers however the work is split",
        ),
        (
            "software",
            f"Python {platform.python_version()}, NumPy {numpy.__version__}, "
            f"SciPy {scipy.__version__}, Matplotlib {matplotlib.__version__}",
        ),
    ]
    fits = sorted(
        {
            p.fit
            for sc in scenarios.variants.values()
            for _, p in sc.parameters()
            if isinstance(p, PriorParam)
        }
    )
    if fits:
        from simtrial.priors import store

        for fit in fits:
            nc = store.fitted_dir() / f"{fit}.nc"
            digest = _sha256(nc) if nc.is_file() else "missing"
            items.append((f"fit {fit}", f"{_relative(nc)} (sha256 {digest})"))
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return f"<dl class='defs'>{body}</dl>"


def report_html(
    result: RunResult,
    scenarios: ScenarioSet,
    images: Mapping[str, bytes] | None = None,
    command: str | None = None,
    created: datetime | None = None,
) -> str:
    """The report as one HTML string (see the module docstring)."""
    from simtrial.report.plots import PLOT_FILES, render_plots

    if images is None:
        images = render_plots(result, scenarios)
    created = created or datetime.now(UTC)
    if scenarios.path is not None and scenarios.path.is_file():
        text = scenarios.path.read_text(encoding="utf-8")
    else:
        import yaml

        text = yaml.safe_dump(scenarios.raw, sort_keys=False)
    notes = header_comment(text)
    where = f" ({esc(scenarios.path)})" if scenarios.path else ""
    notes_html = (
        f"<h3>Notes from the scenario file</h3><div class='box notes'>{esc(notes)}</div>"
        if notes
        else ""
    )
    shown_apart = ("type1_curve.png", "sweep.png")  # in their own sections
    curve = "type1_curve.png"
    plots = "".join(
        _img(name, images[name])
        for name in PLOT_FILES
        if name in images and name not in shown_apart
    )
    sections = {
        "overview": _overview(result, scenarios, notes),
        "design": design_section(result, scenarios),
        "scenario": f"<p>The file exactly as written{where}; <code>variants</code> are merged "
        f"into the base scenario one at a time.</p><pre>{esc(text)}</pre>",
        "assumptions": "<p>Every number the simulation assumes. Power and type I error use "
        "each parameter's point value — its mean, or its median where the mean lies outside "
        "the central 90% of the distribution and so is no typical value, or where the fit "
        "flags a heavy right tail (Pareto k̂ ≥ 0.7); assurance draws the "
        "parameters from their distributions (parameters of one fit jointly). "
        f"</p>{notes_html}{_assumptions_table(scenarios)}",
        "comparison": _comparison_table(result) + selection_report.section_html(result),
        "plots": plots or "<p>No plots.</p>",
        "sample-size": _sample_size(result),
        "type1-curve": (report_section(result) or "")
        + (_img(curve, images[curve]) if curve in images else "")
        or "<p>No type I error curve: it is drawn for Bayesian rules, or on request with "
        "<code>evaluate: {type1_curve: {control: [0.05, 0.6]}}</code>.</p>",
        "sensitivity": sensitivity_html(result, images.get("sweep.png")),
        "provenance": _provenance(result, scenarios, command, created),
    }
    body = []
    for sid, title in SECTIONS:
        if sid == "overview":
            body.append(sections[sid])
        else:
            body.append(f"<section id='{sid}'><h2>{esc(title)}</h2>{sections[sid]}</section>")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(scenarios.name)} — simtrial report</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def write_report(
    result: RunResult,
    scenarios: ScenarioSet,
    out_dir: str | Path,
    images: Mapping[str, bytes] | None = None,
    command: str | None = None,
    created: datetime | None = None,
) -> Path:
    """Write ``out_dir/report.html`` atomically (temporary file + rename); return its path.

    Parameters
    ----------
    result, scenarios
        The run and the scenario file it ran.
    out_dir : path
        Usually ``results/<name>/``.
    images : mapping, optional
        PNG bytes by file name from :func:`simtrial.report.plots.render_plots` (drawn when omitted).
    command : str, optional
        The command line, for the provenance section.
    created : datetime, optional
        Time of the run (default: now, in UTC).
    """
    from simtrial.atomic import atomic_write

    path = Path(out_dir) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = report_html(result, scenarios, images, command, created)
    atomic_write(path, text.encode("utf-8"))
    return path
