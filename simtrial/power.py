"""Run a scenario: every variant at every ``n_total``, on one engine.

Power uses each parameter's mean; type I error is power with each treatment arm behaving like
the control; assurance averages power over the parameters' (joint) distribution.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from simtrial.analysis.design import Design
from simtrial.engines import get_engine
from simtrial.engines.base import Engine, has_uncertainty
from simtrial.parallel import Executor
from simtrial.results import PointResult, RunResult, VariantResult
from simtrial.scenario import Scenario, ScenarioSet

ProgressFactory = Callable[[int], Callable[[int], None]]


def _version() -> str:
    try:
        return version("simtrial")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def default_engine(scenarios: ScenarioSet) -> str:
    """``des`` for scenarios with an ``operations`` block, else ``vectorized``."""
    return "des" if scenarios.base.operations is not None else "vectorized"


def total_work(scenarios: ScenarioSet, engine: str, simulations: int) -> int:
    """Number of simulated trials a run will report progress for."""
    total = 0
    for scenario in scenarios.variants.values():
        if engine == "exact":
            per_point = simulations
        else:
            per_point = simulations * (3 if has_uncertainty(scenario) else 2)
        total += per_point * len(scenario.evaluate.n_total)
    from simtrial.sensitivity import sweep_work

    return total + sweep_work(scenarios, engine, simulations)


def run(
    scenarios: ScenarioSet,
    engine: str | None = None,
    simulations: int | None = None,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
    executor: Executor | None = None,
) -> RunResult:
    """Evaluate every variant of a scenario at every ``evaluate.n_total``.

    Parameters
    ----------
    scenarios : ScenarioSet
        From :func:`simtrial.load_scenario`.
    engine : {"exact", "vectorized"}, optional
        Default: ``vectorized`` (``des`` when the scenario has ``operations``).
    simulations, seed : int, optional
        Override the scenario's values.
    progress : callable, optional
        Called with the number of trials just simulated.
    executor : Executor, optional
        Runs the blocks elsewhere (:func:`simtrial.parallel.make_executor`: local processes or
        a Dask cluster); results are identical to a run in this process.

    Returns
    -------
    RunResult
    """
    engine_name = engine or default_engine(scenarios)
    impl: Any = get_engine(engine_name)
    if executor is not None and hasattr(impl, "tasks"):
        from simtrial.parallel import DistributedEngine

        impl = DistributedEngine(impl, executor)
    base = scenarios.base
    sims = simulations if simulations is not None else base.simulations
    the_seed = seed if seed is not None else base.seed
    for scenario in scenarios.variants.values():
        impl.check(scenario)
    variants = {}
    for name, scenario in scenarios.variants.items():
        points = [
            impl.evaluate(scenario, name, n, sims, the_seed, progress)
            for n in scenario.evaluate.n_total
        ]
        size = None
        if scenario.evaluate.sample_size is not None:
            size = search_sample_size(impl, scenario, name, sims, the_seed, progress)
        variants[name] = VariantResult(
            name=name, points=points, boundaries=Design(scenario).to_dict(), sample_size=size
        )
    swept = None
    if base.evaluate.sweep is not None:  # sensitivity sweep (simtrial.sensitivity)
        from simtrial.sensitivity import check_sweep, run_sweep

        swept = run_sweep(impl, scenarios, check_sweep(scenarios), sims, the_seed, progress)
    return RunResult(
        scenario=scenarios.name,
        seed=the_seed,
        simulations=sims,
        engine=engine_name,
        variants=variants,
        test=base.analysis.test,
        endpoint=base.endpoint.kind,
        version=_version(),
        sweep=swept,
    )


def _isotonic(values: list[float]) -> list[float]:
    """Non-decreasing least-squares fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for v in values:
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks.pop()
            blocks.append([(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2])
    out: list[float] = []
    for mean, count in blocks:
        out += [mean] * int(count)
    return out


def search_sample_size(
    engine: Engine,
    scenario: Scenario,
    variant: str,
    simulations: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> dict[str, object]:
    """Smallest ``n_total`` whose power (or assurance) reaches the goal.

    Candidates are multiples of the allocation total (so every arm size is whole) up to
    ``max_total``. A bisection brackets the answer; because Monte Carlo estimates (and exact
    binomial power, which is saw-toothed in n) need not increase with n, the answer is read
    from a non-decreasing (isotonic) fit through every point evaluated: the smallest evaluated
    n whose fitted value reaches the goal. The points of the search use common random numbers
    (the same streams for every n, see :class:`~simtrial.engines.base.StreamKeyed`): the
    assurance parameter draws are identical across n, so differences between points are not
    blurred by different draws; with the exact engine the curve is exact. Returns ``n_total``,
    ``achieved``, ``se`` and ``curve``.
    """
    spec = scenario.evaluate.sample_size
    assert spec is not None
    engine = copy.copy(engine)
    engine.common_random_numbers = True
    step = sum(a.allocation for a in scenario.arms.values())
    key = spec.target
    seen: dict[int, PointResult] = {}

    def value(n: int) -> float:
        if n not in seen:
            seen[n] = engine.evaluate(scenario, variant, n, simulations, seed, progress)
        return getattr(seen[n], key)

    lo = step  # smallest design: one patient per allocation unit
    hi = (spec.max_total // step) * step
    if hi < lo:
        hi = lo
    if value(hi) < spec.goal:
        best = seen[hi]
        return {
            "target": key,
            "goal": spec.goal,
            "n_total": None,
            "achieved": getattr(best, key),
            "se": getattr(best, f"{key}_se"),
            "note": f"goal not reached at max_total {hi}",
            "curve": _curve(seen, key),
        }
    while hi - lo > step:
        mid = lo + ((hi - lo) // (2 * step)) * step
        mid = max(lo + step, mid)
        if value(mid) >= spec.goal:
            hi = mid
        else:
            lo = mid
    ns = sorted(seen)
    fitted = _isotonic([getattr(seen[n], key) for n in ns])
    n_best = next(n for n, f in zip(ns, fitted, strict=True) if f >= spec.goal)
    best = seen[n_best]
    return {
        "target": key,
        "goal": spec.goal,
        "n_total": n_best,
        "n_per_arm": best.n_per_arm,
        "achieved": getattr(best, key),
        "se": getattr(best, f"{key}_se"),
        "curve": _curve(seen, key),
    }


def _curve(seen: dict[int, PointResult], key: str) -> list[dict[str, float]]:
    return [
        {"n_total": n, "achieved": getattr(seen[n], key), "se": getattr(seen[n], f"{key}_se")}
        for n in sorted(seen)
    ]
