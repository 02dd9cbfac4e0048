"""Run a scenario: every variant at every ``n_total``, on one engine.

Power uses each parameter's point value (its mean, or its median where the mean is not a usable
summary: :func:`simtrial.scenario.parameters.point_value`); type I error is the probability of a
rejection with each treatment arm behaving like the control; assurance averages the probability
of success over the parameters' (joint) distribution.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from simtrial.engines import default_engine, get_engine
from simtrial.engines.base import Engine, point_summaries
from simtrial.engines.design import Design
from simtrial.engines.results import RunResult, VariantResult
from simtrial.planning import curves
from simtrial.planning.design_summary import design_summary
from simtrial.planning.parallel import Executor
from simtrial.scenario.schema import Scenario, ScenarioSet

ProgressFactory = Callable[[int], Callable[[int], None]]


def _version() -> str:
    try:
        return version("simtrial")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def total_work(scenarios: ScenarioSet, engine: str, simulations: int) -> int:
    """Number of simulated trials a run will report progress for (an estimate when there is a
    sample-size search, whose number of points depends on where the answer lies)."""
    from simtrial.engines.base import target_purposes
    from simtrial.planning.estimate import search_evaluations

    impl: Any = get_engine(engine)
    total = 0
    for scenario in scenarios.variants.values():
        tasks = impl.tasks(scenario, simulations) if hasattr(impl, "tasks") else None
        per_point = simulations if tasks is None else sum(t for _, _, t in tasks)
        total += per_point * len(scenario.evaluate.n_total)
        spec = scenario.evaluate.sample_size
        if spec is not None:  # the search's points simulate only its target's purpose
            wanted = target_purposes(scenario, spec.target)
            searched = [simulations] if tasks is None else [t for p, _, t in tasks if p in wanted]
            total += sum(searched) * search_evaluations(scenario, engine)
    from simtrial.planning.sweep import sweep_work

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
        Runs the blocks elsewhere (:func:`simtrial.planning.parallel.make_executor`: local processes
        or a Dask cluster); results are identical to a run in this process.

    Returns
    -------
    RunResult
    """
    engine_name = engine or default_engine(scenarios)
    impl: Any = get_engine(engine_name)
    if executor is not None and hasattr(impl, "tasks"):
        from simtrial.planning.parallel import DistributedEngine

        impl = DistributedEngine(impl, executor)
    base = scenarios.base
    sims = simulations if simulations is not None else base.simulations
    the_seed = seed if seed is not None else base.seed
    for scenario in scenarios.variants.values():
        impl.check(scenario)
    variants = {}
    calibrated: dict[str, dict[int, Scenario]] = {}  # the calibrated rule of every n_total
    for name, scenario in scenarios.variants.items():
        # with analysis.calibrate, every point (and the search) runs the calibrated threshold
        vimpl = curves.calibrated_engine(impl, scenario)
        points = [
            vimpl.evaluate(scenario, name, n, sims, the_seed, progress)
            for n in scenario.evaluate.n_total
        ]
        size = None
        if scenario.evaluate.sample_size is not None:
            size = search_sample_size(vimpl, scenario, name, sims, the_seed, progress)
        calibrations = getattr(vimpl, "cache", None)
        if calibrations:
            calibrated[name] = {n: sc for n, (sc, _) in calibrations.items()}
        variants[name] = VariantResult(
            name=name,
            points=points,
            boundaries=Design(scenario).to_dict(),
            sample_size=size,
            point_values=point_summaries(scenario),
            type1_curve=curves.type1_curve(scenario, name, sims, the_seed, calibrations),
        )
    swept = None
    if base.evaluate.sweep is not None:  # sensitivity sweep (simtrial.planning.sweep)
        from simtrial.planning.sweep import check_sweep, run_sweep

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
        design=design_summary(scenarios, calibrated),
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
    """Smallest ``n_total`` whose power (or assurance) reaches the goal — and keeps it.

    Candidates are multiples of the allocation total ``step`` (so every arm size is whole) up to
    ``max_total``. A bisection brackets the answer; because Monte Carlo estimates, and exact
    binomial power, which is saw-toothed in n, need not increase with n, the answer is read
    from a non-decreasing (isotonic) fit through every point evaluated: the smallest evaluated
    n whose fitted value reaches the goal. The points of a search use common random numbers
    (the same streams for every n, see :class:`~simtrial.engines.base.StreamKeyed`), so
    differences between points are not blurred by different parameter draws. Each point
    simulates only its target (``Engine.evaluate_target``: the power or the assurance
    simulations, not the type I error, safety-rate or partial-null ones): the search reports
    nothing else.

    Then, by engine (the ``rule`` entry of the result says which applied):

    - **exact**: the answer is the smallest n such that n and *every* n' = n + j·step,
      j = 1..``stable_steps``, reach the goal (a saw-tooth dip just above the first crossing
      would otherwise make a larger trial underpowered); ``n_total_first`` is the smallest n
      of the scanned neighbourhood that reaches the goal at all. The scan covers
      n_isotonic − stable_steps·step to n_isotonic + 2·stable_steps·step and moves up past
      every dip.
    - **simulated**: ``achieved`` and ``se`` are re-estimated at the answer with fresh random
      streams (the point's own, keyed by its n_total), not the search's estimate that chose n,
      which is biased upwards by the choice; that one is kept as ``achieved_in_search``.

    Returns ``n_total``, ``achieved``, ``se``, ``rule`` and ``curve`` (every point evaluated).
    """
    spec = scenario.evaluate.sample_size
    assert spec is not None
    caller = engine
    engine = copy.copy(engine)
    engine.common_random_numbers = True
    step = sum(a.allocation for a in scenario.arms.values())
    key = spec.target
    exact = getattr(engine, "name", "") == "exact"
    seen: dict[int, tuple[float, float]] = {}  # n_total: (target, its SE)

    def value(n: int) -> float:
        if n not in seen:
            seen[n] = engine.evaluate_target(scenario, variant, n, simulations, seed, key, progress)
        return seen[n][0]

    lo = step  # smallest design: one patient per allocation unit
    hi = max(lo, (spec.max_total // step) * step)
    if value(hi) < spec.goal:
        return {
            "target": key,
            "goal": spec.goal,
            "n_total": None,
            "achieved": seen[hi][0],
            "se": seen[hi][1],
            "note": f"goal not reached at max_total {hi}",
            "curve": _curve(seen),
        }
    while hi - lo > step:
        mid = lo + ((hi - lo) // (2 * step)) * step
        mid = max(lo + step, mid)
        if value(mid) >= spec.goal:
            hi = mid
        else:
            lo = mid
    ns = sorted(seen)
    fitted = _isotonic([seen[n][0] for n in ns])
    n_best = next(n for n, f in zip(ns, fitted, strict=True) if f >= spec.goal)
    out: dict[str, object] = {"target": key, "goal": spec.goal}
    if exact:
        k = spec.stable_steps
        top = max(ns)
        first, n_best = _stable(value, spec.goal, n_best, step, k, step, top)
        out["n_total_first"] = first
        out["rule"] = (
            f"smallest n_total whose exact {key} and that of each of the next {k} sizes "
            f"(steps of {step}) reach {spec.goal:g}"
        )
        out.update(achieved=seen[n_best][0], se=seen[n_best][1])
    else:
        fresh = caller.evaluate_target(scenario, variant, n_best, simulations, seed, key, progress)
        out["rule"] = (
            f"smallest evaluated n_total whose {key}, smoothed by an isotonic fit over the "
            f"search's points, reaches {spec.goal:g}; achieved re-estimated with fresh streams"
        )
        out["achieved_in_search"] = seen[n_best][0]
        out.update(achieved=fresh[0], se=fresh[1])
    out.update(n_total=n_best, n_per_arm=scenario.n_per_arm(n_best), curve=_curve(seen))
    return out


def _stable(
    value: Callable[[int], float], goal: float, n0: int, step: int, k: int, lo: int, hi: int
) -> tuple[int, int]:
    """(first, stable) sizes around ``n0`` on a deterministic curve: ``first`` the smallest n
    of the scan reaching ``goal``, ``stable`` the smallest n such that n, n + step, ...,
    n + k·step (capped at ``hi``) all reach it. ``hi`` reaches the goal (the caller checked)."""
    start = max(lo, n0 - k * step)
    first = next(n for n in range(start, hi + step, step) if value(n) >= goal)
    n = first
    while True:
        window = range(n, min(hi, n + k * step) + step, step)
        dips = [m for m in window if value(m) < goal]
        if not dips:
            return first, n
        n = max(dips) + step
        while value(n) < goal:  # terminates: value(hi) >= goal
            n += step


def _curve(seen: dict[int, tuple[float, float]]) -> list[dict[str, float]]:
    return [{"n_total": n, "achieved": seen[n][0], "se": seen[n][1]} for n in sorted(seen)]
