"""Outputs of a run: ``summary.json``, ``points.csv`` and the terminal table.

Files are written atomically: each goes to a temporary file in the output directory and is then
renamed over the target, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simtrial.atomic import atomic_write
from simtrial.engines.results import PointResult, RunResult

if TYPE_CHECKING:  # the terminal table's modules load with it, not with summary.json
    from rich.console import Group

STOPS = ("efficacy", "futility", "safety", "harm")


def summary_json(result: RunResult) -> str:
    """``summary.json`` text (sorted variants as run, 2-space indent, trailing newline)."""
    return json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n"


def points_csv(result: RunResult) -> str:
    """One row per (variant, n_total); per-arm values as ``key.arm`` columns."""
    rows = result.rows()
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buffer.getvalue()


EVENT_COLUMNS = ("trial", "patient", "arm", "time", "event", "details", "variant", "n_total")


def events_csv(rows: list[tuple[Any, ...]]) -> str:
    """``events.csv`` of ``simtrial run --engine des --trace K``: one row per simulated event.

    ``rows`` are ``(trial, patient, arm, time, event, details, variant, n_total)``; ``time`` is
    calendar weeks from the opening of the trial, written with 4 decimals.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for trial, patient, arm, time, event, details, variant, n_total in rows:
        writer.writerow([trial, patient, arm, f"{time:.4f}", event, details, variant, n_total])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return "" if value is None else value


def write_outputs(result: RunResult, out_dir: Path) -> list[Path]:
    """Write ``summary.json`` and ``points.csv`` under ``out_dir``; returns the paths."""
    files = {
        out_dir / "summary.json": summary_json(result),
        out_dir / "points.csv": points_csv(result),
    }
    if result.sweep is not None:
        files[out_dir / "sweep.csv"] = result.sweep.to_csv()
    else:
        (out_dir / "sweep.csv").unlink(missing_ok=True)
    for path, text in files.items():
        atomic_write(path, text)
    return list(files)


def _fmt(value: float | None, se: float | None = None) -> str:
    if value is None:
        return "—"
    if se:
        return f"{value:.3f} ± {se:.3f}"
    return f"{value:.3f}"


def _per_arm(values: dict[str, float], digits: int = 2) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in values.values()) or "—"


def _extra_per_arm(key: str) -> Callable[[PointResult], str]:
    return lambda p: _per_arm(p.extra.get(key, {}))


def _safety_stop(which: str) -> Callable[[PointResult], str]:
    return lambda p: _fmt(p.extra.get("safety_stop_probability", {}).get(which))


def _rate_label(prefix: str, rates: set[float], fallback: str) -> str:
    return f"{prefix} {rates.pop():g}/pt-yr" if len(rates) == 1 else f"{prefix} {fallback}"


NAMED_LABEL_MAX = 32
"""Longest terminal-table label that names the arms a per-arm row covers."""


def _analysis(result: RunResult) -> list[dict[str, Any]]:
    """The ``analysis`` section of each variant's design summary (empty when not stored)."""
    if not result.design:
        return []
    return [v["analysis"] for v in result.design.get("variants", {}).values() if v.get("analysis")]


def one_directional(result: RunResult) -> bool:
    """Whether every variant's rule only ever rejects in the treatment's favour (one-sided
    test or Bayesian rule): then power in either direction is power, by construction."""
    analyses = _analysis(result)
    return bool(analyses) and all(
        a.get("sided") == "one" or a.get("test") == "bayes_posterior" for a in analyses
    )


def _roles(result: RunResult) -> tuple[list[str], str]:
    """(treatment arms, control) for labels: the arm names when all variants agree."""
    pairs = {(tuple(a["treatment"]), a["control"]) for a in _analysis(result)}
    if len(pairs) != 1:
        return ["treatment"], "control"
    treatments, control = pairs.pop()
    return list(treatments), control


def result_table(result: RunResult, width: int | None = None) -> Group:
    """Variants side by side: one row per ``n_total`` and measure, one column per variant.

    With ``width`` (the terminal's), variants that do not fit side by side go to further
    tables; no name or number is ever truncated (:mod:`simtrial.report.terminal`).
    """
    from simtrial.report import selection as selection_report
    from simtrial.report.terminal import variant_tables

    names = list(result.variants)
    n_values = sorted({p.n_total for v in result.variants.values() for p in v.points})
    by_variant = {name: {p.n_total: p for p in v.points} for name, v in result.variants.items()}
    points = [p for v in result.variants.values() for p in v.points]
    arms = list(points[0].endpoint_probability)

    def arm_row(label: str, key: str) -> tuple[str, Callable[[PointResult], str]]:
        """A per-arm row. When it covers only some arms, they are named in the label if that
        stays short (``"infusions/patient (msc)"``); otherwise the row has a cell for every arm
        of the caption, "—" for the others, so that four arms still fit in 80 columns."""

        def values(p: PointResult) -> dict[str, float]:
            v = getattr(p, key, None)
            return v if v is not None else p.extra.get(key, {})

        covered: list[str] = []
        for p in points:
            covered += [a for a in values(p) if a not in covered]
        if covered == arms or not covered:  # not covered: no arm has it ("—", not "()")
            return label, lambda p: _per_arm(values(p))
        named = f"{label} ({'/'.join(covered)})"
        if len(named) <= NAMED_LABEL_MAX:
            return named, lambda p: _per_arm(values(p))

        def every_arm(p: PointResult) -> str:
            v = values(p)
            return " / ".join(f"{v[a]:.2f}" if a in v else "—" for a in arms) if v else "—"

        return label, every_arm

    treatments, control = _roles(result)
    treatment = treatments[0] if len(treatments) == 1 else "an arm"
    power_label = f"power ({treatment} better)"
    if len(power_label) > NAMED_LABEL_MAX:
        power_label = "power (treatment better)"
    null = treatment if len(treatments) == 1 else "every treatment arm"
    one_sided = one_directional(result)
    measures = [(power_label, lambda p: _fmt(p.power, p.power_se))]
    if not one_sided:  # identical to power by construction otherwise (see the caption)
        measures.append(
            (
                "  either direction",
                lambda p: _fmt(
                    p.extra.get("power_any_direction"), p.extra.get("power_any_direction_se")
                ),
            )
        )
    measures += [
        ("type I error (no effect)", lambda p: _fmt(p.type1_error, p.type1_error_se)),
        ("assurance", lambda p: _fmt(p.assurance, p.assurance_se)),
        ("P(endpoint) at point values", lambda p: _per_arm(p.endpoint_probability, 3)),
        (
            "  averaged over the prior",
            lambda p: _per_arm(p.extra.get("endpoint_probability_prior", {}), 3),
        ),
        arm_row("infusions/patient", "infusions_per_patient"),
    ]
    if any("mean_infusion_delay_weeks" in p.extra for p in points):  # des engine: operations
        for label, key in (
            ("infusion delay (weeks)", "mean_infusion_delay_weeks"),
            ("infusions delayed", "infusions_delayed_fraction"),
            ("missed infusions/pt", "infusions_missed_before_endpoint"),
        ):
            measures.append(arm_row(label, key))
    if any(
        p.expected_n != p.n_total or any(p.stopped_early.values()) or "stopped_by_look" in p.extra
        for p in points
    ):
        measures.append(("expected n", lambda p: f"{p.expected_n:.1f}"))
        measures.append(
            (
                "stopped eff/fut/saf/harm",
                lambda p: "/".join(f"{p.stopped_early.get(r, 0.0):.2f}" for r in STOPS),
            )
        )
    measures += selection_report.table_rows(points)
    safety = [
        p.extra["safety_stop_probability"] for p in points if "safety_stop_probability" in p.extra
    ]
    if safety:
        for which, fallback in (
            ("safe_rate", "max/2"),
            ("unsafe_rate", "2·max"),
        ):
            rates = {s[f"{which}_per_year"] for s in safety}
            measures.append(
                (
                    _rate_label("P(safety stop), SAE", rates, fallback),
                    _safety_stop(which),
                )
            )
    rows = []
    for n in n_values:
        for i, (label, fn) in enumerate(measures):
            cells = [fn(by_variant[name][n]) if n in by_variant[name] else "—" for name in names]
            rows.append((str(n) if i == 0 else "", label, cells, i == len(measures) - 1))
    title = (
        f"{result.scenario} — {result.engine} engine, {result.simulations} simulations, "
        f"seed {result.seed}"
    )
    caption = f"per-arm values: {' / '.join(arms)}; ± Monte Carlo standard error"
    caption += (
        f"; power: a significant result with {treatment} better than {control}"
        + (
            " (the rule is one-sided, so power in either direction is the same)"
            if one_sided
            else "; either direction: also counting significant results with "
            f"{control} better (not a success)"
        )
        + f"; type I error: {null} given {control}'s endpoint probability"
        + ("" if one_sided else ", rejections in either direction counted")
        + "; P(endpoint): share meeting the endpoint with every parameter at its point value "
        "(the value power uses: its mean, or median when skewed), then averaged over the "
        "parameters' distributions (what assurance averages)"
    )
    if any("expected n" == label for label, _ in measures):
        caption += (
            "; stopped eff/fut/saf/harm: chance of stopping early for efficacy, futility, "
            f"safety, harm ({control} better), at the point values and the assumed SAE rate"
        )
    caption += selection_report.caption(points)
    if safety:
        caption += (
            "; P(safety stop): chance the safety rule stops the trial when the true SAE rate is "
            "half / twice its max (SAEs per patient-year, pt-yr)"
        )
    return variant_tables(title, caption, ("n_total", "measure"), names, rows, width)


def summary_text(result: RunResult, width: int = 120) -> str:
    """The terminal table (variants side by side) as plain text, ``width`` columns wide."""
    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(result_table(result, width=width))
    return console.export_text()
