"""Fuzz the command line with mutated shipped scenarios (issue 10).

A seeded mutator (:mod:`tests.fuzz`) damages the shipped scenarios — hostile values (1e308,
1e8 patients, NaN, a rate fit as a probability, trailing newlines), removed blocks, control
characters, recursive aliases, alias bombs, deep nesting, truncation — and runs ``validate`` and
``run`` in-process with ``--simulations 20``, in a child process limited to 3 GiB of address
space. Every case must exit 0 or 2, print no traceback, write nothing on exit 2, and the child's
peak resident memory must stay under 1 GiB. Deterministic (fixed seed, fixed case list); about
a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_fuzz_shipped_scenarios(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fuzz",
            "--cases",
            "300",
            "--seed",
            "20261204",
            "--seconds",
            "150",
            "--work",
            str(tmp_path / "work"),
            "--max-memory-mib",
            "3072",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    bad = [
        {k: b[k] for k in ("case", "source", "change", "problem", "crash", "stderr")}
        for b in report["bad"]
    ]
    assert bad == [], json.dumps(bad, indent=1)[:6000]
    assert report["cases"] >= 100, report  # the time guard did not cut the run short
    assert report["exit_0"] > 10 and report["exit_2"] > 10, report  # both paths exercised
    assert report["peak_rss_mib"] < 1024, report
