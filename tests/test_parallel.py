"""Parallel runs give the same summary as a run in one process (DESIGN §6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simtrial.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "jia-redosing.yaml")


def summary(out: Path, *args: str) -> dict:
    code = main(["run", SCENARIO, "--out", str(out), "-q", "--simulations", "2500", *args])
    assert code == 0
    return json.loads((out / "summary.json").read_text())


def test_local_workers_identical(tmp_path):
    assert summary(tmp_path / "one") == summary(tmp_path / "two", "--workers", "2")


def test_dask_cluster_identical(tmp_path):
    """A scheduler and two worker processes on 127.0.0.1, as `dask scheduler`/`dask worker`."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        remote = summary(tmp_path / "dask", "--scheduler", cluster.scheduler_address)
    assert remote == summary(tmp_path / "local")


def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    pytest.importorskip("distributed")
    code = main(["run", SCENARIO, "--out", str(tmp_path), "-q", "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
