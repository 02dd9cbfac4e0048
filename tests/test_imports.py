"""The command line starts without the numerical stack; the public names still import."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_help_does_not_load_scipy_numpy_or_matplotlib():
    code = (
        "import sys\n"
        "from simtrial.cli import main\n"
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
