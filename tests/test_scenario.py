"""Scenario loading: valid files, variants, and one clear message for each kind of bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from simtrial.cli.main import main
from simtrial.errors import ScenarioError
from simtrial.scenario.load import load_scenario
from simtrial.scenario.parameters import BetaParam, Fixed, GammaParam, LogNormalParam, PriorParam

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
# The shipped file draws the ceiling from msc/ceiling; the error cases below edit a fixed one.
RA = (
    (ROOT / "scenarios" / "ra-phase2.yaml")
    .read_text()
    .replace("ceiling: {prior: msc/ceiling}", "ceiling: 1.0")
)
IND = 'induction: {prior: "msc/induction[rheumatoid_arthritis]"}'


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenarios_validate_and_have_a_header(path):
    scenarios = load_scenario(path)
    assert scenarios.name == path.stem
    header = path.read_text().splitlines()[0]
    assert header.startswith("# "), "each shipped scenario opens with a comment"


def test_variants_deep_merge():
    s = load_scenario(ROOT / "scenarios" / "ra-phase2.yaml")
    assert list(s.variants) == ["monthly_x3", "monthly_x6"]
    x3, x6 = s.variants["monthly_x3"], s.variants["monthly_x6"]
    assert x3.arms["msc"].schedule.infusion_weeks == [0, 4, 8]
    assert x6.arms["msc"].schedule.infusion_weeks == [0, 4, 8, 12, 16, 20]
    # untouched fields are inherited
    assert x6.arms["msc"].response == x3.arms["msc"].response
    assert x6.arms["placebo"] == x3.arms["placebo"]


def test_null_in_variant_removes_a_block():
    s = load_scenario(ROOT / "scenarios" / "jia-redosing.yaml")
    assert s.variants["single_infusion"].arms["msc"].schedule.redose_on_loss is None
    assert s.variants["redose_on_loss"].arms["msc"].schedule.redose_on_loss.max == 2


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


BAD = [
    # (description, replace this, with this, expected path, expected message fragment)
    (
        "weeks do not increase",
        "infusion_weeks: [0, 4, 8]",
        "infusion_weeks: [0, 8, 4]",
        "arms.msc.schedule.infusion_weeks[2]",
        "weeks must increase",
    ),
    (
        "typo in a key",
        "ceiling: 1.0",
        "ceilng: 1.0",
        "arms.msc.response.ceilng",
        "did you mean 'ceiling'",
    ),
    (
        "probability above 1",
        "ceiling: 1.0",
        "ceiling: 1.5",
        "arms.msc.response.ceiling",
        "must be in [0, 1]",
    ),
    (
        "wrong type",
        "rate_per_week: 2.0",
        "rate_per_week: fast",
        "enrolment.rate_per_week",
        "valid number",
    ),
    (
        "analysis names a missing arm",
        "control: placebo",
        "control: placebo_arm",
        "analysis.control",
        "no arm named 'placebo_arm'",
    ),
    (
        "negative rate",
        "serious_rate_per_year: 0.05}",
        "serious_rate_per_year: -0.05}",
        "arms.msc.adverse_events.serious_rate_per_year",
        "rate must be >= 0",
    ),
    (
        "beta for a rate",
        "serious_rate_per_year: 0.05}",
        "serious_rate_per_year: {beta: [1, 2]}}",
        "arms.msc.adverse_events.serious_rate_per_year",
        "expected a number >= 0",
        "serious_rate_per_year",
    ),
    (
        "bad prior reference",
        IND,
        "induction: {prior: msc-induction}",
        "arms.msc.response.induction",
        "FIT/VAR",
    ),
    (
        "unknown endpoint kind",
        "kind: responder",
        "kind: responders",
        "endpoint.kind",
        "allowed",
    ),
    (
        "allocation does not split n_total",
        "    allocation: 1\n    schedule",
        "    allocation: 2\n    schedule",
        "evaluate.n_total[1]",
        "n_total 40 cannot be split 1:2",
        "n_total:",
    ),
    (
        "error inside a variant",
        "infusion_weeks: [0, 4, 8, 12, 16, 20]",
        "infusion_weeks: [0, 4, 8, 12, 12, 20]",
        "variants.monthly_x6.arms.msc.schedule.infusion_weeks[4]",
        "weeks must increase",
    ),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_names_file_line_and_field(tmp_path, case):
    _, old, new, path, fragment, *line_fragment = case
    assert old in RA
    text = RA.replace(old, new, 1)
    file = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(file)
    err = info.value
    assert err.file == str(file)
    assert err.path == path
    assert fragment in err.message
    expected_line = line_of(text, line_fragment[0] if line_fragment else new)
    assert err.line == expected_line


def test_yaml_syntax_error_has_line(tmp_path):
    text = RA.replace("kind: responder", "kind: [responder")
    with pytest.raises(ScenarioError, match="YAML syntax error") as info:
        load_scenario(write(tmp_path, text))
    assert info.value.line is not None and info.value.line >= line_of(text, "kind: [responder")


def test_python_tag_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "executed"
    text = RA.replace("seed: 20261121", f'seed: !!python/object/apply:os.system ["touch {marker}"]')
    with pytest.raises(ScenarioError, match="only plain YAML") as info:
        load_scenario(write(tmp_path, text))
    assert info.value.line == line_of(text, "seed:")
    assert not marker.exists()


def test_duplicate_key_is_an_error(tmp_path):
    text = RA.replace("seed: 20261121", "seed: 20261121\nseed: 1")
    with pytest.raises(ScenarioError, match="duplicate key 'seed'") as info:
        load_scenario(write(tmp_path, text))
    assert info.value.line == line_of(text, "seed: 1")


def test_missing_prior_fit_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMTRIAL_PRIORS_DIR", str(tmp_path))
    text = RA.replace(IND, 'induction: {prior: "nofit/induction[x]"}')
    with pytest.raises(ScenarioError, match="nofit") as info:
        load_scenario(write(tmp_path, text))
    assert info.value.path == "arms.msc.response.induction"
    assert info.value.line == line_of(text, "induction:")


@pytest.mark.parametrize(
    "value,expected",
    [
        (0.3, Fixed(0.3)),
        ({"beta": [2, 3]}, BetaParam(2, 3)),
        (
            "msc/induction[rheumatoid_arthritis]",
            PriorParam("msc", "induction", "rheumatoid_arthritis"),
        ),
    ],
)
def test_parameter_forms(value, expected):
    from simtrial.scenario.parameters import parse_parameter

    if isinstance(value, str):
        value = {"prior": value}
    assert parse_parameter(value, "probability") == expected


def test_rate_parameter_forms_and_means():
    from simtrial.scenario.parameters import parse_parameter

    g = parse_parameter({"gamma": [2, 4]}, "rate")
    assert g == GammaParam(2, 4) and g.mean() == pytest.approx(0.5)
    ln = parse_parameter({"lognormal": [0, 1]}, "rate")
    assert isinstance(ln, LogNormalParam) and ln.mean() == pytest.approx(1.6487212707)


def test_cli_validate_exit_status_and_one_message(tmp_path, capsys):
    good = ROOT / "scenarios" / "uc-followup.yaml"
    assert main(["validate", str(good)]) == 0
    bad = write(tmp_path, RA.replace("ceiling: 1.0", "ceiling: 1.41"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"s\.yaml:\d+: arms\.msc\.response\.ceiling: a probability", err)
    assert "Traceback" not in err


def test_cli_subprocess_bad_input_no_traceback(tmp_path):
    bad = write(tmp_path, RA.replace("control: placebo", "control: nobody"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "simtrial.cli.main",
            "run",
            str(bad),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "analysis.control" in proc.stderr
    assert not (tmp_path / "out").exists(), "nothing is written for a bad scenario"


def test_unknown_prior_index_lists_the_labels(tmp_path):
    text = RA.replace(IND, 'induction: {prior: "msc/induction[psoriasis]"}')
    with pytest.raises(ScenarioError, match="rheumatoid_arthritis") as info:
        load_scenario(write(tmp_path, text))
    assert info.value.path == "arms.msc.response.induction"
    assert info.value.line == line_of(text, "msc/induction[psoriasis]")
    assert "psoriasis" in info.value.message
