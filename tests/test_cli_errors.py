"""Command-line misuse gets one message and exit status 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from simtrial.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
RA = str(ROOT / "scenarios" / "ra-phase2.yaml")


def test_bad_option_value(capsys):
    assert main(["run", RA, "--simulations", "abc"]) == 2
    err = capsys.readouterr().err
    assert "simulations" in err and "Traceback" not in err


def test_unknown_option_and_engine(capsys, tmp_path):
    assert main(["run", RA, "--no-such-option"]) == 2
    assert main(["run", RA, "--engine", "warp", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "warp" in err and "Traceback" not in err


def test_missing_file_in_a_subprocess(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "simtrial.cli.main", "validate", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "nope.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_fitting_without_pymc_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pymc", None)  # import pymc now raises ImportError
    assert main(["priors", "fit", "uc_control"]) == 2
    err = capsys.readouterr().err
    assert "needs PyMC" in err and "Traceback" not in err
