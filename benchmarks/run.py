"""simtrial benchmarks: measured in one run, reported as figures and ratios.

Usage::

    python benchmarks/run.py [--quick] [--json FILE]

Measures
--------
- ``vectorized_patients_per_second``: simulated patient journeys per second of the vectorized
  engine, one core, on the RA scenario's MSC arm (3 infusions, dropout, AEs) without and with
  re-dosing (goal ≥ 2 million/s without);
- ``vectorized_efficiency``: that throughput ÷ the throughput of only drawing the same number
  of random variates with NumPy (how close the engine is to the cost of its random numbers);
- ``exact_fixed_200_per_arm_seconds``: exact power + type I error of a 200-per-arm Fisher design
  with a cold rejection-table cache (goal < 0.05 s);
- ``des_events_per_second``: SimPy events per second of the discrete-event engine, one core, on
  the RA scenario (monthly x3, 80 patients, whole trials with the Fisher decision);
- ``vectorized_vs_des_speedup``: simulated trials per second of the vectorized engine ÷ those of
  the DES, same scenario, same point, same run (goal ≥ 50).

Each benchmark also asserts a count (patients simulated, tables built) so a change of behaviour
is caught, not only a change of speed. Timings are best-of-k wall clock: these machines are
shared, so compare ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simtrial.analysis import frequentist  # noqa: E402
from simtrial.engines.base import point_values  # noqa: E402
from simtrial.engines.exact import ExactEngine  # noqa: E402
from simtrial.engines.vectorized import simulate_arm  # noqa: E402
from simtrial.scenario.load import load_scenario, validate_data  # noqa: E402
from simtrial.scenario.schema import deep_merge  # noqa: E402


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_vectorized(quick: bool) -> dict[str, float]:
    s = load_scenario(ROOT / "scenarios" / "ra-phase2.yaml").base
    values = point_values(s)["msc"]
    trials, n = (200, 200) if quick else (1000, 400)
    rng = np.random.default_rng(1)
    out = simulate_arm(rng, trials, n, values, s.endpoint)
    assert out.successes.shape == (trials,) and int(out.analysed.sum()) == trials * n
    t = best_of(lambda: simulate_arm(rng, trials, n, values, s.endpoint), 3)
    per_second = trials * n / t

    # the cost of only drawing the variates the engine draws: dropout, and a uniform + an
    # exponential per induction (3 inductions), for every patient
    shape = (trials, n)

    def draws_only() -> None:
        rng.exponential(1.0, size=shape)
        for _ in range(3):
            rng.random(shape)
            rng.standard_exponential(shape)

    t_draws = best_of(draws_only, 3)

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
    t_redose = best_of(lambda: simulate_arm(rng, trials, n, rvalues, redose.endpoint), 3)
    return {
        "vectorized_patients_per_second": per_second,
        "vectorized_redosing_patients_per_second": trials * n / t_redose,
        "vectorized_efficiency": (trials * n / t) / (trials * n / t_draws),
        "vectorized_patients_per_block": float(trials * n),
    }


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
    des_trials, vec_trials = (20, 1000) if quick else (100, 1000)
    des = DESEngine(trials_per_block=des_trials)
    vec = VectorizedEngine(trials_per_block=vec_trials)
    events = 0

    def run_des() -> None:
        nonlocal events
        from simtrial.engines.des import simulate_trial, trial_seeds

        events = 0
        for seq in trial_seeds(s.seed, "monthly_x3", n_total, POWER, 0, des_trials):
            events += simulate_trial(s, n_total, seq, POWER).events

    t_des = best_of(run_des, 3)
    # each patient needs at least an arrival, a process start and end, and an endpoint wait
    assert 4 * n_total * des_trials <= events <= 12 * n_total * des_trials, events
    task_des = des.run_task(s, "monthly_x3", n_total, (POWER, 0, des_trials), s.seed)
    assert sum(t.randomised for t in task_des[2].values()) == n_total * des_trials
    t_des_task = best_of(
        lambda: des.run_task(s, "monthly_x3", n_total, (POWER, 0, des_trials), s.seed), 3
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
    }


def bench_memory(quick: bool) -> dict[str, float]:
    """Peak resident memory of a 100 000-trial × 400-patient point, in a fresh process."""
    import subprocess

    trials = 20000 if quick else 100000
    code = f"""
import resource, sys
sys.path.insert(0, {str(ROOT)!r})
from simtrial.scenario.load import load_scenario, validate_data  # noqa: E402
from simtrial.engines.vectorized import VectorizedEngine
s = load_scenario({str(ROOT / "scenarios" / "ra-phase2.yaml")!r}).variants["monthly_x3"]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
VectorizedEngine().evaluate(s, "v", 400, {trials}, 1)
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return {
        "peak_memory_mib": int(out[1]) / 1024,
        "peak_memory_after_imports_mib": int(out[0]) / 1024,
        "peak_memory_trials": float(trials),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller problem sizes")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--readme", action="store_true", help="rewrite the README's table")
    args = parser.parse_args(argv)
    figures: dict[str, float] = {}
    figures.update(bench_vectorized(args.quick))
    figures.update(bench_exact())
    figures.update(bench_des(args.quick))
    figures.update(bench_sample_size())
    figures.update(bench_parallel(args.quick))
    figures.update(bench_memory(args.quick))
    goals = {
        "peak_memory_mib": ("<", 1024),
        "vectorized_patients_per_second": (">=", 2e6),
        "vectorized_efficiency": (">=", 0.25),
        "exact_fixed_200_per_arm_seconds": ("<", 0.05),
        "vectorized_vs_des_speedup": (">=", 50),
    }
    for key, value in figures.items():
        goal = goals.get(key)
        mark = ""
        if goal:
            ok = value >= goal[1] if goal[0] == ">=" else value < goal[1]
            mark = f"  (goal {goal[0]} {goal[1]:g}: {'met' if ok else 'NOT met'})"
        print(f"{key:45s} {value:14.6g}{mark}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.readme:
        write_readme(figures, goals, args.quick)
    return 0


README_ROWS = (
    (
        "vectorized patient journeys per second, RA arm, 3 infusions, one core",
        "vectorized_patients_per_second",
        "million",
    ),
    (
        "same, with re-dosing on loss, up to 2 extra infusions",
        "vectorized_redosing_patients_per_second",
        "million",
    ),
    (
        "vectorized efficiency: throughput ÷ only drawing the same variates",
        "vectorized_efficiency",
        "{:.2f}",
    ),
    (
        "exact power + type I error, 200 per arm, Fisher, cold cache (seconds)",
        "exact_fixed_200_per_arm_seconds",
        "{:.4f}",
    ),
    (
        "DES SimPy events per second, RA monthly ×3, 80 patients",
        "des_events_per_second",
        "thousand",
    ),
    (
        "vectorized vs DES, whole 80-patient trials per second",
        "vectorized_vs_des_speedup",
        "{:.0f}×",
    ),
    (
        "exact sample-size search, 0.3 vs 0.6, Fisher, 80% power (seconds)",
        "sample_size_search_seconds",
        "{:.3f}",
    ),
    (
        "2 local worker processes vs 1, JIA re-dosing point (median of repeats)",
        "parallel_speedup_2_workers",
        "{:.2f}",
    ),
    (
        "peak resident memory, one point of 100 000 trials × 400 patients (MiB)",
        "peak_memory_mib",
        "{:.0f}",
    ),
)


def write_readme(
    figures: dict[str, float], goals: dict[str, tuple[str, float]], quick: bool
) -> None:
    """Replace the README's benchmark table (between the ``benchmarks`` markers), dated."""
    import os
    import platform
    from datetime import UTC, datetime

    begin, end = (
        "<!-- benchmarks:begin (python benchmarks/run.py --readme) -->",
        "<!-- benchmarks:end -->",
    )
    from readme_block import commit, replace_block

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        begin,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `python benchmarks/run.py --readme`"
        f"{' --quick' if quick else ''} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} shared cores (load average {load:.1f} at the end), Python "
        f"{platform.python_version()}, commit {commit()}; all figures from that one run.",
        "",
        "| measure (JSON key) | figure | goal |",
        "|---|---|---|",
    ]
    for label, key, fmt in README_ROWS:
        goal = goals.get(key)
        value = figures[key]
        if fmt == "million":
            text = f"{value / 1e6:.1f} million"
        elif fmt == "thousand":
            text = f"{value / 1e3:.0f} thousand"
        else:
            text = fmt.format(value)
        if key == "parallel_speedup_2_workers":
            text += (
                f" ({figures['parallel_speedup_2_workers_min']:.2f}–"
                f"{figures['parallel_speedup_2_workers_max']:.2f})"
            )
        lines.append(f"| {label} (`{key}`) | {text} | {f'{goal[0]} {goal[1]:g}' if goal else ''} |")
    lines.append(end)
    if not replace_block(begin, end, "\n".join(lines)):
        print("README.md has no benchmarks markers; nothing written", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
