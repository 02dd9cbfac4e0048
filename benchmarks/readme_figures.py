"""Run every shipped scenario as a user would and write the README's figures from the output.

    python benchmarks/readme_figures.py [--only NAME ...] [--no-readme]

Each ``scenarios/<name>.yaml`` is run with ``simtrial run`` (its own seed and number of
simulations, the report included) into ``results/shipped/<name>/``; the figures are read back
from each ``summary.json`` -- never typed by hand -- into ``results/shipped/figures.md``, which
also replaces the README between the ``shipped-figures`` markers. The heading carries the date,
the machine and the commit, and each scenario its whole-process wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from readme_block import commit, load_average, machine, replace_block

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- shipped-figures:begin (python benchmarks/readme_figures.py) -->"
END = "<!-- shipped-figures:end -->"


def _se(value: float | None, se: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f} ± {se:.3f}" if se else f"{value:.3f}"


def _arms(values: dict[str, float] | None) -> str:
    if not values:
        return "—"
    return ", ".join(f"{arm} {v:.2f}" for arm, v in values.items())


def run_one(name: str) -> tuple[dict[str, Any], float]:
    """``simtrial run scenarios/<name>.yaml`` in a fresh process; (summary, wall seconds)."""
    out = ROOT / "results" / "shipped" / name
    command = [sys.executable, "-m", "simtrial.cli.main", "run", f"scenarios/{name}.yaml"]
    command += ["--out", str(out.relative_to(ROOT)), "-q"]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    seconds = time.perf_counter() - start
    return json.loads((out / "summary.json").read_text()), seconds


def section(name: str, summary: dict[str, Any], seconds: float) -> list[str]:
    """The markdown of one scenario."""
    lines = [
        f"**`{name}`** — `simtrial run scenarios/{name}.yaml`: {summary['engine']} engine, "
        f"{summary['simulations']:,} simulations, seed {summary['seed']}, test "
        f"`{summary['test']}`; {seconds:.0f} s whole process.",
        "",
        "| variant | n_total | power (treatment better) | either direction | type I error "
        "| assurance | P(endpoint) at point values | over the prior |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for vname, v in summary["variants"].items():
        for p in v["points"]:
            lines.append(
                f"| {vname} | {p['n_total']} | {_se(p['power'], p['power_se'])} | "
                f"{_se(p.get('power_any_direction'), p.get('power_any_direction_se'))} | "
                f"{_se(p['type1_error'], p['type1_error_se'])} | "
                f"{_se(p['assurance'], p['assurance_se'])} | "
                f"{_arms(p['endpoint_probability'])} | "
                f"{_arms(p.get('endpoint_probability_prior'))} |"
            )
            cal = p.get("calibration")
            if cal:
                notes.append(
                    f"{vname}, n_total {p['n_total']}: written {cal['parameter']} "
                    f"{cal['written']:g} has worst-case type I error "
                    f"{cal['written_worst_type1_error']:.4f} over control rates "
                    f"{cal['over'][0]:g}–{cal['over'][1]:g}; calibrated to "
                    f"{cal['calibrated']:g} (worst case {cal['worst_type1_error']:.4f} at "
                    f"{cal['worst_at_control_rate']:.3g}); the row above uses the calibrated one"
                )
            sel = p.get("selection")
            if sel:
                notes.append(
                    f"{vname}, n_total {p['n_total']} (expected {p['expected_n']:.0f}): "
                    f"selected at look {sel['at_look']} — {_arms(sel['selected'])}; shown "
                    f"better — {_arms(sel['power_per_arm'])}; FWER under the global null "
                    f"{sel['fwer_global_null']:.3f}"
                )
        size = v.get("sample_size")
        if size:
            if size.get("n_total") is not None:
                notes.append(
                    f"{vname}: sample size for {size['target']} ≥ {size['goal']:g}: "
                    f"n_total {size['n_total']} ({size['target']} "
                    f"{_se(size.get('achieved'), size.get('se'))}"
                    + (f"; rule: {size['rule']}" if size.get("rule") else "")
                    + ")"
                )
            else:
                notes.append(
                    f"{vname}: sample size for {size['target']} ≥ {size['goal']:g}: "
                    f"{size.get('note', 'not reached')}"
                )
        curve = v.get("type1_curve")
        if curve and not any(p.get("calibration") for p in v["points"]):
            worst = ", ".join(
                f"n {c['n_total']}: {c['worst_type1_error']:.4f} at "
                f"{c['worst_at_control_rate']:.3g}"
                for c in curve["points"]
            )
            notes.append(f"{vname}: worst type I error over the control-rate grid — {worst}")
    lines += [""] + [f"- {n}" for n in notes] + ([""] if notes else [])
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="scenario names (default: every file)")
    parser.add_argument("--no-readme", action="store_true", help="do not edit README.md")
    args = parser.parse_args(argv)
    names = args.only or sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_start = load_average()
    body: list[str] = []
    for name in names:
        summary, seconds = run_one(name)
        body += section(name, summary, seconds)
        print(f"{name}: {seconds:.1f} s", file=sys.stderr)
    head = [
        BEGIN,
        "",
        f"Regenerated {now} by `python benchmarks/readme_figures.py` on {machine()}; load "
        f"average (1 / 5 / 15 min) {load_start} at the start, {load_average()} at the end; "
        f"commit {commit()}. Power and type I error at the "
        "point values (mean, or median where the mean is atypical); ± Monte Carlo SE (none: "
        "exact). Power counts only rejections in the treatment's favour; type I error is "
        "every rejection when the treatment arm is given the control arm's whole outcome "
        "model. P(endpoint): share of randomised patients meeting the endpoint as analysed, "
        "simulated at the point values, and averaged over the parameters' distributions.",
        "",
    ]
    text = "\n".join(head + body + [END]) + "\n"
    target = ROOT / "results" / "shipped" / "figures.md"
    target.write_text(text)
    if not args.no_readme and not args.only:
        if not replace_block(BEGIN, END, text.rstrip("\n")):
            print("README.md: no shipped-figures markers; wrote figures.md only", file=sys.stderr)
    print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
