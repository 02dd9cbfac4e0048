"""simtrial benchmarks: measured in one run, reported as figures and ratios.

Usage::

    python benchmarks/run.py [--quick] [--json FILE] [--readme]

Measures
--------
- ``vectorized_patients_per_second``: simulated patient journeys per second of the vectorized
  engine, one core, on the RA scenario's MSC arm (3 infusions, dropout, AEs), on the block a
  real run simulates: ``TRIALS_PER_BLOCK`` (1000) trials × 40 patients, the arm at
  ``scenarios/ra-phase2.yaml``'s largest point (n_total 80); goal ≥ 2 million/s. Also on
  blocks of 1000 × 300 (``..._300``: the largest arm of any shipped point, as-schedules at
  n_total 600) and with re-dosing on loss (1000 × 40);
- ``vectorized_efficiency``: that throughput ÷ the throughput of only drawing the same number
  of random variates with NumPy on the same block (how close the engine is to the cost of its
  random numbers; ``..._300`` on the large block);
- ``exact_fixed_200_per_arm_seconds``: exact power + type I error of a 200-per-arm Fisher design
  with a cold rejection-table cache (goal < 0.05 s);
- ``des_events_per_second``: SimPy events per second of the discrete-event engine, one core, on
  the RA scenario (monthly x3, 80 patients, whole trials with the Fisher decision), on one DES
  block (its ``TRIALS_PER_BLOCK``, 100 trials);
- ``vectorized_vs_des_speedup``: simulated trials per second of the vectorized engine ÷ those of
  the DES, same scenario, same point, one block of each engine, same run (goal ≥ 50);
- ``parallel_speedup_2_workers``: the median over repeated 1-then-2-worker pairs (and range);
- memory, each in a fresh interpreter (``benchmarks/run.py`` never measures its own process):
  ``sim_peak_traced_mib``, the tracemalloc peak of the simulation itself — the vectorized
  engine evaluating one point, as-schedules monthly ×6 at n_total 600 (300 per arm, its largest
  point), 10 000 trials in the shipped blocks of 1000 — and ``sim_peak_traced_one_block_mib``
  for a single block (equal: memory is bounded by one block, not by the number of trials);
  ``gs_run_peak_traced_mib``, the tracemalloc peak of a group-sequential run
  (``benchmarks/gs3.yaml``: 3 looks, 240 patients, 10 000 trials under the alternative and
  10 000 under the null; loading, boundaries from a cold cache, simulation, writing
  ``summary.json``), the calls ``simtrial run --no-report`` makes; and the peak resident set
  of each process, with the resident set after the imports, before the work:
  ``sim_peak_rss_mib`` is the fresh interpreter's ``VmHWM``, ``gs_run_peak_rss_mib`` that of
  the real ``simtrial run benchmarks/gs3.yaml --no-report -q`` process (``wait4`` through a
  bare launcher).

Why both memory measures: tracemalloc counts the bytes the work itself allocates (Python objects
and NumPy's array buffers, which NumPy reports to tracemalloc), from a zero baseline, so it is
the simulation's own peak, independent of the interpreter, of the imported libraries and of how
the C allocator keeps or returns freed pages. It is measured in a second pass, after the resident
set was read in a pass without tracemalloc (tracemalloc's own bookkeeping would inflate it). The
peak resident set is what the operating system has to give the process (interpreter + imports +
work); its growth over the after-imports figure is only a lower bound of the work's peak (the
high-water mark counts only what goes above earlier peaks, e.g. of loading the imports). Neither
reads ``ru_maxrss`` of the measured process directly: Linux carries the spawning parent's peak
over ``execve``, so a child of this script reports this script's peak when larger (the README's
207 MiB of 2026-12-04 15:06 was that: the same point's own process peaks at 162 MiB; see
``readme_block.measure_process``).

Each benchmark also asserts a count (patients simulated, tables built) so a change of behaviour
is caught, not only a change of speed. Timings are best-of-k wall clock: these machines are
shared, so compare ratios measured in the same run. ``--quick`` (a smoke test) keeps the block
sizes but repeats less and simulates fewer blocks; it cannot write the README table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simtrial.analysis import frequentist  # noqa: E402
from simtrial.engines import des as des_engine  # noqa: E402
from simtrial.engines import vectorized as vec_engine  # noqa: E402
from simtrial.engines.base import point_values  # noqa: E402
from simtrial.engines.exact import ExactEngine  # noqa: E402
from simtrial.engines.vectorized import simulate_arm  # noqa: E402
from simtrial.scenario.load import load_scenario, validate_data  # noqa: E402
from simtrial.scenario.schema import deep_merge  # noqa: E402

VEC_BLOCK = vec_engine.TRIALS_PER_BLOCK
"""Trials per block of the vectorized engine as shipped (what every real run simulates at once)."""
DES_BLOCK = des_engine.TRIALS_PER_BLOCK
MIB = 2**20


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def largest_arm(name: str, arm: str) -> int:
    """Patients in ``arm`` at the largest point of ``scenarios/<name>.yaml``."""
    s = load_scenario(ROOT / "scenarios" / f"{name}.yaml").base
    return max(s.n_per_arm(n)[arm] for n in s.evaluate.n_total)


def arm_throughput(rng, trials: int, n: int, values, endpoint, repeat: int) -> tuple[float, float]:
    """Patient journeys per second of :func:`simulate_arm` on a ``trials`` × ``n`` block, and
    the ratio of that time to only drawing the variates the engine draws on the same block:
    dropout, and a uniform + an exponential per induction (3 inductions), for every patient."""
    out = simulate_arm(rng, trials, n, values, endpoint)
    assert out.successes.shape == (trials,) and int(out.analysed.sum()) == trials * n
    t = best_of(lambda: simulate_arm(rng, trials, n, values, endpoint), repeat)
    shape = (trials, n)

    def draws_only() -> None:
        rng.exponential(1.0, size=shape)
        for _ in range(3):
            rng.random(shape)
            rng.standard_exponential(shape)

    t_draws = best_of(draws_only, repeat)
    return trials * n / t, t_draws / t


def bench_vectorized(quick: bool) -> dict[str, float]:
    """Per-arm throughput on full blocks of ``TRIALS_PER_BLOCK`` trials (never reduced)."""
    s = load_scenario(ROOT / "scenarios" / "ra-phase2.yaml").base
    values = point_values(s)["msc"]
    trials = VEC_BLOCK
    small = largest_arm("ra-phase2", "msc")  # 40: the RA run's largest point, n_total 80
    large = largest_arm("as-schedules", "msc")  # 300: the largest arm of any shipped point
    rng = np.random.default_rng(1)
    figures: dict[str, float] = {}
    for suffix, n in (("", small), ("_300", large)):
        repeat = (3 if quick else 10) if n == large else (5 if quick else 30)
        per_second, efficiency = arm_throughput(rng, trials, n, values, s.endpoint, repeat)
        figures[f"vectorized_patients_per_second{suffix}"] = per_second
        figures[f"vectorized_efficiency{suffix}"] = efficiency
        figures[f"vectorized_block_patients{suffix}"] = float(n)
    figures["vectorized_block_trials"] = float(trials)

    redose = validate_data(
        deep_merge(
            load_scenario(ROOT / "scenarios" / "ra-phase2.yaml").raw,
            {
                "variants": None,
                "arms": {
                    "msc": {
                        "schedule": {
                            "redose_on_loss": {"max": 2, "assess_every_weeks": 4, "delay_weeks": 1}
                        }
                    }
                },
            },
        )
        | {"variants": None},
        check_priors=False,
    ).base
    rvalues = point_values(redose)["msc"]
    t_redose = best_of(
        lambda: simulate_arm(rng, trials, small, rvalues, redose.endpoint), 5 if quick else 30
    )
    figures["vectorized_redosing_patients_per_second"] = trials * small / t_redose
    return figures


def bench_exact() -> dict[str, float]:
    s = load_scenario(ROOT / "scenarios" / "ra-phase2.yaml").variants["monthly_x3"]
    engine = ExactEngine()

    def cold() -> None:
        frequentist.rejection_table.cache_clear()
        engine.evaluate(s, "base", 400, 1, s.seed)

    t_cold = best_of(cold, 5)
    t_warm = best_of(lambda: engine.evaluate(s, "base", 400, 1, s.seed), 5)
    info = frequentist.rejection_table.cache_info()
    assert info.currsize == 1, info  # power and type I error share one table
    return {
        "exact_fixed_200_per_arm_seconds": t_cold,
        "exact_fixed_200_per_arm_warm_seconds": t_warm,
    }


def bench_des(quick: bool) -> dict[str, float]:
    from simtrial.engines.base import POWER
    from simtrial.engines.des import DESEngine
    from simtrial.engines.vectorized import VectorizedEngine

    s = load_scenario(ROOT / "scenarios" / "ra-phase2.yaml").variants["monthly_x3"]
    n_total = 80
    des_trials, vec_trials = DES_BLOCK, VEC_BLOCK  # one shipped block of each engine
    des = DESEngine()
    vec = VectorizedEngine()
    assert (des.trials_per_block, vec.trials_per_block) == (des_trials, vec_trials)
    repeat = 1 if quick else 3
    events = 0

    def run_des() -> None:
        nonlocal events
        from simtrial.engines.des import simulate_trial, trial_seeds

        events = 0
        for seq in trial_seeds(s.seed, "monthly_x3", n_total, POWER, 0, des_trials):
            events += simulate_trial(s, n_total, seq, POWER).events

    t_des = best_of(run_des, repeat)
    # each patient needs at least an arrival, a process start and end, and an endpoint wait
    assert 4 * n_total * des_trials <= events <= 12 * n_total * des_trials, events
    task_des = des.run_task(s, "monthly_x3", n_total, (POWER, 0, des_trials), s.seed)
    assert sum(t.randomised for t in task_des[2].values()) == n_total * des_trials
    t_des_task = best_of(
        lambda: des.run_task(s, "monthly_x3", n_total, (POWER, 0, des_trials), s.seed), repeat
    )
    t_vec_task = best_of(
        lambda: vec.run_task(s, "monthly_x3", n_total, (POWER, 0, vec_trials), s.seed), 3
    )
    return {
        "des_events_per_second": events / t_des,
        "des_events_per_trial": events / des_trials,
        "des_trials_per_second": des_trials / t_des_task,
        "vectorized_trials_per_second": vec_trials / t_vec_task,
        "vectorized_vs_des_speedup": (vec_trials / t_vec_task) / (des_trials / t_des_task),
    }


def bench_sample_size() -> dict[str, float]:
    """Exact-engine sample-size search, 0.3 vs 0.6, Fisher two-sided, 80% power."""
    from simtrial.planning.power import search_sample_size

    data = {
        "name": "bench",
        "seed": 1,
        "endpoint": {"kind": "responder", "week": 12},
        "arms": {
            "control": {"endpoint_probability": 0.3},
            "msc": {"endpoint_probability": 0.6},
        },
        "analysis": {"test": "fisher_exact", "treatment": "msc", "control": "control"},
        "evaluate": {"n_total": [40], "sample_size": {"goal": 0.8, "max_total": 1000}},
    }
    s = validate_data(data, check_priors=False).base
    result: dict[str, object] = {}

    def search() -> None:
        frequentist.rejection_table.cache_clear()
        result.update(search_sample_size(ExactEngine(), s, "base", 1, 1))

    t = best_of(search, 3)
    assert result["n_total"] is not None
    return {"sample_size_search_seconds": t, "sample_size_search_n_total": float(result["n_total"])}


def bench_parallel(quick: bool) -> dict[str, float]:
    """The same point on 1 and 2 local worker processes (identical results asserted); the
    median speedup over repeated 1-then-2 pairs, with its range."""
    from simtrial.engines.vectorized import VectorizedEngine
    from simtrial.planning.parallel import DistributedEngine, LocalExecutor

    s = load_scenario(ROOT / "scenarios" / "jia-redosing.yaml").variants["redose_on_loss"]
    sims = 8000 if quick else 40000
    engine = VectorizedEngine()
    repeats = 3 if quick else 5  # the median of repeated pairs: the neighbours' load varies
    engine.evaluate(s, "warm", 120, 100, 1)  # load the fitted priors and tables first
    executor = LocalExecutor(2)
    try:
        # start both workers and load simtrial and the fitted priors in them before timing
        from simtrial.planning.parallel import _run_task

        warm = [("vectorized", s, "warm", 120, (p, b, 50), 1) for b in range(4) for p in (0, 1, 2)]
        list(executor.run(_run_task, warm))
        ratios = []
        for _ in range(repeats):
            start = time.perf_counter()
            one = engine.evaluate(s, "v", 120, sims, 1)
            t_one = time.perf_counter() - start
            start = time.perf_counter()
            two = DistributedEngine(engine, executor).evaluate(s, "v", 120, sims, 1)
            ratios.append(t_one / (time.perf_counter() - start))
            assert one.to_dict() == two.to_dict()
    finally:
        executor.close()
    return {
        "parallel_speedup_2_workers": float(np.median(ratios)),
        "parallel_speedup_2_workers_min": min(ratios),
        "parallel_speedup_2_workers_max": max(ratios),
        "parallel_repeats": float(repeats),
        "parallel_trials": float(sims),
    }


# The simulation itself, in a fresh interpreter: one vectorized point in the shipped blocks.
# Pass 1 (no tracemalloc): peak resident set after imports and a warm-up at another point
# (loads the fitted priors), then after the point. Pass 2: tracemalloc peak of one block, then
# of the whole point, each with a cold rejection-table cache.
SIM_MEMORY = """
import json, sys, tracemalloc
sys.path.insert(0, sys.argv[1])
from simtrial.analysis import frequentist
from simtrial.engines.vectorized import TRIALS_PER_BLOCK, VectorizedEngine
from simtrial.scenario.load import load_scenario
variant, n_total, trials = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s = load_scenario(sys.argv[2]).variants[variant]
engine = VectorizedEngine()
engine.evaluate(s, variant, min(s.evaluate.n_total), 100, 1)
def rss():  # VmHWM: this process's peak resident set since its exec (not ru_maxrss, which
    # starts from the spawning parent's peak), in bytes
    status = open("/proc/self/status").read().split("VmHWM:")[1]
    return int(status.split()[0]) * 1024
before = rss()
frequentist.rejection_table.cache_clear()
engine.evaluate(s, variant, n_total, trials, 1)
after = rss()
frequentist.rejection_table.cache_clear()
tracemalloc.start()
one = engine.evaluate(s, variant, n_total, TRIALS_PER_BLOCK, 1)
block = tracemalloc.get_traced_memory()[1]
frequentist.rejection_table.cache_clear()
tracemalloc.reset_peak()
point = engine.evaluate(s, variant, n_total, trials, 1)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
assert point.simulations == trials and one.simulations == TRIALS_PER_BLOCK
print(json.dumps({"rss_after_imports": before, "rss_peak": after, "traced_block": block,
                  "traced_point": peak, "block_trials": TRIALS_PER_BLOCK}))
"""

# A group-sequential run in a fresh interpreter: the imports and calls of ``simtrial run
# --no-report -q`` (as in benchmarks/vs_rpact.py's PARTS), with tracemalloc from after the
# imports to the end of writing: loading, boundaries (cold cache), simulation, summary.json.
GS_MEMORY = """
import json, sys, tracemalloc
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import simtrial.cli.main
from simtrial.engines import design as _design
from simtrial.analysis.group_sequential import _boundaries
from simtrial.engines import vectorized as _vectorized
from simtrial.planning.estimate import check_run
from simtrial.report.files import OutputDir
from simtrial.planning.parallel import make_executor
from simtrial.planning.power import run
from simtrial.report.table import write_outputs
from simtrial.scenario.load import load_scenario
status = open("/proc/self/status").read().split("VmHWM:")[1]
before = int(status.split()[0]) * 1024  # peak resident set since exec (see SIM_MEMORY)
_boundaries.cache_clear()
tracemalloc.start()
scenarios = load_scenario(Path(sys.argv[2]))
s = scenarios.base
check_run(scenarios, "vectorized", s.simulations, False, 0)
result = run(scenarios, engine="vectorized", simulations=s.simulations,
             executor=make_executor(1, None))
output = OutputDir(Path(sys.argv[3]))
output.check()
with output as staging:
    write_outputs(result, staging)
    output.publish()
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"rss_after_imports": before, "traced": peak,
                  "simulations": s.simulations}))
"""


def fresh(code: str, *args: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; its one JSON line."""
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def bench_memory(quick: bool) -> dict[str, float]:
    """Peak memory of the simulation itself and of a group-sequential run (module docstring)."""
    from readme_block import measure_process

    scenario = ROOT / "scenarios" / "as-schedules.yaml"
    s = load_scenario(scenario).base
    n_total = max(s.evaluate.n_total)  # 600: 300 per arm, the largest arm of any shipped point
    trials = 2 * VEC_BLOCK if quick else s.simulations
    sim = fresh(SIM_MEMORY, str(scenario), "monthly_x6", str(n_total), str(trials))
    assert sim["block_trials"] == VEC_BLOCK

    gs3 = ROOT / "benchmarks" / "gs3.yaml"
    with tempfile.TemporaryDirectory(prefix="bench_gs3_") as work:
        simtrial = Path(sys.executable).parent / "simtrial"  # the venv's console script
        cmd = [str(simtrial), "run", str(gs3), "--no-report", "-q", "--out"]
        measure_process([*cmd, f"{work}/warm"])  # unmeasured: file cache, bytecode
        wall, gs_rss_mib, _ = measure_process([*cmd, f"{work}/run"])
        summary = json.loads(Path(f"{work}/run/summary.json").read_text())
        gs = fresh(GS_MEMORY, str(gs3), f"{work}/parts")
    points = summary["variants"]["base"]["points"]
    assert [p["n_total"] for p in points] == [240] and gs["simulations"] == summary["simulations"]
    assert len(summary["variants"]["base"]["boundaries"]["efficacy_z"]) == 3  # three looks
    return {
        "sim_peak_traced_mib": sim["traced_point"] / MIB,
        "sim_peak_traced_one_block_mib": sim["traced_block"] / MIB,
        "sim_peak_rss_mib": sim["rss_peak"] / MIB,
        "sim_rss_after_imports_mib": sim["rss_after_imports"] / MIB,
        "sim_memory_trials": float(trials),
        "sim_memory_n_total": float(n_total),
        "gs_run_peak_traced_mib": gs["traced"] / MIB,
        "gs_run_peak_rss_mib": gs_rss_mib,
        "gs_run_rss_after_imports_mib": gs["rss_after_imports"] / MIB,
        "gs_run_seconds": wall,
        "gs_run_trials": float(gs["simulations"]),
    }


GOALS: dict[str, tuple[str, float]] = {
    "vectorized_patients_per_second": (">=", 2e6),
    "vectorized_efficiency": (">=", 0.25),
    "exact_fixed_200_per_arm_seconds": ("<", 0.05),
    "vectorized_vs_des_speedup": (">=", 50),
    "sim_peak_rss_mib": ("<", 1024),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: fewer repeats and blocks (no --readme)"
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--readme", action="store_true", help="rewrite the README's table")
    args = parser.parse_args(argv)
    if args.quick and args.readme:
        parser.error("--quick figures are a smoke test and never go into the README: drop --quick")
    from readme_block import load_average

    load_start = load_average()
    figures: dict[str, float] = {}
    figures.update(bench_vectorized(args.quick))
    figures.update(bench_exact())
    figures.update(bench_des(args.quick))
    figures.update(bench_sample_size())
    figures.update(bench_parallel(args.quick))
    figures.update(bench_memory(args.quick))
    for key, value in figures.items():
        goal = GOALS.get(key)
        mark = ""
        if goal:
            ok = value >= goal[1] if goal[0] == ">=" else value < goal[1]
            mark = f"  (goal {goal[0]} {goal[1]:g}: {'met' if ok else 'NOT met'})"
        print(f"{key:45s} {value:14.6g}{mark}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.readme:
        write_readme(figures, load_start)
    return 0


def _count(x: float) -> str:
    return f"{x:,.0f}".replace(",", " ")


def _million(f: dict[str, float], key: str) -> str:
    return f"{f[key] / 1e6:.1f} million"


README_ROWS = (
    (
        "vectorized patient journeys per second, one core, RA MSC arm (3 infusions, dropout, "
        "AEs), one shipped block: 1000 trials × 40 patients (ra-phase2's largest point)",
        "vectorized_patients_per_second",
        lambda f, k: _million(f, k),
    ),
    (
        "vectorized efficiency on that block: its time to only draw the same variates ÷ the "
        "engine's time",
        "vectorized_efficiency",
        lambda f, k: f"{f[k]:.2f}",
    ),
    (
        "same two on a block of 1000 trials × 300 patients (the largest arm of any shipped "
        "point: as-schedules at n_total 600)",
        "vectorized_patients_per_second_300",
        lambda f, k: f"{_million(f, k)}; efficiency {f['vectorized_efficiency_300']:.2f}",
    ),
    (
        "vectorized, with re-dosing on loss (up to 2 extra infusions), 1000 × 40 block",
        "vectorized_redosing_patients_per_second",
        lambda f, k: _million(f, k),
    ),
    (
        "exact power + type I error, 200 per arm, Fisher, cold cache (seconds)",
        "exact_fixed_200_per_arm_seconds",
        lambda f, k: f"{f[k]:.4f}",
    ),
    (
        "DES SimPy events per second, RA monthly ×3, 80 patients, one DES block of 100 trials",
        "des_events_per_second",
        lambda f, k: f"{f[k] / 1e3:.0f} thousand",
    ),
    (
        "vectorized vs DES, whole 80-patient trials per second, one block of each",
        "vectorized_vs_des_speedup",
        lambda f, k: f"{f[k]:.0f}×",
    ),
    (
        "exact sample-size search, 0.3 vs 0.6, Fisher, 80% power (seconds)",
        "sample_size_search_seconds",
        lambda f, k: f"{f[k]:.3f}",
    ),
    (
        "2 local worker processes vs 1, JIA re-dosing point, same results asserted: median "
        "speedup over repeated one-then-two pairs",
        "parallel_speedup_2_workers",
        lambda f, k: (
            f"{f[k]:.2f} (range {f['parallel_speedup_2_workers_min']:.2f}–"
            f"{f['parallel_speedup_2_workers_max']:.2f} over {f['parallel_repeats']:.0f} pairs"
            f" of {_count(f['parallel_trials'])} trials)"
        ),
    ),
    (
        "memory of the simulation itself, tracemalloc peak: one vectorized point, as-schedules "
        "monthly ×6 at n_total 600 (power, type I error, assurance) in the shipped blocks of "
        "1000 trials; and one block alone",
        "sim_peak_traced_mib",
        lambda f, k: (
            f"{f[k]:.1f} MiB at {_count(f['sim_memory_trials'])} trials; one block "
            f"{f['sim_peak_traced_one_block_mib']:.1f} MiB"
        ),
    ),
    (
        "same point, whole process's peak resident set (`VmHWM`); in brackets after the "
        "imports and the fitted priors, before the point",
        "sim_peak_rss_mib",
        lambda f, k: f"{f[k]:.0f} MiB ({f['sim_rss_after_imports_mib']:.0f} MiB)",
    ),
    (
        "group-sequential run, tracemalloc peak: `benchmarks/gs3.yaml` (3 looks, 240 patients, "
        "trials under the alternative and as many under the null), loading + cold boundaries "
        "+ simulation + writing summary.json",
        "gs_run_peak_traced_mib",
        lambda f, k: f"{f[k]:.1f} MiB at {_count(f['gs_run_trials'])} trials",
    ),
    (
        "same run, whole process `simtrial run benchmarks/gs3.yaml --no-report -q`: peak "
        "resident set (`wait4`); in brackets after the same imports, before the run",
        "gs_run_peak_rss_mib",
        lambda f, k: f"{f[k]:.0f} MiB ({f['gs_run_rss_after_imports_mib']:.0f} MiB)",
    ),
)


def write_readme(figures: dict[str, float], load_start: str) -> None:
    """Replace the README's benchmark table (between the ``benchmarks`` markers), dated."""
    from datetime import UTC, datetime

    from readme_block import commit, load_average, machine, replace_block

    begin, end = (
        "<!-- benchmarks:begin (python benchmarks/run.py --readme) -->",
        "<!-- benchmarks:end -->",
    )
    lines = [
        begin,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python benchmarks/run.py --readme`"
        f" on {machine()}; load average (1 / 5 / 15 min) {load_start} at the start, "
        f"{load_average()} at the end; commit {commit()}. All figures from that one run.",
        "",
        "| measure (JSON key) | figure | goal |",
        "|---|---|---|",
    ]
    for label, key, fmt in README_ROWS:
        goal = GOALS.get(key)
        goal_text = f"{goal[0]} {goal[1]:g}" if goal else ""
        lines.append(f"| {label} (`{key}`) | {fmt(figures, key)} | {goal_text} |")
    lines.append(end)
    if not replace_block(begin, end, "\n".join(lines)):
        print("README.md has no benchmarks markers; nothing written", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
