"""What the benchmark scripts share: the commit and machine they measured on, the replacement of
one marked README block (``python benchmarks/<script>.py --readme``), and the wall time and peak
resident set of a child process (:func:`measure_process`)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def commit() -> str:
    """The short hash of HEAD, with a note when tracked files have uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def nproc() -> int:
    """The CPUs this process may run on (what ``nproc`` prints), not the host's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them (NaN where unknown)."""
    loads = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return " / ".join(f"{x:.2f}" for x in loads)


def machine() -> str:
    """OS, architecture, CPU model (from ``/proc/cpuinfo`` where there is one), nproc, Python."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = f" ({line.split(':', 1)[1].strip()})"
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.machine()}{cpu}, nproc {nproc()} (shared with other "
        f"users), Python {platform.python_version()}"
    )


def replace_block(begin: str, end: str, block: str) -> bool:
    """Replace README.md from ``begin`` to ``end`` (both included) by ``block`` (which carries
    the markers); False when the markers are missing."""
    text = README.read_text()
    if begin not in text or end not in text:
        return False
    before, rest = text.split(begin, 1)
    README.write_text(before + block + rest.split(end, 1)[1])
    return True


# Started with ``python -S -c LAUNCHER RESULT CMD...``: forks, execs CMD, waits, and writes CMD's
# wall time and ``wait4`` peak resident set to RESULT (JSON). See measure_process for why.
LAUNCHER = """
import json, os, sys, time
result, cmd = sys.argv[1], sys.argv[2:]
rss = [line for line in open("/proc/self/status") if line.startswith("VmRSS")]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(result, "w") as f:
    json.dump({"wall": wall, "maxrss_kib": usage.ru_maxrss, "status": status,
               "launcher_rss_kib": int(rss[0].split()[1]) if rss else 0}, f)
"""


def measure_process(
    cmd: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall seconds, peak resident set in MiB, stdout). Raises on failure.

    Linux keeps the largest resident set a process has had across ``execve`` (``ru_maxrss``
    starts at the resident set of the memory it replaced), and Python's ``subprocess`` starts
    children with ``vfork``, i.e. in the parent's memory: ``wait4`` on a direct child reports
    at least the parent's own peak (a benchmark script holding 200 MiB of arrays reports 200
    MiB for ``python -c pass``). So the command is forked and exec'd by a bare ``python -S``
    launcher; its peak is then exact whenever above the launcher's resident set (about 10 MiB,
    in the JSON the launcher writes). The wall time is taken by the launcher around fork,
    exec and wait.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as tmp,
    ):
        result = Path(tmp) / "result.json"
        subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, str(result), *cmd],
            stdout=out,
            stderr=err,
            cwd=cwd,
            env=env,
            check=True,
        )
        got = json.loads(result.read_text())
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    code = os.waitstatus_to_exitcode(got["status"])
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... exit {code}:\n{stderr}")
    return got["wall"], got["maxrss_kib"] / 1024, stdout  # ru_maxrss is in KiB on Linux


def peak_rss_mib() -> float:
    """This process's own peak resident set (``VmHWM``: the high-water mark of its memory since
    its ``execve``, unlike ``ru_maxrss``, which carries over the parent's; see
    :func:`measure_process`)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    raise OSError("/proc/self/status has no VmHWM (Linux only)")
