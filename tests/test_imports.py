"""The command line starts without the numerical stack; the public names still import."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_help_does_not_load_scipy_numpy_or_matplotlib():
    code = (
        "import sys\n"
        "from simtrial.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('numpy', 'scipy', 'matplotlib', 'pydantic', 'pymc') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in proc.stdout, proc.stdout[-300:]


def test_a_frequentist_run_does_not_load_scipy_stats(tmp_path):
    # scipy.stats is about a second of start-up; a group-sequential z-test run with fixed
    # probabilities needs only scipy.special and scipy.optimize (benchmarks/vs_rpact.py)
    from pathlib import Path

    scenario = Path(__file__).resolve().parents[1] / "benchmarks" / "gs3.yaml"
    code = (
        "import sys\n"
        "from simtrial.cli.main import main\n"
        f"code = main(['run', {str(scenario)!r}, '--no-report', '-q', '--simulations', '200',"
        f" '--out', {str(tmp_path / 'out')!r}])\n"
        "print('CODE', code, 'STATS', 'scipy.stats' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "CODE 0 STATS False" in proc.stdout, proc.stdout[-300:] + proc.stderr[-300:]


@pytest.mark.parametrize("package", ["simtrial", "simtrial.priors"])
def test_every_public_name_imports(package):
    import importlib

    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_the_documented_imports():
    from simtrial import load_scenario, run, sweep  # noqa: F401
    from simtrial.priors import (
        ess,  # noqa: F401
        posterior_mean,  # noqa: F401
    )


def test_ess_imports_from_the_priors_package_and_is_callable():
    # ELIR and moment ESS of one Beta(a, b) are a + b (Neuenschwander et al. 2020, Sec. 3)
    from simtrial.priors import BetaMixture, ess

    mix = BetaMixture([1.0], [3.0], [7.0])
    assert abs(ess(mix) - 10.0) < 1e-6
    assert abs(ess(mix, "moment") - 10.0) < 1e-9
    assert ess(mix, "moment") == ess.ess(mix, "moment")


REPORT_MODULES = (
    "matplotlib",
    "PIL",
    "simtrial.report.plots",
    "simtrial.report.figure",
    "simtrial.report.html",
    "simtrial.report.narrative",
    "simtrial.report.design",
    "simtrial.report.curves",
    "simtrial.report.sweep",
    "simtrial.report.selection",
    "simtrial.report.terminal",
)


@pytest.mark.parametrize(
    "name",
    [
        "uc-followup",
        pytest.param("ra-phase2-bayes", marks=pytest.mark.slow),
        pytest.param("as-mams", marks=pytest.mark.slow),
    ],
)
def test_a_run_without_report_loads_no_report_code(tmp_path, name):
    """`run --no-report -q` imports none of the plots, HTML, narrative or table modules (it
    writes summary.json and points.csv only). uc-followup: a sample-size search and assurance;
    ra-phase2-bayes (slow: it calibrates every candidate n): a Bayesian rule, interims, safety
    looks; as-mams (slow): selection. (The files of a run with the report: tests/test_html.py.)
    """
    from pathlib import Path

    scenario = Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml"
    code = (
        "import sys\n"
        "from simtrial.cli.main import main\n"
        f"args = ['run', {str(scenario)!r}, '-q', '--simulations', '20', '--no-report']\n"
        f"code = main(args + ['--out', {str(tmp_path / 'out')!r}])\n"
        f"watch = {REPORT_MODULES!r}\n"
        "print('BARE', code, [m for m in watch if m in sys.modules])\n"
        "import simtrial.report.html\n"  # the check sees the modules when they are loaded
        "print('HTML', [m for m in watch if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "BARE 0 []" in proc.stdout, proc.stdout[-500:] + proc.stderr[-500:]
    assert "'simtrial.report.html'" in proc.stdout.split("HTML")[1], proc.stdout[-500:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["points.csv", "summary.json"]
