"""The benchmarks' process measurement reports the command's own peak memory.

Linux carries a parent's resident set into a child's ``ru_maxrss`` across ``execve``, so a
benchmark script holding large arrays once reported its own ~200 MiB as the peak of every
command it timed. ``benchmarks.readme_block.measure_process`` starts the command from a bare
launcher; here the parent holds 400 MiB while timing ``python -c pass`` (whose own peak is
about 10 MiB), so the old measurement would report at least 400 MiB.
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.readme_block import measure_process


def test_child_peak_is_not_the_parents():
    ballast = np.ones(400 * 2**20 // 8)  # 400 MiB, touched
    assert ballast.sum() == ballast.size
    seconds, peak_mib, _ = measure_process([sys.executable, "-S", "-c", "pass"])
    assert seconds > 0
    assert peak_mib < 100, peak_mib


def test_a_large_child_is_measured():
    """And it does see a child's own allocation (200 MiB touched → at least 200 MiB)."""
    code = "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    _, peak_mib, _ = measure_process([sys.executable, "-S", "-c", code])
    assert peak_mib >= 200, peak_mib
