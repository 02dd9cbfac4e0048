"""The terminal table (issue 9, item 8): readable at 80 and 60 columns and when piped.

The printed text is parsed back (box-drawing columns) and every cell compared with the value
in summary.json formatted as the table formats it, so a truncated name or number, or a value in
the wrong column, fails.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.console import Console

from simtrial import load_scenario
from simtrial.cli.main import main
from simtrial.planning.power import run
from simtrial.report.html import _comparison_table
from simtrial.report.table import NAMED_LABEL_MAX, result_table
from tests.helpers import scenario

ROOT = Path(__file__).resolve().parents[1]


def parse(text: str) -> dict[tuple[str, int, str], str]:
    """Cells of every results table: (variant, n_total, measure label) -> text."""
    cells: dict[tuple[str, int, str], str] = {}
    names: list[str] = []
    n = 0
    for line in text.splitlines():
        if line.startswith("┃"):
            parts = [c.strip() for c in line.strip().strip("┃").split("┃")]
            if parts[:2] == ["n_total", "measure"]:
                names = parts[2:]
        elif line.startswith("│") and names:
            parts = [c.strip() for c in line.strip().strip("│").split("│")]
            assert len(parts) == 2 + len(names), line
            if parts[0]:
                n = int(parts[0])
            for name, cell in zip(names, parts[2:], strict=True):
                cells[(name, n, parts[1])] = cell
    return cells


def fmt(value: float, se: float | None = None) -> str:
    return f"{value:.3f} ± {se:.3f}" if se else f"{value:.3f}"


def per_arm(values: dict[str, float], digits: int = 2) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in values.values())


def power_label(summary: dict, name: str) -> str:
    """The power row names the treatment arm (one) or says 'an arm' (several)."""
    (treatment, *more) = summary["design"]["variants"][name]["analysis"]["treatment"]
    return f"power ({'an arm' if more else treatment} better)"


def one_sided(summary: dict, name: str) -> bool:
    a = summary["design"]["variants"][name]["analysis"]
    return a.get("sided") == "one" or a["test"] == "bayes_posterior"


def check_cells(cells: dict, summary: dict) -> None:
    for name, variant in summary["variants"].items():
        for p in variant["points"]:
            n = p["n_total"]
            assert cells[(name, n, power_label(summary, name))] == fmt(p["power"], p["power_se"])
            if one_sided(summary, name):  # identical to power by construction: not shown
                assert (name, n, "either direction") not in cells
            else:
                assert cells[(name, n, "either direction")] == fmt(
                    p["power_any_direction"], p["power_any_direction_se"]
                )
            assert cells[(name, n, "type I error (no effect)")] == fmt(
                p["type1_error"], p["type1_error_se"]
            )
            assert cells[(name, n, "assurance")] == fmt(p["assurance"], p["assurance_se"])
            assert cells[(name, n, "P(endpoint) at point values")] == per_arm(
                p["endpoint_probability"], 3
            )
            assert cells[(name, n, "averaged over the prior")] == per_arm(
                p["endpoint_probability_prior"], 3
            )
            infusions, arms = p["infusions_per_patient"], list(p["endpoint_probability"])
            named = f"infusions/patient ({'/'.join(infusions)})"
            if list(infusions) == arms:
                assert cells[(name, n, "infusions/patient")] == per_arm(infusions)
            elif len(named) <= NAMED_LABEL_MAX:  # the arms named in the label (two-arm trials)
                assert cells[(name, n, named)] == per_arm(infusions)
            else:  # every arm in the caption's order, "—" where there are no infusions
                expected = " / ".join(
                    f"{infusions[a]:.2f}" if a in infusions else "—" for a in arms
                )
                assert cells[(name, n, "infusions/patient")] == expected


@pytest.mark.parametrize("columns", [80, 60])
def test_piped_table_at_narrow_widths_has_every_name_and_number(tmp_path, columns):
    env = dict(os.environ, COLUMNS=str(columns))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "simtrial.cli.main", "run"]
    command += [str(ROOT / "scenarios" / "as-schedules.yaml"), "--simulations", "500"]
    command += ["--no-report", "--out", str(out)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert "…" not in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    cells = parse(proc.stdout)
    assert {name for name, _, _ in cells} == set(summary["variants"])
    check_cells(cells, summary)
    assert proc.stdout.index("Design") < proc.stdout.index("n_total")  # summary first


def render(result, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(result_table(result, width=width))
    return console.file.getvalue()


def test_des_operations_rows_in_table_and_report():
    result = run(load_scenario(ROOT / "scenarios" / "ra-capacity.yaml"), simulations=6)
    summary = json.loads(json.dumps(result.to_dict()))
    text = render(result, 80)
    cells = parse(text)
    check_cells(cells, summary)
    page = _comparison_table(result)
    for name, variant in summary["variants"].items():
        for p in variant["points"]:
            n = p["n_total"]
            for label, key in (
                ("infusion delay (weeks)", "mean_infusion_delay_weeks"),
                ("infusions delayed", "infusions_delayed_fraction"),
                ("missed infusions/pt", "infusions_missed_before_endpoint"),
            ):
                assert cells[(name, n, label)] == per_arm(p[key])
                value = p[key]["msc"]
                assert (
                    f"data-variant='{name}' data-n='{n}' data-key='{key}.msc' "
                    f"data-value='{value!r}'" in page
                )


def test_safety_stop_rows_name_their_rates_and_harm_stops_are_listed():
    harmful = scenario(
        {
            "arms": {
                "control": {"endpoint_probability": 0.6},
                "msc": {
                    "schedule": None,
                    "response": None,
                    "adverse_events": None,
                    "endpoint_probability": 0.2,
                },
            },
            "analysis": {"interims": {"information": [0.5, 1.0]}},
            "evaluate": {"n_total": [60]},
        }
    )
    result = run(harmful, simulations=400)
    (p,) = result.to_dict()["variants"]["base"]["points"]
    assert p["stopped_early"]["harm"] > 0.1
    text = render(result, 64)  # the stops cell needs 19 characters, the labels 27
    assert "infusions/patient ()" not in text  # no arm with infusions: no empty arm list
    cells = parse(text)
    assert cells[("base", 60, "infusions/patient")] == "—"
    stops = "/".join(
        f"{p['stopped_early'][r]:.2f}" for r in ("efficacy", "futility", "safety", "harm")
    )
    assert cells[("base", 60, "stopped eff/fut/saf/harm")] == stops
    assert "data-key='stopped_early.harm'" in _comparison_table(result)

    safe = scenario(
        {
            "safety": {
                "max_serious_rate_per_year": 0.4,
                "posterior_probability": 0.8,
                "every_patients": 5,
            }
        }
    )
    result = run(safe, simulations=400)
    (p,) = result.to_dict()["variants"]["base"]["points"]
    stop = p["safety_stop_probability"]
    assert (stop["safe_rate_per_year"], stop["unsafe_rate_per_year"]) == (0.2, 0.8)
    cells = parse(render(result, 64))
    assert cells[("base", 40, "P(safety stop), SAE 0.2/pt-yr")] == fmt(stop["safe_rate"])
    assert cells[("base", 40, "P(safety stop), SAE 0.8/pt-yr")] == fmt(stop["unsafe_rate"])
    page = _comparison_table(result)
    assert "P(safety stop) at 0.8 SAEs per patient-year" in page
    assert (
        f"data-key='safety_stop_probability.unsafe_rate' data-value='{stop['unsafe_rate']!r}'"
        in page
    )


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"simtrial {version('simtrial')}"


def test_selection_design_fits_80_columns(tmp_path):
    # four arms, three treatments: per-arm cells and row labels still fit 80 columns; every
    # per-arm row is in the order of the caption, the expected n per arm too
    env = dict(os.environ, COLUMNS="80")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "simtrial.cli.main", "run"]
    command += [str(ROOT / "scenarios" / "as-mams.yaml"), "--simulations", "100"]
    command += ["--no-report", "--out", str(out)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert max(len(line) for line in proc.stdout.splitlines()) <= 80
    assert "…" not in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    cells = parse(proc.stdout)
    assert {name for name, _, _ in cells} == set(summary["variants"])
    check_cells(cells, summary)
    assert "selection" in proc.stdout.split("n_total")[0]  # the design summary names it
    assert "per-arm values: placebo / weekly_x4 / monthly_x3 / monthly_x6" in proc.stdout
    for p in summary["variants"]["base"]["points"]:
        sel, n = p["selection"], p["n_total"]
        assert cells[("base", n, "FWER global null")] == f"{sel['fwer_global_null']:.3f}"
        partial = " / ".join(f"{v:.3f}" for v in sel["fwer_partial_null"].values())
        assert cells[("base", n, "partial null, per arm")] == partial
        per_arm_n = sel["expected_n_per_arm"]
        expected = " / ".join(f"{per_arm_n[a]:.1f}" for a in p["endpoint_probability"])
        assert cells[("base", n, "expected n per arm")] == expected
        assert expected.startswith(f"{per_arm_n['placebo']:.1f} / ")


def test_a_variant_wider_than_the_terminal_is_printed_whole(tmp_path):
    # the selection design at 60 columns: one variant needs more, the lines are then
    # longer, but nothing is cut
    env = dict(os.environ, COLUMNS="60")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "simtrial.cli.main", "run"]
    command += [str(ROOT / "scenarios" / "as-mams.yaml"), "--simulations", "100"]
    command += ["--no-report", "--out", str(out)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "…" not in proc.stdout
    assert max(len(line) for line in proc.stdout.splitlines()) > 60
    summary = json.loads((out / "summary.json").read_text())
    check_cells(parse(proc.stdout), summary)


def caption_of(text: str) -> str:
    """The text under the last table, joined into one line."""
    tail = text.rsplit("┘", 1)[1]
    return " ".join(tail.split())


def test_one_sided_and_selection_rows_read_without_the_yaml(tmp_path):
    """as-mams (one-sided, selection at the interim): no 'either direction' row, which would
    repeat power by construction, and the caption says why; 'selected' is named and explained
    so that 'shown better' exceeding it (trials stopping for success at the interim select no
    arm) reads correctly; type I error says at which rates it is judged."""
    result = run(load_scenario(ROOT / "scenarios" / "as-mams.yaml"), simulations=60)
    text = render(result, 80)
    cells = parse(text)
    measures = {label for _, _, label in cells}
    assert "either direction" not in measures
    assert {"power (an arm better)", "selected to continue", "shown better, per arm"} <= measures
    caption = caption_of(text)
    assert "one-sided, so power in either direction is the same" in caption
    assert "a trial stopping there for success selects none" in caption
    assert "'shown better' can exceed it" in caption
    assert "type I error: every treatment arm given placebo's endpoint probability" in caption
    assert "stopped eff/fut/saf/harm: chance of stopping early for efficacy" in caption
    assert "harm (placebo better), at the point values and the assumed SAE rate" in caption


def test_two_sided_table_names_the_treatment_and_keeps_either_direction():
    s = load_scenario(ROOT / "scenarios" / "as-schedules.yaml")
    result = run(s, simulations=60)
    text = render(result, 120)
    measures = {label for _, _, label in parse(text)}
    assert {"power (msc better)", "either direction", "type I error (no effect)"} <= measures
    caption = caption_of(text)
    assert "power: a significant result with msc better than placebo" in caption
    assert "type I error: msc given placebo's endpoint probability, rejections in either" in caption
    assert "point value" in caption and "averaged over the parameters' distributions" in caption
