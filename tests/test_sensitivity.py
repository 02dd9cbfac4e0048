"""Sensitivity sweeps (issue 9, item 6): semantics, random streams, references, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from scipy import stats

import simtrial
from simtrial.cli.main import main
from simtrial.errors import ScenarioError
from simtrial.planning.parallel import LocalExecutor
from simtrial.scenario.load import validate_data
from tests.helpers import BASE, scenario

ALPHA = 0.05


def fixed_design(control: float = 0.3, treatment: float = 0.6, n_total: int = 40) -> dict:
    """Two arms given by their endpoint probabilities, no dropout: Binomial(n, p) per arm."""
    return {
        "name": "fixed",
        "seed": 7,
        "simulations": 4000,
        "endpoint": {"kind": "responder", "week": 12},
        "arms": {
            "control": {"endpoint_probability": control},
            "msc": {"endpoint_probability": treatment},
        },
        "analysis": {"test": "fisher_exact", "treatment": "msc", "control": "control"},
        "evaluate": {"n_total": [n_total]},
    }


def fisher_power(pt: float, pc: float, n: int, favourable: bool) -> float:
    """Independent reference: enumerate every 2×2 table of two Binomial(n, ·) arms and add the
    probabilities of those scipy.stats.fisher_exact (two-sided) rejects at ALPHA (only those with
    the treatment doing better when ``favourable``)."""
    total = 0.0
    for xt in range(n + 1):
        for xc in range(n + 1):
            if favourable and xt <= xc:
                continue
            p = stats.fisher_exact([[xt, n - xt], [xc, n - xc]]).pvalue
            if p <= ALPHA:
                total += stats.binom.pmf(xt, n, pt) * stats.binom.pmf(xc, n, pc)
    return total


CONTROL_RATES = [0.1, 0.2, 0.3, 0.4]


@pytest.fixture(scope="module")
def exact_sweep():
    s = validate_data(fixed_design(), file="<test>")
    return simtrial.sweep(s, {"arms.control.endpoint_probability": CONTROL_RATES}, engine="exact")


def test_exact_sweep_matches_enumeration(exact_sweep):
    for i, pc in enumerate(CONTROL_RATES):
        cell = exact_sweep.cell("base", (i,), 40)
        assert cell.point.power == pytest.approx(fisher_power(0.6, pc, 20, True), abs=1e-10)
        assert cell.point.type1_error == pytest.approx(fisher_power(pc, pc, 20, False), abs=1e-10)
        assert cell.point.endpoint_probability == pytest.approx({"control": pc, "msc": 0.6})
        assert cell.own == (pc == 0.3)


def test_vectorized_sweep_within_4_se_of_exact(exact_sweep):
    s = validate_data(fixed_design(), file="<test>")
    vec = simtrial.sweep(s, {"arms.control.endpoint_probability": CONTROL_RATES})
    for i in range(len(CONTROL_RATES)):
        exact, sim = exact_sweep.cell("base", (i,), 40).point, vec.cell("base", (i,), 40).point
        for key in ("power", "type1_error"):
            p = getattr(exact, key)
            se = math.sqrt(p * (1 - p) / sim.simulations)
            assert abs(getattr(sim, key) - p) <= 4 * se + 1e-12, (key, i)


def test_own_cell_reproduces_the_main_result_exactly():
    s = scenario(
        {
            "evaluate": {
                "n_total": [20, 40],
                "sweep": {
                    "arms.control.endpoint_probability": [0.2, 0.3],
                    "arms.msc.response.ceiling": [0.7, 0.9],
                },
            },
            "variants": {"a": {}, "b": {"arms": {"msc": {"schedule": {"infusion_weeks": [0]}}}}},
        }
    )
    result = simtrial.run(s, simulations=800)
    sw = result.sweep
    assert sw.own == {"a": (1, 1), "b": (1, 1)}
    for name, variant in result.variants.items():
        for point in variant.points:
            own = sw.cell(name, (1, 1), point.n_total)
            assert own.own
            assert own.point.to_dict() == point.to_dict()
            other = sw.cell(name, (0, 0), point.n_total)  # a different cell differs
            assert other.point.power != point.power
    summary = result.to_dict()["variants"]["b"]["sweep"]
    paths = ["arms.control.endpoint_probability", "arms.msc.response.ceiling"]
    assert summary["parameters"] == paths
    assert summary["own"] == [1, 1]
    own_rows = [c for c in summary["cells"] if c["own"]]
    assert [c["n_total"] for c in own_rows] == [20, 40]
    assert own_rows[1]["power"] == result.to_dict()["variants"]["b"]["points"][1]["power"]


def test_power_decreases_with_the_placebo_rate():
    rates = [0.1, 0.2, 0.3, 0.4, 0.5]
    s = scenario()
    sw = simtrial.sweep(s, {"arms.control.endpoint_probability": rates}, simulations=2000)
    cells = [sw.cell("base", (i,), 40).point for i in range(len(rates))]
    for a, b in zip(cells, cells[1:], strict=False):
        # common random numbers make the difference precise; 3 SE of an independent difference
        # is a generous tolerance
        assert b.power <= a.power + 3 * math.hypot(a.power_se, b.power_se)
    first, last = cells[0], cells[-1]
    assert first.power - last.power > 4 * math.hypot(first.power_se, last.power_se)


def test_parameter_specs_as_values():
    s = scenario()
    sw = simtrial.sweep(
        s,
        {"arms.msc.response.induction": [0.4, {"beta": [4, 6]}]},
        simulations=400,
    )
    assert sw.labels == (("0.4", "Beta(4, 6)"),)
    fixed, drawn = sw.cell("base", (0,), 40).point, sw.cell("base", (1,), 40).point
    assert fixed.power == fixed.assurance  # every parameter fixed: assurance is power
    assert drawn.assurance != drawn.power  # a distribution: assurance averages over it
    assert drawn.power == fixed.power  # same mean (0.4), same streams


def test_identical_with_two_workers():
    s = scenario({"evaluate": {"sweep": {"arms.msc.response.ceiling": [0.5, 0.9]}}})
    one = simtrial.sweep(s, simulations=600)
    executor = LocalExecutor(2)
    try:
        two = simtrial.sweep(s, simulations=600, executor=executor)
    finally:
        executor.close()
    assert one.to_dict() == two.to_dict()


def test_cli_outputs(tmp_path):
    data = dict(fixed_design())
    data["evaluate"] = {
        "n_total": [20, 40],
        "sweep": {"arms.control.endpoint_probability": [0.2, 0.3]},
        "sweep_n_total": [40],
    }
    file = tmp_path / "s.yaml"
    file.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert main(["run", str(file), "--engine", "exact", "--out", str(out), "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    block = summary["variants"]["base"]["sweep"]
    assert block["n_total"] == [40] and block["values"] == [[0.2, 0.3]]
    own = next(c for c in block["cells"] if c["own"])
    assert own["power"] == summary["variants"]["base"]["points"][1]["power"]
    csv_lines = (out / "sweep.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and "arms.control.endpoint_probability" in csv_lines[0]
    assert (out / "sweep.png").stat().st_size > 1000
    html = (out / "report.html").read_text()
    assert "<h2>Sensitivity</h2>" in html and "arms.control.endpoint_probability" in html
    assert "reproduces the comparison table exactly" in html


# -- bad sweeps: exit 2, file:line:field ------------------------------------------------------

GOOD = """\
name: bad
seed: 1
simulations: 100
endpoint: {kind: responder, week: 12}
arms:
  placebo: {endpoint_probability: 0.25}
  msc:
    schedule: {infusion_weeks: [0, 4]}
    response: {induction: 0.5, ceiling: 1.0}
analysis: {test: fisher_exact, treatment: msc, control: placebo}
evaluate:
  n_total: [40]
  sweep:
"""


@pytest.mark.parametrize(
    ("entries", "line", "field", "words"),
    [
        (
            ["    arms.msc.response.celing: [0.5, 0.8]"],
            14,
            "evaluate.sweep.arms.msc.response.celing",
            "did you mean 'arms.msc.response.ceiling'",
        ),
        (
            ["    arms.placeb.endpoint_probability: [0.2]"],
            14,
            "evaluate.sweep.arms.placeb.endpoint_probability",
            "did you mean 'arms.placebo'",
        ),
        (
            ["    arms.msc.response.ceiling:", "      - 0.5", "      - 1.5"],
            16,
            "evaluate.sweep.arms.msc.response.ceiling[1]",
            "1.5",
        ),
        (
            ["    arms.placebo.endpoint_probability: [0.2, {beta: [1]}]"],
            14,
            "evaluate.sweep.arms.placebo.endpoint_probability[1]",
            "beta",
        ),
        (
            [
                "    arms.placebo.endpoint_probability: [0.2]",
                "    arms.msc.response.ceiling: [0.5]",
                "    arms.msc.response.induction: [0.5]",
            ],
            16,
            "evaluate.sweep.arms.msc.response.induction",
            "at most 2 parameters",
        ),
        (["    seed: [1, 2]"], 14, "evaluate.sweep.seed", "cannot be swept"),
        (
            ["    arms.msc.response.ceiling: [0.5]", "  sweep_n_total: [40, 41]"],
            15,
            "evaluate.sweep_n_total[1]",
            "use a multiple of 2",
        ),
        (
            ["    arms.msc.response.ceiling: 0.5"],
            14,
            "evaluate.sweep.arms.msc.response.ceiling",
            "list of values",
        ),  # fmt: skip
        (
            ["    arms.msc.schedule.infusion_weeks[5]: [3]"],
            14,
            "evaluate.sweep.arms.msc.schedule.infusion_weeks[5]",
            "out of range",
        ),
    ],
)
def test_bad_sweeps_exit_2_with_file_line_field(tmp_path, capsys, entries, line, field, words):
    file = tmp_path / "bad.yaml"
    file.write_text(GOOD + "\n".join(entries) + "\n")
    assert main(["validate", str(file)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{file}:{line}: {field}:" in err, err
    assert words in err and "Traceback" not in err


def test_too_large_a_sweep_is_refused(tmp_path, capsys):
    text = GOOD.replace("simulations: 100", "simulations: 1000000")
    file = tmp_path / "big.yaml"
    file.write_text(text + "    arms.msc.response.ceiling: [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]\n")
    assert main(["validate", str(file)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{file}:13: evaluate.sweep:" in err and "the limit is" in err


def test_variant_cannot_change_the_sweep():
    data = dict(BASE)
    data["evaluate"] = {"n_total": [40], "sweep": {"arms.msc.response.ceiling": [0.5]}}
    data["variants"] = {"v": {"evaluate": {"sweep": {"arms.msc.response.ceiling": [0.6]}}}}
    with pytest.raises(ScenarioError, match="variant cannot change evaluate.sweep"):
        validate_data(data, file="<test>")


def test_python_api_errors_name_the_field():
    s = scenario()
    with pytest.raises(ScenarioError, match="did you mean 'arms.msc.response.induction'"):
        simtrial.sweep(s, {"arms.msc.response.inducton": [0.1]})
    with pytest.raises(ScenarioError, match="must be"):
        simtrial.sweep(s, {"arms.msc.response.induction": [-0.1]})


def test_sweep_block_is_merged_and_plots(tmp_path):
    s = scenario()
    sw = simtrial.sweep(
        s,
        {"arms.msc.dropout": [{"per_year": 0.0}, {"per_year": 0.5}]},
        simulations=300,
    )
    drop = [sw.cell("base", (i,), 40).point.dropout_fraction["msc"] for i in range(2)]
    assert drop[0] == 0.0 and drop[1] > 0.05
    fig = simtrial.sweep_figure(sw)
    assert fig.axes and np.isfinite(sw.to_frame()["power"]).all()
    assert "power" in str(sw) and "power" in simtrial.sweep_text(sw)


def test_sweep_axis_names_the_parameter_in_words(exact_sweep):
    """The x axis was the YAML path alone; it now says what the parameter is, then the path."""
    label = " ".join(simtrial.sweep_figure(exact_sweep).axes[0].get_xlabel().split())
    assert label.endswith("control arm (arms.control.endpoint_probability)")
    assert label.startswith("probability")


def test_one_way_sweep_table_reads_without_the_yaml(exact_sweep):
    """P(endpoint) to 3 decimals and named as at the point values; the caption says what
    power and type I error count."""
    import io

    from rich.console import Console

    from simtrial.report.sweep import sweep_tables

    (table,) = sweep_tables(exact_sweep)
    console = Console(width=120, file=io.StringIO(), color_system=None)
    console.print(table)
    text = console.file.getvalue()
    assert "P(endpoint) at point values" in text
    first = exact_sweep.cell("base", (0,), 40).point.endpoint_probability
    assert " / ".join(f"{v:.3f}" for v in first.values()) in text
    assert "power: a significant result in the treatment's favour" in " ".join(text.split())
