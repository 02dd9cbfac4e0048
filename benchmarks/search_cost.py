"""Cost of a sample-size search: wall time (median of 3, in one process, scenario loaded and
caches warmed first) and trials simulated, for one variant of a scenario.

    python benchmarks/search_cost.py scenarios/uc-followup.yaml [vectorized|exact] [SIMULATIONS]

Prints one JSON line: ``median_s``, ``trials`` (as reported to the progress callback: every
simulated trial; the exact engine reports ``simulations`` per point), ``points`` (candidates
plus, for a simulated search, the re-estimate at the answer), ``n_total`` and ``achieved``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from simtrial.engines import get_engine
from simtrial.planning import curves
from simtrial.planning.power import search_sample_size
from simtrial.scenario import load_scenario


def main(argv: list[str]) -> None:
    path = argv[0]
    engine = argv[1] if len(argv) > 1 else "vectorized"
    scenarios = load_scenario(path)
    sims = int(argv[2]) if len(argv) > 2 else scenarios.base.simulations
    name, s = next(iter(scenarios.variants.items()))
    impl = curves.calibrated_engine(get_engine(engine), s)
    impl.evaluate(s, name, s.evaluate.n_total[0], 200, 1)  # warm: prior draws, test tables
    times, done = [], []
    for _ in range(3):
        done = []
        start = time.perf_counter()
        result = search_sample_size(impl, s, name, sims, scenarios.base.seed, done.append)
        times.append(time.perf_counter() - start)
    row = {
        "scenario": path,
        "engine": engine,
        "simulations": sims,
        "median_s": round(statistics.median(times), 2),
        "trials": sum(done),
        "points": len(result["curve"]) + (engine != "exact"),
        "n_total": result["n_total"],
        "achieved": result["achieved"],
    }
    print(json.dumps(row))


if __name__ == "__main__":
    main(sys.argv[1:])
