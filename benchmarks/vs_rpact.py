"""Whole-process time of ``simtrial run`` against rpact doing the same work.

Usage::

    python benchmarks/vs_rpact.py [--repeats K] [--json FILE] [--readme]

The scenario is ``benchmarks/gs3.yaml``: two arms, fixed endpoint probabilities, pooled z,
one-sided alpha 0.025, looks at information 1/3, 2/3, 1 with O'Brien-Fleming-type Lan-DeMets
spending, 10 000 trials. ``simtrial run`` simulates 10 000 trials under the scenario (power) and
10 000 with both arms at the control's probability (type I error); the R code below does the
same with rpact 3.3.4 (``getSimulationRates`` with ``pi1 = c(control, treatment)``), with the
cumulative sizes simtrial analyses at each look (each arm contributes ``round(t_k * n_arm)``).

Measures (each whole-process figure is the median of K runs, the two programs alternating, after
one unmeasured run of each that warms the file cache and writes Python's bytecode cache, which
an installed package has; ``PYTHONDONTWRITEBYTECODE`` is removed from the children's
environment):

- whole process, wall clock: ``simtrial run benchmarks/gs3.yaml --no-report -q --out TMP`` and
  ``Rscript -e CODE``; the ratio rpact / simtrial of the medians, measured in the same run;
- the floors: ``python -c pass`` and ``Rscript -e 'library(rpact)'``;
- peak resident memory of each process (``wait4`` rusage, through a bare launcher: see
  ``readme_block.measure_process`` — measured directly, a child reports this script's peak);
- simtrial's parts, in-process in a fresh interpreter (median of K): imports, loading the
  scenario, the boundaries (cold), the simulation, writing ``summary.json``/``points.csv``;
  rpact's parts from ``Sys.time()`` inside the R code (library, design, simulation);
- the three-look boundaries alone: median of 25 cold calls and the tracemalloc peak (goals
  <= 20 ms, < 20 MiB), and the largest difference from rpact's critical values (goal <= 1e-6).

Correctness check: power, type I error and expected n of the two programs agree within Monte
Carlo error; the differences are printed in standard errors of the difference (the expected n's
SE from the distribution of the stopping look). A difference above 3 SE fails the run (exit 1).

``--json FILE`` writes every figure; ``--readme`` replaces the README block between
``<!-- vs-rpact:begin -->`` and ``<!-- vs-rpact:end -->`` with a dated table. Without R or
rpact the script says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from readme_block import commit, load_average, machine, measure_process, replace_block

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "benchmarks" / "gs3.yaml"
README = ROOT / "README.md"
BEGIN = "<!-- vs-rpact:begin -->"
END = "<!-- vs-rpact:end -->"
SIMTRIAL = Path(sys.executable).parent / "simtrial"
MAX_SE = 3.0

R_TEMPLATE = """\
t0 <- Sys.time()
suppressPackageStartupMessages(library(rpact))
t1 <- Sys.time()
design <- getDesignGroupSequential(kMax = {looks}, alpha = {alpha}, sided = 1,
  typeOfDesign = "asOF")
t2 <- Sys.time()
sim <- getSimulationRates(design, groups = 2, pi1 = c({p_c}, {p_t}), pi2 = {p_c},
  plannedSubjects = c({planned}), maxNumberOfIterations = {trials}, seed = {seed})
t3 <- Sys.time()
cat("critical", sprintf("%.10f", design$criticalValues), "\\n")
cat("reject", sprintf("%.6f", sim$overallReject), "\\n")
cat("expected_n", sprintf("%.4f", sim$expectedNumberOfSubjects), "\\n")
cat("reject_per_stage", sprintf("%.6f", sim$rejectPerStage[, 2]), "\\n")
cat("iterations", sim$iterations[1, ], "\\n")
cat("seconds", as.numeric(c(t1 - t0, t2 - t1, t3 - t2), units = "secs"), "\\n")
"""

# In-process parts of ``simtrial run --no-report -q``, in a fresh interpreter: the same imports
# and calls as simtrial/cli.py's ``run``; prints one JSON line.
PARTS = """\
import json, sys, tempfile, time, tracemalloc
from pathlib import Path
t0 = time.perf_counter()
import simtrial.cli.main
from simtrial.engines import design as _design
from simtrial.analysis.group_sequential import _boundaries, boundaries
from simtrial.engines import vectorized as _vectorized
from simtrial.planning.estimate import check_run
from simtrial.report.files import OutputDir
from simtrial.planning.parallel import make_executor
from simtrial.planning.power import run
from simtrial.report.table import write_outputs
from simtrial.scenario.load import load_scenario
t1 = time.perf_counter()
scenarios = load_scenario(Path(sys.argv[1]))
s = scenarios.base
check_run(scenarios, "vectorized", s.simulations, False, 0)
t2 = time.perf_counter()
args = (s.analysis.interims.information, s.analysis.alpha, s.analysis.sided,
        s.analysis.interims.efficacy_spending)
_boundaries.cache_clear()
b = boundaries(*args)
t3 = time.perf_counter()
executor = make_executor(1, None)
result = run(scenarios, engine="vectorized", simulations=s.simulations, executor=executor)
t4 = time.perf_counter()
output = OutputDir(Path(sys.argv[2]))
output.check()
with output as staging:
    write_outputs(result, staging)
    output.publish()
t5 = time.perf_counter()
cold = []
for _ in range(25):
    _boundaries.cache_clear()
    start = time.perf_counter()
    boundaries(*args)
    cold.append(time.perf_counter() - start)
_boundaries.cache_clear()
tracemalloc.start()
boundaries(*args)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
cold.sort()
print(json.dumps({
    "imports": t1 - t0, "load": t2 - t1, "boundaries": t3 - t2, "simulation": t4 - t3,
    "writing": t5 - t4, "boundaries_cold_median": cold[len(cold) // 2],
    "boundaries_peak_bytes": peak, "critical": b.efficacy_z,
}))
"""


class Unavailable(Exception):
    """R or rpact cannot be run."""


# Python children may write bytecode (``__pycache__``, git-ignored) as an installed package's
# does (pip compiles at install; R byte-compiles rpact at install): with
# PYTHONDONTWRITEBYTECODE set, every run would compile simtrial's modules from source again.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], cwd: Path = ROOT) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall seconds, peak RSS in MiB, stdout). Raises on failure.

    Through :func:`readme_block.measure_process`: the peak is the command's own, not this
    script's (which ``wait4`` on a direct child would report when larger)."""
    return measure_process(cmd, cwd, CHILD_ENV)


def check_r() -> str:
    """rpact's version, or :class:`Unavailable` with what to install."""
    if shutil.which("Rscript") is None:
        raise Unavailable("Rscript not found: install R 4 and rpact 3.3.4 to compare with rpact")
    proc = subprocess.run(
        ["Rscript", "-e", 'cat(as.character(packageVersion("rpact")))'],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise Unavailable(
            "the R package rpact is not installed: "
            "Rscript -e 'install.packages(\"rpact\")' (the figures were measured with 3.3.4)"
        )
    return proc.stdout.strip()


def setup() -> dict[str, Any]:
    """The scenario's figures and the R code doing the same work."""
    sys.path.insert(0, str(ROOT))
    from simtrial.scenario.load import load_scenario

    scenarios = load_scenario(SCENARIO)
    s = scenarios.base
    raw = scenarios.raw
    a = s.analysis
    n_total = s.evaluate.n_total
    if len(n_total) != 1 or a.interims is None or a.sided != "one" or a.test != "z_pooled":
        raise SystemExit(f"{SCENARIO}: needs one n_total, interims, a one-sided z_pooled test")
    n_arm = s.n_per_arm(n_total[0])
    if len(set(n_arm.values())) != 1:
        raise SystemExit(f"{SCENARIO}: rpact's plannedSubjects split 1:1; arms are {n_arm}")
    probs = {}
    for arm in (a.control, a.treatments[0]):
        spec = raw["arms"][arm]
        if not isinstance(spec.get("endpoint_probability"), float) or spec.get("dropout"):
            raise SystemExit(f"{SCENARIO}: arm {arm} needs a numeric endpoint_probability")
        probs[arm] = spec["endpoint_probability"]
    info = list(a.interims.information)
    k = len(info)
    if any(abs(t - (i + 1) / k) > 1e-12 for i, t in enumerate(info)):  # rpact's default rates
        raise SystemExit(f"{SCENARIO}: the R code assumes equally spaced looks, got {info}")
    # simtrial's looks (simtrial/engines/design.py): each arm contributes round(t * n_arm)
    planned = [sum(n if t >= 1.0 else max(1, round(t * n)) for n in n_arm.values()) for t in info]
    code = R_TEMPLATE.format(
        looks=k,
        alpha=a.alpha,
        p_c=probs[a.control],
        p_t=probs[a.treatments[0]],
        planned=", ".join(str(p) for p in planned),
        trials=s.simulations,
        seed=s.seed,
    )
    return {
        "n_total": n_total[0],
        "planned": planned,
        "information": info,
        "simulations": s.simulations,
        "probabilities": probs,
        "r_code": code,
    }


def parse_r(stdout: str) -> dict[str, list[float]]:
    rows = {}
    for line in stdout.splitlines():
        key, *values = line.split()
        rows[key] = [float(v) for v in values]
    return rows


def agreement(summary: dict[str, Any], r: dict[str, list[float]], cfg: dict[str, Any]) -> dict:
    """Differences simtrial − rpact in SEs of the difference."""
    point = summary["variants"]["base"]["points"][0]
    trials = cfg["simulations"]
    planned = cfg["planned"]

    def se_p(p: float) -> float:
        return math.sqrt(p * (1 - p) / trials)

    def se_n(stop_probs: list[float]) -> float:
        # N = planned[k] with probability of stopping at look k (the rest run to the end)
        probs = [*stop_probs, 1 - sum(stop_probs)]
        mean = sum(p * n for p, n in zip(probs, planned, strict=True))
        var = sum(p * (n - mean) ** 2 for p, n in zip(probs, planned, strict=True))
        return math.sqrt(var / trials)

    s_stops = [look["efficacy"] for look in point["stopped_by_look"]]
    r_stops = r["reject_per_stage"][:-1]
    out = {}
    for key, ours, theirs, se_ours, se_theirs in (
        ("power", point["power"], r["reject"][1], point["power_se"], se_p(r["reject"][1])),
        (
            "type1_error",
            point["type1_error"],
            r["reject"][0],
            point["type1_error_se"],
            se_p(r["reject"][0]),
        ),
        ("expected_n", point["expected_n"], r["expected_n"][1], se_n(s_stops), se_n(r_stops)),
    ):
        se = math.hypot(se_ours, se_theirs)
        out[key] = {
            "simtrial": ours,
            "rpact": theirs,
            "se_difference": se,
            "difference_in_se": (ours - theirs) / se,
        }
    return out


def measure(repeats: int, cfg: dict[str, Any]) -> dict[str, Any]:
    rpact_version = check_r()
    load_start = load_average()
    code = cfg["r_code"]
    work = Path(tempfile.mkdtemp(prefix="vs_rpact_"))
    sim_cmd = [str(SIMTRIAL), "run", str(SCENARIO), "--no-report", "-q", "--out", str(work / "o")]
    r_cmd = ["Rscript", "-e", code]
    try:
        # one unmeasured run of each (file cache); their outputs are the correctness check
        timed(sim_cmd)
        r_out = parse_r(timed(r_cmd)[2])
        summary = json.loads((work / "o" / "summary.json").read_text())
        sim_wall, sim_rss, r_wall, r_rss, r_parts = [], [], [], [], []
        for i in range(repeats):
            order = [("s", sim_cmd), ("r", r_cmd)]
            for which, cmd in order if i % 2 == 0 else order[::-1]:
                wall, rss, stdout = timed(cmd)
                if which == "s":
                    sim_wall.append(wall)
                    sim_rss.append(rss)
                else:
                    r_wall.append(wall)
                    r_rss.append(rss)
                    r_parts.append(parse_r(stdout)["seconds"])
        py_floor = [timed([sys.executable, "-c", "pass"])[0] for _ in range(repeats)]
        r_floor = [
            timed(["Rscript", "-e", "suppressPackageStartupMessages(library(rpact))"])[0]
            for _ in range(repeats)
        ]
        parts = []
        for i in range(repeats):
            out = work / f"p{i}"
            parts.append(
                json.loads(timed([sys.executable, "-c", PARTS, str(SCENARIO), str(out)])[2])
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    critical = parts[0]["critical"]
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{machine()}; {platform.platform()}",
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "python": platform.python_version(),
        "rpact": rpact_version,
        "commit": commit(),
        "repeats": repeats,
        "scenario": str(SCENARIO.relative_to(ROOT)),
        "n_total": cfg["n_total"],
        "planned_subjects": cfg["planned"],
        "simulations": cfg["simulations"],
        "simtrial_seconds": med(sim_wall),
        "simtrial_seconds_all": sim_wall,
        "rpact_seconds": med(r_wall),
        "rpact_seconds_all": r_wall,
        "ratio_rpact_over_simtrial": med(r_wall) / med(sim_wall),
        "python_start_seconds": med(py_floor),
        "rpact_load_seconds": med(r_floor),
        "simtrial_peak_rss_mib": max(sim_rss),
        "rpact_peak_rss_mib": max(r_rss),
        "simtrial_parts_seconds": {
            k: med([p[k] for p in parts])
            for k in ("imports", "load", "boundaries", "simulation", "writing")
        },
        "rpact_parts_seconds": {
            k: med([p[j] for p in r_parts])
            for j, k in enumerate(("library", "design", "simulation"))
        },
        "boundaries_ms": 1000 * med([p["boundaries_cold_median"] for p in parts]),
        "boundaries_peak_mib": max(p["boundaries_peak_bytes"] for p in parts) / 2**20,
        "boundaries_max_abs_difference": max(
            abs(c - d) for c, d in zip(critical, r_out["critical"], strict=True)
        ),
        "critical_values": critical,
        "agreement": agreement(summary, r_out, cfg),
    }


def table(f: dict[str, Any]) -> list[str]:
    """The figures as a markdown table."""
    sp, rp = f["simtrial_parts_seconds"], f["rpact_parts_seconds"]
    ag = f["agreement"]

    def s(x: float) -> str:
        return f"{x:.2f} s"

    def agree(key: str, fmt: str) -> str:
        a = ag[key]
        return f"{a['simtrial']:{fmt}} vs {a['rpact']:{fmt}} ({a['difference_in_se']:+.1f} SE)"

    rows = [
        (
            f"whole process, median of {f['repeats']}: `simtrial run --no-report -q`",
            s(f["simtrial_seconds"]),
        ),
        ("same work in `Rscript` with rpact", s(f["rpact_seconds"])),
        ("ratio rpact / simtrial", f"{f['ratio_rpact_over_simtrial']:.2f}"),
        (
            "simtrial's parts: imports, load, boundaries, simulation, writing",
            ", ".join(f"{sp[k]:.3f}" for k in sp) + " s",
        ),
        ("floor: `python -c pass`", s(f["python_start_seconds"])),
        (
            "rpact's parts: `library(rpact)`, design, simulation",
            ", ".join(f"{rp[k]:.3f}" for k in rp) + " s",
        ),
        ("floor: `Rscript -e 'library(rpact)'`", s(f["rpact_load_seconds"])),
        (
            "3-look boundaries, cold: time, tracemalloc peak (goal ≤ 20 ms, < 20 MiB)",
            f"{f['boundaries_ms']:.1f} ms, {f['boundaries_peak_mib']:.2f} MiB",
        ),
        (
            "boundaries vs rpact's critical values, largest difference (goal ≤ 1e-6)",
            f"{f['boundaries_max_abs_difference']:.1e}",
        ),
        (
            "peak resident memory: simtrial, R",
            f"{f['simtrial_peak_rss_mib']:.0f} MiB, {f['rpact_peak_rss_mib']:.0f} MiB",
        ),
        ("power, simtrial vs rpact", agree("power", ".4f")),
        ("type I error", agree("type1_error", ".4f")),
        ("expected n", agree("expected_n", ".1f")),
    ]
    return ["| measure | figure |", "|---|---|", *(f"| {m} | {v} |" for m, v in rows)]


def readme_block(f: dict[str, Any]) -> str:
    trials = f"{f['simulations']:,}".replace(",", " ")
    planned = ", ".join(str(n) for n in f["planned_subjects"])
    head = (
        f"Measured {f['date_utc']} UTC by `python benchmarks/vs_rpact.py --readme` on\n"
        f"{f['machine']};\nload average (1 / 5 / 15 min) {f['load_average_start']} at the start, "
        f"{f['load_average_end']} at the end;\n"
        f"commit {f['commit']}, rpact {f['rpact']}; {trials} trials under\n"
        f"the alternative and {trials} under the null in each program, n_total {f['n_total']}\n"
        f"(`plannedSubjects = c({planned})`):"
    )
    return "\n".join([BEGIN, head, "", *table(f), END])


def write_readme(f: dict[str, Any]) -> None:
    if not replace_block(BEGIN, END, readme_block(f)):
        raise SystemExit(f"{README}: no {BEGIN} ... {END} block to replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="whole-process runs (default 5)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--readme", action="store_true", help="replace the README block")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    cfg = setup()
    try:
        figures = measure(args.repeats, cfg)
    except Unavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    figures["r_code"] = cfg["r_code"]
    print("\n".join(table(figures)))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    far = {k: v for k, v in figures["agreement"].items() if abs(v["difference_in_se"]) > MAX_SE}
    if far:
        print(f"error: simtrial and rpact differ by more than {MAX_SE} SE: {far}", file=sys.stderr)
        return 1
    if args.readme:
        write_readme(figures)
        print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
