"""Hostile input (issue 10): one message, exit 2, no traceback, bounded memory, nothing written.

Each test plants one hostile value in a copy of a shipped scenario (or a damaged file) and
checks the exit status, that stderr is exactly one ``error:`` line naming the file, the line
*of the planted value* (found by searching the text, not by asking simtrial) and the field path,
and that nothing was written.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from simtrial.cli.main import main
from simtrial.errors import ScenarioError, SimtrialError
from simtrial.planning import estimate
from simtrial.priors import store
from simtrial.report.files import OutputDir
from simtrial.scenario import limits

ROOT = Path(__file__).resolve().parents[1]
SCEN = ROOT / "scenarios"
FITTED = ROOT / "priors" / "fitted"


def plant(tmp_path: Path, source: str, old: str, new: str, name: str = "s.yaml") -> Path:
    """Copy ``scenarios/<source>`` with ``old`` replaced by ``new`` (exactly once)."""
    text = (SCEN / source).read_text()
    assert text.count(old) == 1, old
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def line_of(path: Path, snippet: str) -> int:
    lines = path.read_text().splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if snippet in line]
    assert len(hits) == 1, snippet
    return hits[0]


def errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def refused(capsys, argv: list[str]) -> str:
    """Run the CLI; it must exit 2 with exactly one error line and no traceback."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "Traceback" not in captured.err
    lines = errors(captured.err)
    assert len(lines) == 1, captured.err
    return lines[0]


# -- 1. values that validate must run ---------------------------------------------------------

VALUES = [
    # (file, old, new, snippet on the planted line, field path)
    (
        "ra-phase2.yaml",
        "  n_total: [",
        "  n_total: [100000000, ",
        "100000000",
        "evaluate.n_total[0]",
    ),
    ("ra-phase2.yaml", "  n_total: [", "  n_total: [1.0e+30, ", "1.0e+30", "evaluate.n_total[0]"),
    (
        "ra-phase2.yaml",
        "serious_rate_per_year: 0.05",
        "serious_rate_per_year: 1.0e+300",
        "1.0e+300",
        "arms.msc.adverse_events.serious_rate_per_year",
    ),
    ("ra-phase2.yaml", "  week: 24", "  week: 100000000", "100000000", "endpoint.week"),
    (
        "as-schedules.yaml",
        "to_week: 24",
        "to_week: 1.0e+308",
        "1.0e+308",
        "endpoint.to_week",
    ),
    (
        "ra-phase2-bayes.yaml",
        "max_total: 300",
        "max_total: 1000000000",
        "1000000000",
        "evaluate.sample_size.max_total",
    ),
    (
        "ra-phase2.yaml",
        "per_infusion: {prior: msc/ae_per_infusion}",
        "per_infusion: {prior: msc/loss_per_week_new}",
        "loss_per_week_new",
        "arms.msc.adverse_events.per_infusion",
    ),
    (
        "ra-phase2.yaml",
        "per_infusion: {prior: msc/ae_per_infusion}",
        "per_infusion: {prior: msc/mu_loss}",
        "mu_loss",
        "arms.msc.adverse_events.per_infusion",
    ),
    (
        "ra-phase2.yaml",
        "serious_rate_per_year: 0.05",
        "serious_rate_per_year: {gamma: [1.0e+300, 1.0e-300]}",
        "gamma",
        "arms.msc.adverse_events.serious_rate_per_year",
    ),
    (
        "ra-phase2.yaml",
        "rate_per_week: 2.0",
        "rate_per_week: 1.0e-300",
        "1.0e-300",
        "enrolment.rate_per_week",
    ),
    (
        "jia-redosing.yaml",
        "assess_every_weeks: 4",
        "assess_every_weeks: 1.0e-9",
        "1.0e-9",
        "arms.msc.schedule.redose_on_loss.assess_every_weeks",
    ),
]


@pytest.mark.parametrize(("source", "old", "new", "snippet", "path"), VALUES)
def test_value_refused_by_validate(tmp_path, capsys, source, old, new, snippet, path):
    file = plant(tmp_path, source, old, new)
    message = refused(capsys, ["validate", str(file)])
    assert message.startswith(f"error: {file}:{line_of(file, snippet)}: {path}: "), message
    out = tmp_path / "out"
    refused(capsys, ["run", str(file), "--simulations", "10", "--out", str(out)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_variant_value_and_rate_fit_messages(tmp_path, capsys):
    file = plant(
        tmp_path,
        "ra-phase2.yaml",
        "per_infusion: {prior: msc/ae_per_infusion}",
        "per_infusion: {prior: msc/loss_per_week_new}",
    )
    message = refused(capsys, ["validate", str(file)])
    assert "is a rate" in message and "needs a probability" in message


def test_bounds_are_not_hit_by_the_shipped_scenarios():
    from simtrial.engines import default_engine
    from simtrial.scenario.load import load_scenario

    for path in sorted(SCEN.glob("*.yaml")):
        scenarios = load_scenario(path)
        engine = default_engine(scenarios)
        guess = estimate.estimate_run(scenarios, engine, scenarios.base.simulations)
        assert not guess.problems(), (path.name, guess)


def test_estimate_refuses_a_huge_run_before_simulating(tmp_path, capsys, monkeypatch):
    import simtrial.planning.power

    def boom(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("simulated although refused")

    monkeypatch.setattr(simtrial.planning.power, "run", boom)
    file = plant(tmp_path, "ra-phase2.yaml", "  n_total: [", "  n_total: [99998, ")
    message = refused(capsys, ["run", str(file), "--out", str(tmp_path / "out")])
    assert "GiB of memory" in message and "--force" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source", ["ra-capacity.yaml", "uc-followup.yaml"])
def test_estimate_counts_the_test_table(tmp_path, capsys, source):
    # found by the fuzz: des (and vectorized) build Fisher's table over (x_t, x_c); at 50 000
    # a side one array of it is 18.6 GiB, whatever the number of simulations
    text = (SCEN / source).read_text()
    file = tmp_path / "s.yaml"
    file.write_text(text.replace("n_total: [", "n_total: [99998, ", 1))
    message = refused(
        capsys, ["run", str(file), "--simulations", "1", "--out", str(tmp_path / "o")]
    )
    assert "GiB of memory" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_estimate_grows_with_the_run_and_force_overrides(tmp_path, capsys, monkeypatch):
    from simtrial.scenario.load import load_scenario

    scenarios = load_scenario(SCEN / "ra-phase2.yaml")
    small = estimate.estimate_run(scenarios, "vectorized", 100)
    large = estimate.estimate_run(scenarios, "vectorized", 1000)
    assert large.memory_bytes > small.memory_bytes and large.work == pytest.approx(10 * small.work)
    monkeypatch.setattr(limits, "MAX_WORK", small.work / 2)
    out = tmp_path / "out"
    argv = ["run", str(SCEN / "ra-phase2.yaml"), "--simulations", "100", "-q", "--no-report"]
    message = refused(capsys, argv + ["--out", str(out)])
    assert "patient journeys" in message and not out.exists()
    assert main(argv + ["--out", str(out), "--force"]) == 0
    assert (out / "summary.json").is_file()


def test_simulations_option_is_bounded(tmp_path, capsys):
    message = refused(
        capsys,
        [
            "run",
            str(SCEN / "uc-followup.yaml"),
            "--simulations",
            "100000000000",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert "--simulations" in message


def test_trace_is_bounded(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["run", str(SCEN / "ra-capacity.yaml"), "--simulations", "10", "-q", "--no-report"]
    message = refused(capsys, argv + ["--trace", "1000000", "--out", str(out)])
    assert "--trace 1000000" in message and not out.exists()
    assert main(argv + ["--trace", "1", "--out", str(out)]) == 0
    assert (out / "events.csv").is_file()


def test_infusion_after_the_endpoint_is_a_warning(tmp_path, capsys):
    file = plant(
        tmp_path, "ra-phase2.yaml", "infusion_weeks: [0, 4, 8]", "infusion_weeks: [0, 4, 30]"
    )
    assert main(["validate", str(file)]) == 0
    err = capsys.readouterr().err
    line = line_of(file, "[0, 4, 30]")
    assert f"warning: {file}:{line}: arms.msc.schedule.infusion_weeks[2]: " in err
    assert "never given" in err and "error" not in err
    out = tmp_path / "out"
    assert (
        main(["run", str(file), "--simulations", "50", "-q", "--no-report", "--out", str(out)]) == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["variants"]["monthly_x3"]["points"][0]["infusions_per_patient"]["msc"] <= 2.0


# -- 2. the YAML loader -----------------------------------------------------------------------


def _bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


HOSTILE_YAML = {
    "nul": ("name: ra\x00\n", "control character U+0000"),
    "escape": ("name: ra\nseed: \x1b[31m1\n", "control character U+001B"),
    "recursive_alias": ("x: &r [*r]\n", "recursive alias"),
    "recursive_mapping": ("x: &r {a: *r}\n", "recursive alias"),
    "deep": ("d: " + "[" * 10000 + "]" * 10000 + "\n", "levels deep"),
    "deep_mapping": ("d:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 200)), "levels deep"),
    "bomb": (_bomb(), "expands to more than"),
    "alias_chain": (
        "".join(f"a{i}: &a{i} [{'*a' + str(i - 1) if i else 1}]\n" for i in range(300)),
        "levels deep",
    ),
    "huge": ("a: 1\n" * 300_000, "larger than"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_YAML))
def test_hostile_yaml(tmp_path, capsys, case):
    text, expected = HOSTILE_YAML[case]
    file = tmp_path / "h.yaml"
    file.write_text(text)
    started = time.perf_counter()
    message = refused(capsys, ["validate", str(file)])
    assert time.perf_counter() - started < 5
    assert expected in message and str(file) in message


def test_bomb_is_small_and_refused_quickly(tmp_path):
    from simtrial.yamlio import load_yaml

    file = tmp_path / "bomb.yaml"
    file.write_text(_bomb())
    assert file.stat().st_size < 500  # expands to 9**9 values
    started = time.perf_counter()
    with pytest.raises(ScenarioError, match="expands"):
        load_yaml(file)
    assert time.perf_counter() - started < 1


def test_dev_zero_and_a_directory(capsys, tmp_path):
    assert "larger than" in refused(capsys, ["validate", "/dev/zero"])
    assert "cannot read" in refused(capsys, ["validate", str(tmp_path)])


def test_aliases_that_repeat_a_finished_block_still_work(tmp_path):
    from simtrial.yamlio import load_yaml

    file = tmp_path / "ok.yaml"
    file.write_text("d: &d {a: 1, b: [1, 2]}\ne: *d\nf: {<<: *d, a: 3}\n")
    data, _ = load_yaml(file)
    assert data["e"] == {"a": 1, "b": [1, 2]} and data["f"]["a"] == 3


# -- 3. error locations ---------------------------------------------------------------------


def test_base_error_is_not_attributed_to_a_variant(tmp_path, capsys):
    # monthly_x6 changes arms.msc.schedule; the error is in the base's arms.msc.response
    file = plant(tmp_path, "ra-phase2.yaml", "onset_weeks: 2", "onset_weeks: -2")
    message = refused(capsys, ["validate", str(file)])
    line = line_of(file, "onset_weeks: -2")
    assert message.startswith(f"error: {file}:{line}: arms.msc.response.onset_weeks: "), message
    assert "variants" not in message


def test_base_prior_error_is_not_attributed_to_a_variant(tmp_path, capsys):
    file = plant(
        tmp_path,
        "ra-phase2.yaml",
        'induction: {prior: "msc/induction[rheumatoid_arthritis]"}',
        'induction: {prior: "msc/induction[no_such]"}',
    )
    message = refused(capsys, ["validate", str(file)])
    line = line_of(file, "no_such")
    assert message.startswith(f"error: {file}:{line}: arms.msc.response.induction: "), message


def test_variant_error_is_still_the_variants(tmp_path, capsys):
    file = plant(
        tmp_path,
        "ra-phase2.yaml",
        "infusion_weeks: [0, 4, 8, 12, 16, 20]",
        "infusion_weeks: [0, 4, 8, 8]",
    )
    message = refused(capsys, ["validate", str(file)])
    line = line_of(file, "[0, 4, 8, 8]")
    assert message.startswith(
        f"error: {file}:{line}: variants.monthly_x6.arms.msc.schedule.infusion_weeks[3]: "
    ), message


def test_cross_field_error_caused_by_one_variant_names_it(tmp_path, capsys):
    # with msc allocation 2 the base's n_total 40 no longer splits 1:2: the value is the
    # base's (its line and path), the cause is the variant (named in the message)
    file = plant(
        tmp_path,
        "ra-phase2.yaml",
        "  monthly_x3: {}",
        "  monthly_x3: {arms: {msc: {allocation: 2}}}",
    )
    message = refused(capsys, ["validate", str(file)])
    assert "n_total" in message and "monthly_x3" in message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("name: ra-phase2", 'name: "ra-phase2\\n"'),
        ("  msc:\n    allocation", '  "msc\\n":\n    allocation'),
        ("  monthly_x3: {}", '  "monthly_x3\\n": {}'),
        ("endpoint_probability: 0.25", 'endpoint_probability: {prior: "uc_control/response\\n"}'),
    ],
)
def test_names_with_a_trailing_newline_are_refused(tmp_path, capsys, old, new):
    file = plant(tmp_path, "ra-phase2.yaml", old, new)
    refused(capsys, ["validate", str(file)])


# -- 4. the output directory ----------------------------------------------------------------


def _small(out: Path, *extra: str) -> list[str]:
    return [
        "run",
        str(SCEN / "uc-followup.yaml"),
        "--simulations",
        "20",
        "-q",
        "--out",
        str(out),
        *extra,
    ]


def test_a_run_replaces_the_whole_directory(tmp_path):
    out = tmp_path / "out"
    assert main(_small(out, "--seed", "1")) == 0
    assert (out / "report.html").is_file()
    assert main(_small(out, "--seed", "2", "--no-report")) == 0
    assert sorted(p.name for p in out.iterdir()) == ["points.csv", "summary.json"]
    assert json.loads((out / "summary.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left


def test_interrupt_while_writing_keeps_the_old_outputs(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert main(_small(out, "--seed", "1", "--no-report")) == 0
    before = (out / "summary.json").read_text()
    import simtrial.report.html

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(simtrial.report.html, "write_report", interrupted)
    capsys.readouterr()
    assert main(_small(out, "--seed", "2")) == 130
    assert "interrupted; nothing written" in capsys.readouterr().err
    assert (out / "summary.json").read_text() == before
    assert sorted(p.name for p in out.iterdir()) == ["points.csv", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_interrupt_while_simulating_writes_nothing(tmp_path, capsys, monkeypatch):
    import simtrial.planning.power

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(simtrial.planning.power, "run", interrupted)
    assert main(_small(tmp_path / "out")) == 130
    assert capsys.readouterr().err.strip() == "interrupted; nothing written"
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_in_a_subprocess(tmp_path):
    import signal

    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simtrial.cli.main",
            "run",
            str(SCEN / "ra-phase2.yaml"),
            "--simulations",
            "3000000",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(10)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip() == "interrupted; nothing written"
    assert list(tmp_path.iterdir()) == []


def test_two_concurrent_runs_never_mix(tmp_path):
    out = tmp_path / "out"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "simtrial.cli.main", *_small(out, "--seed", str(seed))],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (11, 22)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    seed = json.loads((out / "summary.json").read_text())["seed"]
    report = (out / "report.html").read_text()
    other = 22 if seed == 11 else 11
    assert f"--seed {seed}" in report and f"--seed {other}" not in report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_publish_without_an_atomic_exchange(tmp_path, monkeypatch):
    import simtrial.report.files

    monkeypatch.setattr(simtrial.report.files, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    for text in ("one", "two"):
        out = OutputDir(target)
        out.check()
        with out as staging:
            (staging / "summary.json").write_text(text)
            out.publish()
    assert (target / "summary.json").read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("kind", ["file", "under_a_file", "foreign", "proc", "symlink"])
def test_bad_out_is_refused_before_simulating(tmp_path, capsys, monkeypatch, kind):
    import simtrial.planning.power

    def boom(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("simulated although refused")

    monkeypatch.setattr(simtrial.planning.power, "run", boom)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    (tmp_path / "link").symlink_to(tmp_path / "mine")
    out = {
        "file": tmp_path / "afile",
        "under_a_file": tmp_path / "afile" / "sub",
        "foreign": tmp_path / "mine",
        "proc": Path("/proc/simtrial-out"),
        "symlink": tmp_path / "link",
    }[kind]
    message = refused(capsys, _small(out))
    assert "--out" in message
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "link", "mine"]


# -- 5. Dask --scheduler ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["foo", "tcp://", "tcp://host:notaport", "tcp://127.0.0.1:99999", "http://x:1", "::::"],
)
def test_malformed_scheduler_address(tmp_path, capsys, address):
    message = refused(capsys, _small(tmp_path / "out", "--scheduler", address))
    assert "--scheduler" in message and "tcp://HOST:PORT" in message
    assert list(tmp_path.iterdir()) == []


def test_a_port_that_is_not_a_scheduler_times_out():
    pytest.importorskip("distributed")
    from simtrial.planning.parallel import DaskExecutor

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    accepted = []

    def accept():
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    started = time.perf_counter()
    try:
        with pytest.raises(SimtrialError, match="no Dask scheduler answered .* within 3 s"):
            DaskExecutor(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout=3)
    finally:
        server.close()
        for conn in accepted:
            conn.close()
    assert time.perf_counter() - started < 3 + 5 + 10  # the timeout, the grace, an import


# -- 6. priors files --------------------------------------------------------------------------


def _foreign_nc(path: Path) -> None:
    import numpy as np
    import xarray as xr

    xr.Dataset({"x": ("t", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")


CORRUPT = {
    "nc_truncated": ("msc.nc", lambda p: p.write_bytes(p.read_bytes()[:5000])),
    "nc_garbage": ("msc.nc", lambda p: p.write_bytes(b"\x89HDF\r\n" + b"\x00" * 3000)),
    "nc_empty": ("msc.nc", lambda p: p.write_bytes(b"")),
    "nc_foreign": ("msc.nc", _foreign_nc),
    "json_truncated": ("msc.json", lambda p: p.write_text(p.read_text()[:500])),
    "json_list": ("msc.json", lambda p: p.write_text("[]")),
    "json_foreign": ("msc.json", lambda p: p.write_text('{"variables": {"induction": 3}}')),
    "json_no_mean": (
        "msc.json",
        lambda p: p.write_text(p.read_text().replace('"mean"', '"mea"')),
    ),
}


@pytest.fixture
def corrupt_priors(tmp_path, monkeypatch):
    def make(case: str) -> Path:
        directory = tmp_path / "fitted"
        shutil.copytree(FITTED, directory)
        name, damage = CORRUPT[case]
        damage(directory / name)
        monkeypatch.setenv("SIMTRIAL_PRIORS_DIR", str(directory))
        store.clear_cache()
        return directory

    yield make
    store.clear_cache()


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_priors_give_one_message_in_every_command(tmp_path, capsys, corrupt_priors, case):
    corrupt_priors(case)
    ra = str(SCEN / "ra-phase2.yaml")
    for argv in (
        ["validate", ra],
        ["run", ra, "--simulations", "10", "-q", "--out", str(tmp_path / "out")],
        ["priors", "show", "msc"],
        ["priors", "show", "msc/induction[rheumatoid_arthritis]"],
        ["priors", "plot", "msc", "--out", str(tmp_path / "plots")],
    ):
        message = refused(capsys, argv)
        assert "msc" in message, (argv, message)
    assert not (tmp_path / "out").exists()


def test_committed_fits_untouched_by_the_corruption_tests():
    store.clear_cache()
    assert store.posterior_mean("msc", "induction", "rheumatoid_arthritis") > 0


def test_fit_refuses_an_indication_without_evidence(tmp_path):
    from simtrial.priors.evidence import load_all, missing_evidence

    evidence = load_all()
    assert missing_evidence(evidence, "msc") == []
    without = {k: v for k, v in evidence.items() if "rheumatoid" not in k}
    assert missing_evidence(without, "msc") == [
        "a responder count for rheumatoid_arthritis (fit: msc)"
    ]
    without = {k: v for k, v in evidence.items() if "baeten" not in k}
    assert missing_evidence(without, "as_placebo")


def test_priors_fit_cli_refuses_missing_evidence(tmp_path, capsys):
    pytest.importorskip("pymc")
    evidence = tmp_path / "evidence"
    shutil.copytree(ROOT / "priors" / "evidence", evidence)
    (evidence / "seed_004_rheumatoid_arthritis.yaml").unlink()
    out = tmp_path / "fitted"
    message = refused(
        capsys, ["priors", "fit", "msc", "--evidence", str(evidence), "--out", str(out)]
    )
    assert "rheumatoid_arthritis" in message
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("value", [".inf", ".nan", "1.0e+400"])
def test_non_finite_evidence_numbers_are_refused(tmp_path, value):
    from simtrial.priors.evidence import load_evidence

    source = ROOT / "priors" / "evidence" / "seed_003_ankylosing_spondylitis.yaml"
    text = source.read_text()
    assert "mean_weeks: 7.1" in text
    file = tmp_path / source.name
    file.write_text(text.replace("mean_weeks: 7.1", f"mean_weeks: {value}"))
    with pytest.raises(ScenarioError) as info:
        load_evidence(file)
    assert info.value.line == line_of(file, f"mean_weeks: {value}")
    assert "mean_weeks" in str(info.value)
