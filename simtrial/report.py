"""Outputs of a run: ``summary.json``, ``points.csv`` and the terminal table.

Files are written atomically: each goes to a temporary file in the output directory and is then
renamed over the target, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from rich.table import Table

from simtrial import selection_report
from simtrial.results import RunResult


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    for path, text in files.items():
        atomic_write(path, text)
    return list(files)


def _fmt(value: float | None, se: float | None = None) -> str:
    if value is None:
        return "—"
    if se:
        return f"{value:.3f} ± {se:.3f}"
    return f"{value:.3f}"


def result_table(result: RunResult) -> Table:
    """Variants side by side: one row per ``n_total`` and measure, one column per variant."""
    table = Table(
        title=f"{result.scenario} — {result.engine} engine, {result.simulations} simulations, "
        f"seed {result.seed}",
        title_justify="left",
    )
    table.add_column("n_total", justify="right")
    table.add_column("measure")
    names = list(result.variants)
    for name in names:
        table.add_column(name, justify="right")
    n_values = sorted({p.n_total for v in result.variants.values() for p in v.points})
    by_variant = {name: {p.n_total: p for p in v.points} for name, v in result.variants.items()}
    measures = [
        ("power (treatment better)", lambda p: _fmt(p.power, p.power_se)),
        (
            "  either direction",
            lambda p: _fmt(
                p.extra.get("power_any_direction"), p.extra.get("power_any_direction_se")
            ),
        ),
        ("type I error", lambda p: _fmt(p.type1_error, p.type1_error_se)),
        ("assurance", lambda p: _fmt(p.assurance, p.assurance_se)),
        (
            "P(endpoint)",
            lambda p: " / ".join(f"{v:.2f}" for v in p.endpoint_probability.values()),
        ),
        (
            "  over the prior",
            lambda p: " / ".join(
                f"{v:.2f}" for v in p.extra.get("endpoint_probability_prior", {}).values()
            ),
        ),
        (
            "infusions/patient",
            lambda p: " / ".join(f"{v:.2f}" for v in p.infusions_per_patient.values()) or "—",
        ),
    ]
    points = [p for v in result.variants.values() for p in v.points]
    if any(p.expected_n != p.n_total for p in points):
        measures.append(("expected n", lambda p: f"{p.expected_n:.1f}"))
        measures.append(
            (
                "stopped eff/fut/saf",
                lambda p: " / ".join(f"{v:.2f}" for v in p.stopped_early.values()),
            )
        )
    measures += selection_report.table_rows(points)
    if any("safety_stop_probability" in p.extra for p in points):
        measures.append(
            (
                "P(safety stop) safe/unsafe",
                lambda p: "{safe_rate:.2f} / {unsafe_rate:.2f}".format(
                    **p.extra["safety_stop_probability"]
                ),
            )
        )
    for n in n_values:
        for i, (label, fn) in enumerate(measures):
            cells = [fn(by_variant[name][n]) if n in by_variant[name] else "—" for name in names]
            table.add_row(
                str(n) if i == 0 else "", label, *cells, end_section=i == len(measures) - 1
            )
    arms = list(next(iter(result.variants.values())).points[0].endpoint_probability)
    table.caption = f"P(endpoint) per arm: {' / '.join(arms)}" + selection_report.caption(points)
    return table
